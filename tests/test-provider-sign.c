/*
 * test-provider-sign.c - the p11ca provider inside a program (issue 3,
 * section 6): token keys sign with every type and padding, in buffers of
 * EVP_PKEY_get_size() bytes, from four threads and after fork(); the sizes,
 * group and default digest a token key reports.  Every signature is checked
 * in a library context that has the default provider only.  Exit 77 (skip)
 * when SoftHSM2 is missing.  P11CA_TEST_KEEP=1 keeps the temporary
 * directory.
 */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/rsa.h>

#define NTHREADS        4
#define SIGS_PER_THREAD 20

#include "provider-fixture.h"

/*
 * EVP_PKEY_get_size() bytes are enough for a signature (documented; X.509
 * code, EVP_SignFinal and many programs size their buffers so): with
 * EVP_DigestSign and, given a digest, the old EVP_SignFinal.
 */
static int sign_in_size(EVP_PKEY *key, EVP_PKEY *pub, const char *md, const char *label)
{
	static const unsigned char msg[] = "a buffer of EVP_PKEY_get_size() bytes";
	int size = EVP_PKEY_get_size(key), ok = 0;
	unsigned char *sig = size > 0 ? OPENSSL_malloc((size_t)size) : NULL;
	EVP_MD_CTX *mctx = EVP_MD_CTX_new();
	size_t siglen = (size_t)size;
	unsigned int len = (unsigned int)size;

	if (sig == NULL || mctx == NULL)
		goto out;
	if (EVP_DigestSignInit_ex(mctx, NULL, md, NULL, NULL, key, NULL) != 1 ||
	    EVP_DigestSign(mctx, sig, &siglen, msg, sizeof(msg)) != 1) {
		fprintf(stderr, "%s: EVP_DigestSign into %d bytes:\n", label, size);
		ERR_print_errors_fp(stderr);
		goto out;
	}
	if (!verify_plain(pub, md, 0, msg, sizeof(msg), sig, siglen))
		goto out;
	if (md != NULL) {
		EVP_MD_CTX_reset(mctx);
		if (EVP_SignInit_ex(mctx, EVP_get_digestbyname(md), NULL) != 1 ||
		    EVP_SignUpdate(mctx, msg, sizeof(msg)) != 1 ||
		    EVP_SignFinal(mctx, sig, &len, key) != 1) {
			fprintf(stderr, "%s: EVP_SignFinal into %d bytes:\n", label, size);
			ERR_print_errors_fp(stderr);
			goto out;
		}
		if (!verify_plain(pub, md, 0, msg, sizeof(msg), sig, len))
			goto out;
	}
	ok = 1;
out:
	OPENSSL_free(sig);
	EVP_MD_CTX_free(mctx);
	return ok;
}

/* Every token key type and RSA padding through EVP_DigestSign. */
static void test_sign_types(void **state)
{
	static const int ks[] = { K_RSA, K_EC256, K_EC384, K_EC521, K_ED };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(ks) / sizeof(ks[0]); i++) {
		EVP_PKEY *key = load_key(ks[i]);
		assert_non_null(key);
		assert_true(sign_and_check(key, pubs[ks[i]], keydefs[ks[i]].md, 0, "one message"));
		/* the check can fail: another key's public half */
		if (ks[i] != K_EC256)
			assert_false(sign_and_check(key, pubs[K_EC256], keydefs[ks[i]].md, 0,
			                            "one message"));
		if (ks[i] == K_RSA) {
			assert_true(sign_and_check(key, pubs[K_RSA], "SHA256",
			                           RSA_PKCS1_PSS_PADDING, "pss"));
			assert_true(sign_and_check(key, pubs[K_RSA], "SHA512", RSA_PKCS1_PADDING,
			                           "sha512"));
		}
		EVP_PKEY_free(key);
	}
	/* a key without a public-key object still signs */
	{
		EVP_PKEY *key = load_key(K_NOPUB);
		assert_non_null(key);
		assert_true(sign_and_check(key, pubs[K_NOPUB], "SHA256", 0, "no public object"));
		EVP_PKEY_free(key);
	}
}

/* Signing into EVP_PKEY_get_size() bytes, every key type. */
static void test_sign_buffer_size(void **state)
{
	static const int ks[] = { K_RSA, K_EC256, K_EC384, K_EC521, K_ED, K_NOPUB };
	int bad = 0;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(ks) / sizeof(ks[0]); i++) {
		EVP_PKEY *key = load_key(ks[i]);
		assert_non_null(key);
		bad += !sign_in_size(key, pubs[ks[i]], keydefs[ks[i]].md, keydefs[ks[i]].label);
		EVP_PKEY_free(key);
	}
	assert_int_equal(bad, 0);
}

struct thread_arg {
	int k;  /* key */
	int id; /* 0 and 1 sign with the key thread 0 loads, 2 and 3 with their own */
	pthread_barrier_t *start, *loaded;
	EVP_PKEY **shared; /* thread 0's key */
	EVP_PKEY *own;     /* what this thread loaded (freed by the test) */
	int good;          /* signatures that verified */
};

static void *sign_thread(void *p)
{
	struct thread_arg *a = p;
	EVP_PKEY *key;
	int i;

	/* all at once into their first OSSL_STORE_open: nothing warmed it up */
	pthread_barrier_wait(a->start);
	a->own = load_key(a->k);
	if (a->id == 0)
		*a->shared = a->own;
	/* every thread waits here, loaded or not */
	pthread_barrier_wait(a->loaded);
	key = a->id < 2 ? *a->shared : a->own;
	if (key == NULL)
		return NULL;
	for (i = 0; i < SIGS_PER_THREAD; i++) {
		char text[64];
		snprintf(text, sizeof(text), "thread %d message %d", a->id, i);
		a->good += sign_and_check(key, pubs[a->k], keydefs[a->k].md, 0, text);
	}
	return NULL;
}

/*
 * Four threads load and sign at once: they start together on a barrier
 * before their first key load, so the provider's first-use paths (the
 * PKCS#11 module opened, the session and login, OpenSSL's store and key
 * management fetched) race for real; this test runs first in the process,
 * nothing loaded a token key before.  Then two share a key, two sign with
 * their own.
 */
static void test_threads(void **state)
{
	static const int ks[] = { K_RSA, K_EC256, K_ED };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(ks) / sizeof(ks[0]); i++) {
		struct thread_arg args[NTHREADS];
		pthread_barrier_t start, loaded;
		pthread_t tids[NTHREADS];
		EVP_PKEY *shared = NULL;
		int t;

		assert_int_equal(pthread_barrier_init(&start, NULL, NTHREADS), 0);
		assert_int_equal(pthread_barrier_init(&loaded, NULL, NTHREADS), 0);
		for (t = 0; t < NTHREADS; t++) {
			args[t].k = ks[i];
			args[t].id = t;
			args[t].start = &start;
			args[t].loaded = &loaded;
			args[t].shared = &shared;
			args[t].own = NULL;
			args[t].good = 0;
			assert_int_equal(pthread_create(&tids[t], NULL, sign_thread, &args[t]), 0);
		}
		for (t = 0; t < NTHREADS; t++)
			assert_int_equal(pthread_join(tids[t], NULL), 0);
		pthread_barrier_destroy(&start);
		pthread_barrier_destroy(&loaded);
		for (t = 0; t < NTHREADS; t++) {
			if (args[t].own == NULL)
				fprintf(stderr, "%s, thread %d: the key did not load\n",
				        keydefs[ks[i]].label, t);
			if (args[t].good != SIGS_PER_THREAD)
				fprintf(stderr, "%s, thread %d: %d of %d signatures verified\n",
				        keydefs[ks[i]].label, t, args[t].good, SIGS_PER_THREAD);
		}
		for (t = 0; t < NTHREADS; t++) {
			assert_non_null(args[t].own);
			assert_int_equal(args[t].good, SIGS_PER_THREAD);
		}
		for (t = 0; t < NTHREADS; t++)
			EVP_PKEY_free(args[t].own);
	}
}

/* fork(): the child signs with the parent's key and with one it loads. */
static void test_fork(void **state)
{
	EVP_PKEY *rsa = load_key(K_RSA), *ec = load_key(K_EC256);
	pid_t pid;
	int st = 0;

	(void)state;
	assert_non_null(rsa);
	assert_non_null(ec);
	/* the parent has sessions and a login before it forks */
	assert_true(sign_and_check(rsa, pubs[K_RSA], "SHA256", 0, "parent before fork"));
	assert_true(sign_and_check(ec, pubs[K_EC256], "SHA256", 0, "parent before fork"));
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int bad = 0;
		EVP_PKEY *ed;
		bad += !sign_and_check(rsa, pubs[K_RSA], "SHA256", 0, "child");
		bad += !sign_and_check(ec, pubs[K_EC256], "SHA256", 0, "child");
		bad += !sign_and_check(ec, pubs[K_EC256], "SHA256", 0, "child, again");
		ed = load_key(K_ED);
		bad += ed == NULL || !sign_and_check(ed, pubs[K_ED], NULL, 0, "child, own key");
		EVP_PKEY_free(ed);
		if (bad != 0)
			fprintf(stderr, "child: %d signing checks failed\n", bad);
		fflush(NULL);
		_exit(bad == 0 ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	if (!WIFEXITED(st))
		fprintf(stderr, "child died (status %#x)\n", (unsigned)st);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	/* the parent goes on */
	assert_true(sign_and_check(rsa, pubs[K_RSA], "SHA256", 0, "parent after fork"));
	assert_true(sign_and_check(ec, pubs[K_EC256], "SHA256", 0, "parent after fork"));
	EVP_PKEY_free(rsa);
	EVP_PKEY_free(ec);
}

static void check_same_params(EVP_PKEY *key, EVP_PKEY *pub, const char *label)
{
	char a[64] = "", b[64] = "";
	int ra, rb;

	print_message("%s: bits %d, security bits %d, size %d\n", label, EVP_PKEY_get_bits(key),
	              EVP_PKEY_get_security_bits(key), EVP_PKEY_get_size(key));
	assert_int_equal(EVP_PKEY_get_bits(key), EVP_PKEY_get_bits(pub));
	assert_int_equal(EVP_PKEY_get_security_bits(key), EVP_PKEY_get_security_bits(pub));
	assert_int_equal(EVP_PKEY_get_size(key), EVP_PKEY_get_size(pub));
	ra = EVP_PKEY_get_default_digest_name(key, a, sizeof(a));
	rb = EVP_PKEY_get_default_digest_name(pub, b, sizeof(b));
	print_message("%s: default digest %s (%d)\n", label, a, ra);
	assert_int_equal(ra, rb);
	assert_string_equal(a, b);
	if (EVP_PKEY_is_a(pub, "EC")) {
		char ga[64] = "", gb[64] = "";
		assert_int_equal(EVP_PKEY_get_group_name(key, ga, sizeof(ga), NULL), 1);
		assert_int_equal(EVP_PKEY_get_group_name(pub, gb, sizeof(gb), NULL), 1);
		assert_string_equal(ga, gb);
	}
}

/* What a token key reports about itself equals what its public key says. */
static void test_key_params(void **state)
{
	/* clang-format off */
	static const struct {
		int k;
		const char *type;
		int bits, secbits, size;
		const char *group, *digest;
	} want[] = {
		{ K_RSA, "RSA", 2048, 112, 256, NULL, "SHA256" },
		{ K_EC256, "EC", 256, 128, 72, "prime256v1", "SHA256" },
		{ K_EC384, "EC", 384, 192, 104, "secp384r1", "SHA256" },
		{ K_EC521, "EC", 521, 256, 139, "secp521r1", "SHA256" },
		{ K_ED, "ED25519", 256, 128, 64, NULL, "UNDEF" },
		/* no public-key object: the token says it */
		{ K_NOPUB, "EC", 256, 128, 72, "prime256v1", "SHA256" },
	};
	/* clang-format on */
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		EVP_PKEY *key = load_key(want[i].k);
		char md[64] = "";

		assert_non_null(key);
		assert_true(EVP_PKEY_is_a(key, want[i].type));
		assert_int_equal(EVP_PKEY_get_bits(key), want[i].bits);
		assert_int_equal(EVP_PKEY_get_security_bits(key), want[i].secbits);
		assert_int_equal(EVP_PKEY_get_size(key), want[i].size);
		assert_true(EVP_PKEY_get_default_digest_name(key, md, sizeof(md)) > 0);
		assert_string_equal(md, want[i].digest);
		if (want[i].group != NULL) {
			char g[64] = "";
			assert_int_equal(EVP_PKEY_get_group_name(key, g, sizeof(g), NULL), 1);
			assert_string_equal(g, want[i].group);
		}
		check_same_params(key, pubs[want[i].k], keydefs[want[i].k].label);
		if (want[i].k == K_RSA) {
			BIGNUM *n1 = NULL, *n2 = NULL, *e1 = NULL, *e2 = NULL;
			assert_int_equal(EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_N, &n1), 1);
			assert_int_equal(
			    EVP_PKEY_get_bn_param(pubs[K_RSA], OSSL_PKEY_PARAM_RSA_N, &n2), 1);
			assert_int_equal(EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_E, &e1), 1);
			assert_int_equal(
			    EVP_PKEY_get_bn_param(pubs[K_RSA], OSSL_PKEY_PARAM_RSA_E, &e2), 1);
			assert_int_equal(BN_cmp(n1, n2), 0);
			assert_int_equal(BN_cmp(e1, e2), 0);
			BN_free(n1);
			BN_free(n2);
			BN_free(e1);
			BN_free(e2);
		}
		if (want[i].k == K_EC256 || want[i].k == K_EC384 || want[i].k == K_EC521) {
			/* the point, as TLS and X.509 carry it */
			unsigned char *p1 = NULL, *p2 = NULL;
			size_t l1 = EVP_PKEY_get1_encoded_public_key(key, &p1);
			size_t l2 = EVP_PKEY_get1_encoded_public_key(pubs[want[i].k], &p2);
			assert_true(l1 > 0);
			assert_int_equal(l1, l2);
			assert_memory_equal(p1, p2, l1);
			OPENSSL_free(p1);
			OPENSSL_free(p2);
		}
		if (want[i].k == K_ED) {
			unsigned char r1[32], r2[32];
			size_t l1 = sizeof(r1), l2 = sizeof(r2);
			assert_int_equal(EVP_PKEY_get_raw_public_key(key, r1, &l1), 1);
			assert_int_equal(EVP_PKEY_get_raw_public_key(pubs[K_ED], r2, &l2), 1);
			assert_int_equal(l1, 32);
			assert_int_equal(l2, 32);
			assert_memory_equal(r1, r2, 32);
		}
		/* nothing private comes out */
		{
			BIGNUM *d = NULL;
			assert_int_equal(EVP_PKEY_get_bn_param(key,
			                                       want[i].k == K_RSA
			                                           ? OSSL_PKEY_PARAM_RSA_D
			                                           : OSSL_PKEY_PARAM_PRIV_KEY,
			                                       &d),
			                 0);
			BN_free(d);
			ERR_clear_error();
		}
		EVP_PKEY_free(key);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		/* first: no token key loaded before its threads start */
		cmocka_unit_test(test_threads),          cmocka_unit_test(test_sign_types),
		cmocka_unit_test(test_sign_buffer_size), cmocka_unit_test(test_fork),
		cmocka_unit_test(test_key_params),
	};

	return PROVIDER_RUN("test-provider-sign", tests);
}

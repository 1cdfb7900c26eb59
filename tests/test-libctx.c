/*
 * test-libctx.c - the p11ca provider per library context (tools/pki/provider.c).
 *
 * Two library contexts in one process, each configured by pki_libctx_new()
 * alone (no environment) with its own module and PIN file: context A names
 * SoftHSM2 and token A's PIN file, context B names tests/fault-module.so
 * (a second module, forwarding to SoftHSM2) and token B's PIN file.  Two
 * threads then load a key from each context at once and sign with it;
 * OpenSSL's default provider checks the signatures.  Also: a context naming
 * a module that is not there fails, a used provider refuses to be
 * reconfigured, and a failure never shows a pin-value.
 * Exits 77 (skip) when SoftHSM2 is not installed.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/provider.h>

#include "p11ca.h"
#include "pki.h"
#include "provider.h"
#include "result.h"
#include "unit-helpers.h"

#define LABEL_B  "p11ca-libctx-b"
#define PIN_B    "libctx-b-user-pin"
#define SO_PIN_B "libctx-b-so-pin"
#define ROUNDS   8 /* loads and signatures per thread */

static struct {
	struct uh_token tok; /* token A (softhsm-conf/mktoken), and the SoftHSM2 directory */
	char pin_file_b[600];
	char fault_module[600];
	char uri_a[256], uri_b[256];
	EVP_PKEY *pub_a, *pub_b; /* the public halves, for verification */
	OSSL_LIB_CTX *libctx_a, *libctx_b;
} T;

/* Generates an EC key labelled @label on @token_uri; its public half into *ppub. */
static int make_key(p11ca_ctx *ctx, const char *token_uri, const char *label, EVP_PKEY **ppub)
{
	p11ca_token *t = NULL;
	p11ca_key *key = NULL;
	int ok;

	ok = p11ca_token_find(ctx, token_uri, &t) == CKR_OK &&
	     p11ca_key_generate(t, "ec:p256", label, 0, &key) == CKR_OK &&
	     p11ca_key_get_public(key, ppub) == CKR_OK;
	if (!ok)
		print_error("key %s on %s: %s\n", label, token_uri, p11ca_error_message());
	p11ca_key_free(key);
	return ok ? 0 : -1;
}

/* Token B on SoftHSM2's free slot, and a key on each token. */
static int setup(void **state)
{
	CK_SLOT_ID free_slot = (CK_SLOT_ID)-1;
	p11ca_ctx *ctx = NULL;
	size_t i, n;
	int ret = -1;

	(void)state;
	snprintf(T.pin_file_b, sizeof(T.pin_file_b), "%s/pin-b", T.tok.dir);
	snprintf(T.fault_module, sizeof(T.fault_module), "%s/.libs/fault-module.so",
	         uh_top_builddir());
	if (access(T.fault_module, R_OK) != 0) {
		print_error("%s is not built\n", T.fault_module);
		return -1;
	}
	if (p11ca_ctx_new(uh_softhsm_module(), &ctx) != CKR_OK)
		goto out;
	p11ca_ctx_set_pin_prompt(ctx, 0);
	n = p11ca_token_count(ctx);
	for (i = 0; i < n; i++) {
		const struct p11ca_token_info *ti = p11ca_token_get_info(p11ca_token_at(ctx, i));
		if (!(ti->flags & CKF_TOKEN_INITIALIZED))
			free_slot = ti->slot_id;
	}
	if (free_slot == (CK_SLOT_ID)-1 ||
	    p11ca_token_init(ctx, free_slot, SO_PIN_B, LABEL_B, PIN_B) != CKR_OK ||
	    uh_write_file(T.pin_file_b, PIN_B "\n", strlen(PIN_B) + 1) != 0)
		goto out;
	/* the same context logs in to each token with that token's PIN file */
	if (p11ca_ctx_set_pin_file(ctx, T.tok.pin_file) != CKR_OK ||
	    make_key(ctx, T.tok.uri, "key-a", &T.pub_a) != 0 ||
	    p11ca_ctx_set_pin_file(ctx, T.pin_file_b) != CKR_OK ||
	    make_key(ctx, "pkcs11:token=" LABEL_B, "key-b", &T.pub_b) != 0)
		goto out;
	snprintf(T.uri_a, sizeof(T.uri_a), "%s;object=key-a", T.tok.uri);
	snprintf(T.uri_b, sizeof(T.uri_b), "pkcs11:token=" LABEL_B ";object=key-b");
	ret = 0;
out:
	if (ret != 0)
		print_error("setup: %s\n", p11ca_error_message());
	p11ca_ctx_free(ctx);
	return ret;
}

static int teardown(void **state)
{
	(void)state;
	/* B first: its module forwards to the SoftHSM2 that A initialised */
	pki_libctx_free(T.libctx_b);
	pki_libctx_free(T.libctx_a);
	EVP_PKEY_free(T.pub_a);
	EVP_PKEY_free(T.pub_b);
	return 0;
}

/* Signs a message with @key in @libctx and checks it with @pub; 1 if good. */
static int sign_and_verify(OSSL_LIB_CTX *libctx, EVP_PKEY *key, EVP_PKEY *pub)
{
	static const unsigned char msg[] = "two library contexts, two modules";
	unsigned char sig[256];
	size_t siglen = sizeof(sig);
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	int ok;

	ok = md != NULL &&
	     EVP_DigestSignInit_ex(md, NULL, "SHA256", libctx, NULL, key, NULL) == 1 &&
	     EVP_DigestSign(md, sig, &siglen, msg, sizeof(msg)) == 1;
	EVP_MD_CTX_free(md);
	if (!ok)
		return 0;
	md = EVP_MD_CTX_new();
	ok = md != NULL &&
	     EVP_DigestVerifyInit_ex(md, NULL, "SHA256", NULL, NULL, pub, NULL) == 1 &&
	     EVP_DigestVerify(md, sig, siglen, msg, sizeof(msg)) == 1;
	EVP_MD_CTX_free(md);
	return ok;
}

/* A context with the module and PIN file of one token, used once here. */
static void test_each_context_alone(void **state)
{
	EVP_PKEY *key = NULL;

	(void)state;
	assert_int_equal(pki_libctx_new(uh_softhsm_module(), T.tok.pin_file, &T.libctx_a), RES_OK);
	assert_int_equal(pki_libctx_new(T.fault_module, T.pin_file_b, &T.libctx_b), RES_OK);
	assert_ptr_not_equal(T.libctx_a, T.libctx_b);

	/* one after the other first: each initialises its module once */
	assert_int_equal(pki_load_key(T.libctx_a, T.uri_a, &key), RES_OK);
	assert_true(sign_and_verify(T.libctx_a, key, T.pub_a));
	EVP_PKEY_free(key);
	key = NULL;
	assert_int_equal(pki_load_key(T.libctx_b, T.uri_b, &key), RES_OK);
	assert_true(sign_and_verify(T.libctx_b, key, T.pub_b));
	assert_false(sign_and_verify(T.libctx_b, key, T.pub_a));
	EVP_PKEY_free(key);
}

struct job {
	OSSL_LIB_CTX *libctx;
	const char *uri;
	EVP_PKEY *pub;
	pthread_barrier_t *start;
	int good;      /* rounds that loaded, signed and verified */
	char why[300]; /* the first failure */
};

static void *run_job(void *arg)
{
	struct job *j = arg;
	int i;

	pthread_barrier_wait(j->start);
	for (i = 0; i < ROUNDS; i++) {
		EVP_PKEY *key = NULL;
		int r = pki_load_key(j->libctx, j->uri, &key);

		if (r == RES_OK && sign_and_verify(j->libctx, key, j->pub))
			j->good++;
		else if (j->why[0] == '\0')
			snprintf(j->why, sizeof(j->why), "%s: %s", res_name(r),
			         r != RES_OK ? res_message() : "bad signature");
		EVP_PKEY_free(key);
	}
	ERR_clear_error();
	return NULL;
}

/* Two threads, one per context, loading and signing at once. */
static void test_two_contexts_two_threads(void **state)
{
	pthread_barrier_t start;
	struct job jobs[2] = {
		{ T.libctx_a, T.uri_a, T.pub_a, &start, 0, "" },
		{ T.libctx_b, T.uri_b, T.pub_b, &start, 0, "" },
	};
	pthread_t th[2];
	int i;

	(void)state;
	assert_non_null(T.libctx_a);
	assert_non_null(T.libctx_b);
	assert_int_equal(pthread_barrier_init(&start, NULL, 2), 0);
	for (i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&th[i], NULL, run_job, &jobs[i]), 0);
	for (i = 0; i < 2; i++)
		assert_int_equal(pthread_join(th[i], NULL), 0);
	pthread_barrier_destroy(&start);
	for (i = 0; i < 2; i++) {
		if (jobs[i].good != ROUNDS)
			print_error("context %c: %s\n", 'A' + i, jobs[i].why);
		assert_int_equal(jobs[i].good, ROUNDS);
	}
}

/* The module is the context's: naming one that is not there reaches no token. */
static void test_module_is_per_context(void **state)
{
	OSSL_LIB_CTX *none = NULL;
	EVP_PKEY *key = NULL;

	(void)state;
	/* a module that is not there: the key of A is out of reach */
	assert_int_equal(pki_libctx_new("/nonexistent/p11ca-no-module.so", NULL, &none), RES_OK);
	assert_int_equal(pki_load_key(none, T.uri_a, &key), RES_TOKEN);
	assert_null(key);
	assert_true(uh_contains(res_message(), "object=key-a"));
	pki_libctx_free(none);
}

/* A provider in use keeps its configuration. */
static void test_configure_refused_once_used(void **state)
{
	OSSL_PROVIDER *prov;

	(void)state;
	/* a second load of a loaded provider is the same instance */
	prov = OSSL_PROVIDER_load(T.libctx_a, P11CA_PROV_NAME);
	assert_non_null(prov);
	assert_int_equal(p11ca_prov_configure(prov, T.fault_module, NULL), 0);
	assert_int_equal(res_ossl(RES_TOKEN, "configure"), RES_TOKEN);
	assert_true(uh_contains(res_message(), "in use"));
	assert_int_equal(OSSL_PROVIDER_unload(prov), 1);
	/* and goes on working */
	{
		EVP_PKEY *key = NULL;
		assert_int_equal(pki_load_key(T.libctx_a, T.uri_a, &key), RES_OK);
		EVP_PKEY_free(key);
	}
}

/* A pin-value in the URI never reaches the message. */
static void test_no_pin_in_message(void **state)
{
	EVP_PKEY *key = NULL;

	(void)state;
	assert_int_equal(pki_load_key(T.libctx_a,
	                              "pkcs11:token=p11ca-no-such-token;object=x"
	                              "?pin-value=Sup3rSecretPin",
	                              &key),
	                 RES_TOKEN);
	assert_null(key);
	assert_true(uh_contains(res_message(), "p11ca-no-such-token"));
	assert_false(uh_contains(res_message(), "Sup3rSecretPin"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_each_context_alone),
		cmocka_unit_test(test_two_contexts_two_threads),
		cmocka_unit_test(test_module_is_per_context),
		cmocka_unit_test(test_configure_refused_once_used),
		cmocka_unit_test(test_no_pin_in_message),
	};
	int r;

	/* what the contexts are told is all they know */
	unsetenv("P11CA_MODULE");
	unsetenv("P11CA_PIN_FILE");
	unsetenv("P11CA_PIN");
	/* no controlling terminal: a missing PIN fails instead of prompting */
	(void)setsid();
	if ((r = uh_token_make(&T.tok)) != 0)
		return r == UH_SKIP ? uh_skip("test-libctx", "SoftHSM2 is not installed") : 1;
	r = cmocka_run_group_tests(tests, setup, teardown);
	uh_token_remove(&T.tok);
	return r;
}

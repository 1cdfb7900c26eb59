/*
 * test-softhsm-sessions.c - libp11ca sessions on a real SoftHSM2 token:
 * signing from threads and after fork(), the PIN rules (a wrong PIN tried
 * once, the PIN sources in order) on token B where nobody else is logged
 * in, and the module by its p11-kit registry name.  Exits 77 (skip) when
 * SoftHSM2 is not installed.
 */
#include "config.h"

#include <pthread.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "softhsm-fixture.h"
#include "unit-helpers.h"

/* Whether someone is logged in as the user to the token in @slot. */
static int logged_in(CK_SLOT_ID slot)
{
	CK_SESSION_HANDLE s;
	CK_SESSION_INFO si;
	int yes = -1;

	if (T.fl->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &s) != CKR_OK)
		return -1;
	if (T.fl->C_GetSessionInfo(s, &si) == CKR_OK)
		yes = si.state == CKS_RO_USER_FUNCTIONS || si.state == CKS_RW_USER_FUNCTIONS;
	(void)T.fl->C_CloseSession(s);
	return yes;
}

/* A new context on the module without any PIN source of its own. */
static p11ca_ctx *new_ctx(void)
{
	p11ca_ctx *ctx = NULL;

	assert_rv(p11ca_ctx_new(T.module, &ctx), CKR_OK);
	p11ca_ctx_set_pin_prompt(ctx, 0);
	return ctx;
}

static CK_SLOT_ID slot_b(void)
{
	p11ca_token *t = NULL;

	assert_rv(p11ca_token_find(T.ctx, "pkcs11:token=" LABEL_B, &t), CKR_OK);
	return p11ca_token_get_info(t)->slot_id;
}

/* ------------------------------------------------------------------ */
/* threads and fork                                                    */
/* ------------------------------------------------------------------ */

#define NTHREADS 4
#define NSIGS    250

struct thread_job {
	p11ca_key *key;
	int index;
	CK_RV first_error;
	int errors;
	unsigned char sig[NSIGS][80];
	size_t siglen[NSIGS];
};

static void job_digest(int thread, int i, unsigned char dgst[32])
{
	char msg[64];
	int len = snprintf(msg, sizeof(msg), "thread %d signature %d", thread, i);

	(void)EVP_Digest(msg, (size_t)len, dgst, NULL, EVP_sha256(), NULL);
}

static void *sign_thread(void *arg)
{
	struct thread_job *job = arg;
	struct p11ca_sig_params sp = { P11CA_SIG_ECDSA, EVP_sha256(), 0, NULL };
	unsigned char dgst[32];
	int i;

	for (i = 0; i < NSIGS; i++) {
		CK_RV rv;
		job->siglen[i] = sizeof(job->sig[i]);
		job_digest(job->index, i, dgst);
		rv = p11ca_key_sign_digest(job->key, &sp, dgst, 32, job->sig[i], &job->siglen[i]);
		if (rv != CKR_OK) {
			if (job->errors++ == 0)
				job->first_error = rv;
			job->siglen[i] = 0;
		}
	}
	return NULL;
}

static void test_threads(void **state)
{
	static struct thread_job jobs[NTHREADS];
	struct p11ca_sig_params sp = { P11CA_SIG_ECDSA, EVP_sha256(), 0, NULL };
	p11ca_key *key = key_of(K_P256);
	pthread_t th[NTHREADS];
	EVP_PKEY *pub = NULL;
	unsigned char dgst[32];
	int t, i, verified = 0;

	assert_rv(p11ca_key_get_public(key, &pub), CKR_OK);
	for (t = 0; t < NTHREADS; t++) {
		memset(&jobs[t], 0, sizeof(jobs[t]));
		jobs[t].key = p11ca_key_ref(key);
		jobs[t].index = t;
		assert_int_equal(pthread_create(&th[t], NULL, sign_thread, &jobs[t]), 0);
	}
	for (t = 0; t < NTHREADS; t++)
		assert_int_equal(pthread_join(th[t], NULL), 0);
	for (t = 0; t < NTHREADS; t++) {
		if (jobs[t].errors > 0)
			print_error("thread %d: %d errors, first %s\n", t, jobs[t].errors,
			            p11ca_rv_name(jobs[t].first_error));
		assert_int_equal(jobs[t].errors, 0);
		for (i = 0; i < NSIGS; i++) {
			job_digest(t, i, dgst);
			if (verify(pub, &sp, dgst, 32, jobs[t].sig[i], jobs[t].siglen[i]))
				verified++;
		}
		p11ca_key_free(jobs[t].key);
	}
	assert_int_equal(verified, NTHREADS * NSIGS);
	EVP_PKEY_free(pub);
}

static void test_fork(void **state)
{
	struct p11ca_sig_params sp = { P11CA_SIG_RSA_PKCS1, EVP_sha256(), 0, NULL };
	p11ca_key *key = key_of(K_RSA2048);
	p11ca_key *eckey = key_of(K_P256);
	unsigned char dgst[32], sig[512];
	size_t siglen = sizeof(sig);
	EVP_PKEY *pub = NULL;
	pid_t pid;
	int st = 0;

	assert_rv(p11ca_key_get_public(key, &pub), CKR_OK);
	assert_int_equal(RAND_bytes(dgst, 32), 1);
	/* the parent has pooled, logged-in sessions when it forks */
	assert_rv(p11ca_key_sign_digest(key, &sp, dgst, 32, sig, &siglen), CKR_OK);
	assert_true(verify(pub, &sp, dgst, 32, sig, siglen));

	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* no cmocka in here: report through the exit status */
		struct p11ca_sig_params ec = { P11CA_SIG_ECDSA, EVP_sha256(), 0, NULL };
		EVP_PKEY *ecpub = NULL;
		int ok, k;

		for (k = 0, ok = 1; k < 3 && ok; k++) {
			siglen = sizeof(sig);
			dgst[0] = (unsigned char)k;
			ok = p11ca_key_sign_digest(key, &sp, dgst, 32, sig, &siglen) == CKR_OK &&
			     verify(pub, &sp, dgst, 32, sig, siglen);
		}
		if (!ok)
			fprintf(stderr, "child: RSA signing failed: %s\n", p11ca_error_message());
		siglen = sizeof(sig);
		ok = ok && p11ca_key_get_public(eckey, &ecpub) == CKR_OK &&
		     p11ca_key_sign_digest(eckey, &ec, dgst, 32, sig, &siglen) == CKR_OK &&
		     verify(ecpub, &ec, dgst, 32, sig, siglen);
		EVP_PKEY_free(ecpub);
		_exit(ok ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);

	/* the parent goes on with its own sessions */
	siglen = sizeof(sig);
	dgst[0] ^= 0xff;
	assert_rv(p11ca_key_sign_digest(key, &sp, dgst, 32, sig, &siglen), CKR_OK);
	assert_true(verify(pub, &sp, dgst, 32, sig, siglen));
	EVP_PKEY_free(pub);
}

/* ------------------------------------------------------------------ */
/* PINs (on token B, where nobody else is logged in)                   */
/* ------------------------------------------------------------------ */

static CK_C_Login real_login;
static int login_calls;

static CK_RV counting_login(CK_SESSION_HANDLE s, CK_USER_TYPE user, CK_UTF8CHAR_PTR pin,
                            CK_ULONG len)
{
	login_calls++;
	return real_login(s, user, pin, len);
}

static void test_wrong_pin(void **state)
{
	struct p11ca_sig_params sp = { P11CA_SIG_ECDSA, EVP_sha256(), 0, NULL };
	CK_FUNCTION_LIST counting, *saved;
	CK_SLOT_ID slot = slot_b();
	p11ca_ctx *ctx;
	p11ca_token *t = NULL;
	p11ca_key *key = NULL;
	CK_FLAGS flags;

	assert_int_equal(logged_in(slot), 0);
	ctx = new_ctx();
	assert_rv(p11ca_ctx_set_pin_file(ctx, T.wrong_pin_file), CKR_OK);
	assert_rv(p11ca_token_find(ctx, "pkcs11:token=" LABEL_B, &t), CKR_OK);
	saved = t->mod->fl;
	counting = *saved;
	real_login = counting.C_Login;
	counting.C_Login = counting_login;
	t->mod->fl = &counting;
	login_calls = 0;

	assert_rv(p11ca_token_login(t), CKR_PIN_INCORRECT);
	assert_contains(p11ca_error_message(), "wrong PIN");
	assert_contains(p11ca_error_message(), LABEL_B);
	assert_int_equal(login_calls, 1);
	/* not again: not by login, not by an operation needing it */
	assert_rv(p11ca_token_login(t), P11CA_R_PIN_FAILED);
	assert_contains(p11ca_error_message(), "refused before");
	assert_rv(p11ca_key_generate(t, "ec:p256", "k-never", 0, &key), P11CA_R_PIN_FAILED);
	assert_rv(p11ca_key_find(ctx, "pkcs11:token=" LABEL_B ";object=k-never", &key),
	          P11CA_R_PIN_FAILED);
	assert_int_equal(login_calls, 1);
	flags = p11ca_token_get_info(t)->flags;
	assert_false(flags & (CKF_USER_PIN_FINAL_TRY | CKF_USER_PIN_LOCKED));
	t->mod->fl = saved;
	p11ca_ctx_free(ctx);
	assert_int_equal(logged_in(slot), 0);

	/* the right PIN in a new context */
	ctx = new_ctx();
	assert_rv(p11ca_ctx_set_pin_file(ctx, T.pin_file_b), CKR_OK);
	assert_rv(p11ca_token_find(ctx, "pkcs11:token=" LABEL_B, &t), CKR_OK);
	assert_rv(p11ca_token_login(t), CKR_OK);
	assert_int_equal(logged_in(slot), 1);
	assert_rv(p11ca_key_generate(t, "ec:p256", "k-b", 0, &key), CKR_OK);
	{
		unsigned char dgst[32], sig[128];
		size_t siglen = sizeof(sig);
		EVP_PKEY *pub = NULL;
		assert_int_equal(RAND_bytes(dgst, 32), 1);
		assert_rv(p11ca_key_sign_digest(key, &sp, dgst, 32, sig, &siglen), CKR_OK);
		assert_rv(p11ca_key_get_public(key, &pub), CKR_OK);
		assert_true(verify(pub, &sp, dgst, 32, sig, siglen));
		EVP_PKEY_free(pub);
	}
	p11ca_key_free(key);
	p11ca_ctx_free(ctx);
	/* closing the last session logged it out */
	assert_int_equal(logged_in(slot), 0);
}

/* Logs in to token B through @uri in a new context; returns the result. */
static CK_RV login_b(const char *uri, const char *pin_file)
{
	p11ca_ctx *ctx = new_ctx();
	p11ca_token *t = NULL;
	CK_RV rv;

	if (pin_file != NULL)
		assert_rv(p11ca_ctx_set_pin_file(ctx, pin_file), CKR_OK);
	rv = p11ca_token_find(ctx, uri, &t);
	if (rv == CKR_OK)
		rv = p11ca_token_login(t);
	if (rv == CKR_OK && logged_in(slot_b()) != 1)
		rv = CKR_GENERAL_ERROR;
	p11ca_ctx_free(ctx);
	return rv;
}

static void test_pin_sources(void **state)
{
	char uri[2048];
	CK_SLOT_ID slot = slot_b();

	assert_int_equal(unsetenv("P11CA_PIN"), 0);
	assert_int_equal(logged_in(slot), 0);

	/* none at all (and no prompt) */
	assert_rv(login_b("pkcs11:token=" LABEL_B, NULL), P11CA_R_NO_PIN);
	assert_contains(p11ca_error_message(), "needs a PIN");
	assert_contains(p11ca_error_message(), "pin-source=");

	/* pin-source=file: in the URI */
	snprintf(uri, sizeof(uri), "pkcs11:token=" LABEL_B "?pin-source=file:%s", T.pin_file_b);
	assert_rv(login_b(uri, NULL), CKR_OK);
	assert_int_equal(logged_in(slot), 0);
	/* ... before --pin-file */
	assert_rv(login_b(uri, T.wrong_pin_file), CKR_OK);
	snprintf(uri, sizeof(uri), "pkcs11:token=" LABEL_B "?pin-source=%s", T.pin_file_b);
	assert_rv(login_b(uri, NULL), CKR_OK);
	snprintf(uri, sizeof(uri), "pkcs11:token=" LABEL_B "?pin-source=file:%s.missing",
	         T.pin_file_b);
	assert_rv(login_b(uri, NULL), P11CA_R_NO_PIN);
	assert_contains(p11ca_error_message(), ".missing");
	assert_rv(login_b("pkcs11:token=" LABEL_B "?pin-value=" PIN_B, NULL), CKR_OK);

	/* a key found through a URI carrying its PIN source */
	{
		p11ca_ctx *ctx = new_ctx();
		p11ca_key *key = NULL;
		snprintf(uri, sizeof(uri), "pkcs11:token=" LABEL_B ";object=k-b?pin-source=file:%s",
		         T.pin_file_b);
		assert_rv(p11ca_key_find(ctx, uri, &key), CKR_OK);
		assert_string_equal(p11ca_key_get_label(key), "k-b");
		p11ca_key_free(key);
		p11ca_ctx_free(ctx);
	}

	/* P11CA_PIN, after --pin-file */
	assert_int_equal(setenv("P11CA_PIN", PIN_B, 1), 0);
	assert_rv(login_b("pkcs11:token=" LABEL_B, NULL), CKR_OK);
	assert_rv(login_b("pkcs11:token=" LABEL_B, T.wrong_pin_file), CKR_PIN_INCORRECT);
	assert_int_equal(setenv("P11CA_PIN", "not-" PIN_B, 1), 0);
	assert_rv(login_b("pkcs11:token=" LABEL_B, NULL), CKR_PIN_INCORRECT);
	assert_rv(login_b("pkcs11:token=" LABEL_B, T.pin_file_b), CKR_OK);
	assert_int_equal(unsetenv("P11CA_PIN"), 0);
	assert_int_equal(logged_in(slot), 0);
}

/* The module by its p11-kit registry name. */
static void test_registry_name(void **state)
{
	struct p11ca_sig_params sp = { P11CA_SIG_EDDSA, NULL, 0, NULL };
	p11ca_ctx *ctx = NULL;
	p11ca_key *key = NULL;
	EVP_PKEY *pub = NULL;
	unsigned char sig[64];
	size_t siglen = sizeof(sig);
	CK_RV rv;

	(void)key_of(K_ED25519);
	rv = p11ca_ctx_new("softhsm2", &ctx);
	if (rv == P11CA_R_MODULE) {
		print_message("%s\n", p11ca_error_message());
		if (uh_skip("test-softhsm-sessions/registry-name",
		            "softhsm2 is not in the p11-kit registry") != UH_SKIP)
			fail_msg("test-softhsm-sessions/registry-name must run here");
		return;
	}
	assert_rv(rv, CKR_OK);
	p11ca_ctx_set_pin_prompt(ctx, 0);
	assert_rv(p11ca_ctx_set_pin_file(ctx, T.pin_file), CKR_OK);
	assert_rv(
	    p11ca_key_find(ctx, "pkcs11:token=" LABEL_A ";object=k-ed25519;type=private", &key),
	    CKR_OK);
	assert_string_equal(p11ca_token_get_info(p11ca_key_get_token(key))->module_name,
	                    "softhsm2");
	assert_rv(
	    p11ca_key_sign_message(key, &sp, (const unsigned char *)"registry", 8, sig, &siglen),
	    CKR_OK);
	assert_rv(p11ca_key_get_public(key, &pub), CKR_OK);
	assert_true(verify(pub, &sp, (const unsigned char *)"registry", 8, sig, siglen));
	EVP_PKEY_free(pub);
	p11ca_key_free(key);
	p11ca_ctx_free(ctx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_threads),       cmocka_unit_test(test_fork),
		cmocka_unit_test(test_wrong_pin),     cmocka_unit_test(test_pin_sources),
		cmocka_unit_test(test_registry_name),
	};

	return SOFTHSM_RUN("test-softhsm-sessions", tests);
}

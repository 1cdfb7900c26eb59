/*
 * test-recovery.c - libp11ca's fault recovery against a real SoftHSM2 token
 * seen through tests/fault-module.c, which fails chosen calls (and makes
 * the fault real where it can: closed sessions, logout, HSM restart).
 *
 * Every test gets a fresh throwaway token from softhsm-conf/mktoken and
 * checks outcomes: signatures are verified with OpenSSL against the key's
 * public half, and the module's call counters show what the library did.
 */
#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <openssl/rand.h>

#include "internal.h"
#include "fault-module.h"
#include "unit-helpers.h"

/* A test that has not finished after this long is stuck (a retry loop). */
#define TEST_TIMEOUT 120

static char fault_path[1024];
static void *fault_handle;

/* The module's control functions, from dlsym. */
static struct {
	void (*set)(const char *fn, CK_RV rv, int count);
	void (*set_flags)(const char *fn, CK_RV rv, int count, unsigned flags);
	void (*clear)(void);
	unsigned (*calls)(const char *fn);
	void (*reset_calls)(void);
	void (*token_flags)(CK_FLAGS set);
	void (*hsm_restart)(void);
} fm;

struct fx {
	struct uh_token tok;
	p11ca_ctx *ctx;
	p11ca_token *t;
	p11ca_key *key;
	EVP_PKEY *pub;
	pthread_mutex_t log_lock;
	char log[8192];
};

/* ---- fixture ---- */

/* The test that just printed "[ RUN ]" never ended. */
static void on_timeout(int sig)
{
	static const char msg[] = "test-recovery: timed out: a retry loop that never ends?\n";

	(void)sig;
	if (write(2, msg, sizeof(msg) - 1) < 0)
		_exit(2);
	_exit(1);
}

static void collect_log(void *data, const char *message)
{
	struct fx *f = data;
	size_t len;

	pthread_mutex_lock(&f->log_lock);
	len = strlen(f->log);
	snprintf(f->log + len, sizeof(f->log) - len, "%s\n", message);
	pthread_mutex_unlock(&f->log_lock);
}

static int log_has(struct fx *f, const char *needle)
{
	int yes;

	pthread_mutex_lock(&f->log_lock);
	yes = uh_contains(f->log, needle);
	pthread_mutex_unlock(&f->log_lock);
	return yes;
}

/* A context on the fault module, with the token found by its URI. */
static CK_RV open_ctx(struct fx *f, const char *pin_file)
{
	CK_RV rv;

	if ((rv = p11ca_ctx_new(fault_path, &f->ctx)) != CKR_OK)
		return rv;
	p11ca_ctx_set_pin_prompt(f->ctx, 0);
	p11ca_ctx_set_log(f->ctx, collect_log, f);
	if ((rv = p11ca_ctx_set_pin_file(f->ctx, pin_file)) != CKR_OK)
		return rv;
	return p11ca_token_find(f->ctx, f->tok.uri, &f->t);
}

static void close_ctx(struct fx *f)
{
	EVP_PKEY_free(f->pub);
	f->pub = NULL;
	p11ca_key_free(f->key);
	f->key = NULL;
	p11ca_ctx_free(f->ctx);
	f->ctx = NULL;
	f->t = NULL;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	CK_RV rv;

	if (f == NULL)
		return -1;
	fflush(stdout); /* the "[ RUN ]" line, in case we time out */
	alarm(TEST_TIMEOUT);
	pthread_mutex_init(&f->log_lock, NULL);
	fm.clear();
	fm.reset_calls();
	unsetenv("P11CA_PIN");
	if (uh_token_make(&f->tok) != 0) {
		fprintf(stderr, "cannot make a SoftHSM2 token\n");
		goto fail;
	}
	if ((rv = open_ctx(f, f->tok.pin_file)) != CKR_OK) {
		fprintf(stderr, "cannot open %s through %s: %s\n", f->tok.uri, fault_path,
		        p11ca_error_message());
		goto fail;
	}
	*state = f;
	return 0;
fail:
	close_ctx(f);
	uh_token_remove(&f->tok);
	pthread_mutex_destroy(&f->log_lock);
	free(f);
	return -1;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	fm.clear();
	close_ctx(f);
	uh_token_remove(&f->tok);
	pthread_mutex_destroy(&f->log_lock);
	free(f);
	alarm(0);
	return 0;
}

/* Generates the test key (EC P-256 unless @type says otherwise), then
 * zeroes the counters so that a test sees only its own calls. */
static void gen_key(struct fx *f, const char *type)
{
	CK_RV rv = p11ca_key_generate(f->t, type ? type : "ec:p256", "recovery-key", 0, &f->key);

	if (rv != CKR_OK)
		print_error("key generation: %s\n", p11ca_error_message());
	assert_int_equal(rv, CKR_OK);
	rv = p11ca_key_get_public(f->key, &f->pub);
	if (rv != CKR_OK)
		print_error("public key: %s\n", p11ca_error_message());
	assert_int_equal(rv, CKR_OK);
	fm.reset_calls();
}

/* Signs a fresh SHA-256 digest; *pverified: the signature verifies. */
static CK_RV sign_once(p11ca_key *key, EVP_PKEY *pub, int *pverified)
{
	struct p11ca_sig_params params = { P11CA_SIG_ECDSA, EVP_sha256(), 0, NULL };
	unsigned char msg[48], dgst[32], sig[1024];
	size_t siglen = sizeof(sig);
	unsigned int dlen = 0;
	CK_RV rv;

	*pverified = 0;
	if (p11ca_key_get_kind(key) == P11CA_KEY_RSA)
		params.alg = P11CA_SIG_RSA_PKCS1;
	if (RAND_bytes(msg, sizeof(msg)) != 1 ||
	    EVP_Digest(msg, sizeof(msg), dgst, &dlen, EVP_sha256(), NULL) != 1)
		return P11CA_R_CRYPTO;
	rv = p11ca_key_sign_digest(key, &params, dgst, dlen, sig, &siglen);
	if (rv == CKR_OK)
		*pverified = uh_verify_digest(pub, EVP_sha256(), dgst, dlen, sig, siglen);
	return rv;
}

/* Signing works and the signature verifies. */
static void assert_signs(struct fx *f)
{
	int verified = 0;
	CK_RV rv = sign_once(f->key, f->pub, &verified);

	if (rv != CKR_OK)
		print_error("signing failed: %s (%s)\nlibrary log:\n%s", p11ca_rv_name(rv),
		            p11ca_error_message(), f->log);
	assert_int_equal(rv, CKR_OK);
	assert_true(verified);
}

/* Signing fails with @want; returns nothing, the message is checked by the caller. */
static void assert_sign_fails(struct fx *f, CK_RV want)
{
	int verified = 0;
	CK_RV rv = sign_once(f->key, f->pub, &verified);

	if (rv != want)
		print_error("signing gave %s (%s), expected %s\n", p11ca_rv_name(rv),
		            p11ca_error_message(), p11ca_rv_name(want));
	assert_int_equal(rv, want);
	assert_true(p11ca_error_message()[0] != '\0');
}

static void assert_message_has(const char *needle)
{
	if (!uh_contains(p11ca_error_message(), needle)) {
		print_error("message '%s' lacks '%s'\n", p11ca_error_message(), needle);
		fail();
	}
}

#define CALLS(fn) fm.calls(fn)

/* ---- (a), (b): the session went away ---- */

static void session_fault(struct fx *f, CK_RV rv)
{
	struct p11ca_session lent;

	/* reported only; the pool closes the session anyway, and as it was the
	 * only one, that logs the user out (PKCS#11): a new login is needed */
	fm.set("C_Sign", rv, 1);
	assert_signs(f);
	assert_int_equal(CALLS("C_Sign"), 2);
	assert_int_equal(CALLS("C_OpenSession"), 1);
	assert_int_equal(CALLS("C_Login"), 1);
	assert_int_equal(CALLS("C_Initialize"), 0);
	/* the broken session was not put back into the pool */
	assert_int_equal(CALLS("C_CloseSession"), 1);
	assert_true(log_has(f, "session lost"));

	/* for real: the module closed it itself */
	fm.reset_calls();
	fm.set_flags("C_Sign", rv, 1, FAULT_REAL);
	assert_signs(f);
	assert_int_equal(CALLS("C_OpenSession"), 1);
	assert_int_equal(CALLS("C_Login"), 1);
	assert_true(CALLS("C_Sign") >= 2 && CALLS("C_Sign") <= 3);
	assert_int_equal(CALLS("C_Initialize"), 0);

	/* with another session open the login stays: no new one */
	assert_int_equal(p11ca_pool_get(f->t, 1, &lent), CKR_OK);
	fm.reset_calls();
	fm.set_flags("C_Sign", rv, 1, FAULT_REAL);
	assert_signs(f);
	assert_int_equal(CALLS("C_OpenSession"), 2);
	assert_int_equal(CALLS("C_Login"), 0);
	assert_int_equal(CALLS("C_Sign"), 2);
	p11ca_pool_put(f->t, &lent, CKR_OK);

	/* and things are back to normal: no more sessions, no more logins */
	fm.reset_calls();
	assert_signs(f);
	assert_signs(f);
	assert_int_equal(CALLS("C_OpenSession"), 0);
	assert_int_equal(CALLS("C_Login"), 0);
	assert_int_equal(CALLS("C_Sign"), 2);
}

static void test_session_handle_invalid(void **state)
{
	struct fx *f = *state;

	gen_key(f, NULL);
	session_fault(f, CKR_SESSION_HANDLE_INVALID);
}

static void test_session_closed(void **state)
{
	struct fx *f = *state;

	gen_key(f, NULL);
	session_fault(f, CKR_SESSION_CLOSED);
}

/* an operation left active on a pooled session (by a caller that stopped
 * half-way): the session is swapped for a fresh one */
static void test_operation_active(void **state)
{
	CK_MECHANISM mech = { CKM_ECDSA, NULL, 0 };
	struct fx *f = *state;
	struct p11ca_session s;

	gen_key(f, NULL);
	assert_int_equal(p11ca_pool_get(f->t, 1, &s), CKR_OK);
	assert_int_equal(f->t->mod->fl->C_SignInit(s.h, &mech, f->key->handle), CKR_OK);
	p11ca_pool_put(f->t, &s, CKR_OK);
	fm.reset_calls();
	assert_signs(f);
	/* 2, or 3: closing the only session logged the user out, and SoftHSM2
	 * forgets the private key's handle then (found again after the login) */
	assert_true(CALLS("C_SignInit") >= 2 && CALLS("C_SignInit") <= 3);
	assert_int_equal(CALLS("C_OpenSession"), 1);
	assert_int_equal(CALLS("C_Sign"), 1);
}

/* ---- (c): logged out ---- */

static void test_user_not_logged_in(void **state)
{
	struct fx *f = *state;

	gen_key(f, NULL);
	/* the module logged the user out */
	fm.set_flags("C_Sign", CKR_USER_NOT_LOGGED_IN, 1, FAULT_REAL);
	assert_signs(f);
	assert_int_equal(CALLS("C_Login"), 1);
	assert_int_equal(CALLS("C_Sign"), 2);
	assert_true(log_has(f, "logging in again"));

	/* on C_SignInit, reported only (the login answers "already logged in") */
	fm.reset_calls();
	fm.set("C_SignInit", CKR_USER_NOT_LOGGED_IN, 1);
	assert_signs(f);
	assert_int_equal(CALLS("C_Login"), 1);
	assert_int_equal(CALLS("C_SignInit"), 2);

	/* logged in for good now */
	fm.reset_calls();
	assert_signs(f);
	assert_int_equal(CALLS("C_Login"), 0);
}

/* ---- (d): the token was unplugged and came back ---- */

static void token_fault(struct fx *f, CK_RV rv)
{
	fm.set_flags("C_Sign", rv, 1, FAULT_REAL);
	assert_signs(f);
	assert_int_equal(CALLS("C_Sign"), 2);
	assert_true(CALLS("C_GetTokenInfo") >= 1);
	assert_int_equal(CALLS("C_OpenSession"), 1);
	/* all sessions were closed: logged in again, key found again */
	assert_int_equal(CALLS("C_Login"), 1);
	assert_true(CALLS("C_FindObjectsInit") >= 1);
	assert_true(log_has(f, "removed"));

	fm.reset_calls();
	fm.set("C_SignInit", rv, 1);
	assert_signs(f);
	assert_int_equal(CALLS("C_SignInit"), 2);
	assert_int_equal(CALLS("C_OpenSession"), 1);
}

static void test_device_removed(void **state)
{
	struct fx *f = *state;

	gen_key(f, NULL);
	token_fault(f, CKR_DEVICE_REMOVED);
}

static void test_token_not_present(void **state)
{
	struct fx *f = *state;

	gen_key(f, NULL);
	token_fault(f, CKR_TOKEN_NOT_PRESENT);
}

/* ---- (e): stale object handle ---- */

static void test_object_handle_invalid(void **state)
{
	struct fx *f = *state;

	gen_key(f, NULL);
	fm.set("C_SignInit", CKR_OBJECT_HANDLE_INVALID, 1);
	assert_signs(f);
	assert_int_equal(CALLS("C_SignInit"), 2);
	assert_true(CALLS("C_FindObjectsInit") >= 1);
	assert_int_equal(CALLS("C_OpenSession"), 0);
	assert_true(log_has(f, "finding it again"));

	fm.reset_calls();
	fm.set("C_SignInit", CKR_KEY_HANDLE_INVALID, 1);
	assert_signs(f);
	assert_int_equal(CALLS("C_SignInit"), 2);
	assert_true(CALLS("C_FindObjectsInit") >= 1);

	/* the key seems gone: a search, one more after logging in again (a
	 * lost login hides private keys), no endless retrying, a clear message */
	fm.reset_calls();
	fm.set("C_SignInit", CKR_OBJECT_HANDLE_INVALID, 1);
	fm.set("C_FindObjects", CKR_OK, -1); /* finds nothing */
	{
		int verified;
		CK_RV rv = sign_once(f->key, f->pub, &verified);
		assert_int_equal(rv, P11CA_R_NOT_FOUND);
		assert_int_equal(CALLS("C_SignInit"), 1);
		assert_in_range(CALLS("C_FindObjectsInit"), 1, 2);
		assert_message_has("recovery-key");
		assert_message_has("no longer");
	}
	fm.clear();
	assert_signs(f);
}

static void test_key_deleted(void **state)
{
	struct fx *f = *state;
	char *uri;
	size_t n = 0;
	int verified;
	CK_RV rv;

	gen_key(f, NULL);
	assert_signs(f);
	/* really deleted (by another program): the handle is stale for real */
	uri = p11ca_key_get_uri(f->key);
	assert_non_null(uri);
	rv = p11ca_object_delete(f->ctx, uri, &n);
	free(uri);
	assert_int_equal(rv, CKR_OK);
	assert_int_equal(n, 1); /* the URI says type=private */
	fm.reset_calls();
	rv = sign_once(f->key, f->pub, &verified);
	assert_int_equal(rv, P11CA_R_NOT_FOUND);
	assert_message_has("recovery-key");
	assert_true(CALLS("C_SignInit") <= 2);
	assert_true(CALLS("C_FindObjectsInit") <= 2);
}

/* ---- (f): HSM restart ---- */

static void test_device_error_restart(void **state)
{
	struct fx *f = *state;

	gen_key(f, NULL);
	/* C_Sign fails with a device error and the HSM restarts */
	fm.set_flags("C_Sign", CKR_DEVICE_ERROR, 1, FAULT_REAL);
	assert_signs(f);
	assert_int_equal(CALLS("C_Initialize"), 1);
	assert_true(CALLS("C_Finalize") >= 1);
	assert_int_equal(CALLS("C_Login"), 1);
	assert_true(CALLS("C_FindObjectsInit") >= 1);
	assert_true(log_has(f, "re-initialising"));

	/* once is enough */
	fm.reset_calls();
	assert_signs(f);
	assert_int_equal(CALLS("C_Initialize"), 0);
	assert_int_equal(CALLS("C_Login"), 0);
}

static void test_not_initialized_restart(void **state)
{
	struct fx *f = *state;

	gen_key(f, NULL);
	/* the HSM restarted between two signatures: SoftHSM2 itself says
	 * CKR_CRYPTOKI_NOT_INITIALIZED to the next call */
	fm.hsm_restart();
	assert_signs(f);
	assert_int_equal(CALLS("C_Initialize"), 1);
	assert_int_equal(CALLS("C_Login"), 1);

	/* the same with no session in the pool: C_OpenSession hits it */
	fm.reset_calls();
	{
		struct p11ca_session s;
		assert_int_equal(p11ca_pool_get(f->t, 0, &s), CKR_OK);
		p11ca_pool_put(f->t, &s, CKR_SESSION_CLOSED); /* dropped and closed */
	}
	fm.hsm_restart();
	assert_signs(f);
	assert_int_equal(CALLS("C_Initialize"), 1);
	assert_true(CALLS("C_OpenSession") >= 2);

	/* injected on C_SignInit, and made real */
	fm.reset_calls();
	fm.set_flags("C_SignInit", CKR_CRYPTOKI_NOT_INITIALIZED, 1, FAULT_REAL);
	assert_signs(f);
	assert_int_equal(CALLS("C_Initialize"), 1);
	assert_int_equal(CALLS("C_SignInit"), 2);
}

/* ---- (g): faults that do not go away ---- */

static void test_persistent_fault(void **state)
{
	static const CK_RV faults[] = {
		CKR_SESSION_HANDLE_INVALID, CKR_SESSION_CLOSED, CKR_USER_NOT_LOGGED_IN,
		CKR_DEVICE_REMOVED, CKR_TOKEN_NOT_PRESENT, CKR_DEVICE_ERROR,
		CKR_CRYPTOKI_NOT_INITIALIZED, CKR_OBJECT_HANDLE_INVALID, CKR_KEY_HANDLE_INVALID,
		CKR_GENERAL_ERROR, CKR_FUNCTION_FAILED, CKR_DEVICE_MEMORY, CKR_OPERATION_ACTIVE,
	};
	struct fx *f = *state;
	size_t i;

	gen_key(f, NULL);
	for (i = 0; i < sizeof(faults) / sizeof(faults[0]); i++) {
		fm.reset_calls();
		fm.set("C_Sign", faults[i], -1);
		assert_sign_fails(f, faults[i]);
		/* one try and at most one repair of each kind */
		if (CALLS("C_Sign") < 1 || CALLS("C_Sign") > 3) {
			print_error("%s: C_Sign called %u times\n", p11ca_rv_name(faults[i]),
			            CALLS("C_Sign"));
			fail();
		}
		assert_true(CALLS("C_Initialize") <= 1);
		assert_message_has(p11ca_rv_name(faults[i]));
		/* and once the fault is gone, signing works again */
		fm.clear();
		assert_signs(f);
	}
}

/* ---- (h): the token is gone for good ---- */

static void test_token_gone(void **state)
{
	struct fx *f = *state;
	p11ca_token *t2 = NULL;

	gen_key(f, NULL);
	fm.set("C_GetTokenInfo", CKR_TOKEN_NOT_PRESENT, -1);
	fm.set("C_OpenSession", CKR_TOKEN_NOT_PRESENT, -1);
	fm.set_flags("C_SignInit", CKR_DEVICE_REMOVED, -1, FAULT_REAL);
	{
		int verified;
		CK_RV rv = sign_once(f->key, f->pub, &verified);
		assert_true(rv == CKR_TOKEN_NOT_PRESENT || rv == CKR_DEVICE_REMOVED);
		assert_message_has("not present");
		assert_message_has("p11ca-test");
		assert_true(CALLS("C_SignInit") <= 2);
		/* again, now without any session left */
		rv = sign_once(f->key, f->pub, &verified);
		assert_true(rv == CKR_TOKEN_NOT_PRESENT || rv == CKR_DEVICE_REMOVED);
		assert_message_has("not present");
		assert_true(CALLS("C_SignInit") <= 3);
		assert_true(CALLS("C_OpenSession") <= 3);
	}
	/* it is not found either */
	assert_int_equal(p11ca_token_find(f->ctx, f->tok.uri, &t2), P11CA_R_NOT_FOUND);

	/* plugged in again */
	fm.clear();
	assert_signs(f);
	assert_int_equal(p11ca_token_find(f->ctx, f->tok.uri, &t2), CKR_OK);
	assert_ptr_equal(t2, f->t);
}

/* ---- (i), (j): PIN policy ---- */

static void test_pin_locked(void **state)
{
	struct fx *f = *state;
	p11ca_key *key = NULL;

	fm.token_flags(CKF_USER_PIN_LOCKED);
	assert_int_equal(p11ca_token_login(f->t), P11CA_R_PIN_LOCKED);
	assert_message_has("locked");
	assert_int_equal(CALLS("C_Login"), 0);
	/* nothing that needs a login tries it */
	assert_int_equal(p11ca_key_generate(f->t, "ec:p256", "k", 0, &key), P11CA_R_PIN_LOCKED);
	assert_null(key);
	assert_int_equal(CALLS("C_Login"), 0);

	/* the module saying so at C_Login is the same thing */
	fm.token_flags(0);
	fm.set("C_Login", CKR_PIN_LOCKED, 1);
	assert_int_equal(p11ca_token_login(f->t), P11CA_R_PIN_LOCKED);
	assert_int_equal(CALLS("C_Login"), 1);

	/* unlocked */
	assert_int_equal(p11ca_token_login(f->t), CKR_OK);
	assert_int_equal(CALLS("C_Login"), 2);
}

static void test_wrong_pin(void **state)
{
	struct fx *f = *state;
	char wrong[700];
	CK_RV rv;

	snprintf(wrong, sizeof(wrong), "%s/wrong-pin", f->tok.dir);
	assert_int_equal(uh_write_file(wrong, "not-the-pin-4711\n", 17), 0);
	assert_int_equal(p11ca_ctx_set_pin_file(f->ctx, wrong), CKR_OK);

	rv = p11ca_token_login(f->t);
	assert_int_equal(rv, CKR_PIN_INCORRECT);
	assert_int_equal(CALLS("C_Login"), 1);
	assert_message_has("wrong PIN");
	assert_false(uh_contains(p11ca_error_message(), "not-the-pin-4711"));

	/* not tried again, not even with another PIN file */
	assert_int_equal(p11ca_token_login(f->t), P11CA_R_PIN_FAILED);
	assert_int_equal(CALLS("C_Login"), 1);
	assert_int_equal(p11ca_ctx_set_pin_file(f->ctx, f->tok.pin_file), CKR_OK);
	assert_int_equal(p11ca_token_login(f->t), P11CA_R_PIN_FAILED);
	assert_int_equal(p11ca_key_generate(f->t, "ec:p256", "k", 0, NULL), P11CA_R_PIN_FAILED);
	assert_int_equal(CALLS("C_Login"), 1);
	assert_false(log_has(f, "not-the-pin-4711"));

	/* a new context with the right PIN works (one failure did not lock it) */
	close_ctx(f);
	assert_int_equal(open_ctx(f, f->tok.pin_file), CKR_OK);
	assert_int_equal(p11ca_token_login(f->t), CKR_OK);
	assert_int_equal(CALLS("C_Login"), 2);
	gen_key(f, NULL);
	assert_signs(f);
}

/* ---- (k): the token has no sessions to give ---- */

static void test_session_count_none_open(void **state)
{
	struct fx *f = *state;
	p11ca_key *key = NULL;

	fm.set("C_OpenSession", CKR_SESSION_COUNT, -1);
	assert_int_equal(p11ca_token_login(f->t), CKR_SESSION_COUNT);
	assert_message_has("CKR_SESSION_COUNT");
	assert_message_has("p11ca-test");
	/* no waiting for a session that nobody will return */
	assert_int_equal(CALLS("C_OpenSession"), 1);
	assert_int_equal(p11ca_key_generate(f->t, "ec:p256", "k", 0, &key), CKR_SESSION_COUNT);
	assert_message_has("CKR_SESSION_COUNT");
	assert_int_equal(CALLS("C_OpenSession"), 2);

	fm.clear();
	gen_key(f, NULL);
	assert_signs(f);
}

struct signer {
	struct fx *f;
	CK_RV rv;
	int verified;
	int done;
	char message[256];
};

static void *signer_main(void *arg)
{
	struct signer *sg = arg;

	sg->rv = sign_once(sg->f->key, sg->f->pub, &sg->verified);
	snprintf(sg->message, sizeof(sg->message), "%s", p11ca_error_message());
	__atomic_store_n(&sg->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static void test_session_count_waits(void **state)
{
	struct fx *f = *state;
	struct signer sg;
	struct p11ca_session s;
	unsigned opens_while_waiting;
	int i, done_while_waiting;
	pthread_t th;

	gen_key(f, NULL);
	/* the only session is lent out, and the token will not open another */
	assert_int_equal(p11ca_pool_get(f->t, 1, &s), CKR_OK);
	fm.set("C_OpenSession", CKR_SESSION_COUNT, -1);
	memset(&sg, 0, sizeof(sg));
	sg.f = f;
	assert_int_equal(pthread_create(&th, NULL, signer_main, &sg), 0);
	for (i = 0; i < 1000 && CALLS("C_OpenSession") == 0; i++)
		sleep_ms(10);
	sleep_ms(300);
	/* look, then give the session back and join before asserting
	 * anything: a failed assertion must not leave the thread running */
	opens_while_waiting = CALLS("C_OpenSession");
	done_while_waiting = __atomic_load_n(&sg.done, __ATOMIC_ACQUIRE);
	p11ca_pool_put(f->t, &s, CKR_OK);
	assert_int_equal(pthread_join(th, NULL), 0);

	/* it waited, without failing and without hammering C_OpenSession */
	assert_int_equal(opens_while_waiting, 1);
	assert_false(done_while_waiting);
	if (sg.rv != CKR_OK)
		print_error("signer: %s %s\n", p11ca_rv_name(sg.rv), sg.message);
	assert_int_equal(sg.rv, CKR_OK);
	assert_true(sg.verified);
	assert_int_equal(CALLS("C_OpenSession"), 1);
	assert_int_equal(CALLS("C_Sign"), 1);
}

/* ---- (l): fork ---- */

static int child_signs(struct fx *f)
{
	unsigned init_before = CALLS("C_Initialize");
	int verified = 0, i;

	for (i = 0; i < 3; i++) {
		if (sign_once(f->key, f->pub, &verified) != CKR_OK) {
			fprintf(stderr, "child: signing failed: %s\n", p11ca_error_message());
			return 2;
		}
		if (!verified) {
			fprintf(stderr, "child: signature does not verify\n");
			return 3;
		}
	}
	/* the child initialised the module for itself */
	if (CALLS("C_Initialize") != init_before + 1) {
		fprintf(stderr, "child: C_Initialize called %u times\n",
		        CALLS("C_Initialize") - init_before);
		return 4;
	}
	return 0;
}

static void test_fork(void **state)
{
	struct fx *f = *state;
	int status = 0, i;
	pid_t pid;

	gen_key(f, NULL);
	assert_signs(f);
	for (i = 0; i < 2; i++) {
		fflush(NULL);
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0)
			_exit(child_signs(f));
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
		/* the parent's sessions and login survived the child */
		fm.reset_calls();
		assert_signs(f);
		assert_int_equal(CALLS("C_Initialize"), 0);
		assert_int_equal(CALLS("C_Login"), 0);
	}
}

/* ---- a bigger key through the same path ---- */

static void test_rsa_restart(void **state)
{
	struct fx *f = *state;

	gen_key(f, "rsa:2048");
	fm.set_flags("C_Sign", CKR_DEVICE_ERROR, 1, FAULT_REAL);
	assert_signs(f);
	assert_int_equal(CALLS("C_Initialize"), 1);
	fm.set_flags("C_SignInit", CKR_SESSION_HANDLE_INVALID, 1, FAULT_REAL);
	assert_signs(f);
}

/* ---- main ---- */

static int load_fault_module(void)
{
	snprintf(fault_path, sizeof(fault_path), "%s/.libs/fault-module.so", uh_top_builddir());
	if (access(fault_path, R_OK) != 0) {
		fprintf(stderr, "test-recovery: %s is missing (make check builds it)\n",
		        fault_path);
		return -1;
	}
	fault_handle = dlopen(fault_path, RTLD_NOW | RTLD_LOCAL);
	if (fault_handle == NULL) {
		fprintf(stderr, "test-recovery: %s\n", dlerror());
		return -1;
	}
	*(void **)&fm.set = dlsym(fault_handle, "fault_set");
	*(void **)&fm.set_flags = dlsym(fault_handle, "fault_set_flags");
	*(void **)&fm.clear = dlsym(fault_handle, "fault_clear");
	*(void **)&fm.calls = dlsym(fault_handle, "fault_calls");
	*(void **)&fm.reset_calls = dlsym(fault_handle, "fault_reset_calls");
	*(void **)&fm.token_flags = dlsym(fault_handle, "fault_token_flags");
	*(void **)&fm.hsm_restart = dlsym(fault_handle, "fault_hsm_restart");
	if (fm.set == NULL || fm.set_flags == NULL || fm.clear == NULL || fm.calls == NULL ||
	    fm.reset_calls == NULL || fm.token_flags == NULL || fm.hsm_restart == NULL) {
		fprintf(stderr, "test-recovery: %s lacks its control functions\n", fault_path);
		return -1;
	}
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_session_handle_invalid, setup, teardown),
		cmocka_unit_test_setup_teardown(test_session_closed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_operation_active, setup, teardown),
		cmocka_unit_test_setup_teardown(test_user_not_logged_in, setup, teardown),
		cmocka_unit_test_setup_teardown(test_device_removed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_token_not_present, setup, teardown),
		cmocka_unit_test_setup_teardown(test_object_handle_invalid, setup, teardown),
		cmocka_unit_test_setup_teardown(test_key_deleted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_device_error_restart, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_initialized_restart, setup, teardown),
		cmocka_unit_test_setup_teardown(test_persistent_fault, setup, teardown),
		cmocka_unit_test_setup_teardown(test_token_gone, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pin_locked, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_pin, setup, teardown),
		cmocka_unit_test_setup_teardown(test_session_count_none_open, setup, teardown),
		cmocka_unit_test_setup_teardown(test_session_count_waits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fork, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rsa_restart, setup, teardown),
	};
	struct uh_token probe;
	int r;

	/* the fault module loads the same SoftHSM2 the build found */
	if (setenv("SOFTHSM_MODULE", uh_softhsm_module(), 0) != 0)
		return 1;
	if (access(uh_softhsm_module(), R_OK) != 0) {
		fprintf(stderr, "test-recovery: no SoftHSM2 module at %s: skipped\n",
		        uh_softhsm_module());
		return UH_SKIP;
	}
	r = uh_token_make(&probe);
	if (r == UH_SKIP) {
		fprintf(stderr, "test-recovery: SoftHSM2 tools missing: skipped\n");
		return UH_SKIP;
	}
	if (r != 0)
		return 1;
	uh_token_remove(&probe);
	if (load_fault_module() != 0)
		return 1;
	signal(SIGALRM, on_timeout);
	r = cmocka_run_group_tests(tests, NULL, NULL);
	dlclose(fault_handle);
	return r;
}

/*
 * test-recovery-limits.c - what libp11ca does not retry, or must wait
 * for, with faults injected by tests/fault-module.c on a real SoftHSM2
 * token: (g) faults that do not go away; (h) the token gone for good; (i),
 * (j) the PIN policy; (k) no sessions to give; (l) fork; and a bigger key
 * through an HSM restart.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>

#include "recovery-fixture.h"

/* ---- (g): faults that do not go away ---- */

static void test_persistent_fault(void **state)
{
	static const CK_RV faults[] = {
		CKR_SESSION_HANDLE_INVALID,   CKR_SESSION_CLOSED,
		CKR_USER_NOT_LOGGED_IN,       CKR_DEVICE_REMOVED,
		CKR_TOKEN_NOT_PRESENT,        CKR_DEVICE_ERROR,
		CKR_CRYPTOKI_NOT_INITIALIZED, CKR_OBJECT_HANDLE_INVALID,
		CKR_KEY_HANDLE_INVALID,       CKR_GENERAL_ERROR,
		CKR_FUNCTION_FAILED,          CKR_DEVICE_MEMORY,
		CKR_OPERATION_ACTIVE,
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
	/* the second fault fires too: a refused C_SignInit, a new session, one that works */
	fm.reset_calls();
	fm.set_flags("C_SignInit", CKR_SESSION_HANDLE_INVALID, 1, FAULT_REAL);
	assert_signs(f);
	assert_in_range(CALLS("C_SignInit"), 2, 3);
	assert_true(CALLS("C_OpenSession") >= 1);
	assert_int_equal(CALLS("C_Initialize"), 0);
}

/* ---- a token without CKM_RSA_PKCS_PSS ---- */

/* Signs a SHA-256 digest with RSA-PSS (digest-sized salt); 1 when it verifies. */
static int pss_signs(struct fx *f)
{
	struct p11ca_sig_params sp = { P11CA_SIG_RSA_PSS, EVP_sha256(), -1, NULL };
	unsigned char dgst[32], sig[512];
	size_t siglen = sizeof(sig);
	EVP_PKEY_CTX *pc = NULL;
	int ok = 0;

	if (RAND_bytes(dgst, sizeof(dgst)) != 1)
		return 0;
	if (p11ca_key_sign_digest(f->key, &sp, dgst, sizeof(dgst), sig, &siglen) != CKR_OK) {
		print_error("RSA-PSS: %s\n", p11ca_error_message());
		return 0;
	}
	ok = (pc = EVP_PKEY_CTX_new(f->pub, NULL)) != NULL && EVP_PKEY_verify_init(pc) == 1 &&
	     EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PSS_PADDING) == 1 &&
	     EVP_PKEY_CTX_set_rsa_pss_saltlen(pc, RSA_PSS_SALTLEN_DIGEST) == 1 &&
	     EVP_PKEY_CTX_set_signature_md(pc, EVP_sha256()) == 1 &&
	     EVP_PKEY_verify(pc, sig, siglen, dgst, sizeof(dgst)) == 1;
	EVP_PKEY_CTX_free(pc);
	return ok;
}

/*
 * RSA-PSS on a token that lacks CKM_RSA_PKCS_PSS is encoded by the library
 * and signed with raw RSA (CKM_RSA_X_509); with the mechanism there, the
 * token's own PSS is used.  The signature verifies either way, so the
 * mechanism the token was given is what tells the paths apart.
 */
static void test_pss_emulated(void **state)
{
	struct fx *f = *state;
	char uri[256];

	unsetenv("P11CA_EMULATE_PSS");
	fm.hide_mechanism(CKM_RSA_PKCS_PSS);
	close_ctx(f);
	assert_int_equal(open_ctx(f, f->tok.pin_file), CKR_OK);
	gen_key(f, "rsa:2048");
	assert_false(p11ca_token_has_mechanism(f->t, CKM_RSA_PKCS_PSS));
	assert_true(pss_signs(f));
	assert_int_equal(fm.last_sign_mechanism(), CKM_RSA_X_509);
	assert_int_equal(CALLS("C_SignInit"), 1);

	/* the mechanism back (a new context reads the list again): the native path */
	fm.hide_mechanism(0);
	close_ctx(f);
	assert_int_equal(open_ctx(f, f->tok.pin_file), CKR_OK);
	snprintf(uri, sizeof(uri), "%s;object=recovery-key;type=private", f->tok.uri);
	assert_int_equal(p11ca_key_find(f->ctx, uri, &f->key), CKR_OK);
	assert_int_equal(p11ca_key_get_public(f->key, &f->pub), CKR_OK);
	assert_true(p11ca_token_has_mechanism(f->t, CKM_RSA_PKCS_PSS));
	assert_true(pss_signs(f));
	assert_int_equal(fm.last_sign_mechanism(), CKM_RSA_PKCS_PSS);
}

/*
 * A PSS-only key (CKA_ALLOWED_MECHANISMS: the RSA-PSS mechanisms) on a token
 * without CKM_RSA_PKCS_PSS: raw RSA is not allowed either, so a digest
 * cannot be signed (one line naming what the key allows) and the message
 * is, by the token-hashing CKM_SHA256_RSA_PKCS_PSS.
 */
static void test_pss_only_message(void **state)
{
	struct fx *f = *state;
	struct p11ca_sig_params sp = { P11CA_SIG_RSA_PSS, EVP_sha256(), -1, NULL };
	static const unsigned char msg[] = "a message for a PSS-only key";
	unsigned char dgst[32], sig[512];
	size_t siglen = sizeof(sig);
	EVP_MD_CTX *mc = NULL;
	EVP_PKEY_CTX *pc = NULL;

	unsetenv("P11CA_EMULATE_PSS");
	fm.hide_mechanism(CKM_RSA_PKCS_PSS);
	close_ctx(f);
	assert_int_equal(open_ctx(f, f->tok.pin_file), CKR_OK);
	assert_int_equal(
	    p11ca_key_generate(f->t, "rsa:2048", "pss-only", P11CA_GEN_PSS_ONLY, &f->key), CKR_OK);
	assert_int_equal(p11ca_key_get_public(f->key, &f->pub), CKR_OK);
	assert_true(p11ca_key_pss_only(f->key));
	assert_true(EVP_PKEY_is_a(f->pub, "RSA-PSS"));
	assert_true(p11ca_key_needs_message(f->key, &sp));

	memset(dgst, 0x5a, sizeof(dgst));
	assert_int_equal(p11ca_key_sign_digest(f->key, &sp, dgst, sizeof(dgst), sig, &siglen),
	                 CKR_MECHANISM_INVALID);
	assert_message_has("the key allows only CKM_RSA_PKCS_PSS, CKM_SHA1_RSA_PKCS_PSS");

	siglen = sizeof(sig);
	assert_int_equal(p11ca_key_sign_message(f->key, &sp, msg, sizeof(msg), sig, &siglen),
	                 CKR_OK);
	assert_int_equal(fm.last_sign_mechanism(), CKM_SHA256_RSA_PKCS_PSS);
	assert_non_null(mc = EVP_MD_CTX_new());
	assert_int_equal(EVP_DigestVerifyInit(mc, &pc, EVP_sha256(), NULL, f->pub), 1);
	assert_int_equal(EVP_PKEY_CTX_set_rsa_pss_saltlen(pc, RSA_PSS_SALTLEN_DIGEST), 1);
	assert_int_equal(EVP_DigestVerify(mc, sig, siglen, msg, sizeof(msg)), 1);
	EVP_MD_CTX_free(mc);
	fm.hide_mechanism(0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		RECOVERY_TEST(test_persistent_fault),
		RECOVERY_TEST(test_token_gone),
		RECOVERY_TEST(test_pin_locked),
		RECOVERY_TEST(test_wrong_pin),
		RECOVERY_TEST(test_session_count_none_open),
		RECOVERY_TEST(test_session_count_waits),
		RECOVERY_TEST(test_fork),
		RECOVERY_TEST(test_rsa_restart),
		RECOVERY_TEST(test_pss_emulated),
		RECOVERY_TEST(test_pss_only_message),
	};

	return RECOVERY_RUN("test-recovery-limits", tests);
}

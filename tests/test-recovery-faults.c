/*
 * test-recovery-faults.c - libp11ca recovers from faults that go away,
 * injected by tests/fault-module.c on a real SoftHSM2 token: (a), (b) the
 * session went away; (c) logged out; (d) the token was unplugged and came
 * back (injected once, and for a while with the module's unplug switch);
 * (e) stale object handles; (f) an HSM restart.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "recovery-fixture.h"

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

/*
 * The unplug switch (P11CA_FAULTS_UNPLUG_FILE; fault_unplug_file here):
 * while its file exists every signature fails at once with a clear
 * "not present" message, no endless retrying; once it is gone the same
 * key signs again, logged in again with the PIN held in memory (the PIN
 * file is gone by then: a server reads it once).
 */
/* A context that reads the PIN from held memory only (as a server), and a key that signs. */
static void held_pin_ctx(struct fx *f)
{
	char pin[P11CA_PIN_MAX];
	size_t len = 0;

	assert_int_equal(p11ca_pin_read_file(f->tok.pin_file, pin, sizeof(pin), &len), CKR_OK);
	assert_int_equal(p11ca_pin_hold(pin, len), CKR_OK);
	p11ca_wipe(pin, sizeof(pin));
	close_ctx(f);
	assert_int_equal(open_ctx(f, NULL), CKR_OK);
	gen_key(f, NULL);
	assert_signs(f);
}

static void test_unplugged_for_a_while(void **state)
{
	struct fx *f = *state;
	char sw[700];
	int i;

	held_pin_ctx(f);
	assert_int_equal(unlink(f->tok.pin_file), 0);

	snprintf(sw, sizeof(sw), "%s/unplugged", f->tok.dir);
	fm.unplug_file(sw);
	/* the switch set but its file absent: plugged in */
	assert_signs(f);
	assert_int_equal(uh_write_file(sw, "", 0), 0);
	for (i = 0; i < 3; i++) {
		fm.reset_calls();
		assert_sign_fails(f, CKR_TOKEN_NOT_PRESENT);
		assert_message_has("not present");
		/* a few calls, not a loop */
		assert_true(CALLS("C_Sign") + CALLS("C_SignInit") + CALLS("C_OpenSession") <= 8);
	}
	/* the sessions were really closed: SoftHSM2 logged the user out */
	assert_int_equal(unlink(sw), 0);
	fm.reset_calls();
	assert_signs(f);
	assert_true(CALLS("C_Login") >= 1);
	fm.reset_calls();
	assert_signs(f);
	assert_int_equal(CALLS("C_Login"), 0);
	/* unplugged again, and back */
	assert_int_equal(uh_write_file(sw, "", 0), 0);
	assert_sign_fails(f, CKR_TOKEN_NOT_PRESENT);
	assert_int_equal(unlink(sw), 0);
	assert_signs(f);
}

/*
 * Unplugged and plugged back many times while three threads of one context
 * work: two look their key up again and again by URI (a server reloading
 * keys: finding the token, and initialising the module again when it
 * seems gone), one signs with a key it holds.  The module is never
 * finalised while a thread is inside it (that crashed SoftHSM2): every
 * call ends in a signature that verifies or a clear error, and once the
 * token is back for good every thread signs again.
 */
struct racer {
	struct fx *f;
	char *uri; /* NULL: sign with f->key */
	int stop;
	unsigned ok, failed, bad;
	CK_RV first_bad;
	char message[256];
};

static int clear_failure(CK_RV rv)
{
	return rv == CKR_TOKEN_NOT_PRESENT || rv == P11CA_R_NOT_FOUND || rv == CKR_DEVICE_REMOVED ||
	       rv == CKR_FUNCTION_FAILED || rv == CKR_CRYPTOKI_NOT_INITIALIZED ||
	       rv == CKR_SESSION_HANDLE_INVALID || rv == CKR_SLOT_ID_INVALID;
}

static void *racer_main(void *arg)
{
	struct racer *r = arg;
	int n;

	for (n = 0; n < 100000 && !__atomic_load_n(&r->stop, __ATOMIC_ACQUIRE); n++) {
		p11ca_key *key = NULL;
		EVP_PKEY *pub = NULL;
		int verified = 0;
		CK_RV rv;

		if (r->uri == NULL) {
			rv = sign_once(r->f->key, r->f->pub, &verified);
		} else if ((rv = p11ca_key_find(r->f->ctx, r->uri, &key)) == CKR_OK &&
		           (rv = p11ca_key_get_public(key, &pub)) == CKR_OK) {
			rv = sign_once(key, pub, &verified);
		}
		if (rv == CKR_OK && verified) {
			r->ok++;
		} else if (rv != CKR_OK && clear_failure(rv) && p11ca_error_message()[0] != '\0') {
			struct timespec ms = { 0, 1000000L };
			r->failed++;
			nanosleep(&ms, NULL); /* as a server would, not spinning */
		} else if (r->bad++ == 0) {
			r->first_bad = rv;
			snprintf(r->message, sizeof(r->message), "%s", p11ca_error_message());
		}
		EVP_PKEY_free(pub);
		p11ca_key_free(key);
	}
	return NULL;
}

static void test_unplug_race(void **state)
{
	struct fx *f = *state;
	struct racer r[3];
	pthread_t th[3];
	char sw[700];
	unsigned cycle, i;

	held_pin_ctx(f);
	snprintf(sw, sizeof(sw), "%s/unplugged", f->tok.dir);
	fm.unplug_file(sw);

	memset(r, 0, sizeof(r));
	for (i = 0; i < 3; i++) {
		r[i].f = f;
		r[i].uri = i < 2 ? p11ca_key_get_uri(f->key) : NULL;
		assert_true(i == 2 || r[i].uri != NULL);
		assert_int_equal(pthread_create(&th[i], NULL, racer_main, &r[i]), 0);
	}
	/* 60 cycles, each unplugged 10-40 ms and plugged 10-40 ms */
	for (cycle = 0; cycle < 60; cycle++) {
		struct timespec ts = { 0, (10 + (long)(cycle * 7) % 31) * 1000000L };
		(void)uh_write_file(sw, "", 0);
		nanosleep(&ts, NULL);
		(void)unlink(sw);
		nanosleep(&ts, NULL);
	}
	(void)unlink(sw);
	for (i = 0; i < 3; i++)
		__atomic_store_n(&r[i].stop, 1, __ATOMIC_RELEASE);
	for (i = 0; i < 3; i++)
		assert_int_equal(pthread_join(th[i], NULL), 0);
	for (i = 0; i < 3; i++) {
		free(r[i].uri);
		if (r[i].bad)
			print_error("thread %u: %u unclear outcomes, first %s: %s\n", i, r[i].bad,
			            p11ca_rv_name(r[i].first_bad), r[i].message);
		print_message("thread %u: %u signed, %u failed clearly\n", i, r[i].ok, r[i].failed);
		assert_int_equal(r[i].bad, 0);
		assert_true(r[i].ok > 0);
	}
	/* back for good: the held key and a freshly found one both sign */
	assert_signs(f);
	{
		char *uri = p11ca_key_get_uri(f->key);
		p11ca_key *key = NULL;
		EVP_PKEY *pub = NULL;
		int verified = 0;

		assert_non_null(uri);
		assert_int_equal(p11ca_key_find(f->ctx, uri, &key), CKR_OK);
		free(uri);
		assert_int_equal(p11ca_key_get_public(key, &pub), CKR_OK);
		assert_int_equal(sign_once(key, pub, &verified), CKR_OK);
		assert_true(verified);
		EVP_PKEY_free(pub);
		p11ca_key_free(key);
	}
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		RECOVERY_TEST(test_session_handle_invalid),
		RECOVERY_TEST(test_session_closed),
		RECOVERY_TEST(test_operation_active),
		RECOVERY_TEST(test_user_not_logged_in),
		RECOVERY_TEST(test_device_removed),
		RECOVERY_TEST(test_token_not_present),
		RECOVERY_TEST(test_unplugged_for_a_while),
		RECOVERY_TEST(test_unplug_race),
		RECOVERY_TEST(test_object_handle_invalid),
		RECOVERY_TEST(test_key_deleted),
		RECOVERY_TEST(test_device_error_restart),
		RECOVERY_TEST(test_not_initialized_restart),
	};

	return RECOVERY_RUN("test-recovery-faults", tests);
}

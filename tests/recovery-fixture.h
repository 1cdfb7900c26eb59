/*
 * recovery-fixture.h - shared by the tests/test-recovery-*.c binaries:
 * libp11ca's fault recovery against a real SoftHSM2 token seen through
 * tests/fault-module.c, which fails chosen calls (and makes the fault real
 * where it can: closed sessions, logout, HSM restart).
 *
 * Every test gets a fresh throwaway token from softhsm-conf/mktoken
 * (recovery_setup) and checks outcomes: signatures are verified with
 * OpenSSL against the key's public half, and the module's call counters
 * show what the library did.
 */
#ifndef P11CA_RECOVERY_FIXTURE_H
#define P11CA_RECOVERY_FIXTURE_H

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "internal.h"
#include "fault-module.h"
#include "unit-helpers.h"

/* The module's control functions, from dlsym. */
struct fault_control {
	void (*set)(const char *fn, CK_RV rv, int count);
	void (*set_flags)(const char *fn, CK_RV rv, int count, unsigned flags);
	void (*clear)(void);
	unsigned (*calls)(const char *fn);
	void (*reset_calls)(void);
	void (*token_flags)(CK_FLAGS set);
	void (*hsm_restart)(void);
	void (*hide_mechanism)(CK_MECHANISM_TYPE mech);
	CK_MECHANISM_TYPE (*last_sign_mechanism)(void);
	void (*unplug_file)(const char *path);
};
extern struct fault_control fm;

struct fx {
	struct uh_token tok;
	p11ca_ctx *ctx;
	p11ca_token *t;
	p11ca_key *key;
	EVP_PKEY *pub;
	pthread_mutex_t log_lock;
	char log[8192];
};

int log_has(struct fx *f, const char *needle);
/* A context on the fault module, with the token found by its URI. */
CK_RV open_ctx(struct fx *f, const char *pin_file);
void close_ctx(struct fx *f);
/* Per-test setup and teardown: a new token, a context on it; *state a struct fx. */
int recovery_setup(void **state);
int recovery_teardown(void **state);
/* Generates the test key (EC P-256 unless @type says otherwise), then
 * zeroes the counters so that a test sees only its own calls. */
void gen_key(struct fx *f, const char *type);
/* Signs a fresh SHA-256 digest; *pverified: the signature verifies. */
CK_RV sign_once(p11ca_key *key, EVP_PKEY *pub, int *pverified);
/* Signing works and the signature verifies. */
void assert_signs(struct fx *f);
/* Signing fails with @want; returns nothing, the message is checked by the caller. */
void assert_sign_fails(struct fx *f, CK_RV want);
void assert_message_has(const char *needle);

#define CALLS(fn) fm.calls(fn)

/* Loads the fault module and runs @tests (each with recovery_setup and
 * recovery_teardown); main's exit status (77: SoftHSM2 missing). */
int recovery_run(const char *name, const struct CMUnitTest *tests, size_t n);
#define RECOVERY_RUN(name, tests) recovery_run(name, tests, sizeof(tests) / sizeof((tests)[0]))
#define RECOVERY_TEST(fn)         cmocka_unit_test_setup_teardown(fn, recovery_setup, recovery_teardown)

#endif /* P11CA_RECOVERY_FIXTURE_H */

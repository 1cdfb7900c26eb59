/*
 * recovery-fixture.c - the fault module, the per-test token and the
 * signing checks shared by the tests/test-recovery-*.c binaries (see
 * recovery-fixture.h).
 */
#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <openssl/rand.h>

#include "recovery-fixture.h"

/* A test that has not finished after this long is stuck (a retry loop). */
#define TEST_TIMEOUT 120

static char fault_path[1024];
static void *fault_handle;

struct fault_control fm;

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

int log_has(struct fx *f, const char *needle)
{
	int yes;

	pthread_mutex_lock(&f->log_lock);
	yes = uh_contains(f->log, needle);
	pthread_mutex_unlock(&f->log_lock);
	return yes;
}

/* A context on the fault module, with the token found by its URI. */
CK_RV open_ctx(struct fx *f, const char *pin_file)
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

void close_ctx(struct fx *f)
{
	EVP_PKEY_free(f->pub);
	f->pub = NULL;
	p11ca_key_free(f->key);
	f->key = NULL;
	p11ca_ctx_free(f->ctx);
	f->ctx = NULL;
	f->t = NULL;
}

int recovery_setup(void **state)
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

int recovery_teardown(void **state)
{
	struct fx *f = *state;

	fm.clear();
	fm.unplug_file(NULL);
	(void)p11ca_pin_hold(NULL, 0);
	close_ctx(f);
	uh_token_remove(&f->tok);
	pthread_mutex_destroy(&f->log_lock);
	free(f);
	alarm(0);
	return 0;
}

/* Generates the test key (EC P-256 unless @type says otherwise), then
 * zeroes the counters so that a test sees only its own calls. */
void gen_key(struct fx *f, const char *type)
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
CK_RV sign_once(p11ca_key *key, EVP_PKEY *pub, int *pverified)
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
void assert_signs(struct fx *f)
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
void assert_sign_fails(struct fx *f, CK_RV want)
{
	int verified = 0;
	CK_RV rv = sign_once(f->key, f->pub, &verified);

	if (rv != want)
		print_error("signing gave %s (%s), expected %s\n", p11ca_rv_name(rv),
		            p11ca_error_message(), p11ca_rv_name(want));
	assert_int_equal(rv, want);
	assert_true(p11ca_error_message()[0] != '\0');
}

void assert_message_has(const char *needle)
{
	if (!uh_contains(p11ca_error_message(), needle)) {
		print_error("message '%s' lacks '%s'\n", p11ca_error_message(), needle);
		fail();
	}
}

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
	*(void **)&fm.hide_mechanism = dlsym(fault_handle, "fault_hide_mechanism");
	*(void **)&fm.last_sign_mechanism = dlsym(fault_handle, "fault_last_sign_mechanism");
	*(void **)&fm.unplug_file = dlsym(fault_handle, "fault_unplug_file");
	if (fm.set == NULL || fm.set_flags == NULL || fm.clear == NULL || fm.calls == NULL ||
	    fm.reset_calls == NULL || fm.token_flags == NULL || fm.hsm_restart == NULL ||
	    fm.hide_mechanism == NULL || fm.last_sign_mechanism == NULL || fm.unplug_file == NULL) {
		fprintf(stderr, "test-recovery: %s lacks its control functions\n", fault_path);
		return -1;
	}
	return 0;
}

int recovery_run(const char *name, const struct CMUnitTest *tests, size_t n)
{
	struct uh_token probe;
	int r;

	/* the fault module loads the same SoftHSM2 the build found */
	if (setenv("SOFTHSM_MODULE", uh_softhsm_module(), 0) != 0)
		return 1;
	if (access(uh_softhsm_module(), R_OK) != 0)
		return uh_skip(name, "no SoftHSM2 module");
	r = uh_token_make(&probe);
	if (r == UH_SKIP)
		return uh_skip(name, "SoftHSM2 tools missing");
	if (r != 0)
		return 1;
	uh_token_remove(&probe);
	if (load_fault_module() != 0)
		return 1;
	signal(SIGALRM, on_timeout);
	r = _cmocka_run_group_tests(name, tests, n, NULL, NULL);
	dlclose(fault_handle);
	return r;
}

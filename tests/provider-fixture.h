/*
 * provider-fixture.h - shared by the tests/test-provider-*.c binaries: a
 * SoftHSM2 token with the keys below, made by softhsm-conf/mktoken and the
 * p11ca tool; the p11ca provider registered in-process (configured through
 * P11CA_MODULE and P11CA_PIN_FILE) beside the default provider; a library
 * context with the default provider only, which checks every signature.
 */
#ifndef P11CA_PROVIDER_FIXTURE_H
#define P11CA_PROVIDER_FIXTURE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <openssl/evp.h>

#define TOKEN "test-provider"

enum { K_RSA, K_EC256, K_EC384, K_EC521, K_ED, K_OTHER, K_NOPUB, K_COUNT };

struct keydef {
	const char *label, *type, *md;
	int decrypt;
};
extern const struct keydef keydefs[K_COUNT];

extern OSSL_LIB_CTX *plain;     /* the default provider only: the checker */
extern EVP_PKEY *pubs[K_COUNT]; /* what p11ca key gen --pubout wrote, in plain */

/* "@what failed:" and OpenSSL's error queue, on stderr. */
void print_errors(const char *what);
/* The token key @k through OSSL_STORE in the default library context. */
EVP_PKEY *load_key(int k);
/* Verification by the default provider alone. */
int verify_plain(EVP_PKEY *pub, const char *md, int pad, const unsigned char *msg, size_t len,
                 const unsigned char *sig, size_t siglen);
/* Signs a message with @key and has the default provider check it with @pub. */
int sign_and_check(EVP_PKEY *key, EVP_PKEY *pub, const char *md, int pad, const char *text);

/* Makes the token, loads the providers, runs @tests as one group and
 * removes the token (P11CA_TEST_KEEP=1 keeps it after a failure); main's
 * exit status (77: SoftHSM2 missing). */
int provider_run(const char *name, const struct CMUnitTest *tests, size_t n);
#define PROVIDER_RUN(name, tests) provider_run(name, tests, sizeof(tests) / sizeof((tests)[0]))

#endif /* P11CA_PROVIDER_FIXTURE_H */

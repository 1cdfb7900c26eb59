/*
 * softhsm-fixture.h - shared by the tests/test-softhsm-*.c binaries: two
 * throwaway SoftHSM2 tokens (softhsm-conf/mktoken makes token A, the group
 * setup initialises token B on the free slot through p11ca_token_init), the
 * key types p11ca generates, raw PKCS#11 reads on token A and signature
 * checks with OpenSSL.
 */
#ifndef P11CA_SOFTHSM_FIXTURE_H
#define P11CA_SOFTHSM_FIXTURE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "internal.h"

#define LABEL_A  "p11ca-it-a"
#define LABEL_B  "p11ca-it-b"
#define PIN_B    "it-b-user-pin"
#define SO_PIN_B "it-b-so-pin"

/* The key types p11ca generates, and what they must look like. */
struct ktype {
	const char *type;
	const char *label;
	enum p11ca_key_kind kind;
	int bits;
	const char *group; /* OpenSSL group of an EC key */
	CK_KEY_TYPE ckk;
	const char *md; /* digest for its signatures */
};
extern const struct ktype ktypes[];
#define NKTYPES 7
enum { K_RSA2048, K_RSA3072, K_RSA4096, K_P256, K_P384, K_P521, K_ED25519 };

struct softhsm_fixture {
	char dir[1024]; /* the tokens' directory (removed at the end) */
	char conf[1100];
	char pin_file[1100];
	char pin_file_b[1100];
	char wrong_pin_file[1100];
	const char *module; /* SoftHSM2 module path, or "softhsm2" */
	p11ca_ctx *ctx;     /* the main context, logged in to token A */
	p11ca_token *tok;   /* token A */
	CK_FUNCTION_LIST *fl;
	CK_SESSION_HANDLE raw; /* our own session on token A for raw reads */
	p11ca_key *keys[NKTYPES];
	EVP_PKEY *issuer; /* signs the test certificates */
};
extern struct softhsm_fixture T;

#define assert_rv(expr, want)                                                                      \
	do {                                                                                       \
		CK_RV r_ = (expr);                                                                 \
		if (r_ != (CK_RV)(want))                                                           \
			print_error("%s = %s, want %s (message: %s)\n", #expr, p11ca_rv_name(r_),  \
			            p11ca_rv_name(want), p11ca_error_message());                   \
		assert_true(r_ == (CK_RV)(want));                                                  \
	} while (0)

#define assert_contains(hay, needle)                                                               \
	do {                                                                                       \
		const char *h_ = (hay);                                                            \
		if (h_ == NULL || strstr(h_, (needle)) == NULL)                                    \
			print_error("'%s' does not contain '%s'\n", h_ ? h_ : "(null)", (needle)); \
		assert_true(h_ != NULL && strstr(h_, (needle)) != NULL);                           \
	} while (0)

int count_objects(void);
/* Handles of the objects matching @tmpl on the raw session. */
CK_ULONG raw_find(CK_ATTRIBUTE *tmpl, CK_ULONG n, CK_OBJECT_HANDLE *hs, CK_ULONG max);
CK_ULONG find_by_id(CK_OBJECT_CLASS klass, const unsigned char *id, size_t idlen,
                    CK_OBJECT_HANDLE *hs, CK_ULONG max);
CK_ULONG find_by_label(const char *label);
/* One attribute read raw; *pval freed with free(). */
CK_RV raw_attr(CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE type, unsigned char **pval, CK_ULONG *plen);
int raw_bool(CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE type);
/* The public key built by the test itself from a public-key object. */
EVP_PKEY *raw_public(CK_OBJECT_HANDLE h, const struct ktype *kt);
/* A certificate for @pub with subjectKeyIdentifier "hash", signed by T.issuer. */
X509 *make_cert(EVP_PKEY *pub, const char *cn);
/* The key of type @i on token A, generated on first use. */
p11ca_key *key_of(size_t i);
/* Verifies @sig over @data: a digest, or for Ed25519 the message. */
int verify(EVP_PKEY *pub, const struct p11ca_sig_params *sp, const unsigned char *data,
           size_t datalen, const unsigned char *sig, size_t siglen);
/* Signs with @key by digest and by message and verifies both with the
 * public key read raw from the token. */
void sign_and_verify(p11ca_key *key, const struct ktype *kt, const struct p11ca_sig_params *sp);

/* Makes the tokens, runs @tests as one group (setup: token B, the login to
 * token A, the raw session), removes the tokens; main's exit status (77:
 * SoftHSM2 missing). */
int softhsm_run(const char *name, const struct CMUnitTest *tests, size_t n);
#define SOFTHSM_RUN(name, tests) softhsm_run(name, tests, sizeof(tests) / sizeof((tests)[0]))

#endif /* P11CA_SOFTHSM_FIXTURE_H */

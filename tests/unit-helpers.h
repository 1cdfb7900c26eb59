/*
 * unit-helpers.h - shared by the cmocka unit tests: paths of the build,
 * throwaway SoftHSM2 tokens, files, signature checks.
 */
#ifndef P11CA_UNIT_HELPERS_H
#define P11CA_UNIT_HELPERS_H

#include <stddef.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

/* automake's "skip" exit status */
#define UH_SKIP 77

/* $top_srcdir / $top_builddir from the test environment, or the build's. */
const char *uh_top_srcdir(void);
const char *uh_top_builddir(void);
/* The SoftHSM2 module: $SOFTHSM_MODULE, configure's, or Debian's path. */
const char *uh_softhsm_module(void);

/* Writes @len bytes to @path (mode 0600); 0 or -1. */
int uh_write_file(const char *path, const void *data, size_t len);
/* A new directory under $TMPDIR (or /tmp) named p11ca-<what>.XXXXXX. */
int uh_mkdtemp(const char *what, char *dir, size_t cap);
/* rm -rf @dir (no symlinks followed). */
void uh_rmtree(const char *dir);

/* A throwaway SoftHSM2 token made by softhsm-conf/mktoken. */
struct uh_token {
	char dir[512];
	char conf[600];     /* SOFTHSM2_CONF */
	char uri[128];      /* P11CA_TOKEN_URI */
	char pin_file[600]; /* P11CA_PIN_FILE */
};
/* Makes the token in a new temporary directory and exports SOFTHSM2_CONF.
 * 0 on success, UH_SKIP when SoftHSM2 is missing, -1 on failure. */
int uh_token_make(struct uh_token *tok);
/* Removes the token's directory and unsets SOFTHSM2_CONF. */
void uh_token_remove(struct uh_token *tok);

/* 1 if @sig is a valid signature by @pub over digest @dgst (@md), else 0.
 * ECDSA signatures are DER; RSA PKCS#1 v1.5 when @pub is RSA. */
int uh_verify_digest(EVP_PKEY *pub, const EVP_MD *md, const unsigned char *dgst, size_t dgstlen,
                     const unsigned char *sig, size_t siglen);

/*
 * Skips: @name ("test-softhsm-sessions" for a whole program,
 * "test-softhsm-sessions/registry-name" for a part) does not run here
 * because of @why.  Says "SKIP: name: why" on stderr and returns UH_SKIP;
 * but when @name is listed in the file $P11CA_EXPECT_RUN (CI's
 * tests/expected-to-run) it says FAIL and returns 1.  A test case that
 * skips returns after this (cmocka's skip() is a failure under automake),
 * and the program's status comes from uh_result().
 */
int uh_skip(const char *name, const char *why);
/* A cmocka group's exit status: @failed when not 0, else UH_SKIP when a part was skipped. */
int uh_result(int failed);

/* 1 if @hay contains @needle. */
int uh_contains(const char *hay, const char *needle);

/*
 * A PEM CSR (CN @cn, a fresh software P-256 key) carrying @exts as they are
 * (NULL: none), e.g. two subjectAltNames, or one whose DER is broken, as a
 * hostile requester would send them; malloc'ed (*plen bytes), NULL on failure.
 */
unsigned char *uh_make_csr(const char *cn, STACK_OF(X509_EXTENSION) * exts, size_t *plen);

#endif /* P11CA_UNIT_HELPERS_H */

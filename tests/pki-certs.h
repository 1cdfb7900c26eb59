/*
 * pki-certs.h - shared by the tests/test-pki-*.c binaries: a chain made
 * here with software keys (root, intermediate, leaf; EC P-256, and an
 * RSA-1024 key for the weak-key checks), made by the group setup.
 */
#ifndef P11CA_PKI_CERTS_H
#define P11CA_PKI_CERTS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#define DAY 86400

struct mk {
	const char *cn;
	const char *bc;  /* "critical,CA:TRUE", "CA:FALSE", NULL: none */
	const char *eku; /* "serverAuth,clientAuth", NULL: none */
	const char *san; /* "DNS:host.example.com", NULL: none */
	int64_t nb, na;  /* relative to now, seconds */
	const char *md;  /* "SHA256" unless given */
};

extern EVP_PKEY *root_key, *inter_key, *leaf_key, *rsa1024_key;
extern const struct mk root_mk, inter_mk, leaf_mk;
extern X509 *root, *inter, *leaf;

/* A certificate for @key signed by @ikey (@issuer NULL: self-signed). */
X509 *mkcert(const struct mk *m, EVP_PKEY *key, X509 *issuer, EVP_PKEY *ikey);
STACK_OF(X509) * stack_of(X509 *a, X509 *b);
/* @x as DER (OPENSSL_free) */
int der_of(X509 *x, unsigned char **pder);
/* @x as PEM into @out (NUL-terminated), returns its length */
size_t pem_of(X509 *x, char *out, size_t cap);

/* Group setup and teardown: the keys and the chain above. */
int pki_certs_setup(void **state);
int pki_certs_teardown(void **state);

#endif /* P11CA_PKI_CERTS_H */

/*
 * csr.h - the CSR reader of the CA (csr.c): common requests are walked with
 * ASN1_get_object and their key built from its parameters, which avoids
 * OpenSSL 3.0's per-request decoder chain (the largest cost of issuing);
 * everything else goes through d2i_X509_REQ.  Prefix ca_csr_.
 */
#ifndef P11CA_CA_CSR_H
#define P11CA_CA_CSR_H

#include <stddef.h>
#include <openssl/x509.h>

/* ca-csr.c: a request taken apart, its signature checked. */
struct ca_csr {
	X509_NAME *subject;
	X509_ALGOR *key_alg;      /* SubjectPublicKeyInfo's algorithm */
	unsigned char *key_bits;  /* and its public key bits */
	int key_len;
	STACK_OF(X509_EXTENSION) *exts; /* requested, or NULL */
	EVP_PKEY *pkey;                 /* the public key, for the checks */
};
/* Parses a PEM or DER CSR and checks its signature; on failure *why says why. */
int ca_csr_parse(OSSL_LIB_CTX *libctx, const unsigned char *buf, size_t len, struct ca_csr *out,
                 char *why, size_t cap);
void ca_csr_free(struct ca_csr *c);

#endif

/*
 * csr.h - the CSR reader of the CA (csr.c): common requests are walked with
 * ASN1_get_object and their key built from its parameters, which avoids
 * OpenSSL 3.0's per-request decoder chain (the largest cost of issuing);
 * everything else goes through d2i_X509_REQ.  Prefix ca_csr_.
 *
 * Results follow tools/common/result.h.  Nothing here prints or exits;
 * no state but OpenSSL's.  Safe to call from several threads at once.
 */
#ifndef P11CA_CA_CSR_H
#define P11CA_CA_CSR_H

#include <stddef.h>
#include <openssl/x509.h>

/* A request taken apart, its signature checked.  Every member is owned (ca_csr_free). */
struct ca_csr {
	X509_NAME *subject;
	X509_ALGOR *key_alg;     /* SubjectPublicKeyInfo's algorithm */
	unsigned char *key_bits; /* and its public key bits */
	int key_len;
	STACK_OF(X509_EXTENSION) * exts; /* requested, or NULL */
	EVP_PKEY *pkey;                  /* the public key, for the checks */
};

/*
 * Parses a PEM or DER CSR of @len bytes at @buf (only read) and checks its
 * signature, with keys and digests of @libctx's default provider (NULL: the
 * process's).  Returns RES_OK with *out filled (the caller's: ca_csr_free),
 * or RES_BAD_INPUT (not a request, malformed, signature does not verify) /
 * RES_NOMEM with the reason in res_message() and *out zeroed.  It accepts
 * nothing that d2i_X509_REQ + X509_REQ_verify would refuse.
 */
int ca_csr_parse(OSSL_LIB_CTX *libctx, const unsigned char *buf, size_t len, struct ca_csr *out);
/* Frees the members of @c (not @c itself) and zeroes it; a zeroed @c is fine. */
void ca_csr_free(struct ca_csr *c);

#endif

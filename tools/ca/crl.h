/*
 * crl.h - the CA's CRL encoder (crl.c): X.509 v2 CRLs encoded straight from
 * a stream of revoked entries, hashed in pieces, signed with the CA key and
 * written through a callback; a million entries need tens of megabytes.
 * Prefix ca_crl_.
 */
#ifndef P11CA_CA_CRL_H
#define P11CA_CA_CRL_H

#include <stddef.h>
#include <stdint.h>
#include <openssl/x509.h>

#include "db.h"

/* Where the encoded CRL goes, piece by piece; non-zero stops (returned as RES_IO). */
typedef int (*ca_write_fn)(void *arg, const unsigned char *p, size_t len);
/* Streams the revoked entries to @cb; RES_OK or the first non-zero of @cb / a RES_* code. */
typedef int (*ca_revoked_walk)(void *src, cadb_row_cb cb, void *cbarg);

struct ca_crl_params {
	OSSL_LIB_CTX *libctx; /* signs in this context */
	X509 *issuer;         /* the CA certificate: issuer name, AKI */
	EVP_PKEY *key;        /* the CA key */
	const char *md;       /* "sha256"...; ignored for Ed25519 */
	int64_t this_update, next_update;
	int64_t number; /* cRLNumber */
	int pem;        /* PEM armour instead of DER */
};

int ca_crl_encode(const struct ca_crl_params *p, ca_revoked_walk walk, void *src, ca_write_fn out,
                  void *outarg, size_t *pcount);

#endif

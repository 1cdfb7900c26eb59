/*
 * crl-check.h - the oracle shared by the CRL encoder's differential test
 * (tests/test-crl-encode.c) and its fuzzer (tests/fuzz/crl_fuzzer.c): what
 * ca_crl_encode() must accept, and whether the CRL it wrote, as OpenSSL's
 * parser reads it, says exactly what it was given, in minimal DER.  Test
 * code: aborts never, allocates with OpenSSL, keeps no state but a
 * per-thread message.
 */
#ifndef P11CA_CRL_CHECK_H
#define P11CA_CRL_CHECK_H

#include <stddef.h>
#include <stdint.h>
#include <openssl/x509.h>

#include "crl.h"

/* Entries in an array, walked in order: a ca_revoked_walk over struct crl_check_rows. */
struct crl_check_rows {
	const struct cadb_row *rows;
	size_t n;
};
int crl_check_walk(void *src, cadb_row_cb cb, void *cbarg);

/* A ca_write_fn appending to a buffer; fails once @fail_after bytes would be exceeded (0: never).
 */
struct crl_check_sink {
	unsigned char *p;
	size_t len, cap;
	size_t fail_after;
	size_t calls;
};
int crl_check_sink_write(void *arg, const unsigned char *p, size_t len);
void crl_check_sink_free(struct crl_check_sink *s);

/* Whether ca_crl_encode must accept @r / @p (1) or refuse it with RES_BAD_INPUT (0). */
int crl_check_entry_valid(const struct cadb_row *r);
int crl_check_params_valid(const struct ca_crl_params *p);

/* A self-signed CA certificate for @key (with a subjectKeyIdentifier when @with_skid); NULL on
 * failure. */
X509 *crl_check_make_ca(EVP_PKEY *key, const char *md, int with_skid);

/*
 * NULL when @der (@len bytes, one DER CRL) parses with d2i_X509_CRL, verifies
 * with @p->key, re-encodes byte for byte, and carries @p's issuer, times,
 * number and AKI and exactly @rows in order; else what differs (a
 * per-thread message, valid until the next call).
 */
const char *crl_check_der(const unsigned char *der, size_t len, const struct ca_crl_params *p,
                          const struct cadb_row *rows, size_t n);
/* The DER inside one "X509 CRL" PEM block of @pem (OPENSSL_free); 1, or 0 if none. */
int crl_check_pem_to_der(const unsigned char *pem, size_t len, unsigned char **pder, long *plen);
/* Seconds since the epoch of @t (any year 0-9999); 0 with *ok = 0 if unreadable. */
int64_t crl_check_time(const ASN1_TIME *t, int *ok);

#endif

/*
 * crl.h - the CA's CRL encoder (crl.c): an X.509 v2 CRL (RFC 5280 section
 * 5) encoded straight from a stream of revoked entries, each costing its
 * DER bytes and nothing more (a million entries in about 49 MB, where an
 * X509_CRL of objects would need gigabytes), signed with any EVP_PKEY (the
 * token's through the p11ca provider, or a software key), written through a
 * callback.  Prefix ca_crl_.
 *
 * Results follow tools/common/result.h.  No paths, no printing, no state:
 * several CRLs may be encoded at once in several threads (each with its
 * own key object or a key that allows it).
 */
#ifndef P11CA_CA_CRL_H
#define P11CA_CA_CRL_H

#include <stddef.h>
#include <stdint.h>
#include <openssl/x509.h>

#include "db.h"

/* Where the encoded CRL goes, piece by piece; non-zero stops (returned as RES_IO). */
typedef int (*ca_write_fn)(void *arg, const unsigned char *p, size_t len);
/*
 * Streams the revoked entries to @cb (serial, revoked_at, reason,
 * invalidity of each row); returns RES_OK or the first non-zero of @cb / a
 * RES_* code.  cadb_foreach_revoked() fits this with a cast-free wrapper.
 */
typedef int (*ca_revoked_walk)(void *src, cadb_row_cb cb, void *cbarg);

struct ca_crl_params {
	OSSL_LIB_CTX *libctx; /* signs in this context (the token key's provider, or a software key
	                         in tests) */
	X509 *issuer;         /* the CA certificate: issuer name, AKI */
	EVP_PKEY *key;        /* the CA key */
	const char *md;       /* "sha256"...; ignored for Ed25519 */
	int64_t this_update, next_update;
	int64_t number; /* cRLNumber */
	int pem;        /* PEM armour instead of DER */
};

/*
 * Bounds of every time a CRL carries here: 1000-01-01T00:00:00Z ..
 * 9999-12-31T23:59:59Z (four-digit years, as pki_time_asn1() writes them).
 */
#define CA_CRL_TIME_MIN (-30610224000LL)
#define CA_CRL_TIME_MAX 253402300799LL

/*
 * Encodes and signs the CRL of every entry @walk yields, writing it to @out;
 * *pcount = entries (@pcount may be NULL).  RES_BAD_INPUT for an entry that
 * cannot be encoded (malformed serial text, reason out of range), RES_TOKEN
 * / RES_CRYPTO for signing, RES_IO when @out fails, RES_NOMEM.
 *
 * Entries: r->serial is 1 to 40 hex digits (either case, odd counts read
 * as with a leading 0), a NUL within the field; r->reason -1 or 0
 * (unspecified) gives no reasonCode extension, 1-6 and 8-10 one, anything
 * else (7 included) is RES_BAD_INPUT; r->invalidity 0 = none, else an
 * invalidityDate (GeneralizedTime).  r->revoked_at, the updates and the
 * invalidity dates must lie within CA_CRL_TIME_MIN..MAX (RES_BAD_INPUT),
 * p->number must be >= 0.  Times are UTCTime for 1950-2049, else
 * GeneralizedTime (RFC 5280 5.1.2.4).  Entries keep the walk's order.
 *
 * @out is called only once every entry has been encoded and the CRL signed:
 * after RES_BAD_INPUT, RES_NOMEM, RES_TOKEN/RES_CRYPTO or a failure of
 * @walk it saw nothing.  After RES_IO it may have received part of the CRL:
 * the caller discards it (an atomic file is aborted).
 *
 * Failures of signing are RES_TOKEN when @p->key is not held by OpenSSL's
 * own providers (default, base, fips), RES_CRYPTO when it is.  A failure
 * @walk returns (its own code, or @cb's) is returned as it is.
 *
 * Memory: about the DER size of the entries (twice that for EdDSA, which
 * signs the whole message at once), plus a few kilobytes.
 */
int ca_crl_encode(const struct ca_crl_params *p, ca_revoked_walk walk, void *src, ca_write_fn out,
                  void *outarg, size_t *pcount);

#endif

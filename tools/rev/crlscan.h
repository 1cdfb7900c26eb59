/*
 * crlscan.h - a streaming DER walk over a CRL's bytes (prefix crlscan_),
 * internal to tools/rev/ (store.c and its tests).  Nothing is copied or
 * allocated: every field points into the caller's buffer, which must
 * outlive the struct.  Results follow tools/common/result.h:
 * RES_BAD_INPUT for malformed bytes (with the offset in the message),
 * RES_UNSUPPORTED for a well-formed CRL this store does not handle (a
 * delta CRL, an indirect CRL, a certificateIssuer entry extension, a
 * CRL partitioned by reasons, an unknown critical extension).
 */
#ifndef P11CA_REV_CRLSCAN_H
#define P11CA_REV_CRLSCAN_H

#include <stddef.h>
#include <stdint.h>

/* Longest serial kept (content octets of the INTEGER, leading zeros dropped). */
#define CRLSCAN_SERIAL_MAX 22

struct crlscan_entry {
	const unsigned char *serial; /* INTEGER content, leading 0x00 octets dropped */
	size_t serial_len;           /* 1..CRLSCAN_SERIAL_MAX */
	int64_t revoked_at;
	int reason;         /* CRLReason 0..10, -1 when no reasonCode */
	int64_t invalidity; /* 0 when none */
};

struct crlscan {
	const unsigned char *tbs; /* tbsCertList, whole TLV: what the signature covers */
	size_t tbs_len;
	const unsigned char *sigalg; /* signatureAlgorithm AlgorithmIdentifier, whole TLV */
	size_t sigalg_len;
	const unsigned char *sig; /* signatureValue, without the unused-bits octet */
	size_t sig_len;
	int version;                 /* 1 or 2 */
	const unsigned char *issuer; /* issuer Name, whole TLV */
	size_t issuer_len;
	int64_t this_update, next_update; /* next_update 0: none */
	const unsigned char *number;      /* crlNumber INTEGER content, NULL when none */
	size_t number_len;
	const unsigned char *aki; /* authorityKeyIdentifier keyIdentifier, NULL when none */
	size_t aki_len;
	int only_user_certs, only_ca_certs; /* issuingDistributionPoint */
	size_t entries;                     /* revoked certificates */
};

typedef int (*crlscan_entry_cb)(void *ctx, const struct crlscan_entry *e);
/*
 * Walks the CRL @der (@len bytes, exactly one CertificateList), filling @c
 * and calling @cb (may be NULL) for each revoked entry in order; a
 * non-RES_OK from @cb stops the walk and is returned.
 */
int crlscan_parse(const unsigned char *der, size_t len, struct crlscan *c, crlscan_entry_cb cb,
                  void *ctx);

/* Seconds since the epoch of a UTCTime (@tag 0x17) or GeneralizedTime (0x18); -1: malformed. */
int crlscan_time(unsigned tag, const unsigned char *p, size_t len, int64_t *pt);

#endif

/*
 * store.h - the CRL store (prefix rev_store_): a folder of verified CRLs,
 * one entry per issuer (name + key) and origin, each entry replaced
 * atomically (temp file + fsync + rename, never through a symlink), writers
 * serialised by a lock, readers never blocked and never seeing half an
 * entry.  Each entry keeps the CRL's DER as received, what it was checked
 * against and where it came from, and an index of its revoked serials so
 * that one lookup costs a binary search, not a parse of the whole CRL (a
 * 1,000,000-entry CRL is ~30 MB of DER).  Entries are made without
 * decoding the CRL into OpenSSL's X509_CRL (too much memory for such
 * CRLs): a streaming DER walk over the bytes, the signature checked over
 * the tbsCertList bytes.  Part of tools/rev/.
 *
 * Results follow tools/common/result.h.  Paths: the store's folder only.
 * A struct rev_store may be used by one thread at a time; open one per
 * thread (they share the folder safely, also across processes).
 */
#ifndef P11CA_REV_STORE_H
#define P11CA_REV_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <openssl/x509.h>
#include "pki.h"

/* Where a CRL came from.  Downloaded ones take precedence over manual ones. */
enum rev_origin {
	REV_ORIGIN_MANUAL = 1,   /* crl add FILE */
	REV_ORIGIN_DOWNLOAD = 2, /* crl fetch, or a CDP download during verify */
};

/* One stored CRL, as listed (strings are the info's: rev_crl_info_clear). */
struct rev_crl_info {
	char *id;                        /* the entry's name in the store ("crl show ID") */
	char *issuer;                    /* pki_name_oneline of the CRL's issuer */
	char *issuer_fp;                 /* SHA-256 fingerprint (lowercase hex) of the CA
	                                    certificate whose key verified the CRL */
	char crl_number[PKI_SERIAL_MAX]; /* hex as pki_serial_of, "" when none */
	int64_t this_update;
	int64_t next_update; /* 0: none given */
	int64_t stored_at;   /* when it was put into the store */
	size_t entries;      /* revoked certificates */
	enum rev_origin origin;
	char *source;        /* URL or file name it came from */
	char *etag;          /* from the download, NULL when none */
	char *last_modified; /* from the download, NULL when none */
	int only_user_certs; /* issuingDistributionPoint scope flags */
	int only_ca_certs;
};
void rev_crl_info_clear(struct rev_crl_info *info);

struct rev_store;
/*
 * Opens (with @create, makes: mode 0700) the store folder @dir; a symbolic
 * link as the folder, or as an entry met later, is RES_POLICY.  The store
 * format and its guarantees: store-int.h.
 */
int rev_store_open(const char *dir, int create, struct rev_store **ps);
void rev_store_close(struct rev_store *s);

struct rev_put_opts {
	enum rev_origin origin;
	const char *source; /* URL or file name */
	const char *etag;   /* as the server sent them, or NULL */
	const char *last_modified;
	STACK_OF(X509) * issuers; /* CA certificates the CRL may be signed by
	                             (trust bundle, --chain): matched by name
	                             (and AKI), the signature checked */
	int64_t now;              /* 0: time(NULL) */
};
/*
 * Stores one CRL (@der, @len): checks it is a CRL (v2 or v1, not a delta
 * CRL, not an indirect CRL, no serial over 22 octets, no unknown critical
 * extension: RES_UNSUPPORTED; malformed: RES_BAD_INPUT), finds its issuer among
 * opts->issuers (RES_NOT_FOUND: "no issuer for CRL of /CN=.."), verifies
 * its signature (RES_CRYPTO/RES_POLICY: refused, the stored entry kept),
 * refuses a crlNumber lower than the stored entry's of the same issuer
 * and origin, or (without crlNumbers) an older thisUpdate (RES_STALE);
 * the same CRL again is RES_ALREADY (only the source/etag data are
 * refreshed).  Then replaces the entry atomically.  @pinfo (may be NULL)
 * receives the stored entry (the caller clears it).
 */
int rev_store_put(struct rev_store *s, const unsigned char *der, size_t len,
                  const struct rev_put_opts *opts, struct rev_crl_info *pinfo);

/* What the store says of one certificate. */
enum rev_crl_status {
	REV_CRL_NONE = 0, /* no CRL of that issuer (or none whose scope covers it) */
	REV_CRL_GOOD,     /* a current CRL does not list it */
	REV_CRL_REVOKED,  /* listed (reason, time) */
	REV_CRL_EXPIRED,  /* the CRL's nextUpdate has passed: the guide counts this as revoked */
	REV_CRL_NOT_YET,  /* the CRL's thisUpdate is in the future */
};
struct rev_crl_answer {
	enum rev_crl_status status;
	int reason;               /* CRLReason, -1 none */
	int64_t revoked_at;       /* 0 none */
	struct rev_crl_info info; /* the entry that decided (the evidence) */
};
void rev_crl_answer_clear(struct rev_crl_answer *a);
/*
 * Looks up @cert (its serial, and whether it is a CA for the scope flags)
 * issued by @issuer (its name and key find the entry) at @at (0: now).
 * Downloaded entries take precedence over manual ones; with @use_both,
 * both are consulted and a listing in either counts.  RES_OK with
 * a->status set (REV_CRL_NONE included); other codes: the store failed.
 */
int rev_store_lookup(struct rev_store *s, X509 *cert, X509 *issuer, int64_t at, int use_both,
                     struct rev_crl_answer *a);

/* Every entry, in a stable order; a non-RES_OK from @cb stops and is returned. */
int rev_store_foreach(struct rev_store *s, int (*cb)(void *ctx, const struct rev_crl_info *info),
                      void *ctx);
/* One entry by id (or unique id prefix): its info and (may be NULL) its DER (malloc'd). */
int rev_store_get(struct rev_store *s, const char *id, struct rev_crl_info *pinfo,
                  unsigned char **pder, size_t *plen);
/* Removes one entry by id (or unique prefix) (RES_NOT_FOUND). */
int rev_store_remove(struct rev_store *s, const char *id);
/*
 * The download entry that came from @url (its etag and last_modified make
 * the next fetch conditional), RES_NOT_FOUND when none.
 */
int rev_store_find_source(struct rev_store *s, const char *url, struct rev_crl_info *pinfo);
/* The entry of @issuer and @origin (RES_NOT_FOUND when none). */
int rev_store_find(struct rev_store *s, X509 *issuer, enum rev_origin origin,
                   struct rev_crl_info *pinfo);

#endif

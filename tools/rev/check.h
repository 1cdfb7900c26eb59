/*
 * check.h - the verdict (prefix rev_): a chain built and checked by the PKI
 * library's verifier (pki_verify_chain), then the revocation of the leaf
 * and of every CA in the chain from the sources asked for, in the order
 * asked for: CRLs (the store, CRLs embedded in the trust bundle, a CDP
 * download when allowed) and OCSP (AIA responder).  Each element ends in
 * one of three states: good, revoked (reason, date), undetermined (why).
 * An expired CRL counts as revoked (the deployment guide's rule).  The
 * fallback turns undetermined into pass (the appliance's default) or fail.
 * A self-signed trust anchor needs no revocation check (RFC 5280 6.2)
 * unless asked.  The report keeps the evidence per element: which CRL
 * (source, number, signer) or OCSP response (responder, producedAt)
 * decided, and why other sources were not used.  Part of tools/rev/.
 *
 * Results follow tools/common/result.h.  Used by 'p11ca verify',
 * 'cert check' and 'tls probe' alike.
 */
#ifndef P11CA_REV_CHECK_H
#define P11CA_REV_CHECK_H

#include <stddef.h>
#include <stdint.h>
#include "pki.h"
#include "http.h"
#include "store.h"
#include "ocsp.h"

enum rev_method { REV_M_NONE = 0, REV_M_CRL = 1, REV_M_OCSP = 2 };

struct rev_verify_opts {
	struct pki_verify_opts pki;       /* time, name, purposes, as for pki_verify_chain */
	enum rev_method order[2];         /* methods in order; {0} = revocation off */
	struct rev_store *store;          /* CRL store, NULL: none */
	STACK_OF(X509_CRL) * bundle_crls; /* CRLs embedded in the trust bundle, may be NULL */
	int cdp_download;                 /* fetch a CRL from the CDP when no stored CRL is
	                                     current (stored when @store is given) */
	int fallback_revoked;             /* undetermined fails (1) or passes (0: default) */
	int check_anchor;                 /* check the trust anchor's revocation too */
	int use_both;                     /* manual and downloaded CRLs both count */
	int aia_fetch;                    /* fetch missing issuers from AIA caIssuers */
	struct rev_ocsp_opts ocsp;        /* OCSP settings (url, nonce, skew) */
	const struct rev_limits *limits;  /* NULL: defaults */
	const char *https_ca_file;        /* trust for HTTPS distribution points */
};

/* Which source decided (pki_chain_elem.rev_source). */
enum rev_source {
	REV_SRC_NONE = 0,
	REV_SRC_STORE,    /* a CRL from the store */
	REV_SRC_BUNDLE,   /* a CRL embedded in the trust bundle */
	REV_SRC_DOWNLOAD, /* a CRL downloaded from a CDP during this check */
	REV_SRC_OCSP,     /* an OCSP response */
};

enum rev_state {
	REV_STATE_SKIPPED = 0, /* not checked: revocation off, or an anchor */
	REV_STATE_GOOD,
	REV_STATE_REVOKED,
	REV_STATE_UNDETERMINED,
};

/* Per element of the chain (parallel to chain->elems). */
struct rev_elem_report {
	enum rev_state state;
	int reason; /* CRLReason when revoked (-1 none) */
	int64_t revoked_at;
	int expired_crl;        /* revoked because the only CRL had expired */
	const char *why;        /* static: "expired-crl" (revoked by an expired CRL), or why
	                           undetermined ("no-source", "unreachable", "bad-signature",
	                           "stale", "nonce", "unauthorised", "unknown", "not-yet-valid",
	                           "no-issuer", "error"); NULL otherwise */
	enum rev_source source; /* what decided (REV_SRC_NONE: nothing did) */
	char *decided_by;       /* one line: "CRL #12 from http://.. signed by /CN=.."
	                           or "OCSP http://.. (responder /CN=.., produced ..)" */
	char **notes;           /* NULL-terminated lines: sources not used and why */
};

struct rev_report {
	struct pki_chain_result *chain; /* the PKI verifier's result (owned) */
	struct rev_elem_report *elems;  /* chain->n of them */
	int fit;                        /* chain ok and every element good (or passed by
	                                   the fallback): exit 0 */
	int fallback_used;              /* an undetermined element was passed/failed by it */
	char **aia_notes;               /* NULL-terminated lines: issuers fetched from AIA
	                                   caIssuers (aia_fetch), or why not; may be NULL */
};

int rev_verify(OSSL_LIB_CTX *libctx, X509 *leaf, STACK_OF(X509) * untrusted,
               STACK_OF(X509) * trusted, const struct rev_verify_opts *o, struct rev_report **prep);
void rev_report_free(struct rev_report *r);
/*
 * The certificates at @x's first http(s) AIA caIssuers URL (DER, PEM or a
 * certs-only PKCS#7, at most 1 MiB) appended to @out (aia.c); *purl the URL
 * asked (the caller's, free(); NULL when there was none: RES_NOT_FOUND).
 */
int rev_aia_fetch(X509 *x, const struct rev_limits *limits, const char *ca_file,
                  STACK_OF(X509) * out, char **purl);
/* "good", "revoked", "undetermined", "not checked" */
const char *rev_state_name(enum rev_state s);
/* A CRLReason's name ("keyCompromise"), NULL for -1 or one out of range. */
const char *rev_reason_name(int reason);
/* A pki_elem_flag bit as a short identifier for JSON ("expired", "name-ip"). */
const char *rev_problem_name(unsigned flag);
/*
 * Parses "off", "crl", "ocsp", "crl,ocsp", "ocsp,crl" into @order
 * (RES_BAD_INPUT otherwise).
 */
int rev_order_parse(const char *s, enum rev_method order[2]);

#endif

/*
 * ocsp.h - the OCSP client (prefix rev_ocsp_): a request for one
 * certificate (CertID with SHA-1, as RFC 6960 responders expect, a nonce),
 * sent by HTTP POST (http.h) to the certificate's AIA responder or a given
 * URL, and the response checked: its signature; the responder authorised
 * (the issuing CA itself, or a delegate certificate issued by that CA with
 * id-kp-OCSPSigning, RFC 6960 4.2.2.2); the nonce echoed; the single
 * response for our CertID; thisUpdate/nextUpdate fresh at the time asked,
 * within a clock-skew allowance.  Transport-free halves too (request bytes
 * out, response bytes in) for tests and for the server.  Part of tools/rev/.
 *
 * Results follow tools/common/result.h.  A response that came back but
 * cannot be trusted is RES_OK with a->status REV_OCSP_UNDETERMINED and
 * a->why said: only "the check could not run at all" is an error code.
 */
#ifndef P11CA_REV_OCSP_H
#define P11CA_REV_OCSP_H

#include <stddef.h>
#include <stdint.h>
#include <openssl/ocsp.h>
#include "http.h"

enum rev_ocsp_status {
	REV_OCSP_GOOD = 1,
	REV_OCSP_REVOKED,      /* reason, time */
	REV_OCSP_UNKNOWN,      /* the responder does not know the certificate */
	REV_OCSP_UNDETERMINED, /* no trustworthy answer: see why */
};

/* Why an answer is undetermined (the verdict prints these). */
enum rev_ocsp_why {
	REV_OCSP_WHY_NONE = 0,
	REV_OCSP_WHY_NO_URL,       /* the certificate names no responder and none was given */
	REV_OCSP_WHY_UNREACHABLE,  /* transport failed (connect, timeout, HTTP error) */
	REV_OCSP_WHY_MALFORMED,    /* not an OCSP response */
	REV_OCSP_WHY_ERROR_STATUS, /* responseStatus not successful (tryLater, unauthorized, ...) */
	REV_OCSP_WHY_BAD_SIGNATURE, /* the signature does not verify */
	REV_OCSP_WHY_UNAUTHORISED,  /* signed by neither the CA nor its OCSP-signing delegate */
	REV_OCSP_WHY_NONCE,         /* nonce missing or not ours */
	REV_OCSP_WHY_NO_ANSWER,     /* no single response for our CertID */
	REV_OCSP_WHY_STALE,         /* nextUpdate passed, or thisUpdate too old / in the future */
};

struct rev_ocsp_opts {
	const char *url;                 /* NULL: the certificate's AIA OCSP URL */
	int no_nonce;                    /* do not send (nor require) a nonce */
	int64_t at;                      /* time of the check, 0: now */
	long skew;                       /* seconds of clock skew allowed (0: 300) */
	long max_age;                    /* a response without nextUpdate older than this is
	                                    stale (0: 7 days) */
	const char *ca_file;             /* HTTPS trust for the responder URL */
	const struct rev_limits *limits; /* NULL: defaults (response <= 1 MiB whatever
	                                    max_download says) */
	int certid_sha256;               /* CertID with SHA-256 instead of SHA-1 (some
	                                    responders only know SHA-1: RFC 5019 2.1.1) */
};

struct rev_ocsp_answer {
	enum rev_ocsp_status status;
	enum rev_ocsp_why why; /* when UNDETERMINED */
	char detail[256];      /* one line: what exactly (the transport's message, ...) */
	int reason;            /* CRLReason when REVOKED, -1 none */
	int64_t revoked_at;
	int64_t produced_at, this_update, next_update; /* next_update 0: none */
	char responder[256]; /* responder ID as text (a name, or "key:<hex>") */
	char url[1024];      /* where it was asked */
	int delegated;       /* signed by a delegated responder, not the CA */
};

/* Asks and checks: the whole client (@libctx may be NULL). */
int rev_ocsp_check(OSSL_LIB_CTX *libctx, X509 *cert, X509 *issuer, const struct rev_ocsp_opts *o,
                   struct rev_ocsp_answer *a);
/* The request for @cert (with a fresh nonce unless o->no_nonce); *preq the caller's. */
int rev_ocsp_request(X509 *cert, X509 *issuer, const struct rev_ocsp_opts *o, OCSP_REQUEST **preq);
/* Checks response bytes against @req (its CertID, its nonce) into @a. */
int rev_ocsp_response_check(OSSL_LIB_CTX *libctx, const unsigned char *der, size_t len,
                            OCSP_REQUEST *req, X509 *cert, X509 *issuer,
                            const struct rev_ocsp_opts *o, struct rev_ocsp_answer *a);
/* The certificate's first AIA OCSP URL (malloc'd), or NULL. */
char *rev_ocsp_url_of(X509 *cert);
const char *rev_ocsp_why_name(enum rev_ocsp_why why);

#endif

/*
 * reply.h - what the request path hands the HTTP layer (tools/serve/):
 * reference-counted byte blobs, so that a pre-signed OCSP response or a CRL
 * is sent without a copy while the core may replace it meanwhile, and one
 * reply struct for every answer.  Part of tools/serve/ (prefix srv_).
 *
 * Thread-safe: a blob's count is atomic; a blob is immutable once made.
 */
#ifndef P11CA_SRV_REPLY_H
#define P11CA_SRV_REPLY_H

#include <stddef.h>
#include <stdint.h>

struct srv_blob;

/* A blob holding a copy of @len bytes of @data, with one reference; NULL when out of memory. */
struct srv_blob *srv_blob_new(const void *data, size_t len);
/* A blob that takes over @data (malloc'ed; freed with the blob); NULL (and @data freed) on ENOMEM.
 */
struct srv_blob *srv_blob_take(void *data, size_t len);
struct srv_blob *srv_blob_ref(struct srv_blob *b); /* one more reference; returns @b */
void srv_blob_unref(struct srv_blob *b);           /* NULL is fine */
const unsigned char *srv_blob_data(const struct srv_blob *b);
size_t srv_blob_len(const struct srv_blob *b);

/* Longest CA name kept in a reply (the CA directory's base name). */
#define SRV_CA_NAME_MAX 64

/*
 * One answer.  The core fills it; the HTTP layer sends it and calls
 * srv_reply_clear().  Headers: Content-Type @type; when @last_modified,
 * Last-Modified; when @etag[0], ETag (the HTTP layer adds the quotes);
 * when @expires > now, Cache-Control "max-age=N, public, no-transform,
 * must-revalidate" with N = min(@expires - now, the --max-age cap) and
 * Expires; else Cache-Control "no-cache".
 */
struct srv_reply {
	int http;              /* 200, 400, 404, 405, 413, 503 ... */
	const char *type;      /* Content-Type (static), NULL: none */
	struct srv_blob *body; /* one reference, the reply's (NULL: empty body) */
	int64_t last_modified; /* seconds since the epoch, 0: none */
	int64_t expires;       /* 0: none (no-cache) */
	char etag[48];         /* without quotes; "" none */
	/*
	 * For the log line and /metrics: what the answer was.  OCSP: "good",
	 * "revoked", "unknown" (one certificate), "multi" (several),
	 * "malformedRequest", "unauthorized", "tryLater", "internalError".
	 * CRL: "crl".  Other: "notFound", "badMethod", "badType" (415: a POST
	 * not of application/ocsp-request), "tooLarge".  Static.
	 */
	const char *result;
	const char *kind;         /* "ocsp", "crl", "health", "metrics", "other" (static) */
	char ca[SRV_CA_NAME_MAX]; /* the CA that answered, "" none */
	int live;                 /* 1: signed for this request (nonce, several, unknown) */
};

/* Drops the body's reference and empties @r. */
void srv_reply_clear(struct srv_reply *r);

#endif

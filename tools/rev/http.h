/*
 * http.h - HTTP(S) GET and POST through libcurl for the revocation library
 * (prefix rev_): CRL downloads from distribution points, OCSP requests.
 * Part of tools/rev/ (see rev.h).
 *
 * Bounded: protocols http and https only (redirects too), response size,
 * whole-transfer and connect time, redirect count.  HTTPS verifies the
 * server's certificate and name against the system store or @ca_file.
 * Results follow tools/common/result.h: RES_NETWORK (unreachable, TLS
 * failure, HTTP status >= 400 is *not* an error here: see @status),
 * RES_LIMIT (a bound hit), RES_BAD_INPUT (a URL that is not http/https).
 * Thread-safe: no process-wide state but curl_global_init, done once.
 */
#ifndef P11CA_REV_HTTP_H
#define P11CA_REV_HTTP_H

#include <stddef.h>
#include <stdint.h>

/* Bounds on everything read from outside (defaults from rev_limits_default). */
struct rev_limits {
	size_t max_download;     /* response body bytes (256 MiB) */
	size_t max_unpacked;     /* bytes out of one archive, all members (1 GiB) */
	unsigned max_ratio;      /* unpacked / packed bytes of an archive (200) */
	unsigned max_members;    /* members of one archive (1000) */
	long timeout_ms;         /* whole transfer (120 s) */
	long connect_timeout_ms; /* connecting (10 s) */
	long max_redirects;      /* (5) */
};
void rev_limits_default(struct rev_limits *l);

struct rev_http_req {
	const char *url;           /* http:// or https:// */
	const char *post_type;     /* NULL: GET; else POST with this Content-Type */
	const unsigned char *post; /* POST body */
	size_t post_len;
	const char *accept;        /* Accept header, NULL none */
	const char *etag;          /* conditional GET: If-None-Match (NULL: none) */
	const char *last_modified; /* conditional GET: If-Modified-Since, HTTP-date text */
	const char *ca_file;       /* HTTPS: PEM bundle to trust instead of the system store */
	const struct rev_limits *limits; /* NULL: defaults */
};

struct rev_http_resp {
	long status;         /* HTTP status: 200, 304 (not modified), 404, ... */
	unsigned char *body; /* malloc'd, NUL-terminated past @len; NULL when empty */
	size_t len;
	char *etag;          /* ETag header value, or NULL */
	char *last_modified; /* Last-Modified header text, or NULL */
	char *content_type;  /* or NULL */
	char *final_url;     /* after redirects */
};

/*
 * Performs @req.  RES_OK whenever an HTTP response came back (whatever its
 * status); *resp is then the caller's (rev_http_resp_clear).  Otherwise
 * *resp is left cleared and the thread's message says what happened
 * ("http://x/y.crl: connection refused").
 */
int rev_http(const struct rev_http_req *req, struct rev_http_resp *resp);
void rev_http_resp_clear(struct rev_http_resp *resp);

#endif

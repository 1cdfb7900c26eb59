/*
 * serve.h - the OCSP responder and CRL distribution point (tools/serve/,
 * prefix srv_), what 'p11ca serve' runs.  One process serves several CAs
 * from their directories, reading each CA's database through db.h (never a
 * copy).  A response for every issued certificate is signed ahead of time
 * (core.c, sign.c) and kept in memory and in D/serve/ (cache.c), so the
 * request path (http.c on libmicrohttpd) never waits for the token; the
 * token signs only when something changed, within a budget.
 *
 *   http.c    the daemon: routes, headers, limits, per-request log, /metrics, /health
 *   core.c    core.h: the CAs, their snapshots of the database, the answers
 *   sign.c    the signer threads: queue, budget, token state, renewals
 *   cache.c   the pre-signed responses: map, D/serve/ocsp.cache, D/serve/crl.der
 *   codec.c   codec.h: requests parsed, GET paths decoded, responses signed
 *   reply.c   reply.h: blobs and replies
 *
 * Results follow tools/common/result.h.  Nothing here prints, exits or
 * reads argv: lines go to the caller's callbacks.  The PIN is not read
 * here: the caller holds it (p11ca_pin_hold) or names a file.
 */
#ifndef P11CA_SRV_SERVE_H
#define P11CA_SRV_SERVE_H

#include <stddef.h>
#include <stdint.h>

enum srv_nonce {
	SRV_NONCE_IGNORE = 0, /* answer from the stored responses, no nonce (RFC 5019) */
	SRV_NONCE_ECHO,       /* a request with a nonce gets a live response echoing it,
	                         within the budget; over budget, the stored one */
};

/* One line of the request log, for the caller to print (text or JSON). */
struct srv_log_rec {
	const char *peer;   /* "127.0.0.1:51234" */
	const char *method; /* "GET", "POST", ... */
	const char *path;   /* the path as it came, cut to 256 bytes */
	const char *kind;   /* srv_reply.kind */
	const char *result; /* srv_reply.result */
	const char *ca;     /* "" none */
	int http;           /* status sent */
	size_t bytes;       /* body bytes sent */
	double ms;          /* from the request line to the reply queued */
	int live;           /* signed for this request */
};

/* An event of the server (token gone or back, CRL made, reload, ...): one line, no PIN. */
enum srv_level { SRV_INFO, SRV_WARN, SRV_ERROR };

struct srv_opts {
	const char *listen;      /* "127.0.0.1:8080", "[::1]:8080"; port 0: any free one */
	const char *const *dirs; /* CA directories, NULL-terminated, at least one */
	const char *module;      /* overrides each ca.conf's module; NULL: theirs */
	const char *pin_file;    /* NULL: the held PIN, the URI's pin-source, P11CA_PIN */
	enum srv_nonce nonce;
	unsigned threads;       /* HTTP threads (0: the number of cores) */
	double sign_rate;       /* signatures per second at most, all CAs (default 200) */
	unsigned sign_sessions; /* signatures at once (default 2) */
	long validity;          /* seconds a pre-signed response is valid (default 86400) */
	long max_age;           /* Cache-Control max-age cap, seconds (default 3600) */
	size_t max_request;     /* largest request body/path (default 16384) */
	unsigned conn_timeout;  /* seconds a connection may idle or dawdle (default 10) */
	unsigned max_conns;     /* connections at once (default 1024) */
	long poll_ms;           /* database poll period (default 250) */
	/*
	 * optional: one request line each, from the HTTP threads, possibly at
	 * once (the callback writes its line with one write(2), no lock)
	 */
	void (*log)(void *arg, const struct srv_log_rec *rec);
	void *log_arg;
	/* optional: events, from any thread (never two at once) */
	void (*event)(void *arg, enum srv_level level, const char *line);
	void *event_arg;
};
/* @o with every default filled in (listen and dirs NULL). */
void srv_opts_default(struct srv_opts *o);

struct srv;
/*
 * Opens the CAs (keys through the p11ca provider: the PIN is needed now
 * unless every CA's stored responses are loaded and the token is away:
 * then it starts degraded and logs in when the token comes back), loads
 * the stored responses and CRLs, starts the signer threads and the
 * listener.  When it returns RES_OK the port answers (srv_port() says
 * which).  *ps is the caller's (srv_free).
 */
int srv_start(const struct srv_opts *o, struct srv **ps);
/* The port listened on (the one chosen when the option said 0). */
unsigned srv_port(const struct srv *s);
/*
 * SIGHUP: re-reads every CA directory of the options (ca.conf, the CA and
 * responder certificates, the database location) and swaps the new set in
 * without closing connections; a CA that fails to load keeps its old state
 * (RES_* with the message naming it).
 */
int srv_reload(struct srv *s);
/* /metrics text (Prometheus exposition format), malloc'ed. */
int srv_metrics_text(struct srv *s, char **ptext, size_t *plen);
/* Stops listening, finishes the requests under way, stores what was signed, frees. */
void srv_free(struct srv *s);

#endif

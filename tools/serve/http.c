/*
 * http.c - the HTTP side of 'p11ca serve' on libmicrohttpd: a thread pool
 * on epoll; routes (POST OCSP at any path, GET/HEAD /metrics and /health
 * here, other GETs to the core with the raw path); limits (request body
 * and path size, idle time, connections); replies sent from the core's
 * blobs without a copy, with their cache headers and If-None-Match; one
 * log record and the counters of /metrics per request.
 *
 * State per TCP connection (struct conn, made when it is accepted, reused
 * by its keep-alive requests): no allocation per request on the hot path
 * but MHD's response object.  The counters are a fixed table of atomics.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "core.h"
#include "metrics.h"
#include "reply.h"
#include "result.h"
#include "serve.h"

/* ------------------------------------------------------------------ */
/* The server                                                          */
/* ------------------------------------------------------------------ */

struct srv {
	struct srv_opts o; /* the caller's, with event wrapped (one at a time) */
	void (*user_event)(void *arg, enum srv_level level, const char *line);
	void *user_event_arg;
	pthread_mutex_t event_lock;
	atomic_int starting; /* MHD's messages kept for srv_start's error */
	char start_err[256]; /* under event_lock */
	atomic_long log_second;
	atomic_uint log_count;

	struct srv_core *core;
	struct MHD_Daemon *d;
	unsigned port;
	struct MHD_Response *r_bad_method, *r_too_large, *r_uri_too_long;
	struct srv_counters n;
};

/* One TCP connection: its peer, the request under way, the POST body. */
enum { CONN_IDLE, CONN_NEW, CONN_STARTED };
struct conn {
	int state;
	struct timespec t0;
	unsigned char *body;
	size_t body_len, body_cap;
	char peer[INET6_ADDRSTRLEN + 8];
};

enum method { M_GET, M_HEAD, M_POST, M_OTHER };

static void event_locked(void *arg, enum srv_level level, const char *line)
{
	struct srv *s = arg;

	if (s->user_event == NULL)
		return;
	pthread_mutex_lock(&s->event_lock);
	s->user_event(s->user_event_arg, level, line);
	pthread_mutex_unlock(&s->event_lock);
}

/* MHD's own messages: events, at most 20 a second (a flood of clients going away). */
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	struct srv *s = cls;
	char line[512];
	size_t n;
	long now = (long)time(NULL);

	vsnprintf(line, sizeof(line), fmt, ap);
	n = strlen(line);
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	if (s->starting) {
		pthread_mutex_lock(&s->event_lock);
		snprintf(s->start_err, sizeof(s->start_err), "%s", line);
		pthread_mutex_unlock(&s->event_lock);
		return;
	}
	if (atomic_exchange(&s->log_second, now) != now)
		atomic_store(&s->log_count, 0);
	if (atomic_fetch_add(&s->log_count, 1) >= 20)
		return;
	if (s->user_event != NULL) {
		char msg[540];

		snprintf(msg, sizeof(msg), "http: %s", line);
		event_locked(s, SRV_WARN, msg);
	}
}

static double elapsed_ms(const struct timespec *t0, uint64_t *pns)
{
	struct timespec t1;
	int64_t ns;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	ns = (int64_t)(t1.tv_sec - t0->tv_sec) * 1000000000 + (t1.tv_nsec - t0->tv_nsec);
	if (ns < 0)
		ns = 0;
	*pns = (uint64_t)ns;
	return (double)ns / 1e6;
}

/* The counters and the log record of one answer. */
static void done(struct srv *s, struct conn *cn, const char *method, const char *url, int http,
                 const char *kind, const char *result, const char *ca, size_t bytes, int live)
{
	uint64_t ns;
	double ms = elapsed_ms(&cn->t0, &ns);

	srv_counters_add(&s->n, kind, result, ns);
	if (s->o.log != NULL) {
		char path[257];
		size_t len = strlen(url);
		struct srv_log_rec rec = {
			.peer = cn->peer,
			.method = method,
			.path = url,
			.kind = kind != NULL ? kind : "other",
			.result = result != NULL ? result : "other",
			.ca = ca != NULL ? ca : "",
			.http = http,
			.bytes = bytes,
			.ms = ms,
			.live = live,
		};

		if (len > 256) {
			memcpy(path, url, 256);
			path[256] = '\0';
			rec.path = path;
		}
		s->o.log(s->o.log_arg, &rec);
	}
}

/* ------------------------------------------------------------------ */
/* Headers                                                             */
/* ------------------------------------------------------------------ */

/* IMF-fixdate (RFC 9110 5.6.7), locale-independent. */
static void imf_date(int64_t t, char out[40])
{
	static const char days[7][4] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char months[12][4] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
		                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL) {
		snprintf(out, 40, "Thu, 01 Jan 1970 00:00:00 GMT");
		return;
	}
	snprintf(out, 40, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday % 7], tm.tm_mday,
	         months[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* Whether the If-None-Match list @inm names @etag (weak comparison, RFC 9110 13.1.2). */
static int etag_matches(const char *inm, const char *etag)
{
	size_t n = strlen(etag);
	const char *p = inm;

	while (*p != '\0') {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (*p == '\0')
			break;
		if (*p == '*')
			return 1;
		if (p[0] == 'W' && p[1] == '/')
			p += 2;
		if (*p == '"') {
			const char *q = strchr(p + 1, '"');

			if (q == NULL)
				return 0;
			if ((size_t)(q - p - 1) == n && memcmp(p + 1, etag, n) == 0)
				return 1;
			p = q + 1;
		} else if ((p = strchr(p, ',')) == NULL) {
			return 0;
		}
	}
	return 0;
}

/* The reply's headers on @resp (reply.h); 0 when out of memory. */
static int add_headers(const struct srv *s, struct MHD_Response *resp, const struct srv_reply *r)
{
	char buf[64], date[40];
	int64_t now = (int64_t)time(NULL);

	if (r->type != NULL &&
	    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, r->type) != MHD_YES)
		return 0;
	if (r->etag[0] != '\0') {
		snprintf(buf, sizeof(buf), "\"%.46s\"", r->etag);
		if (MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, buf) != MHD_YES)
			return 0;
	}
	if (r->last_modified > 0) {
		imf_date(r->last_modified, date);
		if (MHD_add_response_header(resp, MHD_HTTP_HEADER_LAST_MODIFIED, date) != MHD_YES)
			return 0;
	}
	if (r->expires > now) {
		int64_t age = r->expires - now;

		if (age > s->o.max_age)
			age = s->o.max_age;
		snprintf(buf, sizeof(buf), "max-age=%lld, public, no-transform, must-revalidate",
		         (long long)age);
		imf_date(now + age, date);
		if (MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, buf) != MHD_YES ||
		    MHD_add_response_header(resp, MHD_HTTP_HEADER_EXPIRES, date) != MHD_YES)
			return 0;
	} else if (MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache") !=
	           MHD_YES) {
		return 0;
	}
	return 1;
}

static void blob_free(void *cls)
{
	srv_blob_unref(cls);
}

/*
 * Sends @r (cleared afterwards): its body without a copy, 304 for a GET
 * whose If-None-Match names its ETag; HEAD gets the headers only (MHD
 * leaves the body out).
 */
static enum MHD_Result send_reply(struct srv *s, struct conn *cn, struct MHD_Connection *mc,
                                  const char *method, enum method m, const char *url,
                                  struct srv_reply *r)
{
	struct MHD_Response *resp = NULL;
	size_t len = srv_blob_len(r->body);
	int http = r->http > 0 ? r->http : 500;
	const char *inm;
	enum MHD_Result ret = MHD_NO;

	if (m != M_POST && http == MHD_HTTP_OK && r->etag[0] != '\0' &&
	    (inm = MHD_lookup_connection_value(mc, MHD_HEADER_KIND,
	                                       MHD_HTTP_HEADER_IF_NONE_MATCH)) != NULL &&
	    etag_matches(inm, r->etag)) {
		http = MHD_HTTP_NOT_MODIFIED;
		len = 0;
	}
	if (len == 0) {
		resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
	} else {
		resp = MHD_create_response_from_buffer_with_free_callback_cls(
		    len, (void *)srv_blob_data(r->body), blob_free, r->body);
		if (resp != NULL)
			r->body = NULL; /* transferred: MHD drops the reference */
	}
	if (resp == NULL || !add_headers(s, resp, r))
		goto out;
	ret = MHD_queue_response(mc, (unsigned)http, resp);
	done(s, cn, method, url, http, r->kind, r->result, r->ca, m == M_HEAD ? 0 : len, r->live);
out:
	if (resp != NULL)
		MHD_destroy_response(resp);
	srv_reply_clear(r);
	return ret;
}

/* One of the fixed answers made at start (404, 405, 413, 414). */
static enum MHD_Result send_fixed(struct srv *s, struct conn *cn, struct MHD_Connection *mc,
                                  const char *method, const char *url, int http,
                                  struct MHD_Response *resp, const char *result)
{
	enum MHD_Result ret = MHD_queue_response(mc, (unsigned)http, resp);

	done(s, cn, method, url, http, "other", result, "", 0, 0);
	return ret;
}

static struct MHD_Response *fixed_response(const char *allow)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);

	if (r == NULL)
		return NULL;
	if (MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache") != MHD_YES ||
	    (allow != NULL &&
	     MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow) != MHD_YES)) {
		MHD_destroy_response(r);
		return NULL;
	}
	return r;
}

/* ------------------------------------------------------------------ */
/* Requests                                                            */
/* ------------------------------------------------------------------ */

static enum method method_of(const char *m)
{
	if (strcmp(m, MHD_HTTP_METHOD_GET) == 0)
		return M_GET;
	if (strcmp(m, MHD_HTTP_METHOD_HEAD) == 0)
		return M_HEAD;
	if (strcmp(m, MHD_HTTP_METHOD_POST) == 0)
		return M_POST;
	return M_OTHER;
}

/* GET or HEAD of @url (the raw path, no query). */
static enum MHD_Result answer_get(struct srv *s, struct conn *cn, struct MHD_Connection *mc,
                                  const char *method, enum method m, const char *url)
{
	struct srv_reply r = { 0 };
	int rc;

	if (strcmp(url, "/metrics") == 0) {
		char *text = NULL;
		size_t len = 0;

		if (srv_metrics_text(s, &text, &len) != RES_OK) {
			r.http = 500;
			r.result = "internalError";
		} else if ((r.body = srv_blob_take(text, len)) == NULL) {
			r.http = 500;
			r.result = "internalError";
		} else {
			r.http = 200;
			r.result = "ok";
			r.type = "text/plain; version=0.0.4; charset=utf-8";
		}
		r.kind = "metrics";
		return send_reply(s, cn, mc, method, m, url, &r);
	}
	if (strcmp(url, "/health") == 0)
		rc = srv_core_health(s->core, &r);
	else
		rc = srv_core_get(s->core, url, strlen(url), &r);
	if (rc != RES_OK) {
		srv_reply_clear(&r);
		r.http = 500;
		r.kind = strcmp(url, "/health") == 0 ? "health" : "other";
		r.result = "internalError";
	}
	return send_reply(s, cn, mc, method, m, url, &r);
}

static enum MHD_Result answer_post(struct srv *s, struct conn *cn, struct MHD_Connection *mc,
                                   const char *method, const char *url)
{
	struct srv_reply r = { 0 };

	if (srv_core_ocsp(s->core, cn->body, cn->body_len, 0, &r) != RES_OK) {
		srv_reply_clear(&r);
		r.http = 500;
		r.kind = "ocsp";
		r.result = "internalError";
	}
	return send_reply(s, cn, mc, method, M_POST, url, &r);
}

/* Appends a piece of a POST body; 0 when the whole would pass max_request. */
static int body_add(const struct srv *s, struct conn *cn, const char *p, size_t n)
{
	if (n > s->o.max_request - cn->body_len)
		return 0;
	if (cn->body_len + n > cn->body_cap) {
		size_t cap = cn->body_cap ? cn->body_cap : 2048;
		unsigned char *nb;

		while (cap < cn->body_len + n)
			cap *= 2;
		if (cap > s->o.max_request)
			cap = s->o.max_request;
		if ((nb = realloc(cn->body, cap)) == NULL)
			return 0;
		cn->body = nb;
		cn->body_cap = cap;
	}
	memcpy(cn->body + cn->body_len, p, n);
	cn->body_len += n;
	return 1;
}

/*
 * MHD calls this at least twice a request: once the headers are in (an
 * answer queued then closes the connection: kept for refusals), with each
 * piece of the body, and once the request is whole (answers go there, so
 * that the connection stays open for the next request).
 */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *mc, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
	struct srv *s = cls;
	struct conn *cn = *con_cls;
	enum method m = method_of(method);

	(void)version;
	if (cn == NULL)
		return MHD_NO; /* no memory for the connection's state */
	if (cn->state == CONN_NEW) {
		const char *cl;

		cn->state = CONN_STARTED;
		cn->body_len = 0;
		if (m == M_OTHER)
			return send_fixed(s, cn, mc, method, url, MHD_HTTP_METHOD_NOT_ALLOWED,
			                  s->r_bad_method, "badMethod");
		if (strlen(url) > s->o.max_request)
			return send_fixed(s, cn, mc, method, url, MHD_HTTP_URI_TOO_LONG,
			                  s->r_uri_too_long, "tooLarge");
		cl = MHD_lookup_connection_value(mc, MHD_HEADER_KIND,
		                                 MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (cl != NULL) {
			char *end;
			unsigned long long v;

			errno = 0;
			v = strtoull(cl, &end, 10);
			if (errno != 0 || v > s->o.max_request) /* not read: answered at once */
				return send_fixed(s, cn, mc, method, url,
				                  MHD_HTTP_CONTENT_TOO_LARGE, s->r_too_large,
				                  "tooLarge");
		}
		return MHD_YES; /* the body (if any), then the answer */
	}
	if (*upload_size > 0) {
		if (!body_add(s, cn, upload, *upload_size)) {
			/*
			 * A chunked body over the cap: nothing can be queued while
			 * a body comes in (MHD), so the connection is closed, not
			 * read to its end.
			 */
			done(s, cn, method, url, 0, "other", "tooLarge", "", 0, 0);
			return MHD_NO;
		}
		*upload_size = 0;
		return MHD_YES;
	}
	if (m == M_POST)
		return answer_post(s, cn, mc, method, url);
	return answer_get(s, cn, mc, method, m, url);
}

/* The request line is in: the request's clock starts; its state is the connection's. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *mc)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(mc, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	struct conn *cn = ci != NULL ? ci->socket_context : NULL;

	(void)cls;
	(void)uri;
	if (cn == NULL)
		return NULL;
	clock_gettime(CLOCK_MONOTONIC, &cn->t0);
	cn->state = CONN_NEW;
	return cn;
}

static void on_completed(void *cls, struct MHD_Connection *mc, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
	struct conn *cn = *con_cls;

	(void)cls;
	(void)mc;
	(void)toe;
	if (cn != NULL) {
		cn->state = CONN_IDLE;
		cn->body_len = 0;
	}
}

static void on_connection(void *cls, struct MHD_Connection *mc, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
	struct conn *cn = *socket_context;

	(void)cls;
	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *ci;

		if ((cn = calloc(1, sizeof(*cn))) == NULL)
			return;
		ci = MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
		if (ci != NULL && ci->client_addr != NULL) {
			char a[INET6_ADDRSTRLEN] = "?";

			if (ci->client_addr->sa_family == AF_INET6) {
				const struct sockaddr_in6 *in6 = (const void *)ci->client_addr;

				inet_ntop(AF_INET6, &in6->sin6_addr, a, sizeof(a));
				snprintf(cn->peer, sizeof(cn->peer), "[%s]:%u", a,
				         ntohs(in6->sin6_port));
			} else if (ci->client_addr->sa_family == AF_INET) {
				const struct sockaddr_in *in4 = (const void *)ci->client_addr;

				inet_ntop(AF_INET, &in4->sin_addr, a, sizeof(a));
				snprintf(cn->peer, sizeof(cn->peer), "%s:%u", a,
				         ntohs(in4->sin_port));
			}
		}
		if (cn->peer[0] == '\0')
			snprintf(cn->peer, sizeof(cn->peer), "-");
		*socket_context = cn;
	} else if (cn != NULL) {
		free(cn->body);
		free(cn);
		*socket_context = NULL;
	}
}

/* The raw path reaches the core: base64 with '+', "%2F" and "//" untouched. */
static size_t unescape_none(void *cls, struct MHD_Connection *mc, char *str)
{
	(void)cls;
	(void)mc;
	return strlen(str);
}

/* ------------------------------------------------------------------ */
/* Start, reload, stop                                                 */
/* ------------------------------------------------------------------ */

void srv_opts_default(struct srv_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->nonce = SRV_NONCE_IGNORE;
	o->sign_rate = 200;
	o->sign_sessions = 2;
	o->validity = 86400;
	o->max_age = 3600;
	o->max_request = 16384;
	o->conn_timeout = 10;
	o->max_conns = 1024;
	o->poll_ms = 250;
}

/* "A.B.C.D:PORT" or "[V6]:PORT" (port 0: any) into @ss. */
static int parse_listen(const char *listen, struct sockaddr_storage *ss, int *v6)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *colon, *port, *h = listen;
	size_t hl;
	char *end;
	unsigned long p;

	memset(ss, 0, sizeof(*ss));
	if (listen == NULL || listen[0] == '\0')
		return res_set(RES_BAD_INPUT, "--listen needs ADDRESS:PORT");
	if (listen[0] == '[') {
		const char *close = strchr(listen, ']');

		if (close == NULL || close[1] != ':')
			return res_set(RES_BAD_INPUT, "--listen '%s': [IPv6]:PORT expected",
			               listen);
		h = listen + 1;
		hl = (size_t)(close - h);
		port = close + 2;
		*v6 = 1;
	} else {
		if ((colon = strrchr(listen, ':')) == NULL)
			return res_set(RES_BAD_INPUT, "--listen '%s': no port (ADDRESS:PORT)",
			               listen);
		hl = (size_t)(colon - listen);
		port = colon + 1;
		*v6 = 0;
	}
	if (hl == 0 || hl >= sizeof(host))
		return res_set(RES_BAD_INPUT, "--listen '%s': an IP address expected", listen);
	memcpy(host, h, hl);
	host[hl] = '\0';
	errno = 0;
	p = strtoul(port, &end, 10);
	if (port[0] < '0' || port[0] > '9' || *end != '\0' || errno != 0 || p > 65535)
		return res_set(RES_BAD_INPUT, "--listen '%s': the port must be 0 to 65535", listen);
	if (*v6) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)p);
		if (inet_pton(AF_INET6, host, &in6->sin6_addr) != 1)
			return res_set(RES_BAD_INPUT, "--listen '%s': '%s' is not an IPv6 address",
			               listen, host);
	} else {
		struct sockaddr_in *in4 = (struct sockaddr_in *)ss;

		in4->sin_family = AF_INET;
		in4->sin_port = htons((uint16_t)p);
		if (inet_pton(AF_INET, host, &in4->sin_addr) != 1)
			return res_set(RES_BAD_INPUT,
			               "--listen '%s': '%s' is not an IPv4 address (names are not "
			               "resolved; [IPv6]:PORT for IPv6)",
			               listen, host);
	}
	return RES_OK;
}

int srv_start(const struct srv_opts *o, struct srv **ps)
{
	struct sockaddr_storage ss;
	struct srv *s = NULL;
	const union MHD_DaemonInfo *di;
	unsigned threads, per_ip;
	size_t mem;
	int v6 = 0, rc;

	*ps = NULL;
	if (o->dirs == NULL || o->dirs[0] == NULL)
		return res_set(RES_BAD_INPUT, "serve needs at least one CA directory");
	if (o->max_request < 64 || o->max_conns == 0 || o->conn_timeout == 0 || o->max_age < 0)
		return res_set(RES_BAD_INPUT, "serve: a limit out of range");
	if ((rc = parse_listen(o->listen, &ss, &v6)) != RES_OK)
		return rc;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return res_set(RES_NOMEM, "out of memory");
	pthread_mutex_init(&s->event_lock, NULL);
	s->o = *o;
	s->user_event = o->event;
	s->user_event_arg = o->event_arg;
	s->o.event = event_locked;
	s->o.event_arg = s;
	if ((rc = srv_core_new(&s->o, &s->core)) != RES_OK)
		goto out;
	s->r_bad_method = fixed_response("GET, HEAD, POST");
	s->r_too_large = fixed_response(NULL);
	s->r_uri_too_long = fixed_response(NULL);
	if (s->r_bad_method == NULL || s->r_too_large == NULL || s->r_uri_too_long == NULL) {
		rc = res_set(RES_NOMEM, "out of memory");
		goto out;
	}
	threads = o->threads;
	if (threads == 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);

		threads = n > 0 ? (unsigned)n : 1;
	}
	if (threads > o->max_conns)
		threads = o->max_conns;
	/* one address may hold most, not all, of the connections */
	per_ip = o->max_conns >= 512 ? o->max_conns / 2 : o->max_conns;
	/* the request line and headers, and a path up to max_request */
	mem = 32768 + o->max_request;
	s->starting = 1;
	s->d = MHD_start_daemon(
	    MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG | MHD_USE_TURBO |
	        (v6 ? MHD_USE_IPv6 : 0),
	    0, NULL, NULL, on_request, s, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s,
	    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss, MHD_OPTION_THREAD_POOL_SIZE, threads,
	    MHD_OPTION_CONNECTION_TIMEOUT, o->conn_timeout, MHD_OPTION_CONNECTION_LIMIT,
	    o->max_conns, MHD_OPTION_PER_IP_CONNECTION_LIMIT, per_ip,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, mem, MHD_OPTION_LISTEN_BACKLOG_SIZE, o->max_conns,
	    MHD_OPTION_UNESCAPE_CALLBACK, unescape_none, s, MHD_OPTION_URI_LOG_CALLBACK, on_uri, s,
	    MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_NOTIFY_CONNECTION,
	    on_connection, s, MHD_OPTION_END);
	s->starting = 0;
	if (s->d == NULL) {
		rc = res_set(RES_NETWORK, "cannot listen on %s: %s", o->listen,
		             s->start_err[0] != '\0' ? s->start_err
		                                     : "the HTTP daemon did not start");
		goto out;
	}
	di = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
	s->port = di != NULL ? di->port : 0;
	*ps = s;
	s = NULL; /* transferred */
	rc = RES_OK;
out:
	srv_free(s);
	return rc;
}

unsigned srv_port(const struct srv *s)
{
	return s != NULL ? s->port : 0;
}

int srv_reload(struct srv *s)
{
	return srv_core_reload(s->core);
}

int srv_metrics_text(struct srv *s, char **ptext, size_t *plen)
{
	char *buf = NULL;
	size_t len = 0, cap = 0;
	int rc;

	*ptext = NULL;
	*plen = 0;
	if ((rc = srv_counters_text(&s->n, &buf, &len, &cap)) != RES_OK ||
	    (rc = srv_core_metrics(s->core, &buf, &len, &cap)) != RES_OK) {
		free(buf);
		return rc;
	}
	*ptext = buf;
	*plen = len;
	return RES_OK;
}

void srv_free(struct srv *s)
{
	if (s == NULL)
		return;
	if (s->d != NULL)
		MHD_stop_daemon(s->d); /* the handlers under way return first */
	if (s->core != NULL)
		srv_core_free(s->core);
	if (s->r_bad_method != NULL)
		MHD_destroy_response(s->r_bad_method);
	if (s->r_too_large != NULL)
		MHD_destroy_response(s->r_too_large);
	if (s->r_uri_too_long != NULL)
		MHD_destroy_response(s->r_uri_too_long);
	pthread_mutex_destroy(&s->event_lock);
	free(s);
}

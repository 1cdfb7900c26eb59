/*
 * serve-stub.c - the HTTP layer of 'p11ca serve' (tools/serve/http.c,
 * reply.c) over a stand-in core with fixed answers, so that
 * tests/serve-http.sh checks routing, limits, headers, the log and /metrics
 * without a token:
 *   GET /crl/stub.crl   200 application/pkix-crl "STUB-CRL", ETag "stub-etag",
 *                       cacheable for 2 hours (kind crl, result crl, ca stub)
 *   GET /ocsp/...       200 text/plain: the raw path as the core got it
 *                       (kind ocsp, result good)
 *   POST (any path)     200 application/ocsp-response: the body, echoed
 *                       (result good; "live" when the body starts with "L")
 *   /health             {"status":"ok"}
 *   other GETs          404
 * usage: serve-stub LISTEN READY-FILE [MAX-REQUEST [TIMEOUT]]; SIGHUP
 * reloads (an event line), SIGTERM stops (exit 0).  Request lines go to
 * stderr as "PEER METHOD PATH HTTP KIND RESULT CA BYTES".
 */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core.h"
#include "reply.h"
#include "result.h"
#include "serve.h"

struct srv_core {
	const struct srv_opts *o;
	struct srv_blob *crl;
	int reloads;
};

int srv_core_new(const struct srv_opts *o, struct srv_core **pc)
{
	struct srv_core *c = calloc(1, sizeof(*c));

	if (c == NULL || (c->crl = srv_blob_new("STUB-CRL", 8)) == NULL) {
		free(c);
		return res_set(RES_NOMEM, "out of memory");
	}
	c->o = o;
	*pc = c;
	return RES_OK;
}

int srv_core_reload(struct srv_core *c)
{
	c->reloads++;
	if (c->o->event != NULL)
		c->o->event(c->o->event_arg, SRV_INFO, "stub reloaded");
	return RES_OK;
}

void srv_core_free(struct srv_core *c)
{
	if (c == NULL)
		return;
	srv_blob_unref(c->crl);
	free(c);
}

int srv_core_ocsp(struct srv_core *c, const unsigned char *req, size_t len, int get,
                  struct srv_reply *out)
{
	(void)c;
	(void)get;
	memset(out, 0, sizeof(*out));
	out->http = 200;
	out->type = "application/ocsp-response";
	out->body = len > 0 ? srv_blob_new(req, len) : NULL;
	out->kind = "ocsp";
	out->result = "good";
	out->live = len > 0 && req[0] == 'L';
	snprintf(out->ca, sizeof(out->ca), "stub");
	return RES_OK;
}

int srv_core_get(struct srv_core *c, const char *path, size_t len, struct srv_reply *out)
{
	memset(out, 0, sizeof(*out));
	if (strcmp(path, "/crl/stub.crl") == 0) {
		out->http = 200;
		out->type = "application/pkix-crl";
		out->body = srv_blob_ref(c->crl);
		out->last_modified = 1700000000;
		out->expires = (int64_t)time(NULL) + 7200;
		snprintf(out->etag, sizeof(out->etag), "stub-etag");
		out->kind = "crl";
		out->result = "crl";
		snprintf(out->ca, sizeof(out->ca), "stub");
	} else if (strncmp(path, "/ocsp/", 6) == 0) {
		out->http = 200;
		out->type = "text/plain";
		out->body = srv_blob_new(path, len);
		out->kind = "ocsp";
		out->result = "good";
	} else {
		out->http = 404;
		out->kind = "other";
		out->result = "notFound";
	}
	return RES_OK;
}

int srv_core_health(struct srv_core *c, struct srv_reply *out)
{
	(void)c;
	memset(out, 0, sizeof(*out));
	out->http = 200;
	out->type = "application/json";
	out->body = srv_blob_new("{\"status\":\"ok\"}\n", 16);
	out->kind = "health";
	out->result = "ok";
	return RES_OK;
}

int srv_core_metrics(struct srv_core *c, char **pbuf, size_t *plen, size_t *pcap)
{
	char line[64];
	int n = snprintf(line, sizeof(line), "p11ca_stub_reloads %d\n", c->reloads);

	if (*plen + (size_t)n + 1 > *pcap) {
		char *nb = realloc(*pbuf, *plen + (size_t)n + 1);

		if (nb == NULL)
			return res_set(RES_NOMEM, "out of memory");
		*pbuf = nb;
		*pcap = *plen + (size_t)n + 1;
	}
	memcpy(*pbuf + *plen, line, (size_t)n + 1);
	*plen += (size_t)n;
	return RES_OK;
}

static void log_line(void *arg, const struct srv_log_rec *r)
{
	char line[1024];
	int n;

	(void)arg;
	n = snprintf(line, sizeof(line), "%s %s %s %d %s %s %s %zu%s\n", r->peer, r->method,
	             r->path, r->http, r->kind, r->result, r->ca[0] ? r->ca : "-", r->bytes,
	             r->live ? " live" : "");
	if (n > 0 && write(2, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1) < 0)
		return;
}

static void event(void *arg, enum srv_level level, const char *text)
{
	(void)arg;
	fprintf(stderr, "serve-stub: %d: %s\n", (int)level, text);
}

int main(int argc, char **argv)
{
	static const char *const dirs[] = { "stub", NULL };
	struct srv_opts o;
	struct srv *s = NULL;
	sigset_t set;
	FILE *f;
	char tmp[4096];
	int sig;

	if (argc < 3) {
		fprintf(stderr, "usage: serve-stub LISTEN READY-FILE [MAX-REQUEST [TIMEOUT]]\n");
		return 2;
	}
	srv_opts_default(&o);
	o.listen = argv[1];
	o.dirs = dirs;
	o.threads = 2;
	if (argc > 3)
		o.max_request = (size_t)atol(argv[3]);
	if (argc > 4)
		o.conn_timeout = (unsigned)atoi(argv[4]);
	o.log = log_line;
	o.event = event;
	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	if (srv_start(&o, &s) != RES_OK) {
		fprintf(stderr, "serve-stub: %s\n", res_message());
		return 1;
	}
	snprintf(tmp, sizeof(tmp), "%s.tmp", argv[2]);
	if ((f = fopen(tmp, "w")) == NULL || fprintf(f, "%u\n", srv_port(s)) < 0 ||
	    fclose(f) != 0 || rename(tmp, argv[2]) != 0) {
		fprintf(stderr, "serve-stub: cannot write %s\n", argv[2]);
		srv_free(s);
		return 1;
	}
	while (sigwait(&set, &sig) == 0 || 1) {
		if (sig == SIGHUP)
			srv_reload(s);
		else if (sig == SIGTERM || sig == SIGINT)
			break;
	}
	srv_free(s);
	return 0;
}

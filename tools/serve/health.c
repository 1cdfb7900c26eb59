/*
 * health.c - what the core says about itself (core.h): /health as JSON
 * and the core's lines of /metrics (Prometheus text), from one pass over
 * each CA's map under its read lock.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "result.h"
#include "serve-int.h"

struct ca_state {
	char name[SRV_CA_NAME_MAX * 2];
	size_t wanted, responses, stale, queued;
	int64_t oldest; /* thisUpdate of the oldest valid response, 0 none */
	int64_t crl_number, crl_this, crl_next;
	int has_crl, token_ok, pin_locked;
	unsigned long sigs, fails;
	char msg[512];
};

/* @s escaped for a JSON string or a Prometheus label value into @out. */
static void esc(const char *s, char *out, size_t cap)
{
	size_t o = 0;

	for (; *s != '\0' && o + 7 < cap; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '"' || ch == '\\') {
			out[o++] = '\\';
			out[o++] = (char)ch;
		} else if (ch == '\n') {
			out[o++] = '\\';
			out[o++] = 'n';
		} else if (ch < 0x20) {
			o += (size_t)snprintf(out + o, cap - o, "\\u%04x", ch);
		} else {
			out[o++] = (char)ch;
		}
	}
	out[o] = '\0';
}

static void state_of(struct srv_ca *ca, struct ca_state *st)
{
	int64_t now = (int64_t)time(NULL);
	const struct srv_snap *s;
	size_t i;
	int alg;

	memset(st, 0, sizeof(*st));
	esc(ca->name, st->name, sizeof(st->name));
	pthread_rwlock_rdlock(&ca->lock);
	s = ca->snap;
	for (i = 0; s != NULL && i < s->n; i++) {
		const struct srv_rec *rec = &s->v[i];
		if (rec->not_after < now)
			continue;
		for (alg = 0; alg < SRV_NALG; alg++) {
			struct srv_key k;
			struct srv_entry *e;
			srv_key_of_rec(&k, rec, alg);
			st->wanted++;
			if ((e = srv_map_find(&ca->map, &k)) == NULL || e->resp == NULL)
				continue;
			if (srv_resp_fits(e->resp, rec, now)) {
				st->responses++;
				if (st->oldest == 0 || e->resp->this_update < st->oldest)
					st->oldest = e->resp->this_update;
			} else {
				st->stale++;
			}
		}
	}
	if (ca->crl != NULL) {
		st->has_crl = 1;
		st->crl_number = ca->crl->number;
		st->crl_this = ca->crl->this_update;
		st->crl_next = ca->crl->next_update;
	}
	pthread_rwlock_unlock(&ca->lock);
	pthread_mutex_lock(&ca->core->qmu);
	st->queued = ca->nqueued;
	st->token_ok = ca->token_ok;
	st->pin_locked = ca->pin_locked;
	esc(ca->token_msg, st->msg, sizeof(st->msg));
	pthread_mutex_unlock(&ca->core->qmu);
	st->sigs = atomic_load(&ca->sigs);
	st->fails = atomic_load(&ca->sig_fails);
}

/* A snapshot of every CA's state (free()). */
static struct ca_state *states(struct srv_core *c, size_t *pn)
{
	struct srv_ca **v;
	struct ca_state *st;
	size_t i, n;

	pthread_rwlock_rdlock(&c->lock);
	n = c->ncas;
	v = calloc(n + 1, sizeof(*v));
	for (i = 0; v != NULL && i < n; i++)
		v[i] = srv_ca_ref(c->cas[i]);
	pthread_rwlock_unlock(&c->lock);
	if (v == NULL || (st = calloc(n + 1, sizeof(*st))) == NULL) {
		for (i = 0; v != NULL && i < n; i++)
			srv_ca_unref(v[i]);
		free(v);
		*pn = 0;
		return NULL;
	}
	for (i = 0; i < n; i++) {
		state_of(v[i], &st[i]);
		srv_ca_unref(v[i]);
	}
	free(v);
	*pn = n;
	return st;
}

struct out {
	char **p;
	size_t *len, *cap;
	int oom;
};

static void addf(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void addf(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (o->oom)
		return;
	for (;;) {
		size_t room = *o->cap - *o->len;
		va_start(ap, fmt);
		n = vsnprintf(*o->p != NULL ? *o->p + *o->len : NULL, *o->p != NULL ? room : 0, fmt,
		              ap);
		va_end(ap);
		if (n < 0) {
			o->oom = 1;
			return;
		}
		if (*o->p != NULL && (size_t)n < room) {
			*o->len += (size_t)n;
			return;
		}
		{
			size_t cap = *o->cap ? *o->cap : 4096;
			char *np;
			while (cap < *o->len + (size_t)n + 1)
				cap *= 2;
			if ((np = realloc(*o->p, cap)) == NULL) {
				o->oom = 1;
				return;
			}
			*o->p = np;
			*o->cap = cap;
		}
	}
}

int srv_core_health(struct srv_core *c, struct srv_reply *out)
{
	int64_t now = (int64_t)time(NULL);
	struct ca_state *st;
	const char *status = "ok", *token = "available";
	char *text = NULL;
	size_t n, i, len = 0, cap = 0;
	struct out o = { &text, &len, &cap, 0 };
	int failing = 0, degraded = 0;

	memset(out, 0, sizeof(*out));
	out->kind = "health";
	if ((st = states(c, &n)) == NULL && n > 0)
		return res_set(RES_NOMEM, "out of memory");
	for (i = 0; i < n; i++) {
		if ((st[i].wanted > 0 && st[i].responses == 0) || !st[i].has_crl ||
		    st[i].crl_next <= now)
			failing = 1;
		if (!st[i].token_ok || st[i].responses < st[i].wanted)
			degraded = 1;
		if (!st[i].token_ok)
			token = st[i].pin_locked ? "pin-locked" : "unavailable";
	}
	status = failing ? "failing" : degraded ? "degraded" : "ok";
	addf(&o, "{\"status\":\"%s\",\"token\":\"%s\",\"cas\":[", status, token);
	for (i = 0; i < n; i++)
		addf(&o,
		     "%s{\"name\":\"%s\",\"token\":\"%s\",\"certificates\":%zu,"
		     "\"responses\":%zu,\"stale\":%zu,\"queued\":%zu,\"cache_age\":%lld,"
		     "\"crl_number\":%lld,\"crl_this_update\":%lld,\"crl_next_update\":%lld,"
		     "\"signatures\":%lu,\"sign_failures\":%lu,\"message\":\"%s\"}",
		     i ? "," : "", st[i].name,
		     st[i].token_ok     ? "available"
		     : st[i].pin_locked ? "pin-locked"
		                        : "unavailable",
		     st[i].wanted / SRV_NALG, st[i].responses, st[i].stale, st[i].queued,
		     (long long)(st[i].oldest ? now - st[i].oldest : 0),
		     (long long)st[i].crl_number, (long long)st[i].crl_this,
		     (long long)st[i].crl_next, st[i].sigs, st[i].fails, st[i].msg);
	addf(&o, "]}\n");
	free(st);
	if (o.oom) {
		free(text);
		return res_set(RES_NOMEM, "out of memory");
	}
	out->http = failing ? 503 : 200;
	out->type = "application/json";
	out->result = status;
	if ((out->body = srv_blob_take(text, len)) == NULL)
		return res_set(RES_NOMEM, "out of memory");
	return RES_OK;
}

int srv_core_metrics(struct srv_core *c, char **pbuf, size_t *plen, size_t *pcap)
{
	static const struct {
		const char *name, *type, *help;
	} m[] = {
		{ "p11ca_serve_signatures_total", "counter", "Signatures made (responses, CRLs)" },
		{ "p11ca_serve_sign_failures_total", "counter", "Signatures that failed" },
		{ "p11ca_serve_token_available", "gauge", "1 when the CA's token signs" },
		{ "p11ca_serve_responses", "gauge", "Valid pre-signed responses stored" },
		{ "p11ca_serve_responses_stale", "gauge", "Stored responses no longer served" },
		{ "p11ca_serve_cache_age_seconds", "gauge", "Age of the oldest valid thisUpdate" },
		{ "p11ca_serve_crl_number", "gauge", "Number of the CRL served" },
		{ "p11ca_serve_crl_age_seconds", "gauge", "Age of the CRL served" },
	};
	int64_t now = (int64_t)time(NULL);
	struct out o = { pbuf, plen, pcap, 0 };
	struct ca_state *st;
	size_t n, i, j;

	if ((st = states(c, &n)) == NULL && n > 0)
		return res_set(RES_NOMEM, "out of memory");
	for (j = 0; j < sizeof(m) / sizeof(m[0]); j++) {
		addf(&o, "# HELP %s %s.\n# TYPE %s %s\n", m[j].name, m[j].help, m[j].name,
		     m[j].type);
		for (i = 0; i < n; i++) {
			long long v = 0;
			switch (j) {
			case 0: v = (long long)st[i].sigs; break;
			case 1: v = (long long)st[i].fails; break;
			case 2: v = st[i].token_ok; break;
			case 3: v = (long long)st[i].responses; break;
			case 4: v = (long long)st[i].stale; break;
			case 5: v = st[i].oldest ? (long long)(now - st[i].oldest) : 0; break;
			case 6: v = st[i].crl_number; break;
			default: v = st[i].has_crl ? (long long)(now - st[i].crl_this) : 0; break;
			}
			addf(&o, "%s{ca=\"%s\"} %lld\n", m[j].name, st[i].name, v);
		}
	}
	addf(&o,
	     "# HELP p11ca_serve_live_signatures_total Responses signed for a request.\n"
	     "# TYPE p11ca_serve_live_signatures_total counter\n"
	     "p11ca_serve_live_signatures_total %lu\n",
	     atomic_load(&c->live_sigs));
	free(st);
	return o.oom ? res_set(RES_NOMEM, "out of memory") : RES_OK;
}

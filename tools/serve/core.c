/*
 * core.c - the CAs a server answers for (core.h): each opened through ca.h
 * without its key (the keys live in a library context of their own,
 * sign.c), its issuer hashes and paths, its snapshot of the database and
 * the poller that keeps it current (a changed record queued urgent, a new
 * one normal, a changed revoked set asks for a CRL), the sweep that queues
 * responses past half their life, the files stored, and reloads.  The
 * request path is in answer.c, /health and /metrics in health.c.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <openssl/ocsp.h>
#include <openssl/sha.h>

#include "result.h"
#include "serve-int.h"

/* Seconds between sweeps (half-life renewals, CRL age, responder certificate). */
#define SWEEP_SECS 2

static const int md_nids[SRV_NMD] = { NID_sha1, NID_sha256, NID_sha384, NID_sha512 };

void srv_event(struct srv_core *c, enum srv_level level, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	if (c->o->event == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&c->evmu);
	c->o->event(c->o->event_arg, level, line);
	pthread_mutex_unlock(&c->evmu);
}

int64_t srv_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec;
}

void srv_certid_of(const struct srv_ca *ca, const struct srv_key *k, struct srv_certid *id)
{
	int j = k->alg == SRV_ALG_SHA1 ? 0 : 1; /* h[] is in md_nids order */

	memset(id, 0, sizeof(*id));
	id->md_nid = ca->h[j].nid;
	id->hash_len = ca->h[j].len;
	memcpy(id->name_hash, ca->h[j].name, ca->h[j].len);
	memcpy(id->key_hash, ca->h[j].key, ca->h[j].len);
	memcpy(id->serial, k->serial, k->len);
	id->serial_len = k->len;
}

struct srv_ca *srv_ca_ref(struct srv_ca *ca)
{
	if (ca != NULL)
		atomic_fetch_add(&ca->refs, 1);
	return ca;
}

void srv_ca_unref(struct srv_ca *ca)
{
	size_t i;

	if (ca == NULL || atomic_fetch_sub(&ca->refs, 1) != 1)
		return;
	srv_map_free(&ca->map);
	srv_map_free(&ca->unk);
	srv_snap_free(ca->snap);
	srv_keys_unref(ca->keys);
	srv_crl_free(ca->crl);
	ca_close(ca->ca);
	free(ca->ocsp_path);
	for (i = 0; ca->crl_paths != NULL && ca->crl_paths[i] != NULL; i++)
		free(ca->crl_paths[i]);
	free(ca->crl_paths);
	pthread_rwlock_destroy(&ca->lock);
	pthread_mutex_destroy(&ca->dbmu);
	free(ca);
}

/* The path of @url ("/" when it has none), query and fragment cut; NULL on ENOMEM. */
static char *url_path(const char *url)
{
	const char *p = strstr(url, "://"), *end;

	p = p != NULL ? strchr(p + 3, '/') : NULL;
	if (p == NULL)
		return strdup("/");
	end = p + strcspn(p, "?#");
	return strndup(p, (size_t)(end - p));
}

static int ca_paths(struct srv_ca *ca)
{
	const struct ca_conf *cf = &ca->ca->conf;
	size_t n = 0, i;

	ca->ocsp_path = url_path(cf->ocsp_url != NULL ? cf->ocsp_url : "http://x/");
	while (cf->crl_urls != NULL && cf->crl_urls[n] != NULL)
		n++;
	if (ca->ocsp_path == NULL || (ca->crl_paths = calloc(n + 2, sizeof(char *))) == NULL)
		return res_set(RES_NOMEM, "out of memory");
	for (i = 0; i < n; i++)
		if ((ca->crl_paths[i] = url_path(cf->crl_urls[i])) == NULL)
			return res_set(RES_NOMEM, "out of memory");
	if (n == 0) {
		char p[SRV_CA_NAME_MAX + 16];
		snprintf(p, sizeof(p), "/crl/%s.crl", ca->name);
		if ((ca->crl_paths[0] = strdup(p)) == NULL)
			return res_set(RES_NOMEM, "out of memory");
	}
	return RES_OK;
}

/* Entries for every record of @s (both algorithms); RES_NOMEM. */
static int make_entries(struct srv_ca *ca, const struct srv_snap *s)
{
	size_t i;
	int alg;

	for (i = 0; i < s->n; i++)
		for (alg = 0; alg < SRV_NALG; alg++) {
			struct srv_key k;
			srv_key_of_rec(&k, &s->v[i], alg);
			if (srv_map_get(&ca->map, &k) == NULL)
				return res_set(RES_NOMEM, "out of memory");
		}
	return RES_OK;
}

/* Queues every response of @ca that is due (normal); under ca->lock (read). */
static void sweep_locked(struct srv_ca *ca)
{
	int64_t now = (int64_t)time(NULL);
	const struct srv_snap *s = ca->snap;
	size_t i;
	int alg;

	for (i = 0; s != NULL && i < s->n; i++) {
		const struct srv_rec *rec = &s->v[i];
		if (rec->not_after < now)
			continue;
		for (alg = 0; alg < SRV_NALG; alg++) {
			struct srv_key k;
			struct srv_entry *e;
			srv_key_of_rec(&k, rec, alg);
			if ((e = srv_map_find(&ca->map, &k)) != NULL &&
			    srv_resp_due(e->resp, rec, now))
				srv_queue(ca, e, 0);
		}
	}
}

/* The CRL and the responder certificate: due now? */
static void check_due(struct srv_ca *ca)
{
	int64_t now = (int64_t)time(NULL), validity = ca->core->o->validity;
	int crl = 0, renew = 0;

	pthread_rwlock_rdlock(&ca->lock);
	if (ca->crl == NULL ||
	    now >= ca->crl->this_update + (ca->crl->next_update - ca->crl->this_update) / 2)
		crl = 1;
	if (ca->keys != NULL && ca->keys->sg.delegated) {
		int64_t life = ca->keys->not_after - ca->keys->not_before;
		int64_t left = ca->keys->not_after - now;
		/* what a new certificate would hold (ocsp_days, cut at the CA's end) */
		int64_t days = ca->ca->conf.ocsp_days > 0 ? ca->ca->conf.ocsp_days : CA_OCSP_DAYS;
		int64_t fresh = days * 86400;
		if (ca->cert_not_after > 0 && now + fresh > ca->cert_not_after)
			fresh = ca->cert_not_after - now;
		/* renewed only when that gains an hour at least: never in a loop */
		if ((left < life / 3 || left < 2 * validity) && fresh > left + 3600)
			renew = 1;
	}
	pthread_rwlock_unlock(&ca->lock);
	if (crl || renew)
		srv_queue_flags(ca, crl, renew);
}

static void hashes(struct srv_ca *ca)
{
	unsigned char *der = NULL;
	int len, j;

	for (j = 0; j < SRV_NMD; j++) {
		ca->h[j].nid = md_nids[j];
		if (srv_ocsp_issuer_hashes(ca->ca->cert, md_nids[j], ca->h[j].name, ca->h[j].key,
		                           &ca->h[j].len) != RES_OK)
			ca->h[j].len = 0; /* never matches */
	}
	if ((len = i2d_X509(ca->ca->cert, &der)) > 0)
		SHA256(der, (size_t)len, ca->cert_sha256);
	OPENSSL_free(der);
}

static const char *base_name(const char *dir, char *buf, size_t cap)
{
	size_t n = strlen(dir);
	const char *s;

	while (n > 1 && dir[n - 1] == '/')
		n--;
	s = dir + n;
	while (s > dir && s[-1] != '/')
		s--;
	snprintf(buf, cap, "%.*s", (int)(dir + n - s), s);
	return buf;
}

/* Carries @old's responses and CRL over to @ca (the same CA certificate); under both locks. */
static void carry_over(struct srv_ca *ca, struct srv_ca *old)
{
	int64_t now = (int64_t)time(NULL);
	struct srv_entry *e, *ne;
	size_t i;

	for (i = 0; i < old->map.nb; i++)
		for (e = old->map.b[i]; e != NULL; e = e->next) {
			struct srv_resp *r;
			unsigned char *der;
			size_t len;
			if (e->resp == NULL || (ne = srv_map_find(&ca->map, &e->k)) == NULL ||
			    ne->resp != NULL ||
			    !srv_resp_fits(e->resp, srv_snap_find(ca->snap, e->k.serial, e->k.len),
			                   now))
				continue;
			len = srv_blob_len(e->resp->blob);
			if ((der = malloc(len ? len : 1)) == NULL)
				return;
			memcpy(der, srv_blob_data(e->resp->blob), len);
			r = srv_resp_new(der, len, e->resp->status, e->resp->revoked_at,
			                 e->resp->reason, e->resp->this_update,
			                 e->resp->next_update);
			if (r == NULL)
				return;
			ne->resp = r;
		}
	if (old->crl != NULL && ca->crl == NULL) {
		struct srv_crl *c = calloc(1, sizeof(*c));
		if (c != NULL) {
			*c = *old->crl;
			srv_blob_ref(c->blob);
			ca->crl = c;
		}
	}
}

/*
 * Opens the CA of directory @index: its records, stored responses and
 * CRL, its keys (the token away: without them, told).  With @old (a
 * reload), what @old signed is carried over when the certificate is the same.
 */
static int ca_load(struct srv_core *c, size_t index, struct srv_ca *old, struct srv_ca **pca)
{
	const struct srv_opts *o = c->o;
	struct ca_open_opts oo = { o->module, o->pin_file, 0, 1, NULL };
	struct srv_ca *ca;
	struct srv_keys *keys = NULL;
	size_t kept = 0, dropped = 0;
	int rc;

	*pca = NULL;
	if ((ca = calloc(1, sizeof(*ca))) == NULL)
		return res_set(RES_NOMEM, "out of memory");
	atomic_init(&ca->refs, 1);
	ca->core = c;
	ca->index = index;
	pthread_mutex_init(&ca->dbmu, NULL);
	pthread_rwlock_init(&ca->lock, NULL);
	snprintf(ca->dir, sizeof(ca->dir), "%s", o->dirs[index]);
	snprintf(ca->sdir, sizeof(ca->sdir), "%s/serve", ca->dir);
	base_name(ca->dir, ca->name, sizeof(ca->name));
	if ((rc = ca_open(ca->dir, &oo, &ca->ca)) != RES_OK)
		goto fail;
	for (size_t i = 0; ca->ca->warnings != NULL && ca->ca->warnings[i] != NULL; i++)
		srv_event(c, SRV_WARN, "CA %s: %s", ca->name, ca->ca->warnings[i]);
	hashes(ca);
	{
		struct tm tm;
		if (ASN1_TIME_to_tm(X509_get0_notAfter(ca->ca->cert), &tm) == 1)
			ca->cert_not_after = (int64_t)timegm(&tm);
	}
	if ((rc = ca_paths(ca)) != RES_OK)
		goto fail;
	if ((rc = cadb_data_version(ca->ca->db, &ca->data_version)) != RES_OK ||
	    (rc = srv_snap_read(ca->ca->db, &ca->snap)) != RES_OK ||
	    (rc = make_entries(ca, ca->snap)) != RES_OK)
		goto fail;
	ca->token_ok = 1;
	rc = srv_keys_load(ca, &keys);
	if (rc == RES_TOKEN && old == NULL && srv_pin_refused(res_message())) {
		goto fail; /* a wrong PIN at start: the operator's to fix, not to retry */
	} else if (rc == RES_TOKEN) {
		srv_token_failed(ca, rc, res_message());
		if (old != NULL && memcmp(old->cert_sha256, ca->cert_sha256, 32) == 0) {
			pthread_rwlock_rdlock(&old->lock);
			keys = srv_keys_ref(old->keys);
			pthread_rwlock_unlock(&old->lock);
		}
	} else if (rc != RES_OK) {
		goto fail;
	}
	ca->keys = keys;
	if (old != NULL && memcmp(old->cert_sha256, ca->cert_sha256, 32) == 0) {
		pthread_rwlock_rdlock(&old->lock);
		carry_over(ca, old);
		pthread_rwlock_unlock(&old->lock);
	} else {
		rc = srv_cache_load(ca, &kept, &dropped);
		if (rc == RES_OK)
			srv_event(c, SRV_INFO, "CA %s: %zu stored responses loaded (%zu dropped)",
			          ca->name, kept, dropped);
		else if (rc != RES_NOT_FOUND)
			srv_event(c, SRV_WARN, "CA %s: stored responses ignored: %s", ca->name,
			          res_message());
		if (ca->crl == NULL) {
			struct srv_crl *crl = NULL;
			rc = srv_crl_load(ca, &crl);
			if (rc == RES_OK)
				ca->crl = crl;
			else if (rc != RES_NOT_FOUND)
				srv_event(c, SRV_WARN, "CA %s: stored CRL ignored: %s", ca->name,
				          res_message());
		}
	}
	if (ca->crl == NULL || !srv_crl_matches(ca->crl, ca->snap))
		srv_queue_flags(ca, 1, 0);
	sweep_locked(ca);
	*pca = ca;
	return RES_OK;
fail:
	res_prefix(rc, "CA %s", ca->dir);
	srv_ca_unref(ca);
	return rc;
}

/* Whether @a and @b differ for OCSP (status, revocation). */
static int rec_changed(const struct srv_rec *a, const struct srv_rec *b)
{
	return a->status != b->status || a->revoked_at != b->revoked_at || a->reason != b->reason;
}

/* The new snapshot @ns in place of the old one, changes queued. */
static void apply_snapshot(struct srv_ca *ca, struct srv_snap *ns, int64_t dv)
{
	struct srv_snap *old;
	int64_t now = (int64_t)time(NULL);
	int crl = 0;
	size_t i, urgent = 0;

	pthread_rwlock_wrlock(&ca->lock);
	old = ca->snap;
	if (make_entries(ca, ns) != RES_OK) {
		pthread_rwlock_unlock(&ca->lock);
		srv_snap_free(ns);
		return; /* read again at the next poll */
	}
	for (i = 0; i < ns->n; i++) {
		const struct srv_rec *r = &ns->v[i], *o = srv_snap_find(old, r->serial, r->len);
		int alg, kind; /* 0 nothing, 1 normal, 2 urgent */
		if (o == NULL)
			kind = r->not_after >= now ? 1 : 0, crl |= r->status == 'R';
		else if (rec_changed(o, r))
			kind = 2, crl |= r->status == 'R' || o->status == 'R';
		else
			continue;
		for (alg = 0; kind > 0 && alg < SRV_NALG; alg++) {
			struct srv_key k;
			struct srv_entry *e;
			srv_key_of_rec(&k, r, alg);
			if ((e = srv_map_find(&ca->map, &k)) != NULL)
				srv_queue(ca, e, kind == 2);
		}
		urgent += kind == 2;
	}
	if (old == NULL || old->nrevoked != ns->nrevoked)
		crl = 1;
	ca->snap = ns;
	ca->data_version = dv;
	pthread_rwlock_unlock(&ca->lock);
	srv_snap_free(old);
	if (crl)
		srv_queue_flags(ca, 1, 0);
	if (urgent > 0)
		srv_event(ca->core, SRV_INFO, "CA %s: %zu changed records to sign again", ca->name,
		          urgent);
}

static void poll_ca(struct srv_ca *ca)
{
	struct srv_snap *ns = NULL;
	int64_t dv = 0;
	int rc;

	pthread_mutex_lock(&ca->dbmu);
	rc = cadb_data_version(ca->ca->db, &dv);
	if (rc == RES_OK && dv != ca->data_version)
		rc = srv_snap_read(ca->ca->db, &ns);
	pthread_mutex_unlock(&ca->dbmu);
	if (rc != RES_OK)
		srv_event(ca->core, SRV_WARN, "CA %s: reading the database: %s", ca->name,
		          res_message());
	else if (ns != NULL)
		apply_snapshot(ca, ns, dv);
}

/* References to the current CAs (free with put_cas). */
static struct srv_ca **get_cas(struct srv_core *c, size_t *pn)
{
	struct srv_ca **v;
	size_t i;

	pthread_rwlock_rdlock(&c->lock);
	if ((v = calloc(c->ncas + 1, sizeof(*v))) != NULL) {
		for (i = 0; i < c->ncas; i++)
			v[i] = srv_ca_ref(c->cas[i]);
		*pn = c->ncas;
	} else {
		*pn = 0;
	}
	pthread_rwlock_unlock(&c->lock);
	return v;
}

static void put_cas(struct srv_ca **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		srv_ca_unref(v[i]);
	free(v);
}

static void *poller_main(void *arg)
{
	struct srv_core *c = arg;
	int64_t last_sweep = srv_mono(), last_flush = srv_mono();
	long ms = c->o->poll_ms > 0 ? c->o->poll_ms : 250;

	pthread_mutex_lock(&c->qmu);
	while (!c->stop) {
		struct timespec ts;
		struct srv_ca **v;
		size_t n, i;
		int64_t now;

		/* signers broadcast on qcond too: sleep the whole period all the same */
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += ms / 1000;
		ts.tv_nsec += (ms % 1000) * 1000000L;
		if (ts.tv_nsec >= 1000000000L)
			ts.tv_sec++, ts.tv_nsec -= 1000000000L;
		while (!c->stop && pthread_cond_timedwait(&c->qcond, &c->qmu, &ts) != ETIMEDOUT)
			;
		if (c->stop)
			break;
		pthread_mutex_unlock(&c->qmu);
		now = srv_mono();
		v = get_cas(c, &n);
		for (i = 0; i < n; i++)
			poll_ca(v[i]);
		if (now - last_sweep >= SWEEP_SECS) {
			last_sweep = now;
			for (i = 0; i < n; i++) {
				pthread_rwlock_rdlock(&v[i]->lock);
				sweep_locked(v[i]);
				pthread_rwlock_unlock(&v[i]->lock);
				check_due(v[i]);
			}
		}
		if (now - last_flush >= 1) {
			last_flush = now;
			for (i = 0; i < n; i++)
				srv_cache_flush(v[i], 0);
		}
		put_cas(v, n);
		pthread_mutex_lock(&c->qmu);
	}
	pthread_mutex_unlock(&c->qmu);
	return NULL;
}

/* The signers' list of CAs set to @c->cas (under c->lock held by the caller). */
static void set_qcas(struct srv_core *c)
{
	struct srv_ca **v = calloc(c->ncas + 1, sizeof(*v)), **old;
	size_t i, nold;

	if (v == NULL)
		return; /* keep the old list */
	for (i = 0; i < c->ncas; i++)
		v[i] = srv_ca_ref(c->cas[i]);
	pthread_mutex_lock(&c->qmu);
	old = c->qcas;
	nold = c->nqcas;
	c->qcas = v;
	c->nqcas = c->ncas;
	c->rr = 0;
	pthread_cond_broadcast(&c->qcond);
	pthread_mutex_unlock(&c->qmu);
	for (i = 0; i < nold; i++)
		srv_ca_unref(old[i]);
	free(old);
}

int srv_core_new(const struct srv_opts *o, struct srv_core **pc)
{
	static const int errs[] = { OCSP_RESPONSE_STATUS_MALFORMEDREQUEST,
		                    OCSP_RESPONSE_STATUS_INTERNALERROR,
		                    OCSP_RESPONSE_STATUS_TRYLATER, OCSP_RESPONSE_STATUS_SIGREQUIRED,
		                    OCSP_RESPONSE_STATUS_UNAUTHORIZED };
	struct srv_core *c;
	size_t i, n = 0;
	int rc;

	*pc = NULL;
	while (o->dirs != NULL && o->dirs[n] != NULL)
		n++;
	if (n == 0)
		return res_set(RES_BAD_INPUT, "no CA directory to serve");
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return res_set(RES_NOMEM, "out of memory");
	c->o = o;
	pthread_rwlock_init(&c->lock, NULL);
	pthread_mutex_init(&c->evmu, NULL);
	pthread_mutex_init(&c->qmu, NULL);
	pthread_cond_init(&c->qcond, NULL);
	clock_gettime(CLOCK_MONOTONIC, &c->refilled);
	c->tokens = o->sign_rate > 1 ? o->sign_rate : 1;
	for (i = 0; i < sizeof(errs) / sizeof(errs[0]); i++) {
		size_t len = 0;
		const unsigned char *p = srv_ocsp_error(errs[i], &len);
		if (p != NULL)
			c->err[errs[i]] = srv_blob_new(p, len);
	}
	if ((c->lock_fds = calloc(n, sizeof(int))) == NULL ||
	    (c->cas = calloc(n, sizeof(*c->cas))) == NULL) {
		rc = res_set(RES_NOMEM, "out of memory");
		goto fail;
	}
	for (i = 0; i < n; i++)
		c->lock_fds[i] = -1;
	c->ndirs = n;
	for (i = 0; i < n; i++)
		if ((rc = srv_dir_lock(o->dirs[i], &c->lock_fds[i])) != RES_OK)
			goto fail;
	for (i = 0; i < n; i++) {
		if ((rc = ca_load(c, i, NULL, &c->cas[i])) != RES_OK)
			goto fail;
		c->ncas++;
	}
	set_qcas(c);
	if ((rc = srv_signers_start(c)) != RES_OK)
		goto fail;
	if (pthread_create(&c->poller, NULL, poller_main, c) != 0) {
		rc = res_set(RES_FAIL, "starting the poller thread failed");
		goto fail;
	}
	c->poller_started = 1;
	*pc = c;
	return RES_OK;
fail:
	srv_core_free(c);
	return rc;
}

int srv_core_reload(struct srv_core *c)
{
	struct srv_ca **nv, **old;
	size_t i, n;
	int rc = RES_OK, first = RES_OK;
	char msg[600] = "";

	pthread_rwlock_rdlock(&c->lock);
	n = c->ncas;
	nv = calloc(n + 1, sizeof(*nv));
	for (i = 0; nv != NULL && i < n; i++) {
		srv_cache_flush(c->cas[i], 1);
		if ((rc = ca_load(c, c->cas[i]->index, c->cas[i], &nv[i])) != RES_OK) {
			srv_event(c, SRV_ERROR, "reload: %s (the CA keeps its old state)",
			          res_message());
			if (first == RES_OK) {
				first = rc;
				snprintf(msg, sizeof(msg), "%s", res_message());
			}
			nv[i] = srv_ca_ref(c->cas[i]);
		}
	}
	pthread_rwlock_unlock(&c->lock);
	if (nv == NULL)
		return res_set(RES_NOMEM, "out of memory");
	pthread_rwlock_wrlock(&c->lock);
	old = c->cas;
	c->cas = nv;
	set_qcas(c);
	pthread_rwlock_unlock(&c->lock);
	for (i = 0; i < n; i++)
		srv_ca_unref(old[i]);
	free(old);
	srv_event(c, SRV_INFO, "reloaded %zu CA%s", n, n == 1 ? "" : "s");
	if (first != RES_OK)
		return res_set(first, "%s", msg);
	return RES_OK;
}

void srv_core_free(struct srv_core *c)
{
	size_t i;

	if (c == NULL)
		return;
	srv_signers_stop(c);
	if (c->poller_started)
		pthread_join(c->poller, NULL);
	for (i = 0; i < c->ncas; i++) {
		srv_cache_flush(c->cas[i], 1);
		srv_ca_unref(c->cas[i]);
	}
	for (i = 0; i < c->nqcas; i++)
		srv_ca_unref(c->qcas[i]);
	free(c->qcas);
	free(c->cas);
	for (i = 0; c->lock_fds != NULL && i < c->ndirs; i++)
		if (c->lock_fds[i] >= 0)
			close(c->lock_fds[i]);
	free(c->lock_fds);
	for (i = 0; i < sizeof(c->err) / sizeof(c->err[0]); i++)
		srv_blob_unref(c->err[i]);
	pthread_cond_destroy(&c->qcond);
	pthread_mutex_destroy(&c->qmu);
	pthread_mutex_destroy(&c->evmu);
	pthread_rwlock_destroy(&c->lock);
	free(c);
}

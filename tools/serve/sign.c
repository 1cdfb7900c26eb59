/*
 * sign.c - the signer threads: per-CA queues (urgent: revocations and the
 * CRL; normal: new certificates, half-life renewals), one token bucket of
 * o->sign_rate signatures per second shared by every CA and by live
 * signing, at most o->sign_sessions signatures at once, the token's state
 * (away: back off and retry; PIN locked: retry rarely), the keys loaded
 * (the CA's, the delegated responder's), CRLs made and responder
 * certificates renewed.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/ocsp.h>
#include <openssl/pem.h>

#include "p11ca.h"
#include "result.h"
#include "serve-int.h"

/* ---- keys ---- */

struct srv_keys *srv_keys_ref(struct srv_keys *k)
{
	if (k != NULL)
		atomic_fetch_add(&k->refs, 1);
	return k;
}

void srv_keys_unref(struct srv_keys *k)
{
	if (k == NULL || atomic_fetch_sub(&k->refs, 1) != 1)
		return;
	X509_free(k->sg.cert);
	if (k->base != NULL) {
		X509_free(k->rcert); /* a renewed certificate, this one's own */
		srv_keys_unref(k->base);
	} else {
		EVP_PKEY_free(k->rkey);
		EVP_PKEY_free(k->ca_key);
		X509_free(k->rcert);
		pki_libctx_free(k->libctx);
	}
	free(k);
}

static int64_t asn1_secs(const ASN1_TIME *t)
{
	struct tm tm;

	if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1)
		return 0;
	return (int64_t)timegm(&tm);
}

static void keys_set_signer(struct srv_keys *k, struct srv_ca *ca, X509 *rcert)
{
	k->sg.libctx = k->libctx;
	k->sg.md = ca->ca->conf.default_md != NULL ? ca->ca->conf.default_md : "sha256";
	if (rcert != NULL) {
		k->sg.key = k->rkey;
		k->sg.cert = rcert;
		k->sg.delegated = 1;
	} else {
		k->sg.key = k->ca_key;
		k->sg.cert = ca->ca->cert;
		k->sg.delegated = 0;
	}
	X509_up_ref(k->sg.cert);
	k->not_before = asn1_secs(X509_get0_notBefore(k->sg.cert));
	k->not_after = asn1_secs(X509_get0_notAfter(k->sg.cert));
}

int srv_keys_load(struct srv_ca *ca, struct srv_keys **pk)
{
	const struct srv_opts *o = ca->core->o;
	struct srv_keys *k;
	const char *module;
	char shown[512];
	int rc;

	*pk = NULL;
	if ((k = calloc(1, sizeof(*k))) == NULL)
		return res_set(RES_NOMEM, "out of memory");
	atomic_init(&k->refs, 1);
	module = o->module != NULL ? o->module : ca->ca->conf.module;
	if ((rc = pki_libctx_new(module, o->pin_file, &k->libctx)) != RES_OK)
		goto fail;
	if ((rc = pki_load_key(k->libctx, ca->ca->conf.key, &k->ca_key)) != RES_OK)
		goto fail;
	if (!ca_key_matches(k->ca_key, ca->ca->cert)) {
		rc = res_set(RES_POLICY, "the CA key %s is not the key of %s",
		             p11ca_uri_redact(ca->ca->conf.key, shown, sizeof(shown)),
		             ca->ca->conf.cert);
		goto fail;
	}
	if (ca->ca->conf.ocsp_key != NULL) {
		pthread_mutex_lock(&ca->dbmu);
		ca->ca->libctx = k->libctx;
		rc = ca_responder_load(ca->ca, &k->rkey, &k->rcert);
		ca->ca->libctx = NULL;
		pthread_mutex_unlock(&ca->dbmu);
		if (rc == RES_TOKEN)
			goto fail;
		if (rc != RES_OK)
			srv_event(
			    ca->core, SRV_WARN,
			    "CA %s: the delegated responder is not used (the CA key signs): %s",
			    ca->name, res_message());
	}
	keys_set_signer(k, ca, k->rkey != NULL && k->rcert != NULL ? k->rcert : NULL);
	*pk = k;
	return RES_OK;
fail:
	srv_keys_unref(k);
	return rc;
}

/* ---- budget ---- */

static void refill(struct srv_core *c)
{
	struct timespec now;
	double dt, cap = c->o->sign_rate > 1 ? c->o->sign_rate : 1;

	clock_gettime(CLOCK_MONOTONIC, &now);
	dt = (double)(now.tv_sec - c->refilled.tv_sec) +
	     (double)(now.tv_nsec - c->refilled.tv_nsec) / 1e9;
	c->refilled = now;
	if (c->o->sign_rate <= 0) {
		c->tokens = cap;
		return;
	}
	c->tokens += dt * c->o->sign_rate;
	if (c->tokens > cap)
		c->tokens = cap;
}

static int budget_ok(struct srv_core *c)
{
	unsigned max = c->o->sign_sessions > 0 ? c->o->sign_sessions : 1;

	refill(c);
	return c->tokens >= 1 && c->active < max;
}

int srv_budget_try(struct srv_core *c)
{
	int ok;

	pthread_mutex_lock(&c->qmu);
	ok = !c->stop && budget_ok(c);
	if (ok) {
		c->tokens -= 1;
		c->active++;
	}
	pthread_mutex_unlock(&c->qmu);
	return ok;
}

void srv_budget_release(struct srv_core *c)
{
	pthread_mutex_lock(&c->qmu);
	c->active--;
	pthread_cond_broadcast(&c->qcond);
	pthread_mutex_unlock(&c->qmu);
}

/* ---- token state ---- */

int srv_pin_refused(const char *msg)
{
	return strstr(msg, "wrong PIN") != NULL || strstr(msg, "refused before") != NULL ||
	       strstr(msg, "PIN_INCORRECT") != NULL;
}

void srv_token_failed(struct srv_ca *ca, int rc, const char *msg)
{
	struct srv_core *c = ca->core;
	int refused = srv_pin_refused(msg);
	int locked = refused || strstr(msg, "locked") != NULL || strstr(msg, "final try") != NULL;
	int tell;

	atomic_fetch_add(&ca->sig_fails, 1);
	pthread_mutex_lock(&c->qmu);
	tell = ca->token_ok || (locked && !ca->pin_locked);
	ca->token_ok = 0;
	ca->pin_locked = locked;
	ca->fails++;
	if (ca->fails >= SRV_RELOAD_AFTER || rc != RES_TOKEN)
		ca->reload_keys = 1;
	/*
	 * a locked PIN is looked at rarely (the token's flags are read before
	 * any try); a refused one is not tried again until a reload
	 */
	ca->paused_until = srv_mono() + (refused  ? INT64_MAX / 4
	                                 : locked ? SRV_RETRY_LOCKED_SECS
	                                          : SRV_RETRY_SECS);
	snprintf(ca->token_msg, sizeof(ca->token_msg), "%s", msg);
	pthread_mutex_unlock(&c->qmu);
	if (tell)
		srv_event(c, locked ? SRV_ERROR : SRV_WARN, "CA %s: token unavailable: %s%s",
		          ca->name, msg,
		          refused ? " (the PIN is not tried again until a reload)" : "");
}

void srv_token_worked(struct srv_ca *ca)
{
	struct srv_core *c = ca->core;
	int tell;

	pthread_mutex_lock(&c->qmu);
	tell = !ca->token_ok;
	ca->token_ok = 1;
	ca->pin_locked = 0;
	ca->fails = 0;
	ca->paused_until = 0;
	ca->token_msg[0] = '\0';
	if (tell)
		pthread_cond_broadcast(&c->qcond);
	pthread_mutex_unlock(&c->qmu);
	if (tell)
		srv_event(c, SRV_INFO, "CA %s: token available again", ca->name);
}

int srv_token_usable(struct srv_ca *ca)
{
	int ok;

	pthread_mutex_lock(&ca->core->qmu);
	ok = ca->token_ok;
	pthread_mutex_unlock(&ca->core->qmu);
	return ok;
}

/* ---- queues ---- */

void srv_queue(struct srv_ca *ca, struct srv_entry *e, int urgent)
{
	struct srv_core *c = ca->core;

	pthread_mutex_lock(&c->qmu);
	if (urgent && !e->in_u) {
		e->in_u = 1;
		e->unext = NULL;
		if (ca->uq_tail != NULL)
			ca->uq_tail->unext = e;
		else
			ca->uq_head = e;
		ca->uq_tail = e;
		ca->nqueued++;
		pthread_cond_signal(&c->qcond);
	} else if (!urgent && !e->in_n && !e->in_u) {
		e->in_n = 1;
		e->nnext = NULL;
		if (ca->nq_tail != NULL)
			ca->nq_tail->nnext = e;
		else
			ca->nq_head = e;
		ca->nq_tail = e;
		ca->nqueued++;
		pthread_cond_signal(&c->qcond);
	}
	pthread_mutex_unlock(&c->qmu);
}

void srv_queue_flags(struct srv_ca *ca, int crl, int renew)
{
	pthread_mutex_lock(&ca->core->qmu);
	if (crl)
		ca->crl_needed++;
	if (renew)
		ca->renew_needed = 1;
	pthread_cond_broadcast(&ca->core->qcond);
	pthread_mutex_unlock(&ca->core->qmu);
}

/* Back to the front of its queue after a failure. */
static void requeue_front(struct srv_ca *ca, struct srv_entry *e)
{
	if (e->in_u)
		return;
	e->in_u = 1;
	e->unext = ca->uq_head;
	ca->uq_head = e;
	if (ca->uq_tail == NULL)
		ca->uq_tail = e;
	ca->nqueued++;
}

/* JOB_PROBE: the token is away and nothing is to sign: is it back? (the keys loaded again) */
enum job_kind { JOB_NONE, JOB_ENTRY, JOB_CRL, JOB_RENEW, JOB_PROBE };

/* Under qmu: the next job of any CA (round robin), NULL when none. */
static struct srv_ca *pick(struct srv_core *c, enum job_kind *kind, struct srv_entry **pe,
                           int *pcrl_seen, int64_t *pwake)
{
	int64_t now = srv_mono();
	size_t i;

	*pwake = 0;
	for (i = 0; i < c->nqcas; i++) {
		struct srv_ca *ca = c->qcas[(c->rr + i) % c->nqcas];
		struct srv_entry *e;
		if (ca->paused_until > now) {
			if (ca->crl_needed || ca->nqueued > 0)
				if (*pwake == 0 || ca->paused_until < *pwake)
					*pwake = ca->paused_until;
			continue;
		}
		if (ca->crl_needed && !ca->crl_busy) {
			ca->crl_busy = 1;
			*pcrl_seen = ca->crl_needed;
			*kind = JOB_CRL;
		} else if (ca->renew_needed && !ca->renew_busy && ca->uq_head == NULL) {
			ca->renew_busy = 1;
			*kind = JOB_RENEW;
		} else if ((e = ca->uq_head) != NULL) {
			ca->uq_head = e->unext;
			if (ca->uq_head == NULL)
				ca->uq_tail = NULL;
			e->in_u = 0;
			ca->nqueued--;
			*pe = e;
			*kind = JOB_ENTRY;
		} else if ((e = ca->nq_head) != NULL) {
			ca->nq_head = e->nnext;
			if (ca->nq_head == NULL)
				ca->nq_tail = NULL;
			e->in_n = 0;
			ca->nqueued--;
			*pe = e;
			*kind = JOB_ENTRY;
		} else if (!ca->token_ok && !ca->probe_busy) {
			ca->probe_busy = 1;
			ca->reload_keys = 1;
			*kind = JOB_PROBE;
		} else {
			continue;
		}
		c->rr = (c->rr + i + 1) % c->nqcas;
		return srv_ca_ref(ca);
	}
	return NULL;
}

/* The keys for a job: loaded again when asked or missing.  NULL: token failure told. */
static struct srv_keys *job_keys(struct srv_ca *ca)
{
	struct srv_keys *k = NULL, *old;
	int reload, rc;

	pthread_mutex_lock(&ca->core->qmu);
	reload = ca->reload_keys;
	ca->reload_keys = 0;
	pthread_mutex_unlock(&ca->core->qmu);
	pthread_rwlock_rdlock(&ca->lock);
	if (!reload)
		k = srv_keys_ref(ca->keys);
	pthread_rwlock_unlock(&ca->lock);
	if (k != NULL)
		return k;
	if ((rc = srv_keys_load(ca, &k)) != RES_OK) {
		srv_token_failed(ca, rc, res_message());
		return NULL;
	}
	pthread_rwlock_wrlock(&ca->lock);
	old = ca->keys;
	ca->keys = srv_keys_ref(k);
	pthread_rwlock_unlock(&ca->lock);
	srv_keys_unref(old);
	return k;
}

/* Signs entry @e of @ca; RES_OK (also when nothing was due), or the failure. */
static int sign_entry(struct srv_ca *ca, struct srv_entry *e, struct srv_keys *k)
{
	const struct srv_opts *o = ca->core->o;
	struct srv_certid id;
	struct srv_single s;
	struct srv_rec rec;
	const struct srv_rec *r;
	struct srv_resp *resp;
	unsigned char *der = NULL;
	size_t len = 0;
	int64_t now = (int64_t)time(NULL);
	int rc;

	pthread_rwlock_rdlock(&ca->lock);
	r = srv_snap_find(ca->snap, e->k.serial, e->k.len);
	if (r == NULL || r->not_after < now || !srv_resp_due(e->resp, r, now)) {
		pthread_rwlock_unlock(&ca->lock);
		return RES_OK;
	}
	rec = *r;
	pthread_rwlock_unlock(&ca->lock);
	srv_certid_of(ca, &e->k, &id);
	memset(&s, 0, sizeof(s));
	s.id = &id;
	s.status = rec.status == 'R' ? V_OCSP_CERTSTATUS_REVOKED : V_OCSP_CERTSTATUS_GOOD;
	s.revoked_at = rec.revoked_at;
	s.reason = rec.reason;
	s.this_update = now;
	s.next_update = now + o->validity;
	if (k->not_after > 0 && s.next_update > k->not_after)
		s.next_update = k->not_after;
	if ((rc = srv_ocsp_sign(&k->sg, &s, 1, NULL, 0, now, &der, &len)) != RES_OK)
		return rc;
	atomic_fetch_add(&ca->sigs, 1);
	if ((resp = srv_resp_new(der, len, s.status, s.revoked_at, s.reason, s.this_update,
	                         s.next_update)) == NULL)
		return res_set(RES_NOMEM, "out of memory");
	pthread_rwlock_wrlock(&ca->lock);
	r = srv_snap_find(ca->snap, e->k.serial, e->k.len);
	if (r != NULL && srv_resp_fits(resp, r, now)) {
		srv_resp_free(e->resp);
		e->resp = resp;
		resp = NULL;
		atomic_store(&ca->dirty, 1);
	}
	pthread_rwlock_unlock(&ca->lock);
	srv_resp_free(resp); /* the record changed meanwhile: queued again by the poller */
	return RES_OK;
}

struct membuf {
	unsigned char *p;
	size_t len, cap;
};

static int mem_write(void *arg, const unsigned char *p, size_t len)
{
	struct membuf *m = arg;

	if (m->len + len > m->cap) {
		size_t cap = m->cap ? m->cap : 4096;
		unsigned char *n;
		while (cap < m->len + len)
			cap *= 2;
		if ((n = realloc(m->p, cap)) == NULL)
			return 1;
		m->p = n;
		m->cap = cap;
	}
	memcpy(m->p + m->len, p, len);
	m->len += len;
	return 0;
}

int srv_crl_make(struct srv_ca *ca, struct srv_keys *k)
{
	struct membuf m = { 0 };
	struct srv_crl *crl = NULL, *old;
	const char *md;
	int64_t number = 0;
	size_t count = 0;
	int rc;

	pthread_mutex_lock(&ca->dbmu);
	md = ca->ca->conf.default_md != NULL ? ca->ca->conf.default_md : "sha256";
	ca->ca->libctx = k->libctx;
	ca->ca->key = k->ca_key;
	rc = ca_crl(ca->ca, md, ca->ca->conf.crl_days > 0 ? ca->ca->conf.crl_days : 7, 0, mem_write,
	            &m, &number, &count);
	ca->ca->libctx = NULL;
	ca->ca->key = NULL;
	pthread_mutex_unlock(&ca->dbmu);
	if (rc != RES_OK) {
		free(m.p);
		return rc;
	}
	atomic_fetch_add(&ca->sigs, 1);
	if ((rc = srv_write_atomic(ca->sdir, "crl.der", m.p, m.len)) != RES_OK)
		srv_event(ca->core, SRV_WARN, "CA %s: storing the CRL: %s", ca->name,
		          res_message());
	if ((rc = srv_crl_from_der(m.p, m.len, ca->ca->cert, &crl)) != RES_OK)
		return rc;
	pthread_rwlock_wrlock(&ca->lock);
	old = ca->crl;
	ca->crl = crl;
	pthread_rwlock_unlock(&ca->lock);
	srv_crl_free(old);
	srv_event(ca->core, SRV_INFO, "CA %s: CRL %lld made (%zu revoked)", ca->name,
	          (long long)number, count);
	return RES_OK;
}

/* A new responder certificate for the delegated key, written to ca.conf's ocsp_cert. */
static int renew(struct srv_ca *ca, struct srv_keys *k)
{
	struct srv_keys *nk = NULL, *old;
	X509 *x = NULL;
	BIO *mem = NULL;
	char *pem, dir[4096], *slash;
	long n;
	int rc;

	if (k->rkey == NULL || ca->ca->conf.ocsp_cert == NULL)
		return RES_OK;
	pthread_mutex_lock(&ca->dbmu);
	ca->ca->libctx = k->libctx;
	ca->ca->key = k->ca_key;
	rc = ca_responder_issue(ca->ca, k->rkey,
	                        ca->ca->conf.ocsp_days > 0 ? ca->ca->conf.ocsp_days : CA_OCSP_DAYS,
	                        &x);
	ca->ca->libctx = NULL;
	ca->ca->key = NULL;
	pthread_mutex_unlock(&ca->dbmu);
	if (rc != RES_OK)
		return rc;
	if ((mem = BIO_new(BIO_s_mem())) == NULL || !PEM_write_bio_X509(mem, x) ||
	    (n = BIO_get_mem_data(mem, &pem)) <= 0) {
		rc = res_ossl(RES_CRYPTO, "the responder certificate in PEM");
		goto out;
	}
	snprintf(dir, sizeof(dir), "%s", ca->ca->conf.ocsp_cert);
	slash = strrchr(dir, '/');
	if (slash == NULL || slash == dir) {
		rc = res_set(RES_IO, "%s: not an absolute path", ca->ca->conf.ocsp_cert);
		goto out;
	}
	*slash = '\0';
	if ((rc = srv_write_atomic(dir, slash + 1, pem, (size_t)n)) != RES_OK)
		goto out;
	if ((nk = calloc(1, sizeof(*nk))) == NULL) {
		rc = res_set(RES_NOMEM, "out of memory");
		goto out;
	}
	atomic_init(&nk->refs, 1);
	nk->base = srv_keys_ref(k->base != NULL ? k->base : k);
	nk->libctx = nk->base->libctx;
	nk->ca_key = nk->base->ca_key;
	nk->rkey = nk->base->rkey;
	nk->rcert = x;
	keys_set_signer(nk, ca, x);
	x = NULL;
	pthread_rwlock_wrlock(&ca->lock);
	old = ca->keys;
	ca->keys = nk;
	pthread_rwlock_unlock(&ca->lock);
	srv_keys_unref(old);
	srv_event(ca->core, SRV_INFO, "CA %s: responder certificate renewed, valid until %lld",
	          ca->name, (long long)nk->not_after);
	rc = RES_OK;
out:
	if (nk != NULL && rc != RES_OK)
		srv_keys_unref(nk);
	/* nk->rcert is freed through sg.cert's reference and by the base (not ours) */
	X509_free(x);
	BIO_free(mem);
	return rc;
}

static void *signer_main(void *arg)
{
	struct srv_core *c = arg;

	pthread_mutex_lock(&c->qmu);
	while (!c->stop) {
		enum job_kind kind = JOB_NONE;
		struct srv_entry *e = NULL;
		struct srv_keys *k;
		struct srv_ca *ca;
		int64_t wake;
		int rc = RES_OK, crl_seen = 0;

		if ((ca = pick(c, &kind, &e, &crl_seen, &wake)) == NULL) {
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += 1;
			pthread_cond_timedwait(&c->qcond, &c->qmu, &ts);
			continue;
		}
		while (!c->stop && !budget_ok(c)) {
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += 5 * 1000 * 1000;
			if (ts.tv_nsec >= 1000000000L)
				ts.tv_sec++, ts.tv_nsec -= 1000000000L;
			pthread_cond_timedwait(&c->qcond, &c->qmu, &ts);
		}
		if (c->stop) {
			if (kind == JOB_ENTRY)
				requeue_front(ca, e);
			srv_ca_unref(ca);
			break;
		}
		c->tokens -= 1;
		c->active++;
		pthread_mutex_unlock(&c->qmu);

		if ((k = job_keys(ca)) == NULL) {
			rc = RES_TOKEN;
		} else {
			if (kind == JOB_ENTRY)
				rc = sign_entry(ca, e, k);
			else if (kind == JOB_CRL)
				rc = srv_crl_make(ca, k);
			else if (kind == JOB_RENEW)
				rc = renew(ca, k);
			else
				rc = RES_OK; /* JOB_PROBE: the keys loaded, the token is back */
			if (rc == RES_OK)
				srv_token_worked(ca);
			else if (rc == RES_TOKEN)
				srv_token_failed(ca, rc, res_message());
			else
				srv_event(c, SRV_WARN, "CA %s: %s: %s", ca->name,
				          kind == JOB_CRL     ? "making the CRL"
				          : kind == JOB_RENEW ? "renewing the responder certificate"
				          : kind == JOB_PROBE ? "loading the keys"
				                              : "signing a response",
				          res_message());
			srv_keys_unref(k);
		}

		pthread_mutex_lock(&c->qmu);
		c->active--;
		if (kind == JOB_CRL) {
			ca->crl_busy = 0;
			if (rc == RES_OK) /* asked again meanwhile: made again */
				ca->crl_needed -= crl_seen;
			else if (rc != RES_TOKEN)
				ca->paused_until = srv_mono() + SRV_RETRY_SECS;
		} else if (kind == JOB_PROBE) {
			ca->probe_busy = 0;
		} else if (kind == JOB_RENEW) {
			ca->renew_busy = 0;
			if (rc == RES_OK || rc != RES_TOKEN)
				ca->renew_needed =
				    0; /* the sweep asks again when it is still due */
		} else if (rc == RES_TOKEN) {
			requeue_front(ca, e);
		}
		pthread_cond_broadcast(&c->qcond);
		pthread_mutex_unlock(&c->qmu);
		srv_ca_unref(ca);
		pthread_mutex_lock(&c->qmu);
	}
	pthread_mutex_unlock(&c->qmu);
	return NULL;
}

int srv_signers_start(struct srv_core *c)
{
	unsigned n = c->o->sign_sessions > 0 ? c->o->sign_sessions : 1, i;

	if ((c->signers = calloc(n, sizeof(*c->signers))) == NULL)
		return res_set(RES_NOMEM, "out of memory");
	for (i = 0; i < n; i++) {
		if (pthread_create(&c->signers[i], NULL, signer_main, c) != 0)
			return res_set(RES_FAIL, "starting a signer thread failed");
		c->nsigners++;
	}
	return RES_OK;
}

void srv_signers_stop(struct srv_core *c)
{
	unsigned i;

	pthread_mutex_lock(&c->qmu);
	c->stop = 1;
	pthread_cond_broadcast(&c->qcond);
	pthread_mutex_unlock(&c->qmu);
	for (i = 0; i < c->nsigners; i++)
		pthread_join(c->signers[i], NULL);
	c->nsigners = 0;
	free(c->signers);
	c->signers = NULL;
}

/*
 * answer.c - the request path of the core (core.h): an OCSP request
 * answered from the pre-signed responses under a read lock, or signed live
 * within the budget (never waiting for it), or tryLater; a GET routed to a
 * CA's CRL or OCSP path.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/ocsp.h>

#include "result.h"
#include "serve-int.h"

static const char *status_result(int status)
{
	return status == V_OCSP_CERTSTATUS_GOOD      ? "good"
	       : status == V_OCSP_CERTSTATUS_REVOKED ? "revoked"
	                                             : "unknown";
}

static void reply_error(struct srv_core *c, int status, const char *result, struct srv_reply *out)
{
	out->http = 200;
	out->type = "application/ocsp-response";
	out->body = srv_blob_ref(status >= 0 && status < 7 ? c->err[status] : NULL);
	out->result = result;
	out->kind = "ocsp";
}

static void reply_resp(struct srv_ca *ca, const struct srv_resp *r, int get, struct srv_reply *out)
{
	out->http = 200;
	out->type = "application/ocsp-response";
	out->body = srv_blob_ref(r->blob);
	out->result = status_result(r->status);
	out->kind = "ocsp";
	snprintf(out->ca, sizeof(out->ca), "%s", ca->name);
	if (get) {
		out->last_modified = r->this_update;
		out->expires = r->next_update;
		snprintf(out->etag, sizeof(out->etag), "%s", r->etag);
	}
}

static int alg_of(int nid)
{
	return nid == NID_sha1 ? SRV_ALG_SHA1 : nid == NID_sha256 ? SRV_ALG_SHA256 : -1;
}

static int key_of(const struct srv_certid *id, struct srv_key *k)
{
	int alg = alg_of(id->md_nid);

	if (alg < 0 || id->negative || id->serial_len == 0 || id->serial_len > SRV_SERIAL_MAX)
		return -1;
	memset(k, 0, sizeof(*k));
	k->alg = (unsigned char)alg;
	k->len = (unsigned char)id->serial_len;
	memcpy(k->serial, id->serial, id->serial_len);
	return 0;
}

/* The pre-signed answer for @id: 1 when @out has it. */
static int stored(struct srv_ca *ca, const struct srv_certid *id, int get, struct srv_reply *out)
{
	int64_t now = (int64_t)time(NULL);
	const struct srv_rec *rec;
	struct srv_entry *e;
	struct srv_key k;
	int done = 0;

	if (key_of(id, &k) != 0)
		return 0;
	pthread_rwlock_rdlock(&ca->lock);
	rec = srv_snap_find(ca->snap, k.serial, k.len);
	if (rec != NULL) {
		e = rec->not_after >= now ? srv_map_find(&ca->map, &k) : NULL;
		if (e != NULL && srv_resp_fits(e->resp, rec, now)) {
			reply_resp(ca, e->resp, get, out);
			done = 1;
		}
	} else if ((e = srv_map_find(&ca->unk, &k)) != NULL && srv_resp_fits(e->resp, NULL, now)) {
		reply_resp(ca, e->resp, get, out);
		done = 1;
	}
	pthread_rwlock_unlock(&ca->lock);
	return done;
}

/* Keeps @r (one live answer without nonce) as the stored one; under ca->lock (write). */
static void keep(struct srv_ca *ca, const struct srv_key *k, const struct srv_rec *rec,
                 struct srv_resp *r)
{
	struct srv_entry *e;

	if (rec != NULL) {
		if ((e = srv_map_find(&ca->map, k)) != NULL) {
			srv_resp_free(e->resp);
			e->resp = r;
			atomic_store(&ca->dirty, 1);
			return;
		}
	} else if (srv_map_find(&ca->unk, k) == NULL) {
		if (ca->unk_count == SRV_UNKNOWN_MAX) {
			struct srv_key ok = ca->unk_ring[ca->unk_head]->k;
			srv_map_del(&ca->unk, &ok);
			ca->unk_head = (ca->unk_head + 1) % SRV_UNKNOWN_MAX;
			ca->unk_count--;
		}
		if ((e = srv_map_get(&ca->unk, k)) != NULL) {
			e->resp = r;
			ca->unk_ring[(ca->unk_head + ca->unk_count) % SRV_UNKNOWN_MAX] = e;
			ca->unk_count++;
			return;
		}
	}
	srv_resp_free(r);
}

/*
 * Signs an answer for @r now within the budget: 1 when @out has it (or an
 * internalError), 0 when over budget or the token is away.
 */
static int live(struct srv_core *c, struct srv_ca *ca, const struct srv_ocsp_req *r, int nonce,
                int get, struct srv_reply *out)
{
	const struct srv_opts *o = c->o;
	struct srv_single s[SRV_OCSP_MAX_IDS];
	struct srv_rec recs[SRV_OCSP_MAX_IDS];
	int known[SRV_OCSP_MAX_IDS];
	struct srv_keys *k;
	struct srv_key key;
	unsigned char *der = NULL;
	size_t len = 0, i;
	int64_t now = (int64_t)time(NULL);
	int rc;

	if (!srv_token_usable(ca) || !srv_budget_try(c))
		return 0;
	pthread_rwlock_rdlock(&ca->lock);
	k = srv_keys_ref(ca->keys);
	for (i = 0; i < r->n; i++) {
		const struct srv_certid *id = &r->ids[i];
		const struct srv_rec *rec =
		    id->negative ? NULL : srv_snap_find(ca->snap, id->serial, id->serial_len);
		known[i] = rec != NULL;
		if (rec != NULL)
			recs[i] = *rec;
		memset(&s[i], 0, sizeof(s[i]));
		s[i].id = id;
		s[i].status = rec == NULL          ? V_OCSP_CERTSTATUS_UNKNOWN
		              : rec->status == 'R' ? V_OCSP_CERTSTATUS_REVOKED
		                                   : V_OCSP_CERTSTATUS_GOOD;
		s[i].revoked_at = rec != NULL ? rec->revoked_at : 0;
		s[i].reason = rec != NULL ? rec->reason : -1;
		s[i].this_update = now;
		s[i].next_update = now + o->validity;
	}
	pthread_rwlock_unlock(&ca->lock);
	if (k == NULL) {
		srv_budget_release(c);
		return 0;
	}
	for (i = 0; i < r->n; i++)
		if (k->not_after > 0 && s[i].next_update > k->not_after)
			s[i].next_update = k->not_after;
	rc = srv_ocsp_sign(&k->sg, s, r->n, nonce ? r->nonce : NULL, nonce ? r->nonce_len : 0, now,
	                   &der, &len);
	srv_budget_release(c);
	srv_keys_unref(k);
	if (rc == RES_TOKEN) {
		srv_token_failed(ca, rc, res_message());
		return 0;
	}
	if (rc != RES_OK) {
		srv_event(c, SRV_WARN, "CA %s: signing a live response: %s", ca->name,
		          res_message());
		reply_error(c, OCSP_RESPONSE_STATUS_INTERNALERROR, "internalError", out);
		return 1;
	}
	srv_token_worked(ca);
	atomic_fetch_add(&ca->sigs, 1);
	atomic_fetch_add(&c->live_sigs, 1);
	if (r->n == 1 && !nonce && key_of(&r->ids[0], &key) == 0 &&
	    (!known[0] || recs[0].not_after >= now)) {
		struct srv_resp *resp = srv_resp_new(der, len, s[0].status, s[0].revoked_at,
		                                     s[0].reason, now, s[0].next_update);
		if (resp == NULL) {
			reply_error(c, OCSP_RESPONSE_STATUS_INTERNALERROR, "internalError", out);
			return 1;
		}
		reply_resp(ca, resp, get, out);
		pthread_rwlock_wrlock(&ca->lock);
		{
			const struct srv_rec *rec = srv_snap_find(ca->snap, key.serial, key.len);
			if (srv_resp_fits(resp, rec, now))
				keep(ca, &key, rec, resp);
			else
				srv_resp_free(resp);
		}
		pthread_rwlock_unlock(&ca->lock);
	} else {
		struct srv_blob *b = srv_blob_take(der, len);
		if (b == NULL) {
			reply_error(c, OCSP_RESPONSE_STATUS_INTERNALERROR, "internalError", out);
			return 1;
		}
		out->http = 200;
		out->type = "application/ocsp-response";
		out->body = b;
		out->kind = "ocsp";
		out->result = r->n > 1 ? "multi" : status_result(s[0].status);
		snprintf(out->ca, sizeof(out->ca), "%s", ca->name);
	}
	out->live = 1;
	return 1;
}

/* The CA whose hashes @id names (a reference), NULL when none. */
static struct srv_ca *find_ca(struct srv_core *c, const struct srv_certid *id)
{
	size_t i;
	int j;

	for (i = 0; i < c->ncas; i++) {
		struct srv_ca *ca = c->cas[i];
		for (j = 0; j < SRV_NMD; j++)
			if (ca->h[j].nid == id->md_nid && ca->h[j].len == id->hash_len &&
			    id->hash_len > 0 &&
			    memcmp(ca->h[j].name, id->name_hash, id->hash_len) == 0 &&
			    memcmp(ca->h[j].key, id->key_hash, id->hash_len) == 0)
				return ca;
	}
	return NULL;
}

int srv_core_ocsp(struct srv_core *c, const unsigned char *req, size_t len, int get,
                  struct srv_reply *out)
{
	struct srv_ocsp_req *r;
	struct srv_ca *ca = NULL;
	size_t i;
	int nonce;

	memset(out, 0, sizeof(*out));
	if ((r = malloc(sizeof(*r))) == NULL) {
		reply_error(c, OCSP_RESPONSE_STATUS_INTERNALERROR, "internalError", out);
		return RES_OK;
	}
	if (len > c->o->max_request || srv_ocsp_req_parse(req, len, r) != RES_OK || r->n == 0) {
		reply_error(c, OCSP_RESPONSE_STATUS_MALFORMEDREQUEST, "malformedRequest", out);
		goto out;
	}
	pthread_rwlock_rdlock(&c->lock);
	ca = find_ca(c, &r->ids[0]);
	for (i = 1; ca != NULL && i < r->n; i++)
		if (find_ca(c, &r->ids[i]) != ca)
			ca = NULL;
	srv_ca_ref(ca);
	pthread_rwlock_unlock(&c->lock);
	if (ca == NULL) {
		reply_error(c, OCSP_RESPONSE_STATUS_UNAUTHORIZED, "unauthorized", out);
		goto out;
	}
	nonce = c->o->nonce == SRV_NONCE_ECHO && r->has_nonce;
	if (r->n == 1 && !nonce && stored(ca, &r->ids[0], get, out))
		goto out;
	if (live(c, ca, r, nonce, get && !nonce, out))
		goto out;
	if (r->n == 1 && nonce && stored(ca, &r->ids[0], get, out))
		goto out;
	reply_error(c, OCSP_RESPONSE_STATUS_TRYLATER, "tryLater", out);
	snprintf(out->ca, sizeof(out->ca), "%s", ca->name);
out:
	srv_ca_unref(ca);
	free(r);
	return RES_OK;
}

static void reply_crl(struct srv_ca *ca, struct srv_reply *out)
{
	pthread_rwlock_rdlock(&ca->lock);
	out->kind = "crl";
	snprintf(out->ca, sizeof(out->ca), "%s", ca->name);
	if (ca->crl != NULL) {
		out->http = 200;
		out->type = "application/pkix-crl";
		out->body = srv_blob_ref(ca->crl->blob);
		out->result = "crl";
		out->last_modified = ca->crl->this_update;
		out->expires = ca->crl->next_update;
		snprintf(out->etag, sizeof(out->etag), "%s", ca->crl->etag);
	} else {
		out->http = 503;
		out->result = "tryLater";
	}
	pthread_rwlock_unlock(&ca->lock);
}

int srv_core_get(struct srv_core *c, const char *path, size_t len, struct srv_reply *out)
{
	struct srv_ca *crl_ca = NULL, *ocsp_ca = NULL;
	const char *rest = NULL;
	size_t best = 0, i, j, rlen = 0;
	unsigned char *buf;
	size_t n = 0;

	memset(out, 0, sizeof(*out));
	pthread_rwlock_rdlock(&c->lock);
	for (i = 0; i < c->ncas && crl_ca == NULL; i++) {
		struct srv_ca *ca = c->cas[i];
		for (j = 0; ca->crl_paths[j] != NULL; j++)
			if (strlen(ca->crl_paths[j]) == len &&
			    memcmp(ca->crl_paths[j], path, len) == 0)
				crl_ca = srv_ca_ref(ca);
		if (crl_ca != NULL)
			break;
		{
			const char *p = ca->ocsp_path;
			size_t pl = strlen(p);
			while (pl > 0 && p[pl - 1] == '/')
				pl--; /* "/" and "/ocsp/" as "" and "/ocsp" */
			if (len > pl + 1 && memcmp(path, p, pl) == 0 && path[pl] == '/' &&
			    (ocsp_ca == NULL || pl + 1 > best)) {
				srv_ca_unref(ocsp_ca);
				ocsp_ca = srv_ca_ref(ca);
				best = pl + 1;
				rest = path + pl + 1;
				rlen = len - pl - 1;
			}
		}
	}
	pthread_rwlock_unlock(&c->lock);
	if (crl_ca != NULL) {
		srv_ca_unref(ocsp_ca);
		reply_crl(crl_ca, out);
		srv_ca_unref(crl_ca);
		return RES_OK;
	}
	if (ocsp_ca == NULL) {
		out->http = 404;
		out->kind = "other";
		out->result = "notFound";
		return RES_OK;
	}
	srv_ca_unref(ocsp_ca);
	if ((buf = malloc(c->o->max_request + 1)) == NULL) {
		reply_error(c, OCSP_RESPONSE_STATUS_INTERNALERROR, "internalError", out);
		return RES_OK;
	}
	if (srv_ocsp_get_decode(rest, rlen, buf, c->o->max_request, &n) != RES_OK)
		n = 0;
	if (n == 0 || buf[0] != 0x30) {
		if (best == 1) {
			/*
			 * under "/", a path that is no DER SEQUENCE in base64 is not
			 * an OCSP request at all (/favicon.ico): 404, not malformedRequest
			 */
			out->http = 404;
			out->kind = "other";
			out->result = "notFound";
		} else {
			reply_error(c, OCSP_RESPONSE_STATUS_MALFORMEDREQUEST, "malformedRequest",
			            out);
		}
	} else {
		srv_core_ocsp(c, buf, n, 1, out);
	}
	free(buf);
	return RES_OK;
}

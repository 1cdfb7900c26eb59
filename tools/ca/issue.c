/*
 * issue.c - a batch of CSRs issued: every request checked (in threads), and
 * only when all pass, signed on the token (in threads, one login) and
 * recorded in one transaction; a serial taken meanwhile is drawn and signed
 * again.
 */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ca-int.h"
#include "parallel.h"
#include "result.h"
#include "testhook.h"

/* how often a serial already taken is drawn again (never, in practice) */
#define SERIAL_RETRIES 8

struct job {
	struct ca *ca;
	const struct ca_issue_opts *opts;
	struct ca_req *reqs;
	const struct ca_batch_exts *exts;
	size_t n, done;       /* requests done in the current stage */
	pthread_mutex_t lock; /* one progress call at a time */
};

/* One more request through @stage: told to the caller's progress function. */
static void advance(struct job *j, enum ca_stage stage)
{
	if (j->opts->progress == NULL)
		return;
	pthread_mutex_lock(&j->lock);
	j->done++;
	j->opts->progress(j->opts->progress_arg, stage, j->done, j->n);
	pthread_mutex_unlock(&j->lock);
}

static int check_one(size_t i, void *arg)
{
	struct job *j = arg;
	int rc = ca_req_check(j->ca, j->opts, &j->reqs[i]);

	advance(j, CA_STAGE_CHECKED);
	return rc;
}

/* r->row from r->cert (the record to insert). */
static int record_of(struct ca_req *r, const struct ca_issue_opts *o)
{
	int rc;

	cadb_row_free(&r->row);
	if ((rc = ca_row_from_cert(r->cert, &r->row)) != RES_OK)
		return rc;
	r->row.issued_at = (int64_t)time(NULL);
	if ((r->row.profile = strdup(ca_profile_name(o->profile))) == NULL)
		return res_set(RES_NOMEM, "out of memory");
	return RES_OK;
}

static int sign_one(size_t i, void *arg)
{
	struct job *j = arg;
	struct ca_req *r = &j->reqs[i];

	if ((r->rc = ca_issue_one(j->ca, r, j->opts, j->exts)) == RES_OK)
		r->rc = record_of(r, j->opts);
	if (r->rc != RES_OK)
		snprintf(r->msg, sizeof(r->msg), "%s", res_message());
	advance(j, CA_STAGE_SIGNED);
	return r->rc;
}

/* A lookup of the certificates of a request's subject. */
struct dup_find {
	const struct ca_csr *csr;
	int64_t now;
	char *serial; /* CA_SERIAL_MAX: the first valid one with the same key */
};

/* Whether the certificate @r is valid now and certifies the request's key. */
static int dup_row(const struct cadb_row *r, void *arg)
{
	struct dup_find *d = arg;
	const unsigned char *p = r->der, *bits;
	ASN1_OBJECT *alg;
	X509 *x = NULL;
	int len, same;

	if (r->status != 'V' || r->not_after < d->now || p == NULL ||
	    (x = d2i_X509(NULL, &p, (long)r->der_len)) == NULL)
		return 0; /* an imported record without its certificate is not compared */
	same = X509_PUBKEY_get0_param(&alg, &bits, &len, NULL, X509_get_X509_PUBKEY(x)) == 1 &&
	       OBJ_cmp(alg, d->csr->key_alg->algorithm) == 0 && len == d->csr->key_len &&
	       memcmp(bits, d->csr->key_bits, (size_t)len) == 0;
	X509_free(x);
	if (!same)
		return 0;
	snprintf(d->serial, CA_SERIAL_MAX, "%s", r->serial);
	return -1; /* found: the walk stops with -1 (no result.h code) */
}

/*
 * RES_ALREADY (r->rc, r->msg, r->dup) when the subject and key of checked
 * request @r have a valid certificate in the database; on the caller's
 * thread (the connection's).
 */
static int dup_check(struct ca *ca, struct ca_req *r, int64_t now)
{
	struct dup_find d = { &r->parsed, now, r->dup };
	char *subject = NULL;
	int rc;

	r->dup[0] = '\0';
	if ((rc = pki_name_oneline(r->parsed.subject, &subject)) == RES_OK)
		rc = cadb_foreach_subject(ca->db, subject, dup_row, &d);
	if (rc == -1)
		rc = res_set(RES_ALREADY,
		             "%s and its key have a valid certificate already, serial %s "
		             "(not issued twice)",
		             subject[0] != '\0' ? subject : "the empty subject", r->dup);
	free(subject);
	if (rc != RES_OK) {
		r->rc = rc;
		snprintf(r->msg, sizeof(r->msg), "%s", res_message());
	}
	return rc;
}

/* The first failed request's result, its message made the thread's. */
static int first_failure(struct ca_req *reqs, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (reqs[i].rc != RES_OK)
			return res_set(reqs[i].rc, "%s", reqs[i].msg);
	return res_set(RES_FAIL, "issuing failed");
}

/* Records every request in one transaction; RES_OK once committed. */
static int record_all(struct ca *ca, const struct ca_issue_opts *o, struct ca_req *reqs, size_t n,
                      const struct ca_batch_exts *exts)
{
	size_t i;
	int rc, attempt;

	if ((rc = cadb_begin(ca->db)) != RES_OK)
		return rc;
	for (i = 0; i < n; i++) {
		for (attempt = 0; (rc = cadb_insert(ca->db, &reqs[i].row)) == RES_TAKEN &&
		                  attempt < SERIAL_RETRIES;
		     attempt++) {
			/* taken by another certificate: draw again and sign again */
			if ((rc = ca_issue_one(ca, &reqs[i], o, exts)) != RES_OK ||
			    (rc = record_of(&reqs[i], o)) != RES_OK)
				goto fail;
		}
		if (rc == RES_TAKEN)
			rc = res_set(RES_DB, "no free serial after %d draws", SERIAL_RETRIES);
		if (rc != RES_OK)
			goto fail;
		testhook_crash("in-transaction");
		if (o->progress != NULL)
			o->progress(o->progress_arg, CA_STAGE_RECORDED, i + 1, n);
	}
	if ((rc = cadb_commit(ca->db)) != RES_OK)
		goto fail;
	testhook_crash("after-commit");
	return RES_OK;
fail:
	cadb_rollback(ca->db);
	return rc;
}

int ca_issue(struct ca *ca, const struct ca_issue_opts *o, struct ca_req *reqs, size_t n)
{
	struct ca_batch_exts exts;
	struct job j = { ca, o, reqs, &exts, n, 0, PTHREAD_MUTEX_INITIALIZER };
	int64_t now = (int64_t)time(NULL);
	size_t bad, i;
	int rc;

	if (ca->key == NULL || ca->cert == NULL)
		return res_set(RES_FAIL, "the CA was opened without its key or certificate");
	if ((rc = ca_batch_exts_make(ca, o, &exts)) != RES_OK)
		return rc;
	/*
	 * Checked and signed by threads: with the requests taken apart by
	 * csr.c (no decoder chains), OpenSSL's shared locks no longer
	 * serialise them, and one login serves all.
	 */
	if ((bad = parallel_run(n, o->threads, 0, check_one, &j)) > 0) {
		rc = first_failure(reqs, n);
		if (n > 1)
			rc = res_set(rc, "%zu of %zu CSRs refused; nothing issued", bad, n);
		goto out;
	}
	/* what was issued before is not issued again (a lost output retried) */
	for (i = 0, bad = 0; i < n; i++) {
		if ((rc = dup_check(ca, &reqs[i], now)) == RES_ALREADY && o->again) {
			reqs[i].rc = RES_OK; /* issued again, as asked; r->dup says what it had */
			reqs[i].msg[0] = '\0';
		} else if (rc != RES_OK) {
			bad++;
		}
	}
	if (bad > 0) {
		rc = first_failure(reqs, n);
		if (n > 1)
			rc = res_set(rc, "%zu of %zu CSRs refused; nothing issued", bad, n);
		goto out;
	}
	j.done = 0;
	if (parallel_run(n, o->threads, 1, sign_one, &j) > 0) {
		rc = first_failure(reqs, n);
		goto out;
	}
	rc = record_all(ca, o, reqs, n, &exts);
out:
	ca_batch_exts_free(&exts);
	pthread_mutex_destroy(&j.lock);
	return rc;
}

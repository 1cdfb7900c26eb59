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
		if (o->progress != NULL)
			o->progress(o->progress_arg, CA_STAGE_RECORDED, i + 1, n);
	}
	if ((rc = cadb_commit(ca->db)) != RES_OK)
		goto fail;
	return RES_OK;
fail:
	cadb_rollback(ca->db);
	return rc;
}

int ca_issue(struct ca *ca, const struct ca_issue_opts *o, struct ca_req *reqs, size_t n)
{
	struct ca_batch_exts exts;
	struct job j = { ca, o, reqs, &exts, n, 0, PTHREAD_MUTEX_INITIALIZER };
	size_t bad;
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

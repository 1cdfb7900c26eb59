/*
 * check.c - TEMPORARY STAND-IN of the tls engineer (the verify engineer's
 * check.c replaces it at the merge): pki_verify_chain's result wrapped in a
 * rev_report with every element REV_STATE_SKIPPED (no revocation checked).
 */
#include "config.h"

#include <stdlib.h>

#include "check.h"
#include "result.h"

int rev_verify(OSSL_LIB_CTX *libctx, X509 *leaf, STACK_OF(X509) * untrusted,
               STACK_OF(X509) * trusted, const struct rev_verify_opts *o, struct rev_report **prep)
{
	struct rev_report *r;
	size_t i;
	int rc;

	*prep = NULL;
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return res_set(RES_NOMEM, "out of memory");
	if ((rc = pki_verify_chain(libctx, leaf, untrusted, trusted, &o->pki, &r->chain)) !=
	    RES_OK) {
		free(r);
		return rc;
	}
	if ((r->elems = calloc(r->chain->n ? r->chain->n : 1, sizeof(*r->elems))) == NULL) {
		rev_report_free(r);
		return res_set(RES_NOMEM, "out of memory");
	}
	for (i = 0; i < r->chain->n; i++)
		r->elems[i].reason = -1;
	r->fit = r->chain->ok;
	*prep = r;
	return RES_OK;
}

void rev_report_free(struct rev_report *r)
{
	if (r == NULL)
		return;
	if (r->elems != NULL && r->chain != NULL) {
		size_t i, j;
		for (i = 0; i < r->chain->n; i++) {
			free(r->elems[i].decided_by);
			for (j = 0; r->elems[i].notes != NULL && r->elems[i].notes[j] != NULL; j++)
				free(r->elems[i].notes[j]);
			free(r->elems[i].notes);
		}
	}
	free(r->elems);
	pki_chain_result_free(r->chain);
	free(r);
}

const char *rev_state_name(enum rev_state s)
{
	switch (s) {
	case REV_STATE_GOOD: return "good";
	case REV_STATE_REVOKED: return "revoked";
	case REV_STATE_UNDETERMINED: return "undetermined";
	default: return "not checked";
	}
}

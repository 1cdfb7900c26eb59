/*
 * check.c - the verdict (check.h): the PKI library's chain, then the
 * revocation of each element from the sources asked for, in order.  The
 * CRL method asks the store, then the CRLs embedded in the trust bundle,
 * then (when allowed) the element's CDPs; the OCSP method asks the
 * responder the certificate names (or the one given).  The first source
 * with a current answer decides; an expired CRL, when nothing current
 * answers, decides "revoked" (the deployment guide's rule).  Every source
 * not used leaves a note saying why.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/err.h>
#include <openssl/ocsp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "archive.h"
#include "check.h"
#include "result.h"

#define CRL_SKEW 300 /* seconds a CRL's thisUpdate may be ahead of our clock */

/* What one element's check is working on. */
struct job {
	OSSL_LIB_CTX *libctx;
	const struct rev_verify_opts *o;
	int64_t at;
	X509 *cert, *issuer;
	struct rev_elem_report *rep;
	char *issuer_name; /* pki_name_oneline of the issuer's subject */
	int nomem;
	/* an expired CRL seen (decides "revoked" when nothing current answers) */
	char *expired_by;
	enum rev_source expired_src;
	const char *why; /* the first specific reason a source was not used */
};

const char *rev_state_name(enum rev_state s)
{
	switch (s) {
	case REV_STATE_GOOD: return "good";
	case REV_STATE_REVOKED: return "revoked";
	case REV_STATE_UNDETERMINED: return "undetermined";
	default: return "not checked";
	}
}

const char *rev_reason_name(int reason)
{
	static const char *const names[] = {
		"unspecified",   "keyCompromise",        "cACompromise",    "affiliationChanged",
		"superseded",    "cessationOfOperation", "certificateHold", NULL,
		"removeFromCRL", "privilegeWithdrawn",   "aACompromise",
	};

	if (reason < 0 || (size_t)reason >= sizeof(names) / sizeof(names[0]))
		return NULL;
	return names[reason];
}

const char *rev_problem_name(unsigned flag)
{
	switch (flag) {
	case PKI_E_NOT_YET_VALID: return "not-yet-valid";
	case PKI_E_EXPIRED: return "expired";
	case PKI_E_BAD_SIGNATURE: return "bad-signature";
	case PKI_E_NOT_CA: return "not-ca";
	case PKI_E_PATHLEN: return "pathlen";
	case PKI_E_WEAK_KEY: return "weak-key";
	case PKI_E_WEAK_DIGEST: return "weak-digest";
	case PKI_E_NO_ISSUER: return "no-issuer";
	case PKI_E_UNTRUSTED_ROOT: return "untrusted-root";
	case PKI_E_PURPOSE: return "purpose";
	case PKI_E_NAME: return "name";
	case PKI_E_NAME_IP: return "name-ip";
	case PKI_E_KEY_LARGE: return "rsa-key-over-4096";
	case PKI_E_OTHER: return "other";
	default: return "unknown";
	}
}

int rev_order_parse(const char *s, enum rev_method order[2])
{
	order[0] = order[1] = REV_M_NONE;
	if (strcmp(s, "off") == 0)
		return RES_OK;
	if (strcmp(s, "crl") == 0)
		order[0] = REV_M_CRL;
	else if (strcmp(s, "ocsp") == 0)
		order[0] = REV_M_OCSP;
	else if (strcmp(s, "crl,ocsp") == 0)
		order[0] = REV_M_CRL, order[1] = REV_M_OCSP;
	else if (strcmp(s, "ocsp,crl") == 0)
		order[0] = REV_M_OCSP, order[1] = REV_M_CRL;
	else
		return res_set(RES_BAD_INPUT, "'%s': not off, crl, ocsp, crl,ocsp or ocsp,crl", s);
	return RES_OK;
}

/* ---- the report ----------------------------------------------------- */

static void note(struct job *j, const char *why, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void note(struct job *j, const char *why, const char *fmt, ...)
{
	struct rev_elem_report *rep = j->rep;
	char line[1024], **nv;
	size_t n = 0;
	va_list ap;

	if (why != NULL && (j->why == NULL || strcmp(j->why, "no-source") == 0))
		j->why = why;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	while (rep->notes != NULL && rep->notes[n] != NULL)
		n++;
	if ((nv = realloc(rep->notes, (n + 2) * sizeof(*nv))) == NULL) {
		j->nomem = 1;
		return;
	}
	rep->notes = nv;
	nv[n + 1] = NULL;
	if ((nv[n] = strdup(line)) == NULL)
		j->nomem = 1;
}

static char *dupf(struct job *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static char *dupf(struct job *j, const char *fmt, ...)
{
	char line[2048], *s;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if ((s = strdup(line)) == NULL)
		j->nomem = 1;
	return s;
}

/* Decides the element: @state with its evidence (@by taken). */
static void decide(struct job *j, enum rev_state state, int reason, int64_t when, char *by,
                   enum rev_source src)
{
	j->rep->state = state;
	j->rep->reason = reason;
	j->rep->revoked_at = when;
	free(j->rep->decided_by);
	j->rep->decided_by = by;
	j->rep->source = src;
}

static int decided(const struct job *j)
{
	return j->rep->state == REV_STATE_GOOD || j->rep->state == REV_STATE_REVOKED;
}

/* ---- one CRL in memory (bundle, download) ---------------------------- */

/* The CRL's number as hex ("" when none). */
static void crl_number(X509_CRL *crl, char *out)
{
	ASN1_INTEGER *num = X509_CRL_get_ext_d2i(crl, NID_crl_number, NULL, NULL);

	out[0] = '\0';
	if (num != NULL && pki_serial_of(num, out) != RES_OK)
		out[0] = '\0';
	ASN1_INTEGER_free(num);
	ERR_clear_error();
}

/*
 * Applies @crl (already matched by issuer name) to the job: signature by
 * the issuer's key, time, then the serial.  @what names the source for
 * notes and evidence ("CRL embedded in the trust bundle").
 */
static void apply_crl(struct job *j, X509_CRL *crl, const char *what, enum rev_source src)
{
	X509_REVOKED *rev = NULL;
	ASN1_ENUMERATED *reason;
	int64_t tu, nu;
	char num[PKI_SERIAL_MAX], nums[PKI_SERIAL_MAX + 2], iso[PKI_TIME_ISO_MAX];
	int r, rsn = -1;

	crl_number(crl, num);
	snprintf(nums, sizeof(nums), "%s%s", num[0] ? "#" : "", num);
	if (X509_CRL_get_ext_by_NID(crl, NID_delta_crl, -1) >= 0) {
		note(j, NULL, "%s: a delta CRL, not used", what);
		return;
	}
	if (X509_CRL_verify(crl, X509_get0_pubkey(j->issuer)) != 1) {
		ERR_clear_error();
		note(j, "bad-signature", "%s%s%s: its signature does not verify with the key of %s",
		     what, num[0] ? " " : "", nums, j->issuer_name);
		return;
	}
	tu = pki_asn1_time_get(X509_CRL_get0_lastUpdate(crl));
	nu = X509_CRL_get0_nextUpdate(crl) != NULL
	         ? pki_asn1_time_get(X509_CRL_get0_nextUpdate(crl))
	         : 0;
	if (tu > j->at + CRL_SKEW) {
		pki_time_iso(tu, iso);
		note(j, "not-yet-valid", "%s%s%s: not valid before %s", what, num[0] ? " " : "",
		     nums, iso);
		return;
	}
	if (nu != 0 && nu < j->at) {
		pki_time_iso(nu, iso);
		note(j, "expired-crl", "%s%s%s signed by %s: expired on %s (counts as revoked)",
		     what, num[0] ? " " : "", nums, j->issuer_name, iso);
		if (j->expired_by == NULL) {
			j->expired_by = dupf(j, "%s%s%s, signed by %s, expired %s", what,
			                     num[0] ? " " : "", nums, j->issuer_name, iso);
			j->expired_src = src;
		}
		return;
	}
	r = X509_CRL_get0_by_serial(crl, &rev, (ASN1_INTEGER *)X509_get0_serialNumber(j->cert));
	if (r == 1 && rev != NULL) {
		reason = X509_REVOKED_get_ext_d2i(rev, NID_crl_reason, NULL, NULL);
		if (reason != NULL)
			rsn = (int)ASN1_ENUMERATED_get(reason);
		ASN1_ENUMERATED_free(reason);
		ERR_clear_error();
		decide(j, REV_STATE_REVOKED, rsn,
		       pki_asn1_time_get(X509_REVOKED_get0_revocationDate(rev)),
		       dupf(j, "CRL%s%s (%s, signed by %s)", num[0] ? " " : "", nums, what,
		            j->issuer_name),
		       src);
		return;
	}
	decide(j, REV_STATE_GOOD, -1, 0,
	       dupf(j, "CRL%s%s (%s, signed by %s)", num[0] ? " " : "", nums, what, j->issuer_name),
	       src);
}

/*
 * The CRLs embedded in the trust bundle whose issuer is the element's
 * issuer, the newest (thisUpdate) first: an older CRL of the same CA in the
 * bundle does not hide a newer listing.
 */
static void crl_bundle(struct job *j)
{
	STACK_OF(X509_CRL) *crls = j->o->bundle_crls;
	int n = crls != NULL ? sk_X509_CRL_num(crls) : 0, i, best, seen = 0;
	char *used;

	if (n > 0 && (used = calloc((size_t)n, 1)) == NULL) {
		j->nomem = 1;
		return;
	}
	for (; n > 0 && !decided(j); seen++) {
		int64_t bt = 0, t;

		for (best = -1, i = 0; i < n; i++) {
			X509_CRL *crl = sk_X509_CRL_value(crls, i);

			if (used[i] || X509_NAME_cmp(X509_CRL_get_issuer(crl),
			                             X509_get_subject_name(j->issuer)) != 0)
				continue;
			t = pki_asn1_time_get(X509_CRL_get0_lastUpdate(crl));
			if (best < 0 || t > bt)
				best = i, bt = t;
		}
		if (best < 0)
			break;
		used[best] = 1;
		apply_crl(j, sk_X509_CRL_value(crls, best), "CRL embedded in the trust bundle",
		          REV_SRC_BUNDLE);
	}
	if (n > 0)
		free(used);
	if (!seen)
		note(j, "no-source", "trust bundle: no CRL of %s embedded", j->issuer_name);
}

/* The store's answer. */
static void crl_store(struct job *j)
{
	struct rev_crl_answer a;
	char iso[PKI_TIME_ISO_MAX], nums[PKI_SERIAL_MAX + 2];
	const char *origin;
	int rc;

	if (j->o->store == NULL) {
		note(j, "no-source", "CRL store: none given");
		return;
	}
	memset(&a, 0, sizeof(a));
	rc = rev_store_lookup(j->o->store, j->cert, j->issuer, j->at, j->o->use_both, &a);
	if (rc != RES_OK) {
		note(j, "error", "CRL store: %s", res_message());
		return;
	}
	snprintf(nums, sizeof(nums), "%s%s", a.info.crl_number[0] ? "#" : "", a.info.crl_number);
	origin = a.info.origin == REV_ORIGIN_DOWNLOAD ? "download" : "manual";
	switch (a.status) {
	case REV_CRL_NONE: note(j, "no-source", "CRL store: no CRL of %s", j->issuer_name); break;
	case REV_CRL_GOOD:
	case REV_CRL_REVOKED:
		decide(j, a.status == REV_CRL_GOOD ? REV_STATE_GOOD : REV_STATE_REVOKED,
		       a.status == REV_CRL_GOOD ? -1 : a.reason, a.revoked_at,
		       dupf(j, "CRL%s%s (store %s, %s %s, signed by %s)", nums[0] ? " " : "", nums,
		            a.info.id ? a.info.id : "?", origin,
		            a.info.source ? a.info.source : "?",
		            a.info.issuer ? a.info.issuer : j->issuer_name),
		       REV_SRC_STORE);
		break;
	case REV_CRL_EXPIRED:
		pki_time_iso(a.info.next_update, iso);
		note(j, "expired-crl",
		     "CRL store: CRL%s%s (%s %s) expired on %s (counts as revoked)",
		     nums[0] ? " " : "", nums, origin, a.info.source ? a.info.source : "?", iso);
		if (j->expired_by == NULL) {
			j->expired_by =
			    dupf(j, "CRL%s%s (store %s, %s %s, signed by %s), expired %s",
			         nums[0] ? " " : "", nums, a.info.id ? a.info.id : "?", origin,
			         a.info.source ? a.info.source : "?", j->issuer_name, iso);
			j->expired_src = REV_SRC_STORE;
		}
		break;
	case REV_CRL_NOT_YET:
		pki_time_iso(a.info.this_update, iso);
		note(j, "not-yet-valid", "CRL store: CRL%s%s not valid before %s",
		     nums[0] ? " " : "", nums, iso);
		break;
	}
	rev_crl_answer_clear(&a);
}

/* ---- CDP download ---------------------------------------------------- */

struct dl {
	struct job *j;
	const char *url;
	STACK_OF(X509) * issuers;
};

static int dl_crl(void *ctx, const char *member, const unsigned char *der, size_t len)
{
	struct dl *d = ctx;
	struct job *j = d->j;
	const unsigned char *p = der;
	X509_CRL *crl;
	struct rev_put_opts po = { 0 };
	char what[1200];
	int rc;

	(void)member;
	if (decided(j))
		return RES_OK;
	if ((crl = d2i_X509_CRL(NULL, &p, (long)len)) == NULL) {
		ERR_clear_error();
		note(j, "error", "download %s: not a CRL", d->url);
		return RES_OK;
	}
	if (X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_subject_name(j->issuer)) != 0) {
		note(j, NULL, "download %s: a CRL of another issuer", d->url);
		X509_CRL_free(crl);
		return RES_OK;
	}
	snprintf(what, sizeof(what), "download %s", d->url);
	apply_crl(j, crl, what, REV_SRC_DOWNLOAD);
	X509_CRL_free(crl);
	if (j->o->store != NULL && decided(j)) {
		po.origin = REV_ORIGIN_DOWNLOAD;
		po.source = d->url;
		po.issuers = d->issuers;
		po.now = j->at;
		rc = rev_store_put(j->o->store, der, len, &po, NULL);
		if (rc != RES_OK && rc != RES_ALREADY)
			note(j, NULL, "download %s: not stored: %s", d->url, res_message());
	}
	return RES_OK;
}

static void crl_download(struct job *j)
{
	STACK_OF(DIST_POINT) *cdps =
	    X509_get_ext_d2i(j->cert, NID_crl_distribution_points, NULL, NULL);
	struct rev_http_req req = { 0 };
	struct rev_http_resp resp;
	struct dl d = { j, NULL, NULL };
	int i, k, urls = 0;

	if (!j->o->cdp_download) {
		note(j, NULL, "CDP download: not allowed (--cdp-download)");
		goto out;
	}
	if ((d.issuers = sk_X509_new_null()) == NULL || !sk_X509_push(d.issuers, j->issuer)) {
		j->nomem = 1;
		goto out;
	}
	for (i = 0; i < sk_DIST_POINT_num(cdps) && !decided(j); i++) {
		DIST_POINT *dp = sk_DIST_POINT_value(cdps, i);
		GENERAL_NAMES *gens;

		if (dp->distpoint == NULL || dp->distpoint->type != 0)
			continue;
		gens = dp->distpoint->name.fullname;
		for (k = 0; k < sk_GENERAL_NAME_num(gens) && !decided(j); k++) {
			GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, k);
			char url[1024];
			int n;

			if (g->type != GEN_URI)
				continue;
			n = ASN1_STRING_length(g->d.uniformResourceIdentifier);
			if (n <= 0 || (size_t)n >= sizeof(url))
				continue;
			memcpy(url, ASN1_STRING_get0_data(g->d.uniformResourceIdentifier),
			       (size_t)n);
			url[n] = '\0';
			if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0) {
				note(j, NULL, "CDP %s: not http or https", url);
				continue;
			}
			urls++;
			req.url = url;
			req.ca_file = j->o->https_ca_file;
			req.limits = j->o->limits;
			memset(&resp, 0, sizeof(resp));
			if (rev_http(&req, &resp) != RES_OK) {
				note(j, "unreachable", "CDP %s: %s", url, res_message());
				continue;
			}
			if (resp.status != 200)
				note(j, "unreachable", "CDP %s: HTTP status %ld", url, resp.status);
			else {
				d.url = url;
				if (rev_crls_in(resp.body, resp.len, j->o->limits, dl_crl, &d) !=
				    RES_OK)
					note(j, "error", "CDP %s: %s", url, res_message());
			}
			rev_http_resp_clear(&resp);
		}
	}
	if (urls == 0)
		note(j, "no-source",
		     "CDP download: the certificate names no http(s) distribution "
		     "point");
out:
	sk_X509_free(d.issuers);
	sk_DIST_POINT_pop_free(cdps, DIST_POINT_free);
	ERR_clear_error();
}

static void method_crl(struct job *j)
{
	crl_store(j);
	if (!decided(j))
		crl_bundle(j);
	/* a current answer or, when only expired ones are known, a fresh one from the CDP */
	if (!decided(j))
		crl_download(j);
	if (!decided(j) && j->expired_by != NULL) {
		decide(j, REV_STATE_REVOKED, -1, 0, j->expired_by, j->expired_src);
		j->expired_by = NULL;
		j->rep->expired_crl = 1;
	}
}

/* ---- OCSP ------------------------------------------------------------- */

static const char *ocsp_why(enum rev_ocsp_why w)
{
	switch (w) {
	case REV_OCSP_WHY_NO_URL: return "no-source";
	case REV_OCSP_WHY_UNREACHABLE:
	case REV_OCSP_WHY_ERROR_STATUS: return "unreachable";
	case REV_OCSP_WHY_BAD_SIGNATURE: return "bad-signature";
	case REV_OCSP_WHY_UNAUTHORISED: return "unauthorised";
	case REV_OCSP_WHY_NONCE: return "nonce";
	case REV_OCSP_WHY_STALE: return "stale";
	case REV_OCSP_WHY_NO_ANSWER: return "unknown";
	default: return "error";
	}
}

static void method_ocsp(struct job *j)
{
	struct rev_ocsp_opts oo = j->o->ocsp;
	struct rev_ocsp_answer a;
	char *url = NULL, iso[PKI_TIME_ISO_MAX];

	if (oo.url == NULL && (url = rev_ocsp_url_of(j->cert)) == NULL) {
		note(j, "no-source", "OCSP: the certificate names no responder");
		return;
	}
	if (oo.at == 0)
		oo.at = j->at;
	if (oo.limits == NULL)
		oo.limits = j->o->limits;
	if (url != NULL)
		oo.url = url;
	memset(&a, 0, sizeof(a));
	if (rev_ocsp_check(j->libctx, j->cert, j->issuer, &oo, &a) != RES_OK) {
		note(j, "error", "OCSP %s: %s", oo.url, res_message());
		goto out;
	}
	pki_time_iso(a.produced_at, iso);
	switch (a.status) {
	case REV_OCSP_GOOD:
	case REV_OCSP_REVOKED:
		decide(j, a.status == REV_OCSP_GOOD ? REV_STATE_GOOD : REV_STATE_REVOKED,
		       a.status == REV_OCSP_GOOD ? -1 : a.reason, a.revoked_at,
		       dupf(j, "OCSP %s responder %s%s, produced %s", a.url[0] ? a.url : oo.url,
		            a.responder, a.delegated ? " (delegated)" : "", iso),
		       REV_SRC_OCSP);
		break;
	case REV_OCSP_UNKNOWN:
		note(j, "unknown", "OCSP %s: the responder does not know the certificate",
		     a.url[0] ? a.url : oo.url);
		break;
	default:
		note(j, ocsp_why(a.why), "OCSP %s: %s%s%s", a.url[0] ? a.url : oo.url,
		     rev_ocsp_why_name(a.why), a.detail[0] ? ": " : "", a.detail);
		break;
	}
out:
	free(url);
}

/* ---- the verdict ------------------------------------------------------ */

static void elem_free(struct rev_elem_report *e)
{
	size_t i;

	free(e->decided_by);
	for (i = 0; e->notes != NULL && e->notes[i] != NULL; i++)
		free(e->notes[i]);
	free(e->notes);
}

void rev_report_free(struct rev_report *r)
{
	size_t i;

	if (r == NULL)
		return;
	for (i = 0; r->elems != NULL && r->chain != NULL && i < r->chain->n; i++)
		elem_free(&r->elems[i]);
	free(r->elems);
	pki_chain_result_free(r->chain);
	for (i = 0; r->aia_notes != NULL && r->aia_notes[i] != NULL; i++)
		free(r->aia_notes[i]);
	free(r->aia_notes);
	free(r);
}

/* Appends a line to r->aia_notes (dropped when out of memory: evidence only). */
static void aia_note(struct rev_report *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void aia_note(struct rev_report *r, const char *fmt, ...)
{
	char line[512], **v;
	size_t n = 0;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	while (r->aia_notes != NULL && r->aia_notes[n] != NULL)
		n++;
	if ((v = realloc(r->aia_notes, (n + 2) * sizeof(*v))) == NULL)
		return;
	r->aia_notes = v;
	v[n] = strdup(line);
	v[n + 1] = NULL;
}

/* At most this many issuers fetched from AIA for one chain. */
#define AIA_MAX_ROUNDS 4

/*
 * The chain of @leaf, fetching a missing issuer from the last element's AIA
 * caIssuers URL and building again (aia_fetch), at most AIA_MAX_ROUNDS times.
 */
static int build_chain(OSSL_LIB_CTX *libctx, X509 *leaf, STACK_OF(X509) * untrusted,
                       STACK_OF(X509) * trusted, const struct rev_verify_opts *o,
                       struct rev_report *r)
{
	STACK_OF(X509) *more = NULL;
	struct pki_chain_elem *last;
	char *url = NULL;
	int round, rc, i;

	if ((rc = pki_verify_chain(libctx, leaf, untrusted, trusted, &o->pki, &r->chain)) !=
	        RES_OK ||
	    !o->aia_fetch)
		return rc;
	for (round = 0; round < AIA_MAX_ROUNDS; round++) {
		last = &r->chain->elems[r->chain->n - 1];
		if (!(last->flags & PKI_E_NO_ISSUER))
			break;
		if (more == NULL) {
			if ((more = sk_X509_new_null()) == NULL)
				return res_set(RES_NOMEM, "out of memory");
			for (i = 0; untrusted != NULL && i < sk_X509_num(untrusted); i++)
				if (!X509_up_ref(sk_X509_value(untrusted, i)) ||
				    !sk_X509_push(more, sk_X509_value(untrusted, i))) {
					rc = res_set(RES_NOMEM, "out of memory");
					goto out;
				}
		}
		i = sk_X509_num(more);
		rc = rev_aia_fetch(last->cert, o->limits, o->https_ca_file, more, &url);
		if (rc != RES_OK || sk_X509_num(more) == i) {
			aia_note(
			    r, "issuer of certificate [%zu]: not fetched from AIA caIssuers: %s",
			    r->chain->n - 1, rc != RES_OK ? res_message() : "no certificate there");
			rc = RES_OK;
			break;
		}
		aia_note(r, "issuer of certificate [%zu] fetched from AIA caIssuers %s",
		         r->chain->n - 1, url);
		free(url);
		url = NULL;
		pki_chain_result_free(r->chain);
		r->chain = NULL;
		if ((rc = pki_verify_chain(libctx, leaf, more, trusted, &o->pki, &r->chain)) !=
		    RES_OK)
			goto out;
	}
	rc = RES_OK;
out:
	free(url);
	sk_X509_pop_free(more, X509_free);
	return rc;
}

static int self_signed(X509 *x)
{
	int r = X509_check_issued(x, x) == X509_V_OK;

	ERR_clear_error();
	return r;
}

/* The revocation of element @i of the chain. */
static int check_elem(OSSL_LIB_CTX *libctx, const struct rev_verify_opts *o, int64_t at,
                      struct pki_chain_result *chain, size_t i, struct rev_elem_report *rep)
{
	struct pki_chain_elem *e = &chain->elems[i];
	struct job j = { libctx, o, at, e->cert, NULL, rep, NULL, 0, NULL, REV_SRC_NONE, NULL };
	int anchor = i + 1 == chain->n && e->trusted && self_signed(e->cert), k;

	rep->reason = -1;
	if (o->order[0] == REV_M_NONE) {
		note(&j, NULL, "revocation checking off");
		goto out;
	}
	if (anchor && !o->check_anchor) {
		note(&j, NULL, "trust anchor: needs no revocation check (RFC 5280 6.2)");
		goto out;
	}
	j.issuer = i + 1 < chain->n ? chain->elems[i + 1].cert : anchor ? e->cert : NULL;
	if (j.issuer == NULL) {
		rep->state = REV_STATE_UNDETERMINED;
		rep->why = "no-issuer";
		note(&j, NULL, "its issuer is not known: no source can be checked");
		goto out;
	}
	if (pki_name_oneline(X509_get_subject_name(j.issuer), &j.issuer_name) != RES_OK)
		goto oom;
	for (k = 0; k < 2 && o->order[k] != REV_M_NONE && !decided(&j); k++) {
		if (o->order[k] == REV_M_CRL)
			method_crl(&j);
		else
			method_ocsp(&j);
	}
	if (!decided(&j)) {
		rep->state = REV_STATE_UNDETERMINED;
		rep->why = j.why != NULL ? j.why : "no-source";
	} else if (rep->expired_crl)
		rep->why = "expired-crl";
	if (rep->state == REV_STATE_GOOD)
		e->rev_status = PKI_REV_GOOD;
	else if (rep->state == REV_STATE_REVOKED)
		e->rev_status = PKI_REV_REVOKED;
	else
		e->rev_status = PKI_REV_UNKNOWN;
	e->rev_reason = rep->reason;
	e->rev_time = rep->revoked_at;
	e->rev_source = (int)rep->source;
out:
	free(j.issuer_name);
	free(j.expired_by);
	if (j.nomem)
		return res_set(RES_NOMEM, "out of memory");
	return RES_OK;
oom:
	j.nomem = 1;
	goto out;
}

int rev_verify(OSSL_LIB_CTX *libctx, X509 *leaf, STACK_OF(X509) * untrusted,
               STACK_OF(X509) * trusted, const struct rev_verify_opts *o, struct rev_report **prep)
{
	struct rev_report *r = NULL;
	int64_t at;
	size_t i;
	int rc;

	*prep = NULL;
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return res_set(RES_NOMEM, "out of memory");
	if ((rc = build_chain(libctx, leaf, untrusted, trusted, o, r)) != RES_OK)
		goto out;
	if ((r->elems = calloc(r->chain->n, sizeof(*r->elems))) == NULL) {
		rc = res_set(RES_NOMEM, "out of memory");
		goto out;
	}
	at = o->pki.at != 0 ? o->pki.at : (int64_t)time(NULL);
	r->fit = r->chain->ok;
	for (i = 0; i < r->chain->n; i++) {
		struct rev_elem_report *rep = &r->elems[i];

		if ((rc = check_elem(libctx, o, at, r->chain, i, rep)) != RES_OK)
			goto out;
		if (rep->state == REV_STATE_REVOKED)
			r->fit = 0;
		if (rep->state == REV_STATE_UNDETERMINED) {
			r->fallback_used = 1;
			if (o->fallback_revoked)
				r->fit = 0;
		}
	}
	*prep = r;
	r = NULL;
	rc = RES_OK;
out:
	rev_report_free(r);
	return rc;
}

/*
 * test-rev-check.c - the verdict (tools/rev/check.c) with the chain of
 * tests/pki-certs.c and CRLs made here.  check.c is linked alone: the CRL
 * store, the OCSP client and HTTP are fakes of this file (their answers
 * set per test), so the order of methods and sources, the fallback, expired
 * CRLs, the trust anchor and the notes are tested without a network.
 */
#include "config.h"

#include <string.h>
#include <time.h>

#include <openssl/x509v3.h>

#include "check.h"
#include "archive.h"
#include "result.h"
#include "pki-certs.h"

/* ---- fakes of store.h, ocsp.h, http.h, archive.h ---------------------- */

static struct {
	enum rev_crl_status status;
	int reason, calls;
} fstore;
static struct {
	enum rev_ocsp_status status;
	enum rev_ocsp_why why;
	int calls;
} focsp;
static struct {
	unsigned char *body; /* NULL: unreachable */
	size_t len;
	int puts;
} fhttp;

int rev_store_lookup(struct rev_store *s, X509 *cert, X509 *issuer, int64_t at, int use_both,
                     struct rev_crl_answer *a)
{
	(void)s, (void)issuer, (void)at, (void)use_both;
	fstore.calls++;
	memset(a, 0, sizeof(*a));
	a->status = cert == leaf ? fstore.status : REV_CRL_NONE;
	a->reason = fstore.reason;
	a->revoked_at = 1000000000;
	a->info.id = strdup("fake1");
	a->info.source = strdup("http://crl.example/inter.crl");
	a->info.origin = REV_ORIGIN_DOWNLOAD;
	a->info.next_update = 1000000000;
	strcpy(a->info.crl_number, "0C");
	return RES_OK;
}
void rev_crl_answer_clear(struct rev_crl_answer *a)
{
	free(a->info.id);
	free(a->info.source);
	memset(a, 0, sizeof(*a));
}
int rev_store_put(struct rev_store *s, const unsigned char *der, size_t len,
                  const struct rev_put_opts *opts, struct rev_crl_info *pinfo)
{
	(void)s, (void)der, (void)len, (void)opts, (void)pinfo;
	fhttp.puts++;
	return RES_OK;
}
char *rev_ocsp_url_of(X509 *cert)
{
	(void)cert;
	return NULL;
}
const char *rev_ocsp_why_name(enum rev_ocsp_why why)
{
	return why == REV_OCSP_WHY_STALE ? "stale" : "other";
}
int rev_ocsp_check(OSSL_LIB_CTX *libctx, X509 *cert, X509 *issuer, const struct rev_ocsp_opts *o,
                   struct rev_ocsp_answer *a)
{
	(void)libctx, (void)cert, (void)issuer;
	focsp.calls++;
	memset(a, 0, sizeof(*a));
	a->status = focsp.status;
	a->why = focsp.why;
	a->reason = 1;
	a->revoked_at = 1000000000;
	a->produced_at = 1000000000;
	snprintf(a->url, sizeof(a->url), "%s", o->url);
	snprintf(a->responder, sizeof(a->responder), "/CN=Test Inter");
	return RES_OK;
}
void rev_limits_default(struct rev_limits *l)
{
	memset(l, 0, sizeof(*l));
	l->max_download = 1 << 20;
}
int rev_http(const struct rev_http_req *req, struct rev_http_resp *resp)
{
	memset(resp, 0, sizeof(*resp));
	if (fhttp.body == NULL)
		return res_set(RES_NETWORK, "%s: connection refused", req->url);
	resp->status = 200;
	resp->body = fhttp.body;
	resp->len = fhttp.len;
	return RES_OK;
}
void rev_http_resp_clear(struct rev_http_resp *resp)
{
	memset(resp, 0, sizeof(*resp)); /* the body is the test's */
}
int rev_crls_in(const unsigned char *buf, size_t len, const struct rev_limits *limits,
                rev_crl_cb cb, void *ctx)
{
	(void)limits;
	return cb(ctx, "", buf, len);
}

/* ---- CRLs ------------------------------------------------------------- */

/* A CRL of @issuer (key @ikey) listing @revoked (may be NULL), times relative to now. */
static X509_CRL *mkcrl(X509 *issuer, EVP_PKEY *ikey, X509 *revoked, int reason, long tu, long nu)
{
	X509_CRL *crl = X509_CRL_new();
	ASN1_TIME *t = ASN1_TIME_new();
	ASN1_INTEGER *num = ASN1_INTEGER_new();
	time_t now = time(NULL);

	assert_non_null(crl);
	assert_int_equal(X509_CRL_set_version(crl, X509_CRL_VERSION_2), 1);
	assert_int_equal(X509_CRL_set_issuer_name(crl, X509_get_subject_name(issuer)), 1);
	assert_non_null(X509_time_adj_ex(t, 0, tu, &now));
	assert_int_equal(X509_CRL_set1_lastUpdate(crl, t), 1);
	assert_non_null(X509_time_adj_ex(t, 0, nu, &now));
	assert_int_equal(X509_CRL_set1_nextUpdate(crl, t), 1);
	assert_int_equal(ASN1_INTEGER_set(num, 12), 1);
	assert_int_equal(X509_CRL_add1_ext_i2d(crl, NID_crl_number, num, 0, 0), 1);
	if (revoked != NULL) {
		X509_REVOKED *r = X509_REVOKED_new();
		ASN1_ENUMERATED *e = ASN1_ENUMERATED_new();

		assert_int_equal(X509_REVOKED_set_serialNumber(
		                     r, (ASN1_INTEGER *)X509_get0_serialNumber(revoked)),
		                 1);
		assert_non_null(X509_time_adj_ex(t, 0, -3600, &now));
		assert_int_equal(X509_REVOKED_set_revocationDate(r, t), 1);
		assert_int_equal(ASN1_ENUMERATED_set(e, reason), 1);
		assert_int_equal(X509_REVOKED_add1_ext_i2d(r, NID_crl_reason, e, 0, 0), 1);
		assert_int_equal(X509_CRL_add0_revoked(crl, r), 1);
		ASN1_ENUMERATED_free(e);
	}
	assert_true(X509_CRL_sign(crl, ikey, EVP_sha256()) > 0);
	ASN1_TIME_free(t);
	ASN1_INTEGER_free(num);
	return crl;
}

static STACK_OF(X509_CRL) * crls_of(X509_CRL *a, X509_CRL *b)
{
	STACK_OF(X509_CRL) *sk = sk_X509_CRL_new_null();

	assert_non_null(sk);
	if (a != NULL)
		assert_true(sk_X509_CRL_push(sk, a) > 0);
	if (b != NULL)
		assert_true(sk_X509_CRL_push(sk, b) > 0);
	return sk;
}

static struct rev_report *run(X509 *x, const struct rev_verify_opts *o)
{
	STACK_OF(X509) *untrusted = stack_of(inter, NULL), *trusted = stack_of(root, NULL);
	struct rev_report *r = NULL;

	assert_int_equal(rev_verify(NULL, x, untrusted, trusted, o, &r), RES_OK);
	assert_non_null(r);
	assert_int_equal(r->chain->n, 3);
	sk_X509_free(untrusted);
	sk_X509_free(trusted);
	return r;
}

static int has_note(const struct rev_elem_report *e, const char *part)
{
	size_t i;

	for (i = 0; e->notes != NULL && e->notes[i] != NULL; i++)
		if (strstr(e->notes[i], part) != NULL)
			return 1;
	return 0;
}

static int reset(void **state)
{
	(void)state;
	memset(&fstore, 0, sizeof(fstore));
	memset(&focsp, 0, sizeof(focsp));
	memset(&fhttp, 0, sizeof(fhttp));
	return 0;
}

/* ---- tests ------------------------------------------------------------ */

static void test_no_source_fallback(void **state)
{
	struct rev_verify_opts o = { .order = { REV_M_CRL, REV_M_NONE } };
	struct rev_report *r;

	(void)state;
	r = run(leaf, &o);
	assert_int_equal(r->elems[0].state, REV_STATE_UNDETERMINED);
	assert_string_equal(r->elems[0].why, "no-source");
	assert_true(has_note(&r->elems[0], "CRL store: none given"));
	assert_true(has_note(&r->elems[0], "trust bundle: no CRL of /CN=Test Inter"));
	assert_true(has_note(&r->elems[0], "CDP download: not allowed"));
	assert_int_equal(r->elems[1].state, REV_STATE_UNDETERMINED);
	/* the self-signed anchor needs no check (RFC 5280 6.2) */
	assert_int_equal(r->elems[2].state, REV_STATE_SKIPPED);
	assert_true(has_note(&r->elems[2], "RFC 5280"));
	assert_int_equal(r->chain->elems[0].rev_status, PKI_REV_UNKNOWN);
	assert_int_equal(r->fit, 1);
	assert_int_equal(r->fallback_used, 1);
	rev_report_free(r);
	o.fallback_revoked = 1;
	r = run(leaf, &o);
	assert_int_equal(r->fit, 0);
	assert_int_equal(r->fallback_used, 1);
	rev_report_free(r);
	/* revocation off: nothing checked, nothing undetermined */
	o.order[0] = REV_M_NONE;
	r = run(leaf, &o);
	assert_int_equal(r->elems[0].state, REV_STATE_SKIPPED);
	assert_int_equal(r->fit, 1);
	assert_int_equal(r->fallback_used, 0);
	rev_report_free(r);
}

static void test_bundle_crl(void **state)
{
	X509_CRL *ic = mkcrl(inter, inter_key, leaf, 1, -60, 7 * DAY);
	X509_CRL *rc = mkcrl(root, root_key, NULL, 0, -60, 7 * DAY);
	struct rev_verify_opts o = { .order = { REV_M_CRL, REV_M_NONE } };
	struct rev_report *r;

	(void)state;
	o.bundle_crls = crls_of(ic, rc);
	r = run(leaf, &o);
	assert_int_equal(r->elems[0].state, REV_STATE_REVOKED);
	assert_int_equal(r->elems[0].reason, 1);
	assert_string_equal(rev_reason_name(r->elems[0].reason), "keyCompromise");
	assert_true(r->elems[0].revoked_at > 0);
	assert_int_equal(r->elems[0].source, REV_SRC_BUNDLE);
	assert_non_null(strstr(r->elems[0].decided_by, "CRL #0C (CRL embedded in the trust bundle, "
	                                               "signed by /CN=Test Inter)"));
	assert_int_equal(r->chain->elems[0].rev_status, PKI_REV_REVOKED);
	assert_int_equal(r->chain->elems[0].rev_reason, 1);
	assert_int_equal(r->elems[1].state, REV_STATE_GOOD);
	assert_int_equal(r->elems[2].state, REV_STATE_SKIPPED);
	assert_int_equal(r->fit, 0);
	assert_int_equal(r->fallback_used, 0);
	rev_report_free(r);
	sk_X509_CRL_pop_free(o.bundle_crls, X509_CRL_free);
}

/* Two CRLs of one CA in the bundle: the newer decides, whatever their order. */
static void test_bundle_newest(void **state)
{
	X509_CRL *old = mkcrl(inter, inter_key, NULL, 0, -DAY, 7 * DAY);
	X509_CRL *cur = mkcrl(inter, inter_key, leaf, 5, -60, 7 * DAY);
	struct rev_verify_opts o = { .order = { REV_M_CRL, REV_M_NONE } };
	struct rev_report *r;

	(void)state;
	o.bundle_crls = crls_of(old, cur);
	r = run(leaf, &o);
	assert_int_equal(r->elems[0].state, REV_STATE_REVOKED);
	assert_int_equal(r->elems[0].reason, 5);
	rev_report_free(r);
	sk_X509_CRL_pop_free(o.bundle_crls, X509_CRL_free);
}

static void test_anchor_checked(void **state)
{
	X509_CRL *rc = mkcrl(root, root_key, NULL, 0, -60, 7 * DAY);
	X509_CRL *ic = mkcrl(inter, inter_key, NULL, 0, -60, 7 * DAY);
	struct rev_verify_opts o = { .order = { REV_M_CRL, REV_M_NONE }, .check_anchor = 1 };
	struct rev_report *r;

	(void)state;
	o.bundle_crls = crls_of(ic, rc);
	r = run(leaf, &o);
	assert_int_equal(r->elems[0].state, REV_STATE_GOOD);
	assert_int_equal(r->elems[1].state, REV_STATE_GOOD);
	assert_int_equal(r->elems[2].state, REV_STATE_GOOD);
	assert_int_equal(r->fit, 1);
	rev_report_free(r);
	sk_X509_CRL_pop_free(o.bundle_crls, X509_CRL_free);
}

static void test_expired_and_bad_crl(void **state)
{
	/* expired: nextUpdate yesterday */
	X509_CRL *ic = mkcrl(inter, inter_key, NULL, 0, -2 * DAY, -DAY);
	/* signed by the wrong key */
	X509_CRL *bad = mkcrl(inter, root_key, NULL, 0, -60, 7 * DAY);
	struct rev_verify_opts o = { .order = { REV_M_CRL, REV_M_NONE } };
	struct rev_report *r;

	(void)state;
	o.bundle_crls = crls_of(ic, NULL);
	r = run(leaf, &o);
	assert_int_equal(r->elems[0].state, REV_STATE_REVOKED);
	assert_int_equal(r->elems[0].expired_crl, 1);
	assert_string_equal(r->elems[0].why, "expired-crl");
	assert_non_null(strstr(r->elems[0].decided_by, "expired"));
	assert_int_equal(r->fit, 0);
	rev_report_free(r);
	sk_X509_CRL_pop_free(o.bundle_crls, X509_CRL_free);
	o.bundle_crls = crls_of(bad, NULL);
	r = run(leaf, &o);
	assert_int_equal(r->elems[0].state, REV_STATE_UNDETERMINED);
	assert_string_equal(r->elems[0].why, "bad-signature");
	assert_true(has_note(&r->elems[0], "does not verify with the key of /CN=Test Inter"));
	rev_report_free(r);
	sk_X509_CRL_pop_free(o.bundle_crls, X509_CRL_free);
}

static void test_store_first(void **state)
{
	X509_CRL *ic = mkcrl(inter, inter_key, leaf, 1, -60, 7 * DAY);
	struct rev_verify_opts o = { .order = { REV_M_CRL, REV_M_NONE } };
	struct rev_report *r;

	(void)state;
	o.store = (struct rev_store *)&fstore;
	o.bundle_crls = crls_of(ic, NULL);
	/* the store answers first: good, though the bundle's CRL lists it */
	fstore.status = REV_CRL_GOOD;
	r = run(leaf, &o);
	assert_int_equal(r->elems[0].state, REV_STATE_GOOD);
	assert_int_equal(r->elems[0].source, REV_SRC_STORE);
	assert_non_null(strstr(r->elems[0].decided_by, "CRL #0C (store fake1, download "
	                                               "http://crl.example/inter.crl"));
	rev_report_free(r);
	/* an expired stored CRL: the current one in the bundle decides */
	fstore.status = REV_CRL_EXPIRED;
	r = run(leaf, &o);
	assert_int_equal(r->elems[0].state, REV_STATE_REVOKED);
	assert_int_equal(r->elems[0].source, REV_SRC_BUNDLE);
	assert_int_equal(r->elems[0].expired_crl, 0);
	assert_true(has_note(&r->elems[0], "CRL store: CRL #0C"));
	rev_report_free(r);
	/* only the expired stored one: revoked */
	sk_X509_CRL_pop_free(o.bundle_crls, X509_CRL_free);
	o.bundle_crls = NULL;
	r = run(leaf, &o);
	assert_int_equal(r->elems[0].state, REV_STATE_REVOKED);
	assert_int_equal(r->elems[0].expired_crl, 1);
	assert_int_equal(r->elems[0].source, REV_SRC_STORE);
	rev_report_free(r);
	fstore.status = REV_CRL_REVOKED;
	fstore.reason = 4;
	r = run(leaf, &o);
	assert_int_equal(r->elems[0].state, REV_STATE_REVOKED);
	assert_int_equal(r->elems[0].reason, 4);
	assert_int_equal(r->elems[0].revoked_at, 1000000000);
	rev_report_free(r);
}

static void test_method_order(void **state)
{
	X509_CRL *ic = mkcrl(inter, inter_key, NULL, 0, -60, 7 * DAY);
	struct rev_verify_opts o = { .order = { REV_M_CRL, REV_M_OCSP } };
	struct rev_report *r;

	(void)state;
	o.ocsp.url = "http://ocsp.example/";
	o.bundle_crls = crls_of(ic, NULL);
	focsp.status = REV_OCSP_REVOKED;
	/* crl,ocsp: the CRL decides, OCSP is not asked for the leaf */
	r = run(leaf, &o);
	assert_int_equal(r->elems[0].state, REV_STATE_GOOD);
	assert_int_equal(r->elems[0].source, REV_SRC_BUNDLE);
	/* the intermediate: no CRL of the root, then OCSP (revoked) */
	assert_int_equal(r->elems[1].state, REV_STATE_REVOKED);
	assert_int_equal(r->elems[1].source, REV_SRC_OCSP);
	assert_int_equal(focsp.calls, 1);
	rev_report_free(r);
	/* ocsp,crl: OCSP decides the leaf */
	o.order[0] = REV_M_OCSP, o.order[1] = REV_M_CRL;
	focsp.calls = 0;
	r = run(leaf, &o);
	assert_int_equal(r->elems[0].state, REV_STATE_REVOKED);
	assert_int_equal(r->elems[0].source, REV_SRC_OCSP);
	assert_non_null(strstr(r->elems[0].decided_by, "OCSP http://ocsp.example/ responder "
	                                               "/CN=Test Inter, produced 2001-09-09T"));
	assert_int_equal(focsp.calls, 2);
	rev_report_free(r);
	/* an OCSP answer that cannot be trusted: noted, the CRL decides */
	focsp.status = REV_OCSP_UNDETERMINED;
	focsp.why = REV_OCSP_WHY_STALE;
	r = run(leaf, &o);
	assert_int_equal(r->elems[0].state, REV_STATE_GOOD);
	assert_true(has_note(&r->elems[0], "OCSP http://ocsp.example/: stale"));
	/* the intermediate: nothing decides; why is OCSP's, not "no-source" */
	assert_int_equal(r->elems[1].state, REV_STATE_UNDETERMINED);
	assert_string_equal(r->elems[1].why, "stale");
	rev_report_free(r);
	sk_X509_CRL_pop_free(o.bundle_crls, X509_CRL_free);
}

static void test_cdp_download(void **state)
{
	struct mk m = leaf_mk;
	X509 *x;
	X509_EXTENSION *ext;
	X509V3_CTX ctx;
	X509_CRL *ic = mkcrl(inter, inter_key, NULL, 0, -60, 7 * DAY);
	struct rev_verify_opts o = { .order = { REV_M_CRL, REV_M_NONE }, .cdp_download = 1 };
	struct rev_report *r;
	unsigned char *der = NULL;
	int n;

	(void)state;
	/* a leaf naming a distribution point */
	x = mkcert(&m, leaf_key, inter, inter_key);
	X509V3_set_ctx(&ctx, inter, x, NULL, NULL, 0);
	ext = X509V3_EXT_nconf_nid(NULL, &ctx, NID_crl_distribution_points,
	                           "URI:http://127.0.0.1:9/inter.crl");
	assert_non_null(ext);
	assert_int_equal(X509_add_ext(x, ext, -1), 1);
	X509_EXTENSION_free(ext);
	assert_true(X509_sign(x, inter_key, EVP_sha256()) > 0);
	r = run(x, &o);
	assert_int_equal(r->elems[0].state, REV_STATE_UNDETERMINED);
	assert_string_equal(r->elems[0].why, "unreachable");
	assert_true(has_note(&r->elems[0], "CDP http://127.0.0.1:9/inter.crl: "));
	rev_report_free(r);
	/* the download answers, and goes into the store when there is one */
	n = i2d_X509_CRL(ic, &der);
	assert_true(n > 0);
	fhttp.body = der;
	fhttp.len = (size_t)n;
	o.store = (struct rev_store *)&fstore;
	r = run(x, &o);
	assert_int_equal(r->elems[0].state, REV_STATE_GOOD);
	assert_int_equal(r->elems[0].source, REV_SRC_DOWNLOAD);
	assert_non_null(strstr(r->elems[0].decided_by, "download http://127.0.0.1:9/inter.crl"));
	assert_int_equal(fhttp.puts, 1);
	rev_report_free(r);
	OPENSSL_free(der);
	X509_CRL_free(ic);
	X509_free(x);
}

/* The PKI verifier's checks as rev_verify reports them: key size, wildcards. */
static void test_chain_checks(void **state)
{
	struct mk m = leaf_mk;
	struct rev_verify_opts o = { .order = { REV_M_NONE } };
	EVP_PKEY *big = EVP_RSA_gen(4104);
	struct rev_report *r;
	X509 *x;

	(void)state;
	/* RSA over 4096 bits: flagged, a warning only */
	assert_non_null(big);
	x = mkcert(&m, big, inter, inter_key);
	r = run(x, &o);
	assert_int_equal(r->chain->elems[0].flags, PKI_E_KEY_LARGE);
	assert_int_equal(r->chain->ok, 1);
	assert_int_equal(r->fit, 1);
	rev_report_free(r);
	X509_free(x);
	EVP_PKEY_free(big);
	/* a wildcard never matches */
	m.san = "DNS:*.example.com";
	x = mkcert(&m, leaf_key, inter, inter_key);
	o.pki.host = "a.example.com";
	r = run(x, &o);
	assert_int_equal(r->chain->elems[0].flags, PKI_E_NAME);
	assert_int_equal(r->fit, 0);
	rev_report_free(r);
	/* an IP asked for, the certificate names DNS names only */
	o.pki.host = "192.0.2.1";
	r = run(x, &o);
	assert_int_equal(r->chain->elems[0].flags, PKI_E_NAME | PKI_E_NAME_IP);
	rev_report_free(r);
	X509_free(x);
	/* an IP in the SAN: a mismatch, but not the IP-vs-FQDN one */
	m.san = "IP:192.0.2.2";
	x = mkcert(&m, leaf_key, inter, inter_key);
	r = run(x, &o);
	assert_int_equal(r->chain->elems[0].flags, PKI_E_NAME);
	rev_report_free(r);
	o.pki.host = "192.0.2.2";
	r = run(x, &o);
	assert_int_equal(r->chain->elems[0].flags, 0);
	assert_int_equal(r->fit, 1);
	rev_report_free(r);
	X509_free(x);
}

static void test_names(void **state)
{
	enum rev_method ord[2];

	(void)state;
	assert_int_equal(rev_order_parse("ocsp,crl", ord), RES_OK);
	assert_int_equal(ord[0], REV_M_OCSP);
	assert_int_equal(ord[1], REV_M_CRL);
	assert_int_equal(rev_order_parse("off", ord), RES_OK);
	assert_int_equal(ord[0], REV_M_NONE);
	assert_int_equal(rev_order_parse("crl,crl", ord), RES_BAD_INPUT);
	assert_string_equal(rev_state_name(REV_STATE_SKIPPED), "not checked");
	assert_string_equal(rev_reason_name(2), "cACompromise");
	assert_null(rev_reason_name(7));
	assert_null(rev_reason_name(-1));
	assert_string_equal(rev_problem_name(PKI_E_NAME_IP), "name-ip");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_no_source_fallback, reset),
		cmocka_unit_test_setup(test_bundle_crl, reset),
		cmocka_unit_test_setup(test_bundle_newest, reset),
		cmocka_unit_test_setup(test_anchor_checked, reset),
		cmocka_unit_test_setup(test_expired_and_bad_crl, reset),
		cmocka_unit_test_setup(test_store_first, reset),
		cmocka_unit_test_setup(test_method_order, reset),
		cmocka_unit_test_setup(test_cdp_download, reset),
		cmocka_unit_test_setup(test_chain_checks, reset),
		cmocka_unit_test_setup(test_names, reset),
	};

	return cmocka_run_group_tests(tests, pki_certs_setup, pki_certs_teardown);
}

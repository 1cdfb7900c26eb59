/*
 * test-rev-ocsp.c - the OCSP client's checks (tools/rev/ocsp.c) without a
 * network: requests made by rev_ocsp_request are answered by `openssl
 * ocsp -index` (an independent responder) from software keys made once by
 * tests/ocsp-fixtures.sh, and the answers go through
 * rev_ocsp_response_check.  Responses openssl cannot make (no nonce, an
 * error status) are built with OpenSSL's OCSP API.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include <openssl/ocsp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "ocsp.h"
#include "result.h"
#include "unit-helpers.h"

static char dir[512];
static X509 *ca, *good, *revoked, *unknown, *aia;

static X509 *load(const char *name)
{
	char path[700];
	X509 *x = NULL;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s.pem", dir, name);
	assert_non_null(f = fopen(path, "r"));
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	assert_non_null(x);
	return x;
}

static int setup(void **state)
{
	char cmd[1200];

	(void)state;
	if (uh_mkdtemp("ocsp", dir, sizeof(dir)) != 0)
		return -1;
	snprintf(cmd, sizeof(cmd), "sh '%s/tests/ocsp-fixtures.sh' '%s'", uh_top_srcdir(), dir);
	if (system(cmd) != 0)
		return -1;
	ca = load("ca");
	good = load("good");
	revoked = load("revoked");
	unknown = load("unknown");
	aia = load("aia");
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	X509_free(ca);
	X509_free(good);
	X509_free(revoked);
	X509_free(unknown);
	X509_free(aia);
	uh_rmtree(dir);
	return 0;
}

/* A request for @cert (with a nonce unless @no_nonce). */
static OCSP_REQUEST *request(X509 *cert, int no_nonce, int sha256)
{
	struct rev_ocsp_opts o = { 0 };
	OCSP_REQUEST *req = NULL;

	o.no_nonce = no_nonce;
	o.certid_sha256 = sha256;
	assert_int_equal(rev_ocsp_request(cert, ca, &o, &req), RES_OK);
	assert_non_null(req);
	return req;
}

static unsigned char *read_all(const char *path, size_t *plen)
{
	unsigned char *buf;
	FILE *f;
	long n;

	assert_non_null(f = fopen(path, "rb"));
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n > 0);
	rewind(f);
	assert_non_null(buf = malloc((size_t)n));
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*plen = (size_t)n;
	return buf;
}

/*
 * `openssl ocsp -index index.txt -CA ca.pem -rsigner SIGNER -rkey SIGNER.key
 * -reqin req.der -respout resp.der EXTRA` answering @req; the response bytes.
 */
static unsigned char *respond(OCSP_REQUEST *req, const char *signer, const char *extra,
                              size_t *plen)
{
	char path[700], cmd[2000];
	unsigned char *der = NULL;
	int n;

	assert_true((n = i2d_OCSP_REQUEST(req, &der)) > 0);
	snprintf(path, sizeof(path), "%s/req.der", dir);
	assert_int_equal(uh_write_file(path, der, (size_t)n), 0);
	OPENSSL_free(der);
	snprintf(cmd, sizeof(cmd),
	         "cd '%s' && rm -f resp.der && openssl ocsp -index index.txt -CA ca.pem "
	         "-rsigner %s.pem -rkey %s.key -reqin req.der -respout resp.der %s "
	         "> ocsp.out 2>&1",
	         dir, signer, signer, extra);
	assert_int_equal(system(cmd), 0);
	snprintf(path, sizeof(path), "%s/resp.der", dir);
	return read_all(path, plen);
}

/* rev_ocsp_response_check at @at (0: now) into @a; its result code. */
static int check_at(const unsigned char *der, size_t len, OCSP_REQUEST *req, X509 *cert, int64_t at,
                    struct rev_ocsp_answer *a)
{
	struct rev_ocsp_opts o = { 0 };

	o.at = at;
	return rev_ocsp_response_check(NULL, der, len, req, cert, ca, &o, a);
}

/* Asks openssl for @cert's status signed by @signer and checks it now. */
static void ask(X509 *cert, const char *signer, const char *extra, int64_t at,
                struct rev_ocsp_answer *a)
{
	OCSP_REQUEST *req = request(cert, 0, 0);
	size_t len;
	unsigned char *der = respond(req, signer, extra, &len);

	assert_int_equal(check_at(der, len, req, cert, at, a), RES_OK);
	free(der);
	OCSP_REQUEST_free(req);
}

static void expect_undetermined(const struct rev_ocsp_answer *a, enum rev_ocsp_why why)
{
	if (a->status != REV_OCSP_UNDETERMINED || a->why != why)
		fail_msg("status %d why %s (%s), want undetermined %s", a->status,
		         rev_ocsp_why_name(a->why), a->detail, rev_ocsp_why_name(why));
	assert_true(a->detail[0] != '\0');
	assert_null(strchr(a->detail, '\n'));
}

static void test_good_delegated(void **state)
{
	struct rev_ocsp_answer a;
	int64_t now = time(NULL);

	(void)state;
	ask(good, "resp", "-ndays 1", 0, &a);
	assert_int_equal(a.status, REV_OCSP_GOOD);
	assert_int_equal(a.why, REV_OCSP_WHY_NONE);
	assert_int_equal(a.delegated, 1);
	assert_string_equal(a.responder, "/CN=OCSP Responder");
	assert_true(a.produced_at >= now - 60 && a.produced_at <= now + 60);
	assert_true(a.this_update >= now - 60 && a.this_update <= now + 60);
	assert_true(a.next_update >= now + 86400 - 60 && a.next_update <= now + 86400 + 60);
}

static void test_good_by_ca(void **state)
{
	struct rev_ocsp_answer a;

	(void)state;
	ask(good, "ca", "-ndays 1", 0, &a);
	assert_int_equal(a.status, REV_OCSP_GOOD);
	assert_int_equal(a.delegated, 0);
	assert_string_equal(a.responder, "/O=p11ca tests/CN=OCSP Test CA");
	/* responder ID by key hash */
	ask(good, "ca", "-ndays 1 -resp_key_id", 0, &a);
	assert_int_equal(a.status, REV_OCSP_GOOD);
	assert_true(strncmp(a.responder, "key:", 4) == 0);
	ask(good, "resp", "-ndays 1 -resp_key_id", 0, &a);
	assert_int_equal(a.status, REV_OCSP_GOOD);
	assert_int_equal(a.delegated, 1);
}

static void test_revoked(void **state)
{
	struct rev_ocsp_answer a;

	(void)state;
	ask(revoked, "resp", "-ndays 1", 0, &a);
	assert_int_equal(a.status, REV_OCSP_REVOKED);
	assert_int_equal(a.reason, 1);              /* keyCompromise, as index.txt says */
	assert_int_equal(a.revoked_at, 1672628645); /* 2023-01-02T03:04:05Z */
}

static void test_unknown(void **state)
{
	struct rev_ocsp_answer a;

	(void)state;
	ask(unknown, "resp", "-ndays 1", 0, &a);
	assert_int_equal(a.status, REV_OCSP_UNKNOWN);
}

static void test_sha256_certid(void **state)
{
	OCSP_REQUEST *req = request(revoked, 0, 1);
	struct rev_ocsp_answer a;
	unsigned char *der;
	size_t len;

	(void)state;
	der = respond(req, "resp", "-ndays 1", &len);
	assert_int_equal(check_at(der, len, req, revoked, 0, &a), RES_OK);
	assert_int_equal(a.status, REV_OCSP_REVOKED);
	free(der);
	OCSP_REQUEST_free(req);
}

/* One byte of the signature flipped: located through the parsed response. */
static void test_forged_flip(void **state)
{
	OCSP_REQUEST *req = request(good, 0, 0);
	struct rev_ocsp_answer a;
	OCSP_RESPONSE *r;
	OCSP_BASICRESP *bs;
	const ASN1_OCTET_STRING *sig;
	const unsigned char *p, *s;
	unsigned char *der;
	size_t len, slen;
	int found = 0;

	(void)state;
	der = respond(req, "resp", "-ndays 1", &len);
	p = der;
	assert_non_null(r = d2i_OCSP_RESPONSE(NULL, &p, (long)len));
	assert_non_null(bs = OCSP_response_get1_basic(r));
	sig = OCSP_resp_get0_signature(bs);
	s = ASN1_STRING_get0_data(sig);
	slen = (size_t)ASN1_STRING_length(sig);
	for (size_t i = 0; i + slen <= len; i++)
		if (memcmp(der + i, s, slen) == 0) {
			der[i + slen / 2] ^= 0x01;
			found = 1;
			break;
		}
	assert_true(found);
	OCSP_BASICRESP_free(bs);
	OCSP_RESPONSE_free(r);
	assert_int_equal(check_at(der, len, req, good, 0, &a), RES_OK);
	expect_undetermined(&a, REV_OCSP_WHY_BAD_SIGNATURE);
	free(der);
	OCSP_REQUEST_free(req);
}

/* Signed by a key whose self-made certificate carries the CA's name. */
static void test_forged_ca_name(void **state)
{
	struct rev_ocsp_answer a;

	(void)state;
	/* the certificate in the response signs, but the CA did not issue it */
	ask(good, "forged", "-ndays 1", 0, &a);
	expect_undetermined(&a, REV_OCSP_WHY_UNAUTHORISED);
	/* without it, the CA's own key is tried and fails */
	ask(good, "forged", "-ndays 1 -resp_no_certs", 0, &a);
	expect_undetermined(&a, REV_OCSP_WHY_BAD_SIGNATURE);
}

static void test_unauthorised(void **state)
{
	struct rev_ocsp_answer a;

	(void)state;
	ask(good, "noeku", "-ndays 1", 0, &a); /* the CA's, no OCSPSigning */
	expect_undetermined(&a, REV_OCSP_WHY_UNAUTHORISED);
	assert_non_null(strstr(a.detail, "OCSPSigning"));
	ask(revoked, "foreign", "-ndays 1", 0, &a); /* OCSPSigning, another CA's */
	expect_undetermined(&a, REV_OCSP_WHY_UNAUTHORISED);
	assert_non_null(strstr(a.detail, "not issued"));
	/* the delegate (30 days) has expired at the time asked */
	ask(good, "resp", "-ndays 60", (int64_t)time(NULL) + 40 * 86400, &a);
	expect_undetermined(&a, REV_OCSP_WHY_UNAUTHORISED);
	/* the delegate without its certificate in the response: nobody to check */
	ask(good, "resp", "-ndays 1 -resp_no_certs", 0, &a);
	expect_undetermined(&a, REV_OCSP_WHY_BAD_SIGNATURE);
}

static void test_stale(void **state)
{
	struct rev_ocsp_answer a;
	int64_t now = time(NULL);

	(void)state;
	ask(good, "resp", "-ndays 1", now + 2 * 86400, &a); /* after nextUpdate */
	expect_undetermined(&a, REV_OCSP_WHY_STALE);
	assert_non_null(strstr(a.detail, "nextUpdate"));
	ask(good, "resp", "-ndays 1", now + 86400 + 200, &a); /* within the 300 s skew */
	assert_int_equal(a.status, REV_OCSP_GOOD);
	ask(good, "ca", "-ndays 1", now - 3600, &a); /* thisUpdate an hour ahead */
	expect_undetermined(&a, REV_OCSP_WHY_STALE);
	assert_non_null(strstr(a.detail, "future"));
	ask(good, "ca", "-ndays 1", now - 200, &a); /* within the skew */
	assert_int_equal(a.status, REV_OCSP_GOOD);
	/* no nextUpdate: thisUpdate older than max_age (7 days) */
	ask(good, "resp", "", now + 8 * 86400, &a);
	expect_undetermined(&a, REV_OCSP_WHY_STALE);
	assert_int_equal(a.next_update, 0);
	ask(good, "resp", "", now + 6 * 86400, &a);
	assert_int_equal(a.status, REV_OCSP_GOOD);
}

static void test_nonce_mismatch(void **state)
{
	OCSP_REQUEST *ra = request(good, 0, 0), *rb = request(good, 0, 0);
	struct rev_ocsp_answer a;
	unsigned char *der;
	size_t len;

	(void)state;
	der = respond(ra, "resp", "-ndays 1", &len);
	assert_int_equal(check_at(der, len, ra, good, 0, &a), RES_OK);
	assert_int_equal(a.status, REV_OCSP_GOOD);
	assert_int_equal(check_at(der, len, rb, good, 0, &a), RES_OK); /* replayed */
	expect_undetermined(&a, REV_OCSP_WHY_NONCE);
	assert_non_null(strstr(a.detail, "not ours"));
	free(der);
	OCSP_REQUEST_free(ra);
	OCSP_REQUEST_free(rb);
}

/*
 * A response built with the API, good for @cert, signed by the CA, no
 * nonce, thisUpdate and nextUpdate @this_off and @next_off seconds from now.
 */
static unsigned char *build_no_nonce(X509 *cert, long this_off, long next_off, size_t *plen)
{
	char path[700];
	OCSP_BASICRESP *bs;
	OCSP_CERTID *id;
	OCSP_RESPONSE *r;
	ASN1_TIME *now, *next;
	EVP_PKEY *key;
	unsigned char *der = NULL, *out;
	FILE *f;
	int n;

	snprintf(path, sizeof(path), "%s/ca.key", dir);
	assert_non_null(f = fopen(path, "r"));
	assert_non_null(key = PEM_read_PrivateKey(f, NULL, NULL, NULL));
	fclose(f);
	assert_non_null(bs = OCSP_BASICRESP_new());
	assert_non_null(id = OCSP_cert_to_id(EVP_sha1(), cert, ca));
	now = X509_gmtime_adj(NULL, this_off);
	next = X509_gmtime_adj(NULL, next_off);
	assert_non_null(OCSP_basic_add1_status(bs, id, V_OCSP_CERTSTATUS_GOOD, 0, NULL, now, next));
	assert_int_equal(OCSP_basic_sign(bs, ca, key, EVP_sha256(), NULL, 0), 1);
	assert_non_null(r = OCSP_response_create(OCSP_RESPONSE_STATUS_SUCCESSFUL, bs));
	assert_true((n = i2d_OCSP_RESPONSE(r, &der)) > 0);
	out = malloc((size_t)n);
	memcpy(out, der, (size_t)n);
	*plen = (size_t)n;
	OPENSSL_free(der);
	OCSP_RESPONSE_free(r);
	OCSP_BASICRESP_free(bs);
	OCSP_CERTID_free(id);
	ASN1_TIME_free(now);
	ASN1_TIME_free(next);
	EVP_PKEY_free(key);
	return out;
}

static void test_nonce_missing(void **state)
{
	OCSP_REQUEST *with = request(good, 0, 0), *without = request(good, 1, 0);
	struct rev_ocsp_answer a;
	struct rev_ocsp_opts o = { 0 };
	unsigned char *der;
	size_t len;

	(void)state;
	assert_true(OCSP_REQUEST_get_ext_by_NID(without, NID_id_pkix_OCSP_Nonce, -1) < 0);
	der = build_no_nonce(good, 0, 86400, &len);
	assert_int_equal(check_at(der, len, with, good, 0, &a), RES_OK);
	expect_undetermined(&a, REV_OCSP_WHY_NONCE);
	assert_non_null(strstr(a.detail, "echo"));
	/* asked without a nonce: the same response is fine */
	o.no_nonce = 1;
	assert_int_equal(rev_ocsp_response_check(NULL, der, len, without, good, ca, &o, &a),
	                 RES_OK);
	assert_int_equal(a.status, REV_OCSP_GOOD);
	free(der);
	/* nextUpdate before thisUpdate */
	der = build_no_nonce(good, 0, -60, &len);
	assert_int_equal(rev_ocsp_response_check(NULL, der, len, without, good, ca, &o, &a),
	                 RES_OK);
	expect_undetermined(&a, REV_OCSP_WHY_MALFORMED);
	free(der);
	/* thisUpdate a day ahead (a responder's clock, not ours) */
	der = build_no_nonce(good, 86400, 2 * 86400, &len);
	assert_int_equal(rev_ocsp_response_check(NULL, der, len, without, good, ca, &o, &a),
	                 RES_OK);
	expect_undetermined(&a, REV_OCSP_WHY_STALE);
	free(der);
	OCSP_REQUEST_free(with);
	OCSP_REQUEST_free(without);
}

/* An answer for another certificate than the one asked about. */
static void test_no_answer(void **state)
{
	OCSP_REQUEST *rr = request(revoked, 1, 0), *rg = request(good, 1, 0);
	struct rev_ocsp_answer a;
	struct rev_ocsp_opts o = { .no_nonce = 1 };
	unsigned char *der;
	size_t len;

	(void)state;
	der = respond(rr, "resp", "-ndays 1", &len);
	assert_int_equal(rev_ocsp_response_check(NULL, der, len, rg, good, ca, &o, &a), RES_OK);
	expect_undetermined(&a, REV_OCSP_WHY_NO_ANSWER);
	/* a request that does not name the certificate is the caller's error */
	assert_int_equal(rev_ocsp_response_check(NULL, der, len, rr, good, ca, &o, &a),
	                 RES_BAD_INPUT);
	free(der);
	OCSP_REQUEST_free(rr);
	OCSP_REQUEST_free(rg);
}

static void test_malformed(void **state)
{
	static const unsigned char junk[] = "<html>not an OCSP response</html>";
	OCSP_REQUEST *req = request(good, 0, 0);
	struct rev_ocsp_answer a;
	unsigned char *der, *longer;
	size_t len;

	(void)state;
	assert_int_equal(check_at(junk, sizeof(junk), req, good, 0, &a), RES_OK);
	expect_undetermined(&a, REV_OCSP_WHY_MALFORMED);
	assert_int_equal(check_at(junk, 0, req, good, 0, &a), RES_OK);
	expect_undetermined(&a, REV_OCSP_WHY_MALFORMED);
	der = respond(req, "resp", "-ndays 1", &len);
	assert_int_equal(check_at(der, len - 1, req, good, 0, &a), RES_OK); /* truncated */
	expect_undetermined(&a, REV_OCSP_WHY_MALFORMED);
	longer = malloc(len + 1);
	memcpy(longer, der, len);
	longer[len] = 0;
	assert_int_equal(check_at(longer, len + 1, req, good, 0, &a), RES_OK); /* trailing byte */
	expect_undetermined(&a, REV_OCSP_WHY_MALFORMED);
	assert_int_equal(check_at(der, len, req, good, 0, &a), RES_OK);
	assert_int_equal(a.status, REV_OCSP_GOOD);
	free(longer);
	free(der);
	OCSP_REQUEST_free(req);
}

static void test_error_status(void **state)
{
	OCSP_REQUEST *req = request(good, 0, 0);
	struct rev_ocsp_answer a;
	OCSP_RESPONSE *r;
	unsigned char *der = NULL;
	int n;

	(void)state;
	assert_non_null(r = OCSP_response_create(OCSP_RESPONSE_STATUS_TRYLATER, NULL));
	assert_true((n = i2d_OCSP_RESPONSE(r, &der)) > 0);
	assert_int_equal(check_at(der, (size_t)n, req, good, 0, &a), RES_OK);
	expect_undetermined(&a, REV_OCSP_WHY_ERROR_STATUS);
	assert_non_null(strstr(a.detail, "trylater"));
	OPENSSL_free(der);
	OCSP_RESPONSE_free(r);
	OCSP_REQUEST_free(req);
}

static void test_url_and_transport(void **state)
{
	struct rev_ocsp_answer a;
	struct rev_ocsp_opts o = { 0 };
	struct rev_limits lim;
	char *u;

	(void)state;
	/* the first http(s) OCSP URL of the AIA (an ldap one before it skipped) */
	assert_non_null(u = rev_ocsp_url_of(aia));
	assert_string_equal(u, "http://ocsp.example.com/a");
	free(u);
	assert_null(rev_ocsp_url_of(good));
	assert_int_equal(rev_ocsp_check(NULL, good, ca, &o, &a), RES_OK);
	expect_undetermined(&a, REV_OCSP_WHY_NO_URL);
	assert_string_equal(rev_ocsp_why_name(a.why), "no-source");
	/* nothing listens on port 1 of the loopback */
	rev_limits_default(&lim);
	lim.connect_timeout_ms = 2000;
	lim.timeout_ms = 3000;
	o.url = "http://127.0.0.1:1/";
	o.limits = &lim;
	assert_int_equal(rev_ocsp_check(NULL, good, ca, &o, &a), RES_OK);
	expect_undetermined(&a, REV_OCSP_WHY_UNREACHABLE);
	assert_string_equal(a.url, "http://127.0.0.1:1/");
	o.url = "ftp://127.0.0.1/";
	assert_int_equal(rev_ocsp_check(NULL, good, ca, &o, &a), RES_BAD_INPUT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_delegated),
		cmocka_unit_test(test_good_by_ca),
		cmocka_unit_test(test_revoked),
		cmocka_unit_test(test_unknown),
		cmocka_unit_test(test_sha256_certid),
		cmocka_unit_test(test_forged_flip),
		cmocka_unit_test(test_forged_ca_name),
		cmocka_unit_test(test_unauthorised),
		cmocka_unit_test(test_stale),
		cmocka_unit_test(test_nonce_mismatch),
		cmocka_unit_test(test_nonce_missing),
		cmocka_unit_test(test_no_answer),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_error_status),
		cmocka_unit_test(test_url_and_transport),
	};

	return cmocka_run_group_tests_name("rev-ocsp", tests, setup, teardown);
}

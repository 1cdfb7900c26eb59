/*
 * test-serve-codec-resp.c - the OCSP server's response side
 * (tools/serve/codec-resp.c) checked as a client checks it: issuer hashes
 * as OpenSSL's CertIDs have them, responses signed by srv_ocsp_sign (by an
 * EC or RSA CA, by an Ed25519 delegated responder, and by a CA key on a
 * SoftHSM2 token through the p11ca provider) checked with
 * OCSP_basic_verify, OCSP_resp_find_status and OCSP_check_nonce, CertIDs
 * and nonces echoed byte for byte, failures, and the error responses.
 * Fixtures: serve-codec-fixture.c.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ocsp.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <sys/wait.h>
#include <unistd.h>

#include "ca.h"
#include "codec.h"
#include "result.h"
#include "serve-codec-fixture.h"
#include "unit-helpers.h"

static struct uh_token tok; /* made by main */

/* ---- issuer hashes */

static void test_issuer_hashes(void **state)
{
	const EVP_MD *mds[] = { EVP_sha1(), EVP_sha256(), EVP_sha384(), EVP_sha512() };
	unsigned char nh[SRV_HASH_MAX], kh[SRV_HASH_MAX];
	ASN1_OCTET_STRING *onh, *okh;
	OCSP_CERTID *cid;
	size_t len, i;
	X509 *cas[2] = { ca, rsa_ca };
	int k;

	(void)state;
	for (k = 0; k < 2; k++)
		for (i = 0; i < 4; i++) {
			cid = cert_id(mds[i], 0, cas[k]);
			OCSP_id_get0_info(&onh, NULL, &okh, NULL, cid);
			assert_int_equal(
			    srv_ocsp_issuer_hashes(cas[k], EVP_MD_get_type(mds[i]), nh, kh, &len),
			    RES_OK);
			assert_int_equal(len, (size_t)EVP_MD_get_size(mds[i]));
			assert_memory_equal(nh, ASN1_STRING_get0_data(onh), len);
			assert_memory_equal(kh, ASN1_STRING_get0_data(okh), len);
			OCSP_CERTID_free(cid);
		}
	assert_int_equal(srv_ocsp_issuer_hashes(ca, NID_md5, nh, kh, &len), RES_UNSUPPORTED);
	assert_int_equal(len, 0);
}

/* ---- responses */

static OCSP_BASICRESP *basic_of(const unsigned char *der, size_t len)
{
	const unsigned char *p = der;
	OCSP_RESPONSE *resp = d2i_OCSP_RESPONSE(NULL, &p, (long)len);
	OCSP_BASICRESP *bs;

	assert_non_null(resp);
	assert_ptr_equal(p, der + len);
	assert_int_equal(OCSP_response_status(resp), OCSP_RESPONSE_STATUS_SUCCESSFUL);
	assert_non_null(bs = OCSP_response_get1_basic(resp));
	OCSP_RESPONSE_free(resp);
	return bs;
}

/* @t is the time @want. */
static void time_is(const ASN1_GENERALIZEDTIME *t, int64_t want)
{
	assert_non_null(t);
	assert_int_equal(ASN1_STRING_type(t), V_ASN1_GENERALIZEDTIME);
	assert_int_equal(ASN1_TIME_cmp_time_t(t, (time_t)want), 0);
}

/*
 * A request for leaf[0..2] (good, revoked keyCompromise, unknown) and
 * leaf[3] (revoked, no reason) with @md, signed by @sg and checked as
 * openssl ocsp checks it; @trust the CA to trust.
 */
static void sign_and_check(const struct srv_signer *sg, X509 *trust, const EVP_MD *md, int nonce)
{
	OCSP_REQUEST *req = OCSP_REQUEST_new();
	struct srv_ocsp_req r;
	struct srv_single s[4];
	OCSP_BASICRESP *bs;
	X509_STORE *store = X509_STORE_new();
	STACK_OF(X509) *other = sk_X509_new_null();
	const ASN1_OCTET_STRING *rid;
	const X509_NAME *rname;
	unsigned char *der, *rder, keyid[20];
	unsigned int klen;
	size_t len, rlen;
	int64_t now = time(NULL), t0 = now - 60, t1 = now + 86400;
	int i;

	for (i = 0; i < 4; i++)
		assert_non_null(OCSP_request_add0_id(req, cert_id(md, i, trust)));
	if (nonce)
		OCSP_request_add1_nonce(req, NULL, -1);
	rder = req_der(req, &rlen);
	assert_int_equal(srv_ocsp_req_parse(rder, rlen, &r), RES_OK);
	for (i = 0; i < 4; i++) {
		s[i].id = &r.ids[i];
		s[i].status = i == 0   ? V_OCSP_CERTSTATUS_GOOD
		              : i == 2 ? V_OCSP_CERTSTATUS_UNKNOWN
		                       : V_OCSP_CERTSTATUS_REVOKED;
		s[i].revoked_at = 1672628645; /* 2023-01-02 03:04:05 */
		s[i].reason = i == 1 ? OCSP_REVOKED_STATUS_KEYCOMPROMISE : -1;
		s[i].this_update = t0;
		s[i].next_update = i == 2 ? 0 : t1;
	}
	assert_int_equal(
	    srv_ocsp_sign(sg, s, 4, r.has_nonce ? r.nonce : NULL, r.nonce_len, now - 5, &der, &len),
	    RES_OK);
	bs = basic_of(der, len);
	/* the signature, as openssl ocsp checks it */
	X509_STORE_add_cert(store, trust);
	sk_X509_push(other, trust);
	if (sg->delegated) {
		assert_int_equal(OCSP_basic_verify(bs, NULL, store, 0), 1);
		assert_int_equal(sk_X509_num(OCSP_resp_get0_certs(bs)), 1);
		assert_int_equal(X509_cmp(sk_X509_value(OCSP_resp_get0_certs(bs), 0), sg->cert), 0);
	} else {
		assert_int_equal(OCSP_basic_verify(bs, other, store, OCSP_TRUSTOTHER), 1);
		assert_true(sk_X509_num(OCSP_resp_get0_certs(bs)) <= 0); /* none */
	}
	/* responderID byKey: the SHA-1 of the signer's key */
	assert_int_equal(OCSP_resp_get0_id(bs, &rid, &rname), 1);
	assert_null(rname);
	assert_non_null(rid);
	X509_pubkey_digest(sg->cert, EVP_sha1(), keyid, &klen);
	assert_int_equal(ASN1_STRING_length(rid), 20);
	assert_memory_equal(ASN1_STRING_get0_data(rid), keyid, 20);
	time_is(OCSP_resp_get0_produced_at(bs), now - 5);
	assert_int_equal(OCSP_check_nonce(req, bs), nonce ? 1 : 2);
	/* each status, found by OpenSSL's own CertID */
	for (i = 0; i < 4; i++) {
		OCSP_CERTID *cid = cert_id(md, i, trust);
		ASN1_GENERALIZEDTIME *rev = NULL, *tu = NULL, *nu = NULL;
		unsigned char *a = NULL, *b = NULL;
		int st, reason, la, lb;

		assert_int_equal(OCSP_resp_find_status(bs, cid, &st, &reason, &rev, &tu, &nu), 1);
		assert_int_equal(st, s[i].status);
		time_is(tu, t0);
		if (i == 2)
			assert_null(nu);
		else
			time_is(nu, t1);
		if (st == V_OCSP_CERTSTATUS_REVOKED) {
			time_is(rev, 1672628645);
			assert_int_equal(reason, s[i].reason);
		} else {
			assert_null(rev);
		}
		assert_int_equal(OCSP_check_validity(tu, nu, 300, -1), 1);
		/* the CertID echoed byte for byte */
		la = i2d_OCSP_CERTID(cid, &a);
		lb = i2d_OCSP_CERTID(OCSP_SINGLERESP_get0_id(OCSP_resp_get0(bs, i)), &b);
		assert_int_equal(la, lb);
		assert_memory_equal(a, b, (size_t)la);
		OPENSSL_free(a);
		OPENSSL_free(b);
		OCSP_CERTID_free(cid);
	}
	free(der);
	OPENSSL_free(rder);
	OCSP_BASICRESP_free(bs);
	OCSP_REQUEST_free(req);
	X509_STORE_free(store);
	sk_X509_free(other);
}

static void test_sign_by_ca(void **state)
{
	struct srv_signer sg = { NULL, ca_key, ca, 0, "sha256" };

	(void)state;
	sign_and_check(&sg, ca, EVP_sha1(), 1);
	sign_and_check(&sg, ca, EVP_sha256(), 0);
	sg.md = "sha384";
	sign_and_check(&sg, ca, EVP_sha512(), 1);
}

static void test_sign_by_rsa_ca(void **state)
{
	struct srv_signer sg = { NULL, rsa_key, rsa_ca, 0, NULL };

	(void)state;
	/* CertIDs naming rsa_ca (only its name and key are hashed) */
	sign_and_check(&sg, rsa_ca, EVP_sha1(), 1);
}

static void test_sign_delegated(void **state)
{
	struct srv_signer sg = { NULL, resp_key, responder, 1, "sha256" }; /* Ed25519: md ignored */

	(void)state;
	sign_and_check(&sg, ca, EVP_sha1(), 1);
	sign_and_check(&sg, ca, EVP_sha256(), 1);
}

/* A CertID without the NULL parameters, and a raw nonce: echoed as they came. */
static void test_sign_echo(void **state)
{
	static const unsigned char raw_nonce[] = { 0x01, 0x02, 0x03, 0x04, 0x05 };
	unsigned char cid[256], tail[256], ext[128], exts[128], req[1024], *der;
	struct srv_signer sg = { NULL, ca_key, ca, 0, "sha256" };
	struct srv_ocsp_req r;
	struct srv_single s = { 0 };
	OCSP_BASICRESP *bs;
	X509_EXTENSION *x;
	ASN1_OCTET_STRING *v;
	size_t n, m, k = 0, e = 0, len;
	unsigned char oid[] = { 0x06, 0x09, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x01, 0x02 };

	(void)state;
	n = certid_with_serial((const unsigned char *)"\x00\x99", 2, 0, cid);
	memcpy(ext, oid, sizeof(oid));
	k = sizeof(oid);
	tlv(ext, &k, 0x04, raw_nonce, sizeof(raw_nonce));
	tlv(exts, &e, 0x30, ext, k);
	k = 0;
	tlv(ext, &k, 0x30, exts, e); /* Extensions */
	e = 0;
	tlv(tail, &e, 0xa2, ext, k); /* [2] EXPLICIT */
	m = wrap_certid(cid, n, tail, e, req);
	assert_int_equal(parse_vs_openssl(req, m, &r), RES_OK);
	assert_int_equal(r.ids[0].params_absent, 1);
	assert_int_equal(r.has_nonce, 1);
	assert_int_equal(r.nonce_len, sizeof(raw_nonce));
	s.id = &r.ids[0];
	s.status = V_OCSP_CERTSTATUS_GOOD;
	s.this_update = 1700000000;
	assert_int_equal(srv_ocsp_sign(&sg, &s, 1, r.nonce, r.nonce_len, 1700000000, &der, &len),
	                 RES_OK);
	assert_non_null(memmem(der, len, cid, n));
	bs = basic_of(der, len);
	x = OCSP_BASICRESP_get_ext(bs,
	                           OCSP_BASICRESP_get_ext_by_NID(bs, NID_id_pkix_OCSP_Nonce, -1));
	assert_non_null(x);
	v = X509_EXTENSION_get_data(x);
	assert_int_equal(ASN1_STRING_length(v), sizeof(raw_nonce));
	assert_memory_equal(ASN1_STRING_get0_data(v), raw_nonce, sizeof(raw_nonce));
	OCSP_BASICRESP_free(bs);
	free(der);
}

static void test_sign_failures(void **state)
{
	struct srv_certid id = { 0 };
	struct srv_single s = { &id, V_OCSP_CERTSTATUS_GOOD, 0, -1, 1700000000, 0 };
	struct srv_signer sg = { NULL, ca_key, ca, 0, "sha256" };
	EVP_PKEY *pub;
	unsigned char *der = (unsigned char *)"x";
	size_t len = 1;

	(void)state;
	id.md_nid = NID_sha1;
	id.hash_len = 20;
	id.serial[0] = 1;
	id.serial_len = 1;
	assert_int_equal(srv_ocsp_sign(&sg, &s, 1, NULL, 0, 1700000000, &der, &len), RES_OK);
	free(der);
	/* bad arguments */
	assert_int_equal(srv_ocsp_sign(&sg, &s, 0, NULL, 0, 1, &der, &len), RES_BAD_INPUT);
	assert_null(der);
	assert_int_equal(len, 0);
	assert_int_equal(srv_ocsp_sign(&sg, &s, SRV_OCSP_MAX_IDS + 1, NULL, 0, 1, &der, &len),
	                 RES_BAD_INPUT);
	s.status = 7;
	assert_int_equal(srv_ocsp_sign(&sg, &s, 1, NULL, 0, 1, &der, &len), RES_BAD_INPUT);
	s.status = V_OCSP_CERTSTATUS_REVOKED;
	s.reason = 7;
	assert_int_equal(srv_ocsp_sign(&sg, &s, 1, NULL, 0, 1, &der, &len), RES_BAD_INPUT);
	s.status = V_OCSP_CERTSTATUS_GOOD;
	id.md_nid = NID_undef;
	assert_int_equal(srv_ocsp_sign(&sg, &s, 1, NULL, 0, 1, &der, &len), RES_BAD_INPUT);
	id.md_nid = NID_sha256; /* 20-octet hashes */
	assert_int_equal(srv_ocsp_sign(&sg, &s, 1, NULL, 0, 1, &der, &len), RES_BAD_INPUT);
	id.md_nid = NID_sha1;
	id.serial_len = 0;
	assert_int_equal(srv_ocsp_sign(&sg, &s, 1, NULL, 0, 1, &der, &len), RES_BAD_INPUT);
	id.serial_len = 1;
	/* a key that is not the certificate's */
	sg.cert = rsa_ca;
	assert_int_equal(srv_ocsp_sign(&sg, &s, 1, NULL, 0, 1, &der, &len), RES_CRYPTO);
	assert_null(der);
	/* a key that cannot sign (as a token that went away): RES_TOKEN with why */
	sg.cert = ca;
	assert_non_null(pub = EVP_PKEY_dup(X509_get0_pubkey(ca)));
	{
		unsigned char *pd = NULL;
		const unsigned char *q;
		int pl = i2d_PUBKEY(pub, &pd);

		EVP_PKEY_free(pub);
		q = pd;
		assert_non_null(pub = d2i_PUBKEY(NULL, &q, pl));
		OPENSSL_free(pd);
	}
	sg.key = pub;
	assert_int_equal(srv_ocsp_sign(&sg, &s, 1, NULL, 0, 1, &der, &len), RES_TOKEN);
	assert_true(strstr(res_message(), "token") != NULL);
	assert_null(der);
	EVP_PKEY_free(pub);
}

static void test_errors(void **state)
{
	const int st[] = { OCSP_RESPONSE_STATUS_MALFORMEDREQUEST,
		           OCSP_RESPONSE_STATUS_INTERNALERROR, OCSP_RESPONSE_STATUS_TRYLATER,
		           OCSP_RESPONSE_STATUS_SIGREQUIRED, OCSP_RESPONSE_STATUS_UNAUTHORIZED };
	const unsigned char *der, *p;
	OCSP_RESPONSE *resp;
	size_t i, len;

	(void)state;
	for (i = 0; i < sizeof(st) / sizeof(st[0]); i++) {
		assert_non_null(p = der = srv_ocsp_error(st[i], &len));
		assert_non_null(resp = d2i_OCSP_RESPONSE(NULL, &p, (long)len));
		assert_ptr_equal(p, der + len);
		assert_int_equal(OCSP_response_status(resp), st[i]);
		assert_null(OCSP_response_get1_basic(resp));
		OCSP_RESPONSE_free(resp);
		ERR_clear_error();
		assert_ptr_equal(srv_ocsp_error(st[i], &len), der); /* static */
	}
	assert_null(srv_ocsp_error(OCSP_RESPONSE_STATUS_SUCCESSFUL, &len));
	assert_int_equal(len, 0);
	assert_null(srv_ocsp_error(4, &len));
	assert_null(srv_ocsp_error(7, &len));
	assert_null(srv_ocsp_error(-1, &len));
}

/* A CA made by `p11ca ca init --new-key @type` on the token signs, through the p11ca provider. */
static void on_token(const char *type, const char *md)
{
	struct ca_open_opts o = { 0 };
	struct srv_signer sg;
	struct ca *c = NULL;
	char dir[700], cmd[3000];
	int st;

	snprintf(dir, sizeof(dir), "%s/ca-%.6s", tok.dir, type);
	snprintf(cmd, sizeof(cmd),
	         "'%s/p11ca' ca init --module '%s' --pin-file '%s' --dir '%s' --new-key %s "
	         "--token '%s' --label 'serve %s' --subject '/O=p11ca tests/CN=Token CA %s' "
	         "</dev/null >/dev/null",
	         uh_top_builddir(), uh_softhsm_module(), tok.pin_file, dir, type, tok.uri, type,
	         type);
	st = system(cmd);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	o.module = uh_softhsm_module();
	o.pin_file = tok.pin_file;
	o.need_key = 1;
	o.need_cert = 1;
	if (ca_open(dir, &o, &c) != RES_OK)
		fail_msg("ca_open: %s", res_message());
	sg.libctx = c->libctx;
	sg.key = c->key;
	sg.cert = c->cert;
	sg.delegated = 0;
	sg.md = md;
	sign_and_check(&sg, c->cert, EVP_sha1(), 1);
	sign_and_check(&sg, c->cert, EVP_sha256(), 0);
	/* what a response costs on the token (for the bench's reading) */
	{
		struct srv_certid id = { 0 };
		struct srv_single one = {
			&id, V_OCSP_CERTSTATUS_GOOD, 0, -1, 1700000000, 1700086400
		};
		struct timespec t0, t1;
		unsigned char *der;
		size_t len;
		int i;

		id.md_nid = NID_sha1;
		id.hash_len = 20;
		id.serial[0] = 1;
		id.serial_len = 1;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		for (i = 0; i < 50; i++) {
			assert_int_equal(
			    srv_ocsp_sign(&sg, &one, 1, NULL, 0, 1700000000, &der, &len), RES_OK);
			free(der);
		}
		clock_gettime(CLOCK_MONOTONIC, &t1);
		print_message(
		    "srv_ocsp_sign on SoftHSM2 %s: %.0f us a response\n", type,
		    ((double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec)) /
		        50 / 1000);
	}
	ca_close(c);
}

static void test_sign_on_token(void **state)
{
	(void)state;
	on_token("ec:p256", "sha256");
	on_token("rsa:2048", "sha384");
}

/*
 * The token unplugged (tests/fault-module.c's switch) while a CA is open:
 * RES_TOKEN with why (what the core counts as the token's state, not a
 * bad response), and signing again once it is back.
 */
static void test_sign_unplugged(void **state)
{
	struct ca_open_opts o = { 0 };
	struct srv_certid id = { 0 };
	struct srv_single s = { &id, V_OCSP_CERTSTATUS_GOOD, 0, -1, 1700000000, 0 };
	struct srv_signer sg = { 0 };
	struct ca *c = NULL;
	char module[700], dir[700], unplug[700];
	unsigned char *der = NULL;
	size_t len = 0;
	int i, rc = RES_FAIL;

	(void)state;
	on_token("ec:p384", "sha384"); /* made, and checked once */
	snprintf(dir, sizeof(dir), "%s/ca-ec:p38", tok.dir);
	snprintf(module, sizeof(module), "%s/.libs/fault-module.so", uh_top_builddir());
	snprintf(unplug, sizeof(unplug), "%s/unplugged", tok.dir);
	setenv("P11CA_FAULTS_UNPLUG_FILE", unplug, 1);
	setenv("SOFTHSM_MODULE", uh_softhsm_module(), 1);
	o.module = module;
	o.pin_file = tok.pin_file;
	o.need_key = 1;
	o.need_cert = 1;
	if (ca_open(dir, &o, &c) != RES_OK)
		fail_msg("ca_open: %s", res_message());
	sg.libctx = c->libctx;
	sg.key = c->key;
	sg.cert = c->cert;
	sg.md = "sha384";
	id.md_nid = NID_sha1;
	id.hash_len = 20;
	id.serial[0] = 1;
	id.serial_len = 1;
	assert_int_equal(srv_ocsp_sign(&sg, &s, 1, NULL, 0, 1700000000, &der, &len), RES_OK);
	free(der);
	assert_int_equal(uh_write_file(unplug, "", 0), 0);
	rc = srv_ocsp_sign(&sg, &s, 1, NULL, 0, 1700000000, &der, &len);
	print_message("unplugged: %s: %s\n", res_name(rc), res_message());
	assert_int_equal(rc, RES_TOKEN);
	assert_null(der);
	assert_true(res_message()[0] != '\0');
	assert_null(strchr(res_message(), '\n'));
	assert_int_equal(unlink(unplug), 0);
	for (i = 0; i < 3 && rc != RES_OK; i++) /* the provider may need a try to log in again */
		rc = srv_ocsp_sign(&sg, &s, 1, NULL, 0, 1700000000, &der, &len);
	if (rc != RES_OK)
		fail_msg("plugged back, still %s: %s", res_name(rc), res_message());
	free(der);
	ca_close(c);
	unsetenv("P11CA_FAULTS_UNPLUG_FILE");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_issuer_hashes),  cmocka_unit_test(test_sign_by_ca),
		cmocka_unit_test(test_sign_by_rsa_ca), cmocka_unit_test(test_sign_delegated),
		cmocka_unit_test(test_sign_echo),      cmocka_unit_test(test_sign_failures),
		cmocka_unit_test(test_errors),         cmocka_unit_test(test_sign_on_token),
		cmocka_unit_test(test_sign_unplugged),
	};
	int r;

	unsetenv("P11CA_PIN");
	if ((r = uh_token_make(&tok)) != 0)
		return r == UH_SKIP ? uh_skip("test-serve-codec-resp", "SoftHSM2 is not installed")
		                    : 1;
	r = cmocka_run_group_tests_name("serve-codec-resp", tests, codec_setup, codec_teardown);
	uh_token_remove(&tok);
	return r;
}

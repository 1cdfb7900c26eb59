/*
 * serve-codec-fixture.c - what tests/test-serve-codec-req.c and
 * test-serve-codec-resp.c share: software CAs, a delegated responder and
 * leaves made here, requests made by OpenSSL or by hand, and the oracle
 * that srv_ocsp_req_parse accepts only what d2i_OCSP_REQUEST reads the same.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ocsp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "codec.h"
#include "result.h"
#include "serve-codec-fixture.h"

EVP_PKEY *ca_key, *rsa_key, *resp_key;
X509 *ca, *rsa_ca, *responder, *leaf[4];

static X509 *make_cert(const char *cn, long serial, EVP_PKEY *key, X509 *issuer, EVP_PKEY *ikey,
                       const char *bc, const char *eku)
{
	X509 *x = X509_new();
	X509_NAME *n = X509_NAME_new();
	X509V3_CTX v3;
	X509_EXTENSION *e;

	assert_non_null(x);
	assert_int_equal(X509_set_version(x, 2), 1);
	assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(x), serial), 1);
	assert_int_equal(X509_NAME_add_entry_by_txt(
	                     n, "O", MBSTRING_ASC, (const unsigned char *)"p11ca tests", -1, -1, 0),
	                 1);
	assert_int_equal(
	    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0),
	    1);
	assert_int_equal(X509_set_subject_name(x, n), 1);
	assert_int_equal(X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : n), 1);
	X509_NAME_free(n);
	assert_non_null(X509_gmtime_adj(X509_getm_notBefore(x), -3600));
	assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x), 86400 * 30));
	assert_int_equal(X509_set_pubkey(x, key), 1);
	X509V3_set_ctx(&v3, issuer ? issuer : x, x, NULL, NULL, 0);
	if (bc != NULL) {
		assert_non_null(e = X509V3_EXT_nconf_nid(NULL, &v3, NID_basic_constraints, bc));
		X509_add_ext(x, e, -1);
		X509_EXTENSION_free(e);
	}
	if (eku != NULL) {
		assert_non_null(e = X509V3_EXT_nconf_nid(NULL, &v3, NID_ext_key_usage, eku));
		X509_add_ext(x, e, -1);
		X509_EXTENSION_free(e);
	}
	assert_true(X509_sign(x, issuer ? ikey : key,
	                      EVP_PKEY_is_a(ikey ? ikey : key, "ED25519") ? NULL : EVP_sha256()) >
	            0);
	return x;
}

int codec_setup(void **state)
{
	EVP_PKEY *k;
	int i;

	(void)state;
	ca_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	rsa_key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	resp_key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	if (ca_key == NULL || rsa_key == NULL || resp_key == NULL)
		return -1;
	ca = make_cert("Codec CA", 1, ca_key, NULL, NULL, "critical,CA:TRUE", NULL);
	rsa_ca = make_cert("Codec RSA CA", 2, rsa_key, NULL, NULL, "critical,CA:TRUE", NULL);
	responder = make_cert("Codec Responder", 0x2001, resp_key, ca, ca_key, NULL, "OCSPSigning");
	for (i = 0; i < 4; i++) {
		char cn[32];

		snprintf(cn, sizeof(cn), "leaf%d.example.com", i);
		k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
		/* serials: small, with the top bit set (a leading 00), 20 octets */
		leaf[i] = make_cert(cn,
		                    i == 0   ? 0x1001
		                    : i == 1 ? 0x80
		                             : 0x7ffff + i,
		                    k, ca, ca_key, NULL, NULL);
		EVP_PKEY_free(k);
	}
	/* a 20-octet serial with the top bit set on leaf[3] */
	{
		BIGNUM *bn = BN_new();

		BN_rand(bn, 160, BN_RAND_TOP_ONE, BN_RAND_BOTTOM_ANY);
		BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(leaf[3]));
		X509_sign(leaf[3], ca_key, EVP_sha256());
		BN_free(bn);
	}
	return 0;
}

int codec_teardown(void **state)
{
	int i;

	(void)state;
	for (i = 0; i < 4; i++)
		X509_free(leaf[i]);
	X509_free(ca);
	X509_free(rsa_ca);
	X509_free(responder);
	EVP_PKEY_free(ca_key);
	EVP_PKEY_free(rsa_key);
	EVP_PKEY_free(resp_key);
	return 0;
}

/* ---- helpers */

unsigned char *req_der(OCSP_REQUEST *req, size_t *plen)
{
	unsigned char *der = NULL;
	int n = i2d_OCSP_REQUEST(req, &der);

	assert_true(n > 0);
	*plen = (size_t)n;
	return der;
}

/* A request for leaf[0..n-1] with @md's CertIDs, a nonce when @nonce. */
OCSP_REQUEST *request(const EVP_MD *md, int n, int nonce)
{
	OCSP_REQUEST *req = OCSP_REQUEST_new();
	int i;

	for (i = 0; i < n; i++)
		assert_non_null(OCSP_request_add0_id(req, OCSP_cert_to_id(md, leaf[i % 4], ca)));
	if (nonce)
		assert_int_equal(OCSP_request_add1_nonce(req, NULL, -1), 1);
	return req;
}

/* The CertID of leaf[@i]'s serial under @issuer (its name and key, whoever issued leaf[@i]). */
OCSP_CERTID *cert_id(const EVP_MD *md, int i, X509 *issuer)
{
	OCSP_CERTID *cid =
	    OCSP_cert_id_new(md, X509_get_subject_name(issuer), X509_get0_pubkey_bitstr(issuer),
	                     X509_get0_serialNumber(leaf[i]));

	assert_non_null(cid);
	return cid;
}

/* The magnitude of @ai (no leading 00) and its sign. */
static size_t magnitude(const ASN1_INTEGER *ai, unsigned char *buf, int *neg)
{
	BIGNUM *bn = ASN1_INTEGER_to_BN(ai, NULL);
	size_t n;

	assert_non_null(bn);
	*neg = BN_is_negative(bn);
	n = (size_t)BN_bn2bin(bn, buf);
	if (n == 0)
		buf[n++] = 0;
	BN_free(bn);
	return n;
}

/* @id is what OpenSSL reads in @cid. */
static void same_id(const struct srv_certid *id, OCSP_CERTID *cid)
{
	ASN1_OCTET_STRING *nh, *kh;
	ASN1_OBJECT *md;
	ASN1_INTEGER *sn;
	unsigned char mag[64];
	size_t n;
	int neg;

	assert_int_equal(OCSP_id_get0_info(&nh, &md, &kh, &sn, cid), 1);
	if (OBJ_obj2nid(md) == NID_sha1 || OBJ_obj2nid(md) == NID_sha256 ||
	    OBJ_obj2nid(md) == NID_sha384 || OBJ_obj2nid(md) == NID_sha512)
		assert_int_equal(id->md_nid, OBJ_obj2nid(md));
	else
		assert_int_equal(id->md_nid, NID_undef);
	assert_int_equal(id->hash_len, (size_t)ASN1_STRING_length(nh));
	assert_int_equal(id->hash_len, (size_t)ASN1_STRING_length(kh));
	assert_memory_equal(id->name_hash, ASN1_STRING_get0_data(nh), id->hash_len);
	assert_memory_equal(id->key_hash, ASN1_STRING_get0_data(kh), id->hash_len);
	n = magnitude(sn, mag, &neg);
	assert_int_equal(id->negative, neg);
	assert_int_equal(id->serial_len, n);
	assert_memory_equal(id->serial, mag, n);
}

/* @der parsed by both: srv_ocsp_req_parse accepts only what OpenSSL reads the same. */
int parse_vs_openssl(const unsigned char *der, size_t len, struct srv_ocsp_req *r)
{
	const unsigned char *p = der;
	OCSP_REQUEST *req;
	int rc = srv_ocsp_req_parse(der, len, r), i;

	if (rc != RES_OK) {
		assert_int_equal(rc, RES_BAD_INPUT);
		assert_true(res_message()[0] != '\0');
		assert_null(strchr(res_message(), '\n'));
		assert_int_equal(r->n, 0);
		return rc;
	}
	req = d2i_OCSP_REQUEST(NULL, &p, (long)len);
	if (req == NULL || p != der + len)
		fail_msg("accepted what d2i_OCSP_REQUEST refuses (%zu bytes)", len);
	assert_int_equal((int)r->n, OCSP_request_onereq_count(req));
	for (i = 0; i < (int)r->n; i++)
		same_id(&r->ids[i], OCSP_onereq_get0_id(OCSP_request_onereq_get0(req, i)));
	if (r->has_nonce) {
		int at = OCSP_REQUEST_get_ext_by_NID(req, NID_id_pkix_OCSP_Nonce, -1);
		ASN1_OCTET_STRING *v;

		assert_true(at >= 0);
		v = X509_EXTENSION_get_data(OCSP_REQUEST_get_ext(req, at));
		assert_int_equal(r->nonce_len, (size_t)ASN1_STRING_length(v));
		assert_memory_equal(r->nonce, ASN1_STRING_get0_data(v), r->nonce_len);
	}
	OCSP_REQUEST_free(req);
	ERR_clear_error();
	return rc;
}

/* DER element @tag around @len bytes of @content, appended at @out (+*pn). */
void tlv(unsigned char *out, size_t *pn, int tag, const unsigned char *content, size_t len)
{
	unsigned char *p = out + *pn;

	*p++ = (unsigned char)tag;
	if (len < 0x80) {
		*p++ = (unsigned char)len;
	} else if (len < 0x100) {
		*p++ = 0x81;
		*p++ = (unsigned char)len;
	} else {
		*p++ = 0x82;
		*p++ = (unsigned char)(len >> 8);
		*p++ = (unsigned char)len;
	}
	memmove(p, content, len);
	*pn = (size_t)(p - out) + len;
}

/* A request of one Request around @certid (a whole CertID), plus @tail in tbsRequest. */
size_t wrap_certid(const unsigned char *certid, size_t len, const unsigned char *tail, size_t tlen,
                   unsigned char *out)
{
	unsigned char a[1024], b[1024];
	size_t n = 0, m = 0;

	tlv(a, &n, 0x30, certid, len); /* Request */
	tlv(b, &m, 0x30, a, n);        /* requestList */
	if (tlen > 0)                  /* no memcpy from NULL (UBSan) */
		memcpy(b + m, tail, tlen);
	m += tlen;
	n = 0;
	tlv(a, &n, 0x30, b, m); /* tbsRequest */
	m = 0;
	tlv(out, &m, 0x30, a, n); /* OCSPRequest */
	return m;
}

/* A SHA-1 CertID of leaf[0] with its serial's INTEGER content @ser (@slen). */
size_t certid_with_serial(const unsigned char *ser, size_t slen, int params, unsigned char *out)
{
	static const unsigned char sha1[] = {
		0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00
	};
	unsigned char c[512], h[20];
	size_t n = 0, m = 0;

	memset(h, 0x5a, sizeof(h));
	tlv(c, &n, 0x30, sha1, params ? sizeof(sha1) : sizeof(sha1) - 2);
	tlv(c, &n, 0x04, h, 20);
	tlv(c, &n, 0x04, h, 20);
	tlv(c, &n, 0x02, ser, slen);
	tlv(out, &m, 0x30, c, n);
	return m;
}

/*
 * test-serve-codec-req.c - the OCSP server's request side
 * (tools/serve/codec.c) against OpenSSL: requests made by OpenSSL's OCSP
 * API (and by hand for the shapes it cannot make) read by
 * srv_ocsp_req_parse as d2i_OCSP_REQUEST reads them, refusals, every prefix
 * and bit flip of a real request, its cost, and GET paths with their
 * pitfalls.  Fixtures: serve-codec-fixture.c.
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

#include "codec.h"
#include "result.h"
#include "serve-codec-fixture.h"

/* ---- requests */

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void test_parse_openssl(void **state)
{
	const EVP_MD *mds[] = { EVP_sha1(), EVP_sha256(), EVP_sha384(), EVP_sha512() };
	struct srv_ocsp_req r;
	size_t len, i;
	int n, nonce;

	(void)state;
	for (i = 0; i < 4; i++)
		for (n = 1; n <= SRV_OCSP_MAX_IDS; n += n < 4 ? 1 : 14)
			for (nonce = 0; nonce < 2; nonce++) {
				OCSP_REQUEST *req = request(mds[i], n, nonce);
				unsigned char *der = req_der(req, &len);

				assert_int_equal(parse_vs_openssl(der, len, &r), RES_OK);
				assert_int_equal(r.n, (size_t)n);
				assert_int_equal(r.has_nonce, nonce);
				assert_int_equal(r.is_signed, 0);
				if (nonce) { /* openssl: an OCTET STRING of 16 random octets */
					assert_int_equal(r.nonce_len, 18);
					assert_int_equal(r.nonce_inner_off, 2);
					assert_int_equal(r.nonce_inner_len, 16);
					assert_int_equal(r.nonce[0], 0x04);
				}
				OPENSSL_free(der);
				OCSP_REQUEST_free(req);
			}
}

static void test_parse_serials(void **state)
{
	static const struct {
		unsigned char der[24];
		size_t len;
		int ok, neg;
		unsigned char mag[22];
		size_t mlen;
	} c[] = {
		{ { 0x00 }, 1, 1, 0, { 0x00 }, 1 },             /* zero */
		{ { 0x01 }, 1, 1, 0, { 0x01 }, 1 },             /* one */
		{ { 0x00, 0x80 }, 2, 1, 0, { 0x80 }, 1 },       /* 128 */
		{ { 0xff }, 1, 1, 1, { 0x01 }, 1 },             /* -1 */
		{ { 0x80 }, 1, 1, 1, { 0x80 }, 1 },             /* -128 */
		{ { 0xff, 0x7f }, 2, 1, 1, { 0x81 }, 1 },       /* -129 */
		{ { 0xff, 0x00 }, 2, 1, 1, { 0x01, 0x00 }, 2 }, /* -256 */
		{ { 0x00, 0x01 }, 2, 0, 0, { 0 }, 0 },          /* not DER */
		{ { 0xff, 0x80 }, 2, 0, 0, { 0 }, 0 },          /* not DER */
		{ { 0x00, 0xff, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19 },
		  21,
		  1,
		  0,
		  { 0xff, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19 },
		  20 },
		{ { 0x7f, 0xff, 1,  2,  3,  4,  5,  6,  7,  8,  9,
		    10,   11,   12, 13, 14, 15, 16, 17, 18, 19, 20 },
		  22,
		  0,
		  0,
		  { 0 },
		  0 }, /* 22 octets */
	};
	unsigned char cid[256], der[512], *out;
	struct srv_ocsp_req r;
	struct srv_single s = { 0 };
	struct srv_signer sg = { NULL, ca_key, ca, 0, "sha256" };
	size_t i, n, m, olen;

	(void)state;
	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		n = certid_with_serial(c[i].der, c[i].len, 1, cid);
		m = wrap_certid(cid, n, NULL, 0, der);
		if (!c[i].ok) {
			assert_int_equal(parse_vs_openssl(der, m, &r), RES_BAD_INPUT);
			continue;
		}
		assert_int_equal(parse_vs_openssl(der, m, &r), RES_OK);
		assert_int_equal(r.ids[0].negative, c[i].neg);
		assert_int_equal(r.ids[0].serial_len, c[i].mlen);
		assert_memory_equal(r.ids[0].serial, c[i].mag, c[i].mlen);
		assert_int_equal(r.ids[0].md_nid, NID_sha1);
		/* echoed byte for byte in a response */
		s.id = &r.ids[0];
		s.status = V_OCSP_CERTSTATUS_UNKNOWN;
		s.this_update = 1700000000;
		assert_int_equal(srv_ocsp_sign(&sg, &s, 1, NULL, 0, 1700000000, &out, &olen),
		                 RES_OK);
		assert_non_null(memmem(out, olen, cid, n));
		free(out);
	}
}

static void test_parse_refusals(void **state)
{
	struct srv_ocsp_req r;
	unsigned char *der, buf[2048], big[80], cid[256], tail[1024];
	OCSP_REQUEST *req;
	X509_EXTENSION *ext;
	ASN1_OCTET_STRING *nh, *os;
	ASN1_OBJECT *obj;
	size_t len, n, m;

	(void)state;
	/* trailing bytes */
	req = request(EVP_sha1(), 1, 1);
	der = req_der(req, &len);
	memcpy(buf, der, len);
	buf[len] = 0;
	assert_int_equal(parse_vs_openssl(buf, len + 1, &r), RES_BAD_INPUT);
	assert_true(strstr(res_message(), "after") != NULL);
	/* the same request is fine, also critical nonce */
	assert_int_equal(parse_vs_openssl(buf, len, &r), RES_OK);
	OPENSSL_free(der);
	OCSP_REQUEST_free(req);
	/* zero CertIDs */
	req = OCSP_REQUEST_new();
	der = req_der(req, &len);
	assert_int_equal(parse_vs_openssl(der, len, &r), RES_BAD_INPUT);
	assert_true(strstr(res_message(), "no CertID") != NULL);
	OPENSSL_free(der);
	OCSP_REQUEST_free(req);
	/* too many */
	req = request(EVP_sha1(), SRV_OCSP_MAX_IDS + 1, 0);
	der = req_der(req, &len);
	assert_int_equal(parse_vs_openssl(der, len, &r), RES_BAD_INPUT);
	assert_true(strstr(res_message(), "too many") != NULL);
	OPENSSL_free(der);
	OCSP_REQUEST_free(req);
	/* a hash of the wrong length for SHA-256 */
	req = request(EVP_sha256(), 1, 0);
	OCSP_id_get0_info(&nh, NULL, NULL, NULL,
	                  OCSP_onereq_get0_id(OCSP_request_onereq_get0(req, 0)));
	ASN1_OCTET_STRING_set(nh, (const unsigned char *)"01234567890123456789", 20);
	der = req_der(req, &len);
	assert_int_equal(parse_vs_openssl(der, len, &r), RES_BAD_INPUT);
	OPENSSL_free(der);
	OCSP_REQUEST_free(req);
	/* a nonce too long, an empty one, a raw one, two */
	memset(big, 7, sizeof(big));
	req = request(EVP_sha1(), 1, 0);
	OCSP_request_add1_nonce(req, big, SRV_NONCE_MAX - 1); /* wrapped: 65 octets */
	der = req_der(req, &len);
	assert_int_equal(parse_vs_openssl(der, len, &r), RES_BAD_INPUT);
	assert_true(strstr(res_message(), "nonce") != NULL);
	OPENSSL_free(der);
	OCSP_REQUEST_free(req);
	req = request(EVP_sha1(), 1, 0);
	OCSP_request_add1_nonce(req, big, SRV_NONCE_MAX - 2); /* 64: the most */
	der = req_der(req, &len);
	assert_int_equal(parse_vs_openssl(der, len, &r), RES_OK);
	assert_int_equal(r.nonce_len, SRV_NONCE_MAX);
	assert_int_equal(r.nonce_inner_len, SRV_NONCE_MAX - 2);
	OPENSSL_free(der);
	os = ASN1_OCTET_STRING_new();
	ASN1_OCTET_STRING_set(os, big, 8);
	ext = X509_EXTENSION_create_by_NID(NULL, NID_id_pkix_OCSP_Nonce, 0, os); /* two */
	OCSP_REQUEST_add_ext(req, ext, -1);
	X509_EXTENSION_free(ext);
	ASN1_OCTET_STRING_free(os);
	der = req_der(req, &len);
	assert_int_equal(parse_vs_openssl(der, len, &r), RES_BAD_INPUT);
	OPENSSL_free(der);
	OCSP_REQUEST_free(req);
	req = request(EVP_sha1(), 1, 0);
	os = ASN1_OCTET_STRING_new();
	ASN1_OCTET_STRING_set(os, (const unsigned char *)"", 0);
	ext = X509_EXTENSION_create_by_NID(NULL, NID_id_pkix_OCSP_Nonce, 0, os);
	OCSP_REQUEST_add_ext(req, ext, -1);
	X509_EXTENSION_free(ext);
	der = req_der(req, &len);
	assert_int_equal(parse_vs_openssl(der, len, &r), RES_BAD_INPUT);
	OPENSSL_free(der);
	OCSP_REQUEST_free(req);
	req = request(EVP_sha1(), 1, 0);
	ASN1_OCTET_STRING_set(os, (const unsigned char *)"\x01\x02\x03raw", 6);
	ext = X509_EXTENSION_create_by_NID(NULL, NID_id_pkix_OCSP_Nonce, 1, os); /* critical */
	OCSP_REQUEST_add_ext(req, ext, -1);
	X509_EXTENSION_free(ext);
	der = req_der(req, &len);
	assert_int_equal(parse_vs_openssl(der, len, &r), RES_OK);
	assert_int_equal(r.nonce_len, 6);
	assert_int_equal(r.nonce_inner_off, 0);
	assert_int_equal(r.nonce_inner_len, 6);
	OPENSSL_free(der);
	OCSP_REQUEST_free(req);
	/* unknown extensions: non-critical fine, critical refused (also in a single request) */
	req = request(EVP_sha1(), 1, 0);
	obj = OBJ_txt2obj("1.2.3.4.5", 1);
	ext = X509_EXTENSION_create_by_OBJ(NULL, obj, 0, os);
	OCSP_REQUEST_add_ext(req, ext, -1);
	X509_EXTENSION_free(ext);
	ASN1_OBJECT_free(obj);
	der = req_der(req, &len);
	assert_int_equal(parse_vs_openssl(der, len, &r), RES_OK);
	OPENSSL_free(der);
	ext = X509_EXTENSION_create_by_NID(NULL, NID_id_pkix_OCSP_serviceLocator, 1, os);
	OCSP_REQUEST_add_ext(req, ext, -1);
	X509_EXTENSION_free(ext);
	der = req_der(req, &len);
	assert_int_equal(parse_vs_openssl(der, len, &r), RES_BAD_INPUT);
	assert_true(strstr(res_message(), "critical") != NULL);
	OPENSSL_free(der);
	OCSP_REQUEST_free(req);
	req = request(EVP_sha1(), 2, 0);
	ext = X509_EXTENSION_create_by_NID(NULL, NID_id_pkix_OCSP_serviceLocator, 1, os);
	OCSP_ONEREQ_add_ext(OCSP_request_onereq_get0(req, 1), ext, -1);
	X509_EXTENSION_free(ext);
	der = req_der(req, &len);
	assert_int_equal(parse_vs_openssl(der, len, &r), RES_BAD_INPUT);
	OPENSSL_free(der);
	OCSP_REQUEST_free(req);
	ASN1_OCTET_STRING_free(os);
	/* requestorName and a signature: read (not checked) */
	req = request(EVP_sha256(), 2, 1);
	assert_int_equal(OCSP_request_sign(req, ca, ca_key, EVP_sha256(), NULL, 0), 1);
	der = req_der(req, &len);
	assert_int_equal(parse_vs_openssl(der, len, &r), RES_OK);
	assert_int_equal(r.is_signed, 1);
	assert_int_equal(r.n, 2);
	OPENSSL_free(der);
	OCSP_REQUEST_free(req);
	/* version v2; BER lengths */
	n = certid_with_serial((const unsigned char *)"\x01", 1, 1, cid);
	m = wrap_certid(cid, n, NULL, 0, buf);
	assert_int_equal(parse_vs_openssl(buf, m, &r), RES_OK);
	{
		unsigned char v[] = { 0xa0, 0x03, 0x02, 0x01, 0x01 }, t[512];
		size_t k = 0, j = 0;

		/* tbsRequest = version, requestList */
		memcpy(t, v, sizeof(v));
		k = sizeof(v);
		tlv(tail, &j, 0x30, cid, n);
		tlv(t, &k, 0x30, tail, j);
		j = 0;
		tlv(tail, &j, 0x30, t, k);
		m = 0;
		tlv(buf, &m, 0x30, tail, j);
		assert_int_equal(parse_vs_openssl(buf, m, &r), RES_BAD_INPUT);
		assert_true(strstr(res_message(), "version") != NULL);
		t[4] = 0; /* v1 said explicitly: fine */
		j = 0;
		tlv(tail, &j, 0x30, t, k);
		m = 0;
		tlv(buf, &m, 0x30, tail, j);
		assert_int_equal(parse_vs_openssl(buf, m, &r), RES_OK);
	}
	m = wrap_certid(cid, n, NULL, 0, tail);
	buf[0] = 0x30; /* the outer length as 0x81 LL: not DER */
	buf[1] = 0x81;
	memcpy(buf + 2, tail + 1, m - 1);
	assert_int_equal(parse_vs_openssl(buf, m + 1, &r), RES_BAD_INPUT);
	m = wrap_certid(cid, n, NULL, 0, buf);
	buf[1] = 0x80; /* indefinite */
	buf[m] = buf[m + 1] = 0;
	assert_int_equal(parse_vs_openssl(buf, m + 2, &r), RES_BAD_INPUT);
	/* hash parameters other than NULL; an unknown algorithm (unauthorized, not malformed) */
	{
		static const unsigned char md5[] = { 0x06, 0x08, 0x2a, 0x86, 0x48, 0x86,
			                             0xf7, 0x0d, 0x02, 0x05, 0x05, 0x00 };
		unsigned char c[256], h[16];
		size_t k = 0, j = 0;

		memset(h, 1, sizeof(h));
		tlv(c, &k, 0x30, md5, sizeof(md5));
		tlv(c, &k, 0x04, h, 16);
		tlv(c, &k, 0x04, h, 16);
		tlv(c, &k, 0x02, (const unsigned char *)"\x05", 1);
		tlv(cid, &j, 0x30, c, k);
		m = wrap_certid(cid, j, NULL, 0, buf);
		assert_int_equal(parse_vs_openssl(buf, m, &r), RES_OK);
		assert_int_equal(r.ids[0].md_nid, NID_undef);
		assert_int_equal(r.ids[0].hash_len, 16);
		n = certid_with_serial((const unsigned char *)"\x01", 1, 1, cid);
		cid[11] = 0x04; /* parameters an empty OCTET STRING */
		m = wrap_certid(cid, n, NULL, 0, buf);
		assert_int_equal(parse_vs_openssl(buf, m, &r), RES_BAD_INPUT);
	}
	/* not DER at all, NULL, empty */
	assert_int_equal(parse_vs_openssl((const unsigned char *)"hello", 5, &r), RES_BAD_INPUT);
	assert_int_equal(srv_ocsp_req_parse(NULL, 0, &r), RES_BAD_INPUT);
	assert_int_equal(parse_vs_openssl(buf, 0, &r), RES_BAD_INPUT);
}

/* Every prefix of a real request refused; every bit flipped refused or read as OpenSSL reads it. */
static void test_parse_truncated_flipped(void **state)
{
	OCSP_REQUEST *req = request(EVP_sha256(), 3, 1);
	struct srv_ocsp_req r;
	unsigned char *der, *buf;
	size_t len, i, accepted = 0;
	int bit;

	(void)state;
	assert_int_equal(OCSP_request_sign(req, ca, ca_key, EVP_sha256(), NULL, 0), 1);
	der = req_der(req, &len);
	for (i = 0; i < len; i++) {
		assert_non_null(buf = malloc(i + 1)); /* exactly @i bytes for ASan, at least 1 */
		memcpy(buf, der, i);
		assert_int_equal(parse_vs_openssl(buf, i, &r), RES_BAD_INPUT);
		free(buf);
	}
	assert_non_null(buf = malloc(len));
	for (i = 0; i < len; i++)
		for (bit = 0; bit < 8; bit++) {
			memcpy(buf, der, len);
			buf[i] ^= (unsigned char)(1 << bit);
			if (parse_vs_openssl(buf, len, &r) == RES_OK)
				accepted++;
		}
	/* the hashes, serials, nonce and signature bits are most of it */
	print_message("%zu of %zu bit flips still a request\n", accepted, len * 8);
	assert_true(accepted > 0 && accepted < len * 8);
	free(buf);
	OPENSSL_free(der);
	OCSP_REQUEST_free(req);
}

static void test_parse_cost(void **state)
{
	OCSP_REQUEST *req = request(EVP_sha1(), 1, 1), *x;
	struct srv_ocsp_req r;
	const unsigned char *p;
	unsigned char *der;
	size_t len;
	double t0, t1, t2;
	int i, rounds = 100000;

	(void)state;
	der = req_der(req, &len);
	t0 = now_ns();
	for (i = 0; i < rounds; i++)
		assert_int_equal(srv_ocsp_req_parse(der, len, &r), RES_OK);
	t1 = now_ns();
	for (i = 0; i < rounds / 10; i++) {
		p = der;
		x = d2i_OCSP_REQUEST(NULL, &p, (long)len);
		OCSP_REQUEST_free(x);
	}
	t2 = now_ns();
	print_message("srv_ocsp_req_parse: %.0f ns a request of one CertID and a nonce; "
	              "d2i_OCSP_REQUEST: %.0f ns\n",
	              (t1 - t0) / rounds, (t2 - t1) / (rounds / 10));
	OPENSSL_free(der);
	OCSP_REQUEST_free(req);
}

/* ---- GET */

static int get(const char *path, unsigned char *out, size_t cap, size_t *plen)
{
	int rc = srv_ocsp_get_decode(path, strlen(path), out, cap, plen);

	if (rc != RES_OK) {
		assert_true(res_message()[0] != '\0');
		assert_int_equal(*plen, 0);
	}
	return rc;
}

static void expect_get(const char *path, const unsigned char *want, size_t wlen)
{
	unsigned char out[600];
	size_t n;
	int rc = get(path, out, sizeof(out), &n);

	if (rc != RES_OK)
		fail_msg("'%s' refused: %s", path, res_message());
	assert_int_equal(n, wlen);
	assert_memory_equal(out, want, wlen);
}

static void test_get_pitfalls(void **state)
{
	static const unsigned char ff[] = { 0xff, 0xff, 0xff, 0xfb, 0xef, 0xbe };
	unsigned char out[600];
	size_t n;

	(void)state;
	/* "////++++" is ff ff ff fb ef be: '/' first, '//' inside, '+' */
	expect_get("////++++", ff, 6);
	expect_get("%2F%2f//%2B%2b++", ff, 6);
	expect_get("////    ", ff, 6);   /* '+' unescaped into ' ' */
	expect_get("////%20+++", ff, 6); /* or escaped as %20 */
	expect_get("____----", ff, 6);   /* URL-safe */
	expect_get("////++++?x=1&y=%zz", ff, 6);
	expect_get("/w==", ff, 1);
	expect_get("/w", ff, 1);
	expect_get("/w%3D%3d", ff, 1);
	expect_get("//8=", ff, 2);
	expect_get("//8", ff, 2);
	expect_get("//8?", ff, 2);
	/* refused */
	assert_int_equal(get("", out, sizeof(out), &n), RES_BAD_INPUT);
	assert_int_equal(get("?a", out, sizeof(out), &n), RES_BAD_INPUT);
	assert_int_equal(get("==", out, sizeof(out), &n), RES_BAD_INPUT);
	assert_int_equal(get("/", out, sizeof(out), &n), RES_BAD_INPUT);    /* 6 bits */
	assert_int_equal(get("/w=A", out, sizeof(out), &n), RES_BAD_INPUT); /* '=' inside */
	assert_int_equal(get("/w===", out, sizeof(out), &n), RES_BAD_INPUT);
	assert_int_equal(get("//8*", out, sizeof(out), &n), RES_BAD_INPUT);
	assert_int_equal(get("//8.", out, sizeof(out), &n), RES_BAD_INPUT);
	assert_int_equal(get("//8\n", out, sizeof(out), &n), RES_BAD_INPUT);
	assert_int_equal(get("//8%", out, sizeof(out), &n), RES_BAD_INPUT);
	assert_int_equal(get("//8%2", out, sizeof(out), &n), RES_BAD_INPUT);
	assert_int_equal(get("//8%zz", out, sizeof(out), &n), RES_BAD_INPUT);
	assert_int_equal(get("//8%00", out, sizeof(out), &n), RES_BAD_INPUT);
	assert_int_equal(get("//8%252F", out, sizeof(out), &n), RES_BAD_INPUT); /* once only */
	assert_int_equal(get("//8%3F", out, sizeof(out), &n), RES_BAD_INPUT);   /* an escaped '?' */
	assert_int_equal(srv_ocsp_get_decode("//8=\0", 5, out, sizeof(out), &n), RES_BAD_INPUT);
	/* the cap: exactly, and one over */
	assert_int_equal(get("////++++", out, 6, &n), RES_OK);
	assert_int_equal(get("////++++", out, 5, &n), RES_LIMIT);
	assert_int_equal(get("//8", out, 2, &n), RES_OK);
	assert_int_equal(get("//8", out, 1, &n), RES_LIMIT);
	assert_int_equal(get("////++++AA", out, 6, &n), RES_LIMIT);
}

/* Random bytes, base64, mangled as proxies and clients do: decoded back. */
static void test_get_random(void **state)
{
	unsigned char data[400], out[400];
	char b64[600], path[2000];
	size_t len, i, j, n, round;
	unsigned seed = 11;

	(void)state;
	for (round = 0; round < 3000; round++) {
		len = 1 + round % 399;
		assert_int_equal(RAND_bytes(data, (int)len), 1);
		EVP_EncodeBlock((unsigned char *)b64, data, (int)len);
		for (i = j = 0; b64[i] != '\0'; i++) {
			int c = b64[i], how = (int)(rand_r(&seed) % 4);

			if (c == '=' && round % 3 == 0)
				continue; /* padding dropped */
			if ((c == '+' || c == '/' || c == '=') && how == 0)
				j += (size_t)sprintf(path + j, "%%%02X", c);
			else if ((c == '+' || c == '/' || c == '=') && how == 1)
				j += (size_t)sprintf(path + j, "%%%02x", c);
			else if (c == '+' && how == 2)
				path[j++] = round % 2 ? ' ' : '-';
			else if (c == '/' && how == 2)
				path[j++] = '_';
			else
				path[j++] = (char)c;
		}
		if (round % 5 == 0)
			j += (size_t)sprintf(path + j, "?nocache=%zu", round);
		assert_int_equal(srv_ocsp_get_decode(path, j, out, sizeof(out), &n), RES_OK);
		assert_int_equal(n, len);
		assert_memory_equal(out, data, len);
		/* one byte short of room */
		assert_int_equal(srv_ocsp_get_decode(path, j, out, len - 1, &n), RES_LIMIT);
	}
}

/* A real request through GET: escaped, read back, parsed. */
static void test_get_request(void **state)
{
	OCSP_REQUEST *req = request(EVP_sha256(), 2, 1);
	struct srv_ocsp_req r;
	unsigned char *der, out[1024];
	char b64[1024], path[3000];
	size_t len, i, j = 0, n;

	(void)state;
	der = req_der(req, &len);
	EVP_EncodeBlock((unsigned char *)b64, der, (int)len);
	for (i = 0; b64[i] != '\0'; i++)
		if (b64[i] == '+' || b64[i] == '/' || b64[i] == '=')
			j += (size_t)sprintf(path + j, "%%%02X", b64[i]);
		else
			path[j++] = b64[i];
	assert_int_equal(srv_ocsp_get_decode(path, j, out, sizeof(out), &n), RES_OK);
	assert_int_equal(n, len);
	assert_memory_equal(out, der, len);
	assert_int_equal(parse_vs_openssl(out, n, &r), RES_OK);
	assert_int_equal(r.n, 2);
	OPENSSL_free(der);
	OCSP_REQUEST_free(req);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_openssl),
		cmocka_unit_test(test_parse_serials),
		cmocka_unit_test(test_parse_refusals),
		cmocka_unit_test(test_parse_truncated_flipped),
		cmocka_unit_test(test_parse_cost),
		cmocka_unit_test(test_get_pitfalls),
		cmocka_unit_test(test_get_random),
		cmocka_unit_test(test_get_request),
	};

	return cmocka_run_group_tests_name("serve-codec-req", tests, codec_setup, codec_teardown);
}

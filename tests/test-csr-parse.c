/*
 * test-csr-parse.c - tools/ca-csr.c, the CSR reader of 'p11ca ca sign',
 * against OpenSSL's own: real requests (RSA, P-256, P-384, Ed25519, RSA-PSS
 * signed, SHA-1 signed, with and without extensions) are read alike, and
 * tens of thousands of hostile variants (bytes flipped, lengths changed,
 * truncated, extended) never crash it, and are never accepted unless
 * OpenSSL's d2i_X509_REQ + X509_REQ_verify accept them too.  The variants
 * are of the CertificationRequestInfo, signed again with the sample's key,
 * so that most pass the signature check: whatever OpenSSL accepts, the
 * reader must accept too and take the same subject, key and extensions out.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "csr.h"
#include "result.h"

/* hostile variants per sample request */
#define MUTATIONS 4000

struct sample {
	const char *what;
	unsigned char *der;
	int len;
	EVP_PKEY *pk;         /* signs the variants again */
	const char *md;       /* NULL: the key's own (Ed25519) */
	int pss;              /* RSA-PSS, salt of the digest's length */
	size_t info, infolen; /* the CertificationRequestInfo in der */
	size_t alg, alglen;   /* the signatureAlgorithm in der */
	size_t vals[64][2];   /* primitive values in the info (offset, length), key bits aside */
	size_t nvals;
};

/* The primitive values between @off and @end of @s's info, key bits aside. */
static void find_values(struct sample *s, size_t off, size_t end)
{
	const unsigned char *info = s->der + s->info;

	while (off < end) {
		const unsigned char *p = info + off;
		long clen;
		int tag, xclass, ret = ASN1_get_object(&p, &clen, &tag, &xclass, (long)(end - off));

		assert_false(ret & 0x80);
		if (ret & V_ASN1_CONSTRUCTED) {
			find_values(s, (size_t)(p - info), (size_t)(p - info) + (size_t)clen);
		} else if (tag != V_ASN1_BIT_STRING && clen > 0 &&
		           s->nvals < sizeof(s->vals) / sizeof(s->vals[0])) {
			s->vals[s->nvals][0] = (size_t)(p - info);
			s->vals[s->nvals][1] = (size_t)clen;
			s->nvals++;
		}
		off = (size_t)(p - info) + (size_t)clen;
	}
}

static struct sample samples[8];
static size_t nsamples;

/* A signed request for a new key of @alg (an EVP_PKEY_Q_keygen type). */
static void add_sample(const char *what, EVP_PKEY *pk, const char *md, int with_exts, int pss)
{
	X509_REQ *req = X509_REQ_new();
	X509_NAME *name = X509_NAME_new();
	STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
	EVP_MD_CTX *mctx = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;
	unsigned char *der = NULL;
	struct sample *s = &samples[nsamples];

	assert_non_null(pk);
	assert_true(X509_NAME_add_entry_by_txt(
	    name, "CN", MBSTRING_UTF8, (const unsigned char *)"host.example.com", -1, -1, 0));
	assert_true(X509_REQ_set_subject_name(req, name));
	assert_true(X509_REQ_set_pubkey(req, pk));
	if (with_exts) {
		X509_EXTENSION *e;
		assert_non_null(e = X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name,
		                                        "DNS:host.example.com,IP:10.0.0.1"));
		sk_X509_EXTENSION_push(exts, e);
		assert_non_null(e = X509V3_EXT_conf_nid(NULL, NULL, NID_ext_key_usage,
		                                        "serverAuth,clientAuth"));
		sk_X509_EXTENSION_push(exts, e);
		assert_true(X509_REQ_add_extensions(req, exts));
	}
	assert_int_equal(
	    EVP_DigestSignInit(mctx, &pctx, md != NULL ? EVP_get_digestbyname(md) : NULL, NULL, pk),
	    1);
	if (pss) {
		assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING), 1);
		assert_int_equal(EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST), 1);
	}
	assert_true(X509_REQ_sign_ctx(req, mctx) > 0);
	s->what = what;
	s->len = i2d_X509_REQ(req, &der);
	assert_true(s->len > 0);
	s->der = der;
	s->pk = pk;
	s->md = md;
	s->pss = pss;
	/* SEQUENCE { info, signatureAlgorithm, signature }: where the first two are */
	{
		const unsigned char *p = der, *start;
		long clen;
		int tag, xclass;

		assert_int_equal(ASN1_get_object(&p, &clen, &tag, &xclass, s->len),
		                 V_ASN1_CONSTRUCTED);
		start = p;
		assert_int_equal(ASN1_get_object(&p, &clen, &tag, &xclass, s->len - (p - der)),
		                 V_ASN1_CONSTRUCTED);
		s->info = (size_t)(start - der);
		s->infolen = (size_t)(p + clen - start);
		p += clen;
		start = p;
		assert_int_equal(ASN1_get_object(&p, &clen, &tag, &xclass, s->len - (p - der)),
		                 V_ASN1_CONSTRUCTED);
		s->alg = (size_t)(start - der);
		s->alglen = (size_t)(p + clen - start);
	}
	find_values(s, 0, s->infolen);
	assert_true(s->nvals > 4);
	nsamples++;
	EVP_MD_CTX_free(mctx);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	X509_NAME_free(name);
	X509_REQ_free(req);
}

static int setup(void **state)
{
	(void)state;
	add_sample("P-256, SAN+EKU", EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256"), "SHA256", 1, 0);
	add_sample("P-384, no extensions", EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384"), "SHA384",
	           0, 0);
	add_sample("RSA-2048, SAN+EKU", EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048),
	           "SHA256", 1, 0);
	add_sample("Ed25519", EVP_PKEY_Q_keygen(NULL, NULL, "ED25519"), NULL, 1, 0);
	add_sample("RSA-2048 PSS-signed", EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048),
	           "SHA256", 1, 1);
	add_sample("P-256 SHA-1-signed", EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256"), "SHA1", 1,
	           0);
	return 0;
}

static int teardown(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < nsamples; i++) {
		OPENSSL_free(samples[i].der);
		EVP_PKEY_free(samples[i].pk);
	}
	return 0;
}

/* OpenSSL's verdict on @der: parsed whole and its signature verifies. */
static int openssl_accepts(const unsigned char *der, size_t len)
{
	const unsigned char *p = der;
	X509_REQ *req = d2i_X509_REQ(NULL, &p, (long)len);
	EVP_PKEY *pk;
	int ok = req != NULL && p == der + len && (pk = X509_REQ_get0_pubkey(req)) != NULL &&
	         X509_REQ_verify(req, pk) > 0;

	X509_REQ_free(req);
	ERR_clear_error();
	return ok;
}

static void test_samples_read_alike(void **state)
{
	struct ca_csr c;
	size_t i;

	(void)state;
	for (i = 0; i < nsamples; i++) {
		const unsigned char *p = samples[i].der;
		X509_REQ *req = d2i_X509_REQ(NULL, &p, samples[i].len);
		STACK_OF(X509_EXTENSION) *exts = X509_REQ_get_extensions(req);
		unsigned char *a = NULL, *b = NULL;
		int alen, blen;

		res_clear();
		if (ca_csr_parse(NULL, samples[i].der, (size_t)samples[i].len, &c) != RES_OK)
			fail_msg("%s: refused: %s", samples[i].what, res_message());
		assert_int_equal(X509_NAME_cmp(c.subject, X509_REQ_get_subject_name(req)), 0);
		/* no extensions: an empty list or none at all */
		assert_int_equal(c.exts != NULL ? sk_X509_EXTENSION_num(c.exts) : 0,
		                 exts != NULL ? sk_X509_EXTENSION_num(exts) : 0);
		if (EVP_PKEY_eq(c.pkey, X509_REQ_get0_pubkey(req)) != 1)
			fail_msg("%s: another public key", samples[i].what);
		/* the key bits are the request's, byte for byte */
		alen = i2d_X509_PUBKEY(X509_REQ_get_X509_PUBKEY(req), &a);
		blen = i2d_PUBKEY(c.pkey, &b);
		assert_int_equal(alen, blen);
		assert_memory_equal(a, b, (size_t)alen);
		OPENSSL_free(a);
		OPENSSL_free(b);
		ca_csr_free(&c);
		sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
		X509_REQ_free(req);
	}
}

static void test_pem_reads_as_der(void **state)
{
	struct ca_csr c;
	BIO *mem = BIO_new(BIO_s_mem());
	char *data;
	long len;

	(void)state;
	assert_true(PEM_write_bio(mem, PEM_STRING_X509_REQ, "", samples[0].der, samples[0].len));
	len = BIO_get_mem_data(mem, &data);
	assert_int_equal(ca_csr_parse(NULL, (unsigned char *)data, (size_t)len, &c), RES_OK);
	ca_csr_free(&c);
	/* a certificate in PEM is not a request */
	BIO_reset(mem);
	assert_true(PEM_write_bio(mem, PEM_STRING_X509, "", samples[0].der, samples[0].len));
	len = BIO_get_mem_data(mem, &data);
	assert_int_equal(ca_csr_parse(NULL, (unsigned char *)data, (size_t)len, &c), RES_BAD_INPUT);
	assert_non_null(strstr(res_message(), "not a certificate signing request"));
	/* and *out is left zeroed: ca_csr_free on it is harmless */
	assert_null(c.subject);
	assert_null(c.pkey);
	ca_csr_free(&c);
	BIO_free(mem);
}

/* @s with its signatureAlgorithm replaced by @nid (parameters @ptype), re-encoded. */
static int swap_sigalg(const struct sample *s, int nid, int ptype, unsigned char **pder)
{
	const unsigned char *p = s->der;
	X509_REQ *req = d2i_X509_REQ(NULL, &p, s->len);
	const X509_ALGOR *alg;
	int len;

	assert_non_null(req);
	X509_REQ_get0_signature(req, NULL, &alg);
	assert_true(X509_ALGOR_set0((X509_ALGOR *)alg, OBJ_nid2obj(nid), ptype, NULL));
	*pder = NULL;
	len = i2d_X509_REQ(req, pder); /* the signed part as it was (kept encoding) */
	assert_true(len > 0);
	X509_REQ_free(req);
	return len;
}

/*
 * A valid signature under an algorithm of another key type (an RSA
 * signature labelled ECDSA or EdDSA, an ECDSA one labelled RSA): OpenSSL
 * refuses these, so the fast path must too (it accepted them before).
 */
static void test_sigalg_of_another_key_type(void **state)
{
	static const struct {
		size_t sample;
		int nid, ptype;
	} swaps[] = {
		{ 2, NID_ecdsa_with_SHA256, V_ASN1_UNDEF }, /* RSA key, PKCS#1 signature */
		{ 2, NID_ED25519, V_ASN1_UNDEF },
		{ 0, NID_sha256WithRSAEncryption, V_ASN1_NULL }, /* P-256 key */
		{ 0, NID_sha256WithRSAEncryption, V_ASN1_UNDEF },
		{ 3, NID_ecdsa_with_SHA256, V_ASN1_UNDEF }, /* Ed25519 key */
	};
	struct ca_csr c;
	unsigned char *der;
	size_t i;
	int len;

	(void)state;
	for (i = 0; i < sizeof(swaps) / sizeof(swaps[0]); i++) {
		len = swap_sigalg(&samples[swaps[i].sample], swaps[i].nid, swaps[i].ptype, &der);
		assert_false(openssl_accepts(der, (size_t)len));
		if (ca_csr_parse(NULL, der, (size_t)len, &c) != RES_BAD_INPUT)
			fail_msg("%s labelled %s: accepted", samples[swaps[i].sample].what,
			         OBJ_nid2sn(swaps[i].nid));
		OPENSSL_free(der);
	}
}

/* @tag, @len, @content appended at *pp (DER, lengths under 64 KiB). */
static void der_put(unsigned char **pp, int tag, const unsigned char *content, size_t len)
{
	unsigned char *p = *pp;

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
	*pp = p + len;
}

/*
 * An attribute of another type than extensionRequest whose value is no
 * whole ANY for OpenSSL (a constructed NumericString holding a SEQUENCE),
 * in a request whose signature verifies: OpenSSL refuses it, and so must
 * the fast path (it only checked the value was a TLV; found by csr_fuzzer).
 */
static void test_attribute_value_not_any(void **state)
{
	static const unsigned char attr[] = {
		0x30, 0x0c, 0x06, 0x03, 0x2a, 0x03, 0x04, /* 1.2.3.4 */
		0x31, 0x05, 0x32, 0x03, 0x30, 0x01, 0x00, /* SET { [NumericString, constructed] } */
	};
	static const unsigned char ed25519[] = { 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70 };
	EVP_PKEY *pk = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	X509_NAME *name = X509_NAME_new();
	unsigned char body[1024], info[1100], req[1300], sig[64], *p, *q, *spki = NULL,
	                                                                  *subj = NULL;
	EVP_MD_CTX *mctx = EVP_MD_CTX_new();
	size_t siglen = sizeof(sig), infolen;
	struct ca_csr c;
	int spkilen, subjlen;

	(void)state;
	assert_non_null(pk);
	assert_true(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
	                                       (const unsigned char *)"a.example", -1, -1, 0));
	assert_true((subjlen = i2d_X509_NAME(name, &subj)) > 0);
	assert_true((spkilen = i2d_PUBKEY(pk, &spki)) > 0);
	p = body;
	der_put(&p, V_ASN1_INTEGER, (const unsigned char *)"", 1);
	memcpy(p, subj, (size_t)subjlen), p += subjlen;
	memcpy(p, spki, (size_t)spkilen), p += spkilen;
	der_put(&p, 0xa0, attr, sizeof(attr));
	q = info;
	der_put(&q, 0x30, body, (size_t)(p - body));
	infolen = (size_t)(q - info);
	assert_int_equal(EVP_DigestSignInit(mctx, NULL, NULL, NULL, pk), 1);
	assert_int_equal(EVP_DigestSign(mctx, sig, &siglen, info, infolen), 1);
	/* CertificationRequest ::= SEQUENCE { info, Ed25519, BIT STRING } */
	p = body;
	memcpy(p, info, infolen), p += infolen;
	memcpy(p, ed25519, sizeof(ed25519)), p += sizeof(ed25519);
	*p++ = 0x03, *p++ = (unsigned char)(siglen + 1), *p++ = 0;
	memcpy(p, sig, siglen), p += siglen;
	q = req;
	der_put(&q, 0x30, body, (size_t)(p - body));
	assert_false(openssl_accepts(req, (size_t)(q - req)));
	assert_int_equal(ca_csr_parse(NULL, req, (size_t)(q - req), &c), RES_BAD_INPUT);
	OPENSSL_free(subj);
	OPENSSL_free(spki);
	EVP_MD_CTX_free(mctx);
	X509_NAME_free(name);
	EVP_PKEY_free(pk);
}

/* A small deterministic generator: the same variants in every run. */
static unsigned long rng = 88172645463325252UL;
static unsigned long next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* @src of @len bytes, changed in 1 to 4 places, at @out (@cap bytes); its new length. */
static size_t mutate(const unsigned char *src, size_t len, unsigned char *out, size_t cap)
{
	size_t n, k, pos;

	memmove(out, src, len);
	n = 1 + next_rand() % 4;
	for (k = 0; k < n; k++) {
		pos = next_rand() % len;
		switch (next_rand() % 6) {
		case 0: out[pos] ^= (unsigned char)(1u << (next_rand() % 8)); break; /* a bit */
		case 1: out[pos] = (unsigned char)next_rand(); break;                /* a byte */
		case 2:
			out[pos] = pos + 1 < len && out[pos] < 0x80 ? 0x81 : 0x7f;
			break;                          /* a length form */
		case 3: len = pos > 0 ? pos : 1; break; /* truncated */
		case 4:                                 /* extended */
			if (len + 8 <= cap) {
				memset(out + len, (int)(next_rand() & 0xff), 8);
				len += 8;
			}
			break;
		default: out[pos] = (unsigned char)(out[pos] + 1); break; /* off by one */
		}
	}
	return len;
}

/*
 * @s's info at @out with 1 (or 2) of its primitive values changed (a bit, a
 * byte, off by one), its encoding kept: most such variants are still
 * requests for OpenSSL, with another subject, version, extensions...
 */
static size_t mutate_values(const struct sample *s, unsigned char *out)
{
	size_t n = next_rand() % 4 == 0 ? 2 : 1, k, v, pos;

	memcpy(out, s->der + s->info, s->infolen);
	for (k = 0; k < n; k++) {
		v = next_rand() % s->nvals;
		pos = s->vals[v][0] + next_rand() % s->vals[v][1];
		switch (next_rand() % 3) {
		case 0: out[pos] ^= (unsigned char)(1u << (next_rand() % 8)); break;
		case 1: out[pos] = (unsigned char)next_rand(); break;
		default: out[pos] = (unsigned char)(out[pos] + 1); break;
		}
	}
	return s->infolen;
}

/*
 * CertificationRequest ::= SEQUENCE { @info, @s's signatureAlgorithm, a
 * signature over @info (whatever its bytes) by @s's key }, at @out.
 */
static size_t sign_again(const struct sample *s, const unsigned char *info, size_t infolen,
                         unsigned char *out)
{
	unsigned char body[8192], sig[1024], *p = body, *q = out;
	EVP_MD_CTX *mctx = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;
	size_t siglen = sizeof(sig);

	assert_true(infolen + s->alglen + sizeof(sig) + 8 <= sizeof(body));
	assert_int_equal(EVP_DigestSignInit(mctx, &pctx,
	                                    s->md != NULL ? EVP_get_digestbyname(s->md) : NULL,
	                                    NULL, s->pk),
	                 1);
	if (s->pss) {
		assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING), 1);
		assert_int_equal(EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST), 1);
	}
	assert_int_equal(EVP_DigestSign(mctx, sig, &siglen, info, infolen), 1);
	EVP_MD_CTX_free(mctx);
	memcpy(p, info, infolen), p += infolen;
	memcpy(p, s->der + s->alg, s->alglen), p += s->alglen;
	memmove(sig + 1, sig, siglen); /* BIT STRING: no unused bits */
	sig[0] = 0;
	der_put(&p, V_ASN1_BIT_STRING, sig, siglen + 1);
	der_put(&q, V_ASN1_SEQUENCE | V_ASN1_CONSTRUCTED, body, (size_t)(p - body));
	return (size_t)(q - out);
}

/* OpenSSL's reading of @der if it takes it whole and its signature verifies, or NULL. */
static X509_REQ *openssl_reads(const unsigned char *der, size_t len)
{
	const unsigned char *p = der;
	X509_REQ *req = d2i_X509_REQ(NULL, &p, (long)len);
	EVP_PKEY *pk;

	if (req != NULL && (p != der + len || (pk = X509_REQ_get0_pubkey(req)) == NULL ||
	                    X509_REQ_verify(req, pk) <= 0)) {
		X509_REQ_free(req);
		req = NULL;
	}
	ERR_clear_error();
	return req;
}

/* What differs between the reader's @c and OpenSSL's @req (@exts), or NULL. */
static const char *differs(const struct ca_csr *c, X509_REQ *req,
                           const STACK_OF(X509_EXTENSION) * exts)
{
	const unsigned char *bits;
	const X509_ALGOR *alg;
	X509_ALGOR *palg;
	ASN1_OBJECT *aobj;
	int blen, n, j;

	if (X509_NAME_cmp(c->subject, X509_REQ_get_subject_name(req)) != 0)
		return "another subject";
	if (!X509_PUBKEY_get0_param(&aobj, &bits, &blen, &palg, X509_REQ_get_X509_PUBKEY(req)))
		return "OpenSSL has no key bits";
	alg = palg;
	if (X509_ALGOR_cmp(c->key_alg, alg) != 0)
		return "another key algorithm";
	if (c->key_len != blen || memcmp(c->key_bits, bits, (size_t)blen) != 0)
		return "other key bits";
	if (EVP_PKEY_eq(c->pkey, X509_REQ_get0_pubkey(req)) != 1)
		return "another public key";
	n = exts != NULL ? sk_X509_EXTENSION_num(exts) : 0;
	if ((c->exts != NULL ? sk_X509_EXTENSION_num(c->exts) : 0) != n)
		return "another number of extensions";
	for (j = 0; j < n; j++) {
		unsigned char *a = NULL, *b = NULL;
		int alen = i2d_X509_EXTENSION(sk_X509_EXTENSION_value(c->exts, j), &a);
		int same = alen > 0 &&
		           alen == i2d_X509_EXTENSION(sk_X509_EXTENSION_value(exts, j), &b) &&
		           memcmp(a, b, (size_t)alen) == 0;
		OPENSSL_free(a);
		OPENSSL_free(b);
		if (!same)
			return "another extension";
	}
	return NULL;
}

static void test_hostile_variants(void **state)
{
	unsigned char info[4096], buf[8192];
	struct ca_csr c;
	size_t i, m, len, total = 0, compared = 0, refused = 0, both_refuse = 0, ext_unread = 0;
	int ret;

	(void)state;
	for (i = 0; i < nsamples; i++) {
		const struct sample *s = &samples[i];
		X509_REQ *req;

		/* signed again, as it was: both read it */
		len = sign_again(s, s->der + s->info, s->infolen, buf);
		assert_non_null(req = openssl_reads(buf, len));
		X509_REQ_free(req);
		assert_int_equal(ca_csr_parse(NULL, buf, len, &c), RES_OK);
		ca_csr_free(&c);
		for (m = 0; m < MUTATIONS; m++) {
			STACK_OF(X509_EXTENSION) *exts = NULL;
			const char *why;

			/* seven in eight keep the encoding, one in eight breaks it anywhere */
			if (m % 8 != 7)
				len = mutate_values(s, info);
			else
				len = mutate(s->der + s->info, s->infolen, info, sizeof(info));
			len = sign_again(s, info, len, buf);
			/* one in eight: the envelope too (its lengths, algorithm, signature) */
			if (m % 8 == 5)
				len = mutate(buf, len, buf, sizeof(buf));
			total++;
			req = openssl_reads(buf, len);
			res_clear();
			ret = ca_csr_parse(NULL, buf, len, &c);
			if (req == NULL) {
				if (ret == RES_OK)
					fail_msg(
					    "%s, variant %zu: accepted, but OpenSSL refuses it",
					    s->what, m);
				both_refuse++;
			} else {
				exts = X509_REQ_get_extensions(req);
				ERR_clear_error();
				if (exts == NULL &&
				    (X509_REQ_get_attr_by_NID(req, NID_ext_req, -1) >= 0 ||
				     X509_REQ_get_attr_by_NID(req, NID_ms_ext_req, -1) >= 0)) {
					/* OpenSSL cannot read them either: refusing is right */
					ext_unread++;
					if (ret != RES_OK)
						goto refused;
				} else if (ret != RES_OK) {
					fail_msg(
					    "%s, variant %zu: OpenSSL reads it, but refused: %s",
					    s->what, m, res_message());
				}
				if ((why = differs(&c, req, exts)) != NULL)
					fail_msg("%s, variant %zu: read unlike OpenSSL: %s",
					         s->what, m, why);
				compared++;
			}
			if (ret == RES_OK) {
				assert_non_null(c.subject);
				assert_non_null(c.pkey);
				assert_non_null(c.key_alg);
				ca_csr_free(&c);
				goto next;
			}
		refused:
			/* refused as bad input, with a reason on one line */
			assert_int_equal(ret, RES_BAD_INPUT);
			assert_true(res_message()[0] != '\0');
			assert_null(strchr(res_message(), '\n'));
			refused++;
		next:
			sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
			X509_REQ_free(req);
		}
	}
	print_message("%zu variants: %zu read by OpenSSL and compared field by field, %zu refused "
	              "by both (%zu refused in all), %zu with extensions OpenSSL cannot read\n",
	              total, compared, both_refuse, refused, ext_unread);
	/* the variants pass the signature check: the readers themselves are compared */
	assert_true(compared * 2 >= total);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_samples_read_alike),
		cmocka_unit_test(test_pem_reads_as_der),
		cmocka_unit_test(test_sigalg_of_another_key_type),
		cmocka_unit_test(test_attribute_value_not_any),
		cmocka_unit_test(test_hostile_variants),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}

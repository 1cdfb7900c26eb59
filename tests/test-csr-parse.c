/*
 * test-csr-parse.c - tools/ca-csr.c, the CSR reader of 'p11ca ca sign',
 * against OpenSSL's own: real requests (RSA, P-256, P-384, Ed25519, RSA-PSS
 * signed, SHA-1 signed, with and without extensions) are read alike, and
 * tens of thousands of hostile variants (bytes flipped, lengths changed,
 * truncated, extended) never crash it, and are never accepted unless
 * OpenSSL's d2i_X509_REQ + X509_REQ_verify accept them too.
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
};

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
	if (pss)
		assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING), 1);
	assert_true(X509_REQ_sign_ctx(req, mctx) > 0);
	samples[nsamples].what = what;
	samples[nsamples].len = i2d_X509_REQ(req, &der);
	assert_true(samples[nsamples].len > 0);
	samples[nsamples].der = der;
	nsamples++;
	EVP_MD_CTX_free(mctx);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	X509_NAME_free(name);
	X509_REQ_free(req);
	EVP_PKEY_free(pk);
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
	for (i = 0; i < nsamples; i++)
		OPENSSL_free(samples[i].der);
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

static size_t mutate(const struct sample *s, unsigned char *out, size_t cap)
{
	size_t len = (size_t)s->len, n, k, pos;

	memcpy(out, s->der, len);
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

static void test_hostile_variants(void **state)
{
	unsigned char buf[4096];
	struct ca_csr c;
	size_t i, m, len, accepted = 0, refused = 0;
	int ret;

	(void)state;
	for (i = 0; i < nsamples; i++) {
		for (m = 0; m < MUTATIONS; m++) {
			len = mutate(&samples[i], buf, sizeof(buf));
			res_clear();
			if ((ret = ca_csr_parse(NULL, buf, len, &c)) == RES_OK) {
				/* accepted: whole, and OpenSSL agrees it is a valid request */
				assert_non_null(c.subject);
				assert_non_null(c.pkey);
				assert_non_null(c.key_alg);
				if (!openssl_accepts(buf, len))
					fail_msg(
					    "%s, variant %zu: accepted, but OpenSSL refuses it",
					    samples[i].what, m);
				ca_csr_free(&c);
				accepted++;
			} else {
				/* refused as bad input, with a reason on one line */
				assert_int_equal(ret, RES_BAD_INPUT);
				assert_true(res_message()[0] != '\0');
				assert_null(strchr(res_message(), '\n'));
				refused++;
			}
		}
	}
	/* most variants break the signature; a few only touch unsigned bytes */
	assert_true(refused > accepted);
	print_message("%zu variants refused, %zu accepted (all valid for OpenSSL too)\n", refused,
	              accepted);
}

int main(int argc, char **argv)
{
	const char *asan = getenv("ASAN_OPTIONS");
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_samples_read_alike),
		cmocka_unit_test(test_pem_reads_as_der),
		cmocka_unit_test(test_sigalg_of_another_key_type),
		cmocka_unit_test(test_attribute_value_not_any),
		cmocka_unit_test(test_hostile_variants),
	};

	/*
	 * make check asks AddressSanitizer for full unwinding at every malloc
	 * (for SoftHSM2's leaks); nothing here needs it, and it makes the
	 * variants 30 times slower: run again without it.
	 */
	(void)argc;
	if (asan != NULL && strstr(asan, "fast_unwind_on_malloc=0") != NULL &&
	    getenv("TEST_CSR_PARSE_REEXEC") == NULL) {
		char *opts = malloc(strlen(asan) + 32);
		if (opts != NULL) {
			sprintf(opts, "%s:fast_unwind_on_malloc=1", asan);
			setenv("ASAN_OPTIONS", opts, 1);
			setenv("TEST_CSR_PARSE_REEXEC", "1", 1);
			execv("/proc/self/exe", argv);
			free(opts); /* exec failed: go on as we are */
		}
	}
	return cmocka_run_group_tests(tests, setup, teardown);
}

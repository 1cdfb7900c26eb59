/*
 * test-ecdsa.c - PKCS#11 raw ECDSA signatures (r || s) to DER, checked
 * against OpenSSL's encoder and decoder and with real signatures; and the
 * PKCS#1 DigestInfo prefixes of RFC 8017, section 9.2.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/rand.h>

#include "internal.h"
#include "unit-helpers.h"

/* Largest DER for 66-byte halves: 3 + 2 * (2 + 67). */
#define DER_MAX 141

/*
 * Converts @raw and checks the DER three ways: the size query agrees,
 * d2i_ECDSA_SIG gives back r and s, and i2d_ECDSA_SIG re-encodes it (and
 * OpenSSL's own encoding of r, s) byte for byte.
 */
static void check_raw(const unsigned char *raw, size_t rawlen)
{
	unsigned char der[DER_MAX + 16], *again = NULL, *ossl = NULL;
	size_t half = rawlen / 2, derlen = 0, need;
	const unsigned char *p;
	ECDSA_SIG *sig = NULL, *mine = NULL;
	const BIGNUM *r, *s;
	BIGNUM *er = NULL, *es = NULL;
	int againlen, ossllen;

	/* size query */
	assert_int_equal(p11ca_ecdsa_raw_to_der(raw, rawlen, NULL, &derlen), CKR_BUFFER_TOO_SMALL);
	need = derlen;
	assert_true(need >= 8 && need <= DER_MAX);
	/* one byte short */
	derlen = need - 1;
	assert_int_equal(p11ca_ecdsa_raw_to_der(raw, rawlen, der, &derlen), CKR_BUFFER_TOO_SMALL);
	assert_int_equal(derlen, need);
	/* a larger buffer than needed */
	memset(der, 0xee, sizeof(der));
	derlen = sizeof(der);
	assert_int_equal(p11ca_ecdsa_raw_to_der(raw, rawlen, der, &derlen), CKR_OK);
	assert_int_equal(derlen, need);
	assert_int_equal(der[derlen], 0xee);

	p = der;
	sig = d2i_ECDSA_SIG(NULL, &p, (long)derlen);
	assert_non_null(sig);
	assert_ptr_equal(p, der + derlen);
	ECDSA_SIG_get0(sig, &r, &s);
	er = BN_bin2bn(raw, (int)half, NULL);
	es = BN_bin2bn(raw + half, (int)half, NULL);
	assert_non_null(er);
	assert_non_null(es);
	assert_int_equal(BN_cmp(r, er), 0);
	assert_int_equal(BN_cmp(s, es), 0);

	againlen = i2d_ECDSA_SIG(sig, &again);
	assert_int_equal(againlen, (int)derlen);
	assert_memory_equal(again, der, derlen);

	mine = ECDSA_SIG_new();
	assert_non_null(mine);
	assert_int_equal(ECDSA_SIG_set0(mine, er, es), 1);
	er = es = NULL; /* owned by mine */
	ossllen = i2d_ECDSA_SIG(mine, &ossl);
	assert_int_equal(ossllen, (int)derlen);
	assert_memory_equal(ossl, der, derlen);

	/* and exactly enough room works too */
	derlen = need;
	assert_int_equal(p11ca_ecdsa_raw_to_der(raw, rawlen, der, &derlen), CKR_OK);
	assert_int_equal(derlen, need);

	OPENSSL_free(again);
	OPENSSL_free(ossl);
	ECDSA_SIG_free(sig);
	ECDSA_SIG_free(mine);
	BN_free(er);
	BN_free(es);
}

static void check_size(size_t half, int rounds)
{
	unsigned char raw[132];
	size_t rawlen = 2 * half, z;
	int i;

	/* random values, with and without the high bit */
	for (i = 0; i < rounds; i++) {
		assert_int_equal(RAND_bytes(raw, (int)rawlen), 1);
		if (i % 4 == 1) {
			raw[0] |= 0x80;
		} else if (i % 4 == 2) {
			raw[half] |= 0x80;
		} else if (i % 4 == 3) {
			raw[0] &= 0x7f;
			raw[half] &= 0x7f;
		}
		check_raw(raw, rawlen);
	}
	/* leading zero bytes: 1 .. half of them in r, in s, in both */
	for (z = 1; z <= half; z++) {
		assert_int_equal(RAND_bytes(raw, (int)rawlen), 1);
		memset(raw, 0, z);
		check_raw(raw, rawlen);
		memset(raw + half, 0, z);
		check_raw(raw, rawlen);
		/* a zero byte followed by one with the high bit */
		if (z < half) {
			raw[z] |= 0x80;
			raw[half + z] |= 0x80;
			check_raw(raw, rawlen);
		}
	}
	/* all zero, all 0xff, and 1 */
	memset(raw, 0, rawlen);
	check_raw(raw, rawlen);
	memset(raw, 0xff, rawlen);
	check_raw(raw, rawlen);
	memset(raw, 0, rawlen);
	raw[half - 1] = 1;
	raw[rawlen - 1] = 0x80;
	check_raw(raw, rawlen);
}

static void test_raw_p256(void **state)
{
	(void)state;
	check_size(32, 400);
}

static void test_raw_p384(void **state)
{
	(void)state;
	check_size(48, 400);
}

static void test_raw_p521(void **state)
{
	unsigned char raw[132], der[DER_MAX];
	size_t derlen = sizeof(der);

	(void)state;
	check_size(66, 400);
	/* the long form of the SEQUENCE length appears here */
	memset(raw, 0xff, sizeof(raw));
	assert_int_equal(p11ca_ecdsa_raw_to_der(raw, sizeof(raw), der, &derlen), CKR_OK);
	assert_int_equal(derlen, DER_MAX);
	assert_int_equal(der[0], 0x30);
	assert_int_equal(der[1], 0x81);
	assert_int_equal(der[2], DER_MAX - 3);
}

static void test_raw_other_sizes(void **state)
{
	size_t half;

	(void)state;
	/* nothing in the code is specific to the three curves */
	for (half = 1; half <= 66; half++)
		check_size(half, 20);
}

static void test_raw_bad_arguments(void **state)
{
	unsigned char raw[140], der[DER_MAX + 32];
	size_t derlen = sizeof(der);

	(void)state;
	memset(raw, 0x11, sizeof(raw));
	assert_int_equal(p11ca_ecdsa_raw_to_der(raw, 63, der, &derlen), CKR_ARGUMENTS_BAD);
	assert_int_equal(p11ca_ecdsa_raw_to_der(raw, 1, der, &derlen), CKR_ARGUMENTS_BAD);
	assert_int_equal(p11ca_ecdsa_raw_to_der(raw, 0, der, &derlen), CKR_ARGUMENTS_BAD);
	assert_int_equal(p11ca_ecdsa_raw_to_der(raw, 134, der, &derlen), CKR_ARGUMENTS_BAD);
	assert_int_equal(p11ca_ecdsa_raw_to_der(raw, 140, der, &derlen), CKR_ARGUMENTS_BAD);
	assert_int_equal(p11ca_ecdsa_raw_to_der(NULL, 64, der, &derlen), CKR_ARGUMENTS_BAD);
	assert_int_equal(p11ca_ecdsa_raw_to_der(raw, 64, der, NULL), CKR_ARGUMENTS_BAD);
	/* the length was left alone */
	assert_int_equal(derlen, sizeof(der));
	/* 132 bytes is the most there is */
	assert_int_equal(p11ca_ecdsa_raw_to_der(raw, 132, der, &derlen), CKR_OK);
}

/* Signs with OpenSSL, goes DER -> r||s -> p11ca DER, and verifies that. */
static void real_signatures(const char *group, size_t half, const EVP_MD *md)
{
	unsigned char dgst[EVP_MAX_MD_SIZE], osig[DER_MAX + 16], raw[132], der[DER_MAX];
	size_t osiglen, derlen;
	unsigned int dlen;
	EVP_PKEY *pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", group);
	EVP_PKEY_CTX *pctx = NULL;
	const BIGNUM *r, *s;
	const unsigned char *p;
	ECDSA_SIG *sig;
	int i;

	assert_non_null(pkey);
	for (i = 0; i < 20; i++) {
		unsigned char msg[64];
		assert_int_equal(RAND_bytes(msg, sizeof(msg)), 1);
		assert_int_equal(EVP_Digest(msg, sizeof(msg), dgst, &dlen, md, NULL), 1);

		pctx = EVP_PKEY_CTX_new(pkey, NULL);
		assert_non_null(pctx);
		assert_int_equal(EVP_PKEY_sign_init(pctx), 1);
		assert_int_equal(EVP_PKEY_CTX_set_signature_md(pctx, md), 1);
		osiglen = sizeof(osig);
		assert_int_equal(EVP_PKEY_sign(pctx, osig, &osiglen, dgst, dlen), 1);
		EVP_PKEY_CTX_free(pctx);

		/* what a token returns: r and s, fixed width */
		p = osig;
		sig = d2i_ECDSA_SIG(NULL, &p, (long)osiglen);
		assert_non_null(sig);
		ECDSA_SIG_get0(sig, &r, &s);
		assert_int_equal(BN_bn2binpad(r, raw, (int)half), (int)half);
		assert_int_equal(BN_bn2binpad(s, raw + half, (int)half), (int)half);
		ECDSA_SIG_free(sig);

		derlen = sizeof(der);
		assert_int_equal(p11ca_ecdsa_raw_to_der(raw, 2 * half, der, &derlen), CKR_OK);
		assert_int_equal(derlen, osiglen);
		assert_memory_equal(der, osig, osiglen);
		assert_true(uh_verify_digest(pkey, md, dgst, dlen, der, derlen));

		/* the verification can fail: a changed s does not verify */
		raw[2 * half - 1] ^= 0x01;
		derlen = sizeof(der);
		assert_int_equal(p11ca_ecdsa_raw_to_der(raw, 2 * half, der, &derlen), CKR_OK);
		assert_false(uh_verify_digest(pkey, md, dgst, dlen, der, derlen));
	}
	EVP_PKEY_free(pkey);
}

static void test_real_p256(void **state)
{
	(void)state;
	real_signatures("P-256", 32, EVP_sha256());
}

static void test_real_p384(void **state)
{
	(void)state;
	real_signatures("P-384", 48, EVP_sha384());
}

static void test_real_p521(void **state)
{
	(void)state;
	real_signatures("P-521", 66, EVP_sha512());
}

/* RFC 8017, section 9.2, note 1 */
static const unsigned char prefix_sha1[] = { 0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e,
	                                     0x03, 0x02, 0x1a, 0x05, 0x00, 0x04, 0x14 };
static const unsigned char prefix_sha256[] = { 0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60,
	                                       0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
	                                       0x01, 0x05, 0x00, 0x04, 0x20 };
static const unsigned char prefix_sha384[] = { 0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60,
	                                       0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
	                                       0x02, 0x05, 0x00, 0x04, 0x30 };
static const unsigned char prefix_sha512[] = { 0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60,
	                                       0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
	                                       0x03, 0x05, 0x00, 0x04, 0x40 };

static void check_digest_info(const EVP_MD *md, const unsigned char *prefix, size_t plen)
{
	unsigned char dgst[EVP_MAX_MD_SIZE], out[128];
	size_t dlen = (size_t)EVP_MD_get_size(md), outlen = sizeof(out);

	assert_int_equal(RAND_bytes(dgst, (int)dlen), 1);
	assert_int_equal(p11ca_digest_info(md, dgst, dlen, out, &outlen), CKR_OK);
	assert_int_equal(outlen, plen + dlen);
	assert_memory_equal(out, prefix, plen);
	assert_memory_equal(out + plen, dgst, dlen);
	/* exactly enough room */
	outlen = plen + dlen;
	assert_int_equal(p11ca_digest_info(md, dgst, dlen, out, &outlen), CKR_OK);
	assert_int_equal(outlen, plen + dlen);
	/* too little room is an error, not an overflow */
	outlen = plen + dlen - 1;
	assert_int_not_equal(p11ca_digest_info(md, dgst, dlen, out, &outlen), CKR_OK);
	/* the digest length must match the algorithm */
	outlen = sizeof(out);
	assert_int_equal(p11ca_digest_info(md, dgst, dlen - 1, out, &outlen), CKR_ARGUMENTS_BAD);
}

static void test_digest_info(void **state)
{
	unsigned char dgst[32], out[64];
	size_t outlen = sizeof(out);

	(void)state;
	check_digest_info(EVP_sha1(), prefix_sha1, sizeof(prefix_sha1));
	check_digest_info(EVP_sha256(), prefix_sha256, sizeof(prefix_sha256));
	check_digest_info(EVP_sha384(), prefix_sha384, sizeof(prefix_sha384));
	check_digest_info(EVP_sha512(), prefix_sha512, sizeof(prefix_sha512));
	memset(dgst, 0, sizeof(dgst));
	assert_int_equal(p11ca_digest_info(NULL, dgst, sizeof(dgst), out, &outlen),
	                 CKR_ARGUMENTS_BAD);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_raw_p256),          cmocka_unit_test(test_raw_p384),
		cmocka_unit_test(test_raw_p521),          cmocka_unit_test(test_raw_other_sizes),
		cmocka_unit_test(test_raw_bad_arguments), cmocka_unit_test(test_real_p256),
		cmocka_unit_test(test_real_p384),         cmocka_unit_test(test_real_p521),
		cmocka_unit_test(test_digest_info),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

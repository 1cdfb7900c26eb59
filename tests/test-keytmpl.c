/*
 * test-keytmpl.c - key type names (p11ca_keyspec_parse) and the key
 * generation templates: what a generated key may and may not do.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <openssl/objects.h>

#include "internal.h"
#include "unit-helpers.h"

static void parse_ok(const char *type, unsigned flags, struct p11ca_keyspec *spec)
{
	CK_RV rv = p11ca_keyspec_parse(type, flags, spec);

	if (rv != CKR_OK)
		print_error("%s: %s\n", type, p11ca_error_message());
	assert_int_equal(rv, CKR_OK);
}

static void parse_refused(const char *type, unsigned flags, const char *needle)
{
	struct p11ca_keyspec spec;

	assert_int_equal(p11ca_keyspec_parse(type, flags, &spec), P11CA_R_BAD_KEY_TYPE);
	assert_int_equal(spec.kind, P11CA_KEY_NONE);
	assert_true(p11ca_error_message()[0] != '\0');
	if (needle != NULL && !uh_contains(p11ca_error_message(), needle)) {
		print_error("%s: '%s' lacks '%s'\n", type ? type : "(null)", p11ca_error_message(),
		            needle);
		fail();
	}
}

/* The NID of a DER OBJECT IDENTIFIER. */
static int oid_nid(const unsigned char *der, size_t len)
{
	const unsigned char *p = der;
	ASN1_OBJECT *obj = d2i_ASN1_OBJECT(NULL, &p, (long)len);
	int nid;

	assert_non_null(obj);
	assert_ptr_equal(p, der + len);
	nid = OBJ_obj2nid(obj);
	ASN1_OBJECT_free(obj);
	return nid;
}

static void test_parse_rsa(void **state)
{
	static const int sizes[] = { 2048, 3072, 4096 };
	struct p11ca_keyspec spec;
	char name[32];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		snprintf(name, sizeof(name), "rsa:%d", sizes[i]);
		parse_ok(name, 0, &spec);
		assert_int_equal(spec.kind, P11CA_KEY_RSA);
		assert_int_equal(spec.bits, sizes[i]);
		assert_int_equal(spec.modulus_bits, (CK_ULONG)sizes[i]);
		assert_null(spec.params);
	}
}

static void test_parse_rsa_limits(void **state)
{
	struct p11ca_keyspec spec;

	(void)state;
	/* 8192 bits break SIP peers: only on purpose */
	parse_refused("rsa:8192", 0, "SIP");
	parse_refused("rsa:8192", P11CA_GEN_DECRYPT, "SIP");
	parse_refused("rsa:4104", 0, "SIP");
	parse_ok("rsa:8192", P11CA_GEN_FORCE, &spec);
	assert_int_equal(spec.kind, P11CA_KEY_RSA);
	assert_int_equal(spec.bits, 8192);
	assert_int_equal(spec.modulus_bits, 8192);
	/* too small is refused, even with force */
	parse_refused("rsa:1024", 0, NULL);
	parse_refused("rsa:1024", P11CA_GEN_FORCE, NULL);
	parse_refused("rsa:2040", P11CA_GEN_FORCE, NULL);
	parse_refused("rsa:512", 0, NULL);
	/* silly sizes */
	parse_refused("rsa:2049", 0, NULL);
	parse_refused("rsa:32768", P11CA_GEN_FORCE, NULL);
	parse_refused("rsa:0", 0, NULL);
	parse_refused("rsa:-2048", 0, NULL);
}

static void test_parse_ec(void **state)
{
	static const struct {
		const char *type;
		int bits;
		const char *group;
		int nid;
	} ec[] = {
		{ "ec:p256", 256, "prime256v1", NID_X9_62_prime256v1 },
		{ "ec:prime256v1", 256, "prime256v1", NID_X9_62_prime256v1 },
		{ "ec:secp256r1", 256, "prime256v1", NID_X9_62_prime256v1 },
		{ "ec:p384", 384, "secp384r1", NID_secp384r1 },
		{ "ec:secp384r1", 384, "secp384r1", NID_secp384r1 },
		{ "ec:p521", 521, "secp521r1", NID_secp521r1 },
		{ "ec:secp521r1", 521, "secp521r1", NID_secp521r1 },
	};
	struct p11ca_keyspec spec;
	size_t i;
	int bits;

	(void)state;
	for (i = 0; i < sizeof(ec) / sizeof(ec[0]); i++) {
		parse_ok(ec[i].type, 0, &spec);
		assert_int_equal(spec.kind, P11CA_KEY_EC);
		assert_int_equal(spec.bits, ec[i].bits);
		assert_string_equal(spec.curve, ec[i].group);
		assert_non_null(spec.params);
		assert_int_equal(oid_nid(spec.params, spec.params_len), ec[i].nid);
		/* and the way back, used for keys found on a token */
		bits = 0;
		assert_string_equal(p11ca_ec_params_group(spec.params, spec.params_len, &bits),
		                    ec[i].group);
		assert_int_equal(bits, ec[i].bits);
	}
}

static void test_parse_ed25519(void **state)
{
	static const unsigned char oid[] = { 0x06, 0x03, 0x2b, 0x65, 0x70 };
	struct p11ca_keyspec spec;

	(void)state;
	parse_ok("ed25519", 0, &spec);
	assert_int_equal(spec.kind, P11CA_KEY_ED25519);
	assert_int_equal(spec.bits, 256);
	assert_int_equal(spec.params_len, sizeof(oid));
	assert_memory_equal(spec.params, oid, sizeof(oid));
	assert_int_equal(oid_nid(spec.params, spec.params_len), NID_ED25519);
}

static void test_parse_garbage(void **state)
{
	static const char *const bad[] = {
		"",          "rsa",   "rsa:",      "rsa:abc",   "rsa:2048x",
		"rsa:2048 ", "ec",    "ec:",       "ec:p255",   "ec:P-256",
		"ec:p256 ",  "ed448", "ed25519:x", "dsa:2048",  "x25519",
		"RSA:2048",  "p256",  "rsa: 2048", "rsa:+2048", "rsa:\t4096",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		parse_refused(bad[i], P11CA_GEN_FORCE, NULL);
	parse_refused(NULL, 0, NULL);
	/* the error lists what works */
	parse_refused("ec:p255", 0, "ec:p256");
}

/* ---- templates ---- */

static const CK_ATTRIBUTE *find(const CK_ATTRIBUTE *t, CK_ULONG n, CK_ATTRIBUTE_TYPE type)
{
	const CK_ATTRIBUTE *found = NULL;
	CK_ULONG i;

	for (i = 0; i < n; i++) {
		if (t[i].type == type) {
			/* an attribute appears at most once */
			assert_null(found);
			found = &t[i];
		}
	}
	return found;
}

static void assert_bool(const CK_ATTRIBUTE *t, CK_ULONG n, CK_ATTRIBUTE_TYPE type, CK_BBOOL want)
{
	const CK_ATTRIBUTE *a = find(t, n, type);

	if (a == NULL) {
		print_error("attribute 0x%lx missing\n", (unsigned long)type);
		fail();
	}
	assert_int_equal(a->ulValueLen, sizeof(CK_BBOOL));
	assert_int_equal(*(CK_BBOOL *)a->pValue, want);
}

/* Absent or false. */
static void assert_not_true(const CK_ATTRIBUTE *t, CK_ULONG n, CK_ATTRIBUTE_TYPE type)
{
	const CK_ATTRIBUTE *a = find(t, n, type);

	if (a != NULL) {
		assert_int_equal(a->ulValueLen, sizeof(CK_BBOOL));
		assert_int_equal(*(CK_BBOOL *)a->pValue, CK_FALSE);
	}
}

static void assert_ulong(const CK_ATTRIBUTE *t, CK_ULONG n, CK_ATTRIBUTE_TYPE type, CK_ULONG want)
{
	const CK_ATTRIBUTE *a = find(t, n, type);

	assert_non_null(a);
	assert_int_equal(a->ulValueLen, sizeof(CK_ULONG));
	assert_int_equal(*(CK_ULONG *)a->pValue, want);
}

static void assert_bytes(const CK_ATTRIBUTE *t, CK_ULONG n, CK_ATTRIBUTE_TYPE type,
                         const void *want, size_t len)
{
	const CK_ATTRIBUTE *a = find(t, n, type);

	assert_non_null(a);
	assert_int_equal(a->ulValueLen, len);
	if (len > 0)
		assert_memory_equal(a->pValue, want, len);
}

struct tmpl {
	CK_ATTRIBUTE pub[P11CA_TMPL_MAX], priv[P11CA_TMPL_MAX];
	CK_ULONG npub, npriv;
};

static const unsigned char test_id[20] = { 1,  2,  3,  4,  5,  6,  7,  8,  9,  10,
	                                   11, 12, 13, 14, 15, 16, 17, 18, 19, 20 };

static void make_tmpl(const char *type, unsigned flags, struct p11ca_keyspec *spec, struct tmpl *t)
{
	parse_ok(type, flags, spec);
	memset(t, 0, sizeof(*t));
	p11ca_keygen_templates(spec, "my-key", test_id, sizeof(test_id), flags, t->pub, &t->npub,
	                       t->priv, &t->npriv);
	assert_true(t->npub > 0 && t->npub <= P11CA_TMPL_MAX);
	assert_true(t->npriv > 0 && t->npriv <= P11CA_TMPL_MAX);
}

/* What every generated key pair has, whatever its type. */
static void check_common(const struct tmpl *t)
{
	assert_ulong(t->pub, t->npub, CKA_CLASS, CKO_PUBLIC_KEY);
	assert_ulong(t->priv, t->npriv, CKA_CLASS, CKO_PRIVATE_KEY);

	assert_bool(t->priv, t->npriv, CKA_TOKEN, CK_TRUE);
	assert_bool(t->priv, t->npriv, CKA_PRIVATE, CK_TRUE);
	assert_bool(t->priv, t->npriv, CKA_SENSITIVE, CK_TRUE);
	assert_bool(t->priv, t->npriv, CKA_EXTRACTABLE, CK_FALSE);
	assert_bool(t->priv, t->npriv, CKA_SIGN, CK_TRUE);
	assert_not_true(t->priv, t->npriv, CKA_UNWRAP);
	/* said, not left to the token's defaults (SoftHSM2's is CK_TRUE) */
	assert_bool(t->priv, t->npriv, CKA_SIGN_RECOVER, CK_FALSE);
	assert_bool(t->pub, t->npub, CKA_VERIFY_RECOVER, CK_FALSE);
	assert_bytes(t->priv, t->npriv, CKA_LABEL, "my-key", 6);
	assert_bytes(t->priv, t->npriv, CKA_ID, test_id, sizeof(test_id));

	assert_bool(t->pub, t->npub, CKA_TOKEN, CK_TRUE);
	assert_bool(t->pub, t->npub, CKA_VERIFY, CK_TRUE);
	assert_not_true(t->pub, t->npub, CKA_PRIVATE);
	assert_not_true(t->pub, t->npub, CKA_WRAP);
	assert_bytes(t->pub, t->npub, CKA_LABEL, "my-key", 6);
	assert_bytes(t->pub, t->npub, CKA_ID, test_id, sizeof(test_id));
}

/* @type with @flags is refused as a key type. */
static void assert_rv_bad(const char *type, unsigned flags)
{
	struct p11ca_keyspec spec;

	assert_true(p11ca_keyspec_parse(type, flags, &spec) == P11CA_R_BAD_KEY_TYPE);
}

static void test_templates_rsa(void **state)
{
	static const unsigned char e65537[] = { 0x01, 0x00, 0x01 };
	static const char *const types[] = { "rsa:2048", "rsa:3072", "rsa:4096" };
	struct p11ca_keyspec spec;
	struct tmpl t;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		make_tmpl(types[i], 0, &spec, &t);
		check_common(&t);
		assert_ulong(t.pub, t.npub, CKA_MODULUS_BITS, (CK_ULONG)spec.bits);
		assert_bytes(t.pub, t.npub, CKA_PUBLIC_EXPONENT, e65537, sizeof(e65537));
		assert_null(find(t.pub, t.npub, CKA_EC_PARAMS));
		/* no decryption unless asked for */
		assert_not_true(t.priv, t.npriv, CKA_DECRYPT);
		assert_not_true(t.pub, t.npub, CKA_ENCRYPT);

		assert_bool(t.priv, t.npriv, CKA_DERIVE, CK_FALSE);

		make_tmpl(types[i], P11CA_GEN_DECRYPT, &spec, &t);
		check_common(&t);
		assert_bool(t.priv, t.npriv, CKA_DECRYPT, CK_TRUE);
		assert_bool(t.pub, t.npub, CKA_ENCRYPT, CK_TRUE);
	}
	make_tmpl("rsa:8192", P11CA_GEN_FORCE, &spec, &t);
	check_common(&t);
	assert_ulong(t.pub, t.npub, CKA_MODULUS_BITS, 8192);
}

/* --pss-only: the private key allows the RSA-PSS mechanisms and nothing else */
static void test_templates_pss_only(void **state)
{
	static const CK_MECHANISM_TYPE pss[] = { CKM_RSA_PKCS_PSS,        CKM_SHA1_RSA_PKCS_PSS,
		                                 CKM_SHA224_RSA_PKCS_PSS, CKM_SHA256_RSA_PKCS_PSS,
		                                 CKM_SHA384_RSA_PKCS_PSS, CKM_SHA512_RSA_PKCS_PSS };
	struct p11ca_keyspec spec;
	struct tmpl t;

	(void)state;
	make_tmpl("rsa:2048", P11CA_GEN_PSS_ONLY, &spec, &t);
	check_common(&t);
	assert_bytes(t.priv, t.npriv, CKA_ALLOWED_MECHANISMS, pss, sizeof(pss));
	assert_not_true(t.priv, t.npriv, CKA_DECRYPT);
	/* without the flag no list: every mechanism the key type has */
	make_tmpl("rsa:2048", 0, &spec, &t);
	assert_null(find(t.priv, t.npriv, CKA_ALLOWED_MECHANISMS));
	parse_refused("ec:p256", P11CA_GEN_PSS_ONLY, "only RSA keys can be PSS-only");
	parse_refused("ed25519", P11CA_GEN_PSS_ONLY, "only RSA keys can be PSS-only");
	parse_refused("rsa:2048", P11CA_GEN_PSS_ONLY | P11CA_GEN_DECRYPT, "cannot also decrypt");
}

static void test_templates_ec(void **state)
{
	static const unsigned char p256[] = { 0x06, 0x08, 0x2a, 0x86, 0x48,
		                              0xce, 0x3d, 0x03, 0x01, 0x07 };
	static const unsigned char p384[] = { 0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22 };
	static const unsigned char p521[] = { 0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23 };
	static const unsigned char ed25519[] = { 0x06, 0x03, 0x2b, 0x65, 0x70 };
	static const struct {
		const char *type;
		const unsigned char *oid;
		size_t len;
	} ec[] = {
		{ "ec:p256", p256, sizeof(p256) },
		{ "ec:p384", p384, sizeof(p384) },
		{ "ec:p521", p521, sizeof(p521) },
		{ "ed25519", ed25519, sizeof(ed25519) },
	};
	struct p11ca_keyspec spec;
	struct tmpl t;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(ec) / sizeof(ec[0]); i++) {
		make_tmpl(ec[i].type, 0, &spec, &t);
		check_common(&t);
		assert_bytes(t.pub, t.npub, CKA_EC_PARAMS, ec[i].oid, ec[i].len);
		assert_null(find(t.pub, t.npub, CKA_MODULUS_BITS));
		assert_null(find(t.pub, t.npub, CKA_PUBLIC_EXPONENT));
		assert_not_true(t.priv, t.npriv, CKA_DECRYPT);
		/* EC keys never decrypt, even when asked */
		make_tmpl(ec[i].type, P11CA_GEN_DECRYPT, &spec, &t);
		check_common(&t);
		assert_not_true(t.priv, t.npriv, CKA_DECRYPT);
		assert_not_true(t.pub, t.npub, CKA_ENCRYPT);
		assert_bool(t.priv, t.npriv, CKA_DERIVE, CK_FALSE);
	}
	/* ECDH only when asked for, and only for EC */
	make_tmpl("ec:p384", P11CA_GEN_DERIVE, &spec, &t);
	assert_bool(t.priv, t.npriv, CKA_DERIVE, CK_TRUE);
	assert_bool(t.priv, t.npriv, CKA_SIGN, CK_TRUE);
	assert_rv_bad("ed25519", P11CA_GEN_DERIVE);
	assert_rv_bad("rsa:2048", P11CA_GEN_DERIVE);
}

static void test_templates_no_label(void **state)
{
	struct p11ca_keyspec spec;
	struct tmpl t;

	(void)state;
	parse_ok("ec:p256", 0, &spec);
	p11ca_keygen_templates(&spec, NULL, NULL, 0, 0, t.pub, &t.npub, t.priv, &t.npriv);
	assert_bytes(t.priv, t.npriv, CKA_LABEL, NULL, 0);
	assert_bytes(t.priv, t.npriv, CKA_ID, NULL, 0);
	assert_bool(t.priv, t.npriv, CKA_SENSITIVE, CK_TRUE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_rsa),
		cmocka_unit_test(test_parse_rsa_limits),
		cmocka_unit_test(test_parse_ec),
		cmocka_unit_test(test_parse_ed25519),
		cmocka_unit_test(test_parse_garbage),
		cmocka_unit_test(test_templates_rsa),
		cmocka_unit_test(test_templates_ec),
		cmocka_unit_test(test_templates_no_label),
		cmocka_unit_test(test_templates_pss_only),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * test-pki-names.c - tools/pki/, the PKI library: the name policy table,
 * control characters in subjects, SAN text, the one time parser (every syntax, bad ones, leap days,
 * the 2050 UTCTime boundary) and serials.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bn.h>
#include <openssl/err.h>

#include "pki.h"
#include "result.h"
#include "pki-certs.h"

/* ------------------------------------------------------------------ */
/* The name policy                                                     */
/* ------------------------------------------------------------------ */

struct name_case {
	enum pki_name_type type;
	const char *value;
	size_t len; /* 0: strlen */
	unsigned flags;
	int want;
	const char *msg; /* a part of the message, or NULL */
};

static char long_label[80], long_name[300], ok_253[260];

static void test_names(void **state)
{
	static const unsigned char ip4[4] = { 192, 0, 2, 1 }, ip16[16] = { 0x20, 0x01, 0x0d, 0xb8 };
	const struct name_case cases[] = {
		/* DNS: good */
		{ PKI_NAME_DNS, "host.example.com", 0, 0, RES_OK, NULL },
		{ PKI_NAME_DNS, "a-b.c1.EXAMPLE.com", 0, 0, RES_OK, NULL },
		{ PKI_NAME_DNS, "xn--bcher-kva.example", 0, 0, RES_OK, NULL },
		{ PKI_NAME_DNS, "1host.example.com", 0, 0, RES_OK, NULL },
		{ PKI_NAME_DNS, ok_253, 0, 0, RES_OK, NULL },
		/* DNS: bad */
		{ PKI_NAME_DNS, "*.example.com", 0, 0, RES_POLICY, "wildcard" },
		{ PKI_NAME_DNS, "a*.example.com", 0, 0, RES_POLICY, "wildcard" },
		{ PKI_NAME_DNS, "bad_name.example.com", 0, 0, RES_BAD_INPUT,
		  "label 'bad_name' has a character" },
		{ PKI_NAME_DNS, "192.0.2.1", 0, 0, RES_BAD_INPUT, "IP address" },
		{ PKI_NAME_DNS, "2001:db8::1", 0, 0, RES_BAD_INPUT, "IP address" },
		{ PKI_NAME_DNS, "1.2.3", 0, 0, RES_BAD_INPUT, "all digits" },
		{ PKI_NAME_DNS, long_label, 0, 0, RES_BAD_INPUT, "longer than 63" },
		{ PKI_NAME_DNS, long_name, 0, 0, RES_BAD_INPUT, "longer than 253" },
		{ PKI_NAME_DNS, "host.example.com.", 0, 0, RES_BAD_INPUT, "trailing dot" },
		{ PKI_NAME_DNS, "", 0, 0, RES_BAD_INPUT, "empty" },
		{ PKI_NAME_DNS, "a..example.com", 0, 0, RES_BAD_INPUT, "empty label" },
		{ PKI_NAME_DNS, ".example.com", 0, 0, RES_BAD_INPUT, "empty label" },
		{ PKI_NAME_DNS, "host", 0, 0, RES_BAD_INPUT, "needs a domain" },
		{ PKI_NAME_DNS, "-a.example.com", 0, 0, RES_BAD_INPUT, "hyphen" },
		{ PKI_NAME_DNS, "a-.example.com", 0, 0, RES_BAD_INPUT, "hyphen" },
		{ PKI_NAME_DNS, "host.example.com\0evil.com", 25, 0, RES_BAD_INPUT, "NUL" },
		{ PKI_NAME_DNS,
		  "b\xc3\xbc"
		  "cher.example",
		  0, 0, RES_BAD_INPUT, "character" },
		{ PKI_NAME_DNS, "a b.example.com", 0, 0, RES_BAD_INPUT, "character" },
		/* IP */
		{ PKI_NAME_IP, "192.0.2.1", 0, PKI_NAME_IP_TEXT, RES_OK, NULL },
		{ PKI_NAME_IP, "2001:db8::10", 0, PKI_NAME_IP_TEXT, RES_OK, NULL },
		{ PKI_NAME_IP, (const char *)ip4, 4, 0, RES_OK, NULL },
		{ PKI_NAME_IP, (const char *)ip16, 16, 0, RES_OK, NULL },
		{ PKI_NAME_IP, (const char *)ip16, 5, 0, RES_BAD_INPUT, "malformed" },
		{ PKI_NAME_IP, "a.example.com", 0, PKI_NAME_IP_TEXT, RES_BAD_INPUT,
		  "not an IPv4 or IPv6 address" },
		{ PKI_NAME_IP, "192.0.2.256", 0, PKI_NAME_IP_TEXT, RES_BAD_INPUT, "not an IPv4" },
		{ PKI_NAME_IP, "", 0, PKI_NAME_IP_TEXT, RES_BAD_INPUT, NULL },
		/* e-mail */
		{ PKI_NAME_EMAIL, "pki@example.com", 0, 0, RES_OK, NULL },
		{ PKI_NAME_EMAIL, "first.last+tag@mail.example.com", 0, 0, RES_OK, NULL },
		{ PKI_NAME_EMAIL, "*@example.com", 0, 0, RES_POLICY, "wildcard" },
		{ PKI_NAME_EMAIL, "pki@*.example.com", 0, 0, RES_POLICY, "wildcard" },
		{ PKI_NAME_EMAIL, "example.com", 0, 0, RES_BAD_INPUT, "not an e-mail" },
		{ PKI_NAME_EMAIL, "@example.com", 0, 0, RES_BAD_INPUT, "not an e-mail" },
		{ PKI_NAME_EMAIL, "a,b@example.com", 0, 0, RES_BAD_INPUT, "local part" },
		{ PKI_NAME_EMAIL, "a b@example.com", 0, 0, RES_BAD_INPUT, "local part" },
		{ PKI_NAME_EMAIL, "pki@localhost", 0, 0, RES_BAD_INPUT, "needs a domain" },
		{ PKI_NAME_EMAIL, "pki@bad_domain.example.com", 0, 0, RES_BAD_INPUT, "domain" },
		{ PKI_NAME_EMAIL, "pki@192.0.2.1", 0, 0, RES_BAD_INPUT, "IP address" },
		{ PKI_NAME_EMAIL, "", 0, 0, RES_BAD_INPUT, "empty" },
		/* URI */
		{ PKI_NAME_URI, "https://names.example.com/", 0, 0, RES_OK, NULL },
		{ PKI_NAME_URI, "urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6", 0, 0, RES_OK,
		  NULL },
		{ PKI_NAME_URI, "https://*.example.com/", 0, 0, RES_POLICY, "wildcard" },
		{ PKI_NAME_URI, "no-scheme", 0, 0, RES_BAD_INPUT, "not a URI" },
		{ PKI_NAME_URI, "1http://x.example.com/", 0, 0, RES_BAD_INPUT, "not a URI" },
		{ PKI_NAME_URI, "https://a.example.com/a b", 0, 0, RES_BAD_INPUT, "space" },
		/* commas are fine since records keep each SAN apart (schema 2) */
		{ PKI_NAME_URI, "https://a.example.com/a,b", 0, 0, RES_OK, NULL },
		{ PKI_NAME_URI, "https://a.example.com/\xc3\xa9", 0, 0, RES_BAD_INPUT,
		  "non-ASCII" },
		{ PKI_NAME_URI, "", 0, 0, RES_BAD_INPUT, "empty" },
	};
	size_t i;
	int rc;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct name_case *c = &cases[i];
		size_t len = c->len ? c->len : strlen(c->value);

		res_clear();
		rc = pki_name_check(c->type, c->value, len, c->flags);
		if (rc != c->want)
			fail_msg("case %zu '%.60s': %s (%s), want %s", i, c->value, res_name(rc),
			         res_message(), res_name(c->want));
		if (c->msg != NULL && strstr(res_message(), c->msg) == NULL)
			fail_msg("case %zu '%.60s': message '%s' lacks '%s'", i, c->value,
			         res_message(), c->msg);
	}
}

/* A request-like subject and SAN set under pki_names_check(_ex). */
static void test_names_check(void **state)
{
	X509_NAME *subj = X509_NAME_new(), *empty = X509_NAME_new(), *person = X509_NAME_new();
	X509_NAME *wild = X509_NAME_new();
	GENERAL_NAMES *sans = NULL, *badsans = NULL, *other = NULL;
	X509V3_CTX ctx;

	(void)state;
	X509V3_set_ctx(&ctx, NULL, NULL, NULL, NULL, 0);
	X509_NAME_add_entry_by_txt(subj, "CN", MBSTRING_UTF8,
	                           (const unsigned char *)"a.example.com", -1, -1, 0);
	X509_NAME_add_entry_by_txt(person, "CN", MBSTRING_UTF8, (const unsigned char *)"Jane Doe",
	                           -1, -1, 0);
	X509_NAME_add_entry_by_txt(wild, "CN", MBSTRING_UTF8,
	                           (const unsigned char *)"*.example.com", -1, -1, 0);
	{
		X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &ctx, NID_subject_alt_name,
		                                        "DNS:a.example.com,IP:192.0.2.7,email:pki@"
		                                        "example.com,URI:https://a.example.com/");
		assert_non_null(e);
		sans = X509V3_EXT_d2i(e);
		X509_EXTENSION_free(e);
		e = X509V3_EXT_conf_nid(NULL, &ctx, NID_subject_alt_name,
		                        "DNS:a.example.com,DNS:b_c.example.com");
		assert_non_null(e);
		badsans = X509V3_EXT_d2i(e);
		X509_EXTENSION_free(e);
		e = X509V3_EXT_conf_nid(NULL, &ctx, NID_subject_alt_name,
		                        "DNS:a.example.com,RID:1.2.3.4");
		assert_non_null(e);
		other = X509V3_EXT_d2i(e);
		X509_EXTENSION_free(e);
	}
	assert_non_null(sans);
	assert_int_equal(pki_names_check(subj, sans), RES_OK);
	assert_int_equal(pki_names_check(subj, NULL), RES_OK);   /* the CN is a host name */
	assert_int_equal(pki_names_check(empty, sans), RES_OK);  /* the SAN alone */
	assert_int_equal(pki_names_check(person, sans), RES_OK); /* a SAN: the CN is free */
	assert_int_equal(pki_names_check(empty, NULL), RES_BAD_INPUT);
	assert_int_equal(pki_names_check(person, NULL), RES_BAD_INPUT);
	assert_non_null(strstr(res_message(), "not a valid FQDN"));
	assert_int_equal(pki_names_check_ex(person, NULL, PKI_NAMES_CN_ANY), RES_OK);
	assert_int_equal(pki_names_check(wild, sans), RES_POLICY);
	assert_int_equal(pki_names_check_ex(wild, NULL, PKI_NAMES_CN_ANY), RES_POLICY);
	assert_int_equal(pki_names_check(subj, badsans), RES_BAD_INPUT);
	assert_non_null(strstr(res_message(), "b_c.example.com"));
	assert_int_equal(pki_names_check(subj, other), RES_POLICY);
	GENERAL_NAMES_free(sans);
	GENERAL_NAMES_free(badsans);
	GENERAL_NAMES_free(other);
	X509_NAME_free(subj);
	X509_NAME_free(empty);
	X509_NAME_free(person);
	X509_NAME_free(wild);
}

/*
 * A subject attribute with a control character is refused whatever the
 * flags: a CN without SAN for a client or a CA (PKI_NAMES_CN_ANY) too, as
 * is one of an OU beside a SAN; UTF-8 letters are fine.
 */
static void test_names_control(void **state)
{
	static const struct {
		const char *v;
		int len;
		int want;
	} cns[] = {
		{ "Jane Doe", -1, RES_OK },
		{ "Z\xc3\xbcrich Issuing CA", -1, RES_OK },
		{ "evil\0.example.com", 17, RES_BAD_INPUT },
		{ "evil\x1b[31m", -1, RES_BAD_INPUT },
		{ "Jane\nDoe", -1, RES_BAD_INPUT },
		{ "Jane\tDoe", -1, RES_BAD_INPUT },
		{ "Jane\x7f", -1, RES_BAD_INPUT },
		{ "Jane\xc2\x85"
		  "Doe",
		  -1, RES_BAD_INPUT }, /* U+0085, a C1 control (NEL) */
		{ "", 0, RES_BAD_INPUT },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cns) / sizeof(cns[0]); i++) {
		X509_NAME *n = X509_NAME_new(), *ou = X509_NAME_new();
		GENERAL_NAMES *sans = GENERAL_NAMES_new();
		GENERAL_NAME *g = GENERAL_NAME_new();
		ASN1_IA5STRING *dns = ASN1_IA5STRING_new();

		assert_non_null(n);
		assert_non_null(ou);
		assert_non_null(dns);
		assert_int_equal(X509_NAME_add_entry_by_NID(n, NID_commonName, V_ASN1_UTF8STRING,
		                                            (const unsigned char *)cns[i].v,
		                                            cns[i].len, -1, 0),
		                 1);
		assert_int_equal(
		    X509_NAME_add_entry_by_NID(ou, NID_organizationalUnitName, V_ASN1_UTF8STRING,
		                               (const unsigned char *)cns[i].v, cns[i].len, -1, 0),
		    1);
		assert_int_equal(ASN1_STRING_set(dns, "a.example.com", -1), 1);
		GENERAL_NAME_set0_value(g, GEN_DNS, dns);
		assert_int_equal(sk_GENERAL_NAME_push(sans, g), 1);
		res_clear();
		assert_int_equal(pki_names_check_ex(n, NULL, PKI_NAMES_CN_ANY), cns[i].want);
		if (cns[i].want != RES_OK && cns[i].len != 0)
			assert_non_null(strstr(res_message(), "control character"));
		/* an empty OU is allowed, an OU with a control character is not */
		assert_int_equal(pki_names_check(ou, sans), cns[i].len == 0 ? RES_OK : cns[i].want);
		GENERAL_NAMES_free(sans);
		X509_NAME_free(n);
		X509_NAME_free(ou);
	}
}

static void test_san_text(void **state)
{
	X509 *x;
	struct mk m = leaf_mk;
	char **sans = NULL, *one = NULL;
	size_t n = 0;

	(void)state;
	m.san = "DNS:a.example.com,IP:192.0.2.7,IP:2001:db8::10,email:pki@example.com,"
	        "URI:https://a.example.com/";
	x = mkcert(&m, leaf_key, inter, inter_key);
	assert_int_equal(pki_cert_sans(x, &sans, &n), RES_OK);
	assert_int_equal(n, 5);
	assert_string_equal(sans[0], "DNS:a.example.com");
	assert_string_equal(sans[1], "IP:192.0.2.7");
	assert_string_equal(sans[2], "IP:2001:db8::10");
	assert_string_equal(sans[3], "email:pki@example.com");
	assert_string_equal(sans[4], "URI:https://a.example.com/");
	assert_null(sans[5]);
	pki_strv_free(sans);
	assert_int_equal(pki_name_oneline(X509_get_subject_name(x), &one), RES_OK);
	assert_string_equal(one, "/CN=host.example.com");
	free(one);
	assert_int_equal(pki_name_rfc2253(X509_get_issuer_name(x), &one), RES_OK);
	assert_string_equal(one, "CN=Test Inter");
	free(one);
	X509_free(x);
	/* no SAN: an empty list */
	m.san = NULL;
	x = mkcert(&m, leaf_key, inter, inter_key);
	assert_int_equal(pki_cert_sans(x, &sans, &n), RES_OK);
	assert_int_equal(n, 0);
	assert_null(sans[0]);
	pki_strv_free(sans);
	X509_free(x);
}

/* ------------------------------------------------------------------ */
/* Times                                                               */
/* ------------------------------------------------------------------ */

static void test_time_parse(void **state)
{
	static const struct {
		const char *s;
		int64_t want;
	} good[] = {
		{ "2024-01-01", 1704067200 },          { "2024-01-01T12:34:56Z", 1704112496 },
		{ "2024-01-01 12:34:56", 1704112496 }, { "20240101123456Z", 1704112496 },
		{ "2024-02-29", 1709164800 }, /* leap day */
		{ "2000-02-29", 951782400 },  /* divisible by 400: leap */
		{ "1970-01-01T00:00:00Z", 0 },         { "2049-12-31T23:59:59Z", 2524607999 },
		{ "2050-01-01", 2524608000 },          { "9999-12-31T23:59:59Z", 253402300799 },
	};
	static const char *const bad[] = {
		"",
		"tomorrow",
		"@1700000000",
		"2024-1-01",
		"2024-01-1",
		"24-01-01",
		"2024-01-01T12:34:56",
		"2024-01-01T12:34Z",
		"2024-01-01 12:34",
		"2024-01-01Z",
		" 2024-01-01",
		"2024-01-01 ",
		"2024-13-01",
		"2024-00-10",
		"2024-01-32",
		"2024-04-31",
		"2023-02-29",
		"2100-02-29",
		"2024-01-01T24:00:00Z",
		"2024-01-01T23:60:00Z",
		"2024-01-01T23:59:60Z",
		"2024-01-01t12:34:56Z",
		"2024-01-01T12:34:56+01:00",
		"20240101123456",
		"2024010112345Z",
		"2024-01-01X12:34:56Z",
		"+024-01-01",
		"NOW",
		"now ",
		"0000-01-01",
	};
	int64_t t = -1;
	time_t before = time(NULL);
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		if (pki_time_parse(good[i].s, &t) != RES_OK)
			fail_msg("'%s' refused: %s", good[i].s, res_message());
		if (t != good[i].want)
			fail_msg("'%s' = %lld, want %lld", good[i].s, (long long)t,
			         (long long)good[i].want);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (pki_time_parse(bad[i], &t) != RES_BAD_INPUT)
			fail_msg("'%s' accepted (%lld)", bad[i], (long long)t);
	assert_int_equal(pki_time_parse("now", &t), RES_OK);
	assert_true(t >= before && t <= time(NULL));
}

/* UTCTime for 1950-2049, GeneralizedTime from 2050; pki_asn1_time_get reads both. */
static void test_time_asn1(void **state)
{
	static const struct {
		const char *in, *asn1;
	} cases[] = {
		{ "2049-12-31T23:59:59Z", "491231235959Z" },
		{ "2050-01-01", "20500101000000Z" },
		{ "1950-01-01", "500101000000Z" },
		{ "1949-12-31T23:59:59Z", "19491231235959Z" },
		{ "2024-02-29T01:02:03Z", "240229010203Z" },
	};
	char out[PKI_TIME_ASN1_MAX], iso[PKI_TIME_ISO_MAX];
	ASN1_TIME *a;
	int64_t t;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(pki_time_parse(cases[i].in, &t), RES_OK);
		assert_int_equal(pki_time_asn1(t, 0, out, sizeof(out)), strlen(cases[i].asn1));
		assert_string_equal(out, cases[i].asn1);
		a = ASN1_TIME_new();
		assert_int_equal(ASN1_TIME_set_string(a, out), 1);
		assert_true(pki_asn1_time_get(a) == t);
		ASN1_TIME_free(a);
	}
	assert_int_equal(pki_time_parse("2049-12-31T23:59:59Z", &t), RES_OK);
	assert_int_equal(pki_time_asn1(t, 1, out, sizeof(out)), 15);
	assert_string_equal(out, "20491231235959Z");
	pki_time_iso(t, iso);
	assert_string_equal(iso, "2049-12-31T23:59:59Z");
	assert_true(pki_asn1_time_get(NULL) == 0);
}

/* ------------------------------------------------------------------ */
/* Serials                                                             */
/* ------------------------------------------------------------------ */

static void test_serial_normalise(void **state)
{
	static const struct {
		const char *in, *want;
	} good[] = {
		{ "0x0a", "0A" },
		{ "0X0A", "0A" },
		{ "0a", "0A" },
		{ "a", "0A" },
		{ "abc", "0ABC" },
		{ "00:00:01", "01" },
		{ "01:23:45:67:89:AB:cd:EF", "0123456789ABCDEF" },
		{ "0", "00" },
		{ "00", "00" },
		{ "0x00:00", "00" },
		{ "7F00000000000000000000000000000000000000",
		  "7F00000000000000000000000000000000000000" },
		/* 20 octets by value, leading zeros around it */
		{ "00007F00000000000000000000000000000000000000",
		  "7F00000000000000000000000000000000000000" },
		{ "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF",
		  "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF" },
	};
	static const char *const bad[] = {
		"",
		"0x",
		":",
		"xyz",
		"0g",
		"12 34",
		"-1",
		"0x-1",
		"010000000000000000000000000000000000000000", /* 21 octets */
		"1FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF",  /* 41 digits: 21 octets */
	};
	char out[PKI_SERIAL_MAX];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		if (pki_serial_normalise(good[i].in, out) != RES_OK)
			fail_msg("'%s' refused: %s", good[i].in, res_message());
		assert_string_equal(out, good[i].want);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (pki_serial_normalise(bad[i], out) != RES_BAD_INPUT)
			fail_msg("'%s' accepted as %s", bad[i], out);
}

static void test_serial_of(void **state)
{
	ASN1_INTEGER *a;
	BIGNUM *bn = NULL;
	char out[PKI_SERIAL_MAX];

	(void)state;
	a = ASN1_INTEGER_new();
	assert_int_equal(ASN1_INTEGER_set(a, 0), 1);
	assert_int_equal(pki_serial_of(a, out), RES_OK);
	assert_string_equal(out, "00");
	assert_int_equal(ASN1_INTEGER_set(a, 0x0a), 1);
	assert_int_equal(pki_serial_of(a, out), RES_OK);
	assert_string_equal(out, "0A");
	assert_int_equal(ASN1_INTEGER_set(a, -5), 1);
	assert_int_equal(pki_serial_of(a, out), RES_BAD_INPUT);
	ASN1_INTEGER_free(a);
	/* 20 octets with the top bit set: 21 in DER, 20 by value */
	assert_true(BN_hex2bn(&bn, "FF00000000000000000000000000000000000001") > 0);
	a = BN_to_ASN1_INTEGER(bn, NULL);
	assert_int_equal(pki_serial_of(a, out), RES_OK);
	assert_string_equal(out, "FF00000000000000000000000000000000000001");
	ASN1_INTEGER_free(a);
	assert_true(BN_hex2bn(&bn, "010000000000000000000000000000000000000000") > 0);
	a = BN_to_ASN1_INTEGER(bn, NULL);
	assert_int_equal(pki_serial_of(a, out), RES_BAD_INPUT);
	ASN1_INTEGER_free(a);
	BN_free(bn);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_names_check),
		cmocka_unit_test(test_names_control),
		cmocka_unit_test(test_san_text),
		cmocka_unit_test(test_time_parse),
		cmocka_unit_test(test_time_asn1),
		cmocka_unit_test(test_serial_normalise),
		cmocka_unit_test(test_serial_of),
	};
	size_t i;

	memset(long_label, 'a', 64);
	memcpy(long_label + 64, ".example.com", 13);
	for (i = 0; i < 26; i++)
		memcpy(long_name + 10 * i, "abcdefghi.", 10);
	memcpy(long_name + 260, "example.com", 12);
	/* 253 octets: 4 labels of 63 and one dot between each ("a"*63 x4 = 252 + 3 - 2) */
	memset(ok_253, 'a', 253);
	ok_253[63] = ok_253[127] = ok_253[191] = '.';
	ok_253[253] = '\0';
	ok_253[252] = 'm';
	return cmocka_run_group_tests_name("test-pki-names", tests, pki_certs_setup,
	                                   pki_certs_teardown);
}

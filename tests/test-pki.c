/*
 * test-pki.c - tools/pki/, the PKI library: the name policy table, the one
 * time parser (every syntax, bad ones, leap days, the 2050 UTCTime
 * boundary), serials, the loaders (PEM with text between blocks, DER with a
 * trailing byte, garbage), fingerprints against X509_digest, and
 * pki_verify_chain on chains made here with software keys.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "pki.h"
#include "result.h"

#define DAY 86400

/* ------------------------------------------------------------------ */
/* Certificates made here                                              */
/* ------------------------------------------------------------------ */

static EVP_PKEY *root_key, *inter_key, *leaf_key, *rsa1024_key;

static void add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;

	X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
	ext = X509V3_EXT_nconf_nid(NULL, &ctx, nid, value);
	assert_non_null(ext);
	assert_int_equal(X509_add_ext(x, ext, -1), 1);
	X509_EXTENSION_free(ext);
}

struct mk {
	const char *cn;
	const char *bc;  /* "critical,CA:TRUE", "CA:FALSE", NULL: none */
	const char *eku; /* "serverAuth,clientAuth", NULL: none */
	const char *san; /* "DNS:host.example.com", NULL: none */
	int64_t nb, na;  /* relative to now, seconds */
	const char *md;  /* "SHA256" unless given */
};

/* A certificate for @key signed by @ikey (@issuer NULL: self-signed). */
static X509 *mkcert(const struct mk *m, EVP_PKEY *key, X509 *issuer, EVP_PKEY *ikey)
{
	static long serial = 1;
	X509 *x = X509_new();
	X509_NAME *name = X509_NAME_new();
	time_t now = time(NULL);

	assert_non_null(x);
	assert_int_equal(X509_set_version(x, X509_VERSION_3), 1);
	assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(x), serial++), 1);
	assert_int_equal(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
	                                            (const unsigned char *)m->cn, -1, -1, 0),
	                 1);
	assert_int_equal(X509_set_subject_name(x, name), 1);
	assert_int_equal(X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name), 1);
	X509_NAME_free(name);
	assert_non_null(X509_time_adj_ex(X509_getm_notBefore(x), 0, (long)m->nb, &now));
	assert_non_null(X509_time_adj_ex(X509_getm_notAfter(x), 0, (long)m->na, &now));
	assert_int_equal(X509_set_pubkey(x, key), 1);
	add_ext(x, issuer ? issuer : x, NID_subject_key_identifier, "hash");
	if (issuer != NULL)
		add_ext(x, issuer, NID_authority_key_identifier, "keyid");
	if (m->bc != NULL)
		add_ext(x, issuer ? issuer : x, NID_basic_constraints, m->bc);
	if (m->eku != NULL)
		add_ext(x, issuer ? issuer : x, NID_ext_key_usage, m->eku);
	if (m->san != NULL)
		add_ext(x, issuer ? issuer : x, NID_subject_alt_name, m->san);
	assert_true(X509_sign(x, ikey, EVP_get_digestbyname(m->md ? m->md : "SHA256")) > 0);
	return x;
}

static const struct mk root_mk = { "Test Root", "critical,CA:TRUE", NULL, NULL, -DAY, 3650 * DAY };
static const struct mk inter_mk = { "Test Inter", "critical,CA:TRUE,pathlen:0", NULL, NULL, -DAY,
	                            1000 * DAY };
static const struct mk leaf_mk = { "host.example.com",    "CA:FALSE",
	                           "serverAuth,clientAuth", "DNS:host.example.com",
	                           -DAY,                   365 * DAY };

static X509 *root, *inter, *leaf;

static STACK_OF(X509) *stack_of(X509 *a, X509 *b)
{
	STACK_OF(X509) *sk = sk_X509_new_null();

	assert_non_null(sk);
	if (a != NULL)
		assert_true(sk_X509_push(sk, a) > 0);
	if (b != NULL)
		assert_true(sk_X509_push(sk, b) > 0);
	return sk;
}

static int setup(void **state)
{
	(void)state;
	root_key = EVP_EC_gen("P-256");
	inter_key = EVP_EC_gen("P-256");
	leaf_key = EVP_EC_gen("P-256");
	rsa1024_key = EVP_RSA_gen(1024);
	if (root_key == NULL || inter_key == NULL || leaf_key == NULL || rsa1024_key == NULL)
		return -1;
	root = mkcert(&root_mk, root_key, NULL, root_key);
	inter = mkcert(&inter_mk, inter_key, root, root_key);
	leaf = mkcert(&leaf_mk, leaf_key, inter, inter_key);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	X509_free(leaf);
	X509_free(inter);
	X509_free(root);
	EVP_PKEY_free(root_key);
	EVP_PKEY_free(inter_key);
	EVP_PKEY_free(leaf_key);
	EVP_PKEY_free(rsa1024_key);
	return 0;
}

/* @x as DER (OPENSSL_free) */
static int der_of(X509 *x, unsigned char **pder)
{
	int n;

	*pder = NULL;
	n = i2d_X509(x, pder);
	assert_true(n > 0);
	return n;
}

/* @x as PEM into @out (NUL-terminated), returns its length */
static size_t pem_of(X509 *x, char *out, size_t cap)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *data;
	long n;

	assert_non_null(b);
	assert_int_equal(PEM_write_bio_X509(b, x), 1);
	n = BIO_get_mem_data(b, &data);
	assert_true(n > 0 && (size_t)n < cap);
	memcpy(out, data, (size_t)n);
	out[n] = '\0';
	BIO_free(b);
	return (size_t)n;
}

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
		{ PKI_NAME_DNS, "b\xc3\xbc" "cher.example", 0, 0, RES_BAD_INPUT, "character" },
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
		{ PKI_NAME_URI, "urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6", 0, 0, RES_OK, NULL },
		{ PKI_NAME_URI, "https://*.example.com/", 0, 0, RES_POLICY, "wildcard" },
		{ PKI_NAME_URI, "no-scheme", 0, 0, RES_BAD_INPUT, "not a URI" },
		{ PKI_NAME_URI, "1http://x.example.com/", 0, 0, RES_BAD_INPUT, "not a URI" },
		{ PKI_NAME_URI, "https://a.example.com/a b", 0, 0, RES_BAD_INPUT, "space" },
		{ PKI_NAME_URI, "https://a.example.com/a,b", 0, 0, RES_BAD_INPUT, "comma" },
		{ PKI_NAME_URI, "https://a.example.com/\xc3\xa9", 0, 0, RES_BAD_INPUT, "non-ASCII" },
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
	X509_NAME_add_entry_by_txt(subj, "CN", MBSTRING_UTF8, (const unsigned char *)"a.example.com",
	                           -1, -1, 0);
	X509_NAME_add_entry_by_txt(person, "CN", MBSTRING_UTF8, (const unsigned char *)"Jane Doe",
	                           -1, -1, 0);
	X509_NAME_add_entry_by_txt(wild, "CN", MBSTRING_UTF8, (const unsigned char *)"*.example.com",
	                           -1, -1, 0);
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
	assert_int_equal(pki_names_check(subj, NULL), RES_OK);     /* the CN is a host name */
	assert_int_equal(pki_names_check(empty, sans), RES_OK);    /* the SAN alone */
	assert_int_equal(pki_names_check(person, sans), RES_OK);   /* a SAN: the CN is free */
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
		{ "2024-01-01", 1704067200 },
		{ "2024-01-01T12:34:56Z", 1704112496 },
		{ "2024-01-01 12:34:56", 1704112496 },
		{ "20240101123456Z", 1704112496 },
		{ "2024-02-29", 1709164800 },      /* leap day */
		{ "2000-02-29", 951782400 },       /* divisible by 400: leap */
		{ "1970-01-01T00:00:00Z", 0 },
		{ "2049-12-31T23:59:59Z", 2524607999 },
		{ "2050-01-01", 2524608000 },
		{ "9999-12-31T23:59:59Z", 253402300799 },
	};
	static const char *const bad[] = {
		"", "tomorrow", "@1700000000", "2024-1-01", "2024-01-1", "24-01-01",
		"2024-01-01T12:34:56", "2024-01-01T12:34Z", "2024-01-01 12:34", "2024-01-01Z",
		" 2024-01-01", "2024-01-01 ", "2024-13-01", "2024-00-10", "2024-01-32", "2024-04-31",
		"2023-02-29", "2100-02-29", "2024-01-01T24:00:00Z", "2024-01-01T23:60:00Z",
		"2024-01-01T23:59:60Z", "2024-01-01t12:34:56Z", "2024-01-01T12:34:56+01:00",
		"20240101123456", "2024010112345Z", "2024-01-01X12:34:56Z", "+024-01-01", "NOW",
		"now ", "0000-01-01",
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
		{ "7F00000000000000000000000000000000000000", "7F00000000000000000000000000000000000000" },
		/* 20 octets by value, leading zeros around it */
		{ "00007F00000000000000000000000000000000000000",
		  "7F00000000000000000000000000000000000000" },
		{ "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF", "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF" },
	};
	static const char *const bad[] = {
		"", "0x", ":", "xyz", "0g", "12 34", "-1", "0x-1",
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

/* ------------------------------------------------------------------ */
/* Loaders and fingerprints                                            */
/* ------------------------------------------------------------------ */

static void test_load_pem(void **state)
{
	char buf[16384], one[4096];
	size_t len = 0, n, *ends = NULL, end1;
	STACK_OF(X509) *certs = NULL;
	EVP_PKEY *k = leaf_key;
	BIO *b;
	char *kp;
	long kn;
	int pem = -1;

	(void)state;
	len += (size_t)snprintf(buf + len, sizeof(buf) - len, "# a bundle\nSubject: leaf\n");
	n = pem_of(leaf, one, sizeof(one));
	memcpy(buf + len, one, n), len += n;
	end1 = len;
	len += (size_t)snprintf(buf + len, sizeof(buf) - len, "\ntext between the blocks\n");
	/* a key block is skipped */
	b = BIO_new(BIO_s_mem());
	assert_int_equal(PEM_write_bio_PUBKEY(b, k), 1);
	kn = BIO_get_mem_data(b, &kp);
	memcpy(buf + len, kp, (size_t)kn), len += (size_t)kn;
	BIO_free(b);
	n = pem_of(inter, one, sizeof(one));
	memcpy(buf + len, one, n), len += n;
	len += (size_t)snprintf(buf + len, sizeof(buf) - len, "# the end\n");

	assert_true(pki_is_pem((unsigned char *)buf, len));
	assert_int_equal(pki_load_certs_at((unsigned char *)buf, len, &certs, &ends, &pem), RES_OK);
	assert_int_equal(pem, 1);
	assert_int_equal(sk_X509_num(certs), 2);
	assert_int_equal(X509_cmp(sk_X509_value(certs, 0), leaf), 0);
	assert_int_equal(X509_cmp(sk_X509_value(certs, 1), inter), 0);
	assert_int_equal(ends[0], end1);
	assert_int_equal(ends[1], len - strlen("# the end\n"));
	free(ends);
	sk_X509_pop_free(certs, X509_free);

	/* a stray END line after the last block */
	memcpy(buf + len, "-----END CERTIFICATE-----\n", 27);
	assert_int_equal(pki_load_certs((unsigned char *)buf, len + 26, &certs, &pem),
	                 RES_BAD_INPUT);
	assert_non_null(strstr(res_message(), "BEGIN or END line"));
	/* a damaged block */
	n = pem_of(leaf, one, sizeof(one));
	memcpy(one + 100, "!!!!", 4);
	assert_int_equal(pki_load_certs((unsigned char *)one, n, &certs, &pem), RES_BAD_INPUT);
	assert_non_null(strstr(res_message(), "malformed PEM"));
	/* a key alone */
	{
		static const char key_only[] = "-----BEGIN PUBLIC KEY-----\n"
		                               "-----END PUBLIC KEY-----\n";
		assert_int_equal(pki_load_certs((const unsigned char *)key_only,
		                                sizeof(key_only) - 1, &certs, &pem),
		                 RES_BAD_INPUT);
	}
}

static void test_load_der(void **state)
{
	unsigned char *der = NULL, *plus;
	int n = der_of(leaf, &der), pem = -1;
	STACK_OF(X509) *certs = NULL;
	X509 *x = NULL;
	static const unsigned char garbage[] = "garbage, not a certificate\n";

	(void)state;
	assert_false(pki_is_pem(der, (size_t)n));
	assert_int_equal(pki_load_certs(der, (size_t)n, &certs, &pem), RES_OK);
	assert_int_equal(pem, 0);
	assert_int_equal(sk_X509_num(certs), 1);
	assert_int_equal(X509_cmp(sk_X509_value(certs, 0), leaf), 0);
	sk_X509_pop_free(certs, X509_free);
	assert_int_equal(pki_load_cert(der, (size_t)n, &x), RES_OK);
	assert_int_equal(X509_cmp(x, leaf), 0);
	X509_free(x);
	/* one trailing byte */
	plus = malloc((size_t)n + 1);
	memcpy(plus, der, (size_t)n);
	plus[n] = 0;
	assert_int_equal(pki_load_certs(plus, (size_t)n + 1, &certs, &pem), RES_BAD_INPUT);
	assert_non_null(strstr(res_message(), "1 bytes of trailing data"));
	/* truncated */
	assert_int_equal(pki_load_certs(der, (size_t)n - 1, &certs, &pem), RES_BAD_INPUT);
	assert_non_null(strstr(res_message(), "neither a PEM certificate nor a DER"));
	free(plus);
	/* garbage, empty */
	assert_int_equal(pki_load_certs(garbage, sizeof(garbage) - 1, &certs, &pem), RES_BAD_INPUT);
	assert_non_null(strstr(res_message(), "neither a PEM certificate nor a DER"));
	assert_int_equal(pki_load_certs(garbage, 0, &certs, &pem), RES_BAD_INPUT);
	OPENSSL_free(der);
}

static void test_load_csr_crl(void **state)
{
	X509_REQ *req = X509_REQ_new(), *got = NULL;
	X509_CRL *crl = X509_CRL_new(), *gotcrl = NULL;
	unsigned char *der = NULL;
	BIO *b = BIO_new(BIO_s_mem());
	char *p;
	long n;
	int dn;

	(void)state;
	assert_int_equal(X509_REQ_set_pubkey(req, leaf_key), 1);
	assert_true(X509_REQ_sign(req, leaf_key, EVP_sha256()) > 0);
	assert_int_equal(PEM_write_bio_X509_REQ(b, req), 1);
	n = BIO_get_mem_data(b, &p);
	assert_int_equal(pki_load_csr(NULL, (unsigned char *)p, (size_t)n, &got), RES_OK);
	assert_int_equal(X509_REQ_verify(got, leaf_key), 1);
	X509_REQ_free(got);
	dn = i2d_X509_REQ(req, &der);
	assert_int_equal(pki_load_csr(NULL, der, (size_t)dn, &got), RES_OK);
	X509_REQ_free(got);
	assert_int_equal(pki_load_csr(NULL, der, (size_t)dn - 3, &got), RES_BAD_INPUT);
	OPENSSL_free(der);
	der = NULL;
	/* a certificate is not a CSR */
	assert_int_equal(pki_load_csr(NULL, (unsigned char *)"x", 1, &got), RES_BAD_INPUT);

	assert_int_equal(X509_CRL_set_issuer_name(crl, X509_get_subject_name(root)), 1);
	{
		ASN1_TIME *t = ASN1_TIME_set(NULL, time(NULL));
		assert_int_equal(X509_CRL_set1_lastUpdate(crl, t), 1);
		ASN1_TIME_free(t);
	}
	assert_true(X509_CRL_sign(crl, root_key, EVP_sha256()) > 0);
	dn = i2d_X509_CRL(crl, &der);
	assert_int_equal(pki_load_crl(der, (size_t)dn, &gotcrl), RES_OK);
	X509_CRL_free(gotcrl);
	(void)BIO_reset(b);
	assert_int_equal(PEM_write_bio_X509_CRL(b, crl), 1);
	n = BIO_get_mem_data(b, &p);
	assert_int_equal(pki_load_crl((unsigned char *)p, (size_t)n, &gotcrl), RES_OK);
	X509_CRL_free(gotcrl);
	OPENSSL_free(der);
	BIO_free(b);
	X509_CRL_free(crl);
	X509_REQ_free(req);
}

/* The oracle: X509_digest formatted here, as `openssl x509 -fingerprint` prints it. */
static void fp_expected(X509 *x, const EVP_MD *md, char *colons, char *lower)
{
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned int n = 0, i;

	assert_int_equal(X509_digest(x, md, d, &n), 1);
	for (i = 0; i < n; i++) {
		sprintf(colons + 3 * i, "%02X%s", d[i], i + 1 < n ? ":" : "");
		sprintf(lower + 2 * i, "%02x", d[i]);
	}
}

static void test_fingerprint(void **state)
{
	char want_c[PKI_FP_MAX], want_l[PKI_FP_MAX], got[PKI_FP_MAX], hex[9];
	static const unsigned char bytes[] = { 0xde, 0xad, 0xBE, 0xef };

	(void)state;
	fp_expected(leaf, EVP_sha256(), want_c, want_l);
	assert_int_equal(pki_fingerprint(leaf, "SHA256", 1, got, sizeof(got)), RES_OK);
	assert_string_equal(got, want_c);
	assert_int_equal(pki_fingerprint(leaf, "SHA256", 0, got, sizeof(got)), RES_OK);
	assert_string_equal(got, want_l);
	fp_expected(root, EVP_sha1(), want_c, want_l);
	assert_int_equal(pki_fingerprint(root, "SHA1", 1, got, sizeof(got)), RES_OK);
	assert_string_equal(got, want_c);
	assert_int_equal(pki_fingerprint(root, "SHA256", 1, got, 10), RES_FAIL);
	assert_int_equal(pki_fingerprint(root, "NO-SUCH-MD", 1, got, sizeof(got)), RES_CRYPTO);
	pki_hex(hex, bytes, sizeof(bytes));
	assert_string_equal(hex, "deadbeef");
}

/* ------------------------------------------------------------------ */
/* Chains                                                              */
/* ------------------------------------------------------------------ */

/* pki_verify_chain of @l with @untrusted, @trusted (taken) */
static struct pki_chain_result *verify(X509 *l, STACK_OF(X509) *untrusted,
                                       STACK_OF(X509) *trusted,
                                       const struct pki_verify_opts *o)
{
	struct pki_chain_result *r = NULL;
	int rc = pki_verify_chain(NULL, l, untrusted, trusted, o, &r);

	if (rc != RES_OK)
		fail_msg("pki_verify_chain: %s (%s)", res_name(rc), res_message());
	assert_non_null(r);
	assert_true(r->n >= 1);
	sk_X509_free(untrusted);
	sk_X509_free(trusted);
	return r;
}

static void test_chain_good(void **state)
{
	struct pki_verify_opts o = { .host = "host.example.com",
		                     .want_server_auth = 1,
		                     .want_client_auth = 1 };
	struct pki_chain_result *r;
	size_t i;

	(void)state;
	r = verify(leaf, stack_of(inter, NULL), stack_of(root, NULL), &o);
	assert_int_equal(r->ok, 1);
	assert_int_equal(r->n, 3);
	for (i = 0; i < r->n; i++) {
		assert_int_equal(r->elems[i].flags, 0);
		assert_int_equal(r->elems[i].x509_error, 0);
		assert_int_equal(r->elems[i].rev_status, PKI_REV_UNCHECKED);
		assert_int_equal(r->elems[i].rev_reason, -1);
	}
	assert_int_equal(X509_cmp(r->elems[0].cert, leaf), 0);
	assert_int_equal(X509_cmp(r->elems[2].cert, root), 0);
	assert_int_equal(r->elems[2].trusted, 1);
	assert_int_equal(r->elems[0].trusted, 0);
	pki_chain_result_free(r);
	/* the root given as untrusted too changes nothing */
	r = verify(leaf, stack_of(inter, root), stack_of(root, NULL), NULL);
	assert_int_equal(r->ok, 1);
	pki_chain_result_free(r);
	/* an intermediate as anchor: only with allow_partial */
	o.allow_partial = 1;
	r = verify(leaf, NULL, stack_of(inter, NULL), &o);
	assert_int_equal(r->ok, 1);
	assert_int_equal(r->n, 2);
	assert_int_equal(r->elems[1].trusted, 1);
	pki_chain_result_free(r);
}

static void test_chain_expired(void **state)
{
	struct mk m = leaf_mk;
	struct pki_chain_result *r;
	struct pki_verify_opts o = { 0 };
	X509 *x;

	(void)state;
	m.nb = -30 * DAY, m.na = -DAY / 4; /* the CAs are valid from a day ago */
	x = mkcert(&m, leaf_key, inter, inter_key);
	r = verify(x, stack_of(inter, NULL), stack_of(root, NULL), NULL);
	assert_int_equal(r->ok, 0);
	assert_int_equal(r->n, 3);
	assert_true(r->elems[0].flags & PKI_E_EXPIRED);
	assert_int_equal(r->elems[0].x509_error, X509_V_ERR_CERT_HAS_EXPIRED);
	assert_int_equal(r->elems[1].flags, 0);
	assert_int_equal(r->elems[2].flags, 0);
	pki_chain_result_free(r);
	/* at a time before it expired: fine */
	o.at = (int64_t)time(NULL) - DAY / 2;
	r = verify(x, stack_of(inter, NULL), stack_of(root, NULL), &o);
	assert_int_equal(r->ok, 1);
	pki_chain_result_free(r);
	/* and the good leaf before its notBefore */
	o.at = (int64_t)time(NULL) - 2 * DAY;
	r = verify(leaf, stack_of(inter, NULL), stack_of(root, NULL), &o);
	assert_true(r->elems[0].flags & PKI_E_NOT_YET_VALID);
	assert_int_equal(r->ok, 0);
	pki_chain_result_free(r);
	X509_free(x);
}

static void test_chain_no_issuer(void **state)
{
	struct pki_chain_result *r;
	struct pki_verify_opts o = { .allow_partial = 1 };

	(void)state;
	r = verify(leaf, NULL, stack_of(root, NULL), NULL);
	assert_int_equal(r->ok, 0);
	assert_int_equal(r->n, 1);
	assert_true(r->elems[0].flags & PKI_E_NO_ISSUER);
	assert_true(r->elems[0].x509_error == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY ||
	            r->elems[0].x509_error == X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE);
	pki_chain_result_free(r);
	/* allow_partial: the missing issuer is no error in itself */
	r = verify(leaf, NULL, NULL, &o);
	assert_int_equal(r->ok, 1);
	assert_true(r->elems[0].flags & PKI_E_NO_ISSUER);
	pki_chain_result_free(r);
}

static void test_chain_untrusted_root(void **state)
{
	struct pki_chain_result *r;
	EVP_PKEY *k = EVP_EC_gen("P-256");
	X509 *other;

	(void)state;
	r = verify(leaf, stack_of(inter, root), NULL, NULL);
	assert_int_equal(r->ok, 0);
	assert_int_equal(r->n, 3);
	assert_true(r->elems[2].flags & PKI_E_UNTRUSTED_ROOT);
	assert_int_equal(r->elems[2].x509_error, X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN);
	assert_int_equal(r->elems[2].trusted, 0);
	pki_chain_result_free(r);
	/* another root is trusted, not this one */
	other = mkcert(&root_mk, k, NULL, k);
	r = verify(leaf, stack_of(inter, root), stack_of(other, NULL), NULL);
	assert_int_equal(r->ok, 0);
	assert_true(r->elems[r->n - 1].flags & (PKI_E_UNTRUSTED_ROOT | PKI_E_NO_ISSUER));
	pki_chain_result_free(r);
	/* a self-signed leaf */
	r = verify(other, NULL, NULL, NULL);
	assert_int_equal(r->ok, 0);
	assert_true(r->elems[0].flags & PKI_E_UNTRUSTED_ROOT);
	pki_chain_result_free(r);
	X509_free(other);
	EVP_PKEY_free(k);
}

static void test_chain_not_ca(void **state)
{
	struct mk im = inter_mk, lm = leaf_mk;
	struct pki_chain_result *r;
	X509 *notca, *l;

	(void)state;
	im.bc = "CA:FALSE";
	notca = mkcert(&im, inter_key, root, root_key);
	l = mkcert(&lm, leaf_key, notca, inter_key);
	r = verify(l, stack_of(notca, NULL), stack_of(root, NULL), NULL);
	assert_int_equal(r->ok, 0);
	assert_int_equal(r->n, 3);
	assert_true(r->elems[1].flags & PKI_E_NOT_CA);
	assert_int_equal(r->elems[1].x509_error, X509_V_ERR_INVALID_CA);
	assert_int_equal(r->elems[0].flags & PKI_E_NOT_CA, 0);
	pki_chain_result_free(r);
	X509_free(l);
	X509_free(notca);
}

static void test_chain_name_purpose(void **state)
{
	struct pki_verify_opts o = { .host = "other.example.com" };
	struct mk m = leaf_mk;
	struct pki_chain_result *r;
	X509 *x;

	(void)state;
	r = verify(leaf, stack_of(inter, NULL), stack_of(root, NULL), &o);
	assert_int_equal(r->ok, 0);
	assert_int_equal(r->elems[0].flags, PKI_E_NAME);
	pki_chain_result_free(r);
	o.host = "192.0.2.1";
	r = verify(leaf, stack_of(inter, NULL), stack_of(root, NULL), &o);
	assert_int_equal(r->elems[0].flags, PKI_E_NAME);
	pki_chain_result_free(r);
	/* EKU serverAuth alone: no clientAuth */
	m.eku = "serverAuth";
	x = mkcert(&m, leaf_key, inter, inter_key);
	o.host = NULL;
	o.want_server_auth = 1;
	r = verify(x, stack_of(inter, NULL), stack_of(root, NULL), &o);
	assert_int_equal(r->ok, 1);
	pki_chain_result_free(r);
	o.want_client_auth = 1;
	r = verify(x, stack_of(inter, NULL), stack_of(root, NULL), &o);
	assert_int_equal(r->ok, 0);
	assert_int_equal(r->elems[0].flags, PKI_E_PURPOSE);
	pki_chain_result_free(r);
	/* OpenSSL's own purpose check */
	memset(&o, 0, sizeof(o));
	o.purpose = X509_PURPOSE_SSL_CLIENT;
	r = verify(x, stack_of(inter, NULL), stack_of(root, NULL), &o);
	assert_int_equal(r->ok, 0);
	assert_true(r->elems[0].flags & PKI_E_PURPOSE);
	pki_chain_result_free(r);
	X509_free(x);
}

static void test_chain_weak(void **state)
{
	struct mk m = leaf_mk;
	struct pki_chain_result *r;
	X509 *sha1, *small;

	(void)state;
	m.md = "SHA1";
	sha1 = mkcert(&m, leaf_key, inter, inter_key);
	r = verify(sha1, stack_of(inter, NULL), stack_of(root, NULL), NULL);
	assert_int_equal(r->ok, 0);
	assert_true(r->elems[0].flags & PKI_E_WEAK_DIGEST);
	assert_int_equal(r->elems[1].flags, 0);
	pki_chain_result_free(r);
	m.md = NULL;
	small = mkcert(&m, rsa1024_key, inter, inter_key);
	r = verify(small, stack_of(inter, NULL), stack_of(root, NULL), NULL);
	assert_int_equal(r->ok, 0);
	assert_int_equal(r->elems[0].flags, PKI_E_WEAK_KEY);
	pki_chain_result_free(r);
	X509_free(sha1);
	X509_free(small);
}

static void test_flag_names(void **state)
{
	(void)state;
	assert_string_equal(pki_elem_flag_name(PKI_E_EXPIRED), "expired");
	assert_string_equal(pki_elem_flag_name(PKI_E_NO_ISSUER), "issuer not found");
	assert_string_equal(pki_elem_flag_name(PKI_E_OTHER), "other error");
	assert_string_equal(pki_elem_flag_name(1u << 20), "unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_names_check),
		cmocka_unit_test(test_san_text),
		cmocka_unit_test(test_time_parse),
		cmocka_unit_test(test_time_asn1),
		cmocka_unit_test(test_serial_normalise),
		cmocka_unit_test(test_serial_of),
		cmocka_unit_test(test_load_pem),
		cmocka_unit_test(test_load_der),
		cmocka_unit_test(test_load_csr_crl),
		cmocka_unit_test(test_fingerprint),
		cmocka_unit_test(test_chain_good),
		cmocka_unit_test(test_chain_expired),
		cmocka_unit_test(test_chain_no_issuer),
		cmocka_unit_test(test_chain_untrusted_root),
		cmocka_unit_test(test_chain_not_ca),
		cmocka_unit_test(test_chain_name_purpose),
		cmocka_unit_test(test_chain_weak),
		cmocka_unit_test(test_flag_names),
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
	return cmocka_run_group_tests_name("pki", tests, setup, teardown);
}

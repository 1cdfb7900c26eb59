/*
 * test-rev-archive.c - tools/rev/archive.c, every CRL in a blob: DER, PEM
 * with two CRLs, a bare GZIP stream, a ZIP with two CRLs; refused: a corrupt
 * ZIP, a truncated GZIP, a nested archive, bombs (by ratio and by total
 * unpacked bytes), too many members, garbage.  The CRLs are made here with
 * OpenSSL (P-256 CA key), the archives with libarchive's write API; what the
 * walk hands out is compared byte for byte with what went in.
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

#include <archive.h>
#include <archive_entry.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "rev/archive.h"
#include "result.h"

struct blob {
	unsigned char *p;
	size_t len;
};

static struct blob crl1, crl2; /* DER, two issuers */

static void blob_clear(struct blob *b)
{
	free(b->p);
	b->p = NULL;
	b->len = 0;
}

/* A CRL of @cn with @n revoked serials, crlNumber @number, signed by a fresh P-256 key. */
static struct blob make_crl(const char *cn, int n, long number)
{
	struct blob b = { 0 };
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509_CRL *crl = X509_CRL_new();
	X509_NAME *name = X509_NAME_new();
	ASN1_TIME *t = ASN1_TIME_new();
	ASN1_INTEGER *num = ASN1_INTEGER_new();
	unsigned char *der = NULL;
	int len;

	assert_non_null(key);
	assert_non_null(crl);
	assert_int_equal(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	                                            (const unsigned char *)cn, -1, -1, 0),
	                 1);
	assert_int_equal(X509_CRL_set_version(crl, X509_CRL_VERSION_2), 1);
	assert_int_equal(X509_CRL_set_issuer_name(crl, name), 1);
	assert_non_null(X509_gmtime_adj(t, 0));
	assert_int_equal(X509_CRL_set1_lastUpdate(crl, t), 1);
	assert_non_null(X509_gmtime_adj(t, 86400));
	assert_int_equal(X509_CRL_set1_nextUpdate(crl, t), 1);
	for (int i = 0; i < n; i++) {
		X509_REVOKED *r = X509_REVOKED_new();
		ASN1_INTEGER *s = ASN1_INTEGER_new();

		assert_int_equal(ASN1_INTEGER_set(s, 1000 + i), 1);
		assert_int_equal(X509_REVOKED_set_serialNumber(r, s), 1);
		assert_int_equal(X509_REVOKED_set_revocationDate(r, t), 1);
		assert_int_equal(X509_CRL_add0_revoked(crl, r), 1);
		ASN1_INTEGER_free(s);
	}
	assert_int_equal(ASN1_INTEGER_set(num, number), 1);
	assert_int_equal(X509_CRL_add1_ext_i2d(crl, NID_crl_number, num, 0, 0), 1);
	assert_int_equal(X509_CRL_sort(crl), 1);
	assert_true(X509_CRL_sign(crl, key, EVP_sha256()) > 0);
	len = i2d_X509_CRL(crl, &der);
	assert_true(len > 0);
	b.p = malloc((size_t)len);
	assert_non_null(b.p);
	memcpy(b.p, der, (size_t)len);
	b.len = (size_t)len;
	OPENSSL_free(der);
	ASN1_INTEGER_free(num);
	ASN1_TIME_free(t);
	X509_NAME_free(name);
	X509_CRL_free(crl);
	EVP_PKEY_free(key);
	return b;
}

static struct blob pem_of(const struct blob *ders, int n, const char *between)
{
	struct blob b = { 0 };
	BIO *bio = BIO_new(BIO_s_mem());
	char *p;
	long len;

	assert_non_null(bio);
	for (int i = 0; i < n; i++) {
		BIO_puts(bio, between);
		assert_true(PEM_write_bio(bio, "X509 CRL", "", ders[i].p, (long)ders[i].len) > 0);
	}
	len = BIO_get_mem_data(bio, &p);
	b.p = malloc((size_t)len);
	assert_non_null(b.p);
	memcpy(b.p, p, (size_t)len);
	b.len = (size_t)len;
	BIO_free(bio);
	return b;
}

/* An archive (@zip, else raw GZIP) of @n members @names/@data. */
static struct blob pack(int zip, int n, const char *const *names, const struct blob *data)
{
	struct blob b = { 0 };
	struct archive *a = archive_write_new();
	size_t cap = 4 << 20, used = 0;

	assert_non_null(a);
	b.p = malloc(cap);
	assert_non_null(b.p);
	if (zip) {
		assert_int_equal(archive_write_set_format_zip(a), ARCHIVE_OK);
	} else {
		assert_int_equal(archive_write_add_filter_gzip(a), ARCHIVE_OK);
		assert_int_equal(archive_write_set_format_raw(a), ARCHIVE_OK);
	}
	assert_int_equal(archive_write_set_bytes_in_last_block(a, 1), ARCHIVE_OK);
	assert_int_equal(archive_write_open_memory(a, b.p, cap, &used), ARCHIVE_OK);
	for (int i = 0; i < n; i++) {
		struct archive_entry *e = archive_entry_new();

		archive_entry_set_pathname(e, names[i]);
		archive_entry_set_filetype(e, AE_IFREG);
		archive_entry_set_perm(e, 0644);
		archive_entry_set_size(e, (la_int64_t)data[i].len);
		assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
		assert_int_equal(archive_write_data(a, data[i].p, data[i].len),
		                 (la_ssize_t)data[i].len);
		archive_entry_free(e);
	}
	assert_int_equal(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);
	b.len = used;
	return b;
}

/* What the walk found: each CRL's bytes and member name. */
struct found {
	int n;
	struct blob crl[8];
	char member[8][64];
	int stop_at; /* return RES_POLICY at this call (1-based), 0 never */
};

static int collect(void *ctx, const char *member, const unsigned char *der, size_t len)
{
	struct found *f = ctx;

	if (f->n >= 8)
		return RES_FAIL;
	if (f->stop_at == f->n + 1)
		return res_set(RES_POLICY, "stopped");
	f->crl[f->n].p = malloc(len);
	assert_non_null(f->crl[f->n].p);
	memcpy(f->crl[f->n].p, der, len);
	f->crl[f->n].len = len;
	snprintf(f->member[f->n], sizeof(f->member[0]), "%s", member);
	f->n++;
	return RES_OK;
}

static void found_clear(struct found *f)
{
	for (int i = 0; i < f->n; i++)
		blob_clear(&f->crl[i]);
	memset(f, 0, sizeof(*f));
}

static void assert_same(const struct blob *a, const struct blob *b)
{
	assert_int_equal(a->len, b->len);
	assert_memory_equal(a->p, b->p, a->len);
}

static int walk(const struct blob *b, const struct rev_limits *l, struct found *f)
{
	memset(f, 0, sizeof(*f));
	return rev_crls_in(b->p, b->len, l, collect, f);
}

static int setup(void **state)
{
	(void)state;
	crl1 = make_crl("Test CA One", 3, 7);
	crl2 = make_crl("Test CA Two", 0, 1);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	blob_clear(&crl1);
	blob_clear(&crl2);
	return 0;
}

static void test_der(void **state)
{
	struct found f;

	(void)state;
	assert_int_equal(walk(&crl1, NULL, &f), RES_OK);
	assert_int_equal(f.n, 1);
	assert_same(&f.crl[0], &crl1);
	assert_string_equal(f.member[0], "");
	found_clear(&f);

	/* truncated DER, DER with bytes after it, an empty blob */
	struct blob cut = { crl1.p, crl1.len - 1 };
	assert_int_equal(walk(&cut, NULL, &f), RES_BAD_INPUT);
	assert_int_equal(f.n, 0);
	struct blob more = { malloc(crl1.len + 1), crl1.len + 1 };
	memcpy(more.p, crl1.p, crl1.len);
	more.p[crl1.len] = 0;
	assert_int_equal(walk(&more, NULL, &f), RES_BAD_INPUT);
	blob_clear(&more);
	struct blob none = { crl1.p, 0 };
	assert_int_equal(walk(&none, NULL, &f), RES_BAD_INPUT);
}

static void test_pem_two(void **state)
{
	struct blob both[2] = { crl1, crl2 }, pem;
	struct found f;

	(void)state;
	pem = pem_of(both, 2, "some text before a block\n");
	assert_int_equal(walk(&pem, NULL, &f), RES_OK);
	assert_int_equal(f.n, 2);
	assert_same(&f.crl[0], &crl1);
	assert_same(&f.crl[1], &crl2);
	found_clear(&f);

	/* the callback's refusal stops the walk and is returned */
	memset(&f, 0, sizeof(f));
	f.stop_at = 2;
	assert_int_equal(rev_crls_in(pem.p, pem.len, NULL, collect, &f), RES_POLICY);
	assert_int_equal(f.n, 1);
	found_clear(&f);
	blob_clear(&pem);

	/* a PEM of a certificate-like block only: no CRL */
	static const char cert_only[] = "-----BEGIN CERTIFICATE-----\nMAA=\n"
	                                "-----END CERTIFICATE-----\n";
	struct blob c = { (unsigned char *)cert_only, sizeof(cert_only) - 1 };
	assert_int_equal(walk(&c, NULL, &f), RES_BAD_INPUT);
	/* an "X509 CRL" block that holds no CRL */
	static const char bad[] = "-----BEGIN X509 CRL-----\nMAMCAQE=\n-----END X509 CRL-----\n";
	struct blob b2 = { (unsigned char *)bad, sizeof(bad) - 1 };
	assert_int_equal(walk(&b2, NULL, &f), RES_BAD_INPUT);
	/* garbage */
	static const char junk[] = "hello, this is no CRL\n";
	struct blob j = { (unsigned char *)junk, sizeof(junk) - 1 };
	assert_int_equal(walk(&j, NULL, &f), RES_BAD_INPUT);
}

static void test_gzip(void **state)
{
	const char *names[] = { "ca.crl" };
	struct blob gz = pack(0, 1, names, &crl1), pem, gzpem;
	struct found f;

	(void)state;
	assert_true(gz.p[0] == 0x1f && gz.p[1] == 0x8b);
	assert_int_equal(walk(&gz, NULL, &f), RES_OK);
	assert_int_equal(f.n, 1);
	assert_same(&f.crl[0], &crl1);
	found_clear(&f);

	/* a gzip'd PEM of two */
	struct blob both[2] = { crl1, crl2 };
	pem = pem_of(both, 2, "");
	gzpem = pack(0, 1, names, &pem);
	assert_int_equal(walk(&gzpem, NULL, &f), RES_OK);
	assert_int_equal(f.n, 2);
	assert_same(&f.crl[1], &crl2);
	found_clear(&f);

	/* truncated: the stream ends early */
	struct blob cut = { gz.p, gz.len / 2 };
	assert_int_equal(walk(&cut, NULL, &f), RES_BAD_INPUT);
	assert_int_equal(f.n, 0);
	/* its CRC and length trailer cut off */
	cut.len = gz.len - 4;
	assert_int_not_equal(walk(&cut, NULL, &f), RES_OK);
	found_clear(&f);
	blob_clear(&gz);
	blob_clear(&gzpem);
	blob_clear(&pem);
}

static void test_zip_two(void **state)
{
	const char *names[] = { "one.crl", "sub/two.pem" };
	struct blob members[2] = { crl1, { 0 } }, zip;
	struct found f;

	(void)state;
	members[1] = pem_of(&crl2, 1, "");
	zip = pack(1, 2, names, members);
	assert_int_equal(walk(&zip, NULL, &f), RES_OK);
	assert_int_equal(f.n, 2);
	assert_same(&f.crl[0], &crl1);
	assert_same(&f.crl[1], &crl2);
	assert_string_equal(f.member[0], "one.crl");
	assert_string_equal(f.member[1], "sub/two.pem");
	found_clear(&f);
	blob_clear(&zip);
	blob_clear(&members[1]);
}

static void test_zip_corrupt(void **state)
{
	const char *names[] = { "one.crl", "two.crl" };
	struct blob members[2] = { crl1, crl2 }, zip;
	struct found f;
	size_t mid;

	(void)state;
	zip = pack(1, 2, names, members);
	/* flip bytes in the middle of the first member's data */
	mid = 30 + strlen(names[0]) + 20;
	for (size_t i = mid; i < mid + 16 && i < zip.len; i++)
		zip.p[i] ^= 0x5a;
	assert_int_equal(walk(&zip, NULL, &f), RES_BAD_INPUT);
	found_clear(&f);
	/* cut in half: no central directory */
	struct blob cut = { zip.p, zip.len / 2 };
	assert_int_equal(walk(&cut, NULL, &f), RES_BAD_INPUT);
	found_clear(&f);
	blob_clear(&zip);

	/* a member that holds no CRL */
	static const char text[] = "not a crl\n";
	struct blob t[1] = { { (unsigned char *)text, sizeof(text) - 1 } };
	const char *tn[] = { "readme.txt" };
	zip = pack(1, 1, tn, t);
	assert_int_equal(walk(&zip, NULL, &f), RES_BAD_INPUT);
	assert_non_null(strstr(res_message(), "readme.txt"));
	blob_clear(&zip);
}

static void test_nested(void **state)
{
	const char *names[] = { "inner.crl.gz" };
	struct blob gz = pack(0, 1, names, &crl1), zip;
	struct found f;

	(void)state;
	zip = pack(1, 1, names, &gz);
	assert_int_equal(walk(&zip, NULL, &f), RES_BAD_INPUT);
	assert_non_null(strstr(res_message(), "nested"));
	assert_int_equal(f.n, 0);
	blob_clear(&zip);
	blob_clear(&gz);
}

static void test_bombs(void **state)
{
	const char *names[] = { "zeros.crl" };
	struct blob zeros = { calloc(1, 1 << 20), 1 << 20 }, gz, zip;
	struct rev_limits l;
	struct found f;

	(void)state;
	assert_non_null(zeros.p);
	gz = pack(0, 1, names, &zeros);
	zip = pack(1, 1, names, &zeros);
	/* 1 MiB of zeros packs to a few KiB: a ratio far over 200 */
	assert_true(gz.len * 200 < zeros.len);
	rev_limits_default(&l);
	assert_int_equal(walk(&gz, &l, &f), RES_LIMIT);
	assert_non_null(strstr(res_message(), "times"));
	assert_int_equal(walk(&zip, &l, &f), RES_LIMIT);
	assert_non_null(strstr(res_message(), "times"));

	/* with the ratio allowed, a small max_unpacked still stops it */
	l.max_ratio = 100000;
	l.max_unpacked = 256 << 10;
	assert_int_equal(walk(&gz, &l, &f), RES_LIMIT);
	assert_non_null(strstr(res_message(), "more than 262144 bytes"));
	assert_int_equal(walk(&zip, &l, &f), RES_LIMIT);

	/* with both allowed, the zeros are inflated and refused as no CRL */
	l.max_unpacked = 4 << 20;
	assert_int_equal(walk(&gz, &l, &f), RES_BAD_INPUT);

	/* the total counts every member: two CRLs fit, a small bound does not */
	const char *two[] = { "a.crl", "b.crl" };
	struct blob members[2] = { crl1, crl2 };
	struct blob z2 = pack(1, 2, two, members);
	rev_limits_default(&l);
	l.max_unpacked = crl1.len + crl2.len;
	assert_int_equal(walk(&z2, &l, &f), RES_OK);
	found_clear(&f);
	l.max_unpacked = crl1.len + crl2.len - 1;
	assert_int_equal(walk(&z2, &l, &f), RES_LIMIT);
	found_clear(&f);
	blob_clear(&z2);
	blob_clear(&gz);
	blob_clear(&zip);
	blob_clear(&zeros);
}

static void test_members(void **state)
{
	char names_buf[5][16];
	const char *names[5];
	struct blob members[5];
	struct rev_limits l;
	struct blob zip;
	struct found f;

	(void)state;
	for (int i = 0; i < 5; i++) {
		snprintf(names_buf[i], sizeof(names_buf[i]), "crl%d.der", i);
		names[i] = names_buf[i];
		members[i] = i % 2 ? crl2 : crl1;
	}
	zip = pack(1, 5, names, members);
	rev_limits_default(&l);
	l.max_members = 5;
	assert_int_equal(walk(&zip, &l, &f), RES_OK);
	assert_int_equal(f.n, 5);
	found_clear(&f);
	l.max_members = 4;
	assert_int_equal(walk(&zip, &l, &f), RES_LIMIT);
	assert_non_null(strstr(res_message(), "more than 4 members"));
	found_clear(&f);
	blob_clear(&zip);

	/* an empty ZIP holds no CRL */
	zip = pack(1, 0, names, members);
	assert_int_equal(walk(&zip, NULL, &f), RES_BAD_INPUT);
	blob_clear(&zip);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_der),         cmocka_unit_test(test_pem_two),
		cmocka_unit_test(test_gzip),        cmocka_unit_test(test_zip_two),
		cmocka_unit_test(test_zip_corrupt), cmocka_unit_test(test_nested),
		cmocka_unit_test(test_bombs),       cmocka_unit_test(test_members),
	};

	return cmocka_run_group_tests_name("test-rev-archive", tests, setup, teardown);
}

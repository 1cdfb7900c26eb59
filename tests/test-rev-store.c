/*
 * test-rev-store.c - the CRL store (tools/rev/store.c, store-entry.c,
 * store-read.c) and its DER walk (crlscan.c), with CRLs made by OpenSSL's
 * X509_CRL API and software keys: put and lookup (good, revoked with
 * reason and date), the rollback guard, the same CRL again, a wrong
 * signer refused with the old entry kept, expired and not-yet-valid CRLs,
 * the issuingDistributionPoint scope, remove, foreach, precedence of
 * downloaded over manual CRLs and use_both; crlscan against d2i_X509_CRL
 * on random CRLs (a differential test) and on cut and flipped bytes;
 * readers in other processes while a writer replaces the entry; a writer
 * killed in the middle of a put (P11CA_TEST_CRASH=crl-store-mid-put).
 *
 * Random CRLs come from a fixed seed printed in the log; REV_STORE_SEED=N
 * varies a run.
 */
#include "config.h"

#include <dirent.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include "crlscan.h"
#include "result.h"
#include "store.h"
#include "unit-helpers.h"

#define T0    1767225600LL /* 2026-01-01 */
#define DAY   86400LL
#define T2050 2524608000LL

static uint64_t rng;
static EVP_PKEY *key_a, *key_b;
static X509 *ca_a, *ca_b;
static char base[512], dir[600], stop[600]; /* the test's folder, the store in it */

static uint64_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *e;

	X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
	e = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	assert_non_null(e);
	assert_int_equal(X509_add_ext(x, e, -1), 1);
	X509_EXTENSION_free(e);
}

static X509 *make_cert(const char *cn, long serial, EVP_PKEY *pub, X509 *issuer, EVP_PKEY *ikey,
                       int ca)
{
	X509 *x = X509_new();
	X509_NAME *n = X509_NAME_new();

	assert_non_null(x);
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
	X509_set_subject_name(x, n);
	X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : n);
	X509_time_adj_ex(X509_getm_notBefore(x), -1, 0, NULL);
	X509_time_adj_ex(X509_getm_notAfter(x), 3650, 0, NULL);
	X509_set_pubkey(x, pub);
	add_ext(x, issuer ? issuer : x, NID_subject_key_identifier, "hash");
	if (ca) {
		add_ext(x, issuer ? issuer : x, NID_basic_constraints, "critical,CA:TRUE");
		add_ext(x, issuer ? issuer : x, NID_key_usage, "critical,keyCertSign,cRLSign");
	} else {
		add_ext(x, issuer ? issuer : x, NID_basic_constraints, "critical,CA:FALSE");
	}
	assert_true(X509_sign(x, ikey, EVP_sha256()) > 0);
	X509_NAME_free(n);
	return x;
}

/* A leaf of @ca with @serial (hex), a CA certificate when @is_ca. */
static X509 *leaf(X509 *ca, EVP_PKEY *cakey, const char *serial, int is_ca)
{
	BIGNUM *bn = NULL;
	X509 *x = make_cert("leaf", 1, key_b, ca, cakey, is_ca);

	assert_true(BN_hex2bn(&bn, serial) > 0);
	assert_non_null(BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)));
	BN_free(bn);
	return x;
}

struct ent {
	const char *serial; /* hex */
	int reason;         /* -1 none */
	int64_t when;
};

struct crl_spec {
	X509 *ca;
	EVP_PKEY *key;
	long number; /* -1: none */
	int64_t this_update, next_update;
	const struct ent *ents;
	size_t n;
	int only_user, only_ca;
};

static void set_time(ASN1_TIME **pt, int64_t t)
{
	*pt = ASN1_TIME_set(NULL, (time_t)t);
	assert_non_null(*pt);
}

static void add_entry(X509_CRL *crl, const unsigned char *serial, size_t slen, int reason,
                      int64_t when)
{
	X509_REVOKED *r = X509_REVOKED_new();
	BIGNUM *bn = BN_bin2bn(serial, (int)slen, NULL);
	ASN1_INTEGER *sn = BN_to_ASN1_INTEGER(bn, NULL);
	ASN1_TIME *t;

	set_time(&t, when);
	X509_REVOKED_set_serialNumber(r, sn);
	X509_REVOKED_set_revocationDate(r, t);
	if (reason >= 0) {
		ASN1_ENUMERATED *e = ASN1_ENUMERATED_new();

		ASN1_ENUMERATED_set(e, reason);
		assert_int_equal(X509_REVOKED_add1_ext_i2d(r, NID_crl_reason, e, 0, 0), 1);
		ASN1_ENUMERATED_free(e);
	}
	assert_int_equal(X509_CRL_add0_revoked(crl, r), 1);
	ASN1_INTEGER_free(sn);
	ASN1_TIME_free(t);
	BN_free(bn);
}

static X509_CRL *crl_start(X509 *ca, long number, int64_t tu, int64_t nu)
{
	X509_CRL *crl = X509_CRL_new();
	ASN1_TIME *t;

	X509_CRL_set_version(crl, 1);
	X509_CRL_set_issuer_name(crl, X509_get_subject_name(ca));
	set_time(&t, tu);
	X509_CRL_set1_lastUpdate(crl, t);
	ASN1_TIME_free(t);
	if (nu != 0) {
		set_time(&t, nu);
		X509_CRL_set1_nextUpdate(crl, t);
		ASN1_TIME_free(t);
	}
	if (number >= 0) {
		ASN1_INTEGER *n = ASN1_INTEGER_new();

		ASN1_INTEGER_set(n, number);
		X509_CRL_add1_ext_i2d(crl, NID_crl_number, n, 0, 0);
		ASN1_INTEGER_free(n);
	}
	return crl;
}

static unsigned char *crl_finish(X509_CRL *crl, X509 *ca, EVP_PKEY *key, size_t *plen)
{
	unsigned char *der = NULL;
	AUTHORITY_KEYID *akid = AUTHORITY_KEYID_new();
	const ASN1_OCTET_STRING *ski = X509_get0_subject_key_id(ca);
	int n;

	akid->keyid = ASN1_OCTET_STRING_dup(ski);
	X509_CRL_add1_ext_i2d(crl, NID_authority_key_identifier, akid, 0, 0);
	AUTHORITY_KEYID_free(akid);
	assert_true(X509_CRL_sign(crl, key, EVP_sha256()) > 0);
	n = i2d_X509_CRL(crl, &der);
	assert_true(n > 0);
	*plen = (size_t)n;
	X509_CRL_free(crl);
	return der;
}

static unsigned char *make_crl(const struct crl_spec *sp, size_t *plen)
{
	X509_CRL *crl = crl_start(sp->ca, sp->number, sp->this_update, sp->next_update);

	for (size_t i = 0; i < sp->n; i++) {
		BIGNUM *bn = NULL;
		unsigned char buf[32];
		int l;

		assert_true(BN_hex2bn(&bn, sp->ents[i].serial) > 0);
		l = BN_bn2bin(bn, buf);
		add_entry(crl, buf, (size_t)l, sp->ents[i].reason, sp->ents[i].when);
		BN_free(bn);
	}
	if (sp->only_user || sp->only_ca) {
		ISSUING_DIST_POINT *idp = ISSUING_DIST_POINT_new();

		idp->onlyuser = sp->only_user ? 0xff : -1;
		idp->onlyCA = sp->only_ca ? 0xff : -1;
		assert_int_equal(
		    X509_CRL_add1_ext_i2d(crl, NID_issuing_distribution_point, idp, 1, 0), 1);
		ISSUING_DIST_POINT_free(idp);
	}
	return crl_finish(crl, sp->ca, sp->key, plen);
}

static struct rev_store *open_store(void)
{
	struct rev_store *s = NULL;

	assert_int_equal(rev_store_open(dir, 1, &s), RES_OK);
	return s;
}

static int put_der(struct rev_store *s, const unsigned char *der, size_t len, enum rev_origin o,
                   struct rev_crl_info *info)
{
	STACK_OF(X509) *iss = sk_X509_new_null();
	struct rev_put_opts po = { .origin = o, .source = "test", .issuers = iss };
	int rc;

	sk_X509_push(iss, ca_b);
	sk_X509_push(iss, ca_a);
	rc = rev_store_put(s, der, len, &po, info);
	sk_X509_free(iss);
	return rc;
}

static int put(struct rev_store *s, const struct crl_spec *sp, enum rev_origin o,
               struct rev_crl_info *info)
{
	size_t len;
	unsigned char *der = make_crl(sp, &len);
	int rc = put_der(s, der, len, o, info);

	OPENSSL_free(der);
	return rc;
}

static enum rev_crl_status look(struct rev_store *s, X509 *ca, const char *serial, int is_ca,
                                int64_t at, int use_both, struct rev_crl_answer *a)
{
	X509 *x = leaf(ca, ca == ca_a ? key_a : key_b, serial, is_ca);
	enum rev_crl_status st;

	assert_int_equal(rev_store_lookup(s, x, ca, at, use_both, a), RES_OK);
	st = a->status;
	X509_free(x);
	return st;
}

static void empty_dir(void)
{
	uh_rmtree(dir);
	assert_int_equal(mkdir(dir, 0700), 0);
}

static const struct ent basic_ents[] = {
	{ "01", 1, T0 - 5 * DAY },
	{ "00", -1, T0 - 4 * DAY },
	{ "80", 4, T0 - 3 * DAY },
	{ "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF", 10, T0 - 2 * DAY },
	{ "7F0102030405060708090A0B0C0D0E0F10111213", 6, T0 - DAY },
};

static struct crl_spec basic(long number, int64_t tu)
{
	return (struct crl_spec){ ca_a, key_a, number, tu, tu + 7 * DAY, basic_ents, 5, 0, 0 };
}

static void test_good_revoked(void **state)
{
	struct crl_spec sp = basic(5, T0);
	struct rev_crl_info info;
	struct rev_crl_answer a;
	struct rev_store *s;

	(void)state;
	empty_dir();
	s = open_store();
	assert_int_equal(put(s, &sp, REV_ORIGIN_MANUAL, &info), RES_OK);
	assert_string_equal(info.crl_number, "05");
	assert_int_equal(info.entries, 5);
	assert_int_equal(info.this_update, T0);
	assert_int_equal(info.next_update, T0 + 7 * DAY);
	rev_crl_info_clear(&info);
	assert_int_equal(look(s, ca_a, "01", 0, T0 + DAY, 0, &a), REV_CRL_REVOKED);
	assert_int_equal(a.reason, 1);
	assert_int_equal(a.revoked_at, T0 - 5 * DAY);
	assert_string_equal(a.info.crl_number, "05");
	rev_crl_answer_clear(&a);
	for (size_t i = 1; i < 5; i++) {
		assert_int_equal(look(s, ca_a, basic_ents[i].serial, 0, T0 + DAY, 0, &a),
		                 REV_CRL_REVOKED);
		assert_int_equal(a.reason, basic_ents[i].reason);
		assert_int_equal(a.revoked_at, basic_ents[i].when);
		rev_crl_answer_clear(&a);
	}
	assert_int_equal(look(s, ca_a, "02", 0, T0 + DAY, 0, &a), REV_CRL_GOOD);
	assert_int_equal(a.reason, -1);
	rev_crl_answer_clear(&a);
	assert_int_equal(look(s, ca_a, "0100", 0, T0 + DAY, 0, &a), REV_CRL_GOOD);
	rev_crl_answer_clear(&a);
	/* another issuer: no CRL */
	assert_int_equal(look(s, ca_b, "01", 0, T0 + DAY, 0, &a), REV_CRL_NONE);
	rev_crl_answer_clear(&a);
	/* before the revocation date it was good */
	assert_int_equal(look(s, ca_a, "01", 0, T0 - 6 * DAY, 0, &a), REV_CRL_NOT_YET);
	rev_crl_answer_clear(&a);
	/* expired, not yet valid */
	assert_int_equal(look(s, ca_a, "02", 0, T0 + 8 * DAY, 0, &a), REV_CRL_EXPIRED);
	rev_crl_answer_clear(&a);
	assert_int_equal(look(s, ca_a, "02", 0, T0 - DAY, 0, &a), REV_CRL_NOT_YET);
	rev_crl_answer_clear(&a);
	rev_store_close(s);
}

static void test_rollback_same_wrong_signer(void **state)
{
	struct crl_spec sp = basic(5, T0), lower = basic(4, T0 + DAY);
	struct crl_spec forged = basic(9, T0 + 2 * DAY);
	struct rev_crl_info info;
	struct rev_store *s;
	unsigned char *der;
	size_t len;

	(void)state;
	empty_dir();
	s = open_store();
	der = make_crl(&sp, &len);
	assert_int_equal(put_der(s, der, len, REV_ORIGIN_DOWNLOAD, NULL), RES_OK);
	assert_int_equal(put_der(s, der, len, REV_ORIGIN_DOWNLOAD, &info), RES_ALREADY);
	assert_string_equal(info.crl_number, "05");
	rev_crl_info_clear(&info);
	OPENSSL_free(der);
	/* the same number signed again (other bytes): not newer */
	assert_int_equal(put(s, &sp, REV_ORIGIN_DOWNLOAD, NULL), RES_STALE);
	assert_int_equal(put(s, &lower, REV_ORIGIN_DOWNLOAD, NULL), RES_STALE);
	/* signed by key_b under ca_a's name (and its AKI): refused */
	forged.key = key_b;
	assert_int_equal(put(s, &forged, REV_ORIGIN_DOWNLOAD, NULL), RES_CRYPTO);
	assert_int_equal(rev_store_find(s, ca_a, REV_ORIGIN_DOWNLOAD, &info), RES_OK);
	assert_string_equal(info.crl_number, "05");
	rev_crl_info_clear(&info);
	/* the same number is kept by another origin */
	assert_int_equal(put(s, &lower, REV_ORIGIN_MANUAL, NULL), RES_OK);
	/* higher replaces */
	sp = basic(6, T0 + DAY);
	assert_int_equal(put(s, &sp, REV_ORIGIN_DOWNLOAD, &info), RES_OK);
	assert_string_equal(info.crl_number, "06");
	rev_crl_info_clear(&info);

	/* without crlNumbers: an older thisUpdate is refused */
	sp = basic(-1, T0 + 3 * DAY);
	sp.ca = ca_b;
	sp.key = key_b;
	assert_int_equal(put(s, &sp, REV_ORIGIN_DOWNLOAD, NULL), RES_OK);
	sp.this_update = T0 + 2 * DAY;
	assert_int_equal(put(s, &sp, REV_ORIGIN_DOWNLOAD, NULL), RES_STALE);
	sp.this_update = T0 + 4 * DAY;
	assert_int_equal(put(s, &sp, REV_ORIGIN_DOWNLOAD, &info), RES_OK);
	assert_int_equal(info.this_update, T0 + 4 * DAY);
	assert_string_equal(info.crl_number, "");
	rev_crl_info_clear(&info);
	/* no issuer given */
	{
		STACK_OF(X509) *none = sk_X509_new_null();
		struct rev_put_opts po = { .origin = REV_ORIGIN_MANUAL, .issuers = none };

		der = make_crl(&sp, &len);
		assert_int_equal(rev_store_put(s, der, len, &po, NULL), RES_NOT_FOUND);
		OPENSSL_free(der);
		sk_X509_free(none);
	}
	rev_store_close(s);
}

static int count_cb(void *ctx, const struct rev_crl_info *info)
{
	size_t *n = ctx;

	assert_non_null(info->id);
	(*n)++;
	return RES_OK;
}

static void test_scope_precedence_remove(void **state)
{
	static const struct ent seven[] = { { "07", 1, T0 - DAY } };
	struct crl_spec dl = basic(1, T0),
	                man = { ca_a, key_a, 1, T0, T0 + 7 * DAY, seven, 1, 0, 0 };
	struct crl_spec user = { ca_b, key_b, 3, T0, T0 + 7 * DAY, seven, 1, 1, 0 };
	struct rev_crl_info info;
	struct rev_crl_answer a;
	struct rev_store *s;
	unsigned char *der;
	size_t n = 0, len;

	(void)state;
	empty_dir();
	s = open_store();
	assert_int_equal(put(s, &man, REV_ORIGIN_MANUAL, NULL), RES_OK);
	assert_int_equal(look(s, ca_a, "07", 0, T0 + DAY, 0, &a), REV_CRL_REVOKED);
	assert_int_equal(a.info.origin, REV_ORIGIN_MANUAL);
	rev_crl_answer_clear(&a);
	assert_int_equal(put(s, &dl, REV_ORIGIN_DOWNLOAD, &info), RES_OK);
	/* the download decides alone */
	assert_int_equal(look(s, ca_a, "07", 0, T0 + DAY, 0, &a), REV_CRL_GOOD);
	assert_int_equal(a.info.origin, REV_ORIGIN_DOWNLOAD);
	rev_crl_answer_clear(&a);
	/* use_both: a listing in either counts */
	assert_int_equal(look(s, ca_a, "07", 0, T0 + DAY, 1, &a), REV_CRL_REVOKED);
	assert_int_equal(a.info.origin, REV_ORIGIN_MANUAL);
	rev_crl_answer_clear(&a);
	assert_int_equal(look(s, ca_a, "01", 0, T0 + DAY, 1, &a), REV_CRL_REVOKED);
	assert_int_equal(a.info.origin, REV_ORIGIN_DOWNLOAD);
	rev_crl_answer_clear(&a);

	/* onlyContainsUserCerts: says nothing of a CA certificate */
	assert_int_equal(put(s, &user, REV_ORIGIN_MANUAL, NULL), RES_OK);
	assert_int_equal(look(s, ca_b, "07", 0, T0 + DAY, 0, &a), REV_CRL_REVOKED);
	rev_crl_answer_clear(&a);
	assert_int_equal(look(s, ca_b, "07", 1, T0 + DAY, 0, &a), REV_CRL_NONE);
	rev_crl_answer_clear(&a);
	user.only_user = 0;
	user.only_ca = 1;
	user.number = 4;
	assert_int_equal(put(s, &user, REV_ORIGIN_MANUAL, NULL), RES_OK);
	assert_int_equal(look(s, ca_b, "07", 0, T0 + DAY, 0, &a), REV_CRL_NONE);
	rev_crl_answer_clear(&a);
	assert_int_equal(look(s, ca_b, "07", 1, T0 + DAY, 0, &a), REV_CRL_REVOKED);
	rev_crl_answer_clear(&a);

	assert_int_equal(rev_store_foreach(s, count_cb, &n), RES_OK);
	assert_int_equal(n, 3);
	/* get by id and by prefix (ambiguous: both of ca_a's entries share it) */
	assert_int_equal(rev_store_get(s, info.id, NULL, &der, &len), RES_OK);
	free(der);
	{
		char prefix[8];

		snprintf(prefix, sizeof(prefix), "%.6s", info.id);
		assert_int_equal(rev_store_get(s, prefix, NULL, NULL, NULL), RES_BAD_INPUT);
	}
	assert_int_equal(rev_store_remove(s, info.id), RES_OK);
	assert_int_equal(rev_store_remove(s, info.id), RES_NOT_FOUND);
	n = 0;
	assert_int_equal(rev_store_foreach(s, count_cb, &n), RES_OK);
	assert_int_equal(n, 2);
	/* manual again decides */
	assert_int_equal(look(s, ca_a, "07", 0, T0 + DAY, 0, &a), REV_CRL_REVOKED);
	rev_crl_answer_clear(&a);
	rev_crl_info_clear(&info);
	rev_store_close(s);
}

static void test_symlink_refused(void **state)
{
	struct crl_spec sp = basic(5, T0);
	struct rev_crl_info info;
	struct rev_store *s;
	char path[700], link[700], target[700];

	(void)state;
	empty_dir();
	s = open_store();
	assert_int_equal(put(s, &sp, REV_ORIGIN_MANUAL, &info), RES_OK);
	snprintf(path, sizeof(path), "%s/%s.crl", dir, info.id);
	snprintf(target, sizeof(target), "%s.elsewhere", dir);
	assert_int_equal(rename(path, target), 0);
	assert_int_equal(symlink(target, path), 0);
	sp.number = 6;
	assert_int_equal(put(s, &sp, REV_ORIGIN_MANUAL, NULL), RES_POLICY);
	unlink(target);
	rev_crl_info_clear(&info);
	rev_store_close(s);
	/* a store folder that is a link */
	snprintf(link, sizeof(link), "%s.link", dir);
	assert_int_equal(symlink(dir, link), 0);
	assert_int_equal(rev_store_open(link, 0, &s), RES_POLICY);
	unlink(link);
}

/* ---- crlscan against d2i_X509_CRL ---------------------------------- */

struct seen {
	const STACK_OF(X509_REVOKED) * sk;
	int i;
};

static int check_entry(void *ctx, const struct crlscan_entry *e)
{
	struct seen *sn = ctx;
	X509_REVOKED *r = sk_X509_REVOKED_value(sn->sk, sn->i++);
	unsigned char buf[64];
	BIGNUM *bn;
	int l, crit = 0;
	ASN1_ENUMERATED *reason;

	assert_non_null(r);
	bn = ASN1_INTEGER_to_BN(X509_REVOKED_get0_serialNumber(r), NULL);
	l = BN_bn2bin(bn, buf);
	BN_free(bn);
	if (l == 0)
		buf[l++] = 0;
	assert_int_equal(e->serial_len, l);
	assert_memory_equal(e->serial, buf, (size_t)l);
	{
		struct tm tm;
		ASN1_TIME_to_tm(X509_REVOKED_get0_revocationDate(r), &tm);
		assert_int_equal(e->revoked_at, (int64_t)timegm(&tm));
	}
	reason = X509_REVOKED_get_ext_d2i(r, NID_crl_reason, &crit, NULL);
	assert_int_equal(e->reason, reason ? ASN1_ENUMERATED_get(reason) : -1);
	ASN1_ENUMERATED_free(reason);
	return RES_OK;
}

static void random_serial(unsigned char *buf, size_t *plen)
{
	static const char *const edge[] = { "00",
		                            "80",
		                            "FF",
		                            "0080",
		                            "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF",
		                            "8000000000000000000000000000000000000000" };
	uint64_t r = next_rand();

	if (r % 5 == 0) {
		BIGNUM *bn = NULL;

		BN_hex2bn(&bn, edge[(r >> 8) % 6]);
		*plen = (size_t)BN_bn2bin(bn, buf);
		if (*plen == 0)
			buf[(*plen)++] = 0;
		BN_free(bn);
		return;
	}
	*plen = 1 + (size_t)((r >> 8) % 20);
	for (size_t i = 0; i < *plen; i++)
		buf[i] = (unsigned char)next_rand();
	buf[0] |= 1; /* no leading zero: BN_bin2bn would drop it */
}

static void test_differential(void **state)
{
	static const int reasons[] = { -1, 0, 1, 2, 3, 4, 5, 6, 8, 9, 10 };

	(void)state;
	for (int round = 0; round < 40; round++) {
		int64_t tu = (round & 1) ? T2050 - 1 - (int64_t)(next_rand() % (30 * DAY))
		                         : T2050 + (int64_t)(next_rand() % (30 * DAY));
		long number = (round % 3 == 0) ? -1 : (long)(next_rand() % 100000);
		X509_CRL *crl = crl_start(ca_a, number, tu, round % 4 == 1 ? 0 : tu + 30 * DAY);
		size_t n = next_rand() % 200, len;
		unsigned char *der;
		const unsigned char *p;
		X509_CRL *back;
		struct crlscan c;
		struct seen sn;

		for (size_t i = 0; i < n; i++) {
			unsigned char serial[24];
			size_t sl;

			random_serial(serial, &sl);
			add_entry(crl, serial, sl, reasons[next_rand() % 11],
			          T2050 - 40 * DAY + (int64_t)(next_rand() % (80 * DAY)));
		}
		der = crl_finish(crl, ca_a, key_a, &len);
		p = der;
		back = d2i_X509_CRL(NULL, &p, (long)len);
		assert_non_null(back);
		sn.sk = X509_CRL_get_REVOKED(back);
		sn.i = 0;
		assert_int_equal(crlscan_parse(der, len, &c, check_entry, &sn), RES_OK);
		assert_int_equal(c.entries, (size_t)sk_X509_REVOKED_num(sn.sk));
		assert_int_equal(c.version, 2);
		{
			struct tm tm;

			ASN1_TIME_to_tm(X509_CRL_get0_lastUpdate(back), &tm);
			assert_int_equal(c.this_update, (int64_t)timegm(&tm));
			if (X509_CRL_get0_nextUpdate(back) != NULL) {
				ASN1_TIME_to_tm(X509_CRL_get0_nextUpdate(back), &tm);
				assert_int_equal(c.next_update, (int64_t)timegm(&tm));
			} else {
				assert_int_equal(c.next_update, 0);
			}
		}
		if (number < 0) {
			assert_null(c.number);
		} else {
			ASN1_INTEGER *num = X509_CRL_get_ext_d2i(back, NID_crl_number, NULL, NULL);

			assert_non_null(c.number);
			assert_int_equal(ASN1_INTEGER_get(num), number);
			ASN1_INTEGER_free(num);
		}
		assert_non_null(c.aki);
		/* tbs bytes as OpenSSL sees them */
		{
			unsigned char *tbs = NULL;
			int tl = i2d_re_X509_CRL_tbs(back, &tbs);

			assert_int_equal((size_t)tl, c.tbs_len);
			assert_memory_equal(tbs, c.tbs, c.tbs_len);
			OPENSSL_free(tbs);
		}
		/* hostile: every cut, some flipped bytes: no crash, and a refusal when cut */
		for (size_t cut = 0; cut < len; cut += 1 + len / 300)
			assert_int_not_equal(crlscan_parse(der, cut, &c, NULL, NULL), RES_OK);
		for (int f = 0; f < 200; f++) {
			size_t at = next_rand() % len;
			unsigned char old = der[at];

			der[at] ^= (unsigned char)(1 + next_rand() % 255);
			(void)crlscan_parse(der, len, &c, NULL, NULL);
			der[at] = old;
		}
		X509_CRL_free(back);
		OPENSSL_free(der);
	}
}

/* Many random entries in random order: the index sorts them, each is found. */
static void test_many_unsorted(void **state)
{
	enum { N = 1500 };
	static char hex[N][48];
	X509_CRL *crl = crl_start(ca_a, 1, T0, T0 + 7 * DAY);
	struct rev_crl_answer a;
	struct rev_store *s;
	unsigned char *der;
	size_t len;

	(void)state;
	empty_dir();
	for (int i = 0; i < N; i++) {
		unsigned char serial[24];
		size_t sl;

		random_serial(serial, &sl);
		for (size_t k = 0; k < sl; k++)
			snprintf(hex[i] + 2 * k, 3, "%02X", serial[k]);
		add_entry(crl, serial, sl, i % 3 == 0 ? -1 : 1, T0 - DAY - i);
	}
	der = crl_finish(crl, ca_a, key_a, &len);
	s = open_store();
	assert_int_equal(put_der(s, der, len, REV_ORIGIN_DOWNLOAD, NULL), RES_OK);
	for (int i = 0; i < N; i += 7) {
		assert_int_equal(look(s, ca_a, hex[i], 0, T0 + DAY, 0, &a), REV_CRL_REVOKED);
		rev_crl_answer_clear(&a);
	}
	/* 20 octets of 0x55: not among them (random ones have another first octet or length) */
	assert_int_equal(
	    look(s, ca_a, "5555555555555555555555555555555555555555", 0, T0 + DAY, 0, &a),
	    REV_CRL_GOOD);
	rev_crl_answer_clear(&a);
	OPENSSL_free(der);
	rev_store_close(s);
}

/* ---- processes ------------------------------------------------------ */

/* The entry of CRL number k lists serial 0x42 iff k is odd. */
static unsigned char *alternating(long k, size_t *plen)
{
	static const struct ent odd[] = { { "42", 1, T0 - DAY }, { "43", 2, T0 - DAY } };
	static const struct ent even[] = { { "43", 2, T0 - DAY } };
	struct crl_spec sp = {
		ca_a, key_a, k, T0, T0 + 7 * DAY, (k & 1) ? odd : even, (k & 1) ? 2 : 1, 0, 0
	};

	return make_crl(&sp, plen);
}

static void test_concurrent_readers(void **state)
{
	enum { READERS = 3, WRITES = 120 };
	STACK_OF(X509) *iss = sk_X509_new_null();
	struct rev_put_opts po = { .origin = REV_ORIGIN_DOWNLOAD, .issuers = iss };
	pid_t pids[READERS];
	struct rev_store *s;
	unsigned char *der;
	size_t len;

	(void)state;
	empty_dir();
	sk_X509_push(iss, ca_a);
	s = open_store();
	der = alternating(1, &len);
	assert_int_equal(rev_store_put(s, der, len, &po, NULL), RES_OK);
	OPENSSL_free(der);
	for (int r = 0; r < READERS; r++) {
		if ((pids[r] = fork()) == 0) {
			struct rev_store *rs = NULL;
			X509 *x = leaf(ca_a, key_a, "42", 0);
			long lookups = 0;
			int bad = 0;

			if (rev_store_open(dir, 0, &rs) != RES_OK)
				_exit(2);
			while (getppid() != 1 && lookups < 2000000) {
				struct rev_crl_answer a;
				unsigned long k;

				if (rev_store_lookup(rs, x, ca_a, T0 + DAY, 0, &a) != RES_OK) {
					bad = 3;
					break;
				}
				k = strtoul(a.info.crl_number, NULL, 16);
				if ((k & 1) != (a.status == REV_CRL_REVOKED) ||
				    a.info.entries != ((k & 1) ? 2u : 1u)) {
					bad = 4; /* a mix of two entries */
					rev_crl_answer_clear(&a);
					break;
				}
				rev_crl_answer_clear(&a);
				lookups++;
				if (access(stop, F_OK) == 0)
					break;
			}
			fprintf(stderr, "reader %d: %ld lookups\n", r, lookups);
			_exit(bad);
		}
	}
	for (long k = 2; k <= WRITES; k++) {
		der = alternating(k, &len);
		assert_int_equal(rev_store_put(s, der, len, &po, NULL), RES_OK);
		OPENSSL_free(der);
	}
	assert_int_equal(close(open(stop, O_CREAT | O_WRONLY, 0600)), 0);
	for (int r = 0; r < READERS; r++) {
		int st;

		assert_int_equal(waitpid(pids[r], &st, 0), pids[r]);
		assert_true(WIFEXITED(st));
		assert_int_equal(WEXITSTATUS(st), 0);
	}
	unlink(stop);
	sk_X509_free(iss);
	rev_store_close(s);
}

static void test_killed_writer(void **state)
{
	STACK_OF(X509) *iss = sk_X509_new_null();
	struct rev_put_opts po = { .origin = REV_ORIGIN_DOWNLOAD, .issuers = iss };
	struct rev_crl_answer a;
	struct rev_store *s;
	unsigned char *der;
	size_t len, n = 0;
	int st, tmps = 0;
	pid_t pid;
	DIR *dp;
	struct dirent *d;

	(void)state;
	empty_dir();
	sk_X509_push(iss, ca_a);
	s = open_store();
	der = alternating(1, &len);
	assert_int_equal(rev_store_put(s, der, len, &po, NULL), RES_OK);
	OPENSSL_free(der);
	der = alternating(2, &len);
	if ((pid = fork()) == 0) {
		setenv("P11CA_TEST_CRASH", "crl-store-mid-put", 1);
		rev_store_put(s, der, len, &po, NULL);
		_exit(0); /* not reached: killed at the point */
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGKILL);
	/* the old entry reads; the half-written file is no entry */
	assert_int_equal(look(s, ca_a, "42", 0, T0 + DAY, 0, &a), REV_CRL_REVOKED);
	assert_string_equal(a.info.crl_number, "01");
	rev_crl_answer_clear(&a);
	assert_int_equal(rev_store_foreach(s, count_cb, &n), RES_OK);
	assert_int_equal(n, 1);
	assert_non_null(dp = opendir(dir));
	while ((d = readdir(dp)) != NULL)
		tmps += strncmp(d->d_name, ".tmp-", 5) == 0;
	closedir(dp);
	assert_int_equal(tmps, 1);
	/* the next put sweeps it and succeeds */
	assert_int_equal(rev_store_put(s, der, len, &po, NULL), RES_OK);
	assert_non_null(dp = opendir(dir));
	tmps = 0;
	while ((d = readdir(dp)) != NULL)
		tmps += strncmp(d->d_name, ".tmp-", 5) == 0;
	closedir(dp);
	assert_int_equal(tmps, 0);
	assert_int_equal(look(s, ca_a, "42", 0, T0 + DAY, 0, &a), REV_CRL_GOOD);
	rev_crl_answer_clear(&a);
	OPENSSL_free(der);
	sk_X509_free(iss);
	rev_store_close(s);
}

static int setup(void **state)
{
	const char *env = getenv("REV_STORE_SEED");

	(void)state;
	rng = env != NULL ? strtoull(env, NULL, 0) : 0x7e57c0de2026ULL;
	if (rng == 0)
		rng = 1;
	print_message("random CRLs from seed %llu (REV_STORE_SEED to change)\n",
	              (unsigned long long)rng);
	key_a = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	key_b = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	if (key_a == NULL || key_b == NULL)
		return -1;
	ca_a = make_cert("Test CA A", 1, key_a, NULL, key_a, 1);
	ca_b = make_cert("Test CA B", 2, key_b, NULL, key_b, 1);
	if (uh_mkdtemp("rev-store", base, sizeof(base)) != 0)
		return -1;
	snprintf(dir, sizeof(dir), "%s/store", base);
	snprintf(stop, sizeof(stop), "%s/stop", base);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	uh_rmtree(base);
	X509_free(ca_a);
	X509_free(ca_b);
	EVP_PKEY_free(key_a);
	EVP_PKEY_free(key_b);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_revoked),
		cmocka_unit_test(test_rollback_same_wrong_signer),
		cmocka_unit_test(test_scope_precedence_remove),
		cmocka_unit_test(test_symlink_refused),
		cmocka_unit_test(test_differential),
		cmocka_unit_test(test_many_unsorted),
		cmocka_unit_test(test_concurrent_readers),
		cmocka_unit_test(test_killed_writer),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}

/* crl-check.c - the CRL encoder's oracle (crl-check.h). */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "crl-check.h"

static __thread char msg[512];

static const char *say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static const char *say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ERR_clear_error();
	return msg;
}

int crl_check_walk(void *src, cadb_row_cb cb, void *cbarg)
{
	const struct crl_check_rows *r = src;
	size_t i;
	int ret;

	for (i = 0; i < r->n; i++)
		if ((ret = cb(&r->rows[i], cbarg)) != 0)
			return ret;
	return 0;
}

int crl_check_sink_write(void *arg, const unsigned char *p, size_t len)
{
	struct crl_check_sink *s = arg;
	unsigned char *np;
	size_t cap;

	s->calls++;
	if (s->fail_after != 0 && s->len + len > s->fail_after)
		return -1;
	if (s->cap - s->len < len) {
		for (cap = s->cap ? s->cap : 4096; cap - s->len < len; cap *= 2)
			;
		if ((np = realloc(s->p, cap)) == NULL)
			return -1;
		s->p = np;
		s->cap = cap;
	}
	memcpy(s->p + s->len, p, len);
	s->len += len;
	return 0;
}

void crl_check_sink_free(struct crl_check_sink *s)
{
	free(s->p);
	memset(s, 0, sizeof(*s));
}

static int time_valid(int64_t t)
{
	return t >= CA_CRL_TIME_MIN && t <= CA_CRL_TIME_MAX;
}

int crl_check_entry_valid(const struct cadb_row *r)
{
	size_t n = strnlen(r->serial, sizeof(r->serial)), i;

	if (n == 0 || n > 40)
		return 0;
	for (i = 0; i < n; i++)
		if (strchr("0123456789abcdefABCDEF", r->serial[i]) == NULL)
			return 0;
	if (r->reason < -1 || r->reason > 10 || r->reason == 7)
		return 0;
	return time_valid(r->revoked_at) && (r->invalidity == 0 || time_valid(r->invalidity));
}

int crl_check_params_valid(const struct ca_crl_params *p)
{
	return p->number >= 0 && time_valid(p->this_update) && time_valid(p->next_update);
}

/* Adds extension @nid, given as openssl-config text, to @x; 1 or 0. */
static int add_ext(X509 *x, X509V3_CTX *v3, int nid, const char *value)
{
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, v3, nid, value);
	int ok = ext != NULL && X509_add_ext(x, ext, -1);

	X509_EXTENSION_free(ext);
	return ok;
}

X509 *crl_check_make_ca(EVP_PKEY *key, const char *md, int with_skid)
{
	X509 *x = X509_new();
	X509_NAME *name = X509_NAME_new();
	X509V3_CTX v3;
	int ok = 0;

	if (x == NULL || name == NULL || !X509_set_version(x, X509_VERSION_3) ||
	    !ASN1_INTEGER_set(X509_get_serialNumber(x), 1) ||
	    !X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
	                                (const unsigned char *)"p11ca tests", -1, -1, 0) ||
	    !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
	                                (const unsigned char *)"CRL test CA \xc3\xa9", -1, -1, 0) ||
	    !X509_set_subject_name(x, name) || !X509_set_issuer_name(x, name) ||
	    X509_gmtime_adj(X509_getm_notBefore(x), 0) == NULL ||
	    X509_gmtime_adj(X509_getm_notAfter(x), 86400L * 365) == NULL ||
	    !X509_set_pubkey(x, key))
		goto out;
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	if (!add_ext(x, &v3, NID_basic_constraints, "critical,CA:TRUE") ||
	    (with_skid && !add_ext(x, &v3, NID_subject_key_identifier, "hash")))
		goto out;
	if (X509_sign(x, key, md != NULL ? EVP_get_digestbyname(md) : NULL) <= 0)
		goto out;
	ok = 1;
out:
	X509_NAME_free(name);
	if (!ok) {
		X509_free(x);
		x = NULL;
	}
	return x;
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian; Howard Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

int64_t crl_check_time(const ASN1_TIME *t, int *ok)
{
	struct tm tm;

	*ok = t != NULL && ASN1_TIME_to_tm(t, &tm) == 1;
	if (!*ok)
		return 0;
	return days_from_civil((int64_t)tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday) * 86400 +
	       tm.tm_hour * 3600 + tm.tm_min * 60 + tm.tm_sec;
}

/* @t is @want, as UTCTime in 1950-2049 and GeneralizedTime otherwise (or always with @gen). */
static const char *time_is(const ASN1_TIME *t, int64_t want, int gen, const char *what)
{
	int ok, utc = !gen && want >= -631152000LL && want < 2524608000LL;
	int64_t got = crl_check_time(t, &ok);

	if (!ok)
		return say("%s: unreadable time", what);
	if (got != want)
		return say("%s: %lld, not %lld", what, (long long)got, (long long)want);
	if (ASN1_STRING_type(t) != (utc ? V_ASN1_UTCTIME : V_ASN1_GENERALIZEDTIME) ||
	    ASN1_STRING_length(t) != (utc ? 13 : 15))
		return say("%s: encoded as type %d, %d bytes", what, ASN1_STRING_type(t),
		           ASN1_STRING_length(t));
	return NULL;
}

/* The extension's value re-encoded (@der, @len of i2d) is its contents, byte for byte. */
static const char *same_der(const X509_EXTENSION *ext, unsigned char *der, int len,
                            const char *what)
{
	const ASN1_OCTET_STRING *v = X509_EXTENSION_get_data((X509_EXTENSION *)ext);
	int same = len > 0 && len == ASN1_STRING_length(v) &&
	           memcmp(der, ASN1_STRING_get0_data(v), (size_t)len) == 0;

	OPENSSL_free(der);
	return same ? NULL : say("%s: its value is not minimal DER", what);
}

static const char *check_entry(const X509_REVOKED *rv, const struct cadb_row *r, size_t i)
{
	const ASN1_INTEGER *sn = X509_REVOKED_get0_serialNumber(rv);
	BIGNUM *got = ASN1_INTEGER_to_BN(sn, NULL), *want = NULL;
	ASN1_ENUMERATED *reason = NULL;
	ASN1_GENERALIZEDTIME *inv = NULL;
	unsigned char *der;
	const char *why = NULL;
	char what[80], *text = NULL;
	int crit, n = 0, len;

	snprintf(what, sizeof(what), "entry %zu (%.40s)", i, r->serial);
	if (got == NULL || BN_hex2bn(&want, r->serial) != (int)strlen(r->serial) ||
	    ASN1_STRING_type(sn) != V_ASN1_INTEGER || BN_cmp(got, want) != 0) {
		text = got != NULL ? BN_bn2hex(got) : NULL;
		why = say("%s: serial reads as %s", what, text != NULL ? text : "?");
		goto out;
	}
	if ((why = time_is(X509_REVOKED_get0_revocationDate(rv), r->revoked_at, 0, what)) != NULL)
		goto out;
	if (r->reason > 0) {
		reason = X509_REVOKED_get_ext_d2i(rv, NID_crl_reason, &crit, NULL);
		if (reason == NULL || crit != 0 || ASN1_ENUMERATED_get(reason) != r->reason) {
			why = say("%s: no reasonCode %d", what, r->reason);
			goto out;
		}
		der = NULL;
		len = i2d_ASN1_ENUMERATED(reason, &der);
		if ((why = same_der(X509_REVOKED_get_ext(rv, n), der, len, what)) != NULL)
			goto out;
		n++;
	} else if (X509_REVOKED_get_ext_by_NID(rv, NID_crl_reason, -1) >= 0) {
		why = say("%s: a reasonCode for reason %d", what, r->reason);
		goto out;
	}
	if (r->invalidity != 0) {
		inv = X509_REVOKED_get_ext_d2i(rv, NID_invalidity_date, &crit, NULL);
		if (inv == NULL || crit != 0) {
			why = say("%s: no invalidityDate", what);
			goto out;
		}
		if ((why = time_is(inv, r->invalidity, 1, what)) != NULL)
			goto out;
		der = NULL;
		len = i2d_ASN1_GENERALIZEDTIME(inv, &der);
		if ((why = same_der(X509_REVOKED_get_ext(rv, n), der, len, what)) != NULL)
			goto out;
		n++;
	}
	if (X509_REVOKED_get_ext_count(rv) != n)
		why = say("%s: %d extensions, not %d", what, X509_REVOKED_get_ext_count(rv), n);
out:
	OPENSSL_free(text);
	ASN1_ENUMERATED_free(reason);
	ASN1_GENERALIZEDTIME_free(inv);
	BN_free(got);
	BN_free(want);
	return why;
}

static const char *check_exts(X509_CRL *crl, const struct ca_crl_params *p)
{
	const ASN1_OCTET_STRING *skid = X509_get0_subject_key_id(p->issuer);
	unsigned char md[EVP_MAX_MD_SIZE], *der;
	const unsigned char *kid = md;
	unsigned int kidlen = 0;
	AUTHORITY_KEYID *aki = NULL;
	ASN1_INTEGER *num = NULL;
	const char *why = NULL;
	int64_t v;
	int crit, len;

	if (skid != NULL) {
		kid = ASN1_STRING_get0_data(skid);
		kidlen = (unsigned int)ASN1_STRING_length(skid);
	} else if (!X509_pubkey_digest(p->issuer, EVP_sha1(), md, &kidlen)) {
		return say("no key identifier for the issuer");
	}
	if (X509_CRL_get_ext_count(crl) != 2 ||
	    X509_CRL_get_ext_by_NID(crl, NID_authority_key_identifier, -1) != 0 ||
	    X509_CRL_get_ext_by_NID(crl, NID_crl_number, -1) != 1)
		return say("crlExtensions: not AKI then cRLNumber");
	aki = X509_CRL_get_ext_d2i(crl, NID_authority_key_identifier, &crit, NULL);
	if (aki == NULL || crit != 0 || aki->keyid == NULL || aki->issuer != NULL ||
	    aki->serial != NULL || ASN1_STRING_length(aki->keyid) != (int)kidlen ||
	    memcmp(ASN1_STRING_get0_data(aki->keyid), kid, kidlen) != 0) {
		why = say("AKI is not the issuer's key identifier");
		goto out;
	}
	der = NULL;
	len = i2d_AUTHORITY_KEYID(aki, &der);
	if ((why = same_der(X509_CRL_get_ext(crl, 0), der, len, "AKI")) != NULL)
		goto out;
	num = X509_CRL_get_ext_d2i(crl, NID_crl_number, &crit, NULL);
	if (num == NULL || crit != 0 || ASN1_STRING_type(num) != V_ASN1_INTEGER ||
	    !ASN1_INTEGER_get_int64(&v, num) || v != p->number) {
		why = say("cRLNumber is not %lld", (long long)p->number);
		goto out;
	}
	der = NULL;
	len = i2d_ASN1_INTEGER(num, &der);
	why = same_der(X509_CRL_get_ext(crl, 1), der, len, "cRLNumber");
out:
	AUTHORITY_KEYID_free(aki);
	ASN1_INTEGER_free(num);
	return why;
}

const char *crl_check_der(const unsigned char *der, size_t len, const struct ca_crl_params *p,
                          const struct cadb_row *rows, size_t n)
{
	const unsigned char *q = der, *tbs;
	X509_CRL *crl = NULL;
	STACK_OF(X509_REVOKED) * revoked;
	const X509_ALGOR *outer_alg;
	X509_ALGOR *inner_alg = NULL;
	unsigned char *re = NULL;
	const char *why = NULL;
	long l;
	int tag, cls, relen;
	size_t i, tbslen;

	if ((crl = d2i_X509_CRL(NULL, &q, (long)len)) == NULL || q != der + len) {
		why = say("d2i_X509_CRL refuses it (or leaves bytes)");
		goto out;
	}
	/* DER: the whole and the to-be-signed part re-encode to our bytes */
	relen = i2d_X509_CRL(crl, &re);
	if (relen < 0 || (size_t)relen != len || memcmp(re, der, len) != 0) {
		why = say("i2d_X509_CRL differs from our bytes");
		goto out;
	}
	OPENSSL_free(re);
	re = NULL;
	q = der;
	if (ASN1_get_object(&q, &l, &tag, &cls, (long)len) & 0x80) {
		why = say("no outer SEQUENCE");
		goto out;
	}
	tbs = q;
	if (ASN1_get_object(&q, &l, &tag, &cls, (long)(der + len - q)) & 0x80) {
		why = say("no TBSCertList");
		goto out;
	}
	tbslen = (size_t)(q + l - tbs);
	relen = i2d_re_X509_CRL_tbs(crl, &re);
	if (relen < 0 || (size_t)relen != tbslen || memcmp(re, tbs, tbslen) != 0) {
		why = say("TBSCertList re-encoded (%d bytes) differs from ours (%zu bytes)", relen,
		          tbslen);
		goto out;
	}
	if (X509_CRL_verify(crl, p->key) != 1) {
		why = say("X509_CRL_verify fails");
		goto out;
	}
	/* the TBSCertList's signature field (after its version) is the outer one */
	X509_CRL_get0_signature(crl, NULL, &outer_alg);
	q = tbs;
	ASN1_get_object(&q, &l, &tag, &cls, (long)tbslen); /* read above */
	if ((ASN1_get_object(&q, &l, &tag, &cls, (long)(tbs + tbslen - q)) & 0x80) ||
	    tag != V_ASN1_INTEGER ||
	    (q += l, (inner_alg = d2i_X509_ALGOR(NULL, &q, (long)(tbs + tbslen - q))) == NULL) ||
	    X509_ALGOR_cmp(outer_alg, inner_alg) != 0) {
		why = say("two signature algorithms");
		goto out;
	}
	if (X509_CRL_get_version(crl) != X509_CRL_VERSION_2) {
		why = say("version %ld, not v2", X509_CRL_get_version(crl));
		goto out;
	}
	if (X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_subject_name(p->issuer)) != 0) {
		why = say("issuer is not the CA's subject");
		goto out;
	}
	if ((why = time_is(X509_CRL_get0_lastUpdate(crl), p->this_update, 0, "thisUpdate")) !=
	        NULL ||
	    (why = time_is(X509_CRL_get0_nextUpdate(crl), p->next_update, 0, "nextUpdate")) !=
	        NULL ||
	    (why = check_exts(crl, p)) != NULL)
		goto out;
	revoked = X509_CRL_get_REVOKED(crl);
	if ((size_t)sk_X509_REVOKED_num(revoked) != n && !(n == 0 && revoked == NULL)) {
		why = say("%d entries, not %zu", sk_X509_REVOKED_num(revoked), n);
		goto out;
	}
	for (i = 0; i < n; i++)
		if ((why = check_entry(sk_X509_REVOKED_value(revoked, (int)i), &rows[i], i)) !=
		    NULL)
			goto out;
out:
	X509_ALGOR_free(inner_alg);
	OPENSSL_free(re);
	X509_CRL_free(crl);
	ERR_clear_error();
	return why;
}

int crl_check_pem_to_der(const unsigned char *pem, size_t len, unsigned char **pder, long *plen)
{
	BIO *bio = BIO_new_mem_buf(pem, (int)len);
	char *name = NULL, *header = NULL;
	int ok;

	*pder = NULL;
	ok = bio != NULL && PEM_read_bio(bio, &name, &header, pder, plen) == 1 &&
	     strcmp(name, PEM_STRING_X509_CRL) == 0;
	/* nothing after the block */
	ok = ok && BIO_pending(bio) == 0;
	if (!ok) {
		OPENSSL_free(*pder);
		*pder = NULL;
	}
	OPENSSL_free(name);
	OPENSSL_free(header);
	BIO_free(bio);
	ERR_clear_error();
	return ok;
}

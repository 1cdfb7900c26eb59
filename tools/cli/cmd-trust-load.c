/* cmd-trust-load.c - p11ca trust: reading bundles, their CRLs, input files (cmd-trust.h). */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>
#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "pki.h"
#include "result.h"
#include "tool.h"

/* What `trust reset` installs without --from (Debian's ca-certificates). */
#include "cmd-trust.h"

void trust_certs_free(struct certs *cs)
{
	size_t i;

	for (i = 0; i < cs->n; i++) {
		X509_free(cs->v[i].x);
		free(cs->v[i].subject);
	}
	free(cs->v);
	free(cs->raw);
	for (i = 0; i < cs->ncrls; i++)
		X509_CRL_free(cs->crls[i].crl);
	free(cs->crls);
	memset(cs, 0, sizeof(*cs));
}

/* A name as "/C=../CN=.." (pki_name_oneline); malloc'ed, NULL when out of memory. */
char *trust_name_str(const X509_NAME *name)
{
	char *s = NULL;

	return pki_name_oneline(name, &s) == RES_OK ? s : NULL;
}

/* Appends @x (taking it) to @cs; returns 0 when out of memory (and frees @x). */
int trust_certs_push(struct certs *cs, X509 *x, size_t end)
{
	struct tcert *t;

	if (cs->n == cs->cap) {
		size_t cap = cs->cap ? 2 * cs->cap : 16;
		struct tcert *v = realloc(cs->v, cap * sizeof(*v));
		if (v == NULL)
			goto oom;
		cs->v = v;
		cs->cap = cap;
	}
	t = &cs->v[cs->n];
	memset(t, 0, sizeof(*t));
	if (pki_fingerprint(x, "SHA256", 0, t->fphex, sizeof(t->fphex)) != RES_OK ||
	    pki_fingerprint(x, "SHA256", 1, t->fp, sizeof(t->fp)) != RES_OK)
		goto oom;
	if ((t->subject = trust_name_str(X509_get_subject_name(x))) == NULL)
		goto oom;
	t->x = x;
	t->end = end;
	cs->n++;
	return 1;
oom:
	X509_free(x);
	return 0;
}

/*
 * Reads @path whole into @cs->raw.  A missing file is an empty one when
 * @missing_ok (and *@missing is set); otherwise reports and returns 0.
 */
int trust_read_file(const char *path, struct certs *cs, int missing_ok, int *missing)
{
	FILE *f;
	struct stat st;
	size_t n;
	int ok = 0;

	if (missing != NULL)
		*missing = 0;
	if ((f = fopen(path, "rb")) == NULL) {
		if (errno == ENOENT && missing_ok) {
			if (missing != NULL)
				*missing = 1;
			return 1;
		}
		tool_errorf("cannot read %s: %s", path, strerror(errno));
		return 0;
	}
	if (fstat(fileno(f), &st) != 0) {
		tool_errorf("cannot read %s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		tool_errorf("%s: not a regular file", path);
		goto out;
	}
	if (st.st_size > MAX_FILE_SIZE) {
		tool_errorf("%s: too large for a certificate file (%lld bytes)", path,
		            (long long)st.st_size);
		goto out;
	}
	if ((cs->raw = malloc((size_t)st.st_size + 1)) == NULL) {
		tool_errorf("out of memory");
		goto out;
	}
	n = fread(cs->raw, 1, (size_t)st.st_size + 1, f);
	if (ferror(f)) {
		tool_errorf("cannot read %s: %s", path, strerror(errno));
		goto out;
	}
	if (n > (size_t)st.st_size) {
		tool_errorf("%s: changed while being read", path);
		goto out;
	}
	cs->rawlen = n;
	ok = 1;
out:
	fclose(f);
	return ok;
}

/*
 * Takes the certificates in @cs->raw through the PKI library's loader,
 * recording where each ends: a bundle (pki_load_bundle: PEM, or blank
 * lines and comments) or an input file (pki_load_certs_at: PEM or DER).
 */
static int trust_parse_certs(const char *path, struct certs *cs, int bundle)
{
	STACK_OF(X509) *certs = NULL;
	STACK_OF(X509_CRL) *crls = NULL;
	size_t *ends = NULL;
	int ok = 0, i, pem, rc;

	rc = bundle ? pki_load_bundle(cs->raw, cs->rawlen, &certs, &ends, &crls)
	            : pki_load_certs_at(cs->raw, cs->rawlen, &certs, &ends, &pem);
	if (rc != RES_OK) {
		tool_errorf("%s: %s", path, res_message());
		return 0;
	}
	for (i = 0; i < sk_X509_num(certs); i++) {
		if (!X509_up_ref(sk_X509_value(certs, i)) ||
		    !trust_certs_push(cs, sk_X509_value(certs, i), ends[i])) {
			tool_errorf("out of memory");
			goto out;
		}
	}
	ok = 1;
out:
	free(ends);
	sk_X509_pop_free(certs, X509_free);
	sk_X509_CRL_pop_free(crls, X509_CRL_free);
	return ok;
}

/*
 * The X509 CRL blocks of a bundle (pki_load_bundle has checked each one
 * decodes): where each is, for the writers that keep them, and the CRL.
 */
int trust_scan_crls(const char *path, struct certs *cs)
{
	const unsigned char *p = cs->raw, *end = cs->raw + cs->rawlen, *b, *e;
	struct tcrl *nv;
	BIO *bio;

	while (p < end &&
	       (b = memmem(p, (size_t)(end - p), CRL_BEGIN, strlen(CRL_BEGIN))) != NULL) {
		if ((e = memmem(b, (size_t)(end - b), CRL_END, strlen(CRL_END))) == NULL)
			break; /* pki_load_bundle refused that already */
		e += strlen(CRL_END);
		while (e < end && (*e == '\r' || *e == '\n'))
			if (*e++ == '\n')
				break;
		if ((nv = realloc(cs->crls, (cs->ncrls + 1) * sizeof(*nv))) == NULL)
			goto oom;
		cs->crls = nv;
		nv = &cs->crls[cs->ncrls];
		nv->start = (size_t)(b - cs->raw);
		nv->end = (size_t)(e - cs->raw);
		if ((bio = BIO_new_mem_buf(b, (int)(e - b))) == NULL)
			goto oom;
		nv->crl = PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL);
		BIO_free(bio);
		ERR_clear_error();
		if (nv->crl == NULL) {
			tool_errorf("%s: a malformed X509 CRL block", path);
			return 0;
		}
		cs->ncrls++;
		p = e;
	}
	return 1;
oom:
	tool_errorf("out of memory");
	return 0;
}

/*
 * A bundle: PEM certificates and X509 CRL blocks, or empty.  Missing is
 * empty when @missing_ok.
 */
int trust_load_bundle(const char *path, struct certs *cs, int missing_ok, int *missing)
{
	return trust_read_file(path, cs, missing_ok, missing) && trust_parse_certs(path, cs, 1) &&
	       trust_scan_crls(path, cs);
}

/* An input file: PEM (one or more certificates) or one DER certificate. */
int trust_load_input(const char *path, struct certs *cs)
{
	return trust_read_file(path, cs, 0, NULL) && trust_parse_certs(path, cs, 0);
}

/* ------------------------------------------------------------------ */
/* Output helpers                                                      */
/* ------------------------------------------------------------------ */

/* notAfter as YYYY-MM-DDTHH:MM:SSZ; whether it has passed in *@expired. */
void trust_not_after(const X509 *x, char *out, size_t cap, int *expired)
{
	const ASN1_TIME *t = X509_get0_notAfter(x);
	int64_t v = pki_asn1_time_get(t);
	char iso[PKI_TIME_ISO_MAX];

	pki_time_iso(v, iso);
	snprintf(out, cap, "%s", v != 0 ? iso : "unknown");
	*expired = t != NULL && X509_cmp_current_time(t) < 0;
}

/* Plain-text one-line summary of a certificate. */
int trust_print_line(const struct tcert *t)
{
	char when[32], *issuer;
	int expired;

	if ((issuer = trust_name_str(X509_get_issuer_name(t->x))) == NULL)
		return 0;
	trust_not_after(t->x, when, sizeof(when), &expired);
	printf("%s  %s%s  subject=%s  issuer=%s\n", t->fp, when, expired ? " EXPIRED" : "",
	       t->subject, issuer);
	free(issuer);
	return 1;
}

void trust_crl_describe(X509_CRL *crl, struct crl_desc *d)
{
	ASN1_INTEGER *num = X509_CRL_get_ext_d2i(crl, NID_crl_number, NULL, NULL);
	const ASN1_TIME *nu = X509_CRL_get0_nextUpdate(crl);
	char *iss = trust_name_str(X509_CRL_get_issuer(crl));

	memset(d, 0, sizeof(*d));
	snprintf(d->issuer, sizeof(d->issuer), "%s", iss != NULL ? iss : "?");
	free(iss);
	if (num == NULL || pki_serial_of(num, d->number) != RES_OK)
		snprintf(d->number, sizeof(d->number), "none");
	ASN1_INTEGER_free(num);
	pki_time_iso(pki_asn1_time_get(X509_CRL_get0_lastUpdate(crl)), d->this_update);
	d->has_next = nu != NULL;
	if (nu != NULL) {
		pki_time_iso(pki_asn1_time_get(nu), d->next_update);
		d->expired = X509_cmp_current_time(nu) < 0;
	}
	d->entries = sk_X509_REVOKED_num(X509_CRL_get_REVOKED(crl));
	if (d->entries < 0)
		d->entries = 0;
	ERR_clear_error();
}

/* Appends the CRL blocks of @cs lying inside [@from, @to) to @buf (at *@len). */
void trust_keep_crls(const struct certs *cs, size_t from, size_t to, unsigned char *buf,
                     size_t *len)
{
	size_t k;

	for (k = 0; k < cs->ncrls; k++)
		if (cs->crls[k].start >= from && cs->crls[k].end <= to) {
			memcpy(buf + *len, cs->raw + cs->crls[k].start,
			       cs->crls[k].end - cs->crls[k].start);
			*len += cs->crls[k].end - cs->crls[k].start;
		}
}

/*
 * @path as a CRL file (PEM X509 CRL or DER) rather than certificates:
 * *pcrl set (1), not a CRL (0: certificates are tried), or an error (-1).
 */
int trust_input_crl(const char *path, X509_CRL **pcrl)
{
	unsigned char *buf;
	size_t len;
	int r = 0;

	*pcrl = NULL;
	if ((buf = tool_read_file(path, &len)) == NULL)
		return -1;
	if (pki_is_pem(buf, len) ? memmem(buf, len, CRL_BEGIN, strlen(CRL_BEGIN)) != NULL &&
	                               memmem(buf, len, "-----BEGIN CERTIFICATE-----", 27) == NULL
	                         : 1) {
		if (pki_load_crl(buf, len, pcrl) == RES_OK)
			r = 1;
		else if (pki_is_pem(buf, len)) {
			tool_errorf("%s: %s", path, res_message());
			r = -1;
		}
	}
	ERR_clear_error();
	free(buf);
	return r;
}

/*
 * Checks a CRL against the bundle: a CA of it (same name, its key verifies
 * the signature) issued it.  Marks (drop) the bundle's older CRLs of that
 * CA; returns 1 to add it, 0 when the same one is there, -1 refused.
 */
int trust_crl_fits(struct certs *bundle, int *dropcrl, const struct newcrl *nc)
{
	const X509_NAME *iss = X509_CRL_get_issuer(nc->crl);
	char *name = trust_name_str(iss);
	size_t i;
	int found = 0, r = 1;

	for (i = 0; i < bundle->n && !found; i++)
		if (X509_NAME_cmp(X509_get_subject_name(bundle->v[i].x), iss) == 0 &&
		    X509_CRL_verify(nc->crl, X509_get0_pubkey(bundle->v[i].x)) == 1)
			found = 1;
	ERR_clear_error();
	if (!found) {
		tool_errorf("%s: the CRL of %s is signed by no CA of the bundle; nothing added",
		            nc->file, name != NULL ? name : "?");
		r = -1;
		goto out;
	}
	for (i = 0; i < bundle->ncrls; i++) {
		X509_CRL *old = bundle->crls[i].crl;

		if (X509_NAME_cmp(X509_CRL_get_issuer(old), iss) != 0)
			continue;
		if (X509_CRL_cmp(old, nc->crl) == 0 && X509_CRL_match(old, nc->crl) == 0) {
			printf("already present: CRL of %s\n", name != NULL ? name : "?");
			r = 0;
			continue;
		}
		if (pki_asn1_time_get(X509_CRL_get0_lastUpdate(old)) >
		    pki_asn1_time_get(X509_CRL_get0_lastUpdate(nc->crl))) {
			tool_errorf("%s: the bundle holds a newer CRL of %s; nothing added",
			            nc->file, name != NULL ? name : "?");
			r = -1;
			goto out;
		}
		dropcrl[i] = 1;
	}
out:
	free(name);
	return r;
}

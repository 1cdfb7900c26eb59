/*
 * import.c - an 'openssl ca' directory's records into the database, in one
 * transaction: index.txt's lines (index.c), each with its certificate when
 * newcerts/SERIAL.pem is there (then the certificate, checked against the
 * CA's, is the record and index fields that disagree are reported), and
 * crlnumber.  Bytes in: the caller reads the files.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/err.h>

#include "ca.h"
#include "result.h"

/* Findings kept whole; more are counted. */
#define FINDINGS_MAX 100

void ca_import_report_free(struct ca_import_report *rep)
{
	pki_strv_free(rep->findings);
	memset(rep, 0, sizeof(*rep));
}

static int finding(struct ca_import_report *rep, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int finding(struct ca_import_report *rep, const char *fmt, ...)
{
	char buf[1024], **v;
	va_list ap;

	if (rep->nfindings >= FINDINGS_MAX) {
		rep->more++;
		return RES_OK;
	}
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if ((v = realloc(rep->findings, (rep->nfindings + 2) * sizeof(*v))) == NULL)
		return res_set(RES_NOMEM, "out of memory");
	rep->findings = v;
	if ((v[rep->nfindings] = strdup(buf)) == NULL) {
		v[rep->nfindings] = NULL;
		return res_set(RES_NOMEM, "out of memory");
	}
	v[++rep->nfindings] = NULL;
	return RES_OK;
}

/*
 * @r's certificate (@buf, @len bytes): it must be @cacert's and hold @r's
 * serial; then its subject, validity and SANs are the record, and what
 * index.txt said otherwise goes into @rep.
 */
static int reconcile(X509 *cacert, const unsigned char *buf, size_t len, int lineno,
                     struct cadb_row *r, struct ca_import_report *rep)
{
	char a[PKI_TIME_ISO_MAX], b[PKI_TIME_ISO_MAX];
	struct cadb_row got;
	X509 *x = NULL;
	int rc;

	memset(&got, 0, sizeof(got));
	if ((rc = pki_load_cert(buf, len, &x)) != RES_OK) {
		res_prefix(rc, "index.txt line %d: newcerts/%s.pem", lineno, r->serial);
		goto out;
	}
	if (cacert == NULL) {
		rc = res_set(RES_POLICY,
		             "index.txt line %d: newcerts/%s.pem cannot be checked: the CA has no "
		             "certificate yet",
		             lineno, r->serial);
		goto out;
	}
	if (X509_check_issued(cacert, x) != X509_V_OK ||
	    X509_verify(x, X509_get0_pubkey(cacert)) <= 0) {
		rc = res_set(RES_POLICY,
		             "index.txt line %d: newcerts/%s.pem was not issued by this CA (its "
		             "certificate)",
		             lineno, r->serial);
		goto out;
	}
	if ((rc = ca_row_from_cert(x, &got)) != RES_OK) {
		res_prefix(rc, "index.txt line %d: newcerts/%s.pem", lineno, r->serial);
		goto out;
	}
	if (strcmp(got.serial, r->serial) != 0) {
		rc = res_set(RES_BAD_INPUT, "index.txt line %d: newcerts/%s.pem holds serial %s",
		             lineno, r->serial, got.serial);
		goto out;
	}
	if (strcmp(got.subject, r->subject) != 0 &&
	    (rc = finding(rep,
	                  "index.txt line %d: serial %s: index.txt says subject '%.300s', the "
	                  "certificate '%.300s' (the certificate's kept)",
	                  lineno, r->serial, r->subject, got.subject)) != RES_OK)
		goto out;
	if (got.not_after != r->not_after) {
		pki_time_iso(r->not_after, a);
		pki_time_iso(got.not_after, b);
		if ((rc = finding(rep,
		                  "index.txt line %d: serial %s: index.txt says it expires %s, the "
		                  "certificate %s (the certificate's kept)",
		                  lineno, r->serial, a, b)) != RES_OK)
			goto out;
	}
	/* the certificate is the record; index.txt adds its status and revocation */
	free(r->subject);
	r->subject = got.subject;
	r->not_before = got.not_before;
	r->not_after = got.not_after;
	r->sans = got.sans;
	r->nsans = got.nsans;
	r->der = got.der;
	r->der_len = got.der_len;
	memset(&got, 0, sizeof(got));
	rc = RES_OK;
out:
	cadb_row_free(&got);
	X509_free(x);
	ERR_clear_error();
	return rc;
}

/* One line: parsed, reconciled with its certificate, inserted. */
static int import_line(struct ca *ca, const char *line, size_t len, int lineno,
                       ca_import_load_fn load, void *arg, struct ca_import_report *rep)
{
	struct cadb_row r;
	unsigned char *buf = NULL;
	size_t blen = 0;
	int rc;

	if ((rc = ca_index_parse_line(line, len, &r)) != RES_OK)
		return res_prefix(rc, "index.txt line %d", lineno);
	r.issued_at = (int64_t)time(NULL);
	rc = load(r.serial, &buf, &blen, arg);
	if (rc == RES_NOT_FOUND) {
		rep->nocert++;
	} else if (rc != RES_OK) {
		res_prefix(rc, "index.txt line %d", lineno);
		goto out;
	} else if ((rc = reconcile(ca->cert, buf, blen, lineno, &r, rep)) != RES_OK) {
		goto out;
	}
	if ((rc = cadb_insert(ca->db, &r)) == RES_TAKEN)
		rc = res_set(RES_TAKEN, "index.txt line %d: serial %s is in the database already",
		             lineno, r.serial);
	else if (rc == RES_OK)
		rep->count++;
out:
	free(buf);
	cadb_row_free(&r);
	return rc;
}

int ca_import_openssl(struct ca *ca, const char *index, size_t len, const char *crlnumber,
                      size_t crllen, ca_import_load_fn load, void *arg,
                      struct ca_import_report *rep)
{
	const char *p = index, *end = index + len, *nl;
	size_t n;
	int64_t next = 0;
	int lineno = 0, rc;

	memset(rep, 0, sizeof(*rep));
	if (crlnumber != NULL && (rc = ca_crlnumber_parse(crlnumber, crllen, &next)) != RES_OK)
		return res_prefix(rc, "crlnumber");
	if ((rc = cadb_begin(ca->db)) != RES_OK)
		return rc;
	for (; p < end; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		n = (size_t)(nl - p);
		lineno++;
		if (n > 0 && p[n - 1] == '\r')
			n--;
		if (n == 0)
			continue;
		if ((rc = import_line(ca, p, n, lineno, load, arg, rep)) != RES_OK)
			goto fail;
	}
	/* the number of the last CRL openssl ca signed; ours never go below it */
	if (next > 0 && (rc = cadb_set_crl_number(ca->db, next - 1)) != RES_OK)
		goto fail;
	if ((rc = cadb_commit(ca->db)) != RES_OK)
		return rc;
	return RES_OK;
fail:
	cadb_rollback(ca->db);
	rep->count = 0;
	return rc;
}

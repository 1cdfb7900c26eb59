/*
 * archive.c - every CRL in a blob: DER, PEM, GZIP, ZIP (see archive.h).
 *
 * The blob's kind is told by its first bytes: the gzip magic (a bare GZIP
 * stream: libarchive's raw format behind its gzip filter), the ZIP local
 * header or end-of-directory magic (libarchive's zip reader, one or more
 * members), a DER SEQUENCE, or a PEM "-----BEGIN " line.  Members are
 * inflated 64 KiB at a time and the bounds checked after each piece, so a
 * bomb stops close to the bound, never past it.  Each member must itself be
 * a DER CRL or PEM with "X509 CRL" blocks: an archive inside an archive is
 * refused.  Only the CRL's outer structure (SEQUENCE of SEQUENCE,
 * SEQUENCE, BIT STRING filling it exactly) is checked here; the store
 * checks the rest.
 */
#include "config.h"

#include <archive.h>
#include <archive_entry.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include "archive.h" /* ours: the same folder; <archive.h> is libarchive's */
#include "result.h"

#define CHUNK 65536

/* -------------------------------------------------------------------- */
/* The kind of a blob, from its first bytes. */

enum kind { KIND_UNKNOWN, KIND_GZIP, KIND_ZIP, KIND_DER, KIND_PEM };

static int has_pem_begin(const unsigned char *buf, size_t len)
{
	static const char begin[] = "-----BEGIN ";

	return len >= sizeof(begin) - 1 && memmem(buf, len, begin, sizeof(begin) - 1) != NULL;
}

static enum kind kind_of(const unsigned char *buf, size_t len)
{
	if (len >= 2 && buf[0] == 0x1f && buf[1] == 0x8b)
		return KIND_GZIP;
	if (len >= 4 && buf[0] == 'P' && buf[1] == 'K' &&
	    ((buf[2] == 3 && buf[3] == 4) || (buf[2] == 5 && buf[3] == 6) ||
	     (buf[2] == 7 && buf[3] == 8)))
		return KIND_ZIP;
	if (len >= 2 && buf[0] == 0x30)
		return KIND_DER;
	if (has_pem_begin(buf, len))
		return KIND_PEM;
	return KIND_UNKNOWN;
}

/* -------------------------------------------------------------------- */
/* A CRL's outer structure, without decoding it into an X509_CRL. */

/* One DER TLV at *pp (within @end): its tag, class, constructed bit. */
static int der_next(const unsigned char **pp, const unsigned char *end, int want_tag,
                    int want_constructed)
{
	const unsigned char *p = *pp;
	long olen;
	int tag, xclass, ret;

	if (end - p <= 0 || end - p > LONG_MAX)
		return 0;
	ret = ASN1_get_object(&p, &olen, &tag, &xclass, (long)(end - p));
	ERR_clear_error();
	if ((ret & 0x80) != 0 || ret == 0x21 /* indefinite length: not DER */)
		return 0;
	if (tag != want_tag || xclass != V_ASN1_UNIVERSAL ||
	    ((ret & V_ASN1_CONSTRUCTED) != 0) != want_constructed)
		return 0;
	if (olen < 0 || olen > end - p)
		return 0;
	*pp = p + olen;
	return 1;
}

/* CertificateList ::= SEQUENCE { tbsCertList SEQUENCE, AlgorithmIdentifier, BIT STRING } */
static int crl_outer_ok(const unsigned char *der, size_t len)
{
	const unsigned char *p = der, *end = der + len, *body;
	long olen;
	int tag, xclass, ret;

	if (len < 2 || len > LONG_MAX)
		return 0;
	ret = ASN1_get_object(&p, &olen, &tag, &xclass, (long)len);
	ERR_clear_error();
	if ((ret & 0x80) != 0 || ret != V_ASN1_CONSTRUCTED || tag != V_ASN1_SEQUENCE ||
	    xclass != V_ASN1_UNIVERSAL || olen != end - p)
		return 0;
	body = p;
	if (!der_next(&body, end, V_ASN1_SEQUENCE, 1) ||
	    !der_next(&body, end, V_ASN1_SEQUENCE, 1) ||
	    !der_next(&body, end, V_ASN1_BIT_STRING, 0))
		return 0;
	return body == end;
}

/* -------------------------------------------------------------------- */
/* One member (or a plain blob): DER or PEM CRLs. */

/* @member for messages: "" (a plain blob) -> "", else "archive member 'NAME': ". */
static const char *where(const char *member, char *out, size_t cap)
{
	if (member[0] == '\0')
		snprintf(out, cap, "%s", "");
	else
		snprintf(out, cap, "archive member '%.200s': ", member);
	return out;
}

static int pem_crls(const unsigned char *buf, size_t len, const char *member, rev_crl_cb cb,
                    void *ctx)
{
	BIO *bio = NULL;
	char *name = NULL, *header = NULL, w[256];
	unsigned char *data = NULL;
	long dlen = 0;
	int found = 0, rc = RES_FAIL;

	if (len > INT_MAX)
		return res_set(RES_LIMIT, "%sPEM text too large", where(member, w, sizeof(w)));
	if ((bio = BIO_new_mem_buf(buf, (int)len)) == NULL)
		return res_ossl(RES_NOMEM, "BIO_new_mem_buf");
	for (;;) {
		unsigned long e;

		if (!PEM_read_bio(bio, &name, &header, &data, &dlen)) {
			e = ERR_peek_last_error();
			if (ERR_GET_LIB(e) == ERR_LIB_PEM &&
			    ERR_GET_REASON(e) == PEM_R_NO_START_LINE) {
				ERR_clear_error();
				break; /* no more blocks */
			}
			rc =
			    res_ossl(RES_BAD_INPUT, "%smalformed PEM", where(member, w, sizeof(w)));
			goto out;
		}
		if (strcmp(name, PEM_STRING_X509_CRL) == 0) {
			if (!crl_outer_ok(data, (size_t)dlen)) {
				rc = res_set(RES_BAD_INPUT, "%sPEM block %d is not a DER CRL",
				             where(member, w, sizeof(w)), found + 1);
				goto out;
			}
			found++;
			if ((rc = cb(ctx, member, data, (size_t)dlen)) != RES_OK)
				goto out;
		}
		OPENSSL_free(name);
		OPENSSL_free(header);
		OPENSSL_free(data);
		name = header = NULL;
		data = NULL;
	}
	if (found == 0) {
		rc = res_set(RES_BAD_INPUT, "%sno \"X509 CRL\" PEM block",
		             where(member, w, sizeof(w)));
		goto out;
	}
	rc = RES_OK;
out:
	OPENSSL_free(name);
	OPENSSL_free(header);
	OPENSSL_free(data);
	BIO_free(bio);
	return rc;
}

/* A plain CRL blob (or an archive member's bytes: @in_archive refuses archives). */
static int plain_crls(const unsigned char *buf, size_t len, const char *member, int in_archive,
                      rev_crl_cb cb, void *ctx)
{
	char w[256];

	switch (kind_of(buf, len)) {
	case KIND_GZIP:
	case KIND_ZIP:
		if (in_archive)
			return res_set(RES_BAD_INPUT,
			               "%sholds an archive again: nested archives are refused",
			               where(member, w, sizeof(w)));
		break; /* not reached: the caller handles archives */
	case KIND_DER:
		if (!crl_outer_ok(buf, len))
			return res_set(RES_BAD_INPUT, "%snot a DER CRL (malformed or truncated)",
			               where(member, w, sizeof(w)));
		return cb(ctx, member, buf, len);
	case KIND_PEM: return pem_crls(buf, len, member, cb, ctx);
	case KIND_UNKNOWN: break;
	}
	return res_set(RES_BAD_INPUT,
	               "%sneither a CRL (PEM or DER) nor a ZIP or GZIP archive of CRLs",
	               where(member, w, sizeof(w)));
}

/* -------------------------------------------------------------------- */
/* Archives through libarchive. */

struct walk {
	const struct rev_limits *lim;
	size_t packed;     /* bytes of the archive */
	uint64_t unpacked; /* bytes out of it so far, every member */
	unsigned members;
	unsigned char *buf; /* the current member */
	size_t len, cap;
};

static int arch_error(struct archive *a, const char *what)
{
	const char *m = archive_error_string(a);

	return res_set(RES_BAD_INPUT, "%s: %s", what, m != NULL ? m : "corrupt archive");
}

/* The current entry's bytes into w->buf, within the bounds. */
static int read_member(struct archive *a, struct walk *w, const char *what)
{
	uint64_t max_by_ratio = (uint64_t)w->lim->max_ratio * (uint64_t)w->packed;

	w->len = 0;
	for (;;) {
		la_ssize_t n;

		if (w->cap - w->len < CHUNK) {
			size_t cap = w->cap ? w->cap * 2 : 4 * CHUNK;
			unsigned char *p;

			if ((p = realloc(w->buf, cap)) == NULL)
				return res_set(RES_NOMEM, "out of memory");
			w->buf = p;
			w->cap = cap;
		}
		n = archive_read_data(a, w->buf + w->len, CHUNK);
		if (n < 0)
			return arch_error(a, what);
		if (n == 0)
			break;
		w->len += (size_t)n;
		w->unpacked += (uint64_t)n;
		if (w->unpacked > w->lim->max_unpacked)
			return res_set(RES_LIMIT,
			               "%s: more than %zu bytes unpacked (archive bomb?)", what,
			               w->lim->max_unpacked);
		if (w->unpacked > max_by_ratio)
			return res_set(RES_LIMIT,
			               "%s: unpacks to more than %u times its %zu bytes "
			               "(archive bomb?)",
			               what, w->lim->max_ratio, w->packed);
	}
	return RES_OK;
}

/* A member's name fit for messages: no control bytes, at most 255 bytes. */
static void member_name(struct archive_entry *e, char *out, size_t cap)
{
	const char *n = archive_entry_pathname(e);

	snprintf(out, cap, "%s", n != NULL ? n : "?");
	for (char *p = out; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p == 0x7f)
			*p = '?';
}

static int archive_crls(const unsigned char *buf, size_t len, enum kind kind,
                        const struct rev_limits *lim, rev_crl_cb cb, void *ctx)
{
	struct archive *a = NULL;
	struct archive_entry *e;
	struct walk w = { .lim = lim, .packed = len };
	const char *what = kind == KIND_GZIP ? "GZIP stream" : "ZIP archive";
	char name[256], label[300];
	int r, found = 0, rc = RES_FAIL;

	if ((a = archive_read_new()) == NULL)
		return res_set(RES_NOMEM, "libarchive: out of memory");
	if (kind == KIND_GZIP) {
		r = archive_read_support_filter_gzip(a);
		if (r == ARCHIVE_OK)
			r = archive_read_support_format_raw(a);
	} else {
		r = archive_read_support_format_zip(a);
	}
	if (r != ARCHIVE_OK) {
		rc = res_set(RES_UNSUPPORTED, "libarchive cannot read a %s: %s", what,
		             archive_error_string(a) ? archive_error_string(a) : "?");
		goto out;
	}
	if (archive_read_open_memory(a, buf, len) != ARCHIVE_OK) {
		rc = arch_error(a, what);
		goto out;
	}
	for (;;) {
		r = archive_read_next_header(a, &e);
		if (r == ARCHIVE_EOF)
			break;
		if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
			rc = arch_error(a, what);
			goto out;
		}
		if (++w.members > lim->max_members) {
			rc = res_set(RES_LIMIT, "%s: more than %u members", what, lim->max_members);
			goto out;
		}
		if (kind == KIND_GZIP) {
			name[0] = '\0';
			snprintf(label, sizeof(label), "%s", what);
		} else {
			if (archive_entry_filetype(e) == AE_IFDIR)
				continue;
			member_name(e, name, sizeof(name));
			snprintf(label, sizeof(label), "ZIP member '%s'", name);
		}
		if ((rc = read_member(a, &w, label)) != RES_OK)
			goto out;
		if ((rc = plain_crls(w.buf, w.len, name, 1, cb, ctx)) != RES_OK) {
			if (kind == KIND_GZIP)
				res_prefix(rc, "%s", what);
			goto out;
		}
		found++;
	}
	if (found == 0) {
		rc = res_set(RES_BAD_INPUT, "%s: holds no CRL", what);
		goto out;
	}
	rc = RES_OK;
out:
	free(w.buf);
	archive_read_free(a);
	return rc;
}

int rev_crls_in(const unsigned char *buf, size_t len, const struct rev_limits *limits,
                rev_crl_cb cb, void *ctx)
{
	struct rev_limits defaults;
	enum kind kind;

	if (limits == NULL) {
		rev_limits_default(&defaults);
		limits = &defaults;
	}
	if (buf == NULL || len == 0)
		return res_set(RES_BAD_INPUT, "input is empty: no CRL");
	kind = kind_of(buf, len);
	if (kind == KIND_GZIP || kind == KIND_ZIP)
		return archive_crls(buf, len, kind, limits, cb, ctx);
	return plain_crls(buf, len, "", 0, cb, ctx);
}

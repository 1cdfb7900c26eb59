/*
 * index.c - openssl ca's index.txt, one line at a time: read into a record
 * (ca_index_parse_line) and written from one (ca_index_format); its
 * crlnumber file (ca_crlnumber_parse).  Bytes in,
 * bytes out; the import (import.c) and 'ca export-index' use these, and
 * tests/fuzz/index_fuzzer.c feeds the reader.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ca.h"
#include "result.h"

#define FIELDS 6

/*
 * An index time, UTCTime YYMMDDHHMMSSZ (50-99: 19YY) or GeneralizedTime
 * YYYYMMDDHHMMSSZ, read by the one time parser; after 1970-01-01 (0 means
 * "none" in a record).
 */
static int index_time(const char *s, size_t len, int64_t *pt)
{
	char buf[16];
	size_t i;

	if ((len != 13 && len != 15) || s[len - 1] != 'Z')
		return 0;
	for (i = 0; i + 1 < len; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	if (len == 13)
		snprintf(buf, sizeof(buf), "%s%.13s", s[0] < '5' ? "20" : "19", s);
	else
		snprintf(buf, sizeof(buf), "%.15s", s);
	return pki_time_parse(buf, pt) == RES_OK && *pt > 0;
}

/* openssl ca's names of the reasons it writes (apps/ca.c); *with_time: 1 a time follows, -1 an OID
 */
static int openssl_reason(const char *name, size_t len, int *code, int *with_time)
{
	char buf[32];

	*with_time = 0;
	if (len >= sizeof(buf) || memchr(name, '\0', len) != NULL)
		return 0;
	memcpy(buf, name, len);
	buf[len] = '\0';
	if (strcmp(buf, "keyTime") == 0) {
		*code = 1;
		*with_time = 1;
	} else if (strcmp(buf, "CAkeyTime") == 0) {
		*code = 2;
		*with_time = 1;
	} else if (strcmp(buf, "holdInstruction") == 0) {
		*code = 6;
		*with_time = -1; /* an OID follows, dropped */
	} else if (strcmp(buf, "removeFromCRL") == 0) {
		*code = 8;
	} else if ((*code = ca_reason_code(buf)) < 0) {
		return 0;
	}
	return 1;
}

/* "revocation time[,reason[,time or OID]]" of an R line into @r. */
static int revocation(const char *s, size_t len, struct cadb_row *r)
{
	const char *c1 = memchr(s, ',', len), *c2 = NULL, *rs;
	size_t rlen;
	int with_time;

	if (!index_time(s, c1 != NULL ? (size_t)(c1 - s) : len, &r->revoked_at))
		return res_set(RES_BAD_INPUT, "bad revocation time");
	r->reason = 0;
	if (c1 == NULL)
		return RES_OK;
	rs = c1 + 1;
	rlen = len - (size_t)(rs - s);
	if ((c2 = memchr(rs, ',', rlen)) != NULL)
		rlen = (size_t)(c2 - rs);
	if (!openssl_reason(rs, rlen, &r->reason, &with_time))
		return res_set(RES_BAD_INPUT, "bad revocation reason");
	if (with_time == 1) {
		if (c2 == NULL || !index_time(c2 + 1, len - (size_t)(c2 + 1 - s), &r->invalidity))
			return res_set(RES_BAD_INPUT, "bad invalidity time after the reason");
	} else if (with_time == 0 && c2 != NULL) {
		return res_set(RES_BAD_INPUT, "unexpected text after the revocation reason");
	}
	return RES_OK;
}

char *ca_text_escape(const char *s, size_t len)
{
	char *out = malloc(4 * len + 1), *o = out;
	size_t i;

	if (out == NULL)
		return NULL;
	for (i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch >= 0x20 && ch <= 0x7e)
			*o++ = (char)ch;
		else
			o += sprintf(o, "\\x%02X", ch);
	}
	*o = '\0';
	return out;
}

int ca_index_parse_line(const char *line, size_t len, struct cadb_row *r)
{
	const char *f[FIELDS];
	size_t flen[FIELDS], n, off = 0;
	const char *tab;
	int rc;

	memset(r, 0, sizeof(*r));
	r->reason = -1;
	/* five tabs; the sixth field (the subject) is the rest of the line */
	for (n = 0; n < FIELDS; n++) {
		f[n] = line + off;
		if (n == FIELDS - 1 || (tab = memchr(line + off, '\t', len - off)) == NULL) {
			flen[n] = len - off;
			break;
		}
		flen[n] = (size_t)(tab - (line + off));
		off += flen[n] + 1;
	}
	if (n < FIELDS - 1) {
		rc =
		    res_set(RES_BAD_INPUT, "not an openssl ca index line (6 tab-separated fields)");
		goto fail;
	}
	if (flen[0] != 1 || (f[0][0] != 'V' && f[0][0] != 'R' && f[0][0] != 'E')) {
		rc = res_set(RES_BAD_INPUT, "status is not V, E or R");
		goto fail;
	}
	if (!index_time(f[1], flen[1], &r->not_after)) {
		rc = res_set(RES_BAD_INPUT, "bad expiry time");
		goto fail;
	}
	{
		char sn[2 * PKI_SERIAL_MAX];
		if (flen[3] == 0 || flen[3] >= sizeof(sn) || memchr(f[3], '\0', flen[3]) != NULL) {
			rc = res_set(RES_BAD_INPUT, "bad serial");
			goto fail;
		}
		memcpy(sn, f[3], flen[3]);
		sn[flen[3]] = '\0';
		if (pki_serial_normalise(sn, r->serial) != RES_OK) {
			rc = res_set(RES_BAD_INPUT, "bad serial");
			goto fail;
		}
	}
	if (flen[5] == 0 || f[5][0] != '/') {
		rc = res_set(RES_BAD_INPUT, "the subject does not start with '/'");
		goto fail;
	}
	r->status = f[0][0] == 'R' ? 'R' : 'V';
	if (r->status == 'R') {
		if ((rc = revocation(f[2], flen[2], r)) != RES_OK)
			goto fail;
	} else if (flen[2] != 0) {
		rc = res_set(RES_BAD_INPUT, "a revocation time on a line not marked R");
		goto fail;
	}
	if ((r->subject = ca_text_escape(f[5], flen[5])) == NULL) {
		rc = res_set(RES_NOMEM, "out of memory");
		goto fail;
	}
	return RES_OK;
fail:
	memset(r, 0, sizeof(*r));
	r->reason = -1;
	return rc;
}

int ca_index_format(const struct cadb_row *r, int64_t now, char **pline)
{
	char exp[PKI_TIME_ASN1_MAX], rev[160] = "", inv[PKI_TIME_ASN1_MAX];
	size_t n, cap;
	char *line, *subject;

	*pline = NULL;
	pki_time_asn1(r->not_after, 0, exp, sizeof(exp));
	if (r->status == 'R') {
		pki_time_asn1(r->revoked_at, 0, rev, sizeof(rev));
		n = strlen(rev);
		if (r->invalidity != 0 && (r->reason == 1 || r->reason == 2)) {
			pki_time_asn1(r->invalidity, 1, inv, sizeof(inv));
			snprintf(rev + n, sizeof(rev) - n, ",%s,%s",
			         r->reason == 1 ? "keyTime" : "CAkeyTime", inv);
		} else if (r->reason == 2) {
			snprintf(rev + n, sizeof(rev) - n, ",CACompromise");
		} else if (r->reason == 8) {
			snprintf(rev + n, sizeof(rev) - n, ",removeFromCRL");
		} else if (r->reason > 0 && r->reason <= 6) {
			/* openssl ca knows no other names (privilegeWithdrawn, aACompromise) */
			snprintf(rev + n, sizeof(rev) - n, ",%s", ca_reason_name(r->reason));
		}
	}
	/* a record imported before subjects were escaped may hold raw bytes */
	if ((subject = ca_text_escape(r->subject, strlen(r->subject))) == NULL)
		return res_set(RES_NOMEM, "out of memory");
	cap = strlen(exp) + strlen(rev) + strlen(r->serial) + strlen(subject) + 32;
	if ((line = malloc(cap)) == NULL) {
		free(subject);
		return res_set(RES_NOMEM, "out of memory");
	}
	snprintf(line, cap, "%c\t%s\t%s\t%s\tunknown\t%s\n",
	         r->status == 'R'     ? 'R'
	         : r->not_after < now ? 'E'
	                              : 'V',
	         exp, rev, r->serial, subject);
	free(subject);
	*pline = line;
	return RES_OK;
}

int ca_crlnumber_parse(const char *text, size_t len, int64_t *pnext)
{
	uint64_t v = 0;
	size_t i, digits = 0;

	while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r'))
		len--;
	for (i = 0; i < len; i++) {
		char ch = text[i];
		int d = ch >= '0' && ch <= '9'   ? ch - '0'
		        : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
		        : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10
		                                 : -1;
		if (d < 0)
			return res_set(RES_BAD_INPUT, "not a hexadecimal CRL number");
		if (v == 0 && d == 0)
			continue; /* leading zeros */
		/* bounded before it is computed: no overflow, whatever the length */
		if (++digits > 16 || (v << 4 | (uint64_t)d) > CA_CRL_NUMBER_MAX)
			return res_set(RES_BAD_INPUT,
			               "CRL number larger than p11ca keeps (at most %llX)",
			               (unsigned long long)CA_CRL_NUMBER_MAX);
		v = v << 4 | (uint64_t)d;
	}
	if (len == 0 || v == 0)
		return res_set(RES_BAD_INPUT, "not a CRL number (hexadecimal, from 1)");
	*pnext = (int64_t)v;
	return RES_OK;
}

/*
 * names.c - the one name policy (pki_name_check, pki_names_check) and the
 * text forms of names (SANs, subjects).  pki.h has the contract.
 */
#include "config.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "pki.h"
#include "result.h"

#define SHOW_MAX 260 /* a value quoted in a message: at most this many bytes */

/* @len bytes of @v, printable: other bytes as '?', cut at SHOW_MAX ("..." added). */
static const char *show(char *buf, size_t cap, const void *v, size_t len)
{
	const unsigned char *p = v;
	size_t i, n = len > SHOW_MAX ? SHOW_MAX : len;

	if (n > cap - 4)
		n = cap - 4;
	for (i = 0; i < n; i++)
		buf[i] = p[i] >= 0x20 && p[i] < 0x7f ? (char)p[i] : '?';
	if (n < len)
		memcpy(buf + n, "...", 3), n += 3;
	buf[n] = '\0';
	return buf;
}

static int is_ldh(unsigned char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       ch == '-';
}

/* Whether @len bytes at @s are an IPv4 or IPv6 literal. */
static int ip_text(const char *s, size_t len, unsigned char *bin, size_t *pbinlen)
{
	char tmp[INET6_ADDRSTRLEN + 1];
	unsigned char b[16];

	if (len == 0 || len >= sizeof(tmp) || memchr(s, '\0', len) != NULL)
		return 0;
	memcpy(tmp, s, len);
	tmp[len] = '\0';
	if (inet_pton(AF_INET, tmp, b) == 1) {
		if (bin != NULL)
			memcpy(bin, b, 4), *pbinlen = 4;
		return 1;
	}
	if (inet_pton(AF_INET6, tmp, b) == 1) {
		if (bin != NULL)
			memcpy(bin, b, 16), *pbinlen = 16;
		return 1;
	}
	return 0;
}

static int wildcard(const char *shown)
{
	return res_set(RES_POLICY,
	               "'%s': wildcard names are refused (Expressway and SIP TLS peers do not "
	               "accept them); name every host",
	               shown);
}

/*
 * A DNS name as certificates carry it: an FQDN of at least two labels, each
 * 1-63 letters, digits or hyphens (no underscore), not starting or ending
 * with a hyphen, at most 253 octets, no trailing dot, the top label not all
 * digits, and not an IP address.
 */
static int check_dns(const char *s, size_t len)
{
	char lbl[SHOW_MAX + 8], one[72];
	size_t i, start, labels = 0, n;
	int digits;

	show(lbl, sizeof(lbl), s, len);
	if (len == 0)
		return res_set(RES_BAD_INPUT, "empty name");
	if (memchr(s, '*', len) != NULL)
		return wildcard(lbl);
	if (memchr(s, '\0', len) != NULL)
		return res_set(RES_BAD_INPUT, "'%s' is not a valid FQDN: it holds a NUL byte", lbl);
	if (ip_text(s, len, NULL, NULL))
		return res_set(RES_BAD_INPUT, "'%s' is an IP address, not an FQDN", lbl);
	if (len > 253)
		return res_set(RES_BAD_INPUT,
		               "'%s' is not a valid FQDN: longer than 253 characters", lbl);
	if (s[len - 1] == '.')
		return res_set(RES_BAD_INPUT,
		               "'%s' is not a valid FQDN: trailing dot (certificates name hosts "
		               "without it)",
		               lbl);
	for (start = 0; start <= len; start += n + 1) {
		const char *p = s + start;

		for (n = 0; start + n < len && p[n] != '.'; n++)
			;
		if (n == 0)
			return res_set(RES_BAD_INPUT, "'%s' is not a valid FQDN: empty label", lbl);
		if (n > 63)
			return res_set(
			    RES_BAD_INPUT,
			    "'%s' is not a valid FQDN: a label is longer than 63 characters", lbl);
		for (i = 0; i < n; i++)
			if (!is_ldh((unsigned char)p[i]))
				return res_set(
				    RES_BAD_INPUT,
				    "'%s' is not a valid FQDN: label '%s' has a character "
				    "other than a letter, digit or hyphen",
				    lbl, show(one, sizeof(one), p, n));
		if (p[0] == '-' || p[n - 1] == '-')
			return res_set(
			    RES_BAD_INPUT,
			    "'%s' is not a valid FQDN: label '%.*s' starts or ends with a "
			    "hyphen",
			    lbl, (int)n, p);
		labels++;
		if (start + n == len) {
			for (i = 0, digits = 1; i < n; i++)
				if (p[i] < '0' || p[i] > '9')
					digits = 0;
			if (digits)
				return res_set(
				    RES_BAD_INPUT,
				    "'%s' is not a valid FQDN: the top-level label '%.*s' is "
				    "all digits",
				    lbl, (int)n, p);
			break;
		}
	}
	if (labels < 2)
		return res_set(RES_BAD_INPUT,
		               "'%s' is not a valid FQDN: it needs a domain (host.example.com)",
		               lbl);
	return RES_OK;
}

/* local@domain: the local part 1-64 printable ASCII characters, the domain an FQDN. */
static int check_email(const char *s, size_t len)
{
	char lbl[SHOW_MAX + 8];
	const char *at = NULL;
	size_t i;
	int rc;

	show(lbl, sizeof(lbl), s, len);
	if (len == 0)
		return res_set(RES_BAD_INPUT, "empty e-mail address");
	if (memchr(s, '*', len) != NULL)
		return wildcard(lbl);
	for (i = len; i > 0; i--)
		if (s[i - 1] == '@') {
			at = s + i - 1;
			break;
		}
	if (at == NULL || at == s || at - s > 64)
		return res_set(RES_BAD_INPUT, "'%s' is not an e-mail address (local@domain)", lbl);
	for (i = 0; s + i < at; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch <= 0x20 || ch >= 0x7f || strchr("@<>,;\"", ch) != NULL)
			return res_set(RES_BAD_INPUT,
			               "'%s': the local part has a character not allowed there",
			               lbl);
	}
	if ((rc = check_dns(at + 1, len - (size_t)(at + 1 - s))) != RES_OK)
		return res_prefix(rc, "e-mail address '%s': domain", lbl);
	return RES_OK;
}

/*
 * scheme:rest, the scheme a letter then letters, digits, '+', '-', '.';
 * printable ASCII without spaces, and no comma (it would read as two names
 * in the CA's records and listings).
 */
static int check_uri(const char *s, size_t len)
{
	char lbl[SHOW_MAX + 8];
	size_t i, colon = 0;

	show(lbl, sizeof(lbl), s, len);
	if (len == 0)
		return res_set(RES_BAD_INPUT, "empty URI");
	if (len > PKI_URI_MAX)
		return res_set(RES_BAD_INPUT, "URI '%s' is longer than %d bytes", lbl, PKI_URI_MAX);
	if (memchr(s, '*', len) != NULL)
		return wildcard(lbl);
	for (i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch <= 0x20 || ch >= 0x7f)
			return res_set(RES_BAD_INPUT,
			               "URI '%s' has a space, control or non-ASCII character", lbl);
		if (ch == ':' && colon == 0)
			colon = i;
	}
	if (colon == 0 || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')))
		return res_set(RES_BAD_INPUT, "'%s' is not a URI (scheme:...)", lbl);
	for (i = 1; i < colon; i++)
		if (!is_ldh((unsigned char)s[i]) && s[i] != '+' && s[i] != '.')
			return res_set(RES_BAD_INPUT,
			               "URI '%s': the scheme has a character not "
			               "allowed there",
			               lbl);
	return RES_OK;
}

int pki_name_check(enum pki_name_type type, const void *value, size_t len, unsigned flags)
{
	char lbl[SHOW_MAX + 8];

	if (value == NULL && len > 0)
		return res_set(RES_BAD_INPUT, "no name");
	if (value == NULL)
		value = "";
	switch (type) {
	case PKI_NAME_DNS: return check_dns(value, len);
	case PKI_NAME_EMAIL: return check_email(value, len);
	case PKI_NAME_URI: return check_uri(value, len);
	case PKI_NAME_IP:
		if (flags & PKI_NAME_IP_TEXT) {
			if (!ip_text(value, len, NULL, NULL))
				return res_set(RES_BAD_INPUT, "'%s' is not an IPv4 or IPv6 address",
				               show(lbl, sizeof(lbl), value, len));
		} else if (len != 4 && len != 16) {
			return res_set(RES_BAD_INPUT,
			               "malformed IP address (%zu octets, not 4 or 16)", len);
		}
		return RES_OK;
	}
	return res_set(RES_BAD_INPUT, "unknown name type %d", (int)type);
}

/* An X.509 string as UTF-8 (OPENSSL_free); its length or -1. */
static int utf8_of(const ASN1_STRING *s, unsigned char **pout)
{
	*pout = NULL;
	return ASN1_STRING_to_UTF8(pout, s);
}

static int check_cn(const ASN1_STRING *v)
{
	unsigned char *u = NULL;
	int len, rc;

	if ((len = utf8_of(v, &u)) < 0) {
		ERR_clear_error();
		return res_set(RES_BAD_INPUT, "the subject CN is not a valid string");
	}
	if (ip_text((const char *)u, (size_t)len, NULL, NULL))
		rc = RES_OK;
	else if ((rc = check_dns((const char *)u, (size_t)len)) != RES_OK)
		rc = res_prefix(rc, "subject CN (without a subjectAltName, the host name)");
	OPENSSL_free(u);
	return rc;
}

int pki_san_check(const GENERAL_NAME *g)
{
	const ASN1_STRING *s;
	enum pki_name_type t;

	switch (g->type) {
	case GEN_DNS: t = PKI_NAME_DNS, s = g->d.dNSName; break;
	case GEN_IPADD: t = PKI_NAME_IP, s = g->d.iPAddress; break;
	case GEN_EMAIL: t = PKI_NAME_EMAIL, s = g->d.rfc822Name; break;
	case GEN_URI: t = PKI_NAME_URI, s = g->d.uniformResourceIdentifier; break;
	default:
		return res_set(RES_POLICY, "a subjectAltName of a type p11ca does not issue "
		                           "(only DNS, IP, email, URI)");
	}
	return pki_name_check(t, ASN1_STRING_get0_data(s), (size_t)ASN1_STRING_length(s), 0);
}

/*
 * A subject attribute as text: a valid string (UTF-8 once converted) with
 * no control character (C0, DEL, C1): subjects are printed, logged and
 * kept as text, where a NUL cuts them, an ESC drives the terminal and a
 * newline or tab forges fields and lines.  A CN is not empty.
 */
static int check_attr_text(const X509_NAME_ENTRY *e)
{
	int nid = OBJ_obj2nid(X509_NAME_ENTRY_get_object(e));
	const char *name = nid != NID_undef ? OBJ_nid2sn(nid) : "attribute";
	unsigned char *u = NULL;
	int len, i, rc = RES_OK;

	if ((len = utf8_of(X509_NAME_ENTRY_get_data(e), &u)) < 0) {
		ERR_clear_error();
		return res_set(RES_BAD_INPUT, "the subject %s is not a valid string", name);
	}
	for (i = 0; i < len; i++)
		if (u[i] < 0x20 || u[i] == 0x7f ||
		    (u[i] == 0xc2 && i + 1 < len && u[i + 1] >= 0x80 && u[i + 1] <= 0x9f)) {
			rc = res_set(RES_BAD_INPUT,
			             "the subject %s holds a control character (0x%02x at byte %d)",
			             name, u[i] == 0xc2 ? u[i + 1] : u[i], i);
			break;
		}
	if (rc == RES_OK && len == 0 && nid == NID_commonName)
		rc = res_set(RES_BAD_INPUT, "the subject CN is empty");
	OPENSSL_free(u);
	return rc;
}

int pki_names_check_ex(const X509_NAME *subject, const GENERAL_NAMES *sans, unsigned flags)
{
	int i, n = subject != NULL ? X509_NAME_entry_count(subject) : 0;
	int nsans = sans != NULL ? sk_GENERAL_NAME_num(sans) : 0;
	int rc;

	if (nsans < 0)
		nsans = 0;
	for (i = 0; i < n; i++) {
		const X509_NAME_ENTRY *e = X509_NAME_get_entry(subject, i);
		const ASN1_STRING *v = X509_NAME_ENTRY_get_data(e);

		if (memchr(ASN1_STRING_get0_data(v), '*', (size_t)ASN1_STRING_length(v)) != NULL)
			return res_set(RES_POLICY,
			               "wildcard in the subject (%s): wildcard names are "
			               "refused; name every host",
			               OBJ_nid2sn(OBJ_obj2nid(X509_NAME_ENTRY_get_object(e))));
		if ((rc = check_attr_text(e)) != RES_OK)
			return rc;
	}
	if (n == 0 && nsans == 0)
		return res_set(RES_BAD_INPUT, "neither a subject nor a subjectAltName");
	for (i = 0; i < nsans; i++)
		if ((rc = pki_san_check(sk_GENERAL_NAME_value(sans, i))) != RES_OK)
			return res_prefix(rc, "subjectAltName");
	if (nsans == 0 && !(flags & PKI_NAMES_CN_ANY)) {
		int found = 0;

		for (i = -1; (i = X509_NAME_get_index_by_NID(subject, NID_commonName, i)) >= 0;) {
			found = 1;
			if ((rc = check_cn(X509_NAME_ENTRY_get_data(
			         X509_NAME_get_entry(subject, i)))) != RES_OK)
				return rc;
		}
		if (!found)
			return res_set(RES_BAD_INPUT,
			               "no name: neither a subject CN nor a subjectAltName");
	}
	return RES_OK;
}

int pki_names_check(const X509_NAME *subject, const GENERAL_NAMES *sans)
{
	return pki_names_check_ex(subject, sans, 0);
}

/* ---- text ---------------------------------------------------------- */

/* @len bytes of an IA5String: printable ASCII as is, others as \xNN. */
static int put_ia5(char *out, size_t cap, const char *kind, const unsigned char *p, int len)
{
	size_t o;
	int i, n;

	n = snprintf(out, cap, "%s:", kind);
	if (n < 0 || (size_t)n >= cap)
		goto small;
	o = (size_t)n;
	for (i = 0; i < len; i++) {
		if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '\\') {
			if (o + 1 >= cap)
				goto small;
			out[o++] = (char)p[i];
		} else {
			if (o + 4 >= cap)
				goto small;
			snprintf(out + o, 5, "\\x%02x", p[i]);
			o += 4;
		}
	}
	out[o] = '\0';
	return RES_OK;
small:
	if (cap > 0)
		out[0] = '\0';
	return res_set(RES_FAIL, "a subjectAltName does not fit in %zu bytes", cap);
}

int pki_san_text(const GENERAL_NAME *g, char *out, size_t cap)
{
	const ASN1_STRING *s;
	char ip[INET6_ADDRSTRLEN], *dn = NULL;
	long n;
	int rc = RES_OK;

	switch (g->type) {
	case GEN_DNS:
		s = g->d.dNSName;
		return put_ia5(out, cap, "DNS", ASN1_STRING_get0_data(s), ASN1_STRING_length(s));
	case GEN_EMAIL:
		s = g->d.rfc822Name;
		return put_ia5(out, cap, "email", ASN1_STRING_get0_data(s), ASN1_STRING_length(s));
	case GEN_URI:
		s = g->d.uniformResourceIdentifier;
		return put_ia5(out, cap, "URI", ASN1_STRING_get0_data(s), ASN1_STRING_length(s));
	case GEN_IPADD:
		s = g->d.iPAddress;
		if ((ASN1_STRING_length(s) == 4 &&
		     inet_ntop(AF_INET, ASN1_STRING_get0_data(s), ip, sizeof(ip)) != NULL) ||
		    (ASN1_STRING_length(s) == 16 &&
		     inet_ntop(AF_INET6, ASN1_STRING_get0_data(s), ip, sizeof(ip)) != NULL))
			n = snprintf(out, cap, "IP:%s", ip);
		else
			n = snprintf(out, cap, "IP:(malformed)");
		break;
	case GEN_DIRNAME:
		if ((rc = pki_name_oneline(g->d.dirn, &dn)) != RES_OK)
			return rc;
		n = snprintf(out, cap, "dirName:%s", dn);
		free(dn);
		break;
	default: n = snprintf(out, cap, "othername"); break;
	}
	if (n < 0 || (size_t)n >= cap)
		return res_set(RES_FAIL, "a subjectAltName does not fit in %zu bytes", cap);
	return RES_OK;
}

void pki_strv_free(char **v)
{
	size_t i;

	if (v == NULL)
		return;
	for (i = 0; v[i] != NULL; i++)
		free(v[i]);
	free(v);
}

int pki_cert_sans(const X509 *x, char ***psans, size_t *pn)
{
	GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	int i, num = gens != NULL ? sk_GENERAL_NAME_num(gens) : 0;
	char **v = NULL, buf[1024];
	size_t n = 0;
	int rc = RES_NOMEM;

	ERR_clear_error();
	if ((v = calloc((size_t)(num > 0 ? num : 0) + 1, sizeof(*v))) == NULL)
		goto oom;
	for (i = 0; i < num; i++) {
		if ((rc = pki_san_text(sk_GENERAL_NAME_value(gens, i), buf, sizeof(buf))) != RES_OK)
			goto out;
		if ((v[n] = strdup(buf)) == NULL) {
			rc = RES_NOMEM;
			goto oom;
		}
		n++;
	}
	*psans = v;
	if (pn != NULL)
		*pn = n;
	v = NULL;
	rc = RES_OK;
	goto out;
oom:
	res_set(RES_NOMEM, "out of memory");
out:
	pki_strv_free(v);
	GENERAL_NAMES_free(gens);
	return rc;
}

int pki_name_oneline(const X509_NAME *name, char **pout)
{
	char *s = X509_NAME_oneline(name, NULL, 0);

	if (s == NULL)
		return res_ossl(RES_NOMEM, "formatting a name");
	*pout = strdup(s);
	OPENSSL_free(s);
	if (*pout == NULL)
		return res_set(RES_NOMEM, "out of memory");
	return RES_OK;
}

int pki_name_rfc2253(const X509_NAME *name, char **pout)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *data = NULL;
	long n;
	int rc = RES_OK;

	*pout = NULL;
	if (bio == NULL)
		return res_set(RES_NOMEM, "out of memory");
	if (X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) < 0) {
		rc = res_ossl(RES_CRYPTO, "formatting a name");
		goto out;
	}
	n = BIO_get_mem_data(bio, &data);
	if (n < 0 || (*pout = malloc((size_t)n + 1)) == NULL) {
		rc = res_set(RES_NOMEM, "out of memory");
		goto out;
	}
	if (n > 0)
		memcpy(*pout, data, (size_t)n);
	(*pout)[n] = '\0';
out:
	BIO_free(bio);
	return rc;
}

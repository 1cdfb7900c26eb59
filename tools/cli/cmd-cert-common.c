/* cmd-cert-common.c - what the `cert` verbs share (cmd-cert.h). */
#include "config.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/x509v3.h>

#include "cmd-cert.h"
#include "result.h"

/* ------------------------------------------------------------------ */
/* Reading certificates                                                */
/* ------------------------------------------------------------------ */

STACK_OF(X509) * cert_read(const char *path, int *pem, char *why, size_t cap)
{
	STACK_OF(X509) *certs = NULL;
	unsigned char *buf;
	size_t len;

	if (why != NULL && cap > 0)
		why[0] = '\0';
	if ((buf = tool_read_file(path, &len)) == NULL)
		return NULL; /* reported */
	if (pki_load_certs(buf, len, &certs, pem) != RES_OK) {
		if (why != NULL)
			snprintf(why, cap, "%s", res_message());
		else
			tool_errorf("%s: %s", path, res_message());
		certs = NULL;
	}
	free(buf);
	return certs;
}

STACK_OF(X509) * tool_load_certs(const char *path, int *pem)
{
	return cert_read(path, pem, NULL, 0);
}

/* ------------------------------------------------------------------ */
/* Describing a certificate                                            */
/* ------------------------------------------------------------------ */

void cert_time_string(const ASN1_TIME *t, char *out, size_t cap)
{
	int64_t v = pki_asn1_time_get(t);
	char iso[PKI_TIME_ISO_MAX];

	if (v == 0) {
		snprintf(out, cap, "(invalid time)");
		return;
	}
	pki_time_iso(v, iso);
	snprintf(out, cap, "%s", iso);
}

static int strs_add(struct strs *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int strs_add(struct strs *l, const char *fmt, ...)
{
	char buf[1024], **nv;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if ((nv = realloc(l->v, (l->n + 2) * sizeof(*nv))) == NULL)
		return 0;
	l->v = nv;
	if ((l->v[l->n] = strdup(buf)) == NULL)
		return 0;
	l->n++;
	l->v[l->n] = NULL;
	return 1;
}

void strs_free(struct strs *l)
{
	pki_strv_free(l->v);
	l->v = NULL;
	l->n = 0;
}

static int get_eku(X509 *x, struct strs *out, int *present)
{
	EXTENDED_KEY_USAGE *eku = X509_get_ext_d2i(x, NID_ext_key_usage, NULL, NULL);
	int i, ok = 1;
	char buf[128];

	*present = eku != NULL;
	for (i = 0; ok && i < sk_ASN1_OBJECT_num(eku); i++) {
		const ASN1_OBJECT *o = sk_ASN1_OBJECT_value(eku, i);
		int nid = OBJ_obj2nid(o);
		if (nid != NID_undef)
			ok = strs_add(out, "%s", OBJ_nid2sn(nid));
		else {
			OBJ_obj2txt(buf, sizeof(buf), o, 1);
			ok = strs_add(out, "%s", buf);
		}
	}
	EXTENDED_KEY_USAGE_free(eku);
	return ok;
}

static int get_ku(X509 *x, struct strs *out, int *present)
{
	static const char *const names[] = { "digitalSignature", "nonRepudiation",
		                             "keyEncipherment",  "dataEncipherment",
		                             "keyAgreement",     "keyCertSign",
		                             "cRLSign",          "encipherOnly",
		                             "decipherOnly" };
	ASN1_BIT_STRING *ku = X509_get_ext_d2i(x, NID_key_usage, NULL, NULL);
	size_t i;
	int ok = 1;

	*present = ku != NULL;
	for (i = 0; ku != NULL && ok && i < sizeof(names) / sizeof(names[0]); i++)
		if (ASN1_BIT_STRING_get_bit(ku, (int)i))
			ok = strs_add(out, "%s", names[i]);
	ASN1_BIT_STRING_free(ku);
	return ok;
}

/* "CA:TRUE, pathlen:0", "CA:FALSE", or "" when absent. */
static void get_bc(X509 *x, char *out, size_t cap)
{
	BASIC_CONSTRAINTS *bc = X509_get_ext_d2i(x, NID_basic_constraints, NULL, NULL);

	out[0] = '\0';
	if (bc == NULL)
		return;
	if (bc->ca && bc->pathlen != NULL)
		snprintf(out, cap, "CA:TRUE, pathlen:%ld", ASN1_INTEGER_get(bc->pathlen));
	else
		snprintf(out, cap, "CA:%s", bc->ca ? "TRUE" : "FALSE");
	BASIC_CONSTRAINTS_free(bc);
}

void cert_key_desc(EVP_PKEY *pk, char *out, size_t cap, int *bits)
{
	char group[64];
	size_t glen = 0;

	*bits = pk ? EVP_PKEY_get_bits(pk) : 0;
	if (pk == NULL)
		snprintf(out, cap, "(unreadable)");
	else if (EVP_PKEY_is_a(pk, "EC") &&
	         EVP_PKEY_get_utf8_string_param(pk, "group", group, sizeof(group), &glen) == 1)
		snprintf(out, cap, "EC (%s)", group);
	else
		snprintf(out, cap, "%s",
		         EVP_PKEY_get0_type_name(pk) ? EVP_PKEY_get0_type_name(pk) : "?");
}

/* The serial as records keep it, or (negative, too long) as OpenSSL prints it. */
static int get_serial(X509 *x, char *out, size_t cap)
{
	char s[PKI_SERIAL_MAX];
	BIGNUM *bn;
	char *hex;

	if (pki_serial_of(X509_get0_serialNumber(x), s) == RES_OK) {
		snprintf(out, cap, "%s", s);
		return 1;
	}
	if ((bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL)) == NULL)
		return 0;
	hex = BN_bn2hex(bn);
	BN_free(bn);
	if (hex == NULL)
		return 0;
	snprintf(out, cap, "%s", hex);
	OPENSSL_free(hex);
	return 1;
}

void cert_info_free(struct cert_info *ci)
{
	free(ci->subject);
	free(ci->issuer);
	strs_free(&ci->sans);
	strs_free(&ci->eku);
	strs_free(&ci->ku);
}

int cert_info_get(X509 *x, time_t now, struct cert_info *ci)
{
	int nid = X509_get_signature_nid(x), days = 0, secs = 0;
	ASN1_TIME *at = ASN1_TIME_set(NULL, now);
	int ok;

	memset(ci, 0, sizeof(*ci));
	ok = pki_name_oneline(X509_get_subject_name(x), &ci->subject) == RES_OK &&
	     pki_name_oneline(X509_get_issuer_name(x), &ci->issuer) == RES_OK &&
	     get_serial(x, ci->serial, sizeof(ci->serial));
	cert_time_string(X509_get0_notBefore(x), ci->not_before, sizeof(ci->not_before));
	cert_time_string(X509_get0_notAfter(x), ci->not_after, sizeof(ci->not_after));
	if (X509_cmp_time(X509_get0_notBefore(x), &now) > 0)
		ci->status = "not yet valid";
	else if (X509_cmp_time(X509_get0_notAfter(x), &now) < 0)
		ci->status = "expired";
	else
		ci->status = "valid";
	if (at != NULL && ASN1_TIME_diff(&days, &secs, at, X509_get0_notAfter(x)) == 1)
		ci->days_left = days;
	ASN1_TIME_free(at);
	get_bc(x, ci->bc, sizeof(ci->bc));
	cert_key_desc(X509_get0_pubkey(x), ci->key, sizeof(ci->key), &ci->bits);
	snprintf(ci->sigalg, sizeof(ci->sigalg), "%s", nid != NID_undef ? OBJ_nid2ln(nid) : "?");
	ok = ok && pki_fingerprint(x, "SHA256", 1, ci->sha256, sizeof(ci->sha256)) == RES_OK &&
	     pki_fingerprint(x, "SHA1", 1, ci->sha1, sizeof(ci->sha1)) == RES_OK &&
	     pki_cert_sans(x, &ci->sans.v, &ci->sans.n) == RES_OK &&
	     get_eku(x, &ci->eku, &ci->has_eku) && get_ku(x, &ci->ku, &ci->has_ku);
	ERR_clear_error();
	if (!ok)
		tool_errorf("describing the certificate: %s",
		            res_message()[0] != '\0' ? res_message() : "out of memory");
	return ok;
}

/* ------------------------------------------------------------------ */
/* Token keys                                                          */
/* ------------------------------------------------------------------ */

int cert_is_pkcs11_uri(const char *s)
{
	/* a pin-value makes it a URI, its scheme mistyped: never a file name to echo */
	return strncasecmp(s, "pkcs11:", 7) == 0 || tool_uri_has_pin_value(s);
}

EVP_PKEY *cert_token_public(const struct tool_common *c, const char *uri, p11ca_ctx **pctx,
                            p11ca_key **pkey, char *why, size_t cap)
{
	EVP_PKEY *pub = NULL;
	p11ca_key *key = NULL;
	const char *msg;
	CK_RV rv;

	if (pkey != NULL)
		*pkey = NULL;
	if ((*pctx = tool_ctx_open(c)) == NULL) {
		snprintf(why, cap, "cannot open the PKCS#11 modules");
		return NULL;
	}
	/* the public key alone: its object when the URI names one (no login) */
	if (pkey == NULL && (rv = tool_public_object(*pctx, uri, &pub)) == CKR_OK && pub != NULL)
		return pub;
	if (pkey == NULL)
		pkey = &key;
	if ((rv = p11ca_key_find(*pctx, uri, pkey)) != CKR_OK ||
	    (rv = p11ca_key_get_public(*pkey, &pub)) != CKR_OK) {
		msg = p11ca_error_message();
		snprintf(why, cap, "%s", msg[0] != '\0' ? msg : p11ca_rv_text(rv));
	}
	p11ca_key_free(key); /* ours when the caller wanted none */
	return pub;
}

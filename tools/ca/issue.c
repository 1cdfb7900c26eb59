/*
 * ca-issue.c - certificates from CSRs under a profile: the checks a CSR must
 * pass, the extensions copied from it under an allow-list, random serials,
 * parallel signing on the token and the one transaction that records a
 * batch.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "ca.h"

/* RSA sizes a CSR may carry: 8192-bit keys break SIP TLS peers */
#define RSA_MIN_BITS 2048
#define RSA_MAX_BITS 4096
/* how often a serial already taken is drawn again (never, in practice) */
#define SERIAL_RETRIES 8

static const char *const profile_names[] = { "server", "client", "server-client", "ocsp",
	                                     "sub-ca" };

int ca_profile_parse(const char *name, enum ca_profile *out)
{
	size_t i;

	for (i = 0; i < sizeof(profile_names) / sizeof(profile_names[0]); i++)
		if (strcmp(name, profile_names[i]) == 0) {
			*out = (enum ca_profile)i;
			return 1;
		}
	return 0;
}

const char *ca_profile_name(enum ca_profile p)
{
	return profile_names[p];
}

/* keyUsage bits (RFC 5280 order) and their openssl-config names */
static const char *const ku_names[] = { "digitalSignature", "nonRepudiation", "keyEncipherment",
	                                "dataEncipherment", "keyAgreement",   "keyCertSign",
	                                "cRLSign",          "encipherOnly",   "decipherOnly" };
#define KU(bit) (1u << (bit))
enum { KU_DS = 0, KU_NR, KU_KE, KU_DE, KU_KA, KU_CERT, KU_CRL };

/* What a profile allows a CSR to ask for, and what it gives by default. */
struct profile_rules {
	unsigned ku_allowed;
	const int *eku_allowed; /* NIDs, 0-terminated */
	const char *eku_default;
};

static const int eku_server[] = { NID_server_auth, 0 };
static const int eku_client[] = { NID_client_auth, 0 };
static const int eku_both[] = { NID_server_auth, NID_client_auth, 0 };
static const int eku_ocsp[] = { NID_OCSP_sign, 0 };
static const int eku_subca[] = { NID_server_auth, NID_client_auth, NID_email_protect,
	                         NID_OCSP_sign,   NID_code_sign,   NID_time_stamp, 0 };

static const struct profile_rules rules[] = {
	[CA_SERVER] = { KU(KU_DS) | KU(KU_KE) | KU(KU_KA), eku_server, "serverAuth" },
	[CA_CLIENT] = { KU(KU_DS) | KU(KU_KA), eku_client, "clientAuth" },
	[CA_SERVER_CLIENT] = { KU(KU_DS) | KU(KU_KE) | KU(KU_KA), eku_both,
	                       "serverAuth,clientAuth" },
	[CA_OCSP] = { KU(KU_DS) | KU(KU_NR), eku_ocsp, "OCSPSigning" },
	[CA_SUB_CA] = { KU(KU_DS) | KU(KU_CERT) | KU(KU_CRL), eku_subca, NULL },
};

/* ------------------------------------------------------------------ */
/* Building blocks                                                     */
/* ------------------------------------------------------------------ */

int ca_random_serial(OSSL_LIB_CTX *libctx, unsigned char *out)
{
	if (RAND_bytes_ex(libctx, out, CA_SERIAL_BYTES, 0) != 1) {
		tool_errorf("no random serial: the random generator failed");
		return 0;
	}
	/* positive, and always CA_SERIAL_BYTES long in DER: 126 random bits */
	out[0] = (unsigned char)((out[0] & 0x3f) | 0x40);
	return 1;
}

static int set_time(ASN1_TIME *(*get)(const X509 *), X509 *x, time_t t)
{
	ASN1_TIME *at = get(x);

	return at != NULL && ASN1_TIME_set(at, t) != NULL;
}

/*
 * The subject's SubjectPublicKeyInfo copied as it is, without decoding the
 * key and encoding it again (X509_set_pubkey does both, through OpenSSL 3's
 * decoder and encoder chains: the most expensive step of issuing).
 */
static int copy_spki(X509 *x, const struct ca_csr *from)
{
	ASN1_OBJECT *dup_alg = NULL;
	unsigned char *key_copy = NULL;
	const ASN1_OBJECT *alg;
	const void *pval;
	void *pval_copy = NULL;
	int ptype;

	X509_ALGOR_get0(&alg, &ptype, &pval, from->key_alg);
	if (ptype == V_ASN1_OBJECT)
		pval_copy = OBJ_dup(pval);
	else if (ptype == V_ASN1_SEQUENCE)
		pval_copy = ASN1_STRING_dup(pval);
	else if (ptype != V_ASN1_NULL && ptype != V_ASN1_UNDEF)
		return 0;
	if ((ptype == V_ASN1_OBJECT || ptype == V_ASN1_SEQUENCE) && pval_copy == NULL)
		return 0;
	if ((dup_alg = OBJ_dup(alg)) == NULL ||
	    (key_copy = OPENSSL_memdup(from->key_bits, (size_t)from->key_len)) == NULL ||
	    !X509_PUBKEY_set0_param(X509_get_X509_PUBKEY(x), dup_alg, ptype, pval_copy, key_copy,
	                            from->key_len)) {
		ASN1_OBJECT_free(dup_alg);
		OPENSSL_free(key_copy);
		if (ptype == V_ASN1_OBJECT)
			ASN1_OBJECT_free(pval_copy);
		else
			ASN1_STRING_free(pval_copy);
		return 0;
	}
	return 1;
}

X509 *ca_build_cert(OSSL_LIB_CTX *libctx, X509 *issuer, const X509_NAME *subject,
                    const struct ca_csr *spki, EVP_PKEY *pubkey, const unsigned char *serial,
                    size_t serial_len, time_t not_before, time_t not_after)
{
	X509 *x = X509_new_ex(libctx, NULL);
	BIGNUM *bn = NULL;
	ASN1_INTEGER *sn = NULL;
	int ok = 0;

	if (x == NULL || (bn = BN_bin2bn(serial, (int)serial_len, NULL)) == NULL ||
	    (sn = BN_to_ASN1_INTEGER(bn, NULL)) == NULL)
		goto out;
	if (!X509_set_version(x, X509_VERSION_3) || !X509_set_serialNumber(x, sn) ||
	    !X509_set_subject_name(x, subject) ||
	    !X509_set_issuer_name(x, issuer != NULL ? X509_get_subject_name(issuer) : subject) ||
	    !set_time(X509_getm_notBefore, x, not_before) || !set_time(X509_getm_notAfter, x, not_after) ||
	    !(spki != NULL ? copy_spki(x, spki) : X509_set_pubkey(x, pubkey)))
		goto out;
	ok = 1;
out:
	BN_free(bn);
	ASN1_INTEGER_free(sn);
	if (!ok) {
		tool_ossl_fail("building the certificate");
		X509_free(x);
		x = NULL;
	}
	return x;
}

int ca_add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX v3;
	X509_EXTENSION *ext;
	int ok;

	X509V3_set_ctx(&v3, issuer != NULL ? issuer : x, x, NULL, NULL, 0);
	if ((ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value)) == NULL) {
		tool_ossl_fail(OBJ_nid2ln(nid));
		return 0;
	}
	ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	if (!ok)
		tool_ossl_fail(OBJ_nid2ln(nid));
	return ok;
}

int ca_sign_cert(OSSL_LIB_CTX *libctx, X509 *x, EVP_PKEY *key, const char *md)
{
	EVP_MD_CTX *mctx = EVP_MD_CTX_new();
	int ok = 0;

	if (EVP_PKEY_is_a(key, "ED25519") || EVP_PKEY_is_a(key, "ED448"))
		md = NULL;
	if (mctx != NULL && EVP_DigestSignInit_ex(mctx, NULL, md, libctx, NULL, key, NULL) == 1 &&
	    X509_sign_ctx(x, mctx) > 0)
		ok = 1;
	EVP_MD_CTX_free(mctx);
	if (!ok)
		tool_ossl_fail("signing on the token");
	return ok;
}

static int64_t asn1_time(const ASN1_TIME *t)
{
	struct tm tm;

	if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1)
		return 0;
	return (int64_t)timegm(&tm);
}

/* "DNS:a,IP:1.2.3.4,email:x@y,URI:u" (malloc'ed); NULL without SANs. */
static char *sans_text(GENERAL_NAMES *gens)
{
	BIO *mem;
	char ip[INET6_ADDRSTRLEN], *out = NULL, *data;
	long len;
	int i;

	if (gens == NULL || (mem = BIO_new(BIO_s_mem())) == NULL)
		return NULL;
	for (i = 0; i < sk_GENERAL_NAME_num(gens); i++) {
		GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
		const char *sep = i > 0 ? "," : "";
		ASN1_OCTET_STRING *o;

		switch (g->type) {
		case GEN_DNS:
			BIO_printf(mem, "%sDNS:%.*s", sep, g->d.dNSName->length, g->d.dNSName->data);
			break;
		case GEN_EMAIL:
			BIO_printf(mem, "%semail:%.*s", sep, g->d.rfc822Name->length,
			           g->d.rfc822Name->data);
			break;
		case GEN_URI:
			BIO_printf(mem, "%sURI:%.*s", sep, g->d.uniformResourceIdentifier->length,
			           g->d.uniformResourceIdentifier->data);
			break;
		case GEN_IPADD:
			o = g->d.iPAddress;
			if (o->length == 4 || o->length == 16) {
				inet_ntop(o->length == 4 ? AF_INET : AF_INET6, o->data, ip, sizeof(ip));
				BIO_printf(mem, "%sIP:%s", sep, ip);
			}
			break;
		default:
			BIO_printf(mem, "%sother", sep);
			break;
		}
	}
	len = BIO_get_mem_data(mem, &data);
	if (len > 0 && (out = malloc((size_t)len + 1)) != NULL) {
		memcpy(out, data, (size_t)len);
		out[len] = '\0';
	}
	BIO_free(mem);
	return out;
}

int ca_row_from_cert(X509 *x, struct ca_row *r)
{
	BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
	GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	unsigned char *der = NULL;
	char *hex = bn != NULL ? BN_bn2hex(bn) : NULL, *subject = NULL;
	int len, ok = 0;

	memset(r, 0, sizeof(*r));
	r->reason = -1;
	r->status = 'V';
	if (hex == NULL)
		goto out;
	if (strlen(hex) + strlen(hex) % 2 >= sizeof(r->serial) || hex[0] == '-') {
		tool_errorf("serial %.48s%s is negative or longer than 20 bytes (RFC 5280)", hex,
		            strlen(hex) > 48 ? "..." : "");
		OPENSSL_free(hex);
		BN_free(bn);
		GENERAL_NAMES_free(gens);
		return 0;
	}
	/* openssl ca writes an even number of digits */
	if (strlen(hex) % 2) {
		r->serial[0] = '0';
		memcpy(r->serial + 1, hex, strlen(hex) + 1);
	} else {
		memcpy(r->serial, hex, strlen(hex) + 1);
	}
	if ((subject = X509_NAME_oneline(X509_get_subject_name(x), NULL, 0)) == NULL ||
	    (r->subject = strdup(subject)) == NULL)
		goto out;
	r->sans = sans_text(gens);
	r->not_before = asn1_time(X509_get0_notBefore(x));
	r->not_after = asn1_time(X509_get0_notAfter(x));
	if ((len = i2d_X509(x, &der)) <= 0 || (r->der = malloc((size_t)len)) == NULL)
		goto out;
	memcpy(r->der, der, (size_t)len);
	r->der_len = (size_t)len;
	ok = 1;
out:
	OPENSSL_free(der);
	OPENSSL_free(subject);
	OPENSSL_free(hex);
	BN_free(bn);
	GENERAL_NAMES_free(gens);
	if (!ok) {
		ca_row_free(r);
		tool_errorf("out of memory");
	}
	return ok;
}

/* ------------------------------------------------------------------ */
/* CSR checks                                                          */
/* ------------------------------------------------------------------ */

/* A DNS name as certificates carry it; reports into @why. */
static int dns_ok(const unsigned char *s, int len, char *why, size_t cap)
{
	int i, label = 0;

	if (memchr(s, '*', (size_t)len) != NULL) {
		snprintf(why, cap, "wildcard name '%.*s' (refused: name every host)", len, s);
		return 0;
	}
	if (len == 0 || len > 253 || s[len - 1] == '.' || s[0] == '.') {
		snprintf(why, cap, "'%.*s' is not a valid DNS name", len > 256 ? 256 : len, s);
		return 0;
	}
	for (i = 0; i <= len; i++) {
		if (i == len || s[i] == '.') {
			if (label == 0 || label > 63 || s[i - 1] == '-' || s[i - label] == '-') {
				snprintf(why, cap, "'%.*s' is not a valid DNS name (bad label)", len, s);
				return 0;
			}
			label = 0;
			continue;
		}
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '-')) {
			snprintf(why, cap, "'%.*s' is not a valid DNS name", len, s);
			return 0;
		}
		label++;
	}
	return 1;
}

static int names_ok(const X509_NAME *subj, GENERAL_NAMES *gens, char *why, size_t cap)
{
	int i;

	for (i = 0; i < X509_NAME_entry_count(subj); i++) {
		ASN1_STRING *v = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subj, i));
		if (memchr(ASN1_STRING_get0_data(v), '*', (size_t)ASN1_STRING_length(v)) != NULL) {
			snprintf(why, cap, "wildcard in the subject (refused: name every host)");
			return 0;
		}
	}
	if (X509_NAME_entry_count(subj) == 0 && sk_GENERAL_NAME_num(gens) <= 0) {
		snprintf(why, cap, "neither a subject nor a subjectAltName");
		return 0;
	}
	for (i = 0; i < sk_GENERAL_NAME_num(gens); i++) {
		GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
		switch (g->type) {
		case GEN_DNS:
			if (!dns_ok(g->d.dNSName->data, g->d.dNSName->length, why, cap))
				return 0;
			break;
		case GEN_IPADD:
			if (g->d.iPAddress->length != 4 && g->d.iPAddress->length != 16) {
				snprintf(why, cap, "malformed IP address in subjectAltName");
				return 0;
			}
			break;
		case GEN_EMAIL:
			if (memchr(g->d.rfc822Name->data, '@', (size_t)g->d.rfc822Name->length) == NULL ||
			    memchr(g->d.rfc822Name->data, ',', (size_t)g->d.rfc822Name->length) != NULL) {
				snprintf(why, cap, "malformed email address in subjectAltName");
				return 0;
			}
			break;
		case GEN_URI:
			/* a comma would read as two names in the records and listings */
			if (memchr(g->d.uniformResourceIdentifier->data, ',',
			           (size_t)g->d.uniformResourceIdentifier->length) != NULL) {
				snprintf(why, cap, "a URI in subjectAltName holds a comma; p11ca does not "
				                   "issue it");
				return 0;
			}
			break;
		default:
			snprintf(why, cap, "a subjectAltName of a type p11ca does not issue (only "
			                   "DNS, IP, email, URI)");
			return 0;
		}
	}
	return 1;
}

static int key_ok(EVP_PKEY *pk, char *why, size_t cap)
{
	char group[64];
	int bits = EVP_PKEY_get_bits(pk);

	if (EVP_PKEY_is_a(pk, "RSA")) {
		if (bits < RSA_MIN_BITS || bits > RSA_MAX_BITS) {
			snprintf(why, cap,
			         "%d-bit RSA key refused (%d to %d bits; 8192-bit keys break SIP TLS "
			         "peers)",
			         bits, RSA_MIN_BITS, RSA_MAX_BITS);
			return 0;
		}
		return 1;
	}
	if (EVP_PKEY_is_a(pk, "EC")) {
		if (EVP_PKEY_get_utf8_string_param(pk, "group", group, sizeof(group), NULL) != 1 ||
		    (strcmp(group, "prime256v1") != 0 && strcmp(group, "secp384r1") != 0 &&
		     strcmp(group, "secp521r1") != 0)) {
			snprintf(why, cap, "EC key on a curve p11ca does not issue for (P-256, "
			                   "P-384, P-521)");
			return 0;
		}
		return 1;
	}
	if (EVP_PKEY_is_a(pk, "ED25519"))
		return 1;
	snprintf(why, cap, "key type %s refused (RSA, EC or Ed25519)", EVP_PKEY_get0_type_name(pk));
	return 0;
}

/* Appends @name to the comma list @buf. */
static void list_add(char *buf, size_t cap, const char *name)
{
	size_t n = strlen(buf);

	snprintf(buf + n, cap - n, "%s%s", n > 0 ? "," : "", name);
}

/*
 * keyUsage and extendedKeyUsage for the certificate: the CSR's when within
 * the profile, else the profile's.  @ku/@eku receive config text ("" for
 * none).
 */
static int usages(const STACK_OF(X509_EXTENSION) *exts, EVP_PKEY *pk,
                  const struct ca_issue_opts *o, char *ku, char *eku, size_t cap, char *why,
                  size_t whycap)
{
	const struct profile_rules *pr = &rules[o->profile];
	ASN1_BIT_STRING *bits = X509V3_get_d2i(exts, NID_key_usage, NULL, NULL);
	EXTENDED_KEY_USAGE *ext = X509V3_get_d2i(exts, NID_ext_key_usage, NULL, NULL);
	char extra[256] = "";
	size_t i;
	int j, ok = 0;

	snprintf(ku, cap, "critical");
	if (bits != NULL) {
		for (i = 0; i < sizeof(ku_names) / sizeof(ku_names[0]); i++) {
			if (!ASN1_BIT_STRING_get_bit(bits, (int)i))
				continue;
			if (!(pr->ku_allowed & KU(i)))
				list_add(extra, sizeof(extra), ku_names[i]);
			else
				list_add(ku, cap, ku_names[i]);
		}
		if (extra[0] != '\0') {
			snprintf(why, whycap, "keyUsage %s is not allowed for profile %s", extra,
			         ca_profile_name(o->profile));
			goto out;
		}
		/* what the key can do: encipherment is RSA's, agreement not EdDSA's */
		if (!EVP_PKEY_is_a(pk, "RSA") &&
		    (ASN1_BIT_STRING_get_bit(bits, KU_KE) || ASN1_BIT_STRING_get_bit(bits, KU_DE))) {
			snprintf(why, whycap, "keyUsage keyEncipherment/dataEncipherment for a %s key",
			         EVP_PKEY_get0_type_name(pk));
			goto out;
		}
		if (EVP_PKEY_is_a(pk, "ED25519") && ASN1_BIT_STRING_get_bit(bits, KU_KA)) {
			snprintf(why, whycap, "keyUsage keyAgreement for an Ed25519 key");
			goto out;
		}
		if (o->profile == CA_SUB_CA && !ASN1_BIT_STRING_get_bit(bits, KU_CERT)) {
			snprintf(why, whycap, "keyUsage without keyCertSign for profile sub-ca");
			goto out;
		}
	} else if (o->profile == CA_SUB_CA) {
		list_add(ku, cap, "digitalSignature,keyCertSign,cRLSign");
	} else {
		list_add(ku, cap, "digitalSignature");
		if (EVP_PKEY_is_a(pk, "RSA") && (pr->ku_allowed & KU(KU_KE)))
			list_add(ku, cap, "keyEncipherment");
	}
	eku[0] = '\0';
	if (ext != NULL) {
		for (j = 0; j < sk_ASN1_OBJECT_num(ext); j++) {
			int nid = OBJ_obj2nid(sk_ASN1_OBJECT_value(ext, j)), k, hit = 0;
			char oid[80];
			for (k = 0; pr->eku_allowed[k] != 0; k++)
				hit |= pr->eku_allowed[k] == nid;
			if (!hit) {
				if (nid != NID_undef)
					snprintf(oid, sizeof(oid), "%s", OBJ_nid2sn(nid));
				else
					OBJ_obj2txt(oid, sizeof(oid), sk_ASN1_OBJECT_value(ext, j), 1);
				list_add(extra, sizeof(extra), oid);
			} else {
				list_add(eku, cap, OBJ_nid2sn(nid));
			}
		}
		if (extra[0] != '\0') {
			snprintf(why, whycap, "extendedKeyUsage %s is not allowed for profile %s", extra,
			         ca_profile_name(o->profile));
			goto out;
		}
	} else if (pr->eku_default != NULL) {
		snprintf(eku, cap, "%s", pr->eku_default);
	}
	ok = 1;
out:
	ASN1_BIT_STRING_free(bits);
	EXTENDED_KEY_USAGE_free(ext);
	return ok;
}

/* What ca_req_load() settled, kept for the build. */
struct req_plan {
	char ku[256], eku[256];
	X509_EXTENSION *san; /* the CSR's, copied as is */
};

void ca_req_free(struct ca_req *r)
{
	ca_csr_free(&r->csr);
	X509_free(r->cert);
	if (r->plan != NULL) {
		X509_EXTENSION_free(r->plan->san);
		free(r->plan);
	}
	ca_row_free(&r->row);
	memset(r, 0, sizeof(*r));
}

int ca_req_load(struct ca *ca, const char *path, const struct ca_issue_opts *opts,
                struct ca_req *out)
{
	unsigned char *buf = NULL;
	size_t len = 0;
	GENERAL_NAMES *gens = NULL;
	BASIC_CONSTRAINTS *bc = NULL;
	struct req_plan *plan = NULL;
	const STACK_OF(X509_EXTENSION) *exts;
	char why[400] = "";
	int i, idx;

	memset(out, 0, sizeof(*out));
	out->path = path;
	if ((buf = tool_read_file(path, &len)) == NULL)
		return TOOL_EXIT_FAIL;
	if (!ca_csr_parse(ca->libctx, buf, len, &out->csr, why, sizeof(why)))
		goto bad;
	if (!key_ok(out->csr.pkey, why, sizeof(why)))
		goto bad;
	exts = out->csr.exts;
	gens = X509V3_get_d2i(exts, NID_subject_alt_name, NULL, NULL);
	if (!names_ok(out->csr.subject, gens, why, sizeof(why)))
		goto bad;
	bc = X509V3_get_d2i(exts, NID_basic_constraints, NULL, NULL);
	if (bc != NULL && bc->ca && opts->profile != CA_SUB_CA) {
		snprintf(why, sizeof(why), "it asks for CA:TRUE; only --profile sub-ca issues CA "
		                           "certificates");
		goto bad;
	}
	if ((plan = calloc(1, sizeof(*plan))) == NULL) {
		tool_errorf("out of memory");
		goto fail;
	}
	if (!usages(exts, out->csr.pkey, opts, plan->ku, plan->eku, sizeof(plan->ku), why,
	            sizeof(why)))
		goto bad;
	if ((idx = X509v3_get_ext_by_NID(exts, NID_subject_alt_name, -1)) >= 0 &&
	    (plan->san = X509_EXTENSION_dup(X509v3_get_ext(exts, idx))) == NULL) {
		tool_errorf("out of memory");
		goto fail;
	}
	/* with an empty subject the names are all in the SAN: critical (RFC 5280 4.2.1.6) */
	if (plan->san != NULL && X509_NAME_entry_count(out->csr.subject) == 0)
		X509_EXTENSION_set_critical(plan->san, 1);
	for (i = 0; opts->verbose && i < sk_X509_EXTENSION_num(exts); i++) {
		ASN1_OBJECT *obj = X509_EXTENSION_get_object(sk_X509_EXTENSION_value(exts, i));
		int nid = OBJ_obj2nid(obj);
		char oid[80];
		if (nid == NID_subject_alt_name || nid == NID_key_usage || nid == NID_ext_key_usage ||
		    nid == NID_basic_constraints)
			continue;
		OBJ_obj2txt(oid, sizeof(oid), obj, 0);
		tool_warnf("%s: extension %s in the CSR is not copied", path, oid);
	}
	out->plan = plan;
	free(buf);
	GENERAL_NAMES_free(gens);
	BASIC_CONSTRAINTS_free(bc);
	return TOOL_EXIT_OK;
bad:
	tool_errorf("%s: %s", path, why);
fail:
	ERR_clear_error();
	free(plan);
	free(buf);
	GENERAL_NAMES_free(gens);
	BASIC_CONSTRAINTS_free(bc);
	ca_csr_free(&out->csr);
	return TOOL_EXIT_FAIL;
}

/* ------------------------------------------------------------------ */
/* Issuing                                                             */
/* ------------------------------------------------------------------ */

/* Text of the URLs for the CRL DP / AIA extensions; 0 when none. */
static int crldp_text(const struct ca_conf *c, char *out, size_t cap)
{
	size_t i;

	out[0] = '\0';
	for (i = 0; c->crl_urls != NULL && c->crl_urls[i] != NULL; i++) {
		size_t n = strlen(out);
		snprintf(out + n, cap - n, "%sURI:%s", i > 0 ? "," : "", c->crl_urls[i]);
	}
	return out[0] != '\0';
}

static int aia_text(const struct ca_conf *c, char *out, size_t cap)
{
	out[0] = '\0';
	if (c->ocsp_url != NULL)
		snprintf(out, cap, "OCSP;URI:%s", c->ocsp_url);
	if (c->ca_issuers_url != NULL) {
		size_t n = strlen(out);
		snprintf(out + n, cap - n, "%scaIssuers;URI:%s", n > 0 ? "," : "", c->ca_issuers_url);
	}
	return out[0] != '\0';
}

/*
 * authorityKeyIdentifier: the CA's subject key identifier, or (a CA
 * certificate from elsewhere may have none) the SHA-1 of its public key,
 * as RFC 5280 section 4.2.1.2 suggests.
 */
static X509_EXTENSION *make_aki(X509 *cacert)
{
	const ASN1_OCTET_STRING *skid = X509_get0_subject_key_id(cacert);
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	AUTHORITY_KEYID *akid;
	X509_EXTENSION *ext = NULL;
	int ok = 0;

	if ((akid = AUTHORITY_KEYID_new()) == NULL || (akid->keyid = ASN1_OCTET_STRING_new()) == NULL)
		goto out;
	if (skid != NULL)
		ok = ASN1_OCTET_STRING_set(akid->keyid, skid->data, skid->length);
	else
		ok = X509_pubkey_digest(cacert, EVP_sha1(), md, &mdlen) &&
		     ASN1_OCTET_STRING_set(akid->keyid, md, (int)mdlen);
	if (ok)
		ext = X509V3_EXT_i2d(NID_authority_key_identifier, 0, akid);
out:
	AUTHORITY_KEYID_free(akid);
	return ext;
}

/*
 * What every certificate of a batch carries alike, made once rather than
 * parsed from text for each: basic constraints, AKI, OCSP no-check, CRL
 * distribution points, AIA; and the end of the CA's own validity.
 */
struct batch_exts {
	X509_EXTENSION *bc, *aki, *nocheck, *crldp, *aia;
	int64_t ca_end;
};

static void batch_exts_free(struct batch_exts *b)
{
	X509_EXTENSION_free(b->bc);
	X509_EXTENSION_free(b->aki);
	X509_EXTENSION_free(b->nocheck);
	X509_EXTENSION_free(b->crldp);
	X509_EXTENSION_free(b->aia);
	memset(b, 0, sizeof(*b));
}

static int batch_exts_make(struct ca *ca, const struct ca_issue_opts *o, struct batch_exts *b)
{
	char text[2048];

	memset(b, 0, sizeof(*b));
	b->ca_end = asn1_time(X509_get0_notAfter(ca->cert));
	if (o->profile == CA_SUB_CA)
		snprintf(text, sizeof(text), "critical,CA:TRUE,pathlen:%d", o->pathlen);
	else
		snprintf(text, sizeof(text), "critical,CA:FALSE");
	if ((b->bc = X509V3_EXT_conf_nid(NULL, NULL, NID_basic_constraints, text)) == NULL ||
	    (b->aki = make_aki(ca->cert)) == NULL ||
	    (o->profile == CA_OCSP &&
	     (b->nocheck = X509V3_EXT_conf_nid(NULL, NULL, NID_id_pkix_OCSP_noCheck, "ignored")) ==
	             NULL) ||
	    (crldp_text(&ca->conf, text, sizeof(text)) &&
	     (b->crldp = X509V3_EXT_conf_nid(NULL, NULL, NID_crl_distribution_points, text)) == NULL) ||
	    (aia_text(&ca->conf, text, sizeof(text)) &&
	     (b->aia = X509V3_EXT_conf_nid(NULL, NULL, NID_info_access, text)) == NULL)) {
		tool_ossl_fail("the extensions of ca.conf");
		batch_exts_free(b);
		return 0;
	}
	return 1;
}

/* Builds and signs the certificate for @r with a fresh serial. */
static X509 *issue_one(struct ca *ca, struct ca_req *r, const struct ca_issue_opts *o,
                       const struct batch_exts *b)
{
	const struct req_plan *plan = r->plan;
	unsigned char serial[CA_SERIAL_BYTES];
	time_t now = time(NULL), na;
	X509 *x = NULL;

	na = now + (time_t)o->days * 86400;
	if (b->ca_end != 0 && (int64_t)na > b->ca_end)
		na = (time_t)b->ca_end;
	if (!ca_random_serial(ca->libctx, serial) ||
	    (x = ca_build_cert(ca->libctx, ca->cert, r->csr.subject, &r->csr, NULL, serial,
	                       sizeof(serial), now, na)) == NULL)
		goto fail;
	/* X509_add_ext copies: the shared extensions are only read */
	if (!X509_add_ext(x, b->bc, -1) || !ca_add_ext(x, ca->cert, NID_key_usage, plan->ku) ||
	    (plan->eku[0] != '\0' && !ca_add_ext(x, ca->cert, NID_ext_key_usage, plan->eku)) ||
	    (plan->san != NULL && !X509_add_ext(x, plan->san, -1)) ||
	    !ca_add_ext(x, ca->cert, NID_subject_key_identifier, "hash") ||
	    !X509_add_ext(x, b->aki, -1) || (b->nocheck != NULL && !X509_add_ext(x, b->nocheck, -1)) ||
	    (b->crldp != NULL && !X509_add_ext(x, b->crldp, -1)) ||
	    (b->aia != NULL && !X509_add_ext(x, b->aia, -1))) {
		tool_ossl_fail("the certificate's extensions");
		goto fail;
	}
	if (!ca_sign_cert(ca->libctx, x, ca->key, o->md))
		goto fail;
	return x;
fail:
	X509_free(x);
	return NULL;
}

/*
 * Runs @fn for indices 0..@n-1 on up to @threads threads (the caller's
 * among them).  With @stop, the first failure ends the run.  Returns the
 * number of failed calls.
 */
struct parallel {
	size_t n, next, failed;
	int stop;
	int (*fn)(size_t i, void *arg);
	void *arg;
	pthread_mutex_t lock;
};

static void *parallel_worker(void *p)
{
	struct parallel *r = p;
	size_t i;

	for (;;) {
		pthread_mutex_lock(&r->lock);
		i = r->stop && r->failed > 0 ? r->n : r->next++;
		pthread_mutex_unlock(&r->lock);
		if (i >= r->n)
			break;
		if (r->fn(i, r->arg) != TOOL_EXIT_OK) {
			pthread_mutex_lock(&r->lock);
			r->failed++;
			pthread_mutex_unlock(&r->lock);
		}
	}
	ERR_clear_error();
	return NULL;
}

static size_t run_parallel(size_t n, int threads, int stop, int (*fn)(size_t, void *), void *arg)
{
	struct parallel r = { n, 0, 0, stop, fn, arg, PTHREAD_MUTEX_INITIALIZER };
	pthread_t tids[64];
	size_t nthreads = (size_t)(threads > 0 ? threads : 1), started = 0, i;

	if (nthreads > n)
		nthreads = n;
	if (nthreads > sizeof(tids) / sizeof(tids[0]))
		nthreads = sizeof(tids) / sizeof(tids[0]);
	for (i = 1; i < nthreads; i++) {
		if (pthread_create(&tids[started], NULL, parallel_worker, &r) != 0)
			break;
		started++;
	}
	parallel_worker(&r);
	for (i = 0; i < started; i++)
		pthread_join(tids[i], NULL);
	pthread_mutex_destroy(&r.lock);
	return r.failed;
}

struct load_job {
	struct ca *ca;
	char **paths;
	const struct ca_issue_opts *opts;
	struct ca_req *reqs;
};

static int load_one(size_t i, void *arg)
{
	struct load_job *j = arg;

	return ca_req_load(j->ca, j->paths[i], j->opts, &j->reqs[i]);
}

/* ca_req_load() for each of @paths, in parallel; returns how many failed. */
static size_t ca_req_load_all(struct ca *ca, char **paths, size_t n,
                              const struct ca_issue_opts *opts, struct ca_req *reqs)
{
	struct load_job j = { ca, paths, opts, reqs };

	return run_parallel(n, opts->threads, 0, load_one, &j);
}

static int record_of(struct ca_req *r, const struct ca_issue_opts *o);

struct issue_job {
	struct ca *ca;
	struct ca_req *reqs;
	const struct ca_issue_opts *opts;
	const struct batch_exts *exts;
};

static int issue_job_one(size_t i, void *arg)
{
	struct issue_job *j = arg;

	j->reqs[i].cert = issue_one(j->ca, &j->reqs[i], j->opts, j->exts);
	return j->reqs[i].cert != NULL && record_of(&j->reqs[i], j->opts) ? TOOL_EXIT_OK :
	                                                                       TOOL_EXIT_FAIL;
}

void ca_out_paths(const struct ca_issue_opts *o, const char *serial, char *tmp, char *final,
                  size_t cap)
{
	const char *ext = o->der ? "der" : "pem";

	snprintf(final, cap, "%s/%s.%s", o->out_dir, serial, ext);
	snprintf(tmp, cap, "%s/%s.%s.tmp.%ld", o->out_dir, serial, ext, o->tmp_tag);
}

/*
 * The certificate as opts->out_dir/SERIAL.pem (or .der): a temporary file
 * renamed into place, not synced (the database is the durable record).
 */
static int write_out(const struct ca_issue_opts *o, const struct ca_row *r)
{
	char tmp[4096], final[4096], *data;
	BIO *mem = NULL;
	long len;
	int fd, ok;

	ca_out_paths(o, r->serial, tmp, final, sizeof(tmp));
	if (o->der) {
		data = (char *)r->der;
		len = (long)r->der_len;
	} else {
		if ((mem = BIO_new(BIO_s_mem())) == NULL ||
		    !PEM_write_bio(mem, PEM_STRING_X509, "", r->der, (long)r->der_len)) {
			BIO_free(mem);
			tool_errorf("out of memory");
			return 0;
		}
		len = BIO_get_mem_data(mem, &data);
	}
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0) {
		tool_errorf("cannot write %s: %s", tmp, strerror(errno));
		BIO_free(mem);
		return 0;
	}
	ok = write(fd, data, (size_t)len) == (ssize_t)len;
	if (close(fd) != 0)
		ok = 0;
	if (ok && rename(tmp, final) != 0)
		ok = 0;
	if (!ok) {
		tool_errorf("cannot write %s: %s", final, strerror(errno));
		(void)unlink(tmp);
	}
	BIO_free(mem);
	return ok;
}

struct out_job {
	const struct ca_issue_opts *opts;
	struct ca_req *reqs;
};

static int out_one(size_t i, void *arg)
{
	struct out_job *j = arg;

	return write_out(j->opts, &j->reqs[i].row) ? TOOL_EXIT_OK : TOOL_EXIT_FAIL;
}

size_t ca_write_out_dir(const struct ca_issue_opts *opts, struct ca_req *reqs, size_t n)
{
	struct out_job j = { opts, reqs };

	/* file creation is the slow part on some file systems: in parallel */
	return run_parallel(n, opts->threads, 0, out_one, &j);
}

/* Fills r->row from r->cert. */
static int record_of(struct ca_req *r, const struct ca_issue_opts *o)
{
	ca_row_free(&r->row);
	if (!ca_row_from_cert(r->cert, &r->row))
		return 0;
	r->row.issued_at = (int64_t)time(NULL);
	if ((r->row.profile = strdup(ca_profile_name(o->profile))) == NULL) {
		tool_errorf("out of memory");
		return 0;
	}
	return 1;
}

int ca_issue_batch(struct ca *ca, char **paths, size_t n, const struct ca_issue_opts *opts,
                   struct ca_req *reqs)
{
	struct batch_exts exts;
	struct issue_job j = { ca, reqs, opts, &exts };
	size_t i, bad = 0;
	int rc, attempt, ret = TOOL_EXIT_FAIL, in_tx = 0;

	if (!batch_exts_make(ca, opts, &exts))
		return TOOL_EXIT_FAIL;

	/*
	 * Checked and signed by threads: with the requests taken apart by
	 * ca-csr.c (no decoder chains), OpenSSL's shared locks no longer
	 * serialise them, and one login serves all.
	 */
	if ((bad = ca_req_load_all(ca, paths, n, opts, reqs)) > 0) {
		if (n > 1)
			tool_errorf("%zu of %zu CSRs refused; nothing issued", bad, n);
		goto out;
	}
	if (run_parallel(n, opts->threads, 1, issue_job_one, &j) > 0)
		goto out;
	if (ca_db_begin(ca->db) != TOOL_EXIT_OK)
		goto out;
	in_tx = 1;
	for (i = 0; i < n; i++) {
		for (attempt = 0;
		     (rc = ca_db_insert(ca->db, &reqs[i].row)) == 1 && attempt < SERIAL_RETRIES;
		     attempt++) {
			/* taken by another certificate: draw again and sign again */
			X509_free(reqs[i].cert);
			reqs[i].cert = NULL;
			if ((reqs[i].cert = issue_one(ca, &reqs[i], opts, &exts)) == NULL ||
			    !record_of(&reqs[i], opts))
				goto out;
		}
		if (rc != 0) {
			if (rc == 1)
				tool_errorf("no free serial after %d draws", SERIAL_RETRIES);
			goto out;
		}
	}
	if (ca_db_commit(ca->db) != TOOL_EXIT_OK)
		goto out;
	in_tx = 0;
	ret = TOOL_EXIT_OK;
out:
	if (in_tx)
		ca_db_rollback(ca->db);
	batch_exts_free(&exts);
	return ret;
}

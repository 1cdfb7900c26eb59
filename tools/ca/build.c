/*
 * build.c - certificates built and signed: random serials, the subject's
 * key copied as it is, the extensions a batch shares made once, the
 * signature on the token, and a record's fields from a certificate.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "ca-int.h"
#include "result.h"

int ca_random_serial(OSSL_LIB_CTX *libctx, unsigned char *out)
{
	if (RAND_bytes_ex(libctx, out, CA_SERIAL_BYTES, 0) != 1)
		return res_ossl(RES_CRYPTO, "no random serial: the random generator failed");
	/* positive, and always CA_SERIAL_BYTES long in DER: 126 random bits */
	out[0] = (unsigned char)((out[0] & 0x3f) | 0x40);
	return RES_OK;
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

int ca_build_cert(OSSL_LIB_CTX *libctx, X509 *issuer, const X509_NAME *subject,
                  const struct ca_csr *spki, EVP_PKEY *pubkey, const unsigned char *serial,
                  size_t serial_len, time_t not_before, time_t not_after, X509 **px)
{
	X509 *x = X509_new_ex(libctx, NULL);
	BIGNUM *bn = NULL;
	ASN1_INTEGER *sn = NULL;
	int ok = 0;

	*px = NULL;
	if (x == NULL || (bn = BN_bin2bn(serial, (int)serial_len, NULL)) == NULL ||
	    (sn = BN_to_ASN1_INTEGER(bn, NULL)) == NULL)
		goto out;
	if (!X509_set_version(x, X509_VERSION_3) || !X509_set_serialNumber(x, sn) ||
	    !X509_set_subject_name(x, subject) ||
	    !X509_set_issuer_name(x, issuer != NULL ? X509_get_subject_name(issuer) : subject) ||
	    !set_time(X509_getm_notBefore, x, not_before) ||
	    !set_time(X509_getm_notAfter, x, not_after) ||
	    !(spki != NULL ? copy_spki(x, spki) : X509_set_pubkey(x, pubkey)))
		goto out;
	ok = 1;
out:
	BN_free(bn);
	ASN1_INTEGER_free(sn);
	if (!ok) {
		X509_free(x);
		return res_ossl(RES_CRYPTO, "building the certificate");
	}
	*px = x;
	return RES_OK;
}

int ca_add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX v3;
	X509_EXTENSION *ext;
	int ok;

	X509V3_set_ctx(&v3, issuer != NULL ? issuer : x, x, NULL, NULL, 0);
	if ((ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value)) == NULL)
		return res_ossl(RES_CRYPTO, "%s", OBJ_nid2ln(nid));
	ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return ok ? RES_OK : res_ossl(RES_CRYPTO, "%s", OBJ_nid2ln(nid));
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
	return ok ? RES_OK : res_ossl(RES_TOKEN, "signing on the token");
}

int ca_row_from_cert(X509 *x, struct cadb_row *r)
{
	unsigned char *der = NULL;
	char **sans = NULL;
	size_t nsans = 0;
	int len, rc;

	memset(r, 0, sizeof(*r));
	r->reason = -1;
	r->status = 'V';
	if ((rc = pki_serial_of(X509_get0_serialNumber(x), r->serial)) != RES_OK ||
	    (rc = pki_name_oneline(X509_get_subject_name(x), &r->subject)) != RES_OK ||
	    (rc = pki_cert_sans(x, &sans, &nsans)) != RES_OK)
		goto fail;
	r->sans = sans;
	r->nsans = nsans;
	r->not_before = pki_asn1_time_get(X509_get0_notBefore(x));
	r->not_after = pki_asn1_time_get(X509_get0_notAfter(x));
	if ((len = i2d_X509(x, &der)) <= 0 || (r->der = malloc((size_t)len)) == NULL) {
		OPENSSL_free(der);
		rc = res_set(RES_NOMEM, "out of memory");
		goto fail;
	}
	memcpy(r->der, der, (size_t)len);
	r->der_len = (size_t)len;
	OPENSSL_free(der);
	return RES_OK;
fail:
	cadb_row_free(r);
	return rc;
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

	if ((akid = AUTHORITY_KEYID_new()) == NULL ||
	    (akid->keyid = ASN1_OCTET_STRING_new()) == NULL)
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
		snprintf(out + n, cap - n, "%scaIssuers;URI:%s", n > 0 ? "," : "",
		         c->ca_issuers_url);
	}
	return out[0] != '\0';
}

void ca_batch_exts_free(struct ca_batch_exts *b)
{
	X509_EXTENSION_free(b->bc);
	X509_EXTENSION_free(b->aki);
	X509_EXTENSION_free(b->nocheck);
	X509_EXTENSION_free(b->crldp);
	X509_EXTENSION_free(b->aia);
	memset(b, 0, sizeof(*b));
}

int ca_batch_exts_make(struct ca *ca, const struct ca_issue_opts *o, struct ca_batch_exts *b)
{
	char text[2048];

	memset(b, 0, sizeof(*b));
	b->ca_end = pki_asn1_time_get(X509_get0_notAfter(ca->cert));
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
	     (b->crldp = X509V3_EXT_conf_nid(NULL, NULL, NID_crl_distribution_points, text)) ==
	         NULL) ||
	    (aia_text(&ca->conf, text, sizeof(text)) &&
	     (b->aia = X509V3_EXT_conf_nid(NULL, NULL, NID_info_access, text)) == NULL)) {
		ca_batch_exts_free(b);
		return res_ossl(RES_BAD_INPUT, "the extensions of ca.conf");
	}
	return RES_OK;
}

int ca_issue_one(struct ca *ca, struct ca_req *r, const struct ca_issue_opts *o,
                 const struct ca_batch_exts *b)
{
	const struct ca_plan *plan = r->plan;
	unsigned char serial[CA_SERIAL_BYTES];
	time_t now = time(NULL), na;
	X509 *x = NULL;
	int rc;

	X509_free(r->cert);
	r->cert = NULL;
	na = now + (time_t)o->days * 86400;
	r->cut = b->ca_end != 0 && (int64_t)na > b->ca_end;
	if (r->cut)
		na = (time_t)b->ca_end;
	if ((rc = ca_random_serial(ca->libctx, serial)) != RES_OK ||
	    (rc = ca_build_cert(ca->libctx, ca->cert, r->parsed.subject, &r->parsed, NULL, serial,
	                        sizeof(serial), now, na, &x)) != RES_OK)
		goto fail;
	/* X509_add_ext copies: the shared extensions are only read */
	if (!X509_add_ext(x, b->bc, -1) ||
	    (rc = ca_add_ext(x, ca->cert, NID_key_usage, plan->ku)) != RES_OK ||
	    (plan->eku[0] != '\0' &&
	     (rc = ca_add_ext(x, ca->cert, NID_ext_key_usage, plan->eku)) != RES_OK) ||
	    (plan->san != NULL && !X509_add_ext(x, plan->san, -1)) ||
	    (rc = ca_add_ext(x, ca->cert, NID_subject_key_identifier, "hash")) != RES_OK ||
	    !X509_add_ext(x, b->aki, -1) ||
	    (b->nocheck != NULL && !X509_add_ext(x, b->nocheck, -1)) ||
	    (b->crldp != NULL && !X509_add_ext(x, b->crldp, -1)) ||
	    (b->aia != NULL && !X509_add_ext(x, b->aia, -1))) {
		if (rc == RES_OK)
			rc = res_ossl(RES_CRYPTO, "the certificate's extensions");
		goto fail;
	}
	if ((rc = ca_sign_cert(ca->libctx, x, ca->key, o->md)) != RES_OK)
		goto fail;
	r->cert = x;
	return RES_OK;
fail:
	X509_free(x);
	return rc;
}

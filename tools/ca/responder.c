/*
 * responder.c - the delegated OCSP responder: a key of its own on the
 * token with a certificate of profile ocsp that the CA key signs
 * (id-kp-OCSPSigning, id-pkix-ocsp-nocheck), so that the CA key signs
 * certificates and CRLs only and `p11ca serve` signs responses with the
 * responder key (RFC 6960 section 4.2.2.2).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "ca-int.h"
#include "p11ca.h"
#include "readfile.h"
#include "result.h"

/* The responder certificate's file is small; more is not a certificate. */
#define RESPONDER_CERT_MAX (1024 * 1024)
/* Backdating of notBefore, for clocks a little behind. */
#define RESPONDER_BACKDATE 60
/* Serials drawn again when one is taken. */
#define SERIAL_RETRIES 3
/* ub-common-name (RFC 5280): 64 characters. */
#define CN_MAX 64

static const char cn_suffix[] = " OCSP Responder";

/*
 * The responder's subject: the CA's, its commonName(s) replaced by one
 * "<the CA's last CN> OCSP Responder" (the CA's CN cut, at a UTF-8
 * character boundary, so that the whole fits in 64 bytes).
 */
static int responder_subject(X509 *cacert, X509_NAME **pname)
{
	const X509_NAME *casub = X509_get_subject_name(cacert);
	unsigned char *cn = NULL;
	char text[CN_MAX + 1];
	X509_NAME *name = NULL;
	int i, len = 0, rc = RES_NOMEM;
	size_t keep = 0;

	*pname = NULL;
	if ((i = X509_NAME_get_index_by_NID(casub, NID_commonName, -1)) >= 0) {
		int last = i;
		while ((i = X509_NAME_get_index_by_NID(casub, NID_commonName, last)) >= 0)
			last = i;
		len = ASN1_STRING_to_UTF8(
		    &cn, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(casub, last)));
		if (len < 0) {
			rc = res_ossl(RES_BAD_INPUT, "the CA's commonName");
			goto out;
		}
	}
	keep = (size_t)len;
	if (keep > CN_MAX - (sizeof(cn_suffix) - 1)) {
		keep = CN_MAX - (sizeof(cn_suffix) - 1);
		while (keep > 0 && (cn[keep] & 0xc0) == 0x80)
			keep--;
	}
	if (keep > 0)
		memcpy(text, cn, keep);
	/* no CN in the CA's name: "OCSP Responder" */
	snprintf(text + keep, sizeof(text) - keep, "%s", keep > 0 ? cn_suffix : cn_suffix + 1);
	if ((name = X509_NAME_dup(casub)) == NULL)
		goto out;
	while ((i = X509_NAME_get_index_by_NID(name, NID_commonName, -1)) >= 0)
		X509_NAME_ENTRY_free(X509_NAME_delete_entry(name, i));
	if (!X509_NAME_add_entry_by_NID(name, NID_commonName, MBSTRING_UTF8,
	                                (const unsigned char *)text, -1, -1, 0)) {
		rc = res_ossl(RES_CRYPTO, "the responder's subject");
		goto out;
	}
	*pname = name;
	name = NULL;
	rc = RES_OK;
out:
	if (rc == RES_NOMEM)
		res_set(rc, "out of memory");
	OPENSSL_free(cn);
	X509_NAME_free(name);
	return rc;
}

/* Builds and signs the responder certificate for @rkey with a fresh serial. */
static int build(struct ca *ca, EVP_PKEY *rkey, const X509_NAME *subject, long days,
                 const struct ca_batch_exts *b, X509 **px)
{
	unsigned char serial[CA_SERIAL_BYTES];
	char ku[256], eku[256];
	time_t now = time(NULL), nb, na;
	X509 *x = NULL;
	int rc;

	*px = NULL;
	nb = now - RESPONDER_BACKDATE;
	na = now + (time_t)days * 86400;
	if (b->ca_end != 0 && (int64_t)na > b->ca_end)
		na = (time_t)b->ca_end;
	if ((rc = ca_profile_usages(CA_OCSP, NULL, NULL, rkey, ku, eku, sizeof(ku))) != RES_OK ||
	    (rc = ca_random_serial(ca->libctx, serial)) != RES_OK ||
	    (rc = ca_build_cert(ca->libctx, ca->cert, subject, NULL, rkey, serial, sizeof(serial),
	                        nb, na, &x)) != RES_OK)
		goto fail;
	/*
	 * No CRL distribution point and no AIA: ocsp-nocheck tells clients not
	 * to ask about the responder's own certificate, which lives for days
	 */
	if (!X509_add_ext(x, b->bc, -1) ||
	    (rc = ca_add_ext(x, ca->cert, NID_key_usage, ku)) != RES_OK ||
	    (rc = ca_add_ext(x, ca->cert, NID_ext_key_usage, eku)) != RES_OK ||
	    (rc = ca_add_ext(x, ca->cert, NID_subject_key_identifier, "hash")) != RES_OK ||
	    !X509_add_ext(x, b->aki, -1) || !X509_add_ext(x, b->nocheck, -1)) {
		if (rc == RES_OK)
			rc = res_ossl(RES_CRYPTO, "the responder certificate's extensions");
		goto fail;
	}
	if ((rc = ca_sign_cert(ca->libctx, x, ca->key, ca->conf.default_md)) != RES_OK)
		goto fail;
	*px = x;
	return RES_OK;
fail:
	X509_free(x);
	return rc;
}

/* The record of @x (profile ocsp). */
static int record_of(X509 *x, struct cadb_row *row)
{
	int rc;

	if ((rc = ca_row_from_cert(x, row)) != RES_OK)
		return rc;
	row->issued_at = (int64_t)time(NULL);
	if ((row->profile = strdup(ca_profile_name(CA_OCSP))) == NULL) {
		cadb_row_free(row);
		return res_set(RES_NOMEM, "out of memory");
	}
	return RES_OK;
}

int ca_responder_issue(struct ca *ca, EVP_PKEY *rkey, long days, X509 **px)
{
	struct ca_issue_opts o = { .profile = CA_OCSP };
	struct ca_batch_exts b = { 0 };
	struct cadb_row row = { 0 };
	X509_NAME *subject = NULL;
	X509 *x = NULL;
	int rc, attempt, began = 0;

	*px = NULL;
	if (ca->key == NULL || ca->cert == NULL || ca->libctx == NULL)
		return res_set(RES_FAIL, "the CA must be opened with its key and certificate");
	if (days < 1 || days > CA_OCSP_DAYS_MAX)
		return res_set(RES_BAD_INPUT, "a responder certificate lives 1 to %d days, not %ld",
		               CA_OCSP_DAYS_MAX, days);
	if (ca_key_matches(rkey, ca->cert))
		return res_set(RES_POLICY, "the responder key is the CA key: a delegated responder "
		                           "needs a key of its own");
	if ((rc = ca_md_ok(ca->conf.default_md)) != RES_OK ||
	    (rc = responder_subject(ca->cert, &subject)) != RES_OK ||
	    (rc = ca_batch_exts_make(ca, &o, &b)) != RES_OK)
		goto out;
	if ((rc = build(ca, rkey, subject, days, &b, &x)) != RES_OK ||
	    (rc = record_of(x, &row)) != RES_OK)
		goto out;
	if ((rc = cadb_begin(ca->db)) != RES_OK)
		goto out;
	began = 1;
	for (attempt = 0; (rc = cadb_insert(ca->db, &row)) == RES_TAKEN && attempt < SERIAL_RETRIES;
	     attempt++) {
		/* the serial is another certificate's: draw again, sign again */
		X509_free(x);
		x = NULL;
		cadb_row_free(&row);
		if ((rc = build(ca, rkey, subject, days, &b, &x)) != RES_OK ||
		    (rc = record_of(x, &row)) != RES_OK)
			goto out;
	}
	if (rc == RES_TAKEN)
		rc = res_set(RES_DB, "no free serial after %d draws", SERIAL_RETRIES);
	if (rc != RES_OK || (rc = cadb_commit(ca->db)) != RES_OK)
		goto out;
	began = 0;
	*px = x;
	x = NULL;
out:
	if (began)
		cadb_rollback(ca->db);
	cadb_row_free(&row);
	X509_free(x);
	X509_NAME_free(subject);
	ca_batch_exts_free(&b);
	return rc;
}

/* RES_OK when @x is a responder certificate @ca issued: its issuer, its signature, OCSPSigning. */
static int check_cert(struct ca *ca, X509 *x)
{
	const char *path = ca->conf.ocsp_cert;
	EVP_PKEY *capub = X509_get0_pubkey(ca->cert);

	if (X509_check_issued(ca->cert, x) != X509_V_OK || capub == NULL ||
	    X509_verify(x, capub) != 1) {
		ERR_clear_error();
		return res_set(RES_POLICY, "%s: not a certificate of this CA (%s)", path,
		               ca->conf.cert);
	}
	if (!(X509_get_extension_flags(x) & EXFLAG_XKUSAGE) ||
	    !(X509_get_extended_key_usage(x) & XKU_OCSP_SIGN))
		return res_set(RES_POLICY, "%s: not an OCSP responder certificate (no OCSPSigning)",
		               path);
	return RES_OK;
}

int ca_responder_load(struct ca *ca, EVP_PKEY **pkey, X509 **pcert)
{
	unsigned char *buf = NULL;
	EVP_PKEY *key = NULL;
	X509 *x = NULL;
	size_t len = 0;
	char shown[512];
	int rc;

	*pkey = NULL;
	*pcert = NULL;
	if (ca->conf.ocsp_key == NULL || ca->conf.ocsp_cert == NULL)
		return res_set(RES_NOT_FOUND, "%s/ca.conf: no OCSP responder (ocsp_key, ocsp_cert)",
		               ca->conf.dir);
	if (ca->cert == NULL || ca->libctx == NULL)
		return res_set(RES_FAIL, "the CA must be opened with its key and certificate");
	if ((rc = res_read_regular(ca->conf.ocsp_cert, RESPONDER_CERT_MAX, &buf, &len)) != RES_OK)
		goto out;
	if ((rc = pki_load_cert(buf, len, &x)) != RES_OK) {
		res_prefix(rc, "%s", ca->conf.ocsp_cert);
		goto out;
	}
	if ((rc = check_cert(ca, x)) != RES_OK)
		goto out;
	if ((rc = pki_load_key(ca->libctx, ca->conf.ocsp_key, &key)) != RES_OK)
		goto out;
	if (!ca_key_matches(key, x)) {
		rc = res_set(RES_POLICY, "the OCSP responder key %s is not the key of %s",
		             p11ca_uri_redact(ca->conf.ocsp_key, shown, sizeof(shown)),
		             ca->conf.ocsp_cert);
		goto out;
	}
	*pkey = key;
	*pcert = x;
	key = NULL;
	x = NULL;
out:
	free(buf);
	EVP_PKEY_free(key);
	X509_free(x);
	return rc;
}

/*
 * cmd-cert-formats.c - the other things 'cert show' and 'cert convert'
 * take besides certificates: a CSR or a CRL, PEM or DER, detected (the
 * deployment guide hands DER CSRs around; a CRL for a distribution point is
 * DER).  Decoded through tools/pki/load.c.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "ca.h"
#include "cmd-cert.h"
#include "result.h"

/* Whether the PEM in @buf holds a block "-----BEGIN @label-----". */
static int has_block(const unsigned char *buf, size_t len, const char *label)
{
	char line[96];
	size_t n = (size_t)snprintf(line, sizeof(line), "-----BEGIN %s-----", label);

	for (size_t i = 0; i + n <= len; i++)
		if (buf[i] == '-' && memcmp(buf + i, line, n) == 0)
			return 1;
	return 0;
}

int cert_file_read(const char *path, struct cert_file *f)
{
	unsigned char *buf;
	size_t len;
	int rc = RES_BAD_INPUT, pem;

	memset(f, 0, sizeof(*f));
	if ((buf = tool_read_file(path, &len)) == NULL)
		return 0; /* reported */
	pem = pki_is_pem(buf, len);
	f->pem = pem;
	if (pem &&
	    (has_block(buf, len, "CERTIFICATE REQUEST") ||
	     has_block(buf, len, "NEW CERTIFICATE REQUEST")) &&
	    !has_block(buf, len, "CERTIFICATE")) {
		f->kind = CERT_KIND_CSR;
		rc = pki_load_csr(NULL, buf, len, &f->csr);
	} else if (pem && has_block(buf, len, "X509 CRL") && !has_block(buf, len, "CERTIFICATE")) {
		f->kind = CERT_KIND_CRL;
		rc = pki_load_crl(buf, len, &f->crl);
	} else if (pem) {
		rc = pki_load_certs(buf, len, &f->certs, &f->pem);
	} else {
		/* DER: a certificate, else a CRL, else a CSR; the certificate's error if none */
		if ((rc = pki_load_certs(buf, len, &f->certs, &f->pem)) != RES_OK) {
			char why[512];
			snprintf(why, sizeof(why), "%s", res_message());
			if (pki_load_crl(buf, len, &f->crl) == RES_OK) {
				f->kind = CERT_KIND_CRL;
				rc = RES_OK;
			} else if (pki_load_csr(NULL, buf, len, &f->csr) == RES_OK) {
				f->kind = CERT_KIND_CSR;
				rc = RES_OK;
			} else
				rc = res_set(RES_BAD_INPUT,
				             "%s (nor a DER certificate request or CRL)", why);
		}
	}
	free(buf);
	if (rc != RES_OK) {
		tool_errorf("%s: %s", path, res_message());
		return 0;
	}
	return 1;
}

void cert_file_free(struct cert_file *f)
{
	sk_X509_pop_free(f->certs, X509_free);
	X509_REQ_free(f->csr);
	X509_CRL_free(f->crl);
	memset(f, 0, sizeof(*f));
}

/* Sets @key of @obj to @v (taken); 0 when out of memory. */
static int put(json_t *obj, const char *key, json_t *v)
{
	return v != NULL && json_object_set_new(obj, key, v) == 0;
}

static int append(json_t *a, json_t *v)
{
	return v != NULL && json_array_append_new(a, v) == 0;
}

static int print_json(json_t *o)
{
	int ok = o != NULL && json_dumpf(o, stdout, JSON_INDENT(2)) == 0 && putchar('\n') != EOF;

	json_decref(o);
	if (!ok)
		tool_errorf("out of memory");
	return ok && fflush(stdout) == 0 ? TOOL_EXIT_OK : TOOL_EXIT_FAIL;
}

static void name_text(const X509_NAME *n, char *out, size_t cap)
{
	char *s = NULL;

	snprintf(out, cap, "%s", pki_name_oneline(n, &s) == RES_OK ? s : "?");
	free(s);
}

static const char *sigalg_text(const X509_ALGOR *alg)
{
	const ASN1_OBJECT *oid = NULL;

	X509_ALGOR_get0(&oid, NULL, NULL, alg);
	return oid != NULL ? OBJ_nid2ln(OBJ_obj2nid(oid)) : "?";
}

/* ---- CSR ------------------------------------------------------------ */

int cert_show_csr(X509_REQ *req, int text, int json)
{
	STACK_OF(X509_EXTENSION) *exts = X509_REQ_get_extensions(req);
	GENERAL_NAMES *sans = X509V3_get_d2i(exts, NID_subject_alt_name, NULL, NULL);
	EXTENDED_KEY_USAGE *eku = X509V3_get_d2i(exts, NID_ext_key_usage, NULL, NULL);
	const X509_ALGOR *alg = NULL;
	EVP_PKEY *pk = X509_REQ_get0_pubkey(req);
	char subj[1024], key[80], san[1100], buf[128];
	json_t *o = NULL, *js = NULL, *je = NULL;
	int bits, sig_ok, i, ret = TOOL_EXIT_FAIL;

	if (text) {
		BIO *out = BIO_new_fp(stdout, BIO_NOCLOSE);
		ret = out != NULL && X509_REQ_print_ex(out, req, XN_FLAG_ONELINE, 0) == 1
		          ? TOOL_EXIT_OK
		          : tool_ossl_fail("printing the request");
		BIO_free(out);
		goto out;
	}
	name_text(X509_REQ_get_subject_name(req), subj, sizeof(subj));
	cert_key_desc(pk, key, sizeof(key), &bits);
	X509_REQ_get0_signature(req, NULL, &alg);
	sig_ok = pk != NULL && X509_REQ_verify(req, pk) == 1;
	ERR_clear_error();
	if (json) {
		if ((o = json_object()) == NULL || (js = json_array()) == NULL ||
		    (je = json_array()) == NULL)
			goto oom;
	} else {
		printf("%-20s %s\n", "Type:", "certificate signing request");
		printf("%-20s %s\n", "Subject:", subj);
		printf("%-20s", "Subject alt names:");
	}
	for (i = 0; i < sk_GENERAL_NAME_num(sans); i++) {
		if (pki_san_text(sk_GENERAL_NAME_value(sans, i), san, sizeof(san)) != RES_OK)
			snprintf(san, sizeof(san), "?");
		if (json ? !append(js, json_string(san)) : printf("%s%s", i ? ", " : " ", san) < 0)
			goto oom;
	}
	if (!json) {
		printf("%s\n", sk_GENERAL_NAME_num(sans) > 0 ? "" : " (none)");
		printf("%-20s", "Extended key usage:");
	}
	for (i = 0; i < sk_ASN1_OBJECT_num(eku); i++) {
		const ASN1_OBJECT *ob = sk_ASN1_OBJECT_value(eku, i);
		int nid = OBJ_obj2nid(ob);
		if (nid != NID_undef)
			snprintf(buf, sizeof(buf), "%s", OBJ_nid2sn(nid));
		else
			OBJ_obj2txt(buf, sizeof(buf), ob, 1);
		if (json ? !append(je, json_string(buf)) : printf("%s%s", i ? ", " : " ", buf) < 0)
			goto oom;
	}
	if (json) {
		/* json_object_set_new takes the value, also when it fails */
		int ok = put(o, "subject_alt_names", js);
		js = NULL;
		ok = put(o, "extended_key_usage", je) && ok;
		je = NULL;
		if (!ok || !put(o, "type", json_string("csr")) ||
		    !put(o, "subject", json_string(subj)) ||
		    !put(o, "key_type", json_string(key)) ||
		    !put(o, "key_bits", json_integer(bits)) ||
		    !put(o, "signature_algorithm", json_string(sigalg_text(alg))) ||
		    !put(o, "signature_ok", json_boolean(sig_ok)))
			goto oom;
		ret = print_json(o);
		o = NULL;
		goto out;
	}
	printf("%s\n", sk_ASN1_OBJECT_num(eku) > 0 ? "" : " (none requested)");
	printf("%-20s %s, %d bits\n", "Public key:", key, bits);
	printf("%-20s %s\n", "Signature:", sigalg_text(alg));
	printf("%-20s %s\n", "Self-signature:", sig_ok ? "ok" : "BAD");
	ret = fflush(stdout) == 0 ? TOOL_EXIT_OK : TOOL_EXIT_FAIL;
	goto out;
oom:
	tool_errorf("out of memory");
out:
	json_decref(js);
	json_decref(je);
	json_decref(o);
	GENERAL_NAMES_free(sans);
	EXTENDED_KEY_USAGE_free(eku);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	return ret;
}

/* ---- CRL ------------------------------------------------------------ */

static void time_text(const ASN1_TIME *t, char *out)
{
	if (t == NULL)
		snprintf(out, PKI_TIME_ISO_MAX, "(none)");
	else
		pki_time_iso(pki_asn1_time_get(t), out);
}

int cert_show_crl(X509_CRL *crl, int text, int json)
{
	STACK_OF(X509_REVOKED) *rev = X509_CRL_get_REVOKED(crl);
	ASN1_INTEGER *num = X509_CRL_get_ext_d2i(crl, NID_crl_number, NULL, NULL);
	const X509_ALGOR *alg = NULL;
	char issuer[1024], number[PKI_SERIAL_MAX] = "", tu[PKI_TIME_ISO_MAX], nu[PKI_TIME_ISO_MAX];
	json_t *o = NULL, *entries = NULL;
	int i, n = sk_X509_REVOKED_num(rev), ret = TOOL_EXIT_FAIL;

	if (text) {
		BIO *out = BIO_new_fp(stdout, BIO_NOCLOSE);
		ret = out != NULL && X509_CRL_print_ex(out, crl, XN_FLAG_ONELINE) == 1
		          ? TOOL_EXIT_OK
		          : tool_ossl_fail("printing the CRL");
		BIO_free(out);
		goto out;
	}
	name_text(X509_CRL_get_issuer(crl), issuer, sizeof(issuer));
	if (num != NULL && pki_serial_of(num, number) != RES_OK)
		snprintf(number, sizeof(number), "?");
	time_text(X509_CRL_get0_lastUpdate(crl), tu);
	time_text(X509_CRL_get0_nextUpdate(crl), nu);
	X509_CRL_get0_signature(crl, NULL, &alg);
	if (json) {
		if ((o = json_object()) == NULL || (entries = json_array()) == NULL ||
		    !put(o, "type", json_string("crl")) || !put(o, "issuer", json_string(issuer)) ||
		    !put(o, "crl_number", number[0] ? json_string(number) : json_null()) ||
		    !put(o, "this_update", json_string(tu)) ||
		    !put(o, "next_update",
		         X509_CRL_get0_nextUpdate(crl) ? json_string(nu) : json_null()) ||
		    !put(o, "signature_algorithm", json_string(sigalg_text(alg))) ||
		    !put(o, "entries", json_integer(n)))
			goto oom;
	} else {
		printf("%-20s %s\n", "Type:", "certificate revocation list");
		printf("%-20s %s\n", "Issuer:", issuer);
		printf("%-20s %s\n", "CRL number:", number[0] ? number : "(none)");
		printf("%-20s %s\n", "This update:", tu);
		printf("%-20s %s\n", "Next update:", nu);
		printf("%-20s %s\n", "Signature:", sigalg_text(alg));
		printf("%-20s %d\n", "Entries:", n);
	}
	for (i = 0; i < n; i++) {
		X509_REVOKED *r = sk_X509_REVOKED_value(rev, i);
		ASN1_ENUMERATED *re = X509_REVOKED_get_ext_d2i(r, NID_crl_reason, NULL, NULL);
		long code = re != NULL ? ASN1_ENUMERATED_get(re) : -1;
		const char *reason = code >= 0 ? ca_reason_name((int)code) : NULL;
		char serial[PKI_SERIAL_MAX], when[PKI_TIME_ISO_MAX];
		json_t *e;

		ASN1_ENUMERATED_free(re);
		if (pki_serial_of(X509_REVOKED_get0_serialNumber(r), serial) != RES_OK)
			snprintf(serial, sizeof(serial), "?");
		time_text(X509_REVOKED_get0_revocationDate(r), when);
		if (!json) {
			printf("  %s  %s%s%s\n", serial, when, reason != NULL ? "  " : "",
			       reason != NULL ? reason : "");
			continue;
		}
		if ((e = json_object()) == NULL || !append(entries, e) ||
		    !put(e, "serial", json_string(serial)) ||
		    !put(e, "revoked_at", json_string(when)) ||
		    !put(e, "reason", reason != NULL ? json_string(reason) : json_null()))
			goto oom;
	}
	if (json) {
		if (!put(o, "revoked", entries)) {
			entries = NULL;
			goto oom;
		}
		entries = NULL;
		ret = print_json(o);
		o = NULL;
		goto out;
	}
	ret = fflush(stdout) == 0 ? TOOL_EXIT_OK : TOOL_EXIT_FAIL;
	goto out;
oom:
	tool_errorf("out of memory");
out:
	json_decref(entries);
	json_decref(o);
	ASN1_INTEGER_free(num);
	return ret;
}

/*
 * check.c - the checks a CSR must pass before the CA signs it: its
 * signature (csr.c), its key, its names under the one name policy
 * (pki_names_check), CA:TRUE only for the sub-ca profile, usages within the
 * profile.  What the checks settle is kept in the request's plan.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "ca-int.h"
#include "result.h"

/* RSA sizes a CSR may carry: 8192-bit keys break SIP TLS peers */
#define RSA_MIN_BITS 2048
#define RSA_MAX_BITS 4096

static int key_ok(EVP_PKEY *pk)
{
	char group[64];
	int bits = EVP_PKEY_get_bits(pk);

	if (EVP_PKEY_is_a(pk, "RSA")) {
		if (bits < RSA_MIN_BITS || bits > RSA_MAX_BITS)
			return res_set(RES_POLICY,
			               "%d-bit RSA key refused (%d to %d bits; 8192-bit keys break "
			               "SIP TLS peers)",
			               bits, RSA_MIN_BITS, RSA_MAX_BITS);
		return RES_OK;
	}
	if (EVP_PKEY_is_a(pk, "EC")) {
		if (EVP_PKEY_get_utf8_string_param(pk, "group", group, sizeof(group), NULL) != 1 ||
		    (strcmp(group, "prime256v1") != 0 && strcmp(group, "secp384r1") != 0 &&
		     strcmp(group, "secp521r1") != 0))
			return res_set(RES_POLICY,
			               "EC key on a curve p11ca does not issue for (P-256, "
			               "P-384, P-521)");
		return RES_OK;
	}
	if (EVP_PKEY_is_a(pk, "ED25519"))
		return RES_OK;
	return res_set(RES_POLICY, "key type %s refused (RSA, EC or Ed25519)",
	               EVP_PKEY_get0_type_name(pk));
}

void ca_req_free(struct ca_req *r)
{
	ca_csr_free(&r->parsed);
	X509_free(r->cert);
	if (r->plan != NULL) {
		X509_EXTENSION_free(r->plan->san);
		free(r->plan);
	}
	cadb_row_free(&r->row);
	r->cert = NULL;
	r->plan = NULL;
}

/* The CSR extensions not copied into the certificate, as a comma list. */
static void note_not_copied(struct ca_req *r)
{
	const STACK_OF(X509_EXTENSION) *exts = r->parsed.exts;
	size_t n;
	int i;

	r->not_copied[0] = '\0';
	for (i = 0; i < sk_X509_EXTENSION_num(exts); i++) {
		ASN1_OBJECT *obj = X509_EXTENSION_get_object(sk_X509_EXTENSION_value(exts, i));
		int nid = OBJ_obj2nid(obj);
		char oid[80];
		if (nid == NID_subject_alt_name || nid == NID_key_usage ||
		    nid == NID_ext_key_usage || nid == NID_basic_constraints)
			continue;
		OBJ_obj2txt(oid, sizeof(oid), obj, 1);
		/* what AD CS enrolment adds, by name: OpenSSL knows neither */
		if (strcmp(oid, "1.3.6.1.4.1.311.20.2") == 0)
			snprintf(oid, sizeof(oid),
			         "Microsoft template name (1.3.6.1.4.1.311.20.2)");
		else if (strcmp(oid, "1.3.6.1.4.1.311.21.7") == 0)
			snprintf(oid, sizeof(oid), "Microsoft template (1.3.6.1.4.1.311.21.7)");
		else
			OBJ_obj2txt(oid, sizeof(oid), obj, 0);
		n = strlen(r->not_copied);
		snprintf(r->not_copied + n, sizeof(r->not_copied) - n, "%s%s", n > 0 ? "," : "",
		         oid);
	}
}

/* No extension twice (RFC 5280 4.2): a second subjectAltName would go unchecked. */
static int exts_once(const STACK_OF(X509_EXTENSION) * exts)
{
	const ASN1_OBJECT *a;
	char oid[80];
	int i, j;

	for (i = 0; i < sk_X509_EXTENSION_num(exts); i++) {
		a = X509_EXTENSION_get_object(sk_X509_EXTENSION_value(exts, i));
		for (j = i + 1; j < sk_X509_EXTENSION_num(exts); j++)
			if (OBJ_cmp(a, X509_EXTENSION_get_object(
			                   sk_X509_EXTENSION_value(exts, j))) == 0) {
				OBJ_obj2txt(oid, sizeof(oid), a, 0);
				return res_set(RES_BAD_INPUT, "it asks for extension %s twice",
				               oid);
			}
	}
	return RES_OK;
}

/*
 * Extension @nid of the request decoded (*pv, NULL when absent): RES_OK, or
 * RES_BAD_INPUT when it does not decode; what is copied into the
 * certificate is what the checks read.
 */
static int ext_get(const STACK_OF(X509_EXTENSION) * exts, int nid, void **pv)
{
	int crit = -1;

	*pv = X509V3_get_d2i(exts, nid, &crit, NULL);
	if (*pv == NULL && crit != -1) {
		ERR_clear_error();
		return res_set(RES_BAD_INPUT, "its %s extension is %s", OBJ_nid2ln(nid),
		               crit == -2 ? "there twice" : "malformed");
	}
	return RES_OK;
}

static int check(struct ca *ca, const struct ca_issue_opts *o, struct ca_req *r)
{
	const STACK_OF(X509_EXTENSION) * exts;
	GENERAL_NAMES *gens = NULL;
	BASIC_CONSTRAINTS *bc = NULL;
	ASN1_BIT_STRING *kubits = NULL;
	EXTENDED_KEY_USAGE *eku = NULL;
	struct ca_plan *plan = NULL;
	int idx, rc;

	if (r->csr == NULL && r->load != NULL) {
		if ((rc = r->load(r, r->load_arg)) != RES_OK)
			goto out;
		rc = ca_csr_parse(ca->libctx, r->csr, r->csr_len, &r->parsed);
		free((void *)r->csr); /* loaded: ours, and needed no more */
		r->csr = NULL;
		r->csr_len = 0;
	} else {
		rc = ca_csr_parse(ca->libctx, r->csr, r->csr_len, &r->parsed);
	}
	if (rc != RES_OK || (rc = key_ok(r->parsed.pkey)) != RES_OK)
		goto out;
	exts = r->parsed.exts;
	/* each decoded once, each there once: the names checked are the names copied */
	if ((rc = exts_once(exts)) != RES_OK ||
	    (rc = ext_get(exts, NID_subject_alt_name, (void **)&gens)) != RES_OK ||
	    (rc = ext_get(exts, NID_basic_constraints, (void **)&bc)) != RES_OK ||
	    (rc = ext_get(exts, NID_key_usage, (void **)&kubits)) != RES_OK ||
	    (rc = ext_get(exts, NID_ext_key_usage, (void **)&eku)) != RES_OK)
		goto out;
	/* a CA certificate first: it is refused whatever its names */
	if (bc != NULL && bc->ca && o->profile != CA_SUB_CA) {
		rc = res_set(RES_POLICY, "it asks for CA:TRUE; only --profile sub-ca issues CA "
		                         "certificates");
		goto out;
	}
	/*
	 * A server's CN names its host when there is no SAN (the one name
	 * policy checks it as a DNS name); a CA, an OCSP signer or a client
	 * may be named by anything in its CN.
	 */
	if ((rc = pki_names_check_ex(r->parsed.subject, gens,
	                             o->profile == CA_SERVER || o->profile == CA_SERVER_CLIENT
	                                 ? 0
	                                 : PKI_NAMES_CN_ANY)) != RES_OK)
		goto out;
	if ((plan = calloc(1, sizeof(*plan))) == NULL) {
		rc = res_set(RES_NOMEM, "out of memory");
		goto out;
	}
	if ((rc = ca_profile_usages(o->profile, kubits, eku, r->parsed.pkey, plan->ku, plan->eku,
	                            sizeof(plan->ku))) != RES_OK)
		goto out;
	if ((idx = X509v3_get_ext_by_NID(exts, NID_subject_alt_name, -1)) >= 0 &&
	    (plan->san = X509_EXTENSION_dup(X509v3_get_ext(exts, idx))) == NULL) {
		rc = res_set(RES_NOMEM, "out of memory");
		goto out;
	}
	/* with an empty subject the names are all in the SAN: critical (RFC 5280 4.2.1.6) */
	if (plan->san != NULL && X509_NAME_entry_count(r->parsed.subject) == 0)
		X509_EXTENSION_set_critical(plan->san, 1);
	note_not_copied(r);
	r->plan = plan;
	plan = NULL;
out:
	if (plan != NULL) {
		X509_EXTENSION_free(plan->san);
		free(plan);
	}
	GENERAL_NAMES_free(gens);
	BASIC_CONSTRAINTS_free(bc);
	ASN1_BIT_STRING_free(kubits);
	EXTENDED_KEY_USAGE_free(eku);
	ERR_clear_error();
	return rc;
}

int ca_req_check(struct ca *ca, const struct ca_issue_opts *o, struct ca_req *r)
{
	ca_req_free(r);
	r->msg[0] = '\0';
	if ((r->rc = check(ca, o, r)) != RES_OK) {
		snprintf(r->msg, sizeof(r->msg), "%s", res_message());
		ca_csr_free(&r->parsed);
	}
	return r->rc;
}

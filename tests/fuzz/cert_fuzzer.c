/*
 * cert_fuzzer.c - libFuzzer target for the certificate loader
 * (pki_load_certs, tools/pki/load.c) and what `cert show` and `cert check`
 * decode from each certificate through the PKI library: names (RFC 2253
 * and one-line), serial, times, fingerprints, SANs under the one name
 * policy, key usage, extended key usage, basic constraints, the public key,
 * OpenSSL's full text (--text) and the chain check (pki_verify_chain, the
 * last certificate of the input as the trust anchor).
 *
 * What must hold (abort otherwise): no crash, leak or UB; a refusal is
 * RES_BAD_INPUT/RES_NOMEM with a one-line message and no certificates; an
 * acceptance is at least one certificate, and DER input is one certificate
 * d2i_X509 reads whole; a serial the records keep reads back the same
 * through pki_serial_normalise; a SAN text fits its buffer.
 *
 * Built and smoke-run like csr_fuzzer.c (tests/fuzz/README.md).  Longer:
 *
 *   mkdir -p /tmp/cert-corpus
 *   tests/fuzz/cert_fuzzer -max_total_time=3600 -max_len=8192 \
 *       -artifact_prefix=/tmp/cert- /tmp/cert-corpus $top_srcdir/tests/fuzz/corpus/cert
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "pki.h"
#include "result.h"

static unsigned long accepted, refused, certs_seen, chains_ok; /* printed at exit */
static BIO *null_out;

static void stats(void)
{
	fprintf(stderr,
	        "cert_fuzzer: %lu inputs accepted (%lu certificates, %lu chains fine), %lu "
	        "refused\n",
	        accepted, certs_seen, chains_ok, refused);
}

#define FUZZ_NAME "cert_fuzzer"
#define FUZZ_INIT open_null_out
#include "fuzz-common.h"

static void open_null_out(void)
{
	if ((null_out = BIO_new(BIO_s_null())) == NULL)
		die("no BIO");
}

/* What cert_info_get (tools/cli/cmd-cert-common.c) and cert check read. */
static void describe(X509 *x)
{
	char *s = NULL, serial[PKI_SERIAL_MAX], again[PKI_SERIAL_MAX], iso[PKI_TIME_ISO_MAX];
	char fp[PKI_FP_MAX], text[1024], **sans = NULL;
	GENERAL_NAMES *gens;
	EXTENDED_KEY_USAGE *eku;
	ASN1_BIT_STRING *ku;
	BASIC_CONSTRAINTS *bc;
	EVP_PKEY *pk;
	size_t n = 0;
	int i, crit = -1;

	if (pki_name_rfc2253(X509_get_subject_name(x), &s) == RES_OK)
		free(s);
	s = NULL;
	if (pki_name_rfc2253(X509_get_issuer_name(x), &s) == RES_OK)
		free(s);
	s = NULL;
	if (pki_name_oneline(X509_get_subject_name(x), &s) == RES_OK)
		free(s);
	if (pki_serial_of(X509_get0_serialNumber(x), serial) == RES_OK) {
		if (strlen(serial) >= PKI_SERIAL_MAX ||
		    pki_serial_normalise(serial, again) != RES_OK || strcmp(serial, again) != 0)
			die("a serial that does not read back");
	} else {
		one_line("a serial refused without a one-line message");
	}
	pki_time_iso(pki_asn1_time_get(X509_get0_notBefore(x)), iso);
	pki_time_iso(pki_asn1_time_get(X509_get0_notAfter(x)), iso);
	if (pki_fingerprint(x, "SHA256", 1, fp, sizeof(fp)) != RES_OK ||
	    pki_fingerprint(x, "SHA1", 0, fp, sizeof(fp)) != RES_OK)
		die("no fingerprint");
	if (pki_cert_sans(x, &sans, &n) == RES_OK) {
		for (i = 0; (size_t)i < n; i++)
			if (sans[i] == NULL)
				die("fewer SANs than counted");
		if (sans != NULL && sans[n] != NULL)
			die("SANs not NULL-terminated");
		pki_strv_free(sans);
	}
	gens = X509_get_ext_d2i(x, NID_subject_alt_name, &crit, NULL);
	for (i = 0; i < sk_GENERAL_NAME_num(gens); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);

		(void)pki_san_check(g);
		if (pki_san_text(g, text, sizeof(text)) == RES_OK && strlen(text) >= sizeof(text))
			die("SAN text past its buffer");
	}
	(void)pki_names_check(X509_get_subject_name(x), gens);
	(void)pki_names_check_ex(X509_get_subject_name(x), gens, PKI_NAMES_CN_ANY);
	GENERAL_NAMES_free(gens);
	eku = X509_get_ext_d2i(x, NID_ext_key_usage, NULL, NULL);
	for (i = 0; i < sk_ASN1_OBJECT_num(eku); i++)
		OBJ_obj2txt(text, sizeof(text), sk_ASN1_OBJECT_value(eku, i), 1);
	EXTENDED_KEY_USAGE_free(eku);
	if ((ku = X509_get_ext_d2i(x, NID_key_usage, NULL, NULL)) != NULL)
		(void)ASN1_BIT_STRING_get_bit(ku, 8);
	ASN1_BIT_STRING_free(ku);
	if ((bc = X509_get_ext_d2i(x, NID_basic_constraints, NULL, NULL)) != NULL &&
	    bc->pathlen != NULL)
		(void)ASN1_INTEGER_get(bc->pathlen);
	BASIC_CONSTRAINTS_free(bc);
	(void)X509_get_extension_flags(x);
	(void)X509_get_extended_key_usage(x);
	(void)X509_check_ca(x);
	if ((pk = X509_get0_pubkey(x)) != NULL)
		(void)EVP_PKEY_get_bits(pk);
	(void)X509_print_ex(null_out, x, XN_FLAG_ONELINE, 0);
	ERR_clear_error();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	STACK_OF(X509) *certs = NULL, *anchor = NULL;
	struct pki_chain_result *r = NULL;
	struct pki_verify_opts opts = { 0 };
	const unsigned char *p = data;
	X509 *x;
	int ret, pem = -1, i, n;

	res_clear();
	ret = pki_load_certs(data, size, &certs, &pem);
	if (ret != RES_OK) {
		if (ret != RES_BAD_INPUT && ret != RES_NOMEM)
			die("refused with an unexpected code");
		one_line("refused without a one-line message");
		refused++;
		goto out;
	}
	if ((n = sk_X509_num(certs)) < 1)
		die("accepted without a certificate");
	if (!pem) {
		if (n != 1)
			die("DER with more than one certificate");
		x = d2i_X509(NULL, &p, (long)size);
		if (x == NULL || p != data + size || X509_cmp(x, sk_X509_value(certs, 0)) != 0)
			die("DER accepted that d2i_X509 does not read whole");
		X509_free(x);
	}
	for (i = 0; i < n; i++)
		describe(sk_X509_value(certs, i));
	/* cert check's chain: the first the leaf, the last the anchor */
	if ((anchor = sk_X509_new_null()) == NULL || !X509_up_ref(sk_X509_value(certs, n - 1)) ||
	    !sk_X509_push(anchor, sk_X509_value(certs, n - 1)))
		die("out of memory");
	opts.at = 1797000000; /* 2026-12-11, when the seeds are valid */
	opts.host = "www.example.com";
	opts.want_server_auth = 1;
	opts.want_client_auth = 1;
	if (pki_verify_chain(NULL, sk_X509_value(certs, 0), certs, anchor, &opts, &r) == RES_OK) {
		if (r == NULL || (r->n > 0 && r->elems == NULL))
			die("a chain result without elements");
		for (i = 0; (size_t)i < r->n; i++)
			(void)pki_elem_flag_name(r->elems[i].flags & (0u - r->elems[i].flags));
		chains_ok += r->ok != 0;
		pki_chain_result_free(r);
	}
	accepted++;
	certs_seen += (unsigned long)n;
out:
	sk_X509_pop_free(anchor, X509_free);
	sk_X509_pop_free(certs, X509_free);
	ERR_clear_error();
	return 0;
}

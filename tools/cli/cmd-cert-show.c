/* cmd-cert-show.c - p11ca cert show: a certificate file summarised. */
#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/x509.h>

#include "cmd-cert.h"

static void print_list(const char *label, const struct strs *l, int present)
{
	size_t i;

	printf("%-20s", label);
	if (!present)
		printf(" (none)");
	for (i = 0; i < l->n; i++)
		printf("%s%s", i ? ", " : " ", l->v[i]);
	putchar('\n');
}

static void print_info(const struct cert_info *ci)
{
	printf("%-20s %s\n", "Subject:", ci->subject);
	printf("%-20s %s\n", "Issuer:", ci->issuer);
	printf("%-20s %s\n", "Serial:", ci->serial);
	printf("%-20s %s\n", "Not before:", ci->not_before);
	printf("%-20s %s (%s", "Not after:", ci->not_after, ci->status);
	if (strcmp(ci->status, "valid") == 0)
		printf(", %ld day%s left", ci->days_left, ci->days_left == 1 ? "" : "s");
	printf(")\n");
	print_list("Subject alt names:", &ci->sans, ci->sans.n > 0);
	print_list("Extended key usage:", &ci->eku, ci->has_eku);
	print_list("Key usage:", &ci->ku, ci->has_ku);
	printf("%-20s %s\n", "Basic constraints:", ci->bc[0] ? ci->bc : "(none)");
	printf("%-20s %s, %d bits\n", "Public key:", ci->key, ci->bits);
	printf("%-20s %s\n", "Signature:", ci->sigalg);
	printf("%-20s %s\n", "SHA-256 fingerprint:", ci->sha256);
	printf("%-20s %s\n", "SHA-1 fingerprint:", ci->sha1);
}

/* Sets @key of @obj to @v (taken); 0 when out of memory. */
static int put(json_t *obj, const char *key, json_t *v)
{
	return v != NULL && json_object_set_new(obj, key, v) == 0;
}

json_t *cert_json_strs(const struct strs *l)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; a != NULL && i < l->n; i++)
		if (json_array_append_new(a, json_string(l->v[i])) != 0) {
			json_decref(a);
			return NULL;
		}
	return a;
}

/*
 * A fingerprint as JSON gives them everywhere (trust list too): lowercase
 * hex without colons; the text output keeps openssl's AB:CD:... form.
 */
static json_t *json_fp(const char *fp)
{
	char hex[PKI_FP_MAX];
	size_t n = 0;

	for (; *fp != '\0' && n + 1 < sizeof(hex); fp++)
		if (*fp != ':')
			hex[n++] = (char)tolower((unsigned char)*fp);
	hex[n] = '\0';
	return json_string(hex);
}

/* One certificate as a JSON object (NULL when out of memory). */
static json_t *info_json(const struct cert_info *ci)
{
	json_t *o = json_object();

	if (o == NULL)
		return NULL;
	if (put(o, "subject", json_string(ci->subject)) &&
	    put(o, "issuer", json_string(ci->issuer)) &&
	    put(o, "serial", json_string(ci->serial)) &&
	    put(o, "not_before", json_string(ci->not_before)) &&
	    put(o, "not_after", json_string(ci->not_after)) &&
	    put(o, "status", json_string(ci->status)) &&
	    put(o, "days_left", json_integer(ci->days_left)) &&
	    put(o, "subject_alt_names", cert_json_strs(&ci->sans)) &&
	    put(o, "extended_key_usage", cert_json_strs(&ci->eku)) &&
	    put(o, "key_usage", cert_json_strs(&ci->ku)) &&
	    put(o, "basic_constraints", json_string(ci->bc)) &&
	    put(o, "key_type", json_string(ci->key)) &&
	    put(o, "key_bits", json_integer(ci->bits)) &&
	    put(o, "signature_algorithm", json_string(ci->sigalg)) &&
	    put(o, "sha256_fingerprint", json_fp(ci->sha256)) &&
	    put(o, "sha1_fingerprint", json_fp(ci->sha1)))
		return o;
	json_decref(o);
	return NULL;
}

enum { O_TEXT = OPT_FIRST_LOCAL, O_JSON };

struct show_opts {
	int text, json;
};

static int show_opt(int id, const char *arg, void *data)
{
	struct show_opts *o = data;

	switch (id) {
	case O_TEXT: o->text = 1; break;
	case O_JSON: o->json = 1; break;
	default: return TOOL_EXIT_USAGE;
	}
	return TOOL_EXIT_OK;
}

int tool_cert_show(int argc, char **argv)
{
	static const struct tool_opt opts[] = {
		{ "text", no_argument, O_TEXT },
		{ "json", no_argument, O_JSON },
		{ NULL, 0, 0 },
	};
	static const char help[] =
	    "usage: p11ca cert show FILE [--text] [--json]\n\n"
	    "Summarises the certificates in FILE (PEM, possibly several, or DER;\n"
	    "detected): subject, issuer, serial, validity, subject alternative names,\n"
	    "extended key usage, key usage, basic constraints, public key, signature\n"
	    "algorithm, SHA-256 and SHA-1 fingerprints.  --text prints OpenSSL's full\n"
	    "decoding instead; --json a JSON array with one object per certificate\n"
	    "(fingerprints in lowercase hex, as trust list --json gives them).\n"
	    "FILE may hold a certificate signing request instead (subject, requested\n"
	    "SANs and EKU, key, whether its self-signature verifies) or a CRL\n"
	    "(issuer, CRL number, this and next update, each entry's serial, date and\n"
	    "reason), PEM or DER; --json then prints one object with \"type\": \"csr\"\n"
	    "or \"crl\".\n";
	struct tool_common c = { 0 };
	struct show_opts o = { 0 };
	int r, ret = TOOL_EXIT_FAIL, i;
	STACK_OF(X509) *certs = NULL;
	struct cert_file file = { 0 };
	BIO *out = NULL;
	json_t *arr = NULL;
	time_t now = time(NULL);

	if ((r = tool_parse(argc, argv, opts, help, &c, show_opt, &o)) != TOOL_PARSE_GO)
		return r;
	if (optind + 1 != argc) {
		tool_errorf("cert show needs one FILE (see --help)");
		return TOOL_EXIT_USAGE;
	}
	if (o.text && o.json) {
		tool_errorf("--text and --json do not go together");
		return TOOL_EXIT_USAGE;
	}
	if (!cert_file_read(argv[optind], &file))
		goto out;
	if (file.kind == CERT_KIND_CSR) {
		ret = cert_show_csr(file.csr, o.text, o.json);
		goto out;
	}
	if (file.kind == CERT_KIND_CRL) {
		ret = cert_show_crl(file.crl, o.text, o.json);
		goto out;
	}
	certs = file.certs;
	file.certs = NULL;
	if (o.text && (out = BIO_new_fp(stdout, BIO_NOCLOSE)) == NULL)
		goto oom;
	/* JSON is printed whole at the end: on a failure stdout holds nothing */
	if (o.json && (arr = json_array()) == NULL)
		goto oom;
	for (i = 0; i < sk_X509_num(certs); i++) {
		X509 *x = sk_X509_value(certs, i);
		struct cert_info ci;
		json_t *obj;

		if (o.text) {
			if (i > 0)
				putchar('\n');
			fflush(stdout);
			if (X509_print_ex(out, x, XN_FLAG_ONELINE, 0) != 1) {
				tool_ossl_fail("printing the certificate");
				goto out;
			}
			(void)BIO_flush(out);
			continue;
		}
		if (!cert_info_get(x, now, &ci)) {
			cert_info_free(&ci);
			goto out;
		}
		if (o.json) {
			obj = info_json(&ci);
			cert_info_free(&ci);
			if (obj == NULL || json_array_append_new(arr, obj) != 0)
				goto oom;
			continue;
		}
		if (sk_X509_num(certs) > 1)
			printf("%sCertificate %d of %d\n", i ? "\n" : "", i + 1,
			       sk_X509_num(certs));
		print_info(&ci);
		cert_info_free(&ci);
	}
	if (o.json && (json_dumpf(arr, stdout, JSON_INDENT(2)) != 0 || putchar('\n') == EOF))
		goto oom;
	ret = fflush(stdout) == 0 ? TOOL_EXIT_OK : TOOL_EXIT_FAIL;
	goto out;
oom:
	tool_errorf("out of memory");
out:
	json_decref(arr);
	BIO_free(out);
	sk_X509_pop_free(certs, X509_free);
	cert_file_free(&file);
	return ret;
}

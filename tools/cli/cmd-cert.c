/* cmd-cert.c - p11ca cert show|convert|check|install: certificate tools. */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "tool.h"

/* RSA above this breaks SIP TLS zones (the deployment guide) */
#define RSA_MAX_BITS 4096
/* a certificate expiring sooner than this is reported (WARN) */
#define EXPIRY_WARN_DAYS 30
#define DEFAULT_BUNDLE "/etc/ssl/certs/ca-certificates.crt"

/* ------------------------------------------------------------------ */
/* Reading certificates                                                */
/* ------------------------------------------------------------------ */

/* A whole file in memory (NUL-terminated, the NUL not counted). */
static X509 *d2i_exact(const unsigned char *der, long len)
{
	const unsigned char *p = der;
	X509 *x = d2i_X509(NULL, &p, len);

	if (x != NULL && p != der + len) {
		X509_free(x);
		return NULL;
	}
	return x;
}

/*
 * Every certificate in @buf: PEM (CERTIFICATE blocks; other blocks such as
 * keys are skipped) or a single DER certificate.  *pem says which.  On a
 * malformed input writes a one-line reason to @why and returns NULL.
 */
static STACK_OF(X509) *parse_certs(const unsigned char *buf, size_t len, int *pem, char *why,
                                   size_t whycap)
{
	STACK_OF(X509) *certs = sk_X509_new_null();
	BIO *bio = NULL;
	X509 *x = NULL;
	int nblock = 0;

	if (certs == NULL) {
		snprintf(why, whycap, "out of memory");
		return NULL;
	}
	/* DER first: a certificate's own text may contain a PEM-looking line */
	if (len > 0 && len <= 0x7fffffff && buf[0] == 0x30 &&
	    (x = d2i_exact(buf, (long)len)) != NULL)
		*pem = 0;
	else
		*pem = tool_is_pem(buf, len);
	if (!*pem) {
		if (len == 0) {
			snprintf(why, whycap, "empty file");
			goto fail;
		}
		if (x == NULL) {
			snprintf(why, whycap,
			         "neither a PEM certificate nor a DER certificate (truncated, "
			         "trailing data, or not a certificate)");
			goto fail;
		}
		if (!sk_X509_push(certs, x))
			goto oom;
		ERR_clear_error();
		return certs;
	}
	if ((bio = BIO_new_mem_buf(buf, (int)len)) == NULL)
		goto oom;
	for (;;) {
		char *name = NULL, *header = NULL;
		unsigned char *data = NULL;
		long dlen = 0;
		int ok, cert;

		ok = PEM_read_bio(bio, &name, &header, &data, &dlen);
		if (!ok) {
			unsigned long e = ERR_peek_last_error();
			if (ERR_GET_LIB(e) == ERR_LIB_PEM &&
			    ERR_GET_REASON(e) == PEM_R_NO_START_LINE)
				break; /* the end */
			snprintf(why, whycap,
			         "malformed PEM after block %d (bad base64, a missing END line "
			         "or a damaged header)",
			         nblock);
			goto fail;
		}
		nblock++;
		cert = strcmp(name, PEM_STRING_X509) == 0 ||
		       strcmp(name, PEM_STRING_X509_OLD) == 0 ||
		       strcmp(name, PEM_STRING_X509_TRUSTED) == 0;
		if (cert) {
			const unsigned char *p = data;
			if (strcmp(name, PEM_STRING_X509_TRUSTED) == 0)
				x = d2i_X509_AUX(NULL, &p, dlen);
			else
				x = d2i_exact(data, dlen);
			if (x == NULL)
				snprintf(why, whycap,
				         "PEM block %d (%s) does not hold a valid certificate",
				         nblock, name);
		}
		OPENSSL_free(name);
		OPENSSL_free(header);
		OPENSSL_free(data);
		if (cert && x == NULL)
			goto fail;
		if (x != NULL && !sk_X509_push(certs, x))
			goto oom;
		x = NULL;
	}
	if (sk_X509_num(certs) == 0) {
		snprintf(why, whycap, "no CERTIFICATE block in the PEM file");
		goto fail;
	}
	ERR_clear_error();
	BIO_free(bio);
	return certs;
oom:
	snprintf(why, whycap, "out of memory");
fail:
	ERR_clear_error();
	X509_free(x);
	BIO_free(bio);
	sk_X509_pop_free(certs, X509_free);
	return NULL;
}

STACK_OF(X509) *tool_load_certs(const char *path, int *pem)
{
	unsigned char *buf;
	size_t len;
	char why[256];
	STACK_OF(X509) *certs;

	if ((buf = tool_read_file(path, &len)) == NULL)
		return NULL;
	if ((certs = parse_certs(buf, len, pem, why, sizeof(why))) == NULL)
		tool_errorf("%s: %s", path, why);
	free(buf);
	return certs;
}

/* ------------------------------------------------------------------ */
/* Describing a certificate                                            */
/* ------------------------------------------------------------------ */

/* A malloc'ed copy of what @bio holds. */
static char *bio_string(BIO *bio)
{
	char *data, *s;
	long n = BIO_get_mem_data(bio, &data);

	if (n < 0 || (s = malloc((size_t)n + 1)) == NULL)
		return NULL;
	memcpy(s, data, (size_t)n);
	s[n] = '\0';
	return s;
}

static char *name_string(const X509_NAME *name)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *s = NULL;

	if (bio == NULL)
		return NULL;
	if (X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) >= 0)
		s = bio_string(bio);
	BIO_free(bio);
	return s;
}

/* "2026-11-24T19:00:00Z" */
static void time_string(const ASN1_TIME *t, char *out, size_t cap)
{
	struct tm tm;

	if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1 ||
	    strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(out, cap, "(invalid time)");
}

/* A list of strings. */
struct strs {
	char **v;
	size_t n;
};

static int strs_add(struct strs *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int strs_add(struct strs *l, const char *fmt, ...)
{
	char buf[1024], **nv;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if ((nv = realloc(l->v, (l->n + 1) * sizeof(*nv))) == NULL)
		return 0;
	l->v = nv;
	if ((l->v[l->n] = strdup(buf)) == NULL)
		return 0;
	l->n++;
	return 1;
}

static void strs_free(struct strs *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

/* The subjectAltNames as "DNS:name", "IP:addr", "email:addr", "URI:..". */
static int get_sans(X509 *x, struct strs *out)
{
	GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	int i, ok = 1;

	for (i = 0; ok && i < sk_GENERAL_NAME_num(gens); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
		const ASN1_STRING *s;
		char ip[INET6_ADDRSTRLEN];

		switch (g->type) {
		case GEN_DNS:
		case GEN_EMAIL:
		case GEN_URI: {
			const char *kind = g->type == GEN_DNS     ? "DNS"
			                   : g->type == GEN_EMAIL ? "email"
			                                          : "URI";
			s = g->d.ia5;
			ok = strs_add(out, "%s:%.*s", kind, ASN1_STRING_length(s),
			              (const char *)ASN1_STRING_get0_data(s));
			break;
		}
		case GEN_IPADD:
			s = g->d.ip;
			if ((ASN1_STRING_length(s) == 4 &&
			     inet_ntop(AF_INET, ASN1_STRING_get0_data(s), ip, sizeof(ip))) ||
			    (ASN1_STRING_length(s) == 16 &&
			     inet_ntop(AF_INET6, ASN1_STRING_get0_data(s), ip, sizeof(ip))))
				ok = strs_add(out, "IP:%s", ip);
			else
				ok = strs_add(out, "IP:(malformed)");
			break;
		case GEN_DIRNAME: {
			char *n = name_string(g->d.dirn);
			ok = strs_add(out, "dirName:%s", n ? n : "?");
			free(n);
			break;
		}
		default:
			ok = strs_add(out, "othername");
			break;
		}
	}
	GENERAL_NAMES_free(gens);
	return ok;
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

/* "RSA", "EC (prime256v1)", "ED25519" and the size in bits. */
static void key_desc(EVP_PKEY *pk, char *out, size_t cap, int *bits)
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

static void fingerprint(X509 *x, const EVP_MD *md, char *out)
{
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned int n = 0, i;

	out[0] = '\0';
	if (X509_digest(x, md, d, &n) != 1)
		return;
	for (i = 0; i < n; i++)
		sprintf(out + 3 * i, "%02X%s", d[i], i + 1 < n ? ":" : "");
}

/* Everything show prints about one certificate. */
struct cert_info {
	char *subject, *issuer, *serial;
	char not_before[32], not_after[32], bc[64], key[80], sigalg[80];
	const char *status;
	int bits, has_eku, has_ku;
	long days_left;
	struct strs sans, eku, ku;
	char sha256[EVP_MAX_MD_SIZE * 3], sha1[EVP_MAX_MD_SIZE * 3];
};

static void info_free(struct cert_info *ci)
{
	free(ci->subject);
	free(ci->issuer);
	OPENSSL_free(ci->serial);
	strs_free(&ci->sans);
	strs_free(&ci->eku);
	strs_free(&ci->ku);
}

static int info_get(X509 *x, time_t now, struct cert_info *ci)
{
	BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
	int nid = X509_get_signature_nid(x), days = 0, secs = 0;
	ASN1_TIME *at = ASN1_TIME_set(NULL, now);
	int ok;

	memset(ci, 0, sizeof(*ci));
	ci->subject = name_string(X509_get_subject_name(x));
	ci->issuer = name_string(X509_get_issuer_name(x));
	ci->serial = bn ? BN_bn2hex(bn) : NULL;
	BN_free(bn);
	time_string(X509_get0_notBefore(x), ci->not_before, sizeof(ci->not_before));
	time_string(X509_get0_notAfter(x), ci->not_after, sizeof(ci->not_after));
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
	key_desc(X509_get0_pubkey(x), ci->key, sizeof(ci->key), &ci->bits);
	snprintf(ci->sigalg, sizeof(ci->sigalg), "%s", nid != NID_undef ? OBJ_nid2ln(nid) : "?");
	fingerprint(x, EVP_sha256(), ci->sha256);
	fingerprint(x, EVP_sha1(), ci->sha1);
	ok = ci->subject && ci->issuer && ci->serial && get_sans(x, &ci->sans) &&
	     get_eku(x, &ci->eku, &ci->has_eku) && get_ku(x, &ci->ku, &ci->has_ku);
	ERR_clear_error();
	return ok;
}

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

static void json_list(const char *key, const struct strs *l)
{
	size_t i;

	printf(",\n    \"%s\": [", key);
	for (i = 0; i < l->n; i++) {
		printf("%s", i ? ", " : "");
		tool_json_str(stdout, l->v[i]);
	}
	printf("]");
}

static void json_field(const char *key, const char *value, int first)
{
	printf("%s    \"%s\": ", first ? "" : ",\n", key);
	tool_json_str(stdout, value);
}

static void print_json(const struct cert_info *ci)
{
	printf("  {\n");
	json_field("subject", ci->subject, 1);
	json_field("issuer", ci->issuer, 0);
	json_field("serial", ci->serial, 0);
	json_field("not_before", ci->not_before, 0);
	json_field("not_after", ci->not_after, 0);
	json_field("status", ci->status, 0);
	printf(",\n    \"days_left\": %ld", ci->days_left);
	json_list("subject_alt_names", &ci->sans);
	json_list("extended_key_usage", &ci->eku);
	json_list("key_usage", &ci->ku);
	json_field("basic_constraints", ci->bc, 0);
	json_field("key_type", ci->key, 0);
	printf(",\n    \"key_bits\": %d", ci->bits);
	json_field("signature_algorithm", ci->sigalg, 0);
	json_field("sha256_fingerprint", ci->sha256, 0);
	json_field("sha1_fingerprint", ci->sha1, 0);
	printf("\n  }");
}

/* ------------------------------------------------------------------ */
/* cert show                                                           */
/* ------------------------------------------------------------------ */

static void show_help(void)
{
	printf("usage: p11ca cert show FILE [--text] [--json]\n\n"
	       "Summarises the certificates in FILE (PEM, possibly several, or DER;\n"
	       "detected): subject, issuer, serial, validity, subject alternative names,\n"
	       "extended key usage, key usage, basic constraints, public key, signature\n"
	       "algorithm, SHA-256 and SHA-1 fingerprints.  --text prints OpenSSL's full\n"
	       "decoding instead; --json a JSON array with one object per certificate.\n");
}

int tool_cert_show(int argc, char **argv)
{
	enum { O_TEXT = OPT_FIRST_LOCAL, O_JSON };
	static const struct option opts[] = { TOOL_COMMON_OPTIONS,
		                               { "text", no_argument, NULL, O_TEXT },
		                               { "json", no_argument, NULL, O_JSON },
		                               { 0 } };
	struct tool_common c = { 0 };
	int opt, ret = TOOL_EXIT_USAGE, text = 0, json = 0, pem, i;
	STACK_OF(X509) *certs = NULL;
	BIO *out = NULL;
	time_t now = time(NULL);

	while ((opt = getopt_long(argc, argv, TOOL_SHORT, opts, NULL)) != -1) {
		if (tool_common_opt(&c, opt, optarg))
			continue;
		switch (opt) {
		case O_TEXT: text = 1; break;
		case O_JSON: json = 1; break;
		case OPT_HELP: show_help(); return TOOL_EXIT_OK;
		default: return TOOL_EXIT_USAGE;
		}
	}
	if (optind + 1 != argc) {
		tool_errorf("cert show needs one FILE (see --help)");
		return TOOL_EXIT_USAGE;
	}
	if (text && json) {
		tool_errorf("--text and --json do not go together");
		return TOOL_EXIT_USAGE;
	}
	ret = TOOL_EXIT_FAIL;
	if ((certs = tool_load_certs(argv[optind], &pem)) == NULL)
		goto out;
	if (text && (out = BIO_new_fp(stdout, BIO_NOCLOSE)) == NULL)
		goto oom;
	if (json)
		printf("[\n");
	for (i = 0; i < sk_X509_num(certs); i++) {
		X509 *x = sk_X509_value(certs, i);
		struct cert_info ci;

		if (text) {
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
		if (!info_get(x, now, &ci)) {
			info_free(&ci);
			goto oom;
		}
		if (json) {
			print_json(&ci);
			printf("%s\n", i + 1 < sk_X509_num(certs) ? "," : "");
		} else {
			if (sk_X509_num(certs) > 1)
				printf("%sCertificate %d of %d\n", i ? "\n" : "", i + 1,
				       sk_X509_num(certs));
			print_info(&ci);
		}
		info_free(&ci);
	}
	if (json)
		printf("]\n");
	ret = fflush(stdout) == 0 ? TOOL_EXIT_OK : TOOL_EXIT_FAIL;
	goto out;
oom:
	tool_errorf("out of memory");
out:
	BIO_free(out);
	sk_X509_pop_free(certs, X509_free);
	return ret;
}

/* ------------------------------------------------------------------ */
/* cert convert                                                        */
/* ------------------------------------------------------------------ */

static void convert_help(void)
{
	printf("usage: p11ca cert convert IN OUT [--to pem|der]\n\n"
	       "Converts a certificate between PEM and DER.  The input format is\n"
	       "detected; by default the output is the other one.  A PEM file with\n"
	       "several certificates converts to PEM only (DER holds one).  OUT is\n"
	       "written atomically; \"-\" is standard output.\n");
}

int tool_cert_convert(int argc, char **argv)
{
	enum { O_TO = OPT_FIRST_LOCAL };
	static const struct option opts[] = { TOOL_COMMON_OPTIONS,
		                               { "to", required_argument, NULL, O_TO },
		                               { 0 } };
	struct tool_common c = { 0 };
	const char *to = NULL;
	int opt, ret = TOOL_EXIT_FAIL, pem, der, i;
	STACK_OF(X509) *certs = NULL;
	BIO *bio = NULL;
	unsigned char *data;
	long n;

	while ((opt = getopt_long(argc, argv, TOOL_SHORT, opts, NULL)) != -1) {
		if (tool_common_opt(&c, opt, optarg))
			continue;
		switch (opt) {
		case O_TO: to = optarg; break;
		case OPT_HELP: convert_help(); return TOOL_EXIT_OK;
		default: return TOOL_EXIT_USAGE;
		}
	}
	if (optind + 2 != argc) {
		tool_errorf("cert convert needs IN and OUT (see --help)");
		return TOOL_EXIT_USAGE;
	}
	if (to != NULL && strcasecmp(to, "pem") != 0 && strcasecmp(to, "der") != 0) {
		tool_errorf("unknown --to '%s' (pem or der)", to);
		return TOOL_EXIT_USAGE;
	}
	if ((certs = tool_load_certs(argv[optind], &pem)) == NULL)
		goto out;
	der = to != NULL ? strcasecmp(to, "der") == 0 : pem;
	if (der && sk_X509_num(certs) > 1) {
		tool_errorf("%s holds %d certificates; DER holds one (split it, or --to pem)",
		            argv[optind], sk_X509_num(certs));
		goto out;
	}
	if ((bio = BIO_new(BIO_s_mem())) == NULL)
		goto fail;
	for (i = 0; i < sk_X509_num(certs); i++)
		if ((der ? i2d_X509_bio(bio, sk_X509_value(certs, i))
		         : PEM_write_bio_X509(bio, sk_X509_value(certs, i))) != 1)
			goto fail;
	if ((n = BIO_get_mem_data(bio, (char **)&data)) <= 0)
		goto fail;
	ret = tool_write_atomic(argv[optind + 1], data, (size_t)n);
	goto out;
fail:
	tool_ossl_fail("encoding the certificate");
out:
	BIO_free(bio);
	sk_X509_pop_free(certs, X509_free);
	return ret;
}

/* ------------------------------------------------------------------ */
/* Keys                                                                */
/* ------------------------------------------------------------------ */

static int is_pkcs11_uri(const char *s)
{
	return strncasecmp(s, "pkcs11:", 7) == 0;
}

/* The last libp11ca error as one line into @why. */
static void p11ca_why(CK_RV rv, char *why, size_t cap)
{
	const char *msg = p11ca_error_message();

	snprintf(why, cap, "%s", msg[0] != '\0' ? msg : p11ca_rv_name(rv));
}

/*
 * The public half of token key @uri (through libp11ca).  *pctx and *pkey
 * keep the context and key for the caller (cert install stores on them).
 * On failure a one-line reason is in @why.
 */
static EVP_PKEY *token_public(const struct tool_common *c, const char *uri, p11ca_ctx **pctx,
                              p11ca_key **pkey, char *why, size_t cap)
{
	EVP_PKEY *pub = NULL;
	CK_RV rv;

	*pkey = NULL;
	if ((*pctx = tool_ctx_open(c)) == NULL) {
		snprintf(why, cap, "cannot open the PKCS#11 modules");
		return NULL;
	}
	if ((rv = p11ca_key_find(*pctx, uri, pkey)) != CKR_OK ||
	    (rv = p11ca_key_get_public(*pkey, &pub)) != CKR_OK) {
		p11ca_why(rv, why, cap);
		return NULL;
	}
	return pub;
}

/* No passphrase prompt, ever: an encrypted key is a finding, not a question. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf, (void)size, (void)rwflag, (void)u;
	return -1;
}

/* ------------------------------------------------------------------ */
/* cert check                                                          */
/* ------------------------------------------------------------------ */

struct findings {
	int errors, warnings;
};

static void finding(struct findings *f, const char *sev, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
static void finding(struct findings *f, const char *sev, const char *fmt, ...)
{
	va_list ap;

	if (strcmp(sev, "ERROR") == 0)
		f->errors++;
	else if (strcmp(sev, "WARN") == 0)
		f->warnings++;
	printf("%s: ", sev);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

/* Checks a key FILE and returns it (NULL when it cannot be used). */
static EVP_PKEY *check_key_file(struct findings *f, const char *path)
{
	unsigned char *buf;
	size_t len;
	EVP_PKEY *pk = NULL;
	BIO *bio = NULL;
	const unsigned char *p;

	if ((buf = tool_read_file(path, &len)) == NULL) {
		finding(f, "ERROR", "key %s cannot be read", path);
		return NULL;
	}
	if (tool_is_pem(buf, len)) {
		if (len == 0 || buf[len - 1] != '\n')
			finding(f, "ERROR",
			        "key %s does not end with a newline (mobile and remote access "
			        "fails with such a key file)",
			        path);
		else
			finding(f, "OK", "key %s ends with a newline", path);
		if (strstr((char *)buf, "-----BEGIN ENCRYPTED PRIVATE KEY-----") != NULL ||
		    strstr((char *)buf, "Proc-Type: 4,ENCRYPTED") != NULL) {
			finding(f, "ERROR",
			        "key %s is passphrase-protected; the appliance needs it without a "
			        "passphrase (openssl pkey -in KEY -out PLAIN)",
			        path);
			goto out;
		}
		finding(f, "OK", "key %s is not passphrase-protected", path);
		if ((bio = BIO_new_mem_buf(buf, (int)len)) != NULL)
			pk = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
	} else {
		finding(f, "WARN", "key %s is not PEM; the appliance takes PEM key files", path);
		p = buf;
		pk = d2i_AutoPrivateKey(NULL, &p, (long)len);
	}
	if (pk == NULL)
		finding(f, "ERROR", "key %s does not hold a private key that can be loaded", path);
	else
		finding(f, "OK", "key %s loads (%s, %d bits)", path, EVP_PKEY_get0_type_name(pk),
		        EVP_PKEY_get_bits(pk));
out:
	ERR_clear_error();
	BIO_free(bio);
	free(buf);
	return pk;
}

static int has_wildcard(const char *s)
{
	return strchr(s, '*') != NULL;
}

/* The CN, or NULL; malloc'ed UTF-8. */
static char *get_cn(X509 *x)
{
	X509_NAME *n = X509_get_subject_name(x);
	int i = X509_NAME_get_index_by_NID(n, NID_commonName, -1);
	unsigned char *utf8 = NULL;
	char *cn = NULL;
	int len;

	if (i < 0)
		return NULL;
	len = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(n, i)));
	if (len >= 0 && (cn = malloc((size_t)len + 1)) != NULL) {
		memcpy(cn, utf8, (size_t)len);
		cn[len] = '\0';
	}
	OPENSSL_free(utf8);
	return cn;
}

/* Whether DNS:@name is one of @sans. */
static int san_has(const struct strs *sans, const char *name)
{
	size_t i;

	for (i = 0; i < sans->n; i++)
		if (strncmp(sans->v[i], "DNS:", 4) == 0 && strcasecmp(sans->v[i] + 4, name) == 0)
			return 1;
	return 0;
}

/* --at: YYYY-MM-DD, "YYYY-MM-DD HH:MM[:SS]" or YYYY-MM-DDTHH:MM[:SS][Z] (UTC), @EPOCH */
static int parse_date(const char *s, time_t *out)
{
	struct tm tm;
	int y, mo, d, h = 0, mi = 0, sec = 0, n = 0;
	char sep;
	long long e;

	if (s[0] == '@') {
		if (sscanf(s + 1, "%lld%n", &e, &n) != 1 || s[1 + n] != '\0')
			return 0;
		*out = (time_t)e;
		return 1;
	}
	if (sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3)
		return 0;
	s += n;
	if (*s != '\0') {
		n = 0;
		if (sscanf(s, "%c%2d:%2d%n", &sep, &h, &mi, &n) != 3 || (sep != 'T' && sep != ' '))
			return 0;
		s += n;
		if (*s == ':') {
			n = 0;
			if (sscanf(s, ":%2d%n", &sec, &n) != 1)
				return 0;
			s += n;
		}
		if (*s == 'Z')
			s++;
		if (*s != '\0')
			return 0;
	}
	if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60 || y < 1970)
		return 0;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	*out = timegm(&tm);
	return 1;
}

/* The validity window of @x at @at. */
static void check_validity(struct findings *f, X509 *x, const char *what, time_t at, int leaf)
{
	char nb[32], na[32];
	int days = 0, secs = 0;
	ASN1_TIME *t = ASN1_TIME_set(NULL, at);

	time_string(X509_get0_notBefore(x), nb, sizeof(nb));
	time_string(X509_get0_notAfter(x), na, sizeof(na));
	if (X509_cmp_time(X509_get0_notBefore(x), &at) > 0)
		finding(f, "ERROR", "%s is not valid yet (from %s)", what, nb);
	else if (X509_cmp_time(X509_get0_notAfter(x), &at) < 0)
		finding(f, "ERROR", "%s expired on %s", what, na);
	else if (t != NULL && ASN1_TIME_diff(&days, &secs, t, X509_get0_notAfter(x)) == 1 &&
	         days < EXPIRY_WARN_DAYS)
		finding(f, "WARN", "%s expires in %d day%s (%s)", what, days, days == 1 ? "" : "s",
		        na);
	else if (leaf)
		finding(f, "OK", "%s is valid from %s to %s", what, nb, na);
	ASN1_TIME_free(t);
}

/* The chain from @leaf to a certificate of @bundle. */
static void check_chain(struct findings *f, X509 *leaf, STACK_OF(X509) *untrusted,
                        const char *bundle, time_t at)
{
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *vctx = X509_STORE_CTX_new();
	STACK_OF(X509) *chain;
	int i, err, depth;

	if (store == NULL || vctx == NULL) {
		finding(f, "ERROR", "out of memory checking the chain");
		goto out;
	}
	if (X509_STORE_load_file(store, bundle) != 1) {
		finding(f, "ERROR", "trust bundle %s cannot be read (no PEM certificates there?)",
		        bundle);
		goto out;
	}
	if (X509_STORE_CTX_init(vctx, store, leaf, untrusted) != 1) {
		finding(f, "ERROR", "out of memory checking the chain");
		goto out;
	}
	/* the validity windows are findings of their own */
	X509_STORE_CTX_set_flags(vctx, X509_V_FLAG_NO_CHECK_TIME);
	X509_STORE_CTX_set_time(vctx, 0, at);
	if (X509_verify_cert(vctx) != 1) {
		err = X509_STORE_CTX_get_error(vctx);
		depth = X509_STORE_CTX_get_error_depth(vctx);
		if (err == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY ||
		    err == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT)
			finding(f, "ERROR",
			        "chain incomplete: the issuer of certificate %d is neither in "
			        "--chain nor in the trust bundle %s (%s)",
			        depth, bundle, X509_verify_cert_error_string(err));
		else
			finding(f, "ERROR", "chain does not verify at certificate %d: %s", depth,
			        X509_verify_cert_error_string(err));
		goto out;
	}
	chain = X509_STORE_CTX_get0_chain(vctx);
	finding(f, "OK", "chain complete: %d certificate%s up to a CA in %s",
	        sk_X509_num(chain), sk_X509_num(chain) == 1 ? "" : "s", bundle);
	for (i = 1; i < sk_X509_num(chain); i++) {
		char *n = name_string(X509_get_subject_name(sk_X509_value(chain, i)));
		char what[512];
		snprintf(what, sizeof(what), "CA certificate '%s'", n ? n : "?");
		check_validity(f, sk_X509_value(chain, i), what, at, 0);
		free(n);
	}
out:
	ERR_clear_error();
	X509_STORE_CTX_free(vctx);
	X509_STORE_free(store);
}

static void check_help(void)
{
	printf("usage: p11ca cert check CERT [--key URI|FILE] [--chain FILE] [--bundle FILE]\n"
	       "                        [--fqdn FQDN [--cluster FQDN [--peer FQDN]...]]\n"
	       "                        [--at DATE]\n\n"
	       "Checks what an appliance (Expressway) checks when a server certificate is\n"
	       "uploaded, one line per finding, \"OK:\", \"WARN:\" or \"ERROR:\"; exit 1 on\n"
	       "any ERROR.  CERT is PEM (more certificates after the first are taken as\n"
	       "chain) or DER.\n\n"
	       "  --key URI|FILE   the private key: a pkcs11: URI (--module, --pin-file)\n"
	       "                   or a PEM file, which must end with a newline and not\n"
	       "                   be passphrase-protected; it must match the certificate\n"
	       "  --chain FILE     intermediate CA certificates (untrusted)\n"
	       "  --bundle FILE    trusted CA certificates (default " DEFAULT_BUNDLE ")\n"
	       "  --fqdn F         CN = F and DNS:F in the SAN\n"
	       "  --cluster C      DNS:C in the SAN (the CN may be C)\n"
	       "  --peer P         (repeatable) DNS:P in the SAN\n"
	       "  --at DATE        check the validity window at DATE (YYYY-MM-DD,\n"
	       "                   YYYY-MM-DDTHH:MM:SSZ or @EPOCH; UTC) instead of now\n\n"
	       "Also: an RSA key above %d bits is an error (SIP TLS zones fail with\n"
	       "8192-bit keys); the extended key usage must have serverAuth and\n"
	       "clientAuth; no wildcard names; the certificate and its CAs must be\n"
	       "inside their validity windows (a warning under %d days left).\n",
	       RSA_MAX_BITS, EXPIRY_WARN_DAYS);
}

int tool_cert_check(int argc, char **argv)
{
	enum { O_KEY = OPT_FIRST_LOCAL, O_CHAIN, O_BUNDLE, O_FQDN, O_CLUSTER, O_PEER, O_AT };
	static const struct option opts[] = { TOOL_COMMON_OPTIONS,
		                               { "key", required_argument, NULL, O_KEY },
		                               { "chain", required_argument, NULL, O_CHAIN },
		                               { "bundle", required_argument, NULL, O_BUNDLE },
		                               { "fqdn", required_argument, NULL, O_FQDN },
		                               { "cluster", required_argument, NULL, O_CLUSTER },
		                               { "peer", required_argument, NULL, O_PEER },
		                               { "at", required_argument, NULL, O_AT },
		                               { 0 } };
	struct tool_common c = { 0 };
	const char *key = NULL, *chain_file = NULL, *bundle = DEFAULT_BUNDLE, *fqdn = NULL;
	const char *cluster = NULL, *at_arg = NULL, *cert_file, **peers = NULL, **np;
	size_t npeers = 0, i;
	int opt, ret = TOOL_EXIT_USAGE, pem, xku, wild = 0;
	time_t at = time(NULL);
	struct findings f = { 0 };
	struct cert_info ci;
	STACK_OF(X509) *certs = NULL, *untrusted = NULL, *more = NULL;
	X509 *leaf;
	EVP_PKEY *pk = NULL, *cpk;
	p11ca_ctx *ctx = NULL;
	p11ca_key *tkey = NULL;
	char *cn = NULL;

	memset(&ci, 0, sizeof(ci));
	while ((opt = getopt_long(argc, argv, TOOL_SHORT, opts, NULL)) != -1) {
		if (tool_common_opt(&c, opt, optarg))
			continue;
		switch (opt) {
		case O_KEY: key = optarg; break;
		case O_CHAIN: chain_file = optarg; break;
		case O_BUNDLE: bundle = optarg; break;
		case O_FQDN: fqdn = optarg; break;
		case O_CLUSTER: cluster = optarg; break;
		case O_AT: at_arg = optarg; break;
		case O_PEER:
			if ((np = realloc(peers, (npeers + 1) * sizeof(*np))) == NULL) {
				tool_errorf("out of memory");
				ret = TOOL_EXIT_FAIL;
				goto out;
			}
			peers = np;
			peers[npeers++] = optarg;
			break;
		case OPT_HELP: check_help(); ret = TOOL_EXIT_OK; goto out;
		default: goto out;
		}
	}
	if (optind + 1 != argc) {
		tool_errorf("cert check needs one CERT (see --help)");
		goto out;
	}
	if (at_arg != NULL && !parse_date(at_arg, &at)) {
		tool_errorf("--at '%s' is not a date (YYYY-MM-DD, YYYY-MM-DDTHH:MM:SSZ or @EPOCH)",
		            at_arg);
		goto out;
	}
	cert_file = argv[optind];
	ret = TOOL_EXIT_FAIL;

	/* the certificate file */
	{
		unsigned char *buf;
		size_t len;
		char why[256];

		if ((buf = tool_read_file(cert_file, &len)) == NULL)
			goto out;
		certs = parse_certs(buf, len, &pem, why, sizeof(why));
		free(buf);
		if (certs == NULL) {
			finding(&f, "ERROR", "%s: %s", cert_file, why);
			goto done;
		}
	}
	leaf = sk_X509_value(certs, 0);
	if (pem)
		finding(&f, "OK", "%s: well-formed PEM, %d certificate%s", cert_file,
		        sk_X509_num(certs), sk_X509_num(certs) == 1 ? "" : "s");
	else
		finding(&f, "WARN", "%s is DER; the appliance takes PEM (p11ca cert convert)",
		        cert_file);
	if (!info_get(leaf, at, &ci)) {
		tool_errorf("out of memory");
		goto out;
	}

	/* the key */
	cpk = X509_get0_pubkey(leaf);
	if (key != NULL) {
		if (is_pkcs11_uri(key)) {
			char why[512];
			if ((pk = token_public(&c, key, &ctx, &tkey, why, sizeof(why))) == NULL)
				finding(&f, "ERROR", "--key: %s", why);
		} else
			pk = check_key_file(&f, key);
		if (pk != NULL && cpk != NULL) {
			if (EVP_PKEY_eq(pk, cpk) == 1)
				finding(&f, "OK", "the key matches the certificate");
			else
				finding(&f, "ERROR", "the key does not match the certificate (%s)",
				        key);
		}
		ERR_clear_error();
	}
	if (cpk == NULL)
		finding(&f, "ERROR", "the certificate's public key cannot be decoded");
	else if (EVP_PKEY_is_a(cpk, "RSA") && ci.bits > RSA_MAX_BITS)
		finding(&f, "ERROR",
		        "RSA-%d key: SIP TLS zones may fail to become active with keys above %d "
		        "bits; use a %d-bit key",
		        ci.bits, RSA_MAX_BITS, RSA_MAX_BITS);
	else
		finding(&f, "OK", "key %s, %d bits", ci.key, ci.bits);

	/* usage */
	xku = X509_get_extended_key_usage(leaf);
	if (!ci.has_eku)
		finding(&f, "WARN", "no extended key usage extension: give the certificate "
		                    "serverAuth and clientAuth explicitly");
	else if ((xku & XKU_SSL_SERVER) && (xku & XKU_SSL_CLIENT))
		finding(&f, "OK", "extended key usage has serverAuth and clientAuth");
	else
		finding(&f, "ERROR",
		        "extended key usage lacks %s%s%s (a server certificate needs TLS Web "
		        "Server Authentication and TLS Web Client Authentication)",
		        (xku & XKU_SSL_SERVER) ? "" : "serverAuth",
		        !(xku & XKU_SSL_SERVER) && !(xku & XKU_SSL_CLIENT) ? " and " : "",
		        (xku & XKU_SSL_CLIENT) ? "" : "clientAuth");
	if (X509_check_ca(leaf) > 0 && ci.bc[0] != '\0' && strncmp(ci.bc, "CA:TRUE", 7) == 0)
		finding(&f, "WARN", "the certificate is a CA certificate (%s)", ci.bc);
	{
		int nid = NID_undef;
		if (X509_get_signature_info(leaf, &nid, NULL, NULL, NULL) == 1 &&
		    (nid == NID_sha1 || nid == NID_md5))
			finding(&f, "WARN", "the certificate is signed with %s, which is weak",
			        OBJ_nid2sn(nid));
	}

	/* names */
	cn = get_cn(leaf);
	if (cn != NULL && has_wildcard(cn)) {
		finding(&f, "ERROR", "CN '%s' is a wildcard; wildcard certificates are not "
		                     "supported", cn);
		wild = 1;
	}
	for (i = 0; i < ci.sans.n; i++)
		if (has_wildcard(ci.sans.v[i])) {
			finding(&f, "ERROR", "SAN %s is a wildcard; wildcard certificates are not "
			                     "supported", ci.sans.v[i]);
			wild = 1;
		}
	if (!wild)
		finding(&f, "OK", "no wildcard names");
	if (fqdn != NULL) {
		if (cn != NULL && (strcasecmp(cn, fqdn) == 0 ||
		                   (cluster != NULL && strcasecmp(cn, cluster) == 0)))
			finding(&f, "OK", "CN '%s' fits --fqdn%s", cn, cluster ? "/--cluster" : "");
		else
			finding(&f, "ERROR", "CN is '%s', not the FQDN %s", cn ? cn : "(none)",
			        fqdn);
	}
	{
		const char *want[3] = { fqdn, cluster, NULL };
		const char *opt_name[3] = { "--fqdn", "--cluster", NULL };
		size_t k;

		for (k = 0; k < 2 + npeers; k++) {
			const char *w = k < 2 ? want[k] : peers[k - 2];
			if (w == NULL)
				continue;
			if (san_has(&ci.sans, w))
				finding(&f, "OK", "SAN has DNS:%s", w);
			else if (k == 0 && cluster == NULL && npeers == 0 && ci.sans.n == 0)
				finding(&f, "WARN",
				        "no SAN: current TLS clients check only the SAN; add "
				        "DNS:%s",
				        w);
			else
				finding(&f, "ERROR", "SAN lacks DNS:%s (%s)", w,
				        k < 2 ? opt_name[k] : "--peer");
		}
	}

	/* chain and validity */
	if ((untrusted = sk_X509_new_null()) == NULL)
		goto oom;
	for (i = 1; i < (size_t)sk_X509_num(certs); i++)
		if (!sk_X509_push(untrusted, sk_X509_value(certs, (int)i)))
			goto oom;
	if (chain_file != NULL) {
		if ((more = tool_load_certs(chain_file, &pem)) == NULL)
			finding(&f, "ERROR", "--chain %s cannot be used", chain_file);
		for (i = 0; more != NULL && i < (size_t)sk_X509_num(more); i++)
			if (!sk_X509_push(untrusted, sk_X509_value(more, (int)i)))
				goto oom;
	}
	check_chain(&f, leaf, untrusted, bundle, at);
	check_validity(&f, leaf, "the certificate", at, 1);
done:
	printf("%d error%s, %d warning%s\n", f.errors, f.errors == 1 ? "" : "s", f.warnings,
	       f.warnings == 1 ? "" : "s");
	ret = f.errors > 0 ? TOOL_EXIT_FAIL : TOOL_EXIT_OK;
	if (fflush(stdout) != 0)
		ret = TOOL_EXIT_FAIL;
	goto out;
oom:
	tool_errorf("out of memory");
out:
	free(cn);
	info_free(&ci);
	EVP_PKEY_free(pk);
	p11ca_key_free(tkey);
	p11ca_ctx_free(ctx);
	sk_X509_free(untrusted);
	sk_X509_pop_free(more, X509_free);
	sk_X509_pop_free(certs, X509_free);
	free(peers);
	return ret;
}

/* ------------------------------------------------------------------ */
/* cert install                                                        */
/* ------------------------------------------------------------------ */

static void install_help(void)
{
	printf("usage: p11ca cert install --key URI CERT\n\n"
	       "Stores the certificate in CERT (PEM or DER; the first one of a PEM file)\n"
	       "on the token next to its key, with the key's CKA_ID and label, after\n"
	       "checking that the certificate's public key is the key's.  Prints the\n"
	       "stored certificate's URI.\n");
}

int tool_cert_install(int argc, char **argv)
{
	enum { O_KEY = OPT_FIRST_LOCAL };
	static const struct option opts[] = { TOOL_COMMON_OPTIONS,
		                               { "key", required_argument, NULL, O_KEY },
		                               { 0 } };
	struct tool_common c = { 0 };
	const char *key = NULL;
	int opt, ret = TOOL_EXIT_FAIL, pem;
	STACK_OF(X509) *certs = NULL;
	EVP_PKEY *pub = NULL;
	p11ca_ctx *ctx = NULL;
	p11ca_key *tkey = NULL;
	char *uri = NULL, *t, why[512];
	struct p11ca_found *found = NULL;
	size_t nfound = 0, i;
	int same = 0;
	X509 *x;
	CK_RV rv;

	while ((opt = getopt_long(argc, argv, TOOL_SHORT, opts, NULL)) != -1) {
		if (tool_common_opt(&c, opt, optarg))
			continue;
		switch (opt) {
		case O_KEY: key = optarg; break;
		case OPT_HELP: install_help(); return TOOL_EXIT_OK;
		default: return TOOL_EXIT_USAGE;
		}
	}
	if (optind + 1 != argc || key == NULL) {
		tool_errorf("cert install needs --key URI and one CERT (see --help)");
		return TOOL_EXIT_USAGE;
	}
	if (!is_pkcs11_uri(key)) {
		tool_errorf("--key must be a pkcs11: URI");
		return TOOL_EXIT_USAGE;
	}
	if ((certs = tool_load_certs(argv[optind], &pem)) == NULL)
		goto out;
	x = sk_X509_value(certs, 0);
	if (sk_X509_num(certs) > 1)
		tool_warnf("%s holds %d certificates; storing the first", argv[optind],
		           sk_X509_num(certs));
	if ((pub = token_public(&c, key, &ctx, &tkey, why, sizeof(why))) == NULL) {
		tool_errorf("--key: %s", why);
		goto out;
	}
	if (X509_get0_pubkey(x) == NULL || EVP_PKEY_eq(pub, X509_get0_pubkey(x)) != 1) {
		ERR_clear_error();
		tool_errorf("the certificate does not match the key %s; nothing stored", key);
		goto out;
	}
	if ((uri = p11ca_key_get_uri(tkey)) == NULL) {
		tool_errorf("out of memory");
		goto out;
	}
	/* the certificate shares the key's id and label */
	if ((t = strstr(uri, "type=private")) != NULL)
		memmove(t + 9, t + 12, strlen(t + 12) + 1), memcpy(t + 5, "cert", 4);
	/* the same certificate twice is one object; others are reported */
	if ((rv = p11ca_lookup(ctx, uri, P11CA_LOOKUP_CERT, &found, &nfound)) != CKR_OK) {
		tool_fail("looking for certificates of the key", rv);
		goto out;
	}
	for (i = 0; i < nfound; i++)
		if (found[i].cert != NULL && X509_cmp(found[i].cert, x) == 0)
			same = 1;
	if (same)
		tool_warnf("the certificate is already on the token; not stored again");
	else {
		if (nfound > 0)
			tool_warnf("the token already holds %zu other certificate%s for this key "
			           "(older ones?); they are kept",
			           nfound, nfound == 1 ? "" : "s");
		if ((rv = p11ca_key_store_certificate(tkey, x)) != CKR_OK) {
			tool_fail("storing the certificate", rv);
			goto out;
		}
	}
	printf("%s\n", uri);
	ret = fflush(stdout) == 0 ? TOOL_EXIT_OK : TOOL_EXIT_FAIL;
out:
	p11ca_found_free(found, nfound);
	free(uri);
	EVP_PKEY_free(pub);
	p11ca_key_free(tkey);
	p11ca_ctx_free(ctx);
	sk_X509_pop_free(certs, X509_free);
	return ret;
}

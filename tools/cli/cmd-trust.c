/* cmd-trust.c - p11ca trust: a PEM bundle of trusted CA certificates. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>
#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "pki.h"
#include "result.h"
#include "tool.h"

/* What `trust reset` installs without --from (Debian's ca-certificates). */
#include "cmd-trust.h"

enum { O_BUNDLE = OPT_FIRST_LOCAL, O_JSON, O_FINGERPRINT, O_SUBJECT, O_ALL, O_FROM, O_YES };

/* ------------------------------------------------------------------ */
/* Matching                                                            */
/* ------------------------------------------------------------------ */

/*
 * Normalises a fingerprint (colons and spaces dropped, lowercase) into
 * @out (2*FP_LEN+1); 0 when it has another character or too many digits.
 */
static int norm_fp(const char *in, char *out)
{
	size_t n = 0;

	for (; *in; in++) {
		unsigned char ch = (unsigned char)*in;
		if (ch == ':' || ch == ' ')
			continue;
		if (!isxdigit(ch) || n == 2 * FP_LEN)
			return 0;
		out[n++] = (char)tolower(ch);
	}
	out[n] = '\0';
	return 1;
}

/* Case-insensitive (ASCII) substring test. */
static int contains_ci(const char *hay, const char *needle)
{
	size_t n = strlen(needle), i;

	for (; *hay; hay++) {
		for (i = 0; i < n; i++)
			if (tolower((unsigned char)hay[i]) != tolower((unsigned char)needle[i]))
				break;
		if (i == n)
			return 1;
	}
	return n == 0;
}

/* Counts the distinct fingerprints among the marked certificates. */
static size_t distinct_marked(const struct certs *cs)
{
	size_t i, j, n = 0;

	for (i = 0; i < cs->n; i++) {
		if (!cs->v[i].drop)
			continue;
		for (j = 0; j < i; j++)
			if (cs->v[j].drop && strcmp(cs->v[j].fphex, cs->v[i].fphex) == 0)
				break;
		if (j == i)
			n++;
	}
	return n;
}

/* Marks the certificates whose fingerprint starts with @hex; returns the count. */
static size_t mark_fp(struct certs *cs, const char *hex)
{
	size_t i, n = 0, len = strlen(hex);

	for (i = 0; i < cs->n; i++)
		if (strncmp(cs->v[i].fphex, hex, len) == 0) {
			cs->v[i].drop = 1;
			n++;
		}
	return n;
}

static size_t mark_subject(struct certs *cs, const char *sub)
{
	size_t i, n = 0;

	for (i = 0; i < cs->n; i++)
		if (contains_ci(cs->v[i].subject, sub)) {
			cs->v[i].drop = 1;
			n++;
		}
	return n;
}

/* ------------------------------------------------------------------ */
/* Options: one handler for the verbs, each with its own table         */
/* ------------------------------------------------------------------ */

struct topts {
	const char *bundle, *fingerprint, *subject, *from;
	int json, all, yes;
};

static int trust_opt(int id, const char *arg, void *data)
{
	struct topts *o = data;

	switch (id) {
	case O_BUNDLE: o->bundle = arg; break;
	case O_JSON: o->json = 1; break;
	case O_FINGERPRINT: o->fingerprint = arg; break;
	case O_SUBJECT: o->subject = arg; break;
	case O_ALL: o->all = 1; break;
	case O_FROM: o->from = arg; break;
	case O_YES: o->yes = 1; break;
	default: return TOOL_EXIT_USAGE;
	}
	return TOOL_EXIT_OK;
}

/* Every verb needs --bundle; reports and returns 0 when it is missing or empty. */
static int bundle_given(const char *verb, const struct topts *o)
{
	if (o->bundle != NULL && *o->bundle != '\0')
		return 1;
	tool_errorf("trust %s: --bundle FILE is required", verb);
	return 0;
}

/* ------------------------------------------------------------------ */
/* trust add                                                           */
/* ------------------------------------------------------------------ */

static int in_set(const struct certs *cs, size_t upto, const char *fphex)
{
	size_t i;

	for (i = 0; i < upto; i++)
		if (strcmp(cs->v[i].fphex, fphex) == 0)
			return 1;
	return 0;
}

int tool_trust_add(int argc, char **argv)
{
	static const struct tool_opt opts[] = {
		{ "bundle", required_argument, O_BUNDLE },
		{ NULL, 0, 0 },
	};
	static const char usage[] =
	    "usage: p11ca trust add --bundle FILE CERT|CRL...\n\n"
	    "Appends CA certificates (PEM, several per file, or DER) to the PEM bundle\n"
	    "FILE, creating it if missing.  A certificate already in the bundle (same\n"
	    "SHA-256 fingerprint) is reported and skipped.  A certificate without\n"
	    "basicConstraints CA:TRUE is refused, and then nothing is added.  A CRL file\n"
	    "(PEM X509 CRL or DER) is embedded as an X509 CRL block: it must be signed by\n"
	    "a CA of the bundle, and replaces that CA's older CRL in the bundle (a newer\n"
	    "one there refuses it).  The bundle's CRLs are kept; it is replaced\n"
	    "atomically.\n";
	struct tool_common c = { 0 };
	struct certs bundle = { 0 }, add = { 0 }, in;
	struct topts o = { 0 };
	struct newcrl *ncrls = NULL;
	size_t nncrl = 0;
	int *dropcrl = NULL;
	BIO *b = NULL;
	char *pem;
	unsigned char *buf = NULL;
	size_t i, j, nnew = 0, len, start;
	long pemlen;
	int r, ret, missing = 0, expired, isc;
	char when[32];
	X509_CRL *crl;

	if ((r = tool_parse(argc, argv, opts, usage, &c, trust_opt, &o)) != TOOL_PARSE_GO)
		return r;
	if (!bundle_given("add", &o))
		return TOOL_EXIT_USAGE;
	ret = TOOL_EXIT_FAIL;
	if (optind == argc) {
		tool_errorf("trust add: no certificate file given");
		return TOOL_EXIT_USAGE;
	}
	if (!trust_load_bundle(o.bundle, &bundle, 1, &missing))
		goto out;
	if ((ncrls = calloc((size_t)argc, sizeof(*ncrls))) == NULL ||
	    (dropcrl = calloc(bundle.ncrls + 1, sizeof(*dropcrl))) == NULL)
		goto oom;
	/* every input decoded and checked before anything is written */
	for (i = (size_t)optind; i < (size_t)argc; i++) {
		if ((isc = trust_input_crl(argv[i], &crl)) < 0)
			goto out;
		if (isc) {
			ncrls[nncrl].crl = crl;
			ncrls[nncrl++].file = argv[i];
			continue;
		}
		memset(&in, 0, sizeof(in));
		if (!trust_load_input(argv[i], &in)) {
			trust_certs_free(&in);
			goto out;
		}
		for (j = 0; j < in.n; j++) {
			uint32_t fl = X509_get_extension_flags(in.v[j].x);
			if (fl & EXFLAG_INVALID) {
				tool_errorf("%s: certificate %zu (%s) has invalid extensions; "
				            "nothing added",
				            argv[i], j + 1, in.v[j].subject);
				trust_certs_free(&in);
				goto out;
			}
			if (!(fl & EXFLAG_BCONS) || !(fl & EXFLAG_CA)) {
				tool_errorf("%s: certificate %zu (%s) is not a CA certificate "
				            "(no basicConstraints CA:TRUE); nothing added",
				            argv[i], j + 1, in.v[j].subject);
				trust_certs_free(&in);
				goto out;
			}
			if (!X509_up_ref(in.v[j].x) || !trust_certs_push(&add, in.v[j].x, 0)) {
				tool_errorf("out of memory");
				trust_certs_free(&in);
				goto out;
			}
			add.v[add.n - 1].end = i; /* the argv index, for messages */
		}
		trust_certs_free(&in);
	}
	if ((b = BIO_new(BIO_s_mem())) == NULL)
		goto oom;
	for (i = 0; i < add.n; i++) {
		struct tcert *t = &add.v[i];
		if (in_set(&bundle, bundle.n, t->fphex) || in_set(&add, i, t->fphex)) {
			printf("already present: %s  %s\n", t->fp, t->subject);
			t->drop = 1;
			continue;
		}
		trust_not_after(t->x, when, sizeof(when), &expired);
		if (expired)
			tool_warnf("%s: %s expired on %s (added anyway)", argv[t->end], t->subject,
			           when);
		if (!PEM_write_bio_X509(b, t->x))
			goto oom;
		nnew++;
		/* a CRL given with its CA is checked against it */
		if (!X509_up_ref(t->x) || !trust_certs_push(&bundle, t->x, 0))
			goto oom;
	}
	for (i = 0; i < nncrl; i++) {
		if ((r = trust_crl_fits(&bundle, dropcrl, &ncrls[i])) < 0)
			goto out;
		if (r == 0) {
			X509_CRL_free(ncrls[i].crl);
			ncrls[i].crl = NULL;
			continue;
		}
		if (!PEM_write_bio_X509_CRL(b, ncrls[i].crl))
			goto oom;
		nnew++;
	}
	if (nnew > 0 || missing) {
		pemlen = BIO_get_mem_data(b, &pem);
		if (pemlen < 0)
			goto oom;
		len = bundle.rawlen + 1 + (size_t)pemlen;
		if ((buf = malloc(len)) == NULL)
			goto oom;
		/* the bundle's bytes, but for the CRLs replaced */
		for (len = 0, start = 0, i = 0; i < bundle.ncrls; i++) {
			if (!dropcrl[i])
				continue;
			memcpy(buf + len, bundle.raw + start, bundle.crls[i].start - start);
			len += bundle.crls[i].start - start;
			start = bundle.crls[i].end;
		}
		if (bundle.rawlen > start) /* a new bundle has no bytes (raw NULL) */
			memcpy(buf + len, bundle.raw + start, bundle.rawlen - start);
		len += bundle.rawlen - start;
		if (len > 0 && buf[len - 1] != '\n')
			buf[len++] = '\n';
		memcpy(buf + len, pem, (size_t)pemlen);
		len += (size_t)pemlen;
		if (tool_write_atomic_flags(o.bundle, buf, len, TOOL_OUT_FOLLOW) != TOOL_EXIT_OK)
			goto out;
	}
	for (i = 0; i < add.n; i++)
		if (!add.v[i].drop)
			printf("added: %s  %s\n", add.v[i].fp, add.v[i].subject);
	for (i = 0; i < nncrl; i++) {
		struct crl_desc d;

		if (ncrls[i].crl == NULL)
			continue;
		trust_crl_describe(ncrls[i].crl, &d);
		printf("added: CRL of %s, number %s, next update %s\n", d.issuer, d.number,
		       d.has_next ? d.next_update : "none");
	}
	ret = TOOL_EXIT_OK;
	goto out;
oom:
	tool_errorf("out of memory");
out:
	for (i = 0; ncrls != NULL && i < nncrl; i++)
		X509_CRL_free(ncrls[i].crl);
	free(ncrls);
	free(dropcrl);
	free(buf);
	BIO_free(b);
	trust_certs_free(&add);
	trust_certs_free(&bundle);
	return ret;
}

/* ------------------------------------------------------------------ */
/* trust list                                                          */
/* ------------------------------------------------------------------ */

int tool_trust_list(int argc, char **argv)
{
	static const struct tool_opt opts[] = {
		{ "bundle", required_argument, O_BUNDLE },
		{ "json", no_argument, O_JSON },
		{ NULL, 0, 0 },
	};
	static const char usage[] =
	    "usage: p11ca trust list --bundle FILE [--json]\n\n"
	    "Lists the bundle's certificates, one a line: SHA-256 fingerprint, notAfter\n"
	    "(EXPIRED when past), subject and issuer (/C=../O=../CN=..); then the CRLs\n"
	    "embedded in it (X509 CRL blocks), one a line: \"CRL  ISSUER  number N  next\n"
	    "update TIME\" (EXPIRED when past) and the entry count.  --json prints an array\n"
	    "of objects: certificates {type \"certificate\", fingerprint (lowercase hex),\n"
	    "subject, issuer, not_after, expired}, then CRLs {type \"crl\", issuer,\n"
	    "crl_number (hex or null), this_update, next_update (or null), expired,\n"
	    "entries}.\n";
	struct tool_common c = { 0 };
	struct certs cs = { 0 };
	struct topts o = { 0 };
	char when[32], *issuer;
	json_t *arr = NULL;
	size_t i;
	int r, ret, expired;

	if ((r = tool_parse(argc, argv, opts, usage, &c, trust_opt, &o)) != TOOL_PARSE_GO)
		return r;
	if (!bundle_given("list", &o))
		return TOOL_EXIT_USAGE;
	ret = TOOL_EXIT_FAIL;
	if (optind != argc) {
		tool_errorf("trust list takes no arguments");
		return TOOL_EXIT_USAGE;
	}
	if (!trust_load_bundle(o.bundle, &cs, 0, NULL))
		goto out;
	/* JSON is printed whole at the end: on a failure stdout holds nothing */
	if (o.json && (arr = json_array()) == NULL)
		goto oom;
	for (i = 0; i < cs.n; i++) {
		const struct tcert *t = &cs.v[i];
		json_t *obj;

		if (!o.json) {
			if (!trust_print_line(t))
				goto oom;
			continue;
		}
		if ((issuer = trust_name_str(X509_get_issuer_name(t->x))) == NULL)
			goto oom;
		trust_not_after(t->x, when, sizeof(when), &expired);
		obj = json_pack("{s:s, s:s, s:s, s:s, s:s, s:b}", "type", "certificate",
		                "fingerprint", t->fphex, "subject", t->subject, "issuer", issuer,
		                "not_after", when, "expired", expired);
		free(issuer);
		if (obj == NULL || json_array_append_new(arr, obj) != 0)
			goto oom;
	}
	for (i = 0; i < cs.ncrls; i++) {
		struct crl_desc d;
		json_t *obj;

		trust_crl_describe(cs.crls[i].crl, &d);
		if (!o.json) {
			printf("CRL  %s  number %s  next update %s%s  %d entr%s\n", d.issuer,
			       d.number, d.has_next ? d.next_update : "none",
			       d.expired ? " EXPIRED" : "", d.entries,
			       d.entries == 1 ? "y" : "ies");
			continue;
		}
		obj = json_pack("{s:s, s:s, s:s?, s:s, s:s?, s:b, s:i}", "type", "crl", "issuer",
		                d.issuer, "crl_number", strcmp(d.number, "none") ? d.number : NULL,
		                "this_update", d.this_update, "next_update",
		                d.has_next ? d.next_update : NULL, "expired", d.expired, "entries",
		                d.entries);
		if (obj == NULL || json_array_append_new(arr, obj) != 0)
			goto oom;
	}
	if (o.json && (json_dumpf(arr, stdout, JSON_INDENT(2)) != 0 || putchar('\n') == EOF))
		goto oom;
	if (fflush(stdout) != 0) {
		tool_errorf("cannot write the listing");
		goto out;
	}
	ret = TOOL_EXIT_OK;
	goto out;
oom:
	tool_errorf("out of memory");
out:
	json_decref(arr);
	trust_certs_free(&cs);
	return ret;
}

/* ------------------------------------------------------------------ */
/* trust show                                                          */
/* ------------------------------------------------------------------ */

int tool_trust_show(int argc, char **argv)
{
	static const struct tool_opt opts[] = {
		{ "bundle", required_argument, O_BUNDLE },
		{ NULL, 0, 0 },
	};
	static const char usage[] =
	    "usage: p11ca trust show --bundle FILE FINGERPRINT|SUBJECT-SUBSTRING\n\n"
	    "Prints the matching certificates in full.  The argument is a SHA-256\n"
	    "fingerprint or a prefix of one (at least 8 hex digits, colons optional,\n"
	    "any case), else a case-insensitive substring of the subject.\n";
	struct tool_common c = { 0 };
	struct certs cs = { 0 };
	struct topts o = { 0 };
	char hex[2 * FP_LEN + 1];
	BIO *out = NULL;
	size_t i, n = 0, shown = 0;
	int r, ret;

	if ((r = tool_parse(argc, argv, opts, usage, &c, trust_opt, &o)) != TOOL_PARSE_GO)
		return r;
	if (!bundle_given("show", &o))
		return TOOL_EXIT_USAGE;
	ret = TOOL_EXIT_FAIL;
	if (optind + 1 != argc) {
		tool_errorf("trust show takes one FINGERPRINT or SUBJECT argument");
		return TOOL_EXIT_USAGE;
	}
	if (!trust_load_bundle(o.bundle, &cs, 0, NULL))
		goto out;
	if (norm_fp(argv[optind], hex) && strlen(hex) >= 8)
		n = mark_fp(&cs, hex);
	if (n == 0)
		n = mark_subject(&cs, argv[optind]);
	if (n == 0) {
		tool_errorf("%s: no certificate matches '%s'", o.bundle, argv[optind]);
		goto out;
	}
	if ((out = BIO_new_fp(stdout, BIO_NOCLOSE)) == NULL) {
		tool_errorf("out of memory");
		goto out;
	}
	for (i = 0; i < cs.n; i++) {
		if (!cs.v[i].drop)
			continue;
		BIO_printf(out, "%sSHA-256 Fingerprint: %s\n", shown++ ? "\n" : "", cs.v[i].fp);
		if (!X509_print_ex(out, cs.v[i].x, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB, 0)) {
			tool_errorf("cannot print certificate %zu of %s", i + 1, o.bundle);
			goto out;
		}
	}
	(void)BIO_flush(out);
	ret = TOOL_EXIT_OK;
out:
	BIO_free(out);
	trust_certs_free(&cs);
	return ret;
}

/* ------------------------------------------------------------------ */
/* trust remove                                                        */
/* ------------------------------------------------------------------ */

int tool_trust_remove(int argc, char **argv)
{
	static const struct tool_opt opts[] = {
		{ "bundle", required_argument, O_BUNDLE },
		{ "fingerprint", required_argument, O_FINGERPRINT },
		{ "subject", required_argument, O_SUBJECT },
		{ "all", no_argument, O_ALL },
		{ NULL, 0, 0 },
	};
	static const char usage[] =
	    "usage: p11ca trust remove --bundle FILE (--fingerprint HEX | --subject TEXT "
	    "[--all])\n\n"
	    "Removes certificates from the bundle, atomically.  --fingerprint takes a\n"
	    "SHA-256 fingerprint or a unique prefix of at least 8 hex digits (colons\n"
	    "optional, any case).  --subject takes a case-insensitive substring of the\n"
	    "subject; when it matches more than one certificate, --all is needed.\n"
	    "Nothing matching is an error.  The bundle's CRLs are kept.\n";
	struct tool_common c = { 0 };
	struct certs cs = { 0 };
	struct topts o = { 0 };
	char hex[2 * FP_LEN + 1];
	unsigned char *buf = NULL;
	size_t i, n, distinct, len = 0, start = 0;
	int r, ret;

	if ((r = tool_parse(argc, argv, opts, usage, &c, trust_opt, &o)) != TOOL_PARSE_GO)
		return r;
	if (!bundle_given("remove", &o))
		return TOOL_EXIT_USAGE;
	ret = TOOL_EXIT_FAIL;
	if (optind != argc) {
		tool_errorf("trust remove takes no arguments (use --fingerprint or --subject)");
		return TOOL_EXIT_USAGE;
	}
	if ((o.fingerprint == NULL) == (o.subject == NULL)) {
		tool_errorf("trust remove needs one of --fingerprint or --subject");
		return TOOL_EXIT_USAGE;
	}
	if (o.fingerprint != NULL && (!norm_fp(o.fingerprint, hex) || strlen(hex) < 8)) {
		tool_errorf("--fingerprint '%s': not a SHA-256 fingerprint or a prefix of at "
		            "least 8 hex digits",
		            o.fingerprint);
		return TOOL_EXIT_USAGE;
	}
	if (o.subject != NULL && *o.subject == '\0') {
		tool_errorf("--subject: empty text");
		return TOOL_EXIT_USAGE;
	}
	if (!trust_load_bundle(o.bundle, &cs, 0, NULL))
		goto out;
	n = o.fingerprint != NULL ? mark_fp(&cs, hex) : mark_subject(&cs, o.subject);
	if (n == 0) {
		tool_errorf("%s: no certificate matches %s '%s'", o.bundle,
		            o.fingerprint != NULL ? "--fingerprint" : "--subject",
		            o.fingerprint != NULL ? o.fingerprint : o.subject);
		goto out;
	}
	distinct = distinct_marked(&cs);
	if (distinct > 1 && o.fingerprint != NULL) {
		tool_errorf("%s: --fingerprint '%s' matches %zu certificates; give more digits",
		            o.bundle, o.fingerprint, distinct);
		goto out;
	}
	if (distinct > 1 && !o.all) {
		tool_errorf("%s: --subject '%s' matches %zu certificates; add --all to remove "
		            "them all, or use --fingerprint",
		            o.bundle, o.subject, distinct);
		goto out;
	}
	/* the kept certificates' bytes as they were, comments before them included */
	if ((buf = malloc(cs.rawlen + 1)) == NULL) {
		tool_errorf("out of memory");
		goto out;
	}
	for (i = 0; i < cs.n; i++) {
		if (!cs.v[i].drop) {
			memcpy(buf + len, cs.raw + start, cs.v[i].end - start);
			len += cs.v[i].end - start;
		} else
			trust_keep_crls(&cs, start, cs.v[i].end, buf, &len); /* CRLs stay */
		start = cs.v[i].end;
	}
	memcpy(buf + len, cs.raw + start, cs.rawlen - start);
	len += cs.rawlen - start;
	if (tool_write_atomic_flags(o.bundle, buf, len, TOOL_OUT_FOLLOW) != TOOL_EXIT_OK)
		goto out;
	for (i = 0; i < cs.n; i++)
		if (cs.v[i].drop)
			printf("removed: %s  %s\n", cs.v[i].fp, cs.v[i].subject);
	ret = TOOL_EXIT_OK;
out:
	free(buf);
	trust_certs_free(&cs);
	return ret;
}

/* ------------------------------------------------------------------ */
/* trust reset                                                         */
/* ------------------------------------------------------------------ */

int tool_trust_reset(int argc, char **argv)
{
	static const struct tool_opt opts[] = {
		{ "bundle", required_argument, O_BUNDLE },
		{ "from", required_argument, O_FROM },
		{ "yes", no_argument, O_YES },
		{ NULL, 0, 0 },
	};
	static const char usage[] =
	    "usage: p11ca trust reset --bundle FILE [--from FILE] [--yes]\n\n"
	    "Replaces the bundle, atomically, with a copy of the system's default CA\n"
	    "bundle (" SYSTEM_BUNDLE ") or of --from FILE, which\n"
	    "must be a well-formed PEM bundle with at least one certificate.  The\n"
	    "certificates added to a bundle that is not empty are lost: p11ca asks\n"
	    "first on a terminal, and needs --yes elsewhere.  The CRLs embedded in the\n"
	    "old bundle (X509 CRL blocks) are kept: appended unless the new one holds\n"
	    "the same.\n";
	struct tool_common c = { 0 };
	struct certs src = { 0 }, old = { 0 };
	struct topts o = { 0 };
	struct stat st;
	char what[1100];
	unsigned char *buf = NULL;
	size_t len, i, k, kept = 0;
	int r, ret, missing = 0;

	if ((r = tool_parse(argc, argv, opts, usage, &c, trust_opt, &o)) != TOOL_PARSE_GO)
		return r;
	if (!bundle_given("reset", &o))
		return TOOL_EXIT_USAGE;
	ret = TOOL_EXIT_FAIL;
	if (optind != argc) {
		tool_errorf("trust reset takes no arguments");
		return TOOL_EXIT_USAGE;
	}
	if (o.from == NULL)
		o.from = SYSTEM_BUNDLE;
	if (!trust_load_bundle(o.from, &src, 0, NULL))
		goto out;
	if (src.n == 0) {
		tool_errorf("%s: no certificates; the bundle is left as it was", o.from);
		goto out;
	}
	snprintf(what, sizeof(what), "replace every certificate in %s", o.bundle);
	if (stat(o.bundle, &st) == 0 && st.st_size > 0 &&
	    (r = tool_confirm(what, o.yes)) != TOOL_EXIT_OK) {
		ret = r;
		goto out;
	}
	/* the old bundle's CRLs (a bundle that does not read keeps none) */
	if (!(trust_read_file(o.bundle, &old, 1, &missing) && trust_scan_crls(o.bundle, &old)))
		tool_warnf("%s: its CRLs cannot be read; none kept", o.bundle);
	if ((buf = malloc(src.rawlen + old.rawlen + 2)) == NULL) {
		tool_errorf("out of memory");
		goto out;
	}
	memcpy(buf, src.raw, src.rawlen);
	len = src.rawlen;
	for (i = 0; i < old.ncrls; i++) {
		for (k = 0; k < src.ncrls; k++)
			if (X509_CRL_cmp(src.crls[k].crl, old.crls[i].crl) == 0 &&
			    X509_CRL_match(src.crls[k].crl, old.crls[i].crl) == 0)
				break;
		if (k < src.ncrls)
			continue;
		if (len > 0 && buf[len - 1] != '\n')
			buf[len++] = '\n';
		trust_keep_crls(&old, old.crls[i].start, old.crls[i].end, buf, &len);
		kept++;
	}
	if (tool_write_atomic_flags(o.bundle, buf, len, TOOL_OUT_FOLLOW) != TOOL_EXIT_OK)
		goto out;
	printf("%s: reset to %s (%zu certificate%s", o.bundle, o.from, src.n,
	       src.n == 1 ? "" : "s");
	if (kept > 0)
		printf(", %zu CRL%s of the old bundle kept", kept, kept == 1 ? "" : "s");
	printf(")\n");
	ret = TOOL_EXIT_OK;
out:
	free(buf);
	trust_certs_free(&old);
	trust_certs_free(&src);
	return ret;
}

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
#define SYSTEM_BUNDLE "/etc/ssl/certs/ca-certificates.crt"
/* Files larger than this are refused (a bundle is a few hundred KiB). */
#define MAX_FILE_SIZE (64L * 1024 * 1024)
#define FP_LEN        32 /* SHA-256 */

/* One certificate of a bundle or an input file. */
struct tcert {
	X509 *x;
	char fphex[2 * FP_LEN + 1]; /* SHA-256, lowercase, no colons */
	char fp[3 * FP_LEN];        /* AB:CD:... as `openssl x509 -fingerprint` */
	char *subject;              /* "/C=../CN=.." (pki_name_oneline) */
	size_t end;                 /* bundle: offset just past its END line */
	int drop;                   /* remove: this one goes */
};

/* One X509 CRL block of a bundle: where its bytes are, and the CRL. */
struct tcrl {
	size_t start, end; /* [start, end): BEGIN line to past the END line's newline */
	X509_CRL *crl;
};

struct certs {
	struct tcert *v;
	size_t n, cap;
	unsigned char *raw; /* the file's bytes */
	size_t rawlen;
	struct tcrl *crls; /* bundle: its X509 CRL blocks, in order */
	size_t ncrls;
};

#define CRL_BEGIN "-----BEGIN X509 CRL-----"
#define CRL_END   "-----END X509 CRL-----"

enum { O_BUNDLE = OPT_FIRST_LOCAL, O_JSON, O_FINGERPRINT, O_SUBJECT, O_ALL, O_FROM, O_YES };

static void certs_free(struct certs *cs)
{
	size_t i;

	for (i = 0; i < cs->n; i++) {
		X509_free(cs->v[i].x);
		free(cs->v[i].subject);
	}
	free(cs->v);
	free(cs->raw);
	for (i = 0; i < cs->ncrls; i++)
		X509_CRL_free(cs->crls[i].crl);
	free(cs->crls);
	memset(cs, 0, sizeof(*cs));
}

/* A name as "/C=../CN=.." (pki_name_oneline); malloc'ed, NULL when out of memory. */
static char *name_str(const X509_NAME *name)
{
	char *s = NULL;

	return pki_name_oneline(name, &s) == RES_OK ? s : NULL;
}

/* Appends @x (taking it) to @cs; returns 0 when out of memory (and frees @x). */
static int certs_push(struct certs *cs, X509 *x, size_t end)
{
	struct tcert *t;

	if (cs->n == cs->cap) {
		size_t cap = cs->cap ? 2 * cs->cap : 16;
		struct tcert *v = realloc(cs->v, cap * sizeof(*v));
		if (v == NULL)
			goto oom;
		cs->v = v;
		cs->cap = cap;
	}
	t = &cs->v[cs->n];
	memset(t, 0, sizeof(*t));
	if (pki_fingerprint(x, "SHA256", 0, t->fphex, sizeof(t->fphex)) != RES_OK ||
	    pki_fingerprint(x, "SHA256", 1, t->fp, sizeof(t->fp)) != RES_OK)
		goto oom;
	if ((t->subject = name_str(X509_get_subject_name(x))) == NULL)
		goto oom;
	t->x = x;
	t->end = end;
	cs->n++;
	return 1;
oom:
	X509_free(x);
	return 0;
}

/*
 * Reads @path whole into @cs->raw.  A missing file is an empty one when
 * @missing_ok (and *@missing is set); otherwise reports and returns 0.
 */
static int read_file(const char *path, struct certs *cs, int missing_ok, int *missing)
{
	FILE *f;
	struct stat st;
	size_t n;
	int ok = 0;

	if (missing != NULL)
		*missing = 0;
	if ((f = fopen(path, "rb")) == NULL) {
		if (errno == ENOENT && missing_ok) {
			if (missing != NULL)
				*missing = 1;
			return 1;
		}
		tool_errorf("cannot read %s: %s", path, strerror(errno));
		return 0;
	}
	if (fstat(fileno(f), &st) != 0) {
		tool_errorf("cannot read %s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		tool_errorf("%s: not a regular file", path);
		goto out;
	}
	if (st.st_size > MAX_FILE_SIZE) {
		tool_errorf("%s: too large for a certificate file (%lld bytes)", path,
		            (long long)st.st_size);
		goto out;
	}
	if ((cs->raw = malloc((size_t)st.st_size + 1)) == NULL) {
		tool_errorf("out of memory");
		goto out;
	}
	n = fread(cs->raw, 1, (size_t)st.st_size + 1, f);
	if (ferror(f)) {
		tool_errorf("cannot read %s: %s", path, strerror(errno));
		goto out;
	}
	if (n > (size_t)st.st_size) {
		tool_errorf("%s: changed while being read", path);
		goto out;
	}
	cs->rawlen = n;
	ok = 1;
out:
	fclose(f);
	return ok;
}

/*
 * Takes the certificates in @cs->raw through the PKI library's loader,
 * recording where each ends: a bundle (pki_load_bundle: PEM, or blank
 * lines and comments) or an input file (pki_load_certs_at: PEM or DER).
 */
static int parse_certs(const char *path, struct certs *cs, int bundle)
{
	STACK_OF(X509) *certs = NULL;
	STACK_OF(X509_CRL) *crls = NULL;
	size_t *ends = NULL;
	int ok = 0, i, pem, rc;

	rc = bundle ? pki_load_bundle(cs->raw, cs->rawlen, &certs, &ends, &crls)
	            : pki_load_certs_at(cs->raw, cs->rawlen, &certs, &ends, &pem);
	if (rc != RES_OK) {
		tool_errorf("%s: %s", path, res_message());
		return 0;
	}
	for (i = 0; i < sk_X509_num(certs); i++) {
		if (!X509_up_ref(sk_X509_value(certs, i)) ||
		    !certs_push(cs, sk_X509_value(certs, i), ends[i])) {
			tool_errorf("out of memory");
			goto out;
		}
	}
	ok = 1;
out:
	free(ends);
	sk_X509_pop_free(certs, X509_free);
	sk_X509_CRL_pop_free(crls, X509_CRL_free);
	return ok;
}

/*
 * The X509 CRL blocks of a bundle (pki_load_bundle has checked each one
 * decodes): where each is, for the writers that keep them, and the CRL.
 */
static int scan_crls(const char *path, struct certs *cs)
{
	const unsigned char *p = cs->raw, *end = cs->raw + cs->rawlen, *b, *e;
	struct tcrl *nv;
	BIO *bio;

	while (p < end &&
	       (b = memmem(p, (size_t)(end - p), CRL_BEGIN, strlen(CRL_BEGIN))) != NULL) {
		if ((e = memmem(b, (size_t)(end - b), CRL_END, strlen(CRL_END))) == NULL)
			break; /* pki_load_bundle refused that already */
		e += strlen(CRL_END);
		while (e < end && (*e == '\r' || *e == '\n'))
			if (*e++ == '\n')
				break;
		if ((nv = realloc(cs->crls, (cs->ncrls + 1) * sizeof(*nv))) == NULL)
			goto oom;
		cs->crls = nv;
		nv = &cs->crls[cs->ncrls];
		nv->start = (size_t)(b - cs->raw);
		nv->end = (size_t)(e - cs->raw);
		if ((bio = BIO_new_mem_buf(b, (int)(e - b))) == NULL)
			goto oom;
		nv->crl = PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL);
		BIO_free(bio);
		ERR_clear_error();
		if (nv->crl == NULL) {
			tool_errorf("%s: a malformed X509 CRL block", path);
			return 0;
		}
		cs->ncrls++;
		p = e;
	}
	return 1;
oom:
	tool_errorf("out of memory");
	return 0;
}

/*
 * A bundle: PEM certificates and X509 CRL blocks, or empty.  Missing is
 * empty when @missing_ok.
 */
static int load_bundle(const char *path, struct certs *cs, int missing_ok, int *missing)
{
	return read_file(path, cs, missing_ok, missing) && parse_certs(path, cs, 1) &&
	       scan_crls(path, cs);
}

/* An input file: PEM (one or more certificates) or one DER certificate. */
static int load_input(const char *path, struct certs *cs)
{
	return read_file(path, cs, 0, NULL) && parse_certs(path, cs, 0);
}

/* ------------------------------------------------------------------ */
/* Output helpers                                                      */
/* ------------------------------------------------------------------ */

/* notAfter as YYYY-MM-DDTHH:MM:SSZ; whether it has passed in *@expired. */
static void not_after(const X509 *x, char *out, size_t cap, int *expired)
{
	const ASN1_TIME *t = X509_get0_notAfter(x);
	int64_t v = pki_asn1_time_get(t);
	char iso[PKI_TIME_ISO_MAX];

	pki_time_iso(v, iso);
	snprintf(out, cap, "%s", v != 0 ? iso : "unknown");
	*expired = t != NULL && X509_cmp_current_time(t) < 0;
}

/* Plain-text one-line summary of a certificate. */
static int print_line(const struct tcert *t)
{
	char when[32], *issuer;
	int expired;

	if ((issuer = name_str(X509_get_issuer_name(t->x))) == NULL)
		return 0;
	not_after(t->x, when, sizeof(when), &expired);
	printf("%s  %s%s  subject=%s  issuer=%s\n", t->fp, when, expired ? " EXPIRED" : "",
	       t->subject, issuer);
	free(issuer);
	return 1;
}

/* A CRL's number as hex ("none"), its dates, whether expired at @now. */
struct crl_desc {
	char issuer[1024], number[PKI_SERIAL_MAX], this_update[PKI_TIME_ISO_MAX],
	    next_update[PKI_TIME_ISO_MAX];
	int has_next, expired, entries;
};

static void crl_describe(X509_CRL *crl, struct crl_desc *d)
{
	ASN1_INTEGER *num = X509_CRL_get_ext_d2i(crl, NID_crl_number, NULL, NULL);
	const ASN1_TIME *nu = X509_CRL_get0_nextUpdate(crl);
	char *iss = name_str(X509_CRL_get_issuer(crl));

	memset(d, 0, sizeof(*d));
	snprintf(d->issuer, sizeof(d->issuer), "%s", iss != NULL ? iss : "?");
	free(iss);
	if (num == NULL || pki_serial_of(num, d->number) != RES_OK)
		snprintf(d->number, sizeof(d->number), "none");
	ASN1_INTEGER_free(num);
	pki_time_iso(pki_asn1_time_get(X509_CRL_get0_lastUpdate(crl)), d->this_update);
	d->has_next = nu != NULL;
	if (nu != NULL) {
		pki_time_iso(pki_asn1_time_get(nu), d->next_update);
		d->expired = X509_cmp_current_time(nu) < 0;
	}
	d->entries = sk_X509_REVOKED_num(X509_CRL_get_REVOKED(crl));
	if (d->entries < 0)
		d->entries = 0;
	ERR_clear_error();
}

/* Appends the CRL blocks of @cs lying inside [@from, @to) to @buf (at *@len). */
static void keep_crls(const struct certs *cs, size_t from, size_t to, unsigned char *buf,
                      size_t *len)
{
	size_t k;

	for (k = 0; k < cs->ncrls; k++)
		if (cs->crls[k].start >= from && cs->crls[k].end <= to) {
			memcpy(buf + *len, cs->raw + cs->crls[k].start,
			       cs->crls[k].end - cs->crls[k].start);
			*len += cs->crls[k].end - cs->crls[k].start;
		}
}

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

/* A CRL given to trust add: the CRL, and its file for messages. */
struct newcrl {
	X509_CRL *crl;
	const char *file;
};

/*
 * @path as a CRL file (PEM X509 CRL or DER) rather than certificates:
 * *pcrl set (1), not a CRL (0: certificates are tried), or an error (-1).
 */
static int input_crl(const char *path, X509_CRL **pcrl)
{
	unsigned char *buf;
	size_t len;
	int r = 0;

	*pcrl = NULL;
	if ((buf = tool_read_file(path, &len)) == NULL)
		return -1;
	if (pki_is_pem(buf, len) ? memmem(buf, len, CRL_BEGIN, strlen(CRL_BEGIN)) != NULL &&
	                               memmem(buf, len, "-----BEGIN CERTIFICATE-----", 27) == NULL
	                         : 1) {
		if (pki_load_crl(buf, len, pcrl) == RES_OK)
			r = 1;
		else if (pki_is_pem(buf, len)) {
			tool_errorf("%s: %s", path, res_message());
			r = -1;
		}
	}
	ERR_clear_error();
	free(buf);
	return r;
}

/*
 * Checks a CRL against the bundle: a CA of it (same name, its key verifies
 * the signature) issued it.  Marks (drop) the bundle's older CRLs of that
 * CA; returns 1 to add it, 0 when the same one is there, -1 refused.
 */
static int crl_fits(struct certs *bundle, int *dropcrl, const struct newcrl *nc)
{
	const X509_NAME *iss = X509_CRL_get_issuer(nc->crl);
	char *name = name_str(iss);
	size_t i;
	int found = 0, r = 1;

	for (i = 0; i < bundle->n && !found; i++)
		if (X509_NAME_cmp(X509_get_subject_name(bundle->v[i].x), iss) == 0 &&
		    X509_CRL_verify(nc->crl, X509_get0_pubkey(bundle->v[i].x)) == 1)
			found = 1;
	ERR_clear_error();
	if (!found) {
		tool_errorf("%s: the CRL of %s is signed by no CA of the bundle; nothing added",
		            nc->file, name != NULL ? name : "?");
		r = -1;
		goto out;
	}
	for (i = 0; i < bundle->ncrls; i++) {
		X509_CRL *old = bundle->crls[i].crl;

		if (X509_NAME_cmp(X509_CRL_get_issuer(old), iss) != 0)
			continue;
		if (X509_CRL_cmp(old, nc->crl) == 0 && X509_CRL_match(old, nc->crl) == 0) {
			printf("already present: CRL of %s\n", name != NULL ? name : "?");
			r = 0;
			continue;
		}
		if (pki_asn1_time_get(X509_CRL_get0_lastUpdate(old)) >
		    pki_asn1_time_get(X509_CRL_get0_lastUpdate(nc->crl))) {
			tool_errorf("%s: the bundle holds a newer CRL of %s; nothing added",
			            nc->file, name != NULL ? name : "?");
			r = -1;
			goto out;
		}
		dropcrl[i] = 1;
	}
out:
	free(name);
	return r;
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
	if (!load_bundle(o.bundle, &bundle, 1, &missing))
		goto out;
	if ((ncrls = calloc((size_t)argc, sizeof(*ncrls))) == NULL ||
	    (dropcrl = calloc(bundle.ncrls + 1, sizeof(*dropcrl))) == NULL)
		goto oom;
	/* every input decoded and checked before anything is written */
	for (i = (size_t)optind; i < (size_t)argc; i++) {
		if ((isc = input_crl(argv[i], &crl)) < 0)
			goto out;
		if (isc) {
			ncrls[nncrl].crl = crl;
			ncrls[nncrl++].file = argv[i];
			continue;
		}
		memset(&in, 0, sizeof(in));
		if (!load_input(argv[i], &in)) {
			certs_free(&in);
			goto out;
		}
		for (j = 0; j < in.n; j++) {
			uint32_t fl = X509_get_extension_flags(in.v[j].x);
			if (fl & EXFLAG_INVALID) {
				tool_errorf("%s: certificate %zu (%s) has invalid extensions; "
				            "nothing added",
				            argv[i], j + 1, in.v[j].subject);
				certs_free(&in);
				goto out;
			}
			if (!(fl & EXFLAG_BCONS) || !(fl & EXFLAG_CA)) {
				tool_errorf("%s: certificate %zu (%s) is not a CA certificate "
				            "(no basicConstraints CA:TRUE); nothing added",
				            argv[i], j + 1, in.v[j].subject);
				certs_free(&in);
				goto out;
			}
			if (!X509_up_ref(in.v[j].x) || !certs_push(&add, in.v[j].x, 0)) {
				tool_errorf("out of memory");
				certs_free(&in);
				goto out;
			}
			add.v[add.n - 1].end = i; /* the argv index, for messages */
		}
		certs_free(&in);
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
		not_after(t->x, when, sizeof(when), &expired);
		if (expired)
			tool_warnf("%s: %s expired on %s (added anyway)", argv[t->end], t->subject,
			           when);
		if (!PEM_write_bio_X509(b, t->x))
			goto oom;
		nnew++;
		/* a CRL given with its CA is checked against it */
		if (!X509_up_ref(t->x) || !certs_push(&bundle, t->x, 0))
			goto oom;
	}
	for (i = 0; i < nncrl; i++) {
		if ((r = crl_fits(&bundle, dropcrl, &ncrls[i])) < 0)
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
		crl_describe(ncrls[i].crl, &d);
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
	certs_free(&add);
	certs_free(&bundle);
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
	if (!load_bundle(o.bundle, &cs, 0, NULL))
		goto out;
	/* JSON is printed whole at the end: on a failure stdout holds nothing */
	if (o.json && (arr = json_array()) == NULL)
		goto oom;
	for (i = 0; i < cs.n; i++) {
		const struct tcert *t = &cs.v[i];
		json_t *obj;

		if (!o.json) {
			if (!print_line(t))
				goto oom;
			continue;
		}
		if ((issuer = name_str(X509_get_issuer_name(t->x))) == NULL)
			goto oom;
		not_after(t->x, when, sizeof(when), &expired);
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

		crl_describe(cs.crls[i].crl, &d);
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
	certs_free(&cs);
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
	if (!load_bundle(o.bundle, &cs, 0, NULL))
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
	certs_free(&cs);
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
	if (!load_bundle(o.bundle, &cs, 0, NULL))
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
			keep_crls(&cs, start, cs.v[i].end, buf, &len); /* CRLs stay */
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
	certs_free(&cs);
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
	if (!load_bundle(o.from, &src, 0, NULL))
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
	if (!(read_file(o.bundle, &old, 1, &missing) && scan_crls(o.bundle, &old)))
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
		keep_crls(&old, old.crls[i].start, old.crls[i].end, buf, &len);
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
	certs_free(&old);
	certs_free(&src);
	return ret;
}

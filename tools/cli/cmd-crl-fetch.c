/*
 * cmd-crl-fetch.c - p11ca crl fetch: CRLs downloaded from distribution
 * points (URLs given, listed in a file, or named by the certificates of a
 * bundle), unpacked (PEM, DER, ZIP, GZIP: rev/archive.h), verified and
 * stored (rev/store.h).  One line per URL, or a JSON array.
 */
#include "config.h"

#include <ctype.h>
#include <stdarg.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "archive.h"
#include "cmd-crl.h"
#include "http.h"
#include "pki.h"
#include "result.h"
#include "tool.h"

static const char fetch_help[] =
    "usage: p11ca crl fetch [URL...] [--url-file FILE] [--from-bundle BUNDLE]\n"
    "                       --trust BUNDLE [--chain FILE] [--crl-store DIR]\n"
    "                       [--https-trust FILE] [--max-size BYTES] [--timeout SECONDS]\n"
    "                       [--force] [--dry-run] [--json]\n\n"
    "Downloads CRLs from distribution points over HTTP or HTTPS: PEM or DER, or\n"
    "ZIP and GZIP archives holding them.  Each CRL is verified against its\n"
    "issuer in --trust (and --chain) and stored; a CRL older than the stored\n"
    "one (a lower CRL number) is refused and the stored one kept.  A second\n"
    "fetch asks the server only for a newer file (ETag, If-Modified-Since).\n\n"
    "  --url-file FILE       URLs, one a line ('#' comments, blank lines ignored)\n"
    "  --from-bundle BUNDLE  every http/https CRL distribution point of the\n"
    "                        certificates in BUNDLE (other schemes: skipped)\n"
    "  --trust BUNDLE        CA certificates that may sign the CRLs\n"
    "  --chain FILE          more (intermediate) CA certificates\n"
    "  --crl-store DIR       the CRL store ($P11CA_CRL_STORE, else\n"
    "                        /var/lib/p11ca/crls for root, ~/.local/share/p11ca/crls)\n"
    "  --https-trust FILE    CA certificates for HTTPS servers (default: the system's)\n"
    "  --max-size BYTES      largest download and total unpacked size (256M; K, M, G)\n"
    "  --timeout SECONDS     per URL, the whole transfer (120)\n"
    "  --force               download even when the server says not modified\n"
    "  --dry-run             download and unpack, store nothing\n"
    "  --json                a JSON array of {url, result, message, crls}: result\n"
    "                        stored, unchanged, not-modified, refused, failed,\n"
    "                        skipped (not http/https), found (--dry-run)\n\n"
    "Prints one line per URL: stored, unchanged, not modified, refused (why,\n"
    "and the CRL kept) or unreachable.  Exit status 0 when every URL ended well\n"
    "(stored, unchanged, not modified; skipped schemes), 1 otherwise.\n";

enum {
	O_URL_FILE = OPT_FIRST_LOCAL,
	O_FROM_BUNDLE,
	O_TRUST,
	O_CHAIN,
	O_STORE,
	O_HTTPS_TRUST,
	O_MAX_SIZE,
	O_TIMEOUT,
	O_FORCE,
	O_DRY_RUN,
	O_JSON,
};

struct fetch_opts {
	const char *url_file, *from_bundle, *trust, *chain, *store, *https_trust;
	size_t max_size;
	long timeout_s;
	int force, dry_run, json;
};

/* "256M", "1048576", "64K": bytes (binary multiples), 1 byte to 16 GiB. */
static int parse_size(const char *arg, size_t *out)
{
	unsigned long long v, mult = 1;
	char *end;

	errno = 0;
	if (!isdigit((unsigned char)arg[0]))
		return 0;
	v = strtoull(arg, &end, 10);
	if (errno != 0)
		return 0;
	if (*end == 'K' || *end == 'k')
		mult = 1ULL << 10, end++;
	else if (*end == 'M' || *end == 'm')
		mult = 1ULL << 20, end++;
	else if (*end == 'G' || *end == 'g')
		mult = 1ULL << 30, end++;
	if (*end == 'i' && mult > 1)
		end++;
	if (*end == 'B' && mult > 1)
		end++;
	if (*end != '\0' || v == 0 || v > (16ULL << 30) / mult)
		return 0;
	*out = (size_t)(v * mult);
	return 1;
}

static int fetch_opt(int id, const char *arg, void *data)
{
	struct fetch_opts *o = data;
	char *end;

	switch (id) {
	case O_URL_FILE: o->url_file = arg; break;
	case O_FROM_BUNDLE: o->from_bundle = arg; break;
	case O_TRUST: o->trust = arg; break;
	case O_CHAIN: o->chain = arg; break;
	case O_STORE: o->store = arg; break;
	case O_HTTPS_TRUST: o->https_trust = arg; break;
	case O_MAX_SIZE:
		if (!parse_size(arg, &o->max_size)) {
			tool_errorf("--max-size '%s': a size in bytes (K, M, G allowed), "
			            "1 to 16G",
			            arg);
			return TOOL_EXIT_USAGE;
		}
		break;
	case O_TIMEOUT:
		errno = 0;
		o->timeout_s = strtol(arg, &end, 10);
		if (errno != 0 || end == arg || *end != '\0' || o->timeout_s < 1 ||
		    o->timeout_s > 86400) {
			tool_errorf("--timeout '%s': seconds, 1 to 86400", arg);
			return TOOL_EXIT_USAGE;
		}
		break;
	case O_FORCE: o->force = 1; break;
	case O_DRY_RUN: o->dry_run = 1; break;
	case O_JSON: o->json = 1; break;
	default: return TOOL_EXIT_USAGE;
	}
	return TOOL_EXIT_OK;
}

/* ------------------------------------------------------------------ */
/* The URLs                                                            */
/* ------------------------------------------------------------------ */

struct url {
	char *url;
	int skip; /* not http/https (from a bundle): listed, not fetched */
};
struct urls {
	struct url *v;
	size_t n, cap;
};

static int is_http(const char *u)
{
	return strncasecmp(u, "http://", 7) == 0 || strncasecmp(u, "https://", 8) == 0;
}

/* Adds @u (@len bytes) unless it is there already; 0 on no memory. */
static int urls_add(struct urls *l, const char *u, size_t len, int skip)
{
	for (size_t i = 0; i < l->n; i++)
		if (strlen(l->v[i].url) == len && memcmp(l->v[i].url, u, len) == 0)
			return 1;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		struct url *nv = realloc(l->v, cap * sizeof(*nv));

		if (nv == NULL)
			return 0;
		l->v = nv;
		l->cap = cap;
	}
	if ((l->v[l->n].url = strndup(u, len)) == NULL)
		return 0;
	l->v[l->n++].skip = skip;
	return 1;
}

static void urls_free(struct urls *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i].url);
	free(l->v);
}

/* The lines of @path: one URL each, '#' comments and blank lines ignored. */
static int urls_from_file(struct urls *l, const char *path)
{
	unsigned char *buf = NULL;
	size_t len = 0;
	char *p, *line, *save = NULL;
	int rc;

	if ((rc = tool_slurp(path, &buf, &len)) != RES_OK) {
		tool_errorf("--url-file %s: %s", path, res_message());
		return TOOL_EXIT_FAIL;
	}
	if (memchr(buf, '\0', len) != NULL) {
		tool_errorf("--url-file %s: not a text file", path);
		free(buf);
		return TOOL_EXIT_FAIL;
	}
	for (line = strtok_r((char *)buf, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		size_t n;

		while (*line == ' ' || *line == '\t')
			line++;
		n = strlen(line);
		while (n > 0 && isspace((unsigned char)line[n - 1]))
			n--;
		line[n] = '\0';
		if (n == 0 || line[0] == '#')
			continue;
		for (p = line; *p; p++)
			if (isspace((unsigned char)*p) || (unsigned char)*p < 0x20)
				break;
		if (*p != '\0') {
			char shown[256];

			tool_errorf("--url-file %s: '%s' is not one URL", path,
			            tool_escape(line, shown, sizeof(shown)));
			free(buf);
			return TOOL_EXIT_FAIL;
		}
		if (!urls_add(l, line, n, 0)) {
			free(buf);
			tool_errorf("out of memory");
			return TOOL_EXIT_FAIL;
		}
	}
	free(buf);
	return TOOL_EXIT_OK;
}

/* Every URI fullName of every CRL distribution point of @x. */
static int urls_from_cert(struct urls *l, X509 *x)
{
	STACK_OF(DIST_POINT) *dps = X509_get_ext_d2i(x, NID_crl_distribution_points, NULL, NULL);
	int ok = 1;

	for (int i = 0; ok && i < sk_DIST_POINT_num(dps); i++) {
		DIST_POINT *dp = sk_DIST_POINT_value(dps, i);

		if (dp->distpoint == NULL || dp->distpoint->type != 0)
			continue; /* a nameRelativeToCRLIssuer: no URL */
		for (int j = 0; ok && j < sk_GENERAL_NAME_num(dp->distpoint->name.fullname); j++) {
			GENERAL_NAME *g = sk_GENERAL_NAME_value(dp->distpoint->name.fullname, j);
			const char *u;
			int n;

			if (g->type != GEN_URI)
				continue;
			u = (const char *)ASN1_STRING_get0_data(g->d.uniformResourceIdentifier);
			n = ASN1_STRING_length(g->d.uniformResourceIdentifier);
			if (n <= 0 || n > 2048 || memchr(u, '\0', (size_t)n) != NULL)
				continue;
			ok = urls_add(l, u, (size_t)n, !(n > 8 && is_http(u)));
		}
	}
	sk_DIST_POINT_pop_free(dps, DIST_POINT_free);
	return ok;
}

/* Certificates of @path (PEM blocks of any bundle, or one DER); NULL reported. */
static STACK_OF(X509) * read_certs(const char *what, const char *path)
{
	STACK_OF(X509) *certs = NULL;
	unsigned char *buf = NULL;
	size_t len = 0;
	int rc;

	if ((rc = tool_slurp(path, &buf, &len)) == RES_OK)
		rc = pki_load_certs(buf, len, &certs, NULL);
	free(buf);
	if (rc != RES_OK) {
		tool_errorf("%s %s: %s", what, path, res_message());
		return NULL;
	}
	return certs;
}

/* ------------------------------------------------------------------ */
/* One URL                                                             */
/* ------------------------------------------------------------------ */

struct crl_found {
	char *member;
	unsigned char *der;
	size_t len;
};
struct found {
	struct crl_found *v;
	size_t n, cap;
};

static int found_add(void *ctx, const char *member, const unsigned char *der, size_t len)
{
	struct found *f = ctx;

	if (f->n == f->cap) {
		size_t cap = f->cap ? f->cap * 2 : 4;
		struct crl_found *nv = realloc(f->v, cap * sizeof(*nv));

		if (nv == NULL)
			return res_set(RES_NOMEM, "out of memory");
		f->v = nv;
		f->cap = cap;
	}
	f->v[f->n].member = strdup(member);
	f->v[f->n].der = malloc(len);
	if (f->v[f->n].member == NULL || f->v[f->n].der == NULL) {
		free(f->v[f->n].member);
		free(f->v[f->n].der);
		return res_set(RES_NOMEM, "out of memory");
	}
	memcpy(f->v[f->n].der, der, len);
	f->v[f->n++].len = len;
	return RES_OK;
}

static void found_free(struct found *f)
{
	for (size_t i = 0; i < f->n; i++) {
		free(f->v[i].member);
		free(f->v[i].der);
	}
	free(f->v);
}

struct fetch_ctx {
	const struct fetch_opts *o;
	struct rev_store *store;
	STACK_OF(X509) * issuers;
	struct rev_limits limits;
};

/* What happened to one URL. */
struct outcome {
	const char *result; /* stored, unchanged, not-modified, refused, failed, skipped */
	char text[2048];    /* the line after "URL: " */
	json_t *crls;
};

static void text_add(struct outcome *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void text_add(struct outcome *r, const char *fmt, ...)
{
	size_t n = strlen(r->text);
	va_list ap;

	if (n >= sizeof(r->text) - 1)
		return;
	va_start(ap, fmt);
	vsnprintf(r->text + n, sizeof(r->text) - n, fmt, ap);
	va_end(ap);
}

/*
 * The library's message without a leading "URL: " (the line names the URL)
 * nor a trailing ": refused" (the line says so), in @buf.
 */
static const char *why_in(const char *url, char *buf, size_t cap)
{
	static const char tail[] = ": refused";
	const char *m = res_message();
	size_t n = strlen(url);

	if (strncmp(m, url, n) == 0 && m[n] == ':' && m[n + 1] == ' ')
		m += n + 2;
	snprintf(buf, cap, "%s", m[0] != '\0' ? m : "failed");
	n = strlen(buf);
	if (n > sizeof(tail) - 1 && strcmp(buf + n - (sizeof(tail) - 1), tail) == 0)
		buf[n - (sizeof(tail) - 1)] = '\0';
	return buf;
}
#define why(url) why_in((url), (char[1024]){ 0 }, 1024)

static json_t *crl_json(const struct rev_crl_info *info)
{
	char next[PKI_TIME_ISO_MAX];

	if (info->next_update != 0)
		pki_time_iso(info->next_update, next);
	return json_pack("{s:s, s:s, s:s?, s:s?, s:I}", "id", info->id ? info->id : "", "issuer",
	                 info->issuer ? info->issuer : "", "crl_number",
	                 info->crl_number[0] ? info->crl_number : NULL, "next_update",
	                 info->next_update != 0 ? next : NULL, "entries",
	                 (json_int_t)info->entries);
}

/* "CRL #N of ISSUER" */
static void crl_name(const struct rev_crl_info *info, char *out, size_t cap)
{
	if (info->crl_number[0] != '\0')
		snprintf(out, cap, "CRL #%s of %s", info->crl_number,
		         info->issuer ? info->issuer : "?");
	else
		snprintf(out, cap, "CRL (no number) of %s", info->issuer ? info->issuer : "?");
}

/* " (kept CRL #M)" or " (no CRL kept)": what the store still holds from @url. */
static void kept(struct outcome *r, const struct rev_crl_info *prev, int have_prev, int stored)
{
	if (!stored)
		return; /* --dry-run */
	if (have_prev && prev->crl_number[0] != '\0')
		text_add(r, " (kept CRL #%s)", prev->crl_number);
	else if (have_prev)
		text_add(r, " (kept the stored CRL)");
	else
		text_add(r, " (no CRL stored from this URL)");
}

/*
 * The issuer Name of a CRL's DER, found by walking its outer structure
 * (no X509_CRL built: a refused CRL may be 30 MB): NULL when malformed.
 */
static X509_NAME *crl_issuer_name(const unsigned char *der, size_t len)
{
	const unsigned char *p = der, *end = der + len, *q;
	long olen;
	int tag, xclass;

	/* CertificateList SEQUENCE, then tbsCertList SEQUENCE: into both */
	for (int depth = 0; depth < 2; depth++) {
		if (ASN1_get_object(&p, &olen, &tag, &xclass, (long)(end - p)) & 0x80)
			return NULL;
		if (tag != V_ASN1_SEQUENCE || olen > end - p)
			return NULL;
		end = p + olen;
	}
	/* [version INTEGER], signature AlgorithmIdentifier, then issuer Name */
	q = p;
	if (ASN1_get_object(&q, &olen, &tag, &xclass, (long)(end - p)) & 0x80 || olen > end - q)
		return NULL;
	if (tag == V_ASN1_INTEGER) {
		p = q + olen;
		q = p;
		if (ASN1_get_object(&q, &olen, &tag, &xclass, (long)(end - p)) & 0x80 ||
		    olen > end - q)
			return NULL;
	}
	if (tag != V_ASN1_SEQUENCE)
		return NULL;
	p = q + olen;
	q = p;
	return d2i_X509_NAME(NULL, &q, (long)(end - p));
}

/*
 * " (kept CRL #M)": the stored download entry of the refused CRL's issuer
 * (by its name among the --trust/--chain certificates), else what came
 * from this URL before.
 */
static void kept_for(struct fetch_ctx *c, struct outcome *r, const unsigned char *der, size_t len,
                     const struct rev_crl_info *prev, int have_prev)
{
	X509_NAME *name = crl_issuer_name(der, len);
	struct rev_crl_info info = { 0 };
	int found = 0;

	ERR_clear_error();
	for (int i = 0; name != NULL && !found && i < sk_X509_num(c->issuers); i++) {
		X509 *x = sk_X509_value(c->issuers, i);

		if (X509_NAME_cmp(X509_get_subject_name(x), name) == 0 &&
		    rev_store_find(c->store, x, REV_ORIGIN_DOWNLOAD, &info) == RES_OK)
			found = 1;
		else
			rev_crl_info_clear(&info);
	}
	X509_NAME_free(name);
	if (found)
		kept(r, &info, 1, 1);
	else
		kept(r, prev, have_prev, 1);
	rev_crl_info_clear(&info);
}

/* The CRLs of one download into the store. */
static void store_crls(struct fetch_ctx *c, const char *url, const struct rev_http_resp *resp,
                       const struct found *f, const struct rev_crl_info *prev, int have_prev,
                       struct outcome *r)
{
	size_t stored = 0, same = 0, refused = 0;
	char name[512], next[PKI_TIME_ISO_MAX];

	for (size_t i = 0; i < f->n; i++) {
		struct rev_put_opts po = {
			.origin = REV_ORIGIN_DOWNLOAD,
			.source = url,
			.etag = resp->etag,
			.last_modified = resp->last_modified,
			.issuers = c->issuers,
		};
		struct rev_crl_info info = { 0 };
		int rc = rev_store_put(c->store, f->v[i].der, f->v[i].len, &po, &info);

		if (i > 0)
			text_add(r, "; ");
		if (f->v[i].member[0] != '\0')
			text_add(r, "%s: ", f->v[i].member);
		if (rc == RES_OK || rc == RES_ALREADY) {
			crl_name(&info, name, sizeof(name));
			if (rc == RES_OK) {
				stored++;
				text_add(r, "stored %s, %zu entr%s", name, info.entries,
				         info.entries == 1 ? "y" : "ies");
				if (info.next_update != 0) {
					pki_time_iso(info.next_update, next);
					text_add(r, ", next update %s", next);
				}
			} else {
				same++;
				text_add(r, "unchanged (%s)", name);
			}
			json_array_append_new(r->crls, crl_json(&info));
		} else {
			refused++;
			text_add(r, "refused: %s", why(url));
			kept_for(c, r, f->v[i].der, f->v[i].len, prev, have_prev);
		}
		rev_crl_info_clear(&info);
	}
	r->result = refused ? "refused" : stored ? "stored" : "unchanged";
}

static void fetch_one(struct fetch_ctx *c, const char *url, struct outcome *r)
{
	struct rev_crl_info prev = { 0 };
	struct rev_http_req req = { .url = url,
		                    .ca_file = c->o->https_trust,
		                    .limits = &c->limits };
	struct rev_http_resp resp = { 0 };
	struct found f = { 0 };
	int have_prev = 0, rc;

	r->crls = json_array();
	if (c->store != NULL) {
		rc = rev_store_find_source(c->store, url, &prev);
		if (rc == RES_OK)
			have_prev = 1;
		else if (rc != RES_NOT_FOUND) {
			r->result = "failed";
			text_add(r, "CRL store: %s", res_message());
			goto out;
		}
	}
	if (have_prev && !c->o->force) {
		req.etag = prev.etag;
		req.last_modified = prev.last_modified;
	}
	if ((rc = rev_http(&req, &resp)) != RES_OK) {
		if (rc == RES_NETWORK) {
			r->result = "failed";
			text_add(r, "unreachable: %s", why(url));
		} else {
			r->result = "refused";
			text_add(r, "refused: %s", why(url));
			kept(r, &prev, have_prev, c->store != NULL);
		}
		goto out;
	}
	if (resp.status == 304) {
		r->result = "not-modified";
		text_add(r, "not modified");
		if (have_prev && prev.crl_number[0] != '\0')
			text_add(r, " (CRL #%s)", prev.crl_number);
		goto out;
	}
	if (resp.status != 200) {
		r->result = "failed";
		text_add(r, "unreachable: HTTP status %ld", resp.status);
		goto out;
	}
	if ((rc = rev_crls_in(resp.body, resp.len, &c->limits, found_add, &f)) != RES_OK) {
		r->result = "refused";
		text_add(r, "refused: %s", res_message());
		kept(r, &prev, have_prev, c->store != NULL);
		goto out;
	}
	if (c->o->dry_run) {
		r->result = "found";
		text_add(r, "%zu CRL%s found, nothing stored", f.n, f.n == 1 ? "" : "s");
		for (size_t i = 0; i < f.n; i++)
			json_array_append_new(r->crls,
			                      json_pack("{s:s, s:I}", "member", f.v[i].member,
			                                "bytes", (json_int_t)f.v[i].len));
		goto out;
	}
	store_crls(c, url, &resp, &f, &prev, have_prev, r);
out:
	found_free(&f);
	rev_http_resp_clear(&resp);
	rev_crl_info_clear(&prev);
}

static int outcome_ok(const char *result)
{
	return strcmp(result, "refused") != 0 && strcmp(result, "failed") != 0;
}

/* ------------------------------------------------------------------ */

/* The CA certificates of --trust and --chain; NULL reported. */
static STACK_OF(X509) * load_issuers(const struct fetch_opts *o)
{
	STACK_OF(X509) *all = NULL, *more = NULL;
	unsigned char *buf = NULL;
	size_t len = 0;
	int rc;

	if ((rc = tool_slurp(o->trust, &buf, &len)) == RES_OK)
		rc = pki_load_bundle(buf, len, &all, NULL, NULL);
	free(buf);
	if (rc != RES_OK) {
		tool_errorf("--trust %s: %s", o->trust, res_message());
		return NULL;
	}
	if (all == NULL && (all = sk_X509_new_null()) == NULL)
		return NULL;
	if (o->chain != NULL) {
		if ((more = read_certs("--chain", o->chain)) == NULL) {
			sk_X509_pop_free(all, X509_free);
			return NULL;
		}
		while (sk_X509_num(more) > 0)
			sk_X509_push(all, sk_X509_shift(more));
		sk_X509_free(more);
	}
	if (sk_X509_num(all) == 0) {
		tool_errorf("--trust %s: no CA certificate to verify CRLs with", o->trust);
		sk_X509_free(all);
		return NULL;
	}
	return all;
}

int tool_crl_fetch(int argc, char **argv)
{
	static const struct tool_opt opts[] = {
		{ "url-file", required_argument, O_URL_FILE },
		{ "from-bundle", required_argument, O_FROM_BUNDLE },
		{ "trust", required_argument, O_TRUST },
		{ "chain", required_argument, O_CHAIN },
		{ "crl-store", required_argument, O_STORE },
		{ "https-trust", required_argument, O_HTTPS_TRUST },
		{ "max-size", required_argument, O_MAX_SIZE },
		{ "timeout", required_argument, O_TIMEOUT },
		{ "force", no_argument, O_FORCE },
		{ "dry-run", no_argument, O_DRY_RUN },
		{ "json", no_argument, O_JSON },
		{ NULL, 0, 0 },
	};
	struct tool_common common = { 0 };
	struct fetch_opts o = { .max_size = (size_t)256 << 20, .timeout_s = 120 };
	struct fetch_ctx c = { .o = &o };
	struct urls urls = { 0 };
	STACK_OF(X509) *certs = NULL;
	json_t *arr = NULL;
	char shown[1200];
	int rc, ret = TOOL_EXIT_FAIL, all_ok = 1;

	if ((rc = tool_parse(argc, argv, opts, fetch_help, &common, fetch_opt, &o)) !=
	    TOOL_PARSE_GO)
		return rc;
	if (o.trust == NULL && !o.dry_run) {
		tool_errorf("crl fetch needs --trust BUNDLE (the CAs that sign the CRLs)");
		return TOOL_EXIT_USAGE;
	}
	for (int i = optind; i < argc; i++)
		if (!urls_add(&urls, argv[i], strlen(argv[i]), 0))
			goto nomem;
	if (o.url_file != NULL && urls_from_file(&urls, o.url_file) != TOOL_EXIT_OK)
		goto out;
	if (o.from_bundle != NULL) {
		if ((certs = read_certs("--from-bundle", o.from_bundle)) == NULL)
			goto out;
		for (int i = 0; i < sk_X509_num(certs); i++)
			if (!urls_from_cert(&urls, sk_X509_value(certs, i)))
				goto nomem;
		if (urls.n == 0) {
			tool_errorf("--from-bundle %s: no certificate names a CRL distribution "
			            "point",
			            o.from_bundle);
			goto out;
		}
	}
	if (urls.n == 0) {
		tool_errorf("crl fetch needs URLs, --url-file FILE or --from-bundle BUNDLE");
		ret = TOOL_EXIT_USAGE;
		goto out;
	}
	rev_limits_default(&c.limits);
	c.limits.max_download = o.max_size;
	if (c.limits.max_unpacked > o.max_size)
		c.limits.max_unpacked = o.max_size;
	c.limits.timeout_ms = o.timeout_s * 1000;
	if (c.limits.connect_timeout_ms > c.limits.timeout_ms)
		c.limits.connect_timeout_ms = c.limits.timeout_ms;
	if (!o.dry_run) {
		if ((c.issuers = load_issuers(&o)) == NULL)
			goto out;
		if (tool_crl_store_open(o.store, 1, &c.store) != TOOL_EXIT_OK)
			goto out;
	}
	if (o.json && (arr = json_array()) == NULL)
		goto nomem;

	for (size_t i = 0; i < urls.n; i++) {
		struct outcome r = { .result = "skipped" };

		if (urls.v[i].skip) {
			r.crls = json_array();
			text_add(&r,
			         "skipped: only http and https distribution points are fetched");
		} else {
			fetch_one(&c, urls.v[i].url, &r);
		}
		if (!outcome_ok(r.result))
			all_ok = 0;
		if (o.json) {
			char utf8[2048];

			json_array_append_new(
			    arr,
			    json_pack("{s:s, s:s, s:s, s:o}", "url",
			              tool_text_utf8(urls.v[i].url, shown, sizeof(shown)), "result",
			              r.result, "message",
			              tool_text_utf8(r.text, utf8, sizeof(utf8)), "crls", r.crls));
		} else {
			char line[2048];

			json_decref(r.crls);
			printf("%s: %s\n", tool_escape(urls.v[i].url, shown, sizeof(shown)),
			       tool_escape(r.text, line, sizeof(line)));
			fflush(stdout);
		}
	}
	if (o.json && (json_dumpf(arr, stdout, JSON_INDENT(2)) != 0 || putchar('\n') == EOF)) {
		tool_errorf("standard output: %s", strerror(errno));
		goto out;
	}
	ret = all_ok ? TOOL_EXIT_OK : TOOL_EXIT_FAIL;
	goto out;
nomem:
	tool_errorf("out of memory");
out:
	json_decref(arr);
	rev_store_close(c.store);
	sk_X509_pop_free(c.issuers, X509_free);
	sk_X509_pop_free(certs, X509_free);
	urls_free(&urls);
	return ret;
}

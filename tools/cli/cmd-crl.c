/*
 * cmd-crl.c - p11ca crl add|list|show|remove: the CRL store (store.h) on
 * the command line.  `crl fetch` is cmd-crl-fetch.c.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/pem.h>

#include "archive.h"
#include "cmd-crl.h"
#include "pki.h"
#include "result.h"
#include "tool.h"

enum { O_TRUST = OPT_FIRST_LOCAL, O_CHAIN, O_STORE, O_JSON, O_OUT, O_PEM, O_YES };

struct crl_args {
	const char *trust, *chain, *store, *out;
	int json, pem, yes;
};

static int crl_opt(int id, const char *arg, void *data)
{
	struct crl_args *a = data;

	switch (id) {
	case O_TRUST: a->trust = arg; break;
	case O_CHAIN: a->chain = arg; break;
	case O_STORE: a->store = arg; break;
	case O_JSON: a->json = 1; break;
	case O_OUT: a->out = arg; break;
	case O_PEM: a->pem = 1; break;
	case O_YES: a->yes = 1; break;
	default: return TOOL_EXIT_USAGE;
	}
	return TOOL_EXIT_OK;
}

static void iso_or_null(int64_t t, char *out)
{
	if (t == 0)
		strcpy(out, "-");
	else
		pki_time_iso(t, out);
}

static json_t *info_json(const struct rev_crl_info *i, int64_t now)
{
	char tu[PKI_TIME_ISO_MAX], nu[PKI_TIME_ISO_MAX], sa[PKI_TIME_ISO_MAX];

	pki_time_iso(i->this_update, tu);
	pki_time_iso(i->next_update, nu);
	pki_time_iso(i->stored_at, sa);
	return json_pack(
	    "{s:s, s:s, s:s, s:s?, s:s, s:s?, s:I, s:s, s:s?, s:s, s:b, s:s?, s:s?, "
	    "s:s?}",
	    "id", i->id, "issuer", i->issuer, "issuer_fingerprint", i->issuer_fp, "crl_number",
	    i->crl_number[0] ? i->crl_number : NULL, "this_update", tu, "next_update",
	    i->next_update ? nu : NULL, "entries", (json_int_t)i->entries, "origin",
	    i->origin == REV_ORIGIN_DOWNLOAD ? "download" : "manual", "source", i->source,
	    "stored_at", sa, "expired", i->next_update != 0 && now > i->next_update, "scope",
	    i->only_user_certs ? "user certificates only"
	    : i->only_ca_certs ? "CA certificates only"
	                       : NULL,
	    "etag", i->etag, "last_modified", i->last_modified);
}

static int print_json(json_t *v)
{
	int bad = v == NULL || json_dumpf(v, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER) != 0 ||
	          putchar('\n') == EOF;

	json_decref(v);
	if (bad)
		tool_errorf("writing JSON failed");
	return bad ? TOOL_EXIT_FAIL : TOOL_EXIT_OK;
}

/* ---- crl add ------------------------------------------------------ */

static const char add_help[] =
    "usage: p11ca crl add FILE... --trust BUNDLE [--chain FILE] [--crl-store DIR] [--json]\n\n"
    "Stores CRLs given by hand (origin manual): each FILE may be a DER or PEM\n"
    "CRL (several PEM blocks too), or a GZIP or ZIP archive holding them.  Each\n"
    "CRL is verified against its issuer from BUNDLE (and --chain) before it is\n"
    "stored; a CRL with a lower crlNumber (or, without numbers, an older\n"
    "thisUpdate) than the stored one of that issuer is refused.  The store:\n"
    "--crl-store, else $P11CA_CRL_STORE, else /var/lib/p11ca/crls (root) or\n"
    "~/.local/share/p11ca/crls.\n";

struct add_ctx {
	struct rev_store *s;
	struct rev_put_opts *po;
	const char *file;
	json_t *arr;
	int failed;
};

static int add_one(void *ctx, const char *member, const unsigned char *der, size_t len)
{
	struct add_ctx *x = ctx;
	struct rev_crl_info info;
	char where[4200];
	int rc;

	snprintf(where, sizeof(where), "%s%s%s", x->file, member[0] ? ":" : "", member);
	rc = rev_store_put(x->s, der, len, x->po, &info);
	if (x->arr != NULL) {
		json_t *o = rc == RES_OK || rc == RES_ALREADY ? info_json(&info, time(NULL))
		                                              : json_object();

		if (o != NULL) {
			json_object_set_new(o, "file", json_string(where));
			json_object_set_new(o, "result",
			                    json_string(rc == RES_OK        ? "stored"
			                                : rc == RES_ALREADY ? "same"
			                                                    : "refused"));
			if (rc != RES_OK && rc != RES_ALREADY)
				json_object_set_new(o, "error", json_string(res_message()));
			json_array_append_new(x->arr, o);
		}
	}
	if (rc == RES_OK || rc == RES_ALREADY) {
		if (x->arr == NULL)
			printf("%s: %s %s (CRL number %s, %zu %s)\n", where,
			       rc == RES_OK ? "stored" : "same CRL already stored as", info.id,
			       info.crl_number[0] ? info.crl_number : "none", info.entries,
			       info.entries == 1 ? "entry" : "entries");
		rev_crl_info_clear(&info);
	} else {
		tool_errorf("%s: %s", where, res_message());
		x->failed = 1;
	}
	return RES_OK;
}

static int add_certs(STACK_OF(X509) * all, const char *path)
{
	STACK_OF(X509) * sk;
	int pem;

	if ((sk = tool_load_certs(path, &pem)) == NULL)
		return -1;
	while (sk_X509_num(sk) > 0)
		sk_X509_push(all, sk_X509_shift(sk));
	sk_X509_free(sk);
	return 0;
}

int tool_crl_add(int argc, char **argv)
{
	static const struct tool_opt opts[] = {
		{ "trust", required_argument, O_TRUST },
		{ "chain", required_argument, O_CHAIN },
		{ "crl-store", required_argument, O_STORE },
		{ "json", no_argument, O_JSON },
		{ NULL, 0, 0 },
	};
	struct tool_common c = { 0 };
	struct crl_args a = { 0 };
	struct rev_put_opts po = { .origin = REV_ORIGIN_MANUAL };
	struct add_ctx x = { 0 };
	struct rev_limits lim;
	STACK_OF(X509) *issuers = NULL;
	int rc, ret = TOOL_EXIT_FAIL;

	if ((rc = tool_parse(argc, argv, opts, add_help, &c, crl_opt, &a)) != TOOL_PARSE_GO)
		return rc;
	if (a.trust == NULL || optind >= argc) {
		tool_errorf("crl add needs FILE... and --trust BUNDLE");
		return TOOL_EXIT_USAGE;
	}
	if ((issuers = sk_X509_new_null()) == NULL || add_certs(issuers, a.trust) != 0 ||
	    (a.chain != NULL && add_certs(issuers, a.chain) != 0))
		goto out;
	if (tool_crl_store_open(a.store, 1, &x.s) != TOOL_EXIT_OK)
		goto out;
	rev_limits_default(&lim);
	po.issuers = issuers;
	x.po = &po;
	if (a.json && (x.arr = json_array()) == NULL)
		goto out;
	for (int i = optind; i < argc; i++) {
		unsigned char *buf;
		size_t len;

		x.file = argv[i];
		po.source = argv[i];
		if ((buf = tool_read_file(argv[i], &len)) == NULL) {
			x.failed = 1;
			continue;
		}
		if ((rc = rev_crls_in(buf, len, &lim, add_one, &x)) != RES_OK) {
			tool_errorf("%s: %s", argv[i], res_message());
			x.failed = 1;
		}
		free(buf);
	}
	ret = x.failed ? TOOL_EXIT_FAIL : TOOL_EXIT_OK;
	if (x.arr != NULL) {
		if (print_json(x.arr) != TOOL_EXIT_OK)
			ret = TOOL_EXIT_FAIL;
		x.arr = NULL;
	}
out:
	json_decref(x.arr);
	rev_store_close(x.s);
	sk_X509_pop_free(issuers, X509_free);
	return ret;
}

/* ---- crl list ----------------------------------------------------- */

static const char list_help[] = "usage: p11ca crl list [--crl-store DIR] [--json]\n\n"
                                "One line per stored CRL: id, issuer, CRL number, next update (or\n"
                                "EXPIRED), entries, origin and source, age.\n";

static void age_text(int64_t secs, char *out, size_t cap)
{
	if (secs < 0)
		secs = 0;
	if (secs < 120)
		snprintf(out, cap, "%llds", (long long)secs);
	else if (secs < 7200)
		snprintf(out, cap, "%lldm", (long long)secs / 60);
	else if (secs < 172800)
		snprintf(out, cap, "%lldh", (long long)secs / 3600);
	else
		snprintf(out, cap, "%lldd", (long long)secs / 86400);
}

struct list_ctx {
	json_t *arr;
	int64_t now;
	size_t n;
};

static int list_one(void *ctx, const struct rev_crl_info *i)
{
	struct list_ctx *l = ctx;
	char nu[PKI_TIME_ISO_MAX], age[32];

	l->n++;
	if (l->arr != NULL) {
		json_t *o = info_json(i, l->now);

		if (o == NULL || json_array_append_new(l->arr, o) != 0)
			return res_set(RES_NOMEM, "out of memory");
		return RES_OK;
	}
	if (i->next_update != 0 && l->now > i->next_update)
		strcpy(nu, "EXPIRED");
	else
		iso_or_null(i->next_update, nu);
	age_text(l->now - i->stored_at, age, sizeof(age));
	printf("%s  %s  number %s  next %s  %zu %s  %s %s  age %s\n", i->id, i->issuer,
	       i->crl_number[0] ? i->crl_number : "-", nu, i->entries,
	       i->entries == 1 ? "entry" : "entries",
	       i->origin == REV_ORIGIN_DOWNLOAD ? "download" : "manual",
	       i->source ? i->source : "-", age);
	return RES_OK;
}

int tool_crl_list(int argc, char **argv)
{
	static const struct tool_opt opts[] = {
		{ "crl-store", required_argument, O_STORE },
		{ "json", no_argument, O_JSON },
		{ NULL, 0, 0 },
	};
	struct tool_common c = { 0 };
	struct crl_args a = { 0 };
	struct list_ctx l = { .now = (int64_t)time(NULL) };
	struct rev_store *s = NULL;
	int rc, ret = TOOL_EXIT_FAIL;

	if ((rc = tool_parse(argc, argv, opts, list_help, &c, crl_opt, &a)) != TOOL_PARSE_GO)
		return rc;
	if (optind != argc) {
		tool_errorf("crl list takes no operands");
		return TOOL_EXIT_USAGE;
	}
	if (a.json && (l.arr = json_array()) == NULL)
		return TOOL_EXIT_FAIL;
	if (access(tool_crl_store_dir(a.store), F_OK) != 0) {
		ret = TOOL_EXIT_OK; /* no store yet: nothing stored */
	} else {
		if (tool_crl_store_open(a.store, 0, &s) != TOOL_EXIT_OK)
			goto out;
		if ((rc = rev_store_foreach(s, list_one, &l)) != RES_OK) {
			tool_errorf("%s", res_message());
			goto out;
		}
		ret = TOOL_EXIT_OK;
	}
	if (l.arr != NULL) {
		ret = print_json(l.arr);
		l.arr = NULL;
	} else if (l.n == 0 && c.verbose) {
		tool_infof("no CRL stored in %s", tool_crl_store_dir(a.store));
	}
out:
	json_decref(l.arr);
	rev_store_close(s);
	return ret;
}

/* ---- crl show ----------------------------------------------------- */

static const char show_help[] =
    "usage: p11ca crl show ID [--crl-store DIR] [--json] [--out FILE [--pem]]\n\n"
    "Shows one stored CRL (ID, or a unique start of it, as 'crl list' prints);\n"
    "--out writes the CRL as stored (DER, or PEM with --pem; '-' is standard\n"
    "output).\n";

static int write_crl(const char *path, const unsigned char *der, size_t len, int pem)
{
	BIO *b;
	BUF_MEM *m;
	int ret = TOOL_EXIT_FAIL;

	if (!pem)
		return tool_write_atomic(path, der, len);
	if ((b = BIO_new(BIO_s_mem())) == NULL ||
	    PEM_write_bio(b, PEM_STRING_X509_CRL, "", der, (long)len) <= 0 ||
	    BIO_get_mem_ptr(b, &m) != 1) {
		tool_ossl_fail("PEM");
		goto out;
	}
	ret = tool_write_atomic(path, (const unsigned char *)m->data, m->length);
out:
	BIO_free(b);
	return ret;
}

int tool_crl_show(int argc, char **argv)
{
	static const struct tool_opt opts[] = {
		{ "crl-store", required_argument, O_STORE },
		{ "json", no_argument, O_JSON },
		{ "out", required_argument, O_OUT },
		{ "pem", no_argument, O_PEM },
		{ NULL, 0, 0 },
	};
	struct tool_common c = { 0 };
	struct crl_args a = { 0 };
	struct rev_crl_info i = { 0 };
	struct rev_store *s = NULL;
	unsigned char *der = NULL;
	size_t len = 0;
	int64_t now = (int64_t)time(NULL);
	int rc, ret = TOOL_EXIT_FAIL;

	if ((rc = tool_parse(argc, argv, opts, show_help, &c, crl_opt, &a)) != TOOL_PARSE_GO)
		return rc;
	if (optind + 1 != argc || (a.pem && a.out == NULL)) {
		tool_errorf("crl show needs one ID (and --pem only with --out)");
		return TOOL_EXIT_USAGE;
	}
	if (tool_crl_store_open(a.store, 0, &s) != TOOL_EXIT_OK)
		goto out;
	if ((rc = rev_store_get(s, argv[optind], &i, a.out ? &der : NULL, &len)) != RES_OK) {
		tool_errorf("%s", res_message());
		goto out;
	}
	if (a.out != NULL && write_crl(a.out, der, len, a.pem) != TOOL_EXIT_OK)
		goto out;
	if (a.out != NULL && strcmp(a.out, "-") == 0) {
		ret = TOOL_EXIT_OK; /* the CRL is the output */
	} else if (a.json) {
		ret = print_json(info_json(&i, now));
	} else {
		char tu[PKI_TIME_ISO_MAX], nu[PKI_TIME_ISO_MAX], sa[PKI_TIME_ISO_MAX];

		pki_time_iso(i.this_update, tu);
		iso_or_null(i.next_update, nu);
		pki_time_iso(i.stored_at, sa);
		printf("id:            %s\n", i.id);
		printf("issuer:        %s\n", i.issuer);
		printf("issuer SHA256: %s\n", i.issuer_fp);
		printf("CRL number:    %s\n", i.crl_number[0] ? i.crl_number : "(none)");
		printf("this update:   %s\n", tu);
		printf("next update:   %s%s\n", nu,
		       i.next_update != 0 && now > i.next_update ? " (EXPIRED)" : "");
		printf("entries:       %zu\n", i.entries);
		printf("origin:        %s\n",
		       i.origin == REV_ORIGIN_DOWNLOAD ? "download" : "manual");
		printf("source:        %s\n", i.source ? i.source : "-");
		printf("stored at:     %s\n", sa);
		if (i.only_user_certs || i.only_ca_certs)
			printf("scope:         %s certificates only\n",
			       i.only_user_certs ? "user" : "CA");
		if (i.etag != NULL)
			printf("ETag:          %s\n", i.etag);
		if (i.last_modified != NULL)
			printf("Last-Modified: %s\n", i.last_modified);
		ret = fflush(stdout) == 0 ? TOOL_EXIT_OK : TOOL_EXIT_FAIL;
	}
out:
	free(der);
	rev_crl_info_clear(&i);
	rev_store_close(s);
	return ret;
}

/* ---- crl remove --------------------------------------------------- */

static const char remove_help[] =
    "usage: p11ca crl remove ID [--crl-store DIR] [--yes]\n\n"
    "Removes one stored CRL (ID or a unique start of it).  Asks on a terminal;\n"
    "--yes otherwise.\n";

int tool_crl_remove(int argc, char **argv)
{
	static const struct tool_opt opts[] = {
		{ "crl-store", required_argument, O_STORE },
		{ "yes", no_argument, O_YES },
		{ NULL, 0, 0 },
	};
	struct tool_common c = { 0 };
	struct crl_args a = { 0 };
	struct rev_crl_info i = { 0 };
	struct rev_store *s = NULL;
	char what[1024];
	int rc, ret = TOOL_EXIT_FAIL;

	if ((rc = tool_parse(argc, argv, opts, remove_help, &c, crl_opt, &a)) != TOOL_PARSE_GO)
		return rc;
	if (optind + 1 != argc) {
		tool_errorf("crl remove needs one ID");
		return TOOL_EXIT_USAGE;
	}
	if (tool_crl_store_open(a.store, 0, &s) != TOOL_EXIT_OK)
		goto out;
	if ((rc = rev_store_get(s, argv[optind], &i, NULL, NULL)) != RES_OK) {
		tool_errorf("%s", res_message());
		goto out;
	}
	snprintf(what, sizeof(what), "remove the %s CRL %s of %s",
	         i.origin == REV_ORIGIN_DOWNLOAD ? "downloaded" : "manual", i.id, i.issuer);
	if ((ret = tool_confirm(what, a.yes)) != TOOL_EXIT_OK)
		goto out;
	ret = TOOL_EXIT_FAIL;
	if ((rc = rev_store_remove(s, i.id)) != RES_OK) {
		tool_errorf("%s", res_message());
		goto out;
	}
	if (c.verbose)
		tool_infof("removed %s", i.id);
	ret = TOOL_EXIT_OK;
out:
	rev_crl_info_clear(&i);
	rev_store_close(s);
	return ret;
}

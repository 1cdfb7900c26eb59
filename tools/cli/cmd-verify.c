/*
 * cmd-verify.c - p11ca verify: is a certificate fit for use, as the
 * appliance decides it: the chain (pki_verify_chain) and the revocation of
 * the leaf and of every CA in it (rev_verify, tools/rev/check.h), with the
 * fallback for what no source answers.  Text, --explain or --json.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <jansson.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "cmd-crl.h"
#include "cmd-verify.h"
#include "check.h"
#include "pki.h"
#include "result.h"
#include "tool.h"

enum {
	O_CHAIN = OPT_FIRST_LOCAL,
	O_TRUST,
	O_CRL_STORE,
	O_REVOCATION,
	O_CDP_DOWNLOAD,
	O_FALLBACK,
	O_CHECK_ANCHOR,
	O_USE_BOTH,
	O_OCSP_URL,
	O_NO_NONCE,
	O_PURPOSE,
	O_NAME,
	O_AT,
	O_JSON,
	O_EXPLAIN,
	O_AIA_FETCH,
	O_HTTPS_TRUST,
};

struct vopts {
	const char *chain, *trust, *crl_store, *revocation, *fallback, *ocsp_url, *purpose, *name,
	    *at, *https_trust;
	int aia_fetch, cdp_download, check_anchor, use_both, no_nonce, json, explain;
};

static int verify_opt(int id, const char *arg, void *data)
{
	struct vopts *o = data;

	switch (id) {
	case O_CHAIN: o->chain = arg; break;
	case O_TRUST: o->trust = arg; break;
	case O_CRL_STORE: o->crl_store = arg; break;
	case O_REVOCATION: o->revocation = arg; break;
	case O_CDP_DOWNLOAD: o->cdp_download = 1; break;
	case O_FALLBACK: o->fallback = arg; break;
	case O_CHECK_ANCHOR: o->check_anchor = 1; break;
	case O_USE_BOTH: o->use_both = 1; break;
	case O_OCSP_URL: o->ocsp_url = arg; break;
	case O_NO_NONCE: o->no_nonce = 1; break;
	case O_PURPOSE: o->purpose = arg; break;
	case O_NAME: o->name = arg; break;
	case O_AT: o->at = arg; break;
	case O_JSON: o->json = 1; break;
	case O_EXPLAIN: o->explain = 1; break;
	case O_AIA_FETCH: o->aia_fetch = 1; break;
	case O_HTTPS_TRUST: o->https_trust = arg; break;
	default: return TOOL_EXIT_USAGE;
	}
	return TOOL_EXIT_OK;
}

/* Everything the options say, into @ro; TOOL_EXIT_OK or USAGE (reported). */
static int opts_to_rev(const struct vopts *o, struct rev_verify_opts *ro)
{
	if (rev_order_parse(o->revocation != NULL ? o->revocation : "crl,ocsp", ro->order) !=
	    RES_OK) {
		tool_errorf("--revocation %s", res_message());
		return TOOL_EXIT_USAGE;
	}
	if (o->fallback == NULL || strcmp(o->fallback, "not-revoked") == 0)
		ro->fallback_revoked = 0;
	else if (strcmp(o->fallback, "revoked") == 0)
		ro->fallback_revoked = 1;
	else {
		tool_errorf("--fallback '%s': revoked or not-revoked", o->fallback);
		return TOOL_EXIT_USAGE;
	}
	if (o->purpose == NULL || strcmp(o->purpose, "any") == 0)
		;
	else if (strcmp(o->purpose, "server") == 0) {
		ro->pki.purpose = X509_PURPOSE_SSL_SERVER;
		ro->pki.want_server_auth = 1;
	} else if (strcmp(o->purpose, "client") == 0) {
		ro->pki.purpose = X509_PURPOSE_SSL_CLIENT;
		ro->pki.want_client_auth = 1;
	} else {
		tool_errorf("--purpose '%s': server, client or any", o->purpose);
		return TOOL_EXIT_USAGE;
	}
	if (o->at != NULL && pki_time_parse(o->at, &ro->pki.at) != RES_OK) {
		tool_errorf("--at: %s", res_message());
		return TOOL_EXIT_USAGE;
	}
	if (o->name != NULL && *o->name == '\0') {
		tool_errorf("--name: empty");
		return TOOL_EXIT_USAGE;
	}
	if (o->ocsp_url != NULL && strncmp(o->ocsp_url, "http://", 7) != 0 &&
	    strncmp(o->ocsp_url, "https://", 8) != 0) {
		tool_errorf("--ocsp-url '%s': not an http:// or https:// URL", o->ocsp_url);
		return TOOL_EXIT_USAGE;
	}
	ro->pki.host = o->name;
	ro->cdp_download = o->cdp_download;
	ro->check_anchor = o->check_anchor;
	ro->use_both = o->use_both;
	ro->ocsp.url = o->ocsp_url;
	ro->ocsp.no_nonce = o->no_nonce;
	ro->aia_fetch = o->aia_fetch;
	ro->https_ca_file = o->https_trust;
	ro->ocsp.ca_file = o->https_trust;
	return TOOL_EXIT_OK;
}

/* ---- output ----------------------------------------------------------- */

static char *subject_of(X509 *x, int issuer)
{
	char *s = NULL;

	if (pki_name_oneline(issuer ? X509_get_issuer_name(x) : X509_get_subject_name(x), &s) !=
	    RES_OK)
		return NULL;
	return s;
}

/* The flags' English names, comma-separated, the warnings (@warn) or the rest. */
static void problems_text(unsigned flags, int warn, char *out, size_t cap)
{
	unsigned bit;
	size_t n = 0;

	out[0] = '\0';
	for (bit = 1; bit != 0; bit <<= 1) {
		if (!(flags & bit) || !!(bit & PKI_E_WARNINGS) != warn)
			continue;
		snprintf(out + n, cap - n, "%s%s", n ? ", " : "", pki_elem_flag_name(bit));
		n = strlen(out);
	}
}

/* "good", "revoked (keyCompromise, 2026-..)", "undetermined (no-source)", "not checked" */
static void revocation_text(const struct rev_elem_report *e, char *out, size_t cap)
{
	char iso[PKI_TIME_ISO_MAX];
	const char *rn = rev_reason_name(e->reason);

	switch (e->state) {
	case REV_STATE_REVOKED:
		if (e->expired_crl) {
			snprintf(out, cap, "revoked (expired CRL)");
			break;
		}
		pki_time_iso(e->revoked_at, iso);
		snprintf(out, cap, "revoked (%s, %s)", rn != NULL ? rn : "no reason given",
		         e->revoked_at != 0 ? iso : "no date");
		break;
	case REV_STATE_UNDETERMINED:
		snprintf(out, cap, "undetermined (%s)", e->why != NULL ? e->why : "no-source");
		break;
	default: snprintf(out, cap, "%s", rev_state_name(e->state)); break;
	}
}

/* Why the certificate is not fit: the first element that makes it so. */
static void unfit_reason(const struct rev_report *r, int fallback_revoked, char *out, size_t cap)
{
	char text[512];
	size_t i;

	for (i = 0; i < r->chain->n; i++) {
		const struct pki_chain_elem *c = &r->chain->elems[i];

		if (c->flags & ~PKI_E_WARNINGS) {
			problems_text(c->flags, 0, text, sizeof(text));
			snprintf(out, cap, "[%zu] %s", i, text);
			return;
		}
	}
	for (i = 0; i < r->chain->n; i++) {
		const struct rev_elem_report *e = &r->elems[i];

		if (e->state == REV_STATE_REVOKED ||
		    (e->state == REV_STATE_UNDETERMINED && fallback_revoked)) {
			revocation_text(e, text, sizeof(text));
			snprintf(out, cap, "[%zu] %s%s", i, text,
			         e->state == REV_STATE_UNDETERMINED ? ", --fallback revoked" : "");
			return;
		}
	}
	if (!r->chain->elems[r->chain->n - 1].trusted)
		snprintf(out, cap, "the chain does not end at a trusted CA");
	else
		snprintf(out, cap, "see the chain below");
}

static int print_text(const char *cert, const struct rev_report *r, int fallback_revoked,
                      int explain)
{
	char reason[600], prob[512], warn[256], rev[256];
	size_t i, k;

	if (r->fit)
		printf("%s: fit\n", cert);
	else {
		unfit_reason(r, fallback_revoked, reason, sizeof(reason));
		printf("%s: not fit: %s\n", cert, reason);
	}
	for (i = 0; i < r->chain->n; i++) {
		const struct pki_chain_elem *c = &r->chain->elems[i];
		const struct rev_elem_report *e = &r->elems[i];
		char *subject = subject_of(c->cert, 0), *issuer = subject_of(c->cert, 1);

		if (subject == NULL || issuer == NULL) {
			free(subject);
			free(issuer);
			return 0;
		}
		problems_text(c->flags, 0, prob, sizeof(prob));
		problems_text(c->flags, 1, warn, sizeof(warn));
		revocation_text(e, rev, sizeof(rev));
		printf("  [%zu] %s: %s%s%s%s; revocation %s\n", i, subject,
		       prob[0] ? prob : "chain ok", warn[0] ? " (warning: " : "", warn,
		       warn[0] ? ")" : "", rev);
		if (explain) {
			printf("      issuer: %s%s\n", issuer, c->trusted ? " (trust anchor)" : "");
			if (c->x509_error != 0)
				printf("      chain: %s\n",
				       X509_verify_cert_error_string(c->x509_error));
			if (c->flags & PKI_E_NAME_IP)
				printf("      name: the peer address is an IP address, the "
				       "certificate "
				       "names DNS names only\n");
			if (e->decided_by != NULL)
				printf("      decided by: %s\n", e->decided_by);
			for (k = 0; e->notes != NULL && e->notes[k] != NULL; k++)
				printf("      note: %s\n", e->notes[k]);
			if (e->state == REV_STATE_UNDETERMINED)
				printf("      fallback: treated as %s\n",
				       fallback_revoked ? "revoked" : "not revoked");
		}
		free(subject);
		free(issuer);
	}
	for (k = 0; explain && r->aia_notes != NULL && r->aia_notes[k] != NULL; k++)
		printf("  aia: %s\n", r->aia_notes[k]);
	return 1;
}

static json_t *json_elem(const struct pki_chain_elem *c, const struct rev_elem_report *e)
{
	char serial[PKI_SERIAL_MAX], iso[PKI_TIME_ISO_MAX];
	char *subject = subject_of(c->cert, 0), *issuer = subject_of(c->cert, 1);
	json_t *obj = NULL, *probs = NULL, *notes = NULL, *rev = NULL;
	const char *rn = rev_reason_name(e->reason);
	unsigned bit;
	size_t k;

	if (subject == NULL || issuer == NULL)
		goto out;
	if (pki_serial_of(X509_get0_serialNumber(c->cert), serial) != RES_OK)
		snprintf(serial, sizeof(serial), "?");
	if ((probs = json_array()) == NULL || (notes = json_array()) == NULL)
		goto out;
	for (bit = 1; bit != 0; bit <<= 1)
		if ((c->flags & bit) &&
		    json_array_append_new(probs, json_string(rev_problem_name(bit))) != 0)
			goto out;
	for (k = 0; e->notes != NULL && e->notes[k] != NULL; k++)
		if (json_array_append_new(notes, json_string(e->notes[k])) != 0)
			goto out;
	pki_time_iso(e->revoked_at, iso);
	rev = json_pack(
	    "{s:s, s:s?, s:s?, s:s?, s:s?, s:b, s:O}", "state", rev_state_name(e->state), "reason",
	    e->state == REV_STATE_REVOKED ? rn : NULL, "revoked_at",
	    e->state == REV_STATE_REVOKED && e->revoked_at != 0 ? iso : NULL, "why", e->why,
	    "decided_by", e->decided_by, "expired_crl", e->expired_crl, "notes", notes);
	if (rev == NULL)
		goto out;
	obj = json_pack("{s:s, s:s, s:s, s:b, s:O, s:o}", "subject", subject, "issuer", issuer,
	                "serial", serial, "trusted", c->trusted, "problems", probs, "revocation",
	                rev);
	rev = NULL;
out:
	json_decref(rev);
	json_decref(probs);
	json_decref(notes);
	free(subject);
	free(issuer);
	return obj;
}

static int print_json(const struct rev_report *r, int fallback_revoked)
{
	json_t *root = NULL, *chain = NULL, *aia = NULL, *el;
	size_t i;
	int ok = 0;

	if ((chain = json_array()) == NULL)
		goto out;
	for (i = 0; i < r->chain->n; i++)
		if ((el = json_elem(&r->chain->elems[i], &r->elems[i])) == NULL ||
		    json_array_append_new(chain, el) != 0)
			goto out;
	root = json_pack("{s:b, s:b, s:s, s:O}", "fit", r->fit, "fallback_used", r->fallback_used,
	                 "fallback", fallback_revoked ? "revoked" : "not-revoked", "chain", chain);
	if (root == NULL || (aia = json_array()) == NULL || json_object_set(root, "aia", aia) != 0)
		goto out;
	for (i = 0; r->aia_notes != NULL && r->aia_notes[i] != NULL; i++)
		if (json_array_append_new(aia, json_string(r->aia_notes[i])) != 0)
			goto out;
	ok = json_dumpf(root, stdout, JSON_INDENT(2)) == 0 && putchar('\n') != EOF;
out:
	json_decref(chain);
	json_decref(aia);
	json_decref(root);
	return ok;
}

/* ---- inputs ----------------------------------------------------------- */

/* CERT (PEM or DER; further PEM certificates join @untrusted). */
static X509 *load_leaf(const char *path, STACK_OF(X509) * untrusted)
{
	STACK_OF(X509) *certs = NULL;
	unsigned char *buf;
	size_t len;
	X509 *leaf = NULL;

	if ((buf = tool_read_file(path, &len)) == NULL)
		return NULL;
	if (pki_load_certs(buf, len, &certs, NULL) != RES_OK) {
		tool_errorf("%s: %s", path, res_message());
		goto out;
	}
	leaf = sk_X509_shift(certs);
	while (sk_X509_num(certs) > 0) {
		X509 *x = sk_X509_shift(certs);
		if (!sk_X509_push(untrusted, x)) {
			X509_free(x);
			X509_free(leaf);
			leaf = NULL;
			tool_errorf("out of memory");
			goto out;
		}
	}
out:
	sk_X509_pop_free(certs, X509_free);
	free(buf);
	return leaf;
}

static int load_more(const char *path, STACK_OF(X509) * untrusted)
{
	STACK_OF(X509) *certs = NULL;
	unsigned char *buf;
	size_t len;
	int ok = 0;

	if ((buf = tool_read_file(path, &len)) == NULL)
		return 0;
	if (pki_load_certs(buf, len, &certs, NULL) != RES_OK) {
		tool_errorf("--chain %s: %s", path, res_message());
		goto out;
	}
	while (sk_X509_num(certs) > 0) {
		X509 *x = sk_X509_shift(certs);
		if (!sk_X509_push(untrusted, x)) {
			X509_free(x);
			tool_errorf("out of memory");
			goto out;
		}
	}
	ok = 1;
out:
	sk_X509_pop_free(certs, X509_free);
	free(buf);
	return ok;
}

int tool_verify_load_bundle(const char *path, STACK_OF(X509) * *pcerts, STACK_OF(X509_CRL) * *pcrls)
{
	unsigned char *buf;
	size_t len;
	int rc;

	if ((buf = tool_read_file(path, &len)) == NULL)
		return TOOL_EXIT_FAIL;
	if (len > 0 && buf[0] == 0x30 && !pki_is_pem(buf, len)) {
		/* one DER CA certificate (what cert check --bundle always took) */
		rc = pki_load_certs(buf, len, pcerts, NULL);
		if (rc == RES_OK && (*pcrls = sk_X509_CRL_new_null()) == NULL)
			rc = res_set(RES_NOMEM, "out of memory");
	} else
		rc = pki_load_bundle(buf, len, pcerts, NULL, pcrls);
	free(buf);
	if (rc != RES_OK) {
		tool_errorf("%s: %s", path, res_message());
		return TOOL_EXIT_FAIL;
	}
	return TOOL_EXIT_OK;
}

int tool_verify_open_store(const char *opt, int cdp_download, struct rev_store **ps)
{
	struct stat st;

	*ps = NULL;
	/*
	 * The default store is used when it is there (a CDP download is kept in
	 * memory otherwise); one named is opened, and made for --cdp-download.
	 */
	if (opt == NULL && stat(tool_crl_store_dir(NULL), &st) != 0)
		return TOOL_EXIT_OK;
	return tool_crl_store_open(opt, opt != NULL && cdp_download, ps);
}

int tool_verify(int argc, char **argv)
{
	static const struct tool_opt opts[] = {
		{ "chain", required_argument, O_CHAIN },
		{ "trust", required_argument, O_TRUST },
		{ "crl-store", required_argument, O_CRL_STORE },
		{ "revocation", required_argument, O_REVOCATION },
		{ "cdp-download", no_argument, O_CDP_DOWNLOAD },
		{ "fallback", required_argument, O_FALLBACK },
		{ "check-anchor", no_argument, O_CHECK_ANCHOR },
		{ "use-both", no_argument, O_USE_BOTH },
		{ "ocsp-url", required_argument, O_OCSP_URL },
		{ "no-nonce", no_argument, O_NO_NONCE },
		{ "purpose", required_argument, O_PURPOSE },
		{ "name", required_argument, O_NAME },
		{ "at", required_argument, O_AT },
		{ "json", no_argument, O_JSON },
		{ "explain", no_argument, O_EXPLAIN },
		{ "aia-fetch", no_argument, O_AIA_FETCH },
		{ "https-trust", required_argument, O_HTTPS_TRUST },
		{ NULL, 0, 0 },
	};
	static const char help[] =
	    "usage: p11ca verify CERT --trust BUNDLE [--chain FILE] [--crl-store DIR]\n"
	    "                    [--revocation off|crl|ocsp|crl,ocsp|ocsp,crl] [--cdp-download]\n"
	    "                    [--fallback revoked|not-revoked] [--check-anchor] [--use-both]\n"
	    "                    [--ocsp-url URL] [--no-nonce] [--purpose server|client|any]\n"
	    "                    [--name FQDN|IP] [--at TIME] [--aia-fetch] [--https-trust FILE]\n"
	    "                    [--json] [--explain]\n\n"
	    "Whether CERT (PEM or DER; more PEM certificates after the first are taken as\n"
	    "chain) is fit for use: its chain up to a CA of BUNDLE, each element checked\n"
	    "(signature, validity, basicConstraints and pathlen, key usage, EKU for\n"
	    "--purpose, --name in the SAN or CN without wildcards, key size: RSA over\n"
	    "4096 bits is a warning), then the revocation of CERT and of every CA in the\n"
	    "chain (not the self-signed trust anchor unless --check-anchor).  Exit 0 when\n"
	    "fit, 1 when not (or on an error), 2 for a usage error.\n\n"
	    "  --trust BUNDLE     trusted CA certificates (PEM); X509 CRL blocks in it are\n"
	    "                     used as CRLs embedded in the trusted-CA file\n"
	    "  --chain FILE       intermediate CA certificates (untrusted)\n"
	    "  --crl-store DIR    the CRL store (default: $P11CA_CRL_STORE, else\n"
	    "                     ~/.local/share/p11ca/crls, /var/lib/p11ca/crls for root,\n"
	    "                     used when it exists)\n"
	    "  --revocation M     methods in order (default crl,ocsp): crl asks the store,\n"
	    "                     then the bundle's CRLs, then (--cdp-download) the CDPs;\n"
	    "                     ocsp asks the responder of the certificate's AIA\n"
	    "  --cdp-download     download a CRL from the certificate's distribution point\n"
	    "                     when no current one is known (kept in the store)\n"
	    "  --fallback F       what an undetermined element counts as: not-revoked\n"
	    "                     (default, the appliance's) or revoked\n"
	    "  --check-anchor     check the trust anchor's revocation too\n"
	    "  --use-both         manual and downloaded CRLs of one CA both count\n"
	    "  --ocsp-url URL     ask this responder instead of the certificate's\n"
	    "  --no-nonce         send no OCSP nonce (nor require one back)\n"
	    "  --purpose P        the leaf's EKU must allow serverAuth (server) or\n"
	    "                     clientAuth (client); any (default) asks neither\n"
	    "  --name N           an FQDN or IP address the leaf must name\n"
	    "  --at TIME          check at TIME (UTC) instead of now\n"
	    "  --aia-fetch        fetch a missing issuer from the AIA caIssuers URL (http/https,\n"
	    "                     DER, PEM or PKCS#7; untrusted: the chain must still end at a\n"
	    "                     CA of BUNDLE)\n"
	    "  --https-trust FILE CA certificates for HTTPS distribution points, responders\n"
	    "                     and caIssuers URLs (default: the system's)\n"
	    "  --json             the verdict as JSON\n"
	    "  --explain          the evidence under each element: what decided, what\n"
	    "                     was not used and why\n\n"
	    "An expired CRL counts as revoked.  The first source with a current answer\n"
	    "decides.\n";
	struct tool_common c = { 0 };
	struct vopts o = { 0 };
	struct rev_verify_opts ro;
	struct rev_report *rep = NULL;
	STACK_OF(X509) *untrusted = NULL, *trusted = NULL;
	STACK_OF(X509_CRL) *crls = NULL;
	X509 *leaf = NULL;
	int r, ret;

	memset(&ro, 0, sizeof(ro));
	if ((r = tool_parse(argc, argv, opts, help, &c, verify_opt, &o)) != TOOL_PARSE_GO)
		return r;
	if (optind + 1 != argc) {
		tool_errorf("verify needs one CERT (see --help)");
		return TOOL_EXIT_USAGE;
	}
	if (o.trust == NULL || *o.trust == '\0') {
		tool_errorf("verify: --trust BUNDLE is required");
		return TOOL_EXIT_USAGE;
	}
	if ((ret = opts_to_rev(&o, &ro)) != TOOL_EXIT_OK)
		return ret;
	ret = TOOL_EXIT_FAIL;
	if ((untrusted = sk_X509_new_null()) == NULL) {
		tool_errorf("out of memory");
		goto out;
	}
	if ((leaf = load_leaf(argv[optind], untrusted)) == NULL)
		goto out;
	if (o.chain != NULL && !load_more(o.chain, untrusted))
		goto out;
	if (tool_verify_load_bundle(o.trust, &trusted, &crls) != TOOL_EXIT_OK)
		goto out;
	ro.bundle_crls = crls;
	if (ro.order[0] != REV_M_NONE &&
	    tool_verify_open_store(o.crl_store, o.cdp_download, &ro.store) != TOOL_EXIT_OK)
		goto out;
	if (rev_verify(NULL, leaf, untrusted, trusted, &ro, &rep) != RES_OK) {
		tool_errorf("%s: %s", argv[optind], res_message());
		goto out;
	}
	if (!(o.json ? print_json(rep, ro.fallback_revoked)
	             : print_text(argv[optind], rep, ro.fallback_revoked, o.explain)) ||
	    fflush(stdout) != 0) {
		tool_errorf("cannot write the verdict");
		goto out;
	}
	ret = rep->fit ? TOOL_EXIT_OK : TOOL_EXIT_FAIL;
out:
	ERR_clear_error();
	rev_report_free(rep);
	rev_store_close(ro.store);
	X509_free(leaf);
	sk_X509_pop_free(untrusted, X509_free);
	sk_X509_pop_free(trusted, X509_free);
	sk_X509_CRL_pop_free(crls, X509_CRL_free);
	return ret;
}

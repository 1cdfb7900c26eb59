/*
 * cmd-tls-probe.c - p11ca tls probe HOST:PORT: a TLS handshake with a peer
 * (rev_probe_run, bounded), optionally with our client key on the token
 * (mutual TLS, as neighbour zones in TLS verify mode), then the verdict
 * (rev_verify) on what the peer sent, with its name and purpose server
 * (and client when mutual), and the diagnoses (cmd-tls-diag.c).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <openssl/err.h>

#include "cmd-cert.h"
#include "cmd-crl.h"
#include "cmd-tls.h"
#include "cmd-verify.h"
#include "result.h"

enum {
	O_NAME = OPT_FIRST_LOCAL,
	O_TRUST,
	O_KEY,
	O_CERT,
	O_SNI,
	O_TIMEOUT,
	O_CRL_STORE,
	O_REVOCATION,
	O_FALLBACK,
	O_JSON,
};

struct probe_opts {
	const char *name, *trust, *key, *cert, *sni, *crl_store, *revocation, *fallback;
	long timeout;
	int json;
};

static int probe_opt(int id, const char *arg, void *data)
{
	struct probe_opts *o = data;
	char *end;

	switch (id) {
	case O_NAME: o->name = arg; break;
	case O_TRUST: o->trust = arg; break;
	case O_KEY: o->key = arg; break;
	case O_CERT: o->cert = arg; break;
	case O_SNI: o->sni = arg; break;
	case O_CRL_STORE: o->crl_store = arg; break;
	case O_REVOCATION: o->revocation = arg; break;
	case O_FALLBACK: o->fallback = arg; break;
	case O_JSON: o->json = 1; break;
	case O_TIMEOUT:
		o->timeout = strtol(arg, &end, 10);
		if (end == arg || *end != '\0' || o->timeout < 1 || o->timeout > 3600) {
			tool_errorf("--timeout '%s': seconds, 1 to 3600", arg);
			return TOOL_EXIT_USAGE;
		}
		break;
	default: return TOOL_EXIT_USAGE;
	}
	return TOOL_EXIT_OK;
}

/* --revocation off|crl|ocsp|crl,ocsp|ocsp,crl into @order; 0 when malformed. */
static int parse_order(const char *s, enum rev_method order[2])
{
	static const struct {
		const char *name;
		enum rev_method a, b;
	} t[] = {
		{ "off", REV_M_NONE, REV_M_NONE },     { "crl", REV_M_CRL, REV_M_NONE },
		{ "ocsp", REV_M_OCSP, REV_M_NONE },    { "crl,ocsp", REV_M_CRL, REV_M_OCSP },
		{ "ocsp,crl", REV_M_OCSP, REV_M_CRL },
	};
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (strcasecmp(s, t[i].name) == 0) {
			order[0] = t[i].a;
			order[1] = t[i].b;
			return 1;
		}
	return 0;
}

static int is_ip(const char *s)
{
	unsigned char buf[16];

	return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

/* "host:port", "[v6]:port" into @host (in @buf) and @port; 0 when malformed. */
static int split_target(const char *t, char *buf, size_t cap, const char **host, const char **port)
{
	char *c;

	if (strlen(t) >= cap)
		return 0;
	strcpy(buf, t);
	if (buf[0] == '[') {
		if ((c = strstr(buf, "]:")) == NULL)
			return 0;
		*c = '\0';
		*host = buf + 1;
		*port = c + 2;
	} else {
		if ((c = strrchr(buf, ':')) == NULL || strchr(buf, ':') != c)
			return 0;
		*c = '\0';
		*host = buf;
		*port = c + 1;
	}
	return **host != '\0' && **port != '\0';
}

static const char probe_help[] =
    "usage: p11ca tls probe HOST:PORT [--name FQDN] [--trust BUNDLE]\n"
    "                       [--key URI --cert FILE] [--servername SNI]\n"
    "                       [--timeout SECONDS] [--crl-store DIR]\n"
    "                       [--revocation off|crl|ocsp|crl,ocsp|ocsp,crl]\n"
    "                       [--fallback revoked|not-revoked] [--json]\n\n"
    "Shakes hands with a TLS 1.2/1.3 peer and judges what it sent as the\n"
    "appliance's TLS verify mode does.  Shows the chain the peer sent (subject,\n"
    "issuer, serial, validity, key, EKU, SANs), the protocol and cipher, and a\n"
    "stapled OCSP response (one is asked for); then the verdict (as p11ca\n"
    "verify: chain to a CA of --trust, default " DEFAULT_BUNDLE ",\n"
    "revocation of every element, --revocation default crl,ocsp, --fallback\n"
    "default not-revoked) with the peer name (--name, else HOST) and purpose\n"
    "server, and client too with --key/--cert (mutual TLS: our client key on\n"
    "the token, our certificate in FILE with any intermediates after it).\n"
    "SNI: --servername, else --name, else HOST when it is a DNS name.\n"
    "The whole probe (connect, handshake) is bounded by --timeout (10 s).\n"
    "Each problem is a line 'problem: ...': a name not in CN/SAN (and the\n"
    "nearest name that is), an IP peer address where the certificate names\n"
    "FQDNs, an incomplete chain (the missing issuer), untrusted, expired,\n"
    "revoked, RSA over 4096 bits, no clientAuth EKU for mutual TLS (the peer's\n"
    "or ours), the server refusing our client certificate.  The first line is\n"
    "'HOST:PORT: fit' or 'HOST:PORT: not fit: PROBLEM'.  --json: one object.\n"
    "Exit status: 0 fit, 1 not fit or no connection, 2 usage.\n";

int tool_tls_probe(int argc, char **argv)
{
	static const struct tool_opt opts[] = {
		{ "name", required_argument, O_NAME },
		{ "trust", required_argument, O_TRUST },
		{ "key", required_argument, O_KEY },
		{ "cert", required_argument, O_CERT },
		{ "servername", required_argument, O_SNI },
		{ "timeout", required_argument, O_TIMEOUT },
		{ "crl-store", required_argument, O_CRL_STORE },
		{ "revocation", required_argument, O_REVOCATION },
		{ "fallback", required_argument, O_FALLBACK },
		{ "json", no_argument, O_JSON },
		{ NULL, 0, 0 },
	};
	struct tool_common c = { 0 };
	struct probe_opts o = { .timeout = 10 };
	struct rev_verify_opts vo = { 0 };
	struct rev_probe_opts po = { 0 };
	struct tls_probe p = { 0 };
	struct rev_store *store = NULL;
	STACK_OF(X509) *trusted = NULL, *own = NULL, *untrusted = NULL;
	STACK_OF(X509_CRL) *crls = NULL;
	OSSL_LIB_CTX *libctx = NULL;
	EVP_PKEY *key = NULL;
	char target[512];
	int r, ret = TOOL_EXIT_FAIL, pem, i;

	if ((r = tool_parse(argc, argv, opts, probe_help, &c, probe_opt, &o)) != TOOL_PARSE_GO)
		return r;
	if (optind + 1 != argc) {
		tool_errorf("tls probe needs one HOST:PORT (see --help)");
		return TOOL_EXIT_USAGE;
	}
	p.target = argv[optind];
	if (!split_target(p.target, target, sizeof(target), &p.host, &p.port)) {
		tool_errorf("'%s' is not HOST:PORT (an IPv6 address as [ADDR]:PORT)", p.target);
		return TOOL_EXIT_USAGE;
	}
	if ((o.key != NULL) != (o.cert != NULL)) {
		tool_errorf("--key and --cert go together");
		return TOOL_EXIT_USAGE;
	}
	if (!parse_order(o.revocation != NULL ? o.revocation : "crl,ocsp", vo.order)) {
		tool_errorf("--revocation '%s': off, crl, ocsp, crl,ocsp or ocsp,crl",
		            o.revocation);
		return TOOL_EXIT_USAGE;
	}
	if (o.fallback != NULL && strcmp(o.fallback, "revoked") != 0 &&
	    strcmp(o.fallback, "not-revoked") != 0) {
		tool_errorf("--fallback '%s': revoked or not-revoked", o.fallback);
		return TOOL_EXIT_USAGE;
	}
	vo.fallback_revoked = o.fallback != NULL && strcmp(o.fallback, "revoked") == 0;
	p.fallback_revoked = vo.fallback_revoked;
	p.peer_name = o.name != NULL ? o.name : p.host;
	/* SNI carries a host name, never an IP address (RFC 6066) */
	p.servername = o.sni != NULL ? o.sni : !is_ip(p.peer_name) ? p.peer_name : NULL;
	p.trust = o.trust != NULL ? o.trust : DEFAULT_BUNDLE;
	p.mutual = o.key != NULL;

	if (tool_verify_load_bundle(p.trust, &trusted, &crls) != TOOL_EXIT_OK)
		goto out;
	if ((libctx = tool_ossl_open(&c)) == NULL)
		goto out;
	if (o.cert != NULL) {
		if ((own = tool_load_certs(o.cert, &pem)) == NULL)
			goto out;
		if ((key = tool_ossl_load_key(libctx, o.key)) == NULL) {
			tool_ossl_fail("--key");
			goto out;
		}
		p.own_cert = sk_X509_value(own, 0);
		po.client_cert = p.own_cert;
		po.client_key = key;
		if (sk_X509_num(own) > 1 && (po.client_chain = sk_X509_dup(own)) != NULL)
			(void)sk_X509_shift(po.client_chain);
	}
	if (vo.order[0] != REV_M_NONE) {
		if (o.crl_store != NULL) {
			if (tool_crl_store_open(o.crl_store, 0, &store) != TOOL_EXIT_OK)
				goto out;
		} else if (access(tool_crl_store_dir(NULL), F_OK) == 0 &&
		           rev_store_open(tool_crl_store_dir(NULL), 0, &store) != RES_OK) {
			/* the default store is a help, not a must */
			if (c.verbose)
				tool_infof("CRL store %s not used: %s", tool_crl_store_dir(NULL),
				           res_message());
			store = NULL;
		}
	}
	po.host = p.host;
	po.port = p.port;
	po.servername = p.servername;
	po.timeout_ms = o.timeout * 1000;
	if (rev_probe_run(libctx, &po, &p.res) != RES_OK) {
		tool_errorf("%s", res_message());
		goto out;
	}
	if (sk_X509_num(p.res->peer) > 0) {
		vo.pki.host = p.peer_name;
		vo.pki.purpose = X509_PURPOSE_SSL_SERVER;
		vo.pki.want_server_auth = 1;
		vo.pki.want_client_auth = p.mutual;
		vo.store = store;
		vo.bundle_crls = crls;
		if ((untrusted = sk_X509_new_null()) == NULL)
			goto oom;
		for (i = 1; i < sk_X509_num(p.res->peer); i++)
			if (!sk_X509_push(untrusted, sk_X509_value(p.res->peer, i)))
				goto oom;
		if (rev_verify(libctx, sk_X509_value(p.res->peer, 0), untrusted, trusted, &vo,
		               &p.verdict) != RES_OK) {
			snprintf(p.verdict_error, sizeof(p.verdict_error), "%s", res_message());
			p.verdict = NULL;
		}
	}
	ERR_clear_error();
	tls_diagnose(&p);
	if ((o.json ? tls_print_json(&p) : tls_print_text(&p)) != TOOL_EXIT_OK)
		goto out;
	ret = p.fit ? TOOL_EXIT_OK : TOOL_EXIT_FAIL;
	goto out;
oom:
	tool_errorf("out of memory");
out:
	rev_report_free(p.verdict);
	rev_probe_result_free(p.res);
	sk_X509_free(untrusted);
	sk_X509_free(po.client_chain);
	sk_X509_pop_free(own, X509_free);
	sk_X509_pop_free(trusted, X509_free);
	sk_X509_CRL_pop_free(crls, X509_CRL_free);
	rev_store_close(store);
	EVP_PKEY_free(key);
	tool_ossl_close(libctx);
	return ret;
}

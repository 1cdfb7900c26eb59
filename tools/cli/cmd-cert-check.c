/*
 * cmd-cert-check.c - p11ca cert check: what an appliance checks when a
 * server certificate is uploaded, one finding a line.  Names go through the
 * PKI library's one name policy, the chain through pki_verify_chain.
 */
#include "config.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "check.h"
#include "cmd-cert.h"
#include "cmd-verify.h"
#include "result.h"

struct findings {
	int errors, warnings;
};

static void finding(struct findings *f, const char *sev, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void finding(struct findings *f, const char *sev, const char *fmt, ...)
{
	char line[4096];
	va_list ap;

	if (strcmp(sev, "ERROR") == 0)
		f->errors++;
	else if (strcmp(sev, "WARN") == 0)
		f->warnings++;
	/* a key argument may be a mistyped URI: no PIN on the output */
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	tool_redact_line(line, sizeof(line));
	printf("%s: %s\n", sev, line);
}

/* No passphrase prompt, ever: an encrypted key is a finding, not a question. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf, (void)size, (void)rwflag, (void)u;
	return -1;
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
	if (pki_is_pem(buf, len)) {
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

/* The leaf's names under the one name policy (pki_name_check, pki_names_check). */
static void check_names(struct findings *f, X509 *leaf, const char *cn)
{
	int crit = -1, i, bad = 0, rc;
	GENERAL_NAMES *gens = X509_get_ext_d2i(leaf, NID_subject_alt_name, &crit, NULL);
	char text[1024];

	/* a second or malformed SAN extension: the names cannot be checked at all */
	if (gens == NULL && crit != -1) {
		finding(f, "ERROR", "the subjectAltName extension is %s",
		        crit == -2 ? "present twice" : "malformed");
		bad = 1;
	}

	if (cn != NULL && strchr(cn, '*') != NULL) {
		finding(f, "ERROR",
		        "CN '%s' is a wildcard; wildcard certificates are not supported", cn);
		bad = 1;
	}
	for (i = 0; i < sk_GENERAL_NAME_num(gens); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);

		if (g->type != GEN_DNS && g->type != GEN_IPADD && g->type != GEN_EMAIL &&
		    g->type != GEN_URI)
			continue; /* pki_names_check below reports the type */
		if ((rc = pki_san_check(g)) == RES_OK)
			continue;
		bad = 1;
		if (pki_san_text(g, text, sizeof(text)) != RES_OK)
			snprintf(text, sizeof(text), "(unprintable)");
		if (rc == RES_POLICY)
			finding(f, "ERROR",
			        "SAN %s is a wildcard; wildcard certificates are not supported",
			        text);
		else
			finding(f, "ERROR", "SAN %s: %s", text, res_message());
	}
	if (!bad) {
		if (pki_names_check(X509_get_subject_name(leaf), gens) != RES_OK)
			finding(f, "ERROR", "names: %s", res_message());
		else
			finding(f, "OK", "no wildcard names; the names follow the name policy");
	}
	GENERAL_NAMES_free(gens);
}

/* The validity window of @x at @at. */
static void check_validity(struct findings *f, X509 *x, const char *what, time_t at, int leaf)
{
	char nb[32], na[32];
	int days = 0, secs = 0;
	ASN1_TIME *t = ASN1_TIME_set(NULL, at);

	cert_time_string(X509_get0_notBefore(x), nb, sizeof(nb));
	cert_time_string(X509_get0_notAfter(x), na, sizeof(na));
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

/* "issuer is not a CA, bad signature" for the bits of @flags. */
static void flag_names(unsigned flags, char *out, size_t cap)
{
	unsigned bit;
	size_t n = 0;

	out[0] = '\0';
	for (bit = 1; bit != 0 && bit <= PKI_E_OTHER; bit <<= 1)
		if (flags & bit) {
			snprintf(out + n, cap - n, "%s%s", n ? ", " : "", pki_elem_flag_name(bit));
			n = strlen(out);
		}
}

/* What a chain element is called in findings. */
static void elem_what(const struct pki_chain_result *r, size_t i, char *out, size_t cap)
{
	char *n = NULL;

	if (i == 0) {
		snprintf(out, cap, "the certificate");
		return;
	}
	if (pki_name_oneline(X509_get_subject_name(r->elems[i].cert), &n) != RES_OK)
		n = NULL;
	snprintf(out, cap, "CA certificate '%s'", n != NULL ? n : "?");
	free(n);
}

/* The flags that break the chain itself (validity, strength, usage are findings of their own). */
#define CHAIN_FLAGS                                                                                \
	(PKI_E_BAD_SIGNATURE | PKI_E_NOT_CA | PKI_E_PATHLEN | PKI_E_NO_ISSUER |                    \
	 PKI_E_UNTRUSTED_ROOT | PKI_E_OTHER)

/*
 * The revocation findings of rev_verify's report: a revoked element is an
 * error, a good one an OK line; undetermined ones (no CRL anywhere) say
 * nothing, as before revocation was checked (the appliance's fallback).
 */
static void check_revocation(struct findings *f, const struct rev_report *rep)
{
	const struct pki_chain_result *r = rep->chain;
	char what[512], iso[PKI_TIME_ISO_MAX];
	const char *rn;
	size_t i;

	for (i = 0; i < r->n; i++) {
		const struct rev_elem_report *e = &rep->elems[i];

		elem_what(r, i, what, sizeof(what));
		rn = rev_reason_name(e->reason);
		pki_time_iso(e->revoked_at, iso);
		if (e->state == REV_STATE_REVOKED && e->expired_crl)
			finding(f, "ERROR",
			        "%s counts as revoked: its CA's only CRL has expired (%s)", what,
			        e->decided_by != NULL ? e->decided_by : "?");
		else if (e->state == REV_STATE_REVOKED)
			finding(f, "ERROR", "%s is revoked (%s, %s; %s)", what,
			        rn != NULL ? rn : "no reason given",
			        e->revoked_at ? iso : "no date",
			        e->decided_by != NULL ? e->decided_by : "?");
		else if (e->state == REV_STATE_GOOD)
			finding(f, "OK", "revocation: %s is good (%s)", what,
			        e->decided_by != NULL ? e->decided_by : "?");
	}
}

/*
 * The chain from @leaf to a certificate of @bundle, and the revocation of
 * each element from the bundle's CRLs and the CRL store (@crl_store, or the
 * default one when it exists): the verifier of 'p11ca verify' (rev_verify).
 */
static void check_chain(struct findings *f, X509 *leaf, STACK_OF(X509) * untrusted,
                        const char *bundle, const char *crl_store, time_t at)
{
	struct rev_verify_opts ro;
	struct rev_report *rep = NULL;
	struct pki_chain_result *r;
	STACK_OF(X509) *trusted = NULL;
	STACK_OF(X509_CRL) *crls = NULL;
	char what[512], names[256];
	size_t i;
	int nid;

	memset(&ro, 0, sizeof(ro));
	ro.pki.at = (int64_t)at;
	ro.order[0] = REV_M_CRL;
	if (tool_verify_load_bundle(bundle, &trusted, &crls) != TOOL_EXIT_OK) {
		finding(f, "ERROR", "trust bundle %s cannot be read", bundle);
		return;
	}
	ro.bundle_crls = crls;
	if (tool_verify_open_store(crl_store, 0, &ro.store) != TOOL_EXIT_OK)
		finding(f, "ERROR", "the CRL store cannot be used");
	if (rev_verify(NULL, leaf, untrusted, trusted, &ro, &rep) != RES_OK) {
		finding(f, "ERROR", "the chain cannot be checked: %s", res_message());
		goto out;
	}
	r = rep->chain;
	for (i = 0; i < r->n; i++)
		if (r->elems[i].flags & CHAIN_FLAGS)
			break;
	if (i < r->n && (r->elems[i].flags & PKI_E_NO_ISSUER))
		finding(f, "ERROR",
		        "chain incomplete: the issuer of certificate %zu is neither in --chain nor "
		        "in the trust bundle %s (%s)",
		        i, bundle, X509_verify_cert_error_string(r->elems[i].x509_error));
	else if (i < r->n) {
		flag_names(r->elems[i].flags & CHAIN_FLAGS, names, sizeof(names));
		finding(f, "ERROR", "chain does not verify at certificate %zu: %s (%s)", i, names,
		        X509_verify_cert_error_string(r->elems[i].x509_error));
	} else if (!r->elems[r->n - 1].trusted)
		finding(f, "ERROR", "chain does not end at a CA in %s", bundle);
	else
		finding(f, "OK", "chain complete: %zu certificate%s up to a CA in %s", r->n,
		        r->n == 1 ? "" : "s", bundle);
	for (i = 0; i < r->n; i++) {
		const struct pki_chain_elem *e = &r->elems[i];

		elem_what(r, i, what, sizeof(what));
		if (i > 0)
			check_validity(f, e->cert, what, at, 0);
		if (e->flags & PKI_E_WEAK_DIGEST) {
			nid = NID_undef;
			if (X509_get_signature_info(e->cert, &nid, NULL, NULL, NULL) != 1)
				nid = NID_undef;
			finding(f, "WARN", "%s is signed with %s, which is weak", what,
			        nid != NID_undef ? OBJ_nid2sn(nid) : "a weak digest");
		}
		if (e->flags & PKI_E_WEAK_KEY)
			finding(f, "WARN",
			        "%s has a weak key (RSA under 2048 bits, or an unusual curve)",
			        what);
	}
	check_revocation(f, rep);
out:
	ERR_clear_error();
	rev_report_free(rep);
	rev_store_close(ro.store);
	sk_X509_pop_free(trusted, X509_free);
	sk_X509_CRL_pop_free(crls, X509_CRL_free);
}

/* The key given with --key against the certificate's. */
static void check_key(struct findings *f, const struct tool_common *c, const char *key, X509 *leaf,
                      const struct cert_info *ci, p11ca_ctx **pctx, p11ca_key **ptkey,
                      EVP_PKEY **ppk)
{
	EVP_PKEY *cpk = X509_get0_pubkey(leaf);
	char why[512], shown[512];

	if (key != NULL) {
		if (cert_is_pkcs11_uri(key)) {
			if ((*ppk = cert_token_public(c, key, pctx, NULL, why, sizeof(why))) ==
			    NULL)
				finding(f, "ERROR", "--key: %s", why);
		} else
			*ppk = check_key_file(f, key);
		if (*ppk != NULL && cpk != NULL) {
			if (EVP_PKEY_eq(*ppk, cpk) == 1)
				finding(f, "OK", "the key matches the certificate");
			else
				finding(f, "ERROR", "the key does not match the certificate (%s)",
				        p11ca_uri_redact(key, shown, sizeof(shown)));
		}
		ERR_clear_error();
	}
	if (cpk == NULL)
		finding(f, "ERROR", "the certificate's public key cannot be decoded");
	else if (EVP_PKEY_is_a(cpk, "RSA") && ci->bits > RSA_MAX_BITS)
		finding(f, "ERROR",
		        "RSA-%d key: SIP TLS zones may fail to become active with keys above %d "
		        "bits; use a %d-bit key",
		        ci->bits, RSA_MAX_BITS, RSA_MAX_BITS);
	else
		finding(f, "OK", "key %s, %d bits", ci->key, ci->bits);
}

/* The extended key usage and basic constraints of a server certificate. */
static void check_usage(struct findings *f, X509 *leaf, const struct cert_info *ci)
{
	uint32_t xku = X509_get_extended_key_usage(leaf);

	if (!ci->has_eku)
		finding(f, "WARN",
		        "no extended key usage extension: give the certificate "
		        "serverAuth and clientAuth explicitly");
	else if ((xku & XKU_SSL_SERVER) && (xku & XKU_SSL_CLIENT))
		finding(f, "OK", "extended key usage has serverAuth and clientAuth");
	else
		finding(f, "ERROR",
		        "extended key usage lacks %s%s%s (a server certificate needs TLS Web "
		        "Server Authentication and TLS Web Client Authentication)",
		        (xku & XKU_SSL_SERVER) ? "" : "serverAuth",
		        !(xku & XKU_SSL_SERVER) && !(xku & XKU_SSL_CLIENT) ? " and " : "",
		        (xku & XKU_SSL_CLIENT) ? "" : "clientAuth");
	if (X509_check_ca(leaf) > 0 && ci->bc[0] != '\0' && strncmp(ci->bc, "CA:TRUE", 7) == 0)
		finding(f, "WARN", "the certificate is a CA certificate (%s)", ci->bc);
}

/* --fqdn, --cluster, --peer against the CN and the SAN. */
static void check_wanted(struct findings *f, const struct cert_info *ci, const char *cn,
                         const char *fqdn, const char *cluster, const char **peers, size_t npeers)
{
	const char *want[2] = { fqdn, cluster };
	const char *opt_name[2] = { "--fqdn", "--cluster" };
	size_t k;

	if (fqdn != NULL) {
		if (cn != NULL && (strcasecmp(cn, fqdn) == 0 ||
		                   (cluster != NULL && strcasecmp(cn, cluster) == 0)))
			finding(f, "OK", "CN '%s' fits --fqdn%s", cn, cluster ? "/--cluster" : "");
		else
			finding(f, "ERROR", "CN is '%s', not the FQDN %s", cn ? cn : "(none)",
			        fqdn);
	}
	for (k = 0; k < 2 + npeers; k++) {
		const char *w = k < 2 ? want[k] : peers[k - 2];
		if (w == NULL)
			continue;
		if (san_has(&ci->sans, w))
			finding(f, "OK", "SAN has DNS:%s", w);
		else if (k == 0 && cluster == NULL && npeers == 0 && ci->sans.n == 0)
			finding(f, "WARN",
			        "no SAN: current TLS clients check only the SAN; add DNS:%s", w);
		else
			finding(f, "ERROR", "SAN lacks DNS:%s (%s)", w,
			        k < 2 ? opt_name[k] : "--peer");
	}
}

enum { O_KEY = OPT_FIRST_LOCAL, O_CHAIN, O_BUNDLE, O_FQDN, O_CLUSTER, O_PEER, O_AT, O_CRL_STORE };

struct check_opts {
	const char *key, *chain_file, *bundle, *fqdn, *cluster, *at, *crl_store;
	const char **peers;
	size_t npeers;
};

static int check_opt(int id, const char *arg, void *data)
{
	struct check_opts *o = data;
	const char **np;

	switch (id) {
	case O_KEY: o->key = arg; break;
	case O_CHAIN: o->chain_file = arg; break;
	case O_BUNDLE: o->bundle = arg; break;
	case O_FQDN: o->fqdn = arg; break;
	case O_CLUSTER: o->cluster = arg; break;
	case O_AT: o->at = arg; break;
	case O_CRL_STORE: o->crl_store = arg; break;
	case O_PEER:
		if ((np = realloc(o->peers, (o->npeers + 1) * sizeof(*np))) == NULL) {
			tool_errorf("out of memory");
			return TOOL_EXIT_FAIL;
		}
		o->peers = np;
		o->peers[o->npeers++] = arg;
		break;
	default: return TOOL_EXIT_USAGE;
	}
	return TOOL_EXIT_OK;
}

int tool_cert_check(int argc, char **argv)
{
	static const struct tool_opt opts[] = {
		{ "key", required_argument, O_KEY },
		{ "chain", required_argument, O_CHAIN },
		{ "bundle", required_argument, O_BUNDLE },
		{ "fqdn", required_argument, O_FQDN },
		{ "cluster", required_argument, O_CLUSTER },
		{ "peer", required_argument, O_PEER },
		{ "at", required_argument, O_AT },
		{ "crl-store", required_argument, O_CRL_STORE },
		{ NULL, 0, 0 },
	};
	static const char help[] =
	    "usage: p11ca cert check CERT [--key URI|FILE] [--chain FILE] [--bundle FILE]\n"
	    "                        [--fqdn FQDN [--cluster FQDN [--peer FQDN]...]]\n"
	    "                        [--at DATE] [--crl-store DIR]\n\n"
	    "Checks what an appliance (Expressway) checks when a server certificate is\n"
	    "uploaded, one line per finding, \"OK:\", \"WARN:\" or \"ERROR:\"; exit 1 on\n"
	    "any ERROR.  CERT is PEM (more certificates after the first are taken as\n"
	    "chain) or DER.\n\n"
	    "  --key URI|FILE   the private key: a pkcs11: URI (--module, --pin-file)\n"
	    "                   or a PEM file, which must end with a newline and not\n"
	    "                   be passphrase-protected; it must match the certificate\n"
	    "  --chain FILE     intermediate CA certificates (untrusted)\n"
	    "  --bundle FILE    trusted CA certificates (default " DEFAULT_BUNDLE "); the\n"
	    "                   CRLs embedded in it (X509 CRL blocks) are checked: a\n"
	    "                   revoked certificate or CA is an error, so is an expired\n"
	    "                   CRL (it counts as revoked)\n"
	    "  --crl-store DIR  CRLs from this store too (default: the CRL store when it\n"
	    "                   exists; see p11ca verify)\n"
	    "  --fqdn F         CN = F and DNS:F in the SAN\n"
	    "  --cluster C      DNS:C in the SAN (the CN may be C)\n"
	    "  --peer P         (repeatable) DNS:P in the SAN\n"
	    "  --at DATE        check the chain and validity windows at DATE (UTC):\n"
	    "                   YYYY-MM-DD, YYYY-MM-DDTHH:MM:SSZ, \"YYYY-MM-DD HH:MM:SS\",\n"
	    "                   YYYYMMDDHHMMSSZ or now\n\n"
	    "Also: an RSA key above " CERT_TEXT(
	        RSA_MAX_BITS) " bits is an error "
	                      "(SIP TLS zones fail with\n"
	                      "8192-bit keys); the extended key usage must have serverAuth and\n"
	                      "clientAuth; no wildcard names, and every name an FQDN (p11ca's "
	                      "name\n"
	                      "policy); the certificate and its CAs must be inside their validity\n"
	                      "windows (a warning under " CERT_TEXT(
	                          EXPIRY_WARN_DAYS) " days left); "
	                                            "SHA-1 signatures and weak keys\n"
	                                            "are warned about.\n";
	struct tool_common c = { 0 };
	struct check_opts o = { .bundle = DEFAULT_BUNDLE };
	const char *cert_file;
	size_t i;
	int r, ret = TOOL_EXIT_USAGE, pem;
	int64_t at64;
	time_t at = time(NULL);
	struct findings f = { 0 };
	struct cert_info ci;
	STACK_OF(X509) *certs = NULL, *untrusted = NULL, *more = NULL;
	X509 *leaf;
	EVP_PKEY *pk = NULL;
	p11ca_ctx *ctx = NULL;
	p11ca_key *tkey = NULL;
	char *cn = NULL, why[512];

	memset(&ci, 0, sizeof(ci));
	if ((r = tool_parse(argc, argv, opts, help, &c, check_opt, &o)) != TOOL_PARSE_GO) {
		ret = r;
		goto out;
	}
	if (optind + 1 != argc) {
		tool_errorf("cert check needs one CERT (see --help)");
		goto out;
	}
	if (o.at != NULL) {
		if (pki_time_parse(o.at, &at64) != RES_OK) {
			/* the one time parser's message, as --invalidity-date gives it */
			tool_errorf("--at: %s", res_message());
			goto out;
		}
		at = (time_t)at64;
	}
	cert_file = argv[optind];
	ret = TOOL_EXIT_FAIL;

	/* the certificate file */
	if ((certs = cert_read(cert_file, &pem, why, sizeof(why))) == NULL) {
		if (why[0] == '\0')
			goto out; /* not readable: reported */
		finding(&f, "ERROR", "%s: %s", cert_file, why);
		goto done;
	}
	leaf = sk_X509_value(certs, 0);
	if (pem)
		finding(&f, "OK", "%s: well-formed PEM, %d certificate%s", cert_file,
		        sk_X509_num(certs), sk_X509_num(certs) == 1 ? "" : "s");
	else
		finding(&f, "WARN", "%s is DER; the appliance takes PEM (p11ca cert convert)",
		        cert_file);
	if (!cert_info_get(leaf, at, &ci))
		goto out;

	check_key(&f, &c, o.key, leaf, &ci, &ctx, &tkey, &pk);
	check_usage(&f, leaf, &ci);
	cn = get_cn(leaf);
	check_names(&f, leaf, cn);
	check_wanted(&f, &ci, cn, o.fqdn, o.cluster, o.peers, o.npeers);

	/* chain and validity */
	if ((untrusted = sk_X509_new_null()) == NULL)
		goto oom;
	for (i = 1; i < (size_t)sk_X509_num(certs); i++)
		if (!sk_X509_push(untrusted, sk_X509_value(certs, (int)i)))
			goto oom;
	if (o.chain_file != NULL) {
		if ((more = tool_load_certs(o.chain_file, &pem)) == NULL)
			finding(&f, "ERROR", "--chain %s cannot be used", o.chain_file);
		for (i = 0; more != NULL && i < (size_t)sk_X509_num(more); i++)
			if (!sk_X509_push(untrusted, sk_X509_value(more, (int)i)))
				goto oom;
	}
	check_chain(&f, leaf, untrusted, o.bundle, o.crl_store, at);
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
	cert_info_free(&ci);
	EVP_PKEY_free(pk);
	p11ca_key_free(tkey);
	p11ca_ctx_free(ctx);
	sk_X509_free(untrusted);
	sk_X509_pop_free(more, X509_free);
	sk_X509_pop_free(certs, X509_free);
	free(o.peers);
	return ret;
}

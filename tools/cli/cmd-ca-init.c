/*
 * cmd-ca-init.c - p11ca ca init|set-cert: a new CA in a directory (its key
 * on the token, ca.conf, the database, a root certificate or a sub-CA's
 * CSR), and a sub-CA's certificate installed once its parent signed it.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/pem.h>

#include "cmd-ca.h"

static int file_exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

/* The sub-CA's CSR, PEM or DER, to @path. */
static int write_req(const char *path, X509_REQ *req, int der)
{
	unsigned char *out = NULL;
	BIO *mem = NULL;
	char *data;
	long len;
	int ret = TOOL_EXIT_FAIL;

	if (der) {
		if ((len = i2d_X509_REQ(req, &out)) > 0)
			ret = tool_write_atomic(path, out, (size_t)len);
		else
			tool_ossl_fail("encoding the CSR");
	} else if ((mem = BIO_new(BIO_s_mem())) == NULL || !PEM_write_bio_X509_REQ(mem, req)) {
		tool_ossl_fail("encoding the CSR");
	} else {
		len = BIO_get_mem_data(mem, &data);
		ret = tool_write_atomic(path, (unsigned char *)data, (size_t)len);
	}
	OPENSSL_free(out);
	BIO_free(mem);
	return ret;
}

/* D/ca.conf for a new CA, atomically; never replaces one. */
static int write_conf(const struct ca_conf *conf)
{
	char *path = NULL, *text = NULL;
	size_t len = 0;
	int ret = TOOL_EXIT_FAIL;

	if (tool_report(ca_conf_format(conf, &text, &len)) != TOOL_EXIT_OK)
		return TOOL_EXIT_FAIL;
	if ((path = malloc(strlen(conf->dir) + 16)) == NULL) {
		tool_errorf("out of memory");
		goto out;
	}
	sprintf(path, "%s/ca.conf", conf->dir);
	if (file_exists(path)) {
		tool_errorf("%s exists already; a CA directory is initialised once", path);
		goto out;
	}
	ret = tool_write_atomic(path, (unsigned char *)text, len);
out:
	free(text);
	free(path);
	return ret;
}

static const char init_help[] =
    "usage: p11ca ca init --dir D (--key URI | --new-key TYPE --token URI\n"
    "                     [--label L]) --subject DN [--days N] [--md MD]\n"
    "                     [--pathlen N] [--csr FILE [--der]] [--crl-url URL]...\n"
    "                     [--ocsp-url URL] [--ca-issuers-url URL] [--force]\n"
    "       p11ca ca init --dir D --key URI --cert CERT [--crl-url URL]...\n\n"
    "Creates a CA in directory D (made with mode 0700 when missing): its key on\n"
    "a token (an existing one, or TYPE rsa:2048|rsa:3072|rsa:4096|ec:p256|\n"
    "ec:p384|ec:p521|ed25519 generated now; rsa:8192 needs --force), D/ca.conf\n"
    "(OpenSSL config syntax; names the key by URI, holds no key material or\n"
    "PIN), the database D/ca.db and:\n"
    "  without --csr  D/ca.pem, a self-signed root: basicConstraints critical\n"
    "                 CA:TRUE (pathlen with --pathlen), keyUsage critical\n"
    "                 keyCertSign+cRLSign, subject key identifier; --days\n"
    "                 (default 3650) of validity, signed with --md (sha256).\n"
    "  --csr FILE     a CSR for a subordinate CA (PEM, or DER with --der); once\n"
    "                 the parent CA has signed it: p11ca ca set-cert --dir D CERT.\n"
    "  --cert CERT    an existing CA moves in: CERT (its certificate, checked\n"
    "                 against --key) becomes D/ca.pem; its records follow with\n"
    "                 p11ca ca import-openssl.\n"
    "--crl-url, --ocsp-url and --ca-issuers-url go into ca.conf and from there\n"
    "into every certificate the CA issues: http:// or https:// URLs with a host,\n"
    "no spaces, commas or quotes.  DN: /C=GB/O=Example/CN=Example CA.\n";

/* Removes what a failed init made (best effort). */
static void init_undo(const struct ca_conf *conf, int db_made, int cert_made)
{
	char path[4096];

	if (db_made) {
		(void)unlink(conf->db);
		snprintf(path, sizeof(path), "%s-wal", conf->db);
		(void)unlink(path);
		snprintf(path, sizeof(path), "%s-shm", conf->db);
		(void)unlink(path);
	}
	if (cert_made)
		(void)unlink(conf->cert);
}

enum {
	O_DIR = TOOL_CA_O_DIR,
	O_KEY = TOOL_CA_O_FIRST,
	O_NEW_KEY,
	O_TOKEN,
	O_LABEL,
	O_SUBJECT,
	O_DAYS,
	O_MD,
	O_PATHLEN,
	O_CSR,
	O_DER,
	O_CRL_URL,
	O_OCSP_URL,
	O_ISSUERS_URL,
	O_FORCE,
	O_CERT
};

/* ca init's options */
struct init_args {
	const char *dir, *key_arg, *new_key, *token, *label, *subject, *md, *csr, *cert_arg;
	const char *ocsp_url, *issuers_url;
	char *crl_urls[CA_MAX_CRL_URLS + 1];
	size_t ncrl;
	long days;
	int der, force, pathlen;
};

static int init_opt(int id, const char *arg, void *data)
{
	struct init_args *a = data;

	switch (id) {
	case O_DIR: a->dir = arg; break;
	case O_KEY: a->key_arg = arg; break;
	case O_NEW_KEY: a->new_key = arg; break;
	case O_TOKEN: a->token = arg; break;
	case O_LABEL: a->label = arg; break;
	case O_SUBJECT: a->subject = arg; break;
	case O_DAYS: return tool_parse_days("--days", arg, &a->days) ? 0 : TOOL_EXIT_USAGE;
	case O_MD: a->md = arg; break;
	case O_PATHLEN: return tool_parse_pathlen(arg, &a->pathlen) ? 0 : TOOL_EXIT_USAGE;
	case O_CSR: a->csr = arg; break;
	case O_DER: a->der = 1; break;
	case O_CRL_URL:
		if (a->ncrl == CA_MAX_CRL_URLS) {
			tool_errorf("at most %d --crl-url", CA_MAX_CRL_URLS);
			return TOOL_EXIT_USAGE;
		}
		if (tool_report(ca_url_check("--crl-url", arg)) != TOOL_EXIT_OK)
			return TOOL_EXIT_USAGE;
		a->crl_urls[a->ncrl++] = (char *)arg;
		break;
	case O_OCSP_URL:
		if (tool_report(ca_url_check("--ocsp-url", arg)) != TOOL_EXIT_OK)
			return TOOL_EXIT_USAGE;
		a->ocsp_url = arg;
		break;
	case O_ISSUERS_URL:
		if (tool_report(ca_url_check("--ca-issuers-url", arg)) != TOOL_EXIT_OK)
			return TOOL_EXIT_USAGE;
		a->issuers_url = arg;
		break;
	case O_FORCE: a->force = 1; break;
	case O_CERT: a->cert_arg = arg; break;
	default: return TOOL_EXIT_USAGE;
	}
	return 0;
}

int tool_ca_init(int argc, char **argv)
{
	static const struct tool_opt opts[] = {
		TOOL_CA_DIR_OPT,
		{ "key", required_argument, O_KEY },
		{ "new-key", required_argument, O_NEW_KEY },
		{ "token", required_argument, O_TOKEN },
		{ "label", required_argument, O_LABEL },
		{ "subject", required_argument, O_SUBJECT },
		{ "days", required_argument, O_DAYS },
		{ "md", required_argument, O_MD },
		{ "pathlen", required_argument, O_PATHLEN },
		{ "csr", required_argument, O_CSR },
		{ "der", no_argument, O_DER },
		{ "crl-url", required_argument, O_CRL_URL },
		{ "ocsp-url", required_argument, O_OCSP_URL },
		{ "ca-issuers-url", required_argument, O_ISSUERS_URL },
		{ "force", no_argument, O_FORCE },
		{ "cert", required_argument, O_CERT },
		{ NULL, 0, 0 },
	};
	struct tool_common c = { 0 };
	struct init_args a = { .label = "p11ca-ca", .md = "sha256", .days = 3650, .pathlen = -1 };
	struct ca_conf conf = { 0 };
	char *key_uri = NULL;
	int ret = TOOL_EXIT_USAGE, rc;
	int db_made = 0, cert_made = 0, dir_made = 0, csr_made = 0;
	X509_NAME *name = NULL;
	OSSL_LIB_CTX *libctx = NULL;
	EVP_PKEY *key = NULL;
	X509 *root = NULL;
	X509_REQ *req = NULL;

	if ((rc = tool_parse(argc, argv, opts, init_help, &c, init_opt, &a)) != TOOL_PARSE_GO)
		return rc;
	conf.ocsp_url = (char *)a.ocsp_url;
	conf.ca_issuers_url = (char *)a.issuers_url;
	if (optind != argc) {
		tool_errorf("unexpected argument '%s'", argv[optind]);
		goto out;
	}
	if (a.dir == NULL || (a.subject == NULL && a.cert_arg == NULL) ||
	    (a.key_arg == NULL) == (a.new_key == NULL)) {
		tool_errorf("ca init needs --dir, --subject and one of --key or --new-key "
		            "(see --help)");
		goto out;
	}
	if (a.cert_arg != NULL && (a.key_arg == NULL || a.csr != NULL || a.subject != NULL)) {
		tool_errorf("--cert (an existing CA's certificate) goes with --key, without "
		            "--subject or --csr");
		goto out;
	}
	if (a.new_key != NULL && a.token == NULL) {
		tool_errorf("--new-key needs --token URI (the token to generate on)");
		goto out;
	}
	if (a.der && a.csr == NULL) {
		tool_errorf("--der applies to --csr only (ca.pem is PEM)");
		goto out;
	}
	if (ca_md_ok(a.md) != RES_OK) {
		tool_report(RES_POLICY);
		goto out;
	}
	if (a.subject != NULL && (name = tool_parse_dn(a.subject, &rc)) == NULL) {
		ret = rc;
		goto out;
	}
	ret = TOOL_EXIT_FAIL;
	if (a.key_arg != NULL && tool_uri_has_pin_value(a.key_arg)) {
		tool_errorf("--key: the URI holds a pin-value, which ca.conf would keep; use "
		            "pin-source=file:..., --pin-file or P11CA_PIN");
		goto out;
	}
	/* the directory, and nothing of a CA in it yet */
	if (mkdir(a.dir, 0700) == 0)
		dir_made = 1;
	else if (errno != EEXIST) {
		tool_errorf("cannot create %s: %s", a.dir, strerror(errno));
		goto out;
	}
	/* the CSR's destination, before a key is made for it */
	if (a.csr != NULL && !tool_out_ok(a.csr, 0))
		goto out;
	conf.key = (char *)a.key_arg;
	conf.module = (char *)c.module;
	conf.default_days = 365;
	conf.default_profile = (char *)"server-client";
	conf.default_md = (char *)a.md;
	conf.crl_days = 7;
	conf.crl_urls = a.crl_urls;
	if ((conf.dir = realpath(a.dir, NULL)) == NULL) {
		tool_errorf("%s: %s", a.dir, strerror(errno));
		goto out;
	}
	if ((conf.db = malloc(strlen(conf.dir) + 16)) == NULL ||
	    (conf.cert = malloc(strlen(conf.dir) + 16)) == NULL) {
		tool_errorf("out of memory");
		goto out;
	}
	sprintf(conf.db, "%s/ca.db", conf.dir);
	sprintf(conf.cert, "%s/ca.pem", conf.dir);
	{
		char confpath[4096];
		snprintf(confpath, sizeof(confpath), "%s/ca.conf", conf.dir);
		if (file_exists(confpath) || file_exists(conf.db) || file_exists(conf.cert)) {
			tool_errorf("%s holds a CA already (ca.conf, ca.db or ca.pem); a CA "
			            "directory is initialised once",
			            a.dir);
			goto out;
		}
	}
	/* everything that can be checked is; now the key */
	if (a.new_key != NULL) {
		if (tool_generate_key(&c, a.token, a.new_key, a.label, a.force, &key_uri) !=
		    TOOL_EXIT_OK)
			goto out;
		conf.key = key_uri;
	}
	if ((libctx = tool_ossl_open(&c)) == NULL)
		goto undo;
	if (tool_report(pki_load_key(libctx, conf.key, &key)) != TOOL_EXIT_OK)
		goto undo;
	if (tool_report(cadb_create(conf.db)) != TOOL_EXIT_OK)
		goto undo;
	db_made = 1;
	if (a.cert_arg != NULL) {
		/* an existing CA (e.g. one openssl ca ran) moves in: its key, its certificate */
		if ((root = tool_read_cert(a.cert_arg)) == NULL)
			goto undo;
		if ((rc = ca_cert_fits(key, root)) != RES_OK) {
			tool_report(res_prefix(rc, "%s (with --key)", a.cert_arg));
			goto undo;
		}
		if (tool_write_cert_pem(conf.cert, root) != TOOL_EXIT_OK)
			goto undo;
		cert_made = 1;
	} else if (a.csr != NULL) {
		if (tool_report(ca_make_sub_csr(libctx, key, name, a.md, a.pathlen, &req)) !=
		        TOOL_EXIT_OK ||
		    write_req(a.csr, req, a.der) != TOOL_EXIT_OK)
			goto undo;
		csr_made = strcmp(a.csr, "-") != 0;
	} else {
		if (tool_report(ca_make_root(libctx, key, name, a.days, a.md, a.pathlen, &root)) !=
		        TOOL_EXIT_OK ||
		    tool_write_cert_pem(conf.cert, root) != TOOL_EXIT_OK)
			goto undo;
		cert_made = 1;
	}
	/* ca.conf last: its presence says the CA is complete */
	if (write_conf(&conf) != TOOL_EXIT_OK)
		goto undo;
	if (a.csr != NULL)
		fprintf(stderr,
		        "p11ca: CA in %s; its CSR is in %s: have the parent CA sign it "
		        "(profile sub-ca), then run p11ca ca set-cert --dir %s CERT\n",
		        a.dir, a.csr, a.dir);
	else if (c.verbose)
		fprintf(stderr, "p11ca: root CA in %s (ca.pem, ca.conf, ca.db)\n", a.dir);
	ret = TOOL_EXIT_OK;
	goto out;
undo:
	init_undo(&conf, db_made, cert_made);
	if (csr_made)
		(void)unlink(a.csr);
	if (dir_made && conf.dir != NULL)
		(void)rmdir(conf.dir); /* only when empty again */
	if (key_uri != NULL)
		tool_delete_new_key(&c, key_uri);
out:
	if (ret != TOOL_EXIT_OK && dir_made && conf.dir == NULL)
		(void)rmdir(a.dir);
	X509_free(root);
	X509_REQ_free(req);
	EVP_PKEY_free(key);
	if (libctx != NULL)
		tool_ossl_close(libctx);
	X509_NAME_free(name);
	free(key_uri);
	free(conf.dir);
	free(conf.db);
	free(conf.cert);
	return ret;
}

/* ca set-cert */

static const char set_cert_help[] =
    "usage: p11ca ca set-cert --dir D CERT\n\n"
    "Installs the certificate a parent CA issued for the CSR of 'p11ca ca init\n"
    "--csr' as D/ca.pem, after checking it: the key on the token is its key,\n"
    "basicConstraints CA:TRUE, keyUsage keyCertSign (when present).\n";

int tool_ca_set_cert(int argc, char **argv)
{
	static const struct tool_opt opts[] = { TOOL_CA_DIR_OPT, { NULL, 0, 0 } };
	struct tool_common c = { 0 };
	struct ca *ca = NULL;
	const char *dir = NULL;
	int ret, rc;
	X509 *x = NULL;

	if ((ret = tool_parse(argc, argv, opts, set_cert_help, &c, tool_ca_dir_opt, &dir)) !=
	    TOOL_PARSE_GO)
		return ret;
	if (dir == NULL || optind + 1 != argc) {
		tool_errorf("ca set-cert needs --dir D and one certificate file");
		return TOOL_EXIT_USAGE;
	}
	ret = TOOL_EXIT_FAIL;
	if ((ca = tool_ca_open(dir, &c, 1, 0)) == NULL)
		goto out;
	if (ca->cert != NULL) {
		tool_errorf("%s exists already", ca->conf.cert);
		goto out;
	}
	if ((x = tool_read_cert(argv[optind])) == NULL)
		goto out;
	if ((rc = ca_cert_fits(ca->key, x)) != RES_OK) {
		tool_report(res_prefix(rc, "%s", argv[optind]));
		goto out;
	}
	ret = tool_write_cert_pem(ca->conf.cert, x);
out:
	X509_free(x);
	ca_close(ca);
	return ret;
}

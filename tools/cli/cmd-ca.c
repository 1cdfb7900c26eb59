/*
 * cmd-ca.c - p11ca ca init|set-cert|sign|revoke|crl: a private CA whose key
 * stays on the token.  The records side (list, show, import, export) is in
 * cmd-ca-records.c; the pieces they share are in ca-*.c.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "ca.h"

/* ------------------------------------------------------------------ */
/* Opening a CA                                                        */
/* ------------------------------------------------------------------ */

/* The (first) certificate in @path, PEM or DER; reports why not. */
static X509 *read_cert(const char *path)
{
	STACK_OF(X509) *certs;
	X509 *x;
	int pem;

	if ((certs = tool_load_certs(path, &pem)) == NULL)
		return NULL;
	x = sk_X509_shift(certs);
	sk_X509_pop_free(certs, X509_free);
	return x;
}

/* Whether @key (on the token) is the key of @x: same SubjectPublicKeyInfo. */
static int key_matches(EVP_PKEY *key, X509 *x)
{
	unsigned char *a = NULL, *b = NULL;
	int alen = i2d_PUBKEY(key, &a), blen = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &b);
	int same = alen > 0 && alen == blen && memcmp(a, b, (size_t)alen) == 0;

	OPENSSL_free(a);
	OPENSSL_free(b);
	ERR_clear_error();
	return same;
}

static int file_exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

int ca_open(struct ca *ca, const char *dir, const struct tool_common *c, int need_key,
            int need_cert)
{
	memset(ca, 0, sizeof(*ca));
	if (ca_conf_load(dir, &ca->conf) != TOOL_EXIT_OK)
		return TOOL_EXIT_FAIL;
	ca->common = *c;
	if (ca->common.module == NULL)
		ca->common.module = ca->conf.module;
	if (need_key && (ca->libctx = tool_ossl_open(&ca->common)) == NULL)
		goto fail;
	if (file_exists(ca->conf.cert)) {
		if ((ca->cert = read_cert(ca->conf.cert)) == NULL)
			goto fail;
	} else if (need_cert) {
		tool_errorf("%s: no CA certificate yet (a sub-CA gets it with 'p11ca ca set-cert')",
		            ca->conf.cert);
		goto fail;
	}
	if (ca_db_open(ca->conf.db, &ca->db) != TOOL_EXIT_OK)
		goto fail;
	if (need_key) {
		char shown[512];
		p11ca_uri_redact(ca->conf.key, shown, sizeof(shown));
		if ((ca->key = tool_ossl_load_key(ca->libctx, ca->conf.key)) == NULL) {
			tool_ossl_fail(shown);
			goto fail;
		}
		if (ca->cert != NULL && !key_matches(ca->key, ca->cert)) {
			tool_errorf("the CA key %s is not the key of %s", shown, ca->conf.cert);
			goto fail;
		}
	}
	return TOOL_EXIT_OK;
fail:
	ca_close(ca);
	return TOOL_EXIT_FAIL;
}

void ca_close(struct ca *ca)
{
	EVP_PKEY_free(ca->key);
	X509_free(ca->cert);
	ca_db_close(ca->db);
	if (ca->libctx != NULL)
		tool_ossl_close(ca->libctx);
	ca_conf_free(&ca->conf);
	memset(ca, 0, sizeof(*ca));
}

/* "sha256", "sha384", "sha512"; SHA-1 is not signed with. */
static int md_ok(const char *md)
{
	if (strcasecmp(md, "sha256") == 0 || strcasecmp(md, "sha384") == 0 ||
	    strcasecmp(md, "sha512") == 0)
		return 1;
	tool_errorf("digest '%s' refused: sha256, sha384 or sha512", md);
	return 0;
}

static int parse_days(const char *opt, const char *arg, long *out)
{
	char *end;

	errno = 0;
	*out = strtol(arg, &end, 10);
	if (errno != 0 || *end != '\0' || *out <= 0 || *out > 36500) {
		tool_errorf("%s '%s': a number of days from 1 to 36500", opt, arg);
		return 0;
	}
	return 1;
}

static int parse_pathlen(const char *arg, int *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(arg, &end, 10);
	if (errno != 0 || *end != '\0' || v < 0 || v > 16) {
		tool_errorf("--pathlen '%s': a number from 0 to 16", arg);
		return 0;
	}
	*out = (int)v;
	return 1;
}

/* ------------------------------------------------------------------ */
/* ca init                                                             */
/* ------------------------------------------------------------------ */

static void init_help(void)
{
	printf("usage: p11ca ca init --dir D (--key URI | --new-key TYPE --token URI\n"
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
	       "into every certificate the CA issues.  DN: /C=GB/O=Example/CN=Example CA.\n");
}

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

/* The sub-CA's CSR: CA:TRUE and keyCertSign+cRLSign, requested. */
static int write_sub_csr(OSSL_LIB_CTX *libctx, EVP_PKEY *key, X509_NAME *name, const char *md,
                         int pathlen, const char *path, int der)
{
	X509_REQ *req = X509_REQ_new_ex(libctx, NULL);
	STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
	X509_EXTENSION *ext;
	EVP_MD_CTX *mctx = EVP_MD_CTX_new();
	unsigned char *out = NULL;
	BIO *mem = NULL;
	char bc[64], *data;
	long len = 0;
	int ret = TOOL_EXIT_FAIL;

	if (EVP_PKEY_is_a(key, "ED25519"))
		md = NULL;
	if (pathlen >= 0)
		snprintf(bc, sizeof(bc), "critical,CA:TRUE,pathlen:%d", pathlen);
	else
		snprintf(bc, sizeof(bc), "critical,CA:TRUE");
	if (req == NULL || exts == NULL || mctx == NULL || !X509_REQ_set_version(req, 0) ||
	    !X509_REQ_set_subject_name(req, name) || !X509_REQ_set_pubkey(req, key))
		goto fail;
	if ((ext = X509V3_EXT_conf_nid(NULL, NULL, NID_basic_constraints, bc)) == NULL ||
	    !sk_X509_EXTENSION_push(exts, ext))
		goto fail;
	if ((ext = X509V3_EXT_conf_nid(NULL, NULL, NID_key_usage, "critical,keyCertSign,cRLSign")) ==
	            NULL ||
	    !sk_X509_EXTENSION_push(exts, ext))
		goto fail;
	if (!X509_REQ_add_extensions(req, exts) ||
	    EVP_DigestSignInit_ex(mctx, NULL, md, libctx, NULL, key, NULL) != 1 ||
	    X509_REQ_sign_ctx(req, mctx) <= 0)
		goto fail;
	if (der) {
		if ((len = i2d_X509_REQ(req, &out)) <= 0)
			goto fail;
		ret = tool_write_atomic(path, out, (size_t)len);
	} else {
		if ((mem = BIO_new(BIO_s_mem())) == NULL || !PEM_write_bio_X509_REQ(mem, req))
			goto fail;
		len = BIO_get_mem_data(mem, &data);
		ret = tool_write_atomic(path, (unsigned char *)data, (size_t)len);
	}
	goto out;
fail:
	tool_ossl_fail("making the sub-CA's CSR");
out:
	OPENSSL_free(out);
	BIO_free(mem);
	EVP_MD_CTX_free(mctx);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	X509_REQ_free(req);
	return ret;
}

static int write_cert_pem(const char *path, X509 *x)
{
	BIO *mem = BIO_new(BIO_s_mem());
	char *data;
	long len;
	int ret = TOOL_EXIT_FAIL;

	if (mem == NULL || !PEM_write_bio_X509(mem, x))
		tool_ossl_fail("encoding the certificate");
	else if ((len = BIO_get_mem_data(mem, &data)) > 0)
		ret = tool_write_atomic(path, (unsigned char *)data, (size_t)len);
	BIO_free(mem);
	return ret;
}

/* The self-signed root for @key. */
static X509 *make_root(OSSL_LIB_CTX *libctx, EVP_PKEY *key, X509_NAME *name, long days,
                       const char *md, int pathlen)
{
	unsigned char serial[CA_SERIAL_BYTES];
	char bc[64];
	time_t now = time(NULL);
	X509 *x;

	if (!ca_random_serial(libctx, serial) ||
	    (x = ca_build_cert(libctx, NULL, name, NULL, key, serial, sizeof(serial), now,
	                       now + (time_t)days * 86400)) == NULL)
		return NULL;
	if (pathlen >= 0)
		snprintf(bc, sizeof(bc), "critical,CA:TRUE,pathlen:%d", pathlen);
	else
		snprintf(bc, sizeof(bc), "critical,CA:TRUE");
	if (!ca_add_ext(x, x, NID_basic_constraints, bc) ||
	    !ca_add_ext(x, x, NID_key_usage, "critical,keyCertSign,cRLSign") ||
	    !ca_add_ext(x, x, NID_subject_key_identifier, "hash") ||
	    !ca_add_ext(x, x, NID_authority_key_identifier, "keyid:always") ||
	    !ca_sign_cert(libctx, x, key, md)) {
		X509_free(x);
		return NULL;
	}
	return x;
}

int tool_ca_init(int argc, char **argv)
{
	enum {
		O_DIR = OPT_FIRST_LOCAL, O_KEY, O_NEW_KEY, O_TOKEN, O_LABEL, O_SUBJECT, O_DAYS, O_MD,
		O_PATHLEN, O_CSR, O_DER, O_CRL_URL, O_OCSP_URL, O_ISSUERS_URL, O_FORCE, O_CERT
	};
	static const struct option opts[] = { TOOL_COMMON_OPTIONS,
		                               { "dir", required_argument, NULL, O_DIR },
		                               { "key", required_argument, NULL, O_KEY },
		                               { "new-key", required_argument, NULL, O_NEW_KEY },
		                               { "token", required_argument, NULL, O_TOKEN },
		                               { "label", required_argument, NULL, O_LABEL },
		                               { "subject", required_argument, NULL, O_SUBJECT },
		                               { "days", required_argument, NULL, O_DAYS },
		                               { "md", required_argument, NULL, O_MD },
		                               { "pathlen", required_argument, NULL, O_PATHLEN },
		                               { "csr", required_argument, NULL, O_CSR },
		                               { "der", no_argument, NULL, O_DER },
		                               { "crl-url", required_argument, NULL, O_CRL_URL },
		                               { "ocsp-url", required_argument, NULL, O_OCSP_URL },
		                               { "ca-issuers-url", required_argument, NULL, O_ISSUERS_URL },
		                               { "force", no_argument, NULL, O_FORCE },
		                               { "cert", required_argument, NULL, O_CERT },
		                               { 0 } };
	struct tool_common c = { 0 };
	struct ca_conf conf = { 0 };
	const char *cert_arg = NULL;
	const char *dir = NULL, *key_arg = NULL, *new_key = NULL, *token = NULL;
	const char *label = "p11ca-ca", *subject = NULL, *md = "sha256", *csr = NULL;
	char *crl_urls[9] = { 0 }, *key_uri = NULL;
	size_t ncrl = 0;
	long days = 3650;
	int opt, ret = TOOL_EXIT_USAGE, der = 0, force = 0, pathlen = -1, rc;
	int db_made = 0, cert_made = 0, dir_made = 0, csr_made = 0;
	X509_NAME *name = NULL;
	OSSL_LIB_CTX *libctx = NULL;
	EVP_PKEY *key = NULL;
	X509 *root = NULL;

	while ((opt = getopt_long(argc, argv, TOOL_SHORT, opts, NULL)) != -1) {
		if (tool_common_opt(&c, opt, optarg))
			continue;
		switch (opt) {
		case O_DIR: dir = optarg; break;
		case O_KEY: key_arg = optarg; break;
		case O_NEW_KEY: new_key = optarg; break;
		case O_TOKEN: token = optarg; break;
		case O_LABEL: label = optarg; break;
		case O_SUBJECT: subject = optarg; break;
		case O_DAYS:
			if (!parse_days("--days", optarg, &days))
				goto out;
			break;
		case O_MD: md = optarg; break;
		case O_PATHLEN:
			if (!parse_pathlen(optarg, &pathlen))
				goto out;
			break;
		case O_CSR: csr = optarg; break;
		case O_DER: der = 1; break;
		case O_CRL_URL:
			if (ncrl == 8) {
				tool_errorf("at most 8 --crl-url");
				goto out;
			}
			crl_urls[ncrl++] = optarg;
			break;
		case O_OCSP_URL: conf.ocsp_url = optarg; break;
		case O_ISSUERS_URL: conf.ca_issuers_url = optarg; break;
		case O_FORCE: force = 1; break;
		case O_CERT: cert_arg = optarg; break;
		case OPT_HELP: init_help(); ret = TOOL_EXIT_OK; goto out;
		default: goto out;
		}
	}
	if (optind != argc) {
		tool_errorf("unexpected argument '%s'", argv[optind]);
		goto out;
	}
	if (dir == NULL || (subject == NULL && cert_arg == NULL) ||
	    (key_arg == NULL) == (new_key == NULL)) {
		tool_errorf("ca init needs --dir, --subject and one of --key or --new-key "
		            "(see --help)");
		goto out;
	}
	if (cert_arg != NULL && (key_arg == NULL || csr != NULL || subject != NULL)) {
		tool_errorf("--cert (an existing CA's certificate) goes with --key, without "
		            "--subject or --csr");
		goto out;
	}
	if (new_key != NULL && token == NULL) {
		tool_errorf("--new-key needs --token URI (the token to generate on)");
		goto out;
	}
	if (der && csr == NULL) {
		tool_errorf("--der applies to --csr only (ca.pem is PEM)");
		goto out;
	}
	if (!md_ok(md))
		goto out;
	if (subject != NULL && (name = tool_parse_dn(subject, &rc)) == NULL) {
		ret = rc;
		goto out;
	}
	ret = TOOL_EXIT_FAIL;
	if (key_arg != NULL && tool_uri_has_pin_value(key_arg)) {
		tool_errorf("--key: the URI holds a pin-value, which ca.conf would keep; use "
		            "pin-source=file:..., --pin-file or P11CA_PIN");
		goto out;
	}
	/* the directory, and nothing of a CA in it yet */
	if (mkdir(dir, 0700) == 0)
		dir_made = 1;
	else if (errno != EEXIST) {
		tool_errorf("cannot create %s: %s", dir, strerror(errno));
		goto out;
	}
	conf.key = (char *)key_arg;
	conf.module = (char *)c.module;
	conf.default_days = 365;
	conf.default_profile = (char *)"server-client";
	conf.default_md = (char *)md;
	conf.crl_days = 7;
	conf.crl_urls = crl_urls;
	if ((conf.dir = realpath(dir, NULL)) == NULL) {
		tool_errorf("%s: %s", dir, strerror(errno));
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
			            dir);
			goto out;
		}
	}
	/* everything that can be checked is; now the key */
	if (new_key != NULL) {
		if (tool_generate_key(&c, token, new_key, label, force, &key_uri) != TOOL_EXIT_OK)
			goto out;
		conf.key = key_uri;
	}
	if ((libctx = tool_ossl_open(&c)) == NULL)
		goto undo;
	if ((key = tool_ossl_load_key(libctx, conf.key)) == NULL) {
		char shown[512];
		tool_ossl_fail(p11ca_uri_redact(conf.key, shown, sizeof(shown)));
		goto undo;
	}
	if (ca_db_create(conf.db) != TOOL_EXIT_OK)
		goto undo;
	db_made = 1;
	if (cert_arg != NULL) {
		/* an existing CA (e.g. one openssl ca ran) moves in: its key, its certificate */
		if ((root = read_cert(cert_arg)) == NULL)
			goto undo;
		if (!key_matches(key, root)) {
			tool_errorf("%s is not the certificate of --key (another public key)", cert_arg);
			goto undo;
		}
		if (X509_check_ca(root) != 1) {
			tool_errorf("%s is not a CA certificate (basicConstraints CA:TRUE)", cert_arg);
			goto undo;
		}
		if (write_cert_pem(conf.cert, root) != TOOL_EXIT_OK)
			goto undo;
		cert_made = 1;
	} else if (csr != NULL) {
		if (write_sub_csr(libctx, key, name, md, pathlen, csr, der) != TOOL_EXIT_OK)
			goto undo;
		csr_made = strcmp(csr, "-") != 0;
	} else {
		if ((root = make_root(libctx, key, name, days, md, pathlen)) == NULL ||
		    write_cert_pem(conf.cert, root) != TOOL_EXIT_OK)
			goto undo;
		cert_made = 1;
	}
	/* ca.conf last: its presence says the CA is complete */
	if (ca_conf_write(&conf) != TOOL_EXIT_OK)
		goto undo;
	if (csr != NULL)
		fprintf(stderr, "p11ca: CA in %s; its CSR is in %s: have the parent CA sign it "
		                "(profile sub-ca), then run p11ca ca set-cert --dir %s CERT\n",
		        dir, csr, dir);
	else if (c.verbose)
		fprintf(stderr, "p11ca: root CA in %s (ca.pem, ca.conf, ca.db)\n", dir);
	ret = TOOL_EXIT_OK;
	goto out;
undo:
	init_undo(&conf, db_made, cert_made);
	if (csr_made)
		(void)unlink(csr);
	if (dir_made && conf.dir != NULL)
		(void)rmdir(conf.dir); /* only when empty again */
	if (key_uri != NULL)
		tool_delete_new_key(&c, key_uri);
out:
	if (ret != TOOL_EXIT_OK && dir_made && conf.dir == NULL)
		(void)rmdir(dir);
	X509_free(root);
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

/* ------------------------------------------------------------------ */
/* ca set-cert                                                         */
/* ------------------------------------------------------------------ */

static void set_cert_help(void)
{
	printf("usage: p11ca ca set-cert --dir D CERT\n\n"
	       "Installs the certificate a parent CA issued for the CSR of 'p11ca ca init\n"
	       "--csr' as D/ca.pem, after checking it: the key on the token is its key,\n"
	       "basicConstraints CA:TRUE, keyUsage keyCertSign (when present).\n");
}

int tool_ca_set_cert(int argc, char **argv)
{
	enum { O_DIR = OPT_FIRST_LOCAL };
	static const struct option opts[] = { TOOL_COMMON_OPTIONS,
		                               { "dir", required_argument, NULL, O_DIR },
		                               { 0 } };
	struct tool_common c = { 0 };
	struct ca ca = { 0 };
	const char *dir = NULL;
	int opt, ret = TOOL_EXIT_USAGE, opened = 0;
	X509 *x = NULL;

	while ((opt = getopt_long(argc, argv, TOOL_SHORT, opts, NULL)) != -1) {
		if (tool_common_opt(&c, opt, optarg))
			continue;
		switch (opt) {
		case O_DIR: dir = optarg; break;
		case OPT_HELP: set_cert_help(); return TOOL_EXIT_OK;
		default: return TOOL_EXIT_USAGE;
		}
	}
	if (dir == NULL || optind + 1 != argc) {
		tool_errorf("ca set-cert needs --dir D and one certificate file");
		return TOOL_EXIT_USAGE;
	}
	ret = TOOL_EXIT_FAIL;
	if (ca_open(&ca, dir, &c, 1, 0) != TOOL_EXIT_OK)
		goto out;
	opened = 1;
	if (ca.cert != NULL) {
		tool_errorf("%s exists already", ca.conf.cert);
		goto out;
	}
	if ((x = read_cert(argv[optind])) == NULL)
		goto out;
	if (!key_matches(ca.key, x)) {
		tool_errorf("%s is not the certificate of the CA key (another public key)",
		            argv[optind]);
		goto out;
	}
	if (X509_check_ca(x) != 1 || !(X509_get_extension_flags(x) & EXFLAG_BCONS)) {
		tool_errorf("%s is not a CA certificate (basicConstraints CA:TRUE)", argv[optind]);
		goto out;
	}
	if ((X509_get_extension_flags(x) & EXFLAG_KUSAGE) && !(X509_get_key_usage(x) & KU_KEY_CERT_SIGN)) {
		tool_errorf("%s: keyUsage lacks keyCertSign", argv[optind]);
		goto out;
	}
	ret = write_cert_pem(ca.conf.cert, x);
out:
	X509_free(x);
	if (opened)
		ca_close(&ca);
	return ret;
}

/* ------------------------------------------------------------------ */
/* ca sign                                                             */
/* ------------------------------------------------------------------ */

static void sign_help(void)
{
	printf("usage: p11ca ca sign --dir D [--profile P] [--days N] [--md MD]\n"
	       "                     [--pathlen N] [--out FILE | --out-dir DIR] [--der]\n"
	       "                     [--threads N] CSR...\n\n"
	       "Issues a certificate for each CSR (PEM or DER), signed on the token.  Every\n"
	       "CSR is checked before anything is issued: its signature, its key (RSA\n"
	       "2048-4096, EC P-256/384/521, Ed25519), its names (valid, no wildcards), no\n"
	       "CA:TRUE unless --profile sub-ca; one bad CSR and nothing is issued.\n\n"
	       "Profiles (default from ca.conf, else server-client):\n"
	       "  server         EKU serverAuth\n"
	       "  client         EKU clientAuth\n"
	       "  server-client  EKU serverAuth, clientAuth (mutual TLS)\n"
	       "  ocsp           EKU OCSPSigning, OCSP no-check\n"
	       "  sub-ca         CA:TRUE with pathlen --pathlen (default 0), keyUsage\n"
	       "                 digitalSignature+keyCertSign+cRLSign unless the CSR asks\n"
	       "Copied from the CSR: subject, subjectAltName, and keyUsage/extendedKeyUsage\n"
	       "when within the profile (a usage outside it is an error).  Added: basic\n"
	       "constraints, subject and authority key identifiers, CRL distribution points\n"
	       "and AIA (OCSP, caIssuers) from ca.conf.  Serials: 16 random bytes, positive,\n"
	       "unique.  Validity: now to --days (ca.conf default_days, 365), at most the\n"
	       "CA's own.  CSRs are checked and signed in parallel (--threads, default: the\n"
	       "CPUs, at most 8; one login, a session each); all records are committed in\n"
	       "one transaction before anything is written.\n"
	       "Output: PEM on standard output, or --out FILE (all, concatenated), or\n"
	       "--out-dir DIR (DIR/SERIAL.pem, or .der with --der).\n");
}

/*
 * The issued certificates, once recorded, to their destinations: a file
 * each in --out-dir, or all into --out / standard output (atomically,
 * synced).
 */
static int write_issued(const struct ca_issue_opts *io, struct ca_req *reqs, size_t n,
                        const char *out)
{
	BIO *mem = NULL;
	char *data;
	long len;
	size_t i;
	int ret;

	if (io->out_dir == NULL) {
		if (io->der)
			return tool_write_atomic(out, reqs[0].row.der, reqs[0].row.der_len);
		if ((mem = BIO_new(BIO_s_mem())) == NULL) {
			tool_errorf("out of memory");
			return TOOL_EXIT_FAIL;
		}
		for (i = 0; i < n; i++)
			if (!PEM_write_bio(mem, PEM_STRING_X509, "", reqs[i].row.der,
			                   (long)reqs[i].row.der_len)) {
				tool_errorf("out of memory");
				BIO_free(mem);
				return TOOL_EXIT_FAIL;
			}
		len = BIO_get_mem_data(mem, &data);
		ret = tool_write_atomic(out, (unsigned char *)data, (size_t)len);
		BIO_free(mem);
		return ret;
	}
	/*
	 * Not synced: the database is the record and was committed durably;
	 * a file a power cut spoils comes back with 'p11ca ca show --pem'.
	 */
	return ca_write_out_dir(io, reqs, n) == 0 ? TOOL_EXIT_OK : TOOL_EXIT_FAIL;
}

/* Whether --out's directory or --out-dir is there and writable. */
static int destination_ok(const char *out, const char *out_dir)
{
	struct stat st;
	char *copy, *d;
	int ok;

	if (out_dir != NULL) {
		if (stat(out_dir, &st) != 0 || !S_ISDIR(st.st_mode) || access(out_dir, W_OK | X_OK) != 0) {
			tool_errorf("--out-dir %s: not a writable directory", out_dir);
			return 0;
		}
		return 1;
	}
	if (strcmp(out, "-") == 0 || (stat(out, &st) == 0 && !S_ISREG(st.st_mode)))
		return 1;
	if ((copy = strdup(out)) == NULL) {
		tool_errorf("out of memory");
		return 0;
	}
	d = dirname(copy);
	ok = stat(d, &st) == 0 && S_ISDIR(st.st_mode) && access(d, W_OK | X_OK) == 0;
	if (!ok)
		tool_errorf("--out %s: its directory %s is not a writable directory", out, d);
	free(copy);
	return ok;
}

int tool_ca_sign(int argc, char **argv)
{
	enum {
		O_DIR = OPT_FIRST_LOCAL, O_PROFILE, O_DAYS, O_MD, O_PATHLEN, O_OUT, O_OUT_DIR, O_DER,
		O_THREADS
	};
	static const struct option opts[] = { TOOL_COMMON_OPTIONS,
		                               { "dir", required_argument, NULL, O_DIR },
		                               { "profile", required_argument, NULL, O_PROFILE },
		                               { "days", required_argument, NULL, O_DAYS },
		                               { "md", required_argument, NULL, O_MD },
		                               { "pathlen", required_argument, NULL, O_PATHLEN },
		                               { "out", required_argument, NULL, O_OUT },
		                               { "out-dir", required_argument, NULL, O_OUT_DIR },
		                               { "der", no_argument, NULL, O_DER },
		                               { "threads", required_argument, NULL, O_THREADS },
		                               { 0 } };
	struct tool_common c = { 0 };
	struct ca ca = { 0 };
	struct ca_issue_opts io = { 0 };
	struct ca_req *reqs = NULL;
	const char *dir = NULL, *profile = NULL, *md = NULL, *out = "-", *out_dir = NULL;
	long days = 0, threads = 0;
	size_t n = 0, i;
	int opt, ret = TOOL_EXIT_USAGE, der = 0, opened = 0, ca_pathlen;
	char *end;

	io.pathlen = 0;
	while ((opt = getopt_long(argc, argv, TOOL_SHORT, opts, NULL)) != -1) {
		if (tool_common_opt(&c, opt, optarg))
			continue;
		switch (opt) {
		case O_DIR: dir = optarg; break;
		case O_PROFILE: profile = optarg; break;
		case O_DAYS:
			if (!parse_days("--days", optarg, &days))
				return TOOL_EXIT_USAGE;
			break;
		case O_MD: md = optarg; break;
		case O_PATHLEN:
			if (!parse_pathlen(optarg, &io.pathlen))
				return TOOL_EXIT_USAGE;
			break;
		case O_OUT: out = optarg; break;
		case O_OUT_DIR: out_dir = optarg; break;
		case O_DER: der = 1; break;
		case O_THREADS:
			threads = strtol(optarg, &end, 10);
			if (*end != '\0' || threads < 1 || threads > 64) {
				tool_errorf("--threads '%s': 1 to 64", optarg);
				return TOOL_EXIT_USAGE;
			}
			break;
		case OPT_HELP: sign_help(); return TOOL_EXIT_OK;
		default: return TOOL_EXIT_USAGE;
		}
	}
	n = (size_t)(argc - optind);
	if (dir == NULL || n == 0) {
		tool_errorf("ca sign needs --dir D and at least one CSR file");
		return TOOL_EXIT_USAGE;
	}
	if (out_dir != NULL && strcmp(out, "-") != 0) {
		tool_errorf("--out and --out-dir exclude each other");
		return TOOL_EXIT_USAGE;
	}
	if (der && out_dir == NULL && n > 1) {
		tool_errorf("--der with several CSRs needs --out-dir (one DER file each)");
		return TOOL_EXIT_USAGE;
	}
	ret = TOOL_EXIT_FAIL;
	/* where the certificates go is checked before any is issued */
	if (!destination_ok(out, out_dir))
		return TOOL_EXIT_FAIL;
	if (ca_open(&ca, dir, &c, 1, 1) != TOOL_EXIT_OK)
		return TOOL_EXIT_FAIL;
	opened = 1;
	if (!ca_profile_parse(profile != NULL ? profile : ca.conf.default_profile, &io.profile)) {
		tool_errorf("%s '%s': server, client, server-client, ocsp or sub-ca",
		            profile != NULL ? "--profile" : "ca.conf default_profile",
		            profile != NULL ? profile : ca.conf.default_profile);
		ret = profile != NULL ? TOOL_EXIT_USAGE : TOOL_EXIT_FAIL;
		goto out;
	}
	io.days = days > 0 ? days : ca.conf.default_days;
	io.md = md != NULL ? md : ca.conf.default_md;
	if (!md_ok(io.md)) {
		ret = md != NULL ? TOOL_EXIT_USAGE : TOOL_EXIT_FAIL;
		goto out;
	}
	io.threads = threads > 0 ? (int)threads : (int)sysconf(_SC_NPROCESSORS_ONLN);
	if (threads == 0 && io.threads > 8)
		io.threads = 8; /* sessions the HSM keeps open for us */
	io.verbose = c.verbose;
	if (io.profile == CA_SUB_CA && (ca_pathlen = (int)X509_get_pathlen(ca.cert)) >= 0 &&
	    io.pathlen >= ca_pathlen) {
		if (ca_pathlen == 0)
			tool_errorf("the CA's pathlen is 0: it cannot issue sub-CAs");
		else
			tool_errorf("--pathlen %d: must be below the CA's own pathlen %d", io.pathlen,
			            ca_pathlen);
		goto out;
	}
	if ((reqs = calloc(n, sizeof(*reqs))) == NULL) {
		tool_errorf("out of memory");
		goto out;
	}
	/* every CSR is checked before any is issued */
	io.out_dir = out_dir;
	io.der = der;
	io.tmp_tag = (long)getpid();
	if (ca_issue_batch(&ca, argv + optind, n, &io, reqs) != TOOL_EXIT_OK)
		goto out;
	for (i = 0; c.verbose && i < n; i++)
		fprintf(stderr, "issued %s %s\n", reqs[i].row.serial, reqs[i].row.subject);
	if ((ret = write_issued(&io, reqs, n, out)) != TOOL_EXIT_OK) {
		tool_errorf("the certificates are recorded in %s: 'p11ca ca show --pem' gives "
		            "them back",
		            ca.conf.db);
	}
out:
	for (i = 0; reqs != NULL && i < n; i++)
		ca_req_free(&reqs[i]);
	free(reqs);
	if (opened)
		ca_close(&ca);
	return ret;
}

/* ------------------------------------------------------------------ */
/* ca revoke                                                           */
/* ------------------------------------------------------------------ */

static void revoke_help(void)
{
	printf("usage: p11ca ca revoke --dir D (--serial HEX | --cert FILE)\n"
	       "                       [--reason R] [--invalidity-date DATE]\n\n"
	       "Marks a certificate revoked in the database; the next 'p11ca ca crl'\n"
	       "lists it.  R: unspecified (default), keyCompromise, cACompromise,\n"
	       "affiliationChanged, superseded, cessationOfOperation, certificateHold,\n"
	       "privilegeWithdrawn, aACompromise.  DATE (when the key is known or\n"
	       "suspected to have been compromised): YYYYMMDDHHMMSSZ or YYYY-MM-DD.\n");
}

/* YYYYMMDDHHMMSSZ or YYYY-MM-DD (UTC) */
static int parse_date(const char *s, int64_t *out)
{
	struct tm tm;
	const char *end;

	memset(&tm, 0, sizeof(tm));
	if ((end = strptime(s, "%Y%m%d%H%M%SZ", &tm)) == NULL || *end != '\0') {
		memset(&tm, 0, sizeof(tm));
		if ((end = strptime(s, "%Y-%m-%d", &tm)) == NULL || *end != '\0')
			return 0;
	}
	*out = (int64_t)timegm(&tm);
	return 1;
}

/* A serial as given ("0x", colons, any case) in the database's form. */
int ca_serial_normalise(const char *in, char *out)
{
	size_t n = 0, i, start;
	char digits[CA_SERIAL_MAX + 2];

	if (strncasecmp(in, "0x", 2) == 0)
		in += 2;
	for (i = 0; in[i] != '\0'; i++) {
		if (in[i] == ':')
			continue;
		if (!((in[i] >= '0' && in[i] <= '9') || (in[i] >= 'a' && in[i] <= 'f') ||
		      (in[i] >= 'A' && in[i] <= 'F')) ||
		    n >= CA_SERIAL_MAX - 1)
			return 0;
		digits[n++] = (char)(in[i] >= 'a' ? in[i] - 32 : in[i]);
	}
	if (n == 0)
		return 0;
	digits[n] = '\0';
	/* whole bytes, then by value: no leading zero bytes ("00" for zero) */
	if (n % 2) {
		memmove(digits + 1, digits, n + 1);
		digits[0] = '0';
		n++;
	}
	for (start = 0; n - start > 2 && digits[start] == '0' && digits[start + 1] == '0'; start += 2)
		;
	memcpy(out, digits + start, n - start + 1);
	return 1;
}

int tool_ca_revoke(int argc, char **argv)
{
	enum { O_DIR = OPT_FIRST_LOCAL, O_SERIAL, O_CERT, O_REASON, O_INVALIDITY };
	static const struct option opts[] = { TOOL_COMMON_OPTIONS,
		                               { "dir", required_argument, NULL, O_DIR },
		                               { "serial", required_argument, NULL, O_SERIAL },
		                               { "cert", required_argument, NULL, O_CERT },
		                               { "reason", required_argument, NULL, O_REASON },
		                               { "invalidity-date", required_argument, NULL, O_INVALIDITY },
		                               { 0 } };
	struct tool_common c = { 0 };
	struct ca ca = { 0 };
	const char *dir = NULL, *serial_arg = NULL, *cert = NULL;
	char serial[CA_SERIAL_MAX];
	int64_t invalidity = 0;
	int opt, reason = 0, rc, ret = TOOL_EXIT_FAIL;
	struct ca_row row;
	X509 *x;

	while ((opt = getopt_long(argc, argv, TOOL_SHORT, opts, NULL)) != -1) {
		if (tool_common_opt(&c, opt, optarg))
			continue;
		switch (opt) {
		case O_DIR: dir = optarg; break;
		case O_SERIAL: serial_arg = optarg; break;
		case O_CERT: cert = optarg; break;
		case O_REASON:
			if ((reason = ca_reason_code(optarg)) < 0) {
				tool_errorf("--reason '%s': unspecified, keyCompromise, cACompromise, "
				            "affiliationChanged, superseded, cessationOfOperation, "
				            "certificateHold, privilegeWithdrawn or aACompromise",
				            optarg);
				return TOOL_EXIT_USAGE;
			}
			break;
		case O_INVALIDITY:
			if (!parse_date(optarg, &invalidity)) {
				tool_errorf("--invalidity-date '%s': YYYYMMDDHHMMSSZ or YYYY-MM-DD",
				            optarg);
				return TOOL_EXIT_USAGE;
			}
			if (invalidity > (int64_t)time(NULL)) {
				tool_errorf("--invalidity-date '%s' is in the future: it says when the "
				            "key was (or may have been) compromised",
				            optarg);
				return TOOL_EXIT_USAGE;
			}
			break;
		case OPT_HELP: revoke_help(); return TOOL_EXIT_OK;
		default: return TOOL_EXIT_USAGE;
		}
	}
	if (dir == NULL || (serial_arg == NULL) == (cert == NULL) || optind != argc) {
		tool_errorf("ca revoke needs --dir D and one of --serial or --cert");
		return TOOL_EXIT_USAGE;
	}
	if (serial_arg != NULL && !ca_serial_normalise(serial_arg, serial)) {
		tool_errorf("--serial '%s' is not a hexadecimal serial", serial_arg);
		return TOOL_EXIT_USAGE;
	}
	if (cert != NULL) {
		if ((x = read_cert(cert)) == NULL)
			return TOOL_EXIT_FAIL;
		rc = ca_row_from_cert(x, &row);
		X509_free(x);
		if (!rc)
			return TOOL_EXIT_FAIL;
		snprintf(serial, sizeof(serial), "%s", row.serial);
		ca_row_free(&row);
	}
	if (ca_open(&ca, dir, &c, 0, 0) != TOOL_EXIT_OK)
		return TOOL_EXIT_FAIL;
	switch (ca_db_revoke(ca.db, serial, (int64_t)time(NULL), reason, invalidity)) {
	case 0:
		if (c.verbose)
			fprintf(stderr, "p11ca: revoked %s (%s)\n", serial, ca_reason_name(reason));
		ret = TOOL_EXIT_OK;
		break;
	case 1: tool_errorf("serial %s: no such certificate in %s", serial, ca.conf.db); break;
	case 2: tool_errorf("serial %s is revoked already", serial); break;
	default: break;
	}
	ca_close(&ca);
	return ret;
}

/* ------------------------------------------------------------------ */
/* ca crl                                                              */
/* ------------------------------------------------------------------ */

static void crl_help(void)
{
	printf("usage: p11ca ca crl --dir D [--out FILE] [--der] [--days N]\n\n"
	       "Writes a CRL (X.509 v2) of every revoked certificate, signed on the token:\n"
	       "CRL number (one more each time), this update now, next update in --days\n"
	       "(ca.conf crl_days, 7), authority key identifier; each entry with its\n"
	       "reason code (left out for unspecified) and invalidity date.  PEM on\n"
	       "standard output unless --out; --der for DER.\n");
}

int tool_ca_crl(int argc, char **argv)
{
	enum { O_DIR = OPT_FIRST_LOCAL, O_OUT, O_DER, O_DAYS };
	static const struct option opts[] = { TOOL_COMMON_OPTIONS,
		                               { "dir", required_argument, NULL, O_DIR },
		                               { "out", required_argument, NULL, O_OUT },
		                               { "der", no_argument, NULL, O_DER },
		                               { "days", required_argument, NULL, O_DAYS },
		                               { 0 } };
	struct tool_common c = { 0 };
	struct ca ca = { 0 };
	const char *dir = NULL, *out = "-";
	long days = 0;
	int opt, der = 0, ret;
	int64_t number = 0;
	size_t count = 0;

	while ((opt = getopt_long(argc, argv, TOOL_SHORT, opts, NULL)) != -1) {
		if (tool_common_opt(&c, opt, optarg))
			continue;
		switch (opt) {
		case O_DIR: dir = optarg; break;
		case O_OUT: out = optarg; break;
		case O_DER: der = 1; break;
		case O_DAYS:
			if (!parse_days("--days", optarg, &days))
				return TOOL_EXIT_USAGE;
			break;
		case OPT_HELP: crl_help(); return TOOL_EXIT_OK;
		default: return TOOL_EXIT_USAGE;
		}
	}
	if (dir == NULL || optind != argc) {
		tool_errorf("ca crl needs --dir D");
		return TOOL_EXIT_USAGE;
	}
	if (ca_open(&ca, dir, &c, 1, 1) != TOOL_EXIT_OK)
		return TOOL_EXIT_FAIL;
	ret = md_ok(ca.conf.default_md) ?
	              ca_crl_write(&ca, ca.conf.default_md, days > 0 ? days : ca.conf.crl_days, der,
	                           out, &number, &count) :
	              TOOL_EXIT_FAIL;
	if (ret == TOOL_EXIT_OK && c.verbose)
		fprintf(stderr, "p11ca: CRL number %lld, %zu revoked\n", (long long)number, count);
	ca_close(&ca);
	return ret;
}

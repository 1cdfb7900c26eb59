/*
 * cmd-csr.c - p11ca csr: a certificate signing request signed on the token.
 * The subject and SAN arguments are cmd-csr-names.c's, the key pair behind
 * --new-key cmd-csr-newkey.c's.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "cmd-csr.h"

/* Microsoft certificate template name (szOID_ENROLL_CERTTYPE_EXTENSION) */
#define MS_TEMPLATE_OID "1.3.6.1.4.1.311.20.2"
/* RSA above this needs --force: 8192-bit keys break SIP TLS peers */
#define RSA_MAX_BITS 4096
/* a number as text, for the help */
#define TEXT_(x) #x
#define TEXT(x)  TEXT_(x)

/* ------------------------------------------------------------------ */
/* The request's extensions                                            */
/* ------------------------------------------------------------------ */

static int push_ext(STACK_OF(X509_EXTENSION) * exts, X509_EXTENSION *ext)
{
	if (ext == NULL)
		return 0;
	if (!sk_X509_EXTENSION_push(exts, ext)) {
		X509_EXTENSION_free(ext);
		return 0;
	}
	return 1;
}

static X509_EXTENSION *san_ext(const struct csr_san_list *l, int critical)
{
	GENERAL_NAMES *gens = GENERAL_NAMES_new();
	X509_EXTENSION *ext = NULL;
	size_t i;

	if (gens == NULL)
		return NULL;
	for (i = 0; i < l->n; i++) {
		GENERAL_NAME *gen = NULL;
		ASN1_IA5STRING *ia5 = NULL;
		ASN1_OCTET_STRING *ip = NULL;

		if (l->v[i].type == CSR_SAN_IP) {
			if ((ip = a2i_IPADDRESS(l->v[i].value)) == NULL ||
			    (gen = GENERAL_NAME_new()) == NULL) {
				ASN1_OCTET_STRING_free(ip);
				goto out;
			}
			GENERAL_NAME_set0_value(gen, GEN_IPADD, ip);
		} else {
			if ((ia5 = ASN1_IA5STRING_new()) == NULL ||
			    !ASN1_STRING_set(ia5, l->v[i].value, -1) ||
			    (gen = GENERAL_NAME_new()) == NULL) {
				ASN1_IA5STRING_free(ia5);
				goto out;
			}
			GENERAL_NAME_set0_value(
			    gen, l->v[i].type == CSR_SAN_DNS ? GEN_DNS : GEN_EMAIL, ia5);
		}
		if (!sk_GENERAL_NAME_push(gens, gen)) {
			GENERAL_NAME_free(gen);
			goto out;
		}
	}
	ext = X509V3_EXT_i2d(NID_subject_alt_name, critical, gens);
out:
	GENERAL_NAMES_free(gens);
	return ext;
}

/* --eku's usages */
enum { EKU_SERVER = 1, EKU_CLIENT = 2, EKU_OCSP = 4 };

static X509_EXTENSION *eku_ext(unsigned usages)
{
	EXTENDED_KEY_USAGE *eku = EXTENDED_KEY_USAGE_new();
	X509_EXTENSION *ext = NULL;

	if (eku == NULL)
		return NULL;
	if ((!(usages & EKU_SERVER) || sk_ASN1_OBJECT_push(eku, OBJ_nid2obj(NID_server_auth))) &&
	    (!(usages & EKU_CLIENT) || sk_ASN1_OBJECT_push(eku, OBJ_nid2obj(NID_client_auth))) &&
	    (!(usages & EKU_OCSP) || sk_ASN1_OBJECT_push(eku, OBJ_nid2obj(NID_OCSP_sign))))
		ext = X509V3_EXT_i2d(NID_ext_key_usage, 0, eku);
	/* OBJ_nid2obj objects are static: freeing them is a no-op */
	EXTENDED_KEY_USAGE_free(eku);
	return ext;
}

static X509_EXTENSION *ku_ext(int encipher)
{
	ASN1_BIT_STRING *ku = ASN1_BIT_STRING_new();
	X509_EXTENSION *ext = NULL;

	if (ku == NULL)
		return NULL;
	/* bit 0 digitalSignature, bit 2 keyEncipherment (RSA key transport) */
	if (ASN1_BIT_STRING_set_bit(ku, 0, 1) && (!encipher || ASN1_BIT_STRING_set_bit(ku, 2, 1)))
		ext = X509V3_EXT_i2d(NID_key_usage, 1, ku);
	ASN1_BIT_STRING_free(ku);
	return ext;
}

/* The certificate template name extension: its value is a BMPString. */
static X509_EXTENSION *ms_template_ext(const char *name)
{
	ASN1_STRING *bmp = NULL;
	ASN1_OCTET_STRING *oct = NULL;
	ASN1_OBJECT *obj = NULL;
	X509_EXTENSION *ext = NULL;
	unsigned char *der = NULL;
	int len;

	if (ASN1_mbstring_copy(&bmp, (const unsigned char *)name, -1, MBSTRING_UTF8,
	                       B_ASN1_BMPSTRING) <= 0 ||
	    (len = i2d_ASN1_BMPSTRING(bmp, &der)) <= 0 || (oct = ASN1_OCTET_STRING_new()) == NULL ||
	    !ASN1_OCTET_STRING_set(oct, der, len) ||
	    (obj = OBJ_txt2obj(MS_TEMPLATE_OID, 1)) == NULL)
		goto out;
	ext = X509_EXTENSION_create_by_OBJ(NULL, obj, 0, oct);
out:
	ASN1_OBJECT_free(obj);
	ASN1_OCTET_STRING_free(oct);
	OPENSSL_free(der);
	ASN1_STRING_free(bmp);
	return ext;
}

/* ------------------------------------------------------------------ */
/* Output                                                              */
/* ------------------------------------------------------------------ */

/* Encodes @req as PEM or DER into a malloc'ed buffer. */
static unsigned char *encode_req(X509_REQ *req, int der, size_t *plen)
{
	BIO *bio = BIO_new(BIO_s_mem());
	unsigned char *buf = NULL;
	char *data;
	long n;

	if (bio == NULL)
		return NULL;
	if ((der ? i2d_X509_REQ_bio(bio, req) : PEM_write_bio_X509_REQ(bio, req)) == 1 &&
	    (n = BIO_get_mem_data(bio, &data)) > 0 && (buf = malloc((size_t)n)) != NULL) {
		memcpy(buf, data, (size_t)n);
		*plen = (size_t)n;
	}
	BIO_free(bio);
	return buf;
}

/*
 * Decodes the signed request again with the default provider only and
 * checks its signature with the public key it carries: what the CA will
 * do, independent of the token.
 */
static int verify_req(OSSL_LIB_CTX *libctx, X509_REQ *req)
{
	unsigned char *der = NULL;
	const unsigned char *p;
	X509_REQ *copy = NULL;
	EVP_PKEY *pub;
	int len, ok = 0;

	if ((len = i2d_X509_REQ(req, &der)) <= 0 ||
	    (copy = X509_REQ_new_ex(libctx, "provider=default")) == NULL)
		goto out;
	p = der;
	if (d2i_X509_REQ(&copy, &p, len) == NULL || p != der + len ||
	    (pub = X509_REQ_get0_pubkey(copy)) == NULL)
		goto out;
	ok = X509_REQ_verify_ex(copy, pub, libctx, "provider=default") == 1;
out:
	X509_REQ_free(copy);
	OPENSSL_free(der);
	return ok;
}

/* ------------------------------------------------------------------ */
/* The options                                                         */
/* ------------------------------------------------------------------ */

enum {
	O_KEY = OPT_FIRST_LOCAL,
	O_NEW_KEY,
	O_LABEL,
	O_TOKEN,
	O_SUBJECT,
	/* the per-field options, in the order of CSR_COUNTRY ... CSR_EMAIL */
	O_COUNTRY,
	O_STATE,
	O_LOCALITY,
	O_ORG,
	O_ORG_UNIT,
	O_CN,
	O_EMAIL,
	O_SAN,
	O_FQDN,
	O_CLUSTER,
	O_PEER,
	O_UC_NAME,
	O_EKU,
	O_PROFILE,
	O_TEMPLATE,
	O_DIGEST,
	O_ALLOW_SHA1,
	O_FORCE,
	O_OUT,
	O_DER
};

struct csr_opts {
	const char *key_uri, *new_key, *label, *token_uri, *subject, *ms_template;
	const char *eku, *profile, *digest, *out;
	int allow_sha1, force, der;
	struct csr_names names;
};

/* Appends @arg to the list *@plist of *@pn entries; TOOL_EXIT_*. */
static int push_arg(const char ***plist, size_t *pn, const char *arg)
{
	const char **nl = realloc(*plist, (*pn + 1) * sizeof(*nl));

	if (nl == NULL) {
		tool_errorf("out of memory");
		return TOOL_EXIT_FAIL;
	}
	nl[(*pn)++] = arg;
	*plist = nl;
	return TOOL_EXIT_OK;
}

static int csr_opt(int id, const char *arg, void *data)
{
	struct csr_opts *o = data;
	struct csr_names *n = &o->names;

	switch (id) {
	case O_KEY: o->key_uri = arg; break;
	case O_NEW_KEY: o->new_key = arg; break;
	case O_LABEL: o->label = arg; break;
	case O_TOKEN: o->token_uri = arg; break;
	case O_SUBJECT: o->subject = arg; break;
	case O_COUNTRY:
	case O_STATE:
	case O_LOCALITY:
	case O_ORG:
	case O_ORG_UNIT:
	case O_CN:
	case O_EMAIL: n->field[CSR_COUNTRY + (id - O_COUNTRY)] = arg; break;
	case O_SAN: return csr_san_parse(&n->sans, arg);
	case O_FQDN: n->fqdn = arg; break;
	case O_CLUSTER: n->cluster = arg; break;
	case O_PEER: return push_arg(&n->peers, &n->npeers, arg);
	case O_UC_NAME: return push_arg(&n->uc_names, &n->nuc, arg);
	case O_EKU: o->eku = arg; break;
	case O_PROFILE: o->profile = arg; break;
	case O_TEMPLATE: o->ms_template = arg; break;
	case O_DIGEST: o->digest = arg; break;
	case O_ALLOW_SHA1: o->allow_sha1 = 1; break;
	case O_FORCE: o->force = 1; break;
	case O_OUT: o->out = arg; break;
	case O_DER: o->der = 1; break;
	default: return TOOL_EXIT_USAGE;
	}
	return TOOL_EXIT_OK;
}

/*
 * --eku server,client,ocsp (any of them, comma-separated) into a mask of
 * EKU_*; reports and returns 0 for anything else.
 */
static int parse_eku(const char *arg, unsigned *usages)
{
	static const struct {
		const char *name;
		unsigned bit;
	} names[] = { { "server", EKU_SERVER }, { "client", EKU_CLIENT }, { "ocsp", EKU_OCSP } };
	size_t i, k;

	*usages = 0;
	for (i = 0; arg[i] != '\0';) {
		size_t n = strcspn(arg + i, ",");
		for (k = 0; k < sizeof(names) / sizeof(names[0]); k++)
			if (n == strlen(names[k].name) && strncmp(arg + i, names[k].name, n) == 0)
				break;
		if (k == sizeof(names) / sizeof(names[0])) {
			tool_errorf("unknown --eku '%.*s' (server, client, ocsp, or a comma list)",
			            (int)n, arg + i);
			return 0;
		}
		*usages |= names[k].bit;
		i += n + (arg[i + n] == ',');
	}
	if (*usages == 0) {
		tool_errorf("--eku needs server, client, ocsp, or a comma list");
		return 0;
	}
	return 1;
}

/*
 * --profile as the usages a p11ca CA's profile of that name allows
 * (`p11ca ca sign --profile`); reports and returns 0 for any other name.
 */
static int parse_profile(const char *arg, unsigned *usages)
{
	static const struct {
		const char *name;
		unsigned usages;
	} profiles[] = {
		{ "server", EKU_SERVER },
		{ "client", EKU_CLIENT },
		{ "server-client", EKU_SERVER | EKU_CLIENT },
		{ "ocsp", EKU_OCSP },
	};
	size_t i;

	for (i = 0; i < sizeof(profiles) / sizeof(profiles[0]); i++)
		if (strcmp(arg, profiles[i].name) == 0) {
			*usages = profiles[i].usages;
			return 1;
		}
	tool_errorf("unknown --profile '%s' (server, client, server-client or ocsp; a sub-CA's "
	            "request comes from `p11ca ca init --csr`)",
	            arg);
	return 0;
}

/* --digest as OpenSSL names it; reports and returns NULL when unknown. */
static const char *digest_name(const char *arg)
{
	static const struct {
		const char *name, *alias, *md;
	} digests[] = {
		{ "sha256", "sha-256", "SHA256" },
		{ "sha384", "sha-384", "SHA384" },
		{ "sha512", "sha-512", "SHA512" },
		{ "sha1", "sha-1", "SHA1" },
	};
	size_t i;

	for (i = 0; i < sizeof(digests) / sizeof(digests[0]); i++)
		if (strcasecmp(arg, digests[i].name) == 0 || strcasecmp(arg, digests[i].alias) == 0)
			return digests[i].md;
	tool_errorf("unknown --digest '%s' (sha256, sha384 or sha512)", arg);
	return NULL;
}

/* The combinations of options that make no request (exit 2 when not fine). */
static int check_usage(const struct csr_opts *o)
{
	if ((o->key_uri == NULL) == (o->new_key == NULL)) {
		tool_errorf("csr needs either --key URI or --new-key TYPE (see --help)");
		return 0;
	}
	if (o->new_key != NULL && o->label == NULL) {
		tool_errorf("--new-key needs --label");
		return 0;
	}
	if (o->key_uri != NULL && (o->label != NULL || o->token_uri != NULL)) {
		tool_errorf("--label and --token go with --new-key, not --key");
		return 0;
	}
	if (o->eku != NULL && o->profile != NULL) {
		tool_errorf("--eku and --profile exclude each other");
		return 0;
	}
	if (o->names.cluster != NULL && o->names.fqdn == NULL && o->names.npeers == 0) {
		tool_errorf("--cluster needs --fqdn (this peer's name), or --peer for each peer "
		            "when the cluster shares one certificate");
		return 0;
	}
	if (o->names.npeers > 0 && o->names.cluster == NULL) {
		tool_errorf("--peer needs --cluster (one certificate shared by the cluster)");
		return 0;
	}
	return 1;
}

/* A key the request may have: RSA (or RSA-PSS: a PSS-only token key) up to
 * RSA_MAX_BITS (or --force), EC or Ed25519. */
static int check_key(EVP_PKEY *pkey, int force)
{
	int bits = EVP_PKEY_get_bits(pkey);
	int rsa = EVP_PKEY_is_a(pkey, "RSA") || EVP_PKEY_is_a(pkey, "RSA-PSS");

	if (rsa && bits > RSA_MAX_BITS) {
		if (!force) {
			tool_errorf("the key is RSA-%d: keys above %d bits break SIP TLS peers "
			            "(use rsa:%d, or --force)",
			            bits, RSA_MAX_BITS, RSA_MAX_BITS);
			return 0;
		}
		tool_warnf("RSA-%d key requested with --force: SIP TLS peers may refuse it", bits);
	}
	if (!rsa && !EVP_PKEY_is_a(pkey, "EC") && !EVP_PKEY_is_a(pkey, "ED25519")) {
		tool_errorf("--key: not an RSA, RSA-PSS, EC or Ed25519 key");
		return 0;
	}
	return 1;
}

/* ------------------------------------------------------------------ */
/* The command                                                         */
/* ------------------------------------------------------------------ */

int tool_csr(int argc, char **argv)
{
	static const struct tool_opt opts[] = {
		{ "key", required_argument, O_KEY },
		{ "new-key", required_argument, O_NEW_KEY },
		{ "label", required_argument, O_LABEL },
		{ "token", required_argument, O_TOKEN },
		{ "subject", required_argument, O_SUBJECT },
		{ "country", required_argument, O_COUNTRY },
		{ "state", required_argument, O_STATE },
		{ "locality", required_argument, O_LOCALITY },
		{ "org", required_argument, O_ORG },
		{ "org-unit", required_argument, O_ORG_UNIT },
		{ "cn", required_argument, O_CN },
		{ "email", required_argument, O_EMAIL },
		{ "san", required_argument, O_SAN },
		{ "fqdn", required_argument, O_FQDN },
		{ "cluster", required_argument, O_CLUSTER },
		{ "peer", required_argument, O_PEER },
		{ "uc-name", required_argument, O_UC_NAME },
		{ "eku", required_argument, O_EKU },
		{ "profile", required_argument, O_PROFILE },
		{ "ms-template", required_argument, O_TEMPLATE },
		{ "digest", required_argument, O_DIGEST },
		{ "allow-sha1", no_argument, O_ALLOW_SHA1 },
		{ "force", no_argument, O_FORCE },
		{ "out", required_argument, O_OUT },
		{ "der", no_argument, O_DER },
		{ NULL, 0, 0 },
	};
	static const char help[] =
	    "usage: p11ca csr --key URI | --new-key TYPE --label NAME [--token URI]\n"
	    "                 [--subject /C=../ST=../L=../O=../OU=../CN=..]\n"
	    "                 [--country C] [--state S] [--locality L] [--org O]\n"
	    "                 [--org-unit OU] [--cn NAME] [--email ADDRESS]\n"
	    "                 [--fqdn FQDN [--cluster FQDN]] [--cluster FQDN --peer FQDN...]\n"
	    "                 [--san dns:NAME,ip:ADDRESS,email:ADDRESS]... "
	    "[--uc-name FQDN]...\n"
	    "                 [--eku server,client,ocsp | --profile PROFILE]\n"
	    "                 [--ms-template NAME]\n"
	    "                 [--digest sha256|sha384|sha512] [--allow-sha1] [--force]\n"
	    "                 [--out FILE] [--der]\n\n"
	    "Makes a certificate signing request for a key on the token and signs it\n"
	    "there, through the p11ca OpenSSL provider; the request is verified before\n"
	    "it is written (PEM, or DER with --der; to --out FILE atomically, else to\n"
	    "standard output).  --new-key generates the key first (TYPE as for `p11ca\n"
	    "key gen`) and prints its URI (on stderr when the CSR goes to stdout); if\n"
	    "the request cannot be made, the new key is deleted again.\n\n"
	    "Deployment helpers (names are FQDNs; wildcards are refused everywhere):\n"
	    "  --fqdn F               CN = F.  A lone server needs no SAN by the\n"
	    "                         deployment guide, but DNS:F is put in the SAN\n"
	    "                         anyway: current TLS clients check only the SAN.\n"
	    "  --cluster C            a cluster peer: SAN = F, C.  Run once per peer\n"
	    "                         for a certificate per peer.\n"
	    "  --peer P               (repeatable, with --cluster C) one certificate\n"
	    "                         shared by the cluster, as the guide's recipe:\n"
	    "                         CN = C, SAN = C and every peer (and F first\n"
	    "                         when --fqdn F is given: then CN = F).\n"
	    "  --uc-name N            (repeatable) more DNS names for unified\n"
	    "                         communications: chat node aliases, UC domains,\n"
	    "                         phone security profile names.\n"
	    "The subject comes from --subject, with the per-field options replacing\n"
	    "its fields; an explicit CN wins over --fqdn.  With serverAuth the CN must\n"
	    "be an FQDN and is always one of the SANs.  --san types: dns:, ip: (IP\n"
	    "addresses only this way), email:; names given twice are listed once.\n\n"
	    "Extensions requested: subjectAltName; extendedKeyUsage serverAuth and\n"
	    "clientAuth unless --eku (server, client, ocsp: OCSPSigning) or --profile\n"
	    "(server, client, server-client, ocsp: as `p11ca ca sign` allows them)\n"
	    "says otherwise; keyUsage (critical) digitalSignature, plus\n"
	    "keyEncipherment for RSA with server or client; with --ms-template NAME\n"
	    "the Microsoft certificate template name (" MS_TEMPLATE_OID ", a\n"
	    "BMPString), so AD CS needs no CertificateTemplate attribute (e.g.\n"
	    "Webclientandserver).\n\n"
	    "RSA keys above " TEXT(RSA_MAX_BITS) " bits are refused unless --force: "
	                                         "8192-bit keys break SIP\n"
	                                         "TLS peers.  SHA-256 by default; SHA-1 only with "
	                                         "--allow-sha1 (a warning).\n";
	struct tool_common c = { 0 };
	struct csr_opts o = { .digest = "sha256", .out = "-" };
	struct csr_san_list all = { 0 };
	struct csr_subject subj = { 0 };
	int r, ret = TOOL_EXIT_FAIL, server;
	unsigned usages = EKU_SERVER | EKU_CLIENT;
	char *new_uri = NULL;
	const char *key_uri, *mdname;
	unsigned char *csr = NULL;
	size_t csrlen = 0;
	OSSL_LIB_CTX *libctx = NULL;
	EVP_PKEY *pkey = NULL;
	EVP_MD_CTX *mdctx = NULL;
	X509_REQ *req = NULL;
	X509_NAME *name = NULL;
	STACK_OF(X509_EXTENSION) *exts = NULL;

	if ((r = tool_parse(argc, argv, opts, help, &c, csr_opt, &o)) != TOOL_PARSE_GO) {
		ret = r;
		goto out;
	}

	/* usage errors (exit 2) */
	ret = TOOL_EXIT_USAGE;
	if (optind != argc) {
		tool_errorf("csr takes no arguments ('%s'; see --help)", argv[optind]);
		goto out;
	}
	if (!check_usage(&o) || (o.eku != NULL && !parse_eku(o.eku, &usages)) ||
	    (o.profile != NULL && !parse_profile(o.profile, &usages)) ||
	    (mdname = digest_name(o.digest)) == NULL)
		goto out;
	server = (usages & EKU_SERVER) != 0;
	if (o.subject != NULL && (ret = csr_subject_parse(&subj, o.subject)) != TOOL_EXIT_OK)
		goto out;

	/* refusals (exit 1): checked before anything touches the token */
	ret = TOOL_EXIT_FAIL;
	if (strcmp(mdname, "SHA1") == 0) {
		if (!o.allow_sha1) {
			tool_errorf("SHA-1 CSR signatures are refused (CAs reject them); "
			            "--allow-sha1 if a legacy CA needs one");
			goto out;
		}
		tool_warnf("signing the CSR with SHA-1, which is weak; only for a legacy CA");
	}
	if (csr_names_resolve(&o.names, server, &subj, &all) != TOOL_EXIT_OK)
		goto out;
	if (o.ms_template != NULL) {
		if (!csr_check_value("--ms-template", o.ms_template))
			goto out;
		if (strlen(o.ms_template) > 255) {
			tool_errorf("--ms-template: a template name has at most 255 characters");
			goto out;
		}
	}
	if (!tool_out_ok(o.out, 0))
		goto out;

	/* the key: generated first when asked for */
	key_uri = o.key_uri;
	if (o.new_key != NULL) {
		if (tool_generate_key(&c, o.token_uri, o.new_key, o.label, o.force, &new_uri) !=
		    TOOL_EXIT_OK)
			goto out;
		key_uri = new_uri;
		if (strcmp(o.out, "-") == 0)
			fprintf(stderr, "p11ca: new key %s\n", new_uri);
		else
			printf("%s\n", new_uri);
		fflush(stdout);
	}
	if ((libctx = tool_ossl_open(&c)) == NULL)
		goto out;
	if ((pkey = tool_ossl_load_key(libctx, key_uri)) == NULL) {
		tool_ossl_fail("--key");
		goto out;
	}
	if (!check_key(pkey, o.force))
		goto out;
	if (EVP_PKEY_is_a(pkey, "ED25519"))
		mdname = NULL; /* Ed25519 signs the request itself */

	/* the request */
	if ((name = csr_build_name(&subj)) == NULL)
		goto out;
	if ((req = X509_REQ_new_ex(libctx, NULL)) == NULL ||
	    X509_REQ_set_version(req, X509_REQ_VERSION_1) != 1 ||
	    X509_REQ_set_subject_name(req, name) != 1 || X509_REQ_set_pubkey(req, pkey) != 1) {
		tool_ossl_fail("building the CSR");
		goto out;
	}
	if ((exts = sk_X509_EXTENSION_new_null()) == NULL ||
	    /* with an empty subject the SAN is the identity: critical (RFC 5280) */
	    (all.n > 0 && !push_ext(exts, san_ext(&all, subj.n == 0))) ||
	    /* keyEncipherment: RSA key transport in TLS, nothing an OCSP responder does */
	    !push_ext(exts, ku_ext(EVP_PKEY_is_a(pkey, "RSA") &&
	                           (usages & (EKU_SERVER | EKU_CLIENT)) != 0)) ||
	    !push_ext(exts, eku_ext(usages)) ||
	    (o.ms_template != NULL && !push_ext(exts, ms_template_ext(o.ms_template))) ||
	    X509_REQ_add_extensions(req, exts) != 1) {
		tool_ossl_fail("building the CSR extensions");
		goto out;
	}
	if ((mdctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestSignInit_ex(mdctx, NULL, mdname, libctx, NULL, pkey, NULL) != 1 ||
	    X509_REQ_sign_ctx(req, mdctx) <= 0) {
		tool_ossl_fail("signing the CSR");
		goto out;
	}
	if (!verify_req(libctx, req)) {
		tool_ossl_fail("verifying the signed CSR");
		goto out;
	}
	if ((csr = encode_req(req, o.der, &csrlen)) == NULL) {
		tool_ossl_fail("encoding the CSR");
		goto out;
	}
	if (c.verbose) {
		fprintf(stderr, "p11ca: CSR with %zu subject field%s, %zu SAN%s, %s\n", subj.n,
		        subj.n == 1 ? "" : "s", all.n, all.n == 1 ? "" : "s",
		        mdname ? mdname : "Ed25519");
	}
	ret = tool_write_atomic(o.out, csr, csrlen);
out:
	free(csr);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	X509_NAME_free(name);
	X509_REQ_free(req);
	EVP_MD_CTX_free(mdctx);
	EVP_PKEY_free(pkey);
	tool_ossl_close(libctx);
	if (new_uri != NULL && ret != TOOL_EXIT_OK)
		tool_delete_new_key(&c, new_uri);
	free(new_uri);
	free(subj.parsed);
	csr_names_free(&o.names);
	csr_san_list_free(&all);
	return ret;
}

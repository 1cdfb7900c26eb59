/* cmd-csr.c - p11ca csr: a certificate signing request signed on the token. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "pki.h"
#include "result.h"
#include "tool.h"

/* Microsoft certificate template name (szOID_ENROLL_CERTTYPE_EXTENSION) */
#define MS_TEMPLATE_OID "1.3.6.1.4.1.311.20.2"
/* RSA above this needs --force: 8192-bit keys break SIP TLS peers */
#define RSA_MAX_BITS 4096

/* One requested subjectAltName. */
enum san_type { SAN_DNS, SAN_IP, SAN_EMAIL };
struct san {
	enum san_type type;
	const char *value; /* points into argv, or a strdup'ed --san piece */
};

/* A growable list of SANs plus the --san strings split into pieces. */
struct san_list {
	struct san *v;
	size_t n, cap;
	char **owned; /* strdup'ed --san arguments (split in place) */
	size_t nowned;
};

/* A subject field: OpenSSL NID and value (from argv or a copy). */
struct field {
	int nid;
	const char *value;
};

struct subject {
	struct field v[32];
	size_t n;
	char *parsed; /* writable copy of --subject */
};

/* ------------------------------------------------------------------ */
/* Name checks: the PKI library's one name policy                      */
/* ------------------------------------------------------------------ */

/*
 * Whether @name passes the name policy as a @type name; reports when not.
 * @what names the option ("--fqdn", "--san dns:").  An IP address given as
 * a DNS name gets the option that takes it.
 */
static int name_ok(const char *what, enum pki_name_type type, const char *name)
{
	size_t len = strlen(name), wlen = strlen(what);
	int rc = pki_name_check(type, name, len, type == PKI_NAME_IP ? PKI_NAME_IP_TEXT : 0);
	char msg[1024], lbl[320];

	if (rc == RES_OK)
		return 1;
	snprintf(msg, sizeof(msg), "%s", res_message());
	/* "--san dns:NAME" for an option ending in ':', else the option alone */
	snprintf(lbl, sizeof(lbl), "%s%.260s", what, wlen > 0 && what[wlen - 1] == ':' ? name : "");
	if (type == PKI_NAME_DNS &&
	    pki_name_check(PKI_NAME_IP, name, len, PKI_NAME_IP_TEXT) == RES_OK)
		tool_errorf("%s: %s; give it as --san ip:%s", lbl, msg, name);
	else
		tool_errorf("%s: %s", lbl, msg);
	return 0;
}

static int check_fqdn(const char *what, const char *name)
{
	return name_ok(what, PKI_NAME_DNS, name);
}

/* A CN that need not be a host name (a client's) may still not be a wildcard. */
static int check_no_wildcard(const char *what, const char *name)
{
	if (pki_name_check(PKI_NAME_DNS, name, strlen(name), 0) != RES_POLICY)
		return 1;
	tool_errorf("%s: %s", what, res_message());
	return 0;
}

/* A subject value: not empty, no control characters, valid UTF-8 left to OpenSSL. */
static int check_value(const char *what, const char *v)
{
	const unsigned char *p;

	if (*v == '\0') {
		tool_errorf("%s: empty value", what);
		return 0;
	}
	for (p = (const unsigned char *)v; *p; p++)
		if (*p < 0x20 || *p == 0x7f) {
			tool_errorf("%s: control characters are not allowed", what);
			return 0;
		}
	return 1;
}

/* ------------------------------------------------------------------ */
/* Collecting the options                                              */
/* ------------------------------------------------------------------ */

static int san_add(struct san_list *l, enum san_type type, const char *value)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (l->v[i].type == type &&
		    (type == SAN_IP ? strcmp(l->v[i].value, value)
		                    : strcasecmp(l->v[i].value, value)) == 0)
			return 1; /* already there */
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 16;
		struct san *nv = realloc(l->v, cap * sizeof(*nv));
		if (nv == NULL)
			return 0;
		l->v = nv;
		l->cap = cap;
	}
	l->v[l->n].type = type;
	l->v[l->n].value = value;
	l->n++;
	return 1;
}

/*
 * --san dns:NAME,ip:ADDR,email:ADDR (repeatable).  Splits a copy of @arg in
 * place; the pieces stay owned by @l.  Returns TOOL_EXIT_* (a piece with
 * no or an unknown type prefix is a usage error).
 */
static int san_parse(struct san_list *l, const char *arg)
{
	char *copy, *tok, *save = NULL, **no;

	if ((copy = strdup(arg)) == NULL ||
	    (no = realloc(l->owned, (l->nowned + 1) * sizeof(*no))) == NULL) {
		free(copy);
		tool_errorf("out of memory");
		return TOOL_EXIT_FAIL;
	}
	l->owned = no;
	l->owned[l->nowned++] = copy;
	for (tok = strtok_r(copy, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
		char *colon = strchr(tok, ':');
		enum san_type type;

		while (*tok == ' ')
			tok++;
		if (colon == NULL) {
			tool_errorf("--san '%s' needs a type: dns:NAME, ip:ADDRESS or "
			            "email:ADDRESS",
			            tok);
			return TOOL_EXIT_USAGE;
		}
		*colon = '\0';
		if (strcasecmp(tok, "dns") == 0)
			type = SAN_DNS;
		else if (strcasecmp(tok, "ip") == 0)
			type = SAN_IP;
		else if (strcasecmp(tok, "email") == 0)
			type = SAN_EMAIL;
		else {
			tool_errorf("--san: unknown type '%s:' (dns:, ip: or email:)", tok);
			return TOOL_EXIT_USAGE;
		}
		if (!san_add(l, type, colon + 1)) {
			tool_errorf("out of memory");
			return TOOL_EXIT_FAIL;
		}
	}
	return TOOL_EXIT_OK;
}

static void san_list_free(struct san_list *l)
{
	size_t i;

	for (i = 0; i < l->nowned; i++)
		free(l->owned[i]);
	free(l->owned);
	free(l->v);
}

/* Sets field @nid, replacing an earlier value of the same field. */
static int subject_set(struct subject *s, int nid, const char *value)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (s->v[i].nid == nid) {
			s->v[i].value = value;
			return 1;
		}
	if (s->n == sizeof(s->v) / sizeof(s->v[0])) {
		tool_errorf("too many subject fields");
		return 0;
	}
	s->v[s->n].nid = nid;
	s->v[s->n].value = value;
	s->n++;
	return 1;
}

static const char *subject_get(const struct subject *s, int nid)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (s->v[i].nid == nid)
			return s->v[i].value;
	return NULL;
}

/*
 * --subject "/C=GB/O=Example/CN=host.example.com": fields in order, any
 * name OpenSSL knows (short or long), "\/" and "\\" escaped.  Returns
 * TOOL_EXIT_*.
 */
static int subject_parse(struct subject *s, const char *arg)
{
	char *p, *out, *key, *val;
	int nid;

	if (arg[0] != '/') {
		tool_errorf("--subject must look like /C=GB/O=Example/CN=host.example.com");
		return TOOL_EXIT_USAGE;
	}
	if ((s->parsed = strdup(arg)) == NULL) {
		tool_errorf("out of memory");
		return TOOL_EXIT_FAIL;
	}
	p = s->parsed + 1;
	while (*p != '\0') {
		/* key up to '=', value up to an unescaped '/', unescaping in place */
		key = p;
		while (*p != '\0' && *p != '=' && *p != '/')
			p++;
		if (*p != '=' || p == key) {
			tool_errorf("--subject: '%.*s' is not KEY=VALUE", (int)(p - key), key);
			return TOOL_EXIT_USAGE;
		}
		*p++ = '\0';
		val = out = p;
		while (*p != '\0' && *p != '/') {
			if (*p == '\\' && p[1] != '\0')
				p++;
			*out++ = *p++;
		}
		if (*p == '/')
			p++;
		*out = '\0';
		if (strcasecmp(key, "email") == 0 || strcmp(key, "E") == 0)
			nid = NID_pkcs9_emailAddress;
		else
			nid = OBJ_txt2nid(key);
		if (nid == NID_undef) {
			tool_errorf("--subject: unknown field '%s'", key);
			return TOOL_EXIT_USAGE;
		}
		if (!subject_set(s, nid, val))
			return TOOL_EXIT_FAIL;
	}
	return TOOL_EXIT_OK;
}

/* ------------------------------------------------------------------ */
/* Building the request                                                */
/* ------------------------------------------------------------------ */

static X509_NAME *build_name(const struct subject *s);

X509_NAME *tool_parse_dn(const char *arg, int *rc)
{
	struct subject s = { 0 };
	X509_NAME *name = NULL;

	if ((*rc = subject_parse(&s, arg)) == TOOL_EXIT_OK && (name = build_name(&s)) == NULL)
		*rc = TOOL_EXIT_FAIL;
	free(s.parsed);
	return name;
}

static X509_NAME *build_name(const struct subject *s)
{
	X509_NAME *name = X509_NAME_new();
	size_t i;

	if (name == NULL)
		return NULL;
	for (i = 0; i < s->n; i++) {
		if (X509_NAME_add_entry_by_NID(name, s->v[i].nid, MBSTRING_UTF8,
		                               (const unsigned char *)s->v[i].value, -1, -1,
		                               0) != 1) {
			ERR_clear_error();
			tool_errorf("subject %s '%s' cannot be encoded (too long or not "
			            "allowed there)",
			            OBJ_nid2sn(s->v[i].nid), s->v[i].value);
			X509_NAME_free(name);
			return NULL;
		}
	}
	return name;
}

static int push_ext(STACK_OF(X509_EXTENSION) *exts, X509_EXTENSION *ext)
{
	if (ext == NULL)
		return 0;
	if (!sk_X509_EXTENSION_push(exts, ext)) {
		X509_EXTENSION_free(ext);
		return 0;
	}
	return 1;
}

static X509_EXTENSION *san_ext(const struct san_list *l, int critical)
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

		if (l->v[i].type == SAN_IP) {
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
			GENERAL_NAME_set0_value(gen, l->v[i].type == SAN_DNS ? GEN_DNS : GEN_EMAIL,
			                        ia5);
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

static X509_EXTENSION *eku_ext(int server, int client)
{
	EXTENDED_KEY_USAGE *eku = EXTENDED_KEY_USAGE_new();
	X509_EXTENSION *ext = NULL;

	if (eku == NULL)
		return NULL;
	if ((!server || sk_ASN1_OBJECT_push(eku, OBJ_nid2obj(NID_server_auth))) &&
	    (!client || sk_ASN1_OBJECT_push(eku, OBJ_nid2obj(NID_client_auth))))
		ext = X509V3_EXT_i2d(NID_ext_key_usage, 0, eku);
	/* OBJ_nid2obj objects are static: freeing them is a no-op */
	EXTENDED_KEY_USAGE_free(eku);
	return ext;
}

static X509_EXTENSION *ku_ext(int rsa)
{
	ASN1_BIT_STRING *ku = ASN1_BIT_STRING_new();
	X509_EXTENSION *ext = NULL;

	if (ku == NULL)
		return NULL;
	/* bit 0 digitalSignature, bit 2 keyEncipherment (RSA key transport) */
	if (ASN1_BIT_STRING_set_bit(ku, 0, 1) && (!rsa || ASN1_BIT_STRING_set_bit(ku, 2, 1)))
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
/* The command                                                         */
/* ------------------------------------------------------------------ */

/* Deletes the key pair --new-key made, when what it was for failed. */
void tool_delete_new_key(const struct tool_common *c, char *uri)
{
	p11ca_ctx *ctx;
	size_t n = 0;
	CK_RV rv;

	tool_uri_drop_type(uri); /* the private and the public key */
	if ((ctx = tool_ctx_open(c)) == NULL)
		return;
	if ((rv = p11ca_object_delete(ctx, uri, &n)) != CKR_OK)
		tool_fail("deleting the new key again", rv);
	else
		tool_warnf("the new key was deleted again: %s", uri);
	p11ca_ctx_free(ctx);
}

/* Generates --new-key; *puri receives its URI (free()). */
int tool_generate_key(const struct tool_common *c, const char *token_uri, const char *type,
                        const char *label, int force, char **puri)
{
	p11ca_ctx *ctx;
	p11ca_token *tok;
	p11ca_key *key = NULL;
	int ret = TOOL_EXIT_FAIL;
	CK_RV rv;

	if ((ctx = tool_ctx_open(c)) == NULL)
		return TOOL_EXIT_FAIL;
	if ((rv = p11ca_token_find(ctx, token_uri, &tok)) != CKR_OK) {
		tool_fail("--token", rv);
		goto out;
	}
	if ((rv = p11ca_key_generate(tok, type, label, force ? P11CA_GEN_FORCE : 0, &key)) !=
	    CKR_OK) {
		tool_fail("--new-key", rv);
		goto out;
	}
	if ((*puri = p11ca_key_get_uri(key)) == NULL) {
		tool_errorf("out of memory");
		goto out;
	}
	ret = TOOL_EXIT_OK;
out:
	/* the provider opens the module again on its own */
	p11ca_key_free(key);
	p11ca_ctx_free(ctx);
	return ret;
}

static void help(void)
{
	printf("usage: p11ca csr --key URI | --new-key TYPE --label NAME [--token URI]\n"
	       "                 [--subject /C=../ST=../L=../O=../OU=../CN=..]\n"
	       "                 [--country C] [--state S] [--locality L] [--org O]\n"
	       "                 [--org-unit OU] [--cn NAME] [--email ADDRESS]\n"
	       "                 [--fqdn FQDN [--cluster FQDN [--peer FQDN]...]]\n"
	       "                 [--san dns:NAME,ip:ADDRESS,email:ADDRESS]... [--uc-name FQDN]...\n"
	       "                 [--eku server|client|server,client] [--ms-template NAME]\n"
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
	       "  --peer P               (repeatable) one certificate shared by the cluster:\n"
	       "                         SAN = F, C and every peer (--cn C puts the\n"
	       "                         cluster in the CN, as the guide's recipe does).\n"
	       "  --uc-name N            (repeatable) more DNS names for unified\n"
	       "                         communications: chat node aliases, UC domains,\n"
	       "                         phone security profile names.\n"
	       "The subject comes from --subject, with the per-field options replacing\n"
	       "its fields; an explicit CN wins over --fqdn.  With serverAuth the CN must\n"
	       "be an FQDN and is always one of the SANs.  --san types: dns:, ip: (IP\n"
	       "addresses only this way), email:; names given twice are listed once.\n\n"
	       "Extensions requested: subjectAltName; extendedKeyUsage serverAuth and\n"
	       "clientAuth unless --eku narrows it; keyUsage (critical) digitalSignature,\n"
	       "plus keyEncipherment for RSA; with --ms-template NAME the Microsoft\n"
	       "certificate template name (" MS_TEMPLATE_OID ", a BMPString), so AD\n"
	       "CS needs no CertificateTemplate attribute (e.g. Webclientandserver).\n\n"
	       "RSA keys above %d bits are refused unless --force: 8192-bit keys break SIP\n"
	       "TLS peers.  SHA-256 by default; SHA-1 only with --allow-sha1 (a warning).\n",
	       RSA_MAX_BITS);
}

int tool_csr(int argc, char **argv)
{
	enum {
		O_KEY = OPT_FIRST_LOCAL, O_NEW_KEY, O_LABEL, O_TOKEN, O_SUBJECT, O_COUNTRY, O_STATE,
		O_LOCALITY, O_ORG, O_ORG_UNIT, O_CN, O_EMAIL, O_SAN, O_FQDN, O_CLUSTER, O_PEER,
		O_UC_NAME, O_EKU, O_TEMPLATE, O_DIGEST, O_ALLOW_SHA1, O_FORCE, O_OUT, O_DER
	};
	static const struct option opts[] = { TOOL_COMMON_OPTIONS,
		                               { "key", required_argument, NULL, O_KEY },
		                               { "new-key", required_argument, NULL, O_NEW_KEY },
		                               { "label", required_argument, NULL, O_LABEL },
		                               { "token", required_argument, NULL, O_TOKEN },
		                               { "subject", required_argument, NULL, O_SUBJECT },
		                               { "country", required_argument, NULL, O_COUNTRY },
		                               { "state", required_argument, NULL, O_STATE },
		                               { "locality", required_argument, NULL, O_LOCALITY },
		                               { "org", required_argument, NULL, O_ORG },
		                               { "org-unit", required_argument, NULL, O_ORG_UNIT },
		                               { "cn", required_argument, NULL, O_CN },
		                               { "email", required_argument, NULL, O_EMAIL },
		                               { "san", required_argument, NULL, O_SAN },
		                               { "fqdn", required_argument, NULL, O_FQDN },
		                               { "cluster", required_argument, NULL, O_CLUSTER },
		                               { "peer", required_argument, NULL, O_PEER },
		                               { "uc-name", required_argument, NULL, O_UC_NAME },
		                               { "eku", required_argument, NULL, O_EKU },
		                               { "ms-template", required_argument, NULL, O_TEMPLATE },
		                               { "digest", required_argument, NULL, O_DIGEST },
		                               { "allow-sha1", no_argument, NULL, O_ALLOW_SHA1 },
		                               { "force", no_argument, NULL, O_FORCE },
		                               { "out", required_argument, NULL, O_OUT },
		                               { "der", no_argument, NULL, O_DER },
		                               { 0 } };
	/* per-field options, applied over --subject in this order */
	static const int field_nid[] = { NID_countryName, NID_stateOrProvinceName, NID_localityName,
		                         NID_organizationName, NID_organizationalUnitName,
		                         NID_commonName, NID_pkcs9_emailAddress };
	const char *field_val[sizeof(field_nid) / sizeof(field_nid[0])] = { 0 };
	struct tool_common c = { 0 };
	const char *key_uri = NULL, *new_key = NULL, *label = NULL, *token_uri = NULL;
	const char *subject_arg = NULL, *fqdn = NULL, *cluster = NULL, *ms_template = NULL;
	const char *eku_arg = "server,client", *digest = "sha256", *out = "-", *cn, *email;
	const char **peers = NULL, **uc_names = NULL;
	size_t npeers = 0, nuc = 0, i, csrlen = 0;
	int opt, ret = TOOL_EXIT_FAIL, allow_sha1 = 0, force = 0, der = 0, server = 0, client = 0;
	int rsa, bits;
	struct san_list sans = { 0 }, all = { 0 };
	struct subject subj = { 0 };
	char *new_uri = NULL;
	unsigned char *csr = NULL;
	const char *mdname;
	OSSL_LIB_CTX *libctx = NULL;
	EVP_PKEY *pkey = NULL;
	EVP_MD_CTX *mdctx = NULL;
	X509_REQ *req = NULL;
	X509_NAME *name = NULL;
	STACK_OF(X509_EXTENSION) *exts = NULL;

	while ((opt = getopt_long(argc, argv, TOOL_SHORT, opts, NULL)) != -1) {
		const char ***plist = NULL;
		size_t *pn = NULL;

		if (tool_common_opt(&c, opt, optarg))
			continue;
		switch (opt) {
		case O_KEY: key_uri = optarg; break;
		case O_NEW_KEY: new_key = optarg; break;
		case O_LABEL: label = optarg; break;
		case O_TOKEN: token_uri = optarg; break;
		case O_SUBJECT: subject_arg = optarg; break;
		case O_COUNTRY: case O_STATE: case O_LOCALITY: case O_ORG: case O_ORG_UNIT:
		case O_CN: case O_EMAIL: field_val[opt - O_COUNTRY] = optarg; break;
		case O_SAN:
			if ((ret = san_parse(&sans, optarg)) != TOOL_EXIT_OK)
				goto out;
			ret = TOOL_EXIT_FAIL;
			break;
		case O_FQDN: fqdn = optarg; break;
		case O_CLUSTER: cluster = optarg; break;
		case O_PEER: plist = &peers, pn = &npeers; break;
		case O_UC_NAME: plist = &uc_names, pn = &nuc; break;
		case O_EKU: eku_arg = optarg; break;
		case O_TEMPLATE: ms_template = optarg; break;
		case O_DIGEST: digest = optarg; break;
		case O_ALLOW_SHA1: allow_sha1 = 1; break;
		case O_FORCE: force = 1; break;
		case O_OUT: out = optarg; break;
		case O_DER: der = 1; break;
		case OPT_HELP: help(); ret = TOOL_EXIT_OK; goto out;
		default: ret = TOOL_EXIT_USAGE; goto out;
		}
		if (plist != NULL) {
			const char **nl = realloc(*plist, (*pn + 1) * sizeof(*nl));
			if (nl == NULL) {
				tool_errorf("out of memory");
				goto out;
			}
			nl[(*pn)++] = optarg;
			*plist = nl;
		}
	}

	/* usage errors (exit 2) */
	ret = TOOL_EXIT_USAGE;
	if (optind != argc) {
		tool_errorf("csr takes no arguments ('%s'; see --help)", argv[optind]);
		goto out;
	}
	if ((key_uri == NULL) == (new_key == NULL)) {
		tool_errorf("csr needs either --key URI or --new-key TYPE (see --help)");
		goto out;
	}
	if (new_key != NULL && label == NULL) {
		tool_errorf("--new-key needs --label");
		goto out;
	}
	if (key_uri != NULL && (label != NULL || token_uri != NULL)) {
		tool_errorf("--label and --token go with --new-key, not --key");
		goto out;
	}
	if (cluster != NULL && fqdn == NULL) {
		tool_errorf("--cluster needs --fqdn (this peer's name)");
		goto out;
	}
	if (npeers > 0 && cluster == NULL) {
		tool_errorf("--peer needs --cluster (one certificate shared by the cluster)");
		goto out;
	}
	for (i = 0; eku_arg[i] != '\0';) {
		size_t n = strcspn(eku_arg + i, ",");
		if (n == 6 && strncmp(eku_arg + i, "server", 6) == 0)
			server = 1;
		else if (n == 6 && strncmp(eku_arg + i, "client", 6) == 0)
			client = 1;
		else {
			tool_errorf("unknown --eku '%.*s' (server, client or server,client)",
			            (int)n, eku_arg + i);
			goto out;
		}
		i += n + (eku_arg[i + n] == ',');
	}
	if (!server && !client) {
		tool_errorf("--eku needs server, client or server,client");
		goto out;
	}
	if (strcasecmp(digest, "sha256") == 0 || strcasecmp(digest, "sha-256") == 0)
		mdname = "SHA256";
	else if (strcasecmp(digest, "sha384") == 0 || strcasecmp(digest, "sha-384") == 0)
		mdname = "SHA384";
	else if (strcasecmp(digest, "sha512") == 0 || strcasecmp(digest, "sha-512") == 0)
		mdname = "SHA512";
	else if (strcasecmp(digest, "sha1") == 0 || strcasecmp(digest, "sha-1") == 0)
		mdname = "SHA1";
	else {
		tool_errorf("unknown --digest '%s' (sha256, sha384 or sha512)", digest);
		goto out;
	}
	if (subject_arg != NULL && (ret = subject_parse(&subj, subject_arg)) != TOOL_EXIT_OK)
		goto out;

	/* refusals (exit 1): checked before anything touches the token */
	ret = TOOL_EXIT_FAIL;
	if (strcmp(mdname, "SHA1") == 0) {
		if (!allow_sha1) {
			tool_errorf("SHA-1 CSR signatures are refused (CAs reject them); "
			            "--allow-sha1 if a legacy CA needs one");
			goto out;
		}
		tool_warnf("signing the CSR with SHA-1, which is weak; only for a legacy CA");
	}
	for (i = 0; i < sizeof(field_nid) / sizeof(field_nid[0]); i++)
		if (field_val[i] != NULL && !subject_set(&subj, field_nid[i], field_val[i]))
			goto out;
	/* the deployment names first: a CN taken from --fqdn is reported as that */
	if ((fqdn != NULL && !check_fqdn("--fqdn", fqdn)) ||
	    (cluster != NULL && !check_fqdn("--cluster", cluster)))
		goto out;
	for (i = 0; i < npeers; i++)
		if (!check_fqdn("--peer", peers[i]))
			goto out;
	for (i = 0; i < nuc; i++)
		if (!check_fqdn("--uc-name", uc_names[i]))
			goto out;
	if (fqdn != NULL && subject_get(&subj, NID_commonName) == NULL &&
	    !subject_set(&subj, NID_commonName, fqdn))
		goto out;
	for (i = 0; i < subj.n; i++) {
		char what[64];
		snprintf(what, sizeof(what), "subject %s", OBJ_nid2sn(subj.v[i].nid));
		if (!check_value(what, subj.v[i].value))
			goto out;
	}
	if ((email = subject_get(&subj, NID_pkcs9_emailAddress)) != NULL &&
	    !name_ok("subject emailAddress", PKI_NAME_EMAIL, email))
		goto out;
	if ((cn = subject_get(&subj, NID_commonName)) != NULL) {
		if (!check_no_wildcard("CN", cn))
			goto out;
		if (server && !check_fqdn("CN", cn))
			goto out;
		if (strlen(cn) > 64) {
			tool_errorf("CN '%s' is longer than 64 characters (X.520 limit); give a "
			            "shorter --cn and this name as --fqdn or --san",
			            cn);
			goto out;
		}
	}
	{
		const char *c_val = subject_get(&subj, NID_countryName);
		if (c_val != NULL && (strlen(c_val) != 2 || !isalpha((unsigned char)c_val[0]) ||
		                      !isalpha((unsigned char)c_val[1]))) {
			tool_errorf("country '%s' must be a two-letter ISO 3166 code", c_val);
			goto out;
		}
	}
	/* every SAN, in a fixed order: CN, FQDN, cluster, peers, UC names, --san */
	if (cn != NULL && server && !san_add(&all, SAN_DNS, cn))
		goto oom;
	if ((fqdn != NULL && !san_add(&all, SAN_DNS, fqdn)) ||
	    (cluster != NULL && !san_add(&all, SAN_DNS, cluster)))
		goto oom;
	for (i = 0; i < npeers; i++)
		if (!san_add(&all, SAN_DNS, peers[i]))
			goto oom;
	for (i = 0; i < nuc; i++)
		if (!san_add(&all, SAN_DNS, uc_names[i]))
			goto oom;
	for (i = 0; i < sans.n; i++) {
		const char *v = sans.v[i].value;
		static const enum pki_name_type type_of[] = { [SAN_DNS] = PKI_NAME_DNS,
			                                      [SAN_IP] = PKI_NAME_IP,
			                                      [SAN_EMAIL] = PKI_NAME_EMAIL };
		static const char *const what_of[] = { [SAN_DNS] = "--san dns:",
			                               [SAN_IP] = "--san ip:",
			                               [SAN_EMAIL] = "--san email:" };

		if (!name_ok(what_of[sans.v[i].type], type_of[sans.v[i].type], v))
			goto out;
		if (!san_add(&all, sans.v[i].type, v))
			goto oom;
	}
	if (subj.n == 0 && all.n == 0) {
		tool_errorf("nothing to request: give --fqdn, --cn, --subject or --san");
		goto out;
	}
	if (ms_template != NULL) {
		if (!check_value("--ms-template", ms_template))
			goto out;
		if (strlen(ms_template) > 255) {
			tool_errorf("--ms-template: a template name has at most 255 characters");
			goto out;
		}
	}

	/* the key: generated first when asked for */
	if (new_key != NULL) {
		if (tool_generate_key(&c, token_uri, new_key, label, force, &new_uri) != TOOL_EXIT_OK)
			goto out;
		key_uri = new_uri;
		if (strcmp(out, "-") == 0)
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
	rsa = EVP_PKEY_is_a(pkey, "RSA");
	bits = EVP_PKEY_get_bits(pkey);
	if (rsa && bits > RSA_MAX_BITS) {
		if (!force) {
			tool_errorf("the key is RSA-%d: keys above %d bits break SIP TLS peers "
			            "(use rsa:%d, or --force)",
			            bits, RSA_MAX_BITS, RSA_MAX_BITS);
			goto out;
		}
		tool_warnf("RSA-%d key requested with --force: SIP TLS peers may refuse it", bits);
	}
	if (!rsa && !EVP_PKEY_is_a(pkey, "EC") && !EVP_PKEY_is_a(pkey, "ED25519")) {
		tool_errorf("--key: not an RSA, EC or Ed25519 key");
		goto out;
	}
	if (EVP_PKEY_is_a(pkey, "ED25519"))
		mdname = NULL; /* Ed25519 signs the request itself */

	/* the request */
	if ((name = build_name(&subj)) == NULL)
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
	    !push_ext(exts, ku_ext(rsa)) || !push_ext(exts, eku_ext(server, client)) ||
	    (ms_template != NULL && !push_ext(exts, ms_template_ext(ms_template))) ||
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
	if ((csr = encode_req(req, der, &csrlen)) == NULL) {
		tool_ossl_fail("encoding the CSR");
		goto out;
	}
	if (c.verbose) {
		fprintf(stderr, "p11ca: CSR with %zu subject field%s, %zu SAN%s, %s\n", subj.n,
		        subj.n == 1 ? "" : "s", all.n, all.n == 1 ? "" : "s",
		        mdname ? mdname : "Ed25519");
	}
	ret = tool_write_atomic(out, csr, csrlen);
	goto out;
oom:
	tool_errorf("out of memory");
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
	free(peers);
	free(uc_names);
	free(subj.parsed);
	san_list_free(&sans);
	san_list_free(&all);
	return ret;
}

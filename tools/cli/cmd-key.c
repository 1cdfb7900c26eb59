/* cmd-key.c - p11ca key gen | list | delete | sign | pubkey */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <strings.h>
#include <jansson.h>

#include "tool.h"

/* Writes @given, or else @key's public half, to @path as PEM. */
static int write_pubkey(p11ca_key *key, EVP_PKEY *given, const char *path)
{
	EVP_PKEY *pub = NULL;
	BIO *mem = NULL;
	char *data;
	long len;
	CK_RV rv;
	int ret = TOOL_EXIT_FAIL;

	if (given != NULL && EVP_PKEY_up_ref(given) == 1)
		pub = given;
	else if ((rv = p11ca_key_get_public(key, &pub)) != CKR_OK)
		return tool_fail("reading the public key", rv);
	if ((mem = BIO_new(BIO_s_mem())) == NULL || PEM_write_bio_PUBKEY(mem, pub) != 1)
		tool_ossl_fail("encoding the public key");
	else if ((len = BIO_get_mem_data(mem, &data)) > 0)
		ret = tool_write_atomic(path, (unsigned char *)data, (size_t)len);
	BIO_free(mem);
	EVP_PKEY_free(pub);
	return ret;
}

enum {
	O_TOKEN = OPT_FIRST_LOCAL,
	O_LABEL,
	O_TYPE,
	O_FORCE,
	O_DECRYPT,
	O_PUBOUT,
	O_JSON,
	O_IN,
	O_OUT,
	O_ALG,
	O_DIGEST,
	O_KEY,
	O_DERIVE,
	O_YES,
	O_PSS_ONLY
};

struct gen_opts {
	const char *token_uri, *label, *type, *pubout;
	unsigned flags;
};

static int gen_opt(int id, const char *arg, void *data)
{
	struct gen_opts *o = data;

	switch (id) {
	case O_TOKEN: o->token_uri = arg; break;
	case O_LABEL: o->label = arg; break;
	case O_TYPE: o->type = arg; break;
	case O_FORCE: o->flags |= P11CA_GEN_FORCE; break;
	case O_DECRYPT: o->flags |= P11CA_GEN_DECRYPT; break;
	case O_DERIVE: o->flags |= P11CA_GEN_DERIVE; break;
	case O_PSS_ONLY: o->flags |= P11CA_GEN_PSS_ONLY; break;
	case O_PUBOUT: o->pubout = arg; break;
	default: return TOOL_EXIT_USAGE;
	}
	return TOOL_EXIT_OK;
}

int tool_key_gen(int argc, char **argv)
{
	static const struct tool_opt opts[] = {
		{ "token", required_argument, O_TOKEN },
		{ "label", required_argument, O_LABEL },
		{ "type", required_argument, O_TYPE },
		{ "force", no_argument, O_FORCE },
		{ "decrypt", no_argument, O_DECRYPT },
		{ "derive", no_argument, O_DERIVE },
		{ "pubout", required_argument, O_PUBOUT },
		{ "pss-only", no_argument, O_PSS_ONLY },
		{ NULL, 0, 0 },
	};
	static const char help[] =
	    "usage: p11ca key gen [--token URI] --label NAME [--type TYPE]\n"
	    "                     [--decrypt] [--derive] [--pss-only] [--force] [--pubout FILE]\n\n"
	    "Generates a key pair on the token.  TYPE: rsa:2048 (default), rsa:3072,\n"
	    "rsa:4096, ec:p256, ec:p384, ec:p521, ed25519.  RSA above 4096 bits needs\n"
	    "--force: 8192-bit keys break SIP TLS peers.  The private key is sensitive,\n"
	    "never extractable, not modifiable, and only signs; --decrypt also lets an\n"
	    "RSA key decrypt, --derive an EC key derive (ECDH); --pss-only makes an RSA\n"
	    "key that signs only RSA-PSS (CKA_ALLOWED_MECHANISMS: the PSS mechanisms),\n"
	    "an RSA-PSS key to OpenSSL.\n"
	    "CKA_ID is the SHA-1 of the public key (the certificate's SKI).\n"
	    "Prints the key's pkcs11: URI; --pubout writes the public key (PEM).\n";
	struct tool_common c = { 0 };
	struct gen_opts o = { .type = "rsa:2048" };
	struct tool_held held = { 0 };
	int r, ret = TOOL_EXIT_FAIL;
	p11ca_ctx *ctx = NULL;
	p11ca_token *tok;
	p11ca_key *key = NULL;
	CK_RV rv;

	if ((r = tool_parse(argc, argv, opts, help, &c, gen_opt, &o)) != TOOL_PARSE_GO)
		return r;
	if (o.label == NULL || optind != argc) {
		tool_errorf("key gen needs --label (see --help)");
		return TOOL_EXIT_USAGE;
	}
	/* the key is not made when its public half cannot be written */
	if (o.pubout != NULL && !tool_out_ok(o.pubout, 0))
		return TOOL_EXIT_FAIL;
	if ((ctx = tool_ctx_open(&c)) == NULL)
		goto out;
	if ((rv = p11ca_token_find(ctx, o.token_uri, &tok)) != CKR_OK) {
		tool_fail("--token", rv);
		goto out;
	}
	if ((rv = tool_key_generate(tok, o.type, o.label, o.flags, &key, &held)) != CKR_OK) {
		tool_fail("key gen", rv);
		goto out;
	}
	{
		size_t idlen;
		const unsigned char *id = p11ca_key_get_id(key, &idlen);
		char hex[2 * 64 + 1], *uri = p11ca_key_get_uri(key);
		tool_hex(hex, id, idlen > 64 ? 64 : idlen);
		printf("%s\n", uri ? uri : "");
		fflush(stdout);
		if (c.verbose)
			tool_infof("generated %s key '%s', id %s", o.type, o.label, hex);
		free(uri);
	}
	ret = o.pubout ? write_pubkey(key, NULL, o.pubout) : TOOL_EXIT_OK;
out:
	tool_signals_release(&held);
	p11ca_key_free(key);
	p11ca_ctx_free(ctx);
	return ret;
}

static const char *class_name(CK_OBJECT_CLASS k)
{
	return k == CKO_PRIVATE_KEY ? "private" : k == CKO_PUBLIC_KEY ? "public" : "cert";
}

static const char *kind_name(enum p11ca_key_kind k)
{
	return k == P11CA_KEY_RSA       ? "rsa"
	       : k == P11CA_KEY_EC      ? "ec"
	       : k == P11CA_KEY_ED25519 ? "ed25519"
	                                : "-";
}

static const char *tri(int v)
{
	return v < 0 ? "-" : v ? "yes" : "no";
}

/* A string member; a label that is not UTF-8 shows with '?' (JSON wants UTF-8). */
static int json_set_text(json_t *obj, const char *name, const char *s)
{
	char buf[256];

	return json_object_set_new(obj, name, json_string(tool_text_utf8(s, buf, sizeof(buf))));
}

/* true, false, or null when the token did not say */
static json_t *json_tri(int v)
{
	return v < 0 ? json_null() : json_boolean(v);
}

/* One object of a listing as JSON (NULL: no memory). */
static json_t *object_json(p11ca_token *t, const struct p11ca_object_info *o, const char *hex)
{
	json_t *j = json_object();
	int bad;

	if (j == NULL)
		return NULL;
	/* the order of the members is the order they print in */
	bad = json_set_text(j, "token", p11ca_token_get_info(t)->label) ||
	      json_object_set_new(j, "class", json_string(class_name(o->klass))) ||
	      json_object_set_new(j, "type", json_string(kind_name(o->kind))) ||
	      json_object_set_new(j, "bits", json_integer(o->bits)) ||
	      json_set_text(j, "label", o->label) ||
	      json_object_set_new(j, "id", json_string(hex)) ||
	      json_object_set_new(j, "sensitive", json_tri(o->sensitive)) ||
	      json_object_set_new(j, "extractable", json_tri(o->extractable)) ||
	      json_object_set_new(j, "always_sensitive", json_tri(o->always_sensitive)) ||
	      json_object_set_new(j, "never_extractable", json_tri(o->never_extractable)) ||
	      json_object_set_new(j, "local", json_tri(o->local)) ||
	      json_set_text(j, "uri", o->uri ? o->uri : "");
	if (bad) {
		json_decref(j);
		return NULL;
	}
	return j;
}

/* Lists @t's objects: as text to stdout, or into @json (an array) when given. */
static int list_token(p11ca_token *t, json_t *json)
{
	struct p11ca_object_info *objs = NULL;
	int ret = TOOL_EXIT_FAIL, hidden;
	size_t n = 0, i;
	CK_RV rv;

	/* no PIN from anywhere: the public objects list, and the user hears why
	 * the private keys are missing */
	rv = p11ca_token_login(t);
	if (rv != CKR_OK && rv != P11CA_R_NO_PIN)
		return tool_fail("key list", rv);
	hidden = rv == P11CA_R_NO_PIN;
	if ((rv = p11ca_token_list_objects(t, &objs, &n)) != CKR_OK)
		return tool_fail("key list", rv);
	if (hidden)
		tool_warnf("token '%s': no PIN given, so private keys are hidden until login "
		           "(--pin-file, P11CA_PIN or a terminal to prompt on)",
		           p11ca_token_get_info(t)->label);
	for (i = 0; i < n; i++) {
		struct p11ca_object_info *o = &objs[i];
		char hex[2 * 64 + 1];

		tool_hex(hex, o->id, o->id_len);
		if (json != NULL) {
			if (json_array_append_new(json, object_json(t, o, hex)) != 0) {
				tool_errorf("out of memory");
				goto out;
			}
			continue;
		}
		printf("%-7s %-7s %5d  %-24s id=%s\n", class_name(o->klass), kind_name(o->kind),
		       o->bits, o->label, hex);
		if (o->klass == CKO_PRIVATE_KEY)
			printf("        sensitive=%s extractable=%s always-sensitive=%s "
			       "never-extractable=%s local=%s\n",
			       tri(o->sensitive), tri(o->extractable), tri(o->always_sensitive),
			       tri(o->never_extractable), tri(o->local));
		printf("        %s\n", o->uri ? o->uri : "");
	}
	ret = TOOL_EXIT_OK;
out:
	p11ca_object_list_free(objs, n);
	return ret;
}

struct list_opts {
	const char *token_uri;
	int json;
};

static int list_opt(int id, const char *arg, void *data)
{
	struct list_opts *o = data;

	switch (id) {
	case O_TOKEN: o->token_uri = arg; break;
	case O_JSON: o->json = 1; break;
	default: return TOOL_EXIT_USAGE;
	}
	return TOOL_EXIT_OK;
}

int tool_key_list(int argc, char **argv)
{
	static const struct tool_opt opts[] = {
		{ "token", required_argument, O_TOKEN },
		{ "json", no_argument, O_JSON },
		{ NULL, 0, 0 },
	};
	static const char help[] =
	    "usage: p11ca key list [--token URI] [--json]\n\n"
	    "Lists keys and certificates with their flags and URIs, on one token or\n"
	    "on every token.  Private keys show only after login: without a PIN the\n"
	    "listing has the public objects and says that private keys are hidden.\n";
	struct tool_common c = { 0 };
	struct list_opts o = { 0 };
	int r, ret = TOOL_EXIT_FAIL;
	p11ca_ctx *ctx = NULL;
	p11ca_token *tok;
	json_t *json = NULL;
	size_t i, n;
	CK_RV rv;

	if ((r = tool_parse(argc, argv, opts, help, &c, list_opt, &o)) != TOOL_PARSE_GO)
		return r;
	if (optind != argc) {
		tool_errorf("key list takes no arguments");
		return TOOL_EXIT_USAGE;
	}
	if (o.json && (json = json_array()) == NULL) {
		tool_errorf("out of memory");
		goto out;
	}
	if ((ctx = tool_ctx_open(&c)) == NULL)
		goto out;
	if (o.token_uri != NULL) {
		if ((rv = p11ca_token_find(ctx, o.token_uri, &tok)) != CKR_OK) {
			tool_fail("--token", rv);
			goto out;
		}
		ret = list_token(tok, json);
	} else {
		ret = TOOL_EXIT_OK;
		n = p11ca_token_count(ctx);
		for (i = 0; i < n; i++) {
			tok = p11ca_token_at(ctx, i);
			if (!(p11ca_token_get_info(tok)->flags & CKF_TOKEN_INITIALIZED))
				continue;
			/* a token that fails is reported; the others still list */
			if (list_token(tok, json) != TOOL_EXIT_OK)
				ret = TOOL_EXIT_FAIL;
		}
	}
	/* one document, written at once: what listed, even when a token failed */
	if (json != NULL &&
	    (json_dumpf(json, stdout, JSON_INDENT(2)) != 0 || putchar('\n') == EOF)) {
		tool_errorf("cannot write the listing");
		ret = TOOL_EXIT_FAIL;
	}
out:
	json_decref(json);
	p11ca_ctx_free(ctx);
	return ret;
}

static int yes_opt(int id, const char *arg, void *data)
{
	(void)arg;
	if (id != O_YES)
		return TOOL_EXIT_USAGE;
	*(int *)data = 1;
	return TOOL_EXIT_OK;
}

int tool_key_delete(int argc, char **argv)
{
	static const struct tool_opt opts[] = {
		{ "yes", no_argument, O_YES },
		{ NULL, 0, 0 },
	};
	static const char help[] =
	    "usage: p11ca key delete [--yes] URI\n\n"
	    "Deletes every object the pkcs11: URI names on one token.  Without\n"
	    "type= that is the private key, public key and certificate sharing\n"
	    "the label/id.  The URI must have object= or id=.  Asks first on a\n"
	    "terminal; elsewhere --yes is needed.\n";
	struct tool_common c = { 0 };
	char what[1100];
	p11ca_ctx *ctx;
	size_t n = 0;
	int r, yes = 0;
	CK_RV rv;

	if ((r = tool_parse(argc, argv, opts, help, &c, yes_opt, &yes)) != TOOL_PARSE_GO)
		return r;
	if (optind + 1 != argc) {
		tool_errorf("key delete needs exactly one pkcs11: URI");
		return TOOL_EXIT_USAGE;
	}
	snprintf(what, sizeof(what), "delete every object %s names", argv[optind]);
	if (tool_uri_has_pin_value(argv[optind]))
		snprintf(what, sizeof(what), "delete every object that URI names");
	if ((r = tool_confirm(what, yes)) != TOOL_EXIT_OK)
		return r;
	if ((ctx = tool_ctx_open(&c)) == NULL)
		return TOOL_EXIT_FAIL;
	rv = p11ca_object_delete(ctx, argv[optind], &n);
	p11ca_ctx_free(ctx);
	if (rv != CKR_OK)
		return tool_fail("key delete", rv);
	printf("deleted %zu object%s\n", n, n == 1 ? "" : "s");
	return TOOL_EXIT_OK;
}

static unsigned char *read_all(const char *path, size_t *plen)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	unsigned char *buf = NULL, *nb;
	size_t len = 0, cap = 0, r;

	if (f == NULL)
		return NULL;
	for (;;) {
		if (len == cap) {
			cap = cap ? cap * 2 : 4096;
			if ((nb = realloc(buf, cap)) == NULL) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = nb;
		}
		r = fread(buf + len, 1, cap - len, f);
		len += r;
		if (r == 0)
			break;
	}
	if (f != stdin)
		fclose(f);
	*plen = len;
	return buf;
}

struct sign_opts {
	const char *key_uri, *in, *out, *alg, *digest;
};

static int sign_opt(int id, const char *arg, void *data)
{
	struct sign_opts *o = data;

	switch (id) {
	case O_KEY: o->key_uri = arg; break;
	case O_IN: o->in = arg; break;
	case O_OUT: o->out = arg; break;
	case O_ALG: o->alg = arg; break;
	case O_DIGEST: o->digest = arg; break;
	default: return TOOL_EXIT_USAGE;
	}
	return TOOL_EXIT_OK;
}

int tool_key_sign(int argc, char **argv)
{
	static const struct tool_opt opts[] = {
		{ "key", required_argument, O_KEY },       { "in", required_argument, O_IN },
		{ "out", required_argument, O_OUT },       { "alg", required_argument, O_ALG },
		{ "digest", required_argument, O_DIGEST }, { NULL, 0, 0 },
	};
	static const char help[] =
	    "usage: p11ca key sign --key URI --out FILE [--in FILE]\n"
	    "                      [--alg pkcs1|pss|ecdsa|eddsa] [--digest sha256]\n\n"
	    "Signs the file (default stdin) with the token key, through the p11ca\n"
	    "OpenSSL provider loaded in-process.  The signature is what `openssl dgst\n"
	    "-verify` checks (DER for ECDSA; `pkeyutl -verify -rawin` for Ed25519).\n"
	    "--alg defaults to the key's natural scheme; SHA-1 only when named.\n";
	struct tool_common c = { 0 };
	struct sign_opts o = { .in = "-", .digest = "sha256" };
	unsigned char *msg = NULL, *sig = NULL;
	size_t msglen = 0, siglen = 0;
	int r, ret = TOOL_EXIT_FAIL, eddsa;
	OSSL_LIB_CTX *libctx = NULL;
	EVP_PKEY *pkey = NULL;
	EVP_MD_CTX *mdctx = NULL;
	EVP_PKEY_CTX *pctx = NULL;

	if ((r = tool_parse(argc, argv, opts, help, &c, sign_opt, &o)) != TOOL_PARSE_GO)
		return r;
	if (o.key_uri == NULL || o.out == NULL || optind != argc) {
		tool_errorf("key sign needs --key and --out (see --help)");
		return TOOL_EXIT_USAGE;
	}
	if (o.alg != NULL && strcmp(o.alg, "pkcs1") != 0 && strcmp(o.alg, "pss") != 0 &&
	    strcmp(o.alg, "ecdsa") != 0 && strcmp(o.alg, "eddsa") != 0) {
		tool_errorf("unknown --alg '%s'", o.alg);
		return TOOL_EXIT_USAGE;
	}
	if (EVP_get_digestbyname(o.digest) == NULL) {
		tool_errorf("unknown digest '%s'", o.digest);
		return TOOL_EXIT_USAGE;
	}
	if (strcasecmp(o.digest, "sha1") == 0 || strcasecmp(o.digest, "sha-1") == 0)
		tool_warnf("SHA-1 signatures are weak; use only for legacy peers");
	if ((libctx = tool_ossl_open(&c)) == NULL)
		goto out;
	if ((pkey = tool_ossl_load_key(libctx, o.key_uri)) == NULL) {
		tool_ossl_fail("--key");
		goto out;
	}
	eddsa = EVP_PKEY_is_a(pkey, "ED25519");
	if ((o.alg != NULL && (strcmp(o.alg, "eddsa") == 0) != eddsa) ||
	    (o.alg != NULL && strcmp(o.alg, "ecdsa") == 0 && !EVP_PKEY_is_a(pkey, "EC")) ||
	    (o.alg != NULL && (strcmp(o.alg, "pss") == 0 || strcmp(o.alg, "pkcs1") == 0) &&
	     !EVP_PKEY_is_a(pkey, "RSA"))) {
		tool_errorf("--alg %s does not fit this key", o.alg);
		goto out;
	}
	if ((msg = read_all(o.in, &msglen)) == NULL) {
		tool_errorf("cannot read %s", o.in);
		goto out;
	}
	if ((mdctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestSignInit_ex(mdctx, &pctx, eddsa ? NULL : o.digest, libctx, NULL, pkey,
	                          NULL) != 1 ||
	    (o.alg != NULL && strcmp(o.alg, "pss") == 0 &&
	     (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) <= 0 ||
	      EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) <= 0)) ||
	    EVP_DigestSign(mdctx, NULL, &siglen, msg, msglen) != 1 ||
	    (sig = malloc(siglen)) == NULL ||
	    EVP_DigestSign(mdctx, sig, &siglen, msg, msglen) != 1) {
		tool_ossl_fail("key sign");
		goto out;
	}
	ret = tool_write_atomic(o.out, sig, siglen);
out:
	free(msg);
	free(sig);
	EVP_MD_CTX_free(mdctx);
	EVP_PKEY_free(pkey);
	tool_ossl_close(libctx);
	return ret;
}

static int pubkey_opt(int id, const char *arg, void *data)
{
	if (id != O_OUT)
		return TOOL_EXIT_USAGE;
	*(const char **)data = arg;
	return TOOL_EXIT_OK;
}

int tool_key_pubkey(int argc, char **argv)
{
	static const struct tool_opt opts[] = {
		{ "out", required_argument, O_OUT },
		{ NULL, 0, 0 },
	};
	static const char help[] =
	    "usage: p11ca key pubkey URI [--out FILE]\n\n"
	    "Writes the public key of the key URI names, as PEM: its public-key\n"
	    "object when the token has one (no login), else the private key's.\n";
	struct tool_common c = { 0 };
	const char *out = "-";
	p11ca_ctx *ctx = NULL;
	p11ca_key *key = NULL;
	EVP_PKEY *pub = NULL;
	int r, ret = TOOL_EXIT_FAIL;
	CK_RV rv;

	if ((r = tool_parse(argc, argv, opts, help, &c, pubkey_opt, &out)) != TOOL_PARSE_GO)
		return r;
	if (optind + 1 != argc) {
		tool_errorf("key pubkey needs exactly one pkcs11: URI");
		return TOOL_EXIT_USAGE;
	}
	if ((ctx = tool_ctx_open(&c)) == NULL)
		goto out;
	/* the public-key object, when the URI names one: no login */
	if ((rv = tool_public_object(ctx, argv[optind], &pub)) != CKR_OK) {
		tool_fail("key pubkey", rv);
		goto out;
	}
	if (pub == NULL && (rv = p11ca_key_find(ctx, argv[optind], &key)) != CKR_OK) {
		tool_fail("key pubkey", rv);
		goto out;
	}
	ret = write_pubkey(key, pub, out);
out:
	EVP_PKEY_free(pub);
	p11ca_key_free(key);
	p11ca_ctx_free(ctx);
	return ret;
}

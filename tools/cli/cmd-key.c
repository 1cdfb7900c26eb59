/* cmd-key.c - p11ca key gen | list | delete | sign | pubkey */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <strings.h>

#include "tool.h"

static int write_pubkey(p11ca_key *key, const char *path)
{
	EVP_PKEY *pub = NULL;
	FILE *f;
	CK_RV rv;
	int ok;

	if ((rv = p11ca_key_get_public(key, &pub)) != CKR_OK)
		return tool_fail("reading the public key", rv);
	f = strcmp(path, "-") == 0 ? stdout : fopen(path, "w");
	if (f == NULL) {
		tool_errorf("cannot write %s", path);
		EVP_PKEY_free(pub);
		return TOOL_EXIT_FAIL;
	}
	ok = PEM_write_PUBKEY(f, pub) == 1;
	if (f != stdout)
		ok = (fclose(f) == 0) && ok;
	EVP_PKEY_free(pub);
	if (!ok) {
		tool_errorf("cannot write %s", path);
		return TOOL_EXIT_FAIL;
	}
	return TOOL_EXIT_OK;
}

int tool_key_gen(int argc, char **argv)
{
	enum { O_TOKEN = OPT_FIRST_LOCAL, O_LABEL, O_TYPE, O_FORCE, O_DECRYPT, O_PUBOUT };
	static const struct option opts[] = { TOOL_COMMON_OPTIONS,
		                               { "token", required_argument, NULL, O_TOKEN },
		                               { "label", required_argument, NULL, O_LABEL },
		                               { "type", required_argument, NULL, O_TYPE },
		                               { "force", no_argument, NULL, O_FORCE },
		                               { "decrypt", no_argument, NULL, O_DECRYPT },
		                               { "pubout", required_argument, NULL, O_PUBOUT },
		                               { 0 } };
	struct tool_common c = { 0 };
	const char *token_uri = NULL, *label = NULL, *type = "rsa:2048", *pubout = NULL;
	unsigned flags = 0;
	int opt, ret = TOOL_EXIT_FAIL;
	p11ca_ctx *ctx = NULL;
	p11ca_token *tok;
	p11ca_key *key = NULL;
	CK_RV rv;

	while ((opt = getopt_long(argc, argv, TOOL_SHORT, opts, NULL)) != -1) {
		if (tool_common_opt(&c, opt, optarg))
			continue;
		switch (opt) {
		case O_TOKEN: token_uri = optarg; break;
		case O_LABEL: label = optarg; break;
		case O_TYPE: type = optarg; break;
		case O_FORCE: flags |= P11CA_GEN_FORCE; break;
		case O_DECRYPT: flags |= P11CA_GEN_DECRYPT; break;
		case O_PUBOUT: pubout = optarg; break;
		case OPT_HELP:
			printf("usage: p11ca key gen [--token URI] --label NAME [--type TYPE]\n"
			       "                     [--decrypt] [--force] [--pubout FILE]\n\n"
			       "Generates a key pair on the token.  TYPE: rsa:2048 (default), rsa:3072,\n"
			       "rsa:4096, ec:p256, ec:p384, ec:p521, ed25519.  RSA above 4096 bits needs\n"
			       "--force: 8192-bit keys break SIP TLS peers.  The private key is sensitive,\n"
			       "never extractable, and signs; --decrypt also lets an RSA key decrypt.\n"
			       "CKA_ID is the SHA-1 of the public key (the certificate's SKI).\n"
			       "Prints the key's pkcs11: URI; --pubout writes the public key (PEM).\n");
			return TOOL_EXIT_OK;
		default:
			return TOOL_EXIT_USAGE;
		}
	}
	if (label == NULL || optind != argc) {
		tool_errorf("key gen needs --label (see --help)");
		return TOOL_EXIT_USAGE;
	}
	if ((ctx = tool_ctx_open(&c)) == NULL)
		goto out;
	if ((rv = p11ca_token_find(ctx, token_uri, &tok)) != CKR_OK) {
		tool_fail("--token", rv);
		goto out;
	}
	if ((rv = p11ca_key_generate(tok, type, label, flags, &key)) != CKR_OK) {
		tool_fail("key gen", rv);
		goto out;
	}
	{
		size_t idlen;
		const unsigned char *id = p11ca_key_get_id(key, &idlen);
		char hex[2 * 64 + 1], *uri = p11ca_key_get_uri(key);
		tool_hex(hex, id, idlen > 64 ? 64 : idlen);
		printf("%s\n", uri ? uri : "");
		if (c.verbose)
			fprintf(stderr, "p11ca: generated %s key '%s', id %s\n", type, label, hex);
		free(uri);
	}
	ret = pubout ? write_pubkey(key, pubout) : TOOL_EXIT_OK;
out:
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
	return k == P11CA_KEY_RSA ? "rsa" : k == P11CA_KEY_EC ? "ec" : k == P11CA_KEY_ED25519 ? "ed25519" : "-";
}

static const char *tri(int v)
{
	return v < 0 ? "-" : v ? "yes" : "no";
}

static void json_tri(const char *name, int v)
{
	printf(", \"%s\": %s", name, v < 0 ? "null" : v ? "true" : "false");
}

static int list_token(p11ca_token *t, int json, int *first)
{
	struct p11ca_object_info *objs = NULL;
	size_t n = 0, i;
	CK_RV rv;

	if ((rv = p11ca_token_list_objects(t, &objs, &n)) != CKR_OK)
		return tool_fail("key list", rv);
	for (i = 0; i < n; i++) {
		struct p11ca_object_info *o = &objs[i];
		char hex[2 * 64 + 1];
		tool_hex(hex, o->id, o->id_len);
		if (json) {
			printf("%s\n  {\"token\": ", *first ? "" : ",");
			tool_json_str(stdout, p11ca_token_get_info(t)->label);
			printf(", \"class\": \"%s\", \"type\": \"%s\", \"bits\": %d, \"label\": ",
			       class_name(o->klass), kind_name(o->kind), o->bits);
			tool_json_str(stdout, o->label);
			printf(", \"id\": \"%s\"", hex);
			json_tri("sensitive", o->sensitive);
			json_tri("extractable", o->extractable);
			json_tri("always_sensitive", o->always_sensitive);
			json_tri("never_extractable", o->never_extractable);
			json_tri("local", o->local);
			printf(", \"uri\": ");
			tool_json_str(stdout, o->uri ? o->uri : "");
			printf("}");
		} else {
			printf("%-7s %-7s %5d  %-24s id=%s\n", class_name(o->klass), kind_name(o->kind),
			       o->bits, o->label, hex);
			if (o->klass == CKO_PRIVATE_KEY)
				printf("        sensitive=%s extractable=%s always-sensitive=%s "
				       "never-extractable=%s local=%s\n",
				       tri(o->sensitive), tri(o->extractable), tri(o->always_sensitive),
				       tri(o->never_extractable), tri(o->local));
			printf("        %s\n", o->uri ? o->uri : "");
		}
		*first = 0;
	}
	p11ca_object_list_free(objs, n);
	return TOOL_EXIT_OK;
}

int tool_key_list(int argc, char **argv)
{
	enum { O_TOKEN = OPT_FIRST_LOCAL, O_JSON };
	static const struct option opts[] = { TOOL_COMMON_OPTIONS,
		                               { "token", required_argument, NULL, O_TOKEN },
		                               { "json", no_argument, NULL, O_JSON },
		                               { 0 } };
	struct tool_common c = { 0 };
	const char *token_uri = NULL;
	int opt, json = 0, first = 1, ret = TOOL_EXIT_FAIL;
	p11ca_ctx *ctx = NULL;
	p11ca_token *tok;
	size_t i, n;
	CK_RV rv;

	while ((opt = getopt_long(argc, argv, TOOL_SHORT, opts, NULL)) != -1) {
		if (tool_common_opt(&c, opt, optarg))
			continue;
		switch (opt) {
		case O_TOKEN: token_uri = optarg; break;
		case O_JSON: json = 1; break;
		case OPT_HELP:
			printf("usage: p11ca key list [--token URI] [--json]\n\n"
			       "Lists keys and certificates with their flags and URIs, on one token or\n"
			       "on every token.  Private keys show only after login.\n");
			return TOOL_EXIT_OK;
		default:
			return TOOL_EXIT_USAGE;
		}
	}
	if (optind != argc) {
		tool_errorf("key list takes no arguments");
		return TOOL_EXIT_USAGE;
	}
	if ((ctx = tool_ctx_open(&c)) == NULL)
		goto out;
	if (json)
		printf("[");
	if (token_uri != NULL) {
		if ((rv = p11ca_token_find(ctx, token_uri, &tok)) != CKR_OK) {
			tool_fail("--token", rv);
			goto out;
		}
		ret = list_token(tok, json, &first);
	} else {
		ret = TOOL_EXIT_OK;
		n = p11ca_token_count(ctx);
		for (i = 0; i < n; i++) {
			tok = p11ca_token_at(ctx, i);
			if (!(p11ca_token_get_info(tok)->flags & CKF_TOKEN_INITIALIZED))
				continue;
			if (list_token(tok, json, &first) != TOOL_EXIT_OK)
				ret = TOOL_EXIT_FAIL;
		}
	}
	if (json)
		printf("%s]\n", first ? "" : "\n");
out:
	p11ca_ctx_free(ctx);
	return ret;
}

int tool_key_delete(int argc, char **argv)
{
	static const struct option opts[] = { TOOL_COMMON_OPTIONS, { 0 } };
	struct tool_common c = { 0 };
	p11ca_ctx *ctx;
	size_t n = 0;
	int opt;
	CK_RV rv;

	while ((opt = getopt_long(argc, argv, TOOL_SHORT, opts, NULL)) != -1) {
		if (tool_common_opt(&c, opt, optarg))
			continue;
		if (opt == OPT_HELP) {
			printf("usage: p11ca key delete URI\n\n"
			       "Deletes every object the pkcs11: URI names on one token.  Without\n"
			       "type= that is the private key, public key and certificate sharing\n"
			       "the label/id.  The URI must have object= or id=.\n");
			return TOOL_EXIT_OK;
		}
		return TOOL_EXIT_USAGE;
	}
	if (optind + 1 != argc) {
		tool_errorf("key delete needs exactly one pkcs11: URI");
		return TOOL_EXIT_USAGE;
	}
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

int tool_key_sign(int argc, char **argv)
{
	enum { O_KEY = OPT_FIRST_LOCAL, O_IN, O_OUT, O_ALG, O_DIGEST };
	static const struct option opts[] = { TOOL_COMMON_OPTIONS,
		                               { "key", required_argument, NULL, O_KEY },
		                               { "in", required_argument, NULL, O_IN },
		                               { "out", required_argument, NULL, O_OUT },
		                               { "alg", required_argument, NULL, O_ALG },
		                               { "digest", required_argument, NULL, O_DIGEST },
		                               { 0 } };
	struct tool_common c = { 0 };
	const char *key_uri = NULL, *in = "-", *out = NULL, *alg = NULL, *digest = "sha256";
	unsigned char *msg = NULL, *sig = NULL;
	size_t msglen = 0, siglen = 0;
	int opt, ret = TOOL_EXIT_FAIL, eddsa;
	OSSL_LIB_CTX *libctx = NULL;
	EVP_PKEY *pkey = NULL;
	EVP_MD_CTX *mdctx = NULL;
	EVP_PKEY_CTX *pctx = NULL;
	FILE *f = NULL;

	while ((opt = getopt_long(argc, argv, TOOL_SHORT, opts, NULL)) != -1) {
		if (tool_common_opt(&c, opt, optarg))
			continue;
		switch (opt) {
		case O_KEY: key_uri = optarg; break;
		case O_IN: in = optarg; break;
		case O_OUT: out = optarg; break;
		case O_ALG: alg = optarg; break;
		case O_DIGEST: digest = optarg; break;
		case OPT_HELP:
			printf("usage: p11ca key sign --key URI --out FILE [--in FILE]\n"
			       "                      [--alg pkcs1|pss|ecdsa|eddsa] [--digest sha256]\n\n"
			       "Signs the file (default stdin) with the token key, through the p11ca\n"
			       "OpenSSL provider loaded in-process.  The signature is what `openssl dgst\n"
			       "-verify` checks (DER for ECDSA; `pkeyutl -verify -rawin` for Ed25519).\n"
			       "--alg defaults to the key's natural scheme; SHA-1 only when named.\n");
			return TOOL_EXIT_OK;
		default:
			return TOOL_EXIT_USAGE;
		}
	}
	if (key_uri == NULL || out == NULL || optind != argc) {
		tool_errorf("key sign needs --key and --out (see --help)");
		return TOOL_EXIT_USAGE;
	}
	if (alg != NULL && strcmp(alg, "pkcs1") != 0 && strcmp(alg, "pss") != 0 &&
	    strcmp(alg, "ecdsa") != 0 && strcmp(alg, "eddsa") != 0) {
		tool_errorf("unknown --alg '%s'", alg);
		return TOOL_EXIT_USAGE;
	}
	if (EVP_get_digestbyname(digest) == NULL) {
		tool_errorf("unknown digest '%s'", digest);
		return TOOL_EXIT_USAGE;
	}
	if (strcasecmp(digest, "sha1") == 0 || strcasecmp(digest, "sha-1") == 0)
		tool_warnf("SHA-1 signatures are weak; use only for legacy peers");
	if ((libctx = tool_ossl_open(&c)) == NULL)
		goto out;
	if ((pkey = tool_ossl_load_key(libctx, key_uri)) == NULL) {
		tool_ossl_fail("--key");
		goto out;
	}
	eddsa = EVP_PKEY_is_a(pkey, "ED25519");
	if ((alg != NULL && (strcmp(alg, "eddsa") == 0) != eddsa) ||
	    (alg != NULL && strcmp(alg, "ecdsa") == 0 && !EVP_PKEY_is_a(pkey, "EC")) ||
	    (alg != NULL && (strcmp(alg, "pss") == 0 || strcmp(alg, "pkcs1") == 0) &&
	     !EVP_PKEY_is_a(pkey, "RSA"))) {
		tool_errorf("--alg %s does not fit this key", alg);
		goto out;
	}
	if ((msg = read_all(in, &msglen)) == NULL) {
		tool_errorf("cannot read %s", in);
		goto out;
	}
	if ((mdctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestSignInit_ex(mdctx, &pctx, eddsa ? NULL : digest, libctx, NULL, pkey, NULL) != 1 ||
	    (alg != NULL && strcmp(alg, "pss") == 0 &&
	     (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) <= 0 ||
	      EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) <= 0)) ||
	    EVP_DigestSign(mdctx, NULL, &siglen, msg, msglen) != 1 ||
	    (sig = malloc(siglen)) == NULL ||
	    EVP_DigestSign(mdctx, sig, &siglen, msg, msglen) != 1) {
		tool_ossl_fail("key sign");
		goto out;
	}
	if ((f = fopen(out, "wb")) == NULL || fwrite(sig, 1, siglen, f) != siglen) {
		tool_errorf("cannot write %s", out);
		goto out;
	}
	ret = TOOL_EXIT_OK;
out:
	if (f != NULL && fclose(f) != 0)
		ret = TOOL_EXIT_FAIL;
	free(msg);
	free(sig);
	EVP_MD_CTX_free(mdctx);
	EVP_PKEY_free(pkey);
	tool_ossl_close(libctx);
	return ret;
}

int tool_key_pubkey(int argc, char **argv)
{
	enum { O_OUT = OPT_FIRST_LOCAL };
	static const struct option opts[] = { TOOL_COMMON_OPTIONS,
		                               { "out", required_argument, NULL, O_OUT }, { 0 } };
	struct tool_common c = { 0 };
	const char *out = "-";
	p11ca_ctx *ctx = NULL;
	p11ca_key *key = NULL;
	int opt, ret = TOOL_EXIT_FAIL;
	CK_RV rv;

	while ((opt = getopt_long(argc, argv, TOOL_SHORT, opts, NULL)) != -1) {
		if (tool_common_opt(&c, opt, optarg))
			continue;
		if (opt == O_OUT) {
			out = optarg;
			continue;
		}
		if (opt == OPT_HELP) {
			printf("usage: p11ca key pubkey URI [--out FILE]\n\n"
			       "Writes the public key of the private key URI names, as PEM.\n");
			return TOOL_EXIT_OK;
		}
		return TOOL_EXIT_USAGE;
	}
	if (optind + 1 != argc) {
		tool_errorf("key pubkey needs exactly one pkcs11: URI");
		return TOOL_EXIT_USAGE;
	}
	if ((ctx = tool_ctx_open(&c)) == NULL)
		goto out;
	if ((rv = p11ca_key_find(ctx, argv[optind], &key)) != CKR_OK) {
		tool_fail("key pubkey", rv);
		goto out;
	}
	ret = write_pubkey(key, out);
out:
	p11ca_key_free(key);
	p11ca_ctx_free(ctx);
	return ret;
}

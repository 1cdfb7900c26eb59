/*
 * keygen.c - key generation through the key management (EVP_PKEY_keygen,
 * openssl genpkey), and the software keys TLS makes for its key shares.
 *
 * With the parameter "pkcs11_uri" (latchset/pkcs11-provider's name) the key
 * pair is made on the token the URI names, labelled with its object=, by
 * p11ca_key_generate(): the same invariants as 'p11ca key gen'.  Without it
 * an EC key is an ephemeral software key of the default provider (key
 * NULL, pub the whole key): what TLS asks for when "?provider=p11ca" makes
 * this key management the preferred one.  RSA and Ed25519 keys are made on
 * a token only.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/rsa.h>
#include <p11-kit/uri.h>

#include "provider.h"

#define GEN_PARAM_URI       "pkcs11_uri"
#define GEN_PARAM_KEY_USAGE "pkcs11_key_usage"

struct genctx {
	struct p11ca_prov *prov;
	enum p11ca_prov_keytype type;
	int selection;
	char *uri;
	const char *group; /* OpenSSL's name of the curve (static) */
	size_t bits;       /* RSA */
	unsigned flags;    /* P11CA_GEN_DECRYPT, P11CA_GEN_DERIVE */
};

/* The curves p11ca makes keys on: every name OpenSSL or a user gives them. */
static const struct {
	const char *names[4];
	const char *group; /* OpenSSL's */
	const char *spec;  /* p11ca_key_generate's */
} curves[] = {
	{ { "prime256v1", "P-256", "secp256r1", NULL }, "prime256v1", "ec:p256" },
	{ { "secp384r1", "P-384", NULL, NULL }, "secp384r1", "ec:p384" },
	{ { "secp521r1", "P-521", NULL, NULL }, "secp521r1", "ec:p521" },
};

static const char *curve_group(const char *name)
{
	size_t i, j;

	for (i = 0; i < sizeof(curves) / sizeof(curves[0]); i++)
		for (j = 0; j < 4 && curves[i].names[j] != NULL; j++)
			if (strcasecmp(name, curves[i].names[j]) == 0)
				return curves[i].group;
	return NULL;
}

static const char *curve_spec(const char *group)
{
	size_t i;

	for (i = 0; i < sizeof(curves) / sizeof(curves[0]); i++)
		if (strcmp(group, curves[i].group) == 0)
			return curves[i].spec;
	return NULL;
}

void *p11ca_prov_gen_init(struct p11ca_prov *prov, enum p11ca_prov_keytype type, int selection,
                          const OSSL_PARAM params[])
{
	struct genctx *g;

	if (type == P11CA_PK_RSA_PSS) {
		/* a PSS-only key is a matter of CKA_ALLOWED_MECHANISMS, not made here */
		P11CA_PROV_RAISE(prov, P11CA_PROV_R_BAD_PARAM,
		                 "RSA-PSS keys are not generated through OpenSSL: generate an RSA "
		                 "key (-algorithm RSA), it signs with PSS too");
		return NULL;
	}
	if ((g = calloc(1, sizeof(*g))) == NULL)
		return NULL;
	g->prov = prov;
	g->type = type;
	g->selection = selection;
	g->bits = 2048;
	if (!p11ca_prov_gen_set_params(g, params)) {
		p11ca_prov_gen_cleanup(g);
		return NULL;
	}
	return g;
}

void p11ca_prov_gen_cleanup(void *genctx)
{
	struct genctx *g = genctx;

	if (g == NULL)
		return;
	if (g->uri != NULL)
		OPENSSL_clear_free(g->uri, strlen(g->uri)); /* it may hold a pin-value */
	free(g);
}

/* "digitalSignature keyEncipherment ..." (pkcs11_key_usage) into flags. */
static int key_usage(struct genctx *g, const char *s)
{
	char word[32];
	size_t n;

	g->flags = 0;
	while (*s != '\0') {
		s += strspn(s, " ,");
		if ((n = strcspn(s, " ,")) == 0)
			break;
		if (n >= sizeof(word)) {
			memcpy(word, s, sizeof(word) - 1);
			word[sizeof(word) - 1] = '\0';
			goto bad;
		}
		memcpy(word, s, n);
		word[n] = '\0';
		s += n;
		if (strcmp(word, "digitalSignature") == 0 || strcmp(word, "nonRepudiation") == 0)
			continue; /* every key signs */
		if ((strcmp(word, "keyEncipherment") == 0 ||
		     strcmp(word, "dataEncipherment") == 0) &&
		    g->type == P11CA_PK_RSA)
			g->flags |= P11CA_GEN_DECRYPT;
		else if ((strcmp(word, "keyAgreement") == 0 || strcmp(word, "derive") == 0) &&
		         g->type == P11CA_PK_EC)
			g->flags |= P11CA_GEN_DERIVE;
		else
			goto bad;
	}
	return RET_OSSL_OK;
bad:
	P11CA_PROV_RAISE(g->prov, P11CA_PROV_R_BAD_PARAM,
	                 "%s: '%.40s' is not for %s keys (digitalSignature, %s)",
	                 GEN_PARAM_KEY_USAGE, word, p11ca_prov_key_type_name(g->type),
	                 g->type == P11CA_PK_RSA  ? "keyEncipherment"
	                 : g->type == P11CA_PK_EC ? "keyAgreement"
	                                          : "nothing else");
	return RET_OSSL_ERR;
}

int p11ca_prov_gen_set_params(void *genctx, const OSSL_PARAM params[])
{
	struct genctx *g = genctx;
	const OSSL_PARAM *p;
	const char *s;
	BIGNUM *e = NULL;
	size_t n;

	if (g == NULL)
		return RET_OSSL_ERR;
	if (params == NULL)
		return RET_OSSL_OK;
	if ((p = OSSL_PARAM_locate_const(params, GEN_PARAM_URI)) != NULL) {
		char *copy;
		if (!OSSL_PARAM_get_utf8_string_ptr(p, &s) || (copy = strdup(s)) == NULL) {
			P11CA_PROV_RAISE(g->prov, P11CA_PROV_R_BAD_PARAM, "%s: not a string",
			                 GEN_PARAM_URI);
			return RET_OSSL_ERR;
		}
		if (g->uri != NULL)
			OPENSSL_clear_free(g->uri, strlen(g->uri));
		g->uri = copy;
	}
	if ((p = OSSL_PARAM_locate_const(params, GEN_PARAM_KEY_USAGE)) != NULL &&
	    (!OSSL_PARAM_get_utf8_string_ptr(p, &s) || !key_usage(g, s)))
		return RET_OSSL_ERR;
	if (g->type == P11CA_PK_EC &&
	    (p = OSSL_PARAM_locate_const(params, OSSL_PKEY_PARAM_GROUP_NAME)) != NULL) {
		if (!OSSL_PARAM_get_utf8_string_ptr(p, &s) || (g->group = curve_group(s)) == NULL) {
			P11CA_PROV_RAISE(
			    g->prov, P11CA_PROV_R_BAD_PARAM,
			    "curve '%.40s': p11ca makes EC keys on P-256, P-384 and P-521",
			    OSSL_PARAM_get_utf8_string_ptr(p, &s) ? s : "?");
			return RET_OSSL_ERR;
		}
	}
	if (g->type == P11CA_PK_EC &&
	    (p = OSSL_PARAM_locate_const(params, OSSL_PKEY_PARAM_EC_ENCODING)) != NULL &&
	    (!OSSL_PARAM_get_utf8_string_ptr(p, &s) ||
	     strcmp(s, OSSL_PKEY_EC_ENCODING_GROUP) != 0)) {
		P11CA_PROV_RAISE(g->prov, P11CA_PROV_R_BAD_PARAM,
		                 "EC keys have named curves only (no explicit parameters)");
		return RET_OSSL_ERR;
	}
	if (g->type == P11CA_PK_RSA) {
		if ((p = OSSL_PARAM_locate_const(params, OSSL_PKEY_PARAM_RSA_BITS)) != NULL) {
			if (!OSSL_PARAM_get_size_t(p, &n)) {
				P11CA_PROV_RAISE(g->prov, P11CA_PROV_R_BAD_PARAM,
				                 "bad RSA key size");
				return RET_OSSL_ERR;
			}
			g->bits = n; /* p11ca_key_generate says what it refuses */
		}
		if ((p = OSSL_PARAM_locate_const(params, OSSL_PKEY_PARAM_RSA_PRIMES)) != NULL &&
		    (!OSSL_PARAM_get_size_t(p, &n) || n != 2)) {
			P11CA_PROV_RAISE(g->prov, P11CA_PROV_R_BAD_PARAM,
			                 "RSA keys on a token have two primes");
			return RET_OSSL_ERR;
		}
		if ((p = OSSL_PARAM_locate_const(params, OSSL_PKEY_PARAM_RSA_E)) != NULL) {
			int ok = OSSL_PARAM_get_BN(p, &e) && BN_is_word(e, RSA_F4);
			BN_free(e);
			if (!ok) {
				P11CA_PROV_RAISE(
				    g->prov, P11CA_PROV_R_BAD_PARAM,
				    "RSA keys on a token have the public exponent 65537");
				return RET_OSSL_ERR;
			}
		}
	}
	return RET_OSSL_OK;
}

const OSSL_PARAM *p11ca_prov_gen_settable_params(enum p11ca_prov_keytype type)
{
	static const OSSL_PARAM rsa[] = {
		OSSL_PARAM_utf8_string(GEN_PARAM_URI, NULL, 0),
		OSSL_PARAM_utf8_string(GEN_PARAM_KEY_USAGE, NULL, 0),
		OSSL_PARAM_size_t(OSSL_PKEY_PARAM_RSA_BITS, NULL),
		OSSL_PARAM_size_t(OSSL_PKEY_PARAM_RSA_PRIMES, NULL),
		OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_E, NULL, 0),
		OSSL_PARAM_END,
	};
	static const OSSL_PARAM ec[] = {
		OSSL_PARAM_utf8_string(GEN_PARAM_URI, NULL, 0),
		OSSL_PARAM_utf8_string(GEN_PARAM_KEY_USAGE, NULL, 0),
		OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, NULL, 0),
		OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_EC_ENCODING, NULL, 0),
		OSSL_PARAM_END,
	};
	static const OSSL_PARAM ed[] = {
		OSSL_PARAM_utf8_string(GEN_PARAM_URI, NULL, 0),
		OSSL_PARAM_utf8_string(GEN_PARAM_KEY_USAGE, NULL, 0),
		OSSL_PARAM_END,
	};
	switch (type) {
	case P11CA_PK_RSA:
	case P11CA_PK_RSA_PSS: return rsa;
	case P11CA_PK_EC: return ec;
	case P11CA_PK_ED25519: return ed;
	}
	return NULL;
}

/* TLS makes its key share like the peer's: an EC template gives its curve. */
int p11ca_prov_gen_set_template(void *genctx, void *templ)
{
	struct genctx *g = genctx;
	struct p11ca_prov_key *t = templ;
	char name[64];
	const char *group = NULL;

	if (g == NULL || t == NULL || g->type != P11CA_PK_EC || t->type != P11CA_PK_EC)
		return RET_OSSL_OK;
	if (t->pub != NULL && EVP_PKEY_get_utf8_string_param(t->pub, OSSL_PKEY_PARAM_GROUP_NAME,
	                                                     name, sizeof(name), NULL) == 1)
		group = curve_group(name);
	else if (t->key != NULL && p11ca_key_get_group(t->key) != NULL)
		group = curve_group(p11ca_key_get_group(t->key));
	if (group == NULL) {
		P11CA_PROV_RAISE(g->prov, P11CA_PROV_R_BAD_PARAM, "the template key has no curve");
		return RET_OSSL_ERR;
	}
	g->group = group;
	return RET_OSSL_OK;
}

/* An ephemeral software EC key (or its parameters), never on a token. */
static struct p11ca_prov_key *gen_software(struct genctx *g)
{
	int pair = (g->selection & OSSL_KEYMGMT_SELECT_KEYPAIR) != 0;
	EVP_PKEY_CTX *pctx = NULL;
	EVP_PKEY *pkey = NULL;

	if (g->type != P11CA_PK_EC) {
		P11CA_PROV_RAISE(g->prov, P11CA_PROV_R_BAD_PARAM,
		                 "%s keys are made on a token: give -pkeyopt "
		                 "%s:pkcs11:token=...;object=LABEL",
		                 p11ca_prov_key_type_name(g->type), GEN_PARAM_URI);
		return NULL;
	}
	if (g->group == NULL) {
		P11CA_PROV_RAISE(g->prov, P11CA_PROV_R_BAD_PARAM,
		                 "no curve given (-pkeyopt ec_paramgen_curve:P-256)");
		return NULL;
	}
	pctx = EVP_PKEY_CTX_new_from_name(g->prov->libctx, "EC", P11CA_PROV_PROPQ);
	if (pctx == NULL ||
	    (pair ? EVP_PKEY_keygen_init(pctx) : EVP_PKEY_paramgen_init(pctx)) != 1 ||
	    EVP_PKEY_CTX_set_group_name(pctx, g->group) != 1 ||
	    (pair ? EVP_PKEY_keygen(pctx, &pkey) : EVP_PKEY_paramgen(pctx, &pkey)) != 1) {
		P11CA_PROV_RAISE(g->prov, P11CA_PROV_R_OPENSSL, "cannot make an EC %s on %s",
		                 pair ? "key" : "parameter set", g->group);
		EVP_PKEY_CTX_free(pctx);
		return NULL;
	}
	EVP_PKEY_CTX_free(pctx);
	return p11ca_prov_key_new(g->prov, P11CA_PK_EC, NULL, pkey);
}

/* The object= of @uristr, checked to name a new key: *plabel freed with free(). */
static int uri_label(struct genctx *g, const char *uristr, char **plabel)
{
	P11KitUri *uri = p11_kit_uri_new();
	CK_ATTRIBUTE *a;
	const char *pv;
	int ret = RET_OSSL_ERR;

	*plabel = NULL;
	if (uri == NULL || p11_kit_uri_parse(uristr, P11_KIT_URI_FOR_ANY, uri) != P11_KIT_URI_OK) {
		P11CA_PROV_RAISE(g->prov, P11CA_PROV_R_BAD_PARAM, "%s: malformed pkcs11: URI",
		                 GEN_PARAM_URI);
		goto out;
	}
	if ((a = p11_kit_uri_get_attribute(uri, CKA_CLASS)) != NULL &&
	    (a->ulValueLen != sizeof(CK_OBJECT_CLASS) ||
	     *(CK_OBJECT_CLASS *)a->pValue != CKO_PRIVATE_KEY)) {
		P11CA_PROV_RAISE(g->prov, P11CA_PROV_R_BAD_PARAM,
		                 "%s names the new key pair: type= can only be private",
		                 GEN_PARAM_URI);
		goto out;
	}
	if (p11_kit_uri_get_attribute(uri, CKA_ID) != NULL) {
		P11CA_PROV_RAISE(g->prov, P11CA_PROV_R_BAD_PARAM,
		                 "%s: id= cannot be chosen: a new key's CKA_ID is the SHA-1 of "
		                 "its public key (its certificates' subjectKeyIdentifier); name "
		                 "it with object= only",
		                 GEN_PARAM_URI);
		goto out;
	}
	a = p11_kit_uri_get_attribute(uri, CKA_LABEL);
	if (a == NULL || a->ulValueLen == 0 || memchr(a->pValue, '\0', a->ulValueLen) != NULL) {
		P11CA_PROV_RAISE(g->prov, P11CA_PROV_R_BAD_PARAM,
		                 "%s needs object=LABEL, the new key's label "
		                 "(pkcs11:token=...;object=LABEL)",
		                 GEN_PARAM_URI);
		goto out;
	}
	if ((*plabel = strndup(a->pValue, a->ulValueLen)) == NULL)
		goto out;
	ret = RET_OSSL_OK;
out:
	if (uri != NULL) {
		/* p11-kit frees a pin-value without wiping it */
		if ((pv = p11_kit_uri_get_pin_value(uri)) != NULL)
			OPENSSL_cleanse((char *)pv, strlen(pv));
		p11_kit_uri_free(uri);
	}
	return ret;
}

/* A key pair on the token @g->uri names, as 'p11ca key gen' makes it. */
static struct p11ca_prov_key *gen_token(struct genctx *g)
{
	struct p11ca_prov_key *k = NULL;
	p11ca_token *tok = NULL;
	p11ca_key *key = NULL;
	EVP_PKEY *pub = NULL;
	p11ca_ctx *p11;
	char spec[32], *label = NULL;
	CK_RV rv;

	if (!(g->selection & OSSL_KEYMGMT_SELECT_KEYPAIR)) {
		P11CA_PROV_RAISE(g->prov, P11CA_PROV_R_BAD_PARAM,
		                 "%s is for key pairs (genpkey without -genparam)", GEN_PARAM_URI);
		return NULL;
	}
	switch (g->type) {
	case P11CA_PK_RSA:
		if (g->bits > 4096) {
			/* p11ca_key_generate() would point at an option genpkey lacks */
			P11CA_PROV_RAISE(
			    g->prov, P11CA_PROV_R_BAD_PARAM,
			    "RSA-%zu refused: keys above 4096 bits (such as 8192) break "
			    "SIP TLS peers and certificate upload on conferencing "
			    "servers; 'p11ca key gen --type rsa:%zu --force' makes one "
			    "anyway",
			    g->bits, g->bits);
			return NULL;
		}
		snprintf(spec, sizeof(spec), "rsa:%zu", g->bits);
		break;
	case P11CA_PK_EC:
		if (g->group == NULL) {
			P11CA_PROV_RAISE(g->prov, P11CA_PROV_R_BAD_PARAM,
			                 "no curve given (-pkeyopt ec_paramgen_curve:P-256)");
			return NULL;
		}
		snprintf(spec, sizeof(spec), "%s", curve_spec(g->group));
		break;
	case P11CA_PK_ED25519: snprintf(spec, sizeof(spec), "ed25519"); break;
	default: return NULL;
	}
	if (!uri_label(g, g->uri, &label) || (p11 = p11ca_prov_p11(g->prov)) == NULL)
		goto out;
	if ((rv = p11ca_token_find(p11, g->uri, &tok)) != CKR_OK ||
	    (rv = p11ca_key_generate(tok, spec, label, g->flags, &key)) != CKR_OK ||
	    (rv = p11ca_key_get_public(key, &pub)) != CKR_OK) {
		P11CA_PROV_RAISE_RV(g->prov, rv);
		goto out;
	}
	k = p11ca_prov_key_new(g->prov, g->type, key, pub);
	key = NULL; /* transferred */
	if (k != NULL)
		k->generated = 1;
out:
	p11ca_key_free(key);
	free(label);
	return k;
}

void *p11ca_prov_gen(void *genctx, OSSL_CALLBACK *cb, void *cbarg)
{
	struct genctx *g = genctx;

	if (g == NULL)
		return NULL;
	return g->uri != NULL ? gen_token(g) : gen_software(g);
}

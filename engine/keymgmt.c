/*
 * keymgmt.c - key management for token keys: RSA, RSA-PSS, EC, Ed25519.
 * A key is a reference to a private key on a token plus its public half,
 * kept as another provider's EVP_PKEY.  Only public parts are ever exported.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <openssl/param_build.h>

#include "provider.h"

struct p11ca_prov_key *p11ca_prov_key_new(struct p11ca_prov *prov, enum p11ca_prov_keytype type,
                                          p11ca_key *key, EVP_PKEY *pub)
{
	struct p11ca_prov_key *k = calloc(1, sizeof(*k));

	if (k == NULL) {
		p11ca_key_free(key);
		EVP_PKEY_free(pub);
		return NULL;
	}
	k->refs = 1;
	k->prov = prov;
	k->type = type;
	k->key = key;
	k->pub = pub;
	return k;
}

struct p11ca_prov_key *p11ca_prov_key_ref(struct p11ca_prov_key *k)
{
	if (k != NULL)
		__atomic_add_fetch(&k->refs, 1, __ATOMIC_ACQ_REL);
	return k;
}

void p11ca_prov_key_free(struct p11ca_prov_key *k)
{
	if (k == NULL || __atomic_sub_fetch(&k->refs, 1, __ATOMIC_ACQ_REL) != 0)
		return;
	p11ca_key_free(k->key);
	EVP_PKEY_free(k->pub);
	free(k);
}

const char *p11ca_prov_key_type_name(enum p11ca_prov_keytype type)
{
	switch (type) {
	case P11CA_PK_RSA: return "RSA";
	case P11CA_PK_RSA_PSS: return "RSA-PSS";
	case P11CA_PK_EC: return "EC";
	case P11CA_PK_ED25519: return "ED25519";
	}
	return "";
}

enum p11ca_prov_keytype p11ca_prov_keytype_of(p11ca_key *key, EVP_PKEY *pub)
{
	if (pub != NULL) {
		if (EVP_PKEY_is_a(pub, "RSA-PSS"))
			return P11CA_PK_RSA_PSS;
		if (EVP_PKEY_is_a(pub, "RSA"))
			return P11CA_PK_RSA;
		if (EVP_PKEY_is_a(pub, "EC"))
			return P11CA_PK_EC;
		if (EVP_PKEY_is_a(pub, "ED25519"))
			return P11CA_PK_ED25519;
	}
	if (key != NULL) {
		switch (p11ca_key_get_kind(key)) {
		case P11CA_KEY_RSA:
			return p11ca_key_pss_only(key) ? P11CA_PK_RSA_PSS : P11CA_PK_RSA;
		case P11CA_KEY_EC: return P11CA_PK_EC;
		case P11CA_KEY_ED25519: return P11CA_PK_ED25519;
		default: break;
		}
	}
	return 0;
}

/* ---- common callbacks, instantiated per key type below ---- */

static void *km_new(struct p11ca_prov *prov, enum p11ca_prov_keytype type)
{
	return p11ca_prov_key_new(prov, type, NULL, NULL);
}

static void km_free(void *keydata)
{
	p11ca_prov_key_free(keydata);
}

/* The store hands us a pointer to a key it holds a reference to. */
static void *km_load(const void *reference, size_t size, enum p11ca_prov_keytype type)
{
	struct p11ca_prov_key *k;

	if (reference == NULL || size != sizeof(k))
		return NULL;
	memcpy(&k, reference, sizeof(k));
	if (k == NULL || k->type != type)
		return NULL;
	return p11ca_prov_key_ref(k);
}

static int km_has(const void *keydata, int selection)
{
	const struct p11ca_prov_key *k = keydata;

	if (k == NULL)
		return 0;
	if ((selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY) && k->key == NULL)
		return 0;
	if ((selection &
	     (OSSL_KEYMGMT_SELECT_PUBLIC_KEY | OSSL_KEYMGMT_SELECT_DOMAIN_PARAMETERS)) &&
	    k->pub == NULL)
		return 0;
	return 1;
}

/*
 * A token key without a public half meets a public key (its certificate's):
 * it is the same key when the public key's SHA-1 identifier is the token
 * key's CKA_ID (as p11ca and most tools make it).  The key then keeps that
 * public half.
 */
static int adopt_public(struct p11ca_prov_key *tk, const struct p11ca_prov_key *other)
{
	unsigned char kid[20];
	const unsigned char *id;
	size_t idlen;
	int same;

	if (tk->key == NULL || other->pub == NULL)
		return 0;
	id = p11ca_key_get_id(tk->key, &idlen);
	same = p11ca_pubkey_key_id(other->pub, kid) == CKR_OK && idlen == sizeof(kid) &&
	       memcmp(id, kid, idlen) == 0;
	if (same && EVP_PKEY_up_ref(other->pub) == 1) {
		EVP_PKEY *old = NULL;
		/* first one wins; concurrent matches adopt the same key */
		if (!__atomic_compare_exchange_n(&tk->pub, &old, other->pub, 0, __ATOMIC_ACQ_REL,
		                                 __ATOMIC_ACQUIRE))
			EVP_PKEY_free(other->pub);
	}
	return same;
}

static int km_match(const void *a, const void *b, int selection)
{
	struct p11ca_prov_key *k1 = (void *)a, *k2 = (void *)b;

	if (k1->type != k2->type)
		return 0;
	if (k1->pub == NULL && k2->pub != NULL)
		return adopt_public(k1, k2);
	if (k2->pub == NULL && k1->pub != NULL)
		return adopt_public(k2, k1);
	if (k1->pub == NULL || k2->pub == NULL)
		return 0;
	/* private halves cannot be compared; a token key is one with its
	 * public half, so the public keys decide */
	if (selection & OSSL_KEYMGMT_SELECT_KEYPAIR)
		return EVP_PKEY_eq(k1->pub, k2->pub) == 1;
	if (selection & OSSL_KEYMGMT_SELECT_DOMAIN_PARAMETERS)
		return EVP_PKEY_parameters_eq(k1->pub, k2->pub) == 1;
	return 1;
}

/* What a token key without a public half can still say about itself. */
static int token_params(struct p11ca_prov_key *k, OSSL_PARAM params[])
{
	int bits = p11ca_key_get_bits(k->key);
	int sec = k->type == P11CA_PK_RSA || k->type == P11CA_PK_RSA_PSS
	              ? BN_security_bits(bits, -1)
	          : k->type == P11CA_PK_ED25519 ? 128
	                                        : bits / 2;
	OSSL_PARAM *p;

	if ((p = OSSL_PARAM_locate(params, OSSL_PKEY_PARAM_BITS)) != NULL &&
	    !OSSL_PARAM_set_int(p, bits))
		return RET_OSSL_ERR;
	if ((p = OSSL_PARAM_locate(params, OSSL_PKEY_PARAM_SECURITY_BITS)) != NULL &&
	    !OSSL_PARAM_set_int(p, sec))
		return RET_OSSL_ERR;
	if ((p = OSSL_PARAM_locate(params, OSSL_PKEY_PARAM_MAX_SIZE)) != NULL &&
	    !OSSL_PARAM_set_int(p, (int)p11ca_key_max_signature_size(k->key)))
		return RET_OSSL_ERR;
	if ((p = OSSL_PARAM_locate(params, OSSL_PKEY_PARAM_DEFAULT_DIGEST)) != NULL &&
	    k->type != P11CA_PK_ED25519 && !OSSL_PARAM_set_utf8_string(p, "SHA256"))
		return RET_OSSL_ERR;
	if ((p = OSSL_PARAM_locate(params, OSSL_PKEY_PARAM_MANDATORY_DIGEST)) != NULL &&
	    k->type == P11CA_PK_ED25519 && !OSSL_PARAM_set_utf8_string(p, ""))
		return RET_OSSL_ERR;
	if ((p = OSSL_PARAM_locate(params, OSSL_PKEY_PARAM_GROUP_NAME)) != NULL &&
	    p11ca_key_get_group(k->key) != NULL &&
	    !OSSL_PARAM_set_utf8_string(p, p11ca_key_get_group(k->key)))
		return RET_OSSL_ERR;
	return RET_OSSL_OK;
}

static int km_get_params(void *keydata, OSSL_PARAM params[])
{
	struct p11ca_prov_key *k = keydata;

	if (k == NULL)
		return RET_OSSL_ERR;
	if (k->pub == NULL)
		return k->key != NULL ? token_params(k, params) : RET_OSSL_ERR;
	/* everything asked about is a public property: the public half knows */
	return EVP_PKEY_get_params(k->pub, params) == 1 ? RET_OSSL_OK : RET_OSSL_ERR;
}

static int km_export(void *keydata, int selection, OSSL_CALLBACK *cb, void *cbarg)
{
	struct p11ca_prov_key *k = keydata;
	OSSL_PARAM *params = NULL;
	int sel = 0, ret;

	if (k == NULL || k->pub == NULL)
		return RET_OSSL_ERR;
	/*
	 * The private half stays on the token.  Saying "here is the key" to a
	 * request that includes the private part would make OpenSSL run the
	 * operation in another provider with a public key only, so such a
	 * request fails and OpenSSL uses this provider's own implementation.
	 */
	if (k->key == NULL && (selection & OSSL_KEYMGMT_SELECT_KEYPAIR)) {
		/* no token half: a public key, or a software key made for a TLS
		 * key share (keygen.c), whose private half is OpenSSL's anyway */
		sel |= EVP_PKEY_KEYPAIR;
	} else if (selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY) {
		/* nothing: see above */
	} else if (selection & OSSL_KEYMGMT_SELECT_PUBLIC_KEY) {
		sel |= EVP_PKEY_PUBLIC_KEY;
	} else if (selection & OSSL_KEYMGMT_SELECT_ALL_PARAMETERS) {
		sel |= EVP_PKEY_KEY_PARAMETERS;
	}
	if (sel == 0) {
		return RET_OSSL_ERR; /* quietly: OpenSSL tries the next way */
	}
	if (EVP_PKEY_todata(k->pub, sel, &params) != 1)
		return RET_OSSL_ERR;
	ret = cb(params, cbarg);
	OSSL_PARAM_free(params);
	return ret;
}

static int km_import(void *keydata, int selection, const OSSL_PARAM params[])
{
	struct p11ca_prov_key *k = keydata;
	EVP_PKEY_CTX *pctx = NULL;
	EVP_PKEY *pub = NULL;
	int ret = RET_OSSL_ERR;

	if (k == NULL || k->pub != NULL)
		return RET_OSSL_ERR;
	/* Only public keys come in (OpenSSL compares a certificate's key with
	 * a token key this way).  Private material is never imported. */
	if (OSSL_PARAM_locate_const(params, OSSL_PKEY_PARAM_PRIV_KEY) != NULL ||
	    OSSL_PARAM_locate_const(params, OSSL_PKEY_PARAM_RSA_D) != NULL)
		return RET_OSSL_ERR;
	if (!(selection & OSSL_KEYMGMT_SELECT_PUBLIC_KEY))
		return RET_OSSL_ERR;
	pctx = EVP_PKEY_CTX_new_from_name(k->prov->libctx, p11ca_prov_key_type_name(k->type),
	                                  P11CA_PROV_PROPQ);
	if (pctx == NULL || EVP_PKEY_fromdata_init(pctx) != 1 ||
	    EVP_PKEY_fromdata(pctx, &pub, EVP_PKEY_PUBLIC_KEY, (OSSL_PARAM *)params) != 1)
		goto out;
	k->pub = pub;
	ret = RET_OSSL_OK;
out:
	EVP_PKEY_CTX_free(pctx);
	return ret;
}

static const OSSL_PARAM *km_types(enum p11ca_prov_keytype type)
{
	static const OSSL_PARAM rsa[] = {
		OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_N, NULL, 0),
		OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_E, NULL, 0),
		OSSL_PARAM_END,
	};
	static const OSSL_PARAM rsapss[] = {
		OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_N, NULL, 0),
		OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_E, NULL, 0),
		OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_RSA_DIGEST, NULL, 0),
		OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_RSA_MGF1_DIGEST, NULL, 0),
		OSSL_PARAM_int(OSSL_PKEY_PARAM_RSA_PSS_SALTLEN, NULL),
		OSSL_PARAM_END,
	};
	static const OSSL_PARAM ec[] = {
		OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, NULL, 0),
		OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PUB_KEY, NULL, 0),
		OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT, NULL, 0),
		OSSL_PARAM_END,
	};
	static const OSSL_PARAM ed[] = {
		OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PUB_KEY, NULL, 0),
		OSSL_PARAM_END,
	};
	switch (type) {
	case P11CA_PK_RSA: return rsa;
	case P11CA_PK_RSA_PSS: return rsapss;
	case P11CA_PK_EC: return ec;
	case P11CA_PK_ED25519: return ed;
	}
	return NULL;
}

static const OSSL_PARAM *km_gettable(enum p11ca_prov_keytype type)
{
	static const OSSL_PARAM rsa[] = {
		OSSL_PARAM_int(OSSL_PKEY_PARAM_BITS, NULL),
		OSSL_PARAM_int(OSSL_PKEY_PARAM_SECURITY_BITS, NULL),
		OSSL_PARAM_int(OSSL_PKEY_PARAM_MAX_SIZE, NULL),
		OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_DEFAULT_DIGEST, NULL, 0),
		OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_N, NULL, 0),
		OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_E, NULL, 0),
		OSSL_PARAM_END,
	};
	static const OSSL_PARAM ec[] = {
		OSSL_PARAM_int(OSSL_PKEY_PARAM_BITS, NULL),
		OSSL_PARAM_int(OSSL_PKEY_PARAM_SECURITY_BITS, NULL),
		OSSL_PARAM_int(OSSL_PKEY_PARAM_MAX_SIZE, NULL),
		OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_DEFAULT_DIGEST, NULL, 0),
		OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, NULL, 0),
		OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, NULL, 0),
		OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PUB_KEY, NULL, 0),
		OSSL_PARAM_END,
	};
	static const OSSL_PARAM ed[] = {
		OSSL_PARAM_int(OSSL_PKEY_PARAM_BITS, NULL),
		OSSL_PARAM_int(OSSL_PKEY_PARAM_SECURITY_BITS, NULL),
		OSSL_PARAM_int(OSSL_PKEY_PARAM_MAX_SIZE, NULL),
		OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_MANDATORY_DIGEST, NULL, 0),
		OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, NULL, 0),
		OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PUB_KEY, NULL, 0),
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

/* ---- EC peer keys (ECDH, exchange.c) ---- */

/*
 * An EC key with the group of @k and nothing else: CMS (ECDH key
 * agreement) makes the originator's key as EVP_PKEY_copy_parameters() of
 * the recipient's key and then sets its point (km_set_params).  Returns a
 * new key, or NULL.
 */
static struct p11ca_prov_key *ec_params_only(const struct p11ca_prov_key *k)
{
	char name[64];
	const char *group = NULL;
	OSSL_PARAM params[2];
	EVP_PKEY_CTX *pctx = NULL;
	EVP_PKEY *pub = NULL;

	if (k->pub != NULL && EVP_PKEY_get_group_name(k->pub, name, sizeof(name), NULL) == 1)
		group = name;
	else if (k->key != NULL)
		group = p11ca_key_get_group(k->key);
	if (group == NULL)
		return NULL;
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)group, 0);
	params[1] = OSSL_PARAM_construct_end();
	pctx = EVP_PKEY_CTX_new_from_name(k->prov->libctx, "EC", P11CA_PROV_PROPQ);
	if (pctx == NULL || EVP_PKEY_fromdata_init(pctx) != 1 ||
	    EVP_PKEY_fromdata(pctx, &pub, EVP_PKEY_KEY_PARAMETERS, params) != 1)
		pub = NULL;
	EVP_PKEY_CTX_free(pctx);
	return pub != NULL ? p11ca_prov_key_new(k->prov, P11CA_PK_EC, NULL, pub) : NULL;
}

/*
 * The point of an EC key that has parameters only (above): OpenSSL's
 * EVP_PKEY_set1_encoded_public_key().  A key with a point or a token half
 * keeps it.
 */
static int km_set_params(void *keydata, const OSSL_PARAM params[])
{
	struct p11ca_prov_key *k = keydata;
	const OSSL_PARAM *p;
	OSSL_PARAM bp[3];
	EVP_PKEY_CTX *pctx = NULL;
	EVP_PKEY *pub = NULL;
	char group[64];
	size_t len = 0;
	int ret = RET_OSSL_ERR;

	if (k == NULL)
		return RET_OSSL_ERR;
	p = OSSL_PARAM_locate_const(params, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY);
	if (p == NULL)
		return RET_OSSL_OK;
	if (k->type != P11CA_PK_EC || k->key != NULL || k->pub == NULL ||
	    p->data_type != OSSL_PARAM_OCTET_STRING ||
	    EVP_PKEY_get_octet_string_param(k->pub, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, NULL, 0,
	                                    &len) == 1 ||
	    EVP_PKEY_get_group_name(k->pub, group, sizeof(group), NULL) != 1) {
		P11CA_PROV_RAISE(k->prov, P11CA_PROV_R_BAD_PARAM,
		                 "only an EC key with parameters alone takes a public point");
		return RET_OSSL_ERR;
	}
	bp[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, group, 0);
	bp[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, p->data, p->data_size);
	bp[2] = OSSL_PARAM_construct_end();
	pctx = EVP_PKEY_CTX_new_from_name(k->prov->libctx, "EC", P11CA_PROV_PROPQ);
	if (pctx == NULL || EVP_PKEY_fromdata_init(pctx) != 1 ||
	    EVP_PKEY_fromdata(pctx, &pub, EVP_PKEY_PUBLIC_KEY, bp) != 1) {
		P11CA_PROV_RAISE(k->prov, P11CA_PROV_R_BAD_PARAM, "not a public point of curve %s",
		                 group);
		goto out;
	}
	EVP_PKEY_free(k->pub);
	k->pub = pub; /* the key is new (ec_params_only), nobody else holds it yet */
	ret = RET_OSSL_OK;
out:
	EVP_PKEY_CTX_free(pctx);
	return ret;
}

static const OSSL_PARAM *km_settable_params(void *provctx)
{
	static const OSSL_PARAM params[] = {
		OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, NULL, 0),
		OSSL_PARAM_END,
	};
	return params;
}

static void *km_dup(const void *keydata, int selection)
{
	const struct p11ca_prov_key *k = keydata;

	/* the parameters of an EC key: a new key (see ec_params_only) */
	if (k != NULL && k->type == P11CA_PK_EC && !(selection & OSSL_KEYMGMT_SELECT_KEYPAIR))
		return ec_params_only(k);
	/* keys are immutable once made: sharing is a copy */
	return p11ca_prov_key_ref((struct p11ca_prov_key *)keydata);
}

/* ---- per key type dispatch tables ---- */

#define KEYMGMT(name, TYPE, opname)                                                                \
	DECL_DISPATCH_FUNC(keymgmt, name, new);                                                    \
	static void *name##_new(void *provctx)                                                     \
	{                                                                                          \
		return km_new(provctx, TYPE);                                                      \
	}                                                                                          \
	DECL_DISPATCH_FUNC(keymgmt, name, load);                                                   \
	static void *name##_load(const void *reference, size_t size)                               \
	{                                                                                          \
		return km_load(reference, size, TYPE);                                             \
	}                                                                                          \
	DECL_DISPATCH_FUNC(keymgmt, name, gettable_params);                                        \
	static const OSSL_PARAM *name##_gettable_params(void *provctx)                             \
	{                                                                                          \
		return km_gettable(TYPE);                                                          \
	}                                                                                          \
	DECL_DISPATCH_FUNC(keymgmt, name, import_types);                                           \
	static const OSSL_PARAM *name##_import_types(int selection)                                \
	{                                                                                          \
		return km_types(TYPE);                                                             \
	}                                                                                          \
	DECL_DISPATCH_FUNC(keymgmt, name, gen_init);                                               \
	static void *name##_gen_init(void *provctx, int selection, const OSSL_PARAM params[])      \
	{                                                                                          \
		return p11ca_prov_gen_init(provctx, TYPE, selection, params);                      \
	}                                                                                          \
	DECL_DISPATCH_FUNC(keymgmt, name, gen_settable_params);                                    \
	static const OSSL_PARAM *name##_gen_settable_params(void *genctx, void *provctx)           \
	{                                                                                          \
		return p11ca_prov_gen_settable_params(TYPE);                                       \
	}                                                                                          \
	DECL_DISPATCH_FUNC(keymgmt, name, query_operation_name);                                   \
	static const char *name##_query_operation_name(int operation_id)                           \
	{                                                                                          \
		if (operation_id == OSSL_OP_KEYEXCH && TYPE == P11CA_PK_EC)                        \
			return P11CA_PROV_OP_ECDH;                                                 \
		return operation_id == OSSL_OP_SIGNATURE || operation_id == OSSL_OP_ASYM_CIPHER    \
		           ? opname                                                                \
		           : p11ca_prov_key_type_name(TYPE);                                       \
	}                                                                                          \
	const OSSL_DISPATCH p11ca_prov_##name##_keymgmt_functions[] = {                            \
		{ OSSL_FUNC_KEYMGMT_NEW, (void (*)(void))name##_new },                             \
		{ OSSL_FUNC_KEYMGMT_FREE, (void (*)(void))km_free },                               \
		{ OSSL_FUNC_KEYMGMT_LOAD, (void (*)(void))name##_load },                           \
		{ OSSL_FUNC_KEYMGMT_GET_PARAMS, (void (*)(void))km_get_params },                   \
		{ OSSL_FUNC_KEYMGMT_GETTABLE_PARAMS, (void (*)(void))name##_gettable_params },     \
		{ OSSL_FUNC_KEYMGMT_HAS, (void (*)(void))km_has },                                 \
		{ OSSL_FUNC_KEYMGMT_MATCH, (void (*)(void))km_match },                             \
		{ OSSL_FUNC_KEYMGMT_IMPORT, (void (*)(void))km_import },                           \
		{ OSSL_FUNC_KEYMGMT_IMPORT_TYPES, (void (*)(void))name##_import_types },           \
		{ OSSL_FUNC_KEYMGMT_EXPORT, (void (*)(void))km_export },                           \
		{ OSSL_FUNC_KEYMGMT_EXPORT_TYPES, (void (*)(void))name##_import_types },           \
		{ OSSL_FUNC_KEYMGMT_DUP, (void (*)(void))km_dup },                                 \
		{ OSSL_FUNC_KEYMGMT_GEN_INIT, (void (*)(void))name##_gen_init },                   \
		{ OSSL_FUNC_KEYMGMT_GEN_SET_PARAMS, (void (*)(void))p11ca_prov_gen_set_params },   \
		{ OSSL_FUNC_KEYMGMT_GEN_SETTABLE_PARAMS,                                           \
		  (void (*)(void))name##_gen_settable_params },                                    \
		{ OSSL_FUNC_KEYMGMT_GEN_SET_TEMPLATE,                                              \
		  (void (*)(void))p11ca_prov_gen_set_template },                                   \
		{ OSSL_FUNC_KEYMGMT_GEN, (void (*)(void))p11ca_prov_gen },                         \
		{ OSSL_FUNC_KEYMGMT_GEN_CLEANUP, (void (*)(void))p11ca_prov_gen_cleanup },         \
		{ OSSL_FUNC_KEYMGMT_SET_PARAMS, (void (*)(void))km_set_params },                   \
		{ OSSL_FUNC_KEYMGMT_SETTABLE_PARAMS, (void (*)(void))km_settable_params },         \
		{ OSSL_FUNC_KEYMGMT_QUERY_OPERATION_NAME,                                          \
		  (void (*)(void))name##_query_operation_name },                                   \
		{ 0, NULL },                                                                       \
	}

KEYMGMT(rsa, P11CA_PK_RSA, P11CA_PROV_OP_RSA);
KEYMGMT(rsapss, P11CA_PK_RSA_PSS, P11CA_PROV_OP_RSA);
KEYMGMT(ec, P11CA_PK_EC, P11CA_PROV_OP_ECDSA);
KEYMGMT(ed25519, P11CA_PK_ED25519, P11CA_PROV_OP_ED25519);

/*
 * exchange.c - ECDH key exchange.  A token key derives on its token
 * (CKM_ECDH1_DERIVE, p11ca_key_derive_ecdh); a software EC key held by our
 * key management (an ephemeral TLS key share: no token key, a whole
 * OpenSSL key as its public half) derives in another provider.  The
 * X9.63 KDF (CMS's ECDH key agreement asks for it) runs in OpenSSL over
 * the shared secret.  The peer is our key management's key; its public
 * half is an OpenSSL public key.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/kdf.h>
#include <openssl/objects.h>

#include "provider.h"

/* P-521: 66-byte coordinates */
#define FIELD_MAX 66
#define POINT_MAX (1 + 2 * FIELD_MAX)

struct ecdhctx {
	struct p11ca_prov *prov;
	struct p11ca_prov_key *key;
	struct p11ca_prov_key *peer;
	int cofactor_mode; /* -1: the key's (1 on our curves), 0, 1 */
	int kdf_x963;      /* else no KDF: the shared secret itself */
	EVP_MD *kdf_md;
	unsigned char *ukm;
	size_t ukm_len;
	size_t kdf_outlen;
};

DECL_DISPATCH_FUNC(keyexch, ecdh, newctx);
static void *ecdh_newctx(void *provctx)
{
	struct ecdhctx *c = calloc(1, sizeof(*c));

	if (c != NULL) {
		c->prov = provctx;
		c->cofactor_mode = -1;
	}
	return c;
}

DECL_DISPATCH_FUNC(keyexch, ecdh, freectx);
static void ecdh_freectx(void *ctx)
{
	struct ecdhctx *c = ctx;

	if (c == NULL)
		return;
	p11ca_prov_key_free(c->key);
	p11ca_prov_key_free(c->peer);
	EVP_MD_free(c->kdf_md);
	OPENSSL_clear_free(c->ukm, c->ukm_len);
	free(c);
}

DECL_DISPATCH_FUNC(keyexch, ecdh, dupctx);
static void *ecdh_dupctx(void *ctx)
{
	struct ecdhctx *c = ctx, *d = calloc(1, sizeof(*d));

	if (d == NULL)
		return NULL;
	*d = *c;
	d->key = p11ca_prov_key_ref(c->key);
	d->peer = p11ca_prov_key_ref(c->peer);
	if (d->kdf_md != NULL && !EVP_MD_up_ref(d->kdf_md))
		d->kdf_md = NULL;
	d->ukm = NULL;
	if (c->ukm != NULL && (d->ukm = OPENSSL_memdup(c->ukm, c->ukm_len)) == NULL) {
		ecdh_freectx(d);
		return NULL;
	}
	return d;
}

/* The NID of a curve name ("prime256v1", "secp384r1", "P-256"). */
static int curve_nid(const char *name)
{
	int nid;

	if (name == NULL)
		return NID_undef;
	nid = OBJ_txt2nid(name);
	return nid != NID_undef ? nid : EC_curve_nist2nid(name);
}

/* The field size of the curves ECDH is offered on; 0 for others. */
static size_t field_bytes(int nid)
{
	switch (nid) {
	case NID_X9_62_prime256v1: return 32;
	case NID_secp384r1: return 48;
	case NID_secp521r1: return 66;
	default: return 0;
	}
}

/* The curve of one of our EC keys: its public half's, else the token's. */
static int key_curve(const struct p11ca_prov_key *k, char *name, size_t cap)
{
	const char *g = NULL;

	name[0] = '\0';
	if (k->pub != NULL && EVP_PKEY_get_group_name(k->pub, name, cap, NULL) == 1)
		g = name;
	else if (k->key != NULL && (g = p11ca_key_get_group(k->key)) != NULL)
		snprintf(name, cap, "%s", g);
	return curve_nid(g);
}

DECL_DISPATCH_FUNC(keyexch, ecdh, set_ctx_params);
static int ecdh_set_ctx_params(void *ctx, const OSSL_PARAM params[])
{
	struct ecdhctx *c = ctx;
	const OSSL_PARAM *p;

	if (c == NULL)
		return RET_OSSL_ERR;
	if (params == NULL)
		return RET_OSSL_OK;
	p = OSSL_PARAM_locate_const(params, OSSL_EXCHANGE_PARAM_EC_ECDH_COFACTOR_MODE);
	if (p != NULL) {
		int mode;
		if (!OSSL_PARAM_get_int(p, &mode) || mode < -1 || mode > 1) {
			P11CA_PROV_RAISE(c->prov, P11CA_PROV_R_BAD_PARAM,
			                 "bad ECDH cofactor mode (-1, 0 or 1)");
			return RET_OSSL_ERR;
		}
		c->cofactor_mode = mode;
	}
	p = OSSL_PARAM_locate_const(params, OSSL_EXCHANGE_PARAM_KDF_TYPE);
	if (p != NULL) {
		const char *s = NULL;
		if (!OSSL_PARAM_get_utf8_string_ptr(p, &s))
			return RET_OSSL_ERR;
		if (s[0] == '\0') {
			c->kdf_x963 = 0;
		} else if (strcmp(s, OSSL_KDF_NAME_X963KDF) == 0) {
			c->kdf_x963 = 1;
		} else {
			P11CA_PROV_RAISE(
			    c->prov, P11CA_PROV_R_BAD_PARAM,
			    "ECDH KDF '%s' is not supported (none or " OSSL_KDF_NAME_X963KDF ")",
			    s);
			return RET_OSSL_ERR;
		}
	}
	p = OSSL_PARAM_locate_const(params, OSSL_EXCHANGE_PARAM_KDF_DIGEST);
	if (p != NULL) {
		const char *name = NULL, *props = P11CA_PROV_PROPQ;
		const OSSL_PARAM *pp =
		    OSSL_PARAM_locate_const(params, OSSL_EXCHANGE_PARAM_KDF_DIGEST_PROPS);
		EVP_MD *md;
		if (!OSSL_PARAM_get_utf8_string_ptr(p, &name) ||
		    (pp != NULL && !OSSL_PARAM_get_utf8_string_ptr(pp, &props)))
			return RET_OSSL_ERR;
		/* never ours: the digest runs in another provider */
		if (props == NULL || props[0] == '\0')
			props = P11CA_PROV_PROPQ;
		if ((md = EVP_MD_fetch(c->prov->libctx, name, props)) == NULL) {
			P11CA_PROV_RAISE(c->prov, P11CA_PROV_R_BAD_PARAM,
			                 "unknown ECDH KDF digest '%s'", name);
			return RET_OSSL_ERR;
		}
		EVP_MD_free(c->kdf_md);
		c->kdf_md = md;
	}
	p = OSSL_PARAM_locate_const(params, OSSL_EXCHANGE_PARAM_KDF_OUTLEN);
	if (p != NULL && !OSSL_PARAM_get_size_t(p, &c->kdf_outlen))
		return RET_OSSL_ERR;
	p = OSSL_PARAM_locate_const(params, OSSL_EXCHANGE_PARAM_KDF_UKM);
	if (p != NULL) {
		void *v = NULL;
		size_t len = 0;
		if (!OSSL_PARAM_get_octet_string(p, &v, 0, &len))
			return RET_OSSL_ERR;
		OPENSSL_clear_free(c->ukm, c->ukm_len);
		c->ukm = v;
		c->ukm_len = len;
	}
	p = OSSL_PARAM_locate_const(params, OSSL_EXCHANGE_PARAM_PAD);
	if (p != NULL) {
		/* an ECDH secret always has the field's size, as OpenSSL's:
		 * padded is what it is, and it is never cut short */
		unsigned int pad;
		if (!OSSL_PARAM_get_uint(p, &pad))
			return RET_OSSL_ERR;
	}
	return RET_OSSL_OK;
}

DECL_DISPATCH_FUNC(keyexch, ecdh, settable_ctx_params);
static const OSSL_PARAM *ecdh_settable_ctx_params(void *ctx, void *provctx)
{
	static const OSSL_PARAM params[] = {
		OSSL_PARAM_int(OSSL_EXCHANGE_PARAM_EC_ECDH_COFACTOR_MODE, NULL),
		OSSL_PARAM_utf8_string(OSSL_EXCHANGE_PARAM_KDF_TYPE, NULL, 0),
		OSSL_PARAM_utf8_string(OSSL_EXCHANGE_PARAM_KDF_DIGEST, NULL, 0),
		OSSL_PARAM_utf8_string(OSSL_EXCHANGE_PARAM_KDF_DIGEST_PROPS, NULL, 0),
		OSSL_PARAM_size_t(OSSL_EXCHANGE_PARAM_KDF_OUTLEN, NULL),
		OSSL_PARAM_octet_string(OSSL_EXCHANGE_PARAM_KDF_UKM, NULL, 0),
		OSSL_PARAM_uint(OSSL_EXCHANGE_PARAM_PAD, NULL),
		OSSL_PARAM_END,
	};
	return params;
}

DECL_DISPATCH_FUNC(keyexch, ecdh, get_ctx_params);
static int ecdh_get_ctx_params(void *ctx, OSSL_PARAM params[])
{
	struct ecdhctx *c = ctx;
	OSSL_PARAM *p;

	if (c == NULL)
		return RET_OSSL_ERR;
	p = OSSL_PARAM_locate(params, OSSL_EXCHANGE_PARAM_EC_ECDH_COFACTOR_MODE);
	/* the NIST curves have cofactor 1: both modes are one */
	if (p != NULL && !OSSL_PARAM_set_int(p, c->cofactor_mode == 0 ? 0 : 1))
		return RET_OSSL_ERR;
	p = OSSL_PARAM_locate(params, OSSL_EXCHANGE_PARAM_KDF_TYPE);
	if (p != NULL && !OSSL_PARAM_set_utf8_string(p, c->kdf_x963 ? OSSL_KDF_NAME_X963KDF : ""))
		return RET_OSSL_ERR;
	p = OSSL_PARAM_locate(params, OSSL_EXCHANGE_PARAM_KDF_DIGEST);
	if (p != NULL &&
	    !OSSL_PARAM_set_utf8_string(p, c->kdf_md ? EVP_MD_get0_name(c->kdf_md) : ""))
		return RET_OSSL_ERR;
	p = OSSL_PARAM_locate(params, OSSL_EXCHANGE_PARAM_KDF_OUTLEN);
	if (p != NULL && !OSSL_PARAM_set_size_t(p, c->kdf_outlen))
		return RET_OSSL_ERR;
	return RET_OSSL_OK;
}

DECL_DISPATCH_FUNC(keyexch, ecdh, gettable_ctx_params);
static const OSSL_PARAM *ecdh_gettable_ctx_params(void *ctx, void *provctx)
{
	static const OSSL_PARAM params[] = {
		OSSL_PARAM_int(OSSL_EXCHANGE_PARAM_EC_ECDH_COFACTOR_MODE, NULL),
		OSSL_PARAM_utf8_string(OSSL_EXCHANGE_PARAM_KDF_TYPE, NULL, 0),
		OSSL_PARAM_utf8_string(OSSL_EXCHANGE_PARAM_KDF_DIGEST, NULL, 0),
		OSSL_PARAM_size_t(OSSL_EXCHANGE_PARAM_KDF_OUTLEN, NULL),
		OSSL_PARAM_END,
	};
	return params;
}

DECL_DISPATCH_FUNC(keyexch, ecdh, init);
static int ecdh_init(void *ctx, void *provkey, const OSSL_PARAM params[])
{
	struct ecdhctx *c = ctx;
	struct p11ca_prov_key *k = provkey;

	if (c == NULL || k == NULL || k->type != P11CA_PK_EC) {
		if (c != NULL)
			P11CA_PROV_RAISE(c->prov, P11CA_PROV_R_BAD_PARAM, "ECDH needs an EC key");
		return RET_OSSL_ERR;
	}
	if (k->key == NULL && k->pub == NULL) {
		P11CA_PROV_RAISE(c->prov, P11CA_PROV_R_NO_PRIVATE, "this EC key is empty");
		return RET_OSSL_ERR;
	}
	p11ca_prov_key_free(c->key);
	c->key = p11ca_prov_key_ref(k);
	/* as OpenSSL's ECDH: a new init starts without a KDF */
	c->cofactor_mode = -1;
	c->kdf_x963 = 0;
	return ecdh_set_ctx_params(c, params);
}

DECL_DISPATCH_FUNC(keyexch, ecdh, set_peer);
static int ecdh_set_peer(void *ctx, void *provkey)
{
	struct ecdhctx *c = ctx;
	struct p11ca_prov_key *peer = provkey;
	char mine[64], theirs[64];
	int nid;

	if (c == NULL || c->key == NULL)
		return RET_OSSL_ERR;
	if (peer == NULL || peer->type != P11CA_PK_EC || peer->pub == NULL) {
		P11CA_PROV_RAISE(c->prov, P11CA_PROV_R_BAD_PARAM,
		                 "the ECDH peer key is not an EC public key");
		return RET_OSSL_ERR;
	}
	nid = key_curve(c->key, mine, sizeof(mine));
	if (nid == NID_undef || key_curve(peer, theirs, sizeof(theirs)) != nid) {
		P11CA_PROV_RAISE(c->prov, P11CA_PROV_R_BAD_PARAM,
		                 "the peer key is on curve %s, this key on %s: ECDH needs both on "
		                 "one curve",
		                 theirs[0] ? theirs : "?", mine[0] ? mine : "?");
		return RET_OSSL_ERR;
	}
	p11ca_prov_key_free(c->peer);
	c->peer = p11ca_prov_key_ref(peer);
	return RET_OSSL_OK;
}

/*
 * The peer's public point, uncompressed, checked to be a point of the
 * curve other than infinity (a point off the curve would let a peer learn
 * bits of the token key).  Returns 1, or 0 with an error raised.
 */
static int peer_point(struct ecdhctx *c, unsigned char *out, size_t *poutlen)
{
	unsigned char enc[POINT_MAX];
	size_t enclen = 0;
	char name[64];
	EC_GROUP *group = NULL;
	EC_POINT *pt = NULL;
	int ok = 0, nid = key_curve(c->key, name, sizeof(name));

	if ((group = EC_GROUP_new_by_curve_name_ex(c->prov->libctx, P11CA_PROV_PROPQ, nid)) ==
	        NULL ||
	    (pt = EC_POINT_new(group)) == NULL) {
		P11CA_PROV_RAISE(c->prov, P11CA_PROV_R_OPENSSL, "cannot set up curve %s", name);
		goto out;
	}
	if (EVP_PKEY_get_octet_string_param(c->peer->pub, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, enc,
	                                    sizeof(enc), &enclen) != 1 ||
	    EC_POINT_oct2point(group, pt, enc, enclen, NULL) != 1 ||
	    EC_POINT_is_at_infinity(group, pt) ||
	    (*poutlen = EC_POINT_point2oct(group, pt, POINT_CONVERSION_UNCOMPRESSED, out, *poutlen,
	                                   NULL)) == 0) {
		P11CA_PROV_RAISE(c->prov, P11CA_PROV_R_BAD_PARAM,
		                 "the ECDH peer's public key is not a valid point of curve %s",
		                 name);
		goto out;
	}
	ok = 1;
out:
	EC_POINT_free(pt);
	EC_GROUP_free(group);
	return ok;
}

/* A software key held by our key management: the default provider derives. */
static int soft_derive(struct ecdhctx *c, unsigned char *z, size_t *pzlen)
{
	EVP_PKEY_CTX *pctx;
	int ok = 0;

	pctx = EVP_PKEY_CTX_new_from_pkey(c->prov->libctx, c->key->pub, P11CA_PROV_PROPQ);
	if (pctx != NULL && EVP_PKEY_derive_init(pctx) == 1 &&
	    (c->cofactor_mode == -1 ||
	     EVP_PKEY_CTX_set_ecdh_cofactor_mode(pctx, c->cofactor_mode) == 1) &&
	    EVP_PKEY_derive_set_peer(pctx, c->peer->pub) == 1 &&
	    EVP_PKEY_derive(pctx, z, pzlen) == 1)
		ok = 1;
	else
		P11CA_PROV_RAISE(c->prov, P11CA_PROV_R_OPENSSL,
		                 "ECDH with a software EC key failed (a private key is needed)");
	EVP_PKEY_CTX_free(pctx);
	return ok;
}

/* The shared secret Z (the X coordinate, field size) into @z (FIELD_MAX). */
static int shared_secret(struct ecdhctx *c, unsigned char *z, size_t *pzlen)
{
	unsigned char pt[POINT_MAX];
	size_t ptlen = sizeof(pt);
	CK_RV rv;

	if (c->key->key == NULL)
		return soft_derive(c, z, pzlen);
	/* cofactor mode is moot: the curves a token key can be on have cofactor 1 */
	if (!peer_point(c, pt, &ptlen))
		return RET_OSSL_ERR;
	rv = p11ca_key_derive_ecdh(c->key->key, pt, ptlen, z, pzlen);
	if (rv != CKR_OK) {
		P11CA_PROV_RAISE_RV(c->prov, rv);
		return RET_OSSL_ERR;
	}
	return RET_OSSL_OK;
}

/* ANSI X9.63 KDF over @z into @out (kdf_outlen bytes), in another provider. */
static int x963_kdf(struct ecdhctx *c, const unsigned char *z, size_t zlen, unsigned char *out)
{
	EVP_KDF *kdf = NULL;
	EVP_KDF_CTX *kctx = NULL;
	OSSL_PARAM params[4], *p = params;
	int ok = 0;

	if (c->kdf_md == NULL || c->kdf_outlen == 0) {
		P11CA_PROV_RAISE(c->prov, P11CA_PROV_R_BAD_PARAM,
		                 "the X9.63 KDF needs a digest and an output length");
		return 0;
	}
	*p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
	                                        (char *)EVP_MD_get0_name(c->kdf_md), 0);
	*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)z, zlen);
	if (c->ukm != NULL)
		*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, c->ukm, c->ukm_len);
	*p = OSSL_PARAM_construct_end();
	if ((kdf = EVP_KDF_fetch(c->prov->libctx, OSSL_KDF_NAME_X963KDF, P11CA_PROV_PROPQ)) ==
	        NULL ||
	    (kctx = EVP_KDF_CTX_new(kdf)) == NULL ||
	    EVP_KDF_derive(kctx, out, c->kdf_outlen, params) != 1) {
		P11CA_PROV_RAISE(c->prov, P11CA_PROV_R_OPENSSL, "the X9.63 KDF failed");
		goto out;
	}
	ok = 1;
out:
	EVP_KDF_CTX_free(kctx);
	EVP_KDF_free(kdf);
	return ok;
}

DECL_DISPATCH_FUNC(keyexch, ecdh, derive);
static int ecdh_derive(void *ctx, unsigned char *secret, size_t *psecretlen, size_t outlen)
{
	struct ecdhctx *c = ctx;
	unsigned char z[FIELD_MAX];
	size_t zlen = sizeof(z), field, size;
	char name[64];
	int ret = RET_OSSL_ERR;

	if (c == NULL || c->key == NULL || c->peer == NULL) {
		if (c != NULL)
			P11CA_PROV_RAISE(c->prov, P11CA_PROV_R_BAD_PARAM,
			                 "ECDH needs a key and a peer key");
		return RET_OSSL_ERR;
	}
	field = field_bytes(key_curve(c->key, name, sizeof(name)));
	if (field == 0 || field > FIELD_MAX) {
		P11CA_PROV_RAISE(c->prov, P11CA_PROV_R_BAD_PARAM,
		                 "ECDH on curve %s is not supported (P-256, P-384, P-521)",
		                 name[0] ? name : "?");
		return RET_OSSL_ERR;
	}
	size = c->kdf_x963 ? c->kdf_outlen : field;
	if (secret == NULL) {
		*psecretlen = size;
		return RET_OSSL_OK;
	}
	if (c->kdf_x963 && outlen < c->kdf_outlen) {
		P11CA_PROV_RAISE(c->prov, P11CA_PROV_R_BAD_PARAM,
		                 "ECDH output buffer too small (%zu < %zu)", outlen, c->kdf_outlen);
		return RET_OSSL_ERR;
	}
	if (!shared_secret(c, z, &zlen))
		goto out;
	if (zlen != field) {
		P11CA_PROV_RAISE(c->prov, P11CA_PROV_R_OPENSSL,
		                 "ECDH gave a %zu-byte secret, not the field size %zu", zlen,
		                 field);
		goto out;
	}
	if (c->kdf_x963) {
		if (!x963_kdf(c, z, zlen, secret))
			goto out;
		*psecretlen = c->kdf_outlen;
	} else {
		/* as OpenSSL's ECDH: a shorter buffer takes the leading bytes */
		size = outlen < zlen ? outlen : zlen;
		memcpy(secret, z, size);
		*psecretlen = size;
	}
	ret = RET_OSSL_OK;
out:
	OPENSSL_cleanse(z, sizeof(z));
	return ret;
}

const OSSL_DISPATCH p11ca_prov_ecdh_keyexch_functions[] = {
	{ OSSL_FUNC_KEYEXCH_NEWCTX, (void (*)(void))ecdh_newctx },
	{ OSSL_FUNC_KEYEXCH_INIT, (void (*)(void))ecdh_init },
	{ OSSL_FUNC_KEYEXCH_SET_PEER, (void (*)(void))ecdh_set_peer },
	{ OSSL_FUNC_KEYEXCH_DERIVE, (void (*)(void))ecdh_derive },
	{ OSSL_FUNC_KEYEXCH_FREECTX, (void (*)(void))ecdh_freectx },
	{ OSSL_FUNC_KEYEXCH_DUPCTX, (void (*)(void))ecdh_dupctx },
	{ OSSL_FUNC_KEYEXCH_SET_CTX_PARAMS, (void (*)(void))ecdh_set_ctx_params },
	{ OSSL_FUNC_KEYEXCH_SETTABLE_CTX_PARAMS, (void (*)(void))ecdh_settable_ctx_params },
	{ OSSL_FUNC_KEYEXCH_GET_CTX_PARAMS, (void (*)(void))ecdh_get_ctx_params },
	{ OSSL_FUNC_KEYEXCH_GETTABLE_CTX_PARAMS, (void (*)(void))ecdh_gettable_ctx_params },
	{ 0, NULL },
};

/*
 * asymcipher.c - RSA decryption with token keys (PKCS#1 v1.5, OAEP, and the
 * TLS 1.2 RSA key exchange); encryption goes to the public half.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>

#include "provider.h"

struct rsactx {
	struct p11ca_prov *prov;
	struct p11ca_prov_key *key;
	int pad;
	EVP_MD *oaep_md, *mgf1_md;
	unsigned char *label;
	size_t label_len;
	unsigned int client_version, negotiated_version; /* TLS premaster check */
};

DECL_DISPATCH_FUNC(asym_cipher, rsa, newctx);
static void *rsa_newctx(void *provctx)
{
	struct rsactx *c = calloc(1, sizeof(*c));

	if (c != NULL) {
		c->prov = provctx;
		c->pad = RSA_PKCS1_PADDING;
	}
	return c;
}

DECL_DISPATCH_FUNC(asym_cipher, rsa, freectx);
static void rsa_freectx(void *ctx)
{
	struct rsactx *c = ctx;

	if (c == NULL)
		return;
	p11ca_prov_key_free(c->key);
	EVP_MD_free(c->oaep_md);
	EVP_MD_free(c->mgf1_md);
	OPENSSL_free(c->label);
	free(c);
}

DECL_DISPATCH_FUNC(asym_cipher, rsa, dupctx);
static void *rsa_dupctx(void *ctx)
{
	struct rsactx *c = ctx, *d = calloc(1, sizeof(*d));

	if (d == NULL)
		return NULL;
	*d = *c;
	d->key = p11ca_prov_key_ref(c->key);
	if (d->oaep_md)
		EVP_MD_up_ref(d->oaep_md);
	if (d->mgf1_md)
		EVP_MD_up_ref(d->mgf1_md);
	d->label = NULL;
	if (c->label != NULL && (d->label = OPENSSL_memdup(c->label, c->label_len)) == NULL) {
		rsa_freectx(d);
		return NULL;
	}
	return d;
}

static int fetch_md(struct rsactx *c, EVP_MD **slot, const OSSL_PARAM *p)
{
	const char *name = NULL;
	EVP_MD *md;

	if (!OSSL_PARAM_get_utf8_string_ptr(p, &name))
		return 0;
	if ((md = EVP_MD_fetch(c->prov->libctx, name, P11CA_PROV_PROPQ)) == NULL)
		return 0;
	EVP_MD_free(*slot);
	*slot = md;
	return 1;
}

DECL_DISPATCH_FUNC(asym_cipher, rsa, set_ctx_params);
static int rsa_set_ctx_params(void *ctx, const OSSL_PARAM params[])
{
	struct rsactx *c = ctx;
	const OSSL_PARAM *p;

	if (params == NULL)
		return RET_OSSL_OK;
	p = OSSL_PARAM_locate_const(params, OSSL_ASYM_CIPHER_PARAM_PAD_MODE);
	if (p != NULL) {
		int pad = 0;
		if (p->data_type == OSSL_PARAM_UTF8_STRING) {
			const char *s = p->data;
			pad = strcmp(s, OSSL_PKEY_RSA_PAD_MODE_PKCSV15) == 0 ? RSA_PKCS1_PADDING
			      : strcmp(s, OSSL_PKEY_RSA_PAD_MODE_OAEP) == 0 ? RSA_PKCS1_OAEP_PADDING
			      : strcmp(s, OSSL_PKEY_RSA_PAD_MODE_NONE) == 0 ? RSA_NO_PADDING
			                                                    : 0;
		} else if (!OSSL_PARAM_get_int(p, &pad)) {
			return RET_OSSL_ERR;
		}
		if (pad != RSA_PKCS1_PADDING && pad != RSA_PKCS1_OAEP_PADDING &&
		    pad != RSA_NO_PADDING && pad != RSA_PKCS1_WITH_TLS_PADDING)
			return RET_OSSL_ERR;
		c->pad = pad;
	}
	p = OSSL_PARAM_locate_const(params, OSSL_ASYM_CIPHER_PARAM_OAEP_DIGEST);
	if (p != NULL && !fetch_md(c, &c->oaep_md, p))
		return RET_OSSL_ERR;
	p = OSSL_PARAM_locate_const(params, OSSL_ASYM_CIPHER_PARAM_MGF1_DIGEST);
	if (p != NULL && !fetch_md(c, &c->mgf1_md, p))
		return RET_OSSL_ERR;
	p = OSSL_PARAM_locate_const(params, OSSL_ASYM_CIPHER_PARAM_OAEP_LABEL);
	if (p != NULL) {
		void *v = NULL;
		size_t len = 0;
		if (!OSSL_PARAM_get_octet_string(p, &v, 0, &len))
			return RET_OSSL_ERR;
		OPENSSL_free(c->label);
		c->label = v;
		c->label_len = len;
	}
	p = OSSL_PARAM_locate_const(params, OSSL_ASYM_CIPHER_PARAM_TLS_CLIENT_VERSION);
	if (p != NULL && !OSSL_PARAM_get_uint(p, &c->client_version))
		return RET_OSSL_ERR;
	p = OSSL_PARAM_locate_const(params, OSSL_ASYM_CIPHER_PARAM_TLS_NEGOTIATED_VERSION);
	if (p != NULL && !OSSL_PARAM_get_uint(p, &c->negotiated_version))
		return RET_OSSL_ERR;
	return RET_OSSL_OK;
}

DECL_DISPATCH_FUNC(asym_cipher, rsa, settable_ctx_params);
static const OSSL_PARAM *rsa_settable_ctx_params(void *ctx, void *provctx)
{
	static const OSSL_PARAM params[] = {
		OSSL_PARAM_utf8_string(OSSL_ASYM_CIPHER_PARAM_PAD_MODE, NULL, 0),
		OSSL_PARAM_utf8_string(OSSL_ASYM_CIPHER_PARAM_OAEP_DIGEST, NULL, 0),
		OSSL_PARAM_utf8_string(OSSL_ASYM_CIPHER_PARAM_MGF1_DIGEST, NULL, 0),
		OSSL_PARAM_octet_string(OSSL_ASYM_CIPHER_PARAM_OAEP_LABEL, NULL, 0),
		OSSL_PARAM_uint(OSSL_ASYM_CIPHER_PARAM_TLS_CLIENT_VERSION, NULL),
		OSSL_PARAM_uint(OSSL_ASYM_CIPHER_PARAM_TLS_NEGOTIATED_VERSION, NULL),
		OSSL_PARAM_END,
	};
	return params;
}

DECL_DISPATCH_FUNC(asym_cipher, rsa, get_ctx_params);
static int rsa_get_ctx_params(void *ctx, OSSL_PARAM params[])
{
	struct rsactx *c = ctx;
	OSSL_PARAM *p = OSSL_PARAM_locate(params, OSSL_ASYM_CIPHER_PARAM_PAD_MODE);

	if (p != NULL && p->data_type != OSSL_PARAM_UTF8_STRING && !OSSL_PARAM_set_int(p, c->pad))
		return RET_OSSL_ERR;
	p = OSSL_PARAM_locate(params, OSSL_ASYM_CIPHER_PARAM_OAEP_DIGEST);
	if (p != NULL &&
	    !OSSL_PARAM_set_utf8_string(p, c->oaep_md ? EVP_MD_get0_name(c->oaep_md) : "SHA1"))
		return RET_OSSL_ERR;
	return RET_OSSL_OK;
}

DECL_DISPATCH_FUNC(asym_cipher, rsa, gettable_ctx_params);
static const OSSL_PARAM *rsa_gettable_ctx_params(void *ctx, void *provctx)
{
	static const OSSL_PARAM params[] = {
		OSSL_PARAM_int(OSSL_ASYM_CIPHER_PARAM_PAD_MODE, NULL),
		OSSL_PARAM_utf8_string(OSSL_ASYM_CIPHER_PARAM_OAEP_DIGEST, NULL, 0),
		OSSL_PARAM_END,
	};
	return params;
}

static int rsa_init(struct rsactx *c, void *provkey, const OSSL_PARAM params[], int need_private)
{
	struct p11ca_prov_key *k = provkey;

	if (k == NULL || k->type != P11CA_PK_RSA)
		return RET_OSSL_ERR;
	if (need_private && k->key == NULL) {
		P11CA_PROV_RAISE(c->prov, P11CA_PROV_R_NO_PRIVATE,
		                 "this key has no private half on a token");
		return RET_OSSL_ERR;
	}
	p11ca_prov_key_free(c->key);
	c->key = p11ca_prov_key_ref(k);
	return rsa_set_ctx_params(c, params);
}

DECL_DISPATCH_FUNC(asym_cipher, rsa, decrypt_init);
static int rsa_decrypt_init(void *ctx, void *provkey, const OSSL_PARAM params[])
{
	return rsa_init(ctx, provkey, params, 1);
}

DECL_DISPATCH_FUNC(asym_cipher, rsa, encrypt_init);
static int rsa_encrypt_init(void *ctx, void *provkey, const OSSL_PARAM params[])
{
	return rsa_init(ctx, provkey, params, 0);
}

DECL_DISPATCH_FUNC(asym_cipher, rsa, decrypt);
static int rsa_decrypt(void *ctx, unsigned char *out, size_t *outlen, size_t outsize,
                       const unsigned char *in, size_t inlen)
{
	struct rsactx *c = ctx;
	size_t k = (size_t)(p11ca_key_get_bits(c->key->key) + 7) / 8;
	unsigned char *buf = NULL, fake[48];
	size_t len = k;
	enum p11ca_dec_pad pad;
	CK_RV rv;
	int ret = RET_OSSL_ERR;

	if (out == NULL) {
		*outlen = c->pad == RSA_PKCS1_WITH_TLS_PADDING ? sizeof(fake) : k;
		return RET_OSSL_OK;
	}
	pad = c->pad == RSA_PKCS1_OAEP_PADDING ? P11CA_DEC_OAEP
	      : c->pad == RSA_NO_PADDING       ? P11CA_DEC_RAW
	                                       : P11CA_DEC_PKCS1;
	if ((buf = OPENSSL_malloc(k)) == NULL)
		return RET_OSSL_ERR;
	rv = p11ca_key_decrypt(c->key->key, pad, c->oaep_md, c->mgf1_md, c->label, c->label_len, in,
	                       inlen, buf, &len);
	if (c->pad == RSA_PKCS1_WITH_TLS_PADDING) {
		/* TLS 1.2 RSA key exchange: on any failure continue with a random
		 * premaster secret, so a bad ciphertext is not told apart (RFC 5246
		 * 7.4.7.1); the failure shows later as a Finished mismatch */
		unsigned int good;
		size_t i;
		if (outsize < sizeof(fake) || RAND_priv_bytes(fake, sizeof(fake)) != 1)
			goto out;
		fake[0] = (unsigned char)(c->client_version >> 8);
		fake[1] = (unsigned char)c->client_version;
		good = (rv == CKR_OK) & (len == sizeof(fake));
		good &= len >= 2 && buf[0] == fake[0] && buf[1] == fake[1];
		for (i = 0; i < sizeof(fake); i++)
			out[i] = good ? buf[i] : fake[i];
		*outlen = sizeof(fake);
		ret = RET_OSSL_OK;
		goto out;
	}
	if (rv != CKR_OK) {
		P11CA_PROV_RAISE_RV(c->prov, rv);
		goto out;
	}
	if (len > outsize)
		goto out;
	memcpy(out, buf, len);
	*outlen = len;
	ret = RET_OSSL_OK;
out:
	OPENSSL_clear_free(buf, k);
	OPENSSL_cleanse(fake, sizeof(fake));
	return ret;
}

DECL_DISPATCH_FUNC(asym_cipher, rsa, encrypt);
static int rsa_encrypt(void *ctx, unsigned char *out, size_t *outlen, size_t outsize,
                       const unsigned char *in, size_t inlen)
{
	struct rsactx *c = ctx;
	EVP_PKEY_CTX *pctx;
	size_t len = outsize;
	int ok = 0;

	pctx = EVP_PKEY_CTX_new_from_pkey(c->prov->libctx, c->key->pub, P11CA_PROV_PROPQ);
	if (pctx == NULL || EVP_PKEY_encrypt_init(pctx) != 1 ||
	    EVP_PKEY_CTX_set_rsa_padding(pctx, c->pad) <= 0)
		goto out;
	if (c->pad == RSA_PKCS1_OAEP_PADDING &&
	    ((c->oaep_md && EVP_PKEY_CTX_set_rsa_oaep_md(pctx, c->oaep_md) <= 0) ||
	     (c->mgf1_md && EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, c->mgf1_md) <= 0)))
		goto out;
	if (c->pad == RSA_PKCS1_OAEP_PADDING && c->label != NULL) {
		/* the context takes the copy */
		unsigned char *l = OPENSSL_memdup(c->label, c->label_len);
		if (l == NULL ||
		    EVP_PKEY_CTX_set0_rsa_oaep_label(pctx, l, (int)c->label_len) <= 0) {
			OPENSSL_free(l);
			goto out;
		}
	}
	if (out == NULL) {
		ok = EVP_PKEY_encrypt(pctx, NULL, outlen, in, inlen) == 1;
		goto out;
	}
	ok = EVP_PKEY_encrypt(pctx, out, &len, in, inlen) == 1;
	*outlen = len;
out:
	EVP_PKEY_CTX_free(pctx);
	return ok;
}

const OSSL_DISPATCH p11ca_prov_rsa_asym_cipher_functions[] = {
	{ OSSL_FUNC_ASYM_CIPHER_NEWCTX, (void (*)(void))rsa_newctx },
	{ OSSL_FUNC_ASYM_CIPHER_FREECTX, (void (*)(void))rsa_freectx },
	{ OSSL_FUNC_ASYM_CIPHER_DUPCTX, (void (*)(void))rsa_dupctx },
	{ OSSL_FUNC_ASYM_CIPHER_DECRYPT_INIT, (void (*)(void))rsa_decrypt_init },
	{ OSSL_FUNC_ASYM_CIPHER_DECRYPT, (void (*)(void))rsa_decrypt },
	{ OSSL_FUNC_ASYM_CIPHER_ENCRYPT_INIT, (void (*)(void))rsa_encrypt_init },
	{ OSSL_FUNC_ASYM_CIPHER_ENCRYPT, (void (*)(void))rsa_encrypt },
	{ OSSL_FUNC_ASYM_CIPHER_GET_CTX_PARAMS, (void (*)(void))rsa_get_ctx_params },
	{ OSSL_FUNC_ASYM_CIPHER_GETTABLE_CTX_PARAMS, (void (*)(void))rsa_gettable_ctx_params },
	{ OSSL_FUNC_ASYM_CIPHER_SET_CTX_PARAMS, (void (*)(void))rsa_set_ctx_params },
	{ OSSL_FUNC_ASYM_CIPHER_SETTABLE_CTX_PARAMS, (void (*)(void))rsa_settable_ctx_params },
	{ 0, NULL },
};

/*
 * rand.c - the token's random number generator as an OpenSSL RAND
 * ("P11CA-RAND"), offered when the provider's section says p11ca-rand = yes.
 * Every request goes to the token (C_GenerateRandom through
 * p11ca_token_random); a failure of the token fails the request, there is
 * no software fallback.  See docs/p11ca-provider.7 for the openssl.cnf
 * lines that make it the library's generator.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <openssl/crypto.h>
#include <openssl/params.h>

#include "provider.h"

/* The most one generate call hands out (OpenSSL splits larger requests). */
#define P11CA_RAND_MAX_REQUEST 4096
/* What we claim: a token's generator is meant for keys of any size. */
#define P11CA_RAND_STRENGTH 256

struct rand_ctx {
	struct p11ca_prov *prov;
	p11ca_token *token; /* borrowed from the provider's libp11ca context */
	int state;          /* EVP_RAND_STATE_* */
	CRYPTO_RWLOCK *lock;
};

/*
 * How deep this thread is inside the token's generator.  A software token
 * in this process (SoftHSM2) implements C_GenerateRandom with OpenSSL's
 * RAND_bytes, which is this generator again when openssl.cnf made it the
 * library's: that inner request is the token's own generator at work, and
 * is served by the kernel (getrandom), as the token's software would be
 * without us, instead of recursing without end.  A hardware token never
 * calls back.
 */
static __thread int inside_token;

static int kernel_random(unsigned char *out, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = getrandom(out, len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return 0;
		out += n;
		len -= (size_t)n;
	}
	return 1;
}

/* @len bytes from the token into @out; 1, or 0 with an error raised. */
static int token_bytes(struct rand_ctx *rc, unsigned char *out, size_t len)
{
	CK_RV rv;

	if (inside_token)
		return kernel_random(out, len);
	if (rc->state != EVP_RAND_STATE_READY || rc->token == NULL) {
		P11CA_PROV_RAISE(rc->prov, P11CA_PROV_R_BAD_PARAM,
		                 "the token's random generator is not instantiated");
		return RET_OSSL_ERR;
	}
	inside_token++;
	rv = p11ca_token_random(rc->token, out, len);
	inside_token--;
	if (rv != CKR_OK) {
		P11CA_PROV_RAISE(rc->prov, P11CA_PROV_R_TOKEN,
		                 "the token's random generator (p11ca-rand) failed: %s",
		                 p11ca_prov_message(rv));
		return RET_OSSL_ERR;
	}
	return RET_OSSL_OK;
}

DECL_DISPATCH_FUNC(rand, p11ca_rand, newctx);
static void *p11ca_rand_newctx(void *provctx, void *parent, const OSSL_DISPATCH *parent_calls)
{
	struct rand_ctx *rc;

	/* a parent (OpenSSL gives the primary generator one) is not drawn
	 * from: the token is the source */
	(void)parent;
	(void)parent_calls;
	if ((rc = OPENSSL_zalloc(sizeof(*rc))) == NULL)
		return NULL;
	rc->prov = provctx;
	rc->state = EVP_RAND_STATE_UNINITIALISED;
	return rc;
}

DECL_DISPATCH_FUNC(rand, p11ca_rand, freectx);
static void p11ca_rand_freectx(void *vctx)
{
	struct rand_ctx *rc = vctx;

	if (rc == NULL)
		return;
	CRYPTO_THREAD_lock_free(rc->lock);
	OPENSSL_free(rc);
}

DECL_DISPATCH_FUNC(rand, p11ca_rand, instantiate);
static int p11ca_rand_instantiate(void *vctx, unsigned int strength, int prediction_resistance,
                                  const unsigned char *pstr, size_t pstr_len,
                                  const OSSL_PARAM params[])
{
	struct rand_ctx *rc = vctx;
	p11ca_ctx *p11;
	CK_RV rv;

	/* the personalisation string and the DRBG parameters OpenSSL passes
	 * (cipher, digest, reseed intervals) mean nothing to a token */
	(void)prediction_resistance;
	(void)pstr;
	(void)pstr_len;
	(void)params;
	if (strength > P11CA_RAND_STRENGTH) {
		P11CA_PROV_RAISE(rc->prov, P11CA_PROV_R_BAD_PARAM,
		                 "strength %u asked of the token's generator (at most %d)",
		                 strength, P11CA_RAND_STRENGTH);
		return RET_OSSL_ERR;
	}
	if ((p11 = p11ca_prov_p11(rc->prov)) == NULL)
		return RET_OSSL_ERR;
	/* p11ca-rand-token, or the only token */
	if ((rv = p11ca_token_find(p11, rc->prov->rand_token, &rc->token)) != CKR_OK) {
		rc->state = EVP_RAND_STATE_ERROR;
		P11CA_PROV_RAISE(rc->prov, p11ca_prov_reason(rv),
		                 "the token's random generator (p11ca-rand): %s",
		                 p11ca_prov_message(rv));
		return RET_OSSL_ERR;
	}
	rc->state = EVP_RAND_STATE_READY;
	return RET_OSSL_OK;
}

DECL_DISPATCH_FUNC(rand, p11ca_rand, uninstantiate);
static int p11ca_rand_uninstantiate(void *vctx)
{
	struct rand_ctx *rc = vctx;

	rc->token = NULL;
	rc->state = EVP_RAND_STATE_UNINITIALISED;
	return RET_OSSL_OK;
}

DECL_DISPATCH_FUNC(rand, p11ca_rand, generate);
static int p11ca_rand_generate(void *vctx, unsigned char *out, size_t outlen, unsigned int strength,
                               int prediction_resistance, const unsigned char *adin,
                               size_t adin_len)
{
	struct rand_ctx *rc = vctx;

	/* additional input cannot be mixed into a token's generator, and
	 * every request is fresh from it (prediction resistance) */
	(void)prediction_resistance;
	(void)adin;
	(void)adin_len;
	if (strength > P11CA_RAND_STRENGTH || outlen > P11CA_RAND_MAX_REQUEST) {
		P11CA_PROV_RAISE(rc->prov, P11CA_PROV_R_BAD_PARAM,
		                 "request of %zu bytes at strength %u: at most %d bytes at %d",
		                 outlen, strength, P11CA_RAND_MAX_REQUEST, P11CA_RAND_STRENGTH);
		return RET_OSSL_ERR;
	}
	return token_bytes(rc, out, outlen);
}

DECL_DISPATCH_FUNC(rand, p11ca_rand, reseed);
static int p11ca_rand_reseed(void *vctx, int prediction_resistance, const unsigned char *ent,
                             size_t ent_len, const unsigned char *adin, size_t adin_len)
{
	/* the token reseeds itself */
	(void)vctx;
	(void)prediction_resistance;
	(void)ent;
	(void)ent_len;
	(void)adin;
	(void)adin_len;
	return RET_OSSL_OK;
}

DECL_DISPATCH_FUNC(rand, p11ca_rand, enable_locking);
static int p11ca_rand_enable_locking(void *vctx)
{
	struct rand_ctx *rc = vctx;

	if (rc->lock == NULL && (rc->lock = CRYPTO_THREAD_lock_new()) == NULL) {
		P11CA_PROV_RAISE(rc->prov, P11CA_PROV_R_OPENSSL, "out of memory");
		return RET_OSSL_ERR;
	}
	return RET_OSSL_OK;
}

DECL_DISPATCH_FUNC(rand, p11ca_rand, lock);
static int p11ca_rand_lock(void *vctx)
{
	struct rand_ctx *rc = vctx;

	return rc->lock == NULL || CRYPTO_THREAD_write_lock(rc->lock);
}

DECL_DISPATCH_FUNC(rand, p11ca_rand, unlock);
static void p11ca_rand_unlock(void *vctx)
{
	struct rand_ctx *rc = vctx;

	if (rc->lock != NULL)
		CRYPTO_THREAD_unlock(rc->lock);
}

DECL_DISPATCH_FUNC(rand, p11ca_rand, gettable_ctx_params);
static const OSSL_PARAM *p11ca_rand_gettable_ctx_params(void *vctx, void *provctx)
{
	static const OSSL_PARAM params[] = {
		OSSL_PARAM_int(OSSL_RAND_PARAM_STATE, NULL),
		OSSL_PARAM_uint(OSSL_RAND_PARAM_STRENGTH, NULL),
		OSSL_PARAM_size_t(OSSL_RAND_PARAM_MAX_REQUEST, NULL),
		OSSL_PARAM_END,
	};

	(void)vctx;
	(void)provctx;
	return params;
}

DECL_DISPATCH_FUNC(rand, p11ca_rand, get_ctx_params);
static int p11ca_rand_get_ctx_params(void *vctx, OSSL_PARAM params[])
{
	struct rand_ctx *rc = vctx;
	OSSL_PARAM *p;

	p = OSSL_PARAM_locate(params, OSSL_RAND_PARAM_STATE);
	if (p != NULL && !OSSL_PARAM_set_int(p, rc->state))
		return RET_OSSL_ERR;
	p = OSSL_PARAM_locate(params, OSSL_RAND_PARAM_STRENGTH);
	if (p != NULL && !OSSL_PARAM_set_uint(p, P11CA_RAND_STRENGTH))
		return RET_OSSL_ERR;
	p = OSSL_PARAM_locate(params, OSSL_RAND_PARAM_MAX_REQUEST);
	if (p != NULL && !OSSL_PARAM_set_size_t(p, P11CA_RAND_MAX_REQUEST))
		return RET_OSSL_ERR;
	return RET_OSSL_OK;
}

#define RAND_FN(id, name)                                                                          \
	{                                                                                          \
		OSSL_FUNC_RAND_##id, (void (*)(void))p11ca_rand_##name                             \
	}
const OSSL_DISPATCH p11ca_prov_rand_functions[] = {
	RAND_FN(NEWCTX, newctx),
	RAND_FN(FREECTX, freectx),
	RAND_FN(INSTANTIATE, instantiate),
	RAND_FN(UNINSTANTIATE, uninstantiate),
	RAND_FN(GENERATE, generate),
	RAND_FN(RESEED, reseed),
	RAND_FN(ENABLE_LOCKING, enable_locking),
	RAND_FN(LOCK, lock),
	RAND_FN(UNLOCK, unlock),
	RAND_FN(GETTABLE_CTX_PARAMS, gettable_ctx_params),
	RAND_FN(GET_CTX_PARAMS, get_ctx_params),
	{ 0, NULL },
};

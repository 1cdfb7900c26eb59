/*
 * test-provider-ecdh.c - the p11ca key exchange (engine/exchange.c) with a
 * software EC key held by p11ca's key management (no token half, a whole
 * OpenSSL key as its public half: the ephemeral keys of TLS key shares),
 * called through its dispatch table: the secret, with and without the
 * X9.63 KDF, is the default provider's; unsupported KDFs, a peer on another
 * curve and a key without a private half are refused.  The X9.63 KDF is the
 * one token keys use too (tests/provider-ecdh.sh: CMS).  No token needed.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <openssl/core_names.h>
#include <openssl/err.h>

#include "provider.h"

static struct p11ca_prov *prov;
static OSSL_PROVIDER *provs[2];

static OSSL_FUNC_keyexch_newctx_fn *x_newctx;
static OSSL_FUNC_keyexch_init_fn *x_init;
static OSSL_FUNC_keyexch_set_peer_fn *x_set_peer;
static OSSL_FUNC_keyexch_derive_fn *x_derive;
static OSSL_FUNC_keyexch_freectx_fn *x_freectx;
static OSSL_FUNC_keyexch_dupctx_fn *x_dupctx;
static OSSL_FUNC_keyexch_set_ctx_params_fn *x_set_params;

static int setup(void **state)
{
	const OSSL_DISPATCH *d;

	(void)state;
	if (OSSL_PROVIDER_add_builtin(NULL, P11CA_PROV_NAME, p11ca_prov_init) != 1 ||
	    (provs[0] = OSSL_PROVIDER_load(NULL, "default")) == NULL ||
	    (provs[1] = OSSL_PROVIDER_load(NULL, P11CA_PROV_NAME)) == NULL ||
	    (prov = OSSL_PROVIDER_get0_provider_ctx(provs[1])) == NULL)
		return -1;
	for (d = p11ca_prov_ecdh_keyexch_functions; d->function_id != 0; d++) {
		switch (d->function_id) {
		case OSSL_FUNC_KEYEXCH_NEWCTX: x_newctx = OSSL_FUNC_keyexch_newctx(d); break;
		case OSSL_FUNC_KEYEXCH_INIT: x_init = OSSL_FUNC_keyexch_init(d); break;
		case OSSL_FUNC_KEYEXCH_SET_PEER: x_set_peer = OSSL_FUNC_keyexch_set_peer(d); break;
		case OSSL_FUNC_KEYEXCH_DERIVE: x_derive = OSSL_FUNC_keyexch_derive(d); break;
		case OSSL_FUNC_KEYEXCH_FREECTX: x_freectx = OSSL_FUNC_keyexch_freectx(d); break;
		case OSSL_FUNC_KEYEXCH_DUPCTX: x_dupctx = OSSL_FUNC_keyexch_dupctx(d); break;
		case OSSL_FUNC_KEYEXCH_SET_CTX_PARAMS:
			x_set_params = OSSL_FUNC_keyexch_set_ctx_params(d);
			break;
		default: break;
		}
	}
	return x_newctx && x_init && x_set_peer && x_derive && x_freectx && x_dupctx && x_set_params
	           ? 0
	           : -1;
}

static int teardown(void **state)
{
	(void)state;
	OSSL_PROVIDER_unload(provs[1]);
	OSSL_PROVIDER_unload(provs[0]);
	return 0;
}

static EVP_PKEY *gen(const char *curve)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, "provider=default", "EC", curve);

	assert_non_null(k);
	return k;
}

/* The public half of @k alone, in the default provider. */
static EVP_PKEY *public_of(EVP_PKEY *k)
{
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *pctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", "provider=default");
	EVP_PKEY *pub = NULL;

	assert_int_equal(EVP_PKEY_todata(k, EVP_PKEY_PUBLIC_KEY, &params), 1);
	assert_int_equal(EVP_PKEY_fromdata_init(pctx), 1);
	assert_int_equal(EVP_PKEY_fromdata(pctx, &pub, EVP_PKEY_PUBLIC_KEY, params), 1);
	OSSL_PARAM_free(params);
	EVP_PKEY_CTX_free(pctx);
	return pub;
}

/* Our key management's key for software key @k (taken over). */
static struct p11ca_prov_key *soft(EVP_PKEY *k)
{
	struct p11ca_prov_key *pk = p11ca_prov_key_new(prov, P11CA_PK_EC, NULL, k);

	assert_non_null(pk);
	return pk;
}

/* The default provider's secret, with @params (may be NULL). */
static size_t plain_derive(EVP_PKEY *priv, EVP_PKEY *peer, const OSSL_PARAM *params,
                           unsigned char *out, size_t cap)
{
	EVP_PKEY_CTX *pctx = EVP_PKEY_CTX_new_from_pkey(NULL, priv, "provider=default");
	size_t len = cap;

	assert_non_null(pctx);
	assert_int_equal(EVP_PKEY_derive_init_ex(pctx, params), 1);
	assert_int_equal(EVP_PKEY_derive_set_peer(pctx, peer), 1);
	assert_int_equal(EVP_PKEY_derive(pctx, out, &len), 1);
	EVP_PKEY_CTX_free(pctx);
	return len;
}

/* Ours, through the dispatch table; 0 when a step failed. */
static size_t our_derive(struct p11ca_prov_key *k, struct p11ca_prov_key *peer,
                         const OSSL_PARAM *params, unsigned char *out, size_t cap)
{
	void *ctx = x_newctx(prov), *dup = NULL;
	size_t len = 0, len2 = 0;
	unsigned char again[128];

	assert_non_null(ctx);
	if (x_init(ctx, k, params) != 1 || x_set_peer(ctx, peer) != 1 ||
	    x_derive(ctx, NULL, &len, 0) != 1 || len > cap || x_derive(ctx, out, &len, cap) != 1) {
		len = 0;
		goto out;
	}
	/* a duplicated context derives the same */
	dup = x_dupctx(ctx);
	assert_non_null(dup);
	assert_int_equal(x_derive(dup, again, &len2, sizeof(again)), 1);
	assert_int_equal(len2, len);
	assert_memory_equal(again, out, len);
out:
	x_freectx(dup);
	x_freectx(ctx);
	return len;
}

static void test_soft_plain(void **state)
{
	static const char *curves[] = { "P-256", "P-384", "P-521" };
	static const size_t sizes[] = { 32, 48, 66 };
	unsigned char s1[128], s2[128];
	size_t i, n1, n2;

	(void)state;
	for (i = 0; i < 3; i++) {
		EVP_PKEY *a = gen(curves[i]), *b = gen(curves[i]);
		EVP_PKEY *bpub = public_of(b);
		struct p11ca_prov_key *ka = soft(a), *kb;

		assert_int_equal(EVP_PKEY_up_ref(bpub), 1);
		kb = soft(bpub);
		n1 = our_derive(ka, kb, NULL, s1, sizeof(s1));
		n2 = plain_derive(a, bpub, NULL, s2, sizeof(s2));
		assert_int_equal(n1, sizes[i]);
		assert_int_equal(n1, n2);
		assert_memory_equal(s1, s2, n1);
		p11ca_prov_key_free(ka);
		p11ca_prov_key_free(kb);
		EVP_PKEY_free(b);
		EVP_PKEY_free(bpub);
	}
}

static void test_soft_x963(void **state)
{
	unsigned char ukm[] = "shared info as CMS encodes it";
	size_t outlen = 24;
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_EXCHANGE_PARAM_KDF_TYPE,
		                                 (char *)OSSL_KDF_NAME_X963KDF, 0),
		OSSL_PARAM_construct_utf8_string(OSSL_EXCHANGE_PARAM_KDF_DIGEST, (char *)"SHA256",
		                                 0),
		OSSL_PARAM_construct_size_t(OSSL_EXCHANGE_PARAM_KDF_OUTLEN, &outlen),
		OSSL_PARAM_construct_octet_string(OSSL_EXCHANGE_PARAM_KDF_UKM, ukm,
		                                  sizeof(ukm) - 1),
		OSSL_PARAM_END,
	};
	EVP_PKEY *a = gen("P-256"), *b = gen("P-256"), *bpub = public_of(b);
	struct p11ca_prov_key *ka = soft(a), *kb;
	unsigned char s1[64], s2[64];
	size_t n1, n2;

	(void)state;
	assert_int_equal(EVP_PKEY_up_ref(bpub), 1);
	kb = soft(bpub);
	n1 = our_derive(ka, kb, params, s1, sizeof(s1));
	n2 = plain_derive(a, bpub, params, s2, sizeof(s2));
	assert_int_equal(n1, 24);
	assert_int_equal(n2, 24);
	assert_memory_equal(s1, s2, n1);
	/* and not the plain secret cut short */
	assert_int_equal(plain_derive(a, bpub, NULL, s2, sizeof(s2)), 32);
	assert_memory_not_equal(s1, s2, 24);
	p11ca_prov_key_free(ka);
	p11ca_prov_key_free(kb);
	EVP_PKEY_free(b);
	EVP_PKEY_free(bpub);
}

static void test_refusals(void **state)
{
	OSSL_PARAM bad_kdf[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_EXCHANGE_PARAM_KDF_TYPE, (char *)"HKDF", 0),
		OSSL_PARAM_END,
	};
	EVP_PKEY *a = gen("P-256"), *c = gen("P-384"), *b = gen("P-256");
	EVP_PKEY *cpub = public_of(c), *bpub = public_of(b);
	struct p11ca_prov_key *ka = soft(a), *kc, *kb, *kbpub;
	unsigned char s[128];
	void *ctx;

	(void)state;
	assert_int_equal(EVP_PKEY_up_ref(cpub), 1);
	kc = soft(cpub);
	assert_int_equal(EVP_PKEY_up_ref(bpub), 1);
	kb = soft(bpub);
	assert_int_equal(EVP_PKEY_up_ref(bpub), 1);
	kbpub = soft(bpub);
	/* an unsupported KDF */
	ctx = x_newctx(prov);
	assert_int_equal(x_init(ctx, ka, bad_kdf), 0);
	x_freectx(ctx);
	/* a peer on another curve */
	ctx = x_newctx(prov);
	assert_int_equal(x_init(ctx, ka, NULL), 1);
	assert_int_equal(x_set_peer(ctx, kc), 0);
	x_freectx(ctx);
	/* a public key alone derives nothing */
	ERR_set_mark();
	assert_int_equal(our_derive(kbpub, kb, NULL, s, sizeof(s)), 0);
	ERR_pop_to_mark();
	p11ca_prov_key_free(ka);
	p11ca_prov_key_free(kc);
	p11ca_prov_key_free(kb);
	p11ca_prov_key_free(kbpub);
	EVP_PKEY_free(c);
	EVP_PKEY_free(cpub);
	EVP_PKEY_free(b);
	EVP_PKEY_free(bpub);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_soft_plain),
		cmocka_unit_test(test_soft_x963),
		cmocka_unit_test(test_refusals),
	};

	return cmocka_run_group_tests_name("test-provider-ecdh", tests, setup, teardown);
}

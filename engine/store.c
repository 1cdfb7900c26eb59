/*
 * store.c - OSSL_STORE loader for pkcs11: URIs.  Private keys are passed by
 * reference (to our keymgmt), public keys and certificates by value (DER),
 * so any provider can use them.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <openssl/core_object.h>
#include <openssl/store.h>
#include <openssl/x509.h>

#include "provider.h"

struct store_ctx {
	struct p11ca_prov *prov;
	char *uri;
	int expect; /* OSSL_STORE_INFO_* or 0 */
	int loaded; /* lookup done */
	int failed;
	struct p11ca_found *found;
	size_t count, next;
	struct p11ca_prov_key **keys; /* references handed out, freed at close */
	size_t nkeys;
};

DECL_DISPATCH_FUNC(store, p11ca_store, open);
static void *p11ca_store_open(void *provctx, const char *uri)
{
	struct store_ctx *sc;

	if (uri == NULL || strncmp(uri, "pkcs11:", 7) != 0)
		return NULL;
	if ((sc = calloc(1, sizeof(*sc))) == NULL)
		return NULL;
	sc->prov = provctx;
	if ((sc->uri = OPENSSL_strdup(uri)) == NULL) {
		free(sc);
		return NULL;
	}
	return sc;
}

DECL_DISPATCH_FUNC(store, p11ca_store, settable_ctx_params);
static const OSSL_PARAM *p11ca_store_settable_ctx_params(void *provctx)
{
	static const OSSL_PARAM params[] = {
		OSSL_PARAM_int(OSSL_STORE_PARAM_EXPECT, NULL),
		OSSL_PARAM_END,
	};
	return params;
}

DECL_DISPATCH_FUNC(store, p11ca_store, set_ctx_params);
static int p11ca_store_set_ctx_params(void *loaderctx, const OSSL_PARAM params[])
{
	struct store_ctx *sc = loaderctx;
	const OSSL_PARAM *p = OSSL_PARAM_locate_const(params, OSSL_STORE_PARAM_EXPECT);

	if (p != NULL && !OSSL_PARAM_get_int(p, &sc->expect))
		return RET_OSSL_ERR;
	return RET_OSSL_OK;
}

/* What to look for, from the expected type. */
static unsigned wanted_classes(int expect)
{
	switch (expect) {
	case OSSL_STORE_INFO_PKEY: return P11CA_LOOKUP_PRIVATE;
	case OSSL_STORE_INFO_PUBKEY: return P11CA_LOOKUP_PUBLIC | P11CA_LOOKUP_PRIVATE;
	case OSSL_STORE_INFO_CERT: return P11CA_LOOKUP_CERT;
	case 0: return P11CA_LOOKUP_PRIVATE | P11CA_LOOKUP_PUBLIC | P11CA_LOOKUP_CERT;
	default: return 0;
	}
}

static size_t count_class(struct store_ctx *sc, CK_OBJECT_CLASS k)
{
	size_t i, n = 0;

	for (i = 0; i < sc->count; i++)
		n += sc->found[i].klass == k;
	return n;
}

static int do_lookup(struct store_ctx *sc)
{
	p11ca_ctx *p11 = p11ca_prov_p11(sc->prov);
	CK_OBJECT_CLASS k;
	CK_RV rv;

	if (p11 == NULL)
		return 0;
	/* a public key from its public-key object, when there is one: no
	 * login (a login rewrites SoftHSM2's token files) */
	rv = CKR_OK;
	if (sc->expect == OSSL_STORE_INFO_PUBKEY)
		rv = p11ca_lookup(p11, sc->uri, P11CA_LOOKUP_PUBLIC, &sc->found, &sc->count);
	if (rv != CKR_OK || sc->count == 0) {
		p11ca_found_free(sc->found, sc->count);
		sc->found = NULL;
		sc->count = 0;
		rv = p11ca_lookup(p11, sc->uri, wanted_classes(sc->expect), &sc->found, &sc->count);
	}
	if (rv != CKR_OK) {
		P11CA_PROV_RAISE_RV(sc->prov, rv);
		return 0;
	}
	if (sc->count == 0) {
		char safe[600];
		P11CA_PROV_RAISE(sc->prov, P11CA_PROV_R_NOT_FOUND, "nothing matches %s",
		                 p11ca_uri_redact(sc->uri, safe, sizeof(safe)));
		return 0;
	}
	/* one key or certificate is what a pkcs11: URI is meant to name */
	for (k = CKO_CERTIFICATE; k <= CKO_PRIVATE_KEY; k++) {
		size_t i, n = count_class(sc, k);
		char names[512] = "";
		if (n <= 1)
			continue;
		for (i = 0; i < sc->count; i++) {
			if (sc->found[i].klass != k)
				continue;
			if (strlen(names) + strlen(sc->found[i].label) + 4 < sizeof(names))
				snprintf(names + strlen(names), sizeof(names) - strlen(names),
				         "%s'%s'", names[0] ? ", " : "", sc->found[i].label);
		}
		char safe[600];
		P11CA_PROV_RAISE(sc->prov, P11CA_PROV_R_AMBIGUOUS,
		                 "%s matches %zu %s: %s; add object= or id=",
		                 p11ca_uri_redact(sc->uri, safe, sizeof(safe)), n,
		                 k == CKO_PRIVATE_KEY  ? "private keys"
		                 : k == CKO_PUBLIC_KEY ? "public keys"
		                                       : "certificates",
		                 names);
		return 0;
	}
	return 1;
}

static int emit_der(OSSL_CALLBACK *cb, void *cbarg, int type, const char *data_type,
                    const char *structure, unsigned char *der, int derlen, const char *desc)
{
	OSSL_PARAM params[6];
	int n = 0, ret;

	params[n++] = OSSL_PARAM_construct_int(OSSL_OBJECT_PARAM_TYPE, &type);
	if (data_type != NULL)
		params[n++] = OSSL_PARAM_construct_utf8_string(OSSL_OBJECT_PARAM_DATA_TYPE,
		                                               (char *)data_type, 0);
	if (structure != NULL)
		params[n++] = OSSL_PARAM_construct_utf8_string(OSSL_OBJECT_PARAM_DATA_STRUCTURE,
		                                               (char *)structure, 0);
	params[n++] =
	    OSSL_PARAM_construct_octet_string(OSSL_OBJECT_PARAM_DATA, der, (size_t)derlen);
	params[n++] = OSSL_PARAM_construct_utf8_string(OSSL_OBJECT_PARAM_DESC, (char *)desc, 0);
	params[n] = OSSL_PARAM_construct_end();
	ret = cb(params, cbarg);
	OPENSSL_free(der);
	return ret;
}

static int emit_private(struct store_ctx *sc, struct p11ca_found *f, OSSL_CALLBACK *cb, void *cbarg)
{
	struct p11ca_prov_key *pk, **nk;
	EVP_PKEY *pub = NULL;
	OSSL_PARAM params[5];
	int type = OSSL_OBJECT_PKEY;
	CK_RV rv;

	if ((rv = p11ca_key_get_public(f->key, &pub)) != CKR_OK) {
		/* No public half on the token (no public-key object, no
		 * CKA_PUBLIC_KEY_INFO, no certificate): the key still signs, and
		 * learns its public half when matched with its certificate. */
		if (rv != P11CA_R_NOT_FOUND || sc->expect == OSSL_STORE_INFO_PUBKEY) {
			P11CA_PROV_RAISE_RV(sc->prov, rv);
			return 0;
		}
		pub = NULL;
	}
	if (sc->expect == OSSL_STORE_INFO_PUBKEY) {
		/* asked for the public key: its public half, by value */
		unsigned char *der = NULL;
		int len = i2d_PUBKEY(pub, &der);
		EVP_PKEY_free(pub);
		if (len <= 0)
			return 0;
		return emit_der(cb, cbarg, OSSL_OBJECT_PKEY, NULL, "SubjectPublicKeyInfo", der, len,
		                f->label);
	}
	pk = p11ca_prov_key_new(sc->prov, p11ca_prov_keytype_of(f->key, pub), p11ca_key_ref(f->key),
	                        pub);
	if (pk == NULL)
		return 0;
	nk = realloc(sc->keys, (sc->nkeys + 1) * sizeof(*nk));
	if (nk == NULL) {
		p11ca_prov_key_free(pk);
		return 0;
	}
	sc->keys = nk;
	sc->keys[sc->nkeys++] = pk; /* the store holds this reference until close */
	params[0] = OSSL_PARAM_construct_int(OSSL_OBJECT_PARAM_TYPE, &type);
	params[1] = OSSL_PARAM_construct_utf8_string(OSSL_OBJECT_PARAM_DATA_TYPE,
	                                             (char *)p11ca_prov_key_type_name(pk->type), 0);
	params[2] = OSSL_PARAM_construct_octet_string(OSSL_OBJECT_PARAM_REFERENCE, &pk, sizeof(pk));
	params[3] = OSSL_PARAM_construct_utf8_string(OSSL_OBJECT_PARAM_DESC, f->label, 0);
	params[4] = OSSL_PARAM_construct_end();
	return cb(params, cbarg);
}

DECL_DISPATCH_FUNC(store, p11ca_store, load);
static int p11ca_store_load(void *loaderctx, OSSL_CALLBACK *object_cb, void *object_cbarg,
                            OSSL_PASSPHRASE_CALLBACK *pw_cb, void *pw_cbarg)
{
	struct store_ctx *sc = loaderctx;
	int have_private;

	if (!sc->loaded) {
		sc->loaded = 1;
		if (!do_lookup(sc)) {
			sc->failed = 1;
			return RET_OSSL_ERR;
		}
	}
	have_private = count_class(sc, CKO_PRIVATE_KEY) > 0;
	while (sc->next < sc->count) {
		struct p11ca_found *f = &sc->found[sc->next++];
		unsigned char *der = NULL;
		int len;

		switch (f->klass) {
		case CKO_PRIVATE_KEY: return emit_private(sc, f, object_cb, object_cbarg);
		case CKO_PUBLIC_KEY:
			/* the private key already stands for the pair */
			if (have_private)
				continue;
			len = i2d_PUBKEY(f->pub, &der);
			if (len <= 0)
				return RET_OSSL_ERR;
			return emit_der(object_cb, object_cbarg, OSSL_OBJECT_PKEY, NULL,
			                "SubjectPublicKeyInfo", der, len, f->label);
		case CKO_CERTIFICATE:
			len = i2d_X509(f->cert, &der);
			if (len <= 0)
				return RET_OSSL_ERR;
			return emit_der(object_cb, object_cbarg, OSSL_OBJECT_CERT, "CERTIFICATE",
			                NULL, der, len, f->label);
		default: continue;
		}
	}
	return RET_OSSL_OK;
}

DECL_DISPATCH_FUNC(store, p11ca_store, eof);
static int p11ca_store_eof(void *loaderctx)
{
	struct store_ctx *sc = loaderctx;

	return sc->failed || (sc->loaded && sc->next >= sc->count);
}

DECL_DISPATCH_FUNC(store, p11ca_store, close);
static int p11ca_store_close(void *loaderctx)
{
	struct store_ctx *sc = loaderctx;
	size_t i;

	if (sc == NULL)
		return RET_OSSL_OK;
	for (i = 0; i < sc->nkeys; i++)
		p11ca_prov_key_free(sc->keys[i]);
	free(sc->keys);
	p11ca_found_free(sc->found, sc->count);
	OPENSSL_clear_free(sc->uri, strlen(sc->uri)); /* may hold a pin-value */
	free(sc);
	return RET_OSSL_OK;
}

const OSSL_DISPATCH p11ca_prov_store_functions[] = {
	{ OSSL_FUNC_STORE_OPEN, (void (*)(void))p11ca_store_open },
	{ OSSL_FUNC_STORE_SETTABLE_CTX_PARAMS, (void (*)(void))p11ca_store_settable_ctx_params },
	{ OSSL_FUNC_STORE_SET_CTX_PARAMS, (void (*)(void))p11ca_store_set_ctx_params },
	{ OSSL_FUNC_STORE_LOAD, (void (*)(void))p11ca_store_load },
	{ OSSL_FUNC_STORE_EOF, (void (*)(void))p11ca_store_eof },
	{ OSSL_FUNC_STORE_CLOSE, (void (*)(void))p11ca_store_close },
	{ 0, NULL },
};

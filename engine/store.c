/*
 * store.c - OSSL_STORE loader for pkcs11: URIs.  The STORE enumerates: every
 * object of every token the URI names goes to OpenSSL (refusing a URI that
 * names several keys is the p11ca command's business, p11ca_key_find).
 * Private keys are passed by reference (to our keymgmt), public keys and
 * certificates by value (DER), so any provider can use them.  Search
 * criteria (subject, issuer + serial, fingerprint) select certificates.
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
	int unique; /* P11CA_PROV_STORE_PARAM_UNIQUE */
	/* search criteria (OSSL_STORE_find), DER */
	unsigned char *subject, *issuer, *serial, *fingerprint;
	size_t subject_len, issuer_len, serial_len, fingerprint_len;
	EVP_MD *digest;
	int loaded; /* lookup done */
	int failed; /* the lookup failed (the load said so) ... */
	int done;   /* ... and the next load ended the store */
	struct p11ca_found *found;
	size_t count, next;
	int halves;          /* a private key without public-key object gives its public half */
	EVP_PKEY *half;      /* such a half, handed out next */
	const char *half_of; /* its private key's label (in found[]) */
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
	/* OSSL_STORE_supports_search() looks for SUBJECT, ISSUER + SERIAL,
	 * FINGERPRINT here */
	static const OSSL_PARAM params[] = {
		OSSL_PARAM_int(OSSL_STORE_PARAM_EXPECT, NULL),
		OSSL_PARAM_int(P11CA_PROV_STORE_PARAM_UNIQUE, NULL),
		OSSL_PARAM_octet_string(OSSL_STORE_PARAM_SUBJECT, NULL, 0),
		OSSL_PARAM_octet_string(OSSL_STORE_PARAM_ISSUER, NULL, 0),
		OSSL_PARAM_BN(OSSL_STORE_PARAM_SERIAL, NULL, 0),
		OSSL_PARAM_utf8_string(OSSL_STORE_PARAM_DIGEST, NULL, 0),
		OSSL_PARAM_octet_string(OSSL_STORE_PARAM_FINGERPRINT, NULL, 0),
		OSSL_PARAM_END,
	};
	return params;
}

/* Copies the octet string @p into *pv, *plen (replacing what was there). */
static int get_octets(const OSSL_PARAM *p, unsigned char **pv, size_t *plen)
{
	void *v = NULL;
	size_t len = 0;

	if (p == NULL)
		return 1;
	if (!OSSL_PARAM_get_octet_string(p, &v, 0, &len) || len == 0) {
		OPENSSL_free(v);
		return 0;
	}
	OPENSSL_free(*pv);
	*pv = v;
	*plen = len;
	return 1;
}

/* The serial number as a DER INTEGER (CKA_SERIAL_NUMBER). */
static int get_serial(const OSSL_PARAM *p, unsigned char **pv, size_t *plen)
{
	BIGNUM *bn = NULL;
	ASN1_INTEGER *ai = NULL;
	unsigned char *der = NULL;
	int len = 0;

	if (p == NULL)
		return 1;
	if (OSSL_PARAM_get_BN(p, &bn) && (ai = BN_to_ASN1_INTEGER(bn, NULL)) != NULL)
		len = i2d_ASN1_INTEGER(ai, &der);
	BN_free(bn);
	ASN1_INTEGER_free(ai);
	if (len <= 0)
		return 0;
	OPENSSL_free(*pv);
	*pv = der;
	*plen = (size_t)len;
	return 1;
}

DECL_DISPATCH_FUNC(store, p11ca_store, set_ctx_params);
static int p11ca_store_set_ctx_params(void *loaderctx, const OSSL_PARAM params[])
{
	struct store_ctx *sc = loaderctx;
	const OSSL_PARAM *p;
	const char *name = NULL;

	if (params == NULL)
		return RET_OSSL_OK;
	if ((p = OSSL_PARAM_locate_const(params, OSSL_STORE_PARAM_EXPECT)) != NULL &&
	    !OSSL_PARAM_get_int(p, &sc->expect))
		goto bad;
	if ((p = OSSL_PARAM_locate_const(params, P11CA_PROV_STORE_PARAM_UNIQUE)) != NULL &&
	    !OSSL_PARAM_get_int(p, &sc->unique))
		goto bad;
	if (!get_octets(OSSL_PARAM_locate_const(params, OSSL_STORE_PARAM_SUBJECT), &sc->subject,
	                &sc->subject_len) ||
	    !get_octets(OSSL_PARAM_locate_const(params, OSSL_STORE_PARAM_ISSUER), &sc->issuer,
	                &sc->issuer_len) ||
	    !get_serial(OSSL_PARAM_locate_const(params, OSSL_STORE_PARAM_SERIAL), &sc->serial,
	                &sc->serial_len) ||
	    !get_octets(OSSL_PARAM_locate_const(params, OSSL_STORE_PARAM_FINGERPRINT),
	                &sc->fingerprint, &sc->fingerprint_len))
		goto bad;
	if ((p = OSSL_PARAM_locate_const(params, OSSL_STORE_PARAM_DIGEST)) != NULL) {
		EVP_MD *md;
		if (!OSSL_PARAM_get_utf8_string_ptr(p, &name) ||
		    (md = EVP_MD_fetch(sc->prov->libctx, name, P11CA_PROV_PROPQ)) == NULL) {
			P11CA_PROV_RAISE(sc->prov, P11CA_PROV_R_BAD_PARAM,
			                 "unknown digest '%s' for the fingerprint",
			                 name ? name : "");
			return RET_OSSL_ERR;
		}
		EVP_MD_free(sc->digest);
		sc->digest = md;
	}
	return RET_OSSL_OK;
bad:
	P11CA_PROV_RAISE(
	    sc->prov, P11CA_PROV_R_BAD_PARAM,
	    "malformed store parameter (expect, subject, issuer, serial or fingerprint)");
	return RET_OSSL_ERR;
}

/* Whether the URI's path has attribute @name (before any '?'). */
static int uri_has_attr(const char *uri, const char *name, const char *value)
{
	size_t nlen = strlen(name);
	const char *p = uri + 7, *end = p + strcspn(p, "?");

	while (p < end) {
		size_t len = strcspn(p, ";?");
		if (len > nlen && strncmp(p, name, nlen) == 0 && p[nlen] == '=' &&
		    (value == NULL || (len - nlen - 1 == strlen(value) &&
		                       strncmp(p + nlen + 1, value, len - nlen - 1) == 0)))
			return 1;
		p += len;
		if (*p == ';')
			p++;
	}
	return 0;
}

/* A URI naming one object (object= or id=), not a listing. */
static int names_object(const struct store_ctx *sc)
{
	return uri_has_attr(sc->uri, "object", NULL) || uri_has_attr(sc->uri, "id", NULL);
}

static int searching(const struct store_ctx *sc)
{
	return sc->subject != NULL || sc->issuer != NULL || sc->serial != NULL ||
	       sc->fingerprint != NULL;
}

/* What to look for, from the expected type. */
static unsigned wanted_classes(int expect)
{
	switch (expect) {
	case OSSL_STORE_INFO_PKEY: return P11CA_LOOKUP_PRIVATE;
	case OSSL_STORE_INFO_PUBKEY: return P11CA_LOOKUP_PUBLIC | P11CA_LOOKUP_PRIVATE;
	case OSSL_STORE_INFO_CERT: return P11CA_LOOKUP_CERT;
	case 0: return P11CA_LOOKUP_PRIVATE | P11CA_LOOKUP_PUBLIC | P11CA_LOOKUP_CERT;
	default: return 0; /* parameters, CRLs: none on a token */
	}
}

static size_t count_class(struct store_ctx *sc, CK_OBJECT_CLASS k)
{
	size_t i, n = 0;

	for (i = 0; i < sc->count; i++)
		n += sc->found[i].klass == k;
	return n;
}

/* With P11CA_PROV_STORE_PARAM_UNIQUE: one key or certificate is meant. */
static int refuse_several(struct store_ctx *sc)
{
	CK_OBJECT_CLASS k;

	for (k = CKO_CERTIFICATE; k <= CKO_PRIVATE_KEY; k++) {
		size_t i, n = count_class(sc, k);
		char names[512] = "", safe[600];
		if (n <= 1)
			continue;
		for (i = 0; i < sc->count; i++) {
			if (sc->found[i].klass != k)
				continue;
			if (strlen(names) + strlen(sc->found[i].label) + 4 < sizeof(names))
				snprintf(names + strlen(names), sizeof(names) - strlen(names),
				         "%s'%s'", names[0] ? ", " : "", sc->found[i].label);
		}
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

static CK_RV lookup(struct store_ctx *sc, p11ca_ctx *p11, unsigned classes)
{
	struct p11ca_lookup_search q;

	memset(&q, 0, sizeof(q));
	q.subject = sc->subject;
	q.subject_len = sc->subject_len;
	q.issuer = sc->issuer;
	q.issuer_len = sc->issuer_len;
	q.serial = sc->serial;
	q.serial_len = sc->serial_len;
	q.digest = sc->digest;
	q.fingerprint = sc->fingerprint;
	q.fingerprint_len = sc->fingerprint_len;
	/* the STORE enumerates: every token the URI names, every match */
	q.flags = sc->unique ? 0 : P11CA_SEARCH_ALL_TOKENS;
	p11ca_found_free(sc->found, sc->count);
	sc->found = NULL;
	sc->count = 0;
	return p11ca_lookup_ex(p11, sc->uri, classes, &q, &sc->found, &sc->count);
}

static int do_lookup(struct store_ctx *sc)
{
	p11ca_ctx *p11;
	unsigned classes = wanted_classes(sc->expect);
	CK_RV rv = CKR_OK;

	if (classes == 0)
		return 1;
	if ((p11 = p11ca_prov_p11(sc->prov)) == NULL)
		return 0;
	/* a public key named by the URI from its public-key object, when
	 * there is one: no login (a login rewrites SoftHSM2's token files) */
	if (sc->expect == OSSL_STORE_INFO_PUBKEY && names_object(sc))
		rv = lookup(sc, p11, P11CA_LOOKUP_PUBLIC);
	if (rv != CKR_OK || sc->count == 0)
		rv = lookup(sc, p11, classes);
	if (rv != CKR_OK) {
		P11CA_PROV_RAISE_RV(sc->prov, rv);
		return 0;
	}
	/*
	 * Private keys without a public-key object give their public half,
	 * where public keys are asked for: expected, or listed along (no
	 * type= or type=public in the URI; type=private lists private keys).
	 */
	sc->halves = sc->expect == OSSL_STORE_INFO_PUBKEY ||
	             (sc->expect == 0 && !uri_has_attr(sc->uri, "type", "private"));
	if (sc->unique && !refuse_several(sc))
		return 0;
	if (sc->count == 0 && names_object(sc) && !searching(sc)) {
		/* one object was meant: say that it is not there (a listing or
		 * a search that finds nothing is just empty) */
		char safe[600];
		P11CA_PROV_RAISE(sc->prov, P11CA_PROV_R_NOT_FOUND, "nothing matches %s",
		                 p11ca_uri_redact(sc->uri, safe, sizeof(safe)));
		return 0;
	}
	return 1;
}

/* Whether the token has a public-key object for @pub among the matches. */
static int has_public_object(struct store_ctx *sc, EVP_PKEY *pub)
{
	size_t i;

	for (i = 0; i < sc->count; i++)
		if (sc->found[i].klass == CKO_PUBLIC_KEY && EVP_PKEY_eq(sc->found[i].pub, pub) == 1)
			return 1;
	return 0;
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

/* A public key by value: SubjectPublicKeyInfo, made a public-only key. */
static int emit_public(OSSL_CALLBACK *cb, void *cbarg, EVP_PKEY *pub, const char *label)
{
	unsigned char *der = NULL;
	int len = i2d_PUBKEY(pub, &der);

	if (len <= 0)
		return RET_OSSL_ERR;
	return emit_der(cb, cbarg, OSSL_OBJECT_PKEY, NULL, "SubjectPublicKeyInfo", der, len, label);
}

/*
 * A private key: by reference to our keymgmt, or (public keys expected)
 * its public half by value.  A half to hand out after it is left in
 * sc->half.  Returns 1 with *pemitted when an object went to @cb.
 */
static int emit_private(struct store_ctx *sc, struct p11ca_found *f, OSSL_CALLBACK *cb, void *cbarg,
                        int *pemitted)
{
	struct p11ca_prov_key *pk, **nk;
	EVP_PKEY *pub = NULL;
	OSSL_PARAM params[5];
	int type = OSSL_OBJECT_PKEY, ret;
	CK_RV rv;

	*pemitted = 0;
	if ((rv = p11ca_key_get_public(f->key, &pub)) != CKR_OK) {
		/* No public half on the token (no public-key object, no
		 * CKA_PUBLIC_KEY_INFO, no certificate): the key still signs, and
		 * learns its public half when matched with its certificate. */
		if (rv != P11CA_R_NOT_FOUND) {
			P11CA_PROV_RAISE_RV(sc->prov, rv);
			return RET_OSSL_ERR;
		}
		pub = NULL;
	}
	if (sc->expect == OSSL_STORE_INFO_PUBKEY) {
		/* asked for public keys: its half, unless its public-key
		 * object is listed anyway */
		ret = RET_OSSL_OK;
		if (pub != NULL && !has_public_object(sc, pub)) {
			ret = emit_public(cb, cbarg, pub, f->label);
			*pemitted = 1;
		}
		EVP_PKEY_free(pub);
		return ret;
	}
	if (sc->halves && pub != NULL && !has_public_object(sc, pub) && EVP_PKEY_up_ref(pub) == 1) {
		sc->half = pub;
		sc->half_of = f->label;
	}
	pk = p11ca_prov_key_new(sc->prov, p11ca_prov_keytype_of(f->key, pub), p11ca_key_ref(f->key),
	                        pub);
	if (pk == NULL)
		return RET_OSSL_ERR;
	nk = realloc(sc->keys, (sc->nkeys + 1) * sizeof(*nk));
	if (nk == NULL) {
		p11ca_prov_key_free(pk);
		return RET_OSSL_ERR;
	}
	sc->keys = nk;
	sc->keys[sc->nkeys++] = pk; /* the store holds this reference until close */
	params[0] = OSSL_PARAM_construct_int(OSSL_OBJECT_PARAM_TYPE, &type);
	params[1] = OSSL_PARAM_construct_utf8_string(OSSL_OBJECT_PARAM_DATA_TYPE,
	                                             (char *)p11ca_prov_key_type_name(pk->type), 0);
	params[2] = OSSL_PARAM_construct_octet_string(OSSL_OBJECT_PARAM_REFERENCE, &pk, sizeof(pk));
	params[3] = OSSL_PARAM_construct_utf8_string(OSSL_OBJECT_PARAM_DESC, f->label, 0);
	params[4] = OSSL_PARAM_construct_end();
	*pemitted = 1;
	return cb(params, cbarg);
}

/*
 * Hands OpenSSL the next object, one per call: private keys first (a
 * program that takes the first key gets the private one), the public half
 * of a private key without public-key object after it, then public keys
 * and certificates.  What was not asked for (OSSL_STORE_PARAM_EXPECT) is
 * not handed out.
 */
DECL_DISPATCH_FUNC(store, p11ca_store, load);
static int p11ca_store_load(void *loaderctx, OSSL_CALLBACK *object_cb, void *object_cbarg,
                            OSSL_PASSPHRASE_CALLBACK *pw_cb, void *pw_cbarg)
{
	struct store_ctx *sc = loaderctx;

	if (sc->failed) {
		/* eof stayed false for that failure, so that OpenSSL counts it
		 * as an error (storeutl exits non-zero): now it is the end */
		sc->done = 1;
		return RET_OSSL_OK;
	}
	if (!sc->loaded) {
		sc->loaded = 1;
		if (!do_lookup(sc)) {
			sc->failed = 1;
			return RET_OSSL_ERR;
		}
	}
	if (sc->half != NULL) {
		EVP_PKEY *pub = sc->half;
		int ret;
		sc->half = NULL;
		ret = emit_public(object_cb, object_cbarg, pub, sc->half_of);
		EVP_PKEY_free(pub);
		return ret;
	}
	while (sc->next < sc->count) {
		struct p11ca_found *f = &sc->found[sc->next++];
		unsigned char *der = NULL;
		int len, ret, emitted;

		switch (f->klass) {
		case CKO_PRIVATE_KEY:
			if (sc->expect != 0 && sc->expect != OSSL_STORE_INFO_PKEY &&
			    sc->expect != OSSL_STORE_INFO_PUBKEY)
				continue;
			ret = emit_private(sc, f, object_cb, object_cbarg, &emitted);
			if (ret != RET_OSSL_OK || emitted)
				return ret;
			continue;
		case CKO_PUBLIC_KEY:
			if (sc->expect != 0 && sc->expect != OSSL_STORE_INFO_PUBKEY)
				continue;
			return emit_public(object_cb, object_cbarg, f->pub, f->label);
		case CKO_CERTIFICATE:
			if (sc->expect != 0 && sc->expect != OSSL_STORE_INFO_CERT)
				continue;
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

	return sc->done || (sc->loaded && !sc->failed && sc->next >= sc->count && sc->half == NULL);
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
	EVP_PKEY_free(sc->half);
	p11ca_found_free(sc->found, sc->count);
	OPENSSL_free(sc->subject);
	OPENSSL_free(sc->issuer);
	OPENSSL_free(sc->serial);
	OPENSSL_free(sc->fingerprint);
	EVP_MD_free(sc->digest);
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

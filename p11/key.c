/* key.c - private key references: find, generate, public half, certificates. */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <openssl/core_names.h>
#include <openssl/rand.h>

#include "internal.h"

static CK_OBJECT_CLASS cls_priv = CKO_PRIVATE_KEY;
static CK_OBJECT_CLASS cls_pub = CKO_PUBLIC_KEY;
static CK_OBJECT_CLASS cls_cert = CKO_CERTIFICATE;

P11CA_EXPORT void p11ca_key_free(p11ca_key *key)
{
	if (key == NULL || __atomic_sub_fetch(&key->refs, 1, __ATOMIC_ACQ_REL) != 0)
		return;
	EVP_PKEY_free(key->pub);
	pthread_mutex_destroy(&key->lock);
	free(key->allowed);
	free(key->id);
	free(key->label);
	free(key);
}

P11CA_EXPORT p11ca_key *p11ca_key_ref(p11ca_key *key)
{
	if (key != NULL)
		__atomic_add_fetch(&key->refs, 1, __ATOMIC_ACQ_REL);
	return key;
}

CK_RV p11ca_key_from_handle(p11ca_token *t, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h,
                            p11ca_key **pkey)
{
	CK_KEY_TYPE kt = (CK_KEY_TYPE)-1;
	CK_ATTRIBUTE a = { CKA_KEY_TYPE, &kt, sizeof(kt) };
	unsigned char *v = NULL;
	CK_ULONG vlen = 0;
	p11ca_key *key;
	CK_RV rv;

	if ((rv = t->mod->fl->C_GetAttributeValue(s, h, &a, 1)) != CKR_OK)
		return rv;
	key = calloc(1, sizeof(*key));
	if (key == NULL)
		return CKR_HOST_MEMORY;
	key->refs = 1;
	key->token = t;
	key->handle = h;
	pthread_mutex_lock(&t->lock);
	key->handle_generation = t->generation; /* the session's: it is lent now */
	pthread_mutex_unlock(&t->lock);
	key->key_type = kt;
	pthread_mutex_init(&key->lock, NULL);
	if (p11ca_attr_get(t, s, h, CKA_ID, &key->id, &vlen) == CKR_OK)
		key->id_len = vlen;
	if (p11ca_attr_get(t, s, h, CKA_LABEL, &v, &vlen) == CKR_OK) {
		key->label = strndup((char *)v, vlen);
		free(v);
		v = NULL;
	}
	key->can_decrypt = p11ca_attr_bool(t, s, h, CKA_DECRYPT) == 1;
	key->always_authenticate = p11ca_attr_bool(t, s, h, CKA_ALWAYS_AUTHENTICATE) == 1;
	p11ca_key_read_allowed(t, s, key);
	switch (kt) {
	case CKK_RSA:
		key->kind = P11CA_KEY_RSA;
		if (p11ca_attr_get(t, s, h, CKA_MODULUS, &v, &vlen) == CKR_OK) {
			CK_ULONG i = 0;
			while (i < vlen && v[i] == 0)
				i++;
			key->bits = (int)((vlen - i) * 8);
		}
		break;
	case CKK_EC:
		key->kind = P11CA_KEY_EC;
		if (p11ca_attr_get(t, s, h, CKA_EC_PARAMS, &v, &vlen) == CKR_OK &&
		    (key->group = p11ca_ec_params_group(v, vlen, &key->bits)) == NULL) {
			rv =
			    p11ca_err(P11CA_R_UNSUPPORTED, "key '%s' is on an unsupported EC curve",
			              key->label ? key->label : "");
		}
		break;
	case CKK_EC_EDWARDS:
		key->kind = P11CA_KEY_ED25519;
		key->bits = 256;
		break;
	default:
		rv = p11ca_err(P11CA_R_UNSUPPORTED, "key type 0x%lx is not supported",
		               (unsigned long)kt);
	}
	free(v);
	if (rv == CKR_OK && key->bits == 0)
		rv = p11ca_err(P11CA_R_UNSUPPORTED,
		               "the size of key '%s' cannot be read from the token",
		               key->label ? key->label : "");
	if (rv != CKR_OK) {
		p11ca_key_free(key);
		return rv;
	}
	if (key->label == NULL)
		key->label = strdup("");
	*pkey = key;
	return CKR_OK;
}

CK_RV p11ca_key_refind(p11ca_key *key, CK_SESSION_HANDLE s, unsigned gen)
{
	CK_ATTRIBUTE tmpl[3] = {
		{ CKA_CLASS, &cls_priv, sizeof(cls_priv) },
		{ CKA_ID, key->id, key->id_len },
		{ CKA_LABEL, key->label, key->label ? strlen(key->label) : 0 },
	};
	CK_OBJECT_HANDLE *hs = NULL;
	CK_ULONG n = 0;
	CK_RV rv;

	/* CKA_ID identifies it; the label only when there is no id */
	rv = p11ca_find_objects(key->token, s, tmpl, key->id_len ? 2 : 3, &hs, &n);
	if (rv != CKR_OK)
		return rv;
	if (n != 1) {
		free(hs);
		return p11ca_err(n == 0 ? P11CA_R_NOT_FOUND : P11CA_R_AMBIGUOUS,
		                 "key '%s' %s on token '%s'", key->label,
		                 n == 0 ? "is no longer" : "is not unique any more",
		                 key->token->info.label);
	}
	/* read without a lock on the signing path: atomic stores */
	__atomic_store_n(&key->handle, hs[0], __ATOMIC_RELEASE);
	__atomic_store_n(&key->handle_generation, gen, __ATOMIC_RELEASE);
	free(hs);
	return CKR_OK;
}

/* ---- finding ---- */

P11CA_EXPORT CK_RV p11ca_key_find(p11ca_ctx *ctx, const char *uristr, p11ca_key **pkey)
{
	struct p11ca_found *found = NULL;
	char cands[700] = "";
	size_t n = 0, i;
	CK_RV rv;

	*pkey = NULL;
	if ((rv = p11ca_lookup(ctx, uristr, P11CA_LOOKUP_PRIVATE, &found, &n)) != CKR_OK)
		return rv;
	if (n == 1) {
		*pkey = found[0].key;
		found[0].key = NULL; /* transferred */
	} else if (n == 0) {
		rv = p11ca_err(P11CA_R_NOT_FOUND, "no private key matches %s%s",
		               p11ca_uri_safe(uristr), p11ca_uri_comma_hint(uristr));
	} else {
		for (i = 0; i < n && i < 8; i++) {
			size_t len = strlen(cands), idlen, j;
			const unsigned char *id = p11ca_key_get_id(found[i].key, &idlen);
			snprintf(cands + len, sizeof(cands) - len, "%s'%s' id=", len ? ", " : "",
			         found[i].label);
			for (j = 0; j < idlen && j < 8; j++) {
				len = strlen(cands);
				snprintf(cands + len, sizeof(cands) - len, "%02x", id[j]);
			}
		}
		rv = p11ca_err(P11CA_R_AMBIGUOUS,
		               "%s matches %zu private keys: %s; add object= or id=",
		               p11ca_uri_safe(uristr), n, cands);
	}
	p11ca_found_free(found, n);
	return rv;
}

/* ---- accessors ---- */

P11CA_EXPORT enum p11ca_key_kind p11ca_key_get_kind(const p11ca_key *key)
{
	return key->kind;
}

P11CA_EXPORT int p11ca_key_get_bits(const p11ca_key *key)
{
	return key->bits;
}

P11CA_EXPORT const char *p11ca_key_get_group(const p11ca_key *key)
{
	return key->group;
}

P11CA_EXPORT const char *p11ca_key_get_label(const p11ca_key *key)
{
	return key->label;
}

P11CA_EXPORT const unsigned char *p11ca_key_get_id(const p11ca_key *key, size_t *plen)
{
	*plen = key->id_len;
	return key->id;
}

P11CA_EXPORT p11ca_token *p11ca_key_get_token(const p11ca_key *key)
{
	return key->token;
}

P11CA_EXPORT int p11ca_key_can_decrypt(const p11ca_key *key)
{
	return key->can_decrypt;
}

P11CA_EXPORT char *p11ca_key_get_uri(const p11ca_key *key)
{
	return p11ca_uri_for_object(key->token, CKO_PRIVATE_KEY, key->label, key->id, key->id_len);
}

P11CA_EXPORT size_t p11ca_key_max_signature_size(const p11ca_key *key)
{
	switch (key->kind) {
	case P11CA_KEY_RSA: return (size_t)(key->bits + 7) / 8;
	case P11CA_KEY_EC: {
		/* SEQUENCE { INTEGER r, INTEGER s }: each at most the order's
		 * bytes plus a 0x00 (what OpenSSL's ECDSA_size says: 72/104/139) */
		size_t n = (size_t)key->bits / 8 + 1, seq = 2 * (2 + n);
		return seq + (seq < 128 ? 2 : 3);
	}
	case P11CA_KEY_ED25519: return 64;
	default: return 0;
	}
}

/* ---- the public half ---- */

/*
 * Whether @pub can be the public half of @key.  Objects are matched by
 * CKA_ID, and ids are not unique (tools reuse "01", certificates go stale):
 * RSA must have the private key's modulus, EC its curve, and a key must be
 * of the private key's type.  (Ed25519 private keys show nothing to compare.)
 */
static int pub_fits(p11ca_token *t, CK_SESSION_HANDLE s, p11ca_key *key, EVP_PKEY *pub)
{
	int ok = 0;

	switch (key->kind) {
	case P11CA_KEY_RSA: {
		unsigned char *m = NULL;
		CK_ULONG mlen = 0;
		BIGNUM *n = NULL, *pn = NULL;
		if (!EVP_PKEY_is_a(pub, "RSA") && !EVP_PKEY_is_a(pub, "RSA-PSS"))
			return 0;
		if (p11ca_attr_get(t, s, key->handle, CKA_MODULUS, &m, &mlen) != CKR_OK)
			return EVP_PKEY_get_bits(pub) == key->bits; /* modulus hidden: size only */
		n = BN_bin2bn(m, (int)mlen, NULL);
		ok = n != NULL && EVP_PKEY_get_bn_param(pub, OSSL_PKEY_PARAM_RSA_N, &pn) == 1 &&
		     BN_cmp(n, pn) == 0;
		BN_free(n);
		BN_free(pn);
		free(m);
		return ok;
	}
	case P11CA_KEY_EC: {
		char group[64];
		size_t glen = 0;
		return EVP_PKEY_is_a(pub, "EC") && key->group != NULL &&
		       EVP_PKEY_get_utf8_string_param(pub, OSSL_PKEY_PARAM_GROUP_NAME, group,
		                                      sizeof(group), &glen) == 1 &&
		       strcmp(group, key->group) == 0;
	}
	case P11CA_KEY_ED25519: return EVP_PKEY_is_a(pub, "ED25519");
	default: return 0;
	}
}

static CK_RV public_op(p11ca_token *t, CK_SESSION_HANDLE s, p11ca_key *key, void *data)
{
	EVP_PKEY **ppub = data, *cand = NULL;
	CK_ATTRIBUTE tmpl[2] = {
		{ CKA_CLASS, &cls_pub, sizeof(cls_pub) },
		{ CKA_ID, key->id, key->id_len },
	};
	CK_OBJECT_HANDLE *hs = NULL;
	CK_ULONG n = 0, i;
	unsigned char *v = NULL;
	CK_ULONG vlen = 0;
	const unsigned char *p;
	CK_RV rv;

	*ppub = NULL;
	/* 1. CKA_PUBLIC_KEY_INFO on the private key itself */
	if (p11ca_attr_get(t, s, key->handle, CKA_PUBLIC_KEY_INFO, &v, &vlen) == CKR_OK &&
	    vlen > 0) {
		p = v;
		cand = d2i_PUBKEY_ex(NULL, &p, (long)vlen, t->ctx->libctx, t->ctx->propq);
		if (cand != NULL && pub_fits(t, s, key, cand)) {
			*ppub = cand;
			free(v);
			return CKR_OK;
		}
		EVP_PKEY_free(cand);
	}
	free(v);
	v = NULL;
	/* 2. a public-key object with the same id (that fits) */
	if (key->id_len > 0 && p11ca_find_objects(t, s, tmpl, 2, &hs, &n) == CKR_OK) {
		for (i = 0; i < n && *ppub == NULL; i++) {
			cand = NULL;
			if (p11ca_pubkey_from_object(t, s, hs[i], key->key_type, &cand) == CKR_OK &&
			    pub_fits(t, s, key, cand))
				*ppub = cand;
			else
				EVP_PKEY_free(cand);
		}
	}
	free(hs);
	hs = NULL;
	if (*ppub != NULL)
		return CKR_OK;
	/* 3. a certificate with the same id (that fits) */
	tmpl[0].pValue = &cls_cert;
	if (key->id_len > 0 && p11ca_find_objects(t, s, tmpl, 2, &hs, &n) == CKR_OK) {
		for (i = 0; i < n && *ppub == NULL; i++) {
			X509 *x;
			if (p11ca_attr_get(t, s, hs[i], CKA_VALUE, &v, &vlen) != CKR_OK)
				continue;
			x = X509_new_ex(t->ctx->libctx, t->ctx->propq);
			p = v;
			if (x != NULL && d2i_X509(&x, &p, (long)vlen) == NULL) {
				X509_free(x);
				x = NULL;
			}
			cand = x ? X509_get_pubkey(x) : NULL;
			if (cand != NULL && pub_fits(t, s, key, cand))
				*ppub = cand;
			else
				EVP_PKEY_free(cand);
			X509_free(x);
			free(v);
			v = NULL;
		}
	}
	free(hs);
	if (*ppub != NULL)
		return CKR_OK;
	/* 4. RSA private keys usually show their modulus and exponent */
	if (key->key_type == CKK_RSA) {
		rv = p11ca_pubkey_from_object(t, s, key->handle, CKK_RSA, ppub);
		if (rv == CKR_OK || p11ca_fault_of(rv) != P11CA_FAULT_NONE)
			return rv;
	}
	return p11ca_err(P11CA_R_NOT_FOUND,
	                 "no public key for '%s' on token '%s' (no public-key object, "
	                 "CKA_PUBLIC_KEY_INFO or certificate with its id)",
	                 key->label, t->info.label);
}

/*
 * A PSS-only key (p11ca_key_pss_only) is an RSA-PSS key, as OpenSSL names
 * keys: its public half @*ppub, an RSA key, becomes an RSA-PSS key (without
 * parameter restrictions) with the same modulus and exponent, so that it
 * matches an rsassaPss certificate and CSRs carry the rsassaPss algorithm.
 */
static CK_RV pss_public(p11ca_key *key, EVP_PKEY **ppub)
{
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *pctx = NULL;
	EVP_PKEY *pss = NULL;
	CK_RV rv = CKR_OK;

	if (!p11ca_key_pss_only(key) || !EVP_PKEY_is_a(*ppub, "RSA"))
		return CKR_OK;
	if (EVP_PKEY_todata(*ppub, EVP_PKEY_PUBLIC_KEY, &params) != 1 ||
	    (pctx = EVP_PKEY_CTX_new_from_name(key->token->ctx->libctx, "RSA-PSS",
	                                       key->token->ctx->propq)) == NULL ||
	    EVP_PKEY_fromdata_init(pctx) != 1 ||
	    EVP_PKEY_fromdata(pctx, &pss, EVP_PKEY_PUBLIC_KEY, params) != 1) {
		rv = p11ca_err(P11CA_R_CRYPTO, "cannot make the RSA-PSS public key of '%s'",
		               key->label);
		goto out;
	}
	EVP_PKEY_free(*ppub);
	*ppub = pss;
out:
	OSSL_PARAM_free(params);
	EVP_PKEY_CTX_free(pctx);
	return rv;
}

P11CA_EXPORT CK_RV p11ca_key_get_public(p11ca_key *key, EVP_PKEY **ppub)
{
	EVP_PKEY *pub = NULL;
	CK_RV rv;

	*ppub = NULL;
	pthread_mutex_lock(&key->lock);
	if (key->pub != NULL && EVP_PKEY_up_ref(key->pub) == 1)
		*ppub = key->pub;
	pthread_mutex_unlock(&key->lock);
	if (*ppub != NULL)
		return CKR_OK;
	if ((rv = p11ca_token_run(key->token, key, 1, public_op, &pub)) != CKR_OK)
		return rv;
	if ((rv = pss_public(key, &pub)) != CKR_OK) {
		EVP_PKEY_free(pub);
		return rv;
	}
	pthread_mutex_lock(&key->lock);
	if (key->pub == NULL && EVP_PKEY_up_ref(pub) == 1)
		key->pub = pub;
	pthread_mutex_unlock(&key->lock);
	*ppub = pub;
	return CKR_OK;
}

/* ---- certificates ---- */

struct cert_op {
	X509 *cert;
};

static CK_RV store_cert_op(p11ca_token *t, CK_SESSION_HANDLE s, p11ca_key *key, void *data)
{
	struct cert_op *op = data;
	CK_CERTIFICATE_TYPE ct = CKC_X_509;
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	unsigned char *der = NULL, *subj = NULL, *iss = NULL, *ser = NULL;
	int derlen, subjlen, isslen, serlen;
	CK_OBJECT_HANDLE h;
	CK_RV rv;

	derlen = i2d_X509(op->cert, &der);
	subjlen = i2d_X509_NAME(X509_get_subject_name(op->cert), &subj);
	isslen = i2d_X509_NAME(X509_get_issuer_name(op->cert), &iss);
	serlen = i2d_ASN1_INTEGER(X509_get_serialNumber(op->cert), &ser);
	if (derlen <= 0 || subjlen <= 0 || isslen <= 0 || serlen <= 0) {
		rv = p11ca_err(P11CA_R_CRYPTO, "cannot encode the certificate");
		goto out;
	}
	{
		CK_ATTRIBUTE tmpl[] = {
			{ CKA_CLASS, &cls_cert, sizeof(cls_cert) },
			{ CKA_CERTIFICATE_TYPE, &ct, sizeof(ct) },
			{ CKA_TOKEN, &yes, sizeof(yes) },
			{ CKA_PRIVATE, &no, sizeof(no) },
			{ CKA_ID, key->id, key->id_len },
			{ CKA_LABEL, key->label, strlen(key->label) },
			{ CKA_SUBJECT, subj, (CK_ULONG)subjlen },
			{ CKA_ISSUER, iss, (CK_ULONG)isslen },
			{ CKA_SERIAL_NUMBER, ser, (CK_ULONG)serlen },
			{ CKA_VALUE, der, (CK_ULONG)derlen },
		};
		rv = t->mod->fl->C_CreateObject(s, tmpl, sizeof(tmpl) / sizeof(tmpl[0]), &h);
	}
	if (rv != CKR_OK && p11ca_fault_of(rv) == P11CA_FAULT_NONE)
		rv = p11ca_err(rv, "storing the certificate on token '%s' failed: %s",
		               t->info.label, p11ca_rv_text(rv));
out:
	OPENSSL_free(der);
	OPENSSL_free(subj);
	OPENSSL_free(iss);
	OPENSSL_free(ser);
	return rv;
}

P11CA_EXPORT CK_RV p11ca_key_store_certificate(p11ca_key *key, X509 *cert)
{
	struct cert_op op = { cert };

	if (cert == NULL)
		return p11ca_err(CKR_ARGUMENTS_BAD, "no certificate to store");
	return p11ca_token_run(key->token, key, 1, store_cert_op, &op);
}

/* ---- generation ---- */

/*
 * A pair is made under a temporary name, "p11ca-gen-HOST-PID-TIME-RAND"
 * (hex): the CKA_ID of both halves and the private key's label, until the
 * pair is complete.  What an interrupted generation leaves (a lone public
 * key, a pair not renamed) is recognisable by it, and the next generation
 * on the token removes it once its process is gone.
 */
#define GEN_TMP_PREFIX "p11ca-gen-"
#define GEN_TMP_LEN    (sizeof(GEN_TMP_PREFIX) - 1 + 4 * 8 + 3)
/* a temporary name older than this is stale whoever made it (other hosts) */
#define GEN_STALE_SECONDS (24 * 3600)

struct gen_op {
	struct p11ca_keyspec spec;
	const char *label;
	unsigned flags;
	p11ca_key *key;
	/* what an interrupted attempt may have left, removed by the retry */
	int generated;
	char tmpname[GEN_TMP_LEN + 1];
	unsigned char id[20];
};

/* This host, as FNV-1a of its name (gethostid() may ask DNS). */
static unsigned long gen_hostid(void)
{
	char name[256] = "";
	uint32_t h = 2166136261u;
	const char *p;

	(void)gethostname(name, sizeof(name) - 1);
	for (p = name; *p != '\0'; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	return h;
}

static CK_RV gen_tmp_name(char *out)
{
	unsigned char r[4];

	if (RAND_bytes(r, sizeof(r)) != 1)
		return p11ca_err(P11CA_R_CRYPTO, "no randomness for a temporary key name");
	snprintf(out, GEN_TMP_LEN + 1, GEN_TMP_PREFIX "%08lx-%08lx-%08lx-%02x%02x%02x%02x",
	         gen_hostid(), (unsigned long)(uint32_t)getpid(),
	         (unsigned long)(uint32_t)time(NULL), r[0], r[1], r[2], r[3]);
	return CKR_OK;
}

/*
 * Whether the @len bytes at @v are a temporary name that may go: @own (this
 * generation's earlier attempt), one of a process of this host that is
 * gone, or one older than GEN_STALE_SECONDS.
 */
static int gen_tmp_stale(const unsigned char *v, size_t len, const char *own)
{
	char buf[GEN_TMP_LEN + 1];
	unsigned long host, pid, when;
	time_t now = time(NULL);

	if (len != GEN_TMP_LEN || memcmp(v, GEN_TMP_PREFIX, sizeof(GEN_TMP_PREFIX) - 1) != 0)
		return 0;
	memcpy(buf, v, len);
	buf[len] = '\0';
	if (own != NULL && strcmp(buf, own) == 0)
		return 1;
	if (sscanf(buf + sizeof(GEN_TMP_PREFIX) - 1, "%8lx-%8lx-%8lx-", &host, &pid, &when) != 3)
		return 0;
	if ((unsigned long)now > when + GEN_STALE_SECONDS)
		return 1;
	/* in this process it may be another thread's generation, under way */
	return host == gen_hostid() && (pid_t)pid != getpid() && kill((pid_t)pid, 0) != 0 &&
	       errno == ESRCH;
}

/* Destroys the objects whose @type is the @len bytes at @v (best effort). */
static void destroy_by(p11ca_token *t, CK_SESSION_HANDLE s, CK_ATTRIBUTE_TYPE type, void *v,
                       size_t len)
{
	CK_ATTRIBUTE tmpl[1] = { { type, v, len } };
	CK_OBJECT_HANDLE *hs = NULL;
	CK_ULONG n = 0, i;

	if (p11ca_find_objects(t, s, tmpl, 1, &hs, &n) == CKR_OK)
		for (i = 0; i < n; i++)
			(void)t->mod->fl->C_DestroyObject(s, hs[i]);
	free(hs);
}

/*
 * Removes what interrupted generations left (best effort): objects under a
 * stale temporary id, and a private key under a stale temporary label with
 * every object of its id (the pair was never complete, nobody was given it).
 */
static void gen_cleanup(p11ca_token *t, CK_SESSION_HANDLE s, const char *own)
{
	CK_OBJECT_HANDLE *hs = NULL;
	CK_ULONG n = 0, i, vlen;
	unsigned char *v;

	if (p11ca_find_objects(t, s, NULL, 0, &hs, &n) != CKR_OK)
		return;
	for (i = 0; i < n; i++) {
		v = NULL;
		if (p11ca_attr_get(t, s, hs[i], CKA_ID, &v, &vlen) == CKR_OK &&
		    gen_tmp_stale(v, vlen, own)) {
			p11ca_log(t->ctx,
			          "token '%s': removing what an interrupted key generation left",
			          t->info.label);
			destroy_by(t, s, CKA_ID, v, vlen);
		}
		free(v);
		v = NULL;
		if (p11ca_attr_get(t, s, hs[i], CKA_LABEL, &v, &vlen) == CKR_OK &&
		    gen_tmp_stale(v, vlen, own)) {
			unsigned char *id = NULL;
			CK_ULONG idlen = 0;
			p11ca_log(t->ctx,
			          "token '%s': removing a key pair an interrupted key "
			          "generation left",
			          t->info.label);
			if (p11ca_attr_get(t, s, hs[i], CKA_ID, &id, &idlen) == CKR_OK && idlen > 0)
				destroy_by(t, s, CKA_ID, id, idlen);
			free(id);
			(void)t->mod->fl->C_DestroyObject(s, hs[i]);
		}
		free(v);
	}
	free(hs);
}

static CK_RV label_in_use(p11ca_token *t, CK_SESSION_HANDLE s, const char *label)
{
	CK_ATTRIBUTE tmpl[1] = { { CKA_LABEL, (void *)label, strlen(label) } };
	CK_OBJECT_HANDLE *hs = NULL;
	CK_ULONG n = 0;
	CK_RV rv;

	if ((rv = p11ca_find_objects(t, s, tmpl, 1, &hs, &n)) != CKR_OK)
		return rv;
	free(hs);
	if (n > 0)
		return p11ca_err(
		    P11CA_R_LABEL_EXISTS,
		    "label '%s' is already used on token '%s'; pick another or delete it first",
		    label, t->info.label);
	return CKR_OK;
}

/*
 * Gives the private key *@ph its label and makes it not CKA_MODIFIABLE (and
 * not CKA_COPYABLE) as far as the token allows: through a copy that replaces
 * it (SoftHSM2 changes neither in place, and CKA_COPYABLE not even in a
 * copy), else in place.  The label comes before CKA_MODIFIABLE: SoftHSM2
 * applies a template in order.
 */
static CK_RV gen_finish(p11ca_token *t, CK_SESSION_HANDLE s, struct gen_op *op,
                        CK_OBJECT_HANDLE *ph)
{
	CK_FUNCTION_LIST *fl = t->mod->fl;
	CK_BBOOL no = CK_FALSE;
	CK_ATTRIBUTE fin[3] = {
		{ CKA_LABEL, (void *)op->label, strlen(op->label) },
		{ CKA_MODIFIABLE, &no, sizeof(no) },
		{ CKA_COPYABLE, &no, sizeof(no) },
	};
	CK_OBJECT_HANDLE copy = CK_INVALID_HANDLE;
	CK_RV rv;

	rv = fl->C_CopyObject(s, *ph, fin, 3, &copy);
	if (rv != CKR_OK && p11ca_fault_of(rv) == P11CA_FAULT_NONE)
		rv = fl->C_CopyObject(s, *ph, fin, 2, &copy);
	if (rv == CKR_OK) {
		if ((rv = fl->C_DestroyObject(s, *ph)) != CKR_OK) {
			(void)fl->C_DestroyObject(s, copy);
			return rv;
		}
		*ph = copy;
		return CKR_OK;
	}
	if (p11ca_fault_of(rv) != P11CA_FAULT_NONE)
		return rv;
	/* no copies here: the label in place, then the flags the token takes */
	if ((rv = fl->C_SetAttributeValue(s, *ph, fin, 1)) != CKR_OK)
		return rv;
	(void)fl->C_SetAttributeValue(s, *ph, fin + 1, 1);
	(void)fl->C_SetAttributeValue(s, *ph, fin + 2, 1);
	return CKR_OK;
}

static CK_RV gen_op(p11ca_token *t, CK_SESSION_HANDLE s, p11ca_key *unused, void *data)
{
	static const unsigned char ed25519_name[] = { 0x13, 0x0c, 'e', 'd', 'w', 'a', 'r',
		                                      'd',  's',  '2', '5', '5', '1', '9' };
	struct gen_op *op = data;
	CK_FUNCTION_LIST *fl = t->mod->fl;
	CK_ATTRIBUTE pub[P11CA_TMPL_MAX], priv[P11CA_TMPL_MAX];
	CK_ULONG npub, npriv, i;
	CK_MECHANISM mech = { CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, 0 };
	CK_OBJECT_HANDLE hpub = CK_INVALID_HANDLE, hpriv = CK_INVALID_HANDLE;
	unsigned char *id = op->id;
	EVP_PKEY *pk = NULL;
	CK_RV rv;

	if (op->generated) {
		static const unsigned char none[sizeof(op->id)];
		/* a fault stopped the previous attempt after the pair existed:
		 * remove it (under its final id too) before trying again */
		if (memcmp(op->id, none, sizeof(none)) != 0)
			destroy_by(t, s, CKA_ID, op->id, sizeof(op->id));
		op->generated = 0;
	}
	/* what interrupted generations left, this one's earlier attempt too */
	gen_cleanup(t, s, op->tmpname[0] != '\0' ? op->tmpname : NULL);
	if ((rv = label_in_use(t, s, op->label)) != CKR_OK)
		return rv;
	memset(op->id, 0, sizeof(op->id));
	if ((rv = gen_tmp_name(op->tmpname)) != CKR_OK)
		return rv;
	if (op->spec.kind == P11CA_KEY_EC)
		mech.mechanism = CKM_EC_KEY_PAIR_GEN;
	else if (op->spec.kind == P11CA_KEY_ED25519)
		mech.mechanism = CKM_EC_EDWARDS_KEY_PAIR_GEN;
	for (;;) {
		p11ca_keygen_templates(&op->spec, op->label, (unsigned char *)op->tmpname,
		                       GEN_TMP_LEN, op->flags, pub, &npub, priv, &npriv);
		/* the private key is renamed last, when the pair is complete */
		for (i = 0; i < npriv; i++)
			if (priv[i].type == CKA_LABEL) {
				priv[i].pValue = op->tmpname;
				priv[i].ulValueLen = GEN_TMP_LEN;
			}
		rv = fl->C_GenerateKeyPair(s, &mech, pub, npub, priv, npriv, &hpub, &hpriv);
		if (op->spec.kind == P11CA_KEY_ED25519 && op->spec.params != ed25519_name &&
		    (rv == CKR_ATTRIBUTE_VALUE_INVALID || rv == CKR_CURVE_NOT_SUPPORTED ||
		     rv == CKR_DOMAIN_PARAMS_INVALID || rv == CKR_TEMPLATE_INCONSISTENT)) {
			/* older modules want the curve by name */
			op->spec.params = ed25519_name;
			op->spec.params_len = sizeof(ed25519_name);
			continue;
		}
		break;
	}
	if (rv != CKR_OK) {
		if (p11ca_fault_of(rv) == P11CA_FAULT_NONE)
			rv = p11ca_err(rv, "generating the key on token '%s' failed: %s",
			               t->info.label, p11ca_rv_text(rv));
		return rv;
	}
	/* CKA_ID := SHA-1 of the public key, the future certificate's SKI;
	 * the private key first: a public key left under the temporary id is
	 * recognisably a leftover */
	{
		CK_KEY_TYPE kt = op->spec.kind == P11CA_KEY_RSA  ? CKK_RSA
		                 : op->spec.kind == P11CA_KEY_EC ? CKK_EC
		                                                 : CKK_EC_EDWARDS;
		CK_ATTRIBUTE a = { CKA_ID, id, sizeof(op->id) };
		if ((rv = p11ca_pubkey_from_object(t, s, hpub, kt, &pk)) != CKR_OK ||
		    (rv = p11ca_pubkey_key_id(pk, id)) != CKR_OK)
			goto fail;
		if ((rv = fl->C_SetAttributeValue(s, hpriv, &a, 1)) != CKR_OK ||
		    (rv = fl->C_SetAttributeValue(s, hpub, &a, 1)) != CKR_OK) {
			rv = p11ca_err(rv, "cannot set CKA_ID on the new key: %s",
			               p11ca_rv_text(rv));
			goto fail;
		}
	}
	if ((rv = gen_finish(t, s, op, &hpriv)) != CKR_OK) {
		if (p11ca_fault_of(rv) == P11CA_FAULT_NONE)
			rv = p11ca_err(rv, "cannot label the new key: %s", p11ca_rv_text(rv));
		goto fail;
	}
	if ((rv = p11ca_key_from_handle(t, s, hpriv, &op->key)) != CKR_OK)
		goto fail;
	if (p11ca_key_pss_only(op->key))
		EVP_PKEY_free(pk); /* an RSA-PSS key: p11ca_key_get_public makes it */
	else
		op->key->pub = pk;
	return CKR_OK;
fail:
	/* leave no half-made key behind; if the session broke, the retry does */
	if (fl->C_DestroyObject(s, hpriv) != CKR_OK || fl->C_DestroyObject(s, hpub) != CKR_OK)
		op->generated = p11ca_fault_of(rv) != P11CA_FAULT_NONE;
	EVP_PKEY_free(pk);
	return rv;
}

P11CA_EXPORT CK_RV p11ca_key_generate(p11ca_token *t, const char *type, const char *label,
                                      unsigned flags, p11ca_key **pkey)
{
	struct gen_op op;
	CK_MECHANISM_TYPE need;
	CK_RV rv;

	if (pkey != NULL)
		*pkey = NULL;
	memset(&op, 0, sizeof(op));
	if ((rv = p11ca_keyspec_parse(type, flags, &op.spec)) != CKR_OK)
		return rv;
	if (label == NULL || *label == '\0')
		return p11ca_err(CKR_ARGUMENTS_BAD, "a key needs a label");
	need = op.spec.kind == P11CA_KEY_RSA  ? CKM_RSA_PKCS_KEY_PAIR_GEN
	       : op.spec.kind == P11CA_KEY_EC ? CKM_EC_KEY_PAIR_GEN
	                                      : CKM_EC_EDWARDS_KEY_PAIR_GEN;
	if (!p11ca_token_has_mechanism(t, need))
		return p11ca_err(P11CA_R_UNSUPPORTED, "token '%s' cannot generate %s keys",
		                 t->info.label, type);
	op.label = label;
	op.flags = flags;
	if ((rv = p11ca_token_run(t, NULL, 1, gen_op, &op)) != CKR_OK)
		return rv;
	if (pkey != NULL)
		*pkey = op.key;
	else
		p11ca_key_free(op.key);
	return CKR_OK;
}

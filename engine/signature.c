/*
 * signature.c - RSA (PKCS#1 v1.5, PSS), ECDSA and Ed25519 signatures with
 * token keys.  Digest-sign hashes in OpenSSL and makes one C_Sign; verify
 * goes to another provider with the public half.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <openssl/objects.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "provider.h"

enum sig_kind { SIG_RSA = 1, SIG_ECDSA, SIG_ED25519 };

struct sigctx {
	struct p11ca_prov *prov;
	enum sig_kind kind;
	struct p11ca_prov_key *key;
	int verify;         /* initialised for verification */
	EVP_MD *md;         /* NULL: none set (raw input) */
	EVP_MD *mgf1_md;    /* NULL: same as md */
	int pad;            /* RSA_PKCS1_PADDING, RSA_PKCS1_PSS_PADDING, RSA_NO_PADDING */
	int saltlen;        /* >= 0, or RSA_PSS_SALTLEN_DIGEST/AUTO/MAX */
	EVP_MD_CTX *mdctx;  /* digest-sign: the running hash */
	EVP_MD_CTX *vmdctx; /* digest-verify, delegated */
	int in_digest;      /* digest_sign/verify_init was used */
	/* digest-sign for a key that signs only whole messages (its allowed
	 * mechanisms are CKM_SHA256_RSA_PKCS_PSS ...): -1 not known yet, 0
	 * hashed here, 1 the message is kept (up to SIG_MSG_MAX) for the token */
	int whole;
	unsigned char *msg;
	size_t msglen, msgcap;
};

/* The most a whole-message signature buffers (TLS transcripts, CSRs and
 * certificates are far below). */
#define SIG_MSG_MAX (16u << 20)

static void *sig_newctx(void *provctx, const char *propq, enum sig_kind kind)
{
	struct sigctx *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->prov = provctx;
	c->kind = kind;
	c->pad = RSA_PKCS1_PADDING;
	c->saltlen = RSA_PSS_SALTLEN_AUTO;
	return c;
}

DECL_DISPATCH_FUNC(signature, sig, freectx);
static void sig_freectx(void *ctx)
{
	struct sigctx *c = ctx;

	if (c == NULL)
		return;
	p11ca_prov_key_free(c->key);
	EVP_MD_free(c->md);
	EVP_MD_free(c->mgf1_md);
	EVP_MD_CTX_free(c->mdctx);
	EVP_MD_CTX_free(c->vmdctx);
	free(c->msg);
	free(c);
}

DECL_DISPATCH_FUNC(signature, sig, dupctx);
static void *sig_dupctx(void *ctx)
{
	struct sigctx *c = ctx, *d = calloc(1, sizeof(*d));

	if (d == NULL)
		return NULL;
	*d = *c;
	d->key = p11ca_prov_key_ref(c->key);
	d->mdctx = d->vmdctx = NULL;
	d->msg = NULL;
	d->msgcap = 0;
	if (c->msglen > 0) {
		if ((d->msg = malloc(c->msglen)) == NULL)
			goto fail;
		memcpy(d->msg, c->msg, c->msglen);
		d->msgcap = c->msglen;
	}
	if (d->md != NULL)
		EVP_MD_up_ref(d->md);
	if (d->mgf1_md != NULL)
		EVP_MD_up_ref(d->mgf1_md);
	/* OpenSSL 3.0's x509/ca/TLS code duplicates a context mid-digest */
	if (c->mdctx != NULL &&
	    ((d->mdctx = EVP_MD_CTX_new()) == NULL || !EVP_MD_CTX_copy_ex(d->mdctx, c->mdctx)))
		goto fail;
	if (c->vmdctx != NULL &&
	    ((d->vmdctx = EVP_MD_CTX_new()) == NULL || !EVP_MD_CTX_copy_ex(d->vmdctx, c->vmdctx)))
		goto fail;
	return d;
fail:
	sig_freectx(d);
	return NULL;
}

/*
 * The SHA-2 digests, fetched once per provider: a fetch per signature shows
 * in the signing rate of fast keys.  Entries are set once (compare-and-swap)
 * and live as long as the provider.
 */
static EVP_MD *cached_md(struct p11ca_prov *prov, const char *name)
{
	static const char *const names[P11CA_PROV_MD_CACHE] = { "SHA256", "SHA384", "SHA512",
		                                                "SHA224" };
	EVP_MD *md, *expected = NULL;
	int i;

	for (i = 0; i < P11CA_PROV_MD_CACHE; i++)
		if (strcasecmp(name, names[i]) == 0 ||
		    (strncasecmp(name, "SHA2-", 5) == 0 && strcmp(name + 5, names[i] + 3) == 0))
			break;
	if (i == P11CA_PROV_MD_CACHE)
		return NULL;
	md = __atomic_load_n(&prov->md_cache[i], __ATOMIC_ACQUIRE);
	if (md == NULL) {
		if ((md = EVP_MD_fetch(prov->libctx, names[i], P11CA_PROV_PROPQ)) == NULL)
			return NULL;
		if (!__atomic_compare_exchange_n(&prov->md_cache[i], &expected, md, 0,
		                                 __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
			EVP_MD_free(md);
			md = expected;
		}
	}
	return EVP_MD_up_ref(md) == 1 ? md : NULL;
}

static int set_md(struct sigctx *c, EVP_MD **slot, const char *name, const char *props)
{
	EVP_MD *md;

	if (name == NULL || *name == '\0') {
		EVP_MD_free(*slot);
		*slot = NULL;
		return RET_OSSL_OK;
	}
	md = props == NULL ? cached_md(c->prov, name) : NULL;
	if (md == NULL)
		md = EVP_MD_fetch(c->prov->libctx, name, props ? props : P11CA_PROV_PROPQ);
	if (md == NULL) {
		P11CA_PROV_RAISE(c->prov, P11CA_PROV_R_BAD_PARAM, "unknown digest '%s'", name);
		return RET_OSSL_ERR;
	}
	if (EVP_MD_is_a(md, "SHA1") && c->kind != SIG_ED25519) {
		/* allowed when asked for by name (legacy peers), never a default */
	}
	EVP_MD_free(*slot);
	*slot = md;
	return RET_OSSL_OK;
}

DECL_DISPATCH_FUNC(signature, sig, set_ctx_params);
static int sig_set_ctx_params(void *ctx, const OSSL_PARAM params[])
{
	struct sigctx *c = ctx;
	const OSSL_PARAM *p;
	const char *props = NULL;

	if (params == NULL)
		return RET_OSSL_OK;
	p = OSSL_PARAM_locate_const(params, OSSL_SIGNATURE_PARAM_PROPERTIES);
	if (p != NULL && !OSSL_PARAM_get_utf8_string_ptr(p, &props))
		return RET_OSSL_ERR;
	p = OSSL_PARAM_locate_const(params, OSSL_SIGNATURE_PARAM_DIGEST);
	if (p != NULL) {
		const char *name = NULL;
		if (c->kind == SIG_ED25519 || c->in_digest)
			return RET_OSSL_ERR; /* fixed once digest-signing began */
		if (!OSSL_PARAM_get_utf8_string_ptr(p, &name) || !set_md(c, &c->md, name, props))
			return RET_OSSL_ERR;
	}
	if (c->kind != SIG_RSA)
		return RET_OSSL_OK;
	p = OSSL_PARAM_locate_const(params, OSSL_SIGNATURE_PARAM_PAD_MODE);
	if (p != NULL) {
		int pad = 0;
		if (p->data_type == OSSL_PARAM_UTF8_STRING) {
			const char *s = p->data;
			pad = strcmp(s, OSSL_PKEY_RSA_PAD_MODE_PKCSV15) == 0 ? RSA_PKCS1_PADDING
			      : strcmp(s, OSSL_PKEY_RSA_PAD_MODE_PSS) == 0   ? RSA_PKCS1_PSS_PADDING
			      : strcmp(s, OSSL_PKEY_RSA_PAD_MODE_NONE) == 0  ? RSA_NO_PADDING
			                                                     : 0;
		} else if (!OSSL_PARAM_get_int(p, &pad)) {
			return RET_OSSL_ERR;
		}
		if (pad != RSA_PKCS1_PADDING && pad != RSA_PKCS1_PSS_PADDING &&
		    pad != RSA_NO_PADDING) {
			P11CA_PROV_RAISE(c->prov, P11CA_PROV_R_BAD_PARAM,
			                 "unsupported RSA padding %d", pad);
			return RET_OSSL_ERR;
		}
		if (c->key != NULL && c->key->type == P11CA_PK_RSA_PSS &&
		    pad != RSA_PKCS1_PSS_PADDING)
			return RET_OSSL_ERR;
		c->pad = pad;
	}
	p = OSSL_PARAM_locate_const(params, OSSL_SIGNATURE_PARAM_PSS_SALTLEN);
	if (p != NULL) {
		int len;
		if (p->data_type == OSSL_PARAM_UTF8_STRING) {
			const char *s = p->data;
			if (strcmp(s, OSSL_PKEY_RSA_PSS_SALT_LEN_DIGEST) == 0)
				len = RSA_PSS_SALTLEN_DIGEST;
			else if (strcmp(s, OSSL_PKEY_RSA_PSS_SALT_LEN_MAX) == 0)
				len = RSA_PSS_SALTLEN_MAX;
			else if (strcmp(s, OSSL_PKEY_RSA_PSS_SALT_LEN_AUTO) == 0)
				len = RSA_PSS_SALTLEN_AUTO;
			else {
				char *end;
				long v = strtol(s, &end, 10);
				/* -1 digest, -2 auto, -3 max, as OpenSSL takes them */
				if (*s == '\0' || *end != '\0' || v < RSA_PSS_SALTLEN_MAX ||
				    v > 65535) {
					P11CA_PROV_RAISE(c->prov, P11CA_PROV_R_BAD_PARAM,
					                 "unsupported RSA-PSS salt length '%s'", s);
					return RET_OSSL_ERR;
				}
				len = (int)v;
			}
		} else if (!OSSL_PARAM_get_int(p, &len)) {
			return RET_OSSL_ERR;
		}
		if (len < RSA_PSS_SALTLEN_MAX)
			return RET_OSSL_ERR;
		c->saltlen = len;
	}
	p = OSSL_PARAM_locate_const(params, OSSL_SIGNATURE_PARAM_MGF1_DIGEST);
	if (p != NULL) {
		const char *name = NULL;
		const OSSL_PARAM *pp =
		    OSSL_PARAM_locate_const(params, OSSL_SIGNATURE_PARAM_MGF1_PROPERTIES);
		const char *mprops = NULL;
		if (pp != NULL && !OSSL_PARAM_get_utf8_string_ptr(pp, &mprops))
			return RET_OSSL_ERR;
		if (!OSSL_PARAM_get_utf8_string_ptr(p, &name) ||
		    !set_md(c, &c->mgf1_md, name, mprops))
			return RET_OSSL_ERR;
	}
	return RET_OSSL_OK;
}

static const EVP_MD *eff_md(const struct sigctx *c)
{
	return c->md;
}

/* The salt length a signature will really use (the algorithm id names it). */
static int resolved_saltlen(const struct sigctx *c)
{
	int hlen = c->md ? EVP_MD_get_size(c->md) : 0;
	int bits = c->key && c->key->key
	               ? p11ca_key_get_bits(c->key->key)
	               : (c->key && c->key->pub ? EVP_PKEY_get_bits(c->key->pub) : 0);
	int max = (bits - 1 + 7) / 8 - hlen - 2;

	if (c->saltlen == RSA_PSS_SALTLEN_DIGEST)
		return hlen;
	if (c->saltlen == RSA_PSS_SALTLEN_MAX || c->saltlen == RSA_PSS_SALTLEN_AUTO)
		return max;
	return c->saltlen;
}

/* DER AlgorithmIdentifier of the signature this context makes. */
static int algorithm_id(struct sigctx *c, unsigned char **pder)
{
	X509_ALGOR *alg = X509_ALGOR_new();
	int sig_nid = NID_undef, len = -1;

	if (alg == NULL)
		return -1;
	if (c->kind == SIG_ED25519) {
		X509_ALGOR_set0(alg, OBJ_nid2obj(NID_ED25519), V_ASN1_UNDEF, NULL);
	} else if (c->kind == SIG_ECDSA) {
		if (c->md == NULL || !OBJ_find_sigid_by_algs(&sig_nid, EVP_MD_get_type(c->md),
		                                             NID_X9_62_id_ecPublicKey))
			goto out;
		X509_ALGOR_set0(alg, OBJ_nid2obj(sig_nid), V_ASN1_UNDEF, NULL);
	} else if (c->pad == RSA_PKCS1_PADDING) {
		if (c->md == NULL ||
		    !OBJ_find_sigid_by_algs(&sig_nid, EVP_MD_get_type(c->md), NID_rsaEncryption))
			goto out;
		X509_ALGOR_set0(alg, OBJ_nid2obj(sig_nid), V_ASN1_NULL, NULL);
	} else if (c->pad == RSA_PKCS1_PSS_PADDING) {
		RSA_PSS_PARAMS *pss = RSA_PSS_PARAMS_new();
		const EVP_MD *mgf = c->mgf1_md ? c->mgf1_md : c->md;
		X509_ALGOR *mgfmd = NULL;
		ASN1_STRING *os = NULL;
		int salt = resolved_saltlen(c), ok = 0;

		if (pss == NULL || c->md == NULL)
			goto pss_out;
		/* RFC 4055: SHA-1, MGF1-SHA-1 and salt 20 are the defaults, left out */
		if (!EVP_MD_is_a(c->md, "SHA1")) {
			if ((pss->hashAlgorithm = X509_ALGOR_new()) == NULL)
				goto pss_out;
			X509_ALGOR_set_md(pss->hashAlgorithm, c->md);
		}
		if (!EVP_MD_is_a(mgf, "SHA1")) {
			if ((mgfmd = X509_ALGOR_new()) == NULL)
				goto pss_out;
			X509_ALGOR_set_md(mgfmd, mgf);
			if (ASN1_item_pack(mgfmd, ASN1_ITEM_rptr(X509_ALGOR), &os) == NULL ||
			    (pss->maskGenAlgorithm = X509_ALGOR_new()) == NULL)
				goto pss_out;
			X509_ALGOR_set0(pss->maskGenAlgorithm, OBJ_nid2obj(NID_mgf1),
			                V_ASN1_SEQUENCE, os);
			os = NULL;
		}
		if (salt != 20) {
			if ((pss->saltLength = ASN1_INTEGER_new()) == NULL ||
			    !ASN1_INTEGER_set(pss->saltLength, salt))
				goto pss_out;
		}
		if (ASN1_item_pack(pss, ASN1_ITEM_rptr(RSA_PSS_PARAMS), &os) == NULL)
			goto pss_out;
		X509_ALGOR_set0(alg, OBJ_nid2obj(NID_rsassaPss), V_ASN1_SEQUENCE, os);
		os = NULL;
		ok = 1;
	pss_out:
		ASN1_STRING_free(os);
		X509_ALGOR_free(mgfmd);
		RSA_PSS_PARAMS_free(pss);
		if (!ok)
			goto out;
	} else {
		goto out;
	}
	len = i2d_X509_ALGOR(alg, pder);
out:
	X509_ALGOR_free(alg);
	return len;
}

DECL_DISPATCH_FUNC(signature, sig, get_ctx_params);
static int sig_get_ctx_params(void *ctx, OSSL_PARAM params[])
{
	struct sigctx *c = ctx;
	OSSL_PARAM *p;

	p = OSSL_PARAM_locate(params, OSSL_SIGNATURE_PARAM_ALGORITHM_ID);
	if (p != NULL) {
		unsigned char *der = NULL;
		int len = algorithm_id(c, &der);
		int ok = len > 0 && OSSL_PARAM_set_octet_string(p, der, (size_t)len);
		OPENSSL_free(der);
		if (!ok)
			return RET_OSSL_ERR;
	}
	p = OSSL_PARAM_locate(params, OSSL_SIGNATURE_PARAM_DIGEST);
	if (p != NULL && !OSSL_PARAM_set_utf8_string(p, c->md ? EVP_MD_get0_name(c->md) : ""))
		return RET_OSSL_ERR;
	if (c->kind != SIG_RSA)
		return RET_OSSL_OK;
	p = OSSL_PARAM_locate(params, OSSL_SIGNATURE_PARAM_PAD_MODE);
	if (p != NULL) {
		if (p->data_type == OSSL_PARAM_UTF8_STRING) {
			const char *s = c->pad == RSA_PKCS1_PSS_PADDING ? OSSL_PKEY_RSA_PAD_MODE_PSS
			                : c->pad == RSA_NO_PADDING ? OSSL_PKEY_RSA_PAD_MODE_NONE
			                                           : OSSL_PKEY_RSA_PAD_MODE_PKCSV15;
			if (!OSSL_PARAM_set_utf8_string(p, s))
				return RET_OSSL_ERR;
		} else if (!OSSL_PARAM_set_int(p, c->pad)) {
			return RET_OSSL_ERR;
		}
	}
	p = OSSL_PARAM_locate(params, OSSL_SIGNATURE_PARAM_PSS_SALTLEN);
	if (p != NULL) {
		if (p->data_type == OSSL_PARAM_UTF8_STRING) {
			char buf[16];
			snprintf(buf, sizeof(buf), "%d", c->saltlen);
			if (!OSSL_PARAM_set_utf8_string(p, buf))
				return RET_OSSL_ERR;
		} else if (!OSSL_PARAM_set_int(p, c->saltlen)) {
			return RET_OSSL_ERR;
		}
	}
	p = OSSL_PARAM_locate(params, OSSL_SIGNATURE_PARAM_MGF1_DIGEST);
	if (p != NULL) {
		const EVP_MD *m = c->mgf1_md ? c->mgf1_md : c->md;
		if (!OSSL_PARAM_set_utf8_string(p, m ? EVP_MD_get0_name(m) : ""))
			return RET_OSSL_ERR;
	}
	return RET_OSSL_OK;
}

static const OSSL_PARAM *sig_gettable(enum sig_kind kind)
{
	static const OSSL_PARAM rsa[] = {
		OSSL_PARAM_octet_string(OSSL_SIGNATURE_PARAM_ALGORITHM_ID, NULL, 0),
		OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_DIGEST, NULL, 0),
		OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_PAD_MODE, NULL, 0),
		OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_PSS_SALTLEN, NULL, 0),
		OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_MGF1_DIGEST, NULL, 0),
		OSSL_PARAM_END,
	};
	static const OSSL_PARAM other[] = {
		OSSL_PARAM_octet_string(OSSL_SIGNATURE_PARAM_ALGORITHM_ID, NULL, 0),
		OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_DIGEST, NULL, 0),
		OSSL_PARAM_END,
	};
	return kind == SIG_RSA ? rsa : other;
}

static const OSSL_PARAM *sig_settable(enum sig_kind kind)
{
	static const OSSL_PARAM rsa[] = {
		OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_DIGEST, NULL, 0),
		OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_PROPERTIES, NULL, 0),
		OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_PAD_MODE, NULL, 0),
		OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_PSS_SALTLEN, NULL, 0),
		OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_MGF1_DIGEST, NULL, 0),
		OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_MGF1_PROPERTIES, NULL, 0),
		OSSL_PARAM_END,
	};
	static const OSSL_PARAM ec[] = {
		OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_DIGEST, NULL, 0),
		OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_PROPERTIES, NULL, 0),
		OSSL_PARAM_END,
	};
	static const OSSL_PARAM none[] = { OSSL_PARAM_END };
	return kind == SIG_RSA ? rsa : kind == SIG_ECDSA ? ec : none;
}

static int sig_init(struct sigctx *c, void *provkey, const OSSL_PARAM params[], int verify)
{
	struct p11ca_prov_key *k = provkey;

	if (k != NULL) {
		int ok = c->kind == SIG_RSA
		             ? (k->type == P11CA_PK_RSA || k->type == P11CA_PK_RSA_PSS)
		         : c->kind == SIG_ECDSA ? k->type == P11CA_PK_EC
		                                : k->type == P11CA_PK_ED25519;
		if (!ok)
			return RET_OSSL_ERR;
		if (!verify && k->key == NULL) {
			P11CA_PROV_RAISE(c->prov, P11CA_PROV_R_NO_PRIVATE,
			                 "this key has no private half on a token");
			return RET_OSSL_ERR;
		}
		p11ca_prov_key_free(c->key);
		c->key = p11ca_prov_key_ref(k);
		if (k->type == P11CA_PK_RSA_PSS)
			c->pad = RSA_PKCS1_PSS_PADDING;
	}
	if (c->key == NULL)
		return RET_OSSL_ERR;
	c->verify = verify;
	c->in_digest = 0;
	return sig_set_ctx_params(c, params);
}

/* The library's parameters for what this context signs; 0 with an error raised. */
static int sig_params_of(struct sigctx *c, struct p11ca_sig_params *sp)
{
	memset(sp, 0, sizeof(*sp));
	sp->md = eff_md(c);
	sp->mgf1_md = c->mgf1_md;
	sp->pss_saltlen = -1;
	switch (c->kind) {
	case SIG_RSA:
		if (c->pad == RSA_PKCS1_PSS_PADDING) {
			sp->alg = P11CA_SIG_RSA_PSS;
			sp->pss_saltlen = c->saltlen == RSA_PSS_SALTLEN_DIGEST ? -1
			                  : c->saltlen < 0                     ? -2
			                                                       : c->saltlen;
			if (sp->md == NULL) {
				P11CA_PROV_RAISE(c->prov, P11CA_PROV_R_BAD_PARAM,
				                 "RSA-PSS needs a digest");
				return RET_OSSL_ERR;
			}
		} else if (c->pad == RSA_PKCS1_PADDING) {
			sp->alg = P11CA_SIG_RSA_PKCS1;
		} else {
			/* RSA_NO_PADDING: the caller's block, as it is (CKM_RSA_X_509) */
			if (sp->md != NULL) {
				P11CA_PROV_RAISE(c->prov, P11CA_PROV_R_BAD_PARAM,
				                 "raw RSA signs a block, not a digest");
				return RET_OSSL_ERR;
			}
			sp->alg = P11CA_SIG_RSA_RAW;
		}
		break;
	case SIG_ECDSA: sp->alg = P11CA_SIG_ECDSA; break;
	case SIG_ED25519:
		sp->alg = P11CA_SIG_EDDSA;
		sp->md = NULL;
		break;
	}
	return RET_OSSL_OK;
}

/* One C_Sign over @tbs (a digest, or raw input for RSA without a digest). */
static int sig_sign_raw(struct sigctx *c, unsigned char *sig, size_t *siglen, size_t sigsize,
                        const unsigned char *tbs, size_t tbslen)
{
	struct p11ca_sig_params sp;
	size_t max = p11ca_key_max_signature_size(c->key->key);
	size_t len = sigsize;
	CK_RV rv;

	if (sig == NULL) {
		*siglen = max;
		return RET_OSSL_OK;
	}
	if (!sig_params_of(c, &sp))
		return RET_OSSL_ERR;
	if (sp.md != NULL && sp.alg != P11CA_SIG_ECDSA &&
	    (size_t)EVP_MD_get_size(sp.md) != tbslen) {
		P11CA_PROV_RAISE(c->prov, P11CA_PROV_R_BAD_PARAM, "input is not a %s digest",
		                 EVP_MD_get0_name(sp.md));
		return RET_OSSL_ERR;
	}
	if (sp.alg == P11CA_SIG_ECDSA)
		sp.md = NULL; /* ECDSA signs the digest bytes as they are */
	if (sigsize < max) {
		P11CA_PROV_RAISE(c->prov, P11CA_PROV_R_BAD_PARAM, "signature buffer too small");
		return RET_OSSL_ERR;
	}
	rv = p11ca_key_sign_digest(c->key->key, &sp, tbs, tbslen, sig, &len);
	if (rv != CKR_OK) {
		P11CA_PROV_RAISE_RV(c->prov, rv);
		return RET_OSSL_ERR;
	}
	*siglen = len;
	return RET_OSSL_OK;
}

DECL_DISPATCH_FUNC(signature, sig, sign);
static int sig_sign(void *ctx, unsigned char *sig, size_t *siglen, size_t sigsize,
                    const unsigned char *tbs, size_t tbslen)
{
	struct sigctx *c = ctx;

	if (c->kind == SIG_ED25519)
		return RET_OSSL_ERR; /* pure EdDSA signs messages: digest_sign */
	return sig_sign_raw(c, sig, siglen, sigsize, tbs, tbslen);
}

/* ---- digest sign: hash here, one C_Sign at the end ---- */

static int sig_digest_init(struct sigctx *c, const char *mdname, void *provkey,
                           const OSSL_PARAM params[], int verify)
{
	if (!sig_init(c, provkey, params, verify))
		return RET_OSSL_ERR;
	if (c->kind == SIG_ED25519) {
		if (mdname != NULL && *mdname != '\0')
			return RET_OSSL_ERR;
	} else {
		if (mdname == NULL || *mdname == '\0')
			mdname = "SHA256"; /* the secure default */
		if (!set_md(c, &c->md, mdname, NULL))
			return RET_OSSL_ERR;
	}
	c->in_digest = 1;
	if (verify) {
		EVP_PKEY_CTX *pctx = NULL;
		EVP_MD_CTX_free(c->vmdctx);
		if ((c->vmdctx = EVP_MD_CTX_new()) == NULL ||
		    EVP_DigestVerifyInit_ex(c->vmdctx, &pctx,
		                            c->md ? EVP_MD_get0_name(c->md) : NULL, c->prov->libctx,
		                            P11CA_PROV_PROPQ, c->key->pub, NULL) != 1)
			return RET_OSSL_ERR;
		if (c->kind == SIG_RSA) {
			if (EVP_PKEY_CTX_set_rsa_padding(pctx, c->pad) <= 0)
				return RET_OSSL_ERR;
			if (c->pad == RSA_PKCS1_PSS_PADDING &&
			    (EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, c->saltlen) <= 0 ||
			     (c->mgf1_md && EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, c->mgf1_md) <= 0)))
				return RET_OSSL_ERR;
		}
		return RET_OSSL_OK;
	}
	if (c->kind == SIG_ED25519)
		return RET_OSSL_OK;
	c->whole = -1;
	c->msglen = 0;
	EVP_MD_CTX_free(c->mdctx);
	if ((c->mdctx = EVP_MD_CTX_new()) == NULL || EVP_DigestInit_ex2(c->mdctx, c->md, NULL) != 1)
		return RET_OSSL_ERR;
	return RET_OSSL_OK;
}

/*
 * Whether this digest-sign goes to the token as the whole message: decided
 * at the first update (the padding and salt are set by then), from the
 * key's allowed mechanisms (p11ca_key_needs_message).
 */
static int sig_whole(struct sigctx *c)
{
	struct p11ca_sig_params sp;

	if (c->whole < 0)
		c->whole = c->kind == SIG_RSA && c->pad != RSA_NO_PADDING &&
		           sig_params_of(c, &sp) && p11ca_key_needs_message(c->key->key, &sp);
	return c->whole;
}

DECL_DISPATCH_FUNC(signature, sig, digest_sign_update);
static int sig_digest_sign_update(void *ctx, const unsigned char *data, size_t len)
{
	struct sigctx *c = ctx;

	if (c->mdctx == NULL)
		return RET_OSSL_ERR;
	if (!sig_whole(c))
		return EVP_DigestUpdate(c->mdctx, data, len);
	if (len > SIG_MSG_MAX - c->msglen) {
		P11CA_PROV_RAISE(c->prov, P11CA_PROV_R_BAD_PARAM,
		                 "key '%s' signs whole messages on the token (its allowed "
		                 "mechanisms hash there), and this one is over %u MiB",
		                 p11ca_key_get_label(c->key->key), SIG_MSG_MAX >> 20);
		return RET_OSSL_ERR;
	}
	if (c->msglen + len > c->msgcap) {
		size_t cap = c->msgcap ? c->msgcap : 4096;
		unsigned char *m;
		while (cap < c->msglen + len)
			cap *= 2;
		if ((m = realloc(c->msg, cap)) == NULL)
			return RET_OSSL_ERR;
		c->msg = m;
		c->msgcap = cap;
	}
	if (len > 0)
		memcpy(c->msg + c->msglen, data, len);
	c->msglen += len;
	return RET_OSSL_OK;
}

/* The token hashes and signs the kept message. */
static int sig_sign_whole(struct sigctx *c, unsigned char *sig, size_t *siglen, size_t sigsize)
{
	struct p11ca_sig_params sp;
	size_t len = sigsize;
	CK_RV rv;

	if (!sig_params_of(c, &sp))
		return RET_OSSL_ERR;
	if (sigsize < p11ca_key_max_signature_size(c->key->key)) {
		P11CA_PROV_RAISE(c->prov, P11CA_PROV_R_BAD_PARAM, "signature buffer too small");
		return RET_OSSL_ERR;
	}
	rv = p11ca_key_sign_message(c->key->key, &sp, c->msg ? c->msg : (unsigned char *)"",
	                            c->msglen, sig, &len);
	if (rv != CKR_OK) {
		P11CA_PROV_RAISE_RV(c->prov, rv);
		return RET_OSSL_ERR;
	}
	*siglen = len;
	return RET_OSSL_OK;
}

DECL_DISPATCH_FUNC(signature, sig, digest_sign_final);
static int sig_digest_sign_final(void *ctx, unsigned char *sig, size_t *siglen, size_t sigsize)
{
	struct sigctx *c = ctx;
	unsigned char dgst[EVP_MAX_MD_SIZE];
	unsigned int dlen = 0;

	if (c->mdctx == NULL)
		return RET_OSSL_ERR;
	if (sig == NULL) {
		*siglen = p11ca_key_max_signature_size(c->key->key);
		return RET_OSSL_OK;
	}
	if (sig_whole(c))
		return sig_sign_whole(c, sig, siglen, sigsize);
	if (EVP_DigestFinal_ex(c->mdctx, dgst, &dlen) != 1)
		return RET_OSSL_ERR;
	return sig_sign_raw(c, sig, siglen, sigsize, dgst, dlen);
}

/* Ed25519 signs the whole message in one go. */
DECL_DISPATCH_FUNC(signature, sig, digest_sign);
static int sig_digest_sign(void *ctx, unsigned char *sig, size_t *siglen, size_t sigsize,
                           const unsigned char *tbs, size_t tbslen)
{
	struct sigctx *c = ctx;

	if (c->kind != SIG_ED25519)
		return RET_OSSL_ERR;
	return sig_sign_raw(c, sig, siglen, sigsize, tbs, tbslen);
}

/* ---- verification, by the public half in another provider ---- */

DECL_DISPATCH_FUNC(signature, sig, verify);
static int sig_verify(void *ctx, const unsigned char *sig, size_t siglen, const unsigned char *tbs,
                      size_t tbslen)
{
	struct sigctx *c = ctx;
	EVP_PKEY_CTX *pctx;
	int ok = 0;

	if (c->key == NULL || c->key->pub == NULL || c->kind == SIG_ED25519)
		return RET_OSSL_ERR;
	pctx = EVP_PKEY_CTX_new_from_pkey(c->prov->libctx, c->key->pub, P11CA_PROV_PROPQ);
	if (pctx == NULL || EVP_PKEY_verify_init(pctx) != 1)
		goto out;
	if (c->md != NULL && EVP_PKEY_CTX_set_signature_md(pctx, c->md) <= 0)
		goto out;
	if (c->kind == SIG_RSA) {
		if (EVP_PKEY_CTX_set_rsa_padding(pctx, c->pad) <= 0)
			goto out;
		if (c->pad == RSA_PKCS1_PSS_PADDING &&
		    (EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, c->saltlen) <= 0 ||
		     (c->mgf1_md && EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, c->mgf1_md) <= 0)))
			goto out;
	}
	ok = EVP_PKEY_verify(pctx, sig, siglen, tbs, tbslen) == 1;
out:
	EVP_PKEY_CTX_free(pctx);
	return ok;
}

DECL_DISPATCH_FUNC(signature, sig, digest_verify_update);
static int sig_digest_verify_update(void *ctx, const unsigned char *data, size_t len)
{
	struct sigctx *c = ctx;

	return c->vmdctx != NULL && EVP_DigestVerifyUpdate(c->vmdctx, data, len) == 1;
}

DECL_DISPATCH_FUNC(signature, sig, digest_verify_final);
static int sig_digest_verify_final(void *ctx, const unsigned char *sig, size_t siglen)
{
	struct sigctx *c = ctx;

	return c->vmdctx != NULL && EVP_DigestVerifyFinal(c->vmdctx, sig, siglen) == 1;
}

DECL_DISPATCH_FUNC(signature, sig, digest_verify);
static int sig_digest_verify(void *ctx, const unsigned char *sig, size_t siglen,
                             const unsigned char *tbs, size_t tbslen)
{
	struct sigctx *c = ctx;

	return c->vmdctx != NULL && EVP_DigestVerify(c->vmdctx, sig, siglen, tbs, tbslen) == 1;
}

/* ---- per algorithm tables ---- */

#define SIGNATURE(name, KIND, extra)                                                               \
	DECL_DISPATCH_FUNC(signature, name, newctx);                                               \
	static void *name##_newctx(void *provctx, const char *propq)                               \
	{                                                                                          \
		return sig_newctx(provctx, propq, KIND);                                           \
	}                                                                                          \
	DECL_DISPATCH_FUNC(signature, name, sign_init);                                            \
	static __attribute__((unused)) int name##_sign_init(void *ctx, void *provkey,              \
	                                                    const OSSL_PARAM params[])             \
	{                                                                                          \
		return sig_init(ctx, provkey, params, 0);                                          \
	}                                                                                          \
	DECL_DISPATCH_FUNC(signature, name, verify_init);                                          \
	static __attribute__((unused)) int name##_verify_init(void *ctx, void *provkey,            \
	                                                      const OSSL_PARAM params[])           \
	{                                                                                          \
		return sig_init(ctx, provkey, params, 1);                                          \
	}                                                                                          \
	DECL_DISPATCH_FUNC(signature, name, digest_sign_init);                                     \
	static int name##_digest_sign_init(void *ctx, const char *mdname, void *provkey,           \
	                                   const OSSL_PARAM params[])                              \
	{                                                                                          \
		return sig_digest_init(ctx, mdname, provkey, params, 0);                           \
	}                                                                                          \
	DECL_DISPATCH_FUNC(signature, name, digest_verify_init);                                   \
	static int name##_digest_verify_init(void *ctx, const char *mdname, void *provkey,         \
	                                     const OSSL_PARAM params[])                            \
	{                                                                                          \
		return sig_digest_init(ctx, mdname, provkey, params, 1);                           \
	}                                                                                          \
	DECL_DISPATCH_FUNC(signature, name, gettable_ctx_params);                                  \
	static const OSSL_PARAM *name##_gettable_ctx_params(void *ctx, void *provctx)              \
	{                                                                                          \
		return sig_gettable(KIND);                                                         \
	}                                                                                          \
	DECL_DISPATCH_FUNC(signature, name, settable_ctx_params);                                  \
	static const OSSL_PARAM *name##_settable_ctx_params(void *ctx, void *provctx)              \
	{                                                                                          \
		return sig_settable(KIND);                                                         \
	}                                                                                          \
	const OSSL_DISPATCH p11ca_prov_##name##_signature_functions[] = {                          \
		{ OSSL_FUNC_SIGNATURE_NEWCTX, (void (*)(void))name##_newctx },                     \
		{ OSSL_FUNC_SIGNATURE_FREECTX, (void (*)(void))sig_freectx },                      \
		{ OSSL_FUNC_SIGNATURE_DUPCTX, (void (*)(void))sig_dupctx },                        \
		{ OSSL_FUNC_SIGNATURE_DIGEST_SIGN_INIT, (void (*)(void))name##_digest_sign_init }, \
		{ OSSL_FUNC_SIGNATURE_DIGEST_VERIFY_INIT,                                          \
		  (void (*)(void))name##_digest_verify_init },                                     \
		{ OSSL_FUNC_SIGNATURE_GET_CTX_PARAMS, (void (*)(void))sig_get_ctx_params },        \
		{ OSSL_FUNC_SIGNATURE_GETTABLE_CTX_PARAMS,                                         \
		  (void (*)(void))name##_gettable_ctx_params },                                    \
		{ OSSL_FUNC_SIGNATURE_SET_CTX_PARAMS, (void (*)(void))sig_set_ctx_params },        \
		{ OSSL_FUNC_SIGNATURE_SETTABLE_CTX_PARAMS,                                         \
		  (void (*)(void))name##_settable_ctx_params },                                    \
		extra{ 0, NULL },                                                                  \
	}

/* OpenSSL takes init and its operation in pairs: Ed25519 has no plain sign */
#define STREAMING(name)                                                                            \
	{ OSSL_FUNC_SIGNATURE_SIGN_INIT, (void (*)(void))name##_sign_init },                       \
	    { OSSL_FUNC_SIGNATURE_VERIFY_INIT, (void (*)(void))name##_verify_init },               \
	    { OSSL_FUNC_SIGNATURE_SIGN, (void (*)(void))sig_sign },                                \
	    { OSSL_FUNC_SIGNATURE_VERIFY, (void (*)(void))sig_verify },                            \
	    { OSSL_FUNC_SIGNATURE_DIGEST_SIGN_UPDATE, (void (*)(void))sig_digest_sign_update },    \
	    { OSSL_FUNC_SIGNATURE_DIGEST_SIGN_FINAL, (void (*)(void))sig_digest_sign_final },      \
	    { OSSL_FUNC_SIGNATURE_DIGEST_VERIFY_UPDATE,                                            \
	      (void (*)(void))sig_digest_verify_update },                                          \
	    { OSSL_FUNC_SIGNATURE_DIGEST_VERIFY_FINAL, (void (*)(void))sig_digest_verify_final },
#define ONESHOT                                                                                    \
	{ OSSL_FUNC_SIGNATURE_DIGEST_SIGN, (void (*)(void))sig_digest_sign },                      \
	    { OSSL_FUNC_SIGNATURE_DIGEST_VERIFY, (void (*)(void))sig_digest_verify },

SIGNATURE(rsa, SIG_RSA, STREAMING(rsa));
SIGNATURE(ecdsa, SIG_ECDSA, STREAMING(ecdsa));
SIGNATURE(ed25519, SIG_ED25519, ONESHOT);

/* sign.c - signatures and RSA decryption on the token. */
#include "config.h"

/* RSA_padding_add_PKCS1_PSS_mgf1 encodes PSS for tokens without it; OpenSSL 3
 * marks it deprecated but offers no replacement for a bare encoding. */
#define OPENSSL_SUPPRESS_DEPRECATED

#include <stdlib.h>
#include <string.h>
#include <openssl/objects.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "internal.h"

/* DER INTEGER for an unsigned big-endian number; returns its length. */
static size_t der_uint(unsigned char *out, const unsigned char *v, size_t len)
{
	size_t n;

	while (len > 1 && v[0] == 0) {
		v++;
		len--;
	}
	n = len + (v[0] & 0x80 ? 1 : 0);
	if (out != NULL) {
		out[0] = 0x02;
		out[1] = (unsigned char)n;
		if (n > len)
			out[2] = 0x00;
		memcpy(out + 2 + (n - len), v, len);
	}
	return 2 + n;
}

P11CA_EXPORT CK_RV p11ca_ecdsa_raw_to_der(const unsigned char *raw, size_t rawlen,
                                          unsigned char *der, size_t *pderlen)
{
	size_t half = rawlen / 2, rl, sl, body, total, hdr;

	/* P-521 halves are 66 bytes: everything stays below 256 bytes */
	if (raw == NULL || rawlen == 0 || rawlen % 2 != 0 || half > 66 || pderlen == NULL)
		return CKR_ARGUMENTS_BAD;
	rl = der_uint(NULL, raw, half);
	sl = der_uint(NULL, raw + half, half);
	body = rl + sl;
	hdr = body < 128 ? 2 : 3;
	total = hdr + body;
	if (der == NULL || *pderlen < total) {
		*pderlen = total;
		return CKR_BUFFER_TOO_SMALL;
	}
	der[0] = 0x30;
	if (hdr == 2) {
		der[1] = (unsigned char)body;
	} else {
		der[1] = 0x81;
		der[2] = (unsigned char)body;
	}
	der_uint(der + hdr, raw, half);
	der_uint(der + hdr + rl, raw + half, half);
	*pderlen = total;
	return CKR_OK;
}

CK_RV p11ca_digest_info(const EVP_MD *md, const unsigned char *dgst, size_t dgstlen,
                        unsigned char *out, size_t *poutlen)
{
	X509_SIG *xs = NULL;
	X509_ALGOR *alg = NULL;
	ASN1_OCTET_STRING *os = NULL;
	unsigned char *p = out;
	int nid = md ? EVP_MD_get_type(md) : NID_undef;
	int len;
	CK_RV rv = P11CA_R_CRYPTO;

	if (nid == NID_undef || (size_t)EVP_MD_get_size(md) != dgstlen)
		return p11ca_err(CKR_ARGUMENTS_BAD, "digest length does not match its algorithm");
	if ((xs = X509_SIG_new()) == NULL)
		goto out;
	X509_SIG_getm(xs, &alg, &os);
	if (X509_ALGOR_set0(alg, OBJ_nid2obj(nid), V_ASN1_NULL, NULL) != 1 ||
	    ASN1_OCTET_STRING_set(os, dgst, (int)dgstlen) != 1)
		goto out;
	len = i2d_X509_SIG(xs, NULL);
	if (len <= 0)
		goto out;
	if ((size_t)len > *poutlen) {
		X509_SIG_free(xs);
		return p11ca_err(CKR_BUFFER_TOO_SMALL, "DigestInfo needs %d bytes", len);
	}
	*poutlen = (size_t)i2d_X509_SIG(xs, &p);
	rv = CKR_OK;
out:
	X509_SIG_free(xs);
	if (rv != CKR_OK)
		p11ca_err(rv, "cannot build the PKCS#1 DigestInfo");
	return rv;
}

CK_MECHANISM_TYPE p11ca_md_mech(const EVP_MD *md)
{
	switch (md ? EVP_MD_get_type(md) : NID_undef) {
	case NID_sha1: return CKM_SHA_1;
	case NID_sha224: return CKM_SHA224;
	case NID_sha256: return CKM_SHA256;
	case NID_sha384: return CKM_SHA384;
	case NID_sha512: return CKM_SHA512;
	default: return CKM_VENDOR_DEFINED;
	}
}

CK_RSA_PKCS_MGF_TYPE p11ca_md_mgf(const EVP_MD *md)
{
	switch (md ? EVP_MD_get_type(md) : NID_undef) {
	case NID_sha1: return CKG_MGF1_SHA1;
	case NID_sha224: return CKG_MGF1_SHA224;
	case NID_sha256: return CKG_MGF1_SHA256;
	case NID_sha384: return CKG_MGF1_SHA384;
	case NID_sha512: return CKG_MGF1_SHA512;
	default: return 0;
	}
}

struct sign_op {
	CK_MECHANISM mech;
	const unsigned char *in;
	size_t inlen;
	unsigned char *out;
	CK_ULONG outlen;
	int decrypt;
};

static CK_RV sign_call(p11ca_token *t, CK_SESSION_HANDLE s, p11ca_key *key, void *data)
{
	struct sign_op *op = data;
	CK_FUNCTION_LIST *fl = t->mod->fl;
	CK_OBJECT_HANDLE h;
	CK_ULONG len = op->outlen;
	CK_RV rv;

	h = __atomic_load_n(&key->handle, __ATOMIC_ACQUIRE);
	if (op->decrypt) {
		if ((rv = fl->C_DecryptInit(s, &op->mech, h)) == CKR_OK)
			rv = fl->C_Decrypt(s, (CK_BYTE *)op->in, op->inlen, op->out, &len);
	} else {
		if ((rv = fl->C_SignInit(s, &op->mech, h)) == CKR_OK)
			rv = fl->C_Sign(s, (CK_BYTE *)op->in, op->inlen, op->out, &len);
	}
	if (rv == CKR_USER_NOT_LOGGED_IN && key->always_authenticate) {
		/* CKA_ALWAYS_AUTHENTICATE keys need a context-specific login:
		 * not supported, say so instead of looping */
		return p11ca_err(P11CA_R_UNSUPPORTED,
		                 "key '%s' wants a PIN for every use "
		                 "(CKA_ALWAYS_AUTHENTICATE), which p11ca does not support",
		                 key->label);
	}
	if (rv == CKR_OK)
		op->outlen = len;
	return rv;
}

static CK_RV run_sign(p11ca_key *key, struct sign_op *op, const char *what)
{
	CK_RV rv;

	/* the token would say CKR_MECHANISM_INVALID; say which ones it allows */
	if (!p11ca_key_allows(key, op->mech.mechanism))
		return p11ca_key_not_allowed(key, what);
	rv = p11ca_token_run(key->token, key, 1, sign_call, op);

	if (rv != CKR_OK && p11ca_fault_of(rv) == P11CA_FAULT_NONE && rv != P11CA_R_UNSUPPORTED &&
	    (rv & CKR_VENDOR_DEFINED) == 0)
		p11ca_err(rv, "%s with key '%s' on token '%s' failed: %s", what, key->label,
		          key->token->info.label, p11ca_rv_text(rv));
	return rv;
}

/* RSA-PSS for tokens that only have raw RSA: encode here, then CKM_RSA_X_509. */
static CK_RV sign_pss_emulated(p11ca_key *key, const struct p11ca_sig_params *params,
                               const unsigned char *dgst, int salt, unsigned char *sig,
                               size_t *psiglen)
{
	size_t k = (size_t)(key->bits + 7) / 8;
	unsigned char *em = NULL;
	EVP_PKEY *pub = NULL;
	const RSA *rsa;
	struct sign_op op;
	CK_RV rv;

	if (!p11ca_token_has_mechanism(key->token, CKM_RSA_X_509))
		return p11ca_err(P11CA_R_UNSUPPORTED, "token '%s' has neither RSA-PSS nor raw RSA",
		                 key->token->info.label);
	if ((rv = p11ca_key_get_public(key, &pub)) != CKR_OK)
		return rv;
	rsa = EVP_PKEY_get0_RSA(pub);
	em = calloc(1, k);
	/* the encoding is RSA_size(rsa) bytes: it must be this key's */
	if (rsa == NULL || em == NULL || (size_t)RSA_size(rsa) != k ||
	    RSA_padding_add_PKCS1_PSS_mgf1((RSA *)rsa, em, dgst, params->md,
	                                   params->mgf1_md ? params->mgf1_md : params->md,
	                                   salt) != 1) {
		rv = p11ca_err(P11CA_R_CRYPTO, "cannot encode the RSA-PSS block");
		goto out;
	}
	memset(&op, 0, sizeof(op));
	op.mech.mechanism = CKM_RSA_X_509;
	op.in = em;
	op.inlen = k;
	op.out = sig;
	op.outlen = *psiglen;
	if ((rv = run_sign(key, &op, "RSA-PSS signing (raw RSA)")) == CKR_OK)
		*psiglen = op.outlen;
out:
	free(em);
	EVP_PKEY_free(pub);
	return rv;
}

/* The RSA-PSS parameters for @params with a @hlen-byte digest into *@pss. */
static CK_RV pss_params(p11ca_key *key, const struct p11ca_sig_params *params, size_t hlen,
                        CK_RSA_PKCS_PSS_PARAMS *pss)
{
	/* largest salt: emLen - hLen - 2, emLen = ceil((modBits - 1) / 8) */
	long maxsalt = (long)((key->bits - 1 + 7) / 8) - (long)hlen - 2;
	long salt = params->pss_saltlen == -1   ? (long)hlen
	            : params->pss_saltlen == -2 ? maxsalt
	                                        : params->pss_saltlen;

	if (salt < 0 || salt > maxsalt)
		return p11ca_err(CKR_ARGUMENTS_BAD, "bad RSA-PSS salt length %ld", salt);
	memset(pss, 0, sizeof(*pss));
	pss->sLen = (CK_ULONG)salt;
	pss->hashAlg = p11ca_md_mech(params->md);
	pss->mgf = p11ca_md_mgf(params->mgf1_md ? params->mgf1_md : params->md);
	return CKR_OK;
}

P11CA_EXPORT CK_RV p11ca_key_sign_digest(p11ca_key *key, const struct p11ca_sig_params *params,
                                         const unsigned char *dgst, size_t dgstlen,
                                         unsigned char *sig, size_t *psiglen)
{
	/* DigestInfo (83 bytes for SHA-512), or raw r||s (132 bytes for P-521) */
	unsigned char buf[144];
	size_t buflen = sizeof(buf);
	CK_RSA_PKCS_PSS_PARAMS pss;
	struct sign_op op;
	size_t need = p11ca_key_max_signature_size(key);
	CK_RV rv;

	if (key == NULL || params == NULL || dgst == NULL || sig == NULL || psiglen == NULL)
		return p11ca_err(CKR_ARGUMENTS_BAD, "p11ca_key_sign_digest: missing argument");
	if (*psiglen < need)
		return p11ca_err(CKR_BUFFER_TOO_SMALL, "signature buffer too small (%zu < %zu)",
		                 *psiglen, need);
	memset(&op, 0, sizeof(op));
	op.in = dgst;
	op.inlen = dgstlen;
	op.out = sig;
	op.outlen = *psiglen;

	switch (params->alg) {
	case P11CA_SIG_RSA_PKCS1:
		if (key->kind != P11CA_KEY_RSA)
			goto mismatch;
		op.mech.mechanism = CKM_RSA_PKCS;
		if (params->md != NULL) {
			if ((rv = p11ca_digest_info(params->md, dgst, dgstlen, buf, &buflen)) !=
			    CKR_OK)
				return rv;
			op.in = buf;
			op.inlen = buflen;
		}
		if ((rv = run_sign(key, &op, "RSA signing")) == CKR_OK)
			*psiglen = op.outlen;
		return rv;
	case P11CA_SIG_RSA_PSS:
		if (key->kind != P11CA_KEY_RSA || params->md == NULL)
			goto mismatch;
		if ((size_t)EVP_MD_get_size(params->md) != dgstlen)
			return p11ca_err(CKR_ARGUMENTS_BAD,
			                 "digest length does not match its algorithm");
		if ((rv = pss_params(key, params, dgstlen, &pss)) != CKR_OK)
			return rv;
		if (!p11ca_key_pss_digest_mech(key, &op.mech.mechanism)) {
			if (!p11ca_token_has_mechanism(key->token, CKM_RSA_PKCS_PSS) &&
			    !p11ca_token_has_mechanism(key->token, CKM_RSA_X_509))
				return p11ca_err(P11CA_R_UNSUPPORTED,
				                 "token '%s' has neither RSA-PSS nor raw RSA",
				                 key->token->info.label);
			return p11ca_key_not_allowed(key, "RSA-PSS signing of a digest");
		}
		if (op.mech.mechanism == CKM_RSA_X_509)
			return sign_pss_emulated(key, params, dgst, (int)pss.sLen, sig, psiglen);
		op.mech.mechanism = CKM_RSA_PKCS_PSS;
		op.mech.pParameter = &pss;
		op.mech.ulParameterLen = sizeof(pss);
		if ((rv = run_sign(key, &op, "RSA-PSS signing")) == CKR_OK)
			*psiglen = op.outlen;
		return rv;
	case P11CA_SIG_ECDSA:
		if (key->kind != P11CA_KEY_EC)
			goto mismatch;
		op.mech.mechanism = CKM_ECDSA;
		/* a digest longer than the group order is cut to its leftmost
		 * bytes, as OpenSSL does (byte-exact for P-256/P-384; P-521 digests
		 * are never longer than 66 bytes); not every token does it itself */
		if (op.inlen > (size_t)(key->bits + 7) / 8)
			op.inlen = (size_t)(key->bits + 7) / 8;
		op.out = buf;
		op.outlen = sizeof(buf);
		if ((rv = run_sign(key, &op, "ECDSA signing")) != CKR_OK)
			return rv;
		rv = p11ca_ecdsa_raw_to_der(buf, op.outlen, sig, psiglen);
		if (rv != CKR_OK)
			return p11ca_err(rv,
			                 "token returned a malformed ECDSA signature (%lu bytes)",
			                 (unsigned long)op.outlen);
		return CKR_OK;
	case P11CA_SIG_RSA_RAW:
		if (key->kind != P11CA_KEY_RSA || params->md != NULL)
			goto mismatch;
		/* as OpenSSL's RSA_NO_PADDING: exactly the modulus' length */
		if (dgstlen != (size_t)(key->bits + 7) / 8)
			return p11ca_err(CKR_DATA_LEN_RANGE,
			                 "raw RSA signs a block of the modulus' size (%zu bytes), "
			                 "not %zu bytes",
			                 (size_t)(key->bits + 7) / 8, dgstlen);
		if (!p11ca_token_has_mechanism(key->token, CKM_RSA_X_509))
			return p11ca_err(P11CA_R_UNSUPPORTED,
			                 "token '%s' has no raw RSA (CKM_RSA_X_509)",
			                 key->token->info.label);
		op.mech.mechanism = CKM_RSA_X_509;
		if ((rv = run_sign(key, &op, "raw RSA signing")) == CKR_OK)
			*psiglen = op.outlen;
		return rv;
	case P11CA_SIG_EDDSA:
		if (key->kind != P11CA_KEY_ED25519)
			goto mismatch;
		op.mech.mechanism = CKM_EDDSA;
		if ((rv = run_sign(key, &op, "EdDSA signing")) == CKR_OK)
			*psiglen = op.outlen;
		return rv;
	}
mismatch:
	return p11ca_err(P11CA_R_UNSUPPORTED, "key '%s' cannot make that kind of signature",
	                 key->label);
}

P11CA_EXPORT CK_RV p11ca_key_sign_message(p11ca_key *key, const struct p11ca_sig_params *params,
                                          const unsigned char *msg, size_t msglen,
                                          unsigned char *sig, size_t *psiglen)
{
	unsigned char dgst[EVP_MAX_MD_SIZE];
	unsigned int dlen = 0;
	CK_MECHANISM_TYPE hm;
	CK_RSA_PKCS_PSS_PARAMS pss;
	struct sign_op op;
	CK_RV rv;

	if (key == NULL || params == NULL || sig == NULL || psiglen == NULL)
		return p11ca_err(CKR_ARGUMENTS_BAD, "p11ca_key_sign_message: missing argument");
	if (params->alg == P11CA_SIG_EDDSA)
		return p11ca_key_sign_digest(key, params, msg, msglen, sig, psiglen);
	if (((params->alg == P11CA_SIG_RSA_PKCS1 && key->kind == P11CA_KEY_RSA &&
	      (hm = p11ca_sig_hash_mech(params->alg, params->md)) != CKM_VENDOR_DEFINED &&
	      p11ca_key_allows(key, hm) && p11ca_token_has_mechanism(key->token, hm)) ||
	     p11ca_key_needs_message(key, params))) {
		/* the token hashes: RSA PKCS#1 v1.5 when it can, RSA-PSS when the
		 * key allows nothing else */
		if (*psiglen < p11ca_key_max_signature_size(key))
			return p11ca_err(CKR_BUFFER_TOO_SMALL, "signature buffer too small");
		memset(&op, 0, sizeof(op));
		op.mech.mechanism = p11ca_sig_hash_mech(params->alg, params->md);
		if (params->alg == P11CA_SIG_RSA_PSS) {
			if ((rv = pss_params(key, params, (size_t)EVP_MD_get_size(params->md),
			                     &pss)) != CKR_OK)
				return rv;
			op.mech.pParameter = &pss;
			op.mech.ulParameterLen = sizeof(pss);
		}
		op.in = msg;
		op.inlen = msglen;
		op.out = sig;
		op.outlen = *psiglen;
		if ((rv = run_sign(key, &op,
		                   params->alg == P11CA_SIG_RSA_PSS ? "RSA-PSS signing"
		                                                    : "RSA signing")) == CKR_OK)
			*psiglen = op.outlen;
		return rv;
	}
	if (params->md == NULL || EVP_Digest(msg, msglen, dgst, &dlen, params->md, NULL) != 1)
		return p11ca_err(P11CA_R_CRYPTO, "cannot hash the message");
	return p11ca_key_sign_digest(key, params, dgst, dlen, sig, psiglen);
}

/* OAEP for tokens that refuse its parameters: raw RSA, then unpad here. */
static CK_RV decrypt_oaep_emulated(p11ca_key *key, const EVP_MD *oaep_md, const EVP_MD *mgf1_md,
                                   const unsigned char *label, size_t label_len,
                                   const unsigned char *in, size_t inlen, unsigned char *out,
                                   size_t *poutlen)
{
	size_t k = (size_t)(key->bits + 7) / 8;
	unsigned char *em = calloc(1, k ? k : 1);
	struct sign_op op;
	int len;
	CK_RV rv;

	if (em == NULL)
		return p11ca_err(CKR_HOST_MEMORY, "out of memory");
	memset(&op, 0, sizeof(op));
	op.decrypt = 1;
	op.mech.mechanism = CKM_RSA_X_509;
	op.in = in;
	op.inlen = inlen;
	op.out = em;
	op.outlen = k;
	if ((rv = run_sign(key, &op, "RSA decryption (raw)")) != CKR_OK)
		goto out;
	if (op.outlen < k) {
		/* the token dropped leading zero bytes: put them back */
		memmove(em + (k - op.outlen), em, op.outlen);
		memset(em, 0, k - op.outlen);
	}
	/* RSA_padding_check_PKCS1_OAEP_mgf1 wants the block without its leading zero */
	len = RSA_padding_check_PKCS1_OAEP_mgf1(
	    out, (int)*poutlen, em + 1, (int)k - 1, (int)k, label, (int)label_len,
	    oaep_md ? oaep_md : EVP_sha1(), mgf1_md ? mgf1_md : (oaep_md ? oaep_md : EVP_sha1()));
	if (len < 0 || em[0] != 0) {
		rv = p11ca_err(CKR_ENCRYPTED_DATA_INVALID, "RSA-OAEP decryption failed");
		goto out;
	}
	*poutlen = (size_t)len;
out:
	p11ca_wipe(em, k);
	free(em);
	return rv;
}

P11CA_EXPORT CK_RV p11ca_key_decrypt(p11ca_key *key, enum p11ca_dec_pad pad, const EVP_MD *oaep_md,
                                     const EVP_MD *mgf1_md, const unsigned char *label,
                                     size_t label_len, const unsigned char *in, size_t inlen,
                                     unsigned char *out, size_t *poutlen)
{
	CK_RSA_PKCS_OAEP_PARAMS oaep;
	struct sign_op op;
	CK_RV rv;

	if (key == NULL || in == NULL || out == NULL || poutlen == NULL)
		return p11ca_err(CKR_ARGUMENTS_BAD, "p11ca_key_decrypt: missing argument");
	if (key->kind != P11CA_KEY_RSA)
		return p11ca_err(P11CA_R_UNSUPPORTED, "only RSA keys decrypt");
	if (!key->can_decrypt)
		return p11ca_err(CKR_KEY_FUNCTION_NOT_PERMITTED,
		                 "key '%s' is not allowed to decrypt (generate it with --decrypt)",
		                 key->label);
	if (*poutlen < (size_t)(key->bits + 7) / 8)
		return p11ca_err(CKR_BUFFER_TOO_SMALL,
		                 "decryption output buffer smaller than the modulus");
	memset(&op, 0, sizeof(op));
	op.decrypt = 1;
	op.in = in;
	op.inlen = inlen;
	op.out = out;
	op.outlen = *poutlen;
	switch (pad) {
	case P11CA_DEC_PKCS1: op.mech.mechanism = CKM_RSA_PKCS; break;
	case P11CA_DEC_RAW: op.mech.mechanism = CKM_RSA_X_509; break;
	case P11CA_DEC_OAEP:
		memset(&oaep, 0, sizeof(oaep));
		oaep.hashAlg = p11ca_md_mech(oaep_md ? oaep_md : EVP_sha1());
		oaep.mgf = p11ca_md_mgf(mgf1_md ? mgf1_md : (oaep_md ? oaep_md : EVP_sha1()));
		oaep.source = CKZ_DATA_SPECIFIED;
		oaep.pSourceData = (void *)label;
		oaep.ulSourceDataLen = label_len;
		op.mech.mechanism = CKM_RSA_PKCS_OAEP;
		op.mech.pParameter = &oaep;
		op.mech.ulParameterLen = sizeof(oaep);
		break;
	default: return p11ca_err(CKR_ARGUMENTS_BAD, "unknown padding");
	}
	rv = run_sign(key, &op, "RSA decryption");
	if (pad == P11CA_DEC_OAEP &&
	    (rv == CKR_ARGUMENTS_BAD || rv == CKR_MECHANISM_PARAM_INVALID) &&
	    p11ca_token_has_mechanism(key->token, CKM_RSA_X_509))
		/* e.g. SoftHSM2 does OAEP with SHA-1 only */
		return decrypt_oaep_emulated(key, oaep_md, mgf1_md, label, label_len, in, inlen,
		                             out, poutlen);
	if (rv == CKR_OK)
		*poutlen = op.outlen;
	return rv;
}

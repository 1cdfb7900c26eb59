/* pubkey.c - public keys from token attributes into OpenSSL, key ids. */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <openssl/core_names.h>
#include <openssl/param_build.h>
#include <openssl/x509.h>

#include "internal.h"

/* CKA_EC_POINT is a DER OCTET STRING per the spec; some tokens give the raw
 * point.  Returns a pointer into @v (no copy) and its length. */
static const unsigned char *ec_point_unwrap(const unsigned char *v, CK_ULONG len, size_t *plen)
{
	const unsigned char *p = v;
	ASN1_OCTET_STRING *os = d2i_ASN1_OCTET_STRING(NULL, &p, (long)len);

	if (os != NULL && p == v + len) {
		size_t hdr = (size_t)(len - (CK_ULONG)ASN1_STRING_length(os));
		*plen = (size_t)ASN1_STRING_length(os);
		ASN1_OCTET_STRING_free(os);
		return v + hdr;
	}
	ASN1_OCTET_STRING_free(os);
	*plen = len;
	return v;
}

static CK_RV from_params(p11ca_ctx *ctx, const char *type, OSSL_PARAM_BLD *bld, EVP_PKEY **ppub)
{
	OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
	EVP_PKEY_CTX *pctx = EVP_PKEY_CTX_new_from_name(ctx->libctx, type, ctx->propq);
	CK_RV rv = CKR_OK;

	if (params == NULL || pctx == NULL || EVP_PKEY_fromdata_init(pctx) <= 0 ||
	    EVP_PKEY_fromdata(pctx, ppub, EVP_PKEY_PUBLIC_KEY, params) <= 0)
		rv = p11ca_err(P11CA_R_CRYPTO, "the token's %s public key is not valid", type);
	EVP_PKEY_CTX_free(pctx);
	OSSL_PARAM_free(params);
	return rv;
}

CK_RV p11ca_pubkey_from_object(p11ca_token *t, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h,
                               CK_KEY_TYPE kt, EVP_PKEY **ppub)
{
	unsigned char *a = NULL, *b = NULL;
	CK_ULONG alen = 0, blen = 0;
	OSSL_PARAM_BLD *bld = NULL;
	BIGNUM *n = NULL, *e = NULL;
	const unsigned char *pt;
	size_t ptlen;
	const char *group;
	CK_RV rv;

	*ppub = NULL;
	if (kt == CKK_RSA) {
		if ((rv = p11ca_attr_get(t, s, h, CKA_MODULUS, &a, &alen)) != CKR_OK ||
		    (rv = p11ca_attr_get(t, s, h, CKA_PUBLIC_EXPONENT, &b, &blen)) != CKR_OK)
			goto out;
		n = BN_bin2bn(a, (int)alen, NULL);
		e = BN_bin2bn(b, (int)blen, NULL);
		bld = OSSL_PARAM_BLD_new();
		if (n == NULL || e == NULL || bld == NULL ||
		    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) ||
		    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e)) {
			rv = p11ca_err(CKR_HOST_MEMORY, "out of memory");
			goto out;
		}
		rv = from_params(t->ctx, "RSA", bld, ppub);
	} else if (kt == CKK_EC) {
		if ((rv = p11ca_attr_get(t, s, h, CKA_EC_PARAMS, &a, &alen)) != CKR_OK ||
		    (rv = p11ca_attr_get(t, s, h, CKA_EC_POINT, &b, &blen)) != CKR_OK)
			goto out;
		group = p11ca_ec_params_group(a, alen, NULL);
		if (group == NULL) {
			rv = p11ca_err(P11CA_R_UNSUPPORTED, "EC key on an unsupported curve");
			goto out;
		}
		pt = ec_point_unwrap(b, blen, &ptlen);
		bld = OSSL_PARAM_BLD_new();
		if (bld == NULL ||
		    !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, group, 0) ||
		    !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pt, ptlen)) {
			rv = p11ca_err(CKR_HOST_MEMORY, "out of memory");
			goto out;
		}
		rv = from_params(t->ctx, "EC", bld, ppub);
	} else if (kt == CKK_EC_EDWARDS) {
		if ((rv = p11ca_attr_get(t, s, h, CKA_EC_POINT, &b, &blen)) != CKR_OK)
			goto out;
		pt = ec_point_unwrap(b, blen, &ptlen);
		if (ptlen != 32) {
			rv = p11ca_err(P11CA_R_UNSUPPORTED,
			               "only Ed25519 Edwards keys are supported");
			goto out;
		}
		*ppub = EVP_PKEY_new_raw_public_key_ex(t->ctx->libctx, "ED25519", t->ctx->propq, pt,
		                                       ptlen);
		rv = *ppub ? CKR_OK
		           : p11ca_err(P11CA_R_CRYPTO, "bad Ed25519 public key on the token");
	} else {
		rv =
		    p11ca_err(P11CA_R_UNSUPPORTED, "unsupported key type 0x%lx", (unsigned long)kt);
	}
out:
	OSSL_PARAM_BLD_free(bld);
	BN_free(n);
	BN_free(e);
	free(a);
	free(b);
	return rv;
}

P11CA_EXPORT CK_RV p11ca_pubkey_key_id(EVP_PKEY *pub, unsigned char id[20])
{
	X509_PUBKEY *xpk = NULL;
	const unsigned char *bits;
	unsigned int mdlen = 0;
	int bitslen;
	CK_RV rv = P11CA_R_CRYPTO;

	if (X509_PUBKEY_set(&xpk, pub) != 1 ||
	    X509_PUBKEY_get0_param(NULL, &bits, &bitslen, NULL, xpk) != 1)
		goto out;
	if (EVP_Digest(bits, (size_t)bitslen, id, &mdlen, EVP_sha1(), NULL) != 1 || mdlen != 20)
		goto out;
	rv = CKR_OK;
out:
	X509_PUBKEY_free(xpk);
	if (rv != CKR_OK)
		p11ca_err(rv, "cannot compute the key identifier");
	return rv;
}

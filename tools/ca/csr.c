/*
 * csr.c - a PKCS#10 request taken apart for issuing: its subject, its
 * SubjectPublicKeyInfo as raw bytes, its requested extensions, its
 * signature checked.
 *
 * OpenSSL 3.0 decodes a request's public key through a decoder chain it
 * builds anew for every request, the most expensive step of issuing.  The
 * common requests (RSA, EC P-256/384/521, Ed25519 keys signed with SHA-2
 * or EdDSA) are walked here with ASN1_get_object and their key is built
 * from its parameters; anything else goes through d2i_X509_REQ.  Both
 * paths end in the same struct ca_csr.  The fast path accepts nothing the
 * general one would refuse (tests/test-csr-parse.c, tests/fuzz/csr_fuzzer.c).
 */
#include "config.h"

#include <limits.h>
#include <string.h>
#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "csr.h"
#include "result.h"

/* Keys and signature checks come from the default provider, never the token's. */
#define PROPQ "provider=default"

static const char not_a_csr[] = "not a certificate signing request (PEM or DER), or truncated";

/* Whether @buf holds a "-----BEGIN " line (PEM rather than DER). */
static int is_pem(const unsigned char *buf, size_t len)
{
	size_t i;

	for (i = 0; i + 11 <= len; i++)
		if (buf[i] == '-' && memcmp(buf + i, "-----BEGIN ", 11) == 0)
			return 1;
	return 0;
}

void ca_csr_free(struct ca_csr *c)
{
	X509_NAME_free(c->subject);
	X509_ALGOR_free(c->key_alg);
	OPENSSL_free(c->key_bits);
	sk_X509_EXTENSION_pop_free(c->exts, X509_EXTENSION_free);
	EVP_PKEY_free(c->pkey);
	memset(c, 0, sizeof(*c));
}

/* One DER element at *p (within @end): its tag, class and contents. */
struct tlv {
	const unsigned char *start, *content, *next;
	long len;
	int tag, cls, constructed;
};

static int tlv_read(const unsigned char **p, const unsigned char *end, struct tlv *t)
{
	const unsigned char *q = *p;
	long len;
	int ret;

	if (q >= end)
		return 0;
	t->start = q;
	ret = ASN1_get_object(&q, &len, &t->tag, &t->cls, (long)(end - q));
	/* 0x80: malformed or overruns; 0x21: indefinite length (not DER) */
	if ((ret & 0x80) || ret == 0x21)
		return 0;
	t->constructed = ret & V_ASN1_CONSTRUCTED;
	t->content = q;
	t->len = len;
	t->next = q + len;
	*p = t->next;
	return 1;
}

static int tlv_expect(const unsigned char **p, const unsigned char *end, struct tlv *t, int tag,
                      int constructed)
{
	return tlv_read(p, end, t) && t->cls == V_ASN1_UNIVERSAL && t->tag == tag &&
	       (t->constructed != 0) == (constructed != 0);
}

/* BIT STRING contents without unused bits. */
static int bits_of(const struct tlv *t, const unsigned char **bits, long *len)
{
	if (t->len < 1 || t->content[0] != 0)
		return 0;
	*bits = t->content + 1;
	*len = t->len - 1;
	return 1;
}

/* The extensionRequest attribute among [0] attributes, if any. */
static int find_extensions(const struct tlv *attrs, STACK_OF(X509_EXTENSION) * *out)
{
	const unsigned char *p = attrs->content, *end = attrs->next;
	struct tlv attr, oid, set, val;

	*out = NULL;
	while (p < end) {
		const unsigned char *q, *o;
		ASN1_OBJECT *obj;
		int nid;

		if (!tlv_expect(&p, end, &attr, V_ASN1_SEQUENCE, 1))
			return 0;
		q = attr.content;
		if (!tlv_expect(&q, attr.next, &oid, V_ASN1_OBJECT, 0) ||
		    !tlv_expect(&q, attr.next, &set, V_ASN1_SET, 1) || q != attr.next)
			return 0;
		o = oid.start;
		if ((obj = d2i_ASN1_OBJECT(NULL, &o, oid.next - oid.start)) == NULL)
			return 0;
		nid = OBJ_obj2nid(obj);
		ASN1_OBJECT_free(obj);
		/* SET OF ANY: each value as d2i_X509_REQ reads it (found by csr_fuzzer) */
		q = set.content;
		while (q < set.next) {
			const unsigned char *v = q;
			ASN1_TYPE *any = d2i_ASN1_TYPE(NULL, &v, set.next - q);
			if (any == NULL)
				return 0;
			ASN1_TYPE_free(any);
			q = v;
		}
		if (nid != NID_ext_req && nid != NID_ms_ext_req)
			continue;
		if (*out != NULL) /* asked twice: which one would be meant? */
			return 0;
		q = set.content;
		if (!tlv_expect(&q, set.next, &val, V_ASN1_SEQUENCE, 1) || q != set.next)
			return 0;
		q = val.start;
		if ((*out = d2i_X509_EXTENSIONS(NULL, &q, val.next - val.start)) == NULL ||
		    q != val.next)
			return 0;
	}
	return 1;
}

/* An RSA public key from its RSAPublicKey DER (n, e). */
static EVP_PKEY *rsa_key(OSSL_LIB_CTX *libctx, const unsigned char *der, long len)
{
	const unsigned char *p = der, *end = der + len, *q;
	struct tlv seq, n, e;
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *params = NULL;
	BIGNUM *bn_n = NULL, *bn_e = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *pk = NULL;

	if (!tlv_expect(&p, end, &seq, V_ASN1_SEQUENCE, 1) || p != end)
		return NULL;
	q = seq.content;
	if (!tlv_expect(&q, seq.next, &n, V_ASN1_INTEGER, 0) ||
	    !tlv_expect(&q, seq.next, &e, V_ASN1_INTEGER, 0) || q != seq.next || n.len < 1 ||
	    e.len < 1 || (n.content[0] & 0x80) || (e.content[0] & 0x80))
		return NULL;
	if ((bn_n = BN_bin2bn(n.content, (int)n.len, NULL)) == NULL ||
	    (bn_e = BN_bin2bn(e.content, (int)e.len, NULL)) == NULL ||
	    (bld = OSSL_PARAM_BLD_new()) == NULL ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e) ||
	    (params = OSSL_PARAM_BLD_to_param(bld)) == NULL ||
	    (ctx = EVP_PKEY_CTX_new_from_name(libctx, "RSA", PROPQ)) == NULL ||
	    EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &pk, EVP_PKEY_PUBLIC_KEY, params) != 1)
		pk = NULL;
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_free(bn_n);
	BN_free(bn_e);
	return pk;
}

static EVP_PKEY *ec_key(OSSL_LIB_CTX *libctx, const char *group, const unsigned char *point,
                        long len)
{
	OSSL_PARAM params[3];
	EVP_PKEY_CTX *ctx;
	EVP_PKEY *pk = NULL;

	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)group, 0);
	params[1] =
	    OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, (void *)point, (size_t)len);
	params[2] = OSSL_PARAM_construct_end();
	if ((ctx = EVP_PKEY_CTX_new_from_name(libctx, "EC", PROPQ)) == NULL ||
	    EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &pk, EVP_PKEY_PUBLIC_KEY, params) != 1)
		pk = NULL;
	EVP_PKEY_CTX_free(ctx);
	return pk;
}

/*
 * The key of a SubjectPublicKeyInfo on the fast path; NULL with *other set
 * when it is of another kind (the general path decides), NULL alone when
 * it is malformed.
 */
static EVP_PKEY *fast_key(OSSL_LIB_CTX *libctx, const X509_ALGOR *alg, const unsigned char *bits,
                          long len, int *other)
{
	const ASN1_OBJECT *aobj;
	const void *pval;
	int ptype, nid, curve;

	*other = 0;
	X509_ALGOR_get0(&aobj, &ptype, &pval, alg);
	nid = OBJ_obj2nid(aobj);
	if (nid == NID_rsaEncryption && (ptype == V_ASN1_NULL || ptype == V_ASN1_UNDEF))
		return rsa_key(libctx, bits, len);
	if (nid == NID_X9_62_id_ecPublicKey && ptype == V_ASN1_OBJECT) {
		curve = OBJ_obj2nid(pval);
		if (curve == NID_X9_62_prime256v1 || curve == NID_secp384r1 ||
		    curve == NID_secp521r1)
			return ec_key(libctx, OBJ_nid2sn(curve), bits, len);
	}
	if (nid == NID_ED25519 && ptype == V_ASN1_UNDEF)
		return EVP_PKEY_new_raw_public_key_ex(libctx, "ED25519", PROPQ, bits, (size_t)len);
	*other = 1;
	return NULL;
}

/*
 * The digest of a signature algorithm on the fast path ("" for EdDSA) and
 * the key type it needs (*pkey_nid); NULL when not on the fast path.
 */
static const char *fast_digest(const X509_ALGOR *alg, int *pkey_nid)
{
	const ASN1_OBJECT *aobj;
	int ptype, rsa_params, ec_params;

	X509_ALGOR_get0(&aobj, &ptype, NULL, alg);
	rsa_params = ptype == V_ASN1_NULL || ptype == V_ASN1_UNDEF;
	ec_params = ptype == V_ASN1_UNDEF;
	*pkey_nid = NID_rsaEncryption;
	switch (OBJ_obj2nid(aobj)) {
	case NID_sha256WithRSAEncryption: return rsa_params ? "SHA256" : NULL;
	case NID_sha384WithRSAEncryption: return rsa_params ? "SHA384" : NULL;
	case NID_sha512WithRSAEncryption: return rsa_params ? "SHA512" : NULL;
	default: break;
	}
	*pkey_nid = NID_X9_62_id_ecPublicKey;
	switch (OBJ_obj2nid(aobj)) {
	case NID_ecdsa_with_SHA256: return ec_params ? "SHA256" : NULL;
	case NID_ecdsa_with_SHA384: return ec_params ? "SHA384" : NULL;
	case NID_ecdsa_with_SHA512: return ec_params ? "SHA512" : NULL;
	case NID_ED25519: *pkey_nid = NID_ED25519; return ec_params ? "" : NULL;
	default: return NULL;
	}
}

static int verify(OSSL_LIB_CTX *libctx, EVP_PKEY *pk, const char *md, const unsigned char *tbs,
                  size_t tbslen, const unsigned char *sig, size_t siglen)
{
	EVP_MD_CTX *mctx = EVP_MD_CTX_new();
	int ok;

	ok = mctx != NULL &&
	     EVP_DigestVerifyInit_ex(mctx, NULL, *md != '\0' ? md : NULL, libctx, PROPQ, pk,
	                             NULL) == 1 &&
	     EVP_DigestVerify(mctx, sig, siglen, tbs, tbslen) == 1;
	EVP_MD_CTX_free(mctx);
	return ok;
}

/* The general path: d2i_X509_REQ and X509_REQ_verify_ex. */
static int parse_general(OSSL_LIB_CTX *libctx, const unsigned char *der, size_t len,
                         struct ca_csr *out)
{
	const unsigned char *p = der, *bits;
	X509_REQ *req = NULL;
	X509_ALGOR *alg;
	ASN1_OBJECT *aobj;
	int ret = RES_BAD_INPUT, blen;

	if (len > LONG_MAX || (req = d2i_X509_REQ(NULL, &p, (long)len)) == NULL || p != der + len) {
		res_set(ret, "%s", not_a_csr);
		goto out;
	}
	if ((out->pkey = X509_REQ_get_pubkey(req)) == NULL) {
		res_set(ret, "its public key is of a kind p11ca cannot read");
		goto out;
	}
	if (X509_REQ_verify_ex(req, out->pkey, libctx, PROPQ) <= 0) {
		res_set(ret, "its signature does not verify (altered or broken CSR)");
		goto out;
	}
	if (!X509_PUBKEY_get0_param(&aobj, &bits, &blen, &alg, X509_REQ_get_X509_PUBKEY(req)) ||
	    (out->key_alg = X509_ALGOR_dup(alg)) == NULL ||
	    (out->key_bits = OPENSSL_memdup(bits, (size_t)blen)) == NULL ||
	    (out->subject = X509_NAME_dup(X509_REQ_get_subject_name(req))) == NULL) {
		ret = res_set(RES_NOMEM, "out of memory");
		goto out;
	}
	out->key_len = blen;
	out->exts = X509_REQ_get_extensions(req);
	ret = RES_OK;
out:
	X509_REQ_free(req);
	return ret;
}

int ca_csr_parse(OSSL_LIB_CTX *libctx, const unsigned char *buf, size_t buflen, struct ca_csr *out)
{
	unsigned char *der = NULL;
	const unsigned char *p, *end, *q, *bits, *sig;
	long len = 0, bitslen, siglen;
	struct tlv outer, info, version, name, spki, alg, keybits, attrs, sigalg, sigbits;
	X509_ALGOR *sig_alg = NULL;
	const char *md;
	int other = 0, ret = RES_BAD_INPUT, pkey_nid;
	char *pem_name = NULL, *header = NULL;
	BIO *bio = NULL;

	memset(out, 0, sizeof(*out));
	if (buflen > INT_MAX) {
		res_set(ret, "%s", not_a_csr);
		goto out;
	}
	if (is_pem(buf, buflen)) {
		if ((bio = BIO_new_mem_buf(buf, (int)buflen)) == NULL ||
		    PEM_read_bio(bio, &pem_name, &header, &der, &len) != 1 ||
		    (strcmp(pem_name, PEM_STRING_X509_REQ) != 0 &&
		     strcmp(pem_name, PEM_STRING_X509_REQ_OLD) != 0)) {
			res_set(ret, "%s", not_a_csr);
			goto out;
		}
		p = der;
	} else {
		p = buf;
		len = (long)buflen;
	}
	end = p + len;
	q = p;
	/* CertificationRequest ::= SEQUENCE { info, signatureAlgorithm, signature } */
	if (!tlv_expect(&q, end, &outer, V_ASN1_SEQUENCE, 1) || q != end)
		goto general;
	q = outer.content;
	if (!tlv_expect(&q, outer.next, &info, V_ASN1_SEQUENCE, 1) ||
	    !tlv_expect(&q, outer.next, &sigalg, V_ASN1_SEQUENCE, 1) ||
	    !tlv_expect(&q, outer.next, &sigbits, V_ASN1_BIT_STRING, 0) || q != outer.next ||
	    !bits_of(&sigbits, &sig, &siglen))
		goto general;
	/* info ::= SEQUENCE { version 0, subject, subjectPKInfo, [0] attributes } */
	q = info.content;
	if (!tlv_expect(&q, info.next, &version, V_ASN1_INTEGER, 0) || version.len != 1 ||
	    version.content[0] != 0 || !tlv_expect(&q, info.next, &name, V_ASN1_SEQUENCE, 1) ||
	    !tlv_expect(&q, info.next, &spki, V_ASN1_SEQUENCE, 1) ||
	    !tlv_read(&q, info.next, &attrs) || attrs.cls != V_ASN1_CONTEXT_SPECIFIC ||
	    attrs.tag != 0 || !attrs.constructed || q != info.next)
		goto general;
	{
		const unsigned char *s = spki.content;
		if (!tlv_expect(&s, spki.next, &alg, V_ASN1_SEQUENCE, 1) ||
		    !tlv_expect(&s, spki.next, &keybits, V_ASN1_BIT_STRING, 0) || s != spki.next ||
		    !bits_of(&keybits, &bits, &bitslen))
			goto general;
	}
	q = sigalg.start;
	if ((sig_alg = d2i_X509_ALGOR(NULL, &q, sigalg.next - sigalg.start)) == NULL ||
	    (md = fast_digest(sig_alg, &pkey_nid)) == NULL)
		goto general;
	q = alg.start;
	if ((out->key_alg = d2i_X509_ALGOR(NULL, &q, alg.next - alg.start)) == NULL)
		goto general;
	/* a signature algorithm for another kind of key: OpenSSL refuses it there */
	{
		const ASN1_OBJECT *kobj;
		X509_ALGOR_get0(&kobj, NULL, NULL, out->key_alg);
		if (OBJ_obj2nid(kobj) != pkey_nid)
			goto general;
	}
	if ((out->pkey = fast_key(libctx, out->key_alg, bits, bitslen, &other)) == NULL) {
		if (other)
			goto general;
		res_set(ret, "its public key is malformed");
		goto out;
	}
	if (!verify(libctx, out->pkey, md, info.start, (size_t)(info.next - info.start), sig,
	            (size_t)siglen)) {
		res_set(ret, "its signature does not verify (altered or broken CSR)");
		goto out;
	}
	q = name.start;
	if ((out->subject = d2i_X509_NAME(NULL, &q, name.next - name.start)) == NULL ||
	    q != name.next) {
		res_set(ret, "its subject is malformed");
		goto out;
	}
	if (!find_extensions(&attrs, &out->exts)) {
		res_set(ret, "its requested extensions are malformed");
		goto out;
	}
	if ((out->key_bits = OPENSSL_memdup(bits, (size_t)bitslen)) == NULL) {
		ret = res_set(RES_NOMEM, "out of memory");
		goto out;
	}
	out->key_len = (int)bitslen;
	ret = RES_OK;
	goto out;
general:
	/* not the common shape: OpenSSL's own parser and checks decide */
	ca_csr_free(out);
	ERR_clear_error();
	ret = parse_general(libctx, p, (size_t)len, out);
out:
	if (ret != RES_OK)
		ca_csr_free(out);
	ERR_clear_error();
	X509_ALGOR_free(sig_alg);
	OPENSSL_free(pem_name);
	OPENSSL_free(header);
	OPENSSL_free(der);
	BIO_free(bio);
	return ret;
}

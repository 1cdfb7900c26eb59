/*
 * codec-resp.c - the OCSP server's response side (codec.h): a CA's issuer
 * hashes, a BasicOCSPResponse built with OpenSSL's OCSP API and signed
 * through the CA's library context (the token), and the error responses.
 * The request side is codec.c.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/ocsp.h>
#include <openssl/x509.h>

#include "codec.h"
#include "result.h"

static const EVP_MD *md_of(int nid, size_t *plen)
{
	switch (nid) {
	case NID_sha1: *plen = 20; return EVP_sha1();
	case NID_sha256: *plen = 32; return EVP_sha256();
	case NID_sha384: *plen = 48; return EVP_sha384();
	case NID_sha512: *plen = 64; return EVP_sha512();
	default: *plen = 0; return NULL;
	}
}

int srv_ocsp_issuer_hashes(X509 *ca, int md_nid, unsigned char *name_hash, unsigned char *key_hash,
                           size_t *plen)
{
	unsigned int n1 = 0, n2 = 0;
	size_t want;
	const EVP_MD *md = md_of(md_nid, &want);

	*plen = 0;
	if (md == NULL)
		return res_set(RES_UNSUPPORTED, "no OCSP CertID hash %s", OBJ_nid2sn(md_nid));
	if (X509_NAME_digest(X509_get_subject_name(ca), md, name_hash, &n1) != 1 ||
	    X509_pubkey_digest(ca, md, key_hash, &n2) != 1 || n1 != want || n2 != want)
		return res_ossl(RES_CRYPTO, "hashing the CA's name and key");
	*plen = want;
	return RES_OK;
}

/* A CertID's DER is at most this long (SHA-512 hashes, a 21-octet serial). */
#define CERTID_DER_MAX 200

/* Appends tag @tag and length @len (< 65536) at *@pp. */
static void put_hdr(unsigned char **pp, int tag, size_t len)
{
	unsigned char *p = *pp;

	*p++ = (unsigned char)tag;
	if (len < 0x80) {
		*p++ = (unsigned char)len;
	} else if (len < 0x100) {
		*p++ = 0x81;
		*p++ = (unsigned char)len;
	} else {
		*p++ = 0x82;
		*p++ = (unsigned char)(len >> 8);
		*p++ = (unsigned char)len;
	}
	*pp = p;
}

static size_t hdr_len(size_t len)
{
	return len < 0x80 ? 2 : len < 0x100 ? 3 : 4;
}

/*
 * @id as a CertID, byte for byte as the request carried it (DER is unique
 * for these fields, and params_absent says which form the algorithm had).
 */
static int certid_make(const struct srv_certid *id, OCSP_CERTID **pcid)
{
	unsigned char der[CERTID_DER_MAX], ser[SRV_SERIAL_MAX + 1], *p = der;
	const unsigned char *q = der;
	const ASN1_OBJECT *oid;
	size_t want, olen, alen, slen, clen, i;
	unsigned carry;

	*pcid = NULL;
	if (md_of(id->md_nid, &want) == NULL || id->hash_len != want)
		return res_set(RES_BAD_INPUT,
		               "a CertID with an unknown hash or hashes of a wrong length");
	if (id->serial_len == 0 || id->serial_len > SRV_SERIAL_MAX ||
	    (id->serial_len > 1 && id->serial[0] == 0) ||
	    (id->negative && id->serial_len == 1 && id->serial[0] == 0))
		return res_set(RES_BAD_INPUT, "a CertID with a bad serial");
	/* the INTEGER's content: the magnitude, or its two's complement */
	slen = 0;
	if (!id->negative) {
		if (id->serial[0] & 0x80)
			ser[slen++] = 0;
		memcpy(ser + slen, id->serial, id->serial_len);
		slen += id->serial_len;
	} else {
		unsigned char *t = ser + 1;

		for (i = id->serial_len, carry = 1; i-- > 0;) {
			unsigned v = (unsigned)(unsigned char)~id->serial[i] + carry;

			t[i] = (unsigned char)v;
			carry = v >> 8;
		}
		if (t[0] & 0x80) {
			memmove(ser, t, id->serial_len);
			slen = id->serial_len;
		} else {
			ser[0] = 0xff;
			slen = id->serial_len + 1;
		}
	}
	if (slen > SRV_SERIAL_MAX)
		return res_set(RES_BAD_INPUT, "a CertID with a serial too long");
	oid = OBJ_nid2obj(id->md_nid);
	olen = OBJ_length(oid);
	alen = 2 + olen + (id->params_absent ? 0 : 2);
	clen = 2 + alen + 2 * (2 + id->hash_len) + 2 + slen;
	put_hdr(&p, 0x30, clen);
	put_hdr(&p, 0x30, alen);
	put_hdr(&p, 0x06, olen);
	memcpy(p, OBJ_get0_data(oid), olen);
	p += olen;
	if (!id->params_absent)
		put_hdr(&p, 0x05, 0);
	put_hdr(&p, 0x04, id->hash_len);
	memcpy(p, id->name_hash, id->hash_len);
	p += id->hash_len;
	put_hdr(&p, 0x04, id->hash_len);
	memcpy(p, id->key_hash, id->hash_len);
	p += id->hash_len;
	put_hdr(&p, 0x02, slen);
	memcpy(p, ser, slen);
	p += slen;
	if ((size_t)(p - der) != hdr_len(clen) + clen)
		return res_set(RES_CRYPTO, "a CertID of a bad length"); /* not reached */
	if ((*pcid = d2i_OCSP_CERTID(NULL, &q, (long)(p - der))) == NULL)
		return res_ossl(RES_CRYPTO, "making a CertID");
	return RES_OK;
}

/* One SingleResponse into @bs. */
static int add_single(OCSP_BASICRESP *bs, const struct srv_single *s)
{
	ASN1_GENERALIZEDTIME *tu = NULL, *nu = NULL, *rt = NULL;
	OCSP_CERTID *cid = NULL;
	int rc, reason = OCSP_REVOKED_STATUS_NOSTATUS;

	if (s->id == NULL)
		return res_set(RES_BAD_INPUT, "a single response without a CertID");
	if (s->status != V_OCSP_CERTSTATUS_GOOD && s->status != V_OCSP_CERTSTATUS_REVOKED &&
	    s->status != V_OCSP_CERTSTATUS_UNKNOWN)
		return res_set(RES_BAD_INPUT, "a bad certificate status %d", s->status);
	if (s->status == V_OCSP_CERTSTATUS_REVOKED) {
		if (s->reason < -1 || s->reason > 10 || s->reason == 7)
			return res_set(RES_BAD_INPUT, "a bad CRL reason %d", s->reason);
		reason = s->reason;
	}
	if (s->next_update != 0 && s->next_update < s->this_update)
		return res_set(RES_BAD_INPUT, "nextUpdate before thisUpdate");
	if ((rc = certid_make(s->id, &cid)) != RES_OK)
		goto out;
	rc = RES_CRYPTO;
	if ((tu = ASN1_GENERALIZEDTIME_set(NULL, (time_t)s->this_update)) == NULL ||
	    (s->next_update != 0 &&
	     (nu = ASN1_GENERALIZEDTIME_set(NULL, (time_t)s->next_update)) == NULL) ||
	    (s->status == V_OCSP_CERTSTATUS_REVOKED &&
	     (rt = ASN1_GENERALIZEDTIME_set(NULL, (time_t)s->revoked_at)) == NULL)) {
		rc = res_ossl(RES_CRYPTO, "OCSP response times");
		goto out;
	}
	if (OCSP_basic_add1_status(bs, cid, s->status, reason, rt, tu, nu) == NULL) {
		rc = res_ossl(RES_CRYPTO, "adding a single OCSP response");
		goto out;
	}
	rc = RES_OK;
out:
	ASN1_GENERALIZEDTIME_free(tu);
	ASN1_GENERALIZEDTIME_free(nu);
	ASN1_GENERALIZEDTIME_free(rt);
	OCSP_CERTID_free(cid);
	return rc;
}

static int add_nonce(OCSP_BASICRESP *bs, const unsigned char *nonce, size_t len)
{
	ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
	X509_EXTENSION *ext = NULL;
	int ok;

	/* the extnValue as the client sent it (not OCSP_basic_add1_nonce: it wraps) */
	ok = os != NULL && ASN1_OCTET_STRING_set(os, nonce, (int)len) == 1 &&
	     (ext = X509_EXTENSION_create_by_NID(NULL, NID_id_pkix_OCSP_Nonce, 0, os)) != NULL &&
	     OCSP_BASICRESP_add_ext(bs, ext, -1) == 1;
	X509_EXTENSION_free(ext);
	ASN1_OCTET_STRING_free(os);
	return ok ? RES_OK : res_ossl(RES_CRYPTO, "adding the nonce");
}

/* 1 when @key's public key is read and is not @x's (SubjectPublicKeyInfo DER). */
static int keys_differ(EVP_PKEY *key, X509 *x)
{
	unsigned char *a = NULL, *b = NULL;
	int alen, blen, differ;

	ERR_set_mark();
	alen = i2d_PUBKEY(key, &a);
	blen = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &b);
	differ = alen > 0 && blen > 0 && (alen != blen || memcmp(a, b, (size_t)alen) != 0);
	ERR_pop_to_mark();
	OPENSSL_free(a);
	OPENSSL_free(b);
	return differ;
}

/* Signs @bs as @sg; RES_TOKEN when the token (the provider) fails. */
static int sign(OCSP_BASICRESP *bs, const struct srv_signer *sg)
{
	EVP_MD_CTX *mctx = EVP_MD_CTX_new();
	const char *md = sg->md != NULL ? sg->md : "sha256";
	unsigned long flags = OCSP_RESPID_KEY | OCSP_NOTIME, e;
	int rc;

	if (EVP_PKEY_is_a(sg->key, "ED25519") || EVP_PKEY_is_a(sg->key, "ED448"))
		md = NULL;
	if (!sg->delegated)
		flags |= OCSP_NOCERTS;
	if (mctx == NULL) {
		rc = res_set(RES_NOMEM, "out of memory");
		goto out;
	}
	if (EVP_DigestSignInit_ex(mctx, NULL, md, sg->libctx, NULL, sg->key, NULL) != 1) {
		rc = res_ossl(RES_TOKEN, "OCSP response: starting to sign on the token");
		goto out;
	}
	if (OCSP_basic_sign_ctx(bs, sg->cert, mctx, NULL, flags) != 1) {
		e = ERR_peek_last_error(); /* after X509_check_private_key's own */
		/*
		 * "does not match" is the token's failure too when the provider
		 * could not compare: only keys seen to differ are the caller's.
		 */
		if (ERR_GET_LIB(e) == ERR_LIB_OCSP &&
		    ERR_GET_REASON(e) == OCSP_R_PRIVATE_KEY_DOES_NOT_MATCH_CERTIFICATE &&
		    keys_differ(sg->key, sg->cert))
			rc =
			    res_ossl(RES_CRYPTO, "OCSP response: the signer's key and certificate");
		else
			rc = res_ossl(RES_TOKEN, "OCSP response: signing on the token");
		goto out;
	}
	rc = RES_OK;
out:
	EVP_MD_CTX_free(mctx);
	return rc;
}

int srv_ocsp_sign(const struct srv_signer *sg, const struct srv_single *s, size_t n,
                  const unsigned char *nonce, size_t nonce_len, int64_t produced_at,
                  unsigned char **pder, size_t *plen)
{
	OCSP_BASICRESP *bs = NULL;
	OCSP_RESPONSE *resp = NULL;
	unsigned char *der = NULL, *p;
	size_t i;
	int rc, len;

	*pder = NULL;
	*plen = 0;
	if (sg == NULL || sg->key == NULL || sg->cert == NULL || s == NULL || n == 0 ||
	    n > SRV_OCSP_MAX_IDS ||
	    (nonce != NULL && (nonce_len == 0 || nonce_len > SRV_NONCE_MAX)))
		return res_set(RES_BAD_INPUT, "OCSP response: bad arguments");
	if ((bs = OCSP_BASICRESP_new()) == NULL) {
		rc = res_set(RES_NOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < n; i++)
		if ((rc = add_single(bs, &s[i])) != RES_OK)
			goto out;
	if (nonce != NULL && (rc = add_nonce(bs, nonce, nonce_len)) != RES_OK)
		goto out;
	/*
	 * producedAt is the caller's (OCSP_NOTIME keeps OpenSSL from setting
	 * "now"); the API only hands it out const, but the object is ours.
	 */
	if (ASN1_GENERALIZEDTIME_set((ASN1_GENERALIZEDTIME *)OCSP_resp_get0_produced_at(bs),
	                             (time_t)produced_at) == NULL) {
		rc = res_ossl(RES_CRYPTO, "OCSP response: producedAt");
		goto out;
	}
	if ((rc = sign(bs, sg)) != RES_OK)
		goto out;
	if ((resp = OCSP_response_create(OCSP_RESPONSE_STATUS_SUCCESSFUL, bs)) == NULL ||
	    (len = i2d_OCSP_RESPONSE(resp, NULL)) <= 0) {
		rc = res_ossl(RES_CRYPTO, "OCSP response: encoding");
		goto out;
	}
	if ((der = malloc((size_t)len)) == NULL) {
		rc = res_set(RES_NOMEM, "out of memory");
		goto out;
	}
	p = der;
	if (i2d_OCSP_RESPONSE(resp, &p) != len) {
		rc = res_ossl(RES_CRYPTO, "OCSP response: encoding");
		goto out;
	}
	*pder = der;
	*plen = (size_t)len;
	der = NULL; /* transferred */
	rc = RES_OK;
out:
	free(der);
	OCSP_RESPONSE_free(resp);
	OCSP_BASICRESP_free(bs);
	ERR_clear_error();
	return rc;
}

/* OCSPResponse ::= SEQUENCE { responseStatus ENUMERATED } with no responseBytes. */
static const unsigned char errors[7][5] = {
	[OCSP_RESPONSE_STATUS_MALFORMEDREQUEST] = { 0x30, 0x03, 0x0a, 0x01, 0x01 },
	[OCSP_RESPONSE_STATUS_INTERNALERROR] = { 0x30, 0x03, 0x0a, 0x01, 0x02 },
	[OCSP_RESPONSE_STATUS_TRYLATER] = { 0x30, 0x03, 0x0a, 0x01, 0x03 },
	[OCSP_RESPONSE_STATUS_SIGREQUIRED] = { 0x30, 0x03, 0x0a, 0x01, 0x05 },
	[OCSP_RESPONSE_STATUS_UNAUTHORIZED] = { 0x30, 0x03, 0x0a, 0x01, 0x06 },
};

const unsigned char *srv_ocsp_error(int status, size_t *plen)
{
	*plen = 0;
	if (status < 0 || status >= 7 || errors[status][0] == 0)
		return NULL;
	*plen = sizeof(errors[status]);
	return errors[status];
}

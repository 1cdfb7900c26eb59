/*
 * serve-codec-fixture.h - shared by the codec tests of `p11ca serve`
 * (test-serve-codec-req.c, test-serve-codec-resp.c): see
 * serve-codec-fixture.c.
 */
#ifndef P11CA_SERVE_CODEC_FIXTURE_H
#define P11CA_SERVE_CODEC_FIXTURE_H

#include <stddef.h>
#include <openssl/ocsp.h>
#include <openssl/x509.h>

#include "codec.h"

/* Made by codec_setup (a cmocka group setup), freed by codec_teardown:
 * an EC P-256 CA, an RSA-2048 CA, an Ed25519 responder of ca with
 * OCSPSigning, and four leaves of ca (serials 0x1001, 0x80, 0x80002 and a
 * random 20-octet one with the top bit set). */
extern EVP_PKEY *ca_key, *rsa_key, *resp_key;
extern X509 *ca, *rsa_ca, *responder, *leaf[4];
int codec_setup(void **state);
int codec_teardown(void **state);

/* The DER of @req (OPENSSL_free). */
unsigned char *req_der(OCSP_REQUEST *req, size_t *plen);
/* A request for leaf[0..n-1] (mod 4) with @md's CertIDs, a nonce when @nonce. */
OCSP_REQUEST *request(const EVP_MD *md, int n, int nonce);
/* The CertID of leaf[@i]'s serial under @issuer (its name and key). */
OCSP_CERTID *cert_id(const EVP_MD *md, int i, X509 *issuer);
/*
 * srv_ocsp_req_parse(@der) into @r; a refusal must be RES_BAD_INPUT with a
 * one-line message, an acceptance what d2i_OCSP_REQUEST reads whole, with
 * the same CertIDs and nonce (fails the test otherwise).  Its result.
 */
int parse_vs_openssl(const unsigned char *der, size_t len, struct srv_ocsp_req *r);
/* Appends the DER element @tag around @len bytes of @content at @out + *@pn. */
void tlv(unsigned char *out, size_t *pn, int tag, const unsigned char *content, size_t len);
/* A whole request (into @out) of one Request around @certid, and @tail after the requestList. */
size_t wrap_certid(const unsigned char *certid, size_t len, const unsigned char *tail, size_t tlen,
                   unsigned char *out);
/* A SHA-1 CertID (0x5a hashes) with serial INTEGER content @ser, NULL parameters when @params. */
size_t certid_with_serial(const unsigned char *ser, size_t slen, int params, unsigned char *out);

#endif

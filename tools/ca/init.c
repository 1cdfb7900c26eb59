/*
 * init.c - what a new CA is made of: the self-signed root certificate, or
 * the CSR a parent CA signs for a subordinate one.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include "ca.h"
#include "result.h"

static void bc_text(char *out, size_t cap, int pathlen)
{
	if (pathlen >= 0)
		snprintf(out, cap, "critical,CA:TRUE,pathlen:%d", pathlen);
	else
		snprintf(out, cap, "critical,CA:TRUE");
}

int ca_make_root(OSSL_LIB_CTX *libctx, EVP_PKEY *key, const X509_NAME *name, long days,
                 const char *md, int pathlen, X509 **px)
{
	unsigned char serial[CA_SERIAL_BYTES];
	char bc[64];
	time_t now = time(NULL);
	X509 *x = NULL;
	int rc;

	*px = NULL;
	if ((rc = ca_random_serial(libctx, serial)) != RES_OK ||
	    (rc = ca_build_cert(libctx, NULL, name, NULL, key, serial, sizeof(serial), now,
	                        now + (time_t)days * 86400, &x)) != RES_OK)
		return rc;
	bc_text(bc, sizeof(bc), pathlen);
	if ((rc = ca_add_ext(x, x, NID_basic_constraints, bc)) != RES_OK ||
	    (rc = ca_add_ext(x, x, NID_key_usage, "critical,keyCertSign,cRLSign")) != RES_OK ||
	    (rc = ca_add_ext(x, x, NID_subject_key_identifier, "hash")) != RES_OK ||
	    (rc = ca_add_ext(x, x, NID_authority_key_identifier, "keyid:always")) != RES_OK ||
	    (rc = ca_sign_cert(libctx, x, key, md)) != RES_OK) {
		X509_free(x);
		return rc;
	}
	*px = x;
	return RES_OK;
}

int ca_make_sub_csr(OSSL_LIB_CTX *libctx, EVP_PKEY *key, const X509_NAME *name, const char *md,
                    int pathlen, X509_REQ **preq)
{
	X509_REQ *req = X509_REQ_new_ex(libctx, NULL);
	STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
	X509_EXTENSION *ext = NULL;
	EVP_MD_CTX *mctx = EVP_MD_CTX_new();
	char bc[64];
	int rc = RES_CRYPTO;

	*preq = NULL;
	if (EVP_PKEY_is_a(key, "ED25519"))
		md = NULL;
	bc_text(bc, sizeof(bc), pathlen);
	if (req == NULL || exts == NULL || mctx == NULL || !X509_REQ_set_version(req, 0) ||
	    !X509_REQ_set_subject_name(req, name) || !X509_REQ_set_pubkey(req, key))
		goto fail;
	if ((ext = X509V3_EXT_conf_nid(NULL, NULL, NID_basic_constraints, bc)) == NULL ||
	    !sk_X509_EXTENSION_push(exts, ext))
		goto fail;
	if ((ext = X509V3_EXT_conf_nid(NULL, NULL, NID_key_usage,
	                               "critical,keyCertSign,cRLSign")) == NULL ||
	    !sk_X509_EXTENSION_push(exts, ext))
		goto fail;
	ext = NULL;
	if (!X509_REQ_add_extensions(req, exts))
		goto fail;
	if (EVP_DigestSignInit_ex(mctx, NULL, md, libctx, NULL, key, NULL) != 1 ||
	    X509_REQ_sign_ctx(req, mctx) <= 0) {
		rc = RES_TOKEN;
		goto fail;
	}
	*preq = req;
	req = NULL;
	rc = RES_OK;
	goto out;
fail:
	X509_EXTENSION_free(ext);
	res_ossl(rc, "making the sub-CA's CSR");
out:
	EVP_MD_CTX_free(mctx);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	X509_REQ_free(req);
	return rc;
}

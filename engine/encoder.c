/*
 * encoder.c - SubjectPublicKeyInfo (DER, PEM) and text for token keys, so
 * CSRs and certificates get their public key without the private half ever
 * being asked for; a key genpkey made is written as a reference (its URI).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "provider.h"

enum enc_out { ENC_DER = 1, ENC_PEM, ENC_TEXT };

struct encctx {
	struct p11ca_prov *prov;
	enum enc_out out;
};

static void *enc_newctx(void *provctx, enum enc_out out)
{
	struct encctx *c = OPENSSL_zalloc(sizeof(*c));

	if (c != NULL) {
		c->prov = provctx;
		c->out = out;
	}
	return c;
}

DECL_DISPATCH_FUNC(encoder, enc, freectx);
static void enc_freectx(void *ctx)
{
	OPENSSL_free(ctx);
}

DECL_DISPATCH_FUNC(encoder, enc, does_selection);
static int enc_does_selection(void *provctx, int selection)
{
	/* SubjectPublicKeyInfo: the public key (with its parameters) */
	return (selection & OSSL_KEYMGMT_SELECT_PUBLIC_KEY) != 0;
}

DECL_DISPATCH_FUNC(encoder, text, does_selection);
static int text_does_selection(void *provctx, int selection)
{
	/* any view of a token key prints its public half and where the rest is */
	return (selection & OSSL_KEYMGMT_SELECT_ALL) != 0;
}

DECL_DISPATCH_FUNC(encoder, priv, does_selection);
static int priv_does_selection(void *provctx, int selection)
{
	return (selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY) != 0;
}

/*
 * What a token key's private half is written as: a reference, never key
 * material.  The format latchset/pkcs11-provider writes and reads, so its
 * users' files and ours are the same: PEM "PKCS#11 PROVIDER URI" around
 * SEQUENCE { desc VisibleString, uri UTF8String }.
 */
#define URI_PEM_NAME "PKCS#11 PROVIDER URI"
#define URI_DESC     "PKCS#11 Provider URI v1.0"

/* The DER of the reference to @uri; *plen its length; OPENSSL_free() it. */
static unsigned char *uri_ref_der(const char *uri, int *plen)
{
	int dl = (int)strlen(URI_DESC), ul = (int)strlen(uri);
	int inner = ASN1_object_size(0, dl, V_ASN1_VISIBLESTRING) +
	            ASN1_object_size(0, ul, V_ASN1_UTF8STRING);
	int total = ASN1_object_size(1, inner, V_ASN1_SEQUENCE);
	unsigned char *der, *p;

	if (inner <= 0 || total <= 0 || (der = OPENSSL_malloc((size_t)total)) == NULL)
		return NULL;
	p = der;
	ASN1_put_object(&p, 1, inner, V_ASN1_SEQUENCE, V_ASN1_UNIVERSAL);
	ASN1_put_object(&p, 0, dl, V_ASN1_VISIBLESTRING, V_ASN1_UNIVERSAL);
	memcpy(p, URI_DESC, (size_t)dl);
	p += dl;
	ASN1_put_object(&p, 0, ul, V_ASN1_UTF8STRING, V_ASN1_UNIVERSAL);
	memcpy(p, uri, (size_t)ul);
	*plen = total;
	return der;
}

/*
 * Asked to write a private key out.  A key genpkey just made on a token is
 * written as its pkcs11: URI, so that genpkey ends in success and says where
 * the key is; any other token key is refused (pkey -in pkcs11:... -out: the
 * key stays where it is, named by its URI); a key without a token half (an
 * ephemeral software key) is refused, saying why.
 */
DECL_DISPATCH_FUNC(encoder, priv, encode);
static int priv_encode(void *ctx, OSSL_CORE_BIO *cout, const void *obj_raw,
                       const OSSL_PARAM obj_abstract[], int selection, OSSL_PASSPHRASE_CALLBACK *cb,
                       void *cbarg)
{
	struct encctx *c = ctx;
	const struct p11ca_prov_key *k = obj_raw;
	unsigned char *der = NULL;
	char *uri = NULL;
	BIO *out = NULL;
	int len = 0, ok = 0;

	if (k == NULL || obj_abstract != NULL)
		return RET_OSSL_ERR;
	if (k->key == NULL) {
		P11CA_PROV_RAISE(c->prov, P11CA_PROV_R_NOT_EXTRACTABLE,
		                 "this key is not on a PKCS#11 token, and p11ca writes no private "
		                 "key: to make one on a token, give genpkey -pkeyopt "
		                 "pkcs11_uri:pkcs11:token=...;object=LABEL");
		return RET_OSSL_ERR;
	}
	if (!k->generated) {
		P11CA_PROV_RAISE(c->prov, P11CA_PROV_R_NOT_EXTRACTABLE,
		                 "the private key stays on its PKCS#11 token and cannot be written "
		                 "out; use its pkcs11: URI, or -pubout for the public key");
		return RET_OSSL_ERR;
	}
	if ((uri = p11ca_key_get_uri(k->key)) == NULL || (der = uri_ref_der(uri, &len)) == NULL ||
	    (out = BIO_new_from_core_bio(c->prov->corectx, cout)) == NULL)
		goto out;
	ok = c->out == ENC_PEM ? PEM_write_bio(out, URI_PEM_NAME, "", der, len) > 0
	                       : BIO_write(out, der, len) == len;
out:
	if (!ok)
		P11CA_PROV_RAISE(c->prov, P11CA_PROV_R_OPENSSL,
		                 "cannot write the pkcs11: URI of the key");
	BIO_free(out);
	OPENSSL_free(der);
	free(uri);
	return ok ? RET_OSSL_OK : RET_OSSL_ERR;
}

DECL_DISPATCH_FUNC(encoder, enc, encode);
static int enc_encode(void *ctx, OSSL_CORE_BIO *cout, const void *obj_raw,
                      const OSSL_PARAM obj_abstract[], int selection, OSSL_PASSPHRASE_CALLBACK *cb,
                      void *cbarg)
{
	struct encctx *c = ctx;
	const struct p11ca_prov_key *k = obj_raw;
	BIO *out;
	int ok = 0;

	if (k == NULL || obj_abstract != NULL)
		return RET_OSSL_ERR;
	if (k->pub == NULL) {
		char *uri = k->key ? p11ca_key_get_uri(k->key) : NULL;
		P11CA_PROV_RAISE(c->prov, P11CA_PROV_R_NOT_FOUND,
		                 "no public key for %s on its token (no public-key object, "
		                 "CKA_PUBLIC_KEY_INFO or certificate with its id)",
		                 uri ? uri : "this key");
		free(uri);
		return RET_OSSL_ERR;
	}
	if ((out = BIO_new_from_core_bio(c->prov->corectx, cout)) == NULL)
		return RET_OSSL_ERR;
	switch (c->out) {
	case ENC_DER: ok = i2d_PUBKEY_bio(out, k->pub) == 1; break;
	case ENC_PEM: ok = PEM_write_bio_PUBKEY(out, k->pub) == 1; break;
	case ENC_TEXT:
		ok = BIO_printf(out, "%s key%s\n", p11ca_prov_key_type_name(k->type),
		                k->key ? " (private half on a PKCS#11 token, not extractable)"
		                       : "") > 0 &&
		     EVP_PKEY_print_public(out, k->pub, 0, NULL) == 1;
		if (ok && k->key != NULL) {
			char *uri = p11ca_key_get_uri(k->key);
			ok = BIO_printf(out, "uri: %s\n", uri ? uri : "") > 0;
			free(uri);
		}
		break;
	}
	BIO_free(out);
	return ok ? RET_OSSL_OK : RET_OSSL_ERR;
}

#define ENCODER(name, OUT, sel, enc)                                                               \
	DECL_DISPATCH_FUNC(encoder, name, newctx);                                                 \
	static void *name##_newctx(void *provctx)                                                  \
	{                                                                                          \
		return enc_newctx(provctx, OUT);                                                   \
	}                                                                                          \
	const OSSL_DISPATCH p11ca_prov_##name##_encoder_functions[] = {                            \
		{ OSSL_FUNC_ENCODER_NEWCTX, (void (*)(void))name##_newctx },                       \
		{ OSSL_FUNC_ENCODER_FREECTX, (void (*)(void))enc_freectx },                        \
		{ OSSL_FUNC_ENCODER_DOES_SELECTION, (void (*)(void))sel },                         \
		{ OSSL_FUNC_ENCODER_ENCODE, (void (*)(void))enc },                                 \
		{ 0, NULL },                                                                       \
	}

ENCODER(spki_der, ENC_DER, enc_does_selection, enc_encode);
ENCODER(spki_pem, ENC_PEM, enc_does_selection, enc_encode);
ENCODER(text, ENC_TEXT, text_does_selection, enc_encode);
ENCODER(priv, ENC_DER, priv_does_selection, priv_encode);
ENCODER(priv_pem, ENC_PEM, priv_does_selection, priv_encode);

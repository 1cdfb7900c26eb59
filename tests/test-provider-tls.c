/*
 * test-provider-tls.c - the p11ca provider inside a program (issue 3,
 * section 6): an SSL_CTX made before any token key is loaded serves TLS with
 * one; file keys keep working beside p11ca; EVP_PKEY_eq between token keys
 * and certificates (also for a key without a public-key object).  Every
 * signature is checked in a library context that has the default provider
 * only.  Exit 77 (skip) when SoftHSM2 is missing.  P11CA_TEST_KEEP=1 keeps
 * the temporary directory.
 */
#include "config.h"

#include <string.h>

#include <openssl/err.h>
#include <openssl/provider.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "provider-fixture.h"

static int add_ext(X509 *x, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	int ok;

	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	if ((ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value)) == NULL)
		return 0;
	ok = X509_add_ext(x, ext, -1) == 1;
	X509_EXTENSION_free(ext);
	return ok;
}

/* A certificate for @subject (a public key, or a token key) signed by @signer. */
static X509 *make_cert(EVP_PKEY *signer, const char *md, EVP_PKEY *subject, const char *cn)
{
	static long serial = 1;
	X509 *x = X509_new();
	X509_NAME *name;

	if (x == NULL || X509_set_version(x, X509_VERSION_3) != 1 ||
	    ASN1_INTEGER_set(X509_get_serialNumber(x), serial++) != 1 ||
	    X509_gmtime_adj(X509_getm_notBefore(x), -60) == NULL ||
	    X509_gmtime_adj(X509_getm_notAfter(x), 86400) == NULL)
		goto fail;
	name = X509_get_subject_name(x);
	if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1,
	                               0) != 1 ||
	    X509_set_issuer_name(x, name) != 1 || X509_set_pubkey(x, subject) != 1 ||
	    !add_ext(x, NID_basic_constraints, "critical,CA:TRUE") ||
	    !add_ext(x, NID_key_usage, "critical,digitalSignature,keyEncipherment,keyCertSign") ||
	    X509_sign(x, signer, md ? EVP_get_digestbyname(md) : NULL) <= 0)
		goto fail;
	return x;
fail:
	print_errors("making a certificate");
	X509_free(x);
	return NULL;
}

/* @x re-read in the plain library context. */
static X509 *to_plain(X509 *x)
{
	unsigned char *der = NULL;
	const unsigned char *p;
	X509 *y = X509_new_ex(plain, NULL);
	int len = i2d_X509(x, &der);

	p = der;
	if (y == NULL || len <= 0 || d2i_X509(&y, &p, len) == NULL) {
		X509_free(y);
		y = NULL;
	}
	OPENSSL_free(der);
	return y;
}

/* The certificate verifies with @pub in the plain context. */
static int cert_verifies(X509 *x, EVP_PKEY *pub)
{
	X509 *y = to_plain(x);
	int ok = y != NULL && X509_verify(y, pub) == 1;

	X509_free(y);
	ERR_clear_error();
	return ok;
}

/* ---- TLS over a memory BIO pair ---- */

static int ssl_wants(SSL *ssl, int r)
{
	int e = SSL_get_error(ssl, r);

	return e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE;
}

/*
 * One handshake between @sctx and a client in the plain library context
 * that trusts @trust, at @version (and @ciphers for TLS 1.2); then a message
 * each way.
 */
static int handshake(SSL_CTX *sctx, X509 *trust, int version, const char *ciphers, int expect_ok)
{
	SSL_CTX *cctx = SSL_CTX_new_ex(plain, NULL, TLS_client_method());
	X509 *anchor = to_plain(trust);
	SSL *c = NULL, *s = NULL;
	BIO *cb = NULL, *sb = NULL;
	char buf[16];
	int i, cdone = 0, sdone = 0, ok = 0, r;

	if (cctx == NULL || anchor == NULL || SSL_CTX_set_min_proto_version(cctx, version) != 1 ||
	    SSL_CTX_set_max_proto_version(cctx, version) != 1 ||
	    X509_STORE_add_cert(SSL_CTX_get_cert_store(cctx), anchor) != 1)
		goto out;
	if (ciphers != NULL && SSL_CTX_set_cipher_list(cctx, ciphers) != 1)
		goto out;
	SSL_CTX_set_verify(cctx, SSL_VERIFY_PEER, NULL);
	if ((c = SSL_new(cctx)) == NULL || (s = SSL_new(sctx)) == NULL ||
	    BIO_new_bio_pair(&cb, 0, &sb, 0) != 1)
		goto out;
	SSL_set_bio(c, cb, cb);
	SSL_set_bio(s, sb, sb);
	cb = sb = NULL;
	SSL_set_connect_state(c);
	SSL_set_accept_state(s);
	for (i = 0; i < 100 && !(cdone && sdone); i++) {
		if (!cdone) {
			r = SSL_do_handshake(c);
			if (r == 1)
				cdone = 1;
			else if (!ssl_wants(c, r))
				goto out;
		}
		if (!sdone) {
			r = SSL_do_handshake(s);
			if (r == 1)
				sdone = 1;
			else if (!ssl_wants(s, r))
				goto out;
		}
	}
	if (!cdone || !sdone || SSL_get_verify_result(c) != X509_V_OK ||
	    SSL_version(c) != version || SSL_version(s) != version)
		goto out;
	if (ciphers != NULL && strcmp(SSL_CIPHER_get_name(SSL_get_current_cipher(s)), ciphers) != 0)
		goto out;
	/* application data both ways */
	if (SSL_write(c, "ping", 4) != 4 || SSL_read(s, buf, sizeof(buf)) != 4 ||
	    memcmp(buf, "ping", 4) != 0 || SSL_write(s, "pong", 4) != 4 ||
	    SSL_read(c, buf, sizeof(buf)) != 4 || memcmp(buf, "pong", 4) != 0)
		goto out;
	ok = 1;
out:
	if (!ok && expect_ok)
		print_errors("TLS handshake");
	BIO_free(cb);
	BIO_free(sb);
	SSL_free(c);
	SSL_free(s);
	X509_free(anchor);
	SSL_CTX_free(cctx);
	return ok;
}

/* ---- the tests ---- */

/*
 * SSL_CTX_new before any token key is loaded (this runs first: the provider
 * has not touched the token yet), then the keys, then handshakes with it.
 */
static void test_ssl_ctx_before_key(void **state)
{
	SSL_CTX *rsa_ctx = SSL_CTX_new(TLS_server_method());
	SSL_CTX *ec_ctx = SSL_CTX_new(TLS_server_method());
	EVP_PKEY *rsa = NULL, *ec = NULL;
	X509 *rsa_crt = NULL, *ec_crt = NULL;

	(void)state;
	assert_non_null(rsa_ctx);
	assert_non_null(ec_ctx);
	rsa = load_key(K_RSA);
	ec = load_key(K_EC256);
	assert_non_null(rsa);
	assert_non_null(ec);
	/* self-signed by the token keys themselves */
	rsa_crt = make_cert(rsa, "SHA256", rsa, "tls-rsa");
	ec_crt = make_cert(ec, "SHA256", ec, "tls-ec");
	assert_non_null(rsa_crt);
	assert_non_null(ec_crt);
	assert_true(cert_verifies(rsa_crt, pubs[K_RSA]));
	assert_true(cert_verifies(ec_crt, pubs[K_EC256]));

	assert_int_equal(SSL_CTX_use_certificate(rsa_ctx, rsa_crt), 1);
	assert_int_equal(SSL_CTX_use_PrivateKey(rsa_ctx, rsa), 1);
	assert_int_equal(SSL_CTX_check_private_key(rsa_ctx), 1);
	assert_int_equal(SSL_CTX_use_certificate(ec_ctx, ec_crt), 1);
	assert_int_equal(SSL_CTX_use_PrivateKey(ec_ctx, ec), 1);
	assert_int_equal(SSL_CTX_check_private_key(ec_ctx), 1);

	assert_true(handshake(rsa_ctx, rsa_crt, TLS1_3_VERSION, NULL, 1)); /* RSA-PSS */
	assert_true(handshake(rsa_ctx, rsa_crt, TLS1_2_VERSION, "ECDHE-RSA-AES128-GCM-SHA256", 1));
	assert_true(
	    handshake(rsa_ctx, rsa_crt, TLS1_2_VERSION, "AES128-GCM-SHA256", 1)); /* RSA kex */
	assert_true(handshake(ec_ctx, ec_crt, TLS1_3_VERSION, NULL, 1));
	assert_true(handshake(ec_ctx, ec_crt, TLS1_2_VERSION, "ECDHE-ECDSA-AES128-GCM-SHA256", 1));
	/* the check can fail: a client trusting another certificate */
	assert_false(handshake(ec_ctx, rsa_crt, TLS1_3_VERSION, NULL, 0));
	ERR_clear_error();

	X509_free(rsa_crt);
	X509_free(ec_crt);
	EVP_PKEY_free(rsa);
	EVP_PKEY_free(ec);
	SSL_CTX_free(rsa_ctx);
	SSL_CTX_free(ec_ctx);
}

/* File (software) keys are untouched by p11ca: made, used and checked by default. */
static void test_file_keys(void **state)
{
	static const char *const types[][2] = {
		{ "RSA", NULL },
		{ "EC", "P-256" },
		{ "ED25519", NULL },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		EVP_PKEY *key = NULL, *pub = NULL;
		EVP_PKEY_CTX *pctx = NULL;
		EVP_MD_CTX *mctx;
		unsigned char *der = NULL;
		const unsigned char *p;
		const char *md = strcmp(types[i][0], "ED25519") == 0 ? NULL : "SHA256";
		int len;

		if (strcmp(types[i][0], "RSA") == 0)
			key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
		else if (types[i][1] != NULL)
			key = EVP_PKEY_Q_keygen(NULL, NULL, types[i][0], types[i][1]);
		else
			key = EVP_PKEY_Q_keygen(NULL, NULL, types[i][0]);
		assert_non_null(key);
		assert_string_equal(OSSL_PROVIDER_get0_name(EVP_PKEY_get0_provider(key)),
		                    "default");
		/* its signing runs in the default provider */
		mctx = EVP_MD_CTX_new();
		assert_non_null(mctx);
		assert_int_equal(EVP_DigestSignInit_ex(mctx, &pctx, md, NULL, NULL, key, NULL), 1);
		assert_string_equal(OSSL_PROVIDER_get0_name(EVP_PKEY_CTX_get0_provider(pctx)),
		                    "default");
		EVP_MD_CTX_free(mctx);
		/* the public half, re-read by the plain context */
		len = i2d_PUBKEY(key, &der);
		assert_true(len > 0);
		p = der;
		pub = d2i_PUBKEY_ex(NULL, &p, len, plain, NULL);
		OPENSSL_free(der);
		assert_non_null(pub);
		assert_true(sign_and_check(key, pub, md, 0, "a file key beside p11ca"));
		if (strcmp(types[i][0], "RSA") == 0) {
			/* and decrypts with the default provider */
			unsigned char ct[512], pt[512];
			size_t ctlen = sizeof(ct), ptlen = sizeof(pt);
			EVP_PKEY_CTX *ectx = EVP_PKEY_CTX_new_from_pkey(plain, pub, NULL);
			EVP_PKEY_CTX *dctx = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);
			assert_non_null(ectx);
			assert_non_null(dctx);
			assert_int_equal(EVP_PKEY_encrypt_init(ectx), 1);
			assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(ectx, RSA_PKCS1_OAEP_PADDING),
			                 1);
			assert_int_equal(
			    EVP_PKEY_encrypt(ectx, ct, &ctlen, (const unsigned char *)"secret", 6),
			    1);
			assert_int_equal(EVP_PKEY_decrypt_init(dctx), 1);
			assert_string_equal(
			    OSSL_PROVIDER_get0_name(EVP_PKEY_CTX_get0_provider(dctx)), "default");
			assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(dctx, RSA_PKCS1_OAEP_PADDING),
			                 1);
			assert_int_equal(EVP_PKEY_decrypt(dctx, pt, &ptlen, ct, ctlen), 1);
			assert_int_equal(ptlen, 6);
			assert_memory_equal(pt, "secret", 6);
			EVP_PKEY_CTX_free(ectx);
			EVP_PKEY_CTX_free(dctx);
		}
		EVP_PKEY_free(pub);
		EVP_PKEY_free(key);
	}
}

/*
 * EVP_PKEY_get_size() bytes are enough for a signature (documented; X.509
 * code, EVP_SignFinal and many programs size their buffers so): with
 * EVP_DigestSign and, given a digest, the old EVP_SignFinal.
 */

/* A certificate for pubs[@k], signed by a software key, in the default context. */
static X509 *cert_for(int k, EVP_PKEY *issuer)
{
	unsigned char *der = NULL;
	const unsigned char *p;
	EVP_PKEY *pub;
	X509 *x = NULL;
	int len = i2d_PUBKEY(pubs[k], &der);

	p = der;
	pub = len > 0 ? d2i_PUBKEY(NULL, &p, len) : NULL;
	if (pub != NULL)
		x = make_cert(issuer, "SHA256", pub, keydefs[k].label);
	EVP_PKEY_free(pub);
	OPENSSL_free(der);
	return x;
}

/* EVP_PKEY_eq between certificates' keys and token keys. */
static void test_key_match(void **state)
{
	EVP_PKEY *issuer = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	X509 *crt[K_COUNT] = { NULL };
	size_t i;
	static const int ks[] = { K_RSA, K_EC256, K_EC384, K_ED };

	(void)state;
	assert_non_null(issuer);
	for (i = 0; i < K_COUNT; i++) {
		crt[i] = cert_for((int)i, issuer);
		assert_non_null(crt[i]);
	}
	for (i = 0; i < sizeof(ks) / sizeof(ks[0]); i++) {
		EVP_PKEY *key = load_key(ks[i]);
		int other = ks[i] == K_EC256 ? K_OTHER : K_EC256;
		assert_non_null(key);
		assert_int_equal(EVP_PKEY_eq(X509_get0_pubkey(crt[ks[i]]), key), 1);
		assert_int_equal(EVP_PKEY_eq(key, X509_get0_pubkey(crt[ks[i]])), 1);
		assert_int_equal(X509_check_private_key(crt[ks[i]], key), 1);
		assert_int_not_equal(EVP_PKEY_eq(X509_get0_pubkey(crt[other]), key), 1);
		assert_int_equal(X509_check_private_key(crt[other], key), 0);
		ERR_clear_error();
		EVP_PKEY_free(key);
	}
	/* the same type, another key: 0 */
	{
		EVP_PKEY *key = load_key(K_EC256);
		assert_non_null(key);
		assert_int_equal(EVP_PKEY_eq(X509_get0_pubkey(crt[K_OTHER]), key), 0);
		EVP_PKEY_free(key);
	}
	/*
	 * No public-key object: a wrong certificate first (nothing to adopt),
	 * then its own (the key learns its public half), then the wrong one again.
	 */
	{
		EVP_PKEY *key = load_key(K_NOPUB);
		assert_non_null(key);
		assert_int_equal(EVP_PKEY_eq(X509_get0_pubkey(crt[K_OTHER]), key), 0);
		assert_int_equal(EVP_PKEY_eq(X509_get0_pubkey(crt[K_NOPUB]), key), 1);
		assert_int_equal(EVP_PKEY_eq(X509_get0_pubkey(crt[K_OTHER]), key), 0);
		assert_int_equal(EVP_PKEY_eq(X509_get0_pubkey(crt[K_NOPUB]), key), 1);
		ERR_clear_error();
		EVP_PKEY_free(key);
	}
	{
		EVP_PKEY *key = load_key(K_NOPUB);
		assert_non_null(key);
		assert_int_equal(X509_check_private_key(crt[K_NOPUB], key), 1);
		EVP_PKEY_free(key);
	}
	{
		EVP_PKEY *key = load_key(K_NOPUB);
		assert_non_null(key);
		assert_int_equal(X509_check_private_key(crt[K_OTHER], key), 0);
		ERR_clear_error();
		EVP_PKEY_free(key);
	}
	for (i = 0; i < K_COUNT; i++)
		X509_free(crt[i]);
	EVP_PKEY_free(issuer);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ssl_ctx_before_key), /* first: no token key loaded before */
		cmocka_unit_test(test_file_keys),
		cmocka_unit_test(test_key_match),
	};

	return PROVIDER_RUN("test-provider-tls", tests);
}

/*
 * test-provider.c - the p11ca provider inside a program (issue 3, section 6):
 * an SSL_CTX made before any token key is loaded serves TLS with one; file
 * keys keep working beside p11ca; EVP_DigestSign from four threads and after
 * fork(); EVP_PKEY_eq between token keys and certificates (also for a key
 * without a public-key object); and the sizes, group and default digest a
 * token key reports.  Every signature is checked in a library context that
 * has the default provider only.
 *
 * The token is made before the tests by softhsm-conf/mktoken and the p11ca
 * tool; the provider is registered in-process (OSSL_PROVIDER_add_builtin) and
 * configured through P11CA_MODULE and P11CA_PIN_FILE.  Exit 77 (skip) when
 * SoftHSM2 is missing.  P11CA_TEST_KEEP=1 keeps the temporary directory.
 */
#include "config.h"

#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/provider.h>
#include <openssl/rsa.h>
#include <openssl/ssl.h>
#include <openssl/store.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "provider.h"

#define TOKEN           "test-provider"
#define NTHREADS        4
#define SIGS_PER_THREAD 20

enum { K_RSA, K_EC256, K_EC384, K_EC521, K_ED, K_OTHER, K_NOPUB, K_COUNT };

/* clang-format off */
static const struct keydef {
	const char *label, *type, *md;
	int decrypt;
} keydefs[K_COUNT] = {
	[K_RSA] = { "rsa", "rsa:2048", "SHA256", 1 },
	[K_EC256] = { "ec256", "ec:p256", "SHA256", 0 },
	[K_EC384] = { "ec384", "ec:p384", "SHA384", 0 },
	[K_EC521] = { "ec521", "ec:p521", "SHA512", 0 },
	[K_ED] = { "ed", "ed25519", NULL, 0 },
	[K_OTHER] = { "other", "ec:p256", "SHA256", 0 },
	[K_NOPUB] = { "nopub", "ec:p256", "SHA256", 0 },
};
/* clang-format on */

static char workdir[PATH_MAX];
static char pin_file[PATH_MAX + 16];
static const char *module;
static OSSL_LIB_CTX *plain;     /* the default provider only: the checker */
static OSSL_PROVIDER *provs[3]; /* default and p11ca in the default context; plain's default */
static EVP_PKEY *pubs[K_COUNT]; /* what p11ca key gen --pubout wrote, in plain */

/* ---- helpers ---- */

static int run_cmd(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int run_cmd(const char *fmt, ...)
{
	char cmd[4 * PATH_MAX];
	va_list ap;
	int n, st;

	va_start(ap, fmt);
	n = vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(cmd))
		return -1;
	st = system(cmd);
	if (st == -1 || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

static void key_uri(char *buf, size_t size, int k)
{
	snprintf(buf, size, "pkcs11:token=" TOKEN ";object=%s", keydefs[k].label);
}

static void print_errors(const char *what)
{
	fprintf(stderr, "%s failed:\n", what);
	ERR_print_errors_fp(stderr);
}

/* A private key by URI through OSSL_STORE, in the default library context. */
static EVP_PKEY *load_uri(const char *uri)
{
	OSSL_STORE_CTX *store;
	EVP_PKEY *pkey = NULL;

	store = OSSL_STORE_open_ex(uri, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
	if (store == NULL || OSSL_STORE_expect(store, OSSL_STORE_INFO_PKEY) != 1)
		goto out;
	while (pkey == NULL && !OSSL_STORE_eof(store)) {
		OSSL_STORE_INFO *info = OSSL_STORE_load(store);
		if (info == NULL)
			break;
		if (OSSL_STORE_INFO_get_type(info) == OSSL_STORE_INFO_PKEY)
			pkey = OSSL_STORE_INFO_get1_PKEY(info);
		OSSL_STORE_INFO_free(info);
	}
out:
	OSSL_STORE_close(store);
	if (pkey == NULL)
		print_errors(uri);
	return pkey;
}

static EVP_PKEY *load_key(int k)
{
	char uri[256];
	EVP_PKEY *pkey;

	key_uri(uri, sizeof(uri), k);
	pkey = load_uri(uri);
	/* a token key is this provider's, never a copy in another */
	if (pkey != NULL &&
	    strcmp(OSSL_PROVIDER_get0_name(EVP_PKEY_get0_provider(pkey)), P11CA_PROV_NAME) != 0) {
		fprintf(stderr, "%s: loaded by provider %s\n", uri,
		        OSSL_PROVIDER_get0_name(EVP_PKEY_get0_provider(pkey)));
		EVP_PKEY_free(pkey);
		pkey = NULL;
	}
	return pkey;
}

/* EVP_DigestSign in the default library context (p11ca loaded there). */
static int sign_msg(EVP_PKEY *key, const char *md, int pad, const unsigned char *msg, size_t len,
                    unsigned char **psig, size_t *psiglen)
{
	EVP_MD_CTX *mctx = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;
	unsigned char *sig = NULL;
	size_t siglen = 0;
	int ok = 0;

	if (mctx == NULL || EVP_DigestSignInit_ex(mctx, &pctx, md, NULL, NULL, key, NULL) != 1)
		goto out;
	if (pad != 0 && EVP_PKEY_CTX_set_rsa_padding(pctx, pad) <= 0)
		goto out;
	if (pad == RSA_PKCS1_PSS_PADDING &&
	    EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) <= 0)
		goto out;
	if (EVP_DigestSign(mctx, NULL, &siglen, msg, len) != 1 ||
	    (sig = OPENSSL_malloc(siglen)) == NULL ||
	    EVP_DigestSign(mctx, sig, &siglen, msg, len) != 1)
		goto out;
	*psig = sig;
	*psiglen = siglen;
	sig = NULL;
	ok = 1;
out:
	if (!ok)
		print_errors("EVP_DigestSign");
	OPENSSL_free(sig);
	EVP_MD_CTX_free(mctx);
	return ok;
}

/* Verification by the default provider alone. */
static int verify_plain(EVP_PKEY *pub, const char *md, int pad, const unsigned char *msg,
                        size_t len, const unsigned char *sig, size_t siglen)
{
	EVP_MD_CTX *mctx = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;
	int ok = 0;

	if (mctx == NULL || EVP_DigestVerifyInit_ex(mctx, &pctx, md, plain, NULL, pub, NULL) != 1)
		goto out;
	if (pad != 0 && EVP_PKEY_CTX_set_rsa_padding(pctx, pad) <= 0)
		goto out;
	if (pad == RSA_PKCS1_PSS_PADDING &&
	    EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) <= 0)
		goto out;
	ok = EVP_DigestVerify(mctx, sig, siglen, msg, len) == 1;
out:
	EVP_MD_CTX_free(mctx);
	ERR_clear_error();
	return ok;
}

/* Signs a message with @key and has the default provider check it with @pub. */
static int sign_and_check(EVP_PKEY *key, EVP_PKEY *pub, const char *md, int pad, const char *text)
{
	unsigned char *sig = NULL;
	size_t siglen = 0;
	int ok;

	ok = sign_msg(key, md, pad, (const unsigned char *)text, strlen(text), &sig, &siglen) &&
	     verify_plain(pub, md, pad, (const unsigned char *)text, strlen(text), sig, siglen);
	OPENSSL_free(sig);
	return ok;
}

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
	    {"RSA", NULL},
	    {"EC", "P-256"},
	    {"ED25519", NULL},
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
static int sign_in_size(EVP_PKEY *key, EVP_PKEY *pub, const char *md, const char *label)
{
	static const unsigned char msg[] = "a buffer of EVP_PKEY_get_size() bytes";
	int size = EVP_PKEY_get_size(key), ok = 0;
	unsigned char *sig = size > 0 ? OPENSSL_malloc((size_t)size) : NULL;
	EVP_MD_CTX *mctx = EVP_MD_CTX_new();
	size_t siglen = (size_t)size;
	unsigned int len = (unsigned int)size;

	if (sig == NULL || mctx == NULL)
		goto out;
	if (EVP_DigestSignInit_ex(mctx, NULL, md, NULL, NULL, key, NULL) != 1 ||
	    EVP_DigestSign(mctx, sig, &siglen, msg, sizeof(msg)) != 1) {
		fprintf(stderr, "%s: EVP_DigestSign into %d bytes:\n", label, size);
		ERR_print_errors_fp(stderr);
		goto out;
	}
	if (!verify_plain(pub, md, 0, msg, sizeof(msg), sig, siglen))
		goto out;
	if (md != NULL) {
		EVP_MD_CTX_reset(mctx);
		if (EVP_SignInit_ex(mctx, EVP_get_digestbyname(md), NULL) != 1 ||
		    EVP_SignUpdate(mctx, msg, sizeof(msg)) != 1 ||
		    EVP_SignFinal(mctx, sig, &len, key) != 1) {
			fprintf(stderr, "%s: EVP_SignFinal into %d bytes:\n", label, size);
			ERR_print_errors_fp(stderr);
			goto out;
		}
		if (!verify_plain(pub, md, 0, msg, sizeof(msg), sig, len))
			goto out;
	}
	ok = 1;
out:
	OPENSSL_free(sig);
	EVP_MD_CTX_free(mctx);
	return ok;
}

/* Every token key type and RSA padding through EVP_DigestSign. */
static void test_sign_types(void **state)
{
	static const int ks[] = {K_RSA, K_EC256, K_EC384, K_EC521, K_ED};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(ks) / sizeof(ks[0]); i++) {
		EVP_PKEY *key = load_key(ks[i]);
		assert_non_null(key);
		assert_true(sign_and_check(key, pubs[ks[i]], keydefs[ks[i]].md, 0, "one message"));
		/* the check can fail: another key's public half */
		if (ks[i] != K_EC256)
			assert_false(sign_and_check(key, pubs[K_EC256], keydefs[ks[i]].md, 0,
			                            "one message"));
		if (ks[i] == K_RSA) {
			assert_true(sign_and_check(key, pubs[K_RSA], "SHA256",
			                           RSA_PKCS1_PSS_PADDING, "pss"));
			assert_true(sign_and_check(key, pubs[K_RSA], "SHA512", RSA_PKCS1_PADDING,
			                           "sha512"));
		}
		EVP_PKEY_free(key);
	}
	/* a key without a public-key object still signs */
	{
		EVP_PKEY *key = load_key(K_NOPUB);
		assert_non_null(key);
		assert_true(sign_and_check(key, pubs[K_NOPUB], "SHA256", 0, "no public object"));
		EVP_PKEY_free(key);
	}
}

/* Signing into EVP_PKEY_get_size() bytes, every key type. */
static void test_sign_buffer_size(void **state)
{
	static const int ks[] = {K_RSA, K_EC256, K_EC384, K_EC521, K_ED, K_NOPUB};
	int bad = 0;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(ks) / sizeof(ks[0]); i++) {
		EVP_PKEY *key = load_key(ks[i]);
		assert_non_null(key);
		bad += !sign_in_size(key, pubs[ks[i]], keydefs[ks[i]].md, keydefs[ks[i]].label);
		EVP_PKEY_free(key);
	}
	assert_int_equal(bad, 0);
}

struct thread_arg {
	int k;            /* key */
	EVP_PKEY *shared; /* NULL: the thread loads its own through OSSL_STORE */
	int id;
	int good; /* signatures that verified */
};

static void *sign_thread(void *p)
{
	struct thread_arg *a = p;
	EVP_PKEY *key = a->shared ? a->shared : load_key(a->k);
	int i;

	if (key == NULL)
		return NULL;
	for (i = 0; i < SIGS_PER_THREAD; i++) {
		char text[64];
		snprintf(text, sizeof(text), "thread %d message %d", a->id, i);
		a->good += sign_and_check(key, pubs[a->k], keydefs[a->k].md, 0, text);
	}
	if (a->shared == NULL)
		EVP_PKEY_free(key);
	return NULL;
}

/* Four threads sign at once: two share a key, two load their own. */
static void test_threads(void **state)
{
	static const int ks[] = {K_RSA, K_EC256, K_ED};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(ks) / sizeof(ks[0]); i++) {
		EVP_PKEY *shared = load_key(ks[i]);
		struct thread_arg args[NTHREADS];
		pthread_t tids[NTHREADS];
		int t;

		assert_non_null(shared);
		for (t = 0; t < NTHREADS; t++) {
			args[t].k = ks[i];
			args[t].shared = t < 2 ? shared : NULL;
			args[t].id = t;
			args[t].good = 0;
			assert_int_equal(pthread_create(&tids[t], NULL, sign_thread, &args[t]), 0);
		}
		for (t = 0; t < NTHREADS; t++)
			assert_int_equal(pthread_join(tids[t], NULL), 0);
		for (t = 0; t < NTHREADS; t++) {
			if (args[t].good != SIGS_PER_THREAD)
				fprintf(stderr, "%s, thread %d: %d of %d signatures verified\n",
				        keydefs[ks[i]].label, t, args[t].good, SIGS_PER_THREAD);
			assert_int_equal(args[t].good, SIGS_PER_THREAD);
		}
		EVP_PKEY_free(shared);
	}
}

/* fork(): the child signs with the parent's key and with one it loads. */
static void test_fork(void **state)
{
	EVP_PKEY *rsa = load_key(K_RSA), *ec = load_key(K_EC256);
	pid_t pid;
	int st = 0;

	(void)state;
	assert_non_null(rsa);
	assert_non_null(ec);
	/* the parent has sessions and a login before it forks */
	assert_true(sign_and_check(rsa, pubs[K_RSA], "SHA256", 0, "parent before fork"));
	assert_true(sign_and_check(ec, pubs[K_EC256], "SHA256", 0, "parent before fork"));
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int bad = 0;
		EVP_PKEY *ed;
		bad += !sign_and_check(rsa, pubs[K_RSA], "SHA256", 0, "child");
		bad += !sign_and_check(ec, pubs[K_EC256], "SHA256", 0, "child");
		bad += !sign_and_check(ec, pubs[K_EC256], "SHA256", 0, "child, again");
		ed = load_key(K_ED);
		bad += ed == NULL || !sign_and_check(ed, pubs[K_ED], NULL, 0, "child, own key");
		EVP_PKEY_free(ed);
		if (bad != 0)
			fprintf(stderr, "child: %d signing checks failed\n", bad);
		fflush(NULL);
		_exit(bad == 0 ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	if (!WIFEXITED(st))
		fprintf(stderr, "child died (status %#x)\n", (unsigned)st);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	/* the parent goes on */
	assert_true(sign_and_check(rsa, pubs[K_RSA], "SHA256", 0, "parent after fork"));
	assert_true(sign_and_check(ec, pubs[K_EC256], "SHA256", 0, "parent after fork"));
	EVP_PKEY_free(rsa);
	EVP_PKEY_free(ec);
}

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
	X509 *crt[K_COUNT] = {NULL};
	size_t i;
	static const int ks[] = {K_RSA, K_EC256, K_EC384, K_ED};

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

static void check_same_params(EVP_PKEY *key, EVP_PKEY *pub, const char *label)
{
	char a[64] = "", b[64] = "";
	int ra, rb;

	print_message("%s: bits %d, security bits %d, size %d\n", label, EVP_PKEY_get_bits(key),
	              EVP_PKEY_get_security_bits(key), EVP_PKEY_get_size(key));
	assert_int_equal(EVP_PKEY_get_bits(key), EVP_PKEY_get_bits(pub));
	assert_int_equal(EVP_PKEY_get_security_bits(key), EVP_PKEY_get_security_bits(pub));
	assert_int_equal(EVP_PKEY_get_size(key), EVP_PKEY_get_size(pub));
	ra = EVP_PKEY_get_default_digest_name(key, a, sizeof(a));
	rb = EVP_PKEY_get_default_digest_name(pub, b, sizeof(b));
	print_message("%s: default digest %s (%d)\n", label, a, ra);
	assert_int_equal(ra, rb);
	assert_string_equal(a, b);
	if (EVP_PKEY_is_a(pub, "EC")) {
		char ga[64] = "", gb[64] = "";
		assert_int_equal(EVP_PKEY_get_group_name(key, ga, sizeof(ga), NULL), 1);
		assert_int_equal(EVP_PKEY_get_group_name(pub, gb, sizeof(gb), NULL), 1);
		assert_string_equal(ga, gb);
	}
}

/* What a token key reports about itself equals what its public key says. */
static void test_key_params(void **state)
{
	/* clang-format off */
	static const struct {
		int k;
		const char *type;
		int bits, secbits, size;
		const char *group, *digest;
	} want[] = {
		{ K_RSA, "RSA", 2048, 112, 256, NULL, "SHA256" },
		{ K_EC256, "EC", 256, 128, 72, "prime256v1", "SHA256" },
		{ K_EC384, "EC", 384, 192, 104, "secp384r1", "SHA256" },
		{ K_EC521, "EC", 521, 256, 139, "secp521r1", "SHA256" },
		{ K_ED, "ED25519", 256, 128, 64, NULL, "UNDEF" },
		/* no public-key object: the token says it */
		{ K_NOPUB, "EC", 256, 128, 72, "prime256v1", "SHA256" },
	};
	/* clang-format on */
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		EVP_PKEY *key = load_key(want[i].k);
		char md[64] = "";

		assert_non_null(key);
		assert_true(EVP_PKEY_is_a(key, want[i].type));
		assert_int_equal(EVP_PKEY_get_bits(key), want[i].bits);
		assert_int_equal(EVP_PKEY_get_security_bits(key), want[i].secbits);
		assert_int_equal(EVP_PKEY_get_size(key), want[i].size);
		assert_true(EVP_PKEY_get_default_digest_name(key, md, sizeof(md)) > 0);
		assert_string_equal(md, want[i].digest);
		if (want[i].group != NULL) {
			char g[64] = "";
			assert_int_equal(EVP_PKEY_get_group_name(key, g, sizeof(g), NULL), 1);
			assert_string_equal(g, want[i].group);
		}
		check_same_params(key, pubs[want[i].k], keydefs[want[i].k].label);
		if (want[i].k == K_RSA) {
			BIGNUM *n1 = NULL, *n2 = NULL, *e1 = NULL, *e2 = NULL;
			assert_int_equal(EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_N, &n1), 1);
			assert_int_equal(
			    EVP_PKEY_get_bn_param(pubs[K_RSA], OSSL_PKEY_PARAM_RSA_N, &n2), 1);
			assert_int_equal(EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_E, &e1), 1);
			assert_int_equal(
			    EVP_PKEY_get_bn_param(pubs[K_RSA], OSSL_PKEY_PARAM_RSA_E, &e2), 1);
			assert_int_equal(BN_cmp(n1, n2), 0);
			assert_int_equal(BN_cmp(e1, e2), 0);
			BN_free(n1);
			BN_free(n2);
			BN_free(e1);
			BN_free(e2);
		}
		if (want[i].k == K_EC256 || want[i].k == K_EC384 || want[i].k == K_EC521) {
			/* the point, as TLS and X.509 carry it */
			unsigned char *p1 = NULL, *p2 = NULL;
			size_t l1 = EVP_PKEY_get1_encoded_public_key(key, &p1);
			size_t l2 = EVP_PKEY_get1_encoded_public_key(pubs[want[i].k], &p2);
			assert_true(l1 > 0);
			assert_int_equal(l1, l2);
			assert_memory_equal(p1, p2, l1);
			OPENSSL_free(p1);
			OPENSSL_free(p2);
		}
		if (want[i].k == K_ED) {
			unsigned char r1[32], r2[32];
			size_t l1 = sizeof(r1), l2 = sizeof(r2);
			assert_int_equal(EVP_PKEY_get_raw_public_key(key, r1, &l1), 1);
			assert_int_equal(EVP_PKEY_get_raw_public_key(pubs[K_ED], r2, &l2), 1);
			assert_int_equal(l1, 32);
			assert_int_equal(l2, 32);
			assert_memory_equal(r1, r2, 32);
		}
		/* nothing private comes out */
		{
			BIGNUM *d = NULL;
			assert_int_equal(EVP_PKEY_get_bn_param(key,
			                                       want[i].k == K_RSA
			                                           ? OSSL_PKEY_PARAM_RSA_D
			                                           : OSSL_PKEY_PARAM_PRIV_KEY,
			                                       &d),
			                 0);
			BN_free(d);
			ERR_clear_error();
		}
		EVP_PKEY_free(key);
	}
}

/* ---- setup: a token with the keys, made by the p11ca tool ---- */

static int make_token(void)
{
	const char *top = getenv("top_srcdir"), *tool = getenv("P11CA"), *tmp = getenv("TMPDIR");
	char path[PATH_MAX + 64];
	int i, rc;

	if (top == NULL || tool == NULL) {
		fprintf(stderr, "top_srcdir and P11CA must be set (run through make check)\n");
		return 1;
	}
	module = getenv("SOFTHSM_MODULE");
	if (module == NULL || *module == '\0')
		module = "softhsm2";
	snprintf(workdir, sizeof(workdir), "%s/p11ca-test-provider.XXXXXX",
	         tmp && *tmp ? tmp : "/tmp");
	if (mkdtemp(workdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	rc = run_cmd("'%s/softhsm-conf/mktoken' --dir '%s/token' --label " TOKEN " > /dev/null",
	             top, workdir);
	if (rc != 0)
		return rc == 77 ? 77 : 1;
	snprintf(path, sizeof(path), "%s/token/softhsm2.conf", workdir);
	snprintf(pin_file, sizeof(pin_file), "%s/token/pin", workdir);
	if (setenv("SOFTHSM2_CONF", path, 1) != 0)
		return 1;
	for (i = 0; i < K_COUNT; i++) {
		rc = run_cmd("'%s' key gen --module '%s' --token pkcs11:token=" TOKEN
		             " --pin-file '%s' "
		             "--label %s --type %s %s --pubout '%s/%s.pub' > /dev/null",
		             tool, module, pin_file, keydefs[i].label, keydefs[i].type,
		             keydefs[i].decrypt ? "--decrypt" : "", workdir, keydefs[i].label);
		if (rc != 0) {
			fprintf(stderr, "p11ca key gen %s failed\n", keydefs[i].label);
			return 1;
		}
	}
	rc = run_cmd("'%s' key delete --module '%s' --pin-file '%s' "
	             "'pkcs11:token=" TOKEN ";object=%s;type=public' > /dev/null",
	             tool, module, pin_file, keydefs[K_NOPUB].label);
	if (rc != 0) {
		fprintf(stderr, "deleting the public-key object of %s failed\n",
		        keydefs[K_NOPUB].label);
		return 1;
	}
	return 0;
}

static int load_pubs(void)
{
	int i;

	for (i = 0; i < K_COUNT; i++) {
		char path[PATH_MAX + 64];
		BIO *b;
		snprintf(path, sizeof(path), "%s/%s.pub", workdir, keydefs[i].label);
		if ((b = BIO_new_file(path, "r")) == NULL)
			return 0;
		pubs[i] = PEM_read_bio_PUBKEY_ex(b, NULL, NULL, NULL, plain, NULL);
		BIO_free(b);
		if (pubs[i] == NULL)
			return 0;
	}
	return 1;
}

static int start_providers(void)
{
	/* the provider reads its configuration from the environment */
	if (setenv("P11CA_MODULE", module, 1) != 0 || setenv("P11CA_PIN_FILE", pin_file, 1) != 0)
		return 0;
	unsetenv("P11CA_PIN");
	if (OSSL_PROVIDER_add_builtin(NULL, P11CA_PROV_NAME, p11ca_prov_init) != 1 ||
	    (provs[0] = OSSL_PROVIDER_load(NULL, "default")) == NULL ||
	    (provs[1] = OSSL_PROVIDER_load(NULL, P11CA_PROV_NAME)) == NULL)
		return 0;
	if ((plain = OSSL_LIB_CTX_new()) == NULL ||
	    (provs[2] = OSSL_PROVIDER_load(plain, "default")) == NULL)
		return 0;
	return load_pubs();
}

static int group_teardown(void **state)
{
	int i;

	(void)state;
	for (i = 0; i < K_COUNT; i++)
		EVP_PKEY_free(pubs[i]);
	for (i = 2; i >= 0; i--)
		if (provs[i] != NULL)
			OSSL_PROVIDER_unload(provs[i]);
	OSSL_LIB_CTX_free(plain);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ssl_ctx_before_key), /* first: no token key loaded before */
	    cmocka_unit_test(test_file_keys),
	    cmocka_unit_test(test_sign_types),
	    cmocka_unit_test(test_sign_buffer_size),
	    cmocka_unit_test(test_threads),
	    cmocka_unit_test(test_fork),
	    cmocka_unit_test(test_key_match),
	    cmocka_unit_test(test_key_params),
	};
	const char *keep = getenv("P11CA_TEST_KEEP");
	int rc;

	/* no system openssl.cnf: this program loads what it needs itself */
	setenv("OPENSSL_CONF", "/dev/null", 1);
	rc = make_token();
	if (rc == 0 && !start_providers()) {
		print_errors("loading the providers");
		rc = 1;
	}
	if (rc == 0)
		rc = cmocka_run_group_tests_name("p11ca provider", tests, NULL, group_teardown);
	if (workdir[0] != '\0') {
		if (rc != 0 && keep != NULL && *keep != '\0')
			fprintf(stderr, "kept %s\n", workdir);
		else
			run_cmd("rm -rf '%s'", workdir);
	}
	return rc;
}

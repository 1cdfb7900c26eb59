/*
 * pki-certs.c - certificates made here for the tests/test-pki-*.c binaries
 * (see pki-certs.h).
 */
#include "config.h"

#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "pki-certs.h"

EVP_PKEY *root_key, *inter_key, *leaf_key, *rsa1024_key;

static void add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;

	X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
	ext = X509V3_EXT_nconf_nid(NULL, &ctx, nid, value);
	assert_non_null(ext);
	assert_int_equal(X509_add_ext(x, ext, -1), 1);
	X509_EXTENSION_free(ext);
}

/* A certificate for @key signed by @ikey (@issuer NULL: self-signed). */
X509 *mkcert(const struct mk *m, EVP_PKEY *key, X509 *issuer, EVP_PKEY *ikey)
{
	static long serial = 1;
	X509 *x = X509_new();
	X509_NAME *name = X509_NAME_new();
	time_t now = time(NULL);

	assert_non_null(x);
	assert_int_equal(X509_set_version(x, X509_VERSION_3), 1);
	assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(x), serial++), 1);
	assert_int_equal(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
	                                            (const unsigned char *)m->cn, -1, -1, 0),
	                 1);
	assert_int_equal(X509_set_subject_name(x, name), 1);
	assert_int_equal(X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name), 1);
	X509_NAME_free(name);
	assert_non_null(X509_time_adj_ex(X509_getm_notBefore(x), 0, (long)m->nb, &now));
	assert_non_null(X509_time_adj_ex(X509_getm_notAfter(x), 0, (long)m->na, &now));
	assert_int_equal(X509_set_pubkey(x, key), 1);
	add_ext(x, issuer ? issuer : x, NID_subject_key_identifier, "hash");
	if (issuer != NULL)
		add_ext(x, issuer, NID_authority_key_identifier, "keyid");
	if (m->bc != NULL)
		add_ext(x, issuer ? issuer : x, NID_basic_constraints, m->bc);
	if (m->eku != NULL)
		add_ext(x, issuer ? issuer : x, NID_ext_key_usage, m->eku);
	if (m->san != NULL)
		add_ext(x, issuer ? issuer : x, NID_subject_alt_name, m->san);
	assert_true(X509_sign(x, ikey, EVP_get_digestbyname(m->md ? m->md : "SHA256")) > 0);
	return x;
}

const struct mk root_mk = { "Test Root", "critical,CA:TRUE", NULL, NULL, -DAY, 3650 * DAY };
const struct mk inter_mk = { "Test Inter", "critical,CA:TRUE,pathlen:0", NULL, NULL, -DAY,
	                     1000 * DAY };
const struct mk leaf_mk = { "host.example.com",     "CA:FALSE", "serverAuth,clientAuth",
	                    "DNS:host.example.com", -DAY,       365 * DAY };

X509 *root, *inter, *leaf;

STACK_OF(X509) * stack_of(X509 *a, X509 *b)
{
	STACK_OF(X509) *sk = sk_X509_new_null();

	assert_non_null(sk);
	if (a != NULL)
		assert_true(sk_X509_push(sk, a) > 0);
	if (b != NULL)
		assert_true(sk_X509_push(sk, b) > 0);
	return sk;
}

int pki_certs_setup(void **state)
{
	(void)state;
	root_key = EVP_EC_gen("P-256");
	inter_key = EVP_EC_gen("P-256");
	leaf_key = EVP_EC_gen("P-256");
	rsa1024_key = EVP_RSA_gen(1024);
	if (root_key == NULL || inter_key == NULL || leaf_key == NULL || rsa1024_key == NULL)
		return -1;
	root = mkcert(&root_mk, root_key, NULL, root_key);
	inter = mkcert(&inter_mk, inter_key, root, root_key);
	leaf = mkcert(&leaf_mk, leaf_key, inter, inter_key);
	return 0;
}

int pki_certs_teardown(void **state)
{
	(void)state;
	X509_free(leaf);
	X509_free(inter);
	X509_free(root);
	EVP_PKEY_free(root_key);
	EVP_PKEY_free(inter_key);
	EVP_PKEY_free(leaf_key);
	EVP_PKEY_free(rsa1024_key);
	return 0;
}

/* @x as DER (OPENSSL_free) */
int der_of(X509 *x, unsigned char **pder)
{
	int n;

	*pder = NULL;
	n = i2d_X509(x, pder);
	assert_true(n > 0);
	return n;
}

/* @x as PEM into @out (NUL-terminated), returns its length */
size_t pem_of(X509 *x, char *out, size_t cap)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *data;
	long n;

	assert_non_null(b);
	assert_int_equal(PEM_write_bio_X509(b, x), 1);
	n = BIO_get_mem_data(b, &data);
	assert_true(n > 0 && (size_t)n < cap);
	memcpy(out, data, (size_t)n);
	out[n] = '\0';
	BIO_free(b);
	return (size_t)n;
}

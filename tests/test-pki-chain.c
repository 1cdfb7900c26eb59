/*
 * test-pki-chain.c - tools/pki/, the PKI library: the loaders (PEM with
 * text between blocks, DER with a trailing byte, garbage), fingerprints
 * against X509_digest, and pki_verify_chain on chains made here with
 * software keys.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include "pki.h"
#include "result.h"
#include "pki-certs.h"

/* ------------------------------------------------------------------ */
/* Loaders and fingerprints                                            */
/* ------------------------------------------------------------------ */

static void test_load_pem(void **state)
{
	char buf[16384], one[4096];
	size_t len = 0, n, *ends = NULL, end1;
	STACK_OF(X509) *certs = NULL;
	EVP_PKEY *k = leaf_key;
	BIO *b;
	char *kp;
	long kn;
	int pem = -1;

	(void)state;
	len += (size_t)snprintf(buf + len, sizeof(buf) - len, "# a bundle\nSubject: leaf\n");
	n = pem_of(leaf, one, sizeof(one));
	memcpy(buf + len, one, n), len += n;
	end1 = len;
	len += (size_t)snprintf(buf + len, sizeof(buf) - len, "\ntext between the blocks\n");
	/* a key block is skipped */
	b = BIO_new(BIO_s_mem());
	assert_int_equal(PEM_write_bio_PUBKEY(b, k), 1);
	kn = BIO_get_mem_data(b, &kp);
	memcpy(buf + len, kp, (size_t)kn), len += (size_t)kn;
	BIO_free(b);
	n = pem_of(inter, one, sizeof(one));
	memcpy(buf + len, one, n), len += n;
	len += (size_t)snprintf(buf + len, sizeof(buf) - len, "# the end\n");

	assert_true(pki_is_pem((unsigned char *)buf, len));
	assert_int_equal(pki_load_certs_at((unsigned char *)buf, len, &certs, &ends, &pem), RES_OK);
	assert_int_equal(pem, 1);
	assert_int_equal(sk_X509_num(certs), 2);
	assert_int_equal(X509_cmp(sk_X509_value(certs, 0), leaf), 0);
	assert_int_equal(X509_cmp(sk_X509_value(certs, 1), inter), 0);
	assert_int_equal(ends[0], end1);
	assert_int_equal(ends[1], len - strlen("# the end\n"));
	free(ends);
	sk_X509_pop_free(certs, X509_free);

	/* a stray END line after the last block */
	memcpy(buf + len, "-----END CERTIFICATE-----\n", 27);
	assert_int_equal(pki_load_certs((unsigned char *)buf, len + 26, &certs, &pem),
	                 RES_BAD_INPUT);
	assert_non_null(strstr(res_message(), "BEGIN or END line"));
	/* a damaged block */
	n = pem_of(leaf, one, sizeof(one));
	memcpy(one + 100, "!!!!", 4);
	assert_int_equal(pki_load_certs((unsigned char *)one, n, &certs, &pem), RES_BAD_INPUT);
	assert_non_null(strstr(res_message(), "malformed PEM"));
	/* a key alone */
	{
		static const char key_only[] = "-----BEGIN PUBLIC KEY-----\n"
		                               "-----END PUBLIC KEY-----\n";
		assert_int_equal(pki_load_certs((const unsigned char *)key_only,
		                                sizeof(key_only) - 1, &certs, &pem),
		                 RES_BAD_INPUT);
	}
}

static void test_load_der(void **state)
{
	unsigned char *der = NULL, *plus;
	int n = der_of(leaf, &der), pem = -1;
	STACK_OF(X509) *certs = NULL;
	X509 *x = NULL;
	static const unsigned char garbage[] = "garbage, not a certificate\n";

	(void)state;
	assert_false(pki_is_pem(der, (size_t)n));
	assert_int_equal(pki_load_certs(der, (size_t)n, &certs, &pem), RES_OK);
	assert_int_equal(pem, 0);
	assert_int_equal(sk_X509_num(certs), 1);
	assert_int_equal(X509_cmp(sk_X509_value(certs, 0), leaf), 0);
	sk_X509_pop_free(certs, X509_free);
	assert_int_equal(pki_load_cert(der, (size_t)n, &x), RES_OK);
	assert_int_equal(X509_cmp(x, leaf), 0);
	X509_free(x);
	/* one trailing byte */
	plus = malloc((size_t)n + 1);
	memcpy(plus, der, (size_t)n);
	plus[n] = 0;
	assert_int_equal(pki_load_certs(plus, (size_t)n + 1, &certs, &pem), RES_BAD_INPUT);
	assert_non_null(strstr(res_message(), "1 bytes of trailing data"));
	/* truncated */
	assert_int_equal(pki_load_certs(der, (size_t)n - 1, &certs, &pem), RES_BAD_INPUT);
	assert_non_null(strstr(res_message(), "neither a PEM certificate nor a DER"));
	free(plus);
	/* garbage, empty */
	assert_int_equal(pki_load_certs(garbage, sizeof(garbage) - 1, &certs, &pem), RES_BAD_INPUT);
	assert_non_null(strstr(res_message(), "neither a PEM certificate nor a DER"));
	assert_int_equal(pki_load_certs(garbage, 0, &certs, &pem), RES_BAD_INPUT);
	OPENSSL_free(der);
}

static void test_load_csr_crl(void **state)
{
	X509_REQ *req = X509_REQ_new(), *got = NULL;
	X509_CRL *crl = X509_CRL_new(), *gotcrl = NULL;
	unsigned char *der = NULL;
	BIO *b = BIO_new(BIO_s_mem());
	char *p;
	long n;
	int dn;

	(void)state;
	assert_int_equal(X509_REQ_set_pubkey(req, leaf_key), 1);
	assert_true(X509_REQ_sign(req, leaf_key, EVP_sha256()) > 0);
	assert_int_equal(PEM_write_bio_X509_REQ(b, req), 1);
	n = BIO_get_mem_data(b, &p);
	assert_int_equal(pki_load_csr(NULL, (unsigned char *)p, (size_t)n, &got), RES_OK);
	assert_int_equal(X509_REQ_verify(got, leaf_key), 1);
	X509_REQ_free(got);
	dn = i2d_X509_REQ(req, &der);
	assert_int_equal(pki_load_csr(NULL, der, (size_t)dn, &got), RES_OK);
	X509_REQ_free(got);
	assert_int_equal(pki_load_csr(NULL, der, (size_t)dn - 3, &got), RES_BAD_INPUT);
	OPENSSL_free(der);
	der = NULL;
	/* a certificate is not a CSR */
	assert_int_equal(pki_load_csr(NULL, (unsigned char *)"x", 1, &got), RES_BAD_INPUT);

	assert_int_equal(X509_CRL_set_issuer_name(crl, X509_get_subject_name(root)), 1);
	{
		ASN1_TIME *t = ASN1_TIME_set(NULL, time(NULL));
		assert_int_equal(X509_CRL_set1_lastUpdate(crl, t), 1);
		ASN1_TIME_free(t);
	}
	assert_true(X509_CRL_sign(crl, root_key, EVP_sha256()) > 0);
	dn = i2d_X509_CRL(crl, &der);
	assert_int_equal(pki_load_crl(der, (size_t)dn, &gotcrl), RES_OK);
	X509_CRL_free(gotcrl);
	(void)BIO_reset(b);
	assert_int_equal(PEM_write_bio_X509_CRL(b, crl), 1);
	n = BIO_get_mem_data(b, &p);
	assert_int_equal(pki_load_crl((unsigned char *)p, (size_t)n, &gotcrl), RES_OK);
	X509_CRL_free(gotcrl);
	OPENSSL_free(der);
	BIO_free(b);
	X509_CRL_free(crl);
	X509_REQ_free(req);
}

/*
 * A trust bundle (pki_load_bundle): comments only is an empty bundle; DER
 * is refused; CRL blocks are skipped, or decoded when asked for; a
 * malformed CRL block is refused only then.  tests/fuzz/bundle_fuzzer.c
 * checks the same and more on mutated bundles.
 */
static void test_load_bundle(void **state)
{
	static const char comments[] = "# nothing yet\n\n   \n# still nothing\n";
	static const char bad_crl[] = "-----BEGIN X509 CRL-----\nMAA=\n-----END X509 CRL-----\n";
	X509_CRL *crl = X509_CRL_new();
	STACK_OF(X509) *certs = NULL;
	STACK_OF(X509_CRL) *crls = NULL;
	char buf[16384];
	unsigned char *der = NULL;
	size_t len = 0, *ends = NULL, end1;
	BIO *b = BIO_new(BIO_s_mem());
	char *p;
	long n;
	int dn;

	(void)state;
	assert_int_equal(pki_load_bundle((const unsigned char *)comments, sizeof(comments) - 1,
	                                 &certs, &ends, &crls),
	                 RES_OK);
	assert_int_equal(sk_X509_num(certs), 0);
	assert_int_equal(sk_X509_CRL_num(crls), 0);
	assert_null(ends);
	sk_X509_free(certs);
	sk_X509_CRL_free(crls);
	assert_int_equal(pki_load_bundle(NULL, 0, &certs, NULL, NULL), RES_OK);
	assert_int_equal(sk_X509_num(certs), 0);
	sk_X509_free(certs);

	/* DER is no bundle, even a certificate */
	dn = der_of(root, &der);
	assert_int_equal(pki_load_bundle(der, (size_t)dn, &certs, NULL, NULL), RES_BAD_INPUT);
	assert_non_null(strstr(res_message(), "not a PEM certificate bundle"));
	OPENSSL_free(der);

	/* root, its CRL, inter */
	assert_int_equal(X509_CRL_set_issuer_name(crl, X509_get_subject_name(root)), 1);
	{
		ASN1_TIME *t = ASN1_TIME_set(NULL, time(NULL));
		assert_int_equal(X509_CRL_set1_lastUpdate(crl, t), 1);
		ASN1_TIME_free(t);
	}
	assert_true(X509_CRL_sign(crl, root_key, EVP_sha256()) > 0);
	len += pem_of(root, buf, sizeof(buf));
	end1 = len;
	assert_int_equal(PEM_write_bio_X509_CRL(b, crl), 1);
	n = BIO_get_mem_data(b, &p);
	memcpy(buf + len, p, (size_t)n), len += (size_t)n;
	len += pem_of(inter, buf + len, sizeof(buf) - len);
	assert_int_equal(pki_load_bundle((unsigned char *)buf, len, &certs, &ends, &crls), RES_OK);
	assert_int_equal(sk_X509_num(certs), 2);
	assert_int_equal(X509_cmp(sk_X509_value(certs, 1), inter), 0);
	assert_int_equal(ends[0], end1);
	assert_int_equal(ends[1], len);
	assert_int_equal(sk_X509_CRL_num(crls), 1);
	assert_int_equal(X509_CRL_cmp(sk_X509_CRL_value(crls, 0), crl), 0);
	free(ends);
	sk_X509_pop_free(certs, X509_free);
	sk_X509_CRL_pop_free(crls, X509_CRL_free);
	crls = NULL;

	/* a CRL block that does not decode: skipped, or refused when CRLs are read */
	memcpy(buf + len, bad_crl, sizeof(bad_crl) - 1);
	len += sizeof(bad_crl) - 1;
	assert_int_equal(pki_load_bundle((unsigned char *)buf, len, &certs, NULL, NULL), RES_OK);
	assert_int_equal(sk_X509_num(certs), 2);
	sk_X509_pop_free(certs, X509_free);
	certs = NULL;
	assert_int_equal(pki_load_bundle((unsigned char *)buf, len, &certs, NULL, &crls),
	                 RES_BAD_INPUT);
	assert_non_null(strstr(res_message(), "does not hold a valid CRL"));
	assert_null(certs);
	assert_null(crls);
	BIO_free(b);
	X509_CRL_free(crl);
}

/* The oracle: X509_digest formatted here, as `openssl x509 -fingerprint` prints it. */
static void fp_expected(X509 *x, const EVP_MD *md, char *colons, char *lower)
{
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned int n = 0, i;

	assert_int_equal(X509_digest(x, md, d, &n), 1);
	for (i = 0; i < n; i++) {
		sprintf(colons + 3 * i, "%02X%s", d[i], i + 1 < n ? ":" : "");
		sprintf(lower + 2 * i, "%02x", d[i]);
	}
}

static void test_fingerprint(void **state)
{
	char want_c[PKI_FP_MAX], want_l[PKI_FP_MAX], got[PKI_FP_MAX], hex[9];
	static const unsigned char bytes[] = { 0xde, 0xad, 0xBE, 0xef };

	(void)state;
	fp_expected(leaf, EVP_sha256(), want_c, want_l);
	assert_int_equal(pki_fingerprint(leaf, "SHA256", 1, got, sizeof(got)), RES_OK);
	assert_string_equal(got, want_c);
	assert_int_equal(pki_fingerprint(leaf, "SHA256", 0, got, sizeof(got)), RES_OK);
	assert_string_equal(got, want_l);
	fp_expected(root, EVP_sha1(), want_c, want_l);
	assert_int_equal(pki_fingerprint(root, "SHA1", 1, got, sizeof(got)), RES_OK);
	assert_string_equal(got, want_c);
	assert_int_equal(pki_fingerprint(root, "SHA256", 1, got, 10), RES_FAIL);
	assert_int_equal(pki_fingerprint(root, "NO-SUCH-MD", 1, got, sizeof(got)), RES_CRYPTO);
	pki_hex(hex, bytes, sizeof(bytes));
	assert_string_equal(hex, "deadbeef");
}

/* ------------------------------------------------------------------ */
/* Chains                                                              */
/* ------------------------------------------------------------------ */

/* pki_verify_chain of @l with @untrusted, @trusted (taken) */
static struct pki_chain_result *verify(X509 *l, STACK_OF(X509) * untrusted,
                                       STACK_OF(X509) * trusted, const struct pki_verify_opts *o)
{
	struct pki_chain_result *r = NULL;
	int rc = pki_verify_chain(NULL, l, untrusted, trusted, o, &r);

	if (rc != RES_OK)
		fail_msg("pki_verify_chain: %s (%s)", res_name(rc), res_message());
	assert_non_null(r);
	assert_true(r->n >= 1);
	sk_X509_free(untrusted);
	sk_X509_free(trusted);
	return r;
}

static void test_chain_good(void **state)
{
	struct pki_verify_opts o = { .host = "host.example.com",
		                     .want_server_auth = 1,
		                     .want_client_auth = 1 };
	struct pki_chain_result *r;
	size_t i;

	(void)state;
	r = verify(leaf, stack_of(inter, NULL), stack_of(root, NULL), &o);
	assert_int_equal(r->ok, 1);
	assert_int_equal(r->n, 3);
	for (i = 0; i < r->n; i++) {
		assert_int_equal(r->elems[i].flags, 0);
		assert_int_equal(r->elems[i].x509_error, 0);
		assert_int_equal(r->elems[i].rev_status, PKI_REV_UNCHECKED);
		assert_int_equal(r->elems[i].rev_reason, -1);
	}
	assert_int_equal(X509_cmp(r->elems[0].cert, leaf), 0);
	assert_int_equal(X509_cmp(r->elems[2].cert, root), 0);
	assert_int_equal(r->elems[2].trusted, 1);
	assert_int_equal(r->elems[0].trusted, 0);
	pki_chain_result_free(r);
	/* the root given as untrusted too changes nothing */
	r = verify(leaf, stack_of(inter, root), stack_of(root, NULL), NULL);
	assert_int_equal(r->ok, 1);
	pki_chain_result_free(r);
	/* an intermediate as anchor: only with allow_partial */
	o.allow_partial = 1;
	r = verify(leaf, NULL, stack_of(inter, NULL), &o);
	assert_int_equal(r->ok, 1);
	assert_int_equal(r->n, 2);
	assert_int_equal(r->elems[1].trusted, 1);
	pki_chain_result_free(r);
}

static void test_chain_expired(void **state)
{
	struct mk m = leaf_mk;
	struct pki_chain_result *r;
	struct pki_verify_opts o = { 0 };
	X509 *x;

	(void)state;
	m.nb = -30 * DAY, m.na = -DAY / 4; /* the CAs are valid from a day ago */
	x = mkcert(&m, leaf_key, inter, inter_key);
	r = verify(x, stack_of(inter, NULL), stack_of(root, NULL), NULL);
	assert_int_equal(r->ok, 0);
	assert_int_equal(r->n, 3);
	assert_true(r->elems[0].flags & PKI_E_EXPIRED);
	assert_int_equal(r->elems[0].x509_error, X509_V_ERR_CERT_HAS_EXPIRED);
	assert_int_equal(r->elems[1].flags, 0);
	assert_int_equal(r->elems[2].flags, 0);
	pki_chain_result_free(r);
	/* at a time before it expired: fine */
	o.at = (int64_t)time(NULL) - DAY / 2;
	r = verify(x, stack_of(inter, NULL), stack_of(root, NULL), &o);
	assert_int_equal(r->ok, 1);
	pki_chain_result_free(r);
	/* and the good leaf before its notBefore */
	o.at = (int64_t)time(NULL) - 2 * DAY;
	r = verify(leaf, stack_of(inter, NULL), stack_of(root, NULL), &o);
	assert_true(r->elems[0].flags & PKI_E_NOT_YET_VALID);
	assert_int_equal(r->ok, 0);
	pki_chain_result_free(r);
	X509_free(x);
}

static void test_chain_no_issuer(void **state)
{
	struct pki_chain_result *r;
	struct pki_verify_opts o = { .allow_partial = 1 };

	(void)state;
	r = verify(leaf, NULL, stack_of(root, NULL), NULL);
	assert_int_equal(r->ok, 0);
	assert_int_equal(r->n, 1);
	assert_true(r->elems[0].flags & PKI_E_NO_ISSUER);
	assert_true(r->elems[0].x509_error == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY ||
	            r->elems[0].x509_error == X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE);
	pki_chain_result_free(r);
	/* allow_partial: the missing issuer is no error in itself */
	r = verify(leaf, NULL, NULL, &o);
	assert_int_equal(r->ok, 1);
	assert_true(r->elems[0].flags & PKI_E_NO_ISSUER);
	pki_chain_result_free(r);
}

static void test_chain_untrusted_root(void **state)
{
	struct pki_chain_result *r;
	EVP_PKEY *k = EVP_EC_gen("P-256");
	X509 *other;

	(void)state;
	r = verify(leaf, stack_of(inter, root), NULL, NULL);
	assert_int_equal(r->ok, 0);
	assert_int_equal(r->n, 3);
	assert_true(r->elems[2].flags & PKI_E_UNTRUSTED_ROOT);
	assert_int_equal(r->elems[2].x509_error, X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN);
	assert_int_equal(r->elems[2].trusted, 0);
	pki_chain_result_free(r);
	/* another root is trusted, not this one */
	other = mkcert(&root_mk, k, NULL, k);
	r = verify(leaf, stack_of(inter, root), stack_of(other, NULL), NULL);
	assert_int_equal(r->ok, 0);
	assert_true(r->elems[r->n - 1].flags & (PKI_E_UNTRUSTED_ROOT | PKI_E_NO_ISSUER));
	pki_chain_result_free(r);
	/* a self-signed leaf */
	r = verify(other, NULL, NULL, NULL);
	assert_int_equal(r->ok, 0);
	assert_true(r->elems[0].flags & PKI_E_UNTRUSTED_ROOT);
	pki_chain_result_free(r);
	X509_free(other);
	EVP_PKEY_free(k);
}

static void test_chain_not_ca(void **state)
{
	struct mk im = inter_mk, lm = leaf_mk;
	struct pki_chain_result *r;
	X509 *notca, *l;

	(void)state;
	im.bc = "CA:FALSE";
	notca = mkcert(&im, inter_key, root, root_key);
	l = mkcert(&lm, leaf_key, notca, inter_key);
	r = verify(l, stack_of(notca, NULL), stack_of(root, NULL), NULL);
	assert_int_equal(r->ok, 0);
	assert_int_equal(r->n, 3);
	assert_true(r->elems[1].flags & PKI_E_NOT_CA);
	assert_int_equal(r->elems[1].x509_error, X509_V_ERR_INVALID_CA);
	assert_int_equal(r->elems[0].flags & PKI_E_NOT_CA, 0);
	pki_chain_result_free(r);
	X509_free(l);
	X509_free(notca);
}

static void test_chain_name_purpose(void **state)
{
	struct pki_verify_opts o = { .host = "other.example.com" };
	struct mk m = leaf_mk;
	struct pki_chain_result *r;
	X509 *x;

	(void)state;
	r = verify(leaf, stack_of(inter, NULL), stack_of(root, NULL), &o);
	assert_int_equal(r->ok, 0);
	assert_int_equal(r->elems[0].flags, PKI_E_NAME);
	pki_chain_result_free(r);
	o.host = "192.0.2.1";
	r = verify(leaf, stack_of(inter, NULL), stack_of(root, NULL), &o);
	assert_int_equal(r->elems[0].flags, PKI_E_NAME | PKI_E_NAME_IP);
	pki_chain_result_free(r);
	/* EKU serverAuth alone: no clientAuth */
	m.eku = "serverAuth";
	x = mkcert(&m, leaf_key, inter, inter_key);
	o.host = NULL;
	o.want_server_auth = 1;
	r = verify(x, stack_of(inter, NULL), stack_of(root, NULL), &o);
	assert_int_equal(r->ok, 1);
	pki_chain_result_free(r);
	o.want_client_auth = 1;
	r = verify(x, stack_of(inter, NULL), stack_of(root, NULL), &o);
	assert_int_equal(r->ok, 0);
	assert_int_equal(r->elems[0].flags, PKI_E_PURPOSE);
	pki_chain_result_free(r);
	/* OpenSSL's own purpose check */
	memset(&o, 0, sizeof(o));
	o.purpose = X509_PURPOSE_SSL_CLIENT;
	r = verify(x, stack_of(inter, NULL), stack_of(root, NULL), &o);
	assert_int_equal(r->ok, 0);
	assert_true(r->elems[0].flags & PKI_E_PURPOSE);
	pki_chain_result_free(r);
	X509_free(x);
}

static void test_chain_weak(void **state)
{
	struct mk m = leaf_mk;
	struct pki_chain_result *r;
	X509 *sha1, *small;

	(void)state;
	m.md = "SHA1";
	sha1 = mkcert(&m, leaf_key, inter, inter_key);
	r = verify(sha1, stack_of(inter, NULL), stack_of(root, NULL), NULL);
	assert_int_equal(r->ok, 0);
	assert_true(r->elems[0].flags & PKI_E_WEAK_DIGEST);
	assert_int_equal(r->elems[1].flags, 0);
	pki_chain_result_free(r);
	m.md = NULL;
	small = mkcert(&m, rsa1024_key, inter, inter_key);
	r = verify(small, stack_of(inter, NULL), stack_of(root, NULL), NULL);
	assert_int_equal(r->ok, 0);
	assert_int_equal(r->elems[0].flags, PKI_E_WEAK_KEY);
	pki_chain_result_free(r);
	X509_free(sha1);
	X509_free(small);
}

static void test_flag_names(void **state)
{
	(void)state;
	assert_string_equal(pki_elem_flag_name(PKI_E_EXPIRED), "expired");
	assert_string_equal(pki_elem_flag_name(PKI_E_NO_ISSUER), "issuer not found");
	assert_string_equal(pki_elem_flag_name(PKI_E_OTHER), "other error");
	assert_string_equal(pki_elem_flag_name(1u << 20), "unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_load_pem),
		cmocka_unit_test(test_load_der),
		cmocka_unit_test(test_load_csr_crl),
		cmocka_unit_test(test_load_bundle),
		cmocka_unit_test(test_fingerprint),
		cmocka_unit_test(test_chain_good),
		cmocka_unit_test(test_chain_expired),
		cmocka_unit_test(test_chain_no_issuer),
		cmocka_unit_test(test_chain_untrusted_root),
		cmocka_unit_test(test_chain_not_ca),
		cmocka_unit_test(test_chain_name_purpose),
		cmocka_unit_test(test_chain_weak),
		cmocka_unit_test(test_flag_names),
	};

	return cmocka_run_group_tests_name("test-pki-chain", tests, pki_certs_setup,
	                                   pki_certs_teardown);
}

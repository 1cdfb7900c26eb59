/*
 * test-softhsm-objects.c - libp11ca finding keys on two real SoftHSM2
 * tokens (by label, id, URI; ambiguous labels and tokens), public keys
 * without a public-key object or under another key's id, certificates,
 * listing and deletion.  Exits 77 (skip) when SoftHSM2 is not installed.
 */
#include "config.h"

#include <stdlib.h>

#include <openssl/rand.h>

#include "softhsm-fixture.h"

/* Builds a key URI on token A: "pkcs11:token=A;" + @rest. */
static const char *uri_a(char *buf, size_t cap, const char *rest)
{
	snprintf(buf, cap, "pkcs11:token=" LABEL_A "%s%s", rest[0] ? ";" : "", rest);
	return buf;
}

/* ------------------------------------------------------------------ */
/* finding keys                                                        */
/* ------------------------------------------------------------------ */

static void test_find(void **state)
{
	p11ca_key *gen = key_of(K_P384), *key = NULL;
	char uri[512], rest[256], *kuri;
	size_t idlen, i;
	const unsigned char *id = p11ca_key_get_id(gen, &idlen);
	int n;

	/* by label */
	assert_rv(p11ca_key_find(T.ctx, uri_a(uri, sizeof(uri), "object=k-p384"), &key), CKR_OK);
	assert_int_equal(key->handle, gen->handle);
	assert_string_equal(p11ca_key_get_label(key), "k-p384");
	p11ca_key_free(key);
	key = NULL;

	/* by id alone */
	n = snprintf(rest, sizeof(rest), "id=");
	for (i = 0; i < idlen; i++)
		n += snprintf(rest + n, sizeof(rest) - (size_t)n, "%%%02x", id[i]);
	assert_rv(p11ca_key_find(T.ctx, uri_a(uri, sizeof(uri), rest), &key), CKR_OK);
	assert_int_equal(key->handle, gen->handle);
	p11ca_key_free(key);
	key = NULL;

	/* with type=private, and by the URI p11ca made for it */
	assert_rv(
	    p11ca_key_find(T.ctx, uri_a(uri, sizeof(uri), "object=k-p384;type=private"), &key),
	    CKR_OK);
	p11ca_key_free(key);
	key = NULL;
	assert_non_null(kuri = p11ca_key_get_uri(gen));
	assert_rv(p11ca_key_find(T.ctx, kuri, &key), CKR_OK);
	assert_int_equal(key->handle, gen->handle);
	p11ca_key_free(key);
	key = NULL;
	free(kuri);

	/* nothing there */
	assert_rv(p11ca_key_find(T.ctx, uri_a(uri, sizeof(uri), "object=no-such-key"), &key),
	          P11CA_R_NOT_FOUND);
	assert_null(key);
	assert_contains(p11ca_error_message(), "no-such-key");
	assert_rv(p11ca_key_find(T.ctx, "pkcs11:token=no-such-token;object=k-p384", &key),
	          P11CA_R_NOT_FOUND);
	assert_contains(p11ca_error_message(), "no token matches");

	/* unknown attributes are named */
	assert_rv(
	    p11ca_key_find(T.ctx, uri_a(uri, sizeof(uri), "object=k-p384;frobnicate=1"), &key),
	    P11CA_R_BAD_URI);
	assert_contains(p11ca_error_message(), "frobnicate");
	assert_rv(p11ca_key_find(T.ctx, "pkcs11:token=" LABEL_A ";object=k-p384?colour=blue", &key),
	          P11CA_R_BAD_URI);
	assert_contains(p11ca_error_message(), "colour");
	assert_rv(p11ca_key_find(T.ctx, "file:/etc/passwd", &key), P11CA_R_BAD_URI);
	/* a public key is not a private key */
	assert_rv(p11ca_key_find(T.ctx, uri_a(uri, sizeof(uri), "object=k-p384;type=public"), &key),
	          P11CA_R_BAD_URI);
	assert_null(key);
}

/* Two private keys with one label, made behind p11ca's back. */
static void test_find_ambiguous(void **state)
{
	static const unsigned char p256[] = { 0x06, 0x08, 0x2a, 0x86, 0x48,
		                              0xce, 0x3d, 0x03, 0x01, 0x07 };
	static const char label[] = "twin";
	CK_BBOOL yes = CK_TRUE;
	CK_MECHANISM mech = { CKM_EC_KEY_PAIR_GEN, NULL, 0 };
	unsigned char id;
	char uri[256];
	p11ca_key *key = NULL;
	int i;

	for (i = 1; i <= 2; i++) {
		CK_OBJECT_HANDLE hpub, hpriv;
		CK_ATTRIBUTE pub[] = {
			{ CKA_TOKEN, &yes, sizeof(yes) },
			{ CKA_VERIFY, &yes, sizeof(yes) },
			{ CKA_EC_PARAMS, (void *)p256, sizeof(p256) },
			{ CKA_LABEL, (void *)label, strlen(label) },
			{ CKA_ID, &id, 1 },
		};
		CK_ATTRIBUTE priv[] = {
			{ CKA_TOKEN, &yes, sizeof(yes) },
			{ CKA_PRIVATE, &yes, sizeof(yes) },
			{ CKA_SENSITIVE, &yes, sizeof(yes) },
			{ CKA_SIGN, &yes, sizeof(yes) },
			{ CKA_LABEL, (void *)label, strlen(label) },
			{ CKA_ID, &id, 1 },
		};
		id = (unsigned char)i;
		assert_rv(T.fl->C_GenerateKeyPair(T.raw, &mech, pub, 5, priv, 6, &hpub, &hpriv),
		          CKR_OK);
	}
	assert_rv(p11ca_key_find(T.ctx, uri_a(uri, sizeof(uri), "object=twin"), &key),
	          P11CA_R_AMBIGUOUS);
	assert_null(key);
	assert_contains(p11ca_error_message(), "2 private keys");
	assert_contains(p11ca_error_message(), "'twin' id=01");
	assert_contains(p11ca_error_message(), "'twin' id=02");

	/* id= settles it */
	assert_rv(p11ca_key_find(T.ctx, uri_a(uri, sizeof(uri), "object=twin;id=%02"), &key),
	          CKR_OK);
	{
		size_t idlen;
		const unsigned char *kid = p11ca_key_get_id(key, &idlen);
		assert_int_equal(idlen, 1);
		assert_int_equal(kid[0], 2);
	}
	/* and a key p11ca did not make signs like any other */
	{
		struct p11ca_sig_params sp = { P11CA_SIG_ECDSA, EVP_sha256(), 0, NULL };
		sign_and_verify(key, &ktypes[K_P256], &sp);
	}
	p11ca_key_free(key);
	key = NULL;
	assert_rv(p11ca_object_delete(T.ctx, uri_a(uri, sizeof(uri), "object=twin"), NULL), CKR_OK);
	assert_int_equal(find_by_label(label), 0);
}

/* Two tokens and a URI that picks neither. */
static void test_two_tokens_ambiguous(void **state)
{
	p11ca_token *t = NULL;
	p11ca_key *key = NULL;
	size_t i, n, initialised = 0;

	n = p11ca_token_count(T.ctx);
	for (i = 0; i < n; i++)
		if (p11ca_token_get_info(p11ca_token_at(T.ctx, i))->flags & CKF_TOKEN_INITIALIZED)
			initialised++;
	assert_int_equal(initialised, 2);

	assert_rv(p11ca_token_find(T.ctx, "pkcs11:", &t), P11CA_R_AMBIGUOUS);
	assert_contains(p11ca_error_message(), "'" LABEL_A "'");
	assert_contains(p11ca_error_message(), "'" LABEL_B "'");
	assert_rv(p11ca_token_find(T.ctx, NULL, &t), P11CA_R_AMBIGUOUS);
	assert_rv(
	    p11ca_token_find(T.ctx, "pkcs11:model=SoftHSM%20v2;manufacturer=SoftHSM%20project", &t),
	    P11CA_R_AMBIGUOUS);
	assert_contains(p11ca_error_message(), "2 tokens");
	assert_contains(p11ca_error_message(), "'" LABEL_A "'");
	assert_contains(p11ca_error_message(), "'" LABEL_B "'");
	assert_rv(p11ca_key_find(T.ctx, "pkcs11:object=k-p256", &key), P11CA_R_AMBIGUOUS);
	assert_contains(p11ca_error_message(), "'" LABEL_A "'");
	assert_contains(p11ca_error_message(), "'" LABEL_B "'");
	assert_null(key);

	/* each one by name; by serial too */
	assert_rv(p11ca_token_find(T.ctx, "pkcs11:token=" LABEL_A, &t), CKR_OK);
	assert_ptr_equal(t, T.tok);
	assert_rv(p11ca_token_find(T.ctx, "pkcs11:token=" LABEL_B, &t), CKR_OK);
	assert_ptr_not_equal(t, T.tok);
	{
		char uri[128];
		p11ca_token *u = NULL;
		snprintf(uri, sizeof(uri), "pkcs11:serial=%s", p11ca_token_get_info(T.tok)->serial);
		assert_rv(p11ca_token_find(T.ctx, uri, &u), CKR_OK);
		assert_ptr_equal(u, T.tok);
	}
}

/* ------------------------------------------------------------------ */
/* public keys, certificates, deletion                                 */
/* ------------------------------------------------------------------ */

static CK_C_GetAttributeValue real_getattr;

/* C_GetAttributeValue of a token without CKA_PUBLIC_KEY_INFO */
static CK_RV getattr_no_pki(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h, CK_ATTRIBUTE_PTR tmpl,
                            CK_ULONG n)
{
	CK_ULONG i;

	for (i = 0; i < n; i++) {
		if (tmpl[i].type == CKA_PUBLIC_KEY_INFO) {
			tmpl[i].ulValueLen = CK_UNAVAILABLE_INFORMATION;
			return CKR_ATTRIBUTE_TYPE_INVALID;
		}
	}
	return real_getattr(s, h, tmpl, n);
}

/*
 * Two keys share a CKA_ID (tools reuse "01"): the public half of one must
 * never be taken for the other's.  With the larger key's public object
 * under the smaller key's id, a public key taken by id alone would also
 * make emulated RSA-PSS write past its buffer.
 */
static void test_public_of_another_key(void **state)
{
	struct p11ca_sig_params sp = { P11CA_SIG_RSA_PSS, NULL, -1, NULL };
	p11ca_key *a = NULL, *b = NULL, *key = NULL;
	EVP_PKEY *apub = NULL, *pub = NULL;
	unsigned char ida[20], idb[20], dgst[32], sig[512];
	CK_OBJECT_HANDLE ha, hb;
	CK_ATTRIBUTE setid = { CKA_ID, ida, sizeof(ida) };
	size_t idlen, siglen = sizeof(sig);
	char uri[256];

	assert_rv(p11ca_key_generate(T.tok, "rsa:2048", "k-share-a", 0, &a), CKR_OK);
	assert_rv(p11ca_key_generate(T.tok, "rsa:3072", "k-share-b", 0, &b), CKR_OK);
	memcpy(ida, p11ca_key_get_id(a, &idlen), 20);
	memcpy(idb, p11ca_key_get_id(b, &idlen), 20);
	assert_rv(p11ca_key_get_public(a, &apub), CKR_OK);
	p11ca_key_free(a);
	p11ca_key_free(b);
	/* A loses its public object; B's public object takes A's id */
	assert_int_equal(find_by_id(CKO_PUBLIC_KEY, ida, 20, &ha, 1), 1);
	assert_rv(T.fl->C_DestroyObject(T.raw, ha), CKR_OK);
	assert_int_equal(find_by_id(CKO_PUBLIC_KEY, idb, 20, &hb, 1), 1);
	assert_rv(T.fl->C_SetAttributeValue(T.raw, hb, &setid, 1), CKR_OK);

	assert_rv(p11ca_key_find(T.ctx, uri_a(uri, sizeof(uri), "object=k-share-a"), &key), CKR_OK);
	assert_rv(p11ca_key_get_public(key, &pub), CKR_OK);
	assert_int_equal(EVP_PKEY_get_bits(pub), 2048);
	assert_int_equal(EVP_PKEY_eq(pub, apub), 1);

	/* emulated PSS signs with A and verifies with A's real public key */
	sp.md = EVP_sha256();
	memset(dgst, 0x42, sizeof(dgst));
	setenv("P11CA_EMULATE_PSS", "1", 1);
	assert_rv(p11ca_key_sign_digest(key, &sp, dgst, sizeof(dgst), sig, &siglen), CKR_OK);
	unsetenv("P11CA_EMULATE_PSS");
	assert_int_equal(siglen, 256);
	assert_true(verify(apub, &sp, dgst, sizeof(dgst), sig, siglen));

	EVP_PKEY_free(pub);
	EVP_PKEY_free(apub);
	p11ca_key_free(key);
}

static int has_object(const struct p11ca_object_info *objs, size_t n, CK_OBJECT_CLASS klass,
                      const char *label, const unsigned char *id, size_t idlen)
{
	size_t i;
	int found = 0;

	for (i = 0; i < n; i++)
		if (objs[i].klass == klass && strcmp(objs[i].label, label) == 0 &&
		    objs[i].id_len == idlen && memcmp(objs[i].id, id, idlen) == 0)
			found++;
	return found;
}

static void test_public_without_object(void **state)
{
	CK_FUNCTION_LIST hiding, *saved = T.tok->mod->fl;
	struct p11ca_object_info *objs = NULL;
	p11ca_key *gen = NULL, *key = NULL;
	EVP_PKEY *orig = NULL, *pub = NULL;
	CK_OBJECT_HANDLE h;
	CK_ATTRIBUTE pki = { CKA_PUBLIC_KEY_INFO, NULL, 0 };
	unsigned char id[20];
	size_t idlen, nobj = 0, ndel = 0;
	char uri[256];
	X509 *cert;
	CK_RV pki_rv;

	assert_rv(p11ca_key_generate(T.tok, "ec:p256", "k-nopub", 0, &gen), CKR_OK);
	memcpy(id, p11ca_key_get_id(gen, &idlen), 20);
	assert_rv(p11ca_key_get_public(gen, &orig), CKR_OK);
	p11ca_key_free(gen);

	/* remove the public half behind p11ca's back */
	assert_int_equal(find_by_id(CKO_PUBLIC_KEY, id, 20, &h, 1), 1);
	assert_rv(T.fl->C_DestroyObject(T.raw, h), CKR_OK);
	assert_int_equal(find_by_id(CKO_PUBLIC_KEY, id, 20, &h, 1), 0);

	/* 1. from CKA_PUBLIC_KEY_INFO, when the token has it */
	assert_rv(p11ca_key_find(T.ctx, uri_a(uri, sizeof(uri), "object=k-nopub"), &key), CKR_OK);
	pki_rv = T.fl->C_GetAttributeValue(T.raw, key->handle, &pki, 1);
	print_message("the token %s CKA_PUBLIC_KEY_INFO on private keys\n",
	              pki_rv == CKR_OK && pki.ulValueLen > 0 ? "has" : "lacks");
	if (pki_rv == CKR_OK && pki.ulValueLen > 0 &&
	    pki.ulValueLen != CK_UNAVAILABLE_INFORMATION) {
		assert_rv(p11ca_key_get_public(key, &pub), CKR_OK);
		assert_int_equal(EVP_PKEY_eq(pub, orig), 1);
		EVP_PKEY_free(pub);
		pub = NULL;
	}
	p11ca_key_free(key);
	key = NULL;

	/* 2. a token without CKA_PUBLIC_KEY_INFO: nothing, then the certificate */
	hiding = *saved;
	real_getattr = hiding.C_GetAttributeValue;
	hiding.C_GetAttributeValue = getattr_no_pki;
	T.tok->mod->fl = &hiding;
	assert_rv(p11ca_key_find(T.ctx, uri_a(uri, sizeof(uri), "object=k-nopub"), &key), CKR_OK);
	assert_rv(p11ca_key_get_public(key, &pub), P11CA_R_NOT_FOUND);
	assert_null(pub);
	assert_contains(p11ca_error_message(), "no public key for 'k-nopub'");

	assert_non_null(cert = make_cert(orig, "k-nopub"));
	assert_rv(p11ca_key_store_certificate(key, cert), CKR_OK);
	p11ca_key_free(key);
	key = NULL;
	assert_rv(p11ca_key_find(T.ctx, uri_a(uri, sizeof(uri), "object=k-nopub"), &key), CKR_OK);
	assert_rv(p11ca_key_get_public(key, &pub), CKR_OK);
	T.tok->mod->fl = saved;
	assert_int_equal(EVP_PKEY_eq(pub, orig), 1);
	/* the key still signs, verified against the certificate's key */
	{
		struct p11ca_sig_params sp = { P11CA_SIG_ECDSA, EVP_sha256(), 0, NULL };
		unsigned char dgst[32], sig[128];
		size_t siglen = sizeof(sig);
		assert_int_equal(RAND_bytes(dgst, 32), 1);
		assert_rv(p11ca_key_sign_digest(key, &sp, dgst, 32, sig, &siglen), CKR_OK);
		assert_true(verify(X509_get0_pubkey(cert), &sp, dgst, 32, sig, siglen));
	}

	/* the listing shows the certificate with the key's id and label */
	assert_rv(p11ca_token_list_objects(T.tok, &objs, &nobj), CKR_OK);
	assert_int_equal(has_object(objs, nobj, CKO_CERTIFICATE, "k-nopub", id, 20), 1);
	assert_int_equal(has_object(objs, nobj, CKO_PRIVATE_KEY, "k-nopub", id, 20), 1);
	assert_int_equal(has_object(objs, nobj, CKO_PUBLIC_KEY, "k-nopub", id, 20), 0);
	p11ca_object_list_free(objs, nobj);
	/* ... raw as well, with the certificate's DER */
	assert_int_equal(find_by_id(CKO_CERTIFICATE, id, 20, &h, 1), 1);
	{
		unsigned char *v = NULL, *der = NULL;
		CK_ULONG vlen = 0;
		int derlen = i2d_X509(cert, &der);
		assert_rv(raw_attr(h, CKA_VALUE, &v, &vlen), CKR_OK);
		assert_int_equal(vlen, derlen);
		assert_memory_equal(v, der, vlen);
		free(v);
		OPENSSL_free(der);
	}

	/* deleting by label takes the private key and the certificate */
	p11ca_key_free(key);
	key = NULL;
	assert_rv(p11ca_object_delete(T.ctx, uri_a(uri, sizeof(uri), "object=k-nopub"), &ndel),
	          CKR_OK);
	assert_int_equal(ndel, 2);
	assert_int_equal(find_by_label("k-nopub"), 0);

	X509_free(cert);
	EVP_PKEY_free(pub);
	EVP_PKEY_free(orig);
}

static void test_object_delete(void **state)
{
	struct p11ca_object_info *objs = NULL;
	p11ca_key *key = NULL;
	size_t nobj = 0, ndel = 0, idlen;
	unsigned char id[20];
	char uri[256];
	int before = count_objects();

	assert_rv(p11ca_key_generate(T.tok, "ec:p256", "k-delete-me", 0, &key), CKR_OK);
	memcpy(id, p11ca_key_get_id(key, &idlen), 20);
	p11ca_key_free(key);
	key = NULL;
	assert_int_equal(count_objects(), before + 2);
	assert_rv(p11ca_token_list_objects(T.tok, &objs, &nobj), CKR_OK);
	assert_int_equal(has_object(objs, nobj, CKO_PRIVATE_KEY, "k-delete-me", id, 20), 1);
	assert_int_equal(has_object(objs, nobj, CKO_PUBLIC_KEY, "k-delete-me", id, 20), 1);
	{
		size_t i;
		for (i = 0; i < nobj; i++) {
			if (objs[i].klass != CKO_PRIVATE_KEY ||
			    strcmp(objs[i].label, "k-delete-me") != 0)
				continue;
			assert_int_equal(objs[i].sensitive, 1);
			assert_int_equal(objs[i].extractable, 0);
			assert_int_equal(objs[i].never_extractable, 1);
			assert_int_equal(objs[i].kind, P11CA_KEY_EC);
			assert_int_equal(objs[i].bits, 256);
			assert_non_null(objs[i].uri);
			assert_contains(objs[i].uri, "object=k-delete-me");
		}
	}
	p11ca_object_list_free(objs, nobj);

	/* a URI without object= or id= deletes nothing */
	assert_rv(p11ca_object_delete(T.ctx, "pkcs11:token=" LABEL_A, &ndel), P11CA_R_BAD_URI);
	assert_int_equal(ndel, 0);
	assert_rv(p11ca_object_delete(T.ctx, "pkcs11:token=" LABEL_A ";type=private", &ndel),
	          P11CA_R_BAD_URI);
	assert_int_equal(count_objects(), before + 2);

	/* type=public takes only that half */
	assert_rv(p11ca_object_delete(
	              T.ctx, uri_a(uri, sizeof(uri), "object=k-delete-me;type=public"), &ndel),
	          CKR_OK);
	assert_int_equal(ndel, 1);
	assert_int_equal(find_by_label("k-delete-me"), 1);
	assert_rv(p11ca_object_delete(T.ctx, uri_a(uri, sizeof(uri), "object=k-delete-me"), &ndel),
	          CKR_OK);
	assert_int_equal(ndel, 1);
	assert_int_equal(count_objects(), before);
	assert_rv(p11ca_key_find(T.ctx, uri_a(uri, sizeof(uri), "object=k-delete-me"), &key),
	          P11CA_R_NOT_FOUND);
	assert_rv(p11ca_object_delete(T.ctx, uri_a(uri, sizeof(uri), "object=k-delete-me"), &ndel),
	          P11CA_R_NOT_FOUND);

	/* a pair by id */
	assert_rv(p11ca_key_generate(T.tok, "ed25519", "k-delete-me-too", 0, &key), CKR_OK);
	{
		char rest[128];
		size_t i;
		int n = snprintf(rest, sizeof(rest), "id=");
		const unsigned char *kid = p11ca_key_get_id(key, &idlen);
		for (i = 0; i < idlen; i++)
			n += snprintf(rest + n, sizeof(rest) - (size_t)n, "%%%02X", kid[i]);
		assert_rv(p11ca_object_delete(T.ctx, uri_a(uri, sizeof(uri), rest), &ndel), CKR_OK);
	}
	assert_int_equal(ndel, 2);
	p11ca_key_free(key);
	assert_int_equal(count_objects(), before);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_find),
		cmocka_unit_test(test_find_ambiguous),
		cmocka_unit_test(test_two_tokens_ambiguous),
		cmocka_unit_test(test_public_without_object),
		cmocka_unit_test(test_public_of_another_key),
		cmocka_unit_test(test_object_delete),
	};

	return SOFTHSM_RUN("test-softhsm-objects", tests);
}

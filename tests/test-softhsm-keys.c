/*
 * test-softhsm-keys.c - libp11ca generating keys on a real SoftHSM2 token:
 * every key type, what landed on the token (attributes read raw), CKA_ID as
 * the certificate's subjectKeyIdentifier, the decrypt and derive flags,
 * keys nobody can modify, what an interrupted generation left cleaned up,
 * refused labels and types; then every signature scheme, verified with OpenSSL against the
 * public key read raw.  Exits 77 (skip) when SoftHSM2 is not installed.
 */
#include "config.h"

#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rsa.h>
#include <openssl/sha.h>
#include <openssl/x509v3.h>

#include "softhsm-fixture.h"

/* ------------------------------------------------------------------ */
/* generation and attributes                                           */
/* ------------------------------------------------------------------ */

static void test_generate_attributes(void **state)
{
	size_t i;

	for (i = 0; i < NKTYPES; i++) {
		const struct ktype *kt = &ktypes[i];
		p11ca_key *key = key_of(i);
		CK_OBJECT_HANDLE hpub[2];
		unsigned char *v = NULL;
		CK_ULONG vlen = 0;
		CK_KEY_TYPE ckk = (CK_KEY_TYPE)-1;
		CK_ATTRIBUTE a = { CKA_KEY_TYPE, &ckk, sizeof(ckk) };
		size_t idlen;
		const unsigned char *id = p11ca_key_get_id(key, &idlen);
		EVP_PKEY *pub = NULL, *raw = NULL;
		CK_ATTRIBUTE secret = { kt->ckk == CKK_RSA ? CKA_PRIVATE_EXPONENT : CKA_VALUE, NULL,
			                0 };

		assert_int_equal(p11ca_key_get_kind(key), kt->kind);
		assert_int_equal(p11ca_key_get_bits(key), kt->bits);
		assert_string_equal(p11ca_key_get_label(key), kt->label);
		if (kt->group != NULL)
			assert_string_equal(p11ca_key_get_group(key), kt->group);
		assert_ptr_equal(p11ca_key_get_token(key), T.tok);
		assert_int_equal(p11ca_key_can_decrypt(key), 0);

		/* the private key, as the token has it */
		assert_rv(T.fl->C_GetAttributeValue(T.raw, key->handle, &a, 1), CKR_OK);
		assert_int_equal(ckk, kt->ckk);
		assert_int_equal(raw_bool(key->handle, CKA_TOKEN), 1);
		assert_int_equal(raw_bool(key->handle, CKA_PRIVATE), 1);
		assert_int_equal(raw_bool(key->handle, CKA_SENSITIVE), 1);
		assert_int_equal(raw_bool(key->handle, CKA_ALWAYS_SENSITIVE), 1);
		assert_int_equal(raw_bool(key->handle, CKA_EXTRACTABLE), 0);
		assert_int_equal(raw_bool(key->handle, CKA_NEVER_EXTRACTABLE), 1);
		assert_int_equal(raw_bool(key->handle, CKA_LOCAL), 1);
		assert_int_equal(raw_bool(key->handle, CKA_SIGN), 1);
		assert_int_equal(raw_bool(key->handle, CKA_DECRYPT), 0);
		assert_int_equal(raw_bool(key->handle, CKA_UNWRAP), 0);
		assert_int_equal(raw_bool(key->handle, CKA_DERIVE), 0);
		assert_int_equal(raw_bool(key->handle, CKA_SIGN_RECOVER), 0);
		/* nobody adds a usage later, with the PIN or not */
		assert_int_equal(raw_bool(key->handle, CKA_MODIFIABLE), 0);
		{
			CK_BBOOL yes = CK_TRUE;
			CK_ATTRIBUTE derive = { CKA_DERIVE, &yes, sizeof(yes) };
			assert_true(T.fl->C_SetAttributeValue(T.raw, key->handle, &derive, 1) !=
			            CKR_OK);
			assert_int_equal(raw_bool(key->handle, CKA_DERIVE), 0);
		}
		/* the secret itself does not come out */
		assert_rv(T.fl->C_GetAttributeValue(T.raw, key->handle, &secret, 1),
		          CKR_ATTRIBUTE_SENSITIVE);
		assert_true(secret.ulValueLen == CK_UNAVAILABLE_INFORMATION);
		if (kt->ckk == CKK_RSA) {
			CK_ATTRIBUTE p1 = { CKA_PRIME_1, NULL, 0 };
			assert_rv(T.fl->C_GetAttributeValue(T.raw, key->handle, &p1, 1),
			          CKR_ATTRIBUTE_SENSITIVE);
		}
		/* CKA_LABEL, CKA_ID as p11ca reports them */
		assert_rv(raw_attr(key->handle, CKA_LABEL, &v, &vlen), CKR_OK);
		assert_int_equal(vlen, strlen(kt->label));
		assert_memory_equal(v, kt->label, vlen);
		free(v);
		assert_rv(raw_attr(key->handle, CKA_ID, &v, &vlen), CKR_OK);
		assert_int_equal(vlen, 20);
		assert_int_equal(idlen, 20);
		assert_memory_equal(v, id, 20);
		free(v);

		/* exactly one public object with that id, and it verifies */
		assert_int_equal(find_by_id(CKO_PUBLIC_KEY, id, idlen, hpub, 2), 1);
		assert_int_equal(raw_bool(hpub[0], CKA_VERIFY), 1);
		assert_int_equal(raw_bool(hpub[0], CKA_TOKEN), 1);
		assert_int_equal(raw_bool(hpub[0], CKA_PRIVATE), 0);
		assert_int_equal(raw_bool(hpub[0], CKA_ENCRYPT), 0);
		assert_int_equal(raw_bool(hpub[0], CKA_WRAP), 0);
		assert_int_equal(raw_bool(hpub[0], CKA_VERIFY_RECOVER), 0);
		assert_rv(raw_attr(hpub[0], CKA_LABEL, &v, &vlen), CKR_OK);
		assert_int_equal(vlen, strlen(kt->label));
		assert_memory_equal(v, kt->label, vlen);
		free(v);

		/* p11ca's public key is the token's */
		assert_non_null(raw = raw_public(hpub[0], kt));
		assert_rv(p11ca_key_get_public(key, &pub), CKR_OK);
		assert_int_equal(EVP_PKEY_eq(raw, pub), 1);
		assert_int_equal(EVP_PKEY_get_bits(pub), kt->bits);
		EVP_PKEY_free(pub);
		EVP_PKEY_free(raw);
	}
}

/* CKA_ID == the subjectKeyIdentifier OpenSSL puts into a certificate. */
static void test_key_id_is_ski(void **state)
{
	size_t i;

	for (i = 0; i < NKTYPES; i++) {
		p11ca_key *key = key_of(i);
		size_t idlen;
		const unsigned char *id = p11ca_key_get_id(key, &idlen);
		CK_OBJECT_HANDLE h;
		EVP_PKEY *pub;
		X509 *cert;
		ASN1_OCTET_STRING *ski;
		X509_PUBKEY *xpk = NULL;
		const unsigned char *bits;
		int bitslen;
		unsigned char sha1[20], pid[20];
		unsigned char *v = NULL;
		CK_ULONG vlen = 0;

		assert_int_equal(find_by_id(CKO_PUBLIC_KEY, id, idlen, &h, 1), 1);
		assert_non_null(pub = raw_public(h, &ktypes[i]));
		assert_non_null(cert = make_cert(pub, ktypes[i].label));
		ski = X509_get_ext_d2i(cert, NID_subject_key_identifier, NULL, NULL);
		assert_non_null(ski);
		assert_int_equal(ASN1_STRING_length(ski), 20);
		assert_memory_equal(ASN1_STRING_get0_data(ski), id, 20);

		/* and by hand: SHA-1 over the subjectPublicKey BIT STRING */
		assert_int_equal(X509_PUBKEY_set(&xpk, pub), 1);
		assert_int_equal(X509_PUBKEY_get0_param(NULL, &bits, &bitslen, NULL, xpk), 1);
		assert_non_null(SHA1(bits, (size_t)bitslen, sha1));
		assert_memory_equal(sha1, id, 20);
		assert_rv(p11ca_pubkey_key_id(pub, pid), CKR_OK);
		assert_memory_equal(pid, id, 20);

		/* the public object carries the same CKA_ID */
		assert_rv(raw_attr(h, CKA_ID, &v, &vlen), CKR_OK);
		assert_int_equal(vlen, 20);
		assert_memory_equal(v, id, 20);
		free(v);

		X509_PUBKEY_free(xpk);
		ASN1_OCTET_STRING_free(ski);
		X509_free(cert);
		EVP_PKEY_free(pub);
	}
}

static void test_decrypt_flag(void **state)
{
	static const unsigned char secret[] = "pre-master secret";
	unsigned char ct[512], pt[512];
	size_t ctlen = sizeof(ct), ptlen = sizeof(pt);
	p11ca_key *key = NULL, *ec = NULL;
	EVP_PKEY *pub = NULL;
	EVP_PKEY_CTX *pc;

	assert_rv(p11ca_key_generate(T.tok, "rsa:2048", "k-decrypt", P11CA_GEN_DECRYPT, &key),
	          CKR_OK);
	assert_int_equal(raw_bool(key->handle, CKA_DECRYPT), 1);
	assert_int_equal(raw_bool(key->handle, CKA_SIGN), 1);
	assert_int_equal(raw_bool(key->handle, CKA_SENSITIVE), 1);
	assert_int_equal(raw_bool(key->handle, CKA_EXTRACTABLE), 0);
	assert_int_equal(p11ca_key_can_decrypt(key), 1);

	/* encrypt with OpenSSL, decrypt on the token */
	assert_rv(p11ca_key_get_public(key, &pub), CKR_OK);
	assert_non_null(pc = EVP_PKEY_CTX_new(pub, NULL));
	assert_int_equal(EVP_PKEY_encrypt_init(pc), 1);
	assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PADDING), 1);
	assert_int_equal(EVP_PKEY_encrypt(pc, ct, &ctlen, secret, sizeof(secret)), 1);
	EVP_PKEY_CTX_free(pc);
	assert_rv(
	    p11ca_key_decrypt(key, P11CA_DEC_PKCS1, NULL, NULL, NULL, 0, ct, ctlen, pt, &ptlen),
	    CKR_OK);
	assert_int_equal(ptlen, sizeof(secret));
	assert_memory_equal(pt, secret, sizeof(secret));

	/* a buffer too small is refused, and leaves no session with an
	 * operation still active behind: the next operations work */
	ptlen = 8;
	assert_rv(
	    p11ca_key_decrypt(key, P11CA_DEC_PKCS1, NULL, NULL, NULL, 0, ct, ctlen, pt, &ptlen),
	    CKR_BUFFER_TOO_SMALL);
	ptlen = sizeof(pt);
	assert_rv(
	    p11ca_key_decrypt(key, P11CA_DEC_PKCS1, NULL, NULL, NULL, 0, ct, ctlen, pt, &ptlen),
	    CKR_OK);
	assert_memory_equal(pt, secret, sizeof(secret));

	/* OAEP with SHA-256 (SoftHSM2 itself does SHA-1 only: raw RSA + unpad) */
	ctlen = sizeof(ct);
	assert_non_null(pc = EVP_PKEY_CTX_new(pub, NULL));
	assert_int_equal(EVP_PKEY_encrypt_init(pc), 1);
	assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_OAEP_PADDING), 1);
	assert_int_equal(EVP_PKEY_CTX_set_rsa_oaep_md(pc, EVP_sha256()), 1);
	assert_int_equal(EVP_PKEY_encrypt(pc, ct, &ctlen, secret, sizeof(secret)), 1);
	EVP_PKEY_CTX_free(pc);
	ptlen = sizeof(pt);
	assert_rv(p11ca_key_decrypt(key, P11CA_DEC_OAEP, EVP_sha256(), NULL, NULL, 0, ct, ctlen, pt,
	                            &ptlen),
	          CKR_OK);
	assert_int_equal(ptlen, sizeof(secret));
	assert_memory_equal(pt, secret, sizeof(secret));
	/* and a wrong OAEP digest does not decrypt */
	ptlen = sizeof(pt);
	assert_true(p11ca_key_decrypt(key, P11CA_DEC_OAEP, EVP_sha384(), NULL, NULL, 0, ct, ctlen,
	                              pt, &ptlen) != CKR_OK);

	/* without the flag a key refuses to decrypt */
	ptlen = sizeof(pt);
	assert_rv(p11ca_key_decrypt(key_of(K_RSA2048), P11CA_DEC_PKCS1, NULL, NULL, NULL, 0, ct,
	                            ctlen, pt, &ptlen),
	          CKR_KEY_FUNCTION_NOT_PERMITTED);
	assert_contains(p11ca_error_message(), "not allowed to decrypt");

	/* an EC key never decrypts, whatever the flag says */
	assert_rv(p11ca_key_generate(T.tok, "ec:p256", "k-ec-decrypt", P11CA_GEN_DECRYPT, &ec),
	          CKR_OK);
	assert_int_equal(raw_bool(ec->handle, CKA_DECRYPT), 0);
	assert_int_equal(raw_bool(ec->handle, CKA_DERIVE), 0);

	EVP_PKEY_free(pub);
	p11ca_key_free(key);
	p11ca_key_free(ec);
}

static void test_label_exists(void **state)
{
	p11ca_key *key = NULL;
	int before;

	(void)key_of(K_P256);
	before = count_objects();
	assert_true(before > 0);
	assert_rv(p11ca_key_generate(T.tok, "ec:p256", ktypes[K_P256].label, 0, &key),
	          P11CA_R_LABEL_EXISTS);
	assert_null(key);
	assert_contains(p11ca_error_message(), ktypes[K_P256].label);
	assert_rv(p11ca_key_generate(T.tok, "rsa:2048", ktypes[K_P256].label, 0, NULL),
	          P11CA_R_LABEL_EXISTS);
	assert_int_equal(count_objects(), before);
	assert_int_equal(find_by_label(ktypes[K_P256].label), 2);
}

/* --derive: an EC key may derive (ECDH), when asked; other keys refuse it */
static void test_derive_flag(void **state)
{
	p11ca_key *key = NULL;
	int before;

	assert_rv(p11ca_key_generate(T.tok, "ec:p256", "k-derive", P11CA_GEN_DERIVE, &key), CKR_OK);
	assert_int_equal(raw_bool(key->handle, CKA_DERIVE), 1);
	assert_int_equal(raw_bool(key->handle, CKA_SIGN), 1);
	assert_int_equal(raw_bool(key->handle, CKA_DECRYPT), 0);
	assert_int_equal(raw_bool(key->handle, CKA_MODIFIABLE), 0);
	assert_int_equal(raw_bool(key->handle, CKA_SENSITIVE), 1);
	assert_int_equal(raw_bool(key->handle, CKA_EXTRACTABLE), 0);
	p11ca_key_free(key);
	before = count_objects();
	assert_rv(p11ca_key_generate(T.tok, "rsa:2048", "k-rsa-derive", P11CA_GEN_DERIVE, NULL),
	          P11CA_R_BAD_KEY_TYPE);
	assert_contains(p11ca_error_message(), "only EC keys derive");
	assert_rv(p11ca_key_generate(T.tok, "ed25519", "k-ed-derive", P11CA_GEN_DERIVE, NULL),
	          P11CA_R_BAD_KEY_TYPE);
	assert_int_equal(count_objects(), before);
}

/* This host as p11/key.c names it in temporary names: FNV-1a of its name. */
static unsigned long host_hash(void)
{
	char name[256] = "";
	uint32_t h = 2166136261u;
	const char *p;

	(void)gethostname(name, sizeof(name) - 1);
	for (p = name; *p != '\0'; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	return h;
}

/* What an interrupted generation left: removed by the next one when stale. */
static void test_gen_leftovers(void **state)
{
	static const unsigned char p256[] = { 0x06, 0x08, 0x2a, 0x86, 0x48,
		                              0xce, 0x3d, 0x03, 0x01, 0x07 };
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_MECHANISM mech = { CKM_EC_KEY_PAIR_GEN, NULL, 0 };
	char dead[64], live[64], old[64];
	CK_OBJECT_HANDLE hp, hk;
	pid_t pid;
	int before;

	/* a process of this host that is gone, this process (under way), and
	 * one from more than a day ago */
	if ((pid = fork()) == 0)
		_exit(0);
	assert_true(pid > 0);
	waitpid(pid, NULL, 0);
	snprintf(dead, sizeof(dead), "p11ca-gen-%08lx-%08lx-%08lx-01020304", host_hash(),
	         (unsigned long)pid, (unsigned long)time(NULL));
	snprintf(live, sizeof(live), "p11ca-gen-%08lx-%08lx-%08lx-01020304", host_hash(),
	         (unsigned long)getpid(), (unsigned long)time(NULL));
	snprintf(old, sizeof(old), "p11ca-gen-%08lx-%08lx-%08lx-01020304", 0x1UL, 0x1UL,
	         (unsigned long)time(NULL) - 2 * 86400);
	{
		/* a lone public key under a temporary id (killed inside
		 * C_GenerateKeyPair), as SoftHSM2 leaves it */
		CK_ATTRIBUTE pub[] = {
			{ CKA_TOKEN, &yes, sizeof(yes) },
			{ CKA_EC_PARAMS, (void *)p256, sizeof(p256) },
			{ CKA_ID, dead, strlen(dead) },
			{ CKA_LABEL, "k-lone", 6 },
		};
		CK_ATTRIBUTE priv[] = {
			{ CKA_TOKEN, &yes, sizeof(yes) },     { CKA_PRIVATE, &yes, sizeof(yes) },
			{ CKA_SENSITIVE, &yes, sizeof(yes) }, { CKA_EXTRACTABLE, &no, sizeof(no) },
			{ CKA_ID, dead, strlen(dead) },       { CKA_LABEL, dead, strlen(dead) },
		};
		assert_rv(T.fl->C_GenerateKeyPair(T.raw, &mech, pub, 4, priv, 6, &hp, &hk), CKR_OK);
		assert_rv(T.fl->C_DestroyObject(T.raw, hk), CKR_OK);
		/* a pair not renamed yet: final id, temporary label (too old) */
		priv[4].pValue = "final-id";
		priv[4].ulValueLen = 8;
		pub[2] = priv[4];
		pub[3].pValue = "k-half";
		priv[5].pValue = old;
		priv[5].ulValueLen = strlen(old);
		assert_rv(T.fl->C_GenerateKeyPair(T.raw, &mech, pub, 4, priv, 6, &hp, &hk), CKR_OK);
		/* one under way in this process: left alone */
		pub[2].pValue = live;
		pub[2].ulValueLen = strlen(live);
		pub[3].pValue = "k-busy";
		pub[3].ulValueLen = 6;
		assert_rv(T.fl->C_GenerateKeyPair(T.raw, &mech, pub, 4, priv, 4, &hp, &hk), CKR_OK);
		assert_rv(T.fl->C_DestroyObject(T.raw, hk), CKR_OK);
	}
	assert_int_equal(find_by_label("k-lone"), 1);
	before = count_objects();
	assert_rv(p11ca_key_generate(T.tok, "ec:p256", "k-after-crash", 0, NULL), CKR_OK);
	/* the lone public key and the unfinished pair are gone, the busy one is not */
	assert_int_equal(find_by_label("k-lone"), 0);
	assert_int_equal(find_by_label("k-half"), 0);
	assert_int_equal(find_by_label(old), 0);
	assert_int_equal(find_by_label("k-busy"), 1);
	assert_int_equal(find_by_label("k-after-crash"), 2);
	assert_int_equal(count_objects(), before - 3 + 2);
	/* and no temporary name of its own is left */
	assert_int_equal(find_by_label(live), 0);
}

static void test_refused_types(void **state)
{
	p11ca_key *key = NULL;
	int before = count_objects();

	assert_rv(p11ca_key_generate(T.tok, "rsa:8192", "k-8192", 0, &key), P11CA_R_BAD_KEY_TYPE);
	assert_null(key);
	assert_contains(p11ca_error_message(), "SIP");
	assert_contains(p11ca_error_message(), "--force");
	assert_rv(p11ca_key_generate(T.tok, "rsa:1024", "k-1024", 0, &key), P11CA_R_BAD_KEY_TYPE);
	assert_rv(p11ca_key_generate(T.tok, "dsa:2048", "k-dsa", 0, &key), P11CA_R_BAD_KEY_TYPE);
	assert_contains(p11ca_error_message(), "dsa:2048");
	assert_rv(p11ca_key_generate(T.tok, "ec:p192", "k-p192", 0, &key), P11CA_R_BAD_KEY_TYPE);
	assert_int_equal(count_objects(), before);
	assert_int_equal(find_by_label("k-8192"), 0);
}

/* ------------------------------------------------------------------ */
/* signatures                                                          */
/* ------------------------------------------------------------------ */

static void test_sign_rsa_pkcs1(void **state)
{
	static const char *const mds[] = { "SHA256", "SHA384", "SHA512" };
	struct p11ca_sig_params sp = { P11CA_SIG_RSA_PKCS1, NULL, 0, NULL };
	size_t i;

	for (i = 0; i < 3; i++) {
		EVP_MD *md = EVP_MD_fetch(NULL, mds[i], NULL);
		sp.md = md;
		sign_and_verify(key_of(K_RSA2048), &ktypes[K_RSA2048], &sp);
		EVP_MD_free(md);
	}
	for (i = K_RSA3072; i <= K_RSA4096; i++) {
		EVP_MD *md = EVP_MD_fetch(NULL, ktypes[i].md, NULL);
		sp.md = md;
		sign_and_verify(key_of(i), &ktypes[i], &sp);
		EVP_MD_free(md);
	}
}

static void test_sign_rsa_pss(void **state)
{
	struct p11ca_sig_params sp = { P11CA_SIG_RSA_PSS, NULL, -1, NULL };
	EVP_MD *sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
	EVP_MD *sha384 = EVP_MD_fetch(NULL, "SHA384", NULL);

	assert_true(p11ca_token_has_mechanism(T.tok, CKM_RSA_PKCS_PSS));
	sp.md = sha256;
	sign_and_verify(key_of(K_RSA2048), &ktypes[K_RSA2048], &sp);
	sp.pss_saltlen = -2;
	sign_and_verify(key_of(K_RSA2048), &ktypes[K_RSA2048], &sp);
	sp.md = sha384;
	sp.pss_saltlen = 20;
	sign_and_verify(key_of(K_RSA3072), &ktypes[K_RSA3072], &sp);

	/* encoded by the library, signed with raw RSA */
	assert_int_equal(setenv("P11CA_EMULATE_PSS", "1", 1), 0);
	sp.md = sha256;
	sp.pss_saltlen = -1;
	sign_and_verify(key_of(K_RSA2048), &ktypes[K_RSA2048], &sp);
	assert_int_equal(unsetenv("P11CA_EMULATE_PSS"), 0);
	EVP_MD_free(sha256);
	EVP_MD_free(sha384);
}

static void test_sign_ecdsa(void **state)
{
	struct p11ca_sig_params sp = { P11CA_SIG_ECDSA, NULL, 0, NULL };
	EVP_MD *sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
	size_t i;

	for (i = K_P256; i <= K_P521; i++) {
		EVP_MD *md = EVP_MD_fetch(NULL, ktypes[i].md, NULL);
		sp.md = md;
		sign_and_verify(key_of(i), &ktypes[i], &sp);
		/* and SHA-256 on every curve */
		sp.md = sha256;
		sign_and_verify(key_of(i), &ktypes[i], &sp);
		EVP_MD_free(md);
	}
	/* P-256 with SHA-512: the digest is cut to the group size, as OpenSSL does */
	sp.md = EVP_sha512();
	sign_and_verify(key_of(K_P256), &ktypes[K_P256], &sp);
	EVP_MD_free(sha256);
}

static void test_sign_ed25519(void **state)
{
	struct p11ca_sig_params sp = { P11CA_SIG_EDDSA, NULL, 0, NULL };
	unsigned char sig[128];
	size_t siglen = sizeof(sig);

	sign_and_verify(key_of(K_ED25519), &ktypes[K_ED25519], &sp);
	assert_int_equal(p11ca_key_max_signature_size(key_of(K_ED25519)), 64);
	/* an empty message is a message too */
	assert_rv(p11ca_key_sign_message(key_of(K_ED25519), &sp, (const unsigned char *)"", 0, sig,
	                                 &siglen),
	          CKR_OK);
	assert_int_equal(siglen, 64);
}

static void test_sign_mismatch(void **state)
{
	struct p11ca_sig_params sp = { P11CA_SIG_ECDSA, EVP_sha256(), 0, NULL };
	unsigned char dgst[32] = { 0 }, sig[1024];
	size_t siglen = sizeof(sig);

	assert_rv(p11ca_key_sign_digest(key_of(K_RSA2048), &sp, dgst, 32, sig, &siglen),
	          P11CA_R_UNSUPPORTED);
	sp.alg = P11CA_SIG_RSA_PKCS1;
	siglen = sizeof(sig);
	assert_rv(p11ca_key_sign_digest(key_of(K_P256), &sp, dgst, 32, sig, &siglen),
	          P11CA_R_UNSUPPORTED);
	/* a buffer too small for the signature */
	siglen = 100;
	assert_rv(p11ca_key_sign_digest(key_of(K_RSA2048), &sp, dgst, 32, sig, &siglen),
	          CKR_BUFFER_TOO_SMALL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_generate_attributes), cmocka_unit_test(test_key_id_is_ski),
		cmocka_unit_test(test_decrypt_flag),        cmocka_unit_test(test_label_exists),
		cmocka_unit_test(test_refused_types),       cmocka_unit_test(test_derive_flag),
		cmocka_unit_test(test_gen_leftovers),       cmocka_unit_test(test_sign_rsa_pkcs1),
		cmocka_unit_test(test_sign_rsa_pss),        cmocka_unit_test(test_sign_ecdsa),
		cmocka_unit_test(test_sign_ed25519),        cmocka_unit_test(test_sign_mismatch),
	};

	return SOFTHSM_RUN("test-softhsm-keys", tests);
}

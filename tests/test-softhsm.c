/*
 * test-softhsm.c - libp11ca against a real SoftHSM2 token.
 *
 * Makes two throwaway tokens (softhsm-conf/mktoken, then p11ca_token_init on
 * the free slot), generates every key type and checks what landed on the
 * token by reading attributes raw, verifies every signature with OpenSSL, and
 * covers lookup, certificates, deletion, threads, fork and the PIN rules.
 * Exits 77 (skip) when SoftHSM2 is not installed.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "internal.h"

#ifndef TOP_SRCDIR
#define TOP_SRCDIR "."
#endif

#define LABEL_A "p11ca-it-a"
#define LABEL_B "p11ca-it-b"
#define PIN_B "it-b-user-pin"
#define SO_PIN_B "it-b-so-pin"

/* The key types p11ca generates, and what they must look like. */
static const struct ktype {
	const char *type;
	const char *label;
	enum p11ca_key_kind kind;
	int bits;
	const char *group; /* OpenSSL group of an EC key */
	CK_KEY_TYPE ckk;
	const char *md;    /* digest for its signatures */
} ktypes[] = {
	{ "rsa:2048", "k-rsa2048", P11CA_KEY_RSA, 2048, NULL, CKK_RSA, "SHA256" },
	{ "rsa:3072", "k-rsa3072", P11CA_KEY_RSA, 3072, NULL, CKK_RSA, "SHA384" },
	{ "rsa:4096", "k-rsa4096", P11CA_KEY_RSA, 4096, NULL, CKK_RSA, "SHA512" },
	{ "ec:p256", "k-p256", P11CA_KEY_EC, 256, "prime256v1", CKK_EC, "SHA256" },
	{ "ec:p384", "k-p384", P11CA_KEY_EC, 384, "secp384r1", CKK_EC, "SHA384" },
	{ "ec:p521", "k-p521", P11CA_KEY_EC, 521, "secp521r1", CKK_EC, "SHA512" },
	{ "ed25519", "k-ed25519", P11CA_KEY_ED25519, 256, NULL, CKK_EC_EDWARDS, NULL },
};
#define NKTYPES (sizeof(ktypes) / sizeof(ktypes[0]))
enum { K_RSA2048, K_RSA3072, K_RSA4096, K_P256, K_P384, K_P521, K_ED25519 };

static struct {
	char dir[1024];      /* the tokens' directory (removed at the end) */
	char conf[1100];
	char pin_file[1100];
	char pin_file_b[1100];
	char wrong_pin_file[1100];
	const char *module;  /* SoftHSM2 module path, or "softhsm2" */
	p11ca_ctx *ctx;      /* the main context, logged in to token A */
	p11ca_token *tok;    /* token A */
	CK_FUNCTION_LIST *fl;
	CK_SESSION_HANDLE raw; /* our own session on token A for raw reads */
	p11ca_key *keys[NKTYPES];
	EVP_PKEY *issuer;    /* signs the test certificates */
} T;

/* ------------------------------------------------------------------ */
/* helpers                                                             */
/* ------------------------------------------------------------------ */

#define assert_rv(expr, want)                                                                   \
	do {                                                                                    \
		CK_RV r_ = (expr);                                                              \
		if (r_ != (CK_RV)(want))                                                        \
			print_error("%s = %s, want %s (message: %s)\n", #expr, p11ca_rv_name(r_), \
			            p11ca_rv_name(want), p11ca_error_message());                \
		assert_true(r_ == (CK_RV)(want));                                               \
	} while (0)

#define assert_contains(hay, needle)                                                            \
	do {                                                                                    \
		const char *h_ = (hay);                                                         \
		if (h_ == NULL || strstr(h_, (needle)) == NULL)                                  \
			print_error("'%s' does not contain '%s'\n", h_ ? h_ : "(null)", (needle)); \
		assert_true(h_ != NULL && strstr(h_, (needle)) != NULL);                        \
	} while (0)

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void remove_tree(const char *dir)
{
	if (dir[0] != '\0')
		(void)nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static int write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	int ok;

	if (f == NULL)
		return -1;
	ok = fputs(text, f) >= 0;
	return (fclose(f) == 0 && ok) ? 0 : -1;
}

/* Copies the value of a shell assignment line NAME='value' into @out. */
static int take_value(const char *line, const char *name, char *out, size_t cap)
{
	size_t n = strlen(name), len;
	const char *v;

	if (strncmp(line, name, n) != 0 || line[n] != '=' || line[n + 1] != '\'')
		return 0;
	v = line + n + 2;
	len = strcspn(v, "'");
	if (len >= cap)
		return 0;
	memcpy(out, v, len);
	out[len] = '\0';
	return 1;
}

/* Runs mktoken; returns 0, 77 (SoftHSM2 missing) or -1. */
static int make_token(void)
{
	const char *srcdir = getenv("top_srcdir");
	char cmd[2048], line[2048], uri[256] = "";
	FILE *p;
	int st;

	if (srcdir == NULL || srcdir[0] == '\0')
		srcdir = TOP_SRCDIR;
	snprintf(cmd, sizeof(cmd), "'%s/softhsm-conf/mktoken' --label %s", srcdir, LABEL_A);
	if ((p = popen(cmd, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), p) != NULL) {
		const char *l = strncmp(line, "export ", 7) == 0 ? line + 7 : line;
		(void)(take_value(l, "SOFTHSM2_CONF", T.conf, sizeof(T.conf)) ||
		       take_value(l, "P11CA_TOKEN_DIR", T.dir, sizeof(T.dir)) ||
		       take_value(l, "P11CA_TOKEN_URI", uri, sizeof(uri)) ||
		       take_value(l, "P11CA_PIN_FILE", T.pin_file, sizeof(T.pin_file)));
	}
	st = pclose(p);
	if (WIFEXITED(st) && WEXITSTATUS(st) == 77)
		return 77;
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0 || T.conf[0] == '\0' || T.dir[0] == '\0' ||
	    T.pin_file[0] == '\0' || strcmp(uri, "pkcs11:token=" LABEL_A) != 0)
		return -1;
	return setenv("SOFTHSM2_CONF", T.conf, 1) == 0 ? 0 : -1;
}

static int count_objects(void)
{
	CK_OBJECT_HANDLE hs[256];
	CK_ULONG n = 0;

	if (T.fl->C_FindObjectsInit(T.raw, NULL, 0) != CKR_OK)
		return -1;
	if (T.fl->C_FindObjects(T.raw, hs, 256, &n) != CKR_OK)
		n = (CK_ULONG)-1;
	(void)T.fl->C_FindObjectsFinal(T.raw);
	return (int)n;
}

/* Handles of the objects matching @tmpl on the raw session. */
static CK_ULONG raw_find(CK_ATTRIBUTE *tmpl, CK_ULONG n, CK_OBJECT_HANDLE *hs, CK_ULONG max)
{
	CK_ULONG got = 0;

	if (T.fl->C_FindObjectsInit(T.raw, tmpl, n) != CKR_OK)
		return 0;
	if (T.fl->C_FindObjects(T.raw, hs, max, &got) != CKR_OK)
		got = 0;
	(void)T.fl->C_FindObjectsFinal(T.raw);
	return got;
}

static CK_ULONG find_by_id(CK_OBJECT_CLASS klass, const unsigned char *id, size_t idlen,
                           CK_OBJECT_HANDLE *hs, CK_ULONG max)
{
	CK_ATTRIBUTE tmpl[2] = {
		{ CKA_CLASS, &klass, sizeof(klass) },
		{ CKA_ID, (void *)id, idlen },
	};

	return raw_find(tmpl, 2, hs, max);
}

static CK_ULONG find_by_label(const char *label)
{
	CK_ATTRIBUTE tmpl[1] = { { CKA_LABEL, (void *)label, strlen(label) } };
	CK_OBJECT_HANDLE hs[16];

	return raw_find(tmpl, 1, hs, 16);
}

/* One attribute read raw; *pval freed with free(). */
static CK_RV raw_attr(CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE type, unsigned char **pval,
                      CK_ULONG *plen)
{
	CK_ATTRIBUTE a = { type, NULL, 0 };
	CK_RV rv;

	*pval = NULL;
	*plen = 0;
	if ((rv = T.fl->C_GetAttributeValue(T.raw, h, &a, 1)) != CKR_OK)
		return rv;
	if ((a.pValue = malloc(a.ulValueLen + 1)) == NULL)
		return CKR_HOST_MEMORY;
	if ((rv = T.fl->C_GetAttributeValue(T.raw, h, &a, 1)) != CKR_OK) {
		free(a.pValue);
		return rv;
	}
	*pval = a.pValue;
	*plen = a.ulValueLen;
	return CKR_OK;
}

static int raw_bool(CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE type)
{
	CK_BBOOL v = CK_FALSE;
	CK_ATTRIBUTE a = { type, &v, sizeof(v) };

	if (T.fl->C_GetAttributeValue(T.raw, h, &a, 1) != CKR_OK || a.ulValueLen != sizeof(v))
		return -1;
	return v ? 1 : 0;
}

/* The public key built by the test itself from a public-key object. */
static EVP_PKEY *raw_public(CK_OBJECT_HANDLE h, const struct ktype *kt)
{
	unsigned char *a = NULL, *b = NULL;
	CK_ULONG alen = 0, blen = 0;
	ASN1_OCTET_STRING *os = NULL;
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *pctx = NULL;
	BIGNUM *n = NULL, *e = NULL;
	EVP_PKEY *pk = NULL;
	const unsigned char *p;

	if (kt->ckk == CKK_RSA) {
		if (raw_attr(h, CKA_MODULUS, &a, &alen) != CKR_OK ||
		    raw_attr(h, CKA_PUBLIC_EXPONENT, &b, &blen) != CKR_OK)
			goto out;
		n = BN_bin2bn(a, (int)alen, NULL);
		e = BN_bin2bn(b, (int)blen, NULL);
		if ((bld = OSSL_PARAM_BLD_new()) == NULL || n == NULL || e == NULL ||
		    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) ||
		    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e))
			goto out;
	} else {
		/* CKA_EC_POINT: a DER OCTET STRING holding the point */
		if (raw_attr(h, CKA_EC_POINT, &b, &blen) != CKR_OK)
			goto out;
		p = b;
		if ((os = d2i_ASN1_OCTET_STRING(NULL, &p, (long)blen)) == NULL || p != b + blen)
			goto out;
		if (kt->ckk == CKK_EC_EDWARDS) {
			pk = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL,
			                                 ASN1_STRING_get0_data(os),
			                                 (size_t)ASN1_STRING_length(os));
			goto out;
		}
		if ((bld = OSSL_PARAM_BLD_new()) == NULL ||
		    !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, kt->group, 0) ||
		    !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY,
		                                      ASN1_STRING_get0_data(os),
		                                      (size_t)ASN1_STRING_length(os)))
			goto out;
	}
	if ((params = OSSL_PARAM_BLD_to_param(bld)) == NULL ||
	    (pctx = EVP_PKEY_CTX_new_from_name(NULL, kt->ckk == CKK_RSA ? "RSA" : "EC", NULL)) == NULL ||
	    EVP_PKEY_fromdata_init(pctx) != 1 ||
	    EVP_PKEY_fromdata(pctx, &pk, EVP_PKEY_PUBLIC_KEY, params) != 1)
		pk = NULL;
out:
	EVP_PKEY_CTX_free(pctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	ASN1_OCTET_STRING_free(os);
	BN_free(n);
	BN_free(e);
	free(a);
	free(b);
	return pk;
}

/* A certificate for @pub with subjectKeyIdentifier "hash", signed by T.issuer. */
static X509 *make_cert(EVP_PKEY *pub, const char *cn)
{
	X509 *x = X509_new();
	X509_EXTENSION *ext = NULL;
	X509V3_CTX v3;
	int ok;

	if (T.issuer == NULL)
		T.issuer = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	ok = x != NULL && T.issuer != NULL && X509_set_version(x, X509_VERSION_3) == 1 &&
	     ASN1_INTEGER_set(X509_get_serialNumber(x), 0x1234) == 1 &&
	     X509_gmtime_adj(X509_getm_notBefore(x), 0) != NULL &&
	     X509_gmtime_adj(X509_getm_notAfter(x), 3600) != NULL &&
	     X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
	                                (const unsigned char *)cn, -1, -1, 0) == 1 &&
	     X509_NAME_add_entry_by_txt(X509_get_issuer_name(x), "CN", MBSTRING_ASC,
	                                (const unsigned char *)"p11ca test issuer", -1, -1, 0) == 1 &&
	     X509_set_pubkey(x, pub) == 1;
	if (ok) {
		X509V3_set_ctx(&v3, NULL, x, NULL, NULL, 0);
		ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_key_identifier, "hash");
		ok = ext != NULL && X509_add_ext(x, ext, -1) == 1 &&
		     X509_sign(x, T.issuer, EVP_sha256()) > 0;
	}
	X509_EXTENSION_free(ext);
	if (!ok) {
		X509_free(x);
		return NULL;
	}
	return x;
}

/* The key of type @i on token A, generated on first use. */
static p11ca_key *key_of(size_t i)
{
	CK_RV rv;

	if (T.keys[i] == NULL) {
		rv = p11ca_key_generate(T.tok, ktypes[i].type, ktypes[i].label, 0, &T.keys[i]);
		if (rv != CKR_OK)
			print_error("generating %s: %s: %s\n", ktypes[i].type, p11ca_rv_name(rv),
			            p11ca_error_message());
	}
	assert_non_null(T.keys[i]);
	return T.keys[i];
}

/* Builds a key URI on token A: "pkcs11:token=A;" + @rest. */
static const char *uri_a(char *buf, size_t cap, const char *rest)
{
	snprintf(buf, cap, "pkcs11:token=" LABEL_A "%s%s", rest[0] ? ";" : "", rest);
	return buf;
}

/* Verifies @sig over @data: a digest, or for Ed25519 the message. */
static int verify(EVP_PKEY *pub, const struct p11ca_sig_params *sp, const unsigned char *data,
                  size_t datalen, const unsigned char *sig, size_t siglen)
{
	EVP_PKEY_CTX *pc = NULL;
	EVP_MD_CTX *mc = NULL;
	int ok = 0;

	if (sp->alg == P11CA_SIG_EDDSA) {
		ok = (mc = EVP_MD_CTX_new()) != NULL &&
		     EVP_DigestVerifyInit_ex(mc, NULL, NULL, NULL, NULL, pub, NULL) == 1 &&
		     EVP_DigestVerify(mc, sig, siglen, data, datalen) == 1;
		EVP_MD_CTX_free(mc);
		return ok;
	}
	ok = (pc = EVP_PKEY_CTX_new(pub, NULL)) != NULL && EVP_PKEY_verify_init(pc) == 1 &&
	     EVP_PKEY_CTX_set_signature_md(pc, sp->md) == 1;
	if (ok && sp->alg == P11CA_SIG_RSA_PKCS1)
		ok = EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PADDING) == 1;
	if (ok && sp->alg == P11CA_SIG_RSA_PSS)
		ok = EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PSS_PADDING) == 1 &&
		     EVP_PKEY_CTX_set_rsa_mgf1_md(pc, sp->mgf1_md ? sp->mgf1_md : sp->md) == 1 &&
		     EVP_PKEY_CTX_set_rsa_pss_saltlen(pc, sp->pss_saltlen == -1   ? RSA_PSS_SALTLEN_DIGEST
		                                          : sp->pss_saltlen == -2 ? RSA_PSS_SALTLEN_MAX
		                                                                  : sp->pss_saltlen) == 1;
	ok = ok && EVP_PKEY_verify(pc, sig, siglen, data, datalen) == 1;
	EVP_PKEY_CTX_free(pc);
	return ok;
}

/*
 * Signs @msg with @key through p11ca_key_sign_digest and
 * p11ca_key_sign_message, and verifies both signatures (and that a changed
 * message does not verify) with the public key read raw from the token.
 */
static void sign_and_verify(p11ca_key *key, const struct ktype *kt,
                            const struct p11ca_sig_params *sp)
{
	static const unsigned char msg[] = "p11ca integration test message";
	unsigned char dgst[EVP_MAX_MD_SIZE], other[EVP_MAX_MD_SIZE], sig[1024];
	unsigned int dlen = 0;
	size_t siglen, idlen;
	const unsigned char *id = p11ca_key_get_id(key, &idlen);
	CK_OBJECT_HANDLE h;
	EVP_PKEY *pub;

	assert_int_equal(find_by_id(CKO_PUBLIC_KEY, id, idlen, &h, 1), 1);
	assert_non_null(pub = raw_public(h, kt));

	/* a digest (the whole message for EdDSA) */
	if (sp->alg == P11CA_SIG_EDDSA) {
		memcpy(dgst, msg, sizeof(msg));
		dlen = sizeof(msg);
	} else {
		assert_int_equal(EVP_Digest(msg, sizeof(msg), dgst, &dlen, sp->md, NULL), 1);
	}
	siglen = sizeof(sig);
	assert_rv(p11ca_key_sign_digest(key, sp, dgst, dlen, sig, &siglen), CKR_OK);
	assert_true(siglen > 0 && siglen <= p11ca_key_max_signature_size(key));
	assert_true(verify(pub, sp, dgst, dlen, sig, siglen));
	memcpy(other, dgst, dlen);
	other[0] ^= 1;
	assert_false(verify(pub, sp, other, dlen, sig, siglen));

	/* the message, hashed by the token or the library */
	siglen = sizeof(sig);
	assert_rv(p11ca_key_sign_message(key, sp, msg, sizeof(msg), sig, &siglen), CKR_OK);
	assert_true(verify(pub, sp, dgst, dlen, sig, siglen));
	EVP_PKEY_free(pub);
}

/* Whether someone is logged in as the user to the token in @slot. */
static int logged_in(CK_SLOT_ID slot)
{
	CK_SESSION_HANDLE s;
	CK_SESSION_INFO si;
	int yes = -1;

	if (T.fl->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &s) != CKR_OK)
		return -1;
	if (T.fl->C_GetSessionInfo(s, &si) == CKR_OK)
		yes = si.state == CKS_RO_USER_FUNCTIONS || si.state == CKS_RW_USER_FUNCTIONS;
	(void)T.fl->C_CloseSession(s);
	return yes;
}

/* A new context on the module without any PIN source of its own. */
static p11ca_ctx *new_ctx(void)
{
	p11ca_ctx *ctx = NULL;

	assert_rv(p11ca_ctx_new(T.module, &ctx), CKR_OK);
	p11ca_ctx_set_pin_prompt(ctx, 0);
	return ctx;
}

static CK_SLOT_ID slot_b(void)
{
	p11ca_token *t = NULL;

	assert_rv(p11ca_token_find(T.ctx, "pkcs11:token=" LABEL_B, &t), CKR_OK);
	return p11ca_token_get_info(t)->slot_id;
}

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
		CK_ATTRIBUTE secret = { kt->ckk == CKK_RSA ? CKA_PRIVATE_EXPONENT : CKA_VALUE, NULL, 0 };

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
		if (kt->ckk != CKK_RSA)
			assert_int_equal(raw_bool(key->handle, CKA_DERIVE), 0);
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

	assert_rv(p11ca_key_generate(T.tok, "rsa:2048", "k-decrypt", P11CA_GEN_DECRYPT, &key), CKR_OK);
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
	assert_rv(p11ca_key_decrypt(key, P11CA_DEC_PKCS1, NULL, NULL, NULL, 0, ct, ctlen, pt, &ptlen),
	          CKR_OK);
	assert_int_equal(ptlen, sizeof(secret));
	assert_memory_equal(pt, secret, sizeof(secret));

	/* a buffer too small is refused, and leaves no session with an
	 * operation still active behind: the next operations work */
	ptlen = 8;
	assert_rv(p11ca_key_decrypt(key, P11CA_DEC_PKCS1, NULL, NULL, NULL, 0, ct, ctlen, pt, &ptlen),
	          CKR_BUFFER_TOO_SMALL);
	ptlen = sizeof(pt);
	assert_rv(p11ca_key_decrypt(key, P11CA_DEC_PKCS1, NULL, NULL, NULL, 0, ct, ctlen, pt, &ptlen),
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
	assert_true(p11ca_key_decrypt(key, P11CA_DEC_OAEP, EVP_sha384(), NULL, NULL, 0, ct, ctlen, pt,
	                              &ptlen) != CKR_OK);

	/* without the flag a key refuses to decrypt */
	ptlen = sizeof(pt);
	assert_rv(p11ca_key_decrypt(key_of(K_RSA2048), P11CA_DEC_PKCS1, NULL, NULL, NULL, 0, ct, ctlen,
	                            pt, &ptlen),
	          CKR_KEY_FUNCTION_NOT_PERMITTED);
	assert_contains(p11ca_error_message(), "not allowed to decrypt");

	/* an EC key never decrypts, whatever the flag says */
	assert_rv(p11ca_key_generate(T.tok, "ec:p256", "k-ec-decrypt", P11CA_GEN_DECRYPT, &ec), CKR_OK);
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
	assert_rv(p11ca_key_find(T.ctx, uri_a(uri, sizeof(uri), "object=k-p384;type=private"), &key),
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
	assert_rv(p11ca_key_find(T.ctx, uri_a(uri, sizeof(uri), "object=k-p384;frobnicate=1"), &key),
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
	static const unsigned char p256[] = { 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07 };
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
		assert_rv(T.fl->C_GenerateKeyPair(T.raw, &mech, pub, 5, priv, 6, &hpub, &hpriv), CKR_OK);
	}
	assert_rv(p11ca_key_find(T.ctx, uri_a(uri, sizeof(uri), "object=twin"), &key),
	          P11CA_R_AMBIGUOUS);
	assert_null(key);
	assert_contains(p11ca_error_message(), "2 private keys");
	assert_contains(p11ca_error_message(), "'twin' id=01");
	assert_contains(p11ca_error_message(), "'twin' id=02");

	/* id= settles it */
	assert_rv(p11ca_key_find(T.ctx, uri_a(uri, sizeof(uri), "object=twin;id=%02"), &key), CKR_OK);
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
	assert_rv(p11ca_token_find(T.ctx, "pkcs11:model=SoftHSM%20v2;manufacturer=SoftHSM%20project",
	                           &t),
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
	if (pki_rv == CKR_OK && pki.ulValueLen > 0 && pki.ulValueLen != CK_UNAVAILABLE_INFORMATION) {
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
	assert_rv(p11ca_object_delete(T.ctx, uri_a(uri, sizeof(uri), "object=k-nopub"), &ndel), CKR_OK);
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
			if (objs[i].klass != CKO_PRIVATE_KEY || strcmp(objs[i].label, "k-delete-me") != 0)
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
	assert_rv(p11ca_object_delete(T.ctx, uri_a(uri, sizeof(uri), "object=k-delete-me;type=public"),
	                              &ndel),
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

/* ------------------------------------------------------------------ */
/* threads and fork                                                    */
/* ------------------------------------------------------------------ */

#define NTHREADS 4
#define NSIGS 250

struct thread_job {
	p11ca_key *key;
	int index;
	CK_RV first_error;
	int errors;
	unsigned char sig[NSIGS][80];
	size_t siglen[NSIGS];
};

static void job_digest(int thread, int i, unsigned char dgst[32])
{
	char msg[64];
	int len = snprintf(msg, sizeof(msg), "thread %d signature %d", thread, i);

	(void)EVP_Digest(msg, (size_t)len, dgst, NULL, EVP_sha256(), NULL);
}

static void *sign_thread(void *arg)
{
	struct thread_job *job = arg;
	struct p11ca_sig_params sp = { P11CA_SIG_ECDSA, EVP_sha256(), 0, NULL };
	unsigned char dgst[32];
	int i;

	for (i = 0; i < NSIGS; i++) {
		CK_RV rv;
		job->siglen[i] = sizeof(job->sig[i]);
		job_digest(job->index, i, dgst);
		rv = p11ca_key_sign_digest(job->key, &sp, dgst, 32, job->sig[i], &job->siglen[i]);
		if (rv != CKR_OK) {
			if (job->errors++ == 0)
				job->first_error = rv;
			job->siglen[i] = 0;
		}
	}
	return NULL;
}

static void test_threads(void **state)
{
	static struct thread_job jobs[NTHREADS];
	struct p11ca_sig_params sp = { P11CA_SIG_ECDSA, EVP_sha256(), 0, NULL };
	p11ca_key *key = key_of(K_P256);
	pthread_t th[NTHREADS];
	EVP_PKEY *pub = NULL;
	unsigned char dgst[32];
	int t, i, verified = 0;

	assert_rv(p11ca_key_get_public(key, &pub), CKR_OK);
	for (t = 0; t < NTHREADS; t++) {
		memset(&jobs[t], 0, sizeof(jobs[t]));
		jobs[t].key = p11ca_key_ref(key);
		jobs[t].index = t;
		assert_int_equal(pthread_create(&th[t], NULL, sign_thread, &jobs[t]), 0);
	}
	for (t = 0; t < NTHREADS; t++)
		assert_int_equal(pthread_join(th[t], NULL), 0);
	for (t = 0; t < NTHREADS; t++) {
		if (jobs[t].errors > 0)
			print_error("thread %d: %d errors, first %s\n", t, jobs[t].errors,
			            p11ca_rv_name(jobs[t].first_error));
		assert_int_equal(jobs[t].errors, 0);
		for (i = 0; i < NSIGS; i++) {
			job_digest(t, i, dgst);
			if (verify(pub, &sp, dgst, 32, jobs[t].sig[i], jobs[t].siglen[i]))
				verified++;
		}
		p11ca_key_free(jobs[t].key);
	}
	assert_int_equal(verified, NTHREADS * NSIGS);
	EVP_PKEY_free(pub);
}

static void test_fork(void **state)
{
	struct p11ca_sig_params sp = { P11CA_SIG_RSA_PKCS1, EVP_sha256(), 0, NULL };
	p11ca_key *key = key_of(K_RSA2048);
	p11ca_key *eckey = key_of(K_P256);
	unsigned char dgst[32], sig[512];
	size_t siglen = sizeof(sig);
	EVP_PKEY *pub = NULL;
	pid_t pid;
	int st = 0;

	assert_rv(p11ca_key_get_public(key, &pub), CKR_OK);
	assert_int_equal(RAND_bytes(dgst, 32), 1);
	/* the parent has pooled, logged-in sessions when it forks */
	assert_rv(p11ca_key_sign_digest(key, &sp, dgst, 32, sig, &siglen), CKR_OK);
	assert_true(verify(pub, &sp, dgst, 32, sig, siglen));

	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* no cmocka in here: report through the exit status */
		struct p11ca_sig_params ec = { P11CA_SIG_ECDSA, EVP_sha256(), 0, NULL };
		EVP_PKEY *ecpub = NULL;
		int ok, k;

		for (k = 0, ok = 1; k < 3 && ok; k++) {
			siglen = sizeof(sig);
			dgst[0] = (unsigned char)k;
			ok = p11ca_key_sign_digest(key, &sp, dgst, 32, sig, &siglen) == CKR_OK &&
			     verify(pub, &sp, dgst, 32, sig, siglen);
		}
		if (!ok)
			fprintf(stderr, "child: RSA signing failed: %s\n", p11ca_error_message());
		siglen = sizeof(sig);
		ok = ok && p11ca_key_get_public(eckey, &ecpub) == CKR_OK &&
		     p11ca_key_sign_digest(eckey, &ec, dgst, 32, sig, &siglen) == CKR_OK &&
		     verify(ecpub, &ec, dgst, 32, sig, siglen);
		EVP_PKEY_free(ecpub);
		_exit(ok ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);

	/* the parent goes on with its own sessions */
	siglen = sizeof(sig);
	dgst[0] ^= 0xff;
	assert_rv(p11ca_key_sign_digest(key, &sp, dgst, 32, sig, &siglen), CKR_OK);
	assert_true(verify(pub, &sp, dgst, 32, sig, siglen));
	EVP_PKEY_free(pub);
}

/* ------------------------------------------------------------------ */
/* PINs (on token B, where nobody else is logged in)                   */
/* ------------------------------------------------------------------ */

static CK_C_Login real_login;
static int login_calls;

static CK_RV counting_login(CK_SESSION_HANDLE s, CK_USER_TYPE user, CK_UTF8CHAR_PTR pin,
                            CK_ULONG len)
{
	login_calls++;
	return real_login(s, user, pin, len);
}

static void test_wrong_pin(void **state)
{
	struct p11ca_sig_params sp = { P11CA_SIG_ECDSA, EVP_sha256(), 0, NULL };
	CK_FUNCTION_LIST counting, *saved;
	CK_SLOT_ID slot = slot_b();
	p11ca_ctx *ctx;
	p11ca_token *t = NULL;
	p11ca_key *key = NULL;
	CK_FLAGS flags;

	assert_int_equal(logged_in(slot), 0);
	ctx = new_ctx();
	assert_rv(p11ca_ctx_set_pin_file(ctx, T.wrong_pin_file), CKR_OK);
	assert_rv(p11ca_token_find(ctx, "pkcs11:token=" LABEL_B, &t), CKR_OK);
	saved = t->mod->fl;
	counting = *saved;
	real_login = counting.C_Login;
	counting.C_Login = counting_login;
	t->mod->fl = &counting;
	login_calls = 0;

	assert_rv(p11ca_token_login(t), CKR_PIN_INCORRECT);
	assert_contains(p11ca_error_message(), "wrong PIN");
	assert_contains(p11ca_error_message(), LABEL_B);
	assert_int_equal(login_calls, 1);
	/* not again: not by login, not by an operation needing it */
	assert_rv(p11ca_token_login(t), P11CA_R_PIN_FAILED);
	assert_contains(p11ca_error_message(), "refused before");
	assert_rv(p11ca_key_generate(t, "ec:p256", "k-never", 0, &key), P11CA_R_PIN_FAILED);
	assert_rv(p11ca_key_find(ctx, "pkcs11:token=" LABEL_B ";object=k-never", &key),
	          P11CA_R_PIN_FAILED);
	assert_int_equal(login_calls, 1);
	flags = p11ca_token_get_info(t)->flags;
	assert_false(flags & (CKF_USER_PIN_FINAL_TRY | CKF_USER_PIN_LOCKED));
	t->mod->fl = saved;
	p11ca_ctx_free(ctx);
	assert_int_equal(logged_in(slot), 0);

	/* the right PIN in a new context */
	ctx = new_ctx();
	assert_rv(p11ca_ctx_set_pin_file(ctx, T.pin_file_b), CKR_OK);
	assert_rv(p11ca_token_find(ctx, "pkcs11:token=" LABEL_B, &t), CKR_OK);
	assert_rv(p11ca_token_login(t), CKR_OK);
	assert_int_equal(logged_in(slot), 1);
	assert_rv(p11ca_key_generate(t, "ec:p256", "k-b", 0, &key), CKR_OK);
	{
		unsigned char dgst[32], sig[128];
		size_t siglen = sizeof(sig);
		EVP_PKEY *pub = NULL;
		assert_int_equal(RAND_bytes(dgst, 32), 1);
		assert_rv(p11ca_key_sign_digest(key, &sp, dgst, 32, sig, &siglen), CKR_OK);
		assert_rv(p11ca_key_get_public(key, &pub), CKR_OK);
		assert_true(verify(pub, &sp, dgst, 32, sig, siglen));
		EVP_PKEY_free(pub);
	}
	p11ca_key_free(key);
	p11ca_ctx_free(ctx);
	/* closing the last session logged it out */
	assert_int_equal(logged_in(slot), 0);
}

/* Logs in to token B through @uri in a new context; returns the result. */
static CK_RV login_b(const char *uri, const char *pin_file)
{
	p11ca_ctx *ctx = new_ctx();
	p11ca_token *t = NULL;
	CK_RV rv;

	if (pin_file != NULL)
		assert_rv(p11ca_ctx_set_pin_file(ctx, pin_file), CKR_OK);
	rv = p11ca_token_find(ctx, uri, &t);
	if (rv == CKR_OK)
		rv = p11ca_token_login(t);
	if (rv == CKR_OK && logged_in(slot_b()) != 1)
		rv = CKR_GENERAL_ERROR;
	p11ca_ctx_free(ctx);
	return rv;
}

static void test_pin_sources(void **state)
{
	char uri[2048];
	CK_SLOT_ID slot = slot_b();

	assert_int_equal(unsetenv("P11CA_PIN"), 0);
	assert_int_equal(logged_in(slot), 0);

	/* none at all (and no prompt) */
	assert_rv(login_b("pkcs11:token=" LABEL_B, NULL), P11CA_R_NO_PIN);
	assert_contains(p11ca_error_message(), "needs a PIN");
	assert_contains(p11ca_error_message(), "pin-source=");

	/* pin-source=file: in the URI */
	snprintf(uri, sizeof(uri), "pkcs11:token=" LABEL_B "?pin-source=file:%s", T.pin_file_b);
	assert_rv(login_b(uri, NULL), CKR_OK);
	assert_int_equal(logged_in(slot), 0);
	/* ... before --pin-file */
	assert_rv(login_b(uri, T.wrong_pin_file), CKR_OK);
	snprintf(uri, sizeof(uri), "pkcs11:token=" LABEL_B "?pin-source=%s", T.pin_file_b);
	assert_rv(login_b(uri, NULL), CKR_OK);
	snprintf(uri, sizeof(uri), "pkcs11:token=" LABEL_B "?pin-source=file:%s.missing",
	         T.pin_file_b);
	assert_rv(login_b(uri, NULL), P11CA_R_NO_PIN);
	assert_contains(p11ca_error_message(), ".missing");
	assert_rv(login_b("pkcs11:token=" LABEL_B "?pin-value=" PIN_B, NULL), CKR_OK);

	/* a key found through a URI carrying its PIN source */
	{
		p11ca_ctx *ctx = new_ctx();
		p11ca_key *key = NULL;
		snprintf(uri, sizeof(uri), "pkcs11:token=" LABEL_B ";object=k-b?pin-source=file:%s",
		         T.pin_file_b);
		assert_rv(p11ca_key_find(ctx, uri, &key), CKR_OK);
		assert_string_equal(p11ca_key_get_label(key), "k-b");
		p11ca_key_free(key);
		p11ca_ctx_free(ctx);
	}

	/* P11CA_PIN, after --pin-file */
	assert_int_equal(setenv("P11CA_PIN", PIN_B, 1), 0);
	assert_rv(login_b("pkcs11:token=" LABEL_B, NULL), CKR_OK);
	assert_rv(login_b("pkcs11:token=" LABEL_B, T.wrong_pin_file), CKR_PIN_INCORRECT);
	assert_int_equal(setenv("P11CA_PIN", "not-" PIN_B, 1), 0);
	assert_rv(login_b("pkcs11:token=" LABEL_B, NULL), CKR_PIN_INCORRECT);
	assert_rv(login_b("pkcs11:token=" LABEL_B, T.pin_file_b), CKR_OK);
	assert_int_equal(unsetenv("P11CA_PIN"), 0);
	assert_int_equal(logged_in(slot), 0);
}

/* The module by its p11-kit registry name. */
static void test_registry_name(void **state)
{
	struct p11ca_sig_params sp = { P11CA_SIG_EDDSA, NULL, 0, NULL };
	p11ca_ctx *ctx = NULL;
	p11ca_key *key = NULL;
	EVP_PKEY *pub = NULL;
	unsigned char sig[64];
	size_t siglen = sizeof(sig);
	CK_RV rv;

	(void)key_of(K_ED25519);
	rv = p11ca_ctx_new("softhsm2", &ctx);
	if (rv == P11CA_R_MODULE) {
		print_message("softhsm2 is not in the p11-kit registry: %s\n", p11ca_error_message());
		skip();
	}
	assert_rv(rv, CKR_OK);
	p11ca_ctx_set_pin_prompt(ctx, 0);
	assert_rv(p11ca_ctx_set_pin_file(ctx, T.pin_file), CKR_OK);
	assert_rv(p11ca_key_find(ctx, "pkcs11:token=" LABEL_A ";object=k-ed25519;type=private", &key),
	          CKR_OK);
	assert_string_equal(p11ca_token_get_info(p11ca_key_get_token(key))->module_name, "softhsm2");
	assert_rv(p11ca_key_sign_message(key, &sp, (const unsigned char *)"registry", 8, sig, &siglen),
	          CKR_OK);
	assert_rv(p11ca_key_get_public(key, &pub), CKR_OK);
	assert_true(verify(pub, &sp, (const unsigned char *)"registry", 8, sig, siglen));
	EVP_PKEY_free(pub);
	p11ca_key_free(key);
	p11ca_ctx_free(ctx);
}

/* ------------------------------------------------------------------ */

static int setup(void **state)
{
	CK_SLOT_ID free_slot = (CK_SLOT_ID)-1;
	size_t i, n;
	CK_RV rv;

	if ((rv = p11ca_ctx_new(T.module, &T.ctx)) != CKR_OK) {
		print_error("p11ca_ctx_new(%s): %s\n", T.module, p11ca_error_message());
		return -1;
	}
	p11ca_ctx_set_pin_prompt(T.ctx, 0);
	if (p11ca_ctx_set_pin_file(T.ctx, T.pin_file) != CKR_OK)
		return -1;

	/* token B on the free slot, through the library */
	n = p11ca_token_count(T.ctx);
	for (i = 0; i < n; i++) {
		const struct p11ca_token_info *ti = p11ca_token_get_info(p11ca_token_at(T.ctx, i));
		if (!(ti->flags & CKF_TOKEN_INITIALIZED))
			free_slot = ti->slot_id;
	}
	if (free_slot == (CK_SLOT_ID)-1) {
		print_error("SoftHSM2 offers no free slot\n");
		return -1;
	}
	rv = p11ca_token_init(T.ctx, free_slot, SO_PIN_B, LABEL_B, PIN_B);
	if (rv != CKR_OK) {
		print_error("p11ca_token_init: %s\n", p11ca_error_message());
		return -1;
	}
	snprintf(T.pin_file_b, sizeof(T.pin_file_b), "%s/pin-b", T.dir);
	snprintf(T.wrong_pin_file, sizeof(T.wrong_pin_file), "%s/pin-wrong", T.dir);
	if (write_file(T.pin_file_b, PIN_B "\n") != 0 ||
	    write_file(T.wrong_pin_file, "not-the-pin\n") != 0)
		return -1;

	if ((rv = p11ca_token_find(T.ctx, "pkcs11:token=" LABEL_A, &T.tok)) != CKR_OK ||
	    (rv = p11ca_token_login(T.tok)) != CKR_OK) {
		print_error("token " LABEL_A ": %s\n", p11ca_error_message());
		return -1;
	}
	T.fl = T.tok->mod->fl;
	if (T.fl->C_OpenSession(p11ca_token_get_info(T.tok)->slot_id,
	                        CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &T.raw) != CKR_OK)
		return -1;
	(void)state;
	return 0;
}

static int teardown(void **state)
{
	size_t i;

	for (i = 0; i < NKTYPES; i++)
		p11ca_key_free(T.keys[i]);
	if (T.fl != NULL)
		(void)T.fl->C_CloseSession(T.raw);
	p11ca_ctx_free(T.ctx);
	EVP_PKEY_free(T.issuer);
	(void)state;
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_generate_attributes),
		cmocka_unit_test(test_key_id_is_ski),
		cmocka_unit_test(test_decrypt_flag),
		cmocka_unit_test(test_label_exists),
		cmocka_unit_test(test_refused_types),
		cmocka_unit_test(test_sign_rsa_pkcs1),
		cmocka_unit_test(test_sign_rsa_pss),
		cmocka_unit_test(test_sign_ecdsa),
		cmocka_unit_test(test_sign_ed25519),
		cmocka_unit_test(test_sign_mismatch),
		cmocka_unit_test(test_find),
		cmocka_unit_test(test_find_ambiguous),
		cmocka_unit_test(test_two_tokens_ambiguous),
		cmocka_unit_test(test_public_without_object),
		cmocka_unit_test(test_public_of_another_key),
		cmocka_unit_test(test_object_delete),
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_fork),
		cmocka_unit_test(test_wrong_pin),
		cmocka_unit_test(test_pin_sources),
		cmocka_unit_test(test_registry_name),
	};
	const char *mod = getenv("SOFTHSM_MODULE");
	int r;

	if (mod != NULL && mod[0] != '\0') {
		if (access(mod, R_OK) != 0) {
			fprintf(stderr, "SoftHSM2 module %s not found: skipping\n", mod);
			return 77;
		}
		T.module = mod;
	} else {
		T.module = "softhsm2";
	}
	r = make_token();
	if (r == 77) {
		fprintf(stderr, "SoftHSM2 is not installed: skipping\n");
		return 77;
	}
	if (r != 0) {
		fprintf(stderr, "cannot make a SoftHSM2 token\n");
		remove_tree(T.dir);
		return 1;
	}
	unsetenv("P11CA_PIN");
	unsetenv("P11CA_EMULATE_PSS");
	r = cmocka_run_group_tests(tests, setup, teardown);
	remove_tree(T.dir);
	return r;
}

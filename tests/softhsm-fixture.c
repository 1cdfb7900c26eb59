/*
 * softhsm-fixture.c - the tokens, raw reads and checks shared by the
 * tests/test-softhsm-*.c binaries (see softhsm-fixture.h).
 */
#include "config.h"

#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>

#include "softhsm-fixture.h"
#include "unit-helpers.h"

#ifndef TOP_SRCDIR
#define TOP_SRCDIR "."
#endif

const struct ktype ktypes[NKTYPES] = {
	{ "rsa:2048", "k-rsa2048", P11CA_KEY_RSA, 2048, NULL, CKK_RSA, "SHA256" },
	{ "rsa:3072", "k-rsa3072", P11CA_KEY_RSA, 3072, NULL, CKK_RSA, "SHA384" },
	{ "rsa:4096", "k-rsa4096", P11CA_KEY_RSA, 4096, NULL, CKK_RSA, "SHA512" },
	{ "ec:p256", "k-p256", P11CA_KEY_EC, 256, "prime256v1", CKK_EC, "SHA256" },
	{ "ec:p384", "k-p384", P11CA_KEY_EC, 384, "secp384r1", CKK_EC, "SHA384" },
	{ "ec:p521", "k-p521", P11CA_KEY_EC, 521, "secp521r1", CKK_EC, "SHA512" },
	{ "ed25519", "k-ed25519", P11CA_KEY_ED25519, 256, NULL, CKK_EC_EDWARDS, NULL },
};

struct softhsm_fixture T;

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

int count_objects(void)
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
CK_ULONG raw_find(CK_ATTRIBUTE *tmpl, CK_ULONG n, CK_OBJECT_HANDLE *hs, CK_ULONG max)
{
	CK_ULONG got = 0;

	if (T.fl->C_FindObjectsInit(T.raw, tmpl, n) != CKR_OK)
		return 0;
	if (T.fl->C_FindObjects(T.raw, hs, max, &got) != CKR_OK)
		got = 0;
	(void)T.fl->C_FindObjectsFinal(T.raw);
	return got;
}

CK_ULONG find_by_id(CK_OBJECT_CLASS klass, const unsigned char *id, size_t idlen,
                    CK_OBJECT_HANDLE *hs, CK_ULONG max)
{
	CK_ATTRIBUTE tmpl[2] = {
		{ CKA_CLASS, &klass, sizeof(klass) },
		{ CKA_ID, (void *)id, idlen },
	};

	return raw_find(tmpl, 2, hs, max);
}

CK_ULONG find_by_label(const char *label)
{
	CK_ATTRIBUTE tmpl[1] = { { CKA_LABEL, (void *)label, strlen(label) } };
	CK_OBJECT_HANDLE hs[16];

	return raw_find(tmpl, 1, hs, 16);
}

/* One attribute read raw; *pval freed with free(). */
CK_RV raw_attr(CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE type, unsigned char **pval, CK_ULONG *plen)
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

int raw_bool(CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE type)
{
	CK_BBOOL v = CK_FALSE;
	CK_ATTRIBUTE a = { type, &v, sizeof(v) };

	if (T.fl->C_GetAttributeValue(T.raw, h, &a, 1) != CKR_OK || a.ulValueLen != sizeof(v))
		return -1;
	return v ? 1 : 0;
}

/* The public key built by the test itself from a public-key object. */
EVP_PKEY *raw_public(CK_OBJECT_HANDLE h, const struct ktype *kt)
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
		    !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, kt->group,
		                                     0) ||
		    !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY,
		                                      ASN1_STRING_get0_data(os),
		                                      (size_t)ASN1_STRING_length(os)))
			goto out;
	}
	if ((params = OSSL_PARAM_BLD_to_param(bld)) == NULL ||
	    (pctx = EVP_PKEY_CTX_new_from_name(NULL, kt->ckk == CKK_RSA ? "RSA" : "EC", NULL)) ==
	        NULL ||
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
X509 *make_cert(EVP_PKEY *pub, const char *cn)
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
	                                (const unsigned char *)"p11ca test issuer", -1, -1,
	                                0) == 1 &&
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
p11ca_key *key_of(size_t i)
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

/* Verifies @sig over @data: a digest, or for Ed25519 the message. */
int verify(EVP_PKEY *pub, const struct p11ca_sig_params *sp, const unsigned char *data,
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
		     EVP_PKEY_CTX_set_rsa_pss_saltlen(
		         pc, sp->pss_saltlen == -1   ? RSA_PSS_SALTLEN_DIGEST
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
void sign_and_verify(p11ca_key *key, const struct ktype *kt, const struct p11ca_sig_params *sp)
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
	if (uh_write_file(T.pin_file_b, PIN_B "\n", strlen(PIN_B "\n")) != 0 ||
	    uh_write_file(T.wrong_pin_file, "not-the-pin\n", strlen("not-the-pin\n")) != 0)
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

int softhsm_run(const char *name, const struct CMUnitTest *tests, size_t n)
{
	const char *mod = getenv("SOFTHSM_MODULE");
	int r;

	if (mod != NULL && mod[0] != '\0') {
		if (access(mod, R_OK) != 0)
			return uh_skip(name, "the SoftHSM2 module ($SOFTHSM_MODULE) is not found");
		T.module = mod;
	} else {
		T.module = "softhsm2";
	}
	r = make_token();
	if (r == 77)
		return uh_skip(name, "SoftHSM2 is not installed");
	if (r != 0) {
		fprintf(stderr, "cannot make a SoftHSM2 token\n");
		uh_rmtree(T.dir);
		return 1;
	}
	unsetenv("P11CA_PIN");
	unsetenv("P11CA_EMULATE_PSS");
	r = _cmocka_run_group_tests(name, tests, n, setup, teardown);
	uh_rmtree(T.dir);
	return uh_result(r);
}

/*
 * provider-fixture.c - the token, the providers and the signature checks
 * shared by the tests/test-provider-*.c binaries (see provider-fixture.h).
 */
#include "config.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/provider.h>
#include <openssl/rsa.h>
#include <openssl/store.h>

#include "provider.h"
#include "provider-fixture.h"
#include "unit-helpers.h"

/* clang-format off */
const struct keydef keydefs[K_COUNT] = {
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
OSSL_LIB_CTX *plain;
static OSSL_PROVIDER *provs[3]; /* default and p11ca in the default context; plain's default */
EVP_PKEY *pubs[K_COUNT];

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

void print_errors(const char *what)
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

EVP_PKEY *load_key(int k)
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
int verify_plain(EVP_PKEY *pub, const char *md, int pad, const unsigned char *msg, size_t len,
                 const unsigned char *sig, size_t siglen)
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
int sign_and_check(EVP_PKEY *key, EVP_PKEY *pub, const char *md, int pad, const char *text)
{
	unsigned char *sig = NULL;
	size_t siglen = 0;
	int ok;

	ok = sign_msg(key, md, pad, (const unsigned char *)text, strlen(text), &sig, &siglen) &&
	     verify_plain(pub, md, pad, (const unsigned char *)text, strlen(text), sig, siglen);
	OPENSSL_free(sig);
	return ok;
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
	rc = run_cmd("'%s' key delete --yes --module '%s' --pin-file '%s' "
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

int provider_run(const char *name, const struct CMUnitTest *tests, size_t n)
{
	const char *keep = getenv("P11CA_TEST_KEEP");
	int rc;

	/* no system openssl.cnf: this program loads what it needs itself */
	setenv("OPENSSL_CONF", "/dev/null", 1);
	rc = make_token();
	if (rc == 77)
		rc = uh_skip(name, "SoftHSM2 is not installed");
	if (rc == 0 && !start_providers()) {
		print_errors("loading the providers");
		rc = 1;
	}
	if (rc == 0)
		rc = _cmocka_run_group_tests(name, tests, n, NULL, group_teardown);
	if (workdir[0] != '\0') {
		if (rc != 0 && keep != NULL && *keep != '\0')
			fprintf(stderr, "kept %s\n", workdir);
		else
			run_cmd("rm -rf '%s'", workdir);
	}
	return rc;
}

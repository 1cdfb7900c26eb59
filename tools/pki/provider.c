/*
 * provider.c - the p11ca provider in a library context of its own (pki.h).
 *
 * The provider is linked in (engine/, libp11ca-prov) and registered as a
 * built-in; each context gets its own instance, configured through
 * p11ca_prov_configure() rather than the environment, so two contexts in
 * one process can name two modules and two PIN files.  Nothing is kept
 * here: the context holds its providers until pki_libctx_free().
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <openssl/err.h>
#include <openssl/provider.h>
#include <openssl/store.h>

#include "p11ca.h"
#include "pki.h"
#include "provider.h"
#include "result.h"

/* Room for a redacted URI in a message (longer ones are cut). */
#define URI_SHOWN_MAX 512

/* The providers pki_libctx_new() loaded into a context, by name. */
struct loaded {
	OSSL_PROVIDER *dflt, *p11ca;
};

static int find_loaded(OSSL_PROVIDER *prov, void *data)
{
	struct loaded *l = data;
	const char *name = OSSL_PROVIDER_get0_name(prov);

	if (strcmp(name, "default") == 0)
		l->dflt = prov;
	else if (strcmp(name, P11CA_PROV_NAME) == 0)
		l->p11ca = prov;
	return 1;
}

/* Gives back what OSSL_PROVIDER_load() took, then frees the context. */
static void libctx_free(OSSL_LIB_CTX *libctx, struct loaded *l)
{
	/*
	 * OSSL_LIB_CTX_free() drops only the store's reference: without the
	 * unloads the provider objects, and the p11ca provider's token
	 * context with its sessions, would never be torn down.
	 */
	if (l->p11ca != NULL)
		OSSL_PROVIDER_unload(l->p11ca);
	if (l->dflt != NULL)
		OSSL_PROVIDER_unload(l->dflt);
	OSSL_LIB_CTX_free(libctx);
}

int pki_libctx_new(const char *module, const char *pin_file, OSSL_LIB_CTX **plibctx)
{
	struct loaded l = { NULL, NULL };
	OSSL_LIB_CTX *libctx = NULL;
	int r;

	*plibctx = NULL;
	if ((libctx = OSSL_LIB_CTX_new()) == NULL) {
		r = res_ossl(RES_NOMEM, "a library context");
		goto out;
	}
	if (OSSL_PROVIDER_add_builtin(libctx, P11CA_PROV_NAME, p11ca_prov_init) != 1 ||
	    (l.dflt = OSSL_PROVIDER_load(libctx, "default")) == NULL) {
		r = res_ossl(RES_CRYPTO, "loading OpenSSL's default provider");
		goto out;
	}
	if ((l.p11ca = OSSL_PROVIDER_load(libctx, P11CA_PROV_NAME)) == NULL) {
		r = res_ossl(RES_TOKEN, "loading the p11ca provider");
		goto out;
	}
	if (p11ca_prov_configure(l.p11ca, module, pin_file) != 1) {
		r = res_ossl(RES_TOKEN, "configuring the p11ca provider");
		goto out;
	}
	/*
	 * The handles are not kept: pki_libctx_free() finds the two providers
	 * in the context again, which holds them loaded until then.
	 */
	*plibctx = libctx;
	libctx = NULL; /* transferred */
	r = RES_OK;
out:
	if (libctx != NULL)
		libctx_free(libctx, &l);
	return r;
}

void pki_libctx_free(OSSL_LIB_CTX *libctx)
{
	struct loaded l = { NULL, NULL };

	if (libctx == NULL)
		return;
	(void)OSSL_PROVIDER_do_all(libctx, find_loaded, &l);
	libctx_free(libctx, &l);
}

int pki_load_key(OSSL_LIB_CTX *libctx, const char *uri, EVP_PKEY **ppkey)
{
	char shown[URI_SHOWN_MAX];
	OSSL_STORE_CTX *store = NULL;
	OSSL_STORE_INFO *info;
	EVP_PKEY *pkey = NULL;
	OSSL_PARAM params[2];
	int r, unique = 1;

	*ppkey = NULL;
	/* a URI may carry pin-value: it never reaches a message whole */
	p11ca_uri_redact(uri != NULL ? uri : "(null)", shown, sizeof(shown));
	if (uri == NULL || libctx == NULL) {
		r = res_set(RES_BAD_INPUT, "%s: no key URI or library context", shown);
		goto out;
	}
	/* a pin-value makes it a URI, whatever its scheme: never a file name
	 * for OpenSSL's file store to echo ("pkcs11;token=a?pin-value=...") */
	if (strncasecmp(uri, "pkcs11:", 7) != 0 && p11ca_uri_has_pin_value(uri)) {
		r = res_set(RES_BAD_INPUT, "%s: not a pkcs11: URI, yet it holds a pin-value",
		            shown);
		goto out;
	}
	ERR_clear_error();
	/* one key meant: the p11ca store refuses a URI naming several */
	params[0] = OSSL_PARAM_construct_int(P11CA_PROV_STORE_PARAM_UNIQUE, &unique);
	params[1] = OSSL_PARAM_construct_end();
	store = OSSL_STORE_open_ex(uri, libctx, NULL, NULL, NULL, params, NULL, NULL);
	if (store == NULL || OSSL_STORE_expect(store, OSSL_STORE_INFO_PKEY) != 1) {
		r = res_ossl(RES_TOKEN, "%s", shown);
		goto out;
	}
	while (pkey == NULL && !OSSL_STORE_eof(store)) {
		if ((info = OSSL_STORE_load(store)) == NULL)
			break;
		if (OSSL_STORE_INFO_get_type(info) == OSSL_STORE_INFO_PKEY)
			pkey = OSSL_STORE_INFO_get1_PKEY(info);
		OSSL_STORE_INFO_free(info);
	}
	if (pkey == NULL) {
		/* the provider's reason (wrong PIN, no such key), else a plain one */
		if (ERR_peek_error() != 0)
			r = res_ossl(RES_TOKEN, "%s", shown);
		else
			r = res_set(RES_TOKEN, "%s: no private key there", shown);
		goto out;
	}
	*ppkey = pkey;
	r = RES_OK;
out:
	OSSL_STORE_close(store);
	return r;
}

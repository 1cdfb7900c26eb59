/* ossl.c - the p11ca provider loaded in-process, without any openssl.cnf. */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <openssl/err.h>
#include <openssl/provider.h>
#include <openssl/store.h>

#include "provider.h"
#include "tool.h"

/* what tool_ossl_open() loaded, unloaded by tool_ossl_close() */
static OSSL_PROVIDER *prov_default, *prov_p11ca;

OSSL_LIB_CTX *tool_ossl_open(const struct tool_common *c)
{
	OSSL_LIB_CTX *libctx = NULL;

	/* the provider reads these when it starts; openssl.cnf plays no part */
	if ((c->module != NULL && setenv("P11CA_MODULE", c->module, 1) != 0) ||
	    (c->pin_file != NULL && setenv("P11CA_PIN_FILE", c->pin_file, 1) != 0)) {
		tool_errorf("cannot pass the module or PIN file to the provider");
		return NULL;
	}
	if ((libctx = OSSL_LIB_CTX_new()) == NULL ||
	    OSSL_PROVIDER_add_builtin(libctx, P11CA_PROV_NAME, p11ca_prov_init) != 1 ||
	    (prov_default = OSSL_PROVIDER_load(libctx, "default")) == NULL ||
	    (prov_p11ca = OSSL_PROVIDER_load(libctx, P11CA_PROV_NAME)) == NULL) {
		tool_ossl_fail("loading the p11ca provider");
		tool_ossl_close(libctx);
		return NULL;
	}
	return libctx;
}

int tool_ossl_fail(const char *what)
{
	unsigned long e, last = 0;
	const char *data = NULL, *d;
	int flags = 0;

	/* the last error is the most specific; its data is our one-line reason */
	while ((e = ERR_get_error_all(NULL, NULL, NULL, &d, &flags)) != 0) {
		last = e;
		data = (flags & ERR_TXT_STRING) && d != NULL && *d != '\0' ? d : data;
	}
	if (data != NULL)
		tool_errorf("%s: %s", what, data);
	else if (last != 0)
		tool_errorf("%s: %s", what, ERR_reason_error_string(last) ? ERR_reason_error_string(last) : "failed");
	else
		tool_errorf("%s failed", what);
	return TOOL_EXIT_FAIL;
}

EVP_PKEY *tool_ossl_load_key(OSSL_LIB_CTX *libctx, const char *uri)
{
	OSSL_STORE_CTX *store;
	EVP_PKEY *pkey = NULL;

	store = OSSL_STORE_open_ex(uri, libctx, NULL, NULL, NULL, NULL, NULL, NULL);
	if (store == NULL)
		return NULL;
	if (OSSL_STORE_expect(store, OSSL_STORE_INFO_PKEY) == 1) {
		while (pkey == NULL && !OSSL_STORE_eof(store)) {
			OSSL_STORE_INFO *info = OSSL_STORE_load(store);
			if (info == NULL)
				break;
			if (OSSL_STORE_INFO_get_type(info) == OSSL_STORE_INFO_PKEY)
				pkey = OSSL_STORE_INFO_get1_PKEY(info);
			OSSL_STORE_INFO_free(info);
		}
	}
	OSSL_STORE_close(store);
	return pkey;
}

void tool_ossl_close(OSSL_LIB_CTX *libctx)
{
	if (prov_p11ca != NULL)
		OSSL_PROVIDER_unload(prov_p11ca);
	if (prov_default != NULL)
		OSSL_PROVIDER_unload(prov_default);
	prov_p11ca = prov_default = NULL;
	OSSL_LIB_CTX_free(libctx);
}

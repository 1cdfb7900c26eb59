/* module.c - the entry point of p11ca.so, the loadable provider module. */
#include "config.h"

#include "provider.h"

__attribute__((visibility("default"))) OSSL_provider_init_fn OSSL_provider_init;

int OSSL_provider_init(const OSSL_CORE_HANDLE *handle, const OSSL_DISPATCH *in,
                       const OSSL_DISPATCH **out, void **provctx)
{
	int ret = p11ca_prov_init(handle, in, out, provctx);

	/*
	 * OpenSSL programs loading p11ca.so may name the PIN in a URI's path,
	 * as libp11 and OpenSC document it ("pkcs11:id=%01;pin-value=..."):
	 * the p11ca command, which links the provider in, never takes a PIN
	 * on its command line, and keeps the strict reading.
	 */
	if (ret == RET_OSSL_OK)
		((struct p11ca_prov *)*provctx)->uri_path_pin = 1;
	return ret;
}

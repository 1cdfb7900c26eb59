/* module.c - the entry point of p11ca.so, the loadable provider module. */
#include "config.h"

#include "provider.h"

__attribute__((visibility("default"))) OSSL_provider_init_fn OSSL_provider_init;

int OSSL_provider_init(const OSSL_CORE_HANDLE *handle, const OSSL_DISPATCH *in,
                       const OSSL_DISPATCH **out, void **provctx)
{
	return p11ca_prov_init(handle, in, out, provctx);
}

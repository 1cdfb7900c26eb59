/* archive.c - placeholder (its owner replaces it): see archive.h. */
#include "config.h"
#include "archive.h"
#include "result.h"

int rev_crls_in(const unsigned char *buf, size_t len, const struct rev_limits *limits,
                rev_crl_cb cb, void *ctx)
{
	(void)buf, (void)len, (void)limits, (void)cb, (void)ctx;
	return res_set(RES_UNSUPPORTED, "rev_crls_in: not built yet");
}

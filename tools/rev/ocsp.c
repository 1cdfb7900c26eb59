/* ocsp.c - placeholder (its owner replaces it): see ocsp.h. */
#include "config.h"
#include <string.h>
#include "ocsp.h"
#include "result.h"

int rev_ocsp_check(OSSL_LIB_CTX *libctx, X509 *cert, X509 *issuer, const struct rev_ocsp_opts *o,
                   struct rev_ocsp_answer *a)
{
	(void)libctx, (void)cert, (void)issuer, (void)o;
	memset(a, 0, sizeof(*a));
	return res_set(RES_UNSUPPORTED, "rev_ocsp_check: not built yet");
}
int rev_ocsp_request(X509 *cert, X509 *issuer, const struct rev_ocsp_opts *o, OCSP_REQUEST **preq)
{
	(void)cert, (void)issuer, (void)o, (void)preq;
	return res_set(RES_UNSUPPORTED, "rev_ocsp_request: not built yet");
}
int rev_ocsp_response_check(OSSL_LIB_CTX *libctx, const unsigned char *der, size_t len,
                            OCSP_REQUEST *req, X509 *cert, X509 *issuer,
                            const struct rev_ocsp_opts *o, struct rev_ocsp_answer *a)
{
	(void)libctx, (void)der, (void)len, (void)req, (void)cert, (void)issuer, (void)o, (void)a;
	return res_set(RES_UNSUPPORTED, "rev_ocsp_response_check: not built yet");
}
char *rev_ocsp_url_of(X509 *cert)
{
	(void)cert;
	return NULL;
}
const char *rev_ocsp_why_name(enum rev_ocsp_why why)
{
	(void)why;
	return "?";
}

/* check.c - placeholder (its owner replaces it): see check.h. */
#include "config.h"
#include "check.h"
#include "result.h"

int rev_verify(OSSL_LIB_CTX *libctx, X509 *leaf, STACK_OF(X509) * untrusted,
               STACK_OF(X509) * trusted, const struct rev_verify_opts *o, struct rev_report **prep)
{
	(void)libctx, (void)leaf, (void)untrusted, (void)trusted, (void)o, (void)prep;
	return res_set(RES_UNSUPPORTED, "rev_verify: not built yet");
}
void rev_report_free(struct rev_report *r)
{
	(void)r;
}
const char *rev_state_name(enum rev_state s)
{
	(void)s;
	return "?";
}

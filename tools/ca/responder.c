/* responder.c - placeholder: its owner replaces it. */
#include "config.h"

#include "ca.h"
#include "result.h"

int ca_responder_issue(struct ca *ca, EVP_PKEY *rkey, long days, X509 **px)
{
	(void)ca;
	(void)rkey;
	(void)days;
	*px = NULL;
	return res_set(RES_UNSUPPORTED, "not built yet");
}
int ca_responder_load(struct ca *ca, EVP_PKEY **pkey, X509 **pcert)
{
	(void)ca;
	*pkey = NULL;
	*pcert = NULL;
	return res_set(RES_UNSUPPORTED, "not built yet");
}

/* random.c - random bytes from the token's generator (C_GenerateRandom). */
#include "config.h"

#include <string.h>

#include "internal.h"

/* The most asked of the module in one C_GenerateRandom. */
#define RANDOM_CHUNK 1024

struct random_op {
	unsigned char *out;
	size_t len;
};

static CK_RV random_call(p11ca_token *t, CK_SESSION_HANDLE s, p11ca_key *unused, void *data)
{
	struct random_op *op = data;
	size_t done, n;
	CK_RV rv = CKR_OK;

	(void)unused;
	for (done = 0; rv == CKR_OK && done < op->len; done += n) {
		n = op->len - done < RANDOM_CHUNK ? op->len - done : RANDOM_CHUNK;
		rv = t->mod->fl->C_GenerateRandom(s, op->out + done, (CK_ULONG)n);
	}
	return rv;
}

P11CA_EXPORT CK_RV p11ca_token_random(p11ca_token *token, unsigned char *out, size_t len)
{
	struct random_op op = { out, len };
	CK_RV rv;

	if (token == NULL || (out == NULL && len > 0))
		return p11ca_err(CKR_ARGUMENTS_BAD, "p11ca_token_random: no token or no buffer");
	if (len == 0)
		return CKR_OK;
	/* no login: PKCS#11 does not ask for one (a token that does says
	 * CKR_USER_NOT_LOGGED_IN, and the recovery logs in) */
	rv = p11ca_token_run(token, NULL, 0, random_call, &op);
	if (rv == CKR_OK)
		return CKR_OK;
	p11ca_wipe(out, len); /* a half-filled buffer is not random bytes */
	if (rv == CKR_RANDOM_NO_RNG)
		return p11ca_err(rv,
		                 "token '%s' has no random number generator (CKR_RANDOM_NO_RNG)",
		                 token->info.label);
	if (p11ca_fault_of(rv) == P11CA_FAULT_NONE && (rv & CKR_VENDOR_DEFINED) == 0)
		p11ca_err(rv, "random bytes from token '%s' failed: %s", token->info.label,
		          p11ca_rv_text(rv));
	return rv;
}

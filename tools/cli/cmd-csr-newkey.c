/*
 * cmd-csr-newkey.c - the key pair behind --new-key (`p11ca csr`, `p11ca ca
 * init`): generated on the token, and deleted again when what it was made
 * for failed (tool.h).
 */
#include "config.h"

#include <stdlib.h>

#include "tool.h"

int tool_generate_key(const struct tool_common *c, const char *token_uri, const char *type,
                      const char *label, int force, char **puri)
{
	p11ca_ctx *ctx;
	p11ca_token *tok;
	p11ca_key *key = NULL;
	int ret = TOOL_EXIT_FAIL;
	CK_RV rv;

	if ((ctx = tool_ctx_open(c)) == NULL)
		return TOOL_EXIT_FAIL;
	if ((rv = p11ca_token_find(ctx, token_uri, &tok)) != CKR_OK) {
		tool_fail("--token", rv);
		goto out;
	}
	if ((rv = tool_key_generate(tok, type, label, force ? P11CA_GEN_FORCE : 0, &key)) !=
	    CKR_OK) {
		tool_fail("--new-key", rv);
		goto out;
	}
	if ((*puri = p11ca_key_get_uri(key)) == NULL) {
		tool_errorf("out of memory");
		goto out;
	}
	ret = TOOL_EXIT_OK;
out:
	/* the provider opens the module again on its own */
	p11ca_key_free(key);
	p11ca_ctx_free(ctx);
	return ret;
}

void tool_delete_new_key(const struct tool_common *c, char *uri)
{
	/* without its type the URI names the private and the public key */
	char *pair = tool_uri_without_type(uri);
	const char *target = pair != NULL ? pair : uri; /* no memory: the private key at least */
	p11ca_ctx *ctx;
	size_t n = 0;
	CK_RV rv;

	if ((ctx = tool_ctx_open(c)) != NULL) {
		if ((rv = p11ca_object_delete(ctx, target, &n)) != CKR_OK)
			tool_fail("deleting the new key again", rv);
		else
			tool_warnf("the new key was deleted again: %s", target);
		p11ca_ctx_free(ctx);
	}
	free(pair);
}

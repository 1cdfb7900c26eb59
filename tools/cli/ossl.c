/*
 * ossl.c - the command line's side of the p11ca provider: thin wrappers
 * over pki_libctx_new() / pki_load_key() (tools/pki/provider.c) that print
 * what the library says.  No state: each library context holds its own
 * provider instance, configured from --module/--pin-file.
 */
#include "config.h"

#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <openssl/err.h>

#include "pki.h"
#include "result.h"
#include "tool.h"

OSSL_LIB_CTX *tool_ossl_open(const struct tool_common *c)
{
	OSSL_LIB_CTX *libctx = NULL;

	tool_pin_file_check(c->pin_file);
	if (pki_libctx_new(c->module, c->pin_file, &libctx) != RES_OK) {
		tool_errorf("%s", res_message());
		return NULL;
	}
	return libctx;
}

void tool_ossl_close(OSSL_LIB_CTX *libctx)
{
	pki_libctx_free(libctx);
}

int tool_ossl_fail(const char *what)
{
	res_ossl(TOOL_EXIT_FAIL, "%s", what);
	tool_errorf("%s", res_message());
	return TOOL_EXIT_FAIL;
}

EVP_PKEY *tool_ossl_load_key(OSSL_LIB_CTX *libctx, const char *uri)
{
	char shown[512];
	EVP_PKEY *pkey = NULL;
	const char *reason;
	size_t n;

	/* "vcs1": a label where a URI was meant, or a file that is not there */
	if (uri != NULL && strncasecmp(uri, "pkcs11:", 7) != 0 &&
	    strncasecmp(uri, "file:", 5) != 0 && access(uri, F_OK) != 0) {
		int bare = strcspn(uri, ":/") == strlen(uri) && strlen(uri) < 64;
		/* the message goes through tool_errorf(), which escapes it */
		ERR_raise_data(ERR_LIB_USER, ERR_R_OPERATION_FAIL,
		               "'%.200s' is neither a file nor a pkcs11: URI (a key on a token is "
		               "named like pkcs11:token=T;object=%s)",
		               uri, bare ? uri : "K");
		return NULL;
	}
	if (pki_load_key(libctx, uri, &pkey) == RES_OK)
		return pkey;
	/*
	 * Callers report with tool_ossl_fail(WHAT), which reads OpenSSL's
	 * error queue: the reason goes back there, without the URI the
	 * library put in front (WHAT names the key already).
	 */
	reason = res_message();
	p11ca_uri_redact(uri != NULL ? uri : "(null)", shown, sizeof(shown));
	n = strlen(shown);
	if (strncmp(reason, shown, n) == 0 && strncmp(reason + n, ": ", 2) == 0)
		reason += n + 2;
	ERR_raise_data(ERR_LIB_USER, ERR_R_OPERATION_FAIL, "%s", reason);
	return NULL;
}

/* cmd-cert-install.c - p11ca cert install: a certificate onto the token next to its key. */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <openssl/err.h>
#include <openssl/x509.h>

#include "cmd-cert.h"

enum { O_KEY = OPT_FIRST_LOCAL };

static int install_opt(int id, const char *arg, void *data)
{
	if (id != O_KEY)
		return TOOL_EXIT_USAGE;
	*(const char **)data = arg;
	return TOOL_EXIT_OK;
}

int tool_cert_install(int argc, char **argv)
{
	static const struct tool_opt opts[] = {
		{ "key", required_argument, O_KEY },
		{ NULL, 0, 0 },
	};
	static const char help[] =
	    "usage: p11ca cert install --key URI CERT\n\n"
	    "Stores the certificate in CERT (PEM or DER; the first one of a PEM file)\n"
	    "on the token next to its key, with the key's CKA_ID and label, after\n"
	    "checking that the certificate's public key is the key's.  Prints the\n"
	    "stored certificate's URI.\n";
	struct tool_common c = { 0 };
	const char *key = NULL;
	int r, ret = TOOL_EXIT_FAIL, pem;
	STACK_OF(X509) *certs = NULL;
	EVP_PKEY *pub = NULL;
	p11ca_ctx *ctx = NULL;
	p11ca_key *tkey = NULL;
	char *uri = NULL, *t, why[512];
	struct p11ca_found *found = NULL;
	size_t nfound = 0, i;
	int same = 0;
	X509 *x;
	CK_RV rv;

	if ((r = tool_parse(argc, argv, opts, help, &c, install_opt, &key)) != TOOL_PARSE_GO)
		return r;
	if (optind + 1 != argc || key == NULL) {
		tool_errorf("cert install needs --key URI and one CERT (see --help)");
		return TOOL_EXIT_USAGE;
	}
	if (!cert_is_pkcs11_uri(key)) {
		tool_errorf("--key must be a pkcs11: URI");
		return TOOL_EXIT_USAGE;
	}
	if ((certs = tool_load_certs(argv[optind], &pem)) == NULL)
		goto out;
	x = sk_X509_value(certs, 0);
	if (sk_X509_num(certs) > 1)
		tool_warnf("%s holds %d certificates; storing the first", argv[optind],
		           sk_X509_num(certs));
	if ((pub = cert_token_public(&c, key, &ctx, &tkey, why, sizeof(why))) == NULL) {
		tool_errorf("--key: %s", why);
		goto out;
	}
	if (X509_get0_pubkey(x) == NULL || EVP_PKEY_eq(pub, X509_get0_pubkey(x)) != 1) {
		ERR_clear_error();
		tool_errorf("the certificate does not match the key %s; nothing stored", key);
		goto out;
	}
	if ((uri = p11ca_key_get_uri(tkey)) == NULL) {
		tool_errorf("out of memory");
		goto out;
	}
	/* the certificate shares the key's id and label */
	if ((t = strstr(uri, "type=private")) != NULL)
		memmove(t + 9, t + 12, strlen(t + 12) + 1), memcpy(t + 5, "cert", 4);
	/* the same certificate twice is one object; others are reported */
	if ((rv = p11ca_lookup(ctx, uri, P11CA_LOOKUP_CERT, &found, &nfound)) != CKR_OK) {
		tool_fail("looking for certificates of the key", rv);
		goto out;
	}
	for (i = 0; i < nfound; i++)
		if (found[i].cert != NULL && X509_cmp(found[i].cert, x) == 0)
			same = 1;
	if (same)
		tool_warnf("the certificate is already on the token; not stored again");
	else {
		if (nfound > 0)
			tool_warnf("the token already holds %zu other certificate%s for this key "
			           "(older ones?); they are kept",
			           nfound, nfound == 1 ? "" : "s");
		if ((rv = p11ca_key_store_certificate(tkey, x)) != CKR_OK) {
			tool_fail("storing the certificate", rv);
			goto out;
		}
	}
	printf("%s\n", uri);
	ret = fflush(stdout) == 0 ? TOOL_EXIT_OK : TOOL_EXIT_FAIL;
out:
	p11ca_found_free(found, nfound);
	free(uri);
	EVP_PKEY_free(pub);
	p11ca_key_free(tkey);
	p11ca_ctx_free(ctx);
	sk_X509_pop_free(certs, X509_free);
	return ret;
}

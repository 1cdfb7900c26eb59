/* cmd-cert-convert.c - p11ca cert convert: PEM <-> DER. */
#include "config.h"

#include <strings.h>
#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "cmd-cert.h"

enum { O_TO = OPT_FIRST_LOCAL };

static int convert_opt(int id, const char *arg, void *data)
{
	if (id != O_TO)
		return TOOL_EXIT_USAGE;
	*(const char **)data = arg;
	return TOOL_EXIT_OK;
}

int tool_cert_convert(int argc, char **argv)
{
	static const struct tool_opt opts[] = {
		{ "to", required_argument, O_TO },
		{ NULL, 0, 0 },
	};
	static const char help[] =
	    "usage: p11ca cert convert IN OUT [--to pem|der]\n\n"
	    "Converts a certificate between PEM and DER.  The input format is\n"
	    "detected; by default the output is the other one.  A PEM file with\n"
	    "several certificates converts to PEM only (DER holds one).  OUT is\n"
	    "written atomically; \"-\" is standard output.\n";
	struct tool_common c = { 0 };
	const char *to = NULL;
	int r, ret = TOOL_EXIT_FAIL, pem, der, i;
	STACK_OF(X509) *certs = NULL;
	BIO *bio = NULL;
	unsigned char *data;
	long n;

	if ((r = tool_parse(argc, argv, opts, help, &c, convert_opt, &to)) != TOOL_PARSE_GO)
		return r;
	if (optind + 2 != argc) {
		tool_errorf("cert convert needs IN and OUT (see --help)");
		return TOOL_EXIT_USAGE;
	}
	if (to != NULL && strcasecmp(to, "pem") != 0 && strcasecmp(to, "der") != 0) {
		tool_errorf("unknown --to '%s' (pem or der)", to);
		return TOOL_EXIT_USAGE;
	}
	if ((certs = tool_load_certs(argv[optind], &pem)) == NULL)
		goto out;
	der = to != NULL ? strcasecmp(to, "der") == 0 : pem;
	if (der && sk_X509_num(certs) > 1) {
		tool_errorf("%s holds %d certificates; DER holds one (split it, or --to pem)",
		            argv[optind], sk_X509_num(certs));
		goto out;
	}
	if ((bio = BIO_new(BIO_s_mem())) == NULL)
		goto fail;
	for (i = 0; i < sk_X509_num(certs); i++)
		if ((der ? i2d_X509_bio(bio, sk_X509_value(certs, i))
		         : PEM_write_bio_X509(bio, sk_X509_value(certs, i))) != 1)
			goto fail;
	if ((n = BIO_get_mem_data(bio, (char **)&data)) <= 0)
		goto fail;
	ret = tool_write_atomic(argv[optind + 1], data, (size_t)n);
	goto out;
fail:
	tool_ossl_fail("encoding the certificate");
out:
	BIO_free(bio);
	sk_X509_pop_free(certs, X509_free);
	return ret;
}

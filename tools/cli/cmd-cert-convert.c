/* cmd-cert-convert.c - p11ca cert convert: PEM <-> DER (certificates, CSRs, CRLs). */
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
	    "Converts a certificate, a certificate signing request or a CRL between\n"
	    "PEM and DER.  What IN holds and its format are detected; by default the\n"
	    "output is the other format.  A PEM file with several certificates\n"
	    "converts to PEM only (DER holds one).  OUT is written atomically; \"-\"\n"
	    "is standard output.\n";
	struct tool_common c = { 0 };
	const char *to = NULL;
	int r, ret = TOOL_EXIT_FAIL, der, i, ok;
	STACK_OF(X509) *certs = NULL;
	struct cert_file file = { 0 };
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
	if (!cert_file_read(argv[optind], &file))
		goto out;
	certs = file.certs;
	der = to != NULL ? strcasecmp(to, "der") == 0 : file.pem;
	if (der && file.kind == CERT_KIND_CERTS && sk_X509_num(certs) > 1) {
		tool_errorf("%s holds %d certificates; DER holds one (split it, or --to pem)",
		            argv[optind], sk_X509_num(certs));
		goto out;
	}
	if ((bio = BIO_new(BIO_s_mem())) == NULL)
		goto fail;
	if (file.kind == CERT_KIND_CSR)
		ok = der ? i2d_X509_REQ_bio(bio, file.csr) : PEM_write_bio_X509_REQ(bio, file.csr);
	else if (file.kind == CERT_KIND_CRL)
		ok = der ? i2d_X509_CRL_bio(bio, file.crl) : PEM_write_bio_X509_CRL(bio, file.crl);
	else
		for (ok = 1, i = 0; ok == 1 && i < sk_X509_num(certs); i++)
			ok = der ? i2d_X509_bio(bio, sk_X509_value(certs, i))
			         : PEM_write_bio_X509(bio, sk_X509_value(certs, i));
	if (ok != 1)
		goto fail;
	if ((n = BIO_get_mem_data(bio, (char **)&data)) <= 0)
		goto fail;
	ret = tool_write_atomic(argv[optind + 1], data, (size_t)n);
	goto out;
fail:
	tool_ossl_fail("encoding the output");
out:
	BIO_free(bio);
	cert_file_free(&file);
	return ret;
}

/*
 * ocsp-ask.c - tests/ocsp.sh's stand-in for `p11ca verify --revocation
 * ocsp` until that command exists: rev_ocsp_check (tools/rev/ocsp.c, the
 * whole client with its HTTP POST) for one certificate, one line out:
 *   STATUS WHY REASON DELEGATED RESPONDER
 * ("good none -1 1 /CN=OCSP Responder").  Exit 0 when the check ran.
 * usage: ocsp-ask CERT ISSUER [URL|- [AT|- [no-nonce]]]
 */
#include <stdio.h>
#include <string.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include "ocsp.h"
#include "pki.h"
#include "result.h"

static X509 *load(const char *path)
{
	FILE *f = fopen(path, "r");
	X509 *x = NULL;

	if (f != NULL) {
		x = PEM_read_X509(f, NULL, NULL, NULL);
		fclose(f);
	}
	return x;
}

int main(int argc, char **argv)
{
	static const char *const names[] = { "?", "good", "revoked", "unknown", "undetermined" };
	struct rev_ocsp_opts o = { 0 };
	struct rev_ocsp_answer a;
	X509 *cert, *issuer;
	int rc;

	if (argc < 3) {
		fprintf(stderr, "usage: ocsp-ask CERT ISSUER [URL|- [AT|- [no-nonce]]]\n");
		return 2;
	}
	if ((cert = load(argv[1])) == NULL || (issuer = load(argv[2])) == NULL) {
		fprintf(stderr, "ocsp-ask: cannot read %s or %s\n", argv[1], argv[2]);
		return 2;
	}
	if (argc > 3 && strcmp(argv[3], "-") != 0)
		o.url = argv[3];
	if (argc > 4 && strcmp(argv[4], "-") != 0 && pki_time_parse(argv[4], &o.at) != RES_OK) {
		fprintf(stderr, "ocsp-ask: %s\n", res_message());
		return 2;
	}
	o.no_nonce = argc > 5 && strcmp(argv[5], "no-nonce") == 0;
	rc = rev_ocsp_check(NULL, cert, issuer, &o, &a);
	if (rc == RES_OK)
		printf("%s %s %d %d %s\n", names[a.status], rev_ocsp_why_name(a.why), a.reason,
		       a.delegated, a.responder[0] ? a.responder : "-");
	else
		fprintf(stderr, "ocsp-ask: %s\n", res_message());
	if (rc == RES_OK && a.status == REV_OCSP_UNDETERMINED)
		fprintf(stderr, "ocsp-ask: %s\n", a.detail);
	X509_free(cert);
	X509_free(issuer);
	return rc == RES_OK ? 0 : 1;
}

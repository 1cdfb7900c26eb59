/*
 * bundle_fuzzer.c - libFuzzer target for the trust bundle reader
 * (pki_load_bundle, tools/pki/load.c: what `trust add|list|show|remove`
 * read) with CRLs embedded in the bundle, and for the CRL loader
 * (pki_load_crl) on the same bytes.
 *
 * What must hold (abort otherwise): no crash, leak or UB; a refusal is
 * RES_BAD_INPUT/RES_NOMEM with a one-line message; an accepted bundle
 * gives each certificate an end offset, increasing, within the input, just
 * past an END line; cutting one certificate out as `trust remove` does (the
 * bytes from the previous certificate's end to its own) leaves a bundle
 * that reads back with the others, in order; read without CRLs the bundle
 * gives the same certificates; the first CRL of the bundle is the one
 * pki_load_crl reads.
 *
 * Built and smoke-run like csr_fuzzer.c (tests/fuzz/README.md).  Longer:
 *
 *   mkdir -p /tmp/bundle-corpus
 *   tests/fuzz/bundle_fuzzer -max_total_time=3600 -max_len=16384 \
 *       -artifact_prefix=/tmp/bundle- /tmp/bundle-corpus $top_srcdir/tests/fuzz/corpus/bundle
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/err.h>
#include <openssl/x509.h>

#include "pki.h"
#include "result.h"

static unsigned long accepted, refused, with_crls, cuts; /* printed at exit */

static void stats(void)
{
	fprintf(stderr,
	        "bundle_fuzzer: %lu bundles accepted (%lu with CRLs, %lu cut and read back), "
	        "%lu refused\n",
	        accepted, with_crls, cuts, refused);
}

#define FUZZ_NAME "bundle_fuzzer"
#include "fuzz-common.h"

static int same_der(const void *a, int (*i2d)(const void *, unsigned char **), const void *b)
{
	unsigned char *da = NULL, *db = NULL;
	int la = i2d(a, &da), lb = i2d(b, &db), same;

	same = la > 0 && la == lb && memcmp(da, db, (size_t)la) == 0;
	OPENSSL_free(da);
	OPENSSL_free(db);
	return same;
}

static int i2d_crl(const void *c, unsigned char **p)
{
	return i2d_X509_CRL((X509_CRL *)c, p);
}

/* @data without certificate @k, as tool_trust_remove writes it, read back. */
static void cut(const uint8_t *data, size_t size, STACK_OF(X509) * certs, const size_t *ends, int k)
{
	STACK_OF(X509) *left = NULL;
	size_t start = k > 0 ? ends[k - 1] : 0, len;
	unsigned char *buf = malloc(size + 1);
	int i, n = sk_X509_num(certs);

	if (buf == NULL)
		die("out of memory");
	memcpy(buf, data, start);
	memcpy(buf + start, data + ends[k], size - ends[k]);
	len = start + size - ends[k];
	res_clear();
	if (pki_load_bundle(buf, len, &left, NULL, NULL) != RES_OK) {
		/* the last certificate cut out: text or other blocks (CRLs, keys) may be left */
		if (n == 1 && (strstr(res_message(), "no CERTIFICATE block") != NULL ||
		               strstr(res_message(), "not a PEM") != NULL))
			goto out;
		fprintf(stderr, "bundle_fuzzer: %s\n", res_message());
		die("a bundle with a certificate cut out does not read");
	}
	if (sk_X509_num(left) != n - 1)
		die("another number of certificates after a cut");
	for (i = 0; i < n - 1; i++)
		if (X509_cmp(sk_X509_value(left, i), sk_X509_value(certs, i < k ? i : i + 1)) != 0)
			die("other certificates after a cut");
	cuts++;
out:
	sk_X509_pop_free(left, X509_free);
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	STACK_OF(X509) *certs = NULL, *plain = NULL;
	STACK_OF(X509_CRL) *crls = NULL;
	X509_CRL *crl = NULL;
	size_t *ends = NULL;
	int ret, i, n;

	res_clear();
	ret = pki_load_bundle(data, size, &certs, &ends, &crls);
	if (ret != RES_OK) {
		if (ret != RES_BAD_INPUT && ret != RES_NOMEM)
			die("refused with an unexpected code");
		one_line("refused without a one-line message");
		if (certs != NULL || crls != NULL || ends != NULL)
			die("refused but handed something out");
		refused++;
		goto crl;
	}
	if (certs == NULL || crls == NULL)
		die("accepted without its stacks");
	n = sk_X509_num(certs);
	if (n > 0 && ends == NULL)
		die("certificates without their ends");
	for (i = 0; i < n; i++) {
		if (ends[i] > size || (i > 0 && ends[i] <= ends[i - 1]))
			die("ends out of order or past the input");
		if (ends[i] < size && data[ends[i] - 1] != '\n')
			die("an end not at a line's start");
	}
	/* read without CRLs: the same certificates (or a CRL block was the trouble) */
	res_clear();
	if (pki_load_bundle(data, size, &plain, NULL, NULL) != RES_OK)
		die("read with CRLs but not without");
	if (sk_X509_num(plain) != n)
		die("another number of certificates without CRLs");
	for (i = 0; i < n; i++)
		if (X509_cmp(sk_X509_value(plain, i), sk_X509_value(certs, i)) != 0)
			die("other certificates without CRLs");
	if (n > 0)
		cut(data, size, certs, ends, (int)(size % (size_t)n));
	if (sk_X509_CRL_num(crls) > 0) {
		res_clear();
		if (pki_load_crl(data, size, &crl) != RES_OK)
			die("a bundle's CRL that pki_load_crl refuses");
		if (!same_der(crl, i2d_crl, sk_X509_CRL_value(crls, 0)))
			die("pki_load_crl reads another CRL than the bundle's first");
		with_crls++;
	}
	accepted++;
	goto out;
crl:
	/* the CRL loader on the same bytes: a verdict, with a message when it refuses */
	res_clear();
	if (pki_load_crl(data, size, &crl) != RES_OK)
		one_line("a CRL refused without a one-line message");
out:
	X509_CRL_free(crl);
	free(ends);
	sk_X509_pop_free(plain, X509_free);
	sk_X509_pop_free(certs, X509_free);
	sk_X509_CRL_pop_free(crls, X509_CRL_free);
	ERR_clear_error();
	return 0;
}

/*
 * crlscan_fuzzer.c - libFuzzer target for the CRL store's streaming DER
 * walk (crlscan_parse, tools/rev/crlscan.c), which reads CRLs straight
 * from distribution points and files.
 *
 * What must hold (abort otherwise): no crash, leak, UB or read outside the
 * input; a refusal is RES_BAD_INPUT/RES_UNSUPPORTED with a one-line
 * message; an accepted CRL's ranges (tbsCertList, algorithm, signature,
 * issuer, crlNumber, AKI, each serial) lie within the input, each serial
 * is 1..CRLSCAN_SERIAL_MAX octets without a leading zero (but "00"), each
 * reason is -1 or a CRLReason (not 7), the entry count is the number of
 * callbacks; when OpenSSL's d2i_X509_CRL reads the same bytes, it finds
 * as many entries, with the same serials.
 *
 * Built and smoke-run like csr_fuzzer.c (tests/fuzz/README.md).  Longer:
 *
 *   mkdir -p /tmp/crlscan-corpus
 *   tests/fuzz/crlscan_fuzzer -max_total_time=3600 -max_len=65536 \
 *       -artifact_prefix=/tmp/crlscan- /tmp/crlscan-corpus $top_srcdir/tests/fuzz/corpus/crlscan
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/x509.h>

#include "crlscan.h"
#include "result.h"

static unsigned long accepted, refused, compared; /* printed at exit */

static void stats(void)
{
	fprintf(stderr, "crlscan_fuzzer: %lu accepted (%lu compared with OpenSSL), %lu refused\n",
	        accepted, compared, refused);
}

#define FUZZ_NAME "crlscan_fuzzer"
#include "fuzz-common.h"

struct walk {
	const uint8_t *data;
	size_t size, n;
	const STACK_OF(X509_REVOKED) * sk; /* OpenSSL's, or NULL */
};

static void inside(const struct walk *w, const unsigned char *p, size_t len, const char *what)
{
	if (p < w->data || len > w->size || (size_t)(p - w->data) > w->size - len)
		die(what);
}

static int entry(void *ctx, const struct crlscan_entry *e)
{
	struct walk *w = ctx;

	inside(w, e->serial, e->serial_len, "a serial outside the input");
	if (e->serial_len < 1 || e->serial_len > CRLSCAN_SERIAL_MAX ||
	    (e->serial_len > 1 && e->serial[0] == 0))
		die("a serial of a bad length or with a leading zero");
	if (e->reason < -1 || e->reason > 10 || e->reason == 7)
		die("a bad reason");
	if (w->sk != NULL) {
		X509_REVOKED *r = sk_X509_REVOKED_value(w->sk, (int)w->n);
		const ASN1_INTEGER *sn = r ? X509_REVOKED_get0_serialNumber(r) : NULL;

		/* positive serials: the magnitude is what the index keeps */
		if (sn != NULL && ASN1_STRING_type(sn) == V_ASN1_INTEGER) {
			const unsigned char *m = ASN1_STRING_get0_data(sn);
			size_t ml = (size_t)ASN1_STRING_length(sn);

			while (ml > 1 && m[0] == 0)
				m++, ml--;
			if (ml == 0 ? !(e->serial_len == 1 && e->serial[0] == 0)
			            : (ml != e->serial_len || memcmp(m, e->serial, ml) != 0))
				die("another serial than OpenSSL reads");
		}
	}
	w->n++;
	return RES_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct walk w = { data, size, 0, NULL };
	const unsigned char *p = data;
	X509_CRL *crl;
	struct crlscan c;
	int rc;

	res_clear();
	crl = d2i_X509_CRL(NULL, &p, (long)size);
	if (crl != NULL && p != data + size) {
		X509_CRL_free(crl); /* bytes after it: crlscan refuses those */
		crl = NULL;
	}
	ERR_clear_error();
	rc = crlscan_parse(data, size, &c, entry, &w);
	if (rc != RES_OK) {
		if (rc != RES_BAD_INPUT && rc != RES_UNSUPPORTED)
			die("refused with an unexpected code");
		one_line("refused without a one-line message");
		refused++;
		goto out;
	}
	accepted++;
	inside(&w, c.tbs, c.tbs_len, "tbsCertList outside the input");
	inside(&w, c.sigalg, c.sigalg_len, "algorithm outside the input");
	inside(&w, c.sig, c.sig_len, "signature outside the input");
	inside(&w, c.issuer, c.issuer_len, "issuer outside the input");
	if (c.number != NULL)
		inside(&w, c.number, c.number_len, "crlNumber outside the input");
	if (c.aki != NULL)
		inside(&w, c.aki, c.aki_len, "AKI outside the input");
	if (w.n != c.entries)
		die("entries counted differ from the callbacks");
	if (c.version != 1 && c.version != 2)
		die("a bad version");
	if (crl != NULL) {
		w.sk = X509_CRL_get_REVOKED(crl);
		w.n = 0;
		if ((w.sk == NULL ? 0 : (size_t)sk_X509_REVOKED_num(w.sk)) != c.entries)
			die("another number of entries than OpenSSL reads");
		if (crlscan_parse(data, size, &c, entry, &w) != RES_OK)
			die("a second walk refused what the first accepted");
		compared++;
	}
out:
	X509_CRL_free(crl);
	return 0;
}

/*
 * index_fuzzer.c - libFuzzer target for openssl ca's index.txt reader
 * (tools/ca/index.c), which 'ca import-openssl' feeds with another
 * directory's files.  The input is one index line (ca_index_parse_line),
 * or, after "CRLN", a crlnumber file (ca_crlnumber_parse).  Abort unless:
 *
 *  - a refusal is RES_BAD_INPUT (or RES_NOMEM) with a one-line message and
 *    an empty record;
 *  - an accepted record is one the database may keep: status V or R, a
 *    normalised serial, a subject starting with '/' of printable ASCII
 *    only (no raw control byte reaches 'ca list' or 'export-index'), times
 *    after 1970, revocation fields only on R, a reason RFC 5280 defines;
 *  - ca_index_format() writes it as a line that reads back as the same
 *    record (openssl ca's reason names: privilegeWithdrawn and aACompromise,
 *    which it lacks, read back as unspecified);
 *  - a CRL number is accepted exactly when OpenSSL's BN_hex2bn reads the
 *    same hex digits as a number from 1 to CA_CRL_NUMBER_MAX, and then is
 *    that number.
 *
 * Built and run briefly by `make check` (tests/fuzz.am, smoke.sh).  Longer:
 *
 *   mkdir -p /tmp/index-corpus
 *   tests/fuzz/index_fuzzer -max_total_time=3600 -max_len=1024 \
 *       -artifact_prefix=/tmp/index- /tmp/index-corpus \
 *       $top_srcdir/tests/fuzz/corpus/index
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/bn.h>

#include "ca.h"
#include "result.h"

static unsigned long accepted, refused, numbers; /* printed at exit */

static void stats(void)
{
	fprintf(stderr, "index_fuzzer: %lu lines accepted, %lu refused, %lu CRL numbers accepted\n",
	        accepted, refused, numbers);
}

#define FUZZ_NAME "index_fuzzer"
#include "fuzz-common.h"

static void refusal_ok(int rc, const struct cadb_row *r)
{
	const char *m = res_message();

	if (rc != RES_BAD_INPUT && rc != RES_NOMEM)
		die("refused with a code other than RES_BAD_INPUT/RES_NOMEM");
	if (m[0] == '\0' || strchr(m, '\n') != NULL)
		die("a refusal without a one-line message");
	if (r != NULL && (r->subject != NULL || r->serial[0] != '\0' || r->status != 0))
		die("a refused line left fields in the record");
}

static void record_ok(const struct cadb_row *r)
{
	char norm[PKI_SERIAL_MAX];
	const char *p;

	if (r->status != 'V' && r->status != 'R')
		die("status not V or R");
	if (pki_serial_normalise(r->serial, norm) != RES_OK || strcmp(norm, r->serial) != 0)
		die("serial not normalised");
	if (r->subject == NULL || r->subject[0] != '/')
		die("subject missing or not starting with '/'");
	for (p = r->subject; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
			die("a raw control or non-ASCII byte in the subject");
	if (r->not_after <= 0)
		die("expiry not after 1970");
	if (r->status == 'V' && (r->revoked_at != 0 || r->invalidity != 0 || r->reason != -1))
		die("revocation fields on a V record");
	if (r->status == 'R') {
		if (r->revoked_at <= 0)
			die("R record without a revocation time");
		if (r->reason != 8 && ca_reason_name(r->reason) == NULL)
			die("a reason RFC 5280 does not define");
		if (r->invalidity != 0 && r->reason != 1 && r->reason != 2)
			die("an invalidity date with a reason other than key or CA compromise");
	}
}

static void round_trip(const struct cadb_row *r)
{
	struct cadb_row back;
	char *line = NULL;
	size_t n;
	int want_reason = r->reason == 9 || r->reason == 10 ? 0 : r->reason;

	if (ca_index_format(r, 0, &line) != RES_OK)
		die("a record read could not be written");
	n = strlen(line);
	if (n == 0 || line[n - 1] != '\n' || memchr(line, '\n', n - 1) != NULL)
		die("ca_index_format did not write one line");
	if (ca_index_parse_line(line, n - 1, &back) != RES_OK)
		die("a line ca_index_format wrote does not read back");
	if (back.status != r->status || back.not_after != r->not_after ||
	    back.revoked_at != r->revoked_at || back.reason != want_reason ||
	    back.invalidity != r->invalidity || strcmp(back.serial, r->serial) != 0 ||
	    strcmp(back.subject, r->subject) != 0)
		die("a written line reads back as another record");
	free(back.subject); /* all the reader allocates */
	free(line);
}

/* The oracle: trailing CR/LF off, hex digits only, through BN_hex2bn. */
static void crl_number(const char *text, size_t len)
{
	int64_t got = -1;
	int rc = ca_crlnumber_parse(text, len, &got), want = 0;
	char *copy = malloc(len + 1);
	BIGNUM *bn = NULL, *max = NULL;
	size_t i, n = len;

	if (copy == NULL)
		return;
	while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == '\r'))
		n--;
	memcpy(copy, text, n);
	copy[n] = '\0';
	for (i = 0; i < n && strchr("0123456789abcdefABCDEF", copy[i]) != NULL && copy[i]; i++)
		;
	if (n > 0 && i == n && BN_hex2bn(&bn, copy) == (int)n &&
	    BN_dec2bn(&max, "9223372036854775807") > 0 && !BN_is_zero(bn) && BN_cmp(bn, max) <= 0)
		want = 1;
	if (want != (rc == RES_OK))
		die(want ? "a CRL number OpenSSL reads was refused"
		         : "a CRL number accepted wrongly");
	if (rc == RES_OK) {
		if ((uint64_t)got != BN_get_word(bn))
			die("a CRL number read as another number");
		numbers++;
	} else {
		refusal_ok(rc, NULL);
	}
	BN_free(bn);
	BN_free(max);
	free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cadb_row r;
	int rc;

	if (size >= 4 && memcmp(data, "CRLN", 4) == 0) {
		crl_number((const char *)data + 4, size - 4);
		return 0;
	}
	res_clear();
	if ((rc = ca_index_parse_line((const char *)data, size, &r)) != RES_OK) {
		refusal_ok(rc, &r);
		refused++;
		return 0;
	}
	record_ok(&r);
	round_trip(&r);
	free(r.subject);
	accepted++;
	return 0;
}

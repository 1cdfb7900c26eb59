/*
 * crl_fuzzer.c - libFuzzer target for the CA's CRL encoder (tools/ca/crl.c):
 * the input is read as CRL parameters and a list of entries (serial text,
 * times, reason; format below), encoded with ca_crl_encode() and a software
 * CA key (P-256 with a subjectKeyIdentifier, or Ed25519 without one), and
 * the result must be what the oracle (crl-check.c, shared with
 * tests/test-crl-encode.c) predicts: RES_BAD_INPUT with nothing written
 * exactly when an entry or parameter is out of range, else a CRL that
 * d2i_X509_CRL parses, that verifies, re-encodes byte for byte and lists
 * the same entries.  Abort on any mismatch.
 *
 * Input (missing bytes read as 0):
 *   flags       bit 0: Ed25519 (else P-256), bit 1: PEM, bit 2: sha384
 *   time        thisUpdate, then nextUpdate
 *   number      n < 0x80: n; else 8 bytes, little-endian int64
 *   entries     until the input ends (at most MAX_ENTRIES), each:
 *     L         serial length L & 0x3f (clamped to 41: then no NUL in the
 *               field); L & 0x40: raw bytes, else one hex digit per byte
 *     serial    those bytes
 *     reason    b < 0xf0: one of -1,0,1-6,8-10 (b % 11); else (int8_t)b
 *     time      revocation date
 *     i         odd: an invalidityDate (time) follows; even: none
 *   time        s % 4 == 0: an edge (s >> 2); 1: 8 bytes, int64; 2: 5 bytes
 *               across the years 1000-9999; 3: 4 bytes across 1950-2049
 *
 * Built and smoke-run like csr_fuzzer.c (tests/fuzz/README.md).  Longer:
 *
 *   mkdir -p /tmp/crl-corpus
 *   tests/fuzz/crl_fuzzer -max_total_time=3600 -max_len=2048 -jobs=2 -workers=2 \
 *       -artifact_prefix=/tmp/crl- /tmp/crl-corpus $top_srcdir/tests/fuzz/corpus/crl
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include "crl-check.h"
#include "result.h"

#define MAX_ENTRIES 256

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static EVP_PKEY *keys[2];
static X509 *certs[2];
static unsigned long accepted, refused; /* printed at exit */

static void stats(void)
{
	fprintf(stderr, "crl_fuzzer: %lu CRLs encoded and checked, %lu inputs refused\n", accepted,
	        refused);
}

static void die(const char *why)
{
	fprintf(stderr, "crl_fuzzer: %s\n", why);
	abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	keys[0] = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	keys[1] = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	if (keys[0] == NULL || keys[1] == NULL ||
	    (certs[0] = crl_check_make_ca(keys[0], "sha256", 1)) == NULL ||
	    (certs[1] = crl_check_make_ca(keys[1], NULL, 0)) == NULL)
		die("no CA key");
	atexit(stats);
	return 0;
}

struct in {
	const uint8_t *p;
	size_t left;
};

static uint8_t byte(struct in *in)
{
	if (in->left == 0)
		return 0;
	in->left--;
	return *in->p++;
}

static uint64_t bytes(struct in *in, int n)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < n; i++)
		v |= (uint64_t)byte(in) << (8 * i);
	return v;
}

static int64_t read_time(struct in *in)
{
	static const int64_t edges[] = {
		2524607999LL,
		2524608000LL,
		-631152000LL,
		-631151999LL - 2,
		CA_CRL_TIME_MAX,
		CA_CRL_TIME_MAX + 1,
		CA_CRL_TIME_MIN,
		CA_CRL_TIME_MIN - 1,
		0,
		1,
		2147483648LL,
		-62135596800LL,
		INT64_MAX,
		INT64_MIN,
		-1,
		1700000000,
	};
	uint8_t s = byte(in);

	switch (s % 4) {
	case 0: return edges[(s >> 2) % (sizeof(edges) / sizeof(edges[0]))];
	case 1: return (int64_t)bytes(in, 8);
	case 2:
		return CA_CRL_TIME_MIN +
		       (int64_t)(bytes(in, 5) % (uint64_t)(CA_CRL_TIME_MAX - CA_CRL_TIME_MIN + 1));
	default: return -631152000LL + (int64_t)(bytes(in, 4) % (2524608000ULL + 631152000ULL));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int reasons[] = { -1, 0, 1, 2, 3, 4, 5, 6, 8, 9, 10 };
	static const char digits[] = "0123456789abcdefABCDEF";
	static struct cadb_row rows[MAX_ENTRIES];
	struct in in = { data, size };
	struct ca_crl_params p = { 0 };
	struct crl_check_rows src = { rows, 0 };
	struct crl_check_sink sink = { 0 };
	unsigned char *der = NULL;
	const char *why;
	size_t n = 0, len, i, count = 0;
	long dlen;
	uint8_t flags = byte(&in), b;
	int expect_ok, ret;

	p.key = keys[flags & 1];
	p.issuer = certs[flags & 1];
	p.pem = (flags >> 1) & 1;
	p.md = flags & 4 ? "sha384" : "sha256";
	p.this_update = read_time(&in);
	p.next_update = read_time(&in);
	b = byte(&in);
	p.number = b < 0x80 ? b : (int64_t)bytes(&in, 8);
	expect_ok = crl_check_params_valid(&p);
	while (in.left > 0 && n < MAX_ENTRIES) {
		struct cadb_row *r = &rows[n++];

		memset(r, 0, sizeof(*r));
		b = byte(&in);
		len = b & 0x3f;
		if (len > sizeof(r->serial))
			len = sizeof(r->serial);
		for (i = 0; i < len; i++)
			r->serial[i] = b & 0x40 ? (char)byte(&in) : digits[byte(&in) % 22];
		b = byte(&in);
		r->reason = b < 0xf0 ? reasons[b % 11] : (int)(int8_t)b;
		r->status = 'R';
		r->revoked_at = read_time(&in);
		r->invalidity = byte(&in) & 1 ? read_time(&in) : 0;
		if (!crl_check_entry_valid(r))
			expect_ok = 0;
	}
	src.n = n;
	res_clear();
	ret = ca_crl_encode(&p, crl_check_walk, &src, crl_check_sink_write, &sink, &count);
	if (!expect_ok) {
		if (ret != RES_BAD_INPUT)
			die(ret == RES_OK ? "accepted what the oracle refuses" : res_message());
		if (sink.calls != 0 || count != 0)
			die("refused after writing");
		if (res_message()[0] == '\0' || strchr(res_message(), '\n') != NULL)
			die("refused without a one-line message");
		refused++;
		goto out;
	}
	if (ret != RES_OK) {
		fprintf(stderr, "crl_fuzzer: %s: %s\n", res_name(ret), res_message());
		die("refused what the oracle accepts");
	}
	if (count != n)
		die("another count");
	if (p.pem) {
		if (!crl_check_pem_to_der(sink.p, sink.len, &der, &dlen))
			die("the PEM does not read");
		why = crl_check_der(der, (size_t)dlen, &p, rows, n);
	} else {
		why = crl_check_der(sink.p, sink.len, &p, rows, n);
	}
	if (why != NULL)
		die(why);
	accepted++;
out:
	OPENSSL_free(der);
	crl_check_sink_free(&sink);
	ERR_clear_error();
	return 0;
}

/*
 * test-crl-encode.c - tools/ca/crl.c, the streaming DER CRL encoder, against
 * OpenSSL's parser (a differential test): CRLs signed with software RSA-2048,
 * P-256 and Ed25519 CA keys, of edge-case and random entries, must parse with
 * d2i_X509_CRL, verify with the CA key, re-encode byte for byte (minimal DER)
 * and say exactly what they were given (tests/fuzz/crl-check.c is the
 * oracle, shared with tests/fuzz/crl_fuzzer.c).  Malformed entries, failing
 * writers and walks are refused with the codes crl.h promises.
 *
 * The random entries come from a fixed seed printed in the log;
 * CRL_ENCODE_SEED=N reproduces or varies a run.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include "crl.h"
#include "result.h"
#include "fuzz/crl-check.h"

#define ROUNDS         4   /* random rounds per key */
#define RANDOM_ENTRIES 300 /* entries per round */
#define LARGE_ENTRIES  100000

/* 2049-12-31T23:59:59Z and the second after: the UTCTime/GeneralizedTime switch */
#define T_2049_END 2524607999LL
#define T_2050     2524608000LL
#define T_1950     (-631152000LL)

struct ca_key {
	const char *what;
	const char *md;
	EVP_PKEY *key;
	X509 *cert;
};

static struct ca_key keys[3];
static uint64_t rng;

static uint64_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static int setup(void **state)
{
	const char *env = getenv("CRL_ENCODE_SEED");
	size_t i;

	(void)state;
	rng = env != NULL ? strtoull(env, NULL, 0) : 0x5eed2024c0ffeeULL;
	if (rng == 0)
		rng = 1;
	print_message("random entries from seed %llu (CRL_ENCODE_SEED to change)\n",
	              (unsigned long long)rng);
	keys[0] = (struct ca_key){ "RSA-2048", "sha256",
		                   EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048), NULL };
	keys[1] = (struct ca_key){ "P-256", "sha384", EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256"),
		                   NULL };
	/* no subjectKeyIdentifier: the AKI is the SHA-1 of its key; md ignored */
	keys[2] =
	    (struct ca_key){ "Ed25519", "sha256", EVP_PKEY_Q_keygen(NULL, NULL, "ED25519"), NULL };
	for (i = 0; i < 3; i++) {
		if (keys[i].key == NULL)
			return -1;
		keys[i].cert = crl_check_make_ca(keys[i].key, i == 2 ? NULL : keys[i].md, i != 2);
		if (keys[i].cert == NULL)
			return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < 3; i++) {
		X509_free(keys[i].cert);
		EVP_PKEY_free(keys[i].key);
	}
	return 0;
}

static struct ca_crl_params params_of(const struct ca_key *k, int pem)
{
	struct ca_crl_params p = { 0 };

	p.libctx = NULL;
	p.issuer = k->cert;
	p.key = k->key;
	p.md = k->md;
	p.this_update = 1700000000;
	p.next_update = 1700000000 + 7 * 86400;
	p.number = 42;
	p.pem = pem;
	return p;
}

static struct cadb_row row(const char *serial, int64_t revoked_at, int reason, int64_t invalidity)
{
	struct cadb_row r;

	memset(&r, 0, sizeof(r));
	snprintf(r.serial, sizeof(r.serial), "%s", serial);
	r.status = 'R';
	r.revoked_at = revoked_at;
	r.reason = reason;
	r.invalidity = invalidity;
	return r;
}

/* Encodes @rows with @p and checks the result against them (DER, or PEM then DER). */
static void encode_and_check(const struct ca_crl_params *p, const struct cadb_row *rows, size_t n,
                             const char *what)
{
	struct crl_check_rows src = { rows, n };
	struct crl_check_sink sink = { 0 };
	const unsigned char *der;
	unsigned char *pem_der = NULL;
	const char *why;
	size_t count = (size_t)-1, len;
	long dlen;
	int ret;

	res_clear();
	ret = ca_crl_encode(p, crl_check_walk, &src, crl_check_sink_write, &sink, &count);
	if (ret != RES_OK)
		fail_msg("%s: %s: %s", what, res_name(ret), res_message());
	assert_int_equal(count, n);
	der = sink.p;
	len = sink.len;
	if (p->pem) {
		if (!crl_check_pem_to_der(sink.p, sink.len, &pem_der, &dlen))
			fail_msg("%s: the PEM does not read", what);
		assert_memory_equal(sink.p, "-----BEGIN X509 CRL-----\n", 25);
		der = pem_der;
		len = (size_t)dlen;
	}
	if ((why = crl_check_der(der, len, p, rows, n)) != NULL)
		fail_msg("%s: %s", what, why);
	OPENSSL_free(pem_der);
	crl_check_sink_free(&sink);
}

static const struct cadb_row *edge_rows(size_t *pn)
{
	static struct cadb_row rows[64];
	static const char *const serials[] = {
		"00",
		"80",
		"FF",
		"7F",
		"0080",
		"0",
		"1",
		"f",
		"ABC",
		"abcdef",
		"0000",
		"00FF",
		"FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF", /* 20 octets, top bit set */
		"8000000000000000000000000000000000000000", /* 20 octets, top bit set */
		"7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF", /* 20 octets, positive as it is */
		"0000000000000000000000000000000000000001", /* 40 digits, value 1 */
		"123456789abcdef0123456789ABCDEF012345678",
		"FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF", /* 39 digits */
		"1fffffffffffffffffffffffffffffffffffffff",
	};
	static const int64_t times[] = {
		T_2049_END,
		T_2050,
		T_1950,
		T_1950 - 1,
		CA_CRL_TIME_MAX,
		CA_CRL_TIME_MIN,
		0,
		1,
		2147483647LL,
		2147483648LL,
		-2208988800LL /* 1900 */,
		1700000000,
	};
	static const int reasons[] = { -1, 0, 1, 2, 3, 4, 5, 6, 8, 9, 10 };
	size_t n = 0, i;

	for (i = 0; i < sizeof(serials) / sizeof(serials[0]); i++)
		rows[n++] = row(serials[i], times[i % 12], reasons[i % 11],
		                i % 3 == 0 ? 0 : times[(i + 5) % 12]);
	/* every reason with every kind of invalidity date */
	for (i = 0; i < 11; i++)
		rows[n++] = row("0102", times[i], reasons[i], i % 2 ? times[(i + 1) % 12] : 0);
	for (i = 0; i < 12; i++)
		rows[n++] = row("42", times[i], 1, times[11 - i] != 0 ? times[11 - i] : 1);
	*pn = n;
	return rows;
}

static void test_edge_cases(void **state)
{
	const struct cadb_row *rows;
	struct ca_crl_params p;
	char what[128];
	size_t n, k, pem;

	(void)state;
	rows = edge_rows(&n);
	for (k = 0; k < 3; k++)
		for (pem = 0; pem < 2; pem++) {
			p = params_of(&keys[k], (int)pem);
			snprintf(what, sizeof(what), "%s, %s, edge entries", keys[k].what,
			         pem ? "PEM" : "DER");
			encode_and_check(&p, rows, n, what);
			/* updates at the UTCTime/GeneralizedTime switch, numbers at byte edges */
			p.this_update = T_2049_END;
			p.next_update = T_2050;
			p.number = pem ? 0x80 : 0;
			encode_and_check(&p, rows, n, what);
			p.this_update = T_1950 - 1;
			p.next_update = CA_CRL_TIME_MAX;
			p.number = pem ? INT64_MAX : 0x7f;
			encode_and_check(&p, rows, n, what);
		}
}

static int64_t random_time(void)
{
	static const int64_t edges[] = { T_2049_END, T_2050,          T_1950,
		                         T_1950 - 1, CA_CRL_TIME_MAX, CA_CRL_TIME_MIN };

	switch (next_rand() % 4) {
	case 0: return edges[next_rand() % 6];
	case 1: /* anywhere in the years 1-9999 */
		return CA_CRL_TIME_MIN +
		       (int64_t)(next_rand() % (uint64_t)(CA_CRL_TIME_MAX - CA_CRL_TIME_MIN + 1));
	default: /* the UTCTime years */
		return T_1950 + (int64_t)(next_rand() % (uint64_t)(T_2050 - T_1950));
	}
}

static void random_row(struct cadb_row *r)
{
	static const char digits[] = "0123456789abcdefABCDEF";
	static const int reasons[] = { -1, 0, 1, 2, 3, 4, 5, 6, 8, 9, 10 };
	size_t len = 1 + next_rand() % 40, i, zeros = next_rand() % 8 == 0 ? next_rand() % len : 0;

	memset(r, 0, sizeof(*r));
	for (i = 0; i < len; i++)
		r->serial[i] = i < zeros ? '0' : digits[next_rand() % 22];
	r->status = 'R';
	r->revoked_at = random_time();
	r->reason = reasons[next_rand() % 11];
	r->invalidity = next_rand() % 2 ? random_time() : 0;
}

static void test_random_entries(void **state)
{
	static struct cadb_row rows[RANDOM_ENTRIES];
	struct ca_crl_params p;
	char what[128];
	size_t k, round, i, n;

	(void)state;
	for (k = 0; k < 3; k++)
		for (round = 0; round < ROUNDS; round++) {
			n = RANDOM_ENTRIES - next_rand() % 50;
			for (i = 0; i < n; i++)
				random_row(&rows[i]);
			p = params_of(&keys[k], round % 2);
			p.this_update = random_time();
			p.next_update = random_time();
			p.number = (int64_t)(next_rand() >> (next_rand() % 64));
			snprintf(what, sizeof(what), "%s, round %zu (%zu entries)", keys[k].what,
			         round, n);
			encode_and_check(&p, rows, n, what);
		}
}

static void test_empty(void **state)
{
	struct ca_crl_params p;
	size_t k;

	(void)state;
	for (k = 0; k < 3; k++) {
		p = params_of(&keys[k], 0);
		encode_and_check(&p, NULL, 0, keys[k].what);
		p.pem = 1;
		encode_and_check(&p, NULL, 0, keys[k].what);
	}
}

/* RES_BAD_INPUT, a one-line message, and the writer never called. */
static void assert_refused(const struct ca_crl_params *p, const struct cadb_row *rows, size_t n,
                           const char *what)
{
	struct crl_check_rows src = { rows, n };
	struct crl_check_sink sink = { 0 };
	int ret;

	res_clear();
	ret = ca_crl_encode(p, crl_check_walk, &src, crl_check_sink_write, &sink, NULL);
	if (ret != RES_BAD_INPUT)
		fail_msg("%s: %s, not RES_BAD_INPUT", what, res_name(ret));
	assert_true(res_message()[0] != '\0');
	assert_null(strchr(res_message(), '\n'));
	assert_int_equal(sink.calls, 0);
	crl_check_sink_free(&sink);
}

static void test_malformed_refused(void **state)
{
	static const char *const serials[] = {
		"",      "0x12",
		"12 ",   " 12",
		"-1",    "G1",
		"12:34", "+5",
		"1.0",   "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF0", /* 41 digits */
	};
	static const int reasons[] = { 7, 11, -2, 255, -100 };
	static const int64_t times[] = { CA_CRL_TIME_MAX + 1, CA_CRL_TIME_MIN - 1, INT64_MAX,
		                         -62135596800LL /* 0001-01-01 */, INT64_MIN };
	struct ca_crl_params p = params_of(&keys[1], 0);
	struct cadb_row rows[3];
	size_t i;

	(void)state;
	rows[0] = row("01", 1700000000, 1, 0);
	rows[2] = row("03", 1700000000, 1, 0);
	for (i = 0; i < sizeof(serials) / sizeof(serials[0]); i++) {
		rows[1] = row("02", 1700000000, 1, 0);
		/* snprintf in row() truncates: set 41 digits without their NUL by hand */
		memset(rows[1].serial, 0, sizeof(rows[1].serial));
		memcpy(rows[1].serial, serials[i],
		       strlen(serials[i]) < sizeof(rows[1].serial) ? strlen(serials[i])
		                                                   : sizeof(rows[1].serial));
		assert_false(crl_check_entry_valid(&rows[1]));
		assert_refused(&p, rows, 3, serials[i]);
	}
	for (i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++) {
		rows[1] = row("02", 1700000000, reasons[i], 0);
		assert_refused(&p, rows, 3, "reason");
		assert_non_null(strstr(res_message(), "reason"));
	}
	for (i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
		rows[1] = row("02", times[i], 1, 0);
		assert_refused(&p, rows, 3, "revocation time");
		rows[1] = row("02", 1700000000, 1, times[i]);
		assert_refused(&p, rows, 3, "invalidity date");
		p.this_update = times[i];
		rows[1] = row("02", 1700000000, 1, 0);
		assert_refused(&p, rows, 3, "thisUpdate");
		p = params_of(&keys[1], 0);
		p.next_update = times[i];
		assert_refused(&p, rows, 3, "nextUpdate");
		p = params_of(&keys[1], 0);
	}
	p.number = -1;
	assert_refused(&p, rows, 3, "negative number");
}

static void test_writer_fails(void **state)
{
	const struct cadb_row *rows;
	struct crl_check_rows src;
	struct crl_check_sink sink = { 0 };
	struct ca_crl_params p;
	size_t n, after, pem, total;
	int ret;

	(void)state;
	rows = edge_rows(&n);
	src = (struct crl_check_rows){ rows, n };
	for (pem = 0; pem < 2; pem++) {
		p = params_of(&keys[2], (int)pem);
		assert_int_equal(
		    ca_crl_encode(&p, crl_check_walk, &src, crl_check_sink_write, &sink, NULL),
		    RES_OK);
		total = sink.len;
		crl_check_sink_free(&sink);
		/* failing at the first byte, within the entries, at the very last byte */
		for (after = 1; after < total;
		     after += after < total / 2 ? total / 7 : 1 + total / 11) {
			sink.fail_after = after;
			ret = ca_crl_encode(&p, crl_check_walk, &src, crl_check_sink_write, &sink,
			                    NULL);
			assert_int_equal(ret, RES_IO);
			assert_true(sink.len <= after);
			crl_check_sink_free(&sink);
		}
		sink.fail_after = total - 1;
		assert_int_equal(
		    ca_crl_encode(&p, crl_check_walk, &src, crl_check_sink_write, &sink, NULL),
		    RES_IO);
		crl_check_sink_free(&sink);
	}
}

static int walk_fails(void *src, cadb_row_cb cb, void *cbarg)
{
	struct cadb_row r = row("01", 1700000000, 1, 0);
	int ret;

	(void)src;
	if ((ret = cb(&r, cbarg)) != RES_OK)
		return ret;
	return res_set(RES_DB, "the database went away");
}

static void test_walk_fails(void **state)
{
	struct ca_crl_params p = params_of(&keys[1], 0);
	struct crl_check_sink sink = { 0 };
	size_t count = 7;

	(void)state;
	assert_int_equal(ca_crl_encode(&p, walk_fails, NULL, crl_check_sink_write, &sink, &count),
	                 RES_DB);
	assert_string_equal(res_message(), "the database went away");
	assert_int_equal(sink.calls, 0);
	assert_int_equal(count, 0);
}

/* A large CRL: its size per entry (the memory the encoder needs) and its time. */
static void test_large(void **state)
{
	struct cadb_row *rows = calloc(LARGE_ENTRIES, sizeof(*rows));
	struct crl_check_rows src = { rows, LARGE_ENTRIES };
	struct crl_check_sink sink = { 0 };
	struct ca_crl_params p = params_of(&keys[0], 0);
	struct timespec t0, t1;
	const char *why;
	size_t i, count;

	(void)state;
	assert_non_null(rows);
	for (i = 0; i < LARGE_ENTRIES; i++) {
		/* 16-byte serials as the CA draws them, a reason for half */
		snprintf(rows[i].serial, sizeof(rows[i].serial), "%016llX%016llX",
		         (unsigned long long)(next_rand() >> 1), (unsigned long long)next_rand());
		rows[i].revoked_at = 1700000000 + (int64_t)i;
		rows[i].reason = i % 2 ? 1 : -1;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(
	    ca_crl_encode(&p, crl_check_walk, &src, crl_check_sink_write, &sink, &count), RES_OK);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_int_equal(count, LARGE_ENTRIES);
	print_message("%d entries: %zu bytes (%.1f a entry), encoded and signed in %.3f s\n",
	              LARGE_ENTRIES, sink.len, (double)sink.len / LARGE_ENTRIES,
	              (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
	if ((why = crl_check_der(sink.p, sink.len, &p, rows, LARGE_ENTRIES)) != NULL)
		fail_msg("large CRL: %s", why);
	crl_check_sink_free(&sink);
	free(rows);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_edge_cases),   cmocka_unit_test(test_random_entries),
		cmocka_unit_test(test_empty),        cmocka_unit_test(test_malformed_refused),
		cmocka_unit_test(test_writer_fails), cmocka_unit_test(test_walk_fails),
		cmocka_unit_test(test_large),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}

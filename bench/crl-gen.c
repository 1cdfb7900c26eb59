/*
 * crl-gen.c - a CRL of N revoked entries for bench/crl-bench.sh, encoded
 * by the CA library's streaming encoder (tools/ca/crl.h) and signed with a
 * software CA key: random 16-octet serials, every reason code in turn,
 * revocation dates over the past year.  DER on the output file.
 *
 *   crl-gen N CA.pem CA.key OUT.der [NUMBER]
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/pem.h>
#include <openssl/rand.h>

#include "crl.h"
#include "result.h"

struct gen {
	unsigned long n;
	int64_t now;
};

static int walk(void *src, cadb_row_cb cb, void *cbarg)
{
	static const int reasons[] = { -1, 1, 2, 3, 4, 5, 6, 8, 9, 10 };
	struct gen *g = src;
	struct cadb_row r;
	unsigned char sn[16];
	int rc;

	for (unsigned long i = 0; i < g->n; i++) {
		memset(&r, 0, sizeof(r));
		if (RAND_bytes(sn, sizeof(sn)) != 1)
			return RES_CRYPTO;
		sn[0] = (unsigned char)((sn[0] & 0x7f) | 0x01);
		for (size_t k = 0; k < sizeof(sn); k++)
			snprintf(r.serial + 2 * k, 3, "%02X", sn[k]);
		r.status = 'R';
		r.revoked_at = g->now - (int64_t)(i % (365 * 86400));
		r.reason = reasons[i % 10];
		if ((rc = cb(&r, cbarg)) != 0)
			return rc;
	}
	return RES_OK;
}

static int out(void *arg, const unsigned char *p, size_t len)
{
	return fwrite(p, 1, len, arg) != len;
}

int main(int argc, char **argv)
{
	struct ca_crl_params p = { 0 };
	struct gen g;
	FILE *f;
	size_t count = 0;
	int rc;

	if (argc < 5) {
		fprintf(stderr, "usage: crl-gen N CA.pem CA.key OUT.der [NUMBER]\n");
		return 2;
	}
	g.n = strtoul(argv[1], NULL, 10);
	g.now = (int64_t)time(NULL);
	if ((f = fopen(argv[2], "r")) == NULL ||
	    (p.issuer = PEM_read_X509(f, NULL, NULL, NULL)) == NULL)
		return fprintf(stderr, "crl-gen: %s: no certificate\n", argv[2]), 1;
	fclose(f);
	if ((f = fopen(argv[3], "r")) == NULL ||
	    (p.key = PEM_read_PrivateKey(f, NULL, NULL, NULL)) == NULL)
		return fprintf(stderr, "crl-gen: %s: no key\n", argv[3]), 1;
	fclose(f);
	p.md = "sha256";
	p.this_update = g.now - 60;
	p.next_update = g.now + 7 * 86400;
	p.number = argc > 5 ? strtol(argv[5], NULL, 10) : 1;
	if ((f = fopen(argv[4], "wb")) == NULL)
		return fprintf(stderr, "crl-gen: %s: cannot write\n", argv[4]), 1;
	rc = ca_crl_encode(&p, walk, &g, out, f, &count);
	if (fclose(f) != 0 || rc != RES_OK) {
		fprintf(stderr, "crl-gen: %s\n", res_message());
		return 1;
	}
	fprintf(stderr, "crl-gen: %zu entries\n", count);
	X509_free(p.issuer);
	EVP_PKEY_free(p.key);
	return 0;
}

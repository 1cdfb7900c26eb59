/*
 * crl-lookup.c - the limit of one revocation check from the CRL store:
 * rev_store_lookup() of LEAF issued by CA, COUNT times, in one process
 * (the store opened once); prints the status and microseconds per lookup.
 *
 *   crl-lookup STORE LEAF.pem CA.pem [COUNT]
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <openssl/pem.h>

#include "result.h"
#include "store.h"

static X509 *load(const char *path)
{
	FILE *f = fopen(path, "r");
	X509 *x = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;

	if (f)
		fclose(f);
	return x;
}

int main(int argc, char **argv)
{
	static const char *const names[] = { "none", "good", "revoked", "expired", "not yet" };
	struct rev_store *s = NULL;
	struct rev_crl_answer a;
	struct timespec t0, t1;
	long count = argc > 4 ? strtol(argv[4], NULL, 10) : 1000;
	X509 *leaf, *ca;
	int st = -1;

	if (argc < 4)
		return fprintf(stderr, "usage: crl-lookup STORE LEAF.pem CA.pem [COUNT]\n"), 2;
	if ((leaf = load(argv[2])) == NULL || (ca = load(argv[3])) == NULL)
		return fprintf(stderr, "crl-lookup: cannot read the certificates\n"), 1;
	if (rev_store_open(argv[1], 0, &s) != RES_OK)
		return fprintf(stderr, "crl-lookup: %s\n", res_message()), 1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (long i = 0; i < count; i++) {
		if (rev_store_lookup(s, leaf, ca, 0, 0, &a) != RES_OK)
			return fprintf(stderr, "crl-lookup: %s\n", res_message()), 1;
		st = (int)a.status;
		rev_crl_answer_clear(&a);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("%s %.1f\n", st >= 0 && st <= 4 ? names[st] : "?",
	       ((double)(t1.tv_sec - t0.tv_sec) * 1e6 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e3) /
	           (double)count);
	rev_store_close(s);
	X509_free(leaf);
	X509_free(ca);
	return 0;
}

/*
 * csr_fuzzer.c - libFuzzer target for the CA's CSR reader (tools/ca/csr.c):
 * ca_csr_parse() on arbitrary bytes must never crash, refuse with
 * RES_BAD_INPUT (or RES_NOMEM) and a one-line message, and accept nothing
 * that OpenSSL's d2i_X509_REQ + X509_REQ_verify refuse (abort otherwise).
 *
 * An input starting with "SIGN" is the rest taken as a
 * CertificationRequestInfo, signed here with a fixed Ed25519 key (private
 * key 32 bytes of 0x11; seeds carry its public key) and wrapped into a
 * request: mutations inside the signed part then still verify, so the fast
 * path's reading of versions, names, keys and attributes is compared with
 * OpenSSL's too (where it is stricter, it is counted, not an error).
 *
 * Built by `make check` when configure finds clang with libFuzzer
 * (tests/fuzz.am); `make check TESTS=tests/fuzz/smoke.sh` runs it briefly.
 * A longer run, from the build directory (new inputs go to the first,
 * scratch, directory; the committed corpus is only read):
 *
 *   mkdir -p /tmp/csr-corpus
 *   ASAN_OPTIONS=detect_leaks=1 tests/fuzz/csr_fuzzer -max_total_time=3600 \
 *       -max_len=4096 -jobs=2 -workers=2 -artifact_prefix=/tmp/csr- \
 *       /tmp/csr-corpus $top_srcdir/tests/fuzz/corpus/csr
 *
 * Reproduce a crash: tests/fuzz/csr_fuzzer /tmp/csr-crash-<sha1>.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "csr.h"
#include "result.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static unsigned long accepted, refused, stricter; /* printed at exit */
static EVP_PKEY *signer;

static void stats(void)
{
	fprintf(stderr,
	        "csr_fuzzer: %lu requests accepted (OpenSSL agreeing), %lu refused (%lu of them "
	        "accepted by OpenSSL)\n",
	        accepted, refused, stricter);
}

static void die(const char *why)
{
	fprintf(stderr, "csr_fuzzer: %s\n", why);
	abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	unsigned char priv[32];

	(void)argc;
	(void)argv;
	memset(priv, 0x11, sizeof(priv));
	if ((signer = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, priv, sizeof(priv))) ==
	    NULL)
		die("no Ed25519 key");
	atexit(stats);
	return 0;
}

/* SEQUENCE { @info, Ed25519, BIT STRING signature } into @out (cap 8192); its length or 0. */
static size_t wrap_signed(const uint8_t *info, size_t len, unsigned char *out)
{
	static const unsigned char alg[] = { 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70 };
	unsigned char sig[64];
	size_t siglen = sizeof(sig), body = len + sizeof(alg) + 3 + 64, n = 0;
	EVP_MD_CTX *mctx = EVP_MD_CTX_new();
	int ok;

	ok = mctx != NULL && len <= 4096 &&
	     EVP_DigestSignInit_ex(mctx, NULL, NULL, NULL, NULL, signer, NULL) == 1 &&
	     EVP_DigestSign(mctx, sig, &siglen, info, len) == 1 && siglen == 64;
	EVP_MD_CTX_free(mctx);
	if (!ok)
		return 0;
	out[n++] = 0x30;
	if (body < 0x80) {
		out[n++] = (unsigned char)body;
	} else if (body < 0x100) {
		out[n++] = 0x81, out[n++] = (unsigned char)body;
	} else {
		out[n++] = 0x82;
		out[n++] = (unsigned char)(body >> 8);
		out[n++] = (unsigned char)body;
	}
	memcpy(out + n, info, len), n += len;
	memcpy(out + n, alg, sizeof(alg)), n += sizeof(alg);
	out[n++] = 0x03, out[n++] = 65, out[n++] = 0;
	memcpy(out + n, sig, 64), n += 64;
	return n;
}

static int is_pem(const uint8_t *data, size_t size)
{
	size_t i;

	for (i = 0; i + 11 <= size; i++)
		if (memcmp(data + i, "-----BEGIN ", 11) == 0)
			return 1;
	return 0;
}

/* OpenSSL's own verdict, and (when it accepts) the request it read (*preq). */
static int openssl_accepts(const uint8_t *data, size_t size, X509_REQ **preq)
{
	unsigned char *der = NULL;
	const unsigned char *p;
	char *name = NULL, *header = NULL;
	long len = (long)size;
	X509_REQ *req = NULL;
	BIO *bio = NULL;
	EVP_PKEY *pk;
	int ok = 0;

	p = data;
	if (is_pem(data, size)) {
		if ((bio = BIO_new_mem_buf(data, (int)size)) == NULL ||
		    PEM_read_bio(bio, &name, &header, &der, &len) != 1 ||
		    (strcmp(name, PEM_STRING_X509_REQ) != 0 &&
		     strcmp(name, PEM_STRING_X509_REQ_OLD) != 0))
			goto out;
		p = der;
	}
	{
		const unsigned char *q = p;
		req = d2i_X509_REQ(NULL, &q, len);
		ok = req != NULL && q == p + len && (pk = X509_REQ_get0_pubkey(req)) != NULL &&
		     X509_REQ_verify(req, pk) > 0;
	}
out:
	if (ok)
		*preq = req;
	else
		X509_REQ_free(req);
	OPENSSL_free(name);
	OPENSSL_free(header);
	OPENSSL_free(der);
	BIO_free(bio);
	ERR_clear_error();
	return ok;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ca_csr c;
	X509_REQ *req = NULL;
	const unsigned char *bits;
	static unsigned char wrapped[8192];
	int ret, blen;

	if (size >= 4 && memcmp(data, "SIGN", 4) == 0) {
		if ((size = wrap_signed(data + 4, size - 4, wrapped)) == 0)
			return 0;
		data = wrapped;
	}
	res_clear();
	ret = ca_csr_parse(NULL, data, size, &c);
	if (ret == RES_OK) {
		if (c.subject == NULL || c.pkey == NULL || c.key_alg == NULL || c.key_bits == NULL)
			die("accepted with a member missing");
		if (!openssl_accepts(data, size, &req))
			die("accepted a request OpenSSL refuses");
		/* and read it as OpenSSL does */
		if (X509_NAME_cmp(c.subject, X509_REQ_get_subject_name(req)) != 0)
			die("another subject than OpenSSL's");
		if (EVP_PKEY_eq(c.pkey, X509_REQ_get0_pubkey(req)) != 1)
			die("another public key than OpenSSL's");
		if (!X509_PUBKEY_get0_param(NULL, &bits, &blen, NULL,
		                            X509_REQ_get_X509_PUBKEY(req)) ||
		    blen != c.key_len || memcmp(bits, c.key_bits, (size_t)blen) != 0)
			die("other key bits than OpenSSL's");
		X509_REQ_free(req);
		ca_csr_free(&c);
		accepted++;
	} else {
		if (ret != RES_BAD_INPUT && ret != RES_NOMEM)
			die("refused with an unexpected code");
		if (res_message()[0] == '\0' || strchr(res_message(), '\n') != NULL)
			die("refused without a one-line message");
		if (c.subject != NULL || c.pkey != NULL || c.key_alg != NULL ||
		    c.key_bits != NULL || c.exts != NULL)
			die("refused but left members behind");
		refused++;
		if (openssl_accepts(data, size, &req)) {
			X509_REQ_free(req);
			stricter++;
		}
	}
	ERR_clear_error();
	return 0;
}

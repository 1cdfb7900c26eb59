/*
 * ocspreq_fuzzer.c - libFuzzer target for what `p11ca serve` reads from
 * any client before anything else: the OCSP request's DER walk
 * (srv_ocsp_req_parse) and the GET path's base64 (srv_ocsp_get_decode),
 * tools/serve/codec.c.  An input starting with "GET " is a URL path after
 * the OCSP prefix: decoded, then parsed; any other is a POST body.
 *
 * What must hold (abort otherwise): no crash, leak, UB or read outside the
 * input; a refusal is RES_BAD_INPUT (RES_LIMIT for a GET too long) with a
 * one-line message, and hands out no CertID; a GET decoded fits its cap,
 * and reads the same with a query string appended; a request accepted is
 * one OpenSSL's d2i_OCSP_REQUEST reads whole, with as many CertIDs, each
 * with the same algorithm, hashes and serial, and the same nonce
 * extension value; every field within its bound.
 *
 * Built and smoke-run like csr_fuzzer.c (tests/fuzz/README.md).  Longer:
 *
 *   mkdir -p /tmp/ocspreq-corpus
 *   tests/fuzz/ocspreq_fuzzer -max_total_time=3600 -max_len=4096 \
 *       -artifact_prefix=/tmp/ocspreq- /tmp/ocspreq-corpus $top_srcdir/tests/fuzz/corpus/ocspreq
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/ocsp.h>

#include "codec.h"
#include "result.h"

static unsigned long accepted, refused, gets; /* printed at exit */

static void stats(void)
{
	fprintf(stderr, "ocspreq_fuzzer: %lu accepted, %lu refused, %lu GET paths decoded\n",
	        accepted, refused, gets);
}

#define FUZZ_NAME "ocspreq_fuzzer"
#include "fuzz-common.h"

#define GET_CAP 4096

static void same_id(const struct srv_certid *id, OCSP_CERTID *cid)
{
	ASN1_OCTET_STRING *nh, *kh;
	ASN1_OBJECT *md;
	ASN1_INTEGER *sn;
	unsigned char mag[64];
	BIGNUM *bn;
	int nid, n;

	if (OCSP_id_get0_info(&nh, &md, &kh, &sn, cid) != 1)
		die("OpenSSL reads no CertID");
	nid = OBJ_obj2nid(md);
	if (nid != NID_sha1 && nid != NID_sha256 && nid != NID_sha384 && nid != NID_sha512)
		nid = NID_undef;
	if (id->md_nid != nid)
		die("another hash algorithm than OpenSSL reads");
	if (id->hash_len > SRV_HASH_MAX || (size_t)ASN1_STRING_length(nh) != id->hash_len ||
	    (size_t)ASN1_STRING_length(kh) != id->hash_len ||
	    memcmp(id->name_hash, ASN1_STRING_get0_data(nh), id->hash_len) != 0 ||
	    memcmp(id->key_hash, ASN1_STRING_get0_data(kh), id->hash_len) != 0)
		die("other hashes than OpenSSL reads");
	if ((bn = ASN1_INTEGER_to_BN(sn, NULL)) == NULL || BN_num_bytes(bn) > (int)sizeof(mag))
		die("a serial OpenSSL cannot read");
	n = BN_bn2bin(bn, mag);
	if (n == 0)
		mag[n++] = 0;
	if (id->serial_len < 1 || id->serial_len > SRV_SERIAL_MAX || id->serial_len != (size_t)n ||
	    memcmp(id->serial, mag, (size_t)n) != 0 || id->negative != BN_is_negative(bn))
		die("another serial than OpenSSL reads");
	BN_free(bn);
}

static void parse(const uint8_t *data, size_t size)
{
	struct srv_ocsp_req r;
	const unsigned char *p = data;
	OCSP_REQUEST *req;
	size_t i;
	int rc = srv_ocsp_req_parse(data, size, &r), at;

	if (rc != RES_OK) {
		if (rc != RES_BAD_INPUT)
			die("refused with an unexpected code");
		one_line("refused without a one-line message");
		if (r.n != 0 || r.has_nonce)
			die("a refusal with CertIDs");
		refused++;
		return;
	}
	accepted++;
	if (r.n < 1 || r.n > SRV_OCSP_MAX_IDS)
		die("a count out of bounds");
	if (r.has_nonce && (r.nonce_len < 1 || r.nonce_len > SRV_NONCE_MAX ||
	                    r.nonce_inner_len < 1 || r.nonce_inner_off > r.nonce_len ||
	                    r.nonce_inner_len > r.nonce_len - r.nonce_inner_off))
		die("a nonce out of bounds");
	req = d2i_OCSP_REQUEST(NULL, &p, (long)size);
	if (req == NULL || p != data + size)
		die("accepted what d2i_OCSP_REQUEST refuses");
	if (OCSP_request_onereq_count(req) != (int)r.n)
		die("another number of CertIDs than OpenSSL reads");
	for (i = 0; i < r.n; i++)
		same_id(&r.ids[i], OCSP_onereq_get0_id(OCSP_request_onereq_get0(req, (int)i)));
	at = OCSP_REQUEST_get_ext_by_NID(req, NID_id_pkix_OCSP_Nonce, -1);
	if ((at >= 0) != r.has_nonce)
		die("a nonce OpenSSL does not read, or the other way");
	if (at >= 0) {
		ASN1_OCTET_STRING *v = X509_EXTENSION_get_data(OCSP_REQUEST_get_ext(req, at));

		if ((size_t)ASN1_STRING_length(v) != r.nonce_len ||
		    memcmp(ASN1_STRING_get0_data(v), r.nonce, r.nonce_len) != 0)
			die("another nonce than OpenSSL reads");
	}
	if (r.is_signed != (OCSP_request_is_signed(req) == 1))
		die("signed, or not, unlike OpenSSL reads");
	OCSP_REQUEST_free(req);
	ERR_clear_error();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static unsigned char out[GET_CAP], again[GET_CAP];
	char *q;
	size_t n, m;
	int rc;

	res_clear();
	if (size < 4 || memcmp(data, "GET ", 4) != 0) {
		parse(data, size);
		return 0;
	}
	rc = srv_ocsp_get_decode((const char *)data + 4, size - 4, out, sizeof(out), &n);
	if (rc != RES_OK) {
		if (rc != RES_BAD_INPUT && rc != RES_LIMIT)
			die("a GET refused with an unexpected code");
		one_line("a GET refused without a one-line message");
		if (n != 0)
			die("a GET refused with a length");
		return 0;
	}
	gets++;
	if (n > sizeof(out))
		die("a GET decoded past its cap");
	/* the same with a query string */
	if ((q = malloc(size - 4 + 3)) == NULL)
		return 0;
	memcpy(q, data + 4, size - 4);
	memcpy(q + size - 4, "?x=", 3);
	if (memchr(q, '?', size - 4) == NULL &&
	    (srv_ocsp_get_decode(q, size - 4 + 3, again, sizeof(again), &m) != RES_OK || m != n ||
	     memcmp(again, out, n) != 0))
		die("a query string changed a GET");
	free(q);
	parse(out, n);
	return 0;
}

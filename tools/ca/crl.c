/*
 * ca-crl.c - the CA's CRL (X.509 v2, RFC 5280 section 5), encoded here
 * straight from the database's revoked index: each entry costs its DER
 * bytes and nothing more, so a CRL of a million entries needs tens of
 * megabytes where an X509_CRL of objects would need gigabytes.  The
 * to-be-signed part is hashed in pieces and signed on the token through the
 * p11ca provider; the file is written piece by piece, atomically.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include "ca.h"

/* A growing DER buffer; @oom sticks once an allocation failed. */
struct dbuf {
	unsigned char *p;
	size_t len, cap;
	int oom;
};

static void put(struct dbuf *b, const void *data, size_t n)
{
	if (b->oom)
		return;
	if (b->cap - b->len < n) {
		size_t cap = b->cap ? b->cap : 4096;
		unsigned char *np;
		while (cap - b->len < n)
			cap *= 2;
		if ((np = realloc(b->p, cap)) == NULL) {
			b->oom = 1;
			return;
		}
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, data, n);
	b->len += n;
}

/* DER tag and length of @n content bytes. */
static void put_hdr(struct dbuf *b, unsigned char tag, size_t n)
{
	unsigned char h[10];
	size_t i = 0, k;

	h[i++] = tag;
	if (n < 0x80) {
		h[i++] = (unsigned char)n;
	} else {
		for (k = 0; k < sizeof(size_t) && (n >> (8 * k)) != 0; k++)
			;
		h[i++] = (unsigned char)(0x80 | k);
		while (k-- > 0)
			h[i++] = (unsigned char)(n >> (8 * k));
	}
	put(b, h, i);
}

static size_t hdr_size(size_t n)
{
	size_t k = 0;

	if (n < 0x80)
		return 2;
	while (n != 0)
		n >>= 8, k++;
	return 2 + k;
}

/* UTCTime through 2049, GeneralizedTime after (or always with @gen). */
static void put_time(struct dbuf *b, int64_t t, int gen)
{
	char s[PKI_TIME_ASN1_MAX];
	size_t n = pki_time_asn1(t, gen, s, sizeof(s));

	put_hdr(b, n == 13 ? 0x17 : 0x18, n);
	put(b, s, n);
}

static int hex_digit(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* DER INTEGER of a non-negative number given in hex; 0 if malformed. */
static int put_serial(struct dbuf *b, const char *hex)
{
	unsigned char v[CA_SERIAL_MAX / 2 + 2];
	size_t n = strlen(hex), nb = (n + 1) / 2, i, start;
	int d;

	if (n == 0 || n > CA_SERIAL_MAX - 1)
		return 0;
	memset(v, 0, sizeof(v)); /* v[0] stays 0: room for a sign byte */
	for (i = 0; i < n; i++) {
		if ((d = hex_digit(hex[n - 1 - i])) < 0)
			return 0;
		v[nb - i / 2] |= (unsigned char)(i % 2 ? d << 4 : d);
	}
	/* minimal: no leading zero bytes, but one when the sign bit is set */
	for (start = 1; start < nb && v[start] == 0; start++)
		;
	if (v[start] & 0x80)
		start--;
	put_hdr(b, 0x02, nb + 1 - start);
	put(b, v + start, nb + 1 - start);
	return 1;
}

static const unsigned char oid_reason[] = { 0x06, 0x03, 0x55, 0x1d, 0x15 };
static const unsigned char oid_invalidity[] = { 0x06, 0x03, 0x55, 0x1d, 0x18 };
static const unsigned char oid_aki[] = { 0x06, 0x03, 0x55, 0x1d, 0x23 };
static const unsigned char oid_crl_number[] = { 0x06, 0x03, 0x55, 0x1d, 0x14 };

struct entries {
	struct dbuf body;
	size_t count;
	int bad_serial;
};

/* One revokedCertificates entry. */
static int add_entry(const struct ca_row *r, void *arg)
{
	struct entries *e = arg;
	struct dbuf in = { 0 };
	unsigned char ext[64];
	size_t exts = 0, n;
	/* reasonCode: unspecified (0) is left out, as RFC 5280 asks */
	int reason = r->reason > 0 && ca_reason_name(r->reason) != NULL;

	if (reason)
		exts += 12;
	if (r->invalidity != 0)
		exts += 26;
	if (!put_serial(&in, r->serial)) {
		free(in.p);
		tool_errorf("database: malformed serial '%s'", r->serial);
		e->bad_serial = 1;
		return TOOL_EXIT_FAIL;
	}
	put_time(&in, r->revoked_at, 0);
	if (exts > 0) {
		put_hdr(&in, 0x30, exts);
		if (reason) {
			n = 0;
			ext[n++] = 0x30, ext[n++] = 10;
			memcpy(ext + n, oid_reason, sizeof(oid_reason)), n += sizeof(oid_reason);
			ext[n++] = 0x04, ext[n++] = 3, ext[n++] = 0x0a, ext[n++] = 1;
			ext[n++] = (unsigned char)r->reason;
			put(&in, ext, n);
		}
		if (r->invalidity != 0) {
			n = 0;
			ext[n++] = 0x30, ext[n++] = 24;
			memcpy(ext + n, oid_invalidity, sizeof(oid_invalidity)), n += sizeof(oid_invalidity);
			ext[n++] = 0x04, ext[n++] = 17;
			put(&in, ext, n);
			put_time(&in, r->invalidity, 1);
		}
	}
	put_hdr(&e->body, 0x30, in.len);
	put(&e->body, in.p, in.len);
	free(in.p);
	e->count++;
	if (e->body.oom || in.oom) {
		tool_errorf("out of memory");
		return TOOL_EXIT_FAIL;
	}
	return 0;
}

/* crlExtensions: authorityKeyIdentifier and cRLNumber. */
static int crl_exts(struct dbuf *b, X509 *cacert, int64_t number)
{
	const ASN1_OCTET_STRING *skid = X509_get0_subject_key_id(cacert);
	unsigned char md[EVP_MAX_MD_SIZE], num[9];
	const unsigned char *kid;
	unsigned int kidlen;
	struct dbuf e = { 0 }, aki = { 0 };
	size_t nl = 0;
	int i;

	if (skid != NULL) {
		kid = skid->data;
		kidlen = (unsigned int)skid->length;
	} else {
		if (!X509_pubkey_digest(cacert, EVP_sha1(), md, &kidlen))
			return 0;
		kid = md;
	}
	/* AKI: SEQUENCE { [0] keyIdentifier } in an OCTET STRING */
	put_hdr(&aki, 0x30, hdr_size(kidlen) + kidlen);
	put_hdr(&aki, 0x80, kidlen);
	put(&aki, kid, kidlen);
	put_hdr(&e, 0x30, sizeof(oid_aki) + hdr_size(aki.len) + aki.len);
	put(&e, oid_aki, sizeof(oid_aki));
	put_hdr(&e, 0x04, aki.len);
	put(&e, aki.p, aki.len);
	/* cRLNumber INTEGER, non-negative */
	num[nl++] = 0;
	for (i = 7; i >= 0; i--)
		num[nl++] = (unsigned char)((uint64_t)number >> (8 * i));
	for (i = 0; i < 8 && num[i] == 0 && !(num[i + 1] & 0x80); i++)
		;
	put_hdr(&e, 0x30, sizeof(oid_crl_number) + 2 + 2 + (nl - (size_t)i));
	put(&e, oid_crl_number, sizeof(oid_crl_number));
	put_hdr(&e, 0x04, 2 + (nl - (size_t)i));
	put_hdr(&e, 0x02, nl - (size_t)i);
	put(&e, num + i, nl - (size_t)i);
	/* [0] EXPLICIT Extensions */
	put_hdr(b, 0xa0, hdr_size(e.len) + e.len);
	put_hdr(b, 0x30, e.len);
	put(b, e.p, e.len);
	free(e.p);
	free(aki.p);
	return !e.oom && !aki.oom && !b->oom;
}

/* Output: raw DER, or PEM (base64 in 64-column lines) via EVP_Encode. */
struct out {
	struct tool_atomic file;
	EVP_ENCODE_CTX *b64; /* NULL for DER */
	unsigned char buf[65536 + 4096];
	int failed;
};

static void out_put(struct out *o, const unsigned char *p, size_t n)
{
	int len;

	while (!o->failed && n > 0) {
		size_t chunk = n > 48 * 1024 ? 48 * 1024 : n;
		if (o->b64 == NULL) {
			o->failed = tool_atomic_write(&o->file, p, chunk) != TOOL_EXIT_OK;
		} else {
			if (EVP_EncodeUpdate(o->b64, o->buf, &len, p, (int)chunk) != 1)
				o->failed = 1;
			else if (len > 0)
				o->failed = tool_atomic_write(&o->file, o->buf, (size_t)len) != TOOL_EXIT_OK;
		}
		p += chunk;
		n -= chunk;
	}
}

int ca_crl_write(struct ca *ca, const char *md, long days, int der, const char *path,
                 int64_t *number, size_t *count)
{
	static const char begin[] = "-----BEGIN X509 CRL-----\n", end[] = "-----END X509 CRL-----\n";
	struct entries e = { { 0 }, 0, 0 };
	struct dbuf head = { 0 }, tail = { 0 }, sigpart = { 0 }, outer = { 0 }, tbs_hdr = { 0 };
	unsigned char algid[256], *issuer = NULL, *sig = NULL;
	size_t algid_len = 0, sig_len = 0, tbs_len, revoked_len;
	OSSL_PARAM params[2];
	EVP_MD_CTX *mctx = NULL;
	EVP_PKEY_CTX *pctx = NULL;
	struct out *o = NULL;
	time_t now = time(NULL);
	int issuer_len, ret = TOOL_EXIT_FAIL, len;

	if (EVP_PKEY_is_a(ca->key, "ED25519") || EVP_PKEY_is_a(ca->key, "ED448"))
		md = NULL;
	/* the signature algorithm, as the provider names it */
	if ((mctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestSignInit_ex(mctx, &pctx, md, ca->libctx, NULL, ca->key, NULL) != 1) {
		tool_ossl_fail("signing on the token");
		goto out;
	}
	params[0] = OSSL_PARAM_construct_octet_string(OSSL_SIGNATURE_PARAM_ALGORITHM_ID, algid,
	                                              sizeof(algid));
	params[1] = OSSL_PARAM_construct_end();
	if (EVP_PKEY_CTX_get_params(pctx, params) != 1 || !OSSL_PARAM_modified(&params[0])) {
		tool_ossl_fail("the signature algorithm of the CA key");
		goto out;
	}
	algid_len = params[0].return_size;
	if ((issuer_len = i2d_X509_NAME(X509_get_subject_name(ca->cert), &issuer)) <= 0) {
		tool_ossl_fail("the CA's name");
		goto out;
	}
	/* the entries, straight from the revoked index */
	if (ca_db_foreach_revoked(ca->db, add_entry, &e) != TOOL_EXIT_OK)
		goto out;
	/* the destination first: a CRL number is not spent on a file that cannot be */
	if ((o = calloc(1, sizeof(*o))) == NULL) {
		tool_errorf("out of memory");
		goto out;
	}
	o->file.fd = -1;
	if (tool_atomic_open(&o->file, path) != TOOL_EXIT_OK)
		goto out;
	if (ca_db_next_crl_number(ca->db, number) != TOOL_EXIT_OK)
		goto out;
	/* TBSCertList = head | SEQUENCE OF entries | tail */
	put(&head, "\x02\x01\x01", 3); /* version v2 */
	put(&head, algid, algid_len);
	put(&head, issuer, (size_t)issuer_len);
	put_time(&head, now, 0);
	put_time(&head, now + (time_t)days * 86400, 0);
	revoked_len = e.count > 0 ? hdr_size(e.body.len) + e.body.len : 0;
	if (!crl_exts(&tail, ca->cert, *number) || head.oom) {
		tool_errorf("out of memory");
		goto out;
	}
	tbs_len = head.len + revoked_len + tail.len;
	put_hdr(&tbs_hdr, 0x30, tbs_len);
	if (e.count > 0) {
		struct dbuf seq = { 0 };
		put_hdr(&seq, 0x30, e.body.len);
		put(&head, seq.p, seq.len);
		free(seq.p);
	}
	if (head.oom || tbs_hdr.oom) {
		tool_errorf("out of memory");
		goto out;
	}
	/* sign: hashed in pieces (EdDSA needs the whole message at once) */
	if (md == NULL) {
		struct dbuf all = { 0 };
		put(&all, tbs_hdr.p, tbs_hdr.len);
		put(&all, head.p, head.len);
		put(&all, e.body.p, e.body.len);
		put(&all, tail.p, tail.len);
		if (all.oom || EVP_DigestSign(mctx, NULL, &sig_len, all.p, all.len) != 1 ||
		    (sig = malloc(sig_len)) == NULL ||
		    EVP_DigestSign(mctx, sig, &sig_len, all.p, all.len) != 1) {
			free(all.p);
			tool_ossl_fail("signing the CRL on the token");
			goto out;
		}
		free(all.p);
	} else if (EVP_DigestSignUpdate(mctx, tbs_hdr.p, tbs_hdr.len) != 1 ||
	           EVP_DigestSignUpdate(mctx, head.p, head.len) != 1 ||
	           (e.body.len > 0 && EVP_DigestSignUpdate(mctx, e.body.p, e.body.len) != 1) ||
	           EVP_DigestSignUpdate(mctx, tail.p, tail.len) != 1 ||
	           EVP_DigestSignFinal(mctx, NULL, &sig_len) != 1 || (sig = malloc(sig_len)) == NULL ||
	           EVP_DigestSignFinal(mctx, sig, &sig_len) != 1) {
		tool_ossl_fail("signing the CRL on the token");
		goto out;
	}
	/* CertificateList = SEQUENCE { tbs, algorithm, BIT STRING signature } */
	put(&sigpart, algid, algid_len);
	put_hdr(&sigpart, 0x03, sig_len + 1);
	put(&sigpart, "", 1);
	put(&sigpart, sig, sig_len);
	put_hdr(&outer, 0x30, tbs_hdr.len + tbs_len + sigpart.len);
	if (sigpart.oom || outer.oom) {
		tool_errorf("out of memory");
		goto out;
	}
	if (!der) {
		if ((o->b64 = EVP_ENCODE_CTX_new()) == NULL) {
			tool_errorf("out of memory");
			goto out;
		}
		EVP_EncodeInit(o->b64);
		o->failed = tool_atomic_write(&o->file, (const unsigned char *)begin, strlen(begin)) !=
		            TOOL_EXIT_OK;
	}
	out_put(o, outer.p, outer.len);
	out_put(o, tbs_hdr.p, tbs_hdr.len);
	out_put(o, head.p, head.len);
	out_put(o, e.body.p, e.body.len);
	out_put(o, tail.p, tail.len);
	out_put(o, sigpart.p, sigpart.len);
	if (!der && !o->failed) {
		EVP_EncodeFinal(o->b64, o->buf, &len);
		o->failed = (len > 0 && tool_atomic_write(&o->file, o->buf, (size_t)len) != TOOL_EXIT_OK) ||
		            tool_atomic_write(&o->file, (const unsigned char *)end, strlen(end)) !=
		                    TOOL_EXIT_OK;
	}
	if (o->failed)
		goto out;
	if (tool_atomic_commit(&o->file, 1) != TOOL_EXIT_OK)
		goto out;
	*count = e.count;
	ret = TOOL_EXIT_OK;
out:
	if (o != NULL) {
		if (o->file.fd >= 0 || o->file.tmp != NULL)
			tool_atomic_abort(&o->file);
		EVP_ENCODE_CTX_free(o->b64);
		free(o);
	}
	EVP_MD_CTX_free(mctx);
	OPENSSL_free(issuer);
	free(sig);
	free(e.body.p);
	free(head.p);
	free(tail.p);
	free(sigpart.p);
	free(outer.p);
	free(tbs_hdr.p);
	return ret;
}

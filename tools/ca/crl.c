/*
 * crl.c - the CA's CRL (X.509 v2, RFC 5280 section 5), encoded here
 * straight from a stream of revoked entries (crl.h): each entry costs its
 * DER bytes and nothing more, so a CRL of a million entries needs tens of
 * megabytes where an X509_CRL of objects would need gigabytes.  The
 * to-be-signed part is hashed in pieces and signed with the caller's key
 * (the token's, through the p11ca provider); the result goes out piece by
 * piece through the caller's write callback.
 *
 *   CertificateList = SEQUENCE { tbs, signatureAlgorithm, signature }
 *   tbs = SEQUENCE { head | SEQUENCE OF entries | tail }
 *
 * head (version .. nextUpdate), the entries and tail (crlExtensions) are
 * three buffers; their lengths give every header before anything is hashed
 * or written.  The encoding is DER by construction (tests/test-crl-encode.c
 * re-encodes it with OpenSSL and compares byte for byte).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/provider.h>
#include <openssl/x509v3.h>

#include "crl.h"
#include "pki.h"
#include "result.h"

/* A growing DER buffer; @oom sticks once an allocation failed. */
struct dbuf {
	unsigned char *p;
	size_t len, cap;
	int oom;
};

static void put(struct dbuf *b, const void *data, size_t n)
{
	if (b->oom || n == 0)
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
	unsigned char h[2 + sizeof(size_t)];
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

static int time_ok(int64_t t)
{
	return t >= CA_CRL_TIME_MIN && t <= CA_CRL_TIME_MAX;
}

/*
 * UTCTime for 1950-2049, GeneralizedTime otherwise or with @gen; @t is
 * time_ok() (pki_time_asn1 writes years under 1000 with fewer digits).
 */
static int put_time(struct dbuf *b, int64_t t, int gen)
{
	char s[PKI_TIME_ASN1_MAX];
	size_t n = pki_time_asn1(t, gen, s, sizeof(s));

	if (n != 15 && (gen || n != 13))
		return 0;
	put_hdr(b, n == 13 ? V_ASN1_UTCTIME : V_ASN1_GENERALIZEDTIME, n);
	put(b, s, n);
	return 1;
}

/*
 * DER INTEGER of a non-negative number of 1-40 hex digits in @hex (@cap
 * bytes); 0 if malformed.  The digits are read by OpenSSL
 * (OPENSSL_hexstr2buf_ex, which allocates nothing), an odd count with a
 * leading zero put before them.
 */
static int put_serial(struct dbuf *b, const char *hex, size_t cap)
{
	unsigned char v[CADB_SERIAL_MAX / 2 + 2];
	char digits[CADB_SERIAL_MAX + 2];
	size_t n = strnlen(hex, cap), nb = 0, start;

	if (n == 0 || n >= cap || n > CADB_SERIAL_MAX - 1 ||
	    strspn(hex, "0123456789abcdefABCDEF") < n)
		return 0;
	digits[0] = '0';
	memcpy(digits + 1, hex, n);
	digits[n + 1] = '\0';
	v[0] = 0; /* room for a sign byte */
	if (OPENSSL_hexstr2buf_ex(v + 1, sizeof(v) - 1, &nb, digits + (n % 2 ? 0 : 1), '\0') != 1)
		return 0;
	/* minimal: no leading zero bytes, but one when the sign bit is set */
	for (start = 1; start < nb && v[start] == 0; start++)
		;
	if (v[start] & 0x80)
		start--;
	put_hdr(b, V_ASN1_INTEGER, nb + 1 - start);
	put(b, v + start, nb + 1 - start);
	return 1;
}

/* reasonCode: -1 and 0 (unspecified, which RFC 5280 asks to leave out) give none. */
static int reason_ok(int reason)
{
	return reason >= -1 && reason <= 10 && reason != 7;
}

static const unsigned char oid_reason[] = { 0x06, 0x03, 0x55, 0x1d, 0x15 };
static const unsigned char oid_invalidity[] = { 0x06, 0x03, 0x55, 0x1d, 0x18 };
static const unsigned char oid_aki[] = { 0x06, 0x03, 0x55, 0x1d, 0x23 };
static const unsigned char oid_crl_number[] = { 0x06, 0x03, 0x55, 0x1d, 0x14 };

struct entries {
	struct dbuf body; /* the entries' DER, one after the other */
	struct dbuf in;   /* one entry's contents, reused */
	size_t count;
};

/* The serial as text for a message: printable, bounded. */
static void serial_text(const char *s, size_t cap, char *out, size_t outcap)
{
	size_t i;

	for (i = 0; i < cap && i + 1 < outcap && s[i] != '\0'; i++)
		out[i] = s[i] > 0x20 && s[i] < 0x7f ? s[i] : '?';
	out[i] = '\0';
}

/* One revokedCertificates entry (a cadb_row_cb). */
static int add_entry(const struct cadb_row *r, void *arg)
{
	struct entries *e = arg;
	struct dbuf *in = &e->in;
	unsigned char ext[32];
	size_t exts = 0, n;
	int reason = r->reason > 0;
	char text[CADB_SERIAL_MAX + 1];

	in->len = 0;
	if (!put_serial(in, r->serial, sizeof(r->serial))) {
		serial_text(r->serial, sizeof(r->serial), text, sizeof(text));
		return res_set(RES_BAD_INPUT,
		               "revoked entry %zu: malformed serial '%s' (1-40 hex digits)",
		               e->count + 1, text);
	}
	if (!reason_ok(r->reason))
		return res_set(RES_BAD_INPUT, "revoked entry %zu: reason code %d out of range",
		               e->count + 1, r->reason);
	if (!time_ok(r->revoked_at) || (r->invalidity != 0 && !time_ok(r->invalidity)))
		return res_set(RES_BAD_INPUT,
		               "revoked entry %zu: a date outside the years 1000 to 9999",
		               e->count + 1);
	if (!put_time(in, r->revoked_at, 0))
		return res_set(RES_BAD_INPUT, "revoked entry %zu: unencodable date", e->count + 1);
	/* crlEntryExtensions: reasonCode 12 bytes, invalidityDate 26 (GeneralizedTime) */
	if (reason)
		exts += 12;
	if (r->invalidity != 0)
		exts += 26;
	if (exts > 0) {
		put_hdr(in, V_ASN1_SEQUENCE | V_ASN1_CONSTRUCTED, exts);
		if (reason) {
			n = 0;
			ext[n++] = 0x30, ext[n++] = 10;
			memcpy(ext + n, oid_reason, sizeof(oid_reason)), n += sizeof(oid_reason);
			ext[n++] = 0x04, ext[n++] = 3, ext[n++] = 0x0a, ext[n++] = 1;
			ext[n++] = (unsigned char)r->reason;
			put(in, ext, n);
		}
		if (r->invalidity != 0) {
			n = 0;
			ext[n++] = 0x30, ext[n++] = 24;
			memcpy(ext + n, oid_invalidity, sizeof(oid_invalidity)),
			    n += sizeof(oid_invalidity);
			ext[n++] = 0x04, ext[n++] = 17;
			put(in, ext, n);
			if (!put_time(in, r->invalidity, 1))
				return res_set(RES_BAD_INPUT, "revoked entry %zu: unencodable date",
				               e->count + 1);
		}
	}
	put_hdr(&e->body, V_ASN1_SEQUENCE | V_ASN1_CONSTRUCTED, in->len);
	put(&e->body, in->p, in->len);
	if (e->body.oom || in->oom)
		return res_set(RES_NOMEM, "out of memory (revoked entry %zu)", e->count + 1);
	e->count++;
	return RES_OK;
}

/* crlExtensions: authorityKeyIdentifier and cRLNumber. */
static int crl_exts(struct dbuf *b, X509 *issuer, int64_t number)
{
	const ASN1_OCTET_STRING *skid = X509_get0_subject_key_id(issuer);
	unsigned char md[EVP_MAX_MD_SIZE], num[9];
	const unsigned char *kid;
	unsigned int kidlen;
	struct dbuf e = { 0 }, aki = { 0 };
	size_t nl = 0;
	int i, ret = RES_NOMEM;

	if (skid != NULL) {
		kid = skid->data;
		kidlen = (unsigned int)skid->length;
	} else {
		/* RFC 5280 4.2.1.2 (1): SHA-1 of the subjectPublicKey bits */
		if (!X509_pubkey_digest(issuer, EVP_sha1(), md, &kidlen))
			return res_ossl(RES_CRYPTO, "the key identifier of the CA certificate");
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
	/* cRLNumber INTEGER, non-negative, minimal */
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
	if (!e.oom && !aki.oom && !b->oom)
		ret = RES_OK;
	else
		res_set(ret, "out of memory");
	free(e.p);
	free(aki.p);
	return ret;
}

/* Output through the caller's callback: raw DER, or PEM via EVP_Encode. */
struct out {
	ca_write_fn fn;
	void *arg;
	EVP_ENCODE_CTX *b64; /* NULL for DER */
	unsigned char buf[65536 + 4096];
	int failed;
};

static void out_raw(struct out *o, const unsigned char *p, size_t n)
{
	if (!o->failed && n > 0 && o->fn(o->arg, p, n) != 0)
		o->failed = 1;
}

static void out_put(struct out *o, const unsigned char *p, size_t n)
{
	int len;

	if (o->b64 == NULL) {
		out_raw(o, p, n);
		return;
	}
	while (!o->failed && n > 0) {
		/* 48 KiB of input is 64 KiB of base64 plus newlines: fits o->buf */
		size_t chunk = n > 48 * 1024 ? 48 * 1024 : n;
		if (EVP_EncodeUpdate(o->b64, o->buf, &len, p, (int)chunk) != 1)
			o->failed = 1;
		else
			out_raw(o, o->buf, (size_t)len);
		p += chunk;
		n -= chunk;
	}
}

/* Signing failed: RES_CRYPTO for a key of OpenSSL's own providers, RES_TOKEN else. */
static int sign_failed(EVP_PKEY *key, const char *what)
{
	const OSSL_PROVIDER *prov = EVP_PKEY_get0_provider(key);
	const char *name = prov != NULL ? OSSL_PROVIDER_get0_name(prov) : NULL;
	int code = RES_TOKEN;

	if (name == NULL || strcmp(name, "default") == 0 || strcmp(name, "base") == 0 ||
	    strcmp(name, "fips") == 0)
		code = RES_CRYPTO;
	return res_ossl(code, "%s", what);
}

/* The signature over tbs_hdr | head | entries | tail into *psig (malloc'd). */
static int sign(EVP_MD_CTX *mctx, EVP_PKEY *key, int oneshot, const struct dbuf *parts,
                size_t nparts, unsigned char **psig, size_t *psiglen)
{
	struct dbuf all = { 0 };
	unsigned char *sig = NULL;
	size_t i, len = 0;
	int ret = RES_NOMEM;

	if (oneshot) {
		/* EdDSA signs the whole message at once */
		for (i = 0; i < nparts; i++)
			put(&all, parts[i].p, parts[i].len);
		if (all.oom) {
			res_set(ret, "out of memory");
			goto out;
		}
		if (EVP_DigestSign(mctx, NULL, &len, all.p, all.len) != 1 ||
		    (sig = malloc(len)) == NULL ||
		    EVP_DigestSign(mctx, sig, &len, all.p, all.len) != 1) {
			ret = sig == NULL && len > 0 ? res_set(RES_NOMEM, "out of memory")
			                             : sign_failed(key, "signing the CRL");
			goto out;
		}
	} else {
		for (i = 0; i < nparts; i++)
			if (parts[i].len > 0 &&
			    EVP_DigestSignUpdate(mctx, parts[i].p, parts[i].len) != 1) {
				ret = sign_failed(key, "signing the CRL");
				goto out;
			}
		if (EVP_DigestSignFinal(mctx, NULL, &len) != 1) {
			ret = sign_failed(key, "signing the CRL");
			goto out;
		}
		if ((sig = malloc(len)) == NULL) {
			res_set(ret, "out of memory");
			goto out;
		}
		if (EVP_DigestSignFinal(mctx, sig, &len) != 1) {
			ret = sign_failed(key, "signing the CRL");
			goto out;
		}
	}
	*psig = sig;
	*psiglen = len;
	sig = NULL; /* transferred */
	ret = RES_OK;
out:
	free(sig);
	free(all.p);
	return ret;
}

int ca_crl_encode(const struct ca_crl_params *p, ca_revoked_walk walk, void *src, ca_write_fn outfn,
                  void *outarg, size_t *pcount)
{
	static const char begin[] = "-----BEGIN X509 CRL-----\n",
	                  end[] = "-----END X509 CRL-----\n";
	struct entries e = { { 0 }, { 0 }, 0 };
	struct dbuf parts[4] = { { 0 } }; /* tbs header, head, entries, tail */
	struct dbuf *tbs_hdr = &parts[0], *head = &parts[1], *tail = &parts[3];
	struct dbuf sigpart = { 0 }, outer = { 0 };
	unsigned char algid[256], *issuer = NULL, *sig = NULL;
	size_t algid_len, sig_len = 0, tbs_len, i;
	const char *md = p->md;
	OSSL_PARAM params[2];
	EVP_MD_CTX *mctx = NULL;
	EVP_PKEY_CTX *pctx = NULL;
	struct out *o = NULL;
	int issuer_len, ret = RES_NOMEM, len, eddsa;

	if (pcount != NULL)
		*pcount = 0;
	if (p->issuer == NULL || p->key == NULL || walk == NULL || outfn == NULL)
		return res_set(RES_FAIL, "ca_crl_encode: no issuer, key, walk or output");
	if (!time_ok(p->this_update) || !time_ok(p->next_update))
		return res_set(RES_BAD_INPUT, "CRL update times outside the years 1000 to 9999");
	if (p->number < 0)
		return res_set(RES_BAD_INPUT, "CRL number %lld is negative", (long long)p->number);
	eddsa = EVP_PKEY_is_a(p->key, "ED25519") || EVP_PKEY_is_a(p->key, "ED448");
	if (eddsa)
		md = NULL;
	/* the signature algorithm, as the key's provider names it */
	if ((mctx = EVP_MD_CTX_new()) == NULL) {
		res_set(ret, "out of memory");
		goto out;
	}
	if (EVP_DigestSignInit_ex(mctx, &pctx, md, p->libctx, NULL, p->key, NULL) != 1) {
		ret = sign_failed(p->key, "signing with the CA key");
		goto out;
	}
	params[0] = OSSL_PARAM_construct_octet_string(OSSL_SIGNATURE_PARAM_ALGORITHM_ID, algid,
	                                              sizeof(algid));
	params[1] = OSSL_PARAM_construct_end();
	if (EVP_PKEY_CTX_get_params(pctx, params) != 1 || !OSSL_PARAM_modified(&params[0])) {
		ret = sign_failed(p->key, "the signature algorithm of the CA key");
		goto out;
	}
	algid_len = params[0].return_size;
	if ((issuer_len = i2d_X509_NAME(X509_get_subject_name(p->issuer), &issuer)) <= 0) {
		ret = res_ossl(RES_CRYPTO, "the CA's name");
		goto out;
	}
	/* the entries, straight from the walk: nothing is written before they all encode */
	if ((ret = walk(src, add_entry, &e)) != RES_OK) {
		if (ret < 0)
			ret = RES_FAIL;
		goto out;
	}
	/* TBSCertList = head | SEQUENCE OF entries | tail */
	put(head, "\x02\x01\x01", 3); /* version v2 */
	put(head, algid, algid_len);
	put(head, issuer, (size_t)issuer_len);
	if (!put_time(head, p->this_update, 0) || !put_time(head, p->next_update, 0)) {
		ret = res_set(RES_BAD_INPUT, "CRL update times: unencodable");
		goto out;
	}
	if ((ret = crl_exts(tail, p->issuer, p->number)) != RES_OK)
		goto out;
	/* revokedCertificates is left out when empty (RFC 5280 5.1.2.6) */
	if (e.count > 0)
		put_hdr(head, V_ASN1_SEQUENCE | V_ASN1_CONSTRUCTED, e.body.len);
	tbs_len = head->len + e.body.len + tail->len;
	put_hdr(tbs_hdr, V_ASN1_SEQUENCE | V_ASN1_CONSTRUCTED, tbs_len);
	parts[2] = e.body; /* borrowed: freed as e.body */
	if (head->oom || tbs_hdr->oom) {
		ret = res_set(RES_NOMEM, "out of memory");
		goto out;
	}
	if ((ret = sign(mctx, p->key, eddsa, parts, 4, &sig, &sig_len)) != RES_OK)
		goto out;
	/* CertificateList = SEQUENCE { tbs, algorithm, BIT STRING signature } */
	put(&sigpart, algid, algid_len);
	put_hdr(&sigpart, V_ASN1_BIT_STRING, sig_len + 1);
	put(&sigpart, "", 1);
	put(&sigpart, sig, sig_len);
	put_hdr(&outer, V_ASN1_SEQUENCE | V_ASN1_CONSTRUCTED, tbs_hdr->len + tbs_len + sigpart.len);
	ret = RES_NOMEM;
	if (sigpart.oom || outer.oom || (o = calloc(1, sizeof(*o))) == NULL) {
		res_set(ret, "out of memory");
		goto out;
	}
	o->fn = outfn;
	o->arg = outarg;
	if (p->pem) {
		if ((o->b64 = EVP_ENCODE_CTX_new()) == NULL) {
			res_set(ret, "out of memory");
			goto out;
		}
		EVP_EncodeInit(o->b64);
		out_raw(o, (const unsigned char *)begin, strlen(begin));
	}
	out_put(o, outer.p, outer.len);
	for (i = 0; i < 4; i++)
		out_put(o, parts[i].p, parts[i].len);
	out_put(o, sigpart.p, sigpart.len);
	if (p->pem && !o->failed) {
		EVP_EncodeFinal(o->b64, o->buf, &len);
		out_raw(o, o->buf, (size_t)len);
		out_raw(o, (const unsigned char *)end, strlen(end));
	}
	if (o->failed) {
		ret = res_set(RES_IO, "writing the CRL failed");
		goto out;
	}
	if (pcount != NULL)
		*pcount = e.count;
	ret = RES_OK;
out:
	if (o != NULL) {
		EVP_ENCODE_CTX_free(o->b64);
		free(o);
	}
	EVP_MD_CTX_free(mctx);
	OPENSSL_free(issuer);
	free(sig);
	free(e.body.p);
	free(e.in.p);
	free(tbs_hdr->p);
	free(head->p);
	free(tail->p);
	free(sigpart.p);
	free(outer.p);
	return ret;
}

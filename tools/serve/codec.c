/*
 * codec.c - the OCSP server's request side (codec.h): an OCSPRequest read
 * by a strict DER walk (no allocation on the common path; the rare parts, a
 * requestorName, a signature, an unknown OID, are checked by OpenSSL's own
 * decoders), and the base64 of a GET path.  The response side is
 * codec-resp.c.
 */
#include "config.h"

#include <string.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/ocsp.h>
#include <openssl/x509v3.h>

#include "codec.h"
#include "result.h"

/* A DER walk: the bytes from p to end. */
struct der {
	const unsigned char *p, *end;
};

/* The tag of the next element, -1 at the end. */
static int der_peek(const struct der *d)
{
	return d->p < d->end ? d->p[0] : -1;
}

/*
 * Takes the next element, of tag @tag (one octet), into @v (its content).
 * DER only: a definite length in the fewest octets (up to 3: nothing here
 * is longer).  0, or -1 for anything else.
 */
static int der_get(struct der *d, int tag, struct der *v)
{
	const unsigned char *p = d->p;
	size_t avail = (size_t)(d->end - p), len, n;

	if (avail < 2 || p[0] != tag)
		return -1;
	len = p[1];
	p += 2;
	avail -= 2;
	if (len & 0x80) {
		n = len & 0x7f;
		if (n == 0 || n > 3 || n > avail || p[0] == 0)
			return -1; /* indefinite, too long, or a leading 00 */
		avail -= n;
		for (len = 0; n > 0; n--)
			len = len << 8 | *p++;
		if (len < 0x80)
			return -1; /* would fit the short form */
	}
	if (len > avail)
		return -1;
	v->p = p;
	v->end = p + len;
	d->p = p + len;
	return 0;
}

/* 1 if the content in @v is the OID of @nid. */
static int oid_is(const struct der *v, int nid)
{
	const ASN1_OBJECT *o = OBJ_nid2obj(nid);
	size_t len = (size_t)(v->end - v->p);

	return o != NULL && OBJ_length(o) == len && memcmp(OBJ_get0_data(o), v->p, len) == 0;
}

/*
 * The rare parts, checked by OpenSSL's decoders so that what this walk
 * accepts d2i_OCSP_REQUEST accepts too: 1 if @len bytes at @p are one
 * whole element of that type.
 */
static int oid_valid(const unsigned char *p, size_t len)
{
	const unsigned char *q = p;
	ASN1_OBJECT *x = d2i_ASN1_OBJECT(NULL, &q, (long)len);
	int ok = x != NULL && q == p + len;

	ASN1_OBJECT_free(x);
	ERR_clear_error();
	return ok;
}

static int name_valid(const unsigned char *p, size_t len)
{
	const unsigned char *q = p;
	GENERAL_NAME *x = d2i_GENERAL_NAME(NULL, &q, (long)len);
	int ok = x != NULL && q == p + len;

	GENERAL_NAME_free(x);
	ERR_clear_error();
	return ok;
}

static int signature_valid(const unsigned char *p, size_t len)
{
	const unsigned char *q = p;
	OCSP_SIGNATURE *x = d2i_OCSP_SIGNATURE(NULL, &q, (long)len);
	int ok = x != NULL && q == p + len;

	OCSP_SIGNATURE_free(x);
	ERR_clear_error();
	return ok;
}

static const struct {
	int nid;
	size_t len;
} mds[] = { { NID_sha1, 20 }, { NID_sha256, 32 }, { NID_sha384, 48 }, { NID_sha512, 64 } };

static int bad(const char *why)
{
	return res_set(RES_BAD_INPUT, "malformed OCSP request: %s", why);
}

/* A CertID's content into @id. */
static int parse_certid(struct der *c, struct srv_certid *id)
{
	struct der alg, oid, nul, nh, kh, sn;
	const unsigned char *oid_tlv;
	size_t i, len;

	memset(id, 0, sizeof(*id));
	if (der_get(c, 0x30, &alg) != 0)
		return bad("no hash algorithm in a CertID");
	oid_tlv = alg.p;
	if (der_get(&alg, 0x06, &oid) != 0 || oid.p == oid.end)
		return bad("no hash algorithm OID in a CertID");
	if (alg.p == alg.end)
		id->params_absent = 1;
	else if (der_get(&alg, 0x05, &nul) != 0 || nul.p != nul.end || alg.p != alg.end)
		return bad("hash algorithm parameters other than NULL");
	id->md_nid = NID_undef;
	for (i = 0; i < sizeof(mds) / sizeof(mds[0]); i++)
		if (oid_is(&oid, mds[i].nid))
			id->md_nid = mds[i].nid;
	if (id->md_nid == NID_undef && !oid_valid(oid_tlv, (size_t)(oid.end - oid_tlv)))
		return bad("a bad hash algorithm OID");
	if (der_get(c, 0x04, &nh) != 0 || der_get(c, 0x04, &kh) != 0)
		return bad("no issuer hashes in a CertID");
	len = (size_t)(nh.end - nh.p);
	if ((size_t)(kh.end - kh.p) != len || len > SRV_HASH_MAX)
		return bad("issuer hashes of different or too long lengths");
	for (i = 0; i < sizeof(mds) / sizeof(mds[0]); i++)
		if (mds[i].nid == id->md_nid && mds[i].len != len)
			return bad("issuer hashes of the wrong length for their algorithm");
	memcpy(id->name_hash, nh.p, len);
	memcpy(id->key_hash, kh.p, len);
	id->hash_len = len;
	if (der_get(c, 0x02, &sn) != 0 || sn.p == sn.end)
		return bad("no serial number in a CertID");
	len = (size_t)(sn.end - sn.p);
	if (len > SRV_SERIAL_MAX)
		return bad("a serial number too long");
	if (len > 1 &&
	    ((sn.p[0] == 0 && !(sn.p[1] & 0x80)) || (sn.p[0] == 0xff && (sn.p[1] & 0x80))))
		return bad("a serial number not in DER");
	if (c->p != c->end)
		return bad("more than four fields in a CertID");
	if (sn.p[0] & 0x80) { /* negative: the magnitude is the two's complement */
		unsigned carry = 1;

		id->negative = 1;
		for (i = len; i-- > 0;) {
			unsigned v = (unsigned)(unsigned char)~sn.p[i] + carry;

			id->serial[i] = (unsigned char)v;
			carry = v >> 8;
		}
	} else {
		memcpy(id->serial, sn.p, len);
	}
	for (i = 0; i + 1 < len && id->serial[i] == 0; i++)
		;
	memmove(id->serial, id->serial + i, len - i);
	id->serial_len = len - i;
	return RES_OK;
}

/* One Extension; @top: a requestExtension (else a singleRequestExtension). */
static int parse_ext(struct der *e, int top, struct srv_ocsp_req *r)
{
	struct der oid, crit, val, inner, w;
	const unsigned char *oid_tlv = e->p;
	int critical = 0;
	size_t len;

	if (der_get(e, 0x06, &oid) != 0 || oid.p == oid.end)
		return bad("an extension without an OID");
	if (der_peek(e) == 0x01) {
		if (der_get(e, 0x01, &crit) != 0 || crit.end - crit.p != 1)
			return bad("a bad critical flag");
		critical = crit.p[0] != 0;
	}
	if (der_get(e, 0x04, &val) != 0 || e->p != e->end)
		return bad("a bad extension value");
	if (top && oid_is(&oid, NID_id_pkix_OCSP_Nonce)) {
		len = (size_t)(val.end - val.p);
		if (r->has_nonce)
			return bad("two nonces");
		if (len == 0)
			return bad("an empty nonce");
		if (len > SRV_NONCE_MAX)
			return bad("a nonce too long");
		memcpy(r->nonce, val.p, len);
		r->nonce_len = len;
		r->has_nonce = 1;
		r->nonce_inner_off = 0;
		r->nonce_inner_len = len;
		w = val;
		if (der_get(&w, 0x04, &inner) == 0 && w.p == w.end) {
			if (inner.p == inner.end)
				return bad("an empty nonce");
			r->nonce_inner_off = (size_t)(inner.p - val.p);
			r->nonce_inner_len = (size_t)(inner.end - inner.p);
		}
		return RES_OK;
	}
	if (top && oid_is(&oid, NID_id_pkix_OCSP_acceptableResponses))
		return RES_OK; /* a basic response is what we send */
	if (!oid_valid(oid_tlv, (size_t)(oid.end - oid_tlv)))
		return bad("a bad extension OID");
	if (critical)
		return bad("an unknown critical extension");
	return RES_OK;
}

/* The content of an [n] EXPLICIT Extensions. */
static int parse_exts(struct der *x, int top, struct srv_ocsp_req *r)
{
	struct der seq, e;
	int rc;

	if (der_get(x, 0x30, &seq) != 0 || x->p != x->end)
		return bad("bad extensions");
	while (seq.p != seq.end) {
		if (der_get(&seq, 0x30, &e) != 0)
			return bad("a bad extension");
		if ((rc = parse_ext(&e, top, r)) != RES_OK)
			return rc;
	}
	return RES_OK;
}

static int parse_tbs(struct der *t, struct srv_ocsp_req *r)
{
	struct der x, list, one, cid;
	int rc;

	if (der_peek(t) == 0xa0) { /* version [0] EXPLICIT INTEGER: v1 (0) only */
		static const unsigned char v1[] = { 0x02, 0x01, 0x00 };

		if (der_get(t, 0xa0, &x) != 0 || x.end - x.p != 3 || memcmp(x.p, v1, 3) != 0)
			return bad("a version other than v1");
	}
	if (der_peek(t) == 0xa1) { /* requestorName [1] EXPLICIT GeneralName */
		if (der_get(t, 0xa1, &x) != 0 || !name_valid(x.p, (size_t)(x.end - x.p)))
			return bad("a bad requestorName");
	}
	if (der_get(t, 0x30, &list) != 0)
		return bad("no requestList");
	while (list.p != list.end) {
		if (r->n == SRV_OCSP_MAX_IDS)
			return bad("too many CertIDs");
		if (der_get(&list, 0x30, &one) != 0 || der_get(&one, 0x30, &cid) != 0)
			return bad("a bad Request");
		if ((rc = parse_certid(&cid, &r->ids[r->n])) != RES_OK)
			return rc;
		if (der_peek(&one) == 0xa0) { /* singleRequestExtensions */
			if (der_get(&one, 0xa0, &x) != 0)
				return bad("bad singleRequestExtensions");
			if ((rc = parse_exts(&x, 0, r)) != RES_OK)
				return rc;
		}
		if (one.p != one.end)
			return bad("more than a CertID and extensions in a Request");
		r->n++;
	}
	if (r->n == 0)
		return bad("no CertID");
	if (der_peek(t) == 0xa2) { /* requestExtensions */
		if (der_get(t, 0xa2, &x) != 0)
			return bad("bad requestExtensions");
		if ((rc = parse_exts(&x, 1, r)) != RES_OK)
			return rc;
	}
	if (t->p != t->end)
		return bad("more fields in tbsRequest");
	return RES_OK;
}

int srv_ocsp_req_parse(const unsigned char *der, size_t len, struct srv_ocsp_req *r)
{
	struct der all = { der, der + len }, req, tbs, sig;
	int rc;

	r->n = 0;
	r->has_nonce = r->is_signed = 0;
	r->nonce_len = r->nonce_inner_off = r->nonce_inner_len = 0;
	if (der == NULL || der_get(&all, 0x30, &req) != 0) {
		rc = bad("not a DER SEQUENCE");
		goto out;
	}
	if (all.p != all.end) {
		rc = bad("bytes after the request");
		goto out;
	}
	if (der_get(&req, 0x30, &tbs) != 0) {
		rc = bad("no tbsRequest");
		goto out;
	}
	if ((rc = parse_tbs(&tbs, r)) != RES_OK)
		goto out;
	if (der_peek(&req) == 0xa0) { /* optionalSignature: not checked, not required */
		if (der_get(&req, 0xa0, &sig) != 0 ||
		    !signature_valid(sig.p, (size_t)(sig.end - sig.p))) {
			rc = bad("a bad optionalSignature");
			goto out;
		}
		r->is_signed = 1;
	}
	if (req.p != req.end)
		rc = bad("more fields in the request");
out:
	if (rc != RES_OK)
		r->n = 0, r->has_nonce = 0, r->nonce_len = 0;
	return rc;
}

/* ---- GET: the base64 of the request in the URL path */

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* @c as a character of the standard base64 alphabet, or -1. */
static int b64char(int c)
{
	if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	    c == '+' || c == '/')
		return c;
	if (c == ' ' || c == '-')
		return '+'; /* '+' unescaped into ' ' on the way, or the URL-safe alphabet */
	if (c == '_')
		return '/';
	return -1;
}

/* Decodes @q (a multiple of 4) characters of @buf into @out at *@pn, within @cap. */
static int flush(const unsigned char *buf, size_t q, unsigned char *out, size_t cap, size_t *pn)
{
	if (q == 0)
		return RES_OK;
	if (q / 4 * 3 > cap - *pn)
		return res_set(RES_LIMIT, "OCSP GET request longer than %zu bytes", cap);
	if (EVP_DecodeBlock(out + *pn, buf, (int)q) != (int)(q / 4 * 3))
		return bad("not base64"); /* not reached: only base64 characters here */
	*pn += q / 4 * 3;
	return RES_OK;
}

int srv_ocsp_get_decode(const char *raw, size_t rawlen, unsigned char *out, size_t cap,
                        size_t *plen)
{
	unsigned char buf[256], last[3];
	size_t i, q = 0, n = 0, pad = 0, chars = 0, rem;
	int c, rc;

	*plen = 0;
	for (i = 0; i < rawlen && raw[i] != '?'; i++) {
		c = (unsigned char)raw[i];
		if (c == '%') {
			if (rawlen - i < 3 || hexval(raw[i + 1]) < 0 || hexval(raw[i + 2]) < 0)
				return bad("a bad percent-escape in the GET path");
			c = hexval(raw[i + 1]) << 4 | hexval(raw[i + 2]);
			i += 2;
		}
		if (c == '=') {
			if (++pad > 2)
				return bad("more than two '=' in the GET path");
			continue;
		}
		if ((c = b64char(c)) < 0)
			return bad("a character not in base64 in the GET path");
		if (pad)
			return bad("'=' inside the base64 of the GET path");
		buf[q++] = (unsigned char)c;
		chars++;
		if (q == sizeof(buf)) {
			if ((rc = flush(buf, q, out, cap, &n)) != RES_OK)
				return rc;
			q = 0;
		}
	}
	if (chars == 0)
		return bad("an empty GET path");
	rem = q % 4;
	if (rem == 1)
		return bad("a base64 length that is not one (GET path)");
	if ((rc = flush(buf, q - rem, out, cap, &n)) != RES_OK)
		return rc;
	if (rem != 0) { /* the last 2 or 3 characters: 1 or 2 bytes */
		unsigned char quad[4] = { 'A', 'A', 'A', 'A' };

		memcpy(quad, buf + q - rem, rem);
		if (rem - 1 > cap - n)
			return res_set(RES_LIMIT, "OCSP GET request longer than %zu bytes", cap);
		if (EVP_DecodeBlock(last, quad, 4) != 3)
			return bad("not base64");
		memcpy(out + n, last, rem - 1);
		n += rem - 1;
	}
	*plen = n;
	return RES_OK;
}

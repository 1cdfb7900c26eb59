/*
 * ocsp.c - the OCSP client (see ocsp.h): a request for one certificate,
 * sent by HTTP POST, and the response checked.
 *
 * The response is checked by hand with OpenSSL's OCSP accessors, not with
 * OCSP_basic_verify: that function validates a delegate's chain at the
 * current time (not at o->at), accepts a signer found through a trust
 * store (OCSP_TRUSTOTHER) and says little about *which* rule failed.  Here
 * each rule of RFC 6960 4.2.2.2 is one step with its own `why`:
 *   1. the signature verifies with the key of a candidate signer: the
 *      issuing CA (responder ID naming it), or a certificate carried in the
 *      response whose name or key hash is the responder ID;
 *   2. that signer is authorised: it has the issuer's own key, or it is a
 *      delegate issued by the issuer (name and signature checked with the
 *      issuer's key), carrying id-kp-OCSPSigning, valid at the time asked.
 *      A certificate trusted elsewhere never counts.
 * Only then are the nonce, the single response and its times looked at:
 * an unsigned or unauthorised answer says nothing.
 */
#include "config.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ocsp.h>
#include <openssl/x509v3.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "ocsp.h"
#include "pki.h"
#include "result.h"

#define OCSP_MAX_RESPONSE    ((size_t)1 << 20) /* 1 MiB, whatever max_download says */
#define OCSP_NONCE_LEN       32                /* RFC 8954: 32 octets recommended */
#define OCSP_DEFAULT_SKEW    300L
#define OCSP_DEFAULT_MAX_AGE (7L * 24 * 3600)

const char *rev_ocsp_why_name(enum rev_ocsp_why why)
{
	switch (why) {
	case REV_OCSP_WHY_NONE: return "none";
	case REV_OCSP_WHY_NO_URL: return "no-source";
	case REV_OCSP_WHY_UNREACHABLE: return "unreachable";
	case REV_OCSP_WHY_MALFORMED: return "malformed";
	case REV_OCSP_WHY_ERROR_STATUS: return "error-status";
	case REV_OCSP_WHY_BAD_SIGNATURE: return "bad-signature";
	case REV_OCSP_WHY_UNAUTHORISED: return "unauthorised";
	case REV_OCSP_WHY_NONCE: return "nonce";
	case REV_OCSP_WHY_NO_ANSWER: return "no-answer";
	case REV_OCSP_WHY_STALE: return "stale";
	}
	return "?";
}

/* An undetermined answer with its reason; always RES_OK (the check ran). */
static int undetermined(struct rev_ocsp_answer *a, enum rev_ocsp_why why, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int undetermined(struct rev_ocsp_answer *a, enum rev_ocsp_why why, const char *fmt, ...)
{
	va_list ap;

	a->status = REV_OCSP_UNDETERMINED;
	a->why = why;
	va_start(ap, fmt);
	vsnprintf(a->detail, sizeof(a->detail), fmt, ap);
	va_end(ap);
	ERR_clear_error();
	return RES_OK;
}

static void answer_init(struct rev_ocsp_answer *a)
{
	memset(a, 0, sizeof(*a));
	a->status = REV_OCSP_UNDETERMINED;
	a->reason = -1;
}

char *rev_ocsp_url_of(X509 *cert)
{
	STACK_OF(OPENSSL_STRING) *urls = X509_get1_ocsp(cert);
	char *out = NULL;

	for (int i = 0; i < sk_OPENSSL_STRING_num(urls) && out == NULL; i++) {
		const char *u = sk_OPENSSL_STRING_value(urls, i);

		if (strncasecmp(u, "http://", 7) == 0 || strncasecmp(u, "https://", 8) == 0)
			out = strdup(u);
	}
	X509_email_free(urls);
	return out;
}

int rev_ocsp_request(X509 *cert, X509 *issuer, const struct rev_ocsp_opts *o, OCSP_REQUEST **preq)
{
	/*
	 * The CertID's hash is an identifier the responder looks the
	 * certificate up by, not a signature: SHA-1 is what every responder
	 * understands (RFC 5019 2.1.1) and carries no collision risk here.
	 * SHA-256 on request (o->certid_sha256).
	 */
	const EVP_MD *md = (o != NULL && o->certid_sha256) ? EVP_sha256() : EVP_sha1();
	OCSP_REQUEST *req = NULL;
	OCSP_CERTID *id = NULL;
	int rc = RES_CRYPTO;

	*preq = NULL;
	if ((req = OCSP_REQUEST_new()) == NULL)
		return res_ossl(RES_NOMEM, "OCSP request");
	if ((id = OCSP_cert_to_id(md, cert, issuer)) == NULL) {
		rc = res_ossl(RES_CRYPTO, "OCSP CertID");
		goto out;
	}
	if (OCSP_request_add0_id(req, id) == NULL) {
		rc = res_ossl(RES_CRYPTO, "OCSP request");
		goto out;
	}
	id = NULL; /* transferred */
	/* NULL value: OpenSSL draws the bytes from its DRBG */
	if ((o == NULL || !o->no_nonce) && !OCSP_request_add1_nonce(req, NULL, OCSP_NONCE_LEN)) {
		rc = res_ossl(RES_CRYPTO, "OCSP nonce");
		goto out;
	}
	*preq = req;
	req = NULL;
	rc = RES_OK;
out:
	OCSP_CERTID_free(id);
	OCSP_REQUEST_free(req);
	return rc;
}

/* "/CN=x" or "key:<hex>" for the responder ID. */
static void responder_text(const OCSP_BASICRESP *bs, char *out, size_t cap)
{
	const ASN1_OCTET_STRING *keyid = NULL;
	const X509_NAME *name = NULL;
	char *s = NULL;

	out[0] = '\0';
	if (!OCSP_resp_get0_id(bs, &keyid, &name))
		return;
	if (name != NULL && pki_name_oneline(name, &s) == RES_OK) {
		snprintf(out, cap, "%s", s);
		free(s);
	} else if (keyid != NULL) {
		char hex[2 * 64 + 1];
		int n = ASN1_STRING_length(keyid);

		if (n > 64)
			n = 64;
		pki_hex(hex, ASN1_STRING_get0_data(keyid), (size_t)n);
		snprintf(out, cap, "key:%s", hex);
	}
}

/*
 * Does @x match the responder ID: its subject is the name, or the SHA-1 of
 * its public key bits is the key hash (RFC 6960 4.2.1, an identifier).
 */
static int respid_match(OSSL_LIB_CTX *libctx, const OCSP_BASICRESP *bs, X509 *x)
{
	const ASN1_OCTET_STRING *keyid = NULL;
	const X509_NAME *name = NULL;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	const ASN1_BIT_STRING *bits;
	EVP_MD *sha1;
	int ok;

	if (!OCSP_resp_get0_id(bs, &keyid, &name))
		return 0;
	if (name != NULL)
		return X509_NAME_cmp(name, X509_get_subject_name(x)) == 0;
	if (keyid == NULL || (bits = X509_get0_pubkey_bitstr(x)) == NULL)
		return 0;
	if ((sha1 = EVP_MD_fetch(libctx, "SHA1", NULL)) == NULL)
		return 0;
	ok = EVP_Digest(ASN1_STRING_get0_data(bits), (size_t)ASN1_STRING_length(bits), md, &mdlen,
	                sha1, NULL) &&
	     mdlen == (unsigned)ASN1_STRING_length(keyid) &&
	     memcmp(md, ASN1_STRING_get0_data(keyid), mdlen) == 0;
	EVP_MD_free(sha1);
	return ok;
}

/* The response's signature against @pkey (1 verifies). */
static int sig_verifies(OSSL_LIB_CTX *libctx, const OCSP_BASICRESP *bs, EVP_PKEY *pkey)
{
	const X509_ALGOR *alg = OCSP_resp_get0_tbs_sigalg(bs);
	const ASN1_OCTET_STRING *sig = OCSP_resp_get0_signature(bs);
	const OCSP_RESPDATA *tbs = OCSP_resp_get0_respdata(bs);

	if (pkey == NULL || alg == NULL || sig == NULL || tbs == NULL)
		return 0;
	return ASN1_item_verify_ex(ASN1_ITEM_rptr(OCSP_RESPDATA), (X509_ALGOR *)alg,
	                           (ASN1_BIT_STRING *)sig, (void *)tbs, NULL, pkey, libctx,
	                           NULL) > 0;
}

/*
 * Steps 1 and 2 of the header comment.  RES_OK with a->why set on a
 * refusal, *psigner (a reference into @bs or @issuer) otherwise.
 */
static int check_signer(OSSL_LIB_CTX *libctx, const OCSP_BASICRESP *bs, X509 *issuer, int64_t at,
                        struct rev_ocsp_answer *a, X509 **psigner)
{
	const STACK_OF(X509) *certs = OCSP_resp_get0_certs(bs);
	EVP_PKEY *ikey = X509_get0_pubkey(issuer);
	X509 *signer = NULL;
	uint32_t xku;

	*psigner = NULL;
	if (respid_match(libctx, bs, issuer) && sig_verifies(libctx, bs, ikey))
		signer = issuer;
	for (int i = 0; signer == NULL && i < sk_X509_num(certs); i++) {
		X509 *c = sk_X509_value(certs, i);

		if (respid_match(libctx, bs, c) && sig_verifies(libctx, bs, X509_get0_pubkey(c)))
			signer = c;
	}
	if (signer == NULL)
		return undetermined(a, REV_OCSP_WHY_BAD_SIGNATURE,
		                    "the response's signature does not verify with the key of the "
		                    "issuing CA or of a responder certificate it carries");
	/* the CA itself: the same key as the issuer we were given */
	if (signer == issuer || EVP_PKEY_eq(X509_get0_pubkey(signer), ikey) == 1) {
		*psigner = signer;
		return RES_OK;
	}
	/* a delegate: issued by this CA (its name and its key), OCSPSigning, valid */
	if (X509_check_issued(issuer, signer) != X509_V_OK || X509_verify(signer, ikey) <= 0)
		return undetermined(
		    a, REV_OCSP_WHY_UNAUTHORISED,
		    "the responder certificate was not issued by the certificate's CA");
	xku = X509_get_extended_key_usage(signer);
	if (!(X509_get_extension_flags(signer) & EXFLAG_XKUSAGE) || !(xku & XKU_OCSP_SIGN))
		return undetermined(a, REV_OCSP_WHY_UNAUTHORISED,
		                    "the responder certificate lacks id-kp-OCSPSigning");
	if ((X509_get_extension_flags(signer) & EXFLAG_KUSAGE) &&
	    !(X509_get_key_usage(signer) & (KU_DIGITAL_SIGNATURE | KU_NON_REPUDIATION)))
		return undetermined(a, REV_OCSP_WHY_UNAUTHORISED,
		                    "the responder certificate's key usage forbids signatures");
	if (pki_asn1_time_get(X509_get0_notBefore(signer)) > at ||
	    pki_asn1_time_get(X509_get0_notAfter(signer)) < at)
		return undetermined(
		    a, REV_OCSP_WHY_UNAUTHORISED,
		    "the responder certificate is not valid at the time of the check");
	a->delegated = 1;
	*psigner = signer;
	return RES_OK;
}

/* Does the request's CertID name @cert under @issuer (the caller's pairing)? */
static int request_names(OCSP_REQUEST *req, X509 *cert, X509 *issuer, OCSP_CERTID **pid)
{
	OCSP_ONEREQ *one = OCSP_request_onereq_get0(req, 0);
	OCSP_CERTID *rid = one != NULL ? OCSP_onereq_get0_id(one) : NULL;
	ASN1_OBJECT *mdoid = NULL;
	OCSP_CERTID *mine = NULL;
	const EVP_MD *md;
	int ok = 0;

	*pid = rid;
	if (rid == NULL || OCSP_id_get0_info(NULL, &mdoid, NULL, NULL, rid) == 0)
		return 0;
	if ((md = EVP_get_digestbyobj(mdoid)) != NULL &&
	    (mine = OCSP_cert_to_id(md, cert, issuer)) != NULL)
		ok = OCSP_id_cmp(mine, rid) == 0;
	OCSP_CERTID_free(mine);
	return ok;
}

int rev_ocsp_response_check(OSSL_LIB_CTX *libctx, const unsigned char *der, size_t len,
                            OCSP_REQUEST *req, X509 *cert, X509 *issuer,
                            const struct rev_ocsp_opts *o, struct rev_ocsp_answer *a)
{
	const unsigned char *p = der;
	OCSP_RESPONSE *resp = NULL;
	OCSP_BASICRESP *bs = NULL;
	OCSP_SINGLERESP *single;
	OCSP_CERTID *id = NULL;
	ASN1_GENERALIZEDTIME *rev = NULL, *thisupd = NULL, *nextupd = NULL;
	X509 *signer = NULL;
	int64_t at, skew, max_age;
	int rc = RES_OK, st, reason = -1, sent_nonce, idx;

	answer_init(a);
	at = (o != NULL && o->at != 0) ? o->at : (int64_t)time(NULL);
	skew = (o != NULL && o->skew > 0) ? o->skew : OCSP_DEFAULT_SKEW;
	max_age = (o != NULL && o->max_age > 0) ? o->max_age : OCSP_DEFAULT_MAX_AGE;
	if (!request_names(req, cert, issuer, &id))
		return res_set(RES_BAD_INPUT, "the OCSP request does not name this certificate");
	sent_nonce = OCSP_REQUEST_get_ext_by_NID(req, NID_id_pkix_OCSP_Nonce, -1) >= 0;

	if (der == NULL || len == 0 || len > OCSP_MAX_RESPONSE || len > LONG_MAX)
		return undetermined(a, REV_OCSP_WHY_MALFORMED, "empty or oversized OCSP response");
	if ((resp = d2i_OCSP_RESPONSE(NULL, &p, (long)len)) == NULL || p != der + len) {
		rc = undetermined(a, REV_OCSP_WHY_MALFORMED, "not a DER OCSP response");
		goto out;
	}
	if ((st = OCSP_response_status(resp)) != OCSP_RESPONSE_STATUS_SUCCESSFUL) {
		rc = undetermined(a, REV_OCSP_WHY_ERROR_STATUS, "the responder answered %s (%d)",
		                  OCSP_response_status_str(st), st);
		goto out;
	}
	if ((bs = OCSP_response_get1_basic(resp)) == NULL) {
		rc = undetermined(a, REV_OCSP_WHY_MALFORMED, "not a basic OCSP response");
		goto out;
	}
	responder_text(bs, a->responder, sizeof(a->responder));
	a->produced_at = pki_asn1_time_get(OCSP_resp_get0_produced_at(bs));

	if ((rc = check_signer(libctx, bs, issuer, at, a, &signer)) != RES_OK || signer == NULL)
		goto out;
	/* OCSP_check_nonce: 1 both present and equal (0 different, -1 not echoed) */
	if (sent_nonce && OCSP_check_nonce(req, bs) != 1) {
		rc = undetermined(a, REV_OCSP_WHY_NONCE,
		                  OCSP_BASICRESP_get_ext_by_NID(bs, NID_id_pkix_OCSP_Nonce, -1) < 0
		                      ? "the response does not echo our nonce"
		                      : "the response's nonce is not ours (a replay?)");
		goto out;
	}
	if ((idx = OCSP_resp_find(bs, id, -1)) < 0 || (single = OCSP_resp_get0(bs, idx)) == NULL) {
		rc = undetermined(a, REV_OCSP_WHY_NO_ANSWER,
		                  "the response has no answer for this certificate");
		goto out;
	}
	st = OCSP_single_get0_status(single, &reason, &rev, &thisupd, &nextupd);
	a->this_update = thisupd != NULL ? pki_asn1_time_get(thisupd) : 0;
	a->next_update = nextupd != NULL ? pki_asn1_time_get(nextupd) : 0;
	if (thisupd == NULL || a->this_update == 0) {
		rc = undetermined(a, REV_OCSP_WHY_MALFORMED,
		                  "the answer has no readable thisUpdate");
		goto out;
	}
	if (a->next_update != 0 && a->next_update < a->this_update) {
		rc = undetermined(a, REV_OCSP_WHY_MALFORMED, "nextUpdate is before thisUpdate");
		goto out;
	}
	if (a->this_update > at + skew) {
		char t[PKI_TIME_ISO_MAX];

		pki_time_iso(a->this_update, t);
		rc = undetermined(a, REV_OCSP_WHY_STALE, "thisUpdate %s is in the future", t);
		goto out;
	}
	if (a->next_update != 0 && a->next_update + skew < at) {
		char t[PKI_TIME_ISO_MAX];

		pki_time_iso(a->next_update, t);
		rc = undetermined(a, REV_OCSP_WHY_STALE, "nextUpdate %s has passed", t);
		goto out;
	}
	if (a->next_update == 0 && at - a->this_update > max_age) {
		char t[PKI_TIME_ISO_MAX];

		pki_time_iso(a->this_update, t);
		rc = undetermined(a, REV_OCSP_WHY_STALE,
		                  "no nextUpdate and thisUpdate %s is older than %lld s", t,
		                  (long long)max_age);
		goto out;
	}
	switch (st) {
	case V_OCSP_CERTSTATUS_GOOD: a->status = REV_OCSP_GOOD; break;
	case V_OCSP_CERTSTATUS_REVOKED:
		a->status = REV_OCSP_REVOKED;
		a->reason = reason >= 0 ? reason : -1;
		a->revoked_at = rev != NULL ? pki_asn1_time_get(rev) : 0;
		break;
	case V_OCSP_CERTSTATUS_UNKNOWN: a->status = REV_OCSP_UNKNOWN; break;
	default:
		rc = undetermined(a, REV_OCSP_WHY_MALFORMED, "unreadable certificate status");
		goto out;
	}
	a->why = REV_OCSP_WHY_NONE;
	rc = RES_OK;
out:
	OCSP_BASICRESP_free(bs);
	OCSP_RESPONSE_free(resp);
	return rc;
}

int rev_ocsp_check(OSSL_LIB_CTX *libctx, X509 *cert, X509 *issuer, const struct rev_ocsp_opts *o,
                   struct rev_ocsp_answer *a)
{
	struct rev_http_req hreq = { 0 };
	struct rev_http_resp hresp = { 0 };
	struct rev_limits lim;
	OCSP_REQUEST *req = NULL;
	unsigned char *body = NULL;
	char *url = NULL;
	int rc, n;

	answer_init(a);
	if (o != NULL && o->url != NULL)
		url = strdup(o->url);
	else
		url = rev_ocsp_url_of(cert);
	if (url == NULL)
		return undetermined(a, REV_OCSP_WHY_NO_URL,
		                    "the certificate names no OCSP responder and none was given");
	snprintf(a->url, sizeof(a->url), "%s", url);
	if ((rc = rev_ocsp_request(cert, issuer, o, &req)) != RES_OK)
		goto out;
	if ((n = i2d_OCSP_REQUEST(req, &body)) <= 0) {
		rc = res_ossl(RES_CRYPTO, "OCSP request encoding");
		goto out;
	}
	if (o != NULL && o->limits != NULL)
		lim = *o->limits;
	else
		rev_limits_default(&lim);
	lim.max_download = OCSP_MAX_RESPONSE;
	hreq.url = url;
	hreq.post_type = "application/ocsp-request";
	hreq.post = body;
	hreq.post_len = (size_t)n;
	hreq.accept = "application/ocsp-response";
	hreq.ca_file = o != NULL ? o->ca_file : NULL;
	hreq.limits = &lim;
	rc = rev_http(&hreq, &hresp);
	if (rc == RES_NETWORK || rc == RES_LIMIT || rc == RES_POLICY) {
		rc = undetermined(a, REV_OCSP_WHY_UNREACHABLE, "%s", res_message());
		goto out;
	}
	if (rc != RES_OK)
		goto out;
	if (hresp.status != 200) {
		rc = undetermined(a, REV_OCSP_WHY_UNREACHABLE, "%s: HTTP status %ld", url,
		                  hresp.status);
		goto out;
	}
	rc = rev_ocsp_response_check(libctx, hresp.body, hresp.len, req, cert, issuer, o, a);
	snprintf(a->url, sizeof(a->url), "%s", url);
out:
	rev_http_resp_clear(&hresp);
	OPENSSL_free(body);
	OCSP_REQUEST_free(req);
	free(url);
	return rc;
}

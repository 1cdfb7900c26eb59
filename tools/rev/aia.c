/*
 * aia.c - issuers fetched from a certificate's Authority Information Access
 * caIssuers URL (RFC 5280 4.2.2.1), for rev_verify with aia_fetch: DER or
 * PEM certificates, or a certs-only PKCS#7 (".p7c"), over http/https only,
 * bounded by the limits (at most 1 MiB however large max_download is).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <openssl/pkcs7.h>
#include <openssl/x509v3.h>

#include "check.h"
#include "result.h"

#define AIA_MAX_BYTES (1 << 20)

/* The first http(s) caIssuers URL of @x (a pointer into @x), or NULL. */
static const char *ca_issuers_url(X509 *x, AUTHORITY_INFO_ACCESS **paia)
{
	AUTHORITY_INFO_ACCESS *aia = X509_get_ext_d2i(x, NID_info_access, NULL, NULL);
	int i;

	*paia = aia;
	for (i = 0; aia != NULL && i < sk_ACCESS_DESCRIPTION_num(aia); i++) {
		ACCESS_DESCRIPTION *ad = sk_ACCESS_DESCRIPTION_value(aia, i);
		const char *u;

		if (OBJ_obj2nid(ad->method) != NID_ad_ca_issuers || ad->location->type != GEN_URI)
			continue;
		u = (const char *)ASN1_STRING_get0_data(ad->location->d.uniformResourceIdentifier);
		if (strncasecmp(u, "http://", 7) == 0 || strncasecmp(u, "https://", 8) == 0)
			return u;
	}
	return NULL;
}

/* Certificates in @buf: PEM, one DER certificate, or a DER PKCS#7 holding certificates. */
static int certs_of(const unsigned char *buf, size_t len, STACK_OF(X509) * out)
{
	const unsigned char *p = buf;
	STACK_OF(X509) *got = NULL;
	X509 *x;
	PKCS7 *p7;
	int i, rc;

	if (pki_is_pem(buf, len)) {
		if ((rc = pki_load_certs(buf, len, &got, NULL)) != RES_OK)
			return rc;
		for (i = 0; i < sk_X509_num(got); i++)
			if (X509_up_ref(sk_X509_value(got, i)) &&
			    !sk_X509_push(out, sk_X509_value(got, i)))
				X509_free(sk_X509_value(got, i));
		sk_X509_pop_free(got, X509_free);
		return RES_OK;
	}
	if ((x = d2i_X509(NULL, &p, (long)len)) != NULL && p == buf + len) {
		if (!sk_X509_push(out, x))
			X509_free(x);
		return RES_OK;
	}
	X509_free(x);
	p = buf;
	if ((p7 = d2i_PKCS7(NULL, &p, (long)len)) != NULL && PKCS7_type_is_signed(p7) &&
	    p7->d.sign != NULL && p7->d.sign->cert != NULL) {
		for (i = 0; i < sk_X509_num(p7->d.sign->cert); i++) {
			x = sk_X509_value(p7->d.sign->cert, i);
			if (X509_up_ref(x) && !sk_X509_push(out, x))
				X509_free(x);
		}
		PKCS7_free(p7);
		return RES_OK;
	}
	PKCS7_free(p7);
	return res_set(RES_BAD_INPUT, "neither a certificate nor a PKCS#7 of certificates");
}

int rev_aia_fetch(X509 *x, const struct rev_limits *limits, const char *ca_file,
                  STACK_OF(X509) * out, char **purl)
{
	struct rev_limits lim;
	struct rev_http_req req = { 0 };
	struct rev_http_resp resp = { 0 };
	AUTHORITY_INFO_ACCESS *aia = NULL;
	const char *url;
	int rc;

	*purl = NULL;
	if (limits != NULL)
		lim = *limits;
	else
		rev_limits_default(&lim);
	if (lim.max_download > AIA_MAX_BYTES)
		lim.max_download = AIA_MAX_BYTES;
	if ((url = ca_issuers_url(x, &aia)) == NULL) {
		rc = res_set(RES_NOT_FOUND, "no http(s) caIssuers URL in the certificate");
		goto out;
	}
	if ((*purl = strdup(url)) == NULL) {
		rc = res_set(RES_NOMEM, "out of memory");
		goto out;
	}
	req.url = url;
	req.ca_file = ca_file;
	req.limits = &lim;
	if ((rc = rev_http(&req, &resp)) != RES_OK)
		goto out;
	if (resp.status != 200) {
		rc = res_set(RES_NETWORK, "%.200s: HTTP status %ld", url, resp.status);
		goto out;
	}
	if ((rc = certs_of(resp.body, resp.len, out)) != RES_OK)
		res_prefix(rc, "%.200s", url);
out:
	rev_http_resp_clear(&resp);
	AUTHORITY_INFO_ACCESS_free(aia);
	return rc;
}

/*
 * load.c - certificates, CSRs and CRLs from bytes, PEM or DER (pki.h).
 * One reader for `cert`, `trust` and the CA: DER must be exactly one
 * object with nothing after it; PEM may hold other blocks (keys) and text
 * between blocks, but no block that does not decode and no BEGIN/END line
 * left over after the last block.
 */
#include "config.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "pki.h"
#include "result.h"

static int has_str(const unsigned char *p, size_t len, const char *needle)
{
	return memmem(p, len, needle, strlen(needle)) != NULL;
}

int pki_is_pem(const unsigned char *buf, size_t len)
{
	return buf != NULL && has_str(buf, len, "-----BEGIN ");
}

/* The one X509 at @der, @len bytes with nothing after it; NULL otherwise. */
static X509 *d2i_exact(const unsigned char *der, long len, int aux)
{
	const unsigned char *p = der;
	X509 *x = aux ? d2i_X509_AUX(NULL, &p, len) : d2i_X509(NULL, &p, len);

	if (x != NULL && p != der + len) {
		X509_free(x);
		return NULL;
	}
	return x;
}

/*
 * Calls @fn for every PEM block of @buf whose name @fn takes: @fn returns
 * 1 (taken), 0 (not its kind: skipped) or -RES_* (stop: the thread's
 * message is set).  Reports a malformed block and a BEGIN/END line
 * after the last block.  *@pends, when not NULL, receives for each taken
 * block the offset just past its END line (malloc'ed).
 */
static int pem_blocks(const unsigned char *buf, size_t len,
                      int (*fn)(void *arg, const char *name, const unsigned char *der, long dlen),
                      void *arg, size_t **pends, size_t *ptaken)
{
	BIO *bio = NULL;
	size_t *ends = NULL, taken = 0, end = 0, nblock = 0;
	int rc = RES_NOMEM;

	if (len > INT_MAX)
		return res_set(RES_BAD_INPUT, "input too large (%zu bytes)", len);
	if ((bio = BIO_new_mem_buf(buf, (int)len)) == NULL)
		goto oom;
	ERR_set_mark();
	for (;;) {
		char *name = NULL, *header = NULL, *rest;
		unsigned char *data = NULL;
		long dlen = 0, left;
		int r;

		if (PEM_read_bio(bio, &name, &header, &data, &dlen) != 1) {
			unsigned long e = ERR_peek_last_error();

			if (ERR_GET_LIB(e) == ERR_LIB_PEM &&
			    ERR_GET_REASON(e) == PEM_R_NO_START_LINE)
				break; /* the end */
			rc =
			    res_set(RES_BAD_INPUT,
			            "malformed PEM after block %zu (bad base64, a missing END line "
			            "or a damaged header)",
			            nblock);
			goto out;
		}
		nblock++;
		r = fn(arg, name, data, dlen);
		if (r < 0)
			rc = res_prefix(-r, "PEM block %zu (%.80s)", nblock, name);
		OPENSSL_free(name);
		OPENSSL_free(header);
		OPENSSL_free(data);
		if (r < 0)
			goto out;
		left = BIO_get_mem_data(bio, &rest);
		end = len - (size_t)(left > 0 ? left : 0);
		if (r == 0)
			continue;
		if (pends != NULL) {
			size_t *ne = realloc(ends, (taken + 1) * sizeof(*ne));
			if (ne == NULL)
				goto oom;
			ends = ne;
			ends[taken] = end;
		}
		taken++;
	}
	if (has_str(buf + end, len - end, "-----BEGIN ") ||
	    has_str(buf + end, len - end, "-----END ")) {
		rc = res_set(RES_BAD_INPUT,
		             "malformed or truncated PEM after block %zu (a BEGIN or "
		             "END line without its block)",
		             nblock);
		goto out;
	}
	if (pends != NULL)
		*pends = ends, ends = NULL;
	*ptaken = taken;
	rc = RES_OK;
	goto out;
oom:
	rc = res_set(RES_NOMEM, "out of memory");
out:
	ERR_pop_to_mark();
	free(ends);
	BIO_free(bio);
	return rc;
}

static int cert_block(void *arg, const char *name, const unsigned char *der, long dlen)
{
	STACK_OF(X509) *certs = arg;
	int aux = strcmp(name, PEM_STRING_X509_TRUSTED) == 0;
	X509 *x;

	if (!aux && strcmp(name, PEM_STRING_X509) != 0 && strcmp(name, PEM_STRING_X509_OLD) != 0)
		return 0;
	if ((x = d2i_exact(der, dlen, aux)) == NULL)
		return -res_set(RES_BAD_INPUT, "does not hold a valid certificate");
	if (!sk_X509_push(certs, x)) {
		X509_free(x);
		return -res_set(RES_NOMEM, "out of memory");
	}
	return 1;
}

int pki_load_certs_at(const unsigned char *buf, size_t len, STACK_OF(X509) * *pcerts,
                      size_t **pends, int *ppem)
{
	STACK_OF(X509) *certs = NULL;
	const unsigned char *p = buf;
	size_t taken = 0, *ends = NULL;
	X509 *x = NULL;
	int rc = RES_NOMEM, pem;

	if (len == 0)
		return res_set(RES_BAD_INPUT, "empty input");
	if ((certs = sk_X509_new_null()) == NULL)
		goto oom;
	pem = pki_is_pem(buf, len);
	/* DER first: a certificate's own bytes may hold a PEM-looking line */
	if (buf[0] == 0x30 && len <= LONG_MAX) {
		ERR_set_mark();
		x = d2i_X509(NULL, &p, (long)len);
		ERR_pop_to_mark();
		if (x != NULL && p == buf + len) {
			if (!sk_X509_push(certs, x))
				goto oom;
			x = NULL;
			if (pends != NULL) {
				if ((ends = malloc(sizeof(*ends))) == NULL)
					goto oom;
				ends[0] = len;
			}
			pem = 0;
			goto done;
		}
		if (x != NULL && !pem) {
			rc = res_set(RES_BAD_INPUT,
			             "%zu bytes of trailing data after the DER certificate",
			             len - (size_t)(p - buf));
			goto out;
		}
		X509_free(x);
		x = NULL;
	}
	if (!pem) {
		rc = res_set(RES_BAD_INPUT, "neither a PEM certificate nor a DER certificate "
		                            "(truncated, trailing data, or not a certificate)");
		goto out;
	}
	if ((rc = pem_blocks(buf, len, cert_block, certs, pends != NULL ? &ends : NULL, &taken)) !=
	    RES_OK)
		goto out;
	if (taken == 0) {
		rc = res_set(RES_BAD_INPUT, "no CERTIFICATE block in the PEM input");
		goto out;
	}
done:
	if (ppem != NULL)
		*ppem = pem;
	if (pends != NULL)
		*pends = ends, ends = NULL;
	*pcerts = certs;
	certs = NULL;
	rc = RES_OK;
	goto out;
oom:
	rc = res_set(RES_NOMEM, "out of memory");
out:
	free(ends);
	X509_free(x);
	sk_X509_pop_free(certs, X509_free);
	return rc;
}

int pki_load_certs(const unsigned char *buf, size_t len, STACK_OF(X509) * *pcerts, int *ppem)
{
	return pki_load_certs_at(buf, len, pcerts, NULL, ppem);
}

int pki_load_cert(const unsigned char *buf, size_t len, X509 **px)
{
	STACK_OF(X509) *certs = NULL;
	int rc;

	if ((rc = pki_load_certs(buf, len, &certs, NULL)) != RES_OK)
		return rc;
	*px = sk_X509_shift(certs);
	sk_X509_pop_free(certs, X509_free);
	return RES_OK;
}

/* ---- a trust bundle: PEM certificates, perhaps CRLs ----------------- */

/* Only blank lines and '#' comments. */
static int blank_or_comments(const unsigned char *p, size_t len)
{
	size_t i = 0;

	while (i < len) {
		while (i < len && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\n'))
			i++;
		if (i == len)
			break;
		if (p[i] != '#')
			return 0;
		while (i < len && p[i] != '\n')
			i++;
	}
	return 1;
}

struct bundle {
	STACK_OF(X509) * certs;
	STACK_OF(X509_CRL) * crls; /* NULL: CRL blocks are skipped */
};

static int bundle_block(void *arg, const char *name, const unsigned char *der, long dlen)
{
	struct bundle *b = arg;
	const unsigned char *p = der;
	X509_CRL *crl;

	if (b->crls == NULL || strcmp(name, PEM_STRING_X509_CRL) != 0)
		return cert_block(b->certs, name, der, dlen);
	ERR_set_mark();
	crl = d2i_X509_CRL(NULL, &p, dlen);
	ERR_pop_to_mark();
	if (crl == NULL || p != der + dlen) {
		X509_CRL_free(crl);
		return -res_set(RES_BAD_INPUT, "does not hold a valid CRL");
	}
	if (!sk_X509_CRL_push(b->crls, crl)) {
		X509_CRL_free(crl);
		return -res_set(RES_NOMEM, "out of memory");
	}
	return 0; /* not a certificate: no end recorded */
}

int pki_load_bundle(const unsigned char *buf, size_t len, STACK_OF(X509) * *pcerts, size_t **pends,
                    STACK_OF(X509_CRL) * *pcrls)
{
	struct bundle b = { NULL, NULL };
	size_t taken = 0, *ends = NULL;
	int rc = RES_NOMEM;

	if ((b.certs = sk_X509_new_null()) == NULL ||
	    (pcrls != NULL && (b.crls = sk_X509_CRL_new_null()) == NULL))
		goto oom;
	if (buf == NULL || blank_or_comments(buf, len))
		goto done;
	if (!pki_is_pem(buf, len)) {
		rc = res_set(RES_BAD_INPUT, "not a PEM certificate bundle");
		goto out;
	}
	if ((rc = pem_blocks(buf, len, bundle_block, &b, pends != NULL ? &ends : NULL, &taken)) !=
	    RES_OK)
		goto out;
	if (taken == 0) {
		rc = res_set(RES_BAD_INPUT, "no CERTIFICATE block in the PEM input");
		goto out;
	}
done:
	*pcerts = b.certs, b.certs = NULL;
	if (pends != NULL)
		*pends = ends, ends = NULL;
	if (pcrls != NULL)
		*pcrls = b.crls, b.crls = NULL;
	rc = RES_OK;
	goto out;
oom:
	rc = res_set(RES_NOMEM, "out of memory");
out:
	free(ends);
	sk_X509_pop_free(b.certs, X509_free);
	sk_X509_CRL_pop_free(b.crls, X509_CRL_free);
	return rc;
}

/* ---- one object of another kind: CSR, CRL -------------------------- */

struct one {
	const char *const *names; /* PEM names taken */
	const char *what;         /* "certificate signing request" */
	int (*decode)(struct one *o, const unsigned char *der, long len);
	void *obj;
	OSSL_LIB_CTX *libctx;
};

static int one_block(void *arg, const char *name, const unsigned char *der, long dlen)
{
	struct one *o = arg;
	size_t i;

	for (i = 0; o->names[i] != NULL; i++)
		if (strcmp(name, o->names[i]) == 0)
			break;
	if (o->names[i] == NULL || o->obj != NULL)
		return 0; /* another kind, or a second one: the first counts */
	if (o->decode(o, der, dlen) != RES_OK)
		return -res_set(RES_BAD_INPUT, "does not hold a valid %s", o->what);
	return 1;
}

static int load_one(struct one *o, const unsigned char *buf, size_t len)
{
	size_t taken = 0;
	int rc;

	if (len == 0)
		return res_set(RES_BAD_INPUT, "empty input");
	if (buf[0] == 0x30 && len <= LONG_MAX && o->decode(o, buf, (long)len) == RES_OK)
		return RES_OK;
	if (!pki_is_pem(buf, len))
		return res_set(RES_BAD_INPUT,
		               "neither a PEM nor a DER %s (truncated, trailing "
		               "data, or not one)",
		               o->what);
	if ((rc = pem_blocks(buf, len, one_block, o, NULL, &taken)) != RES_OK)
		return rc;
	if (o->obj == NULL)
		return res_set(RES_BAD_INPUT, "no %s in the PEM input", o->what);
	return RES_OK;
}

static int decode_req(struct one *o, const unsigned char *der, long len)
{
	const unsigned char *p = der;
	X509_REQ *req = X509_REQ_new_ex(o->libctx, NULL);
	int rc = RES_BAD_INPUT;

	ERR_set_mark();
	if (req != NULL && d2i_X509_REQ(&req, &p, len) != NULL && p == der + len) {
		o->obj = req;
		req = NULL;
		rc = RES_OK;
	}
	ERR_pop_to_mark();
	X509_REQ_free(req);
	return rc;
}

int pki_load_csr(OSSL_LIB_CTX *libctx, const unsigned char *buf, size_t len, X509_REQ **preq)
{
	static const char *const names[] = { PEM_STRING_X509_REQ, PEM_STRING_X509_REQ_OLD, NULL };
	struct one o = { names, "certificate signing request", decode_req, NULL, libctx };
	int rc;

	if ((rc = load_one(&o, buf, len)) == RES_OK)
		*preq = o.obj;
	else
		X509_REQ_free(o.obj); /* a good block before a broken one */
	return rc;
}

static int decode_crl(struct one *o, const unsigned char *der, long len)
{
	const unsigned char *p = der;
	X509_CRL *crl;
	int rc = RES_BAD_INPUT;

	ERR_set_mark();
	if ((crl = d2i_X509_CRL(NULL, &p, len)) != NULL && p == der + len) {
		o->obj = crl;
		crl = NULL;
		rc = RES_OK;
	}
	ERR_pop_to_mark();
	X509_CRL_free(crl);
	return rc;
}

int pki_load_crl(const unsigned char *buf, size_t len, X509_CRL **pcrl)
{
	static const char *const names[] = { PEM_STRING_X509_CRL, NULL };
	struct one o = { names, "CRL", decode_crl, NULL, NULL };
	int rc;

	if ((rc = load_one(&o, buf, len)) == RES_OK)
		*pcrl = o.obj;
	else
		X509_CRL_free(o.obj); /* a good block before a broken one */
	return rc;
}

/* lookup.c - everything a pkcs11: URI names: private keys, public keys, certificates. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

struct lookup_op {
	CK_ATTRIBUTE tmpl[3]; /* label, id from the URI; class set per pass */
	CK_ULONG n;
	unsigned classes;
	const struct p11ca_lookup_search *search; /* or NULL */
	/* the names and serial to look for, decoded: compared with the
	 * certificates' own (by_value) when no attribute matched */
	X509_NAME *subject, *issuer;
	ASN1_INTEGER *serial;
	int by_value;
	struct p11ca_found *found;
	size_t count;
	size_t base; /* where the current token's objects start */
};

/* Releases what found[0..count) hold, not the array. */
static void found_free_range(struct p11ca_found *found, size_t count)
{
	size_t i;

	for (i = 0; i < count; i++) {
		p11ca_key_free(found[i].key);
		EVP_PKEY_free(found[i].pub);
		X509_free(found[i].cert);
		memset(&found[i], 0, sizeof(found[i]));
	}
}

static int has_names(const struct p11ca_lookup_search *q)
{
	return q != NULL && (q->subject != NULL || q->issuer != NULL || q->serial != NULL);
}

/* Whether certificate @der (decoded: @x) meets the search criteria that
 * the template did not already check. */
static int cert_wanted(const struct lookup_op *op, X509 *x, const unsigned char *der, CK_ULONG len)
{
	const struct p11ca_lookup_search *q = op->search;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	if (q == NULL)
		return 1;
	if (q->fingerprint != NULL &&
	    (EVP_Digest(der, len, md, &mdlen, q->digest, NULL) != 1 ||
	     mdlen != q->fingerprint_len || memcmp(md, q->fingerprint, mdlen) != 0))
		return 0;
	if (!op->by_value)
		return 1;
	if (op->subject != NULL && X509_NAME_cmp(X509_get_subject_name(x), op->subject) != 0)
		return 0;
	if (op->issuer != NULL && X509_NAME_cmp(X509_get_issuer_name(x), op->issuer) != 0)
		return 0;
	if (op->serial != NULL && ASN1_INTEGER_cmp(X509_get0_serialNumber(x), op->serial) != 0)
		return 0;
	return 1;
}

/* The certificate attributes of the search, appended to @tmpl at @n. */
static CK_ULONG cert_template(const struct lookup_op *op, CK_ATTRIBUTE *tmpl, CK_ULONG n)
{
	const struct p11ca_lookup_search *q = op->search;

	if (q == NULL || op->by_value)
		return n;
	if (q->subject != NULL) {
		tmpl[n].type = CKA_SUBJECT;
		tmpl[n].pValue = (void *)q->subject;
		tmpl[n++].ulValueLen = q->subject_len;
	}
	if (q->issuer != NULL) {
		tmpl[n].type = CKA_ISSUER;
		tmpl[n].pValue = (void *)q->issuer;
		tmpl[n++].ulValueLen = q->issuer_len;
	}
	if (q->serial != NULL) {
		tmpl[n].type = CKA_SERIAL_NUMBER;
		tmpl[n].pValue = (void *)q->serial;
		tmpl[n++].ulValueLen = q->serial_len;
	}
	return n;
}

static CK_RV lookup_class(p11ca_token *t, CK_SESSION_HANDLE s, struct lookup_op *op,
                          CK_OBJECT_CLASS klass)
{
	CK_ATTRIBUTE tmpl[7];
	CK_OBJECT_HANDLE *hs = NULL;
	CK_ULONG n = 0, i, nt;
	struct p11ca_found *nf;
	CK_RV rv;

	memcpy(tmpl, op->tmpl, op->n * sizeof(tmpl[0]));
	tmpl[op->n].type = CKA_CLASS;
	tmpl[op->n].pValue = &klass;
	tmpl[op->n].ulValueLen = sizeof(klass);
	nt = op->n + 1;
	if (klass == CKO_CERTIFICATE)
		nt = cert_template(op, tmpl, nt);
	if ((rv = p11ca_find_objects(t, s, tmpl, nt, &hs, &n)) != CKR_OK || n == 0)
		goto out;
	nf = realloc(op->found, (op->count + n) * sizeof(*nf));
	if (nf == NULL) {
		rv = CKR_HOST_MEMORY;
		goto out;
	}
	op->found = nf;
	for (i = 0; i < n; i++) {
		struct p11ca_found *f = &op->found[op->count];
		unsigned char *v = NULL;
		CK_ULONG vlen = 0;

		memset(f, 0, sizeof(*f));
		f->klass = klass;
		if (p11ca_attr_get(t, s, hs[i], CKA_LABEL, &v, &vlen) == CKR_OK)
			snprintf(f->label, sizeof(f->label), "%.*s", (int)vlen, (char *)v);
		free(v);
		v = NULL;
		if (klass == CKO_PRIVATE_KEY) {
			rv = p11ca_key_from_handle(t, s, hs[i], &f->key);
		} else if (klass == CKO_PUBLIC_KEY) {
			CK_KEY_TYPE kt = (CK_KEY_TYPE)-1;
			CK_ATTRIBUTE a = { CKA_KEY_TYPE, &kt, sizeof(kt) };
			rv = t->mod->fl->C_GetAttributeValue(s, hs[i], &a, 1);
			if (rv == CKR_OK)
				rv = p11ca_pubkey_from_object(t, s, hs[i], kt, &f->pub);
		} else {
			rv = p11ca_attr_get(t, s, hs[i], CKA_VALUE, &v, &vlen);
			if (rv == CKR_OK) {
				const unsigned char *p = v;
				f->cert = X509_new_ex(t->ctx->libctx, t->ctx->propq);
				if (f->cert == NULL || d2i_X509(&f->cert, &p, (long)vlen) == NULL) {
					X509_free(f->cert);
					f->cert = NULL;
					rv = p11ca_err(
					    P11CA_R_CRYPTO,
					    "certificate '%s' on token '%s' is not valid DER",
					    f->label, t->info.label);
				} else if (!cert_wanted(op, f->cert, v, vlen)) {
					X509_free(f->cert);
					f->cert = NULL;
					free(v);
					continue;
				}
			}
			free(v);
		}
		if (rv != CKR_OK) {
			/* an object we cannot use is skipped, unless the session broke */
			if (p11ca_fault_of(rv) != P11CA_FAULT_NONE)
				goto out;
			p11ca_log(t->ctx, "skipping '%s': %s", f->label, p11ca_error_message());
			rv = CKR_OK;
			continue;
		}
		op->count++;
	}
out:
	free(hs);
	return rv;
}

static CK_RV lookup_op(p11ca_token *t, CK_SESSION_HANDLE s, p11ca_key *unused, void *data)
{
	struct lookup_op *op = data;
	CK_RV rv = CKR_OK;

	/* a retry after a fault starts this token from scratch */
	if (op->count > op->base)
		found_free_range(op->found + op->base, op->count - op->base);
	op->count = op->base;
	if (rv == CKR_OK && (op->classes & P11CA_LOOKUP_PRIVATE))
		rv = lookup_class(t, s, op, CKO_PRIVATE_KEY);
	if (rv == CKR_OK && (op->classes & P11CA_LOOKUP_PUBLIC))
		rv = lookup_class(t, s, op, CKO_PUBLIC_KEY);
	if (rv == CKR_OK && (op->classes & P11CA_LOOKUP_CERT))
		rv = lookup_class(t, s, op, CKO_CERTIFICATE);
	return rv;
}

/* Decodes the names and serial of @q into @op; checks the fingerprint. */
static CK_RV decode_search(const struct p11ca_lookup_search *q, struct lookup_op *op)
{
	const unsigned char *p;

	if (q == NULL)
		return CKR_OK;
	if (q->subject != NULL && ((p = q->subject), (op->subject = d2i_X509_NAME(
	                                                  NULL, &p, (long)q->subject_len)) == NULL))
		return p11ca_err(CKR_ARGUMENTS_BAD, "the subject to look for is not a DER name");
	if (q->issuer != NULL &&
	    ((p = q->issuer), (op->issuer = d2i_X509_NAME(NULL, &p, (long)q->issuer_len)) == NULL))
		return p11ca_err(CKR_ARGUMENTS_BAD, "the issuer to look for is not a DER name");
	if (q->serial != NULL && ((p = q->serial), (op->serial = d2i_ASN1_INTEGER(
	                                                NULL, &p, (long)q->serial_len)) == NULL))
		return p11ca_err(CKR_ARGUMENTS_BAD,
		                 "the serial number to look for is not a DER INTEGER");
	if (q->fingerprint != NULL &&
	    (q->digest == NULL || (int)q->fingerprint_len != EVP_MD_get_size(q->digest)))
		return p11ca_err(CKR_ARGUMENTS_BAD, "a fingerprint of %zu bytes is not a %s digest",
		                 q->fingerprint_len,
		                 q->digest ? EVP_MD_get0_name(q->digest) : "named");
	return CKR_OK;
}

/* Everything the search wants on token @t, appended to op->found. */
static CK_RV lookup_token(p11ca_token *t, struct lookup_op *op)
{
	int login = (op->classes & P11CA_LOOKUP_PRIVATE) != 0;
	CK_RV rv;

	op->base = op->count;
	op->by_value = 0;
	rv = p11ca_token_run(t, NULL, login, lookup_op, op);
	if (rv == CKR_OK && op->count == op->base && has_names(op->search)) {
		/* no certificate holds these attributes as given: the same
		 * names may still be there in another encoding */
		op->by_value = 1;
		rv = p11ca_token_run(t, NULL, login, lookup_op, op);
	}
	return rv;
}

P11CA_EXPORT CK_RV p11ca_lookup_ex(p11ca_ctx *ctx, const char *uristr, unsigned classes,
                                   const struct p11ca_lookup_search *search,
                                   struct p11ca_found **pfound, size_t *pcount)
{
	P11KitUri *uri = NULL;
	p11ca_token **ts = NULL;
	size_t nt = 0, i;
	struct lookup_op op;
	CK_ATTRIBUTE *a;
	CK_RV rv;

	*pfound = NULL;
	*pcount = 0;
	memset(&op, 0, sizeof(op));
	if ((rv = p11ca_ctx_uri_parse(ctx, uristr, &uri)) != CKR_OK)
		return rv;
	if ((a = p11_kit_uri_get_attribute(uri, CKA_CLASS)) != NULL &&
	    a->ulValueLen == sizeof(CK_OBJECT_CLASS)) {
		CK_OBJECT_CLASS k = *(CK_OBJECT_CLASS *)a->pValue;
		if (classes == P11CA_LOOKUP_PRIVATE && k != CKO_PRIVATE_KEY) {
			rv = p11ca_err(P11CA_R_BAD_URI,
			               "%s does not name a private key (type=private)",
			               p11ca_uri_safe(uristr));
			goto out;
		}
		classes &= k == CKO_PRIVATE_KEY   ? P11CA_LOOKUP_PRIVATE
		           : k == CKO_PUBLIC_KEY  ? P11CA_LOOKUP_PUBLIC
		           : k == CKO_CERTIFICATE ? P11CA_LOOKUP_CERT
		                                  : 0;
	}
	/* names, serials and fingerprints are the certificates' */
	if (search != NULL && (has_names(search) || search->fingerprint != NULL))
		classes &= P11CA_LOOKUP_CERT;
	if ((rv = decode_search(search, &op)) != CKR_OK)
		goto out;
	if (search != NULL && (search->flags & P11CA_SEARCH_ALL_TOKENS))
		rv = p11ca_ctx_find_tokens(ctx, uri, uristr, &ts, &nt);
	else if ((ts = malloc(sizeof(*ts))) == NULL)
		rv = p11ca_err(CKR_HOST_MEMORY, "out of memory");
	else if ((rv = p11ca_ctx_find_token(ctx, uri, uristr, &ts[0])) == CKR_OK)
		nt = 1;
	if (rv != CKR_OK)
		goto out;
	op.n = p11ca_uri_object_template(uri, op.tmpl, 0);
	op.classes = classes;
	op.search = search;
	for (i = 0; classes != 0 && rv == CKR_OK && i < nt; i++)
		rv = lookup_token(ts[i], &op);
	if (rv != CKR_OK) {
		p11ca_found_free(op.found, op.count);
		goto out;
	}
	*pfound = op.found;
	*pcount = op.count;
out:
	free(ts);
	X509_NAME_free(op.subject);
	X509_NAME_free(op.issuer);
	ASN1_INTEGER_free(op.serial);
	p11ca_uri_free(uri);
	return rv;
}

P11CA_EXPORT CK_RV p11ca_lookup(p11ca_ctx *ctx, const char *uristr, unsigned classes,
                                struct p11ca_found **pfound, size_t *pcount)
{
	return p11ca_lookup_ex(ctx, uristr, classes, NULL, pfound, pcount);
}

P11CA_EXPORT void p11ca_found_free(struct p11ca_found *found, size_t count)
{
	if (found == NULL)
		return;
	found_free_range(found, count);
	free(found);
}

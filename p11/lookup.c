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
	struct p11ca_found *found;
	size_t count;
};

static CK_RV lookup_class(p11ca_token *t, CK_SESSION_HANDLE s, struct lookup_op *op,
                          CK_OBJECT_CLASS klass)
{
	CK_ATTRIBUTE tmpl[4];
	CK_OBJECT_HANDLE *hs = NULL;
	CK_ULONG n = 0, i;
	struct p11ca_found *nf;
	CK_RV rv;

	memcpy(tmpl, op->tmpl, op->n * sizeof(tmpl[0]));
	tmpl[op->n].type = CKA_CLASS;
	tmpl[op->n].pValue = &klass;
	tmpl[op->n].ulValueLen = sizeof(klass);
	if ((rv = p11ca_find_objects(t, s, tmpl, op->n + 1, &hs, &n)) != CKR_OK || n == 0)
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

	/* a retry after a fault starts from scratch */
	p11ca_found_free(op->found, op->count);
	op->found = NULL;
	op->count = 0;
	if (rv == CKR_OK && (op->classes & P11CA_LOOKUP_PRIVATE))
		rv = lookup_class(t, s, op, CKO_PRIVATE_KEY);
	if (rv == CKR_OK && (op->classes & P11CA_LOOKUP_PUBLIC))
		rv = lookup_class(t, s, op, CKO_PUBLIC_KEY);
	if (rv == CKR_OK && (op->classes & P11CA_LOOKUP_CERT))
		rv = lookup_class(t, s, op, CKO_CERTIFICATE);
	return rv;
}

P11CA_EXPORT CK_RV p11ca_lookup(p11ca_ctx *ctx, const char *uristr, unsigned classes,
                                struct p11ca_found **pfound, size_t *pcount)
{
	P11KitUri *uri = NULL;
	p11ca_token *t = NULL;
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
	if ((rv = p11ca_ctx_find_token(ctx, uri, uristr, &t)) != CKR_OK)
		goto out;
	op.n = p11ca_uri_object_template(uri, op.tmpl, 0);
	op.classes = classes;
	if (classes != 0)
		rv =
		    p11ca_token_run(t, NULL, (classes & P11CA_LOOKUP_PRIVATE) != 0, lookup_op, &op);
	if (rv != CKR_OK) {
		p11ca_found_free(op.found, op.count);
		goto out;
	}
	*pfound = op.found;
	*pcount = op.count;
out:
	p11ca_uri_free(uri);
	return rv;
}

P11CA_EXPORT void p11ca_found_free(struct p11ca_found *found, size_t count)
{
	size_t i;

	if (found == NULL)
		return;
	for (i = 0; i < count; i++) {
		p11ca_key_free(found[i].key);
		EVP_PKEY_free(found[i].pub);
		X509_free(found[i].cert);
	}
	free(found);
}

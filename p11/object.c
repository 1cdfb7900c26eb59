/* object.c - listing and deleting keys and certificates. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

struct list_op {
	struct p11ca_object_info *objs;
	size_t count;
};

static void fill_object(p11ca_token *t, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h,
                        CK_OBJECT_CLASS klass, struct p11ca_object_info *o)
{
	CK_KEY_TYPE kt = (CK_KEY_TYPE)-1;
	CK_ATTRIBUTE a = { CKA_KEY_TYPE, &kt, sizeof(kt) };
	unsigned char *v = NULL;
	CK_ULONG vlen = 0, i;

	memset(o, 0, sizeof(*o));
	o->klass = klass;
	if (p11ca_attr_get(t, s, h, CKA_LABEL, &v, &vlen) == CKR_OK) {
		snprintf(o->label, sizeof(o->label), "%.*s", (int)vlen, (char *)v);
		free(v);
	}
	v = NULL;
	if (p11ca_attr_get(t, s, h, CKA_ID, &v, &vlen) == CKR_OK) {
		o->id_len = vlen < sizeof(o->id) ? vlen : sizeof(o->id);
		memcpy(o->id, v, o->id_len);
		free(v);
	}
	v = NULL;
	o->private_ = p11ca_attr_bool(t, s, h, CKA_PRIVATE);
	o->token_ = p11ca_attr_bool(t, s, h, CKA_TOKEN);
	if (klass == CKO_CERTIFICATE) {
		o->sensitive = o->extractable = o->always_sensitive = o->never_extractable = -1;
		o->local = -1;
	} else {
		if (t->mod->fl->C_GetAttributeValue(s, h, &a, 1) == CKR_OK)
			o->key_type = kt;
		o->local = p11ca_attr_bool(t, s, h, CKA_LOCAL);
		if (klass == CKO_PRIVATE_KEY) {
			o->sensitive = p11ca_attr_bool(t, s, h, CKA_SENSITIVE);
			o->extractable = p11ca_attr_bool(t, s, h, CKA_EXTRACTABLE);
			o->always_sensitive = p11ca_attr_bool(t, s, h, CKA_ALWAYS_SENSITIVE);
			o->never_extractable = p11ca_attr_bool(t, s, h, CKA_NEVER_EXTRACTABLE);
		} else {
			o->sensitive = o->extractable = o->always_sensitive = -1;
			o->never_extractable = -1;
		}
		if (kt == CKK_RSA) {
			o->kind = P11CA_KEY_RSA;
			if (p11ca_attr_get(t, s, h, CKA_MODULUS, &v, &vlen) == CKR_OK) {
				for (i = 0; i < vlen && v[i] == 0; i++)
					;
				o->bits = (int)((vlen - i) * 8);
			}
		} else if (kt == CKK_EC) {
			o->kind = P11CA_KEY_EC;
			if (p11ca_attr_get(t, s, h, CKA_EC_PARAMS, &v, &vlen) == CKR_OK)
				(void)p11ca_ec_params_group(v, vlen, &o->bits);
		} else if (kt == CKK_EC_EDWARDS) {
			o->kind = P11CA_KEY_ED25519;
			o->bits = 256;
		}
		free(v);
	}
	o->uri = p11ca_uri_for_object(t, klass, o->label, o->id, o->id_len);
}

static CK_RV list_op(p11ca_token *t, CK_SESSION_HANDLE s, p11ca_key *unused, void *data)
{
	static const CK_OBJECT_CLASS classes[] = { CKO_PRIVATE_KEY, CKO_PUBLIC_KEY,
		                                   CKO_CERTIFICATE };
	struct list_op *op = data;
	size_t c;
	CK_RV rv = CKR_OK;

	for (c = 0; c < sizeof(classes) / sizeof(classes[0]); c++) {
		CK_OBJECT_CLASS k = classes[c];
		CK_ATTRIBUTE tmpl = { CKA_CLASS, &k, sizeof(k) };
		CK_OBJECT_HANDLE *hs = NULL;
		CK_ULONG n = 0, i;
		struct p11ca_object_info *no;

		if ((rv = p11ca_find_objects(t, s, &tmpl, 1, &hs, &n)) != CKR_OK)
			return rv;
		no = realloc(op->objs, (op->count + n + 1) * sizeof(*no));
		if (no == NULL) {
			free(hs);
			return CKR_HOST_MEMORY;
		}
		op->objs = no;
		for (i = 0; i < n; i++)
			fill_object(t, s, hs[i], k, &op->objs[op->count++]);
		free(hs);
	}
	return rv;
}

P11CA_EXPORT CK_RV p11ca_token_list_objects(p11ca_token *t, struct p11ca_object_info **pobjs,
                                            size_t *pcount)
{
	struct list_op op = { NULL, 0 };
	CK_RV rv;

	*pobjs = NULL;
	*pcount = 0;
	rv = p11ca_token_run(t, NULL, 1, list_op, &op);
	if (rv == P11CA_R_NO_PIN && !p11ca_pin_source_configured(t)) {
		/* without a PIN the public objects can still be listed; but a
		 * PIN source that was given and failed is an error */
		p11ca_log(t->ctx, "token '%s': no PIN, private objects not listed", t->info.label);
		p11ca_object_list_free(op.objs, op.count);
		op.objs = NULL;
		op.count = 0;
		rv = p11ca_token_run(t, NULL, 0, list_op, &op);
	}
	if (rv != CKR_OK) {
		p11ca_object_list_free(op.objs, op.count);
		return rv;
	}
	*pobjs = op.objs;
	*pcount = op.count;
	return CKR_OK;
}

P11CA_EXPORT void p11ca_object_list_free(struct p11ca_object_info *objs, size_t count)
{
	size_t i;

	if (objs == NULL)
		return;
	for (i = 0; i < count; i++)
		free(objs[i].uri);
	free(objs);
}

struct delete_op {
	CK_ATTRIBUTE tmpl[3];
	CK_ULONG n;
	size_t deleted;
};

static CK_RV delete_op(p11ca_token *t, CK_SESSION_HANDLE s, p11ca_key *unused, void *data)
{
	struct delete_op *op = data;
	CK_OBJECT_HANDLE *hs = NULL;
	CK_ULONG n = 0, i;
	CK_RV rv;

	if ((rv = p11ca_find_objects(t, s, op->tmpl, op->n, &hs, &n)) != CKR_OK)
		return rv;
	for (i = 0; i < n; i++) {
		rv = t->mod->fl->C_DestroyObject(s, hs[i]);
		if (rv != CKR_OK)
			break;
		op->deleted++;
	}
	free(hs);
	return rv;
}

P11CA_EXPORT CK_RV p11ca_object_delete(p11ca_ctx *ctx, const char *uristr, size_t *pcount)
{
	P11KitUri *uri = NULL;
	p11ca_token *t = NULL;
	struct delete_op op;
	CK_RV rv;

	if (pcount != NULL)
		*pcount = 0;
	memset(&op, 0, sizeof(op));
	if ((rv = p11ca_ctx_uri_parse(ctx, uristr, &uri)) != CKR_OK)
		return rv;
	if (p11_kit_uri_get_attribute(uri, CKA_LABEL) == NULL &&
	    p11_kit_uri_get_attribute(uri, CKA_ID) == NULL) {
		rv = p11ca_err(P11CA_R_BAD_URI, "refusing to delete: %s names no object= or id=",
		               p11ca_uri_safe(uristr));
		goto out;
	}
	if ((rv = p11ca_ctx_find_token(ctx, uri, uristr, &t)) != CKR_OK)
		goto out;
	op.n = p11ca_uri_object_template(uri, op.tmpl, 1);
	/* public keys and certificates go without a login (a login rewrites
	 * SoftHSM2's token files: none when no private object is involved) */
	{
		CK_ATTRIBUTE *cls = p11_kit_uri_get_attribute(uri, CKA_CLASS);
		int login = cls == NULL || cls->ulValueLen != sizeof(CK_OBJECT_CLASS) ||
		            (*(CK_OBJECT_CLASS *)cls->pValue != CKO_PUBLIC_KEY &&
		             *(CK_OBJECT_CLASS *)cls->pValue != CKO_CERTIFICATE);
		rv = p11ca_token_run(t, NULL, login, delete_op, &op);
	}
	if (rv == CKR_OK && op.deleted == 0)
		rv = p11ca_err(P11CA_R_NOT_FOUND, "nothing matches %s on token '%s'%s",
		               p11ca_uri_safe(uristr), t->info.label, p11ca_uri_comma_hint(uristr));
	else if (rv != CKR_OK && p11ca_error_message()[0] == '\0')
		p11ca_err(rv, "deleting objects failed: %s", p11ca_rv_text(rv));
	if (pcount != NULL)
		*pcount = op.deleted;
out:
	p11ca_uri_free(uri);
	return rv;
}

/* derive.c - ECDH on the token (CKM_ECDH1_DERIVE); the EC private key stays there. */
#include "config.h"

#include <string.h>

#include "internal.h"

/* largest uncompressed point (P-521: 1 + 2 * 66) and its DER OCTET STRING */
#define POINT_MAX 133
#define DER_MAX   (POINT_MAX + 3)

struct derive_op {
	const unsigned char *point; /* the peer's public point as the token takes it */
	size_t point_len;
	CK_ULONG value_len; /* the field size: the secret's length */
	unsigned char *out;
	CK_ULONG outlen;
};

static CK_RV not_permitted(p11ca_key *key)
{
	return p11ca_err(CKR_KEY_FUNCTION_NOT_PERMITTED,
	                 "key '%s' is not allowed to derive (CKA_DERIVE is false): ECDH needs a "
	                 "key made with 'p11ca key gen --derive' or 'pkcs11-tool --usage-derive'",
	                 key->label);
}

/* C_DeriveKey into a session object, read its value, destroy it at once. */
static CK_RV derive_call(p11ca_token *t, CK_SESSION_HANDLE s, p11ca_key *key, void *data)
{
	struct derive_op *op = data;
	CK_FUNCTION_LIST *fl = t->mod->fl;
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_KEY_TYPE kt = CKK_GENERIC_SECRET;
	CK_BBOOL no = CK_FALSE, yes = CK_TRUE;
	CK_ATTRIBUTE tmpl[] = {
		{ CKA_CLASS, &cls, sizeof(cls) },
		{ CKA_KEY_TYPE, &kt, sizeof(kt) },
		{ CKA_TOKEN, &no, sizeof(no) },
		{ CKA_SENSITIVE, &no, sizeof(no) },
		{ CKA_EXTRACTABLE, &yes, sizeof(yes) },
		{ CKA_VALUE_LEN, &op->value_len, sizeof(op->value_len) },
	};
	CK_ECDH1_DERIVE_PARAMS params;
	CK_MECHANISM mech = { CKM_ECDH1_DERIVE, &params, sizeof(params) };
	CK_OBJECT_HANDLE h = __atomic_load_n(&key->handle, __ATOMIC_ACQUIRE);
	CK_OBJECT_HANDLE secret = CK_INVALID_HANDLE;
	CK_ATTRIBUTE value = { CKA_VALUE, op->out, op->outlen };
	CK_RV rv, drv;

	if (p11ca_attr_bool(t, s, h, CKA_DERIVE) == 0)
		return not_permitted(key);
	memset(&params, 0, sizeof(params));
	params.kdf = CKD_NULL;
	params.pPublicData = (CK_BYTE *)op->point;
	params.ulPublicDataLen = op->point_len;
	rv = fl->C_DeriveKey(s, &mech, h, tmpl, sizeof(tmpl) / sizeof(tmpl[0]), &secret);
	if (rv == CKR_KEY_FUNCTION_NOT_PERMITTED)
		return not_permitted(key);
	if (rv != CKR_OK)
		return rv;
	rv = fl->C_GetAttributeValue(s, secret, &value, 1);
	drv = fl->C_DestroyObject(s, secret);
	if (rv == CKR_OK && value.ulValueLen != op->value_len)
		rv = p11ca_err(CKR_GENERAL_ERROR,
		               "token derived a %lu-byte secret, not the field size %lu",
		               (unsigned long)value.ulValueLen, (unsigned long)op->value_len);
	if (rv == CKR_OK && drv != CKR_OK)
		rv = drv; /* the secret must not stay on the token */
	if (rv != CKR_OK) {
		p11ca_wipe(op->out, op->outlen);
		return rv;
	}
	op->outlen = value.ulValueLen;
	return CKR_OK;
}

static CK_RV run_derive(p11ca_key *key, struct derive_op *op)
{
	return p11ca_token_run(key->token, key, 1, derive_call, op);
}

P11CA_EXPORT CK_RV p11ca_key_derive_ecdh(p11ca_key *key, const unsigned char *peer_point,
                                         size_t len, unsigned char *out, size_t *poutlen)
{
	unsigned char der[DER_MAX];
	size_t field, hdr;
	struct derive_op op;
	CK_RV rv;

	if (key == NULL || peer_point == NULL || out == NULL || poutlen == NULL)
		return p11ca_err(CKR_ARGUMENTS_BAD, "p11ca_key_derive_ecdh: missing argument");
	if (key->kind != P11CA_KEY_EC || key->bits <= 0)
		return p11ca_err(P11CA_R_UNSUPPORTED, "key '%s' is not an EC key of a known curve",
		                 key->label);
	field = (size_t)(key->bits + 7) / 8;
	if (len != 1 + 2 * field || peer_point[0] != 0x04)
		return p11ca_err(CKR_ARGUMENTS_BAD,
		                 "the peer's public key is not an uncompressed point of the key's "
		                 "curve (%s)",
		                 key->group ? key->group : "?");
	if (*poutlen < field)
		return p11ca_err(CKR_BUFFER_TOO_SMALL, "ECDH output buffer too small (%zu < %zu)",
		                 *poutlen, field);
	if (!p11ca_token_has_mechanism(key->token, CKM_ECDH1_DERIVE))
		return p11ca_err(P11CA_R_UNSUPPORTED, "token '%s' has no ECDH (CKM_ECDH1_DERIVE)",
		                 key->token->info.label);
	memset(&op, 0, sizeof(op));
	op.point = peer_point;
	op.point_len = len;
	op.value_len = field;
	op.out = out;
	op.outlen = field;
	/* the raw point, as PKCS#11 v2.40 says and SoftHSM2 wants ... */
	rv = run_derive(key, &op);
	if (rv == CKR_MECHANISM_PARAM_INVALID || rv == CKR_DOMAIN_PARAMS_INVALID) {
		/* ... or the point DER-wrapped as an OCTET STRING, as some tokens want */
		der[0] = 0x04;
		if (len < 128) {
			der[1] = (unsigned char)len;
			hdr = 2;
		} else {
			der[1] = 0x81;
			der[2] = (unsigned char)len;
			hdr = 3;
		}
		memcpy(der + hdr, peer_point, len);
		op.point = der;
		op.point_len = hdr + len;
		op.outlen = field;
		rv = run_derive(key, &op);
	}
	if (rv == CKR_OK) {
		*poutlen = op.outlen;
		return CKR_OK;
	}
	if (p11ca_fault_of(rv) == P11CA_FAULT_NONE && rv != CKR_KEY_FUNCTION_NOT_PERMITTED &&
	    (rv & CKR_VENDOR_DEFINED) == 0)
		p11ca_err(rv, "ECDH with key '%s' on token '%s' failed: %s", key->label,
		          key->token->info.label, p11ca_rv_text(rv));
	return rv;
}

/*
 * allowed.c - a key's CKA_ALLOWED_MECHANISMS, and which signing mechanism
 * fits a key that allows only some: RSA-PSS over a digest (CKM_RSA_PKCS_PSS)
 * or over the message (CKM_SHA256_RSA_PKCS_PSS ...), PKCS#1 v1.5 likewise.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/objects.h>

#include "internal.h"

void p11ca_key_read_allowed(p11ca_token *t, CK_SESSION_HANDLE s, p11ca_key *key)
{
	unsigned char *v = NULL;
	CK_ULONG vlen = 0;

	key->allowed = NULL;
	key->nallowed = 0;
	/* absent, unreadable or empty: everything is allowed */
	if (p11ca_attr_get(t, s, key->handle, CKA_ALLOWED_MECHANISMS, &v, &vlen) != CKR_OK ||
	    vlen == 0 || vlen % sizeof(CK_MECHANISM_TYPE) != 0) {
		free(v);
		return;
	}
	key->allowed = (CK_MECHANISM_TYPE *)v;
	key->nallowed = vlen / sizeof(CK_MECHANISM_TYPE);
}

int p11ca_key_allows(const p11ca_key *key, CK_MECHANISM_TYPE mech)
{
	size_t i;

	if (key->nallowed == 0)
		return 1;
	for (i = 0; i < key->nallowed; i++)
		if (key->allowed[i] == mech)
			return 1;
	return 0;
}

static int is_pss_mech(CK_MECHANISM_TYPE m)
{
	return m == CKM_RSA_PKCS_PSS || m == CKM_SHA1_RSA_PKCS_PSS ||
	       m == CKM_SHA224_RSA_PKCS_PSS || m == CKM_SHA256_RSA_PKCS_PSS ||
	       m == CKM_SHA384_RSA_PKCS_PSS || m == CKM_SHA512_RSA_PKCS_PSS;
}

P11CA_EXPORT int p11ca_key_pss_only(const p11ca_key *key)
{
	size_t i;

	if (key == NULL || key->kind != P11CA_KEY_RSA || key->nallowed == 0)
		return 0;
	for (i = 0; i < key->nallowed; i++)
		if (!is_pss_mech(key->allowed[i]))
			return 0;
	return 1;
}

static const struct {
	CK_MECHANISM_TYPE m;
	const char *name;
} mech_names[] = {
	{ CKM_RSA_PKCS, "CKM_RSA_PKCS" },
	{ CKM_RSA_X_509, "CKM_RSA_X_509" },
	{ CKM_RSA_PKCS_OAEP, "CKM_RSA_PKCS_OAEP" },
	{ CKM_RSA_PKCS_PSS, "CKM_RSA_PKCS_PSS" },
	{ CKM_SHA1_RSA_PKCS, "CKM_SHA1_RSA_PKCS" },
	{ CKM_SHA224_RSA_PKCS, "CKM_SHA224_RSA_PKCS" },
	{ CKM_SHA256_RSA_PKCS, "CKM_SHA256_RSA_PKCS" },
	{ CKM_SHA384_RSA_PKCS, "CKM_SHA384_RSA_PKCS" },
	{ CKM_SHA512_RSA_PKCS, "CKM_SHA512_RSA_PKCS" },
	{ CKM_SHA1_RSA_PKCS_PSS, "CKM_SHA1_RSA_PKCS_PSS" },
	{ CKM_SHA224_RSA_PKCS_PSS, "CKM_SHA224_RSA_PKCS_PSS" },
	{ CKM_SHA256_RSA_PKCS_PSS, "CKM_SHA256_RSA_PKCS_PSS" },
	{ CKM_SHA384_RSA_PKCS_PSS, "CKM_SHA384_RSA_PKCS_PSS" },
	{ CKM_SHA512_RSA_PKCS_PSS, "CKM_SHA512_RSA_PKCS_PSS" },
	{ CKM_ECDSA, "CKM_ECDSA" },
	{ CKM_ECDSA_SHA256, "CKM_ECDSA_SHA256" },
	{ CKM_ECDSA_SHA384, "CKM_ECDSA_SHA384" },
	{ CKM_ECDSA_SHA512, "CKM_ECDSA_SHA512" },
	{ CKM_EDDSA, "CKM_EDDSA" },
	{ CKM_ECDH1_DERIVE, "CKM_ECDH1_DERIVE" },
};

/* The mechanisms @key allows, as text, into @buf (capacity @cap). */
static const char *allowed_text(const p11ca_key *key, char *buf, size_t cap)
{
	size_t i, j, len;

	buf[0] = '\0';
	for (i = 0; i < key->nallowed; i++) {
		const char *name = NULL;
		len = strlen(buf);
		for (j = 0; j < sizeof(mech_names) / sizeof(mech_names[0]); j++)
			if (mech_names[j].m == key->allowed[i])
				name = mech_names[j].name;
		if (name != NULL)
			snprintf(buf + len, cap - len, "%s%s", len ? ", " : "", name);
		else
			snprintf(buf + len, cap - len, "%s0x%lx", len ? ", " : "",
			         (unsigned long)key->allowed[i]);
	}
	return buf;
}

CK_RV p11ca_key_not_allowed(const p11ca_key *key, const char *what)
{
	char buf[400];

	return p11ca_err(CKR_MECHANISM_INVALID,
	                 "%s with key '%s' is not allowed: the key allows only %s "
	                 "(CKA_ALLOWED_MECHANISMS)",
	                 what, key->label, allowed_text(key, buf, sizeof(buf)));
}

CK_MECHANISM_TYPE p11ca_sig_hash_mech(enum p11ca_sig_alg alg, const EVP_MD *md)
{
	int nid = md ? EVP_MD_get_type(md) : NID_undef;

	if (alg == P11CA_SIG_RSA_PKCS1) {
		switch (nid) {
		case NID_sha1: return CKM_SHA1_RSA_PKCS;
		case NID_sha224: return CKM_SHA224_RSA_PKCS;
		case NID_sha256: return CKM_SHA256_RSA_PKCS;
		case NID_sha384: return CKM_SHA384_RSA_PKCS;
		case NID_sha512: return CKM_SHA512_RSA_PKCS;
		default: break;
		}
	} else if (alg == P11CA_SIG_RSA_PSS) {
		switch (nid) {
		case NID_sha1: return CKM_SHA1_RSA_PKCS_PSS;
		case NID_sha224: return CKM_SHA224_RSA_PKCS_PSS;
		case NID_sha256: return CKM_SHA256_RSA_PKCS_PSS;
		case NID_sha384: return CKM_SHA384_RSA_PKCS_PSS;
		case NID_sha512: return CKM_SHA512_RSA_PKCS_PSS;
		default: break;
		}
	}
	return CKM_VENDOR_DEFINED;
}

int p11ca_key_pss_digest_mech(p11ca_key *key, CK_MECHANISM_TYPE *pmech)
{
	const char *e = getenv("P11CA_EMULATE_PSS");
	int emulate = e != NULL && strcmp(e, "1") == 0;

	if (!emulate && p11ca_key_allows(key, CKM_RSA_PKCS_PSS) &&
	    p11ca_token_has_mechanism(key->token, CKM_RSA_PKCS_PSS)) {
		*pmech = CKM_RSA_PKCS_PSS;
		return 1;
	}
	/* encoded here, signed raw (tokens without PSS; tests) */
	if ((emulate || !p11ca_token_has_mechanism(key->token, CKM_RSA_PKCS_PSS)) &&
	    p11ca_key_allows(key, CKM_RSA_X_509) &&
	    p11ca_token_has_mechanism(key->token, CKM_RSA_X_509)) {
		*pmech = CKM_RSA_X_509;
		return 1;
	}
	return 0;
}

P11CA_EXPORT int p11ca_key_needs_message(p11ca_key *key, const struct p11ca_sig_params *params)
{
	CK_MECHANISM_TYPE m, hm;

	if (key == NULL || params == NULL || key->kind != P11CA_KEY_RSA || key->nallowed == 0)
		return 0;
	if (params->alg == P11CA_SIG_RSA_PKCS1) {
		if (params->md == NULL || p11ca_key_allows(key, CKM_RSA_PKCS))
			return 0;
	} else if (params->alg == P11CA_SIG_RSA_PSS) {
		if (p11ca_key_pss_digest_mech(key, &m))
			return 0;
	} else {
		return 0;
	}
	hm = p11ca_sig_hash_mech(params->alg, params->md);
	return hm != CKM_VENDOR_DEFINED && p11ca_key_allows(key, hm) &&
	       p11ca_token_has_mechanism(key->token, hm);
}

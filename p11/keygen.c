/* keygen.c - key type names and the generation templates. */
#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* DER OIDs used as CKA_EC_PARAMS */
static const unsigned char oid_p256[] = {
	0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07
};
static const unsigned char oid_p384[] = { 0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22 };
static const unsigned char oid_p521[] = { 0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23 };
static const unsigned char oid_ed25519[] = { 0x06, 0x03, 0x2b, 0x65, 0x70 };

static const struct {
	const char *names[3];
	const char *group;
	int bits;
	const unsigned char *oid;
	size_t oid_len;
} curves[] = {
	{ { "p256", "prime256v1", "secp256r1" }, "prime256v1", 256, oid_p256, sizeof(oid_p256) },
	{ { "p384", "secp384r1", NULL }, "secp384r1", 384, oid_p384, sizeof(oid_p384) },
	{ { "p521", "secp521r1", NULL }, "secp521r1", 521, oid_p521, sizeof(oid_p521) },
};

const char *p11ca_ec_params_group(const unsigned char *params, size_t len, int *pbits)
{
	size_t i;

	for (i = 0; i < sizeof(curves) / sizeof(curves[0]); i++) {
		if (len == curves[i].oid_len && memcmp(params, curves[i].oid, len) == 0) {
			if (pbits != NULL)
				*pbits = curves[i].bits;
			return curves[i].group;
		}
	}
	return NULL;
}

CK_RV p11ca_keyspec_parse(const char *type, unsigned flags, struct p11ca_keyspec *spec)
{
	size_t i, j;

	memset(spec, 0, sizeof(*spec));
	if (type == NULL)
		return p11ca_err(P11CA_R_BAD_KEY_TYPE, "no key type given");
	if (strncmp(type, "rsa:", 4) == 0) {
		char *end;
		long bits = strtol(type + 4, &end, 10);
		if (!isdigit((unsigned char)type[4]) || *end != '\0' || bits <= 0)
			return p11ca_err(P11CA_R_BAD_KEY_TYPE, "bad RSA key size in '%s'", type);
		if (bits < 2048)
			return p11ca_err(P11CA_R_BAD_KEY_TYPE,
			                 "RSA keys below 2048 bits are not secure; refused");
		if (bits > 4096 && !(flags & P11CA_GEN_FORCE))
			return p11ca_err(
			    P11CA_R_BAD_KEY_TYPE,
			    "RSA-%ld refused: keys above 4096 bits (such as 8192) break SIP TLS "
			    "peers and certificate upload on conferencing servers; use --force to "
			    "make one anyway",
			    bits);
		if (bits > 16384 || bits % 8 != 0)
			return p11ca_err(P11CA_R_BAD_KEY_TYPE, "bad RSA key size %ld", bits);
		if (flags & P11CA_GEN_DERIVE)
			return p11ca_err(P11CA_R_BAD_KEY_TYPE,
			                 "only EC keys derive (ECDH); %s cannot", type);
		if ((flags & P11CA_GEN_PSS_ONLY) && (flags & P11CA_GEN_DECRYPT))
			return p11ca_err(P11CA_R_BAD_KEY_TYPE,
			                 "a PSS-only key only signs; it cannot also decrypt");
		spec->kind = P11CA_KEY_RSA;
		spec->bits = (int)bits;
		spec->modulus_bits = (CK_ULONG)bits;
		return CKR_OK;
	}
	if ((flags & P11CA_GEN_PSS_ONLY) && strncmp(type, "rsa:", 4) != 0)
		return p11ca_err(P11CA_R_BAD_KEY_TYPE, "only RSA keys can be PSS-only; %s cannot",
		                 type);
	if (strcmp(type, "ed25519") == 0) {
		if (flags & P11CA_GEN_DERIVE)
			return p11ca_err(P11CA_R_BAD_KEY_TYPE,
			                 "only EC keys derive (ECDH); %s cannot", type);
		spec->kind = P11CA_KEY_ED25519;
		spec->bits = 256;
		spec->params = oid_ed25519;
		spec->params_len = sizeof(oid_ed25519);
		return CKR_OK;
	}
	if (strncmp(type, "ec:", 3) == 0) {
		for (i = 0; i < sizeof(curves) / sizeof(curves[0]); i++) {
			for (j = 0; j < 3 && curves[i].names[j] != NULL; j++) {
				if (strcmp(type + 3, curves[i].names[j]) == 0) {
					spec->kind = P11CA_KEY_EC;
					spec->bits = curves[i].bits;
					spec->curve = curves[i].group;
					spec->params = curves[i].oid;
					spec->params_len = curves[i].oid_len;
					return CKR_OK;
				}
			}
		}
	}
	return p11ca_err(P11CA_R_BAD_KEY_TYPE,
	                 "unknown key type '%s' (rsa:2048, rsa:3072, rsa:4096, ec:p256, ec:p384, "
	                 "ec:p521, ed25519)",
	                 type);
}

static CK_BBOOL ck_true = CK_TRUE;
static CK_BBOOL ck_false = CK_FALSE;
static CK_OBJECT_CLASS ck_pub = CKO_PUBLIC_KEY;
static CK_OBJECT_CLASS ck_priv = CKO_PRIVATE_KEY;
static CK_BYTE rsa_e[] = { 0x01, 0x00, 0x01 };
/* what a PSS-only key allows (P11CA_GEN_PSS_ONLY) */
static CK_MECHANISM_TYPE pss_mechs[] = { CKM_RSA_PKCS_PSS,        CKM_SHA1_RSA_PKCS_PSS,
	                                 CKM_SHA224_RSA_PKCS_PSS, CKM_SHA256_RSA_PKCS_PSS,
	                                 CKM_SHA384_RSA_PKCS_PSS, CKM_SHA512_RSA_PKCS_PSS };

#define ADD(tmpl, n, t, p, l)                                                                      \
	do {                                                                                       \
		(tmpl)[*(n)].type = (t);                                                           \
		(tmpl)[*(n)].pValue = (void *)(p);                                                 \
		(tmpl)[*(n)].ulValueLen = (l);                                                     \
		(*(n))++;                                                                          \
	} while (0)

void p11ca_keygen_templates(const struct p11ca_keyspec *spec, const char *label,
                            const unsigned char *id, size_t id_len, unsigned flags,
                            CK_ATTRIBUTE *pub, CK_ULONG *npub, CK_ATTRIBUTE *priv, CK_ULONG *npriv)
{
	CK_BBOOL *decrypt = (flags & P11CA_GEN_DECRYPT) ? &ck_true : &ck_false;
	CK_BBOOL *derive =
	    (flags & P11CA_GEN_DERIVE) && spec->kind == P11CA_KEY_EC ? &ck_true : &ck_false;
	size_t label_len = label ? strlen(label) : 0;

	*npub = *npriv = 0;
	ADD(pub, npub, CKA_CLASS, &ck_pub, sizeof(ck_pub));
	ADD(pub, npub, CKA_TOKEN, &ck_true, sizeof(CK_BBOOL));
	ADD(pub, npub, CKA_PRIVATE, &ck_false, sizeof(CK_BBOOL));
	ADD(pub, npub, CKA_VERIFY, &ck_true, sizeof(CK_BBOOL));
	ADD(pub, npub, CKA_LABEL, label, label_len);
	ADD(pub, npub, CKA_ID, id, id_len);
	/* a key does what it is made for, nothing more */
	ADD(pub, npub, CKA_WRAP, &ck_false, sizeof(CK_BBOOL));
	ADD(pub, npub, CKA_VERIFY_RECOVER, &ck_false, sizeof(CK_BBOOL));
	ADD(pub, npub, CKA_DERIVE, &ck_false, sizeof(CK_BBOOL));

	ADD(priv, npriv, CKA_CLASS, &ck_priv, sizeof(ck_priv));
	ADD(priv, npriv, CKA_TOKEN, &ck_true, sizeof(CK_BBOOL));
	ADD(priv, npriv, CKA_PRIVATE, &ck_true, sizeof(CK_BBOOL));
	ADD(priv, npriv, CKA_SENSITIVE, &ck_true, sizeof(CK_BBOOL));
	ADD(priv, npriv, CKA_EXTRACTABLE, &ck_false, sizeof(CK_BBOOL));
	ADD(priv, npriv, CKA_SIGN, &ck_true, sizeof(CK_BBOOL));
	ADD(priv, npriv, CKA_LABEL, label, label_len);
	ADD(priv, npriv, CKA_ID, id, id_len);
	ADD(priv, npriv, CKA_UNWRAP, &ck_false, sizeof(CK_BBOOL));
	ADD(priv, npriv, CKA_SIGN_RECOVER, &ck_false, sizeof(CK_BBOOL));

	if (spec->kind == P11CA_KEY_RSA) {
		ADD(pub, npub, CKA_MODULUS_BITS, &spec->modulus_bits, sizeof(CK_ULONG));
		ADD(pub, npub, CKA_PUBLIC_EXPONENT, rsa_e, sizeof(rsa_e));
		ADD(pub, npub, CKA_ENCRYPT, decrypt, sizeof(CK_BBOOL));
		ADD(priv, npriv, CKA_DECRYPT, decrypt, sizeof(CK_BBOOL));
		ADD(priv, npriv, CKA_DERIVE, &ck_false, sizeof(CK_BBOOL));
		if (flags & P11CA_GEN_PSS_ONLY)
			ADD(priv, npriv, CKA_ALLOWED_MECHANISMS, pss_mechs, sizeof(pss_mechs));
	} else {
		/* EC and Edwards keys sign, never decrypt; an EC key derives
		 * (ECDH) only when asked for */
		ADD(pub, npub, CKA_EC_PARAMS, spec->params, spec->params_len);
		ADD(pub, npub, CKA_ENCRYPT, &ck_false, sizeof(CK_BBOOL));
		ADD(priv, npriv, CKA_DECRYPT, &ck_false, sizeof(CK_BBOOL));
		ADD(priv, npriv, CKA_DERIVE, derive, sizeof(CK_BBOOL));
	}
}

/*
 * profile.c - the CA's profiles: what each lets a CSR ask for (keyUsage,
 * extendedKeyUsage) and what it gives when the CSR asks for nothing.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <openssl/x509v3.h>

#include "ca-int.h"
#include "result.h"

static const char *const profile_names[] = { "server", "client", "server-client", "ocsp",
	                                     "sub-ca" };

int ca_profile_parse(const char *name, enum ca_profile *out)
{
	size_t i;

	for (i = 0; i < sizeof(profile_names) / sizeof(profile_names[0]); i++)
		if (strcmp(name, profile_names[i]) == 0) {
			*out = (enum ca_profile)i;
			return RES_OK;
		}
	return res_set(RES_BAD_INPUT, "profile '%s': server, client, server-client, ocsp or sub-ca",
	               name);
}

const char *ca_profile_name(enum ca_profile p)
{
	return profile_names[p];
}

/* keyUsage bits (RFC 5280 order) and their openssl-config names */
static const char *const ku_names[] = { "digitalSignature", "nonRepudiation", "keyEncipherment",
	                                "dataEncipherment", "keyAgreement",   "keyCertSign",
	                                "cRLSign",          "encipherOnly",   "decipherOnly" };
#define KU(bit) (1u << (bit))
enum { KU_DS = 0, KU_NR, KU_KE, KU_DE, KU_KA, KU_CERT, KU_CRL };

/* What a profile allows a CSR to ask for, and what it gives by default. */
struct profile_rules {
	unsigned ku_allowed;
	const int *eku_allowed; /* NIDs, 0-terminated */
	const char *eku_default;
};

static const int eku_server[] = { NID_server_auth, 0 };
static const int eku_client[] = { NID_client_auth, 0 };
static const int eku_both[] = { NID_server_auth, NID_client_auth, 0 };
static const int eku_ocsp[] = { NID_OCSP_sign, 0 };
static const int eku_subca[] = { NID_server_auth,
	                         NID_client_auth,
	                         NID_email_protect,
	                         NID_OCSP_sign,
	                         NID_code_sign,
	                         NID_time_stamp,
	                         0 };

static const struct profile_rules rules[] = {
	[CA_SERVER] = { KU(KU_DS) | KU(KU_KE) | KU(KU_KA), eku_server, "serverAuth" },
	[CA_CLIENT] = { KU(KU_DS) | KU(KU_KA), eku_client, "clientAuth" },
	[CA_SERVER_CLIENT] = { KU(KU_DS) | KU(KU_KE) | KU(KU_KA), eku_both,
	                       "serverAuth,clientAuth" },
	[CA_OCSP] = { KU(KU_DS) | KU(KU_NR), eku_ocsp, "OCSPSigning" },
	[CA_SUB_CA] = { KU(KU_DS) | KU(KU_CERT) | KU(KU_CRL), eku_subca, NULL },
};

/* Appends @name to the comma list @buf. */
static void list_add(char *buf, size_t cap, const char *name)
{
	size_t n = strlen(buf);

	snprintf(buf + n, cap - n, "%s%s", n > 0 ? "," : "", name);
}

int ca_profile_usages(enum ca_profile p, const ASN1_BIT_STRING *bits, const EXTENDED_KEY_USAGE *ext,
                      EVP_PKEY *pk, char *ku, char *eku, size_t cap)
{
	const struct profile_rules *pr = &rules[p];
	char extra[256] = "";
	size_t i;
	int j, ok = RES_POLICY;

	snprintf(ku, cap, "critical");
	if (bits != NULL) {
		for (i = 0; i < sizeof(ku_names) / sizeof(ku_names[0]); i++) {
			if (!ASN1_BIT_STRING_get_bit(bits, (int)i))
				continue;
			if (!(pr->ku_allowed & KU(i)))
				list_add(extra, sizeof(extra), ku_names[i]);
			else
				list_add(ku, cap, ku_names[i]);
		}
		if (extra[0] != '\0') {
			res_set(RES_POLICY, "keyUsage %s is not allowed for profile %s", extra,
			        ca_profile_name(p));
			goto out;
		}
		/* what the key can do: encipherment is RSA's, agreement not EdDSA's */
		if (!EVP_PKEY_is_a(pk, "RSA") && (ASN1_BIT_STRING_get_bit(bits, KU_KE) ||
		                                  ASN1_BIT_STRING_get_bit(bits, KU_DE))) {
			res_set(RES_POLICY,
			        "keyUsage keyEncipherment/dataEncipherment for a %s key",
			        EVP_PKEY_get0_type_name(pk));
			goto out;
		}
		if (EVP_PKEY_is_a(pk, "ED25519") && ASN1_BIT_STRING_get_bit(bits, KU_KA)) {
			res_set(RES_POLICY, "keyUsage keyAgreement for an Ed25519 key");
			goto out;
		}
		if (p == CA_SUB_CA && !ASN1_BIT_STRING_get_bit(bits, KU_CERT)) {
			res_set(RES_POLICY, "keyUsage without keyCertSign for profile sub-ca");
			goto out;
		}
	} else if (p == CA_SUB_CA) {
		list_add(ku, cap, "digitalSignature,keyCertSign,cRLSign");
	} else {
		list_add(ku, cap, "digitalSignature");
		if (EVP_PKEY_is_a(pk, "RSA") && (pr->ku_allowed & KU(KU_KE)))
			list_add(ku, cap, "keyEncipherment");
	}
	eku[0] = '\0';
	if (ext != NULL) {
		for (j = 0; j < sk_ASN1_OBJECT_num(ext); j++) {
			int nid = OBJ_obj2nid(sk_ASN1_OBJECT_value(ext, j)), k, hit = 0;
			char oid[80];
			for (k = 0; pr->eku_allowed[k] != 0; k++)
				hit |= pr->eku_allowed[k] == nid;
			if (!hit) {
				if (nid != NID_undef)
					snprintf(oid, sizeof(oid), "%s", OBJ_nid2sn(nid));
				else
					OBJ_obj2txt(oid, sizeof(oid), sk_ASN1_OBJECT_value(ext, j),
					            1);
				list_add(extra, sizeof(extra), oid);
			} else {
				list_add(eku, cap, OBJ_nid2sn(nid));
			}
		}
		if (extra[0] != '\0') {
			res_set(RES_POLICY, "extendedKeyUsage %s is not allowed for profile %s",
			        extra, ca_profile_name(p));
			goto out;
		}
	} else if (pr->eku_default != NULL) {
		snprintf(eku, cap, "%s", pr->eku_default);
	}
	ok = RES_OK;
out:
	return ok;
}

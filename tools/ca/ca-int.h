/*
 * ca-int.h - what the CA library's files share among themselves and no one
 * else: the plan a checked request carries to its build, the extensions of
 * a batch, usages under a profile.
 */
#ifndef P11CA_CA_INT_H
#define P11CA_CA_INT_H

#include "ca.h"

/* What ca_req_check() settled, kept for the build. */
struct ca_plan {
	char ku[256], eku[256]; /* openssl-config text; eku "" for none */
	X509_EXTENSION *san;    /* the CSR's, copied as is (critical with an empty subject) */
};

/*
 * keyUsage and extendedKeyUsage for a certificate of profile @p: the CSR's
 * (@bits, @ext: NULL when it asks for none) when within the profile and fit
 * for the key @pk, else the profile's.  @ku/@eku receive config text (""
 * for no EKU).  RES_POLICY with a message when the CSR asks for more.
 */
int ca_profile_usages(enum ca_profile p, const ASN1_BIT_STRING *bits, const EXTENDED_KEY_USAGE *ext,
                      EVP_PKEY *pk, char *ku, char *eku, size_t cap);

/*
 * What every certificate of a batch carries alike, made once rather than
 * parsed from text for each: basic constraints, AKI, OCSP no-check, CRL
 * distribution points, AIA; and the end of the CA's own validity.
 */
struct ca_batch_exts {
	X509_EXTENSION *bc, *aki, *nocheck, *crldp, *aia;
	int64_t ca_end;
};
int ca_batch_exts_make(struct ca *ca, const struct ca_issue_opts *o, struct ca_batch_exts *b);
void ca_batch_exts_free(struct ca_batch_exts *b);
/* Builds and signs the certificate of checked request @r with a fresh serial (into r->cert). */
int ca_issue_one(struct ca *ca, struct ca_req *r, const struct ca_issue_opts *o,
                 const struct ca_batch_exts *b);

#endif

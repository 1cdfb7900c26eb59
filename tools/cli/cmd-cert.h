/*
 * cmd-cert.h - what the `cert` verbs share (cmd-cert-common.c): reading a
 * certificate file, one certificate's summary, token keys.  The verbs are
 * cmd-cert-show.c, cmd-cert-convert.c, cmd-cert-check.c, cmd-cert-install.c.
 */
#ifndef P11CA_CMD_CERT_H
#define P11CA_CMD_CERT_H

#include <jansson.h>

#include <time.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "pki.h"
#include "tool.h"

/* RSA above this breaks SIP TLS zones (the deployment guide) */
#define RSA_MAX_BITS 4096
/* a certificate expiring sooner than this is reported (WARN) */
#define EXPIRY_WARN_DAYS 30
#define DEFAULT_BUNDLE   "/etc/ssl/certs/ca-certificates.crt"
/* a number above as text, for the help */
#define CERT_TEXT_(x) #x
#define CERT_TEXT(x)  CERT_TEXT_(x)

/* A list of strings; v is NULL-terminated when not NULL. */
struct strs {
	char **v;
	size_t n;
};
void strs_free(struct strs *l);
/* @l as a JSON array of strings (new reference), NULL when out of memory (cmd-cert-show.c). */
json_t *cert_json_strs(const struct strs *l);

/* Everything `cert show` prints about one certificate. */
struct cert_info {
	char *subject, *issuer; /* "/C=../CN=.." (pki_name_oneline) */
	char serial[128];
	char not_before[PKI_TIME_ISO_MAX + 16], not_after[PKI_TIME_ISO_MAX + 16];
	char bc[64], key[80], sigalg[80];
	const char *status;
	int bits, has_eku, has_ku;
	long days_left;
	struct strs sans, eku, ku;
	char sha256[PKI_FP_MAX], sha1[PKI_FP_MAX];
};

/* Fills @ci for @x as of @now (0: out of memory, reported); info_free() either way. */
int cert_info_get(X509 *x, time_t now, struct cert_info *ci);
void cert_info_free(struct cert_info *ci);
/* "RSA", "EC (prime256v1)", "ED25519" and the size in bits. */
void cert_key_desc(EVP_PKEY *pk, char *out, size_t cap, int *bits);
/* "2026-11-24T19:00:00Z", or "(invalid time)". */
void cert_time_string(const ASN1_TIME *t, char *out, size_t cap);

/*
 * @path's certificates through pki_load_certs; NULL with a one-line
 * reason in @why (or, when @why is NULL, reported as "p11ca: PATH: ...").
 */
STACK_OF(X509) * cert_read(const char *path, int *pem, char *why, size_t cap);

/*
 * cmd-cert-formats.c: what 'cert show' and 'cert convert' read: the
 * certificates of a file, or one CSR, or one CRL (PEM or DER, detected).
 */
enum cert_kind { CERT_KIND_CERTS, CERT_KIND_CSR, CERT_KIND_CRL };
struct cert_file {
	enum cert_kind kind;
	int pem;
	STACK_OF(X509) * certs;
	X509_REQ *csr;
	X509_CRL *crl;
};
/* Reads @path into @f (cert_file_free() either way); reports and returns 0 on failure. */
int cert_file_read(const char *path, struct cert_file *f);
void cert_file_free(struct cert_file *f);
/* 'cert show' of a CSR or a CRL: text (--text: OpenSSL's), or --json (one object). */
int cert_show_csr(X509_REQ *req, int text, int json);
int cert_show_crl(X509_CRL *crl, int text, int json);

/* Whether @s is a pkcs11: URI, or holds a pin-value (a URI with a mistyped scheme). */
int cert_is_pkcs11_uri(const char *s);
/*
 * The public half of token key @uri (through libp11ca).  *pctx and *pkey
 * keep the context and key for the caller (install stores on them).  With
 * @pkey NULL a public-key object the URI names does, found without a login.
 * On failure a one-line reason is in @why.
 */
EVP_PKEY *cert_token_public(const struct tool_common *c, const char *uri, p11ca_ctx **pctx,
                            p11ca_key **pkey, char *why, size_t cap);

#endif

/*
 * pki.h - the PKI library under the p11ca command, the CA and (later) the
 * revocation checker and the server (prefix pki_).  Certificates, CSRs,
 * CRLs and bundles from bytes; the one name policy; SAN text; the one time
 * parser and formatters; serials, hex and fingerprints; chain building and
 * verification with a structured result per chain element; the p11ca
 * provider in a library context of its own.
 *
 * Results follow tools/common/result.h (RES_OK, or a code with the thread's
 * message).  Nothing here prints, exits, reads argv or touches a path:
 * bytes in, bytes or objects out.  No process-wide state.  Objects a
 * function hands out are the caller's (the matching *_free); arguments are
 * only read.
 */
#ifndef P11CA_PKI_H
#define P11CA_PKI_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

/* ---- the p11ca provider, per library context (provider.c) ---------- */

/*
 * A library context with OpenSSL's default provider and the p11ca provider
 * (linked in), configured with @module (NULL: every module p11-kit knows)
 * and @pin_file (NULL: none) for this context alone: nothing goes through
 * the environment, so two contexts in one process can name two modules.
 */
int pki_libctx_new(const char *module, const char *pin_file, OSSL_LIB_CTX **plibctx);
void pki_libctx_free(OSSL_LIB_CTX *libctx);
/* The private key at the pkcs11: @uri through @libctx's store (RES_TOKEN). */
int pki_load_key(OSSL_LIB_CTX *libctx, const char *uri, EVP_PKEY **pkey);

/* ---- loading from bytes (load.c) ----------------------------------- */

/* Whether @buf holds a "-----BEGIN " line (PEM rather than DER). */
int pki_is_pem(const unsigned char *buf, size_t len);
/*
 * Every certificate in @buf: PEM (every CERTIFICATE block; text between
 * blocks allowed) or one DER certificate with nothing after it.  *ppem says
 * which (may be NULL).  RES_BAD_INPUT with the reason when none or a
 * malformed one.
 */
int pki_load_certs(const unsigned char *buf, size_t len, STACK_OF(X509) * *pcerts, int *ppem);
/*
 * As pki_load_certs, and *@pends (the caller's, free()) receives for each
 * certificate the offset in @buf just past its PEM END line (@len for DER):
 * what a bundle editor needs to keep the bytes, comments included, of the
 * certificates it keeps.  (Added by the PKI library.)
 */
int pki_load_certs_at(const unsigned char *buf, size_t len, STACK_OF(X509) * *pcerts,
                      size_t **pends, int *ppem);
/*
 * A trust bundle: PEM certificates (text and other blocks between them
 * allowed, as pki_load_certs_at) or nothing but blank lines and '#'
 * comments (no certificates).  DER is refused.  *@pends as
 * pki_load_certs_at's (may be NULL; NULL when there are no certificates).
 * With @pcrls, every X509 CRL block is decoded into *@pcrls too (a
 * malformed one is RES_BAD_INPUT); without, CRL blocks are skipped as any
 * other block.
 */
int pki_load_bundle(const unsigned char *buf, size_t len, STACK_OF(X509) * *pcerts, size_t **pends,
                    STACK_OF(X509_CRL) * *pcrls);
/* The first certificate of @buf. */
int pki_load_cert(const unsigned char *buf, size_t len, X509 **px);
/* A CSR, PEM or DER (not its signature: see ca/csr.h for the checked read). */
int pki_load_csr(OSSL_LIB_CTX *libctx, const unsigned char *buf, size_t len, X509_REQ **preq);
/* A CRL, PEM or DER. */
int pki_load_crl(const unsigned char *buf, size_t len, X509_CRL **pcrl);

/* ---- the name policy (names.c) ------------------------------------- */

enum pki_name_type { PKI_NAME_DNS, PKI_NAME_IP, PKI_NAME_EMAIL, PKI_NAME_URI };
/*
 * The one policy for names p11ca puts into or accepts in a certificate,
 * used by 'csr', 'ca sign' and 'cert check' alike: DNS names (RFC 1035
 * labels, no wildcard, no underscore, not an IP address written as a DNS
 * name, at most 253 octets), IP addresses (4 or 16 octets; as text, an
 * IPv4/IPv6 literal), email addresses (local@domain, the domain a DNS name)
 * and URIs (a scheme, printable ASCII, no spaces, at most PKI_URI_MAX bytes;
 * commas are fine: records keep each SAN apart).  @value is @len bytes
 * (binary for an IP: 4 or 16 octets; or text with PKI_NAME_IP_TEXT).
 * RES_OK, or RES_POLICY (wildcards) / RES_BAD_INPUT with a message naming
 * the value.
 */
#define PKI_NAME_IP_TEXT 0x1 /* flag: an IP given as text */
/* Longest URI the policy takes (its SAN text must fit pki_san_text's 1 KiB). */
#define PKI_URI_MAX 1000
int pki_name_check(enum pki_name_type type, const void *value, size_t len, unsigned flags);
/*
 * The subject and SANs of a request or certificate under the policy: a
 * subject CN is checked as a DNS name (or IP) when there is no SAN; every
 * subject attribute a valid string without control characters (C0, DEL,
 * C1), a CN not empty; no wildcard anywhere; SAN types DNS, IP, email, URI
 * only; at least one name.
 */
int pki_names_check(const X509_NAME *subject, const GENERAL_NAMES *sans);
/* One SAN under the policy (RES_POLICY too for a type p11ca does not issue). */
int pki_san_check(const GENERAL_NAME *g);
/*
 * The same with @flags: PKI_NAMES_CN_ANY leaves a CN alone when there is no
 * SAN (a CA's or a person's name, "Example Issuing CA", "Jane Doe"); the
 * wildcard and SAN rules still apply.  pki_names_check is @flags 0.
 * (Added by the PKI library.)
 */
#define PKI_NAMES_CN_ANY 0x1
int pki_names_check_ex(const X509_NAME *subject, const GENERAL_NAMES *sans, unsigned flags);

/* ---- SAN text (names.c) -------------------------------------------- */

/* One name as "DNS:a", "IP:1.2.3.4", "email:x@y", "URI:u", "othername" into @out. */
int pki_san_text(const GENERAL_NAME *g, char *out, size_t cap);
/* Every SAN of @x as text (NULL-terminated array, free with pki_strv_free). */
int pki_cert_sans(const X509 *x, char ***psans, size_t *pn);
void pki_strv_free(char **v);
/*
 * A name as "/C=GB/O=Example/CN=x" (free()), bytes outside printable ASCII
 * as \xHH (X509_NAME_oneline): p11ca's one DN syntax, what --subject takes,
 * the CA database stores and every command prints for a subject or issuer.
 */
int pki_name_oneline(const X509_NAME *name, char **pout);
/*
 * A name as one RFC 2253 line, "CN=x,O=Example,C=GB", UTF-8 kept (free()).
 * Not for output: p11ca prints names with pki_name_oneline.
 */
int pki_name_rfc2253(const X509_NAME *name, char **pout);

/* ---- times (time.c) ------------------------------------------------ */

/*
 * The one parser for every time option (--at, --invalidity-date, ...):
 * "YYYY-MM-DD", "YYYY-MM-DDTHH:MM:SSZ", "YYYY-MM-DD HH:MM:SS" (UTC),
 * "YYYYMMDDHHMMSSZ", "now".  RES_BAD_INPUT otherwise.
 */
int pki_time_parse(const char *s, int64_t *pt);
/* "YYYY-MM-DDTHH:MM:SSZ" into @out (PKI_TIME_ISO_MAX). */
#define PKI_TIME_ISO_MAX 21
void pki_time_iso(int64_t t, char *out);
/*
 * @t as ASN.1 text: UTCTime (YYMMDDHHMMSSZ) for 1950-2049, else or with
 * @generalized GeneralizedTime (YYYYMMDDHHMMSSZ), into @out (PKI_TIME_ASN1_MAX);
 * returns its length, 13 or 15.
 */
#define PKI_TIME_ASN1_MAX 64
size_t pki_time_asn1(int64_t t, int generalized, char *out, size_t cap);
/* An ASN1_TIME as seconds since the epoch (0 if unreadable). */
int64_t pki_asn1_time_get(const ASN1_TIME *t);

/* ---- serials, hex, fingerprints (hex.c) ---------------------------- */

/* Longest serial text (20 octets in hex, RFC 5280) plus NUL. */
#define PKI_SERIAL_MAX 41
/*
 * A serial as typed ("0x", colons, any case) in the form records keep:
 * uppercase hex, whole bytes, no leading zero bytes ("00" for zero).
 * RES_BAD_INPUT if not hex or over 20 octets.
 */
int pki_serial_normalise(const char *in, char *out);
/* A certificate's serial in that form (RES_BAD_INPUT: negative or over 20 octets). */
int pki_serial_of(const ASN1_INTEGER *sn, char *out);
/* Lowercase hex of @len bytes into @out (2*len+1), through OpenSSL. */
void pki_hex(char *out, const unsigned char *p, size_t len);
/* The @mdname ("SHA256") digest of @x's DER as "AB:CD:.." (colons) or "abcd.." into @out. */
#define PKI_FP_MAX (EVP_MAX_MD_SIZE * 3 + 1)
int pki_fingerprint(const X509 *x, const char *mdname, int colons, char *out, size_t cap);

/* ---- chains (verify.c) --------------------------------------------- */

/* What can be wrong with one element of a chain (bits). */
enum pki_elem_flag {
	PKI_E_NOT_YET_VALID = 1u << 0,
	PKI_E_EXPIRED = 1u << 1,
	PKI_E_BAD_SIGNATURE = 1u << 2, /* not signed by the next element */
	PKI_E_NOT_CA = 1u << 3,        /* issues but is no CA (basicConstraints, keyCertSign) */
	PKI_E_PATHLEN = 1u << 4,       /* a pathlen constraint is exceeded */
	PKI_E_WEAK_KEY = 1u << 5,      /* RSA under 2048 bits, a curve not allowed */
	PKI_E_WEAK_DIGEST = 1u << 6,   /* signed with SHA-1 or MD5 */
	PKI_E_NO_ISSUER = 1u << 7,     /* its issuer is not in the untrusted or trusted set */
	PKI_E_UNTRUSTED_ROOT =
	    1u << 8,                /* the chain ends at a self-signed certificate not trusted */
	PKI_E_PURPOSE = 1u << 9,    /* EKU lacks a purpose asked for (leaf) */
	PKI_E_NAME = 1u << 10,      /* the host name asked for is not in CN/SAN (leaf) */
	PKI_E_NAME_IP = 1u << 11,   /* with PKI_E_NAME: the name asked for is an IP address and
	                               the leaf names no IP address, only DNS names/a CN */
	PKI_E_KEY_LARGE = 1u << 12, /* RSA over 4096 bits (SIP TLS peers fail with 8192):
	                               a warning, it leaves ok as it is */
	PKI_E_OTHER = 1u << 15,     /* something else OpenSSL refused: see code */
};
/* The flags that are warnings: they do not make a chain fail (ok stays 1). */
#define PKI_E_WARNINGS PKI_E_KEY_LARGE
/* Largest RSA key that is not flagged PKI_E_KEY_LARGE. */
#define PKI_RSA_MAX_BITS 4096

/* Revocation status of one element; filled by the revocation checker (later). */
enum pki_rev_status {
	PKI_REV_UNCHECKED = 0, /* nobody looked */
	PKI_REV_GOOD,
	PKI_REV_REVOKED,
	PKI_REV_UNKNOWN, /* asked, but no source answered */
};

struct pki_chain_elem {
	X509 *cert;     /* a reference (the result owns it) */
	unsigned flags; /* enum pki_elem_flag bits; 0 = fine */
	int x509_error; /* OpenSSL's X509_V_ERR_* for this element, 0 when none */
	int trusted;    /* from the trusted set (the anchor) */
	/* revocation, for the checker to fill */
	enum pki_rev_status rev_status;
	int rev_reason;   /* CRLReason, -1 none */
	int64_t rev_time; /* 0 none */
	int rev_source;   /* which source answered (the checker defines them) */
};

struct pki_chain_result {
	int ok;   /* every element fine and the chain ends at a trust anchor */
	size_t n; /* elements, leaf first */
	struct pki_chain_elem *elems;
};

struct pki_verify_opts {
	int64_t at;           /* time to check at; 0 = now */
	const char *host;     /* NULL, or a DNS name/IP the leaf must carry (in its SAN, or
	                         its CN without a SAN; a wildcard never matches) */
	int purpose;          /* 0, or X509_PURPOSE_SSL_SERVER / _CLIENT (both: see want_*) */
	int want_server_auth; /* leaf EKU must allow serverAuth */
	int want_client_auth; /* leaf EKU must allow clientAuth */
	int allow_partial;    /* a chain not ending at a trust anchor is not an error in itself */
};

/*
 * Builds the chain of @leaf from @untrusted (may be NULL) to a certificate
 * in @trusted (may be NULL/empty: then no anchor) and checks each element.
 * *presult is the caller's (pki_chain_result_free) whenever RES_OK is
 * returned, also for a chain with problems (then (*presult)->ok == 0).
 * Other codes: the check could not run.
 */
int pki_verify_chain(OSSL_LIB_CTX *libctx, X509 *leaf, STACK_OF(X509) * untrusted,
                     STACK_OF(X509) * trusted, const struct pki_verify_opts *opts,
                     struct pki_chain_result **presult);
void pki_chain_result_free(struct pki_chain_result *r);
/* A short English name of one flag bit ("expired"), for the command line. */
const char *pki_elem_flag_name(unsigned flag);

#endif

/*
 * ca.h - the CA library (prefix ca_): a private CA whose key stays on a
 * PKCS#11 token.  Its configuration (conf.c), opening a CA (ca.c), making
 * a new one (init.c), profiles and the checks a CSR must pass (profile.c,
 * check.c), building and signing certificates (build.c), issuing a batch
 * (issue.c), CRLs (crl.c, crl.h), CRLReason names (reason.c).  Records are
 * kept through the database interface (db/db.h).
 *
 * Results follow tools/common/result.h: RES_OK, or a RES_* code with the
 * calling thread's message.  Nothing here prints, exits or reads argv.
 * Inputs are bytes (CSRs, certificates) and outputs are objects, bytes or
 * write callbacks; the only files touched are the CA directory's own
 * (ca.conf, the CA certificate, the database) when a CA is opened.
 * Objects handed out are the caller's (the matching *_free/_close).
 */
#ifndef P11CA_CA_H
#define P11CA_CA_H

#include <stdint.h>
#include <time.h>
#include <openssl/x509.h>

#include "db.h"
#include "pki.h"
#include "csr.h"
#include "crl.h"

/* Serials p11ca draws: this many random bytes, top bits 01 (positive, full length). */
#define CA_SERIAL_BYTES 16
/* Longest serial text kept (20 octets in hex, RFC 5280) plus NUL. */
#define CA_SERIAL_MAX CADB_SERIAL_MAX
/* Most CRL distribution point URLs in ca.conf. */
#define CA_MAX_CRL_URLS 8

/* D/ca.conf, section [p11ca].  Strings owned (ca_conf_free). */
struct ca_conf {
	char *dir;    /* the CA directory */
	char *key;    /* the CA key's pkcs11: URI */
	char *module; /* module name or path, or NULL */
	char *cert;   /* path of the CA certificate (made absolute) */
	char *db;     /* location of the database (a path made absolute, or "sqlite:...") */
	long default_days;
	char *default_profile;
	char *default_md;
	long crl_days;
	char **crl_urls; /* NULL-terminated */
	char *ocsp_url;
	char *ca_issuers_url;
};

/* Parses ca.conf's text (@len bytes) of the CA in @dir (for relative paths; @name in messages). */
int ca_conf_parse(const char *text, size_t len, const char *dir, const char *name,
                  struct ca_conf *conf);
/* ca.conf's text for @conf (free()); RES_BAD_INPUT for a value the syntax cannot hold. */
int ca_conf_format(const struct ca_conf *conf, char **ptext, size_t *plen);
void ca_conf_free(struct ca_conf *conf);

/* An opened CA: configuration, certificate, key on the token, database. */
struct ca {
	struct ca_conf conf;
	X509 *cert;           /* NULL until a sub-CA has its certificate */
	OSSL_LIB_CTX *libctx; /* its own, with the p11ca provider configured for this CA */
	EVP_PKEY *key;        /* through the p11ca provider; NULL unless need_key */
	struct cadb *db;
};

struct ca_open_opts {
	const char *module;          /* overrides ca.conf's module; NULL: ca.conf's */
	const char *pin_file;        /* NULL: the URI's pin-source, P11CA_PIN, the terminal */
	int need_key;                /* load the key (and check it is the certificate's) */
	int need_cert;               /* a CA without its certificate yet is an error */
	const char *module_fallback; /* when neither module nor ca.conf names one */
};

/*
 * Opens the CA in directory @dir: ca.conf, its certificate, its database
 * and (with need_key) its key.  *pca is the caller's (ca_close).  Two CAs
 * may be open in one process and used from two threads at once (each by
 * one thread at a time).
 */
int ca_open(const char *dir, const struct ca_open_opts *o, struct ca **pca);
void ca_close(struct ca *ca);
/* Whether @key (on the token) is the key of @x: the same SubjectPublicKeyInfo. */
int ca_key_matches(EVP_PKEY *key, X509 *x);
/* RES_OK when @x can be this CA's certificate: @key's, CA:TRUE, keyCertSign when KU present. */
int ca_cert_fits(EVP_PKEY *key, X509 *x);
/* "sha256", "sha384", "sha512"; anything else (SHA-1 too) RES_POLICY. */
int ca_md_ok(const char *md);

/* ---- profiles (profile.c) ------------------------------------------ */

enum ca_profile { CA_SERVER, CA_CLIENT, CA_SERVER_CLIENT, CA_OCSP, CA_SUB_CA };
/* RES_BAD_INPUT for an unknown name. */
int ca_profile_parse(const char *name, enum ca_profile *out);
const char *ca_profile_name(enum ca_profile p);

/* ---- issuing (check.c, build.c, issue.c) --------------------------- */

/* How far a batch is: what ca_issue_opts.progress is told. */
enum ca_stage { CA_STAGE_CHECKED, CA_STAGE_SIGNED, CA_STAGE_RECORDED };

struct ca_issue_opts {
	enum ca_profile profile;
	long days;
	const char *md; /* "sha256" ...; ignored for Ed25519 */
	int pathlen;    /* sub-ca */
	int threads;    /* checking and signing threads, 1 or more */
	/*
	 * Optional: called after each request of @stage is done (@done of
	 * @total), from the batch's threads but never two calls at once; it
	 * must not call back into the CA.
	 */
	void (*progress)(void *arg, enum ca_stage stage, size_t done, size_t total);
	void *progress_arg;
};

struct ca_plan;
/* One request of a batch: CSR bytes in; the certificate and its record out. */
struct ca_req {
	/* in: set by the caller, only read */
	const char *name;         /* for messages (a file name) */
	const unsigned char *csr; /* PEM or DER */
	size_t csr_len;
	/*
	 * Or csr NULL and @load, which the checking thread calls first to set
	 * csr/csr_len (so that reading many files overlaps the checks) to a
	 * malloc'ed buffer the library frees once the CSR is read (a batch of
	 * thousands holds none of them).  RES_OK, or a result.h code and message.
	 */
	int (*load)(struct ca_req *r, void *arg);
	void *load_arg;
	/* out */
	int rc;               /* RES_OK, or why this request failed */
	char msg[512];        /* its message ("" when fine) */
	char not_copied[256]; /* CSR extensions not copied (comma list, "" none) */
	int cut;              /* the validity asked for passed the CA's end: cut to it */
	X509 *cert;
	struct cadb_row row; /* its record (serial, subject, SANs, DER ...) */
	/* private */
	struct ca_csr parsed;
	struct ca_plan *plan;
};
void ca_req_free(struct ca_req *r);

/*
 * Checks each request for @o (signature, key, names under the one name
 * policy, CA:TRUE only with CA_SUB_CA, usages within the profile), and only
 * when every one passes signs them all on the token (threads) and records
 * them in one transaction (a serial taken meanwhile is drawn and signed
 * again).  Nothing is recorded unless all are.  Each request's rc/msg say
 * how it went; the result says the batch's (RES_POLICY/RES_BAD_INPUT: some
 * request refused, with "N of M CSRs refused" for a batch).
 */
int ca_issue(struct ca *ca, const struct ca_issue_opts *o, struct ca_req *reqs, size_t n);
/* Checks one request alone (no signing); sets r->rc/msg too. */
int ca_req_check(struct ca *ca, const struct ca_issue_opts *o, struct ca_req *r);

/*
 * A certificate: @issuer NULL = self-signed (the CA's own); the public key
 * copied from @spki (a CSR's, as it is) or else from @pubkey.
 */
int ca_build_cert(OSSL_LIB_CTX *libctx, X509 *issuer, const X509_NAME *subject,
                  const struct ca_csr *spki, EVP_PKEY *pubkey, const unsigned char *serial,
                  size_t serial_len, time_t not_before, time_t not_after, X509 **px);
/* Adds extension @nid given as openssl-config text ("critical,CA:TRUE"). */
int ca_add_ext(X509 *x, X509 *issuer, int nid, const char *value);
/* Signs @x with @key and digest @md (NULL for EdDSA). */
int ca_sign_cert(OSSL_LIB_CTX *libctx, X509 *x, EVP_PKEY *key, const char *md);
/* A random positive serial of CA_SERIAL_BYTES bytes. */
int ca_random_serial(OSSL_LIB_CTX *libctx, unsigned char *out);
/* A record's fields from a certificate (serial, subject, SANs, validity, DER). */
int ca_row_from_cert(X509 *x, struct cadb_row *r);

/* ---- a new CA (init.c) --------------------------------------------- */

/* The self-signed root for @key: CA:TRUE (pathlen unless < 0), KU keyCertSign+cRLSign, SKI, AKI. */
int ca_make_root(OSSL_LIB_CTX *libctx, EVP_PKEY *key, const X509_NAME *name, long days,
                 const char *md, int pathlen, X509 **px);
/* A sub-CA's CSR for @key: CA:TRUE (pathlen unless < 0) and keyCertSign+cRLSign requested. */
int ca_make_sub_csr(OSSL_LIB_CTX *libctx, EVP_PKEY *key, const X509_NAME *name, const char *md,
                    int pathlen, X509_REQ **preq);

/* ---- revocation and CRLs (ca.c) ------------------------------------ */

/* RES_NOT_FOUND: no such serial; RES_ALREADY: revoked before. */
int ca_revoke(struct ca *ca, const char *serial, int64_t when, int reason, int64_t invalidity);
/*
 * The CRL of every revoked certificate, signed on the token, written to
 * @out piece by piece (PEM with @pem): the next CRL number is taken and the
 * revoked set read in one write transaction (one snapshot), committed only
 * once @out took the whole CRL, so a failed write spends no number and a
 * higher number never lists less than a lower one.
 */
int ca_crl(struct ca *ca, const char *md, long days, int pem, ca_write_fn out, void *outarg,
           int64_t *pnumber, size_t *pcount);

/* Reason names (RFC 5280 CRLReason); NULL for an unknown code. */
const char *ca_reason_name(int code);
/* Code of a name (case-insensitive), -1 if unknown. */
int ca_reason_code(const char *name);

#endif

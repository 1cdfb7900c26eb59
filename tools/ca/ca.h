/*
 * ca.h - the CA library (prefix ca_): a private CA whose key stays on a
 * PKCS#11 token.  Its configuration (conf.c), opening a CA (ca.c), making
 * a new one (init.c), profiles and the checks a CSR must pass (profile.c,
 * check.c), building and signing certificates (build.c), issuing a batch
 * (issue.c), CRLs (crl.c, crl.h), CRLReason names (reason.c), openssl ca's
 * index.txt and its import (index.c, import.c).  Records are
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
	/* the delegated OCSP responder ('p11ca ca responder'); NULL: the CA key signs */
	char *ocsp_key;  /* its key's pkcs11: URI */
	char *ocsp_cert; /* its certificate's path (made absolute) */
	long ocsp_days;  /* its certificate's validity (default CA_OCSP_DAYS) */
};
/* Validity of a delegated responder certificate unless ca.conf says ocsp_days. */
#define CA_OCSP_DAYS 30
/* Longest ocsp_days (ten years; a responder certificate lives far shorter). */
#define CA_OCSP_DAYS_MAX 3650

/* Parses ca.conf's text (@len bytes) of the CA in @dir (for relative paths; @name in messages). */
int ca_conf_parse(const char *text, size_t len, const char *dir, const char *name,
                  struct ca_conf *conf);
/* ca.conf's text for @conf (free()); RES_BAD_INPUT for a value the syntax cannot hold. */
int ca_conf_format(const struct ca_conf *conf, char **ptext, size_t *plen);
void ca_conf_free(struct ca_conf *conf);
/*
 * ca.conf's text @text (@len bytes, of the CA in @dir) with ocsp_key,
 * ocsp_cert (written relative to @dir when inside it) and ocsp_days set:
 * their old lines in [p11ca] dropped, the new ones added after the
 * section's last line, every other line (comments, the user's edits) kept
 * as it is; checked to read back so.  *pout (free()), *plen its length.
 * RES_BAD_INPUT for a value ca.conf cannot hold.
 */
int ca_conf_set_responder(const char *text, size_t len, const char *dir, const char *key,
                          const char *cert, long days, char **pout, size_t *plen);
/*
 * Whether @url can go into certificates (CRL distribution point, AIA): an
 * http:// or https:// URL with a host (name, IPv4, [IPv6]) and optional
 * port, no user part, of printable ASCII without spaces, commas, quotes or
 * '$' (which openssl's extension text or ca.conf would read otherwise),
 * that OpenSSL's URL parser reads too.  RES_BAD_INPUT naming @what otherwise.
 */
int ca_url_check(const char *what, const char *url);

/* An opened CA: configuration, certificate, key on the token, database. */
struct ca {
	struct ca_conf conf;
	X509 *cert;           /* NULL until a sub-CA has its certificate */
	OSSL_LIB_CTX *libctx; /* its own, with the p11ca provider configured for this CA */
	EVP_PKEY *key;        /* through the p11ca provider; NULL unless need_key */
	struct cadb *db;
	/* NULL, or lines for the caller to tell (a group/world-writable ca.conf or directory) */
	char **warnings;
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
	int again;      /* issue even when the subject and key have a valid certificate (r->dup) */
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
	/* the valid certificate its subject and key have already (RES_ALREADY; "" none) */
	char dup[CA_SERIAL_MAX];
	int cut; /* the validity asked for passed the CA's end: cut to it */
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
 * request refused, with "N of M CSRs refused" for a batch).  Unless
 * o->again, a request whose subject and public key already have a valid
 * certificate (recorded, not revoked, not expired) is refused with
 * RES_ALREADY, its message naming that certificate's serial (r->dup): a
 * retry after the outputs were lost issues nothing twice.  With o->again
 * it is issued, r->dup still naming the certificate it had.
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

/* ---- the delegated OCSP responder (responder.c) -------------------- */

/*
 * Issues the certificate of the delegated OCSP responder key @rkey (on the
 * token): profile ocsp (digitalSignature, id-kp-OCSPSigning, id-pkix-ocsp-
 * nocheck, AKI/SKI), subject "CN=<the CA's CN> OCSP Responder" with the CA
 * subject's other attributes, valid from now (backdated 60 s) for @days
 * (cut at the CA's own end), signed with the CA key (@ca opened with
 * need_key) by ca.conf's default_md, and recorded in the database (profile
 * "ocsp") in one transaction.  *px is the caller's.  Writes no file.
 */
int ca_responder_issue(struct ca *ca, EVP_PKEY *rkey, long days, X509 **px);
/*
 * The configured responder (ca.conf ocsp_key, ocsp_cert) loaded through
 * @ca's library context: RES_NOT_FOUND when none is configured; RES_POLICY
 * when the certificate is not @ca's, not OCSPSigning, or not @key's.
 * *pkey and *pcert are the caller's.
 */
int ca_responder_load(struct ca *ca, EVP_PKEY **pkey, X509 **pcert);

/* ---- openssl ca's records (index.c, import.c) ---------------------- */

/* Largest CRL number kept (the database holds a signed 64-bit number). */
#define CA_CRL_NUMBER_MAX INT64_MAX
/* Largest index.txt an import reads; newcerts/SERIAL.pem and crlnumber are small files. */
#define CA_INDEX_MAX (256 << 20)

/*
 * One line of an 'openssl ca' index.txt (@len bytes, no newline; NULs are
 * bytes like others): status V, E or R, expiry, revocation time[,reason
 * [,time or OID]] (R only), serial, file name (ignored), subject (the rest
 * of the line, starting with '/').  Into @r: status 'V' (V and E) or 'R',
 * not_after, revoked_at, reason (-1 none, 0 when R gives none),
 * invalidity, serial (normalised) and subject (malloc'ed, escaped as
 * ca_text_escape does); cadb_row_free(@r) after.  RES_BAD_INPUT with the
 * reason (and @r empty) otherwise.
 */
int ca_index_parse_line(const char *line, size_t len, struct cadb_row *r);
/*
 * @r as an index.txt line with its newline into *pline (free()): E for a
 * valid record expired at @now; openssl ca's reason names (none for the
 * reasons it does not know); the subject escaped.
 */
int ca_index_format(const struct cadb_row *r, int64_t now, char **pline);
/*
 * @len bytes of @s with every byte outside printable ASCII written \xHH
 * (as X509_NAME_oneline does), NUL-terminated (free()); NULL when out of
 * memory.
 */
char *ca_text_escape(const char *s, size_t len);
/*
 * openssl ca's crlnumber file (@len bytes of hex, the next CRL's number)
 * into *pnext: 1 to CA_CRL_NUMBER_MAX, else RES_BAD_INPUT.
 */
int ca_crlnumber_parse(const char *text, size_t len, int64_t *pnext);

/* What an import did and found, for the caller to tell (ca_import_report_free). */
struct ca_import_report {
	size_t count;  /* records imported (0 when the import failed) */
	size_t nocert; /* of them without their certificate */
	/* NULL-terminated lines (or NULL): index fields the certificate overrode */
	char **findings;
	size_t nfindings;
	size_t more; /* findings not kept beyond the first 100 */
};
void ca_import_report_free(struct ca_import_report *rep);
/*
 * The certificate of serial @serial (newcerts/SERIAL.pem): RES_OK and a
 * malloc'ed buffer (*pbuf, free()), RES_NOT_FOUND when there is none, or
 * another code with its message when it cannot be read.
 */
typedef int (*ca_import_load_fn)(const char *serial, unsigned char **pbuf, size_t *plen, void *arg);
/*
 * Imports an 'openssl ca' directory's records into @ca's database, all in
 * one transaction: each line of @index (@len bytes), with its certificate
 * from @load when there is one, which must be issued by @ca's certificate
 * and hold the serial: then its subject, validity and SANs are the record,
 * and index fields that disagree are reported in @rep; and @crlnumber
 * (@crllen bytes; NULL when there is none), so that CRL numbers go on from
 * there.  A malformed line (RES_BAD_INPUT "line N: ..."), a serial the
 * database has (RES_TAKEN), a certificate of another CA (RES_POLICY)
 * imports nothing.  @rep is the caller's whatever the result.
 */
int ca_import_openssl(struct ca *ca, const char *index, size_t len, const char *crlnumber,
                      size_t crllen, ca_import_load_fn load, void *arg,
                      struct ca_import_report *rep);

#endif

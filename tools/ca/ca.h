/*
 * ca.h - the private CA behind "p11ca ca": its configuration (ca-conf.c),
 * its SQLite database (ca-db.c), certificate issuance (ca-issue.c) and
 * CRLs (ca-crl.c).  Prefix ca_.  Functions that report return TOOL_EXIT_*
 * and have printed one line saying what went wrong.
 */
#ifndef P11CA_TOOL_CA_H
#define P11CA_TOOL_CA_H

#include <stdint.h>
#include <sqlite3.h>
#include <openssl/x509.h>

#include "tool.h"
#include "pki.h"
#include "csr.h"

/* Schema version of ca.db (PRAGMA user_version). */
#define CA_DB_VERSION 1
/* Serials p11ca draws: this many random bytes, top bit clear (positive). */
#define CA_SERIAL_BYTES 16
/* Longest serial text kept (20 octets in hex, RFC 5280) plus NUL. */
#define CA_SERIAL_MAX 41

/* D/ca.conf, section [p11ca].  Strings owned (ca_conf_free). */
struct ca_conf {
	char *dir;       /* the CA directory */
	char *key;       /* the CA key's pkcs11: URI */
	char *module;    /* module name or path, or NULL */
	char *cert;      /* path of the CA certificate (made absolute) */
	char *db;        /* path of the database (made absolute) */
	long default_days;
	char *default_profile;
	char *default_md;
	long crl_days;
	char **crl_urls; /* NULL-terminated */
	char *ocsp_url;
	char *ca_issuers_url;
};

/* An opened CA: configuration, certificate, key on the token, database. */
struct ca {
	struct ca_conf conf;
	struct tool_common common; /* module as configured unless --module */
	X509 *cert;                /* NULL until a sub-CA has its certificate */
	OSSL_LIB_CTX *libctx;
	EVP_PKEY *key; /* through the p11ca provider */
	sqlite3 *db;
};

/* ca-conf.c */
int ca_conf_load(const char *dir, struct ca_conf *conf);
/* Writes D/ca.conf for a new CA (atomically; refuses to replace one). */
int ca_conf_write(const struct ca_conf *conf);
void ca_conf_free(struct ca_conf *conf);

/*
 * cmd-ca.c helpers shared by the verbs: ca_open() loads D/ca.conf, the
 * certificate (when @need_cert), the database and (when @need_key) the key,
 * checking the key matches the certificate.  ca_close() releases all.
 */
int ca_open(struct ca *ca, const char *dir, const struct tool_common *c, int need_key,
            int need_cert);
void ca_close(struct ca *ca);

/* One certificate's record. */
struct ca_row {
	char serial[CA_SERIAL_MAX]; /* uppercase hex */
	char *subject;              /* "/C=../CN=.." */
	char *sans;                 /* "DNS:a,IP:1.2.3.4", or NULL */
	int64_t not_before, not_after;
	char status; /* 'V' or 'R' ('E' is derived from not_after) */
	int64_t revoked_at, invalidity; /* 0 = none */
	int reason;                     /* CRLReason, -1 = none */
	char *profile;
	int64_t issued_at;
	unsigned char *der; /* NULL for an imported record without a certificate */
	size_t der_len;
};
void ca_row_free(struct ca_row *r);

/* ca-db.c */
int ca_db_create(const char *path);
int ca_db_open(const char *path, sqlite3 **pdb);
void ca_db_close(sqlite3 *db);
/* BEGIN IMMEDIATE (waits for other writers), COMMIT, ROLLBACK */
int ca_db_begin(sqlite3 *db);
int ca_db_commit(sqlite3 *db);
void ca_db_rollback(sqlite3 *db);
/* 0 inserted, 1 the serial is taken, -1 failed (reported) */
int ca_db_insert(sqlite3 *db, const struct ca_row *r);
/* 0 found, 1 no such serial, -1 failed (reported) */
int ca_db_get(sqlite3 *db, const char *serial, struct ca_row *r);
/* 0 revoked, 1 no such serial, 2 already revoked, -1 failed */
int ca_db_revoke(sqlite3 *db, const char *serial, int64_t when, int reason, int64_t invalidity);
/*
 * Calls @cb for each record with status @status ('V', 'R', 'E' for valid
 * but past not_after at @now, or 0 for all), in serial order, without the
 * DER unless @with_der.  A non-zero return of @cb stops and is returned.
 */
typedef int (*ca_row_cb)(const struct ca_row *r, void *arg);
int ca_db_foreach(sqlite3 *db, char status, int64_t now, int with_der, ca_row_cb cb, void *arg);
/* The revoked entries a CRL lists (serial, revoked_at, reason, invalidity). */
int ca_db_foreach_revoked(sqlite3 *db, ca_row_cb cb, void *arg);
/* Increments and returns the CRL number (its own transaction). */
int ca_db_next_crl_number(sqlite3 *db, int64_t *out);

/* Reason names (RFC 5280 CRLReason); NULL for an unknown code. */
const char *ca_reason_name(int code);
/* Code of a name (case-insensitive), -1 if unknown. */
int ca_reason_code(const char *name);

/* ca-issue.c: profiles */
enum ca_profile { CA_SERVER, CA_CLIENT, CA_SERVER_CLIENT, CA_OCSP, CA_SUB_CA };
int ca_profile_parse(const char *name, enum ca_profile *out);
const char *ca_profile_name(enum ca_profile p);

struct ca_issue_opts {
	enum ca_profile profile;
	long days;
	const char *md; /* "sha256" ...; ignored for Ed25519 */
	int pathlen;    /* sub-ca */
	int threads;
	int verbose;
	/* --out-dir: where ca_write_out_dir() puts the certificates */
	const char *out_dir;
	int der;
	long tmp_tag; /* the issuing process's pid, in the temporary names */
};
struct ca_req;
/* The temporary and the final name of a certificate in opts->out_dir. */
void ca_out_paths(const struct ca_issue_opts *o, const char *serial, char *tmp, char *final,
                  size_t cap);
/*
 * Writes the recorded certificates into opts->out_dir, in parallel; only
 * ever after the commit, so that no signed certificate exists on disk that
 * the database does not know.  Returns how many could not be written.
 */
size_t ca_write_out_dir(const struct ca_issue_opts *opts, struct ca_req *reqs, size_t n);

/* A CSR checked and ready to be issued. */
struct req_plan;
struct ca_req {
	const char *path;
	struct ca_csr csr;
	struct req_plan *plan; /* extensions the checks settled (ca-issue.c) */
	X509 *cert;            /* after ca_issue_batch */
	struct ca_row row;     /* its record, after ca_issue_batch */
};

/* Parses and checks @path (PEM or DER CSR) for @opts; reports why not. */
int ca_req_load(struct ca *ca, const char *path, const struct ca_issue_opts *opts,
                struct ca_req *out);
void ca_req_free(struct ca_req *r);
/*
 * Checks the CSRs at @paths and issues them: checked and signed in
 * parallel threads, then all recorded in one
 * transaction (a taken serial is drawn again).  Nothing is recorded unless
 * every CSR passed and everything was.  @reqs (n, zeroed) receive the
 * records (cert and row).
 */
int ca_issue_batch(struct ca *ca, char **paths, size_t n, const struct ca_issue_opts *opts,
                   struct ca_req *reqs);

/*
 * Builds a certificate: @issuer NULL = self-signed (the CA's own); the
 * public key copied from @spki (a CSR's, as it is), or else from @pubkey.
 */
X509 *ca_build_cert(OSSL_LIB_CTX *libctx, X509 *issuer, const X509_NAME *subject,
                    const struct ca_csr *spki, EVP_PKEY *pubkey, const unsigned char *serial,
                    size_t serial_len, time_t not_before, time_t not_after);
/* Adds extension @nid given as openssl-config text ("critical,CA:TRUE"). */
int ca_add_ext(X509 *x, X509 *issuer, int nid, const char *value);
/* Signs @x with the CA key and digest @md (NULL for EdDSA). */
int ca_sign_cert(OSSL_LIB_CTX *libctx, X509 *x, EVP_PKEY *key, const char *md);
/* Random positive serial of CA_SERIAL_BYTES bytes. */
int ca_random_serial(OSSL_LIB_CTX *libctx, unsigned char *out);
/* Record fields from a certificate (subject, SANs, validity, serial, DER). */
int ca_row_from_cert(X509 *x, struct ca_row *r);

/* ca-crl.c: writes the CRL for @ca to @path (PEM unless @der). */
int ca_crl_write(struct ca *ca, const char *md, long days, int der, const char *path,
                 int64_t *number, size_t *count);

/* cmd-ca.c: a serial as typed ("0x", colons, any case) as the database
 * keeps it (uppercase, even length) into @out (CA_SERIAL_MAX); 0 if not hex. */
int ca_serial_normalise(const char *in, char *out);

#endif

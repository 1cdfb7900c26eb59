/*
 * db.h - the CA's database behind one interface (prefix cadb_).  A backend
 * is a table of operations (struct cadb_ops, one file each: sqlite.c; a
 * PostgreSQL one comes later), chosen when the database is opened by the
 * scheme of its location: "sqlite:PATH", or a plain path for SQLite.  No
 * SQL and no backend type appears above this header.
 *
 * Results follow tools/common/result.h: RES_OK, or a code with the
 * thread's message set (res_message()).  A connection belongs to one
 * thread at a time; every prepared statement belongs to its connection.
 * Strings and buffers a function hands out are the caller's (cadb_row_free,
 * free()); what the caller passes in is only read.
 */
#ifndef P11CA_CADB_H
#define P11CA_CADB_H

#include <stddef.h>
#include <stdint.h>

/* Schema version this release writes; older ones are migrated on open. */
#define CADB_VERSION 2
/* Longest serial text kept (20 octets in hex, RFC 5280) plus NUL. */
#define CADB_SERIAL_MAX 41

/* One certificate's record. */
struct cadb_row {
	char serial[CADB_SERIAL_MAX]; /* uppercase hex, even length, no leading 00 byte */
	char *subject;                /* "/C=../CN=.." (escaped as X509_NAME_oneline does) */
	char **sans;                  /* "DNS:a", "IP:1.2.3.4", "email:x@y", "URI:u"; nsans of them */
	size_t nsans;
	int64_t not_before, not_after; /* seconds since the epoch, UTC */
	char status;                   /* 'V' or 'R' ('E' is derived from not_after) */
	int64_t revoked_at, invalidity; /* 0 = none */
	int reason;                     /* CRLReason code, -1 = none */
	char *profile;                  /* "server-client", ... or NULL */
	int64_t issued_at;
	unsigned char *der; /* NULL for an imported record without its certificate */
	size_t der_len;
};
void cadb_row_free(struct cadb_row *r);
/* Adds a copy of @san ("DNS:a") to r->sans; RES_OK or RES_NOMEM. */
int cadb_row_add_san(struct cadb_row *r, const char *san);

/* Called for each record; a non-zero return stops the walk and is returned. */
typedef int (*cadb_row_cb)(const struct cadb_row *r, void *arg);

/* Selection of cadb_foreach(). */
enum cadb_status {
	CADB_ALL = 0,
	CADB_VALID = 'V',   /* not revoked and not_after >= now */
	CADB_EXPIRED = 'E', /* not revoked and not_after < now */
	CADB_REVOKED = 'R',
};

struct cadb;

/*
 * A backend.  @state is what its open() made.  Every operation returns a
 * result.h code; the ones named here are the results callers act on.
 */
struct cadb_ops {
	const char *scheme; /* "sqlite" */
	/* makes a new, empty database at @location (RES_EXISTS if there is one) */
	int (*create)(const char *location);
	/* opens it, migrating an older schema in one transaction (RES_VERSION if newer) */
	int (*open)(const char *location, void **pstate);
	void (*close)(void *state);
	/* a write transaction: waits for other writers (in this and other processes) */
	int (*begin)(void *state);
	int (*commit)(void *state);
	void (*rollback)(void *state);
	/* RES_TAKEN: the serial is there already (nothing written) */
	int (*insert)(void *state, const struct cadb_row *r);
	/* RES_NOT_FOUND: no such serial */
	int (*get)(void *state, const char *serial, struct cadb_row *r);
	/* RES_NOT_FOUND, RES_ALREADY (revoked before); inside the caller's transaction */
	int (*revoke)(void *state, const char *serial, int64_t when, int reason, int64_t invalidity);
	/* records of @status in serial order, without the DER unless @with_der */
	int (*foreach)(void *state, enum cadb_status status, int64_t now, int with_der,
	               cadb_row_cb cb, void *arg);
	/*
	 * The revoked records a CRL lists, streamed (serial, revoked_at,
	 * reason, invalidity only; no subject, SANs or DER), never all in memory.
	 */
	int (*foreach_revoked)(void *state, cadb_row_cb cb, void *arg);
	/* increments and returns the CRL number; inside the caller's transaction */
	int (*next_crl_number)(void *state, int64_t *out);
	/* sets the CRL number (an import carries an older CA's on); inside a transaction */
	int (*set_crl_number)(void *state, int64_t value);
	/* the schema version of the open database (CADB_VERSION once opened) */
	int (*schema_version)(void *state, int *out);
};

extern const struct cadb_ops cadb_sqlite_ops;

/* Creates an empty database at @location ("sqlite:PATH" or PATH). */
int cadb_create(const char *location);
/* Opens @location; *pdb is the caller's (cadb_close). */
int cadb_open(const char *location, struct cadb **pdb);
void cadb_close(struct cadb *db);
/* The backend's name ("sqlite"). */
const char *cadb_backend(const struct cadb *db);

int cadb_begin(struct cadb *db);
int cadb_commit(struct cadb *db);
void cadb_rollback(struct cadb *db);
int cadb_insert(struct cadb *db, const struct cadb_row *r);
int cadb_get(struct cadb *db, const char *serial, struct cadb_row *r);
/* Revokes in a transaction of its own when none is open (begin..commit). */
int cadb_revoke(struct cadb *db, const char *serial, int64_t when, int reason,
                int64_t invalidity);
int cadb_foreach(struct cadb *db, enum cadb_status status, int64_t now, int with_der,
                 cadb_row_cb cb, void *arg);
int cadb_foreach_revoked(struct cadb *db, cadb_row_cb cb, void *arg);
int cadb_next_crl_number(struct cadb *db, int64_t *out);
int cadb_set_crl_number(struct cadb *db, int64_t value);
int cadb_schema_version(struct cadb *db, int *out);
/* Whether a write transaction is open on @db (cadb_begin without commit/rollback). */
int cadb_in_transaction(const struct cadb *db);

#endif

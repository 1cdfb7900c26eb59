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
 *
 * Transactions: cadb_begin .. cadb_commit (or cadb_rollback) groups writes.
 * A write called with no transaction open (cadb_insert, cadb_revoke,
 * cadb_next_crl_number, cadb_set_crl_number) runs in a transaction of its
 * own, committed before it returns; inside the caller's transaction a write
 * that fails changes nothing and leaves the transaction open, for the
 * caller to commit or roll back.  Backends' write operations always run
 * inside a transaction (db.c makes sure of it).
 */
#ifndef P11CA_CADB_H
#define P11CA_CADB_H

#include <stddef.h>
#include <stdint.h>

/* Schema version this release writes; older ones are migrated on open. */
#define CADB_VERSION 4
/* Longest serial text kept (20 octets in hex, RFC 5280) plus NUL. */
#define CADB_SERIAL_MAX 41

/* One certificate's record. */
struct cadb_row {
	char serial[CADB_SERIAL_MAX]; /* uppercase hex, even length, no leading 00 byte */
	char *subject;                /* "/C=../CN=.." (escaped as X509_NAME_oneline does) */
	char **sans; /* "DNS:a", "IP:1.2.3.4", "email:x@y", "URI:u"; nsans of them */
	size_t nsans;
	int64_t not_before, not_after;  /* seconds since the epoch, UTC */
	char status;                    /* 'V' or 'R' ('E' is derived from not_after) */
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
/*
 * For backends that keep a SAN's type apart from its value: adds
 * "TYPE:VALUE" (just VALUE for type "other") to r->sans, the inverse of
 * cadb_san_split(); RES_OK or RES_NOMEM.
 */
int cadb_row_add_san_typed(struct cadb_row *r, const char *type, const char *value);
/*
 * The type of @san: "DNS", "IP", "email" or "URI" with *pvalue after the
 * "TYPE:" prefix, or "other" (anything else, e.g. "other" or "RID:1.2")
 * with *pvalue the whole of @san.  Both point into static or @san's memory.
 */
const char *cadb_san_split(const char *san, const char **pvalue);

/*
 * Called for each record; a non-zero return stops the walk and is returned
 * as the walk's result.  @r and what it points to last until the callback
 * returns.  The callback may use the same connection (a lookup, a write in
 * the caller's transaction); rows it changes may or may not be walked.
 */
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
 * create() and open() get the location as the caller gave it ("sqlite:PATH"
 * or PATH; "postgresql://..." for a backend whose scheme is "postgresql"):
 * the backend reads its own syntax.  insert, revoke, next_crl_number and
 * set_crl_number are only called inside begin() .. commit()/rollback().
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
	/* RES_TAKEN: the serial is there already; on any failure nothing is written */
	int (*insert)(void *state, const struct cadb_row *r);
	/* RES_NOT_FOUND: no such serial; @r is filled on RES_OK, left empty otherwise */
	int (*get)(void *state, const char *serial, struct cadb_row *r);
	/* RES_NOT_FOUND, RES_ALREADY (revoked before); inside the caller's transaction */
	int (*revoke)(void *state, const char *serial, int64_t when, int reason,
	              int64_t invalidity);
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
	/*
	 * raises the CRL number to @value when it is lower (an import carries an
	 * older CA's on); never lowers it: CRL numbers only go up
	 */
	int (*set_crl_number)(void *state, int64_t value);
	/* the schema version of the open database (CADB_VERSION once opened) */
	int (*schema_version)(void *state, int *out);
	/*
	 * the records whose subject is @subject exactly, any status, with the
	 * DER, in serial order; answered from an index (a million rows are not read)
	 */
	int (*foreach_subject)(void *state, const char *subject, cadb_row_cb cb, void *arg);
	/*
	 * a number that changes whenever another connection (this process or
	 * another) has committed a change since the last call (SQLite: PRAGMA
	 * data_version); cheap: a server polls it several times a second
	 */
	int (*data_version)(void *state, int64_t *out);
};

extern const struct cadb_ops cadb_sqlite_ops;

/* Creates an empty database at @location ("sqlite:PATH" or PATH). */
int cadb_create(const char *location);
/*
 * Opens @location; *pdb is the caller's (cadb_close).  RES_NOT_FOUND when
 * there is no database, RES_BAD_INPUT for an unknown scheme, RES_VERSION
 * for a schema newer than CADB_VERSION (or not a CA database).  An older
 * schema is migrated first, all or nothing.
 */
int cadb_open(const char *location, struct cadb **pdb);
/* Closes @db (NULL is fine), rolling back a transaction left open. */
void cadb_close(struct cadb *db);
/* The backend's name ("sqlite"). */
const char *cadb_backend(const struct cadb *db);

/* Opens a write transaction (RES_FAIL if one is open); waits for other writers. */
int cadb_begin(struct cadb *db);
/* Commits; when that fails the transaction is rolled back (closed either way). */
int cadb_commit(struct cadb *db);
/* Rolls back the open transaction (none: nothing). */
void cadb_rollback(struct cadb *db);
/*
 * Inserts @r with its SANs, all or nothing: RES_TAKEN for a serial there
 * already, RES_BAD_INPUT for a record without serial, subject or status V/R.
 */
int cadb_insert(struct cadb *db, const struct cadb_row *r);
/* RES_NOT_FOUND for no such serial; @r is the caller's on RES_OK (cadb_row_free), else empty. */
int cadb_get(struct cadb *db, const char *serial, struct cadb_row *r);
/*
 * Revokes in a transaction of its own when none is open (begin..commit).
 * RES_NOT_FOUND, RES_ALREADY (revoked before: nothing changed).  A reason
 * of -1 stores none; @invalidity 0 none.
 */
int cadb_revoke(struct cadb *db, const char *serial, int64_t when, int reason, int64_t invalidity);
int cadb_foreach(struct cadb *db, enum cadb_status status, int64_t now, int with_der,
                 cadb_row_cb cb, void *arg);
int cadb_foreach_revoked(struct cadb *db, cadb_row_cb cb, void *arg);
/*
 * Calls @cb for each record whose subject is @subject exactly (as stored:
 * "/C=../CN=.."), whatever its status, with its DER; walked as cadb_foreach.
 */
int cadb_foreach_subject(struct cadb *db, const char *subject, cadb_row_cb cb, void *arg);
/*
 * The CRL number plus one, stored and put in *out (1, 2, 3.. on a new
 * database); in the caller's transaction, so that it is spent only when
 * the caller commits, else in one of its own.
 */
int cadb_next_crl_number(struct cadb *db, int64_t *out);
/* Stores @value (>= 0) as the CRL number (the next is @value + 1); transactions as above. */
int cadb_set_crl_number(struct cadb *db, int64_t value);
int cadb_schema_version(struct cadb *db, int *out);
/*
 * A number that differs from the last one this connection saw when any
 * other connection committed a change meanwhile (a revocation, a new
 * certificate): compare, then re-read.  Not a count; only compared.
 */
int cadb_data_version(struct cadb *db, int64_t *out);
/* Whether a write transaction is open on @db (cadb_begin without commit/rollback). */
int cadb_in_transaction(const struct cadb *db);

#endif

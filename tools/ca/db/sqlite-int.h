/*
 * sqlite-int.h - what the SQLite backend's files share (sqlite.c: the
 * connection and the operations; sqlite-schema.c: the schema, creating it
 * and migrating older versions).  Backend-internal: nothing above db.h
 * includes it, except the backend's own test (tests/test-ca-db.c), which
 * checks the query plan of the revoked walk.
 */
#ifndef P11CA_CADB_SQLITE_INT_H
#define P11CA_CADB_SQLITE_INT_H

#include <sqlite3.h>

/* How long a writer waits for another connection's transaction. */
#define CADB_SQ_BUSY_TIMEOUT_MS 120000

/*
 * The revoked walk: answered from the partial covering index certs_revoked
 * alone, in serial order (INDEXED BY makes a missing index an error rather
 * than a table scan).
 */
extern const char cadb_sq_revoked_sql[];
/* the lookup by subject (its query plan is checked by the tests) */
extern const char cadb_sq_subject_sql[];

/*
 * Runs @sql (one or more statements); RES_OK, or RES_DB / RES_NOMEM with
 * "database: WHAT: sqlite's message" set.
 */
int cadb_sq_exec(sqlite3 *db, const char *sql, const char *what);
/* Sets RES_DB (RES_NOMEM when SQLite ran out) with "database: WHAT: errmsg"; returns the code. */
int cadb_sq_fail(sqlite3 *db, const char *what);
/* PRAGMA user_version into *pversion. */
int cadb_sq_user_version(sqlite3 *db, int *pversion);

/* Makes the version-CADB_VERSION schema in the empty database @db (its own transaction). */
int cadb_sq_create_schema(sqlite3 *db);
/*
 * Brings the database @db, whose user_version was @version, to CADB_VERSION
 * in one BEGIN IMMEDIATE .. COMMIT; on failure nothing is changed.
 * RES_VERSION for a version it does not know (newer, or 0: not a CA database).
 */
int cadb_sq_upgrade(sqlite3 *db, const char *path, int version);

#endif

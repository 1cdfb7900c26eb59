/*
 * ca-db.c - the CA's database: SQLite in WAL mode, one row per issued
 * certificate, written in transactions.  Lookups go through the serial's
 * index and the revoked entries through a partial covering index, so
 * neither issuing nor a CRL reads the whole table.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "ca.h"

/* How long a writer waits for another process's transaction. */
#define BUSY_TIMEOUT_MS 120000

static const char schema[] =
	"CREATE TABLE certs("
	" serial TEXT PRIMARY KEY,"
	" subject TEXT NOT NULL,"
	" sans TEXT,"
	" not_before INTEGER NOT NULL,"
	" not_after INTEGER NOT NULL,"
	" status TEXT NOT NULL CHECK (status IN ('V','R')),"
	" revoked_at INTEGER,"
	" reason INTEGER,"
	" invalidity INTEGER,"
	" profile TEXT,"
	" issued_at INTEGER NOT NULL,"
	" der BLOB);"
	"CREATE INDEX certs_revoked ON certs(serial, revoked_at, reason, invalidity)"
	" WHERE status = 'R';"
	"CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT);"
	"INSERT INTO meta VALUES ('crl_number', '0');";

/* The insert statement, prepared once per connection (inserts come from one thread). */
static sqlite3 *insert_db;
static sqlite3_stmt *insert_st;

static int db_fail(sqlite3 *db, const char *what)
{
	tool_errorf("database: %s: %s", what, db != NULL ? sqlite3_errmsg(db) : "out of memory");
	return TOOL_EXIT_FAIL;
}

static int exec(sqlite3 *db, const char *sql, const char *what)
{
	char *err = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
		tool_errorf("database: %s: %s", what, err != NULL ? err : sqlite3_errmsg(db));
		sqlite3_free(err);
		return TOOL_EXIT_FAIL;
	}
	return TOOL_EXIT_OK;
}

static int configure(sqlite3 *db)
{
	sqlite3_busy_timeout(db, BUSY_TIMEOUT_MS);
	/* FULL: a committed issuance survives a power cut, not only a crash */
	return exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;",
	            "setting WAL mode");
}

int ca_db_create(const char *path)
{
	sqlite3 *db = NULL;
	char sql[sizeof(schema) + 64];
	int ret = TOOL_EXIT_FAIL;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_EXCLUSIVE,
	                    NULL) != SQLITE_OK) {
		db_fail(db, path);
		goto out;
	}
	if (configure(db) != TOOL_EXIT_OK)
		goto out;
	snprintf(sql, sizeof(sql), "BEGIN; %s PRAGMA user_version=%d; COMMIT;", schema, CA_DB_VERSION);
	ret = exec(db, sql, "creating the schema");
out:
	sqlite3_close(db);
	return ret;
}

int ca_db_open(const char *path, sqlite3 **pdb)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int version = -1;

	*pdb = NULL;
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
		tool_errorf("database %s: %s", path, db != NULL ? sqlite3_errmsg(db) : "out of memory");
		goto fail;
	}
	if (configure(db) != TOOL_EXIT_OK)
		goto fail;
	if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_ROW) {
		db_fail(db, "reading the schema version");
		goto fail;
	}
	version = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	st = NULL;
	if (version != CA_DB_VERSION) {
		tool_errorf("database %s: schema version %d; this p11ca reads version %d", path, version,
		            CA_DB_VERSION);
		goto fail;
	}
	*pdb = db;
	return TOOL_EXIT_OK;
fail:
	sqlite3_finalize(st);
	sqlite3_close(db);
	return TOOL_EXIT_FAIL;
}

void ca_db_close(sqlite3 *db)
{
	if (db != NULL && insert_db == db) {
		sqlite3_finalize(insert_st);
		insert_st = NULL;
		insert_db = NULL;
	}
	sqlite3_close(db);
}

int ca_db_begin(sqlite3 *db)
{
	return exec(db, "BEGIN IMMEDIATE", "starting a transaction");
}

int ca_db_commit(sqlite3 *db)
{
	return exec(db, "COMMIT", "committing");
}

void ca_db_rollback(sqlite3 *db)
{
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
}

static void bind_time(sqlite3_stmt *st, int i, int64_t t)
{
	if (t != 0)
		sqlite3_bind_int64(st, i, t);
	else
		sqlite3_bind_null(st, i);
}

int ca_db_insert(sqlite3 *db, const struct ca_row *r)
{
	sqlite3_stmt *st;
	int rc, ret = -1;

	if (insert_db != db) {
		sqlite3_finalize(insert_st);
		insert_st = NULL;
		insert_db = NULL;
		if (sqlite3_prepare_v3(db,
		                       "INSERT INTO certs(serial, subject, sans, not_before, not_after,"
		                       " status, revoked_at, reason, invalidity, profile, issued_at, der)"
		                       " VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
		                       -1, SQLITE_PREPARE_PERSISTENT, &insert_st, NULL) != SQLITE_OK) {
			db_fail(db, "preparing an insert");
			return -1;
		}
		insert_db = db;
	}
	st = insert_st;
	sqlite3_bind_text(st, 1, r->serial, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, r->subject, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, r->sans, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, r->not_before);
	sqlite3_bind_int64(st, 5, r->not_after);
	sqlite3_bind_text(st, 6, r->status == 'R' ? "R" : "V", 1, SQLITE_STATIC);
	bind_time(st, 7, r->revoked_at);
	if (r->reason >= 0)
		sqlite3_bind_int(st, 8, r->reason);
	bind_time(st, 9, r->invalidity);
	sqlite3_bind_text(st, 10, r->profile, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 11, r->issued_at);
	if (r->der != NULL)
		sqlite3_bind_blob(st, 12, r->der, (int)r->der_len, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE)
		ret = 0;
	else if (rc == SQLITE_CONSTRAINT && sqlite3_extended_errcode(db) == SQLITE_CONSTRAINT_PRIMARYKEY)
		ret = 1;
	else
		db_fail(db, "inserting a certificate");
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return ret;
}

static char *dup_col(sqlite3_stmt *st, int i)
{
	const unsigned char *s = sqlite3_column_text(st, i);

	return s != NULL ? strdup((const char *)s) : NULL;
}

static int64_t col_time(sqlite3_stmt *st, int i)
{
	return sqlite3_column_type(st, i) == SQLITE_NULL ? 0 : sqlite3_column_int64(st, i);
}

/* Columns in the order of ROW_COLUMNS into @r (strings copied). */
#define ROW_COLUMNS                                                                            \
	"serial, subject, sans, not_before, not_after, status, revoked_at, reason, invalidity, " \
	"profile, issued_at"
static int row_read(sqlite3_stmt *st, struct ca_row *r, int with_der)
{
	const unsigned char *s = sqlite3_column_text(st, 0);
	const void *der;

	memset(r, 0, sizeof(*r));
	snprintf(r->serial, sizeof(r->serial), "%s", s != NULL ? (const char *)s : "");
	r->subject = dup_col(st, 1);
	r->sans = dup_col(st, 2);
	r->not_before = sqlite3_column_int64(st, 3);
	r->not_after = sqlite3_column_int64(st, 4);
	s = sqlite3_column_text(st, 5);
	r->status = s != NULL ? (char)s[0] : 'V';
	r->revoked_at = col_time(st, 6);
	r->reason = sqlite3_column_type(st, 7) == SQLITE_NULL ? -1 : sqlite3_column_int(st, 7);
	r->invalidity = col_time(st, 8);
	r->profile = dup_col(st, 9);
	r->issued_at = sqlite3_column_int64(st, 10);
	if (with_der && (der = sqlite3_column_blob(st, 11)) != NULL) {
		r->der_len = (size_t)sqlite3_column_bytes(st, 11);
		if ((r->der = malloc(r->der_len)) == NULL)
			return 0;
		memcpy(r->der, der, r->der_len);
	}
	return r->subject != NULL;
}

void ca_row_free(struct ca_row *r)
{
	free(r->subject);
	free(r->sans);
	free(r->profile);
	free(r->der);
	memset(r, 0, sizeof(*r));
}

int ca_db_get(sqlite3 *db, const char *serial, struct ca_row *r)
{
	sqlite3_stmt *st = NULL;
	int rc, ret = -1;

	if (sqlite3_prepare_v2(db, "SELECT " ROW_COLUMNS ", der FROM certs WHERE serial = ?", -1, &st,
	                       NULL) != SQLITE_OK) {
		db_fail(db, "preparing a lookup");
		goto out;
	}
	sqlite3_bind_text(st, 1, serial, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE)
		ret = 1;
	else if (rc != SQLITE_ROW)
		db_fail(db, "looking up a serial");
	else if (!row_read(st, r, 1)) {
		ca_row_free(r);
		tool_errorf("out of memory");
	} else
		ret = 0;
out:
	sqlite3_finalize(st);
	return ret;
}

int ca_db_revoke(sqlite3 *db, const char *serial, int64_t when, int reason, int64_t invalidity)
{
	sqlite3_stmt *st = NULL;
	int rc, ret = -1;

	if (ca_db_begin(db) != TOOL_EXIT_OK)
		return -1;
	if (sqlite3_prepare_v2(db, "SELECT status FROM certs WHERE serial = ?", -1, &st, NULL) !=
	    SQLITE_OK) {
		db_fail(db, "preparing a lookup");
		goto out;
	}
	sqlite3_bind_text(st, 1, serial, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		ret = 1;
		goto out;
	}
	if (rc != SQLITE_ROW) {
		db_fail(db, "looking up a serial");
		goto out;
	}
	if (sqlite3_column_text(st, 0) != NULL && sqlite3_column_text(st, 0)[0] == 'R') {
		ret = 2;
		goto out;
	}
	sqlite3_finalize(st);
	st = NULL;
	if (sqlite3_prepare_v2(db,
	                       "UPDATE certs SET status = 'R', revoked_at = ?, reason = ?, invalidity = ?"
	                       " WHERE serial = ?",
	                       -1, &st, NULL) != SQLITE_OK) {
		db_fail(db, "preparing an update");
		goto out;
	}
	sqlite3_bind_int64(st, 1, when);
	sqlite3_bind_int(st, 2, reason);
	bind_time(st, 3, invalidity);
	sqlite3_bind_text(st, 4, serial, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE) {
		db_fail(db, "revoking");
		goto out;
	}
	sqlite3_finalize(st);
	st = NULL;
	if (ca_db_commit(db) != TOOL_EXIT_OK)
		goto out;
	return 0;
out:
	sqlite3_finalize(st);
	ca_db_rollback(db);
	return ret;
}

int ca_db_foreach(sqlite3 *db, char status, int64_t now, int with_der, ca_row_cb cb, void *arg)
{
	sqlite3_stmt *st = NULL;
	const char *where;
	char sql[256];
	struct ca_row r;
	int rc, ret = TOOL_EXIT_FAIL;

	switch (status) {
	case 'V': where = " WHERE status = 'V' AND not_after >= ?1"; break;
	case 'E': where = " WHERE status = 'V' AND not_after < ?1"; break;
	case 'R': where = " WHERE status = 'R'"; break;
	default: where = ""; break;
	}
	snprintf(sql, sizeof(sql), "SELECT " ROW_COLUMNS "%s FROM certs%s ORDER BY serial",
	         with_der ? ", der" : "", where);
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		db_fail(db, "preparing a listing");
		goto out;
	}
	if (status == 'V' || status == 'E')
		sqlite3_bind_int64(st, 1, now);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (!row_read(st, &r, with_der)) {
			ca_row_free(&r);
			tool_errorf("out of memory");
			goto out;
		}
		rc = cb(&r, arg);
		ca_row_free(&r);
		if (rc != 0) {
			ret = rc;
			goto out;
		}
	}
	if (rc != SQLITE_DONE) {
		db_fail(db, "listing");
		goto out;
	}
	ret = TOOL_EXIT_OK;
out:
	sqlite3_finalize(st);
	return ret;
}

int ca_db_foreach_revoked(sqlite3 *db, ca_row_cb cb, void *arg)
{
	sqlite3_stmt *st = NULL;
	struct ca_row r;
	const unsigned char *s;
	int rc, ret = TOOL_EXIT_FAIL;

	/* answered from the partial index alone */
	if (sqlite3_prepare_v2(db,
	                       "SELECT serial, revoked_at, reason, invalidity FROM certs"
	                       " INDEXED BY certs_revoked WHERE status = 'R'",
	                       -1, &st, NULL) != SQLITE_OK) {
		db_fail(db, "preparing the revoked list");
		goto out;
	}
	memset(&r, 0, sizeof(r));
	r.status = 'R';
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		s = sqlite3_column_text(st, 0);
		snprintf(r.serial, sizeof(r.serial), "%s", s != NULL ? (const char *)s : "");
		r.revoked_at = sqlite3_column_int64(st, 1);
		r.reason = sqlite3_column_type(st, 2) == SQLITE_NULL ? -1 : sqlite3_column_int(st, 2);
		r.invalidity = col_time(st, 3);
		if ((rc = cb(&r, arg)) != 0) {
			ret = rc;
			goto out;
		}
	}
	if (rc != SQLITE_DONE) {
		db_fail(db, "reading the revoked certificates");
		goto out;
	}
	ret = TOOL_EXIT_OK;
out:
	sqlite3_finalize(st);
	return ret;
}

int ca_db_next_crl_number(sqlite3 *db, int64_t *out)
{
	sqlite3_stmt *st = NULL;
	int64_t n;

	if (ca_db_begin(db) != TOOL_EXIT_OK)
		return TOOL_EXIT_FAIL;
	if (sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = 'crl_number'", -1, &st, NULL) !=
	            SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_ROW) {
		db_fail(db, "reading the CRL number");
		goto fail;
	}
	n = sqlite3_column_int64(st, 0) + 1;
	sqlite3_finalize(st);
	st = NULL;
	if (sqlite3_prepare_v2(db, "UPDATE meta SET value = ? WHERE key = 'crl_number'", -1, &st,
	                       NULL) != SQLITE_OK) {
		db_fail(db, "preparing an update");
		goto fail;
	}
	sqlite3_bind_int64(st, 1, n);
	if (sqlite3_step(st) != SQLITE_DONE) {
		db_fail(db, "updating the CRL number");
		goto fail;
	}
	sqlite3_finalize(st);
	if (ca_db_commit(db) != TOOL_EXIT_OK) {
		ca_db_rollback(db);
		return TOOL_EXIT_FAIL;
	}
	*out = n;
	return TOOL_EXIT_OK;
fail:
	sqlite3_finalize(st);
	ca_db_rollback(db);
	return TOOL_EXIT_FAIL;
}


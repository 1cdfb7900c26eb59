/*
 * sqlite.c - the CA database in SQLite (cadb_sqlite_ops): WAL, synchronous
 * FULL, writers serialised by BEGIN IMMEDIATE and a busy timeout.  One row
 * of certs per certificate, its SANs in cert_sans (sqlite-schema.c).
 * Lookups go through the serial's index and the revoked walk through a
 * partial covering index, so neither issuing nor a CRL reads the table.
 *
 * Each connection keeps its prepared statements (prepared once, reset after
 * use, finalized on close); nothing is global.  Never prints.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "result.h"
#include "db.h"
#include "sqlite-int.h"

#define ROW_COLUMNS                                                                                \
	"serial, subject, not_before, not_after, status, revoked_at, reason, invalidity,"          \
	" profile, issued_at"
/* foreach's statements: the columns, then the selection, in serial order */
#define LIST(der, where) "SELECT " ROW_COLUMNS der " FROM certs" where " ORDER BY serial"
#define WHERE_V          " WHERE status = 'V' AND not_after >= ?1"
#define WHERE_E          " WHERE status = 'V' AND not_after < ?1"
#define WHERE_R          " WHERE status = 'R'"

const char cadb_sq_revoked_sql[] = "SELECT serial, revoked_at, reason, invalidity FROM certs"
                                   " INDEXED BY certs_revoked WHERE status = 'R' ORDER BY serial";
const char cadb_sq_subject_sql[] =
    "SELECT " ROW_COLUMNS ", der FROM certs INDEXED BY certs_subject WHERE subject = ?"
    " ORDER BY serial";

enum stmt_id {
	ST_BEGIN,
	ST_COMMIT,
	ST_ROLLBACK,
	ST_UNDO_SANS,
	ST_UNDO_CERT,
	ST_INSERT,
	ST_INSERT_SAN,
	ST_GET,
	ST_SANS,
	ST_REVOKE,
	ST_STATUS,
	ST_CRL_GET,
	ST_CRL_SET,
	ST_VERSION,
	ST_REVOKED,
	ST_SUBJECT,
	ST_LIST_ALL, /* then V, E, R; then the four with the DER */
	ST_COUNT = ST_LIST_ALL + 8
};

static const char *const stmt_sql[ST_COUNT] = {
	[ST_BEGIN] = "BEGIN IMMEDIATE",
	[ST_COMMIT] = "COMMIT",
	[ST_ROLLBACK] = "ROLLBACK",
	[ST_UNDO_SANS] = "DELETE FROM cert_sans WHERE serial = ?",
	[ST_UNDO_CERT] = "DELETE FROM certs WHERE serial = ?",
	[ST_INSERT] = "INSERT INTO certs(" ROW_COLUMNS ", der) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
	[ST_INSERT_SAN] = "INSERT INTO cert_sans(serial, pos, type, value) VALUES (?,?,?,?)",
	[ST_GET] = "SELECT " ROW_COLUMNS ", der FROM certs WHERE serial = ?",
	[ST_SANS] = "SELECT type, value FROM cert_sans WHERE serial = ? ORDER BY pos",
	[ST_REVOKE] = "UPDATE certs SET status = 'R', revoked_at = ?2, reason = ?3,"
	              " invalidity = ?4 WHERE serial = ?1 AND status = 'V'",
	[ST_STATUS] = "SELECT status FROM certs WHERE serial = ?",
	[ST_CRL_GET] = "SELECT value FROM meta WHERE key = 'crl_number'",
	/* raised, never lowered: CRL numbers only go up */
	[ST_CRL_SET] =
	    "INSERT INTO meta(key, value) VALUES ('crl_number', ?1) ON CONFLICT(key) DO "
	    "UPDATE SET value = max(CAST(value AS INTEGER), CAST(excluded.value AS INTEGER))",
	[ST_VERSION] = "PRAGMA user_version",
	[ST_REVOKED] = cadb_sq_revoked_sql,
	[ST_SUBJECT] = cadb_sq_subject_sql,
	[ST_LIST_ALL + 0] = LIST("", ""),
	[ST_LIST_ALL + 1] = LIST("", WHERE_V),
	[ST_LIST_ALL + 2] = LIST("", WHERE_E),
	[ST_LIST_ALL + 3] = LIST("", WHERE_R),
	[ST_LIST_ALL + 4] = LIST(", der", ""),
	[ST_LIST_ALL + 5] = LIST(", der", WHERE_V),
	[ST_LIST_ALL + 6] = LIST(", der", WHERE_E),
	[ST_LIST_ALL + 7] = LIST(", der", WHERE_R),
};

/* A connection: the state behind struct cadb. */
struct sq {
	sqlite3 *db;
	sqlite3_stmt *st[ST_COUNT]; /* prepared on first use */
};

int cadb_sq_fail(sqlite3 *db, const char *what)
{
	if (db == NULL)
		return res_set(RES_NOMEM, "database: %s: out of memory", what);
	return res_set(sqlite3_errcode(db) == SQLITE_NOMEM ? RES_NOMEM : RES_DB, "database: %s: %s",
	               what, sqlite3_errmsg(db));
}

int cadb_sq_exec(sqlite3 *db, const char *sql, const char *what)
{
	char *err = NULL;
	int rc, ret;

	if ((rc = sqlite3_exec(db, sql, NULL, NULL, &err)) == SQLITE_OK)
		return RES_OK;
	ret = res_set(rc == SQLITE_NOMEM ? RES_NOMEM : RES_DB, "database: %s: %s", what,
	              err != NULL ? err : sqlite3_errmsg(db));
	sqlite3_free(err);
	return ret;
}

int cadb_sq_user_version(sqlite3 *db, int *pversion)
{
	sqlite3_stmt *st = NULL;
	int ret = RES_OK;

	if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_ROW)
		ret = cadb_sq_fail(db, "reading the schema version");
	else
		*pversion = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return ret;
}

/*
 * The statement @id, ready to bind.  The connection's own copy unless that
 * one is running (a walk's callback using the connection again): then a
 * copy of its own, which stmt_put() finalizes.
 */
static int stmt_get(struct sq *s, enum stmt_id id, sqlite3_stmt **pst)
{
	sqlite3_stmt *st = s->st[id];

	if (st != NULL && !sqlite3_stmt_busy(st)) {
		*pst = st;
		return RES_OK;
	}
	if (sqlite3_prepare_v3(s->db, stmt_sql[id], -1, st == NULL ? SQLITE_PREPARE_PERSISTENT : 0,
	                       pst, NULL) != SQLITE_OK)
		return cadb_sq_fail(s->db, "preparing a statement");
	if (st == NULL)
		s->st[id] = *pst;
	return RES_OK;
}

static void stmt_put(struct sq *s, enum stmt_id id, sqlite3_stmt *st)
{
	if (st == NULL)
		return;
	if (st != s->st[id]) {
		sqlite3_finalize(st);
		return;
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
}

/* Runs the statement @id without parameters or rows. */
static int stmt_run(struct sq *s, enum stmt_id id, const char *what)
{
	sqlite3_stmt *st = NULL;
	int ret;

	if ((ret = stmt_get(s, id, &st)) != RES_OK)
		return ret;
	if (sqlite3_step(st) != SQLITE_DONE)
		ret = cadb_sq_fail(s->db, what);
	stmt_put(s, id, st);
	return ret;
}

/*
 * The same on a failure path: the message stays the first failure's (what
 * went wrong, not that undoing it went wrong too).
 */
static int stmt_undo(struct sq *s, enum stmt_id id)
{
	sqlite3_stmt *st = s->st[id];
	int rc;

	if (st == NULL || sqlite3_stmt_busy(st)) {
		if (sqlite3_prepare_v3(s->db, stmt_sql[id], -1, 0, &st, NULL) != SQLITE_OK)
			return RES_DB;
	}
	rc = sqlite3_step(st);
	stmt_put(s, id, st);
	return rc == SQLITE_DONE ? RES_OK : RES_DB;
}

/* "sqlite:PATH" or PATH into PATH */
static const char *sq_path(const char *location)
{
	if (strncmp(location, "sqlite:", 7) == 0)
		return location + 7;
	return location;
}

/*
 * Busy timeout, WAL, FULL (a committed issuance survives a power cut, not
 * only a crash).  Foreign keys are not enforced on the connection: a SAN row
 * is only ever written by sq_insert(), right after its certificate's row and
 * in the same savepoint, and rows are never deleted; enforcing them costs a
 * lookup of the certificate per SAN, measured at 8% of issuing a batch of
 * 300 (bench/ca-bench.sh).  The tests check PRAGMA foreign_key_check.
 */
static int configure(sqlite3 *db)
{
	sqlite3_busy_timeout(db, CADB_SQ_BUSY_TIMEOUT_MS);
	return cadb_sq_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;",
	                    "setting WAL mode");
}

static int sq_create(const char *location)
{
	const char *path = sq_path(location);
	sqlite3 *db = NULL;
	int fd, ret;

	if (*path == '\0')
		return res_set(RES_BAD_INPUT, "database: no path in \"%s\"", location);
	/* O_EXCL: two creators cannot both succeed; SQLite takes the empty file as new */
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0) {
		if (errno == EEXIST)
			return res_set(RES_EXISTS, "database %s: exists already", path);
		return res_set(RES_IO, "database %s: %s", path, strerror(errno));
	}
	close(fd);
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
		ret = res_prefix(cadb_sq_fail(db, "opening"), "database %s", path);
		goto out;
	}
	if ((ret = configure(db)) != RES_OK || (ret = cadb_sq_create_schema(db)) != RES_OK)
		res_prefix(ret, "database %s", path);
out:
	sqlite3_close(db);
	if (ret != RES_OK)
		unlink(path);
	return ret;
}

static void sq_close(void *state)
{
	struct sq *s = state;
	size_t i;

	if (s == NULL)
		return;
	for (i = 0; i < ST_COUNT; i++)
		sqlite3_finalize(s->st[i]);
	sqlite3_close(s->db);
	free(s);
}

static int sq_open(const char *location, void **pstate)
{
	const char *path = sq_path(location);
	struct sq *s = NULL;
	struct stat sb;
	int version = 0, ret;

	*pstate = NULL;
	if (*path == '\0')
		return res_set(RES_BAD_INPUT, "database: no path in \"%s\"", location);
	/* without SQLITE_OPEN_CREATE a missing file fails too; this says why */
	if (stat(path, &sb) != 0)
		return res_set(errno == ENOENT ? RES_NOT_FOUND : RES_IO, "database %s: %s", path,
		               strerror(errno));
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return res_set(RES_NOMEM, "out of memory");
	if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
		ret = res_prefix(cadb_sq_fail(s->db, "opening"), "database %s", path);
		goto out;
	}
	if ((ret = configure(s->db)) != RES_OK ||
	    (ret = cadb_sq_user_version(s->db, &version)) != RES_OK) {
		res_prefix(ret, "database %s", path);
		goto out;
	}
	if ((ret = cadb_sq_upgrade(s->db, path, version)) != RES_OK)
		goto out;
	*pstate = s;
	s = NULL; /* transferred */
out:
	sq_close(s);
	return ret;
}

static int sq_begin(void *state)
{
	return stmt_run(state, ST_BEGIN, "starting a transaction");
}

static int sq_commit(void *state)
{
	return stmt_run(state, ST_COMMIT, "committing");
}

static void sq_rollback(void *state)
{
	struct sq *s = state;

	/* an error may have ended the transaction already */
	if (!sqlite3_get_autocommit(s->db))
		stmt_undo(s, ST_ROLLBACK);
}

static void bind_time(sqlite3_stmt *st, int i, int64_t t)
{
	if (t != 0)
		sqlite3_bind_int64(st, i, t);
	else
		sqlite3_bind_null(st, i);
}

static int insert_sans(struct sq *s, const struct cadb_row *r)
{
	sqlite3_stmt *st = NULL;
	const char *type, *value;
	size_t i;
	int ret;

	if ((ret = stmt_get(s, ST_INSERT_SAN, &st)) != RES_OK)
		return ret;
	for (i = 0; i < r->nsans && ret == RES_OK; i++) {
		type = cadb_san_split(r->sans[i], &value);
		sqlite3_bind_text(st, 1, r->serial, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, (sqlite3_int64)i);
		sqlite3_bind_text(st, 3, type, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 4, value, -1, SQLITE_STATIC);
		if (sqlite3_step(st) != SQLITE_DONE)
			ret = cadb_sq_fail(s->db, "inserting a SAN");
		sqlite3_reset(st);
	}
	stmt_put(s, ST_INSERT_SAN, st);
	return ret;
}

static int insert_cert(struct sq *s, const struct cadb_row *r)
{
	sqlite3_stmt *st = NULL;
	int rc, ret;

	if ((ret = stmt_get(s, ST_INSERT, &st)) != RES_OK)
		return ret;
	sqlite3_bind_text(st, 1, r->serial, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, r->subject, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, r->not_before);
	sqlite3_bind_int64(st, 4, r->not_after);
	sqlite3_bind_text(st, 5, r->status == 'R' ? "R" : "V", 1, SQLITE_STATIC);
	bind_time(st, 6, r->revoked_at);
	if (r->reason >= 0)
		sqlite3_bind_int(st, 7, r->reason);
	bind_time(st, 8, r->invalidity);
	if (r->profile != NULL)
		sqlite3_bind_text(st, 9, r->profile, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 10, r->issued_at);
	if (r->der != NULL)
		sqlite3_bind_blob64(st, 11, r->der, r->der_len, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_CONSTRAINT &&
	    sqlite3_extended_errcode(s->db) == SQLITE_CONSTRAINT_PRIMARYKEY)
		ret = res_set(RES_TAKEN, "database: serial %s is taken", r->serial);
	else if (rc != SQLITE_DONE)
		ret = cadb_sq_fail(s->db, "inserting a certificate");
	stmt_put(s, ST_INSERT, st);
	return ret;
}

/*
 * The row and its SANs, all or nothing.  Not a savepoint: inside a
 * transaction SQLite copies every page a savepoint touches into a statement
 * journal, which made an insert cost ten times a plain one (40 M of the
 * 720 M instructions of issuing 300 certificates, callgrind,
 * bench/ca-bench.sh).  A failed INSERT of one row writes nothing by itself;
 * when a SAN fails after the certificate went in, the rows of that serial
 * are deleted again (and should that fail too, the caller's rollback of the
 * whole transaction, which any failure but RES_TAKEN leads to, removes them).
 */
static int sq_insert(void *state, const struct cadb_row *r)
{
	struct sq *s = state;
	sqlite3_stmt *st = NULL;
	char first[512];
	int ret, i;

	if ((ret = insert_cert(s, r)) != RES_OK)
		return ret;
	if ((ret = insert_sans(s, r)) == RES_OK)
		return RES_OK;
	snprintf(first, sizeof(first), "%s", res_message()); /* what went wrong stays the message */
	for (i = ST_UNDO_SANS; i <= ST_UNDO_CERT; i++) {
		if (stmt_get(s, i, &st) != RES_OK)
			break;
		sqlite3_bind_text(st, 1, r->serial, -1, SQLITE_STATIC);
		(void)sqlite3_step(st);
		stmt_put(s, i, st);
	}
	return res_set(ret, "%s", first);
}

static char *dup_col(sqlite3_stmt *st, int i)
{
	const unsigned char *v = sqlite3_column_text(st, i);

	return v != NULL ? strdup((const char *)v) : NULL;
}

static int64_t col_time(sqlite3_stmt *st, int i)
{
	return sqlite3_column_type(st, i) == SQLITE_NULL ? 0 : sqlite3_column_int64(st, i);
}

/* The SANs of r->serial, in order. */
static int read_sans(struct sq *s, struct cadb_row *r)
{
	sqlite3_stmt *st = NULL;
	int rc, ret;

	if ((ret = stmt_get(s, ST_SANS, &st)) != RES_OK)
		return ret;
	sqlite3_bind_text(st, 1, r->serial, -1, SQLITE_STATIC);
	while (ret == RES_OK && (rc = sqlite3_step(st)) == SQLITE_ROW)
		ret = cadb_row_add_san_typed(r, (const char *)sqlite3_column_text(st, 0),
		                             (const char *)sqlite3_column_text(st, 1));
	if (ret == RES_OK && rc != SQLITE_DONE)
		ret = cadb_sq_fail(s->db, "reading the SANs");
	stmt_put(s, ST_SANS, st);
	return ret;
}

/* The ROW_COLUMNS (then the DER, when @with_der) of @st's row, and its SANs, into @r. */
static int read_row(struct sq *s, sqlite3_stmt *st, int with_der, struct cadb_row *r)
{
	const unsigned char *v = sqlite3_column_text(st, 0);
	const void *der;

	memset(r, 0, sizeof(*r));
	snprintf(r->serial, sizeof(r->serial), "%s", v != NULL ? (const char *)v : "");
	r->subject = dup_col(st, 1);
	r->not_before = sqlite3_column_int64(st, 2);
	r->not_after = sqlite3_column_int64(st, 3);
	v = sqlite3_column_text(st, 4);
	r->status = v != NULL ? (char)v[0] : 'V';
	r->revoked_at = col_time(st, 5);
	r->reason = sqlite3_column_type(st, 6) == SQLITE_NULL ? -1 : sqlite3_column_int(st, 6);
	r->invalidity = col_time(st, 7);
	r->profile = dup_col(st, 8);
	r->issued_at = sqlite3_column_int64(st, 9);
	if (r->subject == NULL || (sqlite3_column_type(st, 8) != SQLITE_NULL && r->profile == NULL))
		return res_set(RES_NOMEM, "out of memory");
	if (with_der && (der = sqlite3_column_blob(st, 10)) != NULL) {
		r->der_len = (size_t)sqlite3_column_bytes(st, 10);
		if ((r->der = malloc(r->der_len)) == NULL)
			return res_set(RES_NOMEM, "out of memory");
		memcpy(r->der, der, r->der_len);
	}
	return read_sans(s, r);
}

/* Steps @st to its end, each row (with its DER when @with_der) to @cb; @what names a failure. */
static int each_row(struct sq *s, sqlite3_stmt *st, int with_der, cadb_row_cb cb, void *arg,
                    const char *what)
{
	struct cadb_row r;
	int rc, ret;

	memset(&r, 0, sizeof(r));
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		ret = read_row(s, st, with_der, &r);
		if (ret == RES_OK)
			ret = cb(&r, arg);
		cadb_row_free(&r);
		if (ret != RES_OK)
			return ret;
	}
	return rc == SQLITE_DONE ? RES_OK : cadb_sq_fail(s->db, what);
}

static int sq_get(void *state, const char *serial, struct cadb_row *r)
{
	struct sq *s = state;
	sqlite3_stmt *st = NULL;
	int rc, ret;

	memset(r, 0, sizeof(*r));
	if ((ret = stmt_get(s, ST_GET, &st)) != RES_OK)
		return ret;
	sqlite3_bind_text(st, 1, serial, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		ret = read_row(s, st, 1, r);
	else if (rc == SQLITE_DONE)
		ret = res_set(RES_NOT_FOUND, "database: no certificate with serial %s", serial);
	else
		ret = cadb_sq_fail(s->db, "looking up a serial");
	stmt_put(s, ST_GET, st);
	if (ret != RES_OK)
		cadb_row_free(r);
	return ret;
}

/* Revokes a valid row; when none changed, tells a missing serial from a revoked one. */
static int sq_revoke(void *state, const char *serial, int64_t when, int reason, int64_t invalidity)
{
	struct sq *s = state;
	sqlite3_stmt *st = NULL;
	int rc, ret;

	if ((ret = stmt_get(s, ST_REVOKE, &st)) != RES_OK)
		return ret;
	sqlite3_bind_text(st, 1, serial, -1, SQLITE_STATIC);
	bind_time(st, 2, when);
	if (reason >= 0)
		sqlite3_bind_int(st, 3, reason);
	bind_time(st, 4, invalidity);
	if (sqlite3_step(st) != SQLITE_DONE)
		ret = cadb_sq_fail(s->db, "revoking");
	else if (sqlite3_changes(s->db) == 0)
		ret = RES_NOT_FOUND;
	stmt_put(s, ST_REVOKE, st);
	if (ret != RES_NOT_FOUND)
		return ret;
	if ((ret = stmt_get(s, ST_STATUS, &st)) != RES_OK)
		return ret;
	sqlite3_bind_text(st, 1, serial, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE)
		ret = res_set(RES_NOT_FOUND, "database: no certificate with serial %s", serial);
	else if (rc == SQLITE_ROW)
		ret = res_set(RES_ALREADY, "database: %s is revoked already", serial);
	else
		ret = cadb_sq_fail(s->db, "looking up a serial");
	stmt_put(s, ST_STATUS, st);
	return ret;
}

static int sq_foreach(void *state, enum cadb_status status, int64_t now, int with_der,
                      cadb_row_cb cb, void *arg)
{
	struct sq *s = state;
	sqlite3_stmt *st = NULL;
	enum stmt_id id;
	int ret;

	switch (status) {
	case CADB_ALL: id = ST_LIST_ALL; break;
	case CADB_VALID: id = ST_LIST_ALL + 1; break;
	case CADB_EXPIRED: id = ST_LIST_ALL + 2; break;
	case CADB_REVOKED: id = ST_LIST_ALL + 3; break;
	default: return res_set(RES_BAD_INPUT, "database: no status '%c'", (char)status);
	}
	if (with_der)
		id += 4;
	if ((ret = stmt_get(s, id, &st)) != RES_OK)
		return ret;
	if (status == CADB_VALID || status == CADB_EXPIRED)
		sqlite3_bind_int64(st, 1, now);
	ret = each_row(s, st, with_der, cb, arg, "listing");
	stmt_put(s, id, st);
	return ret;
}

static int sq_foreach_revoked(void *state, cadb_row_cb cb, void *arg)
{
	struct sq *s = state;
	sqlite3_stmt *st = NULL;
	const unsigned char *v;
	struct cadb_row r;
	int rc, ret;

	if ((ret = stmt_get(s, ST_REVOKED, &st)) != RES_OK)
		return ret;
	memset(&r, 0, sizeof(r));
	r.status = 'R';
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		v = sqlite3_column_text(st, 0);
		snprintf(r.serial, sizeof(r.serial), "%s", v != NULL ? (const char *)v : "");
		r.revoked_at = col_time(st, 1);
		r.reason =
		    sqlite3_column_type(st, 2) == SQLITE_NULL ? -1 : sqlite3_column_int(st, 2);
		r.invalidity = col_time(st, 3);
		if ((ret = cb(&r, arg)) != 0)
			goto out;
	}
	if (rc != SQLITE_DONE)
		ret = cadb_sq_fail(s->db, "reading the revoked certificates");
out:
	stmt_put(s, ST_REVOKED, st);
	return ret;
}

static int sq_set_crl_number(void *state, int64_t value)
{
	struct sq *s = state;
	sqlite3_stmt *st = NULL;
	int ret;

	if ((ret = stmt_get(s, ST_CRL_SET, &st)) != RES_OK)
		return ret;
	sqlite3_bind_int64(st, 1, value);
	if (sqlite3_step(st) != SQLITE_DONE)
		ret = cadb_sq_fail(s->db, "updating the CRL number");
	stmt_put(s, ST_CRL_SET, st);
	return ret;
}

static int sq_next_crl_number(void *state, int64_t *out)
{
	struct sq *s = state;
	sqlite3_stmt *st = NULL;
	int64_t n = 0;
	int rc, ret;

	if ((ret = stmt_get(s, ST_CRL_GET, &st)) != RES_OK)
		return ret;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	else if (rc != SQLITE_DONE)
		ret = cadb_sq_fail(s->db, "reading the CRL number");
	stmt_put(s, ST_CRL_GET, st);
	if (ret != RES_OK)
		return ret;
	if (n == INT64_MAX)
		return res_set(RES_DB, "database: the CRL number is at its maximum");
	if ((ret = sq_set_crl_number(s, n + 1)) == RES_OK)
		*out = n + 1;
	return ret;
}

static int sq_schema_version(void *state, int *out)
{
	struct sq *s = state;
	sqlite3_stmt *st = NULL;
	int ret;

	if ((ret = stmt_get(s, ST_VERSION, &st)) != RES_OK)
		return ret;
	if (sqlite3_step(st) == SQLITE_ROW)
		*out = sqlite3_column_int(st, 0);
	else
		ret = cadb_sq_fail(s->db, "reading the schema version");
	stmt_put(s, ST_VERSION, st);
	return ret;
}

/* PRAGMA data_version: changes when another connection committed. */
static int sq_data_version(void *state, int64_t *out)
{
	struct sq *s = state;
	sqlite3_stmt *st = NULL;
	int ret = RES_OK;

	if (sqlite3_prepare_v2(s->db, "PRAGMA data_version", -1, &st, NULL) != SQLITE_OK)
		return cadb_sq_fail(s->db, "reading the data version");
	if (sqlite3_step(st) == SQLITE_ROW)
		*out = sqlite3_column_int64(st, 0);
	else
		ret = cadb_sq_fail(s->db, "reading the data version");
	sqlite3_finalize(st);
	return ret;
}

/* The records of one subject, through the index certs_subject. */
static int sq_foreach_subject(void *state, const char *subject, cadb_row_cb cb, void *arg)
{
	struct sq *s = state;
	sqlite3_stmt *st = NULL;
	int ret;

	if ((ret = stmt_get(s, ST_SUBJECT, &st)) != RES_OK)
		return ret;
	sqlite3_bind_text(st, 1, subject, -1, SQLITE_STATIC);
	ret = each_row(s, st, 1, cb, arg, "looking up a subject");
	stmt_put(s, ST_SUBJECT, st);
	return ret;
}

const struct cadb_ops cadb_sqlite_ops = {
	.scheme = "sqlite",
	.create = sq_create,
	.open = sq_open,
	.close = sq_close,
	.begin = sq_begin,
	.commit = sq_commit,
	.rollback = sq_rollback,
	.insert = sq_insert,
	.get = sq_get,
	.revoke = sq_revoke,
	.foreach = sq_foreach,
	.foreach_revoked = sq_foreach_revoked,
	.next_crl_number = sq_next_crl_number,
	.set_crl_number = sq_set_crl_number,
	.schema_version = sq_schema_version,
	.foreach_subject = sq_foreach_subject,
	.data_version = sq_data_version,
};

/*
 * test-ca-db.c - the CA database's SQLite backend: the battery every
 * backend passes (ca-db-battery.h), then what only SQLite has: the
 * migration of a version-1 database, a failed one, a file that is not a CA
 * database, the revoked walk's query plan.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include "ca-db-battery.h"
#include "sqlite-int.h"

/* the directory each test's databases live in */
static char tmpdir[512];

static int sq_location(const char *tag, char *buf, size_t cap)
{
	int n = snprintf(buf, cap, "sqlite:%s/%s.db", tmpdir, tag);

	return n > 0 && (size_t)n < cap ? 0 : -1;
}

static const char *sq_path_of(const char *location)
{
	return strncmp(location, "sqlite:", 7) == 0 ? location + 7 : location;
}

static void sq_drop(const char *location)
{
	static const char *const suffixes[] = { "", "-wal", "-shm", "-journal" };
	char path[1200];
	size_t i;

	for (i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		snprintf(path, sizeof(path), "%s%s", sq_path_of(location), suffixes[i]);
		unlink(path);
	}
}

/* Runs @sql on a raw connection to @location; 0 or -1. */
static int sq_raw_exec(const char *location, const char *sql)
{
	sqlite3 *db = NULL;
	char *err = NULL;
	int ret = -1;

	if (sqlite3_open_v2(sq_path_of(location), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
	                    NULL) != SQLITE_OK)
		goto out;
	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
		print_error("%s: %s\n", sql, err != NULL ? err : "?");
		goto out;
	}
	ret = 0;
out:
	sqlite3_free(err);
	sqlite3_close(db);
	return ret;
}

/* The first column of @sql's first row as text into @buf ("" for none); 0 or -1. */
static int sq_raw_query(const char *location, const char *sql, char *buf, size_t cap)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int rc, ret = -1;

	buf[0] = '\0';
	if (sqlite3_open_v2(sq_path_of(location), &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		print_error("%s: %s\n", sql, sqlite3_errmsg(db));
		goto out;
	}
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && sqlite3_column_text(st, 0) != NULL)
		snprintf(buf, cap, "%s", (const char *)sqlite3_column_text(st, 0));
	ret = rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
out:
	sqlite3_finalize(st);
	sqlite3_close(db);
	return ret;
}

static int sq_set_version(const char *location, int version)
{
	char sql[64];

	snprintf(sql, sizeof(sql), "PRAGMA user_version=%d", version);
	return sq_raw_exec(location, sql);
}

static int sq_integrity_ok(const char *location)
{
	char out[256];

	return sq_raw_query(location, "PRAGMA integrity_check", out, sizeof(out)) == 0 &&
	       strcmp(out, "ok") == 0 &&
	       sq_raw_query(location, "PRAGMA foreign_key_check", out, sizeof(out)) == 0 &&
	       out[0] == '\0';
}

/* The backend's own revoked query, planned: the covering partial index, no table scan. */
static int sq_revoked_walk_indexed(const char *location)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	char sql[512], plan[1024] = "";
	size_t len;
	int ok = 0;

	snprintf(sql, sizeof(sql), "EXPLAIN QUERY PLAN %s", cadb_sq_revoked_sql);
	if (sqlite3_open_v2(sq_path_of(location), &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		goto out;
	while (sqlite3_step(st) == SQLITE_ROW) {
		len = strlen(plan);
		snprintf(plan + len, sizeof(plan) - len, "%s;",
		         (const char *)sqlite3_column_text(st, 3));
	}
	/* "SCAN certs USING COVERING INDEX certs_revoked;", no sort step */
	ok = strstr(plan, "USING COVERING INDEX certs_revoked") != NULL &&
	     strstr(plan, "TEMP B-TREE") == NULL;
	if (!ok)
		print_error("revoked walk plan: %s\n", plan);
out:
	sqlite3_finalize(st);
	sqlite3_close(db);
	return ok;
}

/* The backend's own lookup by subject, planned: a search of the index certs_subject. */
static int sq_subject_lookup_indexed(const char *location)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	char sql[512], plan[1024] = "";
	size_t len;
	int ok = 0;

	snprintf(sql, sizeof(sql), "EXPLAIN QUERY PLAN %s", cadb_sq_subject_sql);
	if (sqlite3_open_v2(sq_path_of(location), &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		goto out;
	while (sqlite3_step(st) == SQLITE_ROW) {
		len = strlen(plan);
		snprintf(plan + len, sizeof(plan) - len, "%s;",
		         (const char *)sqlite3_column_text(st, 3));
	}
	/* "SEARCH certs USING INDEX certs_subject (subject=?);" */
	ok = strstr(plan, "SEARCH certs USING INDEX certs_subject (subject=?)") != NULL;
	if (!ok)
		print_error("subject lookup plan: %s\n", plan);
out:
	sqlite3_finalize(st);
	sqlite3_close(db);
	return ok;
}

static const struct battery_backend sqlite_backend = {
	.ops = &cadb_sqlite_ops,
	.location = sq_location,
	.drop = sq_drop,
	.set_version = sq_set_version,
	.integrity_ok = sq_integrity_ok,
	.revoked_walk_indexed = sq_revoked_walk_indexed,
	.subject_lookup_indexed = sq_subject_lookup_indexed,
};

/* ---- SQLite only ---- */

/* Version 1's schema, as tools/ca/ca-db.c wrote it (p11ca up to schema version 1). */
static const char v1_schema[] =
    "PRAGMA journal_mode=WAL;"
    "BEGIN;"
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
    "INSERT INTO meta VALUES ('crl_number', '0');"
    "PRAGMA user_version=1;"
    "COMMIT;";

/* Rows of every kind, as version 1 held them; crl_number 7. */
static const char v1_rows[] =
    "BEGIN;"
    "INSERT INTO certs VALUES ('4F01', '/CN=valid, with comma', 'DNS:a.example,"
    "IP:192.0.2.7,email:x@example.com,URI:https://example.com/p?a=1,b=2,IP:2001:db8::7,"
    "other,DNS:b.example', 1700000000, 1900000000, 'V', NULL, NULL, NULL, 'server-client',"
    " 1700000001, x'3082000102030405');"
    "INSERT INTO certs VALUES ('4F02', '/CN=revoked', 'DNS:r.example', 1700000000,"
    " 1900000000, 'R', 1700100000, 1, 1700050000, 'server', 1700000002, x'30820002');"
    "INSERT INTO certs VALUES ('4F03', '/CN=expired', NULL, 1600000000, 1650000000, 'V',"
    " NULL, NULL, NULL, 'client', 1600000003, x'30820003');"
    "INSERT INTO certs VALUES ('4F04', '/CN=imported', '', 1700000000, 1900000000, 'V',"
    " NULL, NULL, NULL, NULL, 1700000004, NULL);"
    "INSERT INTO certs VALUES ('4F05', '/CN=revoked-imported', 'email:y@example.com',"
    " 1700000000, 1900000000, 'R', 1700200000, 0, NULL, NULL, 1700000005, NULL);"
    "UPDATE meta SET value = '7' WHERE key = 'crl_number';"
    "COMMIT;";

/* A version-1 database with @rows, closed (its WAL checkpointed into the file). */
static void make_v1(const char *location, const char *rows)
{
	assert_int_equal(sq_raw_exec(location, v1_schema), 0);
	assert_int_equal(sq_raw_exec(location, rows), 0);
}

static void assert_query(const char *location, const char *sql, const char *want)
{
	char out[1024];

	assert_int_equal(sq_raw_query(location, sql, out, sizeof(out)), 0);
	assert_string_equal(out, want);
}

static void assert_v1_row(struct cadb *db, const char *serial, const char *subject,
                          const char *const *sans, char status, int64_t revoked_at, int reason,
                          int64_t invalidity, const char *profile, size_t der_len)
{
	struct cadb_row r;
	size_t i;

	assert_int_equal(cadb_get(db, serial, &r), RES_OK);
	assert_string_equal(r.subject, subject);
	for (i = 0; sans[i] != NULL; i++) {
		assert_true(i < r.nsans);
		assert_string_equal(r.sans[i], sans[i]);
	}
	assert_int_equal(r.nsans, i);
	assert_int_equal(r.status, status);
	assert_int_equal(r.revoked_at, revoked_at);
	assert_int_equal(r.reason, reason);
	assert_int_equal(r.invalidity, invalidity);
	if (profile == NULL)
		assert_null(r.profile);
	else
		assert_string_equal(r.profile, profile);
	assert_int_equal(r.der_len, der_len);
	/* v1_rows' DER: 30 82 00 .. with the serial's last digit last (0x05 for the long one) */
	if (der_len > 0)
		assert_int_equal(r.der[der_len - 1],
		                 der_len == 8 ? 0x05 : (unsigned char)(serial[3] - '0'));
	cadb_row_free(&r);
}

static void test_migrate_v1(void **state)
{
	static const char *const sans1[] = {
		"DNS:a.example",       "IP:192.0.2.7",
		"email:x@example.com", "URI:https://example.com/p?a=1,b=2",
		"IP:2001:db8::7",      "other",
		"DNS:b.example",       NULL,
	};
	static const char *const sans2[] = { "DNS:r.example", NULL };
	static const char *const sans5[] = { "email:y@example.com", NULL };
	static const char *const none[] = { NULL };
	struct bt_walk w = { .want_der = -1 };
	struct cadb *db = NULL;
	char location[1024];
	int64_t n = 0;
	int v = 0;

	assert_int_equal(sq_location("v1", location, sizeof(location)), 0);
	make_v1(location, v1_rows);
	assert_int_equal(cadb_open(location, &db), RES_OK);
	assert_int_equal(cadb_schema_version(db, &v), RES_OK);
	assert_int_equal(v, CADB_VERSION);
	assert_v1_row(db, "4F01", "/CN=valid, with comma", sans1, 'V', 0, -1, 0, "server-client",
	              8);
	assert_v1_row(db, "4F02", "/CN=revoked", sans2, 'R', 1700100000, 1, 1700050000, "server",
	              4);
	assert_v1_row(db, "4F03", "/CN=expired", none, 'V', 0, -1, 0, "client", 4);
	assert_v1_row(db, "4F04", "/CN=imported", none, 'V', 0, -1, 0, NULL, 0);
	assert_v1_row(db, "4F05", "/CN=revoked-imported", sans5, 'R', 1700200000, 0, 0, NULL, 0);
	bt_walk(db, CADB_EXPIRED, 0, 0, "4F03");
	bt_walk(db, CADB_VALID, 0, 0, "4F01 4F04");
	assert_int_equal(cadb_foreach_revoked(db, bt_collect, &w), RES_OK);
	assert_string_equal(w.serials, "4F02 4F05");
	assert_int_equal(cadb_next_crl_number(db, &n), RES_OK);
	assert_int_equal(n, 8);
	cadb_close(db);
	/* on disk: version 4, the old table gone, the SANs in their table, the subjects indexed */
	assert_query(location, "PRAGMA user_version", "4");
	assert_query(location,
	             "SELECT count(*) FROM pragma_table_info('certs') WHERE name = 'sans'", "0");
	assert_query(location, "SELECT count(*) FROM sqlite_master WHERE name = 'certs_v1'", "0");
	assert_query(location, "SELECT count(*) FROM cert_sans", "9");
	assert_query(location, "SELECT value FROM cert_sans WHERE serial = '4F01' AND pos = 3",
	             "https://example.com/p?a=1,b=2");
	assert_true(sq_integrity_ok(location));
	assert_true(sq_revoked_walk_indexed(location));
	assert_true(sq_subject_lookup_indexed(location));
	/* opened again: nothing migrates twice, the CRL number goes on */
	assert_int_equal(cadb_open(location, &db), RES_OK);
	assert_v1_row(db, "4F01", "/CN=valid, with comma", sans1, 'V', 0, -1, 0, "server-client",
	              8);
	assert_int_equal(cadb_next_crl_number(db, &n), RES_OK);
	assert_int_equal(n, 9);
	cadb_close(db);
	assert_query(location, "SELECT count(*) FROM cert_sans", "9");
	assert_query(location, "SELECT count(*) FROM certs", "5");
	sq_drop(location);
	(void)state;
}

/*
 * A SAN that fails half-way through an insert (a trigger refuses it) takes
 * the certificate's row with it, alone and inside the caller's transaction.
 */
static void test_insert_atomic(void **state)
{
	static const char *const sans[] = { "DNS:ok.example", "DNS:boom", NULL };
	static const char *const good[] = { "DNS:ok.example", NULL };
	struct cadb *db = NULL;
	struct cadb_row r, got;
	char location[1024];

	assert_int_equal(sq_location("atomic", location, sizeof(location)), 0);
	assert_int_equal(cadb_create(location), RES_OK);
	assert_int_equal(sq_raw_exec(location, "CREATE TRIGGER boom BEFORE INSERT ON cert_sans"
	                                       " WHEN new.value = 'boom'"
	                                       " BEGIN SELECT RAISE(ABORT, 'boom refused'); END;"),
	                 0);
	assert_int_equal(cadb_open(location, &db), RES_OK);
	bt_row(&r, "5E01", 'V', 1900000000, sans, 0);
	assert_int_equal(cadb_insert(db, &r), RES_DB);
	assert_non_null(strstr(res_message(), "boom refused"));
	assert_int_equal(cadb_get(db, "5E01", &got), RES_NOT_FOUND);
	assert_int_equal(cadb_in_transaction(db), 0);
	assert_int_equal(cadb_begin(db), RES_OK);
	bt_insert(db, "5E02", 'V', 1900000000, good, 0);
	assert_int_equal(cadb_insert(db, &r), RES_DB);
	assert_non_null(strstr(res_message(), "boom refused"));
	assert_int_equal(cadb_in_transaction(db), 1);
	assert_int_equal(cadb_commit(db), RES_OK);
	cadb_close(db);
	cadb_row_free(&r);
	assert_query(location, "SELECT group_concat(serial) FROM certs", "5E02");
	assert_query(location, "SELECT count(*) FROM cert_sans WHERE serial = '5E01'", "0");
	sq_drop(location);
	(void)state;
}

struct opener {
	const char *location;
	pthread_barrier_t *go;
	int ret, nsans;
	char msg[256];
};

static void *open_v1(void *arg)
{
	struct opener *o = arg;
	struct cadb *db = NULL;
	struct cadb_row r;

	pthread_barrier_wait(o->go);
	if ((o->ret = cadb_open(o->location, &db)) == RES_OK &&
	    (o->ret = cadb_get(db, "4F01", &r)) == RES_OK) {
		o->nsans = (int)r.nsans;
		cadb_row_free(&r);
	}
	snprintf(o->msg, sizeof(o->msg), "%s", res_message());
	cadb_close(db);
	return NULL;
}

/* Two processes' worth of connections opening one version-1 database at once: one migrates. */
static void test_migrate_v1_concurrent(void **state)
{
	pthread_barrier_t go;
	struct opener o[3];
	pthread_t t[3];
	char location[1024];
	int i;

	assert_int_equal(sq_location("v1-race", location, sizeof(location)), 0);
	make_v1(location, v1_rows);
	assert_int_equal(pthread_barrier_init(&go, NULL, 3), 0);
	for (i = 0; i < 3; i++) {
		memset(&o[i], 0, sizeof(o[i]));
		o[i].location = location;
		o[i].go = &go;
		assert_int_equal(pthread_create(&t[i], NULL, open_v1, &o[i]), 0);
	}
	for (i = 0; i < 3; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		if (o[i].ret != RES_OK)
			fail_msg("opener %d: %s: %s", i, res_name(o[i].ret), o[i].msg);
		assert_int_equal(o[i].nsans, 7);
	}
	pthread_barrier_destroy(&go);
	assert_query(location, "PRAGMA user_version", "4");
	assert_query(location, "SELECT count(*) FROM cert_sans", "9");
	assert_true(sq_integrity_ok(location));
	sq_drop(location);
	(void)state;
}

/* The bytes of @path, malloc'ed, into *plen. */
static unsigned char *slurp(const char *path, size_t *plen)
{
	unsigned char *buf = NULL;
	struct stat sb;
	int fd;

	if ((fd = open(path, O_RDONLY)) < 0 || fstat(fd, &sb) != 0 ||
	    (buf = malloc((size_t)sb.st_size + 1)) == NULL ||
	    read(fd, buf, (size_t)sb.st_size) != sb.st_size) {
		free(buf);
		buf = NULL;
	}
	*plen = buf != NULL ? (size_t)sb.st_size : 0;
	if (fd >= 0)
		close(fd);
	return buf;
}

/*
 * A version-1 row version 2 refuses (a serial longer than 20 octets) fails
 * the migration half-way: the file keeps version 1, byte for byte.
 */
static void test_migrate_v1_fails(void **state)
{
	struct cadb *db = NULL;
	unsigned char *before, *after;
	size_t before_len, after_len;
	char location[1024], rows[sizeof(v1_rows) + 512];

	assert_int_equal(sq_location("v1-bad", location, sizeof(location)), 0);
	/* the good rows first: the failure comes after copying some */
	snprintf(rows, sizeof(rows),
	         "%s INSERT INTO certs VALUES ('%s', '/CN=too long', 'DNS:t.example', 1, 2, 'V',"
	         " NULL, NULL, NULL, NULL, 3, NULL);",
	         v1_rows, "4F0102030405060708090A0B0C0D0E0F1011121314");
	make_v1(location, rows);
	assert_non_null(before = slurp(sq_path_of(location), &before_len));
	assert_int_equal(cadb_open(location, &db), RES_DB);
	assert_null(db);
	assert_non_null(strstr(res_message(), "migrating schema version 1 to 4"));
	assert_non_null(strstr(res_message(), "CHECK constraint failed"));
	assert_non_null(after = slurp(sq_path_of(location), &after_len));
	assert_int_equal(after_len, before_len);
	assert_memory_equal(after, before, before_len);
	free(after);
	assert_query(location, "PRAGMA user_version", "1");
	assert_query(location, "SELECT count(*) FROM certs WHERE sans IS NOT NULL", "5");
	assert_query(location, "SELECT count(*) FROM sqlite_master WHERE name = 'cert_sans'", "0");
	assert_query(location, "SELECT value FROM meta WHERE key = 'crl_number'", "7");
	/* and again, the same: nothing was left behind by the first try */
	assert_int_equal(cadb_open(location, &db), RES_DB);
	assert_non_null(after = slurp(sq_path_of(location), &after_len));
	assert_int_equal(after_len, before_len);
	assert_memory_equal(after, before, before_len);
	free(after);
	free(before);
	sq_drop(location);
	(void)state;
}

/*
 * A version-2 database (as p11ca wrote it before the subjects were
 * indexed) is brought to version 4: the index made, every row kept, the
 * lookup by subject answered from it.
 */
static void test_migrate_v2(void **state)
{
	struct bt_walk w = { .want_der = -1 };
	struct cadb *db = NULL;
	char location[1024];
	int v = 0;

	assert_int_equal(sq_location("v2", location, sizeof(location)), 0);
	assert_int_equal(cadb_create(location), RES_OK);
	assert_int_equal(cadb_open(location, &db), RES_OK);
	bt_insert(db, "5A", 'V', 1900000000, NULL, 0);
	bt_insert(db, "5B", 'R', 1900000000, NULL, 0);
	cadb_close(db);
	/* what version 2 was: no index of the subjects */
	assert_int_equal(sq_raw_exec(location, "DROP INDEX certs_subject; PRAGMA user_version=2"),
	                 0);
	assert_query(location, "SELECT count(*) FROM sqlite_master WHERE name = 'certs_subject'",
	             "0");
	assert_int_equal(cadb_open(location, &db), RES_OK);
	assert_int_equal(cadb_schema_version(db, &v), RES_OK);
	assert_int_equal(v, 4);
	assert_int_equal(cadb_foreach_subject(db, "/C=FR/O=Ex, Inc./CN=5B", bt_collect, &w),
	                 RES_OK);
	assert_string_equal(w.serials, "5B");
	cadb_close(db);
	assert_query(location, "PRAGMA user_version", "4");
	assert_query(location, "SELECT count(*) FROM sqlite_master WHERE name = 'certs_subject'",
	             "1");
	assert_query(location, "SELECT count(*) FROM certs", "2");
	assert_true(sq_subject_lookup_indexed(location));
	assert_true(sq_integrity_ok(location));
	sq_drop(location);
	(void)state;
}

/*
 * A version-3 database (SAN types checked with an IN list, which SQLite
 * runs through a temporary b-tree per row) is brought to version 4: the
 * check without the IN list, still refusing an unknown type, every SAN kept
 * in order.
 */
static void test_migrate_v3(void **state)
{
	static const char *const sans[] = { "DNS:b.example", "IP:192.0.2.7", "email:x@b.example",
		                            "URI:https://b.example/a,b", NULL };
	struct cadb_row r = { 0 };
	struct cadb *db = NULL;
	char location[1024];
	int v = 0;

	assert_int_equal(sq_location("v3", location, sizeof(location)), 0);
	assert_int_equal(cadb_create(location), RES_OK);
	assert_int_equal(cadb_open(location, &db), RES_OK);
	bt_insert(db, "6A", 'V', 1900000000, NULL, 0);
	bt_insert(db, "6B", 'R', 1900000000, sans, 0);
	cadb_close(db);
	/* what version 3 was: the same table with "type IN (...)" */
	assert_int_equal(
	    sq_raw_exec(
	        location,
	        "BEGIN; ALTER TABLE cert_sans RENAME TO s4;"
	        " CREATE TABLE cert_sans(serial TEXT NOT NULL REFERENCES certs(serial)"
	        " ON DELETE CASCADE, pos INTEGER NOT NULL, type TEXT NOT NULL CHECK (type IN"
	        " ('DNS','IP','email','URI','other')), value TEXT NOT NULL,"
	        " PRIMARY KEY (serial, pos)) WITHOUT ROWID;"
	        " INSERT INTO cert_sans SELECT * FROM s4; DROP TABLE s4;"
	        " PRAGMA user_version=3; COMMIT;"),
	    0);
	assert_query(location, "SELECT count(*) FROM sqlite_master WHERE sql LIKE '%type IN (%'",
	             "1");
	assert_int_equal(cadb_open(location, &db), RES_OK);
	assert_int_equal(cadb_schema_version(db, &v), RES_OK);
	assert_int_equal(v, 4);
	assert_int_equal(cadb_get(db, "6B", &r), RES_OK);
	assert_int_equal(r.status, 'R');
	assert_int_equal(r.nsans, 4);
	for (v = 0; v < 4; v++)
		assert_string_equal(r.sans[v], sans[v]);
	cadb_row_free(&r);
	cadb_close(db);
	assert_query(location, "PRAGMA user_version", "4");
	assert_query(location, "SELECT count(*) FROM sqlite_master WHERE sql LIKE '%type IN (%'",
	             "0");
	assert_query(location, "SELECT count(*) FROM sqlite_master WHERE name = 'cert_sans_v3'",
	             "0");
	/* the check still refuses a type that is none of the five */
	assert_int_not_equal(
	    sq_raw_exec(location, "INSERT INTO cert_sans VALUES ('6A', 99, 'dns', 'x.example')"),
	    0);
	assert_int_not_equal(
	    sq_raw_exec(location, "INSERT INTO cert_sans VALUES ('6A', 99, 'DNS ', 'x.example')"),
	    0);
	assert_int_equal(
	    sq_raw_exec(location, "INSERT INTO cert_sans VALUES ('6A', 99, 'URI', 'urn:x')"), 0);
	assert_true(sq_integrity_ok(location));
	sq_drop(location);
	(void)state;
}

/* An SQLite file that is no CA database (user_version 0) is refused, untouched. */
static void test_not_a_ca_db(void **state)
{
	struct cadb *db = NULL;
	char location[1024];

	assert_int_equal(sq_location("foreign", location, sizeof(location)), 0);
	assert_int_equal(sq_raw_exec(location, "CREATE TABLE t(x)"), 0);
	assert_int_equal(cadb_open(location, &db), RES_VERSION);
	assert_non_null(strstr(res_message(), "not a CA database"));
	assert_query(location, "SELECT count(*) FROM sqlite_master", "1");
	sq_drop(location);
	/* a plain path works as "sqlite:PATH" does */
	assert_int_equal(cadb_create(sq_path_of(location)), RES_OK);
	assert_int_equal(cadb_open(sq_path_of(location), &db), RES_OK);
	assert_string_equal(cadb_backend(db), "sqlite");
	cadb_close(db);
	assert_query(location, "PRAGMA journal_mode", "wal");
	sq_drop(location);
	(void)state;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		BATTERY_TESTS,
		cmocka_unit_test(test_insert_atomic),
		cmocka_unit_test(test_migrate_v1),
		cmocka_unit_test(test_migrate_v1_fails),
		cmocka_unit_test(test_migrate_v1_concurrent),
		cmocka_unit_test(test_migrate_v2),
		cmocka_unit_test(test_migrate_v3),
		cmocka_unit_test(test_not_a_ca_db),
	};
	const char *base = getenv("TMPDIR");
	int ret;

	snprintf(tmpdir, sizeof(tmpdir), "%s/p11ca-cadb.XXXXXX", base != NULL ? base : "/tmp");
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	bt_backend = &sqlite_backend;
	ret = cmocka_run_group_tests_name("ca-db", tests, NULL, NULL);
	nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return ret;
}

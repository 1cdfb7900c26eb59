/*
 * sqlite-schema.c - the SQLite backend's schema: making version 4 in a new
 * database and bringing an older one to it (version 1: SANs joined by
 * commas in a column of certs; version 2: no index of the subjects;
 * version 3: SAN types checked with an IN list), in one
 * transaction that leaves the old version as it was when anything fails.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "result.h"
#include "db.h"
#include "sqlite-int.h"

/*
 * Version 2.  certs is version 1's table without its sans column (and with
 * the serial's length checked: 20 octets in hex at most); each SAN is a row
 * of cert_sans in the certificate's order (pos from 0), its type apart from
 * its value.  The partial index of the revoked rows covers what a CRL
 * lists, so the revoked walk never reads the table (status is in it, last,
 * only so that SQLite 3.40 sees the index covers the walk's WHERE: version
 * 1's index without it had every revoked row looked up in the table).
 * Version 3 adds the index of the subjects (schema_subject): ca sign looks
 * up the certificates a subject has before it issues another.
 * Version 4 checks a SAN's type with comparisons joined by OR, not with
 * "type IN ('DNS', ...)": SQLite evaluates an IN list of more than two
 * values through a temporary b-tree it builds for every row inserted, which
 * made a SAN row cost more than its certificate's (30 M of the 718 M
 * instructions of issuing 300 certificates of 3 SANs each, callgrind,
 * bench/ca-bench.sh; the same check as before).
 */
static const char schema_certs[] =
    "CREATE TABLE certs("
    " serial TEXT PRIMARY KEY CHECK (length(serial) BETWEEN 1 AND 40),"
    " subject TEXT NOT NULL,"
    " not_before INTEGER NOT NULL,"
    " not_after INTEGER NOT NULL,"
    " status TEXT NOT NULL CHECK (status IN ('V','R')),"
    " revoked_at INTEGER,"
    " reason INTEGER,"
    " invalidity INTEGER,"
    " profile TEXT,"
    " issued_at INTEGER NOT NULL,"
    " der BLOB);"
    "CREATE INDEX certs_revoked ON certs(serial, revoked_at, reason, invalidity, status)"
    " WHERE status = 'R';"
    "CREATE TABLE cert_sans("
    " serial TEXT NOT NULL REFERENCES certs(serial) ON DELETE CASCADE,"
    " pos INTEGER NOT NULL,"
    " type TEXT NOT NULL CHECK (type = 'DNS' OR type = 'IP' OR type = 'email'"
    " OR type = 'URI' OR type = 'other'),"
    " value TEXT NOT NULL,"
    " PRIMARY KEY (serial, pos)) WITHOUT ROWID;";
static const char schema_subject[] = "CREATE INDEX IF NOT EXISTS certs_subject ON certs(subject);";
static const char schema_meta[] = "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT);"
                                  "INSERT INTO meta VALUES ('crl_number', '0');";

int cadb_sq_create_schema(sqlite3 *db)
{
	char sql[sizeof(schema_certs) + sizeof(schema_subject) + sizeof(schema_meta) + 64];

	snprintf(sql, sizeof(sql), "BEGIN IMMEDIATE; %s %s %s PRAGMA user_version=%d; COMMIT;",
	         schema_certs, schema_subject, schema_meta, CADB_VERSION);
	if (cadb_sq_exec(db, sql, "creating the schema") != RES_OK) {
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		return RES_DB;
	}
	return RES_OK;
}

/*
 * Where the SAN starting at @s ends in version 1's text: at the next comma
 * that starts another SAN ("DNS:", "IP:", "email:", "URI:" or "other"),
 * so that a comma inside a URI stays in it.
 */
static size_t v1_san_len(const char *s)
{
	static const char *const starts[] = { "DNS:", "IP:", "email:", "URI:" };
	const char *p = s;
	size_t i;

	while ((p = strchr(p, ',')) != NULL) {
		p++;
		for (i = 0; i < sizeof(starts) / sizeof(starts[0]); i++)
			if (strncmp(p, starts[i], strlen(starts[i])) == 0)
				return (size_t)(p - 1 - s);
		if (strncmp(p, "other", 5) == 0 && (p[5] == ',' || p[5] == '\0'))
			return (size_t)(p - 1 - s);
	}
	return strlen(s);
}

/* One v1 row's SAN text into cert_sans rows with @ins (bound: serial, pos, type, value). */
static int v1_split_sans(sqlite3 *db, sqlite3_stmt *ins, const char *serial, const char *text)
{
	const char *type, *value;
	char *san = NULL;
	size_t len;
	int pos = 0, ret = RES_OK;

	while (*text != '\0') {
		len = v1_san_len(text);
		if ((san = strndup(text, len)) == NULL) {
			ret = res_set(RES_NOMEM, "out of memory");
			goto out;
		}
		type = cadb_san_split(san, &value);
		sqlite3_bind_text(ins, 1, serial, -1, SQLITE_STATIC);
		sqlite3_bind_int(ins, 2, pos++);
		sqlite3_bind_text(ins, 3, type, -1, SQLITE_STATIC);
		sqlite3_bind_text(ins, 4, value, -1, SQLITE_STATIC);
		if (sqlite3_step(ins) != SQLITE_DONE) {
			ret = cadb_sq_fail(db, "copying the SANs");
			goto out;
		}
		sqlite3_reset(ins);
		free(san);
		san = NULL;
		text += len;
		if (*text == ',')
			text++;
	}
out:
	sqlite3_reset(ins);
	free(san);
	return ret;
}

/* Copies version 1's SAN column (in certs_v1) into cert_sans. */
static int v1_copy_sans(sqlite3 *db)
{
	sqlite3_stmt *sel = NULL, *ins = NULL;
	int rc, ret = RES_DB;

	if (sqlite3_prepare_v2(db,
	                       "SELECT serial, sans FROM certs_v1"
	                       " WHERE sans IS NOT NULL AND sans <> ''",
	                       -1, &sel, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db,
	                       "INSERT INTO cert_sans(serial, pos, type, value) VALUES (?,?,?,?)",
	                       -1, &ins, NULL) != SQLITE_OK) {
		ret = cadb_sq_fail(db, "preparing the copy of the SANs");
		goto out;
	}
	while ((rc = sqlite3_step(sel)) == SQLITE_ROW) {
		ret = v1_split_sans(db, ins, (const char *)sqlite3_column_text(sel, 0),
		                    (const char *)sqlite3_column_text(sel, 1));
		if (ret != RES_OK)
			goto out;
	}
	if (rc != SQLITE_DONE) {
		ret = cadb_sq_fail(db, "reading the SANs");
		goto out;
	}
	ret = RES_OK;
out:
	sqlite3_finalize(sel);
	sqlite3_finalize(ins);
	return ret;
}

/* Version 1 to 2, inside the caller's transaction. */
static int from_v1(sqlite3 *db)
{
	char sql[sizeof(schema_certs) + 128];
	int ret;

	/* certs_v1 keeps the old rows until they are copied; the index goes with a new certs */
	snprintf(sql, sizeof(sql),
	         "DROP INDEX IF EXISTS certs_revoked;"
	         " ALTER TABLE certs RENAME TO certs_v1; %s",
	         schema_certs);
	if ((ret = cadb_sq_exec(db, sql, "making the version-2 tables")) != RES_OK)
		return ret;
	ret = cadb_sq_exec(db,
	                   "INSERT INTO certs(serial, subject, not_before, not_after, status,"
	                   " revoked_at, reason, invalidity, profile, issued_at, der)"
	                   " SELECT serial, subject, not_before, not_after, status, revoked_at,"
	                   " reason, invalidity, profile, issued_at, der FROM certs_v1",
	                   "copying the certificates");
	if (ret != RES_OK)
		return ret;
	if ((ret = v1_copy_sans(db)) != RES_OK)
		return ret;
	return cadb_sq_exec(db,
	                    "DROP TABLE certs_v1;"
	                    " INSERT OR IGNORE INTO meta VALUES ('crl_number', '0');"
	                    " PRAGMA user_version=2;",
	                    "finishing");
}

/* Version 2 to 3, inside the caller's transaction: the index of the subjects. */
static int from_v2(sqlite3 *db)
{
	char sql[sizeof(schema_subject) + 64];

	snprintf(sql, sizeof(sql), "%s PRAGMA user_version=3;", schema_subject);
	return cadb_sq_exec(db, sql, "indexing the subjects");
}

/*
 * Version 3 to 4, inside the caller's transaction: cert_sans made again
 * with version 4's check of the type, every row copied.
 */
static int from_v3(sqlite3 *db)
{
	static const char sans_at[] = "CREATE TABLE cert_sans(";
	const char *sans = strstr(schema_certs, sans_at);
	char sql[sizeof(schema_certs) + 256];

	if (sans == NULL)
		return res_set(RES_FAIL, "no cert_sans in the schema");
	snprintf(sql, sizeof(sql),
	         "ALTER TABLE cert_sans RENAME TO cert_sans_v3; %s"
	         " INSERT INTO cert_sans(serial, pos, type, value)"
	         " SELECT serial, pos, type, value FROM cert_sans_v3;"
	         " DROP TABLE cert_sans_v3; PRAGMA user_version=4;",
	         sans);
	return cadb_sq_exec(db, sql, "checking SAN types without an IN list");
}

int cadb_sq_upgrade(sqlite3 *db, const char *path, int version)
{
	int from = version, ret;

	if (version == CADB_VERSION)
		return RES_OK;
	if (version < 1 || version > 3)
		goto unknown;
	if ((ret = cadb_sq_exec(db, "BEGIN IMMEDIATE", "starting the migration")) != RES_OK)
		goto fail;
	/* another process may have migrated it while this one waited */
	if ((ret = cadb_sq_user_version(db, &version)) != RES_OK)
		goto fail;
	from = version;
	if (version == 1 && (ret = from_v1(db)) == RES_OK)
		version = 2;
	if (ret == RES_OK && version == 2 && (ret = from_v2(db)) == RES_OK)
		version = 3;
	if (ret == RES_OK && version == 3 && (ret = from_v3(db)) == RES_OK)
		version = 4;
	if (ret != RES_OK)
		goto fail;
	if (version != CADB_VERSION) {
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		goto unknown;
	}
	if ((ret = cadb_sq_exec(db, "COMMIT", "committing the migration")) != RES_OK)
		goto fail;
	return RES_OK;
fail:
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return res_prefix(ret, "database %s: migrating schema version %d to %d", path, from,
	                  CADB_VERSION);
unknown:
	if (version == 0)
		return res_set(RES_VERSION, "database %s: not a CA database (schema version 0)",
		               path);
	return res_set(RES_VERSION,
	               "database %s: schema version %d; this release reads version %d (and "
	               "migrates versions 1 and 2)",
	               path, version, CADB_VERSION);
}

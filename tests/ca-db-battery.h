/*
 * ca-db-battery.h - the tests every CA database backend passes, through
 * db.h only (p11-kit's test-mock.c: one battery #included by each
 * backend's test).  The includer describes the backend it tests and
 * points bt_backend at it before running its cmocka group, which lists
 * BATTERY_TESTS:
 *
 *	#include "ca-db-battery.h"
 *	static const struct battery_backend backend = { .ops = &cadb_xxx_ops, ... };
 *	...
 *	bt_backend = &backend;
 *	cmocka_run_group_tests_name("ca-db", tests, NULL, NULL);
 *  What the interface cannot
 * do (make a database of a newer schema, check integrity, read a query
 * plan) the backend's hooks do behind it.
 */
#ifndef P11CA_CA_DB_BATTERY_H
#define P11CA_CA_DB_BATTERY_H

#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "result.h"
#include "db.h"

struct battery_backend {
	const struct cadb_ops *ops;
	/* a location for a new database (no such database yet) named after @tag; 0 or -1 */
	int (*location)(const char *tag, char *buf, size_t cap);
	/* removes the database at @location and whatever went with it */
	void (*drop)(const char *location);
	/* stores schema version @version in the database at @location (closed); 0 or -1 */
	int (*set_version)(const char *location, int version);
	/* 1 when the backend's own consistency check of @location passes */
	int (*integrity_ok)(const char *location);
	/* 1 when the revoked walk is answered from its index, not from the whole table */
	int (*revoked_walk_indexed)(const char *location);
	/* 1 when the lookup by subject is answered from an index, not from the whole table */
	int (*subject_lookup_indexed)(const char *location);
};

/* The backend under test (set by the includer). */
static const struct battery_backend *bt_backend;

/* A test's database: made and opened by bt_setup, closed and dropped by bt_teardown. */
struct bt_fixture {
	char location[1024];
	struct cadb *db;
};

static int bt_setup(void **state)
{
	static int counter;
	struct bt_fixture *f = calloc(1, sizeof(*f));
	char tag[32];

	if (f == NULL)
		return -1;
	snprintf(tag, sizeof(tag), "battery%d", counter++);
	if (bt_backend->location(tag, f->location, sizeof(f->location)) != 0 ||
	    cadb_create(f->location) != RES_OK || cadb_open(f->location, &f->db) != RES_OK) {
		print_error("setup: %s\n", res_message());
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int bt_teardown(void **state)
{
	struct bt_fixture *f = *state;

	cadb_close(f->db);
	bt_backend->drop(f->location);
	free(f);
	return 0;
}

#define BT_DER_LEN 64

/* A record: serial @serial, SANs @sans (NULL-terminated), a DER unless @no_der. */
static void bt_row(struct cadb_row *r, const char *serial, char status, int64_t not_after,
                   const char *const *sans, int no_der)
{
	size_t i;

	memset(r, 0, sizeof(*r));
	snprintf(r->serial, sizeof(r->serial), "%s", serial);
	assert_non_null(r->subject = malloc(strlen(serial) + 32));
	sprintf(r->subject, "/C=FR/O=Ex, Inc./CN=%s", serial);
	for (i = 0; sans != NULL && sans[i] != NULL; i++)
		assert_int_equal(cadb_row_add_san(r, sans[i]), RES_OK);
	r->not_before = 1700000000;
	r->not_after = not_after;
	r->status = status;
	r->reason = -1;
	if (status == 'R') {
		r->revoked_at = 1700001000;
		r->reason = 1;
		r->invalidity = 1699999000;
	}
	assert_non_null(r->profile = strdup("server-client"));
	r->issued_at = 1700000005;
	if (!no_der) {
		assert_non_null(r->der = malloc(BT_DER_LEN));
		r->der_len = BT_DER_LEN;
		for (i = 0; i < BT_DER_LEN; i++)
			r->der[i] = (unsigned char)(serial[0] + i * 7); /* with NUL bytes: a blob */
		r->der[3] = 0;
	}
}

static void bt_insert(struct cadb *db, const char *serial, char status, int64_t not_after,
                      const char *const *sans, int no_der)
{
	struct cadb_row r;

	bt_row(&r, serial, status, not_after, sans, no_der);
	assert_int_equal(cadb_insert(db, &r), RES_OK);
	cadb_row_free(&r);
}

/* Every field of @got as @want, the DER when @with_der (else none). */
static void bt_assert_row(const struct cadb_row *got, const struct cadb_row *want, int with_der)
{
	size_t i;

	assert_string_equal(got->serial, want->serial);
	assert_string_equal(got->subject, want->subject);
	assert_int_equal(got->nsans, want->nsans);
	for (i = 0; i < want->nsans; i++)
		assert_string_equal(got->sans[i], want->sans[i]);
	assert_int_equal(got->not_before, want->not_before);
	assert_int_equal(got->not_after, want->not_after);
	assert_int_equal(got->status, want->status);
	assert_int_equal(got->revoked_at, want->revoked_at);
	assert_int_equal(got->reason, want->reason);
	assert_int_equal(got->invalidity, want->invalidity);
	if (want->profile == NULL)
		assert_null(got->profile);
	else
		assert_string_equal(got->profile, want->profile);
	assert_int_equal(got->issued_at, want->issued_at);
	if (!with_der || want->der == NULL) {
		assert_null(got->der);
		assert_int_equal(got->der_len, 0);
		return;
	}
	assert_int_equal(got->der_len, want->der_len);
	assert_memory_equal(got->der, want->der, want->der_len);
}

static const char *const bt_sans[] = {
	"DNS:www.example.com",
	"IP:192.0.2.1",
	"IP:2001:db8::1",
	"email:ops@example.com",
	"URI:https://example.com/a,b;c=d,DNS:x",
	"other",
	"DNS:example.com",
	NULL,
};

static void test_create_open(void **state)
{
	struct bt_fixture *f = *state;
	struct cadb *db2 = NULL;
	int v = 0;

	assert_string_equal(cadb_backend(f->db), bt_backend->ops->scheme);
	assert_int_equal(cadb_schema_version(f->db, &v), RES_OK);
	assert_int_equal(v, CADB_VERSION);
	assert_int_equal(cadb_in_transaction(f->db), 0);
	/* a second connection to the same database */
	assert_int_equal(cadb_open(f->location, &db2), RES_OK);
	cadb_close(db2);
	/* no second database over the first */
	assert_int_equal(cadb_create(f->location), RES_EXISTS);
	assert_true(strlen(res_message()) > 0);
	assert_int_equal(cadb_open(f->location, &db2), RES_OK);
	cadb_close(db2);
}

static void test_insert_get(void **state)
{
	struct bt_fixture *f = *state;
	struct cadb_row want, got, bare;

	bt_row(&want, "4A01", 'V', 1900000000, bt_sans, 0);
	assert_int_equal(cadb_insert(f->db, &want), RES_OK);
	assert_int_equal(cadb_get(f->db, "4A01", &got), RES_OK);
	bt_assert_row(&got, &want, 1);
	cadb_row_free(&got);
	/* revoked, with reason and invalidity; no SANs, no DER, no profile */
	bt_row(&bare, "4A02", 'R', 1900000000, NULL, 1);
	free(bare.profile);
	bare.profile = NULL;
	assert_int_equal(cadb_insert(f->db, &bare), RES_OK);
	assert_int_equal(cadb_get(f->db, "4A02", &got), RES_OK);
	bt_assert_row(&got, &bare, 1);
	assert_null(got.sans);
	cadb_row_free(&got);
	cadb_row_free(&bare);
	cadb_row_free(&want);
	/* a record without a subject is refused before the backend */
	bt_row(&bare, "4A03", 'V', 1900000000, NULL, 1);
	free(bare.subject);
	bare.subject = NULL;
	assert_int_equal(cadb_insert(f->db, &bare), RES_BAD_INPUT);
	cadb_row_free(&bare);
}

static void test_taken(void **state)
{
	struct bt_fixture *f = *state;
	static const char *const other_sans[] = { "DNS:evil.example", "DNS:b", NULL };
	struct cadb_row want, dup, got;

	bt_row(&want, "5B01", 'V', 1900000000, bt_sans + 4, 0);
	assert_int_equal(cadb_insert(f->db, &want), RES_OK);
	bt_row(&dup, "5B01", 'R', 1800000000, other_sans, 1);
	free(dup.subject);
	assert_non_null(dup.subject = strdup("/CN=another"));
	assert_int_equal(cadb_insert(f->db, &dup), RES_TAKEN);
	assert_non_null(strstr(res_message(), "5B01"));
	assert_int_equal(cadb_get(f->db, "5B01", &got), RES_OK);
	bt_assert_row(&got, &want, 1);
	cadb_row_free(&got);
	/* inside a transaction: the taken one writes nothing, the rest commits */
	assert_int_equal(cadb_begin(f->db), RES_OK);
	bt_insert(f->db, "5B02", 'V', 1900000000, other_sans, 0);
	assert_int_equal(cadb_insert(f->db, &dup), RES_TAKEN);
	assert_int_equal(cadb_in_transaction(f->db), 1);
	bt_insert(f->db, "5B03", 'V', 1900000000, NULL, 0);
	assert_int_equal(cadb_commit(f->db), RES_OK);
	assert_int_equal(cadb_get(f->db, "5B01", &got), RES_OK);
	bt_assert_row(&got, &want, 1);
	cadb_row_free(&got);
	assert_int_equal(cadb_get(f->db, "5B02", &got), RES_OK);
	assert_int_equal(got.nsans, 2);
	cadb_row_free(&got);
	assert_int_equal(cadb_get(f->db, "5B03", &got), RES_OK);
	assert_int_equal(got.nsans, 0);
	cadb_row_free(&got);
	cadb_row_free(&dup);
	cadb_row_free(&want);
}

static void test_get_missing(void **state)
{
	struct bt_fixture *f = *state;
	struct cadb_row got;

	res_clear();
	memset(&got, 0x5a, sizeof(got));
	assert_int_equal(cadb_get(f->db, "0BAD", &got), RES_NOT_FOUND);
	assert_non_null(strstr(res_message(), "0BAD"));
	/* left empty: freeing it is harmless */
	assert_null(got.subject);
	assert_null(got.sans);
	assert_null(got.der);
	cadb_row_free(&got);
}

static void test_revoke(void **state)
{
	struct bt_fixture *f = *state;
	struct cadb_row got;

	bt_insert(f->db, "6C01", 'V', 1900000000, bt_sans, 0);
	bt_insert(f->db, "6C02", 'V', 1900000000, NULL, 0);
	assert_int_equal(cadb_revoke(f->db, "6C01", 1700500000, 4, 1700400000), RES_OK);
	assert_int_equal(cadb_in_transaction(f->db), 0);
	assert_int_equal(cadb_get(f->db, "6C01", &got), RES_OK);
	assert_int_equal(got.status, 'R');
	assert_int_equal(got.revoked_at, 1700500000);
	assert_int_equal(got.reason, 4);
	assert_int_equal(got.invalidity, 1700400000);
	assert_int_equal(got.nsans, 7);
	cadb_row_free(&got);
	/* again: RES_ALREADY and the first revocation stays */
	assert_int_equal(cadb_revoke(f->db, "6C01", 1700600000, 1, 0), RES_ALREADY);
	assert_non_null(strstr(res_message(), "6C01"));
	assert_int_equal(cadb_get(f->db, "6C01", &got), RES_OK);
	assert_int_equal(got.revoked_at, 1700500000);
	assert_int_equal(got.reason, 4);
	cadb_row_free(&got);
	assert_int_equal(cadb_revoke(f->db, "6C99", 1700600000, 1, 0), RES_NOT_FOUND);
	assert_int_equal(cadb_in_transaction(f->db), 0);
	/* in the caller's transaction; a failed one leaves it open; no reason, no invalidity */
	assert_int_equal(cadb_begin(f->db), RES_OK);
	assert_int_equal(cadb_revoke(f->db, "6C99", 1700600000, 1, 0), RES_NOT_FOUND);
	assert_int_equal(cadb_in_transaction(f->db), 1);
	assert_int_equal(cadb_revoke(f->db, "6C02", 1700700000, -1, 0), RES_OK);
	assert_int_equal(cadb_commit(f->db), RES_OK);
	assert_int_equal(cadb_get(f->db, "6C02", &got), RES_OK);
	assert_int_equal(got.status, 'R');
	assert_int_equal(got.reason, -1);
	assert_int_equal(got.invalidity, 0);
	cadb_row_free(&got);
}

/* Collects the serials a walk gives, joined by ' ', and checks the DER's presence. */
struct bt_walk {
	char serials[4096];
	int n, want_der, stop_after;
	int64_t revoked_at_sum;
};

static int bt_collect(const struct cadb_row *r, void *arg)
{
	struct bt_walk *w = arg;
	size_t len = strlen(w->serials);

	snprintf(w->serials + len, sizeof(w->serials) - len, "%s%s", len > 0 ? " " : "", r->serial);
	w->revoked_at_sum += r->revoked_at;
	if (w->want_der >= 0)
		assert_int_equal(r->der != NULL, w->want_der);
	if (++w->n == w->stop_after)
		return 42;
	return 0;
}

static void bt_walk(struct cadb *db, enum cadb_status status, int with_der, int want_der,
                    const char *want)
{
	struct bt_walk w = { .want_der = want_der };

	assert_int_equal(cadb_foreach(db, status, 1800000000, with_der, bt_collect, &w), RES_OK);
	assert_string_equal(w.serials, want);
}

static void bt_fill_statuses(struct cadb *db)
{
	/* out of order; 0D (imported, no DER) valid; 0E expires exactly at "now" */
	bt_insert(db, "0C", 'V', 1900000000, bt_sans, 0);
	bt_insert(db, "0A", 'V', 1700000100, NULL, 0);
	bt_insert(db, "0E", 'V', 1800000000, NULL, 0);
	bt_insert(db, "0B", 'R', 1900000000, bt_sans, 0);
	bt_insert(db, "0D", 'V', 1900000000, NULL, 1);
	bt_insert(db, "1F", 'R', 1700000100, NULL, 1);
	bt_insert(db, "0F", 'V', 1799999999, NULL, 0);
}

static void test_foreach_status(void **state)
{
	struct bt_fixture *f = *state;
	struct bt_walk w = { .want_der = -1, .stop_after = 2 };
	struct cadb_row got;

	bt_fill_statuses(f->db);
	bt_walk(f->db, CADB_VALID, 0, 0, "0C 0D 0E");
	bt_walk(f->db, CADB_EXPIRED, 0, 0, "0A 0F");
	bt_walk(f->db, CADB_REVOKED, 0, 0, "0B 1F");
	bt_walk(f->db, CADB_ALL, 0, 0, "0A 0B 0C 0D 0E 0F 1F");
	bt_walk(f->db, CADB_VALID, 1, -1, "0C 0D 0E");
	bt_walk(f->db, CADB_ALL, 1, -1, "0A 0B 0C 0D 0E 0F 1F");
	/* a non-zero return stops the walk and is its result */
	assert_int_equal(cadb_foreach(f->db, CADB_ALL, 1800000000, 0, bt_collect, &w), 42);
	assert_string_equal(w.serials, "0A 0B");
	/* and the connection is usable afterwards */
	assert_int_equal(cadb_get(f->db, "0C", &got), RES_OK);
	cadb_row_free(&got);
	bt_walk(f->db, CADB_REVOKED, 0, 0, "0B 1F");
}

/* Rows as walked: SANs in order, the DER exactly when asked and present. */
static int bt_check_fields(const struct cadb_row *r, void *arg)
{
	int with_der = *(int *)arg;
	struct cadb_row want;

	bt_row(&want, r->serial, r->status, r->not_after,
	       strcmp(r->serial, "0C") == 0 || strcmp(r->serial, "0B") == 0 ? bt_sans : NULL,
	       strcmp(r->serial, "0D") == 0 || strcmp(r->serial, "1F") == 0);
	bt_assert_row(r, &want, with_der);
	cadb_row_free(&want);
	return 0;
}

static void test_foreach_fields(void **state)
{
	struct bt_fixture *f = *state;
	int with_der;

	bt_fill_statuses(f->db);
	for (with_der = 0; with_der <= 1; with_der++)
		assert_int_equal(
		    cadb_foreach(f->db, CADB_ALL, 0, with_der, bt_check_fields, &with_der), RES_OK);
	assert_int_equal(
	    cadb_foreach(f->db, (enum cadb_status)'X', 0, 0, bt_check_fields, &with_der),
	    RES_BAD_INPUT);
}

/* A walk whose callback looks rows up and writes on the same connection. */
static int bt_nested(const struct cadb_row *r, void *arg)
{
	struct cadb *db = arg;
	struct cadb_row got;
	struct bt_walk w = { .want_der = -1 };
	int ret;

	if ((ret = cadb_get(db, r->serial, &got)) != RES_OK)
		return ret;
	cadb_row_free(&got);
	/* a write of its own transaction, on a row walked already */
	if (strcmp(r->serial, "0C") == 0 &&
	    (ret = cadb_revoke(db, "0A", 1700003000, 1, 0)) != RES_OK)
		return ret;
	/* the same walk inside the walk */
	if ((ret = cadb_foreach(db, CADB_ALL, 0, 0, bt_collect, &w)) != RES_OK)
		return ret;
	return w.n == 7 ? RES_OK : RES_FAIL;
}

/* Revokes each row walked, in the caller's transaction. */
static int bt_nested_tx(const struct cadb_row *r, void *arg)
{
	return cadb_revoke(arg, r->serial, 1700004000, 0, 0);
}

static void test_foreach_nested(void **state)
{
	struct bt_fixture *f = *state;

	bt_fill_statuses(f->db);
	assert_int_equal(cadb_foreach(f->db, CADB_ALL, 0, 0, bt_nested, f->db), RES_OK);
	bt_walk(f->db, CADB_REVOKED, 0, 0, "0A 0B 1F");
	/* the same inside the caller's transaction */
	assert_int_equal(cadb_begin(f->db), RES_OK);
	assert_int_equal(cadb_foreach(f->db, CADB_VALID, 1800000000, 0, bt_nested_tx, f->db),
	                 RES_OK);
	assert_int_equal(cadb_commit(f->db), RES_OK);
	bt_walk(f->db, CADB_REVOKED, 0, 0, "0A 0B 0C 0D 0E 1F");
}

static int bt_revoked_fields(const struct cadb_row *r, void *arg)
{
	int *n = arg;

	assert_int_equal(r->status, 'R');
	assert_null(r->subject);
	assert_null(r->sans);
	assert_int_equal(r->nsans, 0);
	assert_null(r->der);
	assert_null(r->profile);
	if (strcmp(r->serial, "0B") == 0) {
		assert_int_equal(r->revoked_at, 1700001000);
		assert_int_equal(r->reason, 1);
		assert_int_equal(r->invalidity, 1699999000);
	} else if (strcmp(r->serial, "0C") == 0) {
		assert_int_equal(r->revoked_at, 1700002000);
		assert_int_equal(r->reason, -1);
		assert_int_equal(r->invalidity, 0);
	}
	(*n)++;
	return 0;
}

static void test_foreach_revoked(void **state)
{
	struct bt_fixture *f = *state;
	struct bt_walk w = { .want_der = 0 };
	int n = 0;

	bt_fill_statuses(f->db);
	assert_int_equal(cadb_revoke(f->db, "0C", 1700002000, -1, 0), RES_OK);
	assert_int_equal(cadb_foreach_revoked(f->db, bt_collect, &w), RES_OK);
	assert_string_equal(w.serials, "0B 0C 1F");
	assert_int_equal(cadb_foreach_revoked(f->db, bt_revoked_fields, &n), RES_OK);
	assert_int_equal(n, 3);
	/* a non-zero return stops */
	memset(&w, 0, sizeof(w));
	w.want_der = -1;
	w.stop_after = 1;
	assert_int_equal(cadb_foreach_revoked(f->db, bt_collect, &w), 42);
	assert_string_equal(w.serials, "0B");
	assert_true(bt_backend->revoked_walk_indexed(f->location));
}

static void test_crl_number(void **state)
{
	struct bt_fixture *f = *state;
	struct cadb *db2 = NULL;
	int64_t n = 0;

	assert_int_equal(cadb_next_crl_number(f->db, &n), RES_OK);
	assert_int_equal(n, 1);
	assert_int_equal(cadb_next_crl_number(f->db, &n), RES_OK);
	assert_int_equal(n, 2);
	assert_int_equal(cadb_in_transaction(f->db), 0);
	/* in the caller's transaction */
	assert_int_equal(cadb_begin(f->db), RES_OK);
	assert_int_equal(cadb_next_crl_number(f->db, &n), RES_OK);
	assert_int_equal(n, 3);
	assert_int_equal(cadb_commit(f->db), RES_OK);
	assert_int_equal(cadb_set_crl_number(f->db, 41), RES_OK);
	assert_int_equal(cadb_set_crl_number(f->db, -1), RES_BAD_INPUT);
	/* seen by another connection */
	assert_int_equal(cadb_open(f->location, &db2), RES_OK);
	assert_int_equal(cadb_next_crl_number(db2, &n), RES_OK);
	assert_int_equal(n, 42);
	cadb_close(db2);
	assert_int_equal(cadb_next_crl_number(f->db, &n), RES_OK);
	assert_int_equal(n, 43);
	/* never lowered */
	assert_int_equal(cadb_set_crl_number(f->db, 5), RES_OK);
	assert_int_equal(cadb_next_crl_number(f->db, &n), RES_OK);
	assert_int_equal(n, 44);
}

static void test_rollback(void **state)
{
	struct bt_fixture *f = *state;
	struct cadb_row got;
	struct cadb *db2 = NULL;
	int64_t n = 0;

	bt_insert(f->db, "7D01", 'V', 1900000000, NULL, 0);
	assert_int_equal(cadb_next_crl_number(f->db, &n), RES_OK);
	assert_int_equal(cadb_begin(f->db), RES_OK);
	assert_int_equal(cadb_begin(f->db), RES_FAIL); /* no nesting */
	bt_insert(f->db, "7D02", 'V', 1900000000, bt_sans, 0);
	assert_int_equal(cadb_revoke(f->db, "7D01", 1700500000, 1, 0), RES_OK);
	assert_int_equal(cadb_next_crl_number(f->db, &n), RES_OK);
	assert_int_equal(n, 2);
	assert_int_equal(cadb_set_crl_number(f->db, 99), RES_OK);
	cadb_rollback(f->db);
	assert_int_equal(cadb_in_transaction(f->db), 0);
	assert_int_equal(cadb_get(f->db, "7D02", &got), RES_NOT_FOUND);
	assert_int_equal(cadb_get(f->db, "7D01", &got), RES_OK);
	assert_int_equal(got.status, 'V');
	cadb_row_free(&got);
	assert_int_equal(cadb_next_crl_number(f->db, &n), RES_OK);
	assert_int_equal(n, 2);
	/* closing with a transaction open rolls it back too */
	assert_int_equal(cadb_begin(f->db), RES_OK);
	bt_insert(f->db, "7D03", 'V', 1900000000, NULL, 0);
	cadb_close(f->db);
	f->db = NULL;
	assert_int_equal(cadb_open(f->location, &db2), RES_OK);
	assert_int_equal(cadb_get(db2, "7D03", &got), RES_NOT_FOUND);
	f->db = db2;
	/* a commit with nothing open */
	assert_int_equal(cadb_commit(f->db), RES_FAIL);
}

/* One writer: its own connection, @n rows in transactions of 10. */
struct bt_writer {
	const char *location;
	char prefix;
	int n, ret;
	char msg[256];
};

static void *bt_write(void *arg)
{
	static const char *const sans[] = { "DNS:a.example", "DNS:b.example", NULL };
	struct bt_writer *w = arg;
	struct cadb *db = NULL;
	struct cadb_row r;
	char serial[16];
	size_t i;
	int k;

	if ((w->ret = cadb_open(w->location, &db)) != RES_OK)
		goto out;
	for (k = 0; k < w->n && w->ret == RES_OK; k++) {
		if (k % 10 == 0 && (w->ret = cadb_begin(db)) != RES_OK)
			break;
		memset(&r, 0, sizeof(r));
		snprintf(serial, sizeof(serial), "%c%05X", w->prefix, (unsigned)k);
		snprintf(r.serial, sizeof(r.serial), "%s", serial);
		r.subject = serial;
		r.sans = (char **)sans;
		for (i = 0; sans[i] != NULL; i++)
			r.nsans++;
		r.status = 'V';
		r.reason = -1;
		r.not_after = 1900000000;
		w->ret = cadb_insert(db, &r);
		if (w->ret == RES_OK && k % 10 == 9)
			w->ret = cadb_commit(db);
	}
	if (w->ret == RES_OK && cadb_in_transaction(db))
		w->ret = cadb_commit(db);
out:
	/* the message is per thread: copy it for the main one */
	snprintf(w->msg, sizeof(w->msg), "%s", res_message());
	cadb_close(db);
	return NULL;
}

static int bt_count(const struct cadb_row *r, void *arg)
{
	(*(int *)arg)++;
	return r->nsans == 2 ? 0 : -1;
}

static void test_two_writers(void **state)
{
	struct bt_fixture *f = *state;
	struct bt_writer w[2] = {
		{ .location = f->location, .prefix = 'A', .n = 200 },
		{ .location = f->location, .prefix = 'B', .n = 200 },
	};
	pthread_t t[2];
	int i, n = 0;

	for (i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&t[i], NULL, bt_write, &w[i]), 0);
	for (i = 0; i < 2; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		if (w[i].ret != RES_OK)
			fail_msg("writer %c: %s: %s", w[i].prefix, res_name(w[i].ret), w[i].msg);
	}
	assert_int_equal(cadb_foreach(f->db, CADB_ALL, 0, 0, bt_count, &n), RES_OK);
	assert_int_equal(n, 400);
	assert_true(bt_backend->integrity_ok(f->location));
}

static void test_newer_schema(void **state)
{
	struct bt_fixture *f = *state;
	struct cadb *db2 = (struct cadb *)f; /* not NULL: the failure must reset it */
	char newer[32], ours[32];

	cadb_close(f->db);
	f->db = NULL;
	assert_int_equal(bt_backend->set_version(f->location, CADB_VERSION + 1), 0);
	assert_int_equal(cadb_open(f->location, &db2), RES_VERSION);
	assert_null(db2);
	snprintf(newer, sizeof(newer), "version %d", CADB_VERSION + 1);
	snprintf(ours, sizeof(ours), "version %d", CADB_VERSION);
	assert_non_null(strstr(res_message(), newer));
	assert_non_null(strstr(res_message(), ours));
}

/* Collects the serials of a subject lookup and checks each row is the subject's, DER and all. */
static int bt_subject_row(const struct cadb_row *r, void *arg)
{
	struct bt_walk *w = arg;
	struct cadb_row want;

	bt_row(&want, r->serial, r->status, r->not_after, NULL, 0);
	free(want.subject);
	assert_non_null(want.subject = strdup("/C=FR/O=Ex, Inc./CN=same"));
	bt_assert_row(r, &want, 1);
	cadb_row_free(&want);
	return bt_collect(r, w);
}

/*
 * The certificates of one subject, every status, with their DER, in serial
 * order; none for a subject close to it; answered from an index.
 */
static void test_foreach_subject(void **state)
{
	struct bt_fixture *f = *state;
	static const char *const serials[] = { "3C", "1A", "2B", "4D" };
	static const char status[] = { 'V', 'R', 'V', 'V' };
	struct bt_walk w = { .want_der = -1 };
	struct cadb_row r;
	size_t i;

	bt_fill_statuses(f->db); /* other subjects around */
	for (i = 0; i < 4; i++) {
		bt_row(&r, serials[i], status[i], i == 3 ? 1000 : 1900000000, NULL, 0);
		free(r.subject);
		assert_non_null(r.subject = strdup("/C=FR/O=Ex, Inc./CN=same"));
		assert_int_equal(cadb_insert(f->db, &r), RES_OK);
		cadb_row_free(&r);
	}
	assert_int_equal(
	    cadb_foreach_subject(f->db, "/C=FR/O=Ex, Inc./CN=same", bt_subject_row, &w), RES_OK);
	assert_string_equal(w.serials, "1A 2B 3C 4D");
	memset(&w, 0, sizeof(w));
	w.want_der = -1;
	assert_int_equal(cadb_foreach_subject(f->db, "/C=FR/O=Ex, Inc./CN=sam", bt_collect, &w),
	                 RES_OK);
	assert_int_equal(cadb_foreach_subject(f->db, "/C=FR/O=Ex, Inc./CN=SAME", bt_collect, &w),
	                 RES_OK);
	assert_int_equal(w.n, 0);
	/* a non-zero return stops the walk and is its result */
	w.stop_after = 1;
	assert_int_equal(cadb_foreach_subject(f->db, "/C=FR/O=Ex, Inc./CN=same", bt_collect, &w),
	                 42);
	assert_string_equal(w.serials, "1A");
	assert_true(bt_backend->subject_lookup_indexed(f->location));
}

static void test_bad_location(void **state)
{
	struct bt_fixture *f = *state;
	struct cadb *db2 = NULL;
	char missing[1100];

	assert_int_equal(cadb_open("nosuch:/tmp/x", &db2), RES_BAD_INPUT);
	assert_non_null(strstr(res_message(), "nosuch"));
	assert_null(db2);
	assert_int_equal(cadb_open("postgresql://localhost/ca", &db2), RES_BAD_INPUT);
	assert_int_equal(cadb_create("nosuch:/tmp/x"), RES_BAD_INPUT);
	assert_int_equal(cadb_open("", &db2), RES_BAD_INPUT);
	snprintf(missing, sizeof(missing), "%s.missing", f->location);
	assert_int_equal(cadb_open(missing, &db2), RES_NOT_FOUND);
	assert_null(db2);
}

/*
 * Failures set the message and print nothing: stdout and stderr go to a
 * file meanwhile, which must stay empty.
 */
static void test_silent(void **state)
{
	struct bt_fixture *f = *state;
	char path[] = "/tmp/p11ca-cadb-out.XXXXXX";
	struct cadb *db2 = NULL;
	struct cadb_row r, got;
	int fd, saved[2], i, ret[6];
	char msgs[6][64];
	off_t size;

	bt_insert(f->db, "0A", 'V', 1900000000, NULL, 0);
	bt_insert(f->db, "0B", 'R', 1900000000, NULL, 0);
	bt_row(&r, "0A", 'V', 1900000000, NULL, 0);
	assert_true((fd = mkstemp(path)) >= 0);
	fflush(stdout);
	fflush(stderr);
	saved[0] = dup(1);
	saved[1] = dup(2);
	dup2(fd, 1);
	dup2(fd, 2);
	ret[0] = cadb_insert(f->db, &r);
	snprintf(msgs[0], sizeof(msgs[0]), "%s", res_message());
	ret[1] = cadb_get(f->db, "99", &got);
	snprintf(msgs[1], sizeof(msgs[1]), "%s", res_message());
	ret[2] = cadb_revoke(f->db, "0B", 1, 1, 0);
	snprintf(msgs[2], sizeof(msgs[2]), "%s", res_message());
	ret[3] = cadb_revoke(f->db, "99", 1, 1, 0);
	snprintf(msgs[3], sizeof(msgs[3]), "%s", res_message());
	ret[4] = cadb_open("nosuch:x", &db2);
	snprintf(msgs[4], sizeof(msgs[4]), "%s", res_message());
	ret[5] = cadb_commit(f->db);
	snprintf(msgs[5], sizeof(msgs[5]), "%s", res_message());
	fflush(stdout);
	fflush(stderr);
	dup2(saved[0], 1);
	dup2(saved[1], 2);
	close(saved[0]);
	close(saved[1]);
	size = lseek(fd, 0, SEEK_END);
	close(fd);
	unlink(path);
	cadb_row_free(&r);
	assert_int_equal(size, 0);
	assert_int_equal(ret[0], RES_TAKEN);
	assert_int_equal(ret[1], RES_NOT_FOUND);
	assert_int_equal(ret[2], RES_ALREADY);
	assert_int_equal(ret[3], RES_NOT_FOUND);
	assert_int_equal(ret[4], RES_BAD_INPUT);
	assert_int_equal(ret[5], RES_FAIL);
	for (i = 0; i < 6; i++)
		assert_true(strlen(msgs[i]) > 0);
}

#define BT_TEST(fn) cmocka_unit_test_setup_teardown(fn, bt_setup, bt_teardown)
#define BATTERY_TESTS                                                                              \
	BT_TEST(test_create_open), BT_TEST(test_insert_get), BT_TEST(test_taken),                  \
	    BT_TEST(test_get_missing), BT_TEST(test_revoke), BT_TEST(test_foreach_status),         \
	    BT_TEST(test_foreach_fields), BT_TEST(test_foreach_nested),                            \
	    BT_TEST(test_foreach_revoked), BT_TEST(test_crl_number), BT_TEST(test_rollback),       \
	    BT_TEST(test_two_writers), BT_TEST(test_newer_schema), BT_TEST(test_bad_location),     \
	    BT_TEST(test_silent), BT_TEST(test_foreach_subject)

#endif /* P11CA_CA_DB_BATTERY_H */

/*
 * db.c - the backend-neutral half of db.h: picking a backend by the
 * location's scheme, the connection handle, transactions opened for a
 * lone write, and the row helpers every backend shares.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "result.h"
#include "db.h"

struct cadb {
	const struct cadb_ops *ops;
	void *state;
	int in_tx;
};

static const struct cadb_ops *const backends[] = {
	&cadb_sqlite_ops,
};

/*
 * The backend of @location: "SCHEME:..." names it (SCHEME: a letter, then
 * letters, digits, '+', '-', '.'); anything else is a path for SQLite.
 */
static int pick(const char *location, const struct cadb_ops **pops)
{
	size_t n = 0, i;

	if (location == NULL || *location == '\0')
		return res_set(RES_BAD_INPUT, "database: no location");
	if ((location[0] >= 'a' && location[0] <= 'z') ||
	    (location[0] >= 'A' && location[0] <= 'Z'))
		n = 1 + strspn(location + 1, "abcdefghijklmnopqrstuvwxyz"
		                             "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-.");
	if (n == 0 || location[n] != ':') {
		*pops = &cadb_sqlite_ops;
		return RES_OK;
	}
	for (i = 0; i < sizeof(backends) / sizeof(backends[0]); i++)
		if (strlen(backends[i]->scheme) == n &&
		    strncmp(backends[i]->scheme, location, n) == 0) {
			*pops = backends[i];
			return RES_OK;
		}
	return res_set(RES_BAD_INPUT,
	               "database %s: unknown scheme \"%.*s\" (this release has sqlite)", location,
	               (int)n, location);
}

int cadb_create(const char *location)
{
	const struct cadb_ops *ops;
	int ret;

	if ((ret = pick(location, &ops)) != RES_OK)
		return ret;
	return ops->create(location);
}

int cadb_open(const char *location, struct cadb **pdb)
{
	const struct cadb_ops *ops;
	struct cadb *db = NULL;
	int ret;

	*pdb = NULL;
	if ((ret = pick(location, &ops)) != RES_OK)
		return ret;
	if ((db = calloc(1, sizeof(*db))) == NULL)
		return res_set(RES_NOMEM, "out of memory");
	db->ops = ops;
	if ((ret = ops->open(location, &db->state)) != RES_OK) {
		free(db);
		return ret;
	}
	*pdb = db;
	return RES_OK;
}

void cadb_close(struct cadb *db)
{
	if (db == NULL)
		return;
	if (db->in_tx)
		db->ops->rollback(db->state);
	db->ops->close(db->state);
	free(db);
}

const char *cadb_backend(const struct cadb *db)
{
	return db->ops->scheme;
}

int cadb_in_transaction(const struct cadb *db)
{
	return db->in_tx;
}

int cadb_begin(struct cadb *db)
{
	int ret;

	if (db->in_tx)
		return res_set(RES_FAIL, "database: a transaction is open already");
	if ((ret = db->ops->begin(db->state)) == RES_OK)
		db->in_tx = 1;
	return ret;
}

int cadb_commit(struct cadb *db)
{
	int ret;

	if (!db->in_tx)
		return res_set(RES_FAIL, "database: no transaction to commit");
	if ((ret = db->ops->commit(db->state)) != RES_OK)
		db->ops->rollback(db->state);
	db->in_tx = 0;
	return ret;
}

void cadb_rollback(struct cadb *db)
{
	if (!db->in_tx)
		return;
	db->ops->rollback(db->state);
	db->in_tx = 0;
}

/* A write's own transaction when the caller has none: *pown says so. */
static int tx_enter(struct cadb *db, int *pown)
{
	*pown = !db->in_tx;
	return *pown ? cadb_begin(db) : RES_OK;
}

/* Ends what tx_enter() began: commits after @ret == RES_OK, else rolls back; returns the result. */
static int tx_leave(struct cadb *db, int own, int ret)
{
	if (!own)
		return ret;
	if (ret == RES_OK)
		return cadb_commit(db);
	cadb_rollback(db);
	return ret;
}

int cadb_insert(struct cadb *db, const struct cadb_row *r)
{
	size_t i;
	int own, ret;

	if (r->serial[0] == '\0' || r->subject == NULL || (r->status != 'V' && r->status != 'R') ||
	    (r->nsans > 0 && r->sans == NULL) || (r->der == NULL && r->der_len != 0))
		return res_set(RES_BAD_INPUT, "database: an incomplete record (serial \"%.40s\")",
		               r->serial);
	for (i = 0; i < r->nsans; i++)
		if (r->sans[i] == NULL)
			return res_set(RES_BAD_INPUT, "database: %s: a SAN is missing", r->serial);
	if ((ret = tx_enter(db, &own)) != RES_OK)
		return ret;
	return tx_leave(db, own, db->ops->insert(db->state, r));
}

int cadb_get(struct cadb *db, const char *serial, struct cadb_row *r)
{
	return db->ops->get(db->state, serial, r);
}

int cadb_revoke(struct cadb *db, const char *serial, int64_t when, int reason, int64_t invalidity)
{
	int own, ret;

	if ((ret = tx_enter(db, &own)) != RES_OK)
		return ret;
	return tx_leave(db, own, db->ops->revoke(db->state, serial, when, reason, invalidity));
}

int cadb_foreach(struct cadb *db, enum cadb_status status, int64_t now, int with_der,
                 cadb_row_cb cb, void *arg)
{
	return db->ops->foreach (db->state, status, now, with_der, cb, arg);
}

int cadb_foreach_revoked(struct cadb *db, cadb_row_cb cb, void *arg)
{
	return db->ops->foreach_revoked(db->state, cb, arg);
}

int cadb_foreach_subject(struct cadb *db, const char *subject, cadb_row_cb cb, void *arg)
{
	return db->ops->foreach_subject(db->state, subject, cb, arg);
}

int cadb_next_crl_number(struct cadb *db, int64_t *out)
{
	int64_t n = 0;
	int own, ret;

	if ((ret = tx_enter(db, &own)) != RES_OK)
		return ret;
	if ((ret = tx_leave(db, own, db->ops->next_crl_number(db->state, &n))) == RES_OK)
		*out = n;
	return ret;
}

int cadb_set_crl_number(struct cadb *db, int64_t value)
{
	int own, ret;

	if (value < 0)
		return res_set(RES_BAD_INPUT, "database: a negative CRL number");
	if ((ret = tx_enter(db, &own)) != RES_OK)
		return ret;
	return tx_leave(db, own, db->ops->set_crl_number(db->state, value));
}

int cadb_schema_version(struct cadb *db, int *out)
{
	return db->ops->schema_version(db->state, out);
}

int cadb_data_version(struct cadb *db, int64_t *out)
{
	if (db->ops->data_version == NULL)
		return res_set(RES_UNSUPPORTED, "database: the %s backend cannot tell changes",
		               db->ops->scheme);
	return db->ops->data_version(db->state, out);
}

void cadb_row_free(struct cadb_row *r)
{
	size_t i;

	if (r == NULL)
		return;
	free(r->subject);
	for (i = 0; i < r->nsans; i++)
		free(r->sans[i]);
	free(r->sans);
	free(r->profile);
	free(r->der);
	memset(r, 0, sizeof(*r));
}

/* Appends @san, which becomes r's. */
static int add_taken(struct cadb_row *r, char *san)
{
	char **v;

	if (san == NULL)
		return res_set(RES_NOMEM, "out of memory");
	if ((v = realloc(r->sans, (r->nsans + 1) * sizeof(*v))) == NULL) {
		free(san);
		return res_set(RES_NOMEM, "out of memory");
	}
	v[r->nsans++] = san;
	r->sans = v;
	return RES_OK;
}

int cadb_row_add_san(struct cadb_row *r, const char *san)
{
	return add_taken(r, strdup(san));
}

int cadb_row_add_san_typed(struct cadb_row *r, const char *type, const char *value)
{
	size_t lt, lv;
	char *san;

	if (type == NULL || value == NULL)
		return res_set(RES_DB, "database: a SAN without its type or value");
	if (strcmp(type, "other") == 0)
		return add_taken(r, strdup(value));
	lt = strlen(type);
	lv = strlen(value);
	if ((san = malloc(lt + 1 + lv + 1)) == NULL)
		return res_set(RES_NOMEM, "out of memory");
	memcpy(san, type, lt);
	san[lt] = ':';
	memcpy(san + lt + 1, value, lv + 1);
	return add_taken(r, san);
}

const char *cadb_san_split(const char *san, const char **pvalue)
{
	static const char *const types[] = { "DNS", "IP", "email", "URI" };
	size_t i, n;

	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		n = strlen(types[i]);
		if (strncmp(san, types[i], n) == 0 && san[n] == ':') {
			*pvalue = san + n + 1;
			return types[i];
		}
	}
	*pvalue = san;
	return "other";
}

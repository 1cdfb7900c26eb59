/*
 * cmd-ca-records.c - p11ca ca list|show: the CA's records, read without
 * the token; --json through libjansson (one document, printed whole, so a
 * failure leaves standard output empty).
 */
#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <jansson.h>
#include <openssl/pem.h>

#include "cmd-ca.h"

struct list_state {
	int json;
	json_t *array;
	int64_t now;
};

/* An ISO time, or null for 0. */
static json_t *json_time(int64_t t)
{
	char iso[PKI_TIME_ISO_MAX];

	if (t == 0)
		return json_null();
	pki_time_iso(t, iso);
	return json_string(iso);
}

/* A string, or null; invalid UTF-8 (a raw subject byte) is kept, escaped as \u00XX. */
static json_t *json_text(const char *s)
{
	json_t *v;
	char *copy, *p;

	if (s == NULL)
		return json_null();
	if ((v = json_string(s)) != NULL)
		return v;
	/* not UTF-8: bytes above 0x7f become '?' rather than the field going missing */
	if ((copy = strdup(s)) == NULL)
		return NULL;
	for (p = copy; *p != '\0'; p++)
		if ((unsigned char)*p >= 0x80)
			*p = '?';
	v = json_string(copy);
	free(copy);
	return v;
}

/* The record as an object (NULL when out of memory). */
static json_t *json_row(const struct cadb_row *r, int64_t now)
{
	json_t *o = json_object(), *sans = json_array();
	const char *reason = r->status == 'R' ? ca_reason_name(r->reason) : NULL;
	size_t i;
	int bad = o == NULL || sans == NULL;

	for (i = 0; !bad && i < r->nsans; i++)
		bad = json_array_append_new(sans, json_text(r->sans[i])) != 0;
	bad = bad || json_object_set_new(o, "serial", json_string(r->serial)) != 0 ||
	      json_object_set_new(o, "status", json_string(tool_ca_status_name(r, now))) != 0 ||
	      json_object_set_new(o, "subject", json_text(r->subject)) != 0 ||
	      json_object_set(o, "sans", sans) != 0 ||
	      json_object_set_new(o, "not_before", json_time(r->not_before)) != 0 ||
	      json_object_set_new(o, "not_after", json_time(r->not_after)) != 0 ||
	      json_object_set_new(o, "revoked_at", json_time(r->revoked_at)) != 0 ||
	      json_object_set_new(o, "reason",
	                          reason != NULL ? json_string(reason) : json_null()) != 0 ||
	      json_object_set_new(o, "invalidity_date", json_time(r->invalidity)) != 0 ||
	      json_object_set_new(o, "profile", json_text(r->profile)) != 0;
	json_decref(sans);
	if (bad) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* @v on standard output, whole, and a newline; @v is consumed. */
static int json_print(json_t *v)
{
	char *text = v != NULL ? json_dumps(v, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
	int ret = TOOL_EXIT_FAIL;

	json_decref(v);
	if (text == NULL) {
		tool_errorf("out of memory");
		return TOOL_EXIT_FAIL;
	}
	if (printf("%s\n", text) < 0 || fflush(stdout) != 0)
		tool_errorf("cannot write to standard output");
	else
		ret = TOOL_EXIT_OK;
	free(text);
	return ret;
}

static int list_one(const struct cadb_row *r, void *arg)
{
	struct list_state *st = arg;
	char iso[PKI_TIME_ISO_MAX];

	if (st->json)
		return json_array_append_new(st->array, json_row(r, st->now)) != 0
		           ? res_set(RES_NOMEM, "out of memory")
		           : 0;
	pki_time_iso(r->not_after, iso);
	printf("%-32s  %-7s  %s  %s\n", r->serial, tool_ca_status_name(r, st->now), iso,
	       r->subject);
	return 0;
}

static const char list_help[] =
    "usage: p11ca ca list --dir D [--status valid|revoked|expired|all] [--json]\n\n"
    "Lists the certificates the CA issued (or imported), in serial order: serial,\n"
    "status, end of validity and subject; --json for an array of objects with\n"
    "every field (serial, status, subject, sans, not_before, not_after,\n"
    "revoked_at, reason, invalidity_date, profile).\n";

enum { O_STATUS = TOOL_CA_O_FIRST, O_JSON, O_PEM, O_DER };

/* ca list's and ca show's options */
struct records_args {
	const char *dir;
	enum cadb_status status;
	int form; /* O_JSON, O_PEM, O_DER or 0 for text */
};

static int records_opt(int id, const char *arg, void *data)
{
	struct records_args *a = data;

	switch (id) {
	case TOOL_CA_O_DIR: a->dir = arg; break;
	case O_STATUS:
		if (strcmp(arg, "valid") == 0)
			a->status = CADB_VALID;
		else if (strcmp(arg, "revoked") == 0)
			a->status = CADB_REVOKED;
		else if (strcmp(arg, "expired") == 0)
			a->status = CADB_EXPIRED;
		else if (strcmp(arg, "all") == 0)
			a->status = CADB_ALL;
		else {
			tool_errorf("--status '%s': valid, revoked, expired or all", arg);
			return TOOL_EXIT_USAGE;
		}
		break;
	case O_JSON:
	case O_PEM:
	case O_DER: a->form = id; break;
	default: return TOOL_EXIT_USAGE;
	}
	return 0;
}

int tool_ca_list(int argc, char **argv)
{
	static const struct tool_opt opts[] = {
		TOOL_CA_DIR_OPT,
		{ "status", required_argument, O_STATUS },
		{ "json", no_argument, O_JSON },
		{ NULL, 0, 0 },
	};
	struct tool_common c = { 0 };
	struct records_args a = { 0 };
	struct ca *ca;
	struct list_state st = { 0, NULL, (int64_t)time(NULL) };
	int ret, rc;

	if ((ret = tool_parse(argc, argv, opts, list_help, &c, records_opt, &a)) != TOOL_PARSE_GO)
		return ret;
	st.json = a.form == O_JSON;
	if (optind != argc) {
		tool_errorf("unexpected argument '%s'", argv[optind]);
		return TOOL_EXIT_USAGE;
	}
	if ((ret = tool_ca_open_records(a.dir, &c, &ca)) != TOOL_EXIT_OK)
		return ret;
	if (st.json && (st.array = json_array()) == NULL) {
		ca_close(ca);
		return tool_report(res_set(RES_NOMEM, "out of memory"));
	}
	if (!st.json)
		printf("%-32s  %-7s  %-20s  %s\n", "serial", "status", "not_after", "subject");
	rc = cadb_foreach(ca->db, a.status, st.now, 0, list_one, &st);
	if (rc != RES_OK) {
		json_decref(st.array);
		ret = tool_report(rc);
	} else if (st.json) {
		ret = json_print(st.array);
	} else if (fflush(stdout) != 0) {
		tool_errorf("cannot write to standard output");
		ret = TOOL_EXIT_FAIL;
	} else {
		ret = TOOL_EXIT_OK;
	}
	ca_close(ca);
	return ret;
}

/* ca show */

/* The serials that start with a prefix, walking the records (ca show SERIAL-PREFIX). */
struct prefix_state {
	const char *prefix;
	size_t len, n;
	char first[CA_SERIAL_MAX];
};

static int prefix_one(const struct cadb_row *r, void *arg)
{
	struct prefix_state *st = arg;

	if (strncmp(r->serial, st->prefix, st->len) == 0 && st->n++ == 0)
		snprintf(st->first, sizeof(st->first), "%s", r->serial);
	return 0;
}

/*
 * @arg as a serial prefix as `trust` takes fingerprint prefixes: at least 8
 * hex digits, colons and "0x" optional, any case; into @out (uppercase).
 */
static int serial_prefix(const char *arg, char *out, size_t cap)
{
	size_t n = 0;

	if (strncmp(arg, "0x", 2) == 0 || strncmp(arg, "0X", 2) == 0)
		arg += 2;
	for (; *arg != '\0'; arg++) {
		if (*arg == ':')
			continue;
		if (!isxdigit((unsigned char)*arg) || n + 1 >= cap)
			return 0;
		out[n++] = (char)toupper((unsigned char)*arg);
	}
	out[n] = '\0';
	return n >= 8;
}

/*
 * The record of @arg: a serial, or else a prefix of exactly one (RES_NOT_FOUND
 * for none, RES_BAD_INPUT for several); @r is the caller's on RES_OK.
 */
static int find_record(struct ca *ca, const char *arg, struct cadb_row *r)
{
	struct prefix_state st = { 0 };
	char serial[CA_SERIAL_MAX], prefix[CA_SERIAL_MAX];
	int rc;

	if (pki_serial_normalise(arg, serial) == RES_OK &&
	    (rc = cadb_get(ca->db, serial, r)) != RES_NOT_FOUND)
		return rc;
	if (!serial_prefix(arg, prefix, sizeof(prefix)))
		return res_set(RES_NOT_FOUND, "serial %s: no such certificate in %s", arg,
		               ca->conf.db);
	st.prefix = prefix;
	st.len = strlen(prefix);
	if ((rc = cadb_foreach(ca->db, CADB_ALL, 0, 0, prefix_one, &st)) != RES_OK)
		return rc;
	if (st.n == 0)
		return res_set(RES_NOT_FOUND, "serial %s: no such certificate in %s", arg,
		               ca->conf.db);
	if (st.n > 1)
		return res_set(RES_BAD_INPUT,
		               "serial prefix %s matches %zu certificates: give more digits", arg,
		               st.n);
	return cadb_get(ca->db, st.first, r);
}

static const char show_help[] =
    "usage: p11ca ca show --dir D SERIAL [--json | --pem | --der]\n\n"
    "One record of the database: its fields and a summary of the certificate;\n"
    "SERIAL is a serial or a prefix of exactly one (at least 8 hex digits,\n"
    "colons optional, any case, as trust takes fingerprints);\n"
    "--json the fields as an object; --pem or --der the certificate itself.\n";

static void show_text(const struct cadb_row *r, X509 *x)
{
	char iso[PKI_TIME_ISO_MAX], fp[PKI_FP_MAX];
	int64_t now = (int64_t)time(NULL);
	char *issuer = NULL;
	size_t i;

	printf("serial:     %s\n", r->serial);
	printf("status:     %s\n", tool_ca_status_name(r, now));
	printf("subject:    %s\n", r->subject);
	printf("sans:       ");
	for (i = 0; i < r->nsans; i++)
		printf("%s%s", i > 0 ? ", " : "", r->sans[i]);
	printf("%s\n", r->nsans == 0 ? "(none)" : "");
	pki_time_iso(r->not_before, iso);
	printf("not before: %s\n", iso);
	pki_time_iso(r->not_after, iso);
	printf("not after:  %s\n", iso);
	if (r->status == 'R') {
		pki_time_iso(r->revoked_at, iso);
		printf("revoked:    %s (%s)\n", iso,
		       ca_reason_name(r->reason) != NULL ? ca_reason_name(r->reason)
		                                         : "unspecified");
		if (r->invalidity != 0) {
			pki_time_iso(r->invalidity, iso);
			printf("invalidity: %s\n", iso);
		}
	}
	printf("profile:    %s\n", r->profile != NULL ? r->profile : "(imported)");
	if (x == NULL) {
		printf("certificate: not in the database (imported without its file)\n");
		return;
	}
	if (pki_name_oneline(X509_get_issuer_name(x), &issuer) == RES_OK)
		printf("issuer:     %s\n", issuer);
	free(issuer);
	{
		EVP_PKEY *pk = X509_get0_pubkey(x);
		if (pk != NULL)
			printf("key:        %s %d bits\n", EVP_PKEY_get0_type_name(pk),
			       EVP_PKEY_get_bits(pk));
	}
	if (pki_fingerprint(x, "SHA256", 1, fp, sizeof(fp)) == RES_OK)
		printf("sha256:     %s\n", fp);
}

int tool_ca_show(int argc, char **argv)
{
	static const struct tool_opt opts[] = {
		TOOL_CA_DIR_OPT,
		{ "json", no_argument, O_JSON },
		{ "pem", no_argument, O_PEM },
		{ "der", no_argument, O_DER },
		{ NULL, 0, 0 },
	};
	struct tool_common c = { 0 };
	struct records_args a = { 0 };
	struct ca *ca;
	struct cadb_row r = { 0 };
	char serial[CA_SERIAL_MAX];
	int ret, rc;
	const unsigned char *p;
	X509 *x = NULL;

	if ((ret = tool_parse(argc, argv, opts, show_help, &c, records_opt, &a)) != TOOL_PARSE_GO)
		return ret;
	if (optind + 1 != argc) {
		tool_errorf("ca show needs one SERIAL");
		return TOOL_EXIT_USAGE;
	}
	if (pki_serial_normalise(argv[optind], serial) != RES_OK &&
	    !serial_prefix(argv[optind], serial, sizeof(serial))) {
		tool_errorf("'%s' is not a hexadecimal serial", argv[optind]);
		return TOOL_EXIT_USAGE;
	}
	if ((ret = tool_ca_open_records(a.dir, &c, &ca)) != TOOL_EXIT_OK)
		return ret;
	ret = TOOL_EXIT_FAIL;
	if ((rc = find_record(ca, argv[optind], &r)) != RES_OK) {
		tool_report(rc);
		goto out;
	}
	snprintf(serial, sizeof(serial), "%s", r.serial);
	if (r.der != NULL) {
		p = r.der;
		x = d2i_X509(NULL, &p, (long)r.der_len);
	}
	if ((a.form == O_PEM || a.form == O_DER) && x == NULL) {
		tool_errorf("serial %s: the database holds no certificate for it (imported "
		            "without its file)",
		            serial);
		goto out;
	}
	if (a.form == O_PEM)
		ret = PEM_write_X509(stdout, x) ? TOOL_EXIT_OK : TOOL_EXIT_FAIL;
	else if (a.form == O_DER)
		ret = tool_write_atomic("-", r.der, r.der_len);
	else if (a.form == O_JSON) {
		ret = json_print(json_row(&r, (int64_t)time(NULL)));
	} else {
		show_text(&r, x);
		ret = TOOL_EXIT_OK;
	}
	if (fflush(stdout) != 0)
		ret = TOOL_EXIT_FAIL;
out:
	X509_free(x);
	cadb_row_free(&r);
	ca_close(ca);
	return ret;
}

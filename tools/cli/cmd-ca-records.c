/*
 * cmd-ca-records.c - p11ca ca list|show: the CA's records, read without
 * the token; --json through libjansson (one document, printed whole, so a
 * failure leaves standard output empty).
 */
#include "config.h"

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
	      json_object_set_new(o, "reason", reason != NULL ? json_string(reason) : json_null()) !=
	              0 ||
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
		return json_array_append_new(st->array, json_row(r, st->now)) != 0 ?
		               res_set(RES_NOMEM, "out of memory") :
		               0;
	pki_time_iso(r->not_after, iso);
	printf("%-32s  %-7s  %s  %s\n", r->serial, tool_ca_status_name(r, st->now), iso, r->subject);
	return 0;
}

static void list_help(void)
{
	printf("usage: p11ca ca list --dir D [--status valid|revoked|expired|all] [--json]\n\n"
	       "Lists the certificates the CA issued (or imported), in serial order: serial,\n"
	       "status, end of validity and subject; --json for an array of objects with\n"
	       "every field (serial, status, subject, sans, not_before, not_after,\n"
	       "revoked_at, reason, invalidity_date, profile).\n");
}

int tool_ca_list(int argc, char **argv)
{
	enum { O_DIR = OPT_FIRST_LOCAL, O_STATUS, O_JSON };
	static const struct option opts[] = { TOOL_COMMON_OPTIONS,
		                               { "dir", required_argument, NULL, O_DIR },
		                               { "status", required_argument, NULL, O_STATUS },
		                               { "json", no_argument, NULL, O_JSON },
		                               { 0 } };
	struct tool_common c = { 0 };
	struct ca *ca;
	struct list_state st = { 0, NULL, (int64_t)time(NULL) };
	const char *dir = NULL;
	enum cadb_status status = CADB_ALL;
	int opt, ret, rc;

	while ((opt = getopt_long(argc, argv, TOOL_SHORT, opts, NULL)) != -1) {
		if (tool_common_opt(&c, opt, optarg))
			continue;
		switch (opt) {
		case O_DIR: dir = optarg; break;
		case O_STATUS:
			if (strcmp(optarg, "valid") == 0)
				status = CADB_VALID;
			else if (strcmp(optarg, "revoked") == 0)
				status = CADB_REVOKED;
			else if (strcmp(optarg, "expired") == 0)
				status = CADB_EXPIRED;
			else if (strcmp(optarg, "all") == 0)
				status = CADB_ALL;
			else {
				tool_errorf("--status '%s': valid, revoked, expired or all", optarg);
				return TOOL_EXIT_USAGE;
			}
			break;
		case O_JSON: st.json = 1; break;
		case OPT_HELP: list_help(); return TOOL_EXIT_OK;
		default: return TOOL_EXIT_USAGE;
		}
	}
	if (optind != argc) {
		tool_errorf("unexpected argument '%s'", argv[optind]);
		return TOOL_EXIT_USAGE;
	}
	if (dir == NULL) {
		tool_errorf("--dir D is required");
		return TOOL_EXIT_USAGE;
	}
	if ((ca = tool_ca_open(dir, &c, 0, 0)) == NULL)
		return TOOL_EXIT_FAIL;
	if (st.json && (st.array = json_array()) == NULL) {
		ca_close(ca);
		return tool_report(res_set(RES_NOMEM, "out of memory"));
	}
	if (!st.json)
		printf("%-32s  %-7s  %-20s  %s\n", "serial", "status", "not_after", "subject");
	rc = cadb_foreach(ca->db, status, st.now, 0, list_one, &st);
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

static void show_help(void)
{
	printf("usage: p11ca ca show --dir D SERIAL [--json | --pem | --der]\n\n"
	       "One record of the database: its fields and a summary of the certificate;\n"
	       "--json the fields as an object; --pem or --der the certificate itself.\n");
}

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
		       ca_reason_name(r->reason) != NULL ? ca_reason_name(r->reason) : "unspecified");
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
			printf("key:        %s %d bits\n", EVP_PKEY_get0_type_name(pk), EVP_PKEY_get_bits(pk));
	}
	if (pki_fingerprint(x, "SHA256", 1, fp, sizeof(fp)) == RES_OK)
		printf("sha256:     %s\n", fp);
}

int tool_ca_show(int argc, char **argv)
{
	enum { O_DIR = OPT_FIRST_LOCAL, O_JSON, O_PEM, O_DER };
	static const struct option opts[] = { TOOL_COMMON_OPTIONS,
		                               { "dir", required_argument, NULL, O_DIR },
		                               { "json", no_argument, NULL, O_JSON },
		                               { "pem", no_argument, NULL, O_PEM },
		                               { "der", no_argument, NULL, O_DER },
		                               { 0 } };
	struct tool_common c = { 0 };
	struct ca *ca;
	struct cadb_row r = { 0 };
	const char *dir = NULL;
	char serial[CA_SERIAL_MAX];
	int opt, ret, form = 0, rc;
	const unsigned char *p;
	X509 *x = NULL;

	while ((opt = getopt_long(argc, argv, TOOL_SHORT, opts, NULL)) != -1) {
		if (tool_common_opt(&c, opt, optarg))
			continue;
		switch (opt) {
		case O_DIR: dir = optarg; break;
		case O_JSON: case O_PEM: case O_DER: form = opt; break;
		case OPT_HELP: show_help(); return TOOL_EXIT_OK;
		default: return TOOL_EXIT_USAGE;
		}
	}
	if (optind + 1 != argc) {
		tool_errorf("ca show needs one SERIAL");
		return TOOL_EXIT_USAGE;
	}
	if (pki_serial_normalise(argv[optind], serial) != RES_OK) {
		tool_errorf("'%s' is not a hexadecimal serial", argv[optind]);
		return TOOL_EXIT_USAGE;
	}
	if (dir == NULL) {
		tool_errorf("--dir D is required");
		return TOOL_EXIT_USAGE;
	}
	if ((ca = tool_ca_open(dir, &c, 0, 0)) == NULL)
		return TOOL_EXIT_FAIL;
	ret = TOOL_EXIT_FAIL;
	if ((rc = cadb_get(ca->db, serial, &r)) != RES_OK) {
		if (rc == RES_NOT_FOUND)
			tool_errorf("serial %s: no such certificate in %s", serial, ca->conf.db);
		else
			tool_report(rc);
		goto out;
	}
	if (r.der != NULL) {
		p = r.der;
		x = d2i_X509(NULL, &p, (long)r.der_len);
	}
	if ((form == O_PEM || form == O_DER) && x == NULL) {
		tool_errorf("serial %s: the database holds no certificate for it (imported "
		            "without its file)",
		            serial);
		goto out;
	}
	if (form == O_PEM)
		ret = PEM_write_X509(stdout, x) ? TOOL_EXIT_OK : TOOL_EXIT_FAIL;
	else if (form == O_DER)
		ret = tool_write_atomic("-", r.der, r.der_len);
	else if (form == O_JSON) {
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


/*
 * cmd-ca-records.c - p11ca ca list|show|import-openssl|export-index: the
 * CA's records, read and written without the token.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "ca.h"

static const char *status_name(const struct ca_row *r, int64_t now)
{
	if (r->status == 'R')
		return "revoked";
	return r->not_after < now ? "expired" : "valid";
}

/* Common option parsing for the verbs taking --dir only (plus @extra). */
static int open_ro(struct ca *ca, const char *dir, const struct tool_common *c)
{
	if (dir == NULL) {
		tool_errorf("--dir D is required");
		return TOOL_EXIT_USAGE;
	}
	return ca_open(ca, dir, c, 0, 0);
}

/* ------------------------------------------------------------------ */
/* ca list                                                             */
/* ------------------------------------------------------------------ */

struct list_state {
	int json, first;
	int64_t now;
};

static void json_time(const char *key, int64_t t)
{
	char iso[24];

	printf(",\"%s\":", key);
	if (t == 0) {
		printf("null");
		return;
	}
	pki_time_iso(t, iso);
	printf("\"%s\"", iso);
}

static void json_row(const struct ca_row *r, int64_t now)
{
	char *sans = r->sans != NULL ? strdup(r->sans) : NULL, *p, *save = NULL;
	int first = 1;

	printf("{\"serial\":");
	tool_json_str(stdout, r->serial);
	printf(",\"status\":\"%s\",\"subject\":", status_name(r, now));
	tool_json_str(stdout, r->subject);
	printf(",\"sans\":[");
	for (p = sans != NULL ? strtok_r(sans, ",", &save) : NULL; p != NULL;
	     p = strtok_r(NULL, ",", &save)) {
		printf("%s", first ? "" : ",");
		tool_json_str(stdout, p);
		first = 0;
	}
	printf("]");
	free(sans);
	json_time("not_before", r->not_before);
	json_time("not_after", r->not_after);
	json_time("revoked_at", r->revoked_at);
	printf(",\"reason\":");
	if (r->status == 'R' && ca_reason_name(r->reason) != NULL)
		printf("\"%s\"", ca_reason_name(r->reason));
	else
		printf("null");
	json_time("invalidity_date", r->invalidity);
	printf(",\"profile\":");
	if (r->profile != NULL)
		tool_json_str(stdout, r->profile);
	else
		printf("null");
	printf("}");
}

static int list_one(const struct ca_row *r, void *arg)
{
	struct list_state *st = arg;
	char iso[24];

	if (st->json) {
		printf("%s\n  ", st->first ? "" : ",");
		json_row(r, st->now);
	} else {
		pki_time_iso(r->not_after, iso);
		printf("%-32s  %-7s  %s  %s\n", r->serial, status_name(r, st->now), iso, r->subject);
	}
	st->first = 0;
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
	struct ca ca;
	struct list_state st = { 0, 1, (int64_t)time(NULL) };
	const char *dir = NULL;
	char status = 0;
	int opt, ret;

	while ((opt = getopt_long(argc, argv, TOOL_SHORT, opts, NULL)) != -1) {
		if (tool_common_opt(&c, opt, optarg))
			continue;
		switch (opt) {
		case O_DIR: dir = optarg; break;
		case O_STATUS:
			if (strcmp(optarg, "valid") == 0)
				status = 'V';
			else if (strcmp(optarg, "revoked") == 0)
				status = 'R';
			else if (strcmp(optarg, "expired") == 0)
				status = 'E';
			else if (strcmp(optarg, "all") == 0)
				status = 0;
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
	if ((ret = open_ro(&ca, dir, &c)) != TOOL_EXIT_OK)
		return ret;
	if (st.json)
		printf("[");
	else
		printf("%-32s  %-7s  %-20s  %s\n", "serial", "status", "not_after", "subject");
	ret = ca_db_foreach(ca.db, status, st.now, 0, list_one, &st);
	if (st.json)
		printf("%s]\n", st.first ? "" : "\n");
	if (fflush(stdout) != 0) {
		tool_errorf("cannot write to standard output");
		ret = TOOL_EXIT_FAIL;
	}
	ca_close(&ca);
	return ret;
}

/* ------------------------------------------------------------------ */
/* ca show                                                             */
/* ------------------------------------------------------------------ */

static void show_help(void)
{
	printf("usage: p11ca ca show --dir D SERIAL [--json | --pem | --der]\n\n"
	       "One record of the database: its fields and a summary of the certificate;\n"
	       "--json the fields as an object; --pem or --der the certificate itself.\n");
}

static void show_text(const struct ca_row *r, X509 *x)
{
	char iso[24], fp[EVP_MAX_MD_SIZE * 3 + 1];
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0, i;
	int64_t now = (int64_t)time(NULL);
	char *issuer;

	printf("serial:     %s\n", r->serial);
	printf("status:     %s\n", status_name(r, now));
	printf("subject:    %s\n", r->subject);
	printf("sans:       %s\n", r->sans != NULL ? r->sans : "(none)");
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
	if ((issuer = X509_NAME_oneline(X509_get_issuer_name(x), NULL, 0)) != NULL)
		printf("issuer:     %s\n", issuer);
	OPENSSL_free(issuer);
	{
		EVP_PKEY *pk = X509_get0_pubkey(x);
		if (pk != NULL)
			printf("key:        %s %d bits\n", EVP_PKEY_get0_type_name(pk), EVP_PKEY_get_bits(pk));
	}
	if (X509_digest(x, EVP_sha256(), md, &mdlen)) {
		for (i = 0; i < mdlen; i++)
			sprintf(fp + 3 * i, "%02X%s", md[i], i + 1 < mdlen ? ":" : "");
		printf("sha256:     %s\n", fp);
	}
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
	struct ca ca;
	struct ca_row r;
	const char *dir = NULL;
	char serial[CA_SERIAL_MAX];
	int opt, ret, form = 0;
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
	if (!ca_serial_normalise(argv[optind], serial)) {
		tool_errorf("'%s' is not a hexadecimal serial", argv[optind]);
		return TOOL_EXIT_USAGE;
	}
	if ((ret = open_ro(&ca, dir, &c)) != TOOL_EXIT_OK)
		return ret;
	ret = TOOL_EXIT_FAIL;
	switch (ca_db_get(ca.db, serial, &r)) {
	case 0: break;
	case 1: tool_errorf("serial %s: no such certificate in %s", serial, ca.conf.db); /* fall through */
	default: ca_close(&ca); return TOOL_EXIT_FAIL;
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
		json_row(&r, (int64_t)time(NULL));
		printf("\n");
		ret = TOOL_EXIT_OK;
	} else {
		show_text(&r, x);
		ret = TOOL_EXIT_OK;
	}
	if (fflush(stdout) != 0)
		ret = TOOL_EXIT_FAIL;
out:
	X509_free(x);
	ca_row_free(&r);
	ca_close(&ca);
	return ret;
}

/* ------------------------------------------------------------------ */
/* openssl ca's index.txt                                              */
/* ------------------------------------------------------------------ */

/* YYMMDDHHMMSSZ (UTCTime) or YYYYMMDDHHMMSSZ; 0 if malformed. */
static int parse_index_time(const char *s, int64_t *out)
{
	ASN1_TIME *t = ASN1_TIME_new();
	struct tm tm;
	int ok = t != NULL && ASN1_TIME_set_string(t, s) == 1 && ASN1_TIME_to_tm(t, &tm) == 1;

	ASN1_TIME_free(t);
	if (ok)
		*out = (int64_t)timegm(&tm);
	return ok;
}

/* openssl ca's names of the reasons it writes (apps/ca.c) */
static int openssl_reason(const char *name, int *code, int *with_time)
{
	*with_time = 0;
	if (strcmp(name, "keyTime") == 0) {
		*code = 1;
		*with_time = 1;
	} else if (strcmp(name, "CAkeyTime") == 0) {
		*code = 2;
		*with_time = 1;
	} else if (strcmp(name, "holdInstruction") == 0) {
		*code = 6;
		*with_time = -1; /* an OID follows, dropped */
	} else if (strcmp(name, "removeFromCRL") == 0) {
		*code = 8;
	} else if ((*code = ca_reason_code(name)) < 0) {
		return 0;
	}
	return 1;
}

static void import_help(void)
{
	printf("usage: p11ca ca import-openssl --dir D OPENSSL_CA_DIR\n\n"
	       "Imports the records of an 'openssl ca' directory into D's database:\n"
	       "index.txt (status, expiry, revocation and reason, serial, subject) and the\n"
	       "certificates from newcerts/SERIAL.pem (a record without its file is\n"
	       "imported without the certificate, with a warning; one another CA issued\n"
	       "is refused), and crlnumber, so that\n"
	       "CRL numbers go on from there.  All in one\n"
	       "transaction: a malformed line, or a serial the database has already,\n"
	       "imports nothing.\n");
}

/*
 * newcerts/SERIAL.pem of the openssl ca directory, into @r; 0 if absent.
 * It must have been issued by @cacert (names and signature), when known.
 */
static int import_cert(const char *odir, X509 *cacert, struct ca_row *r, int lineno)
{
	char path[4096];
	struct ca_row got;
	FILE *f;
	X509 *x;

	snprintf(path, sizeof(path), "%s/newcerts/%s.pem", odir, r->serial);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (x == NULL) {
		ERR_clear_error();
		tool_errorf("%s: not a PEM certificate", path);
		return -1;
	}
	if (cacert != NULL && (X509_check_issued(cacert, x) != X509_V_OK ||
	                       X509_verify(x, X509_get0_pubkey(cacert)) <= 0)) {
		ERR_clear_error();
		tool_errorf("%s was not issued by this CA (its certificate); nothing imported", path);
		X509_free(x);
		return -1;
	}
	if (!ca_row_from_cert(x, &got)) {
		X509_free(x);
		return -1;
	}
	X509_free(x);
	if (strcmp(got.serial, r->serial) != 0) {
		tool_errorf("index.txt line %d: %s holds serial %s", lineno, path, got.serial);
		ca_row_free(&got);
		return -1;
	}
	r->not_before = got.not_before;
	r->sans = got.sans;
	r->der = got.der;
	r->der_len = got.der_len;
	got.sans = NULL;
	got.der = NULL;
	ca_row_free(&got);
	return 1;
}

/*
 * openssl ca's crlnumber file holds the next CRL's number (hex): the CRLs
 * p11ca signs continue from it, never below a number already used.
 */
static int import_crl_number(sqlite3 *db, const char *odir)
{
	char path[4096], line[64], *end;
	unsigned long long next;
	sqlite3_stmt *st = NULL;
	FILE *f;
	int ok;

	snprintf(path, sizeof(path), "%s/crlnumber", odir);
	if ((f = fopen(path, "r")) == NULL)
		return TOOL_EXIT_OK;
	ok = fgets(line, sizeof(line), f) != NULL;
	fclose(f);
	line[strcspn(line, "\r\n")] = '\0';
	next = ok ? strtoull(line, &end, 16) : 0;
	if (!ok || *end != '\0' || next == 0 || next > INT64_MAX) {
		tool_errorf("%s: not a CRL number", path);
		return TOOL_EXIT_FAIL;
	}
	ok = sqlite3_prepare_v2(db,
	                        "UPDATE meta SET value = max(CAST(value AS INTEGER), ?)"
	                        " WHERE key = 'crl_number'",
	                        -1, &st, NULL) == SQLITE_OK &&
	     sqlite3_bind_int64(st, 1, (sqlite3_int64)(next - 1)) == SQLITE_OK &&
	     sqlite3_step(st) == SQLITE_DONE;
	if (!ok)
		tool_errorf("database: the CRL number: %s", sqlite3_errmsg(db));
	sqlite3_finalize(st);
	return ok ? TOOL_EXIT_OK : TOOL_EXIT_FAIL;
}

int tool_ca_import_openssl(int argc, char **argv)
{
	enum { O_DIR = OPT_FIRST_LOCAL };
	static const struct option opts[] = { TOOL_COMMON_OPTIONS,
		                               { "dir", required_argument, NULL, O_DIR },
		                               { 0 } };
	struct tool_common c = { 0 };
	struct ca ca;
	const char *dir = NULL, *odir;
	char path[4096], *line = NULL, *f[6], *p, *rest;
	size_t cap = 0, n, nocert = 0, count = 0;
	int opt, ret, lineno = 0, in_tx = 0, rc, k, with_time;
	ssize_t len;
	FILE *in = NULL;
	struct ca_row r;

	while ((opt = getopt_long(argc, argv, TOOL_SHORT, opts, NULL)) != -1) {
		if (tool_common_opt(&c, opt, optarg))
			continue;
		switch (opt) {
		case O_DIR: dir = optarg; break;
		case OPT_HELP: import_help(); return TOOL_EXIT_OK;
		default: return TOOL_EXIT_USAGE;
		}
	}
	if (optind + 1 != argc) {
		tool_errorf("ca import-openssl needs --dir D and the openssl ca directory");
		return TOOL_EXIT_USAGE;
	}
	odir = argv[optind];
	snprintf(path, sizeof(path), "%s/index.txt", odir);
	if ((in = fopen(path, "r")) == NULL) {
		tool_errorf("cannot open %s: %s", path, strerror(errno));
		return TOOL_EXIT_FAIL;
	}
	if ((ret = open_ro(&ca, dir, &c)) != TOOL_EXIT_OK) {
		fclose(in);
		return ret;
	}
	ret = TOOL_EXIT_FAIL;
	memset(&r, 0, sizeof(r));
	if (ca_db_begin(ca.db) != TOOL_EXIT_OK)
		goto out;
	in_tx = 1;
	while ((len = getline(&line, &cap, in)) >= 0) {
		lineno++;
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		if (len == 0)
			continue;
		for (n = 0, p = line; n < 6; n++) {
			f[n] = p;
			if (n < 5) {
				if ((p = strchr(p, '\t')) == NULL)
					break;
				*p++ = '\0';
			}
		}
		memset(&r, 0, sizeof(r));
		r.reason = -1;
		if (n < 5 || (f[0][0] != 'V' && f[0][0] != 'R' && f[0][0] != 'E') || f[0][1] != '\0' ||
		    !parse_index_time(f[1], &r.not_after) || !ca_serial_normalise(f[3], r.serial) ||
		    f[5][0] != '/') {
			tool_errorf("%s line %d: not an openssl ca index line", path, lineno);
			goto out;
		}
		r.status = f[0][0] == 'R' ? 'R' : 'V';
		if (r.status == 'R') {
			/* revocation time[,reason[,time or OID]] */
			if ((rest = strchr(f[2], ',')) != NULL)
				*rest++ = '\0';
			if (!parse_index_time(f[2], &r.revoked_at)) {
				tool_errorf("%s line %d: bad revocation time '%s'", path, lineno, f[2]);
				goto out;
			}
			r.reason = 0;
			if (rest != NULL) {
				char *extra = strchr(rest, ',');
				if (extra != NULL)
					*extra++ = '\0';
				if (!openssl_reason(rest, &r.reason, &with_time) ||
				    (with_time == 1 &&
				     (extra == NULL || !parse_index_time(extra, &r.invalidity)))) {
					tool_errorf("%s line %d: bad revocation reason '%s'", path, lineno,
					            rest);
					goto out;
				}
			}
		}
		r.subject = f[5];
		r.issued_at = (int64_t)time(NULL);
		if ((k = import_cert(odir, ca.cert, &r, lineno)) < 0)
			goto out;
		if (k == 0)
			nocert++;
		rc = ca_db_insert(ca.db, &r);
		r.subject = NULL; /* points into line */
		ca_row_free(&r);
		if (rc == 1)
			tool_errorf("%s line %d: serial %s is in the database already; nothing "
			            "imported",
			            path, lineno, f[3]);
		if (rc != 0)
			goto out;
		count++;
	}
	if (ferror(in)) {
		tool_errorf("cannot read %s", path);
		goto out;
	}
	if (import_crl_number(ca.db, odir) != TOOL_EXIT_OK)
		goto out;
	if (ca_db_commit(ca.db) != TOOL_EXIT_OK)
		goto out;
	in_tx = 0;
	if (nocert > 0)
		tool_warnf("%zu records without their certificate in %s/newcerts (imported "
		           "without it)",
		           nocert, odir);
	printf("imported %zu records\n", count);
	ret = TOOL_EXIT_OK;
out:
	r.subject = NULL;
	ca_row_free(&r);
	if (in_tx)
		ca_db_rollback(ca.db);
	free(line);
	fclose(in);
	ca_close(&ca);
	return ret;
}

/* ------------------------------------------------------------------ */
/* ca export-index                                                     */
/* ------------------------------------------------------------------ */

struct export_state {
	FILE *out;
	int64_t now;
};

static int export_one(const struct ca_row *r, void *arg)
{
	struct export_state *st = arg;
	char exp[64], rev[160] = "", inv[64];

	pki_time_asn1(r->not_after, 0, exp, sizeof(exp));
	if (r->status == 'R') {
		pki_time_asn1(r->revoked_at, 0, rev, sizeof(rev));
		if (r->invalidity != 0 && (r->reason == 1 || r->reason == 2)) {
			pki_time_asn1(r->invalidity, 1, inv, sizeof(inv));
			snprintf(rev + strlen(rev), sizeof(rev) - strlen(rev), ",%s,%s",
			         r->reason == 1 ? "keyTime" : "CAkeyTime", inv);
		} else if (r->reason == 2) {
			snprintf(rev + strlen(rev), sizeof(rev) - strlen(rev), ",CACompromise");
		} else if (r->reason > 0 && r->reason <= 6) {
			snprintf(rev + strlen(rev), sizeof(rev) - strlen(rev), ",%s",
			         ca_reason_name(r->reason));
		}
	}
	fprintf(st->out, "%c\t%s\t%s\t%s\tunknown\t%s\n",
	        r->status == 'R' ? 'R' : r->not_after < st->now ? 'E' : 'V', exp, rev, r->serial,
	        r->subject);
	return ferror(st->out) ? TOOL_EXIT_FAIL : 0;
}

static void export_help(void)
{
	printf("usage: p11ca ca export-index --dir D [--out FILE]\n\n"
	       "Writes the database as an 'openssl ca' index.txt (V/E/R lines with expiry,\n"
	       "revocation time and reason, serial, subject), which 'openssl ocsp -index'\n"
	       "serves from: e.g. openssl ocsp -index FILE -CA D/ca.pem -rsigner ocsp.pem\n"
	       "-rkey KEY -port 8080.  Standard output unless --out; with --out also\n"
	       "FILE.attr (unique_subject = no), which openssl needs for a CA that has\n"
	       "issued two certificates to one subject.\n");
}

int tool_ca_export_index(int argc, char **argv)
{
	enum { O_DIR = OPT_FIRST_LOCAL, O_OUT };
	static const struct option opts[] = { TOOL_COMMON_OPTIONS,
		                               { "dir", required_argument, NULL, O_DIR },
		                               { "out", required_argument, NULL, O_OUT },
		                               { 0 } };
	struct tool_common c = { 0 };
	struct ca ca;
	struct export_state st = { NULL, (int64_t)time(NULL) };
	const char *dir = NULL, *out = "-";
	char *buf = NULL;
	size_t len = 0;
	int opt, ret;

	while ((opt = getopt_long(argc, argv, TOOL_SHORT, opts, NULL)) != -1) {
		if (tool_common_opt(&c, opt, optarg))
			continue;
		switch (opt) {
		case O_DIR: dir = optarg; break;
		case O_OUT: out = optarg; break;
		case OPT_HELP: export_help(); return TOOL_EXIT_OK;
		default: return TOOL_EXIT_USAGE;
		}
	}
	if (optind != argc) {
		tool_errorf("unexpected argument '%s'", argv[optind]);
		return TOOL_EXIT_USAGE;
	}
	if ((ret = open_ro(&ca, dir, &c)) != TOOL_EXIT_OK)
		return ret;
	if ((st.out = open_memstream(&buf, &len)) == NULL) {
		tool_errorf("out of memory");
		ca_close(&ca);
		return TOOL_EXIT_FAIL;
	}
	ret = ca_db_foreach(ca.db, 0, st.now, 0, export_one, &st);
	if (fclose(st.out) != 0)
		ret = TOOL_EXIT_FAIL;
	if (ret == TOOL_EXIT_OK)
		ret = tool_write_atomic(out, (unsigned char *)buf, len);
	/*
	 * openssl reads FILE.attr beside the index and otherwise insists on
	 * unique subjects, which a CA that renews certificates does not have
	 */
	if (ret == TOOL_EXIT_OK && strcmp(out, "-") != 0) {
		static const char attr[] = "unique_subject = no\n";
		char *attr_path = malloc(strlen(out) + 6);
		if (attr_path == NULL) {
			tool_errorf("out of memory");
			ret = TOOL_EXIT_FAIL;
		} else {
			sprintf(attr_path, "%s.attr", out);
			ret = tool_write_atomic(attr_path, (const unsigned char *)attr, strlen(attr));
			free(attr_path);
		}
	}
	free(buf);
	ca_close(&ca);
	return ret;
}

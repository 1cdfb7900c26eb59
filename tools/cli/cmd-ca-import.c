/*
 * cmd-ca-import.c - p11ca ca import-openssl|export-index: an 'openssl ca'
 * directory's records moved into the database, and the database written as
 * an index.txt that 'openssl ocsp -index' serves from.
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include "cmd-ca.h"

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

static const char import_help[] =
    "usage: p11ca ca import-openssl --dir D OPENSSL_CA_DIR\n\n"
    "Imports the records of an 'openssl ca' directory into D's database:\n"
    "index.txt (status, expiry, revocation and reason, serial, subject) and the\n"
    "certificates from newcerts/SERIAL.pem (a record without its file is\n"
    "imported without the certificate, with a warning; one another CA issued\n"
    "is refused), and crlnumber, so that\n"
    "CRL numbers go on from there.  All in one\n"
    "transaction: a malformed line, or a serial the database has already,\n"
    "imports nothing.\n";

/*
 * newcerts/SERIAL.pem of the openssl ca directory, into @r; 0 if absent.
 * It must have been issued by @cacert (names and signature), when known.
 */
static int import_cert(const char *odir, X509 *cacert, struct cadb_row *r, int lineno)
{
	char path[4096];
	struct cadb_row got;
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
		tool_errorf("%s was not issued by this CA (its certificate); nothing imported",
		            path);
		X509_free(x);
		return -1;
	}
	if (ca_row_from_cert(x, &got) != RES_OK) {
		X509_free(x);
		tool_report(res_prefix(RES_BAD_INPUT, "%s", path));
		return -1;
	}
	X509_free(x);
	if (strcmp(got.serial, r->serial) != 0) {
		tool_errorf("index.txt line %d: %s holds serial %s", lineno, path, got.serial);
		cadb_row_free(&got);
		return -1;
	}
	r->not_before = got.not_before;
	r->sans = got.sans;
	r->nsans = got.nsans;
	r->der = got.der;
	r->der_len = got.der_len;
	got.sans = NULL;
	got.nsans = 0;
	got.der = NULL;
	cadb_row_free(&got);
	return 1;
}

/*
 * openssl ca's crlnumber file holds the next CRL's number (hex): the CRLs
 * p11ca signs continue from it, never below a number already used.
 */
static int import_crl_number(struct cadb *db, const char *odir)
{
	char path[4096], line[64], *end;
	unsigned long long next;
	FILE *f;
	int ok;

	snprintf(path, sizeof(path), "%s/crlnumber", odir);
	if ((f = fopen(path, "r")) == NULL)
		return TOOL_EXIT_OK;
	line[0] = '\0';
	ok = fgets(line, sizeof(line), f) != NULL;
	fclose(f);
	line[strcspn(line, "\r\n")] = '\0';
	end = line;
	next = ok ? strtoull(line, &end, 16) : 0;
	if (!ok || *end != '\0' || next == 0 || next > INT64_MAX) {
		tool_errorf("%s: not a CRL number", path);
		return TOOL_EXIT_FAIL;
	}
	/* the number of the last CRL openssl ca signed; ours never go below it */
	return tool_report(cadb_set_crl_number(db, (int64_t)(next - 1)));
}

int tool_ca_import_openssl(int argc, char **argv)
{
	static const struct tool_opt opts[] = { TOOL_CA_DIR_OPT, { NULL, 0, 0 } };
	struct tool_common c = { 0 };
	struct ca *ca = NULL;
	const char *dir = NULL, *odir;
	char path[4096], *line = NULL, *f[6], *p, *rest;
	size_t cap = 0, n, nocert = 0, count = 0;
	int ret, lineno = 0, in_tx = 0, rc, k, with_time;
	ssize_t len;
	FILE *in = NULL;
	struct cadb_row r;

	if ((ret = tool_parse(argc, argv, opts, import_help, &c, tool_ca_dir_opt, &dir)) !=
	    TOOL_PARSE_GO)
		return ret;
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
	memset(&r, 0, sizeof(r));
	if ((ret = tool_ca_open_records(dir, &c, &ca)) != TOOL_EXIT_OK)
		goto out;
	ret = TOOL_EXIT_FAIL;
	if (tool_report(cadb_begin(ca->db)) != TOOL_EXIT_OK)
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
		if (n < 5 || (f[0][0] != 'V' && f[0][0] != 'R' && f[0][0] != 'E') ||
		    f[0][1] != '\0' || !parse_index_time(f[1], &r.not_after) ||
		    pki_serial_normalise(f[3], r.serial) != RES_OK || f[5][0] != '/') {
			tool_errorf("%s line %d: not an openssl ca index line", path, lineno);
			goto out;
		}
		r.status = f[0][0] == 'R' ? 'R' : 'V';
		if (r.status == 'R') {
			/* revocation time[,reason[,time or OID]] */
			if ((rest = strchr(f[2], ',')) != NULL)
				*rest++ = '\0';
			if (!parse_index_time(f[2], &r.revoked_at)) {
				tool_errorf("%s line %d: bad revocation time '%s'", path, lineno,
				            f[2]);
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
					tool_errorf("%s line %d: bad revocation reason '%s'", path,
					            lineno, rest);
					goto out;
				}
			}
		}
		r.subject = f[5];
		r.issued_at = (int64_t)time(NULL);
		if ((k = import_cert(odir, ca->cert, &r, lineno)) < 0)
			goto out;
		if (k == 0)
			nocert++;
		rc = cadb_insert(ca->db, &r);
		r.subject = NULL; /* points into line */
		cadb_row_free(&r);
		if (rc == RES_TAKEN)
			tool_errorf("%s line %d: serial %s is in the database already; nothing "
			            "imported",
			            path, lineno, f[3]);
		else if (rc != RES_OK)
			tool_report(rc);
		if (rc != RES_OK)
			goto out;
		count++;
	}
	if (ferror(in)) {
		tool_errorf("cannot read %s", path);
		goto out;
	}
	if (import_crl_number(ca->db, odir) != TOOL_EXIT_OK)
		goto out;
	if (tool_report(cadb_commit(ca->db)) != TOOL_EXIT_OK)
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
	cadb_row_free(&r);
	if (in_tx)
		cadb_rollback(ca->db);
	free(line);
	fclose(in);
	ca_close(ca);
	return ret;
}

/* ------------------------------------------------------------------ */
/* ca export-index                                                     */
/* ------------------------------------------------------------------ */

struct export_state {
	FILE *out;
	int64_t now;
};

static int export_one(const struct cadb_row *r, void *arg)
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
	        r->status == 'R'         ? 'R'
	        : r->not_after < st->now ? 'E'
	                                 : 'V',
	        exp, rev, r->serial, r->subject);
	return ferror(st->out) ? res_set(RES_IO, "cannot write the index") : 0;
}

static const char export_help[] =
    "usage: p11ca ca export-index --dir D [--out FILE]\n\n"
    "Writes the database as an 'openssl ca' index.txt (V/E/R lines with expiry,\n"
    "revocation time and reason, serial, subject), which 'openssl ocsp -index'\n"
    "serves from: e.g. openssl ocsp -index FILE -CA D/ca.pem -rsigner ocsp.pem\n"
    "-rkey KEY -port 8080.  Standard output unless --out; with --out also\n"
    "FILE.attr (unique_subject = no), which openssl needs for a CA that has\n"
    "issued two certificates to one subject.\n";

enum { O_OUT = TOOL_CA_O_FIRST };

struct export_args {
	const char *dir, *out;
};

static int export_opt(int id, const char *arg, void *data)
{
	struct export_args *a = data;

	switch (id) {
	case TOOL_CA_O_DIR: a->dir = arg; break;
	case O_OUT: a->out = arg; break;
	default: return TOOL_EXIT_USAGE;
	}
	return 0;
}

int tool_ca_export_index(int argc, char **argv)
{
	static const struct tool_opt opts[] = {
		TOOL_CA_DIR_OPT,
		{ "out", required_argument, O_OUT },
		{ NULL, 0, 0 },
	};
	struct tool_common c = { 0 };
	struct export_args a = { NULL, "-" };
	struct ca *ca;
	struct export_state st = { NULL, (int64_t)time(NULL) };
	const char *dir, *out;
	char *buf = NULL;
	size_t len = 0;
	int ret;

	if ((ret = tool_parse(argc, argv, opts, export_help, &c, export_opt, &a)) != TOOL_PARSE_GO)
		return ret;
	dir = a.dir;
	out = a.out;
	if (optind != argc) {
		tool_errorf("unexpected argument '%s'", argv[optind]);
		return TOOL_EXIT_USAGE;
	}
	if ((ret = tool_ca_open_records(dir, &c, &ca)) != TOOL_EXIT_OK)
		return ret;
	if ((st.out = open_memstream(&buf, &len)) == NULL) {
		tool_errorf("out of memory");
		ca_close(ca);
		return TOOL_EXIT_FAIL;
	}
	ret = tool_report(cadb_foreach(ca->db, CADB_ALL, st.now, 0, export_one, &st));
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
			ret =
			    tool_write_atomic(attr_path, (const unsigned char *)attr, strlen(attr));
			free(attr_path);
		}
	}
	free(buf);
	ca_close(ca);
	return ret;
}

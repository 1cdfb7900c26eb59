/*
 * cmd-ca-import.c - p11ca ca import-openssl|export-index: an 'openssl ca'
 * directory's records moved into the database, and the database written as
 * an index.txt that 'openssl ocsp -index' serves from.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cmd-ca.h"
#include "readfile.h"
#include "result.h"

/* newcerts/SERIAL.pem and crlnumber: small files */
#define NEWCERT_MAX   (1024 * 1024)
#define CRLNUMBER_MAX 1024

static const char import_help[] =
    "usage: p11ca ca import-openssl --dir D OPENSSL_CA_DIR\n\n"
    "Imports the records of an 'openssl ca' directory into D's database:\n"
    "index.txt (status, expiry, revocation and reason, serial, subject), the\n"
    "certificates from newcerts/SERIAL.pem and crlnumber, so that CRL numbers\n"
    "go on from there.  A certificate is the record (its subject, validity and\n"
    "SANs; index.txt fields that disagree are reported) when this CA issued it;\n"
    "one another CA issued is refused; a record without its file is imported\n"
    "from index.txt alone, with a warning.  Only regular files are read.  All\n"
    "in one transaction: a malformed line, or a serial the database has\n"
    "already, imports nothing.\n";

/* ca_import_load_fn: newcerts/SERIAL.pem of the openssl ca directory @arg. */
static int load_newcert(const char *serial, unsigned char **pbuf, size_t *plen, void *arg)
{
	char path[4096];

	if ((size_t)snprintf(path, sizeof(path), "%s/newcerts/%s.pem", (const char *)arg, serial) >=
	    sizeof(path))
		return res_set(RES_BAD_INPUT, "%s: path too long", (const char *)arg);
	return res_read_regular(path, NEWCERT_MAX, pbuf, plen);
}

int tool_ca_import_openssl(int argc, char **argv)
{
	static const struct tool_opt opts[] = { TOOL_CA_DIR_OPT, { NULL, 0, 0 } };
	struct tool_common c = { 0 };
	struct ca *ca = NULL;
	struct ca_import_report rep = { 0 };
	const char *dir = NULL, *odir;
	char path[4096];
	unsigned char *index = NULL, *crlnum = NULL;
	size_t len = 0, crllen = 0, i;
	int ret, rc;

	if ((ret = tool_parse(argc, argv, opts, import_help, &c, tool_ca_dir_opt, &dir)) !=
	    TOOL_PARSE_GO)
		return ret;
	if (optind + 1 != argc) {
		tool_errorf("ca import-openssl needs --dir D and the openssl ca directory");
		return TOOL_EXIT_USAGE;
	}
	odir = argv[optind];
	ret = TOOL_EXIT_FAIL;
	snprintf(path, sizeof(path), "%s/index.txt", odir);
	if (tool_report(res_read_regular(path, CA_INDEX_MAX, &index, &len)) != TOOL_EXIT_OK)
		goto out;
	snprintf(path, sizeof(path), "%s/crlnumber", odir);
	if ((rc = res_read_regular(path, CRLNUMBER_MAX, &crlnum, &crllen)) != RES_OK &&
	    rc != RES_NOT_FOUND) {
		tool_report(rc);
		goto out;
	}
	if ((ret = tool_ca_open_records(dir, &c, &ca)) != TOOL_EXIT_OK)
		goto out;
	ret = TOOL_EXIT_FAIL;
	rc = ca_import_openssl(ca, (const char *)index, len, (const char *)crlnum, crllen,
	                       load_newcert, (void *)odir, &rep);
	if (rc != RES_OK) {
		tool_errorf("%s: %s; nothing imported", odir, res_message());
		goto out;
	}
	for (i = 0; i < rep.nfindings; i++)
		tool_warnf("%s: %s", odir, rep.findings[i]);
	if (rep.more > 0)
		tool_warnf("%s/index.txt: %zu more records differ from their certificates", odir,
		           rep.more);
	if (rep.nocert > 0)
		tool_warnf("%zu records without their certificate in %s/newcerts (imported "
		           "without it)",
		           rep.nocert, odir);
	printf("imported %zu records\n", rep.count);
	ret = TOOL_EXIT_OK;
out:
	ca_import_report_free(&rep);
	free(index);
	free(crlnum);
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
	char *line = NULL;
	int rc;

	if ((rc = ca_index_format(r, st->now, &line)) != RES_OK)
		return rc;
	fputs(line, st->out);
	free(line);
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

/*
 * cmd-ca-revoke.c - p11ca ca revoke|crl: a certificate marked revoked in
 * the database, and the CRL signed on the token and written atomically.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cmd-ca.h"

static const char revoke_help[] =
    "usage: p11ca ca revoke --dir D (--serial HEX | --cert FILE)\n"
    "                       [--reason R] [--invalidity-date DATE]\n\n"
    "Marks a certificate revoked in the database; the next 'p11ca ca crl'\n"
    "lists it.  R: unspecified (default), keyCompromise, cACompromise,\n"
    "affiliationChanged, superseded, cessationOfOperation, certificateHold,\n"
    "privilegeWithdrawn, aACompromise.  DATE (when the key is known or\n"
    "suspected to have been compromised): YYYY-MM-DD, YYYY-MM-DDTHH:MM:SSZ,\n"
    "YYYY-MM-DD HH:MM:SS or YYYYMMDDHHMMSSZ (UTC).\n";

enum { O_SERIAL = TOOL_CA_O_FIRST, O_CERT, O_REASON, O_INVALIDITY, O_OUT, O_DER, O_PEM, O_DAYS };

/* ca revoke's and ca crl's options */
struct revoke_args {
	const char *dir, *serial_arg, *cert, *out;
	int64_t invalidity;
	int reason, pem; /* ca crl: PEM (--pem) rather than DER */
	long days;
};

static int revoke_opt(int id, const char *arg, void *data)
{
	struct revoke_args *a = data;

	switch (id) {
	case TOOL_CA_O_DIR: a->dir = arg; break;
	case O_SERIAL: a->serial_arg = arg; break;
	case O_CERT: a->cert = arg; break;
	case O_REASON:
		if ((a->reason = ca_reason_code(arg)) < 0) {
			tool_errorf("--reason '%s': unspecified, keyCompromise, cACompromise, "
			            "affiliationChanged, superseded, cessationOfOperation, "
			            "certificateHold, privilegeWithdrawn or aACompromise",
			            arg);
			return TOOL_EXIT_USAGE;
		}
		break;
	case O_INVALIDITY:
		if (pki_time_parse(arg, &a->invalidity) != RES_OK) {
			tool_report(res_prefix(RES_BAD_INPUT, "--invalidity-date"));
			return TOOL_EXIT_USAGE;
		}
		if (a->invalidity > (int64_t)time(NULL)) {
			tool_errorf("--invalidity-date '%s' is in the future: it says when the "
			            "key was (or may have been) compromised",
			            arg);
			return TOOL_EXIT_USAGE;
		}
		break;
	case O_OUT: a->out = arg; break;
	case O_DER: a->pem = 0; break;
	case O_PEM: a->pem = 1; break;
	case O_DAYS: return tool_parse_days("--days", arg, &a->days) ? 0 : TOOL_EXIT_USAGE;
	default: return TOOL_EXIT_USAGE;
	}
	return 0;
}

int tool_ca_revoke(int argc, char **argv)
{
	static const struct tool_opt opts[] = {
		TOOL_CA_DIR_OPT,
		{ "serial", required_argument, O_SERIAL },
		{ "cert", required_argument, O_CERT },
		{ "reason", required_argument, O_REASON },
		{ "invalidity-date", required_argument, O_INVALIDITY },
		{ NULL, 0, 0 },
	};
	struct tool_common c = { 0 };
	struct revoke_args a = { 0 };
	struct ca *ca;
	char serial[CA_SERIAL_MAX];
	int rc, ret = TOOL_EXIT_FAIL;
	X509 *x;

	if ((rc = tool_parse(argc, argv, opts, revoke_help, &c, revoke_opt, &a)) != TOOL_PARSE_GO)
		return rc;
	if (a.dir == NULL || (a.serial_arg == NULL) == (a.cert == NULL) || optind != argc) {
		tool_errorf("ca revoke needs --dir D and one of --serial or --cert");
		return TOOL_EXIT_USAGE;
	}
	if (a.serial_arg != NULL && pki_serial_normalise(a.serial_arg, serial) != RES_OK) {
		tool_errorf("--serial '%s' is not a hexadecimal serial", a.serial_arg);
		return TOOL_EXIT_USAGE;
	}
	if (a.cert != NULL) {
		if ((x = tool_read_cert(a.cert)) == NULL)
			return TOOL_EXIT_FAIL;
		rc = pki_serial_of(X509_get0_serialNumber(x), serial);
		X509_free(x);
		if (rc != RES_OK)
			return tool_report(res_prefix(rc, "%s", a.cert));
	}
	if ((ca = tool_ca_open(a.dir, &c, 0, 0)) == NULL)
		return TOOL_EXIT_FAIL;
	switch ((rc = ca_revoke(ca, serial, (int64_t)time(NULL), a.reason, a.invalidity))) {
	case RES_OK:
		if (c.verbose)
			fprintf(stderr, "p11ca: revoked %s (%s)\n", serial,
			        ca_reason_name(a.reason));
		ret = TOOL_EXIT_OK;
		break;
	case RES_NOT_FOUND:
		tool_errorf("serial %s: no such certificate in %s", serial, ca->conf.db);
		break;
	case RES_ALREADY: tool_errorf("serial %s is revoked already", serial); break;
	default: tool_report(rc); break;
	}
	ca_close(ca);
	return ret;
}

/* ca crl */

static const char crl_help[] =
    "usage: p11ca ca crl --dir D [--out FILE] [--pem | --der] [--days N]\n\n"
    "Writes a CRL (X.509 v2) of every revoked certificate, signed on the token:\n"
    "CRL number (one more each time), this update now, next update in --days\n"
    "(ca.conf crl_days, 7), authority key identifier; each entry with its\n"
    "reason code (left out for unspecified) and invalidity date.  DER (what a\n"
    "CRL distribution point serves: RFC 5280 clients such as OpenSSL's\n"
    "-crl_download read DER only) on standard output unless --out; --pem for\n"
    "PEM (--der, the default, is still accepted).\n";

/* ca_crl()'s output: into the temporary file beside --out (or standard output). */
static int write_piece(void *arg, const unsigned char *p, size_t len)
{
	return tool_atomic_write(arg, p, len) != TOOL_EXIT_OK;
}

int tool_ca_crl(int argc, char **argv)
{
	static const struct tool_opt opts[] = {
		TOOL_CA_DIR_OPT,
		{ "out", required_argument, O_OUT },
		{ "der", no_argument, O_DER },
		{ "pem", no_argument, O_PEM },
		{ "days", required_argument, O_DAYS },
		{ NULL, 0, 0 },
	};
	struct tool_common c = { 0 };
	struct revoke_args a = { .out = "-" };
	struct ca *ca = NULL;
	struct tool_atomic file;
	int ret = TOOL_EXIT_FAIL;
	int64_t number = 0;
	size_t count = 0;

	if ((ret = tool_parse(argc, argv, opts, crl_help, &c, revoke_opt, &a)) != TOOL_PARSE_GO)
		return ret;
	ret = TOOL_EXIT_FAIL;
	if (a.dir == NULL || optind != argc) {
		tool_errorf("ca crl needs --dir D");
		return TOOL_EXIT_USAGE;
	}
	if ((ca = tool_ca_open(a.dir, &c, 1, 1)) == NULL)
		return TOOL_EXIT_FAIL;
	/* the destination first: a CRL number is not spent on a file that cannot be */
	if (tool_atomic_open(&file, a.out) != TOOL_EXIT_OK)
		goto out;
	if (tool_report(ca_crl(ca, ca->conf.default_md, a.days > 0 ? a.days : ca->conf.crl_days,
	                       a.pem, write_piece, &file, &number, &count)) != TOOL_EXIT_OK) {
		tool_atomic_abort(&file);
		goto out;
	}
	if ((ret = tool_atomic_commit(&file, 1)) == TOOL_EXIT_OK && c.verbose)
		fprintf(stderr, "p11ca: CRL number %lld, %zu revoked\n", (long long)number, count);
out:
	ca_close(ca);
	return ret;
}

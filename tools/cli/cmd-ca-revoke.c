/*
 * cmd-ca-revoke.c - p11ca ca revoke|crl: a certificate marked revoked in
 * the database, and the CRL signed on the token and written atomically.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cmd-ca.h"

static void revoke_help(void)
{
	printf("usage: p11ca ca revoke --dir D (--serial HEX | --cert FILE)\n"
	       "                       [--reason R] [--invalidity-date DATE]\n\n"
	       "Marks a certificate revoked in the database; the next 'p11ca ca crl'\n"
	       "lists it.  R: unspecified (default), keyCompromise, cACompromise,\n"
	       "affiliationChanged, superseded, cessationOfOperation, certificateHold,\n"
	       "privilegeWithdrawn, aACompromise.  DATE (when the key is known or\n"
	       "suspected to have been compromised): YYYY-MM-DD, YYYY-MM-DDTHH:MM:SSZ,\n"
	       "YYYY-MM-DD HH:MM:SS or YYYYMMDDHHMMSSZ (UTC).\n");
}

int tool_ca_revoke(int argc, char **argv)
{
	enum { O_DIR = OPT_FIRST_LOCAL, O_SERIAL, O_CERT, O_REASON, O_INVALIDITY };
	static const struct option opts[] = { TOOL_COMMON_OPTIONS,
		                               { "dir", required_argument, NULL, O_DIR },
		                               { "serial", required_argument, NULL, O_SERIAL },
		                               { "cert", required_argument, NULL, O_CERT },
		                               { "reason", required_argument, NULL, O_REASON },
		                               { "invalidity-date", required_argument, NULL, O_INVALIDITY },
		                               { 0 } };
	struct tool_common c = { 0 };
	struct ca *ca;
	const char *dir = NULL, *serial_arg = NULL, *cert = NULL;
	char serial[CA_SERIAL_MAX];
	int64_t invalidity = 0;
	int opt, reason = 0, rc, ret = TOOL_EXIT_FAIL;
	X509 *x;

	while ((opt = getopt_long(argc, argv, TOOL_SHORT, opts, NULL)) != -1) {
		if (tool_common_opt(&c, opt, optarg))
			continue;
		switch (opt) {
		case O_DIR: dir = optarg; break;
		case O_SERIAL: serial_arg = optarg; break;
		case O_CERT: cert = optarg; break;
		case O_REASON:
			if ((reason = ca_reason_code(optarg)) < 0) {
				tool_errorf("--reason '%s': unspecified, keyCompromise, cACompromise, "
				            "affiliationChanged, superseded, cessationOfOperation, "
				            "certificateHold, privilegeWithdrawn or aACompromise",
				            optarg);
				return TOOL_EXIT_USAGE;
			}
			break;
		case O_INVALIDITY:
			if (pki_time_parse(optarg, &invalidity) != RES_OK) {
				tool_report(res_prefix(RES_BAD_INPUT, "--invalidity-date"));
				return TOOL_EXIT_USAGE;
			}
			if (invalidity > (int64_t)time(NULL)) {
				tool_errorf("--invalidity-date '%s' is in the future: it says when the "
				            "key was (or may have been) compromised",
				            optarg);
				return TOOL_EXIT_USAGE;
			}
			break;
		case OPT_HELP: revoke_help(); return TOOL_EXIT_OK;
		default: return TOOL_EXIT_USAGE;
		}
	}
	if (dir == NULL || (serial_arg == NULL) == (cert == NULL) || optind != argc) {
		tool_errorf("ca revoke needs --dir D and one of --serial or --cert");
		return TOOL_EXIT_USAGE;
	}
	if (serial_arg != NULL && pki_serial_normalise(serial_arg, serial) != RES_OK) {
		tool_errorf("--serial '%s' is not a hexadecimal serial", serial_arg);
		return TOOL_EXIT_USAGE;
	}
	if (cert != NULL) {
		if ((x = tool_read_cert(cert)) == NULL)
			return TOOL_EXIT_FAIL;
		rc = pki_serial_of(X509_get0_serialNumber(x), serial);
		X509_free(x);
		if (rc != RES_OK)
			return tool_report(res_prefix(rc, "%s", cert));
	}
	if ((ca = tool_ca_open(dir, &c, 0, 0)) == NULL)
		return TOOL_EXIT_FAIL;
	switch ((rc = ca_revoke(ca, serial, (int64_t)time(NULL), reason, invalidity))) {
	case RES_OK:
		if (c.verbose)
			fprintf(stderr, "p11ca: revoked %s (%s)\n", serial, ca_reason_name(reason));
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

static void crl_help(void)
{
	printf("usage: p11ca ca crl --dir D [--out FILE] [--der] [--days N]\n\n"
	       "Writes a CRL (X.509 v2) of every revoked certificate, signed on the token:\n"
	       "CRL number (one more each time), this update now, next update in --days\n"
	       "(ca.conf crl_days, 7), authority key identifier; each entry with its\n"
	       "reason code (left out for unspecified) and invalidity date.  PEM on\n"
	       "standard output unless --out; --der for DER.\n");
}

/* ca_crl()'s output: into the temporary file beside --out (or standard output). */
static int write_piece(void *arg, const unsigned char *p, size_t len)
{
	return tool_atomic_write(arg, p, len) != TOOL_EXIT_OK;
}

int tool_ca_crl(int argc, char **argv)
{
	enum { O_DIR = OPT_FIRST_LOCAL, O_OUT, O_DER, O_DAYS };
	static const struct option opts[] = { TOOL_COMMON_OPTIONS,
		                               { "dir", required_argument, NULL, O_DIR },
		                               { "out", required_argument, NULL, O_OUT },
		                               { "der", no_argument, NULL, O_DER },
		                               { "days", required_argument, NULL, O_DAYS },
		                               { 0 } };
	struct tool_common c = { 0 };
	struct ca *ca = NULL;
	struct tool_atomic file;
	const char *dir = NULL, *out = "-";
	long days = 0;
	int opt, der = 0, ret = TOOL_EXIT_FAIL;
	int64_t number = 0;
	size_t count = 0;

	while ((opt = getopt_long(argc, argv, TOOL_SHORT, opts, NULL)) != -1) {
		if (tool_common_opt(&c, opt, optarg))
			continue;
		switch (opt) {
		case O_DIR: dir = optarg; break;
		case O_OUT: out = optarg; break;
		case O_DER: der = 1; break;
		case O_DAYS:
			if (!tool_parse_days("--days", optarg, &days))
				return TOOL_EXIT_USAGE;
			break;
		case OPT_HELP: crl_help(); return TOOL_EXIT_OK;
		default: return TOOL_EXIT_USAGE;
		}
	}
	if (dir == NULL || optind != argc) {
		tool_errorf("ca crl needs --dir D");
		return TOOL_EXIT_USAGE;
	}
	if ((ca = tool_ca_open(dir, &c, 1, 1)) == NULL)
		return TOOL_EXIT_FAIL;
	/* the destination first: a CRL number is not spent on a file that cannot be */
	if (tool_atomic_open(&file, out) != TOOL_EXIT_OK)
		goto out;
	if (tool_report(ca_crl(ca, ca->conf.default_md, days > 0 ? days : ca->conf.crl_days, !der,
	                       write_piece, &file, &number, &count)) != TOOL_EXIT_OK) {
		tool_atomic_abort(&file);
		goto out;
	}
	if ((ret = tool_atomic_commit(&file, 1)) == TOOL_EXIT_OK && c.verbose)
		fprintf(stderr, "p11ca: CRL number %lld, %zu revoked\n", (long long)number, count);
out:
	ca_close(ca);
	return ret;
}

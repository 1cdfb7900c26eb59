/*
 * cmd-ca.h - what the "p11ca ca" verbs share on the command line
 * (cmd-ca-*.c): opening a CA from the common options, reporting a library
 * result, the options' value parsers.  Prefix tool_ca_ / tool_.
 */
#ifndef P11CA_CMD_CA_H
#define P11CA_CMD_CA_H

#include "ca.h"
#include "result.h"
#include "tool.h"

/* --dir D, which every ca verb takes: its id, and the first id a verb's own options use. */
enum { TOOL_CA_O_DIR = OPT_FIRST_LOCAL, TOOL_CA_O_FIRST };
#define TOOL_CA_DIR_OPT                                                                            \
	{                                                                                          \
		"dir", required_argument, TOOL_CA_O_DIR                                            \
	}
/* tool_parse() handler of a verb whose only option is --dir: @data is a const char **. */
int tool_ca_dir_opt(int id, const char *arg, void *data);

/*
 * Prints the calling thread's library message (result.h) as one error line
 * and returns the exit status for @rc: TOOL_EXIT_OK for RES_OK, else
 * TOOL_EXIT_FAIL.
 */
int tool_report(int rc);
/* Opens the CA in @dir with --module/--pin-file of @c; reports and returns NULL on failure. */
struct ca *tool_ca_open(const char *dir, const struct tool_common *c, int need_key, int need_cert);
/*
 * The CA in @dir, without its key, for the verbs that only read or write
 * records: TOOL_EXIT_OK with *pca, TOOL_EXIT_USAGE without --dir, or
 * TOOL_EXIT_FAIL (reported).
 */
int tool_ca_open_records(const char *dir, const struct tool_common *c, struct ca **pca);
/* --days N: 1 to 36500; reports and returns 0 if not. */
int tool_parse_days(const char *opt, const char *arg, long *out);
/* --pathlen N: 0 to 16; reports and returns 0 if not. */
int tool_parse_pathlen(const char *arg, int *out);
/* The first certificate of file @path (PEM or DER); reports and returns NULL. */
X509 *tool_read_cert(const char *path);
/* A certificate's PEM text written atomically to @path ("-": standard output). */
int tool_write_cert_pem(const char *path, X509 *x);
/* "valid", "revoked", "expired" for a record at @now. */
const char *tool_ca_status_name(const struct cadb_row *r, int64_t now);

int tool_ca_init(int argc, char **argv);
int tool_ca_set_cert(int argc, char **argv);
int tool_ca_sign(int argc, char **argv);
int tool_ca_revoke(int argc, char **argv);
int tool_ca_crl(int argc, char **argv);
int tool_ca_list(int argc, char **argv);
int tool_ca_show(int argc, char **argv);
int tool_ca_import_openssl(int argc, char **argv);
int tool_ca_export_index(int argc, char **argv);
int tool_ca_responder(int argc, char **argv);

#endif

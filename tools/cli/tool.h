/* tool.h - shared by the p11ca command's subcommands (prefix tool_). */
#ifndef P11CA_TOOL_H
#define P11CA_TOOL_H

#include <getopt.h>
#include <stdio.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "p11ca.h"

/* exit codes (docs/p11ca.1) */
#define TOOL_EXIT_OK 0
#define TOOL_EXIT_FAIL 1
#define TOOL_EXIT_USAGE 2

/* Options every subcommand takes. */
struct tool_common {
	const char *module;   /* --module NAME|PATH */
	const char *pin_file; /* --pin-file FILE */
	int verbose;
};

/* Long options shared by all subcommands; values >= 0x100 */
enum { OPT_MODULE = 0x100, OPT_PIN_FILE, OPT_VERBOSE, OPT_HELP, OPT_FIRST_LOCAL };
#define TOOL_COMMON_OPTIONS                                                                    \
	{ "module", required_argument, NULL, OPT_MODULE },                                     \
	{ "pin-file", required_argument, NULL, OPT_PIN_FILE },                                 \
	{ "verbose", no_argument, NULL, OPT_VERBOSE },                                         \
	{ "help", no_argument, NULL, OPT_HELP }

/* getopt short options every subcommand accepts (-v = --verbose). */
#define TOOL_SHORT "v"

/* Handles a common option; returns 1 if @opt was one. */
int tool_common_opt(struct tool_common *c, int opt, const char *arg);

/* Messages to stderr, prefixed "p11ca: " / "p11ca: warning: ". */
void tool_errorf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void tool_warnf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prints "p11ca: <what>: <library message>" for a failed call; returns 1. */
int tool_fail(const char *what, CK_RV rv);

/* Opens a context for --module/--pin-file; on failure reports and returns NULL. */
p11ca_ctx *tool_ctx_open(const struct tool_common *c);

/*
 * The p11ca provider, in-process (ossl.c): a library context with the
 * default and p11ca providers, configured from --module/--pin-file.
 * tool_ossl_fail() prints the most specific OpenSSL error as one line.
 */
OSSL_LIB_CTX *tool_ossl_open(const struct tool_common *c);
void tool_ossl_close(OSSL_LIB_CTX *libctx);
EVP_PKEY *tool_ossl_load_key(OSSL_LIB_CTX *libctx, const char *uri);
int tool_ossl_fail(const char *what);

/* JSON string output (escaped, with quotes). */
void tool_json_str(FILE *f, const char *s);
/* Lowercase hex of @len bytes into @out (2*len+1). */
void tool_hex(char *out, const unsigned char *p, size_t len);

/* Whether @uri holds a pin-value attribute (in any spelling). */
int tool_uri_has_pin_value(const char *uri);

/* Removes a "type=..." attribute from @uri in place (names the whole pair). */
void tool_uri_drop_type(char *uri);

/* Subcommand entry points: argv[0] is the subcommand name. */
int tool_token_list(int argc, char **argv);
int tool_token_init(int argc, char **argv);
int tool_token_bench(int argc, char **argv);
int tool_token_change_pin(int argc, char **argv);
int tool_key_gen(int argc, char **argv);
int tool_key_list(int argc, char **argv);
int tool_key_delete(int argc, char **argv);
int tool_key_sign(int argc, char **argv);
int tool_key_pubkey(int argc, char **argv);
int tool_csr(int argc, char **argv);
/*
 * cmd-csr.c: a key pair generated on the token at @token_uri (TYPE as
 * "rsa:3072", "ec:p256"); *puri receives the private key's URI (free()).
 * tool_delete_new_key() removes it again (both halves) when what it was
 * made for failed.
 */
int tool_generate_key(const struct tool_common *c, const char *token_uri, const char *type,
                      const char *label, int force, char **puri);
void tool_delete_new_key(const struct tool_common *c, char *uri);
/* cmd-csr.c: "/C=GB/O=Example/CN=..." as a name; *rc says why not (NULL). */
X509_NAME *tool_parse_dn(const char *arg, int *rc);
/* cmd-ca.c, cmd-ca-records.c */
int tool_ca_init(int argc, char **argv);
int tool_ca_set_cert(int argc, char **argv);
int tool_ca_sign(int argc, char **argv);
int tool_ca_revoke(int argc, char **argv);
int tool_ca_crl(int argc, char **argv);
int tool_ca_list(int argc, char **argv);
int tool_ca_show(int argc, char **argv);
int tool_ca_import_openssl(int argc, char **argv);
int tool_ca_export_index(int argc, char **argv);
/* cmd-cert.c */
/*
 * @path's certificates (PEM, every CERTIFICATE block; or one DER; *pem says
 * which), reporting failures as "p11ca: PATH: ..." (NULL).
 */
STACK_OF(X509) *tool_load_certs(const char *path, int *pem);
int tool_cert_show(int argc, char **argv);
int tool_cert_convert(int argc, char **argv);
int tool_cert_check(int argc, char **argv);
int tool_cert_install(int argc, char **argv);
/* cmd-trust.c */
int tool_trust_add(int argc, char **argv);
int tool_trust_list(int argc, char **argv);
int tool_trust_show(int argc, char **argv);
int tool_trust_remove(int argc, char **argv);
int tool_trust_reset(int argc, char **argv);
/*
 * util.c: writes @len bytes to @path atomically (temporary file beside it,
 * fsync, rename, fsync of the directory); "-" is standard output, and a
 * device or pipe (/dev/null) is written in place, never replaced.  An
 * existing file keeps its mode (and owner when permitted), and a symbolic
 * link is followed.  On failure @path is untouched.  Reports and returns
 * TOOL_EXIT_FAIL on failure, else TOOL_EXIT_OK.
 */
int tool_write_atomic(const char *path, const unsigned char *p, size_t len);
/*
 * The same in steps, for output written piece by piece: open (a temporary
 * file beside @path, or standard output for "-"), write, then commit
 * (@sync: fsync the file and the directory; without it the caller syncs,
 * e.g. with syncfs() for many files) or abort (the temporary file goes).
 */
struct tool_atomic {
	const char *path, *target;
	char *real, *tmp;
	int fd;
};
int tool_atomic_open(struct tool_atomic *a, const char *path);
int tool_atomic_write(struct tool_atomic *a, const unsigned char *p, size_t len);
int tool_atomic_commit(struct tool_atomic *a, int sync);
void tool_atomic_abort(struct tool_atomic *a);
/*
 * util.c: the whole of @path ("-" = standard input), NUL-terminated
 * (free()); reports and returns NULL on failure.
 */
unsigned char *tool_read_file(const char *path, size_t *plen);
/* Whether @buf holds a "-----BEGIN " line (PEM rather than DER). */
int tool_is_pem(const unsigned char *buf, size_t len);

#endif

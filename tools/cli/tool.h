/* tool.h - shared by the p11ca command's subcommands (prefix tool_). */
#ifndef P11CA_TOOL_H
#define P11CA_TOOL_H

#include <getopt.h>
#include <signal.h>
#include <pthread.h>
#include <stdio.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "p11ca.h"

/* exit codes (docs/p11ca.1) */
#define TOOL_EXIT_OK    0
#define TOOL_EXIT_FAIL  1
#define TOOL_EXIT_USAGE 2

/* Options every subcommand takes. */
struct tool_common {
	const char *module;   /* --module NAME|PATH, else $P11CA_MODULE */
	const char *pin_file; /* --pin-file FILE, else $P11CA_PIN_FILE */
	int verbose;
	int module_from_env; /* module is $P11CA_MODULE: a CA's ca.conf names its own first */
};

/* Long options shared by all subcommands; values >= 0x100 */
enum { OPT_MODULE = 0x100, OPT_PIN_FILE, OPT_VERBOSE, OPT_HELP, OPT_FIRST_LOCAL };
#define TOOL_COMMON_OPTIONS                                                                        \
	{ "module", required_argument, NULL, OPT_MODULE },                                         \
	    { "pin-file", required_argument, NULL, OPT_PIN_FILE },                                 \
	    { "verbose", no_argument, NULL, OPT_VERBOSE },                                         \
	{                                                                                          \
		"help", no_argument, NULL, OPT_HELP                                                \
	}

/* getopt short options every subcommand accepts (-v = --verbose, -h = --help). */
#define TOOL_SHORT "vh"

/* Handles a common option; returns 1 if @opt was one. */
int tool_common_opt(struct tool_common *c, int opt, const char *arg);

/*
 * Table-driven options: a command lists its own options (ids from
 * OPT_FIRST_LOCAL on, the table ends with { NULL }) and handles them in one
 * switch; --module, --pin-file, --verbose/-v and --help are added here.
 */
struct tool_opt {
	const char *name; /* long name, without "--" */
	int has_arg;      /* no_argument, required_argument, optional_argument */
	int id;           /* >= OPT_FIRST_LOCAL: what the handler's switch sees */
};
/*
 * Takes one local option (@arg its argument or NULL) into @data, the
 * command's options.  Returns TOOL_EXIT_OK, or an exit status to stop
 * with (TOOL_EXIT_USAGE after printing why).
 */
typedef int tool_opt_fn(int id, const char *arg, void *data);
/* tool_parse(): the options are in, the command runs (operands from optind). */
#define TOOL_PARSE_GO (-1)
/*
 * Parses @argv (argv[0] is the command's name, for getopt's messages)
 * against the common options and @local, filling @c and calling @handle
 * for each local option.  Operands may come between options; they start at
 * optind afterwards.  Returns TOOL_PARSE_GO, or the exit status to return
 * at once: TOOL_EXIT_OK after printing @help and the common options
 * (--help, -h) to stdout,
 * TOOL_EXIT_USAGE for an unknown option or a missing argument (getopt
 * printed the message), or what @handle returned.
 */
int tool_parse(int argc, char **argv, const struct tool_opt *local, const char *help,
               struct tool_common *c, tool_opt_fn *handle, void *data);

/* Messages to stderr, prefixed "p11ca: " / "p11ca: warning: ". */
void tool_errorf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void tool_warnf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "p11ca: " and a message (what --verbose says), to stderr. */
void tool_infof(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prints "p11ca: <what>: <library message>" for a failed call; returns 1. */
int tool_fail(const char *what, CK_RV rv);
/*
 * @s for a message: control bytes (and DEL) as \xNN, never raw; into @buf
 * (capacity @cap, cut to fit), which is returned.  tool_errorf(),
 * tool_warnf() and tool_infof() pass everything they print through it.
 */
const char *tool_escape(const char *s, char *buf, size_t cap);

/*
 * A destructive step (@what, e.g. "delete every object pkcs11:... names"):
 * TOOL_EXIT_OK when @yes (--yes) or when the user says y on the terminal
 * (standard input); else reports and returns TOOL_EXIT_USAGE (no terminal:
 * --yes needed) or TOOL_EXIT_FAIL (not confirmed).
 */
int tool_confirm(const char *what, int yes);

/*
 * SIGINT, SIGTERM, SIGHUP and SIGQUIT wait while a step that must not be cut
 * in half runs (a key pair being made): hold, then release (which delivers
 * what came meanwhile).  Releasing what was not held does nothing.
 */
struct tool_held {
	sigset_t old;
	int held;
};
void tool_signals_hold(struct tool_held *h);
void tool_signals_release(struct tool_held *h);
/*
 * p11ca_key_generate() after logging in (a PIN prompt stays interruptible),
 * with the signals held (@held: release it once the key is reported), and a
 * ticker on a terminal (progress.c).
 */
CK_RV tool_key_generate(p11ca_token *tok, const char *type, const char *label, unsigned flags,
                        p11ca_key **pkey, struct tool_held *held);

/*
 * progress.c: long work shown on stderr when it is a terminal, as one line
 * redrawn in place and erased at the end; nothing otherwise.  A progress
 * line: tool_progress_show() redraws it (at most ten times a second unless
 * @always), tool_progress_end() erases it.
 */
struct tool_progress {
	int on, shown;
	struct timespec last;
};
void tool_progress_init(struct tool_progress *p);
void tool_progress_show(struct tool_progress *p, int always, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void tool_progress_end(struct tool_progress *p);
/*
 * A ticker, for one long call that says nothing while it runs (a key pair
 * generated on the token): "WHAT... N s" from a thread of its own, every
 * second until tool_ticker_stop() erases it.
 */
struct tool_ticker {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int running, stop;
	char what[128];
};
void tool_ticker_start(struct tool_ticker *t, const char *what);
void tool_ticker_stop(struct tool_ticker *t);
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

/*
 * @s when it is valid UTF-8 (what a JSON string must be), else a copy in
 * @buf (capacity @cap, cut to fit) with every byte above 0x7f as '?': a
 * token's label is whatever bytes the token holds.
 */
const char *tool_text_utf8(const char *s, char *buf, size_t cap);
/* Lowercase hex of @len bytes into @out (2*len+1), through OpenSSL. */
void tool_hex(char *out, const unsigned char *p, size_t len);

/* Whether @uri holds a pin-value attribute (in any spelling). */
int tool_uri_has_pin_value(const char *uri);

/*
 * Refuses a pin-value in any of argv[1..argc-1]: wipes each argument that
 * holds one (argv is public in /proc/PID/cmdline) and reports the first.
 * TOOL_EXIT_OK when there is none, else TOOL_EXIT_USAGE.
 */
int tool_argv_refuse_pins(int argc, char **argv);

/*
 * Redacts, in place, a pin-value that @line (capacity @cap) holds and that
 * was not redacted where the line was made.  Every message goes through it.
 */
void tool_redact_line(char *line, size_t cap);

/* Warns when the PIN file @path (NULL: none) is open to its group or others. */
void tool_pin_file_check(const char *path);

/*
 * @uri without its object type (type=, however spelt or percent-encoded),
 * so that it names every class of object with that id/label: parsed and
 * written again by p11-kit.  A new string (free(); it keeps a pin-value if
 * @uri had one), or NULL for a malformed URI or no memory.
 */
char *tool_uri_without_type(const char *uri);

/*
 * The one public-key object @uri names, found without logging in (a login
 * rewrites SoftHSM2's token files: commands that need no private object do
 * not log in).  *ppub (EVP_PKEY_free) is NULL when there is none, or more
 * than one; the result is p11ca_lookup()'s.
 */
CK_RV tool_public_object(p11ca_ctx *ctx, const char *uri, EVP_PKEY **ppub);

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
 * cmd-csr-newkey.c: a key pair generated on the token at @token_uri (TYPE as
 * "rsa:3072", "ec:p256"); *puri receives the private key's URI (free()).
 * tool_delete_new_key() removes it again (both halves) when what it was
 * made for failed.
 */
int tool_generate_key(const struct tool_common *c, const char *token_uri, const char *type,
                      const char *label, int force, char **puri);
void tool_delete_new_key(const struct tool_common *c, char *uri);
/* cmd-csr-names.c: "/C=GB/O=Example/CN=..." as a name; *rc says why not (NULL). */
X509_NAME *tool_parse_dn(const char *arg, int *rc);
/* the ca verbs: cmd-ca.h */
/* cmd-cert.c */
/*
 * @path's certificates (PEM, every CERTIFICATE block; or one DER; *pem says
 * which), reporting failures as "p11ca: PATH: ..." (NULL).
 */
STACK_OF(X509) * tool_load_certs(const char *path, int *pem);
int tool_cert_show(int argc, char **argv);
int tool_cert_convert(int argc, char **argv);
int tool_cert_check(int argc, char **argv);
int tool_cert_install(int argc, char **argv);
/* cmd-trust.c */
int tool_trust_add(int argc, char **argv);
int tool_verify(int argc, char **argv);
int tool_serve(int argc, char **argv);
int tool_trust_list(int argc, char **argv);
int tool_trust_show(int argc, char **argv);
int tool_trust_remove(int argc, char **argv);
int tool_trust_reset(int argc, char **argv);
/*
 * util.c: the one writer of every output file.  Writes @len bytes to @path
 * atomically: a temporary file beside it (PATH.p11ca.tmp.PID.N, mode 0644
 * less the umask), fsync, rename, fsync of the folder; "-" is standard
 * output (as are /dev/stdout, /dev/stderr, /dev/fd/N and /proc/self/fd/N:
 * the descriptor, written where it is), and a device or pipe (/dev/null) is
 * written in place, never replaced.  A symbolic link at @path is refused
 * (its target is never written), except with TOOL_OUT_FOLLOW one of ours to
 * a regular file of ours (that file is replaced).  What is replaced
 * keeps its mode (and group when permitted) only when it is a regular file
 * of ours.  Our temporary files in the folder that a killed run left
 * (by name, ours, untouched for TOOL_TMP_STALE seconds) are removed first,
 * unless TOOL_OUT_NO_SWEEP.  On failure @path is untouched.  Reports and
 * returns TOOL_EXIT_FAIL on failure, else TOOL_EXIT_OK.
 */
#define TOOL_OUT_FOLLOW   1u /* a link of ours to a file of ours is followed (trust bundles) */
#define TOOL_OUT_NO_SWEEP 2u /* the caller swept the folder (tool_sweep_stale) */
#define TOOL_OUT_NO_SYNC  4u /* no fsync (the caller syncs, or the file can be made again) */
#define TOOL_TMP_MARK     ".p11ca.tmp."
#define TOOL_TMP_STALE    3600
int tool_write_atomic(const char *path, const unsigned char *p, size_t len);
int tool_write_atomic_flags(const char *path, const unsigned char *p, size_t len, unsigned flags);
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
int tool_atomic_open_flags(struct tool_atomic *a, const char *path, unsigned flags);
int tool_atomic_write(struct tool_atomic *a, const unsigned char *p, size_t len);
int tool_atomic_commit(struct tool_atomic *a, int sync);
void tool_atomic_abort(struct tool_atomic *a);
/*
 * Whether @path can be written as tool_atomic_open_flags() would (reports
 * why not and returns TOOL_EXIT_FAIL): no symbolic link it would refuse, its
 * folder writable.  *preal: the file a followed link names (free()), else
 * NULL; *pstream: written in place ("-", a device or pipe); *pst (when not
 * NULL): what is there (st_mode 0 for nothing).  For a check before work
 * that cannot be undone (a key generated, certificates issued).
 */
struct stat;
int tool_out_check(const char *path, unsigned flags, char **preal, int *pstream, struct stat *pst);
/* tool_out_check() as a yes (1) or no (0, reported). */
int tool_out_ok(const char *path, unsigned flags);
/* Removes our stale temporary files in folder @dir (see tool_write_atomic); silent. */
void tool_sweep_stale(const char *dir);
/*
 * util.c: the whole of @path ("-" = standard input), NUL-terminated
 * (free()); reports and returns NULL on failure.
 */
unsigned char *tool_read_file(const char *path, size_t *plen);
/*
 * The same without printing: RES_OK, or a result.h code with the thread's
 * message (for worker threads).  Inputs over TOOL_READ_MAX bytes are refused.
 */
#define TOOL_READ_MAX (256 << 20)
int tool_slurp(const char *path, unsigned char **pbuf, size_t *plen);

#endif

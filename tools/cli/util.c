/* util.c - messages, the context every subcommand opens, output helpers. */
#include "config.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <openssl/crypto.h>
#include <p11-kit/uri.h>

#include "result.h"
#include "tool.h"

/* The redaction's "pin-value=***", as p11ca_uri_redact() writes it. */
#define PIN_SHOWN "pin-value=***"

/*
 * Whether @line holds a pin-value that is not redacted yet.  A value that
 * is "***" followed by the end of a quoted or embedded URI was redacted
 * where the message was made; anything else (another spelling, another
 * value) was not.
 */
static int has_raw_pin(const char *line)
{
	size_t len = strlen(line), k = strlen(PIN_SHOWN);
	char *copy = malloc(len + 1), *out = malloc(2 * len + 32), *p;
	int raw;

	if (copy == NULL || out == NULL) {
		free(copy);
		free(out);
		return 1;
	}
	memcpy(copy, line, len + 1);
	for (p = copy; (p = strstr(p, PIN_SHOWN)) != NULL; p += k)
		if (p[k] == '\0' || strchr("'\" :),;&]\n", p[k]) != NULL)
			memset(p, ' ', k);
	raw = strcmp(p11ca_uri_redact(copy, out, 2 * len + 32), copy) != 0;
	free(copy);
	free(out);
	return raw;
}

void tool_redact_line(char *line, size_t cap)
{
	char *out;

	if (!has_raw_pin(line))
		return;
	/* redacted once more, strictly: what follows a value may be cut */
	if ((out = malloc(cap)) == NULL) {
		snprintf(line, cap, "(message withheld: it held a PIN)");
		return;
	}
	p11ca_uri_redact(line, out, cap);
	memcpy(line, out, strlen(out) + 1);
	free(out);
}

const char *tool_escape(const char *s, char *buf, size_t cap)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	if (cap == 0)
		return "";
	for (; *s != '\0'; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch >= 0x20 && ch != 0x7f) {
			if (o + 1 >= cap)
				break;
			buf[o++] = (char)ch;
		} else {
			if (o + 4 >= cap)
				break;
			buf[o++] = '\\';
			buf[o++] = 'x';
			buf[o++] = hex[ch >> 4];
			buf[o++] = hex[ch & 0xf];
		}
	}
	buf[o] = '\0';
	return buf;
}

/*
 * "p11ca: " PREFIX message "\n" in one write: lines of threads never mix.
 * Messages echo what users typed and what tokens hold: control bytes show
 * escaped, never raw (a terminal would act on them).
 */
static void message(const char *prefix, const char *fmt, va_list ap)
{
	char text[2048], line[2048 + 16];
	int n = snprintf(line, sizeof(line), "p11ca: %s", prefix);

	if (n < 0 || (size_t)n >= sizeof(line))
		return;
	vsnprintf(text, sizeof(text), fmt, ap);
	/* a PIN never reaches the terminal, whichever way it came */
	tool_redact_line(text, sizeof(text));
	tool_escape(text, line + n, sizeof(line) - (size_t)n - 1);
	n = (int)strlen(line);
	line[n] = '\n';
	(void)fwrite(line, 1, (size_t)n + 1, stderr);
}

void tool_infof(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	message("", fmt, ap);
	va_end(ap);
}

void tool_errorf(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	message("", fmt, ap);
	va_end(ap);
}

void tool_warnf(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	message("warning: ", fmt, ap);
	va_end(ap);
}

int tool_fail(const char *what, CK_RV rv)
{
	const char *msg = p11ca_error_message();

	if (msg[0] != '\0')
		tool_errorf("%s: %s", what, msg);
	else
		tool_errorf("%s: %s", what, p11ca_rv_text(rv));
	return TOOL_EXIT_FAIL;
}

CK_RV tool_public_object(p11ca_ctx *ctx, const char *uri, EVP_PKEY **ppub)
{
	struct p11ca_found *found = NULL;
	size_t n = 0;
	CK_RV rv;

	*ppub = NULL;
	if ((rv = p11ca_lookup(ctx, uri, P11CA_LOOKUP_PUBLIC, &found, &n)) != CKR_OK)
		return rv;
	if (n == 1) {
		*ppub = found[0].pub;
		found[0].pub = NULL; /* transferred */
	}
	p11ca_found_free(found, n);
	return CKR_OK;
}

void tool_signals_hold(struct tool_held *h)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGQUIT);
	h->held = sigprocmask(SIG_BLOCK, &set, &h->old) == 0;
}

void tool_signals_release(struct tool_held *h)
{
	if (h->held)
		(void)sigprocmask(SIG_SETMASK, &h->old, NULL);
	h->held = 0;
}

int tool_confirm(const char *what, int yes)
{
	char answer[16];
	size_t n;

	if (yes)
		return TOOL_EXIT_OK;
	if (!isatty(STDIN_FILENO)) {
		tool_errorf("%s: not confirmed; give --yes (no terminal to ask on)", what);
		return TOOL_EXIT_USAGE;
	}
	{
		char buf[512];
		fprintf(stderr, "p11ca: %s? [y/N] ", tool_escape(what, buf, sizeof(buf)));
		fflush(stderr);
	}
	if (fgets(answer, sizeof(answer), stdin) == NULL)
		answer[0] = '\0';
	n = strcspn(answer, "\r\n");
	answer[n] = '\0';
	if (strcasecmp(answer, "y") == 0 || strcasecmp(answer, "yes") == 0)
		return TOOL_EXIT_OK;
	tool_errorf("%s: not confirmed", what);
	return TOOL_EXIT_FAIL;
}

int tool_common_opt(struct tool_common *c, int opt, const char *arg)
{
	switch (opt) {
	case OPT_MODULE: c->module = arg; return 1;
	case OPT_PIN_FILE: c->pin_file = arg; return 1;
	case OPT_VERBOSE:
	case 'v': c->verbose = 1; return 1;
	default: return 0;
	}
}

static const struct tool_opt common_opts[] = {
	{ "module", required_argument, OPT_MODULE },
	{ "pin-file", required_argument, OPT_PIN_FILE },
	{ "verbose", no_argument, OPT_VERBOSE },
	{ "help", no_argument, OPT_HELP },
};
#define NCOMMON (sizeof(common_opts) / sizeof(common_opts[0]))

/* What every subcommand's --help ends with: the options tool_parse() adds. */
static const char common_help[] =
    "\nCommon options (every command):\n"
    "  --module NAME|PATH  only this PKCS#11 module (p11-kit name or library\n"
    "                      path); default $P11CA_MODULE, else every module\n"
    "  --pin-file FILE     the user PIN from FILE; default $P11CA_PIN_FILE,\n"
    "                      else $P11CA_PIN, else a prompt on a terminal (a PIN\n"
    "                      is never an argument)\n"
    "  -v, --verbose       say more on stderr (never a PIN)\n"
    "  -h, --help          this help\n";

/* $NAME when set and not empty, else NULL. */
static const char *env_value(const char *name)
{
	const char *v = getenv(name);

	return v != NULL && *v != '\0' ? v : NULL;
}

int tool_parse(int argc, char **argv, const struct tool_opt *local, const char *help,
               struct tool_common *c, tool_opt_fn *handle, void *data)
{
	struct option *opts;
	size_t n = 0, i;
	int opt, ret = TOOL_PARSE_GO;

	while (local != NULL && local[n].name != NULL)
		n++;
	if ((opts = calloc(NCOMMON + n + 1, sizeof(*opts))) == NULL) {
		tool_errorf("out of memory");
		return TOOL_EXIT_FAIL;
	}
	for (i = 0; i < NCOMMON + n; i++) {
		const struct tool_opt *o = i < NCOMMON ? &common_opts[i] : &local[i - NCOMMON];
		opts[i].name = o->name;
		opts[i].has_arg = o->has_arg;
		opts[i].val = o->id;
	}
	optind = 0; /* glibc: start afresh, whoever parsed before */
	while (ret == TOOL_PARSE_GO &&
	       (opt = getopt_long(argc, argv, TOOL_SHORT, opts, NULL)) != -1) {
		if (tool_common_opt(c, opt, optarg))
			continue;
		if (opt == OPT_HELP || opt == 'h') {
			fputs(help, stdout);
			fputs(common_help, stdout);
			ret = TOOL_EXIT_OK;
		} else if (opt < OPT_FIRST_LOCAL || handle == NULL) {
			ret = TOOL_EXIT_USAGE; /* getopt said why */
		} else {
			int r = handle(opt, optarg, data);
			if (r != TOOL_EXIT_OK)
				ret = r;
		}
	}
	free(opts);
	/* the environment says what the options did not */
	if (ret == TOOL_PARSE_GO && c->pin_file == NULL)
		c->pin_file = env_value("P11CA_PIN_FILE");
	if (ret == TOOL_PARSE_GO && c->module == NULL &&
	    (c->module = env_value("P11CA_MODULE")) != NULL)
		c->module_from_env = 1;
	return ret;
}

/*
 * The log of libp11ca, shown with --verbose (@data not NULL); without it,
 * only the warning about a PIN file others may read (a pin-source= of a
 * URI: the tool checks --pin-file itself).
 */
static void log_cb(void *data, const char *msg)
{
	if (data != NULL)
		tool_errorf("%s", msg);
	else if (strncmp(msg, "warning: PIN file ", 18) == 0)
		tool_warnf("%s", msg + 9);
}

void tool_pin_file_check(const char *path)
{
	char why[512];

	if (path != NULL && p11ca_pin_file_exposed(path, why, sizeof(why)))
		tool_warnf("%s", why);
}

p11ca_ctx *tool_ctx_open(const struct tool_common *c)
{
	p11ca_ctx *ctx = NULL;
	CK_RV rv;

	rv = p11ca_ctx_new(c->module, &ctx);
	if (rv != CKR_OK) {
		tool_fail("loading modules", rv);
		return NULL;
	}
	p11ca_ctx_set_log(ctx, log_cb, c->verbose ? ctx : NULL);
	if (c->pin_file != NULL && (rv = p11ca_ctx_set_pin_file(ctx, c->pin_file)) != CKR_OK) {
		tool_fail("--pin-file", rv);
		p11ca_ctx_free(ctx);
		return NULL;
	}
	return ctx;
}

void tool_hex(char *out, const unsigned char *p, size_t len)
{
	char *q;

	/* OpenSSL writes uppercase; listings and ids have always been lowercase */
	if (OPENSSL_buf2hexstr_ex(out, 2 * len + 1, NULL, p, len, '\0') != 1) {
		out[0] = '\0';
		return;
	}
	for (q = out; *q != '\0'; q++)
		*q = (char)tolower((unsigned char)*q);
}

/* Length of the UTF-8 sequence at @p as RFC 3629 allows it, 0 if none. */
static size_t utf8_seq(const unsigned char *p)
{
	unsigned long v;
	size_t n, i;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		n = 2, v = p[0] & 0x1f;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		n = 3, v = p[0] & 0x0f;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		n = 4, v = p[0] & 0x07;
	else
		return 0;
	for (i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80) /* also the terminating NUL */
			return 0;
		v = (v << 6) | (p[i] & 0x3f);
	}
	if ((n == 3 && v < 0x800) || (n == 4 && (v < 0x10000 || v > 0x10ffff)) ||
	    (v >= 0xd800 && v <= 0xdfff))
		return 0; /* overlong, beyond Unicode, or a surrogate */
	return n;
}

const char *tool_text_utf8(const char *s, char *buf, size_t cap)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n, o = 0;

	while (*p != '\0' && (n = utf8_seq(p)) != 0)
		p += n;
	if (*p == '\0')
		return s;
	for (p = (const unsigned char *)s; *p != '\0' && o + 1 < cap; p++)
		buf[o++] = *p < 0x80 ? (char)*p : '?';
	buf[o] = '\0';
	return buf;
}

char *tool_uri_without_type(const char *uri)
{
	P11KitUri *parsed;
	const char *pv;
	char *out = NULL;

	if (uri == NULL || (parsed = p11_kit_uri_new()) == NULL)
		return NULL;
	/* p11-kit decodes the value, however it is spelt, and writes the URI back */
	if (p11_kit_uri_parse(uri, P11_KIT_URI_FOR_ANY, parsed) == P11_KIT_URI_OK) {
		(void)p11_kit_uri_clear_attribute(parsed, CKA_CLASS);
		if (p11_kit_uri_format(parsed, P11_KIT_URI_FOR_ANY, &out) != P11_KIT_URI_OK)
			out = NULL;
	}
	/* p11-kit frees a pin-value without wiping it */
	if ((pv = p11_kit_uri_get_pin_value(parsed)) != NULL)
		OPENSSL_cleanse((char *)pv, strlen(pv));
	p11_kit_uri_free(parsed);
	return out;
}

static int write_all(int fd, const unsigned char *p, size_t len)
{
	while (len > 0) {
		ssize_t w = write(fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return 0;
		p += w;
		len -= (size_t)w;
	}
	return 1;
}

void tool_atomic_abort(struct tool_atomic *a)
{
	if (a->fd > 1)
		close(a->fd);
	if (a->tmp != NULL)
		(void)unlink(a->tmp);
	free(a->tmp);
	free(a->real);
	memset(a, 0, sizeof(*a));
	a->fd = -1;
}

/* Whether @name is one of our temporary files: BASE TOOL_TMP_MARK PID.N */
static int is_tmp_name(const char *name)
{
	const char *p = strstr(name, TOOL_TMP_MARK), *q;

	if (p == NULL || p == name)
		return 0;
	p += strlen(TOOL_TMP_MARK);
	for (q = p; *q >= '0' && *q <= '9'; q++)
		;
	if (q == p || *q != '.')
		return 0;
	for (p = ++q; *q >= '0' && *q <= '9'; q++)
		;
	return q != p && *q == '\0';
}

void tool_sweep_stale(const char *dir)
{
	time_t old = time(NULL) - TOOL_TMP_STALE;
	struct dirent *e;
	struct stat st;
	DIR *d;

	if ((d = opendir(dir)) == NULL)
		return; /* the write that follows says why */
	while ((e = readdir(d)) != NULL) {
		/* ours: by name, by owner, a regular file, not written to for long */
		if (!is_tmp_name(e->d_name) ||
		    fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
		    !S_ISREG(st.st_mode) || st.st_uid != geteuid() || st.st_mtime > old)
			continue;
		(void)unlinkat(dirfd(d), e->d_name, 0);
	}
	closedir(d);
}

/* The folder of @path (free()), NULL for no memory. */
static char *dir_of(const char *path)
{
	char *copy = strdup(path), *d;

	if (copy == NULL)
		return NULL;
	d = strdup(dirname(copy));
	free(copy);
	return d;
}

/*
 * The descriptor @path names by itself, -1 if none: "-" and /dev/stdout 1,
 * /dev/stderr 2, /dev/fd/N and /proc/self/fd/N N.  Those are the caller's
 * open files, written where they are (not links followed to a name).
 */
static int fd_named(const char *path)
{
	static const char *const dirs[] = { "/dev/fd/", "/proc/self/fd/" };
	const char *p;
	char *end;
	long n;
	size_t i;

	if (strcmp(path, "-") == 0 || strcmp(path, "/dev/stdout") == 0)
		return 1;
	if (strcmp(path, "/dev/stderr") == 0)
		return 2;
	for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		if (strncmp(path, dirs[i], strlen(dirs[i])) != 0)
			continue;
		p = path + strlen(dirs[i]);
		errno = 0;
		n = strtol(p, &end, 10);
		if (*p >= '0' && *p <= '9' && *end == '\0' && errno == 0 && n <= 65535)
			return (int)n;
	}
	return -1;
}

/*
 * With TOOL_OUT_FOLLOW, the file the link @path names (free()) when the
 * link and that file are ours and it is a regular file; else NULL, and
 * *why says why.
 */
static char *link_followed(const char *path, const struct stat *lst, const char **why)
{
	struct stat st;
	char *real;

	*why = "it is not ours";
	if (lst->st_uid != geteuid())
		return NULL;
	*why = "it names nothing";
	if ((real = realpath(path, NULL)) == NULL)
		return NULL;
	*why = "it names a file that is not a regular file of ours";
	if (lstat(real, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid()) {
		free(real);
		return NULL;
	}
	return real;
}

int tool_out_check(const char *path, unsigned flags, char **preal, int *pstream, struct stat *pst)
{
	struct stat lst;
	const char *why;
	char *real = NULL, *d;
	int ok;

	*preal = NULL;
	*pstream = 0;
	if (fd_named(path) >= 0) {
		*pstream = 1;
		return TOOL_EXIT_OK;
	}
	if (lstat(path, &lst) != 0) {
		if (errno != ENOENT) {
			tool_errorf("cannot write %s: %s", path, strerror(errno));
			return TOOL_EXIT_FAIL;
		}
		memset(&lst, 0, sizeof(lst)); /* a new file */
	} else if (S_ISLNK(lst.st_mode)) {
		if (!(flags & TOOL_OUT_FOLLOW)) {
			tool_errorf("%s is a symbolic link: not written through (name the file "
			            "itself)",
			            path);
			return TOOL_EXIT_FAIL;
		}
		if ((real = link_followed(path, &lst, &why)) == NULL) {
			tool_errorf("%s is a symbolic link and %s: not written through", path, why);
			return TOOL_EXIT_FAIL;
		}
		if (lstat(real, &lst) != 0) {
			tool_errorf("cannot write %s: %s", real, strerror(errno));
			free(real);
			return TOOL_EXIT_FAIL;
		}
	} else if (S_ISDIR(lst.st_mode)) {
		tool_errorf("cannot write %s: it is a directory", path);
		return TOOL_EXIT_FAIL;
	} else if (!S_ISREG(lst.st_mode)) {
		/* a device or a pipe (/dev/null) is written, not replaced */
		*pstream = 1;
		return TOOL_EXIT_OK;
	}
	/* the temporary file goes beside the file: its folder must take it */
	if ((d = dir_of(real != NULL ? real : path)) == NULL) {
		tool_errorf("out of memory");
		free(real);
		return TOOL_EXIT_FAIL;
	}
	ok = access(d, W_OK | X_OK) == 0;
	if (!ok)
		tool_errorf("cannot write %s: its folder %s: %s", path, d, strerror(errno));
	free(d);
	if (!ok) {
		free(real);
		return TOOL_EXIT_FAIL;
	}
	if (pst != NULL)
		*pst = lst;
	*preal = real;
	return TOOL_EXIT_OK;
}

int tool_out_ok(const char *path, unsigned flags)
{
	char *real = NULL;
	int stream, ret = tool_out_check(path, flags, &real, &stream, NULL);

	free(real);
	return ret == TOOL_EXIT_OK;
}

int tool_atomic_open_flags(struct tool_atomic *a, const char *path, unsigned flags)
{
	struct stat st;
	char *d;
	int attempt, stream, keep;

	memset(a, 0, sizeof(*a));
	a->fd = -1;
	a->path = path;
	if (strcmp(path, "-") == 0) {
		a->fd = 1;
		return TOOL_EXIT_OK;
	}
	if (tool_out_check(path, flags, &a->real, &stream, &st) != TOOL_EXIT_OK)
		goto fail;
	a->target = a->real != NULL ? a->real : path;
	if (stream && fd_named(path) >= 0) {
		/* the caller's open file: a copy of its descriptor, closed on commit */
		(void)fflush(NULL); /* what stdio holds for it goes first */
		if ((a->fd = fcntl(fd_named(path), F_DUPFD_CLOEXEC, 3)) < 0) {
			tool_errorf("cannot write %s: %s", path, strerror(errno));
			goto fail;
		}
		return TOOL_EXIT_OK;
	}
	if (stream) {
		if ((a->fd = open(path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
			tool_errorf("cannot write %s: %s", path, strerror(errno));
			goto fail;
		}
		return TOOL_EXIT_OK;
	}
	/* the mode of what is replaced is kept only when it is a regular file of ours */
	keep = S_ISREG(st.st_mode) && st.st_uid == geteuid();
	if (!(flags & TOOL_OUT_NO_SWEEP) && (d = dir_of(a->target)) != NULL) {
		tool_sweep_stale(d);
		free(d);
	}
	if ((a->tmp = malloc(strlen(a->target) + sizeof(TOOL_TMP_MARK) + 32)) == NULL) {
		tool_errorf("out of memory");
		goto fail;
	}
	for (attempt = 0; a->fd < 0 && attempt < 100; attempt++) {
		sprintf(a->tmp, "%s" TOOL_TMP_MARK "%ld.%d", a->target, (long)getpid(), attempt);
		a->fd = open(a->tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		             keep ? 0600 : 0644);
		if (a->fd < 0 && errno != EEXIST)
			break;
	}
	if (a->fd < 0) {
		tool_errorf("cannot write %s: %s", path, strerror(errno));
		free(a->tmp);
		a->tmp = NULL;
		goto fail;
	}
	if (keep) {
		if (st.st_gid != getegid() && fchown(a->fd, (uid_t)-1, st.st_gid) != 0)
			tool_warnf("%s: cannot keep the group: %s", path, strerror(errno));
		if (fchmod(a->fd, st.st_mode & 07777) != 0) {
			tool_errorf("cannot set the mode of %s: %s", a->tmp, strerror(errno));
			goto fail;
		}
	}
	return TOOL_EXIT_OK;
fail:
	tool_atomic_abort(a);
	return TOOL_EXIT_FAIL;
}

int tool_atomic_open(struct tool_atomic *a, const char *path)
{
	return tool_atomic_open_flags(a, path, 0);
}

int tool_atomic_write(struct tool_atomic *a, const unsigned char *p, size_t len)
{
	if (!write_all(a->fd, p, len)) {
		tool_errorf("cannot write %s: %s", a->tmp != NULL ? a->tmp : a->path,
		            strerror(errno));
		return TOOL_EXIT_FAIL;
	}
	return TOOL_EXIT_OK;
}

int tool_atomic_commit(struct tool_atomic *a, int sync)
{
	char *dircopy = NULL;
	int dfd, fd = a->fd, bad;

	if (a->tmp == NULL) { /* standard output, or a device written directly */
		a->fd = -1;
		if (fd > 1 && close(fd) != 0) {
			tool_errorf("cannot write %s: %s", a->path, strerror(errno));
			tool_atomic_abort(a);
			return TOOL_EXIT_FAIL;
		}
		tool_atomic_abort(a);
		return TOOL_EXIT_OK;
	}
	a->fd = -1;
	bad = sync && fsync(fd) != 0;
	if (close(fd) != 0)
		bad = 1;
	if (bad) {
		tool_errorf("cannot write %s: %s", a->tmp, strerror(errno));
		goto fail;
	}
	if (rename(a->tmp, a->target) != 0) {
		tool_errorf("cannot rename %s to %s: %s", a->tmp, a->target, strerror(errno));
		goto fail;
	}
	free(a->tmp);
	a->tmp = NULL;
	/* the rename itself survives a crash once the directory is synced */
	if (sync && (dircopy = strdup(a->target)) != NULL &&
	    (dfd = open(dirname(dircopy), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		(void)fsync(dfd);
		close(dfd);
	}
	free(dircopy);
	tool_atomic_abort(a);
	return TOOL_EXIT_OK;
fail:
	tool_atomic_abort(a);
	return TOOL_EXIT_FAIL;
}

int tool_write_atomic_flags(const char *path, const unsigned char *p, size_t len, unsigned flags)
{
	struct tool_atomic a;

	if (strcmp(path, "-") == 0) {
		if (fwrite(p, 1, len, stdout) != len || fflush(stdout) != 0) {
			tool_errorf("cannot write to standard output");
			return TOOL_EXIT_FAIL;
		}
		return TOOL_EXIT_OK;
	}
	if (tool_atomic_open_flags(&a, path, flags) != TOOL_EXIT_OK)
		return TOOL_EXIT_FAIL;
	if (tool_atomic_write(&a, p, len) != TOOL_EXIT_OK) {
		tool_atomic_abort(&a);
		return TOOL_EXIT_FAIL;
	}
	return tool_atomic_commit(&a, !(flags & TOOL_OUT_NO_SYNC));
}

int tool_write_atomic(const char *path, const unsigned char *p, size_t len)
{
	return tool_write_atomic_flags(path, p, len, 0);
}

int tool_slurp(const char *path, unsigned char **pbuf, size_t *plen)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	unsigned char *buf = NULL, *nb;
	size_t len = 0, cap = 0, n;
	int rc = RES_OK;

	struct stat st;

	*pbuf = NULL;
	if (f == NULL)
		return res_set(RES_IO, "cannot open %s: %s", path, strerror(errno));
	/* a regular file's size is known: no more memory than it needs (a batch holds many) */
	if (fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode) && st.st_size < TOOL_READ_MAX) {
		cap = (size_t)st.st_size + 1; /* one more: EOF is seen without growing */
		if ((buf = malloc(cap + 1)) == NULL) {
			rc = res_set(RES_NOMEM, "out of memory");
			goto out;
		}
	}
	for (;;) {
		if (len == cap) {
			if (cap >= TOOL_READ_MAX) {
				rc = res_set(RES_BAD_INPUT, "%s is larger than %d MiB", path,
				             TOOL_READ_MAX >> 20);
				goto out;
			}
			cap = cap ? 2 * cap : 16384;
			if ((nb = realloc(buf, cap + 1)) == NULL) {
				rc = res_set(RES_NOMEM, "out of memory");
				goto out;
			}
			buf = nb;
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
		if (n == 0)
			break;
	}
	if (ferror(f)) {
		rc = res_set(RES_IO, "cannot read %s: %s", path, strerror(errno));
		goto out;
	}
	buf[len] = '\0';
	*pbuf = buf;
	*plen = len;
	buf = NULL;
out:
	if (f != stdin)
		fclose(f);
	free(buf);
	return rc;
}

unsigned char *tool_read_file(const char *path, size_t *plen)
{
	unsigned char *buf = NULL;

	if (tool_slurp(path, &buf, plen) != RES_OK)
		tool_errorf("%s", res_message());
	return buf;
}

int tool_uri_has_pin_value(const char *uri)
{
	return p11ca_uri_has_pin_value(uri);
}

/*
 * Whether @arg holds a pin-value, in any spelling and wherever it is (a
 * mistyped scheme, after ';'): p11ca_uri_redact() finds them all.
 */
static int arg_has_pin(const char *arg)
{
	return tool_uri_has_pin_value(arg);
}

int tool_argv_refuse_pins(int argc, char **argv)
{
	int i, first = 0;

	for (i = 1; i < argc; i++) {
		if (!arg_has_pin(argv[i]))
			continue;
		/* /proc/PID/cmdline shows argv to everyone: out of it first */
		OPENSSL_cleanse(argv[i], strlen(argv[i]));
		if (first == 0)
			first = i;
	}
	if (first == 0)
		return TOOL_EXIT_OK;
	tool_errorf("argument %d holds a pin-value: a PIN is never a command-line argument "
	            "(every user can read those); use pin-source=file:/path in the URI, "
	            "--pin-file FILE or P11CA_PIN",
	            first);
	return TOOL_EXIT_USAGE;
}

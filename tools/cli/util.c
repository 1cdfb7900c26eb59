/* util.c - messages, the context every subcommand opens, output helpers. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/crypto.h>
#include <p11-kit/uri.h>

#include "result.h"
#include "tool.h"

/* "p11ca: " PREFIX message "\n" in one write: lines of threads never mix. */
static void message(const char *prefix, const char *fmt, va_list ap)
{
	char line[2048];
	int n = snprintf(line, sizeof(line), "p11ca: %s", prefix);

	if (n < 0 || (size_t)n >= sizeof(line))
		return;
	vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	n = (int)strlen(line);
	line[n] = '\n';
	(void)fwrite(line, 1, (size_t)n + 1, stderr);
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
		tool_errorf("%s: %s", what, p11ca_rv_name(rv));
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

/* The log of libp11ca, shown with --verbose; @data is the stream. */
static void log_cb(void *data, const char *msg)
{
	fprintf(data, "p11ca: %s\n", msg);
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
	if (c->verbose)
		p11ca_ctx_set_log(ctx, log_cb, stderr);
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

int tool_atomic_open(struct tool_atomic *a, const char *path)
{
	struct stat st;
	int attempt, have_st;

	memset(a, 0, sizeof(*a));
	a->fd = -1;
	a->path = path;
	if (strcmp(path, "-") == 0) {
		a->fd = 1;
		return TOOL_EXIT_OK;
	}
	if ((a->real = realpath(path, NULL)) != NULL)
		a->target = a->real;
	else
		a->target = path;
	have_st = stat(a->target, &st) == 0;
	if (have_st && !S_ISREG(st.st_mode)) {
		/* a device or a pipe (/dev/null, /dev/stdout) is written, not replaced */
		if ((a->fd = open(a->target, O_WRONLY | O_CLOEXEC)) < 0) {
			tool_errorf("cannot write %s: %s", path, strerror(errno));
			goto fail;
		}
		return TOOL_EXIT_OK;
	}
	if ((a->tmp = malloc(strlen(a->target) + 32)) == NULL) {
		tool_errorf("out of memory");
		goto fail;
	}
	for (attempt = 0; a->fd < 0 && attempt < 100; attempt++) {
		sprintf(a->tmp, "%s.tmp.%ld.%d", a->target, (long)getpid(), attempt);
		a->fd =
		    open(a->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, have_st ? 0600 : 0644);
		if (a->fd < 0 && errno != EEXIST)
			break;
	}
	if (a->fd < 0) {
		tool_errorf("cannot write %s: %s", path, strerror(errno));
		free(a->tmp);
		a->tmp = NULL;
		goto fail;
	}
	if (have_st) {
		if ((st.st_uid != geteuid() || st.st_gid != getegid()) &&
		    fchown(a->fd, st.st_uid, st.st_gid) != 0)
			tool_warnf("%s: cannot keep the owner: %s", path, strerror(errno));
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

/*
 * Writes @len bytes to @path atomically: a temporary file beside it
 * (created with the umask's permissions), fsync, rename, fsync of the
 * directory.  "-" is standard output.
 */
int tool_write_atomic(const char *path, const unsigned char *p, size_t len)
{
	struct tool_atomic a;

	if (strcmp(path, "-") == 0) {
		if (fwrite(p, 1, len, stdout) != len || fflush(stdout) != 0) {
			tool_errorf("cannot write to standard output");
			return TOOL_EXIT_FAIL;
		}
		return TOOL_EXIT_OK;
	}
	if (tool_atomic_open(&a, path) != TOOL_EXIT_OK)
		return TOOL_EXIT_FAIL;
	if (tool_atomic_write(&a, p, len) != TOOL_EXIT_OK) {
		tool_atomic_abort(&a);
		return TOOL_EXIT_FAIL;
	}
	return tool_atomic_commit(&a, 1);
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
	size_t cap = strlen(uri) + 32;
	char *buf = malloc(cap);
	int has;

	if (buf == NULL)
		return 1; /* say so rather than keep it */
	/* the redaction knows every spelling of the attribute */
	has = strcmp(p11ca_uri_redact(uri, buf, cap), uri) != 0;
	free(buf);
	return has;
}

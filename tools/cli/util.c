/* util.c - messages, the context every subcommand opens, output helpers. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tool.h"

static int verbose;

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
	case OPT_MODULE:
		c->module = arg;
		return 1;
	case OPT_PIN_FILE:
		c->pin_file = arg;
		return 1;
	case OPT_VERBOSE:
	case 'v':
		c->verbose = 1;
		verbose = 1;
		return 1;
	default:
		return 0;
	}
}

static void log_cb(void *data, const char *msg)
{
	(void)data;
	if (verbose)
		fprintf(stderr, "p11ca: %s\n", msg);
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
	p11ca_ctx_set_log(ctx, log_cb, NULL);
	if (c->pin_file != NULL && (rv = p11ca_ctx_set_pin_file(ctx, c->pin_file)) != CKR_OK) {
		tool_fail("--pin-file", rv);
		p11ca_ctx_free(ctx);
		return NULL;
	}
	return ctx;
}

void tool_json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '"' || ch == '\\')
			fprintf(f, "\\%c", ch);
		else if (ch < 0x20)
			fprintf(f, "\\u%04x", ch);
		else
			fputc(ch, f);
	}
	fputc('"', f);
}

void tool_hex(char *out, const unsigned char *p, size_t len)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < len; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * len] = '\0';
}

void tool_uri_drop_type(char *uri)
{
	char *p = strstr(uri, "type=");
	size_t len;

	while (p != NULL && p[-1] != ';' && p[-1] != ':')
		p = strstr(p + 1, "type=");
	if (p == NULL)
		return;
	len = strcspn(p, ";?");
	if (p[len] == ';')
		len++; /* also the separator after it */
	else if (p[-1] == ';')
		p--, len++; /* last attribute: the separator before it */
	memmove(p, p + len, strlen(p + len) + 1);
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
		a->fd = open(a->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, have_st ? 0600 : 0644);
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
		tool_errorf("cannot write %s: %s", a->tmp != NULL ? a->tmp : a->path, strerror(errno));
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

unsigned char *tool_read_file(const char *path, size_t *plen)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	unsigned char *buf = NULL, *nb;
	size_t len = 0, cap = 0, n;

	if (f == NULL) {
		tool_errorf("cannot open %s: %s", path, strerror(errno));
		return NULL;
	}
	for (;;) {
		if (cap - len < 4096) {
			cap = cap ? 2 * cap : 16384;
			if ((nb = realloc(buf, cap + 1)) == NULL) {
				tool_errorf("out of memory");
				goto fail;
			}
			buf = nb;
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
		if (n == 0)
			break;
	}
	if (ferror(f)) {
		tool_errorf("cannot read %s: %s", path, strerror(errno));
		goto fail;
	}
	if (f != stdin)
		fclose(f);
	buf[len] = '\0';
	*plen = len;
	return buf;
fail:
	if (f != stdin)
		fclose(f);
	free(buf);
	return NULL;
}

int tool_is_pem(const unsigned char *buf, size_t len)
{
	size_t i;

	for (i = 0; i + 11 <= len; i++)
		if (memcmp(buf + i, "-----BEGIN ", 11) == 0)
			return 1;
	return 0;
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

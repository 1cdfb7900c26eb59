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

void tool_errorf(const char *fmt, ...)
{
	va_list ap;

	fputs("p11ca: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void tool_warnf(const char *fmt, ...)
{
	va_list ap;

	fputs("p11ca: warning: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
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

/*
 * Writes @len bytes to @path atomically: a temporary file beside it
 * (created with the umask's permissions), fsync, rename, fsync of the
 * directory.  "-" is standard output.
 */
int tool_write_atomic(const char *path, const unsigned char *p, size_t len)
{
	char *real = NULL, *tmp = NULL, *dircopy = NULL;
	const char *target = path;
	struct stat st;
	int fd = -1, ok = 0, dfd, attempt, have_st;

	if (strcmp(path, "-") == 0) {
		if (fwrite(p, 1, len, stdout) != len || fflush(stdout) != 0) {
			tool_errorf("cannot write to standard output");
			return TOOL_EXIT_FAIL;
		}
		return TOOL_EXIT_OK;
	}
	if ((real = realpath(path, NULL)) != NULL)
		target = real;
	have_st = stat(target, &st) == 0;
	if ((tmp = malloc(strlen(target) + 32)) == NULL) {
		tool_errorf("out of memory");
		goto out;
	}
	for (attempt = 0; fd < 0 && attempt < 100; attempt++) {
		sprintf(tmp, "%s.tmp.%ld.%d", target, (long)getpid(), attempt);
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, have_st ? 0600 : 0644);
		if (fd < 0 && errno != EEXIST)
			break;
	}
	if (fd < 0) {
		tool_errorf("cannot write %s: %s", path, strerror(errno));
		goto out;
	}
	if (have_st) {
		if ((st.st_uid != geteuid() || st.st_gid != getegid()) &&
		    fchown(fd, st.st_uid, st.st_gid) != 0)
			tool_warnf("%s: cannot keep the owner: %s", path, strerror(errno));
		if (fchmod(fd, st.st_mode & 07777) != 0) {
			tool_errorf("cannot set the mode of %s: %s", tmp, strerror(errno));
			goto out;
		}
	}
	if (!write_all(fd, p, len) || fsync(fd) != 0) {
		tool_errorf("cannot write %s: %s", tmp, strerror(errno));
		goto out;
	}
	if (close(fd) != 0) {
		fd = -1;
		tool_errorf("cannot write %s: %s", tmp, strerror(errno));
		goto out;
	}
	fd = -1;
	if (rename(tmp, target) != 0) {
		tool_errorf("cannot rename %s to %s: %s", tmp, target, strerror(errno));
		goto out;
	}
	free(tmp);
	tmp = NULL;
	/* the rename itself survives a crash once the directory is synced */
	if ((dircopy = strdup(target)) != NULL &&
	    (dfd = open(dirname(dircopy), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		(void)fsync(dfd);
		close(dfd);
	}
	ok = 1;
out:
	if (fd >= 0)
		close(fd);
	if (tmp != NULL) {
		(void)unlink(tmp);
		free(tmp);
	}
	free(dircopy);
	free(real);
	return ok ? TOOL_EXIT_OK : TOOL_EXIT_FAIL;
}

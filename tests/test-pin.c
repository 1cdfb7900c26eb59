/*
 * test-pin.c - PIN files (one line, one trailing newline stripped; regular
 * files only; a warning when others may read them), the pin-source forms,
 * the order of the PIN sources in p11ca_pin_fetch(), and the prompt giving
 * the terminal back when Ctrl-C ends it.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "unit-helpers.h"

struct pin_fixture {
	char dir[512];
	char path[600];
};

static int setup(void **state)
{
	struct pin_fixture *f = calloc(1, sizeof(*f));

	if (f == NULL || uh_mkdtemp("unit-pin", f->dir, sizeof(f->dir)) != 0) {
		free(f);
		return -1;
	}
	snprintf(f->path, sizeof(f->path), "%s/pin", f->dir);
	unsetenv("P11CA_PIN");
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct pin_fixture *f = *state;

	uh_rmtree(f->dir);
	free(f);
	unsetenv("P11CA_PIN");
	return 0;
}

/* Writes @len bytes of @data to the fixture's file and reads it back. */
static CK_RV read_pin(struct pin_fixture *f, const char *data, size_t len, char *buf, size_t cap,
                      size_t *plen)
{
	assert_int_equal(uh_write_file(f->path, data, len), 0);
	*plen = (size_t)-1;
	return p11ca_pin_read_file(f->path, buf, cap, plen);
}

static void expect_pin(struct pin_fixture *f, const char *data, size_t len, const char *pin,
                       size_t pinlen)
{
	char buf[P11CA_PIN_MAX];
	size_t got;
	CK_RV rv = read_pin(f, data, len, buf, sizeof(buf), &got);

	if (rv != CKR_OK)
		print_error("%s\n", p11ca_error_message());
	assert_int_equal(rv, CKR_OK);
	assert_int_equal(got, pinlen);
	assert_memory_equal(buf, pin, pinlen);
	assert_int_equal(buf[got], '\0');
}

static void expect_refused(struct pin_fixture *f, const char *data, size_t len, size_t cap,
                           const char *needle)
{
	char buf[P11CA_PIN_MAX + 8];
	size_t got;
	CK_RV rv = read_pin(f, data, len, buf, cap, &got);

	assert_int_equal(rv, P11CA_R_NO_PIN);
	assert_int_equal(got, (size_t)-1);
	assert_true(uh_contains(p11ca_error_message(), f->path));
	if (needle != NULL && !uh_contains(p11ca_error_message(), needle)) {
		print_error("'%s' lacks '%s'\n", p11ca_error_message(), needle);
		fail();
	}
}

#define S(x) x, sizeof(x) - 1

static void test_file_newlines(void **state)
{
	struct pin_fixture *f = *state;

	expect_pin(f, S("1234"), S("1234"));
	expect_pin(f, S("1234\n"), S("1234"));
	expect_pin(f, S("1234\r\n"), S("1234"));
	/* spaces are part of a PIN, inside and at the ends */
	expect_pin(f, S(" 12 34 \n"), S(" 12 34 "));
	expect_pin(f, S("\t1234\t"), S("\t1234\t"));
	/* only one line end is stripped: a second one is not part of the PIN either */
	expect_refused(f, S("1234\n\n"), P11CA_PIN_MAX, "more than one line");
	expect_refused(f, S("1234\r\n\r\n"), P11CA_PIN_MAX, "more than one line");
	expect_refused(f, S("12\n34"), P11CA_PIN_MAX, "more than one line");
	expect_refused(f, S("12\n34\n"), P11CA_PIN_MAX, "more than one line");
	expect_refused(f, S("\n1234\n"), P11CA_PIN_MAX, "more than one line");
	/* one "\r" before the newline goes; another one stays */
	expect_pin(f, S("1234\r\r\n"), S("1234\r"));
	/* an empty file and a bare newline: the empty PIN */
	expect_pin(f, S(""), S(""));
	expect_pin(f, S("\n"), S(""));
}

static void test_file_lengths(void **state)
{
	struct pin_fixture *f = *state;
	char big[2048];

	memset(big, 'A', sizeof(big));
	/* the longest PIN that fits: P11CA_PIN_MAX - 1 bytes, with or without newline */
	expect_pin(f, big, P11CA_PIN_MAX - 1, big, P11CA_PIN_MAX - 1);
	big[P11CA_PIN_MAX - 1] = '\n';
	expect_pin(f, big, P11CA_PIN_MAX, big, P11CA_PIN_MAX - 1);
	big[P11CA_PIN_MAX - 1] = 'A';
	expect_refused(f, big, P11CA_PIN_MAX, P11CA_PIN_MAX, "too long");
	big[P11CA_PIN_MAX] = '\n';
	expect_refused(f, big, P11CA_PIN_MAX + 1, P11CA_PIN_MAX, "too long");
	big[P11CA_PIN_MAX] = 'A';
	expect_refused(f, big, sizeof(big), P11CA_PIN_MAX, "too long");
	/* the caller's capacity counts too */
	expect_refused(f, S("12345"), 5, "too long");
	{
		char buf[5];
		size_t got;
		assert_int_equal(read_pin(f, S("1234\n"), buf, sizeof(buf), &got), CKR_OK);
		assert_string_equal(buf, "1234");
	}
}

static void test_file_missing(void **state)
{
	struct pin_fixture *f = *state;
	char buf[P11CA_PIN_MAX], path[700];
	size_t got = 7;

	snprintf(path, sizeof(path), "%s/no-such-pin-file", f->dir);
	assert_int_equal(p11ca_pin_read_file(path, buf, sizeof(buf), &got), P11CA_R_NO_PIN);
	assert_true(uh_contains(p11ca_error_message(), path));
	assert_int_equal(got, 7);
	/* a directory is not a PIN file either */
	assert_int_equal(p11ca_pin_read_file(f->dir, buf, sizeof(buf), &got), P11CA_R_NO_PIN);
	assert_true(uh_contains(p11ca_error_message(), f->dir));
}

/*
 * What is not a regular file is refused at once: a FIFO nobody writes to
 * (open() used to wait for a writer for ever), a device that never ends
 * (/dev/zero), and a file too big to be a PIN is not read at all.
 */
static void test_file_special(void **state)
{
	struct pin_fixture *f = *state;
	char buf[P11CA_PIN_MAX], fifo[700], big[700];
	struct timespec t0, t1;
	size_t got = 7;
	int fd;

	snprintf(fifo, sizeof(fifo), "%s/fifo", f->dir);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	/* a test that hangs fails too: SIGALRM ends it */
	alarm(20);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(p11ca_pin_read_file(fifo, buf, sizeof(buf), &got), P11CA_R_NO_PIN);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	alarm(0);
	assert_true(uh_contains(p11ca_error_message(), "not a regular file"));
	assert_true(t1.tv_sec - t0.tv_sec < 5);
	assert_int_equal(got, 7);

	assert_int_equal(p11ca_pin_read_file("/dev/zero", buf, sizeof(buf), &got), P11CA_R_NO_PIN);
	assert_true(uh_contains(p11ca_error_message(), "not a regular file"));
	assert_int_equal(p11ca_pin_read_file("/dev/null", buf, sizeof(buf), &got), P11CA_R_NO_PIN);
	assert_true(uh_contains(p11ca_error_message(), "not a regular file"));

	/* 64 MiB of holes: refused by its size */
	snprintf(big, sizeof(big), "%s/big", f->dir);
	fd = open(big, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 64L << 20), 0);
	close(fd);
	assert_int_equal(p11ca_pin_read_file(big, buf, sizeof(buf), &got), P11CA_R_NO_PIN);
	assert_true(uh_contains(p11ca_error_message(), "too long"));
	assert_int_equal(got, 7);
}

/* Log callback of the fake context: keeps the last message. */
static void keep_log(void *data, const char *msg)
{
	snprintf(data, 512, "%s", msg);
}

/* A PIN file others may read or write is named in a warning; 0600 is not. */
static void test_file_exposed(void **state)
{
	static const struct {
		mode_t mode;
		const char *want;
	} cases[] = {
		{ 0600, NULL },
		{ 0400, NULL },
		{ 0700, NULL },
		{ 0640, "readable by its group (mode 0640)" },
		{ 0604, "readable by others (mode 0604)" },
		{ 0644, "readable by group and others (mode 0644)" },
		{ 0620, "writable by its group (mode 0620)" },
		{ 0602, "writable by others (mode 0602)" },
		{ 0666, "writable by group and others (mode 0666)" },
	};
	struct pin_fixture *f = *state;
	char why[512], logged[512], buf[P11CA_PIN_MAX];
	size_t i, len;

	assert_int_equal(uh_write_file(f->path, S("exposed-pin\n")), 0);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct fake {
			p11ca_ctx ctx;
			p11ca_token tok;
		} fk;

		assert_int_equal(chmod(f->path, cases[i].mode), 0);
		why[0] = '\0';
		assert_int_equal(p11ca_pin_file_exposed(f->path, why, sizeof(why)),
		                 cases[i].want != NULL);
		if (cases[i].want == NULL)
			continue;
		if (!uh_contains(why, cases[i].want) || !uh_contains(why, f->path))
			fail_msg("mode %04o: '%s'", (unsigned)cases[i].mode, why);
		assert_false(uh_contains(why, "exposed-pin"));

		/* p11ca_pin_fetch() says so through the context's log */
		memset(&fk, 0, sizeof(fk));
		fk.tok.ctx = &fk.ctx;
		pthread_mutex_init(&fk.tok.lock, NULL);
		fk.ctx.pin_file = f->path;
		fk.ctx.log_fn = keep_log;
		fk.ctx.log_data = logged;
		logged[0] = '\0';
		assert_int_equal(p11ca_pin_fetch(&fk.tok, buf, &len), CKR_OK);
		assert_string_equal(buf, "exposed-pin");
		assert_true(strncmp(logged, "warning: ", 9) == 0);
		assert_string_equal(logged + 9, why);
		pthread_mutex_destroy(&fk.tok.lock);
	}
	/* what cannot be examined is no warning */
	assert_int_equal(p11ca_pin_file_exposed("/nonexistent/pin", why, sizeof(why)), 0);
}

/* Reads from the pty master @m until @want shows up (10 s at most). */
static int pty_wait_for(int m, const char *want)
{
	char seen[1024];
	size_t n = 0;
	struct pollfd pfd = { m, POLLIN, 0 };

	while (n + 1 < sizeof(seen) && poll(&pfd, 1, 10000) == 1) {
		ssize_t r = read(m, seen + n, sizeof(seen) - 1 - n);
		if (r <= 0)
			return 0;
		n += (size_t)r;
		seen[n] = '\0';
		if (strstr(seen, want) != NULL)
			return 1;
	}
	return 0;
}

/*
 * Ctrl-C at the PIN prompt: the process still ends by SIGINT, and the
 * terminal has its echo back (it used to stay off, the shell typing blind).
 * The prompt runs in a child whose controlling terminal is a pseudo-tty.
 */
static void test_prompt_ctrl_c(void **state)
{
	struct termios t;
	char *slave_name;
	pid_t pid;
	int m, s, status;

	(void)state;
	m = posix_openpt(O_RDWR | O_NOCTTY);
	assert_true(m >= 0);
	assert_int_equal(grantpt(m), 0);
	assert_int_equal(unlockpt(m), 0);
	assert_non_null(slave_name = ptsname(m));
	s = open(slave_name, O_RDWR | O_NOCTTY);
	assert_true(s >= 0);
	assert_int_equal(tcgetattr(s, &t), 0);
	assert_true((t.c_lflag & ECHO) && (t.c_lflag & ISIG));

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char buf[P11CA_PIN_MAX];
		size_t len;
		int c;

		/* a session of its own, the pseudo-tty its controlling terminal */
		if (setsid() < 0 || (c = open(slave_name, O_RDWR)) < 0)
			_exit(3);
		signal(SIGINT, SIG_DFL);
		p11ca_pin_prompt("PIN for ctrl-c: ", buf, sizeof(buf), &len);
		_exit(4); /* Ctrl-C must not come back here */
	}
	assert_true(pty_wait_for(m, "PIN for ctrl-c: "));
	/* the prompt is up: echo is off now */
	assert_int_equal(tcgetattr(s, &t), 0);
	assert_false(t.c_lflag & ECHO);
	assert_int_equal(write(m, "12\x03", 3), 3); /* two digits, then Ctrl-C */
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGINT)
		fail_msg("the prompt's process did not end by SIGINT (status %#x)", status);
	assert_int_equal(tcgetattr(s, &t), 0);
	if (!(t.c_lflag & ECHO))
		fail_msg("echo is still off after Ctrl-C at the PIN prompt");
	close(s);
	close(m);
}

static void expect_source(const char *source, const char *path)
{
	char buf[256];
	CK_RV rv = p11ca_pin_source_path(source, buf, sizeof(buf));

	if (rv != CKR_OK)
		print_error("%s: %s\n", source, p11ca_error_message());
	assert_int_equal(rv, CKR_OK);
	assert_string_equal(buf, path);
}

static void expect_bad_source(const char *source)
{
	char buf[256];

	assert_int_equal(p11ca_pin_source_path(source, buf, sizeof(buf)), P11CA_R_BAD_URI);
	assert_true(p11ca_error_message()[0] != '\0');
}

static void test_pin_source_forms(void **state)
{
	char small[8];

	(void)state;
	expect_source("file:/x", "/x");
	expect_source("file:///x", "/x");
	expect_source("file:///run/p11ca/pin", "/run/p11ca/pin");
	expect_source("file://localhost/etc/pin", "/etc/pin");
	expect_source("/x", "/x");
	expect_source("/some/where/pin.txt", "/some/where/pin.txt");
	expect_bad_source("env:P11CA_PIN");
	expect_bad_source("http://example.com/pin");
	expect_bad_source("https:/pin");
	expect_bad_source("file:");
	expect_bad_source("file://");
	expect_bad_source("file://otherhost/x");
	expect_bad_source("file:relative/pin");
	expect_bad_source("relative/pin");
	expect_bad_source("");
	/* a path that does not fit is refused, not cut */
	assert_int_equal(p11ca_pin_source_path("/a/b/c/d/e/f", small, sizeof(small)),
	                 P11CA_R_BAD_URI);
	assert_int_equal(p11ca_pin_source_path("/a/b/c", small, sizeof(small)), CKR_OK);
	assert_string_equal(small, "/a/b/c");
}

/* ---- the order of the sources ---- */

struct fake {
	p11ca_ctx ctx;
	p11ca_token tok;
};

static void fake_init(struct fake *fk)
{
	memset(fk, 0, sizeof(*fk));
	fk->tok.ctx = &fk->ctx;
	snprintf(fk->tok.info.label, sizeof(fk->tok.info.label), "fake-token");
	fk->ctx.allow_prompt = 0;
	pthread_mutex_init(&fk->tok.lock, NULL);
}

static void fake_fini(struct fake *fk)
{
	pthread_mutex_destroy(&fk->tok.lock);
}

static void expect_fetch(struct fake *fk, const char *pin)
{
	char buf[P11CA_PIN_MAX];
	size_t len = 0;
	CK_RV rv = p11ca_pin_fetch(&fk->tok, buf, &len);

	if (rv != CKR_OK)
		print_error("p11ca_pin_fetch: %s\n", p11ca_error_message());
	assert_int_equal(rv, CKR_OK);
	assert_int_equal(len, strlen(pin));
	assert_string_equal(buf, pin);
}

static void test_fetch_order(void **state)
{
	struct pin_fixture *f = *state;
	char source_file[700], pin_file[700], source[720];
	char value[] = "pin-from-uri-value";
	struct fake fk;

	snprintf(source_file, sizeof(source_file), "%s/source", f->dir);
	snprintf(pin_file, sizeof(pin_file), "%s/pin-file", f->dir);
	snprintf(source, sizeof(source), "file:%s", source_file);
	assert_int_equal(uh_write_file(source_file, S("pin-from-uri-source\n")), 0);
	assert_int_equal(uh_write_file(pin_file, S("pin-from-pin-file\n")), 0);
	assert_int_equal(setenv("P11CA_PIN", "pin-from-env", 1), 0);

	fake_init(&fk);
	fk.tok.uri_pin_value = value;
	fk.tok.uri_pin_source = source;
	fk.ctx.pin_file = pin_file;
	/* 1. pin-value beats everything */
	expect_fetch(&fk, "pin-from-uri-value");
	/* 2. then pin-source */
	fk.tok.uri_pin_value = NULL;
	expect_fetch(&fk, "pin-from-uri-source");
	/* 3. then --pin-file */
	fk.tok.uri_pin_source = NULL;
	expect_fetch(&fk, "pin-from-pin-file");
	/* 4. then P11CA_PIN */
	fk.ctx.pin_file = NULL;
	expect_fetch(&fk, "pin-from-env");
	/* a pin-source in its plain path form */
	fk.tok.uri_pin_source = source_file;
	expect_fetch(&fk, "pin-from-uri-source");
	fk.tok.uri_pin_source = NULL;
	/* an empty P11CA_PIN is still a PIN the user gave */
	assert_int_equal(setenv("P11CA_PIN", "", 1), 0);
	expect_fetch(&fk, "");
	fake_fini(&fk);
}

static void test_fetch_broken_source(void **state)
{
	struct pin_fixture *f = *state;
	char pin_file[700], missing[700], source[720], buf[P11CA_PIN_MAX];
	struct fake fk;
	size_t len = 0;

	snprintf(pin_file, sizeof(pin_file), "%s/pin-file", f->dir);
	snprintf(missing, sizeof(missing), "%s/missing", f->dir);
	snprintf(source, sizeof(source), "file://%s", missing);
	assert_int_equal(uh_write_file(pin_file, S("pin-from-pin-file\n")), 0);
	assert_int_equal(setenv("P11CA_PIN", "pin-from-env", 1), 0);

	fake_init(&fk);
	fk.ctx.pin_file = pin_file;
	/* the URI says where the PIN is: no silent fallback to other sources */
	fk.tok.uri_pin_source = source;
	assert_int_equal(p11ca_pin_fetch(&fk.tok, buf, &len), P11CA_R_NO_PIN);
	assert_true(uh_contains(p11ca_error_message(), missing));
	fk.tok.uri_pin_source = (char *)"env:P11CA_PIN";
	assert_int_equal(p11ca_pin_fetch(&fk.tok, buf, &len), P11CA_R_BAD_URI);
	/* a broken --pin-file does not fall back to the environment */
	fk.tok.uri_pin_source = NULL;
	fk.ctx.pin_file = missing;
	assert_int_equal(p11ca_pin_fetch(&fk.tok, buf, &len), P11CA_R_NO_PIN);
	assert_true(uh_contains(p11ca_error_message(), missing));
	fake_fini(&fk);
}

static void test_fetch_too_long(void **state)
{
	char big[P11CA_PIN_MAX + 10], buf[P11CA_PIN_MAX];
	struct fake fk;
	size_t len = 0;

	(void)state;
	memset(big, '7', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	fake_init(&fk);
	fk.tok.uri_pin_value = big;
	assert_int_equal(p11ca_pin_fetch(&fk.tok, buf, &len), P11CA_R_NO_PIN);
	assert_false(uh_contains(p11ca_error_message(), "7777777"));
	fk.tok.uri_pin_value = NULL;
	assert_int_equal(setenv("P11CA_PIN", big, 1), 0);
	assert_int_equal(p11ca_pin_fetch(&fk.tok, buf, &len), P11CA_R_NO_PIN);
	assert_false(uh_contains(p11ca_error_message(), "7777777"));
	fake_fini(&fk);
}

static void test_fetch_nothing(void **state)
{
	struct pin_fixture *f = *state;
	char buf[P11CA_PIN_MAX], wrong_file[700];
	struct fake fk;
	size_t len = 0;

	/* sources that were there before and are gone now leave no PIN behind */
	snprintf(wrong_file, sizeof(wrong_file), "%s/pin-file", f->dir);
	assert_int_equal(uh_write_file(wrong_file, S("leftover-pin\n")), 0);
	unsetenv("P11CA_PIN");
	fake_init(&fk);
	fk.ctx.pin_file = wrong_file;
	expect_fetch(&fk, "leftover-pin");
	fk.ctx.pin_file = NULL;
	memset(buf, 'x', sizeof(buf));
	assert_int_equal(p11ca_pin_fetch(&fk.tok, buf, &len), P11CA_R_NO_PIN);
	assert_true(uh_contains(p11ca_error_message(), "fake-token"));
	assert_true(uh_contains(p11ca_error_message(), "P11CA_PIN"));
	assert_false(uh_contains(p11ca_error_message(), "leftover-pin"));
	fake_fini(&fk);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_file_newlines, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_lengths, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_missing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_special, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_exposed, setup, teardown),
		cmocka_unit_test(test_prompt_ctrl_c),
		cmocka_unit_test_setup_teardown(test_pin_source_forms, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fetch_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fetch_broken_source, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fetch_too_long, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fetch_nothing, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

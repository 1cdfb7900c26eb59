/*
 * test-pin.c - PIN files (one line, one trailing newline stripped; regular
 * files only; a warning when others may read them), the pin-source forms,
 * the order of the PIN sources in p11ca_pin_fetch(), and the prompt giving
 * the terminal back when Ctrl-C ends it; the PIN held in a locked page
 * that core dumps leave out (p11ca_pin_hold).
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
#include <sys/mman.h>
#include <sys/resource.h>
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

/* ---- the held PIN (p11ca_pin_hold) ---- */

struct held_map {
	unsigned long start, end;
	long locked_kb; /* "Locked:" */
	int dont_dump;  /* "dd" in VmFlags */
	int found;
};

/*
 * The mapping of /proc/self/smaps whose bytes begin with @pin and a NUL
 * (the held page: nothing else in the process holds that string at the
 * start of a page-aligned anonymous mapping), with its Locked: and VmFlags.
 */
/*
 * Whether the memory at @a starts with @pin and its NUL, read through
 * /proc/self/mem: a plain memcmp there would read mappings AddressSanitizer
 * keeps for itself and stop the test.
 */
static int mem_holds(unsigned long a, const char *pin)
{
	char buf[P11CA_PIN_MAX];
	size_t n = strlen(pin) + 1;
	ssize_t r;
	int fd;

	if (n > sizeof(buf) || (fd = open("/proc/self/mem", O_RDONLY | O_CLOEXEC)) < 0)
		return 0;
	r = pread(fd, buf, n, (off_t)a);
	close(fd);
	return r == (ssize_t)n && memcmp(buf, pin, n) == 0;
}

static struct held_map find_held(const char *pin)
{
	struct held_map m, cur;
	char line[512];
	FILE *fp = fopen("/proc/self/smaps", "r");
	unsigned long page = (unsigned long)sysconf(_SC_PAGESIZE);

	memset(&m, 0, sizeof(m));
	memset(&cur, 0, sizeof(cur));
	assert_non_null(fp);
	while (fgets(line, sizeof(line), fp) != NULL) {
		unsigned long a, b;
		char perms[8];
		long kb;

		if (sscanf(line, "%lx-%lx %7s", &a, &b, perms) == 3 &&
		    strchr(line, '-') < strchr(line, ' ')) {
			memset(&cur, 0, sizeof(cur));
			cur.start = a;
			cur.end = b;
			/*
			 * readable and writable, private, a page or a few (its flags keep it
			 * a mapping of its own): the held page's kind.  Not the big ones,
			 * which under AddressSanitizer include its shadow memory.
			 */
			cur.found = strncmp(perms, "rw-p", 4) == 0 && b - a <= 4 * page &&
			            mem_holds(a, pin);
		} else if (sscanf(line, "Locked: %ld kB", &kb) == 1) {
			cur.locked_kb = kb;
		} else if (strncmp(line, "VmFlags:", 8) == 0) {
			cur.dont_dump = strstr(line, " dd") != NULL;
			if (cur.found && !m.found)
				m = cur;
		}
	}
	fclose(fp);
	return m;
}

static void test_hold(void **state)
{
	struct pin_fixture *f = *state;
	char pin_file[700], value[] = "pin-from-uri-value", buf[P11CA_PIN_MAX];
	char first[] = "held-pin-number-one", second[] = "held-2";
	struct held_map m, m2;
	struct fake fk;
	size_t len;

	snprintf(pin_file, sizeof(pin_file), "%s/pin-file", f->dir);
	assert_int_equal(uh_write_file(pin_file, S("pin-from-pin-file\n")), 0);
	assert_int_equal(setenv("P11CA_PIN", "pin-from-env", 1), 0);
	fake_init(&fk);

	/* nothing held, no source: no PIN */
	unsetenv("P11CA_PIN");
	assert_false(p11ca_pin_held());
	assert_false(p11ca_pin_source_configured(&fk.tok));
	assert_int_equal(p11ca_pin_fetch(&fk.tok, buf, &len), P11CA_R_NO_PIN);

	/* held: a source, and what a token whose URI names none gets */
	assert_int_equal(p11ca_pin_hold(first, strlen(first)), CKR_OK);
	assert_true(p11ca_pin_held());
	assert_true(p11ca_pin_source_configured(&fk.tok));
	expect_fetch(&fk, first);
	/* before --pin-file and P11CA_PIN */
	fk.ctx.pin_file = pin_file;
	assert_int_equal(setenv("P11CA_PIN", "pin-from-env", 1), 0);
	expect_fetch(&fk, first);
	/* after the URI's own pin-value */
	fk.tok.uri_pin_value = value;
	expect_fetch(&fk, value);
	fk.tok.uri_pin_value = NULL;

	/* its page: locked in memory, left out of core dumps */
	m = find_held(first);
	if (!m.found)
		fail_msg("the held PIN is in no private mapping of its own");
	assert_true(m.end - m.start >= (unsigned long)sysconf(_SC_PAGESIZE));
	if (m.locked_kb * 1024 < (long)(m.end - m.start))
		fail_msg("the held PIN's page is not locked (Locked: %ld kB)", m.locked_kb);
	if (!m.dont_dump)
		fail_msg("the held PIN's page is not marked dont-dump (VmFlags dd)");

	/* replaced: the same page, the old PIN wiped from it */
	assert_int_equal(p11ca_pin_hold(second, strlen(second)), CKR_OK);
	expect_fetch(&fk, second);
	m2 = find_held(second);
	assert_true(m2.found);
	assert_int_equal(m2.start, m.start);
	assert_true(m2.dont_dump && m2.locked_kb > 0);
	assert_null(memmem((const void *)m.start, m.end - m.start, "number-one", 10));

	/* too long, or with a NUL: refused, the held one kept */
	{
		char big[P11CA_PIN_MAX + 1];
		memset(big, '9', sizeof(big));
		assert_int_not_equal(p11ca_pin_hold(big, sizeof(big)), CKR_OK);
		assert_false(uh_contains(p11ca_error_message(), "999"));
		assert_int_not_equal(p11ca_pin_hold("a\0b", 3), CKR_OK);
		expect_fetch(&fk, second);
	}

	/* released: gone from the process, the next sources again */
	assert_int_equal(p11ca_pin_hold(NULL, 0), CKR_OK);
	assert_false(p11ca_pin_held());
	assert_false(find_held(second).found);
	expect_fetch(&fk, "pin-from-pin-file");
	fk.ctx.pin_file = NULL;
	expect_fetch(&fk, "pin-from-env");
	unsetenv("P11CA_PIN");
	assert_false(p11ca_pin_source_configured(&fk.tok));
	/* released twice: nothing happens; the empty PIN can be held too */
	assert_int_equal(p11ca_pin_hold(NULL, 0), CKR_OK);
	assert_int_equal(p11ca_pin_hold("", 0), CKR_OK);
	expect_fetch(&fk, "");
	assert_int_equal(p11ca_pin_hold(NULL, 0), CKR_OK);
	fake_fini(&fk);
}

/* Holders and readers on several threads at once (TSan and helgrind see it). */
static void *hold_thread(void *arg)
{
	struct fake *fk = arg;
	char buf[P11CA_PIN_MAX];
	size_t len;
	int i;

	for (i = 0; i < 200; i++) {
		if (p11ca_pin_hold("abcd", 4) != CKR_OK)
			return (void *)1;
		if (p11ca_pin_fetch(&fk->tok, buf, &len) == CKR_OK && strcmp(buf, "abcd") != 0 &&
		    strcmp(buf, "wxyz") != 0)
			return (void *)1;
		if (p11ca_pin_hold("wxyz", 4) != CKR_OK)
			return (void *)1;
	}
	return NULL;
}

static void test_hold_threads(void **state)
{
	pthread_t th[4];
	struct fake fk[4];
	void *ret;
	int i;

	(void)state;
	for (i = 0; i < 4; i++) {
		fake_init(&fk[i]);
		assert_int_equal(pthread_create(&th[i], NULL, hold_thread, &fk[i]), 0);
	}
	for (i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(th[i], &ret), 0);
		assert_null(ret);
		fake_fini(&fk[i]);
	}
	assert_int_equal(p11ca_pin_hold(NULL, 0), CKR_OK);
}

/*
 * No locked memory to be had (RLIMIT_MEMLOCK 0, without the privilege that
 * ignores it): CKR_HOST_MEMORY, a message that names the limit, nothing
 * held.  In a child, which drops root first when it is root.
 */
static void test_hold_no_memlock(void **state)
{
	struct rlimit zero = { 0, 0 };
	int status;
	pid_t pid;

	(void)state;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		CK_RV rv;

		if (setrlimit(RLIMIT_MEMLOCK, &zero) != 0)
			_exit(3);
		if (getuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0))
			_exit(3);
		rv = p11ca_pin_hold("1234", 4);
		if (rv != CKR_HOST_MEMORY)
			_exit(4);
		if (!uh_contains(p11ca_error_message(), "RLIMIT_MEMLOCK") ||
		    uh_contains(p11ca_error_message(), "1234"))
			_exit(5);
		_exit(p11ca_pin_held() ? 6 : 0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status) != 0)
		fail_msg("the held PIN without locked memory: child exit %d (3: cannot drop "
		         "privileges, 4: not CKR_HOST_MEMORY, 5: message, 6: held)",
		         WEXITSTATUS(status));
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
		cmocka_unit_test_setup_teardown(test_hold, setup, teardown),
		cmocka_unit_test(test_hold_threads),
		cmocka_unit_test(test_hold_no_memlock),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

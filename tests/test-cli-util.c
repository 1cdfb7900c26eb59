/*
 * test-cli-util.c - helpers of the p11ca command (tools/cli/util.c): hex
 * through OpenSSL, the URI without its type through p11-kit, text made fit
 * for JSON, the table-driven option parser, and no PIN in argv or on the
 * terminal: a pin-value argument is wiped and refused, and every message
 * is redacted (tests/pin-mutations.h).
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pin-mutations.h"
#include "tool.h"

static void test_hex(void **state)
{
	static const unsigned char bytes[] = { 0x00, 0x0f, 0xa5, 0xff, 0x10 };
	char out[2 * sizeof(bytes) + 1];

	(void)state;
	tool_hex(out, bytes, sizeof(bytes));
	assert_string_equal(out, "000fa5ff10");
	memset(out, 'x', sizeof(out));
	tool_hex(out, bytes, 0);
	assert_string_equal(out, "");
}

/* tool_uri_without_type(@in) must be @want. */
static void without_type(const char *in, const char *want)
{
	char *out = tool_uri_without_type(in);

	if (want == NULL) {
		assert_null(out);
		return;
	}
	assert_non_null(out);
	assert_string_equal(out, want);
	free(out);
}

static void test_uri_without_type(void **state)
{
	(void)state;
	without_type("pkcs11:token=t;object=k;id=%01%02;type=private",
	             "pkcs11:token=t;id=%01%02;object=k");
	/* anywhere in the path, however the value is spelt */
	without_type("pkcs11:type=public;token=t;object=k", "pkcs11:token=t;object=k");
	without_type("pkcs11:token=t;object=k;type=%70%72%69%76%61%74%65",
	             "pkcs11:token=t;object=k");
	without_type("pkcs11:token=t;type=cert;object=k", "pkcs11:token=t;object=k");
	/* "type=" inside a value is no attribute */
	without_type("pkcs11:token=t;object=my%3Btype=cert;type=private",
	             "pkcs11:token=t;object=my%3Btype%3Dcert");
	without_type("pkcs11:token=t;object=k", "pkcs11:token=t;object=k");
	without_type("not-a-uri", NULL);
	without_type(NULL, NULL);
}

static void test_text_utf8(void **state)
{
	char buf[32];

	(void)state;
	assert_string_equal(tool_text_utf8("plain", buf, sizeof(buf)), "plain");
	assert_string_equal(tool_text_utf8("caf\xc3\xa9 \xe2\x82\xac", buf, sizeof(buf)),
	                    "caf\xc3\xa9 \xe2\x82\xac");
	/* Latin-1, a lone continuation byte, an overlong '/', a surrogate */
	assert_string_equal(tool_text_utf8("caf\xe9", buf, sizeof(buf)), "caf?");
	assert_string_equal(tool_text_utf8("a\x80z", buf, sizeof(buf)), "a?z");
	assert_string_equal(tool_text_utf8("\xc0\xaf", buf, sizeof(buf)), "??");
	assert_string_equal(tool_text_utf8("\xed\xa0\x80", buf, sizeof(buf)), "???");
	/* cut to fit */
	assert_string_equal(tool_text_utf8("\377abcdef", buf, 4), "?ab");
}

enum { O_NAME = OPT_FIRST_LOCAL, O_FLAG, O_BAD };

struct opts {
	const char *name;
	int flag;
};

static int handle(int id, const char *arg, void *data)
{
	struct opts *o = data;

	switch (id) {
	case O_NAME: o->name = arg; break;
	case O_FLAG: o->flag++; break;
	case O_BAD: return TOOL_EXIT_USAGE;
	default: return TOOL_EXIT_FAIL;
	}
	return TOOL_EXIT_OK;
}

static const struct tool_opt local[] = {
	{ "name", required_argument, O_NAME },
	{ "flag", no_argument, O_FLAG },
	{ "bad", no_argument, O_BAD },
	{ NULL, 0, 0 },
};

/* tool_parse() over a NULL-terminated list of words. */
static int parse(struct tool_common *c, struct opts *o, char **words)
{
	int argc = 0;

	while (words[argc] != NULL)
		argc++;
	memset(c, 0, sizeof(*c));
	memset(o, 0, sizeof(*o));
	return tool_parse(argc, words, local, "usage: test\n", c, handle, o);
}

static void test_parse(void **state)
{
	char *all[] = { "p11ca test", "--module", "softhsm2", "op1",    "--pin-file=/p", "-v",
		        "--name",     "n",        "--flag",   "--flag", "op2",           NULL };
	char *help[] = { "p11ca test", "--flag", "--help", NULL };
	char *unknown[] = { "p11ca test", "--frobnicate", NULL };
	char *missing[] = { "p11ca test", "--name", NULL };
	char *refused[] = { "p11ca test", "--bad", "--flag", NULL };
	char *none[] = { "p11ca test", NULL };
	struct tool_common c;
	struct opts o;

	(void)state;
	assert_int_equal(parse(&c, &o, all), TOOL_PARSE_GO);
	assert_string_equal(c.module, "softhsm2");
	assert_string_equal(c.pin_file, "/p");
	assert_int_equal(c.verbose, 1);
	assert_string_equal(o.name, "n");
	assert_int_equal(o.flag, 2);
	/* operands between options are moved to the end, from optind on */
	assert_int_equal(optind, 9);
	assert_string_equal(all[optind], "op1");
	assert_string_equal(all[optind + 1], "op2");

	assert_int_equal(parse(&c, &o, help), TOOL_EXIT_OK);
	assert_int_equal(parse(&c, &o, unknown), TOOL_EXIT_USAGE);
	assert_int_equal(parse(&c, &o, missing), TOOL_EXIT_USAGE);
	/* the handler's verdict stops the parse */
	assert_int_equal(parse(&c, &o, refused), TOOL_EXIT_USAGE);
	assert_int_equal(o.flag, 0);
	/* a second parse in one process starts afresh */
	assert_int_equal(parse(&c, &o, none), TOOL_PARSE_GO);
	assert_int_equal(optind, 1);
	/* no local options at all */
	memset(&c, 0, sizeof(c));
	assert_int_equal(tool_parse(3, (char *[]){ "p11ca x", "--verbose", "op", NULL }, NULL,
	                            "usage: x\n", &c, NULL, NULL),
	                 TOOL_PARSE_GO);
	assert_int_equal(c.verbose, 1);
}

/* Standard error into a temporary file while a test looks at it. */
struct captured {
	FILE *file;
	int saved;
};

static void capture_start(struct captured *c)
{
	fflush(stderr);
	assert_non_null(c->file = tmpfile());
	assert_true((c->saved = dup(2)) >= 0);
	assert_true(dup2(fileno(c->file), 2) == 2);
}

/* What was written since the last call (NUL terminated, in @buf). */
static const char *capture_take(struct captured *c, char *buf, size_t cap)
{
	size_t n;

	fflush(stderr);
	rewind(c->file);
	n = fread(buf, 1, cap - 1, c->file);
	buf[n] = '\0';
	assert_int_equal(ftruncate(fileno(c->file), 0), 0);
	rewind(c->file);
	return buf;
}

static void capture_end(struct captured *c)
{
	fflush(stderr);
	assert_true(dup2(c->saved, 2) == 2);
	close(c->saved);
	fclose(c->file);
}

static void fail_leak(const struct pm_variant *v, const char *what, const char *out)
{
	const char *pin = pm_leak(v, out);

	if (pin != NULL)
		fail_msg("%s shows the PIN '%s'\n  in:  %s\n  out: %s", what, pin, v->text, out);
}

static void cli_mutation(const struct pm_variant *v, void *data)
{
	struct captured *cap = data;
	char arg[sizeof(v->text)], out[4096], line[2048];
	char *argv[] = { "p11ca", "key", "list", "--token", arg, NULL };
	size_t i;

	/* an argument with a pin-value: refused, wiped from argv, not shown */
	memcpy(arg, v->text, sizeof(arg));
	assert_int_equal(tool_argv_refuse_pins(5, argv), TOOL_EXIT_USAGE);
	for (i = 0; i < strlen(v->text); i++)
		if (arg[i] != '\0')
			fail_msg("argv still holds '%s' after the refusal: '%s'", v->text, arg);

	/* whatever a message embeds, it leaves without the PIN */
	tool_errorf("cannot load key '%s': %s", v->text, "no such object");
	tool_warnf("%s", v->text);
	capture_take(cap, out, sizeof(out));
	fail_leak(v, "the refusal, tool_errorf or tool_warnf", out);
	if (strncmp(out, "p11ca: argument 4 holds a pin-value", 35) != 0 ||
	    strstr(out, "--pin-file") == NULL)
		fail_msg("the refusal says: %s", out);
	snprintf(line, sizeof(line), "key %s cannot be read", v->text);
	tool_redact_line(line, sizeof(line));
	fail_leak(v, "tool_redact_line", line);
}

static void test_no_pin_out(void **state)
{
	struct captured cap;
	char out[4096], line[256];
	char a1[] = "--token", a2[] = "pkcs11:token=a?pin-source=file:/run/pin",
	     a3[] = "--pin-file", a4[] = "/run/pin-value.txt";
	char *argv[] = { "p11ca", a1, a2, a3, a4, NULL };
	size_t n;

	(void)state;
	capture_start(&cap);
	n = pm_each(cli_mutation, &cap);
	/* arguments without a pin-value pass, untouched */
	assert_int_equal(tool_argv_refuse_pins(5, argv), TOOL_EXIT_OK);
	assert_string_equal(a2, "pkcs11:token=a?pin-source=file:/run/pin");
	assert_string_equal(a4, "/run/pin-value.txt");
	assert_string_equal(capture_take(&cap, out, sizeof(out)), "");
	/* a redacted URI in a message is left as it is, and so is what follows it */
	tool_errorf("cannot load key '%s': %s", "pkcs11:token=a?pin-value=***", "no such object");
	assert_string_equal(
	    capture_take(&cap, out, sizeof(out)),
	    "p11ca: cannot load key 'pkcs11:token=a?pin-value=***': no such object\n");
	capture_end(&cap);
	snprintf(line, sizeof(line), "nothing to hide here");
	tool_redact_line(line, sizeof(line));
	assert_string_equal(line, "nothing to hide here");
	assert_true(n > 20000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hex),        cmocka_unit_test(test_uri_without_type),
		cmocka_unit_test(test_text_utf8),  cmocka_unit_test(test_parse),
		cmocka_unit_test(test_no_pin_out),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

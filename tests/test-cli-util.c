/*
 * test-cli-util.c - helpers of the p11ca command (tools/cli/util.c): hex
 * through OpenSSL, the URI without its type through p11-kit, text made fit
 * for JSON, and the table-driven option parser.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hex),
		cmocka_unit_test(test_uri_without_type),
		cmocka_unit_test(test_text_utf8),
		cmocka_unit_test(test_parse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

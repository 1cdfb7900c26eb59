/*
 * test-uri.c - pkcs11: URIs: strict parsing (RFC 7512), unknown attributes
 * named in the error, pin-value wiped on free, p11ca_uri_for_object()
 * output parsing back to the same object, and no PIN in any message about
 * a URI however it is mutated (tests/pin-mutations.h).
 */
#include "config.h"

#include <dlfcn.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "internal.h"
#include "pin-mutations.h"
#include "unit-helpers.h"

/*
 * p11_kit_uri_free() is interposed so that we can look at the pin-value
 * while its memory is still allocated: p11ca_uri_free() must have wiped it
 * by then.  Everything else goes to p11-kit's own function.
 */
static size_t watch_pin_len; /* 0: not watching */
static int saw_pin_value;
static int pin_was_wiped;

void p11_kit_uri_free(P11KitUri *uri)
{
	static void (*real_free)(P11KitUri *);
	const char *pv;
	size_t i;

	if (real_free == NULL) {
		*(void **)&real_free = dlsym(RTLD_NEXT, "p11_kit_uri_free");
		if (real_free == NULL)
			abort();
	}
	if (uri != NULL && watch_pin_len > 0 && (pv = p11_kit_uri_get_pin_value(uri)) != NULL) {
		saw_pin_value = 1;
		pin_was_wiped = 1;
		for (i = 0; i < watch_pin_len; i++)
			if (pv[i] != '\0')
				pin_was_wiped = 0;
	}
	real_free(uri);
}

/* Parses @str, expecting success. */
static P11KitUri *parse_ok(const char *str)
{
	P11KitUri *uri = NULL;
	CK_RV rv = p11ca_uri_parse(str, &uri);

	if (rv != CKR_OK)
		print_error("p11ca_uri_parse(%s): 0x%lx %s\n", str, (unsigned long)rv,
		            p11ca_error_message());
	assert_int_equal(rv, CKR_OK);
	assert_non_null(uri);
	return uri;
}

/* Parses @str, expecting P11CA_R_BAD_URI and a message containing @needle. */
static void parse_bad(const char *str, const char *needle)
{
	P11KitUri *uri = (P11KitUri *)&uri; /* must be reset to NULL */
	CK_RV rv = p11ca_uri_parse(str, &uri);

	assert_int_equal(rv, P11CA_R_BAD_URI);
	assert_null(uri);
	assert_true(p11ca_error_message()[0] != '\0');
	if (needle != NULL && !uh_contains(p11ca_error_message(), needle)) {
		print_error("message for %s: '%s' lacks '%s'\n", str, p11ca_error_message(),
		            needle);
		fail();
	}
}

static void assert_attr(P11KitUri *uri, CK_ATTRIBUTE_TYPE type, const void *val, size_t len)
{
	CK_ATTRIBUTE *a = p11_kit_uri_get_attribute(uri, type);

	assert_non_null(a);
	assert_int_equal(a->ulValueLen, len);
	assert_memory_equal(a->pValue, val, len);
}

/* A blank-padded CK_TOKEN_INFO field equals @s. */
static void assert_padded(const CK_UTF8CHAR *field, size_t width, const char *s)
{
	size_t len = strlen(s), i;

	assert_true(len <= width);
	assert_memory_equal(field, s, len);
	for (i = len; i < width; i++)
		assert_int_equal(field[i], ' ');
}

static void test_parse_path_attributes(void **state)
{
	static const unsigned char id[] = { 0x01, 0x02, 0xab, 0x00, 0xff };
	CK_OBJECT_CLASS klass = CKO_PRIVATE_KEY;
	CK_TOKEN_INFO *ti;
	P11KitUri *uri;

	(void)state;
	uri = parse_ok("pkcs11:token=My%20Token;manufacturer=SoftHSM%20project;serial=0123abc;"
	               "model=SoftHSM%20v2;object=key%2F1;id=%01%02%ab%00%FF;type=private");
	ti = p11_kit_uri_get_token_info(uri);
	assert_non_null(ti);
	assert_padded(ti->label, sizeof(ti->label), "My Token");
	assert_padded(ti->manufacturerID, sizeof(ti->manufacturerID), "SoftHSM project");
	assert_padded(ti->serialNumber, sizeof(ti->serialNumber), "0123abc");
	assert_padded(ti->model, sizeof(ti->model), "SoftHSM v2");
	assert_attr(uri, CKA_LABEL, "key/1", 5);
	assert_attr(uri, CKA_ID, id, sizeof(id));
	assert_attr(uri, CKA_CLASS, &klass, sizeof(klass));
	assert_true(p11ca_uri_has_object(uri));
	p11ca_uri_free(uri);

	/* every type= value */
	uri = parse_ok("pkcs11:type=public");
	klass = CKO_PUBLIC_KEY;
	assert_attr(uri, CKA_CLASS, &klass, sizeof(klass));
	p11ca_uri_free(uri);
	uri = parse_ok("pkcs11:type=cert");
	klass = CKO_CERTIFICATE;
	assert_attr(uri, CKA_CLASS, &klass, sizeof(klass));
	p11ca_uri_free(uri);

	uri = parse_ok("pkcs11:slot-id=5;slot-description=x;slot-manufacturer=y");
	assert_int_equal(p11_kit_uri_get_slot_id(uri), 5);
	assert_false(p11ca_uri_has_object(uri));
	p11ca_uri_free(uri);

	uri = parse_ok("pkcs11:library-manufacturer=SoftHSM;library-description=x;"
	               "library-version=2.6");
	p11ca_uri_free(uri);

	/* the empty URI names everything */
	uri = parse_ok("pkcs11:");
	assert_false(p11ca_uri_has_object(uri));
	assert_null(p11_kit_uri_get_attribute(uri, CKA_LABEL));
	p11ca_uri_free(uri);
}

static void test_parse_query_attributes(void **state)
{
	P11KitUri *uri;

	(void)state;
	uri = parse_ok("pkcs11:token=a?module-name=softhsm2");
	assert_string_equal(p11_kit_uri_get_module_name(uri), "softhsm2");
	assert_null(p11_kit_uri_get_module_path(uri));
	p11ca_uri_free(uri);

	uri = parse_ok("pkcs11:token=a?module-path=/usr/lib/softhsm/libsofthsm2.so");
	assert_string_equal(p11_kit_uri_get_module_path(uri), "/usr/lib/softhsm/libsofthsm2.so");
	p11ca_uri_free(uri);

	uri = parse_ok("pkcs11:token=a?pin-value=12%2034");
	assert_string_equal(p11_kit_uri_get_pin_value(uri), "12 34");
	p11ca_uri_free(uri);

	uri = parse_ok("pkcs11:token=a;object=k?pin-source=file:/run/pin&module-name=softhsm2");
	assert_string_equal(p11_kit_uri_get_pin_source(uri), "file:/run/pin");
	assert_string_equal(p11_kit_uri_get_module_name(uri), "softhsm2");
	assert_attr(uri, CKA_LABEL, "k", 1);
	p11ca_uri_free(uri);
}

static void test_object_template(void **state)
{
	CK_OBJECT_CLASS klass = CKO_CERTIFICATE;
	CK_ATTRIBUTE tmpl[3];
	P11KitUri *uri;

	(void)state;
	uri = parse_ok("pkcs11:token=t;object=lbl;id=%0a;type=cert");
	assert_int_equal(p11ca_uri_object_template(uri, tmpl, 1), 3);
	assert_int_equal(tmpl[0].type, CKA_LABEL);
	assert_int_equal(tmpl[1].type, CKA_ID);
	assert_int_equal(tmpl[2].type, CKA_CLASS);
	assert_memory_equal(tmpl[2].pValue, &klass, sizeof(klass));
	assert_int_equal(p11ca_uri_object_template(uri, tmpl, 0), 2);
	p11ca_uri_free(uri);

	uri = parse_ok("pkcs11:token=t");
	assert_int_equal(p11ca_uri_object_template(uri, tmpl, 1), 0);
	p11ca_uri_free(uri);
}

static void test_unknown_attributes(void **state)
{
	(void)state;
	parse_bad("pkcs11:token=a;bogus=1", "bogus");
	parse_bad("pkcs11:bogus=1;token=a", "bogus");
	parse_bad("pkcs11:token=a?foo=bar", "foo");
	parse_bad("pkcs11:token=a?module-name=x&frobnicate=2", "frobnicate");
	/* query attributes belong in the query, path attributes in the path */
	parse_bad("pkcs11:token=a?object=k", "object");
	parse_bad("pkcs11:module-name=softhsm2", "module-name");
	/* an attribute without a value is still named */
	parse_bad("pkcs11:token=a;weird", "weird");
	/* the message names the attribute, never the PIN next to it */
	/* before a pin-value an unknown query attribute is named; after one
	 * it may be a piece of the PIN (unencoded '&'), so it is not */
	parse_bad("pkcs11:token=a?bogus=1&pin-value=s3cr3t-PIN", "bogus");
	parse_bad("pkcs11:token=a?pin-value=s3cr3t-PIN&bogus=1", "after pin-value");
	assert_false(uh_contains(p11ca_error_message(), "s3cr3t"));
	parse_bad("pkcs11:token=a?pin-value=12&34", "after pin-value");
	assert_false(uh_contains(p11ca_error_message(), "34"));
	assert_false(uh_contains(p11ca_error_message(), "s3cr3t-PIN"));
}

static void test_not_pkcs11(void **state)
{
	P11KitUri *uri = NULL;

	(void)state;
	parse_bad("", "not a pkcs11: URI");
	parse_bad("file:/etc/passwd", "not a pkcs11: URI");
	parse_bad("pkcs11", "not a pkcs11: URI");
	parse_bad("token=a", "not a pkcs11: URI");
	parse_bad(" pkcs11:token=a", "not a pkcs11: URI");
	assert_int_equal(p11ca_uri_parse(NULL, &uri), P11CA_R_BAD_URI);
	assert_null(uri);
}

/*
 * Messages are one line: a control character of the input is shown as '?'
 * (found by tests/fuzz/uri_fuzzer.c: "\n" came back in the message).
 */
static void test_message_one_line(void **state)
{
	(void)state;
	parse_bad("\n", "not a pkcs11: URI: '?'");
	parse_bad("token=a\nb", "not a pkcs11: URI: 'token=a?b'");
	parse_bad("pkcs11:tok\ren=a", "unknown attribute 'tok?en'");
	parse_bad("pkcs11:token=a?x\ty=1", "unknown attribute 'x?y'");
	assert_null(strchr(p11ca_error_message(), '\t'));
	parse_bad(
	    "01234567890123456789012345678901234567890123456789012345678901234567890123456789",
	    "'012345678901234567890123456789012345678901234567890123456789...'");
}

/*
 * A string that is not a pkcs11: URI must not be echoed into the message
 * with its PIN; the scheme is case-insensitive (RFC 3986), and a redacted
 * URI keeps everything but the pin-value.
 */
static void test_not_pkcs11_no_pin_in_message(void **state)
{
	static const char *const bad[] = {
		"token=a?pin-value=hunter2-secret",
		"pkcs12:token=a?pin-value=hunter2-secret",
		"x:pkcs11:token=a?module-name=m&pin-value=hunter2-secret",
	};
	P11KitUri *uri = NULL;
	char buf[128];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(p11ca_uri_parse(bad[i], &uri), P11CA_R_BAD_URI);
		assert_null(uri);
		if (uh_contains(p11ca_error_message(), "hunter2-secret"))
			fail_msg("the error message shows the PIN: %s", p11ca_error_message());
	}
	assert_int_equal(p11ca_uri_parse("PKCS11:token=a?pin-value=hunter2-secret", &uri), CKR_OK);
	assert_string_equal(p11_kit_uri_get_pin_value(uri), "hunter2-secret");
	p11ca_uri_free(uri);
	assert_string_equal(
	    p11ca_uri_redact("pkcs11:token=a?pin-value=hunter2-secret&module-name=m", buf,
	                     sizeof(buf)),
	    "pkcs11:token=a?pin-value=***&module-name=m");
	assert_string_equal(
	    p11ca_uri_redact("pkcs11:token=a?module-name=m&pin-value=x%41y", buf, sizeof(buf)),
	    "pkcs11:token=a?module-name=m&pin-value=***");
	assert_string_equal(p11ca_uri_redact("pkcs11:object=b", buf, 8), "pkcs11:");
	/* in the query only '&' ends a value: a ';' is part of the PIN */
	assert_string_equal(p11ca_uri_redact("pkcs11:token=a?pin-value=12;34", buf, sizeof(buf)),
	                    "pkcs11:token=a?pin-value=***");
	/* p11-kit drops whitespace: "pin- value =" is a pin-value too (uri_fuzzer) */
	assert_string_equal(p11ca_uri_redact("pkcs11:token=a?pin- value =S3cret", buf, sizeof(buf)),
	                    "pkcs11:token=a?pin-value=***");
}

/* Fails showing @what, the variant and the PIN that @out shows, if it shows one. */
static void no_leak(const struct pm_variant *v, const char *what, const char *out)
{
	const char *pin = pm_leak(v, out);

	if (pin != NULL)
		fail_msg("%s shows the PIN '%s'\n  in:  %s\n  out: %s", what, pin, v->text, out);
}

static void mutation(const struct pm_variant *v, void *data)
{
	char buf[1024], path[512];
	size_t len, *count = data;
	P11KitUri *uri = NULL;
	CK_RV rv;

	/* the redaction: the PIN goes, what was before it stays, and so does
	 * a query attribute after it */
	p11ca_uri_redact(v->text, buf, sizeof(buf));
	no_leak(v, "p11ca_uri_redact", buf);
	if (strncmp(buf, v->prefix, strlen(v->prefix)) != 0 || !uh_contains(buf, "pin-value=***"))
		fail_msg("p11ca_uri_redact lost more than the PIN:\n  in:  %s\n  out: %s", v->text,
		         buf);
	len = strlen(buf);
	if (v->suffix != NULL &&
	    (len < strlen(v->suffix) || strcmp(buf + len - strlen(v->suffix), v->suffix) != 0))
		fail_msg("p11ca_uri_redact lost '%s':\n  in:  %s\n  out: %s", v->suffix, v->text,
		         buf);

	/* the parser's messages; a URI that parses had its pin-value where
	 * RFC 7512 puts it */
	p11ca_err_clear();
	rv = p11ca_uri_parse(v->text, &uri);
	no_leak(v, "p11ca_uri_parse", p11ca_error_message());
	if (rv == CKR_OK) {
		if (!v->plain_name || p11_kit_uri_get_pin_value(uri) == NULL)
			fail_msg("p11ca_uri_parse took an odd pin-value: %s", v->text);
		p11ca_uri_free(uri);
		(*count)++;
	}

	/* a pin-source or a PIN file named by the whole string */
	p11ca_err_clear();
	(void)p11ca_pin_source_path(v->text, path, sizeof(path));
	no_leak(v, "p11ca_pin_source_path", p11ca_error_message());
	p11ca_err_clear();
	if (p11ca_pin_read_file(v->text, buf, sizeof(buf), &len) == CKR_OK)
		fail_msg("%s was read as a PIN file", v->text);
	no_leak(v, "p11ca_pin_read_file", p11ca_error_message());
}

/*
 * Tens of thousands of strings with a PIN in a pin-value: none of them
 * shows the PIN in a redacted copy or in a message of the library, and
 * the redaction keeps what is not the PIN.
 */
static void test_pin_mutations(void **state)
{
	size_t parsed = 0, n;

	(void)state;
	n = pm_each(mutation, &parsed);
	assert_true(n > 20000);
	/* the well-formed ones are there too, and parse */
	assert_true(parsed > 100);
}

/* A context that takes a pin-value in the path, as p11ca.so's does. */
static p11ca_ctx *path_pin_ctx(void)
{
	static p11ca_ctx ctx;

	memset(&ctx, 0, sizeof(ctx));
	p11ca_ctx_set_uri_path_pin(&ctx, 1);
	return &ctx;
}

/* Parses @str through @ctx, expecting success. */
static P11KitUri *ctx_parse_ok(p11ca_ctx *ctx, const char *str)
{
	P11KitUri *uri = NULL;
	CK_RV rv = p11ca_ctx_uri_parse(ctx, str, &uri);

	if (rv != CKR_OK)
		print_error("p11ca_ctx_uri_parse(%s): 0x%lx %s\n", str, (unsigned long)rv,
		            p11ca_error_message());
	assert_int_equal(rv, CKR_OK);
	assert_non_null(uri);
	return uri;
}

/* Parses @str through @ctx, expecting P11CA_R_BAD_URI with @needle and no "S3cr". */
static void ctx_parse_bad(p11ca_ctx *ctx, const char *str, const char *needle)
{
	P11KitUri *uri = (P11KitUri *)&uri;

	assert_int_equal(p11ca_ctx_uri_parse(ctx, str, &uri), P11CA_R_BAD_URI);
	assert_null(uri);
	if (needle != NULL && !uh_contains(p11ca_error_message(), needle))
		fail_msg("message for %s: '%s' lacks '%s'", str, p11ca_error_message(), needle);
	if (uh_contains(p11ca_error_message(), "S3cr"))
		fail_msg("message for %s shows the PIN: %s", str, p11ca_error_message());
}

/*
 * A pin-value in the path ("pkcs11:id=%00%04;pin-value=1234", libp11's and
 * OpenSC's form): refused by default (the p11ca command), read as the query
 * attribute by a context that allows it (the provider), its value ending at
 * ';' or '?'.  Both a pin-value and a pin-source: refused either way.
 */
static void test_path_pin_value(void **state)
{
	static const unsigned char id[] = { 0x00, 0x04 };
	p11ca_ctx *ctx = path_pin_ctx();
	P11KitUri *uri;

	(void)state;
	/* strict: by itself, and through a context that did not ask */
	parse_bad("pkcs11:id=%00%04;pin-value=S3cret", "must follow '?'");
	{
		p11ca_ctx strict;
		memset(&strict, 0, sizeof(strict));
		ctx_parse_bad(&strict, "pkcs11:id=%00%04;pin-value=S3cret", "must follow '?'");
		ctx_parse_bad(NULL, "pkcs11:id=%00%04;pin-value=S3cret", "must follow '?'");
	}

	uri = ctx_parse_ok(ctx, "pkcs11:id=%00%04;pin-value=S3cret");
	assert_string_equal(p11_kit_uri_get_pin_value(uri), "S3cret");
	assert_attr(uri, CKA_ID, id, sizeof(id));
	p11ca_uri_free(uri);
	/* in the middle, first, percent-encoded, with a query after it */
	uri = ctx_parse_ok(ctx, "pkcs11:token=a;pin-value=S3%63r%3Bt;object=k?module-name=m");
	assert_string_equal(p11_kit_uri_get_pin_value(uri), "S3cr;t");
	assert_attr(uri, CKA_LABEL, "k", 1);
	assert_string_equal(p11_kit_uri_get_module_name(uri), "m");
	p11ca_uri_free(uri);
	uri = ctx_parse_ok(ctx, "pkcs11:pin-value=S3cret");
	assert_string_equal(p11_kit_uri_get_pin_value(uri), "S3cret");
	assert_false(p11ca_uri_has_object(uri));
	p11ca_uri_free(uri);
	/* the query form is unchanged */
	uri = ctx_parse_ok(ctx, "pkcs11:token=a?pin-value=S3cret");
	assert_string_equal(p11_kit_uri_get_pin_value(uri), "S3cret");
	p11ca_uri_free(uri);
	uri = ctx_parse_ok(ctx, "pkcs11:token=a;object=k");
	assert_null(p11_kit_uri_get_pin_value(uri));
	p11ca_uri_free(uri);

	/* refused, and said why, without the PIN */
	ctx_parse_bad(ctx, "pkcs11:id=%01;pin-value=S3cret?pin-source=file:/p",
	              "both a pin-value and a pin-source");
	ctx_parse_bad(ctx, "pkcs11:id=%01?pin-value=S3cret&pin-source=file:/p",
	              "both a pin-value and a pin-source");
	parse_bad("pkcs11:id=%01?pin-source=file:/p&pin-value=S3cret",
	          "both a pin-value and a pin-source");
	ctx_parse_bad(ctx, "pkcs11:id=%01;pin-value=S3cret?pin-value=S3cret",
	              "both its path and its query");
	ctx_parse_bad(ctx, "pkcs11:pin-value=S3cret;id=%01;pin-value=S3cret", "two pin-values");
	/* a ';' in the PIN left unencoded: the rest is not named */
	ctx_parse_bad(ctx, "pkcs11:id=%01;pin-value=S3cr;et9", "after pin-value");
	assert_false(uh_contains(p11ca_error_message(), "et9"));
	ctx_parse_bad(ctx, "pkcs11:id=%01;pin-value=S3cr?et9", "after pin-value");
	assert_false(uh_contains(p11ca_error_message(), "et9"));
	/* other spellings stay refused */
	ctx_parse_bad(ctx, "pkcs11:id=%01;PIN-VALUE=S3cret", "must follow '?'");
	ctx_parse_bad(ctx, "pkcs11:id=%01;pin-value%3DS3cret", NULL);
	/* redaction hides a path pin-value too */
	{
		char buf[128];
		assert_string_equal(
		    p11ca_uri_redact("pkcs11:id=%00%04;pin-value=S3cret", buf, sizeof(buf)),
		    "pkcs11:id=%00%04;pin-value=***");
	}
}

/* The mutations through a context that takes a path pin-value: no PIN in a message. */
static void ctx_mutation(const struct pm_variant *v, void *data)
{
	P11KitUri *uri = NULL;
	size_t *count = data;

	p11ca_err_clear();
	if (p11ca_ctx_uri_parse(path_pin_ctx(), v->text, &uri) == CKR_OK) {
		if (!v->plain_name || p11_kit_uri_get_pin_value(uri) == NULL)
			fail_msg("p11ca_ctx_uri_parse took an odd pin-value: %s", v->text);
		p11ca_uri_free(uri);
		(*count)++;
	}
	no_leak(v, "p11ca_ctx_uri_parse", p11ca_error_message());
}

static void test_path_pin_mutations(void **state)
{
	size_t parsed = 0;

	(void)state;
	assert_true(pm_each(ctx_mutation, &parsed) > 20000);
	assert_true(parsed > 100);
}

static void test_bad_encoding(void **state)
{
	(void)state;
	parse_bad("pkcs11:token=%zz", NULL);
	parse_bad("pkcs11:token=ab%4", NULL);
	parse_bad("pkcs11:id=%0", NULL);
	parse_bad("pkcs11:id=%", NULL);
	parse_bad("pkcs11:object=%g1", NULL);
	parse_bad("pkcs11:token=a?pin-value=%x1", NULL);
	/* values p11-kit does not understand */
	parse_bad("pkcs11:type=secret-ish", NULL);
	parse_bad("pkcs11:slot-id=five", NULL);
}

static void test_free_wipes_pin_value(void **state)
{
	const char *pin = "wipe-me-1234";
	P11KitUri *uri;

	(void)state;
	p11ca_uri_free(NULL);

	/* the check itself can fail: p11-kit alone leaves the PIN in memory */
	uri = parse_ok("pkcs11:token=a?pin-value=wipe-me-1234");
	watch_pin_len = strlen(pin);
	saw_pin_value = pin_was_wiped = 0;
	p11_kit_uri_free(uri);
	watch_pin_len = 0;
	assert_true(saw_pin_value);
	assert_false(pin_was_wiped);

	uri = parse_ok("pkcs11:token=a?pin-value=wipe-me-1234");
	watch_pin_len = strlen(pin);
	saw_pin_value = pin_was_wiped = 0;
	p11ca_uri_free(uri);
	watch_pin_len = 0;
	assert_true(saw_pin_value);
	assert_true(pin_was_wiped);
}

/* A token with only the info p11ca_uri_for_object() looks at. */
static void fake_token(p11ca_token *t, const char *label, const char *serial)
{
	memset(t, 0, sizeof(*t));
	snprintf(t->info.label, sizeof(t->info.label), "%s", label);
	snprintf(t->info.serial, sizeof(t->info.serial), "%s", serial);
}

static void round_trip(p11ca_token *t, CK_OBJECT_CLASS klass, const char *label,
                       const unsigned char *id, size_t id_len)
{
	char *str = p11ca_uri_for_object(t, klass, label, id, id_len);
	CK_TOKEN_INFO *ti;
	CK_ATTRIBUTE *a;
	P11KitUri *uri;

	assert_non_null(str);
	assert_true(strncmp(str, "pkcs11:", 7) == 0);
	uri = parse_ok(str);
	ti = p11_kit_uri_get_token_info(uri);
	assert_padded(ti->label, sizeof(ti->label), t->info.label);
	if (t->info.serial[0] != '\0')
		assert_padded(ti->serialNumber, sizeof(ti->serialNumber), t->info.serial);
	else
		assert_null(strstr(str, "serial="));
	if (label != NULL && *label != '\0')
		assert_attr(uri, CKA_LABEL, label, strlen(label));
	else
		assert_null(p11_kit_uri_get_attribute(uri, CKA_LABEL));
	if (id != NULL && id_len > 0)
		assert_attr(uri, CKA_ID, id, id_len);
	else
		assert_null(p11_kit_uri_get_attribute(uri, CKA_ID));
	a = p11_kit_uri_get_attribute(uri, CKA_CLASS);
	if (klass == CKO_PRIVATE_KEY || klass == CKO_PUBLIC_KEY || klass == CKO_CERTIFICATE) {
		assert_non_null(a);
		assert_int_equal(a->ulValueLen, sizeof(klass));
		assert_memory_equal(a->pValue, &klass, sizeof(klass));
	} else {
		assert_null(a);
	}
	/* and it names exactly that: no query, nothing the matcher ignores */
	assert_null(strchr(str, '?'));
	p11ca_uri_free(uri);
	free(str);
}

static void test_round_trip(void **state)
{
	static const unsigned char id20[20] = { 0x00, 0xff, 0x25, 0x3b, 0x3f, 0x2f, 0x20,
		                                0x80, 0x7f, 0x41, 0x42, 0x01, 0x02, 0x03,
		                                0x04, 0x05, 0x06, 0x07, 0x08, 0xfe };
	static const unsigned char id1[1] = { 0x2a };
	static const char *const labels[] = {
		"key",
		"my key/with;odd?chars%and#more",
		"a=b&c=d",
		"sp ace, comma, (paren) [bracket] @at ~tilde",
		"caf\xc3\xa9-\xe2\x82\xac", /* UTF-8 */
		"%41%",
	};
	p11ca_token t;
	size_t i;

	(void)state;
	fake_token(&t, "p11ca test;token?", "0123456789abcdef");
	for (i = 0; i < sizeof(labels) / sizeof(labels[0]); i++) {
		round_trip(&t, CKO_PRIVATE_KEY, labels[i], id20, sizeof(id20));
		round_trip(&t, CKO_PUBLIC_KEY, labels[i], id1, sizeof(id1));
		round_trip(&t, CKO_CERTIFICATE, labels[i], NULL, 0);
	}
	round_trip(&t, CKO_PRIVATE_KEY, NULL, id20, sizeof(id20));
	round_trip(&t, (CK_OBJECT_CLASS)-1, NULL, NULL, 0);

	/* a token without a serial, and a 32-byte label */
	fake_token(&t, "0123456789abcdef0123456789abcdef", "");
	round_trip(&t, CKO_PRIVATE_KEY, "k", id1, sizeof(id1));

	/* the token URI is the same thing without the object */
	fake_token(&t, "plain", "42");
	{
		char *s = p11ca_token_uri(&t);
		assert_non_null(s);
		assert_string_equal(s, "pkcs11:token=plain;serial=42");
		free(s);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_path_attributes),
		cmocka_unit_test(test_parse_query_attributes),
		cmocka_unit_test(test_object_template),
		cmocka_unit_test(test_unknown_attributes),
		cmocka_unit_test(test_not_pkcs11),
		cmocka_unit_test(test_message_one_line),
		cmocka_unit_test(test_not_pkcs11_no_pin_in_message),
		cmocka_unit_test(test_pin_mutations),
		cmocka_unit_test(test_bad_encoding),
		cmocka_unit_test(test_free_wipes_pin_value),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_path_pin_value),
		cmocka_unit_test(test_path_pin_mutations),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

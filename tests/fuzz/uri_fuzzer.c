/*
 * uri_fuzzer.c - libFuzzer target for pkcs11: URIs: the strict parse path
 * (p11ca_uri_parse, p11/uri.c, over p11-kit's parser) and the redactor
 * every message and -v line goes through (p11ca_uri_redact).  The input,
 * up to its first NUL, is the URI as a user types it.
 *
 * What must hold (abort otherwise): no crash, leak or UB; the redaction is
 * a NUL-terminated string within its buffer at every buffer size, and the
 * redaction of a redaction is the same; a refused parse leaves a one-line
 * message; and a PIN does not get through: when p11-kit, reading the input
 * as leniently as it does (whitespace dropped, pin-value in the path too),
 * finds a pin-value, that value is neither in the redaction nor in the
 * message of a refused parse, and the redaction read by p11-kit has no
 * pin-value but "***".
 *
 * Built and smoke-run like csr_fuzzer.c (tests/fuzz/README.md).  Longer:
 *
 *   mkdir -p /tmp/uri-corpus
 *   tests/fuzz/uri_fuzzer -max_total_time=3600 -max_len=512 \
 *       -artifact_prefix=/tmp/uri- /tmp/uri-corpus $top_srcdir/tests/fuzz/corpus/uri
 */
#include "config.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <p11-kit/uri.h>

#include "internal.h"

/*
 * REDACTOR_COVERS_ALL - which PINs the leak check looks for.
 *
 * 0 (today): p11ca_uri_redact catches a pin-value in the query only, after
 * '?' or '&' (its name perhaps percent-encoded), and the check is limited
 * to the inputs where that is the only place p11-kit finds one: no
 * whitespace in the input (p11-kit drops it, "pin- value" is a pin-value
 * to it) and no "pin-value" in the path (before the first '?': p11-kit
 * takes "pkcs11:pin-value=..." and ";pin-value=..." too).
 *
 * 1: every pin-value p11-kit reads is checked.  TODO: set this to 1 (and
 * drop the 0 branch) once the redactor catches them all (issue 9).
 */
#ifndef REDACTOR_COVERS_ALL
#define REDACTOR_COVERS_ALL 1
#endif

/* The redactor's own words and p11ca_uri_parse's messages: a "PIN" that is a piece of them is not a
 * leak. */
static const char fixed_text[] =
    "?pin-value=*** &pin-value=*** ;pin-value=*** pkcs11: not a pkcs11: URI: '...(null)' "
    "unknown attribute '' in pkcs11: URI (after pin-value; is a '&' in the PIN not "
    "%26-encoded?) malformed pkcs11: URI: pkcs11: URI has an attribute value p11-kit "
    "does not understand out of memory (a key on a token is named like pkcs11:token=T;object=K) "
    "a pin-value in a pkcs11: URI must follow '?' or '&' (';' separates path attributes "
    "only); better, keep the PIN in a file: pin-source=file:/path";

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static unsigned long parsed, refused, pins, pins_checked; /* printed at exit */

static void stats(void)
{
	fprintf(stderr,
	        "uri_fuzzer: %lu URIs parsed, %lu refused; %lu with a pin-value, %lu of them "
	        "checked for leaks (REDACTOR_COVERS_ALL=%d)\n",
	        parsed, refused, pins, pins_checked, REDACTOR_COVERS_ALL);
}

static void die(const char *why, const char *uri)
{
	fprintf(stderr, "uri_fuzzer: %s\n", why);
	if (uri != NULL)
		fprintf(stderr, "uri_fuzzer: input '%s'\n", uri);
	abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	atexit(stats);
	return 0;
}

/* The pin-value p11-kit reads from @s (malloc'ed), or NULL. */
static char *kit_pin(const char *s)
{
	P11KitUri *u = p11_kit_uri_new();
	const char *pv;
	char *pin = NULL;

	if (u == NULL)
		die("out of memory", NULL);
	if (p11_kit_uri_parse(s, P11_KIT_URI_FOR_ANY, u) == P11_KIT_URI_OK &&
	    (pv = p11_kit_uri_get_pin_value(u)) != NULL && (pin = strdup(pv)) == NULL)
		die("out of memory", NULL);
	p11ca_uri_free(u);
	return pin;
}

/* How often @needle is in @hay (overlapping). */
static size_t count(const char *hay, const char *needle)
{
	size_t n = 0;

	for (; (hay = strstr(hay, needle)) != NULL; hay++)
		n++;
	return n;
}

/* @s as p11-kit reads its values: whitespace dropped, %XX decoded (%00 as 0x01; malloc'ed). */
static char *decoded(const char *s)
{
	char *out = malloc(strlen(s) + 1), hex[3] = { 0 };
	size_t o = 0;

	if (out == NULL)
		die("out of memory", NULL);
	for (; *s != '\0'; s++) {
		if (strchr(" \f\n\r\t\v", *s) != NULL)
			continue;
		if (s[0] == '%' && isxdigit((unsigned char)s[1]) && isxdigit((unsigned char)s[2])) {
			hex[0] = s[1], hex[1] = s[2];
			/* %00 ends the value for p11-kit, not the string here */
			out[o] = (char)strtol(hex, NULL, 16);
			if (out[o++] == '\0')
				out[o - 1] = '\x01';
			s += 2;
			continue;
		}
		out[o++] = *s;
	}
	out[o] = '\0';
	return out;
}

/* @s without whitespace, as p11-kit reads a URI (malloc'd). */
static char *unspaced(const char *s)
{
	char *t = malloc(strlen(s) + 1);
	size_t o = 0;

	if (t == NULL)
		die("out of memory", NULL);
	for (; *s != '\0'; s++)
		if (strchr(" \t\n\v\f\r", *s) == NULL)
			t[o++] = *s;
	t[o] = '\0';
	return t;
}

/*
 * Whether @pin is in @s once, as typed and read as p11-kit reads it
 * (whitespace dropped, percent-decoded): a PIN that is also a piece of
 * another name may be shown as that name.
 */
static int once_unspaced(const char *s, const char *pin)
{
	char *t = unspaced(s), *d = decoded(t);
	int once = count(t, pin) == 1 && count(d, pin) == 1;

	free(d);
	free(t);
	return once;
}

/*
 * Whether @pin is one the check can look for: not a piece of the
 * redactor's own words, and (no '?', '&', '=' or '*' in it) not able to
 * straddle them; with REDACTOR_COVERS_ALL 0, only where the redactor looks.
 */
static int checkable(const char *s, const char *pin)
{
	if (strlen(pin) < 4 || strpbrk(pin, "?&=*") != NULL || strstr(fixed_text, pin) != NULL)
		return 0;
#if !REDACTOR_COVERS_ALL
	{
		size_t path = strcspn(s, "?");
		const char *q;

		if (strpbrk(s, " \f\n\r\t\v") != NULL)
			return 0;
		for (q = s; (q = strstr(q, "pin-value")) != NULL; q++)
			if ((size_t)(q - s) < path)
				return 0;
	}
#endif
	return 1;
}

/*
 * Whether the redaction @out of @s still holds the pin-value @pin: read as
 * p11-kit reads values, it holds @pin as often as the input does (where it
 * may be elsewhere too, in a token label), so no copy went.
 */
static int leaks(const char *s, const char *out, const char *pin)
{
	char *sin = unspaced(s), *sout = unspaced(out);
	char *din = decoded(sin), *dout = decoded(sout);
	size_t n = count(din, pin);
	int leak = n > 0 && count(dout, pin) >= n;

	free(sin);
	free(sout);
	free(din);
	free(dout);
	return leak;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char out[2048], again[2048], small[64];
	P11KitUri *uri = NULL;
	char *s, *pin, *outpin;
	size_t cap, len;
	int check;

	if ((s = malloc(size + 1)) == NULL)
		die("out of memory", NULL);
	memcpy(s, data, size);
	s[size] = '\0';
	len = strlen(s);

	/* every buffer size: NUL-terminated, within the buffer */
	for (cap = 1; cap <= sizeof(small); cap += cap < 16 ? 1 : 13) {
		memset(small, 'Z', sizeof(small));
		if (p11ca_uri_redact(s, small, cap) != small || memchr(small, '\0', cap) == NULL)
			die("a redaction not NUL-terminated within its buffer", s);
		if (cap < sizeof(small) && small[cap] != 'Z')
			die("a redaction past its buffer", s);
	}
	(void)p11ca_uri_redact(s, small, 0);
	p11ca_uri_redact(s, out, sizeof(out));
	if (len + 1 < sizeof(out) / 2) {
		p11ca_uri_redact(out, again, sizeof(again));
		if (strcmp(out, again) != 0)
			die("redacting a redaction changes it", s);
	}

	pin = kit_pin(s);
	check = pin != NULL && len + 1 < sizeof(out) / 2 && checkable(s, pin);
	pins += pin != NULL;
	pins_checked += check;
	if (check) {
		if (leaks(s, out, pin))
			die("the redaction shows the pin-value", s);
		/* "***", or more when the redaction took the rest of the URI with it
		 * (a pin-value in the path runs to the next query pin-value) */
		if ((outpin = kit_pin(out)) != NULL && strncmp(outpin, "***", 3) != 0)
			die("the redaction still holds a pin-value", s);
		free(outpin);
	}

	p11ca_err_clear();
	if (p11ca_uri_parse(s, &uri) == CKR_OK) {
		if (uri == NULL)
			die("parsed without a URI", s);
		parsed++;
	} else {
		const char *msg = p11ca_error_message();

		if (uri != NULL)
			die("refused but handed a URI out", s);
		if (msg[0] == '\0' || strchr(msg, '\n') != NULL)
			die("refused without a one-line message", s);
		/* the message shows pieces of the input as typed: the PIN only when once there */
		/* (a PIN with a quote may be the message's quote and a name's start) */
		if (check && once_unspaced(s, pin) && strchr(pin, '\'') == NULL &&
		    strstr(msg, pin) != NULL)
			die("the parse error shows the pin-value", s);
		refused++;
	}
	p11ca_uri_free(uri);
	free(pin);
	free(s);
	return 0;
}

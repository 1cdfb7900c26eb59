/*
 * pin-mutations.h - strings that carry a PIN in a pin-value, mutated every
 * way p11ca has been seen to echo one: after another query attribute or a
 * ';', inside a pin-source, behind a mistyped scheme, with the attribute's
 * name in any case or percent-encoded, an encoded '=', PINs holding
 * separators and quotes, and text after the value.  pm_each() calls back
 * once per variant (tens of thousands, in well under a second); the
 * caller checks that no PIN of the variant shows in what p11ca made of it.
 * Included by test-uri.c (the library) and test-cli-util.c (the command).
 */
#ifndef P11CA_PIN_MUTATIONS_H
#define P11CA_PIN_MUTATIONS_H

#include <stdio.h>
#include <string.h>

/* What comes before the attribute's name. */
static const char *const pm_prefixes[] = {
	"pkcs11:token=a?",
	"pkcs11:token=a?module-name=m&",
	"pkcs11:token=a?module-name=softhsm2;",
	"pkcs11:token=a;object=k;",
	"pkcs11:",
	"pkcs11;token=a?",
	"pkcs11token=r?",
	"PKCS11:token=a?",
	"pkcs11:token=a?pin-source=file:/tmp/p11ca-no-such-dir/pin;",
	"file:/tmp/p11ca-no-such-dir/pin;",
	"/tmp/p11ca-no-such-dir/",
	"",
	"x:pkcs11:token=a?",
	"pkcs11:token=a?pin-value=Zz0first&",
	"'pkcs11:token=a?",
	"pkcs11:token=a%3Fb?",
};

/* The attribute's name, however spelt. */
static const char *const pm_names[] = {
	"pin-value",   "PIN-VALUE",   "Pin-Value",   "pin%2Dvalue",
	"pin%2dvalue", "%70in-value", "pin-valu%65", "%50%49%4E%2D%56%41%4C%55%45",
};

static const char *const pm_equals[] = { "=", "%3D" };

/* A PIN as written, and as p11-kit decodes it (percent-decoded, blanks dropped). */
static const struct {
	const char *raw, *decoded;
} pm_pins[] = {
	{ "S3cret-4821", "S3cret-4821" },
	{ "Zq;9x", "Zq;9x" },
	{ "Zq&9x", "Zq&9x" },
	{ "Zq?9x", "Zq?9x" },
	{ "Zq 9x", "Zq9x" },
	{ "Zq'9\"x", "Zq'9\"x" },
	{ "%5A%71%38%79", "Zq8y" },
	{ "Zq%269x", "Zq&9x" },
	{ "pin-value=Zq7", "pin-value=Zq7" },
	{ "\xc3\xa9Zq6:x/y", "\xc3\xa9Zq6:x/y" },
	{ "LongPIN0123456789012345678901234567890123456789012345678901234567890123456789"
	  "0123456789012345678901234567890123456789",
	  "LongPIN0123456789012345678901234567890123456789012345678901234567890123456789"
	  "0123456789012345678901234567890123456789" },
};

/* What comes after the value; @kept: it must survive the redaction whole. */
static const struct {
	const char *text;
	int kept;
} pm_suffixes[] = {
	{ "", 1 },
	{ "&module-name=m", 1 },
	{ "&pin-source=file:/x", 1 },
	{ "&PIN-SOURCE=file:/x", 1 },
	{ ";object=k", 0 },
	{ "'", 0 },
	{ "': No such file or directory", 0 },
	{ " and more", 0 },
	{ "&bogus=1", 0 },
	{ "&pin-value=Zz0second", 0 },
};

#define PM_N(a) (sizeof(a) / sizeof((a)[0]))

/* PINs that may be in any variant besides its own. */
static const char *const pm_other_pins[] = { "Zz0first", "Zz0second" };

struct pm_variant {
	char text[512];
	const char *pin, *pin_decoded;
	const char *prefix; /* kept whole at the start, unless it holds a PIN */
	const char *suffix; /* kept whole at the end, or NULL */
	int plain_name;     /* the name is "pin-value=" as RFC 7512 spells it */
};

typedef void pm_fn(const struct pm_variant *v, void *data);

/* Calls @fn for every variant; returns how many there were. */
static size_t pm_each(pm_fn *fn, void *data)
{
	struct pm_variant v;
	size_t a, b, c, d, e, n = 0;

	for (a = 0; a < PM_N(pm_prefixes); a++)
		for (b = 0; b < PM_N(pm_names); b++)
			for (c = 0; c < PM_N(pm_equals); c++)
				for (d = 0; d < PM_N(pm_pins); d++)
					for (e = 0; e < PM_N(pm_suffixes); e++) {
						snprintf(v.text, sizeof(v.text), "%s%s%s%s%s",
						         pm_prefixes[a], pm_names[b], pm_equals[c],
						         pm_pins[d].raw, pm_suffixes[e].text);
						v.pin = pm_pins[d].raw;
						v.pin_decoded = pm_pins[d].decoded;
						v.prefix =
						    strstr(pm_prefixes[a], "pin-value") == NULL
						        ? pm_prefixes[a]
						        : "";
						v.suffix = pm_suffixes[e].kept ? pm_suffixes[e].text
						                               : NULL;
						v.plain_name = b == 0 && c == 0;
						fn(&v, data);
						n++;
					}
	return n;
}

/* The PIN of @v (raw or decoded) or another test PIN that @out shows, or NULL. */
static const char *pm_leak(const struct pm_variant *v, const char *out)
{
	size_t i;

	if (strstr(out, v->pin) != NULL)
		return v->pin;
	if (strstr(out, v->pin_decoded) != NULL)
		return v->pin_decoded;
	for (i = 0; i < PM_N(pm_other_pins); i++)
		if (strstr(out, pm_other_pins[i]) != NULL)
			return pm_other_pins[i];
	return NULL;
}

#endif /* P11CA_PIN_MUTATIONS_H */

/* uri.c - RFC 7512 pkcs11: URIs through p11-kit's parser, strictly. */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <openssl/crypto.h>

#include "internal.h"

static const char *const path_attrs[] = {
	"token",
	"manufacturer",
	"serial",
	"model",
	"library-manufacturer",
	"library-description",
	"library-version",
	"object",
	"type",
	"id",
	"slot-description",
	"slot-manufacturer",
	"slot-id",
	NULL,
};
static const char *const query_attrs[] = {
	"pin-value", "pin-source", "module-name", "module-path", NULL,
};

static int known(const char *const *list, const char *name, size_t len)
{
	for (; *list != NULL; list++)
		if (strlen(*list) == len && strncmp(*list, name, len) == 0)
			return 1;
	return 0;
}

/*
 * @len bytes of @p for a one-line message into @out (@cap > 0): a control
 * character as '?', "..." when cut short.
 */
static void shown(char *out, size_t cap, const char *p, size_t len)
{
	size_t i;

	for (i = 0; i < len && i + 4 < cap; i++)
		out[i] = (unsigned char)p[i] < 0x20 || p[i] == 0x7f ? '?' : p[i];
	if (i < len)
		memcpy(out + i, "...", 3), i += 3;
	out[i] = '\0';
}

/*
 * The attribute name at @p (@len bytes) in @out, redacted: with its '='
 * percent-encoded ("pin-value%3D1234") the whole of a pin-value is a name.
 */
static void name_shown(const char *p, size_t len, char *out, size_t cap)
{
	char *name = strndup(p, len), red[256];

	if (name == NULL)
		snprintf(out, cap, "?");
	else
		p11ca_uri_redact(name, red, sizeof(red));
	if (name != NULL) {
		shown(out, cap, red, strlen(red));
		OPENSSL_clear_free(name, len);
	}
}

/* Names the first attribute p11-kit did not recognise, in @out. */
static int find_unknown(const char *str, char *out, size_t cap)
{
	const char *p = str + strlen("pkcs11:"); /* the scheme was checked, in any case */
	int in_query = 0, after_pin = 0;

	while (*p != '\0') {
		size_t seg = strcspn(p, in_query ? "&" : ";?");
		size_t name_len = strcspn(p, "=");
		if (name_len > seg)
			name_len = seg;
		if (seg > 0 && !known(in_query ? query_attrs : path_attrs, p, name_len)) {
			/* after a pin-value an unknown name may be a piece of the
			 * PIN (an unencoded '&'): do not show it */
			if (after_pin)
				snprintf(
				    out, cap,
				    "(after pin-value; is a '&' in the PIN not %%26-encoded?)");
			else
				name_shown(p, name_len, out, cap);
			return 1;
		}
		if (in_query && name_len == 9 && strncmp(p, "pin-value", 9) == 0)
			after_pin = 1;
		p += seg;
		if (*p == '?')
			in_query = 1;
		if (*p != '\0')
			p++;
	}
	return 0;
}

/*
 * The character at @p, percent-decoded when it is spelt "%XX"; *pn receives
 * the number of bytes it takes (0 at the end of the string).
 */
static int decoded_char(const char *p, size_t *pn)
{
	if (*p == '\0') {
		*pn = 0;
		return -1;
	}
	if (p[0] == '%' && isxdigit((unsigned char)p[1]) && isxdigit((unsigned char)p[2])) {
		char hex[3] = { p[1], p[2], '\0' };
		*pn = 3;
		return (int)strtol(hex, NULL, 16);
	}
	*pn = 1;
	return (unsigned char)*p;
}

/* p11-kit drops whitespace anywhere in a URI before it reads it. */
#define URI_SPACE " \t\n\v\f\r"

/*
 * Whether @p starts with the attribute name @want and its '=', each
 * character in any case and perhaps percent-encoded, whitespace anywhere
 * between them (p11-kit reads "pin- value =" as "pin-value="); *plen
 * receives the length of the name and its '='.
 */
static int is_attr(const char *p, const char *want, size_t *plen)
{
	size_t i = 0, n;
	int c;

	for (; *want != '\0'; want++) {
		i += strspn(p + i, URI_SPACE);
		c = decoded_char(p + i, &n);
		if (n == 0 || tolower(c) != *want)
			return 0;
		i += n;
	}
	i += strspn(p + i, URI_SPACE);
	if (decoded_char(p + i, &n) != '=')
		return 0;
	*plen = i + n;
	return 1;
}

static int is_pin_value(const char *p, size_t *plen)
{
	return is_attr(p, "pin-value", plen);
}

/* Whether @p starts with a query attribute's name and '=' (see is_attr). */
static int known_query_attr(const char *p, size_t *plen)
{
	const char *const *a;

	for (a = query_attrs; *a != NULL; a++)
		if (is_attr(p, *a, plen))
			return 1;
	return 0;
}

/*
 * Where the pin-value value at @p ends: at the end of the string, or at an
 * '&' that starts another query attribute.  Anything else, ';', '?', '&',
 * spaces and quotes included, may be a piece of the PIN.
 */
static size_t pin_value_len(const char *p)
{
	size_t i, n;

	for (i = 0; p[i] != '\0'; i++) {
		if (p[i] != '&')
			continue;
		if (known_query_attr(p + i + 1, &n))
			break;
	}
	return i;
}

/*
 * Whether @str (a pkcs11: URI) holds a pin-value anywhere but as a query
 * attribute: "?module-name=m;pin-value=1234" gives module-name the value
 * "m;pin-value=1234", and "pin-source=file:/p;pin-value=1234" a pin-source
 * that ends in the PIN, which would then be echoed as a file name.
 */
static int misplaced_pin_value(const char *str)
{
	const char *q = strchr(str, '?');
	size_t i, namelen;

	for (i = 0; str[i] != '\0'; i++) {
		if (!is_pin_value(str + i, &namelen))
			continue;
		if (q == NULL || str + i <= q || (str[i - 1] != '?' && str[i - 1] != '&'))
			return 1;
		i += namelen;
		i += pin_value_len(str + i);
		if (str[i] == '\0')
			break;
	}
	return 0;
}

P11CA_EXPORT int p11ca_uri_has_pin_value(const char *s)
{
	size_t n;

	for (; s != NULL && *s != '\0'; s++)
		if (is_pin_value(s, &n))
			return 1;
	return 0;
}

P11CA_EXPORT char *p11ca_uri_redact(const char *uri, char *buf, size_t cap)
{
	static const char shown[] = "pin-value=***";
	size_t o = 0, namelen, n;
	const char *p = uri;

	if (cap == 0)
		return buf;
	while (p != NULL && *p != '\0' && o + 1 < cap) {
		/* a pin-value wherever it is, whatever comes before it: after
		 * '?' or '&' in a URI, after ';' in a mistyped one, or in the
		 * middle of a file name or of a message */
		if (is_pin_value(p, &namelen)) {
			n = strlen(shown) < cap - 1 - o ? strlen(shown) : cap - 1 - o;
			memcpy(buf + o, shown, n);
			o += n;
			p += namelen;
			p += pin_value_len(p);
			continue;
		}
		buf[o++] = *p++;
	}
	buf[o] = '\0';
	return buf;
}

const char *p11ca_uri_comma_hint(const char *uri)
{
	const char *p, *q;

	if (uri == NULL || strncasecmp(uri, "pkcs11:", 7) != 0)
		return "";
	/* a ',' that starts what looks like the next attribute: "token=a,object=b" */
	for (p = strchr(uri, ','); p != NULL && *p != '\0'; p = strchr(p + 1, ',')) {
		q = p + 1 + strspn(p + 1, "abcdefghijklmnopqrstuvwxyz-");
		if (*q == '=' && known(path_attrs, p + 1, (size_t)(q - p - 1)))
			return "; URI attributes are separated by ';', not ',' "
			       "(pkcs11:token=T;object=K)";
	}
	return "";
}

const char *p11ca_uri_safe(const char *uri)
{
	static __thread char buf[600];

	return uri != NULL ? p11ca_uri_redact(uri, buf, sizeof(buf)) : "pkcs11:";
}

CK_RV p11ca_uri_parse(const char *str, P11KitUri **puri)
{
	P11KitUri *uri;
	char name[64];
	int r;

	*puri = NULL;
	if (str == NULL)
		return p11ca_err(P11CA_R_BAD_URI, "not a pkcs11: URI: '(null)'");
	if (strncasecmp(str, "pkcs11:", 7) != 0) {
		/* show the start only, redacted, without control characters:
		 * whatever follows '?' may hold a PIN, and so may a mistyped URI
		 * ("pkcs11;token=a;pin-value=...") */
		const char *safe = p11ca_uri_safe(str);
		size_t n = strcspn(safe, "?");
		shown(name, sizeof(name), safe, n > 60 ? 60 : n);
		return p11ca_err(P11CA_R_BAD_URI,
		                 "not a pkcs11: URI: '%s%s' (a key on a token is named like "
		                 "pkcs11:token=T;object=K)",
		                 name, n > 60 || safe[n] != '\0' ? "..." : "");
	}
	if (misplaced_pin_value(str))
		return p11ca_err(P11CA_R_BAD_URI,
		                 "a pin-value in a pkcs11: URI must follow '?' or '&' (';' "
		                 "separates path attributes only); better, keep the PIN in a "
		                 "file: pin-source=file:/path");
	if (find_unknown(str, name, sizeof(name)))
		return p11ca_err(P11CA_R_BAD_URI, "unknown attribute '%s' in pkcs11: URI", name);
	uri = p11_kit_uri_new();
	if (uri == NULL)
		return p11ca_err(CKR_HOST_MEMORY, "out of memory");
	r = p11_kit_uri_parse(str, P11_KIT_URI_FOR_ANY, uri);
	if (r != P11_KIT_URI_OK) {
		p11ca_uri_free(uri);
		return p11ca_err(P11CA_R_BAD_URI, "malformed pkcs11: URI: %s",
		                 p11_kit_uri_message(r));
	}
	if (p11_kit_uri_any_unrecognized(uri)) {
		p11ca_uri_free(uri);
		return p11ca_err(P11CA_R_BAD_URI,
		                 "pkcs11: URI has an attribute value p11-kit does not understand");
	}
	if (p11_kit_uri_get_pin_value(uri) != NULL && p11_kit_uri_get_pin_source(uri) != NULL) {
		/* which one would win is anybody's guess: say so */
		p11ca_uri_free(uri);
		return p11ca_err(P11CA_R_BAD_URI, "a pkcs11: URI with both a pin-value and a "
		                                  "pin-source: give one PIN source only");
	}
	*puri = uri;
	return CKR_OK;
}

/*
 * The path of @str ("pkcs11:" already checked) with its "pin-value=..."
 * segment moved to the front of the query, into *pmoved (freed with
 * OPENSSL_clear_free by the caller), or NULL when the path has none.  The
 * value ends at ';' or '?'.  Only the spelling RFC 7512 gives the query
 * attribute is moved; any other is left for p11ca_uri_parse() to refuse.
 */
static CK_RV move_path_pin(const char *str, char **pmoved)
{
	const char *path = str + 7, *query = strchr(str, '?');
	const char *end = query != NULL ? query : str + strlen(str);
	const char *seg, *pin = NULL, *next;
	size_t pinlen = 0, cap = strlen(str) + 3, o;
	char *out;

	*pmoved = NULL;
	for (seg = path; seg <= end; seg = next + 1) {
		const char *semi = memchr(seg, ';', (size_t)(end - seg));
		size_t len, name_len;
		next = semi != NULL ? semi : end;
		len = (size_t)(next - seg);
		name_len = strcspn(seg, "=;?");
		if (name_len > len)
			name_len = len;
		if (len >= 10 && strncmp(seg, "pin-value=", 10) == 0) {
			if (pin != NULL)
				return p11ca_err(P11CA_R_BAD_URI,
				                 "a pkcs11: URI with two pin-values in its path");
			pin = seg;
			pinlen = len;
		} else if (pin != NULL && len > 0 && !known(path_attrs, seg, name_len)) {
			/* a piece of the PIN, perhaps: never shown */
			return p11ca_err(P11CA_R_BAD_URI,
			                 "unknown attribute in pkcs11: URI (after pin-value; is a "
			                 "';' in the PIN not %%3B-encoded?)");
		}
		if (next >= end)
			break;
	}
	if (pin == NULL)
		return CKR_OK;
	if (query != NULL && p11ca_uri_has_pin_value(query + 1))
		return p11ca_err(P11CA_R_BAD_URI,
		                 "a pkcs11: URI with a pin-value in both its path and its query");
	if ((out = malloc(cap)) == NULL)
		return p11ca_err(CKR_HOST_MEMORY, "out of memory");
	memcpy(out, str, 7);
	o = 7;
	/* the path without the pin-value segment (and its ';') */
	for (seg = path; seg <= end; seg = next + 1) {
		const char *semi = memchr(seg, ';', (size_t)(end - seg));
		next = semi != NULL ? semi : end;
		if (seg != pin) {
			if (o > 7)
				out[o++] = ';';
			memcpy(out + o, seg, (size_t)(next - seg));
			o += (size_t)(next - seg);
		}
		if (next >= end)
			break;
	}
	out[o++] = '?';
	memcpy(out + o, pin, pinlen);
	o += pinlen;
	if (query != NULL && query[1] != '\0') {
		out[o++] = '&';
		memcpy(out + o, query + 1, strlen(query + 1));
		o += strlen(query + 1);
	}
	out[o] = '\0';
	*pmoved = out;
	return CKR_OK;
}

CK_RV p11ca_ctx_uri_parse(p11ca_ctx *ctx, const char *str, P11KitUri **puri)
{
	char *moved = NULL;
	CK_RV rv;

	*puri = NULL;
	if (ctx == NULL || !ctx->uri_path_pin || str == NULL || strncasecmp(str, "pkcs11:", 7) != 0)
		return p11ca_uri_parse(str, puri);
	if ((rv = move_path_pin(str, &moved)) != CKR_OK)
		return rv;
	rv = p11ca_uri_parse(moved != NULL ? moved : str, puri);
	if (moved != NULL)
		OPENSSL_clear_free(moved, strlen(moved));
	return rv;
}

void p11ca_uri_free(P11KitUri *uri)
{
	const char *pv;

	if (uri == NULL)
		return;
	/* p11-kit frees the pin-value without wiping it: do that first. */
	pv = p11_kit_uri_get_pin_value(uri);
	if (pv != NULL)
		OPENSSL_cleanse((char *)pv, strlen(pv));
	p11_kit_uri_free(uri);
}

int p11ca_uri_match_token(P11KitUri *uri, p11ca_token *t)
{
	const char *mname = p11_kit_uri_get_module_name(uri);
	const char *mpath = p11_kit_uri_get_module_path(uri);
	CK_SLOT_ID sid = p11_kit_uri_get_slot_id(uri);
	CK_TOKEN_INFO ti;
	CK_INFO mi;
	int ok;

	if (mname != NULL && strcmp(mname, t->mod->name) != 0)
		return 0;
	if (mpath != NULL) {
		const char *base = strrchr(mpath, '/');
		const char *mbase = t->mod->path ? strrchr(t->mod->path, '/') : NULL;
		if (t->mod->path == NULL)
			return 0;
		/* a full path must match; a bare file name matches the base name */
		if (base != NULL ? strcmp(mpath, t->mod->path) != 0
		                 : strcmp(mpath, mbase ? mbase + 1 : t->mod->path) != 0)
			return 0;
	}
	if (sid != (CK_SLOT_ID)-1 && sid != t->slot)
		return 0;
	if (!p11ca_module_enter(t->mod))
		return 0;
	ok = (t->mod->fl->C_GetInfo(&mi) != CKR_OK || p11_kit_uri_match_module_info(uri, &mi)) &&
	     t->mod->fl->C_GetTokenInfo(t->slot, &ti) == CKR_OK &&
	     p11_kit_uri_match_token_info(uri, &ti);
	p11ca_module_leave(t->mod);
	return ok;
}

CK_ULONG p11ca_uri_object_template(P11KitUri *uri, CK_ATTRIBUTE tmpl[3], int with_class)
{
	CK_ATTRIBUTE *a;
	CK_ULONG n = 0;

	if ((a = p11_kit_uri_get_attribute(uri, CKA_LABEL)) != NULL)
		tmpl[n++] = *a;
	if ((a = p11_kit_uri_get_attribute(uri, CKA_ID)) != NULL)
		tmpl[n++] = *a;
	if (with_class && (a = p11_kit_uri_get_attribute(uri, CKA_CLASS)) != NULL)
		tmpl[n++] = *a;
	return n;
}

int p11ca_uri_has_object(P11KitUri *uri)
{
	return p11_kit_uri_get_attribute(uri, CKA_LABEL) != NULL ||
	       p11_kit_uri_get_attribute(uri, CKA_ID) != NULL ||
	       p11_kit_uri_get_attribute(uri, CKA_CLASS) != NULL;
}

/* Appends "name=value" percent-encoded (RFC 7512 pchar set). */
static int put_attr(char **pbuf, size_t *plen, size_t *pcap, const char *name,
                    const unsigned char *v, size_t vlen, int force_hex)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t need = strlen(name) + 2 + 3 * vlen + 1, i;
	char *b;

	if (*plen + need > *pcap) {
		size_t cap = (*plen + need) * 2;
		if ((b = realloc(*pbuf, cap)) == NULL)
			return -1;
		*pbuf = b;
		*pcap = cap;
	}
	b = *pbuf + *plen;
	b += sprintf(b, "%s%s=", (*pbuf)[*plen - 1] == ':' ? "" : ";", name);
	for (i = 0; i < vlen; i++) {
		unsigned char c = v[i];
		if (!force_hex && (isalnum(c) || strchr("-._~:[]@!$'()*+,=&", c) != NULL)) {
			*b++ = (char)c;
		} else {
			*b++ = '%';
			*b++ = hex[c >> 4];
			*b++ = hex[c & 15];
		}
	}
	*b = '\0';
	*plen = (size_t)(b - *pbuf);
	return 0;
}

char *p11ca_uri_for_object(p11ca_token *t, CK_OBJECT_CLASS klass, const char *label,
                           const unsigned char *id, size_t id_len)
{
	size_t len = 7, cap = 128;
	char *buf = malloc(cap);
	const char *type = klass == CKO_PRIVATE_KEY   ? "private"
	                   : klass == CKO_PUBLIC_KEY  ? "public"
	                   : klass == CKO_CERTIFICATE ? "cert"
	                                              : NULL;
	int r = 0;

	if (buf == NULL)
		return NULL;
	memcpy(buf, "pkcs11:", 8);
	/* token label and serial pick the token; model/manufacturer add nothing */
	r |= put_attr(&buf, &len, &cap, "token", (const unsigned char *)t->info.label,
	              strlen(t->info.label), 0);
	if (t->info.serial[0] != '\0')
		r |= put_attr(&buf, &len, &cap, "serial", (const unsigned char *)t->info.serial,
		              strlen(t->info.serial), 0);
	if (label != NULL && *label != '\0')
		r |= put_attr(&buf, &len, &cap, "object", (const unsigned char *)label,
		              strlen(label), 0);
	if (id != NULL && id_len > 0)
		r |= put_attr(&buf, &len, &cap, "id", id, id_len, 1);
	if (type != NULL)
		r |= put_attr(&buf, &len, &cap, "type", (const unsigned char *)type, strlen(type),
		              0);
	if (r != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

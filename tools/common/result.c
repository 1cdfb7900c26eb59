/* result.c - the per-thread message behind result.h. */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <openssl/err.h>

#include "result.h"

static __thread char msg[1024];

static void vset(const char *fmt, va_list ap)
{
	char tmp[sizeof(msg)];

	/* through a copy: a caller may format the current message into the new one */
	vsnprintf(tmp, sizeof(tmp), fmt, ap);
	memcpy(msg, tmp, sizeof(msg));
}

int res_set(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vset(fmt, ap);
	va_end(ap);
	return code;
}

int res_prefix(int code, const char *fmt, ...)
{
	char prefix[512], tmp[sizeof(msg)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	snprintf(tmp, sizeof(tmp), "%.500s: %.520s", prefix, msg[0] != '\0' ? msg : "failed");
	memcpy(msg, tmp, sizeof(msg));
	return code;
}

int res_ossl(int code, const char *fmt, ...)
{
	unsigned long e, last = 0;
	const char *d, *reason;
	char what[512], data[512] = "";
	int flags = 0;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	/* the last error is the most specific; its data is a one-line reason */
	while ((e = ERR_get_error_all(NULL, NULL, NULL, &d, &flags)) != 0) {
		last = e;
		if ((flags & ERR_TXT_STRING) && d != NULL && *d != '\0')
			snprintf(data, sizeof(data), "%s", d); /* copied: the queue reuses it */
	}
	if (data[0] != '\0')
		snprintf(msg, sizeof(msg), "%.500s: %.500s", what, data);
	else if (last != 0 && (reason = ERR_reason_error_string(last)) != NULL)
		snprintf(msg, sizeof(msg), "%.500s: %.500s", what, reason);
	else
		snprintf(msg, sizeof(msg), "%.500s failed", what);
	return code;
}

const char *res_message(void)
{
	return msg;
}

void res_clear(void)
{
	msg[0] = '\0';
}

const char *res_name(int code)
{
	static const char *const names[] = {
		"RES_OK",        "RES_FAIL",   "RES_NOMEM",       "RES_BAD_INPUT", "RES_POLICY",
		"RES_NOT_FOUND", "RES_EXISTS", "RES_TAKEN",       "RES_ALREADY",   "RES_IO",
		"RES_DB",        "RES_TOKEN",  "RES_CRYPTO",      "RES_VERSION",   "RES_NETWORK",
		"RES_LIMIT",     "RES_STALE",  "RES_UNSUPPORTED",
	};

	if (code < 0 || (size_t)code >= sizeof(names) / sizeof(names[0]))
		return "RES_(unknown)";
	return names[code];
}

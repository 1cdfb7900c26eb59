/* time.c - the one time parser and the time formatters (pki.h). */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "pki.h"

void pki_time_iso(int64_t t, char *out)
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(out, 21, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

size_t pki_time_asn1(int64_t t, int generalized, char *out, size_t cap)
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	if (generalized || tm.tm_year < 50 || tm.tm_year >= 150)
		return strftime(out, cap, "%Y%m%d%H%M%SZ", &tm);
	/* UTCTime: two-digit years 1950-2049 (RFC 5280), as openssl ca writes */
	snprintf(out, cap, "%02d%02d%02d%02d%02d%02dZ", tm.tm_year % 100, tm.tm_mon + 1, tm.tm_mday,
	         tm.tm_hour, tm.tm_min, tm.tm_sec);
	return strlen(out);
}

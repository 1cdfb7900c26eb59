/* time.c - the one time parser and the time formatters (pki.h). */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <openssl/asn1.h>
#include <openssl/err.h>

#include "pki.h"
#include "result.h"

/* Days from 1970-01-01 to @y-@m-@d (proleptic Gregorian; H. Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static int leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* @n decimal digits at @s into *@pv; 0 if any is not a digit. */
static int digits(const char *s, int n, int *pv)
{
	int i, v = 0;

	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return 0;
		v = v * 10 + (s[i] - '0');
	}
	*pv = v;
	return 1;
}

/* Checks the fields and makes the time; 0 if a field is out of range. */
static int make_time(int y, int mo, int d, int h, int mi, int sec, int64_t *pt)
{
	static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	if (y < 1 || mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || sec > 59)
		return 0;
	if (d > mdays[mo - 1] + (mo == 2 && leap(y)))
		return 0;
	*pt = days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 + sec;
	return 1;
}

int pki_time_parse(const char *s, int64_t *pt)
{
	size_t len = s != NULL ? strlen(s) : 0;
	int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0, ok = 0;

	if (s == NULL)
		return res_set(RES_BAD_INPUT, "no time given");
	if (strcmp(s, "now") == 0) {
		*pt = (int64_t)time(NULL);
		return RES_OK;
	}
	if (len == 15 && s[14] == 'Z') /* YYYYMMDDHHMMSSZ */
		ok = digits(s, 4, &y) && digits(s + 4, 2, &mo) && digits(s + 6, 2, &d) &&
		     digits(s + 8, 2, &h) && digits(s + 10, 2, &mi) && digits(s + 12, 2, &sec);
	else if ((len == 10 || len == 19 || len == 20) && s[4] == '-' && s[7] == '-') {
		ok = digits(s, 4, &y) && digits(s + 5, 2, &mo) && digits(s + 8, 2, &d);
		if (ok && len == 20) /* YYYY-MM-DDTHH:MM:SSZ */
			ok = s[10] == 'T' && s[19] == 'Z';
		else if (ok && len == 19) /* YYYY-MM-DD HH:MM:SS */
			ok = s[10] == ' ';
		if (ok && len > 10)
			ok = s[13] == ':' && s[16] == ':' && digits(s + 11, 2, &h) &&
			     digits(s + 14, 2, &mi) && digits(s + 17, 2, &sec);
	}
	if (!ok || !make_time(y, mo, d, h, mi, sec, pt))
		return res_set(RES_BAD_INPUT,
		               "'%.64s' is not a time (YYYY-MM-DD, YYYY-MM-DDTHH:MM:SSZ, "
		               "\"YYYY-MM-DD HH:MM:SS\", YYYYMMDDHHMMSSZ or now; UTC)",
		               s);
	return RES_OK;
}

int64_t pki_asn1_time_get(const ASN1_TIME *t)
{
	struct tm tm;
	int64_t v = 0;

	if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1) {
		ERR_clear_error();
		return 0;
	}
	if (!make_time(tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
	               tm.tm_sec, &v))
		return 0;
	return v;
}

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

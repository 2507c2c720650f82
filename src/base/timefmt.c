/* timefmt.c - time stamps as text: RFC 3339 in and out, and the time cell
 * of a CSV file (epoch seconds, RFC 3339, or a date-time without a zone). */
#include "iotad/timefmt.h"

#include "iotad/numparse.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define TIMEFMT_MAX_EPOCH 4102444800.0 /* 2100-01-01 */

/* n decimal digits at *s; advances *s. -1 if any is not a digit. */
static int digits(const char **s, int n)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		char c = (*s)[i];
		if (c < '0' || c > '9')
			return -1;
		v = v * 10 + (c - '0');
	}
	*s += n;
	return v;
}

static int days_in_month(int y, int mon)
{
	static const int dm[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	return mon == 2 && leap ? 29 : dm[mon - 1];
}

int timefmt_parse_rfc3339(const char *s, double *out)
{
	int y, mo, d, h, mi, sec, off = 0;
	double frac = 0;

	if (!s || !out)
		return -1;
	if ((y = digits(&s, 4)) < 0 || *s++ != '-' || (mo = digits(&s, 2)) < 0 || *s++ != '-' ||
	    (d = digits(&s, 2)) < 0)
		return -1;
	if (*s != 'T' && *s != 't' && *s != ' ')
		return -1;
	s++;
	if ((h = digits(&s, 2)) < 0 || *s++ != ':' || (mi = digits(&s, 2)) < 0 || *s++ != ':' ||
	    (sec = digits(&s, 2)) < 0)
		return -1;
	if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 ||
	    sec > 60)
		return -1;
	if (*s == '.') {
		double scale = 0.1;
		int n = 0;
		for (s++; *s >= '0' && *s <= '9'; s++, n++) {
			frac += (*s - '0') * scale;
			scale /= 10;
		}
		if (n == 0 || n > 18)
			return -1;
	}
	if (*s == 'Z' || *s == 'z') {
		s++;
	} else if (*s == '+' || *s == '-') {
		int sign = *s++ == '-' ? -1 : 1;
		int oh, om;
		if ((oh = digits(&s, 2)) < 0 || *s++ != ':' || (om = digits(&s, 2)) < 0 || oh > 23 ||
		    om > 59)
			return -1;
		off = sign * (oh * 3600 + om * 60);
	} else {
		return -1;
	}
	if (*s != '\0')
		return -1;
	struct tm tm = {
		.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d,
		.tm_hour = h, .tm_min = mi, .tm_sec = sec,
	};
	time_t t = timegm(&tm);
	*out = (double)t - off + frac;
	return 0;
}

void timefmt_format_rfc3339(double ts, char *out, size_t outlen)
{
	struct tm tm;

	if (!out || outlen == 0)
		return;
	out[0] = '\0';
	if (!isfinite(ts) || fabs(ts) > 2.5e11)
		return;
	long long ms = llround(ts * 1000.0);
	long long secs = ms / 1000, rem = ms % 1000;
	if (rem < 0) {
		rem += 1000;
		secs--;
	}
	time_t t = (time_t)secs;
	if (!gmtime_r(&t, &tm) || tm.tm_year + 1900 < 0 || tm.tm_year + 1900 > 9999)
		return;
	int n = snprintf(out, outlen, "%04d-%02d-%02dT%02d:%02d:%02d.%03lldZ", tm.tm_year + 1900,
			 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, rem);
	if (n < 0 || (size_t)n >= outlen)
		out[0] = '\0';
}

int timefmt_parse(const char *s, double *out)
{
	double v;
	if (num_parse_double(s, -HUGE_VAL, HUGE_VAL, &v, NULL, 0) == 0)
		return v >= 0.0 && v <= TIMEFMT_MAX_EPOCH ? (*out = v, 0) : -1;
	if (timefmt_parse_rfc3339(s, out) == 0)
		return 0;
	/* no zone: UTC */
	char buf[64];
	size_t n = strlen(s);
	if (n == 0 || n + 2 > sizeof buf)
		return -1;
	memcpy(buf, s, n);
	memcpy(buf + n, "Z", 2);
	return timefmt_parse_rfc3339(buf, out);
}


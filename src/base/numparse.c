/* numparse.c - strict number parsing: strtod/strtoull with the end pointer,
 * errno and range checked. */
#include "iotad/numparse.h"

#include "iotad/errmsg.h"

#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

int num_parse_double(const char *s, double lo, double hi, double *out, char *err, size_t errlen)
{
	char *end = NULL;
	errno = 0;
	double v = s ? strtod(s, &end) : 0.0;
	if (!s || end == s || *end != '\0' || errno == ERANGE || !isfinite(v))
		return iotad_fail(-1, err, errlen, "not a number");
	if (!(v >= lo && v <= hi))
		return iotad_fail(-1, err, errlen, "must be between %g and %g", lo, hi);
	*out = v;
	return 0;
}

int num_parse_float(const char *s, double lo, double hi, float *out, char *err, size_t errlen)
{
	double v;
	if (num_parse_double(s, lo > -FLT_MAX ? lo : -FLT_MAX, hi < FLT_MAX ? hi : FLT_MAX, &v, err,
			     errlen) != 0)
		return -1;
	*out = (float)v;
	return 0;
}

/* s as a whole integer, blanks before it allowed: its sign (when signed
 * may have one) and magnitude; decimal, or hexadecimal after 0x when hex. */
static bool num_integer(const char *s, bool is_signed, bool hex, bool *neg,
			unsigned long long *mag)
{
	char *end = NULL;
	while (s && isspace((unsigned char)*s))
		s++;
	if (!s)
		return false;
	*neg = *s == '-';
	if (*s == '-' || *s == '+') {
		if (!is_signed)
			return false;
		s++;
	}
	if (!isdigit((unsigned char)*s))
		return false;
	errno = 0;
	*mag = strtoull(s, &end, hex && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') ? 16 : 10);
	return *end == '\0' && errno != ERANGE;
}

int num_parse_long(const char *s, long lo, long hi, long *out, char *err, size_t errlen)
{
	bool neg;
	unsigned long long mag;
	if (!num_integer(s, true, false, &neg, &mag) ||
	    mag > (neg ? (unsigned long long)LONG_MAX + 1 : (unsigned long long)LONG_MAX))
		return iotad_fail(-1, err, errlen, "not an integer");
	long v = !neg ? (long)mag : mag > (unsigned long long)LONG_MAX ? LONG_MIN : -(long)mag;
	if (v < lo || v > hi)
		return iotad_fail(-1, err, errlen, "must be between %ld and %ld", lo, hi);
	*out = v;
	return 0;
}

int num_parse_size(const char *s, size_t lo, size_t hi, size_t *out, char *err, size_t errlen)
{
	bool neg;
	unsigned long long mag;
	if (!num_integer(s, false, false, &neg, &mag) || mag > SIZE_MAX)
		return iotad_fail(-1, err, errlen, "not a count");
	if (mag < lo || mag > hi)
		return iotad_fail(-1, err, errlen, "must be between %zu and %zu", lo, hi);
	*out = (size_t)mag;
	return 0;
}

int num_parse_u64(const char *s, uint64_t *out, char *err, size_t errlen)
{
	bool neg;
	unsigned long long mag;
	if (!num_integer(s, false, true, &neg, &mag))
		return iotad_fail(-1, err, errlen, "not an unsigned 64-bit integer");
	*out = (uint64_t)mag;
	return 0;
}

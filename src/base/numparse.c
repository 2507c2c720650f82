/* numparse.c - strict number parsing: strtod/strtol with the end pointer,
 * errno and range checked. */
#include "iotad/numparse.h"

#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>

#include "iotad/errmsg.h"

int num_parse_double(const char *s, double lo, double hi, double *out, char *err, size_t errlen)
{
	char *end;
	errno = 0;
	double v = s ? strtod(s, &end) : 0.0;
	if (!s || end == s || *end != '\0' || errno == ERANGE || !isfinite(v)) {
		iotad_errf(err, errlen, "not a number");
		return -1;
	}
	if (v < lo || v > hi) {
		iotad_errf(err, errlen, "must be between %g and %g", lo, hi);
		return -1;
	}
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

int num_parse_long(const char *s, long lo, long hi, long *out, char *err, size_t errlen)
{
	char *end;
	errno = 0;
	long v = s ? strtol(s, &end, 10) : 0;
	if (!s || end == s || *end != '\0' || errno == ERANGE) {
		iotad_errf(err, errlen, "not an integer");
		return -1;
	}
	if (v < lo || v > hi) {
		iotad_errf(err, errlen, "must be between %ld and %ld", lo, hi);
		return -1;
	}
	*out = v;
	return 0;
}

/* A sign, after the blanks strtoull skips: refused for unsigned numbers. */
static int signed_text(const char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	return *s == '-' || *s == '+';
}

int num_parse_size(const char *s, size_t lo, size_t hi, size_t *out, char *err, size_t errlen)
{
	char *end;
	errno = 0;
	unsigned long long v = s && !signed_text(s) ? strtoull(s, &end, 10) : 0;
	if (!s || signed_text(s) || end == s || *end != '\0' || errno == ERANGE ||
	    v > SIZE_MAX) {
		iotad_errf(err, errlen, "not a count");
		return -1;
	}
	if (v < lo || v > hi) {
		iotad_errf(err, errlen, "must be between %zu and %zu", lo, hi);
		return -1;
	}
	*out = (size_t)v;
	return 0;
}

int num_parse_u64(const char *s, uint64_t *out, char *err, size_t errlen)
{
	char *end;
	errno = 0;
	const char *p = s;
	while (p && isspace((unsigned char)*p))
		p++;
	int base = p && p[0] == '0' && (p[1] == 'x' || p[1] == 'X') ? 16 : 10;
	unsigned long long v = s && !signed_text(s) ? strtoull(s, &end, base) : 0;
	if (!s || signed_text(s) || end == s || *end != '\0' || errno == ERANGE) {
		iotad_errf(err, errlen, "not an unsigned 64-bit integer");
		return -1;
	}
	*out = (uint64_t)v;
	return 0;
}

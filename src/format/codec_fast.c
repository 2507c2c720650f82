/* codec_fast.c - the common telemetry payload read in place, without
 * building a cJSON tree (no allocation). It accepts a strict subset of
 * what codec_parse_sample accepts and reads the same values from it (the
 * numbers as strtod, like cJSON's, reads them: short decimals computed
 * exactly in place, others through strtod); on anything outside the
 * subset it declines and the full parser decides. */
#include "codec_fast.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Keys remembered to find one named twice; an object with more is declined. */
#define FAST_MAX_KEYS 32
/* Longest number read (cJSON reads at most 63 characters of one). */
#define FAST_NUM_MAX 63

typedef struct scan {
	const char *p, *end;
} scan;

static void skip_ws(scan *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
		s->p++;
}

/* A string without escapes or control characters; its bytes into *str, *n. */
static bool read_string(scan *s, const char **str, size_t *n)
{
	if (s->p >= s->end || *s->p != '"')
		return false;
	const char *a = ++s->p;
	while (s->p < s->end && *s->p != '"') {
		unsigned char c = (unsigned char)*s->p;
		if (c == '\\' || c < 0x20)
			return false;
		s->p++;
	}
	if (s->p >= s->end)
		return false;
	*str = a;
	*n = (size_t)(s->p - a);
	s->p++;
	return true;
}

static bool is_digit(const scan *s)
{
	return s->p < s->end && *s->p >= '0' && *s->p <= '9';
}

/* Powers of ten a double holds exactly. */
static const double pow10_exact[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
				     1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
				     1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
#define FAST_EXACT_MANT (1ull << 53)

/* A number in JSON's grammar. Its digits are gathered on the way into an
 * integer mantissa m and a power of ten e; when m <= 2^53 and |e| <= 22
 * both are exact doubles, so the one division or multiplication rounds
 * once, correctly, to the double strtod gives (an IEEE double operation
 * rounds its exact result; the build evaluates double in double). Any
 * other number (more digits, an exponent) goes through strtod, and so does
 * every number where double arithmetic is done in wider registers. */
static bool read_number(scan *s, double *out)
{
	const char *a = s->p;
	bool neg = false, exact = FLT_EVAL_METHOD == 0;
	uint64_t m = 0;
	int e = 0;
	if (s->p < s->end && *s->p == '-') {
		neg = true;
		s->p++;
	}
	if (!is_digit(s))
		return false;
	if (*s->p == '0') {
		s->p++;
	} else {
		while (is_digit(s)) {
			if (exact) {
				m = m * 10 + (uint64_t)(*s->p - '0');
				exact = m <= FAST_EXACT_MANT;
			}
			s->p++;
		}
	}
	if (s->p < s->end && *s->p == '.') {
		s->p++;
		if (!is_digit(s))
			return false;
		while (is_digit(s)) {
			if (exact) {
				m = m * 10 + (uint64_t)(*s->p - '0');
				exact = m <= FAST_EXACT_MANT;
			}
			s->p++;
			e--;
		}
	}
	if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
		exact = false;
		s->p++;
		if (s->p < s->end && (*s->p == '+' || *s->p == '-'))
			s->p++;
		if (!is_digit(s))
			return false;
		while (is_digit(s))
			s->p++;
	}
	size_t n = (size_t)(s->p - a);
	if (n > FAST_NUM_MAX)
		return false;
	if (exact && e >= -22) {
		double v = e < 0 ? (double)m / pow10_exact[-e] : (double)m;
		*out = neg ? -v : v;
		return true;
	}
	char buf[FAST_NUM_MAX + 1];
	memcpy(buf, a, n);
	buf[n] = '\0';
	*out = strtod(buf, NULL);
	return true;
}

static bool read_literal(scan *s, const char *lit, size_t n)
{
	if ((size_t)(s->end - s->p) < n || memcmp(s->p, lit, n))
		return false;
	s->p += n;
	return true;
}

/* A value of a field that is neither a feature nor ts: skipped. */
static bool skip_value(scan *s)
{
	const char *str;
	size_t n;
	double v;
	if (s->p >= s->end)
		return false;
	switch (*s->p) {
	case '"':
		return read_string(s, &str, &n);
	case 't':
		return read_literal(s, "true", 4);
	case 'f':
		return read_literal(s, "false", 5);
	case 'n':
		return read_literal(s, "null", 4);
	default:
		return read_number(s, &v);
	}
}

static bool key_is(const char *key, size_t n, const char *name)
{
	return strlen(name) == n && !memcmp(key, name, n);
}

bool codec_fast_sample(const char *payload, size_t len, const model *m, double *ts, bool *has_ts,
		       float *vals)
{
	scan s = {payload, payload + len};
	const char *keys[FAST_MAX_KEYS];
	size_t key_len[FAST_MAX_KEYS];
	int n_keys = 0;
	float tmp[MODEL_MAX_FEATURES];
	uint32_t found = 0; /* bit i: feature i seen */
	double t = 0;
	bool got_ts = false;

	if (!payload || !m || m->n_features < 1 || m->n_features > MODEL_MAX_FEATURES)
		return false;
	skip_ws(&s);
	if (s.p >= s.end || *s.p != '{')
		return false;
	s.p++;
	skip_ws(&s);
	if (s.p < s.end && *s.p == '}')
		return false; /* no features: the full parser says which is missing */
	for (;;) {
		const char *key;
		size_t kn;
		skip_ws(&s);
		if (!read_string(&s, &key, &kn) || n_keys == FAST_MAX_KEYS)
			return false;
		for (int k = 0; k < n_keys; k++)
			if (key_len[k] == kn && !memcmp(keys[k], key, kn))
				return false; /* named twice: duplicate_key */
		keys[n_keys] = key;
		key_len[n_keys++] = kn;
		skip_ws(&s);
		if (s.p >= s.end || *s.p != ':')
			return false;
		s.p++;
		skip_ws(&s);
		int feat = -1;
		for (int i = 0; i < m->n_features && feat < 0; i++)
			if (key_is(key, kn, m->features[i]))
				feat = i;
		bool is_ts = key_is(key, kn, "ts");
		if (feat >= 0 || is_ts) {
			double v;
			if (!read_number(&s, &v) || !isfinite(v))
				return false;
			if (feat >= 0) {
				if (fabs(v) > FLT_MAX)
					return false;
				tmp[feat] = (float)v;
				found |= 1u << feat;
			}
			if (is_ts) {
				if (v <= 0 || v >= 1e11)
					return false;
				t = v;
				got_ts = true;
			}
		} else if (!skip_value(&s)) {
			return false;
		}
		skip_ws(&s);
		if (s.p >= s.end)
			return false;
		if (*s.p == '}')
			break;
		if (*s.p != ',')
			return false;
		s.p++;
	}
	/* Only whitespace (or C string terminators) may follow the object. */
	for (s.p++; s.p < s.end; s.p++)
		if (*s.p != ' ' && *s.p != '\t' && *s.p != '\r' && *s.p != '\n' && *s.p != '\0')
			return false;
	uint32_t all = m->n_features == 32 ? 0xffffffffu : (1u << m->n_features) - 1;
	if (found != all)
		return false;
	memcpy(vals, tmp, (size_t)m->n_features * sizeof *vals);
	*ts = got_ts ? t : 0;
	*has_ts = got_ts;
	return true;
}

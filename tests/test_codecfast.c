/* test_codecfast.c - unit tests of the in-place telemetry reader: what it
 * accepts, cJSON reads the same way (same floats, same ts, an object
 * without a key named twice); what it declines (escapes, nesting, RFC 3339
 * ts, "values", a missing feature, bad numbers) is left to the full parser,
 * which still takes the valid ones. A few thousand mutated payloads check
 * that it never accepts what cJSON would not read the same. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "../src/format/codec_fast.h"
#include "iotad/codec.h"
#include "test.h"

#define NOW 1700000000.0

static model fm; /* temperature, humidity, battery */

static void make(void)
{
	static const char *const names[] = {"temperature", "humidity", "battery"};
	memset(&fm, 0, sizeof fm);
	fm.n_features = 3;
	for (int i = 0; i < 3; i++)
		snprintf(fm.features[i], sizeof fm.features[i], "%s", names[i]);
}

/* If the fast reader accepts p, cJSON must read it the same way. Returns
 * whether it accepted. */
static bool agrees(const char *p, size_t len)
{
	float v[MODEL_MAX_FEATURES];
	double ts = -1;
	bool has_ts = false;
	if (!codec_fast_sample(p, len, &fm, &ts, &has_ts, v))
		return false;
	const char *end = NULL;
	cJSON *root = cJSON_ParseWithLengthOpts(p, len, &end, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(root);
	CU_ASSERT_TRUE(cJSON_IsObject(root));
	CU_ASSERT_PTR_NULL(codec_json_dup_key(root));
	for (int i = 0; i < fm.n_features; i++) {
		const cJSON *it = cJSON_GetObjectItemCaseSensitive(root, fm.features[i]);
		CU_ASSERT_TRUE_FATAL(cJSON_IsNumber(it));
		CU_ASSERT_EQUAL(v[i], (float)it->valuedouble);
	}
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(root, "ts");
	CU_ASSERT_EQUAL(has_ts, t != NULL);
	if (t) {
		CU_ASSERT_TRUE(cJSON_IsNumber(t));
		CU_ASSERT_EQUAL(ts, t->valuedouble);
	}
	cJSON_Delete(root);
	return true;
}

static bool fast(const char *p)
{
	return agrees(p, strlen(p));
}

static void test_accepts(void)
{
	CU_ASSERT_TRUE(fast("{\"ts\":1732540000.123,\"temperature\":21.53,\"humidity\":40.91,"
			    "\"battery\":3.712}"));
	CU_ASSERT_TRUE(fast(" {\n\t\"battery\" : -0.5e-3 , \"humidity\":0,\"temperature\":1E+2,"
			    "\"unit\":\"C\",\"ok\":true,\"x\":null,\"y\":false,\"n\":-7}\r\n"));
	CU_ASSERT_TRUE(fast("{\"temperature\":1,\"humidity\":2,\"battery\":3}"));
	/* what follows the object: whitespace and C string terminators only */
	const char nul[] = "{\"temperature\":1,\"humidity\":2,\"battery\":3}\0\0";
	CU_ASSERT_TRUE(agrees(nul, sizeof nul - 1));
	float v[3];
	double ts = 0;
	bool has_ts = true;
	const char *p = "{\"temperature\":1.5,\"humidity\":2,\"battery\":3}";
	CU_ASSERT_TRUE(codec_fast_sample(p, strlen(p), &fm, &ts, &has_ts, v));
	CU_ASSERT_FALSE(has_ts);
	CU_ASSERT_EQUAL(v[0], 1.5f);
	/* through codec_parse_sample: no ts takes now */
	CU_ASSERT_EQUAL(codec_parse_sample(p, strlen(p), 4096, &fm, NOW, &ts, &has_ts, v, NULL, 0),
			REJ_NONE);
	CU_ASSERT_EQUAL(ts, NOW);
}

static void test_declines(void)
{
	static const char *const declined[] = {
		"{\"ts\":\"2024-01-01T00:00:00Z\",\"temperature\":1,\"humidity\":2,\"battery\":3}",
		"{\"values\":{\"temperature\":1,\"humidity\":2,\"battery\":3}}",
		"{\"temp\\u0065rature\":1,\"humidity\":2,\"battery\":3}",
		"{\"temperature\":1,\"humidity\":2}",
		"{\"temperature\":1,\"humidity\":2,\"battery\":3,\"temperature\":4}",
		"{\"temperature\":01,\"humidity\":2,\"battery\":3}",
		"{\"temperature\":1.,\"humidity\":2,\"battery\":3}",
		"{\"temperature\":+1,\"humidity\":2,\"battery\":3}",
		"{\"temperature\":1e999,\"humidity\":2,\"battery\":3}",
		"{\"temperature\":1e39,\"humidity\":2,\"battery\":3}",
		"{\"temperature\":\"1\",\"humidity\":2,\"battery\":3}",
		"{\"temperature\":1,\"humidity\":2,\"battery\":3,\"ts\":0}",
		"{\"temperature\":1,\"humidity\":2,\"battery\":3,\"ts\":1e11}",
		"{\"temperature\":1,\"humidity\":2,\"battery\":3,\"a\":[1]}",
		"{\"temperature\":1,\"humidity\":2,\"battery\":3,}",
		"{\"temperature\":1,\"humidity\":2,\"battery\":3} x",
		"{\"temperature\":1,\"humidity\":2,\"battery\":3",
		"[1,2,3]",
		"{}",
		"",
	};
	for (size_t i = 0; i < sizeof declined / sizeof *declined; i++)
		CU_ASSERT_FALSE(fast(declined[i]));
	/* the full parser still reads the valid ones */
	float v[3];
	double ts;
	bool has_ts;
	CU_ASSERT_EQUAL(codec_parse_sample(declined[0], strlen(declined[0]), 4096, &fm, NOW, &ts,
					   &has_ts, v, NULL, 0), REJ_NONE);
	CU_ASSERT_TRUE(has_ts);
	CU_ASSERT_EQUAL(codec_parse_sample(declined[1], strlen(declined[1]), 4096, &fm, NOW, &ts,
					   &has_ts, v, NULL, 0), REJ_NONE);
	CU_ASSERT_EQUAL(codec_parse_sample(declined[4], strlen(declined[4]), 4096, &fm, NOW, &ts,
					   &has_ts, v, NULL, 0), REJ_DUPLICATE_KEY);
	CU_ASSERT_EQUAL(codec_parse_sample(declined[9], strlen(declined[9]), 4096, &fm, NOW, &ts,
					   &has_ts, v, NULL, 0), REJ_NOT_FINITE);
}

/* Mutated payloads (bytes replaced, cut, inserted): whatever the fast
 * reader accepts, cJSON reads the same (checked in agrees). */
static void test_mutations(void)
{
	static const char base[] = "{\"ts\":1732540000.123,\"temperature\":21.53,"
				   "\"humidity\":-40.91e1,\"battery\":3.712,\"u\":\"x\"}";
	static const char alphabet[] = "{}[]\":,.-+eE0123456789 tnfu\\\tax";
	uint32_t seed = 12345;
	int accepted = 0;
	for (int round = 0; round < 20000; round++) {
		char buf[sizeof base + 8];
		size_t n = sizeof base - 1;
		memcpy(buf, base, n);
		int edits = 1 + round % 3;
		for (int e = 0; e < edits; e++) {
			seed = seed * 1664525u + 1013904223u;
			size_t at = (seed >> 8) % n;
			char c = alphabet[(seed >> 20) % (sizeof alphabet - 1)];
			switch ((seed >> 28) % 3) {
			case 0:
				buf[at] = c;
				break;
			case 1:
				n = at;
				break;
			default:
				if (n + 1 < sizeof buf) {
					memmove(buf + at + 1, buf + at, n - at);
					buf[at] = c;
					n++;
				}
			}
			if (n == 0)
				break;
		}
		accepted += agrees(buf, n);
	}
	/* some mutations keep it valid (a digit for a digit) */
	CU_ASSERT(accepted > 100);
}

/* Numbers of every length the in-place reader computes itself (up to 2^53
 * and 22 decimals) or hands to strtod (longer, with exponent): as the ts
 * of a payload, each must come out as the very double strtod gives (ts
 * outside (0, 1e11) is declined: those are skipped). */
static void test_numbers_exact(void)
{
	uint32_t seed = 777;
	int mismatches = 0, checked = 0;
	for (int round = 0; round < 50000; round++) {
		char num[64];
		size_t k = 0;
		seed = seed * 1664525u + 1013904223u;
		if (seed >> 29 == 0)
			num[k++] = '-';
		int int_digits = 1 + (int)((seed >> 8) % 12);
		int frac_digits = (int)((seed >> 16) % 24);
		for (int i = 0; i < int_digits; i++) {
			seed = seed * 1664525u + 1013904223u;
			num[k++] = (char)('0' + (i == 0 && int_digits > 1 ? 1 + (seed >> 24) % 9
									  : (seed >> 24) % 10));
		}
		if (int_digits == 1 && round % 3 == 0)
			num[k - 1] = '0';
		if (frac_digits) {
			num[k++] = '.';
			for (int i = 0; i < frac_digits; i++) {
				seed = seed * 1664525u + 1013904223u;
				num[k++] = (char)('0' + (seed >> 24) % 10);
			}
		}
		if (round % 17 == 0)
			k += (size_t)snprintf(num + k, sizeof num - k, "e%d", (int)(seed % 40) - 20);
		num[k] = '\0';
		char payload[160];
		snprintf(payload, sizeof payload,
			 "{\"ts\":%s,\"temperature\":1,\"humidity\":2,\"battery\":3}", num);
		float v[MODEL_MAX_FEATURES];
		double ts = 0;
		bool has_ts = false;
		double want = strtod(num, NULL);
		bool ok = codec_fast_sample(payload, strlen(payload), &fm, &ts, &has_ts, v);
		if (!(want > 0 && want < 1e11)) {
			CU_ASSERT_FALSE(ok);
			continue;
		}
		CU_ASSERT_TRUE_FATAL(ok);
		checked++;
		if (memcmp(&ts, &want, sizeof ts))
			mismatches++;
	}
	CU_ASSERT_EQUAL(mismatches, 0);
	CU_ASSERT(checked > 30000);
}

void init_codecfast_tests(void)
{
	make();
	CU_pSuite s = CU_add_suite("codecfast", NULL, NULL);
	TEST_ADD(s, test_accepts);
	TEST_ADD(s, test_declines);
	TEST_ADD(s, test_mutations);
	TEST_ADD(s, test_numbers_exact);
}

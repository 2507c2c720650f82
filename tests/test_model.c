/* test_model.c - unit tests of model: file round trip, validation of every
 * field, normalization clamping and calibration rank. */
#include <dirent.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "iotad/model_io.h"
#include "test.h"

/* ---- a small valid model as JSON: F=2, W=2, D=4, 4 -> 2 (relu) -> 4 (sigmoid) ---- */

#define NORM_OK "{\"kind\":\"minmax\",\"a\":[0,10],\"b\":[1,20]}"
#define L0_OK "{\"in\":4,\"out\":2,\"activation\":\"relu\"," \
	"\"weights\":[0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8],\"bias\":[0.01,0.02]}"
#define L1_OK "{\"in\":2,\"out\":4,\"activation\":\"sigmoid\"," \
	"\"weights\":[1,2,3,4,5,6,7,8],\"bias\":[-1,-2,-3,-4]}"
#define LAYERS_OK "[" L0_OK "," L1_OK "]"

static const char *const base_keys[] = {
	"format", "format_version", "id", "version", "features", "window", "stride",
	"normalization", "layers", "threshold", "calibration", "stuck_after", "ensemble",
};
static const char *const base_vals[] = {
	"\"iotad-model\"", "1", "\"t-ae\"", "3", "[\"x\",\"y\"]", "2", "1",
	NORM_OK, LAYERS_OK, "{\"value\":0.5,\"percentile\":99}",
	"{\"scores\":[0.3,0.1,0.2,0.25]}", "[0,7]", "[{\"layers\":" LAYERS_OK "}]",
};

/* The base document with key's value replaced by val (NULL: key left out). */
static char *build(const char *key, const char *val)
{
	size_t cap = 8192;
	char *buf = malloc(cap);
	CU_ASSERT_FATAL(buf != NULL);
	size_t n = 0;
	buf[n++] = '{';
	int first = 1;
	for (size_t i = 0; i < sizeof base_keys / sizeof base_keys[0]; i++) {
		const char *v = base_vals[i];
		if (key && !strcmp(key, base_keys[i])) {
			if (!val)
				continue;
			v = val;
		}
		n += (size_t)snprintf(buf + n, cap - n, "%s\"%s\":%s", first ? "" : ",",
				      base_keys[i], v);
		first = 0;
	}
	snprintf(buf + n, cap - n, "}");
	return buf;
}

static void test_load_valid(void)
{
	char *json = build(NULL, NULL);
	model m;
	char err[256] = "";
	iotad_err rc = model_load_buffer(json, strlen(json), &m, err, sizeof err);
	CU_ASSERT_EQUAL_FATAL(rc, IOTAD_OK);
	CU_ASSERT_STRING_EQUAL(m.id, "t-ae");
	CU_ASSERT_EQUAL(m.version, 3);
	CU_ASSERT_EQUAL(m.n_features, 2);
	CU_ASSERT_STRING_EQUAL(m.features[1], "y");
	CU_ASSERT_EQUAL(m.window, 2);
	CU_ASSERT_EQUAL(m.norm, NORM_MINMAX);
	CU_ASSERT_EQUAL(m.norm_b[1], 20.0f);
	CU_ASSERT_EQUAL(m.net.n_layers, 2);
	CU_ASSERT_EQUAL(m.net.sizes[0], 4);
	CU_ASSERT_EQUAL(m.net.sizes[1], 2);
	CU_ASSERT_EQUAL(m.net.act[1], NN_SIGMOID);
	const float *w1 = m.net.params + nn_layer_offset(&m.net, 1);
	CU_ASSERT_EQUAL(w1[7], 8.0f);
	CU_ASSERT_EQUAL(w1[8 + 3], -4.0f);
	CU_ASSERT_EQUAL(m.net.params[8 + 1], 0.02f);
	CU_ASSERT_EQUAL(m.threshold, 0.5f);
	CU_ASSERT_EQUAL(m.percentile, 99.0f);
	/* Calibration scores come back sorted. */
	CU_ASSERT_EQUAL_FATAL(m.n_calib, 4);
	CU_ASSERT_EQUAL(m.calib[0], 0.1f);
	CU_ASSERT_EQUAL(m.calib[1], 0.2f);
	CU_ASSERT_EQUAL(m.calib[2], 0.25f);
	CU_ASSERT_EQUAL(m.calib[3], 0.3f);
	CU_ASSERT_EQUAL(m.stuck_after[0], 0);
	CU_ASSERT_EQUAL(m.stuck_after[1], 7);
	/* one further member, here the same network: the same score */
	CU_ASSERT_EQUAL_FATAL(m.n_more, 1);
	CU_ASSERT(memcmp(m.more[0].params, m.net.params, m.net.n_params * sizeof(float)) == 0);
	{
		const float x[4] = {0.1f, 0.9f, 0.4f, 0.6f};
		float scratch[16], e1[4], e2[4], tmp[4];
		CU_ASSERT_FATAL(nn_scratch_floats(&m.net) <= 16);
		float s1 = nn_forward(&m.net, x, scratch, e1);
		float s2 = model_score(&m, x, scratch, e2, tmp);
		CU_ASSERT_DOUBLE_EQUAL(s1, s2, 1e-7);
		for (int i = 0; i < 4; i++)
			CU_ASSERT_DOUBLE_EQUAL(e1[i], e2[i], 1e-7);
	}
	model_free(&m);
	model_free(&m); /* idempotent */

	/* without ensemble one network */
	char *je = build("ensemble", NULL);
	CU_ASSERT_EQUAL(model_load_buffer(je, strlen(je), &m, err, sizeof err), IOTAD_OK);
	CU_ASSERT_EQUAL(m.n_more, 0);
	model_free(&m);
	free(je);

	/* without stuck_after no feature is checked */
	char *j0 = build("stuck_after", NULL);
	CU_ASSERT_EQUAL(model_load_buffer(j0, strlen(j0), &m, err, sizeof err), IOTAD_OK);
	CU_ASSERT_EQUAL(m.stuck_after[0] | m.stuck_after[1], 0);
	model_free(&m);
	free(j0);

	/* Optional members: version, stride and calibration. */
	char *j2 = build("calibration", NULL);
	rc = model_load_buffer(j2, strlen(j2), &m, err, sizeof err);
	CU_ASSERT_EQUAL(rc, IOTAD_OK);
	CU_ASSERT_EQUAL(m.n_calib, 0);
	CU_ASSERT_EQUAL(model_calib_rank(&m, 1.0f), 0.5f);
	model_free(&m);
	free(j2);
	j2 = build("stride", NULL);
	rc = model_load_buffer(j2, strlen(j2), &m, err, sizeof err);
	CU_ASSERT_EQUAL(rc, IOTAD_OK);
	CU_ASSERT_EQUAL(m.stride, 1);
	model_free(&m);
	free(j2);
	free(json);
}

struct bad_case {
	const char *key;
	const char *val;   /* NULL: member left out */
	iotad_err rc;
	const char *want;  /* substring of the message */
};

static const struct bad_case bad_cases[] = {
	{"format", NULL, IOTAD_ERR_MODEL, "format"},
	{"format", "\"onnx\"", IOTAD_ERR_MODEL, "format"},
	{"format", "1", IOTAD_ERR_MODEL, "format"},
	{"format_version", NULL, IOTAD_ERR_MODEL, "format_version"},
	{"format_version", "2", IOTAD_ERR_MODEL, "format_version"},
	{"format_version", "\"1\"", IOTAD_ERR_MODEL, "format_version"},
	{"format_version", "1.5", IOTAD_ERR_MODEL, "format_version"},
	{"id", NULL, IOTAD_ERR_MODEL, "id"},
	{"id", "\"\"", IOTAD_ERR_MODEL, "id"},
	{"id", "7", IOTAD_ERR_MODEL, "id"},
	{"id", "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"",
	 IOTAD_ERR_MODEL, "id"},
	{"version", "-1", IOTAD_ERR_MODEL, "version"},
	{"version", "\"3\"", IOTAD_ERR_MODEL, "version"},
	{"features", NULL, IOTAD_ERR_MODEL, "features"},
	{"features", "[]", IOTAD_ERR_MODEL, "features"},
	{"features", "\"x\"", IOTAD_ERR_MODEL, "features"},
	{"features", "[\"x\",3]", IOTAD_ERR_MODEL, "features[1]"},
	{"features", "[\"x\",\"\"]", IOTAD_ERR_MODEL, "features[1]"},
	{"features", "[\"x\",\"x\"]", IOTAD_ERR_MODEL, "features[1]: duplicate"},
	{"features", "[\"x\"]", IOTAD_ERR_MODEL, "normalization.a: expected 1 numbers, got 2"},
	{"window", NULL, IOTAD_ERR_MODEL, "window"},
	{"window", "0", IOTAD_ERR_MODEL, "window"},
	{"window", "1025", IOTAD_ERR_MODEL, "window"},
	{"window", "\"2\"", IOTAD_ERR_MODEL, "window"},
	{"window", "2.5", IOTAD_ERR_MODEL, "window"},
	{"stride", "3", IOTAD_ERR_MODEL, "stride"},
	{"stride", "0", IOTAD_ERR_MODEL, "stride"},
	{"normalization", NULL, IOTAD_ERR_MODEL, "normalization"},
	{"normalization", "[]", IOTAD_ERR_MODEL, "normalization"},
	{"normalization", "{\"a\":[0,0],\"b\":[1,1]}", IOTAD_ERR_MODEL, "normalization.kind"},
	{"normalization", "{\"kind\":\"robust\",\"a\":[0,0],\"b\":[1,1]}", IOTAD_ERR_MODEL,
	 "normalization.kind"},
	{"normalization", "{\"kind\":\"minmax\",\"a\":[0],\"b\":[1,1]}", IOTAD_ERR_MODEL,
	 "normalization.a: expected 2 numbers, got 1"},
	{"normalization", "{\"kind\":\"minmax\",\"a\":[0,0]}", IOTAD_ERR_MODEL,
	 "normalization.b"},
	{"normalization", "{\"kind\":\"minmax\",\"a\":[0,0],\"b\":[1,\"NaN\"]}", IOTAD_ERR_MODEL,
	 "normalization.b[1]"},
	{"normalization", "{\"kind\":\"minmax\",\"a\":[0,5],\"b\":[1,4]}", IOTAD_ERR_MODEL,
	 "normalization.b[1]"},
	{"normalization", "{\"kind\":\"zscore\",\"a\":[0,5],\"b\":[1,0]}", IOTAD_ERR_MODEL,
	 "normalization.b[1]"},
	{"layers", NULL, IOTAD_ERR_MODEL, "layers"},
	{"layers", "[]", IOTAD_ERR_MODEL, "layers"},
	{"layers", "{}", IOTAD_ERR_MODEL, "layers"},
	{"layers", "[" L0_OK "]", IOTAD_ERR_MODEL, "layers[0].out"},
	{"layers", "[" L0_OK "," L1_OK "," L1_OK "]", IOTAD_ERR_MODEL, "layers[2].in"},
	{"layers", "[" L0_OK ",7]", IOTAD_ERR_MODEL, "layers[1]"},
	{"layers", "[{\"in\":5,\"out\":2,\"activation\":\"relu\",\"weights\":[],\"bias\":[]},"
	 L1_OK "]", IOTAD_ERR_MODEL, "layers[0].in"},
	{"layers", "[" L0_OK ",{\"in\":3,\"out\":4,\"activation\":\"sigmoid\","
	 "\"weights\":[1,2,3,4,5,6,7,8,9,10,11,12],\"bias\":[0,0,0,0]}]", IOTAD_ERR_MODEL,
	 "layers[1].in"},
	{"layers", "[{\"out\":2,\"activation\":\"relu\",\"weights\":[],\"bias\":[]}," L1_OK "]",
	 IOTAD_ERR_MODEL, "layers[0].in"},
	{"layers", "[{\"in\":4,\"out\":2,\"activation\":\"tanh\",\"weights\":[0,0,0,0,0,0,0,0],"
	 "\"bias\":[0,0]}," L1_OK "]", IOTAD_ERR_MODEL, "layers[0].activation"},
	{"layers", "[{\"in\":4,\"out\":2,\"weights\":[0,0,0,0,0,0,0,0],"
	 "\"bias\":[0,0]}," L1_OK "]", IOTAD_ERR_MODEL, "layers[0].activation"},
	{"layers", "[{\"in\":4,\"out\":2,\"activation\":\"relu\",\"weights\":[0,0,0,0,0,0,0],"
	 "\"bias\":[0,0]}," L1_OK "]", IOTAD_ERR_MODEL, "layers[0].weights: expected 8 numbers, got 7"},
	{"layers", "[{\"in\":4,\"out\":2,\"activation\":\"relu\",\"weights\":\"zeros\","
	 "\"bias\":[0,0]}," L1_OK "]", IOTAD_ERR_MODEL, "layers[0].weights"},
	{"layers", "[{\"in\":4,\"out\":2,\"activation\":\"relu\",\"weights\":[0,0,0,0,0,0,0,0]},"
	 L1_OK "]", IOTAD_ERR_MODEL, "layers[0].bias"},
	{"layers", "[" L0_OK ",{\"in\":2,\"out\":4,\"activation\":\"sigmoid\","
	 "\"weights\":[1,2,3,4,5,6,7,8],\"bias\":[\"NaN\",0,0,0]}]", IOTAD_ERR_MODEL,
	 "layers[1].bias[0]"},
	{"layers", "[" L0_OK ",{\"in\":2,\"out\":4,\"activation\":\"sigmoid\","
	 "\"weights\":[1,2,3,4,5,6,7,1e39],\"bias\":[0,0,0,0]}]", IOTAD_ERR_MODEL,
	 "layers[1].weights[7]"},
	{"layers", "[" L0_OK ",{\"in\":2,\"out\":4,\"activation\":\"sigmoid\","
	 "\"weights\":[1,2,3,4,5,6,7,1e999],\"bias\":[0,0,0,0]}]", IOTAD_ERR_MODEL,
	 "layers[1].weights[7]"},
	{"layers", "[" L0_OK ",{\"in\":2,\"out\":4,\"activation\":\"sigmoid\","
	 "\"weights\":[1,2,3,4,5,6,7,null],\"bias\":[0,0,0,0]}]", IOTAD_ERR_MODEL,
	 "layers[1].weights[7]"},
	{"layers", "[" L0_OK "," L1_OK "," L1_OK "," L1_OK "," L1_OK "," L1_OK "," L1_OK ","
	 L1_OK "," L1_OK "]", IOTAD_ERR_MODEL, "layers"},
	{"threshold", NULL, IOTAD_ERR_MODEL, "threshold"},
	{"threshold", "0.5", IOTAD_ERR_MODEL, "threshold"},
	{"threshold", "{\"percentile\":99}", IOTAD_ERR_MODEL, "threshold.value"},
	{"threshold", "{\"value\":0,\"percentile\":99}", IOTAD_ERR_MODEL, "threshold.value"},
	{"threshold", "{\"value\":-1,\"percentile\":99}", IOTAD_ERR_MODEL, "threshold.value"},
	{"threshold", "{\"value\":\"0.5\",\"percentile\":99}", IOTAD_ERR_MODEL,
	 "threshold.value"},
	{"threshold", "{\"value\":0.5}", IOTAD_ERR_MODEL, "threshold.percentile"},
	{"threshold", "{\"value\":0.5,\"percentile\":0}", IOTAD_ERR_MODEL,
	 "threshold.percentile"},
	{"threshold", "{\"value\":0.5,\"percentile\":100.5}", IOTAD_ERR_MODEL,
	 "threshold.percentile"},
	{"calibration", "[0.1]", IOTAD_ERR_MODEL, "calibration"},
	{"calibration", "{}", IOTAD_ERR_MODEL, "calibration.scores"},
	{"calibration", "{\"scores\":0.1}", IOTAD_ERR_MODEL, "calibration.scores"},
	{"calibration", "{\"scores\":[0.1,-0.5]}", IOTAD_ERR_MODEL, "calibration.scores[1]"},
	{"calibration", "{\"scores\":[0.1,\"NaN\"]}", IOTAD_ERR_MODEL, "calibration.scores[1]"},
	{"ensemble", "[]", IOTAD_ERR_MODEL, "ensemble: expected an array of 1..7 members"},
	{"ensemble", "[{}]", IOTAD_ERR_MODEL, "ensemble[0].layers: missing"},
	{"ensemble", "[{\"layers\":[" L1_OK "]}]", IOTAD_ERR_MODEL, "ensemble[0].layers[0].in"},
	{"ensemble", "[{\"layers\":[{\"in\":4,\"out\":4,\"activation\":\"sigmoid\","
	 "\"weights\":[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16],\"bias\":[1,2,3,4]}]}]",
	 IOTAD_ERR_MODEL, "ensemble[0].layers: not the shape of \"layers\""},
	{"ensemble", "[{\"layers\":[" L0_OK "," L1_OK "]},7]", IOTAD_ERR_MODEL,
	 "ensemble[1].layers: missing"},
	{"stuck_after", "true", IOTAD_ERR_MODEL, "stuck_after: expected an array of 2 integers"},
	{"stuck_after", "[3]", IOTAD_ERR_MODEL, "stuck_after: expected an array of 2 integers"},
	{"stuck_after", "[3,1]", IOTAD_ERR_MODEL, "stuck_after[1]: expected 0 or an integer in 2..255"},
	{"stuck_after", "[256,3]", IOTAD_ERR_MODEL, "stuck_after[0]"},
	{"stuck_after", "[3,2.5]", IOTAD_ERR_MODEL, "stuck_after[1]"},
	{"stuck_after", "[3,true]", IOTAD_ERR_MODEL, "stuck_after[1]"},
};

static void test_load_bad_fields(void)
{
	for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
		const struct bad_case *c = &bad_cases[i];
		char *json = build(c->key, c->val);
		model m;
		char err[512] = "";
		iotad_err rc = model_load_buffer(json, strlen(json), &m, err, sizeof err);
		int ok = rc == c->rc && strstr(err, c->want) != NULL;
		if (!ok)
			fprintf(stderr, "\n  case %zu (%s=%s): rc %d, err \"%s\", want \"%s\"\n", i,
				c->key, c->val ? c->val : "(missing)", (int)rc, err, c->want);
		CU_ASSERT(ok);
		/* A failed load leaves nothing allocated. */
		CU_ASSERT_PTR_NULL(m.net.params);
		CU_ASSERT_PTR_NULL(m.calib);
		model_free(&m);
		free(json);
	}
}

static void test_load_bad_syntax(void)
{
	char *json = build(NULL, NULL);
	size_t len = strlen(json);
	model m;
	char err[256];
	/* Every proper prefix of an object is malformed; try several cut points. */
	size_t cuts[] = {1, 2, 10, len / 4, len / 3, len / 2, (len * 2) / 3, len - 2, len - 1};
	for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
		err[0] = '\0';
		iotad_err rc = model_load_buffer(json, cuts[i], &m, err, sizeof err);
		CU_ASSERT_EQUAL(rc, IOTAD_ERR_PARSE);
		CU_ASSERT_PTR_NOT_NULL(strstr(err, "parse error"));
		CU_ASSERT_PTR_NULL(m.net.params);
		/* The position points at the end of the truncated text. */
		const char *pos = strstr(err, "line 1 col");
		CU_ASSERT_PTR_NOT_NULL_FATAL(pos);
		int col = 0;
		size_t byte = 0, total = 0;
		CU_ASSERT_EQUAL(sscanf(pos, "line 1 col %d (byte %zu of %zu)", &col, &byte, &total), 3);
		CU_ASSERT_EQUAL(total, cuts[i]);
		/* cJSON points at the start of the token that was cut. */
		CU_ASSERT(byte + 16 >= cuts[i] && byte < cuts[i]);
		CU_ASSERT_EQUAL((size_t)col, byte + 1);
	}

	const struct {
		const char *text;
		iotad_err rc;
		const char *want;
	} cases[] = {
		{"", IOTAD_ERR_PARSE, "empty"},
		{"   \n", IOTAD_ERR_PARSE, "parse error"},
		{"[1,2,3]", IOTAD_ERR_MODEL, "not a JSON object"},
		{"42", IOTAD_ERR_MODEL, "not a JSON object"},
		{"\"iotad-model\"", IOTAD_ERR_MODEL, "not a JSON object"},
		{"{\"format\":\"iotad-model\",}", IOTAD_ERR_PARSE, "parse error"},
		{"{\"format\":\"iotad-model\"}\n{", IOTAD_ERR_PARSE, "line 2 col 1"},
		{"{\"a\":NaN}", IOTAD_ERR_PARSE, "parse error"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		err[0] = '\0';
		iotad_err rc = model_load_buffer(cases[i].text, strlen(cases[i].text), &m, err,
						 sizeof err);
		CU_ASSERT_EQUAL(rc, cases[i].rc);
		if (!strstr(err, cases[i].want))
			fprintf(stderr, "\n  \"%s\": err \"%s\", want \"%s\"\n", cases[i].text, err,
				cases[i].want);
		CU_ASSERT_PTR_NOT_NULL(strstr(err, cases[i].want));
	}
	/* A buffer that is not NUL-terminated: only len bytes are read. */
	char *copy = malloc(len + 8);
	CU_ASSERT_FATAL(copy != NULL);
	memcpy(copy, json, len);
	memcpy(copy + len, "garbage!", 8);
	CU_ASSERT_EQUAL(model_load_buffer(copy, len, &m, err, sizeof err), IOTAD_OK);
	model_free(&m);
	CU_ASSERT_EQUAL(model_load_buffer(copy, len + 8, &m, err, sizeof err), IOTAD_ERR_PARSE);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "trailing"));
	free(copy);
	free(json);
}

/* Seeded byte mutations of a valid file: each either loads or fails with
 * a message, never crashes (run under valgrind/ASan to see memory errors). */
static void test_load_mutations(void)
{
	char *json = build(NULL, NULL);
	size_t len = strlen(json);
	char *buf = malloc(len + 1);
	CU_ASSERT_FATAL(buf != NULL);
	static const char alphabet[] = "{}[],:\"0123456789.-+eE nul\\x";
	uint64_t st = 12345;
	int loaded = 0, failed_with_msg = 0;
	const int rounds = 3000;
	for (int r = 0; r < rounds; r++) {
		memcpy(buf, json, len + 1);
		int edits = 1 + r % 3;
		for (int e = 0; e < edits; e++) {
			st = st * 6364136223846793005ULL + 1442695040888963407ULL;
			size_t at = (size_t)(st >> 33) % len;
			buf[at] = alphabet[(st >> 20) % (sizeof alphabet - 1)];
		}
		model m;
		char err[256] = "";
		iotad_err rc = model_load_buffer(buf, len, &m, err, sizeof err);
		if (rc == IOTAD_OK) {
			loaded++;
			CU_ASSERT(m.net.params != NULL);
		} else {
			failed_with_msg += err[0] != '\0' && m.net.params == NULL;
		}
		model_free(&m);
	}
	CU_ASSERT_EQUAL(loaded + failed_with_msg, rounds);
	CU_ASSERT(failed_with_msg > rounds / 2);
	free(buf);
	free(json);
}

/* A temporary directory for files; removed by rm_dir. */
static char tmp_dir[64];

static void mk_dir(void)
{
	snprintf(tmp_dir, sizeof tmp_dir, "/tmp/iotad-model-XXXXXX");
	CU_ASSERT_FATAL(mkdtemp(tmp_dir) != NULL);
}

static int count_files(const char *dir)
{
	DIR *d = opendir(dir);
	int n = 0;
	struct dirent *e;
	while (d && (e = readdir(d)))
		n += e->d_name[0] != '.';
	if (d)
		closedir(d);
	return n;
}

static void rm_dir(void)
{
	DIR *d = opendir(tmp_dir);
	struct dirent *e;
	char p[384];
	while (d && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(p, sizeof p, "%s/%s", tmp_dir, e->d_name);
		unlink(p);
	}
	if (d)
		closedir(d);
	rmdir(tmp_dir);
}

/* Awkward floats: subnormal, tiny, huge, negative zero, non-representable decimals. */
static float awkward(size_t i)
{
	static const float v[] = {0.1f, -0.0f, 1e-40f, FLT_MIN, 3.4e38f, -1.17549435e-38f,
				  1.0f / 3.0f, 123456.789f, 2.7182817f, -9.99999975e-6f};
	if (i < sizeof v / sizeof v[0])
		return v[i];
	/* A deterministic spread over many exponents. */
	unsigned u = (unsigned)(i * 2654435761u);
	return ldexpf((float)(u & 0xffffff) / 16777216.0f, (int)(u >> 27) - 16) *
	       ((u >> 26) & 1 ? -1.0f : 1.0f);
}

static void test_save_load_roundtrip(void)
{
	model m;
	memset(&m, 0, sizeof m);
	snprintf(m.id, sizeof m.id, "round \"trip\"\\ \t");
	m.version = 7;
	m.n_features = 3;
	snprintf(m.features[0], MODEL_NAME_MAX, "temperature");
	snprintf(m.features[1], MODEL_NAME_MAX, "rel. humidity, %%");
	snprintf(m.features[2], MODEL_NAME_MAX, "bat\"tery");
	m.window = 4;
	m.stride = 2;
	m.norm = NORM_ZSCORE;
	for (int i = 0; i < 3; i++) {
		m.norm_a[i] = awkward((size_t)i) * 0.5f;
		m.norm_b[i] = 0.1f + (float)i / 7.0f;
	}
	int sizes[] = {12, 5, 3, 12};
	nn_act act[] = {NN_RELU, NN_LINEAR, NN_SIGMOID};
	CU_ASSERT_EQUAL_FATAL(nn_init(&m.net, 3, sizes, act), IOTAD_OK);
	for (size_t i = 0; i < m.net.n_params; i++)
		m.net.params[i] = awkward(i);
	m.threshold = 0.0123f;
	m.percentile = 99.5f;
	m.n_calib = 50;
	m.calib = malloc(50 * sizeof *m.calib);
	CU_ASSERT_FATAL(m.calib != NULL);
	m.stuck_after[1] = 2;
	m.stuck_after[2] = 255;
	/* an ensemble of three */
	m.n_more = 2;
	for (int k = 0; k < 2; k++) {
		CU_ASSERT_EQUAL_FATAL(nn_init(&m.more[k], 3, sizes, act), IOTAD_OK);
		for (size_t i = 0; i < m.more[k].n_params; i++)
			m.more[k].params[i] = awkward(i + 1000 * (size_t)(k + 1));
	}
	for (int i = 0; i < 50; i++)
		m.calib[i] = (float)i / 49.0f * 0.02f; /* sorted */

	mk_dir();
	char path[128];
	snprintf(path, sizeof path, "%s/model.json", tmp_dir);
	CU_ASSERT_EQUAL_FATAL(model_save(&m, path), IOTAD_OK);
	CU_ASSERT_EQUAL(count_files(tmp_dir), 1); /* no temporary file left */

	model r;
	char err[256] = "";
	iotad_err rc = model_load(path, &r, err, sizeof err);
	if (rc)
		fprintf(stderr, "\n  load: %s\n", err);
	CU_ASSERT_EQUAL_FATAL(rc, IOTAD_OK);
	CU_ASSERT_STRING_EQUAL(r.id, m.id);
	CU_ASSERT_EQUAL(r.version, 7);
	CU_ASSERT_EQUAL(r.n_features, 3);
	for (int i = 0; i < 3; i++)
		CU_ASSERT_STRING_EQUAL(r.features[i], m.features[i]);
	CU_ASSERT_EQUAL(r.window, 4);
	CU_ASSERT_EQUAL(r.stride, 2);
	CU_ASSERT_EQUAL(r.norm, NORM_ZSCORE);
	CU_ASSERT(memcmp(r.norm_a, m.norm_a, sizeof m.norm_a) == 0);
	CU_ASSERT(memcmp(r.norm_b, m.norm_b, sizeof m.norm_b) == 0);
	CU_ASSERT_EQUAL(r.net.n_layers, 3);
	CU_ASSERT(memcmp(r.net.sizes, m.net.sizes, sizeof m.net.sizes) == 0);
	CU_ASSERT(memcmp(r.net.act, m.net.act, sizeof m.net.act) == 0);
	CU_ASSERT_EQUAL_FATAL(r.net.n_params, m.net.n_params);
	/* Bit-exact, including -0.0 and subnormals. */
	CU_ASSERT(memcmp(r.net.params, m.net.params, m.net.n_params * sizeof(float)) == 0);
	CU_ASSERT(memcmp(&r.threshold, &m.threshold, sizeof(float)) == 0);
	CU_ASSERT(memcmp(&r.percentile, &m.percentile, sizeof(float)) == 0);
	CU_ASSERT_EQUAL_FATAL(r.n_calib, 50);
	CU_ASSERT(memcmp(r.calib, m.calib, 50 * sizeof(float)) == 0);
	CU_ASSERT(memcmp(r.stuck_after, m.stuck_after, sizeof m.stuck_after) == 0);
	CU_ASSERT_EQUAL_FATAL(r.n_more, 2);
	for (int k = 0; k < 2; k++)
		CU_ASSERT(memcmp(r.more[k].params, m.more[k].params,
				 m.more[k].n_params * sizeof(float)) == 0);

	/* Saving again replaces the file atomically. */
	r.version = 8;
	CU_ASSERT_EQUAL(model_save(&r, path), IOTAD_OK);
	CU_ASSERT_EQUAL(count_files(tmp_dir), 1);
	model r2;
	CU_ASSERT_EQUAL_FATAL(model_load(path, &r2, err, sizeof err), IOTAD_OK);
	CU_ASSERT_EQUAL(r2.version, 8);
	model_free(&r2);

	/* Errors from a file name the file. */
	FILE *f = fopen(path, "w");
	CU_ASSERT_FATAL(f != NULL);
	fputs("{\"format\":\"iotad-model\"}", f);
	fclose(f);
	CU_ASSERT_EQUAL(model_load(path, &r2, err, sizeof err), IOTAD_ERR_MODEL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, path));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "format_version"));
	f = fopen(path, "w");
	CU_ASSERT_FATAL(f != NULL);
	fclose(f);
	CU_ASSERT_EQUAL(model_load(path, &r2, err, sizeof err), IOTAD_ERR_PARSE);
	snprintf(path, sizeof path, "%s/absent.json", tmp_dir);
	CU_ASSERT_EQUAL(model_load(path, &r2, err, sizeof err), IOTAD_ERR_NOTFOUND);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "absent.json"));
	/* A directory that does not exist cannot be written. */
	CU_ASSERT_EQUAL(model_save(&m, "/nonexistent-dir/iotad/model.json"), IOTAD_ERR_IO);

	rm_dir();
	model_free(&r);
	model_free(&m);
}

static void test_fixture_file(void)
{
	char path[512];
	snprintf(path, sizeof path, "%s/model_small.json", test_fixture_dir);
	model m;
	char err[256] = "";
	iotad_err rc = model_load(path, &m, err, sizeof err);
	if (rc)
		fprintf(stderr, "\n  %s\n", err);
	CU_ASSERT_EQUAL_FATAL(rc, IOTAD_OK);
	CU_ASSERT_STRING_EQUAL(m.id, "temperature-ae");
	CU_ASSERT_EQUAL(m.n_features, 3);
	CU_ASSERT_STRING_EQUAL(m.features[2], "battery");
	CU_ASSERT_EQUAL(m.window, 2);
	CU_ASSERT_EQUAL(m.net.sizes[0], 6);
	CU_ASSERT_EQUAL(m.net.sizes[1], 3);
	CU_ASSERT_EQUAL(m.net.sizes[2], 6);
	CU_ASSERT_EQUAL(m.n_calib, 5);
	for (int i = 1; i < m.n_calib; i++)
		CU_ASSERT(m.calib[i - 1] <= m.calib[i]);
	/* Normalize one sample of the fixture by hand: (x - min) / (max - min). */
	float raw[3] = {25.0f, 40.0f, 3.3f}, out[3];
	model_normalize(&m, raw, out);
	CU_ASSERT_DOUBLE_EQUAL(out[0], (25.0 - 10.0) / 30.0, 1e-6);
	CU_ASSERT_DOUBLE_EQUAL(out[1], (40.0 - 20.0) / 60.0, 1e-6);
	CU_ASSERT_DOUBLE_EQUAL(out[2], (3.3 - 3.0) / 1.2, 1e-6);
	model_free(&m);
}

static void check_clamped(const float *out, int n)
{
	for (int i = 0; i < n; i++) {
		CU_ASSERT(isfinite(out[i]));
		CU_ASSERT(out[i] >= NORM_CLAMP_LO && out[i] <= NORM_CLAMP_HI);
	}
}

static void test_normalize(void)
{
	model m;
	memset(&m, 0, sizeof m);
	m.n_features = 4;
	m.norm = NORM_MINMAX;
	m.norm_a[0] = 0.0f;
	m.norm_b[0] = 10.0f;
	m.norm_a[1] = -5.0f;
	m.norm_b[1] = 5.0f;
	m.norm_a[2] = 3.0f; /* constant feature: range guard */
	m.norm_b[2] = 3.0f;
	m.norm_a[3] = -FLT_MAX;
	m.norm_b[3] = FLT_MAX;
	float out[4];

	float in1[4] = {5.0f, 0.0f, 3.25f, 0.0f};
	model_normalize(&m, in1, out);
	CU_ASSERT_DOUBLE_EQUAL(out[0], 0.5, 1e-7);
	CU_ASSERT_DOUBLE_EQUAL(out[1], 0.5, 1e-7);
	CU_ASSERT_DOUBLE_EQUAL(out[2], 0.25, 1e-7);
	CU_ASSERT_DOUBLE_EQUAL(out[3], 0.5, 1e-7);
	check_clamped(out, 4);

	float in2[4] = {NAN, INFINITY, -INFINITY, -NAN};
	model_normalize(&m, in2, out);
	for (int i = 0; i < 4; i++)
		CU_ASSERT_EQUAL(out[i], NORM_CLAMP_HI);

	float in3[4] = {1e30f, -1e30f, FLT_MAX, -FLT_MAX};
	model_normalize(&m, in3, out);
	CU_ASSERT_EQUAL(out[0], NORM_CLAMP_HI);
	CU_ASSERT_EQUAL(out[1], NORM_CLAMP_LO);
	CU_ASSERT_EQUAL(out[2], NORM_CLAMP_HI);
	CU_ASSERT_DOUBLE_EQUAL(out[3], 0.0, 1e-7);
	check_clamped(out, 4);

	float in4[4] = {10.0f * 4.5f, -5.0f - 10.0f * 3.0f, 3.0f - 1e-30f, FLT_MIN};
	model_normalize(&m, in4, out);
	CU_ASSERT_DOUBLE_EQUAL(out[0], 4.5, 1e-6);
	CU_ASSERT_DOUBLE_EQUAL(out[1], -3.0, 1e-6);
	CU_ASSERT_DOUBLE_EQUAL(out[2], 0.0, 1e-7);
	check_clamped(out, 4);

	m.norm = NORM_ZSCORE;
	m.norm_a[0] = 1.0f;
	m.norm_b[0] = 2.0f;
	m.norm_a[1] = 0.0f;
	m.norm_b[1] = 1e-30f; /* tiny std: everything off the mean clamps */
	m.norm_a[2] = 0.0f;
	m.norm_b[2] = 1.0f;
	m.norm_a[3] = 0.0f;
	m.norm_b[3] = FLT_MAX;
	float in5[4] = {5.0f, 1.0f, -100.0f, FLT_MAX};
	model_normalize(&m, in5, out);
	CU_ASSERT_DOUBLE_EQUAL(out[0], 2.0, 1e-7);
	CU_ASSERT_EQUAL(out[1], NORM_CLAMP_HI);
	CU_ASSERT_EQUAL(out[2], NORM_CLAMP_LO);
	CU_ASSERT_DOUBLE_EQUAL(out[3], 1.0, 1e-7);
	check_clamped(out, 4);
	float in6[4] = {NAN, -1.0f, INFINITY, -FLT_MAX};
	model_normalize(&m, in6, out);
	CU_ASSERT_EQUAL(out[0], NORM_CLAMP_HI);
	CU_ASSERT_EQUAL(out[1], NORM_CLAMP_LO);
	CU_ASSERT_EQUAL(out[2], NORM_CLAMP_HI);
	check_clamped(out, 4);
}

static void test_calib_rank(void)
{
	model m;
	memset(&m, 0, sizeof m);
	CU_ASSERT_EQUAL(model_calib_rank(&m, 3.0f), 0.5f);
	float s[5] = {0.1f, 0.2f, 0.2f, 0.4f, 0.8f};
	m.calib = s;
	m.n_calib = 5;
	CU_ASSERT_EQUAL(model_calib_rank(&m, 0.0f), 0.0f);
	CU_ASSERT_EQUAL(model_calib_rank(&m, 0.1f), 0.2f);
	CU_ASSERT_EQUAL(model_calib_rank(&m, 0.15f), 0.2f);
	CU_ASSERT_EQUAL(model_calib_rank(&m, 0.2f), 0.6f);
	CU_ASSERT_EQUAL(model_calib_rank(&m, 0.5f), 0.8f);
	CU_ASSERT_EQUAL(model_calib_rank(&m, 0.8f), 1.0f);
	CU_ASSERT_EQUAL(model_calib_rank(&m, INFINITY), 1.0f);
	CU_ASSERT_EQUAL(model_calib_rank(&m, NAN), 1.0f);

	/* Against a linear count on a larger set. */
	enum { N = 1001 };
	float *big = malloc(N * sizeof *big);
	CU_ASSERT_FATAL(big != NULL);
	for (int i = 0; i < N; i++)
		big[i] = (float)(i / 3) * 0.5f;
	m.calib = big;
	m.n_calib = N;
	for (int q = -3; q < 400; q += 7) {
		float x = (float)q * 0.4f;
		int cnt = 0;
		for (int i = 0; i < N; i++)
			cnt += big[i] <= x;
		CU_ASSERT_EQUAL(model_calib_rank(&m, x), (float)((double)cnt / N));
	}
	free(big);
}

static void test_norm_names(void)
{
	norm_kind k;
	CU_ASSERT_EQUAL(model_norm_parse("zscore", &k), 0);
	CU_ASSERT_EQUAL(k, NORM_ZSCORE);
	CU_ASSERT_EQUAL(model_norm_parse("minmax", &k), 0);
	CU_ASSERT_EQUAL(k, NORM_MINMAX);
	CU_ASSERT_EQUAL(model_norm_parse("MinMax", &k), -1);
	CU_ASSERT_EQUAL(model_norm_parse(NULL, &k), -1);
	CU_ASSERT_STRING_EQUAL(model_norm_name(NORM_ZSCORE), "zscore");
	CU_ASSERT_STRING_EQUAL(model_norm_name(NORM_MINMAX), "minmax");
}

void init_model_tests(void)
{
	CU_pSuite s = CU_add_suite("model", NULL, NULL);
	TEST_ADD(s, test_load_valid);
	TEST_ADD(s, test_load_bad_fields);
	TEST_ADD(s, test_load_bad_syntax);
	TEST_ADD(s, test_load_mutations);
	TEST_ADD(s, test_save_load_roundtrip);
	TEST_ADD(s, test_fixture_file);
	TEST_ADD(s, test_normalize);
	TEST_ADD(s, test_calib_rank);
	TEST_ADD(s, test_norm_names);
}

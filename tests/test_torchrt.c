/* test_torchrt.c - a model trained and exported by PyTorch
 * (examples/torch_export.py, fixtures torch_model.json + torch_scores.json)
 * loads with iotad's loader and scores windows as PyTorch did. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "iotad/model_io.h"
#include "iotad/nn.h"
#include "test.h"

#define TORCHRT_REL_TOL 1e-5

static char *read_fixture(const char *name)
{
	char path[1024];
	snprintf(path, sizeof path, "%s/%s", test_fixture_dir, name);
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	rewind(f);
	char *buf = malloc((size_t)n + 1);
	if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	if (buf)
		buf[n] = '\0';
	fclose(f);
	return buf;
}

static void test_loads_as_exported(void)
{
	char path[1024], err[256] = "";
	snprintf(path, sizeof path, "%s/torch_model.json", test_fixture_dir);
	model m;
	memset(&m, 0, sizeof m);
	iotad_err e = model_load(path, &m, err, sizeof err);
	if (e)
		printf("\n    %s", err);
	CU_ASSERT_FATAL(e == IOTAD_OK);
	CU_ASSERT_STRING_EQUAL(m.id, "torch-ae");
	CU_ASSERT_EQUAL(m.n_features, 3);
	CU_ASSERT_STRING_EQUAL(m.features[2], "battery");
	CU_ASSERT_EQUAL(m.window, 8);
	CU_ASSERT_EQUAL(m.norm, NORM_MINMAX);
	/* 24 -> 12 -> 6 -> 12 -> 24, relu inside, sigmoid out */
	CU_ASSERT_EQUAL(m.net.n_layers, 4);
	CU_ASSERT_EQUAL(m.net.sizes[0], 24);
	CU_ASSERT_EQUAL(m.net.sizes[2], 6);
	CU_ASSERT_EQUAL(m.net.act[0], NN_RELU);
	CU_ASSERT_EQUAL(m.net.act[3], NN_SIGMOID);
	CU_ASSERT_EQUAL(m.net.n_params, (size_t)(24 * 12 + 12 + 12 * 6 + 6 + 6 * 12 + 12 + 12 * 24 + 24));
	CU_ASSERT(m.n_calib > 100);
	CU_ASSERT(m.threshold > 0.0f);
	model_free(&m);
}

static void test_scores_match_pytorch(void)
{
	char path[1024], err[256] = "";
	snprintf(path, sizeof path, "%s/torch_model.json", test_fixture_dir);
	model m;
	memset(&m, 0, sizeof m);
	CU_ASSERT_FATAL(model_load(path, &m, err, sizeof err) == IOTAD_OK);
	char *text = read_fixture("torch_scores.json");
	cJSON *root = text ? cJSON_Parse(text) : NULL;
	CU_ASSERT_FATAL(root != NULL);
	const cJSON *wins = cJSON_GetObjectItemCaseSensitive(root, "windows");
	CU_ASSERT_FATAL(cJSON_GetArraySize(wins) >= 5);

	int nf = m.n_features, d = m.window * nf;
	float *x = malloc((size_t)d * sizeof *x);
	float *scratch = malloc(nn_scratch_floats(&m.net) * sizeof *scratch);
	CU_ASSERT_FATAL(x && scratch);
	int checked = 0;
	float max_score = 0.0f;
	const cJSON *w;
	cJSON_ArrayForEach(w, wins) {
		const cJSON *raw = cJSON_GetObjectItemCaseSensitive(w, "raw");
		double want = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(w, "score"));
		CU_ASSERT_FATAL(cJSON_GetArraySize(raw) == m.window);
		for (int t = 0; t < m.window; t++) {
			const cJSON *row = cJSON_GetArrayItem(raw, t);
			float r[MODEL_MAX_FEATURES];
			CU_ASSERT_FATAL(cJSON_GetArraySize(row) == nf);
			for (int f = 0; f < nf; f++)
				r[f] = (float)cJSON_GetNumberValue(cJSON_GetArrayItem(row, f));
			model_normalize(&m, r, x + t * nf);
		}
		float got = nn_forward(&m.net, x, scratch, NULL);
		double rel = fabs((double)got - want) / want;
		if (rel > TORCHRT_REL_TOL)
			printf("\n    window %d: iotad %.9g, PyTorch %.9g", checked, (double)got, want);
		CU_ASSERT(want > 0.0 && rel <= TORCHRT_REL_TOL);
		if (got > max_score)
			max_score = got;
		checked++;
	}
	CU_ASSERT_EQUAL(checked, cJSON_GetArraySize(wins));
	/* the spiked window is far above the threshold exported with it */
	CU_ASSERT(max_score > 5.0f * m.threshold);
	free(x);
	free(scratch);
	cJSON_Delete(root);
	free(text);
	model_free(&m);
}

void init_torchrt_tests(void)
{
	CU_pSuite s = CU_add_suite("torchrt", NULL, NULL);
	TEST_ADD(s, test_loads_as_exported);
	TEST_ADD(s, test_scores_match_pytorch);
}

/* bench_core.c - replay speed of the detector core (no broker, no JSON).
 *
 * Times det_push over pre-generated normal telemetry of 100 devices and
 * compares it, in the same run, with two baselines: the bare nn_forward of
 * one window (the autoencoder alone) and a loop that only copies every
 * sample into a per-device window buffer (memory traffic alone).
 *
 * usage: bench_core [--model FILE] [--samples N] [--devices N] [--forward N] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "iotad/detector.h"
#include "iotad/nn.h"

/* Keeps results alive so the compiler cannot drop the timed work. */
static volatile double sink;

/* The core: every sample through det_push, as the service feeds it. */
static double run_core(const model *m, const bench_data *data, char (*names)[16],
		       bool profile, size_t *scored, size_t *events)
{
	det_config cfg;
	det *d;
	det_result res;
	double t0, t1, acc = 0.0;

	det_config_default(&cfg);
	cfg.max_devices = (uint32_t)data->n_devices;
	if (!profile)
		cfg.prof.channels = 0; /* the autoencoder alone: no profile kept */
	if (det_create(m, &cfg, &d) != IOTAD_OK) {
		fprintf(stderr, "bench_core: det_create failed\n");
		exit(1);
	}
	*scored = *events = 0;
	t0 = bench_now();
	for (size_t i = 0; i < data->n; i++) {
		if (det_push(d, names[data->device[i]], data->ts[i],
			     data->values + i * SIM_FEATURES, &res) != IOTAD_OK) {
			fprintf(stderr, "bench_core: det_push failed at sample %zu\n", i);
			exit(1);
		}
		if (res.scored) {
			(*scored)++;
			acc += res.score;
		}
		if (res.event != ALERT_EV_NONE)
			(*events)++;
	}
	t1 = bench_now();
	sink = acc;
	det_destroy(d);
	return t1 - t0;
}

/* Baseline 1: nn_forward alone on normalized windows taken from the data. */
static double run_forward(const model *m, const bench_data *data, size_t calls)
{
	enum { N_WIN = 256 };
	size_t wf = (size_t)m->window * (size_t)m->n_features;
	float *wins = malloc(N_WIN * wf * sizeof *wins);
	float *scratch = malloc(nn_scratch_floats(&m->net) * sizeof *scratch);
	float *err = malloc(wf * sizeof *err);
	double t0, t1, acc = 0.0;

	if (!wins || !scratch || !err) {
		fprintf(stderr, "bench_core: out of memory\n");
		exit(1);
	}
	/* Window k = W consecutive samples of device 0 starting at step k. */
	for (size_t k = 0; k < N_WIN; k++)
		for (int t = 0; t < m->window; t++) {
			size_t i = (k + (size_t)t) * (size_t)data->n_devices;
			model_normalize(m, data->values + (i % data->n) * SIM_FEATURES,
					wins + k * wf + (size_t)t * (size_t)m->n_features);
		}
	t0 = bench_now();
	for (size_t c = 0; c < calls; c++)
		acc += nn_forward(&m->net, wins + (c % N_WIN) * wf, scratch, err);
	t1 = bench_now();
	sink = acc;
	free(wins);
	free(scratch);
	free(err);
	return t1 - t0;
}

/* Baseline 2: copy every sample into its device's circular window. */
static double run_copy(const model *m, const bench_data *data)
{
	size_t wf = (size_t)m->window * SIM_FEATURES;
	float *win = calloc((size_t)data->n_devices * wf, sizeof *win);
	int *pos = calloc((size_t)data->n_devices, sizeof *pos);
	double t0, t1, acc = 0.0;

	if (!win || !pos) {
		fprintf(stderr, "bench_core: out of memory\n");
		exit(1);
	}
	t0 = bench_now();
	for (size_t i = 0; i < data->n; i++) {
		int dv = data->device[i];
		memcpy(win + (size_t)dv * wf + (size_t)pos[dv] * SIM_FEATURES,
		       data->values + i * SIM_FEATURES, SIM_FEATURES * sizeof(float));
		if (++pos[dv] == m->window)
			pos[dv] = 0;
	}
	t1 = bench_now();
	for (size_t j = 0; j < (size_t)data->n_devices * wf; j++)
		acc += win[j];
	sink = acc;
	free(win);
	free(pos);
	return t1 - t0;
}

int main(int argc, char **argv)
{
	const char *model_path = NULL;
	size_t n = 2000000, calls = 2000000;
	int n_devices = 100;
	model m;
	bench_data data;
	char (*names)[16];
	size_t scored, events;
	bool profile = true;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--model") && i + 1 < argc)
			model_path = argv[++i];
		else if (!strcmp(argv[i], "--samples") && i + 1 < argc)
			n = (size_t)bench_arg_long("--samples", argv[++i], 1000000000L);
		else if (!strcmp(argv[i], "--devices") && i + 1 < argc)
			n_devices = (int)bench_arg_long("--devices", argv[++i], SIM_MAX_DEVICES);
		else if (!strcmp(argv[i], "--forward") && i + 1 < argc)
			calls = (size_t)bench_arg_long("--forward", argv[++i], 1000000000L);
		else if (!strcmp(argv[i], "--no-profile"))
			profile = false;
		else {
			fprintf(stderr, "usage: bench_core [--model FILE] [--samples N] "
					"[--devices N] [--forward N] [--no-profile]\n");
			return 2;
		}
	}
	if (bench_model(model_path, &m) != 0)
		return 1;
	if (m.n_features != SIM_FEATURES) {
		fprintf(stderr, "bench_core: the model must have the simulator's %d features\n",
			SIM_FEATURES);
		return 1;
	}
	if (bench_data_init(&data, n, n_devices, 42) != 0)
		return 1;
	names = calloc((size_t)n_devices, sizeof *names);
	if (!names)
		return 1;
	for (int i = 0; i < n_devices; i++)
		sim_device_name(i, names[i], sizeof names[i]);

	printf("core: model %s, window %d x %d features, stride %d, layers", m.id, m.window,
	       m.n_features, m.stride);
	for (int l = 0; l <= m.net.n_layers; l++)
		printf("%s%d", l ? "-" : " ", m.net.sizes[l]);
	printf(", %zu params; %zu samples of %d devices\n", m.net.n_params, n, n_devices);

	double t_fwd = run_forward(&m, &data, calls);
	double t_copy = run_copy(&m, &data);
	double t_core = run_core(&m, &data, names, profile, &scored, &events);

	double ns_core = t_core * 1e9 / (double)n;
	double ns_fwd = t_fwd * 1e9 / (double)calls;
	double ns_copy = t_copy * 1e9 / (double)n;
	printf("core: %.2f M samples/s (%.0f ns/sample), %zu windows scored, %zu alert events\n",
	       (double)n / t_core / 1e6, ns_core, scored, events);
	printf("core: nn_forward alone %.0f ns/window (%.2f M/s); copy-only loop %.1f ns/sample\n",
	       ns_fwd, 1e3 / ns_fwd, ns_copy);
	printf("core: ratio core/nn_forward %.2f, core/copy-only %.0f\n", ns_core / ns_fwd,
	       ns_core / ns_copy);
	printf("RESULT core samples_per_s=%.0f ns_per_sample=%.1f nn_forward_ns=%.1f copy_ns=%.2f "
	       "ratio_forward=%.3f\n",
	       (double)n / t_core, ns_core, ns_fwd, ns_copy, ns_core / ns_fwd);

	free(names);
	bench_data_free(&data);
	model_free(&m);
	return 0;
}

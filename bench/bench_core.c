/* bench_core.c - replay speed of the detector core (no broker, no JSON).
 *
 * Times det_push over pre-generated normal telemetry of 100 devices and
 * compares it, in the same run, with two baselines: the bare nn_forward of
 * one window (the autoencoder alone) and a loop that only copies every
 * sample into a per-device window buffer (memory traffic alone).
 *
 * The int8 form of the model (quant_model on the same telemetry) is timed
 * beside the float one in the same run: model_score per window, and the
 * core replay. --shape WxF adds the same per-window comparison for a
 * network of the seeds' shape scaled to W x F inputs (random weights).
 *
 * The replay comparison (RESULT replay): the same samples through det_push
 * with the scalar scorer (nn_forward, the baseline), through det_push with
 * the packed scorer the detector uses (nnpack), and through det_push_batch
 * in chunks of a backlog; for the model, and with --shape for a W x F model
 * of the trainer's default layers (12-6-12, random weights) on W x F
 * synthetic telemetry. Timed in CPU time of the replaying thread.
 *
 * usage: bench_core [--model FILE] [--samples N] [--devices N] [--forward N]
 *                   [--shape WxF] */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"
#include "iotad/detector.h"
#include "iotad/modelpack.h"
#include "iotad/nn.h"
#include "iotad/quantize.h"

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

/* model_score per window, float or int8, over wins (n_win windows). */
static double run_score(const model *m, const float *wins, size_t n_win, size_t calls)
{
	size_t wf = (size_t)m->window * (size_t)m->n_features;
	float *scratch = malloc(model_scratch_floats(m) * sizeof *scratch);
	float *err = malloc(wf * sizeof *err);
	double t0, t1, acc = 0.0;

	if (!scratch || !err) {
		fprintf(stderr, "bench_core: out of memory\n");
		exit(1);
	}
	t0 = bench_now();
	for (size_t c = 0; c < calls; c++)
		acc += model_score(m, wins + (c % n_win) * wf, scratch, err, NULL);
	t1 = bench_now();
	sink = acc;
	free(scratch);
	free(err);
	return t1 - t0;
}

/* The int8 form of m, calibrated on rows (n x m->n_features raw values). */
static void quantize_or_die(const model *m, const float *rows, size_t n, model *q)
{
	quant_opts o;
	char err[256];
	quant_opts_default(&o);
	if (quant_model(m, rows, n, &o, q, err, sizeof err) != IOTAD_OK) {
		fprintf(stderr, "bench_core: %s\n", err);
		exit(1);
	}
}

/* float and int8 per window, same windows, same run; prints one RESULT line.
 * The two alternate over 20 rounds and each keeps its fastest round, so a
 * neighbour's burst on a shared machine slows neither figure. */
static void compare_score(const char *tag, const model *m, const model *q, const float *wins,
			  size_t n_win, size_t calls)
{
	enum { ROUNDS = 20 };
	size_t per = calls / ROUNDS > 0 ? calls / ROUNDS : 1;
	double tf = 1e30, tq = 1e30, tp = 1e30;
	model_pack mp;
	float *scratch = NULL, *err = malloc((size_t)m->net.sizes[0] * sizeof *err);
	if (model_pack_init(&mp, m, NN_ISA_AUTO) != IOTAD_OK || !err ||
	    !(scratch = malloc(nn_pack_scratch_floats(&mp.member[0]) * sizeof *scratch))) {
		fprintf(stderr, "bench_core: cannot pack the model\n");
		exit(1);
	}
	size_t wf = (size_t)m->window * (size_t)m->n_features;
	for (int r = 0; r < ROUNDS; r++) {
		double a = run_score(m, wins, n_win, per), b = run_score(q, wins, n_win, per);
		double acc = 0.0, t0 = bench_now();
		/* the packed float pass the detector uses (first network) */
		for (size_t c = 0; c < per; c++)
			acc += nn_pack_forward(&mp.member[0], wins + (c % n_win) * wf, scratch, err);
		double c = bench_now() - t0;
		sink = acc;
		tf = a < tf ? a : tf;
		tq = b < tq ? b : tq;
		tp = c < tp ? c : tp;
	}
	double nf = tf * 1e9 / (double)per, nq = tq * 1e9 / (double)per, np = tp * 1e9 / (double)per;
	printf("%s: window %d x %d, layers", tag, m->window, m->n_features);
	for (int l = 0; l <= m->net.n_layers; l++)
		printf("%s%d", l ? "-" : " ", m->net.sizes[l]);
	printf(": float %.0f ns/window, int8 %.0f ns/window, int8 %.2fx faster; packed float "
	       "(%s) %.0f ns/window, int8 / packed %.2f\n", nf, nq, nf / nq,
	       nn_isa_name(mp.member[0].isa), np, np / nq);
	printf("RESULT %s window=%dx%d float_ns=%.1f int8_ns=%.1f speedup=%.3f packed_ns=%.1f "
	       "int8_vs_packed=%.3f\n", tag, m->window, m->n_features, nf, nq, nf / nq, np, np / nq);
	model_pack_free(&mp);
	free(scratch);
	free(err);
}

/* A model of the seeds' shape (12,6,12 x D/20) for W x F inputs with random
 * weights, identity normalization, and rows uniform in [0, 1]. */
static void shape_model(int w, int f, model *m, float **rows, size_t n)
{
	memset(m, 0, sizeof *m);
	snprintf(m->id, sizeof m->id, "shape-%dx%d", w, f);
	m->version = 1;
	m->n_features = f;
	m->window = w;
	m->stride = 1;
	m->percentile = 99.0f;
	m->threshold = 1.0f;
	for (int j = 0; j < f; j++) {
		snprintf(m->features[j], sizeof m->features[j], "f%d", j);
		m->norm_b[j] = 1.0f;
	}
	int d = w * f, sizes[5] = {d, 0, 0, 0, d};
	static const int seed_shape[3] = {12, 6, 12};
	for (int l = 0; l < 3; l++) {
		long s = lround((double)seed_shape[l] * d / 20.0);
		sizes[l + 1] = s < 1 ? 1 : (int)s;
	}
	nn_act act[4] = {NN_RELU, NN_RELU, NN_RELU, NN_SIGMOID};
	if (nn_init(&m->net, 4, sizes, act) != IOTAD_OK || !(*rows = malloc(n * (size_t)f * 4))) {
		fprintf(stderr, "bench_core: out of memory\n");
		exit(1);
	}
	nn_init_weights(&m->net, 7);
	uint64_t z = 99;
	for (size_t i = 0; i < n * (size_t)f; i++) {
		z = z * 6364136223846793005ULL + 1442695040888963407ULL;
		(*rows)[i] = (float)(z >> 40) / (float)(1 << 24);
	}
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

/* --- replay: scalar scorer, packed scorer, packed in batches --------------- */

enum { REPLAY_SCALAR, REPLAY_PACKED, REPLAY_BATCH, REPLAY_MODES, REPLAY_CHUNK = 64 };
static const char *const replay_names[REPLAY_MODES] = {"scalar", "packed", "batch"};

/* Samples for a replay: n rows of F floats, device index and time of each. */
typedef struct replay_data {
	size_t n;
	int F, n_devices;
	const float *values;
	const int *device;
	const double *ts;
} replay_data;

/* CPU seconds of the calling thread: on a shared machine a neighbour's
 * burst deschedules the replay, which wall time would count. */
static double replay_cpu_now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* n samples from i0 through one detector in mode; returns CPU seconds. */
static double run_replay(const model *m, const replay_data *rd, char (*names)[16], size_t i0,
			 size_t n, bool profile, int mode)
{
	det_config cfg;
	det_scorer sc;
	det *d;
	det_result res[REPLAY_CHUNK];
	det_sample smp[REPLAY_CHUNK];
	double acc = 0.0;

	det_config_default(&cfg);
	cfg.max_devices = (uint32_t)rd->n_devices;
	if (!profile)
		cfg.prof.channels = 0;
	det_scorer_model(&sc, m);
	if (det_create_with(m, mode == REPLAY_SCALAR ? &sc : NULL, &cfg, &d) != IOTAD_OK) {
		fprintf(stderr, "bench_core: det_create failed\n");
		exit(1);
	}
	double t0 = replay_cpu_now();
	for (size_t i = i0; i < i0 + n;) {
		if (mode != REPLAY_BATCH) {
			(void)det_push(d, names[rd->device[i]], rd->ts[i],
				       rd->values + i * (size_t)rd->F, &res[0]);
			acc += res[0].score;
			i++;
			continue;
		}
		size_t c = i0 + n - i < REPLAY_CHUNK ? i0 + n - i : REPLAY_CHUNK;
		for (size_t k = 0; k < c; k++) {
			smp[k].device = names[rd->device[i + k]];
			smp[k].ts = smp[k].now = rd->ts[i + k];
			smp[k].raw = rd->values + (i + k) * (size_t)rd->F;
		}
		(void)det_push_batch(d, smp, c, res, NULL);
		for (size_t k = 0; k < c; k++)
			acc += res[k].score;
		i += c;
	}
	double t1 = replay_cpu_now();
	sink = acc;
	det_destroy(d);
	return t1 - t0;
}

/* The three modes over rd in alternating rounds, each keeping its fastest
 * round; prints one RESULT replay line. */
static void compare_replay(const char *tag, const model *m, const replay_data *rd,
			   char (*names)[16], bool profile)
{
	enum { ROUNDS = 5 };
	size_t per = rd->n / ROUNDS;
	double best[REPLAY_MODES] = {1e30, 1e30, 1e30}, sps[REPLAY_MODES];
	model_pack mp;
	const char *isa = "?";

	if (model_pack_init(&mp, m, NN_ISA_AUTO) == IOTAD_OK) {
		isa = nn_isa_name(mp.member[0].isa);
		model_pack_free(&mp);
	}
	for (int r = 0; r < ROUNDS; r++)
		for (int k = 0; k < REPLAY_MODES; k++) {
			double t = run_replay(m, rd, names, (size_t)r * per, per, profile, k);
			best[k] = t < best[k] ? t : best[k];
		}
	printf("replay %s: window %d x %d, layers", tag, m->window, m->n_features);
	for (int l = 0; l <= m->net.n_layers; l++)
		printf("%s%d", l ? "-" : " ", m->net.sizes[l]);
	printf(", %s path:", isa);
	for (int k = 0; k < REPLAY_MODES; k++) {
		sps[k] = (double)per / best[k];
		printf(" %s %.2f M samples/s (%.0f ns)%s", replay_names[k], sps[k] / 1e6,
		       1e9 / sps[k], k + 1 < REPLAY_MODES ? "," : "\n");
	}
	printf("RESULT replay tag=%s window=%dx%d isa=%s scalar_sps=%.0f packed_sps=%.0f "
	       "batch_sps=%.0f packed_ratio=%.3f batch_ratio=%.3f\n",
	       tag, m->window, m->n_features, isa, sps[0], sps[1], sps[2], sps[1] / sps[0],
	       sps[2] / sps[0]);
}

/* A W x F model of the trainer's default layers (12-6-12, ReLU, sigmoid
 * out, minmax on [0, 1]) with random weights, and n samples of n_devices
 * devices in turn: smooth per-device levels with noise, in [0, 1]. */
static void replay_shape(int w, int f, size_t n, int n_devices, char (*names)[16], bool profile)
{
	model m;
	int d = w * f, sizes[5] = {d, 12, 6, 12, d};
	nn_act act[4] = {NN_RELU, NN_RELU, NN_RELU, NN_SIGMOID};
	float *v = malloc(n * (size_t)f * sizeof *v);
	int *dev = malloc(n * sizeof *dev);
	double *ts = malloc(n * sizeof *ts);
	uint64_t z = 3;

	memset(&m, 0, sizeof m);
	snprintf(m.id, sizeof m.id, "replay-%dx%d", w, f);
	m.version = 1;
	m.n_features = f;
	m.window = w;
	m.stride = 1;
	m.percentile = 99.0f;
	m.threshold = 1.0f;
	for (int j = 0; j < f; j++) {
		snprintf(m.features[j], sizeof m.features[j], "f%d", j);
		m.norm_b[j] = 1.0f;
	}
	if (!v || !dev || !ts || nn_init(&m.net, 4, sizes, act) != IOTAD_OK) {
		fprintf(stderr, "bench_core: out of memory\n");
		exit(1);
	}
	nn_init_weights(&m.net, 9);
	for (size_t i = 0; i < n; i++) {
		dev[i] = (int)(i % (size_t)n_devices);
		ts[i] = 1700000000.0 + (double)(i / (size_t)n_devices);
		for (int j = 0; j < f; j++) {
			z = z * 6364136223846793005ULL + 1442695040888963407ULL;
			double noise = (double)(z >> 40) / (double)(1 << 24) - 0.5;
			v[i * (size_t)f + (size_t)j] =
				(float)(0.5 + 0.3 * sin(0.01 * ts[i] + dev[i] + j) + 0.05 * noise);
		}
	}
	replay_data rd = {n, f, n_devices, v, dev, ts};
	char tag[32];
	snprintf(tag, sizeof tag, "shape-%dx%d", w, f);
	compare_replay(tag, &m, &rd, names, profile);
	model_free(&m);
	free(v);
	free(dev);
	free(ts);
}

int main(int argc, char **argv)
{
	const char *model_path = NULL;
	size_t n = 2000000, calls = 2000000;
	int n_devices = 100, shape_w = 0, shape_f = 0;
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
		else if (!strcmp(argv[i], "--shape") && i + 1 < argc) {
			char *end;
			long w = strtol(argv[++i], &end, 10), f = *end == 'x' ? strtol(end + 1, &end, 10) : 0;
			if (*end || w < 1 || f < 1 || f > MODEL_MAX_FEATURES || w * f > NN_MAX_WIDTH) {
				fprintf(stderr, "--shape: expected WxF (e.g. 16x8), got \"%s\"\n", argv[i]);
				return 2;
			}
			shape_w = (int)w;
			shape_f = (int)f;
		} else {
			fprintf(stderr, "usage: bench_core [--model FILE] [--samples N] "
					"[--devices N] [--forward N] [--no-profile] [--shape WxF]\n");
			return 2;
		}
	}
	if (bench_model(model_path, &m) != 0)
		return 1;
	if (m.type != MODEL_FLOAT) {
		fprintf(stderr, "bench_core: --model must be a float model (its int8 form is made "
			"here)\n");
		return 1;
	}
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

	/* int8: quantized on the telemetry of the first devices (each one's
	 * rows together, as training lays them out), timed on the same windows */
	enum { N_WIN = 256, Q_DEVICES = 8 };
	model mq;
	quant_opts qo;
	char qerr[256];
	size_t steps = data.n / (size_t)n_devices, qdev = n_devices < Q_DEVICES ? (size_t)n_devices :
							   Q_DEVICES;
	size_t q_rows = steps * qdev, wf = (size_t)m.window * SIM_FEATURES, qseg[Q_DEVICES];
	float *qrows = malloc((q_rows ? q_rows : 1) * SIM_FEATURES * sizeof *qrows);
	float *wins = malloc(N_WIN * wf * sizeof *wins);
	if (!qrows || !wins || steps < (size_t)m.window + N_WIN)
		return 1;
	for (size_t dv = 0; dv < qdev; dv++) {
		qseg[dv] = steps;
		for (size_t t = 0; t < steps; t++)
			memcpy(qrows + (dv * steps + t) * SIM_FEATURES,
			       data.values + (t * (size_t)n_devices + dv) * SIM_FEATURES,
			       SIM_FEATURES * sizeof *qrows);
	}
	quant_opts_default(&qo);
	qo.segments = qseg;
	qo.n_segments = qdev;
	if (quant_model(&m, qrows, q_rows, &qo, &mq, qerr, sizeof qerr) != IOTAD_OK) {
		fprintf(stderr, "bench_core: %s\n", qerr);
		return 1;
	}
	for (size_t k = 0; k < N_WIN; k++)
		for (int t = 0; t < m.window; t++)
			model_normalize(&m, qrows + (k + (size_t)t) * SIM_FEATURES,
					wins + k * wf + (size_t)t * SIM_FEATURES);
	size_t q_scored, q_events;
	double t_core8 = run_core(&mq, &data, names, profile, &q_scored, &q_events);

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
	replay_data rd = {data.n, SIM_FEATURES, n_devices, data.values, data.device, data.ts};
	compare_replay("model", &m, &rd, names, profile);
	if (shape_w)
		replay_shape(shape_w, shape_f, n, n_devices, names, profile);
	printf("core int8: %.2f M samples/s (%.0f ns/sample), %zu windows scored, %zu alert "
	       "events (float: %zu)\n", (double)n / t_core8 / 1e6, t_core8 * 1e9 / (double)n,
	       q_scored, q_events, events);
	compare_score("int8", &m, &mq, wins, N_WIN, calls);
	free(qrows);
	free(wins);
	model_free(&mq);
	if (shape_w) {
		model sm, sq;
		float *rows;
		size_t sn = 3000, swf = (size_t)shape_w * (size_t)shape_f;
		shape_model(shape_w, shape_f, &sm, &rows, sn);
		quantize_or_die(&sm, rows, sn, &sq);
		/* identity normalization: window k is rows k.. k + W - 1 */
		float *sw = malloc(N_WIN * swf * sizeof *sw);
		if (!sw)
			return 1;
		for (size_t k = 0; k < N_WIN; k++)
			memcpy(sw + k * swf, rows + k * (size_t)shape_f, swf * sizeof *sw);
		compare_score("int8-shape", &sm, &sq, sw, N_WIN, calls);
		free(sw);
		free(rows);
		model_free(&sm);
		model_free(&sq);
	}

	free(names);
	bench_data_free(&data);
	model_free(&m);
	return 0;
}

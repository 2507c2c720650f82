/* bench_fed.c - federated learning figures: time to aggregate 100 updates
 * of the seeds' network (20-12-6-12-20, 674 parameters) by each rule, bytes
 * of an update, and with --shuttle FILE the Shuttle protocol of docs/eval.md
 * (shuffle with the seed, fit on the first half, ROC-AUC over all rows)
 * trained centrally and by FedAvg over 5 gateways, IID and by one
 * attribute (non-IID), with a poisoned gateway against clipping and the
 * median. usage: bench_fed [--shuttle FILE] [--seed S] [--rounds R] [--local L]
 * (15 rounds of 2 local epochs; the central model trains R x L epochs). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"
#include "iotad/eval.h"
#include "iotad/fedavg.h"
#include "iotad/fedlocal.h"
#include "iotad/fedmsg.h"
#include "iotad/train.h"

#define NF 9       /* Shuttle's attributes */
#define GW 5       /* gateways */
static int ROUNDS = 15;  /* --rounds */
static int LOCAL = 2;    /* --local: epochs a round; the central model trains ROUNDS x LOCAL */

static uint64_t rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void make_net(nn *net, int in, uint64_t seed)
{
	int sizes[5] = {in, 12, 6, 12, in};
	nn_act act[4] = {NN_RELU, NN_RELU, NN_RELU, NN_SIGMOID};
	if (nn_init(net, 4, sizes, act) != IOTAD_OK)
		exit(1);
	nn_init_weights(net, seed);
}

/* CPU seconds of this thread: other processes on a loaded machine do not
 * count, preemption does not either. */
static double cpu_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, z = *(const double *)b;
	return (x > z) - (x < z);
}

/* The baseline of the same run: the coordinate-wise median of the k
 * updates by copying each coordinate's column and sorting it (qsort). */
static void median_by_sort(const float *g, size_t n, const fed_client *c, size_t k, float *out)
{
	double *col = malloc(k * sizeof *col);
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < k; j++)
			col[j] = (double)c[j].params[i] - g[i];
		qsort(col, k, sizeof *col, cmp_double);
		out[i] = (float)(g[i] + (k % 2 ? col[k / 2] : 0.5 * (col[k / 2 - 1] + col[k / 2])));
	}
	free(col);
}

/* Best (least) CPU time of reps calls, in ms, and the median of them. */
typedef struct timing {
	double best, median;
} timing;

static timing time_reps(double *t, int reps)
{
	qsort(t, (size_t)reps, sizeof *t, cmp_double);
	return (timing){t[0] * 1e3, t[reps / 2] * 1e3};
}

static void bench_aggregate(void)
{
	enum { K = 100, REPS = 51 };
	nn net;
	make_net(&net, 20, 1);
	size_t n = net.n_params;
	float *cl = malloc(K * n * sizeof *cl), *out = malloc(n * sizeof *out);
	fed_client c[K];
	uint64_t s = 7;
	for (int j = 0; j < K; j++) {
		for (size_t i = 0; i < n; i++)
			cl[j * n + i] = net.params[i] + (float)((double)(rng_next(&s) >> 11) / 9007199254740992.0 - 0.5) * 0.01f;
		c[j] = (fed_client){cl + j * n, n, 100 + (uint64_t)j};
	}
	fedmsg m = {.n_params = (uint32_t)n};
	snprintf(m.model, sizeof m.model, "temp-ae");
	snprintf(m.sender, sizeof m.sender, "gw-001");
	printf("update of the 20-12-6-12-20 network: %zu parameters, %zu bytes\n", n, fedmsg_size(&m));
	double t[REPS];
	for (int k = 0; k < REPS; k++) {
		double t0 = cpu_now();
		median_by_sort(net.params, n, c, K, out);
		t[k] = cpu_now() - t0;
	}
	timing base = time_reps(t, REPS);
	printf("baseline: median of %d updates by sorting each column: best %.3f ms, median %.3f ms "
	       "(CPU time of %d runs)\n", K, base.best, base.median, REPS);
	const fed_rule rules[3] = {FED_MEAN, FED_MEDIAN, FED_TRIMMED};
	for (int r = 0; r < 4; r++) {
		fed_opts o;
		fed_opts_default(&o);
		o.rule = rules[r < 3 ? r : 0];
		o.clip = 1.0f;
		if (r == 3)
			o.noise = 1.0f;
		for (int k = 0; k < REPS; k++) {
			double t0 = cpu_now();
			fed_aggregate(net.params, n, c, K, &o, out, NULL, NULL, 0);
			t[k] = cpu_now() - t0;
		}
		timing tm = time_reps(t, REPS);
		printf("aggregate %d updates, %-7s with clipping%s: best %.3f ms, median %.3f ms "
		       "(%.2f x the baseline's median) %s\n",
		       K, fed_rule_name(o.rule), r == 3 ? " and noise" : "", tm.best, tm.median,
		       tm.median / base.median, tm.median <= 5.0 ? "<= 5 ms: ok" : "> 5 ms: MISSED");
	}
	free(cl);
	free(out);
	nn_free(&net);
}

/* Shuttle rows (no header, 9 numbers then "n" or "o"). */
static size_t read_shuttle(const char *path, float **x, uint8_t **y)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		perror(path);
		exit(2);
	}
	size_t cap = 50000, n = 0;
	*x = malloc(cap * NF * sizeof **x);
	*y = malloc(cap);
	char line[512];
	while (fgets(line, sizeof line, f) && n < cap) {
		char *p = line, *end;
		for (int k = 0; k < NF; k++, p = end + 1) {
			(*x)[n * NF + k] = strtof(p, &end);
			if (end == p || *end != ',') {
				fprintf(stderr, "%s:%zu: bad number\n", path, n + 1);
				exit(2);
			}
		}
		(*y)[n++] = strstr(p, "\"o\"") != NULL;
	}
	fclose(f);
	return n;
}

static double auc_of(const nn *net, const float *xs, const uint8_t *y, size_t n)
{
	float *score = malloc(n * sizeof *score);
	float *scratch = malloc(nn_scratch_floats(net) * sizeof *scratch);
	for (size_t i = 0; i < n; i++)
		score[i] = nn_forward(net, xs + i * NF, scratch, NULL);
	double auc = 0;
	eval_roc_auc(score, y, n, &auc);
	free(score);
	free(scratch);
	return auc;
}

/* FedAvg over GW gateways holding rows part[g]..part[g+1] of train (the
 * training half, in the order it is cut); the ROC-AUC over the n_all rows
 * of xs. poison: gateway 0 sends its update x10. */
static double federated(const float *train, const size_t *part, const float *xs,
			const uint8_t *y, size_t n_all, uint64_t seed, const fed_opts *fo, int poison)
{
	nn global, local;
	make_net(&global, NF, seed);
	make_net(&local, NF, seed);
	size_t np = global.n_params;
	float *cl = malloc(GW * np * sizeof *cl), *next = malloc(np * sizeof *next);
	train_opts o;
	train_opts_default(&o);
	o.epochs = LOCAL;
	for (int r = 0; r < ROUNDS; r++) {
		fed_client c[GW];
		for (int g = 0; g < GW; g++) {
			memcpy(local.params, global.params, np * sizeof *next);
			o.seed = seed * 1000 + (uint64_t)(r * GW + g);
			train_fit(&local, train + part[g] * NF, part[g + 1] - part[g], &o, NULL);
			for (size_t i = 0; i < np; i++)
				cl[g * np + i] = g == 0 && poison ?
						 global.params[i] + 10 * (local.params[i] - global.params[i]) :
						 local.params[i];
			c[g] = (fed_client){cl + g * np, np, part[g + 1] - part[g]};
		}
		fed_aggregate(global.params, np, c, GW, fo, next, NULL, NULL, 0);
		memcpy(global.params, next, np * sizeof *next);
	}
	double auc = auc_of(&global, xs, y, n_all);
	free(cl);
	free(next);
	nn_free(&global);
	nn_free(&local);
	return auc;
}

static int cmp_col0(const void *a, const void *b)
{
	float x = *(const float *)a, z = *(const float *)b;
	return (x > z) - (x < z);
}

static void bench_shuttle(const char *path, uint64_t seed)
{
	float *x;
	uint8_t *y;
	size_t n = read_shuttle(path, &x, &y);
	/* shuffle rows and labels together (Fisher-Yates, seeded) */
	uint64_t s = seed;
	for (size_t i = n; i > 1; i--) {
		size_t j = (size_t)(rng_next(&s) % i);
		float t[NF];
		memcpy(t, x + (i - 1) * NF, sizeof t);
		memcpy(x + (i - 1) * NF, x + j * NF, sizeof t);
		memcpy(x + j * NF, t, sizeof t);
		uint8_t ty = y[i - 1];
		y[i - 1] = y[j];
		y[j] = ty;
	}
	size_t half = n / 2;
	float lo[NF], hi[NF];
	for (int k = 0; k < NF; k++) {
		lo[k] = hi[k] = x[k];
		for (size_t i = 0; i < half; i++) {
			lo[k] = fminf(lo[k], x[i * NF + k]);
			hi[k] = fmaxf(hi[k], x[i * NF + k]);
		}
	}
	for (size_t i = 0; i < n; i++)
		for (int k = 0; k < NF; k++) {
			float v = hi[k] > lo[k] ? (x[i * NF + k] - lo[k]) / (hi[k] - lo[k]) : 0;
			x[i * NF + k] = fminf(fmaxf(v, NORM_CLAMP_LO), NORM_CLAMP_HI);
		}
	nn central;
	make_net(&central, NF, seed);
	train_opts o;
	train_opts_default(&o);
	o.epochs = ROUNDS * LOCAL;
	o.seed = seed;
	train_fit(&central, x, half, &o, NULL);
	double auc_c = auc_of(&central, x, y, n);
	size_t part[GW + 1];
	for (int g = 0; g <= GW; g++)
		part[g] = half * (size_t)g / GW;
	fed_opts mean, clip, median;
	fed_opts_default(&mean);
	clip = median = mean;
	median.rule = FED_MEDIAN;
	double auc_f = federated(x, part, x, y, n, seed, &mean, 0);
	double auc_pm = federated(x, part, x, y, n, seed, &mean, 1);
	double auc_pmed = federated(x, part, x, y, n, seed, &median, 1);
	/* the same with the clip at the honest updates' typical length */
	clip.clip = 0.5f;
	double auc_pclip = federated(x, part, x, y, n, seed, &clip, 1);
	/* non-IID: the training half sorted by attribute 1, cut in 5 */
	float *xs = malloc(half * NF * sizeof *xs);
	memcpy(xs, x, half * NF * sizeof *xs);
	qsort(xs, half, NF * sizeof *xs, cmp_col0);
	double auc_niid = federated(xs, part, x, y, n, seed, &mean, 0);
	printf("%d rounds x %d local epochs (central: %d epochs)\n", ROUNDS, LOCAL, ROUNDS * LOCAL);
	printf("shuttle seed %llu: ROC-AUC central %.4f | FedAvg 5 IID %.4f | non-IID %.4f | "
	       "poisoned x10: mean %.4f, clip 0.5 %.4f, median %.4f\n",
	       (unsigned long long)seed, auc_c, auc_f, auc_niid, auc_pm, auc_pclip, auc_pmed);
	free(xs);
	free(x);
	free(y);
	nn_free(&central);
}

int main(int argc, char **argv)
{
	const char *shuttle = NULL;
	uint64_t seed = 1;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--shuttle") && i + 1 < argc)
			shuttle = argv[++i];
		else if (!strcmp(argv[i], "--rounds") && i + 1 < argc)
			ROUNDS = (int)bench_arg_long("--rounds", argv[++i], 10000);
		else if (!strcmp(argv[i], "--local") && i + 1 < argc)
			LOCAL = (int)bench_arg_long("--local", argv[++i], 1000);
		else if (!strcmp(argv[i], "--seed") && i + 1 < argc)
			seed = (uint64_t)bench_arg_long("--seed", argv[++i], 1000000);
		else {
			fprintf(stderr, "usage: bench_fed [--shuttle FILE] [--seed S] [--rounds R] [--local L]\n");
			return 2;
		}
	}
	bench_aggregate();
	if (shuttle)
		bench_shuttle(shuttle, seed);
	return 0;
}

/* bench_train.c - the C trainer's time per epoch and final loss, on windows
 * it also writes out so bench/train_torch.py can train the same network from
 * the same initial weights on the same data (bench/train_vs_torch.sh runs
 * both and prints the ratio).
 *
 * Windows: n_devices synthetic devices of F features (slow per-device
 * waves with noise, already in [0, 1], as min-max normalization leaves
 * them), every window of W consecutive samples of a device. Network: the
 * trainer's default (W*F)-12-6-12-(W*F), ReLU, sigmoid out, He/Xavier from
 * --seed. Training: train_fit (mini-batch Adam, lr 1e-3), one thread.
 *
 * usage: bench_train [--shape WxF] [--windows N] [--epochs E] [--batch B]
 *                    [--seed S] [--out DIR]
 * With --out, DIR receives windows.f32 (N x W*F floats), init.f32 (the
 * initial parameters, nn layout), order.u32 (the windows' order in every
 * epoch, as train_fit shuffles them: a Fisher-Yates shuffle from
 * rng_seed(seed ^ 0x5eedf00d), carried over from epoch to epoch) and
 * meta.txt (sizes, epochs, batch, lr). With the same order on both sides
 * the two trainers differ only by float rounding. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"
#include "iotad/nn.h"
#include "iotad/rng.h"
#include "iotad/train.h"

static double cpu_now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* Write n 4-byte values (floats or uint32) to DIR/name. */
static int write_floats(const char *dir, const char *name, const void *v, size_t n)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(v, 4, n, f) != n || fclose(f) != 0) {
		fprintf(stderr, "bench_train: cannot write %s\n", path);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	int w = 10, f = 3, epochs = 10, batch = 32;
	size_t n = 20000;
	uint64_t seed = 5;
	const char *out = NULL;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--shape") && i + 1 < argc) {
			char *end;
			long a = strtol(argv[++i], &end, 10), b = *end == 'x' ? strtol(end + 1, &end, 10) : 0;
			if (*end || a < 1 || b < 1 || a * b > NN_MAX_WIDTH) {
				fprintf(stderr, "--shape: expected WxF, got \"%s\"\n", argv[i]);
				return 2;
			}
			w = (int)a;
			f = (int)b;
		} else if (!strcmp(argv[i], "--windows") && i + 1 < argc) {
			n = (size_t)bench_arg_long("--windows", argv[++i], 10000000L);
		} else if (!strcmp(argv[i], "--epochs") && i + 1 < argc) {
			epochs = (int)bench_arg_long("--epochs", argv[++i], 100000L);
		} else if (!strcmp(argv[i], "--batch") && i + 1 < argc) {
			batch = (int)bench_arg_long("--batch", argv[++i], 1000000L);
		} else if (!strcmp(argv[i], "--seed") && i + 1 < argc) {
			seed = (uint64_t)bench_arg_long("--seed", argv[++i], 1000000000L);
		} else if (!strcmp(argv[i], "--out") && i + 1 < argc) {
			out = argv[++i];
		} else {
			fprintf(stderr, "usage: bench_train [--shape WxF] [--windows N] [--epochs E] "
					"[--batch B] [--seed S] [--out DIR]\n");
			return 2;
		}
	}

	/* windows: device k's samples t = 0.. in [0, 1]; window j of a device
	 * starts at its sample j */
	enum { STEPS = 500 };
	size_t d = (size_t)w * (size_t)f, per_dev = STEPS - (size_t)w + 1;
	float *x = malloc(n * d * sizeof *x), *series = malloc(STEPS * (size_t)f * sizeof *series);
	if (!x || !series)
		return 1;
	uint64_t z = seed * 2654435761u + 1;
	for (size_t j = 0; j < n; j++) {
		size_t dev = j / per_dev, start = j % per_dev;
		if (start == 0) {
			for (int t = 0; t < STEPS; t++)
				for (int c = 0; c < f; c++) {
					z = z * 6364136223846793005ULL + 1442695040888963407ULL;
					double noise = (double)(z >> 40) / (double)(1 << 24) - 0.5;
					double v = 0.5 + 0.3 * sin(0.05 * t + 0.7 * (double)dev + c) +
						   0.1 * noise;
					series[t * f + c] = (float)(v < 0.0 ? 0.0 : v > 1.0 ? 1.0 : v);
				}
		}
		memcpy(x + j * d, series + start * (size_t)f, d * sizeof *x);
	}

	nn net;
	int sizes[5] = {(int)d, 12, 6, 12, (int)d};
	nn_act act[4] = {NN_RELU, NN_RELU, NN_RELU, NN_SIGMOID};
	if (nn_init(&net, 4, sizes, act) != IOTAD_OK)
		return 1;
	nn_init_weights(&net, seed);
	if (out) {
		char path[4096];
		snprintf(path, sizeof path, "%s/meta.txt", out);
		FILE *mf = fopen(path, "w");
		if (!mf || write_floats(out, "windows.f32", x, n * d) ||
		    write_floats(out, "init.f32", net.params, net.n_params))
			return 1;
		fprintf(mf, "d %zu\nhidden 12 6 12\nwindows %zu\nepochs %d\nbatch %d\nlr 0.001\n",
			d, n, epochs, batch);
		fclose(mf);
		uint32_t *order = malloc(n * (size_t)epochs * sizeof *order);
		size_t *idx = malloc(n * sizeof *idx);
		rng shuffle;
		if (!order || !idx)
			return 1;
		for (size_t i = 0; i < n; i++)
			idx[i] = i;
		rng_seed(&shuffle, seed ^ 0x5eedf00dULL);
		for (int ep = 0; ep < epochs; ep++) {
			for (size_t i = n; i > 1; i--) {
				size_t j = rng_below(&shuffle, i), t = idx[i - 1];
				idx[i - 1] = idx[j];
				idx[j] = t;
			}
			for (size_t i = 0; i < n; i++)
				order[(size_t)ep * n + i] = (uint32_t)idx[i];
		}
		if (write_floats(out, "order.u32", order, n * (size_t)epochs))
			return 1;
		free(order);
		free(idx);
	}

	train_opts o;
	train_report rep;
	train_opts_default(&o);
	o.epochs = epochs;
	o.batch = batch;
	o.seed = seed;
	double t0 = bench_now(), c0 = cpu_now();
	iotad_err rc = train_fit(&net, x, n, &o, &rep);
	double t1 = bench_now(), c1 = cpu_now();
	if (rc != IOTAD_OK) {
		fprintf(stderr, "bench_train: %s\n", iotad_strerror(rc));
		return 1;
	}
	printf("C trainer: %dx%d, layers %zu-12-6-12-%zu, %zu windows, %d epochs, batch %d: "
	       "%.4f s/epoch (CPU %.4f s), loss %.6g -> %.6g\n",
	       w, f, d, d, n, epochs, batch, (t1 - t0) / epochs, (c1 - c0) / epochs,
	       (double)rep.first_loss, (double)rep.final_loss);
	printf("RESULT train_c shape=%dx%d windows=%zu epochs=%d batch=%d s_per_epoch=%.6f "
	       "cpu_per_epoch=%.6f first_loss=%.8g final_loss=%.8g\n",
	       w, f, n, epochs, batch, (t1 - t0) / epochs, (c1 - c0) / epochs,
	       (double)rep.first_loss, (double)rep.final_loss);
	nn_free(&net);
	free(x);
	free(series);
	return 0;
}

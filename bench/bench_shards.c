/* bench_shards.c - core replay over scorer shards: the same telemetry
 * pushed through one detector by one thread, and through T detectors by T
 * threads, each owning the devices whose id hashes to it
 * (topic_device_shard, as the service's scorer threads do; routing is done
 * before the clock starts). det_push per sample, in each device's order.
 *
 * Prints samples/s of each, their ratio (wall clock, medians of --repeat
 * runs, alternating), and the threads' own CPU seconds: on a machine whose
 * other work takes CPU the wall-clock ratio drops while the CPU per sample
 * stays put.
 *
 * usage: bench_shards [--model FILE] [--samples N] [--devices N]
 *                     [--threads T] [--repeat R] */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"
#include "iotad/detector.h"
#include "iotad/topic.h"

#define SH_MAX_THREADS 64
#define SH_MAX_REPEAT 15

typedef struct shard_job {
	const model *m;
	const bench_data *data;
	char (*names)[16];
	size_t *idx;            /* this shard's samples, in order */
	size_t n;
	pthread_barrier_t *start;
	double cpu;             /* thread CPU seconds */
	size_t scored;
} shard_job;

static double thread_cpu(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void *run_shard(void *arg)
{
	shard_job *j = arg;
	det_config cfg;
	det *d;
	det_result res;
	det_config_default(&cfg);
	cfg.max_devices = (uint32_t)j->data->n_devices;
	if (det_create(j->m, &cfg, &d) != IOTAD_OK) {
		fprintf(stderr, "bench_shards: det_create failed\n");
		exit(1);
	}
	pthread_barrier_wait(j->start);
	double c0 = thread_cpu();
	j->scored = 0;
	for (size_t k = 0; k < j->n; k++) {
		size_t i = j->idx[k];
		if (det_push(d, j->names[j->data->device[i]], j->data->ts[i],
			     j->data->values + i * SIM_FEATURES, &res) != IOTAD_OK) {
			fprintf(stderr, "bench_shards: det_push failed\n");
			exit(1);
		}
		j->scored += res.scored;
	}
	j->cpu = thread_cpu() - c0;
	det_destroy(d);
	return NULL;
}

/* One replay with t threads: samples/s (wall) and CPU seconds (all threads). */
static double replay(const model *m, const bench_data *data, char (*names)[16], int t,
		     size_t **idx, const size_t *counts, double *cpu, size_t *scored)
{
	shard_job jobs[SH_MAX_THREADS];
	pthread_t th[SH_MAX_THREADS];
	pthread_barrier_t start;
	pthread_barrier_init(&start, NULL, (unsigned)t + 1);
	for (int k = 0; k < t; k++) {
		jobs[k] = (shard_job){.m = m, .data = data, .names = names, .idx = idx[k],
				      .n = counts[k], .start = &start};
		if (pthread_create(&th[k], NULL, run_shard, &jobs[k]) != 0) {
			fprintf(stderr, "bench_shards: cannot start a thread\n");
			exit(1);
		}
	}
	pthread_barrier_wait(&start);
	double t0 = bench_now();
	*cpu = 0;
	*scored = 0;
	for (int k = 0; k < t; k++) {
		pthread_join(th[k], NULL);
		*cpu += jobs[k].cpu;
		*scored += jobs[k].scored;
	}
	double wall = bench_now() - t0;
	pthread_barrier_destroy(&start);
	return (double)data->n / wall;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	const char *model_path = NULL;
	long samples = 1000000, devices = 100, threads = 2, repeat = 3;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--model") && i + 1 < argc)
			model_path = argv[++i];
		else if (!strcmp(argv[i], "--samples") && i + 1 < argc)
			samples = bench_arg_long("--samples", argv[++i], 100000000L);
		else if (!strcmp(argv[i], "--devices") && i + 1 < argc)
			devices = bench_arg_long("--devices", argv[++i], SIM_MAX_DEVICES);
		else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
			threads = bench_arg_long("--threads", argv[++i], SH_MAX_THREADS);
		else if (!strcmp(argv[i], "--repeat") && i + 1 < argc)
			repeat = bench_arg_long("--repeat", argv[++i], SH_MAX_REPEAT);
		else {
			fprintf(stderr, "usage: bench_shards [--model FILE] [--samples N] "
					"[--devices N] [--threads T] [--repeat R]\n");
			return 2;
		}
	}
	model m;
	bench_data data;
	if (bench_model(model_path, &m) != 0 ||
	    bench_data_init(&data, (size_t)samples, (int)devices, 42) != 0)
		return 1;
	char (*names)[16] = calloc((size_t)devices, sizeof *names);
	size_t *idx[SH_MAX_THREADS], counts[SH_MAX_THREADS] = {0};
	size_t *all = malloc((size_t)samples * sizeof *all);
	if (!names || !all)
		return 1;
	for (long d = 0; d < devices; d++)
		sim_device_name((int)d, names[d], sizeof names[d]);
	for (long k = 0; k < threads; k++)
		if (!(idx[k] = malloc((size_t)samples * sizeof *idx[k])))
			return 1;
	for (size_t i = 0; i < (size_t)samples; i++) {
		const char *nm = names[data.device[i]];
		uint32_t k = topic_device_shard(nm, strlen(nm), (uint32_t)threads);
		idx[k][counts[k]++] = i;
		all[i] = i;
	}
	size_t n_all = (size_t)samples;
	double r1[SH_MAX_REPEAT], rt[SH_MAX_REPEAT], c1[SH_MAX_REPEAT], ct[SH_MAX_REPEAT];
	size_t s1 = 0, st = 0;
	for (long r = 0; r < repeat; r++) {
		r1[r] = replay(&m, &data, names, 1, &all, &n_all, &c1[r], &s1);
		rt[r] = replay(&m, &data, names, (int)threads, idx, counts, &ct[r], &st);
	}
	if (s1 != st) {
		fprintf(stderr, "bench_shards: %zu windows scored by one thread, %zu by %ld\n", s1,
			st, threads);
		return 1;
	}
	qsort(r1, (size_t)repeat, sizeof *r1, cmp_double);
	qsort(rt, (size_t)repeat, sizeof *rt, cmp_double);
	qsort(c1, (size_t)repeat, sizeof *c1, cmp_double);
	qsort(ct, (size_t)repeat, sizeof *ct, cmp_double);
	double m1 = r1[repeat / 2], mt = rt[repeat / 2];
	printf("shards: %ld samples of %ld devices, model window %d x %d; shard sizes", samples,
	       devices, m.window, m.n_features);
	for (long k = 0; k < threads; k++)
		printf(" %zu", counts[k]);
	printf("\n  1 thread   %.0f samples/s, CPU %.3f s\n  %ld threads  %.0f samples/s, CPU %.3f s "
	       "(all threads)\n", m1, c1[repeat / 2], threads, mt, ct[repeat / 2]);
	printf("RESULT shards threads=%ld one_sps=%.0f many_sps=%.0f ratio=%.3f one_cpu_s=%.3f "
	       "many_cpu_s=%.3f scored=%zu\n", threads, m1, mt, mt / m1, c1[repeat / 2],
	       ct[repeat / 2], s1);
	for (long k = 0; k < threads; k++)
		free(idx[k]);
	free(all);
	free(names);
	bench_data_free(&data);
	return 0;
}

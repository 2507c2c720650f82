/* bench.h - helpers shared by the benchmarks: clocks, process figures,
 * simulated normal telemetry and the model under test. */
#ifndef IOTAD_BENCH_H
#define IOTAD_BENCH_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "iotad/model.h"
#include "iotad/sim.h"

/* Pre-generated telemetry in time order: n samples of SIM_FEATURES floats,
 * device index and device time of each. */
typedef struct bench_data {
	size_t n;
	int n_devices;
	float *values;          /* n * SIM_FEATURES */
	double *ts;             /* n */
	int *device;            /* n */
} bench_data;

/* CLOCK_MONOTONIC in seconds. */
double bench_now(void);
/* Resident set size of this process in bytes (/proc/self/statm); 0 if unknown. */
size_t bench_rss(void);
/* User + system CPU seconds of process pid (/proc/PID/stat); -1 if unknown. */
double bench_proc_cpu(pid_t pid);

/* Generate n normal samples of n_devices simulated devices (seeded). 0 on success. */
int bench_data_init(bench_data *d, size_t n, int n_devices, uint64_t seed);
void bench_data_free(bench_data *d);

/* Load the model at path, or when path is NULL train a small default-shaped
 * one in-process on simulated normal data. 0 on success, message on stderr. */
int bench_model(const char *path, model *m);

/* Parse a positive integer argument (1..max) or exit with a message. */
long bench_arg_long(const char *name, const char *s, long max);

#endif

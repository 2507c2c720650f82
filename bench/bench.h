/* bench.h - helpers shared by the benchmarks: clocks, process figures,
 * simulated normal telemetry and the model under test. */
#ifndef IOTAD_BENCH_H
#define IOTAD_BENCH_H

#include <stdbool.h>
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

/* --- processes, files and the broker (the benchmarks on a real broker) --- */

/* Names the program in messages and makes a temporary folder for its files
 * (/tmp/NAME.XXXXXX), removed at exit unless bench_keep_tmp(true). Exits
 * on failure. */
void bench_tmp_init(const char *prog);
/* Keep the temporary folder at exit (its path is printed then). */
void bench_keep_tmp(bool keep);
/* name inside the temporary folder; one of 8 rotating buffers. */
const char *bench_tmp_path(const char *name);
/* "PROG: msg" on stderr, exit 1. */
void bench_die(const char *msg) __attribute__((noreturn));
/* Writes text to path, or dies. */
void bench_write_file(const char *path, const char *text);
/* sleep of ms milliseconds, resumed after signals. */
void bench_sleep_ms(int ms);
/* Starts argv[0] with argv, stdout and stderr appended to log, stdin
 * from /dev/null; dies if fork fails. */
pid_t bench_spawn(char *const argv[], const char *log);
/* Signals pid and reaps it within timeout_s (SIGKILL after). Its exit
 * status (128 + signal when killed), or -1. */
int bench_stop_child(pid_t pid, int sig, double timeout_s);
/* A TCP port free on loopback just now, or -1. */
int bench_free_port(void);
/* Whether something listens on loopback port. */
bool bench_port_open(int port);
/* mosquitto on a free loopback port (no persistence, TCP_NODELAY, deep
 * queues) with extra configuration lines appended, its log in the
 * temporary folder; uri set to tcp://127.0.0.1:PORT. Dies if it does not
 * listen within 10 s. Returns its pid. */
pid_t bench_broker_start(const char *extra, char *uri, size_t urilen);

#endif

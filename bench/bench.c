/* bench.c - helpers shared by the benchmarks. */
#include "bench.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "iotad/train.h"
#include "iotad/model_io.h"

double bench_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

size_t bench_rss(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	unsigned long size, resident;
	int ok;

	if (!f)
		return 0;
	ok = fscanf(f, "%lu %lu", &size, &resident) == 2;
	fclose(f);
	return ok ? (size_t)resident * (size_t)sysconf(_SC_PAGESIZE) : 0;
}

double bench_proc_cpu(pid_t pid)
{
	char path[64], buf[1024];
	FILE *f;
	size_t n;
	char *p;
	unsigned long long utime, stime;

	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -1.0;
	n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* The command name may hold spaces: fields resume after the last ')'. */
	p = strrchr(buf, ')');
	if (!p)
		return -1.0;
	/* state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime */
	if (sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime,
		   &stime) != 2)
		return -1.0;
	return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

int bench_data_init(bench_data *d, size_t n, int n_devices, uint64_t seed)
{
	sim_opts o;
	sim *s;
	sim_sample smp;
	size_t i;

	memset(d, 0, sizeof *d);
	sim_opts_default(&o);
	o.n_devices = n_devices;
	o.clean_devices = n_devices;
	o.interval = 1.0;
	o.duration = (double)((n + (size_t)n_devices - 1) / (size_t)n_devices);
	o.start_ts = 1700000000.0;
	o.seed = seed;
	if (sim_create(&o, &s) != IOTAD_OK) {
		fprintf(stderr, "bench: cannot create the simulator\n");
		return -1;
	}
	d->values = malloc(n * SIM_FEATURES * sizeof *d->values);
	d->ts = malloc(n * sizeof *d->ts);
	d->device = malloc(n * sizeof *d->device);
	if (!d->values || !d->ts || !d->device) {
		sim_destroy(s);
		bench_data_free(d);
		fprintf(stderr, "bench: out of memory for %zu samples\n", n);
		return -1;
	}
	for (i = 0; i < n && sim_next(s, &smp); i++) {
		memcpy(d->values + i * SIM_FEATURES, smp.values, sizeof smp.values);
		d->ts[i] = smp.ts;
		d->device[i] = smp.device;
	}
	sim_destroy(s);
	if (i != n) {
		bench_data_free(d);
		fprintf(stderr, "bench: the simulator stopped after %zu of %zu samples\n", i, n);
		return -1;
	}
	d->n = n;
	d->n_devices = n_devices;
	return 0;
}

void bench_data_free(bench_data *d)
{
	free(d->values);
	free(d->ts);
	free(d->device);
	memset(d, 0, sizeof *d);
}

int bench_model(const char *path, model *m)
{
	char err[512];
	train_opts o;
	bench_data d;
	iotad_err e;

	memset(m, 0, sizeof *m);
	if (path) {
		if (model_load(path, m, err, sizeof err) != IOTAD_OK) {
			fprintf(stderr, "bench: model %s: %s\n", path, err);
			return -1;
		}
		return 0;
	}
	/* Eight devices, two hours each at 1 s, laid out device after device
	 * so that only the few windows at a boundary mix two devices. */
	enum { TRAIN_DEVICES = 8, TRAIN_STEPS = 2 * 3600 };
	if (bench_data_init(&d, TRAIN_DEVICES * TRAIN_STEPS, TRAIN_DEVICES, 7) != 0)
		return -1;
	float *rows = malloc(d.n * SIM_FEATURES * sizeof *rows);
	if (!rows) {
		bench_data_free(&d);
		return -1;
	}
	for (size_t i = 0; i < d.n; i++) {
		size_t step = i / TRAIN_DEVICES, dev = (size_t)d.device[i];
		memcpy(rows + (dev * TRAIN_STEPS + step) * SIM_FEATURES,
		       d.values + i * SIM_FEATURES, SIM_FEATURES * sizeof *rows);
	}
	train_opts_default(&o);
	o.epochs = 5;
	snprintf(m->id, sizeof m->id, "bench-inprocess");
	m->version = 1;
	for (int f = 0; f < SIM_FEATURES; f++)
		snprintf(m->features[f], sizeof m->features[f], "%s", sim_feature_names[f]);
	e = train_model(rows, d.n, SIM_FEATURES, &o, m, err, sizeof err);
	free(rows);
	bench_data_free(&d);
	if (e != IOTAD_OK) {
		fprintf(stderr, "bench: training: %s\n", err);
		return -1;
	}
	return 0;
}

long bench_arg_long(const char *name, const char *s, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < 1 || v > max) {
		fprintf(stderr, "%s: expected an integer in 1..%ld, got \"%s\"\n", name, max, s);
		exit(2);
	}
	return v;
}

/* --- processes, files and the broker ------------------------------------- */

static const char *bench_prog = "bench";
static char bench_tmpdir[256];
static bool bench_keep;

void bench_die(const char *msg)
{
	fprintf(stderr, "%s: %s\n", bench_prog, msg);
	exit(1);
}

static void bench_remove_tmp(void)
{
	char cmd[PATH_MAX + 16];

	if (bench_keep) {
		fprintf(stderr, "%s: kept %s\n", bench_prog, bench_tmpdir);
		return;
	}
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", bench_tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "%s: could not remove %s\n", bench_prog, bench_tmpdir);
}

void bench_tmp_init(const char *prog)
{
	bench_prog = prog;
	snprintf(bench_tmpdir, sizeof bench_tmpdir, "/tmp/%s.XXXXXX", prog);
	if (!mkdtemp(bench_tmpdir))
		bench_die("mkdtemp failed");
	atexit(bench_remove_tmp);
}

void bench_keep_tmp(bool keep)
{
	bench_keep = keep;
}

const char *bench_tmp_path(const char *name)
{
	static char bufs[8][PATH_MAX];
	static int next;
	char *b = bufs[next++ % 8];

	snprintf(b, PATH_MAX, "%s/%s", bench_tmpdir, name);
	return b;
}

void bench_write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (!f || fputs(text, f) < 0 || fclose(f) != 0)
		bench_die("cannot write a file in the temporary directory");
}

void bench_sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

pid_t bench_spawn(char *const argv[], const char *log)
{
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
		int null = open("/dev/null", O_RDONLY);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
		}
		if (null >= 0)
			dup2(null, 0);
		execv(argv[0], argv);
		fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	if (pid < 0)
		bench_die("fork failed");
	return pid;
}

int bench_stop_child(pid_t pid, int sig, double timeout_s)
{
	int st;
	double end = bench_now() + timeout_s;

	kill(pid, sig);
	while (bench_now() < end) {
		pid_t r = waitpid(pid, &st, WNOHANG);
		if (r == pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		if (r < 0)
			return -1;
		bench_sleep_ms(20);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	return -1;
}

int bench_free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof a;
	int port = -1;

	if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &al) == 0)
		port = ntohs(a.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

bool bench_port_open(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	bool ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0;

	if (fd >= 0)
		close(fd);
	return ok;
}

pid_t bench_broker_start(const char *extra, char *uri, size_t urilen)
{
	int port = bench_free_port();
	char text[1024];

	if (port < 0)
		bench_die("no free loopback port");
	snprintf(uri, urilen, "tcp://127.0.0.1:%d", port);
	snprintf(text, sizeof text,
		 "listener %d 127.0.0.1\n"
		 "allow_anonymous true\n"
		 "max_queued_messages 1000000\n"
		 "set_tcp_nodelay true\n"
		 "persistence false\n"
		 "%s",
		 port, extra ? extra : "");
	bench_write_file(bench_tmp_path("mosquitto.conf"), text);
	char *argv[] = {"/usr/sbin/mosquitto", "-c", (char *)bench_tmp_path("mosquitto.conf"), NULL};
	pid_t pid = bench_spawn(argv, bench_tmp_path("mosquitto.log"));
	for (int waited = 0; !bench_port_open(port); waited += 50) {
		if (waited > 10000)
			bench_die("mosquitto did not start (see its mosquitto.log)");
		bench_sleep_ms(50);
	}
	return pid;
}

/* bench_memory.c - memory cost of one device, measured against the
 * detector's own figure.
 *
 * Baseline: det_bytes_per_device() (struct + window + share of the table,
 * without malloc's overhead). Measured: growth of the resident set and of
 * malloc's in-use bytes from before det_create to after 100,000 devices
 * have each sent one sample.
 *
 * usage: bench_memory [--model FILE] [--devices N] */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "iotad/detector.h"

int main(int argc, char **argv)
{
	const char *model_path = NULL;
	long n = 100000;
	model m;
	det_config cfg;
	det *d;
	char name[DET_DEVICE_ID_MAX];
	float raw[MODEL_MAX_FEATURES];

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--model") && i + 1 < argc)
			model_path = argv[++i];
		else if (!strcmp(argv[i], "--devices") && i + 1 < argc)
			n = bench_arg_long("--devices", argv[++i], 10000000L);
		else {
			fprintf(stderr, "usage: bench_memory [--model FILE] [--devices N]\n");
			return 2;
		}
	}
	if (bench_model(model_path, &m) != 0)
		return 1;
	/* A mid-range raw sample: the values do not change the memory. */
	for (int f = 0; f < m.n_features; f++)
		raw[f] = m.norm_a[f];

	det_config_default(&cfg);
	cfg.max_devices = (uint32_t)n;
	/* Let malloc settle before the first reading. */
	malloc_trim(0);
	size_t rss0 = bench_rss();
	size_t heap0 = mallinfo2().uordblks + mallinfo2().hblkhd;
	if (det_create(&m, &cfg, &d) != IOTAD_OK) {
		fprintf(stderr, "bench_memory: det_create failed\n");
		return 1;
	}
	for (long i = 0; i < n; i++) {
		snprintf(name, sizeof name, "sensor-%06ld", i);
		if (det_push(d, name, 1700000000.0, raw, NULL) != IOTAD_OK) {
			fprintf(stderr, "bench_memory: det_push failed for device %ld\n", i);
			return 1;
		}
	}
	size_t rss1 = bench_rss();
	size_t heap1 = mallinfo2().uordblks + mallinfo2().hblkhd;
	if (det_device_count(d) != (size_t)n) {
		fprintf(stderr, "bench_memory: %zu devices in the table, expected %ld\n",
			det_device_count(d), n);
		return 1;
	}

	double formula = (double)det_bytes_per_device(d);
	double by_rss = (double)(rss1 - rss0) / (double)n;
	double by_heap = (double)(heap1 - heap0) / (double)n;
	printf("memory: model %s, window %d x %d features; %ld devices, one sample each\n", m.id,
	       m.window, m.n_features, n);
	printf("memory: det_bytes_per_device %.0f B; measured RSS %.0f B/device (%.1f MiB in all), "
	       "malloc in use %.0f B/device\n",
	       formula, by_rss, (double)(rss1 - rss0) / 1048576.0, by_heap);
	printf("memory: ratio measured RSS/formula %.2f, malloc/formula %.2f\n", by_rss / formula,
	       by_heap / formula);
	printf("RESULT memory formula_bytes=%.0f rss_bytes=%.1f malloc_bytes=%.1f ratio=%.3f\n",
	       formula, by_rss, by_heap, by_rss / formula);

	det_destroy(d);
	model_free(&m);
	return 0;
}

/* test_healthy.c - no device stays raised forever on normal data: a healthy
 * simulated fleet (1,000 devices, one sample a minute, several days; the
 * sim core, no anomalies) through the detector with each device's own
 * normal and the lifecycle rules on. None is raised at the end. The model
 * alone and the rules off are printed beside it for comparison. Suite "slow" (meson test --suite slow):
 * IOTAD_FLEET_DEVICES and IOTAD_FLEET_DAYS change the size. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "iotad/detector.h"
#include "iotad/sim.h"
#include "iotad/train.h"
#include "test.h"

#define FLEET_INTERVAL 60.0

static int env_int(const char *name, int def)
{
	const char *v = getenv(name);
	return v && atoi(v) > 0 ? atoi(v) : def;
}

/* A model trained on a day of 20 other healthy devices, as the README
 * says to train one. */
static void fleet_model(model *m)
{
	enum { DEV = 20 };
	sim_opts so;
	sim *s;
	sim_sample x;
	sim_opts_default(&so);
	so.n_devices = DEV;
	so.clean_devices = DEV;
	so.interval = FLEET_INTERVAL;
	so.duration = 86400.0;
	so.seed = 4242;
	CU_ASSERT_EQUAL_FATAL(sim_create(&so, &s), IOTAD_OK);
	size_t per = (size_t)(so.duration / so.interval), n = 0;
	float *rows = calloc(DEV * per * SIM_FEATURES, sizeof *rows);
	size_t *fill = calloc(DEV, sizeof *fill), seg[DEV];
	CU_ASSERT_FATAL(rows && fill);
	while (sim_next(s, &x)) {
		size_t i = fill[x.device]++;
		if (i < per)
			memcpy(rows + ((size_t)x.device * per + i) * SIM_FEATURES, x.values,
			       sizeof x.values);
		n++;
	}
	sim_destroy(s);
	for (int d = 0; d < DEV; d++)
		seg[d] = per;
	memset(m, 0, sizeof *m);
	snprintf(m->id, sizeof m->id, "fleet-ae");
	m->version = 1;
	for (int f = 0; f < SIM_FEATURES; f++)
		snprintf(m->features[f], sizeof m->features[f], "%s", sim_feature_names[f]);
	train_opts to;
	train_opts_default(&to);
	to.epochs = 8;
	to.segments = seg;
	to.n_segments = DEV;
	char err[256];
	iotad_err e = train_model(rows, DEV * per, SIM_FEATURES, &to, m, err, sizeof err);
	if (e != IOTAD_OK)
		fprintf(stderr, "\n    training: %s\n", err);
	CU_ASSERT_EQUAL_FATAL(e, IOTAD_OK);
	free(rows);
	free(fill);
}

typedef struct fleet_figures {
	unsigned raised, cleared, adapted, learned, raised_at_end;
	unsigned blame[SIM_FEATURES]; /* devices raised at the end, by the feature blamed most */
	double longest;        /* seconds, of a raise that ended */
	double seconds;        /* wall time of the run */
} fleet_figures;

static void fleet_run(const model *m, const det_config *cfg, int n_dev, int days,
		      fleet_figures *out)
{
	sim_opts so;
	sim *s;
	sim_sample x;
	det *d;
	det_result r;
	char name[32];
	memset(out, 0, sizeof *out);
	sim_opts_default(&so);
	so.n_devices = n_dev;
	so.clean_devices = n_dev;
	so.interval = FLEET_INTERVAL;
	so.duration = days * 86400.0;
	so.seed = 7;
	CU_ASSERT_EQUAL_FATAL(sim_create(&so, &s), IOTAD_OK);
	CU_ASSERT_EQUAL_FATAL(det_create(m, cfg, &d), IOTAD_OK);
	bool *up = calloc((size_t)n_dev, sizeof *up);
	double *since = calloc((size_t)n_dev, sizeof *since);
	int *top = calloc((size_t)n_dev, sizeof *top);
	CU_ASSERT_FATAL(up && since && top);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (sim_next(s, &x)) {
		sim_device_name(x.device, name, sizeof name);
		CU_ASSERT_EQUAL_FATAL(det_push(d, name, x.ts, x.values, &r), IOTAD_OK);
		switch (r.event) {
		case ALERT_EV_RAISED:
			out->raised++;
			up[x.device] = true;
			since[x.device] = x.ts;
			top[x.device] = 0;
			for (int f = 1; f < SIM_FEATURES; f++)
				if (r.contrib[f] > r.contrib[top[x.device]])
					top[x.device] = f;
			break;
		case ALERT_EV_CLEARED:
		case ALERT_EV_ADAPTED:
			out->cleared += r.event == ALERT_EV_CLEARED;
			out->adapted += r.event == ALERT_EV_ADAPTED;
			if (up[x.device] && x.ts - since[x.device] > out->longest)
				out->longest = x.ts - since[x.device];
			up[x.device] = false;
			break;
		case ALERT_EV_LEARNED:
			out->learned++;
			break;
		default:
			break;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	out->seconds = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) * 1e-9;
	for (int i = 0; i < n_dev; i++) {
		out->raised_at_end += up[i];
		out->blame[top[i]] += up[i];
	}
	free(up);
	free(top);
	free(since);
	det_destroy(d);
	sim_destroy(s);
}

static void print_figures(const char *what, const fleet_figures *f, int n_dev, int days)
{
	printf("\n    %s: raised %u (%.3f per device-day), cleared %u, adapted %u, learned %u, "
	       "raised at the end %u, longest raise %.1f h, %.1f s",
	       what, f->raised, f->raised / ((double)n_dev * days), f->cleared, f->adapted,
	       f->learned, f->raised_at_end, f->longest / 3600.0, f->seconds);
	if (f->raised_at_end)
		printf(" (blamed: %s %u, %s %u, %s %u)", sim_feature_names[0], f->blame[0],
		       sim_feature_names[1], f->blame[1], sim_feature_names[2], f->blame[2]);
}

static void test_healthy_fleet(void)
{
	int n_dev = env_int("IOTAD_FLEET_DEVICES", 1000), days = env_int("IOTAD_FLEET_DAYS", 3);
	model m;
	fleet_model(&m);
	det_config cfg;
	det_config_default(&cfg);
	cfg.max_devices = (uint32_t)n_dev;
	fleet_figures ae, off, on;
	printf("\n    %d healthy devices x %d days, one sample a minute", n_dev, days);
	/* the model alone, one fleet-wide scale */
	cfg.prof.channels = 0;
	fleet_run(&m, &cfg, n_dev, days, &ae);
	print_figures("model alone, rules off", &ae, n_dev, days);

	/* each device's own normal (the profile: its channels, and the model
	 * fed samples shifted by the device's level), learned in a day */
	det_config_default(&cfg);
	cfg.max_devices = (uint32_t)n_dev;
	cfg.prof.learn = 1440;
	cfg.ae_device_norm = true;
	fleet_run(&m, &cfg, n_dev, days, &off);
	print_figures("own normal, rules off", &off, n_dev, days);

	/* and the lifecycle: learning the first day, hold 10 min, 30 min of
	 * quiet before a clear, adapt after 6 h */
	cfg.learn_samples = 1440;
	cfg.alert.hold = 600.0;
	cfg.alert.quiet = 1800.0;
	cfg.alert.adapt_after = 6 * 3600.0;
	fleet_run(&m, &cfg, n_dev, days, &on);
	print_figures("own normal, rules on ", &on, n_dev, days);
	CU_ASSERT_EQUAL(on.raised_at_end, 0);
	CU_ASSERT_EQUAL(on.learned, (unsigned)n_dev + on.adapted);
	CU_ASSERT_TRUE(on.longest <= cfg.alert.adapt_after + FLEET_INTERVAL);
	model_free(&m);
}

void init_healthy_tests(void)
{
	CU_pSuite s = CU_add_suite("healthy", NULL, NULL);
	TEST_ADD(s, test_healthy_fleet);
}

/* test_fleet.c - unit tests of the simulator's fleet mode: each device
 * kind's normal behaviour has the property it claims, runs are determined
 * by the seed, every anomaly and benign kind is in the truth and changes
 * the samples as claimed, and a dropout sends nothing. */
#include <math.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "iotad/sim.h"
#include "test.h"

#define START 1700000000.0 /* a Tuesday, 22:13 UTC */
#define DAY 86400.0

/* A run on a grid: sample of (step, device) at [step * nd + device]. */
typedef struct grid {
	sim_opts o;
	size_t steps;
	int nd;
	float *v;               /* 3 values a cell */
	uint8_t *present;
	uint8_t *label;
	sim_anomaly *truth;
	size_t n_truth;
	sim_device_kind kind[64];
	int site[64];
} grid;

static sim_opts fleet_opts(uint64_t seed, int devices, double days)
{
	sim_opts o;
	sim_opts_default(&o);
	o.fleet = true;
	o.n_devices = devices;
	o.interval = 10.0;
	o.duration = days * DAY;
	o.start_ts = START;
	o.warmup = 3600.0;
	o.kinds = SIM_FLEET_KINDS;
	o.anomaly_every = 43200.0;
	o.seed = seed;
	return o;
}

static int grid_run(const sim_opts *o, grid *g)
{
	memset(g, 0, sizeof *g);
	g->o = *o;
	g->nd = o->n_devices;
	g->steps = (size_t)ceil(o->duration / o->interval - 1e-9);
	size_t cells = g->steps * (size_t)g->nd;
	sim *s = NULL;
	if (g->nd > 64 || sim_create(o, &s) != IOTAD_OK)
		return -1;
	g->v = calloc(cells * 3, sizeof *g->v);
	g->present = calloc(cells, 1);
	g->label = calloc(cells, 1);
	const sim_anomaly *t = sim_truth(s, &g->n_truth);
	g->truth = malloc((g->n_truth + 1) * sizeof *g->truth);
	if (!g->v || !g->present || !g->label || !g->truth) {
		sim_destroy(s);
		return -1;
	}
	memcpy(g->truth, t, g->n_truth * sizeof *t);
	for (int d = 0; d < g->nd; d++) {
		g->kind[d] = sim_device_kind_of(s, d);
		g->site[d] = sim_device_site(s, d);
	}
	sim_sample x;
	double last = -1.0;
	int bad = 0;
	while (sim_next(s, &x)) {
		size_t k = (size_t)llround((x.ts - o->start_ts) / o->interval);
		bad += x.ts < last || k >= g->steps || x.device < 0 || x.device >= g->nd;
		if (k >= g->steps)
			continue;
		size_t c = k * (size_t)g->nd + (size_t)x.device;
		memcpy(&g->v[3 * c], x.values, sizeof x.values);
		g->present[c] = 1;
		g->label[c] = (uint8_t)x.label;
		last = x.ts;
	}
	sim_destroy(s);
	CU_ASSERT_EQUAL(bad, 0);
	return 0;
}

static void grid_free(grid *g)
{
	free(g->v);
	free(g->present);
	free(g->label);
	free(g->truth);
	memset(g, 0, sizeof *g);
}

static double val(const grid *g, size_t k, int d, int f)
{
	return g->v[3 * (k * (size_t)g->nd + (size_t)d) + (size_t)f];
}

static size_t step_at(const grid *g, double ts)
{
	double k = ceil((ts - g->o.start_ts) / g->o.interval - 1e-9);
	return k < 0 ? 0 : k > (double)g->steps ? g->steps : (size_t)k;
}

static double mean_of(const grid *g, int d, int f, size_t k0, size_t k1)
{
	double s = 0;
	size_t n = 0;
	for (size_t k = k0; k < k1; k++) {
		if (!g->present[k * (size_t)g->nd + (size_t)d])
			continue;
		s += val(g, k, d, f);
		n++;
	}
	return n ? s / (double)n : NAN;
}

/* Pearson correlation of feature fa of device a and fb of device b. */
static double corr(const grid *g, int a, int fa, int b, int fb, size_t k0, size_t k1)
{
	double sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0, n = 0;
	for (size_t k = k0; k < k1; k++) {
		double x = val(g, k, a, fa), y = val(g, k, b, fb);
		sx += x, sy += y, sxx += x * x, syy += y * y, sxy += x * y, n++;
	}
	double cov = sxy / n - sx / n * sy / n;
	double vx = sxx / n - sx / n * sx / n, vy = syy / n - sy / n * sy / n;
	return vx > 0 && vy > 0 ? cov / sqrt(vx * vy) : 0.0;
}

/* Least-squares slope of feature fy on feature fx of device d. */
static double slope(const grid *g, int d, int fx, int fy, size_t k0, size_t k1)
{
	double sx = 0, sy = 0, sxx = 0, sxy = 0, n = 0;
	for (size_t k = k0; k < k1; k++) {
		double x = val(g, k, d, fx), y = val(g, k, d, fy);
		sx += x, sy += y, sxx += x * x, sxy += x * y, n++;
	}
	double vx = sxx / n - sx / n * sx / n;
	return vx > 0 ? (sxy / n - sx / n * sy / n) / vx : 0.0;
}

/* Clean (no event at all) devices of each kind. */
static sim_opts quiet_opts(uint64_t seed, int devices, double days)
{
	sim_opts o = fleet_opts(seed, devices, days);
	o.clean_devices = devices;
	o.benign = 0;
	return o;
}

static void test_fleet_bad_options(void)
{
	sim *s = NULL;
	sim_opts o = fleet_opts(1, 5, 1);
	o.duration = INFINITY;
	CU_ASSERT_EQUAL(sim_create(&o, &s), IOTAD_ERR_INVAL);
	o = fleet_opts(1, 5, 1);
	o.device_kinds = 1u << SIM_DEV_SENSOR;
	CU_ASSERT_EQUAL(sim_create(&o, &s), IOTAD_ERR_INVAL);
	o = fleet_opts(1, 5, 1);
	o.site_size = 0;
	CU_ASSERT_EQUAL(sim_create(&o, &s), IOTAD_ERR_RANGE);
	o = fleet_opts(1, 5, 1);
	o.benign = 1u << SIM_SPIKE;
	CU_ASSERT_EQUAL(sim_create(&o, &s), IOTAD_ERR_INVAL);
	o = fleet_opts(1, 5, 1);
	o.benign_every = 0.0;
	CU_ASSERT_EQUAL(sim_create(&o, &s), IOTAD_ERR_RANGE);
	/* the classic mode knows none of the fleet's anomalies */
	o = fleet_opts(1, 5, 1);
	o.fleet = false;
	o.kinds = 1u << SIM_LEVEL;
	CU_ASSERT_EQUAL(sim_create(&o, &s), IOTAD_ERR_INVAL);
	CU_ASSERT_PTR_NULL(s);
	sim_device_kind k;
	CU_ASSERT_EQUAL(sim_device_kind_parse("cold", &k), 0);
	CU_ASSERT_EQUAL(k, SIM_DEV_COLD);
	CU_ASSERT_EQUAL(sim_device_kind_parse("fridge", &k), -1);
	CU_ASSERT_TRUE(sim_kind_benign(SIM_FRONT));
	CU_ASSERT_FALSE(sim_kind_benign(SIM_DROPOUT));
}

/* The fleet's fields leave the classic mode as it was. */
static void test_fleet_fields_leave_classic(void)
{
	sim_opts a, b;
	sim_opts_default(&a);
	a.duration = 600.0;
	b = a;
	b.device_kinds = 1u << SIM_DEV_COLD;
	b.mix = SIM_MIX_SEED;
	b.site_size = 2;
	b.benign = 0;
	b.benign_every = 5.0;
	sim *sa = NULL, *sb = NULL;
	CU_ASSERT_EQUAL_FATAL(sim_create(&a, &sa), IOTAD_OK);
	CU_ASSERT_EQUAL_FATAL(sim_create(&b, &sb), IOTAD_OK);
	sim_sample x, y;
	int diff = 0, n = 0;
	while (sim_next(sa, &x)) {
		CU_ASSERT_TRUE_FATAL(sim_next(sb, &y));
		diff += memcmp(x.values, y.values, sizeof x.values) != 0 || x.label != y.label;
		n++;
	}
	CU_ASSERT_EQUAL(diff, 0);
	CU_ASSERT(n > 0);
	char name[32];
	sim_device_label(sa, 3, name, sizeof name);
	CU_ASSERT_STRING_EQUAL(name, "sensor-003");
	CU_ASSERT_EQUAL(sim_device_kind_of(sa, 3), SIM_DEV_SENSOR);
	sim_destroy(sa);
	sim_destroy(sb);
}

static void test_fleet_determinism_and_kinds(void)
{
	sim_opts o = fleet_opts(5, 12, 0.5);
	grid a, b, c;
	CU_ASSERT_EQUAL_FATAL(grid_run(&o, &a), 0);
	CU_ASSERT_EQUAL_FATAL(grid_run(&o, &b), 0);
	o.seed = 6;
	CU_ASSERT_EQUAL_FATAL(grid_run(&o, &c), 0);
	size_t cells = a.steps * (size_t)a.nd;
	CU_ASSERT_EQUAL(memcmp(a.v, b.v, cells * 3 * sizeof *a.v), 0);
	CU_ASSERT_EQUAL(memcmp(a.present, b.present, cells), 0);
	CU_ASSERT_EQUAL(a.n_truth, b.n_truth);
	CU_ASSERT_EQUAL(memcmp(a.truth, b.truth, a.n_truth * sizeof *a.truth), 0);
	CU_ASSERT_NOT_EQUAL(memcmp(a.v, c.v, cells * 3 * sizeof *a.v), 0);
	/* round robin in enum order */
	for (int d = 0; d < a.nd; d++)
		CU_ASSERT_EQUAL(a.kind[d], (sim_device_kind)(SIM_DEV_OFFICE + d % 5));
	grid_free(&a);
	grid_free(&b);
	grid_free(&c);

	/* by seed: deterministic, several kinds, names carry the kind */
	o = fleet_opts(5, 40, 0.01);
	o.mix = SIM_MIX_SEED;
	sim *s1 = NULL, *s2 = NULL;
	CU_ASSERT_EQUAL_FATAL(sim_create(&o, &s1), IOTAD_OK);
	CU_ASSERT_EQUAL_FATAL(sim_create(&o, &s2), IOTAD_OK);
	unsigned seen = 0;
	for (int d = 0; d < 40; d++) {
		CU_ASSERT_EQUAL(sim_device_kind_of(s1, d), sim_device_kind_of(s2, d));
		seen |= 1u << sim_device_kind_of(s1, d);
	}
	CU_ASSERT_EQUAL(seen, SIM_ALL_DEVICE_KINDS);
	char name[32], want[32];
	sim_device_label(s1, 7, name, sizeof name);
	snprintf(want, sizeof want, "%s-007", sim_device_kind_name(sim_device_kind_of(s1, 7)));
	CU_ASSERT_STRING_EQUAL(name, want);
	sim_destroy(s1);
	sim_destroy(s2);
}

static int cmp_float(const void *a, const void *b)
{
	float x = *(const float *)a, y = *(const float *)b;
	return (x > y) - (x < y);
}

/* Cold room: compressor cycles of 10-30 min between defrosts, 3-6 defrosts
 * a day that heat it well above its band, door openings by day only. */
static void test_fleet_cold_room(void)
{
	sim_opts o = quiet_opts(11, 4, 2.0);
	o.device_kinds = 1u << SIM_DEV_COLD;
	grid g;
	CU_ASSERT_EQUAL_FATAL(grid_run(&o, &g), 0);
	for (int d = 0; d < g.nd; d++) {
		/* the median is the middle of the thermostat's band */
		float *t = malloc(g.steps * sizeof *t);
		for (size_t k = 0; k < g.steps; k++)
			t[k] = (float)val(&g, k, d, 0);
		float *sorted = malloc(g.steps * sizeof *sorted);
		memcpy(sorted, t, g.steps * sizeof *t);
		qsort(sorted, g.steps, sizeof *sorted, cmp_float);
		double med = sorted[g.steps / 2];
		free(sorted);
		int cycles = 0, defrosts = 0, low = 0, hot = 0;
		float *len = malloc(g.steps * sizeof *len);
		size_t last_up = 0;
		for (size_t k = 0; k < g.steps; k++) {
			if (t[k] < med - 0.4)
				low = 1;
			if (low && t[k] > med + 0.4) {
				if (last_up)
					len[cycles++] = (float)(k - last_up);
				last_up = k;
				low = 0;
			}
			if (!hot && t[k] > med + 4.0) {
				defrosts++;
				hot = 1;
			} else if (hot && t[k] < med) {
				hot = 0;
			}
		}
		/* the median cycle: defrosts and doors make a few long or short ones */
		qsort(len, (size_t)cycles, sizeof *len, cmp_float);
		double period_min = cycles ? len[cycles / 2] * g.o.interval / 60.0 : 0.0;
		free(len);
		CU_ASSERT(cycles >= 2 * 40);
		CU_ASSERT(period_min >= 10.0 && period_min <= 30.0);
		CU_ASSERT(defrosts >= 2 * 3 && defrosts <= 2 * 6 + 4); /* doors may add a few */
		/* doors: humidity bumps by day (6-20 h), none at night */
		int day_bumps = 0, night_bumps = 0;
		double h_med = mean_of(&g, d, 1, 0, g.steps);
		for (size_t k = 0; k < g.steps; k++) {
			double hour = fmod(START + (double)k * g.o.interval, DAY) / 3600.0;
			bool bump = val(&g, k, d, 1) >= h_med + 8.0;
			*(hour >= 6.0 && hour < 21.0 ? &day_bumps : &night_bumps) += bump;
		}
		CU_ASSERT(day_bumps > 0);
		CU_ASSERT_EQUAL(night_bumps, 0);
		free(t);
	}
	grid_free(&g);
}

/* Outdoor: stations of one site move together; RH falls as T rises. */
static void test_fleet_outdoor(void)
{
	sim_opts o = quiet_opts(12, 8, 1.0);
	o.device_kinds = 1u << SIM_DEV_OUTDOOR;
	o.site_size = 4;
	grid g;
	CU_ASSERT_EQUAL_FATAL(grid_run(&o, &g), 0);
	CU_ASSERT_EQUAL(g.site[0], 0);
	CU_ASSERT_EQUAL(g.site[3], 0);
	CU_ASSERT_EQUAL(g.site[4], 1);
	for (int d = 1; d < 4; d++)
		CU_ASSERT(corr(&g, 0, 0, d, 0, 0, g.steps) > 0.95);
	for (int d = 0; d < g.nd; d++)
		CU_ASSERT(corr(&g, d, 0, d, 1, 0, g.steps) < -0.8);
	/* two sites have their own weather: apart more than a station's offset */
	double diff = 0;
	for (size_t k = 0; k < g.steps; k++)
		diff += fabs(val(&g, k, 0, 0) - val(&g, k, 4, 0));
	CU_ASSERT(diff / (double)g.steps > 1.0);
	grid_free(&g);
}

/* Office (warm by day on weekdays, lag), server room (tight band),
 * greenhouse (sun by day, vents cap it, RH down by day); resolutions. */
static void test_fleet_indoor(void)
{
	sim_opts o = quiet_opts(13, 15, 1.0);
	o.device_kinds = (1u << SIM_DEV_OFFICE) | (1u << SIM_DEV_SERVER) | (1u << SIM_DEV_GREENHOUSE);
	grid g;
	CU_ASSERT_EQUAL_FATAL(grid_run(&o, &g), 0);
	/* START is 22:13 on a Tuesday: Wednesday 02-05 h and 11-16 h */
	size_t n0 = step_at(&g, START + 3.8 * 3600), n1 = step_at(&g, START + 6.8 * 3600);
	size_t d0 = step_at(&g, START + 12.8 * 3600), d1 = step_at(&g, START + 17.8 * 3600);
	static const double res[3][2] = {{0.1, 0.5}, {0.01, 0.1}, {0.05, 0.5}};
	for (int d = 0; d < g.nd; d++) {
		int kind = d % 3; /* office, server, greenhouse */
		double night = mean_of(&g, d, 0, n0, n1), day = mean_of(&g, d, 0, d0, d1);
		double hn = mean_of(&g, d, 1, n0, n1), hd = mean_of(&g, d, 1, d0, d1);
		if (kind == 0) {
			CU_ASSERT(day - night >= 2.0);
			CU_ASSERT(hd < hn);
		} else if (kind == 1) {
			double lo = 1e9, hi = -1e9;
			for (size_t k = 0; k < g.steps; k++) {
				lo = fmin(lo, val(&g, k, d, 0));
				hi = fmax(hi, val(&g, k, d, 0));
			}
			CU_ASSERT(hi - lo < 2.0);
			CU_ASSERT(fabs(day - night) < 0.5);
		} else {
			CU_ASSERT(day - night >= 4.0);
			CU_ASSERT(day < 32.0); /* vents */
			CU_ASSERT(hd < hn - 10.0);
		}
		int off = 0;
		for (size_t k = 0; k < g.steps; k++)
			for (int f = 0; f < 2; f++) {
				double q = val(&g, k, d, f) / res[kind][f];
				off += fabs(q - round(q)) > 1e-3 * fmax(1.0, fabs(q));
			}
		CU_ASSERT_EQUAL(off, 0);
	}
	grid_free(&g);
}

/* Every kind is in the truth; benign ones label no sample; anomalies label
 * exactly their window; a dropout sends nothing. */
static void test_fleet_truth(void)
{
	sim_opts o = fleet_opts(21, 30, 3.0);
	o.anomaly_every = 4 * 3600.0;
	o.benign_every = 12 * 3600.0;
	grid g;
	CU_ASSERT_EQUAL_FATAL(grid_run(&o, &g), 0);
	unsigned kinds = 0;
	int bad_label = 0, bad_drop = 0, overlap = 0;
	for (size_t i = 0; i < g.n_truth; i++) {
		const sim_anomaly *a = &g.truth[i];
		kinds |= 1u << a->kind;
		CU_ASSERT(a->end > a->start);
		for (size_t j = i + 1; j < g.n_truth; j++)
			if (g.truth[j].device == a->device && g.truth[j].start < a->end &&
			    g.truth[j].end > a->start)
				overlap++;
		size_t k0 = step_at(&g, a->start), k1 = step_at(&g, a->end);
		for (size_t k = k0; k < k1; k++) {
			size_t c = k * (size_t)g.nd + (size_t)a->device;
			if (a->kind == SIM_DROPOUT)
				bad_drop += g.present[c];
			else if (!sim_kind_benign(a->kind))
				bad_label += g.label[c] != a->kind;
			else
				bad_label += g.label[c] != SIM_NONE;
		}
		if (a->kind == SIM_FRONT)
			CU_ASSERT_EQUAL(g.kind[a->device], SIM_DEV_OUTDOOR);
		if (a->kind == SIM_SETPOINT)
			CU_ASSERT(g.kind[a->device] == SIM_DEV_OFFICE ||
				  g.kind[a->device] == SIM_DEV_SERVER || g.kind[a->device] == SIM_DEV_COLD);
	}
	CU_ASSERT_EQUAL(kinds, SIM_FLEET_KINDS | SIM_BENIGN_KINDS);
	CU_ASSERT_EQUAL(bad_label, 0);
	CU_ASSERT_EQUAL(bad_drop, 0);
	CU_ASSERT_EQUAL(overlap, 0);
	/* every labelled sample is inside an anomaly; nothing before warmup */
	size_t labelled = 0, inside = 0, missing = 0;
	for (size_t c = 0; c < g.steps * (size_t)g.nd; c++) {
		labelled += g.label[c] != SIM_NONE;
		missing += !g.present[c];
	}
	for (size_t i = 0; i < g.n_truth; i++) {
		const sim_anomaly *a = &g.truth[i];
		CU_ASSERT(a->start >= START + o.warmup);
		if (!sim_kind_benign(a->kind) && a->kind != SIM_DROPOUT)
			inside += step_at(&g, a->end) - step_at(&g, a->start);
	}
	CU_ASSERT_EQUAL(labelled, inside);
	CU_ASSERT(missing > 0);
	grid_free(&g);
}

/* Each anomaly changes the samples as claimed: against the same run without
 * anomalies (the normal signal does not depend on the schedule). */
static void test_fleet_anomaly_effects(void)
{
	sim_opts o = fleet_opts(31, 25, 3.0);
	o.anomaly_every = 3 * 3600.0;
	o.benign = 0;
	sim_opts q = o;
	q.clean_devices = q.n_devices;
	grid a, b;
	CU_ASSERT_EQUAL_FATAL(grid_run(&o, &a), 0);
	CU_ASSERT_EQUAL_FATAL(grid_run(&q, &b), 0);
	CU_ASSERT_EQUAL(b.n_truth, 0);
	int seen[SIM__COUNT] = {0}, ok[SIM__COUNT] = {0};
	for (size_t i = 0; i < a.n_truth; i++) {
		const sim_anomaly *e = &a.truth[i];
		int d = e->device;
		size_t k0 = step_at(&a, e->start), k1 = step_at(&a, e->end);
		if (e->end > o.start_ts + o.duration || k1 <= k0)
			continue; /* cut by the end of the run */
		double dt = 0, dh = 0, mt = 0, mh = 0, sdt = 0;
		for (size_t k = k0; k < k1; k++) {
			double x = val(&a, k, d, 0) - val(&b, k, d, 0);
			double y = val(&a, k, d, 1) - val(&b, k, d, 1);
			dt += x, dh += y, sdt += x * x;
			mt = fmax(mt, fabs(x)), mh = fmax(mh, fabs(y));
		}
		double n = (double)(k1 - k0);
		dt /= n, dh /= n;
		seen[e->kind]++;
		bool good = false;
		switch (e->kind) {
		case SIM_SPIKE:
			good = mt >= 5.5 || mh >= 10.0; /* clipped at 0 or 100 % for humidity */
			break;
		case SIM_LEVEL:
			good = fabs(dt) >= 2.8 || fabs(dh) >= 8.0;
			break;
		case SIM_DRIFT: {
			/* small at the start, large at the end */
			double first = fabs(val(&a, k0, d, 0) - val(&b, k0, d, 0)) +
				       fabs(val(&a, k0, d, 1) - val(&b, k0, d, 1));
			double last = fabs(val(&a, k1 - 1, d, 0) - val(&b, k1 - 1, d, 0)) +
				      fabs(val(&a, k1 - 1, d, 1) - val(&b, k1 - 1, d, 1));
			double h_end = val(&a, k1 - 1, d, 1);
			good = first < 0.5 && (last >= 2.5 || h_end <= 0.0 || h_end >= 100.0);
			break;
		}
		case SIM_STUCK: {
			int moved = 0;
			for (size_t k = k0 + 1; k < k1; k++)
				moved += val(&a, k, d, 0) != val(&a, k0, d, 0) ||
					 val(&a, k, d, 1) != val(&a, k0, d, 1);
			good = moved == 0 && mt + mh > 0.0;
			break;
		}
		case SIM_NOISE:
			good = sqrt(sdt / n) >= 0.4;
			break;
		case SIM_CORR:
			/* humidity rises with temperature where the clean run's falls */
			good = slope(&a, d, 0, 1, k0, k1) > 1.0 && slope(&b, d, 0, 1, k0, k1) < 0.0;
			if (a.kind[d] == SIM_DEV_SERVER || a.kind[d] == SIM_DEV_OFFICE ||
			    a.kind[d] == SIM_DEV_COLD)
				good = good || mh > 1.0; /* little temperature range: decoupled */
			break;
		case SIM_DROPOUT:
			good = true; /* test_fleet_truth: no sample */
			break;
		default:
			break;
		}
		ok[e->kind] += good;
	}
	for (int k = SIM_SPIKE; k <= SIM_DROPOUT; k++) {
		CU_ASSERT(seen[k] >= 3);
		CU_ASSERT_EQUAL(ok[k], seen[k]);
	}
	/* outside anomalies the runs agree */
	size_t diff = 0;
	for (size_t c = 0; c < a.steps * (size_t)a.nd; c++)
		diff += a.present[c] && a.label[c] == SIM_NONE &&
			memcmp(&a.v[3 * c], &b.v[3 * c], 3 * sizeof *a.v) != 0;
	CU_ASSERT_EQUAL(diff, 0);
	grid_free(&a);
	grid_free(&b);
}

/* Benign changes: a setpoint moves the level it settles at, a front moves
 * every station of its site alike, a recharge fills the battery. */
static void test_fleet_benign_effects(void)
{
	sim_opts o = fleet_opts(41, 20, 3.0);
	o.clean_devices = o.n_devices;
	o.benign_every = 12 * 3600.0;
	o.device_kinds = (1u << SIM_DEV_OFFICE) | (1u << SIM_DEV_SERVER) | (1u << SIM_DEV_OUTDOOR);
	o.site_size = 3;
	sim_opts q = o;
	q.benign = 0;
	grid a, b;
	CU_ASSERT_EQUAL_FATAL(grid_run(&o, &a), 0);
	CU_ASSERT_EQUAL_FATAL(grid_run(&q, &b), 0);
	int n_set = 0, n_front = 0, n_rech = 0;
	for (size_t i = 0; i < a.n_truth; i++) {
		const sim_anomaly *e = &a.truth[i];
		int d = e->device;
		size_t k1 = step_at(&a, e->end);
		if (k1 + 360 > a.steps)
			continue;
		size_t k0 = step_at(&a, e->start);
		if (e->kind == SIM_SETPOINT) {
			/* 3 h on, the last hour of the window and the next, against
			 * the run without it (earlier changes of the device included) */
			double shift = mean_of(&a, d, 0, k1 - 360, k1 + 360) -
				       mean_of(&b, d, 0, k1 - 360, k1 + 360);
			double before = k0 >= 30 ? mean_of(&a, d, 0, k0 - 30, k0) -
							   mean_of(&b, d, 0, k0 - 30, k0) : 0.0;
			CU_ASSERT(fabs(shift - before) >= 0.8);
			n_set++;
		} else if (e->kind == SIM_FRONT) {
			/* against the run without fronts, before and after this one */
			double s0 = NAN;
			for (int x = 0; x < a.nd; x++) {
				if (a.site[x] != a.site[d] || k0 < 30)
					continue;
				double s = mean_of(&a, x, 0, k1 - 360, k1) - mean_of(&b, x, 0, k1 - 360, k1) -
					   (mean_of(&a, x, 0, k0 - 30, k0) - mean_of(&b, x, 0, k0 - 30, k0));
				CU_ASSERT(fabs(s) >= 2.5);
				if (isnan(s0))
					s0 = s;
				CU_ASSERT(fabs(s - s0) < 0.3);
			}
			n_front++;
		} else if (e->kind == SIM_RECHARGE) {
			CU_ASSERT(val(&a, k0, d, 2) >= 97.8);
			n_rech++;
		}
	}
	CU_ASSERT(n_set >= 3);
	CU_ASSERT(n_front >= 3);
	CU_ASSERT(n_rech >= 3);
	grid_free(&a);
	grid_free(&b);
}

void init_fleet_tests(void)
{
	CU_pSuite s = CU_add_suite("fleet", NULL, NULL);
	TEST_ADD(s, test_fleet_bad_options);
	TEST_ADD(s, test_fleet_fields_leave_classic);
	TEST_ADD(s, test_fleet_determinism_and_kinds);
	TEST_ADD(s, test_fleet_cold_room);
	TEST_ADD(s, test_fleet_outdoor);
	TEST_ADD(s, test_fleet_indoor);
	TEST_ADD(s, test_fleet_truth);
	TEST_ADD(s, test_fleet_anomaly_effects);
	TEST_ADD(s, test_fleet_benign_effects);
}

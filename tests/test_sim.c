/* test_sim.c - unit tests of sim: determinism, the anomaly schedule, labels
 * against the ground truth, plausibility of the normal signal, and the
 * effect of each anomaly kind, checked statistically on seeded runs. */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "iotad/cmd.h"
#include "iotad/sim.h"
#include "test.h"

#define ALL_KINDS ((1u << SIM_SPIKE) | (1u << SIM_DRIFT) | (1u << SIM_STUCK) | (1u << SIM_NOISE))

/* A whole run in memory, sample i = step * n_devices + device. */
typedef struct run {
	sim_opts o;
	size_t n;
	size_t steps;
	sim_sample *s;
	sim_anomaly *truth;
	size_t n_truth;
	sim_device_params *par;
} run;

static sim_opts base_opts(uint64_t seed)
{
	sim_opts o;
	sim_opts_default(&o);
	o.n_devices = 4;
	o.clean_devices = 0;
	o.interval = 1.0;
	o.duration = 3.0 * 3600.0;
	o.start_ts = 1700000000.0;
	o.warmup = 300.0;
	o.anomaly_every = 600.0;
	o.anomaly_len = 60.0;
	o.kinds = ALL_KINDS;
	o.seed = seed;
	return o;
}

/* Generate everything; also checks the order of the stream. */
static int run_all(const sim_opts *o, run *r)
{
	memset(r, 0, sizeof *r);
	r->o = *o;
	sim *s = NULL;
	if (sim_create(o, &s) != IOTAD_OK)
		return -1;
	r->steps = (size_t)ceil(o->duration / o->interval - 1e-9);
	size_t cap = r->steps * (size_t)o->n_devices;
	r->s = malloc((cap + 1) * sizeof *r->s);
	r->par = malloc((size_t)o->n_devices * sizeof *r->par);
	size_t nt = 0;
	const sim_anomaly *t = sim_truth(s, &nt);
	r->truth = malloc((nt + 1) * sizeof *r->truth);
	if (!r->s || !r->par || !r->truth) {
		sim_destroy(s);
		return -1;
	}
	if (nt)
		memcpy(r->truth, t, nt * sizeof *t);
	r->n_truth = nt;
	for (int d = 0; d < o->n_devices; d++)
		sim_device_info(s, d, &r->par[d]);
	int bad_order = 0;
	while (r->n <= cap && sim_next(s, &r->s[r->n])) {
		const sim_sample *x = &r->s[r->n];
		size_t step = r->n / (size_t)o->n_devices;
		if (x->device != (int)(r->n % (size_t)o->n_devices) ||
		    fabs(x->ts - (o->start_ts + (double)step * o->interval)) > 1e-6)
			bad_order++;
		r->n++;
	}
	sim_destroy(s);
	CU_ASSERT_EQUAL(bad_order, 0);
	CU_ASSERT_EQUAL(r->n, cap);
	return r->n == cap ? 0 : -1;
}

static void run_free(run *r)
{
	free(r->s);
	free(r->truth);
	free(r->par);
	memset(r, 0, sizeof *r);
}

static const sim_sample *at(const run *r, size_t step, int device)
{
	return &r->s[step * (size_t)r->o.n_devices + (size_t)device];
}

/* The stationary noise std of the device's temperature around its cycle. */
static double normal_resid_std(const run *r, int d)
{
	const sim_device_params *p = &r->par[d];
	double sum = 0, sum2 = 0;
	size_t n = 0;
	for (size_t k = 0; k < r->steps; k++) {
		const sim_sample *x = at(r, k, d);
		if (x->label != SIM_NONE)
			continue;
		double cyc = p->base_temp +
			     p->amplitude * sin(2 * M_PI * fmod(x->ts, 86400.0) / 86400.0 + p->phase);
		double e = x->values[0] - cyc;
		sum += e;
		sum2 += e * e;
		n++;
	}
	double m = sum / (double)n;
	return sqrt(sum2 / (double)n - m * m);
}

static void stats(const run *r, int d, size_t k0, size_t k1, int f, double *mean, double *sd)
{
	double sum = 0, sum2 = 0;
	for (size_t k = k0; k < k1; k++) {
		double v = at(r, k, d)->values[f];
		sum += v;
		sum2 += v * v;
	}
	double n = (double)(k1 - k0);
	*mean = sum / n;
	double var = sum2 / n - *mean * *mean;
	*sd = var > 0 ? sqrt(var) : 0.0;
}

/* Field by field: sim_sample has padding that memcmp would read. */
static bool same_sample(const sim_sample *a, const sim_sample *b)
{
	return a->device == b->device && a->ts == b->ts && a->label == b->label &&
	       memcmp(a->values, b->values, sizeof a->values) == 0;
}

static size_t step_of(const run *r, double ts)
{
	return (size_t)llround((ts - r->o.start_ts) / r->o.interval);
}

static void test_kind_names(void)
{
	sim_kind k;
	const char *names[] = {"none", "spike", "drift", "stuck", "noise", "level_shift",
			       "correlation_break", "dropout", "benign_setpoint", "benign_front",
			       "benign_recharge"};
	CU_ASSERT_EQUAL_FATAL(sizeof names / sizeof names[0], SIM__COUNT);
	for (int i = 0; i < SIM__COUNT; i++) {
		CU_ASSERT_STRING_EQUAL(sim_kind_name((sim_kind)i), names[i]);
		CU_ASSERT_EQUAL(sim_kind_parse(names[i], &k), 0);
		CU_ASSERT_EQUAL(k, (sim_kind)i);
	}
	CU_ASSERT_EQUAL(sim_kind_parse("level", &k), -1);
	CU_ASSERT_EQUAL(sim_kind_parse("Spike", &k), -1);
	CU_ASSERT_EQUAL(sim_kind_parse("", &k), -1);
	char name[32];
	sim_device_name(7, name, sizeof name);
	CU_ASSERT_STRING_EQUAL(name, "sensor-007");
	sim_device_name(1234, name, sizeof name);
	CU_ASSERT_STRING_EQUAL(name, "sensor-1234");
	CU_ASSERT_STRING_EQUAL(sim_feature_names[0], "temperature");
	CU_ASSERT_STRING_EQUAL(sim_feature_names[2], "battery");
}

static void test_bad_options(void)
{
	sim *s = NULL;
	sim_opts o = base_opts(1);
	o.n_devices = 0;
	CU_ASSERT_EQUAL(sim_create(&o, &s), IOTAD_ERR_RANGE);
	o = base_opts(1);
	o.clean_devices = 5;
	CU_ASSERT_EQUAL(sim_create(&o, &s), IOTAD_ERR_RANGE);
	o = base_opts(1);
	o.interval = 0.0;
	CU_ASSERT_EQUAL(sim_create(&o, &s), IOTAD_ERR_RANGE);
	o = base_opts(1);
	o.interval = NAN;
	CU_ASSERT_EQUAL(sim_create(&o, &s), IOTAD_ERR_RANGE);
	o = base_opts(1);
	o.duration = -1.0;
	CU_ASSERT_EQUAL(sim_create(&o, &s), IOTAD_ERR_RANGE);
	o = base_opts(1);
	o.anomaly_len = 0.0;
	CU_ASSERT_EQUAL(sim_create(&o, &s), IOTAD_ERR_RANGE);
	o = base_opts(1);
	o.anomaly_every = -5.0;
	CU_ASSERT_EQUAL(sim_create(&o, &s), IOTAD_ERR_RANGE);
	o = base_opts(1);
	o.kinds = 1u << SIM_NONE;
	CU_ASSERT_EQUAL(sim_create(&o, &s), IOTAD_ERR_INVAL);
	o.kinds = 1u << SIM__COUNT;
	CU_ASSERT_EQUAL(sim_create(&o, &s), IOTAD_ERR_INVAL);
	CU_ASSERT_PTR_NULL(s);
	sim_destroy(NULL);
}

static void test_determinism(void)
{
	sim_opts o = base_opts(42);
	o.duration = 3600.0;
	run a, b, c;
	if (run_all(&o, &a) || run_all(&o, &b))
		CU_FAIL_FATAL("run failed");
	CU_ASSERT_EQUAL(a.n, b.n);
	size_t mismatch = 0;
	for (size_t i = 0; i < a.n; i++)
		mismatch += !same_sample(&a.s[i], &b.s[i]);
	CU_ASSERT_EQUAL(mismatch, 0);
	CU_ASSERT_EQUAL(a.n_truth, b.n_truth);
	CU_ASSERT(a.n_truth > 0);
	CU_ASSERT_EQUAL(memcmp(a.truth, b.truth, a.n_truth * sizeof *a.truth), 0);

	o.seed = 43;
	if (run_all(&o, &c))
		CU_FAIL_FATAL("run failed");
	size_t diff = 0;
	for (size_t i = 0; i < a.n; i++)
		diff += a.s[i].values[0] != c.s[i].values[0];
	CU_ASSERT(diff > a.n * 9 / 10);
	int same_truth = a.n_truth == c.n_truth &&
			 memcmp(a.truth, c.truth, a.n_truth * sizeof *a.truth) == 0;
	CU_ASSERT_FALSE(same_truth);
	run_free(&a);
	run_free(&b);
	run_free(&c);
}

/* A device's normal signal depends only on the seed and its index. */
static void test_device_independence(void)
{
	sim_opts o = base_opts(7);
	o.duration = 1200.0;
	o.kinds = 0;
	run a, b;
	o.n_devices = 3;
	if (run_all(&o, &a))
		CU_FAIL_FATAL("run failed");
	o.n_devices = 6;
	if (run_all(&o, &b))
		CU_FAIL_FATAL("run failed");
	CU_ASSERT_EQUAL(a.n_truth, 0);
	int mismatch = 0;
	for (size_t k = 0; k < a.steps; k++)
		for (int d = 0; d < 3; d++)
			mismatch += memcmp(at(&a, k, d)->values, at(&b, k, d)->values,
					   sizeof at(&a, k, d)->values) != 0;
	CU_ASSERT_EQUAL(mismatch, 0);
	run_free(&a);
	run_free(&b);
}

static void test_clean_devices(void)
{
	sim_opts o = base_opts(3);
	o.n_devices = 8;
	o.clean_devices = 3;
	run r;
	if (run_all(&o, &r))
		CU_FAIL_FATAL("run failed");
	int per_dev[8] = {0};
	for (size_t i = 0; i < r.n_truth; i++)
		per_dev[r.truth[i].device]++;
	for (int d = 0; d < 5; d++)
		CU_ASSERT(per_dev[d] >= 3);
	for (int d = 5; d < 8; d++)
		CU_ASSERT_EQUAL(per_dev[d], 0);
	size_t labelled_clean = 0, labelled = 0;
	for (size_t i = 0; i < r.n; i++) {
		if (r.s[i].label == SIM_NONE)
			continue;
		labelled++;
		labelled_clean += r.s[i].device >= 5;
	}
	CU_ASSERT(labelled > 0);
	CU_ASSERT_EQUAL(labelled_clean, 0);
	run_free(&r);

	/* all devices clean: no anomaly at all */
	o.clean_devices = o.n_devices;
	if (run_all(&o, &r))
		CU_FAIL_FATAL("run failed");
	CU_ASSERT_EQUAL(r.n_truth, 0);
	for (size_t i = 0; i < r.n; i++)
		CU_ASSERT_EQUAL_FATAL(r.s[i].label, SIM_NONE);
	run_free(&r);
}

static void check_labels(const sim_opts *o)
{
	run r;
	if (run_all(o, &r))
		CU_FAIL_FATAL("run failed");
	size_t wrong = 0, labelled = 0, expect_labelled = 0;
	for (size_t i = 0; i < r.n; i++) {
		const sim_sample *x = &r.s[i];
		sim_kind want = SIM_NONE;
		for (size_t j = 0; j < r.n_truth; j++) {
			const sim_anomaly *a = &r.truth[j];
			if (a->device == x->device && x->ts >= a->start && x->ts < a->end)
				want = a->kind;
		}
		wrong += x->label != want;
		labelled += x->label != SIM_NONE;
	}
	double span_end = o->start_ts + (double)r.steps * o->interval;
	for (size_t j = 0; j < r.n_truth; j++) {
		const sim_anomaly *a = &r.truth[j];
		CU_ASSERT(a->start < span_end);
		double end = a->end < span_end ? a->end : span_end;
		expect_labelled += (size_t)ceil((end - a->start) / o->interval - 1e-9);
	}
	CU_ASSERT(r.n_truth > 0);
	CU_ASSERT_EQUAL(wrong, 0);
	CU_ASSERT_EQUAL(labelled, expect_labelled);
	run_free(&r);
}

static void test_labels_match_truth(void)
{
	sim_opts o = base_opts(11);
	check_labels(&o);
	/* an interval that does not divide the anomaly length, odd start */
	o = base_opts(12);
	o.interval = 7.0;
	o.anomaly_len = 45.0;
	o.start_ts = 1700000003.25;
	o.duration = 12.0 * 3600.0;
	o.anomaly_every = 900.0;
	check_labels(&o);
}

static int cmp_dev_start(const void *a, const void *b)
{
	const sim_anomaly *x = a, *y = b;
	if (x->device != y->device)
		return x->device - y->device;
	return (x->start > y->start) - (x->start < y->start);
}

static void test_schedule(void)
{
	sim_opts o = base_opts(5);
	o.n_devices = 20;
	o.duration = 2 * 86400.0;
	o.interval = 10.0;
	o.anomaly_every = 900.0;
	o.anomaly_len = 60.0;
	o.warmup = 1800.0;
	o.kinds = (1u << SIM_SPIKE) | (1u << SIM_STUCK);
	sim *s = NULL;
	CU_ASSERT_EQUAL_FATAL(sim_create(&o, &s), IOTAD_OK);
	size_t n = 0;
	const sim_anomaly *t = sim_truth(s, &n);
	CU_ASSERT_FATAL(n > 1000);
	/* sorted by start then device */
	int unsorted = 0;
	for (size_t i = 1; i < n; i++)
		unsorted += t[i].start < t[i - 1].start ||
			    (t[i].start == t[i - 1].start && t[i].device <= t[i - 1].device);
	CU_ASSERT_EQUAL(unsorted, 0);

	sim_anomaly *a = malloc(n * sizeof *a);
	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	memcpy(a, t, n * sizeof *a);
	qsort(a, n, sizeof *a, cmp_dev_start);
	int bad = 0, kinds_seen = 0;
	double gap_sum = 0;
	size_t gaps = 0;
	for (size_t i = 0; i < n; i++) {
		kinds_seen |= 1 << a[i].kind;
		bad += a[i].start < o.start_ts + o.warmup;
		bad += fabs(a[i].end - a[i].start - o.anomaly_len) > 1e-6;
		double k = (a[i].start - o.start_ts) / o.interval;
		bad += fabs(k - round(k)) > 1e-6; /* on the sample grid */
		if (i > 0 && a[i].device == a[i - 1].device) {
			/* no overlap, and room for an alert to clear */
			bad += a[i].start - a[i - 1].end < 3 * o.anomaly_len - 1e-6;
			gap_sum += a[i].start - a[i - 1].start;
			gaps++;
		}
	}
	CU_ASSERT_EQUAL(bad, 0);
	CU_ASSERT_EQUAL(kinds_seen, (int)o.kinds);
	/* gap = max(Exp(m), 4 L) rounded up to the grid:
	 * E = 4L + m exp(-4L/m) + about half an interval */
	double c = 4 * o.anomaly_len, m = o.anomaly_every;
	double want = c + m * exp(-c / m) + o.interval / 2;
	double mean = gap_sum / (double)gaps;
	CU_ASSERT(fabs(mean - want) < 0.06 * want);
	free(a);
	sim_destroy(s);
}

/* Endless runs plan lazily; the plan is the same as a finite run's. */
static void test_endless(void)
{
	sim_opts o = base_opts(9);
	o.n_devices = 2;
	o.duration = 4 * 3600.0;
	sim *fin = NULL, *inf = NULL;
	CU_ASSERT_EQUAL_FATAL(sim_create(&o, &fin), IOTAD_OK);
	o.duration = INFINITY;
	CU_ASSERT_EQUAL_FATAL(sim_create(&o, &inf), IOTAD_OK);
	size_t nf = 0, ni = 7;
	const sim_anomaly *tf = sim_truth(fin, &nf);
	sim_truth(inf, &ni);
	CU_ASSERT_EQUAL(ni, 0);
	CU_ASSERT_FATAL(nf > 4);

	/* collect the pending anomalies of the endless run as it goes */
	sim_anomaly seen[256];
	size_t n_seen = 0;
	double last_start[2] = {-1, -1};
	sim_sample x, y;
	size_t count = 0, differ = 0;
	while (sim_next(fin, &x)) {
		CU_ASSERT_FATAL(sim_next(inf, &y));
		differ += !same_sample(&x, &y);
		count++;
		sim_anomaly p;
		if (sim_pending_anomaly(inf, y.device, &p) && p.start != last_start[y.device] &&
		    n_seen < 256) {
			seen[n_seen++] = p;
			last_start[y.device] = p.start;
		}
	}
	CU_ASSERT_EQUAL(differ, 0);
	CU_ASSERT_EQUAL(count, (size_t)(4 * 3600) * 2);
	/* keeps going past the finite run's end */
	for (int i = 0; i < 1000; i++)
		CU_ASSERT_FATAL(sim_next(inf, &y));
	/* every anomaly of the finite truth was announced before its end */
	size_t found = 0;
	for (size_t i = 0; i < nf; i++)
		for (size_t j = 0; j < n_seen; j++)
			if (seen[j].device == tf[i].device && seen[j].start == tf[i].start &&
			    seen[j].kind == tf[i].kind && seen[j].end == tf[i].end) {
				found++;
				break;
			}
	CU_ASSERT_EQUAL(found, nf);
	sim_destroy(fin);
	sim_destroy(inf);
}

static void test_normal_plausible(void)
{
	sim_opts o = base_opts(21);
	o.n_devices = 6;
	o.interval = 30.0;
	o.duration = 3 * 86400.0;
	o.anomaly_every = 3600.0;
	o.anomaly_len = 300.0;
	run r;
	if (run_all(&o, &r))
		CU_FAIL_FATAL("run failed");
	for (int d = 0; d < o.n_devices; d++) {
		const sim_device_params *p = &r.par[d];
		CU_ASSERT(p->base_temp >= 18 && p->base_temp <= 26);
		CU_ASSERT(p->amplitude >= 2 && p->amplitude <= 5);
		CU_ASSERT(p->battery0 >= 95 && p->battery0 <= 100);
		CU_ASSERT(p->drain_per_day >= 0.5 && p->drain_per_day <= 2);
		double sig_t = hypot(p->sigma_temp, p->meas_temp);
		size_t out_t = 0, out_h = 0, out_b = 0, n = 0;
		double st = 0, sb = 0, stt = 0, stb = 0;
		double sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0;
		for (size_t k = 0; k < r.steps; k++) {
			const sim_sample *x = at(&r, k, d);
			if (x->label != SIM_NONE)
				continue;
			double T = x->values[0], H = x->values[1], B = x->values[2];
			out_t += fabs(T - p->base_temp) > p->amplitude + 5 * sig_t + 0.01;
			out_h += !(H >= 0 && H <= 100) || H < 25 || H > 75;
			out_b += !(B >= 0 && B <= 100);
			double tt = (x->ts - o.start_ts) / 86400.0;
			st += tt, sb += B, stt += tt * tt, stb += tt * B;
			sx += T, sy += H, sxx += T * T, syy += H * H, sxy += T * H;
			n++;
		}
		CU_ASSERT_EQUAL(out_t, 0);
		CU_ASSERT_EQUAL(out_h, 0);
		CU_ASSERT_EQUAL(out_b, 0);
		double nn = (double)n;
		/* least squares battery slope in %/day: the drawn drain */
		double slope = (stb - st * sb / nn) / (stt - st * st / nn);
		CU_ASSERT(slope < 0);
		CU_ASSERT(fabs(-slope - p->drain_per_day) < 0.05 * p->drain_per_day);
		/* humidity follows temperature the other way */
		double cov = sxy / nn - sx / nn * sy / nn;
		double corr = cov / sqrt((sxx / nn - sx * sx / nn / nn) * (syy / nn - sy * sy / nn / nn));
		CU_ASSERT(corr < -0.8);
		/* the cycle is what the parameters say; the rest is the noise */
		double rs = normal_resid_std(&r, d);
		CU_ASSERT(rs > 0.7 * sig_t && rs < 1.3 * sig_t);
	}
	run_free(&r);
}

/* A run with one kind only; anomalies inspected against the L samples
 * before them (normal, since starts are >= 3 L after the previous end). */
static void one_kind_run(sim_kind kind, run *r)
{
	sim_opts o = base_opts(100 + (uint64_t)kind);
	o.kinds = 1u << kind;
	if (run_all(&o, r))
		CU_FAIL_FATAL("run failed");
	CU_ASSERT_FATAL(r->n_truth >= 30);
	for (size_t i = 0; i < r->n_truth; i++)
		CU_ASSERT_EQUAL_FATAL(r->truth[i].kind, kind);
}

static void test_kind_spike(void)
{
	run r;
	one_kind_run(SIM_SPIKE, &r);
	size_t L = (size_t)r.o.anomaly_len, weak = 0, checked = 0;
	for (size_t i = 0; i < r.n_truth; i++) {
		const sim_anomaly *a = &r.truth[i];
		size_t k0 = step_of(&r, a->start);
		if (k0 + L > r.steps)
			continue;
		double mb, sb, ma, sa;
		stats(&r, a->device, k0 - L, k0, 0, &mb, &sb);
		stats(&r, a->device, k0, k0 + L, 0, &ma, &sa);
		weak += !(ma - mb > 5.0 && ma - mb < 17.0);
		checked++;
	}
	CU_ASSERT(checked >= 30);
	CU_ASSERT_EQUAL(weak, 0);
	run_free(&r);
}

static void test_kind_drift(void)
{
	run r;
	one_kind_run(SIM_DRIFT, &r);
	size_t L = (size_t)r.o.anomaly_len, weak = 0, checked = 0;
	for (size_t i = 0; i < r.n_truth; i++) {
		const sim_anomaly *a = &r.truth[i];
		size_t k0 = step_of(&r, a->start);
		if (k0 + L > r.steps)
			continue;
		double mb, sb, m1, s1, m2, s2;
		stats(&r, a->device, k0 - L, k0, 0, &mb, &sb);
		stats(&r, a->device, k0, k0 + L / 2, 0, &m1, &s1);
		stats(&r, a->device, k0 + L / 2, k0 + L, 0, &m2, &s2);
		double last = at(&r, k0 + L - 1, a->device)->values[0];
		/* ramps: first sample near normal, second half above the first,
		 * the end well away from the normal level */
		weak += fabs(at(&r, k0, a->device)->values[0] - mb) > 2.0;
		weak += !(m2 - m1 > 2.0);
		weak += !(last - mb > 4.0 && last - mb < 11.5);
		checked++;
	}
	CU_ASSERT(checked >= 30);
	CU_ASSERT_EQUAL(weak, 0);
	run_free(&r);
}

static void test_kind_stuck(void)
{
	run r;
	one_kind_run(SIM_STUCK, &r);
	size_t L = (size_t)r.o.anomaly_len, moving = 0, flat_before = 0, checked = 0;
	for (size_t i = 0; i < r.n_truth; i++) {
		const sim_anomaly *a = &r.truth[i];
		size_t k0 = step_of(&r, a->start);
		/* the run, and a window before and after it, inside the data */
		if (k0 < L || k0 + 2 * L > r.steps)
			continue;
		const sim_sample *first = at(&r, k0, a->device);
		for (size_t k = k0; k < k0 + L; k++)
			moving += memcmp(at(&r, k, a->device)->values, first->values,
					 sizeof first->values) != 0;
		double m, sd;
		stats(&r, a->device, k0 - L, k0, 0, &m, &sd);
		flat_before += sd == 0.0;
		/* the frozen value is the normal value at the start */
		CU_ASSERT(fabs(first->values[0] - m) < 2.0);
		/* and the signal moves again afterwards */
		stats(&r, a->device, k0 + L, k0 + 2 * L, 0, &m, &sd);
		flat_before += sd == 0.0;
		checked++;
	}
	CU_ASSERT(checked >= 30);
	CU_ASSERT_EQUAL(moving, 0);
	CU_ASSERT_EQUAL(flat_before, 0);
	run_free(&r);
}

static void test_kind_noise(void)
{
	run r;
	one_kind_run(SIM_NOISE, &r);
	size_t L = (size_t)r.o.anomaly_len, weak = 0, checked = 0;
	double normal_sd[16];
	for (int d = 0; d < r.o.n_devices; d++)
		normal_sd[d] = normal_resid_std(&r, d);
	for (size_t i = 0; i < r.n_truth; i++) {
		const sim_anomaly *a = &r.truth[i];
		size_t k0 = step_of(&r, a->start);
		if (k0 + L > r.steps)
			continue;
		double ma, sa, mb, sb;
		stats(&r, a->device, k0, k0 + L, 0, &ma, &sa);
		stats(&r, a->device, k0 - L, k0, 0, &mb, &sb);
		weak += !(sa > 5.0 * normal_sd[a->device]);
		weak += !(sa < 30.0 * normal_sd[a->device]);
		/* noise, not a level shift */
		weak += fabs(ma - mb) > 0.5 * sa;
		checked++;
	}
	CU_ASSERT(checked >= 30);
	CU_ASSERT_EQUAL(weak, 0);
	run_free(&r);
}

static int call_sim(char **argv)
{
	int argc = 0;
	while (argv[argc])
		argc++;
	return cmd_sim(argc, argv);
}

/* `iotad sim --csv` writes what sim_next yields, and --truth what
 * sim_truth plans, for the same options. */
static void test_cli_csv(void)
{
	char csv[] = "/tmp/iotad-sim-csv-XXXXXX", truth[] = "/tmp/iotad-sim-truth-XXXXXX";
	int fd1 = mkstemp(csv), fd2 = mkstemp(truth);
	CU_ASSERT_FATAL(fd1 >= 0 && fd2 >= 0);
	close(fd1);
	close(fd2);
	char *argv[] = {"sim", "--csv", csv, "--truth", truth, "--devices", "3", "--duration",
			"1800", "--start-ts", "1700000000.5", "--seed", "9", "--warmup", "60",
			"--anomaly-every", "300", "--interval", "2", "--quiet", NULL};
	CU_ASSERT_EQUAL_FATAL(call_sim(argv), 0);

	sim_opts o;
	sim_opts_default(&o);
	o.n_devices = 3;
	o.duration = 1800;
	o.start_ts = 1700000000.5;
	o.seed = 9;
	o.warmup = 60;
	o.anomaly_every = 300;
	o.interval = 2;
	sim *s = NULL;
	CU_ASSERT_EQUAL_FATAL(sim_create(&o, &s), IOTAD_OK);

	FILE *f = fopen(csv, "r");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	char line[256], want[256], name[32];
	CU_ASSERT_PTR_NOT_NULL(fgets(line, sizeof line, f));
	CU_ASSERT_STRING_EQUAL(line, "ts,device,temperature,humidity,battery,label\n");
	sim_sample x;
	size_t rows = 0, bad = 0, ones = 0;
	while (sim_next(s, &x)) {
		if (!fgets(line, sizeof line, f)) {
			bad++;
			break;
		}
		sim_device_name(x.device, name, sizeof name);
		snprintf(want, sizeof want, "%.3f,%s,%.2f,%.1f,%.1f,%d\n", x.ts, name,
			 (double)x.values[0], (double)x.values[1], (double)x.values[2],
			 x.label != SIM_NONE);
		bad += strcmp(line, want) != 0;
		ones += x.label != SIM_NONE;
		rows++;
	}
	CU_ASSERT_PTR_NULL(fgets(line, sizeof line, f));
	fclose(f);
	CU_ASSERT_EQUAL(rows, 900 * 3);
	CU_ASSERT_EQUAL(bad, 0);
	CU_ASSERT(ones > 0);

	f = fopen(truth, "r");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	CU_ASSERT_PTR_NOT_NULL(fgets(line, sizeof line, f));
	CU_ASSERT_STRING_EQUAL(line, "device,kind,start,end\n");
	size_t n = 0;
	const sim_anomaly *t = sim_truth(s, &n);
	CU_ASSERT(n > 0);
	for (size_t i = 0; i < n; i++) {
		sim_device_name(t[i].device, name, sizeof name);
		snprintf(want, sizeof want, "%s,%s,%.3f,%.3f\n", name, sim_kind_name(t[i].kind),
			 t[i].start, t[i].end);
		CU_ASSERT_PTR_NOT_NULL_FATAL(fgets(line, sizeof line, f));
		CU_ASSERT_STRING_EQUAL(line, want);
	}
	CU_ASSERT_PTR_NULL(fgets(line, sizeof line, f));
	fclose(f);
	sim_destroy(s);

	/* --normal-only: no anomaly anywhere */
	char *argv2[] = {"sim", "--csv", csv, "--truth", truth, "--devices", "2", "--duration",
			 "3600", "--warmup", "0", "--anomaly-every", "60", "--normal-only", "--quiet",
			 NULL};
	CU_ASSERT_EQUAL_FATAL(call_sim(argv2), 0);
	f = fopen(csv, "r");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	rows = 0, ones = 0;
	while (fgets(line, sizeof line, f)) {
		rows++;
		ones += strstr(line, ",1\n") != NULL;
	}
	fclose(f);
	CU_ASSERT_EQUAL(rows, 1 + 3600 * 2);
	CU_ASSERT_EQUAL(ones, 0);
	f = fopen(truth, "r");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	rows = 0;
	while (fgets(line, sizeof line, f))
		rows++;
	fclose(f);
	CU_ASSERT_EQUAL(rows, 1);
	unlink(csv);
	unlink(truth);
}

/* Bad usage exits 2 and writes nothing. */
static void test_cli_bad_usage(void)
{
	char *bad[][4] = {
		{"sim", "--devices", "0", NULL},     {"sim", "--devices", "12x", NULL},
		{"sim", "--interval", "-1", NULL},   {"sim", "--qos", "2", NULL},
		{"sim", "--kinds", "spike,", NULL},  {"sim", "--kinds", "dropout", NULL},
		{"sim", "--seed", "-3", NULL},       {"sim", "--rate", "nan", NULL},
		{"sim", "--topic-prefix", "a/#", NULL}, {"sim", "--no-such-flag", NULL, NULL},
		{"sim", "--duration", NULL, NULL},   {"sim", "--speed", "1e400", NULL},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		CU_ASSERT_EQUAL(call_sim(bad[i]), 2);
	char *excl[] = {"sim", "--speed", "2", "--realtime", NULL};
	CU_ASSERT_EQUAL(call_sim(excl), 2);
	char *clean[] = {"sim", "--devices", "2", "--clean", "3", NULL};
	CU_ASSERT_EQUAL(call_sim(clean), 2);
	char *forever[] = {"sim", "--csv", "/nonexistent/x.csv", "--duration", "0", NULL};
	CU_ASSERT_EQUAL(call_sim(forever), 2);
	char *unwritable[] = {"sim", "--csv", "/nonexistent/x.csv", "--duration", "10", "--quiet",
			      NULL};
	CU_ASSERT_EQUAL(call_sim(unwritable), 1);
}

void init_sim_tests(void)
{
	CU_pSuite s = CU_add_suite("sim", NULL, NULL);
	TEST_ADD(s, test_kind_names);
	TEST_ADD(s, test_bad_options);
	TEST_ADD(s, test_determinism);
	TEST_ADD(s, test_device_independence);
	TEST_ADD(s, test_clean_devices);
	TEST_ADD(s, test_labels_match_truth);
	TEST_ADD(s, test_schedule);
	TEST_ADD(s, test_endless);
	TEST_ADD(s, test_normal_plausible);
	TEST_ADD(s, test_kind_spike);
	TEST_ADD(s, test_kind_drift);
	TEST_ADD(s, test_kind_stuck);
	TEST_ADD(s, test_kind_noise);
	TEST_ADD(s, test_cli_csv);
	TEST_ADD(s, test_cli_bad_usage);
}

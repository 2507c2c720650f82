/* bench_fedsim.c - federated learning on SKAB, simulated in process
 * (fedsim.h): the files split into gateways by folder (valve1, valve2,
 * other: 3) or one a file (34); each file's first 400 rows train, the rest
 * is replayed causally. Prints the pooled model, each gateway's own local
 * model, and the federated model after every round (F1, FAR, MAR with one
 * global threshold and with a threshold per gateway; bytes on the wire;
 * epsilon with DP-FedAvg). The detector is the skab layout's (window 7,
 * p100, score EWMA 0.1, k1 n1 m2) on the sensors but the two temperatures
 * (docs/eval.md: "temperatures named by hand"), one column set for all.
 *
 * usage: bench_fedsim --skab DIR [--split folder|file] [--rounds R]
 *        [--local L] [--epochs E] [--seed S] [--rule mean|median|trimmed]
 *        [--clip C] [--noise Z] [--norm shared|gateway] [--no-baselines]
 *        [--dp-clip C --dp-noise Z]   (DP-SGD in the gateways' local training)
 *        [--personalize select|finetune]  (each gateway serves the global model,
 *        the global model fine-tuned on its windows or its own model, whichever
 *        scores its held-out windows lowest: fedcal_personalize)
 * "pooled" is the network trained centrally on the union of the gateways'
 * windows (the same windows, normalization, start and epochs as the
 * rounds: rounds x local), calibrated and replayed as the rounds; "local"
 * each gateway's own model (iotad eval's fit on its training rows, its own
 * normalization and calibration, --epochs). */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "iotad/config.h"
#include "iotad/csv.h"
#include "iotad/fedsim.h"

#define NF 6
static const char *const FEATURES[NF] = {"Accelerometer1RMS", "Accelerometer2RMS", "Current",
					 "Pressure", "Voltage", "Volume Flow RateRMS"};
static const char *const FOLDERS[3] = {"valve1", "valve2", "other"};

typedef struct file_data {
	csv_table t, l;
	uint8_t *label;
	fedsim_file f;
} file_data;

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The *.csv of dir, sorted; appended to files. */
static void read_folder(const char *root, const char *sub, file_data **files, size_t *n)
{
	char dir[1024];
	snprintf(dir, sizeof dir, "%s/%s", root, sub);
	DIR *d = opendir(dir);
	if (!d) {
		perror(dir);
		exit(2);
	}
	char *names[256];
	size_t k = 0;
	struct dirent *e;
	while ((e = readdir(d)) && k < 256) {
		size_t len = strlen(e->d_name);
		if (len > 4 && !strcmp(e->d_name + len - 4, ".csv"))
			names[k++] = strdup(e->d_name);
	}
	closedir(d);
	qsort(names, k, sizeof *names, cmp_str);
	*files = realloc(*files, (*n + k) * sizeof **files);
	for (size_t i = 0; i < k; i++) {
		char path[1400], err[256];
		snprintf(path, sizeof path, "%s/%s", dir, names[i]);
		file_data *fd = &(*files)[(*n)++];
		memset(fd, 0, sizeof *fd);
		const char *lab[1] = {"anomaly"};
		if (csv_read(path, ';', FEATURES, NF, NULL, 0, &fd->t, err, sizeof err) ||
		    csv_read(path, ';', lab, 1, NULL, 0, &fd->l, err, sizeof err)) {
			fprintf(stderr, "%s: %s\n", path, err);
			exit(2);
		}
		fd->label = malloc(fd->t.n_rows);
		for (size_t r = 0; r < fd->t.n_rows; r++)
			fd->label[r] = fd->l.data[r] != 0;
		fd->f = (fedsim_file){fd->t.data, fd->label, fd->t.n_rows};
		free(names[i]);
	}
}

static void rates(const eval_counts *c, double *f1, double *far, double *mar)
{
	eval_rates r;
	eval_rates_from(c, &r);
	*f1 = r.f1;
	*far = r.far * 100;
	*mar = r.mar * 100;
}

static void line(const char *what, const fedsim_counts *c)
{
	double f1, far, mar, f1g, farg, marg;
	rates(&c->global, &f1, &far, &mar);
	rates(&c->per_gw, &f1g, &farg, &marg);
	printf("%-22s global thr: F1 %.4f FAR %6.2f %% MAR %6.2f %% | per-gateway thr: F1 %.4f "
	       "FAR %6.2f %% MAR %6.2f %%\n", what, f1, far, mar, f1g, farg, marg);
}

static void usage(void)
{
	fprintf(stderr, "usage: bench_fedsim --skab DIR [--split folder|file] [--rounds R] "
		"[--local L] [--epochs E] [--seed S] [--rule mean|median|trimmed] [--clip C] "
		"[--noise Z] [--norm shared|gateway] [--no-baselines] [--dp-clip C --dp-noise Z] "
		"[--personalize select|finetune]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *root = NULL, *split = "folder";
	fedsim_opts o;
	fedsim_opts_default(&o);
	o.rounds = 30;
	bool baselines = true;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--no-baselines")) {
			baselines = false;
			continue;
		}
		if (!v)
			usage();
		i++;
		if (!strcmp(a, "--skab"))
			root = v;
		else if (!strcmp(a, "--split"))
			split = v;
		else if (!strcmp(a, "--rounds"))
			o.rounds = (int)bench_arg_long(a, v, 1000);
		else if (!strcmp(a, "--local"))
			o.local_epochs = (int)bench_arg_long(a, v, 100);
		else if (!strcmp(a, "--epochs"))
			o.eval.train.epochs = (int)bench_arg_long(a, v, 1000);
		else if (!strcmp(a, "--seed"))
			o.eval.train.seed = (uint64_t)bench_arg_long(a, v, 1000000);
		else if (!strcmp(a, "--rule") && fed_rule_parse(v, &o.agg.rule) == 0)
			;
		else if (!strcmp(a, "--clip"))
			o.agg.clip = strtof(v, NULL);
		else if (!strcmp(a, "--noise"))
			o.agg.noise = strtof(v, NULL);
		else if (!strcmp(a, "--dp-clip"))
			o.eval.train.dp_clip = strtof(v, NULL);
		else if (!strcmp(a, "--dp-noise"))
			o.eval.train.dp_noise = strtof(v, NULL);
		else if (!strcmp(a, "--personalize") && fedcal_pers_parse(v, &o.personalize) == 0)
			;
		else if (!strcmp(a, "--norm") && (!strcmp(v, "shared") || !strcmp(v, "gateway")))
			o.norm_per_gw = !strcmp(v, "gateway");
		else
			usage();
	}
	if (!root || (strcmp(split, "folder") && strcmp(split, "file")))
		usage();
	/* the skab layout's detector (cmd_eval_args.c), one column set for all */
	o.n_features = NF;
	o.eval.train.hidden_auto = 1;
	o.eval.train.window = 7;
	if (o.eval.train.epochs == 30)
		o.eval.train.epochs = 60;
	o.eval.train.percentile = 100.0f;
	o.eval.names = (char *const *)FEATURES;
	static iotad_config p;
	config_defaults(&p);
	p.score_alpha = 0.1;
	p.alert_k = 1;
	p.alert_n = 1;
	p.alert_m = 2;
	p.profile_channels = 0;
	config_det(&p, &o.eval.det);

	file_data *files = NULL;
	size_t nf = 0, start[4] = {0};
	for (int k = 0; k < 3; k++) {
		read_folder(root, FOLDERS[k], &files, &nf);
		start[k + 1] = nf;
	}
	size_t n_gw = !strcmp(split, "folder") ? 3 : nf;
	fedsim_file *ff = malloc(nf * sizeof *ff);
	for (size_t i = 0; i < nf; i++)
		ff[i] = files[i].f;
	fedsim_gw *gws = malloc(n_gw * sizeof *gws);
	for (size_t g = 0; g < n_gw; g++)
		gws[g] = n_gw == 3 ? (fedsim_gw){ff + start[g], start[g + 1] - start[g]} :
				     (fedsim_gw){ff + g, 1};
	printf("SKAB %s: %zu files, %zu gateways; %d rounds x %d local epochs (pooled and local: %d "
	       "epochs), rule %s, clip %g, noise %g, normalization %s, seed %llu\n", root, nf,
	       n_gw, o.rounds, o.local_epochs, o.eval.train.epochs, fed_rule_name(o.agg.rule),
	       (double)o.agg.clip, (double)o.agg.noise, o.norm_per_gw ? "per gateway" : "shared",
	       (unsigned long long)o.eval.train.seed);
	char err[512];
	fedsim_counts pooled, local, *gp = calloc(n_gw, sizeof *gp), *gl = calloc(n_gw, sizeof *gl);
	if (baselines) {
		if (fedsim_local(&o, gws, n_gw, &local, gl, err, sizeof err)) {
			fprintf(stderr, "bench_fedsim: %s\n", err);
			return 1;
		}
		line("local (own models)", &local);
	}
	fedsim_round *rounds = calloc((size_t)o.rounds, sizeof *rounds);
	fedsim_counts *rows = calloc((size_t)o.rounds * n_gw, sizeof *rows);
	uint8_t *picks = calloc((size_t)o.rounds * n_gw, 1);
	double t0 = bench_now();
	if (fedsim_run_pers(&o, gws, n_gw, 1e-5, rounds, rows, picks, baselines ? &pooled : NULL,
			    baselines ? gp : NULL, err, sizeof err)) {
		fprintf(stderr, "bench_fedsim: %s\n", err);
		return 1;
	}
	for (int r = 0; r < o.rounds; r++) {
		char what[64];
		snprintf(what, sizeof what, "round %2d %7zu B%s", rounds[r].round, rounds[r].bytes,
			 o.agg.noise > 0 ? "" : "");
		line(what, &rounds[r].total);
		printf("    longest update %.4g, %d clipped", (double)rounds[r].max_norm,
		       rounds[r].n_clipped);
		if (o.agg.noise > 0)
			printf("; epsilon %.3f at delta 1e-5", rounds[r].epsilon);
		if (o.eval.train.dp_clip > 0)
			printf("; DP-SGD window-level epsilon %.3f at delta 1e-5 (largest gateway's)",
			       rounds[r].window_epsilon);
		printf("\n");
		if (o.personalize) {
			double f, x, y;
			rates(&rounds[r].total.pers, &f, &x, &y);
			printf("    personalized (%s, own thr): F1 %.4f FAR %6.2f %% MAR %6.2f %%; "
			       "gateways serving global %d, fine-tuned %d, own %d\n",
			       fedcal_pers_name(o.personalize), f, x, y, rounds[r].n_picked[0],
			       rounds[r].n_picked[1], rounds[r].n_picked[2]);
		}
	}
	printf("pooled and federated: %.1f s\n", bench_now() - t0);
	if (baselines)
		line("pooled (same windows)", &pooled);
	/* the targets: 99 % of the final F1, against pooled, per gateway against local */
	const fedsim_round *fin = &rounds[o.rounds - 1];
	for (int mode = 0; mode < 2; mode++) {
		double ffin, x, y;
		rates(mode ? &fin->total.per_gw : &fin->total.global, &ffin, &x, &y);
		int at = o.rounds;
		for (int r = 0; r < o.rounds; r++) {
			double f;
			rates(mode ? &rounds[r].total.per_gw : &rounds[r].total.global, &f, &x, &y);
			if (f >= 0.99 * ffin) {
				at = r + 1;
				break;
			}
		}
		printf("%s thresholds: final F1 %.4f, 99 %% of it first at round %d", mode ? "per-gateway" : "global", ffin, at);
		if (baselines) {
			double fp, fl;
			rates(mode ? &pooled.per_gw : &pooled.global, &fp, &x, &y);
			rates(&local.global, &fl, &x, &y);
			printf("; pooled %.4f (federated - pooled %+.4f); local %.4f", fp, ffin - fp, fl);
			int worse = 0;
			for (size_t g = 0; g < n_gw; g++) {
				double a, b;
				rates(mode ? &fin->gw[g].per_gw : &fin->gw[g].global, &a, &x, &y);
				rates(&gl[g].global, &b, &x, &y);
				worse += a < b;
			}
			printf("; gateways where federated F1 < own local F1: %d of %zu", worse, n_gw);
		}
		printf("\n");
	}
	if (baselines && o.personalize) {
		/* per gateway at the last round: own model, federated, personalized */
		int below_fed = 0, below_pers = 0;
		double gap = 0;
		for (size_t g = 0; g < n_gw; g++) {
			double l, f, pz, x, y;
			rates(&gl[g].global, &l, &x, &y);
			rates(&fin->gw[g].per_gw, &f, &x, &y);
			rates(&fin->gw[g].pers, &pz, &x, &y);
			below_fed += f < l;
			below_pers += pz < l;
			if (pz < l && l - pz > gap)
				gap = l - pz;
			printf("gateway %-8s local F1 %.4f | federated %.4f | personalized %.4f (%s)\n",
			       n_gw <= 3 ? FOLDERS[g] : (snprintf(err, sizeof err, "%zu", g + 1), err), l,
			       f, pz, fedcal_pick_name((fedcal_pick)fin->pick[g]));
		}
		double pf, x, y;
		rates(&fin->total.pers, &pf, &x, &y);
		printf("personalized (%s): F1 %.4f over all files; gateways below their own model: "
		       "federated %d of %zu, personalized %d of %zu (largest shortfall %.4f)\n",
		       fedcal_pers_name(o.personalize), pf, below_fed, n_gw, below_pers, n_gw, gap);
	}
	if (baselines && n_gw <= 3)
		for (size_t g = 0; g < n_gw; g++) {
			double a, b, c, x, y;
			rates(&fin->gw[g].global, &a, &x, &y);
			rates(&fin->gw[g].per_gw, &b, &x, &y);
			rates(&gl[g].global, &c, &x, &y);
			printf("gateway %s: federated F1 %.4f (global thr) %.4f (own thr), local %.4f\n",
			       FOLDERS[g], a, b, c);
		}
	return 0;
}

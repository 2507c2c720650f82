/* cmd_eval.c - `iotad eval`: replay labelled CSV files through the detector
 * core (or a baseline) and report detection quality per file and in total. */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "iotad/cli.h"
#include "iotad/cmd.h"
#include "iotad/csv.h"
#include "iotad/eval.h"
#include "iotad/evmetrics.h"
#include "iotad/plot.h"
#include "iotad/progress.h"
#include "iotad/report.h"
#include "iotad/truth.h"

static const char eval_usage[] =
	"NAME\n"
	"    iotad eval - measure detection quality on labelled CSV files\n"
	"\n"
	"SYNOPSIS\n"
	"    iotad eval [--layout skab|generic|sim] [OPTIONS] FILE|DIR...\n"
	"\n"
	"DESCRIPTION\n"
	"    Each file is replayed row by row, in time order, through the same\n"
	"    detector core as `iotad run` (or through a baseline that shares its\n"
	"    threshold and alert modules). A row is predicted anomalous while the\n"
	"    alert of its series is raised after that row; the raw verdict of the\n"
	"    window ending at the row is reported beside it. Rows before the first\n"
	"    full window are predicted normal. No row's label is used for training\n"
	"    or calibration. A DIR stands for the *.csv files in it.\n"
	"\n"
	"    By default a detector is trained per file on its first --train-rows\n"
	"    rows (the SKAB protocol: 400), which are then replayed as history and\n"
	"    not counted; the rest is scored. --train FILE trains once on FILE and\n"
	"    scores every row of every file.\n"
	"\n"
	"LAYOUTS\n"
	"    skab      ';' separator, label 'anomaly', 'changepoint' and 'datetime'\n"
	"              left out, --train-rows 400; defaults chosen on the\n"
	"              folders, averaged over seeds (scripts/skab-cv.py,\n"
	"              docs/eval.md): --window 7 --epochs 60\n"
	"              --drift-max 4 --percentile 100 --score-alpha 0.1\n"
	"              --k 1 --n 1 --m 2\n"
	"    generic   any separator (--sep), --features or every numeric column\n"
	"              but --label and --skip; --train-rows N or --train FILE\n"
	"    sim       CSV of `iotad sim --csv`: series by 'device', label 'label'\n"
	"              (or --truth FILE of `iotad sim --truth`)\n"
	"\n"
	"OPTIONS\n"
	"    --detector KIND     ae (autoencoder, default), zscore or pca\n"
	"    --sep C             field separator: one character or 'tab'\n"
	"    --features LIST     comma-separated feature columns, in order\n"
	"    --skip LIST         columns to leave out of automatic selection\n"
	"    --label COL         0/1 label column (non-zero = anomalous)\n"
	"    --truth FILE        label rows by the anomalies listed in FILE instead\n"
	"                        (device,kind,start,end as `iotad sim --truth` writes\n"
	"                        it): a row is anomalous when its time falls in\n"
	"                        [start, end) of an anomaly of its series; the\n"
	"                        report adds how many of each kind were caught\n"
	"                        and the event scores: recall and delay per kind,\n"
	"                        false alarms per device-day, benign changes\n"
	"                        (kinds benign_*) alarmed for more than an hour\n"
	"                        (rules in docs/eval.md)\n"
	"    --grace S           --truth: an anomaly shorter than S seconds may be\n"
	"                        caught until S after its start, and a raise until\n"
	"                        S after an anomaly's end is not false (300)\n"
	"    --time COL          the rows' time column for --truth (ts)\n"
	"    --group COL         series column (sim: device)\n"
	"    --train-rows N      train on the first N rows of each file\n"
	"    --train FILE        train once on FILE (alias --train-once)\n"
	"    --model FILE        score with the model file of `iotad train` instead\n"
	"                        (its features are read from the columns of their\n"
	"                        names; every row is scored)\n"
	"    --shuffle           permute each file's rows (seeded) first: tabular\n"
	"                        data with --window 1 only\n"
	"    --train-fraction F  train on the first share F of the rows (0, 1)\n"
	"    --score-all         count the training rows too\n"
	"  detector (as iotad train, but --hidden auto by default; --drift-max\n"
	"  leaves the drifting columns out of the baselines too):\n"
	CLI_TRAIN_HELP
	"    --zs-window N       zscore: recent normal rows in the statistics (100)\n"
	"    --pca-var F         pca: share of the variance kept (0.9)\n"
	"    --pca-score q|t2q   pca: score Q or T^2 + Q (q)\n"
	"  threshold and alerts (as the service config):\n"
	"    --threshold KIND    static, adaptive (default), ewma, spot or dspot\n"
	"    --threshold-k X     ewma: mean + X sd (4)\n"
	"    --threshold-q X     spot, dspot: risk per normal window (0.001)\n"
	"    --threshold-init-quantile X   spot, dspot: tail start (0.98)\n"
	"    --threshold-peaks N --threshold-depth N   spot/dspot history (64, 20)\n"
	"    --score-alpha A     ae: judge an EWMA of the window scores, weight A of\n"
	"                        the newest, [0, 1]; 0: each window's own (0)\n"
	"    --no-stuck-check    ae: do not flag features held still for the model's\n"
	"                        stuck_after samples (detector stuck_check, on)\n"
	"    --k N --n N --m N   raise after k anomalous of n windows, clear\n"
	"                        after m normal ones (default 3 3 5)\n"
	"  output:\n"
	"    --json              one JSON object instead of the table\n"
	"    --predictions FILE  write every scored row as CSV file,device,ts,score,\n"
	"                        threshold,anomalous,alert (ts: the --time column,\n"
	"                        ts in the sim layout, else the row number)\n"
	"    --per-file          also print one line per file (table)\n"
	"    --plot DIR          write SVG pictures to DIR\n"
	"    -o, --output FILE   write the report to FILE\n"
	"    --no-time           leave the timing out (byte-identical reruns)\n"
	"    -q, --quiet         no progress on stderr\n"
	"    -h, --help, -V, --version\n"
	"\n"
	"EXIT STATUS\n"
	"    0 on success, 1 if reading or training failed, 2 on a usage error.\n"
	"\n"
	"EXAMPLE\n"
	"    iotad eval --layout skab skab/valve1 skab/valve2 skab/other\n";

enum eval_layout { LAYOUT_GENERIC = 0, LAYOUT_SKAB, LAYOUT_SIM };

struct eval_args {
	enum eval_layout layout;
	char sep;
	cli_names features, skip;
	const char *label, *group, *train_file, *plot_dir, *out_path, *truth_path, *time_col;
	const char *pred_path, *model_path;
	FILE *pred;               /* --predictions */
	truth truth;
	truth_kind_stats *kinds;  /* truth.n_kinds, summed over the files */
	evm_opts evo;
	evm_totals ev;            /* event scores, summed over the files */
	long train_rows;
	float train_fraction;
	int shuffle, score_all, quiet;
	report_opts ro;
	eval_opts o;
	char **files;
	size_t n_files;
};

/* What one file gave, kept for the report. */
struct eval_file {
	char *path;
	eval_result r;
	float threshold;   /* calibrated */
	int n_left_out;    /* columns left out as drifting */
	char left_out[MODEL_MAX_FEATURES][MODEL_NAME_MAX];
};

#define EVAL_CMD "eval"

enum {
	O_LAYOUT = 256, O_DETECTOR, O_SEP, O_FEATURES, O_SKIP, O_LABEL, O_GROUP, O_TRAIN_ROWS,
	O_TRAIN, O_SHUFFLE, O_TRAIN_FRACTION, O_SCORE_ALL, O_ZSW, O_PCAVAR, O_PCASCORE,
	O_THRESHOLD, O_K, O_N, O_M, O_JSON, O_PER_FILE, O_PLOT, O_NO_TIME, O_THR_K, O_THR_Q, O_SCORE_ALPHA,
	O_THR_IQ, O_THR_PEAKS, O_THR_DEPTH, O_TRUTH, O_TIME, O_NO_STUCK, O_GRACE, O_PREDICTIONS, O_MODEL,
};

static const struct option eval_longopts[] = {
	{"layout", required_argument, NULL, O_LAYOUT},
	{"detector", required_argument, NULL, O_DETECTOR},
	{"sep", required_argument, NULL, O_SEP},
	{"features", required_argument, NULL, O_FEATURES},
	{"skip", required_argument, NULL, O_SKIP},
	{"label", required_argument, NULL, O_LABEL},
	{"group", required_argument, NULL, O_GROUP},
	{"truth", required_argument, NULL, O_TRUTH},
	{"time", required_argument, NULL, O_TIME},
	{"grace", required_argument, NULL, O_GRACE},
	{"predictions", required_argument, NULL, O_PREDICTIONS},
	{"model", required_argument, NULL, O_MODEL},
	{"train-rows", required_argument, NULL, O_TRAIN_ROWS},
	{"train", required_argument, NULL, O_TRAIN},
	{"train-once", required_argument, NULL, O_TRAIN},
	{"shuffle", no_argument, NULL, O_SHUFFLE},
	{"train-fraction", required_argument, NULL, O_TRAIN_FRACTION},
	{"score-all", no_argument, NULL, O_SCORE_ALL},
	CLI_TRAIN_LONGOPTS,
	{"zs-window", required_argument, NULL, O_ZSW},
	{"pca-var", required_argument, NULL, O_PCAVAR},
	{"pca-score", required_argument, NULL, O_PCASCORE},
	{"threshold", required_argument, NULL, O_THRESHOLD},
	{"threshold-k", required_argument, NULL, O_THR_K},
	{"threshold-q", required_argument, NULL, O_THR_Q},
	{"score-alpha", required_argument, NULL, O_SCORE_ALPHA},
	{"no-stuck-check", no_argument, NULL, O_NO_STUCK},
	{"threshold-init-quantile", required_argument, NULL, O_THR_IQ},
	{"threshold-peaks", required_argument, NULL, O_THR_PEAKS},
	{"threshold-depth", required_argument, NULL, O_THR_DEPTH},
	{"k", required_argument, NULL, O_K},
	{"n", required_argument, NULL, O_N},
	{"m", required_argument, NULL, O_M},
	{"json", no_argument, NULL, O_JSON},
	{"per-file", no_argument, NULL, O_PER_FILE},
	{"plot", required_argument, NULL, O_PLOT},
	{"output", required_argument, NULL, 'o'},
	{"no-time", no_argument, NULL, O_NO_TIME},
	{"quiet", no_argument, NULL, 'q'},
	{"help", no_argument, NULL, 'h'},
	{"version", no_argument, NULL, 'V'},
	{NULL, 0, NULL, 0},
};

/* One numeric option of eval's own; returns 0 or the usage exit code. */
static int eval_num_opt(int c, const char *v, struct eval_args *a)
{
	alert_params *al = &a->o.det.alert;
	thr_params *th = &a->o.det.thr;
	long l;
	float f;
	switch (c) {
	case O_TRAIN_ROWS:
		if (cli_long(v, 1, 1000000000L, &l))
			return cli_usage_err(EVAL_CMD, "--train-rows: expected an integer >= 1, got "
					     "\"%s\"", v);
		a->train_rows = l;
		return 0;
	case O_TRAIN_FRACTION:
		if (cli_float(v, 1e-9, 1.0 - 1e-9, &a->train_fraction))
			return cli_usage_err(EVAL_CMD, "--train-fraction: expected a number in "
					     "(0, 1), got \"%s\"", v);
		return 0;
	case O_GRACE:
		if (cli_float(v, 0.0f, 1e7f, &f) || !isfinite(f))
			return cli_usage_err(EVAL_CMD, "--grace: expected seconds in [0, 1e7], got "
					     "\"%s\"", v);
		a->evo.grace = f;
		return 0;
	case O_ZSW:
		if (cli_long(v, 1, 100000, &l))
			return cli_usage_err(EVAL_CMD, "--zs-window: expected an integer in "
					     "1..100000, got \"%s\"", v);
		a->o.bl.zs_window = (int)l;
		return 0;
	case O_PCAVAR:
		if (cli_float(v, 1e-6, 1.0, &a->o.bl.pca_var))
			return cli_usage_err(EVAL_CMD, "--pca-var: expected a number in (0, 1], got "
					     "\"%s\"", v);
		return 0;
	case O_THR_K:
		if (cli_float(v, 1e-6, 100.0, &th->ewma_k))
			return cli_usage_err(EVAL_CMD, "--threshold-k: expected a number in "
					     "(0, 100], got \"%s\"", v);
		return 0;
	case O_THR_Q:
		if (cli_float(v, 1e-12, 0.1, &th->q))
			return cli_usage_err(EVAL_CMD, "--threshold-q: expected a number in "
					     "(0, 0.1], got \"%s\"", v);
		return 0;
	case O_SCORE_ALPHA:
		if (cli_float(v, 0.0, 1.0, &a->o.det.score_alpha))
			return cli_usage_err(EVAL_CMD, "--score-alpha: expected a number in [0, 1], "
					     "got \"%s\"", v);
		return 0;
	case O_THR_IQ:
		if (cli_float(v, 0.5, 0.9999, &th->init_quantile))
			return cli_usage_err(EVAL_CMD, "--threshold-init-quantile: expected a "
					     "number in [0.5, 0.9999], got \"%s\"", v);
		return 0;
	case O_THR_PEAKS:
	case O_THR_DEPTH: {
		int peaks = c == O_THR_PEAKS, lo = peaks ? 0 : 1;
		int hi = peaks ? THR_MAX_PEAKS : THR_MAX_DEPTH;
		if (cli_long(v, lo, hi, &l))
			return cli_usage_err(EVAL_CMD, "--threshold-%s: expected an integer in "
					     "%d..%d, got \"%s\"", peaks ? "peaks" : "depth", lo, hi,
					     v);
		*(peaks ? &th->peaks : &th->depth) = (int)l;
		return 0;
	}
	case O_K:
	case O_N:
	case O_M: {
		int hi = c == O_M ? 255 : ALERT_MAX_N;
		if (cli_long(v, 1, hi, &l))
			return cli_usage_err(EVAL_CMD, "--%c: expected an integer in 1..%d, got "
					     "\"%s\"", c == O_K ? 'k' : c == O_N ? 'n' : 'm', hi, v);
		*(c == O_K ? &al->k : c == O_N ? &al->n : &al->m) = (uint8_t)l;
		return 0;
	}
	}
	return cli_usage_err(EVAL_CMD, "internal: option %d", c);
}

static int eval_layout_parse(const char *s, enum eval_layout *out)
{
	static const char *const names[] = {"generic", "skab", "sim"};
	for (int i = 0; i < 3; i++) {
		if (!strcmp(s, names[i])) {
			*out = (enum eval_layout)i;
			return 0;
		}
	}
	return -1;
}

/* The defaults of a layout, before the options that override them. skab:
 * the configuration chosen by leave-one-folder-out cross-validation
 * (docs/eval.md), which no file's labels chose for that file's folder. */
static void eval_layout_defaults(struct eval_args *a)
{
	a->o.train.hidden_auto = 1;
	if (a->layout != LAYOUT_SKAB)
		return;
	a->o.train.window = 7;
	a->o.train.epochs = 60;
	a->o.train.drift_max = 4.0f;
	a->o.train.percentile = 100.0f;
	a->o.det.score_alpha = 0.1f;
	a->o.det.alert.k = 1;
	a->o.det.alert.n = 1;
	a->o.det.alert.m = 2;
}

/* Returns -1 to go on, else the exit code. */
static int eval_parse(int argc, char **argv, struct eval_args *a)
{
	int c, r;
	opterr = 0;
	/* first the layout, whose defaults the other options override */
	for (optind = 0; (c = getopt_long(argc, argv, ":o:qhV", eval_longopts, NULL)) != -1;)
		if (c == O_LAYOUT && eval_layout_parse(optarg, &a->layout))
			break;
	eval_layout_defaults(a);
	optind = 0;
	while ((c = getopt_long(argc, argv, ":o:qhV", eval_longopts, NULL)) != -1) {
		const char *name = optind > 1 && optind <= argc ? argv[optind - 1] : "option";
		if ((r = cli_train_opt(EVAL_CMD, c, optarg, &a->o.train)) >= 0) {
			if (r)
				return r;
			continue;
		}
		switch (c) {
		case O_LAYOUT:
			if (eval_layout_parse(optarg, &a->layout))
				return cli_usage_err(EVAL_CMD, "--layout: expected skab, generic or sim, "
						     "got \"%s\"", optarg);
			break;
		case O_DETECTOR:
			if (eval_detector_parse(optarg, &a->o.kind))
				return cli_usage_err(EVAL_CMD, "--detector: expected ae, zscore or pca, "
						     "got \"%s\"", optarg);
			break;
		case O_SEP:
			if (cli_sep(optarg, &a->sep))
				return cli_usage_err(EVAL_CMD, "--sep: expected one character or 'tab', "
						     "got \"%s\"", optarg);
			break;
		case O_FEATURES:
		case O_SKIP:
			if (cli_names_parse(EVAL_CMD, c == O_FEATURES ? "--features" : "--skip", optarg,
					    c == O_FEATURES ? &a->features : &a->skip))
				return 2;
			break;
		case O_LABEL:
		case O_GROUP:
		case O_TIME:
			if (!*optarg)
				return cli_usage_err(EVAL_CMD, "%s: expected a column name", name);
			*(c == O_LABEL ? &a->label : c == O_GROUP ? &a->group : &a->time_col) = optarg;
			break;
		case O_TRUTH: a->truth_path = optarg; break;
		case O_PREDICTIONS:
			if (!*optarg)
				return cli_usage_err(EVAL_CMD, "--predictions: expected a file name");
			a->pred_path = optarg;
			break;
		case O_NO_STUCK: a->o.det.stuck_check = false; break;
		case O_TRAIN: a->train_file = optarg; break;
		case O_MODEL: a->model_path = a->ro.model = optarg; break;
		case O_SHUFFLE: a->shuffle = 1; break;
		case O_SCORE_ALL: a->score_all = 1; break;
		case O_PCASCORE:
			if (!strcmp(optarg, "q"))
				a->o.bl.pca_score = BL_PCA_Q;
			else if (!strcmp(optarg, "t2q"))
				a->o.bl.pca_score = BL_PCA_T2Q;
			else
				return cli_usage_err(EVAL_CMD, "--pca-score: expected q or t2q, got "
						     "\"%s\"", optarg);
			break;
		case O_THRESHOLD:
			if (thr_kind_parse(optarg, &a->o.det.thr.kind) < 0)
				return cli_usage_err(EVAL_CMD, "--threshold: unknown kind \"%s\"",
						     optarg);
			break;
		case O_JSON: a->ro.json = 1; break;
		case O_PER_FILE: a->ro.per_file = 1; break;
		case O_PLOT: a->plot_dir = optarg; break;
		case 'o': a->out_path = optarg; break;
		case O_NO_TIME: a->ro.no_time = 1; break;
		case 'q': a->quiet = 1; break;
		case 'h': fputs(eval_usage, stdout); return 0;
		case 'V': printf("iotad %s\n", IOTAD_VERSION); return 0;
		case ':': return cli_usage_err(EVAL_CMD, "%s: missing value", name);
		case '?': return cli_usage_err(EVAL_CMD, "unknown option \"%s\"", name);
		default:
			if ((r = eval_num_opt(c, optarg, a)))
				return r;
		}
	}
	if (optind == argc)
		return cli_usage_err(EVAL_CMD, "no input file");
	if (a->features.n && a->skip.n)
		return cli_usage_err(EVAL_CMD, "--features and --skip exclude each other");
	if (a->o.train.stride > a->o.train.window)
		return cli_usage_err(EVAL_CMD, "--stride must not exceed --window");
	if (alert_params_check(&a->o.det.alert))
		return cli_usage_err(EVAL_CMD, "--k, --n: need 1 <= k <= n <= %d", ALERT_MAX_N);
	if (a->shuffle && (a->o.train.window != 1 || a->group))
		return cli_usage_err(EVAL_CMD, "--shuffle needs --window 1 and no series column");
	if (a->shuffle && a->truth_path)
		return cli_usage_err(EVAL_CMD, "--shuffle and --truth exclude each other");
	if (a->time_col && !a->truth_path && !a->pred_path)
		return cli_usage_err(EVAL_CMD, "--time is the time column of --truth or --predictions");
	if (a->evo.grace != 300.0 && !a->truth_path)
		return cli_usage_err(EVAL_CMD, "--grace needs --truth");
	if (a->train_fraction > 0.0f && a->train_rows)
		return cli_usage_err(EVAL_CMD, "--train-rows and --train-fraction exclude each "
				     "other");
	if (a->model_path && (a->train_file || a->train_rows || a->train_fraction > 0.0f ||
			      a->o.kind != EVAL_AE))
		return cli_usage_err(EVAL_CMD, "--model FILE excludes --train, --train-rows, "
				     "--train-fraction and --detector");
	if (a->train_file && (a->train_rows || a->train_fraction > 0.0f))
		return cli_usage_err(EVAL_CMD, "--train FILE excludes --train-rows and "
				     "--train-fraction");
	if (!a->model_path && !a->train_file && !a->train_rows && !(a->train_fraction > 0.0f)) {
		if (a->layout != LAYOUT_SKAB)
			return cli_usage_err(EVAL_CMD, "say what to train on: --train-rows N, "
					     "--train-fraction F or --train FILE");
		a->train_rows = 400;
	}
	return -1;
}

/* ---- input ---- */

static int eval_cmp_name(const void *pa, const void *pb)
{
	const char *a = *(char *const *)pa, *b = *(char *const *)pb;
	/* numeric-aware: "2.csv" before "10.csv" */
	char *ea, *eb;
	long na = strtol(a, &ea, 10), nb = strtol(b, &eb, 10);
	if (ea != a && eb != b && na != nb)
		return (na > nb) - (na < nb);
	return strcmp(a, b);
}

static int eval_add_file(struct eval_args *a, const char *dir, const char *name)
{
	char **f = realloc(a->files, (a->n_files + 1) * sizeof *f);
	if (!f)
		return -1;
	a->files = f;
	size_t len = (dir ? strlen(dir) + 1 : 0) + strlen(name) + 1;
	if (!(f[a->n_files] = malloc(len)))
		return -1;
	if (dir)
		snprintf(f[a->n_files], len, "%s/%s", dir, name);
	else
		snprintf(f[a->n_files], len, "%s", name);
	a->n_files++;
	return 0;
}

/* Expand each argument: a directory gives its *.csv files, sorted. */
static int eval_collect(struct eval_args *a, int argc, char **argv)
{
	for (int i = optind; i < argc; i++) {
		struct stat st;
		if (stat(argv[i], &st) || !S_ISDIR(st.st_mode)) {
			if (eval_add_file(a, NULL, argv[i]))
				return -1;
			continue;
		}
		DIR *d = opendir(argv[i]);
		if (!d) {
			fprintf(stderr, "iotad eval: %s: %s\n", argv[i], strerror(errno));
			return -1;
		}
		size_t first = a->n_files;
		struct dirent *e;
		size_t dl = strlen(argv[i]);
		char *dir = strdup(argv[i]);
		while (dir && dl > 1 && dir[dl - 1] == '/')
			dir[--dl] = '\0';
		while (dir && (e = readdir(d))) {
			size_t n = strlen(e->d_name);
			if (n > 4 && !strcmp(e->d_name + n - 4, ".csv") && e->d_name[0] != '.' &&
			    eval_add_file(a, dir, e->d_name)) {
				closedir(d);
				free(dir);
				return -1;
			}
		}
		closedir(d);
		if (!dir)
			return -1;
		size_t skip = strlen(dir) + 1;
		/* sort by the base name, numbers in order */
		for (size_t x = first + 1; x < a->n_files; x++) {
			char *v = a->files[x];
			size_t y = x;
			while (y > first) {
				const char *pb = a->files[y - 1] + skip, *pv = v + skip;
				if (eval_cmp_name(&pb, &pv) <= 0)
					break;
				a->files[y] = a->files[y - 1];
				y--;
			}
			a->files[y] = v;
		}
		if (a->n_files == first)
			fprintf(stderr, "iotad eval: %s: no .csv file\n", dir);
		free(dir);
	}
	return a->n_files ? 0 : -1;
}

/* Rows of one file: features, labels and series ids. */
struct eval_table {
	csv_table t;
	uint8_t *label;
	int32_t *anomaly;  /* --truth: the anomaly of each row, or -1 */
};

static void eval_table_free(struct eval_table *x)
{
	csv_free(&x->t);
	free(x->label);
	free(x->anomaly);
	memset(x, 0, sizeof *x);
}

static iotad_err eval_load(const struct eval_args *a, const char *path, int want_label,
			   struct eval_table *x, char *err, size_t errlen)
{
	const char *skip[MODEL_MAX_FEATURES + 4];
	int ns = 0;
	memset(x, 0, sizeof *x);
	for (int i = 0; i < a->skip.n; i++)
		skip[ns++] = a->skip.v[i];
	skip[ns++] = a->label;
	if (a->layout == LAYOUT_SKAB) {
		skip[ns++] = "changepoint";
		skip[ns++] = "datetime";
	} else if (a->layout == LAYOUT_SIM) {
		skip[ns++] = "ts";
	}
	const char *time_col = a->truth_path ? (a->time_col ? a->time_col : "ts") : a->time_col;
	if (!time_col && a->pred_path && a->layout == LAYOUT_SIM)
		time_col = "ts";
	if (time_col)
		skip[ns++] = time_col;
	iotad_err rc = csv_read_timed(path, a->sep, a->features.n ? a->features.v : NULL,
				      a->features.n, skip, ns, a->group,
				      want_label ? time_col : NULL, &x->t, err, errlen);
	if (rc)
		return rc;
	if (x->t.n_cols > MODEL_MAX_FEATURES) {
		snprintf(err, errlen, "%s: %d feature columns, at most %d (--features, --skip)",
			 path, x->t.n_cols, MODEL_MAX_FEATURES);
		return IOTAD_ERR_RANGE;
	}
	if (!want_label)
		return IOTAD_OK;
	if (a->truth_path) {
		size_t n = x->t.n_rows ? x->t.n_rows : 1;
		if (!(x->label = malloc(n)) || !(x->anomaly = malloc(n * sizeof *x->anomaly)))
			return IOTAD_ERR_NOMEM;
		return truth_label(&a->truth, x->t.group, x->t.group_names, x->t.n_groups,
				   x->t.time, x->t.n_rows, x->label, x->anomaly);
	}
	csv_table lt;
	const char *lc[1] = {a->label};
	if ((rc = csv_read(path, a->sep, lc, 1, NULL, 0, &lt, err, errlen)))
		return rc;
	x->label = malloc(lt.n_rows ? lt.n_rows : 1);
	if (!x->label) {
		csv_free(&lt);
		return IOTAD_ERR_NOMEM;
	}
	for (size_t i = 0; i < lt.n_rows; i++)
		x->label[i] = lt.data[i] != 0.0f;
	csv_free(&lt);
	return IOTAD_OK;
}

/* Seeded Fisher-Yates permutation of the rows and labels. */
static void eval_shuffle(struct eval_table *x, uint64_t seed)
{
	uint64_t s = seed ^ 0x5eed5eed5eedULL;
	size_t f = (size_t)x->t.n_cols;
	float tmp[MODEL_MAX_FEATURES];
	for (size_t i = x->t.n_rows; i > 1; i--) {
		uint64_t z = (s += 0x9e3779b97f4a7c15ULL);
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
		size_t j = (size_t)((z ^ (z >> 31)) % i);
		float *ri = x->t.data + (i - 1) * f, *rj = x->t.data + j * f;
		memcpy(tmp, ri, f * sizeof *tmp);
		memcpy(ri, rj, f * sizeof *tmp);
		memcpy(rj, tmp, f * sizeof *tmp);
		uint8_t l = x->label[i - 1];
		x->label[i - 1] = x->label[j];
		x->label[j] = l;
	}
}

static iotad_err eval_fit_table(struct eval_args *a, const csv_table *t, size_t n,
				eval_scorer **s, char *err, size_t errlen)
{
	float *rows = NULL;
	size_t *seg = NULL, n_seg = 0;
	if (cli_series_rows(t, n, &rows, &seg, &n_seg))
		return IOTAD_ERR_NOMEM;
	iotad_err rc = eval_fit(&a->o, rows, n, t->n_cols, seg, n_seg, s, err, errlen);
	free(rows);
	free(seg);
	return rc;
}

/* ---- run ---- */

/* --predictions: the counted rows of one file (rows n_warm.. of x). */
static int eval_write_predictions(struct eval_args *a, const char *path,
				  const struct eval_table *x, size_t n_warm, const eval_result *r)
{
	for (size_t j = 0; j < r->n; j++) {
		size_t i = n_warm + j;
		const char *dev = x->t.group && x->t.group_names ? x->t.group_names[x->t.group[i]] : "";
		fputs(path, a->pred);
		fputc(',', a->pred);
		fputs(dev, a->pred);
		if (x->t.time)
			fprintf(a->pred, ",%.3f", x->t.time[i]);
		else
			fprintf(a->pred, ",%zu", i);
		if (isfinite(r->score[j]))
			fprintf(a->pred, ",%.6g", (double)r->score[j]);
		else
			fputs(",", a->pred);
		fprintf(a->pred, ",%.6g,%d,%d\n", (double)r->thr[j], r->raw[j], r->alert[j]);
	}
	if (ferror(a->pred)) {
		fprintf(stderr, "iotad eval: %s: write error\n", a->pred_path);
		return -1;
	}
	return 0;
}

static int eval_file_run(struct eval_args *a, eval_scorer *once, const char *path,
			 struct eval_file *out)
{
	char err[512] = "";
	struct eval_table x;
	eval_scorer *s = once;
	int code = 1;
	iotad_err rc = eval_load(a, path, 1, &x, err, sizeof err);
	if (rc) {
		fprintf(stderr, "iotad eval: %s\n", err);
		return 1;
	}
	if (a->shuffle)
		eval_shuffle(&x, a->o.train.seed);
	size_t n_train = 0;
	if (a->model_path) {
		if ((rc = eval_scorer_load(&a->o, a->model_path, x.t.names, x.t.n_cols, &s, err,
					   sizeof err))) {
			fprintf(stderr, "iotad eval: %s\n", err);
			goto out;
		}
	} else if (!once) {
		n_train = a->train_rows ? (size_t)a->train_rows :
			  (size_t)floor((double)a->train_fraction * (double)x.t.n_rows);
		if (n_train >= x.t.n_rows) {
			fprintf(stderr, "iotad eval: %s: %zu rows, nothing left after %zu training "
				"rows\n", path, x.t.n_rows, n_train);
			goto out;
		}
		if ((rc = eval_fit_table(a, &x.t, n_train, &s, err, sizeof err))) {
			fprintf(stderr, "iotad eval: %s: %s\n", path, err);
			goto out;
		}
	}
	eval_data d = {x.t.data, x.t.n_rows, x.t.n_cols, x.t.group, x.t.n_groups, x.label,
		       a->score_all ? 0 : n_train};
	if ((rc = eval_replay(s, &d, &out->r, err, sizeof err))) {
		fprintf(stderr, "iotad eval: %s: %s\n", path, err);
		goto out;
	}
	if (x.anomaly) {
		uint32_t *seen = calloc(a->truth.n ? a->truth.n : 1, sizeof *seen);
		if (!seen)
			goto out;
		truth_count(&a->truth, x.anomaly + d.n_warm, out->r.alert, out->r.n, seen,
			    a->kinds);
		free(seen);
		if (!x.t.time || evm_add(&a->ev, &a->truth, &a->evo, x.t.group + d.n_warm,
					 x.t.group_names, x.t.n_groups, x.t.time + d.n_warm,
					 out->r.alert, out->r.n)) {
			fprintf(stderr, "iotad eval: %s: event scores failed\n", path);
			goto out;
		}
	}
	if (a->pred && eval_write_predictions(a, path, &x, d.n_warm, &out->r))
		goto out;
	out->threshold = eval_scorer_threshold(s);
	const int *keep;
	int nk = eval_scorer_columns(s, &keep, NULL);
	for (int j = 0, k = 0; j < x.t.n_cols; j++) {
		if (k < nk && keep[k] == j)
			k++;
		else
			snprintf(out->left_out[out->n_left_out++], MODEL_NAME_MAX, "%s",
				 x.t.names[j]);
	}
	if (!(out->path = strdup(path)))
		goto out;
	code = 0;
out:
	if (s != once)
		eval_scorer_destroy(s);
	eval_table_free(&x);
	return code;
}

static int eval_main(struct eval_args *a)
{
	char err[512] = "";
	eval_scorer *once = NULL;
	struct eval_file *files = calloc(a->n_files, sizeof *files);
	eval_result total;
	int code = 1;
	memset(&total, 0, sizeof total);
	if (!files)
		return 1;
	if (a->train_file) {
		struct eval_table x;
		iotad_err rc = eval_load(a, a->train_file, 0, &x, err, sizeof err);
		if (!rc)
			rc = eval_fit_table(a, &x.t, x.t.n_rows, &once, err, sizeof err);
		eval_table_free(&x);
		if (rc) {
			fprintf(stderr, "iotad eval: %s\n", err);
			goto out;
		}
	}
	if (a->pred_path) {
		if (!(a->pred = fopen(a->pred_path, "w"))) {
			fprintf(stderr, "iotad eval: %s: %s\n", a->pred_path, strerror(errno));
			goto out;
		}
		fputs("file,device,ts,score,threshold,anomalous,alert\n", a->pred);
	}
	size_t done = 0;
	progress bar; /* on a terminal only */
	progress_init(&bar, a->quiet ? NULL : stderr, "iotad eval", a->n_files);
	for (; done < a->n_files; done++) {
		progress_update(&bar, done, a->files[done]);
		if (eval_file_run(a, once, a->files[done], &files[done]) ||
		    eval_result_append(&total, &files[done].r)) {
			progress_end(&bar);
			goto out;
		}
	}
	progress_end(&bar);
	FILE *f = stdout;
	if (a->out_path && !(f = fopen(a->out_path, "w"))) {
		fprintf(stderr, "iotad eval: %s: %s\n", a->out_path, strerror(errno));
		goto out;
	}
	report_file *rf = calloc(done ? done : 1, sizeof *rf);
	if (!rf) {
		if (f != stdout)
			fclose(f);
		goto out;
	}
	for (size_t i = 0; i < done; i++) {
		rf[i] = (report_file){.path = files[i].path, .r = &files[i].r,
				      .threshold = files[i].threshold,
				      .n_left_out = files[i].n_left_out};
		for (int k = 0; k < files[i].n_left_out; k++)
			rf[i].left_out[k] = files[i].left_out[k];
	}
	report_kinds kinds = {a->truth.kinds, a->kinds, a->truth.n_kinds, &a->truth, &a->ev,
			      &a->evo};
	report_write(f, &a->o, &a->ro, rf, done, &total, a->truth_path ? &kinds : NULL);
	free(rf);
	if (f != stdout && fclose(f)) {
		fprintf(stderr, "iotad eval: %s: %s\n", a->out_path, strerror(errno));
		goto out;
	}
	for (size_t i = 0; a->plot_dir && i <= done; i++) {
		iotad_err rc = i < done ? plot_series(a->plot_dir, files[i].path, &files[i].r, err,
						      sizeof err) :
				plot_summary(a->plot_dir, &total, err, sizeof err);
		if (rc) {
			fprintf(stderr, "iotad eval: %s\n", err);
			goto out;
		}
	}
	code = 0;
out:
	if (a->pred && fclose(a->pred)) {
		fprintf(stderr, "iotad eval: %s: %s\n", a->pred_path, strerror(errno));
		code = 1;
	}
	a->pred = NULL;
	for (size_t i = 0; i < a->n_files; i++) {
		free(files[i].path);
		eval_result_free(&files[i].r);
	}
	free(files);
	eval_result_free(&total);
	eval_scorer_destroy(once);
	return code;
}

/* --truth: read it and make room for the counts per kind. */
static int eval_read_truth(struct eval_args *a)
{
	char err[512];
	if (!a->truth_path)
		return 0;
	if (truth_read(a->truth_path, &a->truth, err, sizeof err)) {
		fprintf(stderr, "iotad eval: %s\n", err);
		return -1;
	}
	if (!(a->kinds = calloc(a->truth.n_kinds ? a->truth.n_kinds : 1, sizeof *a->kinds)) ||
	    evm_totals_init(&a->ev, &a->truth))
		return -1;
	return 0;
}

int cmd_eval(int argc, char **argv)
{
	struct eval_args a;
	memset(&a, 0, sizeof a);
	eval_opts_default(&a.o);
	evm_opts_default(&a.evo);
	int code = eval_parse(argc, argv, &a);
	if (code < 0) {
		if (!a.sep)
			a.sep = a.layout == LAYOUT_SKAB ? ';' : ',';
		if (a.layout == LAYOUT_SKAB && !a.label)
			a.label = "anomaly";
		else if (a.layout == LAYOUT_SIM && !a.group) {
			a.group = "device";
		}
		if (!a.label)
			a.label = "label";
		if (a.truth_path && !a.group)
			code = cli_usage_err(EVAL_CMD, "--truth needs the series column: --group COL");
		else
			code = eval_collect(&a, argc, argv) || eval_read_truth(&a) ? 1 :
			       eval_main(&a);
	}
	for (size_t i = 0; i < a.n_files; i++)
		free(a.files[i]);
	free(a.files);
	truth_free(&a.truth);
	evm_totals_free(&a.ev);
	free(a.kinds);
	cli_names_free(&a.features);
	cli_names_free(&a.skip);
	return code;
}

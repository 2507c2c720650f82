/* cmd_eval.c - `iotad eval`: replay labelled CSV files through the detector
 * core (or a baseline) and report detection quality per file and in total. */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "iotad/cmd.h"
#include "iotad/csv.h"
#include "iotad/eval.h"
#include "iotad/plot.h"

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
	"              left out, --train-rows 400\n"
	"    generic   any separator (--sep), --features or every numeric column\n"
	"              but --label and --skip; --train-rows N or --train FILE\n"
	"    sim       CSV of `iotad sim --csv`: series by 'device', label 'label'\n"
	"\n"
	"OPTIONS\n"
	"    --detector KIND     ae (autoencoder, default), zscore or pca\n"
	"    --sep C             field separator: one character or 'tab'\n"
	"    --features LIST     comma-separated feature columns, in order\n"
	"    --skip LIST         columns to leave out of automatic selection\n"
	"    --label COL         0/1 label column (non-zero = anomalous)\n"
	"    --group COL         series column (sim: device)\n"
	"    --train-rows N      train on the first N rows of each file\n"
	"    --train FILE        train once on FILE (alias --train-once)\n"
	"    --shuffle           permute each file's rows (seeded) first: tabular\n"
	"                        data with --window 1 only\n"
	"    --train-fraction F  train on the first share F of the rows (0, 1)\n"
	"    --score-all         count the training rows too\n"
	"  detector (as iotad train):\n"
	"    --window N --stride N --norm minmax|zscore --epochs N --batch N --lr X\n"
	"    --seed N --percentile P --holdout F\n"
	"    --hidden LIST       widths, or 'auto' (default): 12,6,12 scaled by\n"
	"                        window*features/20 like the 20-12-6-12-20 seed net\n"
	"    --zs-window N       zscore: recent normal rows in the statistics (100)\n"
	"    --pca-var F         pca: share of the variance kept (0.9)\n"
	"    --pca-score q|t2q   pca: score Q or T^2 + Q (q)\n"
	"  threshold and alerts (as the service config):\n"
	"    --threshold KIND    static, adaptive (default), ewma, spot or dspot\n"
	"    --threshold-k X     ewma: mean + X sd (4)\n"
	"    --threshold-q X     spot, dspot: risk per normal window (0.001)\n"
	"    --threshold-init-quantile X   spot, dspot: tail start (0.98)\n"
	"    --threshold-peaks N --threshold-depth N   spot/dspot history (64, 20)\n"
	"    --k N --n N --m N   raise after k anomalous of n windows, clear\n"
	"                        after m normal ones (default 3 3 5)\n"
	"  output:\n"
	"    --json              one JSON object instead of the table\n"
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

struct eval_names {
	char *buf;
	const char *v[MODEL_MAX_FEATURES];
	int n;
};

struct eval_args {
	enum eval_layout layout;
	char sep;
	struct eval_names features, skip;
	const char *label, *group, *train_file, *plot_dir, *out_path;
	long train_rows;
	float train_fraction;
	int shuffle, score_all, json, per_file, no_time, quiet, hidden_auto;
	eval_opts o;
	char **files;
	size_t n_files;
};

/* What one file gave, kept for the report. */
struct eval_file {
	char *path;
	eval_result r;
	float threshold;   /* calibrated */
};

static int eval_usage_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int eval_usage_err(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("iotad eval: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputs("\n(see iotad eval --help)\n", stderr);
	va_end(ap);
	return 2;
}

static int eval_long(const char *s, long lo, long hi, long *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (end == s || *end || errno == ERANGE || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

static int eval_float(const char *s, double lo, double hi, float *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (end == s || *end || errno == ERANGE || !(v >= lo && v <= hi))
		return -1;
	*out = (float)v;
	return 0;
}

static int eval_split_names(const char *opt, const char *s, struct eval_names *out)
{
	free(out->buf);
	memset(out, 0, sizeof *out);
	if (!(out->buf = strdup(s)))
		return eval_usage_err("%s: out of memory", opt);
	for (char *tok = out->buf, *next; tok; tok = next) {
		if ((next = strchr(tok, ',')))
			*next++ = '\0';
		if (!*tok || strlen(tok) >= MODEL_NAME_MAX || out->n == MODEL_MAX_FEATURES)
			return eval_usage_err("%s: \"%s\": 1..%d names of 1..%d characters", opt, s,
					      MODEL_MAX_FEATURES, MODEL_NAME_MAX - 1);
		out->v[out->n++] = tok;
	}
	return 0;
}

static int eval_hidden(const char *s, train_opts *t)
{
	int n = 0;
	for (const char *p = s;;) {
		char *end;
		errno = 0;
		long v = strtol(p, &end, 10);
		if (end == p || errno || v < 1 || v > NN_MAX_WIDTH || n == NN_MAX_LAYERS - 1)
			return eval_usage_err("--hidden: \"%s\": up to 7 widths in 1..%d, or auto", s,
					      NN_MAX_WIDTH);
		t->hidden[n++] = (int)v;
		if (!*end)
			break;
		if (*end != ',')
			return eval_usage_err("--hidden: \"%s\": expected comma-separated widths", s);
		p = end + 1;
	}
	t->n_hidden = n;
	return 0;
}

enum {
	O_LAYOUT = 256, O_DETECTOR, O_SEP, O_FEATURES, O_SKIP, O_LABEL, O_GROUP, O_TRAIN_ROWS,
	O_TRAIN, O_SHUFFLE, O_TRAIN_FRACTION, O_SCORE_ALL, O_WINDOW, O_STRIDE, O_HIDDEN, O_NORM,
	O_EPOCHS, O_BATCH, O_LR, O_SEED, O_PCT, O_HOLDOUT, O_ZSW, O_PCAVAR, O_PCASCORE,
	O_THRESHOLD, O_K, O_N, O_M, O_JSON, O_PER_FILE, O_PLOT, O_NO_TIME, O_THR_K, O_THR_Q,
	O_THR_IQ, O_THR_PEAKS, O_THR_DEPTH,
};

static const struct option eval_longopts[] = {
	{"layout", required_argument, NULL, O_LAYOUT},
	{"detector", required_argument, NULL, O_DETECTOR},
	{"sep", required_argument, NULL, O_SEP},
	{"features", required_argument, NULL, O_FEATURES},
	{"skip", required_argument, NULL, O_SKIP},
	{"label", required_argument, NULL, O_LABEL},
	{"group", required_argument, NULL, O_GROUP},
	{"train-rows", required_argument, NULL, O_TRAIN_ROWS},
	{"train", required_argument, NULL, O_TRAIN},
	{"train-once", required_argument, NULL, O_TRAIN},
	{"shuffle", no_argument, NULL, O_SHUFFLE},
	{"train-fraction", required_argument, NULL, O_TRAIN_FRACTION},
	{"score-all", no_argument, NULL, O_SCORE_ALL},
	{"window", required_argument, NULL, O_WINDOW},
	{"stride", required_argument, NULL, O_STRIDE},
	{"hidden", required_argument, NULL, O_HIDDEN},
	{"norm", required_argument, NULL, O_NORM},
	{"epochs", required_argument, NULL, O_EPOCHS},
	{"batch", required_argument, NULL, O_BATCH},
	{"lr", required_argument, NULL, O_LR},
	{"seed", required_argument, NULL, O_SEED},
	{"percentile", required_argument, NULL, O_PCT},
	{"holdout", required_argument, NULL, O_HOLDOUT},
	{"zs-window", required_argument, NULL, O_ZSW},
	{"pca-var", required_argument, NULL, O_PCAVAR},
	{"pca-score", required_argument, NULL, O_PCASCORE},
	{"threshold", required_argument, NULL, O_THRESHOLD},
	{"threshold-k", required_argument, NULL, O_THR_K},
	{"threshold-q", required_argument, NULL, O_THR_Q},
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

/* One numeric option; returns 0 or the usage exit code. */
static int eval_num_opt(int c, const char *v, struct eval_args *a)
{
	train_opts *t = &a->o.train;
	alert_params *al = &a->o.det.alert;
	long l;
	float f;
	switch (c) {
	case O_TRAIN_ROWS:
		if (eval_long(v, 1, 1000000000L, &l))
			return eval_usage_err("--train-rows: expected an integer >= 1, got \"%s\"", v);
		a->train_rows = l;
		return 0;
	case O_TRAIN_FRACTION:
		if (eval_float(v, 1e-9, 1.0 - 1e-9, &a->train_fraction))
			return eval_usage_err("--train-fraction: expected a number in (0, 1), got "
					      "\"%s\"", v);
		return 0;
	case O_WINDOW:
	case O_STRIDE:
		if (eval_long(v, 1, MODEL_MAX_WINDOW, &l))
			return eval_usage_err("--%s: expected an integer in 1..%d, got \"%s\"",
					      c == O_WINDOW ? "window" : "stride", MODEL_MAX_WINDOW,
					      v);
		*(c == O_WINDOW ? &t->window : &t->stride) = (int)l;
		return 0;
	case O_EPOCHS:
	case O_BATCH:
		if (eval_long(v, 1, 1000000, &l))
			return eval_usage_err("--%s: expected an integer in 1..1000000, got \"%s\"",
					      c == O_EPOCHS ? "epochs" : "batch", v);
		*(c == O_EPOCHS ? &t->epochs : &t->batch) = (int)l;
		return 0;
	case O_LR:
		if (eval_float(v, 1e-12, 10.0, &t->lr))
			return eval_usage_err("--lr: expected a number in (0, 10], got \"%s\"", v);
		return 0;
	case O_SEED: {
		char *end;
		errno = 0;
		unsigned long long s = strtoull(v, &end, 10);
		if (end == v || *end || errno || v[0] == '-')
			return eval_usage_err("--seed: expected an integer >= 0, got \"%s\"", v);
		t->seed = s;
		return 0;
	}
	case O_PCT:
		if (eval_float(v, 1e-9, 100.0, &t->percentile))
			return eval_usage_err("--percentile: expected a number in (0, 100], got "
					      "\"%s\"", v);
		return 0;
	case O_HOLDOUT:
		if (eval_float(v, 0.0, 0.999, &t->holdout))
			return eval_usage_err("--holdout: expected a number in [0, 1), got \"%s\"", v);
		return 0;
	case O_ZSW:
		if (eval_long(v, 1, 100000, &l))
			return eval_usage_err("--zs-window: expected an integer in 1..100000, got "
					      "\"%s\"", v);
		a->o.bl.zs_window = (int)l;
		return 0;
	case O_PCAVAR:
		if (eval_float(v, 1e-6, 1.0, &f))
			return eval_usage_err("--pca-var: expected a number in (0, 1], got \"%s\"", v);
		a->o.bl.pca_var = f;
		return 0;
	case O_THR_K:
		if (eval_float(v, 1e-6, 100.0, &a->o.det.thr.ewma_k))
			return eval_usage_err("--threshold-k: expected a number in (0, 100], got "
					      "\"%s\"", v);
		return 0;
	case O_THR_Q:
		if (eval_float(v, 1e-12, 0.1, &a->o.det.thr.q))
			return eval_usage_err("--threshold-q: expected a number in (0, 0.1], got "
					      "\"%s\"", v);
		return 0;
	case O_THR_IQ:
		if (eval_float(v, 0.5, 0.9999, &a->o.det.thr.init_quantile))
			return eval_usage_err("--threshold-init-quantile: expected a number in "
					      "[0.5, 0.9999], got \"%s\"", v);
		return 0;
	case O_THR_PEAKS:
	case O_THR_DEPTH:
		if (eval_long(v, c == O_THR_PEAKS ? 0 : 1,
			      c == O_THR_PEAKS ? THR_MAX_PEAKS : THR_MAX_DEPTH, &l))
			return eval_usage_err("--threshold-%s: expected an integer in %d..%d, got "
					      "\"%s\"", c == O_THR_PEAKS ? "peaks" : "depth",
					      c == O_THR_PEAKS ? 0 : 1,
					      c == O_THR_PEAKS ? THR_MAX_PEAKS : THR_MAX_DEPTH, v);
		*(c == O_THR_PEAKS ? &a->o.det.thr.peaks : &a->o.det.thr.depth) = (int)l;
		return 0;
	case O_K:
	case O_N:
	case O_M:
		if (eval_long(v, 1, c == O_M ? 255 : ALERT_MAX_N, &l))
			return eval_usage_err("--%c: expected an integer in 1..%d, got \"%s\"",
					      c == O_K ? 'k' : c == O_N ? 'n' : 'm',
					      c == O_M ? 255 : ALERT_MAX_N, v);
		*(c == O_K ? &al->k : c == O_N ? &al->n : &al->m) = (uint8_t)l;
		return 0;
	}
	return eval_usage_err("internal: option %d", c);
}

/* Returns -1 to go on, else the exit code. */
static int eval_parse(int argc, char **argv, struct eval_args *a)
{
	int c, r;
	opterr = 0;
	optind = 0;
	while ((c = getopt_long(argc, argv, ":o:qhV", eval_longopts, NULL)) != -1) {
		const char *name = optind > 1 && optind <= argc ? argv[optind - 1] : "option";
		switch (c) {
		case O_LAYOUT:
			if (!strcmp(optarg, "skab"))
				a->layout = LAYOUT_SKAB;
			else if (!strcmp(optarg, "generic"))
				a->layout = LAYOUT_GENERIC;
			else if (!strcmp(optarg, "sim"))
				a->layout = LAYOUT_SIM;
			else
				return eval_usage_err("--layout: expected skab, generic or sim, got "
						      "\"%s\"", optarg);
			break;
		case O_DETECTOR:
			if (eval_detector_parse(optarg, &a->o.kind))
				return eval_usage_err("--detector: expected ae, zscore or pca, got "
						      "\"%s\"", optarg);
			break;
		case O_SEP:
			if (!strcmp(optarg, "tab"))
				a->sep = '\t';
			else if (strlen(optarg) == 1 && !strchr("\"\r\n", optarg[0]))
				a->sep = optarg[0];
			else
				return eval_usage_err("--sep: expected one character or 'tab', got "
						      "\"%s\"", optarg);
			break;
		case O_FEATURES:
		case O_SKIP:
			if (eval_split_names(c == O_FEATURES ? "--features" : "--skip", optarg,
					     c == O_FEATURES ? &a->features : &a->skip))
				return 2;
			break;
		case O_LABEL:
		case O_GROUP:
			if (!*optarg)
				return eval_usage_err("%s: expected a column name", name);
			*(c == O_LABEL ? &a->label : &a->group) = optarg;
			break;
		case O_TRAIN: a->train_file = optarg; break;
		case O_SHUFFLE: a->shuffle = 1; break;
		case O_SCORE_ALL: a->score_all = 1; break;
		case O_HIDDEN:
			a->hidden_auto = !strcmp(optarg, "auto");
			if (!a->hidden_auto && eval_hidden(optarg, &a->o.train))
				return 2;
			break;
		case O_NORM:
			if (model_norm_parse(optarg, &a->o.train.norm) < 0)
				return eval_usage_err("--norm: expected minmax or zscore, got \"%s\"",
						      optarg);
			break;
		case O_PCASCORE:
			if (!strcmp(optarg, "q"))
				a->o.bl.pca_score = BL_PCA_Q;
			else if (!strcmp(optarg, "t2q"))
				a->o.bl.pca_score = BL_PCA_T2Q;
			else
				return eval_usage_err("--pca-score: expected q or t2q, got \"%s\"",
						      optarg);
			break;
		case O_THRESHOLD:
			if (thr_kind_parse(optarg, &a->o.det.thr.kind) < 0)
				return eval_usage_err("--threshold: unknown kind \"%s\"", optarg);
			break;
		case O_JSON: a->json = 1; break;
		case O_PER_FILE: a->per_file = 1; break;
		case O_PLOT: a->plot_dir = optarg; break;
		case 'o': a->out_path = optarg; break;
		case O_NO_TIME: a->no_time = 1; break;
		case 'q': a->quiet = 1; break;
		case 'h': fputs(eval_usage, stdout); return 0;
		case 'V': printf("iotad %s\n", IOTAD_VERSION); return 0;
		case ':': return eval_usage_err("%s: missing value", name);
		case '?': return eval_usage_err("unknown option \"%s\"", name);
		default:
			if ((r = eval_num_opt(c, optarg, a)))
				return r;
		}
	}
	if (optind == argc)
		return eval_usage_err("no input file");
	if (a->features.n && a->skip.n)
		return eval_usage_err("--features and --skip exclude each other");
	if (a->o.train.stride > a->o.train.window)
		return eval_usage_err("--stride must not exceed --window");
	if (alert_params_check(&a->o.det.alert))
		return eval_usage_err("--k, --n: need 1 <= k <= n <= %d", ALERT_MAX_N);
	if (a->shuffle && (a->o.train.window != 1 || a->group))
		return eval_usage_err("--shuffle needs --window 1 and no series column");
	if (a->train_fraction > 0.0f && a->train_rows)
		return eval_usage_err("--train-rows and --train-fraction exclude each other");
	if (a->train_file && (a->train_rows || a->train_fraction > 0.0f))
		return eval_usage_err("--train FILE excludes --train-rows and --train-fraction");
	if (!a->train_file && !a->train_rows && !(a->train_fraction > 0.0f)) {
		if (a->layout != LAYOUT_SKAB)
			return eval_usage_err("say what to train on: --train-rows N, "
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
};

static void eval_table_free(struct eval_table *x)
{
	csv_free(&x->t);
	free(x->label);
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
	iotad_err rc = csv_read_grouped(path, a->sep, a->features.n ? a->features.v : NULL,
					a->features.n, skip, ns, a->group, &x->t, err, errlen);
	if (rc)
		return rc;
	if (x->t.n_cols > MODEL_MAX_FEATURES) {
		snprintf(err, errlen, "%s: %d feature columns, at most %d (--features, --skip)",
			 path, x->t.n_cols, MODEL_MAX_FEATURES);
		return IOTAD_ERR_RANGE;
	}
	if (!want_label)
		return IOTAD_OK;
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

/* Copy the first n rows into series-contiguous order (stable) with the
 * series lengths, so that no training window mixes two series. */
static int eval_train_rows(const csv_table *t, size_t n, float **rows, size_t **seg,
			   size_t *n_seg)
{
	size_t f = (size_t)t->n_cols, ng = t->group ? t->n_groups : 1;
	size_t *len = calloc(ng, sizeof *len), *at = calloc(ng, sizeof *at);
	float *d = malloc((n ? n : 1) * f * sizeof *d);
	if (!len || !at || !d) {
		free(len);
		free(at);
		free(d);
		return -1;
	}
	for (size_t r = 0; r < n; r++)
		len[t->group ? t->group[r] : 0]++;
	for (size_t g = 1; g < ng; g++)
		at[g] = at[g - 1] + len[g - 1];
	for (size_t r = 0; r < n; r++)
		memcpy(d + at[t->group ? t->group[r] : 0]++ * f, t->data + r * f, f * sizeof *d);
	/* drop empty series */
	size_t k = 0;
	for (size_t g = 0; g < ng; g++)
		if (len[g])
			len[k++] = len[g];
	free(at);
	*rows = d;
	*seg = len;
	*n_seg = k;
	return 0;
}

/* 12,6,12 scaled to the input width, as the seed's 20-12-6-12-20. */
static void eval_auto_hidden(train_opts *t, int n_features)
{
	int d = t->window * n_features;
	static const int seed[3] = {12, 6, 12};
	t->n_hidden = 3;
	for (int i = 0; i < 3; i++) {
		int w = (int)lround((double)seed[i] * d / 20.0);
		t->hidden[i] = w < 1 ? 1 : w > NN_MAX_WIDTH ? NN_MAX_WIDTH : w;
	}
}

static iotad_err eval_fit_table(struct eval_args *a, const csv_table *t, size_t n,
				eval_scorer **s, char *err, size_t errlen)
{
	float *rows = NULL;
	size_t *seg = NULL, n_seg = 0;
	if (eval_train_rows(t, n, &rows, &seg, &n_seg))
		return IOTAD_ERR_NOMEM;
	eval_opts o = a->o;
	if (a->hidden_auto)
		eval_auto_hidden(&o.train, t->n_cols);
	iotad_err rc = eval_fit(&o, rows, n, t->n_cols, seg, n_seg, s, err, errlen);
	free(rows);
	free(seg);
	return rc;
}

/* ---- report ---- */

static void eval_num(FILE *f, const char *key, double v, const char *sep)
{
	if (isfinite(v))
		fprintf(f, "\"%s\": %.6g%s", key, v, sep);
	else
		fprintf(f, "\"%s\": null%s", key, sep);
}

static void eval_json_counts(FILE *f, const char *key, const eval_counts *c,
			     const eval_delays *d)
{
	eval_rates r;
	eval_rates_from(c, &r);
	fprintf(f, "\"%s\": {\"tp\": %llu, \"fp\": %llu, \"fn\": %llu, \"tn\": %llu, ", key,
		(unsigned long long)c->tp, (unsigned long long)c->fp, (unsigned long long)c->fn,
		(unsigned long long)c->tn);
	eval_num(f, "precision", r.precision, ", ");
	eval_num(f, "recall", r.recall, ", ");
	eval_num(f, "f1", r.f1, ", ");
	eval_num(f, "far", r.far, ", ");
	eval_num(f, "mar", r.mar, ", ");
	fprintf(f, "\"segments\": %llu, \"detected\": %llu, ", (unsigned long long)d->segments,
		(unsigned long long)d->detected);
	eval_num(f, "mean_delay", eval_delay_mean(d), "}");
}

static void eval_json_result(FILE *f, const struct eval_args *a, const eval_result *r)
{
	double roc, pr;
	eval_roc_auc(r->score, r->label, r->n, &roc);
	eval_pr_auc(r->score, r->label, r->n, &pr);
	uint64_t pos = 0;
	for (size_t i = 0; i < r->n; i++)
		pos += r->label[i];
	fprintf(f, "\"rows\": %zu, \"anomalous\": %llu, ", r->n, (unsigned long long)pos);
	eval_json_counts(f, "alert", &r->c_alert, &r->d_alert);
	fputs(", ", f);
	eval_json_counts(f, "raw", &r->c_raw, &r->d_raw);
	fputs(", ", f);
	eval_num(f, "roc_auc", roc, ", ");
	eval_num(f, "pr_auc", pr, ", ");
	fprintf(f, "\"windows\": %zu", r->n_scored);
	if (!a->no_time)
		fprintf(f, ", \"us_per_window\": %.4g",
			r->n_scored ? 1e6 * r->seconds / (double)r->n_scored : 0.0);
}

static void eval_pct(FILE *f, double v)
{
	if (isfinite(v))
		fprintf(f, " %6.2f", 100.0 * v);
	else
		fputs("      -", f);
}

static void eval_fix(FILE *f, double v)
{
	if (isfinite(v))
		fprintf(f, " %6.3f", v);
	else
		fputs("      -", f);
}

static void eval_row(FILE *f, const char *name, const eval_counts *c, const eval_delays *d,
		     double roc, double pr)
{
	eval_rates r;
	eval_rates_from(c, &r);
	fprintf(f, "%-22s %6llu %6llu %6llu %6llu", name, (unsigned long long)c->tp,
		(unsigned long long)c->fp, (unsigned long long)c->fn, (unsigned long long)c->tn);
	eval_fix(f, r.precision);
	eval_fix(f, r.recall);
	eval_fix(f, r.f1);
	eval_pct(f, r.far);
	eval_pct(f, r.mar);
	eval_fix(f, roc);
	eval_fix(f, pr);
	if (d->detected)
		fprintf(f, " %4llu/%-4llu %7.1f\n", (unsigned long long)d->detected,
			(unsigned long long)d->segments, eval_delay_mean(d));
	else
		fprintf(f, " %4llu/%-4llu       -\n", 0ULL, (unsigned long long)d->segments);
}

static const char *eval_short(const char *path)
{
	/* last two components: "valve1/3.csv" */
	const char *p = path + strlen(path), *cut = path;
	int slashes = 0;
	while (p > path) {
		p--;
		if (*p == '/' && ++slashes == 2) {
			cut = p + 1;
			break;
		}
	}
	return cut;
}

static void eval_config_line(FILE *f, const struct eval_args *a, const eval_opts *o)
{
	const train_opts *t = &o->train;
	fprintf(f, "detector %s", eval_detector_name(o->kind));
	if (o->kind == EVAL_AE) {
		fprintf(f, ", window %d stride %d hidden ", t->window, t->stride);
		if (a->hidden_auto)
			fputs("auto", f);
		for (int i = 0; !a->hidden_auto && i < t->n_hidden; i++)
			fprintf(f, "%s%d", i ? "," : "", t->hidden[i]);
		fprintf(f, " norm %s epochs %d seed %llu", model_norm_name(t->norm), t->epochs,
			(unsigned long long)t->seed);
	} else if (o->kind == EVAL_ZSCORE) {
		fprintf(f, ", recent rows %d", o->bl.zs_window);
	} else {
		fprintf(f, ", variance kept %g, score %s", (double)o->bl.pca_var,
			o->bl.pca_score == BL_PCA_Q ? "Q" : "T2+Q");
	}
	fprintf(f, "; threshold %s p%g holdout %g", thr_kind_name(o->det.thr.kind),
		(double)t->percentile, (double)t->holdout);
	if (o->det.thr.kind == THR_SPOT || o->det.thr.kind == THR_DSPOT)
		fprintf(f, " q %g", (double)o->det.thr.q);
	fprintf(f, "; alert k %d n %d m %d\n", o->det.alert.k, o->det.alert.n, o->det.alert.m);
}

static void eval_report(FILE *f, const struct eval_args *a, const struct eval_file *files,
			size_t n, const eval_result *total)
{
	double roc, pr;
	if (a->json) {
		fprintf(f, "{\"detector\": \"%s\", \"threshold\": \"%s\", \"files\": [",
			eval_detector_name(a->o.kind), thr_kind_name(a->o.det.thr.kind));
		for (size_t i = 0; i < n; i++) {
			fprintf(f, "%s\n  {\"file\": \"", i ? "," : "");
			for (const char *p = files[i].path; *p; p++)
				fprintf(f, *p == '"' || *p == '\\' ? "\\%c" : "%c", *p);
			fprintf(f, "\", \"calibrated_threshold\": %.6g, ", (double)files[i].threshold);
			eval_json_result(f, a, &files[i].r);
			fputs("}", f);
		}
		fputs("],\n \"total\": {", f);
		eval_json_result(f, a, total);
		fputs("}}\n", f);
		return;
	}
	eval_config_line(f, a, &a->o);
	fprintf(f, "%-22s %6s %6s %6s %6s %6s %6s %6s %6s %6s %6s %6s %9s %7s\n", "file", "TP",
		"FP", "FN", "TN", "prec", "recall", "F1", "FAR%", "MAR%", "ROC", "PR", "found",
		"delay");
	for (size_t i = 0; a->per_file && i < n; i++) {
		const eval_result *r = &files[i].r;
		eval_roc_auc(r->score, r->label, r->n, &roc);
		eval_pr_auc(r->score, r->label, r->n, &pr);
		eval_row(f, eval_short(files[i].path), &r->c_alert, &r->d_alert, roc, pr);
	}
	eval_roc_auc(total->score, total->label, total->n, &roc);
	eval_pr_auc(total->score, total->label, total->n, &pr);
	eval_row(f, "total (alert)", &total->c_alert, &total->d_alert, roc, pr);
	eval_row(f, "total (raw verdict)", &total->c_raw, &total->d_raw, roc, pr);
	fprintf(f, "%zu files, %zu rows scored", n, total->n);
	if (!a->no_time)
		fprintf(f, ", %zu windows, %.2f us per window", total->n_scored,
			total->n_scored ? 1e6 * total->seconds / (double)total->n_scored : 0.0);
	fputs("\n", f);
}

/* ---- run ---- */

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
	if (!once) {
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
	out->threshold = eval_scorer_threshold(s);
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
	size_t done = 0;
	for (; done < a->n_files; done++) {
		if (!a->quiet)
			fprintf(stderr, "iotad eval: %s\n", a->files[done]);
		if (eval_file_run(a, once, a->files[done], &files[done]))
			goto out;
		if (eval_result_append(&total, &files[done].r))
			goto out;
	}
	FILE *f = stdout;
	if (a->out_path && !(f = fopen(a->out_path, "w"))) {
		fprintf(stderr, "iotad eval: %s: %s\n", a->out_path, strerror(errno));
		goto out;
	}
	eval_report(f, a, files, done, &total);
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
	for (size_t i = 0; i < a->n_files; i++) {
		free(files[i].path);
		eval_result_free(&files[i].r);
	}
	free(files);
	eval_result_free(&total);
	eval_scorer_destroy(once);
	return code;
}

int cmd_eval(int argc, char **argv)
{
	struct eval_args a;
	memset(&a, 0, sizeof a);
	a.hidden_auto = 1;
	eval_opts_default(&a.o);
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
		code = eval_collect(&a, argc, argv) ? 1 : eval_main(&a);
	}
	for (size_t i = 0; i < a.n_files; i++)
		free(a.files[i]);
	free(a.files);
	free(a.features.buf);
	free(a.skip.buf);
	return code;
}

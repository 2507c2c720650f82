/* cmd_eval_args.c - the command line of `iotad eval`: its own options,
 * the training options it shares with `iotad train`, and one flag per
 * detector parameter of the table (params.c), parsed with the config
 * file's words and ranges. */
#include <getopt.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd_eval.h"
#include "iotad/params.h"

static const char eval_usage_head[] =
	"NAME\n"
	"    iotad eval - measure detection quality on labelled CSV files\n"
	"\n"
	"SYNOPSIS\n"
	"    iotad eval [--layout skab|generic|sim|nab] [OPTIONS] FILE|DIR...\n"
	"    iotad eval --models CONFIG --csv FILE [--topic TEMPLATE] ...  a mixed fleet\n"
	"               through CONFIG's models: list, routed as the service routes\n"
	"               (iotad eval --models x --help)\n"
	"\n"
	"DESCRIPTION\n"
	"    Each file is replayed row by row, in time order, through the same\n"
	"    detector core as `iotad run` (a baseline scores in place of the\n"
	"    network, with the same tail). A row is predicted anomalous while the\n"
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
	"              --alert-k 1 --alert-n 1 --alert-m 2\n"
	"    generic   any separator (--sep), --features or every numeric column\n"
	"              but --label and --skip; --train-rows N or --train FILE\n"
	"    sim       CSV of `iotad sim --csv`: series by 'device', label 'label'\n"
	"              (or --truth FILE of `iotad sim --truth`)\n"
	"    nab       a data folder of timestamp,value CSV files (sub-folders\n"
	"              searched) and --labels FILE of anomaly windows (the\n"
	"              Numenta Anomaly Benchmark's combined_windows.json); each\n"
	"              series learns on its first 15 % (probationary, not\n"
	"              scored); adds the benchmark's scores (standard,\n"
	"              reward_low_FP, reward_low_FN; a raise is a detection)\n"
	"              and the alarms' re-raises within an hour and longest\n"
	"              alarm (docs/eval.md); defaults --detector profile\n"
	"              --season --season-margin 2 --alert-quiet 3600\n"
	"              --adapt-after 86400\n"
	"\n"
	"OPTIONS\n"
	"    --detector KIND     ae (autoencoder, default), zscore, pca, or profile\n"
	"                        (zero-config: no training, each device judged\n"
	"                        against its own learned normal by the channels\n"
	"                        of --profile-channels; --train-rows N rows are\n"
	"                        then history it learns from, not counted)\n"
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
	"    --labels FILE       nab: the anomaly windows, {\"dir/file.csv\":\n"
	"                        [[\"start\", \"end\"], ...]}\n"
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
	"    --int8              ae: quantize each trained model to int8 on its\n"
	"                        training rows (as iotad quantize) and replay the\n"
	"                        int8 one; the float one is replayed too and a line\n"
	"                        on stderr compares them (F1, window verdicts and\n"
	"                        alert states that agree)\n"
	"  detector (as iotad train, but --hidden auto by default; --drift-max\n"
	"  leaves the drifting columns out of the baselines too):\n"
	CLI_TRAIN_HELP
	"    --zs-window N       zscore: recent normal rows in the statistics (100)\n"
	"    --pca-var F         pca: share of the variance kept (0.9)\n"
	"    --pca-score q|t2q   pca: score Q or T^2 + Q (q)\n"
	"  threshold and alerts: the keys of the config file's detector section as\n"
	"  flags (score_alpha: --score-alpha), with their ranges and defaults:\n";

static const char eval_usage_tail[] =
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


enum {
	O_LAYOUT = 256, O_DETECTOR, O_SEP, O_FEATURES, O_SKIP, O_LABEL, O_GROUP, O_TRAIN_ROWS,
	O_TRAIN, O_SHUFFLE, O_TRAIN_FRACTION, O_SCORE_ALL, O_ZSW, O_PCAVAR, O_PCASCORE,
	O_JSON, O_PER_FILE, O_PLOT, O_NO_TIME, O_TRUTH, O_LABELS, O_TIME, O_GRACE, O_PREDICTIONS, O_MODEL,
	O_INT8,
	O_PARAM = 0x2000,                          /* + index in the parameter table */
	O_PARAM_NO = O_PARAM + PARAM_MAX_DETECTOR, /* --no-KEY of a boolean parameter */
};

static const struct option eval_fixed_opts[] = {
	{"layout", required_argument, NULL, O_LAYOUT},
	{"detector", required_argument, NULL, O_DETECTOR},
	{"sep", required_argument, NULL, O_SEP},
	{"features", required_argument, NULL, O_FEATURES},
	{"skip", required_argument, NULL, O_SKIP},
	{"label", required_argument, NULL, O_LABEL},
	{"group", required_argument, NULL, O_GROUP},
	{"truth", required_argument, NULL, O_TRUTH},
	{"labels", required_argument, NULL, O_LABELS},
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
	{"int8", no_argument, NULL, O_INT8},
	CLI_TRAIN_LONGOPTS,
	{"zs-window", required_argument, NULL, O_ZSW},
	{"pca-var", required_argument, NULL, O_PCAVAR},
	{"pca-score", required_argument, NULL, O_PCASCORE},
	{"json", no_argument, NULL, O_JSON},
	{"per-file", no_argument, NULL, O_PER_FILE},
	{"plot", required_argument, NULL, O_PLOT},
	{"output", required_argument, NULL, 'o'},
	{"no-time", no_argument, NULL, O_NO_TIME},
	{"quiet", no_argument, NULL, 'q'},
	{"help", no_argument, NULL, 'h'},
	{"version", no_argument, NULL, 'V'},
};

#define N_FIXED (sizeof eval_fixed_opts / sizeof eval_fixed_opts[0])

/* The option table: the fixed options, then one flag per detector parameter
 * eval takes (its key with '-' for '_'), its older alias, and --no-KEY for
 * a boolean. */
typedef struct eval_optab {
	struct option v[N_FIXED + 3 * PARAM_MAX_DETECTOR + 1];
	char names[2 * PARAM_MAX_DETECTOR][64];
} eval_optab;

static void eval_optab_build(eval_optab *t)
{
	size_t n, k = N_FIXED, used = 0;
	const param_def *p = param_detector(&n);
	memset(t, 0, sizeof *t);
	memcpy(t->v, eval_fixed_opts, sizeof eval_fixed_opts);
	for (size_t i = 0; i < n; i++) {
		if (!p[i].eval)
			continue;
		bool b = p[i].type == PARAM_BOOL;
		char *name = t->names[used++];
		param_flag(&p[i], name, sizeof t->names[0]);
		t->v[k++] = (struct option){name, b ? no_argument : required_argument, NULL,
					    O_PARAM + (int)i};
		if (p[i].alias)
			t->v[k++] = (struct option){p[i].alias, required_argument, NULL,
						    O_PARAM + (int)i};
		if (b) {
			char *no = t->names[used++];
			memcpy(no, "no-", 3);
			param_flag(&p[i], no + 3, sizeof t->names[0] - 3);
			t->v[k++] = (struct option){no, no_argument, NULL, O_PARAM_NO + (int)i};
		}
	}
}

/* A detector parameter's flag: parsed by the table, with the config file's
 * words. Returns 0 or the usage exit code. */
static int eval_param_opt(int c, const char *v, eval_args *a)
{
	size_t n;
	const param_def *p = param_detector(&n);
	bool no = c >= O_PARAM_NO;
	size_t i = (size_t)(c - (no ? O_PARAM_NO : O_PARAM));
	char flag[64], msg[300];
	if (i >= n)
		return cli_usage_err(EVAL_CMD, "internal: option %d", c);
	param_flag(&p[i], flag, sizeof flag);
	if (p[i].type == PARAM_BOOL)
		v = no ? "false" : "true";
	if (param_parse(&p[i], v, &a->params, msg, sizeof msg))
		return cli_usage_err(EVAL_CMD, "--%s: %s", flag, msg);
	return 0;
}

/* One numeric option of eval's own; returns 0 or the usage exit code. */
static int eval_num_opt(int c, const char *v, eval_args *a)
{
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
	}
	if (c >= O_PARAM)
		return eval_param_opt(c, v, a);
	return cli_usage_err(EVAL_CMD, "internal: option %d", c);
}

static int eval_layout_parse(const char *s, enum eval_layout *out)
{
	static const char *const names[] = {"generic", "skab", "sim", "nab"};
	for (int i = 0; i < 4; i++) {
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
static void eval_layout_defaults(eval_args *a)
{
	a->o.train.hidden_auto = 1;
	if (a->layout == LAYOUT_NAB) {
		/* chosen on nab-sim.py's seeds 1 and 2 (docs/eval.md): each series
		 * judged against its own normal and its own period, an alarm
		 * held through an hour of quiet, a change lasting a day adopted */
		a->o.kind = EVAL_PROFILE;
		a->params.season = true;
		a->params.season_margin = 2.0;
		a->params.alert_quiet = 3600.0;
		a->params.adapt_after = 86400.0;
		return;
	}
	if (a->layout != LAYOUT_SKAB)
		return;
	a->o.train.window = 7;
	a->o.train.epochs = 60;
	a->o.train.drift_max = 4.0f;
	a->o.train.percentile = 100.0f;
	a->params.score_alpha = 0.1;
	a->params.alert_k = 1;
	a->params.alert_n = 1;
	a->params.alert_m = 2;
	/* the profile channels off: 400 training rows (400 s) are too short a
	 * normal to calibrate them on (docs/eval.md: each adds false alarms) */
	a->params.profile_channels = 0;
}

/* One option other than a training or a numeric one. Returns -1 when
 * handled, else the exit code. */
static int eval_opt(int c, const char *name, eval_args *a)
{
	int r;
	switch (c) {
	case O_LAYOUT:
		if (eval_layout_parse(optarg, &a->layout))
			return cli_usage_err(EVAL_CMD, "--layout: expected skab, generic, sim or nab, "
					     "got \"%s\"", optarg);
		return -1;
	case O_DETECTOR:
		if (eval_detector_parse(optarg, &a->o.kind))
			return cli_usage_err(EVAL_CMD, "--detector: expected ae, zscore, pca or profile, "
					     "got \"%s\"", optarg);
		return -1;
	case O_SEP:
		return cli_sep_opt(EVAL_CMD, optarg, &a->sep) ? 2 : -1;
	case O_FEATURES:
	case O_SKIP:
		if (cli_names_parse(EVAL_CMD, c == O_FEATURES ? "--features" : "--skip", optarg,
				    c == O_FEATURES ? &a->features : &a->skip))
			return 2;
		return -1;
	case O_LABEL:
	case O_GROUP:
	case O_TIME:
		if (!*optarg)
			return cli_usage_err(EVAL_CMD, "%s: expected a column name", name);
		*(c == O_LABEL ? &a->label : c == O_GROUP ? &a->group : &a->time_col) = optarg;
		return -1;
	case O_TRUTH: a->truth_path = optarg; return -1;
	case O_LABELS: a->labels_path = optarg; return -1;
	case O_PREDICTIONS:
		if (!*optarg)
			return cli_usage_err(EVAL_CMD, "--predictions: expected a file name");
		a->pred_path = optarg;
		return -1;
	case O_TRAIN: a->train_file = optarg; return -1;
	case O_MODEL: a->model_path = a->ro.model = optarg; return -1;
	case O_SHUFFLE: a->shuffle = 1; return -1;
	case O_SCORE_ALL: a->score_all = 1; return -1;
	case O_INT8: a->o.int8 = true; return -1;
	case O_PCASCORE:
		if (!strcmp(optarg, "q"))
			a->o.bl.pca_score = BL_PCA_Q;
		else if (!strcmp(optarg, "t2q"))
			a->o.bl.pca_score = BL_PCA_T2Q;
		else
			return cli_usage_err(EVAL_CMD, "--pca-score: expected q or t2q, got "
					     "\"%s\"", optarg);
		return -1;
	case O_JSON: a->ro.json = 1; return -1;
	case O_PER_FILE: a->ro.per_file = 1; return -1;
	case O_PLOT: a->plot_dir = optarg; return -1;
	case 'o': a->out_path = optarg; return -1;
	case O_NO_TIME: a->ro.no_time = 1; return -1;
	case 'q': a->quiet = 1; return -1;
	case 'h':
		fputs(eval_usage_head, stdout);
		param_write_help(stdout);
		fputs(eval_usage_tail, stdout);
		return 0;
	case 'V': printf("iotad %s\n", IOTAD_VERSION); return 0;
	case ':': return cli_usage_err(EVAL_CMD, "%s: missing value", name);
	case '?': return cli_usage_err(EVAL_CMD, "unknown option \"%s\"", name);
	}
	return (r = eval_num_opt(c, optarg, a)) ? r : -1;
}

/* The rules across options, and the defaults that depend on several. */
static int eval_check(eval_args *a, int argc)
{
	const param_def *bad;
	char msg[300];
	if (optind == argc)
		return cli_usage_err(EVAL_CMD, "no input file");
	if (a->features.n && a->skip.n)
		return cli_usage_err(EVAL_CMD, "--features and --skip exclude each other");
	if (a->o.train.stride > a->o.train.window)
		return cli_usage_err(EVAL_CMD, "--stride must not exceed --window");
	if (param_check(&a->params, true, &bad, msg, sizeof msg))
		return cli_usage_err(EVAL_CMD, "%s", msg);
	if (a->shuffle && (a->o.train.window != 1 || a->group))
		return cli_usage_err(EVAL_CMD, "--shuffle needs --window 1 and no series column");
	if (a->shuffle && a->truth_path)
		return cli_usage_err(EVAL_CMD, "--shuffle and --truth exclude each other");
	if (a->time_col && !a->truth_path && !a->pred_path && a->layout != LAYOUT_NAB)
		return cli_usage_err(EVAL_CMD, "--time is the time column of --truth or --predictions");
	if (a->evo.grace != 300.0 && !a->truth_path)
		return cli_usage_err(EVAL_CMD, "--grace needs --truth");
	if (a->train_fraction > 0.0f && a->train_rows)
		return cli_usage_err(EVAL_CMD, "--train-rows and --train-fraction exclude each "
				     "other");
	if (a->o.int8 && a->o.kind != EVAL_AE)
		return cli_usage_err(EVAL_CMD, "--int8 quantizes the autoencoder: not with "
				     "--detector %s", eval_detector_name(a->o.kind));
	if (a->model_path && a->o.int8)
		return cli_usage_err(EVAL_CMD, "--int8 quantizes the model eval trains; to score "
				     "an int8 model file, give it to --model (iotad quantize makes one)");
	if (a->model_path && (a->train_file || a->train_rows || a->train_fraction > 0.0f ||
			      a->o.kind != EVAL_AE))
		return cli_usage_err(EVAL_CMD, "--model FILE excludes --train, --train-rows, "
				     "--train-fraction and --detector");
	if (a->train_file && (a->train_rows || a->train_fraction > 0.0f))
		return cli_usage_err(EVAL_CMD, "--train FILE excludes --train-rows and "
				     "--train-fraction");
	if (a->layout == LAYOUT_NAB) {
		if (!a->labels_path)
			return cli_usage_err(EVAL_CMD, "--layout nab needs --labels FILE (the anomaly "
					     "windows, as NAB's combined_windows.json)");
		if (a->truth_path || a->train_file || a->train_rows || a->train_fraction > 0.0f ||
		    a->model_path || a->shuffle || a->group)
			return cli_usage_err(EVAL_CMD, "--layout nab trains each series on its first "
					     "15 %%: not with --truth, --train, --train-rows, "
					     "--train-fraction, --model, --shuffle or --group");
		if (!a->params.profile_channels)
			a->params.season = false; /* it rides on the profile */
	} else if (a->labels_path) {
		return cli_usage_err(EVAL_CMD, "--labels is the nab layout's (--layout nab)");
	}
	if (a->layout != LAYOUT_NAB && !a->model_path && !a->train_file && !a->train_rows &&
	    !(a->train_fraction > 0.0f)) {
		if (a->layout == LAYOUT_SKAB)
			a->train_rows = 400;
		else if (a->o.kind != EVAL_PROFILE) /* the profile needs no training */
			return cli_usage_err(EVAL_CMD, "say what to train on: --train-rows N, "
					     "--train-fraction F or --train FILE");
	}
	if (!a->sep)
		a->sep = a->layout == LAYOUT_SKAB ? ';' : ',';
	if (a->layout == LAYOUT_SKAB && !a->label)
		a->label = "anomaly";
	else if (a->layout == LAYOUT_SIM && !a->group)
		a->group = "device";
	if (!a->label)
		a->label = "label";
	if (a->truth_path && !a->group)
		return cli_usage_err(EVAL_CMD, "--truth needs the series column: --group COL");
	return -1;
}

int cmd_eval_parse(int argc, char **argv, eval_args *a)
{
	eval_optab t;
	int c, r;
	eval_optab_build(&t);
	eval_opts_default(&a->o);
	evm_opts_default(&a->evo);
	config_defaults(&a->params);
	opterr = 0;
	/* first the layout, whose defaults the other options override */
	for (optind = 0; (c = getopt_long(argc, argv, ":o:qhV", t.v, NULL)) != -1;)
		if (c == O_LAYOUT && eval_layout_parse(optarg, &a->layout))
			break;
	eval_layout_defaults(a);
	optind = 0;
	while ((c = getopt_long(argc, argv, ":o:qhV", t.v, NULL)) != -1) {
		const char *name = optind > 1 && optind <= argc ? argv[optind - 1] : "option";
		if ((r = cli_train_opt(EVAL_CMD, c, optarg, &a->o.train)) >= 0) {
			if (r)
				return r;
			continue;
		}
		if ((r = eval_opt(c, name, a)) >= 0)
			return r;
	}
	if ((r = eval_check(a, argc)) >= 0)
		return r;
	a->first_file = optind;
	config_det(&a->params, &a->o.det);
	/* dropouts are scored from the stales on the devices' own time */
	a->evo.stale_seen = a->o.det.stale_after > 0.0;
	return -1;
}

void cmd_eval_args_free(eval_args *a)
{
	for (size_t i = 0; i < a->n_files; i++)
		free(a->files[i]);
	free(a->files);
	truth_free(&a->truth);
	nab_labels_free(&a->nab.labels);
	evm_totals_free(&a->ev);
	free(a->kinds);
	cli_names_free(&a->features);
	cli_names_free(&a->skip);
}

/* cmd_train.c - `iotad train`: read normal data from CSV, fit the
 * autoencoder, calibrate its threshold and write the model file. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iotad/cli.h"
#include "iotad/cmd.h"
#include "iotad/csv.h"
#include "iotad/model_io.h"
#include "iotad/progress.h"
#include "iotad/quantize.h"
#include "iotad/train.h"

static const char train_usage[] =
	"NAME\n"
	"    iotad train - train an autoencoder model on normal data\n"
	"\n"
	"SYNOPSIS\n"
	"    iotad train --csv FILE [--features a,b,c | --skip x,y] -o MODEL.json [OPTIONS]\n"
	"\n"
	"DESCRIPTION\n"
	"    Reads time-ordered rows of normal (anomaly-free) data from a CSV file\n"
	"    with a header row, normalizes every feature, and trains a dense\n"
	"    autoencoder on windows of consecutive rows with mini-batch Adam. The\n"
	"    last part of the windows (in time order) is held out: its reconstruction\n"
	"    errors are stored in the model for calibration and their percentile\n"
	"    becomes the threshold. The same seed gives the same model.\n"
	"\n"
	"OPTIONS\n"
	"    --csv FILE          input CSV file (required)\n"
	"    --sep C             field separator: one character, or 'tab' (default ',')\n"
	"    --features LIST     comma-separated columns to use, in this order;\n"
	"                        default: every numeric column not in --skip\n"
	"    --skip LIST         columns to leave out when --features is not given\n"
	"                        (names not in the file are ignored)\n"
	"    --group COLUMN      rows belong to independent series named by COLUMN\n"
	"                        (e.g. device): windows never mix two series, each\n"
	"                        keeps its time order and gives its last part to\n"
	"                        calibration\n"
	"    -o, --output FILE   model file to write (required)\n"
	"    --group-by COLUMN   one model per value of COLUMN (a kind of device, each\n"
	"                        with its own fields; the other kinds' cells empty),\n"
	"                        written as FILE/KIND.json (-o names a folder) with id\n"
	"                        KIND, each on the columns its kind fills\n"
	"    --int8 FILE         also write the int8 model (as iotad quantize, on the\n"
	"                        same rows and holdout)\n"
	"    --id NAME           model id (default: the output file name)\n"
	"    --model-version N   model version number (default 1)\n"
	CLI_TRAIN_HELP
	"    -v, --verbose       print the loss of every epoch\n"
	"    -q, --quiet         print nothing but errors\n"
	"    -h, --help          show this help\n"
	"    -V, --version       show the version\n"
	"\n"
	"EXIT STATUS\n"
	"    0 on success, 1 if reading, training or writing failed, 2 on a usage error.\n"
	"\n"
	"EXAMPLE\n"
	"    iotad train --csv skab/valve1/0.csv --sep ';' \\\n"
	"        --skip anomaly,changepoint -o valve1.json\n";

#define TRAIN_CMD "train"

enum { OPT_CSV = 256, OPT_SEP, OPT_FEATURES, OPT_SKIP, OPT_ID, OPT_MVER, OPT_GROUP, OPT_INT8 };

static const struct option train_longopts[] = {
	{"csv", required_argument, NULL, OPT_CSV},
	{"sep", required_argument, NULL, OPT_SEP},
	{"features", required_argument, NULL, OPT_FEATURES},
	{"skip", required_argument, NULL, OPT_SKIP},
	{"output", required_argument, NULL, 'o'},
	{"id", required_argument, NULL, OPT_ID},
	{"model-version", required_argument, NULL, OPT_MVER},
	CLI_TRAIN_LONGOPTS,
	{"group", required_argument, NULL, OPT_GROUP},
	{"int8", required_argument, NULL, OPT_INT8},
	{"verbose", no_argument, NULL, 'v'},
	{"quiet", no_argument, NULL, 'q'},
	{"help", no_argument, NULL, 'h'},
	{"version", no_argument, NULL, 'V'},
	{NULL, 0, NULL, 0},
};

/* Model id from the output path: its base name without ".json". */
static void default_id(const char *out, char *id)
{
	const char *base = strrchr(out, '/');
	base = base ? base + 1 : out;
	size_t n = strlen(base);
	if (n > 5 && !strcmp(base + n - 5, ".json"))
		n -= 5;
	if (n == 0) {
		base = "model";
		n = 5;
	}
	if (n >= MODEL_NAME_MAX)
		n = MODEL_NAME_MAX - 1;
	memcpy(id, base, n);
	id[n] = '\0';
}

struct train_args {
	const char *csv, *out, *id, *group, *int8;
	char sep;
	long mver;
	int quiet;
	cli_names features, skip;
	train_opts o;
};

/* Returns -1 to go on, else the exit code. */
static int train_parse(int argc, char **argv, struct train_args *a)
{
	long v;
	int c, r;
	opterr = 0;
	optind = 0; /* glibc: a full reset, so cmd_train can run twice */
	while ((c = getopt_long(argc, argv, ":o:vqhV", train_longopts, NULL)) != -1) {
		const char *name = optind > 1 && optind <= argc ? argv[optind - 1] : "option";
		if ((r = cli_train_opt(TRAIN_CMD, c, optarg, &a->o)) >= 0) {
			if (r)
				return r;
			continue;
		}
		switch (c) {
		case OPT_CSV: a->csv = optarg; break;
		case 'o': a->out = optarg; break;
		case OPT_INT8: a->int8 = optarg; break;
		case OPT_ID:
			if (!*optarg || strlen(optarg) >= MODEL_NAME_MAX)
				return cli_usage_err(TRAIN_CMD, "--id: must be 1..%d characters: \"%s\"",
						     MODEL_NAME_MAX - 1, optarg);
			a->id = optarg;
			break;
		case OPT_SEP:
			if (cli_sep_opt(TRAIN_CMD, optarg, &a->sep))
				return 2;
			break;
		case OPT_FEATURES:
		case OPT_SKIP:
			if (cli_names_parse(TRAIN_CMD, c == OPT_FEATURES ? "--features" : "--skip",
					    optarg, c == OPT_FEATURES ? &a->features : &a->skip))
				return 2;
			break;
		case OPT_GROUP:
			if (!*optarg)
				return cli_usage_err(TRAIN_CMD, "--group: expected a column name");
			a->group = optarg;
			break;
		case OPT_MVER:
			if (cli_long(optarg, 1, INT_MAX, &v) < 0)
				return cli_usage_err(TRAIN_CMD, "--model-version: expected an integer "
						     ">= 1, got \"%s\"", optarg);
			a->mver = v;
			break;
		case 'v': a->o.verbose = 1; break;
		case 'q': a->quiet = 1; break;
		case 'h': fputs(train_usage, stdout); return 0;
		case 'V': printf("iotad %s\n", IOTAD_VERSION); return 0;
		case ':': return cli_usage_err(TRAIN_CMD, "%s: missing value", name);
		default: return cli_usage_err(TRAIN_CMD, "unknown option \"%s\"", name);
		}
	}
	if (optind < argc)
		return cli_usage_err(TRAIN_CMD, "unexpected argument \"%s\"", argv[optind]);
	if (!a->csv)
		return cli_usage_err(TRAIN_CMD, "--csv FILE is required");
	if (!a->out)
		return cli_usage_err(TRAIN_CMD, "-o MODEL.json is required");
	if (a->features.n && a->skip.n)
		return cli_usage_err(TRAIN_CMD, "--features and --skip exclude each other");
	if (a->o.stride > a->o.window)
		return cli_usage_err(TRAIN_CMD, "--stride must not exceed --window");
	if (a->int8 && !strcmp(a->int8, a->out))
		return cli_usage_err(TRAIN_CMD, "--int8 and -o name the same file");
	return -1;
}

/* --int8: quantize m on the rows it was trained on (its kept columns). */
static int train_int8(const struct train_args *a, const csv_table *t, const float *rows,
		      const train_report *rep, const model *m)
{
	const float *src = rows ? rows : t->data;
	float *kept = NULL;
	size_t nc = (size_t)t->n_cols, nk = (size_t)rep->n_kept;
	if (nk < nc) {
		if (!(kept = malloc(t->n_rows * nk * sizeof *kept))) {
			fprintf(stderr, "iotad train: out of memory\n");
			return 1;
		}
		for (size_t i = 0; i < t->n_rows; i++)
			for (size_t k = 0; k < nk; k++)
				kept[i * nk + k] = src[i * nc + (size_t)rep->kept[k]];
		src = kept;
	}
	quant_opts d;
	quant_opts_default(&d);
	int code = cli_quantize_write(TRAIN_CMD, m, src, t->n_rows, a->o.segments,
				      a->o.n_segments, a->o.holdout, d.input_margin, a->int8,
				      a->quiet);
	free(kept);
	return code;
}

static int train_run(struct train_args *a)
{
	char err[512];
	csv_table t;
	progress bar; /* on a terminal only; -v prints every epoch instead */
	progress_init(&bar, a->quiet || a->o.verbose ? NULL : stderr, "iotad train", 0);
	progress_note(&bar, "reading the CSV file");
	iotad_err rc = csv_read_grouped(a->csv, a->sep, a->features.n ? a->features.v : NULL,
					a->features.n, a->skip.v, a->skip.n, a->group, &t, err,
					sizeof err);
	progress_end(&bar);
	if (rc) {
		fprintf(stderr, "iotad train: %s\n", err);
		return 1;
	}
	int code = 1;
	size_t *segments = NULL, n_seg = 0;
	float *rows = NULL;
	model m;
	memset(&m, 0, sizeof m);
	if (a->group && cli_series_rows(&t, t.n_rows, &rows, &segments, &n_seg) != 0) {
		fprintf(stderr, "iotad train: out of memory\n");
		goto out;
	}
	a->o.segments = segments;
	a->o.n_segments = n_seg;
	if (t.n_cols > MODEL_MAX_FEATURES) {
		fprintf(stderr, "iotad train: %s: %d columns selected, at most %d (use --features "
			"or --skip)\n", a->csv, t.n_cols, MODEL_MAX_FEATURES);
		goto out;
	}
	for (int i = 0; i < t.n_cols; i++) {
		size_t len = strlen(t.names[i]);
		if (len == 0 || len >= MODEL_NAME_MAX) {
			fprintf(stderr, "iotad train: %s: column %d: name must be 1..%d characters\n",
				a->csv, i + 1, MODEL_NAME_MAX - 1);
			goto out;
		}
		for (int j = 0; j < i; j++) {
			if (!strcmp(t.names[i], t.names[j])) {
				fprintf(stderr, "iotad train: %s: column \"%s\" appears twice\n", a->csv,
					t.names[i]);
				goto out;
			}
		}
		memcpy(m.features[i], t.names[i], len + 1);
	}
	m.n_features = t.n_cols;
	if (a->id)
		snprintf(m.id, sizeof m.id, "%s", a->id);
	else
		default_id(a->out, m.id);
	m.version = (int)a->mver;

	train_report rep;
	snprintf(err, sizeof err, "training on %zu rows x %d features, %d epochs", t.n_rows,
		 t.n_cols, a->o.epochs);
	progress_init(&bar, a->quiet || a->o.verbose ? NULL : stderr, "iotad train", 0);
	progress_note(&bar, err);
	rc = train_model_report(rows ? rows : t.data, t.n_rows, t.n_cols, &a->o, &m, &rep, err,
				sizeof err);
	progress_end(&bar);
	if (rc) {
		fprintf(stderr, "iotad train: %s: %s\n", a->csv, err);
		goto out;
	}
	rc = model_save(&m, a->out);
	if (rc) {
		fprintf(stderr, "iotad train: cannot write %s: %s (%s)\n", a->out,
			iotad_strerror(rc), strerror(errno));
		goto out;
	}
	if (!a->quiet) {
		fprintf(stderr, "iotad train: %zu rows x %d features from %s\n", t.n_rows, t.n_cols,
			a->csv);
		fprintf(stderr, "  windows %zu (window %d): %zu trained on, %zu for calibration%s\n",
			rep.n_windows, a->o.window, rep.n_train, rep.n_calib,
			!rep.calib_on_train ? "" :
			a->o.holdout > 0.0f ? " (too few to hold out: calibrated on the training "
					      "windows, the threshold may be low)" :
			" (--holdout 0: calibrated on the training windows)");
		for (int j = 0, k = 0; a->o.drift_max > 0.0f && j < t.n_cols; j++) {
			if (k < rep.n_kept && rep.kept[k] == j)
				k++;
			else
				fprintf(stderr, "  left out %s: drift ratio %.3g > %g\n", t.names[j],
					(double)rep.drift[j], (double)a->o.drift_max);
		}
		fprintf(stderr, "  loss %.6g -> %.6g over %d epochs\n", (double)rep.first_loss,
			(double)rep.final_loss, a->o.epochs);
		fprintf(stderr, "  threshold %.6g (p%g of %d calibration scores)\n",
			(double)m.threshold, (double)m.percentile, m.n_calib);
		fprintf(stderr, "  wrote %s (id \"%s\")\n", a->out, m.id);
	}
	code = a->int8 ? train_int8(a, &t, rows, &rep, &m) : 0;
out:
	model_free(&m);
	csv_free(&t);
	free(rows);
	free(segments);
	return code;
}

int cmd_train(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--group-by"))
			return cmd_train_group_by(argc, argv);
	struct train_args a;
	memset(&a, 0, sizeof a);
	a.sep = ',';
	a.mver = 1;
	train_opts_default(&a.o);
	int code = train_parse(argc, argv, &a);
	if (code < 0)
		code = train_run(&a);
	cli_names_free(&a.features);
	cli_names_free(&a.skip);
	return code;
}

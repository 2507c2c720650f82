/* cmd_train.c - `iotad train`: read normal data from CSV, fit the
 * autoencoder, calibrate its threshold and write the model file. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iotad/cmd.h"
#include "iotad/csv.h"
#include "iotad/model.h"
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
	"    --id NAME           model id (default: the output file name)\n"
	"    --model-version N   model version number (default 1)\n"
	"    --window N          samples per window, 1..1024 (default 10)\n"
	"    --stride N          score every N samples when serving, 1..window (default 1)\n"
	"    --hidden LIST       hidden layer widths (default 12,6,12)\n"
	"    --norm KIND         minmax (sigmoid output) or zscore (linear output)\n"
	"                        (default minmax)\n"
	"    --epochs N          training epochs (default 30)\n"
	"    --batch N           mini-batch size (default 32)\n"
	"    --lr X              Adam learning rate (default 0.001)\n"
	"    --seed N            random seed for initialisation and shuffling (default 42)\n"
	"    --percentile P      threshold percentile of the calibration scores,\n"
	"                        (0, 100] (default 99)\n"
	"    --holdout F         share of windows held out for calibration, [0, 1)\n"
	"                        (default 0.2)\n"
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

enum {
	OPT_CSV = 256, OPT_SEP, OPT_FEATURES, OPT_SKIP, OPT_ID, OPT_MVER, OPT_WINDOW, OPT_STRIDE,
	OPT_HIDDEN, OPT_NORM, OPT_EPOCHS, OPT_BATCH, OPT_LR, OPT_SEED, OPT_PCT, OPT_HOLDOUT,
	OPT_GROUP,
};

static const struct option train_longopts[] = {
	{"csv", required_argument, NULL, OPT_CSV},
	{"sep", required_argument, NULL, OPT_SEP},
	{"features", required_argument, NULL, OPT_FEATURES},
	{"skip", required_argument, NULL, OPT_SKIP},
	{"output", required_argument, NULL, 'o'},
	{"id", required_argument, NULL, OPT_ID},
	{"model-version", required_argument, NULL, OPT_MVER},
	{"window", required_argument, NULL, OPT_WINDOW},
	{"stride", required_argument, NULL, OPT_STRIDE},
	{"hidden", required_argument, NULL, OPT_HIDDEN},
	{"norm", required_argument, NULL, OPT_NORM},
	{"epochs", required_argument, NULL, OPT_EPOCHS},
	{"batch", required_argument, NULL, OPT_BATCH},
	{"lr", required_argument, NULL, OPT_LR},
	{"seed", required_argument, NULL, OPT_SEED},
	{"percentile", required_argument, NULL, OPT_PCT},
	{"holdout", required_argument, NULL, OPT_HOLDOUT},
	{"group", required_argument, NULL, OPT_GROUP},
	{"verbose", no_argument, NULL, 'v'},
	{"quiet", no_argument, NULL, 'q'},
	{"help", no_argument, NULL, 'h'},
	{"version", no_argument, NULL, 'V'},
	{NULL, 0, NULL, 0},
};

/* A comma-separated list of names, split in place. */
struct train_names {
	char *buf;
	const char *v[MODEL_MAX_FEATURES];
	int n;
};

static int train_usage_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Print a usage error and return exit code 2. */
static int train_usage_err(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("iotad train: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputs("\n(see iotad train --help)\n", stderr);
	va_end(ap);
	return 2;
}

static int parse_long(const char *s, long lo, long hi, long *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (end == s || *end != '\0' || errno == ERANGE || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

static int parse_float(const char *s, float *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (end == s || *end != '\0' || errno == ERANGE || !isfinite(v))
		return -1;
	*out = (float)v;
	return 0;
}

static int parse_names(const char *opt, const char *s, struct train_names *out)
{
	free(out->buf);
	memset(out, 0, sizeof *out);
	out->buf = strdup(s);
	if (!out->buf)
		return train_usage_err("%s: out of memory", opt);
	for (char *tok = out->buf, *next; tok; tok = next) {
		next = strchr(tok, ',');
		if (next)
			*next++ = '\0';
		if (!*tok)
			return train_usage_err("%s: empty name in \"%s\"", opt, s);
		if (strlen(tok) >= MODEL_NAME_MAX)
			return train_usage_err("%s: name too long: \"%s\"", opt, tok);
		if (out->n == MODEL_MAX_FEATURES)
			return train_usage_err("%s: too many names (at most 32) in \"%s\"", opt, s);
		for (int i = 0; i < out->n; i++)
			if (!strcmp(out->v[i], tok))
				return train_usage_err("%s: \"%s\" named twice", opt, tok);
		out->v[out->n++] = tok;
	}
	return 0;
}

static int parse_hidden(const char *s, train_opts *o)
{
	int n = 0;
	const char *p = s;
	for (;;) {
		char *end;
		errno = 0;
		long v = strtol(p, &end, 10);
		if (end == p || errno == ERANGE || v < 1 || v > NN_MAX_WIDTH)
			return train_usage_err("--hidden: \"%s\": widths must be integers in 1..4096",
					       s);
		if (n == NN_MAX_LAYERS - 1)
			return train_usage_err("--hidden: \"%s\": at most 7 hidden layers", s);
		o->hidden[n++] = (int)v;
		if (*end == '\0')
			break;
		if (*end != ',')
			return train_usage_err("--hidden: \"%s\": expected comma-separated widths",
					       s);
		p = end + 1;
	}
	o->n_hidden = n;
	return 0;
}

static int parse_sep(const char *s, char *sep)
{
	if (!strcmp(s, "tab") || !strcmp(s, "\\t")) {
		*sep = '\t';
		return 0;
	}
	if (strlen(s) != 1 || s[0] == '"' || s[0] == '\n' || s[0] == '\r')
		return -1;
	*sep = s[0];
	return 0;
}

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
	const char *csv, *out, *id, *group;
	char sep;
	long mver;
	int quiet;
	struct train_names features, skip;
	train_opts o;
};

/* Returns -1 to go on, else the exit code. */
static int train_parse(int argc, char **argv, struct train_args *a)
{
	long v;
	int c;
	opterr = 0;
	optind = 0; /* glibc: a full reset, so cmd_train can run twice */
	while ((c = getopt_long(argc, argv, ":o:vqhV", train_longopts, NULL)) != -1) {
		const char *name = optind > 1 && optind <= argc ? argv[optind - 1] : "option";
		switch (c) {
		case OPT_CSV: a->csv = optarg; break;
		case 'o': a->out = optarg; break;
		case OPT_ID:
			if (!*optarg || strlen(optarg) >= MODEL_NAME_MAX)
				return train_usage_err("--id: must be 1..63 characters: \"%s\"",
						       optarg);
			a->id = optarg;
			break;
		case OPT_SEP:
			if (parse_sep(optarg, &a->sep) < 0)
				return train_usage_err("--sep: expected one character or 'tab', got "
						       "\"%s\"", optarg);
			break;
		case OPT_FEATURES:
			if (parse_names("--features", optarg, &a->features))
				return 2;
			break;
		case OPT_SKIP:
			if (parse_names("--skip", optarg, &a->skip))
				return 2;
			break;
		case OPT_GROUP:
			if (!*optarg)
				return train_usage_err("--group: expected a column name");
			a->group = optarg;
			break;
		case OPT_MVER:
			if (parse_long(optarg, 1, INT_MAX, &v) < 0)
				return train_usage_err("--model-version: expected an integer >= 1, got "
						       "\"%s\"", optarg);
			a->mver = v;
			break;
		case OPT_WINDOW:
			if (parse_long(optarg, 1, MODEL_MAX_WINDOW, &v) < 0)
				return train_usage_err("--window: expected an integer in 1..1024, got "
						       "\"%s\"", optarg);
			a->o.window = (int)v;
			break;
		case OPT_STRIDE:
			if (parse_long(optarg, 1, MODEL_MAX_WINDOW, &v) < 0)
				return train_usage_err("--stride: expected an integer in 1..1024, got "
						       "\"%s\"", optarg);
			a->o.stride = (int)v;
			break;
		case OPT_HIDDEN:
			if (parse_hidden(optarg, &a->o))
				return 2;
			break;
		case OPT_NORM:
			if (model_norm_parse(optarg, &a->o.norm) < 0)
				return train_usage_err("--norm: expected minmax or zscore, got \"%s\"",
						       optarg);
			break;
		case OPT_EPOCHS:
			if (parse_long(optarg, 1, 1000000, &v) < 0)
				return train_usage_err("--epochs: expected an integer in 1..1000000, "
						       "got \"%s\"", optarg);
			a->o.epochs = (int)v;
			break;
		case OPT_BATCH:
			if (parse_long(optarg, 1, 1000000, &v) < 0)
				return train_usage_err("--batch: expected an integer in 1..1000000, "
						       "got \"%s\"", optarg);
			a->o.batch = (int)v;
			break;
		case OPT_LR:
			if (parse_float(optarg, &a->o.lr) < 0 || !(a->o.lr > 0.0f) || a->o.lr > 10.0f)
				return train_usage_err("--lr: expected a number in (0, 10], got "
						       "\"%s\"", optarg);
			break;
		case OPT_SEED: {
			char *end;
			errno = 0;
			unsigned long long s = strtoull(optarg, &end, 10);
			if (end == optarg || *end != '\0' || errno == ERANGE || optarg[0] == '-')
				return train_usage_err("--seed: expected an integer >= 0, got "
						       "\"%s\"", optarg);
			a->o.seed = (uint64_t)s;
			break;
		}
		case OPT_PCT:
			if (parse_float(optarg, &a->o.percentile) < 0 ||
			    !(a->o.percentile > 0.0f && a->o.percentile <= 100.0f))
				return train_usage_err("--percentile: expected a number in (0, 100], "
						       "got \"%s\"", optarg);
			break;
		case OPT_HOLDOUT:
			if (parse_float(optarg, &a->o.holdout) < 0 ||
			    !(a->o.holdout >= 0.0f && a->o.holdout < 1.0f))
				return train_usage_err("--holdout: expected a number in [0, 1), got "
						       "\"%s\"", optarg);
			break;
		case 'v': a->o.verbose = 1; break;
		case 'q': a->quiet = 1; break;
		case 'h': fputs(train_usage, stdout); return 0;
		case 'V': printf("iotad %s\n", IOTAD_VERSION); return 0;
		case ':': return train_usage_err("%s: missing value", name);
		default: return train_usage_err("unknown option \"%s\"", name);
		}
	}
	if (optind < argc)
		return train_usage_err("unexpected argument \"%s\"", argv[optind]);
	if (!a->csv)
		return train_usage_err("--csv FILE is required");
	if (!a->out)
		return train_usage_err("-o MODEL.json is required");
	if (a->features.n && a->skip.n)
		return train_usage_err("--features and --skip exclude each other");
	if (a->o.stride > a->o.window)
		return train_usage_err("--stride must not exceed --window");
	return -1;
}

/* Reorder rows so each group's rows are contiguous, keeping their order
 * (a stable counting sort), and return the group lengths. */
static int group_rows(csv_table *t, size_t **segments)
{
	size_t f = (size_t)t->n_cols;
	size_t *len = calloc(t->n_groups ? t->n_groups : 1, sizeof *len);
	size_t *at = calloc(t->n_groups ? t->n_groups : 1, sizeof *at);
	float *d = malloc((t->n_rows ? t->n_rows : 1) * f * sizeof *d);
	if (!len || !at || !d) {
		free(len);
		free(at);
		free(d);
		return -1;
	}
	for (size_t r = 0; r < t->n_rows; r++)
		len[t->group[r]]++;
	for (size_t g = 1; g < t->n_groups; g++)
		at[g] = at[g - 1] + len[g - 1];
	for (size_t r = 0; r < t->n_rows; r++)
		memcpy(d + at[t->group[r]]++ * f, t->data + r * f, f * sizeof *d);
	free(at);
	free(t->data);
	t->data = d;
	*segments = len;
	return 0;
}

static int train_run(struct train_args *a)
{
	char err[512];
	csv_table t;
	iotad_err rc = csv_read_grouped(a->csv, a->sep, a->features.n ? a->features.v : NULL,
					a->features.n, a->skip.v, a->skip.n, a->group, &t, err,
					sizeof err);
	if (rc) {
		fprintf(stderr, "iotad train: %s\n", err);
		return 1;
	}
	int code = 1;
	size_t *segments = NULL;
	model m;
	memset(&m, 0, sizeof m);
	if (a->group && group_rows(&t, &segments) != 0) {
		fprintf(stderr, "iotad train: out of memory\n");
		goto out;
	}
	a->o.segments = segments;
	a->o.n_segments = t.n_groups;
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
	rc = train_model_report(t.data, t.n_rows, t.n_cols, &a->o, &m, &rep, err, sizeof err);
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
		fprintf(stderr, "  loss %.6g -> %.6g over %d epochs\n", (double)rep.first_loss,
			(double)rep.final_loss, a->o.epochs);
		fprintf(stderr, "  threshold %.6g (p%g of %d calibration scores)\n",
			(double)m.threshold, (double)m.percentile, m.n_calib);
		fprintf(stderr, "  wrote %s (id \"%s\")\n", a->out, m.id);
	}
	code = 0;
out:
	model_free(&m);
	csv_free(&t);
	free(segments);
	return code;
}

int cmd_train(int argc, char **argv)
{
	struct train_args a;
	memset(&a, 0, sizeof a);
	a.sep = ',';
	a.mver = 1;
	train_opts_default(&a.o);
	int code = train_parse(argc, argv, &a);
	if (code < 0)
		code = train_run(&a);
	free(a.features.buf);
	free(a.skip.buf);
	return code;
}

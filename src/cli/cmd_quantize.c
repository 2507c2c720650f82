/* cmd_quantize.c - `iotad quantize`: a float model and its normal data in,
 * an int8 model (binary, qmodel_io.h) out; and the step `train --int8`
 * shares with it. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iotad/cli.h"
#include "iotad/cmd.h"
#include "iotad/csv.h"
#include "iotad/model_io.h"
#include "iotad/quantize.h"

static const char quantize_usage[] =
	"NAME\n"
	"    iotad quantize - turn a float model into an int8 model\n"
	"\n"
	"SYNOPSIS\n"
	"    iotad quantize MODEL.json --csv FILE -o MODEL.iq8 [OPTIONS]\n"
	"\n"
	"DESCRIPTION\n"
	"    Quantizes the autoencoder of MODEL to int8: one symmetric scale per\n"
	"    output channel for the weights, int8 biases, int8 activations whose\n"
	"    ranges are calibrated on the windows of normal data, int32\n"
	"    accumulation. A model file does not keep its training windows, so\n"
	"    the normal data comes from --csv: the file it was trained on (the\n"
	"    model's features are read by name). The int8 network scores the\n"
	"    held-out windows (the last --holdout share, as in training), and the\n"
	"    model's percentile of those scores becomes the int8 model's\n"
	"    threshold. The output is the compact binary encoding (CRC-32\n"
	"    checked); run, eval and /v1/score load it as they load JSON.\n"
	"\n"
	"OPTIONS\n"
	"    --csv FILE          normal data (required)\n"
	"    --sep C             field separator: one character or 'tab' (default ',')\n"
	"    --group COLUMN      rows belong to independent series (as train)\n"
	"    --holdout F         share of each series' windows held out, [0, 1)\n"
	"                        (default 0.2, as train)\n"
	"    --input-margin F    widen the input range seen in the data by F of its\n"
	"                        span on each side, [0, 10] (default 0.25)\n"
	"    -o, --output FILE   int8 model to write (required)\n"
	"    -q, --quiet         print nothing but errors\n"
	"    -h, --help, -V, --version\n"
	"\n"
	"EXIT STATUS\n"
	"    0 on success, 1 if reading, quantizing or writing failed, 2 on a usage error.\n"
	"\n"
	"EXAMPLE\n"
	"    iotad quantize model.json --csv normal.csv --group device -o model.iq8\n";

#define QUANTIZE_CMD "quantize"

enum { OPT_CSV = 256, OPT_SEP, OPT_GROUP, OPT_HOLDOUT, OPT_MARGIN };

static const struct option quantize_longopts[] = {
	{"csv", required_argument, NULL, OPT_CSV},
	{"sep", required_argument, NULL, OPT_SEP},
	{"group", required_argument, NULL, OPT_GROUP},
	{"holdout", required_argument, NULL, OPT_HOLDOUT},
	{"input-margin", required_argument, NULL, OPT_MARGIN},
	{"output", required_argument, NULL, 'o'},
	{"quiet", no_argument, NULL, 'q'},
	{"help", no_argument, NULL, 'h'},
	{"version", no_argument, NULL, 'V'},
	{NULL, 0, NULL, 0},
};

int cli_quantize_write(const char *cmd, const model *fm, const float *rows, size_t n_rows,
		       const size_t *seg, size_t n_seg, float holdout, float margin,
		       const char *out, int quiet)
{
	char err[512];
	quant_opts o;
	model q;
	quant_opts_default(&o);
	o.holdout = holdout;
	o.input_margin = margin;
	o.segments = seg;
	o.n_segments = n_seg;
	if (quant_model(fm, rows, n_rows, &o, &q, err, sizeof err)) {
		/* "quantize: ..." names the step under train; under quantize it is the command */
		const char *msg = err;
		if (!strcmp(cmd, "quantize") && !strncmp(err, "quantize: ", 10))
			msg += 10;
		fprintf(stderr, "iotad %s: %s\n", cmd, msg);
		return 1;
	}
	iotad_err rc = model_save(&q, out);
	if (rc) {
		fprintf(stderr, "iotad %s: cannot write %s: %s (%s)\n", cmd, out, iotad_strerror(rc),
			strerror(errno));
		model_free(&q);
		return 1;
	}
	if (!quiet)
		fprintf(stderr, "  int8: threshold %.6g (p%g of %d int8 calibration scores; float "
			"%.6g)\n  wrote %s (int8)\n", (double)q.threshold, (double)q.percentile,
			q.n_calib, (double)fm->threshold, out);
	model_free(&q);
	return 0;
}

struct quantize_args {
	const char *in, *csv, *out, *group;
	char sep;
	float holdout, margin;
	int quiet;
};

/* Returns -1 to go on, else the exit code. */
static int quantize_parse(int argc, char **argv, struct quantize_args *a)
{
	int c;
	opterr = 0;
	optind = 0;
	while ((c = getopt_long(argc, argv, ":o:qhV", quantize_longopts, NULL)) != -1) {
		const char *name = optind > 1 && optind <= argc ? argv[optind - 1] : "option";
		switch (c) {
		case OPT_CSV: a->csv = optarg; break;
		case 'o': a->out = optarg; break;
		case OPT_GROUP:
			if (!*optarg)
				return cli_usage_err(QUANTIZE_CMD, "--group: expected a column name");
			a->group = optarg;
			break;
		case OPT_SEP:
			if (cli_sep_opt(QUANTIZE_CMD, optarg, &a->sep))
				return 2;
			break;
		case OPT_HOLDOUT:
			if (cli_float(optarg, 0.0, 0.99, &a->holdout))
				return cli_usage_err(QUANTIZE_CMD, "--holdout: expected a number in "
						     "[0, 0.99], got \"%s\"", optarg);
			break;
		case OPT_MARGIN:
			if (cli_float(optarg, 0.0, 10.0, &a->margin))
				return cli_usage_err(QUANTIZE_CMD, "--input-margin: expected a number "
						     "in [0, 10], got \"%s\"", optarg);
			break;
		case 'q': a->quiet = 1; break;
		case 'h': fputs(quantize_usage, stdout); return 0;
		case 'V': printf("iotad %s\n", IOTAD_VERSION); return 0;
		case ':': return cli_usage_err(QUANTIZE_CMD, "%s: missing value", name);
		default: return cli_usage_err(QUANTIZE_CMD, "unknown option \"%s\"", name);
		}
	}
	if (optind == argc)
		return cli_usage_err(QUANTIZE_CMD, "MODEL is required");
	a->in = argv[optind++];
	if (optind < argc)
		return cli_usage_err(QUANTIZE_CMD, "unexpected argument \"%s\"", argv[optind]);
	if (!a->csv)
		return cli_usage_err(QUANTIZE_CMD, "--csv FILE is required (the model's normal "
				     "data: a model file keeps no windows)");
	if (!a->out)
		return cli_usage_err(QUANTIZE_CMD, "-o FILE is required");
	return -1;
}

static int quantize_run(const struct quantize_args *a)
{
	char err[512];
	model m;
	csv_table t;
	float *rows = NULL;
	size_t *seg = NULL, n_seg = 0;
	int code = 1;
	if (model_load(a->in, &m, err, sizeof err)) {
		fprintf(stderr, "iotad quantize: %s\n", err);
		return 1;
	}
	if (m.type != MODEL_FLOAT) {
		fprintf(stderr, "iotad quantize: %s: already an int8 model\n", a->in);
		model_free(&m);
		return 1;
	}
	const char *cols[MODEL_MAX_FEATURES];
	for (int i = 0; i < m.n_features; i++)
		cols[i] = m.features[i];
	if (csv_read_grouped(a->csv, a->sep, cols, m.n_features, NULL, 0, a->group, &t, err,
			     sizeof err)) {
		fprintf(stderr, "iotad quantize: %s\n", err);
		model_free(&m);
		return 1;
	}
	if (a->group && cli_series_rows(&t, t.n_rows, &rows, &seg, &n_seg)) {
		fprintf(stderr, "iotad quantize: out of memory\n");
		goto out;
	}
	if (!a->quiet)
		fprintf(stderr, "iotad quantize: %s, %zu rows x %d features from %s\n", a->in,
			t.n_rows, t.n_cols, a->csv);
	code = cli_quantize_write(QUANTIZE_CMD, &m, rows ? rows : t.data, t.n_rows, seg, n_seg,
				  a->holdout, a->margin, a->out, a->quiet);
out:
	free(rows);
	free(seg);
	csv_free(&t);
	model_free(&m);
	return code;
}

int cmd_quantize(int argc, char **argv)
{
	struct quantize_args a;
	quant_opts d;
	memset(&a, 0, sizeof a);
	quant_opts_default(&d);
	a.sep = ',';
	a.holdout = d.holdout;
	a.margin = d.input_margin;
	int code = quantize_parse(argc, argv, &a);
	return code < 0 ? quantize_run(&a) : code;
}

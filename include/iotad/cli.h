/* cli.h - option parsing shared by the subcommands: numbers checked against
 * a range, name lists, separators, the model training options that
 * `iotad train` and `iotad eval` both take, and series-ordered rows. */
#ifndef IOTAD_CLI_H
#define IOTAD_CLI_H

#include <getopt.h>
#include <stddef.h>

#include "iotad/config.h"
#include "iotad/csv.h"
#include "iotad/model.h"
#include "iotad/train.h"

/* Print "iotad CMD: message" and a pointer to --help on stderr; returns 2,
 * the usage exit status. */
int cli_usage_err(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Whole-string integer in [lo, hi] into *out: 0, or -1 leaving *out alone. */
int cli_long(const char *s, long lo, long hi, long *out);
/* Whole-string finite number in [lo, hi] into *out: 0, or -1. */
int cli_float(const char *s, double lo, double hi, float *out);
/* Field separator: one character (not a quote or line break), "tab" or
 * "\t": 0, or -1. */
int cli_sep(const char *s, char *sep);
/* cli_sep for command cmd's --sep: 0, or 2 after a usage error naming s. */
int cli_sep_opt(const char *cmd, const char *s, char *sep);

/* A comma-separated list of distinct names, split in place. */
typedef struct cli_names {
	char *buf;                          /* owned */
	const char *v[MODEL_MAX_FEATURES];  /* into buf */
	int n;
} cli_names;

/* Split s into out (freeing what it held): 1..MODEL_MAX_FEATURES distinct
 * names of 1..MODEL_NAME_MAX-1 characters. 0, or 2 after a usage error of
 * cmd naming opt. */
int cli_names_parse(const char *cmd, const char *opt, const char *s, cli_names *out);
void cli_names_free(cli_names *n);

/* getopt_long codes of the training options, above every other code. */
enum {
	CLI_OPT_WINDOW = 0x1000, CLI_OPT_STRIDE, CLI_OPT_HIDDEN, CLI_OPT_NORM, CLI_OPT_EPOCHS,
	CLI_OPT_BATCH, CLI_OPT_LR, CLI_OPT_SEED, CLI_OPT_PERCENTILE, CLI_OPT_HOLDOUT,
	CLI_OPT_DRIFT_MAX, CLI_OPT_ENSEMBLE,
};

/* Their entries, to list in a command's struct option table. */
#define CLI_TRAIN_LONGOPTS                                                                    \
	{"window", required_argument, NULL, CLI_OPT_WINDOW},                                  \
	{"stride", required_argument, NULL, CLI_OPT_STRIDE},                                  \
	{"hidden", required_argument, NULL, CLI_OPT_HIDDEN},                                  \
	{"norm", required_argument, NULL, CLI_OPT_NORM},                                      \
	{"epochs", required_argument, NULL, CLI_OPT_EPOCHS},                                  \
	{"batch", required_argument, NULL, CLI_OPT_BATCH},                                    \
	{"lr", required_argument, NULL, CLI_OPT_LR},                                          \
	{"seed", required_argument, NULL, CLI_OPT_SEED},                                      \
	{"percentile", required_argument, NULL, CLI_OPT_PERCENTILE},                          \
	{"holdout", required_argument, NULL, CLI_OPT_HOLDOUT},                                \
	{"drift-max", required_argument, NULL, CLI_OPT_DRIFT_MAX},                            \
	{"ensemble", required_argument, NULL, CLI_OPT_ENSEMBLE}

/* The help lines of these options (defaults as train_opts_default). */
#define CLI_TRAIN_HELP                                                                        \
	"    --window N          samples per window, 1..1024 (default 10)\n"                    \
	"    --stride N          score every N samples when serving, 1..window (default 1)\n"   \
	"    --hidden LIST|auto  hidden layer widths (default 12,6,12); auto scales the\n"      \
	"                        seed's 20-12-6-12-20 to the input: 12,6,12 x D/20 for\n"       \
	"                        D = window x features in the model\n"                          \
	"    --norm KIND         minmax (sigmoid output) or zscore (linear output)\n"           \
	"                        (default minmax)\n"                                            \
	"    --epochs N          training epochs (default 30)\n"                                \
	"    --batch N           mini-batch size (default 32)\n"                                \
	"    --ensemble K        train K networks from seeds seed..seed+K-1 and score\n"        \
	"                        the mean of their errors, 1..8 (default 1)\n"                  \
	"    --lr X              Adam learning rate (default 0.001)\n"                          \
	"    --seed N            random seed for initialisation and shuffling (default 42)\n"   \
	"    --percentile P      threshold percentile of the calibration scores,\n"             \
	"                        (0, 100] (default 99)\n"                                       \
	"    --holdout F         share of windows held out for calibration, [0, 1)\n"           \
	"                        (default 0.2)\n"                                               \
	"    --drift-max R       leave out of the model every feature whose drift ratio\n"      \
	"                        on the training rows exceeds R: its variance over half\n"      \
	"                        its mean squared step from row to row (about 1 for\n"          \
	"                        noise, large for a sensor that wanders slowly); 0 keeps\n"     \
	"                        every feature (default 0)\n"

/* Apply training option c with value v to o. Returns 0, 2 after a usage
 * error of cmd, or -1 if c is not a training option. */
int cli_train_opt(const char *cmd, int c, const char *v, train_opts *o);

/* Copy the first n rows of t so that each series' rows are contiguous, in
 * their order, and give the series lengths (empty series dropped): rows and
 * segments for train_opts. *rows and *seg are owned by the caller. 0, or -1
 * out of memory. */
int cli_series_rows(const csv_table *t, size_t n, float **rows, size_t **seg, size_t *n_seg);

/* Quantize fm with its normal rows (fm's features, series seg as
 * train_opts) and write the int8 model to out; messages name cmd. Returns
 * the exit code (0, or 1 after printing why). */
int cli_quantize_write(const char *cmd, const model *fm, const float *rows, size_t n_rows,
		       const size_t *seg, size_t n_seg, float holdout, float margin,
		       const char *out, int quiet);

/* The preamble of a service subcommand (run, aggregate): no argument left
 * from argv[first] on, a configuration file given (-c) and loaded into cfg, the
 * log level set from it, then from level_name (--log-level) if given.
 * 0, or the exit status (2) after a message on stderr. */
int cli_service_config(const char *cmd, int argc, char **argv, int first,
		       const char *config_path, const char *level_name, iotad_config *cfg);

/* The options of a service subcommand: -c/--config, -l/--log-level,
 * -h/--help (usage on stdout), -V/--version, and -z/--zero-config when
 * zero is not NULL. -1 to go on (optind past the options), else the exit
 * status (0 after help or version, 2 after usage on stderr). */
int cli_service_opts(const char *usage, int argc, char **argv, const char **config_path,
		     const char **level_name, bool *zero);

/* Installs on_stop for SIGINT and SIGTERM (and SIGHUP when hup), and
 * ignores SIGPIPE. Main thread, before other threads start. */
void cli_stop_signals(void (*on_stop)(int), bool hup);

#endif

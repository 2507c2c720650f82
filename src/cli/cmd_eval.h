/* cmd_eval.h - what the parts of `iotad eval` hand each other: its command
 * line (cmd_eval_args.c, the detector flags from the parameter table), its
 * input (cmd_eval_input.c: files, each read once, and the truth) and the
 * run (cmd_eval.c). Private to these three files. */
#ifndef IOTAD_CMD_EVAL_H
#define IOTAD_CMD_EVAL_H

#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

#include "iotad/cli.h"
#include "iotad/config.h"
#include "iotad/csv.h"
#include "iotad/eval.h"
#include "iotad/evmetrics.h"
#include "iotad/nab.h"
#include "iotad/nablabels.h"
#include "iotad/report.h"
#include "iotad/truth.h"

#define EVAL_CMD "eval"

enum eval_layout { LAYOUT_GENERIC = 0, LAYOUT_SKAB, LAYOUT_SIM, LAYOUT_NAB };

/* The nab layout: the labels, the benchmark's scores and the alarms' lifecycle,
 * summed over the files. */
typedef struct eval_nab {
	nab_labels labels;
	nab_score total;
	uint64_t raises;          /* raises after the probationary period */
	uint64_t reraise_hour;    /* raises within an hour of the previous clear */
	double longest;           /* longest alarm, seconds (to the series' end if open) */
	char longest_file[256];
} eval_nab;

typedef struct eval_args {
	enum eval_layout layout;
	char sep;
	cli_names features, skip;
	const char *label, *group, *train_file, *plot_dir, *out_path, *truth_path, *time_col;
	const char *pred_path, *model_path;
	const char *labels_path;  /* --labels: the nab layout's windows */
	eval_nab nab;
	FILE *pred;               /* --predictions */
	truth truth;
	truth_kind_stats *kinds;  /* truth.n_kinds, summed over the files */
	evm_opts evo;
	evm_totals ev;            /* event scores, summed over the files */
	long train_rows;
	float train_fraction;
	int shuffle, score_all, quiet;
	/* --int8: the float model's replay beside the int8 one, summed over files */
	eval_counts f_alert;
	uint64_t cmp_n, agree_raw, agree_alert;
	report_opts ro;
	iotad_config params;      /* the detector parameters, as in the config file */
	eval_opts o;              /* o.det: config_det of params */
	char **files;
	size_t n_files;
	int first_file;           /* argv index of the first FILE|DIR */
} eval_args;

/* Rows of one file: features, labels and series ids. */
typedef struct eval_table {
	csv_table t;
	uint8_t *label;           /* NULL when read without labels */
	int32_t *anomaly;         /* --truth: the anomaly of each row, or -1 */
	nab_window *win;          /* nab layout: the anomaly windows in rows */
	size_t n_win;
} eval_table;

/* Parse and check the command line into a (zeroed by the caller), with the
 * layout's defaults under the flags. Returns -1 to go on, else the exit
 * code (0 after --help or --version, 2 after a usage error, printed). */
int cmd_eval_parse(int argc, char **argv, eval_args *a);
/* Free what parsing and input left in a. */
void cmd_eval_args_free(eval_args *a);

/* Expand the FILE|DIR arguments into a->files (a directory gives its *.csv
 * files, numbers in order). 0, or -1 after a message. */
int cmd_eval_collect(eval_args *a, int argc, char **argv);
/* --truth: read it and make room for the counts per kind. 0, or -1. */
int cmd_eval_read_truth(eval_args *a);
/* Read path once: its feature columns and, with want_label, its labels
 * (the label column, or --truth by time). x is zeroed first and owned by
 * the caller (cmd_eval_table_free) whatever the result. */
iotad_err cmd_eval_load(const eval_args *a, const char *path, int want_label, eval_table *x,
			char *err, size_t errlen);
void cmd_eval_table_free(eval_table *x);
/* nab layout (cmd_eval_nab.c): expand DIRs recursively into a->files. 0 or -1. */
int cmd_eval_nab_collect(eval_args *a, int argc, char **argv);
/* nab layout: read --labels. 0, or -1 after a message. */
int cmd_eval_nab_read_labels(eval_args *a);
/* nab layout: the windows of path's series in rows, and its labels. */
iotad_err cmd_eval_nab_label(const eval_args *a, const char *path, eval_table *x, char *err,
			     size_t errlen);
/* nab layout: score the counted rows (from n_warm on) of one file. 0 or -1. */
int cmd_eval_nab_score(eval_args *a, const char *path, const eval_table *x, size_t n_warm,
		       const eval_result *r, nab_score *out);
/* nab layout: the benchmark's table (or JSON object) of the files and total. */
void cmd_eval_nab_report(const eval_args *a, FILE *f, char **paths, const nab_score *s,
			 size_t n);
/* Seeded Fisher-Yates permutation of the rows and their labels. */
void cmd_eval_shuffle(eval_table *x, uint64_t seed);

#endif

/* report.h - the report of `iotad eval`: a table per file and in total, or
 * one JSON object, from replay results. */
#ifndef IOTAD_REPORT_H
#define IOTAD_REPORT_H

#include <stddef.h>
#include <stdio.h>

#include "iotad/eval.h"
#include "iotad/evmetrics.h"
#include "iotad/truth.h"

/* What one file gave. */
typedef struct report_file {
	const char *path;
	const eval_result *r;
	float threshold;                          /* calibrated, before adaptation */
	int n_left_out;                           /* columns --drift-max left out */
	const char *left_out[MODEL_MAX_FEATURES]; /* their names */
} report_file;

typedef struct report_opts {
	int json;       /* one JSON object instead of the table */
	int per_file;   /* table: a line per file too */
	int no_time;    /* leave the timing out, so reruns are byte-identical */
	const char *model; /* the model file scored with (--model), or NULL */
} report_opts;

/* Anomalies of a ground truth file caught, per kind; the event scores
 * when t, ev and evo are set (else NULL). */
typedef struct report_kinds {
	char *const *names;
	const truth_kind_stats *stats;
	size_t n;
	const truth *t;
	const evm_totals *ev;
	const evm_opts *evo;
} report_kinds;

/* Write the report of files[0..n) and their total to f, headed (table) by
 * the configuration o; kinds (may be NULL) adds the counts per kind. */
void report_write(FILE *f, const eval_opts *o, const report_opts *ro, const report_file *files,
		  size_t n, const eval_result *total, const report_kinds *kinds);

#endif

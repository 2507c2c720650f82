/* cmd_eval.c - `iotad eval`: replay labelled CSV files through the detector
 * core (or a baseline) and report detection quality per file and in total.
 * The command line is cmd_eval_args.c's, the input cmd_eval_input.c's;
 * this file fits, replays and reports. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd_eval.h"
#include "iotad/cmd.h"
#include "iotad/plot.h"
#include "iotad/progress.h"

/* What one file gave, kept for the report. */
struct eval_file {
	char *path;
	eval_result r;
	nab_score nab;     /* nab layout */
	float threshold;   /* calibrated */
	int n_left_out;    /* columns left out as drifting */
	char left_out[MODEL_MAX_FEATURES][MODEL_NAME_MAX];
};

static iotad_err eval_fit_table(eval_args *a, const csv_table *t, size_t n,
				eval_scorer **s, char *err, size_t errlen)
{
	float *rows = NULL;
	size_t *seg = NULL, n_seg = 0;
	if (cli_series_rows(t, n, &rows, &seg, &n_seg))
		return IOTAD_ERR_NOMEM;
	a->o.names = t->names; /* the model's and the profile's feature names */
	iotad_err rc = eval_fit(&a->o, rows, n, t->n_cols, seg, n_seg, s, err, errlen);
	a->o.names = NULL;
	free(rows);
	free(seg);
	return rc;
}

/* ---- run ---- */

/* --predictions: the counted rows of one file (rows n_warm.. of x). */
static int eval_write_predictions(eval_args *a, const char *path, const eval_table *x,
				  size_t n_warm, const eval_result *r)
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

/* --int8: replay the float model too and count where the two agree. */
static iotad_err eval_compare_float(eval_args *a, eval_scorer *s, const eval_data *d,
				    const eval_result *r8, char *err, size_t errlen)
{
	eval_result rf;
	memset(&rf, 0, sizeof rf);
	eval_scorer_use_float(s, true);
	iotad_err rc = eval_replay(s, d, &rf, err, errlen);
	eval_scorer_use_float(s, false);
	if (rc)
		return rc;
	for (size_t i = 0; i < rf.n && i < r8->n; i++) {
		if (!(rf.score[i] > -INFINITY) && !(r8->score[i] > -INFINITY))
			continue; /* no window yet */
		a->cmp_n++;
		a->agree_raw += rf.raw[i] == r8->raw[i];
		a->agree_alert += rf.alert[i] == r8->alert[i];
	}
	eval_counts_merge(&a->f_alert, &rf.c_alert);
	eval_result_free(&rf);
	return IOTAD_OK;
}

/* The --int8 comparison line (stderr). */
static void eval_print_compare(const eval_args *a, const eval_result *total)
{
	eval_rates r8, rf;
	eval_rates_from(&total->c_alert, &r8);
	eval_rates_from(&a->f_alert, &rf);
	double n = a->cmp_n ? (double)a->cmp_n : 1.0;
	fprintf(stderr, "int8 vs float: F1 %.4f vs %.4f (drop %.4f); windows %llu: verdicts agree "
		"%.3f %%, alert states agree %.3f %%\n", r8.f1, rf.f1, rf.f1 - r8.f1,
		(unsigned long long)a->cmp_n, 100.0 * (double)a->agree_raw / n,
		100.0 * (double)a->agree_alert / n);
}

static int eval_file_run(eval_args *a, eval_scorer *once, const char *path,
			 struct eval_file *out)
{
	char err[512] = "";
	eval_table x;
	eval_scorer *s = once;
	int code = 1;
	iotad_err rc = cmd_eval_load(a, path, 1, &x, err, sizeof err);
	if (rc) {
		fprintf(stderr, "iotad eval: %s\n", err);
		cmd_eval_table_free(&x);
		return 1;
	}
	if (a->shuffle)
		cmd_eval_shuffle(&x, a->o.train.seed);
	size_t n_train = 0;
	if (a->model_path) {
		if ((rc = eval_scorer_load(&a->o, a->model_path, x.t.names, x.t.n_cols, &s, err,
					   sizeof err))) {
			fprintf(stderr, "iotad eval: %s\n", err);
			goto out;
		}
	} else if (!once) {
		n_train = a->layout == LAYOUT_NAB ? nab_probation(x.t.n_rows) :
			  a->train_rows ? (size_t)a->train_rows :
			  (size_t)floor((double)a->train_fraction * (double)x.t.n_rows);
		if (a->layout == LAYOUT_NAB) /* the device learns its probationary rows */
			a->o.det.prof.learn = n_train ? (uint32_t)n_train : 1u;
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
		       a->score_all ? 0 : n_train,
		       /* nab: the detector's times are the series' (hold, quiet, adapt) */
		       a->layout == LAYOUT_NAB ? x.t.time : NULL};
	/* stale on the device's own time, for the dropouts of a truth */
	if (a->o.det.stale_after > 0.0 && x.t.time)
		d.time = x.t.time;
	if ((rc = eval_replay(s, &d, &out->r, err, sizeof err))) {
		fprintf(stderr, "iotad eval: %s: %s\n", path, err);
		goto out;
	}
	if (a->o.int8 && (rc = eval_compare_float(a, s, &d, &out->r, err, sizeof err))) {
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
					 out->r.alert, d.time ? out->r.stale_at : NULL, out->r.n)) {
			fprintf(stderr, "iotad eval: %s: event scores failed\n", path);
			goto out;
		}
	}
	if (a->layout == LAYOUT_NAB &&
	    cmd_eval_nab_score(a, path, &x, d.n_warm, &out->r, &out->nab))
		goto out;
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
	cmd_eval_table_free(&x);
	return code;
}

/* The nab layout's report: the row metrics, then the benchmark's scores
 * (in --json, one object with both). */
static void eval_nab_write(eval_args *a, FILE *f, const report_file *rf,
			   const struct eval_file *files, size_t done, const eval_result *total)
{
	char **paths = calloc(done ? done : 1, sizeof *paths);
	nab_score *s = calloc(done ? done : 1, sizeof *s);
	char *buf = NULL;
	size_t len = 0;
	FILE *m = a->ro.json ? open_memstream(&buf, &len) : f;
	if (!paths || !s || !m) {
		fprintf(stderr, "iotad eval: out of memory\n");
		goto out;
	}
	for (size_t i = 0; i < done; i++) {
		paths[i] = files[i].path;
		s[i] = files[i].nab;
	}
	report_write(m, &a->o, &a->ro, rf, done, total, NULL);
	if (a->ro.json) {
		fclose(m);
		m = NULL;
		while (len && (buf[len - 1] == '\n' || buf[len - 1] == '}'))
			if (buf[--len] == '}')
				break;
		fwrite(buf, 1, len, f);
		fputs(",\n ", f);
	}
	cmd_eval_nab_report(a, f, paths, s, done);
	if (a->ro.json)
		fputs("}\n", f);
out:
	if (m && m != f)
		fclose(m);
	free(buf);
	free(paths);
	free(s);
}

static int eval_main(eval_args *a)
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
		eval_table x;
		iotad_err rc = cmd_eval_load(a, a->train_file, 0, &x, err, sizeof err);
		if (!rc)
			rc = eval_fit_table(a, &x.t, x.t.n_rows, &once, err, sizeof err);
		cmd_eval_table_free(&x);
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
	if (a->o.int8)
		eval_print_compare(a, &total);
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
	if (a->layout == LAYOUT_NAB)
		eval_nab_write(a, f, rf, files, done, &total);
	else
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

int cmd_eval(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--models"))
			return cmd_eval_mixed(argc, argv);
	eval_args a;
	memset(&a, 0, sizeof a);
	int code = cmd_eval_parse(argc, argv, &a);
	if (code < 0)
		code = a.layout == LAYOUT_NAB ?
			       (cmd_eval_nab_collect(&a, argc, argv) ||
				cmd_eval_nab_read_labels(&a) ? 1 : eval_main(&a)) :
			       (cmd_eval_collect(&a, argc, argv) ||
				cmd_eval_read_truth(&a) ? 1 : eval_main(&a));
	cmd_eval_args_free(&a);
	return code;
}

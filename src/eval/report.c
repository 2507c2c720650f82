/* report.c - the report of `iotad eval`: aligned table or JSON. */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "iotad/report.h"


static void report_num(FILE *f, const char *key, double v, const char *sep)
{
	if (isfinite(v))
		fprintf(f, "\"%s\": %.6g%s", key, v, sep);
	else
		fprintf(f, "\"%s\": null%s", key, sep);
}

static void report_json_counts(FILE *f, const char *key, const eval_counts *c,
			     const eval_delays *d)
{
	eval_rates r;
	eval_rates_from(c, &r);
	fprintf(f, "\"%s\": {\"tp\": %llu, \"fp\": %llu, \"fn\": %llu, \"tn\": %llu, ", key,
		(unsigned long long)c->tp, (unsigned long long)c->fp, (unsigned long long)c->fn,
		(unsigned long long)c->tn);
	report_num(f, "precision", r.precision, ", ");
	report_num(f, "recall", r.recall, ", ");
	report_num(f, "f1", r.f1, ", ");
	report_num(f, "far", r.far, ", ");
	report_num(f, "mar", r.mar, ", ");
	fprintf(f, "\"segments\": %llu, \"detected\": %llu, ", (unsigned long long)d->segments,
		(unsigned long long)d->detected);
	report_num(f, "mean_delay", eval_delay_mean(d), "}");
}

static void report_json_result(FILE *f, const report_opts *ro, const eval_result *r)
{
	double roc, pr;
	eval_roc_auc(r->score, r->label, r->n, &roc);
	eval_pr_auc(r->score, r->label, r->n, &pr);
	uint64_t pos = 0;
	for (size_t i = 0; i < r->n; i++)
		pos += r->label[i];
	fprintf(f, "\"rows\": %zu, \"anomalous\": %llu, ", r->n, (unsigned long long)pos);
	report_json_counts(f, "alert", &r->c_alert, &r->d_alert);
	fputs(", ", f);
	report_json_counts(f, "raw", &r->c_raw, &r->d_raw);
	fputs(", ", f);
	report_num(f, "roc_auc", roc, ", ");
	report_num(f, "pr_auc", pr, ", ");
	fprintf(f, "\"windows\": %zu", r->n_scored);
	if (!ro->no_time)
		fprintf(f, ", \"us_per_window\": %.4g",
			r->n_scored ? 1e6 * r->seconds / (double)r->n_scored : 0.0);
}

static void report_pct(FILE *f, double v)
{
	if (isfinite(v))
		fprintf(f, " %6.2f", 100.0 * v);
	else
		fputs("      -", f);
}

static void report_fix(FILE *f, double v)
{
	if (isfinite(v))
		fprintf(f, " %6.3f", v);
	else
		fputs("      -", f);
}

static void report_row(FILE *f, const char *name, const eval_counts *c, const eval_delays *d,
		     double roc, double pr)
{
	eval_rates r;
	eval_rates_from(c, &r);
	fprintf(f, "%-22s %6llu %6llu %6llu %6llu", name, (unsigned long long)c->tp,
		(unsigned long long)c->fp, (unsigned long long)c->fn, (unsigned long long)c->tn);
	report_fix(f, r.precision);
	report_fix(f, r.recall);
	report_fix(f, r.f1);
	report_pct(f, r.far);
	report_pct(f, r.mar);
	report_fix(f, roc);
	report_fix(f, pr);
	if (d->detected)
		fprintf(f, " %4llu/%-4llu %7.1f\n", (unsigned long long)d->detected,
			(unsigned long long)d->segments, eval_delay_mean(d));
	else
		fprintf(f, " %4llu/%-4llu       -\n", 0ULL, (unsigned long long)d->segments);
}

static const char *report_short(const char *path)
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

static void report_config_line(FILE *f, const eval_opts *o, const report_opts *ro)
{
	const train_opts *t = &o->train;
	fprintf(f, "detector %s", eval_detector_name(o->kind));
	if (ro->model) {
		fprintf(f, ", model file %s", ro->model);
	} else if (o->kind == EVAL_AE) {
		fprintf(f, ", window %d stride %d hidden ", t->window, t->stride);
		if (t->hidden_auto)
			fputs("auto", f);
		for (int i = 0; !t->hidden_auto && i < t->n_hidden; i++)
			fprintf(f, "%s%d", i ? "," : "", t->hidden[i]);
		fprintf(f, " norm %s epochs %d seed %llu", model_norm_name(t->norm), t->epochs,
			(unsigned long long)t->seed);
		if (t->ensemble > 1)
			fprintf(f, " ensemble %d", t->ensemble);
		if (o->int8)
			fputs(" int8", f);
	} else if (o->kind == EVAL_ZSCORE) {
		fprintf(f, ", recent rows %d", o->bl.zs_window);
	} else {
		fprintf(f, ", variance kept %g, score %s", (double)o->bl.pca_var,
			o->bl.pca_score == BL_PCA_Q ? "Q" : "T2+Q");
	}
	if (ro->model)
		fprintf(f, "; threshold %s", thr_kind_name(o->det.thr.kind));
	else
		fprintf(f, "; threshold %s p%g holdout %g", thr_kind_name(o->det.thr.kind),
			(double)t->percentile, (double)t->holdout);
	if (o->det.thr.kind == THR_SPOT || o->det.thr.kind == THR_DSPOT)
		fprintf(f, " q %g init quantile %g", (double)o->det.thr.q,
			(double)o->det.thr.init_quantile);
	if (t->drift_max > 0.0f)
		fprintf(f, "; drift max %g", (double)t->drift_max);
	if (o->kind == EVAL_AE && o->det.score_alpha > 0.0f && o->det.score_alpha < 1.0f)
		fprintf(f, "; score ewma %g", (double)o->det.score_alpha);
	if (o->kind == EVAL_AE && !o->det.stuck_check)
		fputs("; no stuck check", f);
	fprintf(f, "; alert k %d n %d m %d", o->det.alert.k, o->det.alert.n, o->det.alert.m);
	if (o->det.alert.hold > 0.0)
		fprintf(f, " hold %gs", o->det.alert.hold);
	if (o->det.alert.quiet > 0.0)
		fprintf(f, " quiet %gs", o->det.alert.quiet);
	if (o->det.alert.adapt_after > 0.0)
		fprintf(f, " adapt after %gs", o->det.alert.adapt_after);
	fputc('\n', f);
}

/* JSON string: quotes and backslashes escaped, control characters dropped. */
static void report_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++)
		if ((unsigned char)*s >= 0x20)
			fprintf(f, *s == '"' || *s == '\\' ? "\\%c" : "%c", *s);
	fputc('"', f);
}

/* Mean delay of a kind's detected anomalies, NAN without. */
static double report_kind_delay(const truth_kind_stats *k)
{
	return k->detected ? k->delay_sum / (double)k->detected : NAN;
}

/* The event scores: one object. */
static void report_json_events(FILE *f, const report_kinds *kinds)
{
	const evm_totals *ev = kinds->ev;
	const truth *t = kinds->t;
	fprintf(f, ",\n \"events\": {\"grace_s\": %g, \"benign_max_s\": %g, ", kinds->evo->grace,
		kinds->evo->benign_max);
	report_num(f, "recall", evm_recall(ev, t, kinds->evo), ", ");
	fprintf(f, "\"raises\": %llu, \"false_alarms\": %llu, \"false_in_benign\": %llu, "
		"\"devices\": %llu, ", (unsigned long long)ev->raises,
		(unsigned long long)ev->false_raises, (unsigned long long)ev->false_in_benign,
		(unsigned long long)ev->devices);
	report_num(f, "device_days", ev->device_days, ", ");
	report_num(f, "false_per_device_day", evm_false_per_day(ev), ", ");
	report_num(f, "benign_alarmed_share", evm_benign_share(ev, t), ",\n  \"kinds\": [");
	for (size_t i = 0; i < ev->n_kinds; i++) {
		const evm_kind *k = &ev->kinds[i];
		bool benign = truth_kind_benign(t, (uint32_t)i);
		bool scored = evm_kind_scored(t, kinds->evo, (uint32_t)i);
		fputs(i ? ", {\"kind\": " : "{\"kind\": ", f);
		report_str(f, t->kinds[i]);
		fprintf(f, ", \"class\": \"%s\", \"events\": %llu, ", benign ? "benign" : "anomaly",
			(unsigned long long)k->events);
		if (benign) {
			fprintf(f, "\"alarmed\": %llu}", (unsigned long long)k->caught);
			continue;
		}
		if (!scored) {
			fputs("\"detectable\": false, \"caught\": null, \"recall\": null, "
			      "\"mean_delay_s\": null}", f);
			continue;
		}
		fprintf(f, "\"detectable\": true, \"caught\": %llu, ", (unsigned long long)k->caught);
		report_num(f, "recall", k->events ? (double)k->caught / (double)k->events : NAN, ", ");
		report_num(f, "mean_delay_s", k->caught ? k->delay_sum / (double)k->caught : NAN, "}");
	}
	fputs("],\n  \"classes\": [", f);
	for (int i = 0; i < ev->n_classes; i++) {
		const evm_class *c = &ev->classes[i];
		fputs(i ? ", {\"class\": " : "{\"class\": ", f);
		report_str(f, c->name);
		fprintf(f, ", \"devices\": %llu, \"false_alarms\": %llu, ",
			(unsigned long long)c->devices, (unsigned long long)c->false_raises);
		report_num(f, "false_per_device_day",
			   c->device_days > 0.0 ? (double)c->false_raises / c->device_days : NAN, "}");
	}
	fputs("]}", f);
}

/* The event scores: a table. */
static void report_table_events(FILE *f, const report_kinds *kinds)
{
	const evm_totals *ev = kinds->ev;
	const truth *t = kinds->t;
	fprintf(f, "events (raise in [start, max(end, start + %gs)); false: a raise outside every "
		"anomaly + %gs)\n", kinds->evo->grace, kinds->evo->grace);
	fprintf(f, "%-22s %7s %7s %7s %10s\n", "kind", "events", "caught", "recall", "delay s");
	for (size_t i = 0; i < ev->n_kinds; i++) {
		const evm_kind *k = &ev->kinds[i];
		if (truth_kind_benign(t, (uint32_t)i))
			continue;
		fprintf(f, "%-22s %7llu ", t->kinds[i], (unsigned long long)k->events);
		if (!evm_kind_scored(t, kinds->evo, (uint32_t)i)) {
			fputs("      -       -          -  not scored: no stale on data time "
			      "(--stale-after S)\n", f);
			continue;
		}
		fprintf(f, "%7llu", (unsigned long long)k->caught);
		report_fix(f, k->events ? (double)k->caught / (double)k->events : NAN);
		if (k->caught)
			fprintf(f, " %10.0f\n", k->delay_sum / (double)k->caught);
		else
			fprintf(f, " %10s\n", "-");
	}
	fputs("overall (scored kinds) ", f);
	report_fix(f, evm_recall(ev, t, kinds->evo));
	fputs("\n", f);
	fprintf(f, "false alarms: %llu of %llu raises over %llu devices, %.2f device-days: ",
		(unsigned long long)ev->false_raises, (unsigned long long)ev->raises,
		(unsigned long long)ev->devices, ev->device_days);
	double fpd = evm_false_per_day(ev);
	if (isfinite(fpd))
		fprintf(f, "%.3f per device-day", fpd);
	else
		fputs("-", f);
	fprintf(f, " (%llu during benign changes)\n", (unsigned long long)ev->false_in_benign);
	for (int i = 0; i < ev->n_classes; i++) {
		const evm_class *c = &ev->classes[i];
		fprintf(f, "  %-20s %4llu devices %6llu false alarms %8.3f per device-day\n", c->name,
			(unsigned long long)c->devices, (unsigned long long)c->false_raises,
			c->device_days > 0.0 ? (double)c->false_raises / c->device_days : 0.0);
	}
	uint64_t nb = 0, ab = 0;
	for (size_t i = 0; i < ev->n_kinds; i++) {
		if (!truth_kind_benign(t, (uint32_t)i))
			continue;
		nb += ev->kinds[i].events;
		ab += ev->kinds[i].caught;
		fprintf(f, "  %-20s %4llu changes, %llu alarmed > %gs\n", t->kinds[i],
			(unsigned long long)ev->kinds[i].events,
			(unsigned long long)ev->kinds[i].caught, kinds->evo->benign_max);
	}
	fprintf(f, "benign changes alarmed > %gs: %llu of %llu", kinds->evo->benign_max,
		(unsigned long long)ab, (unsigned long long)nb);
	if (nb)
		fprintf(f, " (%.1f %%)", 100.0 * (double)ab / (double)nb);
	fputs("\n", f);
}

static void report_json_kinds(FILE *f, const report_kinds *kinds)
{
	fputs(",\n \"kinds\": [", f);
	for (size_t i = 0; i < kinds->n; i++) {
		const truth_kind_stats *k = &kinds->stats[i];
		fputs(i ? ", {\"kind\": " : "{\"kind\": ", f);
		report_str(f, kinds->names[i]);
		fprintf(f, ", \"anomalies\": %llu, \"detected\": %llu, ",
			(unsigned long long)k->anomalies, (unsigned long long)k->detected);
		report_num(f, "mean_delay", report_kind_delay(k), "}");
	}
	fputs("]", f);
}

static void report_json(FILE *f, const eval_opts *o, const report_opts *ro,
			const report_file *files, size_t n, const eval_result *total,
			const report_kinds *kinds)
{
	fprintf(f, "{\"detector\": \"%s\", \"threshold\": \"%s\", \"drift_max\": %g, %s"
		"\"files\": [", eval_detector_name(o->kind), thr_kind_name(o->det.thr.kind),
		(double)o->train.drift_max, o->int8 ? "\"model\": \"int8\", " : "");
	for (size_t i = 0; i < n; i++) {
		fprintf(f, "%s\n  {\"file\": ", i ? "," : "");
		report_str(f, files[i].path);
		fputs(", \"left_out\": [", f);
		for (int k = 0; k < files[i].n_left_out; k++) {
			fputs(k ? ", " : "", f);
			report_str(f, files[i].left_out[k]);
		}
		fprintf(f, "], \"calibrated_threshold\": %.6g, ", (double)files[i].threshold);
		report_json_result(f, ro, files[i].r);
		fputs("}", f);
	}
	fputs("],\n \"total\": {", f);
	report_json_result(f, ro, total);
	fputs("}", f);
	if (kinds)
		report_json_kinds(f, kinds);
	if (kinds && kinds->ev)
		report_json_events(f, kinds);
	fputs("}\n", f);
}

/* "left out as drifting: Temperature in 34 files, ..." in order of first sight. */
static void report_left_out(FILE *f, const report_file *files, size_t n)
{
	const char *name[MODEL_MAX_FEATURES];
	size_t count[MODEL_MAX_FEATURES];
	int n_names = 0;
	for (size_t i = 0; i < n; i++) {
		for (int k = 0; k < files[i].n_left_out; k++) {
			int j = 0;
			while (j < n_names && strcmp(name[j], files[i].left_out[k]))
				j++;
			if (j == n_names && n_names == MODEL_MAX_FEATURES)
				continue;
			if (j == n_names) {
				name[n_names] = files[i].left_out[k];
				count[n_names++] = 0;
			}
			count[j]++;
		}
	}
	for (int j = 0; j < n_names; j++)
		fprintf(f, "%s%s in %zu of %zu files", j ? ", " : "left out as drifting: ", name[j],
			count[j], n);
	if (n_names)
		fputs("\n", f);
}

void report_write(FILE *f, const eval_opts *o, const report_opts *ro, const report_file *files,
		  size_t n, const eval_result *total, const report_kinds *kinds)
{
	double roc, pr;
	if (ro->json) {
		report_json(f, o, ro, files, n, total, kinds);
		return;
	}
	report_config_line(f, o, ro);
	fprintf(f, "%-22s %6s %6s %6s %6s %6s %6s %6s %6s %6s %6s %6s %9s %7s\n", "file", "TP",
		"FP", "FN", "TN", "prec", "recall", "F1", "FAR%", "MAR%", "ROC", "PR", "found",
		"delay");
	for (size_t i = 0; ro->per_file && i < n; i++) {
		const eval_result *r = files[i].r;
		eval_roc_auc(r->score, r->label, r->n, &roc);
		eval_pr_auc(r->score, r->label, r->n, &pr);
		report_row(f, report_short(files[i].path), &r->c_alert, &r->d_alert, roc, pr);
	}
	eval_roc_auc(total->score, total->label, total->n, &roc);
	eval_pr_auc(total->score, total->label, total->n, &pr);
	report_row(f, "total (alert)", &total->c_alert, &total->d_alert, roc, pr);
	report_row(f, "total (raw verdict)", &total->c_raw, &total->d_raw, roc, pr);
	fprintf(f, "%zu files, %zu rows scored", n, total->n);
	if (!ro->no_time)
		fprintf(f, ", %zu windows, %.2f us per window", total->n_scored,
			total->n_scored ? 1e6 * total->seconds / (double)total->n_scored : 0.0);
	fputs("\n", f);
	report_left_out(f, files, n);
	for (size_t i = 0, head = 0; kinds && i < kinds->n; i++) {
		const truth_kind_stats *k = &kinds->stats[i];
		if (!strncmp(kinds->names[i], "benign_", 7))
			continue;
		if (!head++)
			fprintf(f, "%-22s %9s %8s %7s\n", "kind (truth)", "anomalies", "caught",
				"delay");
		double delay = report_kind_delay(k);
		fprintf(f, "%-22s %9llu %8llu ", kinds->names[i], (unsigned long long)k->anomalies,
			(unsigned long long)k->detected);
		if (isfinite(delay))
			fprintf(f, "%7.1f\n", delay);
		else
			fprintf(f, "%7s\n", "-");
	}
	if (kinds && kinds->ev)
		report_table_events(f, kinds);
}

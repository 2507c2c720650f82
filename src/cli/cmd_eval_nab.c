/* cmd_eval_nab.c - the nab layout of `iotad eval`: a data folder of
 * `timestamp,value` CSV files in sub-folders, the windows of its labels
 * file (combined_windows.json), every series trained on its probationary
 * first 15 %, scored by the benchmark's rules (nab.h) in its three
 * application profiles, and the alarms' lifecycle (re-raises soon after a
 * clear, the longest alarm). */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cmd_eval.h"

#define NAB_MAX_DEPTH 8
#define NAB_HOUR 3600.0

static int nab_add(eval_args *a, const char *path)
{
	char **f = realloc(a->files, (a->n_files + 1) * sizeof *f);
	if (!f)
		return -1;
	a->files = f;
	if (!(f[a->n_files] = strdup(path)))
		return -1;
	a->n_files++;
	return 0;
}

static int nab_walk(eval_args *a, const char *dir, int depth)
{
	DIR *d = opendir(dir);
	if (!d) {
		fprintf(stderr, "iotad eval: %s: %s\n", dir, strerror(errno));
		return -1;
	}
	struct dirent *e;
	int rc = 0;
	while (!rc && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		size_t len = strlen(dir) + strlen(e->d_name) + 2;
		char *p = malloc(len);
		struct stat st;
		if (!p) {
			rc = -1;
			break;
		}
		snprintf(p, len, "%s/%s", dir, e->d_name);
		size_t n = strlen(e->d_name);
		if (!stat(p, &st) && S_ISDIR(st.st_mode)) {
			if (depth < NAB_MAX_DEPTH)
				rc = nab_walk(a, p, depth + 1);
		} else if (n > 4 && !strcmp(e->d_name + n - 4, ".csv")) {
			rc = nab_add(a, p);
		}
		free(p);
	}
	closedir(d);
	return rc;
}

static int nab_cmp(const void *pa, const void *pb)
{
	return strcmp(*(char *const *)pa, *(char *const *)pb);
}

int cmd_eval_nab_collect(eval_args *a, int argc, char **argv)
{
	for (int i = a->first_file; i < argc; i++) {
		struct stat st;
		size_t first = a->n_files;
		if (stat(argv[i], &st)) {
			fprintf(stderr, "iotad eval: %s: %s\n", argv[i], strerror(errno));
			return -1;
		}
		if (!S_ISDIR(st.st_mode)) {
			if (nab_add(a, argv[i]))
				return -1;
			continue;
		}
		char *dir = strdup(argv[i]);
		size_t dl = dir ? strlen(dir) : 0;
		while (dl > 1 && dir[dl - 1] == '/')
			dir[--dl] = '\0';
		int rc = dir ? nab_walk(a, dir, 0) : -1;
		free(dir);
		if (rc)
			return -1;
		if (a->n_files == first)
			fprintf(stderr, "iotad eval: %s: no .csv file\n", argv[i]);
		qsort(a->files + first, a->n_files - first, sizeof *a->files, nab_cmp);
	}
	return a->n_files ? 0 : -1;
}

int cmd_eval_nab_read_labels(eval_args *a)
{
	char err[512];
	if (nab_labels_read(a->labels_path, &a->nab.labels, err, sizeof err)) {
		fprintf(stderr, "iotad eval: %s\n", err);
		return -1;
	}
	/* every file needs its windows; windows without a file are reported */
	int bad = 0;
	for (size_t i = 0; i < a->n_files; i++) {
		const char *path = a->files[i];
		const nab_series_labels *best = NULL;
		for (size_t k = 0; k < a->nab.labels.n; k++) {
			const char *key = a->nab.labels.s[k].file;
			size_t lp = strlen(path), lk = strlen(key);
			if (lk <= lp && !strcmp(path + lp - lk, key) &&
			    (lk == lp || path[lp - lk - 1] == '/') &&
			    (!best || strlen(best->file) < lk))
				best = &a->nab.labels.s[k];
		}
		if (!best) {
			fprintf(stderr, "iotad eval: %s: no windows for this file in %s (its key "
				"would be its path under the data folder, e.g. \"dir/name.csv\")\n",
				path, a->labels_path);
			bad = 1;
		}
	}
	for (size_t k = 0; k < a->nab.labels.n; k++) {
		const char *key = a->nab.labels.s[k].file;
		int found = 0;
		for (size_t i = 0; i < a->n_files && !found; i++) {
			size_t lp = strlen(a->files[i]), lk = strlen(key);
			found = lk <= lp && !strcmp(a->files[i] + lp - lk, key) &&
				(lk == lp || a->files[i][lp - lk - 1] == '/');
		}
		if (!found && !a->quiet)
			fprintf(stderr, "iotad eval: %s: \"%s\" has windows but no file was given\n",
				a->labels_path, key);
	}
	return bad ? -1 : 0;
}

/* The labels' entry of path: the longest key that ends path at a '/'. */
static const nab_series_labels *nab_entry(const eval_args *a, const char *path)
{
	const nab_series_labels *best = NULL;
	size_t lp = strlen(path);
	for (size_t k = 0; k < a->nab.labels.n; k++) {
		const char *key = a->nab.labels.s[k].file;
		size_t lk = strlen(key);
		if (lk <= lp && !strcmp(path + lp - lk, key) &&
		    (lk == lp || path[lp - lk - 1] == '/') && (!best || strlen(best->file) < lk))
			best = &a->nab.labels.s[k];
	}
	return best;
}

iotad_err cmd_eval_nab_label(const eval_args *a, const char *path, eval_table *x, char *err,
			     size_t errlen)
{
	const nab_series_labels *e = nab_entry(a, path);
	size_t n = x->t.n_rows;
	const double *t = x->t.time;
	if (!e || !t) {
		snprintf(err, errlen, "%s: no windows or no timestamp column", path);
		return IOTAD_ERR_NOTFOUND;
	}
	if (x->t.n_cols != 1) {
		snprintf(err, errlen, "%s: %d numeric columns besides the timestamp; the nab layout "
			 "reads timestamp,value", path, x->t.n_cols);
		return IOTAD_ERR_PARSE;
	}
	/* a row whose time is not after the one kept before it (a repeated or
	 * out-of-order timestamp) is left out, counted and named */
	size_t kept = n ? 1 : 0, first_bad = 0;
	double *tt = x->t.time;
	float *v = x->t.data;
	for (size_t i = 1; i < n; i++) {
		if (tt[i] > tt[kept - 1]) {
			tt[kept] = tt[i];
			v[kept] = v[i];
			kept++;
		} else if (!first_bad) {
			first_bad = i + 1;
		}
	}
	if (kept < n)
		fprintf(stderr, "iotad eval: %s: %zu row%s left out: timestamp not after the row "
			"before (first at data row %zu)\n", path, n - kept, n - kept > 1 ? "s" : "",
			first_bad);
	x->t.n_rows = n = kept;
	if (n < 2) {
		snprintf(err, errlen, "%s: fewer than two rows in time order", path);
		return IOTAD_ERR_PARSE;
	}
	if (!(x->label = calloc(n ? n : 1, 1)) ||
	    !(x->win = calloc(e->n ? e->n : 1, sizeof *x->win)))
		return IOTAD_ERR_NOMEM;
	for (size_t k = 0; k < e->n; k++) {
		size_t lo = 0, hi = n;
		while (lo < hi) { /* first row at or after the start */
			size_t mid = lo + (hi - lo) / 2;
			if (t[mid] < e->start[k])
				lo = mid + 1;
			else
				hi = mid;
		}
		size_t first = lo;
		lo = first, hi = n;
		while (lo < hi) { /* first row after the end */
			size_t mid = lo + (hi - lo) / 2;
			if (t[mid] <= e->end[k])
				lo = mid + 1;
			else
				hi = mid;
		}
		if (lo == first) {
			snprintf(err, errlen, "%s: window %zu of %s holds no row of the series",
				 path, k + 1, e->file);
			return IOTAD_ERR_RANGE;
		}
		x->win[x->n_win++] = (nab_window){first, lo - 1};
		memset(x->label + first, 1, lo - first);
	}
	return IOTAD_OK;
}

int cmd_eval_nab_score(eval_args *a, const char *path, const eval_table *x, size_t n_warm,
		       const eval_result *r, nab_score *out)
{
	size_t n = x->t.n_rows;
	const double *t = x->t.time;
	uint8_t *hits = calloc(n ? n : 1, 1);
	if (!hits)
		return -1;
	double raised_at = NAN, cleared_at = NAN;
	for (size_t j = 0; j < r->n && n_warm + j < n; j++) {
		double ts = t[n_warm + j];
		bool up = r->alert[j], before = j && r->alert[j - 1];
		if (up && !before && j) {
			hits[n_warm + j] = 1;
			a->nab.raises++;
			if (!isnan(cleared_at) && ts - cleared_at <= NAB_HOUR)
				a->nab.reraise_hour++;
			raised_at = ts;
		} else if (!up && before) {
			cleared_at = ts;
		}
		if (!isnan(raised_at) && (before || up) &&
		    (!up || j + 1 == r->n) && (!up ? cleared_at : ts) - raised_at > a->nab.longest) {
			a->nab.longest = (!up ? cleared_at : ts) - raised_at;
			snprintf(a->nab.longest_file, sizeof a->nab.longest_file, "%s", path);
		}
		if (!up)
			raised_at = NAN;
	}
	iotad_err rc = nab_score_series(n, hits, n_warm, x->win, x->n_win, out);
	free(hits);
	if (rc) {
		fprintf(stderr, "iotad eval: %s: bad windows\n", path);
		return -1;
	}
	nab_score_add(&a->nab.total, out);
	return 0;
}

static void nab_json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', f);
		if ((unsigned char)*s < 0x20)
			fprintf(f, "\\u%04x", (unsigned char)*s);
		else
			fputc(*s, f);
	}
	fputc('"', f);
}

static void nab_json_score(FILE *f, const nab_score *s)
{
	fprintf(f, "{\"windows\": %llu, \"detected\": %llu, \"false\": %llu, \"detections\": %llu",
		(unsigned long long)s->windows, (unsigned long long)s->tp,
		(unsigned long long)s->fp, (unsigned long long)s->detections);
	for (int p = 0; p < NAB_PROFILES; p++) {
		double v = nab_normalized(s, p);
		fprintf(f, ", \"%s\": {\"score\": ", nab_profile_get(p)->name);
		if (isnan(v))
			fputs("null", f);
		else
			fprintf(f, "%.4f", v);
		fprintf(f, ", \"raw\": %.6f, \"null\": %.6f, \"perfect\": %.6f}", s->raw[p],
			s->null[p], s->perfect[p]);
	}
	fputc('}', f);
}

void cmd_eval_nab_report(const eval_args *a, FILE *f, char **paths, const nab_score *s,
			 size_t n)
{
	const eval_nab *b = &a->nab;
	double share = b->raises ? 100.0 * (double)b->reraise_hour / (double)b->raises : 0.0;
	if (a->ro.json) {
		fputs("\"nab\": {\"total\": ", f);
		nab_json_score(f, &b->total);
		fprintf(f, ", \"raises\": %llu, \"reraised_within_hour\": %llu, "
			"\"longest_alarm_hours\": %.3f, \"longest_alarm_file\": ",
			(unsigned long long)b->raises, (unsigned long long)b->reraise_hour,
			b->longest / NAB_HOUR);
		nab_json_str(f, b->longest_file);
		fputs(", \"files\": [", f);
		for (size_t i = 0; i < n; i++) {
			fputs(i ? ", {\"file\": " : "{\"file\": ", f);
			nab_json_str(f, paths[i]);
			fputs(", \"score\": ", f);
			nab_json_score(f, &s[i]);
			fputc('}', f);
		}
		fputs("]}", f);
		return;
	}
	fprintf(f, "\nNAB scores (%zu series, %llu windows: %llu detected, %llu false "
		"detections of %llu)\n", n, (unsigned long long)b->total.windows,
		(unsigned long long)b->total.tp, (unsigned long long)b->total.fp,
		(unsigned long long)b->total.detections);
	fprintf(f, "  %-16s %10s %12s %12s %12s\n", "profile", "score", "raw", "null", "perfect");
	for (int p = 0; p < NAB_PROFILES; p++)
		fprintf(f, "  %-16s %10.2f %12.4f %12.4f %12.4f\n", nab_profile_get(p)->name,
			nab_normalized(&b->total, p), b->total.raw[p], b->total.null[p],
			b->total.perfect[p]);
	fprintf(f, "  alarms: %llu raises, %llu (%.1f %%) within an hour of the clear before; "
		"longest alarm %.1f h%s%s\n", (unsigned long long)b->raises,
		(unsigned long long)b->reraise_hour, share, b->longest / NAB_HOUR,
		b->longest_file[0] ? " in " : "", b->longest_file);
	if (!a->ro.per_file)
		return;
	fprintf(f, "  %-56s %7s %8s %5s %9s\n", "file", "windows", "detected", "false",
		"standard");
	for (size_t i = 0; i < n; i++)
		fprintf(f, "  %-56s %7llu %8llu %5llu %9.2f\n", paths[i],
			(unsigned long long)s[i].windows, (unsigned long long)s[i].tp,
			(unsigned long long)s[i].fp, nab_normalized(&s[i], NAB_STANDARD));
}

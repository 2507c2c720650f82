/* cmd_eval_input.c - the input of `iotad eval`: the files named (a
 * directory stands for its *.csv files), each read once with its labels,
 * a seeded shuffle of tabular rows, and the --truth file. */
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cmd_eval.h"
#include "iotad/rng.h"

static int eval_cmp_name(const void *pa, const void *pb)
{
	const char *a = *(char *const *)pa, *b = *(char *const *)pb;
	/* numeric-aware: "2.csv" before "10.csv" */
	char *ea, *eb;
	long na = strtol(a, &ea, 10), nb = strtol(b, &eb, 10);
	if (ea != a && eb != b && na != nb)
		return (na > nb) - (na < nb);
	return strcmp(a, b);
}

static int eval_add_file(eval_args *a, const char *dir, const char *name)
{
	char **f = realloc(a->files, (a->n_files + 1) * sizeof *f);
	if (!f)
		return -1;
	a->files = f;
	size_t len = (dir ? strlen(dir) + 1 : 0) + strlen(name) + 1;
	if (!(f[a->n_files] = malloc(len)))
		return -1;
	if (dir)
		snprintf(f[a->n_files], len, "%s/%s", dir, name);
	else
		snprintf(f[a->n_files], len, "%s", name);
	a->n_files++;
	return 0;
}

int cmd_eval_collect(eval_args *a, int argc, char **argv)
{
	for (int i = a->first_file; i < argc; i++) {
		struct stat st;
		if (stat(argv[i], &st) || !S_ISDIR(st.st_mode)) {
			if (eval_add_file(a, NULL, argv[i]))
				return -1;
			continue;
		}
		DIR *d = opendir(argv[i]);
		if (!d) {
			fprintf(stderr, "iotad eval: %s: %s\n", argv[i], strerror(errno));
			return -1;
		}
		size_t first = a->n_files;
		struct dirent *e;
		size_t dl = strlen(argv[i]);
		char *dir = strdup(argv[i]);
		while (dir && dl > 1 && dir[dl - 1] == '/')
			dir[--dl] = '\0';
		while (dir && (e = readdir(d))) {
			size_t n = strlen(e->d_name);
			if (n > 4 && !strcmp(e->d_name + n - 4, ".csv") && e->d_name[0] != '.' &&
			    eval_add_file(a, dir, e->d_name)) {
				closedir(d);
				free(dir);
				return -1;
			}
		}
		closedir(d);
		if (!dir)
			return -1;
		size_t skip = strlen(dir) + 1;
		/* sort by the base name, numbers in order */
		for (size_t x = first + 1; x < a->n_files; x++) {
			char *v = a->files[x];
			size_t y = x;
			while (y > first) {
				const char *pb = a->files[y - 1] + skip, *pv = v + skip;
				if (eval_cmp_name(&pb, &pv) <= 0)
					break;
				a->files[y] = a->files[y - 1];
				y--;
			}
			a->files[y] = v;
		}
		if (a->n_files == first)
			fprintf(stderr, "iotad eval: %s: no .csv file\n", dir);
		free(dir);
	}
	return a->n_files ? 0 : -1;
}

void cmd_eval_table_free(eval_table *x)
{
	csv_free(&x->t);
	free(x->label);
	free(x->anomaly);
	free(x->win);
	memset(x, 0, sizeof *x);
}

/* Take the label column li out of x's table into x->label (non-zero:
 * anomalous), in place. */
static iotad_err eval_take_label(eval_table *x, int li)
{
	csv_table *t = &x->t;
	size_t nc = (size_t)t->n_cols;
	if (!(x->label = malloc(t->n_rows ? t->n_rows : 1)))
		return IOTAD_ERR_NOMEM;
	for (size_t r = 0; r < t->n_rows; r++) {
		const float *row = t->data + r * nc;
		x->label[r] = row[li] != 0.0f;
		/* rows shift left by one cell each, so copying forward is safe */
		float *to = t->data + r * (nc - 1);
		memmove(to, row, (size_t)li * sizeof *to);
		memmove(to + li, row + li + 1, (nc - 1 - (size_t)li) * sizeof *to);
	}
	free(t->names[li]);
	memmove(t->names + li, t->names + li + 1, (nc - 1 - (size_t)li) * sizeof *t->names);
	t->n_cols--;
	return IOTAD_OK;
}

iotad_err cmd_eval_load(const eval_args *a, const char *path, int want_label, eval_table *x,
			char *err, size_t errlen)
{
	const char *skip[MODEL_MAX_FEATURES + 4], *cols[MODEL_MAX_FEATURES + 1];
	int ns = 0, nc = 0;
	/* the label column is read with the features, in the same pass */
	bool label_col = want_label && !a->truth_path && a->layout != LAYOUT_NAB;
	memset(x, 0, sizeof *x);
	for (int i = 0; i < a->skip.n; i++)
		if (!label_col || strcmp(a->skip.v[i], a->label))
			skip[ns++] = a->skip.v[i];
	if (!label_col)
		skip[ns++] = a->label;
	if (a->layout == LAYOUT_SKAB) {
		skip[ns++] = "changepoint";
		skip[ns++] = "datetime";
	} else if (a->layout == LAYOUT_SIM) {
		skip[ns++] = "ts";
	}
	const char *time_col = a->truth_path ? (a->time_col ? a->time_col : "ts") : a->time_col;
	if (a->layout == LAYOUT_NAB)
		time_col = a->time_col ? a->time_col : "timestamp";
	if (!time_col && a->pred_path && a->layout == LAYOUT_SIM)
		time_col = "ts";
	if (time_col)
		skip[ns++] = time_col;
	for (int i = 0; i < a->features.n; i++) {
		if (label_col && !strcmp(a->features.v[i], a->label)) {
			snprintf(err, errlen, "%s: the label column \"%s\" is also a feature (--features)",
				 path, a->label);
			return IOTAD_ERR_INVAL;
		}
		cols[nc++] = a->features.v[i];
	}
	if (nc && label_col)
		cols[nc++] = a->label;
	iotad_err rc = csv_read_timed(path, a->sep, nc ? cols : NULL, nc, skip, ns, a->group,
				      want_label ? time_col : NULL, &x->t, err, errlen);
	if (rc)
		return rc;
	if (label_col) {
		int li = -1;
		for (int j = 0; j < x->t.n_cols && li < 0; j++)
			if (!strcmp(x->t.names[j], a->label))
				li = j;
		if (li < 0) {
			snprintf(err, errlen, "%s: no numeric label column \"%s\" (--label)", path,
				 a->label);
			return IOTAD_ERR_NOTFOUND;
		}
		if ((rc = eval_take_label(x, li)))
			return rc;
		if (x->t.n_cols < 1) {
			snprintf(err, errlen, "%s: no numeric column besides the label \"%s\"", path,
				 a->label);
			return IOTAD_ERR_PARSE;
		}
	}
	if (x->t.n_cols > MODEL_MAX_FEATURES) {
		snprintf(err, errlen, "%s: %d feature columns, at most %d (--features, --skip)",
			 path, x->t.n_cols, MODEL_MAX_FEATURES);
		return IOTAD_ERR_RANGE;
	}
	if (want_label && a->layout == LAYOUT_NAB)
		return cmd_eval_nab_label(a, path, x, err, errlen);
	if (!want_label || !a->truth_path)
		return IOTAD_OK;
	size_t n = x->t.n_rows ? x->t.n_rows : 1;
	if (!(x->label = malloc(n)) || !(x->anomaly = malloc(n * sizeof *x->anomaly)))
		return IOTAD_ERR_NOMEM;
	return truth_label(&a->truth, x->t.group, x->t.group_names, x->t.n_groups, x->t.time,
			   x->t.n_rows, x->label, x->anomaly);
}

void cmd_eval_shuffle(eval_table *x, uint64_t seed)
{
	uint64_t s = seed ^ 0x5eed5eed5eedULL;
	size_t f = (size_t)x->t.n_cols;
	float tmp[MODEL_MAX_FEATURES];
	for (size_t i = x->t.n_rows; i > 1; i--) {
		size_t j = (size_t)(rng_splitmix64(&s) % i);
		float *ri = x->t.data + (i - 1) * f, *rj = x->t.data + j * f;
		memcpy(tmp, ri, f * sizeof *tmp);
		memcpy(ri, rj, f * sizeof *tmp);
		memcpy(rj, tmp, f * sizeof *tmp);
		uint8_t l = x->label[i - 1];
		x->label[i - 1] = x->label[j];
		x->label[j] = l;
	}
}

int cmd_eval_read_truth(eval_args *a)
{
	char err[512];
	if (!a->truth_path)
		return 0;
	if (truth_read(a->truth_path, &a->truth, err, sizeof err)) {
		fprintf(stderr, "iotad eval: %s\n", err);
		return -1;
	}
	if (!(a->kinds = calloc(a->truth.n_kinds ? a->truth.n_kinds : 1, sizeof *a->kinds)) ||
	    evm_totals_init(&a->ev, &a->truth))
		return -1;
	return 0;
}


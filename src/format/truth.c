/* truth.c - ground truth of injected anomalies: read, label rows, count per
 * kind what was caught. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iotad/csv.h"
#include "iotad/errmsg.h"
#include "iotad/numparse.h"
#include "iotad/truth.h"

#define TRUTH_SEEN_DETECTED 0x80000000u

/* Anomalies as read, with their names, before ids are given. */
struct truth_row {
	char *device;
	uint32_t kind;
	double start, end;
	long line;
};

static int cmp_row(const void *a, const void *b)
{
	const struct truth_row *x = a, *y = b;
	int c = strcmp(x->device, y->device);
	if (c)
		return c;
	return (x->start > y->start) - (x->start < y->start);
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void truth_free(truth *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n_devices; i++)
		free(t->devices[i]);
	for (size_t i = 0; i < t->n_kinds; i++)
		free(t->kinds[i]);
	free(t->devices);
	free(t->kinds);
	free(t->a);
	free(t->b);
	memset(t, 0, sizeof *t);
}

static int parse_time(const char *s, double *out)
{
	return num_parse_double(s, 0.0, HUGE_VAL, out, NULL, 0);
}

/* Id of kind name, added when new; -1 when out of memory. */
static long kind_id(truth *t, const char *name)
{
	for (size_t k = 0; k < t->n_kinds; k++)
		if (!strcmp(t->kinds[k], name))
			return (long)k;
	char **v = realloc(t->kinds, (t->n_kinds + 1) * sizeof *v);
	if (!v)
		return -1;
	t->kinds = v;
	if (!(v[t->n_kinds] = strdup(name)))
		return -1;
	return (long)t->n_kinds++;
}

/* One data line into rows[*n]. */
static iotad_err truth_line(truth *t, const char *path, long line, csv_fields *f,
			    struct truth_row *row, char *err, size_t errlen)
{
	static const char *const what[] = {"device", "kind", "start", "end"};
	if (f->n != 4) {
		iotad_errf(err, errlen, "%s:%ld: expected 4 fields (device,kind,start,end), got %d",
			   path, line, f->n);
		return IOTAD_ERR_PARSE;
	}
	for (int i = 0; i < 2; i++) {
		if (!*f->v[i]) {
			iotad_errf(err, errlen, "%s:%ld: empty %s", path, line, what[i]);
			return IOTAD_ERR_PARSE;
		}
	}
	for (int i = 2; i < 4; i++) {
		if (parse_time(f->v[i], i == 2 ? &row->start : &row->end)) {
			iotad_errf(err, errlen, "%s:%ld: %s: not a time in seconds: \"%.40s\"", path,
				   line, what[i], f->v[i]);
			return IOTAD_ERR_PARSE;
		}
	}
	if (!(row->end > row->start)) {
		iotad_errf(err, errlen, "%s:%ld: end %.17g is not after start %.17g", path, line,
			   row->end, row->start);
		return IOTAD_ERR_PARSE;
	}
	long k = kind_id(t, f->v[1]);
	if (k < 0 || !(row->device = strdup(f->v[0])))
		return IOTAD_ERR_NOMEM;
	row->kind = (uint32_t)k;
	row->line = line;
	return IOTAD_OK;
}

static iotad_err truth_rows(truth *t, const char *path, FILE *fp, struct truth_row **rows,
			    size_t *n, char *err, size_t errlen)
{
	char *buf = NULL;
	size_t cap = 0, cap_rows = 0;
	csv_fields f = {0};
	long line = 0;
	iotad_err rc = IOTAD_OK;
	ssize_t got;
	while (!rc && (got = getline(&buf, &cap, fp)) >= 0) {
		line++;
		while (got > 0 && (buf[got - 1] == '\n' || buf[got - 1] == '\r'))
			buf[--got] = '\0';
		if (!got)
			continue;
		int sr = csv_split(buf, ',', &f);
		if (sr == -2) {
			rc = IOTAD_ERR_NOMEM;
			break;
		}
		if (sr < 0) {
			iotad_errf(err, errlen, "%s:%ld: malformed quoted field", path, line);
			rc = IOTAD_ERR_PARSE;
			break;
		}
		if (line == 1) {
			if (f.n != 4 || strcmp(f.v[0], "device") || strcmp(f.v[1], "kind") ||
			    strcmp(f.v[2], "start") || strcmp(f.v[3], "end")) {
				iotad_errf(err, errlen, "%s:1: header must be device,kind,start,end",
					   path);
				rc = IOTAD_ERR_PARSE;
			}
			continue;
		}
		if (*n == cap_rows) {
			size_t c = cap_rows ? 2 * cap_rows : 64;
			struct truth_row *r = realloc(*rows, c * sizeof *r);
			if (!r) {
				rc = IOTAD_ERR_NOMEM;
				break;
			}
			*rows = r;
			cap_rows = c;
		}
		if (!(rc = truth_line(t, path, line, &f, &(*rows)[*n], err, errlen)))
			(*n)++;
	}
	if (!rc && line == 0) {
		iotad_errf(err, errlen, "%s: empty file (no header row)", path);
		rc = IOTAD_ERR_PARSE;
	}
	if (!rc && ferror(fp)) {
		iotad_errf(err, errlen, "%s: read error: %s", path, strerror(errno));
		rc = IOTAD_ERR_IO;
	}
	if (rc == IOTAD_ERR_NOMEM)
		iotad_errf(err, errlen, "%s: out of memory", path);
	free(buf);
	free(f.v);
	return rc;
}

bool truth_kind_benign(const truth *t, uint32_t k)
{
	return k < t->n_kinds && !strncmp(t->kinds[k], "benign_", 7);
}

/* Sorted rows into t->a, t->b and t->devices; overlapping anomalies are an
 * error. */
static iotad_err truth_index(truth *t, const char *path, struct truth_row *rows, size_t n,
			     char *err, size_t errlen)
{
	qsort(rows, n, sizeof *rows, cmp_row);
	if (!(t->a = calloc(n ? n : 1, sizeof *t->a)) || !(t->b = calloc(n ? n : 1, sizeof *t->b)) ||
	    !(t->devices = calloc(n ? n : 1, sizeof *t->devices)))
		return IOTAD_ERR_NOMEM;
	const struct truth_row *last = NULL; /* the device's latest anomaly */
	for (size_t i = 0; i < n; i++) {
		if (i == 0 || strcmp(rows[i].device, t->devices[t->n_devices - 1])) {
			t->devices[t->n_devices++] = rows[i].device;
			rows[i].device = NULL;
			last = NULL;
		}
		truth_anomaly x = {(uint32_t)t->n_devices - 1, rows[i].kind, rows[i].start,
				   rows[i].end};
		if (truth_kind_benign(t, rows[i].kind)) {
			t->b[t->nb++] = x;
			continue;
		}
		if (last && rows[i].start < last->end) {
			iotad_errf(err, errlen, "%s:%ld: overlaps the anomaly of line %ld (device %s)",
				   path, rows[i].line, last->line, t->devices[t->n_devices - 1]);
			return IOTAD_ERR_PARSE;
		}
		last = &rows[i];
		t->a[t->n++] = x;
	}
	return IOTAD_OK;
}

iotad_err truth_read(const char *path, truth *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof *out);
	FILE *fp = fopen(path, "r");
	if (!fp) {
		int e = errno;
		iotad_errf(err, errlen, "%s: %s", path, strerror(e));
		return e == ENOENT ? IOTAD_ERR_NOTFOUND : IOTAD_ERR_IO;
	}
	struct truth_row *rows = NULL;
	size_t n = 0;
	iotad_err rc = truth_rows(out, path, fp, &rows, &n, err, errlen);
	fclose(fp);
	if (!rc && (rc = truth_index(out, path, rows, n, err, errlen)) == IOTAD_ERR_NOMEM)
		iotad_errf(err, errlen, "%s: out of memory", path);
	for (size_t i = 0; i < n; i++)
		free(rows[i].device);
	free(rows);
	if (rc)
		truth_free(out);
	return rc;
}

void truth_device_range(const truth_anomaly *v, size_t n, uint32_t d, size_t *lo, size_t *hi)
{
	size_t a = 0, b = n;
	while (a < b) {
		size_t m = a + (b - a) / 2;
		if (v[m].device < d)
			a = m + 1;
		else
			b = m;
	}
	*lo = a;
	for (b = a; b < n && v[b].device == d; b++)
		;
	*hi = b;
}

long truth_device_id(const truth *t, const char *name)
{
	char *const *hit = bsearch(&name, t->devices, t->n_devices, sizeof *t->devices, cmp_name);
	return hit ? (long)(hit - t->devices) : -1;
}

iotad_err truth_label(const truth *t, const uint32_t *group, char *const *names,
		      size_t n_groups, const double *ts, size_t n, uint8_t *label, int32_t *anomaly)
{
	/* series id -> device range in t->a, found once per series */
	size_t *lo = calloc(n_groups ? 2 * n_groups : 2, sizeof *lo);
	if (!lo)
		return IOTAD_ERR_NOMEM;
	for (size_t g = 0; g < n_groups; g++) {
		char *const *hit = bsearch(&names[g], t->devices, t->n_devices, sizeof *t->devices,
					   cmp_name);
		if (hit)
			truth_device_range(t->a, t->n, (uint32_t)(hit - t->devices), &lo[2 * g],
					   &lo[2 * g + 1]);
	}
	for (size_t i = 0; i < n; i++) {
		size_t g = group ? group[i] : 0;
		int32_t hit = -1;
		if (g < n_groups) {
			for (size_t k = lo[2 * g]; k < lo[2 * g + 1] && t->a[k].start <= ts[i]; k++)
				if (ts[i] < t->a[k].end)
					hit = (int32_t)k;
		}
		label[i] = hit >= 0;
		if (anomaly)
			anomaly[i] = hit;
	}
	free(lo);
	return IOTAD_OK;
}

void truth_count(const truth *t, const int32_t *anomaly, const uint8_t *alert, size_t n,
		 uint32_t *seen, truth_kind_stats *stats)
{
	for (size_t i = 0; i < n; i++) {
		if (anomaly[i] < 0)
			continue;
		uint32_t *s = &seen[anomaly[i]];
		truth_kind_stats *k = &stats[t->a[anomaly[i]].kind];
		if (*s == 0)
			k->anomalies++;
		if (*s & TRUTH_SEEN_DETECTED)
			continue;
		if (alert[i]) {
			k->detected++;
			k->delay_sum += (double)*s;
			*s |= TRUTH_SEEN_DETECTED;
		} else {
			(*s)++;
		}
	}
}

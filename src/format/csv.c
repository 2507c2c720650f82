/* csv.c - numeric CSV reader: header row, one separator character, quoted
 * fields ("..." with "" for a quote; a field does not span lines), CRLF or
 * LF line ends, blank lines allowed only at the end. */
#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iotad/csv.h"
#include "iotad/errmsg.h"
#include "iotad/numparse.h"
#include "iotad/timefmt.h"

void csv_free(csv_table *t)
{
	if (!t)
		return;
	if (t->names)
		for (int i = 0; i < t->n_cols; i++)
			free(t->names[i]);
	free(t->names);
	free(t->data);
	free(t->group);
	free(t->time);
	if (t->group_names)
		for (size_t i = 0; i < t->n_groups; i++)
			free(t->group_names[i]);
	free(t->group_names);
	memset(t, 0, sizeof *t);
}

static int fields_push(csv_fields *f, char *s)
{
	if (f->n == f->cap) {
		int cap = f->cap ? f->cap * 2 : 32;
		char **v = realloc(f->v, (size_t)cap * sizeof *v);
		if (!v)
			return -1;
		f->v = v;
		f->cap = cap;
	}
	f->v[f->n++] = s;
	return 0;
}

int csv_split(char *line, char sep, csv_fields *f)
{
	f->n = 0;
	char *p = line;
	for (;;) {
		char *start = p;
		if (*p == '"') {
			char *q = p + 1, *w = p;
			for (;;) {
				if (*q == '\0')
					return -1; /* unterminated quote */
				if (*q == '"') {
					if (q[1] == '"') {
						*w++ = '"';
						q += 2;
						continue;
					}
					q++;
					break;
				}
				*w++ = *q++;
			}
			while (*q == ' ' || *q == '\t')
				q++;
			if (*q != '\0' && *q != sep)
				return -1; /* text after the closing quote */
			int more = *q == sep;
			*w = '\0';
			if (fields_push(f, start) < 0)
				return -2;
			if (!more)
				return 0;
			p = q + 1;
		} else {
			while (*p && *p != sep)
				p++;
			int more = *p == sep;
			*p = '\0';
			if (fields_push(f, start) < 0)
				return -2;
			if (!more)
				return 0;
			p++;
		}
	}
}

static char *trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	size_t n = strlen(s);
	while (n > 0 && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
	return s;
}

/* A finite number that also fits a float, blanks around it allowed. */
static int parse_float(const char *s, float *out)
{
	char buf[128];
	while (isspace((unsigned char)*s))
		s++;
	size_t n = strlen(s);
	while (n > 0 && isspace((unsigned char)s[n - 1]))
		n--;
	if (n == 0 || n >= sizeof buf)
		return -1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	return num_parse_float(buf, -FLT_MAX, FLT_MAX, out, NULL, 0);
}

static int find_name(char *const *names, int n, const char *name)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(names[i], name))
			return i;
	return -1;
}

/* "a, b, c" of the header into buf for error messages. */
static void list_names(char *const *names, int n, char *buf, size_t len)
{
	size_t used = 0;
	buf[0] = '\0';
	for (int i = 0; i < n && used + 1 < len; i++) {
		int k = snprintf(buf + used, len - used, "%s\"%s\"", i ? ", " : "", names[i]);
		if (k < 0)
			break;
		used += (size_t)k;
	}
	if (used >= len && len > 4)
		memcpy(buf + len - 4, "...", 4);
}

/* Strip the line end; returns the new length. */
static size_t chomp(char *line, size_t n)
{
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	return n;
}

static int is_blank(const char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	return *s == '\0';
}

struct csv_reader {
	const char *path;
	FILE *f;
	char *line;
	size_t linecap;
	long lineno;
	csv_fields fields;
	char **header;     /* copies of the header names */
	int n_header;
	int *sel;          /* selected field index per output column */
	int n_sel;
	float *data;
	size_t n_rows, cap_rows;
	/* group column: value -> dense id through an open-addressing table */
	int group_idx;     /* field index, -1 when not grouping */
	uint32_t *gid;     /* per row */
	char **gnames;     /* per id */
	size_t n_groups, cap_groups;
	uint32_t *ht;      /* id + 1 per slot, 0 empty; cap_ht is a power of two */
	size_t cap_ht;
	int time_idx;      /* time column's field index, -1 when none */
	double *time;      /* per row */
};

static void reader_free(struct csv_reader *r)
{
	if (r->f)
		fclose(r->f);
	free(r->line);
	free(r->fields.v);
	if (r->header)
		for (int i = 0; i < r->n_header; i++)
			free(r->header[i]);
	free(r->header);
	free(r->sel);
	free(r->data);
	free(r->gid);
	free(r->time);
	for (size_t i = 0; i < r->n_groups; i++)
		free(r->gnames[i]);
	free(r->gnames);
	free(r->ht);
}

static uint64_t hash_text(const char *s)
{
	uint64_t h = 1469598103934665603ULL;
	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211ULL;
	return h;
}

/* Dense id of a group value, adding it when new. -1 when out of memory. */
static long group_id(struct csv_reader *r, const char *v)
{
	if (2 * (r->n_groups + 1) > r->cap_ht) {
		size_t cap = r->cap_ht ? r->cap_ht * 2 : 64;
		uint32_t *ht = calloc(cap, sizeof *ht);
		if (!ht)
			return -1;
		for (size_t i = 0; i < r->n_groups; i++) {
			size_t h = (size_t)hash_text(r->gnames[i]) & (cap - 1);
			while (ht[h])
				h = (h + 1) & (cap - 1);
			ht[h] = (uint32_t)i + 1;
		}
		free(r->ht);
		r->ht = ht;
		r->cap_ht = cap;
	}
	size_t h = (size_t)hash_text(v) & (r->cap_ht - 1);
	for (; r->ht[h]; h = (h + 1) & (r->cap_ht - 1))
		if (!strcmp(r->gnames[r->ht[h] - 1], v))
			return (long)r->ht[h] - 1;
	if (r->n_groups == r->cap_groups) {
		size_t cap = r->cap_groups ? r->cap_groups * 2 : 64;
		char **g = realloc(r->gnames, cap * sizeof *g);
		if (!g)
			return -1;
		r->gnames = g;
		r->cap_groups = cap;
	}
	if (!(r->gnames[r->n_groups] = strdup(v)))
		return -1;
	r->ht[h] = (uint32_t)++r->n_groups;
	return (long)r->n_groups - 1;
}

static iotad_err read_header(struct csv_reader *r, char sep, char *err, size_t errlen)
{
	ssize_t got;
	/* Blank lines before the header are tolerated. */
	do {
		got = getline(&r->line, &r->linecap, r->f);
		if (got < 0) {
			if (ferror(r->f)) {
				iotad_errf(err, errlen, "%s: read error: %s", r->path, strerror(errno));
				return IOTAD_ERR_IO;
			}
			iotad_errf(err, errlen, "%s: empty file (no header row)", r->path);
			return IOTAD_ERR_PARSE;
		}
		r->lineno++;
		chomp(r->line, (size_t)got);
	} while (is_blank(r->line));
	char *text = r->line;
	if ((unsigned char)text[0] == 0xEF && (unsigned char)text[1] == 0xBB &&
	    (unsigned char)text[2] == 0xBF)
		text += 3; /* UTF-8 byte order mark */
	int rc = csv_split(text, sep, &r->fields);
	if (rc == -2)
		return IOTAD_ERR_NOMEM;
	if (rc < 0) {
		iotad_errf(err, errlen, "%s:%ld: malformed quoted field in the header", r->path,
		       r->lineno);
		return IOTAD_ERR_PARSE;
	}
	r->header = calloc((size_t)r->fields.n, sizeof *r->header);
	if (!r->header)
		return IOTAD_ERR_NOMEM;
	for (int i = 0; i < r->fields.n; i++) {
		r->header[i] = strdup(trim(r->fields.v[i]));
		if (!r->header[i])
			return IOTAD_ERR_NOMEM;
		r->n_header = i + 1;
	}
	return IOTAD_OK;
}

static iotad_err select_columns(struct csv_reader *r, const char *const *cols, int n_cols,
				const char *const *skip, int n_skip, char *err, size_t errlen)
{
	char avail[512];
	r->sel = malloc((size_t)(n_cols > 0 ? n_cols : r->n_header) * sizeof *r->sel);
	if (!r->sel)
		return IOTAD_ERR_NOMEM;
	if (cols && n_cols > 0) {
		for (int c = 0; c < n_cols; c++) {
			int idx = find_name(r->header, r->n_header, cols[c]);
			if (idx < 0) {
				list_names(r->header, r->n_header, avail, sizeof avail);
				iotad_errf(err, errlen, "%s: column \"%s\" not found (available: %s)",
				       r->path, cols[c], avail);
				return IOTAD_ERR_NOTFOUND;
			}
			for (int j = idx + 1; j < r->n_header; j++) {
				if (!strcmp(r->header[j], cols[c])) {
					iotad_errf(err, errlen, "%s: column \"%s\" appears twice in the "
					       "header", r->path, cols[c]);
					return IOTAD_ERR_PARSE;
				}
			}
			r->sel[r->n_sel++] = idx;
		}
		return IOTAD_OK;
	}
	/* A name to skip that is not in this file is not an error: one skip
	 * list serves files with and without label columns. */
	for (int i = 0; i < r->n_header; i++) {
		int skipped = 0;
		for (int s = 0; s < n_skip && !skipped; s++)
			skipped = !strcmp(r->header[i], skip[s]);
		if (!skipped)
			r->sel[r->n_sel++] = i;
	}
	return IOTAD_OK;
}

/* Automatic selection: drop the columns whose first data cell is not a number. */
static void drop_text_columns(struct csv_reader *r)
{
	int k = 0;
	for (int c = 0; c < r->n_sel; c++) {
		float v;
		int idx = r->sel[c];
		if (idx < r->fields.n && parse_float(r->fields.v[idx], &v) == 0)
			r->sel[k++] = idx;
	}
	r->n_sel = k;
}

static iotad_err add_row(struct csv_reader *r, char *err, size_t errlen)
{
	if (r->n_rows == r->cap_rows) {
		size_t cap = r->cap_rows ? r->cap_rows * 2 : 1024;
		float *d = realloc(r->data, cap * (size_t)r->n_sel * sizeof *d);
		if (!d)
			goto nomem;
		r->data = d;
		if (r->group_idx >= 0) {
			uint32_t *g = realloc(r->gid, cap * sizeof *g);
			if (!g)
				goto nomem;
			r->gid = g;
		}
		if (r->time_idx >= 0) {
			double *t = realloc(r->time, cap * sizeof *t);
			if (!t)
				goto nomem;
			r->time = t;
		}
		r->cap_rows = cap;
	}
	if (r->group_idx >= 0) {
		long id = group_id(r, trim(r->fields.v[r->group_idx]));
		if (id < 0)
			goto nomem;
		r->gid[r->n_rows] = (uint32_t)id;
	}
	if (r->time_idx >= 0) {
		const char *cell = trim(r->fields.v[r->time_idx]);
		if (timefmt_parse(cell, &r->time[r->n_rows]) != 0) {
			iotad_errf(err, errlen, "%s:%ld: column \"%s\": not a time: \"%.40s\"",
				   r->path, r->lineno, r->header[r->time_idx], cell);
			return IOTAD_ERR_PARSE;
		}
	}
	float *row = r->data + r->n_rows * (size_t)r->n_sel;
	for (int c = 0; c < r->n_sel; c++) {
		const char *cell = r->fields.v[r->sel[c]];
		if (parse_float(cell, &row[c]) < 0) {
			iotad_errf(err, errlen, "%s:%ld: column \"%s\": not a number: \"%.40s\"",
			       r->path, r->lineno, r->header[r->sel[c]], cell);
			return IOTAD_ERR_PARSE;
		}
	}
	r->n_rows++;
	return IOTAD_OK;
nomem:
	iotad_errf(err, errlen, "%s:%ld: out of memory", r->path, r->lineno);
	return IOTAD_ERR_NOMEM;
}

static iotad_err read_rows(struct csv_reader *r, char sep, int auto_select, char *err,
			   size_t errlen)
{
	long blank_at = 0;
	ssize_t got;
	while ((got = getline(&r->line, &r->linecap, r->f)) >= 0) {
		r->lineno++;
		chomp(r->line, (size_t)got);
		if (is_blank(r->line)) {
			if (!blank_at)
				blank_at = r->lineno;
			continue;
		}
		if (blank_at) {
			iotad_errf(err, errlen, "%s:%ld: blank line inside the data", r->path, blank_at);
			return IOTAD_ERR_PARSE;
		}
		int rc = csv_split(r->line, sep, &r->fields);
		if (rc == -2)
			return IOTAD_ERR_NOMEM;
		if (rc < 0) {
			iotad_errf(err, errlen, "%s:%ld: malformed quoted field", r->path, r->lineno);
			return IOTAD_ERR_PARSE;
		}
		if (r->fields.n != r->n_header) {
			iotad_errf(err, errlen, "%s:%ld: expected %d fields, got %d", r->path,
			       r->lineno, r->n_header, r->fields.n);
			return IOTAD_ERR_PARSE;
		}
		if (auto_select && r->n_rows == 0) {
			drop_text_columns(r);
			if (r->n_sel == 0) {
				iotad_errf(err, errlen, "%s:%ld: no numeric column", r->path, r->lineno);
				return IOTAD_ERR_NOTFOUND;
			}
		}
		iotad_err e = add_row(r, err, errlen);
		if (e)
			return e;
	}
	if (ferror(r->f)) {
		iotad_errf(err, errlen, "%s: read error: %s", r->path, strerror(errno));
		return IOTAD_ERR_IO;
	}
	return IOTAD_OK;
}

iotad_err csv_read(const char *path, char sep, const char *const *cols, int n_cols,
		   const char *const *skip, int n_skip, csv_table *out, char *err, size_t errlen)
{
	return csv_read_grouped(path, sep, cols, n_cols, skip, n_skip, NULL, out, err, errlen);
}

iotad_err csv_read_grouped(const char *path, char sep, const char *const *cols, int n_cols,
			   const char *const *skip, int n_skip, const char *group_col,
			   csv_table *out, char *err, size_t errlen)
{
	return csv_read_timed(path, sep, cols, n_cols, skip, n_skip, group_col, NULL, out, err,
			      errlen);
}

/* Index of the column called name (what), or -1 with err set. */
static int find_special(struct csv_reader *r, const char *what, const char *name, char *err,
			size_t errlen)
{
	int idx = find_name(r->header, r->n_header, name);
	if (idx < 0) {
		char avail[512];
		list_names(r->header, r->n_header, avail, sizeof avail);
		iotad_errf(err, errlen, "%s: %s column \"%s\" not found (available: %s)", r->path,
			   what, name, avail);
	}
	return idx;
}

/* Leave the column idx (what) out of the selection: named as a feature it is
 * an error, picked by automatic selection it is dropped. */
static iotad_err unselect(struct csv_reader *r, int idx, int auto_select, const char *what,
			  char *err, size_t errlen)
{
	int k = 0;
	for (int c = 0; c < r->n_sel; c++)
		if (r->sel[c] != idx)
			r->sel[k++] = r->sel[c];
	if (k != r->n_sel && !auto_select) {
		iotad_errf(err, errlen, "%s: column \"%s\" cannot be both a feature and the %s",
			   r->path, r->header[idx], what);
		return IOTAD_ERR_INVAL;
	}
	r->n_sel = k;
	return IOTAD_OK;
}

iotad_err csv_read_timed(const char *path, char sep, const char *const *cols, int n_cols,
			 const char *const *skip, int n_skip, const char *group_col,
			 const char *time_col, csv_table *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof *out);
	if (!path || sep == '"' || sep == '\n' || sep == '\r' || sep == '\0' || n_cols < 0 ||
	    n_skip < 0) {
		iotad_errf(err, errlen, "csv: invalid arguments");
		return IOTAD_ERR_INVAL;
	}
	struct csv_reader r = {.path = path, .group_idx = -1, .time_idx = -1};
	r.f = fopen(path, "r");
	if (!r.f) {
		int e = errno;
		iotad_errf(err, errlen, "%s: %s", path, strerror(e));
		return e == ENOENT ? IOTAD_ERR_NOTFOUND : IOTAD_ERR_IO;
	}
	int auto_select = !(cols && n_cols > 0);
	iotad_err rc = read_header(&r, sep, err, errlen);
	if (!rc && group_col && (r.group_idx = find_special(&r, "group", group_col, err,
							       errlen)) < 0)
		rc = IOTAD_ERR_NOTFOUND;
	if (!rc && time_col && (r.time_idx = find_special(&r, "time", time_col, err,
							     errlen)) < 0)
		rc = IOTAD_ERR_NOTFOUND;
	if (!rc)
		rc = select_columns(&r, cols, n_cols, skip, n_skip, err, errlen);
	if (!rc && r.group_idx >= 0)
		rc = unselect(&r, r.group_idx, auto_select, "group", err, errlen);
	if (!rc && r.time_idx >= 0)
		rc = unselect(&r, r.time_idx, auto_select, "time", err, errlen);

	if (!rc)
		rc = read_rows(&r, sep, auto_select, err, errlen);
	if (!rc) {
		out->names = calloc((size_t)(r.n_sel ? r.n_sel : 1), sizeof *out->names);
		if (!out->names)
			rc = IOTAD_ERR_NOMEM;
		for (int c = 0; !rc && c < r.n_sel; c++) {
			out->names[c] = strdup(r.header[r.sel[c]]);
			out->n_cols = c + 1;
			if (!out->names[c])
				rc = IOTAD_ERR_NOMEM;
		}
	}
	if (rc == IOTAD_ERR_NOMEM)
		iotad_errf(err, errlen, "%s: out of memory", path);
	if (!rc) {
		out->n_cols = r.n_sel;
		out->n_rows = r.n_rows;
		out->data = r.data;
		r.data = NULL;
		out->group = r.gid;
		out->n_groups = r.n_groups;
		out->group_names = r.gnames;
		out->time = r.time;
		r.gid = NULL;
		r.time = NULL;
		r.gnames = NULL;
		r.n_groups = 0;
	} else {
		csv_free(out);
	}
	reader_free(&r);
	return rc;
}

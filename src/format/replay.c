/* replay.c - a CSV file read row by row and turned into telemetry JSON.
 * Columns are picked once from the header; every cell that goes out is
 * checked (finite number, valid time, usable device id). */
#include "iotad/replay.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iotad/codec.h"
#include "iotad/errmsg.h"
#include "iotad/numparse.h"
#include "iotad/timefmt.h"
#include "iotad/topic.h"

struct replay {
	FILE *f;
	char sep;
	char *line;
	size_t line_cap;
	size_t rows, lineno;
	int n_cols;
	char *header;                   /* owned copy, names point into it */
	char *names[REPLAY_MAX_COLS];
	char *cells[REPLAY_MAX_COLS];
	int feat[REPLAY_MAX_COLS];      /* column index of each feature */
	int n_feat;
	int time_col, device_col;       /* -1: none */
	char device[REPLAY_DEVICE_MAX];
};

static const char *const label_names[] = {"label", "anomaly", "changepoint", NULL};
static const char *const time_names[] = {"ts", "timestamp", "datetime", "time", NULL};

static bool in_list(const char *s, const char *const *list)
{
	for (; *list; list++)
		if (!strcmp(s, *list))
			return true;
	return false;
}

/* Split line in place on sep; "..." quotes with "" inside. Returns the cell count. */
static int split(char *line, char sep, char **cells, int max)
{
	int n = 0;
	char *p = line;
	for (;;) {
		if (n == max)
			return -1;
		if (*p == '"') {
			char *w = ++p;
			cells[n++] = w;
			while (*p && !(*p == '"' && p[1] != '"'))
				*w++ = *p == '"' ? (p += 2, '"') : *p++;
			if (*p == '"')
				p++;
			*w = '\0';
			if (*p == sep)
				p++;
			else if (*p)
				return -1;
			else
				return n;
			/* a cell follows the separator */
			continue;
		}
		cells[n++] = p;
		char *e = strchr(p, sep);
		if (!e)
			return n;
		*e = '\0';
		p = e + 1;
	}
}

static bool read_line(replay *r)
{
	ssize_t n = getline(&r->line, &r->line_cap, r->f);
	if (n < 0)
		return false;
	while (n > 0 && (r->line[n - 1] == '\n' || r->line[n - 1] == '\r'))
		r->line[--n] = '\0';
	r->lineno++;
	return true;
}

static int find_col(const replay *r, const char *name)
{
	for (int i = 0; i < r->n_cols; i++)
		if (!strcmp(r->names[i], name))
			return i;
	return -1;
}

static iotad_err pick_named(replay *r, const char *list, char *err, size_t errlen)
{
	char buf[4096];
	if (strlen(list) >= sizeof buf)
		return iotad_fail(IOTAD_ERR_INVAL, err, errlen, "--features: list too long");
	strcpy(buf, list);
	char *save = NULL;
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		int c = find_col(r, t);
		if (c < 0)
			return iotad_fail(IOTAD_ERR_INVAL, err, errlen, "no column \"%s\" in the header",
					  t);
		r->feat[r->n_feat++] = c;
	}
	return r->n_feat ? IOTAD_OK : iotad_fail(IOTAD_ERR_INVAL, err, errlen, "no feature");
}

/* Every column whose first data cell is a number, but time/device/labels. */
static iotad_err pick_numeric(replay *r, char *err, size_t errlen)
{
	long at = ftell(r->f);
	size_t lineno = r->lineno;
	if (!read_line(r))
		return iotad_fail(IOTAD_ERR_INVAL, err, errlen, "no data row");
	int n = split(r->line, r->sep, r->cells, REPLAY_MAX_COLS);
	for (int i = 0; i < r->n_cols && i < n; i++) {
		double v;
		if (i == r->time_col || i == r->device_col || in_list(r->names[i], label_names) ||
		    num_parse_double(r->cells[i], -HUGE_VAL, HUGE_VAL, &v, NULL, 0) != 0)
			continue;
		r->feat[r->n_feat++] = i;
	}
	if (fseek(r->f, at, SEEK_SET) != 0)
		return iotad_fail(IOTAD_ERR_IO, err, errlen, "cannot seek: %s", strerror(errno));
	r->lineno = lineno;
	return r->n_feat ? IOTAD_OK
			 : iotad_fail(IOTAD_ERR_INVAL, err, errlen, "no numeric column to send");
}

static iotad_err count_rows(replay *r, char *err, size_t errlen)
{
	long at = ftell(r->f);
	char buf[1 << 15];
	size_t n, rows = 0;
	char last = '\n';
	while ((n = fread(buf, 1, sizeof buf, r->f)) > 0) {
		for (size_t i = 0; i < n; i++)
			rows += buf[i] == '\n';
		last = buf[n - 1];
	}
	r->rows = rows + (last != '\n');
	if (ferror(r->f) || fseek(r->f, at, SEEK_SET) != 0)
		return iotad_fail(IOTAD_ERR_IO, err, errlen, "cannot read: %s", strerror(errno));
	return IOTAD_OK;
}

static iotad_err setup(replay *r, const replay_opts *o, char *err, size_t errlen)
{
	if (!read_line(r))
		return iotad_fail(IOTAD_ERR_INVAL, err, errlen, "empty file");
	r->header = strdup(r->line);
	if (!r->header)
		return IOTAD_ERR_NOMEM;
	r->n_cols = split(r->header, r->sep, r->names, REPLAY_MAX_COLS);
	if (r->n_cols < 1)
		return iotad_fail(IOTAD_ERR_INVAL, err, errlen, "bad header (more than %d columns?)",
				  REPLAY_MAX_COLS);
	r->time_col = r->device_col = -1;
	if (o->time_col && *o->time_col) {
		if ((r->time_col = find_col(r, o->time_col)) < 0)
			return iotad_fail(IOTAD_ERR_INVAL, err, errlen,
					  "--time-col: no column \"%s\" in the header", o->time_col);
	} else if (!o->time_col) {
		for (int i = 0; i < r->n_cols && r->time_col < 0; i++)
			if (in_list(r->names[i], time_names))
				r->time_col = i;
	}
	if (o->device_col && (r->device_col = find_col(r, o->device_col)) < 0)
		return iotad_fail(IOTAD_ERR_INVAL, err, errlen,
				  "--device-col: no column \"%s\" in the header", o->device_col);
	snprintf(r->device, sizeof r->device, "%s", o->device ? o->device : "replay");
	iotad_err e = count_rows(r, err, errlen);
	if (e)
		return e;
	return o->features ? pick_named(r, o->features, err, errlen) : pick_numeric(r, err, errlen);
}

iotad_err replay_open(const char *path, const replay_opts *o, replay **out, char *err,
		      size_t errlen)
{
	*out = NULL;
	replay *r = calloc(1, sizeof *r);
	if (!r)
		return IOTAD_ERR_NOMEM;
	r->sep = o->sep ? o->sep : ',';
	r->f = fopen(path, "r");
	if (!r->f) {
		iotad_err e = iotad_fail(IOTAD_ERR_IO, err, errlen, "%s", strerror(errno));
		free(r);
		return e;
	}
	iotad_err e = setup(r, o, err, errlen);
	if (e) {
		replay_close(r);
		return e;
	}
	*out = r;
	return IOTAD_OK;
}

size_t replay_rows(const replay *r)
{
	return r->rows;
}

int replay_has_time(const replay *r)
{
	return r->time_col >= 0;
}

/* Shortest of %.15g / %.17g that reads back as v. */
static int put_number(char *buf, size_t cap, double v)
{
	int n = snprintf(buf, cap, "%.15g", v);
	if (n > 0 && (size_t)n < cap && strtod(buf, NULL) != v)
		n = snprintf(buf, cap, "%.17g", v);
	return n;
}

static int bad_row(replay *r, char *err, size_t errlen, const char *col, const char *why)
{
	snprintf(err, errlen, "line %zu%s%s%s: %s", r->lineno, col ? ", column \"" : "",
		 col ? col : "", col ? "\"" : "", why);
	return -1;
}

int replay_next(replay *r, char *buf, size_t cap, const char **device, double *ts, char *err,
		size_t errlen)
{
	do {
		if (!read_line(r))
			return 0;
	} while (r->line[0] == '\0');
	int n = split(r->line, r->sep, r->cells, REPLAY_MAX_COLS);
	if (n != r->n_cols)
		return bad_row(r, err, errlen, NULL, "wrong number of cells");
	*ts = NAN;
	*device = r->device;
	if (r->device_col >= 0) {
		const char *cell = r->cells[r->device_col];
		if (topic_device(cell, 0, r->device, sizeof r->device) != IOTAD_OK ||
		    strcmp(r->device, cell) != 0)
			return bad_row(r, err, errlen, r->names[r->device_col], "not a device id");
	}
	size_t len = 0;
	int w = snprintf(buf, cap, "{");
	if (w < 0 || (size_t)w >= cap)
		return bad_row(r, err, errlen, NULL, "payload too long");
	len = (size_t)w;
	if (r->time_col >= 0) {
		if (timefmt_parse(r->cells[r->time_col], ts) != 0)
			return bad_row(r, err, errlen, r->names[r->time_col], "not a time");
		w = snprintf(buf + len, cap - len, "\"ts\":%.3f", *ts);
		if (w < 0 || (size_t)w >= cap - len)
			return bad_row(r, err, errlen, NULL, "payload too long");
		len += (size_t)w;
	}
	for (int k = 0; k < r->n_feat; k++) {
		int c = r->feat[k];
		double v;
		if (num_parse_double(r->cells[c], -HUGE_VAL, HUGE_VAL, &v, NULL, 0) != 0)
			return bad_row(r, err, errlen, r->names[c], "not a finite number");
		if (len > 1 && len + 1 < cap)
			buf[len++] = ',';
		int q = codec_json_string(buf + len, cap - len, r->names[c]);
		if (q < 0 || (size_t)q + 2 >= cap - len)
			return bad_row(r, err, errlen, NULL, "payload too long");
		len += (size_t)q;
		buf[len++] = ':';
		w = put_number(buf + len, cap - len, v);
		if (w < 0 || (size_t)w >= cap - len)
			return bad_row(r, err, errlen, NULL, "payload too long");
		len += (size_t)w;
	}
	if (len + 2 > cap)
		return bad_row(r, err, errlen, NULL, "payload too long");
	buf[len++] = '}';
	buf[len] = '\0';
	return (int)len;
}

void replay_close(replay *r)
{
	if (!r)
		return;
	if (r->f)
		fclose(r->f);
	free(r->line);
	free(r->header);
	free(r);
}

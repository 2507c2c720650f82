/* csv.h - reading numeric CSV files with a header row. */
#ifndef IOTAD_CSV_H
#define IOTAD_CSV_H

#include <stddef.h>
#include <stdint.h>

#include "iotad/error.h"

typedef struct csv_table {
	int n_cols;         /* selected columns */
	size_t n_rows;
	float *data;        /* owned, n_rows * n_cols, row-major */
	char **names;       /* owned, n_cols column names */
	uint32_t *group;    /* owned, n_rows group ids, or NULL (see csv_read_grouped) */
	size_t n_groups;    /* distinct values of the group column */
	char **group_names; /* owned, n_groups values, by id, or NULL */
	double *time;       /* owned, n_rows times in seconds, or NULL (csv_read_timed) */
} csv_table;

/* Read the columns named in cols (n_cols names; NULL/0 = every column but
 * those named in skip, which may be NULL) from a CSV file whose first row
 * is a header. sep is the separator character. Every selected cell must be
 * a finite number: an error names file:line and the column. With automatic
 * selection, columns whose first data cell is not a number (e.g. a
 * timestamp) are left out. Fields may be quoted ("..." with "" inside). */
iotad_err csv_read(const char *path, char sep, const char *const *cols, int n_cols,
		   const char *const *skip, int n_skip, csv_table *out, char *err, size_t errlen);
/* csv_read that also reads the text column group_col (not among the
 * selected columns) and gives each row the id of its value: ids are dense,
 * 0.. in order of first appearance (e.g. one per device). */
iotad_err csv_read_grouped(const char *path, char sep, const char *const *cols, int n_cols,
			   const char *const *skip, int n_skip, const char *group_col,
			   csv_table *out, char *err, size_t errlen);
/* csv_read_grouped (group_col may be NULL) that also reads the column
 * time_col (not among the selected columns) as each row's time in seconds:
 * epoch seconds or a date-time as timefmt_parse reads them, kept as
 * doubles so epoch seconds keep their precision. */
iotad_err csv_read_timed(const char *path, char sep, const char *const *cols, int n_cols,
			 const char *const *skip, int n_skip, const char *group_col,
			 const char *time_col, csv_table *out, char *err, size_t errlen);
void csv_free(csv_table *t);

/* Fields of one line, reused from line to line (free v when done). */
typedef struct csv_fields {
	char **v;
	int n, cap;
} csv_fields;

/* Split line (no line end) in place into NUL-terminated fields ("..."
 * quoted, "" inside). Returns 0, -1 on a malformed quoted field, -2 when
 * out of memory. */
int csv_split(char *line, char sep, csv_fields *f);

#endif

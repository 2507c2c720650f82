/* replay.h - rows of a CSV file as telemetry messages: a device, a time and
 * a JSON payload keyed by the column names, for `iotad sim --replay`. */
#ifndef IOTAD_REPLAY_H
#define IOTAD_REPLAY_H

#include <stddef.h>

#include "iotad/error.h"

#define REPLAY_MAX_COLS 256
#define REPLAY_DEVICE_MAX 64

typedef struct replay_opts {
	char sep;                /* field separator (',') */
	const char *features;    /* comma separated columns; NULL: every numeric column
				  * but the time, device and label columns */
	const char *device;      /* every row from this device, or NULL */
	const char *device_col;  /* device per row from this column, or NULL */
	const char *time_col;    /* ts from this column, or NULL: auto (ts, timestamp,
				  * datetime, time), "" none */
} replay_opts;

typedef struct replay replay;

/* Open path, read its header, pick the columns and count the data rows
 * (for progress). On failure err receives the reason. */
iotad_err replay_open(const char *path, const replay_opts *o, replay **out, char *err,
		      size_t errlen);
/* Data rows in the file (counted when it was opened). */
size_t replay_rows(const replay *r);
/* Whether rows carry a time. */
int replay_has_time(const replay *r);
/* Next row as a JSON payload {"ts":T,"col":v,...} (no ts without a time
 * column) into buf, its device (valid until the next call) and time (NAN
 * without). Returns the payload length, 0 at the end, -1 for a bad row
 * (err names line and column; the row is skipped, the next call goes on). */
int replay_next(replay *r, char *buf, size_t cap, const char **device, double *ts, char *err,
		size_t errlen);
void replay_close(replay *r);

#endif

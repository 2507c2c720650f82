/* progress.h - one live progress line on a terminal ("\r" redrawn, at most
 * a few times a second) for long jobs; silent when the stream is not a tty. */
#ifndef IOTAD_PROGRESS_H
#define IOTAD_PROGRESS_H

#include <stdbool.h>
#include <stdio.h>

typedef struct progress {
	FILE *out;                  /* NULL: off */
	char label[48];
	unsigned long long total;   /* 0: unknown */
	double next;                /* monotonic time of the next redraw */
	int width;                  /* characters of the last line drawn */
} progress;

/* Start a progress line on out for label; it is on only when out is a
 * terminal (isatty). total is the expected count (0: unknown). */
void progress_init(progress *p, FILE *out, const char *label, unsigned long long total);
/* Report done items (and an optional short note, may be NULL); redraws at
 * most every 200 ms. Cheap enough to call per item. */
void progress_update(progress *p, unsigned long long done, const char *note);
/* Show "label: note" now (a phase of a job whose steps are not counted). */
void progress_note(progress *p, const char *note);
/* Erase the line, leaving the terminal as it was; progress is then off. */
void progress_end(progress *p);
/* Whether the line is shown at all. */
bool progress_on(const progress *p);

#endif

/* progress.c - a live progress line on stderr when it is a terminal.
 * Redraws are rate-limited by a monotonic clock; nothing is written when
 * the stream is a pipe or a file, so logs stay clean. */
#include "iotad/progress.h"

#include <string.h>
#include <time.h>
#include <unistd.h>

#include "iotad/clock.h"

#define PROGRESS_PERIOD_S 0.2

void progress_init(progress *p, FILE *out, const char *label, unsigned long long total)
{
	memset(p, 0, sizeof *p);
	if (out && isatty(fileno(out)))
		p->out = out;
	snprintf(p->label, sizeof p->label, "%s", label ? label : "");
	p->total = total;
	p->next = clock_mono();
}

bool progress_on(const progress *p)
{
	return p->out != NULL;
}

static void progress_draw(progress *p, const char *line, int n)
{
	/* pad over the rest of a longer previous line */
	fprintf(p->out, "\r%s%*s", line, p->width > n ? p->width - n : 0, "");
	fflush(p->out);
	p->width = n;
}

void progress_note(progress *p, const char *note)
{
	if (!p->out)
		return;
	char line[160];
	int n = snprintf(line, sizeof line, "%s: %s", p->label, note);
	if (n >= 0)
		progress_draw(p, line, n < (int)sizeof line ? n : (int)sizeof line - 1);
}

void progress_update(progress *p, unsigned long long done, const char *note)
{
	if (!p->out)
		return;
	double now = clock_mono();
	if (now < p->next)
		return;
	p->next = now + PROGRESS_PERIOD_S;
	char line[160];
	int n;
	if (p->total > 0)
		n = snprintf(line, sizeof line, "%s: %llu/%llu (%.0f%%)%s%s", p->label, done,
			     p->total, 100.0 * (double)done / (double)p->total, note ? " " : "",
			     note ? note : "");
	else
		n = snprintf(line, sizeof line, "%s: %llu%s%s", p->label, done, note ? " " : "",
			     note ? note : "");
	if (n < 0)
		return;
	if (n >= (int)sizeof line)
		n = (int)sizeof line - 1;
	progress_draw(p, line, n);
}

void progress_end(progress *p)
{
	if (!p->out)
		return;
	if (p->width > 0)
		fprintf(p->out, "\r%*s\r", p->width, "");
	fflush(p->out);
	p->out = NULL;
}

/* log.c - stderr logger. */
#include "iotad/log.h"

#include "iotad/clock.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

_Atomic int log_threshold = LOG_INFO;

static const char *const names[] = {"error", "warn", "info", "debug"};

void log_set_level(int level)
{
	if (level < LOG_ERROR)
		level = LOG_ERROR;
	if (level > LOG_DEBUG)
		level = LOG_DEBUG;
	log_threshold = level;
}

int log_level_parse(const char *name, int *level)
{
	for (int i = 0; i <= LOG_DEBUG; i++) {
		if (strcmp(name, names[i]) == 0) {
			*level = i;
			return 0;
		}
	}
	return -1;
}

int log_rl_allow(struct log_rl *rl, long long interval_ns)
{
	long long now = clock_mono_ns();
	long long next = atomic_load(&rl->next_ns);
	if (now < next || !atomic_compare_exchange_strong(&rl->next_ns, &next, now + interval_ns)) {
		atomic_fetch_add(&rl->suppressed, 1);
		return -1;
	}
	return (int)atomic_exchange(&rl->suppressed, 0);
}

void log_write(int level, const char *fmt, ...)
{
	char line[1024];
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	int n = snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %-5s ",
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
			 tm.tm_sec, ts.tv_nsec / 1000000L,
			 names[level < 0 ? 0 : level > LOG_DEBUG ? LOG_DEBUG : level]);
	va_list ap;
	va_start(ap, fmt);
	int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
	va_end(ap);
	size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
	if (len > sizeof line - 2)
		len = sizeof line - 2;
	line[len++] = '\n';
	ssize_t w = write(STDERR_FILENO, line, len);
	(void)w;
}

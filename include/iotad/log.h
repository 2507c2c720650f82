/* log.h - one level-gated logger with a per-call-site rate limit. */
#ifndef IOTAD_LOG_H
#define IOTAD_LOG_H

#include <stdatomic.h>

enum log_level { LOG_ERROR = 0, LOG_WARN, LOG_INFO, LOG_DEBUG };

extern _Atomic int log_threshold;

/* Set the most verbose level that is printed. Any thread. */
void log_set_level(int level);
/* Parse "error", "warn", "info" or "debug"; returns 0 on success, -1 if unknown. */
int log_level_parse(const char *name, int *level);
/* Write one line to stderr with time and level. Any thread (one write(2) per line). */
void log_write(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Rate limit state of one call site: at most one line per interval; the
 * next printed line says how many were suppressed. */
struct log_rl {
	_Atomic long long next_ns;
	_Atomic unsigned suppressed;
};
/* Returns the number of suppressed lines (>= 0) if this call may log, -1 if not. Any thread. */
int log_rl_allow(struct log_rl *rl, long long interval_ns);

#define LOG(level, ...)                                                 \
	do {                                                            \
		if ((level) <= log_threshold)                           \
			log_write((level), __VA_ARGS__);                \
	} while (0)

#define LOG_ERR(...) LOG(LOG_ERROR, __VA_ARGS__)
#define LOG_WARN(...) LOG(LOG_WARN, __VA_ARGS__)
#define LOG_INFO(...) LOG(LOG_INFO, __VA_ARGS__)
#define LOG_DBG(...) LOG(LOG_DEBUG, __VA_ARGS__)

/* Log at most once per second from this call site. */
#define LOG_RATELIMITED(level, fmt, ...)                                          \
	do {                                                                      \
		static struct log_rl rl_;                                         \
		if ((level) <= log_threshold) {                                   \
			int sup_ = log_rl_allow(&rl_, 1000000000LL);              \
			if (sup_ > 0)                                             \
				log_write((level), fmt " (%d similar suppressed)", \
					  __VA_ARGS__, sup_);                     \
			else if (sup_ == 0)                                       \
				log_write((level), fmt, __VA_ARGS__);             \
		}                                                                 \
	} while (0)

#endif

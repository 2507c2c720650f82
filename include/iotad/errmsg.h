/* errmsg.h - error messages into a caller's buffer, for the parsers and
 * loaders that name what they refused. */
#ifndef IOTAD_ERRMSG_H
#define IOTAD_ERRMSG_H

#include <stdarg.h>
#include <stddef.h>

/* Format a message into err (errlen bytes, may be NULL/0: then nothing). Any thread. */
void iotad_errf(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* iotad_errf with a va_list (for helpers that add to the message). Any thread. */
void iotad_verrf(char *err, size_t errlen, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));
/* iotad_errf, then returns rc (an iotad_err, or -1 for functions that
 * return 0 or -1): `return iotad_fail(IOTAD_ERR_PARSE, err, errlen, ...)`. */
int iotad_fail(int rc, char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#endif

/* errmsg.c - error messages into a caller's buffer. */
#include "iotad/errmsg.h"

#include <stdarg.h>
#include <stdio.h>

void iotad_verrf(char *err, size_t errlen, const char *fmt, va_list ap)
{
	if (err && errlen)
		vsnprintf(err, errlen, fmt, ap);
}

void iotad_errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	iotad_verrf(err, errlen, fmt, ap);
	va_end(ap);
}

int iotad_fail(int rc, char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	iotad_verrf(err, errlen, fmt, ap);
	va_end(ap);
	return rc;
}

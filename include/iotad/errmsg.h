/* errmsg.h - error messages into a caller's buffer, for the parsers and
 * loaders that name what they refused. */
#ifndef IOTAD_ERRMSG_H
#define IOTAD_ERRMSG_H

#include <stddef.h>

/* Format a message into err (errlen bytes, may be NULL/0: then nothing). Any thread. */
void iotad_errf(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif

/* numparse.h - strict number parsing for every input from outside (flags,
 * config values, CSV cells): the whole string is the number, it is finite
 * and in range, or the caller gets a message that says which. */
#ifndef IOTAD_NUMPARSE_H
#define IOTAD_NUMPARSE_H

#include <stddef.h>
#include <stdint.h>

/* s as a finite double in [lo, hi]. 0, or -1 with a message in err
 * ("not a number", "must be between lo and hi"; err may be NULL). Any thread. */
int num_parse_double(const char *s, double lo, double hi, double *out, char *err, size_t errlen);
/* s as a finite double in [lo, hi] that also fits a float. Same returns. */
int num_parse_float(const char *s, double lo, double hi, float *out, char *err, size_t errlen);
/* s as a decimal integer in [lo, hi]. Same returns ("not an integer"). */
int num_parse_long(const char *s, long lo, long hi, long *out, char *err, size_t errlen);
/* s as a decimal count in [lo, hi] (no sign). Same returns. */
int num_parse_size(const char *s, size_t lo, size_t hi, size_t *out, char *err, size_t errlen);
/* s as an unsigned 64-bit integer, decimal or 0x hexadecimal (no sign).
 * Same returns ("not an unsigned 64-bit integer"). */
int num_parse_u64(const char *s, uint64_t *out, char *err, size_t errlen);

#endif

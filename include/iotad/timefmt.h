/* timefmt.h - time stamps as text, in one place for the codec, the CSV
 * reader and the replayer: RFC 3339 in and out, and a CSV time cell. */
#ifndef IOTAD_TIMEFMT_H
#define IOTAD_TIMEFMT_H

#include <stddef.h>

/* Parse RFC 3339 (e.g. 2024-05-01T12:00:00.5Z or a +02:00 offset) to epoch
 * seconds. 0 on success, -1 if s is not one. Any thread. */
int timefmt_parse_rfc3339(const char *s, double *out);
/* Format epoch seconds as RFC 3339 UTC with milliseconds into out (empty
 * if ts is not representable or out too short). Any thread. */
void timefmt_format_rfc3339(double ts, char *out, size_t outlen);
/* A time cell to epoch seconds: a number (epoch seconds, 0 to 2100), RFC
 * 3339, or "YYYY-MM-DD HH:MM:SS[.f]" without a zone (read as UTC). 0 on
 * success, -1 if none of them. Any thread. */
int timefmt_parse(const char *s, double *out);

#endif

/* afile.h - whole small files: atomic write (temporary file, fsync, rename,
 * fsync of the directory) and bounded read. */
#ifndef IOTAD_AFILE_H
#define IOTAD_AFILE_H

#include <stddef.h>

#include "iotad/error.h"

/* Replace path with len bytes of buf atomically: a reader sees the old or
 * the new content, never a mix. IOTAD_ERR_IO with errno set on failure. Any thread. */
iotad_err afile_write(const char *path, const void *buf, size_t len);
/* Read all of path (at most max bytes) into a malloc'd buffer the caller
 * frees. IOTAD_ERR_NOTFOUND: no file; IOTAD_ERR_RANGE: larger than max;
 * IOTAD_ERR_IO: read error (errno). Any thread. */
iotad_err afile_read(const char *path, size_t max, void **out, size_t *len);

#endif

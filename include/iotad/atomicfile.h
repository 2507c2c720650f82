/* atomicfile.h - replace a file all at once: write a temporary file beside
 * it, fsync, rename over the old one, fsync the directory. A reader sees
 * the old file or the new one, never half of one; a crash leaves the old. */
#ifndef IOTAD_ATOMICFILE_H
#define IOTAD_ATOMICFILE_H

#include <stdio.h>
#include <sys/types.h>

#include "iotad/error.h"

typedef struct atomicfile {
	FILE *f;                /* write the new content here */
	char *tmp;              /* owned: the temporary file's path */
	char *path;             /* owned: the path it replaces */
} atomicfile;

/* Start replacing path with a file of mode bits (e.g. 0644): a is ready to
 * write. Refuses (IOTAD_ERR_INVAL) a path that exists and is not a regular
 * file (a directory, a device, a symlink); IOTAD_ERR_IO if the temporary
 * file cannot be made; IOTAD_ERR_NOMEM. err names path and cause. */
iotad_err atomicfile_open(atomicfile *a, const char *path, mode_t mode, char *err, size_t errlen);
/* Flush, fsync and rename the new file over path, then fsync its directory
 * (best effort). On failure (IOTAD_ERR_IO, err names the step and errno's
 * text, errno kept) path is untouched and the temporary file removed.
 * Frees a either way. */
iotad_err atomicfile_commit(atomicfile *a, char *err, size_t errlen);
/* Give up: remove the temporary file and free a. Accepts a zeroed a. */
void atomicfile_abort(atomicfile *a);

#endif

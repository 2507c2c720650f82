/* afile.c - atomic whole-file writes and bounded reads (see afile.h). */
#include "iotad/afile.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iotad/atomicfile.h"

iotad_err afile_write(const char *path, const void *buf, size_t len)
{
	atomicfile a;
	if (!path || !*path || (!buf && len))
		return IOTAD_ERR_INVAL;
	iotad_err rc = atomicfile_open(&a, path, 0644, NULL, 0);
	if (rc != IOTAD_OK)
		return rc;
	if (len && fwrite(buf, 1, len, a.f) != len) {
		int e = errno;
		atomicfile_abort(&a);
		errno = e;
		return IOTAD_ERR_IO;
	}
	return atomicfile_commit(&a, NULL, 0); /* errno: the cause */
}

iotad_err afile_read(const char *path, size_t max, void **out, size_t *len)
{
	*out = NULL;
	*len = 0;
	FILE *f = fopen(path, "rb");
	if (!f)
		return errno == ENOENT ? IOTAD_ERR_NOTFOUND : IOTAD_ERR_IO;
	char *buf = malloc(max + 1);
	if (!buf) {
		fclose(f);
		return IOTAD_ERR_NOMEM;
	}
	size_t n = fread(buf, 1, max + 1, f);
	int e = errno, err = ferror(f);
	fclose(f);
	if (err || n > max) {
		free(buf);
		errno = e;
		return err ? IOTAD_ERR_IO : IOTAD_ERR_RANGE;
	}
	*out = buf;
	*len = n;
	return IOTAD_OK;
}

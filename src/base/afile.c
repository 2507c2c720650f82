/* afile.c - atomic whole-file writes and bounded reads (see afile.h). */
#include "iotad/afile.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

iotad_err afile_write(const char *path, const void *buf, size_t len)
{
	if (!path || !*path || (!buf && len))
		return IOTAD_ERR_INVAL;
	size_t plen = strlen(path);
	char *tmp = malloc(plen + 16);
	if (!tmp)
		return IOTAD_ERR_NOMEM;
	memcpy(tmp, path, plen);
	memcpy(tmp + plen, ".tmp.XXXXXX", 12);
	int fd = mkstemp(tmp);
	if (fd < 0) {
		int e = errno;
		free(tmp);
		errno = e;
		return IOTAD_ERR_IO;
	}
	int bad = fchmod(fd, 0644) != 0 || write_all(fd, buf, len) != 0 || fsync(fd) != 0;
	int e = errno;
	bad |= close(fd) != 0;
	if (!bad && rename(tmp, path) != 0) {
		bad = 1;
		e = errno;
	}
	if (bad) {
		unlink(tmp);
		free(tmp);
		errno = e;
		return IOTAD_ERR_IO;
	}
	free(tmp);
	char *dcopy = strdup(path);
	if (dcopy) { /* the rename durable too (best effort) */
		int dfd = open(dirname(dcopy), O_RDONLY | O_DIRECTORY);
		if (dfd >= 0) {
			fsync(dfd);
			close(dfd);
		}
		free(dcopy);
	}
	return IOTAD_OK;
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

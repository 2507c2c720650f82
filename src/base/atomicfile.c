/* atomicfile.c - temporary file, fsync, rename, fsync of the directory. */
#include "iotad/atomicfile.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "iotad/errmsg.h"

static void atomicfile_free(atomicfile *a)
{
	free(a->tmp);
	free(a->path);
	a->tmp = a->path = NULL;
	a->f = NULL;
}

iotad_err atomicfile_open(atomicfile *a, const char *path, mode_t mode, char *err, size_t errlen)
{
	struct stat st;

	memset(a, 0, sizeof *a);
	if (!path || !*path) {
		iotad_errf(err, errlen, "no file name");
		return IOTAD_ERR_INVAL;
	}
	if (lstat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
		iotad_errf(err, errlen, "%s: exists and is not a regular file: not replaced", path);
		return IOTAD_ERR_INVAL;
	}
	size_t n = strlen(path);
	a->path = strdup(path);
	a->tmp = malloc(n + sizeof ".tmp.XXXXXX");
	if (!a->path || !a->tmp) {
		atomicfile_free(a);
		return IOTAD_ERR_NOMEM;
	}
	memcpy(a->tmp, path, n);
	memcpy(a->tmp + n, ".tmp.XXXXXX", sizeof ".tmp.XXXXXX");
	int fd = mkostemp(a->tmp, O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		iotad_errf(err, errlen, "%s: cannot create a temporary file: %s", path, strerror(e));
		atomicfile_free(a);
		errno = e;
		return IOTAD_ERR_IO;
	}
	if (fchmod(fd, mode) != 0 || !(a->f = fdopen(fd, "wb"))) {
		int e = errno;
		iotad_errf(err, errlen, "%s: %s", a->tmp, strerror(e));
		close(fd);
		unlink(a->tmp);
		atomicfile_free(a);
		errno = e;
		return IOTAD_ERR_IO;
	}
	return IOTAD_OK;
}

/* fsync the directory holding path, so the rename itself is durable. */
static void atomicfile_sync_dir(const char *path)
{
	char *copy = strdup(path);
	if (!copy)
		return;
	int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		(void)fsync(fd);
		close(fd);
	}
	free(copy);
}

iotad_err atomicfile_commit(atomicfile *a, char *err, size_t errlen)
{
	const char *step = NULL;

	if (!a || !a->f)
		return IOTAD_ERR_INVAL;
	if (ferror(a->f))
		step = "write";
	else if (fflush(a->f) != 0)
		step = "write";
	else if (fsync(fileno(a->f)) != 0)
		step = "fsync";
	int e = errno;
	if (fclose(a->f) != 0 && !step) {
		step = "close";
		e = errno;
	}
	a->f = NULL;
	if (!step && rename(a->tmp, a->path) != 0) {
		step = "rename";
		e = errno;
	}
	if (step) {
		iotad_errf(err, errlen, "%s: %s failed: %s", a->path, step, strerror(e));
		unlink(a->tmp);
		atomicfile_free(a);
		errno = e;
		return IOTAD_ERR_IO;
	}
	atomicfile_sync_dir(a->path);
	atomicfile_free(a);
	return IOTAD_OK;
}

void atomicfile_abort(atomicfile *a)
{
	if (!a)
		return;
	if (a->f)
		fclose(a->f);
	if (a->tmp)
		unlink(a->tmp);
	atomicfile_free(a);
}

/* fuzz_csv.c - libFuzzer target: the CSV reader, with every column chosen
 * automatically and, on a second pass, grouped by a "device" column. The
 * input reaches csv_read as a file through an in-memory file descriptor. */
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "iotad/csv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int fd = -1;
	static char path[64];
	if (fd < 0) {
		fd = memfd_create("fuzz-csv", 0);
		if (fd < 0)
			return 0;
		snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	}
	if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
		return 0;
	csv_table t = {0};
	char err[256];
	if (csv_read(path, ',', NULL, 0, NULL, 0, &t, err, sizeof err) == IOTAD_OK)
		csv_free(&t);
	csv_table g = {0};
	if (csv_read_grouped(path, ',', NULL, 0, NULL, 0, "device", &g, err, sizeof err) == IOTAD_OK)
		csv_free(&g);
	return 0;
}

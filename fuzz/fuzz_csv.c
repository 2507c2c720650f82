/* fuzz_csv.c - libFuzzer target: the CSV reader, with every column chosen
 * automatically and, on a second pass, grouped by a "device" column and
 * timed by a "ts" column; then the ground truth reader (truth_read) and the
 * labelling by it. The input reaches them as a file through an in-memory
 * file descriptor. */
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "iotad/csv.h"
#include "iotad/truth.h"

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
	if (csv_read_timed(path, ',', NULL, 0, NULL, 0, "device", "ts", &g, err, sizeof err) ==
	    IOTAD_OK)
		csv_free(&g);
	truth tr;
	if (truth_read(path, &tr, err, sizeof err) == IOTAD_OK) {
		/* label a row of each of its devices at each anomaly's start */
		for (size_t i = 0; i < tr.n; i++) {
			uint32_t group = tr.a[i].device;
			uint8_t label;
			int32_t anomaly;
			if (truth_label(&tr, &group, tr.devices, tr.n_devices, &tr.a[i].start, 1,
					&label, &anomaly) == IOTAD_OK &&
			    (label != 1 || anomaly != (int32_t)i))
				__builtin_trap();
		}
		truth_free(&tr);
	}
	return 0;
}

/* fuzz_journal.c - libFuzzer target: the telemetry journal's reader. The
 * input becomes the journal file (after the magic, which it keeps or not
 * as its first byte says); the open must cut any torn or bad tail, the
 * replay hand back whole records only, and an append, a mark and a trim
 * after it must leave a file that opens again with every record. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "iotad/journal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char path[64];

static void check_record(void *ud, const char *topic, size_t topic_len, const void *payload,
			 size_t len, double arrival, bool scored)
{
	(void)scored;
	(void)arrival;
	size_t *sum = ud;
	/* touch every byte: ASan catches a record reaching past the file */
	for (size_t i = 0; i < topic_len; i++)
		*sum += (unsigned char)topic[i];
	for (size_t i = 0; i < len; i++)
		*sum += ((const unsigned char *)payload)[i];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!path[0])
		snprintf(path, sizeof path, "/tmp/fuzz-journal-%d", (int)getpid());
	FILE *f = fopen(path, "wb");
	if (!f)
		return 0;
	if (size > 0 && (data[0] & 1))
		fwrite(JOURNAL_MAGIC, 1, strlen(JOURNAL_MAGIC), f);
	if (size > 1)
		fwrite(data + 1, 1, size - 1, f);
	fclose(f);
	journal *j;
	size_t torn, sum = 0;
	char err[256];
	if (journal_open(path, false, 4, &j, &torn, err, sizeof err) == IOTAD_OK) {
		size_t n = journal_pending(j);
		if (journal_replay(j, check_record, &sum) != n)
			abort();
		if (journal_append(j, "t/x", 3, "{}", 2, 1.0) != IOTAD_OK ||
		    journal_mark(j, n) != IOTAD_OK || journal_trim(j, 1) != IOTAD_OK)
			abort();
		journal_close(j);
		if (journal_open(path, false, 4, &j, &torn, err, sizeof err) != IOTAD_OK ||
		    torn != 0 || journal_pending(j) != 1)
			abort();
		journal_close(j);
	}
	unlink(path);
	return 0;
}

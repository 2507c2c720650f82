/* test_journal.c - unit tests of the telemetry journal: records come back
 * in order with their arrival times; marks say which were scored; a torn
 * last record is cut, a corrupted one ends the replay; a trim keeps only
 * the newest records and drops the marks; a file that is not a journal, or
 * not a regular file, is refused. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "iotad/journal.h"
#include "test.h"

static char jdir[] = "/tmp/iotad-journal-XXXXXX";
static char jpath[64];

typedef struct seen {
	int n, scored;
	char payload[16][16];
	double arrival[16];
} seen;

static void collect(void *ud, const char *topic, size_t topic_len, const void *payload,
		    size_t len, double arrival, bool scored)
{
	seen *s = ud;
	CU_ASSERT_EQUAL(topic_len, 5);
	CU_ASSERT(!memcmp(topic, "t/dev", 5));
	if (s->n < 16 && len < 16) {
		memcpy(s->payload[s->n], payload, len);
		s->payload[s->n][len] = '\0';
		s->arrival[s->n] = arrival;
	}
	s->scored += scored;
	s->n++;
}

static journal *open_ok(size_t *torn)
{
	journal *j = NULL;
	char err[256];
	CU_ASSERT_EQUAL(journal_open(jpath, false, 8, &j, torn, err, sizeof err), IOTAD_OK);
	return j;
}

static void append_n(journal *j, int from, int to)
{
	char p[16];
	for (int i = from; i < to; i++) {
		int n = snprintf(p, sizeof p, "m%d", i);
		CU_ASSERT_EQUAL(journal_append(j, "t/dev", 5, p, (size_t)n, 1000.0 + i), IOTAD_OK);
	}
}

static long file_size(void)
{
	struct stat st;
	return stat(jpath, &st) == 0 ? (long)st.st_size : -1;
}

static void test_replay_marks_trim(void)
{
	size_t torn = 1;
	unlink(jpath);
	journal *j = open_ok(&torn);
	CU_ASSERT_FATAL(j != NULL);
	CU_ASSERT_EQUAL(torn, 0);
	CU_ASSERT_EQUAL(journal_pending(j), 0);
	append_n(j, 0, 5);
	CU_ASSERT_EQUAL(journal_mark(j, 3), IOTAD_OK);
	journal_close(j);

	/* a crash: five records, the first three scored */
	j = open_ok(&torn);
	CU_ASSERT_FATAL(j != NULL);
	CU_ASSERT_EQUAL(journal_pending(j), 5);
	CU_ASSERT_EQUAL(journal_trim(j, 0), IOTAD_OK); /* nothing before the replay */
	CU_ASSERT_EQUAL(journal_pending(j), 5);
	seen s = {0};
	CU_ASSERT_EQUAL(journal_replay(j, collect, &s), 5);
	CU_ASSERT_EQUAL(s.n, 5);
	CU_ASSERT_EQUAL(s.scored, 3);
	CU_ASSERT_STRING_EQUAL(s.payload[0], "m0");
	CU_ASSERT_STRING_EQUAL(s.payload[4], "m4");
	CU_ASSERT_DOUBLE_EQUAL(s.arrival[4], 1004.0, 1e-9);
	/* two more, a save with two still queued: only those stay, no mark */
	append_n(j, 5, 7);
	CU_ASSERT_EQUAL(journal_mark(j, 6), IOTAD_OK);
	CU_ASSERT_EQUAL(journal_trim(j, 2), IOTAD_OK);
	append_n(j, 7, 8);
	journal_close(j);
	j = open_ok(&torn);
	CU_ASSERT_FATAL(j != NULL);
	memset(&s, 0, sizeof s);
	CU_ASSERT_EQUAL(journal_replay(j, collect, &s), 3);
	CU_ASSERT_EQUAL(s.scored, 0);
	CU_ASSERT_STRING_EQUAL(s.payload[0], "m5");
	CU_ASSERT_STRING_EQUAL(s.payload[2], "m7");
	/* an orderly stop: everything scored, the file is its header */
	CU_ASSERT_EQUAL(journal_trim(j, 0), IOTAD_OK);
	journal_close(j);
	CU_ASSERT_EQUAL(file_size(), (long)strlen(JOURNAL_MAGIC));
}

static void test_torn_and_corrupt(void)
{
	size_t torn = 0;
	unlink(jpath);
	journal *j = open_ok(&torn);
	CU_ASSERT_FATAL(j != NULL);
	append_n(j, 0, 4);
	journal_close(j);
	long full = file_size();
	/* a crash in the middle of the last record's write */
	CU_ASSERT_EQUAL(truncate(jpath, full - 3), 0);
	j = open_ok(&torn);
	CU_ASSERT_FATAL(j != NULL);
	CU_ASSERT(torn > 0);
	CU_ASSERT_EQUAL(journal_pending(j), 3);
	journal_close(j);
	CU_ASSERT(file_size() < full - 3); /* cut at the last whole record */
	/* a flipped byte in the second record: the replay ends before it */
	int fd = open(jpath, O_RDWR);
	CU_ASSERT_FATAL(fd >= 0);
	unsigned char c;
	off_t at = (off_t)strlen(JOURNAL_MAGIC) + 8 + 12 + 5 + 2 + 8 + 14;
	CU_ASSERT_EQUAL(pread(fd, &c, 1, at), 1);
	c ^= 0x40;
	CU_ASSERT_EQUAL(pwrite(fd, &c, 1, at), 1);
	close(fd);
	j = open_ok(&torn);
	CU_ASSERT_FATAL(j != NULL);
	CU_ASSERT_EQUAL(journal_pending(j), 1);
	seen s = {0};
	CU_ASSERT_EQUAL(journal_replay(j, collect, &s), 1);
	CU_ASSERT_STRING_EQUAL(s.payload[0], "m0");
	journal_close(j);
}

static void test_refused(void)
{
	journal *j = NULL;
	char err[256] = "";
	size_t torn;
	FILE *f = fopen(jpath, "w");
	CU_ASSERT_FATAL(f != NULL);
	fputs("not a journal at all\n", f);
	fclose(f);
	CU_ASSERT_EQUAL(journal_open(jpath, false, 8, &j, &torn, err, sizeof err), IOTAD_ERR_INVAL);
	CU_ASSERT_PTR_NULL(j);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "not a journal"));
	unlink(jpath);
	CU_ASSERT_EQUAL(mkdir(jpath, 0700), 0);
	CU_ASSERT_EQUAL(journal_open(jpath, false, 8, &j, &torn, err, sizeof err), IOTAD_ERR_INVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "not a regular file"));
	rmdir(jpath);
}

static int suite_init(void)
{
	if (!mkdtemp(jdir))
		return 1;
	snprintf(jpath, sizeof jpath, "%s/journal", jdir);
	return 0;
}

static int suite_clean(void)
{
	unlink(jpath);
	char tmp[80];
	snprintf(tmp, sizeof tmp, "%s.tmp", jpath);
	unlink(tmp);
	return rmdir(jdir) == 0 ? 0 : 1;
}

void init_journal_tests(void)
{
	CU_pSuite s = CU_add_suite("journal", suite_init, suite_clean);
	TEST_ADD(s, test_replay_marks_trim);
	TEST_ADD(s, test_torn_and_corrupt);
	TEST_ADD(s, test_refused);
}

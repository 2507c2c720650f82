/* test_progress.c - the progress line: drawn on a terminal, never on a pipe. */
#include <fcntl.h>
#include <pty.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "iotad/progress.h"
#include "skip.h"
#include "test.h"

static size_t drain(int fd, char *buf, size_t cap)
{
	size_t n = 0;
	ssize_t r;
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	while (n + 1 < cap && (r = read(fd, buf + n, cap - 1 - n)) > 0)
		n += (size_t)r;
	buf[n] = '\0';
	return n;
}

static void test_silent_on_pipe(void)
{
	int fds[2];
	CU_ASSERT_FATAL(pipe(fds) == 0);
	FILE *w = fdopen(fds[1], "w");
	CU_ASSERT_FATAL(w != NULL);
	progress p;
	progress_init(&p, w, "train", 10);
	CU_ASSERT_FALSE(progress_on(&p));
	for (unsigned long long i = 0; i <= 10; i++)
		progress_update(&p, i, "loss 0.1");
	progress_end(&p);
	fclose(w);
	char buf[256];
	CU_ASSERT_EQUAL(drain(fds[0], buf, sizeof buf), 0);
	close(fds[0]);
}

static void test_drawn_on_terminal(void)
{
	int master, slave;
	if (openpty(&master, &slave, NULL, NULL, NULL) != 0) {
		test_skip("no pseudo-terminal here");
		return;
	}
	FILE *w = fdopen(slave, "w");
	CU_ASSERT_FATAL(w != NULL);
	progress p;
	progress_init(&p, w, "eval", 4);
	CU_ASSERT_TRUE(progress_on(&p));
	progress_update(&p, 1, "file a.csv");
	progress_end(&p);
	CU_ASSERT_FALSE(progress_on(&p));
	progress_update(&p, 2, NULL); /* after the end: nothing more */
	fclose(w);
	char buf[512];
	drain(master, buf, sizeof buf);
	close(master);
	CU_ASSERT_PTR_NOT_NULL(strstr(buf, "\reval: 1/4 (25%) file a.csv"));
	CU_ASSERT_PTR_NULL(strstr(buf, "2/4"));
	/* the line is erased at the end: the last byte written is a "\r" */
	size_t n = strlen(buf);
	CU_ASSERT(n > 0 && buf[n - 1] == '\r');
}

void init_progress_tests(void)
{
	CU_pSuite s = CU_add_suite("progress", NULL, NULL);
	TEST_ADD(s, test_silent_on_pipe);
}

void init_progresspty_tests(void)
{
	CU_pSuite s = CU_add_suite("progresspty", NULL, NULL);
	TEST_ADD(s, test_drawn_on_terminal);
}

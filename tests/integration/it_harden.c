/* it_harden.c - the real iotad and a real broker under hostile conditions:
 * a state file path that is not a file, hundreds of idle HTTP clients,
 * kill -9 during a burst, and telemetry redelivered out of order. */
#include "it_harden.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <CUnit/Basic.h>

#include "harness.h"

/* hx_config plus service.state_file (saved every interval seconds). NULL on error. */
static const char *state_config(const hx_broker *b, const char *name, const char *client_id,
				const char *state, const char *extra_text)
{
	const char *config = hx_config(b, name, client_id, NULL);
	char *text = config ? hx_read_file(config, NULL) : NULL;
	if (!text)
		return NULL;
	char extra[8192];
	snprintf(extra, sizeof extra, "%s  state_file: %s\n  state_interval: 1\n%s", text, state,
		 extra_text ? extra_text : "");
	free(text);
	return hx_write_file(config, extra) == 0 ? config : NULL;
}

/* ---- item: a state file path that is not a regular file ---------------- */

static void refused_state_path(const hx_broker *b, const char *state, const char *what)
{
	char name[64], logname[64];
	snprintf(name, sizeof name, "notreg-%s.yaml", what);
	snprintf(logname, sizeof logname, "notreg-%s.log", what);
	const char *config = state_config(b, name, "iotad-notreg", state, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(config);
	const char *log = hx_path(logname);
	char *argv[] = {(char *)hx_iotad(), "run", "-c", (char *)config, NULL};
	int st = hx_run(argv, log, 10000);
	char *text = hx_read_file(log, NULL);
	if (st != 2)
		printf("\n    state_file %s (%s): exit %d, log: %s", state, what, st, text);
	CU_ASSERT_EQUAL(st, 2);
	CU_ASSERT_PTR_NOT_NULL(text ? strstr(text, "not a regular file") : NULL);
	CU_ASSERT_PTR_NOT_NULL(text ? strstr(text, what) : NULL);
	free(text);
}

void it_state_not_regular(void)
{
	hx_broker b;
	CU_ASSERT_FATAL(hx_model() != NULL);
	CU_ASSERT_EQUAL_FATAL(hx_broker_start(&b, 0, false), 0);
	struct stat st;

	const char *dir = hx_path("state-dir");
	CU_ASSERT_FATAL(mkdir(dir, 0700) == 0 || errno == EEXIST);
	refused_state_path(&b, dir, "directory");
	CU_ASSERT(stat(dir, &st) == 0 && S_ISDIR(st.st_mode));

	const char *fifo = hx_path("state-fifo");
	CU_ASSERT_FATAL(mkfifo(fifo, 0600) == 0 || errno == EEXIST);
	refused_state_path(&b, fifo, "FIFO");
	CU_ASSERT(stat(fifo, &st) == 0 && S_ISFIFO(st.st_mode));

	/* a symlink to a file: a save would put a regular file in its place */
	const char *target = hx_path("state-target");
	const char *link = hx_path("state-link");
	CU_ASSERT_FATAL(hx_write_file(target, "") == 0);
	CU_ASSERT_FATAL(symlink(target, link) == 0 || errno == EEXIST);
	refused_state_path(&b, link, "symbolic link");
	CU_ASSERT(lstat(link, &st) == 0 && S_ISLNK(st.st_mode));

	/* a character device, where the test may create one (root) */
	const char *dev = hx_path("state-chr");
	if (mknod(dev, S_IFCHR | 0600, makedev(1, 3)) == 0) {
		refused_state_path(&b, dev, "character device");
		CU_ASSERT(lstat(dev, &st) == 0 && S_ISCHR(st.st_mode));
		unlink(dev);
	}
	hx_broker_stop(&b, SIGTERM);
}

/* cmd_sim.h - what the command line of `iotad sim` (cmd_sim_args.c) hands
 * to the command (cmd_sim.c). Private to these two files. */
#ifndef IOTAD_CMD_SIM_H
#define IOTAD_CMD_SIM_H

#include <stdbool.h>

#include "iotad/replay.h"
#include "iotad/sim.h"

#define SIM_MAX_EPOCH 4102444800.0 /* 2100-01-01 */

typedef struct sim_cli {
	sim_opts so;
	const char *broker;
	const char *prefix;
	const char *client_id;
	const char *truth_path;
	const char *csv_path;
	const char *replay_path;
	replay_opts ro;
	int qos;
	double speed;
	double rate;
	bool speed_set, realtime, start_set, clean_set;
	bool normal_only, quiet;
	bool persistent;          /* --persistent: clean session off */
	bool kinds_set, every_set;
} sim_cli;

/* The --help text (docs/iotad.1 is generated from it). */
extern const char cmd_sim_usage[];

/* Parse and check the arguments into c. Returns 0 to go on, 1 for --help,
 * 2 for --version, -1 on bad usage (message printed on stderr). */
int cmd_sim_parse_args(int argc, char **argv, sim_cli *c);

#endif

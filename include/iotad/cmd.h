/* cmd.h - subcommands of the iotad binary. Each returns the process exit code. */
#ifndef IOTAD_CMD_H
#define IOTAD_CMD_H

int cmd_run(int argc, char **argv);
int cmd_train(int argc, char **argv);
/* `iotad train --group-by COLUMN -o DIR`: one model per kind of one CSV. */
int cmd_train_group_by(int argc, char **argv);
int cmd_sim(int argc, char **argv);
/* `iotad sim --mixed`: a fleet of three kinds with their own fields (sim_mixed.h). */
int cmd_sim_mixed(int argc, char **argv);
int cmd_eval(int argc, char **argv);
/* `iotad eval --models CONFIG`: a mixed fleet's CSV through the service's routing. */
int cmd_eval_mixed(int argc, char **argv);
int cmd_config(int argc, char **argv);
int cmd_aggregate(int argc, char **argv);
int cmd_quantize(int argc, char **argv);

#endif

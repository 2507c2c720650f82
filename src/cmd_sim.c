/* cmd_sim.c */
#include "iotad/cmd.h"
int cmd_sim(int argc, char **argv) { (void)argc; (void)argv; return 1; }

/* cmd_train.c */
#include "iotad/cmd.h"
int cmd_train(int argc, char **argv) { (void)argc; (void)argv; return 1; }

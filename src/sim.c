/* sim.c */
#include "iotad/error.h"

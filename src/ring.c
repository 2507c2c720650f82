/* ring.c */
#include "iotad/error.h"

/* nn.c */
#include "iotad/error.h"

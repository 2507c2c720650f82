/* train.c */
#include "iotad/error.h"

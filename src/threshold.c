/* threshold.c */
#include "iotad/error.h"

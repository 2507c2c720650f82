/* model.c */
#include "iotad/error.h"

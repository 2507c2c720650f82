/* alert.c */
#include "iotad/error.h"

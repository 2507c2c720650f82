/* detector.c */
#include "iotad/error.h"

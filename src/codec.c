/* codec.c */
#include "iotad/error.h"

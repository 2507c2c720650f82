/* service.c */
#include "iotad/error.h"

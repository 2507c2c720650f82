/* csv.c */
#include "iotad/error.h"

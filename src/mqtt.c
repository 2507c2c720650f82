/* mqtt.c */
#include "iotad/error.h"

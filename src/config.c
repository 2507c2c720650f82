/* config.c */
#include "iotad/error.h"

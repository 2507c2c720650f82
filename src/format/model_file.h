/* model_file.h - private to the model file code (model_io.c,
 * model_file.c): the format's name and size bound. */
#ifndef IOTAD_MODEL_FILE_H
#define IOTAD_MODEL_FILE_H

#define MODEL_FORMAT_NAME "iotad-model"
#define MODEL_FILE_MAX (64u << 20)

#endif

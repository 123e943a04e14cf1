/* file_format.h — what optcl's file readers and writers share: messages that start with the
 * file's path, and little-endian float data on any host. */
#ifndef OPTCL_FILE_FORMAT_H
#define OPTCL_FILE_FORMAT_H

#include "internal.h"

#include <stdio.h>

/* "<path>: <what>" into message (may be NULL); returns status. */
optcl_status optcl__fail_path(char *message, size_t message_size, optcl_status status,
                              const char *path, const char *fmt, ...) OPTCL__PRINTF(5, 6);

/* Whether floats must be byte-swapped to or from the files' little-endian order. */
bool optcl__host_is_big_endian(void);
void optcl__swap_floats(float *data, size_t count);
/* Writes count floats as little-endian bytes (data may be NULL when count is 0); 0 or -1. */
int optcl__write_floats_le(FILE *fp, const float *data, size_t count);

#endif

/* file_format.c — what optcl's file readers and writers share: messages that start with the
 * file's path, and little-endian float data on any host. */
#include "file_format.h"

#include <string.h>

/* Every message starts with the path, so one line says which file and what was wrong. */
optcl_status optcl__fail_path(char *message, size_t message_size, optcl_status status,
                              const char *path, const char *fmt, ...)
{
    if (!message || message_size == 0)
        return status;
    optcl__format(message, message_size, "%s: ", path);
    size_t used = strlen(message);
    va_list ap;
    va_start(ap, fmt);
    optcl__vformat(message + used, message_size - used, fmt, ap);
    va_end(ap);
    return status;
}

bool optcl__host_is_big_endian(void)
{
    const uint16_t one = 1;
    unsigned char first;
    memcpy(&first, &one, 1);
    return first == 0;
}

void optcl__swap_floats(float *data, size_t count)
{
    unsigned char *b = (unsigned char *)data;
    for (size_t i = 0; i < count; i++, b += 4) {
        unsigned char t0 = b[0], t1 = b[1];
        b[0] = b[3];
        b[1] = b[2];
        b[2] = t1;
        b[3] = t0;
    }
}

int optcl__write_floats_le(FILE *fp, const float *data, size_t count)
{
    if (count == 0) /* data may be NULL; fwrite must not see it even for zero bytes */
        return 0;
    if (!optcl__host_is_big_endian())
        return fwrite(data, sizeof(float), count, fp) == count ? 0 : -1;
    float chunk[1024];
    while (count > 0) {
        size_t n = count < 1024 ? count : 1024;
        memcpy(chunk, data, n * sizeof(float));
        optcl__swap_floats(chunk, n);
        if (fwrite(chunk, sizeof(float), n, fp) != n)
            return -1;
        data += n;
        count -= n;
    }
    return 0;
}

/* idx.h — reading the Fashion-MNIST IDX files (gzip-compressed, as Debian's
 * dataset-fashion-mnist ships them) into memory. */
#ifndef FM_IDX_H
#define FM_IDX_H

#include <stddef.h>
#include <stdint.h>

#define FM_DEFAULT_DATA_DIR "/usr/share/datasets/fashion-mnist"
#define FM_CLASSES 10

typedef struct fm_images {
    uint8_t *pixels; /* count × rows × cols, row-major */
    uint8_t *labels; /* count, each < FM_CLASSES */
    size_t count, rows, cols;
} fm_images;

/* The folder to read: dir when not NULL, else $OPTCL_FASHION_MNIST_DIR, else the package's. */
const char *fm_data_dir(const char *dir);

/* Reads <dir>/<prefix>-images-idx3-ubyte.gz and <prefix>-labels-idx1-ubyte.gz (prefix "train"
 * or "t10k"; an uncompressed file of the name without ".gz" is taken when the .gz is absent).
 * Every check failing — missing file, gzip error, wrong magic, truncated data, disagreeing
 * counts, a label ≥ FM_CLASSES — gives one message naming the path. Returns 0 on success. */
int fm_images_load(const char *dir, const char *prefix, fm_images *out, char *message,
                   size_t message_size);
void fm_images_free(fm_images *images);

#endif

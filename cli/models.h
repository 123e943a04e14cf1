/* models.h — tensor layouts for `optcl bench`: well-known models' parameter shapes
 * (--model NAME) and shapes read from a file (--shapes FILE). */
#ifndef OPTCL_CLI_MODELS_H
#define OPTCL_CLI_MODELS_H

#include "optcl.h"

/* A layout's tensors (names owned here): ≥ 2-D tensors in group 0, the rest in group 1. */
typedef struct optcl_cli_layout {
    char label[160]; /* the model's name, or "shapes:<file name>" */
    optcl_tensor_spec *specs;
    size_t count, capacity;
    size_t numel;
} optcl_cli_layout;

/* The index-th known model's name and where its shapes come from; NULL past the last. */
const char *optcl_cli_model_name(size_t index);
const char *optcl_cli_model_source(size_t index);

/* Fills *out with a known model's tensors; 1 and a reason in msg for an unknown name. */
int optcl_cli_model_layout(const char *name, optcl_cli_layout *out, char *msg, size_t size);

/* Reads one tensor per line: "[NAME:] D1 [D2 …]" (dimensions separated by spaces, 'x' or ','),
 * "()" or "scalar" for a 0-d tensor; '#' starts a comment; unnamed tensors are "line<N>".
 * Returns 1 and a reason naming the file and line on any bad line, an unreadable file or one
 * without shapes (nothing is kept then). */
int optcl_cli_shapes_layout(const char *path, optcl_cli_layout *out, char *msg, size_t size);

/* One tensor "w" of the shape dims ("1024,768" or "1024x768", as a --shapes line). */
int optcl_cli_shape_layout(const char *dims, optcl_cli_layout *out, char *msg, size_t size);

/* n parameters over k 1-D tensors of varied sizes (weights 1 … 97), all in group 0. */
int optcl_cli_split_layout(size_t n, size_t k, optcl_cli_layout *out, char *msg, size_t size);

/* The checks the parameter set makes of the layout, without creating it: no tensor name twice,
 * no element count that overflows (each tensor's and the total). 1 and a reason in msg. */
int optcl_cli_layout_check(const optcl_cli_layout *l, char *msg, size_t size);

void optcl_cli_layout_free(optcl_cli_layout *l);

#endif

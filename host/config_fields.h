/* config_fields.h — a table of every scalar field of optcl_optimizer_config by name, so that
 * checkpoints can write the configuration as strings and read it back exactly. */
#ifndef OPTCL_CONFIG_FIELDS_H
#define OPTCL_CONFIG_FIELDS_H

#include "internal.h"

typedef enum optcl__field_type {
    OPTCL__F_DOUBLE,
    OPTCL__F_INT, /* int and the enums stored as int */
    OPTCL__F_INT64,
    OPTCL__F_UINT64,    /* the seed: all 2^64 keys */
    OPTCL__F_MILESTONES /* schedule.milestones + milestone_count, "5,20,33" */
} optcl__field_type;

typedef struct optcl__config_field {
    const char *name; /* "lr", "adam.beta1", "schedule.kind", … */
    optcl__field_type type;
    size_t offset;
    bool optional; /* added after 0.1: a checkpoint without it keeps the default */
} optcl__config_field;

/* The fields every optimizer shares (lr, schedule, plateau, Lookahead, guard, precision). */
extern const optcl__config_field optcl__config_fields[];
extern const size_t optcl__config_field_count;

/* The fields a checkpoint of configuration c records: the shared ones, then its rule's (a
 * checkpoint of one algorithm keeps no other algorithm's fields). */
size_t optcl__checkpoint_field_count(const optcl_optimizer_config *c);
optcl__config_field optcl__checkpoint_field(const optcl_optimizer_config *c, size_t i);

/* Formats a field's value exactly (doubles with 17 significant digits). */
void optcl__field_format(const optcl_optimizer_config *c, const optcl__config_field *f, char *out,
                         size_t size);
/* Parses text into the field; false when text is not a complete value of its type as a save
 * writes it: no leading space, nothing past the type's range (an overflow, or a nonzero number
 * too small for a double), no sign on the unsigned seed. */
bool optcl__field_parse(optcl_optimizer_config *c, const optcl__config_field *f, const char *text);

/* Whether two configurations build the same kernels and keep the same state buffers, for
 * parameters of type params; if not, differs names the first field that differs. */
bool optcl__config_same_structure(const optcl_optimizer_config *a, const optcl_optimizer_config *b,
                                  optcl_dtype params, char *differs, size_t size);

#endif

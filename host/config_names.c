/* config_names.c — the names of the optimizer config's enums, as optcl replay's keys and the
 * Python binding spell them (include/optcl.h). */
#include "internal.h"

/* names[value], NULL outside [0, count). */
static const char *name_of(int value, const char *const *names, int count)
{
    return value >= 0 && value < count ? names[value] : NULL;
}

#define NAME_OF(value, ...)                                                                        \
    do {                                                                                           \
        static const char *const names[] = {__VA_ARGS__}; /* the enum's order */                   \
        return name_of((int)(value), names, (int)(sizeof names / sizeof names[0]));                \
    } while (0)

const char *optcl_state_dtype_name(optcl_state_dtype dtype)
{
    NAME_OF(dtype, "same", "f32", "bf16", "int8");
}

const char *optcl_loss_scaling_name(optcl_loss_scaling mode)
{
    NAME_OF(mode, "off", "static", "dynamic");
}

const char *optcl_rounding_name(optcl_rounding rounding)
{
    NAME_OF(rounding, "nearest", "stochastic");
}

const char *optcl_nonfinite_name(optcl_nonfinite nonfinite)
{
    NAME_OF(nonfinite, "propagate", "skip");
}

/* abi.c — the sizes of the public structs as this library was compiled, so that a binding that
 * mirrors them (python/optcl/_abi.py, through ctypes) can check its view before it calls in. */
#include "optcl.h"

#include <string.h>

#define OPTCL__STRUCT(name) {#name, sizeof(name)}

static const struct {
    const char *name;
    size_t size;
} structs[] = {
    OPTCL__STRUCT(optcl_context_config),
    OPTCL__STRUCT(optcl_tensor_spec),
    OPTCL__STRUCT(optcl_tensor_info),
    OPTCL__STRUCT(optcl_sgd_config),
    OPTCL__STRUCT(optcl_adam_config),
    OPTCL__STRUCT(optcl_rmsprop_config),
    OPTCL__STRUCT(optcl_rprop_config),
    OPTCL__STRUCT(optcl_lion_config),
    OPTCL__STRUCT(optcl_adagrad_config),
    OPTCL__STRUCT(optcl_adadelta_config),
    OPTCL__STRUCT(optcl_adamax_config),
    OPTCL__STRUCT(optcl_nadam_config),
    OPTCL__STRUCT(optcl_radam_config),
    OPTCL__STRUCT(optcl_asgd_config),
    OPTCL__STRUCT(optcl_adamw_schedulefree_config),
    OPTCL__STRUCT(optcl_sgd_schedulefree_config),
    OPTCL__STRUCT(optcl_lamb_config),
    OPTCL__STRUCT(optcl_lars_config),
    OPTCL__STRUCT(optcl_adafactor_config),
    OPTCL__STRUCT(optcl_muon_config),
    OPTCL__STRUCT(optcl_schedule),
    OPTCL__STRUCT(optcl_plateau_config),
    OPTCL__STRUCT(optcl_plateau_state),
    OPTCL__STRUCT(optcl_lookahead_config),
    OPTCL__STRUCT(optcl_loss_scale_config),
    OPTCL__STRUCT(optcl_group_config),
    OPTCL__STRUCT(optcl_optimizer_config),
    OPTCL__STRUCT(optcl_option_info),
    OPTCL__STRUCT(optcl_guard_stats),
    OPTCL__STRUCT(optcl_checkpoint_progress),
    OPTCL__STRUCT(optcl_tracker_config),
    OPTCL__STRUCT(optcl_epoch_record),
    OPTCL__STRUCT(optcl_array),
};

size_t optcl_struct_size(const char *name)
{
    for (size_t i = 0; name && i < sizeof structs / sizeof structs[0]; i++)
        if (strcmp(structs[i].name, name) == 0)
            return structs[i].size;
    return 0;
}

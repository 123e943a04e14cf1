"""ctypes mirrors of include/optcl.h's structs and the prototypes of its functions.

Each struct is checked against the library's own ``optcl_struct_size`` when the library loads
(``_lib.load``): a library built from another header is refused, not called into."""
import ctypes as C

MAX_DIMS = 8
MAX_GROUPS = 64
MAX_MILESTONES = 16
ALL = C.c_size_t(-1).value

_int, _dbl, _i64, _u64, _size = C.c_int, C.c_double, C.c_int64, C.c_uint64, C.c_size_t


def _struct(name, fields):
    return type(name, (C.Structure,), {"_fields_": fields})


ContextConfig = _struct("optcl_context_config", [
    ("backend", _int), ("platform_index", _int), ("device_index", _int),
    ("device_name", C.c_char_p), ("ignore_environment", _int)])
TensorSpec = _struct("optcl_tensor_spec", [
    ("name", C.c_char_p), ("ndim", _int), ("shape", _i64 * MAX_DIMS), ("group", _int),
    ("state_bits", _int)])
TensorInfo = _struct("optcl_tensor_info", [
    ("name", C.c_char_p), ("ndim", _int), ("shape", _i64 * MAX_DIMS), ("group", _int),
    ("offset", _size), ("count", _size), ("state_bits", _int)])

# The algorithms' own structs, in optcl_optimizer_config's order: (name, member, fields).
_ALGORITHM_STRUCTS = [
    ("optcl_sgd_config", "sgd", [("momentum", _dbl), ("dampening", _dbl), ("nesterov", _int),
                                 ("ema", _int)]),
    ("optcl_adam_config", "adam", [("beta1", _dbl), ("beta2", _dbl), ("eps", _dbl),
                                   ("amsgrad", _int), ("eps_root", _dbl)]),
    ("optcl_rmsprop_config", "rmsprop", [("alpha", _dbl), ("eps", _dbl), ("momentum", _dbl),
                                         ("centered", _int)]),
    ("optcl_rprop_config", "rprop", [("etaminus", _dbl), ("etaplus", _dbl), ("step_min", _dbl),
                                     ("step_max", _dbl), ("variant", _int)]),
    ("optcl_lion_config", "lion", [("beta1", _dbl), ("beta2", _dbl)]),
    ("optcl_adagrad_config", "adagrad", [("lr_decay", _dbl), ("initial_accumulator_value", _dbl),
                                         ("eps", _dbl)]),
    ("optcl_adadelta_config", "adadelta", [("rho", _dbl), ("eps", _dbl)]),
    ("optcl_adamax_config", "adamax", [("beta1", _dbl), ("beta2", _dbl), ("eps", _dbl)]),
    ("optcl_nadam_config", "nadam", [("beta1", _dbl), ("beta2", _dbl), ("eps", _dbl),
                                     ("momentum_decay", _dbl), ("decoupled_weight_decay", _int)]),
    ("optcl_radam_config", "radam", [("beta1", _dbl), ("beta2", _dbl), ("eps", _dbl),
                                     ("decoupled_weight_decay", _int)]),
    ("optcl_asgd_config", "asgd", [("lambd", _dbl), ("alpha", _dbl), ("t0", _dbl)]),
    ("optcl_adamw_schedulefree_config", "adamw_schedulefree", [
        ("beta1", _dbl), ("beta2", _dbl), ("eps", _dbl), ("warmup_steps", _dbl), ("r", _dbl),
        ("weight_lr_power", _dbl)]),
    ("optcl_sgd_schedulefree_config", "sgd_schedulefree", [
        ("momentum", _dbl), ("warmup_steps", _dbl), ("r", _dbl), ("weight_lr_power", _dbl)]),
    ("optcl_lamb_config", "lamb", [("beta1", _dbl), ("beta2", _dbl), ("eps", _dbl),
                                   ("eps_root", _dbl)]),
    ("optcl_lars_config", "lars", [("trust_coefficient", _dbl), ("eps", _dbl),
                                   ("momentum", _dbl), ("nesterov", _int)]),
    ("optcl_adafactor_config", "adafactor", [("beta2_decay", _dbl), ("eps1", _dbl),
                                             ("eps2", _dbl), ("d", _dbl)]),
    ("optcl_muon_config", "muon", [("momentum", _dbl), ("nesterov", _int), ("ns_a", _dbl),
                                   ("ns_b", _dbl), ("ns_c", _dbl), ("eps", _dbl),
                                   ("ns_steps", _dbl), ("adjust_lr_fn", _int)]),
]
ALGORITHM_STRUCTS = {name: _struct(name, fields) for name, _, fields in _ALGORITHM_STRUCTS}

Schedule = _struct("optcl_schedule", [
    ("kind", _int), ("power", _dbl), ("gamma", _dbl), ("step_size", _i64),
    ("milestones", _i64 * MAX_MILESTONES), ("milestone_count", _size), ("t_max", _i64),
    ("eta_min", _dbl), ("warmup_steps", _i64), ("warmup_start_factor", _dbl)])
PlateauConfig = _struct("optcl_plateau_config", [
    ("enabled", _int), ("mode_max", _int), ("factor", _dbl), ("patience", _i64),
    ("threshold", _dbl), ("threshold_abs", _int), ("cooldown", _i64), ("min_lr", _dbl),
    ("eps", _dbl)])
PlateauState = _struct("optcl_plateau_state", [
    ("best", _dbl), ("num_bad_epochs", _i64), ("cooldown_counter", _i64), ("reports", _i64),
    ("scale", _dbl * MAX_GROUPS)])
LookaheadConfig = _struct("optcl_lookahead_config", [
    ("k", _i64), ("alpha", _dbl), ("alpha_schedule", Schedule)])
LossScaleConfig = _struct("optcl_loss_scale_config", [
    ("mode", _int), ("init_scale", _dbl), ("growth_factor", _dbl), ("backoff_factor", _dbl),
    ("growth_interval", _i64), ("write_unscaled", _int)])
GroupConfig = _struct("optcl_group_config", [
    ("lr", _dbl), ("weight_decay", _dbl), ("exclude_from_trust_ratio", _int)])
OptimizerConfig = _struct("optcl_optimizer_config", [
    ("algorithm", _int), ("lr", _dbl), ("weight_decay", _dbl), ("maximize", _int)]
    + [(member, ALGORITHM_STRUCTS[name]) for name, member, _ in _ALGORITHM_STRUCTS]
    + [("groups", C.POINTER(GroupConfig)), ("group_count", _size), ("schedule", Schedule),
       ("plateau", PlateauConfig), ("lookahead", LookaheadConfig), ("max_norm", _dbl),
       ("nonfinite", _int), ("state_dtype", _int), ("master_weights", _int), ("rounding", _int),
       ("seed", _u64), ("loss_scale", LossScaleConfig)])
OptionInfo = _struct("optcl_option_info", [
    ("key", C.c_char_p), ("field", C.c_char_p), ("type", _int), ("default_value", _dbl),
    ("min", _dbl), ("max", _dbl), ("min_open", _int), ("max_open", _int),
    ("choices", C.POINTER(C.c_char_p)), ("help", C.c_char_p)])
GuardStats = _struct("optcl_guard_stats", [
    ("steps", _u64), ("skipped", _u64), ("last_norm", _dbl), ("last_clip_coef", _dbl),
    ("loss_scale", _dbl), ("growth_tracker", _u64)])
CheckpointProgress = _struct("optcl_checkpoint_progress", [
    ("steps", _u64), ("skipped", _u64), ("loss_scale", _dbl), ("lr", _dbl * MAX_GROUPS)])
TrackerConfig = _struct("optcl_tracker_config", [
    ("dir", C.c_char_p), ("best_name", C.c_char_p), ("last_name", C.c_char_p),
    ("mode_max", _int), ("min_delta", _dbl), ("patience", _i64)])
EpochRecord = _struct("optcl_epoch_record", [
    ("epoch", _i64), ("train_loss", _dbl), ("valid_metric", _dbl), ("gap", _dbl),
    ("improved", _int), ("best_epoch", _i64), ("best_metric", _dbl), ("should_stop", _int)])
Array = _struct("optcl_array", [
    ("data", C.POINTER(C.c_float)), ("ndim", _int), ("shape", _size * 8), ("count", _size)])

STRUCTS = [ContextConfig, TensorSpec, TensorInfo, *ALGORITHM_STRUCTS.values(), Schedule,
           PlateauConfig, PlateauState, LookaheadConfig, LossScaleConfig, GroupConfig,
           OptimizerConfig, OptionInfo, GuardStats, CheckpointProgress, TrackerConfig, EpochRecord,
           Array]

# Opaque handles and OpenCL objects are plain pointers here.
_p, _pp = C.c_void_p, C.POINTER(C.c_void_p)
_st, _f32p, _cstr = C.c_int, C.POINTER(C.c_float), C.c_char_p

# name: (restype, argtypes)
PROTOTYPES = {
    "optcl_version": (C.c_uint, []),
    "optcl_struct_size": (_size, [_cstr]),
    "optcl_status_name": (_cstr, [_st]),
    "optcl_dtype_name": (_cstr, [_int]),
    "optcl_schedule_name": (_cstr, [_int]),
    "optcl_state_dtype_name": (_cstr, [_int]),
    "optcl_loss_scaling_name": (_cstr, [_int]),
    "optcl_rounding_name": (_cstr, [_int]),
    "optcl_nonfinite_name": (_cstr, [_int]),
    "optcl_context_config_default": (ContextConfig, []),
    "optcl_context_create": (_st, [C.POINTER(ContextConfig), _pp, C.c_char_p, _size]),
    "optcl_context_wrap": (_st, [_p, _p, _p, _pp, C.c_char_p, _size]),
    "optcl_context_destroy": (_st, [_p]),
    "optcl_context_backend": (_int, [_p]),
    "optcl_context_device_name": (_cstr, [_p]),
    "optcl_context_cl_context": (_p, [_p]),
    "optcl_context_cl_queue": (_p, [_p]),
    "optcl_context_alignment": (_size, [_p]),
    "optcl_context_vector_width": (C.c_uint, [_p]),
    "optcl_context_work_group_size": (_size, [_p]),
    "optcl_context_int8_block_items": (_size, [_p]),
    "optcl_context_finish": (_st, [_p]),
    "optcl_context_message": (_cstr, [_p]),
    "optcl_params_layout": (_st, [_p, C.POINTER(TensorSpec), _size, C.POINTER(_size),
                                  C.POINTER(_size)]),
    "optcl_params_create_typed": (_st, [_p, C.POINTER(TensorSpec), _size, _int, _pp]),
    "optcl_params_wrap_typed": (_st, [_p, C.POINTER(TensorSpec), _size, _int, _p, _p, _pp]),
    "optcl_params_destroy": (_st, [_p]),
    "optcl_params_count": (_size, [_p]),
    "optcl_params_numel": (_size, [_p]),
    "optcl_params_flat_size": (_size, [_p]),
    "optcl_params_dtype": (_int, [_p]),
    "optcl_params_info": (_st, [_p, _size, C.POINTER(TensorInfo)]),
    "optcl_params_find": (_st, [_p, _cstr, C.POINTER(_size)]),
    "optcl_params_buffer": (_st, [_p, _int, _size, _pp]),
    "optcl_params_host": (_st, [_p, _int, _size, C.POINTER(_f32p)]),
    "optcl_params_write": (_st, [_p, _int, _size, _p, _size]),
    "optcl_params_read": (_st, [_p, _int, _size, _p, _size]),
    "optcl_params_write_raw": (_st, [_p, _int, _size, _p, _size]),
    "optcl_params_read_raw": (_st, [_p, _int, _size, _p, _size]),
    "optcl_params_zero_grad": (_st, [_p, C.c_uint, _p, _pp]),
    "optcl_params_message": (_cstr, [_p]),
    "optcl_optimizer_config_default": (OptimizerConfig, [_int]),
    "optcl_algorithm_name": (_cstr, [_int]),
    "optcl_algorithm_from_name": (_st, [_cstr, C.POINTER(_int)]),
    "optcl_algorithm_option_count": (_size, [_int]),
    "optcl_algorithm_option": (C.POINTER(OptionInfo), [_int, _size]),
    "optcl_optimizer_config_set_option": (_st, [C.POINTER(OptimizerConfig), _cstr, _dbl]),
    "optcl_optimizer_config_get_option": (_st, [C.POINTER(OptimizerConfig), _cstr,
                                                C.POINTER(_dbl)]),
    "optcl_schedule_default": (Schedule, [_int]),
    "optcl_plateau_config_default": (PlateauConfig, []),
    "optcl_optimizer_create": (_st, [_p, C.POINTER(OptimizerConfig), _pp]),
    "optcl_optimizer_destroy": (_st, [_p]),
    "optcl_optimizer_step": (_st, [_p, C.c_uint, _p, _pp]),
    "optcl_optimizer_set_mode": (_st, [_p, _int]),
    "optcl_optimizer_mode": (_int, [_p]),
    "optcl_optimizer_step_count": (_u64, [_p]),
    "optcl_optimizer_set_step_count": (_st, [_p, _u64]),
    "optcl_optimizer_running_value": (_st, [_p, _int, _cstr, C.POINTER(_dbl)]),
    "optcl_optimizer_set_running_value": (_st, [_p, _int, _cstr, _dbl]),
    "optcl_optimizer_guard_stats": (_st, [_p, C.POINTER(GuardStats)]),
    "optcl_optimizer_loss_scale": (_st, [_p, C.POINTER(_dbl)]),
    "optcl_optimizer_set_loss_scale": (_st, [_p, _dbl]),
    "optcl_optimizer_get_lr": (_st, [_p, _int, C.POINTER(_dbl)]),
    "optcl_optimizer_set_lr": (_st, [_p, _int, _dbl]),
    "optcl_optimizer_set_option": (_st, [_p, _cstr, _dbl]),
    "optcl_optimizer_config_get": (C.POINTER(OptimizerConfig), [_p]),
    "optcl_optimizer_report_metric": (_st, [_p, _dbl]),
    "optcl_optimizer_plateau_state": (_st, [_p, C.POINTER(PlateauState)]),
    "optcl_optimizer_lookahead_alpha": (_dbl, [_p]),
    "optcl_optimizer_state_count": (_size, [_p]),
    "optcl_optimizer_state_name": (_cstr, [_p, _size]),
    "optcl_optimizer_state_shape": (_st, [_p, _cstr, _size, C.POINTER(_int), C.POINTER(_i64)]),
    "optcl_optimizer_read_state": (_st, [_p, _cstr, _size, _p, _size]),
    "optcl_optimizer_write_state": (_st, [_p, _cstr, _size, _p, _size]),
    "optcl_optimizer_message": (_cstr, [_p]),
    "optcl_optimizer_launch_count": (_u64, [_p]),
    "optcl_optimizer_bytes_per_step": (_dbl, [_p]),
    "optcl_optimizer_state_bytes": (_size, [_p]),
    "optcl_checkpoint_save": (_st, [_p, _cstr]),
    "optcl_checkpoint_load": (_st, [_p, _cstr]),
    "optcl_checkpoint_inspect": (_st, [_cstr, C.POINTER(C.POINTER(TensorSpec)), C.POINTER(_size),
                                       C.POINTER(OptimizerConfig), C.c_char_p, _size]),
    "optcl_checkpoint_inspect_progress": (_st, [_cstr, C.POINTER(CheckpointProgress), C.c_char_p,
                                                _size]),
}

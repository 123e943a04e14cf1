/* replay_options.c — KEY=VALUE hyperparameters of `optcl replay`, named as PyTorch's
 * constructor arguments, parsed strictly: unknown keys, keys of another optimizer, malformed
 * numbers and non-0/1 booleans are errors (range checks are the library's, at create time). */
#include "cli.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum value_kind { REAL, FLAG, VARIANT } value_kind;

/* Which optimizers a key applies to, as a bit set over optcl_algorithm. */
#define SGD_ (1u << OPTCL_SGD)
#define ADAM_ ((1u << OPTCL_ADAM) | (1u << OPTCL_ADAMW))
#define RMS_ (1u << OPTCL_RMSPROP)
#define RPROP_ (1u << OPTCL_RPROP)
#define ALL_ (SGD_ | ADAM_ | RMS_ | RPROP_)

typedef struct key_entry {
    const char *key;
    unsigned applies;
    value_kind kind;
} key_entry;

static const key_entry keys[] = {
    {"lr", ALL_, REAL},           {"weight_decay", SGD_ | ADAM_ | RMS_, REAL},
    {"maximize", ALL_, FLAG},     {"momentum", SGD_ | RMS_, REAL},
    {"dampening", SGD_, REAL},    {"nesterov", SGD_, FLAG},
    {"ema", SGD_, FLAG},          {"beta1", ADAM_, REAL},
    {"beta2", ADAM_, REAL},       {"eps", ADAM_ | RMS_, REAL},
    {"amsgrad", ADAM_, FLAG},     {"alpha", RMS_, REAL},
    {"centered", RMS_, FLAG},     {"etaminus", RPROP_, REAL},
    {"etaplus", RPROP_, REAL},    {"step_min", RPROP_, REAL},
    {"step_max", RPROP_, REAL},   {"variant", RPROP_, VARIANT},
};

/* Where each key's value goes for this configuration. */
static void *field_of(optcl_optimizer_config *c, const char *key)
{
    bool rms = c->algorithm == OPTCL_RMSPROP;
    if (!strcmp(key, "lr"))
        return &c->lr;
    if (!strcmp(key, "weight_decay"))
        return &c->weight_decay;
    if (!strcmp(key, "maximize"))
        return &c->maximize;
    if (!strcmp(key, "momentum"))
        return rms ? &c->rmsprop.momentum : &c->sgd.momentum;
    if (!strcmp(key, "dampening"))
        return &c->sgd.dampening;
    if (!strcmp(key, "nesterov"))
        return &c->sgd.nesterov;
    if (!strcmp(key, "ema"))
        return &c->sgd.ema;
    if (!strcmp(key, "beta1"))
        return &c->adam.beta1;
    if (!strcmp(key, "beta2"))
        return &c->adam.beta2;
    if (!strcmp(key, "eps"))
        return rms ? &c->rmsprop.eps : &c->adam.eps;
    if (!strcmp(key, "amsgrad"))
        return &c->adam.amsgrad;
    if (!strcmp(key, "alpha"))
        return &c->rmsprop.alpha;
    if (!strcmp(key, "centered"))
        return &c->rmsprop.centered;
    if (!strcmp(key, "etaminus"))
        return &c->rprop.etaminus;
    if (!strcmp(key, "etaplus"))
        return &c->rprop.etaplus;
    if (!strcmp(key, "step_min"))
        return &c->rprop.step_min;
    if (!strcmp(key, "step_max"))
        return &c->rprop.step_max;
    if (!strcmp(key, "variant"))
        return &c->rprop.variant;
    return NULL;
}

int optcl_cli_apply_option(optcl_optimizer_config *config, const char *key_value, char *message,
                           size_t message_size)
{
    const char *eq = strchr(key_value, '=');
    if (!eq || eq == key_value) {
        snprintf(message, message_size, "expected KEY=VALUE, got '%s'", key_value);
        return 1;
    }
    char key[64];
    size_t klen = (size_t)(eq - key_value);
    if (klen >= sizeof key)
        klen = sizeof key - 1;
    memcpy(key, key_value, klen);
    key[klen] = '\0';
    const char *value = eq + 1;
    const char *algo = optcl_algorithm_name(config->algorithm);

    const key_entry *entry = NULL;
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (!strcmp(keys[i].key, key))
            entry = &keys[i];
    if (!entry) {
        snprintf(message, message_size, "unknown key '%s'", key);
        return 1;
    }
    if (!(entry->applies & (1u << config->algorithm))) {
        snprintf(message, message_size, "key '%s' does not apply to %s", key, algo);
        return 1;
    }
    void *field = field_of(config, key);
    switch (entry->kind) {
    case REAL: {
        char *end = NULL;
        double v = *value ? strtod(value, &end) : 0.0;
        if (!*value || *end != '\0' || !isfinite(v)) {
            snprintf(message, message_size, "%s=%s: not a finite number", key, value);
            return 1;
        }
        *(double *)field = v;
        return 0;
    }
    case FLAG:
        if (strcmp(value, "0") != 0 && strcmp(value, "1") != 0) {
            snprintf(message, message_size, "%s=%s: expected 0 or 1", key, value);
            return 1;
        }
        *(int *)field = value[0] == '1';
        return 0;
    case VARIANT:
        if (!strcmp(value, "classic"))
            *(optcl_rprop_variant *)field = OPTCL_RPROP_CLASSIC;
        else if (!strcmp(value, "pytorch"))
            *(optcl_rprop_variant *)field = OPTCL_RPROP_PYTORCH;
        else {
            snprintf(message, message_size, "variant=%s: expected classic or pytorch", value);
            return 1;
        }
        return 0;
    }
    return 1;
}

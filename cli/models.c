/* models.c — the parameter shapes of well-known models for `optcl bench --model` (names and
 * shapes as the models' state_dicts list their trainable parameters; no weights), and
 * `--shapes FILE`. A model is a table of blocks: each block's tensors are laid out `repeat`
 * times with %d in their names replaced by the repeat's index, in state_dict order. */
#include "models.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct model_tensor {
    const char *name; /* may hold one %d: the block's repeat index (plus the block's base) */
    int ndim;
    int64_t shape[4];
} model_tensor;

typedef struct model_block {
    const model_tensor *tensors;
    size_t count;
    int repeat, base; /* %d runs base, base + 1, … */
} model_block;

typedef struct model {
    const char *name, *source;
    const model_block *blocks;
    size_t block_count;
} model;

#define T1(n, a) {n, 1, {a}}
#define T2(n, a, b) {n, 2, {a, b}}
#define T4(n, a, b, c, d) {n, 4, {a, b, c, d}}
#define BLOCK(t, r, b) {t, sizeof t / sizeof t[0], r, b}

/* ---- ResNet-50 ------------------------------------------------------------------------------
 * torchvision.models.resnet50 (torchvision/models/resnet.py, Bottleneck with expansion 4,
 * layers [3, 4, 6, 3]): 161 tensors, 25,557,032 parameters. BatchNorm running statistics are
 * buffers, not parameters. */
#define BOTTLENECK(L, W, IN, OUT)                                                                  \
    T4(L ".conv1.weight", W, IN, 1, 1), T1(L ".bn1.weight", W), T1(L ".bn1.bias", W),              \
        T4(L ".conv2.weight", W, W, 3, 3), T1(L ".bn2.weight", W), T1(L ".bn2.bias", W),           \
        T4(L ".conv3.weight", OUT, W, 1, 1), T1(L ".bn3.weight", OUT), T1(L ".bn3.bias", OUT)
#define DOWNSAMPLE(L, IN, OUT)                                                                     \
    T4(L ".downsample.0.weight", OUT, IN, 1, 1), T1(L ".downsample.1.weight", OUT),                \
        T1(L ".downsample.1.bias", OUT)

static const model_tensor resnet_stem[] = {T4("conv1.weight", 64, 3, 7, 7), T1("bn1.weight", 64),
                                           T1("bn1.bias", 64)};
static const model_tensor resnet_l1_first[] = {BOTTLENECK("layer1.0", 64, 64, 256),
                                               DOWNSAMPLE("layer1.0", 64, 256)};
static const model_tensor resnet_l1[] = {BOTTLENECK("layer1.%d", 64, 256, 256)};
static const model_tensor resnet_l2_first[] = {BOTTLENECK("layer2.0", 128, 256, 512),
                                               DOWNSAMPLE("layer2.0", 256, 512)};
static const model_tensor resnet_l2[] = {BOTTLENECK("layer2.%d", 128, 512, 512)};
static const model_tensor resnet_l3_first[] = {BOTTLENECK("layer3.0", 256, 512, 1024),
                                               DOWNSAMPLE("layer3.0", 512, 1024)};
static const model_tensor resnet_l3[] = {BOTTLENECK("layer3.%d", 256, 1024, 1024)};
static const model_tensor resnet_l4_first[] = {BOTTLENECK("layer4.0", 512, 1024, 2048),
                                               DOWNSAMPLE("layer4.0", 1024, 2048)};
static const model_tensor resnet_l4[] = {BOTTLENECK("layer4.%d", 512, 2048, 2048)};
static const model_tensor resnet_head[] = {T2("fc.weight", 1000, 2048), T1("fc.bias", 1000)};
static const model_block resnet50[] = {
    BLOCK(resnet_stem, 1, 0),     BLOCK(resnet_l1_first, 1, 0), BLOCK(resnet_l1, 2, 1),
    BLOCK(resnet_l2_first, 1, 0), BLOCK(resnet_l2, 3, 1),       BLOCK(resnet_l3_first, 1, 0),
    BLOCK(resnet_l3, 5, 1),       BLOCK(resnet_l4_first, 1, 0), BLOCK(resnet_l4, 2, 1),
    BLOCK(resnet_head, 1, 0)};

/* ---- BERT-base ------------------------------------------------------------------------------
 * Hugging Face transformers BertModel, bert-base-uncased's config (vocab 30522, hidden 768,
 * 12 layers, intermediate 3072, 512 positions, 2 token types), pooler included: 199 tensors,
 * 109,482,240 parameters. nn.Linear weights are [out, in]. */
static const model_tensor bert_embeddings[] = {
    T2("embeddings.word_embeddings.weight", 30522, 768),
    T2("embeddings.position_embeddings.weight", 512, 768),
    T2("embeddings.token_type_embeddings.weight", 2, 768),
    T1("embeddings.LayerNorm.weight", 768), T1("embeddings.LayerNorm.bias", 768)};
static const model_tensor bert_layer[] = {
    T2("encoder.layer.%d.attention.self.query.weight", 768, 768),
    T1("encoder.layer.%d.attention.self.query.bias", 768),
    T2("encoder.layer.%d.attention.self.key.weight", 768, 768),
    T1("encoder.layer.%d.attention.self.key.bias", 768),
    T2("encoder.layer.%d.attention.self.value.weight", 768, 768),
    T1("encoder.layer.%d.attention.self.value.bias", 768),
    T2("encoder.layer.%d.attention.output.dense.weight", 768, 768),
    T1("encoder.layer.%d.attention.output.dense.bias", 768),
    T1("encoder.layer.%d.attention.output.LayerNorm.weight", 768),
    T1("encoder.layer.%d.attention.output.LayerNorm.bias", 768),
    T2("encoder.layer.%d.intermediate.dense.weight", 3072, 768),
    T1("encoder.layer.%d.intermediate.dense.bias", 3072),
    T2("encoder.layer.%d.output.dense.weight", 768, 3072),
    T1("encoder.layer.%d.output.dense.bias", 768),
    T1("encoder.layer.%d.output.LayerNorm.weight", 768),
    T1("encoder.layer.%d.output.LayerNorm.bias", 768)};
static const model_tensor bert_pooler[] = {T2("pooler.dense.weight", 768, 768),
                                           T1("pooler.dense.bias", 768)};
static const model_block bert_base[] = {BLOCK(bert_embeddings, 1, 0), BLOCK(bert_layer, 12, 0),
                                        BLOCK(bert_pooler, 1, 0)};

/* ---- GPT-2 small ----------------------------------------------------------------------------
 * Hugging Face transformers GPT2Model, gpt2's config (vocab 50257, 1024 positions, n_embd 768,
 * 12 layers; the LM head is tied to wte): 148 tensors, 124,439,808 parameters. GPT-2's Conv1D
 * weights are [in, out]. */
static const model_tensor gpt2_embeddings[] = {T2("wte.weight", 50257, 768),
                                               T2("wpe.weight", 1024, 768)};
static const model_tensor gpt2_block[] = {
    T1("h.%d.ln_1.weight", 768),          T1("h.%d.ln_1.bias", 768),
    T2("h.%d.attn.c_attn.weight", 768, 2304), T1("h.%d.attn.c_attn.bias", 2304),
    T2("h.%d.attn.c_proj.weight", 768, 768),  T1("h.%d.attn.c_proj.bias", 768),
    T1("h.%d.ln_2.weight", 768),          T1("h.%d.ln_2.bias", 768),
    T2("h.%d.mlp.c_fc.weight", 768, 3072),    T1("h.%d.mlp.c_fc.bias", 3072),
    T2("h.%d.mlp.c_proj.weight", 3072, 768),  T1("h.%d.mlp.c_proj.bias", 768)};
static const model_tensor gpt2_final[] = {T1("ln_f.weight", 768), T1("ln_f.bias", 768)};
static const model_block gpt2[] = {BLOCK(gpt2_embeddings, 1, 0), BLOCK(gpt2_block, 12, 0),
                                   BLOCK(gpt2_final, 1, 0)};

/* ---- Llama-style 1B -------------------------------------------------------------------------
 * Llama 3.2 1B's config (Hugging Face transformers LlamaForCausalLM: hidden 2048, intermediate
 * 8192, 16 layers, 32 heads, 8 key/value heads of 64, vocab 128256, tied embeddings, RMSNorm
 * without bias): 146 tensors, 1,235,814,400 parameters. */
static const model_tensor llama_embeddings[] = {T2("model.embed_tokens.weight", 128256, 2048)};
static const model_tensor llama_layer[] = {
    T2("model.layers.%d.self_attn.q_proj.weight", 2048, 2048),
    T2("model.layers.%d.self_attn.k_proj.weight", 512, 2048),
    T2("model.layers.%d.self_attn.v_proj.weight", 512, 2048),
    T2("model.layers.%d.self_attn.o_proj.weight", 2048, 2048),
    T2("model.layers.%d.mlp.gate_proj.weight", 8192, 2048),
    T2("model.layers.%d.mlp.up_proj.weight", 8192, 2048),
    T2("model.layers.%d.mlp.down_proj.weight", 2048, 8192),
    T1("model.layers.%d.input_layernorm.weight", 2048),
    T1("model.layers.%d.post_attention_layernorm.weight", 2048)};
static const model_tensor llama_final[] = {T1("model.norm.weight", 2048)};
static const model_block llama_1b[] = {BLOCK(llama_embeddings, 1, 0), BLOCK(llama_layer, 16, 0),
                                       BLOCK(llama_final, 1, 0)};

#define MODEL(n, s, b) {n, s, b, sizeof b / sizeof b[0]}
static const model models[] = {
    MODEL("resnet50", "torchvision resnet50", resnet50),
    MODEL("bert-base", "transformers BertModel, bert-base-uncased", bert_base),
    MODEL("gpt2", "transformers GPT2Model, gpt2 (small)", gpt2),
    MODEL("llama-1b", "transformers LlamaForCausalLM, Llama 3.2 1B config", llama_1b),
};
#define MODEL_COUNT (sizeof models / sizeof models[0])

const char *optcl_cli_model_name(size_t index)
{
    return index < MODEL_COUNT ? models[index].name : NULL;
}

const char *optcl_cli_model_source(size_t index)
{
    return index < MODEL_COUNT ? models[index].source : NULL;
}

/* ---- the layout ------------------------------------------------------------------------------ */

void optcl_cli_layout_free(optcl_cli_layout *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->count; i++)
        free((char *)l->specs[i].name);
    free(l->specs);
    memset(l, 0, sizeof *l);
}

/* Appends a tensor: parameters of 2 or more dimensions go to group 0, the rest (biases, norms,
 * scalars) to group 1, the split training scripts use to exempt them from weight decay. */
static int append(optcl_cli_layout *l, const char *name, int ndim, const int64_t *shape,
                  char *msg, size_t size)
{
    if (l->count == l->capacity) {
        size_t cap = l->capacity ? 2 * l->capacity : 64;
        optcl_tensor_spec *grown = realloc(l->specs, cap * sizeof *grown);
        if (!grown)
            return snprintf(msg, size, "out of host memory"), 1;
        l->specs = grown;
        l->capacity = cap;
    }
    char *copy = strdup(name);
    if (!copy)
        return snprintf(msg, size, "out of host memory"), 1;
    optcl_tensor_spec *s = &l->specs[l->count++];
    memset(s, 0, sizeof *s);
    s->name = copy;
    s->ndim = ndim;
    size_t numel = 1;
    for (int d = 0; d < ndim; d++) {
        s->shape[d] = shape[d];
        numel *= (size_t)shape[d];
    }
    s->group = ndim >= 2 ? 0 : 1;
    l->numel += numel;
    return 0;
}

int optcl_cli_model_layout(const char *name, optcl_cli_layout *out, char *msg, size_t size)
{
    memset(out, 0, sizeof *out);
    const model *m = NULL;
    for (size_t i = 0; i < MODEL_COUNT; i++)
        if (!strcmp(models[i].name, name))
            m = &models[i];
    if (!m) {
        int n = snprintf(msg, size, "unknown model '%s' (models:", name);
        for (size_t i = 0; i < MODEL_COUNT && n > 0 && (size_t)n < size; i++)
            n += snprintf(msg + n, size - (size_t)n, " %s", models[i].name);
        if (n > 0 && (size_t)n < size)
            snprintf(msg + n, size - (size_t)n, ")");
        return 1;
    }
    snprintf(out->label, sizeof out->label, "%s", m->name);
    for (size_t b = 0; b < m->block_count; b++) {
        const model_block *block = &m->blocks[b];
        for (int r = 0; r < block->repeat; r++) {
            for (size_t t = 0; t < block->count; t++) {
                char tensor[256];
                const model_tensor *mt = &block->tensors[t];
                const char *at = strstr(mt->name, "%d");
                if (at)
                    snprintf(tensor, sizeof tensor, "%.*s%d%s", (int)(at - mt->name), mt->name,
                             block->base + r, at + 2);
                else
                    snprintf(tensor, sizeof tensor, "%s", mt->name);
                if (append(out, tensor, mt->ndim, mt->shape, msg, size)) {
                    optcl_cli_layout_free(out);
                    return 1;
                }
            }
        }
    }
    return 0;
}

int optcl_cli_layout_check(const optcl_cli_layout *l, char *msg, size_t size)
{
    size_t total = 0;
    for (size_t i = 0; i < l->count; i++) {
        const optcl_tensor_spec *s = &l->specs[i];
        size_t n = 1; /* counted as the library counts: elements of 8 bytes must fit */
        for (int d = 0; d < s->ndim; d++) {
            if ((uint64_t)s->shape[d] > (SIZE_MAX / 8) / n)
                return snprintf(msg, size, "tensor '%s': too many elements", s->name) > 0;
            n *= (size_t)s->shape[d];
        }
        if (n > SIZE_MAX / 8 - total)
            return snprintf(msg, size, "the tensors hold too many elements in all (at '%s')",
                            s->name) > 0;
        total += n;
        for (size_t j = 0; j < i; j++)
            if (!strcmp(l->specs[j].name, s->name))
                return snprintf(msg, size, "tensor name '%s' appears twice (tensors %zu and %zu)",
                                s->name, j, i) > 0;
    }
    return 0;
}

/* ---- --shapes FILE -------------------------------------------------------------------------- */

static char *skip_spaces(char *p)
{
    while (isspace((unsigned char)*p))
        p++;
    return p;
}

/* One line: [NAME:] D1 [D2 …], the dimensions separated by spaces or by one 'x' or ','; "()"
 * or "scalar" alone is a 0-d tensor. Returns 0 and the shape, or 1 with the reason. */
static int parse_shape(char *text, int *ndim, int64_t *shape, char *why, size_t size)
{
    *ndim = 0;
    char *p = skip_spaces(text);
    if (!strcmp(p, "()") || !strcmp(p, "scalar"))
        return 0;
    while (*p) {
        if (*ndim > 0 && (*p == 'x' || *p == ',')) { /* one, between two dimensions */
            char sep = *p;
            p = skip_spaces(p + 1);
            if (!isdigit((unsigned char)*p))
                return snprintf(why, size, "'%c' must stand between two dimensions", sep), 1;
        }
        if (!isdigit((unsigned char)*p))
            return snprintf(why, size, "'%c' is not part of a dimension", *p), 1;
        if (*ndim == OPTCL_MAX_DIMS)
            return snprintf(why, size, "more than %d dimensions", OPTCL_MAX_DIMS), 1;
        errno = 0;
        char *end = NULL;
        unsigned long long v = strtoull(p, &end, 10);
        if (errno || v == 0 || v > (1ull << 40))
            return snprintf(why, size, "dimension %.*s is not between 1 and 2^40", (int)(end - p),
                            p),
                   1;
        shape[(*ndim)++] = (int64_t)v;
        p = skip_spaces(end);
    }
    if (*ndim == 0)
        return snprintf(why, size, "no dimensions (write () for a scalar)"), 1;
    return 0;
}

int optcl_cli_shapes_layout(const char *path, optcl_cli_layout *out, char *msg, size_t size)
{
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "r");
    if (!f)
        return snprintf(msg, size, "--shapes %s: %s", path, strerror(errno)), 1;
    const char *base = strrchr(path, '/');
    snprintf(out->label, sizeof out->label, "shapes:%s", base ? base + 1 : path);
    char line[1024], why[256];
    int line_no = 0, rc = 0;
    while (!rc && fgets(line, sizeof line, f)) {
        line_no++;
        size_t len = strlen(line);
        if (len == sizeof line - 1 && line[len - 1] != '\n' && !feof(f)) {
            rc = snprintf(msg, size, "--shapes %s:%d: the line is longer than %zu bytes", path,
                          line_no, sizeof line - 2) > 0;
            break;
        }
        char *hash = strchr(line, '#');
        if (hash)
            *hash = '\0';
        char *text = line;
        while (isspace((unsigned char)*text))
            text++;
        for (len = strlen(text); len && isspace((unsigned char)text[len - 1]); len--)
            text[len - 1] = '\0';
        if (!*text)
            continue;
        char name[sizeof line];
        char *colon = strchr(text, ':');
        if (colon) {
            *colon = '\0';
            snprintf(name, sizeof name, "%s", text);
            for (len = strlen(name); len && isspace((unsigned char)name[len - 1]); len--)
                name[len - 1] = '\0';
            text = colon + 1;
        } else {
            snprintf(name, sizeof name, "line%d", line_no);
        }
        int ndim = 0;
        int64_t shape[OPTCL_MAX_DIMS];
        if (!*name || strlen(name) > 255)
            rc = snprintf(msg, size, "--shapes %s:%d: the name must be 1 to 255 bytes", path,
                          line_no) > 0;
        else if (parse_shape(text, &ndim, shape, why, sizeof why))
            rc = snprintf(msg, size, "--shapes %s:%d: %s", path, line_no, why) > 0;
        else if (append(out, name, ndim, shape, msg, size))
            rc = 1;
    }
    if (!rc && ferror(f))
        rc = snprintf(msg, size, "--shapes %s: read error", path) > 0;
    fclose(f);
    if (!rc && out->count == 0)
        rc = snprintf(msg, size, "--shapes %s: no shapes in the file", path) > 0;
    if (rc)
        optcl_cli_layout_free(out);
    return rc;
}

/* ---- --shape D1,D2,… -------------------------------------------------------------------------- */

int optcl_cli_shape_layout(const char *dims, optcl_cli_layout *out, char *msg, size_t size)
{
    memset(out, 0, sizeof *out);
    char text[256], why[256];
    int ndim = 0;
    int64_t shape[OPTCL_MAX_DIMS];
    snprintf(out->label, sizeof out->label, "shape %.140s", dims);
    snprintf(text, sizeof text, "%s", dims);
    if (strlen(dims) >= sizeof text || parse_shape(text, &ndim, shape, why, sizeof why))
        return snprintf(msg, size, "--shape %s: %s", dims,
                        strlen(dims) >= sizeof text ? "too long" : why) > 0;
    if (append(out, "w", ndim, shape, msg, size)) {
        optcl_cli_layout_free(out);
        return 1;
    }
    return 0;
}

/* ---- --n N --tensors K ----------------------------------------------------------------------- */

int optcl_cli_split_layout(size_t n, size_t k, optcl_cli_layout *out, char *msg, size_t size)
{
    memset(out, 0, sizeof *out);
    snprintf(out->label, sizeof out->label, k == 1 ? "one tensor" : "%zu tensors", k);
    double total_weight = 0.0;
    for (size_t i = 0; i < k; i++)
        total_weight += 1.0 + (double)((i * 7919) % 97);
    size_t used = 0;
    for (size_t i = 0; i < k; i++) {
        size_t left = k - i - 1;
        size_t count = (size_t)((double)n * (1.0 + (double)((i * 7919) % 97)) / total_weight);
        if (count < 1)
            count = 1;
        if (i + 1 == k || used + count + left > n)
            count = n - used - left;
        used += count;
        char name[32];
        snprintf(name, sizeof name, "t%zu", i);
        int64_t shape[1] = {(int64_t)count};
        if (append(out, name, 1, shape, msg, size)) {
            optcl_cli_layout_free(out);
            return 1;
        }
        out->specs[out->count - 1].group = 0; /* one group, as before --model existed */
    }
    return 0;
}

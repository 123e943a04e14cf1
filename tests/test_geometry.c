/* test_geometry.c — every kernel launch runs whole work-groups of a good size, whatever the
 * tensors' sizes: group ranges are padded to a multiple of OPTCL_GROUP_GRANULE or a power of two
 * of at least OPTCL_GROUP_MIN, and the launches (recorded through launch_seam.c, not timed)
 * use the context's work-group size, never one below the kernel's preferred multiple (nor below
 * 64 on a GPU), and cover each range exactly. The sizes give odd, even and prime counts of
 * aligned blocks (hence of work-items at VEC = alignment; ctest runs it at VEC = 1 too). */
#include "launch_seam.h"
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Counts of alignment blocks per tensor: odd, even, prime, one, and around the granule. */
static const size_t block_counts[] = {1, 3, 64, 127, 128, 129, 1000, 4099, 65537, 131072 + 5};
#define CASES (sizeof block_counts / sizeof block_counts[0])

static bool power_of_two(size_t v)
{
    return v && !(v & (v - 1));
}

/* The range of group g: from its first tensor's offset to the next group's, or to the end. */
static void group_range(optcl_params *p, int g, size_t *begin, size_t *end)
{
    size_t n = optcl_params_count(p);
    *begin = *end = (size_t)-1;
    for (size_t i = 0; i < n; i++) {
        optcl_tensor_info info;
        TU_OK(optcl_params_info(p, i, &info), "info");
        if (info.group == g && info.offset < *begin)
            *begin = info.offset;
        if (info.group > g && info.offset < *end)
            *end = info.offset;
    }
    if (*end == (size_t)-1)
        *end = optcl_params_flat_size(p);
}

/* A tensor of `blocks` alignment blocks (minus one element), a small odd one, and a 3 × blocks
 * one, in group 0 or in group 3 of their own. */
static optcl_params *make_set(optcl_context *ctx, size_t blocks, bool two_groups)
{
    size_t align = optcl_context_alignment(ctx);
    optcl_tensor_spec specs[3] = {
        {.name = "w", .ndim = 1, .shape = {(int64_t)(blocks * align - (blocks > 1))}, .group = 0},
        {.name = "b", .ndim = 1, .shape = {7}, .group = 0},
        {.name = "norm", .ndim = 2, .shape = {3, (int64_t)blocks}, .group = two_groups ? 3 : 0},
    };
    optcl_params *p = NULL;
    TU_OK(optcl_params_create(ctx, specs, 3, &p), optcl_context_message(ctx));
    return p;
}

/* The padded length of a range holding `content` elements: the next multiple of the granule,
 * or, for a set's only group, the smallest power of two ≥ OPTCL_GROUP_MIN holding it below the
 * granule. */
static size_t expected_length(size_t content, size_t align, bool only_group)
{
    size_t want = only_group ? OPTCL_GROUP_MIN : OPTCL_GROUP_GRANULE;
    while (want < content && want < OPTCL_GROUP_GRANULE)
        want *= 2;
    if (want < content)
        want = (content + OPTCL_GROUP_GRANULE - 1) / OPTCL_GROUP_GRANULE * OPTCL_GROUP_GRANULE;
    return (want + align - 1) / align * align;
}

static void group_ranges_are_padded(void **state)
{
    (void)state;
    const optcl_backend backends[] = {OPTCL_BACKEND_REFERENCE, OPTCL_BACKEND_OPENCL};
    for (size_t b = 0; b < 2; b++) {
        if (backends[b] == OPTCL_BACKEND_OPENCL && tu_opencl_missing())
            continue;
        optcl_context *ctx = tu_context(backends[b]);
        size_t align = optcl_context_alignment(ctx);
        for (size_t c = 0; c < 2 * CASES; c++) {
            bool two = c >= CASES;
            optcl_params *p = make_set(ctx, block_counts[c % CASES], two);
            size_t total = 0, layout_total = 0;
            for (int g = 0; g <= (two ? 3 : 0); g += 3) {
                size_t begin = 0, end = 0;
                group_range(p, g, &begin, &end);
                /* what the group holds, each tensor rounded up to the alignment */
                size_t content = 0;
                for (size_t i = 0; i < optcl_params_count(p); i++) {
                    optcl_tensor_info info;
                    TU_OK(optcl_params_info(p, i, &info), "info");
                    if (info.group == g)
                        content += (info.count + align - 1) / align * align;
                }
                size_t length = end - begin;
                if (length != expected_length(content, align, !two))
                    fail_msg("%s, %zu blocks, group %d: range of %zu elements for %zu",
                             optcl_context_device_name(ctx), block_counts[c % CASES], g, length,
                             content);
                assert_true(length % OPTCL_GROUP_GRANULE == 0 ||
                            (!two && power_of_two(length) && length >= OPTCL_GROUP_MIN));
                total += length;
            }
            assert_int_equal(total, optcl_params_flat_size(p));
            optcl_tensor_spec specs[3];
            for (size_t i = 0; i < 3; i++) {
                optcl_tensor_info info;
                TU_OK(optcl_params_info(p, i, &info), "info");
                specs[i] =
                    (optcl_tensor_spec){.name = info.name, .ndim = info.ndim, .group = info.group};
                memcpy(specs[i].shape, info.shape, sizeof specs[i].shape);
            }
            TU_OK(optcl_params_layout(ctx, specs, 3, NULL, &layout_total), "layout");
            assert_int_equal(layout_total, total); /* what optcl_params_wrap asks for */
            TU_OK(optcl_params_destroy(p), "destroy");
        }
        TU_OK(optcl_context_destroy(ctx), "destroy");
    }
}

/* Every configuration whose launches differ: each rule, the guard (fused below 65536 floats,
 * two launches above), Lookahead plain and guarded. */
static size_t configurations(optcl_optimizer_config *out)
{
    size_t n = 0;
    for (int a = 0; a < OPTCL_ALGORITHM_COUNT; a++)
        out[n++] = optcl_optimizer_config_default((optcl_algorithm)a);
    out[n] = optcl_optimizer_config_default(OPTCL_ADAM);
    out[n].max_norm = 1.0;
    out[n++].nonfinite = OPTCL_NONFINITE_SKIP;
    out[n] = optcl_optimizer_config_default(OPTCL_SGD);
    out[n++].lookahead.k = 2;
    out[n] = optcl_optimizer_config_default(OPTCL_RMSPROP);
    out[n].lookahead.k = 2;
    out[n++].nonfinite = OPTCL_NONFINITE_SKIP;
    return n;
}

/* LAMB's, LARS's and Adafactor's totals kernel: a work-group per tensor (segments.h), which may
 * step it whole. */
static bool per_tensor(const seam_launch *l)
{
    return !strcmp(l->name, "optcl_lamb_totals_f32") || !strcmp(l->name, "optcl_lars_totals_f32") ||
           !strcmp(l->name, "optcl_adafactor_totals_f32");
}

/* Launches run whole work-groups of the context's size, or of fewer items for a range smaller
 * than one; a per-tensor launch runs a work-group of the kernel's preferred multiple (on GPUs
 * 64) per tensor. */
static void check_launch(optcl_context *ctx, const seam_launch *l, const char *what)
{
    cl_device_id device = optcl_context_cl_device(ctx);
    size_t preferred = 0, max_local = 0;
    cl_device_type type = 0;
    assert_int_equal(clGetKernelWorkGroupInfo(l->kernel, device,
                                              CL_KERNEL_PREFERRED_WORK_GROUP_SIZE_MULTIPLE,
                                              sizeof preferred, &preferred, NULL),
                     CL_SUCCESS);
    assert_int_equal(
        clGetDeviceInfo(device, CL_DEVICE_MAX_WORK_GROUP_SIZE, sizeof max_local, &max_local, NULL),
        CL_SUCCESS);
    assert_int_equal(clGetDeviceInfo(device, CL_DEVICE_TYPE, sizeof type, &type, NULL), CL_SUCCESS);
    size_t full = max_local < 256 ? max_local : 256; /* the context's work-group size */
    bool gpu = (type & CL_DEVICE_TYPE_GPU) != 0;
    if (per_tensor(l) && l->local == (gpu ? 64 : preferred) && l->global % l->local == 0)
        return;
    if (l->local == 0 || l->global % l->local != 0 || l->local < preferred || l->local > full ||
        (gpu && l->local < 64) || (l->global >= full && l->local != full))
        fail_msg("%s: %s launched %zu work-items in groups of %zu (preferred multiple %zu, "
                 "full group %zu)",
                 what, l->name, l->global, l->local, preferred, full);
}

static void every_launch_runs_whole_work_groups(void **state)
{
    (void)state;
    if (tu_opencl_missing())
        skip();
    optcl_context *ctx = tu_context(OPTCL_BACKEND_OPENCL);
    unsigned vec = optcl_context_vector_width(ctx);
    optcl_optimizer_config configs[OPTCL_ALGORITHM_COUNT + 3];
    size_t nc = configurations(configs);
    size_t checked = 0;
    for (size_t c = 0; c < 2 * CASES; c++) {
        optcl_params *p = make_set(ctx, block_counts[c % CASES], c >= CASES);
        size_t flat = optcl_params_flat_size(p);
        for (size_t k = 0; k < nc; k++) {
            char what[160];
            snprintf(what, sizeof what, "%zu blocks in %d group(s), %s%s%s",
                     block_counts[c % CASES], 1 + (c >= CASES),
                     optcl_algorithm_name(configs[k].algorithm),
                     configs[k].max_norm > 0.0 ? " guarded" : "",
                     configs[k].lookahead.k ? " lookahead" : "");
            if (configs[k].algorithm == OPTCL_MUON)
                continue; /* 2-D tensors only: whole_tensor_rules_launch_fixed_kernels */
            optcl_optimizer *o = NULL;
            setenv("OPTCL_WHOLE_TENSORS", "never", 1); /* the step kernel over every block */
            TU_OK(optcl_optimizer_create(p, &configs[k], &o), optcl_context_message(ctx));
            unsetenv("OPTCL_WHOLE_TENSORS");
            seam_clear();
            for (int s = 0; s < 2; s++)
                TU_OK(optcl_optimizer_step(o, 0, NULL, NULL), optcl_optimizer_message(o));
            TU_OK(optcl_optimizer_traffic_step(o), optcl_optimizer_message(o));
            TU_OK(optcl_context_finish(ctx), "finish");
            char rule[64]; /* the kernel family's: AdamW's is Adam's, Schedule-Free's shared */
            const char *name = optcl_algorithm_name(configs[k].algorithm);
            snprintf(rule, sizeof rule, "optcl_%s_f32",
                     configs[k].algorithm == OPTCL_ADAMW     ? "adam"
                     : strstr(name, "_schedulefree") != NULL ? "schedulefree"
                                                             : name);
            size_t rule_items = 0, traffic_items = 0;
            assert_true(seam_count() > 0 && seam_count() < SEAM_MAX_LAUNCHES);
            for (size_t i = 0; i < seam_count(); i++) {
                const seam_launch *l = seam_get(i);
                check_launch(ctx, l, what);
                rule_items += strcmp(l->name, rule) == 0 ? l->global : 0;
                traffic_items += strcmp(l->name, "optcl_traffic_f32") == 0 ? l->global : 0;
                checked++;
            }
            /* two steps and one traffic step, each over the whole padded set exactly once */
            assert_int_equal(rule_items * vec, 2 * flat);
            assert_int_equal(traffic_items * vec, flat);
            TU_OK(optcl_optimizer_destroy(o), "destroy");
        }
        TU_OK(optcl_params_destroy(p), "destroy");
    }
    printf("geometry: %zu launches checked at VEC = %u on %s\n", checked, vec,
           optcl_context_device_name(ctx));
    TU_OK(optcl_context_destroy(ctx), "destroy");
}

/* 8-bit state's update launches, in both layouts (OPTCL_Q8_LAYOUT): a work-item per block —
 * the set's blocks as work-items, in whole work-groups — or a work-group per block — a work-item
 * per VEC elements, in work-groups of exactly one block, optcl_context_int8_block_items. */
static void int8_launches_step_whole_blocks(void **state)
{
    (void)state;
    if (tu_opencl_missing())
        skip();
    const char *layouts[] = {"item", "group"};
    for (size_t k = 0; k < 2; k++) {
        setenv("OPTCL_Q8_LAYOUT", layouts[k], 1);
        optcl_context *ctx = tu_context(OPTCL_BACKEND_OPENCL);
        unsetenv("OPTCL_Q8_LAYOUT");
        size_t vec = optcl_context_vector_width(ctx), items = optcl_context_int8_block_items(ctx);
        assert_int_equal(items, k == 0 ? 1 : 256 / vec);
        optcl_params *p = make_set(ctx, 129, true); /* 8-bit w, float32 b and norm */
        size_t flat = optcl_params_flat_size(p);
        optcl_optimizer_config c = optcl_optimizer_config_default(OPTCL_ADAM);
        c.state_dtype = OPTCL_STATE_INT8;
        optcl_optimizer *o = NULL;
        TU_OK(optcl_optimizer_create(p, &c, &o), optcl_context_message(ctx));
        seam_clear();
        for (int s = 0; s < 2; s++)
            TU_OK(optcl_optimizer_step(o, 0, NULL, NULL), optcl_optimizer_message(o));
        TU_OK(optcl_context_finish(ctx), "finish");
        size_t stepped = 0;
        for (size_t i = 0; i < seam_count(); i++) {
            const seam_launch *l = seam_get(i);
            if (strcmp(l->name, "optcl_adam_f32") != 0)
                continue;
            bool whole = l->local > 0 && l->global % l->local == 0;
            bool shaped = items > 1 ? l->local == items
                                    : l->local == optcl_context_work_group_size(ctx) ||
                                          l->global < optcl_context_work_group_size(ctx);
            if (!whole || !shaped)
                fail_msg("OPTCL_Q8_LAYOUT=%s: %zu work-items in groups of %zu (VEC %zu)",
                         layouts[k], l->global, l->local, vec);
            stepped += l->global * (items > 1 ? vec : 256);
        }
        assert_int_equal(stepped, 2 * flat); /* two steps, each over the whole set once */
        TU_OK(optcl_optimizer_destroy(o), "destroy");
        TU_OK(optcl_params_destroy(p), "destroy");
        TU_OK(optcl_context_destroy(ctx), "destroy");
    }
}

/* The rules that look at whole tensors keep a fixed launch count: per group and step the sums
 * kernel, the totals per tensor and the step kernel — Adafactor's row and column means and
 * their means of rows before them — for one tensor as for a thousand, and the sums cover each
 * group's blocks exactly once. LAMB, LARS and Adafactor step these small tensors whole: the
 * totals kernel alone, a work-group per tensor (OPTCL_WHOLE_TENSORS=never: the three, five). */
static void whole_tensor_rules_launch_fixed_kernels(void **state)
{
    (void)state;
    if (tu_opencl_missing())
        skip();
    enum { MANY = 1000 };
    optcl_context *ctx = tu_context(OPTCL_BACKEND_OPENCL);
    static optcl_tensor_spec specs[MANY];
    static char names[MANY][16];
    for (int i = 0; i < MANY; i++) {
        snprintf(names[i], sizeof names[i], "t%d", i);
        specs[i] = (optcl_tensor_spec){.name = names[i], .ndim = 2, .shape = {1 + i % 7, 3}};
    }
    static const struct {
        optcl_algorithm algorithm;
        const char *whole;     /* OPTCL_WHOLE_TENSORS, or NULL */
        const char *stages[5]; /* optcl_<name>_<stage>_f32 in launch order; "" the step */
    } rules[] = {{OPTCL_LAMB, NULL, {"totals"}},
                 {OPTCL_LAMB, "never", {"sums", "totals", ""}},
                 {OPTCL_LARS, NULL, {"totals"}},
                 {OPTCL_LARS, "never", {"sums", "totals", ""}},
                 {OPTCL_ADAFACTOR, NULL, {"totals"}},
                 {OPTCL_ADAFACTOR, "never", {"factors", "means", "sums", "totals", ""}},
                 /* and between pack and step CLBlast's GEMMs, which the seam does not see */
                 {OPTCL_MUON, NULL, {"sums", "totals", "pack", ""}}};
    const size_t counts[] = {1, MANY};
    for (size_t r = 0; r < sizeof rules / sizeof rules[0]; r++)
        for (size_t c = 0; c < 2 && !tu_muon_refused(OPTCL_BACKEND_OPENCL, rules[r].algorithm);
             c++) {
            optcl_params *p = NULL;
            TU_OK(optcl_params_create(ctx, specs, counts[c], &p), optcl_context_message(ctx));
            optcl_optimizer_config config = optcl_optimizer_config_default(rules[r].algorithm);
            optcl_optimizer *o = NULL;
            if (rules[r].whole)
                setenv("OPTCL_WHOLE_TENSORS", rules[r].whole, 1);
            TU_OK(optcl_optimizer_create(p, &config, &o), optcl_context_message(ctx));
            unsetenv("OPTCL_WHOLE_TENSORS");
            TU_OK(optcl_optimizer_step(o, 0, NULL, NULL), optcl_optimizer_message(o));
            TU_OK(optcl_context_finish(ctx), "finish");
            seam_clear();
            TU_OK(optcl_optimizer_step(o, 0, NULL, NULL), optcl_optimizer_message(o));
            TU_OK(optcl_context_finish(ctx), "finish");
            const char *name = optcl_algorithm_name(rules[r].algorithm);
            size_t n = 0, sums = 5, totals = 5;
            for (; n < 5 && rules[r].stages[n]; n++) {
                char want[64];
                if (*rules[r].stages[n])
                    snprintf(want, sizeof want, "optcl_%s_%s_f32", name, rules[r].stages[n]);
                else
                    snprintf(want, sizeof want, "optcl_%s_f32", name);
                assert_true(n < seam_count());
                assert_string_equal(seam_get(n)->name, want);
                check_launch(ctx, seam_get(n), name);
                sums = strcmp(rules[r].stages[n], "sums") ? sums : n;
                totals = strcmp(rules[r].stages[n], "totals") ? totals : n;
            }
            assert_int_equal(seam_count(), n);
            size_t blocks = optcl_params_flat_size(p) / 256;
            if (sums < 5)
                assert_true(seam_get(sums)->offset == 0 && seam_get(sums)->global >= blocks);
            const seam_launch *t = seam_get(totals);
            if (per_tensor(t))
                assert_int_equal(t->global, counts[c] * t->local);
            else
                assert_true(t->global >= counts[c]);
            if (sums > 0 && sums < 5) /* a work-item per matrix (small ones: rows, columns, mean) */
                assert_true(seam_get(0)->global >= counts[c]);
            TU_OK(optcl_optimizer_destroy(o), "destroy");
            TU_OK(optcl_params_destroy(p), "destroy");
        }
    TU_OK(optcl_context_destroy(ctx), "destroy");
}

/* LAMB, LARS and Adafactor with some tensors stepped whole (OPTCL_WHOLE_TENSORS=8: up to 8
 * blocks): the sums and step kernels cover the span of the others' blocks, in whole
 * work-groups, from the granule holding the first to the one holding the last, and nothing
 * when every tensor is whole; the totals a work-group per tensor. Adafactor's factors and means
 * launches come first, for the large tensors' rows and columns, or not at all. */
static void whole_tensors_leave_the_others_a_span(void **state)
{
    (void)state;
    if (tu_opencl_missing())
        skip();
    optcl_context *ctx = tu_context(OPTCL_BACKEND_OPENCL);
    size_t vec = optcl_context_vector_width(ctx);
    enum { SMALL = 40 };
    static optcl_tensor_spec specs[SMALL + 2];
    static char names[SMALL][16];
    for (int i = 0; i < SMALL; i++) {
        snprintf(names[i], sizeof names[i], "s%d", i);
        /* 100 to 700 elements; matrices, which Adafactor factors in one work-item each */
        specs[i] = (optcl_tensor_spec){.name = names[i], .ndim = 2, .shape = {1 + i % 7, 100}};
    }
    /* two large ones (20 and 9 blocks) between the small ones */
    specs[SMALL] = (optcl_tensor_spec){.name = "big", .ndim = 2, .shape = {20, 256}};
    specs[SMALL + 1] = (optcl_tensor_spec){.name = "big2", .ndim = 1, .shape = {9 * 256 - 5}};
    const optcl_tensor_spec *order[SMALL + 2];
    for (size_t i = 0, j = 0; i < SMALL + 2; i++) /* big after s19, big2 after s29 */
        order[i] = i == 20 ? &specs[SMALL] : i == 31 ? &specs[SMALL + 1] : &specs[j++];
    optcl_tensor_spec set[SMALL + 2];
    for (size_t i = 0; i < SMALL + 2; i++)
        set[i] = *order[i];
    const optcl_algorithm rules[] = {OPTCL_LAMB, OPTCL_LARS, OPTCL_ADAFACTOR};
    for (size_t r = 0; r < 3; r++)
        for (size_t with_big = 0; with_big < 2; with_big++) {
            size_t count = with_big ? SMALL + 2 : SMALL;
            const optcl_tensor_spec *use = with_big ? set : specs;
            optcl_params *p = NULL;
            TU_OK(optcl_params_create(ctx, use, count, &p), optcl_context_message(ctx));
            size_t first = (size_t)-1, end = 0; /* the large tensors' blocks */
            for (size_t i = 0; i < count; i++) {
                optcl_tensor_info info;
                TU_OK(optcl_params_info(p, i, &info), "info");
                size_t b0 = info.offset / 256, b1 = b0 + (info.count + 255) / 256;
                if (b1 - b0 > 8) {
                    first = b0 < first ? b0 : first;
                    end = b1 > end ? b1 : end;
                }
            }
            optcl_optimizer_config config = optcl_optimizer_config_default(rules[r]);
            optcl_optimizer *o = NULL;
            setenv("OPTCL_WHOLE_TENSORS", "8", 1);
            TU_OK(optcl_optimizer_create(p, &config, &o), optcl_context_message(ctx));
            unsetenv("OPTCL_WHOLE_TENSORS");
            seam_clear();
            TU_OK(optcl_optimizer_step(o, 0, NULL, NULL), optcl_optimizer_message(o));
            TU_OK(optcl_context_finish(ctx), "finish");
            const char *name = optcl_algorithm_name(rules[r]);
            size_t factored = rules[r] == OPTCL_ADAFACTOR ? 2 : 0; /* factors, means */
            assert_int_equal(seam_count(), with_big ? factored + 3 : 1);
            const seam_launch *totals = seam_get(with_big ? factored + 1 : 0);
            check_launch(ctx, totals, name);
            assert_true(per_tensor(totals));
            assert_int_equal(totals->global, count * totals->local);
            if (!with_big) {
                TU_OK(optcl_optimizer_destroy(o), "destroy");
                TU_OK(optcl_params_destroy(p), "destroy");
                continue;
            }
            if (factored) { /* from big's 20 rows and 16 strips of columns to big2 (none), the
                             * small matrices between one each: 36 + 10 work-items of all 76
                             * (launches are padded to 64) */
                check_launch(ctx, seam_get(0), name);
                check_launch(ctx, seam_get(1), name);
                assert_true(seam_get(0)->global >= 36 + 10 && seam_get(0)->global < 76);
                assert_true(seam_get(1)->global >= 1); /* big's mean of rows */
            }
            const seam_launch *sums = seam_get(factored), *step = seam_get(factored + 2);
            check_launch(ctx, sums, name);
            check_launch(ctx, step, name);
            size_t granule = OPTCL_GROUP_GRANULE / 256, flat = optcl_params_flat_size(p);
            size_t span_first = first / granule * granule;
            size_t span_end = (end + granule - 1) / granule * granule;
            span_end = span_end < flat / 256 ? span_end : flat / 256;
            assert_true(span_first > 0); /* the small tensors before: no launch there */
            assert_int_equal(sums->offset, span_first);
            assert_true(sums->global >= span_end - span_first);
            assert_int_equal(step->offset * vec, span_first * 256);
            assert_int_equal(step->global * vec, (span_end - span_first) * 256);
            TU_OK(optcl_optimizer_destroy(o), "destroy");
            TU_OK(optcl_params_destroy(p), "destroy");
        }
    TU_OK(optcl_context_destroy(ctx), "destroy");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(group_ranges_are_padded),
        cmocka_unit_test(every_launch_runs_whole_work_groups),
        cmocka_unit_test(int8_launches_step_whole_blocks),
        cmocka_unit_test(whole_tensor_rules_launch_fixed_kernels),
        cmocka_unit_test(whole_tensors_leave_the_others_a_span),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_status.c — status names and descriptions (optcl's own codes and OpenCL's pass-through
 * codes), the code ranges they live in, the library version, and algorithm names. */
#include "testutil.h"

#include <stdio.h>
#include <string.h>

typedef struct named_code {
    optcl_status code;
    const char *identifier;
} named_code;

#define NAMED(c) {(optcl_status)(c), #c}

/* Every value of the optcl_status enum (a new code belongs here too). */
static const named_code optcl_codes[] = {
    NAMED(OPTCL_SUCCESS),
    NAMED(OPTCL_ERROR_INVALID_ARGUMENT),
    NAMED(OPTCL_ERROR_NULL_POINTER),
    NAMED(OPTCL_ERROR_OUT_OF_HOST_MEMORY),
    NAMED(OPTCL_ERROR_SIZE_MISMATCH),
    NAMED(OPTCL_ERROR_IN_USE),
    NAMED(OPTCL_ERROR_NO_DEVICE),
    NAMED(OPTCL_ERROR_BUILD_FAILED),
    NAMED(OPTCL_ERROR_IO),
    NAMED(OPTCL_ERROR_FORMAT),
    NAMED(OPTCL_ERROR_UNSUPPORTED),
    NAMED(OPTCL_ERROR_WRONG_BACKEND),
    NAMED(OPTCL_ERROR_NOT_FOUND),
    NAMED(OPTCL_ERROR_DEVICE_MEMORY),
};
#define N_OPTCL (sizeof optcl_codes / sizeof optcl_codes[0])

/* A sample of OpenCL's codes, which optcl passes through unchanged. */
static const named_code cl_codes[] = {
    NAMED(CL_INVALID_VALUE),
    NAMED(CL_OUT_OF_RESOURCES),
    NAMED(CL_BUILD_PROGRAM_FAILURE),
    NAMED(CL_INVALID_KERNEL_ARGS),
    NAMED(CL_MEM_OBJECT_ALLOCATION_FAILURE),
    NAMED(CL_INVALID_COMMAND_QUEUE),
};
#define N_CL (sizeof cl_codes / sizeof cl_codes[0])

static void check_named(const named_code *c)
{
    const char *name = optcl_status_name(c->code);
    const char *text = optcl_status_string(c->code);
    assert_non_null(name);
    assert_non_null(text);
    if (strcmp(name, c->identifier) != 0)
        fail_msg("code %d: name '%s', expected '%s'", (int)c->code, name, c->identifier);
    if (text[0] == '\0')
        fail_msg("code %d (%s): empty description", (int)c->code, c->identifier);
    if (strcmp(text, "unknown status") == 0)
        fail_msg("code %d (%s) is described as unknown", (int)c->code, c->identifier);
}

static void test_optcl_codes_named(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_OPTCL; i++)
        check_named(&optcl_codes[i]);
    assert_int_equal(OPTCL_SUCCESS, 0);
}

static void test_cl_codes_named(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_CL; i++)
        check_named(&cl_codes[i]);
    /* CL_SUCCESS and OPTCL_SUCCESS are the same code. */
    assert_int_equal((int)CL_SUCCESS, (int)OPTCL_SUCCESS);
}

static void test_names_and_texts_distinct(void **state)
{
    (void)state;
    named_code all[N_OPTCL + N_CL];
    size_t n = 0;
    for (size_t i = 0; i < N_OPTCL; i++)
        all[n++] = optcl_codes[i];
    for (size_t i = 0; i < N_CL; i++)
        all[n++] = cl_codes[i];
    for (size_t i = 0; i < n; i++) {
        for (size_t j = i + 1; j < n; j++) {
            if ((int)all[i].code == (int)all[j].code)
                fail_msg("%s and %s share code %d", all[i].identifier, all[j].identifier,
                         (int)all[i].code);
            if (strcmp(optcl_status_name(all[i].code), optcl_status_name(all[j].code)) == 0)
                fail_msg("%s and %s share a name", all[i].identifier, all[j].identifier);
            if (strcmp(optcl_status_string(all[i].code), optcl_status_string(all[j].code)) == 0)
                fail_msg("%s and %s share the description '%s'", all[i].identifier,
                         all[j].identifier, optcl_status_string(all[i].code));
        }
    }
}

static void test_unknown_codes(void **state)
{
    (void)state;
    /* Nobody defines these (optcl's own range -2000 … -2099 may grow, so none from it). */
    const int unknown[] = {12345, 1, -1999, -1500, -73, -999, -2100, -100000};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        optcl_status st = (optcl_status)unknown[i];
        if (strcmp(optcl_status_name(st), "OPTCL_UNKNOWN_STATUS") != 0)
            fail_msg("code %d: name '%s'", unknown[i], optcl_status_name(st));
        if (strcmp(optcl_status_string(st), "unknown status") != 0)
            fail_msg("code %d: description '%s'", unknown[i], optcl_status_string(st));
    }
}

/* optcl's own codes sit in -2000 … -2099, clear of OpenCL's core codes (-1 … -72) and the
 * extensions' (-1000 … -1999); no code in those ranges is called by an optcl name. */
static void test_ranges_do_not_collide(void **state)
{
    (void)state;
    for (size_t i = 1; i < N_OPTCL; i++) {
        int c = (int)optcl_codes[i].code;
        if (c > -2000 || c < -2099)
            fail_msg("%s = %d lies outside -2000 … -2099", optcl_codes[i].identifier, c);
    }
    for (int c = -1; c >= -1999; c--) {
        if (c < -72 && c > -1000)
            continue;
        const char *name = optcl_status_name((optcl_status)c);
        if (strncmp(name, "OPTCL_", 6) == 0 && strcmp(name, "OPTCL_UNKNOWN_STATUS") != 0)
            fail_msg("OpenCL's code %d is named '%s'", c, name);
        if (strcmp(name, "OPTCL_UNKNOWN_STATUS") != 0 && strncmp(name, "CL_", 3) != 0)
            fail_msg("OpenCL's code %d has the odd name '%s'", c, name);
    }
    for (int c = -2000; c >= -2099; c--) { /* whatever optcl defines there is its own */
        const char *name = optcl_status_name((optcl_status)c);
        if (strcmp(name, "OPTCL_UNKNOWN_STATUS") != 0 && strncmp(name, "OPTCL_ERROR_", 12) != 0)
            fail_msg("optcl's code %d is named '%s'", c, name);
    }
}

static void test_version(void **state)
{
    (void)state;
    assert_int_equal(optcl_version(), OPTCL_VERSION_HEX);
    unsigned hex = OPTCL_VERSION_HEX;
    assert_int_equal((hex >> 16) & 0xff, OPTCL_VERSION_MAJOR);
    assert_int_equal((hex >> 8) & 0xff, OPTCL_VERSION_MINOR);
    assert_int_equal(hex & 0xff, OPTCL_VERSION_PATCH);
    assert_true(hex >> 24 == 0);
    unsigned major = 999, minor = 999, patch = 999;
    int consumed = -1;
    int n = sscanf(OPTCL_VERSION_STRING, "%u.%u.%u%n", &major, &minor, &patch, &consumed);
    assert_int_equal(n, 3);
    assert_int_equal((size_t)consumed, strlen(OPTCL_VERSION_STRING));
    assert_int_equal(major, OPTCL_VERSION_MAJOR);
    assert_int_equal(minor, OPTCL_VERSION_MINOR);
    assert_int_equal(patch, OPTCL_VERSION_PATCH);
    assert_int_equal((major << 16) | (minor << 8) | patch, optcl_version());
}

static void test_algorithm_names(void **state)
{
    (void)state;
    const char *expected[OPTCL_ALGORITHM_COUNT] = {
        "sgd",     "adam",     "adamw",  "rmsprop", "rprop", "lion",
        "adagrad", "adadelta", "adamax", "nadam",   "radam", "asgd", "adamw_schedulefree",
        "sgd_schedulefree", "lamb", "lars", "adafactor", "muon"};
    for (int a = 0; a < OPTCL_ALGORITHM_COUNT; a++) {
        const char *name = optcl_algorithm_name((optcl_algorithm)a);
        assert_non_null(name);
        assert_string_equal(name, expected[a]);
        for (int b = 0; b < a; b++)
            assert_string_not_equal(name, optcl_algorithm_name((optcl_algorithm)b));
        optcl_algorithm back = OPTCL_ALGORITHM_COUNT;
        TU_OK(optcl_algorithm_from_name(name, &back), name);
        assert_int_equal(back, a);
    }
    assert_null(optcl_algorithm_name(OPTCL_ALGORITHM_COUNT));
    assert_null(optcl_algorithm_name((optcl_algorithm)-1));
}

static void test_algorithm_bad_names(void **state)
{
    (void)state;
    const char *bad[] = {"sophia", "", "sgd ", "adam_w", "rms", "Adagrad"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        optcl_algorithm out = OPTCL_RPROP;
        optcl_status st = optcl_algorithm_from_name(bad[i], &out);
        if (st != OPTCL_ERROR_INVALID_ARGUMENT)
            fail_msg("'%s' gave %s", bad[i], optcl_status_name(st));
    }
    optcl_algorithm out = OPTCL_RPROP;
    assert_int_not_equal(optcl_algorithm_from_name(NULL, &out), OPTCL_SUCCESS);
    assert_int_equal(out, OPTCL_RPROP);
    assert_int_equal(optcl_algorithm_from_name("sgd", NULL), OPTCL_ERROR_NULL_POINTER);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_optcl_codes_named),
        cmocka_unit_test(test_cl_codes_named),
        cmocka_unit_test(test_names_and_texts_distinct),
        cmocka_unit_test(test_unknown_codes),
        cmocka_unit_test(test_ranges_do_not_collide),
        cmocka_unit_test(test_version),
        cmocka_unit_test(test_algorithm_names),
        cmocka_unit_test(test_algorithm_bad_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_npy.c — .npy files: round trips, hand-made files of versions 1.0–3.0, every kind of
 * malformed input, and crash-safe replacement on write. */
#include "testutil.h"

#include "../host/atomic_file.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/* A .npy image: magic, version major.0, the header length (header_len_field, or the real one
 * when it is (size_t)-1), header text as given (no padding added) and nbytes of data. */
static size_t make_npy(unsigned char *buf, unsigned major, size_t header_len_field,
                       const char *header, const void *data, size_t nbytes)
{
    size_t hlen = strlen(header);
    size_t field = header_len_field == (size_t)-1 ? hlen : header_len_field;
    memcpy(buf, "\x93NUMPY", 6);
    buf[6] = (unsigned char)major;
    buf[7] = 0;
    size_t pos = 8;
    buf[pos++] = (unsigned char)(field & 0xff);
    buf[pos++] = (unsigned char)(field >> 8 & 0xff);
    if (major >= 2) {
        buf[pos++] = (unsigned char)(field >> 16 & 0xff);
        buf[pos++] = (unsigned char)(field >> 24 & 0xff);
    }
    memcpy(buf + pos, header, hlen);
    pos += hlen;
    if (nbytes)
        memcpy(buf + pos, data, nbytes);
    return pos + nbytes;
}

static void assert_empty_array(const optcl_array *a)
{
    assert_null(a->data);
    assert_int_equal(a->ndim, 0);
    assert_int_equal(a->count, 0);
    for (int i = 0; i < OPTCL_NPY_MAX_DIMS; i++)
        assert_int_equal(a->shape[i], 0);
}

/* Reads path expecting failure: the status, a message that names the path and contains
 * `needle`, and an array left {0} even though it held rubbish before. */
static void expect_read_failure(const char *path, optcl_status want, const char *needle)
{
    float dummy;
    optcl_array a = {&dummy, 3, {7, 7, 7}, 343};
    char message[512] = "";
    optcl_status st = optcl_npy_read(path, &a, message, sizeof message);
    if (st != want || !strstr(message, path) || !strstr(message, needle))
        fail_msg("%s: got %s \"%s\", wanted %s with \"%s\"", path, optcl_status_name(st),
                 message, optcl_status_name(want), needle);
    assert_null(strchr(message, '\n'));
    assert_empty_array(&a);
}

/* Writes a hand-made file of version 1.0 with this header and data, then expects failure. */
static void expect_bad(const char *name, const char *header, size_t nfloats, optcl_status want,
                       const char *needle)
{
    static unsigned char buf[4096];
    float data[16] = {0};
    assert_true(nfloats <= 16);
    size_t len = make_npy(buf, 1, (size_t)-1, header, data, nfloats * sizeof(float));
    char path[512];
    tu_write_file(tu_path_in(path, sizeof path, name), buf, len);
    expect_read_failure(path, want, needle);
}

/* ------------------------------------------------------------------------------------------ */

static void round_trip(const char *name, const size_t *shape, int ndim)
{
    size_t count = 1;
    for (int i = 0; i < ndim; i++)
        count *= shape[i];
    float data[64];
    assert_true(count <= 64);
    for (size_t i = 0; i < count; i++)
        data[i] = (float)i * 0.5f - 3.25f;

    char path[512], message[512] = "";
    tu_path_in(path, sizeof path, name);
    TU_OK(optcl_npy_write(path, data, shape, ndim, message, sizeof message), message);

    optcl_array a;
    TU_OK(optcl_npy_read(path, &a, message, sizeof message), message);
    assert_int_equal(a.ndim, ndim);
    for (int i = 0; i < ndim; i++)
        assert_int_equal(a.shape[i], shape[i]);
    assert_int_equal(a.count, count);
    assert_non_null(a.data);
    if (count)
        assert_memory_equal(a.data, data, count * sizeof(float));
    optcl_array_free(&a);
    assert_empty_array(&a);

    /* numpy's layout: version 1.0, the data 64-byte aligned, the header ending in '\n'. */
    size_t len;
    unsigned char *bytes = tu_read_file(path, &len);
    assert_memory_equal(bytes, "\x93NUMPY\x01\x00", 8);
    size_t hlen = (size_t)bytes[8] | (size_t)bytes[9] << 8;
    assert_int_equal((10 + hlen) % 64, 0);
    assert_int_equal(bytes[10 + hlen - 1], '\n');
    assert_int_equal(len, 10 + hlen + count * sizeof(float));
    free(bytes);
}

static void test_round_trip(void **state)
{
    (void)state;
    round_trip("scalar.npy", NULL, 0);
    const size_t one[] = {5};
    round_trip("vector.npy", one, 1);
    const size_t two[] = {2, 3};
    round_trip("matrix.npy", two, 2);
    const size_t empty[] = {0, 3};
    round_trip("empty.npy", empty, 2);
    const size_t many[] = {1, 2, 1, 2, 1, 2, 1, 2};
    round_trip("eight_dims.npy", many, 8);
}

/* The header bytes are exactly numpy's (taken from a file np.save wrote). */
static void expect_header(const char *name, const size_t *shape, int ndim, const char *dict,
                          size_t header_len)
{
    float *data = calloc(50 * 37, sizeof(float)); /* the largest shape used below */
    assert_non_null(data);
    char path[512], message[512] = "";
    tu_path_in(path, sizeof path, name);
    optcl_status st = optcl_npy_write(path, data, shape, ndim, message, sizeof message);
    free(data);
    TU_OK(st, message);
    size_t len;
    unsigned char *bytes = tu_read_file(path, &len);
    assert_int_equal((size_t)bytes[8] | (size_t)bytes[9] << 8, header_len);
    size_t dict_len = strlen(dict);
    assert_memory_equal(bytes + 10, dict, dict_len);
    for (size_t i = dict_len; i + 1 < header_len; i++)
        assert_int_equal(bytes[10 + i], ' ');
    assert_int_equal(bytes[10 + header_len - 1], '\n');
    free(bytes);
}

static void test_header_matches_numpy(void **state)
{
    (void)state;
    const size_t v[] = {37}, m[] = {50, 37};
    expect_header("h1.npy", v, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (37,), }",
                  118);
    expect_header("h2.npy", m, 2,
                  "{'descr': '<f4', 'fortran_order': False, 'shape': (50, 37), }", 118);
    expect_header("h0.npy", NULL, 0, "{'descr': '<f4', 'fortran_order': False, 'shape': (), }",
                  118);
}

static void read_handmade(unsigned major, const char *header)
{
    static unsigned char buf[4096];
    const float data[6] = {1.0f, -2.0f, 3.5f, 0.25f, -0.0f, 1e30f};
    size_t len = make_npy(buf, major, (size_t)-1, header, data, sizeof data);
    char path[512], message[512] = "";
    tu_path_in(path, sizeof path, "handmade.npy");
    tu_write_file(path, buf, len);

    optcl_array a;
    TU_OK(optcl_npy_read(path, &a, message, sizeof message), message);
    assert_int_equal(a.ndim, 2);
    assert_int_equal(a.shape[0], 2);
    assert_int_equal(a.shape[1], 3);
    assert_int_equal(a.count, 6);
    assert_memory_equal(a.data, data, sizeof data);
    optcl_array_free(&a);
}

static void test_read_versions(void **state)
{
    (void)state;
    read_handmade(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }   \n");
    read_handmade(2, "{'shape': (2, 3), 'descr': '<f4', 'fortran_order': False}\n");
    read_handmade(3, "{ 'fortran_order' : False ,'shape':(2,3,),\"descr\":\"<f4\" ,}\n");
    /* Unpadded, no newline, and Python 2's long integers. */
    read_handmade(1, "{'descr':'<f4','fortran_order':False,'shape':(2L, 3L)}");
}

static void test_read_scalar_and_empty(void **state)
{
    (void)state;
    static unsigned char buf[256];
    const float x = 42.0f;
    char path[512], message[512] = "";
    tu_path_in(path, sizeof path, "s.npy");
    tu_write_file(path, buf,
                  make_npy(buf, 1, (size_t)-1,
                           "{'descr': '<f4', 'fortran_order': False, 'shape': ()}\n", &x, 4));
    optcl_array a;
    TU_OK(optcl_npy_read(path, &a, message, sizeof message), message);
    assert_int_equal(a.ndim, 0);
    assert_int_equal(a.count, 1);
    assert_true(a.data[0] == 42.0f);
    optcl_array_free(&a);

    tu_write_file(path, buf,
                  make_npy(buf, 1, (size_t)-1,
                           "{'descr': '<f4', 'fortran_order': False, 'shape': (4, 0)}\n", NULL, 0));
    TU_OK(optcl_npy_read(path, &a, message, sizeof message), message);
    assert_int_equal(a.ndim, 2);
    assert_int_equal(a.count, 0);
    optcl_array_free(&a);
}

static void test_read_bad_files(void **state)
{
    (void)state;
    const optcl_status F = OPTCL_ERROR_FORMAT;
    char path[512];

    expect_read_failure(tu_path_in(path, sizeof path, "missing.npy"), OPTCL_ERROR_IO,
                        strerror(ENOENT));
    expect_read_failure(tu_group_dir(), OPTCL_ERROR_IO, "cannot read");

    tu_write_file(tu_path_in(path, sizeof path, "empty.npy"), "", 0);
    expect_read_failure(path, F, "truncated");
    tu_write_file(tu_path_in(path, sizeof path, "magic.npy"), "\x93NUMPX\x01\x00\x10\x00{}", 12);
    expect_read_failure(path, F, "magic");
    tu_write_file(tu_path_in(path, sizeof path, "text.npy"), "hello", 5);
    expect_read_failure(path, F, "magic");
    tu_write_file(tu_path_in(path, sizeof path, "short.npy"), "\x93NUMPY\x01\x00\x10", 9);
    expect_read_failure(path, F, "truncated");

    static unsigned char buf[4096];
    const char *good = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }\n";
    const float two[2] = {1, 2};
    tu_write_file(tu_path_in(path, sizeof path, "v4.npy"), buf,
                  make_npy(buf, 4, (size_t)-1, good, two, sizeof two));
    expect_read_failure(path, F, "version 4.0");
    size_t len = make_npy(buf, 1, (size_t)-1, good, two, sizeof two);
    buf[7] = 1;
    tu_write_file(tu_path_in(path, sizeof path, "v11.npy"), buf, len);
    expect_read_failure(path, F, "version 1.1");

    /* The length field points past the end, and a header cut off in the middle. */
    tu_write_file(tu_path_in(path, sizeof path, "longhdr.npy"), buf,
                  make_npy(buf, 1, 1000, good, two, sizeof two));
    expect_read_failure(path, F, "past the end");
    tu_write_file(tu_path_in(path, sizeof path, "longhdr3.npy"), buf,
                  make_npy(buf, 3, 0x7fffffff, good, two, sizeof two));
    expect_read_failure(path, F, "past the end");
    len = make_npy(buf, 1, (size_t)-1, good, NULL, 0);
    tu_write_file(tu_path_in(path, sizeof path, "cut.npy"), buf, len - 20);
    expect_read_failure(path, F, "past the end");

    expect_bad("f8.npy", "{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }\n", 2, F,
               "dtype '<f8' is not float32");
    expect_bad("bigf4.npy", "{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }\n", 2, F,
               "'>f4'");
    expect_bad("i4.npy", "{'descr': '<i4', 'fortran_order': False, 'shape': (2,), }\n", 2, F,
               "'<i4'");
    expect_bad("rec.npy", "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,)}\n",
               2, F, "structured");
    expect_bad("fortran.npy", "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 1), }\n", 2,
               F, "Fortran order");

    expect_bad("data_short.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }\n",
               3, F, "truncated");
    expect_bad("data_long.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }\n",
               3, F, "after the data");

    expect_bad("noshape.npy", "{'descr': '<f4', 'fortran_order': False, }\n", 1, F,
               "no 'shape'");
    expect_bad("nodescr.npy", "{'fortran_order': False, 'shape': (1,)}\n", 1, F, "no 'descr'");
    expect_bad("noorder.npy", "{'descr': '<f4', 'shape': (1,)}\n", 1, F, "no 'fortran_order'");
    expect_bad("open.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (3,\n", 3, F,
               "not closed");
    expect_bad("open2.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (3,}\n", 3, F,
               "not closed");
    expect_bad("nobrace.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (3,)\n", 3, F,
               "malformed");
    expect_bad("negative.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }\n",
               0, F, "negative");
    expect_bad("notuple.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (3), }\n", 3,
               F, "not a tuple");
    expect_bad("list.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': [3], }\n", 3, F,
               "not a tuple");
    expect_bad("extra.npy",
               "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': 1, }\n", 1, F,
               "unknown key 'x'");
    expect_bad("twice.npy",
               "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (1,)}\n", 1,
               F, "repeats");
    expect_bad("maybe.npy", "{'descr': '<f4', 'fortran_order': maybe, 'shape': (1,)}\n", 1, F,
               "True or False");
    expect_bad("tail.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (1,)} x\n", 1, F,
               "after the dict");
    expect_bad("nodict.npy", "'descr': '<f4'\n", 1, F, "malformed");
    expect_bad("ninedims.npy",
               "{'descr': '<f4', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,1,1)}\n", 1, F,
               "more than 8");
    expect_bad("huge.npy",
               "{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904, 8)}\n",
               1, F, "too large");
    expect_bad("hugedim.npy",
               "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999999,)}\n",
               1, F, "does not fit");
}

/* Reads bytes through a FIFO, which has no size to check against up front, so the checks made
 * while reading must catch every length problem themselves. */
static optcl_status read_via_fifo(const void *bytes, size_t len, optcl_array *a, char *message,
                                  size_t message_size)
{
    char path[512];
    pid_t child = tu_fifo_feed(tu_path_in(path, sizeof path, "pipe.npy"), bytes, len);
    optcl_status st = optcl_npy_read(path, a, message, message_size);
    tu_fifo_reap(child, path);
    return st;
}

static void test_read_unsized(void **state)
{
    (void)state;
    static unsigned char buf[4096];
    const char *h3 = "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }\n";
    const float data[4] = {1, 2, 3, 4};
    char message[512] = "";
    optcl_array a;

    size_t len = make_npy(buf, 2, (size_t)-1, h3, data, 3 * sizeof(float));
    TU_OK(read_via_fifo(buf, len, &a, message, sizeof message), message);
    assert_int_equal(a.count, 3);
    assert_memory_equal(a.data, data, 3 * sizeof(float));
    optcl_array_free(&a);

    len = make_npy(buf, 1, (size_t)-1, h3, data, 4 * sizeof(float));
    assert_int_equal(read_via_fifo(buf, len, &a, message, sizeof message), OPTCL_ERROR_FORMAT);
    assert_non_null(strstr(message, "after the data"));
    assert_empty_array(&a);

    len = make_npy(buf, 1, (size_t)-1, h3, data, 2 * sizeof(float));
    assert_int_equal(read_via_fifo(buf, len, &a, message, sizeof message), OPTCL_ERROR_FORMAT);
    assert_non_null(strstr(message, "data is truncated"));
    assert_empty_array(&a);

    len = make_npy(buf, 1, 500, h3, NULL, 0);
    assert_int_equal(read_via_fifo(buf, len, &a, message, sizeof message), OPTCL_ERROR_FORMAT);
    assert_non_null(strstr(message, "header is truncated"));
    assert_empty_array(&a);

    len = make_npy(buf, 3, 0x7fffffff, h3, NULL, 0);
    assert_int_equal(read_via_fifo(buf, len, &a, message, sizeof message), OPTCL_ERROR_FORMAT);
    assert_non_null(strstr(message, "exceeds the limit"));
    assert_empty_array(&a);
}

static void test_read_messages(void **state)
{
    (void)state;
    char path[512];
    tu_path_in(path, sizeof path, "missing.npy");
    optcl_array a;
    /* No message buffer, and one too small for the message: still NUL-terminated. */
    assert_int_equal(optcl_npy_read(path, &a, NULL, 0), OPTCL_ERROR_IO);
    assert_empty_array(&a);
    char small[8];
    memset(small, 'x', sizeof small);
    assert_int_equal(optcl_npy_read(path, &a, small, sizeof small), OPTCL_ERROR_IO);
    assert_int_equal(strlen(small), sizeof small - 1);
    assert_int_equal(optcl_npy_read(NULL, &a, NULL, 0), OPTCL_ERROR_NULL_POINTER);
    assert_int_equal(optcl_npy_read(path, NULL, NULL, 0), OPTCL_ERROR_NULL_POINTER);
    optcl_array_free(NULL);
    optcl_array_free(&a); /* an empty array frees to an empty array */
    assert_empty_array(&a);
}

static void test_write_missing_folder(void **state)
{
    (void)state;
    char path[512], folder[512], message[512] = "";
    tu_path_in(folder, sizeof folder, "no_such_folder");
    tu_path_in(path, sizeof path, "no_such_folder/x.npy");
    const float data[2] = {1, 2};
    const size_t shape[] = {2};
    assert_int_equal(optcl_npy_write(path, data, shape, 1, message, sizeof message),
                     OPTCL_ERROR_IO);
    assert_non_null(strstr(message, path));
    assert_non_null(strstr(message, strerror(ENOENT)));
    struct stat st;
    assert_int_not_equal(stat(path, &st), 0);
    assert_int_not_equal(stat(folder, &st), 0);
}

/* A killed save leaves ".<name>.tmp.XXXXXX" behind; the next save to that name removes it,
 * but not a temporary a live writer holds (its flock), nor other names' files. */
static void test_write_removes_abandoned_temporaries(void **state)
{
    (void)state;
    char folder[512], path[512], message[512] = "", listing[1024], file[600];
    assert_int_equal(mkdir(tu_path_in(folder, sizeof folder, "abandoned"), 0700), 0);
    tu_path_in(path, sizeof path, "abandoned/a.npy");
    const char *names[] = {".a.npy.tmp.AAAAAA", ".a.npy.tmp.BBBBBB", ".a.npy.tmp.CCCCCCC",
                           ".b.npy.tmp.DDDDDD"};
    for (int i = 0; i < 4; i++) {
        snprintf(file, sizeof file, "%s/%s", folder, names[i]);
        tu_write_file(file, "x", 1);
    }
    snprintf(file, sizeof file, "%s/%s", folder, names[1]);
    int held = open(file, O_RDONLY); /* a live writer's lock */
    assert_true(held >= 0);
    assert_int_equal(flock(held, LOCK_EX), 0);
    const float x[2] = {1, 2};
    const size_t shape[] = {2};
    TU_OK(optcl_npy_write(path, x, shape, 1, message, sizeof message), message);
    tu_list_folder(folder, listing, sizeof listing);
    assert_string_equal(listing, ".a.npy.tmp.BBBBBB,.a.npy.tmp.CCCCCCC,.b.npy.tmp.DDDDDD,a.npy");
    close(held); /* the writer died: the next save removes its temporary too */
    TU_OK(optcl_npy_write(path, x, shape, 1, message, sizeof message), message);
    tu_list_folder(folder, listing, sizeof listing);
    assert_string_equal(listing, ".a.npy.tmp.CCCCCCC,.b.npy.tmp.DDDDDD,a.npy");
}

static void test_write_replaces(void **state)
{
    (void)state;
    char folder[512], path[512], message[512] = "", listing[1024];
    assert_int_equal(mkdir(tu_path_in(folder, sizeof folder, "replace"), 0700), 0);
    tu_path_in(path, sizeof path, "replace/state.npy");

    const float first[3] = {1, 2, 3}, second[5] = {5, 6, 7, 8, 9};
    const size_t s3[] = {3}, s5[] = {5};
    TU_OK(optcl_npy_write(path, first, s3, 1, message, sizeof message), message);
    TU_OK(optcl_npy_write(path, second, s5, 1, message, sizeof message), message);

    optcl_array a;
    TU_OK(optcl_npy_read(path, &a, message, sizeof message), message);
    assert_int_equal(a.count, 5);
    assert_memory_equal(a.data, second, sizeof second);
    optcl_array_free(&a);

    /* Nothing but the target: no temporary left behind. */
    tu_list_folder(folder, listing, sizeof listing);
    assert_string_equal(listing, "state.npy");

    /* A refused write (ndim out of range) leaves the old file as it was, and no temporary. */
    assert_int_equal(optcl_npy_write(path, second, s5, 9, message, sizeof message),
                     OPTCL_ERROR_INVALID_ARGUMENT);
    assert_non_null(strstr(message, path));
    assert_int_equal(optcl_npy_write(path, NULL, s5, 1, message, sizeof message),
                     OPTCL_ERROR_NULL_POINTER);
    assert_int_equal(optcl_npy_write(NULL, second, s5, 1, NULL, 0), OPTCL_ERROR_NULL_POINTER);
    const size_t huge[] = {(size_t)1 << 62, 8};
    assert_int_equal(optcl_npy_write(path, second, huge, 2, NULL, 0),
                     OPTCL_ERROR_INVALID_ARGUMENT);
    TU_OK(optcl_npy_read(path, &a, message, sizeof message), message);
    assert_int_equal(a.count, 5);
    optcl_array_free(&a);
    tu_list_folder(folder, listing, sizeof listing);
    assert_string_equal(listing, "state.npy");

    /* A rename that fails (the target is a folder) removes the temporary it had written. */
    char sub[512];
    assert_int_equal(mkdir(tu_path_in(sub, sizeof sub, "replace/sub"), 0700), 0);
    assert_int_equal(optcl_npy_write(sub, second, s5, 1, message, sizeof message),
                     OPTCL_ERROR_IO);
    assert_non_null(strstr(message, sub));
    tu_list_folder(folder, listing, sizeof listing);
    assert_string_equal(listing, "state.npy,sub");
    /* A path naming a folder is refused before anything is created. */
    strcat(sub, "/");
    assert_int_equal(optcl_npy_write(sub, second, s5, 1, message, sizeof message),
                     OPTCL_ERROR_INVALID_ARGUMENT);
    tu_list_folder(folder, listing, sizeof listing);
    assert_string_equal(listing, "state.npy,sub");
}

/* A reserved temporary (host/atomic_file.h, what optcl replay writes its outputs through): made
 * with the replaced file's mode or fopen's, named within NAME_MAX, locked against other saves'
 * cleaners; a save into it replaces it, after which relock locks the new file; place renames
 * it over the path, release removes it; a temporary removed while unlocked fails the relock. */
static void test_reserved_temporary(void **state)
{
    (void)state;
    char folder[512], path[512], message[512] = "", listing[1024];
    assert_int_equal(mkdir(tu_path_in(folder, sizeof folder, "reserved"), 0700), 0);
    tu_path_in(path, sizeof path, "reserved/a.npy");
    const float x[2] = {1, 2}, y[3] = {3, 4, 5};
    const size_t s2[] = {2}, s3[] = {3};
    mode_t mask = umask(022);
    struct stat st;

    /* a new file: 0666 less the umask */
    optcl__atomic_reserved r;
    TU_OK(optcl__atomic_reserve(&r, path, message, sizeof message), message);
    assert_int_equal(stat(r.tmp_path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644);
    /* another save to the path leaves it (locked), the save into it keeps its mode */
    TU_OK(optcl_npy_write(path, x, s2, 1, message, sizeof message), message);
    assert_int_equal(access(r.tmp_path, F_OK), 0);
    TU_OK(optcl_npy_write(r.tmp_path, y, s3, 1, message, sizeof message), message);
    TU_OK(optcl__atomic_relock(&r, message, sizeof message), message);
    TU_OK(optcl_npy_write(path, x, s2, 1, message, sizeof message), message);
    assert_int_equal(access(r.tmp_path, F_OK), 0); /* locked again */
    assert_int_equal(chmod(path, 0604), 0);
    TU_OK(optcl__atomic_place(&r, message, sizeof message), message);
    assert_null(r.tmp_path);
    optcl_array a;
    TU_OK(optcl_npy_read(path, &a, message, sizeof message), message);
    assert_int_equal(a.count, 3);
    optcl_array_free(&a);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644); /* the temporary's, made for a new file */

    /* a replaced file's mode; release removes the temporary and leaves the path alone */
    assert_int_equal(chmod(path, 0640), 0);
    TU_OK(optcl__atomic_reserve(&r, path, message, sizeof message), message);
    assert_int_equal(stat(r.tmp_path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0640);
    optcl__atomic_release(&r);
    optcl__atomic_release(&r); /* released: nothing left to do */
    tu_list_folder(folder, listing, sizeof listing);
    assert_string_equal(listing, "a.npy");

    /* a temporary a save replaced, found unlocked and removed before the relock */
    TU_OK(optcl__atomic_reserve(&r, path, message, sizeof message), message);
    TU_OK(optcl_npy_write(r.tmp_path, y, s3, 1, message, sizeof message), message);
    TU_OK(optcl_npy_write(path, x, s2, 1, message, sizeof message), message); /* its cleaner */
    assert_int_equal(optcl__atomic_relock(&r, message, sizeof message), OPTCL_ERROR_IO);
    assert_non_null(strstr(message, "was removed while it was written"));
    optcl__atomic_release(&r);

    /* a name of 255 bytes: the temporary's is cut to fit */
    char name[256], longer[800];
    memset(name, 'n', 251);
    memcpy(name + 251, ".npy", 5);
    snprintf(longer, sizeof longer, "%s/%s", folder, name);
    TU_OK(optcl__atomic_reserve(&r, longer, message, sizeof message), message);
    assert_true(strlen(strrchr(r.tmp_path, '/') + 1) <= 255);
    TU_OK(optcl_npy_write(r.tmp_path, y, s3, 1, message, sizeof message), message);
    TU_OK(optcl__atomic_relock(&r, message, sizeof message), message);
    TU_OK(optcl__atomic_place(&r, message, sizeof message), message);
    TU_OK(optcl_npy_read(longer, &a, message, sizeof message), message);
    assert_int_equal(a.count, 3);
    optcl_array_free(&a);
    umask(mask);

    /* the folder missing: nothing is reserved, the message names the path */
    char nowhere[600];
    snprintf(nowhere, sizeof nowhere, "%s/no/such.npy", folder);
    assert_int_equal(optcl__atomic_reserve(&r, nowhere, message, sizeof message), OPTCL_ERROR_IO);
    assert_non_null(strstr(message, nowhere));
    assert_null(r.tmp_path);
    optcl__atomic_release(&r);
}

static void test_write_relative_path(void **state)
{
    (void)state;
    char folder[512], cwd[4096], message[512] = "", listing[1024];
    assert_int_equal(mkdir(tu_path_in(folder, sizeof folder, "relative"), 0700), 0);
    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(chdir(folder), 0);

    /* A bare file name: the temporary goes into the current folder. */
    const float x = 7.0f;
    optcl_status st = optcl_npy_write("bare.npy", &x, NULL, 0, message, sizeof message);
    optcl_array a;
    optcl_status rst = optcl_npy_read("bare.npy", &a, message, sizeof message);
    assert_int_equal(chdir(cwd), 0);
    TU_OK(st, message);
    TU_OK(rst, message);
    assert_true(a.count == 1 && a.data[0] == 7.0f);
    optcl_array_free(&a);
    tu_list_folder(folder, listing, sizeof listing);
    assert_string_equal(listing, "bare.npy");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_header_matches_numpy),
        cmocka_unit_test(test_read_versions),
        cmocka_unit_test(test_read_scalar_and_empty),
        cmocka_unit_test(test_read_bad_files),
        cmocka_unit_test(test_read_unsized),
        cmocka_unit_test(test_read_messages),
        cmocka_unit_test(test_write_missing_folder),
        cmocka_unit_test(test_write_replaces),
        cmocka_unit_test(test_write_removes_abandoned_temporaries),
        cmocka_unit_test(test_reserved_temporary),
        cmocka_unit_test(test_write_relative_path),
    };
    return cmocka_run_group_tests(tests, tu_group_dir_setup, tu_group_dir_teardown);
}

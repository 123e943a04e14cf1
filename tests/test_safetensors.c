/* test_safetensors.c — safetensors checkpoints: round trips, files laid out as Python writes
 * them, every kind of malformed file (truncations, bit flips, bad headers), crash-safe writes,
 * and the strict JSON reader underneath. */
#include "testutil.h"

#include "../host/json.h"
#include "../host/safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdalign.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A safetensors image in buf: the length field (length_field, or the padded header's length
 * when it is UINT64_MAX), the header padded with spaces to a multiple of 8 as the reference
 * writer does, then data_len bytes (data, or a pattern of floats 1, 2, 3, … when NULL). */
static size_t make_st(unsigned char *buf, size_t size, uint64_t length_field, const char *header,
                      const void *data, size_t data_len)
{
    size_t hlen = strlen(header), padded = (hlen + 7) / 8 * 8;
    assert_true(8 + padded + data_len <= size);
    uint64_t field = length_field == UINT64_MAX ? padded : length_field;
    for (int i = 0; i < 8; i++)
        buf[i] = (unsigned char)(field >> (8 * i));
    memcpy(buf + 8, header, hlen);
    memset(buf + 8 + hlen, ' ', padded - hlen);
    if (data)
        memcpy(buf + 8 + padded, data, data_len);
    for (size_t i = 0; !data && i < data_len; i++) {
        float x = (float)(i / 4 + 1);
        buf[8 + padded + i] = ((const unsigned char *)&x)[i % 4];
    }
    return 8 + padded + data_len;
}

static void assert_empty(const optcl__st_file *f)
{
    assert_int_equal(f->tensor_count, 0);
    assert_null(f->tensors);
    assert_int_equal(f->meta_count, 0);
    assert_null(f->meta);
    assert_null(f->storage);
}

/* Reads path expecting status; the message starts with the path and contains want. The
 * header-only read of a regular file refuses it alike: its size stands in for the data. */
static void expect_failure(const char *path, optcl_status status, const char *want)
{
    for (int header_only = 0; header_only < 2; header_only++) {
        optcl__st_file f;
        memset(&f, 0xAB, sizeof f); /* proves that a failure empties *out */
        char message[1024] = "";
        optcl_status st = (header_only ? optcl__st_read_header : optcl__st_read)(path, &f, message,
                                                                                 sizeof message);
        if (st != status || strncmp(message, path, strlen(path)) != 0 || !strstr(message, want))
            fail_msg("%sexpected %s containing \"%s\", got %s: %s",
                     header_only ? "header only: " : "", optcl_status_name(status), want,
                     optcl_status_name(st), message);
        assert_empty(&f);
    }
}

/* A hand-made file with this header and data_len bytes of data must be refused (FORMAT). */
static void expect_bad(const char *header, size_t data_len, const char *want)
{
    static unsigned char buf[4096];
    char path[512];
    tu_path_in(path, sizeof path, "bad.safetensors");
    tu_write_file(path, buf, make_st(buf, sizeof buf, UINT64_MAX, header, NULL, data_len));
    expect_failure(path, OPTCL_ERROR_FORMAT, want);
}

/* ------------------------------------------------------------------------------------------ */

static const char *const meta_values[] = {
    "plain", "quote \" and backslash \\ and slash /", "line\nbreak\ttab\r\x01\x1f",
    "unicode \xc3\xa9\xe2\x88\x91\xf0\x9f\x98\x80", ""};

static void test_round_trip(void **state)
{
    (void)state;
    float scalar = 3.5f, vec[5], cube[24], nothing = 0;
    uint64_t seed = 42;
    tu_fill_random(vec, 5, &seed, -1, 1);
    tu_fill_random(cube, 24, &seed, -1e6f, 1e6f);
    vec[1] = -0.0f;
    const optcl__st_tensor t[] = {
        {"step", 0, {0}, &scalar, 1, OPTCL_DTYPE_F32},
        {"w", 1, {5}, vec, 5, OPTCL_DTYPE_F32},
        {"optim.exp_avg.layer \"1\"", 3, {2, 3, 4}, cube, 24, OPTCL_DTYPE_F32},
        {"empty", 1, {0}, NULL, 0, OPTCL_DTYPE_F32},
        {"empty2d \xe2\x88\x85", 3, {3, 0, 2}, &nothing, 0, OPTCL_DTYPE_F32},
    };
    const optcl__st_meta meta[] = {
        {"format", meta_values[0]}, {"q\"uo\\te", meta_values[1]}, {"ctl", meta_values[2]},
        {"\xf0\x9f\x98\x80", meta_values[3]}, {"empty", meta_values[4]}};
    const size_t nt = sizeof t / sizeof t[0], nm = sizeof meta / sizeof meta[0];
    char path[512], message[1024] = "";
    tu_path_in(path, sizeof path, "rt.safetensors");
    TU_OK(optcl__st_write(path, t, nt, meta, nm, message, sizeof message), message);

    optcl__st_file f;
    TU_OK(optcl__st_read(path, &f, message, sizeof message), message);
    assert_int_equal(f.tensor_count, nt);
    for (size_t i = 0; i < nt; i++) {
        const struct optcl__st_entry *e = &f.tensors[i];
        assert_string_equal(e->name, t[i].name); /* the caller's order */
        assert_int_equal(e->ndim, t[i].ndim);
        for (int d = 0; d < t[i].ndim; d++)
            assert_int_equal(e->shape[d], t[i].shape[d]);
        assert_int_equal(e->count, t[i].count);
        assert_non_null(e->data);
        assert_int_equal((uintptr_t)e->data % alignof(float), 0);
        if (t[i].count)
            assert_memory_equal(e->data, t[i].data, t[i].count * sizeof(float));
        assert_ptr_equal(optcl__st_find(&f, t[i].name), e);
    }
    assert_int_equal((uintptr_t)f.tensors[0].data % 64, 0);
    assert_null(optcl__st_find(&f, "missing"));
    assert_null(optcl__st_find(&f, "__metadata__"));
    assert_int_equal(f.meta_count, nm);
    for (size_t i = 0; i < nm; i++) {
        assert_string_equal(f.meta[i].key, meta[i].key);
        assert_string_equal(f.meta[i].value, meta[i].value);
        assert_string_equal(optcl__st_meta_get(&f, meta[i].key), meta[i].value);
    }
    assert_null(optcl__st_meta_get(&f, "absent"));
    optcl__st_free(&f);
    assert_empty(&f);
    optcl__st_free(&f);  /* twice is harmless */
    optcl__st_free(NULL);

    /* The header: 8-aligned, "__metadata__" first, JSON, then only spaces; then the data. */
    size_t len;
    unsigned char *bytes = tu_read_file(path, &len);
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--)
        n = n << 8 | bytes[i];
    assert_int_equal((8 + n) % 8, 0);
    assert_int_equal(len, 8 + n + (1 + 5 + 24) * sizeof(float));
    assert_memory_equal(bytes + 8, "{\"__metadata__\":{", 17);
    optcl__json_doc doc;
    TU_OK(optcl__json_parse((const char *)bytes + 8, (size_t)n, &doc, message, sizeof message),
          message);
    const optcl__json_value *m = optcl__json_get(&doc, &doc.values[0], "__metadata__");
    assert_non_null(m);
    assert_string_equal(optcl__json_get(&doc, m, "ctl")->string, meta_values[2]);
    optcl__json_free(&doc);
    size_t end = 8 + (size_t)n;
    while (end > 8 && bytes[end - 1] == ' ')
        end--;
    assert_int_equal(bytes[end - 1], '}');
    free(bytes);
}

/* Byte for byte what Python's safetensors writes for the same tensor and metadata. */
static void test_write_matches_python(void **state)
{
    (void)state;
    static const char expected[] =
        "{\"__metadata__\":{\"format\":\"pt\"},\"a\":{\"dtype\":\"F32\",\"shape\":[2],"
        "\"data_offsets\":[0,8]}}";
    static unsigned char want[256];
    const float a[2] = {1.0f, 2.0f};
    size_t want_len = make_st(want, sizeof want, UINT64_MAX, expected, a, sizeof a);
    const optcl__st_tensor t = {"a", 1, {2}, a, 2, OPTCL_DTYPE_F32};
    const optcl__st_meta meta = {"format", "pt"};
    char path[512], message[512] = "";
    tu_path_in(path, sizeof path, "py.safetensors");
    TU_OK(optcl__st_write(path, &t, 1, &meta, 1, message, sizeof message), message);
    size_t len;
    unsigned char *bytes = tu_read_file(path, &len);
    assert_int_equal(len, want_len);
    assert_memory_equal(bytes, want, len);
    free(bytes);

    /* No tensors and no metadata: "{}" and its padding. */
    TU_OK(optcl__st_write(path, NULL, 0, NULL, 0, message, sizeof message), message);
    bytes = tu_read_file(path, &len);
    assert_int_equal(len, 16);
    assert_memory_equal(bytes, "\x08\0\0\0\0\0\0\0{}      ", 16);
    free(bytes);
    optcl__st_file f;
    TU_OK(optcl__st_read(path, &f, message, sizeof message), message);
    assert_int_equal(f.tensor_count, 0);
    assert_int_equal(f.meta_count, 0);
    optcl__st_free(&f);
}

/* Files as other writers lay them out: the reference (dtype-then-name data order, which need
 * not be the header's order), pretty-printed JSON, no metadata. */
static void test_read_handmade(void **state)
{
    (void)state;
    static unsigned char buf[1024];
    const float data[5] = {10, 20, 30, 40, 50}; /* "b" [1, 2] first, then "a" [3] */
    char path[512], message[512] = "";
    tu_path_in(path, sizeof path, "hand.safetensors");
    const char *headers[] = {
        "{\"__metadata__\":{\"format\":\"pt\"},\"a\":{\"dtype\":\"F32\",\"shape\":[3],"
        "\"data_offsets\":[8,20]},\"b\":{\"dtype\":\"F32\",\"shape\":[1,2],"
        "\"data_offsets\":[0,8]}}",
        "{\n  \"b\": {\"data_offsets\": [0, 8], \"shape\": [1, 2], \"dtype\": \"F32\"},\n"
        "  \"a\": {\"shape\": [3], \"dtype\": \"F32\", \"data_offsets\": [8, 20]}\n}\n",
        "{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[8,20]},\"__metadata__\":{},"
        "\"b\":{\"dtype\":\"F32\",\"shape\":[1,2],\"data_offsets\":[0,8]}}",
    };
    for (size_t h = 0; h < 3; h++) {
        tu_write_file(path, buf, make_st(buf, sizeof buf, UINT64_MAX, headers[h], data, 20));
        optcl__st_file f;
        TU_OK(optcl__st_read(path, &f, message, sizeof message), message);
        assert_int_equal(f.tensor_count, 2);
        const struct optcl__st_entry *a = optcl__st_find(&f, "a"), *b = optcl__st_find(&f, "b");
        assert_non_null(a);
        assert_non_null(b);
        assert_true(a->ndim == 1 && a->shape[0] == 3 && a->count == 3);
        assert_true(b->ndim == 2 && b->shape[0] == 1 && b->shape[1] == 2 && b->count == 2);
        assert_memory_equal(b->data, data, 8);
        assert_memory_equal(a->data, data + 2, 12);
        assert_int_equal(f.meta_count, h == 0);
        if (h == 0)
            assert_string_equal(optcl__st_meta_get(&f, "format"), "pt");
        /* the header alone: the same tensors and metadata, no data */
        optcl__st_file head;
        TU_OK(optcl__st_read_header(path, &head, message, sizeof message), message);
        assert_int_equal(head.tensor_count, 2);
        for (size_t i = 0; i < 2; i++) {
            const struct optcl__st_entry *e = &head.tensors[i], *full = &f.tensors[i];
            assert_string_equal(e->name, full->name);
            assert_true(e->ndim == full->ndim && e->count == full->count &&
                        e->dtype == full->dtype && e->data == NULL);
            assert_memory_equal(e->shape, full->shape, sizeof e->shape);
        }
        assert_int_equal(head.meta_count, f.meta_count);
        if (h == 0)
            assert_string_equal(optcl__st_meta_get(&head, "format"), "pt");
        optcl__st_free(&head);
        optcl__st_free(&f);
    }
}

/* The header-only read never touches the data: a sparse file declaring 64 GiB of F32 data (a
 * whole read would allocate and read all of it) reads at once. */
static void test_header_only(void **state)
{
    (void)state;
    static unsigned char buf[256];
    const uint64_t big = (uint64_t)1 << 36;
    char header[256], path[512], message[512] = "";
    snprintf(header, sizeof header,
             "{\"__metadata__\":{\"k\":\"v\"},\"w\":{\"dtype\":\"F32\",\"shape\":[%llu],"
             "\"data_offsets\":[0,%llu]}}",
             (unsigned long long)(big / 4), (unsigned long long)big);
    tu_path_in(path, sizeof path, "sparse.safetensors");
    size_t len = make_st(buf, sizeof buf, UINT64_MAX, header, NULL, 0);
    tu_write_file(path, buf, len);
    int fd = open(path, O_WRONLY);
    assert_true(fd >= 0);
    if (ftruncate(fd, (off_t)(len + big)) != 0) { /* a file system without sparse files */
        close(fd);
        unlink(path);
        skip();
    }
    close(fd);
    optcl__st_file f;
    TU_OK(optcl__st_read_header(path, &f, message, sizeof message), message);
    assert_int_equal(f.tensor_count, 1);
    assert_true(f.tensors[0].count == big / 4 && f.tensors[0].data == NULL);
    assert_string_equal(optcl__st_meta_get(&f, "k"), "v");
    optcl__st_free(&f);
    unlink(path);
}

/* BF16 and F16 tensors: written rounded to nearest even (little-endian 16 bits), read back
 * widened; an F32 tensor after an odd number of 2-byte elements sits at an offset not a
 * multiple of 4 and still reads exactly; the header names each type and counts 2 bytes an
 * element. */
static void test_bf16(void **state)
{
    (void)state;
    const float h[3] = {1.0f + 1.0f / 256.0f, -3.0f, 0.1f}; /* a tie (to 1), exact, rounded */
    const float q[3] = {1.0f + 1.0f / 2048.0f, -2.0f, 65520.0f}; /* a tie (to 1), exact, Inf */
    const float f[2] = {0.1f, -7.25f};
    const optcl__st_tensor t[] = {{"h", 1, {3}, h, 3, OPTCL_DTYPE_BF16},
                                  {"q", 1, {3}, q, 3, OPTCL_DTYPE_F16},
                                  {"f", 1, {2}, f, 2, OPTCL_DTYPE_F32}};
    char path[512], message[512] = "";
    tu_path_in(path, sizeof path, "bf16.safetensors");
    TU_OK(optcl__st_write(path, t, 3, NULL, 0, message, sizeof message), message);
    size_t len;
    unsigned char *bytes = tu_read_file(path, &len);
    const char *header = "{\"h\":{\"dtype\":\"BF16\",\"shape\":[3],\"data_offsets\":[0,6]},"
                         "\"q\":{\"dtype\":\"F16\",\"shape\":[3],\"data_offsets\":[6,12]},"
                         "\"f\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[12,20]}}";
    size_t padded = (strlen(header) + 7) / 8 * 8;
    assert_int_equal(len, 8 + padded + 20);
    assert_memory_equal(bytes + 8, header, strlen(header));
    static const unsigned char h_bits[6] = {0x80, 0x3F, 0x40, 0xC0, 0xCD, 0x3D};
    assert_memory_equal(bytes + 8 + padded, h_bits, 6); /* 1.0, −3.0, 0.1 → 0x3DCD */
    static const unsigned char q_bits[6] = {0x00, 0x3C, 0x00, 0xC0, 0x00, 0x7C};
    assert_memory_equal(bytes + 8 + padded + 6, q_bits, 6); /* 1.0, −2.0, +Inf */
    free(bytes);
    optcl__st_file file;
    TU_OK(optcl__st_read(path, &file, message, sizeof message), message);
    const struct optcl__st_entry *eh = optcl__st_find(&file, "h"), *ef = optcl__st_find(&file, "f");
    const struct optcl__st_entry *eq = optcl__st_find(&file, "q");
    assert_true(eh && ef && eq);
    assert_int_equal(eh->dtype, OPTCL_DTYPE_BF16);
    assert_int_equal(eq->dtype, OPTCL_DTYPE_F16);
    assert_int_equal(ef->dtype, OPTCL_DTYPE_F32);
    const float want_h[3] = {1.0f, -3.0f, 0.10009765625f};
    const float want_q[3] = {1.0f, -2.0f, INFINITY};
    assert_memory_equal(eh->data, want_h, sizeof want_h);
    assert_memory_equal(eq->data, want_q, sizeof want_q);
    assert_memory_equal(ef->data, f, sizeof f);
    assert_int_equal((uintptr_t)ef->data % sizeof(float), 0);
    optcl__st_free(&file);
}

/* A small valid file: two tensors, one of them empty, and metadata. */
static size_t small_file(unsigned char *buf, size_t size)
{
    return make_st(buf, size, UINT64_MAX,
                   "{\"__metadata__\":{\"k\":\"v\"},\"a\":{\"dtype\":\"F32\",\"shape\":[2],"
                   "\"data_offsets\":[0,8]},\"e\":{\"dtype\":\"F32\",\"shape\":[0],"
                   "\"data_offsets\":[8,8]},\"s\":{\"dtype\":\"F32\",\"shape\":[],"
                   "\"data_offsets\":[8,12]}}",
                   NULL, 12);
}

static void test_truncated(void **state)
{
    (void)state;
    static unsigned char buf[512];
    size_t len = small_file(buf, sizeof buf);
    char path[512], message[512] = "";
    tu_path_in(path, sizeof path, "cut.safetensors");
    tu_write_file(path, buf, len);
    optcl__st_file f;
    TU_OK(optcl__st_read(path, &f, message, sizeof message), message);
    optcl__st_free(&f);
    for (size_t cut = 0; cut < len; cut++) {
        tu_write_file(path, buf, cut);
        expect_failure(path, OPTCL_ERROR_FORMAT, cut < 8 ? "too short" : "");
    }
}

/* Reads a corrupted image: it may be refused, or read if it is still valid, never crash; the
 * header-only read gives the same verdict. */
static optcl_status read_mutant(const char *path, const unsigned char *buf, size_t len)
{
    tu_write_file(path, buf, len);
    optcl__st_file f;
    char message[512] = "", head_message[512] = "";
    optcl_status head = optcl__st_read_header(path, &f, head_message, sizeof head_message);
    optcl__st_free(&f);
    optcl_status st = optcl__st_read(path, &f, message, sizeof message);
    if (head != st || strcmp(head_message, message) != 0)
        fail_msg("header only: %s (%s); whole file: %s (%s)", optcl_status_name(head), head_message,
                 optcl_status_name(st), message);
    assert_true(st == OPTCL_SUCCESS || st == OPTCL_ERROR_FORMAT || st == OPTCL_ERROR_IO);
    if (st == OPTCL_SUCCESS) {
        for (size_t i = 0; i < f.tensor_count; i++) {
            size_t count = 1;
            for (int d = 0; d < f.tensors[i].ndim; d++)
                count *= (size_t)f.tensors[i].shape[d];
            assert_int_equal(count, f.tensors[i].count);
        }
        optcl__st_free(&f);
    } else {
        assert_empty(&f);
        assert_true(strncmp(message, path, strlen(path)) == 0);
    }
    return st;
}

static void test_bit_flips(void **state)
{
    (void)state;
    static unsigned char buf[512];
    size_t len = small_file(buf, sizeof buf);
    char path[512];
    tu_path_in(path, sizeof path, "flip.safetensors");
    /* Every flip in the length field moves the header's end, which no valid file survives. */
    for (int bit = 0; bit < 64; bit++) {
        buf[bit / 8] ^= (unsigned char)(1u << bit % 8);
        assert_int_equal(read_mutant(path, buf, len), OPTCL_ERROR_FORMAT);
        buf[bit / 8] ^= (unsigned char)(1u << bit % 8);
    }
    /* Every bit of the header and the data: a flip in a name or the data may stay valid. */
    size_t valid = 0;
    for (size_t bit = 64; bit < 8 * len; bit++) {
        buf[bit / 8] ^= (unsigned char)(1u << bit % 8);
        valid += read_mutant(path, buf, len) == OPTCL_SUCCESS;
        buf[bit / 8] ^= (unsigned char)(1u << bit % 8);
    }
    assert_true(valid >= 12 * 8); /* at least every flip in the data */
    assert_true(valid < 8 * len / 2);
}

static void test_oversized_header(void **state)
{
    (void)state;
    static unsigned char buf[256];
    char path[512];
    tu_path_in(path, sizeof path, "big.safetensors");
    const char *header = "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}";
    const uint64_t lengths[] = {(uint64_t)1 << 40, UINT64_MAX - 1, OPTCL__ST_MAX_HEADER + 1ull};
    for (size_t i = 0; i < 3; i++) {
        tu_write_file(path, buf, make_st(buf, sizeof buf, lengths[i], header, NULL, 4));
        expect_failure(path, OPTCL_ERROR_FORMAT, "exceeds the limit");
    }
    /* A file long enough for a header over the limit (sparse: nothing is really written) is
     * still refused before anything is allocated or read. */
    int fd = open(path, O_WRONLY);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, 8 + OPTCL__ST_MAX_HEADER + 64), 0);
    assert_int_equal(close(fd), 0);
    expect_failure(path, OPTCL_ERROR_FORMAT, "exceeds the limit");

    tu_write_file(path, buf, make_st(buf, sizeof buf, 1000, header, NULL, 4));
    expect_failure(path, OPTCL_ERROR_FORMAT, "past the end of the file");
}

#define F32(shape, offsets) "{\"dtype\":\"F32\",\"shape\":" shape ",\"data_offsets\":" offsets "}"

static void test_bad_headers(void **state)
{
    (void)state;
    char path[512];
    expect_failure(tu_path_in(path, sizeof path, "missing.safetensors"), OPTCL_ERROR_IO,
                   strerror(ENOENT));
    expect_failure(tu_group_dir(), OPTCL_ERROR_IO, "cannot read");

    expect_bad("", 0, "does not start with '{'");
    expect_bad("hello", 0, "does not start with '{'");
    expect_bad(" {}", 0, "does not start with '{'");
    expect_bad("{hello}", 0, "not valid JSON");
    expect_bad("{} x", 0, "not valid JSON: unexpected text");
    expect_bad("{\"a\":" F32("[1]", "[0,4]") ",}", 4, "expected a string key");
    expect_bad("{\"a\":5}", 0, "tensor 'a' is an integer, not an object");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[2]}}", 8, "tensor 'a' has no 'data_offsets'");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8],\"x\":1}}", 8,
               "tensor 'a' has an unknown field 'x'");
    expect_bad("{\"a\":{\"dtype\":\"F64\",\"shape\":[2],\"data_offsets\":[0,16]}}", 16,
               "tensor 'a': dtype 'F64' is not supported (only F32, BF16, F16 and U8)");
    expect_bad("{\"a\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8,
               "do not match shape [2] F16 (4 bytes)");
    expect_bad("{\"a\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8,
               "data_offsets [0, 8] do not match shape [2] BF16 (4 bytes)");
    expect_bad("{\"w\":{\"dtype\":\"F64\",\"shape\":[2],\"data_offsets\":[0,16]}}", 16,
               "tensor 'w': dtype 'F64'");
    expect_bad("{\"a\":{\"dtype\":32,\"shape\":[2],\"data_offsets\":[0,8]}}", 8,
               "'dtype' is an integer");
    expect_bad("{\"w\":" F32("[2,2]", "[0,12]") "}", 12,
               "tensor 'w': data_offsets [0, 12] do not match shape [2, 2] F32 (16 bytes)");
    expect_bad("{\"a\":" F32("[-2]", "[0,0]") "}", 0, "negative dimension -2");
    expect_bad("{\"a\":" F32("[2.0]", "[0,8]") "}", 8, "not an integer");
    expect_bad("{\"a\":" F32("[1e1]", "[0,40]") "}", 40, "not an integer");
    expect_bad("{\"a\":" F32("2", "[0,8]") "}", 8, "'shape' is an integer, not an array");
    expect_bad("{\"a\":" F32("[1,1,1,1,1,1,1,1,1]", "[0,4]") "}", 4, "9 dimensions");
    expect_bad("{\"a\":" F32("[4611686018427387904,4611686018427387904]", "[0,0]") "}", 0,
               "too large");
    expect_bad("{\"a\":" F32("[99999999999999999999]", "[0,0]") "}", 0, "not an integer");
    expect_bad("{\"a\":" F32("[2]", "[0,8,8]") "}", 8, "not an array of two integers");
    expect_bad("{\"a\":" F32("[2]", "[0]") "}", 8, "not an array of two integers");
    expect_bad("{\"a\":" F32("[2]", "[0.0,8]") "}", 8, "not an array of two integers");
    expect_bad("{\"a\":" F32("[0]", "[-4,-4]") "}", 0, "negative");
    expect_bad("{\"a\":" F32("[0]", "[8,0]") "}", 8, "end before they begin");
    expect_bad("{\"a\":" F32("[2]", "[0,8]") ",\"b\":" F32("[2]", "[4,12]") "}", 12,
               "tensor 'b': data_offsets [4, 12] overlap tensor 'a' [0, 8]");
    expect_bad("{\"a\":" F32("[2]", "[0,8]") ",\"b\":" F32("[2]", "[0,8]") "}", 8, "overlap");
    expect_bad("{\"a\":" F32("[2]", "[0,8]") ",\"b\":" F32("[2]", "[12,20]") "}", 20,
               "tensor 'b': data_offsets [12, 20] leave a gap of 4 bytes after tensor 'a'");
    expect_bad("{\"a\":" F32("[2]", "[4,12]") "}", 12, "gap of 4 bytes at the start");
    expect_bad("{\"a\":" F32("[2]", "[0,8]") "}", 12, "4 unexpected bytes after the tensor data");
    expect_bad("{}", 4, "4 unexpected bytes");
    expect_bad("{\"a\":" F32("[2]", "[0,8]") "}", 4, "run past the end of the data");
    expect_bad("{\"a\":" F32("[2]", "[0,8]") ",\"a\":" F32("[2]", "[8,16]") "}", 16,
               "repeated key 'a'");
    expect_bad("{\"__metadata__\":{\"k\":1},\"a\":" F32("[2]", "[0,8]") "}", 8,
               "'__metadata__' value of 'k' is an integer, not a string");
    expect_bad("{\"__metadata__\":{\"k\":{}}}", 0, "value of 'k' is an object");
    expect_bad("{\"__metadata__\":\"x\"}", 0, "'__metadata__' is a string, not an object");
    expect_bad("{\"__metadata__\":null}", 0, "'__metadata__' is null");
    expect_bad("{\"__metadata__\":{\"k\":\"a\",\"k\":\"b\"}}", 0, "repeated key 'k'");
    expect_bad("{\"__metadata__\":{\"k\":\"a\\u0000b\"}}", 0, "NUL");
    expect_bad("{\"a\\u0000b\":" F32("[2]", "[0,8]") "}", 8, "NUL");
    expect_bad("{\"a\xff\":" F32("[2]", "[0,8]") "}", 8, "invalid UTF-8");
    expect_bad("{\"a\n\":" F32("[2]", "[0,8]") "}", 8, "control character");

    /* NUL padding instead of spaces is not JSON white space. */
    static unsigned char buf[256];
    size_t len = make_st(buf, sizeof buf, UINT64_MAX, "{}", NULL, 0);
    buf[10] = '\0';
    tu_write_file(tu_path_in(path, sizeof path, "nul.safetensors"), buf, len);
    expect_failure(path, OPTCL_ERROR_FORMAT, "not valid JSON");
}

/* Reads bytes through a FIFO, which has no size to check against up front, so the checks made
 * while reading must catch every length problem themselves. */
static optcl_status read_via_fifo(const void *bytes, size_t len, optcl__st_file *f,
                                  char *message, size_t message_size)
{
    char path[512];
    pid_t child = tu_fifo_feed(tu_path_in(path, sizeof path, "pipe.safetensors"), bytes, len);
    optcl_status st = optcl__st_read(path, f, message, message_size);
    tu_fifo_reap(child, path);
    return st;
}

static void test_read_unsized(void **state)
{
    (void)state;
    static unsigned char buf[512];
    const char *header = "{\"a\":" F32("[3]", "[0,12]") "}";
    char message[512] = "";
    optcl__st_file f;
    TU_OK(read_via_fifo(buf, make_st(buf, sizeof buf, UINT64_MAX, header, NULL, 12), &f,
                        message, sizeof message),
          message);
    assert_int_equal(f.tensor_count, 1);
    assert_true(f.tensors[0].data[0] == 1 && f.tensors[0].data[2] == 3);
    optcl__st_free(&f);

    const struct {
        uint64_t length_field;
        size_t data_len;
        const char *want;
    } cases[] = {
        {UINT64_MAX, 16, "unexpected bytes after the 12 bytes of tensor data"},
        {UINT64_MAX, 8, "data is truncated: the tensors need 12 bytes, 8 follow"},
        {500, 12, "header is truncated (500 bytes declared"},
        {OPTCL__ST_MAX_HEADER + 1ull, 12, "exceeds the limit"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t len = make_st(buf, sizeof buf, cases[i].length_field, header, NULL,
                             cases[i].data_len);
        assert_int_equal(read_via_fifo(buf, len, &f, message, sizeof message),
                         OPTCL_ERROR_FORMAT);
        if (!strstr(message, cases[i].want))
            fail_msg("case %zu: expected \"%s\", got: %s", i, cases[i].want, message);
        assert_empty(&f);
    }
}

/* ------------------------------------------------------------------------------------------ */

static void test_write_errors(void **state)
{
    (void)state;
    char folder[512], path[512], message[512] = "", listing[1024];
    assert_int_equal(mkdir(tu_path_in(folder, sizeof folder, "refuse"), 0700), 0);
    tu_path_in(path, sizeof path, "refuse/old.safetensors");
    tu_write_file(path, "old", 3);
    const float x[4] = {1, 2, 3, 4};
    const optcl__st_meta meta[2] = {{"k", "1"}, {"k", "2"}};
    const struct {
        optcl__st_tensor t[2];
        size_t count, meta_count;
        optcl_status status;
        const char *want;
    } cases[] = {
        {{{"a", 1, {2}, x, 2, OPTCL_DTYPE_F32}, {"a", 1, {2}, x + 2, 2, OPTCL_DTYPE_F32}}, 2, 0, OPTCL_ERROR_INVALID_ARGUMENT,
         "tensor name 'a' appears twice"},
        {{{"__metadata__", 1, {2}, x, 2, OPTCL_DTYPE_F32}}, 1, 0, OPTCL_ERROR_INVALID_ARGUMENT, "reserved"},
        {{{"", 1, {2}, x, 2, OPTCL_DTYPE_F32}}, 1, 0, OPTCL_ERROR_INVALID_ARGUMENT, "empty name"},
        {{{"bad\xc3", 1, {2}, x, 2, OPTCL_DTYPE_F32}}, 1, 0, OPTCL_ERROR_INVALID_ARGUMENT, "not valid UTF-8"},
        {{{NULL, 1, {2}, x, 2, OPTCL_DTYPE_F32}}, 1, 0, OPTCL_ERROR_NULL_POINTER, "no name"},
        {{{"a", 1, {2}, x, 3, OPTCL_DTYPE_F32}}, 1, 0, OPTCL_ERROR_SIZE_MISMATCH,
         "count 3 does not match shape [2] (2 elements)"},
        {{{"a", 1, {-2}, x, 0, OPTCL_DTYPE_F32}}, 1, 0, OPTCL_ERROR_INVALID_ARGUMENT, "negative"},
        {{{"a", 9, {2}, x, 2, OPTCL_DTYPE_F32}}, 1, 0, OPTCL_ERROR_INVALID_ARGUMENT, "ndim 9"},
        {{{"a", 2, {(int64_t)1 << 62, 8}, x, 2, OPTCL_DTYPE_F32}}, 1, 0, OPTCL_ERROR_INVALID_ARGUMENT,
         "too large"},
        {{{"a", 1, {2}, NULL, 2, OPTCL_DTYPE_F32}}, 1, 0, OPTCL_ERROR_NULL_POINTER, "data is NULL"},
        {{{"a", 1, {2}, x, 2, OPTCL_DTYPE_F32}}, 1, 2, OPTCL_ERROR_INVALID_ARGUMENT,
         "metadata key 'k' appears twice"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        message[0] = '\0';
        optcl_status st = optcl__st_write(path, cases[i].t, cases[i].count, meta,
                                          cases[i].meta_count, message, sizeof message);
        if (st != cases[i].status || !strstr(message, cases[i].want) ||
            strncmp(message, path, strlen(path)) != 0)
            fail_msg("case %zu: expected %s \"%s\", got %s: %s", i,
                     optcl_status_name(cases[i].status), cases[i].want, optcl_status_name(st),
                     message);
    }
    const optcl__st_meta null_value = {"k", NULL};
    assert_int_equal(optcl__st_write(path, NULL, 0, &null_value, 1, NULL, 0),
                     OPTCL_ERROR_NULL_POINTER);
    assert_int_equal(optcl__st_write(path, NULL, 1, NULL, 0, NULL, 0), OPTCL_ERROR_NULL_POINTER);
    assert_int_equal(optcl__st_write(NULL, NULL, 0, NULL, 0, NULL, 0), OPTCL_ERROR_NULL_POINTER);
    assert_int_equal(optcl__st_read(NULL, NULL, NULL, 0), OPTCL_ERROR_NULL_POINTER);
    assert_int_equal(optcl__st_read(path, NULL, NULL, 0), OPTCL_ERROR_NULL_POINTER);

    /* Every refusal left the old file alone, and no temporary behind. */
    size_t len;
    unsigned char *bytes = tu_read_file(path, &len);
    assert_int_equal(len, 3);
    assert_memory_equal(bytes, "old", 3);
    free(bytes);
    tu_list_folder(folder, listing, sizeof listing);
    assert_string_equal(listing, "old.safetensors");
}

static void test_write_missing_folder(void **state)
{
    (void)state;
    char path[512], folder[512], message[512] = "";
    tu_path_in(folder, sizeof folder, "no_such_folder");
    tu_path_in(path, sizeof path, "no_such_folder/x.safetensors");
    const float x = 1;
    const optcl__st_tensor t = {"x", 0, {0}, &x, 1, OPTCL_DTYPE_F32};
    assert_int_equal(optcl__st_write(path, &t, 1, NULL, 0, message, sizeof message),
                     OPTCL_ERROR_IO);
    assert_non_null(strstr(message, path));
    assert_non_null(strstr(message, strerror(ENOENT)));
    struct stat sb;
    assert_int_not_equal(stat(path, &sb), 0);
    assert_int_not_equal(stat(folder, &sb), 0);
}

static void test_write_replaces(void **state)
{
    (void)state;
    char folder[512], path[512], message[512] = "", listing[1024];
    assert_int_equal(mkdir(tu_path_in(folder, sizeof folder, "replace"), 0700), 0);
    tu_path_in(path, sizeof path, "replace/ckpt.safetensors");
    const float first[3] = {1, 2, 3}, second[5] = {5, 6, 7, 8, 9};
    const optcl__st_tensor t1 = {"p", 1, {3}, first, 3, OPTCL_DTYPE_F32},
                           t2 = {"p", 1, {5}, second, 5, OPTCL_DTYPE_F32};
    const optcl__st_meta m1 = {"step", "1"}, m2 = {"step", "2"};
    TU_OK(optcl__st_write(path, &t1, 1, &m1, 1, message, sizeof message), message);
    TU_OK(optcl__st_write(path, &t2, 1, &m2, 1, message, sizeof message), message);

    optcl__st_file f;
    TU_OK(optcl__st_read(path, &f, message, sizeof message), message);
    assert_int_equal(f.tensor_count, 1);
    assert_int_equal(f.tensors[0].count, 5);
    assert_memory_equal(f.tensors[0].data, second, sizeof second);
    assert_string_equal(optcl__st_meta_get(&f, "step"), "2");
    optcl__st_free(&f);
    tu_list_folder(folder, listing, sizeof listing);
    assert_string_equal(listing, "ckpt.safetensors");
}

/* ------------------------------------------------------------------------------------------ */
/* The JSON reader on its own                                                                  */
/* ------------------------------------------------------------------------------------------ */

static optcl_status parse(const char *text, optcl__json_doc *doc, char *message, size_t size)
{
    return optcl__json_parse(text, strlen(text), doc, message, size);
}

static void expect_json_error(const char *text, const char *want)
{
    optcl__json_doc doc;
    char message[512] = "";
    optcl_status st = parse(text, &doc, message, sizeof message);
    if (st != OPTCL_ERROR_FORMAT || !strstr(message, want))
        fail_msg("\"%s\": expected an error with \"%s\", got %s: %s", text, want,
                 optcl_status_name(st), message);
    assert_null(doc.values);
    assert_null(doc.strings);
}

static void test_json(void **state)
{
    (void)state;
    optcl__json_doc doc;
    char message[512] = "";
    TU_OK(parse(" {\"s\":\"a\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\u20AC\\ud83d\\ude00\","
                "\"i\":[0,-0,9223372036854775807,-9223372036854775808,9223372036854775808,"
                "1.5,-2e3,1E+2],\"t\":true,\"f\":false,\"n\":null,\"o\":{},\"a\":[]} \t\r\n",
                &doc, message, sizeof message),
          message);
    const optcl__json_value *root = &doc.values[0];
    assert_int_equal(root->type, OPTCL__JSON_OBJECT);
    assert_int_equal(root->length, 7);
    const optcl__json_value *s = optcl__json_get(&doc, root, "s");
    assert_string_equal(s->string, "a\"\\/\b\f\n\r\t\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
    const optcl__json_value *v = optcl__json_first(&doc, optcl__json_get(&doc, root, "i"));
    const int64_t ints[] = {0, 0, INT64_MAX, INT64_MIN};
    for (int i = 0; i < 4; i++, v = optcl__json_next(&doc, v)) {
        assert_int_equal(v->type, OPTCL__JSON_INTEGER);
        assert_true(v->integer == ints[i]);
    }
    for (int i = 0; i < 4; i++, v = optcl__json_next(&doc, v))
        assert_int_equal(v->type, OPTCL__JSON_NUMBER);
    assert_null(v);
    assert_int_equal(optcl__json_get(&doc, root, "t")->type, OPTCL__JSON_TRUE);
    assert_int_equal(optcl__json_get(&doc, root, "f")->type, OPTCL__JSON_FALSE);
    assert_int_equal(optcl__json_get(&doc, root, "n")->type, OPTCL__JSON_NULL);
    assert_null(optcl__json_first(&doc, optcl__json_get(&doc, root, "o")));
    assert_null(optcl__json_get(&doc, root, "missing"));
    optcl__json_free(&doc);
    optcl__json_free(&doc);

    const char *errors[][2] = {
        {"", "expected a value"}, {"   ", "expected a value"}, {"{", "expected a string key"},
        {"[1,]", "expected a value"}, {"[1 2]", "expected ',' or ']'"},
        {"{\"a\" 1}", "expected ':'"}, {"{\"a\":1 \"b\":2}", "expected ',' or '}'"},
        {"01", "leading zero"}, {"-", "expected a digit"}, {"1.", "after '.'"},
        {".5", "expected a value"}, {"+1", "expected a value"}, {"1e", "exponent"},
        {"tru", "expected a value"}, {"nulll", "unexpected text"}, {"[] []", "unexpected text"},
        {"\"abc", "unterminated"}, {"\"a\\x\"", "invalid escape"}, {"\"\\u12G4\"", "four hex"},
        {"\"\\ud800\"", "unpaired high"}, {"\"\\ud800\\u0041\"", "unpaired high"},
        {"\"\\udc00\"", "unpaired low"}, {"\"\t\"", "control character"},
        {"\"\xc0\xaf\"", "invalid UTF-8"}, {"\"\xed\xa0\x80\"", "invalid UTF-8"},
        {"\"\xf4\x90\x80\x80\"", "invalid UTF-8"}, {"\"\xe2\x82\"", "invalid UTF-8"},
        {"{\"a\":1,\"b\":2,\"a\":3}", "repeated key 'a'"}, {"'a'", "expected a value"},
    };
    for (size_t i = 0; i < sizeof errors / sizeof errors[0]; i++)
        expect_json_error(errors[i][0], errors[i][1]);

    /* Depth: 64 nested arrays are fine, 65 are not, and a megabyte of '[' fails quickly
     * without recursion. */
    static char deep[1 << 20];
    memset(deep, '[', 64);
    memset(deep + 64, ']', 64);
    TU_OK(optcl__json_parse(deep, 128, &doc, message, sizeof message), message);
    assert_int_equal(doc.count, 64);
    optcl__json_free(&doc);
    memset(deep, '[', 65);
    memset(deep + 65, ']', 65);
    deep[130] = '\0';
    expect_json_error(deep, "nesting deeper than 64");
    memset(deep, '[', sizeof deep - 1);
    deep[sizeof deep - 1] = '\0';
    expect_json_error(deep, "nesting deeper than 64");
}

static void test_json_escape(void **state)
{
    (void)state;
    char text[64], out[512], message[256] = "";
    for (int c = 1; c < 128; c++) {
        snprintf(text, sizeof text, "x%cy\xe2\x82\xac", c);
        size_t n = optcl__json_escape(NULL, 0, text);
        assert_int_equal(optcl__json_escape(out, sizeof out, text), n);
        assert_int_equal(strlen(out), n);
        optcl__json_doc doc;
        TU_OK(optcl__json_parse(out, n, &doc, message, sizeof message), message);
        assert_string_equal(doc.values[0].string, text);
        optcl__json_free(&doc);
    }
    /* Like snprintf: truncated but terminated, and the full length returned. */
    assert_int_equal(optcl__json_escape(out, 4, "a\"b"), 6);
    assert_string_equal(out, "\"a\\");
    assert_true(optcl__json_valid_utf8("\xf0\x9f\x98\x80", 4));
    assert_false(optcl__json_valid_utf8("\xf0\x9f\x98", 3));
    assert_false(optcl__json_valid_utf8("\xff", 1));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),     cmocka_unit_test(test_write_matches_python),
        cmocka_unit_test(test_read_handmade),  cmocka_unit_test(test_header_only),
        cmocka_unit_test(test_bf16),           cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_bit_flips),      cmocka_unit_test(test_oversized_header),
        cmocka_unit_test(test_bad_headers),    cmocka_unit_test(test_read_unsized),
        cmocka_unit_test(test_write_errors),   cmocka_unit_test(test_write_missing_folder),
        cmocka_unit_test(test_write_replaces), cmocka_unit_test(test_json),
        cmocka_unit_test(test_json_escape),
    };
    return cmocka_run_group_tests(tests, tu_group_dir_setup, tu_group_dir_teardown);
}

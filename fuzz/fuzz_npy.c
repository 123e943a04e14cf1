/* fuzz_npy.c — libFuzzer target: the bytes as a .npy file for optcl_npy_read (and, when
 * accepted, written back with optcl_npy_write and read again). See harness.h. */
#include "target.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_setup("input.npy");
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_write_input(data, size);
    fuzz_check(optcl_fuzz_npy);
    return 0;
}

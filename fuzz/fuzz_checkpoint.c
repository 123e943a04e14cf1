/* fuzz_checkpoint.c — libFuzzer target: the bytes as a checkpoint for optcl_checkpoint_inspect
 * and optcl_checkpoint_load on the reference backend; a refused load must change nothing, an
 * accepted one must step and save again. See harness.h. */
#include "target.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_setup("input.safetensors");
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_write_input(data, size);
    fuzz_check(optcl_fuzz_checkpoint);
    return 0;
}

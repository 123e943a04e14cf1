/* fuzz_manifest.c — libFuzzer target: the bytes as a sharded checkpoint's manifest for
 * optcl_mpi_checkpoint_tensors (the manifest's whole parser: keys, versions, the tensor list).
 * See harness.h. */
#include "target.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_setup("manifest");
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_write_input(data, size);
    fuzz_check(optcl_fuzz_manifest);
    return 0;
}

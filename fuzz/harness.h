/* harness.h — what the fuzz targets check for one input file, shared with the cmocka test that
 * replays the seed corpus and every saved crash (tests/test_fuzz_regressions.c), so a crash
 * found once stays fixed in every build. Public API only.
 *
 * Each function reads one file through optcl and checks the library's promises about it. It
 * returns 0 when they held (whether the file was accepted or refused) and 1 with a message in
 * why when one was broken. Crashes, leaks and undefined behaviour are left to the sanitizers.
 * scratch is a folder for the files the round trips write. */
#ifndef OPTCL_FUZZ_HARNESS_H
#define OPTCL_FUZZ_HARNESS_H

#include <stddef.h>

/* optcl_npy_read: refused → the array is empty and the message names the file; accepted →
 * ndim, shape and count agree, and the array written back with optcl_npy_write reads back
 * equal, bit for bit. */
int optcl_fuzz_npy(const char *path, const char *scratch, char *why, size_t why_size);

/* optcl_checkpoint_inspect, then optcl_checkpoint_load into (a) a parameter set and optimizer
 * made from what inspect reported, when it succeeded and is small, and (b) a fixed optimizer
 * (Adam over one tensor "param" of 6 floats, as `optcl replay` saves). Before each load the
 * parameters and every state hold a known pattern. Refused → parameters, every state, the step
 * count, the learning rate and the configuration are unchanged, bit for bit, and the message
 * names the file. Accepted → one step runs, and the state saved again loads again equal. */
int optcl_fuzz_checkpoint(const char *path, const char *scratch, char *why, size_t why_size);

/* For inputs that must be refused (fuzz/regressions/open/): 0 when optcl_checkpoint_inspect
 * refuses the file and optcl_checkpoint_load refuses it into a default optimizer of every
 * algorithm over `optcl replay`'s one tensor "param" (6,); else 1 with what accepted it. */
int optcl_fuzz_checkpoint_refused(const char *path, char *why, size_t why_size);

/* Writes a broken promise into why (printf-style) and returns 1: shared by harness.c and
 * harness_mpi.c. */
int optcl_fuzz__broken(char *why, size_t why_size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* optcl_mpi_checkpoint_tensors (fuzz/harness_mpi.c, where optcl_mpi is built): refused → the
 * outputs are untouched and the message names the file; accepted → the tensors make a
 * parameter set (optcl_params_layout accepts them: valid shapes and groups, unique names). */
int optcl_fuzz_manifest(const char *path, const char *scratch, char *why, size_t why_size);

#endif

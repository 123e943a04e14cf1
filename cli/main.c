/* main.c — the `optcl` command: dispatches to its subcommands. */
#include "cli.h"

#include <stdio.h>
#include <string.h>

static void usage(FILE *out)
{
    fprintf(out, "usage: optcl <command> [options]\n"
                 "\n"
                 "commands:\n"
                 "  devices   list OpenCL platforms and devices with the properties optcl uses\n"
                 "  replay    run an optimizer over gradients from a .npy file and write the\n"
                 "            parameters after every step (optcl replay --help)\n"
                 "  bench     time optimizer steps against the same-bytes traffic kernel\n"
                 "            (optcl bench --help)\n"
                 "  inspect   what a checkpoint (or a sharded one's manifest) holds: the\n"
                 "            optimizer as replay's keys and the model's tensors\n"
                 "\n"
                 "options:\n"
                 "  --help     this text\n"
                 "  --version  print the version\n"
                 "\n"
                 "environment:\n"
                 "  OPTCL_DEVICE      default device: \"P:D\" indices, a name substring, or "
                 "\"reference\"\n"
                 "  OPTCL_KERNEL_DIR  load kernels/*.cl from this folder instead of the embedded "
                 "copies\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(cmd, "--version")) {
        printf("optcl %s\n", OPTCL_VERSION_STRING);
        return 0;
    }
    if (!strcmp(cmd, "devices"))
        return optcl_cli_devices(argc - 1, argv + 1);
    if (!strcmp(cmd, "replay"))
        return optcl_cli_replay(argc - 1, argv + 1);
    if (!strcmp(cmd, "bench"))
        return optcl_cli_bench(argc - 1, argv + 1);
    if (!strcmp(cmd, "inspect"))
        return optcl_cli_inspect(argc - 1, argv + 1);
    fprintf(stderr, "optcl: unknown command '%s' (try optcl --help)\n", cmd);
    return 2;
}

/* main.c — `trajectories [--out DIR] [--quick]`: every optimizer's path on three 2-D losses,
 * computed with optcl on the default device (OPTCL_DEVICE chooses another), drawn as SVG: the
 * classic methods in ravine.svg, rosenbrock.svg and saddle.svg, Adam and the newer ones in
 * ravine_more.svg, rosenbrock_more.svg and saddle_more.svg. */
#include "trajectories.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static void usage(FILE *f)
{
    fprintf(f, "usage: trajectories [--out DIR] [--quick]\n"
               "  --out DIR  folder for the SVG pictures (created if missing; default "
               "trajectories)\n"
               "  --quick    fewer steps, the same pictures\n"
               "The device is optcl's default: OPTCL_DEVICE=reference, =P:D or =name picks "
               "another.\n");
}

int main(int argc, char **argv)
{
    const char *dir = "trajectories";
    int quick = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick")) {
            quick = 1;
        } else if (!strcmp(argv[i], "--out") && i + 1 < argc) {
            dir = argv[++i];
        } else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "trajectories: unknown or incomplete argument '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "trajectories: cannot create folder %s: %s\n", dir, strerror(errno));
        return 1;
    }

    char msg[1024] = "";
    optcl_context *ctx = NULL;
    optcl_status st = optcl_context_create(NULL, &ctx, msg, sizeof msg);
    if (st != OPTCL_SUCCESS) {
        fprintf(stderr, "trajectories: optcl_context_create: %s: %s\n", optcl_status_name(st), msg);
        return 1;
    }
    printf("device: %s\n", optcl_context_device_name(ctx));

    traj_summary summary;
    st = traj_write_pictures(ctx, dir, quick, &summary, msg, sizeof msg);
    if (st != OPTCL_SUCCESS)
        fprintf(stderr, "trajectories: %s\n", msg);
    optcl_status dst = optcl_context_destroy(ctx);
    if (dst != OPTCL_SUCCESS)
        fprintf(stderr, "trajectories: optcl_context_destroy: %s\n", optcl_status_name(dst));
    if (st != OPTCL_SUCCESS || dst != OPTCL_SUCCESS)
        return 1;

    for (int l = 0; l < TRAJ_LOSS_COUNT; l++) {
        traj_point m = traj_loss_minimum((traj_loss)l);
        printf("%s (%d steps, minimum at (%g, %g)): end points\n", traj_loss_name((traj_loss)l),
               summary.steps[l], m.x, m.y);
        for (int k = 0; k < TRAJ_METHOD_COUNT; k++) {
            traj_point e = summary.end[l][k];
            printf("  %-18s (%+9.4f, %+9.4f)  f %.3g\n", traj_method_name((traj_method)k), e.x, e.y,
                   traj_loss_value((traj_loss)l, e.x, e.y, NULL));
        }
    }
    printf("pictures:\n");
    for (int p = 0; p < TRAJ_PICTURE_COUNT; p++)
        printf("  %s/%s\n", dir, traj_picture_file((traj_picture)p));
    return 0;
}

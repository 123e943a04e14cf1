/* losses.c — the three 2-D losses of the trajectories sample (value and gradient in double
 * precision on the host), their starting points and minima. */
#include "trajectories.h"

#include <math.h>

/* The ravine's valley runs at 30° to the x axis: an axis-aligned ravine would hide that Rprop,
 * RMSprop and Adam scale each coordinate on its own (their paths are not rotation-invariant). */
#define RAVINE_COS 0.86602540378443865 /* cos 30° */
#define RAVINE_SIN 0.5
#define RAVINE_STIFF 25.0 /* curvature across the valley; 1 along it */

double traj_loss_value(traj_loss loss, double x, double y, double grad[2])
{
    double f = NAN, gx = NAN, gy = NAN;
    switch (loss) {
    case TRAJ_RAVINE: {
        double u = RAVINE_COS * x + RAVINE_SIN * y;  /* along the valley */
        double v = -RAVINE_SIN * x + RAVINE_COS * y; /* across it */
        f = 0.5 * (u * u + RAVINE_STIFF * v * v);
        gx = u * RAVINE_COS - RAVINE_STIFF * v * RAVINE_SIN;
        gy = u * RAVINE_SIN + RAVINE_STIFF * v * RAVINE_COS;
        break;
    }
    case TRAJ_ROSENBROCK: {
        double r = y - x * x;
        f = (1.0 - x) * (1.0 - x) + 100.0 * r * r;
        gx = -2.0 * (1.0 - x) - 400.0 * x * r;
        gy = 200.0 * r;
        break;
    }
    case TRAJ_SADDLE: /* bounded below by the quartic: min −2 at (0, ±2) */
        f = x * x - y * y + 0.125 * y * y * y * y;
        gx = 2.0 * x;
        gy = -2.0 * y + 0.5 * y * y * y;
        break;
    default:
        break;
    }
    if (grad) {
        grad[0] = gx;
        grad[1] = gy;
    }
    return f;
}

const char *traj_loss_name(traj_loss loss)
{
    static const char *names[TRAJ_LOSS_COUNT] = {"ravine", "rosenbrock", "saddle"};
    return (unsigned)loss < TRAJ_LOSS_COUNT ? names[loss] : "unknown";
}

traj_point traj_loss_start(traj_loss loss)
{
    static const traj_point starts[TRAJ_LOSS_COUNT] = {
        {-4.0, -0.5}, /* ravine: far along the valley and off its floor */
        {-1.5, 2.0},  /* Rosenbrock: the classic start on the far side of the banana */
        {-2.5, 0.01}, /* saddle: almost on the ridge that leads into the saddle point */
    };
    return (unsigned)loss < TRAJ_LOSS_COUNT ? starts[loss] : (traj_point){NAN, NAN};
}

traj_point traj_loss_minimum(traj_loss loss)
{
    static const traj_point minima[TRAJ_LOSS_COUNT] = {{0.0, 0.0}, {1.0, 1.0}, {0.0, 2.0}};
    return (unsigned)loss < TRAJ_LOSS_COUNT ? minima[loss] : (traj_point){NAN, NAN};
}

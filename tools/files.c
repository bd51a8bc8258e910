/* pathint command: data and model files, and the scatter plot written for a .png output. */
#include "commands.h"
#include "messages.h"
#include "plot.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int is_png(const char *path)
{
    size_t n = strlen(path);
    return n >= 4 && strcmp(path + n - 4, ".png") == 0;
}

int load_data(const char *path, float **data, size_t *n, size_t *dim)
{
    pi_status st = pi_data_load(path, data, n, dim);
    if (st)
        return fail_status(st, "cannot load data from '%s'", path);
    return 0;
}

int save_data(const char *path, size_t n, size_t dim, const float *data)
{
    if (strcmp(path, "-") == 0) {
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < dim; j++)
                printf("%.9g%c", data[i * dim + j], j + 1 < dim ? ',' : '\n');
        return fflush(stdout) == 0 ? 0 : fail_runtime("cannot write to stdout: %s", strerror(errno));
    }
    pi_status st = pi_data_save(path, n, dim, data);
    if (st)
        return fail_status(st, "cannot write '%s'", path);
    return 0;
}

int check_output(const char *path)
{
    if (path == NULL || strcmp(path, "-") == 0)
        return 0;
    struct stat info;
    if (stat(path, &info) == 0 && !S_ISREG(info.st_mode))
        return fail_runtime("cannot write '%s': not a regular file", path);
    /* The save writes a temporary next to the target and renames it: the directory must let
     * us create files. */
    const char *slash = strrchr(path, '/');
    char *dir = slash ? malloc((size_t)(slash - path) + 2) : NULL;
    if (slash && !dir)
        return fail_runtime("out of memory");
    if (dir) {
        size_t len = slash == path ? 1 : (size_t)(slash - path);
        memcpy(dir, path, len);
        dir[len] = '\0';
    }
    int ok = access(dir ? dir : ".", W_OK | X_OK) == 0;
    int err = errno;
    free(dir);
    if (!ok)
        return fail_runtime("cannot write '%s': %s (checked before the computation)", path,
                            strerror(err));
    return 0;
}

int load_model(const char *path, pi_model_t **model)
{
    pi_status st = pi_model_load(path, model);
    if (st)
        return fail_status(st, "cannot load model '%s'", path);
    return 0;
}

void data_bounds(size_t n, size_t dim, const float *x, double *lo, double *hi)
{
    /* A square window around the central 99.5% of both coordinates. */
    double xmin = INFINITY, xmax = -INFINITY;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < 2 && j < dim; j++) {
            double v = x[i * dim + j];
            if (isfinite(v)) {
                xmin = fmin(xmin, v);
                xmax = fmax(xmax, v);
            }
        }
    if (!(xmax > xmin)) {
        xmin = -1;
        xmax = 1;
    }
    double pad = 0.08 * (xmax - xmin);
    *lo = xmin - pad;
    *hi = xmax + pad;
}

int write_scatter_png(const char *path, size_t n, size_t dim, const float *x, const char *title)
{
    if (dim < 2)
        return fail_runtime("a PNG scatter plot needs points of dimension >= 2 (these have %zu)", dim);
    plot_canvas c;
    if (plot_canvas_init(&c, 640, 680, 0xFFFFFF))
        return fail_runtime("out of memory");
    double lo, hi;
    data_bounds(n, dim, x, &lo, &hi);
    plot_panel p = {50, 50, 560, 560, lo, hi, lo, hi};
    plot_scatter(&c, &p, n, dim, x, 1.4, 0x1f4e99, n > 5000 ? 0.25 : 0.5);
    plot_panel_frame(&c, &p, title);
    plot_panel_ticks(&c, &p, 6, 6);
    char err[512];
    int rc = plot_write_png(&c, path, err, sizeof err);
    plot_canvas_free(&c);
    return rc ? fail_runtime("%s", err) : 0;
}

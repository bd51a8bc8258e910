/* pathint command: progress on stderr and the step callbacks (progress.h). */
#include "progress.h"

#include "messages.h"

#include <math.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void format_duration(char *buf, size_t len, double s)
{
    if (!isfinite(s) || s < 0)
        snprintf(buf, len, "?");
    else if (s < 60)
        snprintf(buf, len, "%.0fs", s);
    else if (s < 3600)
        snprintf(buf, len, "%d:%02d", (int)s / 60, (int)s % 60);
    else
        snprintf(buf, len, "%dh%02d", (int)s / 3600, ((int)s % 3600) / 60);
}

void progress_begin(progress *p, const char *label, uint64_t total)
{
    p->label = label;
    p->total = total ? total : 1;
    p->start = p->last_draw = now_seconds();
    p->tty = isatty(STDERR_FILENO);
    p->last_tenth = 0;
    p->active = !quiet;
}

void progress_update(progress *p, uint64_t done, const char *extra, int final)
{
    if (!p->active)
        return;
    double t = now_seconds(), elapsed = t - p->start;
    double rate = elapsed > 0 ? (double)done / elapsed : 0.0;
    double eta = rate > 0 ? (double)(p->total - (done < p->total ? done : p->total)) / rate : NAN;
    char eta_s[32], el_s[32];
    format_duration(eta_s, sizeof eta_s, eta);
    format_duration(el_s, sizeof el_s, elapsed);
    int percent = (int)(100.0 * (double)done / (double)p->total);
    if (p->tty) {
        if (!final && t - p->last_draw < 0.1)
            return;
        p->last_draw = t;
        enum { BAR = 24 };
        char bar[BAR + 1];
        int fill = (int)((double)BAR * (double)done / (double)p->total);
        for (int i = 0; i < BAR; i++)
            bar[i] = i < fill ? '#' : '-';
        bar[BAR] = 0;
        fprintf(stderr, "\r%-8s [%s] %3d%% %llu/%llu  %.0f/s  %s %s%s%s\033[K", p->label, bar, percent,
                (unsigned long long)done, (unsigned long long)p->total, rate,
                final ? "in" : "ETA", final ? el_s : eta_s, extra ? "  " : "", extra ? extra : "");
        if (final)
            fputc('\n', stderr);
    } else {
        /* Plain lines: at most one per tenth of the work and per second, then a final one. */
        int tenth = (int)(10.0 * (double)done / (double)p->total);
        if (!final && (tenth <= p->last_tenth || tenth >= 10 || t - p->last_draw < 1.0))
            return;
        p->last_tenth = tenth;
        p->last_draw = t;
        fprintf(stderr, "%s: %3d%% (%llu/%llu) %.0f/s %s %s%s%s\n", p->label, percent,
                (unsigned long long)done, (unsigned long long)p->total, rate,
                final ? "done in" : "ETA", final ? el_s : eta_s, extra ? "  " : "", extra ? extra : "");
    }
}

int on_sampler_step(size_t step, size_t nsteps, double t, size_t n, size_t dim, const float *x,
                    const float *denoised, void *user_data)
{
    (void)n, (void)dim, (void)x, (void)denoised;
    run_progress *rp = user_data;
    char extra[48];
    snprintf(extra, sizeof extra, "t=%.4f", t);
    rp->bar.total = nsteps;
    progress_update(&rp->bar, step, extra, 0);
    return interrupted ? 1 : 0;
}

int on_train_step(uint64_t step, double loss, double ema_loss, double steps_per_second, void *user_data)
{
    (void)loss, (void)steps_per_second;
    run_progress *rp = user_data;
    char extra[48];
    snprintf(extra, sizeof extra, "loss %.4f", ema_loss);
    progress_update(&rp->bar, step - rp->offset, extra, 0);
    return interrupted ? 1 : 0;
}

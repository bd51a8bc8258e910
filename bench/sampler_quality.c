/* pathint-sampler-quality: sliced Wasserstein-2 vs network evaluations for every integrator
 * x hbar in {0, 0.5, 1} on three targets with exact scores (issue 9). Writes the Markdown of
 * docs/sampler-quality.md to stdout:
 *
 *   build/bench/pathint-sampler-quality > docs/sampler-quality.md      (about a minute)
 *   build/bench/pathint-sampler-quality --quick                         (smoke test)
 *   build/bench/pathint-sampler-quality --few-steps [--quick] [--target 0|1|2] [--hbar H]
 *                                          (issue 16's few-step grid; bench/results/few_steps.md)
 *
 * Targets (the model is the exact Gaussian mixture of each, VP linear SDE, defaults):
 *   25 Gaussians 2-D: centres {-4,-2,0,2,4}^2 / 2.828, std 0.05 / 2.828 (reference samples
 *     from pi_data_generate(PI_DATASET_GAUSSIANS_25));
 *   8-ring 2-D: centres 2 (cos 2 pi k/8, sin 2 pi k/8) / 1.414, std 0.02 / 1.414
 *     (pi_data_generate(PI_DATASET_RING_8));
 *   16-D random mixture: 8 components, means N(0, 1.5^2), variances U[0.02, 0.2], weights
 *     U[0.2, 1] normalised (reference samples drawn exactly here).
 * SW2: 256 random directions (fixed seed), sorted 1-D transport between N generated samples
 * and N reference samples; reported with the noise floor (SW2 between two independent
 * reference sets of the same size). */
#define _POSIX_C_SOURCE 200809L
#include "bench_util.h"

#include "pathint.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NPROJ 256
#define MAXD 16 /* targets have at most 16 dimensions and 32 components */

typedef struct target {
    const char *name;
    size_t dim, k;
    double w[32], mu[32 * MAXD], var[32 * MAXD];
    pi_dataset dataset; /* 0 = sample the mixture here */
} target;

static uint64_t sm(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
static double u01(uint64_t *s) { return ((double)(sm(s) >> 11) + 0.5) * 0x1.0p-53; }
static double gauss(uint64_t *s)
{
    return sqrt(-2.0 * log(u01(s))) * cos(6.283185307179586 * u01(s));
}

static void sample_mixture(const target *t, size_t n, uint64_t seed, float *out)
{
    uint64_t s = seed;
    for (size_t i = 0; i < n; i++) {
        double u = u01(&s), acc = 0;
        size_t c = 0;
        for (; c + 1 < t->k; c++) {
            acc += t->w[c];
            if (u < acc)
                break;
        }
        for (size_t j = 0; j < t->dim; j++)
            out[i * t->dim + j] =
                (float)(t->mu[c * t->dim + j] + sqrt(t->var[c * t->dim + j]) * gauss(&s));
    }
}

static void reference(const target *t, size_t n, uint64_t seed, float *out)
{
    if (t->dataset != 0 && pi_data_generate(t->dataset, n, seed, out) == PI_OK)
        return;
    sample_mixture(t, n, seed, out);
}

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* Sliced W2 between two n-point sets (directions fixed by seed). */
static double sliced_w2(const float *a, const float *b, size_t n, size_t d)
{
    float *pa = malloc(n * sizeof *pa), *pb = malloc(n * sizeof *pb);
    uint64_t s = 12345;
    double total = 0;
    for (int p = 0; p < NPROJ; p++) {
        double dir[MAXD], norm = 0;
        for (size_t j = 0; j < d; j++) {
            dir[j] = gauss(&s);
            norm += dir[j] * dir[j];
        }
        norm = sqrt(norm);
        for (size_t i = 0; i < n; i++) {
            double va = 0, vb = 0;
            for (size_t j = 0; j < d; j++) {
                va += a[i * d + j] * dir[j] / norm;
                vb += b[i * d + j] * dir[j] / norm;
            }
            pa[i] = (float)va;
            pb[i] = (float)vb;
        }
        qsort(pa, n, sizeof *pa, cmp_float);
        qsort(pb, n, sizeof *pb, cmp_float);
        double acc = 0;
        for (size_t i = 0; i < n; i++)
            acc += ((double)pa[i] - pb[i]) * ((double)pa[i] - pb[i]);
        total += acc / (double)n;
    }
    free(pa);
    free(pb);
    return sqrt(total / NPROJ);
}

static void make_targets(target *t)
{
    memset(t, 0, 3 * sizeof *t);
    t[0].name = "25 Gaussians (2-D)";
    t[0].dim = 2;
    t[0].k = 25;
    t[0].dataset = PI_DATASET_GAUSSIANS_25;
    for (size_t a = 0; a < 5; a++)
        for (size_t b = 0; b < 5; b++) {
            size_t c = a * 5 + b;
            t[0].w[c] = 1.0 / 25;
            t[0].mu[2 * c] = (-4.0 + 2.0 * (double)a) / 2.828;
            t[0].mu[2 * c + 1] = (-4.0 + 2.0 * (double)b) / 2.828;
            t[0].var[2 * c] = t[0].var[2 * c + 1] = pow(0.05 / 2.828, 2);
        }
    t[1].name = "8-ring (2-D)";
    t[1].dim = 2;
    t[1].k = 8;
    t[1].dataset = PI_DATASET_RING_8;
    for (size_t c = 0; c < 8; c++) {
        double ang = 6.283185307179586 * (double)c / 8.0;
        t[1].w[c] = 1.0 / 8;
        t[1].mu[2 * c] = 2.0 * cos(ang) / 1.414;
        t[1].mu[2 * c + 1] = 2.0 * sin(ang) / 1.414;
        t[1].var[2 * c] = t[1].var[2 * c + 1] = pow(0.02 / 1.414, 2);
    }
    t[2].name = "random mixture (16-D, 8 components)";
    t[2].dim = 16;
    t[2].k = 8;
    uint64_t s = 2026;
    double wsum = 0;
    for (size_t c = 0; c < 8; c++) {
        t[2].w[c] = 0.2 + 0.8 * u01(&s);
        wsum += t[2].w[c];
        for (size_t j = 0; j < 16; j++) {
            t[2].mu[c * 16 + j] = 1.5 * gauss(&s);
            t[2].var[c * 16 + j] = 0.02 + 0.18 * u01(&s);
        }
    }
    for (size_t c = 0; c < 8; c++)
        t[2].w[c] /= wsum;
}

static const char *mname(pi_method m)
{
    switch (m) {
    case PI_METHOD_EULER: return "Euler";
    case PI_METHOD_EXP1: return "EXP1";
    case PI_METHOD_EXP2M: return "EXP2M";
    case PI_METHOD_HEUN: return "Heun";
    case PI_METHOD_RK45: return "RK45";
    case PI_METHOD_EXP3M: return "EXP3M";
    case PI_METHOD_IPNDM: return "iPNDM";
    case PI_METHOD_SA: return "SA";
    case PI_METHOD_UNIPC: return "UniPC";
    }
    return "?";
}

/* A sampler on m with (method, ħ), the seed and 2 threads: the settings every cell shares. On
 * failure *s is NULL or a sampler to destroy, and the status says why. */
static pi_status cell_sampler(pi_model_t *m, pi_method method, double hbar, uint64_t seed,
                              pi_sampler_t **s)
{
    *s = NULL;
    pi_status st = pi_sampler_create(m, s);
    if (st == PI_OK)
        st = pi_sampler_set_method(*s, method);
    if (st == PI_OK)
        st = pi_sampler_set_hbar(*s, hbar);
    if (st == PI_OK)
        st = pi_sampler_set_seed(*s, seed);
    if (st == PI_OK)
        st = pi_sampler_set_threads(*s, 2);
    return st;
}

/* Run a cell (if st is still PI_OK): n samples into x, the evaluations per sample in *nfe. */
static pi_status cell_run(pi_status st, pi_sampler_t *s, size_t n, float *x, size_t *nfe)
{
    *nfe = 0;
    if (st == PI_OK)
        st = pi_sampler_run(s, n, x);
    if (st == PI_OK)
        pi_sampler_get_stats(s, nfe, NULL, NULL);
    return st;
}

/* ---- --few-steps (issue 16): EDM SDE, NFE-matched grid, excess NLL and sliced W2 ---------- */

/* Mean −log p of n points under the target diffused to (alpha, sigma) (diagonal mixture). */
static double mean_nll(const target *t, const float *x, size_t n, double alpha, double sigma)
{
    double acc = 0.0;
    for (size_t i = 0; i < n; i++) {
        double lw[32], mx = -INFINITY;
        for (size_t c = 0; c < t->k; c++) {
            double l = log(t->w[c]);
            for (size_t j = 0; j < t->dim; j++) {
                double v = alpha * alpha * t->var[c * t->dim + j] + sigma * sigma;
                double r = x[i * t->dim + j] - alpha * t->mu[c * t->dim + j];
                l += -0.5 * (r * r / v + log(6.283185307179586 * v));
            }
            lw[c] = l;
            mx = l > mx ? l : mx;
        }
        double se = 0.0;
        for (size_t c = 0; c < t->k; c++)
            se += exp(lw[c] - mx);
        acc -= mx + log(se);
    }
    return acc / (double)n;
}

/* The 16-D, 10-component mixture of issue 16 (means N(0, 1.5²), variances U[0.02, 0.2],
 * weights U[0.2, 1] normalised, seed 2026). */
static void make_mixture16(target *t)
{
    memset(t, 0, sizeof *t);
    t->name = "random mixture (16-D, 10 components)";
    t->dim = 16;
    t->k = 10;
    uint64_t s = 2026;
    double wsum = 0;
    for (size_t c = 0; c < 10; c++) {
        t->w[c] = 0.2 + 0.8 * u01(&s);
        wsum += t->w[c];
        for (size_t j = 0; j < 16; j++) {
            t->mu[c * 16 + j] = 1.5 * gauss(&s);
            t->var[c * 16 + j] = 0.02 + 0.18 * u01(&s);
        }
    }
    for (size_t c = 0; c < 10; c++)
        t->w[c] /= wsum;
}

#define JUMP_SIGMA 0.05

static const char *sched_name(size_t si)
{
    return si == 0 ? "Karras 7" : si == 1 ? "uniform λ" : "λ-jump 0.05";
}

/* Uniform λ from t_max down to σ̃ = JUMP_SIGMA (steps − 1 steps), then one step to t_min: the
 * steps below σ̃ ≈ 0.05 do little on the 16-D mixture (its component variances are 0.02..0.2),
 * where D is nearly linear and the exponential step nearly exact. EDM: σ̃ = t. */
static void jump_schedule(const pi_sde_t *sde, size_t steps, double *times)
{
    double t_min, t_max;
    pi_sde_time_range(sde, &t_min, &t_max);
    double l0 = -log(t_max), l1 = -log(JUMP_SIGMA);
    for (size_t i = 0; i < steps; i++)
        times[i] = steps > 1 ? exp(-(l0 + (l1 - l0) * (double)i / (double)(steps - 1))) : t_max;
    times[0] = t_max;
    times[steps] = t_min;
}

/* only_target >= 0: that target only; only_hbar >= 0: that ħ only (to split a long run). */
static int few_steps(int quick, int only_target, double only_hbar)
{
    /* 20 000 samples on the 16-D mixture (the targets), 4 000 on the 2-D ones. */
    size_t n = quick ? 1000 : 4000;
    const size_t nfes[] = {5, 10, 20, 50};
    const double hbars[] = {0.0, 0.5, 1.0};
    const pi_method methods[] = {PI_METHOD_EULER, PI_METHOD_EXP1,  PI_METHOD_EXP2M, PI_METHOD_EXP3M,
                                 PI_METHOD_IPNDM, PI_METHOD_SA,    PI_METHOD_UNIPC, PI_METHOD_HEUN};
    enum { NM = 8, NS = 3 };
    /* The third schedule is custom: uniform λ down to σ̃ = JUMP_SIGMA in steps − 1 steps, then one
     * step to t_min (issue 16, second round: a big last step; tuned on the 16-D mixture). */
    const pi_schedule scheds[] = {PI_SCHEDULE_KARRAS, PI_SCHEDULE_UNIFORM_LAMBDA, PI_SCHEDULE_CUSTOM};
    target t[3];
    make_targets(t);
    make_mixture16(&t[2]);
    pi_sde_t *sde = NULL;
    if (pi_sde_create(PI_SDE_KIND_EDM, &sde) != PI_OK)
        return 1;
    double t_min, alpha, sigma;
    pi_sde_time_range(sde, &t_min, NULL);
    pi_sde_marginal(sde, t_min, &alpha, &sigma);
    double start = bench_now();
    printf("# Few-step sampler quality (issue 16)\n\n"
           "Generated by `build/bench/pathint-sampler-quality --few-steps`. EDM SDE (σ 80 → 0.002), "
           "exact mixture scores, seed 1, %zu samples (4 000 on the 2-D targets), final step returns x. "
           "Each cell: sliced W2 (%d directions) to as many exact samples of the target at t_min / "
           "excess NLL in nats per "
           "sample (mean −log p of the generated set under the exact density at t_min minus the "
           "same for exact samples; negative = under-dispersed). Steps are chosen so that the "
           "evaluations per sample (NFE) are at most the column's (Heun: 2 per step). Schedules: "
           "Karras ρ = 7, uniform λ, and \"λ-jump 0.05\": uniform λ down to σ̃ = 0.05 in steps − 1 "
           "steps, then one step to σ̃ = 0.002 (a custom array; 0.05 tuned on the 16-D mixture, "
           "whose component variances are 0.02..0.2, so it is no general default).\n\n",
           quick ? (size_t)1000 : (size_t)20000, NPROJ);
    for (int ti = 0; ti < 3; ti++) {
        if (only_target >= 0 && ti != only_target)
            continue;
        target *tg = &t[ti];
        n = quick ? 1000 : tg->dim > 2 ? 20000 : 4000;
        pi_model_t *m = NULL;
        if (pi_model_create_gmm(sde, tg->dim, tg->k, tg->w, tg->mu, tg->var, &m) != PI_OK)
            return 1;
        float *ref = malloc(n * tg->dim * sizeof(float));
        float *ref2 = malloc(n * tg->dim * sizeof(float));
        float *x = malloc(n * tg->dim * sizeof(float));
        sample_mixture(tg, n, 101, ref);
        sample_mixture(tg, n, 202, ref2);
        for (size_t i = 0; i < n * tg->dim; i++) { /* exact samples at t_min */
            ref[i] = (float)(alpha * ref[i] + sigma * gauss(&(uint64_t){i * 7 + 1}));
            ref2[i] = (float)(alpha * ref2[i] + sigma * gauss(&(uint64_t){i * 7 + 3}));
        }
        double ref_nll = mean_nll(tg, ref, n, alpha, sigma);
        printf("## %s (%zu samples)\n\nFloor: sliced W2 between two exact sets %.4f; excess NLL of an exact set "
               "%+.3f.\n\n", tg->name, n, sliced_w2(ref, ref2, n, tg->dim),
               mean_nll(tg, ref2, n, alpha, sigma) - ref_nll);
        for (size_t hi = 0; hi < 3; hi++) {
            if (only_hbar >= 0.0 && hbars[hi] != only_hbar)
                continue;
            printf("### ħ = %g\n\n| method | schedule |", hbars[hi]);
            for (size_t k = 0; k < 4; k++)
                printf(" NFE %zu |", nfes[k]);
            printf("\n|---|---|---|---|---|---|\n");
            double cw2[NM][NS][4], cex[NM][NS][4];
            for (size_t mi = 0; mi < NM; mi++)
                for (size_t si = 0; si < NS; si++) {
                    for (size_t k = 0; k < 4; k++)
                        cw2[mi][si][k] = cex[mi][si][k] = NAN;
                    if ((methods[mi] == PI_METHOD_IPNDM || methods[mi] == PI_METHOD_UNIPC) &&
                        hbars[hi] > 0.0)
                        continue; /* an ODE method */
                    printf("| %s | %s |", mname(methods[mi]), sched_name(si));
                    for (size_t k = 0; k < 4; k++) {
                        size_t steps = methods[mi] == PI_METHOD_HEUN ? nfes[k] / 2 : nfes[k];
                        pi_sampler_t *s = NULL;
                        pi_status st = cell_sampler(m, methods[mi], hbars[hi], 1, &s);
                        if (st == PI_OK && scheds[si] != PI_SCHEDULE_CUSTOM)
                            st = pi_sampler_set_schedule(s, scheds[si], 7.0);
                        if (st == PI_OK && scheds[si] != PI_SCHEDULE_CUSTOM)
                            st = pi_sampler_set_steps(s, steps);
                        if (st == PI_OK && scheds[si] == PI_SCHEDULE_CUSTOM) {
                            double jt[64];
                            jump_schedule(sde, steps, jt);
                            st = pi_sampler_set_times(s, jt, steps + 1);
                        }
                        size_t nfe;
                        st = cell_run(st, s, n, x, &nfe);
                        if (st == PI_OK) {
                            cw2[mi][si][k] = sliced_w2(x, ref, n, tg->dim);
                            cex[mi][si][k] = mean_nll(tg, x, n, alpha, sigma) - ref_nll;
                            printf(" %.3f / %+.2f (%zu) |", cw2[mi][si][k], cex[mi][si][k], nfe);
                        } else
                            printf(" %s |", pi_status_string(st));
                        pi_sampler_destroy(s);
                    }
                    printf("\n");
                    fflush(stdout);
                }
            /* Best at each NFE: the smallest |excess NLL| among the cells whose sliced W2 is
             * within 1.25x of the column's best W2 (either figure alone can be gamed). */
            printf("\nBest at each NFE (ħ = %g; smallest |excess NLL| among cells with sliced W2 "
                   "≤ 1.25 × the column's best; EXP2M's best for comparison):\n\n"
                   "| NFE | best method × schedule | W2 / excess | best EXP2M |\n|---|---|---|---|\n",
                   hbars[hi]);
            for (size_t k = 0; k < 4; k++) {
                double wmin = INFINITY;
                for (size_t mi = 0; mi < NM; mi++)
                    for (size_t si = 0; si < NS; si++)
                        if (cw2[mi][si][k] < wmin)
                            wmin = cw2[mi][si][k];
                int bm[2] = {-1, -1}, bs[2] = {0, 0};
                for (int pass = 0; pass < 2; pass++)
                    for (size_t mi = 0; mi < NM; mi++)
                        for (size_t si = 0; si < NS; si++) {
                            if (pass == 1 && methods[mi] != PI_METHOD_EXP2M)
                                continue;
                            if (!(cw2[mi][si][k] <= (pass == 0 ? 1.25 * wmin : INFINITY)))
                                continue;
                            if (pass == 1 && bm[1] >= 0 && !(cw2[mi][si][k] < cw2[bm[1]][bs[1]][k]))
                                continue;
                            if (pass == 0 && bm[0] >= 0 &&
                                !(fabs(cex[mi][si][k]) < fabs(cex[bm[0]][bs[0]][k])))
                                continue;
                            bm[pass] = (int)mi;
                            bs[pass] = (int)si;
                        }
                if (bm[0] < 0 || bm[1] < 0)
                    continue;
                const size_t m0 = (size_t)bm[0], s0 = (size_t)bs[0], m1 = (size_t)bm[1],
                             s1 = (size_t)bs[1];
                printf("| %zu | %s × %s | %.3f / %+.2f | %s: %.3f / %+.2f |\n", nfes[k],
                       mname(methods[m0]), sched_name(s0),
                       cw2[m0][s0][k], cex[m0][s0][k],
                       sched_name(s1), cw2[m1][s1][k],
                       cex[m1][s1][k]);
            }
            printf("\n");
        }
        /* Time-keyed noise: the same seed at 20 and 40 steps (EXP2M, Karras 7). */
        printf("Same seed at 20 and 40 steps (EXP2M, Karras 7, %zu samples): mean distance between "
               "the two runs' samples of one seed, and between seeds 1 and 2 at 20 steps.\n\n"
               "| ħ | noise | 20 vs 40, same seed | two seeds |\n|---|---|---|---|\n", n);
        float *x2 = malloc(n * tg->dim * sizeof(float)), *x3 = malloc(n * tg->dim * sizeof(float));
        for (size_t hi = 1; hi < 3; hi++)
            for (int nz = PI_NOISE_STEP; nz <= PI_NOISE_BROWNIAN; nz++) {
                float *outs[3] = {x, x2, x3};
                const size_t st_[3] = {20, 40, 20};
                const uint64_t sd_[3] = {1, 1, 2};
                pi_status st = PI_OK;
                for (int r = 0; r < 3 && st == PI_OK; r++) {
                    pi_sampler_t *s = NULL;
                    size_t nfe;
                    st = cell_sampler(m, PI_METHOD_EXP2M, hbars[hi], sd_[r], &s);
                    if (st == PI_OK)
                        st = pi_sampler_set_schedule(s, PI_SCHEDULE_KARRAS, 7.0);
                    if (st == PI_OK)
                        st = pi_sampler_set_steps(s, st_[r]);
                    if (st == PI_OK)
                        st = pi_sampler_set_noise(s, (pi_noise)nz);
                    st = cell_run(st, s, n, outs[r], &nfe);
                    pi_sampler_destroy(s);
                }
                double same = 0.0, other = 0.0;
                for (size_t i = 0; st == PI_OK && i < n; i++) {
                    double a2 = 0.0, b2 = 0.0;
                    for (size_t j = 0; j < tg->dim; j++) {
                        double u = (double)x[i * tg->dim + j] - x2[i * tg->dim + j];
                        double v = (double)x[i * tg->dim + j] - x3[i * tg->dim + j];
                        a2 += u * u;
                        b2 += v * v;
                    }
                    same += sqrt(a2) / (double)n;
                    other += sqrt(b2) / (double)n;
                }
                printf("| %g | %s | %.4f | %.4f |\n", hbars[hi],
                       nz == PI_NOISE_STEP ? "step-keyed" : "Brownian", same, other);
            }
        printf("\n");
        free(x2);
        free(x3);
        free(ref);
        free(ref2);
        free(x);
        pi_model_destroy(m);
    }
    printf("Generated in %.0f s on a %ld-core machine.\n", bench_now() - start,
           sysconf(_SC_NPROCESSORS_ONLN));
    pi_sde_destroy(sde);
    return 0;
}

int main(int argc, char **argv)
{
    int quick = argc > 1 && strcmp(argv[1], "--quick") == 0;
    int few = 0, fquick = 0, only_target = -1;
    double only_hbar = -1.0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--few-steps") == 0)
            few = 1;
        else if (strcmp(argv[i], "--quick") == 0)
            fquick = 1;
        else if (strcmp(argv[i], "--target") == 0 && i + 1 < argc)
            only_target = atoi(argv[++i]);
        else if (strcmp(argv[i], "--hbar") == 0 && i + 1 < argc)
            only_hbar = atof(argv[++i]);
    }
    if (few)
        return few_steps(fquick, only_target, only_hbar);
    size_t n = quick ? 500 : 4000;
    const size_t steps_list[] = {5, 10, 20, 50, 100};
    const size_t nsteps = quick ? 2 : 5;
    const double rtols[] = {1e-2, 1e-3, 1e-4, 1e-5};
    const double hbars[] = {0.0, 0.5, 1.0};
    const pi_method methods[] = {PI_METHOD_EULER, PI_METHOD_EXP1, PI_METHOD_EXP2M,
                                 PI_METHOD_HEUN, PI_METHOD_RK45};
    target t[3];
    make_targets(t);
    pi_sde_t *sde = NULL;
    if (pi_sde_create(PI_SDE_KIND_VP_LINEAR, &sde) != PI_OK)
        return 1;
    double start = bench_now();
    printf("# Sampler quality: sliced W2 vs network evaluations\n\n");
    printf("Generated by `bench/pathint-sampler-quality` (source `bench/sampler_quality.c`; run "
           "`build/bench/pathint-sampler-quality > docs/sampler-quality.md`). Every model is the "
           "**exact** Gaussian mixture of its target (`pi_model_create_gmm`), VP linear SDE "
           "with its defaults (t from 1 down to 1e-3), uniform-λ schedule (the sampler's "
           "default), seed 1, final step returns x (not D). Each cell is the sliced "
           "Wasserstein-2 distance (%d fixed random directions) between %zu generated samples "
           "and %zu reference samples of the target, then the network evaluations per sample "
           "(NFE) in parentheses. RK45 is an ODE solver (ħ = 0 only); its columns are "
           "tolerances rtol = atol ∈ {1e-2, 1e-3, 1e-4, 1e-5} instead of step counts. Because "
           "the score is exact, every ħ has the same marginals: the differences are "
           "discretisation error only (MATH.md §3).\n\n",
           NPROJ, n, n);
    for (int ti = 0; ti < 3; ti++) {
        target *tg = &t[ti];
        pi_model_t *m = NULL;
        if (pi_model_create_gmm(sde, tg->dim, tg->k, tg->w, tg->mu, tg->var, &m) != PI_OK) {
            fprintf(stderr, "gmm: %s\n", pi_last_error());
            return 1;
        }
        float *ref = malloc(n * tg->dim * sizeof(float));
        float *ref2 = malloc(n * tg->dim * sizeof(float));
        float *x = malloc(n * tg->dim * sizeof(float));
        reference(tg, n, 101, ref);
        reference(tg, n, 202, ref2);
        double floor = sliced_w2(ref, ref2, n, tg->dim);
        printf("## %s\n\nNoise floor (two independent reference sets of %zu): SW2 = %.4f.\n\n",
               tg->name, n, floor);
        printf("| method | ħ |");
        for (size_t k = 0; k < nsteps; k++)
            printf(" %zu steps |", steps_list[k]);
        printf("\n|---|---|");
        for (size_t k = 0; k < nsteps; k++)
            printf("---|");
        printf("\n");
        for (size_t mi = 0; mi < 5; mi++) {
            for (size_t hi = 0; hi < 3; hi++) {
                if (methods[mi] == PI_METHOD_RK45 && hi > 0)
                    continue;
                printf("| %s | %g |", mname(methods[mi]), hbars[hi]);
                for (size_t k = 0; k < nsteps; k++) {
                    pi_sampler_t *s = NULL;
                    pi_status st = cell_sampler(m, methods[mi], hbars[hi], 1, &s);
                    if (st == PI_OK && methods[mi] == PI_METHOD_RK45)
                        st = pi_sampler_set_tolerances(s, rtols[k < 4 ? k : 3],
                                                       rtols[k < 4 ? k : 3]);
                    else if (st == PI_OK)
                        st = pi_sampler_set_steps(s, steps_list[k]);
                    if (methods[mi] == PI_METHOD_RK45 && k >= 4) {
                        printf(" |");
                        pi_sampler_destroy(s);
                        continue;
                    }
                    size_t nfe;
                    st = cell_run(st, s, n, x, &nfe);
                    if (st == PI_OK) {
                        double w2 = sliced_w2(x, ref, n, tg->dim);
                        if (methods[mi] == PI_METHOD_RK45)
                            printf(" %.4f (%zu; rtol %.0e) |", w2, nfe, rtols[k]);
                        else
                            printf(" %.4f (%zu) |", w2, nfe);
                    } else {
                        printf(" %s |", pi_status_string(st));
                    }
                    pi_sampler_destroy(s);
                }
                printf("\n");
                fflush(stdout);
            }
        }
        printf("\n");
        free(ref);
        free(ref2);
        free(x);
        pi_model_destroy(m);
    }
    printf("Generated in %.0f s on a %ld-core machine.\n", bench_now() - start,
           sysconf(_SC_NPROCESSORS_ONLN));
    pi_sde_destroy(sde);
    return 0;
}

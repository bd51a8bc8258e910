/* flow_and_ddpm_hosts.c: drive the two kinds of models hosts run, through callbacks.
 *
 *  1. A flow-matching model (SD3/Flux style): rectified-flow SDE, the network predicts the flow
 *     velocity u (PI_VIEW_FLOW) and takes the host timestep 1000·t; times shifted by s = 3.
 *  2. A discrete-time DDPM/LDM model: Stable Diffusion's scaled_linear ᾱ table (rescaled to
 *     zero terminal SNR), the network predicts ε (PI_VIEW_EPS) and takes the integer training
 *     timestep; 50 "trailing" timesteps as diffusers would pick them.
 *
 * Behind both callbacks sits an exact Gaussian mixture (pi_model_create_gmm on the same SDE),
 * so every run can be scored: the sliced W2 distance of the samples to exact mixture samples,
 * next to the exact-vs-exact baseline, at ħ = 0 (the ODE: flow Euler / DDIM-like) and ħ = 1.
 *
 *   cc flow_and_ddpm_hosts.c $(pkg-config --cflags --libs pathint) -lm -o hosts
 *   ./hosts [n]
 */
#include <pathint.h>

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { DIM = 2, K = 3, PROJECTIONS = 32 };
static const double W[K] = {0.3, 0.3, 0.4};
static const double MU[K * DIM] = {-1.5, 0.0, 1.5, 0.5, 0.0, -1.0};
static const double VAR[K * DIM] = {0.05, 0.10, 0.08, 0.04, 0.12, 0.06};

/* The host's "network": the exact mixture on the host's SDE, evaluated at the time that the
 * host's own timestep convention maps back to. */
typedef struct host_net {
    const pi_sde_t *sde;
    pi_model_t *exact;
    pi_view predicts;
    double max_timestep;
} host_net;

/* Created with pi_model_create_callback_timestep: the host receives its own training timestep
 * (1000 t on rectified flow, the table index on a discrete SDE), as its network expects. */
static int host_callback(size_t n, size_t dim, const float *x, const double *timestep, float *out,
                         void *user)
{
    host_net *h = user;
    (void)dim;
    for (size_t i = 0; i < n; i++) {
        double t_net; /* the exact mixture stands in for the network: back to pathint's t */
        if (timestep[i] > h->max_timestep)
            h->max_timestep = timestep[i];
        if (pi_sde_time_from_timestep(h->sde, timestep[i], &t_net) != PI_OK)
            return 1;
        if (pi_model_eval(h->exact, h->predicts, 1, x + i * DIM, &t_net, out + i * DIM) != PI_OK)
            return 1;
    }
    return 0;
}

static uint64_t next_u64(uint64_t *s) /* splitmix64 */
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Exact samples of the mixture diffused to (α, σ) of t_min: standard normals from pathint's
 * prior sampler (N(0, I) on these SDEs), components from splitmix64. */
static pi_status exact_samples(const pi_sde_t *sde, size_t n, uint64_t seed, float *out)
{
    double t_min, a, s;
    pi_status st = pi_sde_time_range(sde, &t_min, NULL);
    if (st == PI_OK)
        st = pi_sde_marginal(sde, t_min, &a, &s);
    if (st == PI_OK)
        st = pi_sde_prior_sample(sde, n, DIM, seed, out);
    uint64_t state = seed;
    for (size_t i = 0; i < n && st == PI_OK; i++) {
        double u = (double)(next_u64(&state) >> 11) * 0x1.0p-53, c = 0.0;
        size_t k = 0;
        while (k + 1 < (size_t)K && u > (c += W[k]))
            k++;
        for (size_t j = 0; j < (size_t)DIM; j++) {
            double sd = sqrt(a * a * VAR[k * DIM + j] + s * s);
            out[i * DIM + j] = (float)(a * MU[k * DIM + j] + sd * out[i * DIM + j]);
        }
    }
    return st;
}

static int cmp_double(const void *p, const void *q)
{
    double a = *(const double *)p, b = *(const double *)q;
    return (a > b) - (a < b);
}

/* Sliced W2: RMS over fixed directions of the 1-D W2 of the sorted projections. */
static double sliced_w2(const float *x, const float *y, size_t n, double *pa, double *pb)
{
    double total = 0.0;
    for (int p = 0; p < PROJECTIONS; p++) {
        double th = 3.14159265358979323846 * (p + 0.5) / PROJECTIONS, c = cos(th), s = sin(th);
        for (size_t i = 0; i < n; i++) {
            pa[i] = c * x[2 * i] + s * x[2 * i + 1];
            pb[i] = c * y[2 * i] + s * y[2 * i + 1];
        }
        qsort(pa, n, sizeof *pa, cmp_double);
        qsort(pb, n, sizeof *pb, cmp_double);
        double w = 0.0;
        for (size_t i = 0; i < n; i++)
            w += (pa[i] - pb[i]) * (pa[i] - pb[i]);
        total += w / (double)n;
    }
    return sqrt(total / PROJECTIONS);
}

/* One host model at ħ = 0 and 1 with the given times. */
static pi_status run_host(const char *label, pi_sde_t *sde, pi_view predicts, const double *times,
                          size_t count, size_t n, float *x, float *ref, float *other, double *pa,
                          double *pb)
{
    host_net net = {sde, NULL, predicts, 0.0};
    pi_model_t *model = NULL;
    pi_sampler_t *sampler = NULL;
    pi_status st = pi_model_create_gmm(sde, DIM, K, W, MU, VAR, &net.exact);
    if (st == PI_OK)
        st = pi_model_create_callback_timestep(sde, DIM, predicts, host_callback, &net, &model);
    if (st == PI_OK)
        st = pi_sampler_create(model, &sampler);
    if (st == PI_OK)
        st = pi_sampler_set_times(sampler, times, count);
    if (st == PI_OK)
        st = exact_samples(sde, n, 1, ref);
    if (st == PI_OK)
        st = exact_samples(sde, n, 2, other);
    if (st == PI_OK)
        printf("%-44s exact vs exact     SW2 = %.4f\n", label, sliced_w2(ref, other, n, pa, pb));
    const double hbars[2] = {0.0, 1.0};
    for (int h = 0; h < 2 && st == PI_OK; h++) {
        st = pi_sampler_set_hbar(sampler, hbars[h]);
        if (st == PI_OK)
            st = pi_sampler_set_seed(sampler, 7);
        if (st == PI_OK)
            st = pi_sampler_run(sampler, n, x);
        if (st == PI_OK)
            printf("%-44s hbar %.0f, %2zu steps SW2 = %.4f\n", label, hbars[h], count - 1,
                   sliced_w2(ref, x, n, pa, pb));
    }
    if (st == PI_OK)
        printf("%-44s largest host timestep %.1f\n", label, net.max_timestep);
    pi_sampler_destroy(sampler);
    pi_model_destroy(model);
    pi_model_destroy(net.exact);
    return st;
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? (size_t)strtoul(argv[1], NULL, 10) : 4000;
    if (n < 10 || n > 10000000) {
        fprintf(stderr, "usage: %s [n >= 10]\n", argv[0]);
        return 2;
    }
    float *x = malloc(n * DIM * sizeof *x), *ref = malloc(n * DIM * sizeof *ref);
    float *other = malloc(n * DIM * sizeof *other);
    double *pa = malloc(n * sizeof *pa), *pb = malloc(n * sizeof *pb);
    double times[64];
    size_t count = 0;
    pi_sde_t *rf = NULL, *table = NULL;
    pi_status st = (x && ref && other && pa && pb) ? PI_OK : PI_ENOMEM;

    /* 1. Flow matching: 50 uniform steps in σ from t_max down to t_min, shifted by s = 3. */
    if (st == PI_OK)
        st = pi_sde_create_named("rectified_flow", &rf);
    if (st == PI_OK) {
        double t0, t1;
        st = pi_sde_time_range(rf, &t0, &t1);
        count = 51;
        for (size_t i = 0; i < count; i++)
            times[i] = t1 + (t0 - t1) * (double)i / (double)(count - 1);
    }
    if (st == PI_OK)
        st = pi_sde_shift_times(rf, 3.0, count - 1, times); /* t_min stays the end */
    if (st == PI_OK)
        st = run_host("rectified flow, flow velocity, shift 3", rf, PI_VIEW_FLOW, times, count, n,
                      x, ref, other, pa, pb);

    /* The same model on pathint's default kind of schedule (uniform in λ = log(α/σ)): the big
     * final step of the shifted uniform-σ grid (σ from 0.059 to 0.001) is what costs ħ = 1 above. */
    if (st == PI_OK) {
        double t0, t1, s0, s1;
        st = pi_sde_time_range(rf, &t0, &t1);
        if (st == PI_OK)
            st = pi_sde_sigma_tilde(rf, t1, &s1, NULL);
        if (st == PI_OK)
            st = pi_sde_sigma_tilde(rf, t0, &s0, NULL);
        count = 51;
        for (size_t i = 0; i < count && st == PI_OK; i++)
            st = pi_sde_time_from_sigma_tilde(rf, s1 * pow(s0 / s1, (double)i / (double)(count - 1)),
                                              &times[i]);
        times[0] = t1;
        times[count - 1] = t0;
    }
    if (st == PI_OK)
        st = run_host("rectified flow, flow velocity, uniform lambda", rf, PI_VIEW_FLOW, times,
                      count, n, x, ref, other, pa, pb);

    /* 2. DDPM/LDM: SD's table, zero terminal SNR, 50 trailing timesteps, ε-prediction. */
    if (st == PI_OK)
        st = pi_sde_create_beta_schedule(PI_BETA_SCHEDULE_SCALED_LINEAR, 1000, 0.00085, 0.012,
                                         PI_BETA_FLAG_ZERO_TERMINAL_SNR, &table);
    if (st == PI_OK)
        st = pi_sde_discrete_times(table, PI_TIMESTEP_SPACING_TRAILING, 50, 0, 64, times, &count);
    if (st == PI_OK)
        st = run_host("discrete table (SD, zero SNR), eps, trailing", table, PI_VIEW_EPS, times,
                      count, n, x, ref, other, pa, pb);

    if (st != PI_OK)
        fprintf(stderr, "error: %s (%s)\n", pi_status_string(st), pi_last_error());
    pi_sde_destroy(rf);
    pi_sde_destroy(table);
    free(x);
    free(ref);
    free(other);
    free(pa);
    free(pb);
    return st == PI_OK ? 0 : 1;
}

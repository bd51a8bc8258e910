/* Langevin corrector (Song et al. 2021, Algorithm 5) after any predictor step, at the step's
 * end time t, targeting p_t:
 *
 *     s = s(x, t),  z ~ N(0, I),  x ← x + ε s + sqrt(2ε) z,   ε = 2 snr² σ(t)².
 *
 * Song et al. take ε = 2 (snr ‖z‖/‖s‖)² with ‖z‖ and ‖s‖ averaged over the batch; in the
 * noise-dominated regime ‖s‖ ≈ ‖z‖/σ, which gives the ε above (the annealed Langevin step of
 * Song & Ermon 2019). We use it because it keeps every row independent of the batch (bitwise
 * reproducible for any n); per-row norms would not do: a row with a tiny score gets an
 * unbounded step. The VP factor α_i = 1 − β_i of their discrete algorithm is 1 in continuous
 * time. Noise: stream PI_STREAM_CORRECTOR, step key = step · 256 + corrector index. */
#include "sampler_impl.h"

pi_status pi_corrector_rows(pi_run *run, size_t step, double t, const pi_sde_point *p, size_t r0,
                            size_t r1, pi_worker *w)
{
    size_t d = run->dim, rows = r1 - r0;
    double snr = run->s->corrector_snr;
    double eps = 2.0 * snr * snr * p->sigma * p->sigma;
    double q = sqrt(2.0 * eps);
    for (size_t m = 0; m < run->s->corrector_steps; m++) {
        for (size_t i = 0; i < rows * d; i++)
            w->fin[i] = (float)run->x[r0 * d + i];
        pi_status st = pi_run_eval(run, w, PI_VIEW_SCORE, rows, w->fin, t);
        if (st != PI_OK)
            return st;
        uint32_t key = (uint32_t)(step * 256 + m);
        for (size_t r = r0; r < r1; r++) {
            double *x = run->x + r * d;
            const float *sc = w->fout + (r - r0) * d;
            pi_run_noise(run, PI_STREAM_CORRECTOR, r, key, w->noise);
            for (size_t j = 0; j < d; j++)
                x[j] += eps * (double)sc[j] + q * w->noise[j];
        }
    }
    return PI_OK;
}

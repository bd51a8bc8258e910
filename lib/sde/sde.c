/* Forward SDEs: VP linear, VP cosine, sub-VP, VE, EDM, rectified flow, discrete ᾱ tables and
 * host callbacks (MATH.md §1). */
#include "sde_impl.h"

#include "core/philox.h"
#include "ode/ode.h"

#include <string.h>

#define PI_HALF_PI 1.5707963267948966192313216916398
#define PI_LOG_2PI 1.8378770664093454835606594728112

static const char *kind_name(pi_sde_kind kind)
{
    switch (kind) {
    case PI_SDE_KIND_VP_LINEAR: return "VP linear";
    case PI_SDE_KIND_VP_COSINE: return "VP cosine";
    case PI_SDE_KIND_SUBVP: return "sub-VP";
    case PI_SDE_KIND_VE: return "VE";
    case PI_SDE_KIND_EDM: return "EDM";
    case PI_SDE_KIND_CUSTOM: return "custom";
    case PI_SDE_KIND_RECTIFIED_FLOW: return "rectified flow";
    case PI_SDE_KIND_DISCRETE: return "discrete";
    }
    return "unknown";
}

/* ---- VP linear / sub-VP: B(t) = ∫0^t β = β0 t + (β1 − β0) t²/2 ------------------------ */

static double vp_integral(const pi_sde_t *s, double t)
{
    return s->beta_min * t + 0.5 * (s->beta_max - s->beta_min) * t * t;
}

static double vp_beta(const pi_sde_t *s, double t)
{
    return s->beta_min + (s->beta_max - s->beta_min) * t;
}

/* Solve B(t) = b for t >= 0 in the cancellation-free form 2b / (β0 + sqrt(β0² + 2Δβ b)). */
static double vp_time_of_integral(const pi_sde_t *s, double b)
{
    double db = s->beta_max - s->beta_min;
    double root = sqrt(s->beta_min * s->beta_min + 2.0 * db * b);
    double denom = s->beta_min + root;
    return denom > 0.0 ? 2.0 * b / denom : 0.0;
}

/* ---- VP cosine: θ(t) = π/2 (t + s)/(1 + s), α = cos θ / cos θ0 ---------------------- */
/* With δ = θ − θ0 = π/2 · t/(1+s): 1 − α² = sin δ · sin(δ + 2θ0) / cos² θ0 (exact identity
 * cos²a − cos²b = sin(b − a) sin(b + a)), so σ and σ̃ keep full relative precision at t → 0. */

static void cosine_parts(const pi_sde_t *s, double t, double *alpha, double *one_minus_a2,
                         double *f)
{
    double scale = PI_HALF_PI / (1.0 + s->cosine_s);
    double theta0 = scale * s->cosine_s;
    double delta = scale * t;
    double c0 = cos(theta0);
    double theta = theta0 + delta;
    *alpha = cos(theta) / c0;
    *one_minus_a2 = sin(delta) * sin(delta + 2.0 * theta0) / (c0 * c0);
    *f = -scale * tan(theta);
}

/* ---- discrete: ℓ(t) = log σ̃² by monotone cubic Hermite in τ = tN − 1 (docs/samplers.md) ---- */
/* Below the first node (t < 1/N) σ̃ = σ̃_0 · tN, so σ̃(0) = 0 as for the other VP kinds. The
 * SDE is VP: α² = 1/(1 + σ̃²), σ² = σ̃²/(1 + σ̃²), f = −½ ℓ' σ², g² = ℓ' σ². */

static void discrete_ell(const pi_sde_t *s, double t, double *ell, double *dell_dt)
{
    const size_t n = s->discrete_n;
    const double *l = s->discrete + n, *m = s->discrete + 2 * n;
    double big_n = (double)n;
    double u = t * big_n - 1.0;
    if (u < 0.0) {
        if (!(t > 0.0)) {
            *ell = -INFINITY;
            *dell_dt = 0.0;
            return;
        }
        *ell = l[0] + 2.0 * log(t * big_n);
        *dell_dt = 2.0 / t;
        return;
    }
    size_t i = (size_t)u;
    if (i > n - 2)
        i = n - 2;
    double x = u - (double)i;
    double h00 = (1 + 2 * x) * (1 - x) * (1 - x), h10 = x * (1 - x) * (1 - x);
    double h01 = x * x * (3 - 2 * x), h11 = x * x * (x - 1);
    *ell = h00 * l[i] + h10 * m[i] + h01 * l[i + 1] + h11 * m[i + 1];
    double d00 = 6 * x * x - 6 * x, d10 = 3 * x * x - 4 * x + 1, d01 = -d00, d11 = 3 * x * x - 2 * x;
    *dell_dt = big_n * (d00 * l[i] + d10 * m[i] + d01 * l[i + 1] + d11 * m[i + 1]);
}

static void discrete_point(const pi_sde_t *s, double t, pi_sde_point *p)
{
    double ell, dell;
    discrete_ell(s, t, &ell, &dell);
    if (ell == -INFINITY) {
        p->alpha = 1.0;
        p->sigma = p->sigma_tilde = p->f = p->g2 = 0.0;
        return;
    }
    double e = exp(ell);
    double s2 = e / (1.0 + e);
    p->sigma_tilde = exp(0.5 * ell);
    p->alpha = 1.0 / sqrt(1.0 + e);
    p->sigma = sqrt(s2);
    p->f = -0.5 * dell * s2;
    p->g2 = dell > 0.0 ? dell * s2 : 0.0;
}

/* Zero terminal SNR (ᾱ = 0) would make ℓ infinite: that entry is read as 2^-24, as
 * diffusers' DPMSolverMultistepScheduler does. */
#define PI_DISCRETE_ZERO_SNR_ALPHA_BAR 5.9604644775390625e-08

/* Fill ℓ and the Fritsch–Carlson (PCHIP) slopes from the ᾱ in s->discrete[0 .. n). */
void pi_sde_discrete_build(pi_sde_t *s)
{
    const size_t n = s->discrete_n;
    double *a = s->discrete, *l = a + n, *m = a + 2 * n;
    for (size_t i = 0; i < n; i++) {
        double ab = a[i] > 0.0 ? a[i] : PI_DISCRETE_ZERO_SNR_ALPHA_BAR;
        l[i] = log1p(-ab) - log(ab);
    }
    if (n == 2) {
        m[0] = m[1] = l[1] - l[0];
        return;
    }
    for (size_t i = 1; i + 1 < n; i++) {
        double d0 = l[i] - l[i - 1], d1 = l[i + 1] - l[i];
        m[i] = (d0 > 0.0 && d1 > 0.0) ? 2.0 / (1.0 / d0 + 1.0 / d1) : 0.0;
    }
    /* One-sided three-point ends, shape-preserving as in scipy's pchip. */
    for (int end = 0; end < 2; end++) {
        size_t k = end ? n - 1 : 0;
        double d0 = end ? l[n - 1] - l[n - 2] : l[1] - l[0];
        double d1 = end ? l[n - 2] - l[n - 3] : l[2] - l[1];
        double v = 0.5 * (3.0 * d0 - d1);
        if (!(v > 0.0))
            v = 0.0;
        else if (v > 3.0 * d0)
            v = 3.0 * d0;
        m[k] = v;
    }
}

/* t of σ̃ on a discrete SDE: the node bracket by bisection, then Newton/bisection inside. */
static pi_status invert_numerically(const pi_sde_t *s, double target, double lo, double hi,
                                    double guess, double *t_out);

static pi_status discrete_invert(const pi_sde_t *s, double sigma_tilde, double *t_out)
{
    const size_t n = s->discrete_n;
    const double *l = s->discrete + n;
    double target = 2.0 * log(sigma_tilde), big_n = (double)n;
    if (target <= l[0]) {
        *t_out = exp(0.5 * (target - l[0])) / big_n;
        return PI_OK;
    }
    size_t lo = 0, hi = n - 1;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (l[mid] < target)
            lo = mid;
        else
            hi = mid;
    }
    double t_lo = (double)(lo + 1) / big_n, t_hi = (double)(hi + 1) / big_n;
    if (target >= l[hi]) {
        *t_out = t_hi;
        return PI_OK;
    }
    double guess = t_lo + (t_hi - t_lo) * (target - l[lo]) / (l[hi] - l[lo]);
    return invert_numerically(s, sigma_tilde, t_lo, t_hi, guess, t_out);
}

/* ---- custom by (f, g): table of y1 = log α, y2 = σ²/α² with y1' = f, y2' = g² e^{−2 y1} --- */

static pi_status custom_coefficients(const pi_sde_t *s, double t, double *f, double *g2)
{
    double g = 0.0;
    if (s->coefficient_fn(t, f, &g, s->user_data) != 0)
        return pi_fail(PI_ECALLBACK, "custom SDE coefficient callback failed at t = %g", t);
    if (!isfinite(*f) || !isfinite(g))
        return pi_fail(PI_ENUMERIC, "custom SDE coefficient callback returned f = %g, g = %g at t = %g",
                       *f, g, t);
    *g2 = g * g;
    return PI_OK;
}

/* Right-hand side (y1, y2)' = (f, g² e^{−2 y1}). The callback depends on t only, so the last
 * value is kept: RK4's two midpoint stages cost one call. */
typedef struct custom_rhs_ctx {
    const pi_sde_t *s;
    double t, f, g2;
    int valid;
} custom_rhs_ctx;

static pi_status custom_rhs(double t, const double *y, double *dydt, void *p)
{
    custom_rhs_ctx *c = p;
    if (!c->valid || t != c->t) {
        pi_status st = custom_coefficients(c->s, t, &c->f, &c->g2);
        if (st != PI_OK)
            return st;
        c->t = t;
        c->valid = 1;
    }
    dydt[0] = c->f;
    dydt[1] = c->g2 * exp(-2.0 * y[0]);
    return PI_OK;
}

static pi_status build_custom_table(pi_sde_t *s)
{
    const size_t n = PI_SDE_TABLE_SIZE;
    double *tab = pi_alloc_array(4 * (n + 1), sizeof *tab);
    if (tab == NULL)
        return pi_fail(PI_ENOMEM, "out of memory building the custom SDE table");
    double *y1 = tab, *d1 = tab + (n + 1), *y2 = tab + 2 * (n + 1), *d2 = tab + 3 * (n + 1);
    double h = s->t_max / (double)n;
    double y[2] = {0.0, 0.0}, dydt[2]; /* y1, y2 at t = 0 */
    /* Classical RK4 of lib/ode, fixed step h; the node derivatives are the table's slopes. */
    double work[PI_ODE_WORK_DOUBLES(2)];
    pi_ode_evolve ev;
    pi_ode_evolve_init(&ev, pi_ode_rk4, 2, work);
    custom_rhs_ctx c = {s, 0.0, 0.0, 0.0, 0};
    pi_ode_system sys = {custom_rhs, 2, &c};
    pi_status st = PI_OK;
    for (size_t i = 0; i <= n && st == PI_OK; i++) {
        double t = h * (double)i;
        st = custom_rhs(t, y, dydt, &c);
        if (st != PI_OK)
            break;
        y1[i] = y[0];
        y2[i] = y[1];
        d1[i] = dydt[0];
        d2[i] = dydt[1];
        if (i < n)
            st = pi_ode_step_apply(&ev, &sys, t, h, y, NULL, dydt, NULL);
    }
    if (st != PI_OK) {
        pi_free(tab);
        return st;
    }
    s->table = tab;
    return PI_OK;
}

static void table_lookup(const pi_sde_t *s, double t, double *y1_out, double *y2_out)
{
    const size_t n = PI_SDE_TABLE_SIZE;
    const double *y1 = s->table, *d1 = y1 + (n + 1), *y2 = y1 + 2 * (n + 1), *d2 = y1 + 3 * (n + 1);
    double h = s->t_max / (double)n;
    double u = t / h;
    if (u < 0.0)
        u = 0.0;
    size_t i = (size_t)u;
    if (i >= n)
        i = n - 1;
    double x = u - (double)i; /* cubic Hermite on [i, i+1] */
    double h00 = (1 + 2 * x) * (1 - x) * (1 - x), h10 = x * (1 - x) * (1 - x);
    double h01 = x * x * (3 - 2 * x), h11 = x * x * (x - 1);
    *y1_out = h00 * y1[i] + h10 * h * d1[i] + h01 * y1[i + 1] + h11 * h * d1[i + 1];
    *y2_out = h00 * y2[i] + h10 * h * d2[i] + h01 * y2[i + 1] + h11 * h * d2[i + 1];
    if (*y2_out < 0.0)
        *y2_out = 0.0;
}

/* ---- evaluation ---------------------------------------------------------------------- */

static pi_status custom_marginal(const pi_sde_t *s, double t, double *alpha, double *sigma,
                                 double *dalpha, double *dsigma)
{
    double da = 0.0, ds = 0.0;
    if (s->marginal_fn(t, alpha, sigma, &da, &ds, s->user_data) != 0)
        return pi_fail(PI_ECALLBACK, "custom SDE marginal callback failed at t = %g", t);
    if (!isfinite(*alpha) || !isfinite(*sigma) || !isfinite(da) || !isfinite(ds) || *alpha <= 0.0
        || *sigma < 0.0)
        return pi_fail(PI_ENUMERIC,
                       "custom SDE marginal callback returned alpha = %g, sigma = %g at t = %g "
                       "(need finite alpha > 0, sigma >= 0)",
                       *alpha, *sigma, t);
    if (dalpha)
        *dalpha = da;
    if (dsigma)
        *dsigma = ds;
    return PI_OK;
}

pi_status pi_sde_eval(const pi_sde_t *s, double t, pi_sde_point *p)
{
    double alpha = 1.0, sigma = 0.0, f = 0.0, g2 = 0.0, sigma_tilde = 0.0;
    switch (s->kind) {
    case PI_SDE_KIND_VP_LINEAR: {
        double b = vp_integral(s, t);
        alpha = exp(-0.5 * b);
        sigma = sqrt(-expm1(-b));
        sigma_tilde = sqrt(expm1(b));
        f = -0.5 * vp_beta(s, t);
        g2 = vp_beta(s, t);
        break;
    }
    case PI_SDE_KIND_SUBVP: {
        double b = vp_integral(s, t);
        alpha = exp(-0.5 * b);
        sigma = -expm1(-b);
        sigma_tilde = 2.0 * sinh(0.5 * b);
        f = -0.5 * vp_beta(s, t);
        g2 = vp_beta(s, t) * (-expm1(-2.0 * b));
        break;
    }
    case PI_SDE_KIND_VP_COSINE: {
        double one_minus_a2;
        cosine_parts(s, t, &alpha, &one_minus_a2, &f);
        sigma = sqrt(one_minus_a2 > 0.0 ? one_minus_a2 : 0.0);
        sigma_tilde = sigma / alpha;
        g2 = -2.0 * f;
        break;
    }
    case PI_SDE_KIND_VE: {
        double ratio = log(s->sigma_max / s->sigma_min);
        sigma = s->sigma_min * exp(t * ratio);
        sigma_tilde = sigma;
        g2 = 2.0 * sigma * sigma * ratio;
        break;
    }
    case PI_SDE_KIND_EDM:
        sigma = t;
        sigma_tilde = t;
        g2 = 2.0 * t;
        break;
    case PI_SDE_KIND_RECTIFIED_FLOW:
        /* α = 1 − t, σ = t: f = −1/(1 − t), g² = (σ²)' − 2fσ² = 2t/(1 − t) (t_max < 1). */
        alpha = 1.0 - t;
        sigma = t;
        sigma_tilde = t / alpha;
        f = -1.0 / alpha;
        g2 = 2.0 * t / alpha;
        break;
    case PI_SDE_KIND_DISCRETE:
        discrete_point(s, t, p);
        return PI_OK;
    case PI_SDE_KIND_CUSTOM:
        if (s->marginal_fn != NULL) {
            double da, ds;
            pi_status st = custom_marginal(s, t, &alpha, &sigma, &da, &ds);
            if (st != PI_OK)
                return st;
            f = da / alpha;
            g2 = 2.0 * sigma * ds - 2.0 * f * sigma * sigma; /* (σ²)' − 2fσ² */
            if (g2 < 0.0)
                g2 = 0.0;
        } else {
            double y1, y2;
            pi_status st = custom_coefficients(s, t, &f, &g2);
            if (st != PI_OK)
                return st;
            table_lookup(s, t, &y1, &y2);
            alpha = exp(y1);
            sigma = alpha * sqrt(y2);
        }
        sigma_tilde = sigma / alpha;
        break;
    }
    p->alpha = alpha;
    p->sigma = sigma;
    p->f = f;
    p->g2 = g2;
    p->sigma_tilde = sigma_tilde;
    return PI_OK;
}

pi_status pi_sde_eval_marginal(const pi_sde_t *s, double t, double *alpha, double *sigma)
{
    if (s->kind == PI_SDE_KIND_CUSTOM && s->marginal_fn != NULL)
        return custom_marginal(s, t, alpha, sigma, NULL, NULL);
    if (s->kind == PI_SDE_KIND_CUSTOM) {
        double y1, y2;
        table_lookup(s, t, &y1, &y2);
        *alpha = exp(y1);
        *sigma = *alpha * sqrt(y2);
        return PI_OK;
    }
    pi_sde_point p;
    pi_status st = pi_sde_eval(s, t, &p);
    *alpha = p.alpha;
    *sigma = p.sigma;
    return st;
}

pi_status pi_sde_eval_sigma_tilde(const pi_sde_t *s, double t, double *sigma_tilde)
{
    double a, sg;
    switch (s->kind) {
    case PI_SDE_KIND_VP_LINEAR: *sigma_tilde = sqrt(expm1(vp_integral(s, t))); return PI_OK;
    case PI_SDE_KIND_SUBVP: *sigma_tilde = 2.0 * sinh(0.5 * vp_integral(s, t)); return PI_OK;
    case PI_SDE_KIND_VE: *sigma_tilde = s->sigma_min * exp(t * log(s->sigma_max / s->sigma_min)); return PI_OK;
    case PI_SDE_KIND_EDM: *sigma_tilde = t; return PI_OK;
    case PI_SDE_KIND_RECTIFIED_FLOW: *sigma_tilde = t / (1.0 - t); return PI_OK;
    default: break;
    }
    pi_status st = pi_sde_eval_marginal(s, t, &a, &sg);
    if (st == PI_OK)
        *sigma_tilde = sg / a;
    return st;
}

/* Safeguarded Newton/bisection on log σ̃(t) = log target over [lo, hi] (σ̃ increasing). */
static pi_status invert_numerically(const pi_sde_t *s, double target, double lo, double hi,
                                    double guess, double *t_out)
{
    double log_target = log(target);
    double t = (guess > lo && guess < hi) ? guess : 0.5 * (lo + hi);
    for (int iter = 0; iter < 200; iter++) {
        pi_sde_point p;
        pi_status st = pi_sde_eval(s, t, &p);
        if (st != PI_OK)
            return st;
        double r = log(p.sigma_tilde) - log_target;
        if (r > 0.0)
            hi = t;
        else
            lo = t;
        /* d log σ̃/dt = (σ'/σ − α'/α) = g² / (2σ²) (from g² = (σ²)' − 2fσ²). */
        double slope = p.sigma > 0.0 ? p.g2 / (2.0 * p.sigma * p.sigma) : 0.0;
        double next = slope > 0.0 ? t - r / slope : 0.5 * (lo + hi);
        if (!(next > lo && next < hi))
            next = 0.5 * (lo + hi);
        if (fabs(next - t) <= 1e-16 * fabs(t) + 1e-300 || hi - lo <= 4e-16 * fabs(hi)) {
            *t_out = next;
            return PI_OK;
        }
        t = next;
    }
    *t_out = t;
    return PI_OK;
}

pi_status pi_sde_invert_sigma_tilde(const pi_sde_t *s, double sigma_tilde, double *t_out)
{
    double lo_s, hi_s;
    pi_status st = pi_sde_eval_sigma_tilde(s, 0.0, &lo_s);
    if (st == PI_OK)
        st = pi_sde_eval_sigma_tilde(s, s->t_max, &hi_s);
    if (st != PI_OK)
        return st;
    if (!(sigma_tilde >= lo_s && sigma_tilde <= hi_s * (1.0 + 1e-14)))
        return pi_fail(PI_EINVAL, "sigma_tilde = %g is outside [%g, %g], the range of this %s SDE",
                       sigma_tilde, lo_s, hi_s, kind_name(s->kind));
    if (sigma_tilde == lo_s) {
        *t_out = 0.0;
        return PI_OK;
    }
    switch (s->kind) {
    case PI_SDE_KIND_VP_LINEAR:
        *t_out = vp_time_of_integral(s, log1p(sigma_tilde * sigma_tilde));
        return PI_OK;
    case PI_SDE_KIND_SUBVP:
        *t_out = vp_time_of_integral(s, 2.0 * asinh(0.5 * sigma_tilde));
        return PI_OK;
    case PI_SDE_KIND_VE:
        *t_out = log(sigma_tilde / s->sigma_min) / log(s->sigma_max / s->sigma_min);
        return PI_OK;
    case PI_SDE_KIND_EDM:
        *t_out = sigma_tilde;
        return PI_OK;
    case PI_SDE_KIND_RECTIFIED_FLOW:
        *t_out = sigma_tilde / (1.0 + sigma_tilde);
        return PI_OK;
    case PI_SDE_KIND_DISCRETE:
        return discrete_invert(s, sigma_tilde, t_out);
    case PI_SDE_KIND_VP_COSINE: {
        /* Closed form θ = acos(cos θ0 / sqrt(1 + σ̃²)), polished by Newton for precision. */
        double scale = PI_HALF_PI / (1.0 + s->cosine_s);
        double theta0 = scale * s->cosine_s;
        double theta = acos(cos(theta0) / sqrt(1.0 + sigma_tilde * sigma_tilde));
        double guess = (theta - theta0) / scale;
        return invert_numerically(s, sigma_tilde, 0.0, s->t_max, guess, t_out);
    }
    case PI_SDE_KIND_CUSTOM:
        return invert_numerically(s, sigma_tilde, 0.0, s->t_max, -1.0, t_out);
    }
    return pi_fail(PI_EINVAL, "unknown SDE kind");
}

double pi_sde_prior_std_of(const pi_sde_t *s)
{
    switch (s->kind) {
    case PI_SDE_KIND_VP_LINEAR:
    case PI_SDE_KIND_VP_COSINE:
    case PI_SDE_KIND_SUBVP:
    case PI_SDE_KIND_RECTIFIED_FLOW:
    case PI_SDE_KIND_DISCRETE:
        return 1.0;
    case PI_SDE_KIND_VE:
        return s->sigma_max;
    case PI_SDE_KIND_EDM:
        return s->t_max;
    case PI_SDE_KIND_CUSTOM: {
        double a = 1.0, sg = 1.0;
        if (pi_sde_eval_marginal(s, s->t_max, &a, &sg) != PI_OK)
            return NAN;
        return sg;
    }
    }
    return NAN;
}

pi_status pi_sde_copy_into(const pi_sde_t *src, pi_sde_t *dst)
{
    *dst = *src;
    dst->table = NULL;
    dst->discrete = NULL;
    if (src->discrete != NULL) {
        dst->discrete = pi_alloc_array(3 * src->discrete_n, sizeof(double));
        if (dst->discrete == NULL)
            return pi_fail(PI_ENOMEM, "out of memory copying an SDE");
        memcpy(dst->discrete, src->discrete, 3 * src->discrete_n * sizeof(double));
    }
    if (src->table != NULL) {
        size_t count = 4 * (PI_SDE_TABLE_SIZE + 1);
        dst->table = pi_alloc_array(count, sizeof(double));
        if (dst->table == NULL) {
            pi_free(dst->discrete);
            dst->discrete = NULL;
            return pi_fail(PI_ENOMEM, "out of memory copying an SDE");
        }
        memcpy(dst->table, src->table, count * sizeof(double));
    }
    return PI_OK;
}

void pi_sde_release(pi_sde_t *sde)
{
    if (sde != NULL) {
        pi_free(sde->table);
        sde->table = NULL;
        pi_free(sde->discrete);
        sde->discrete = NULL;
    }
}

int pi_sde_equal(const pi_sde_t *a, const pi_sde_t *b)
{
    return a->kind == b->kind && a->beta_min == b->beta_min && a->beta_max == b->beta_max
        && a->cosine_s == b->cosine_s && a->sigma_min == b->sigma_min
        && a->sigma_max == b->sigma_max && a->t_min == b->t_min && a->t_max == b->t_max
        && a->marginal_fn == b->marginal_fn && a->coefficient_fn == b->coefficient_fn
        && a->user_data == b->user_data && a->discrete_n == b->discrete_n
        && (a->discrete == NULL) == (b->discrete == NULL)
        && (a->discrete == NULL
            || memcmp(a->discrete, b->discrete, a->discrete_n * sizeof(double)) == 0);
}

/* ---- public API -------------------------------------------------------------------- */

void pi_sde_init_defaults(pi_sde_t *s, pi_sde_kind kind)
{
    memset(s, 0, sizeof *s);
    s->kind = kind;
    s->beta_min = 0.1;
    s->beta_max = 20.0;
    s->cosine_s = 0.008;
    s->sigma_min = 0.01;
    s->sigma_max = 50.0;
    s->t_min = 1e-3;
    s->t_max = 1.0;
    switch (kind) {
    case PI_SDE_KIND_VP_COSINE:
    case PI_SDE_KIND_RECTIFIED_FLOW: s->t_max = 1.0 - 1e-3; break;
    case PI_SDE_KIND_VE: s->t_min = 1e-5; break;
    case PI_SDE_KIND_EDM:
        s->sigma_min = 0.002;
        s->sigma_max = 80.0;
        s->t_min = 0.002;
        s->t_max = 80.0;
        break;
    default: break;
    }
}

pi_status pi_sde_create(pi_sde_kind kind, pi_sde_t **out)
{
    PI_CHECK_NULL(out);
    if (kind < PI_SDE_KIND_VP_LINEAR || kind > PI_SDE_KIND_RECTIFIED_FLOW
        || kind == PI_SDE_KIND_CUSTOM)
        return pi_fail(PI_EINVAL,
                       "pi_sde_create: kind must be a built-in SDE kind (1..5 or 7), got %d%s",
                       (int)kind,
                       kind == PI_SDE_KIND_CUSTOM    ? " (use pi_sde_create_custom)"
                       : kind == PI_SDE_KIND_DISCRETE ? " (use pi_sde_create_discrete)"
                                                      : "");
    pi_sde_t *s = pi_calloc(1, sizeof *s);
    if (s == NULL)
        return pi_fail(PI_ENOMEM, "out of memory creating an SDE");
    pi_sde_init_defaults(s, kind);
    *out = s;
    return PI_OK;
}

pi_status pi_sde_create_custom(double t_min, double t_max, pi_sde_marginal_fn marginal,
                               pi_sde_coefficient_fn coefficients, void *user_data,
                               pi_sde_t **out)
{
    PI_CHECK_NULL(out);
    if ((marginal == NULL) == (coefficients == NULL))
        return pi_fail(PI_EINVAL, "pi_sde_create_custom: give exactly one of marginal and "
                                  "coefficients (the other must be NULL)");
    if (!isfinite(t_min) || !isfinite(t_max) || t_min < 0.0 || !(t_min < t_max))
        return pi_fail(PI_EINVAL,
                       "pi_sde_create_custom: need finite 0 <= t_min < t_max, got t_min = %g, "
                       "t_max = %g",
                       t_min, t_max);
    pi_sde_t *s = pi_calloc(1, sizeof *s);
    if (s == NULL)
        return pi_fail(PI_ENOMEM, "out of memory creating an SDE");
    pi_sde_init_defaults(s, PI_SDE_KIND_CUSTOM);
    s->t_min = t_min;
    s->t_max = t_max;
    s->marginal_fn = marginal;
    s->coefficient_fn = coefficients;
    s->user_data = user_data;
    pi_status st = PI_OK;
    if (coefficients != NULL)
        st = build_custom_table(s);
    /* Probe the callbacks across the range so a broken SDE fails here, not mid-run. */
    for (int i = 0; i <= 16 && st == PI_OK; i++) {
        pi_sde_point p;
        double t = t_min + (t_max - t_min) * i / 16.0;
        st = pi_sde_eval(s, t, &p);
        if (st == PI_OK && !(p.sigma_tilde > 0.0) && t > 0.0)
            st = pi_fail(PI_EINVAL, "pi_sde_create_custom: sigma/alpha must be > 0 for t > 0, got %g at t = %g",
                         p.sigma_tilde, t);
    }
    if (st != PI_OK) {
        pi_sde_release(s);
        pi_free(s);
        return st;
    }
    *out = s;
    return PI_OK;
}

void pi_sde_destroy(pi_sde_t *sde)
{
    if (sde == NULL)
        return;
    pi_sde_release(sde);
    pi_free(sde);
}

pi_status pi_sde_clone(const pi_sde_t *sde, pi_sde_t **out)
{
    PI_CHECK_NULL(sde);
    PI_CHECK_NULL(out);
    pi_sde_t *s = pi_calloc(1, sizeof *s);
    if (s == NULL)
        return pi_fail(PI_ENOMEM, "out of memory cloning an SDE");
    pi_status st = pi_sde_copy_into(sde, s);
    if (st != PI_OK) {
        pi_free(s);
        return st;
    }
    *out = s;
    return PI_OK;
}

pi_status pi_sde_get_kind(const pi_sde_t *sde, pi_sde_kind *out)
{
    PI_CHECK_NULL(sde);
    PI_CHECK_NULL(out);
    *out = sde->kind;
    return PI_OK;
}

static const char *param_name(pi_sde_param p)
{
    switch (p) {
    case PI_SDE_PARAM_BETA_MIN: return "beta_min";
    case PI_SDE_PARAM_BETA_MAX: return "beta_max";
    case PI_SDE_PARAM_COSINE_S: return "cosine_s";
    case PI_SDE_PARAM_SIGMA_MIN: return "sigma_min";
    case PI_SDE_PARAM_SIGMA_MAX: return "sigma_max";
    case PI_SDE_PARAM_T_MIN: return "t_min";
    case PI_SDE_PARAM_T_MAX: return "t_max";
    }
    return "unknown";
}

/* Pointer to the parameter's storage, or NULL if the kind lacks it. */
static double *param_slot(pi_sde_t *s, pi_sde_param p)
{
    int vp = s->kind == PI_SDE_KIND_VP_LINEAR || s->kind == PI_SDE_KIND_SUBVP;
    switch (p) {
    case PI_SDE_PARAM_BETA_MIN: return vp ? &s->beta_min : NULL;
    case PI_SDE_PARAM_BETA_MAX: return vp ? &s->beta_max : NULL;
    case PI_SDE_PARAM_COSINE_S: return s->kind == PI_SDE_KIND_VP_COSINE ? &s->cosine_s : NULL;
    case PI_SDE_PARAM_SIGMA_MIN: return (s->kind == PI_SDE_KIND_VE || s->kind == PI_SDE_KIND_EDM) ? &s->sigma_min : NULL;
    case PI_SDE_PARAM_SIGMA_MAX: return (s->kind == PI_SDE_KIND_VE || s->kind == PI_SDE_KIND_EDM) ? &s->sigma_max : NULL;
    case PI_SDE_PARAM_T_MIN: return s->kind == PI_SDE_KIND_CUSTOM ? NULL : &s->t_min;
    case PI_SDE_PARAM_T_MAX: return s->kind == PI_SDE_KIND_CUSTOM ? NULL : &s->t_max;
    }
    return NULL;
}

/* Check a candidate parameter set; message names the offending parameter. */
static pi_status validate(const pi_sde_t *c, pi_sde_param changed, double value)
{
    const char *name = param_name(changed);
    if (c->t_min < 0.0 || !(c->t_min < c->t_max))
        return pi_fail(PI_EINVAL, "pi_sde_set_param: %s = %g would break 0 <= t_min < t_max "
                                  "(t_min = %g, t_max = %g)", name, value, c->t_min, c->t_max);
    switch (c->kind) {
    case PI_SDE_KIND_VP_LINEAR:
    case PI_SDE_KIND_SUBVP:
        if (c->beta_min < 0.0 || !(c->beta_min < c->beta_max))
            return pi_fail(PI_EINVAL, "pi_sde_set_param: %s = %g would break 0 <= beta_min < beta_max "
                                      "(beta_min = %g, beta_max = %g)", name, value, c->beta_min, c->beta_max);
        if (vp_integral(c, c->t_max) > 700.0)
            return pi_fail(PI_EINVAL, "pi_sde_set_param: %s = %g makes the integral of beta over "
                                      "[0, t_max] exceed 700 (alpha underflows)", name, value);
        break;
    case PI_SDE_KIND_VP_COSINE:
        if (c->cosine_s < 0.0 || c->cosine_s > 1.0)
            return pi_fail(PI_EINVAL, "pi_sde_set_param: cosine_s must be in [0, 1], got %g", c->cosine_s);
        if (!(c->t_max < 1.0))
            return pi_fail(PI_EINVAL, "pi_sde_set_param: VP cosine needs t_max < 1 (alpha(1) = 0), got %g", c->t_max);
        break;
    case PI_SDE_KIND_RECTIFIED_FLOW:
        if (!(c->t_max < 1.0))
            return pi_fail(PI_EINVAL, "pi_sde_set_param: rectified flow needs t_max < 1 (alpha(1) = 0, "
                                      "lambda = -inf), got %g", c->t_max);
        break;
    case PI_SDE_KIND_DISCRETE:
        if (c->t_max > 1.0)
            return pi_fail(PI_EINVAL, "pi_sde_set_param: a discrete SDE's t_max must be <= 1 (the "
                                      "last table entry), got %g", c->t_max);
        break;
    case PI_SDE_KIND_VE:
    case PI_SDE_KIND_EDM:
        if (!(c->sigma_min > 0.0) || !(c->sigma_min < c->sigma_max))
            return pi_fail(PI_EINVAL, "pi_sde_set_param: %s = %g would break 0 < sigma_min < sigma_max "
                                      "(sigma_min = %g, sigma_max = %g)", name, value, c->sigma_min, c->sigma_max);
        if (c->kind == PI_SDE_KIND_VE && log(c->sigma_max / c->sigma_min) * c->t_max > 700.0)
            return pi_fail(PI_EINVAL, "pi_sde_set_param: sigma_max/sigma_min too large");
        break;
    case PI_SDE_KIND_CUSTOM:
        break;
    }
    return PI_OK;
}

pi_status pi_sde_set_param(pi_sde_t *sde, pi_sde_param param, double value)
{
    PI_CHECK_NULL(sde);
    if (!isfinite(value))
        return pi_fail(PI_EINVAL, "pi_sde_set_param: %s must be finite, got %g", param_name(param), value);
    pi_sde_t candidate = *sde;
    double *slot = param_slot(&candidate, param);
    if (slot == NULL)
        return pi_fail(PI_EINVAL, "pi_sde_set_param: parameter %d (%s) does not apply to a %s SDE",
                       (int)param, param_name(param), kind_name(sde->kind));
    *slot = value;
    if (candidate.kind == PI_SDE_KIND_EDM) { /* for EDM t is σ: the two ranges are one */
        if (param == PI_SDE_PARAM_SIGMA_MIN) candidate.t_min = value;
        if (param == PI_SDE_PARAM_SIGMA_MAX) candidate.t_max = value;
        if (param == PI_SDE_PARAM_T_MIN) candidate.sigma_min = value;
        if (param == PI_SDE_PARAM_T_MAX) candidate.sigma_max = value;
    }
    pi_status st = validate(&candidate, param, value);
    if (st != PI_OK)
        return st;
    *sde = candidate;
    return PI_OK;
}

pi_status pi_sde_get_param(const pi_sde_t *sde, pi_sde_param param, double *out)
{
    PI_CHECK_NULL(sde);
    PI_CHECK_NULL(out);
    double *slot = param_slot((pi_sde_t *)sde, param);
    if (slot == NULL)
        return pi_fail(PI_EINVAL, "pi_sde_get_param: parameter %d (%s) does not apply to a %s SDE",
                       (int)param, param_name(param), kind_name(sde->kind));
    *out = *slot;
    return PI_OK;
}

pi_status pi_sde_time_range(const pi_sde_t *sde, double *t_min, double *t_max)
{
    PI_CHECK_NULL(sde);
    if (t_min)
        *t_min = sde->t_min;
    if (t_max)
        *t_max = sde->t_max;
    return PI_OK;
}

#define CHECK_TIME(sde, t)                                                                      \
    do {                                                                                        \
        if (!isfinite(t) || (t) < 0.0 || (t) > (sde)->t_max)                                    \
            return pi_fail(PI_EINVAL, "%s: t must be in [0, %g] (the SDE's range), got %g",     \
                           __func__, (sde)->t_max, (t));                                        \
    } while (0)

pi_status pi_sde_marginal(const pi_sde_t *sde, double t, double *alpha, double *sigma)
{
    PI_CHECK_NULL(sde);
    CHECK_TIME(sde, t);
    double a, s;
    pi_status st = pi_sde_eval_marginal(sde, t, &a, &s);
    if (st != PI_OK)
        return st;
    if (alpha)
        *alpha = a;
    if (sigma)
        *sigma = s;
    return PI_OK;
}

pi_status pi_sde_coefficients(const pi_sde_t *sde, double t, double *f, double *g)
{
    PI_CHECK_NULL(sde);
    CHECK_TIME(sde, t);
    pi_sde_point p;
    pi_status st = pi_sde_eval(sde, t, &p);
    if (st != PI_OK)
        return st;
    if (f)
        *f = p.f;
    if (g)
        *g = sqrt(p.g2);
    return PI_OK;
}

pi_status pi_sde_sigma_tilde(const pi_sde_t *sde, double t, double *sigma_tilde, double *lambda)
{
    PI_CHECK_NULL(sde);
    CHECK_TIME(sde, t);
    double st_value;
    pi_status st = pi_sde_eval_sigma_tilde(sde, t, &st_value);
    if (st != PI_OK)
        return st;
    if (sigma_tilde)
        *sigma_tilde = st_value;
    if (lambda)
        *lambda = -log(st_value);
    return PI_OK;
}

pi_status pi_sde_time_from_sigma_tilde(const pi_sde_t *sde, double sigma_tilde, double *t)
{
    PI_CHECK_NULL(sde);
    PI_CHECK_NULL(t);
    if (!isfinite(sigma_tilde) || sigma_tilde < 0.0)
        return pi_fail(PI_EINVAL, "pi_sde_time_from_sigma_tilde: sigma_tilde must be finite and >= 0, got %g",
                       sigma_tilde);
    double value;
    pi_status st = pi_sde_invert_sigma_tilde(sde, sigma_tilde, &value);
    if (st == PI_OK)
        *t = value;
    return st;
}

pi_status pi_sde_prior_std(const pi_sde_t *sde, double *std)
{
    PI_CHECK_NULL(sde);
    PI_CHECK_NULL(std);
    double v = pi_sde_prior_std_of(sde);
    if (!isfinite(v) || !(v > 0.0))
        return pi_fail(PI_ENUMERIC, "prior standard deviation is %g", v);
    *std = v;
    return PI_OK;
}

static pi_status check_rows(size_t n, size_t dim, const char *fn)
{
    size_t total;
    if (n == 0 || dim == 0 || dim > PI_MAX_DIM || !pi_size_mul(n, dim, &total))
        return pi_fail(PI_EINVAL, "%s: need n >= 1 and 1 <= dim <= 2^20 with n*dim <= 2^40, got n = %zu, dim = %zu",
                       fn, n, dim);
    return PI_OK;
}

pi_status pi_sde_prior_sample(const pi_sde_t *sde, size_t n, size_t dim, uint64_t seed, float *out)
{
    PI_CHECK_NULL(sde);
    PI_CHECK_NULL(out);
    pi_status st = check_rows(n, dim, __func__);
    if (st != PI_OK)
        return st;
    double std = pi_sde_prior_std_of(sde);
    if (!isfinite(std) || !(std > 0.0))
        return pi_fail(PI_ENUMERIC, "pi_sde_prior_sample: prior standard deviation is %g", std);
    for (size_t i = 0; i < n; i++) {
        float *row = out + i * dim;
        pi_rng_normal_f(seed, PI_STREAM_PRIOR, i, 0, dim, row);
        if (std != 1.0)
            for (size_t j = 0; j < dim; j++)
                row[j] = (float)(std * row[j]);
    }
    return PI_OK;
}

pi_status pi_sde_prior_logpdf(const pi_sde_t *sde, size_t n, size_t dim, const float *x, double *out)
{
    PI_CHECK_NULL(sde);
    PI_CHECK_NULL(x);
    PI_CHECK_NULL(out);
    pi_status st = check_rows(n, dim, __func__);
    if (st != PI_OK)
        return st;
    double std = pi_sde_prior_std_of(sde);
    if (!isfinite(std) || !(std > 0.0))
        return pi_fail(PI_ENUMERIC, "pi_sde_prior_logpdf: prior standard deviation is %g", std);
    size_t bad = pi_first_nonfinite_f(x, n * dim);
    if (bad < n * dim)
        return pi_fail(PI_EINVAL, "pi_sde_prior_logpdf: x has a non-finite value in row %zu", bad / dim);
    double norm = -(double)dim * (log(std) + 0.5 * PI_LOG_2PI);
    for (size_t i = 0; i < n; i++) {
        double ss = 0.0;
        for (size_t j = 0; j < dim; j++) {
            double v = x[i * dim + j] / std;
            ss += v * v;
        }
        out[i] = norm - 0.5 * ss;
    }
    return PI_OK;
}

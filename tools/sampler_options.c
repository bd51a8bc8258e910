/* pathint command: the sampler options of sample, nll and wkb (SAMPLER_OPTIONS in commands.h). */
#include "commands.h"
#include "messages.h"

#include <math.h>

static const named_value method_names[] = {
    {"euler", PI_METHOD_EULER}, {"exp1", PI_METHOD_EXP1}, {"ddim", PI_METHOD_EXP1},
    {"exp2m", PI_METHOD_EXP2M}, {"dpm2m", PI_METHOD_EXP2M}, {"heun", PI_METHOD_HEUN},
    {"rk45", PI_METHOD_RK45},   {"exp3m", PI_METHOD_EXP3M},
    {"ipndm", PI_METHOD_IPNDM}, {"sa", PI_METHOD_SA},
    {"unipc", PI_METHOD_UNIPC}, {NULL, 0}};
static const named_value schedule_names[] = {{"uniform-lambda", PI_SCHEDULE_UNIFORM_LAMBDA},
                                             {"uniform-t", PI_SCHEDULE_UNIFORM_T},
                                             {"karras", PI_SCHEDULE_KARRAS},
                                             {NULL, 0}};

int check_sampler_options(args *a)
{
    (void)opt_double(a, "hbar", 0.0);
    (void)opt_choice(a, "method", method_names, PI_METHOD_EXP2M);
    (void)opt_u64(a, "steps", 50, 1, 1000000);
    (void)opt_choice(a, "schedule", schedule_names, PI_SCHEDULE_UNIFORM_LAMBDA);
    (void)opt_double(a, "rho", NAN);
    (void)opt_u64(a, "seed", 0, 0, UINT64_MAX);
    (void)opt_u64(a, "threads", 1, 1, 256);
    /* The library's ranges, checked before any file is read (invalid values are usage errors). */
    opt_library_range(a, "hbar", PI_OPTION_SAMPLER_HBAR);
    opt_library_range(a, "steps", PI_OPTION_SAMPLER_STEPS);
    opt_library_range(a, "rho", PI_OPTION_SAMPLER_KARRAS_RHO);
    opt_library_range(a, "threads", PI_OPTION_SAMPLER_THREADS);
    return a->bad ? EXIT_USAGE : 0;
}

pi_status configure_sampler(args *a, pi_sampler_t *s)
{
    pi_status st = PI_OK;
    if (!st && has_opt(a, "hbar"))
        st = pi_sampler_set_hbar(s, opt_double(a, "hbar", 0.0));
    if (!st && has_opt(a, "method"))
        st = pi_sampler_set_method(s, (pi_method)opt_choice(a, "method", method_names, PI_METHOD_EXP2M));
    if (!st && has_opt(a, "steps"))
        st = pi_sampler_set_steps(s, (size_t)opt_u64(a, "steps", 50, 1, 1000000));
    if (!st && (has_opt(a, "schedule") || has_opt(a, "rho")))
        st = pi_sampler_set_schedule(
            s, (pi_schedule)opt_choice(a, "schedule", schedule_names, PI_SCHEDULE_UNIFORM_LAMBDA),
            opt_double(a, "rho", 7.0));
    if (!st && has_opt(a, "seed"))
        st = pi_sampler_set_seed(s, opt_u64(a, "seed", 0, 0, UINT64_MAX));
    if (!st && has_opt(a, "threads"))
        st = pi_sampler_set_threads(s, (int)opt_u64(a, "threads", 1, 1, 256));
    return st;
}

/* Shared helpers of the benchmark programs: timing, medians, JSON results, machine facts. */
#ifndef PI_BENCH_UTIL_H
#define PI_BENCH_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Monotonic wall clock in seconds. */
double bench_now(void);
/* Median of n values (the array is sorted in place). */
double bench_median(double *v, size_t n);

/* One report entry. ratio: see bench/README.md (the named quantity, e.g. value/reference for
 * throughputs). NaN prints as null. */
typedef struct bench_result {
    char name[80];
    double value;
    const char *unit;
    double reference;
    const char *reference_name;
    double ratio;
    double target;
    const char *better; /* "higher" | "lower" */
    int threads;
    char note[400];
} bench_result;

bench_result *bench_add(const char *name, double value, const char *unit, double reference,
                        const char *reference_name, double ratio, double target,
                        const char *better, int threads);
void bench_note(bench_result *r, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* A null entry with an explanation (the library function has not landed, or failed). */
bench_result *bench_null(const char *name, const char *unit, const char *reference_name,
                         double target, const char *better, int threads, const char *why);

/* Print {"machine": {...}, "config": {...}, "results": [...]} to fp. config_json may be NULL
 * (otherwise a JSON object text). */
void bench_print_json(FILE *fp, const char *config_json);

/* Peak / current resident set (bytes) from /proc/self/status; 0 if unknown. */
size_t bench_rss_bytes(const char *field);

/* Deterministic uniform / normal fill (splitmix-based; independent of the library). */
void bench_fill_uniform(float *x, size_t n, uint64_t seed, float lo, float hi);
void bench_fill_normal(float *x, size_t n, uint64_t seed);

/* 64-byte aligned allocation (free with bench_free). */
void *bench_alloc(size_t bytes);
void bench_free(void *p);

#endif

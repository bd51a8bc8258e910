/* Shared helpers of the benchmark programs. */
#define _GNU_SOURCE
#include "bench_util.h"
#include "pathint.h"

#include <blis.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_RESULTS 256

static bench_result results[MAX_RESULTS];
static size_t nresults;

double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double bench_median(double *v, size_t n)
{
    if (n == 0)
        return NAN;
    qsort(v, n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

bench_result *bench_add(const char *name, double value, const char *unit, double reference,
                        const char *reference_name, double ratio, double target,
                        const char *better, int threads)
{
    static bench_result overflow;
    if (nresults >= MAX_RESULTS)
        return &overflow;
    bench_result *r = &results[nresults++];
    memset(r, 0, sizeof *r);
    snprintf(r->name, sizeof r->name, "%s", name);
    r->value = value;
    r->unit = unit;
    r->reference = reference;
    r->reference_name = reference_name;
    r->ratio = ratio;
    r->target = target;
    r->better = better;
    r->threads = threads;
    fprintf(stderr, "  %-44s %12.4g %-10s ref %12.4g  ratio %8.4g\n", name, value, unit,
            reference, ratio);
    return r;
}

void bench_note(bench_result *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->note, sizeof r->note, fmt, ap);
    va_end(ap);
}

bench_result *bench_null(const char *name, const char *unit, const char *reference_name,
                         double target, const char *better, int threads, const char *why)
{
    bench_result *r =
        bench_add(name, NAN, unit, NAN, reference_name, NAN, target, better, threads);
    bench_note(r, "%s", why);
    return r;
}

static void print_string(FILE *fp, const char *s)
{
    fputc('"', fp);
    for (; s != NULL && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(fp, "\\%c", c);
        else if (c < 0x20)
            fprintf(fp, "\\u%04x", c);
        else
            fputc(c, fp);
    }
    fputc('"', fp);
}

static void print_number(FILE *fp, double v)
{
    if (isfinite(v))
        fprintf(fp, "%.6g", v);
    else
        fputs("null", fp);
}

static void cpu_model(char *buf, size_t cap)
{
    snprintf(buf, cap, "unknown");
    FILE *fp = fopen("/proc/cpuinfo", "r");
    if (fp == NULL)
        return;
    char line[512];
    while (fgets(line, sizeof line, fp)) {
        if (strncmp(line, "model name", 10) == 0) {
            char *colon = strchr(line, ':');
            if (colon) {
                colon++;
                while (*colon == ' ' || *colon == '\t')
                    colon++;
                colon[strcspn(colon, "\n")] = '\0';
                snprintf(buf, cap, "%s", colon);
            }
            break;
        }
    }
    fclose(fp);
}

/* The BLIS flavour directory actually mapped into this process (blis-pthread, ...). */
static void blis_flavour(char *buf, size_t cap)
{
    snprintf(buf, cap, "unknown");
    FILE *fp = fopen("/proc/self/maps", "r");
    if (fp == NULL)
        return;
    char line[1024];
    while (fgets(line, sizeof line, fp)) {
        char *p = strstr(line, "libblis");
        if (p) {
            char *path = strchr(line, '/');
            if (path) {
                path[strcspn(path, "\n")] = '\0';
                snprintf(buf, cap, "%s", path);
            }
            break;
        }
    }
    fclose(fp);
    if (strcmp(buf, "unknown") == 0)
        snprintf(buf, cap, "statically linked");
}

size_t bench_rss_bytes(const char *field)
{
    FILE *fp = fopen("/proc/self/status", "r");
    if (fp == NULL)
        return 0;
    char line[256];
    size_t kb = 0, len = strlen(field);
    while (fgets(line, sizeof line, fp)) {
        if (strncmp(line, field, len) == 0 && line[len] == ':') {
            kb = (size_t)strtoull(line + len + 1, NULL, 10);
            break;
        }
    }
    fclose(fp);
    return kb * 1024;
}

void bench_print_json(FILE *fp, const char *config_json)
{
    char cpu[256], flavour[512];
    cpu_model(cpu, sizeof cpu);
    blis_flavour(flavour, sizeof flavour);
    fprintf(fp, "{\"machine\": {\"cpu_model\": ");
    print_string(fp, cpu);
    fprintf(fp, ", \"cores_online\": %ld, \"blis_library\": ", sysconf(_SC_NPROCESSORS_ONLN));
    print_string(fp, flavour);
    fprintf(fp, ", \"blis_version\": ");
    print_string(fp, bli_info_get_version_str());
    fprintf(fp, ", \"blis_arch\": ");
    print_string(fp, pi_blis_kernels());
    fprintf(fp, ", \"blis_kernel_choice\": ");
    print_string(fp, pi_blis_kernel_choice());
    fprintf(fp, ", \"blis_threading\": ");
    print_string(fp, pi_blis_threading());
    fprintf(fp, ", \"cpu_count\": %u, \"cpu_vector_extensions\": [", pi_cpu_count());
    const char *feature;
    int supported, nfeatures = 0;
    for (size_t i = 0; pi_cpu_feature_at(i, &feature, &supported) == PI_OK; i++)
        if (supported)
            fprintf(fp, "%s\"%s\"", nfeatures++ ? ", " : "", feature);
    fprintf(fp, "]");
    fprintf(fp, ", \"compiler\": ");
#ifdef __VERSION__
    print_string(fp, __VERSION__);
#else
    print_string(fp, "unknown");
#endif
    fprintf(fp, "},\n \"config\": %s,\n \"results\": [", config_json ? config_json : "{}");
    for (size_t i = 0; i < nresults; i++) {
        const bench_result *r = &results[i];
        fprintf(fp, "%s\n  {\"name\": ", i ? "," : "");
        print_string(fp, r->name);
        fprintf(fp, ", \"value\": ");
        print_number(fp, r->value);
        fprintf(fp, ", \"unit\": ");
        print_string(fp, r->unit);
        fprintf(fp, ", \"reference\": ");
        print_number(fp, r->reference);
        fprintf(fp, ", \"reference_name\": ");
        print_string(fp, r->reference_name);
        fprintf(fp, ", \"ratio\": ");
        print_number(fp, r->ratio);
        fprintf(fp, ", \"target\": ");
        print_number(fp, r->target);
        fprintf(fp, ", \"better\": ");
        print_string(fp, r->better);
        fprintf(fp, ", \"threads\": %d", r->threads);
        if (r->note[0]) {
            fprintf(fp, ", \"note\": ");
            print_string(fp, r->note);
        }
        fputc('}', fp);
    }
    fprintf(fp, "\n]}\n");
}

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static double u01(uint64_t *s) { return ((double)(splitmix(s) >> 11) + 0.5) * 0x1.0p-53; }

void bench_fill_uniform(float *x, size_t n, uint64_t seed, float lo, float hi)
{
    uint64_t s = seed;
    for (size_t i = 0; i < n; i++)
        x[i] = lo + (hi - lo) * (float)u01(&s);
}

void bench_fill_normal(float *x, size_t n, uint64_t seed)
{
    uint64_t s = seed ^ 0x5bd1e995u;
    for (size_t i = 0; i < n; i++) {
        double u = u01(&s), v = u01(&s);
        x[i] = (float)(sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v));
    }
}

void *bench_alloc(size_t bytes)
{
    void *p = NULL;
    if (posix_memalign(&p, 64, bytes ? bytes : 64) != 0)
        return NULL;
    return p;
}

void bench_free(void *p) { free(p); }

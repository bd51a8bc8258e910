/* Internal core: status messages, argument checks, allocation. Used by every module. */
#ifndef PI_CORE_H
#define PI_CORE_H

#include "pathint.h"

#include <math.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__)
#define PI_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define PI_PRINTF(a, b)
#endif

/* Record a formatted message for pi_last_error() and return code. */
pi_status pi_fail(pi_status code, const char *fmt, ...) PI_PRINTF(2, 3);

/* Argument checks. Each returns from the calling function on failure, naming the argument. */
#define PI_CHECK_NULL(ptr)                                                                     \
    do {                                                                                       \
        if ((ptr) == NULL)                                                                     \
            return pi_fail(PI_EINVAL, "%s: %s must not be NULL", __func__, #ptr);             \
    } while (0)

/* A getter of one option: pi_status name(const handle_type *handle, type *out), reading expr
 * (written in terms of `handle`). */
#define PI_DEFINE_GETTER(name, handle_type, handle, type, expr)                                \
    pi_status name(const handle_type *handle, type *out)                                       \
    {                                                                                          \
        PI_CHECK_NULL(handle);                                                                 \
        PI_CHECK_NULL(out);                                                                    \
        *out = (expr);                                                                         \
        return PI_OK;                                                                          \
    }

/* Returns from the calling function with check's status when value is outside the option
 * table's row for key (check: pi_option_check for doubles, pi_option_check_int / _size / _u64
 * for integer types, from core/options.h; messages name the calling function). */
#define PI_CHECK_OPTION(check, key, value)                                                     \
    do {                                                                                       \
        pi_status st_ = check((key), (value), __func__);                                      \
        if (st_ != PI_OK)                                                                      \
            return st_;                                                                        \
    } while (0)

/* The setter of one option: pi_status name(handle_type *handle, type value) checks value
 * against the option table's row for key (PI_CHECK_OPTION) and then assigns field = value
 * (field written in terms of `handle`). Every option setter that only stores its value is
 * one of these, so none can skip the table's validation; setters that do more (a value that
 * depends on another option or on the model) call PI_CHECK_OPTION first. The file must
 * include core/options.h. */
#define PI_DEFINE_OPTION_SETTER(name, handle_type, handle, type, value, check, key, field)      \
    pi_status name(handle_type *handle, type value)                                            \
    {                                                                                          \
        PI_CHECK_NULL(handle);                                                                 \
        PI_CHECK_OPTION(check, key, value);                                                    \
        field = (value);                                                                       \
        return PI_OK;                                                                          \
    }

/* The setter of two options set together: both are checked (in order) before either is
 * assigned. */
#define PI_DEFINE_OPTION_SETTER2(name, handle_type, handle, type1, value1, check1, key1,        \
                                 field1, type2, value2, check2, key2, field2)                  \
    pi_status name(handle_type *handle, type1 value1, type2 value2)                            \
    {                                                                                          \
        PI_CHECK_NULL(handle);                                                                 \
        PI_CHECK_OPTION(check1, key1, value1);                                                 \
        PI_CHECK_OPTION(check2, key2, value2);                                                 \
        field1 = (value1);                                                                     \
        field2 = (value2);                                                                     \
        return PI_OK;                                                                          \
    }

#define PI_CHECK_FINITE(value)                                                                 \
    do {                                                                                       \
        if (!isfinite(value))                                                                  \
            return pi_fail(PI_EINVAL, "%s: %s must be finite, got %g", __func__, #value,        \
                           (double)(value));                                                   \
    } while (0)

/* One long call at a time on a handle: marks *running (0 -> 1) and returns PI_OK, or fails
 * with PI_EBUSY naming func when another call (another thread, or a callback of the running
 * call) holds the handle. The caller clears *running when it is done. */
pi_status pi_enter_busy(atomic_int *running, const char *func, const char *handle);

/* Sizes above this are rejected as absurd (guards against overflow and forged sizes). */
#define PI_MAX_ELEMENTS ((size_t)1 << 40)
#define PI_MAX_DIM ((size_t)1 << 20)
/* Largest number of classes and condition-vector length of a conditional model (issue 15). */
#define PI_MAX_CLASSES 65536
#define PI_MAX_COND_DIM 65536

#define PI_CHECK_SIZE(value)                                                                   \
    do {                                                                                       \
        if ((value) == 0 || (size_t)(value) > PI_MAX_ELEMENTS)                                 \
            return pi_fail(PI_EINVAL, "%s: %s must be in [1, 2^40], got %zu", __func__, #value, \
                           (size_t)(value));                                                   \
    } while (0)

/* Overflow-checked product; returns 0 (and leaves *out) on overflow or if > PI_MAX_ELEMENTS. */
int pi_size_mul(size_t a, size_t b, size_t *out);

/* Allocation. Every allocation in lib/ goes through these (fault-injection tests rely on it).
 * pi_alloc_array returns NULL on overflow as well as on exhaustion. Freed with pi_free. */
void *pi_malloc(size_t bytes);
void *pi_calloc(size_t count, size_t size);
void *pi_alloc_array(size_t count, size_t size);

/* Allocation helpers that also record the message: return PI_ENOMEM on failure. */
pi_status pi_alloc_or_fail(void **out, size_t count, size_t size, const char *what);

/* Finite check of a float / double array. Returns the index of the first bad value or n. */
size_t pi_first_nonfinite_f(const float *x, size_t n);
size_t pi_first_nonfinite_d(const double *x, size_t n);

/* Atomic file write: write to "<path>.tmp.XXXXXX" and rename. The writer callback writes the
 * whole content with pi_file_write. */
typedef struct pi_file pi_file;
pi_status pi_file_write(pi_file *file, const void *data, size_t bytes);
pi_status pi_write_file_atomic(const char *path, pi_status (*writer)(pi_file *file, const void *ctx),
                               const void *ctx);
/* Run a writer into memory instead of a file (same pi_file interface): *data (freed with
 * pi_free) receives the bytes. `what` names the content in error messages. */
pi_status pi_render_to_memory(pi_status (*writer)(pi_file *file, const void *ctx), const void *ctx,
                              const char *what, unsigned char **data, size_t *size);
/* Read a whole file (bounded by max_bytes); *data freed with pi_free. */
pi_status pi_read_file(const char *path, size_t max_bytes, unsigned char **data, size_t *size);

/* Decimal text of a double in files, independent of the host's locale (a host that called
 * setlocale(LC_ALL, "") with a comma-decimal locale must still write and read "0.5"):
 * pi_format_double writes "%.17g" in the C locale (round-trips) and returns its length, or -1
 * if it does not fit or no C locale object can be made; pi_parse_double reads the whole
 * string s in the C locale and returns 1 with *out, or 0 if s is not exactly one number. */
int pi_format_double(char *out, size_t cap, double v);
int pi_parse_double(const char *s, double *out);

/* FNV-1a-style 64-bit checksum (used by file formats). */
uint64_t pi_checksum64(const void *data, size_t bytes, uint64_t seed);

#endif

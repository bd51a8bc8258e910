/* Loading and saving n × dim float arrays: .npy, .csv and pathint's raw .f32.
 *
 * Loading reads the whole file (bounded), validates every header field against the file's
 * length before allocating (a forged shape cannot cause a huge allocation), checks every value
 * is finite and fails with PI_EFORMAT and a message naming the problem. Saving is atomic.
 * Number parsing and printing do not depend on the C locale. */
#include "core/core.h"
#include "core/codec.h"

#include <stdio.h>
#include <string.h>

#define DATA_MAX_BYTES ((size_t)1 << 36) /* 64 GiB: larger files are refused */
#define F32_MAGIC "PIF32\0\0\0"
#define F32_HEADER 24
#define NPY_MAGIC "\x93NUMPY"

/* ---- values -------------------------------------------------------------------------- */

/* Convert the raw values (float32 or float64 little-endian) to float, rejecting non-finite
 * ones (and float64 values outside the float range) with their row and column. */
static pi_status convert_values(const char *path, const unsigned char *raw, size_t itemsize,
                                size_t n, size_t dim, float *out)
{
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < dim; j++) {
            size_t k = i * dim + j;
            float v = itemsize == 4 ? pi_get_f32(raw + 4 * k) : (float)pi_get_f64(raw + 8 * k);
            if (!isfinite(v))
                return pi_fail(PI_EFORMAT,
                               "%s: row %zu, column %zu is not a finite float32 value", path, i,
                               j);
            out[k] = v;
        }
    return PI_OK;
}

static pi_status alloc_values(const char *path, size_t n, size_t dim, float **out)
{
    size_t total;
    if (n == 0 || dim == 0 || dim > PI_MAX_DIM || !pi_size_mul(n, dim, &total))
        return pi_fail(PI_EFORMAT, "%s: shape %zu x %zu is empty or too large", path, n, dim);
    float *data = pi_alloc_array(total, sizeof(float));
    if (data == NULL)
        return pi_fail(PI_ENOMEM, "%s: out of memory for %zu x %zu floats", path, n, dim);
    *out = data;
    return PI_OK;
}

/* ---- raw .f32 -------------------------------------------------------------------------- */

static pi_status load_f32(const char *path, const unsigned char *buf, size_t size, float **data,
                          size_t *n, size_t *dim)
{
    if (size < F32_HEADER)
        return pi_fail(PI_EFORMAT, "%s: truncated .f32 header (%zu bytes, need 24)", path, size);
    uint64_t rows = pi_get_u64(buf + 8), cols = pi_get_u64(buf + 16);
    size_t total;
    if (rows == 0 || cols == 0 || cols > PI_MAX_DIM || rows > PI_MAX_ELEMENTS ||
        !pi_size_mul((size_t)rows, (size_t)cols, &total))
        return pi_fail(PI_EFORMAT, "%s: .f32 shape %llu x %llu is empty or too large", path,
                       (unsigned long long)rows, (unsigned long long)cols);
    if ((size - F32_HEADER) / 4 != total || (size - F32_HEADER) % 4 != 0)
        return pi_fail(PI_EFORMAT,
                       "%s: .f32 header says %llu x %llu floats (%zu bytes) but the file holds "
                       "%zu bytes of data",
                       path, (unsigned long long)rows, (unsigned long long)cols, total * 4,
                       size - F32_HEADER);
    float *values;
    pi_status st = alloc_values(path, (size_t)rows, (size_t)cols, &values);
    if (st != PI_OK)
        return st;
    st = convert_values(path, buf + F32_HEADER, 4, (size_t)rows, (size_t)cols, values);
    if (st != PI_OK) {
        pi_free(values);
        return st;
    }
    *data = values;
    *n = (size_t)rows;
    *dim = (size_t)cols;
    return PI_OK;
}

/* ---- .npy ------------------------------------------------------------------------------ */

typedef struct npy_cursor {
    const char *p, *end;
} npy_cursor;

static void skip_space(npy_cursor *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t'))
        c->p++;
}

static int accept(npy_cursor *c, const char *token)
{
    size_t len = strlen(token);
    skip_space(c);
    if ((size_t)(c->end - c->p) >= len && memcmp(c->p, token, len) == 0) {
        c->p += len;
        return 1;
    }
    return 0;
}

/* A quoted key or string value ('...' or "..."), at most cap − 1 characters. */
static int parse_string(npy_cursor *c, char *out, size_t cap)
{
    skip_space(c);
    if (c->p >= c->end || (*c->p != '\'' && *c->p != '"'))
        return 0;
    char quote = *c->p++;
    size_t len = 0;
    while (c->p < c->end && *c->p != quote) {
        if (len + 1 >= cap || *c->p == '\0') /* '<f4\0' is not '<f4' */
            return 0;
        out[len++] = *c->p++;
    }
    if (c->p >= c->end)
        return 0;
    c->p++;
    out[len] = '\0';
    return 1;
}

static int parse_uint(npy_cursor *c, uint64_t *out)
{
    skip_space(c);
    uint64_t v = 0;
    int digits = 0;
    while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
        if (v > (UINT64_MAX - 9) / 10)
            return 0;
        v = v * 10 + (uint64_t)(*c->p - '0');
        c->p++;
        digits++;
    }
    if (digits == 0)
        return 0;
    if (c->p < c->end && *c->p == 'L') /* Python 2 long suffix */
        c->p++;
    *out = v;
    return 1;
}

/* shape tuple: (), (n,), (n, d) or (n, d,); more than 2 dimensions is rejected. */
static int parse_shape(npy_cursor *c, uint64_t *shape, int *ndim)
{
    if (!accept(c, "("))
        return 0;
    *ndim = 0;
    for (;;) {
        if (accept(c, ")"))
            return 1;
        if (*ndim == 2)
            return 0;
        if (!parse_uint(c, &shape[*ndim]))
            return 0;
        (*ndim)++;
        if (accept(c, ","))
            continue;
        return accept(c, ")");
    }
}

static pi_status load_npy(const char *path, const unsigned char *buf, size_t size, float **data,
                          size_t *n, size_t *dim)
{
    if (size < 10)
        return pi_fail(PI_EFORMAT, "%s: truncated .npy preamble", path);
    unsigned major = buf[6];
    size_t header_len, offset;
    if (major == 1) {
        header_len = pi_get_u16(buf + 8);
        offset = 10;
    } else if (major == 2 || major == 3) {
        if (size < 12)
            return pi_fail(PI_EFORMAT, "%s: truncated .npy preamble", path);
        header_len = pi_get_u32(buf + 8);
        offset = 12;
    } else {
        return pi_fail(PI_EFORMAT, "%s: unsupported .npy version %u.%u (need 1.0, 2.0 or 3.0)",
                       path, major, (unsigned)buf[7]);
    }
    if (header_len > size - offset || header_len > 65536)
        return pi_fail(PI_EFORMAT, "%s: .npy header length %zu exceeds the file", path,
                       header_len);
    npy_cursor c = {(const char *)buf + offset, (const char *)buf + offset + header_len};
    /* Trailing spaces and the final newline are padding. */
    while (c.end > c.p && (c.end[-1] == ' ' || c.end[-1] == '\n' || c.end[-1] == '\0'))
        c.end--;
    char descr[16] = "";
    int fortran = -1, have_shape = 0, ndim = 0;
    uint64_t shape[2] = {0, 0};
    if (!accept(&c, "{"))
        return pi_fail(PI_EFORMAT, "%s: .npy header is not a dictionary", path);
    for (;;) {
        char key[32];
        if (accept(&c, "}"))
            break;
        if (!parse_string(&c, key, sizeof key) || !accept(&c, ":"))
            return pi_fail(PI_EFORMAT, "%s: malformed .npy header dictionary", path);
        if (strcmp(key, "descr") == 0) {
            if (!parse_string(&c, descr, sizeof descr))
                return pi_fail(PI_EFORMAT, "%s: malformed .npy 'descr'", path);
        } else if (strcmp(key, "fortran_order") == 0) {
            if (accept(&c, "False"))
                fortran = 0;
            else if (accept(&c, "True"))
                fortran = 1;
            else
                return pi_fail(PI_EFORMAT, "%s: malformed .npy 'fortran_order'", path);
        } else if (strcmp(key, "shape") == 0) {
            if (!parse_shape(&c, shape, &ndim))
                return pi_fail(PI_EFORMAT,
                               "%s: .npy 'shape' must be a tuple of 1 or 2 sizes", path);
            have_shape = 1;
        } else {
            return pi_fail(PI_EFORMAT, "%s: unexpected .npy header key '%s'", path, key);
        }
        if (!accept(&c, ",")) {
            if (!accept(&c, "}"))
                return pi_fail(PI_EFORMAT, "%s: malformed .npy header dictionary", path);
            break;
        }
    }
    skip_space(&c);
    if (c.p != c.end)
        return pi_fail(PI_EFORMAT, "%s: trailing characters after the .npy header", path);
    size_t itemsize;
    if (strcmp(descr, "<f4") == 0)
        itemsize = 4;
    else if (strcmp(descr, "<f8") == 0)
        itemsize = 8;
    else
        return pi_fail(PI_EFORMAT, "%s: .npy dtype '%s' is not supported (need '<f4' or '<f8')",
                       path, descr);
    if (fortran != 0)
        return pi_fail(PI_EFORMAT, "%s: .npy array must have fortran_order False", path);
    if (!have_shape || ndim == 0)
        return pi_fail(PI_EFORMAT, "%s: .npy array must be 1-D or 2-D", path);
    uint64_t rows = shape[0], cols = ndim == 2 ? shape[1] : 1;
    size_t total;
    if (rows == 0 || cols == 0 || cols > PI_MAX_DIM || rows > PI_MAX_ELEMENTS ||
        !pi_size_mul((size_t)rows, (size_t)cols, &total))
        return pi_fail(PI_EFORMAT, "%s: .npy shape %llu x %llu is empty or too large", path,
                       (unsigned long long)rows, (unsigned long long)cols);
    size_t avail = size - offset - header_len;
    if (avail / itemsize != total || avail % itemsize != 0)
        return pi_fail(PI_EFORMAT,
                       "%s: .npy shape %llu x %llu needs %zu data bytes but the file holds %zu",
                       path, (unsigned long long)rows, (unsigned long long)cols,
                       total * itemsize, avail);
    float *values;
    pi_status st = alloc_values(path, (size_t)rows, (size_t)cols, &values);
    if (st != PI_OK)
        return st;
    st = convert_values(path, buf + offset + header_len, itemsize, (size_t)rows, (size_t)cols,
                        values);
    if (st != PI_OK) {
        pi_free(values);
        return st;
    }
    *data = values;
    *n = (size_t)rows;
    *dim = (size_t)cols;
    return PI_OK;
}

/* ---- .csv ------------------------------------------------------------------------------ */

/* Strict decimal number: [+-] digits [. digits] [(e|E) [+-] digits], at least one mantissa
 * digit. Locale independent. Returns 1 and the value on success. */
static int parse_number(const char *p, const char *end, double *out)
{
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    int negative = 0;
    if (p < end && (*p == '+' || *p == '-'))
        negative = *p++ == '-';
    uint64_t mantissa = 0;
    int digits = 0, exp10 = 0;
    for (; p < end && *p >= '0' && *p <= '9'; p++, digits++) {
        if (mantissa < UINT64_C(100000000000000000))
            mantissa = mantissa * 10 + (uint64_t)(*p - '0');
        else
            exp10++; /* digits beyond 17 significant ones only scale */
    }
    if (p < end && *p == '.') {
        p++;
        for (; p < end && *p >= '0' && *p <= '9'; p++, digits++)
            if (mantissa < UINT64_C(100000000000000000)) {
                mantissa = mantissa * 10 + (uint64_t)(*p - '0');
                exp10--;
            }
    }
    if (digits == 0)
        return 0;
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        int eneg = 0, edigits = 0;
        long e = 0;
        if (p < end && (*p == '+' || *p == '-'))
            eneg = *p++ == '-';
        for (; p < end && *p >= '0' && *p <= '9'; p++, edigits++)
            if (e < 100000)
                e = e * 10 + (*p - '0');
        if (edigits == 0)
            return 0;
        exp10 += (int)(eneg ? -e : e);
    }
    if (p != end)
        return 0;
    double v = (double)mantissa;
    if (mantissa != 0) {
        /* Scale in two steps so that 10^exp10 neither overflows nor underflows early. */
        if (exp10 > 300 || exp10 < -300) {
            v = exp10 > 0 ? HUGE_VAL : 0.0;
        } else if (exp10 < 0) {
            v /= pow(10.0, -exp10);
        } else if (exp10 > 0) {
            v *= pow(10.0, exp10);
        }
    }
    *out = negative ? -v : v;
    return 1;
}

/* Whether the field [p, end) is a column name: optionally quoted, starting with a letter or
 * '_' (ASCII, or a non-ASCII UTF-8 character other than U+FEFF and the full-width forms,
 * whose digits U+FF10.. are numbers to a reader), and not nan/inf/infinity, which are values. */
static int field_is_name(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    if (end - p >= 2 && (*p == '"' || *p == '\'') && end[-1] == *p) {
        p++;
        end--;
    }
    if (p >= end)
        return 0;
    const unsigned char *u = (const unsigned char *)p;
    int letter = (u[0] >= 'a' && u[0] <= 'z') || (u[0] >= 'A' && u[0] <= 'Z') || u[0] == '_';
    int other = u[0] >= 0xC2 && !(u[0] == 0xEF && end - p >= 2 && u[1] >= 0xBC) &&
                !(end - p >= 3 && memcmp(u, "\xEF\xBB\xBF", 3) == 0); /* U+FEFF, a BOM */
    if (!letter && !other)
        return 0;
    static const char *const values[] = {"nan", "inf", "infinity"};
    for (size_t k = 0; k < sizeof values / sizeof values[0]; k++) {
        size_t len = strlen(values[k]);
        if ((size_t)(end - p) != len)
            continue;
        size_t i = 0;
        while (i < len && (p[i] | 0x20) == values[k][i])
            i++;
        if (i == len)
            return 0;
    }
    return 1;
}

/* Columns of one line [p, end), or 0 if some field is not a number (fields counted). */
static size_t count_fields(const char *p, const char *end)
{
    size_t fields = 1;
    for (; p < end; p++)
        if (*p == ',')
            fields++;
    return fields;
}

static int line_is_blank(const char *p, const char *end)
{
    for (; p < end; p++)
        if (*p != ' ' && *p != '\t' && *p != '\r')
            return 0;
    return 1;
}

/* Parse one line's fields into out (cols values). Returns the column of the first field that
 * is not a number, or cols if all parsed. */
static size_t parse_line(const char *p, const char *end, size_t cols, double *out)
{
    for (size_t j = 0; j < cols; j++) {
        const char *q = p;
        while (q < end && *q != ',')
            q++;
        if (!parse_number(p, q, &out[j]))
            return j;
        p = q + 1;
    }
    return cols;
}

/* The line starting at p: its end (without "\r\n" or "\n") and the start of the next. */
static void split_line(const char *p, const char *end, const char **line_end, const char **next)
{
    const char *q = p;
    while (q < end && *q != '\n')
        q++;
    *next = q < end ? q + 1 : end;
    if (q > p && q[-1] == '\r')
        q--;
    *line_end = q;
}

static pi_status load_csv(const char *path, const unsigned char *ubuf, size_t size, float **data,
                          size_t *n, size_t *dim)
{
    const char *buf = (const char *)ubuf, *end = buf + size;
    /* A UTF-8 byte-order mark (what spreadsheet programs write) is skipped. */
    if (size >= 3 && ubuf[0] == 0xEF && ubuf[1] == 0xBB && ubuf[2] == 0xBF)
        buf += 3;
    /* First pass: count data lines and columns, find the header. */
    size_t cols = 0, rows = 0, line_no = 0;
    const char *first_data = NULL;
    int header_checked = 0;
    double *scratch = NULL;
    pi_status st = PI_OK;
    for (const char *p = buf; p < end && st == PI_OK;) {
        const char *line_end, *next;
        split_line(p, end, &line_end, &next);
        line_no++;
        if (memchr(p, '\0', (size_t)(line_end - p)) != NULL) {
            st = pi_fail(PI_EFORMAT, "%s: line %zu contains a NUL byte (not a text file)", path,
                         line_no);
            break;
        }
        if (!line_is_blank(p, line_end)) {
            size_t fields = count_fields(p, line_end);
            if (!header_checked) {
                header_checked = 1;
                if (fields > PI_MAX_DIM) {
                    st = pi_fail(PI_EFORMAT, "%s: line %zu has %zu columns (at most 2^20)",
                                 path, line_no, fields);
                    break;
                }
                st = pi_alloc_or_fail((void **)&scratch, fields, sizeof(double), "CSV row");
                if (st != PI_OK)
                    break;
                cols = fields;
                size_t bad = parse_line(p, line_end, fields, scratch);
                if (bad != fields) {
                    /* A header is a line of names; anything else that is not numbers is an
                     * error (dropping it as a header silently lost a data row). */
                    const char *q = p;
                    size_t number_at = fields;
                    for (size_t j = 0; j < fields; j++) {
                        const char *f = q;
                        while (q < line_end && *q != ',')
                            q++;
                        double v;
                        if (parse_number(f, q, &v)) {
                            if (number_at == fields)
                                number_at = j;
                        } else if (!field_is_name(f, q)) {
                            st = pi_fail(PI_EFORMAT, "%s: line %zu, column %zu is neither a number "
                                         "nor a column name (a header line holds names only)",
                                         path, line_no, j);
                            break;
                        }
                        q++;
                    }
                    if (st == PI_OK && number_at != fields)
                        st = pi_fail(PI_EFORMAT, "%s: line %zu mixes numbers and column names "
                                     "(column %zu is a number)", path, line_no, number_at);
                    if (st != PI_OK)
                        break;
                    p = next; /* a header line: names, not numbers */
                    continue;
                }
            }
            if (fields != cols) {
                st = pi_fail(PI_EFORMAT, "%s: line %zu (data row %zu) has %zu columns, expected %zu",
                             path, line_no, rows, fields, cols);
                break;
            }
            if (first_data == NULL)
                first_data = p;
            rows++;
        }
        p = next;
    }
    if (st == PI_OK && rows == 0)
        st = pi_fail(PI_EFORMAT, "%s: no data rows", path);
    float *values = NULL;
    if (st == PI_OK)
        st = alloc_values(path, rows, cols, &values);
    /* Second pass: parse. */
    size_t row = 0;
    line_no = 0;
    for (const char *p = buf; st == PI_OK && p < end;) {
        const char *line_end, *next;
        split_line(p, end, &line_end, &next);
        line_no++;
        if (p >= first_data && !line_is_blank(p, line_end)) {
            size_t bad = parse_line(p, line_end, cols, scratch);
            if (bad != cols) {
                st = pi_fail(PI_EFORMAT, "%s: line %zu (data row %zu), column %zu is not a number",
                             path, line_no, row, bad);
                break;
            }
            for (size_t j = 0; j < cols; j++) {
                float v = (float)scratch[j];
                if (!isfinite(v)) {
                    st = pi_fail(PI_EFORMAT,
                                 "%s: line %zu (data row %zu), column %zu is not a finite float32 "
                                 "value",
                                 path, line_no, row, j);
                    break;
                }
                values[row * cols + j] = v;
            }
            row++;
        }
        p = next;
    }
    pi_free(scratch);
    if (st != PI_OK) {
        pi_free(values);
        return st;
    }
    *data = values;
    *n = rows;
    *dim = cols;
    return PI_OK;
}

/* ---- dispatch ------------------------------------------------------------------------- */

typedef enum data_format { FORMAT_UNKNOWN, FORMAT_NPY, FORMAT_CSV, FORMAT_F32 } data_format;

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    if (a < b)
        return 0;
    for (size_t i = 0; i < b; i++) {
        char c = s[a - b + i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (c != suffix[i])
            return 0;
    }
    return 1;
}

static data_format format_of_name(const char *path)
{
    if (ends_with(path, ".npy"))
        return FORMAT_NPY;
    if (ends_with(path, ".csv"))
        return FORMAT_CSV;
    if (ends_with(path, ".f32"))
        return FORMAT_F32;
    return FORMAT_UNKNOWN;
}

pi_status pi_data_load(const char *path, float **data, size_t *n, size_t *dim)
{
    PI_CHECK_NULL(path);
    PI_CHECK_NULL(data);
    PI_CHECK_NULL(n);
    PI_CHECK_NULL(dim);
    unsigned char *buf;
    size_t size;
    pi_status st = pi_read_file(path, DATA_MAX_BYTES, &buf, &size);
    if (st != PI_OK)
        return st;
    /* The content decides where it can (magic numbers); otherwise the extension. */
    if (size >= 6 && memcmp(buf, NPY_MAGIC, 6) == 0)
        st = load_npy(path, buf, size, data, n, dim);
    else if (size >= 8 && memcmp(buf, F32_MAGIC, 8) == 0)
        st = load_f32(path, buf, size, data, n, dim);
    else if (format_of_name(path) == FORMAT_CSV)
        st = load_csv(path, buf, size, data, n, dim);
    else if (format_of_name(path) == FORMAT_NPY)
        st = pi_fail(PI_EFORMAT, "%s: not a .npy file (bad magic)", path);
    else if (format_of_name(path) == FORMAT_F32)
        st = pi_fail(PI_EFORMAT, "%s: not a pathint .f32 file (bad magic)", path);
    else
        st = pi_fail(PI_EFORMAT, "%s: unknown data format (need .npy, .csv or .f32)", path);
    pi_free(buf);
    return st;
}

/* ---- saving ---------------------------------------------------------------------------- */

typedef struct save_ctx {
    size_t n, dim;
    const float *data;
    data_format format;
} save_ctx;

/* Write rows through a fixed buffer (few write calls, no allocation proportional to n). */
#define SAVE_CHUNK 65536

static pi_status write_f32(pi_file *file, const save_ctx *c)
{
    unsigned char header[F32_HEADER];
    memcpy(header, F32_MAGIC, 8);
    pi_put_u64(header + 8, c->n);
    pi_put_u64(header + 16, c->dim);
    pi_status st = pi_file_write(file, header, sizeof header);
    unsigned char chunk[SAVE_CHUNK];
    size_t total = c->n * c->dim, used = 0;
    for (size_t k = 0; k < total && st == PI_OK; k++) {
        pi_put_f32(chunk + used, c->data[k]);
        used += 4;
        if (used == SAVE_CHUNK) {
            st = pi_file_write(file, chunk, used);
            used = 0;
        }
    }
    if (st == PI_OK)
        st = pi_file_write(file, chunk, used);
    return st;
}

static pi_status write_npy(pi_file *file, const save_ctx *c)
{
    char dict[160];
    int len = snprintf(dict, sizeof dict,
                       "{'descr': '<f4', 'fortran_order': False, 'shape': (%zu, %zu), }", c->n,
                       c->dim);
    if (len < 0 || (size_t)len >= sizeof dict)
        return pi_fail(PI_EINVAL, "pi_data_save: shape too long for a .npy header");
    /* Pad with spaces so that the data starts at a multiple of 64 bytes; end with '\n'. */
    size_t header_len = (size_t)len + 1;
    header_len += (64 - (10 + header_len) % 64) % 64;
    unsigned char pre[10 + 256];
    memcpy(pre, NPY_MAGIC, 6);
    pre[6] = 1;
    pre[7] = 0;
    pre[8] = (unsigned char)(header_len & 0xff);
    pre[9] = (unsigned char)(header_len >> 8);
    memcpy(pre + 10, dict, (size_t)len);
    memset(pre + 10 + len, ' ', header_len - (size_t)len - 1);
    pre[10 + header_len - 1] = '\n';
    pi_status st = pi_file_write(file, pre, 10 + header_len);
    unsigned char chunk[SAVE_CHUNK];
    size_t total = c->n * c->dim, used = 0;
    for (size_t k = 0; k < total && st == PI_OK; k++) {
        pi_put_f32(chunk + used, c->data[k]);
        used += 4;
        if (used == SAVE_CHUNK) {
            st = pi_file_write(file, chunk, used);
            used = 0;
        }
    }
    if (st == PI_OK)
        st = pi_file_write(file, chunk, used);
    return st;
}

/* %.9g (round-trips float32) with the locale's decimal separator replaced by '.'. */
static int format_float(char *out, size_t cap, float v)
{
    int len = snprintf(out, cap, "%.9g", (double)v);
    for (int i = 0; i < len; i++)
        if (out[i] != '-' && out[i] != '+' && out[i] != 'e' && (out[i] < '0' || out[i] > '9'))
            out[i] = '.';
    return len;
}

static pi_status write_csv(pi_file *file, const save_ctx *c)
{
    char chunk[SAVE_CHUNK];
    size_t used = 0;
    pi_status st = PI_OK;
    for (size_t i = 0; i < c->n && st == PI_OK; i++)
        for (size_t j = 0; j < c->dim && st == PI_OK; j++) {
            if (used + 40 > SAVE_CHUNK) {
                st = pi_file_write(file, chunk, used);
                used = 0;
            }
            used += (size_t)format_float(chunk + used, 32, c->data[i * c->dim + j]);
            chunk[used++] = j + 1 == c->dim ? '\n' : ',';
        }
    if (st == PI_OK)
        st = pi_file_write(file, chunk, used);
    return st;
}

static pi_status write_data(pi_file *file, const void *ctx)
{
    const save_ctx *c = ctx;
    switch (c->format) {
    case FORMAT_NPY: return write_npy(file, c);
    case FORMAT_CSV: return write_csv(file, c);
    case FORMAT_F32: return write_f32(file, c);
    case FORMAT_UNKNOWN: break;
    }
    return pi_fail(PI_EINVAL, "pi_data_save: unknown format");
}

pi_status pi_data_save(const char *path, size_t n, size_t dim, const float *data)
{
    PI_CHECK_NULL(path);
    PI_CHECK_NULL(data);
    size_t total;
    if (n == 0 || dim == 0 || dim > PI_MAX_DIM || !pi_size_mul(n, dim, &total))
        return pi_fail(PI_EINVAL,
                       "pi_data_save: need n >= 1 and 1 <= dim <= 2^20 with n*dim <= 2^40, got "
                       "n = %zu, dim = %zu",
                       n, dim);
    data_format format = format_of_name(path);
    if (format == FORMAT_UNKNOWN)
        return pi_fail(PI_EINVAL, "pi_data_save: path must end in .npy, .csv or .f32, got %s",
                       path);
    size_t bad = pi_first_nonfinite_f(data, total);
    if (bad != total)
        return pi_fail(PI_EINVAL, "pi_data_save: data must be finite; row %zu, column %zu is %g",
                       bad / dim, bad % dim, (double)data[bad]);
    save_ctx c = {n, dim, data, format};
    return pi_write_file_atomic(path, write_data, &c);
}

/* Atomic file writing (temporary name + rename) and bounded whole-file reading. */
#define _POSIX_C_SOURCE 200809L
#include "core.h"

#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct pi_file {
    FILE *fp;
    const char *path;
};

pi_status pi_file_write(pi_file *file, const void *data, size_t bytes)
{
    if (bytes == 0)
        return PI_OK;
    if (fwrite(data, 1, bytes, file->fp) != bytes)
        return pi_fail(PI_EIO, "writing %s failed: %s", file->path, strerror(errno));
    return PI_OK;
}

pi_status pi_write_file_atomic(const char *path, pi_status (*writer)(pi_file *file, const void *ctx),
                               const void *ctx)
{
    if (path == NULL || path[0] == '\0')
        return pi_fail(PI_EINVAL, "path must be a non-empty string");
    size_t len = strlen(path);
    char *tmp = pi_malloc(len + 16);
    if (tmp == NULL)
        return pi_fail(PI_ENOMEM, "out of memory");
    memcpy(tmp, path, len);
    memcpy(tmp + len, ".tmp.XXXXXX", 12);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        pi_status st = pi_fail(PI_EIO, "cannot create a temporary file next to %s: %s", path,
                               strerror(errno));
        pi_free(tmp);
        return st;
    }
    FILE *fp = fdopen(fd, "wb");
    if (fp == NULL) {
        pi_status st = pi_fail(PI_EIO, "cannot open %s: %s", tmp, strerror(errno));
        close(fd);
        unlink(tmp);
        pi_free(tmp);
        return st;
    }
    pi_file file = {fp, path};
    pi_status st = writer(&file, ctx);
    if (st == PI_OK && fflush(fp) != 0)
        st = pi_fail(PI_EIO, "writing %s failed: %s", path, strerror(errno));
    if (st == PI_OK && fsync(fileno(fp)) != 0)
        st = pi_fail(PI_EIO, "syncing %s failed: %s", path, strerror(errno));
    if (fclose(fp) != 0 && st == PI_OK)
        st = pi_fail(PI_EIO, "closing %s failed: %s", path, strerror(errno));
    if (st == PI_OK && rename(tmp, path) != 0)
        st = pi_fail(PI_EIO, "renaming %s to %s failed: %s", tmp, path, strerror(errno));
    if (st != PI_OK)
        unlink(tmp);
    pi_free(tmp);
    return st;
}

pi_status pi_render_to_memory(pi_status (*writer)(pi_file *file, const void *ctx), const void *ctx,
                              const char *what, unsigned char **data, size_t *size)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&buf, &len);
    if (fp == NULL)
        return pi_fail(PI_ENOMEM, "out of memory rendering %s", what);
    pi_file mem = {fp, what};
    pi_status st = writer(&mem, ctx);
    if (fclose(fp) != 0 && st == PI_OK)
        st = pi_fail(PI_ENOMEM, "out of memory rendering %s", what);
    if (st != PI_OK) {
        free(buf);
        return st;
    }
    *data = (unsigned char *)buf;
    *size = len;
    return PI_OK;
}

/* The C locale for one thread's formatting or parsing (uselocale is per thread, so other
 * threads of the host keep theirs). */
static locale_t c_locale_enter(locale_t *previous)
{
    locale_t c = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
    if (c != (locale_t)0)
        *previous = uselocale(c);
    return c;
}

static void c_locale_leave(locale_t c, locale_t previous)
{
    uselocale(previous);
    freelocale(c);
}

int pi_format_double(char *out, size_t cap, double v)
{
    locale_t previous, c = c_locale_enter(&previous);
    if (c == (locale_t)0)
        return -1;
    int len = snprintf(out, cap, "%.17g", v);
    c_locale_leave(c, previous);
    return len < 0 || (size_t)len >= cap ? -1 : len;
}

int pi_parse_double(const char *s, double *out)
{
    /* Decimal only: strtod would also take leading spaces, hex, inf and nan. */
    const char *p = s;
    if (*p == '+' || *p == '-')
        p++;
    if (!((*p >= '0' && *p <= '9') || (*p == '.' && p[1] >= '0' && p[1] <= '9')))
        return 0;
    if (*p == '0' && (p[1] == 'x' || p[1] == 'X'))
        return 0;
    locale_t previous, c = c_locale_enter(&previous);
    if (c == (locale_t)0)
        return 0;
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    c_locale_leave(c, previous);
    if (end == s || *end != '\0')
        return 0;
    *out = v;
    return 1;
}

pi_status pi_read_file(const char *path, size_t max_bytes, unsigned char **data, size_t *size)
{
    if (path == NULL)
        return pi_fail(PI_EINVAL, "path must not be NULL");
    /* Regular files only, checked before reading (issue 20): a device such as /dev/zero would
     * be read up to max_bytes (GiB) and a FIFO would block. O_NONBLOCK keeps the open itself
     * from waiting on a FIFO; it does not affect reading a regular file. */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return pi_fail(PI_EIO, "cannot open %s: %s", path, strerror(errno));
    struct stat info;
    if (fstat(fd, &info) != 0) {
        pi_status st = pi_fail(PI_EIO, "cannot stat %s: %s", path, strerror(errno));
        close(fd);
        return st;
    }
    if (!S_ISREG(info.st_mode)) {
        close(fd);
        return pi_fail(PI_EIO, "%s is not a regular file (%s); pathint reads files only", path,
                       S_ISDIR(info.st_mode) ? "a directory" : S_ISFIFO(info.st_mode) ? "a FIFO"
                       : S_ISCHR(info.st_mode) || S_ISBLK(info.st_mode) ? "a device" : "a special file");
    }
    if ((uint64_t)info.st_size > (uint64_t)max_bytes) {
        close(fd);
        return pi_fail(PI_EFORMAT, "%s is larger than the limit of %zu bytes", path, max_bytes);
    }
    FILE *fp = fdopen(fd, "rb");
    if (fp == NULL) {
        pi_status st = pi_fail(PI_EIO, "cannot open %s: %s", path, strerror(errno));
        close(fd);
        return st;
    }
    /* Sized from the file (+1 to see the end at once); a file that grows while read still
     * stops at max_bytes. */
    size_t cap = (size_t)info.st_size + 1, len = 0;
    unsigned char *buf = pi_malloc(cap);
    pi_status st = buf ? PI_OK : pi_fail(PI_ENOMEM, "out of memory reading %s", path);
    while (st == PI_OK) {
        if (len == cap) {
            if (cap >= max_bytes) {
                st = pi_fail(PI_EFORMAT, "%s is larger than the limit of %zu bytes", path,
                             max_bytes);
                break;
            }
            size_t ncap = cap * 2 > max_bytes ? max_bytes + 1 : cap * 2;
            unsigned char *nb = realloc(buf, ncap);
            if (nb == NULL) {
                st = pi_fail(PI_ENOMEM, "out of memory reading %s", path);
                break;
            }
            buf = nb;
            cap = ncap;
        }
        size_t got = fread(buf + len, 1, cap - len, fp);
        len += got;
        if (got == 0) {
            if (ferror(fp))
                st = pi_fail(PI_EIO, "reading %s failed", path);
            break;
        }
    }
    if (st == PI_OK && len > max_bytes)
        st = pi_fail(PI_EFORMAT, "%s is larger than the limit of %zu bytes", path, max_bytes);
    fclose(fp);
    if (st != PI_OK) {
        pi_free(buf);
        return st;
    }
    *data = buf;
    *size = len;
    return PI_OK;
}

/* Atomic file writing (temporary name + rename) and bounded whole-file reading. */
#define _POSIX_C_SOURCE 200809L
#include "core.h"

#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <dirent.h>
#include <limits.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
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

/* ---- atomic saves (issue 20: no side effects) ----------------------------------------------
 * A save writes "<dir>/.<name>.pathint.tmp.XXXXXX" next to the final target (symlinks
 * followed), holds an advisory lock (flock) on it while it writes, fsyncs it and renames it
 * over the target. The new file has the old file's permission bits, or 0666 & ~umask (what
 * fopen gives) when there was none; a target that is not a regular file is refused. A save
 * that was killed leaves its temporary behind, unlocked: the next save of the same target
 * removes those (a live save's is locked and kept). When "<name>" is too long for NAME_MAX,
 * the temporary uses a prefix of it and a hash of the whole name. */

#define TMP_TAG ".pathint.tmp."
#define TMP_RANDOM 6
#define SYMLINK_HOPS 40

/* The final path of a save: path with its symlinks followed (also a dangling one: the save
 * creates its target). *exists says whether it exists (then *info is its stat). */
static pi_status resolve_target(const char *path, char **final, struct stat *info, int *exists)
{
    char *cur = pi_malloc(strlen(path) + 1);
    if (cur == NULL)
        return pi_fail(PI_ENOMEM, "out of memory");
    strcpy(cur, path);
    for (int hop = 0;; hop++) {
        if (lstat(cur, info) != 0) {
            if (errno != ENOENT) {
                pi_status st = pi_fail(PI_EIO, "cannot stat %s: %s", cur, strerror(errno));
                pi_free(cur);
                return st;
            }
            *exists = 0;
            break;
        }
        if (!S_ISLNK(info->st_mode)) {
            *exists = 1;
            break;
        }
        if (hop == SYMLINK_HOPS) {
            pi_free(cur);
            return pi_fail(PI_EIO, "cannot save to %s: too many levels of symbolic links", path);
        }
        size_t cap = (size_t)info->st_size + 1 > 256 ? (size_t)info->st_size + 1 : 256;
        char *link = pi_malloc(cap + 1);
        ssize_t got = link ? readlink(cur, link, cap) : -1;
        if (got < 0 || (size_t)got >= cap) {
            pi_status st = link == NULL ? pi_fail(PI_ENOMEM, "out of memory")
                                        : pi_fail(PI_EIO, "cannot read the link %s", cur);
            pi_free(link);
            pi_free(cur);
            return st;
        }
        link[got] = '\0';
        const char *slash = strrchr(cur, '/');
        size_t dirlen = link[0] == '/' || slash == NULL ? 0 : (size_t)(slash - cur) + 1;
        char *next = pi_malloc(dirlen + (size_t)got + 1);
        if (next == NULL) {
            pi_free(link);
            pi_free(cur);
            return pi_fail(PI_ENOMEM, "out of memory");
        }
        memcpy(next, cur, dirlen);
        memcpy(next + dirlen, link, (size_t)got + 1);
        pi_free(link);
        pi_free(cur);
        cur = next;
    }
    if (*exists && !S_ISREG(info->st_mode)) {
        pi_free(cur);
        return pi_fail(PI_EIO, "cannot save to %s: not a regular file (saves replace regular "
                       "files only)", path);
    }
    *final = cur;
    return PI_OK;
}

/* "<dir>/.<name>.pathint.tmp." for the target final: *prefix_len bytes; the caller appends
 * TMP_RANDOM characters. The directory part is *dir_len bytes (0: the current directory). */
static char *temp_prefix(const char *final, size_t *dir_len, size_t *prefix_len)
{
    const char *slash = strrchr(final, '/');
    const char *name = slash ? slash + 1 : final;
    size_t dlen = slash ? (size_t)(name - final) : 0, nlen = strlen(name);
    size_t fixed = 1 + strlen(TMP_TAG) + TMP_RANDOM, keep = nlen;
    char hash[20] = "";
    if (fixed + nlen > NAME_MAX) {
        keep = NAME_MAX - fixed - 17; /* "~" + 16 hex digits of the whole name's hash */
        snprintf(hash, sizeof hash, "~%016llx",
                 (unsigned long long)pi_checksum64(name, nlen, 0x70617468696e74ull));
    }
    char *out = pi_malloc(dlen + fixed + keep + strlen(hash) + 1);
    if (out == NULL)
        return NULL;
    size_t len = 0;
    memcpy(out, final, dlen);
    len += dlen;
    out[len++] = '.';
    memcpy(out + len, name, keep);
    len += keep;
    memcpy(out + len, hash, strlen(hash));
    len += strlen(hash);
    memcpy(out + len, TMP_TAG, strlen(TMP_TAG) + 1);
    len += strlen(TMP_TAG);
    *dir_len = dlen;
    *prefix_len = len;
    return out;
}

/* Remove the temporaries of killed saves of this target: names "<prefix>XXXXXX" that no live
 * save holds locked. Best effort: a failure here never fails the save. */
static void remove_stale_temporaries(const char *prefix, size_t dir_len, size_t prefix_len)
{
    char *dir = pi_malloc(dir_len + 2);
    if (dir == NULL)
        return;
    if (dir_len == 0)
        strcpy(dir, ".");
    else {
        memcpy(dir, prefix, dir_len);
        dir[dir_len] = '\0';
    }
    DIR *dp = opendir(dir);
    pi_free(dir);
    if (dp == NULL)
        return;
    const char *base = prefix + dir_len;
    size_t base_len = prefix_len - dir_len;
    struct dirent *e;
    while ((e = readdir(dp)) != NULL) {
        if (strlen(e->d_name) != base_len + TMP_RANDOM || memcmp(e->d_name, base, base_len) != 0)
            continue;
        int fd = openat(dirfd(dp), e->d_name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0)
            continue;
        struct stat info;
        if (fstat(fd, &info) == 0 && S_ISREG(info.st_mode) && flock(fd, LOCK_EX | LOCK_NB) == 0)
            unlinkat(dirfd(dp), e->d_name, 0); /* unlocked: its save is dead */
        close(fd);
    }
    closedir(dp);
}

/* Create and lock a new temporary "<prefix>XXXXXX" with the given mode (umask applies). */
static int create_temporary(char *tmp, size_t prefix_len, mode_t mode)
{
    static const char digits[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    uint64_t state = (uint64_t)now.tv_nsec ^ ((uint64_t)now.tv_sec << 20) ^
                     ((uint64_t)getpid() << 40) ^ (uint64_t)(uintptr_t)tmp;
    for (int attempt = 0; attempt < 1000; attempt++) {
        uint64_t r = pi_checksum64(&state, sizeof state, (uint64_t)attempt);
        state += 0x9E3779B97F4A7C15ull;
        for (int i = 0; i < TMP_RANDOM; i++, r /= 62)
            tmp[prefix_len + (size_t)i] = digits[r % 62];
        tmp[prefix_len + TMP_RANDOM] = '\0';
        int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
        if (fd < 0) {
            if (errno == EEXIST)
                continue;
            return -1;
        }
        /* Locked before anything is written; a cleanup that unlinked it in between (it saw
         * it unlocked) is detected by its link count, and another name is drawn. */
        struct stat info;
        if (flock(fd, LOCK_EX) == 0 && fstat(fd, &info) == 0 && info.st_nlink > 0)
            return fd;
        close(fd);
    }
    errno = EEXIST;
    return -1;
}

pi_status pi_write_file_atomic(const char *path, pi_status (*writer)(pi_file *file, const void *ctx),
                               const void *ctx)
{
    if (path == NULL || path[0] == '\0')
        return pi_fail(PI_EINVAL, "path must be a non-empty string");
    char *final = NULL;
    struct stat old;
    int exists = 0;
    pi_status st = resolve_target(path, &final, &old, &exists);
    if (st != PI_OK)
        return st;
    size_t dir_len, prefix_len;
    char *prefix = temp_prefix(final, &dir_len, &prefix_len);
    char *tmp = prefix ? pi_malloc(prefix_len + TMP_RANDOM + 1) : NULL;
    if (tmp == NULL) {
        pi_free(prefix);
        pi_free(final);
        return pi_fail(PI_ENOMEM, "out of memory");
    }
    memcpy(tmp, prefix, prefix_len);
    remove_stale_temporaries(prefix, dir_len, prefix_len);
    pi_free(prefix);
    int fd = create_temporary(tmp, prefix_len, 0666);
    if (fd < 0) {
        st = pi_fail(PI_EIO, "cannot create a temporary file next to %s: %s", final,
                     strerror(errno));
        pi_free(tmp);
        pi_free(final);
        return st;
    }
    /* The old file's permission bits; a new file keeps 0666 & ~umask from open(). */
    if (exists && fchmod(fd, old.st_mode & 07777) != 0)
        st = pi_fail(PI_EIO, "cannot give %s the mode of %s: %s", tmp, final, strerror(errno));
    FILE *fp = st == PI_OK ? fdopen(fd, "wb") : NULL;
    if (fp == NULL) {
        if (st == PI_OK)
            st = pi_fail(PI_EIO, "cannot open %s: %s", tmp, strerror(errno));
        close(fd);
        unlink(tmp);
        pi_free(tmp);
        pi_free(final);
        return st;
    }
    pi_file file = {fp, path};
    st = writer(&file, ctx);
    if (st == PI_OK && fflush(fp) != 0)
        st = pi_fail(PI_EIO, "writing %s failed: %s", path, strerror(errno));
    if (st == PI_OK && fsync(fileno(fp)) != 0)
        st = pi_fail(PI_EIO, "syncing %s failed: %s", path, strerror(errno));
    /* Renamed while still open (and locked), so no cleanup can take it in between. */
    if (st == PI_OK && rename(tmp, final) != 0)
        st = pi_fail(PI_EIO, "renaming %s to %s failed: %s", tmp, final, strerror(errno));
    if (st != PI_OK)
        unlink(tmp);
    if (fclose(fp) != 0 && st == PI_OK)
        st = pi_fail(PI_EIO, "closing %s failed: %s", path, strerror(errno));
    pi_free(tmp);
    pi_free(final);
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

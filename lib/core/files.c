/* File-system helpers: whole-file reads, atomic writes (mrg/atomic_file.h),
 * mkdir -p, rm -r. */
#define _GNU_SOURCE /* kill */
#include "core/files.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- reading ------------------------------------------------------------ */

/* "<path> has N bytes; the limit is M (<limit>)" (N unknown: "is larger
 * than M"). */
static mrg_status too_large(const char *path, long long size, size_t max_bytes,
                            const char *limit) {
    char name[96] = "";
    if (limit) snprintf(name, sizeof name, " (%s)", limit);
    if (size >= 0)
        return mrg_error(MRG_ERR_FORMAT, "%s has %lld bytes; the limit is %zu%s", path, size,
                         max_bytes, name);
    return mrg_error(MRG_ERR_FORMAT, "%s is larger than %zu bytes%s", path, max_bytes, name);
}

mrg_status mrg_read_file(const char *path, size_t max_bytes, const char *limit, char **out,
                         size_t *len) {
    *out = NULL;
    if (len) *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return mrg_error(errno == ENOENT ? MRG_ERR_NOT_FOUND : MRG_ERR_IO, "cannot open %s: %s",
                         path, strerror(errno));
    /* a regular file too large is refused before anything is allocated */
    struct stat sb;
    if (fstat(fileno(f), &sb) == 0 && S_ISREG(sb.st_mode) &&
        (unsigned long long)sb.st_size > (unsigned long long)max_bytes) {
        fclose(f);
        return too_large(path, (long long)sb.st_size, max_bytes, limit);
    }
    /* read in growing chunks: works for pipes and /proc files too, and never
     * trusts a size reported before the read */
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    mrg_status st = MRG_OK;
    while (buf) {
        size_t got = fread(buf + n, 1, cap - 1 - n, f);
        n += got;
        if (n > max_bytes) { /* grew while read, or not a regular file */
            st = too_large(path, -1, max_bytes, limit);
            break;
        }
        if (got == 0) break;
        if (n < cap - 1) continue;
        char *grown = cap <= SIZE_MAX / 2 ? realloc(buf, cap * 2) : NULL;
        if (!grown) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = grown;
        cap *= 2;
    }
    if (st == MRG_OK && !buf) st = mrg_error(MRG_ERR_OOM, "out of memory reading %s", path);
    if (st == MRG_OK && ferror(f)) st = mrg_error(MRG_ERR_IO, "error reading %s", path);
    fclose(f);
    if (st != MRG_OK) {
        free(buf);
        return st;
    }
    buf[n] = '\0';
    *out = buf;
    if (len) *len = n;
    return MRG_OK;
}

/* ---- paths and processes ---------------------------------------------------- */

void mrg_path_split(const char *path, char *parent, size_t pcap, char *base, size_t bcap) {
    char copy[4096];
    snprintf(copy, sizeof copy, "%s", path);
    size_t n = strlen(copy);
    while (n > 1 && copy[n - 1] == '/') copy[--n] = 0;
    char *slash = strrchr(copy, '/');
    if (!slash) {
        snprintf(parent, pcap, ".");
        snprintf(base, bcap, "%s", copy);
    } else {
        snprintf(base, bcap, "%s", slash + 1);
        if (slash == copy) {
            snprintf(parent, pcap, "/");
        } else {
            *slash = 0;
            snprintf(parent, pcap, "%s", copy);
        }
    }
}

const char *mrg_scan_digits(const char *s, long *v) {
    if (!isdigit((unsigned char)*s)) return NULL;
    char *end;
    errno = 0;
    long x = strtol(s, &end, 10);
    if (errno || x < 0) return NULL;
    *v = x;
    return end;
}

bool mrg_process_gone(long pid) {
    if (pid <= 0 || pid == (long)getpid()) return false;
    return kill((pid_t)pid, 0) != 0 && errno == ESRCH;
}

/* ---- atomic writing ------------------------------------------------------- */

static void atomic_release(mrg_atomic_file *af) {
    free(af->tmp);
    free(af->path);
    af->tmp = af->path = NULL;
    af->f = NULL;
}

/* <parent>/.<base>.tmp-<pid> of path, malloc'd (NULL: out of memory). */
static char *temp_name(const char *path, long pid) {
    char parent[4096], base[1024];
    mrg_path_split(path, parent, sizeof parent, base, sizeof base);
    size_t n = strlen(parent) + strlen(base) + 32;
    char *t = malloc(n);
    if (t) snprintf(t, n, "%s/.%s.tmp-%ld", parent, base, pid);
    return t;
}

/* Removes the temporaries of path that processes which no longer run left
 * behind (a kill between open and rename). */
static void clean_temps(const char *path) {
    char parent[4096], base[1024], prefix[1100];
    mrg_path_split(path, parent, sizeof parent, base, sizeof base);
    snprintf(prefix, sizeof prefix, ".%s.tmp-", base);
    size_t pl = strlen(prefix);
    DIR *d = opendir(parent);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        long pid;
        const char *p;
        if (strncmp(e->d_name, prefix, pl) || !(p = mrg_scan_digits(e->d_name + pl, &pid)) || *p)
            continue;
        char t[5200];
        struct stat sb;
        snprintf(t, sizeof t, "%s/%s", parent, e->d_name);
        if (mrg_process_gone(pid) && lstat(t, &sb) == 0 && S_ISREG(sb.st_mode)) unlink(t);
    }
    closedir(d);
}

mrg_status mrg_atomic_begin(mrg_atomic_file *af, const char *path, bool durable) {
    memset(af, 0, sizeof *af);
    af->durable = durable;
    af->path = malloc(strlen(path) + 1);
    if (!af->path) return mrg_error(MRG_ERR_OOM, "out of memory writing %s", path);
    strcpy(af->path, path);
    /* a device, a pipe or a terminal (/dev/stdout, a FIFO) is written as it
     * is: there is nothing to replace atomically, and a temporary beside it
     * could not be renamed over it (nor should be) */
    struct stat sb;
    if (stat(path, &sb) == 0 && !S_ISREG(sb.st_mode) && !S_ISDIR(sb.st_mode)) {
        if (!(af->f = fopen(path, "wb"))) {
            mrg_status st = mrg_error(MRG_ERR_IO, "cannot write %s: %s", path, strerror(errno));
            atomic_release(af);
            return st;
        }
        return MRG_OK;
    }
    if (!(af->tmp = temp_name(path, (long)getpid()))) {
        atomic_release(af);
        return mrg_error(MRG_ERR_OOM, "out of memory writing %s", path);
    }
    clean_temps(path);
    if (!(af->f = fopen(af->tmp, "wb"))) {
        mrg_status st = mrg_error(MRG_ERR_IO, "cannot write %s: %s", path, strerror(errno));
        atomic_release(af);
        return st;
    }
    return MRG_OK;
}

mrg_status mrg_atomic_commit(mrg_atomic_file *af) {
    bool direct = af->tmp == NULL;
    /* glibc keeps the bytes of a failed write and retries them at fflush,
     * so errno then says why */
    bool ok = ferror(af->f) == 0;
    errno = 0;
    if (fflush(af->f) != 0)
        ok = false;
    /* a pipe or a terminal cannot be synced (EINVAL): not an error */
    else if (af->durable && fsync(fileno(af->f)) != 0 &&
             !(direct && (errno == EINVAL || errno == EROFS || errno == ENOTSUP)))
        ok = false;
    int err = ok ? 0 : errno;
    if (fclose(af->f) != 0 && ok) ok = false, err = errno;
    af->f = NULL;
    if (ok && !direct && rename(af->tmp, af->path) != 0) ok = false, err = errno;
    mrg_status st = MRG_OK;
    if (!ok) {
        if (!direct) unlink(af->tmp);
        st = mrg_error(MRG_ERR_IO, "cannot write %s: %s", af->path,
                       err ? strerror(err) : "a write failed");
    } else if (af->durable && !direct) {
        /* the rename itself made durable */
        char parent[4096], base[1024];
        mrg_path_split(af->path, parent, sizeof parent, base, sizeof base);
        st = mrg_fsync_path(parent, true);
    }
    atomic_release(af);
    return st;
}

void mrg_atomic_abort(mrg_atomic_file *af) {
    if (af->f) fclose(af->f);
    if (af->tmp) unlink(af->tmp);
    atomic_release(af);
}

mrg_status mrg_write_file_atomic(const char *path, const void *data, size_t len, bool durable) {
    mrg_atomic_file af;
    mrg_status st = mrg_atomic_begin(&af, path, durable);
    if (st != MRG_OK) return st;
    if (len) (void)fwrite(data, 1, len, af.f); /* a short write sets ferror: commit sees it */
    return mrg_atomic_commit(&af);
}

/* ---- directories and copies ------------------------------------------------ */

bool mrg_path_exists(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0;
}

bool mrg_is_dir(const char *path) {
    struct stat sb;
    return path && stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

bool mrg_is_file(const char *path) {
    struct stat sb;
    return path && stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

mrg_status mrg_mkdir(const char *path) {
    if (mkdir(path, 0755) == 0) return MRG_OK;
    int err = errno;
    struct stat sb;
    if (err == EEXIST && stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) return MRG_OK;
    return mrg_error(MRG_ERR_IO, "cannot create directory %s: %s", path,
                     err == EEXIST ? "a file of that name exists" : strerror(err));
}

mrg_status mrg_mkdirs(const char *path) {
    if (!path || !*path) return mrg_error(MRG_ERR_INVALID_ARG, "mkdir: bad path");
    size_t n = strlen(path);
    char *p = malloc(n + 1);
    if (!p) return mrg_error(MRG_ERR_OOM, "out of memory");
    memcpy(p, path, n + 1);
    mrg_status st = MRG_OK;
    for (size_t i = 1; i < n && st == MRG_OK; i++) {
        if (p[i] != '/') continue;
        p[i] = 0;
        struct stat sb;
        if (stat(p, &sb) != 0) st = mrg_mkdir(p);
        p[i] = '/';
    }
    if (st == MRG_OK) st = mrg_mkdir(p);
    free(p);
    return st;
}

mrg_status mrg_mkdirs_parent(const char *path) {
    char buf[4096];
    if (!path || strlen(path) >= sizeof buf) return mrg_error(MRG_ERR_INVALID_ARG, "mkdir: bad path");
    strcpy(buf, path);
    char *slash = strrchr(buf, '/');
    if (!slash || slash == buf) return MRG_OK; /* the current directory or / */
    *slash = 0;
    return mrg_mkdirs(buf);
}

mrg_status mrg_fsync_path(const char *path, bool dir) {
    int fd = open(path, dir ? (O_RDONLY | O_DIRECTORY) : O_RDONLY);
    if (fd < 0) return mrg_error(MRG_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    int rc = fsync(fd);
    int err = errno;
    close(fd);
    /* some filesystems refuse fsync on directories; the data is synced anyway */
    if (rc != 0 && !(dir && (err == EINVAL || err == EBADF)))
        return mrg_error(MRG_ERR_IO, "cannot fsync %s: %s", path, strerror(err));
    return MRG_OK;
}

mrg_status mrg_fsync_tree(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return mrg_error(MRG_ERR_IO, "cannot open %s: %s", dir, strerror(errno));
    struct dirent *e;
    mrg_status st = MRG_OK;
    while (!st && (e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char p[4096];
        if ((size_t)snprintf(p, sizeof p, "%s/%s", dir, e->d_name) >= sizeof p) {
            st = mrg_error(MRG_ERR_INVALID_ARG, "path too long: %s/%s", dir, e->d_name);
            break;
        }
        struct stat sb;
        if (lstat(p, &sb) != 0) continue;
        if (S_ISDIR(sb.st_mode))
            st = mrg_fsync_tree(p);
        else if (S_ISREG(sb.st_mode))
            st = mrg_fsync_path(p, false);
    }
    closedir(d);
    return st ? st : mrg_fsync_path(dir, true);
}

mrg_status mrg_rm_tree(const char *path) {
    struct stat sb;
    if (lstat(path, &sb) != 0) return errno == ENOENT ? MRG_OK : mrg_error(MRG_ERR_IO, "cannot stat %s", path);
    if (S_ISDIR(sb.st_mode)) {
        DIR *d = opendir(path);
        if (!d) return mrg_error(MRG_ERR_IO, "cannot open directory %s", path);
        struct dirent *e;
        mrg_status st = MRG_OK;
        while ((e = readdir(d)) && st == MRG_OK) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            char child[4096];
            snprintf(child, sizeof child, "%s/%s", path, e->d_name);
            st = mrg_rm_tree(child);
        }
        closedir(d);
        if (st) return st;
        if (rmdir(path) != 0) return mrg_error(MRG_ERR_IO, "cannot remove %s: %s", path, strerror(errno));
    } else if (unlink(path) != 0) {
        return mrg_error(MRG_ERR_IO, "cannot remove %s: %s", path, strerror(errno));
    }
    return MRG_OK;
}

mrg_status mrg_copy_file(const char *src, const char *dst) {
    char *buf;
    size_t len;
    mrg_status st = mrg_read_file(src, SIZE_MAX, NULL, &buf, &len);
    if (st != MRG_OK) return st;
    st = mrg_write_file_atomic(dst, buf, len, true);
    free(buf);
    return st;
}

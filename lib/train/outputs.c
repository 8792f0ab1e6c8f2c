/* Safe outputs (lib/include/mrg/outputs.h): input/output overlap checks,
 * the ownership marker, the swap-or-merge commit of an output directory,
 * the clean-up of temporaries left by killed processes, and atomic output
 * files. */
#define _GNU_SOURCE
#include "mrg/outputs.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "mrg/trainer.h"

/* ---- paths ---------------------------------------------------------------- */

/* Removes "." and ".." components of an absolute path, lexically (only
 * used on parts that do not exist, where no symbolic link can interfere). */
static void normalise(char *p) {
    char out[PATH_MAX];
    size_t n = 0;
    const char *s = p;
    out[0] = 0;
    while (*s) {
        while (*s == '/') s++;
        const char *e = s;
        while (*e && *e != '/') e++;
        size_t len = (size_t)(e - s);
        if (len == 0) break;
        if (len == 1 && s[0] == '.') {
        } else if (len == 2 && s[0] == '.' && s[1] == '.') {
            while (n > 0 && out[n - 1] != '/') n--;
            if (n > 0) n--; /* the slash */
            out[n] = 0;
        } else if (n + 1 + len < sizeof out) {
            out[n++] = '/';
            memcpy(out + n, s, len);
            n += len;
            out[n] = 0;
        }
        s = e;
    }
    if (n == 0) strcpy(out, "/");
    strcpy(p, out);
}

/* The absolute, resolved form of path (which need not exist) into out
 * (PATH_MAX bytes): realpath of its deepest existing ancestor, then the
 * rest appended and normalised. */
static bool resolve(const char *path, char *out) {
    char abs[PATH_MAX * 2];
    if (!path || !*path) return false;
    if (path[0] == '/') {
        if (snprintf(abs, sizeof abs, "%s", path) >= (int)sizeof abs) return false;
    } else {
        char cwd[PATH_MAX];
        if (!getcwd(cwd, sizeof cwd)) return false;
        if (snprintf(abs, sizeof abs, "%s/%s", cwd, path) >= (int)sizeof abs) return false;
    }
    /* strip trailing components until realpath works */
    char head[PATH_MAX * 2];
    strcpy(head, abs);
    size_t cut = strlen(head);
    for (;;) {
        while (cut > 1 && head[cut - 1] == '/') head[--cut] = 0;
        char real[PATH_MAX];
        if (realpath(head, real)) {
            char full[PATH_MAX * 3];
            snprintf(full, sizeof full, "%s/%s", real, abs + cut);
            if (strlen(full) >= PATH_MAX) return false;
            strcpy(out, full);
            normalise(out);
            return true;
        }
        char *slash = strrchr(head, '/');
        if (!slash) return false;
        if (slash == head) { /* only "/" is left, which always resolves */
            head[1] = 0;
            cut = 1;
        } else {
            *slash = 0;
            cut = (size_t)(slash - head);
        }
    }
}

bool mrg_path_within(const char *path, const char *dir) {
    char a[PATH_MAX], b[PATH_MAX];
    if (!resolve(path, a) || !resolve(dir, b)) return false;
    size_t n = strlen(b);
    if (!strcmp(b, "/")) return true;
    return !strncmp(a, b, n) && (a[n] == 0 || a[n] == '/');
}

bool mrg_dir_has_entries(const char *path) {
    DIR *d = opendir(path);
    if (!d) return false;
    struct dirent *e;
    bool any = false;
    while (!any && (e = readdir(d)))
        any = strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(d);
    return any;
}

static bool exists_l(const char *path, struct stat *sb) {
    struct stat tmp;
    return lstat(path, sb ? sb : &tmp) == 0;
}

/* ---- checks ---------------------------------------------------------------- */

mrg_status mrg_output_check_inputs(const char *cmd, const char *out, const mrg_named_path *inputs, int n) {
    for (int i = 0; i < n; i++) {
        const char *in = inputs[i].path;
        if (!in || !*in) continue;
        if (mrg_path_within(out, in))
            return mrg_error(MRG_ERR_INVALID_ARG, "%s: the output %s %s %s %s; choose another --out", cmd,
                             out, mrg_path_within(in, out) ? "is" : "lies inside", inputs[i].option, in);
        if (mrg_path_within(in, out))
            return mrg_error(MRG_ERR_INVALID_ARG, "%s: %s %s lies inside the output %s; choose another --out",
                             cmd, inputs[i].option, in, out);
    }
    return MRG_OK;
}

bool mrg_output_is_ours(const char *dir, const char *cmd) {
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, MRG_OUTPUT_MARKER);
    struct stat sb;
    if (lstat(path, &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_size > 4096) return false;
    FILE *f = fopen(path, "rb");
    if (!f) return false;
    char buf[4097];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    cJSON *o = cJSON_Parse(buf);
    const char *c = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "command"));
    bool ours = c && !strcmp(c, cmd);
    cJSON_Delete(o);
    return ours;
}

mrg_status mrg_output_dir_check(const char *cmd, const char *out, bool force,
                                const mrg_named_path *inputs, int n, bool *ours) {
    if (ours) *ours = false;
    if (!out || !*out) return mrg_error(MRG_ERR_INVALID_ARG, "%s: no output directory", cmd);
    mrg_status st = mrg_output_check_inputs(cmd, out, inputs, n);
    if (st) return st;
    struct stat sb;
    if (!exists_l(out, &sb)) return MRG_OK;
    if (S_ISLNK(sb.st_mode) && stat(out, &sb) != 0)
        return mrg_error(MRG_ERR_INVALID_ARG, "%s: the output %s is a broken symbolic link", cmd, out);
    if (!S_ISDIR(sb.st_mode))
        return mrg_error(MRG_ERR_INVALID_ARG, "%s: the output %s exists and is not a directory; choose another --out",
                         cmd, out);
    if (mrg_output_is_ours(out, cmd)) {
        if (ours) *ours = true;
        return MRG_OK;
    }
    if (!mrg_dir_has_entries(out) || force) return MRG_OK;
    return mrg_error(MRG_ERR_INVALID_ARG,
                     "%s: the output directory %s is not empty and is not an earlier output of "
                     "`mrg %s`; choose another --out, or pass --force to write into it (its other "
                     "files are kept)",
                     cmd, out, cmd);
}

/* ---- writing ------------------------------------------------------------- */

static mrg_status fsync_fd_path(const char *path, bool dir) {
    int fd = open(path, dir ? (O_RDONLY | O_DIRECTORY) : O_RDONLY);
    if (fd < 0) return mrg_error(MRG_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    int rc = fsync(fd);
    int err = errno;
    close(fd);
    if (rc != 0 && !(dir && (err == EINVAL || err == EBADF)))
        return mrg_error(MRG_ERR_IO, "cannot fsync %s: %s", path, strerror(err));
    return MRG_OK;
}

mrg_status mrg_output_mark(const char *dir, const char *cmd) {
    char path[4200], tmp[4300];
    snprintf(path, sizeof path, "%s/%s", dir, MRG_OUTPUT_MARKER);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    cJSON *o = cJSON_CreateObject();
    char *text = NULL;
    if (o && cJSON_AddStringToObject(o, "command", cmd)) text = cJSON_Print(o);
    cJSON_Delete(o);
    if (!text) return mrg_error(MRG_ERR_OOM, "output marker: out of memory");
    FILE *f = fopen(tmp, "wb");
    mrg_status st = MRG_OK;
    if (!f) {
        st = mrg_error(MRG_ERR_IO, "cannot write %s: %s", tmp, strerror(errno));
    } else {
        bool ok = fputs(text, f) >= 0 && fputc('\n', f) != EOF && fflush(f) == 0 && fsync(fileno(f)) == 0;
        int err = errno;
        ok = fclose(f) == 0 && ok;
        if (!ok || rename(tmp, path) != 0) {
            st = mrg_error(MRG_ERR_IO, "cannot write %s: %s", path, strerror(ok ? errno : err));
            remove(tmp);
        }
    }
    free(text);
    return st;
}

/* fsyncs every regular file below dir, and each directory */
static mrg_status fsync_tree(const char *dir) {
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
        if (S_ISDIR(sb.st_mode)) st = fsync_tree(p);
        else if (S_ISREG(sb.st_mode)) st = fsync_fd_path(p, false);
    }
    closedir(d);
    return st ? st : fsync_fd_path(dir, true);
}

/* Every entry of out also an entry of tmp (so a swap replaces only what is
 * rewritten)? */
static bool all_rewritten(const char *tmp, const char *out) {
    DIR *d = opendir(out);
    if (!d) return true;
    struct dirent *e;
    bool all = true;
    while (all && (e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char p[4096];
        snprintf(p, sizeof p, "%s/%s", tmp, e->d_name);
        all = exists_l(p, NULL);
    }
    closedir(d);
    return all;
}

/* Moves src's entries into dst (directories merged, files and links
 * replaced by rename), then removes the emptied src. */
static mrg_status merge_into(const char *src, const char *dst) {
    DIR *d = opendir(src);
    if (!d) return mrg_error(MRG_ERR_IO, "cannot open %s: %s", src, strerror(errno));
    struct dirent *e;
    mrg_status st = MRG_OK;
    while (!st && (e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char s[4096], t[4096];
        if ((size_t)snprintf(s, sizeof s, "%s/%s", src, e->d_name) >= sizeof s ||
            (size_t)snprintf(t, sizeof t, "%s/%s", dst, e->d_name) >= sizeof t) {
            st = mrg_error(MRG_ERR_INVALID_ARG, "path too long: %s/%s", dst, e->d_name);
            break;
        }
        struct stat ss, ts;
        if (lstat(s, &ss) != 0) continue;
        bool have = lstat(t, &ts) == 0;
        if (have && S_ISDIR(ss.st_mode) && S_ISDIR(ts.st_mode)) {
            st = merge_into(s, t);
        } else if (have && (S_ISDIR(ss.st_mode) || S_ISDIR(ts.st_mode))) {
            st = mrg_error(MRG_ERR_IO, "cannot put %s in place: %s is %s", e->d_name, t,
                           S_ISDIR(ts.st_mode) ? "a directory" : "not a directory");
        } else if (rename(s, t) != 0) {
            st = mrg_error(MRG_ERR_IO, "cannot rename %s to %s: %s", s, t, strerror(errno));
        }
    }
    closedir(d);
    if (!st) st = fsync_fd_path(dst, true);
    if (!st && rmdir(src) != 0) st = mrg_error(MRG_ERR_IO, "cannot remove %s: %s", src, strerror(errno));
    return st;
}

mrg_status mrg_output_commit(const char *tmp, const char *out) {
    mrg_status st = fsync_tree(tmp);
    if (st) return st;
    struct stat sb;
    if (lstat(out, &sb) != 0 || !S_ISDIR(sb.st_mode) || all_rewritten(tmp, out))
        return mrg_ckpt_commit(tmp, out);
    return merge_into(tmp, out);
}

/* ---- temporaries of killed processes -------------------------------------- */

/* parent directory and base name of path (trailing slashes ignored) */
static void split(const char *path, char *parent, size_t pcap, char *base, size_t bcap) {
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
        if (slash == copy) snprintf(parent, pcap, "/");
        else {
            *slash = 0;
            snprintf(parent, pcap, "%s", copy);
        }
    }
}

/* "<digits>" followed by end (or by sep and more when sep != 0); the
 * number into *v. Returns the position after the digits or NULL. */
static const char *digits(const char *s, long *v) {
    if (!isdigit((unsigned char)*s)) return NULL;
    char *end;
    errno = 0;
    long x = strtol(s, &end, 10);
    if (errno || x < 0) return NULL;
    *v = x;
    return end;
}

/* A process id that no longer runs (a live one, or one we cannot signal,
 * counts as running). */
static bool pid_gone(long pid) {
    if (pid <= 0 || pid == (long)getpid()) return false;
    return kill((pid_t)pid, 0) != 0 && errno == ESRCH;
}

mrg_status mrg_ckpt_clean(const char *final_dir) {
    char parent[4096], base[256];
    split(final_dir, parent, sizeof parent, base, sizeof base);
    mrg_status st = mrg_ckpt_recover(final_dir);
    if (st) return st;
    char old[5200], fin[5200];
    snprintf(old, sizeof old, "%s/.old-%s", parent, base);
    snprintf(fin, sizeof fin, "%s/%s", parent, base);
    struct stat sb;
    if (exists_l(fin, NULL) && lstat(old, &sb) == 0 && S_ISDIR(sb.st_mode) && (st = mrg_rm_tree(old)))
        return st;
    DIR *d = opendir(parent);
    if (!d) return MRG_OK; /* nothing there yet */
    char prefix[300];
    snprintf(prefix, sizeof prefix, ".tmp-%s-", base);
    size_t pl = strlen(prefix);
    struct dirent *e;
    while (!st && (e = readdir(d))) {
        /* exactly .tmp-<base>-<pid>-<n> */
        if (strncmp(e->d_name, prefix, pl)) continue;
        long pid, n;
        const char *p = digits(e->d_name + pl, &pid);
        if (!p || *p != '-' || !(p = digits(p + 1, &n)) || *p) continue;
        char path[4400];
        snprintf(path, sizeof path, "%s/%s", parent, e->d_name);
        if (pid_gone(pid) && lstat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) st = mrg_rm_tree(path);
    }
    closedir(d);
    return st;
}

/* ---- output files ---------------------------------------------------------- */

mrg_status mrg_output_file_check(const char *cmd, const char *path, bool force,
                                 bool (*ours)(const char *path), const mrg_named_path *inputs,
                                 int n) {
    if (!path || !*path) return mrg_error(MRG_ERR_INVALID_ARG, "%s: no output file", cmd);
    for (int i = 0; i < n; i++) {
        const char *in = inputs[i].path;
        if (in && *in && mrg_path_within(path, in))
            return mrg_error(MRG_ERR_INVALID_ARG, "%s: the output %s %s %s %s; choose another --out", cmd, path,
                             mrg_path_within(in, path) ? "is" : "lies inside", inputs[i].option, in);
    }
    struct stat sb;
    if (stat(path, &sb) != 0) return MRG_OK;
    if (S_ISDIR(sb.st_mode))
        return mrg_error(MRG_ERR_INVALID_ARG, "%s: the output %s is a directory; give a file name", cmd, path);
    if (!S_ISREG(sb.st_mode)) return MRG_OK; /* a device or a pipe: written, never replaced */
    if (sb.st_size == 0 || force || (ours && ours(path))) return MRG_OK;
    return mrg_error(MRG_ERR_INVALID_ARG,
                     "%s: %s exists and is not an earlier output of `mrg %s`; choose another file, "
                     "or pass --force to replace it",
                     cmd, path, cmd);
}

/* <dir>/.<name>.tmp-<pid> of path into out */
static bool file_tmp_name(const char *path, long pid, char *out, size_t cap) {
    char parent[4096], base[1024];
    split(path, parent, sizeof parent, base, sizeof base);
    return (size_t)snprintf(out, cap, "%s/.%s.tmp-%ld", parent, base, pid) < cap;
}

static void clean_file_temps(const char *path) {
    char parent[4096], base[256], prefix[300];
    split(path, parent, sizeof parent, base, sizeof base);
    snprintf(prefix, sizeof prefix, ".%s.tmp-", base);
    size_t pl = strlen(prefix);
    DIR *d = opendir(parent);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        long pid;
        const char *p;
        if (strncmp(e->d_name, prefix, pl) || !(p = digits(e->d_name + pl, &pid)) || *p) continue;
        char t[4400];
        struct stat sb;
        snprintf(t, sizeof t, "%s/%s", parent, e->d_name);
        if (pid_gone(pid) && lstat(t, &sb) == 0 && S_ISREG(sb.st_mode)) unlink(t);
    }
    closedir(d);
}

FILE *mrg_output_file_open(const char *path, char *tmp, size_t cap) {
    /* a device, a pipe or a terminal (/dev/stdout, a FIFO) is written as it
     * is: there is nothing to replace atomically, and a temporary beside
     * it could not be renamed over it (nor should be) */
    struct stat sb;
    if (stat(path, &sb) == 0 && !S_ISREG(sb.st_mode) && !S_ISDIR(sb.st_mode)) {
        if (cap) tmp[0] = 0;
        FILE *f = fopen(path, "wb");
        if (!f) mrg_error(MRG_ERR_IO, "cannot write %s: %s", path, strerror(errno));
        return f;
    }
    if (!file_tmp_name(path, (long)getpid(), tmp, cap)) {
        mrg_error(MRG_ERR_INVALID_ARG, "path too long: %s", path);
        return NULL;
    }
    clean_file_temps(path);
    FILE *f = fopen(tmp, "wb");
    if (!f) mrg_error(MRG_ERR_IO, "cannot write %s: %s", tmp, strerror(errno));
    return f;
}

mrg_status mrg_output_file_close(FILE *f, const char *tmp, const char *path, bool ok) {
    bool want = ok, direct = !tmp || !*tmp;
    int err = 0;
    if (ok) {
        /* glibc keeps the bytes of a failed write and retries them at
         * fflush, so errno then says why */
        ok = !ferror(f);
        errno = 0;
        if (fflush(f) != 0) ok = false;
        /* a pipe or a terminal cannot be synced (EINVAL): not an error */
        else if (fsync(fileno(f)) != 0 && !(direct && (errno == EINVAL || errno == EROFS || errno == ENOTSUP)))
            ok = false;
        if (!ok) err = errno;
    }
    if (fclose(f) != 0 && ok) ok = false, err = errno;
    if (direct) {
        if (ok || !want) return ok ? MRG_OK : MRG_ERR_IO;
        return mrg_error(MRG_ERR_IO, "cannot write %s: %s", path, err ? strerror(err) : "a write failed");
    }
    if (ok && rename(tmp, path) != 0) ok = false, err = errno;
    if (ok) {
        char parent[4096], base[1024];
        split(path, parent, sizeof parent, base, sizeof base);
        return fsync_fd_path(parent, true);
    }
    unlink(tmp);
    if (!want) return MRG_ERR_IO; /* the caller's message stands */
    return mrg_error(MRG_ERR_IO, "cannot write %s: %s", path, err ? strerror(err) : "a write failed");
}

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

#include "core/files.h"
#include "mrg/checkpoint.h"

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

mrg_status mrg_output_mark(const char *dir, const char *cmd) {
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, MRG_OUTPUT_MARKER);
    cJSON *o = cJSON_CreateObject();
    char *text = NULL;
    if (o && cJSON_AddStringToObject(o, "command", cmd)) text = cJSON_Print(o);
    cJSON_Delete(o);
    size_t n = text ? strlen(text) : 0;
    char *line = text ? realloc(text, n + 2) : NULL;
    if (!line) {
        free(text);
        return mrg_error(MRG_ERR_OOM, "output marker: out of memory");
    }
    memcpy(line + n, "\n", 2);
    mrg_status st = mrg_write_file_atomic(path, line, n + 1, true);
    free(line);
    return st;
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
    if (!st) st = mrg_fsync_path(dst, true);
    if (!st && rmdir(src) != 0) st = mrg_error(MRG_ERR_IO, "cannot remove %s: %s", src, strerror(errno));
    return st;
}

mrg_status mrg_output_begin(const char *out, char *tmp, size_t cap) {
    mrg_status st = mrg_mkdirs_parent(out); /* the temporary goes beside out */
    return st != MRG_OK ? st : mrg_ckpt_begin(out, tmp, cap);
}

mrg_status mrg_output_finish(const char *tmp, const char *out, const char *cmd, mrg_status st) {
    if (st == MRG_OK) st = mrg_output_mark(tmp, cmd);
    if (st == MRG_OK) st = mrg_output_commit(tmp, out);
    if (st != MRG_OK) mrg_rm_tree(tmp);
    return st;
}

mrg_status mrg_output_commit(const char *tmp, const char *out) {
    mrg_status st = mrg_fsync_tree(tmp);
    if (st) return st;
    struct stat sb;
    if (lstat(out, &sb) != 0 || !S_ISDIR(sb.st_mode) || all_rewritten(tmp, out))
        return mrg_ckpt_commit(tmp, out);
    return merge_into(tmp, out);
}

/* ---- temporaries of killed processes -------------------------------------- */

mrg_status mrg_ckpt_clean(const char *final_dir) {
    char parent[4096], base[256];
    mrg_path_split(final_dir, parent, sizeof parent, base, sizeof base);
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
        const char *p = mrg_scan_digits(e->d_name + pl, &pid);
        if (!p || *p != '-' || !(p = mrg_scan_digits(p + 1, &n)) || *p) continue;
        char path[4400];
        snprintf(path, sizeof path, "%s/%s", parent, e->d_name);
        if (mrg_process_gone(pid) && lstat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) st = mrg_rm_tree(path);
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


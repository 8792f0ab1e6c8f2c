/* safetensors reader: mmap + a fully validated header.
 *
 * Nothing from a file is trusted: the header length is checked against the
 * file size, the JSON is parsed with an explicit length, every tensor's dtype,
 * shape and byte range are validated (shape product × element size must equal
 * the range, which must lie inside the data section and not overlap another
 * tensor) before a pointer into the mapping is handed out. Sharded Hugging
 * Face checkpoints are opened through model.safetensors.index.json and merged
 * into one name space. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "core/files.h"
#include "io/safetensors_internal.h"
#include "mrg/limits.h"
#include "mrg/safetensors.h"

/* Largest header (or index file) we accept: far above any real checkpoint,
 * low enough that a corrupt length cannot make us allocate gigabytes. */
#define ST_MAX_JSON ((uint64_t)MRG_MAX_SAFETENSORS_HEADER)

typedef struct st_map {
    char *path;
    void *base;
    size_t size;
} st_map;

typedef struct st_meta {
    char *key, *value;
} st_meta;

struct mrg_st_file {
    char *path; /* the file or index that was opened */
    st_map *maps;
    int nmaps;
    mrg_st_tensor *tensors;
    int *shard; /* map index of each tensor */
    int n, cap;
    int *sorted; /* tensor indices ordered by name, for mrg_st_find */
    st_meta *meta;
    int nmeta;
};

/* ---- small helpers ------------------------------------------------------ */

static char *dup_str(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

/* A JSON number that is a non-negative integer exactly representable in a
 * double (the header stores offsets and dims as plain numbers). */
static bool json_uint(const cJSON *v, uint64_t *out) {
    if (!cJSON_IsNumber(v)) return false;
    double d = v->valuedouble;
    if (!(d >= 0.0) || d > 9007199254740992.0 || d != (double)(uint64_t)d) return false;
    *out = (uint64_t)d;
    return true;
}

static bool parse_dtype(const char *s, mrg_dtype *dt) {
    static const struct {
        const char *tag;
        mrg_dtype dt;
    } tab[] = {{"F32", MRG_F32}, {"BF16", MRG_BF16}, {"F16", MRG_F16}, {"I32", MRG_I32}};
    for (size_t i = 0; i < sizeof tab / sizeof tab[0]; i++)
        if (!strcmp(s, tab[i].tag)) {
            *dt = tab[i].dt;
            return true;
        }
    return false;
}

/* dtype tags of the format that this library does not load */
static bool known_dtype(const char *s) {
    static const char *const tags[] = {"F64", "I64",     "U64",     "U32",     "I16",     "U16",
                                       "I8",  "U8",      "BOOL",    "F8_E4M3", "F8_E5M2", "F8_E8M0",
                                       "F4",  "F6_E2M3", "F6_E3M2", "C64"};
    for (size_t i = 0; i < sizeof tags / sizeof tags[0]; i++)
        if (!strcmp(s, tags[i])) return true;
    return false;
}

static mrg_status add_meta(mrg_st_file *f, const char *key, const char *value) {
    for (int i = 0; i < f->nmeta; i++)
        if (!strcmp(f->meta[i].key, key)) return MRG_OK; /* first one wins */
    st_meta *m = realloc(f->meta, (size_t)(f->nmeta + 1) * sizeof *m);
    if (!m) return mrg_error(MRG_ERR_OOM, "out of memory reading %s", f->path);
    f->meta = m;
    m[f->nmeta].key = dup_str(key);
    m[f->nmeta].value = dup_str(value);
    if (!m[f->nmeta].key || !m[f->nmeta].value) {
        free(m[f->nmeta].key);
        free(m[f->nmeta].value);
        return mrg_error(MRG_ERR_OOM, "out of memory reading %s", f->path);
    }
    f->nmeta++;
    return MRG_OK;
}

static mrg_st_tensor *new_tensor(mrg_st_file *f, int map) {
    if (f->n == f->cap) {
        int cap = f->cap ? 2 * f->cap : 64;
        mrg_st_tensor *t = realloc(f->tensors, (size_t)cap * sizeof *t);
        if (!t) return NULL;
        f->tensors = t;
        int *s = realloc(f->shard, (size_t)cap * sizeof *s);
        if (!s) return NULL;
        f->shard = s;
        f->cap = cap;
    }
    f->shard[f->n] = map;
    mrg_st_tensor *t = &f->tensors[f->n++];
    memset(t, 0, sizeof *t);
    return t;
}

/* ---- one file ------------------------------------------------------------ */

/* Reads tensor `name` described by `desc` of file `path`; the data section
 * is [data, data + dsize). Returns the byte range in begin and end. */
static mrg_status parse_entry(mrg_st_file *f, int map, const char *path, const char *name,
                              const cJSON *desc, const uint8_t *data, uint64_t dsize,
                              uint64_t *begin, uint64_t *end) {
    if (!cJSON_IsObject(desc))
        return mrg_error(MRG_ERR_FORMAT, "%s: tensor '%s': entry is not a JSON object", path, name);
    const cJSON *jd = cJSON_GetObjectItemCaseSensitive(desc, "dtype");
    const cJSON *js = cJSON_GetObjectItemCaseSensitive(desc, "shape");
    const cJSON *jo = cJSON_GetObjectItemCaseSensitive(desc, "data_offsets");
    if (!cJSON_IsString(jd) || !cJSON_IsArray(js) || !cJSON_IsArray(jo))
        return mrg_error(MRG_ERR_FORMAT,
                         "%s: tensor '%s': needs \"dtype\" (string), \"shape\" and "
                         "\"data_offsets\" (arrays)",
                         path, name);
    mrg_dtype dt;
    if (!parse_dtype(jd->valuestring, &dt))
        return mrg_error(known_dtype(jd->valuestring) ? MRG_ERR_UNSUPPORTED : MRG_ERR_FORMAT,
                         "%s: unsupported dtype %.32s for tensor '%s' (F32, BF16, F16 and I32 "
                         "are supported)",
                         path, jd->valuestring, name);
    int ndim = cJSON_GetArraySize(js);
    if (ndim > MRG_MAX_DIMS)
        return mrg_error(MRG_ERR_UNSUPPORTED, "%s: tensor '%s' has %d dimensions (at most %d)",
                         path, name, ndim, MRG_MAX_DIMS);
    int64_t shape[MRG_MAX_DIMS];
    int k = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, js) {
        uint64_t d;
        if (!json_uint(it, &d) || d > (uint64_t)INT64_MAX)
            return mrg_error(MRG_ERR_FORMAT,
                             "%s: tensor '%s': shape entries must be non-negative integers", path,
                             name);
        shape[k++] = (int64_t)d;
    }
    if (cJSON_GetArraySize(jo) != 2 || !json_uint(jo->child, begin) ||
        !json_uint(jo->child->next, end))
        return mrg_error(MRG_ERR_FORMAT,
                         "%s: tensor '%s': data_offsets must be two non-negative integers", path,
                         name);
    if (*begin > *end || *end > dsize)
        return mrg_error(MRG_ERR_FORMAT,
                         "%s: tensor '%s': data_offsets [%llu, %llu) out of range of the %llu-byte "
                         "data section",
                         path, name, (unsigned long long)*begin, (unsigned long long)*end,
                         (unsigned long long)dsize);
    uint64_t span = 0;
    bool fits = mrg_st_span(ndim, shape, mrg_st_dtype_bytes(dt), &span);
    if (!fits || span != *end - *begin) {
        char sbuf[160], need[32];
        if (fits)
            snprintf(need, sizeof need, "%llu", (unsigned long long)span);
        else
            snprintf(need, sizeof need, "more than 2^64");
        return mrg_error(MRG_ERR_FORMAT,
                         "%s: tensor '%s': shape %s of %s needs %s bytes but data_offsets span "
                         "%llu",
                         path, name, mrg_st_shape_str(ndim, shape, sbuf, sizeof sbuf),
                         mrg_st_dtype_tag(dt), need, (unsigned long long)(*end - *begin));
    }
    char *nm = dup_str(name);
    mrg_st_tensor *t = nm ? new_tensor(f, map) : NULL;
    if (!t) {
        free(nm);
        return mrg_error(MRG_ERR_OOM, "out of memory reading %s", path);
    }
    t->name = nm;
    t->dtype = dt;
    t->ndim = ndim;
    memcpy(t->shape, shape, sizeof(int64_t) * (size_t)ndim);
    t->data = data + *begin;
    t->nbytes = (size_t)span;
    return MRG_OK;
}

typedef struct range {
    uint64_t begin, end;
    int tensor;
} range;

static int cmp_range(const void *a, const void *b) {
    const range *x = a, *y = b;
    return x->begin < y->begin ? -1 : x->begin > y->begin ? 1 : 0;
}

/* Validates and registers the tensors of header `root` for map `map`. */
static mrg_status parse_header(mrg_st_file *f, int map, const cJSON *root, const uint8_t *data,
                               uint64_t dsize) {
    const char *path = f->maps[map].path;
    if (!cJSON_IsObject(root))
        return mrg_error(MRG_ERR_FORMAT, "%s: safetensors header is not a JSON object", path);
    int count = cJSON_GetArraySize(root);
    range *r = malloc(sizeof(range) * (size_t)(count ? count : 1));
    if (!r) return mrg_error(MRG_ERR_OOM, "out of memory reading %s", path);
    int nr = 0;
    mrg_status st = MRG_OK;
    const cJSON *it;
    cJSON_ArrayForEach(it, root) {
        if (!strcmp(it->string, "__metadata__")) {
            if (!cJSON_IsObject(it)) {
                st = mrg_error(MRG_ERR_FORMAT, "%s: __metadata__ is not a JSON object", path);
                break;
            }
            const cJSON *m;
            cJSON_ArrayForEach(m, it) {
                if (!cJSON_IsString(m)) {
                    st =
                        mrg_error(MRG_ERR_FORMAT, "%s: __metadata__ value for '%s' is not a string",
                                  path, m->string);
                    break;
                }
                if ((st = add_meta(f, m->string, m->valuestring)) != MRG_OK) break;
            }
            if (st != MRG_OK) break;
            continue;
        }
        uint64_t b = 0, e = 0;
        if ((st = parse_entry(f, map, path, it->string, it, data, dsize, &b, &e)) != MRG_OK) break;
        r[nr].begin = b;
        r[nr].end = e;
        r[nr].tensor = f->n - 1;
        nr++;
    }
    if (st == MRG_OK) {
        /* Non-empty ranges sorted by start must not overlap. */
        qsort(r, (size_t)nr, sizeof *r, cmp_range);
        int prev = -1;
        for (int i = 0; i < nr && st == MRG_OK; i++) {
            if (r[i].begin == r[i].end) continue;
            if (prev >= 0 && r[i].begin < r[prev].end)
                st = mrg_error(MRG_ERR_FORMAT,
                               "%s: tensors '%s' [%llu, %llu) and '%s' [%llu, %llu) overlap", path,
                               f->tensors[r[prev].tensor].name, (unsigned long long)r[prev].begin,
                               (unsigned long long)r[prev].end, f->tensors[r[i].tensor].name,
                               (unsigned long long)r[i].begin, (unsigned long long)r[i].end);
            prev = i;
        }
    }
    free(r);
    return st;
}

/* Maps `path` and registers its tensors as map number f->nmaps. */
static mrg_status open_one(mrg_st_file *f, const char *path) {
    st_map *maps = realloc(f->maps, (size_t)(f->nmaps + 1) * sizeof *maps);
    if (!maps) return mrg_error(MRG_ERR_OOM, "out of memory opening %s", path);
    f->maps = maps;
    st_map *m = &maps[f->nmaps];
    memset(m, 0, sizeof *m);
    m->path = dup_str(path);
    if (!m->path) return mrg_error(MRG_ERR_OOM, "out of memory opening %s", path);
    int map = f->nmaps++;

    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return mrg_error(errno == ENOENT ? MRG_ERR_NOT_FOUND : MRG_ERR_IO, "cannot open %s: %s",
                         path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        int e = errno;
        close(fd);
        return mrg_error(MRG_ERR_IO, "cannot stat %s: %s", path, strerror(e));
    }
    if (!S_ISREG(sb.st_mode)) {
        close(fd);
        return mrg_error(MRG_ERR_IO, "%s is not a regular file", path);
    }
    uint64_t size = (uint64_t)sb.st_size;
    if (size < 8) {
        close(fd);
        return mrg_error(MRG_ERR_FORMAT, "%s: file of %llu bytes is too short for safetensors",
                         path, (unsigned long long)size);
    }
    void *base = mmap(NULL, (size_t)size, PROT_READ, MAP_PRIVATE, fd, 0);
    int e = errno;
    close(fd);
    if (base == MAP_FAILED) return mrg_error(MRG_ERR_IO, "cannot map %s: %s", path, strerror(e));
    m->base = base;
    m->size = (size_t)size;

    const uint8_t *p = base;
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = (hlen << 8) | p[i];
    if (hlen > size - 8)
        return mrg_error(MRG_ERR_FORMAT,
                         "%s: header length %llu exceeds the file size (%llu bytes); truncated "
                         "or not a safetensors file",
                         path, (unsigned long long)hlen, (unsigned long long)size);
    if (hlen < 2)
        return mrg_error(MRG_ERR_FORMAT, "%s: implausible header length %llu", path,
                         (unsigned long long)hlen);
    if (hlen > ST_MAX_JSON)
        return mrg_error(MRG_ERR_FORMAT,
                         "%s: the header has %llu bytes; the limit is %llu "
                         "(MRG_MAX_SAFETENSORS_HEADER)",
                         path, (unsigned long long)hlen, (unsigned long long)ST_MAX_JSON);
    const char *json = (const char *)p + 8;
    const char *endp = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(json, (size_t)hlen, &endp, false);
    if (!root) {
        const char *err = cJSON_GetErrorPtr();
        long at = err && err >= json && err <= json + hlen ? (long)(err - json) : -1;
        return mrg_error(MRG_ERR_FORMAT, "%s: safetensors header is not valid JSON (at byte %ld)",
                         path, at);
    }
    /* Only padding (spaces) may follow the JSON value. */
    for (const char *q = endp; q && q < json + hlen; q++)
        if (*q != ' ' && *q != '\t' && *q != '\n' && *q != '\r') {
            cJSON_Delete(root);
            return mrg_error(MRG_ERR_FORMAT,
                             "%s: trailing bytes after the JSON header (at byte %ld)", path,
                             (long)(q - json));
        }
    mrg_status st = parse_header(f, map, root, p + 8 + hlen, size - 8 - hlen);
    cJSON_Delete(root);
    return st;
}

/* ---- name index ------------------------------------------------------------ */

/* Sorts names for lookup and rejects duplicates (also across shards). */
static mrg_status build_index(mrg_st_file *f) {
    f->sorted = malloc(sizeof(int) * (size_t)(f->n ? f->n : 1));
    if (!f->sorted) return mrg_error(MRG_ERR_OOM, "out of memory reading %s", f->path);
    for (int i = 0; i < f->n; i++) f->sorted[i] = i;
    /* A merge sort of our own: qsort has no context argument in C11 and a
     * global comparator context would not be thread-safe. */
    int n = f->n;
    int *tmp = malloc(sizeof(int) * (size_t)(n ? n : 1));
    if (!tmp) return mrg_error(MRG_ERR_OOM, "out of memory reading %s", f->path);
    for (int w = 1; w < n; w *= 2) {
        for (int lo = 0; lo < n; lo += 2 * w) {
            int mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;
            int a = lo, b = mid, k = lo;
            while (a < mid && b < hi)
                tmp[k++] = strcmp(f->tensors[f->sorted[a]].name, f->tensors[f->sorted[b]].name) <= 0
                               ? f->sorted[a++]
                               : f->sorted[b++];
            while (a < mid) tmp[k++] = f->sorted[a++];
            while (b < hi) tmp[k++] = f->sorted[b++];
        }
        memcpy(f->sorted, tmp, sizeof(int) * (size_t)n);
    }
    free(tmp);
    for (int i = 1; i < n; i++) {
        const mrg_st_tensor *a = &f->tensors[f->sorted[i - 1]], *b = &f->tensors[f->sorted[i]];
        if (!strcmp(a->name, b->name))
            return mrg_error(MRG_ERR_FORMAT, "%s: duplicate tensor name '%s' (in %s and %s)",
                             f->path, a->name, f->maps[f->shard[f->sorted[i - 1]]].path,
                             f->maps[f->shard[f->sorted[i]]].path);
    }
    return MRG_OK;
}

/* ---- sharded checkpoints --------------------------------------------------- */

static const mrg_st_tensor *find_in(const mrg_st_file *f, const char *name, int *index) {
    for (int i = 0; i < f->n; i++)
        if (!strcmp(f->tensors[i].name, name)) {
            *index = i;
            return &f->tensors[i];
        }
    return NULL;
}

static mrg_status open_index(mrg_st_file *f, const char *path) {
    size_t len = 0;
    char *text = NULL;
    mrg_status st = mrg_read_file(path, ST_MAX_JSON, "MRG_MAX_SAFETENSORS_HEADER", &text, &len);
    if (st != MRG_OK) return st;
    cJSON *root = cJSON_ParseWithLength(text, len);
    free(text);
    if (!root) return mrg_error(MRG_ERR_FORMAT, "%s: not valid JSON", path);
    const cJSON *wm = cJSON_GetObjectItemCaseSensitive(root, "weight_map");
    if (!cJSON_IsObject(wm)) {
        cJSON_Delete(root);
        return mrg_error(MRG_ERR_FORMAT, "%s: no \"weight_map\" object", path);
    }
    /* Directory of the index: shards are named relative to it. */
    const char *slash = strrchr(path, '/');
    size_t dlen = slash ? (size_t)(slash - path + 1) : 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, wm) {
        if (!cJSON_IsString(it) || !it->valuestring[0] || it->valuestring[0] == '/' ||
            strstr(it->valuestring, "..")) {
            st = mrg_error(MRG_ERR_FORMAT, "%s: bad shard file name for tensor '%s'", path,
                           it->string);
            break;
        }
        bool seen = false;
        for (int m = 0; m < f->nmaps && !seen; m++)
            seen = !strcmp(f->maps[m].path + dlen, it->valuestring) &&
                   !strncmp(f->maps[m].path, path, dlen);
        if (seen) continue;
        size_t n = dlen + strlen(it->valuestring) + 1;
        char *shard = malloc(n);
        if (!shard) {
            st = mrg_error(MRG_ERR_OOM, "out of memory reading %s", path);
            break;
        }
        memcpy(shard, path, dlen);
        memcpy(shard + dlen, it->valuestring, n - dlen);
        st = open_one(f, shard);
        free(shard);
        if (st != MRG_OK) {
            mrg_error_context(st, "shard of %s", path);
            break;
        }
    }
    /* Every entry of weight_map must be in the shard it names. */
    if (st == MRG_OK) cJSON_ArrayForEach(it, wm) {
            int idx = -1;
            if (!find_in(f, it->string, &idx) ||
                strcmp(f->maps[f->shard[idx]].path + dlen, it->valuestring)) {
                st = mrg_error(MRG_ERR_FORMAT,
                               "%s: tensor '%s' is listed in shard %s, which does not contain it",
                               path, it->string, it->valuestring);
                break;
            }
        }
    const cJSON *meta = cJSON_GetObjectItemCaseSensitive(root, "metadata");
    if (st == MRG_OK && cJSON_IsObject(meta)) cJSON_ArrayForEach(it, meta) {
            char num[64];
            const char *v = NULL;
            if (cJSON_IsString(it))
                v = it->valuestring;
            else if (cJSON_IsNumber(it)) {
                uint64_t u;
                if (json_uint(it, &u))
                    snprintf(num, sizeof num, "%llu", (unsigned long long)u);
                else
                    snprintf(num, sizeof num, "%.17g", it->valuedouble);
                v = num;
            }
            if (v && (st = add_meta(f, it->string, v)) != MRG_OK) break;
        }
    cJSON_Delete(root);
    return st;
}

/* ---- public API ------------------------------------------------------------ */

static bool ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcmp(s + a - b, suffix);
}

mrg_status mrg_st_try_open(const char *path, mrg_st_file **out) {
    if (!out) return mrg_error(MRG_ERR_INVALID_ARG, "mrg_st_try_open: out is NULL");
    *out = NULL;
    if (!path) return mrg_error(MRG_ERR_INVALID_ARG, "mrg_st_open: path is NULL");
    mrg_st_file *f = calloc(1, sizeof *f);
    if (!f || !(f->path = dup_str(path))) {
        free(f);
        return mrg_error(MRG_ERR_OOM, "out of memory opening %s", path);
    }
    mrg_status st = ends_with(path, ".index.json") ? open_index(f, path) : open_one(f, path);
    if (st == MRG_OK) st = build_index(f);
    if (st != MRG_OK) {
        mrg_st_close(f);
        return st;
    }
    *out = f;
    return MRG_OK;
}

mrg_st_file *mrg_st_open(const char *path) {
    mrg_st_file *f = NULL;
    mrg_st_try_open(path, &f);
    return f;
}

mrg_st_file *mrg_st_open_dir(const char *dir) {
    if (!dir) {
        mrg_error(MRG_ERR_INVALID_ARG, "mrg_st_open_dir: directory is NULL");
        return NULL;
    }
    static const char *const names[] = {"model.safetensors", "model.safetensors.index.json"};
    for (int i = 0; i < 2; i++) {
        size_t n = strlen(dir) + strlen(names[i]) + 2;
        char *p = malloc(n);
        if (!p) {
            mrg_error(MRG_ERR_OOM, "out of memory");
            return NULL;
        }
        snprintf(p, n, "%s/%s", dir, names[i]);
        if (access(p, F_OK) == 0) {
            mrg_st_file *f = mrg_st_open(p);
            free(p);
            return f;
        }
        free(p);
    }
    mrg_error(MRG_ERR_NOT_FOUND,
              "%s: neither model.safetensors nor model.safetensors.index.json exists", dir);
    return NULL;
}

void mrg_st_close(mrg_st_file *f) {
    if (!f) return;
    for (int i = 0; i < f->n; i++) free((char *)f->tensors[i].name);
    for (int i = 0; i < f->nmaps; i++) {
        if (f->maps[i].base) munmap(f->maps[i].base, f->maps[i].size);
        free(f->maps[i].path);
    }
    for (int i = 0; i < f->nmeta; i++) {
        free(f->meta[i].key);
        free(f->meta[i].value);
    }
    free(f->meta);
    free(f->maps);
    free(f->tensors);
    free(f->shard);
    free(f->sorted);
    free(f->path);
    free(f);
}

int mrg_st_count(const mrg_st_file *f) { return f ? f->n : 0; }

const mrg_st_tensor *mrg_st_get(const mrg_st_file *f, int i) {
    return f && i >= 0 && i < f->n ? &f->tensors[i] : NULL;
}

const mrg_st_tensor *mrg_st_find(const mrg_st_file *f, const char *name) {
    if (!f || !name) return NULL;
    int lo = 0, hi = f->n - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        const mrg_st_tensor *t = &f->tensors[f->sorted[mid]];
        int c = strcmp(name, t->name);
        if (!c) return t;
        if (c < 0)
            hi = mid - 1;
        else
            lo = mid + 1;
    }
    return NULL;
}

const mrg_st_tensor *mrg_st_require(const mrg_st_file *f, const char *name, int ndim,
                                    const int64_t *expect_shape) {
    if (!f || !name) {
        mrg_error(MRG_ERR_INVALID_ARG, "mrg_st_require: NULL argument");
        return NULL;
    }
    const mrg_st_tensor *t = mrg_st_find(f, name);
    if (!t) {
        mrg_error(MRG_ERR_NOT_FOUND, "%s: no tensor named '%s'", f->path, name);
        return NULL;
    }
    if (ndim >= 0) {
        bool ok = t->ndim == ndim;
        for (int i = 0; ok && i < ndim; i++) ok = t->shape[i] == expect_shape[i];
        if (!ok) {
            char a[160], b[160];
            mrg_error(MRG_ERR_FORMAT, "%s: tensor '%s' has shape %s, expected %s", f->path, name,
                      mrg_st_shape_str(t->ndim, t->shape, a, sizeof a),
                      mrg_st_shape_str(ndim, expect_shape, b, sizeof b));
            return NULL;
        }
    }
    return t;
}

const char *mrg_st_metadata(const mrg_st_file *f, const char *key) {
    if (!f || !key) return NULL;
    for (int i = 0; i < f->nmeta; i++)
        if (!strcmp(f->meta[i].key, key)) return f->meta[i].value;
    return NULL;
}

/* ---- loading into tensors ---------------------------------------------------- */

static float load_f(const uint8_t *p, mrg_dtype dt) {
    if (dt == MRG_F32) {
        float v;
        memcpy(&v, p, 4);
        return v;
    }
    uint16_t h;
    memcpy(&h, p, 2);
    return dt == MRG_BF16 ? mrg_bf16_to_f32(h) : mrg_f16_to_f32(h);
}

static void store_f(uint8_t *p, mrg_dtype dt, float v) {
    if (dt == MRG_F32) {
        memcpy(p, &v, 4);
        return;
    }
    uint16_t h = dt == MRG_BF16 ? mrg_f32_to_bf16(v) : mrg_f32_to_f16(v);
    memcpy(p, &h, 2);
}

mrg_status mrg_st_load_into(const mrg_st_tensor *st, mrg_tensor *t) {
    if (!st || !t) return mrg_error(MRG_ERR_INVALID_ARG, "mrg_st_load_into: NULL argument");
    bool same = st->ndim == t->ndim;
    for (int i = 0; same && i < t->ndim; i++) same = st->shape[i] == t->shape[i];
    if (!same) {
        char a[160], b[160];
        return mrg_error(MRG_ERR_INVALID_ARG, "tensor '%s': stored shape %s does not match %s",
                         st->name, mrg_st_shape_str(st->ndim, st->shape, a, sizeof a),
                         mrg_st_shape_str(t->ndim, t->shape, b, sizeof b));
    }
    if (st->dtype == t->dtype) return mrg_tensor_upload(t, st->data);
    if (st->dtype == MRG_I32 || t->dtype == MRG_I32)
        return mrg_error(MRG_ERR_INVALID_ARG,
                         "tensor '%s': cannot convert stored %s to %s (integers only load into "
                         "I32)",
                         st->name, mrg_st_dtype_tag(st->dtype), mrg_st_dtype_tag(t->dtype));
    size_t n = st->nbytes / mrg_st_dtype_bytes(st->dtype);
    size_t ssz = mrg_st_dtype_bytes(st->dtype), dsz = mrg_st_dtype_bytes(t->dtype);
    uint8_t *buf = malloc(n ? n * dsz : 1);
    if (!buf)
        return mrg_error(MRG_ERR_OOM, "out of memory converting tensor '%s' (%zu elements)",
                         st->name, n);
    const uint8_t *src = st->data;
    for (size_t i = 0; i < n; i++)
        store_f(buf + i * dsz, t->dtype, load_f(src + i * ssz, st->dtype));
    mrg_status s = mrg_tensor_upload(t, buf);
    free(buf);
    return s;
}

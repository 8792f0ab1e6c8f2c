/* A 64-bit content hash (lib/include/mrg/content_hash.h).
 *
 * Four independent 64-bit lanes each absorb one little-endian word of every
 * 32-byte block (multiply, rotate, multiply: the shape of the fast
 * non-cryptographic hashes), so a modern CPU runs the lanes in parallel at
 * several GB/s; the tail bytes, the lengths and a final avalanche (xor-shift
 * and multiply rounds) fold everything into one value. Files are read in
 * 1 MiB chunks, whole blocks at a time, so a file hashes to the same value
 * as its bytes in memory. */
#define _POSIX_C_SOURCE 200809L
#include "mrg/content_hash.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "mrg/status.h"

/* odd 64-bit constants with well-mixed bits */
#define K1 0x9E3779B97F4A7C15ull
#define K2 0xC2B2AE3D27D4EB4Full
#define K3 0x165667B19E3779F9ull
#define K4 0xFF51AFD7ED558CCDull

typedef struct hstate {
    uint64_t lane[4];
    uint64_t len;
} hstate;

static uint64_t rotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

static uint64_t load_le64(const unsigned char *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

static void h_init(hstate *s) {
    s->lane[0] = K1;
    s->lane[1] = K2;
    s->lane[2] = K3;
    s->lane[3] = K4;
    s->len = 0;
}

/* n must be a multiple of 32 except for the last call */
static void h_update(hstate *s, const unsigned char *p, size_t n) {
    size_t i = 0;
    for (; i + 32 <= n; i += 32)
        for (int k = 0; k < 4; k++)
            s->lane[k] = rotl(s->lane[k] ^ (load_le64(p + i + 8 * k) * K2), 31) * K1;
    for (; i < n; i++) {
        uint64_t *l = &s->lane[i & 3];
        *l = rotl(*l ^ ((uint64_t)p[i] * K3), 23) * K1;
    }
    s->len += n;
}

static uint64_t h_final(const hstate *s) {
    uint64_t h = s->len * K4;
    for (int k = 0; k < 4; k++) h = rotl(h ^ (s->lane[k] * K2), 27) * K1 + K3;
    h ^= h >> 33;
    h *= K4;
    h ^= h >> 29;
    h *= K2;
    h ^= h >> 32;
    return h;
}

uint64_t mrg_hash_bytes(const void *data, size_t n) {
    hstate s;
    h_init(&s);
    h_update(&s, data, n);
    return h_final(&s);
}

mrg_status mrg_hash_file(const char *path, uint64_t *out) {
    FILE *f = fopen(path, "rb");
    if (!f) return mrg_error(errno == ENOENT ? MRG_ERR_NOT_FOUND : MRG_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    enum { CHUNK = 1 << 20 };
    unsigned char *buf = malloc(CHUNK);
    if (!buf) {
        fclose(f);
        return mrg_error(MRG_ERR_OOM, "hashing %s: out of memory", path);
    }
    hstate s;
    h_init(&s);
    size_t got;
    /* fread fills the whole chunk except at the end of the file, so every
     * call but the last passes whole 32-byte blocks */
    while ((got = fread(buf, 1, CHUNK, f)) > 0) h_update(&s, buf, got);
    bool err = ferror(f);
    fclose(f);
    free(buf);
    if (err) return mrg_error(MRG_ERR_IO, "cannot read %s", path);
    *out = h_final(&s);
    return MRG_OK;
}

static bool ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcmp(s + n - m, suffix);
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

mrg_status mrg_hash_lm(const char *path, uint64_t *out) {
    struct stat sb;
    if (!path || stat(path, &sb) != 0)
        return mrg_error(MRG_ERR_NOT_FOUND, "the LM %s does not exist", path ? path : "(null)");
    if (!S_ISDIR(sb.st_mode)) return mrg_hash_file(path, out);
    DIR *d = opendir(path);
    if (!d) return mrg_error(MRG_ERR_IO, "cannot open directory %s: %s", path, strerror(errno));
    char **names = NULL;
    size_t n = 0, cap = 0;
    mrg_status st = MRG_OK;
    struct dirent *e;
    while ((e = readdir(d)) && !st) {
        const char *nm = e->d_name;
        if (nm[0] == '.' || !(!strcmp(nm, "config.json") || ends_with(nm, ".safetensors") ||
                              ends_with(nm, ".safetensors.index.json")))
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            char **nn = realloc(names, cap * sizeof *nn);
            if (!nn) { st = mrg_error(MRG_ERR_OOM, "hashing %s: out of memory", path); break; }
            names = nn;
        }
        if (!(names[n] = strdup(nm))) st = mrg_error(MRG_ERR_OOM, "hashing %s: out of memory", path);
        else n++;
    }
    closedir(d);
    if (!st && n == 0) st = mrg_error(MRG_ERR_FORMAT, "%s holds no config.json or safetensors to fingerprint", path);
    if (!st) qsort(names, n, sizeof *names, cmp_str);
    /* the hash of (name, NUL, 8-byte content hash) for every file, in order */
    hstate s;
    h_init(&s);
    for (size_t i = 0; i < n && !st; i++) {
        char file[4096];
        if ((size_t)snprintf(file, sizeof file, "%s/%s", path, names[i]) >= sizeof file) {
            st = mrg_error(MRG_ERR_INVALID_ARG, "path too long: %s/%s", path, names[i]);
            break;
        }
        uint64_t fh;
        if ((st = mrg_hash_file(file, &fh))) break;
        unsigned char rec[4096 + 9];
        size_t len = strlen(names[i]) + 1;
        memcpy(rec, names[i], len);
        for (int k = 0; k < 8; k++) rec[len + (size_t)k] = (unsigned char)(fh >> (8 * k));
        /* whole records of any length: hash each on its own and absorb that */
        uint64_t rh = mrg_hash_bytes(rec, len + 8);
        unsigned char w[8];
        for (int k = 0; k < 8; k++) w[k] = (unsigned char)(rh >> (8 * k));
        h_update(&s, w, 8);
    }
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
    if (st) return st;
    *out = h_final(&s);
    return MRG_OK;
}

mrg_status mrg_hash_dataset(const char *dir, uint64_t *out) {
    char path[4200];
    if ((size_t)snprintf(path, sizeof path, "%s/annotation.json", dir) >= sizeof path)
        return mrg_error(MRG_ERR_INVALID_ARG, "path too long: %s", dir);
    return mrg_hash_file(path, out);
}

void mrg_hash_hex(uint64_t h, char out[17]) {
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 16; i++) out[i] = hex[(h >> (60 - 4 * i)) & 15];
    out[16] = 0;
}

bool mrg_hash_parse(const char *s, uint64_t *out) {
    if (!s || strlen(s) != 16) return false;
    uint64_t v = 0;
    for (int i = 0; i < 16; i++) {
        char c = s[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (d < 0) return false;
        v = (v << 4) | (uint64_t)d;
    }
    *out = v;
    return true;
}

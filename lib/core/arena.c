/* The step arena: device memory for the activations of one step, handed out
 * with a bump pointer from a list of chunks and released all at once by
 * mrg_step_reset(). The chunks are kept in the order the step uses them;
 * after a step that needed several, the next step gets as few as the
 * device's largest allocation (dev->arena_max_chunk) allows, so a
 * steady-state step allocates nothing. No chunk is larger than that limit:
 * a step bigger than one allocation keeps several chunks instead of
 * failing to merge them and regrowing every step. Host-side tensor structs
 * of the step are tracked here too.
 *
 * Under AddressSanitizer every allocation gets a buffer of its own, so that
 * an out-of-bounds kernel on the CPU backend is caught. */
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"

#define ARENA_ALIGN 256
#define ARENA_MIN_CHUNK ((size_t)16 << 20)

#if defined(__SANITIZE_ADDRESS__)
#define ARENA_SEPARATE 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ARENA_SEPARATE 1
#endif
#endif
#ifndef ARENA_SEPARATE
#define ARENA_SEPARATE 0
#endif

struct mrg_arena_chunk {
    mrg_buffer buf;
    size_t used;
    mrg_arena_chunk *next;
};

bool mrg_arena_separate_buffers(void) { return ARENA_SEPARATE; }

static size_t align_up(size_t n) { return (n + ARENA_ALIGN - 1) / ARENA_ALIGN * ARENA_ALIGN; }

static mrg_status chunk_new(mrg_device *dev, size_t bytes, mrg_arena_chunk **out) {
    mrg_arena_chunk *c = calloc(1, sizeof *c);
    if (!c) return mrg_error(MRG_ERR_OOM, "out of host memory");
    mrg_status st = dev->be->buffer_alloc(dev, &c->buf, bytes);
    if (st != MRG_OK) {
        free(c);
        return st;
    }
    c->buf.bytes = bytes;
    dev->arena_chunk_allocs++;
    *out = c;
    return MRG_OK;
}

static void chunk_free(mrg_device *dev, mrg_arena_chunk *c) {
    dev->be->buffer_free(dev, &c->buf);
    free(c);
}

static size_t arena_capacity(const mrg_device *dev) {
    size_t cap = 0;
    for (mrg_arena_chunk *c = dev->chunks; c; c = c->next) cap += c->buf.bytes;
    return cap;
}

/* The largest chunk the arena asks the device for. */
static size_t max_chunk(const mrg_device *dev) {
    return dev->arena_max_chunk ? dev->arena_max_chunk : (size_t)-1;
}

/* Takes need bytes at the bump pointer of c, which becomes the current chunk. */
static void take(mrg_device *dev, mrg_arena_chunk *c, size_t need, mrg_buffer **buf,
                 int64_t *off_bytes) {
    *buf = &c->buf;
    *off_bytes = (int64_t)c->used;
    c->used += need;
    dev->arena_cur = c;
    dev->arena_used += need;
    if (dev->arena_used > dev->arena_peak) dev->arena_peak = dev->arena_used;
}

mrg_status mrg_arena_alloc(mrg_device *dev, size_t bytes, mrg_buffer **buf, int64_t *off_bytes) {
    size_t need = align_up(bytes ? bytes : 1);
    if (!ARENA_SEPARATE) {
        /* the current chunk, then the empty ones after it */
        for (mrg_arena_chunk *c = dev->arena_cur ? dev->arena_cur : dev->chunks; c; c = c->next)
            if (c->buf.bytes - c->used >= need) {
                take(dev, c, need, buf, off_bytes);
                return MRG_OK;
            }
    }
    size_t want = need;
    if (!ARENA_SEPARATE) {
        want = arena_capacity(dev); /* grow geometrically, up to the device's limit */
        if (want < ARENA_MIN_CHUNK) want = ARENA_MIN_CHUNK;
        if (want > max_chunk(dev)) want = max_chunk(dev);
        if (want < need) want = need;
    }
    mrg_arena_chunk *c = NULL;
    mrg_status st = chunk_new(dev, want, &c);
    if (st != MRG_OK && want > need) st = chunk_new(dev, need, &c);
    if (st != MRG_OK)
        return mrg_error_context(st, "allocating %zu bytes of activations on %s", bytes,
                                 dev->name);
    /* right after the current chunk: the empty chunks after it stay usable */
    mrg_arena_chunk **at = dev->arena_cur ? &dev->arena_cur->next : &dev->chunks;
    c->next = *at;
    *at = c;
    take(dev, c, need, buf, off_bytes);
    return MRG_OK;
}

static void free_chunks(mrg_device *dev) {
    mrg_arena_chunk *c = dev->chunks;
    while (c) {
        mrg_arena_chunk *next = c->next;
        chunk_free(dev, c);
        c = next;
    }
    dev->chunks = NULL;
    dev->arena_cur = NULL;
}

/* Chunks of the given sizes, in order, as the arena's list; false (and
 * none kept) when the device cannot hold them all. */
static bool make_chunks(mrg_device *dev, const size_t *sizes, size_t n) {
    mrg_arena_chunk *head = NULL, **tail = &head;
    for (size_t i = 0; i < n; i++) {
        mrg_arena_chunk *c = NULL;
        if (chunk_new(dev, sizes[i], &c) != MRG_OK) {
            mrg_clear_error();
            dev->chunks = head;
            free_chunks(dev);
            return false;
        }
        *tail = c;
        tail = &c->next;
    }
    dev->chunks = head;
    return true;
}

/* Several chunks become as few as the chunk limit allows, holding at least
 * their combined size. If the device cannot give the merged layout, the
 * chunks of the old sizes are made again (they fitted a moment ago): the
 * next step then runs in them instead of regrowing. */
static void merge_chunks(mrg_device *dev) {
    size_t n_old = 0, total = 0, limit = max_chunk(dev);
    for (mrg_arena_chunk *c = dev->chunks; c; c = c->next) {
        n_old++;
        total += c->buf.bytes;
    }
    size_t n_new = total / limit + (total % limit != 0);
    if (n_old <= n_new) return; /* already as few as allowed */
    size_t *old = malloc(n_old * sizeof *old), *fresh = malloc(n_new * sizeof *fresh);
    if (!old || !fresh) { /* keep the chunks as they are */
        free(old);
        free(fresh);
        return;
    }
    size_t i = 0;
    for (mrg_arena_chunk *c = dev->chunks; c; c = c->next) old[i++] = c->buf.bytes;
    for (i = 0; i < n_new; i++) fresh[i] = total - i * limit < limit ? total - i * limit : limit;
    free_chunks(dev);
    if (!make_chunks(dev, fresh, n_new)) make_chunks(dev, old, n_old);
    free(old);
    free(fresh);
}

/* Called by mrg_step_reset once the step's tensors are gone. */
void mrg_arena_reset(mrg_device *dev) {
    if (ARENA_SEPARATE) {
        free_chunks(dev);
    } else {
        if (dev->chunks && dev->chunks->next) merge_chunks(dev);
        for (mrg_arena_chunk *c = dev->chunks; c; c = c->next) c->used = 0;
    }
    dev->arena_cur = NULL;
    dev->arena_used = 0;
}

void mrg_arena_destroy(mrg_device *dev) { free_chunks(dev); }

size_t mrg_arena_chunk_count(const mrg_device *dev) {
    size_t n = 0;
    for (const mrg_arena_chunk *c = dev->chunks; c; c = c->next) n++;
    return n;
}

mrg_arena_mark mrg_arena_get_mark(const mrg_device *dev) {
    mrg_arena_mark m = {dev->arena_cur, dev->arena_cur ? dev->arena_cur->used : 0,
                        dev->arena_used, dev->n_step_structs};
    return m;
}

/* Chunks used after the mark stay, emptied, and serve what comes next; under
 * ASan (where every allocation has its own chunk) they are freed. */
void mrg_arena_release(mrg_device *dev, const mrg_arena_mark *mark) {
    mrg_arena_chunk **after = mark->chunk ? &mark->chunk->next : &dev->chunks;
    if (ARENA_SEPARATE) {
        while (*after) {
            mrg_arena_chunk *c = *after;
            *after = c->next;
            chunk_free(dev, c);
        }
    } else {
        for (mrg_arena_chunk *c = *after; c; c = c->next) c->used = 0;
    }
    if (mark->chunk) mark->chunk->used = mark->used;
    dev->arena_cur = mark->chunk;
    dev->arena_used = mark->arena_used;
    for (size_t i = mark->n_structs; i < dev->n_step_structs; i++) free(dev->step_structs[i]);
    dev->n_step_structs = mark->n_structs;
}

void *mrg_step_malloc(mrg_device *dev, size_t bytes) {
    if (!dev) {
        mrg_error(MRG_ERR_INVALID_ARG, "step malloc: no device");
        return NULL;
    }
    if (dev->n_step_structs == dev->cap_step_structs) {
        size_t cap = dev->cap_step_structs ? 2 * dev->cap_step_structs : 1024;
        void **p = realloc(dev->step_structs, cap * sizeof *p);
        if (!p) {
            mrg_error(MRG_ERR_OOM, "out of host memory");
            return NULL;
        }
        dev->step_structs = p;
        dev->cap_step_structs = cap;
    }
    void *m = calloc(1, bytes);
    if (m) dev->step_structs[dev->n_step_structs++] = m;
    else mrg_error(MRG_ERR_OOM, "out of host memory");
    return m;
}

void mrg_step_structs_free(mrg_device *dev) {
    for (size_t i = 0; i < dev->n_step_structs; i++) free(dev->step_structs[i]);
    dev->n_step_structs = 0;
}

/* The step arena: device memory for the activations of one step, handed out
 * with a bump pointer from a list of chunks and released all at once by
 * mrg_step_reset(). After a step that needed several chunks, the next step
 * gets one chunk of the combined size, so a steady-state step allocates
 * nothing. Host-side tensor structs of the step are tracked here too.
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
    *out = c;
    return MRG_OK;
}

static size_t arena_capacity(const mrg_device *dev) {
    size_t cap = 0;
    for (mrg_arena_chunk *c = dev->chunks; c; c = c->next) cap += c->buf.bytes;
    return cap;
}

mrg_status mrg_arena_alloc(mrg_device *dev, size_t bytes, mrg_buffer **buf, int64_t *off_bytes) {
    size_t need = align_up(bytes ? bytes : 1);
    if (!ARENA_SEPARATE) {
        /* the newest chunk is at the head */
        mrg_arena_chunk *c = dev->chunks;
        if (c && c->buf.bytes - c->used >= need) {
            *buf = &c->buf;
            *off_bytes = (int64_t)c->used;
            c->used += need;
            dev->arena_used += need;
            if (dev->arena_used > dev->arena_peak) dev->arena_peak = dev->arena_used;
            return MRG_OK;
        }
    }
    size_t want = need;
    if (!ARENA_SEPARATE) {
        want = arena_capacity(dev); /* grow geometrically */
        if (want < ARENA_MIN_CHUNK) want = ARENA_MIN_CHUNK;
        if (want < need) want = need;
    }
    mrg_arena_chunk *c = NULL;
    mrg_status st = chunk_new(dev, want, &c);
    if (st != MRG_OK && want > need) st = chunk_new(dev, need, &c);
    if (st != MRG_OK)
        return mrg_error_context(st, "allocating %zu bytes of activations on %s", bytes,
                                 dev->name);
    c->next = dev->chunks;
    dev->chunks = c;
    *buf = &c->buf;
    *off_bytes = 0;
    c->used = need;
    dev->arena_used += need;
    if (dev->arena_used > dev->arena_peak) dev->arena_peak = dev->arena_used;
    return MRG_OK;
}

static void free_chunks(mrg_device *dev) {
    mrg_arena_chunk *c = dev->chunks;
    while (c) {
        mrg_arena_chunk *next = c->next;
        dev->be->buffer_free(dev, &c->buf);
        free(c);
        c = next;
    }
    dev->chunks = NULL;
}

/* Called by mrg_step_reset once the step's tensors are gone. */
void mrg_arena_reset(mrg_device *dev) {
    if (ARENA_SEPARATE) {
        free_chunks(dev);
    } else if (dev->chunks && dev->chunks->next) {
        /* several chunks: replace them by one that holds the whole step */
        size_t total = arena_capacity(dev);
        free_chunks(dev);
        mrg_arena_chunk *c = NULL;
        if (chunk_new(dev, total, &c) == MRG_OK) dev->chunks = c;
        else mrg_clear_error(); /* allocated lazily on the next step instead */
    } else if (dev->chunks) {
        dev->chunks->used = 0;
    }
    dev->arena_used = 0;
}

void mrg_arena_destroy(mrg_device *dev) { free_chunks(dev); }

mrg_arena_mark mrg_arena_get_mark(const mrg_device *dev) {
    mrg_arena_mark m = {dev->chunks, dev->chunks ? dev->chunks->used : 0, dev->arena_used,
                        dev->n_step_structs};
    return m;
}

/* Chunks made after the mark stay, emptied, and serve what comes next (the
 * bump pointer only looks at the newest chunk); under ASan they are freed. */
void mrg_arena_release(mrg_device *dev, const mrg_arena_mark *mark) {
    mrg_bf16_cache_clear(dev); /* it may hold tensors made after the mark */
    if (ARENA_SEPARATE) {
        while (dev->chunks && dev->chunks != mark->chunk) {
            mrg_arena_chunk *c = dev->chunks;
            dev->chunks = c->next;
            dev->be->buffer_free(dev, &c->buf);
            free(c);
        }
    } else {
        for (mrg_arena_chunk *c = dev->chunks; c && c != mark->chunk; c = c->next) c->used = 0;
    }
    if (mark->chunk) mark->chunk->used = mark->used;
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

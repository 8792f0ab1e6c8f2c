/* Internal helpers shared by lib/core and lib/ops (not installed): the
 * autograd tape's nodes, step allocation and argument checks. Only lib/core
 * and lib/ops include this file (tools/check_layers.py checks it); the
 * layers above use the public headers. */
#ifndef MRG_CORE_INTERNAL_H
#define MRG_CORE_INTERNAL_H

#include "core/backend.h"
#include "mrg/autograd.h"

/* ---- autograd tape ---------------------------------------------------- */

typedef struct mrg_node mrg_node;
/* Computes the gradients of n->in[] from n->out->grad and accumulates them
 * with mrg_accum_grad(). Runs with recording disabled. */
typedef mrg_status (*mrg_backward_fn)(mrg_node *n);

#define MRG_NODE_MAX_IN 8
struct mrg_node {
    const char *op;          /* for messages: "matmul" */
    mrg_backward_fn backward;
    mrg_tensor *out;
    mrg_tensor *in[MRG_NODE_MAX_IN];
    int n_in;
    mrg_tensor *saved[4];    /* step tensors kept for the backward */
    float f[4];              /* scalar parameters */
    int64_t i[2 * MRG_MAX_DIMS];
    bool flag[4];
    void *aux;               /* op data on the host, alive until mrg_step_reset */
};

/* Marks out->requires_grad when grads are enabled and an input requires one,
 * and then appends a node to the tape and returns it for the caller to fill
 * (saved tensors, scalars). Returns NULL when nothing is recorded (not an
 * error). inputs may contain NULL entries (optional inputs). */
mrg_node *mrg_record(mrg_tensor *out, const char *op, mrg_backward_fn fn, int n_in,
                     mrg_tensor *const *inputs);

/* t->grad += g (shapes equal). Allocates t->grad on first use for step
 * tensors (from the gradient pool); trainable parameters have persistent
 * grads.
 * Does nothing when t is NULL or does not require a gradient. */
mrg_status mrg_accum_grad(mrg_tensor *t, mrg_tensor *g);

/* ---- gradients of step tensors (grad_pool.c) ---------------------------- */

/* A gradient (f32, like's shape, contents undefined) in a pooled buffer of
 * like's device; NULL with a message when out of memory. */
mrg_tensor *mrg_grad_pool_take(mrg_tensor *like);
/* g (from mrg_grad_pool_take) is no longer used: its buffer serves the next
 * gradient of its size. Nothing for other tensors. */
void mrg_grad_pool_give(mrg_tensor *g);
/* Every pooled gradient free (step reset; the buffers are kept). */
void mrg_grad_pool_reset(mrg_device *dev);
/* Frees the buffers (device close). */
void mrg_grad_pool_destroy(mrg_device *dev);

/* True when the gradient of t is wanted. */
static inline bool mrg_wants_grad(const mrg_tensor *t) { return t && t->requires_grad; }

/* ---- allocation ------------------------------------------------------- */

/* A step tensor with the same shape as like (dtype dt). */
mrg_tensor *mrg_tensor_like(const mrg_tensor *like, mrg_dtype dt);
/* A view sharing x's buffer: new shape, element offset added. */
mrg_tensor *mrg_tensor_view(mrg_tensor *x, int ndim, const int64_t *shape, int64_t offset);
/* Device-side arena allocation of `bytes` (256-byte aligned). */
mrg_status mrg_arena_alloc(mrg_device *dev, size_t bytes, mrg_buffer **buf, int64_t *off_bytes);
/* Whether the arena gives every allocation a buffer of its own (builds with
 * AddressSanitizer), so that steps never reach a steady state of chunks. */
bool mrg_arena_separate_buffers(void);
/* A position in the step arena (and in its host structs). Releasing it
 * frees every step tensor made after it: the caller must hold none of them. */
typedef struct mrg_arena_mark {
    struct mrg_arena_chunk *chunk;
    size_t used, arena_used, n_structs;
} mrg_arena_mark;
mrg_arena_mark mrg_arena_get_mark(const mrg_device *dev);
void mrg_arena_release(mrg_device *dev, const mrg_arena_mark *mark);

/* ---- step and device lifetime (arena.c, autograd.c) ---------------------- */

/* Called by mrg_step_reset once the step's tensors are gone: empties the
 * arena (the step's chunks are kept, as few as the device's largest
 * allocation allows). */
void mrg_arena_reset(mrg_device *dev);
/* How many device buffers the arena holds now. */
size_t mrg_arena_chunk_count(const mrg_device *dev);
/* Frees every arena chunk (device close). */
void mrg_arena_destroy(mrg_device *dev);
/* Frees the step's host structs and mrg_step_malloc blocks. */
void mrg_step_structs_free(mrg_device *dev);
/* Drops every recorded node (the step is over). */
void mrg_tape_clear(mrg_device *dev);
void mrg_tape_free(mrg_tape *tape);

/* ---- argument checking -------------------------------------------------- */

/* Rows and columns of x viewed as (rows, last dim). */
static inline int64_t mrg_last_dim(const mrg_tensor *x) { return x->shape[x->ndim - 1]; }
static inline int64_t mrg_rows(const mrg_tensor *x) {
    return mrg_numel(x) / (x->ndim ? x->shape[x->ndim - 1] : 1);
}
/* Returns MRG_OK when every tensor is on dev and not NULL; else an error
 * naming op. */
mrg_status mrg_check_same_device(const char *op, int n, mrg_tensor *const *ts);
/* Returns true when any of the n tensors is NULL (errors propagate). */
bool mrg_any_null(int n, mrg_tensor *const *ts);

#define MRG_NULL_GUARD(...)                                                  \
    do {                                                                     \
        mrg_tensor *const guard_[] = {__VA_ARGS__};                          \
        if (mrg_any_null((int)(sizeof guard_ / sizeof guard_[0]), guard_))   \
            return NULL;                                                     \
    } while (0)

/* Backend call that turns a failing status into a NULL op result. */
#define MRG_TRY_NULL(expr)                                                   \
    do {                                                                     \
        if ((expr) != MRG_OK) return NULL;                                   \
    } while (0)

#endif

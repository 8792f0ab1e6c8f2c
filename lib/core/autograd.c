/* The autograd tape: ops append nodes while recording; mrg_backward() walks
 * them newest first. The tape lives until mrg_step_reset(). */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"

struct mrg_tape {
    mrg_node *nodes;
    int n, cap;
};

void mrg_tape_free(mrg_tape *tape) {
    if (!tape) return;
    free(tape->nodes);
    free(tape);
}

void mrg_tape_clear(mrg_device *dev) {
    if (dev->tape) dev->tape->n = 0;
}

int mrg_tape_size(const mrg_device *dev) { return dev && dev->tape ? dev->tape->n : 0; }

bool mrg_grad_set_enabled(mrg_device *dev, bool enabled) {
    bool prev = dev->grad_enabled;
    dev->grad_enabled = enabled;
    return prev;
}

bool mrg_grad_enabled(const mrg_device *dev) { return dev->grad_enabled; }

mrg_node *mrg_record(mrg_tensor *out, const char *op, mrg_backward_fn fn, int n_in,
                     mrg_tensor *const *inputs) {
    if (!out || !out->dev->grad_enabled) return NULL;
    bool wanted = false;
    for (int i = 0; i < n_in; i++)
        if (inputs[i] && inputs[i]->requires_grad) wanted = true;
    if (!wanted) return NULL;
    mrg_device *dev = out->dev;
    if (!dev->tape) {
        dev->tape = calloc(1, sizeof *dev->tape);
        if (!dev->tape) return NULL;
    }
    mrg_tape *tape = dev->tape;
    if (tape->n == tape->cap) {
        int cap = tape->cap ? 2 * tape->cap : 256;
        mrg_node *p = realloc(tape->nodes, (size_t)cap * sizeof *p);
        if (!p) return NULL; /* the gradient is lost; mrg_backward reports it */
        tape->nodes = p;
        tape->cap = cap;
    }
    mrg_node *n = &tape->nodes[tape->n++];
    memset(n, 0, sizeof *n);
    n->op = op;
    n->backward = fn;
    n->out = out;
    n->n_in = n_in < MRG_NODE_MAX_IN ? n_in : MRG_NODE_MAX_IN;
    for (int i = 0; i < n->n_in; i++) n->in[i] = inputs[i];
    out->requires_grad = true;
    return n;
}

mrg_status mrg_accum_grad(mrg_tensor *t, mrg_tensor *g) {
    if (!t || !t->requires_grad) return MRG_OK;
    if (!g) return mrg_error(MRG_ERR_INVALID_ARG, "gradient missing");
    int64_t n = mrg_numel(t);
    if (mrg_numel(g) != n || g->dtype != MRG_F32) {
        char a[96], b[96];
        return mrg_error(MRG_ERR_INVALID_ARG, "gradient %s does not match tensor %s",
                         mrg_shape_str(g, b, sizeof b), mrg_shape_str(t, a, sizeof a));
    }
    bool fresh = false;
    if (!t->grad) {
        /* step tensors get their gradient from the pool on first use */
        t->grad = mrg_grad_pool_take(t);
        if (!t->grad) return mrg_error_context(MRG_ERR_OOM, "gradient of a step tensor");
        fresh = true;
    }
    int64_t one = 1;
    /* never alias g: backward functions may hand the same tensor to several
     * inputs, and accumulation writes into t->grad */
    return t->dev->be->copy_strided(t->dev, mrg_ptr_of(g), mrg_ptr_of(t->grad), 1, &n, &one,
                                    &one, !fresh);
}

/* ---- gradients complete during the walk (mrg_grad_watch) ---------------- */

static mrg_status checkpoint_backward(mrg_node *n);

typedef struct watched {
    const mrg_tensor *t;
    int index; /* in watch->params */
    int first; /* the first tape node that reads it; INT_MAX: none */
} watched;

static int by_tensor(const void *a, const void *b) {
    const mrg_tensor *x = ((const watched *)a)->t, *y = ((const watched *)b)->t;
    return (x > y) - (x < y);
}

static int by_first_desc(const void *a, const void *b) {
    int x = ((const watched *)a)->first, y = ((const watched *)b)->first;
    if (x != y) return x < y ? 1 : -1;
    return ((const watched *)a)->index - ((const watched *)b)->index;
}

/* w[0..n): the watched parameters ordered by when their gradient is
 * complete in a walk from the end of the tape: first use, latest first
 * (unused ones lead: nothing writes them). */
static mrg_status order_by_completion(const mrg_tape *tape, const mrg_grad_watch *watch, watched **out) {
    int n = watch->n;
    watched *w = malloc(sizeof *w * (size_t)(n > 0 ? n : 1));
    if (!w) return mrg_error(MRG_ERR_OOM, "backward: out of memory");
    for (int i = 0; i < n; i++) w[i] = (watched){watch->params[i], i, INT_MAX};
    qsort(w, (size_t)n, sizeof *w, by_tensor);
    int checkpoint = INT_MAX;
    for (int i = tape ? tape->n - 1 : -1; i >= 0; i--) {
        const mrg_node *node = &tape->nodes[i];
        if (node->backward == checkpoint_backward) checkpoint = i;
        for (int j = 0; j < node->n_in; j++) {
            watched key = {node->in[j], 0, 0};
            watched *hit = node->in[j] ? bsearch(&key, w, (size_t)n, sizeof *w, by_tensor) : NULL;
            if (hit) hit->first = i; /* the walk goes down: the last one set is the first use */
        }
    }
    /* a tensor listed twice: its copies complete together (bsearch marked one) */
    for (int i = 1; i < n; i++)
        if (w[i].t == w[i - 1].t && w[i - 1].first < w[i].first) w[i].first = w[i - 1].first;
    for (int i = n - 2; i >= 0; i--)
        if (w[i].t == w[i + 1].t && w[i + 1].first < w[i].first) w[i].first = w[i + 1].first;
    for (int i = 0; i < n; i++)
        if (checkpoint < w[i].first) w[i].first = checkpoint;
    qsort(w, (size_t)n, sizeof *w, by_first_desc);
    *out = w;
    return MRG_OK;
}

/* Runs the backward of every node from the end of the tape down to index
 * start whose output received a gradient. Nodes are re-read through the
 * tape each time: a checkpoint's backward records (and may move) nodes.
 * watch (may be NULL; only for the whole tape, start 0) hears of each
 * gradient as it completes. */
static mrg_status backprop_tape(mrg_tape *tape, int start, const mrg_grad_watch *watch) {
    watched *w = NULL;
    int next = 0, n_watch = watch ? watch->n : 0;
    mrg_status st = watch ? order_by_completion(tape, watch, &w) : MRG_OK;
    /* the unused ones: complete before the walk */
    for (; st == MRG_OK && next < n_watch && w[next].first == INT_MAX; next++)
        st = watch->complete(watch->ctx, w[next].index);
    for (int i = tape ? tape->n - 1 : -1; i >= start && st == MRG_OK; i--) {
        mrg_node *n = &tape->nodes[i];
        mrg_tensor *out = n->out;
        if (out->grad) { /* else it does not reach the loss */
            const char *op = n->op;
            /* what the op's backward allocates in the arena is temporary:
             * the gradients it produces live in the pool */
            mrg_arena_mark mark = mrg_arena_get_mark(out->dev);
            st = n->backward(n);
            mrg_arena_release(out->dev, &mark);
            if (st != MRG_OK) st = mrg_error_context(st, "backward of %s", op);
        }
        /* every reader of out came later on the tape: its gradient is spent */
        if (out->grad && out->grad->pooled) {
            mrg_grad_pool_give(out->grad);
            out->grad = NULL;
        }
        for (; st == MRG_OK && next < n_watch && w[next].first >= i; next++)
            st = watch->complete(watch->ctx, w[next].index);
        if (st == MRG_OK && watch && watch->tick) st = watch->tick(watch->ctx);
    }
    for (; st == MRG_OK && next < n_watch; next++) st = watch->complete(watch->ctx, w[next].index);
    free(w);
    return st;
}

mrg_status mrg_backward_watched(mrg_tensor *loss, float scale, const mrg_grad_watch *watch) {
    if (!loss) return mrg_error(MRG_ERR_INVALID_ARG, "backward: no loss tensor");
    if (mrg_numel(loss) != 1)
        return mrg_error(MRG_ERR_INVALID_ARG, "backward: the loss must have one element");
    if (!loss->requires_grad)
        return mrg_error(MRG_ERR_INVALID_ARG,
                         "backward: the loss does not depend on any trainable parameter "
                         "(or it was computed with gradients disabled)");
    if (watch && (watch->n < 0 || (watch->n > 0 && (!watch->params || !watch->complete))))
        return mrg_error(MRG_ERR_INVALID_ARG, "backward: an incomplete gradient watch");
    mrg_device *dev = loss->dev;
    mrg_tensor *seed = mrg_tensor_new(dev, MRG_F32, loss->ndim, loss->shape);
    if (!seed) return mrg_error_context(MRG_ERR_OOM, "backward");
    MRG_TRY(mrg_tensor_fill(seed, scale));
    MRG_TRY(mrg_accum_grad(loss, seed));
    bool prev = mrg_grad_set_enabled(dev, false);
    mrg_status st = backprop_tape(dev->tape, 0, watch);
    mrg_grad_set_enabled(dev, prev);
    return st;
}

mrg_status mrg_backward_scaled(mrg_tensor *loss, float scale) { return mrg_backward_watched(loss, scale, NULL); }

mrg_status mrg_backward(mrg_tensor *loss) { return mrg_backward_scaled(loss, 1.0f); }

mrg_status mrg_zero_grad(mrg_tensor *const *params, int n) {
    for (int i = 0; i < n; i++)
        if (params[i] && params[i]->grad) MRG_TRY(mrg_tensor_fill(params[i]->grad, 0.0f));
    return MRG_OK;
}

/* ---- activation checkpointing ------------------------------------------- */

typedef struct checkpoint_ctx {
    mrg_checkpoint_fn fn;
    void *ctx;
} checkpoint_ctx;

/* fn(ctx, x) again, recorded on the tape after `start`, and backpropagated
 * from out_grad; the gradient of x lands in dx. The caller releases the
 * arena afterwards, so nothing made here may escape but dx's contents. */
static mrg_status recompute_backward(const checkpoint_ctx *c, mrg_tensor *x, mrg_tensor *out_grad,
                                     mrg_tensor *dx) {
    mrg_device *dev = x->dev;
    int start = dev->tape ? dev->tape->n : 0;
    /* x as a new tensor of its own that wants a gradient */
    mrg_tensor *x2 = mrg_tensor_view(x, x->ndim, x->shape, 0);
    if (!x2) return MRG_ERR_OOM;
    x2->requires_grad = true;
    mrg_grad_set_enabled(dev, true);
    mrg_tensor *y = c->fn(c->ctx, x2);
    mrg_grad_set_enabled(dev, false);
    mrg_status st = y ? MRG_OK : mrg_error_context(MRG_ERR_DEVICE, "checkpoint recompute");
    if (st == MRG_OK && y->requires_grad) st = mrg_accum_grad(y, out_grad);
    if (st == MRG_OK) st = backprop_tape(dev->tape, start, NULL);
    if (st == MRG_OK) st = x2->grad ? mrg_tensor_copy(dx, x2->grad) : mrg_tensor_fill(dx, 0.0f);
    mrg_grad_pool_give(x2->grad); /* copied out */
    x2->grad = NULL;
    if (dev->tape) dev->tape->n = start;
    return st;
}

static mrg_status checkpoint_backward(mrg_node *n) {
    /* the node may move when the recompute grows the tape: copy it first */
    mrg_tensor *x = n->in[0], *out_grad = n->out->grad;
    const checkpoint_ctx *c = n->aux;
    mrg_tensor *dx = mrg_tensor_like(x, MRG_F32); /* made before the mark: it survives */
    if (!dx) return MRG_ERR_OOM;
    mrg_arena_mark mark = mrg_arena_get_mark(x->dev);
    mrg_status st = recompute_backward(c, x, out_grad, dx);
    mrg_arena_release(x->dev, &mark);
    return st == MRG_OK ? mrg_accum_grad(x, dx) : st;
}

mrg_tensor *mrg_checkpoint(mrg_tensor *x, mrg_checkpoint_fn fn, void *ctx) {
    if (!x || !fn) return NULL;
    mrg_device *dev = x->dev;
    if (!dev->grad_enabled || !x->requires_grad) return fn(ctx, x);
    /* the output and the context are made before the mark */
    mrg_tensor *out = mrg_tensor_like(x, MRG_F32);
    checkpoint_ctx *c = mrg_step_malloc(dev, sizeof *c);
    if (!out || !c) {
        mrg_error(MRG_ERR_OOM, "checkpoint: out of memory");
        return NULL;
    }
    c->fn = fn;
    c->ctx = ctx;
    mrg_arena_mark mark = mrg_arena_get_mark(dev);
    dev->grad_enabled = false;
    mrg_tensor *y = fn(ctx, x);
    dev->grad_enabled = true;
    mrg_status st = MRG_OK;
    if (!y)
        st = mrg_error_context(MRG_ERR_DEVICE, "checkpoint");
    else if (!mrg_same_shape(y, x) || y->dtype != MRG_F32)
        st = mrg_error(MRG_ERR_INVALID_ARG, "checkpoint: the block must keep its input's shape");
    else
        st = mrg_tensor_copy(out, y);
    mrg_arena_release(dev, &mark);
    if (st != MRG_OK) return NULL;
    mrg_tensor *const ins[1] = {x};
    mrg_node *n = mrg_record(out, "checkpoint", checkpoint_backward, 1, ins);
    if (!n) {
        mrg_error(MRG_ERR_OOM, "checkpoint: out of host memory for the tape");
        return NULL;
    }
    n->aux = c;
    return out;
}

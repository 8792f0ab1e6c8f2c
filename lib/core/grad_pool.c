/* The gradients of step tensors, in buffers reused within a backward.
 *
 * A step tensor's gradient is needed only until the backward of the op that
 * made the tensor has run: the ops that read the tensor come later on the
 * tape, so the walk has already added all of their gradients into it. The
 * walk then gives the buffer back (mrg_grad_pool_give) and the next
 * gradient of the same size takes it. Buffers are device allocations of
 * one exact size each, kept from step to step (a steady-state step
 * allocates nothing); a ViT's gradients come in a handful of sizes.
 *
 * Because the gradients live here and not in the step arena, the walk can
 * also return to the arena, after each op's backward, everything that
 * backward allocated (its temporaries): see backprop_tape in autograd.c.
 * Together these bound a backward's memory by the forward's activations,
 * the gradients alive at one moment and one op's temporaries, instead of
 * the sum of every gradient and temporary of the step. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"

struct mrg_grad_slot {
    mrg_buffer buf;   /* device memory of buf.bytes */
    mrg_tensor grad;  /* the gradient held while busy */
    bool busy;
    mrg_grad_slot *next;
};

mrg_tensor *mrg_grad_pool_take(mrg_tensor *like) {
    mrg_device *dev = like->dev;
    size_t bytes = (size_t)mrg_numel(like) * sizeof(float);
    if (bytes == 0) bytes = sizeof(float);
    mrg_grad_slot *s = dev->grad_slots;
    while (s && (s->busy || s->buf.bytes != bytes)) s = s->next;
    if (!s) {
        s = calloc(1, sizeof *s);
        if (!s) {
            mrg_error(MRG_ERR_OOM, "out of host memory");
            return NULL;
        }
        mrg_status st = dev->be->buffer_alloc(dev, &s->buf, bytes);
        if (st != MRG_OK) {
            free(s);
            char sh[96];
            mrg_error_context(st, "allocating the gradient of a %s tensor (%zu bytes) on %s",
                              mrg_shape_str(like, sh, sizeof sh), bytes, dev->name);
            return NULL;
        }
        s->buf.bytes = bytes;
        s->next = dev->grad_slots;
        dev->grad_slots = s;
    }
    s->busy = true;
    mrg_tensor *g = &s->grad;
    memset(g, 0, sizeof *g);
    g->dev = dev;
    g->dtype = MRG_F32;
    g->ndim = like->ndim;
    memcpy(g->shape, like->shape, sizeof g->shape);
    g->buf = &s->buf;
    g->pooled = true;
    return g;
}

void mrg_grad_pool_give(mrg_tensor *g) {
    if (!g || !g->pooled) return;
    /* a pooled gradient is the tensor inside its slot */
    mrg_grad_slot *s = (mrg_grad_slot *)((char *)g - offsetof(mrg_grad_slot, grad));
    s->busy = false;
}

void mrg_grad_pool_reset(mrg_device *dev) {
    for (mrg_grad_slot *s = dev->grad_slots; s; s = s->next) s->busy = false;
}

void mrg_grad_pool_destroy(mrg_device *dev) {
    mrg_grad_slot *s = dev->grad_slots;
    while (s) {
        mrg_grad_slot *next = s->next;
        dev->be->buffer_free(dev, &s->buf);
        free(s);
        s = next;
    }
    dev->grad_slots = NULL;
}

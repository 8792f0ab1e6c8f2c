/* The product of mrg_matmul / mrg_linear in pieces, for the fused linear
 * ops (linear_fused.c) that record one node for a linear layer and what
 * follows it (not installed). */
#ifndef MRG_OPS_MATMUL_INTERNAL_H
#define MRG_OPS_MATMUL_INTERNAL_H

#include "ops/ops_common.h"

/* One product C = op(A)·op(B) (op = transpose when the flag is set):
 * op(A) M×K per batch item, op(B) K×N; shared: b is 2-D and serves every
 * batch item; bf16: the device's precision was bf16-mixed. */
typedef struct mm_geom {
    int64_t M, N, K, batch;
    bool ta, tb, shared, bf16;
} mm_geom;

/* mrg_linear's checks of x (..., in), w (out, in) and bias (out) or NULL;
 * false with a message naming op. */
bool ops_linear_check(const char *op, mrg_tensor *x, mrg_tensor *w, mrg_tensor *bias);
/* Checks a, b and bias (messages name op) and fills the geometry and c's
 * shape (rank a->ndim); false with a message otherwise. */
bool ops_mm_plan(const char *op, mrg_tensor *a, mrg_tensor *b, bool trans_a, bool trans_b,
                 mrg_tensor *bias, mm_geom *g, int64_t *c_shape);
/* c (f32, c_shape of ops_mm_plan, contiguous) = a·b (+ bias on every row). */
mrg_status ops_mm_run(const mm_geom *g, mrg_tensor *a, mrg_tensor *b, mrg_tensor *bias,
                      mrg_tensor *c);
/* Stores g in node n, whose in[0], in[1], in[2] are a, b and the bias (or
 * NULL; n_in >= 3 with a bias). */
void ops_mm_save(mrg_node *n, const mm_geom *g);
/* The backward of the product recorded in n, for dc, the gradient of its
 * c (contiguous, c's shape): accumulates into a, b and the bias. dc is
 * used up (rounded in place under bf16-mixed). flags: OPS_MM_A_BF16, a
 * holds bf16 values already (not rounded again). */
#define OPS_MM_A_BF16 1u
mrg_status ops_mm_backward(mrg_node *n, mrg_tensor *dc, unsigned flags);

/* y = r + y (same shapes), as mrg_add(r, y) computes it: the residual
 * added over a product (linear_fused.c). */
mrg_status ops_add_into(mrg_tensor *r, mrg_tensor *y);

/* layernorm(x, w, b, eps) into a new step tensor, its statistics into mean
 * and rstd (rows; new step tensors when NULL) (block_fused.c). */
mrg_tensor *ops_layernorm_temp(mrg_tensor *x, mrg_tensor *w, mrg_tensor *b, float eps,
                               mrg_tensor *mean, mrg_tensor *rstd);
/* The LayerNorm's backward for dn, the gradient of its output, as
 * mrg_layernorm's: accumulates into x, then w and b (those that want one). */
mrg_status ops_layernorm_grads(mrg_tensor *x, mrg_tensor *w, mrg_tensor *b, mrg_tensor *mean,
                               mrg_tensor *rstd, mrg_tensor *dn);

#endif

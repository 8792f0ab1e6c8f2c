/* Matrix products: batched matmul with optional transposes, and linear.
 *
 * With C = op(A)·op(B) (op = transpose when the flag is set), the backward
 * is d op(A) = dC·op(B)ᵀ and d op(B) = op(A)ᵀ·dC, written below for each
 * storage layout of A and B so that no transpose is ever materialised.
 *
 * Under bf16-mixed (mrg_set_precision) every product, forward and backward,
 * multiplies bf16-rounded operands (MRG_UN_ROUND_BF16, f32 storage; a bf16
 * weight as it is) through the backend's gemm_bf16; the gradients reach the
 * unrounded a and b as they are (the cast's backward, as under autocast).
 * The rounded copies are temporaries: the forward gives them back to the
 * arena right after its GEMM and the backward rounds a and b again (the
 * same values), so bf16-mixed keeps no activation or weight twice.
 *
 * The fused linear ops of linear_fused.c share the product and its
 * backward through ops/matmul_internal.h. */
#include <stdatomic.h>
#include <stdio.h>

#include "ops/matmul_internal.h"

/* The geometry of a product lives in its node: i[0] M, i[1] N, i[2] K,
 * i[3] batch; flag[0] trans_a, flag[1] trans_b, flag[2] shared (b is 2-D
 * and used by every batch), flag[3] bf16-mixed. */
static mm_geom geom_of(const mrg_node *n) {
    mm_geom g = {n->i[0], n->i[1], n->i[2], n->i[3],
                 n->flag[0], n->flag[1], n->flag[2], n->flag[3]};
    return g;
}

void ops_mm_save(mrg_node *n, const mm_geom *g) {
    n->i[0] = g->M;
    n->i[1] = g->N;
    n->i[2] = g->K;
    n->i[3] = g->batch;
    n->flag[0] = g->ta;
    n->flag[1] = g->tb;
    n->flag[2] = g->shared;
    n->flag[3] = g->bf16;
}

typedef mrg_status (*gemm_fn)(mrg_device *dev, bool trans_a, bool trans_b, int64_t M, int64_t N,
                              int64_t K, float alpha, mrg_ptr A, int64_t lda, int64_t stride_a,
                              mrg_ptr B, int64_t ldb, int64_t stride_b, float beta, mrg_ptr C,
                              int64_t ldc, int64_t stride_c, int64_t batch);

/* The backend's GEMM for the product's precision. A backend without a
 * gemm_bf16 (OpenCL) multiplies the rounded values with its f32 GEMM, which
 * gives the same products; that is said once. */
static gemm_fn gemm_for(mrg_device *dev, bool bf16) {
    if (!bf16) return dev->be->gemm;
    if (dev->be->gemm_bf16) return dev->be->gemm_bf16;
    static atomic_flag said = ATOMIC_FLAG_INIT;
    if (!atomic_flag_test_and_set(&said))
        fprintf(stderr,
                "mrg: note: bf16-mixed on %s: no bf16 GEMM kernel; the operands are rounded to "
                "bf16 and multiplied in f32 (same products)\n",
                dev->name);
    return dev->be->gemm;
}

/* x with its values rounded to bf16: x itself when stored as bf16, else a
 * new step tensor (f32) that the caller gives back to the arena once its
 * product has run. */
static mrg_tensor *bf16_operand(mrg_tensor *x) {
    if (x->dtype == MRG_BF16) return x;
    mrg_device *dev = x->dev;
    mrg_tensor *r = mrg_tensor_like(x, MRG_F32);
    if (!r) return NULL;
    if (x->dtype != MRG_F32 &&
        dev->be->convert(dev, mrg_ptr_of(x), mrg_ptr_of(r), mrg_numel(x)) != MRG_OK)
        return NULL;
    mrg_ptr src = x->dtype == MRG_F32 ? mrg_ptr_of(x) : mrg_ptr_of(r);
    if (dev->be->unary(dev, MRG_UN_ROUND_BF16, src, mrg_ptr_of(r), mrg_numel(x), 0.0f) != MRG_OK)
        return NULL;
    return r;
}

/* Row strides of A and B as stored. */
static int64_t lda_of(const mm_geom *g) { return g->ta ? g->M : g->K; }
static int64_t ldb_of(const mm_geom *g) { return g->tb ? g->K : g->N; }

/* dA for A stored (M, K) or, with trans_a, (K, M). */
static mrg_status grad_a(const mm_geom *g, mrg_tensor *a, mrg_tensor *b, mrg_tensor *dc) {
    mrg_device *dev = a->dev;
    gemm_fn gemm = gemm_for(dev, g->bf16);
    mrg_tensor *da = mrg_tensor_like(a, MRG_F32);
    OPS_ALLOC_OR_FAIL(da);
    int64_t sb = g->shared ? 0 : g->K * g->N;
    if (!g->ta) {
        /* dA (M, K) = dC (M, N) · op(B)ᵀ; op(B)ᵀ is B itself when trans_b.
         * A shared B lets the batch fold into the rows. */
        int64_t M = g->shared ? g->batch * g->M : g->M, batch = g->shared ? 1 : g->batch;
        MRG_TRY(gemm(dev, false, !g->tb, M, g->K, g->N, 1.0f, mrg_ptr_of(dc), g->N,
                              g->M * g->N, mrg_ptr_of(b), ldb_of(g), sb, 0.0f, mrg_ptr_of(da),
                              g->K, g->M * g->K, batch));
    } else {
        /* dA stored (K, M) = (dC · op(B)ᵀ)ᵀ = op(B) (K, N) · dCᵀ (N, M).
         * B becomes gemm operand A here, which must be f32. */
        mrg_tensor *bf = b;
        if (b->dtype != MRG_F32) {
            bf = mrg_tensor_like(b, MRG_F32);
            OPS_ALLOC_OR_FAIL(bf);
            MRG_TRY(dev->be->convert(dev, mrg_ptr_of(b), mrg_ptr_of(bf), mrg_numel(b)));
        }
        MRG_TRY(gemm(dev, g->tb, true, g->K, g->M, g->N, 1.0f, mrg_ptr_of(bf),
                              ldb_of(g), sb, mrg_ptr_of(dc), g->N, g->M * g->N, 0.0f,
                              mrg_ptr_of(da), g->M, g->M * g->K, g->batch));
    }
    return mrg_accum_grad(a, da);
}

/* dB for B stored (K, N) or, with trans_b, (N, K); summed over the batch
 * when B is shared. */
static mrg_status grad_b(const mm_geom *g, mrg_tensor *a, mrg_tensor *b, mrg_tensor *dc) {
    mrg_device *dev = a->dev;
    gemm_fn gemm = gemm_for(dev, g->bf16);
    mrg_tensor *db = mrg_tensor_like(b, MRG_F32);
    OPS_ALLOC_OR_FAIL(db);
    /* A shared B with A stored (batch·M, K) folds the batch into the summed
     * dimension; a shared B with trans_a cannot fold (each A is K×M), so the
     * per-batch products go to a scratch tensor that is then summed. */
    bool fold = g->shared && !g->ta;
    bool scratch = g->shared && g->ta && g->batch > 1;
    int64_t M = fold ? g->batch * g->M : g->M, batch = fold ? 1 : g->batch;
    mrg_tensor *dst = db;
    if (scratch) {
        int64_t shape[3] = {g->batch, g->tb ? g->N : g->K, g->tb ? g->K : g->N};
        dst = mrg_tensor_new(dev, MRG_F32, 3, shape);
        OPS_ALLOC_OR_FAIL(dst);
    }
    int64_t sd = (batch > 1) ? g->K * g->N : 0;
    if (!g->tb) {
        /* dB (K, N) = op(A)ᵀ (K, M) · dC (M, N) */
        MRG_TRY(gemm(dev, !g->ta, false, g->K, g->N, M, 1.0f, mrg_ptr_of(a), lda_of(g),
                              g->M * g->K, mrg_ptr_of(dc), g->N, g->M * g->N, 0.0f,
                              mrg_ptr_of(dst), g->N, sd, batch));
    } else {
        /* dB (N, K) = dCᵀ (N, M) · op(A) (M, K) */
        MRG_TRY(gemm(dev, true, g->ta, g->N, g->K, M, 1.0f, mrg_ptr_of(dc), g->N,
                              g->M * g->N, mrg_ptr_of(a), lda_of(g), g->M * g->K, 0.0f,
                              mrg_ptr_of(dst), g->K, sd, batch));
    }
    if (scratch)
        MRG_TRY(dev->be->reduce_sum(dev, mrg_ptr_of(dst), mrg_ptr_of(db), 1, g->batch,
                                    g->K * g->N, 1.0f));
    return mrg_accum_grad(b, db);
}

mrg_status ops_mm_backward(mrg_node *n, mrg_tensor *dc, unsigned flags) {
    mm_geom g = geom_of(n);
    mrg_tensor *a = n->in[0], *b = n->in[1];
    mrg_device *dev = a->dev;
    bool want_a = mrg_wants_grad(a), want_b = mrg_wants_grad(b);
    /* a fused bias (mrg_linear): its gradient sums dC over the rows, as
     * add's backward would (before any rounding) */
    mrg_tensor *bias = n->n_in > 2 ? n->in[2] : NULL;
    if (mrg_wants_grad(bias)) {
        mrg_tensor *db = ops_reduce_to(dc, bias, 1.0f);
        OPS_ALLOC_OR_FAIL(db);
        MRG_TRY(mrg_accum_grad(bias, db));
    }
    /* the products use the operands of the forward, rounded again under
     * bf16-mixed (the same values; temporaries), and dC rounded (in place:
     * the caller is done with it); the gradients go to a and b themselves.
     * Each product's temporaries go back to the arena once its gradient
     * is accumulated. */
    if (g.bf16)
        MRG_TRY(dev->be->unary(dev, MRG_UN_ROUND_BF16, mrg_ptr_of(dc), mrg_ptr_of(dc),
                               mrg_numel(dc), 0.0f));
    mrg_arena_mark mark = mrg_arena_get_mark(dev);
    mrg_status st = MRG_OK;
    if (want_a) {
        mrg_tensor *ub = g.bf16 ? bf16_operand(b) : b;
        st = ub ? grad_a(&g, a, ub, dc) : MRG_ERR_OOM;
        mrg_arena_release(dev, &mark);
    }
    if (st == MRG_OK && want_b) {
        mrg_tensor *ua = g.bf16 && !(flags & OPS_MM_A_BF16) ? bf16_operand(a) : a;
        st = ua ? grad_b(&g, ua, b, dc) : MRG_ERR_OOM;
        mrg_arena_release(dev, &mark);
    }
    return st;
}

static mrg_status matmul_backward(mrg_node *n) { return ops_mm_backward(n, n->out->grad, 0); }

bool ops_mm_plan(const char *op, mrg_tensor *a, mrg_tensor *b, bool trans_a, bool trans_b,
                 mrg_tensor *bias, mm_geom *out, int64_t *c_shape) {
    mrg_tensor *const ins[3] = {a, b, bias};
    if (!ops_check_device(op, bias ? 3 : 2, ins)) return false;
    if (!ops_check_f32(op, "a", a) || !ops_check_weight(op, "b", b, MRG_KERNEL_GEMM))
        return false;
    if (a->ndim < 2 || b->ndim < 2) {
        mrg_error(MRG_ERR_INVALID_ARG, "%s: a %s and b %s: both need at least 2 dims", op,
                  OPS_SHAPE(a), OPS_SHAPE(b));
        return false;
    }
    mm_geom g = {0};
    g.ta = trans_a;
    g.tb = trans_b;
    int na = a->ndim, nb = b->ndim;
    g.M = trans_a ? a->shape[na - 1] : a->shape[na - 2];
    g.K = trans_a ? a->shape[na - 2] : a->shape[na - 1];
    int64_t kb = trans_b ? b->shape[nb - 1] : b->shape[nb - 2];
    g.N = trans_b ? b->shape[nb - 2] : b->shape[nb - 1];
    if (kb != g.K) {
        mrg_error(MRG_ERR_INVALID_ARG, "%s: a %s%s and b %s%s: inner dims differ (%lld vs %lld)",
                  op, OPS_SHAPE(a), trans_a ? "^T" : "", OPS_SHAPE(b), trans_b ? "^T" : "",
                  (long long)g.K, (long long)kb);
        return false;
    }
    g.shared = nb == 2;
    if (!g.shared) {
        bool same = nb == na;
        for (int i = 0; same && i < na - 2; i++) same = a->shape[i] == b->shape[i];
        if (!same) {
            mrg_error(MRG_ERR_INVALID_ARG,
                      "%s: a %s and b %s: b's batch dims must equal a's, or b must be 2-D", op,
                      OPS_SHAPE(a), OPS_SHAPE(b));
            return false;
        }
    }
    g.batch = ops_prod(a->shape, 0, na - 2);
    g.bf16 = a->dev->precision == MRG_PRECISION_BF16_MIXED;
    for (int i = 0; i < na - 2; i++) c_shape[i] = a->shape[i];
    c_shape[na - 2] = g.M;
    c_shape[na - 1] = g.N;
    *out = g;
    return true;
}

/* c = a·b, plus bias (N) on every row when given: c starts as the bias and
 * the GEMM adds the product (beta 1), so a linear layer keeps one
 * activation instead of two. Under bf16-mixed the rounded operands are
 * made after c and given back to the arena after the GEMM. */
mrg_status ops_mm_run(const mm_geom *g, mrg_tensor *a, mrg_tensor *b, mrg_tensor *bias,
                      mrg_tensor *c) {
    mrg_device *dev = a->dev;
    float beta = 0.0f;
    if (bias) { /* every row of c (rows of N) = bias */
        int64_t rows = mrg_numel(c) / g->N, cshape[2] = {rows, g->N}, src[2] = {0, 1},
                dst[2] = {g->N, 1};
        MRG_TRY(dev->be->copy_strided(dev, mrg_ptr_of(bias), mrg_ptr_of(c), 2, cshape, src, dst,
                                      false));
        beta = 1.0f;
    }
    mrg_arena_mark mark = mrg_arena_get_mark(dev);
    mrg_tensor *ua = a, *ub = b; /* the operands multiplied */
    mrg_status st = MRG_OK;
    if (g->bf16 && (!(ua = bf16_operand(a)) || !(ub = bf16_operand(b))))
        st = mrg_error_context(MRG_ERR_OOM, "matmul: the bf16-rounded operands");
    gemm_fn gemm = gemm_for(dev, g->bf16);
    if (st == MRG_OK && g->shared && !g->ta) {
        /* one GEMM: a is (batch·M, K) */
        st = gemm(dev, false, g->tb, g->batch * g->M, g->N, g->K, 1.0f, mrg_ptr_of(ua), g->K, 0,
                  mrg_ptr_of(ub), ldb_of(g), 0, beta, mrg_ptr_of(c), g->N, 0, 1);
    } else if (st == MRG_OK) {
        st = gemm(dev, g->ta, g->tb, g->M, g->N, g->K, 1.0f, mrg_ptr_of(ua), lda_of(g),
                  g->M * g->K, mrg_ptr_of(ub), ldb_of(g), g->shared ? 0 : g->K * g->N, beta,
                  mrg_ptr_of(c), g->N, g->M * g->N, g->batch);
    }
    if (g->bf16) mrg_arena_release(dev, &mark);
    return st;
}

/* a·b (+ bias, from mrg_linear, which has checked it). */
static mrg_tensor *matmul_bias(mrg_tensor *a, mrg_tensor *b, bool trans_a, bool trans_b,
                               mrg_tensor *bias) {
    MRG_NULL_GUARD(a, b);
    mm_geom g;
    int64_t shape[MRG_MAX_DIMS];
    if (!ops_mm_plan("matmul", a, b, trans_a, trans_b, bias, &g, shape)) return NULL;
    mrg_tensor *c = mrg_tensor_new(a->dev, MRG_F32, a->ndim, shape);
    if (!c) return NULL;
    MRG_TRY_NULL(ops_mm_run(&g, a, b, bias, c));
    mrg_tensor *const ins[3] = {a, b, bias};
    mrg_node *n = mrg_record(c, bias ? "linear" : "matmul", matmul_backward, bias ? 3 : 2, ins);
    if (n) ops_mm_save(n, &g);
    return c;
}

mrg_tensor *mrg_matmul(mrg_tensor *a, mrg_tensor *b, bool trans_a, bool trans_b) {
    return matmul_bias(a, b, trans_a, trans_b, NULL);
}

bool ops_linear_check(const char *op, mrg_tensor *x, mrg_tensor *w, mrg_tensor *bias) {
    if (!x || !w) {
        mrg_error(MRG_ERR_INVALID_ARG, "%s: NULL argument", op);
        return false;
    }
    mrg_tensor *const ins[3] = {x, w, bias};
    if (!ops_check_device(op, 3, ins)) return false;
    if (!ops_check_f32(op, "x", x) || !ops_check_weight(op, "w", w, MRG_KERNEL_GEMM))
        return false;
    if (x->ndim < 1 || w->ndim != 2 || mrg_last_dim(x) != w->shape[1]) {
        mrg_error(MRG_ERR_INVALID_ARG, "%s: x %s and w %s: expected x (..., in) and w (out, in)",
                  op, OPS_SHAPE(x), OPS_SHAPE(w));
        return false;
    }
    if (bias) {
        if (!ops_check_f32(op, "bias", bias)) return false;
        if (bias->ndim != 1 || bias->shape[0] != w->shape[0]) {
            mrg_error(MRG_ERR_INVALID_ARG, "%s: bias %s does not match w %s (expected (%lld,))",
                      op, OPS_SHAPE(bias), OPS_SHAPE(w), (long long)w->shape[0]);
            return false;
        }
    }
    return true;
}

mrg_tensor *mrg_linear(mrg_tensor *x, mrg_tensor *w, mrg_tensor *bias) {
    MRG_NULL_GUARD(x, w);
    if (!ops_linear_check("linear", x, w, bias)) return NULL;
    /* a 1-D x is one row */
    mrg_tensor *x2 = x->ndim == 1 ? mrg_reshape(x, MRG_SHAPE(1, x->shape[0])) : x;
    mrg_tensor *y = matmul_bias(x2, w, false, true, bias); /* (..., out) */
    if (y && x->ndim == 1) y = mrg_reshape(y, MRG_SHAPE(w->shape[0]));
    return y;
}

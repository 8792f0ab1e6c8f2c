/* Fused scaled dot-product attention on OpenCL (cl/kernels/sdpa.cl): a
 * forward kernel with an online softmax over key tiles, and a backward in
 * three passes (Di = Σ dO∘O; dK and dV per key; dQ per query), none of
 * which holds a score matrix in global memory. Each output element is
 * summed by one work-item in a fixed order: the same result every run. */
#include "cl/cl.h"

/* The most rows per work-group (a power of two, at most tune.attn_wg) whose
 * local tiles, per_row floats each plus fixed floats, fit the device's
 * local memory; 0 when not even one row fits. */
static size_t group_rows(const mrg_cl_ctx *c, int64_t per_row, int64_t fixed) {
    for (size_t w = c->tune.attn_wg; w >= 1; w /= 2)
        if ((cl_ulong)((int64_t)w * per_row + fixed) * sizeof(float) <= c->local_mem) return w;
    return 0;
}

static mrg_status check_dims(const char *op, const mrg_sdpa_dims *d) {
    if (d->B < 0 || d->H < 1 || d->Hkv < 1 || d->H % d->Hkv || d->Tq < 0 || d->Tk < 1 ||
        d->D < 1 || d->Dv < 1 || d->D > INT32_MAX || d->Dv > INT32_MAX || d->R < 1 ||
        d->cap < d->Tk || (d->causal && d->Tq > d->Tk))
        return mrg_error(MRG_ERR_INVALID_ARG, "opencl: %s: bad sizes", op);
    return MRG_OK;
}

static mrg_status too_wide(const char *op, const mrg_sdpa_dims *d, const mrg_cl_ctx *c) {
    return mrg_error(MRG_ERR_UNSUPPORTED,
                     "opencl: %s: head dims %lld/%lld need more than the device's %llu bytes "
                     "of local memory",
                     op, (long long)d->D, (long long)d->Dv, (unsigned long long)c->local_mem);
}

static size_t chunks(int64_t n) { return (size_t)((n + MRG_CL_ATT_CH - 1) / MRG_CL_ATT_CH); }

/* The arguments the two gradient kernels (dK/dV and dQ) share, in their
 * order: q, k, v, mask, lse, dout, Di, then the n_out gradients written,
 * then the sizes; each caller adds its own local tiles. */
static mrg_cl_args bwd_args(mrg_cl_ctx *c, mrg_cl_kernel_id id, const mrg_sdpa_dims *d,
                            const mrg_ptr in[6], cl_mem di, int n_out, const mrg_ptr *out) {
    mrg_cl_args a = mrg_cl_args_begin(c, id);
    for (int i = 0; i < 6; i++) mrg_cl_arg_ptr(&a, in[i]);
    mrg_cl_arg_mem(&a, di);
    for (int i = 0; i < n_out; i++) mrg_cl_arg_ptr(&a, out[i]);
    mrg_cl_arg_long(&a, d->H);
    mrg_cl_arg_long(&a, d->Hkv);
    mrg_cl_arg_long(&a, d->Tq);
    mrg_cl_arg_long(&a, d->Tk);
    mrg_cl_arg_int(&a, (int)d->D);
    mrg_cl_arg_int(&a, (int)d->Dv);
    mrg_cl_arg_int(&a, d->causal);
    mrg_cl_arg_float(&a, d->scale);
    return a;
}

mrg_status mrg_cl_sdpa(mrg_device *dev, const mrg_sdpa_dims *d, mrg_ptr q, mrg_ptr k, mrg_ptr v,
                       mrg_ptr mask, mrg_ptr rows, mrg_ptr o, mrg_ptr lse) {
    mrg_cl_ctx *c = mrg_cl_of(dev);
    mrg_status st = check_dims("sdpa", d);
    if (st == MRG_OK) st = mrg_cl_check_f32("sdpa", 6, (mrg_ptr[]){q, k, v, mask, o, lse});
    if (st == MRG_OK && rows.buf && rows.dt != MRG_I32)
        st = mrg_error(MRG_ERR_UNSUPPORTED, "opencl: sdpa: rows must be i32");
    if (st != MRG_OK) return st;
    const int64_t D = d->D, Dv = d->Dv, KT = MRG_CL_ATT_KT;
    size_t qt = group_rows(c, D + 1, KT * D + KT * MRG_CL_ATT_CH);
    if (!qt) return too_wide("sdpa", d, c);
    mrg_cl_args a = mrg_cl_args_begin(c, MRG_CLK_sdpa_fwd);
    mrg_cl_arg_ptr(&a, q);
    mrg_cl_arg_ptr(&a, k);
    mrg_cl_arg_ptr(&a, v);
    mrg_cl_arg_ptr(&a, mask);
    mrg_cl_arg_ptr(&a, rows);
    mrg_cl_arg_ptr(&a, o);
    mrg_cl_arg_ptr(&a, lse);
    mrg_cl_arg_long(&a, d->H);
    mrg_cl_arg_long(&a, d->Hkv);
    mrg_cl_arg_long(&a, d->Tq);
    mrg_cl_arg_long(&a, d->Tk);
    mrg_cl_arg_int(&a, (int)D);
    mrg_cl_arg_int(&a, (int)Dv);
    mrg_cl_arg_long(&a, d->cap);
    mrg_cl_arg_int(&a, d->causal);
    mrg_cl_arg_float(&a, d->scale);
    mrg_cl_arg_local(&a, qt * (size_t)(D + 1) * sizeof(float));
    mrg_cl_arg_local(&a, (size_t)(KT * D) * sizeof(float));
    mrg_cl_arg_local(&a, (size_t)(KT * MRG_CL_ATT_CH) * sizeof(float));
    const size_t global[3] = {(size_t)d->Tq, (size_t)(d->B * d->H), chunks(Dv)};
    const size_t local[3] = {qt, 1, 1};
    return mrg_cl_enqueue(c, &a, 3, global, local, "sdpa");
}

mrg_status mrg_cl_sdpa_backward(mrg_device *dev, const mrg_sdpa_dims *d, mrg_ptr q, mrg_ptr k,
                                mrg_ptr v, mrg_ptr mask, mrg_ptr o, mrg_ptr lse, mrg_ptr dout,
                                mrg_ptr dq, mrg_ptr dk, mrg_ptr dv) {
    mrg_cl_ctx *c = mrg_cl_of(dev);
    mrg_status st = check_dims("sdpa_backward", d);
    if (st == MRG_OK && (d->R != d->B || d->cap != d->Tk))
        st = mrg_error(MRG_ERR_INVALID_ARG, "opencl: sdpa_backward: k, v must be (B, Hkv, Tk, ·)");
    if (st == MRG_OK)
        st = mrg_cl_check_f32("sdpa_backward", 10,
                              (mrg_ptr[]){q, k, v, mask, o, lse, dout, dq, dk, dv});
    if (st != MRG_OK) return st;
    const int64_t D = d->D, Dv = d->Dv, KT = MRG_CL_ATT_KT, nrows = d->B * d->H * d->Tq;
    size_t kg = group_rows(c, D + Dv + 2, KT * (D + Dv) + 2 * KT);
    size_t qt = group_rows(c, D + Dv + 2, KT * (D + Dv));
    if (!kg || !qt) return too_wide("sdpa_backward", d, c);
    if (nrows == 0) { /* no queries: zero key and value gradients */
        MRG_TRY(mrg_cl_fill(dev, dk, d->B * d->Hkv * d->Tk * D, 0.0f));
        return mrg_cl_fill(dev, dv, d->B * d->Hkv * d->Tk * Dv, 0.0f);
    }
    cl_mem di;
    MRG_TRY(mrg_cl_scratch(c, (size_t)nrows * sizeof(float), &di));

    /* Di = Σ dO∘O per query row */
    mrg_cl_args a = mrg_cl_args_begin(c, MRG_CLK_sdpa_bwd_rowdot);
    mrg_cl_arg_ptr(&a, dout);
    mrg_cl_arg_ptr(&a, o);
    mrg_cl_arg_mem(&a, di);
    mrg_cl_arg_long(&a, nrows);
    mrg_cl_arg_int(&a, (int)Dv);
    MRG_TRY(mrg_cl_enqueue_1d(c, &a, nrows, "sdpa_backward"));

    /* dK, dV: one item per key, chunks of dK columns then of dV columns */
    const mrg_ptr in[6] = {q, k, v, mask, lse, dout};
    a = bwd_args(c, MRG_CLK_sdpa_bwd_dkdv, d, in, di, 2, (mrg_ptr[]){dk, dv});
    mrg_cl_arg_int(&a, (int)chunks(D));
    mrg_cl_arg_local(&a, kg * (size_t)(D + 1) * sizeof(float));
    mrg_cl_arg_local(&a, kg * (size_t)(Dv + 1) * sizeof(float));
    mrg_cl_arg_local(&a, (size_t)(KT * D) * sizeof(float));
    mrg_cl_arg_local(&a, (size_t)(KT * Dv) * sizeof(float));
    mrg_cl_arg_local(&a, (size_t)KT * sizeof(float));
    mrg_cl_arg_local(&a, (size_t)KT * sizeof(float));
    const size_t gk[3] = {(size_t)d->Tk, (size_t)(d->B * d->Hkv), chunks(D) + chunks(Dv)};
    const size_t lk[3] = {kg, 1, 1};
    MRG_TRY(mrg_cl_enqueue(c, &a, 3, gk, lk, "sdpa_backward"));

    /* dQ: one item per query row */
    a = bwd_args(c, MRG_CLK_sdpa_bwd_dq, d, in, di, 1, &dq);
    mrg_cl_arg_local(&a, qt * (size_t)(D + 1) * sizeof(float));
    mrg_cl_arg_local(&a, qt * (size_t)(Dv + 1) * sizeof(float));
    mrg_cl_arg_local(&a, (size_t)(KT * D) * sizeof(float));
    mrg_cl_arg_local(&a, (size_t)(KT * Dv) * sizeof(float));
    const size_t gq[3] = {(size_t)d->Tq, (size_t)(d->B * d->H), chunks(D)};
    const size_t lq[3] = {qt, 1, 1};
    return mrg_cl_enqueue(c, &a, 3, gq, lq, "sdpa_backward");
}

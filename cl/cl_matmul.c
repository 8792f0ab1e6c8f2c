/* GEMM on OpenCL.
 *
 *   M <= 16 (decoding, beams)        own small-M split-K kernels (gemm.cl:
 *                                    gemm_smallm_t for the nn.Linear layout B
 *                                    stored N×K, gemm_smallm_n else)
 *   otherwise                        own register-blocked kernel gemm_rb, any
 *                                    B dtype (bf16/f16 converted as loaded)
 *   B f32, M > 16, CLBlast first     CLBlast instead: CLBlastSgemm (batch 1) or
 *                                    CLBlastSgemmStridedBatched; the default on
 *                                    CPU devices (PoCL), MRG_CL_GEMM=clblast|own
 *                                    chooses
 *
 * The own kernels' tile sizes, vector widths and work-group shapes are the
 * parameters of c->gemm (cl_gemm_program.c: tuned by `mrg tune`, cached per
 * device, else per-vendor defaults). CLBlast gets our queue and a NULL
 * event, so it only enqueues; `mrg bench gemm` times it beside ours.
 *
 * 64-bit safety: CLBlast 1.5.3 hands its kernels element offsets and
 * indices as 32-bit int, while an arena chunk may hold more than 2^31
 * floats (NVIDIA allows allocations of 20+ GiB). An operand whose last
 * element lies beyond c->clblast_max_index is therefore given to CLBlast
 * through a sub-buffer that starts just before it (one per cl_mem, so that
 * no two sub-buffers of a call overlap), and a GEMM whose operands span
 * more than that even so runs in the own kernel, which indexes with
 * 64 bits. Own kernels take M, N, K as int: larger ones are refused. */
#include <clblast_c.h>
#include <limits.h>

#include "cl/cl.h"

static mrg_status clblast_fail(CLBlastStatusCode s, const char *what) {
    /* codes above -1000 are plain OpenCL errors */
    if (s < 0 && s > -1000) return mrg_cl_fail((cl_int)s, what);
    return mrg_error(MRG_ERR_DEVICE, "opencl: %s: CLBlast status %d", what, (int)s);
}

static mrg_status gemm_clblast(mrg_cl_ctx *c, bool ta, bool tb, int64_t M, int64_t N, int64_t K,
                               float alpha, mrg_ptr A, int64_t lda, int64_t sa, mrg_ptr B,
                               int64_t ldb, int64_t sb, float beta, mrg_ptr C, int64_t ldc,
                               int64_t sc, int64_t batch) {
    CLBlastTranspose opa = ta ? CLBlastTransposeYes : CLBlastTransposeNo;
    CLBlastTranspose opb = tb ? CLBlastTransposeYes : CLBlastTransposeNo;
    cl_mem a = (cl_mem)A.buf->handle, b = (cl_mem)B.buf->handle, cm = (cl_mem)C.buf->handle;
    CLBlastStatusCode s;
    if (batch == 1)
        s = CLBlastSgemm(CLBlastLayoutRowMajor, opa, opb, (size_t)M, (size_t)N, (size_t)K, alpha,
                         a, (size_t)A.off, (size_t)lda, b, (size_t)B.off, (size_t)ldb, beta, cm,
                         (size_t)C.off, (size_t)ldc, &c->queue, NULL);
    else
        s = CLBlastSgemmStridedBatched(CLBlastLayoutRowMajor, opa, opb, (size_t)M, (size_t)N,
                                       (size_t)K, alpha, a, (size_t)A.off, (size_t)lda,
                                       (size_t)sa, b, (size_t)B.off, (size_t)ldb, (size_t)sb,
                                       beta, cm, (size_t)C.off, (size_t)ldc, (size_t)sc,
                                       (size_t)batch, &c->queue, NULL);
    return s == CLBlastSuccess ? MRG_OK : clblast_fail(s, "gemm (CLBlast)");
}

/* Arguments shared by the own kernels after (ta[, tb], M, N, K). */
static void gemm_args(mrg_cl_args *a, float alpha, mrg_ptr A, int64_t lda, int64_t sa, mrg_ptr B,
                      int64_t ldb, int64_t sb, float beta, mrg_ptr C, int64_t ldc, int64_t sc) {
    mrg_cl_arg_float(a, alpha);
    mrg_cl_arg_ptr(a, A);
    mrg_cl_arg_long(a, lda);
    mrg_cl_arg_long(a, sa);
    mrg_cl_arg_ptr(a, B);
    mrg_cl_arg_long(a, ldb);
    mrg_cl_arg_long(a, sb);
    mrg_cl_arg_int(a, (int)B.dt);
    mrg_cl_arg_float(a, beta);
    mrg_cl_arg_ptr(a, C);
    mrg_cl_arg_long(a, ldc);
    mrg_cl_arg_long(a, sc);
}

/* M <= MRG_CL_SMALL_M: K in chunks of sm_kc, one split each; several
 * splits write partial sums to scratch that gemm_split_finish adds in
 * order (deterministic). */
static mrg_status gemm_small_m(mrg_cl_ctx *c, const mrg_cl_gemm_prog *g, bool ta, bool tb,
                               int64_t M, int64_t N, int64_t K, float alpha, mrg_ptr A,
                               int64_t lda, int64_t sa, mrg_ptr B, int64_t ldb, int64_t sb,
                               float beta, mrg_ptr C, int64_t ldc, int64_t sc, int64_t batch) {
    const mrg_cl_gemm_params *p = &g->p;
    const int64_t nsplit = (K + p->sm_kc - 1) / p->sm_kc;
    cl_mem part = NULL;
    if (nsplit > 1) {
        mrg_status st =
            mrg_cl_scratch(c, (size_t)(batch * nsplit * M * N) * sizeof(float), &part);
        if (st != MRG_OK) return st;
    }
    mrg_cl_args a = {g->k[tb ? MRG_CL_GK_SMALLM_T : MRG_CL_GK_SMALLM_N], 0, CL_SUCCESS};
    mrg_cl_arg_int(&a, ta);
    mrg_cl_arg_int(&a, (int)M);
    mrg_cl_arg_int(&a, (int)N);
    mrg_cl_arg_int(&a, (int)K);
    gemm_args(&a, alpha, A, lda, sa, B, ldb, sb, beta, C, ldc, sc);
    mrg_cl_arg_mem(&a, part);
    mrg_cl_arg_int(&a, (int)nsplit);
    mrg_status st;
    if (tb) {
        size_t cols = (size_t)(p->sm_wg / p->sm_lanes);
        size_t local[3] = {(size_t)p->sm_wg, 1, 1};
        size_t global[3] = {((size_t)N + cols - 1) / cols * (size_t)p->sm_wg, (size_t)nsplit,
                            (size_t)batch};
        st = mrg_cl_enqueue(c, &a, 3, global, local, "gemm (small M)");
    } else {
        size_t local[3] = {mrg_cl_cols_wg(c, N), 1, 1};
        size_t global[3] = {(size_t)N, (size_t)nsplit, (size_t)batch};
        st = mrg_cl_enqueue(c, &a, 3, global, local, "gemm (small M)");
    }
    if (st != MRG_OK || nsplit == 1) return st;
    mrg_cl_args f = {g->k[MRG_CL_GK_FINISH], 0, CL_SUCCESS};
    mrg_cl_arg_int(&f, (int)M);
    mrg_cl_arg_int(&f, (int)N);
    mrg_cl_arg_int(&f, (int)nsplit);
    mrg_cl_arg_float(&f, alpha);
    mrg_cl_arg_float(&f, beta);
    mrg_cl_arg_mem(&f, part);
    mrg_cl_arg_ptr(&f, C);
    mrg_cl_arg_long(&f, ldc);
    mrg_cl_arg_long(&f, sc);
    size_t local[3] = {mrg_cl_cols_wg(c, N), 1, 1};
    size_t global[3] = {(size_t)N, (size_t)M, (size_t)batch};
    return mrg_cl_enqueue(c, &f, 3, global, local, "gemm (small M)");
}

mrg_status mrg_cl_gemm_own(mrg_cl_ctx *c, const mrg_cl_gemm_prog *g, bool ta, bool tb, int64_t M,
                           int64_t N, int64_t K, float alpha, mrg_ptr A, int64_t lda,
                           int64_t sa, mrg_ptr B, int64_t ldb, int64_t sb, float beta, mrg_ptr C,
                           int64_t ldc, int64_t sc, int64_t batch) {
    if (M <= MRG_CL_SMALL_M)
        return gemm_small_m(c, g, ta, tb, M, N, K, alpha, A, lda, sa, B, ldb, sb, beta, C, ldc,
                            sc, batch);
    const mrg_cl_gemm_params *p = &g->p;
    mrg_cl_args a = {g->k[MRG_CL_GK_RB], 0, CL_SUCCESS};
    mrg_cl_arg_int(&a, ta);
    mrg_cl_arg_int(&a, tb);
    mrg_cl_arg_int(&a, (int)M);
    mrg_cl_arg_int(&a, (int)N);
    mrg_cl_arg_int(&a, (int)K);
    gemm_args(&a, alpha, A, lda, sa, B, ldb, sb, beta, C, ldc, sc);
    size_t wg_n = (size_t)(p->tn / p->wn), wg_m = (size_t)(p->tm / p->wm);
    size_t local[3] = {wg_n, wg_m, 1};
    size_t global[3] = {(size_t)((N + p->tn - 1) / p->tn) * wg_n,
                        (size_t)((M + p->tm - 1) / p->tm) * wg_m, (size_t)batch};
    return mrg_cl_enqueue(c, &a, 3, global, local, "gemm");
}

/* ---- 64-bit safe CLBlast calls -------------------------------------------- */

/* An f32 operand and its extent: the element after its last one, counted
 * from its offset (-1 when that does not fit 64 bits). */
typedef struct operand {
    mrg_ptr p;
    int64_t ext;
} operand;

/* (batch−1)·stride + (rows−1)·ld + cols for rows × cols stored with row
 * stride ld, batch copies stride apart. */
static int64_t extent(int64_t rows, int64_t cols, int64_t ld, int64_t stride, int64_t batch) {
    int64_t a, b, r;
    if (rows <= 0 || cols <= 0 || batch <= 0) return 0;
    if (__builtin_mul_overflow(batch - 1, stride, &a) || __builtin_mul_overflow(rows - 1, ld, &b) ||
        __builtin_add_overflow(a, b, &r) || __builtin_add_overflow(r, cols, &r))
        return -1;
    return r;
}

/* CLBlast on sub-buffers: each operand gets one from its first element
 * (rounded down to the device's base alignment) to past its last, so the
 * offsets CLBlast sees are small; operands whose regions overlap in one
 * cl_mem share one (OpenCL leaves overlapping sub-buffers undefined).
 * *fits is false (and nothing enqueued) when such a region still exceeds
 * c->clblast_max_index: the caller then uses its own kernel. */
static mrg_status gemm_clblast_sub(mrg_cl_ctx *c, const operand *ops, bool ta, bool tb,
                                   int64_t M, int64_t N, int64_t K, float alpha, int64_t lda,
                                   int64_t sa, int64_t ldb, int64_t sb, float beta, int64_t ldc,
                                   int64_t sc, int64_t batch, bool *fits) {
    *fits = false;
    const int64_t esz = 4, align_el = (int64_t)c->base_align / esz;
    /* region g of operand i: group[i]; regions in elements [lo, hi) */
    mrg_buffer *parent[3];
    int64_t lo[3], hi[3];
    int group[3], ngroups = 3;
    for (int i = 0; i < 3; i++) {
        if (ops[i].ext < 0 || ops[i].p.off > INT64_MAX - ops[i].ext) return MRG_OK;
        parent[i] = ops[i].p.buf;
        lo[i] = ops[i].p.off / align_el * align_el;
        hi[i] = ops[i].p.off + ops[i].ext;
        group[i] = i;
    }
    /* merge overlapping regions of one buffer (three regions: two rounds) */
    for (int round = 0; round < 2; round++)
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 3; j++) {
                int gi = group[i], gj = group[j];
                if (gi == gj || parent[gi] != parent[gj] || lo[gi] >= hi[gj] || lo[gj] >= hi[gi])
                    continue;
                if (lo[gj] < lo[gi]) lo[gi] = lo[gj];
                if (hi[gj] > hi[gi]) hi[gi] = hi[gj];
                for (int k = 0; k < 3; k++)
                    if (group[k] == gj) group[k] = gi;
            }
    for (int g = 0; g < ngroups; g++) {
        bool used = group[0] == g || group[1] == g || group[2] == g;
        if (used && hi[g] - lo[g] > c->clblast_max_index) return MRG_OK;
    }
    cl_mem sub[3] = {NULL, NULL, NULL};
    mrg_buffer view[3];
    mrg_status st = MRG_OK;
    for (int g = 0; g < ngroups && st == MRG_OK; g++) {
        if (group[0] != g && group[1] != g && group[2] != g) continue;
        /* the parent may end before the padded span of its last row */
        size_t origin = (size_t)lo[g] * esz, size = (size_t)(hi[g] - lo[g]) * esz;
        if (origin + size > parent[g]->bytes) size = parent[g]->bytes - origin;
        cl_buffer_region region = {origin, size};
        cl_int err;
        sub[g] = clCreateSubBuffer((cl_mem)parent[g]->handle, CL_MEM_READ_WRITE,
                                   CL_BUFFER_CREATE_TYPE_REGION, &region, &err);
        if (err != CL_SUCCESS) st = mrg_cl_fail(err, "gemm: clCreateSubBuffer");
        view[g].handle = sub[g];
        view[g].bytes = size;
    }
    if (st == MRG_OK) {
        mrg_ptr p[3];
        for (int i = 0; i < 3; i++) {
            p[i] = ops[i].p;
            p[i].buf = &view[group[i]];
            p[i].off -= lo[group[i]];
        }
        *fits = true;
        c->gemm_clblast_subbuffer++;
        st = gemm_clblast(c, ta, tb, M, N, K, alpha, p[0], lda, sa, p[1], ldb, sb, beta, p[2],
                          ldc, sc, batch);
    }
    /* the queued kernels keep the sub-buffers alive until they finish */
    for (int g = 0; g < ngroups; g++)
        if (sub[g]) clReleaseMemObject(sub[g]);
    if (st != MRG_OK) *fits = true; /* an error, not a reason to try another path */
    return st;
}

mrg_status mrg_cl_gemm(mrg_device *dev, bool trans_a, bool trans_b, int64_t M, int64_t N,
                       int64_t K, float alpha, mrg_ptr A, int64_t lda, int64_t stride_a,
                       mrg_ptr B, int64_t ldb, int64_t stride_b, float beta, mrg_ptr C,
                       int64_t ldc, int64_t stride_c, int64_t batch) {
    mrg_cl_ctx *c = mrg_cl_of(dev);
    if (A.dt != MRG_F32 || C.dt != MRG_F32 ||
        (B.dt != MRG_F32 && B.dt != MRG_BF16 && B.dt != MRG_F16))
        return mrg_error(MRG_ERR_UNSUPPORTED, "opencl: gemm: A %s, B %s, C %s (A, C f32; B f32, "
                         "bf16 or f16)", mrg_dtype_name(A.dt), mrg_dtype_name(B.dt),
                         mrg_dtype_name(C.dt));
    if (M < 0 || N < 0 || K < 0 || batch < 0)
        return mrg_error(MRG_ERR_INVALID_ARG, "opencl: gemm: negative size");
    if (M == 0 || N == 0 || batch == 0) return MRG_OK;
    if (!A.buf || !B.buf || !C.buf)
        return mrg_error(MRG_ERR_INVALID_ARG, "opencl: gemm: missing buffer");
    if (M > INT_MAX || N > INT_MAX || K > INT_MAX)
        return mrg_error(MRG_ERR_UNSUPPORTED, "opencl: gemm: dimension above 2^31");
    if (batch == 1) stride_a = stride_b = stride_c = 0;

    if (K == 0) { /* C = beta·C */
        mrg_cl_args a = mrg_cl_args_begin(c, MRG_CLK_gemm_scale_c);
        mrg_cl_arg_int(&a, (int)M);
        mrg_cl_arg_int(&a, (int)N);
        mrg_cl_arg_float(&a, beta);
        mrg_cl_arg_ptr(&a, C);
        mrg_cl_arg_long(&a, ldc);
        mrg_cl_arg_long(&a, stride_c);
        size_t local[3] = {16, 1, 1};
        size_t global[3] = {(size_t)N, (size_t)M, (size_t)batch};
        return mrg_cl_enqueue(c, &a, 3, global, local, "gemm");
    }

    /* A shared weight (stride_b 0) with batches of A and C that follow each
     * other row after row is one GEMM with batch·M rows. */
    if (batch > 1 && stride_b == 0 && !trans_a && stride_a == M * lda && stride_c == M * ldc &&
        M * batch <= INT_MAX) {
        M *= batch;
        batch = 1;
        stride_a = stride_c = 0;
    }

    if (B.dt == MRG_F32 && M > MRG_CL_SMALL_M && c->gemm_clblast_first) {
        /* op(A) M×K stored K×M when transposed; op(B) K×N stored N×K */
        operand ops[3] = {
            {A, extent(trans_a ? K : M, trans_a ? M : K, lda, stride_a, batch)},
            {B, extent(trans_b ? N : K, trans_b ? K : N, ldb, stride_b, batch)},
            {C, extent(M, N, ldc, stride_c, batch)}};
        int64_t lim = c->clblast_max_index;
        if (ops[0].ext >= 0 && ops[1].ext >= 0 && ops[2].ext >= 0 && A.off <= lim - ops[0].ext &&
            B.off <= lim - ops[1].ext && C.off <= lim - ops[2].ext) {
            c->gemm_clblast++;
            return gemm_clblast(c, trans_a, trans_b, M, N, K, alpha, A, lda, stride_a, B, ldb,
                                stride_b, beta, C, ldc, stride_c, batch);
        }
        bool fits = false;
        mrg_status st = gemm_clblast_sub(c, ops, trans_a, trans_b, M, N, K, alpha, lda, stride_a,
                                         ldb, stride_b, beta, ldc, stride_c, batch, &fits);
        if (fits || st != MRG_OK) return st;
    }
    c->gemm_own++;
    return mrg_cl_gemm_own(c, &c->gemm, trans_a, trans_b, M, N, K, alpha, A, lda, stride_a, B,
                           ldb, stride_b, beta, C, ldc, stride_c, batch);
}

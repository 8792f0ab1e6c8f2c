/* GEMM on OpenCL.
 *
 *   M == 1 (decoding, any B dtype)   own GEMV kernels (gemv_t for the
 *                                    nn.Linear layout B stored N×K, gemv_n else)
 *   B f32                            CLBlast: CLBlastSgemm (batch 1) or
 *                                    CLBlastSgemmStridedBatched
 *   B bf16 / f16                     own tiled kernel: B is converted tile by
 *                                    tile in local memory, never as a whole
 *
 * CLBlast gets our queue and a NULL event, so it only enqueues. */
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
                      int64_t ldb, int64_t sb, float beta, mrg_ptr C) {
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
}

static mrg_status gemv(mrg_cl_ctx *c, bool ta, bool tb, int64_t N, int64_t K, float alpha,
                       mrg_ptr A, int64_t lda, int64_t sa, mrg_ptr B, int64_t ldb, int64_t sb,
                       float beta, mrg_ptr C, int64_t sc, int64_t batch) {
    mrg_cl_args a = mrg_cl_args_begin(c, tb ? MRG_CLK_gemv_t : MRG_CLK_gemv_n);
    mrg_cl_arg_int(&a, ta);
    mrg_cl_arg_int(&a, (int)N);
    mrg_cl_arg_int(&a, (int)K);
    gemm_args(&a, alpha, A, lda, sa, B, ldb, sb, beta, C);
    mrg_cl_arg_long(&a, sc);
    if (tb) {
        size_t local[2] = {c->tune.gemv_wg, 1};
        size_t global[2] = {(size_t)N * c->tune.gemv_wg, (size_t)batch};
        return mrg_cl_enqueue(c, &a, 2, global, local, "gemm (gemv)");
    }
    size_t local[2] = {c->tune.wg1d, 1};
    size_t global[2] = {(size_t)N, (size_t)batch};
    return mrg_cl_enqueue(c, &a, 2, global, local, "gemm (gemv)");
}

static mrg_status gemm_tiled(mrg_cl_ctx *c, bool ta, bool tb, int64_t M, int64_t N, int64_t K,
                             float alpha, mrg_ptr A, int64_t lda, int64_t sa, mrg_ptr B,
                             int64_t ldb, int64_t sb, float beta, mrg_ptr C, int64_t ldc,
                             int64_t sc, int64_t batch) {
    const mrg_cl_tuning *t = &c->tune;
    mrg_cl_args a = mrg_cl_args_begin(c, MRG_CLK_gemm_tiled);
    mrg_cl_arg_int(&a, ta);
    mrg_cl_arg_int(&a, tb);
    mrg_cl_arg_int(&a, (int)M);
    mrg_cl_arg_int(&a, (int)N);
    mrg_cl_arg_int(&a, (int)K);
    gemm_args(&a, alpha, A, lda, sa, B, ldb, sb, beta, C);
    mrg_cl_arg_long(&a, ldc);
    mrg_cl_arg_long(&a, sc);
    size_t wg_n = (size_t)(t->tile_n / t->wpt_n), wg_m = (size_t)(t->tile_m / t->wpt_m);
    size_t local[3] = {wg_n, wg_m, 1};
    size_t global[3] = {(size_t)((N + t->tile_n - 1) / t->tile_n) * wg_n,
                        (size_t)((M + t->tile_m - 1) / t->tile_m) * wg_m, (size_t)batch};
    return mrg_cl_enqueue(c, &a, 3, global, local, "gemm (tiled)");
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

    if (M == 1)
        return gemv(c, trans_a, trans_b, N, K, alpha, A, lda, stride_a, B, ldb, stride_b, beta, C,
                    stride_c, batch);
    if (B.dt == MRG_F32)
        return gemm_clblast(c, trans_a, trans_b, M, N, K, alpha, A, lda, stride_a, B, ldb,
                            stride_b, beta, C, ldc, stride_c, batch);
    return gemm_tiled(c, trans_a, trans_b, M, N, K, alpha, A, lda, stride_a, B, ldb, stride_b,
                      beta, C, ldc, stride_c, batch);
}

/* Element-wise CPU kernels: fill, convert, strided copy, broadcasting
 * binary ops, GELU/SiLU/scale and their derivatives. */
#include <math.h>

#include "cpu/cpu.h"

/* ---- dtype conversion ---------------------------------------------------- */

CPU_CLONES static void bf16_row(const uint16_t *src, float *dst, int64_t n) {
#pragma omp simd
    for (int64_t i = 0; i < n; i++) dst[i] = cpu_bf16_to_f32(src[i]);
}

CPU_CLONES static void f16_row(const uint16_t *src, float *dst, int64_t n) {
#pragma omp simd
    for (int64_t i = 0; i < n; i++) dst[i] = cpu_f16_to_f32(src[i]);
}

void cpu_to_f32(mrg_dtype dt, const void *src, float *dst, int64_t n) {
    switch (dt) {
    case MRG_BF16: bf16_row(src, dst, n); break;
    case MRG_F16: f16_row(src, dst, n); break;
    case MRG_I32:
        for (int64_t i = 0; i < n; i++) dst[i] = (float)((const int32_t *)src)[i];
        break;
    case MRG_F32:
        if ((const void *)dst != src) memmove(dst, src, (size_t)n * sizeof(float));
        break;
    }
}

/* ---- fill / convert ------------------------------------------------------- */

mrg_status cpu_fill(mrg_device *dev, mrg_ptr dst, int64_t n, float value) {
    (void)dev;
    mrg_status st = cpu_check("fill", "dst", dst, n, CPU_DT(MRG_F32) | CPU_DT(MRG_I32));
    if (st != MRG_OK) return st;
    if (dst.dt == MRG_I32) {
        int32_t *d = cpu_i32(dst), v = (int32_t)value;
#pragma omp parallel for if (n > 4 * CPU_PAR_MIN) schedule(static)
        for (int64_t i = 0; i < n; i++) d[i] = v;
    } else {
        float *d = cpu_f32(dst);
#pragma omp parallel for if (n > 4 * CPU_PAR_MIN) schedule(static)
        for (int64_t i = 0; i < n; i++) d[i] = value;
    }
    return MRG_OK;
}

mrg_status cpu_convert(mrg_device *dev, mrg_ptr src, mrg_ptr dst, int64_t n) {
    (void)dev;
    mrg_status st = cpu_check("convert", "src", src, n, CPU_FLOATS | CPU_DT(MRG_I32));
    if (st == MRG_OK) st = cpu_check("convert", "dst", dst, n, CPU_DT(MRG_F32));
    if (st != MRG_OK) return st;
    if (src.dt == MRG_F32) {
        cpu_to_f32(MRG_F32, cpu_f32(src), cpu_f32(dst), n);
        return MRG_OK;
    }
    /* blocks of 64 Ki elements: parallel and cache friendly */
    const int64_t blk = 65536;
    int64_t nblk = (n + blk - 1) / blk;
    const char *s = cpu_addr(src);
    float *d = cpu_f32(dst);
    size_t es = cpu_dtype_size(src.dt);
#pragma omp parallel for if (nblk > 1) schedule(static)
    for (int64_t b = 0; b < nblk; b++) {
        int64_t i0 = b * blk, len = n - i0 < blk ? n - i0 : blk;
        cpu_to_f32(src.dt, s + (size_t)i0 * es, d + i0, len);
    }
    return MRG_OK;
}

/* ---- strided iteration helpers ------------------------------------------- */

/* Drops size-1 axes and merges axis k into k+1 when every operand is
 * contiguous across the pair, so that most copies become a few long rows.
 * strides[s] are nops arrays of ndim strides; rewritten in place. Returns
 * the new ndim (>= 1). */
static int merge_axes(int ndim, int64_t *shape, int nops, int64_t strides[][MRG_MAX_DIMS]) {
    int m = 0;
    for (int k = 0; k < ndim; k++) {
        if (shape[k] == 1) continue;
        shape[m] = shape[k];
        for (int s = 0; s < nops; s++) strides[s][m] = strides[s][k];
        m++;
    }
    if (m == 0) {
        shape[0] = 1;
        for (int s = 0; s < nops; s++) strides[s][0] = 0;
        return 1;
    }
    int out = 0;
    for (int k = 1; k < m; k++) {
        bool mergeable = true;
        for (int s = 0; s < nops; s++)
            if (strides[s][out] != strides[s][k] * shape[k]) mergeable = false;
        if (mergeable) {
            shape[out] *= shape[k];
            for (int s = 0; s < nops; s++) strides[s][out] = strides[s][k];
        } else {
            out++;
            shape[out] = shape[k];
            for (int s = 0; s < nops; s++) strides[s][out] = strides[s][k];
        }
    }
    return out + 1;
}

/* Offset of operand s for outer row index `row` over axes [0, ndim − 1). */
static inline int64_t row_offset(int64_t row, int ndim, const int64_t *shape,
                                 const int64_t *stride) {
    int64_t off = 0;
    for (int k = ndim - 2; k >= 0; k--) {
        int64_t i = row % shape[k];
        row /= shape[k];
        off += i * stride[k];
    }
    return off;
}

/* A walk over a (src, dst) pair of strided views: the axes merged
 * (merge_axes), `rows` outer rows of `inner` elements each, ss and ds the
 * inner strides; row r starts at row_offset(r, nd, sh, str[0 or 1]). */
typedef struct pair_walk {
    int nd;
    int64_t sh[MRG_MAX_DIMS], str[2][MRG_MAX_DIMS];
    int64_t total, rows, inner, ss, ds;
} pair_walk;

/* Fills w; false when there is nothing to walk (a zero-size shape). */
static bool pair_walk_init(pair_walk *w, int ndim, const int64_t *shape,
                           const int64_t *src_stride, const int64_t *dst_stride) {
    w->total = 1;
    for (int k = 0; k < ndim; k++) {
        w->sh[k] = shape[k];
        w->str[0][k] = src_stride[k];
        w->str[1][k] = dst_stride[k];
        w->total *= shape[k];
    }
    if (w->total == 0) return false;
    w->nd = merge_axes(ndim, w->sh, 2, w->str);
    w->inner = w->sh[w->nd - 1];
    w->ss = w->str[0][w->nd - 1];
    w->ds = w->str[1][w->nd - 1];
    w->rows = w->total / w->inner;
    return true;
}

/* ---- copy_strided -------------------------------------------------------- */

/* d[i·ds] += s[i·ss], i < n */
CPU_CLONES_EXACT static void add_row(const float *s, int64_t ss, float *d, int64_t ds, int64_t n) {
    if (ss == 1 && ds == 1)
        for (int64_t i = 0; i < n; i++) d[i] += s[i];
    else
        for (int64_t i = 0; i < n; i++) d[i * ds] += s[i * ss];
}

/* d[i·ds] = s[i·ss], i < n (bit patterns: f32 and i32 alike) */
CPU_CLONES_EXACT static void copy_row(const uint32_t *s, int64_t ss, uint32_t *d, int64_t ds, int64_t n) {
    for (int64_t i = 0; i < n; i++) d[i * ds] = s[i * ss];
}

mrg_status cpu_copy_strided(mrg_device *dev, mrg_ptr src, mrg_ptr dst, int ndim,
                            const int64_t *shape, const int64_t *src_stride,
                            const int64_t *dst_stride, bool accumulate) {
    (void)dev;
    if (ndim < 1 || ndim > MRG_MAX_DIMS)
        return mrg_error(MRG_ERR_INVALID_ARG, "cpu copy_strided: ndim %d outside 1..%d", ndim,
                         MRG_MAX_DIMS);
    unsigned ok = accumulate ? CPU_DT(MRG_F32) : (CPU_DT(MRG_F32) | CPU_DT(MRG_I32));
    mrg_status st = cpu_check_strided("copy_strided", "src", src, ndim, shape, src_stride, ok);
    if (st == MRG_OK)
        st = cpu_check_strided("copy_strided", "dst", dst, ndim, shape, dst_stride, ok);
    if (st != MRG_OK) return st;
    if ((src.dt == MRG_I32) != (dst.dt == MRG_I32))
        return mrg_error(MRG_ERR_UNSUPPORTED, "cpu copy_strided: src and dst dtypes differ");

    /* a zero dst stride on a real axis means several elements land on one
     * destination: keep that sequential (and deterministic) */
    bool overlap = false;
    for (int k = 0; k < ndim; k++)
        if (shape[k] > 1 && dst_stride[k] == 0) overlap = true;
    pair_walk w;
    if (!pair_walk_init(&w, ndim, shape, src_stride, dst_stride)) return MRG_OK;
    const int64_t total = w.total, rows = w.rows, inner = w.inner, ss = w.ss, ds = w.ds;
    /* 4-byte dtypes: copy bit patterns through uint32 for i32 and f32 alike */
    const uint32_t *s = (const uint32_t *)src.buf->handle + src.off;
    uint32_t *d = (uint32_t *)dst.buf->handle + dst.off;
    const float *sf = (const float *)s;
    float *df = (float *)d;

#pragma omp parallel for if (!overlap && total > CPU_PAR_MIN && rows > 1) schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        int64_t so = row_offset(r, w.nd, w.sh, w.str[0]);
        int64_t doff = row_offset(r, w.nd, w.sh, w.str[1]);
        if (accumulate)
            add_row(sf + so, ss, df + doff, ds, inner);
        else if (ss == 1 && ds == 1)
            memcpy(d + doff, s + so, (size_t)inner * 4);
        else
            copy_row(s + so, ss, d + doff, ds, inner);
    }
    return MRG_OK;
}

/* ---- convert_strided ------------------------------------------------------ */

/* One element of a float dtype as f32, and an f32 stored rounded to
 * nearest even (mrg_f32_to_bf16 / mrg_f32_to_f16, as tensor uploads do). */
static inline float load_float(const void *base, int64_t i, mrg_dtype dt) {
    if (dt == MRG_BF16) return cpu_bf16_to_f32(((const uint16_t *)base)[i]);
    if (dt == MRG_F16) return cpu_f16_to_f32(((const uint16_t *)base)[i]);
    return ((const float *)base)[i];
}
static inline void store_float(void *base, int64_t i, mrg_dtype dt, float v) {
    if (dt == MRG_BF16)
        ((uint16_t *)base)[i] = mrg_f32_to_bf16(v);
    else if (dt == MRG_F16)
        ((uint16_t *)base)[i] = mrg_f32_to_f16(v);
    else
        ((float *)base)[i] = v;
}

mrg_status cpu_convert_strided(mrg_device *dev, mrg_ptr src, mrg_ptr dst, int ndim,
                               const int64_t *shape, const int64_t *src_stride,
                               const int64_t *dst_stride) {
    (void)dev;
    if (ndim < 1 || ndim > MRG_MAX_DIMS)
        return mrg_error(MRG_ERR_INVALID_ARG, "cpu convert_strided: ndim %d outside 1..%d", ndim,
                         MRG_MAX_DIMS);
    mrg_status st =
        cpu_check_strided("convert_strided", "src", src, ndim, shape, src_stride, CPU_FLOATS);
    if (st == MRG_OK)
        st = cpu_check_strided("convert_strided", "dst", dst, ndim, shape, dst_stride, CPU_FLOATS);
    if (st != MRG_OK) return st;
    pair_walk w;
    if (!pair_walk_init(&w, ndim, shape, src_stride, dst_stride)) return MRG_OK;
    const int64_t total = w.total, rows = w.rows, inner = w.inner, ss = w.ss, ds = w.ds;
    const void *s = cpu_addr(src);
    void *d = cpu_addr(dst);
#pragma omp parallel for if (total > CPU_PAR_MIN && rows > 1) schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        int64_t so = row_offset(r, w.nd, w.sh, w.str[0]);
        int64_t doff = row_offset(r, w.nd, w.sh, w.str[1]);
        for (int64_t i = 0; i < inner; i++)
            store_float(d, doff + i * ds, dst.dt, load_float(s, so + i * ss, src.dt));
    }
    return MRG_OK;
}

/* ---- binary -------------------------------------------------------------- */

/* out[0..n) = a[i·as] op b[i·bs]; the common stride patterns get their own
 * loops so they vectorise. */
#define BIN_LOOPS(EXPR)                                                        \
    do {                                                                       \
        if (as == 1 && bs == 1)                                                \
            for (int64_t i = 0; i < n; i++) {                                  \
                float x = a[i], y = b[i];                                      \
                o[i] = EXPR;                                                   \
            }                                                                  \
        else if (as == 1 && bs == 0)                                           \
            for (int64_t i = 0; i < n; i++) {                                  \
                float x = a[i], y = b[0];                                      \
                o[i] = EXPR;                                                   \
            }                                                                  \
        else if (as == 0 && bs == 1)                                           \
            for (int64_t i = 0; i < n; i++) {                                  \
                float x = a[0], y = b[i];                                      \
                o[i] = EXPR;                                                   \
            }                                                                  \
        else                                                                   \
            for (int64_t i = 0; i < n; i++) {                                  \
                float x = a[i * as], y = b[i * bs];                            \
                o[i] = EXPR;                                                   \
            }                                                                  \
    } while (0)

CPU_CLONES_EXACT static void bin_row(mrg_binop op, const float *a, int64_t as, const float *b, int64_t bs,
                    float *o, int64_t n) {
    switch (op) {
    case MRG_BIN_ADD: BIN_LOOPS(x + y); break;
    case MRG_BIN_SUB: BIN_LOOPS(x - y); break;
    case MRG_BIN_MUL: BIN_LOOPS(x * y); break;
    }
}

mrg_status cpu_binary(mrg_device *dev, mrg_binop op, mrg_ptr a, mrg_ptr b, mrg_ptr out,
                      int ndim, const int64_t *shape, const int64_t *a_stride,
                      const int64_t *b_stride) {
    (void)dev;
    if (ndim < 0 || ndim > MRG_MAX_DIMS)
        return mrg_error(MRG_ERR_INVALID_ARG, "cpu binary: ndim %d outside 0..%d", ndim,
                         MRG_MAX_DIMS);
    if (op != MRG_BIN_ADD && op != MRG_BIN_SUB && op != MRG_BIN_MUL)
        return mrg_error(MRG_ERR_UNSUPPORTED, "cpu binary: unknown op %d", (int)op);
    int64_t sh[MRG_MAX_DIMS], str[3][MRG_MAX_DIMS];
    int64_t total = 1;
    for (int k = ndim - 1; k >= 0; k--) {
        sh[k] = shape[k];
        str[0][k] = a_stride[k];
        str[1][k] = b_stride[k];
        str[2][k] = total; /* out is contiguous */
        total *= shape[k];
    }
    mrg_status st = cpu_check_strided("binary", "a", a, ndim, sh, str[0], CPU_DT(MRG_F32));
    if (st == MRG_OK) st = cpu_check_strided("binary", "b", b, ndim, sh, str[1], CPU_DT(MRG_F32));
    if (st == MRG_OK) st = cpu_check("binary", "out", out, total, CPU_DT(MRG_F32));
    if (st != MRG_OK) return st;
    if (total == 0) return MRG_OK;
    int nd = merge_axes(ndim, sh, 3, str);
    int64_t inner = sh[nd - 1], as = str[0][nd - 1], bs = str[1][nd - 1];
    int64_t rows = total / inner;
    const float *pa = cpu_f32(a), *pb = cpu_f32(b);
    float *po = cpu_f32(out);
    if (rows == 1) {
        /* one long row: split it into blocks for the threads */
        const int64_t blk = 16384;
        int64_t nblk = (inner + blk - 1) / blk;
#pragma omp parallel for if (nblk > 1) schedule(static)
        for (int64_t q = 0; q < nblk; q++) {
            int64_t i0 = q * blk, len = inner - i0 < blk ? inner - i0 : blk;
            bin_row(op, pa + i0 * as, as, pb + i0 * bs, bs, po + i0, len);
        }
        return MRG_OK;
    }
#pragma omp parallel for if (total > CPU_PAR_MIN) schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        int64_t ao = row_offset(r, nd, sh, str[0]), bo = row_offset(r, nd, sh, str[1]);
        bin_row(op, pa + ao, as, pb + bo, bs, po + r * inner, inner);
    }
    return MRG_OK;
}

/* ---- unary --------------------------------------------------------------- */


/* y[0..n) = x rounded to bf16, in a loop that vectorises */
CPU_CLONES static void round_bf16_run(const float *x, float *y, int64_t n) {
#pragma omp simd
    for (int64_t i = 0; i < n; i++) y[i] = cpu_round_bf16(x[i]);
}

mrg_status cpu_unary(mrg_device *dev, mrg_unop op, mrg_ptr x, mrg_ptr y, int64_t n,
                     float alpha) {
    (void)dev;
    mrg_status st = cpu_check("unary", "x", x, n, CPU_DT(MRG_F32));
    if (st == MRG_OK) st = cpu_check("unary", "y", y, n, CPU_DT(MRG_F32));
    if (st != MRG_OK) return st;
    const float *px = cpu_f32(x);
    float *py = cpu_f32(y);
    switch (op) {
    case MRG_UN_GELU:
    case MRG_UN_SILU:
        cpu_activation_forward(op, px, py, n);
        break;
    case MRG_UN_SCALE:
#pragma omp parallel for if (n > 4 * CPU_PAR_MIN) schedule(static)
        for (int64_t i = 0; i < n; i++) py[i] = alpha * px[i];
        break;
    case MRG_UN_ROUND_BF16: {
        /* in blocks, each through the vectorised loop */
        const int64_t blk = 16384, nblk = (n + blk - 1) / blk;
#pragma omp parallel for if (n > 4 * CPU_PAR_MIN) schedule(static)
        for (int64_t q = 0; q < nblk; q++) {
            int64_t i0 = q * blk;
            round_bf16_run(px + i0, py + i0, n - i0 < blk ? n - i0 : blk);
        }
        break;
    }
    default:
        return mrg_error(MRG_ERR_UNSUPPORTED, "cpu unary: unknown op %d", (int)op);
    }
    return MRG_OK;
}

mrg_status cpu_unary_backward(mrg_device *dev, mrg_unop op, mrg_ptr x, mrg_ptr dy, mrg_ptr dx,
                              int64_t n) {
    (void)dev;
    mrg_status st = CPU_CHECK_F32("unary_backward", {"x", x, n}, {"dy", dy, n}, {"dx", dx, n});
    if (st != MRG_OK) return st;
    const float *px = cpu_f32(x), *pdy = cpu_f32(dy);
    float *pdx = cpu_f32(dx);
    switch (op) {
    case MRG_UN_GELU:
    case MRG_UN_SILU:
        cpu_activation_backward(op, px, pdy, pdx, n);
        break;
    default:
        return mrg_error(MRG_ERR_UNSUPPORTED, "cpu unary_backward: op %d has no derivative",
                         (int)op);
    }
    return MRG_OK;
}

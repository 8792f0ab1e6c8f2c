/* LayerNorm, RMSNorm and L2 normalisation (forward and backward) on the CPU.
 * Row statistics are accumulated in double; parameter gradients are summed
 * over rows per column block, in row order, so they are deterministic. */
#include <math.h>
#include <stdlib.h>

#include "cpu/cpu.h"

/* Columns per task when summing parameter gradients over rows. */
#define COL_BLOCK 64

/* An optional per-column weight as f32: the buffer itself for f32, else a
 * converted copy in *tmp (freed by the caller). NULL when absent. */
static mrg_status weight_f32(const char *kernel, const char *name, mrg_ptr w, int64_t cols,
                             const float **out, float **tmp) {
    *out = NULL;
    *tmp = NULL;
    if (!cpu_present(w)) return MRG_OK;
    mrg_status st = cpu_check(kernel, name, w, cols, CPU_FLOATS);
    if (st != MRG_OK) return st;
    if (w.dt == MRG_F32) {
        *out = cpu_f32(w);
        return MRG_OK;
    }
    *tmp = malloc((size_t)(cols ? cols : 1) * sizeof(float));
    if (!*tmp) return mrg_error(MRG_ERR_OOM, "cpu %s: out of host memory", kernel);
    cpu_to_f32(w.dt, cpu_addr(w), *tmp, cols);
    *out = *tmp;
    return MRG_OK;
}

/* An optional f32 operand of n elements: NULL when absent. */
static mrg_status opt_f32(const char *kernel, const char *name, mrg_ptr p, int64_t n,
                          float **out) {
    *out = NULL;
    if (!cpu_present(p)) return MRG_OK;
    mrg_status st = cpu_check(kernel, name, p, n, CPU_DT(MRG_F32));
    if (st == MRG_OK) *out = cpu_f32(p);
    return st;
}

static mrg_status check_rc(const char *kernel, int64_t rows, int64_t cols) {
    if (rows < 0 || cols < 1)
        return mrg_error(MRG_ERR_INVALID_ARG, "cpu %s: bad size (%lld rows, %lld cols)", kernel,
                         (long long)rows, (long long)cols);
    return MRG_OK;
}

/* Σ x² over a row, in double. */
static double row_sumsq(const float *xr, int64_t cols) {
    double ss = 0.0;
    for (int64_t j = 0; j < cols; j++) ss += (double)xr[j] * xr[j];
    return ss;
}

/* Parameter gradients summed over rows, one block of columns per task in
 * row order (deterministic): dw[c] = Σ_rows dy·x̂ and db[c] = Σ_rows dy
 * (either may be NULL), x̂ = (x − mean[r])·rstd[r] (mean NULL: x·rstd[r]). */
static void affine_grads(const float *px, const float *pg, const float *pm, const float *pr,
                         float *pdw, float *pdb, int64_t rows, int64_t cols) {
    int64_t nblk = (cols + COL_BLOCK - 1) / COL_BLOCK;
#pragma omp parallel for if (rows * cols > CPU_PAR_MIN && nblk > 1) schedule(static)
    for (int64_t q = 0; q < nblk; q++) {
        int64_t c0 = q * COL_BLOCK, nc = cols - c0 < COL_BLOCK ? cols - c0 : COL_BLOCK;
        double aw[COL_BLOCK] = {0}, ab[COL_BLOCK] = {0};
        for (int64_t r = 0; r < rows; r++) {
            const float *xr = px + r * cols + c0, *gr = pg + r * cols + c0;
            float rs = pr[r];
            if (pm) {
                float mu = pm[r];
                for (int64_t j = 0; j < nc; j++) {
                    aw[j] += (double)(gr[j] * ((xr[j] - mu) * rs));
                    ab[j] += gr[j];
                }
            } else {
                for (int64_t j = 0; j < nc; j++) aw[j] += (double)(gr[j] * (xr[j] * rs));
            }
        }
        for (int64_t j = 0; j < nc; j++) {
            if (pdw) pdw[c0 + j] = (float)aw[j];
            if (pdb) pdb[c0 + j] = (float)ab[j];
        }
    }
}

/* ---- LayerNorm ------------------------------------------------------------ */

/* y = (x − mean)·rstd·w + b over one row (w, b may be NULL); the row's
 * statistics go to *mean and *rstd when not NULL. */
static void layernorm_row(const float *xr, float *yr, int64_t cols, const float *pw,
                          const float *pb, float eps, float *mean, float *rstd) {
    /* two passes: mean, then the biased variance around it (as torch) */
    double s = 0.0;
    for (int64_t j = 0; j < cols; j++) s += xr[j];
    double mu = s / (double)cols, v = 0.0;
    for (int64_t j = 0; j < cols; j++) {
        double d = (double)xr[j] - mu;
        v += d * d;
    }
    double rs = 1.0 / sqrt(v / (double)cols + (double)eps);
    float fmu = (float)mu, frs = (float)rs;
    for (int64_t j = 0; j < cols; j++) {
        float h = (xr[j] - fmu) * frs;
        if (pw) h *= pw[j];
        if (pb) h += pb[j];
        yr[j] = h;
    }
    if (mean) *mean = fmu;
    if (rstd) *rstd = frs;
}

mrg_status cpu_layernorm(mrg_device *dev, mrg_ptr x, mrg_ptr w, mrg_ptr b, mrg_ptr y,
                         mrg_ptr mean, mrg_ptr rstd, int64_t rows, int64_t cols, float eps) {
    (void)dev;
    const char *k = "layernorm";
    mrg_status st = check_rc(k, rows, cols);
    if (st == MRG_OK) st = CPU_CHECK_F32(k, {"x", x, rows * cols}, {"y", y, rows * cols});
    float *pm = NULL, *pr = NULL;
    if (st == MRG_OK) st = opt_f32(k, "mean", mean, rows, &pm);
    if (st == MRG_OK) st = opt_f32(k, "rstd", rstd, rows, &pr);
    const float *pw = NULL, *pb = NULL;
    float *tw = NULL, *tb = NULL;
    if (st == MRG_OK) st = weight_f32(k, "w", w, cols, &pw, &tw);
    if (st == MRG_OK) st = weight_f32(k, "b", b, cols, &pb, &tb);
    if (st != MRG_OK) {
        free(tw);
        return st;
    }
    const float *px = cpu_f32(x);
    float *py = cpu_f32(y);
#pragma omp parallel for if (rows * cols > CPU_PAR_MIN && rows > 1) schedule(static)
    for (int64_t r = 0; r < rows; r++)
        layernorm_row(px + r * cols, py + r * cols, cols, pw, pb, eps, pm ? pm + r : NULL,
                      pr ? pr + r : NULL);
    free(tw);
    free(tb);
    return MRG_OK;
}

mrg_status cpu_layernorm_backward(mrg_device *dev, mrg_ptr x, mrg_ptr w, mrg_ptr mean,
                                  mrg_ptr rstd, mrg_ptr dy, mrg_ptr dx, mrg_ptr dw, mrg_ptr db,
                                  int64_t rows, int64_t cols) {
    (void)dev;
    const char *k = "layernorm_backward";
    int64_t n = rows * cols;
    mrg_status st = check_rc(k, rows, cols);
    if (st == MRG_OK)
        st = CPU_CHECK_F32(k, {"x", x, n}, {"mean", mean, rows}, {"rstd", rstd, rows},
                           {"dy", dy, n});
    float *pdx = NULL, *pdw = NULL, *pdb = NULL;
    if (st == MRG_OK) st = opt_f32(k, "dx", dx, n, &pdx);
    if (st == MRG_OK) st = opt_f32(k, "dw", dw, cols, &pdw);
    if (st == MRG_OK) st = opt_f32(k, "db", db, cols, &pdb);
    const float *pw = NULL;
    float *tw = NULL;
    if (st == MRG_OK) st = weight_f32(k, "w", w, cols, &pw, &tw);
    if (st != MRG_OK) return st;
    const float *px = cpu_f32(x), *pm = cpu_f32(mean), *pr = cpu_f32(rstd), *pg = cpu_f32(dy);

    if (pdx) {
        /* g = dy·w, x̂ = (x − μ)·rstd:
         * dx = rstd·(g − mean(g) − x̂·mean(g·x̂)) */
#pragma omp parallel for if (n > CPU_PAR_MIN && rows > 1) schedule(static)
        for (int64_t r = 0; r < rows; r++) {
            const float *xr = px + r * cols, *gr = pg + r * cols;
            float *dr = pdx + r * cols;
            float mu = pm[r], rs = pr[r];
            double sg = 0.0, sgx = 0.0;
            for (int64_t j = 0; j < cols; j++) {
                float g = pw ? gr[j] * pw[j] : gr[j];
                float xh = (xr[j] - mu) * rs;
                sg += g;
                sgx += (double)g * xh;
            }
            float mg = (float)(sg / (double)cols), mgx = (float)(sgx / (double)cols);
            for (int64_t j = 0; j < cols; j++) {
                float g = pw ? gr[j] * pw[j] : gr[j];
                float xh = (xr[j] - mu) * rs;
                dr[j] = rs * (g - mg - xh * mgx);
            }
        }
    }
    if (pdw || pdb) affine_grads(px, pg, pm, pr, pdw, pdb, rows, cols);
    free(tw);
    return MRG_OK;
}

/* ---- RMSNorm ---------------------------------------------------------------- */

/* y = x·rstd·w over one row (w may be NULL); rstd to *rstd when not NULL. */
static void rmsnorm_row(const float *xr, float *yr, int64_t cols, const float *pw, float eps,
                        float *rstd) {
    float rs = (float)(1.0 / sqrt(row_sumsq(xr, cols) / (double)cols + (double)eps));
    for (int64_t j = 0; j < cols; j++) yr[j] = pw ? (xr[j] * rs) * pw[j] : xr[j] * rs;
    if (rstd) *rstd = rs;
}

mrg_status cpu_rmsnorm(mrg_device *dev, mrg_ptr x, mrg_ptr w, mrg_ptr y, mrg_ptr rstd,
                       int64_t rows, int64_t cols, float eps) {
    (void)dev;
    const char *k = "rmsnorm";
    mrg_status st = check_rc(k, rows, cols);
    if (st == MRG_OK) st = CPU_CHECK_F32(k, {"x", x, rows * cols}, {"y", y, rows * cols});
    float *pr = NULL;
    if (st == MRG_OK) st = opt_f32(k, "rstd", rstd, rows, &pr);
    const float *pw = NULL;
    float *tw = NULL;
    if (st == MRG_OK) st = weight_f32(k, "w", w, cols, &pw, &tw);
    if (st != MRG_OK) return st;
    const float *px = cpu_f32(x);
    float *py = cpu_f32(y);
#pragma omp parallel for if (rows * cols > CPU_PAR_MIN && rows > 1) schedule(static)
    for (int64_t r = 0; r < rows; r++)
        rmsnorm_row(px + r * cols, py + r * cols, cols, pw, eps, pr ? pr + r : NULL);
    free(tw);
    return MRG_OK;
}

mrg_status cpu_rmsnorm_backward(mrg_device *dev, mrg_ptr x, mrg_ptr w, mrg_ptr rstd, mrg_ptr dy,
                                mrg_ptr dx, mrg_ptr dw, int64_t rows, int64_t cols) {
    (void)dev;
    const char *k = "rmsnorm_backward";
    int64_t n = rows * cols;
    mrg_status st = check_rc(k, rows, cols);
    if (st == MRG_OK) st = CPU_CHECK_F32(k, {"x", x, n}, {"rstd", rstd, rows}, {"dy", dy, n});
    float *pdx = NULL, *pdw = NULL;
    if (st == MRG_OK) st = opt_f32(k, "dx", dx, n, &pdx);
    if (st == MRG_OK) st = opt_f32(k, "dw", dw, cols, &pdw);
    const float *pw = NULL;
    float *tw = NULL;
    if (st == MRG_OK) st = weight_f32(k, "w", w, cols, &pw, &tw);
    if (st != MRG_OK) return st;
    const float *px = cpu_f32(x), *pr = cpu_f32(rstd), *pg = cpu_f32(dy);
    if (pdx) {
        /* y = x·r·w with r = (mean(x²) + eps)^−½, g = dy·w:
         * dx = r·g − x·r³·mean(g·x) */
#pragma omp parallel for if (n > CPU_PAR_MIN && rows > 1) schedule(static)
        for (int64_t r = 0; r < rows; r++) {
            const float *xr = px + r * cols, *gr = pg + r * cols;
            float *dr = pdx + r * cols;
            float rs = pr[r];
            double sgx = 0.0;
            for (int64_t j = 0; j < cols; j++) {
                float g = pw ? gr[j] * pw[j] : gr[j];
                sgx += (double)g * xr[j];
            }
            float c = (float)((double)rs * rs * rs * sgx / (double)cols);
            for (int64_t j = 0; j < cols; j++) {
                float g = pw ? gr[j] * pw[j] : gr[j];
                dr[j] = rs * g - xr[j] * c;
            }
        }
    }
    if (pdw) affine_grads(px, pg, NULL, pr, pdw, NULL, rows, cols); /* dw = Σ_rows dy·x·r */
    free(tw);
    return MRG_OK;
}

/* ---- L2 normalisation --------------------------------------------------------- */

/* y = x / max(‖x‖, eps) over one row (as F.normalize); the divisor to *norm
 * when not NULL. */
static void l2norm_row(const float *xr, float *yr, int64_t cols, float eps, float *norm) {
    float nr = (float)sqrt(row_sumsq(xr, cols));
    if (!(nr > eps)) nr = eps;
    for (int64_t j = 0; j < cols; j++) yr[j] = xr[j] / nr;
    if (norm) *norm = nr;
}

mrg_status cpu_l2norm(mrg_device *dev, mrg_ptr x, mrg_ptr y, mrg_ptr norm, int64_t rows,
                      int64_t cols, float eps) {
    (void)dev;
    const char *k = "l2norm";
    mrg_status st = check_rc(k, rows, cols);
    if (st == MRG_OK) st = CPU_CHECK_F32(k, {"x", x, rows * cols}, {"y", y, rows * cols});
    float *pn = NULL;
    if (st == MRG_OK) st = opt_f32(k, "norm", norm, rows, &pn);
    if (st != MRG_OK) return st;
    const float *px = cpu_f32(x);
    float *py = cpu_f32(y);
#pragma omp parallel for if (rows * cols > CPU_PAR_MIN && rows > 1) schedule(static)
    for (int64_t r = 0; r < rows; r++)
        l2norm_row(px + r * cols, py + r * cols, cols, eps, pn ? pn + r : NULL);
    return MRG_OK;
}

mrg_status cpu_l2norm_backward(mrg_device *dev, mrg_ptr x, mrg_ptr y, mrg_ptr norm, mrg_ptr dy,
                               mrg_ptr dx, int64_t rows, int64_t cols, float eps) {
    (void)dev;
    const char *k = "l2norm_backward";
    int64_t n = rows * cols;
    mrg_status st = check_rc(k, rows, cols);
    if (st == MRG_OK)
        st = CPU_CHECK_F32(k, {"x", x, n}, {"y", y, n}, {"norm", norm, rows}, {"dy", dy, n},
                           {"dx", dx, n});
    if (st != MRG_OK) return st;
    const float *py = cpu_f32(y), *pn = cpu_f32(norm), *pg = cpu_f32(dy);
    float *pdx = cpu_f32(dx);
#pragma omp parallel for if (n > CPU_PAR_MIN && rows > 1) schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        const float *yr = py + r * cols, *gr = pg + r * cols;
        float *dr = pdx + r * cols;
        float nr = pn[r];
        if (nr > eps) {
            /* y = x/‖x‖: dx = (dy − y·Σ dy·y)/‖x‖ */
            double s = 0.0;
            for (int64_t j = 0; j < cols; j++) s += (double)gr[j] * yr[j];
            float fs = (float)s;
            for (int64_t j = 0; j < cols; j++) dr[j] = (gr[j] - yr[j] * fs) / nr;
        } else {
            /* the clamp is active: y = x/eps */
            for (int64_t j = 0; j < cols; j++) dr[j] = gr[j] / eps;
        }
    }
    return MRG_OK;
}

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

/* Rows whose statistics are summed side by side: each row's sum still runs
 * over its columns in order (the same bits as one row at a time), but
 * ROW_GROUP independent chains of double additions hide the latency that a
 * single chain waits on (and vectorise across the rows in the AVX2 clone). */
#define ROW_GROUP 4

/* The row in place k of the group r0 .. r0 + nr − 1 (nr <= ROW_GROUP),
 * padded to ROW_GROUP by repeating the last one (its sums are computed and
 * dropped, so that one loop serves every group). */
static inline int64_t group_row(int64_t r0, int64_t nr, int k) { return r0 + (k < nr ? k : nr - 1); }

/* The rows of a group in a rows × cols matrix (see group_row) */
static inline void group_rows(const float *m, int64_t r0, int64_t nr, int64_t cols,
                              const float *row[ROW_GROUP]) {
    for (int k = 0; k < ROW_GROUP; k++) row[k] = m + group_row(r0, nr, k) * cols;
}

/* The loop over groups of rows that the row kernels share: BODY sees r0 and
 * nr (the group's first row and its size); in parallel when big (the
 * kernel's size test) and there is more than one group. */
#define FOR_ROW_GROUPS(rows, big, BODY)                                                            \
    do {                                                                                           \
        int64_t ngroups_ = ((rows) + ROW_GROUP - 1) / ROW_GROUP;                                   \
        bool par_ = (big) && ngroups_ > 1;                                                         \
        _Pragma("omp parallel for if (par_) schedule(static)")                                     \
        for (int64_t g_ = 0; g_ < ngroups_; g_++) {                                                \
            int64_t r0 = g_ * ROW_GROUP, nr = (rows) - r0 < ROW_GROUP ? (rows) - r0 : ROW_GROUP;   \
            BODY;                                                                                  \
        }                                                                                          \
    } while (0)

/* ss[k] = Σ_j x_k[j]², in double, for the rows of a group */
static inline void group_sumsq(const float *const row[ROW_GROUP], int64_t cols, double ss[ROW_GROUP]) {
    for (int k = 0; k < ROW_GROUP; k++) ss[k] = 0.0;
    for (int64_t j = 0; j < cols; j++)
        for (int k = 0; k < ROW_GROUP; k++) ss[k] += (double)row[k][j] * row[k][j];
}

/* Parameter gradients summed over rows, one block of columns per task in
 * row order (deterministic): dw[c] = Σ_rows dy·x̂ and db[c] = Σ_rows dy
 * (either may be NULL), x̂ = (x − mean[r])·rstd[r] (mean NULL: x·rstd[r]). */
CPU_CLONES_EXACT static void affine_block(const float *px, const float *pg, const float *pm, const float *pr,
                                          float *pdw, float *pdb, int64_t rows, int64_t cols, int64_t c0,
                                          int64_t nc) {
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

static void affine_grads(const float *px, const float *pg, const float *pm, const float *pr,
                         float *pdw, float *pdb, int64_t rows, int64_t cols) {
    int64_t nblk = (cols + COL_BLOCK - 1) / COL_BLOCK;
#pragma omp parallel for if (rows * cols > CPU_PAR_MIN && nblk > 1) schedule(static)
    for (int64_t q = 0; q < nblk; q++) {
        int64_t c0 = q * COL_BLOCK, nc = cols - c0 < COL_BLOCK ? cols - c0 : COL_BLOCK;
        affine_block(px, pg, pm, pr, pdw, pdb, rows, cols, c0, nc);
    }
}

/* ---- LayerNorm ------------------------------------------------------------ */

/* y = (x − mean)·rstd·w + b over the rows r0 .. r0 + nr − 1 (w, b may be
 * NULL); the rows' statistics to mean[r] and rstd[r] when not NULL. */
CPU_CLONES_EXACT static void layernorm_rows(const float *x, float *y, int64_t r0, int64_t nr, int64_t cols,
                                            const float *pw, const float *pb, float eps, float *mean,
                                            float *rstd) {
    const float *row[ROW_GROUP];
    group_rows(x, r0, nr, cols, row);
    /* two passes: mean, then the biased variance around it (as torch) */
    double s[ROW_GROUP] = {0}, mu[ROW_GROUP], v[ROW_GROUP] = {0};
    for (int64_t j = 0; j < cols; j++)
        for (int k = 0; k < ROW_GROUP; k++) s[k] += row[k][j];
    for (int k = 0; k < ROW_GROUP; k++) mu[k] = s[k] / (double)cols;
    for (int64_t j = 0; j < cols; j++)
        for (int k = 0; k < ROW_GROUP; k++) {
            double d = (double)row[k][j] - mu[k];
            v[k] += d * d;
        }
    for (int k = 0; k < nr; k++) {
        double rs = 1.0 / sqrt(v[k] / (double)cols + (double)eps);
        float fmu = (float)mu[k], frs = (float)rs;
        const float *xr = row[k];
        float *yr = y + (r0 + k) * cols;
        /* (x − μ)·rstd, then ·w, then +b: each rounded as in one expression */
        for (int64_t j = 0; j < cols; j++) yr[j] = (xr[j] - fmu) * frs;
        if (pw)
            for (int64_t j = 0; j < cols; j++) yr[j] *= pw[j];
        if (pb)
            for (int64_t j = 0; j < cols; j++) yr[j] += pb[j];
        if (mean) mean[r0 + k] = fmu;
        if (rstd) rstd[r0 + k] = frs;
    }
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
    FOR_ROW_GROUPS(rows, rows * cols > CPU_PAR_MIN,
                   layernorm_rows(px, py, r0, nr, cols, pw, pb, eps, pm, pr));
    free(tw);
    free(tb);
    return MRG_OK;
}

/* dx over the rows r0 .. r0 + nr − 1: with g = dy·w, x̂ = (x − μ)·rstd,
 * dx = rstd·(g − mean(g) − x̂·mean(g·x̂)) */
CPU_CLONES_EXACT static void layernorm_dx_rows(const float *x, const float *dy, const float *pw,
                                               const float *mean, const float *rstd, float *dx, int64_t r0,
                                               int64_t nr, int64_t cols) {
    const float *xr[ROW_GROUP], *gr[ROW_GROUP];
    group_rows(x, r0, nr, cols, xr);
    group_rows(dy, r0, nr, cols, gr);
    float mu[ROW_GROUP], rs[ROW_GROUP];
    for (int k = 0; k < ROW_GROUP; k++) {
        mu[k] = mean[group_row(r0, nr, k)];
        rs[k] = rstd[group_row(r0, nr, k)];
    }
    double sg[ROW_GROUP] = {0}, sgx[ROW_GROUP] = {0};
    for (int64_t j = 0; j < cols; j++)
        for (int k = 0; k < ROW_GROUP; k++) {
            float g = pw ? gr[k][j] * pw[j] : gr[k][j];
            float xh = (xr[k][j] - mu[k]) * rs[k];
            sg[k] += g;
            sgx[k] += (double)g * xh;
        }
    for (int k = 0; k < nr; k++) {
        float mg = (float)(sg[k] / (double)cols), mgx = (float)(sgx[k] / (double)cols);
        float *dr = dx + (r0 + k) * cols;
        const float *xk = xr[k], *gk = gr[k];
        float m = mu[k], r = rs[k];
        if (pw)
            for (int64_t j = 0; j < cols; j++) dr[j] = r * (gk[j] * pw[j] - mg - (xk[j] - m) * r * mgx);
        else
            for (int64_t j = 0; j < cols; j++) dr[j] = r * (gk[j] - mg - (xk[j] - m) * r * mgx);
    }
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
        FOR_ROW_GROUPS(rows, n > CPU_PAR_MIN,
                       layernorm_dx_rows(px, pg, pw, pm, pr, pdx, r0, nr, cols));
    }
    if (pdw || pdb) affine_grads(px, pg, pm, pr, pdw, pdb, rows, cols);
    free(tw);
    return MRG_OK;
}

/* ---- RMSNorm ---------------------------------------------------------------- */

/* y = x·rstd·w over the rows r0 .. r0 + nr − 1 (w may be NULL); rstd[r] when
 * not NULL. */
CPU_CLONES_EXACT static void rmsnorm_rows(const float *x, float *y, int64_t r0, int64_t nr, int64_t cols,
                                          const float *pw, float eps, float *rstd) {
    const float *row[ROW_GROUP];
    group_rows(x, r0, nr, cols, row);
    double ss[ROW_GROUP];
    group_sumsq(row, cols, ss);
    for (int k = 0; k < nr; k++) {
        float rs = (float)(1.0 / sqrt(ss[k] / (double)cols + (double)eps));
        const float *xr = row[k];
        float *yr = y + (r0 + k) * cols;
        if (pw)
            for (int64_t j = 0; j < cols; j++) yr[j] = (xr[j] * rs) * pw[j];
        else
            for (int64_t j = 0; j < cols; j++) yr[j] = xr[j] * rs;
        if (rstd) rstd[r0 + k] = rs;
    }
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
    FOR_ROW_GROUPS(rows, rows * cols > CPU_PAR_MIN,
                   rmsnorm_rows(px, py, r0, nr, cols, pw, eps, pr));
    free(tw);
    return MRG_OK;
}

/* dx over the rows r0 .. r0 + nr − 1: with y = x·r·w, r = (mean(x²) +
 * eps)^−½, g = dy·w: dx = r·g − x·r³·mean(g·x) */
CPU_CLONES_EXACT static void rmsnorm_dx_rows(const float *x, const float *dy, const float *pw, const float *rstd,
                                             float *dx, int64_t r0, int64_t nr, int64_t cols) {
    const float *xr[ROW_GROUP], *gr[ROW_GROUP];
    group_rows(x, r0, nr, cols, xr);
    group_rows(dy, r0, nr, cols, gr);
    double sgx[ROW_GROUP] = {0};
    for (int64_t j = 0; j < cols; j++)
        for (int k = 0; k < ROW_GROUP; k++) {
            float g = pw ? gr[k][j] * pw[j] : gr[k][j];
            sgx[k] += (double)g * xr[k][j];
        }
    for (int k = 0; k < nr; k++) {
        float rs = rstd[r0 + k];
        float c = (float)((double)rs * rs * rs * sgx[k] / (double)cols);
        float *dr = dx + (r0 + k) * cols;
        const float *xk = xr[k], *gk = gr[k];
        if (pw)
            for (int64_t j = 0; j < cols; j++) dr[j] = rs * (gk[j] * pw[j]) - xk[j] * c;
        else
            for (int64_t j = 0; j < cols; j++) dr[j] = rs * gk[j] - xk[j] * c;
    }
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
        FOR_ROW_GROUPS(rows, n > CPU_PAR_MIN,
                       rmsnorm_dx_rows(px, pg, pw, pr, pdx, r0, nr, cols));
    }
    if (pdw) affine_grads(px, pg, NULL, pr, pdw, NULL, rows, cols); /* dw = Σ_rows dy·x·r */
    free(tw);
    return MRG_OK;
}

/* ---- L2 normalisation --------------------------------------------------------- */

/* y = x / max(‖x‖, eps) over the rows r0 .. r0 + nr − 1 (as F.normalize);
 * the divisor to norm[r] when not NULL. */
CPU_CLONES_EXACT static void l2norm_rows(const float *x, float *y, int64_t r0, int64_t nr, int64_t cols,
                                         float eps, float *norm) {
    const float *row[ROW_GROUP];
    group_rows(x, r0, nr, cols, row);
    double ss[ROW_GROUP];
    group_sumsq(row, cols, ss);
    for (int k = 0; k < nr; k++) {
        float nrm = (float)sqrt(ss[k]);
        if (!(nrm > eps)) nrm = eps;
        const float *xr = row[k];
        float *yr = y + (r0 + k) * cols;
        for (int64_t j = 0; j < cols; j++) yr[j] = xr[j] / nrm;
        if (norm) norm[r0 + k] = nrm;
    }
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
    FOR_ROW_GROUPS(rows, rows * cols > CPU_PAR_MIN,
                   l2norm_rows(px, py, r0, nr, cols, eps, pn));
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

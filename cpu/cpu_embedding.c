/* Embedding lookup and its deterministic backward on the CPU. */
#include "cpu/cpu.h"

mrg_status cpu_embedding(mrg_device *dev, mrg_ptr w, mrg_ptr ids, mrg_ptr out, int64_t n,
                         int64_t D, int64_t V) {
    (void)dev;
    if (n < 0 || D < 1 || V < 0)
        return mrg_error(MRG_ERR_INVALID_ARG, "cpu embedding: bad size");
    mrg_status st = cpu_check("embedding", "w", w, V * D, CPU_FLOATS);
    if (st == MRG_OK) st = cpu_check("embedding", "ids", ids, n, CPU_DT(MRG_I32));
    if (st == MRG_OK) st = cpu_check("embedding", "out", out, n * D, CPU_DT(MRG_F32));
    if (st != MRG_OK) return st;
    const int32_t *pid = cpu_i32(ids);
    const char *pw = cpu_addr(w);
    size_t es = cpu_dtype_size(w.dt);
    float *po = cpu_f32(out);
#pragma omp parallel for if (n * D > CPU_PAR_MIN && n > 1) schedule(static)
    for (int64_t i = 0; i < n; i++) {
        int64_t id = pid[i];
        if (id < 0 || id >= V)
            memset(po + i * D, 0, (size_t)D * sizeof(float));
        else
            cpu_to_f32(w.dt, pw + (size_t)(id * D) * es, po + i * D, D);
    }
    return MRG_OK;
}

/* Columns per task: every task walks all ids in order, so repeated ids add
 * up in the same order whatever the thread count. */
#define EMB_COL_BLOCK 32

mrg_status cpu_embedding_backward(mrg_device *dev, mrg_ptr dy, mrg_ptr ids, mrg_ptr dw,
                                  int64_t n, int64_t D, int64_t V) {
    (void)dev;
    if (n < 0 || D < 1 || V < 0)
        return mrg_error(MRG_ERR_INVALID_ARG, "cpu embedding_backward: bad size");
    mrg_status st = cpu_check("embedding_backward", "dy", dy, n * D, CPU_DT(MRG_F32));
    if (st == MRG_OK) st = cpu_check("embedding_backward", "ids", ids, n, CPU_DT(MRG_I32));
    if (st == MRG_OK) st = cpu_check("embedding_backward", "dw", dw, V * D, CPU_DT(MRG_F32));
    if (st != MRG_OK) return st;
    const int32_t *pid = cpu_i32(ids);
    const float *pg = cpu_f32(dy);
    float *pw = cpu_f32(dw);
    int64_t nblk = (D + EMB_COL_BLOCK - 1) / EMB_COL_BLOCK;
#pragma omp parallel for if (n * D > CPU_PAR_MIN && nblk > 1) schedule(static)
    for (int64_t q = 0; q < nblk; q++) {
        int64_t d0 = q * EMB_COL_BLOCK, nd = D - d0 < EMB_COL_BLOCK ? D - d0 : EMB_COL_BLOCK;
        for (int64_t i = 0; i < n; i++) {
            int64_t id = pid[i];
            if (id < 0 || id >= V) continue; /* its forward row was zero */
            float *wr = pw + id * D + d0;
            const float *gr = pg + i * D + d0;
            for (int64_t j = 0; j < nd; j++) wr[j] += gr[j];
        }
    }
    return MRG_OK;
}

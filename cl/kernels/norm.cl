/* LayerNorm, RMSNorm and L2 normalisation: one work-group of RED_WG items
 * per row, local-memory tree reductions (wg_sum in common.cl). */

/* y = (x − mean)·rstd·w + b (w, b optional); writes mean and rstd. */
kernel void layernorm_rows(global const float *x, ulong xoff, global const float *w, ulong woff,
                           global const float *b, ulong boff, global float *y, ulong yoff,
                           global float *mean, ulong moff, global float *rstd, ulong roff,
                           long cols, float eps, int has_w, int has_b) {
    local float s[RED_WG];
    const long row = get_group_id(0);
    const int l = get_local_id(0);
    global const float *xr = x + xoff + row * cols;
    global float *yr = y + yoff + row * cols;
    float acc = 0.0f;
    for (long j = l; j < cols; j += RED_WG) acc += xr[j];
    const float mu = wg_sum(acc, s) / (float)cols;
    acc = 0.0f;
    for (long j = l; j < cols; j += RED_WG) {
        float d = xr[j] - mu;
        acc += d * d;
    }
    const float r = 1.0f / sqrt(wg_sum(acc, s) / (float)cols + eps);
    for (long j = l; j < cols; j += RED_WG) {
        float v = (xr[j] - mu) * r;
        if (has_w) v *= w[woff + j];
        if (has_b) v += b[boff + j];
        yr[j] = v;
    }
    if (l == 0) {
        mean[moff + row] = mu;
        rstd[roff + row] = r;
    }
}

/* dx = rstd·(g − mean(g) − x̂·mean(g·x̂)) with g = dy·w, x̂ = (x − mean)·rstd. */
kernel void layernorm_backward_rows(global const float *x, ulong xoff, global const float *w,
                                    ulong woff, global const float *mean, ulong moff,
                                    global const float *rstd, ulong roff, global const float *dy,
                                    ulong dyoff, global float *dx, ulong dxoff, long cols,
                                    int has_w) {
    local float s[RED_WG];
    const long row = get_group_id(0);
    const int l = get_local_id(0);
    global const float *xr = x + xoff + row * cols;
    global const float *gr = dy + dyoff + row * cols;
    global float *dr = dx + dxoff + row * cols;
    const float mu = mean[moff + row], r = rstd[roff + row];
    float s1 = 0.0f, s2 = 0.0f;
    for (long j = l; j < cols; j += RED_WG) {
        float g = gr[j] * (has_w ? w[woff + j] : 1.0f);
        s1 += g;
        s2 += g * (xr[j] - mu) * r;
    }
    s1 = wg_sum(s1, s) / (float)cols;
    s2 = wg_sum(s2, s) / (float)cols;
    for (long j = l; j < cols; j += RED_WG) {
        float g = gr[j] * (has_w ? w[woff + j] : 1.0f);
        dr[j] = r * (g - s1 - (xr[j] - mu) * r * s2);
    }
}

/* Affine gradients, pass 1 (reduce.cl's column-sum scheme): item (c, p)
 * adds the rows of block p (COL_BLOCK rows, in order) of
 *   dw[c] = Σ_r dy·(x − mean)·rstd,  db[c] = Σ_r dy
 * into pw[p·cols + c] and pb[p·cols + c]; colsum_finish adds the blocks.
 * RMSNorm passes has_mean = 0 (x̂ = x·rstd). Dimensions (cols, nparts). */
kernel void norm_affine_partial(global const float *x, ulong xoff, global const float *mean,
                                ulong moff, global const float *rstd, ulong roff,
                                global const float *dy, ulong dyoff, global float *pw,
                                ulong pwoff, global float *pb, ulong pboff, long rows,
                                long cols, int has_mean, int has_dw, int has_db) {
    const long c = get_global_id(0), p = get_global_id(1);
    if (c >= cols) return;
    const long r0 = p * COL_BLOCK, r1 = min(rows, r0 + COL_BLOCK);
    float aw = 0.0f, ab = 0.0f;
    for (long r = r0; r < r1; r++) {
        float g = dy[dyoff + r * cols + c];
        float mu = has_mean ? mean[moff + r] : 0.0f;
        aw += g * (x[xoff + r * cols + c] - mu) * rstd[roff + r];
        ab += g;
    }
    if (has_dw) pw[pwoff + p * cols + c] = aw;
    if (has_db) pb[pboff + p * cols + c] = ab;
}

/* y = x·rstd·w, rstd = 1/sqrt(mean(x²) + eps); w of dtype wdt, optional. */
kernel void rmsnorm_rows(global const float *x, ulong xoff, global const uchar *w, ulong woff,
                         int wdt, global float *y, ulong yoff, global float *rstd, ulong roff,
                         long cols, float eps, int has_w) {
    local float s[RED_WG];
    const long row = get_group_id(0);
    const int l = get_local_id(0);
    global const float *xr = x + xoff + row * cols;
    global float *yr = y + yoff + row * cols;
    float acc = 0.0f;
    for (long j = l; j < cols; j += RED_WG) acc += xr[j] * xr[j];
    const float r = 1.0f / sqrt(wg_sum(acc, s) / (float)cols + eps);
    for (long j = l; j < cols; j += RED_WG)
        yr[j] = xr[j] * r * (has_w ? ld_any(w, woff + j, wdt) : 1.0f);
    if (l == 0) rstd[roff + row] = r;
}

/* dx = rstd·(g − x̂·mean(g·x̂)) with g = dy·w, x̂ = x·rstd. */
kernel void rmsnorm_backward_rows(global const float *x, ulong xoff, global const uchar *w,
                                  ulong woff, int wdt, global const float *rstd, ulong roff,
                                  global const float *dy, ulong dyoff, global float *dx,
                                  ulong dxoff, long cols, int has_w) {
    local float s[RED_WG];
    const long row = get_group_id(0);
    const int l = get_local_id(0);
    global const float *xr = x + xoff + row * cols;
    global const float *gr = dy + dyoff + row * cols;
    global float *dr = dx + dxoff + row * cols;
    const float r = rstd[roff + row];
    float acc = 0.0f;
    for (long j = l; j < cols; j += RED_WG)
        acc += gr[j] * (has_w ? ld_any(w, woff + j, wdt) : 1.0f) * xr[j] * r;
    acc = wg_sum(acc, s) / (float)cols;
    for (long j = l; j < cols; j += RED_WG) {
        float g = gr[j] * (has_w ? ld_any(w, woff + j, wdt) : 1.0f);
        dr[j] = r * (g - xr[j] * r * acc);
    }
}

/* y = x / max(‖x‖, eps); norm = max(‖x‖, eps). */
kernel void l2norm_rows(global const float *x, ulong xoff, global float *y, ulong yoff,
                        global float *norm, ulong noff, long cols, float eps) {
    local float s[RED_WG];
    const long row = get_group_id(0);
    const int l = get_local_id(0);
    global const float *xr = x + xoff + row * cols;
    global float *yr = y + yoff + row * cols;
    float acc = 0.0f;
    for (long j = l; j < cols; j += RED_WG) acc += xr[j] * xr[j];
    const float nv = fmax(sqrt(wg_sum(acc, s)), eps);
    for (long j = l; j < cols; j += RED_WG) yr[j] = xr[j] / nv;
    if (l == 0) norm[noff + row] = nv;
}

/* dx = (dy − y·Σ dy·y)/norm where ‖x‖ > eps (norm > eps), else dy/eps. */
kernel void l2norm_backward_rows(global const float *y, ulong yoff, global const float *norm,
                                 ulong noff, global const float *dy, ulong dyoff,
                                 global float *dx, ulong dxoff, long cols, float eps) {
    local float s[RED_WG];
    const long row = get_group_id(0);
    const int l = get_local_id(0);
    global const float *yr = y + yoff + row * cols;
    global const float *gr = dy + dyoff + row * cols;
    global float *dr = dx + dxoff + row * cols;
    const float nv = norm[noff + row];
    float acc = 0.0f;
    for (long j = l; j < cols; j += RED_WG) acc += gr[j] * yr[j];
    acc = wg_sum(acc, s);
    if (nv > eps)
        for (long j = l; j < cols; j += RED_WG) dr[j] = (gr[j] - yr[j] * acc) / nv;
    else
        for (long j = l; j < cols; j += RED_WG) dr[j] = gr[j] / eps;
}

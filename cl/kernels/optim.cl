/* AdamW and gradient clipping, all on the device: the clip scale is
 * computed by kernels, never on the host. */

/* PyTorch AdamW (decoupled weight decay), bias corrections from the host. */
kernel void adamw(global float *p, ulong poff, global const float *g, ulong goff,
                  global float *m, ulong moff, global float *v, ulong voff, ulong n, float lr,
                  float b1, float b2, float eps, float wd, float bc1, float bc2) {
    GRID_LOOP(i, n) {
        float pi = p[poff + i], gi = g[goff + i];
        pi -= lr * wd * pi;
        float mi = b1 * m[moff + i] + (1.0f - b1) * gi;
        float vi = b2 * v[voff + i] + (1.0f - b2) * gi * gi;
        pi -= lr * (mi / bc1) / (sqrt(vi / bc2) + eps);
        p[poff + i] = pi;
        m[moff + i] = mi;
        v[voff + i] = vi;
    }
}

/* Stage 1 of Σ x²: each work-group writes one partial sum (fixed geometry,
 * so the order of additions is the same every run). */
kernel void sumsq_partial(global const float *x, ulong xoff, ulong n, global float *part) {
    local float s[RED_WG];
    float acc = 0.0f;
    GRID_LOOP(i, n) {
        float v = x[xoff + i];
        acc += v * v;
    }
    acc = wg_sum(acc, s);
    if (get_local_id(0) == 0) part[get_group_id(0)] = acc;
}

/* Stage 2, one work-group: acc[0] += Σ partials. */
kernel void sumsq_finish(global const float *part, int nparts, global float *acc, ulong aoff) {
    local float s[RED_WG];
    const int l = get_local_id(0);
    float a = 0.0f;
    for (int i = l; i < nparts; i += RED_WG) a += part[i];
    a = wg_sum(a, s);
    if (l == 0) acc[aoff] += a;
}

/* x *= min(1, max_norm / (sqrt(sumsq[0]) + 1e-6)), the scale read on the device. */
kernel void clip_scale(global const float *sumsq, ulong soff, global float *x, ulong xoff,
                       ulong n, float max_norm) {
    const float sc = fmin(1.0f, max_norm / (sqrt(sumsq[soff]) + 1e-6f));
    GRID_LOOP(i, n) x[xoff + i] *= sc;
}

/* RoPE, embedding lookup and its backward, axis sums. */

/* x (outer, T, H, D) → y, one item per rotated pair. Pair i < D/2 of the
 * vector at (o, t, h) turns by (pos0 + t)·theta^(−2i/D); layout 0 pairs
 * (i, i + D/2) (Hugging Face), 1 pairs (2i, 2i + 1) (Meta). inverse turns
 * by the negated angle. x, y may alias: each item reads its pair first. */
kernel void rope(global const float *x, ulong xoff, global float *y, ulong yoff, long T,
                 long H, int D, long pos0, float theta, int layout, int inverse, ulong npairs) {
    const int hd = D / 2;
    GRID_LOOP(p, npairs) {
        const ulong vec = p / hd;
        const int i = (int)(p % hd);
        const long t = (long)((vec / (ulong)H) % (ulong)T);
        const float freq = pow(theta, -(float)(2 * i) / (float)D);
        const float ang = (float)(pos0 + t) * freq;
        float c = cos(ang), s = sin(ang);
        if (inverse) s = -s;
        const ulong base = vec * D;
        const ulong i0 = base + (layout ? 2 * i : i);
        const ulong i1 = base + (layout ? 2 * i + 1 : i + hd);
        const float a = x[xoff + i0], b = x[xoff + i1];
        y[yoff + i0] = a * c - b * s;
        y[yoff + i1] = a * s + b * c;
    }
}

/* out (n, D) = w[ids[i]] (w of dtype wdt); ids outside [0, V) give zeros. */
kernel void embedding(global const uchar *w, ulong woff, int wdt, global const int *ids,
                      ulong ioff, global float *out, ulong ooff, long D, long V, ulong total) {
    GRID_LOOP(e, total) {
        const ulong i = e / (ulong)D, d = e % (ulong)D;
        const int id = ids[ioff + i];
        out[ooff + e] = (id >= 0 && id < V) ? ld_any(w, woff + (ulong)id * D + d, wdt) : 0.0f;
    }
}

/* dw (V, D) += dy (n, D) at ids: one item per column d walks the ids in
 * order, so repeated ids add in a fixed order (deterministic, no atomics). */
kernel void embedding_backward(global const float *dy, ulong dyoff, global const int *ids,
                               ulong ioff, global float *dw, ulong dwoff, long n, long D, long V) {
    GRID_LOOP(d, D) {
        for (long i = 0; i < n; i++) {
            const int id = ids[ioff + i];
            if (id >= 0 && id < V) dw[dwoff + (ulong)id * D + d] += dy[dyoff + i * D + d];
        }
    }
}

/* y[o, i] = scale·Σ_j x[o, j, i], one item per output (inner > 1). */
kernel void reduce_sum_cols(global const float *x, ulong xoff, global float *y, ulong yoff,
                            long n, long inner, float scale, ulong total) {
    GRID_LOOP(e, total) {
        const ulong o = e / (ulong)inner, i = e % (ulong)inner;
        global const float *xo = x + xoff + o * (ulong)(n * inner) + i;
        float acc = 0.0f;
        for (long j = 0; j < n; j++) acc += xo[j * inner];
        y[yoff + e] = scale * acc;
    }
}

/* inner == 1: one work-group per output row. */
kernel void reduce_sum_rows(global const float *x, ulong xoff, global float *y, ulong yoff,
                            long n, float scale) {
    local float s[RED_WG];
    const long o = get_group_id(0);
    const int l = get_local_id(0);
    global const float *xo = x + xoff + o * n;
    float acc = 0.0f;
    for (long j = l; j < n; j += RED_WG) acc += xo[j];
    acc = wg_sum(acc, s);
    if (l == 0) y[yoff + o] = scale * acc;
}

/* Axis sums. */

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

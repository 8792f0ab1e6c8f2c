/* Axis sums.
 *
 * Column sums (a sum over the rows of every column) run in two passes with
 * a partition fixed by COL_BLOCK alone, never by the device or its
 * work-group size, so every device and every run adds in the same order:
 *   pass 1  one item per (column, block of COL_BLOCK rows) adds its block
 *           in row order into a partial sum (coalesced: neighbouring items
 *           read neighbouring columns);
 *   pass 2  colsum_finish adds the partial sums of a column in block order.
 * A column of at most COL_BLOCK rows needs only pass 1, written straight to
 * the output. */

#ifndef COL_BLOCK
#define COL_BLOCK 64 /* the host passes MRG_CL_COL_BLOCK */
#endif

/* dst[o, p, i] = scale·Σ_{j in block p} x[o, j, i] for x viewed as
 * (outer, n, inner); dimensions (inner, nparts, outer). */
kernel void colsum_partial(global const float *x, ulong xoff, global float *dst, ulong doff,
                           long n, long inner, float scale) {
    const long i = get_global_id(0), p = get_global_id(1), o = get_global_id(2);
    if (i >= inner) return;
    const long nparts = get_global_size(1);
    const long j0 = p * COL_BLOCK, j1 = min(n, j0 + COL_BLOCK);
    global const float *xo = x + xoff + (ulong)(o * n) * (ulong)inner + i;
    float acc = 0.0f;
    for (long j = j0; j < j1; j++) acc += xo[j * inner];
    dst[doff + (ulong)(o * nparts + p) * (ulong)inner + i] = scale * acc;
}

/* y[o, i] = scale·Σ_p part[o, p, i] over p in order; dimensions (inner, outer). */
kernel void colsum_finish(global const float *part, ulong poff, long nparts, long inner,
                          float scale, global float *y, ulong yoff) {
    const long i = get_global_id(0), o = get_global_id(1);
    if (i >= inner) return;
    global const float *po = part + poff + (ulong)(o * nparts) * (ulong)inner + i;
    float acc = 0.0f;
    for (long p = 0; p < nparts; p++) acc += po[p * inner];
    y[yoff + (ulong)o * (ulong)inner + i] = scale * acc;
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

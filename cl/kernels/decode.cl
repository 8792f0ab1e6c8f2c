/* Fused decoding kernels (host: cl/cl_decode.c; semantics: the optional
 * gemv_fused / rope_store_kv / sdpa_decode entries of lib/core/backend.h).
 * rope_store_kv and sdpa_decode take at most 16 rows per launch (their
 * cache rows come in an int16 argument); gemv_fused any number (in passes
 * of FUSED_ROWS). */

#define FUSED_ROWS 4 /* rows of x per pass of gemv_fused (more rows: more passes) */
#define EPI_NONE 0
#define EPI_SWIGLU 1
#define EPI_RESIDUAL 2

/* One work-group of GEMV_WG items per output column, over the columns of
 * up to three weights (EPI_NONE: w0's, then w1's, then w2's; else w0's).
 * Each item accumulates FUSED_ROWS rows of x at a time against the same
 * weight elements (a weight is read once per pass for all rows), k strided
 * by GEMV_WG, then a tree reduction: per row the arithmetic of gemv_t. */
kernel __attribute__((reqd_work_group_size(GEMV_WG, 1, 1))) void gemv_fused(
    int M, int K, global const float *x, ulong xoff, global const uchar *w0, ulong w0off,
    int dt0, int N0, global const uchar *w1, ulong w1off, int dt1, int N1,
    global const uchar *w2, ulong w2off, int dt2, int N2, global float *o0, ulong o0off,
    global float *o1, ulong o1off, global float *o2, ulong o2off, int epi,
    global const float *r, ulong roff) {
    local float s[2 * FUSED_ROWS][GEMV_WG];
    const int l = get_local_id(0);
    int n = get_group_id(0), N = N0, dt = dt0;
    global const uchar *w = w0;
    ulong woff = w0off, ooff = o0off;
    global float *o = o0;
    if (epi == EPI_NONE && n >= N0) {
        n -= N0;
        if (n < N1) {
            w = w1; woff = w1off; dt = dt1; N = N1; o = o1; ooff = o1off;
        } else {
            n -= N1;
            w = w2; woff = w2off; dt = dt2; N = N2; o = o2; ooff = o2off;
        }
    }
    const int two = epi == EPI_SWIGLU;
    const ulong wrow = woff + (ulong)n * K, urow = w1off + (ulong)n * K;
    for (int m0 = 0; m0 < M; m0 += FUSED_ROWS) {
        const int mr = min(FUSED_ROWS, M - m0);
        float a[FUSED_ROWS], b[FUSED_ROWS];
        for (int i = 0; i < FUSED_ROWS; i++) a[i] = b[i] = 0.0f;
        global const float *xr = x + xoff + (ulong)m0 * K;
        for (int k = l; k < K; k += GEMV_WG) {
            const float wv = ld_any(w, wrow + k, dt);
            const float uv = two ? ld_any(w1, urow + k, dt1) : 0.0f;
            for (int i = 0; i < FUSED_ROWS; i++)
                if (i < mr) {
                    const float xv = xr[(ulong)i * K + k];
                    a[i] = mad(xv, wv, a[i]);
                    if (two) b[i] = mad(xv, uv, b[i]);
                }
        }
        for (int i = 0; i < FUSED_ROWS; i++) {
            s[i][l] = a[i];
            s[FUSED_ROWS + i][l] = b[i];
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int h = GEMV_WG / 2; h > 0; h >>= 1) {
            if (l < h)
                for (int i = 0; i < 2 * FUSED_ROWS; i++) s[i][l] += s[i][l + h];
            barrier(CLK_LOCAL_MEM_FENCE);
        }
        if (l == 0)
            for (int i = 0; i < mr; i++) {
                const ulong at = (ulong)(m0 + i) * N + n;
                const float y = s[i][0];
                if (epi == EPI_SWIGLU)
                    o[ooff + at] = (y / (1.0f + exp(-y))) * s[FUSED_ROWS + i][0];
                else if (epi == EPI_RESIDUAL)
                    o[ooff + at] = r[roff + at] + y;
                else
                    o[ooff + at] = y;
            }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
}

/* One item per rotated pair of q (nb, H, D) and k (nb, Hkv, D) at position
 * pos (the angles of rope.cl); a k item also stores its two rotated
 * elements and the same two of v into cache row rows[b] at pos, rounded to
 * the cache dtype cdt. */
kernel void rope_store_kv(global const float *q, ulong qoff, global float *qo, ulong qooff,
                          global const float *k, ulong koff, global const float *v, ulong voff,
                          global uchar *kc, ulong kcoff, global uchar *vc, ulong vcoff, int cdt,
                          int H, int Hkv, int D, long Lmax, long pos, float theta, int layout,
                          int16 rows, int nb) {
    int rr[16];
    vstore16(rows, 0, rr);
    const int hd = D / 2, heads = H + Hkv;
    GRID_LOOP(p, (ulong)nb * heads * hd) {
        const ulong vec = p / hd;
        const int i = (int)(p % hd);
        const int b = (int)(vec / heads), h = (int)(vec % heads);
        const float freq = pow(theta, -(float)(2 * i) / (float)D);
        const float ang = (float)pos * freq;
        const float c = cos(ang), s = sin(ang);
        const int i0 = layout ? 2 * i : i, i1 = layout ? 2 * i + 1 : i + hd;
        if (h < H) {
            const ulong base = ((ulong)b * H + h) * D;
            const float a0 = q[qoff + base + i0], a1 = q[qoff + base + i1];
            qo[qooff + base + i0] = a0 * c - a1 * s;
            qo[qooff + base + i1] = a0 * s + a1 * c;
        } else {
            const int hk = h - H;
            const ulong base = ((ulong)b * Hkv + hk) * D;
            const ulong cb = (((ulong)rr[b] * Hkv + hk) * Lmax + pos) * D;
            const float a0 = k[koff + base + i0], a1 = k[koff + base + i1];
            st_any(kc, kcoff + cb + i0, cdt, a0 * c - a1 * s);
            st_any(kc, kcoff + cb + i1, cdt, a0 * s + a1 * c);
            st_any(vc, vcoff + cb + i0, cdt, v[voff + base + i0]);
            st_any(vc, vcoff + cb + i1, cdt, v[voff + base + i1]);
        }
    }
}

/* One work-group of RED_WG items per (b, h): scores of the query against
 * positions [0, len) of cache row rows[b], kv head h / (H / Hkv), into the
 * scratch row sc (len), their max and exp-sum by work-group reductions,
 * then each item one or more output dimensions: Σ_j p_j·v_j / Σ_j p_j. */
kernel __attribute__((reqd_work_group_size(RED_WG, 1, 1))) void sdpa_decode(
    global const float *q, ulong qoff, global const uchar *kc, ulong kcoff,
    global const uchar *vc, ulong vcoff, int cdt, global const float *mask, ulong moff,
    int has_mask, global float *sc, ulong scoff, global float *o, ulong ooff, int H, int Hkv,
    int D, int Dv, long Lmax, long len, float scale, int16 rows) {
    local float red[RED_WG];
    int rr[16];
    vstore16(rows, 0, rr);
    const int g = get_group_id(0), l = get_local_id(0);
    const int b = g / H, h = g % H, hk = h / (H / Hkv);
    global const float *qv = q + qoff + (ulong)g * D;
    const ulong kb = kcoff + ((ulong)rr[b] * Hkv + hk) * Lmax * D;
    const ulong vb = vcoff + ((ulong)rr[b] * Hkv + hk) * Lmax * Dv;
    global float *s = sc + scoff + (ulong)g * len;
    float mx = -INFINITY;
    for (long j = l; j < len; j += RED_WG) {
        float acc = 0.0f;
        for (int d = 0; d < D; d++) acc = mad(scale * qv[d], ld_any(kc, kb + j * D + d, cdt), acc);
        if (has_mask) acc += mask[moff + (ulong)b * len + j];
        s[j] = acc;
        mx = fmax(mx, acc);
    }
    mx = wg_max(mx, red);
    float sum = 0.0f;
    for (long j = l; j < len; j += RED_WG) {
        const float e = exp(s[j] - mx);
        s[j] = e;
        sum += e;
    }
    sum = wg_sum(sum, red);
    barrier(CLK_GLOBAL_MEM_FENCE); /* every p_j written before any item reads them */
    for (int d = l; d < Dv; d += RED_WG) {
        float acc = 0.0f;
        for (long j = 0; j < len; j++) acc = mad(s[j], ld_any(vc, vb + j * Dv + d, cdt), acc);
        o[ooff + (ulong)g * Dv + d] = acc / sum;
    }
}

/* Fused scaled dot-product attention, flash style (host: cl/cl_sdpa.c).
 *
 * One work-item per output row; a work-group stages a tile of the rows it
 * shares (queries, or keys in the dK/dV kernel) and walks the other side in
 * tiles of ATT_KT held in local memory. Scores exist only in registers: the
 * forward keeps an online softmax (running max m, running sum l) and
 * rescales its accumulator; the backward recomputes P = exp(S − lse).
 * Every item accumulates ATT_CH output columns (dimension 2 of the launch
 * picks the chunk), so the head dim is not bounded by registers; D itself
 * is bounded only by local memory (the host sizes the groups). A row that
 * each item reads for itself sits in local memory with a stride of D + 1,
 * so that the items of a group read different banks (a stride of 64 or 128
 * would put them all on one).
 *
 * Layouts (all f32, element offsets after each pointer):
 *   q (B, H, Tq, D), o / dO (B, H, Tq, Dv), lse / Di (B, H, Tq)
 *   k (R, Hkv, cap, D), v (R, Hkv, cap, Dv), batch b reading row rows[b]
 *   (rows NULL: b); query head h uses kv head h / (H / Hkv); mask (B, Tk)
 *   additive or NULL; causal: query t sees keys j <= t + Tk − Tq. */

#ifndef ATT_KT
#define ATT_KT 16
#endif
#ifndef ATT_CH
#define ATT_CH 32
#endif

/* Σ a[c]·b[c] over c < n, both in local memory. */
inline float dot_local(local const float *a, local const float *b, int n) {
    float s = 0.0f;
    for (int c = 0; c < n; c++) s = fma(a[c], b[c], s);
    return s;
}

/* Keys a query t sees: [0, Tk), or [0, t + Tk − Tq] under the causal mask. */
inline long keys_seen(long t, long Tq, long Tk, int causal) {
    return causal ? min(Tk, t + Tk - Tq + 1) : Tk;
}

/* Forward. Launch: (ceil(Tq / QT)·QT, B·H, ceil(Dv / ATT_CH)), local (QT, 1, 1).
 * Local: qs (QT·(D+1)), ks (ATT_KT·D), vs (ATT_KT·ATT_CH). lse is written by the
 * first column chunk when lse is not NULL. */
kernel void sdpa_fwd(global const float *q, ulong qoff, global const float *k, ulong koff,
                     global const float *v, ulong voff, global const float *mask, ulong moff,
                     global const int *rows, ulong roff, global float *o, ulong ooff,
                     global float *lse, ulong loff, long H, long Hkv, long Tq, long Tk, int D,
                     int Dv, long cap, int causal, float scale, local float *qs,
                     local float *ks, local float *vs) {
    const int li = get_local_id(0), QT = get_local_size(0);
    const long t0 = (long)get_group_id(0) * QT, t = t0 + li, bh = get_group_id(1);
    const long b = bh / H, h = bh % H, hk = h / (H / Hkv);
    const int c0 = get_group_id(2) * ATT_CH, nc = min(ATT_CH, Dv - c0);
    const long row = rows ? (long)rows[roff + b] : b;
    global const float *kb = k + koff + (row * Hkv + hk) * cap * D;
    global const float *vb = v + voff + (row * Hkv + hk) * cap * Dv + c0;
    global const float *mk = mask ? mask + moff + b * Tk : 0;
    const long nq = min((long)QT, Tq - t0);
    global const float *qb = q + qoff + (bh * Tq + t0) * D;
    for (long i = li; i < nq * D; i += QT) qs[i / D * (D + 1) + i % D] = scale * qb[i];
    const bool live = t < Tq;
    const long seen = keys_seen(t, Tq, Tk, causal);
    const long kend = keys_seen(t0 + nq - 1, Tq, Tk, causal);
    local const float *qi = qs + li * (D + 1);
    float m = -INFINITY, l = 0.0f, acc[ATT_CH];
    for (int c = 0; c < ATT_CH; c++) acc[c] = 0.0f;
    for (long j0 = 0; j0 < kend; j0 += ATT_KT) {
        const int nk = (int)min((long)ATT_KT, kend - j0);
        barrier(CLK_LOCAL_MEM_FENCE); /* the previous tile is no longer read */
        for (int i = li; i < nk * D; i += QT) ks[i] = kb[j0 * D + i];
        for (int i = li; i < nk * ATT_CH; i += QT) {
            int jj = i / ATT_CH, c = i % ATT_CH;
            vs[i] = c < nc ? vb[(j0 + jj) * Dv + c] : 0.0f;
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        if (!live) continue;
        const int n = (int)clamp(seen - j0, 0L, (long)nk);
        float s[ATT_KT], mx = -INFINITY;
        for (int jj = 0; jj < ATT_KT; jj++) {
            if (jj >= n) break;
            s[jj] = dot_local(qi, ks + jj * D, D) + (mk ? mk[j0 + jj] : 0.0f);
            mx = fmax(mx, s[jj]);
        }
        const float mnew = fmax(m, mx);
        if (mnew == -INFINITY) continue; /* nothing seen yet: all weights 0 */
        const float alpha = exp(m - mnew);
        l *= alpha;
        for (int c = 0; c < ATT_CH; c++) acc[c] *= alpha;
        for (int jj = 0; jj < ATT_KT; jj++) {
            if (jj >= n) break;
            const float p = exp(s[jj] - mnew);
            l += p;
            for (int c = 0; c < ATT_CH; c++) acc[c] = fma(p, vs[jj * ATT_CH + c], acc[c]);
        }
        m = mnew;
    }
    if (!live) return;
    /* l = 0 (every key −inf) gives 0·inf = NaN, as the softmax does */
    const float inv = 1.0f / l;
    global float *orow = o + ooff + (bh * Tq + t) * Dv + c0;
    for (int c = 0; c < nc; c++) orow[c] = acc[c] * inv;
    if (lse && c0 == 0) lse[loff + bh * Tq + t] = m + log(l);
}

/* Backward, pass 1: Di = Σ dO∘O per row (rows of Dv). */
kernel void sdpa_bwd_rowdot(global const float *dO, ulong doff, global const float *o,
                            ulong ooff, global float *di, long nrows, int Dv) {
    GRID_LOOP(r, nrows) {
        global const float *a = dO + doff + r * Dv, *b = o + ooff + r * Dv;
        float s = 0.0f;
        for (int c = 0; c < Dv; c++) s = fma(a[c], b[c], s);
        di[r] = s;
    }
}

/* Backward, pass 2: dK and dV. One item per key j of kv head (b, hk); it
 * meets the G·Tq query rows of the G heads sharing the kv head (adjacent in
 * q, row r is query r % Tq) in tiles of ATT_KT. Dimension 2 picks the
 * chunk: z < nzk gives dK columns z·ATT_CH.., else dV columns (z − nzk)·ATT_CH..
 * Launch: (ceil(Tk / KG)·KG, B·Hkv, nzk + ceil(Dv / ATT_CH)), local (KG, 1, 1).
 * Local: ks (KG·(D+1)), vs (KG·(Dv+1)), qs (ATT_KT·D), dos (ATT_KT·Dv), ls, ds (ATT_KT). */
kernel void sdpa_bwd_dkdv(global const float *q, ulong qoff, global const float *k, ulong koff,
                          global const float *v, ulong voff, global const float *mask,
                          ulong moff, global const float *lse, ulong loff,
                          global const float *dO, ulong doff, global const float *di,
                          global float *dk, ulong dkoff, global float *dv, ulong dvoff, long H,
                          long Hkv, long Tq, long Tk, int D, int Dv, int causal, float scale,
                          int nzk, local float *ks, local float *vs, local float *qs,
                          local float *dos, local float *ls, local float *dsum) {
    const int li = get_local_id(0), KG = get_local_size(0);
    const long j0 = (long)get_group_id(0) * KG, j = j0 + li, bk = get_group_id(1);
    const long b = bk / Hkv, G = H / Hkv, nr = G * Tq;
    const int z = get_group_id(2);
    const bool want_dk = z < nzk;
    const int c0 = (want_dk ? z : z - nzk) * ATT_CH;
    const int nc = min(ATT_CH, (want_dk ? D : Dv) - c0);
    const long nk = min((long)KG, Tk - j0);
    for (long i = li; i < nk * D; i += KG)
        ks[i / D * (D + 1) + i % D] = k[koff + (bk * Tk + j0) * D + i];
    for (long i = li; i < nk * Dv; i += KG)
        vs[i / Dv * (Dv + 1) + i % Dv] = v[voff + (bk * Tk + j0) * Dv + i];
    const long r_base = bk * nr; /* = (b·H + hk·G)·Tq */
    const bool live = j < Tk;
    const float mj = live && mask ? mask[moff + b * Tk + j] : 0.0f;
    local const float *kj = ks + li * (D + 1), *vj = vs + li * (Dv + 1);
    float acc[ATT_CH];
    for (int c = 0; c < ATT_CH; c++) acc[c] = 0.0f;
    for (long r0 = 0; r0 < nr; r0 += ATT_KT) {
        const int nq = (int)min((long)ATT_KT, nr - r0);
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int i = li; i < nq * D; i += KG) qs[i] = scale * q[qoff + (r_base + r0) * D + i];
        for (int i = li; i < nq * Dv; i += KG) dos[i] = dO[doff + (r_base + r0) * Dv + i];
        for (int i = li; i < nq; i += KG) {
            ls[i] = lse[loff + r_base + r0 + i];
            dsum[i] = di[r_base + r0 + i];
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        if (!live) continue;
        for (int i = 0; i < nq; i++) {
            const long t = (r0 + i) % Tq;
            if (j >= keys_seen(t, Tq, Tk, causal)) continue;
            local const float *qi = qs + i * D, *doi = dos + i * Dv;
            const float p = exp(dot_local(qi, kj, D) + mj - ls[i]);
            if (want_dk) {
                const float ds = p * (dot_local(doi, vj, Dv) - dsum[i]);
                for (int c = 0; c < ATT_CH; c++)
                    if (c < nc) acc[c] = fma(ds, qi[c0 + c], acc[c]);
            } else {
                for (int c = 0; c < ATT_CH; c++)
                    if (c < nc) acc[c] = fma(p, doi[c0 + c], acc[c]);
            }
        }
    }
    if (!live) return;
    global float *out = want_dk ? dk + dkoff + (bk * Tk + j) * D : dv + dvoff + (bk * Tk + j) * Dv;
    for (int c = 0; c < nc; c++) out[c0 + c] = acc[c];
}

/* Backward, pass 3: dQ = scale · Σ_j dS_ij k_j with dS = P∘(dP − Di).
 * Launch: (ceil(Tq / QT)·QT, B·H, ceil(D / ATT_CH)), local (QT, 1, 1).
 * Local: qs (QT·(D+1)), dos (QT·(Dv+1)), ks (ATT_KT·D), vs (ATT_KT·Dv). */
kernel void sdpa_bwd_dq(global const float *q, ulong qoff, global const float *k, ulong koff,
                        global const float *v, ulong voff, global const float *mask, ulong moff,
                        global const float *lse, ulong loff, global const float *dO, ulong doff,
                        global const float *di, global float *dq, ulong dqoff, long H, long Hkv,
                        long Tq, long Tk, int D, int Dv, int causal, float scale,
                        local float *qs, local float *dos, local float *ks, local float *vs) {
    const int li = get_local_id(0), QT = get_local_size(0);
    const long t0 = (long)get_group_id(0) * QT, t = t0 + li, bh = get_group_id(1);
    const long b = bh / H, h = bh % H, kv = b * Hkv + h / (H / Hkv);
    const int c0 = get_group_id(2) * ATT_CH, nc = min(ATT_CH, D - c0);
    const long nq = min((long)QT, Tq - t0);
    for (long i = li; i < nq * D; i += QT)
        qs[i / D * (D + 1) + i % D] = scale * q[qoff + (bh * Tq + t0) * D + i];
    for (long i = li; i < nq * Dv; i += QT)
        dos[i / Dv * (Dv + 1) + i % Dv] = dO[doff + (bh * Tq + t0) * Dv + i];
    const bool live = t < Tq;
    const float li_lse = live ? lse[loff + bh * Tq + t] : 0.0f;
    const float li_d = live ? di[bh * Tq + t] : 0.0f;
    const long seen = keys_seen(t, Tq, Tk, causal);
    const long kend = keys_seen(t0 + nq - 1, Tq, Tk, causal);
    global const float *mk = mask ? mask + moff + b * Tk : 0;
    local const float *qi = qs + li * (D + 1), *doi = dos + li * (Dv + 1);
    float acc[ATT_CH];
    for (int c = 0; c < ATT_CH; c++) acc[c] = 0.0f;
    for (long j0 = 0; j0 < kend; j0 += ATT_KT) {
        const int nk = (int)min((long)ATT_KT, kend - j0);
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int i = li; i < nk * D; i += QT) ks[i] = k[koff + (kv * Tk + j0) * D + i];
        for (int i = li; i < nk * Dv; i += QT) vs[i] = v[voff + (kv * Tk + j0) * Dv + i];
        barrier(CLK_LOCAL_MEM_FENCE);
        if (!live) continue;
        const int n = (int)clamp(seen - j0, 0L, (long)nk);
        for (int jj = 0; jj < n; jj++) {
            local const float *kjj = ks + jj * D;
            const float p =
                exp(dot_local(qi, kjj, D) + (mk ? mk[j0 + jj] : 0.0f) - li_lse);
            const float ds = p * (dot_local(doi, vs + jj * Dv, Dv) - li_d);
            for (int c = 0; c < ATT_CH; c++)
                if (c < nc) acc[c] = fma(ds, kjj[c0 + c], acc[c]);
        }
    }
    if (!live) return;
    global float *out = dq + dqoff + (bh * Tq + t) * D + c0;
    for (int c = 0; c < nc; c++) out[c] = scale * acc[c];
}

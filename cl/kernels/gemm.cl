/* The tunable GEMM kernels: C = alpha·op(A)·op(B) + beta·C, row-major, A and
 * C f32, B f32, bf16 or f16 (bdt), batched by the last launch dimension.
 * This file is built as a program of its own (with common.cl) once per
 * parameter set, so `mrg tune` can try sets on the device:
 *   GM_TM, GM_TN, GM_TK  the block of C a work-group computes, and the K
 *                        slice staged in local memory per step
 *   GM_WM, GM_WN         the outputs per item (registers), strided by the
 *                        work-group's shape so neighbours read neighbouring
 *                        local words
 *   GM_VW                the width of the global loads (1, 2, 4) along the
 *                        operand's contiguous axis
 *   SM_WG, SM_LANES, SM_KC  the small-M path (M <= SM_MAXM): work-group
 *                        size, items sharing one column when B is stored
 *                        N×K, and the K chunk of one split (split-K, the
 *                        splits added in order by gemm_split_finish).
 * beta == 0 never reads C. Every result is deterministic: no atomics. */

#ifndef GM_TM
#define GM_TM 64
#endif
#ifndef GM_TN
#define GM_TN 64
#endif
#ifndef GM_TK
#define GM_TK 16
#endif
#ifndef GM_WM
#define GM_WM 4
#endif
#ifndef GM_WN
#define GM_WN 4
#endif
#ifndef GM_VW
#define GM_VW 4
#endif
#ifndef SM_WG
#define SM_WG 128
#endif
#ifndef SM_LANES
#define SM_LANES 16
#endif
#ifndef SM_KC
#define SM_KC 1024
#endif
#define SM_MAXM 16

#define GM_WGM (GM_TM / GM_WM)
#define GM_WGN (GM_TN / GM_WN)
#define GM_WG (GM_WGM * GM_WGN)

/* GM_VW consecutive elements of B (dtype dt) from element i, as f32. */
inline void ldv_b(global const uchar *p, ulong i, int dt, float *v) {
#if GM_VW == 4
    float4 x;
    if (dt == DT_BF16) {
        uint4 u = convert_uint4(vload4(0, (global const ushort *)p + i)) << 16;
        x = as_float4(u);
    } else if (dt == DT_F16) {
        x = vload_half4(0, (global const half *)p + i);
    } else {
        x = vload4(0, (global const float *)p + i);
    }
    v[0] = x.s0, v[1] = x.s1, v[2] = x.s2, v[3] = x.s3;
#elif GM_VW == 2
    float2 x;
    if (dt == DT_BF16) {
        uint2 u = convert_uint2(vload2(0, (global const ushort *)p + i)) << 16;
        x = as_float2(u);
    } else if (dt == DT_F16) {
        x = vload_half2(0, (global const half *)p + i);
    } else {
        x = vload2(0, (global const float *)p + i);
    }
    v[0] = x.s0, v[1] = x.s1;
#else
    v[0] = ld_any(p, i, dt);
#endif
}

/* Stages the (x, k) tile of an operand, TX × GM_TK, into t[k][x]:
 * element (x, k) of the operand is at base + x·sx + k·sk; x_contig says
 * which axis is contiguous (sx or sk == 1), and vectors of GM_VW run along
 * it. Out-of-range elements are 0. */
inline void stage(local float *t, int tx, global const uchar *p, ulong base, long sx, long sk,
                  int x_contig, int x0, int nx, int k0, int nk, int dt, int lid) {
    const int nvec = tx * GM_TK / GM_VW;
    for (int l = lid; l < nvec; l += GM_WG) {
        int x, k;
        if (x_contig) {
            x = (l % (tx / GM_VW)) * GM_VW;
            k = l / (tx / GM_VW);
        } else {
            x = l / (GM_TK / GM_VW);
            k = (l % (GM_TK / GM_VW)) * GM_VW;
        }
        const int gx = x0 + x, gk = k0 + k;
        const ulong at = base + (ulong)((long)gx * sx + (long)gk * sk);
        float v[GM_VW];
        const bool whole = x_contig ? (gx + GM_VW <= nx && gk < nk) : (gx < nx && gk + GM_VW <= nk);
        if (whole) {
            ldv_b(p, at, dt, v);
        } else {
            for (int e = 0; e < GM_VW; e++) {
                const int ex = gx + (x_contig ? e : 0), ek = gk + (x_contig ? 0 : e);
                v[e] = ex < nx && ek < nk
                           ? ld_any(p, base + (ulong)((long)ex * sx + (long)ek * sk), dt)
                           : 0.0f;
            }
        }
        for (int e = 0; e < GM_VW; e++) {
            const int ex = x + (x_contig ? e : 0), ek = k + (x_contig ? 0 : e);
            t[ek * (tx + 1) + ex] = v[e];
        }
    }
}

/* One work-group per GM_TM × GM_TN block of C (dimensions: N blocks·GM_WGN,
 * M blocks·GM_WGM, batch). K is walked in GM_TK slices through two local
 * buffers: the next slice is loaded while this one is multiplied, one
 * barrier per slice. */
kernel __attribute__((reqd_work_group_size(GM_WGN, GM_WGM, 1))) void gemm_rb(
    int ta, int tb, int M, int N, int K, float alpha, global const float *A, ulong aoff,
    long lda, long sa, global const uchar *B, ulong boff, long ldb, long sb, int bdt,
    float beta, global float *C, ulong coff, long ldc, long sc) {
    local float As[2][GM_TK * (GM_TM + 1)];
    local float Bs[2][GM_TK * (GM_TN + 1)];
    const int tx = get_local_id(0), ty = get_local_id(1);
    const int lid = ty * GM_WGN + tx;
    const int n0 = get_group_id(0) * GM_TN, m0 = get_group_id(1) * GM_TM;
    const long bz = get_global_id(2);
    global const uchar *Ab = (global const uchar *)A;
    const ulong abase = aoff + (ulong)(bz * sa), bbase = boff + (ulong)(bz * sb);
    /* A: (m, k) at m·lda + k, or k·lda + m when transposed; B: (n, k) at
     * k·ldb + n, or n·ldb + k when transposed */
    const long a_sm = ta ? 1 : lda, a_sk = ta ? lda : 1;
    const long b_sn = tb ? ldb : 1, b_sk = tb ? 1 : ldb;

    float acc[GM_WM][GM_WN];
    for (int i = 0; i < GM_WM; i++)
        for (int j = 0; j < GM_WN; j++) acc[i][j] = 0.0f;

    const int ntiles = (K + GM_TK - 1) / GM_TK;
    stage(As[0], GM_TM, Ab, abase, a_sm, a_sk, ta, m0, M, 0, K, DT_F32, lid);
    stage(Bs[0], GM_TN, B, bbase, b_sn, b_sk, !tb, n0, N, 0, K, bdt, lid);
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int t = 0; t < ntiles; t++) {
        const int cur = t & 1;
        if (t + 1 < ntiles) {
            const int k0 = (t + 1) * GM_TK;
            stage(As[cur ^ 1], GM_TM, Ab, abase, a_sm, a_sk, ta, m0, M, k0, K, DT_F32, lid);
            stage(Bs[cur ^ 1], GM_TN, B, bbase, b_sn, b_sk, !tb, n0, N, k0, K, bdt, lid);
        }
        local const float *as = As[cur], *bs = Bs[cur];
        for (int k = 0; k < GM_TK; k++) {
            float a[GM_WM], b[GM_WN];
            for (int i = 0; i < GM_WM; i++) a[i] = as[k * (GM_TM + 1) + ty + i * GM_WGM];
            for (int j = 0; j < GM_WN; j++) b[j] = bs[k * (GM_TN + 1) + tx + j * GM_WGN];
            for (int i = 0; i < GM_WM; i++)
                for (int j = 0; j < GM_WN; j++) acc[i][j] = mad(a[i], b[j], acc[i][j]);
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }

    global float *Cb = C + coff + bz * sc;
    for (int i = 0; i < GM_WM; i++) {
        const int gm = m0 + ty + i * GM_WGM;
        if (gm >= M) continue;
        for (int j = 0; j < GM_WN; j++) {
            const int gn = n0 + tx + j * GM_WGN;
            if (gn >= N) continue;
            global float *c = Cb + (long)gm * ldc + gn;
            *c = beta == 0.0f ? alpha * acc[i][j] : alpha * acc[i][j] + beta * *c;
        }
    }
}

/* Where split s of a small-M GEMM puts its sums: C itself (with alpha and
 * beta) when there is one split, else part[((z·nsplit + s)·M + m)·N + n]. */
inline void sm_store(int m, int n, int M, int N, float v, float alpha, float beta,
                     global float *C, ulong coff, long ldc, long sc, long bz, int s, int nsplit,
                     global float *part) {
    if (nsplit == 1) {
        global float *c = C + coff + bz * sc + (long)m * ldc + n;
        *c = beta == 0.0f ? alpha * v : alpha * v + beta * *c;
    } else {
        part[(((ulong)bz * nsplit + s) * M + m) * (ulong)N + n] = v;
    }
}

/* Small M, B stored N×K (the nn.Linear layout): SM_LANES items share a
 * column and walk its K chunk in steps of SM_LANES (coalesced), each
 * keeping the M row sums in registers; a local tree then adds the lanes.
 * Dimensions: (column groups·SM_WG, splits, batch). */
kernel __attribute__((reqd_work_group_size(SM_WG, 1, 1))) void gemm_smallm_t(
    int ta, int M, int N, int K, float alpha, global const float *A, ulong aoff, long lda,
    long sa, global const uchar *B, ulong boff, long ldb, long sb, int bdt, float beta,
    global float *C, ulong coff, long ldc, long sc, global float *part, int nsplit) {
    local float red[SM_WG];
    const int l = get_local_id(0), lane = l % SM_LANES;
    const int n = get_group_id(0) * (SM_WG / SM_LANES) + l / SM_LANES;
    const int s = get_group_id(1);
    const long bz = get_group_id(2);
    const int k0 = s * SM_KC, k1 = min(K, k0 + SM_KC);
    global const float *Ab = A + aoff + bz * sa;
    const long a_sm = ta ? 1 : lda, a_sk = ta ? lda : 1;
    float acc[SM_MAXM];
    for (int m = 0; m < SM_MAXM; m++) acc[m] = 0.0f;
    if (n < N) {
        const ulong brow = boff + (ulong)(bz * sb) + (ulong)n * (ulong)ldb;
        if (M == 1) /* greedy decoding: one accumulator */
            for (int k = k0 + lane; k < k1; k += SM_LANES)
                acc[0] = mad(Ab[k * a_sk], ld_any(B, brow + k, bdt), acc[0]);
        else
            for (int k = k0 + lane; k < k1; k += SM_LANES) {
                const float b = ld_any(B, brow + k, bdt);
                for (int m = 0; m < SM_MAXM; m++)
                    if (m < M) acc[m] = mad(Ab[m * a_sm + k * a_sk], b, acc[m]);
            }
    }
    for (int m = 0; m < M; m++) {
        red[l] = acc[m];
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int h = SM_LANES / 2; h > 0; h >>= 1) {
            if (lane < h) red[l] += red[l + h];
            barrier(CLK_LOCAL_MEM_FENCE);
        }
        if (lane == 0 && n < N)
            sm_store(m, n, M, N, red[l], alpha, beta, C, coff, ldc, sc, bz, s, nsplit, part);
        barrier(CLK_LOCAL_MEM_FENCE);
    }
}

/* Small M, B stored K×N: one item per column walks its K chunk (neighbours
 * read neighbouring B elements), the M row sums in registers. Dimensions:
 * (N, splits, batch). */
kernel void gemm_smallm_n(int ta, int M, int N, int K, float alpha, global const float *A,
                          ulong aoff, long lda, long sa, global const uchar *B, ulong boff,
                          long ldb, long sb, int bdt, float beta, global float *C, ulong coff,
                          long ldc, long sc, global float *part, int nsplit) {
    const int n = get_global_id(0), s = get_global_id(1);
    const long bz = get_global_id(2);
    if (n >= N) return;
    const int k0 = s * SM_KC, k1 = min(K, k0 + SM_KC);
    global const float *Ab = A + aoff + bz * sa;
    const long a_sm = ta ? 1 : lda, a_sk = ta ? lda : 1;
    const ulong bcol = boff + (ulong)(bz * sb) + n;
    float acc[SM_MAXM];
    for (int m = 0; m < SM_MAXM; m++) acc[m] = 0.0f;
    if (M == 1) /* greedy decoding: one accumulator */
        for (int k = k0; k < k1; k++)
            acc[0] = mad(Ab[k * a_sk], ld_any(B, bcol + (ulong)k * (ulong)ldb, bdt), acc[0]);
    else
        for (int k = k0; k < k1; k++) {
            const float b = ld_any(B, bcol + (ulong)k * (ulong)ldb, bdt);
            for (int m = 0; m < SM_MAXM; m++)
                if (m < M) acc[m] = mad(Ab[m * a_sm + k * a_sk], b, acc[m]);
        }
    for (int m = 0; m < M; m++)
        sm_store(m, n, M, N, acc[m], alpha, beta, C, coff, ldc, sc, bz, s, nsplit, part);
}

/* C = alpha·Σ_s part[z, s] + beta·C, the splits in order. Dimensions
 * (N, M, batch). */
kernel void gemm_split_finish(int M, int N, int nsplit, float alpha, float beta,
                              global const float *part, global float *C, ulong coff, long ldc,
                              long sc) {
    const int n = get_global_id(0), m = get_global_id(1);
    const long bz = get_global_id(2);
    if (n >= N || m >= M) return;
    float v = 0.0f;
    for (int s = 0; s < nsplit; s++) v += part[(((ulong)bz * nsplit + s) * M + m) * (ulong)N + n];
    global float *c = C + coff + bz * sc + (long)m * ldc + n;
    *c = beta == 0.0f ? alpha * v : alpha * v + beta * *c;
}

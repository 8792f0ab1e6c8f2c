/* GEMM kernels for B in any storage dtype (bf16/f16 weights, also f32):
 * C = alpha·op(A)·op(B) + beta·C, row-major, batched by dimension 2 (or 1
 * for the GEMVs). f32 × f32 with M > 1 goes to CLBlast instead (host side).
 * beta == 0 never reads C, so uninitialised (NaN) memory is overwritten. */

#ifndef TILE_M
#define TILE_M 64
#endif
#ifndef TILE_N
#define TILE_N 64
#endif
#ifndef TILE_K
#define TILE_K 16
#endif
#ifndef WPT_M
#define WPT_M 4
#endif
#ifndef WPT_N
#define WPT_N 4
#endif
#ifndef GEMV_WG
#define GEMV_WG 128
#endif
#define WG_M (TILE_M / WPT_M)
#define WG_N (TILE_N / WPT_N)
#define WG_SIZE (WG_M * WG_N)

/* Position (x, k) in a TILE_X × TILE_K tile of load number l: consecutive
 * loads run along the operand's contiguous axis in memory (x when
 * x_contiguous, else k), so neighbouring items read neighbouring addresses. */
inline int2 tile_pos(int l, int tile_x, int x_contiguous) {
    return x_contiguous ? (int2)(l % tile_x, l / tile_x) : (int2)(l / TILE_K, l % TILE_K);
}

/* One work-group computes a TILE_M × TILE_N block of C; each item a
 * WPT_M × WPT_N sub-block strided by (WG_M, WG_N) so that neighbouring items
 * read neighbouring local-memory words. K is walked in TILE_K slices staged
 * in local memory (padded by one column against bank conflicts). Loads map
 * consecutive items to consecutive addresses for either transpose. */
kernel __attribute__((reqd_work_group_size(WG_N, WG_M, 1))) void gemm_tiled(
    int ta, int tb, int M, int N, int K, float alpha, global const float *A, ulong aoff,
    long lda, long sa, global const uchar *B, ulong boff, long ldb, long sb, int bdt,
    float beta, global float *C, ulong coff, long ldc, long sc) {
    local float As[TILE_K][TILE_M + 1];
    local float Bs[TILE_K][TILE_N + 1];
    const int tx = get_local_id(0), ty = get_local_id(1);
    const int lid = ty * WG_N + tx;
    const int n0 = get_group_id(0) * TILE_N, m0 = get_group_id(1) * TILE_M;
    const long bz = get_global_id(2);
    global const float *Ab = A + aoff + bz * sa;
    const ulong bb = boff + bz * sb;

    float acc[WPT_M][WPT_N];
    for (int i = 0; i < WPT_M; i++)
        for (int j = 0; j < WPT_N; j++) acc[i][j] = 0.0f;

    for (int k0 = 0; k0 < K; k0 += TILE_K) {
        /* A stored K×M when ta (m contiguous), else M×K (k contiguous) */
        for (int l = lid; l < TILE_M * TILE_K; l += WG_SIZE) {
            const int2 p = tile_pos(l, TILE_M, ta); /* (m, k) */
            const int gm = m0 + p.x, gk = k0 + p.y;
            As[p.y][p.x] = gm < M && gk < K
                               ? (ta ? Ab[(long)gk * lda + gm] : Ab[(long)gm * lda + gk])
                               : 0.0f;
        }
        /* B stored N×K when tb (k contiguous), else K×N (n contiguous) */
        for (int l = lid; l < TILE_N * TILE_K; l += WG_SIZE) {
            const int2 p = tile_pos(l, TILE_N, !tb); /* (n, k) */
            const int gn = n0 + p.x, gk = k0 + p.y;
            Bs[p.y][p.x] =
                gn < N && gk < K
                    ? ld_any(B, bb + (tb ? (ulong)gn * ldb + gk : (ulong)gk * ldb + gn), bdt)
                    : 0.0f;
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int k = 0; k < TILE_K; k++) {
            float a[WPT_M], b[WPT_N];
            for (int i = 0; i < WPT_M; i++) a[i] = As[k][ty + i * WG_M];
            for (int j = 0; j < WPT_N; j++) b[j] = Bs[k][tx + j * WG_N];
            for (int i = 0; i < WPT_M; i++)
                for (int j = 0; j < WPT_N; j++) acc[i][j] = mad(a[i], b[j], acc[i][j]);
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }

    global float *Cb = C + coff + bz * sc;
    for (int i = 0; i < WPT_M; i++) {
        const int gm = m0 + ty + i * WG_M;
        if (gm >= M) continue;
        for (int j = 0; j < WPT_N; j++) {
            const int gn = n0 + tx + j * WG_N;
            if (gn >= N) continue;
            global float *c = Cb + (long)gm * ldc + gn;
            *c = beta == 0.0f ? alpha * acc[i][j] : alpha * acc[i][j] + beta * *c;
        }
    }
}

/* M == 1, B stored K×N (no transpose): one item per output column n, so
 * neighbouring items read neighbouring B elements. Dimension 1 = batch. */
kernel void gemv_n(int ta, int N, int K, float alpha, global const float *A, ulong aoff,
                   long lda, long sa, global const uchar *B, ulong boff, long ldb, long sb,
                   int bdt, float beta, global float *C, ulong coff, long sc) {
    const int n = get_global_id(0);
    const long bz = get_global_id(1);
    if (n >= N) return;
    global const float *Ab = A + aoff + bz * sa;
    const ulong bb = boff + bz * sb + n;
    const long as = ta ? lda : 1; /* A stored K×1 when transposed */
    float acc = 0.0f;
    for (int k = 0; k < K; k++) acc = mad(Ab[k * as], ld_any(B, bb + (ulong)k * ldb, bdt), acc);
    global float *c = C + coff + bz * sc + n;
    *c = beta == 0.0f ? alpha * acc : alpha * acc + beta * *c;
}

/* M == 1, B stored N×K (transposed, the nn.Linear weight layout): one
 * work-group of GEMV_WG items per output n reduces a contiguous row of B. */
kernel __attribute__((reqd_work_group_size(GEMV_WG, 1, 1))) void gemv_t(
    int ta, int N, int K, float alpha, global const float *A, ulong aoff, long lda, long sa,
    global const uchar *B, ulong boff, long ldb, long sb, int bdt, float beta,
    global float *C, ulong coff, long sc) {
    local float s[GEMV_WG];
    const int n = get_group_id(0);
    const long bz = get_group_id(1);
    const int l = get_local_id(0);
    global const float *Ab = A + aoff + bz * sa;
    const ulong bb = boff + bz * sb + (ulong)n * ldb;
    const long as = ta ? lda : 1;
    float acc = 0.0f;
    for (int k = l; k < K; k += GEMV_WG) acc = mad(Ab[k * as], ld_any(B, bb + k, bdt), acc);
    s[l] = acc;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int h = GEMV_WG / 2; h > 0; h >>= 1) {
        if (l < h) s[l] += s[l + h];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (l == 0) {
        global float *c = C + coff + bz * sc + n;
        *c = beta == 0.0f ? alpha * s[0] : alpha * s[0] + beta * *c;
    }
}

/* K == 0: C = beta·C (0 when beta == 0). Dimensions (N, M, batch). */
kernel void gemm_scale_c(int M, int N, float beta, global float *C, ulong coff, long ldc,
                         long sc) {
    const int n = get_global_id(0), m = get_global_id(1);
    const long bz = get_global_id(2);
    if (n >= N || m >= M) return;
    global float *c = C + coff + bz * sc + (long)m * ldc + n;
    *c = beta == 0.0f ? 0.0f : beta * *c;
}

/* GEMM helpers outside the tunable program (gemm.cl holds the GEMM
 * kernels themselves). */

/* K == 0: C = beta·C (0 when beta == 0). Dimensions (N, M, batch). */
kernel void gemm_scale_c(int M, int N, float beta, global float *C, ulong coff, long ldc,
                         long sc) {
    const int n = get_global_id(0), m = get_global_id(1);
    const long bz = get_global_id(2);
    if (n >= N || m >= M) return;
    global float *c = C + coff + bz * sc + (long)m * ldc + n;
    *c = beta == 0.0f ? 0.0f : beta * *c;
}

/* Helpers shared by every kernel file; the host puts this file first when
 * it concatenates the sources into one program.
 *
 * Build options (-D, chosen by cl/cl_program.c from the device limits):
 *   RED_WG   work-group size of row reductions (power of two)
 *   TILE_M, TILE_N, TILE_K, WPT_M, WPT_N   tiled GEMM
 *   GEMV_WG  work-group size of the transposed-B GEMV (power of two)
 *
 * Every buffer argument is a (global T *base, ulong offset) pair with the
 * offset in elements, so one cl_mem can hold many tensors. Compute is f32;
 * bf16 and f16 are storage only (bf16: the top 16 bits of an f32; f16 via
 * vload_half, which needs no cl_khr_fp16). */

#ifndef RED_WG
#define RED_WG 256
#endif

/* mrg_dtype codes (lib/include/mrg/tensor.h) */
#define DT_F32 0
#define DT_BF16 1
#define DT_F16 2
#define DT_I32 3

/* Element i of a buffer of any storage dtype, as f32. */
inline float ld_any(global const uchar *p, ulong i, int dt) {
    if (dt == DT_BF16) return as_float((uint)((global const ushort *)p)[i] << 16);
    if (dt == DT_F16) return vload_half(i, (global const half *)p);
    if (dt == DT_I32) return (float)((global const int *)p)[i];
    return ((global const float *)p)[i];
}

/* Stores v as element i of a float buffer of dtype dt (f32, bf16, f16),
 * rounded to nearest even as the host's mrg_f32_to_bf16 / mrg_f32_to_f16
 * (f16 through vstore_half_rte, which needs no cl_khr_fp16). */
inline void st_any(global uchar *p, ulong i, int dt, float v) {
    if (dt == DT_BF16) {
        uint u = as_uint(v);
        if ((u & 0x7fffffffu) > 0x7f800000u)
            u = (u >> 16) | 0x40u; /* quiet NaN */
        else
            u = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
        ((global ushort *)p)[i] = (ushort)u;
    } else if (dt == DT_F16) {
        vstore_half_rte(v, i, (global half *)p);
    } else {
        ((global float *)p)[i] = v;
    }
}

/* Grid-stride loop: the host caps the global size, the kernel loops. */
#define GRID_LOOP(i, n) for (ulong i = get_global_id(0); i < (ulong)(n); i += get_global_size(0))

/* Work-group tree reductions over RED_WG items; every item gets the result.
 * s is local scratch of RED_WG floats; the trailing barrier lets the caller
 * reuse s at once. */
inline float wg_sum(float v, local float *s) {
    uint l = get_local_id(0);
    s[l] = v;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (uint h = RED_WG / 2; h > 0; h >>= 1) {
        if (l < h) s[l] += s[l + h];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    float r = s[0];
    barrier(CLK_LOCAL_MEM_FENCE);
    return r;
}

inline float wg_max(float v, local float *s) {
    uint l = get_local_id(0);
    s[l] = v;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (uint h = RED_WG / 2; h > 0; h >>= 1) {
        if (l < h) s[l] = fmax(s[l], s[l + h]);
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    float r = s[0];
    barrier(CLK_LOCAL_MEM_FENCE);
    return r;
}

/* The max m of xr[0..n) over the work-group and Σ exp(xr[j] − m), both to
 * every item (n = 0 gives (−inf, 0)): the stable softmax of a row. */
inline float2 wg_max_sumexp(global const float *xr, long n, local float *s) {
    const int l = get_local_id(0);
    float mx = -INFINITY;
    for (long j = l; j < n; j += RED_WG) mx = fmax(mx, xr[j]);
    mx = wg_max(mx, s);
    float sum = 0.0f;
    for (long j = l; j < n; j += RED_WG) sum += exp(xr[j] - mx);
    return (float2)(mx, wg_sum(sum, s));
}

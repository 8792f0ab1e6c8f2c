/* Fill, convert, strided copy, broadcasting binary ops, activations. */

kernel void fill_f32(global float *d, ulong doff, ulong n, float v) {
    GRID_LOOP(i, n) d[doff + i] = v;
}

kernel void fill_i32(global int *d, ulong doff, ulong n, int v) {
    GRID_LOOP(i, n) d[doff + i] = v;
}

/* d[0..n) = (f32) s[0..n), s of dtype sdt. */
kernel void convert_to_f32(global const uchar *s, ulong soff, int sdt, global float *d,
                           ulong doff, ulong n) {
    GRID_LOOP(i, n) d[doff + i] = ld_any(s, soff + i, sdt);
}

/* The shape and two stride sets of a strided kernel, from the long8
 * arguments into arrays that can be indexed by axis. */
inline void unpack3(long8 shape, long8 s0, long8 s1, long *sh, long *a0, long *a1) {
    vstore8(shape, 0, sh);
    vstore8(s0, 0, a0);
    vstore8(s1, 0, a1);
}

/* The element offsets, along strides s0 and s1, of flat index i over shape
 * sh (ndim axes, the last varying fastest). */
inline long2 strided_offsets(ulong i, int ndim, const long *sh, const long *s0, const long *s1) {
    ulong r = i;
    long o0 = 0, o1 = 0;
    for (int k = ndim - 1; k >= 0; k--) {
        long c = (long)(r % (ulong)sh[k]);
        r /= (ulong)sh[k];
        o0 += c * s0[k];
        o1 += c * s1[k];
    }
    return (long2)(o0, o1);
}

/* Strided copy of 4-byte elements over shape (ndim <= 6, in .s0-.s5);
 * acc != 0 adds as f32. The flat index i is decomposed last axis fastest. */
kernel void copy_strided(global const uint *src, ulong soff, global uint *dst, ulong doff,
                         int ndim, long8 shape, long8 sstride, long8 dstride, ulong n,
                         int acc) {
    long sh[8], ss[8], ds[8];
    unpack3(shape, sstride, dstride, sh, ss, ds);
    GRID_LOOP(i, n) {
        const long2 off = strided_offsets(i, ndim, sh, ss, ds);
        const long so = off.x, dof = off.y;
        uint v = src[soff + so];
        if (acc)
            dst[doff + dof] = as_uint(as_float(dst[doff + dof]) + as_float(v));
        else
            dst[doff + dof] = v;
    }
}

/* Strided conversion between float dtypes (sdt, ddt: f32, bf16, f16). */
kernel void convert_strided(global const uchar *src, ulong soff, int sdt, global uchar *dst,
                            ulong doff, int ddt, int ndim, long8 shape, long8 sstride,
                            long8 dstride, ulong n) {
    long sh[8], ss[8], ds[8];
    unpack3(shape, sstride, dstride, sh, ss, ds);
    GRID_LOOP(i, n) {
        const long2 off = strided_offsets(i, ndim, sh, ss, ds);
        st_any(dst, doff + off.y, ddt, ld_any(src, soff + off.x, sdt));
    }
}

/* o[i] = a[.] op b[.]; op: 0 add, 1 sub, 2 mul (mrg_binop). */
kernel void binary(global const float *a, ulong aoff, global const float *b, ulong boff,
                   global float *o, ulong ooff, int op, int ndim, long8 shape, long8 astride,
                   long8 bstride, ulong n) {
    long sh[8], as[8], bs[8];
    unpack3(shape, astride, bstride, sh, as, bs);
    GRID_LOOP(i, n) {
        const long2 off = strided_offsets(i, ndim, sh, as, bs);
        float x = a[aoff + off.x], y = b[boff + off.y];
        o[ooff + i] = op == 0 ? x + y : (op == 1 ? x - y : x * y);
    }
}

#define INV_SQRT2 0.70710678118654752f
#define INV_SQRT_2PI 0.39894228040143268f

/* op: 0 GELU (erf form), 1 SiLU, 2 scale by alpha, 3 round to the nearest
 * bf16 kept as f32 (ties to even, NaN stays NaN) (mrg_unop). x, y may alias. */
kernel void unary(global const float *x, ulong xoff, global float *y, ulong yoff, ulong n,
                  int op, float alpha) {
    GRID_LOOP(i, n) {
        float v = x[xoff + i];
        float r;
        if (op == 0)
            r = 0.5f * v * (1.0f + erf(v * INV_SQRT2));
        else if (op == 1)
            r = v / (1.0f + exp(-v));
        else if (op == 2)
            r = alpha * v;
        else {
            uint u = as_uint(v);
            if ((u & 0x7fffffffu) <= 0x7f800000u) u = (u + 0x7fffu + ((u >> 16) & 1u)) & 0xffff0000u;
            r = as_float(u);
        }
        y[yoff + i] = r;
    }
}

/* dx = dy * f'(x) for GELU and SiLU. */
kernel void unary_backward(global const float *x, ulong xoff, global const float *dy,
                           ulong dyoff, global float *dx, ulong dxoff, ulong n, int op) {
    GRID_LOOP(i, n) {
        float v = x[xoff + i];
        float d;
        if (op == 0) {
            d = 0.5f * (1.0f + erf(v * INV_SQRT2)) + v * INV_SQRT_2PI * exp(-0.5f * v * v);
        } else {
            float s = 1.0f / (1.0f + exp(-v));
            d = s * (1.0f + v * (1.0f - s));
        }
        dx[dxoff + i] = dy[dyoff + i] * d;
    }
}

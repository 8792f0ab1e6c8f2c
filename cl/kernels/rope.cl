/* RoPE: rotates head vectors by their positions (and back, for the backward). */

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

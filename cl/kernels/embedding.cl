/* Embedding lookup and its backward. */

/* out (n, D) = w[ids[i]] (w of dtype wdt); ids outside [0, V) give zeros. */
kernel void embedding(global const uchar *w, ulong woff, int wdt, global const int *ids,
                      ulong ioff, global float *out, ulong ooff, long D, long V, ulong total) {
    GRID_LOOP(e, total) {
        const ulong i = e / (ulong)D, d = e % (ulong)D;
        const int id = ids[ioff + i];
        out[ooff + e] = (id >= 0 && id < V) ? ld_any(w, woff + (ulong)id * D + d, wdt) : 0.0f;
    }
}

/* dw (V, D) += dy (n, D) at ids: one item per column d walks the ids in
 * order, so repeated ids add in a fixed order (deterministic, no atomics). */
kernel void embedding_backward(global const float *dy, ulong dyoff, global const int *ids,
                               ulong ioff, global float *dw, ulong dwoff, long n, long D, long V) {
    GRID_LOOP(d, D) {
        for (long i = 0; i < n; i++) {
            const int id = ids[ioff + i];
            if (id >= 0 && id < V) dw[dwoff + (ulong)id * D + d] += dy[dyoff + i * D + d];
        }
    }
}

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

/* The backward, dw (V, D) += dy (n, D) at ids, in three deterministic
 * steps over blocks of EMB_BLOCK rows (a partition fixed by the host, never
 * by the device):
 *   embedding_links             how the rows of each id are chained;
 *   embedding_backward_partial  each id's rows within a block, in order;
 *   embedding_backward_finish   dw plus each id's block sums, in order.
 * Ids outside [0, V) take no part. */
#ifndef EMB_BLOCK
#define EMB_BLOCK 64 /* the host passes MRG_CL_EMB_BLOCK */
#endif
#define EMB_BLOCK_FIRST 1
#define EMB_HEAD 2

/* One item per row i (ids valid):
 *   links[i]       the next row of i's block with the same id, or −1;
 *   links[n + i]   for the first row of its id in its block, the first row
 *                  of a later block with the same id, or −1;
 *   links[2n + i]  EMB_BLOCK_FIRST | EMB_HEAD (the first row of its id). */
kernel void embedding_links(global const int *ids, ulong ioff, long n, long V, global int *links,
                            ulong loff) {
    GRID_LOOP(i, n) {
        global const int *t = ids + ioff;
        const int id = t[i];
        int nxt = -1, nblk = -1, flags = 0;
        if (id >= 0 && id < V) {
            const long b0 = (long)i / EMB_BLOCK * EMB_BLOCK, b1 = min(n, b0 + EMB_BLOCK);
            for (long j = i + 1; j < b1 && nxt < 0; j++)
                if (t[j] == id) nxt = (int)j;
            flags = EMB_BLOCK_FIRST;
            for (long j = b0; j < (long)i && flags; j++)
                if (t[j] == id) flags = 0;
            if (flags) {
                for (long j = b1; j < n && nblk < 0; j++)
                    if (t[j] == id) nblk = (int)j;
                flags |= EMB_HEAD;
                for (long j = 0; j < b0 && (flags & EMB_HEAD); j++)
                    if (t[j] == id) flags = EMB_BLOCK_FIRST;
            }
        }
        links[loff + i] = nxt;
        links[loff + n + i] = nblk;
        links[loff + 2 * n + i] = flags;
    }
}

/* part[i, d] = Σ dy[j, d] over the rows j of i's id in i's block, in row
 * order, for the first such row i. Dimensions (D, n). */
kernel void embedding_backward_partial(global const float *dy, ulong dyoff,
                                       global const int *links, ulong loff, global float *part,
                                       ulong poff, long n, long D) {
    const long d = get_global_id(0), i = get_global_id(1);
    if (d >= D || !(links[loff + 2 * n + i] & EMB_BLOCK_FIRST)) return;
    float acc = 0.0f;
    for (long j = i; j >= 0; j = links[loff + j]) acc += dy[dyoff + j * D + d];
    part[poff + i * D + d] = acc;
}

/* dw[id, d] += the block sums of id in block order, for the first row i of
 * each id. Dimensions (D, n). */
kernel void embedding_backward_finish(global const int *ids, ulong ioff, global const int *links,
                                      ulong loff, global const float *part, ulong poff,
                                      global float *dw, ulong dwoff, long n, long D) {
    const long d = get_global_id(0), i = get_global_id(1);
    if (d >= D || !(links[loff + 2 * n + i] & EMB_HEAD)) return;
    global float *w = dw + dwoff + (ulong)ids[ioff + i] * (ulong)D + d;
    float acc = *w;
    for (long j = i; j >= 0; j = links[loff + n + j]) acc += part[poff + j * D + d];
    *w = acc;
}

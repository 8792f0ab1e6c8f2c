/* Cross-entropy and its backward, all on the device: the loss mean and the
 * counted-row total are computed by kernels, never on the host. */

/* A target counts when it is not `ignore` and lies in [0, V). */
inline int ce_counted(int t, int ignore, long V) { return t != ignore && t >= 0 && t < V; }

/* Per row: part[2r] = logsumexp(row) − row[t], part[2r+1] = 1 (0, 0 when
 * the row is ignored). */
kernel void ce_rows(global const float *x, ulong xoff, global const int *tg, ulong toff,
                    global float *part, long V, int ignore) {
    local float s[RED_WG];
    const long row = get_group_id(0);
    const int l = get_local_id(0);
    const int t = tg[toff + row];
    /* An ignored row skips the loops but still meets every barrier (an
     * early return before a barrier hangs some drivers). */
    const int counted = ce_counted(t, ignore, V);
    const long n = counted ? V : 0;
    global const float *xr = x + xoff + row * V;
    const float2 ms = wg_max_sumexp(xr, n, s);
    const float mx = ms.x, sum = ms.y;
    if (l == 0) {
        part[2 * row] = counted ? mx + log(sum) - xr[t] : 0.0f;
        part[2 * row + 1] = counted ? 1.0f : 0.0f;
    }
}

/* One work-group: loss = Σ part losses / Σ counts (0 when nothing counts). */
kernel void ce_finish(global const float *part, long rows, global float *loss, ulong loff) {
    local float s[RED_WG];
    const int l = get_local_id(0);
    float a = 0.0f, c = 0.0f;
    for (long r = l; r < rows; r += RED_WG) {
        a += part[2 * r];
        c += part[2 * r + 1];
    }
    a = wg_sum(a, s);
    c = wg_sum(c, s);
    if (l == 0) loss[loff] = c > 0.0f ? a / c : 0.0f;
}

/* One work-group: cnt[0] = number of counted rows. */
kernel void ce_count(global const int *tg, ulong toff, long rows, long V, int ignore,
                     global float *cnt) {
    local float s[RED_WG];
    const int l = get_local_id(0);
    float c = 0.0f;
    for (long r = l; r < rows; r += RED_WG) c += ce_counted(tg[toff + r], ignore, V) ? 1.0f : 0.0f;
    c = wg_sum(c, s);
    if (l == 0) cnt[0] = c;
}

/* dlogits = dloss[0]·(softmax(row) − onehot(t))/count; 0 for ignored rows. */
kernel void ce_backward_rows(global const float *x, ulong xoff, global const int *tg,
                             ulong toff, global const float *dloss, ulong dloff,
                             global const float *cnt, global float *dx, ulong dxoff, long V,
                             int ignore) {
    local float s[RED_WG];
    const long row = get_group_id(0);
    const int l = get_local_id(0);
    const int t = tg[toff + row];
    global float *dr = dx + dxoff + row * V;
    const int counted = ce_counted(t, ignore, V);
    const long n = counted ? V : 0; /* no early return before barriers */
    global const float *xr = x + xoff + row * V;
    const float2 ms = wg_max_sumexp(xr, n, s);
    const float mx = ms.x, sum = ms.y;
    if (!counted) {
        for (long j = l; j < V; j += RED_WG) dr[j] = 0.0f;
    } else {
        const float g = dloss[dloff] / cnt[0];
        for (long j = l; j < V; j += RED_WG)
            dr[j] = g * (exp(xr[j] - mx) / sum - (j == t ? 1.0f : 0.0f));
    }
}

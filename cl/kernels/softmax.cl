/* Row softmax / log-softmax and its backward: one work-group of RED_WG
 * items per row, local-memory tree reductions (wg_max_sumexp, wg_sum
 * in common.cl). */

/* causal_tq > 0: row r is query q = r % tq; columns j > q + cols − tq are
 * masked (probability 0, log-probability −inf). */
kernel void softmax_rows(global const float *x, ulong xoff, global float *y, ulong yoff,
                         long cols, long tq, int logsm) {
    local float s[RED_WG];
    const long row = get_group_id(0);
    const int l = get_local_id(0);
    global const float *xr = x + xoff + row * cols;
    global float *yr = y + yoff + row * cols;
    long valid = cols;
    if (tq > 0) valid = clamp(row % tq + cols - tq + 1, 0L, cols);
    const float2 ms = wg_max_sumexp(xr, valid, s);
    const float mx = ms.x, sum = ms.y;
    const float lse = log(sum);
    const float masked = logsm ? -INFINITY : 0.0f;
    for (long j = l; j < cols; j += RED_WG) {
        float v = masked;
        if (j < valid) v = logsm ? xr[j] - mx - lse : exp(xr[j] - mx) / sum;
        yr[j] = v;
    }
}

/* softmax: dx = y·(dy − Σ dy·y); log-softmax: dx = dy − exp(y)·Σ dy. */
kernel void softmax_backward_rows(global const float *y, ulong yoff, global const float *dy,
                                  ulong dyoff, global float *dx, ulong dxoff, long cols,
                                  int logsm) {
    local float s[RED_WG];
    const long row = get_group_id(0);
    const int l = get_local_id(0);
    global const float *yr = y + yoff + row * cols;
    global const float *gr = dy + dyoff + row * cols;
    global float *dr = dx + dxoff + row * cols;
    float acc = 0.0f;
    for (long j = l; j < cols; j += RED_WG) acc += logsm ? gr[j] : gr[j] * yr[j];
    acc = wg_sum(acc, s);
    for (long j = l; j < cols; j += RED_WG)
        dr[j] = logsm ? gr[j] - exp(yr[j]) * acc : yr[j] * (gr[j] - acc);
}

/* Decoding's choice of the next tokens (select_topk in core/backend.h):
 * one work-group of RED_WG items per row of logits (R, V), in five phases
 * separated by barriers (the row's scores and history pass through global
 * memory that only this work-group touches):
 *   1. the row's history: row src[r] of hist_in, then tok[r], into row r of
 *      hist_out (L ids per row);
 *   2. the scores s (V) into work: the logits, or x − lse for beam search,
 *      with lse = max + log Σ exp(x − max) over the work-group (partial sums
 *      per item, then a tree in local memory: the same order every run);
 *   3. the repetition penalty, one item per history entry (an entry equal
 *      to an earlier one is skipped: each distinct id once);
 *   4. s[eos] = −inf;
 *   5. k rounds of a work-group argmax over the (score, id) pairs ranked
 *      after the previous round's winner (higher score first, then lower
 *      id; NaN never), whose winner item 0 writes out.
 *
 * Precision. The host search (lib/generate) keeps beam scores in double:
 * lse, x − lse and the penalty in double. With SEL_FP64 (the device has
 * cl_khr_fp64; cl_program.c defines it) the kernel does the same, so a
 * row's candidates and scores equal the host's up to the last bits of lse,
 * whose sum runs in another order here and whose exp/log come from the
 * device's library (within a few ulp of double); beam results then equal
 * the CPU backend's unless two candidates' scores tie to about 1e-15,
 * far below the f32 differences of the logits themselves. Without fp64
 * (some Intel GPUs) scores are f32, with a compensated (Kahan) sum of the
 * exps: candidates within a row keep their exact order, and scores agree
 * with the double ones to f32 rounding. Greedy scores are the f32 logits
 * either way; the penalty's division is rounded correctly (through double,
 * or by correcting the device's f32 quotient with fma), as the host's is,
 * so greedy ids equal the host's exactly. */

#ifdef SEL_FP64
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
typedef double sreal;
#else
typedef float sreal;
#endif

/* x / p rounded to the nearest f32 (OpenCL lets f32 division be off by
 * 2.5 ulp): through double, or by moving the device's quotient to the
 * neighbour whose remainder x − q·p (exact through fma) is smallest. */
inline float sel_div(float x, float p) {
#ifdef SEL_FP64
    return (float)((double)x / (double)p);
#else
    float q = x / p;
    if (!isfinite(q) || q == 0.0f) return q;
    float r = fabs(fma(-q, p, x));
    for (int dir = 0; dir < 2; dir++) {
        for (int i = 0; i < 4; i++) {
            float c = nextafter(q, dir ? INFINITY : -INFINITY);
            float rc = fabs(fma(-c, p, x));
            if (!(rc < r)) break;
            q = c;
            r = rc;
        }
    }
    return q;
#endif
}

/* A score as the two 32-bit words of an IEEE double (low word first, as
 * a little-endian host reads it; OpenCL devices are little-endian). */
inline int2 sel_words(sreal v) {
#ifdef SEL_FP64
    return as_int2(v);
#else
    /* f32 → f64 bit pattern: exponent rebiased, mantissa shifted; an f32
     * subnormal becomes a normal double */
    uint u = as_uint(v), sign = u >> 31, e = (u >> 23) & 0xffu, m = u & 0x7fffffu;
    ulong bits;
    if (e == 0xffu) {
        bits = (0x7ffUL << 52) | ((ulong)m << 29);
    } else if (e == 0) {
        if (m == 0) {
            bits = 0;
        } else {
            int lead = 31 - (int)clz(m); /* m = 1.f · 2^lead, value m · 2^−149 */
            ulong frac = ((ulong)m << (52 - lead)) & ((1UL << 52) - 1);
            bits = ((ulong)(lead - 149 + 1023) << 52) | frac;
        }
    } else {
        bits = ((ulong)(e - 127 + 1023) << 52) | ((ulong)m << 29);
    }
    bits |= (ulong)sign << 63;
    return (int2)((int)(uint)bits, (int)(uint)(bits >> 32));
#endif
}

/* Whether (v, i) ranks before (bv, bi): the higher score, then the lower
 * id; i < 0 is no candidate. */
inline bool sel_better(sreal v, int i, sreal bv, int bi) {
    if (i < 0) return false;
    if (bi < 0) return true;
    return v > bv || (v == bv && i < bi);
}

kernel void select_topk(global const float *lg, ulong lgoff, long V, global const int *hin,
                        ulong hinoff, long r_in, long nh, global const int *src, ulong srcoff,
                        int has_src, global const int *tok, ulong tokoff, int has_tok,
                        global int *hout, ulong houtoff, long L, global int *work, ulong workoff,
                        global int *out, ulong outoff, int k, int logsm, float penalty, int eos) {
    local float lf[RED_WG];
    local sreal lv[RED_WG];
    local int li[RED_WG];
    const long r = get_group_id(0);
    const int l = get_local_id(0);
    global const float *x = lg + lgoff + r * V;
    global sreal *s = (global sreal *)(work + workoff) + r * V;
    global int *h = hout + houtoff + r * L;

    /* 1. history */
    const long from = has_src ? src[srcoff + r] : r;
    const bool valid = from >= 0 && from < r_in;
    for (long j = l; j < nh; j += RED_WG) h[j] = valid ? hin[hinoff + from * L + j] : -1;
    if (has_tok && l == 0) h[nh] = tok[tokoff + r];
    const long n = nh + (has_tok ? 1 : 0);

    /* 2. scores (every barrier is reached by every item: the loops of the
     * log-softmax run empty for greedy search) */
    const long nv = logsm ? V : 0;
    float mxf = -INFINITY;
    for (long v = l; v < nv; v += RED_WG) mxf = fmax(mxf, x[v]);
    const sreal mx = (sreal)wg_max(mxf, lf);
    sreal sum = 0, comp = 0;
    for (long v = l; v < nv; v += RED_WG) {
#ifdef SEL_FP64
        sum += exp((sreal)x[v] - mx);
#else
        float y = exp(x[v] - mx) - comp, t = sum + y; /* Kahan */
        comp = (t - sum) - y;
        sum = t;
#endif
    }
    lv[l] = sum;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int hw = RED_WG / 2; hw > 0; hw >>= 1) {
        if (l < hw) lv[l] += lv[l + hw];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    const sreal lse = mx + log(lv[0]);
    for (long v = l; v < V; v += RED_WG) s[v] = logsm ? (sreal)x[v] - lse : (sreal)x[v];
    barrier(CLK_GLOBAL_MEM_FENCE | CLK_LOCAL_MEM_FENCE);

    /* 3. repetition penalty (the host's gen_repetition / gen_repetition_d) */
    const long np = penalty != 1.0f ? n : 0;
    for (long j = l; j < np; j += RED_WG) {
        const int t = h[j];
        bool seen = t < 0 || t >= V;
        for (long i = 0; i < j && !seen; i++) seen = h[i] == t;
        if (seen) continue;
        if (logsm) {
            const sreal y = s[t];
#ifdef SEL_FP64
            s[t] = y < 0 ? y * (double)penalty : y / (double)penalty;
#else
            s[t] = y < 0 ? y * penalty : sel_div(y, penalty);
#endif
        } else {
            const float y = (float)s[t];
            s[t] = y < 0 ? y * penalty : sel_div(y, penalty);
        }
    }
    barrier(CLK_GLOBAL_MEM_FENCE);

    /* 4. end of sequence masked */
    if (eos >= 0 && l == 0) s[eos] = -INFINITY;
    barrier(CLK_GLOBAL_MEM_FENCE);

    /* 5. k rounds of argmax below the previous winner (pv, pi) */
    global int *o = out + outoff + r * 3L * k;
    sreal pv = INFINITY;
    int pi = -1;
    for (int c = 0; c < k; c++) {
        sreal bv = -INFINITY;
        int bi = -1;
        const bool more = c == 0 || pi >= 0; /* the same on every item */
        for (long v = l; more && v < V; v += RED_WG) {
            const sreal y = s[v];
            if (isnan(y) || !(y < pv || (y == pv && (int)v > pi))) continue;
            if (sel_better(y, (int)v, bv, bi)) {
                bv = y;
                bi = (int)v;
            }
        }
        lv[l] = bv;
        li[l] = bi;
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int hw = RED_WG / 2; hw > 0; hw >>= 1) {
            if (l < hw && sel_better(lv[l + hw], li[l + hw], lv[l], li[l])) {
                lv[l] = lv[l + hw];
                li[l] = li[l + hw];
            }
            barrier(CLK_LOCAL_MEM_FENCE);
        }
        pv = lv[0];
        pi = li[0];
        barrier(CLK_LOCAL_MEM_FENCE);
        if (l == 0) {
            const int2 w = sel_words(pi >= 0 ? pv : -INFINITY);
            o[3 * c] = pi;
            o[3 * c + 1] = w.x;
            o[3 * c + 2] = w.y;
        }
    }
}

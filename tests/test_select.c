/* mrg_select_topk (lib/ops/select.c: decoding's choice of the next tokens
 * on the device) on every device against a plain host reference written
 * here (penalty with a mark per distinct id, log-softmax in double as
 * lib/generate/beam.c, then a full sort of (score desc, id asc)):
 *   - greedy (f32 logits, k = 1 and k = 5) and log-softmax (k = 6) rows of
 *     V = 1000 and 300 (not multiples of the work-group size) and 32000;
 *   - histories: rows taken from another row of the previous history
 *     (duplicates, a source outside it: ids −1), the token appended, ids
 *     repeated and outside [0, V) (ignored), the written history checked;
 *     no source rows (src NULL) and no history at all (n_hist 0);
 *   - penalties 1 (none), 2 and 1.3 (positive scores divided: rounding),
 *     EOS masked or not;
 *   - ties (equal maxima, equal scores made by the penalty), NaN entries
 *     (never chosen), a row of NaN only (no candidate: id −1), a row of
 *     −inf only, fewer candidates than k;
 *   - no history and no hist_out (mrg lm's greedy choice);
 *   - refusals (k, eos, dtypes, history sizes, a history without hist_out).
 * The CPU matches bit for bit. OpenCL: greedy ids and scores bit for bit;
 * log-softmax ids exactly and scores within 1e-12·(|score| + 10) (double
 * on the device: the sum of exps runs in another order), or with
 * MRG_CL_NO_FP64=1 (the f32 path of devices without cl_khr_fp64; a ctest
 * of its own) within 2e-6·(|score| + 10): x − lse in f32 loses the bits
 * that lse (about 10 here) has above a small log-prob. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mrg/ops.h"
#include "testutil.h"

typedef struct cand {
    double s;
    int id;
} cand;

static int by_rank(const void *a, const void *b) {
    const cand *x = a, *y = b;
    if (x->s != y->s) return x->s > y->s ? -1 : 1;
    return x->id - y->id;
}

/* The reference for one row: the k best of the processed scores. */
static void ref_row(const float *x, int V, const int32_t *hist, int n, float penalty, int eos,
                    bool logsm, int k, int32_t *ids, double *sc) {
    double *s = malloc(sizeof(double) * (size_t)V);
    char *mark = calloc((size_t)V, 1);
    cand *c = malloc(sizeof(cand) * (size_t)V);
    if (logsm) {
        double mx = -INFINITY;
        for (int v = 0; v < V; v++)
            if (x[v] > mx) mx = x[v];
        double sum = 0;
        for (int v = 0; v < V; v++) sum += exp((double)x[v] - mx);
        double lse = mx + log(sum);
        for (int v = 0; v < V; v++) s[v] = (double)x[v] - lse;
    } else {
        for (int v = 0; v < V; v++) s[v] = x[v];
    }
    for (int j = 0; penalty != 1.0f && j < n; j++) {
        int t = hist[j];
        if (t < 0 || t >= V || mark[t]) continue;
        mark[t] = 1;
        if (logsm) {
            s[t] = s[t] < 0 ? s[t] * (double)penalty : s[t] / (double)penalty;
        } else {
            float y = (float)s[t];
            s[t] = y < 0 ? y * penalty : y / penalty;
        }
    }
    if (eos >= 0) s[eos] = -INFINITY;
    int m = 0;
    for (int v = 0; v < V; v++)
        if (!isnan(s[v])) c[m++] = (cand){s[v], v};
    qsort(c, (size_t)m, sizeof *c, by_rank);
    for (int i = 0; i < k; i++) {
        ids[i] = i < m ? c[i].id : -1;
        sc[i] = i < m ? c[i].s : -INFINITY;
    }
    free(c);
    free(mark);
    free(s);
}

typedef struct scase {
    const char *name;
    int R, V, L, nh, k;
    bool logsm, use_src, use_tok;
    float penalty;
    int eos;
    int special; /* 0 random rows; 1 ties, NaN, a NaN row, a −inf row */
} scase;

/* Row r of logits for a case. */
static void make_logits(const scase *c, float *x, unsigned seed) {
    test_fill_uniform(x, (int64_t)c->R * c->V, seed, -6.0f, 6.0f);
    if (c->special != 1) return;
    int V = c->V;
    /* row 0: three equal maxima and NaNs before them */
    x[0] = NAN;
    x[5] = NAN;
    x[17] = x[250] = x[V - 1] = 9.0f;
    /* row 1: the penalty makes ties: 4 / 2 == 2 (id 9) and −1 · 2 == −2 */
    if (c->R > 1) {
        float *y = x + V;
        for (int v = 0; v < V; v++) y[v] = -3.0f;
        y[3] = 4.0f;  /* penalised (history) → 2 */
        y[9] = 2.0f;  /* not in the history: ties with id 3 */
        y[11] = -1.0f; /* penalised → −2 */
        y[12] = -2.0f;
    }
    /* row 2: NaN only (no candidate); row 3: −inf only */
    if (c->R > 2)
        for (int v = 0; v < V; v++) x[2 * V + v] = NAN;
    if (c->R > 3)
        for (int v = 0; v < V; v++) x[3 * V + v] = -INFINITY;
}

static void run_case(mrg_device *dev, const scase *c, bool exact, bool fp32) {
    const int R = c->R, V = c->V, L = c->L, nh = c->nh, k = c->k, Rin = R + 1;
    float *x = malloc(sizeof(float) * (size_t)R * V);
    make_logits(c, x, 11u + (unsigned)V);
    /* previous histories (Rin, L): ids with repeats and out of range */
    int32_t *h0 = malloc(sizeof(int32_t) * (size_t)Rin * L);
    for (int r = 0; r < Rin; r++)
        for (int j = 0; j < L; j++) {
            int32_t v = (int32_t)((r * 7919 + j * 104729) % V);
            if (j % 5 == 3) v = h0[r * L + j - 1]; /* a repeat */
            if (j == 2) v = r % 2 ? -1 : V + 5;    /* ignored */
            h0[r * L + j] = v;
        }
    if (c->special == 1 && R > 1) /* row 1's history penalises ids 3 and 11 */
        for (int j = 0; j < nh; j++) h0[(c->use_src ? 0 : 1) * L + j] = j % 2 ? 3 : 11;
    int32_t *src = malloc(sizeof(int32_t) * R), *tok = malloc(sizeof(int32_t) * R);
    for (int r = 0; r < R; r++) {
        src[r] = (r * 3 + 1) % Rin;
        if (r == 1) src[r] = 0;
        if (r == 2 && R > 4) src[r] = Rin + 4; /* outside: ids −1 */
        tok[r] = (r * 31 + 7) % V;
    }
    if (R > 3 && c->use_src) src[3] = src[0]; /* a row taken twice */
    /* the expected histories and candidates */
    const int n = nh + c->use_tok;
    int32_t *hist = malloc(sizeof(int32_t) * (size_t)R * (n > 0 ? n : 1));
    int32_t *want_id = malloc(sizeof(int32_t) * (size_t)R * k);
    double *want_sc = malloc(sizeof(double) * (size_t)R * k);
    for (int r = 0; r < R; r++) {
        int from = c->use_src ? src[r] : r;
        for (int j = 0; j < nh; j++) hist[r * n + j] = from < Rin ? h0[from * L + j] : -1;
        if (c->use_tok) hist[r * n + nh] = tok[r];
        ref_row(x + (size_t)r * V, V, hist + r * n, n, c->penalty, c->eos, c->logsm, k,
                want_id + (size_t)r * k, want_sc + (size_t)r * k);
    }
    mrg_tensor *lg = mrg_tensor_from_f32(dev, MRG_SHAPE(R, V), x);
    mrg_tensor *hin = nh > 0 ? mrg_tensor_from_i32(dev, MRG_SHAPE(Rin, L), h0) : NULL;
    mrg_tensor *ts = c->use_src ? mrg_tensor_from_i32(dev, MRG_SHAPE(R), src) : NULL;
    mrg_tensor *tt = c->use_tok ? mrg_tensor_from_i32(dev, MRG_SHAPE(R, 1), tok) : NULL;
    mrg_tensor *hout = mrg_tensor_zeros(dev, MRG_I32, MRG_SHAPE(R + 2, L));
    mrg_tensor *out = mrg_select_topk(lg, hin, nh, ts, tt, hout, k, c->logsm, c->penalty, c->eos);
    CHECK(out != NULL);
    int32_t *packed = malloc(sizeof(int32_t) * 3 * (size_t)R * k);
    int32_t *got_id = malloc(sizeof(int32_t) * (size_t)R * k);
    double *got_sc = malloc(sizeof(double) * (size_t)R * k);
    int32_t *got_h = malloc(sizeof(int32_t) * (size_t)(R + 2) * L);
    if (out && mrg_tensor_download(out, packed) == MRG_OK &&
        mrg_tensor_download(hout, got_h) == MRG_OK) {
        mrg_select_unpack(packed, (int64_t)R * k, got_id, got_sc);
        int bad = 0;
        for (int r = 0; r < R && bad < 3; r++)
            for (int j = 0; j < n && bad < 3; j++)
                if (got_h[r * L + j] != hist[r * n + j]) {
                    fprintf(stderr, "%s: history row %d entry %d: %d, want %d\n", c->name, r, j,
                            got_h[r * L + j], hist[r * n + j]);
                    bad++;
                }
        /* ids exact; scores exact, or within the device's rounding */
        double tol = exact || !c->logsm ? 0 : fp32 ? 2e-6 : 1e-12;
        for (int i = 0; i < R * k && bad < 3; i++) {
            double w = want_sc[i], g = got_sc[i];
            bool ok = got_id[i] == want_id[i] &&
                      (want_id[i] < 0 || (tol == 0 ? memcmp(&g, &w, sizeof w) == 0
                                                   : (g == w || fabs(g - w) <= tol * (fabs(w) + 10))));
            if (!ok) {
                fprintf(stderr, "%s: row %d candidate %d: id %d score %.17g, want %d %.17g\n",
                        c->name, i / k, i % k, got_id[i], g, want_id[i], w);
                bad++;
            }
        }
        CHECK(bad == 0);
    } else {
        CHECK(false);
    }
    mrg_step_reset(dev);
    free(got_h);
    free(got_sc);
    free(got_id);
    free(packed);
    free(want_sc);
    free(want_id);
    free(hist);
    free(tok);
    free(src);
    free(h0);
    free(x);
}

static void check_refusals(mrg_device *dev) {
    mrg_tensor *lg = mrg_tensor_zeros(dev, MRG_F32, MRG_SHAPE(2, 10));
    mrg_tensor *h = mrg_tensor_zeros(dev, MRG_I32, MRG_SHAPE(2, 4));
    mrg_tensor *hf = mrg_tensor_zeros(dev, MRG_F32, MRG_SHAPE(2, 4));
    CHECK(mrg_select_topk(lg, NULL, 0, NULL, NULL, h, 0, false, 1, -1) == NULL);
    CHECK(mrg_select_topk(lg, NULL, 0, NULL, NULL, h, MRG_SELECT_MAX_K + 1, false, 1, -1) == NULL);
    CHECK(mrg_select_topk(lg, NULL, 0, NULL, NULL, h, 1, false, 1, 10) == NULL);
    CHECK(strstr(mrg_last_error(), "eos") != NULL);
    CHECK(mrg_select_topk(lg, NULL, 0, NULL, NULL, h, 1, false, 0, -1) == NULL);
    CHECK(mrg_select_topk(lg, NULL, 0, NULL, NULL, hf, 1, false, 1, -1) == NULL);
    CHECK(mrg_select_topk(h, NULL, 0, NULL, NULL, h, 1, false, 1, -1) == NULL);
    CHECK(mrg_select_topk(lg, NULL, 2, NULL, NULL, h, 1, false, 1, -1) == NULL); /* no hist_in */
    CHECK(mrg_select_topk(lg, h, 4, NULL, h, h, 1, false, 1, -1) == NULL);     /* 4 + 1 > 4 */
    mrg_tensor *one = mrg_tensor_zeros(dev, MRG_I32, MRG_SHAPE(1, 4));
    CHECK(mrg_select_topk(lg, NULL, 0, NULL, NULL, one, 1, false, 1, -1) == NULL); /* rows */
    CHECK(mrg_select_topk(lg, NULL, 0, NULL, NULL, h, 1, false, 1, -1) != NULL);
    CHECK(mrg_select_topk(lg, NULL, 0, NULL, h, NULL, 1, false, 1, -1) == NULL); /* tok, no hist_out */
    CHECK(strstr(mrg_last_error(), "hist_out") != NULL);
    /* no history at all: no hist_out needed; a row of zeros picks id 0, then the eos
     * mask moves it to id 1 */
    mrg_tensor *o1 = mrg_select_topk(lg, NULL, 0, NULL, NULL, NULL, 2, false, 2, 0);
    int32_t p[2 * 2 * 3], ids[4];
    double sc[4];
    CHECK(o1 && mrg_tensor_download(o1, p) == MRG_OK);
    mrg_select_unpack(p, 4, ids, sc);
    CHECK(ids[0] == 1 && ids[1] == 2 && ids[2] == 1 && sc[0] == 0 && sc[3] == 0);
    mrg_step_reset(dev);
}

int main(void) {
    const char *no64 = getenv("MRG_CL_NO_FP64");
    bool fp32 = no64 && *no64 && strcmp(no64, "0") != 0;
    static const scase cases[] = {
        /* name        R  V      L   nh k  log    src    tok    penalty eos  special */
        {"greedy",      5, 1000,  12, 6, 1, false, true,  true,  2.0f, 7,   0},
        {"greedy k5",   5, 300,   12, 6, 5, false, true,  true,  1.3f, -1,  0},
        {"greedy 1.0",  3, 1000,  8,  3, 1, false, false, true,  1.0f, 2,   0},
        {"beam",        6, 1000,  12, 7, 6, true,  true,  true,  2.0f, 5,   0},
        {"beam 1.3",    4, 300,   12, 7, 6, true,  true,  true,  1.3f, -1,  0},
        {"beam no src", 3, 1000,  12, 4, 6, true,  false, true,  2.0f, 1,   0},
        {"first step",  2, 1000,  12, 1, 6, true,  false, false, 2.0f, 3,   0},
        {"no history",  2, 300,   12, 0, 4, true,  false, false, 2.0f, -1,  0},
        {"vocab 32000", 3, 32000, 20, 9, 6, true,  true,  true,  2.0f, 2,   0},
        {"greedy 32000",3, 32000, 20, 9, 1, false, true,  true,  2.0f, 2,   0},
        {"ties",        5, 300,   12, 6, 5, false, false, false, 2.0f, -1,  1},
        {"ties beam",   5, 300,   12, 6, 8, true,  false, false, 2.0f, -1,  1},
        {"few",         4, 5,     12, 2, 8, true,  true,  true,  2.0f, 4,   0},
    };
    for (test_device_iter it = {0}; test_next_device(&it);) {
        bool exact = mrg_device_is_cpu(it.dev);
        if (fp32 && exact) continue; /* the f32 run checks OpenCL only */
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            int before = mrg_test_failures;
            run_case(it.dev, &cases[i], exact, fp32);
            if (mrg_test_failures != before) fprintf(stderr, "  case %s failed\n", cases[i].name);
        }
        check_refusals(it.dev);
    }
    return test_finish("test_select");
}

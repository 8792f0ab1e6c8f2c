/* METEOR 1.5 alignment and statistics, reproducing the jar's Aligner:
 * matches from the modules exact, stem, synonym, paraphrase (in that order,
 * words compared by Java hash codes as the jar does), one-to-one matches
 * fixed first, then a left-to-right beam search (beam 40) over the
 * reference positions, paths ranked by weighted match count (integer,
 * module weights 1, .5, .5, .5 — Java's int += double truncation kept),
 * then fewer chunks, then smaller distance. The jar's quirk of adding a
 * new match's distance to the parent path is kept: it changes which path
 * wins ties, hence the score. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "metrics/meteor_internal.h"
#include "mrg/metrics.h"

#define BEAM 40

typedef struct match {
    int start, length;    /* reference (line 2) span */
    int mstart, mlength;  /* hypothesis (line 1) span */
    int module;
} match;

typedef struct mlist {
    match *m;
    int n, cap;
} mlist;

typedef struct path {
    const match **matches; /* [n2] */
    bool *used1, *used2;   /* [n1], [n2] */
    int m1, m2, chunks, idx, last_end, distance;
    int order;             /* position before sorting (stable sort) */
} path;

typedef struct ctx {
    int n1, n2;
    mlist *ml;  /* [n2] */
    int *cov1, *cov2;
} ctx;

static const double beam_weights[4] = {1.0, 0.5, 0.5, 0.5};

static int add_match(ctx *c, int start, int length, int mstart, int mlength, int module) {
    mlist *l = &c->ml[start];
    if (l->n == l->cap) {
        int cap = l->cap ? l->cap * 2 : 4;
        match *nm = realloc(l->m, (size_t)cap * sizeof *nm);
        if (!nm) return -1;
        l->m = nm;
        l->cap = cap;
    }
    l->m[l->n++] = (match){start, length, mstart, mlength, module};
    for (int k = 0; k < mlength; k++) c->cov1[mstart + k]++;
    for (int k = 0; k < length; k++) c->cov2[start + k]++;
    return 0;
}

static bool sets_meet(const mv_lex *lex, int a, int b) {
    for (int i = lex->syn_off[a]; i < lex->syn_off[a + 1]; i++)
        for (int j = lex->syn_off[b]; j < lex->syn_off[b + 1]; j++)
            if (lex->syn[i] == lex->syn[j]) return true;
    return false;
}

/* The first entry of the reference phrase w[0..len) (its hash h), or -1. */
static int phrase_find(const mv_lex *lex, const int *w, int len, uint64_t h) {
    const mv_paraphrases *p = lex->para;
    size_t mask = lex->phr_nslots - 1;
    for (size_t i = (size_t)h & mask;; i = (i + 1) & mask) {
        int e = lex->phr_slots[i];
        if (e < 0) return -1;
        if (p->ref_off[e + 1] - p->ref_off[e] == len &&
            !memcmp(p->ref + p->ref_off[e], w, (size_t)len * sizeof *w))
            return e;
    }
}

/* Paraphrase entries whose reference phrase matches line at pos, ordered
 * by phrase length, then file order (the jar's transducer order). The jar
 * keeps the first cap matches in file order; when more match, the same
 * ones are kept here. */
static int ref_paths(const mv_lex *lex, const mv_sent *line, int pos, int *out, int cap) {
    int maxl = lex->para_maxlen[line->w[pos]], head[MV_PHRASE_MAX_WORDS + 1], total = 0;
    if (maxl > line->n - pos) maxl = line->n - pos;
    uint64_t h = MV_HASH_SEED;
    for (int len = 1; len <= maxl; len++) {
        h = mv_hash(&line->w[pos + len - 1], sizeof(int), h); /* FNV-1a runs on */
        head[len] = phrase_find(lex, line->w + pos, len, h);
        for (int e = head[len]; e >= 0 && total <= cap; e = lex->phr_next[e]) total++;
    }
    int n = 0;
    if (total <= cap) {
        for (int len = 1; len <= maxl; len++)
            for (int e = head[len]; e >= 0; e = lex->phr_next[e]) out[n++] = e;
        return n;
    }
    /* all the entries share the first word: their ids are in file order.
     * Take the cap smallest ids (a merge of the per-length chains), then
     * list them by length. */
    int cur[MV_PHRASE_MAX_WORDS + 1], taken_len[256];
    for (int len = 1; len <= maxl; len++) cur[len] = head[len];
    if (cap > 256) cap = 256;
    for (; n < cap; n++) {
        int best = 0;
        for (int len = 1; len <= maxl; len++)
            if (cur[len] >= 0 && (!best || cur[len] < cur[best])) best = len;
        out[n] = cur[best];
        taken_len[n] = best;
        cur[best] = lex->phr_next[cur[best]];
    }
    int tmp[256], k = 0;
    for (int len = 1; len <= maxl; len++)
        for (int i = 0; i < n; i++)
            if (taken_len[i] == len) tmp[k++] = out[i];
    memcpy(out, tmp, (size_t)n * sizeof *out);
    return n;
}

static bool seq_at(const mv_sent *line, int pos, const int *w, int n) {
    if (pos + n > line->n) return false;
    return memcmp(line->w + pos, w, (size_t)n * sizeof(int)) == 0;
}

static int paraphrase_matches(ctx *c, const mv_lex *lex, const mv_sent *t, const mv_sent *r, int module) {
    const mv_paraphrases *p = lex->para;
    int pars[256];
    for (int j = 0; j < r->n; j++) {
        int np = ref_paths(lex, r, j, pars, 256);
        for (int k = 0; k < np; k++) {
            int e = pars[k], len = p->ref_off[e + 1] - p->ref_off[e];
            const int *w = p->par + p->par_off[e];
            int nw = p->par_off[e + 1] - p->par_off[e];
            for (int i = 0; i < t->n; i++)
                if (seq_at(t, i, w, nw) && add_match(c, j, len, i, nw, module)) return -1;
        }
    }
    for (int i = 0; i < t->n; i++) {
        int np = ref_paths(lex, t, i, pars, 256);
        for (int k = 0; k < np; k++) {
            int e = pars[k], len = p->ref_off[e + 1] - p->ref_off[e];
            const int *w = p->par + p->par_off[e];
            int nw = p->par_off[e + 1] - p->par_off[e];
            for (int j = 0; j < r->n; j++)
                if (seq_at(r, j, w, nw) && add_match(c, j, nw, i, len, module)) return -1;
        }
    }
    return 0;
}

/* ---- paths ---------------------------------------------------------------- */

typedef struct pool {
    path **free;
    int nfree, capfree;
    int n1, n2;
} pool;

static path *path_new(pool *pl) {
    if (pl->nfree) return pl->free[--pl->nfree];
    size_t sz = sizeof(path) + (size_t)pl->n2 * sizeof(match *) + (size_t)pl->n1 + (size_t)pl->n2 + 16;
    path *p = malloc(sz);
    if (!p) return NULL;
    p->matches = (const match **)(p + 1);
    p->used1 = (bool *)(p->matches + pl->n2);
    p->used2 = p->used1 + pl->n1;
    return p;
}

static void path_free(pool *pl, path *p) {
    if (!p) return;
    if (pl->nfree == pl->capfree) {
        int cap = pl->capfree ? pl->capfree * 2 : 64;
        path **nf = realloc(pl->free, (size_t)cap * sizeof *nf);
        if (!nf) {
            free(p);
            return;
        }
        pl->free = nf;
        pl->capfree = cap;
    }
    pl->free[pl->nfree++] = p;
}

static path *path_copy(pool *pl, const path *s) {
    path *p = path_new(pl);
    if (!p) return NULL;
    memcpy(p->matches, s->matches, (size_t)pl->n2 * sizeof(match *));
    memcpy(p->used1, s->used1, (size_t)pl->n1);
    memcpy(p->used2, s->used2, (size_t)pl->n2);
    p->m1 = s->m1;
    p->m2 = s->m2;
    p->chunks = s->chunks;
    p->idx = s->idx;
    p->last_end = s->last_end;
    p->distance = s->distance;
    return p;
}

static bool is_used(const path *p, const match *m) {
    for (int i = 0; i < m->length; i++)
        if (p->used2[m->start + i]) return true;
    for (int i = 0; i < m->mlength; i++)
        if (p->used1[m->mstart + i]) return true;
    return false;
}

static void take(path *p, const match *m) {
    /* Java: int += double truncates toward zero */
    p->m1 = (int)(p->m1 + m->mlength * beam_weights[m->module]);
    p->m2 = (int)(p->m2 + m->length * beam_weights[m->module]);
    if (p->last_end != -1 && m->mstart != p->last_end) p->chunks++;
    p->idx = m->start + m->length;
    p->last_end = m->mstart + m->mlength;
}

/* PARTIAL_COMPARE_TOTAL: more weighted matches, fewer chunks, less distance;
 * ties keep their order (Java's sort is stable: order is the position in
 * the list the jar sorts, i.e. the order of insertion). */
static int cmp_key(int m, int chunks, int distance, long order, const path *y) {
    int d = (y->m1 + y->m2) - m;
    if (d) return d > 0 ? 1 : -1;
    if (chunks != y->chunks) return chunks < y->chunks ? -1 : 1;
    if (distance != y->distance) return distance < y->distance ? -1 : 1;
    return (order > y->order) - (order < y->order);
}

static int cmp_path(const void *a, const void *b) {
    const path *x = *(path *const *)a, *y = *(path *const *)b;
    return cmp_key(x->m1 + x->m2, x->chunks, x->distance, x->order, y);
}

/* The paths of the next reference position. The jar collects every
 * extension of the BEAM best paths, sorts them and goes on with the first
 * BEAM: only those can matter, so only the BEAM best (by the same total
 * order, insertion order breaking ties) are kept as they are offered. Same
 * result, memory O(BEAM) paths instead of O(BEAM x matches per position). */
typedef struct beam {
    path *p[BEAM];
    int n, worst; /* worst: index of the last in order, when n == BEAM */
    long seq;     /* insertion counter (the jar's list position) */
} beam;

static void beam_find_worst(beam *b) {
    b->worst = 0;
    for (int i = 1; i < b->n; i++)
        if (cmp_path(&b->p[i], &b->p[b->worst]) > 0) b->worst = i;
}

/* Whether a path with this key would be kept (when offered next). */
static bool beam_would_keep(const beam *b, int m, int chunks, int distance) {
    return b->n < BEAM || cmp_key(m, chunks, distance, b->seq, b->p[b->worst]) < 0;
}

/* Offers p: true when kept (the beam owns it, and frees what it drops to
 * the pool), false when it is not among the BEAM best (the caller keeps it). */
static bool beam_offer(beam *b, pool *pl, path *p) {
    p->order = b->seq++;
    if (b->n < BEAM) {
        b->p[b->n++] = p;
        if (b->n == BEAM) beam_find_worst(b);
        return true;
    }
    if (cmp_path(&p, &b->p[b->worst]) >= 0) return false;
    path_free(pl, b->p[b->worst]);
    b->p[b->worst] = p;
    beam_find_worst(b);
    return true;
}

/* The beam search (Aligner.resolve). Returns the best path or NULL (OOM). */
static path *resolve(ctx *c, pool *pl, path *start) {
    beam *cur = calloc(1, sizeof *cur), *next = calloc(1, sizeof *next);
    if (!cur || !next) {
        free(cur);
        free(next);
        path_free(pl, start);
        return NULL;
    }
    beam_offer(next, pl, start);
    for (int current = 0; current <= c->n2; current++) {
        beam *tmp = cur;
        cur = next;
        next = tmp;
        next->n = 0;
        next->seq = 0;
        qsort(cur->p, (size_t)cur->n, sizeof *cur->p, cmp_path);
        bool kept[BEAM] = {false};
        for (int rank = 0; rank < cur->n; rank++) {
            path *p = cur->p[rank];
            if (current == c->n2) {
                if (p->last_end != -1) p->chunks++;
                kept[rank] = beam_offer(next, pl, p);
                continue;
            }
            if (p->used2[current]) {
                if (current < p->idx) {
                    kept[rank] = beam_offer(next, pl, p);
                } else if (p->matches[p->idx]) {
                    const match *m = p->matches[p->idx];
                    take(p, m);
                    p->distance += abs(m->start - m->mstart);
                    kept[rank] = beam_offer(next, pl, p);
                }
                continue;
            }
            const mlist *ml = &c->ml[current];
            for (int i = 0; i < ml->n; i++) {
                const match *m = &ml->m[i];
                if (is_used(p, m)) continue;
                /* the extension's key, as take() would make it */
                int m1 = (int)(p->m1 + m->mlength * beam_weights[m->module]);
                int m2 = (int)(p->m2 + m->length * beam_weights[m->module]);
                int chunks = p->chunks + (p->last_end != -1 && m->mstart != p->last_end);
                if (beam_would_keep(next, m1 + m2, chunks, p->distance)) {
                    path *q = path_copy(pl, p);
                    if (!q) goto oom;
                    for (int k = 0; k < m->length; k++) q->used2[m->start + k] = true;
                    for (int k = 0; k < m->mlength; k++) q->used1[m->mstart + k] = true;
                    q->matches[current] = m;
                    take(q, m);
                    beam_offer(next, pl, q); /* kept: would_keep said so */
                } else {
                    next->seq++; /* offered and dropped: it still takes its place */
                }
                p->distance += abs(m->start - m->mstart); /* sic: the parent, as the jar does */
            }
            if (p->last_end != -1) {
                p->chunks++;
                p->last_end = -1;
            }
            p->idx++;
            kept[rank] = beam_offer(next, pl, p);
        }
        if (next->n == 0 && cur->n > 0) /* cannot happen with consistent input */
            kept[0] = beam_offer(next, pl, cur->p[0]);
        for (int i = 0; i < cur->n; i++)
            if (!kept[i]) path_free(pl, cur->p[i]);
        cur->n = 0;
        continue;
    oom:
        for (int i = 0; i < cur->n; i++)
            if (!kept[i]) path_free(pl, cur->p[i]);
        cur->n = 0;
        for (int i = 0; i < next->n; i++) path_free(pl, next->p[i]);
        free(cur);
        free(next);
        return NULL;
    }
    qsort(next->p, (size_t)next->n, sizeof *next->p, cmp_path);
    path *best = next->p[0];
    for (int i = 1; i < next->n; i++) path_free(pl, next->p[i]);
    free(cur);
    free(next);
    return best;
}

/* ---- statistics ----------------------------------------------------------- */

static const double score_weights[4] = {1.0, 0.6, 0.8, 0.6}; /* English, task rank */

void mv_meteor_compute(mv_stats *s) {
    const double alpha = 0.85, beta = 0.2, gamma = 0.6, delta = 0.75;
    double twl = delta * (s->test_len - s->test_fn) + (1.0 - delta) * s->test_fn;
    double rwl = delta * (s->ref_len - s->ref_fn) + (1.0 - delta) * s->ref_fn;
    double twm = 0, rwm = 0;
    for (int i = 0; i < 4; i++) twm += s->test_content[i] * score_weights[i] * delta;
    for (int i = 0; i < 4; i++) rwm += s->ref_content[i] * score_weights[i] * delta;
    for (int i = 0; i < 4; i++) twm += s->test_function[i] * score_weights[i] * (1.0 - delta);
    for (int i = 0; i < 4; i++) rwm += s->ref_function[i] * score_weights[i] * (1.0 - delta);
    double p = twm / twl, r = rwm / rwl;
    double fmean = 1.0 / (((1.0 - alpha) / p) + (alpha / r));
    double frag;
    if (s->test_total == s->test_len && s->ref_total == s->ref_len && s->chunks == 1)
        frag = 0;
    else
        frag = s->chunks / ((s->test_word_matches + s->ref_word_matches) / 2);
    double score = fmean * (1.0 - gamma * pow(frag, beta));
    s->score = isnan(score) ? 0 : (score > 0 ? score : 0.0);
}

void mv_meteor_add(mv_stats *a, const mv_stats *s) {
    a->test_len += s->test_len;
    a->ref_len += s->ref_len;
    a->test_fn += s->test_fn;
    a->ref_fn += s->ref_fn;
    a->test_total += s->test_total;
    a->ref_total += s->ref_total;
    for (int i = 0; i < 4; i++) {
        a->test_content[i] += s->test_content[i];
        a->ref_content[i] += s->ref_content[i];
        a->test_function[i] += s->test_function[i];
        a->ref_function[i] += s->ref_function[i];
    }
    if (!(s->test_total == s->test_len && s->ref_total == s->ref_len && s->chunks == 1.0))
        a->chunks += s->chunks;
    a->test_word_matches += s->test_word_matches;
    a->ref_word_matches += s->ref_word_matches;
}

int mv_meteor_align(const mv_lex *lex, const mv_sent *t, const mv_sent *r, mv_stats *out) {
    ctx c = {t->n, r->n, NULL, NULL, NULL};
    pool pl = {NULL, 0, 0, t->n, r->n};
    int rc = -1;
    c.ml = calloc((size_t)r->n + 1, sizeof *c.ml);
    c.cov1 = calloc((size_t)t->n + 1, sizeof *c.cov1);
    c.cov2 = calloc((size_t)r->n + 1, sizeof *c.cov2);
    if (!c.ml || !c.cov1 || !c.cov2) goto done;
    /* identical sentences need exact matches only */
    bool same = t->n == r->n;
    for (int i = 0; same && i < t->n; i++) same = lex->hash[t->w[i]] == lex->hash[r->w[i]];
    unsigned mods = same ? MRG_METEOR_EXACT : lex->modules;
    for (int j = 0; j < r->n; j++)
        for (int i = 0; i < t->n; i++)
            if (lex->hash[t->w[i]] == lex->hash[r->w[j]] && add_match(&c, j, 1, i, 1, 0)) goto done;
    if (mods & MRG_METEOR_STEM)
        for (int j = 0; j < r->n; j++)
            for (int i = 0; i < t->n; i++)
                if (lex->stem[t->w[i]] == lex->stem[r->w[j]] &&
                    lex->hash[t->w[i]] != lex->hash[r->w[j]] && add_match(&c, j, 1, i, 1, 1))
                    goto done;
    if (mods & MRG_METEOR_SYNONYM)
        for (int j = 0; j < r->n; j++)
            for (int i = 0; i < t->n; i++)
                if (lex->hash[t->w[i]] != lex->hash[r->w[j]] && sets_meet(lex, t->w[i], r->w[j]) &&
                    add_match(&c, j, 1, i, 1, 2))
                    goto done;
    if ((mods & MRG_METEOR_PARAPHRASE) && paraphrase_matches(&c, lex, t, r, 3)) goto done;

    path *start = path_new(&pl);
    if (!start) goto done;
    memset(start->matches, 0, (size_t)r->n * sizeof(match *));
    memset(start->used1, 0, (size_t)t->n);
    memset(start->used2, 0, (size_t)r->n);
    start->m1 = start->m2 = start->chunks = start->idx = start->distance = 0;
    start->last_end = -1;
    /* one-to-one matches that overlap nothing are fixed */
    for (int j = 0; j < r->n; j++) {
        if (c.ml[j].n != 1) continue;
        const match *m = &c.ml[j].m[0];
        bool overlap = false;
        for (int k = 0; k < m->length; k++) overlap |= c.cov2[j + k] != 1;
        for (int k = 0; k < m->mlength; k++) overlap |= c.cov1[m->mstart + k] != 1;
        if (overlap) continue;
        start->matches[j] = m;
        for (int k = 0; k < m->length; k++) start->used2[j + k] = true;
        for (int k = 0; k < m->mlength; k++) start->used1[m->mstart + k] = true;
    }
    path *best = resolve(&c, &pl, start);
    if (!best) goto done;

    memset(out, 0, sizeof *out);
    out->test_len = t->n;
    out->ref_len = r->n;
    for (int i = 0; i < t->n; i++) out->test_fn += lex->function[t->w[i]];
    for (int j = 0; j < r->n; j++) out->ref_fn += lex->function[r->w[j]];
    for (int j = 0; j < r->n; j++) {
        const match *m = best->matches[j];
        if (!m) continue;
        for (int k = 0; k < m->mlength; k++) {
            if (lex->function[t->w[m->mstart + k]])
                out->test_function[m->module]++;
            else
                out->test_content[m->module]++;
        }
        for (int k = 0; k < m->length; k++) {
            if (lex->function[r->w[m->start + k]])
                out->ref_function[m->module]++;
            else
                out->ref_content[m->module]++;
        }
    }
    /* chunks of the final alignment (getCountAndChunks) */
    int chunks = 0, last_end = -1;
    for (int idx = 0; idx < r->n;) {
        const match *m = best->matches[idx];
        if (!m) {
            if (last_end != -1) {
                chunks++;
                last_end = -1;
            }
            idx++;
        } else {
            if (last_end != -1 && m->mstart != last_end) chunks++;
            idx = m->start + m->length;
            last_end = m->mstart + m->mlength;
        }
    }
    if (last_end != -1) chunks++;
    out->chunks = chunks;
    for (int i = 0; i < 4; i++) {
        out->test_total += out->test_content[i] + out->test_function[i];
        out->ref_total += out->ref_content[i] + out->ref_function[i];
    }
    out->test_word_matches = out->test_total;
    out->ref_word_matches = out->ref_total;
    mv_meteor_compute(out);
    path_free(&pl, best);
    rc = 0;
done:
    for (int j = 0; c.ml && j < r->n; j++) free(c.ml[j].m);
    free(c.ml);
    free(c.cov1);
    free(c.cov2);
    for (int i = 0; i < pl.nfree; i++) free(pl.free[i]);
    free(pl.free);
    return rc;
}

/* llama2.c checkpoints (the "legacy" export of Karpathy's llama2.c):
 * a header of 7 int32 (dim, hidden_dim, n_layers, n_heads, n_kv_heads,
 * vocab_size, seq_len; a negative vocab_size means a separate classifier),
 * then f32 arrays in this order, each stacked over layers where it is per
 * layer: token_embedding (V, D), rms_att (L, D), wq (L, D, D),
 * wk (L, Dkv, D), wv (L, Dkv, D), wo (L, D, D), rms_ffn (L, D),
 * w1 (L, F, D), w2 (L, D, F), w3 (L, F, D), rms_final (D),
 * freq_cis_real (S, Dh/2), freq_cis_imag (S, Dh/2), [wcls (V, D)].
 * RoPE pairs are interleaved (2i, 2i+1); w1 is the gate, w3 the up
 * projection, w2 the down projection. The RoPE tables are recomputed, not
 * read. Each weight is read with pread into one host buffer, so no copy of
 * the whole file stays in memory. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "models/llama_internal.h"

#define LLAMA2C_MAGIC 0x616b3432u /* "ak42": the newer versioned exports */

typedef struct l2c_reader {
    int fd;
    const char *path;
    float *buf;     /* host staging for one tensor */
    size_t buf_cap; /* floats */
} l2c_reader;

/* Reads n floats at byte offset off into r->buf. */
static mrg_status read_floats(l2c_reader *r, int64_t off, int64_t n) {
    if ((size_t)n > r->buf_cap) {
        float *b = realloc(r->buf, sizeof(float) * (size_t)n);
        if (!b) return mrg_error(MRG_ERR_OOM, "out of host memory");
        r->buf = b;
        r->buf_cap = (size_t)n;
    }
    size_t want = sizeof(float) * (size_t)n, got = 0;
    char *dst = (char *)r->buf;
    while (got < want) {
        ssize_t k = pread(r->fd, dst + got, want - got, (off_t)(off + (int64_t)got));
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0)
            return mrg_error(MRG_ERR_IO, "%s: read failed at byte %lld: %s", r->path,
                             (long long)(off + (int64_t)got),
                             k < 0 ? strerror(errno) : "end of file");
        got += (size_t)k;
    }
    return MRG_OK;
}

/* Creates the frozen parameter of one slot and fills it from the f32 array
 * at byte offset off. */
static mrg_status load_slot(l2c_reader *r, mrg_device *dev, const llama_slot *s, int64_t off,
                            const mrg_llama_load_opts *opts) {
    int64_t n = s->ndim == 1 ? s->shape[0] : s->shape[0] * s->shape[1];
    MRG_TRY(read_floats(r, off, n));
    mrg_dtype dt = llama_pick_dtype(opts, MRG_F32);
    mrg_tensor *t = mrg_param_new(dev, dt, s->ndim, s->shape, false, s->name);
    if (!t) return mrg_error_context(MRG_ERR_OOM, "%s: %s", r->path, s->name);
    *s->t = t;
    return dt == MRG_F32 ? mrg_tensor_upload(t, r->buf) : mrg_tensor_upload_f32(t, r->buf);
}

/* Byte offsets of the stacked arrays; returns the expected file size, or -1
 * when the header's sizes overflow. */
typedef struct l2c_layout {
    int64_t emb, rms_att, wq, wk, wv, wo, rms_ffn, w1, w2, w3, rms_final, wcls, total;
} l2c_layout;

static bool layout_of(const mrg_llama_config *c, l2c_layout *o) {
    int64_t D = c->dim, F = c->hidden_dim, L = c->n_layers, V = c->vocab_size;
    int64_t Dh = D / c->n_heads, Dkv = Dh * c->n_kv_heads, S = c->max_seq;
    /* every factor is below 2^31, so the products below stay far from
     * overflow as long as each term fits 2^62 */
    if (D > (1 << 20) || F > (1 << 22) || L > 4096 || V > (1 << 24) || S > (1 << 24)) return false;
    int64_t off = 28;
#define NEXT(field, count) (o->field = off, off += 4 * (count))
    NEXT(emb, V * D);
    NEXT(rms_att, L * D);
    NEXT(wq, L * D * D);
    NEXT(wk, L * Dkv * D);
    NEXT(wv, L * Dkv * D);
    NEXT(wo, L * D * D);
    NEXT(rms_ffn, L * D);
    NEXT(w1, L * F * D);
    NEXT(w2, L * D * F);
    NEXT(w3, L * F * D);
    NEXT(rms_final, D);
    off += 4 * 2 * S * (Dh / 2); /* freq_cis_real, freq_cis_imag */
    NEXT(wcls, c->tied_embeddings ? 0 : V * D);
#undef NEXT
    o->total = off;
    return true;
}

static mrg_status read_header(l2c_reader *r, int64_t file_size, mrg_llama_config *c) {
    int32_t h[7];
    if (file_size < 28)
        return mrg_error(MRG_ERR_FORMAT, "%s: %lld bytes is too short for a llama2.c header",
                         r->path, (long long)file_size);
    if (pread(r->fd, h, sizeof h, 0) != (ssize_t)sizeof h)
        return mrg_error(MRG_ERR_IO, "%s: cannot read the header", r->path);
    if ((uint32_t)h[0] == LLAMA2C_MAGIC)
        return mrg_error(MRG_ERR_UNSUPPORTED,
                         "%s: a versioned llama2.c export (magic \"ak42\", version %d); only the "
                         "legacy export (version 0) is supported",
                         r->path, h[1]);
    memset(c, 0, sizeof *c);
    c->dim = h[0];
    c->hidden_dim = h[1];
    c->n_layers = h[2];
    c->n_heads = h[3];
    c->n_kv_heads = h[4];
    c->tied_embeddings = h[5] > 0;
    /* INT32_MIN has no positive counterpart: leave vocab_size 0 (refused below) */
    c->vocab_size = h[5] == INT32_MIN ? 0 : h[5] < 0 ? -h[5] : h[5];
    c->max_seq = h[6];
    c->norm_eps = 1e-5f;
    c->rope_theta = 10000.0f;
    c->rope_layout = MRG_ROPE_INTERLEAVED;
    c->bos_id = 1;
    c->eos_id = 2;
    if (h[5] == INT32_MIN || mrg_llama_config_check(c) != MRG_OK)
        return mrg_error(MRG_ERR_FORMAT,
                         "%s: not a llama2.c checkpoint (header dim %d, hidden %d, layers %d, "
                         "heads %d, kv heads %d, vocab %d, seq_len %d)",
                         r->path, h[0], h[1], h[2], h[3], h[4], h[5], h[6]);
    return MRG_OK;
}

mrg_llama *mrg_llama_load_llama2c(const char *path, mrg_device *dev,
                                  const mrg_llama_load_opts *opts) {
    if (!path || !dev) {
        mrg_error(MRG_ERR_INVALID_ARG, "llama2.c: NULL argument");
        return NULL;
    }
    l2c_reader r = {.fd = open(path, O_RDONLY | O_CLOEXEC), .path = path};
    if (r.fd < 0) {
        mrg_error(MRG_ERR_IO, "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    struct stat sb;
    mrg_llama_config c;
    l2c_layout lay = {0};
    mrg_llama *m = NULL;
    mrg_status st = fstat(r.fd, &sb) == 0 ? MRG_OK : mrg_error(MRG_ERR_IO, "cannot stat %s", path);
    if (st == MRG_OK) st = read_header(&r, (int64_t)sb.st_size, &c);
    if (st == MRG_OK && !layout_of(&c, &lay))
        st = mrg_error(MRG_ERR_FORMAT, "%s: header sizes are implausibly large", path);
    if (st == MRG_OK && lay.total != (int64_t)sb.st_size)
        st = mrg_error(MRG_ERR_FORMAT,
                       "%s: the file has %lld bytes but its header (dim %d, hidden %d, layers %d, "
                       "heads %d, kv heads %d, vocab %d%s, seq_len %d) implies %lld",
                       path, (long long)sb.st_size, c.dim, c.hidden_dim, c.n_layers, c.n_heads,
                       c.n_kv_heads, c.vocab_size, c.tied_embeddings ? " shared" : " separate",
                       c.max_seq, (long long)lay.total);
    if (st == MRG_OK && !(m = llama_alloc(&c, dev))) st = MRG_ERR_OOM;
    if (st == MRG_OK) {
        int64_t D = c.dim, F = c.hidden_dim, Dkv = D / c.n_heads * c.n_kv_heads;
        int n;
        llama_slot *s = llama_slots_alloc(m, &n);
        if (!s) st = MRG_ERR_OOM;
        /* slot order: embedding, then per layer attn_norm, wq, wk, wv, wo,
         * ffn_norm, gate, up, down, then the final norm and the classifier */
        for (int i = 0; st == MRG_OK && i < n; i++) {
            int64_t off = 0;
            if (i == 0) {
                off = lay.emb;
            } else if (i == n - 1 - !c.tied_embeddings) {
                off = lay.rms_final;
            } else if (!c.tied_embeddings && i == n - 1) {
                off = lay.wcls;
            } else {
                int64_t l = (i - 1) / 9;
                switch ((i - 1) % 9) {
                case 0: off = lay.rms_att + 4 * l * D; break;
                case 1: off = lay.wq + 4 * l * D * D; break;
                case 2: off = lay.wk + 4 * l * Dkv * D; break;
                case 3: off = lay.wv + 4 * l * Dkv * D; break;
                case 4: off = lay.wo + 4 * l * D * D; break;
                case 5: off = lay.rms_ffn + 4 * l * D; break;
                case 6: off = lay.w1 + 4 * l * F * D; break;
                case 7: off = lay.w3 + 4 * l * F * D; break;
                default: off = lay.w2 + 4 * l * D * F; break;
                }
            }
            st = load_slot(&r, dev, &s[i], off, opts);
        }
        free(s);
    }
    free(r.buf);
    close(r.fd);
    if (st != MRG_OK) {
        mrg_llama_free(m);
        return NULL;
    }
    llama_finish(m);
    return m;
}

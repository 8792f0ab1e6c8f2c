/* Loading LLaMA weights from Hugging Face directories (config.json +
 * model.safetensors or a sharded index), choosing the format of a path, and
 * saving a model back as a Hugging Face directory. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "models/llama_internal.h"
#include "mrg/safetensors.h"

/* Tells the kernel that the mapped pages of an uploaded tensor are no longer
 * needed, so loading a large checkpoint does not hold the file's pages and
 * the device copy resident at once. MADV_PAGEOUT never discards data (it is
 * a hint), so this is safe whatever memory the pointer lies in. */
static void release_pages(const void *data, size_t n) {
#ifdef MADV_PAGEOUT
    long ps = sysconf(_SC_PAGESIZE);
    if (ps <= 0) return;
    uintptr_t a = ((uintptr_t)data + (uintptr_t)ps - 1) & ~((uintptr_t)ps - 1);
    uintptr_t b = ((uintptr_t)data + n) & ~((uintptr_t)ps - 1);
    if (b > a) (void)madvise((void *)a, b - a, MADV_PAGEOUT);
#else
    (void)data;
    (void)n;
#endif
}

mrg_llama *mrg_llama_load_hf(const char *dir, mrg_device *dev, const mrg_llama_load_opts *opts) {
    if (!dir || !dev) {
        mrg_error(MRG_ERR_INVALID_ARG, "llama: NULL argument");
        return NULL;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/config.json", dir);
    mrg_llama_config cfg;
    if (mrg_llama_config_read_hf(path, &cfg) != MRG_OK) return NULL;
    mrg_st_file *f = mrg_st_open_dir(dir);
    if (!f) return NULL;
    if (!cfg.tied_embeddings && !mrg_st_find(f, "lm_head.weight")) {
        mrg_error(MRG_ERR_FORMAT,
                  "%s: lm_head.weight is missing and config.json does not set "
                  "tie_word_embeddings",
                  dir);
        mrg_st_close(f);
        return NULL;
    }
    mrg_llama *m = llama_alloc(&cfg, dev);
    int n = 0;
    llama_slot *s = m ? llama_slots_alloc(m, &n) : NULL;
    mrg_status st = s ? MRG_OK : MRG_ERR_OOM;
    for (int i = 0; st == MRG_OK && i < n; i++) {
        const mrg_st_tensor *w = mrg_st_require(f, s[i].name, s[i].ndim, s[i].shape);
        if (!w) {
            st = MRG_ERR_FORMAT;
            break;
        }
        if (w->dtype == MRG_I32) {
            st = mrg_error(MRG_ERR_FORMAT, "%s: %s is an integer tensor", dir, s[i].name);
            break;
        }
        mrg_dtype dt = llama_pick_dtype(opts, w->dtype);
        mrg_tensor *t = mrg_param_new(dev, dt, s[i].ndim, s[i].shape, false, s[i].name);
        if (!t) {
            st = mrg_error_context(MRG_ERR_OOM, "%s: %s", dir, s[i].name);
            break;
        }
        *s[i].t = t;
        st = dt == w->dtype ? mrg_tensor_upload(t, w->data) : mrg_st_load_into(w, t);
        release_pages(w->data, w->nbytes);
    }
    free(s);
    mrg_st_close(f);
    if (st != MRG_OK) {
        mrg_llama_free(m);
        return NULL;
    }
    llama_finish(m);
    return m;
}

mrg_llama *mrg_llama_load(const char *path, mrg_device *dev, const mrg_llama_load_opts *opts) {
    struct stat sb;
    if (!path || stat(path, &sb) != 0) {
        mrg_error(MRG_ERR_NOT_FOUND, "llama: no such file or directory: %s",
                  path ? path : "(null)");
        return NULL;
    }
    if (S_ISDIR(sb.st_mode)) return mrg_llama_load_hf(path, dev, opts);
    return mrg_llama_load_llama2c(path, dev, opts);
}

static const char *torch_dtype_name(mrg_dtype dt) {
    return dt == MRG_BF16 ? "bfloat16" : dt == MRG_F16 ? "float16" : "float32";
}

mrg_status mrg_llama_save_hf(const mrg_llama *m, const char *dir) {
    if (!m || !dir) return mrg_error(MRG_ERR_INVALID_ARG, "llama save: NULL argument");
    if (m->cfg.rope_layout != MRG_ROPE_HALF)
        return mrg_error(MRG_ERR_UNSUPPORTED,
                         "llama save: the Hugging Face layout needs rotate-half RoPE; this model "
                         "uses interleaved RoPE (a llama2.c checkpoint)");
    int n;
    llama_slot *s = llama_slots_alloc((mrg_llama *)m, &n);
    if (!s) return MRG_ERR_OOM;
    mrg_st_writer *w = mrg_st_writer_new();
    mrg_status st = w ? MRG_OK : mrg_error(MRG_ERR_OOM, "out of host memory");
    for (int i = 0; st == MRG_OK && i < n; i++)
        st = mrg_st_writer_add_tensor(w, s[i].name, *s[i].t);
    char path[4096];
    if (st == MRG_OK) {
        snprintf(path, sizeof path, "%s/model.safetensors", dir);
        st = mrg_st_writer_save(w, path);
    }
    mrg_st_writer_free(w);
    if (st == MRG_OK) {
        char *json = llama_config_to_hf_json(&m->cfg, torch_dtype_name(m->tok_emb->dtype));
        snprintf(path, sizeof path, "%s/config.json", dir);
        FILE *f = json ? fopen(path, "wb") : NULL;
        if (!json) st = mrg_error(MRG_ERR_OOM, "out of host memory");
        else if (!f) st = mrg_error(MRG_ERR_IO, "cannot write %s: %s", path, strerror(errno));
        else if (fputs(json, f) < 0 || fputc('\n', f) == EOF || fflush(f) != 0)
            st = mrg_error(MRG_ERR_IO, "cannot write %s: %s", path, strerror(errno));
        if (f && fclose(f) != 0 && st == MRG_OK)
            st = mrg_error(MRG_ERR_IO, "cannot write %s: %s", path, strerror(errno));
        free(json);
    }
    free(s);
    return st;
}

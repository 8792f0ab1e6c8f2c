/* Reading {"id","report"} / {"id","reports":[...]} JSON-lines files. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics/metrics_internal.h"
#include "mrg/limits.h"
#include "mrg/metrics.h"

static char *dup_str(const char *s) {
    size_t n = strlen(s);
    char *d = malloc(n + 1);
    if (d) memcpy(d, s, n + 1);
    return d;
}

void mrg_report_set_free(mrg_report_set *s) {
    if (!s) return;
    for (int i = 0; i < s->n; i++) {
        free(s->ids[i]);
        for (int k = 0; s->texts && s->texts[i] && k < s->n_texts[i]; k++) free(s->texts[i][k]);
        if (s->texts) free(s->texts[i]);
    }
    free(s->ids);
    free(s->texts);
    free(s->n_texts);
    free(s->line);
    memset(s, 0, sizeof *s);
}

int mrg_report_set_find(const mrg_report_set *s, const char *id) {
    for (int i = 0; i < s->n; i++)
        if (!strcmp(s->ids[i], id)) return i;
    return -1;
}

/* Reads one line into *buf; 0 at EOF, -1 on OOM, -2 when it is longer than
 * MRG_MAX_JSONL_LINE_BYTES (the buffer never grows past that). */
static long read_line(FILE *f, char **buf, size_t *cap) {
    size_t n = 0;
    int c;
    while ((c = fgetc(f)) != EOF) {
        if (n >= (size_t)MRG_MAX_JSONL_LINE_BYTES && c != '\n') return -2;
        if (n + 2 > *cap) {
            size_t nc = *cap ? *cap * 2 : 4096;
            char *b = realloc(*buf, nc);
            if (!b) return -1;
            *buf = b;
            *cap = nc;
        }
        (*buf)[n++] = (char)c;
        if (c == '\n') break;
    }
    if (n == 0 && c == EOF) return 0;
    (*buf)[n] = 0;
    return (long)n;
}

static mrg_status check_length(const char *path, int lineno, const char *report) {
    size_t n = strlen(report);
    if (n <= MRG_MAX_REPORT_BYTES) return MRG_OK;
    return mrg_error(MRG_ERR_FORMAT, "%s:%d: the report has %zu bytes; the limit is %d (MRG_MAX_REPORT_BYTES)",
                     path, lineno, n, MRG_MAX_REPORT_BYTES);
}

/* Parses one line into entry i of out (already grown). */
static mrg_status parse_entry(const char *path, int lineno, const char *text, mrg_report_set *out,
                              int i) {
    out->ids[i] = NULL;
    out->texts[i] = NULL;
    out->n_texts[i] = 0;
    out->line[i] = lineno;
    cJSON *o = cJSON_Parse(text);
    if (!o || !cJSON_IsObject(o)) {
        cJSON_Delete(o);
        return mrg_error(MRG_ERR_FORMAT, "%s:%d: not a JSON object (or nested deeper than %d levels)",
                         path, lineno, MRG_MAX_JSON_DEPTH);
    }
    mrg_status st = MRG_OK;
    cJSON *id = cJSON_GetObjectItemCaseSensitive(o, "id");
    cJSON *rep = cJSON_GetObjectItemCaseSensitive(o, "report");
    cJSON *reps = cJSON_GetObjectItemCaseSensitive(o, "reports");
    char idbuf[64];
    const char *ids = NULL;
    if (cJSON_IsString(id)) {
        ids = id->valuestring;
    } else if (cJSON_IsNumber(id)) { /* tolerate numeric ids: "7" */
        snprintf(idbuf, sizeof idbuf, "%.17g", id->valuedouble);
        ids = idbuf;
    } else {
        st = mrg_error(MRG_ERR_FORMAT, "%s:%d: missing string \"id\"", path, lineno);
        goto done;
    }
    out->ids[i] = dup_str(ids);
    if (!out->ids[i]) goto oom;
    if (reps) {
        int m = cJSON_GetArraySize(reps);
        if (!cJSON_IsArray(reps) || m < 1) {
            st = mrg_error(MRG_ERR_FORMAT, "%s:%d: \"reports\" must be a non-empty array of strings",
                           path, lineno);
            goto done;
        }
        out->texts[i] = calloc((size_t)m, sizeof(char *));
        if (!out->texts[i]) goto oom;
        for (int k = 0; k < m; k++) {
            cJSON *e = cJSON_GetArrayItem(reps, k);
            if (!cJSON_IsString(e)) {
                st = mrg_error(MRG_ERR_FORMAT, "%s:%d: \"reports\"[%d] is not a string", path,
                               lineno, k);
                goto done;
            }
            if ((st = check_length(path, lineno, e->valuestring))) goto done;
            if (!(out->texts[i][k] = dup_str(e->valuestring))) goto oom;
            out->n_texts[i] = k + 1;
        }
    } else if (cJSON_IsString(rep)) {
        if ((st = check_length(path, lineno, rep->valuestring))) goto done;
        out->texts[i] = calloc(1, sizeof(char *));
        if (!out->texts[i] || !(out->texts[i][0] = dup_str(rep->valuestring))) goto oom;
        out->n_texts[i] = 1;
    } else {
        st = mrg_error(MRG_ERR_FORMAT, "%s:%d: missing string \"report\" (or array \"reports\")",
                       path, lineno);
    }
    goto done;
oom:
    st = mrg_error(MRG_ERR_OOM, "%s:%d: out of memory", path, lineno);
done:
    cJSON_Delete(o);
    return st;
}

mrg_status mrg_report_set_read(const char *path, mrg_report_set *out) {
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f) return mrg_error(MRG_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    char *buf = NULL;
    size_t bcap = 0;
    int cap = 0, lineno = 0;
    mrg_status st = MRG_OK;
    long len;
    /* ids are checked for duplicates with a small hash set */
    mv_vocab seen;
    mv_vocab_init(&seen);
    while ((len = read_line(f, &buf, &bcap)) > 0) {
        lineno++;
        if (strlen(buf) != (size_t)len) {
            st = mrg_error(MRG_ERR_FORMAT, "%s:%d: NUL byte in line", path, lineno);
            break;
        }
        const char *p = buf;
        while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n') p++;
        if (!*p) continue; /* blank line */
        if (out->n == MRG_MAX_STUDIES) {
            st = mrg_error(MRG_ERR_FORMAT, "%s:%d: more than %d reports (MRG_MAX_STUDIES)", path,
                           lineno, MRG_MAX_STUDIES);
            break;
        }
        if (out->n == cap) {
            cap = cap ? cap * 2 : 256;
            char **ids = realloc(out->ids, (size_t)cap * sizeof *ids);
            if (ids) out->ids = ids;
            char ***texts = realloc(out->texts, (size_t)cap * sizeof *texts);
            if (texts) out->texts = texts;
            int *nt = realloc(out->n_texts, (size_t)cap * sizeof *nt);
            if (nt) out->n_texts = nt;
            int *ln = realloc(out->line, (size_t)cap * sizeof *ln);
            if (ln) out->line = ln;
            if (!ids || !texts || !nt || !ln) {
                st = mrg_error(MRG_ERR_OOM, "%s: out of memory", path);
                break;
            }
        }
        st = parse_entry(path, lineno, p, out, out->n);
        out->n++; /* entry i is freed by mrg_report_set_free even when partial */
        if (st != MRG_OK) break;
        const char *id = out->ids[out->n - 1];
        int before = seen.n, k = mv_vocab_id(&seen, id, strlen(id));
        if (k < 0) {
            st = mrg_error(MRG_ERR_OOM, "%s: out of memory", path);
            break;
        }
        if (seen.n == before) {
            st = mrg_error(MRG_ERR_FORMAT, "%s:%d: duplicate id \"%s\" (first on line %d)", path,
                           lineno, id, out->line[mrg_report_set_find(out, id)]);
            break;
        }
    }
    if (len == -2 && st == MRG_OK)
        st = mrg_error(MRG_ERR_FORMAT, "%s:%d: the line is longer than %d bytes (MRG_MAX_JSONL_LINE_BYTES)",
                       path, lineno + 1, MRG_MAX_JSONL_LINE_BYTES);
    if (len == -1 && st == MRG_OK) st = mrg_error(MRG_ERR_OOM, "%s: out of memory", path);
    if (st == MRG_OK && ferror(f)) st = mrg_error(MRG_ERR_IO, "%s: read error", path);
    fclose(f);
    free(buf);
    mv_vocab_free(&seen);
    if (st != MRG_OK) mrg_report_set_free(out);
    return st;
}

/* Progress output: a one-line bar with loss, lr, samples/s and ETA on a
 * terminal, and JSON lines for logs and pipes. Rates are measured from this
 * run's start (a resumed run counts from its first step). */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mrg/clock.h"
#include "mrg/progress.h"

struct mrg_progress {
    mrg_progress_opts o;
    FILE *log;
    double t0;
    int64_t samples;
    bool bar_drawn;
};

mrg_progress *mrg_progress_new(const mrg_progress_opts *opts) {
    mrg_progress *p = calloc(1, sizeof *p);
    if (!p) {
        mrg_error(MRG_ERR_OOM, "progress: out of memory");
        return NULL;
    }
    p->o = *opts;
    if (p->o.log_every < 1) p->o.log_every = 1;
    if (opts->log_path) {
        p->log = fopen(opts->log_path, "a");
        if (!p->log) {
            mrg_error(MRG_ERR_IO, "cannot open log %s", opts->log_path);
            free(p);
            return NULL;
        }
    }
    p->t0 = mrg_now_s();
    return p;
}

static void emit_json(mrg_progress *p, const char *line) {
    if (p->log) {
        fprintf(p->log, "%s\n", line);
        fflush(p->log);
    }
    if (p->o.jsonl_stdout) {
        printf("%s\n", line);
        fflush(stdout);
    }
}

static void fmt_time(double s, char *buf, size_t n) {
    if (!(s >= 0) || s > 1e8) {
        snprintf(buf, n, "--:--");
        return;
    }
    long t = (long)(s + 0.5);
    if (t >= 3600) snprintf(buf, n, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else snprintf(buf, n, "%02ld:%02ld", t / 60, t % 60);
}

static void clear_bar(mrg_progress *p) {
    if (p->bar_drawn) fprintf(stderr, "\r\033[K");
    p->bar_drawn = false;
}

void mrg_progress_step(mrg_progress *p, const mrg_step_stats *s) {
    if (!p) return;
    p->samples += s->samples;
    double el = mrg_now_s() - p->t0;
    int64_t done = s->step - p->o.first_step;
    double sps = el > 0 ? (double)p->samples / el : 0;
    double eta = done > 0 ? el / (double)done * (double)(p->o.total_steps - s->step) : -1;
    bool last = s->step >= p->o.total_steps;
    if (s->step % p->o.log_every == 0 || last || done == 1) {
        char line[512];
        snprintf(line, sizeof line,
                 "{\"type\":\"train\",\"step\":%lld,\"epoch\":%d,\"loss\":%.9g,\"lm\":%.9g,"
                 "\"con\":%.9g,\"lr\":%.9g,\"grad_norm\":%.9g,\"samples_per_s\":%.3f,"
                 "\"elapsed_s\":%.1f,\"eta_s\":%.1f}",
                 (long long)s->step, s->epoch, s->loss, s->lm, s->con, s->lr, s->grad_norm, sps, el,
                 eta < 0 ? 0.0 : eta);
        emit_json(p, line);
    }
    if (p->o.bar) {
        const int width = 24;
        double frac = p->o.total_steps > 0 ? (double)s->step / (double)p->o.total_steps : 0;
        if (frac > 1) frac = 1;
        int fill = (int)(frac * width + 0.5);
        char bar[32], et[48], rt[48];
        for (int i = 0; i < width; i++) bar[i] = i < fill ? '#' : '.';
        bar[width] = 0;
        fmt_time(eta, et, sizeof et);
        fmt_time(el, rt, sizeof rt);
        fprintf(stderr, "\r\033[K[%s] %lld/%lld ep %d loss %.4f lr %.2e %.1f samples/s %s<%s",
                bar, (long long)s->step, (long long)p->o.total_steps, s->epoch, s->loss, s->lr, sps,
                rt, et);
        fflush(stderr);
        p->bar_drawn = true;
    }
}

void mrg_progress_record(mrg_progress *p, const char *json, const char *text) {
    if (!p) return;
    emit_json(p, json);
    if (p->o.bar && text) {
        clear_bar(p);
        fprintf(stderr, "%s\n", text);
        fflush(stderr);
    }
}

void mrg_progress_free(mrg_progress *p) {
    if (!p) return;
    if (p->bar_drawn) fprintf(stderr, "\n");
    if (p->log) fclose(p->log);
    free(p);
}

int mrg_findings_json(char *buf, size_t cap, const mrg_finding_scores *s) {
    size_t k = 0;
    if (cap) buf[0] = 0;
    for (int f = 0; f < MRG_N_FINDINGS && k < cap; f++) {
        int n = snprintf(buf + k, cap - k, ",\"%s\":%.6f", mrg_finding_name((mrg_finding)f), s->f1[f]);
        if (n < 0) break;
        k += (size_t)n < cap - k ? (size_t)n : cap - k - 1;
    }
    return (int)k;
}

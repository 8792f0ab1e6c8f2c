/* Progress output: a one-line bar with loss, lr, samples/s and ETA on a
 * terminal (cut to the terminal's width, so it never wraps), the progress
 * of validation on the same line, and JSON lines for logs and pipes. Rates
 * are measured from this run's start (a resumed run counts from its first
 * step). Epochs are shown counted from 1. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "mrg/clock.h"
#include "mrg/progress.h"

struct mrg_progress {
    mrg_progress_opts o;
    FILE *log;
    double t0;
    int64_t samples;
    bool bar_drawn;
    int log_err, stdout_err; /* errno of the first failed write (0: none) */
};

int mrg_terminal_width(int fd) {
    struct winsize ws;
    if (ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
    const char *c = getenv("COLUMNS");
    char *end;
    long v = c ? strtol(c, &end, 10) : 0;
    return c && *c && !*end && v > 0 && v < 10000 ? (int)v : 80;
}

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

static void clear_bar(mrg_progress *p) {
    if (p->bar_drawn) fprintf(stderr, "\r\033[K");
    p->bar_drawn = false;
}

/* A failed write is said once, with its reason; the run goes on (its
 * checkpoints are what matter) and mrg_progress_close reports it. */
static void emit_json(mrg_progress *p, const char *line) {
    if (p->log && !p->log_err) {
        errno = 0;
        if (fprintf(p->log, "%s\n", line) < 0 || fflush(p->log) != 0) {
            p->log_err = errno ? errno : EIO;
            clear_bar(p);
            fprintf(stderr, "cannot write %s: %s (no more log records)\n", p->o.log_path,
                    strerror(p->log_err));
        }
    }
    if (p->o.jsonl_stdout && !p->stdout_err) {
        errno = 0;
        if (printf("%s\n", line) < 0 || fflush(stdout) != 0) {
            p->stdout_err = errno ? errno : EIO;
            clear_bar(p);
            fprintf(stderr, "cannot write the standard output: %s (no more records there%s%s)\n",
                    strerror(p->stdout_err), p->log ? "; they go on in " : "",
                    p->log ? p->o.log_path : "");
        }
    }
}

/* Draws "\r[bar] tail" on stderr, cut to the terminal's width less one
 * column (a line that fills the last column wraps on some terminals). The
 * bar takes up to 24 cells and shrinks first; below 5 it is left out. */
static void draw(mrg_progress *p, double frac, const char *tail) {
    int width = mrg_terminal_width(2) - 1;
    if (width < 10) width = 10;
    int cells = width - 3 - (int)strlen(tail);
    if (cells > 24) cells = 24;
    char line[512];
    int k = 0;
    if (cells >= 5) {
        if (frac < 0) frac = 0;
        if (frac > 1) frac = 1;
        int fill = (int)(frac * cells + 0.5);
        line[k++] = '[';
        for (int i = 0; i < cells; i++) line[k++] = i < fill ? '#' : '.';
        line[k++] = ']';
        line[k++] = ' ';
    }
    snprintf(line + k, sizeof line - (size_t)k, "%s", tail);
    if ((int)strlen(line) > width) line[width] = 0;
    fprintf(stderr, "\r\033[K%s", line);
    fflush(stderr);
    p->bar_drawn = true;
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
                 (long long)s->step, s->epoch + 1, s->loss, s->lm, s->con, s->lr, s->grad_norm, sps, el,
                 eta < 0 ? 0.0 : eta);
        emit_json(p, line);
    }
    if (p->o.bar) {
        double frac = p->o.total_steps > 0 ? (double)s->step / (double)p->o.total_steps : 0;
        char tail[256], et[48], rt[48];
        fmt_time(eta, et, sizeof et);
        fmt_time(el, rt, sizeof rt);
        /* most useful first: a narrow terminal cuts the end */
        snprintf(tail, sizeof tail, "%lld/%lld ep %d loss %.4f %s<%s lr %.2e %.1f samples/s",
                 (long long)s->step, (long long)p->o.total_steps, s->epoch + 1, s->loss, rt, et,
                 s->lr, sps);
        draw(p, frac, tail);
    }
}

void mrg_progress_phase(mrg_progress *p, const char *what, int done, int total) {
    if (!p || !p->o.bar) return;
    char tail[256];
    snprintf(tail, sizeof tail, "%s %d/%d", what, done, total);
    draw(p, total > 0 ? (double)done / total : 0, tail);
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

mrg_status mrg_progress_close(mrg_progress *p) {
    if (!p) return MRG_OK;
    if (p->bar_drawn) fprintf(stderr, "\n");
    int err = p->log_err;
    if (p->log && fclose(p->log) != 0 && !err) err = errno ? errno : EIO;
    mrg_status st = err ? mrg_error(MRG_ERR_IO, "cannot write %s: %s", p->o.log_path, strerror(err))
                        : MRG_OK;
    free(p);
    return st;
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

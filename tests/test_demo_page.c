/* The demo's result page (tools/demo_html.c and the modules it uses),
 * written from fixtures: phantom studies with their views as PNG files, a
 * synthetic run log and hand-made scores. Checks that
 * - the page is well-formed HTML (tags balanced, entities known) and loads
 *   nothing from elsewhere: no script, no link, no URL, every image a data:
 *   URI holding exactly the bytes of its file, so the page still shows
 *   everything after its folder is moved and the image files are gone;
 * - every study is there once, its findings marked: a study whose reports
 *   agree has no disagreement mark, one that differs in a finding has one
 *   in each report, and the blank-view report is shown;
 * - the scores table has METEOR, each finding's F1 and the macro F1 for
 *   the model, the blank-image model and the constant report;
 * - the training curves are inline SVG with one point per logged update
 *   (a resumed run's repeated updates counted once) and per epoch, long
 *   series drawn as at most SVG_CHART_MAX_POINTS means;
 * - an unreadable log gives a page without curves that says why, an
 *   unreadable image fails and leaves no page behind. */
#define _XOPEN_SOURCE 700 /* mkdtemp */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "demo_html.h"
#include "mrg/image.h"
#include "mrg/phantom.h"
#include "run_log.h"
#include "svg_chart.h"
#include "testutil.h"

#define N_STUDIES 240 /* "a few hundred" */

static int count(const char *hay, const char *needle) {
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle)) n++;
    return n;
}

/* ---- well-formedness ---------------------------------------------------- */

static bool is_void(const char *name, size_t n) {
    static const char *const v[] = {"meta", "img", "input", "br", "hr", "link", NULL};
    for (int i = 0; v[i]; i++)
        if (strlen(v[i]) == n && !strncmp(name, v[i], n)) return true;
    return false;
}

/* Tags balance (void elements and "/>" aside), <style> is skipped, and
 * every '&' starts an entity the page uses. */
static bool well_formed(const char *html) {
    const char *stack[64];
    size_t len[64];
    int depth = 0;
    for (const char *p = html; *p; p++) {
        if (*p == '&') {
            static const char *const ent[] = {"&lt;", "&gt;", "&amp;", "&quot;", "&minus;", "&ndash;", NULL};
            bool known = false;
            for (int i = 0; ent[i]; i++) known = known || !strncmp(p, ent[i], strlen(ent[i]));
            if (!known) {
                fprintf(stderr, "unknown entity at: %.40s\n", p);
                return false;
            }
            continue;
        }
        if (*p != '<') continue;
        if (p[1] == '!') { /* doctype */
            p = strchr(p, '>');
            if (!p) return false;
            continue;
        }
        bool closing = p[1] == '/';
        const char *name = p + 1 + closing;
        size_t n = strcspn(name, " >/\n");
        const char *end = strchr(p, '>');
        if (!end || n == 0) return false;
        if (memchr(p + 1, '<', (size_t)(end - p - 1))) {
            fprintf(stderr, "'<' inside a tag at: %.40s\n", p);
            return false;
        }
        if (closing) {
            if (depth == 0 || len[depth - 1] != n || strncmp(stack[depth - 1], name, n)) {
                fprintf(stderr, "unbalanced </%.*s> (open: <%.*s>)\n", (int)n, name,
                        depth ? (int)len[depth - 1] : 0, depth ? stack[depth - 1] : "");
                return false;
            }
            depth--;
        } else if (!is_void(name, n) && end[-1] != '/') {
            if (depth == 64) return false;
            stack[depth] = name;
            len[depth++] = n;
            if (n == 5 && !strncmp(name, "style", 5)) {
                end = strstr(end, "</style>");
                if (!end) return false;
                depth--;
                end += 7;
            }
        }
        p = end;
    }
    if (depth) fprintf(stderr, "<%.*s> is never closed\n", (int)len[depth - 1], stack[depth - 1]);
    return depth == 0;
}

/* ---- data: URIs ----------------------------------------------------------- */

static int b64(char c) {
    const char *A = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const char *p = c ? strchr(A, c) : NULL;
    return p ? (int)(p - A) : -1;
}

/* Decodes the base64 at s (up to '"') into out; its length, -1 when bad. */
static long unbase64(const char *s, unsigned char *out, long cap) {
    long n = 0;
    for (; *s != '"'; s += 4) {
        int v[4];
        for (int k = 0; k < 4; k++) v[k] = s[k] == '=' ? 0 : b64(s[k]);
        if (v[0] < 0 || v[1] < 0 || v[2] < 0 || v[3] < 0) return -1;
        unsigned w = (unsigned)v[0] << 18 | (unsigned)v[1] << 12 | (unsigned)v[2] << 6 | (unsigned)v[3];
        int bytes = s[2] == '=' ? 1 : s[3] == '=' ? 2 : 3;
        if (n + bytes > cap) return -1;
        for (int k = 0; k < bytes; k++) out[n++] = (unsigned char)(w >> (16 - 8 * k));
    }
    return n;
}

/* ---- fixtures ------------------------------------------------------------- */

typedef struct fixture {
    char dir[256];
    char *ref[N_STUDIES], *gen[N_STUDIES];
    char ids[N_STUDIES][16];
    char paths[N_STUDIES][2][300];
    const char *path_ptrs[N_STUDIES][2];
    demo_study studies[N_STUDIES];
} fixture;

/* Study i: a phantom; its generated report is the reference itself (i % 3
 * == 0), the same patient with one finding toggled (1) or another study's
 * reference (2). */
static bool make_studies(fixture *fx) {
    for (int i = 0; i < N_STUDIES; i++) {
        mrg_phantom_case c, d;
        mrg_phantom_case_draw(mrg_phantom_study_seed(5, i), &c);
        fx->ref[i] = mrg_phantom_report(&c);
        d = c;
        if (i % 3 == 1) d.finding[i % MRG_N_FINDINGS] = !d.finding[i % MRG_N_FINDINGS];
        if (i % 3 == 2) mrg_phantom_case_draw(mrg_phantom_study_seed(6, i), &d);
        fx->gen[i] = mrg_phantom_report(&d);
        snprintf(fx->ids[i], sizeof fx->ids[i], "PH%05d", i);
        mrg_image views[2];
        if (!fx->ref[i] || !fx->gen[i] || mrg_phantom_render(&c, 64, &views[0], &views[1])) return false;
        for (int k = 0; k < 2; k++) {
            snprintf(fx->paths[i][k], sizeof fx->paths[i][k], "%s/img/%s-%d.png", fx->dir, fx->ids[i], k);
            fx->path_ptrs[i][k] = fx->paths[i][k];
            mrg_status st = mrg_image_save_png(fx->paths[i][k], &views[k]);
            mrg_image_free(&views[k]);
            if (st) return false;
        }
        fx->studies[i] = (demo_study){fx->ids[i], fx->path_ptrs[i], 2, fx->gen[i], fx->ref[i],
                                      "heart size is normal . no pleural effusion ."};
    }
    return true;
}

/* 40 updates over 4 epochs of 10, the run stopped after update 27 and
 * resumed from its checkpoint at update 20 (so updates 21..27 and the
 * validation of epoch 2... are logged twice), plus lines that carry no
 * curve. */
static void write_log(const char *path) {
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (!f) return;
    for (int s = 1; s <= 27; s++) fprintf(f, "{\"type\":\"train\",\"step\":%d,\"epoch\":%d,\"loss\":%.17g}\n", s, (s - 1) / 10 + 1, 5.0 / s);
    fprintf(f, "{\"type\":\"eval\",\"epoch\":1,\"step\":10,\"bleu4\":0.01,\"cider\":0.02,\"finding_f1\":0.1}\n");
    fprintf(f, "{\"type\":\"eval\",\"epoch\":2,\"step\":20,\"bleu4\":0.02,\"cider\":0.05,\"finding_f1\":0.2}\n");
    fprintf(f, "not json\n{\"type\":\"skip\",\"step\":21}\n");
    for (int s = 21; s <= 40; s++) fprintf(f, "{\"type\":\"train\",\"step\":%d,\"epoch\":%d,\"loss\":%.17g}\n", s, (s - 1) / 10 + 1, 4.0 / s);
    fprintf(f, "{\"type\":\"eval\",\"epoch\":3,\"step\":30,\"bleu4\":0.04,\"cider\":0.09,\"finding_f1\":0.4}\n");
    fprintf(f, "{\"type\":\"eval\",\"epoch\":4,\"step\":40,\"bleu4\":0.05,\"cider\":0.12,\"finding_f1\":0.5}\n");
    fclose(f);
}

static mrg_scores scores(double base) {
    mrg_scores s = {0};
    for (int k = 0; k < 4; k++) s.bleu[k] = base + 0.1 * (4 - k);
    s.meteor = base + 0.0456;
    s.rouge_l = base + 0.06;
    s.cider = base + 0.07;
    s.has_findings = true;
    for (int k = 0; k < MRG_N_FINDINGS; k++) {
        s.findings.f1[k] = base + 0.01 * (k + 1);
        s.findings.macro_f1 += s.findings.f1[k] / MRG_N_FINDINGS;
    }
    return s;
}

/* ---- checks --------------------------------------------------------------- */

/* The scores table's row of name: "<th scope="row">name</th><td>..." */
static bool has_row(const char *html, const char *name, double a, double b, double c) {
    char row[256];
    snprintf(row, sizeof row, "<th scope=\"row\">%s</th><td>%.3f</td><td>%.3f</td><td>%.3f</td></tr>", name, a, b, c);
    bool ok = strstr(html, row) != NULL;
    if (!ok) fprintf(stderr, "no row %s\n", row);
    return ok;
}

/* The number of points of the n-th polyline, from its points attribute,
 * checked against its data-points. */
static int polyline_points(const char *html, int nth) {
    const char *p = html;
    for (int i = 0; i <= nth && p; i++) p = strstr(i ? p + 1 : p, "<polyline");
    if (!p) return -1;
    const char *dp = strstr(p, "data-points=\""), *pts = strstr(p, " points=\"");
    if (!dp || !pts) return -1;
    int declared = atoi(dp + 13), pairs = 1;
    for (const char *q = pts + 9; *q != '"'; q++) pairs += *q == ' ';
    return pairs == declared ? pairs : -2;
}

static void check_studies(const char *html, const fixture *fx) {
    CHECK(count(html, "<section class=\"study") == N_STUDIES);
    int ok_ids = 0, ok_marks = 0, ok_images = 0;
    unsigned char *buf = malloc(1 << 20);
    for (int i = 0; i < N_STUDIES && buf; i++) {
        char id[64];
        snprintf(id, sizeof id, "id=\"study-%s\"", fx->ids[i]);
        const char *s = strstr(html, id), *e = s ? strstr(s, "</section>") : NULL;
        ok_ids += s && count(html, id) == 1;
        if (!s || !e) continue;
        char *sec = strndup(s, (size_t)(e - s));
        /* agreement: the same report has only green marks; one finding
         * toggled gives a red mark, and a red finding under each report
         * (the side a report leaves unsaid is "not mentioned") */
        int dis = count(sec, "<mark class=\"disagree\""), agree = count(sec, "<mark class=\"agree\"");
        const char *ref = strstr(sec, "<div class=\"ref\">");
        /* the study's class: agree, disagree, or either for another study's report */
        char open[96];
        snprintf(open, sizeof open, "<section class=\"study %s\" %s", i % 3 == 0 ? "agree" : "disagree", id);
        bool marks = ref && (i % 3 == 2 || !strncmp(s - strlen(open) + strlen(id), open, strlen(open)));
        if (i % 3 == 0) marks = marks && dis == 0 && agree >= 2 && !strstr(sec, "<li class=\"disagree\"");
        if (i % 3 == 1) {
            const char *red_chip = strstr(sec, "<li class=\"disagree\"");
            marks = marks && dis >= 1 && red_chip && red_chip < ref && strstr(ref, "<li class=\"disagree\"");
        }
        ok_marks += marks && strstr(sec, "from blank views") && strstr(sec, "Heart size is normal. No pleural effusion.");
        if (!marks) fprintf(stderr, "study %d: %d red, %d green marks\n", i, dis, agree);
        /* each view inlined: its file's bytes exactly */
        const char *img = sec;
        int good = 0;
        for (int k = 0; k < 2; k++) {
            img = strstr(img, "<img src=\"data:image/png;base64,");
            if (!img) break;
            img += strlen("<img src=\"data:image/png;base64,");
            size_t flen = 0;
            char *file = test_read_file(fx->paths[i][k], &flen);
            long n = unbase64(img, buf, 1 << 20);
            good += file && n == (long)flen && !memcmp(file, buf, flen);
            free(file);
        }
        ok_images += good == 2;
        free(sec);
    }
    free(buf);
    CHECK(ok_ids == N_STUDIES);
    CHECK(ok_marks == N_STUDIES);
    CHECK(ok_images == N_STUDIES);
}

static void check_page(const char *html, const fixture *fx) {
    CHECK(well_formed(html));
    /* nothing from elsewhere */
    CHECK(!strstr(html, "http") && !strstr(html, "<script") && !strstr(html, "<link") && !strstr(html, "url(") &&
          !strstr(html, "@import") && !strstr(html, "href="));
    CHECK(count(html, " src=\"") == 2 * N_STUDIES && count(html, " src=\"data:image/png;base64,") == 2 * N_STUDIES);
    check_studies(html, fx);
    /* the scores: model, blank image, constant report */
    CHECK(strstr(html, "<th title=") && strstr(html, ">model</th>") && strstr(html, ">blank image</th>") &&
          strstr(html, ">constant report</th>"));
    CHECK(has_row(html, "METEOR", 0.5456, 0.1456, 0.0456));
    CHECK(has_row(html, "BLEU-4", 0.6, 0.2, 0.1));
    CHECK(has_row(html, "cardiomegaly", 0.51, 0.11, 0.01));
    CHECK(has_row(html, "left pleural effusion", 0.52, 0.12, 0.02));
    CHECK(has_row(html, "right pleural effusion", 0.53, 0.13, 0.03));
    CHECK(has_row(html, "left pneumothorax", 0.54, 0.14, 0.04));
    CHECK(has_row(html, "right pneumothorax", 0.55, 0.15, 0.05));
    CHECK(has_row(html, "lobar opacity", 0.56, 0.16, 0.06));
    CHECK(has_row(html, "nodule", 0.57, 0.17, 0.07));
    CHECK(has_row(html, "macro F1", 0.54, 0.14, 0.04));
    CHECK(strstr(html, "No pulmonary nodules.") != NULL); /* the constant report, display form */
    /* the curves: 40 updates, 4 epochs, 4 dashed epoch ends */
    CHECK(count(html, "<svg ") == 4 && count(html, "<polyline") == 4);
    CHECK(polyline_points(html, 0) == 40);
    for (int k = 1; k < 4; k++) CHECK(polyline_points(html, k) == 4);
    CHECK(count(html, "class=\"cm\"") == 4);
    CHECK(strstr(html, "validation BLEU-4") && strstr(html, "validation CIDEr") &&
          strstr(html, "validation finding F1") && strstr(html, "training loss"));
}

static void check_run_log(const char *path) {
    run_log l;
    CHECK_OK(run_log_read(path, &l));
    CHECK(l.n_train == 40 && l.n_eval == 4);
    bool order = true;
    for (int i = 0; i < l.n_train; i++) order = order && l.train_step[i] == i + 1;
    CHECK(order && l.train_loss[25] == 4.0 / 26); /* the resumed run's value */
    CHECK(l.eval_epoch[3] == 4 && l.eval_step[3] == 40 && l.eval_bleu4[2] == 0.04 && l.eval_f1[3] == 0.5);
    run_log_free(&l);
    CHECK(run_log_read("/nonexistent/log.jsonl", &l) == MRG_ERR_IO && l.n_train == 0);
}

/* Long series are drawn as at most SVG_CHART_MAX_POINTS means; a flat
 * score series and an empty one still draw. */
static void check_chart(void) {
    enum { N = 1234 };
    double *x = malloc(sizeof *x * N), *y = malloc(sizeof *y * N);
    for (int i = 0; i < N && x && y; i++) {
        x[i] = i + 1;
        y[i] = 1.0 / (i + 1);
    }
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    svg_chart c = {"t", "x", x, y, N, NULL, 0, NULL, false};
    svg_chart_write(f, &c);
    double zero[3] = {0, 0, 0};
    svg_chart flat = {"flat", "epoch", x, zero, 3, NULL, 0, NULL, true};
    svg_chart_write(f, &flat);
    svg_chart none = {"none", "epoch", x, y, 0, NULL, 0, NULL, true};
    svg_chart_write(f, &none);
    fclose(f);
    CHECK(buf && polyline_points(buf, 0) == (N + 2) / 3 && (N + 2) / 3 <= SVG_CHART_MAX_POINTS);
    CHECK(buf && polyline_points(buf, 1) == 3 && strstr(buf, "no data") && well_formed(buf));
    CHECK(buf && !strstr(buf, "nan") && !strstr(buf, "inf"));
    free(buf);
    free(x);
    free(y);
}

int main(void) {
    fixture *fx = calloc(1, sizeof *fx);
    snprintf(fx->dir, sizeof fx->dir, "/tmp/mrg_test_demo_page_XXXXXX");
    CHECK(mkdtemp(fx->dir) != NULL);
    char cmd[1024], path[512], log[512];
    snprintf(cmd, sizeof cmd, "mkdir -p %s/img %s/page", fx->dir, fx->dir);
    CHECK(system(cmd) == 0);
    CHECK(make_studies(fx));
    snprintf(log, sizeof log, "%s/log.jsonl", fx->dir);
    write_log(log);
    check_run_log(log);
    check_chart();

    mrg_scores model = scores(0.5), blank = scores(0.1), constant = scores(0.0);
    const demo_system systems[3] = {{"model", "the model", &model},
                                    {"blank image", "the model, views blank", &blank},
                                    {"constant report", "the most common report", &constant}};
    const char *constant_report = "the lungs are clear . no pulmonary nodules .";
    demo_page page = {fx->studies, N_STUDIES, systems, 3, constant_report, log, "settings"};
    snprintf(path, sizeof path, "%s/page/index.html", fx->dir);
    CHECK_OK(demo_write_html(path, &page));

    /* moved: the page has all it shows (its views' bytes, compared with the
     * files, which are then deleted) */
    snprintf(cmd, sizeof cmd, "mv %s/page %s/moved", fx->dir, fx->dir);
    CHECK(system(cmd) == 0);
    snprintf(path, sizeof path, "%s/moved/index.html", fx->dir);
    char *html = test_read_file(path, NULL);
    CHECK(html != NULL);
    if (html) check_page(html, fx);
    free(html);
    snprintf(cmd, sizeof cmd, "rm -r %s/img", fx->dir);
    CHECK(system(cmd) == 0);

    /* the images are gone now: writing fails and leaves no page */
    snprintf(path, sizeof path, "%s/again.html", fx->dir);
    CHECK(demo_write_html(path, &page) != MRG_OK && strstr(mrg_last_error(), "img/PH00000-0.png"));
    CHECK(access(path, F_OK) != 0);
    /* no log: the page says so; an empty generated report shows as such */
    page.n = 0;
    page.log_path = "/nonexistent/log.jsonl";
    CHECK_OK(demo_write_html(path, &page));
    html = test_read_file(path, NULL);
    CHECK(html && strstr(html, "No training curves: cannot read /nonexistent/log.jsonl") && well_formed(html));
    free(html);

    for (int i = 0; i < N_STUDIES; i++) {
        free(fx->ref[i]);
        free(fx->gen[i]);
    }
    snprintf(cmd, sizeof cmd, "rm -rf %s", fx->dir);
    CHECK(system(cmd) == 0);
    free(fx);
    return test_finish("demo_page");
}

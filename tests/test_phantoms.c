/* Phantom data sets (lib/include/mrg/phantom.h, `mrg phantoms`):
 * - the labeler reads back exactly the generator's labels on 1000 reports;
 * - each finding changes the pixels where it should (side, region, sign)
 *   compared with the same patient rendered normal;
 * - the same seed gives byte-identical annotation.json and PNGs, the split
 *   is 80/10/10, every image exists and loads at the requested size;
 * - the command gives the same files as the library and fails cleanly on a
 *   bad --n / --size or an unwritable --out. */
#define _XOPEN_SOURCE 700 /* mkdtemp, strdup, popen */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "core/files.h"
#include "mrg/phantom.h"
#include "testutil.h"

/* ---- helpers ------------------------------------------------------------ */

static bool same_file(const char *a, const char *b) {
    size_t na, nb;
    char *pa = test_read_file(a, &na), *pb = test_read_file(b, &nb);
    bool same = pa && pb && na == nb && memcmp(pa, pb, na) == 0;
    free(pa);
    free(pb);
    return same;
}

/* ---- the labeler agrees with the generator ------------------------------ */

/* The labeler's reading matches the generator's: exactly, except that the
 * other side of a one-sided effusion or pneumothorax may go unsaid. */
static bool label_matches(const mrg_phantom_case *c, int f, mrg_finding_label want,
                          mrg_finding_label got) {
    return got == want || (got == MRG_LABEL_ABSENT && want == MRG_LABEL_NEGATIVE &&
                           mrg_phantom_label_may_be_unsaid(c, (mrg_finding)f));
}

static void test_labels_agree(void) {
    int mismatches = 0, pos[MRG_N_FINDINGS] = {0}, normal = 0, distinct_normal = 0;
    char *normals[64] = {0};
    for (int i = 0; i < 1000; i++) {
        mrg_phantom_case c;
        mrg_phantom_case_draw(mrg_phantom_study_seed(7, i), &c);
        char *rep = mrg_phantom_report(&c);
        CHECK(rep != NULL);
        if (!rep) continue;
        mrg_finding_label want[MRG_N_FINDINGS], got[MRG_N_FINDINGS];
        mrg_phantom_labels(&c, want);
        CHECK_OK(mrg_label_report(rep, got));
        bool any = false;
        for (int f = 0; f < MRG_N_FINDINGS; f++) {
            pos[f] += want[f] == MRG_LABEL_POSITIVE;
            any |= want[f] == MRG_LABEL_POSITIVE;
            if (!label_matches(&c, f, want[f], got[f])) {
                if (mismatches++ < 10)
                    fprintf(stderr, "study %d %s: labeler %d, generator %d: %s\n", i,
                            mrg_finding_name((mrg_finding)f), got[f], want[f], rep);
            }
        }
        if (!any) {
            normal++;
            bool seen = false;
            for (int k = 0; k < distinct_normal; k++)
                seen |= !strcmp(normals[k], rep);
            if (!seen && distinct_normal < 64) normals[distinct_normal++] = strdup(rep);
        }
        free(rep);
    }
    printf("labeler vs generator on 1000 reports: %d mismatches; %d normal studies, "
           "%d distinct normal reports\n",
           mismatches, normal, distinct_normal);
    CHECK(mismatches == 0);
    /* every finding common enough to learn, normal studies too */
    for (int f = 0; f < MRG_N_FINDINGS; f++) {
        printf("  %-24s %d positive\n", mrg_finding_name((mrg_finding)f), pos[f]);
        CHECK(pos[f] >= 120 && pos[f] <= 300);
    }
    CHECK(normal >= 180 && normal <= 350);
    /* normal reports are worded in many ways */
    CHECK(distinct_normal >= 30);
    for (int k = 0; k < distinct_normal; k++)
        free(normals[k]);

    /* every combination of findings (128), each with 8 wordings and sizes */
    int combo_mismatches = 0;
    for (int mask = 0; mask < 1 << MRG_N_FINDINGS; mask++)
        for (int k = 0; k < 8; k++) {
            mrg_phantom_case c;
            mrg_phantom_case_draw(mrg_phantom_study_seed(1000 + mask, k), &c);
            for (int f = 0; f < MRG_N_FINDINGS; f++)
                c.finding[f] = (mask >> f) & 1;
            char *rep = mrg_phantom_report(&c);
            mrg_finding_label want[MRG_N_FINDINGS], got[MRG_N_FINDINGS];
            mrg_phantom_labels(&c, want);
            CHECK(rep && mrg_label_report(rep, got) == MRG_OK);
            bool agree = true;
            for (int f = 0; rep && f < MRG_N_FINDINGS; f++) agree &= label_matches(&c, f, want[f], got[f]);
            if (rep && !agree && combo_mismatches++ < 5)
                fprintf(stderr, "findings mask %d: labeler disagrees: %s\n", mask, rep);
            free(rep);
        }
    printf("labeler vs generator on all 128 finding combinations x 8: %d mismatches\n",
           combo_mismatches);
    CHECK(combo_mismatches == 0);

    /* a report is the same for the same case */
    mrg_phantom_case c;
    mrg_phantom_case_draw(99, &c);
    char *a = mrg_phantom_report(&c), *b = mrg_phantom_report(&c);
    CHECK(a && b && !strcmp(a, b));
    free(a);
    free(b);
}

/* ---- findings change the pixels ---------------------------------------- */

typedef struct region_diff {
    double left_img, right_img; /* mean (finding - normal) over image columns < 0.4 / > 0.6 */
    double left_abs, right_abs; /* mean |finding - normal| there */
    double upper, lower;        /* mean difference over rows < 0.5 / >= 0.5 */
    int changed;                /* pixels with |difference| > 0.08 */
} region_diff;

static region_diff diff_of(const mrg_image *f, const mrg_image *n) {
    region_diff r = {0};
    int s = n->width, nl = 0, nr = 0, nu = 0, nlo = 0;
    for (int y = 0; y < s; y++)
        for (int x = 0; x < s; x++) {
            double d = f->data[y * s + x] - n->data[y * s + x];
            if (x < 0.4 * s) r.left_img += d, r.left_abs += fabs(d), nl++;
            if (x > 0.6 * s) r.right_img += d, r.right_abs += fabs(d), nr++;
            if (y < s / 2)
                r.upper += d, nu++;
            else
                r.lower += d, nlo++;
            r.changed += fabs(d) > 0.08;
        }
    r.left_img /= nl, r.right_img /= nr, r.left_abs /= nl, r.right_abs /= nr;
    r.upper /= nu, r.lower /= nlo;
    return r;
}

static double image_abs_diff(const mrg_image *a, const mrg_image *b) {
    double s = 0;
    for (int i = 0; i < a->width * a->height; i++)
        s += fabs(a->data[i] - b->data[i]);
    return s / (a->width * a->height);
}

/* Mean intensity of image rows [y0, y1) over columns [x0, x1) (fractions). */
static double box_mean(const mrg_image *im, double y0, double y1, double x0, double x1) {
    int s = im->width, n = 0;
    double sum = 0;
    for (int y = (int)(y0 * s); y < (int)(y1 * s); y++)
        for (int x = (int)(x0 * s); x < (int)(x1 * s); x++)
            sum += im->data[y * s + x], n++;
    return sum / n;
}

static void test_findings_change_pixels(void) {
    const int size = 128;
    for (int k = 0; k < 6; k++) {
        mrg_phantom_case base;
        mrg_phantom_case_draw(mrg_phantom_study_seed(11, k), &base);
        memset(base.finding, 0, sizeof base.finding);
        mrg_image nf, nl;
        CHECK_OK(mrg_phantom_render(&base, size, &nf, &nl));
        /* same case renders the same pixels */
        mrg_image again;
        CHECK_OK(mrg_phantom_render(&base, size, &again, NULL));
        CHECK(memcmp(again.data, nf.data, sizeof(float) * size * size) == 0);
        mrg_image_free(&again);
        for (int f = 0; f < MRG_N_FINDINGS; f++) {
            mrg_phantom_case c = base;
            c.finding[f] = true;
            mrg_image ff, fl;
            CHECK_OK(mrg_phantom_render(&c, size, &ff, &fl));
            region_diff d = diff_of(&ff, &nf);
            /* side of the image the finding should be on: the patient's
             * right is the image's left; -1 for none */
            int img_side = -1; /* 0 image left, 1 image right */
            switch (f) {
            case MRG_FINDING_EFFUSION_LEFT:
            case MRG_FINDING_PNEUMOTHORAX_LEFT:
                img_side = 1;
                break;
            case MRG_FINDING_EFFUSION_RIGHT:
            case MRG_FINDING_PNEUMOTHORAX_RIGHT:
                img_side = 0;
                break;
            case MRG_FINDING_LOBAR_OPACITY:
                img_side = c.opacity_lobe <= MRG_LOBE_RIGHT_LOWER ? 0 : 1;
                break;
            case MRG_FINDING_NODULE:
                img_side = c.nodule_side == 0 ? 1 : 0;
                break;
            default:
                break;
            }
            double on = img_side == 0 ? d.left_img : d.right_img;
            double on_abs = img_side == 0 ? d.left_abs : d.right_abs;
            double off_abs = img_side == 0 ? d.right_abs : d.left_abs;
            bool ok = true;
            switch (f) {
            case MRG_FINDING_CARDIOMEGALY: {
                /* a wider heart: the band beside the midline at heart level
                 * turns from lung to soft tissue on both sides */
                double before = box_mean(&nf, 0.5, 0.65, 0.2, 0.8);
                double after = box_mean(&ff, 0.5, 0.65, 0.2, 0.8);
                ok = after > before + 0.03 && d.left_img > 0.002 && d.right_img > 0.002;
                if (!ok) fprintf(stderr, "heart band mean %.4f -> %.4f\n", before, after);
                break;
            }
            case MRG_FINDING_EFFUSION_LEFT:
            case MRG_FINDING_EFFUSION_RIGHT:
                /* fluid at the base of that side: brighter, lower half */
                ok = on > 0.001 && d.lower > 2 * fabs(d.upper) && d.changed >= 20 && off_abs == 0.0;
                break;
            case MRG_FINDING_PNEUMOTHORAX_LEFT:
            case MRG_FINDING_PNEUMOTHORAX_RIGHT:
                /* air without markings at the apex and lateral: darker
                 * overall, mostly in the upper half, with a pleural line
                 * that is brighter than before */
                ok = on < -0.003 && d.upper < 0 && off_abs == 0.0;
                {
                    int brighter = 0;
                    for (int i = 0; i < size * size; i++)
                        brighter += ff.data[i] > nf.data[i] + 0.05f;
                    ok = ok && brighter > 5;
                }
                break;
            case MRG_FINDING_LOBAR_OPACITY:
                ok = on > 0.005 && off_abs == 0.0;
                break;
            case MRG_FINDING_NODULE:
                /* a small round density: few pixels, all on one side */
                ok = on > 0.0 && d.changed >= 3 && d.changed <= 700 && off_abs == 0.0;
                break;
            default:
                break;
            }
            (void)on_abs;
            if (!ok)
                fprintf(stderr,
                        "case %d finding %s: on %.4f left %.4f right %.4f |l| %.4f |r| %.4f "
                        "upper %.4f lower %.4f changed %d\n",
                        k, mrg_finding_name((mrg_finding)f), on, d.left_img, d.right_img,
                        d.left_abs, d.right_abs, d.upper, d.lower, d.changed);
            CHECK(ok);
            /* the lateral view shows it too */
            CHECK(image_abs_diff(&fl, &nl) > 1e-4);
            mrg_image_free(&ff);
            mrg_image_free(&fl);
        }
        /* images are in [0, 1] and not flat */
        float lo = 1, hi = 0;
        for (int i = 0; i < size * size; i++) {
            lo = fminf(lo, nf.data[i]);
            hi = fmaxf(hi, nf.data[i]);
        }
        CHECK(lo >= 0.0f && hi <= 1.0f && hi - lo > 0.5f);
        mrg_image_free(&nf);
        mrg_image_free(&nl);
    }
    /* bad sizes are refused */
    mrg_phantom_case c;
    mrg_phantom_case_draw(1, &c);
    mrg_image im;
    CHECK(mrg_phantom_render(&c, 4, &im, NULL) == MRG_ERR_INVALID_ARG);
}

/* ---- data sets on disk ------------------------------------------------- */

/* Checks the layout of dir (n studies at size px); returns the parsed root
 * (cJSON_Delete it) or NULL. */
static cJSON *check_layout(const char *dir, int n, int size) {
    char path[1024];
    snprintf(path, sizeof path, "%s/annotation.json", dir);
    char *text = test_read_file(path, NULL);
    CHECK(text != NULL);
    if (!text) return NULL;
    cJSON *root = cJSON_Parse(text);
    free(text);
    CHECK(root != NULL);
    if (!root) return NULL;
    int want[3];
    mrg_phantom_split_sizes(n, &want[0], &want[1], &want[2]);
    static const char *const names[3] = {"train", "val", "test"};
    int total = 0;
    for (int s = 0; s < 3; s++) {
        cJSON *arr = cJSON_GetObjectItemCaseSensitive(root, names[s]);
        CHECK(cJSON_IsArray(arr) && cJSON_GetArraySize(arr) == want[s]);
        cJSON *e;
        cJSON_ArrayForEach(e, arr) {
            total++;
            cJSON *id = cJSON_GetObjectItemCaseSensitive(e, "id");
            cJSON *rep = cJSON_GetObjectItemCaseSensitive(e, "report");
            cJSON *paths = cJSON_GetObjectItemCaseSensitive(e, "image_path");
            cJSON *split = cJSON_GetObjectItemCaseSensitive(e, "split");
            cJSON *labels = cJSON_GetObjectItemCaseSensitive(e, "labels");
            CHECK(cJSON_IsString(id) && cJSON_IsString(rep) && strlen(rep->valuestring) > 20);
            CHECK(cJSON_IsString(split) && !strcmp(split->valuestring, names[s]));
            CHECK(cJSON_IsArray(paths) && cJSON_GetArraySize(paths) == 2);
            CHECK(cJSON_IsObject(labels) && cJSON_GetArraySize(labels) == MRG_N_FINDINGS);
            if (!cJSON_IsString(id) || !cJSON_IsString(rep) || !cJSON_IsArray(paths) ||
                !cJSON_IsObject(labels))
                continue;
            for (int k = 0; k < 2; k++) {
                cJSON *p = cJSON_GetArrayItem(paths, k);
                char want_p[128];
                snprintf(want_p, sizeof want_p, "%s/%d.png", id->valuestring, k);
                CHECK(cJSON_IsString(p) && !strcmp(p->valuestring, want_p));
                snprintf(path, sizeof path, "%s/images/%s", dir, want_p);
                mrg_image im;
                CHECK_OK(mrg_image_load(path, &im));
                CHECK(im.height == size && im.width == size && im.channels == 3);
                mrg_image_free(&im);
            }
            /* the labels object matches what the report says */
            mrg_finding_label got[MRG_N_FINDINGS];
            CHECK_OK(mrg_label_report(rep->valuestring, got));
            for (int f = 0; f < MRG_N_FINDINGS; f++) {
                cJSON *l =
                    cJSON_GetObjectItemCaseSensitive(labels, mrg_finding_name((mrg_finding)f));
                CHECK(cJSON_IsNumber(l) && (l->valueint == 0 || l->valueint == 1));
                if (cJSON_IsNumber(l)) /* positive exactly when labelled 1 */
                    CHECK((got[f] == MRG_LABEL_POSITIVE) == (l->valueint == 1));
            }
        }
    }
    CHECK(total == n);
    return root;
}

static bool same_dataset(const char *a, const char *b, int n) {
    char pa[1024], pb[1024];
    snprintf(pa, sizeof pa, "%s/annotation.json", a);
    snprintf(pb, sizeof pb, "%s/annotation.json", b);
    bool same = same_file(pa, pb);
    for (int i = 0; i < n && same; i++)
        for (int k = 0; k < 2 && same; k++) {
            snprintf(pa, sizeof pa, "%s/images/PH%05d/%d.png", a, i, k);
            snprintf(pb, sizeof pb, "%s/images/PH%05d/%d.png", b, i, k);
            same = same_file(pa, pb);
        }
    return same;
}

static void test_datasets(const char *tmp) {
    int tr, va, te;
    mrg_phantom_split_sizes(1000, &tr, &va, &te);
    CHECK(tr == 800 && va == 100 && te == 100);
    mrg_phantom_split_sizes(50, &tr, &va, &te);
    CHECK(tr == 40 && va == 5 && te == 5);

    char a[512], b[512], c[512];
    snprintf(a, sizeof a, "%s/a", tmp);
    snprintf(b, sizeof b, "%s/b/nested", tmp); /* parents are created */
    snprintf(c, sizeof c, "%s/c", tmp);
    mrg_phantom_summary sum;
    CHECK_OK(mrg_phantoms_write(a, 50, 5, 64, &sum));
    CHECK(sum.n_train == 40 && sum.n_val == 5 && sum.n_test == 5);
    CHECK_OK(mrg_phantoms_write(b, 50, 5, 64, NULL));
    CHECK_OK(mrg_phantoms_write(c, 50, 6, 64, NULL));
    cJSON *root = check_layout(a, 50, 64);
    cJSON_Delete(root);
    CHECK(same_dataset(a, b, 50));
    CHECK(!same_dataset(a, c, 50));
    /* rewriting over an existing data set gives the same bytes */
    CHECK_OK(mrg_phantoms_write(b, 50, 5, 64, NULL));
    CHECK(same_dataset(a, b, 50));

    CHECK(mrg_phantoms_write(a, 0, 5, 64, NULL) == MRG_ERR_INVALID_ARG);
    CHECK(mrg_phantoms_write(a, 5, 5, 8, NULL) == MRG_ERR_INVALID_ARG);
    /* a regular file where a directory should be */
    char file[600];
    snprintf(file, sizeof file, "%s/plainfile", tmp);
    FILE *fp = fopen(file, "w");
    CHECK(fp != NULL);
    if (fp) fclose(fp);
    char bad[700];
    snprintf(bad, sizeof bad, "%s/sub", file);
    CHECK(mrg_phantoms_write(bad, 5, 5, 64, NULL) == MRG_ERR_IO);
    CHECK(strstr(mrg_last_error(), "plainfile") != NULL);
}

static void test_cli(const char *tmp) {
    const char *bin = getenv("MRG_BIN");
    if (!bin) {
        fprintf(stderr, "MRG_BIN not set; skipping the command tests\n");
        return;
    }
    static char out[1 << 16];
    char cmd[2048], d1[512], d2[512];
    snprintf(d1, sizeof d1, "%s/cli", tmp);
    snprintf(d2, sizeof d2, "%s/lib", tmp);
    snprintf(cmd, sizeof cmd, "%s phantoms --out %s --n 30 --seed 9 --size 48 2>&1", bin, d1);
    CHECK(test_run_cmd(cmd, out, sizeof out) == 0);
    CHECK(strstr(out, "24 train, 3 val, 3 test") != NULL);
    cJSON_Delete(check_layout(d1, 30, 48));
    /* the command writes what the library writes */
    CHECK_OK(mrg_phantoms_write(d2, 30, 9, 48, NULL));
    CHECK(same_dataset(d1, d2, 30));
    /* and the same on one thread */
    snprintf(cmd, sizeof cmd,
             "OMP_NUM_THREADS=1 %s phantoms --out %s/one --n 30 --seed 9 --size 48 2>&1", bin, tmp);
    CHECK(test_run_cmd(cmd, out, sizeof out) == 0);
    snprintf(d2, sizeof d2, "%s/one", tmp);
    CHECK(same_dataset(d1, d2, 30));

    snprintf(cmd, sizeof cmd, "%s phantoms --help 2>&1", bin);
    CHECK(test_run_cmd(cmd, out, sizeof out) == 0 && strstr(out, "--seed") != NULL);
    static const char *const bad_n[] = {"0", "-3", "abc", "12x", "99999999999"};
    for (int i = 0; i < 5; i++) {
        snprintf(cmd, sizeof cmd, "%s phantoms --out %s/x --n %s 2>&1", bin, tmp, bad_n[i]);
        CHECK(test_run_cmd(cmd, out, sizeof out) == 2);
        CHECK(strstr(out, "--n") != NULL);
    }
    snprintf(cmd, sizeof cmd, "%s phantoms --out %s/x --n 3 --size 5 2>&1", bin, tmp);
    CHECK(test_run_cmd(cmd, out, sizeof out) == 2 && strstr(out, "--size") != NULL);
    snprintf(cmd, sizeof cmd, "%s phantoms --n 3 2>&1", bin);
    CHECK(test_run_cmd(cmd, out, sizeof out) == 2 && strstr(out, "--out") != NULL);
    snprintf(cmd, sizeof cmd, "%s phantoms --out %s/x --n 3 --bogus 1 2>&1", bin, tmp);
    CHECK(test_run_cmd(cmd, out, sizeof out) == 2);
    /* unwritable output: below a regular file */
    snprintf(cmd, sizeof cmd, "%s phantoms --out %s/plainfile/sub --n 3 2>&1", bin, tmp);
    int rc = test_run_cmd(cmd, out, sizeof out);
    CHECK(rc != 0);
    CHECK(strstr(out, "cannot create directory") != NULL);
    printf("unwritable --out: exit %d: %s", rc, out);
}

int main(void) {
    char tmp[] = "/tmp/mrg_test_phantoms_XXXXXX";
    if (!mkdtemp(tmp)) {
        perror("mkdtemp");
        return 1;
    }
    test_labels_agree();
    test_findings_change_pixels();
    test_datasets(tmp);
    test_cli(tmp);
    mrg_rm_tree(tmp);
    return test_finish("phantoms");
}

/* METEOR 1.5 pieces: the Snowball English stemmer (the pre-2.0 version the
 * jar ships), the -norm normalizer, scores that need no data, missing-data
 * behaviour, and, when asked (MRG_TEST_METEOR_JAR=1, with ../shared, java
 * and pycocoevalcap), the IU X-Ray cases against the jar itself. The
 * committed fixtures are compared with the jar's numbers in test_metrics. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics/meteor_internal.h"
#include "test_metrics_util.h"

static void test_stemmer(void) {
    static const char *const c[][2] = {
        {"consolingly", "consol"}, {"generously", "generous"}, {"effusions", "effus"},
        {"cardiomegaly", "cardiomegali"}, {"opacities", "opac"}, {"lateral", "later"},
        {"hyperinflated", "hyperinfl"}, {"dying", "die"}, {"skies", "sky"}, {"caresses", "caress"},
        {"ponies", "poni"}, {"cries", "cri"}, {"ties", "tie"}, {"gaps", "gap"}, {"gas", "gas"},
        {"kiwis", "kiwi"}, {"hoping", "hope"}, {"hopping", "hop"}, {"agreed", "agre"},
        {"bled", "bled"}, {"sing", "sing"}, {"conditional", "condit"}, {"triplicate", "triplic"},
        {"communism", "communism"}, {"exceeded", "exceed"}, {"inning", "inning"},
        {"atlases", "atlas"}, {"gently", "gentl"}, {"yelling", "yell"}, {"by", "by"},
        {"news", "news"}, {"generate", "generat"}, {"xxxx", "xxxx"},
    };
    char out[MV_STEM_MAX];
    for (int i = 0; i < (int)(sizeof c / sizeof c[0]); i++) {
        mv_stem_en(c[i][0], out);
        if (strcmp(out, c[i][1])) fprintf(stderr, "  stem(%s) = %s, want %s\n", c[i][0], out, c[i][1]);
        CHECK(!strcmp(out, c[i][1]));
    }
}

static void test_normalizer(void) {
    static const char *const c[][2] = {
        {"The heart, lungs... It's 3,000 mm.", "the heart , lungs ... it 's 3,000 mm ."},
        {"Dr. Smith U.S.-based t-spine (stable)?", "dr. smith us based t spine ( stable ) ?"},
        {"No. 5 a.m. test. End", "no. 5 am test . end"},
        {"heart--size  `q`", "heart size ' q '"},
        {"  the lungs are clear .  ", "the lungs are clear ."},
        {"", ""},
    };
    for (int i = 0; i < (int)(sizeof c / sizeof c[0]); i++) {
        char *n = mv_meteor_normalize(c[i][0]);
        CHECK(n && !strcmp(n, c[i][1]));
        if (n && strcmp(n, c[i][1])) fprintf(stderr, "  norm(%s) = [%s]\n", c[i][0], n);
        free(n);
    }
    CHECK(mv_java_hash("heart") == 99151942); /* "heart".hashCode() */
}

static void test_scores_without_data(void) {
    mrg_meteor_opts o = {0};
    o.wordnet_dir = "/nonexistent/wordnet";
    o.meteor_data_dir = "/nonexistent/meteor";
    mrg_meteor *m = mrg_meteor_open(&o);
    CHECK(m != NULL);
    if (!m) return;
    CHECK(mrg_meteor_modules(m) == (MRG_METEOR_EXACT | MRG_METEOR_STEM));
    CHECK(strstr(mrg_meteor_note(m), "paraphrase off") && strstr(mrg_meteor_note(m), "synonym off"));
    const char *p[] = {"the heart is normal", "completely different words", "", "effusions noted"};
    const char *r0[] = {"the heart is normal"}, *r1[] = {"no acute disease"}, *r2[] = {"normal"},
               *r3[] = {"effusion noted", "nothing"};
    const char *const *refs[] = {r0, r1, r2, r3};
    int nr[] = {1, 1, 1, 2};
    double corpus, per[4];
    CHECK_OK(mrg_meteor_score(m, p, refs, nr, 4, &corpus, per));
    CHECK(fabs(per[0] - 1.0) < 1e-12); /* identical */
    CHECK(per[1] == 0.0 && per[2] == 0.0);
    /* stem match effusions~effusion (weight .6) + exact "noted", every word
     * matched in one chunk (no fragmentation penalty): P = R = (.6 + 1)·.75 / 1.5 */
    double want = (0.6 * 0.75 + 1.0 * 0.75) / 1.5;
    CHECK(fabs(per[3] - want) < 1e-12);
    CHECK(corpus > 0 && corpus < 1);
    mrg_meteor_free(m);
}

static void test_against_jar(void) {
    const char *want = getenv("MRG_TEST_METEOR_JAR");
    const char *shared = test_shared_dir();
    const char *py = python_with_pycocoevalcap();
    if (!want || strcmp(want, "1") || !shared || !py || system("java -version >/dev/null 2>&1") != 0) {
        printf("IU X-Ray vs the METEOR jar not run (needs MRG_TEST_METEOR_JAR=1, ../shared, java, "
               "pycocoevalcap; it takes minutes)\n");
        return;
    }
    char tmp[] = "/tmp/mrg_test_meteor_XXXXXX", cmd[16384];
    if (!mkdtemp(tmp)) return;
    snprintf(cmd, sizeof cmd, "%s %s iu-cases %s/data/iu_xray/annotation.json %s --meteor", py,
             ref_script(), shared, tmp);
    CHECK(system(cmd) == 0);
    mrg_meteor *m = mrg_meteor_open(NULL);
    CHECK(m && mrg_meteor_modules(m) == 15);
    static const char *const sets[] = {"self", "perturbed", "truncated", "swapped", "other", "multi", "raw"};
    for (int k = 0; k < 7; k++) {
        devs d;
        score_set(tmp, sets[k], true, m, 1e-4, &d);
        printf("%-10s METEOR |C - jar|: corpus %.2e, per report %.2e\n", sets[k], d.meteor_corpus, d.meteor);
        CHECK(d.meteor_compared > 500);
        CHECK(d.meteor_corpus <= 0.002);
    }
    mrg_meteor_free(m);
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmp);
}

int main(void) {
    test_stemmer();
    test_normalizer();
    test_scores_without_data();
    test_against_jar();
    return test_finish("metrics_meteor");
}

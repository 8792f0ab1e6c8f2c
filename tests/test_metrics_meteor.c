/* METEOR 1.5 pieces: the Snowball English stemmer (the pre-2.0 version the
 * jar ships), the -norm normalizer, scores that need no data, missing-data
 * behaviour, the paraphrase table's cached index (the same entries as
 * streaming the table; built, reused, rebuilt when stale or corrupt), and, when asked (MRG_TEST_METEOR_JAR=1, with ../shared, java
 * and pycocoevalcap), the IU X-Ray cases against the jar itself. The
 * committed fixtures are compared with the jar's numbers in test_metrics. */
#include <glob.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

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

/* ---- the paraphrase index ---------------------------------------------------- */

/* Writes DIR/paraphrase-en.gz from (ref, par) pairs plus n_ab entries
 * "a b" -> "x1".."x<n_ab>", gzipped by gzip(1). */
static void write_table(const char *dir, const char *const *pairs, int n, int n_ab, const char *extra) {
    char txt[4200], cmd[8600];
    snprintf(txt, sizeof txt, "%s/paraphrase-en", dir);
    FILE *f = fopen(txt, "w");
    CHECK(f != NULL);
    if (!f) return;
    for (int i = 0; i < n; i++) fprintf(f, "0.%d\n%s\n%s\n", i + 1, pairs[2 * i], pairs[2 * i + 1]);
    for (int k = 1; k <= n_ab; k++) fprintf(f, "0.01\na b\nx%d\n", k);
    if (extra) fputs(extra, f);
    fclose(f);
    snprintf(cmd, sizeof cmd, "gzip -n -f %s", txt);
    CHECK(system(cmd) == 0);
}

static int count_files(const char *pattern) {
    glob_t g;
    int n = glob(pattern, 0, NULL, &g) == 0 ? (int)g.gl_pathc : 0;
    if (n) globfree(&g);
    return n;
}

/* The entries of p for the first word w, as text lines "ref => par". */
static int entries_of(const mv_paraphrases *p, const mv_vocab *v, int w, char out[][128], int cap) {
    int n = 0;
    for (int e = 0; e < p->n; e++) {
        if (p->ref[p->ref_off[e]] != w || n == cap) continue;
        char *o = out[n++];
        o[0] = 0;
        for (int i = p->ref_off[e]; i < p->ref_off[e + 1]; i++)
            snprintf(o + strlen(o), 128 - strlen(o), "%s ", v->words[p->ref[i]]);
        snprintf(o + strlen(o), 128 - strlen(o), "=>");
        for (int i = p->par_off[e]; i < p->par_off[e + 1]; i++)
            snprintf(o + strlen(o), 128 - strlen(o), " %s", v->words[p->par[i]]);
    }
    return n;
}

/* mv_para_index_select gives, per first word, the entries that streaming
 * the table gives, in the same order. */
static void check_select(const char *gz, const mv_vocab *v, int *mapped) {
    mv_paraphrases a, b;
    char why[4400];
    CHECK(mv_paraphrases_load(&a, gz, v, why, sizeof why) == 0);
    mv_para_index *x = mv_para_index_open(gz, 0, why, sizeof why);
    CHECK(x != NULL);
    if (!x) return;
    *mapped = mv_para_index_mapped(x);
    CHECK(mv_para_index_select(x, v, &b, why, sizeof why) == 0);
    CHECK(a.n == b.n && a.n > 0);
    static char ea[400][128], eb[400][128];
    for (int w = 0; w < v->n; w++) {
        int na = entries_of(&a, v, w, ea, 400), nb = entries_of(&b, v, w, eb, 400);
        CHECK(na == nb);
        for (int i = 0; i < na && i < nb; i++) CHECK(!strcmp(ea[i], eb[i]));
    }
    mv_paraphrases_free(&a);
    mv_paraphrases_free(&b);
    mv_para_index_close(x);
}

static double score1(mrg_meteor *m, const char *hyp, const char *ref, const char *filler) {
    const char *p[] = {hyp, filler}, *r0[] = {ref}, *r1[] = {filler};
    const char *const *refs[] = {r0, r1};
    int nr[] = {1, 1};
    double corpus, per[2] = {-1, -1};
    CHECK_OK(mrg_meteor_score(m, p, refs, nr, 2, &corpus, per));
    return per[0];
}

static void test_paraphrase_index(void) {
    char tmp[] = "/tmp/mrg_test_para_XXXXXX", data[256], cache[512], gz[300], pat[600], cmd[1024];
    if (!mkdtemp(tmp)) return;
    snprintf(data, sizeof data, "%s/data", tmp);
    snprintf(cache, sizeof cache, "%s/cache", tmp);
    snprintf(gz, sizeof gz, "%s/paraphrase-en.gz", data);
    snprintf(pat, sizeof pat, "%s/mrg/paraphrase-*.idx", cache);
    mkdir(data, 0755);
    setenv("XDG_CACHE_HOME", cache, 1);
    static const char *const pairs[] = {
        "heart", "cardiac", "is enlarged", "is big", "heart", "cardiac silhouette", "lungs", "lung fields",
        "no", "without", "is", "appears", "pleural effusion", "effusion", "unknownword", "heart",
        "very long phrase", "", "", "empty reference"};
    write_table(data, pairs, 10, 300, "0.1\nheart\n");
    /* a vocabulary holding the words of some entries */
    mv_vocab v;
    mv_vocab_init(&v);
    static const char *const words[] = {"heart", "cardiac", "is", "enlarged", "big", "silhouette", "lungs",
                                        "lung", "fields", "no", "without", "appears", "a", "b", "x1", "x7", "x300"};
    for (int i = 0; i < (int)(sizeof words / sizeof words[0]); i++) mv_vocab_id(&v, words[i], strlen(words[i]));
    int mapped = -1;
    check_select(gz, &v, &mapped);
    CHECK(mapped == 0 && count_files(pat) == 1); /* built, then cached */
    check_select(gz, &v, &mapped);
    CHECK(mapped == 1); /* the cached file, memory-mapped */

    /* scores: paraphrases on; the jar keeps the first 256 matches of a
     * phrase in file order ("a b" -> x1 .. x300: x5 matches, x290 not) */
    mrg_meteor_opts o = {0};
    o.wordnet_dir = "/nonexistent/wordnet";
    o.meteor_data_dir = data;
    mrg_meteor *m = mrg_meteor_open(&o);
    o.no_paraphrases = true;
    mrg_meteor *plain = mrg_meteor_open(&o);
    CHECK(m && plain && (mrg_meteor_modules(m) & MRG_METEOR_PARAPHRASE) && !(mrg_meteor_modules(plain) & MRG_METEOR_PARAPHRASE));
    char filler[4096] = "";
    for (int k = 1; k <= 300; k++) snprintf(filler + strlen(filler), sizeof filler - strlen(filler), "x%d ", k);
    if (m && plain) {
        double s1 = score1(m, "the cardiac silhouette is big", "the heart silhouette is enlarged", filler);
        double s0 = score1(plain, "the cardiac silhouette is big", "the heart silhouette is enlarged", filler);
        CHECK(s1 > s0 && s0 > 0);
        double c5 = score1(m, "p x5 q", "p a b q", filler), c290 = score1(m, "p x290 q", "p a b q", filler);
        double n5 = score1(plain, "p x5 q", "p a b q", filler);
        CHECK(c5 > n5 && c290 == n5);
        printf("paraphrase index: %.4f with paraphrases vs %.4f without; cap: x5 %.4f, x290 %.4f\n", s1, s0, c5, c290);

        /* a corrupt index is rebuilt: the same scores */
        glob_t g;
        if (glob(pat, 0, NULL, &g) == 0) {
            FILE *f = fopen(g.gl_pathv[0], "r+b");
            CHECK(f != NULL);
            if (f) {
                fseek(f, 0, SEEK_END);
                long len = ftell(f);
                for (long off = len / 2; off < len - 8; off += 7) {
                    fseek(f, off, SEEK_SET);
                    fputc(0xff, f);
                }
                fclose(f);
            }
            globfree(&g);
        }
        mrg_meteor_free(m);
        o.no_paraphrases = false;
        m = mrg_meteor_open(&o);
        CHECK(m && score1(m, "the cardiac silhouette is big", "the heart silhouette is enlarged", filler) == s1);
        CHECK(m && score1(m, "p x5 q", "p a b q", filler) == c5);
    }
    mrg_meteor_free(m);
    mrg_meteor_free(plain);

    /* a changed table makes the index stale: rebuilt with the new entry */
    write_table(data, pairs, 10, 300, "0.1\nlungs\nx7\n");
    struct timeval tv[2];
    gettimeofday(&tv[0], NULL);
    tv[1] = tv[0];
    tv[1].tv_sec += 10;
    utimes(gz, tv);
    check_select(gz, &v, &mapped);
    CHECK(mapped == 0);
    check_select(gz, &v, &mapped);
    CHECK(mapped == 1);

    /* no cache folder can be made: the index goes beside the table */
    char file[300], beside[400];
    snprintf(file, sizeof file, "%s/a-file", tmp);
    FILE *f = fopen(file, "w");
    if (f) fclose(f);
    snprintf(cache, sizeof cache, "%s/sub", file);
    setenv("XDG_CACHE_HOME", cache, 1);
    snprintf(beside, sizeof beside, "%s.mrgidx", gz);
    check_select(gz, &v, &mapped);
    CHECK(access(beside, F_OK) == 0);
    check_select(gz, &v, &mapped);
    CHECK(mapped == 1);
    unsetenv("XDG_CACHE_HOME");
    mv_vocab_free(&v);
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmp);
}

/* After tools/install-deps.sh (the paraphrase table in
 * /usr/local/share/mrg/meteor, WordNet from wordnet-base) every module is
 * found without options. */
static void test_installed_data(void) {
    if (access("/usr/local/share/mrg/meteor/paraphrase-en.gz", R_OK) != 0 ||
        access("/usr/share/wordnet/index.noun", R_OK) != 0 || getenv("MRG_METEOR_DATA")) {
        printf("installed METEOR data not checked (tools/install-deps.sh not run here)\n");
        return;
    }
    mrg_meteor *m = mrg_meteor_open(NULL);
    CHECK(m && mrg_meteor_modules(m) == (MRG_METEOR_EXACT | MRG_METEOR_STEM | MRG_METEOR_SYNONYM |
                                         MRG_METEOR_PARAPHRASE));
    CHECK(m && !strcmp(mrg_meteor_note(m), ""));
    /* WordNet from wordnet-base gives the synonyms of the jar's own files */
    mrg_meteor_opts o = {0};
    o.wordnet_dir = "/usr/share/wordnet";
    mrg_meteor *w = mrg_meteor_open(&o);
    CHECK(w && (mrg_meteor_modules(w) & MRG_METEOR_SYNONYM));
    const char *p[] = {"the heart is big", "no pleural fluid", "lungs are clear"};
    const char *r0[] = {"the heart is large"}, *r1[] = {"no pleural effusion"}, *r2[] = {"the lungs are clear"};
    const char *const *refs[] = {r0, r1, r2};
    int nr[] = {1, 1, 1};
    double c1, c2, per[3];
    if (m && w) {
        CHECK_OK(mrg_meteor_score(m, p, refs, nr, 3, &c1, per));
        CHECK_OK(mrg_meteor_score(w, p, refs, nr, 3, &c2, per));
        CHECK(c1 == c2 && c1 > 0);
    }
    mrg_meteor_free(m);
    mrg_meteor_free(w);
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
    test_paraphrase_index();
    test_installed_data();
    test_against_jar();
    return test_finish("metrics_meteor");
}

/* The CPU's ISA and the BLAS kernels chosen for it (mrg/cpu.h):
 * - detection agrees with the flags Linux lists in /proc/cpuinfo;
 * - the core choice, as a table: ISA -> OpenBLAS core type, and which core
 *   OpenBLAS reported is replaced (Prescott on a Sapphire Rapids ISA is;
 *   what OpenBLAS picks on a CPU it knows is not);
 * - `mrg info` prints the ISA and the kernel set, respects a user's
 *   OPENBLAS_CORETYPE, and, with OpenBLAS playing a CPU it does not know
 *   (a preloaded openblas_get_corename), re-executes once with the right
 *   core type, or warns when OpenBLAS would not take it. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

#define F(x) ((uint64_t)1 << MRG_CPU_##x)

static bool eq(const char *a, const char *b) {
    return (a == NULL && b == NULL) || (a && b && !strcmp(a, b));
}

#define CHECK_STR(got, want)                                                               \
    do {                                                                                   \
        const char *g_ = (got), *w_ = (want);                                              \
        if (!eq(g_, w_)) fprintf(stderr, "  got %s, want %s\n", g_ ? g_ : "NULL",       \
                                 w_ ? w_ : "NULL");                                     \
        CHECK(eq(g_, w_));                                                                 \
    } while (0)

static mrg_cpu_isa make_isa(const char *arch, const char *vendor, uint64_t features) {
    mrg_cpu_isa isa = {0};
    isa.arch = arch;
    snprintf(isa.vendor, sizeof isa.vendor, "%s", vendor);
    isa.features = features;
    return isa;
}

/* ---- detection vs /proc/cpuinfo ---------------------------------------- */

/* The first "flags" (x86) or "Features" (arm64) line, with spaces around. */
static bool cpuinfo_flags(char *out, size_t n) {
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return false;
    static char line[8192];
    bool found = false;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "flags", 5) != 0 && strncmp(line, "Features", 8) != 0) continue;
        char *colon = strchr(line, ':');
        if (!colon) continue;
        line[strcspn(line, "\n")] = '\0';
        snprintf(out, n, " %s ", colon + 1);
        found = true;
        break;
    }
    fclose(f);
    return found;
}

static void test_detection(void) {
    const mrg_cpu_isa *isa = mrg_cpu_isa_get();
    CHECK(isa == mrg_cpu_isa_get()); /* cached */
    char s[512];
    mrg_cpu_isa_string(isa, s, sizeof s);
    fprintf(stderr, "ISA: %s (%s %s)%s\n", s, isa->arch, isa->vendor,
            isa->amx_denied ? " amx denied" : "");
#if defined(__x86_64__)
    CHECK(!strcmp(isa->arch, "x86_64"));
    CHECK(isa->vendor[0] != '\0');
    int first = MRG_CPU_SSE4_2, last = MRG_CPU_AMX_INT8;
#elif defined(__aarch64__)
    CHECK(!strcmp(isa->arch, "aarch64"));
    int first = MRG_CPU_ASIMD, last = MRG_CPU_I8MM;
#else
    CHECK(!strcmp(isa->arch, "unknown"));
    CHECK(isa->features == 0);
    return;
#endif
    static char flags[8192];
    if (!cpuinfo_flags(flags, sizeof flags)) {
        fprintf(stderr, "no /proc/cpuinfo flags: detection not compared\n");
        return;
    }
    for (int f = first; f <= last; f++) {
        char word[64];
        snprintf(word, sizeof word, " %s ", mrg_cpu_feature_name((mrg_cpu_feature)f));
        bool listed = strstr(flags, word) != NULL;
        bool found = mrg_cpu_isa_has(isa, (mrg_cpu_feature)f);
        /* AMX counts only with Linux's permission, which /proc/cpuinfo
         * does not reflect */
        bool amx = f >= MRG_CPU_AMX_TILE && f <= MRG_CPU_AMX_INT8;
        if (listed && !found && amx && isa->amx_denied) continue;
        if (listed != found)
            fprintf(stderr, "  %s: /proc/cpuinfo %s, detected %s\n",
                    mrg_cpu_feature_name((mrg_cpu_feature)f), listed ? "yes" : "no",
                    found ? "yes" : "no");
        CHECK(listed == found);
    }
    /* no feature of another architecture */
    for (int f = 0; f < MRG_CPU_N_FEATURES; f++)
        if (f < first || f > last) CHECK(!mrg_cpu_isa_has(isa, (mrg_cpu_feature)f));
}

/* ---- the core choice, as a table ---------------------------------------- */

static void test_core_table(void) {
    const uint64_t sse = F(SSE4_2), avx = sse | F(AVX), avx2 = avx | F(FMA) | F(F16C) | F(AVX2);
    const uint64_t avx512 = avx2 | F(AVX512F) | F(AVX512DQ) | F(AVX512BW) | F(AVX512VL);
    const uint64_t spr = avx512 | F(AVX512_BF16) | F(AVX512_FP16) | F(AMX_TILE) |
                         F(AMX_BF16) | F(AMX_INT8);
    const struct {
        const char *what, *arch, *vendor;
        uint64_t features;
        const char *fit;     /* mrg_cpu_blas_core_for */
        const char *current; /* what OpenBLAS reports */
        const char *upgrade; /* mrg_cpu_blas_upgrade */
    } rows[] = {
        /* the machine: a Xeon whose model OpenBLAS 0.3.21 does not know */
        {"Sapphire Rapids, generic core", "x86_64", "GenuineIntel", 0, "Cooperlake", "Prescott",
         "Cooperlake"},
        {"Sapphire Rapids, SkylakeX", "x86_64", "GenuineIntel", 0, "Cooperlake", "SkylakeX",
         "Cooperlake"},
        {"Sapphire Rapids, Cooperlake", "x86_64", "GenuineIntel", 0, "Cooperlake", "Cooperlake",
         NULL},
        {"Sapphire Rapids, newer OpenBLAS", "x86_64", "GenuineIntel", 0, "Cooperlake",
         "SapphireRapids", NULL},
        {"Sapphire Rapids, a core mrg does not know", "x86_64", "GenuineIntel", 0, "Cooperlake",
         "GraniteRapids", NULL},
        {"Sapphire Rapids, upper-case name", "x86_64", "GenuineIntel", 0, "Cooperlake",
         "PRESCOTT", "Cooperlake"},
        /* this development machine: OpenBLAS knows it, nothing changes */
        {"Zen 4", "x86_64", "AuthenticAMD", avx512 | F(AVX512_BF16), "Cooperlake", "Cooperlake",
         NULL},
        {"Skylake-SP", "x86_64", "GenuineIntel", avx512, "SkylakeX", "SkylakeX", NULL},
        {"Skylake-SP, generic", "x86_64", "GenuineIntel", avx512, "SkylakeX", "Prescott",
         "SkylakeX"},
        {"Skylake-SP, Haswell", "x86_64", "GenuineIntel", avx512, "SkylakeX", "Haswell",
         "SkylakeX"},
        {"AVX-512F without VL (Knights Landing)", "x86_64", "GenuineIntel",
         avx2 | F(AVX512F), "Haswell", "Haswell", NULL},
        {"Haswell", "x86_64", "GenuineIntel", avx2, "Haswell", "Sandybridge", "Haswell"},
        {"Zen 2, generic", "x86_64", "AuthenticAMD", avx2, "Zen", "Prescott", "Zen"},
        {"Zen 2 on Haswell kernels (same level)", "x86_64", "AuthenticAMD", avx2, "Zen",
         "Haswell", NULL},
        {"Hygon", "x86_64", "HygonGenuine", avx2, "Zen", "Zen", NULL},
        {"Sandy Bridge", "x86_64", "GenuineIntel", avx, "Sandybridge", "Nehalem",
         "Sandybridge"},
        {"AVX hidden by the OS", "x86_64", "GenuineIntel", sse, NULL, "Prescott", NULL},
        {"Neoverse-N1-like, generic", "aarch64", "",
         F(ASIMD) | F(ASIMDHP) | F(ASIMDDP) | F(ATOMICS), "neoversen1", "armv8", "neoversen1"},
        {"SVE core, generic", "aarch64", "",
         F(ASIMD) | F(ASIMDHP) | F(ASIMDDP) | F(ATOMICS) | F(SVE) | F(BF16), "neoversen1",
         "armv8", "neoversen1"},
        {"Cortex-A55 (known to OpenBLAS)", "aarch64", "",
         F(ASIMD) | F(ASIMDHP) | F(ASIMDDP) | F(ATOMICS), "neoversen1", "cortexa55", NULL},
        {"Cortex-A72-like", "aarch64", "", F(ASIMD), NULL, "armv8", NULL},
        {"unknown architecture", "unknown", "", 0, NULL, "POWER9", NULL},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        uint64_t feats = rows[i].features ? rows[i].features : spr;
        mrg_cpu_isa isa = make_isa(rows[i].arch, rows[i].vendor, feats);
        fprintf(stderr, "%-42s fit %-11s %s -> %s\n", rows[i].what,
                rows[i].fit ? rows[i].fit : "-", rows[i].current,
                rows[i].upgrade ? rows[i].upgrade : "(kept)");
        CHECK_STR(mrg_cpu_blas_core_for(&isa), rows[i].fit);
        CHECK_STR(mrg_cpu_blas_upgrade(&isa, rows[i].current), rows[i].upgrade);
    }
    /* AMX denied by the kernel still leaves AVX512-BF16 */
    mrg_cpu_isa denied = make_isa("x86_64", "GenuineIntel", avx512 | F(AVX512_BF16));
    denied.amx_denied = true;
    CHECK_STR(mrg_cpu_blas_upgrade(&denied, "Prescott"), "Cooperlake");
    CHECK_STR(mrg_cpu_blas_upgrade(NULL, "Prescott"), NULL);
    CHECK_STR(mrg_cpu_blas_upgrade(&denied, NULL), NULL);

    /* the name set in OPENBLAS_CORETYPE: 0.3.21 does not accept Cooperlake
     * (its detection would then give Prescott again on the CPUs that need
     * the variable), so SkylakeX's identical f32 kernels are named there */
    CHECK_STR(mrg_cpu_blas_env_name("Cooperlake", "0.3.21"), "SkylakeX");
    CHECK_STR(mrg_cpu_blas_env_name("Cooperlake", "0.3.22"), "Cooperlake");
    CHECK_STR(mrg_cpu_blas_env_name("Cooperlake", "0.3.30.dev"), "Cooperlake");
    CHECK_STR(mrg_cpu_blas_env_name("Cooperlake", "1.0.0"), "Cooperlake");
    CHECK_STR(mrg_cpu_blas_env_name("Cooperlake", "garbage"), "SkylakeX");
    CHECK_STR(mrg_cpu_blas_env_name("SkylakeX", "0.3.21"), "SkylakeX");
    CHECK_STR(mrg_cpu_blas_env_name("Zen", "0.3.21"), "Zen");
    CHECK_STR(mrg_cpu_blas_env_name(NULL, "0.3.21"), NULL);

    /* the ISA string names the features in /proc/cpuinfo's spelling */
    mrg_cpu_isa s = make_isa("x86_64", "GenuineIntel", spr);
    char buf[512];
    CHECK_STR(mrg_cpu_isa_string(&s, buf, sizeof buf),
              "sse4_2 avx fma f16c avx2 avx512f avx512dq avx512bw avx512vl avx512_bf16 avx512_fp16 "
              "amx_tile amx_bf16 amx_int8");
    char small[12];
    mrg_cpu_isa_string(&s, small, sizeof small);
    CHECK_STR(small, "sse4_2 avx"); /* truncated at a feature boundary */
    mrg_cpu_isa none = make_isa("x86_64", "GenuineIntel", 0);
    CHECK_STR(mrg_cpu_isa_string(&none, buf, sizeof buf), "none found");
    mrg_cpu_isa unk = make_isa("unknown", "", 0);
    CHECK_STR(mrg_cpu_isa_string(&unk, buf, sizeof buf), "unknown");
    CHECK_STR(mrg_cpu_feature_name(MRG_CPU_AMX_BF16), "amx_bf16");
    CHECK_STR(mrg_cpu_feature_name(MRG_CPU_N_FEATURES), NULL);
}

/* ---- this process: the check agrees with the choice ----------------------- */

static void test_check_here(void) {
    char msg[768];
    bool ok = mrg_cpu_blas_check(msg, sizeof msg);
    fprintf(stderr, "blas check: %s %s\n", ok ? "ok" : "not ok:", msg);
    if (!ok) CHECK(strstr(msg, "OPENBLAS_CORETYPE") || strstr(msg, "DYNAMIC_ARCH"));
    CHECK(mrg_cpu_blas_check(NULL, 0) == ok);
    /* a process whose environment names a core is never set up again */
    if (getenv("OPENBLAS_CORETYPE")) CHECK(!mrg_cpu_blas_prepare_env());
}

/* ---- the mrg command ----------------------------------------------------- */

#if !defined(__SANITIZE_ADDRESS__)
static int count(const char *hay, const char *needle) {
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle)) n++;
    return n;
}
#endif

static void test_mrg_info(const char *bin) {
    static char out[1 << 16];
    char cmd[2048], want[640];
    const mrg_cpu_isa *isa = mrg_cpu_isa_get();
    char isa_s[512];
    mrg_cpu_isa_string(isa, isa_s, sizeof isa_s);

    /* the ISA line and the kernel line */
    snprintf(cmd, sizeof cmd, "%s info 2>&1", bin);
    CHECK(test_run_cmd(cmd, out, sizeof out) == 0);
    snprintf(want, sizeof want, "  SIMD:           %s (%s", isa_s, isa->arch);
    if (!strstr(out, want)) fprintf(stderr, "missing '%s' in:\n%s\n", want, out);
    CHECK(strstr(out, want) != NULL);
    CHECK(strstr(out, "  BLAS kernels:   ") != NULL);

    /* a user's core is respected and said to be the user's; opening the cpu
     * device does not complain about a core the user chose */
    snprintf(cmd, sizeof cmd,
             "env -u MRG_BLAS_CORE_CHOSEN OPENBLAS_CORETYPE=Prescott %s info 2>&1", bin);
    CHECK(test_run_cmd(cmd, out, sizeof out) == 0);
    CHECK(strstr(out, "BLAS kernels:   Prescott, set by OPENBLAS_CORETYPE=Prescott") != NULL);
    /* the name mrg sets for this CPU with the OpenBLAS linked here */
    const char *fit = mrg_cpu_blas_env_name(mrg_cpu_blas_upgrade(isa, "Prescott"), NULL);
    if (fit) {
        snprintf(want, sizeof want, "(%s fits this CPU better)", fit);
        CHECK(strstr(out, want) != NULL);
    }
    snprintf(cmd, sizeof cmd,
             "env -u MRG_BLAS_CORE_CHOSEN OPENBLAS_CORETYPE=Prescott %s info --device cpu 2>&1",
             bin);
    CHECK(test_run_cmd(cmd, out, sizeof out) == 0);
    CHECK(strstr(out, "warning") == NULL);

#if defined(__SANITIZE_ADDRESS__)
    fprintf(stderr, "ASan build: the preloaded OpenBLAS stand-in is not tested\n");
#else
    if (!fit) {
        fprintf(stderr, "this CPU has nothing above the generic core: re-exec not tested\n");
        return;
    }
    /* OpenBLAS playing a CPU it does not know: mrg re-executes itself once
     * with the core that fits, and says so */
    snprintf(cmd, sizeof cmd,
             "env -u OPENBLAS_CORETYPE -u MRG_BLAS_CORE_CHOSEN OMP_WAIT_POLICY=passive "
             "LD_PRELOAD=%s %s info 2>&1",
             MRG_FAKE_CORENAME_LIB, bin);
    CHECK(test_run_cmd(cmd, out, sizeof out) == 0);
    snprintf(want, sizeof want,
             "BLAS kernels:   %s, chosen by mrg for this CPU (OPENBLAS_CORETYPE=%s; OpenBLAS "
             "picked Prescott)",
             fit, fit);
    if (!strstr(out, want)) fprintf(stderr, "missing '%s' in:\n%s\n", want, out);
    CHECK(strstr(out, want) != NULL);
    CHECK(count(out, "default device:") == 1);

    /* an OpenBLAS that ignores the name: no second exec, a warning when the
     * cpu device opens, and mrg info says the name was not taken */
    snprintf(cmd, sizeof cmd,
             "env -u OPENBLAS_CORETYPE -u MRG_BLAS_CORE_CHOSEN OMP_WAIT_POLICY=passive "
             "MRG_FAKE_BLAS_IGNORES_CORETYPE=1 LD_PRELOAD=%s %s info --device cpu 2>&1; "
             "env -u OPENBLAS_CORETYPE -u MRG_BLAS_CORE_CHOSEN OMP_WAIT_POLICY=passive "
             "MRG_FAKE_BLAS_IGNORES_CORETYPE=1 LD_PRELOAD=%s %s info 2>/dev/null "
             "| grep 'BLAS kernels'",
             MRG_FAKE_CORENAME_LIB, bin, MRG_FAKE_CORENAME_LIB, bin);
    CHECK(test_run_cmd(cmd, out, sizeof out) == 0);
    snprintf(want, sizeof want,
             "mrg: warning: OpenBLAS did not take OPENBLAS_CORETYPE=%s, which mrg set for this "
             "CPU",
             fit);
    if (!strstr(out, want)) fprintf(stderr, "missing '%s' in:\n%s\n", want, out);
    CHECK(strstr(out, want) != NULL);
    CHECK(strstr(out, "runs its Prescott kernels") != NULL);
    snprintf(want, sizeof want,
             "BLAS kernels:   Prescott: OpenBLAS did not accept OPENBLAS_CORETYPE=%s", fit);
    if (!strstr(out, want)) fprintf(stderr, "missing '%s' in:\n%s\n", want, out);
    CHECK(strstr(out, want) != NULL);
    CHECK(count(out, "mrg: warning") == 1);
    CHECK(count(out, "cpu: CPU: OpenBLAS") == 1);

    /* a program that links libmrg (this test, run as a child) hears once,
     * when it opens the cpu device, which setting fixes it */
    char self[1024];
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    CHECK(len > 0);
    if (len <= 0) return;
    self[len] = '\0';
    snprintf(cmd, sizeof cmd,
             "env -u OPENBLAS_CORETYPE -u MRG_BLAS_CORE_CHOSEN LD_PRELOAD=%s %s --open-cpu 2>&1",
             MRG_FAKE_CORENAME_LIB, self);
    CHECK(test_run_cmd(cmd, out, sizeof out) == 0);
    snprintf(want, sizeof want, "mrg: warning: OpenBLAS runs its Prescott kernels, below this CPU");
    if (!strstr(out, want)) fprintf(stderr, "missing '%s' in:\n%s\n", want, out);
    CHECK(strstr(out, want) != NULL);
    snprintf(want, sizeof want, "set OPENBLAS_CORETYPE=%s before the program starts", fit);
    CHECK(strstr(out, want) != NULL);
    CHECK(count(out, "mrg: warning") == 1);
#endif
}

/* Child mode: open and close the cpu device twice, as a program would. */
static int open_cpu_twice(void) {
    for (int i = 0; i < 2; i++) {
        mrg_device *dev = mrg_device_open("cpu");
        if (!dev) return 1;
        mrg_device_free(dev);
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc > 1 && !strcmp(argv[1], "--open-cpu")) return open_cpu_twice();
    test_detection();
    test_core_table();
    test_check_here();
    const char *bin = getenv("MRG_BIN");
    if (bin)
        test_mrg_info(bin);
    else
        fprintf(stderr, "MRG_BIN not set: mrg info not tested\n");
    return test_finish("cpu_isa");
}

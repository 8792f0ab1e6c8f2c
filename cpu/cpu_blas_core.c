/* Does OpenBLAS run the kernels this CPU deserves? A DYNAMIC_ARCH OpenBLAS
 * picks its core type from the CPU model when it is loaded; on a model it
 * does not know (0.3.21 on Intel Xeons newer than Sapphire Rapids) it falls
 * through to its generic "Prescott" SSE kernels, 5x slower than the AVX-512
 * ones. Here: the kernel level of each OpenBLAS core type, the core that
 * fits a detected ISA, and the check / environment set-up built on them.
 * The names are those OpenBLAS's driver/others/dynamic.c (x86-64) and
 * dynamic_arm64.c accept in OPENBLAS_CORETYPE and report from
 * openblas_get_corename(). */
#define _GNU_SOURCE
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cpu/cpu_isa.h"

#define MARKER_ENV "MRG_BLAS_CORE_CHOSEN"

/* Kernel level of a core type. x86-64: 0 SSE only, 1 AVX, 2 AVX2+FMA,
 * 3 AVX-512, 4 AVX-512 BF16. aarch64: 0 the generic armv8 kernels, 1 a
 * kernel set for a specific core (OpenBLAS's own choice is kept then). */
typedef struct core_level {
    const char *name;
    int level;
} core_level;

static const core_level cores[] = {
    /* x86-64 */
    {"Unknown", 0}, {"Katmai", 0}, {"Coppermine", 0}, {"Northwood", 0}, {"Prescott", 0},
    {"Banias", 0}, {"Atom", 0}, {"Core2", 0}, {"Penryn", 0}, {"Dunnington", 0},
    {"Nehalem", 0}, {"Athlon", 0}, {"Opteron", 0}, {"Opteron_SSE3", 0}, {"Barcelona", 0},
    {"Nano", 0}, {"Bobcat", 0}, {"Sandybridge", 1}, {"Bulldozer", 1}, {"Piledriver", 1},
    {"Steamroller", 1}, {"Haswell", 2}, {"Excavator", 2}, {"Zen", 2}, {"SkylakeX", 3},
    {"Cooperlake", 4}, {"SapphireRapids", 4},
    /* aarch64 */
    {"armv8", 0}, {"cortexa53", 1}, {"cortexa55", 1}, {"cortexa57", 1}, {"cortexa72", 1},
    {"cortexa73", 1}, {"falkor", 1}, {"thunderx", 1}, {"thunderx2t99", 1}, {"tsv110", 1},
    {"emag8180", 1}, {"neoversen1", 1}, {"neoversev1", 1}, {"neoversen2", 1},
    {"thunderx3t110", 1},
};

/* -1 for a name mrg does not know (a newer OpenBLAS): never replaced. */
static int core_level_of(const char *name) {
    if (!name) return -1;
    for (size_t i = 0; i < sizeof cores / sizeof cores[0]; i++)
        if (!strcasecmp(name, cores[i].name)) return cores[i].level;
    return -1;
}

const char *mrg_cpu_blas_core_for(const mrg_cpu_isa *isa) {
    if (!isa) return NULL;
#define HAS(f) mrg_cpu_isa_has(isa, MRG_CPU_##f)
    if (!strcmp(isa->arch, "x86_64")) {
        bool avx512 = HAS(AVX512F) && HAS(AVX512DQ) && HAS(AVX512BW) && HAS(AVX512VL);
        /* OpenBLAS 0.3.21 does not list Cooperlake among the names
         * OPENBLAS_CORETYPE accepts; it then falls back to its ISA checks,
         * which pick Cooperlake on an AVX512-BF16 CPU (later releases take
         * the name directly). Its f32 kernels are SkylakeX's; it adds the
         * bf16 ones (sbgemm). */
        if (avx512 && (HAS(AVX512_BF16) || HAS(AMX_BF16))) return "Cooperlake";
        if (avx512) return "SkylakeX";
        if (HAS(AVX2) && HAS(FMA))
            return !strcmp(isa->vendor, "AuthenticAMD") || !strcmp(isa->vendor, "HygonGenuine")
                       ? "Zen"
                       : "Haswell";
        if (HAS(AVX)) return "Sandybridge";
        return NULL;
    }
    if (!strcmp(isa->arch, "aarch64")) {
        /* neoversen1's kernels are plain NEON, compiled for ARMv8.2-A:
         * right for any core with the 8.2 features but unknown to OpenBLAS
         * (which would run its generic armv8 kernels there) */
        if (HAS(ASIMD) && HAS(ASIMDHP) && HAS(ASIMDDP) && HAS(ATOMICS)) return "neoversen1";
        return NULL;
    }
#undef HAS
    return NULL;
}

const char *mrg_cpu_blas_upgrade(const mrg_cpu_isa *isa, const char *current) {
    const char *fit = mrg_cpu_blas_core_for(isa);
    int cur = core_level_of(current);
    if (!fit || cur < 0) return NULL;
    return core_level_of(fit) > cur ? fit : NULL;
}

/* The core needs instructions the CPU lacks (x86-64 levels are ISA levels;
 * on aarch64 they are not, so nothing is "above" there). */
static bool core_above_cpu(const mrg_cpu_isa *isa, const char *core) {
    if (strcmp(isa->arch, "x86_64") != 0) return false;
    const char *fit = mrg_cpu_blas_core_for(isa);
    return core_level_of(core) > (fit ? core_level_of(fit) : 0);
}

/* The version in openblas_get_config() ("OpenBLAS 0.3.21 NO_LAPACKE ..."). */
static const char *blas_version(void) {
    const char *cfg = openblas_get_config();
    const char *p = cfg ? strstr(cfg, "OpenBLAS ") : NULL;
    return p ? p + strlen("OpenBLAS ") : NULL;
}

/* OpenBLAS before 0.3.22 leaves Cooperlake out of the names it accepts in
 * OPENBLAS_CORETYPE (its name loop stops one entry short) and then runs
 * its own CPU-model detection: on the very CPUs that need the variable
 * (a model it does not know) that gives Prescott again. Cooperlake's f32
 * kernels are SkylakeX's (it adds only the bf16 sbgemm), so SkylakeX is the
 * name to set there. */
const char *mrg_cpu_blas_env_name(const char *core, const char *version) {
    if (!core || strcasecmp(core, "Cooperlake") != 0) return core;
    if (!version) version = blas_version();
    int major = 0, minor = 0, patch = 0;
    if (!version || sscanf(version, "%d.%d.%d", &major, &minor, &patch) < 2) return "SkylakeX";
    bool accepted = major > 0 || minor > 3 || (minor == 3 && patch >= 22);
    return accepted ? core : "SkylakeX";
}

/* The core to name in OPENBLAS_CORETYPE instead of `current` with this
 * OpenBLAS, or NULL when no name it accepts is an upgrade (SkylakeX on an
 * AVX512-BF16 CPU under 0.3.21: nothing better can be set). */
static const char *settable_upgrade(const mrg_cpu_isa *isa, const char *current) {
    const char *name = mrg_cpu_blas_env_name(mrg_cpu_blas_upgrade(isa, current), NULL);
    return name && core_level_of(name) > core_level_of(current) ? name : NULL;
}

static bool blas_dynamic_arch(void) {
    const char *cfg = openblas_get_config();
    return cfg && strstr(cfg, "DYNAMIC_ARCH");
}

/* What `mrg info` and the checks need to know about the core in use. */
typedef struct blas_core_state {
    const char *core;        /* openblas_get_corename() */
    const char *env;         /* OPENBLAS_CORETYPE, or NULL */
    const char *replaced;    /* the core OpenBLAS picked when mrg set env */
    const char *better;      /* a core that fits the CPU better, or NULL */
    bool dynamic;            /* OpenBLAS can switch (DYNAMIC_ARCH) */
    bool env_taken;          /* OpenBLAS runs the core env names */
    bool above;              /* the core needs instructions the CPU lacks */
    bool fits;               /* the core is at the level of the CPU's ISA */
} blas_core_state;

static blas_core_state blas_state(void) {
    const mrg_cpu_isa *isa = mrg_cpu_isa_get();
    blas_core_state s = {0};
    s.core = openblas_get_corename();
    if (!s.core) s.core = "unknown";
    s.env = getenv("OPENBLAS_CORETYPE");
    s.replaced = s.env ? getenv(MARKER_ENV) : NULL;
    s.better = settable_upgrade(isa, s.core);
    s.dynamic = blas_dynamic_arch();
    s.env_taken = s.env && !strcasecmp(s.env, s.core);
    s.above = core_above_cpu(isa, s.core);
    const char *fit = mrg_cpu_blas_core_for(isa);
    s.fits = fit && core_level_of(s.core) == core_level_of(fit);
    return s;
}

bool mrg_cpu_blas_check(char *msg, size_t n) {
    blas_core_state s = blas_state();
    char isa[256];
    mrg_cpu_isa_string(mrg_cpu_isa_get(), isa, sizeof isa);
    if (msg && n) msg[0] = '\0';
    if (s.above) {
        if (msg)
            snprintf(msg, n,
                     "OpenBLAS runs its %s kernels, which need instructions this CPU lacks "
                     "(it has: %s)%s: expect a crash (illegal instruction)",
                     s.core, isa, s.env ? "; unset OPENBLAS_CORETYPE" : "");
        return false;
    }
    if (!s.better) return true;
    if (s.env && s.env_taken) return true; /* the user's choice, respected */
    if (!msg) return false;
    if (!s.dynamic)
        snprintf(msg, n,
                 "OpenBLAS was built for %s only (no DYNAMIC_ARCH), below this CPU (%s): "
                 "GEMMs run several times slower than they could; use an OpenBLAS built "
                 "with DYNAMIC_ARCH (Debian's is)",
                 s.core, isa);
    else if (s.env && s.replaced)
        snprintf(msg, n,
                 "OpenBLAS did not take OPENBLAS_CORETYPE=%s, which mrg set for this CPU (%s), "
                 "and runs its %s kernels: GEMMs run several times slower than they could; set "
                 "OPENBLAS_CORETYPE to a core type this OpenBLAS accepts (OPENBLAS_VERBOSE=2 "
                 "shows which it takes)",
                 s.env, isa, s.core);
    else if (s.env)
        snprintf(msg, n,
                 "OpenBLAS did not accept OPENBLAS_CORETYPE=%s and runs its %s kernels, below "
                 "this CPU (%s): set OPENBLAS_CORETYPE=%s before the program starts",
                 s.env, s.core, isa, s.better);
    else
        snprintf(msg, n,
                 "OpenBLAS runs its %s kernels, below this CPU (%s), whose model it does not "
                 "know: GEMMs run several times slower than they could; set "
                 "OPENBLAS_CORETYPE=%s before the program starts (OpenBLAS reads it when it "
                 "is loaded; the mrg command does this itself)",
                 s.core, isa, s.better);
    return false;
}

bool mrg_cpu_blas_prepare_env(void) {
    /* a user's choice, or a process that mrg already set up: leave it */
    if (getenv("OPENBLAS_CORETYPE") || getenv(MARKER_ENV)) return false;
    if (!blas_dynamic_arch()) return false;
    const char *current = openblas_get_corename();
    const char *better = settable_upgrade(mrg_cpu_isa_get(), current);
    if (!better) return false;
    if (setenv(MARKER_ENV, current, 1) != 0) return false;
    if (setenv("OPENBLAS_CORETYPE", better, 1) != 0) {
        unsetenv(MARKER_ENV);
        return false;
    }
    return true;
}

void mrg_cpu_blas_unprepare_env(void) {
    if (!getenv(MARKER_ENV)) return;
    unsetenv("OPENBLAS_CORETYPE");
    unsetenv(MARKER_ENV);
}

void cpu_blas_describe(char *buf, size_t n) {
    blas_core_state s = blas_state();
    if (!s.dynamic) {
        const char *note = s.above    ? "; needs instructions this CPU lacks"
                           : s.better ? "; below this CPU"
                                      : "";
        snprintf(buf, n, "%s, fixed when OpenBLAS was built (no DYNAMIC_ARCH)%s", s.core, note);
        return;
    }
    if (s.above) {
        snprintf(buf, n, "%s (%s%s): needs instructions this CPU lacks", s.core,
                 s.env ? "OPENBLAS_CORETYPE=" : "chosen by OpenBLAS", s.env ? s.env : "");
        return;
    }
    if (s.env && s.replaced && s.env_taken) {
        snprintf(buf, n,
                 "%s, chosen by mrg for this CPU (OPENBLAS_CORETYPE=%s; OpenBLAS picked %s)",
                 s.core, s.env, s.replaced);
    } else if (s.env && s.env_taken) {
        snprintf(buf, n, "%s, set by OPENBLAS_CORETYPE=%s%s%s%s", s.core, s.env,
                 s.better ? " (" : "", s.better ? s.better : "",
                 s.better ? " fits this CPU better)" : "");
    } else if (s.env) {
        snprintf(buf, n, "%s: OpenBLAS did not accept OPENBLAS_CORETYPE=%s%s%s%s", s.core, s.env,
                 s.better ? "; " : "", s.better ? s.better : "",
                 s.better ? " fits this CPU better" : "");
    } else if (s.better) {
        snprintf(buf, n, "%s, chosen by OpenBLAS: below this CPU; set OPENBLAS_CORETYPE=%s",
                 s.core, s.better);
    } else {
        snprintf(buf, n, "%s, chosen by OpenBLAS%s", s.core, s.fits ? "; fits this CPU" : "");
    }
}

void cpu_blas_warn_once(void) {
    static int warned;
    if (__atomic_exchange_n(&warned, 1, __ATOMIC_ACQ_REL)) return;
    char msg[768];
    if (!mrg_cpu_blas_check(msg, sizeof msg)) fprintf(stderr, "mrg: warning: %s\n", msg);
}

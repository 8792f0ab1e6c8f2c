/* Which instruction sets this CPU (and its OS) lets the process use:
 * cpuid + XCR0 on x86-64, getauxval(AT_HWCAP) on aarch64 Linux. Feature
 * names follow /proc/cpuinfo so that tests can compare the two. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "mrg/cpu.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>
#ifdef __linux__
#include <sys/syscall.h>
#include <unistd.h>
#endif
#elif defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>
#endif

static const char *const feature_names[MRG_CPU_N_FEATURES] = {
    [MRG_CPU_SSE4_2] = "sse4_2",       [MRG_CPU_AVX] = "avx",
    [MRG_CPU_FMA] = "fma",             [MRG_CPU_F16C] = "f16c",
    [MRG_CPU_AVX2] = "avx2",
    [MRG_CPU_AVX512F] = "avx512f",     [MRG_CPU_AVX512DQ] = "avx512dq",
    [MRG_CPU_AVX512BW] = "avx512bw",   [MRG_CPU_AVX512VL] = "avx512vl",
    [MRG_CPU_AVX512_BF16] = "avx512_bf16", [MRG_CPU_AVX512_FP16] = "avx512_fp16",
    [MRG_CPU_AMX_TILE] = "amx_tile",   [MRG_CPU_AMX_BF16] = "amx_bf16",
    [MRG_CPU_AMX_INT8] = "amx_int8",   [MRG_CPU_ASIMD] = "asimd",
    [MRG_CPU_ASIMDHP] = "asimdhp",     [MRG_CPU_ASIMDDP] = "asimddp",
    [MRG_CPU_ATOMICS] = "atomics",     [MRG_CPU_SVE] = "sve",
    [MRG_CPU_SVE2] = "sve2",           [MRG_CPU_BF16] = "bf16",
    [MRG_CPU_I8MM] = "i8mm",
};

const char *mrg_cpu_feature_name(mrg_cpu_feature f) {
    return (unsigned)f < MRG_CPU_N_FEATURES ? feature_names[f] : NULL;
}

bool mrg_cpu_isa_has(const mrg_cpu_isa *isa, mrg_cpu_feature f) {
    return isa && (unsigned)f < MRG_CPU_N_FEATURES && (isa->features >> f & 1u);
}

char *mrg_cpu_isa_string(const mrg_cpu_isa *isa, char *buf, size_t n) {
    if (n == 0) return buf;
    buf[0] = '\0';
    if (!isa || !strcmp(isa->arch, "unknown")) {
        snprintf(buf, n, "unknown");
        return buf;
    }
    size_t len = 0;
    for (int f = 0; f < MRG_CPU_N_FEATURES; f++) {
        if (!mrg_cpu_isa_has(isa, (mrg_cpu_feature)f)) continue;
        int w = snprintf(buf + len, n - len, "%s%s", len ? " " : "", feature_names[f]);
        if (w < 0 || (size_t)w >= n - len) { /* truncated: keep the whole names */
            buf[len] = '\0';
            break;
        }
        len += (size_t)w;
    }
    if (len == 0) snprintf(buf, n, "none found");
    return buf;
}

#if defined(__x86_64__) && defined(__GNUC__)

/* XCR0: which register state the OS saves on a context switch. */
static uint64_t read_xcr0(void) {
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return (uint64_t)hi << 32 | lo;
}

/* Linux (5.16+) hands out AMX tile data only to processes that ask; a
 * process that uses the tiles without asking dies of SIGILL. Asking is
 * harmless (larger signal frames), so the detection asks once. */
static bool amx_permitted(void) {
#ifdef __linux__
    enum { ARCH_REQ_XCOMP_PERM = 0x1023, XFEATURE_XTILEDATA = 18 };
    return syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) == 0;
#else
    return false;
#endif
}

static void detect(mrg_cpu_isa *isa) {
    isa->arch = "x86_64";
    unsigned a, b, c, d;
    if (!__get_cpuid(0, &a, &b, &c, &d)) return;
    unsigned max_leaf = a;
    memcpy(isa->vendor, &b, 4);
    memcpy(isa->vendor + 4, &d, 4);
    memcpy(isa->vendor + 8, &c, 4);
    isa->vendor[12] = '\0';

    uint64_t f = 0;
#define SET(feat, cond) \
    if (cond) f |= (uint64_t)1 << (feat)
    __cpuid(1, a, b, c, d);
    unsigned ecx1 = c;
    SET(MRG_CPU_SSE4_2, ecx1 >> 20 & 1);
    /* xgetbv exists only when the OS has turned XSAVE on (OSXSAVE) */
    uint64_t xcr0 = (ecx1 >> 27 & 1) ? read_xcr0() : 0;
    bool os_ymm = (xcr0 & 0x6) == 0x6;           /* SSE + AVX state */
    bool os_zmm = os_ymm && (xcr0 & 0xe0) == 0xe0; /* opmask, ZMM0-15 upper, ZMM16-31 */
    bool os_tiles = (xcr0 & 0x60000) == 0x60000; /* XTILECFG + XTILEDATA */
    bool avx = os_ymm && (ecx1 >> 28 & 1);
    SET(MRG_CPU_AVX, avx);
    SET(MRG_CPU_FMA, avx && (ecx1 >> 12 & 1));
    SET(MRG_CPU_F16C, avx && (ecx1 >> 29 & 1)); /* VEX-encoded: needs the AVX state */
    if (max_leaf >= 7) {
        __cpuid_count(7, 0, a, b, c, d);
        unsigned max_sub7 = a, ebx7 = b, edx7 = d;
        SET(MRG_CPU_AVX2, avx && (ebx7 >> 5 & 1));
        bool avx512f = os_zmm && (ebx7 >> 16 & 1);
        SET(MRG_CPU_AVX512F, avx512f);
        SET(MRG_CPU_AVX512DQ, avx512f && (ebx7 >> 17 & 1));
        SET(MRG_CPU_AVX512BW, avx512f && (ebx7 >> 30 & 1));
        SET(MRG_CPU_AVX512VL, avx512f && (ebx7 >> 31 & 1));
        SET(MRG_CPU_AVX512_FP16, avx512f && (edx7 >> 23 & 1));
        if (max_sub7 >= 1) {
            __cpuid_count(7, 1, a, b, c, d);
            SET(MRG_CPU_AVX512_BF16, avx512f && (a >> 5 & 1));
        }
        bool amx_cpu = edx7 >> 24 & 1; /* AMX-TILE */
        if (amx_cpu && os_tiles) {
            if (amx_permitted()) {
                SET(MRG_CPU_AMX_TILE, true);
                SET(MRG_CPU_AMX_BF16, edx7 >> 22 & 1);
                SET(MRG_CPU_AMX_INT8, edx7 >> 25 & 1);
            } else {
                isa->amx_denied = true;
            }
        }
    }
#undef SET
    isa->features = f;
}

#elif defined(__aarch64__) && defined(__linux__)

/* Bits of <asm/hwcap.h>, spelt out for older headers. */
#define HWC_ASIMD (1ul << 1)
#define HWC_ATOMICS (1ul << 8)
#define HWC_ASIMDHP (1ul << 10)
#define HWC_ASIMDDP (1ul << 20)
#define HWC_SVE (1ul << 22)
#define HWC2_SVE2 (1ul << 1)
#define HWC2_I8MM (1ul << 13)
#define HWC2_BF16 (1ul << 14)

static void detect(mrg_cpu_isa *isa) {
    isa->arch = "aarch64";
    unsigned long h1 = getauxval(AT_HWCAP), h2 = getauxval(AT_HWCAP2);
    uint64_t f = 0;
#define SET(feat, cond) \
    if (cond) f |= (uint64_t)1 << (feat)
    SET(MRG_CPU_ASIMD, h1 & HWC_ASIMD);
    SET(MRG_CPU_ASIMDHP, h1 & HWC_ASIMDHP);
    SET(MRG_CPU_ASIMDDP, h1 & HWC_ASIMDDP);
    SET(MRG_CPU_ATOMICS, h1 & HWC_ATOMICS);
    SET(MRG_CPU_SVE, h1 & HWC_SVE);
    SET(MRG_CPU_SVE2, h2 & HWC2_SVE2);
    SET(MRG_CPU_BF16, h2 & HWC2_BF16);
    SET(MRG_CPU_I8MM, h2 & HWC2_I8MM);
#undef SET
    isa->features = f;
}

#else

static void detect(mrg_cpu_isa *isa) { isa->arch = "unknown"; }

#endif

static mrg_cpu_isa detected;
static void detect_once(void) { detect(&detected); }

const mrg_cpu_isa *mrg_cpu_isa_get(void) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, detect_once);
    return &detected;
}

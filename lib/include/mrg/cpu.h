/* The host CPU: its instruction sets and the BLAS kernels that run on it.
 *
 * The CPU backend's GEMMs are OpenBLAS's. A DYNAMIC_ARCH OpenBLAS (Debian's)
 * picks its kernel set ("core type") once, when it is loaded, from the CPU
 * model; on a model it does not know it may fall back to generic SSE kernels
 * ("Prescott") that run 5x slower than the AVX-512 ones the CPU could run.
 * The environment variable OPENBLAS_CORETYPE, read at load time, chooses the
 * core type instead. The `mrg` command sets it for itself (and re-executes
 * itself) when the CPU calls for a better core than OpenBLAS picked; other
 * programs that link libmrg get a one-time warning on stderr when they open
 * the cpu device, and can ask mrg_cpu_blas_check() or use
 * mrg_cpu_blas_prepare_env() before they re-execute themselves.
 *
 * Opening the cpu device sets OpenBLAS to one thread, process-wide and
 * whatever OPENBLAS_NUM_THREADS says: the device splits each GEMM over its
 * OpenMP threads (OMP_NUM_THREADS) itself, and OpenBLAS threads on top of
 * those would make two thread pools on the same cores. */
#ifndef MRG_HOST_CPU_H
#define MRG_HOST_CPU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Instruction-set features, named as Linux's /proc/cpuinfo names them.
 * A feature counts only when the OS also supports it: on x86-64 the
 * register state must be enabled in XCR0 (AVX: ymm; AVX-512: opmask and
 * zmm; AMX: tile config and tile data) and, for AMX, Linux must grant the
 * process the tile-data permission (arch_prctl(ARCH_REQ_XCOMP_PERM), which
 * the detection requests). */
typedef enum mrg_cpu_feature {
    /* x86-64 */
    MRG_CPU_SSE4_2,
    MRG_CPU_AVX,
    MRG_CPU_FMA,
    MRG_CPU_F16C, /* half <-> single conversions (vcvtph2ps) */
    MRG_CPU_AVX2,
    MRG_CPU_AVX512F,
    MRG_CPU_AVX512DQ,
    MRG_CPU_AVX512BW,
    MRG_CPU_AVX512VL,
    MRG_CPU_AVX512_BF16,
    MRG_CPU_AVX512_FP16,
    MRG_CPU_AMX_TILE,
    MRG_CPU_AMX_BF16,
    MRG_CPU_AMX_INT8,
    /* aarch64 (getauxval(AT_HWCAP/AT_HWCAP2)) */
    MRG_CPU_ASIMD, /* NEON */
    MRG_CPU_ASIMDHP,
    MRG_CPU_ASIMDDP,
    MRG_CPU_ATOMICS,
    MRG_CPU_SVE,
    MRG_CPU_SVE2,
    MRG_CPU_BF16,
    MRG_CPU_I8MM,
    MRG_CPU_N_FEATURES
} mrg_cpu_feature;

typedef struct mrg_cpu_isa {
    const char *arch;  /* "x86_64", "aarch64" or "unknown" */
    char vendor[16];   /* x86: "GenuineIntel", "AuthenticAMD", ...; else "" */
    uint64_t features; /* bit (1 << mrg_cpu_feature) per feature present */
    bool amx_denied;   /* the CPU and XCR0 have AMX but Linux refused the permission */
} mrg_cpu_isa;

/* The ISA of the CPU this process runs on (detected once, then cached). */
const mrg_cpu_isa *mrg_cpu_isa_get(void);
bool mrg_cpu_isa_has(const mrg_cpu_isa *isa, mrg_cpu_feature f);
/* "avx512_bf16"; NULL for an out-of-range value. */
const char *mrg_cpu_feature_name(mrg_cpu_feature f);
/* The features present, space-separated ("sse4_2 avx fma avx2 ..."), or
 * "none found" / "unknown". Returns buf. */
char *mrg_cpu_isa_string(const mrg_cpu_isa *isa, char *buf, size_t n);

/* OpenBLAS core type (an OPENBLAS_CORETYPE value) whose kernels fit the ISA
 * best: Cooperlake (AVX512-BF16 or AMX-BF16), SkylakeX (AVX-512 F/DQ/BW/VL),
 * Zen (AMD/Hygon with AVX2+FMA) or Haswell (AVX2+FMA), Sandybridge (AVX);
 * neoversen1 (aarch64 with the ARMv8.2 features). NULL when no core beyond
 * OpenBLAS's own generic choice applies. Pure: depends on isa only. */
const char *mrg_cpu_blas_core_for(const mrg_cpu_isa *isa);
/* The core type to switch to when `current` (openblas_get_corename()) is a
 * kernel set below what isa supports, else NULL. Cores that mrg does not
 * know are never replaced. Pure: e.g. ("Prescott" on a Sapphire Rapids ISA)
 * -> "Cooperlake"; ("Haswell" on an AMD AVX2 ISA) -> NULL. */
const char *mrg_cpu_blas_upgrade(const mrg_cpu_isa *isa, const char *current);

/* True when OpenBLAS runs kernels that fit this CPU (or nothing better is
 * known). False when it does not, with a one-line message in msg naming the
 * exact setting that would fix it (OPENBLAS_CORETYPE=...). A core chosen by
 * the user through OPENBLAS_CORETYPE is respected: it fails the check only
 * when OpenBLAS did not accept it. */
bool mrg_cpu_blas_check(char *msg, size_t n);

/* For programs that can re-execute themselves (the `mrg` command does):
 * when OpenBLAS is DYNAMIC_ARCH, the user has not set OPENBLAS_CORETYPE and
 * this CPU calls for a better core than OpenBLAS picked, sets
 * OPENBLAS_CORETYPE to it and MRG_BLAS_CORE_CHOSEN to the core OpenBLAS had
 * picked, and returns true: the caller must then exec itself, since OpenBLAS
 * reads the variable only when it is loaded. Returns false (environment
 * untouched) otherwise, and always in a process that mrg already set up, so
 * one re-exec is the most it can cause. */
bool mrg_cpu_blas_prepare_env(void);
/* The name to put in OPENBLAS_CORETYPE for `core` with OpenBLAS `version`
 * ("0.3.21"; NULL: the OpenBLAS mrg runs on): the core itself, or SkylakeX
 * for Cooperlake before 0.3.22, which does not accept that name (same f32
 * kernels). NULL for a NULL core. */
const char *mrg_cpu_blas_env_name(const char *core, const char *version);
/* Undoes mrg_cpu_blas_prepare_env() (for a caller whose exec failed). */
void mrg_cpu_blas_unprepare_env(void);

#ifdef __cplusplus
}
#endif
#endif

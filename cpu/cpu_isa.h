/* Internal to the CPU backend: the ISA and BLAS-core lines of `mrg info`
 * and the device's one-time warning. The public side is mrg/cpu.h. */
#ifndef MRG_CPU_ISA_H
#define MRG_CPU_ISA_H

#include <stddef.h>

#include "mrg/cpu.h"

/* "Cooperlake, chosen by OpenBLAS; fits this CPU", "Cooperlake, chosen by
 * mrg for this CPU (OPENBLAS_CORETYPE=Cooperlake; OpenBLAS picked
 * Prescott)", "SkylakeX, set by OPENBLAS_CORETYPE=SkylakeX (...)", ... */
void cpu_blas_describe(char *buf, size_t n);

/* Prints mrg_cpu_blas_check()'s message on stderr, once per process. */
void cpu_blas_warn_once(void);

#endif

/* Preloaded by test_cpu_isa in place of OpenBLAS's openblas_get_corename():
 * it reports the generic "Prescott" kernels, as OpenBLAS 0.3.21 does on an
 * Intel CPU model it does not know, unless OPENBLAS_CORETYPE names a core,
 * which it then reports as taken. With MRG_FAKE_BLAS_IGNORES_CORETYPE set
 * it ignores OPENBLAS_CORETYPE too, as OpenBLAS ignores a name it does not
 * accept. Only the name is faked: the GEMMs are the real OpenBLAS's. */
#include <stdlib.h>

char *openblas_get_corename(void);

char *openblas_get_corename(void) {
    char *forced = getenv("OPENBLAS_CORETYPE");
    if (forced && *forced && !getenv("MRG_FAKE_BLAS_IGNORES_CORETYPE")) return forced;
    return "Prescott";
}

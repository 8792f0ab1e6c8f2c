/* The backends this library knows, in the order device names are matched
 * and `mrg info` prints them; the first is the default device when no
 * backend has an accelerator (see core/registry.h).
 *
 * A backend is a folder that fills the vtable of core/backend.h and defines
 * one mrg_backend_reg; adding it is its declaration and one line in the
 * list below (plus its sources in CMakeLists.txt); nothing in lib/core
 * changes. */
#include "core/registry.h"

extern const mrg_backend_reg mrg_cpu_registry; /* cpu/backend_cpu.c */
extern const mrg_backend_reg mrg_cl_registry;  /* cl/cl_registry.c, in every build */

const mrg_backend_reg *const mrg_backends[] = {
    &mrg_cpu_registry,
    &mrg_cl_registry,
    NULL,
};

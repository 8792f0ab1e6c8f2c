/* Device registry: opening backends by name, listing and describing them. */
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"

void mrg_tape_free(mrg_tape *tape); /* autograd.c */
void mrg_arena_destroy(mrg_device *dev); /* arena.c */

static bool parse_cl_index(const char *name, int *index) {
    if (!strcmp(name, "opencl") || !strcmp(name, "gpu")) {
        *index = -1;
        return true;
    }
    if (strncmp(name, "opencl:", 7) != 0) return false;
    /* 1 to 4 digits and nothing else ("opencl: 1", "opencl:+1" are not names) */
    size_t len = strspn(name + 7, "0123456789");
    if (len < 1 || len > 4 || name[7 + len]) return false;
    int v = 0;
    for (size_t i = 0; i < len; i++) v = 10 * v + (name[7 + i] - '0');
    *index = v;
    return true;
}

mrg_device *mrg_device_open(const char *name) {
    /* the default may come from the environment: name it in messages */
    const char *env = getenv("MRG_DEVICE");
    bool from_env = (!name || !*name) && env && *env;
    if (!name || !*name) name = mrg_default_device_name();
    mrg_device *dev = calloc(1, sizeof *dev);
    if (!dev) {
        mrg_error(MRG_ERR_OOM, "out of host memory opening device");
        return NULL;
    }
    dev->grad_enabled = true;
    mrg_status st;
    int index;
    if (!strcmp(name, "cpu")) {
        st = mrg_cpu_backend_init(dev);
        snprintf(dev->name, sizeof dev->name, "cpu");
    } else if (parse_cl_index(name, &index)) {
#ifdef MRG_HAVE_OPENCL
        st = mrg_cl_backend_init(dev, index);
        if (st == MRG_OK) {
            /* the backend leaves the resolved index in name when index < 0 */
            if (!dev->name[0]) snprintf(dev->name, sizeof dev->name, "opencl:%d", index);
        }
#else
        st = mrg_error(MRG_ERR_UNSUPPORTED,
                       "device '%s': this build of mrg has no OpenCL backend "
                       "(rebuild with OpenCL and CLBlast installed)",
                       name);
#endif
    } else {
        st = mrg_error(MRG_ERR_NOT_FOUND,
                       "unknown device '%s' (expected cpu, opencl or opencl:N; see mrg info)",
                       name);
    }
    if (st != MRG_OK) {
        if (from_env) mrg_error_context(st, "MRG_DEVICE=%s", name);
        free(dev);
        return NULL;
    }
    return dev;
}

void mrg_device_free(mrg_device *dev) {
    if (!dev) return;
    mrg_step_reset(dev);
    mrg_tape_free(dev->tape);
    mrg_arena_destroy(dev);
    free(dev->step_structs);
    if (dev->be && dev->be->destroy) dev->be->destroy(dev);
    free(dev);
}

const char *mrg_device_name(const mrg_device *dev) { return dev ? dev->name : "?"; }
const char *mrg_device_description(const mrg_device *dev) { return dev ? dev->description : "?"; }
bool mrg_device_is_cpu(const mrg_device *dev) { return dev && !strcmp(dev->be->kind, "cpu"); }

mrg_status mrg_device_sync(mrg_device *dev) {
    if (!dev) return mrg_error(MRG_ERR_INVALID_ARG, "sync: no device");
    return dev->be->sync(dev);
}

const char *mrg_default_device_name(void) {
    const char *env = getenv("MRG_DEVICE");
    if (env && *env) return env;
#ifdef MRG_HAVE_OPENCL
    /* an OpenCL CPU device (PoCL) is slower than the native CPU backend */
    if (mrg_cl_gpu_count() > 0) return "opencl";
#endif
    return "cpu";
}

int mrg_list_devices(char names[][32], int max) {
    int n = 0;
    if (n < max) snprintf(names[n++], 32, "cpu");
#ifdef MRG_HAVE_OPENCL
    int ncl = mrg_cl_device_count();
    for (int i = 0; i < ncl && n < max; i++) snprintf(names[n++], 32, "opencl:%d", i);
#endif
    return n;
}

mrg_status mrg_print_devices(FILE *out) {
    fprintf(out, "default device: %s\n\n", mrg_default_device_name());
    MRG_TRY(mrg_cpu_print_info(out));
    fprintf(out, "\n");
#ifdef MRG_HAVE_OPENCL
    return mrg_cl_print_devices(out);
#else
    fprintf(out, "OpenCL: not built (install OpenCL and CLBlast and rebuild)\n");
    return MRG_OK;
#endif
}

size_t mrg_device_arena_bytes(const mrg_device *dev) { return dev ? dev->arena_used : 0; }
size_t mrg_device_persistent_bytes(const mrg_device *dev) {
    return dev ? dev->persistent_bytes : 0;
}

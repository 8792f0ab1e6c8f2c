/* Device registry: opening backends by name, listing and describing them. */
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "core/registry.h"

/* Whether name names a device of r: its prefix or alias (*index = -1, the
 * default device) or, for a numbered backend, "prefix:N" (*index = N). */
static bool name_matches(const mrg_backend_reg *r, const char *name, int *index) {
    if (!strcmp(name, r->prefix) || (r->alias && !strcmp(name, r->alias))) {
        *index = -1;
        return true;
    }
    size_t n = strlen(r->prefix);
    if (!r->numbered || strncmp(name, r->prefix, n) != 0 || name[n] != ':') return false;
    /* 1 to 4 digits and nothing else ("opencl: 1", "opencl:+1" are not names) */
    const char *digits = name + n + 1;
    size_t len = strspn(digits, "0123456789");
    if (len < 1 || len > 4 || digits[len]) return false;
    int v = 0;
    for (size_t i = 0; i < len; i++) v = 10 * v + (digits[i] - '0');
    *index = v;
    return true;
}

/* "unknown device 'x' (expected cpu, opencl or opencl:N; see mrg info)" */
static mrg_status unknown_device(const char *name) {
    const char *names[32];
    char numbered[32][40];
    int n = 0;
    for (int i = 0; mrg_backends[i] && n + 2 <= 32; i++) {
        names[n++] = mrg_backends[i]->prefix;
        if (mrg_backends[i]->numbered) {
            snprintf(numbered[n], sizeof numbered[n], "%s:N", mrg_backends[i]->prefix);
            names[n] = numbered[n];
            n++;
        }
    }
    char expected[512] = "";
    size_t len = 0;
    for (int i = 0; i < n && len < sizeof expected; i++)
        len += (size_t)snprintf(expected + len, sizeof expected - len, "%s%s",
                                i == 0 ? "" : i == n - 1 ? " or " : ", ", names[i]);
    return mrg_error(MRG_ERR_NOT_FOUND, "unknown device '%s' (expected %s; see mrg info)", name,
                     expected);
}

static mrg_status open_on(const mrg_backend_reg *r, mrg_device *dev, const char *name,
                          int index) {
    if (!r->init)
        return mrg_error(MRG_ERR_UNSUPPORTED,
                         "device '%s': this build of mrg has no %s backend (rebuild with %s "
                         "installed)",
                         name, r->title, r->needs);
    MRG_TRY(r->init(dev, index));
    dev->reg = r;
    /* a backend that resolves a default index names the device itself */
    if (!dev->name[0]) {
        if (r->numbered && index >= 0)
            snprintf(dev->name, sizeof dev->name, "%s:%d", r->prefix, index);
        else
            snprintf(dev->name, sizeof dev->name, "%s", r->prefix);
    }
    return MRG_OK;
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
    int index = -1, i = 0;
    while (mrg_backends[i] && !name_matches(mrg_backends[i], name, &index)) i++;
    mrg_status st = mrg_backends[i] ? open_on(mrg_backends[i], dev, name, index)
                                    : unknown_device(name);
    if (st != MRG_OK) {
        if (from_env) mrg_error_context(st, "MRG_DEVICE=%s", name);
        free(dev);
        return NULL;
    }
    return dev;
}

mrg_device *mrg_device_open_shared(const char *name, int local_rank, int local_size) {
    const char *resolved = name && *name ? name : mrg_default_device_name();
    int index = -1, i = 0;
    while (mrg_backends[i] && !name_matches(mrg_backends[i], resolved, &index)) i++;
    const mrg_backend_reg *r = mrg_backends[i];
    if (local_size <= 1 || !r || index >= 0 || !r->init || !r->accelerators || !r->accelerator_index)
        return mrg_device_open(name);
    /* the backend's default device: the ranks of this host take its
     * accelerators in turn; without any they share the default device */
    int n = r->accelerators();
    if (n <= 0) return mrg_device_open(name);
    int k = r->accelerator_index(local_rank % n);
    if (k < 0) return mrg_device_open(name);
    char indexed[64];
    snprintf(indexed, sizeof indexed, "%s:%d", r->prefix, k);
    return mrg_device_open(indexed);
}

void mrg_device_free(mrg_device *dev) {
    if (!dev) return;
    mrg_step_reset(dev);
    mrg_tape_free(dev->tape);
    mrg_arena_destroy(dev);
    mrg_grad_pool_destroy(dev);
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
    /* the first backend with an accelerator (an OpenCL GPU: an OpenCL CPU
     * device such as PoCL is slower than the native CPU backend), else the
     * first backend */
    for (int i = 0; mrg_backends[i]; i++)
        if (mrg_backends[i]->accelerators && mrg_backends[i]->accelerators() > 0)
            return mrg_backends[i]->prefix;
    return mrg_backends[0]->prefix;
}

int mrg_list_devices(char names[][32], int max) {
    int n = 0;
    for (int i = 0; mrg_backends[i]; i++) {
        const mrg_backend_reg *r = mrg_backends[i];
        if (!r->count) continue;
        if (!r->numbered) {
            if (n < max && r->count() > 0) snprintf(names[n++], 32, "%s", r->prefix);
            continue;
        }
        int count = r->count();
        for (int d = 0; d < count && n < max; d++) snprintf(names[n++], 32, "%s:%d", r->prefix, d);
    }
    return n;
}

mrg_status mrg_print_devices(FILE *out) {
    fprintf(out, "default device: %s\n", mrg_default_device_name());
    for (int i = 0; mrg_backends[i]; i++) {
        const mrg_backend_reg *r = mrg_backends[i];
        fprintf(out, "\n");
        if (r->describe)
            MRG_TRY(r->describe(out));
        else
            fprintf(out, "%s: not built (install %s and rebuild)\n", r->title, r->needs);
    }
    return MRG_OK;
}

bool mrg_device_supports(const mrg_device *dev, mrg_kernel k, mrg_dtype dt) {
    if (!dev || !mrg_kernel_dtype_allowed(k, dt)) return false;
    return !dev->reg || !dev->reg->supports || dev->reg->supports(dev, k, dt);
}

size_t mrg_device_arena_bytes(const mrg_device *dev) { return dev ? dev->arena_used : 0; }
size_t mrg_device_persistent_bytes(const mrg_device *dev) {
    return dev ? dev->persistent_bytes : 0;
}

/* OpenCL device enumeration and `mrg info` output.
 *
 * The global device order is: platforms in clGetPlatformIDs order, devices
 * of each platform in clGetDeviceIDs order. "opencl:N" names the N-th device
 * of that order; "opencl" picks the first GPU, else device 0. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cl/cl.h"

#define MAX_PLATFORMS 16
#define MAX_DEVICES_PER_PLATFORM 64

/* Platforms, or 0 when none exists (CL_PLATFORM_NOT_FOUND_KHR is not an
 * error here: the ICD loader returns it when no driver is installed). */
static cl_uint get_platforms(cl_platform_id *plats) {
    cl_uint n = 0;
    cl_int err = clGetPlatformIDs(MAX_PLATFORMS, plats, &n);
    if (err != CL_SUCCESS) return 0;
    return n > MAX_PLATFORMS ? MAX_PLATFORMS : n;
}

static cl_uint get_devices(cl_platform_id p, cl_device_id *devs) {
    cl_uint n = 0;
    if (clGetDeviceIDs(p, CL_DEVICE_TYPE_ALL, MAX_DEVICES_PER_PLATFORM, devs, &n) != CL_SUCCESS)
        return 0;
    return n > MAX_DEVICES_PER_PLATFORM ? MAX_DEVICES_PER_PLATFORM : n;
}

static bool is_gpu(cl_device_id d) {
    cl_device_type t = 0;
    if (clGetDeviceInfo(d, CL_DEVICE_TYPE, sizeof t, &t, NULL) != CL_SUCCESS) return false;
    return (t & CL_DEVICE_TYPE_GPU) != 0;
}

int mrg_cl_enumerate(mrg_cl_devref *out, int max, int *default_index) {
    cl_platform_id plats[MAX_PLATFORMS];
    cl_uint np = get_platforms(plats);
    int count = 0, first_gpu = -1;
    for (cl_uint p = 0; p < np; p++) {
        cl_device_id devs[MAX_DEVICES_PER_PLATFORM];
        cl_uint nd = get_devices(plats[p], devs);
        for (cl_uint d = 0; d < nd; d++) {
            if (first_gpu < 0 && is_gpu(devs[d])) first_gpu = count;
            if (out && count < max) {
                out[count].platform = plats[p];
                out[count].device = devs[d];
            }
            count++;
        }
    }
    if (default_index) *default_index = count == 0 ? -1 : (first_gpu >= 0 ? first_gpu : 0);
    return count;
}

int mrg_cl_device_count(void) { return mrg_cl_enumerate(NULL, 0, NULL); }

int mrg_cl_gpu_count(void) {
    mrg_cl_devref refs[64];
    int n = mrg_cl_enumerate(refs, 64, NULL), gpus = 0;
    for (int i = 0; i < n && i < 64; i++) gpus += is_gpu(refs[i].device);
    return gpus;
}

int mrg_cl_gpu_index(int k) {
    mrg_cl_devref refs[64];
    int n = mrg_cl_enumerate(refs, 64, NULL);
    for (int i = 0; i < n && i < 64; i++)
        if (is_gpu(refs[i].device) && k-- == 0) return i;
    return -1;
}

static void info_str(cl_device_id d, cl_device_info what, char *buf, size_t n) {
    buf[0] = 0;
    if (clGetDeviceInfo(d, what, n, buf, NULL) != CL_SUCCESS) snprintf(buf, n, "?");
    buf[n - 1] = 0;
}

static cl_ulong info_ulong(cl_device_id d, cl_device_info what) {
    cl_ulong v = 0;
    clGetDeviceInfo(d, what, sizeof v, &v, NULL);
    return v;
}

static cl_uint info_uint(cl_device_id d, cl_device_info what) {
    cl_uint v = 0;
    clGetDeviceInfo(d, what, sizeof v, &v, NULL);
    return v;
}

/* True when the space-separated extension list names ext exactly. */
static bool has_extension(cl_device_id d, const char *ext) {
    size_t n = 0;
    if (clGetDeviceInfo(d, CL_DEVICE_EXTENSIONS, 0, NULL, &n) != CL_SUCCESS || n == 0)
        return false;
    char *s = malloc(n + 1);
    if (!s) return false;
    bool found = false;
    if (clGetDeviceInfo(d, CL_DEVICE_EXTENSIONS, n, s, NULL) == CL_SUCCESS) {
        s[n] = 0;
        size_t len = strlen(ext);
        for (char *p = strstr(s, ext); p && !found; p = strstr(p + 1, ext))
            found = (p == s || p[-1] == ' ') && (p[len] == 0 || p[len] == ' ');
    }
    free(s);
    return found;
}

bool mrg_cl_device_fp64(cl_device_id d) {
    if (has_extension(d, "cl_khr_fp64")) return true;
    cl_device_fp_config cfg = 0;
    clGetDeviceInfo(d, CL_DEVICE_DOUBLE_FP_CONFIG, sizeof cfg, &cfg, NULL);
    return cfg != 0;
}

static const char *type_name(cl_device_id d) {
    cl_device_type t = 0;
    clGetDeviceInfo(d, CL_DEVICE_TYPE, sizeof t, &t, NULL);
    if (t & CL_DEVICE_TYPE_GPU) return "GPU";
    if (t & CL_DEVICE_TYPE_CPU) return "CPU";
    if (t & CL_DEVICE_TYPE_ACCELERATOR) return "accelerator";
    return "other";
}

mrg_status mrg_cl_print_devices(FILE *out) {
    cl_platform_id plats[MAX_PLATFORMS];
    cl_uint np = get_platforms(plats);
    int def = -1;
    int total = mrg_cl_enumerate(NULL, 0, &def);
    if (np == 0 || total == 0) {
        fprintf(out, "OpenCL: no platform or device found (is an OpenCL driver / ICD installed?)\n");
        return MRG_OK;
    }
    int index = 0;
    for (cl_uint p = 0; p < np; p++) {
        char pname[256], pver[256];
        if (clGetPlatformInfo(plats[p], CL_PLATFORM_NAME, sizeof pname, pname, NULL) != CL_SUCCESS)
            snprintf(pname, sizeof pname, "?");
        if (clGetPlatformInfo(plats[p], CL_PLATFORM_VERSION, sizeof pver, pver, NULL) != CL_SUCCESS)
            snprintf(pver, sizeof pver, "?");
        pname[sizeof pname - 1] = pver[sizeof pver - 1] = 0;
        fprintf(out, "OpenCL platform %u: %s (%s)\n", p, pname, pver);
        cl_device_id devs[MAX_DEVICES_PER_PLATFORM];
        cl_uint nd = get_devices(plats[p], devs);
        if (nd == 0) fprintf(out, "  (no devices)\n");
        for (cl_uint i = 0; i < nd; i++, index++) {
            cl_device_id d = devs[i];
            char name[256], vendor[256], cver[128], dver[128];
            info_str(d, CL_DEVICE_NAME, name, sizeof name);
            info_str(d, CL_DEVICE_VENDOR, vendor, sizeof vendor);
            info_str(d, CL_DEVICE_OPENCL_C_VERSION, cver, sizeof cver);
            info_str(d, CL_DEVICE_VERSION, dver, sizeof dver);
            size_t max_wg = 0;
            clGetDeviceInfo(d, CL_DEVICE_MAX_WORK_GROUP_SIZE, sizeof max_wg, &max_wg, NULL);
            bool fp64 = mrg_cl_device_fp64(d);
            fprintf(out, "  opencl:%d  %s%s\n", index, name, index == def ? "  [default]" : "");
            fprintf(out, "    type %s, vendor %s, %s, %s\n", type_name(d), vendor, dver, cver);
            fprintf(out,
                    "    global memory %.2f GiB (max allocation %.2f GiB), local memory %llu KiB\n",
                    (double)info_ulong(d, CL_DEVICE_GLOBAL_MEM_SIZE) / (1024.0 * 1024 * 1024),
                    (double)info_ulong(d, CL_DEVICE_MAX_MEM_ALLOC_SIZE) / (1024.0 * 1024 * 1024),
                    (unsigned long long)(info_ulong(d, CL_DEVICE_LOCAL_MEM_SIZE) / 1024));
            fprintf(out,
                    "    compute units %u, max work-group size %zu, fp16 (cl_khr_fp16) %s, fp64 %s\n",
                    info_uint(d, CL_DEVICE_MAX_COMPUTE_UNITS), max_wg,
                    has_extension(d, "cl_khr_fp16") ? "yes" : "no", fp64 ? "yes" : "no");
        }
    }
    return MRG_OK;
}

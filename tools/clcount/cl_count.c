/* An OpenCL call-counting shim (see cl_count.h): each wrapped entry point
 * counts, then calls the real one found with dlsym(RTLD_NEXT). Loaded with
 * LD_PRELOAD, it sits in front of the ICD loader, so every caller in the
 * process is seen (mrg's own kernels and CLBlast's alike), each call once.
 * Launches are also counted per kernel name for the exit summary. */
#define _GNU_SOURCE
#ifndef CL_TARGET_OPENCL_VERSION
#define CL_TARGET_OPENCL_VERSION 120
#endif
#include <CL/cl.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cl_count.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static mrg_clcount_stats st;

/* launches per kernel name */
#define MAX_NAMES 256
static struct {
    char name[64];
    uint64_t n;
} names[MAX_NAMES];
static int n_names;

/* live buffers: cl_mem → bytes, open addressing (deleted slots keep a
 * tombstone so probes run on) */
#define MAX_BUFS 65536
static struct {
    cl_mem m;
    size_t bytes;
    int used; /* 0 empty, 1 live, 2 tombstone */
} bufs[MAX_BUFS];

static size_t slot_of(cl_mem m) { return ((uintptr_t)m >> 4) * 2654435761u % MAX_BUFS; }

static void buf_add(cl_mem m, size_t bytes) {
    size_t i = slot_of(m);
    for (size_t n = 0; n < MAX_BUFS; n++, i = (i + 1) % MAX_BUFS)
        if (bufs[i].used != 1) {
            bufs[i].m = m;
            bufs[i].bytes = bytes;
            bufs[i].used = 1;
            st.live_bytes += bytes;
            if (st.live_bytes > st.peak_live_bytes) st.peak_live_bytes = st.live_bytes;
            return;
        }
}

static void buf_remove(cl_mem m) {
    size_t i = slot_of(m);
    for (size_t n = 0; n < MAX_BUFS && bufs[i].used; n++, i = (i + 1) % MAX_BUFS)
        if (bufs[i].used == 1 && bufs[i].m == m) {
            st.live_bytes -= bufs[i].bytes;
            bufs[i].used = 2;
            return;
        }
}

static void *real(const char *name) {
    void *f = dlsym(RTLD_NEXT, name);
    if (!f) {
        fprintf(stderr, "mrg clcount: %s not found behind the shim\n", name);
        abort();
    }
    return f;
}
#define REAL(type, name)                                   \
    static type fn_##name;                                 \
    if (!fn_##name) fn_##name = (type)real(#name)

static void count_launch(cl_kernel k) {
    char name[64] = "?";
    clGetKernelInfo(k, CL_KERNEL_FUNCTION_NAME, sizeof name - 1, name, NULL);
    name[sizeof name - 1] = 0;
    pthread_mutex_lock(&lock);
    st.launches++;
    int i = 0;
    while (i < n_names && strcmp(names[i].name, name)) i++;
    if (i == n_names && n_names < MAX_NAMES) snprintf(names[n_names++].name, 64, "%s", name);
    if (i < n_names) names[i].n++;
    pthread_mutex_unlock(&lock);
}

#define COUNT(body)                 \
    do {                            \
        pthread_mutex_lock(&lock);  \
        body;                       \
        pthread_mutex_unlock(&lock); \
    } while (0)

/* ---- the wrapped entry points ------------------------------------------- */

typedef cl_int (*ndrange_fn)(cl_command_queue, cl_kernel, cl_uint, const size_t *,
                             const size_t *, const size_t *, cl_uint, const cl_event *,
                             cl_event *);
cl_int clEnqueueNDRangeKernel(cl_command_queue q, cl_kernel k, cl_uint dims, const size_t *off,
                              const size_t *global, const size_t *local, cl_uint ne,
                              const cl_event *wl, cl_event *ev) {
    REAL(ndrange_fn, clEnqueueNDRangeKernel);
    cl_int r = fn_clEnqueueNDRangeKernel(q, k, dims, off, global, local, ne, wl, ev);
    if (r == CL_SUCCESS) count_launch(k);
    return r;
}

typedef cl_int (*task_fn)(cl_command_queue, cl_kernel, cl_uint, const cl_event *, cl_event *);
cl_int clEnqueueTask(cl_command_queue q, cl_kernel k, cl_uint ne, const cl_event *wl,
                     cl_event *ev) {
    REAL(task_fn, clEnqueueTask);
    cl_int r = fn_clEnqueueTask(q, k, ne, wl, ev);
    if (r == CL_SUCCESS) count_launch(k);
    return r;
}

typedef cl_int (*rw_fn)(cl_command_queue, cl_mem, cl_bool, size_t, size_t, const void *, cl_uint,
                        const cl_event *, cl_event *);
typedef cl_int (*read_fn)(cl_command_queue, cl_mem, cl_bool, size_t, size_t, void *, cl_uint,
                          const cl_event *, cl_event *);
cl_int clEnqueueWriteBuffer(cl_command_queue q, cl_mem m, cl_bool blocking, size_t off,
                            size_t bytes, const void *src, cl_uint ne, const cl_event *wl,
                            cl_event *ev) {
    REAL(rw_fn, clEnqueueWriteBuffer);
    cl_int r = fn_clEnqueueWriteBuffer(q, m, blocking, off, bytes, src, ne, wl, ev);
    if (r == CL_SUCCESS) COUNT(st.writes++; st.write_bytes += bytes; st.writes_blocking += !!blocking);
    return r;
}

cl_int clEnqueueReadBuffer(cl_command_queue q, cl_mem m, cl_bool blocking, size_t off,
                           size_t bytes, void *dst, cl_uint ne, const cl_event *wl,
                           cl_event *ev) {
    REAL(read_fn, clEnqueueReadBuffer);
    cl_int r = fn_clEnqueueReadBuffer(q, m, blocking, off, bytes, dst, ne, wl, ev);
    if (r == CL_SUCCESS) COUNT(st.reads++; st.read_bytes += bytes; st.reads_blocking += !!blocking);
    return r;
}

static size_t rect_bytes(const size_t *region) { return region[0] * region[1] * region[2]; }

typedef cl_int (*wrect_fn)(cl_command_queue, cl_mem, cl_bool, const size_t *, const size_t *,
                           const size_t *, size_t, size_t, size_t, size_t, const void *, cl_uint,
                           const cl_event *, cl_event *);
cl_int clEnqueueWriteBufferRect(cl_command_queue q, cl_mem m, cl_bool blocking, const size_t *bo,
                                const size_t *ho, const size_t *region, size_t brp, size_t bsp,
                                size_t hrp, size_t hsp, const void *src, cl_uint ne,
                                const cl_event *wl, cl_event *ev) {
    REAL(wrect_fn, clEnqueueWriteBufferRect);
    cl_int r = fn_clEnqueueWriteBufferRect(q, m, blocking, bo, ho, region, brp, bsp, hrp, hsp,
                                           src, ne, wl, ev);
    if (r == CL_SUCCESS)
        COUNT(st.writes++; st.write_bytes += rect_bytes(region); st.writes_blocking += !!blocking);
    return r;
}

typedef cl_int (*rrect_fn)(cl_command_queue, cl_mem, cl_bool, const size_t *, const size_t *,
                           const size_t *, size_t, size_t, size_t, size_t, void *, cl_uint,
                           const cl_event *, cl_event *);
cl_int clEnqueueReadBufferRect(cl_command_queue q, cl_mem m, cl_bool blocking, const size_t *bo,
                               const size_t *ho, const size_t *region, size_t brp, size_t bsp,
                               size_t hrp, size_t hsp, void *dst, cl_uint ne, const cl_event *wl,
                               cl_event *ev) {
    REAL(rrect_fn, clEnqueueReadBufferRect);
    cl_int r = fn_clEnqueueReadBufferRect(q, m, blocking, bo, ho, region, brp, bsp, hrp, hsp, dst,
                                          ne, wl, ev);
    if (r == CL_SUCCESS)
        COUNT(st.reads++; st.read_bytes += rect_bytes(region); st.reads_blocking += !!blocking);
    return r;
}

typedef cl_int (*copy_fn)(cl_command_queue, cl_mem, cl_mem, size_t, size_t, size_t, cl_uint,
                          const cl_event *, cl_event *);
cl_int clEnqueueCopyBuffer(cl_command_queue q, cl_mem s, cl_mem d, size_t so, size_t dof,
                           size_t bytes, cl_uint ne, const cl_event *wl, cl_event *ev) {
    REAL(copy_fn, clEnqueueCopyBuffer);
    cl_int r = fn_clEnqueueCopyBuffer(q, s, d, so, dof, bytes, ne, wl, ev);
    if (r == CL_SUCCESS) COUNT(st.copies++; st.copy_bytes += bytes);
    return r;
}

typedef cl_int (*copyrect_fn)(cl_command_queue, cl_mem, cl_mem, const size_t *, const size_t *,
                              const size_t *, size_t, size_t, size_t, size_t, cl_uint,
                              const cl_event *, cl_event *);
cl_int clEnqueueCopyBufferRect(cl_command_queue q, cl_mem s, cl_mem d, const size_t *so,
                               const size_t *dof, const size_t *region, size_t srp, size_t ssp,
                               size_t drp, size_t dsp, cl_uint ne, const cl_event *wl,
                               cl_event *ev) {
    REAL(copyrect_fn, clEnqueueCopyBufferRect);
    cl_int r = fn_clEnqueueCopyBufferRect(q, s, d, so, dof, region, srp, ssp, drp, dsp, ne, wl, ev);
    if (r == CL_SUCCESS) COUNT(st.copies++; st.copy_bytes += rect_bytes(region));
    return r;
}

typedef cl_int (*fill_fn)(cl_command_queue, cl_mem, const void *, size_t, size_t, size_t,
                          cl_uint, const cl_event *, cl_event *);
cl_int clEnqueueFillBuffer(cl_command_queue q, cl_mem m, const void *pat, size_t ps, size_t off,
                           size_t bytes, cl_uint ne, const cl_event *wl, cl_event *ev) {
    REAL(fill_fn, clEnqueueFillBuffer);
    cl_int r = fn_clEnqueueFillBuffer(q, m, pat, ps, off, bytes, ne, wl, ev);
    if (r == CL_SUCCESS) COUNT(st.fills++; st.fill_bytes += bytes);
    return r;
}

typedef void *(*map_fn)(cl_command_queue, cl_mem, cl_bool, cl_map_flags, size_t, size_t, cl_uint,
                        const cl_event *, cl_event *, cl_int *);
void *clEnqueueMapBuffer(cl_command_queue q, cl_mem m, cl_bool blocking, cl_map_flags fl,
                         size_t off, size_t bytes, cl_uint ne, const cl_event *wl, cl_event *ev,
                         cl_int *err) {
    REAL(map_fn, clEnqueueMapBuffer);
    void *p = fn_clEnqueueMapBuffer(q, m, blocking, fl, off, bytes, ne, wl, ev, err);
    if (p) COUNT(st.maps++);
    return p;
}

typedef cl_int (*finish_fn)(cl_command_queue);
cl_int clFinish(cl_command_queue q) {
    REAL(finish_fn, clFinish);
    COUNT(st.finishes++);
    return fn_clFinish(q);
}

typedef cl_int (*wait_fn)(cl_uint, const cl_event *);
cl_int clWaitForEvents(cl_uint n, const cl_event *evs) {
    REAL(wait_fn, clWaitForEvents);
    COUNT(st.waits++);
    return fn_clWaitForEvents(n, evs);
}

typedef cl_mem (*create_fn)(cl_context, cl_mem_flags, size_t, void *, cl_int *);
cl_mem clCreateBuffer(cl_context ctx, cl_mem_flags fl, size_t bytes, void *host, cl_int *err) {
    REAL(create_fn, clCreateBuffer);
    cl_mem m = fn_clCreateBuffer(ctx, fl, bytes, host, err);
    if (m) COUNT(st.allocs++; buf_add(m, bytes));
    return m;
}

typedef cl_int (*release_fn)(cl_mem);
cl_int clReleaseMemObject(cl_mem m) {
    REAL(release_fn, clReleaseMemObject);
    cl_uint refs = 0;
    if (clGetMemObjectInfo(m, CL_MEM_REFERENCE_COUNT, sizeof refs, &refs, NULL) == CL_SUCCESS &&
        refs == 1)
        COUNT(buf_remove(m));
    return fn_clReleaseMemObject(m);
}

/* ---- reading the counters ------------------------------------------------ */

void mrg_clcount_snapshot(mrg_clcount_stats *out) { COUNT(*out = st); }

/* The counters the JSON summary reports, in its order (tests and bench
 * scripts read it by key). */
#define FIELD(name) {#name, offsetof(mrg_clcount_stats, name)}
static const struct {
    const char *key;
    size_t off;
} json_fields[] = {
    FIELD(launches), FIELD(writes), FIELD(write_bytes), FIELD(writes_blocking),
    FIELD(reads), FIELD(read_bytes), FIELD(reads_blocking), FIELD(copies),
    FIELD(copy_bytes), FIELD(fills), FIELD(maps), FIELD(finishes),
    FIELD(waits), FIELD(allocs), FIELD(peak_live_bytes),
};
#undef FIELD

static void write_summary(FILE *f, bool json) {
    const mrg_clcount_stats *s = &st;
    if (json) {
        fputc('{', f);
        for (size_t i = 0; i < sizeof json_fields / sizeof json_fields[0]; i++) {
            uint64_t v;
            memcpy(&v, (const char *)s + json_fields[i].off, sizeof v);
            fprintf(f, "\"%s\":%llu,", json_fields[i].key, (unsigned long long)v);
        }
        fputs("\"kernels\":{", f);
        for (int i = 0; i < n_names; i++)
            fprintf(f, "%s\"%s\":%llu", i ? "," : "", names[i].name, (unsigned long long)names[i].n);
        fprintf(f, "}}\n");
        return;
    }
    fprintf(f,
            "mrg clcount: %llu launches; writes %llu (%llu blocking, %llu bytes); reads %llu "
            "(%llu blocking, %llu bytes); copies %llu (%llu bytes); fills %llu; maps %llu; "
            "clFinish %llu; clWaitForEvents %llu; buffers %llu, peak live %llu bytes\n",
            (unsigned long long)s->launches, (unsigned long long)s->writes,
            (unsigned long long)s->writes_blocking, (unsigned long long)s->write_bytes,
            (unsigned long long)s->reads, (unsigned long long)s->reads_blocking,
            (unsigned long long)s->read_bytes, (unsigned long long)s->copies,
            (unsigned long long)s->copy_bytes, (unsigned long long)s->fills,
            (unsigned long long)s->maps, (unsigned long long)s->finishes,
            (unsigned long long)s->waits, (unsigned long long)s->allocs,
            (unsigned long long)s->peak_live_bytes);
    for (int i = 0; i < n_names; i++)
        fprintf(f, "mrg clcount:   %-28s %llu\n", names[i].name, (unsigned long long)names[i].n);
}

__attribute__((destructor)) static void at_exit_summary(void) {
    const char *path = getenv("MRG_CLCOUNT_OUT");
    pthread_mutex_lock(&lock);
    FILE *f = path && *path ? fopen(path, "w") : NULL;
    if (f) {
        write_summary(f, true);
        fclose(f);
    } else if (!getenv("MRG_CLCOUNT_QUIET")) {
        write_summary(stderr, false);
    }
    pthread_mutex_unlock(&lock);
}

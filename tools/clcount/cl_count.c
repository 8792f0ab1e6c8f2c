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
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cl_count.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static mrg_clcount_stats st;

/* Whether this process made any counted call. LD_PRELOAD is inherited by
 * every program a process runs (the compiler or linker an OpenCL driver
 * starts, the program a wrapper such as /usr/bin/time or strace starts, a
 * script's other commands), and so is MRG_CLCOUNT_OUT: a process that made
 * no OpenCL call has nothing to report and must not overwrite the summary
 * of the one that did (a wrapper exits after its child). */
static int used;

/* When this process started, on the coarse clock the kernel stamps file
 * times with: a summary file modified since was written by another process
 * of the same run (see summary_path). */
static struct timespec started;
__attribute__((constructor)) static void note_start(void) {
    clock_gettime(CLOCK_REALTIME_COARSE, &started);
}

/* launches per kernel name */
#define MAX_NAMES 256
static struct {
    char name[64];
    uint64_t n;
} names[MAX_NAMES];
static int n_names;

/* live buffers: cl_mem → bytes and the references the program holds
 * (clCreateBuffer 1, clRetainMemObject +1, clReleaseMemObject -1); open
 * addressing (deleted slots keep a tombstone so probes run on). The
 * driver's own references (an enqueued command holds its buffers until it
 * completes) are not the program's and do not go through the shim, so the
 * program's count decides when a buffer stops being live: asking the driver
 * for its reference count at release made the peak depend on how far the
 * queue had run. */
#define MAX_BUFS 65536
static struct {
    cl_mem m;
    size_t bytes;
    uint32_t refs;
    int used; /* 0 empty, 1 live, 2 tombstone */
} bufs[MAX_BUFS];

static size_t slot_of(cl_mem m) { return ((uintptr_t)m >> 4) * 2654435761u % MAX_BUFS; }

static void buf_add(cl_mem m, size_t bytes) {
    size_t i = slot_of(m);
    for (size_t n = 0; n < MAX_BUFS; n++, i = (i + 1) % MAX_BUFS)
        if (bufs[i].used != 1) {
            bufs[i].m = m;
            bufs[i].bytes = bytes;
            bufs[i].refs = 1;
            bufs[i].used = 1;
            st.live_bytes += bytes;
            if (st.live_bytes > st.peak_live_bytes) st.peak_live_bytes = st.live_bytes;
            return;
        }
}

/* the slot of a live buffer made by clCreateBuffer, or -1 (sub-buffers and
 * images are not tracked) */
static long buf_find(cl_mem m) {
    size_t i = slot_of(m);
    for (size_t n = 0; n < MAX_BUFS && bufs[i].used; n++, i = (i + 1) % MAX_BUFS)
        if (bufs[i].used == 1 && bufs[i].m == m) return (long)i;
    return -1;
}

static void buf_retain(cl_mem m) {
    long i = buf_find(m);
    if (i >= 0) bufs[i].refs++;
}

static void buf_release(cl_mem m) {
    long i = buf_find(m);
    if (i >= 0 && --bufs[i].refs == 0) {
        st.live_bytes -= bufs[i].bytes;
        bufs[i].used = 2;
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
    __atomic_store_n(&used, 1, __ATOMIC_RELAXED);          \
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

typedef cl_int (*refcount_fn)(cl_mem);
cl_int clRetainMemObject(cl_mem m) {
    REAL(refcount_fn, clRetainMemObject);
    cl_int r = fn_clRetainMemObject(m);
    if (r == CL_SUCCESS) COUNT(buf_retain(m));
    return r;
}

/* counted before the call: once the last reference is gone the driver may
 * hand the same handle to another thread's clCreateBuffer */
cl_int clReleaseMemObject(cl_mem m) {
    REAL(refcount_fn, clReleaseMemObject);
    COUNT(buf_release(m));
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
        fprintf(f, "{\"pid\":%ld,", (long)getpid());
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

/* The file MRG_CLCOUNT_OUT names, in out (false: none, or too long): each
 * "%p" becomes the process id, "%%" a "%". Without a "%p", a file modified
 * since this process started was written by another process of the same
 * run: this summary goes next to it as PATH.PID, and stderr says so. */
static bool summary_path(char *out, size_t cap) {
    const char *t = getenv("MRG_CLCOUNT_OUT");
    if (!t || !*t) return false;
    size_t n = 0;
    bool per_pid = false;
    for (const char *c = t; *c; c++) {
        int w;
        if (c[0] == '%' && c[1] == 'p') {
            w = snprintf(out + n, cap - n, "%ld", (long)getpid());
            per_pid = true;
            c++;
        } else if (c[0] == '%' && c[1] == '%') {
            w = snprintf(out + n, cap - n, "%%");
            c++;
        } else {
            w = snprintf(out + n, cap - n, "%c", *c);
        }
        if (w < 0 || (size_t)w >= cap - n) return false;
        n += (size_t)w;
    }
    struct stat sb;
    if (per_pid || stat(out, &sb) != 0) return true;
    if (sb.st_mtim.tv_sec < started.tv_sec ||
        (sb.st_mtim.tv_sec == started.tv_sec && sb.st_mtim.tv_nsec < started.tv_nsec))
        return true;
    char first[4096];
    snprintf(first, sizeof first, "%s", out);
    int w = snprintf(out, cap, "%s.%ld", first, (long)getpid());
    if (w < 0 || (size_t)w >= cap) return false;
    fprintf(stderr,
            "mrg clcount: %s was written by another process while this one ran; "
            "this process's summary is in %s\n", first, out);
    return true;
}

__attribute__((destructor)) static void at_exit_summary(void) {
    if (!__atomic_load_n(&used, __ATOMIC_RELAXED)) return; /* no OpenCL call: nothing to say */
    pthread_mutex_lock(&lock);
    char path[4096];
    bool to_file = summary_path(path, sizeof path);
    FILE *f = to_file ? fopen(path, "w") : NULL;
    if (f) {
        write_summary(f, true);
        fclose(f);
    } else if (to_file) {
        fprintf(stderr, "mrg clcount: cannot write %s; the summary follows\n", path);
        write_summary(stderr, false);
    } else if (!getenv("MRG_CLCOUNT_QUIET")) {
        write_summary(stderr, false);
    }
    pthread_mutex_unlock(&lock);
}

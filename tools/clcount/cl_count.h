/* The OpenCL call-counting shim (tools/clcount/cl_count.c), loaded with
 * LD_PRELOAD in front of the OpenCL ICD loader:
 *
 *   LD_PRELOAD=build/libmrg_clcount.so mrg bench lm --device opencl ...
 *
 * It counts kernel launches, host<->device transfers (calls, bytes, how
 * many blocked), device copies, clFinish/clWaitForEvents, and the live and
 * peak bytes of buffers made by clCreateBuffer (live from the create until
 * the program's last clReleaseMemObject, its clRetainMemObject calls
 * counted). At exit it prints a summary to stderr, or writes it as JSON
 * (with the process id, "pid") to the file named by MRG_CLCOUNT_OUT.
 *
 * LD_PRELOAD and MRG_CLCOUNT_OUT reach every program the process starts
 * (the compiler or linker of an OpenCL driver, the program under
 * /usr/bin/time or strace, a script's other commands), so:
 *   - a process that made no counted OpenCL call writes nothing (no file,
 *     no stderr summary): a wrapper that exits after its child leaves the
 *     child's summary alone;
 *   - "%p" in MRG_CLCOUNT_OUT becomes the process id ("%%" a "%"): one
 *     file per counting process, e.g. MRG_CLCOUNT_OUT=/tmp/cl.%p.json;
 *   - without "%p", a process that finds the file modified since it
 *     started (another counting process of the run wrote it) writes
 *     PATH.PID instead and says so on stderr.
 * A program may read the counters while it runs (mrg bench lm does, around
 * its decode phase) by looking the snapshot function up at run time:
 *
 *   mrg_clcount_snapshot_fn f = (mrg_clcount_snapshot_fn)dlsym(RTLD_DEFAULT,
 *                                                               MRG_CLCOUNT_SNAPSHOT);
 *   if (f) f(&stats);   (NULL: the shim is not loaded)
 */
#ifndef MRG_TOOLS_CL_COUNT_H
#define MRG_TOOLS_CL_COUNT_H

#include <stdint.h>

typedef struct mrg_clcount_stats {
    uint64_t launches;             /* clEnqueueNDRangeKernel + clEnqueueTask */
    uint64_t writes, write_bytes, writes_blocking; /* host → device */
    uint64_t reads, read_bytes, reads_blocking;    /* device → host */
    uint64_t copies, copy_bytes;   /* device → device (clEnqueueCopyBuffer[Rect]) */
    uint64_t fills, fill_bytes;    /* clEnqueueFillBuffer */
    uint64_t maps;                 /* clEnqueueMapBuffer */
    uint64_t finishes, waits;      /* clFinish, clWaitForEvents */
    uint64_t allocs, live_bytes, peak_live_bytes; /* clCreateBuffer */
} mrg_clcount_stats;

#define MRG_CLCOUNT_SNAPSHOT "mrg_clcount_snapshot"
typedef void (*mrg_clcount_snapshot_fn)(mrg_clcount_stats *out);

#endif

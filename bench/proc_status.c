/* Memory figures of this process from /proc/self/status, for the
 * benchmarks' reports. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

long bench_status_kib(const char *key) {
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return -1;
    char line[256];
    long v = -1;
    size_t k = strlen(key);
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, key, k) && line[k] == ':') {
            /* "VmRSS:\t   12345 kB" */
            char *end;
            errno = 0;
            long x = strtol(line + k + 1, &end, 10);
            if (!errno && end != line + k + 1 && x >= 0 && !strncmp(end, " kB", 3)) v = x;
            break;
        }
    fclose(f);
    return v;
}

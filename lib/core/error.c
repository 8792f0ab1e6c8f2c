/* Thread-local error messages (see mrg/status.h). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "mrg/status.h"

#define MRG_ERR_LEN 1024
static _Thread_local char last_error[MRG_ERR_LEN];

const char *mrg_last_error(void) { return last_error; }

void mrg_clear_error(void) { last_error[0] = '\0'; }

const char *mrg_status_name(mrg_status st) {
    switch (st) {
    case MRG_OK: return "ok";
    case MRG_ERR_INVALID_ARG: return "invalid argument";
    case MRG_ERR_IO: return "i/o error";
    case MRG_ERR_FORMAT: return "malformed input";
    case MRG_ERR_OOM: return "out of memory";
    case MRG_ERR_DEVICE: return "device error";
    case MRG_ERR_UNSUPPORTED: return "unsupported";
    case MRG_ERR_NOT_FOUND: return "not found";
    case MRG_ERR_NONFINITE: return "not finite";
    case MRG_END: return "end";
    }
    return "unknown status";
}

mrg_status mrg_error(mrg_status st, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    return st;
}

mrg_status mrg_error_context(mrg_status st, const char *fmt, ...) {
    char prefix[MRG_ERR_LEN], old[MRG_ERR_LEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, last_error, sizeof old);
    /* a very long chain of contexts is cut at its end */
    const char *tail = old[0] ? old : mrg_status_name(st);
    size_t n = strlen(prefix), m = strlen(tail);
    if (n > sizeof last_error - 3) n = sizeof last_error - 3;
    if (m > sizeof last_error - 3 - n) m = sizeof last_error - 3 - n;
    memcpy(last_error, prefix, n);
    memcpy(last_error + n, ": ", 2);
    memcpy(last_error + n + 2, tail, m);
    last_error[n + 2 + m] = '\0';
    return st;
}

int mrg_status_exit_code(mrg_status st) {
    switch (st) {
    case MRG_OK:
    case MRG_END: return 0;
    case MRG_ERR_INVALID_ARG:
    case MRG_ERR_NOT_FOUND: return 2;
    default: return 1;
    }
}

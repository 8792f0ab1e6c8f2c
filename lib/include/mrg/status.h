/* Status codes and the thread-local error message.
 *
 * Every public call returns mrg_status (or NULL for constructors and ops) and
 * leaves a human-readable message in mrg_last_error(). Nothing in the library
 * aborts on user input. */
#ifndef MRG_STATUS_H
#define MRG_STATUS_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum mrg_status {
    MRG_OK = 0,
    MRG_ERR_INVALID_ARG, /* bad shapes, dtypes, option values */
    MRG_ERR_IO,          /* a file could not be opened, read or written */
    MRG_ERR_FORMAT,      /* a file's content is malformed */
    MRG_ERR_OOM,         /* host or device memory exhausted */
    MRG_ERR_DEVICE,      /* the backend failed (driver error, kernel build) */
    MRG_ERR_UNSUPPORTED, /* valid request this build or device cannot do */
    MRG_ERR_NOT_FOUND,   /* a named thing (device, tensor, file) is absent */
    MRG_ERR_NONFINITE,   /* a NaN or infinity where a finite number must be (training diverged) */
    MRG_END,             /* an iterator is exhausted (not an error) */
} mrg_status;

/* The message of the most recent error on this thread ("" when none). */
const char *mrg_last_error(void);
/* A short name such as "invalid argument". */
const char *mrg_status_name(mrg_status st);
/* Sets the message (printf-style) and returns st, so callers can write
 * `return mrg_error(MRG_ERR_IO, "cannot open %s", path);`. */
mrg_status mrg_error(mrg_status st, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Prepends context to the current message: "loading x: <old message>". */
mrg_status mrg_error_context(mrg_status st, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void mrg_clear_error(void);
/* Exit code convention of the `mrg` command for a status. */
int mrg_status_exit_code(mrg_status st);

/* Returns the status of expr from the calling function unless it is MRG_OK
 * (the message is already set). */
#define MRG_TRY(expr)                                                        \
    do {                                                                     \
        mrg_status st_ = (expr);                                             \
        if (st_ != MRG_OK) return st_;                                       \
    } while (0)

#ifdef __cplusplus
}
#endif
#endif

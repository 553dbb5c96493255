/* simvtp/status.h — status codes (pinned forever: new codes are only
 * appended), their names, the per-thread detail message, version queries
 * and the optional log callback. */
#ifndef SIMVTP_STATUS_H
#define SIMVTP_STATUS_H

#include "simvtp/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Every call that can fail returns one of these. Values never change. */
typedef enum simvtp_status {
    SIMVTP_OK = 0,
    SIMVTP_ERR_INVALID_ARG = -1,  /* NULL pointer, size out of range, bad flag   */
    SIMVTP_ERR_NOMEM = -2,        /* an allocation failed                        */
    SIMVTP_ERR_IO = -3,           /* open/read/write/rename failed               */
    SIMVTP_ERR_FORMAT = -4,       /* not a libsimvtp file, or corrupt contents   */
    SIMVTP_ERR_VERSION = -5,      /* file written by an unknown format version   */
    SIMVTP_ERR_CONFIG = -6,       /* invalid model configuration                 */
    SIMVTP_ERR_MISMATCH = -7,     /* file or handle made for another config/kind */
    SIMVTP_ERR_TRUNCATED = -8,    /* file shorter than its header says           */
    SIMVTP_ERR_UNSUPPORTED = -9,  /* feature not built in (e.g. cuda:N on CPU)   */
    SIMVTP_ERR_STATE = -10,       /* call not valid in the handle's state        */
    SIMVTP_ERR_NONFINITE = -11,   /* NaN or Inf in the gradients: update skipped */
    SIMVTP_ERR_INTERNAL = -12,    /* a bug in libsimvtp: please report it        */
    SIMVTP_ERR_ABORTED = -13      /* reserved: stopped by a caller's abort hook  */
} simvtp_status;

/* Short constant name of a status ("SIMVTP_ERR_FORMAT"); never NULL. */
SIMVTP_API const char *simvtp_strerror(int status);

/* Detail message of the last failed call on this thread: what failed, where,
 * and a hint. Empty string when the last call succeeded. Valid until the next
 * libsimvtp call on the same thread. Never NULL. */
SIMVTP_API const char *simvtp_last_error(void);

/* Run-time version: major*10000 + minor*100 + patch, and as "0.1.0". */
SIMVTP_API unsigned simvtp_version(void);
SIMVTP_API const char *simvtp_version_string(void);
/* API major version the library was built with (its soname number). */
SIMVTP_API int simvtp_version_api(void);

/* Log levels for the optional log callback. */
typedef enum simvtp_log_level {
    SIMVTP_LOG_ERROR = 0,
    SIMVTP_LOG_WARN = 1,
    SIMVTP_LOG_INFO = 2,
    SIMVTP_LOG_DEBUG = 3
} simvtp_log_level;

typedef void (*simvtp_log_fn)(void *user_data, int level, const char *message);

/* The library prints nothing by itself. Set a callback (or NULL to silence)
 * to receive messages at or below max_level. Process-wide; not thread-safe
 * against concurrent calls of itself. */
SIMVTP_API void simvtp_set_log_callback(simvtp_log_fn fn, void *user_data, int max_level);

#ifdef __cplusplus
}
#endif
#endif /* SIMVTP_STATUS_H */

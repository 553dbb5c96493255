/* core/status.c — status names, the per-thread error detail, version
 * queries and the optional log callback. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "simvtp/status.h"
#include "simvtp/version.h"
#include "core/status_internal.h"

static _Thread_local char tls_detail[1024];

static simvtp_log_fn g_log_fn;
static void *g_log_user;
static int g_log_level = -1;

const char *simvtp_strerror(int status)
{
    switch (status) {
    case SIMVTP_OK: return "SIMVTP_OK";
    case SIMVTP_ERR_INVALID_ARG: return "SIMVTP_ERR_INVALID_ARG";
    case SIMVTP_ERR_NOMEM: return "SIMVTP_ERR_NOMEM";
    case SIMVTP_ERR_IO: return "SIMVTP_ERR_IO";
    case SIMVTP_ERR_FORMAT: return "SIMVTP_ERR_FORMAT";
    case SIMVTP_ERR_VERSION: return "SIMVTP_ERR_VERSION";
    case SIMVTP_ERR_CONFIG: return "SIMVTP_ERR_CONFIG";
    case SIMVTP_ERR_MISMATCH: return "SIMVTP_ERR_MISMATCH";
    case SIMVTP_ERR_TRUNCATED: return "SIMVTP_ERR_TRUNCATED";
    case SIMVTP_ERR_UNSUPPORTED: return "SIMVTP_ERR_UNSUPPORTED";
    case SIMVTP_ERR_STATE: return "SIMVTP_ERR_STATE";
    case SIMVTP_ERR_NONFINITE: return "SIMVTP_ERR_NONFINITE";
    case SIMVTP_ERR_INTERNAL: return "SIMVTP_ERR_INTERNAL";
    case SIMVTP_ERR_ABORTED: return "SIMVTP_ERR_ABORTED";
    default: return "SIMVTP_ERR_UNKNOWN";
    }
}

const char *simvtp_last_error(void) { return tls_detail; }

void sv_clear_error(void) { tls_detail[0] = '\0'; }

int sv_fail(int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tls_detail, sizeof tls_detail, fmt, ap);
    va_end(ap);
    sv_log(SIMVTP_LOG_DEBUG, "%s: %s", simvtp_strerror(status), tls_detail);
    return status;
}

void sv_log(int level, const char *fmt, ...)
{
    if (!g_log_fn || level > g_log_level) return;
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    g_log_fn(g_log_user, level, buf);
}

void simvtp_set_log_callback(simvtp_log_fn fn, void *user_data, int max_level)
{
    g_log_fn = fn;
    g_log_user = user_data;
    g_log_level = max_level;
}

unsigned simvtp_version(void) { return SIMVTP_VERSION_NUMBER; }

const char *simvtp_version_string(void)
{
#define SV_STR2(x) #x
#define SV_STR(x) SV_STR2(x)
    return SV_STR(SIMVTP_VERSION_MAJOR) "." SV_STR(SIMVTP_VERSION_MINOR) "." SV_STR(
        SIMVTP_VERSION_PATCH);
}

int simvtp_version_api(void) { return SIMVTP_VERSION_MAJOR; }

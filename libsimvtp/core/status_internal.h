/* core/status_internal.h — setting the per-thread error detail and logging
 * from inside the library. */
#ifndef SV_STATUS_INTERNAL_H
#define SV_STATUS_INTERNAL_H

#include "simvtp/status.h"

/* Record a detail message and return `status` (use as `return sv_fail(...)`). */
int sv_fail(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sv_clear_error(void);
void sv_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define SV_CHECK_ARG(cond, ...) \
    do { if (!(cond)) return sv_fail(SIMVTP_ERR_INVALID_ARG, __VA_ARGS__); } while (0)

#define SV_TRY(expr) \
    do { int sv_try_rc_ = (expr); if (sv_try_rc_ != SIMVTP_OK) return sv_try_rc_; } while (0)

#endif /* SV_STATUS_INTERNAL_H */

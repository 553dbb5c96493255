/* simvtp/version.h — the API version of libsimvtp, read by meson for the
 * library version and soname (soname = SIMVTP_VERSION_MAJOR). */
#ifndef SIMVTP_VERSION_H
#define SIMVTP_VERSION_H

#define SIMVTP_VERSION_MAJOR 0
#define SIMVTP_VERSION_MINOR 1
#define SIMVTP_VERSION_PATCH 0

/* One number for compile-time comparisons: major*10000 + minor*100 + patch. */
#define SIMVTP_VERSION_NUMBER \
    (SIMVTP_VERSION_MAJOR * 10000 + SIMVTP_VERSION_MINOR * 100 + SIMVTP_VERSION_PATCH)

#endif /* SIMVTP_VERSION_H */

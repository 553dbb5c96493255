/* simvtp/export.h — SIMVTP_API marks the symbols libsimvtp exports; the
 * library is built with hidden visibility, so everything else stays private. */
#ifndef SIMVTP_EXPORT_H
#define SIMVTP_EXPORT_H

#if defined(SIMVTP_BUILDING_LIBRARY) && defined(__GNUC__)
#define SIMVTP_API __attribute__((visibility("default")))
#else
#define SIMVTP_API
#endif

#endif /* SIMVTP_EXPORT_H */

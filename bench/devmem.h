/* bench/devmem.h — GPU memory in use, for the benchmarks, read through the
 * CUDA driver API loaded at run time (dlopen "libcuda.so.1"): no CUDA
 * headers, no link-time dependency, nothing added to libsimvtp's API. Where
 * there is no driver every call fails softly (returns -1 / 0).
 *
 * The numbers are the device's used memory (total - free, cuMemGetInfo),
 * which on a machine of one's own is this process: its CUDA context, the
 * library's allocations and caches. devmem_open() creates (retains) the
 * device's primary context, the one the CUDA runtime uses too, so the
 * baseline it returns already includes the context's own memory. */
#ifndef SV_BENCH_DEVMEM_H
#define SV_BENCH_DEVMEM_H

#include <stddef.h>

/* Load the driver and retain device `ordinal`'s primary context. Returns 0,
 * or -1 with a reason in devmem_why(). */
int devmem_open(int ordinal);
const char *devmem_why(void);
/* Used and total bytes of the device now (from any thread), 0 or -1. */
int devmem_used(size_t *used, size_t *total);
/* A thread that samples devmem_used every interval_us and keeps the
 * maximum (the activations of a step live only inside the step). */
int devmem_poll_start(unsigned interval_us);
void devmem_poll_stop(void);
/* Largest used value seen by the poller or by devmem_sample(). */
size_t devmem_peak(void);
void devmem_sample(void);
void devmem_close(void);

#endif /* SV_BENCH_DEVMEM_H */

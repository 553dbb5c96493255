/* core/host_copy.h — a host-to-host copy of large buffers on several
 * threads (the CUDA backend's uploads into its pinned ring: one core's
 * memcpy of a vit-b batch's 38.5 MB of frames keeps the GPU waiting for
 * several milliseconds). */
#ifndef SV_HOST_COPY_H
#define SV_HOST_COPY_H

#include <stddef.h>

/* memcpy(dst, src, n) (the two must not overlap): pieces of 1 MiB on up to
 * 8 OpenMP threads from 4 MiB on, one thread below (or inside a parallel
 * region). */
void sv_host_copy(void *dst, const void *src, size_t n);

#endif /* SV_HOST_COPY_H */

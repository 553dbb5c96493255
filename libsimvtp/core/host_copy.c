/* core/host_copy.c — sv_host_copy: memcpy split over OpenMP threads for
 * large buffers (core/host_copy.h). */
#include "core/host_copy.h"

#include <omp.h>
#include <string.h>

#define HC_PIECE ((size_t)1 << 20)     /* bytes per piece */
#define HC_MIN ((size_t)4 << 20)       /* below: one memcpy */
#define HC_MAX_THREADS 8               /* memory bandwidth, not cores, is the limit */

void sv_host_copy(void *dst, const void *src, size_t n)
{
    if (n < HC_MIN || omp_in_parallel()) {
        if (n) memcpy(dst, src, n);
        return;
    }
    const long pieces = (long)((n + HC_PIECE - 1) / HC_PIECE);
    int threads = omp_get_max_threads();
    if (threads > HC_MAX_THREADS) threads = HC_MAX_THREADS;
    if (threads > pieces) threads = (int)pieces;
    char *d = (char *)dst;
    const char *s = (const char *)src;
    #pragma omp parallel for num_threads(threads) schedule(static)
    for (long k = 0; k < pieces; k++) {
        const size_t off = (size_t)k * HC_PIECE;
        memcpy(d + off, s + off, n - off < HC_PIECE ? n - off : HC_PIECE);
    }
}

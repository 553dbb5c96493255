/* cpu/rows.c — row moves of the model graph on the host: indexed copies,
 * indexed adds and the segmented sum with repeated destinations (the
 * backward of embedding lookups and of concatenations). */
#include <string.h>

#include "cpu/cpu_ops.h"

void cpu_rows_copy(float *dst, const int32_t *didx, const float *src, const int32_t *sidx,
                   int n, int C)
{
#pragma omp parallel for schedule(static) if ((size_t)n * C > 65536)
    for (int i = 0; i < n; i++) {
        size_t d = didx ? (size_t)didx[i] : (size_t)i, s = sidx ? (size_t)sidx[i] : (size_t)i;
        memcpy(dst + d * C, src + s * C, (size_t)C * sizeof(float));
    }
}

void cpu_rows_add(float *dst, const int32_t *didx, const float *src, const int32_t *sidx,
                  int n, int C)
{
#pragma omp parallel for schedule(static) if ((size_t)n * C > 65536)
    for (int i = 0; i < n; i++) {
        size_t d = didx ? (size_t)didx[i] : (size_t)i, s = sidx ? (size_t)sidx[i] : (size_t)i;
        float *o = dst + d * C;
        const float *x = src + s * C;
        for (int c = 0; c < C; c++) o[c] += x[c];
    }
}

void cpu_rows_add_seg(float *dst, const int32_t *seg_dst, const int32_t *seg_off,
                      const int32_t *rows, int nseg, const float *src, int C)
{
#pragma omp parallel for schedule(dynamic, 4) if (nseg > 1)
    for (int s = 0; s < nseg; s++) {
        float *o = dst + (size_t)seg_dst[s] * C;
        for (int k = seg_off[s]; k < seg_off[s + 1]; k++) {
            const float *x = src + (size_t)(rows ? rows[k] : k) * C;
            for (int c = 0; c < C; c++) o[c] += x[c];
        }
    }
}

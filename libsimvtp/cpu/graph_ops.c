/* cpu/graph_ops.c — the small elementwise ops the model graph and the
 * optimizer run through the backend: scaling, residual adds with drop-path
 * factors, transpose, sum of squares and the fused AdamW update. */
#include <math.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "cpu/cpu_ops.h"

void cpu_mul(float *out, const float *a, const float *b, size_t n)
{
#pragma omp parallel for schedule(static) if (n > 65536)
    for (size_t i = 0; i < n; i++) out[i] = a[i] * b[i];
}

void cpu_scale(float *y, float s, size_t n)
{
#pragma omp parallel for schedule(static) if (n > 65536)
    for (size_t i = 0; i < n; i++) y[i] *= s;
}

void cpu_residual(float *y, const float *x, const float *rowscale, int B, int N, int C)
{
#pragma omp parallel for schedule(static)
    for (long r = 0; r < (long)B * N; r++) {
        const float s = rowscale ? rowscale[r / N] : 1.0f;
        float *yr = y + (size_t)r * C;
        const float *xr = x + (size_t)r * C;
        for (int c = 0; c < C; c++) yr[c] = xr[c] + s * yr[c];
    }
}

void cpu_scale_rows(float *out, const float *in, const float *rowscale, int B, int N, int C)
{
#pragma omp parallel for schedule(static)
    for (long r = 0; r < (long)B * N; r++) {
        const float s = rowscale ? rowscale[r / N] : 1.0f;
        for (int c = 0; c < C; c++) out[(size_t)r * C + c] = s * in[(size_t)r * C + c];
    }
}

void cpu_transpose(float *out, const float *in, int R, int C)
{
    for (int r = 0; r < R; r++)
        for (int c = 0; c < C; c++) out[(size_t)c * R + r] = in[(size_t)r * C + c];
}

/* Sum of squares in double, in an order fixed by n alone (so the same bits
 * whatever the thread count): SUMSQ_PARTS equal ranges, each summed in four
 * interleaved accumulators (element i into i mod 4, then (s0 + s1) + (s2 +
 * s3): no add waits for the one before), the ranges' sums added in order.
 * NaN and Inf propagate. */
#define SUMSQ_PARTS 64

static double sumsq_range(const float *x, size_t i0, size_t i1)
{
    double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
    size_t i = i0;
    for (; i + 4 <= i1; i += 4) {
        s0 += (double)x[i] * x[i];
        s1 += (double)x[i + 1] * x[i + 1];
        s2 += (double)x[i + 2] * x[i + 2];
        s3 += (double)x[i + 3] * x[i + 3];
    }
    for (; i < i1; i++) s0 += (double)x[i] * x[i];
    return (s0 + s1) + (s2 + s3);
}

double cpu_sumsq(const float *x, size_t n)
{
    double part[SUMSQ_PARTS];
#pragma omp parallel for schedule(static) if (n > ((size_t)1 << 20))
    for (int k = 0; k < SUMSQ_PARTS; k++)
        part[k] = sumsq_range(x, n / SUMSQ_PARTS * k + (n % SUMSQ_PARTS) * k / SUMSQ_PARTS,
                              n / SUMSQ_PARTS * (k + 1) + (n % SUMSQ_PARTS) * (k + 1) / SUMSQ_PARTS);
    double s = 0.0;
    for (int k = 0; k < SUMSQ_PARTS; k++) s += part[k];
    return s;
}

/* The AdamW update of w, g, m, v [i0, i1): four values at a time with SSE2
 * where the target has it (sqrtps and divps round as sqrtss and divss, and
 * the operations are the scalar loop's in its order, so the bits are the
 * same; the scalar loop's sqrtf, which may set errno, keeps GCC from
 * vectorizing it), then one at a time. */
static void adamw_span(float *w, const float *g, float *m, float *v, size_t i0, size_t i1,
                       const sv_adamw_args *a)
{
    const float clip = a->clip, decay = a->decay, b1 = a->b1, b2 = a->b2, eps = a->eps;
    const float step_size = a->step_size, bc2_sqrt = a->bc2_sqrt;
    const float omb1 = 1.0f - b1, omb2 = 1.0f - b2;
    size_t i = i0;
#if defined(__SSE2__)
    const __m128 vclip = _mm_set1_ps(clip), vdecay = _mm_set1_ps(decay), vb1 = _mm_set1_ps(b1),
                 vb2 = _mm_set1_ps(b2), vomb1 = _mm_set1_ps(omb1), vomb2 = _mm_set1_ps(omb2),
                 veps = _mm_set1_ps(eps), vstep = _mm_set1_ps(step_size), vbc2 = _mm_set1_ps(bc2_sqrt);
    for (; i + 4 <= i1; i += 4) {
        const __m128 gi = _mm_mul_ps(_mm_loadu_ps(g + i), vclip);
        const __m128 wi = _mm_mul_ps(_mm_loadu_ps(w + i), vdecay);
        const __m128 mi = _mm_add_ps(_mm_mul_ps(vb1, _mm_loadu_ps(m + i)), _mm_mul_ps(vomb1, gi));
        const __m128 vi = _mm_add_ps(_mm_mul_ps(vb2, _mm_loadu_ps(v + i)), _mm_mul_ps(_mm_mul_ps(vomb2, gi), gi));
        const __m128 denom = _mm_add_ps(_mm_div_ps(_mm_sqrt_ps(vi), vbc2), veps);
        _mm_storeu_ps(m + i, mi);
        _mm_storeu_ps(v + i, vi);
        _mm_storeu_ps(w + i, _mm_sub_ps(wi, _mm_div_ps(_mm_mul_ps(vstep, mi), denom)));
    }
#endif
    for (; i < i1; i++) {
        float gi = g[i] * clip;
        w[i] *= decay;
        m[i] = b1 * m[i] + omb1 * gi;
        v[i] = b2 * v[i] + omb2 * gi * gi;
        float denom = sqrtf(v[i]) / bc2_sqrt + eps;
        w[i] -= step_size * m[i] / denom;
    }
}

#define ADAMW_SPAN 4096 /* values per OpenMP work item */

void cpu_adamw(float *w, const float *g, float *m, float *v, size_t n, const sv_adamw_args *a)
{
    const long spans = (long)((n + ADAMW_SPAN - 1) / ADAMW_SPAN);
#pragma omp parallel for schedule(static)
    for (long k = 0; k < spans; k++) {
        const size_t i0 = (size_t)k * ADAMW_SPAN;
        adamw_span(w, g, m, v, i0, n - i0 < ADAMW_SPAN ? n : i0 + ADAMW_SPAN, a);
    }
}

/* cpu/graph_ops.c — the small elementwise ops the model graph and the
 * optimizer run through the backend: scaling, residual adds with drop-path
 * factors, transpose, sum of squares and the fused AdamW update. */
#include <math.h>
#include <string.h>

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

double cpu_sumsq(const float *x, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += (double)x[i] * x[i];
    return s;
}

void cpu_adamw(float *w, const float *g, float *m, float *v, size_t n, const sv_adamw_args *a)
{
    const float clip = a->clip, decay = a->decay, b1 = a->b1, b2 = a->b2, eps = a->eps;
    const float step_size = a->step_size, bc2_sqrt = a->bc2_sqrt;
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) {
        float gi = g[i] * clip;
        w[i] *= decay;
        m[i] = b1 * m[i] + (1.0f - b1) * gi;
        v[i] = b2 * v[i] + (1.0f - b2) * gi * gi;
        float denom = sqrtf(v[i]) / bc2_sqrt + eps;
        w[i] -= step_size * m[i] / denom;
    }
}

/* cpu/elementwise.c — small elementwise helpers: adds, row gather/scatter
 * (token masking), the fixed sin-cos position table and the MSE loss. */
#include "cpu/cpu_ops.h"

#include <math.h>
#include <string.h>

#define SV_PAR_N 32768

void cpu_add(float *out, const float *a, const float *b, size_t n)
{
    #pragma omp parallel for if (n > SV_PAR_N)
    for (size_t i = 0; i < n; i++)
        out[i] = a[i] + b[i];
}

void cpu_add_inplace(float *acc, const float *x, size_t n)
{
    #pragma omp parallel for if (n > SV_PAR_N)
    for (size_t i = 0; i < n; i++)
        acc[i] += x[i];
}

void cpu_scale_add(float *acc, const float *x, float s, size_t n)
{
    #pragma omp parallel for if (n > SV_PAR_N)
    for (size_t i = 0; i < n; i++)
        acc[i] += s * x[i];
}

void cpu_gather_rows(float *out, const float *inp, const int32_t *idx, int n, int C)
{
    if (n <= 0 || C <= 0)
        return;
    #pragma omp parallel for if ((size_t)n * (size_t)C > SV_PAR_N)
    for (int i = 0; i < n; i++)
        memcpy(out + (size_t)i * C, inp + (size_t)idx[i] * C, (size_t)C * sizeof(float));
}

void cpu_scatter_add_rows(float *dinp, const float *dout, const int32_t *idx, int n, int C)
{
    if (!dinp || n <= 0 || C <= 0)
        return;
    /* idx may repeat a row, so threads split the columns, not the rows. */
    enum { BLK = 256 };
    const int nblk = (C + BLK - 1) / BLK;
    #pragma omp parallel for if ((size_t)n * (size_t)C > SV_PAR_N && nblk > 1)
    for (int blk = 0; blk < nblk; blk++) {
        const int c0 = blk * BLK;
        const int c1 = c0 + BLK < C ? c0 + BLK : C;
        for (int i = 0; i < n; i++) {
            float *d = dinp + (size_t)idx[i] * C;
            const float *g = dout + (size_t)i * C;
            for (int c = c0; c < c1; c++)
                d[c] += g[c];
        }
    }
}

void cpu_sincos_table(float *pe, int N, int C)
{
    if (N <= 0 || C <= 0)
        return;
    const int half = C / 2;
    #pragma omp parallel for if ((size_t)N * (size_t)C > SV_PAR_N)
    for (int p = 0; p < N; p++) {
        float *row = pe + (size_t)p * C;
        for (int i = 0; i < half; i++) {
            const double omega = pow(10000.0, -(double)(2 * i) / (double)C);
            const double a = (double)p * omega;
            row[2 * i] = (float)sin(a);
            row[2 * i + 1] = (float)cos(a);
        }
        if (C % 2)
            row[C - 1] = 0.0f;   /* odd C is outside the contract; keep it defined */
    }
}

float cpu_mse_fwd(const float *pred, const float *target, size_t M, size_t C)
{
    const size_t n = M * C;
    if (n == 0)
        return 0.0f;
    double acc = 0.0;
    #pragma omp parallel for reduction(+ : acc) if (n > SV_PAR_N)
    for (size_t i = 0; i < n; i++) {
        const double d = (double)pred[i] - (double)target[i];
        acc += d * d;
    }
    return (float)(acc / (double)n);
}

void cpu_mse_bwd(float *dpred, const float *pred, const float *target, size_t M, size_t C,
                 float dloss)
{
    const size_t n = M * C;
    if (!dpred || n == 0)
        return;
    const float k = 2.0f * dloss / (float)n;
    if (dpred == pred) { /* in place (core/backend.h): 0 + the term, as on a zeroed buffer */
        #pragma omp parallel for if (n > SV_PAR_N)
        for (size_t i = 0; i < n; i++)
            dpred[i] = 0.0f + k * (pred[i] - target[i]);
        return;
    }
    #pragma omp parallel for if (n > SV_PAR_N)
    for (size_t i = 0; i < n; i++)
        dpred[i] += k * (pred[i] - target[i]);
}

/* cpu/layernorm.c — LayerNorm over the last dimension (forward saves the
 * per-row mean and reciprocal standard deviation for the backward). */
#include "cpu/cpu_ops.h"

#include <math.h>

void cpu_layernorm_fwd(float *out, float *mean, float *rstd, const float *inp,
                       const float *w, const float *b, int M, int C, float eps)
{
    if (M <= 0 || C <= 0)
        return;
    #pragma omp parallel for if ((size_t)M * (size_t)C > 16384)
    for (int m = 0; m < M; m++) {
        const float *x = inp + (size_t)m * C;
        float *y = out + (size_t)m * C;
        double s = 0.0;
        for (int c = 0; c < C; c++)
            s += x[c];
        const double mu = s / C;
        double v = 0.0;
        for (int c = 0; c < C; c++) {
            const double d = x[c] - mu;
            v += d * d;
        }
        v /= C;
        const float fm = (float)mu;
        const float rs = (float)(1.0 / sqrt(v + (double)eps));
        for (int c = 0; c < C; c++)
            y[c] = (x[c] - fm) * rs * w[c] + b[c];
        if (mean)
            mean[m] = fm;
        if (rstd)
            rstd[m] = rs;
    }
}

void cpu_layernorm_bwd(float *dinp, float *dw, float *db, const float *dout,
                       const float *inp, const float *w, const float *mean,
                       const float *rstd, int M, int C)
{
    if (M <= 0 || C <= 0)
        return;
    if (dinp) {
        #pragma omp parallel for if ((size_t)M * (size_t)C > 16384)
        for (int m = 0; m < M; m++) {
            const float *x = inp + (size_t)m * C;
            const float *dy = dout + (size_t)m * C;
            float *dx = dinp + (size_t)m * C;
            const float mu = mean[m], rs = rstd[m];
            /* dnorm = dy * w; dx = rs * (dnorm - mean(dnorm) - xhat * mean(dnorm * xhat)) */
            float s1 = 0.0f, s2 = 0.0f;
            for (int c = 0; c < C; c++) {
                const float xhat = (x[c] - mu) * rs;
                const float dn = dy[c] * w[c];
                s1 += dn;
                s2 += dn * xhat;
            }
            s1 /= (float)C;
            s2 /= (float)C;
            for (int c = 0; c < C; c++) {
                const float xhat = (x[c] - mu) * rs;
                const float dn = dy[c] * w[c];
                dx[c] += rs * (dn - s1 - xhat * s2);
            }
        }
    }
    if (dw || db) {
        /* Reductions over rows: each thread owns a block of columns. */
        enum { BLK = 64 };
        int nblk = (C + BLK - 1) / BLK;
        #pragma omp parallel for if ((size_t)M * (size_t)C > 16384)
        for (int blk = 0; blk < nblk; blk++) {
            int c0 = blk * BLK;
            int c1 = c0 + BLK < C ? c0 + BLK : C;
            float aw[BLK], ab[BLK];
            for (int c = c0; c < c1; c++)
                aw[c - c0] = ab[c - c0] = 0.0f;
            for (int m = 0; m < M; m++) {
                const float *x = inp + (size_t)m * C;
                const float *dy = dout + (size_t)m * C;
                const float mu = mean[m], rs = rstd[m];
                for (int c = c0; c < c1; c++) {
                    aw[c - c0] += dy[c] * (x[c] - mu) * rs;
                    ab[c - c0] += dy[c];
                }
            }
            for (int c = c0; c < c1; c++) {
                if (dw)
                    dw[c] += aw[c - c0];
                if (db)
                    db[c] += ab[c - c0];
            }
        }
    }
}

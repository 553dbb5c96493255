/* cpu/pool.c — masked mean pooling over tokens and row-wise L2
 * normalization (the retrieval embedding head), forward and backward. */
#include "cpu/cpu_ops.h"

#include <math.h>
#include <string.h>

#define SV_L2_MIN_NORM 1e-8f

static int count_valid(const uint8_t *valid, int N)
{
    if (!valid)
        return N;
    int cnt = 0;
    for (int n = 0; n < N; n++)
        cnt += valid[n] != 0;
    return cnt;
}

void cpu_meanpool_fwd(float *out, const float *inp, const uint8_t *valid, int B, int N, int C)
{
    if (B <= 0 || C <= 0)
        return;
    #pragma omp parallel for if ((size_t)B * (size_t)N * (size_t)C > 65536)
    for (int b = 0; b < B; b++) {
        const uint8_t *vb = valid ? valid + (size_t)b * N : NULL;
        float *o = out + (size_t)b * C;
        memset(o, 0, (size_t)C * sizeof(float));
        const int cnt = N > 0 ? count_valid(vb, N) : 0;
        if (cnt == 0)
            continue;   /* no valid row: the mean is defined as 0 */
        for (int n = 0; n < N; n++) {
            if (vb && !vb[n])
                continue;
            const float *x = inp + ((size_t)b * N + n) * C;
            for (int c = 0; c < C; c++)
                o[c] += x[c];
        }
        const float inv = 1.0f / (float)cnt;
        for (int c = 0; c < C; c++)
            o[c] *= inv;
    }
}

void cpu_meanpool_bwd(float *dinp, const float *dout, const uint8_t *valid, int B, int N, int C)
{
    if (!dinp || B <= 0 || N <= 0 || C <= 0)
        return;
    #pragma omp parallel for if ((size_t)B * (size_t)N * (size_t)C > 65536)
    for (int b = 0; b < B; b++) {
        const uint8_t *vb = valid ? valid + (size_t)b * N : NULL;
        const int cnt = count_valid(vb, N);
        if (cnt == 0)
            continue;
        const float inv = 1.0f / (float)cnt;
        const float *g = dout + (size_t)b * C;
        for (int n = 0; n < N; n++) {
            if (vb && !vb[n])
                continue;
            float *dx = dinp + ((size_t)b * N + n) * C;
            for (int c = 0; c < C; c++)
                dx[c] += g[c] * inv;
        }
    }
}

void cpu_l2norm_fwd(float *out, float *norm, const float *inp, int M, int C)
{
    if (M <= 0 || C < 0)
        return;
    #pragma omp parallel for if ((size_t)M * (size_t)C > 65536)
    for (int m = 0; m < M; m++) {
        const float *x = inp + (size_t)m * C;
        float *y = out + (size_t)m * C;
        double ss = 0.0;
        for (int c = 0; c < C; c++)
            ss += (double)x[c] * x[c];
        const float nrm = (float)sqrt(ss);
        const float inv = 1.0f / (nrm > SV_L2_MIN_NORM ? nrm : SV_L2_MIN_NORM);
        for (int c = 0; c < C; c++)
            y[c] = x[c] * inv;
        if (norm)
            norm[m] = nrm;   /* the true norm, before the 1e-8 floor */
    }
}

void cpu_l2norm_bwd(float *dinp, const float *dout, const float *inp, const float *norm,
                    int M, int C)
{
    if (!dinp || M <= 0 || C <= 0)
        return;
    #pragma omp parallel for if ((size_t)M * (size_t)C > 65536)
    for (int m = 0; m < M; m++) {
        const float *x = inp + (size_t)m * C;
        const float *dy = dout + (size_t)m * C;
        float *dx = dinp + (size_t)m * C;
        const float nrm = norm[m];
        if (nrm > SV_L2_MIN_NORM) {
            /* y = x/n: dx = dy/n - x (x.dy)/n^3 */
            const float inv = 1.0f / nrm;
            float dot = 0.0f;
            for (int c = 0; c < C; c++)
                dot += x[c] * dy[c];
            const float k = dot * inv * inv * inv;
            for (int c = 0; c < C; c++)
                dx[c] += dy[c] * inv - x[c] * k;
        } else {
            /* Floored denominator is a constant. */
            const float inv = 1.0f / SV_L2_MIN_NORM;
            for (int c = 0; c < C; c++)
                dx[c] += dy[c] * inv;
        }
    }
}

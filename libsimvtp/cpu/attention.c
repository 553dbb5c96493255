/* cpu/attention.c — multi-head self-attention core on the CPU (softmax of
 * scaled Q K^T with an optional key mask, times V) and its backward. Works
 * in place on the timm qkv layout [B,N,3,H,hd] through sgemm strides;
 * parallel over batch*heads, with single-threaded BLAS inside. */
#include "cpu/cpu_ops.h"
#include "cpu/simd_math.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* dst[i] = exp(src[i] - shift), vectorized (cpu/simd_math.h, <= 1 ulp;
 * exp(-inf) is exactly 0). dst may equal src. */
SV_CLONES static void exp_shifted(float *dst, const float *src, float shift, int n)
{
    for (int i = 0; i < n; i++)
        dst[i] = sv_expf(src[i] - shift);
}

/* Row-wise softmax of S[N,N] in place; keys with valid[j]==0 get exactly 0. */
static void masked_softmax_rows(float *S, const uint8_t *valid, int N)
{
    for (int i = 0; i < N; i++) {
        float *row = S + (size_t)i * N;
        float mx = -INFINITY;
        for (int j = 0; j < N; j++) {
            if (valid && !valid[j])
                row[j] = -INFINITY;
            if (row[j] > mx)
                mx = row[j];
        }
        if (mx == -INFINITY) {
            /* No valid key (outside the contract): no attention at all. */
            memset(row, 0, (size_t)N * sizeof(float));
            continue;
        }
        exp_shifted(row, row, mx, N);   /* exp(-inf) == 0 exactly */
        float sum = 0.0f;
        for (int j = 0; j < N; j++)
            sum += row[j];
        const float inv = 1.0f / sum;
        for (int j = 0; j < N; j++)
            row[j] *= inv;
    }
}

int cpu_attention_fwd(float *out, float *att, const float *qkv, const uint8_t *keyvalid,
                      int B, int N, int H, int hd)
{
    if (B <= 0 || N <= 0 || H <= 0 || hd < 0)
        return 0;
    const int C = H * hd;             /* row stride of out */
    const int ld = 3 * C;             /* row stride of q, k, v inside qkv */
    const float scale = hd > 0 ? 1.0f / sqrtf((float)hd) : 1.0f;
    const int BH = B * H;

    /* The scores are formed directly in att[b,h] (it is N*N), so the forward
     * needs no scratch memory. */
    #pragma omp parallel for schedule(dynamic, 1) if (BH > 1)
    for (int bh = 0; bh < BH; bh++) {
        const int b = bh / H, h = bh % H;
        const float *q = qkv + (size_t)b * N * ld + (size_t)h * hd;
        const float *k = q + C;
        const float *v = q + 2 * (size_t)C;
        float *S = att + (size_t)bh * N * N;
        float *o = out + (size_t)b * N * C + (size_t)h * hd;
        const uint8_t *valid = keyvalid ? keyvalid + (size_t)b * N : NULL;

        if (hd > 0)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, N, hd,
                        scale, q, ld, k, ld, 0.0f, S, N);
        else
            memset(S, 0, (size_t)N * N * sizeof(float));
        masked_softmax_rows(S, valid, N);
        if (hd > 0)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, hd, N,
                        1.0f, S, N, v, ld, 0.0f, o, C);
    }
    return 0;
}

int cpu_attention_bwd(float *dqkv, const float *dout, const float *qkv, const float *att,
                      int B, int N, int H, int hd)
{
    if (!dqkv || B <= 0 || N <= 0 || H <= 0 || hd <= 0)
        return 0;
    const int C = H * hd;
    const int ld = 3 * C;
    const float scale = 1.0f / sqrtf((float)hd);
    const int BH = B * H;
    int failed = 0;

    #pragma omp parallel if (BH > 1)
    {
        float *dS = malloc((size_t)N * (size_t)N * sizeof(float));
        if (!dS) {
            #pragma omp atomic write
            failed = 1;
        }
        #pragma omp for schedule(dynamic, 1)
        for (int bh = 0; bh < BH; bh++) {
            if (!dS)
                continue;
            const int b = bh / H, h = bh % H;
            const size_t qoff = (size_t)b * N * ld + (size_t)h * hd;
            const float *q = qkv + qoff;
            const float *k = q + C;
            const float *v = q + 2 * (size_t)C;
            float *dq = dqkv + qoff;
            float *dk = dq + C;
            float *dv = dq + 2 * (size_t)C;
            const float *P = att + (size_t)bh * N * N;
            const float *dO = dout + (size_t)b * N * C + (size_t)h * hd;

            /* dP = dO . V^T */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, N, hd,
                        1.0f, dO, C, v, ld, 0.0f, dS, N);
            /* dS = P * (dP - rowsum(P * dP)) */
            for (int i = 0; i < N; i++) {
                const float *p = P + (size_t)i * N;
                float *d = dS + (size_t)i * N;
                float dot = 0.0f;
                for (int j = 0; j < N; j++)
                    dot += p[j] * d[j];
                for (int j = 0; j < N; j++)
                    d[j] = p[j] * (d[j] - dot);
            }
            /* dQ += scale dS . K;  dK += scale dS^T . Q;  dV += P^T . dO */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, hd, N,
                        scale, dS, N, k, ld, 1.0f, dq, ld);
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, N, hd, N,
                        scale, dS, N, q, ld, 1.0f, dk, ld);
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, N, hd, N,
                        1.0f, P, N, dO, C, 1.0f, dv, ld);
        }
        free(dS);
    }
    return failed ? -1 : 0;
}

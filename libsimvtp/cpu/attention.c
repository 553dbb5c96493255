/* cpu/attention.c — multi-head self-attention core on the CPU (softmax of
 * scaled Q K^T with an optional key mask, times V) and its backward. Two
 * ways to keep what the backward needs, chosen by N alone
 * (cpu_attention_saved_floats):
 *  - N <= CPU_ATT_KEEP_N: the probabilities [B,H,N,N] (the forward forms the
 *    scores in place, the backward reads them back: fastest for short
 *    sequences, whose N x N is small);
 *  - longer: only each query row's log-sum-exp [B,H,N]. The forward works in
 *    blocks of at most CPU_ATT_ROWS query rows whose scores over all keys
 *    live in per-thread scratch, and the backward recomputes a block's
 *    probabilities from the saved log-sum-exp, so no N x N array is stored
 *    (vit-b's 1568 tubelets x 12 heads would be 118 MB per clip and block).
 * Works in place on the timm qkv layout [B,N,3,H,hd] through sgemm strides;
 * parallel over batch*heads, with single-threaded BLAS inside, so results
 * do not depend on the thread count. */
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

/* Row-wise softmax of S[rows,N] in place; keys with valid[j]==0 get exactly
 * 0. lse[i] (lse may be NULL) = the row's log-sum-exp (0 for a row without
 * a valid key, which becomes all zeros: outside the contract, no attention).
 * NaN scores give NaN rows, as on the GPU, even when every score is NaN. */
static void masked_softmax_rows(float *S, float *lse, const uint8_t *valid, int rows, int N)
{
    for (int i = 0; i < rows; i++) {
        float *row = S + (size_t)i * N;
        float mx = -INFINITY;
        int any = 0;
        for (int j = 0; j < N; j++) {
            if (valid && !valid[j])
                row[j] = -INFINITY;
            else
                any = 1;
            if (row[j] > mx)
                mx = row[j];
        }
        if (!any) {
            memset(row, 0, (size_t)N * sizeof(float));
            if (lse)
                lse[i] = 0.0f;
            continue;
        }
        exp_shifted(row, row, mx, N);   /* exp(-inf) == 0 exactly */
        float sum = 0.0f;
        for (int j = 0; j < N; j++)
            sum += row[j];
        const float inv = 1.0f / sum;
        for (int j = 0; j < N; j++)
            row[j] *= inv;
        if (lse)
            lse[i] = mx + logf(sum);
    }
}

/* The probabilities of rows whose scores are in P[rows,N], from the saved
 * log-sum-exp: exp(s - lse), masked keys exactly 0. */
static void probs_from_lse(float *P, const float *lse, const uint8_t *valid, int rows, int N)
{
    for (int i = 0; i < rows; i++) {
        float *row = P + (size_t)i * N;
        exp_shifted(row, row, lse[i], N);
        if (valid)
            for (int j = 0; j < N; j++)
                if (!valid[j])
                    row[j] = 0.0f;
    }
}

size_t cpu_attention_saved_floats(int B, int N, int H)
{
    return N <= CPU_ATT_KEEP_N ? (size_t)B * H * N * N : (size_t)B * H * N;
}

/* Query rows per block: all of them when the probabilities are kept, else
 * about equal blocks of at most CPU_ATT_ROWS. */
static int block_rows(int N)
{
    if (N <= CPU_ATT_KEEP_N)
        return N;
    const int nblocks = (N + CPU_ATT_ROWS - 1) / CPU_ATT_ROWS;
    return (N + nblocks - 1) / nblocks;
}

/* One (sample, head) pair's pointers into the strided layouts. */
typedef struct att_slice {
    const float *q, *k, *v; /* row stride ld */
    size_t qoff;            /* offset of q in qkv (and of dq in dqkv) */
    size_t ooff;            /* offset in out / dout (row stride C) */
    const uint8_t *valid;   /* [N] or NULL */
} att_slice;

static att_slice slice_of(const float *qkv, const uint8_t *keyvalid, int bh, int N, int H, int hd)
{
    const int b = bh / H, h = bh % H, C = H * hd;
    att_slice s;
    s.qoff = (size_t)b * N * 3 * C + (size_t)h * hd;
    s.q = qkv + s.qoff;
    s.k = s.q + C;
    s.v = s.q + 2 * (size_t)C;
    s.ooff = (size_t)b * N * C + (size_t)h * hd;
    s.valid = keyvalid ? keyvalid + (size_t)b * N : NULL;
    return s;
}

int cpu_attention_fwd(float *out, float *att, const float *qkv, const uint8_t *keyvalid,
                      int B, int N, int H, int hd)
{
    if (B <= 0 || N <= 0 || H <= 0 || hd < 0)
        return 0;
    const int C = H * hd;             /* row stride of out */
    const int ld = 3 * C;             /* row stride of q, k, v inside qkv */
    const float scale = hd > 0 ? 1.0f / sqrtf((float)hd) : 1.0f;
    const int BH = B * H, QB = block_rows(N), keep = N <= CPU_ATT_KEEP_N;
    int failed = 0;

    #pragma omp parallel if (BH > 1)
    {
        /* kept probabilities: the scores are formed in att itself */
        float *scratch = keep ? NULL : malloc((size_t)QB * (size_t)N * sizeof(float));
        if (!keep && !scratch) {
            #pragma omp atomic write
            failed = 1;
        }
        #pragma omp for schedule(dynamic, 1)
        for (int bh = 0; bh < BH; bh++) {
            if (!keep && !scratch)
                continue;
            const att_slice s = slice_of(qkv, keyvalid, bh, N, H, hd);
            float *S = keep ? att + (size_t)bh * N * N : scratch;
            float *lse = keep ? NULL : att + (size_t)bh * N;
            for (int i0 = 0; i0 < N; i0 += QB) {
                const int nb = N - i0 < QB ? N - i0 : QB;
                if (hd > 0)
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nb, N, hd,
                                scale, s.q + (size_t)i0 * ld, ld, s.k, ld, 0.0f, S, N);
                else
                    memset(S, 0, (size_t)nb * N * sizeof(float));
                masked_softmax_rows(S, lse ? lse + i0 : NULL, s.valid, nb, N);
                if (hd > 0)
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, nb, hd, N,
                                1.0f, S, N, s.v, ld, 0.0f, out + s.ooff + (size_t)i0 * C, C);
            }
        }
        free(scratch);
    }
    return failed ? -1 : 0;
}

int cpu_attention_bwd(float *dqkv, const float *dout, const float *qkv, const float *att,
                      const uint8_t *keyvalid, int B, int N, int H, int hd)
{
    if (!dqkv || B <= 0 || N <= 0 || H <= 0 || hd <= 0)
        return 0;
    const int C = H * hd;
    const int ld = 3 * C;
    const float scale = 1.0f / sqrtf((float)hd);
    const int BH = B * H, QB = block_rows(N), keep = N <= CPU_ATT_KEEP_N;
    int failed = 0;

    #pragma omp parallel if (BH > 1)
    {
        /* dS, and unless the probabilities were kept, the block's P */
        float *scratch = malloc((keep ? 1 : 2) * (size_t)QB * (size_t)N * sizeof(float));
        if (!scratch) {
            #pragma omp atomic write
            failed = 1;
        }
        #pragma omp for schedule(dynamic, 1)
        for (int bh = 0; bh < BH; bh++) {
            if (!scratch)
                continue;
            const att_slice s = slice_of(qkv, keyvalid, bh, N, H, hd);
            float *dq = dqkv + s.qoff, *dk = dq + C, *dv = dq + 2 * (size_t)C;
            float *dS = scratch;
            for (int i0 = 0; i0 < N; i0 += QB) {
                const int nb = N - i0 < QB ? N - i0 : QB;
                const float *qb = s.q + (size_t)i0 * ld;
                const float *dO = dout + s.ooff + (size_t)i0 * C;
                const float *P = att + (size_t)bh * N * N;
                if (!keep) {
                    /* the forward's scores (the same product), then probabilities */
                    float *Pb = scratch + (size_t)QB * N;
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nb, N, hd,
                                scale, qb, ld, s.k, ld, 0.0f, Pb, N);
                    probs_from_lse(Pb, att + (size_t)bh * N + i0, s.valid, nb, N);
                    P = Pb;
                }
                /* dP = dO . V^T */
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nb, N, hd,
                            1.0f, dO, C, s.v, ld, 0.0f, dS, N);
                /* dS = P * (dP - rowsum(P * dP)) */
                for (int i = 0; i < nb; i++) {
                    const float *p = P + (size_t)i * N;
                    float *d = dS + (size_t)i * N;
                    float dot = 0.0f;
                    for (int j = 0; j < N; j++)
                        dot += p[j] * d[j];
                    for (int j = 0; j < N; j++)
                        d[j] = p[j] * (d[j] - dot);
                }
                /* dQ = scale dS . K (the block's rows);  dK, dV: the first block
                 * sets them, the others add: dK += scale dS^T . Q;  dV += P^T . dO */
                const float acc = i0 ? 1.0f : 0.0f;
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, nb, hd, N,
                            scale, dS, N, s.k, ld, 0.0f, dq + (size_t)i0 * ld, ld);
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, N, hd, nb,
                            scale, dS, N, qb, ld, acc, dk, ld);
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, N, hd, nb,
                            1.0f, P, N, dO, C, acc, dv, ld);
            }
        }
        free(scratch);
    }
    return failed ? -1 : 0;
}

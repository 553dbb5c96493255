/* cpu/matmul.c — fully connected layer on the CPU: out = inp . w^T + bias and
 * its backward, all through CBLAS sgemm (row-major, fp32). */
#include "cpu/cpu_ops.h"

#include <cblas.h>
#include <string.h>

void cpu_matmul_fwd(float *out, const float *inp, const float *w, const float *bias,
                    int M, int K, int N)
{
    if (M <= 0 || N <= 0)
        return;
    float beta = 0.0f;
    if (bias) {
        #pragma omp parallel for if ((size_t)M * (size_t)N > 65536)
        for (int m = 0; m < M; m++)
            memcpy(out + (size_t)m * N, bias, (size_t)N * sizeof(float));
        beta = 1.0f;
    }
    if (K <= 0) {
        /* Empty reduction: out = bias (or 0). BLAS would reject lda = 0. */
        if (!bias)
            memset(out, 0, (size_t)M * (size_t)N * sizeof(float));
        return;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K,
                1.0f, inp, K, w, K, beta, out, N);
}

void cpu_matmul_bwd(float *dinp, float *dw, float *dbias, const float *dout,
                    const float *inp, const float *w, int M, int K, int N)
{
    if (M <= 0 || N <= 0)
        return;
    if (K > 0) {
        /* dinp[M,K] += dout[M,N] . w[N,K] */
        if (dinp)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, K, N,
                        1.0f, dout, N, w, K, 1.0f, dinp, K);
        /* dw[N,K] += dout[M,N]^T . inp[M,K] */
        if (dw)
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, N, K, M,
                        1.0f, dout, N, inp, K, 1.0f, dw, K);
    }
    if (dbias) {
        /* Column sums of dout, in blocks of columns so that each thread owns
         * a disjoint slice of dbias and walks dout row by row. */
        enum { BLK = 64 };
        int nblk = (N + BLK - 1) / BLK;
        #pragma omp parallel for if ((size_t)M * (size_t)N > 65536)
        for (int blk = 0; blk < nblk; blk++) {
            int n0 = blk * BLK;
            int n1 = n0 + BLK < N ? n0 + BLK : N;
            float acc[BLK];
            for (int n = n0; n < n1; n++)
                acc[n - n0] = 0.0f;
            for (int m = 0; m < M; m++) {
                const float *row = dout + (size_t)m * N;
                for (int n = n0; n < n1; n++)
                    acc[n - n0] += row[n];
            }
            for (int n = n0; n < n1; n++)
                dbias[n] += acc[n - n0];
        }
    }
}

/* cpu/matmul.c — fully connected layer on the CPU: out = inp . w^T + bias and
 * its backward, all through CBLAS sgemm (row-major, fp32).
 *
 * Builds without a CBLAS (SIMVTP_HAVE_CBLAS 0: meson -Dblas=disabled, or no
 * openblas/cblas found) get <cblas.h> from cpu/cblas_compat/, which maps
 * cblas_sgemm/cblas_sgemv to the portable cache-blocked OpenMP kernels at the
 * end of this file; every other CBLAS user (attention, retrieval) goes
 * through the same two functions. */
#include "cpu/cpu_ops.h"
#include "simvtp_build_config.h"

#include <cblas.h>
#include <stdlib.h>
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
    if (M <= 0)
        return;
    if (N <= 0) { /* an empty product: dinp = 0 */
        if (dinp && K > 0)
            memset(dinp, 0, (size_t)M * (size_t)K * sizeof(float));
        return;
    }
    if (K > 0) {
        /* dinp[M,K] = dout[M,N] . w[N,K] */
        if (dinp)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, K, N,
                        1.0f, dout, N, w, K, 0.0f, dinp, K);
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

#if !SIMVTP_HAVE_CBLAS
/* ------------------------------------------------------------------------
 * Portable SGEMM / SGEMV (no CBLAS in this build).
 *
 * Row-major C[M,N] = alpha op(A)[M,K] op(B)[K,N] + beta C, GotoBLAS-style:
 * the output is cut into MC x NC tiles, one tile per OpenMP task (so each
 * output element is owned by one thread and summed in a fixed order:
 * results do not depend on the thread count); for each KC slice of the
 * inner dimension the tile's op(A) and op(B) blocks are packed into
 * MR-row and NR-column micro-panels (zero-padded at the edges) and an
 * MR x NR register-blocked kernel runs over them. Column-major calls are
 * the row-major transposed problem. Inside an enclosing parallel region
 * (cpu/attention.c calls sgemm per head from one) it runs on the calling
 * thread alone.
 * ------------------------------------------------------------------------ */
#include <omp.h>

enum { GEMM_MR = 4, GEMM_NR = 8, GEMM_MC = 64, GEMM_NC = 128, GEMM_KC = 256 };

/* op(A)(i,k) and op(B)(k,j) of row-major storage. */
#define OPA(i, k) (ta ? A[(size_t)(k) * lda + (i)] : A[(size_t)(i) * lda + (k)])
#define OPB(k, j) (tb ? B[(size_t)(j) * ldb + (k)] : B[(size_t)(k) * ldb + (j)])

/* Pack op(A)[i0:i0+mc, k0:k0+kc] as ceil(mc/MR) panels of [kc][MR]. */
static void pack_a(float *ap, int ta, const float *A, int lda, int i0, int mc, int k0, int kc)
{
    for (int ip = 0; ip < mc; ip += GEMM_MR) {
        const int mr = mc - ip < GEMM_MR ? mc - ip : GEMM_MR;
        for (int k = 0; k < kc; k++) {
            for (int r = 0; r < mr; r++) ap[k * GEMM_MR + r] = OPA(i0 + ip + r, k0 + k);
            for (int r = mr; r < GEMM_MR; r++) ap[k * GEMM_MR + r] = 0.0f;
        }
        ap += (size_t)kc * GEMM_MR;
    }
}

/* Pack op(B)[k0:k0+kc, j0:j0+nc] as ceil(nc/NR) panels of [kc][NR]. */
static void pack_b(float *bp, int tb, const float *B, int ldb, int k0, int kc, int j0, int nc)
{
    for (int jp = 0; jp < nc; jp += GEMM_NR) {
        const int nr = nc - jp < GEMM_NR ? nc - jp : GEMM_NR;
        for (int k = 0; k < kc; k++) {
            float *dst = bp + (size_t)k * GEMM_NR;
            if (!tb) {
                const float *src = B + (size_t)(k0 + k) * ldb + j0 + jp;
                for (int c = 0; c < nr; c++) dst[c] = src[c];
            } else {
                for (int c = 0; c < nr; c++) dst[c] = B[(size_t)(j0 + jp + c) * ldb + k0 + k];
            }
            for (int c = nr; c < GEMM_NR; c++) dst[c] = 0.0f;
        }
        bp += (size_t)kc * GEMM_NR;
    }
}

/* acc[MR][NR] = sum_k ap[k][r] * bp[k][c] */
#if defined(__GNUC__) || defined(__clang__)
/* GCC/clang vector extensions: 4 rows x 2 vectors of 4 accumulators stay in
 * registers (plain loops get vectorized over k with spills). */
typedef float sv_v4 __attribute__((vector_size(16)));
static void gemm_micro(int kc, const float *restrict ap, const float *restrict bp,
                       float acc[GEMM_MR][GEMM_NR])
{
    sv_v4 c00 = {0}, c01 = {0}, c10 = {0}, c11 = {0}, c20 = {0}, c21 = {0}, c30 = {0}, c31 = {0};
    for (int k = 0; k < kc; k++) {
        sv_v4 b0, b1;
        memcpy(&b0, bp + (size_t)k * GEMM_NR, sizeof b0);
        memcpy(&b1, bp + (size_t)k * GEMM_NR + 4, sizeof b1);
        const float *a = ap + (size_t)k * GEMM_MR;
        c00 += a[0] * b0; c01 += a[0] * b1;
        c10 += a[1] * b0; c11 += a[1] * b1;
        c20 += a[2] * b0; c21 += a[2] * b1;
        c30 += a[3] * b0; c31 += a[3] * b1;
    }
    memcpy(acc[0], &c00, 16); memcpy(acc[0] + 4, &c01, 16);
    memcpy(acc[1], &c10, 16); memcpy(acc[1] + 4, &c11, 16);
    memcpy(acc[2], &c20, 16); memcpy(acc[2] + 4, &c21, 16);
    memcpy(acc[3], &c30, 16); memcpy(acc[3] + 4, &c31, 16);
}
#else
static void gemm_micro(int kc, const float *restrict ap, const float *restrict bp,
                       float acc[GEMM_MR][GEMM_NR])
{
    for (int r = 0; r < GEMM_MR; r++)
        for (int c = 0; c < GEMM_NR; c++) acc[r][c] = 0.0f;
    for (int k = 0; k < kc; k++)
        for (int r = 0; r < GEMM_MR; r++)
            for (int c = 0; c < GEMM_NR; c++)
                acc[r][c] += ap[(size_t)k * GEMM_MR + r] * bp[(size_t)k * GEMM_NR + c];
}
#endif

/* One MC x NC output tile over the whole inner dimension. ap/bp: scratch
 * of MC*KC and KC*NC floats. */
static void gemm_tile(int ta, int tb, int i0, int mc, int j0, int nc, int K, float alpha,
                      const float *A, int lda, const float *B, int ldb, float beta, float *C,
                      int ldc, float *ap, float *bp)
{
    for (int k0 = 0; k0 < K; k0 += GEMM_KC) {
        const int kc = K - k0 < GEMM_KC ? K - k0 : GEMM_KC;
        pack_a(ap, ta, A, lda, i0, mc, k0, kc);
        pack_b(bp, tb, B, ldb, k0, kc, j0, nc);
        for (int ip = 0; ip < mc; ip += GEMM_MR) {
            const int mr = mc - ip < GEMM_MR ? mc - ip : GEMM_MR;
            for (int jp = 0; jp < nc; jp += GEMM_NR) {
                const int nr = nc - jp < GEMM_NR ? nc - jp : GEMM_NR;
                float acc[GEMM_MR][GEMM_NR];
                gemm_micro(kc, ap + (size_t)ip * kc, bp + (size_t)jp * kc, acc);
                for (int r = 0; r < mr; r++) {
                    float *crow = C + (size_t)(i0 + ip + r) * ldc + j0 + jp;
                    if (k0 > 0 || beta == 1.0f)
                        for (int c = 0; c < nr; c++) crow[c] += alpha * acc[r][c];
                    else if (beta == 0.0f)
                        for (int c = 0; c < nr; c++) crow[c] = alpha * acc[r][c];
                    else
                        for (int c = 0; c < nr; c++) crow[c] = alpha * acc[r][c] + beta * crow[c];
                }
            }
        }
    }
}

static void gemm_rowmajor(int ta, int tb, int M, int N, int K, float alpha, const float *A,
                          int lda, const float *B, int ldb, float beta, float *C, int ldc)
{
    if (M <= 0 || N <= 0)
        return;
    if (K <= 0 || alpha == 0.0f) { /* C = beta C */
        for (int i = 0; i < M; i++) {
            float *crow = C + (size_t)i * ldc;
            for (int j = 0; j < N; j++) crow[j] = beta == 0.0f ? 0.0f : beta * crow[j];
        }
        return;
    }
    const int mt = (M + GEMM_MC - 1) / GEMM_MC, nt = (N + GEMM_NC - 1) / GEMM_NC;
    const long tiles = (long)mt * nt;
    const int par = !omp_in_parallel() && tiles > 1 && (double)M * N * K > 262144.0;
    int failed = 0;
    #pragma omp parallel if (par)
    {
        float *ap = malloc((size_t)GEMM_MC * GEMM_KC * sizeof(float));
        float *bp = malloc((size_t)GEMM_KC * GEMM_NC * sizeof(float));
        if (!ap || !bp) {
            #pragma omp atomic write
            failed = 1;
        }
        #pragma omp for schedule(dynamic, 1)
        for (long t = 0; t < tiles; t++) {
            const int i0 = (int)(t / nt) * GEMM_MC, j0 = (int)(t % nt) * GEMM_NC;
            const int mc = M - i0 < GEMM_MC ? M - i0 : GEMM_MC;
            const int nc = N - j0 < GEMM_NC ? N - j0 : GEMM_NC;
            if (ap && bp)
                gemm_tile(ta, tb, i0, mc, j0, nc, K, alpha, A, lda, B, ldb, beta, C, ldc, ap, bp);
        }
        free(ap);
        free(bp);
    }
    if (failed) {
        /* No scratch memory: the same sums, unblocked (still one fixed order). */
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++) {
                float s = 0.0f;
                for (int k = 0; k < K; k++) s += OPA(i, k) * OPB(k, j);
                float *cij = C + (size_t)i * ldc + j;
                *cij = beta == 0.0f ? alpha * s : alpha * s + beta * *cij;
            }
    }
}

void sv_portable_sgemm(enum CBLAS_ORDER order, enum CBLAS_TRANSPOSE ta, enum CBLAS_TRANSPOSE tb,
                       int M, int N, int K, float alpha, const float *A, int lda,
                       const float *B, int ldb, float beta, float *C, int ldc)
{
    const int tA = ta != CblasNoTrans, tB = tb != CblasNoTrans;
    if (order == CblasColMajor) /* C^T = op(B)^T op(A)^T in row-major terms */
        gemm_rowmajor(tB, tA, N, M, K, alpha, B, ldb, A, lda, beta, C, ldc);
    else
        gemm_rowmajor(tA, tB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void sv_portable_sgemv(enum CBLAS_ORDER order, enum CBLAS_TRANSPOSE ta, int M, int N,
                       float alpha, const float *A, int lda, const float *x, int incx,
                       float beta, float *y, int incy)
{
    /* Row-major A[M,N]; column-major is the transposed row-major matrix. */
    int trans = ta != CblasNoTrans;
    int rows = M, cols = N;
    if (order == CblasColMajor) {
        trans = !trans;
        rows = N;
        cols = M;
    }
    const int leny = trans ? cols : rows, lenx = trans ? rows : cols;
    if (leny <= 0)
        return;
    /* CBLAS: a negative increment walks the vector from its end. */
    const float *x0 = incx < 0 ? x + (size_t)(lenx - 1) * (size_t)(-incx) : x;
    float *y0 = incy < 0 ? y + (size_t)(leny - 1) * (size_t)(-incy) : y;
#define XV(i) x0[(long)(i) * incx]
#define YV(i) y0[(long)(i) * incy]
    const int par = !omp_in_parallel() && (double)rows * cols > 262144.0;
    if (!trans) { /* y[i] = alpha sum_j A[i,j] x[j] + beta y[i] */
        #pragma omp parallel for schedule(static) if (par)
        for (int i = 0; i < rows; i++) {
            const float *arow = A + (size_t)i * lda;
            float s = 0.0f;
            for (int j = 0; j < cols; j++) s += arow[j] * XV(j);
            YV(i) = beta == 0.0f ? alpha * s : alpha * s + beta * YV(i);
        }
    } else { /* y[j] = alpha sum_i A[i,j] x[i] + beta y[j], in blocks of columns */
        enum { BLK = 256 };
        const int nblk = (cols + BLK - 1) / BLK;
        #pragma omp parallel for schedule(static) if (par)
        for (int blk = 0; blk < nblk; blk++) {
            const int j0 = blk * BLK, j1 = j0 + BLK < cols ? j0 + BLK : cols;
            float acc[BLK];
            for (int j = j0; j < j1; j++) acc[j - j0] = 0.0f;
            for (int i = 0; i < rows; i++) {
                const float *arow = A + (size_t)i * lda;
                const float xi = XV(i);
                for (int j = j0; j < j1; j++) acc[j - j0] += arow[j] * xi;
            }
            for (int j = j0; j < j1; j++)
                YV(j) = beta == 0.0f ? alpha * acc[j - j0] : alpha * acc[j - j0] + beta * YV(j);
        }
    }
#undef XV
#undef YV
}
#undef OPA
#undef OPB
#endif /* !SIMVTP_HAVE_CBLAS */

/* cuda/attention.cu — the multi-head self-attention core on the GPU, the
 * function of cpu/attention.c (simple version: materialized probabilities).
 *   qkv[B,N,3,H,hd]: per token q of all heads, then k, then v;
 *   out[B,N,H,hd];  att[B,H,N,N]: softmax probabilities (saved for backward);
 *   keyvalid[B,N] (NULL: all valid): keys with 0 get probability exactly 0.
 * Forward, per head h (a strided batch over the samples b):
 *   S = (Q K^T) / sqrt(hd) into att (cuBLAS), masked row softmax in place
 *   (one warp per row), O = P V into out (cuBLAS).
 * Backward, per head h (dqkv is overwritten, core/backend.h):
 *   dP = dO V^T (scratch), dS = P * (dP - rowsum(P * dP)) (one warp per row),
 *   dQ = dS K / sqrt(hd), dK = dS^T Q / sqrt(hd), dV = P^T dO.
 * Every product reads q/k/v/dq/dk/dv in place through leading dimension
 * 3*H*hd. Row-major products are issued as their column-major transposes
 * (gemm_rm). The per-head loop keeps each batch's matrices disjoint and
 * contiguous in their sample. This is the fp32 table's attention (parity
 * mode) and the bf16 table's for head dims the fused kernels of
 * cuda/flash_attention.cu do not cover (or with SIMVTP_CUDA_ATTENTION=gemm);
 * the bf16 entry points at the end choose. */
#include <stdlib.h>
#include <string.h>

#include "cuda/cuda_ops.cuh"

/* Row-major, strided-batched: C[M,N] = alpha op(A)[M,K] op(B)[K,N] + beta C
 * for `batch` matrices (strides in floats). cuBLAS is column-major, so this
 * computes C^T = op(B)^T op(A)^T: the operands swap, the op flags stay. */
static int gemm_rm(sv_cuda_ctx *ctx, int prec, int ta, int tb, int M, int N, int K, float alpha,
                   const float *A, int lda, long long sa, const float *B, int ldb, long long sb,
                   float beta, float *C, int ldc, long long sc, int batch, const char *op)
{
    cublasStatus_t s = sv_blas.cublasGemmStridedBatchedEx(
        ctx->blas, tb ? CUBLAS_OP_T : CUBLAS_OP_N, ta ? CUBLAS_OP_T : CUBLAS_OP_N, N, M, K, &alpha,
        B, CUDA_R_32F, ldb, sb, A, CUDA_R_32F, lda, sa, &beta, C, CUDA_R_32F, ldc, sc, batch,
        sv_cuda_compute_type(prec), CUBLAS_GEMM_DEFAULT);
    return sv_cublas_ok(ctx, s, op, "cublasGemmStridedBatchedEx");
}

#define ATT_WARPS 8   /* rows per block */

/* In place on rows of N scores: att row r belongs to sample r / (H*N).
 * p_j = exp(s_j - max) / sum, masked keys 0; a row without a valid key
 * (outside the contract) becomes all 0, as on the CPU; NaN scores give a
 * NaN row, also when all of them are NaN (fmaxf skips NaN). */
__global__ void __launch_bounds__(ATT_WARPS * 32)
attn_softmax_kernel(float *att, const uint8_t *keyvalid, size_t rows, int N, int H)
{
    const int lane = threadIdx.x & 31;
    const size_t nwarps = (size_t)gridDim.x * ATT_WARPS;
    const size_t per_sample = (size_t)H * N;
    for (size_t r = (size_t)blockIdx.x * ATT_WARPS + (threadIdx.x >> 5); r < rows; r += nwarps) {
        float *row = att + r * N;
        const uint8_t *valid = keyvalid ? keyvalid + (r / per_sample) * N : NULL;
        float mx = -INFINITY;
        int any = 0;
        for (int j = lane; j < N; j += 32) {
            const int ok = !valid || valid[j];
            any |= ok;
            mx = fmaxf(mx, ok ? row[j] : -INFINITY);
        }
        mx = sv_warp_max(mx);
        if (!__any_sync(0xffffffffu, any)) {
            for (int j = lane; j < N; j += 32) row[j] = 0.0f;
            continue;
        }
        float sum = 0.0f;
        for (int j = lane; j < N; j += 32) {
            const float e = (valid && !valid[j]) ? 0.0f : expf(row[j] - mx);
            row[j] = e;
            sum += e;
        }
        sum = sv_warp_sum(sum);
        const float inv = 1.0f / sum;
        for (int j = lane; j < N; j += 32) row[j] *= inv;
    }
}

/* dS = P * (dP - rowsum(P * dP)) in place on dS rows (nb samples of N rows,
 * contiguous); the P row of sample b, query i is P + b * p_stride + i * N. */
__global__ void __launch_bounds__(ATT_WARPS * 32)
attn_dsoftmax_kernel(float *dS, const float *P, size_t p_stride, int nb, int N)
{
    const int lane = threadIdx.x & 31;
    const size_t rows = (size_t)nb * N;
    const size_t nwarps = (size_t)gridDim.x * ATT_WARPS;
    for (size_t r = (size_t)blockIdx.x * ATT_WARPS + (threadIdx.x >> 5); r < rows; r += nwarps) {
        const size_t b = r / (size_t)N, i = r % (size_t)N;
        const float *p = P + b * p_stride + i * (size_t)N;
        float *d = dS + r * (size_t)N;
        float dot = 0.0f;
        for (int j = lane; j < N; j += 32) dot += p[j] * d[j];
        dot = sv_warp_sum(dot);
        for (int j = lane; j < N; j += 32) d[j] = p[j] * (d[j] - dot);
    }
}

static unsigned warp_row_blocks(const sv_cuda_ctx *ctx, size_t rows)
{
    return sv_min_u((rows + ATT_WARPS - 1) / ATT_WARPS, (size_t)ctx->sm_count * 32);
}

size_t sv_cuda_attention_saved(int B, int N, int H, int hd)
{
    (void)hd;
    if (B <= 0 || N <= 0 || H <= 0) return 0;
    return (size_t)B * H * N * N;
}

int sv_cuda_attention_fwd(float *out, float *att, const float *qkv, const uint8_t *keyvalid,
                          int B, int N, int H, int hd)
{
    sv_cuda_ctx *ctx = sv_cuda_current();
    if (!ctx || B <= 0 || N <= 0 || H <= 0 || hd < 0) return 0;
    const int prec = sv_cuda_precision();
    const int C = H * hd, ld = 3 * C;
    const float scale = hd > 0 ? 1.0f / sqrtf((float)hd) : 1.0f;
    const long long NN = (long long)N * N;
    const char *op = "attention_fwd";

    if (hd > 0) {
        for (int h = 0; h < H; h++) {
            const float *q = qkv + (size_t)h * hd, *k = q + C;
            /* S_b = scale Q_b K_b^T  [N,N], b = 0..B-1 */
            if (!gemm_rm(ctx, prec, 0, 1, N, N, hd, scale, q, ld, (long long)N * ld, k, ld,
                         (long long)N * ld, 0.0f, att + (size_t)h * NN, N, (long long)H * NN, B, op))
                return 0;
        }
    } else {
        if (!sv_cuda_ok(ctx, cudaMemsetAsync(att, 0, (size_t)B * H * NN * sizeof(float), ctx->stream),
                        op, "cudaMemsetAsync"))
            return 0;
    }
    const size_t rows = (size_t)B * H * N;
    attn_softmax_kernel<<<warp_row_blocks(ctx, rows), ATT_WARPS * 32, 0, ctx->stream>>>(
        att, keyvalid, rows, N, H);
    if (!SV_LAUNCH_OK(ctx, op) || hd == 0) return 0;
    for (int h = 0; h < H; h++) {
        const float *v = qkv + 2 * (size_t)C + (size_t)h * hd;
        /* O_b = P_b V_b  [N,hd] into out[b, :, h, :] */
        if (!gemm_rm(ctx, prec, 0, 0, N, hd, N, 1.0f, att + (size_t)h * NN, N, (long long)H * NN,
                     v, ld, (long long)N * ld, 0.0f, out + (size_t)h * hd, C, (long long)N * C, B, op))
            return 0;
    }
    return 0;
}

int sv_cuda_attention_bwd(float *dqkv, const float *dout, const float *qkv, const float *out,
                          const float *att, const uint8_t *keyvalid, int B, int N, int H, int hd)
{
    (void)keyvalid; /* the saved probabilities already hold the mask */
    (void)out;
    sv_cuda_ctx *ctx = sv_cuda_current();
    if (!ctx || !dqkv || B <= 0 || N <= 0 || H <= 0 || hd <= 0) return 0;
    const int prec = sv_cuda_precision();
    const int C = H * hd, ld = 3 * C;
    const float scale = 1.0f / sqrtf((float)hd);
    const long long NN = (long long)N * N;
    const char *op = "attention_bwd";

    /* dP / dS of one head for all samples: [B,N,N] */
    float *dS = (float *)sv_cuda_scratch(ctx, (size_t)B * NN * sizeof(float), op, 0);
    if (!dS) return -1;
    const size_t rows = (size_t)B * N;
    for (int h = 0; h < H; h++) {
        const float *q = qkv + (size_t)h * hd, *k = q + C, *v = q + 2 * (size_t)C;
        float *dq = dqkv + (size_t)h * hd, *dk = dq + C, *dv = dq + 2 * (size_t)C;
        const float *P = att + (size_t)h * NN;          /* sample stride H*N*N */
        const float *dO = dout + (size_t)h * hd;        /* sample stride N*C   */
        /* dP = dO V^T */
        if (!gemm_rm(ctx, prec, 0, 1, N, N, hd, 1.0f, dO, C, (long long)N * C, v, ld,
                     (long long)N * ld, 0.0f, dS, N, NN, B, op))
            break;
        attn_dsoftmax_kernel<<<warp_row_blocks(ctx, rows), ATT_WARPS * 32, 0, ctx->stream>>>(
            dS, P, (size_t)H * NN, B, N);
        if (!SV_LAUNCH_OK(ctx, op)) break;
        /* dQ = scale dS K (dqkv is overwritten: beta 0) */
        if (!gemm_rm(ctx, prec, 0, 0, N, hd, N, scale, dS, N, NN, k, ld, (long long)N * ld, 0.0f,
                     dq, ld, (long long)N * ld, B, op))
            break;
        /* dK = scale dS^T Q */
        if (!gemm_rm(ctx, prec, 1, 0, N, hd, N, scale, dS, N, NN, q, ld, (long long)N * ld, 0.0f,
                     dk, ld, (long long)N * ld, B, op))
            break;
        /* dV = P^T dO */
        if (!gemm_rm(ctx, prec, 1, 0, N, hd, N, 1.0f, P, N, (long long)H * NN, dO, C,
                     (long long)N * C, 0.0f, dv, ld, (long long)N * ld, B, op))
            break;
    }
    sv_cuda_scratch_free(ctx, dS);
    return 0;
}

/* ------------------------------------------------------------------------
 * The bf16 table: fused kernels where they apply. The choice depends on hd
 * and the environment only, so attention_saved, fwd and bwd always agree.
 * ------------------------------------------------------------------------ */
static int use_flash(int hd)
{
    static int mode = -1; /* -1 unread, 0 off (SIMVTP_CUDA_ATTENTION=gemm), 1 on */
    if (mode < 0) {
        const char *e = getenv("SIMVTP_CUDA_ATTENTION");
        mode = (e && !strcmp(e, "gemm")) ? 0 : 1;
    }
    return mode && sv_cuda_flash_supported(hd);
}

static int aligned16(const void *p) { return ((uintptr_t)p & 15) == 0; }

/* 1: the first fused version (SIMVTP_CUDA_ATTENTION=flash1), else 2. Read
 * per call (tests compare both); both save the same lse, so a forward of
 * one version and a backward of the other still agree. */
static int flash_version(void)
{
    const char *e = getenv("SIMVTP_CUDA_ATTENTION");
    return (e && !strcmp(e, "flash1")) ? 1 : 2;
}

size_t sv_cuda_attention_saved_bf16(int B, int N, int H, int hd)
{
    if (B <= 0 || N <= 0 || H <= 0) return 0;
    return use_flash(hd) ? sv_cuda_flash_saved(B, N, H) : sv_cuda_attention_saved(B, N, H, hd);
}

int sv_cuda_attention_fwd_bf16(float *out, float *att, const float *qkv, const uint8_t *keyvalid,
                               int B, int N, int H, int hd)
{
    if (!use_flash(hd)) return sv_cuda_attention_fwd(out, att, qkv, keyvalid, B, N, H, hd);
    sv_cuda_ctx *ctx = sv_cuda_current();
    if (ctx && !(aligned16(out) && aligned16(qkv))) {
        sv_cuda_fail(ctx, SIMVTP_ERR_INVALID_ARG,
                     "attention_fwd: the fused kernel needs 16-byte aligned qkv and out");
        return 0;
    }
    return flash_version() == 1 ? sv_cuda_flash_fwd(out, att, qkv, keyvalid, B, N, H, hd)
                                : sv_cuda_flash2_fwd(out, att, qkv, keyvalid, B, N, H, hd);
}

int sv_cuda_attention_bwd_bf16(float *dqkv, const float *dout, const float *qkv, const float *out,
                               const float *att, const uint8_t *keyvalid, int B, int N, int H,
                               int hd)
{
    if (!use_flash(hd))
        return sv_cuda_attention_bwd(dqkv, dout, qkv, out, att, keyvalid, B, N, H, hd);
    sv_cuda_ctx *ctx = sv_cuda_current();
    if (ctx && !(aligned16(dqkv) && aligned16(dout) && aligned16(qkv) && aligned16(out))) {
        sv_cuda_fail(ctx, SIMVTP_ERR_INVALID_ARG,
                     "attention_bwd: the fused kernel needs 16-byte aligned dqkv, dout, qkv and out");
        return 0;
    }
    return flash_version() == 1
               ? sv_cuda_flash_bwd(dqkv, dout, qkv, out, att, keyvalid, B, N, H, hd)
               : sv_cuda_flash2_bwd(dqkv, dout, qkv, out, att, keyvalid, B, N, H, hd);
}

/* ------------------------------------------------------------------------
 * qkv kept in bf16 (core/backend.h attention_pin): the second fused version
 * reads it as it reads the bf16 copy it would otherwise make of the fp32
 * qkv, in the forward and again in the backward. Offered where that version
 * runs (the default; SIMVTP_CUDA_ATTENTION=flash1 or gemm, another head dim,
 * or SIMVTP_CUDA_PIN16=0 keep qkv in fp32).
 * ------------------------------------------------------------------------ */
int sv_cuda_attention_pin(int hd)
{
    return sv_cuda_pin_bytes() == 2 && use_flash(hd) && flash_version() == 2;
}

/* The fused kernel for a bf16 qkv (what: "qkv") or O ("O"): 1 when it can
 * run (head dim, all of p[0..3] 16-byte aligned; NULLs are skipped), else 0
 * with the failure recorded for finish. */
static int fused16_ok(const char *op, const char *what, int hd, const void *p0, const void *p1, const void *p2,
                      const void *p3)
{
    sv_cuda_ctx *ctx = sv_cuda_current();
    const void *p[4] = {p0, p1, p2, p3};
    int ok = use_flash(hd);
    for (int i = 0; i < 4; i++) ok = ok && (!p[i] || aligned16(p[i]));
    if (ctx && !ok)
        sv_cuda_fail(ctx, SIMVTP_ERR_INTERNAL, "%s: a bf16 %s needs the fused kernel (head dim %d) and 16-byte alignment",
                     op, what, hd);
    return ok || !ctx;
}

int sv_cuda_attention_fwd_pin(float *out, float *att, const void *qkv, const uint8_t *keyvalid,
                              int B, int N, int H, int hd)
{
    if (!fused16_ok("attention_fwd", "qkv", hd, out, qkv, NULL, NULL)) return 0;
    return sv_cuda_flash2_fwd16(out, att, qkv, keyvalid, B, N, H, hd);
}

int sv_cuda_attention_bwd_pin(float *dqkv, const float *dout, const void *qkv, const float *out,
                              const float *att, const uint8_t *keyvalid, int B, int N, int H, int hd)
{
    if (!fused16_ok("attention_bwd", "qkv", hd, dqkv, dout, qkv, out)) return 0;
    return sv_cuda_flash2_bwd16(dqkv, dout, qkv, out, att, keyvalid, B, N, H, hd);
}

/* ------------------------------------------------------------------------
 * The attention output O kept in bf16 too (core/backend.h o_pin): the
 * forward kernel stores bf16(O), the value the output projection's to_bf16
 * would make of the fp32 O, and the backward's D = rowsum(dO o bf16(O))
 * rounds an fp32 O itself (flash_common.cuh fa_dot_kernel), so the results
 * are the same bits either way. 2 bytes per token and channel kept instead
 * of 4, and one to_bf16 pass fewer per block forward and backward. On where
 * qkv is kept in bf16; SIMVTP_CUDA_O16=0 turns it off (read once per
 * encoder pass; for comparison).
 * ------------------------------------------------------------------------ */
int sv_cuda_o_pin(void)
{
    const char *e = getenv("SIMVTP_CUDA_O16");
    return !(e && !strcmp(e, "0")) && sv_cuda_pin_bytes() == 2;
}

int sv_cuda_attention_fwd_pin_o(void *out, float *att, const void *qkv, const uint8_t *keyvalid, int B, int N,
                                int H, int hd)
{
    if (!fused16_ok("attention_fwd", "O", hd, out, qkv, NULL, NULL)) return 0;
    return sv_cuda_flash2_fwd16o(out, att, qkv, keyvalid, B, N, H, hd);
}

int sv_cuda_attention_bwd_pin_o(float *dqkv, const float *dout, const void *qkv, const void *out,
                                const float *att, const uint8_t *keyvalid, int B, int N, int H, int hd)
{
    if (!fused16_ok("attention_bwd", "O", hd, dqkv, dout, qkv, out)) return 0;
    return sv_cuda_flash2_bwd16o(dqkv, dout, qkv, out, att, keyvalid, B, N, H, hd);
}

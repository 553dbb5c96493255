/* cuda/flash_attention.cu — fused multi-head attention for the bf16 table
 * (flash-attention style: the N x N probabilities never reach device
 * memory), head dims 32 and 64. Same contract as cuda/attention.cu:
 *   qkv[B,N,3,H,hd] (fp32), out[B,N,H,hd] (fp32), keyvalid[B,N] or NULL.
 * Saved for the backward: lse[B,H,N], the log2-domain log-sum-exp of each
 * query row's scaled scores (0 for a row without a valid key, whose output
 * is 0 as on the CPU).
 *
 * Matrix products use mma.sync m16n8k16 (bf16 inputs rounded from the fp32
 * activations as tiles are staged in shared memory, fp32 accumulation), so
 * the kernels run on sm_80 and sm_90. A block is 4 warps; a warp owns 16
 * rows of its 64-row tile and keeps them in registers.
 *   forward:  per 64 queries, stream 64-key tiles of K, V: online softmax.
 *   backward: D = rowsum(dO * O); per 64 keys, stream the query tiles and
 *             accumulate dK, dV; per 64 queries, stream the key tiles and
 *             accumulate dQ. Two passes instead of FA2's float atomics on
 *             dQ: every output element has one writer, runs are bitwise
 *             reproducible.
 * This first version is kept for comparison (SIMVTP_CUDA_ATTENTION=flash1;
 * flash_attention_v2.cu is the default). Operands are staged so that each register is one aligned 32-bit load. */
#include "cuda/flash_common.cuh"

/* Stage rows [row0, row0+64) of one head's q, k, v or dO slice (fp32, row
 * stride ld floats) as bf16: `rm` row-major [64][HD+PAD] and/or `tr`
 * transposed [HD][64+PAD] (either may be NULL). Rows >= N become 0. */
template <int HD>
__device__ __forceinline__ void fa_stage(__nv_bfloat16 *rm, __nv_bfloat16 *tr, const float *src,
                                         size_t ld, int row0, int N)
{
    constexpr int V4 = HD / 4;
    for (int i = threadIdx.x; i < FA_COLS * V4; i += FA_THREADS) {
        const int r = i / V4, c = (i % V4) * 4;
        float4 x = make_float4(0.f, 0.f, 0.f, 0.f);
        if (row0 + r < N) x = *reinterpret_cast<const float4 *>(src + (size_t)(row0 + r) * ld + c);
        if (rm) {
            uint2 u = make_uint2(fa_pack(x.x, x.y), fa_pack(x.z, x.w));
            *reinterpret_cast<uint2 *>(rm + r * (HD + FA_PAD) + c) = u;
        }
        if (tr) {
            tr[(c + 0) * (FA_COLS + FA_PAD) + r] = __float2bfloat16_rn(x.x);
            tr[(c + 1) * (FA_COLS + FA_PAD) + r] = __float2bfloat16_rn(x.y);
            tr[(c + 2) * (FA_COLS + FA_PAD) + r] = __float2bfloat16_rn(x.z);
            tr[(c + 3) * (FA_COLS + FA_PAD) + r] = __float2bfloat16_rn(x.w);
        }
    }
}

/* A fragments of 16 rows x HD (fp32 rows at src, stride ld; rows >= N are 0),
 * read straight from device memory into registers. */
template <int HD>
__device__ __forceinline__ void fa_afrag(uint32_t a[HD / 16][4], const float *src, size_t ld,
                                         int row0, int N)
{
    const int g = (threadIdx.x & 31) >> 2, t = threadIdx.x & 3;
    const int r0 = row0 + g, r1 = row0 + g + 8;
#pragma unroll
    for (int kk = 0; kk < HD / 16; kk++) {
        const int c = kk * 16 + 2 * t;
        float2 x00 = make_float2(0.f, 0.f), x10 = x00, x01 = x00, x11 = x00;
        if (r0 < N) {
            x00 = *reinterpret_cast<const float2 *>(src + (size_t)r0 * ld + c);
            x01 = *reinterpret_cast<const float2 *>(src + (size_t)r0 * ld + c + 8);
        }
        if (r1 < N) {
            x10 = *reinterpret_cast<const float2 *>(src + (size_t)r1 * ld + c);
            x11 = *reinterpret_cast<const float2 *>(src + (size_t)r1 * ld + c + 8);
        }
        a[kk][0] = fa_pack(x00.x, x00.y);
        a[kk][1] = fa_pack(x10.x, x10.y);
        a[kk][2] = fa_pack(x01.x, x01.y);
        a[kk][3] = fa_pack(x11.x, x11.y);
    }
}

/* acc[d][.] += P (16 x 64, fp32 C-fragments p, rounded to bf16) * M where M
 * is [64][HD] staged transposed bt = [HD][64+PAD]: acc covers 16 x HD. */
template <int HD>
__device__ __forceinline__ void fa_mm_cols(float acc[HD / 8][4], const float p[8][4],
                                           const __nv_bfloat16 *bt)
{
    const int g = (threadIdx.x & 31) >> 2, t = threadIdx.x & 3;
#pragma unroll
    for (int kk = 0; kk < 4; kk++) {
        uint32_t a[4];
        a[0] = fa_pack(p[2 * kk][0], p[2 * kk][1]);
        a[1] = fa_pack(p[2 * kk][2], p[2 * kk][3]);
        a[2] = fa_pack(p[2 * kk + 1][0], p[2 * kk + 1][1]);
        a[3] = fa_pack(p[2 * kk + 1][2], p[2 * kk + 1][3]);
#pragma unroll
        for (int d = 0; d < HD / 8; d++) {
            const __nv_bfloat16 *q = bt + (d * 8 + g) * (FA_COLS + FA_PAD) + kk * 16 + 2 * t;
            fa_mma(acc[d], a, fa_ld32(q), fa_ld32(q + 8));
        }
    }
}


/* ------------------------------------------------------------------ forward
 * grid (ceil(N/64), H, B) */
template <int HD>
__global__ void __launch_bounds__(FA_THREADS)
fa_fwd_kernel(float *out, float *lse, const float *qkv, const uint8_t *keyvalid, int N, int H,
              float scale_log2)
{
    __shared__ __align__(16) __nv_bfloat16 ks[FA_COLS * (HD + FA_PAD)];
    __shared__ __align__(16) __nv_bfloat16 vt[HD * (FA_COLS + FA_PAD)];
    __shared__ float kbias[FA_COLS];
    const int b = blockIdx.z, h = blockIdx.y, warp = threadIdx.x >> 5;
    const int C = H * HD;
    const size_t ld = 3 * (size_t)C;
    const float *base = qkv + (size_t)b * N * ld + (size_t)h * HD;
    const uint8_t *valid = keyvalid ? keyvalid + (size_t)b * N : NULL;
    const int q0 = blockIdx.x * FA_ROWS + warp * 16;

    uint32_t qa[HD / 16][4];
    fa_afrag<HD>(qa, base, ld, q0, N);
    float o[HD / 8][4];
#pragma unroll
    for (int d = 0; d < HD / 8; d++) o[d][0] = o[d][1] = o[d][2] = o[d][3] = 0.0f;
    float m0 = -INFINITY, m1 = -INFINITY, l0 = 0.0f, l1 = 0.0f;

    for (int k0 = 0; k0 < N; k0 += FA_COLS) {
        __syncthreads(); /* the previous tile is no longer read */
        fa_stage<HD>(ks, NULL, base + C, ld, k0, N);
        fa_stage<HD>(NULL, vt, base + 2 * (size_t)C, ld, k0, N);
        if (threadIdx.x < FA_COLS) kbias[threadIdx.x] = fa_key_bias(valid, k0 + threadIdx.x, N);
        __syncthreads();

        float s[8][4];
#pragma unroll
        for (int n = 0; n < 8; n++) s[n][0] = s[n][1] = s[n][2] = s[n][3] = 0.0f;
        fa_mm_rows<HD>(s, qa, ks);
        fa_softmax_tile<HD>(s, o, kbias, scale_log2, m0, m1, l0, l1);
        fa_mm_cols<HD>(o, s, vt);
    }

    fa_fwd_store<HD>(o, m0, m1, l0, l1, out, lse, b, h, H, N, q0);
}

/* dK, dV for 64 keys per block; grid (ceil(N/64), H, B). A warp owns 16
 * keys: S^T = K Q^T, P^T = exp2(scale S^T + bias - lse), dP^T = V dO^T,
 * dS^T = P^T (dP^T - D); dV += P^T dO, dK += dS^T Q (scaled at the end). */
template <int HD>
__global__ void __launch_bounds__(FA_THREADS)
fa_bwd_kv_kernel(float *dqkv, const float *dout, const float *qkv, const float *lse,
                 const float *D, const uint8_t *keyvalid, int N, int H, float scale_log2,
                 float scale)
{
    __shared__ __align__(16) __nv_bfloat16 qs[FA_COLS * (HD + FA_PAD)];
    __shared__ __align__(16) __nv_bfloat16 qt[HD * (FA_COLS + FA_PAD)];
    __shared__ __align__(16) __nv_bfloat16 dos[FA_COLS * (HD + FA_PAD)];
    __shared__ __align__(16) __nv_bfloat16 dot[HD * (FA_COLS + FA_PAD)];
    __shared__ float ls[FA_COLS], ds[FA_COLS];
    const int b = blockIdx.z, h = blockIdx.y, warp = threadIdx.x >> 5;
    const int g = (threadIdx.x & 31) >> 2;
    const int C = H * HD;
    const size_t ld = 3 * (size_t)C;
    const float *base = qkv + (size_t)b * N * ld + (size_t)h * HD;
    const float *dob = dout + (size_t)b * N * C + (size_t)h * HD;
    const float *lb = lse + ((size_t)b * H + h) * N, *Db = D + ((size_t)b * H + h) * N;
    const uint8_t *valid = keyvalid ? keyvalid + (size_t)b * N : NULL;
    const int k0 = blockIdx.x * FA_ROWS + warp * 16;

    uint32_t ka[HD / 16][4], va[HD / 16][4];
    fa_afrag<HD>(ka, base + C, ld, k0, N);
    fa_afrag<HD>(va, base + 2 * (size_t)C, ld, k0, N);
    const float kb0 = fa_key_bias(valid, k0 + g, N), kb1 = fa_key_bias(valid, k0 + g + 8, N);
    float dk[HD / 8][4], dv[HD / 8][4];
#pragma unroll
    for (int d = 0; d < HD / 8; d++)
#pragma unroll
        for (int j = 0; j < 4; j++) dk[d][j] = dv[d][j] = 0.0f;

    for (int q0 = 0; q0 < N; q0 += FA_COLS) {
        __syncthreads();
        fa_stage<HD>(qs, qt, base, ld, q0, N);
        fa_stage<HD>(dos, dot, dob, C, q0, N);
        if (threadIdx.x < FA_COLS) {
            const int q = q0 + threadIdx.x;
            ls[threadIdx.x] = q < N ? lb[q] : INFINITY;   /* rows past N: P = 0 */
            ds[threadIdx.x] = q < N ? Db[q] : 0.0f;
        }
        __syncthreads();

        float p[8][4], dp[8][4];
#pragma unroll
        for (int n = 0; n < 8; n++)
#pragma unroll
            for (int j = 0; j < 4; j++) p[n][j] = dp[n][j] = 0.0f;
        fa_mm_rows<HD>(p, ka, qs);
        fa_mm_rows<HD>(dp, va, dos);
        fa_bwd_kv_probs(p, dp, kb0, kb1, ls, ds, scale_log2);
        fa_mm_cols<HD>(dv, p, dot);
        fa_mm_cols<HD>(dk, dp, qt);
    }

    fa_store_rows<HD>(dqkv, dk, scale, 1, b, h, H, N, k0);
    fa_store_rows<HD>(dqkv, dv, 1.0f, 2, b, h, H, N, k0);
}

/* dQ for 64 queries per block; grid (ceil(N/64), H, B). A warp owns 16
 * queries: S = Q K^T, P, dP = dO V^T, dS = P (dP - D); dQ += dS K. */
template <int HD>
__global__ void __launch_bounds__(FA_THREADS)
fa_bwd_q_kernel(float *dqkv, const float *dout, const float *qkv, const float *lse,
                const float *D, const uint8_t *keyvalid, int N, int H, float scale_log2,
                float scale)
{
    __shared__ __align__(16) __nv_bfloat16 ks[FA_COLS * (HD + FA_PAD)];
    __shared__ __align__(16) __nv_bfloat16 kt[HD * (FA_COLS + FA_PAD)];
    __shared__ __align__(16) __nv_bfloat16 vs[FA_COLS * (HD + FA_PAD)];
    __shared__ float kbias[FA_COLS];
    const int b = blockIdx.z, h = blockIdx.y, warp = threadIdx.x >> 5;
    const int g = (threadIdx.x & 31) >> 2;
    const int C = H * HD;
    const size_t ld = 3 * (size_t)C;
    const float *base = qkv + (size_t)b * N * ld + (size_t)h * HD;
    const float *dob = dout + (size_t)b * N * C + (size_t)h * HD;
    const float *lb = lse + ((size_t)b * H + h) * N, *Db = D + ((size_t)b * H + h) * N;
    const uint8_t *valid = keyvalid ? keyvalid + (size_t)b * N : NULL;
    const int q0 = blockIdx.x * FA_ROWS + warp * 16;
    const int r0 = q0 + g, r1 = q0 + g + 8;

    uint32_t qa[HD / 16][4], da[HD / 16][4];
    fa_afrag<HD>(qa, base, ld, q0, N);
    fa_afrag<HD>(da, dob, C, q0, N);
    const float l0 = r0 < N ? lb[r0] : INFINITY, l1 = r1 < N ? lb[r1] : INFINITY;
    const float d0 = r0 < N ? Db[r0] : 0.0f, d1 = r1 < N ? Db[r1] : 0.0f;
    float dq[HD / 8][4];
#pragma unroll
    for (int d = 0; d < HD / 8; d++) dq[d][0] = dq[d][1] = dq[d][2] = dq[d][3] = 0.0f;

    for (int k0 = 0; k0 < N; k0 += FA_COLS) {
        __syncthreads();
        fa_stage<HD>(ks, kt, base + C, ld, k0, N);
        fa_stage<HD>(vs, NULL, base + 2 * (size_t)C, ld, k0, N);
        if (threadIdx.x < FA_COLS) kbias[threadIdx.x] = fa_key_bias(valid, k0 + threadIdx.x, N);
        __syncthreads();

        float p[8][4], dp[8][4];
#pragma unroll
        for (int n = 0; n < 8; n++)
#pragma unroll
            for (int j = 0; j < 4; j++) p[n][j] = dp[n][j] = 0.0f;
        fa_mm_rows<HD>(p, qa, ks);
        fa_mm_rows<HD>(dp, da, vs);
        fa_bwd_q_probs(p, dp, kbias, l0, l1, d0, d1, scale_log2);
        fa_mm_cols<HD>(dq, dp, kt);
    }

    fa_store_rows<HD>(dqkv, dq, scale, 0, b, h, H, N, q0);
}

/* ------------------------------------------------------------------ host side */
#ifndef SV_CUDA_EMULATE
int sv_cuda_flash_supported(int hd) { return hd == 32 || hd == 64; }

size_t sv_cuda_flash_saved(int B, int N, int H) { return (size_t)B * H * N; }

template <int HD>
static void fa_forward(sv_cuda_ctx *ctx, float *out, float *lse, const float *qkv,
                       const uint8_t *keyvalid, int B, int N, int H)
{
    const dim3 grid((unsigned)((N + FA_ROWS - 1) / FA_ROWS), (unsigned)H, (unsigned)B);
    const float scale_log2 = 1.4426950408889634f / sqrtf((float)HD);
    fa_fwd_kernel<HD><<<grid, FA_THREADS, 0, ctx->stream>>>(out, lse, qkv, keyvalid, N, H, scale_log2);
    SV_LAUNCH_OK(ctx, "attention_fwd (flash)");
}

template <int HD>
static int fa_backward(sv_cuda_ctx *ctx, float *dqkv, const float *dout, const float *qkv,
                       const float *out, const float *lse, const uint8_t *keyvalid, int B, int N,
                       int H)
{
    const char *op = "attention_bwd (flash)";
    const size_t rows = (size_t)B * N * H;
    float *D = (float *)sv_cuda_scratch(ctx, rows * sizeof(float), op, 0);
    if (!D) return -1;
    fa_dot<HD>(ctx, D, dout, out, B, N, H, (__nv_bfloat16 *)NULL);
    const dim3 grid((unsigned)((N + FA_ROWS - 1) / FA_ROWS), (unsigned)H, (unsigned)B);
    const float scale = 1.0f / sqrtf((float)HD), scale_log2 = 1.4426950408889634f * scale;
    if (SV_LAUNCH_OK(ctx, op)) {
        fa_bwd_kv_kernel<HD><<<grid, FA_THREADS, 0, ctx->stream>>>(dqkv, dout, qkv, lse, D, keyvalid,
                                                                   N, H, scale_log2, scale);
        if (SV_LAUNCH_OK(ctx, op)) {
            fa_bwd_q_kernel<HD><<<grid, FA_THREADS, 0, ctx->stream>>>(dqkv, dout, qkv, lse, D,
                                                                      keyvalid, N, H, scale_log2, scale);
            SV_LAUNCH_OK(ctx, op);
        }
    }
    sv_cuda_scratch_free(ctx, D);
    return 0;
}

int sv_cuda_flash_fwd(float *out, float *lse, const float *qkv, const uint8_t *keyvalid, int B,
                      int N, int H, int hd)
{
    sv_cuda_ctx *ctx = sv_cuda_current();
    if (!ctx || B <= 0 || N <= 0 || H <= 0) return 0;
    if (hd == 64) fa_forward<64>(ctx, out, lse, qkv, keyvalid, B, N, H);
    else if (hd == 32) fa_forward<32>(ctx, out, lse, qkv, keyvalid, B, N, H);
    return 0;
}

int sv_cuda_flash_bwd(float *dqkv, const float *dout, const float *qkv, const float *out,
                      const float *lse, const uint8_t *keyvalid, int B, int N, int H, int hd)
{
    sv_cuda_ctx *ctx = sv_cuda_current();
    if (!ctx || !dqkv || B <= 0 || N <= 0 || H <= 0) return 0;
    if (hd == 64) return fa_backward<64>(ctx, dqkv, dout, qkv, out, lse, keyvalid, B, N, H);
    if (hd == 32) return fa_backward<32>(ctx, dqkv, dout, qkv, out, lse, keyvalid, B, N, H);
    return 0;
}
#endif /* SV_CUDA_EMULATE */

/* cuda/flash_common.cuh — what the fused attention kernels share
 * (flash_attention.cu, the first version, and flash_attention_v2.cu): the
 * mma.sync m16n8k16 bf16 wrapper and fragment helpers, the log2-domain
 * exponent, quad reductions, key bias, and D = rowsum(dO * O) for the
 * backward. Fragment layout of m16n8k16 (g = lane / 4, t = lane % 4): A regs
 * hold (g, 2t..2t+1), (g+8, 2t..), (g, 2t+8..), (g+8, 2t+8..); B regs (k
 * 2t..2t+1, n g), (k 2t+8.., n g); C holds (g, 2t), (g, 2t+1), (g+8, 2t),
 * (g+8, 2t+1). */
#ifndef SV_FLASH_COMMON_CUH
#define SV_FLASH_COMMON_CUH

#include <cstdlib>
#include <cstring>

#include "cuda/vec4.cuh"

#ifdef SV_CUDA_EMULATE
/* compiled by a C++ compiler for tests/cuda/emu (the kernels on the CPU) */
#include "simt_emu.h"
#else
#include <cuda_bf16.h>

#include "cuda/cuda_ops.cuh"
#endif

#define FA_ROWS 64            /* query (or key) rows per block, 16 per warp */
#define FA_COLS 64            /* keys (or queries) per streamed tile        */
#define FA_THREADS 128
#define FA_PAD 8              /* bf16 padding per shared row: conflict-free fragment loads */

__device__ __forceinline__ uint32_t fa_pack(float lo, float hi)
{
    __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
    return *reinterpret_cast<uint32_t *>(&v);
}

__device__ __forceinline__ uint32_t fa_ld32(const __nv_bfloat16 *p)
{
    return *reinterpret_cast<const uint32_t *>(p);
}

__device__ __forceinline__ void fa_mma(float c[4], const uint32_t a[4], uint32_t b0, uint32_t b1)
{
#ifdef SV_CUDA_EMULATE
    emu_mma_m16n8k16_bf16(c, a, b0, b1);
#else
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 "
                 "{%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
                 : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
#endif
}

/* acc[n][.] += A (16 x HD, registers) * B^T where B is a row-major staged
 * tile [64][HD+PAD]: acc covers 16 x 64 (8 n-tiles of 8 columns). */
template <int HD>
__device__ __forceinline__ void fa_mm_rows(float acc[8][4], const uint32_t a[HD / 16][4],
                                           const __nv_bfloat16 *b)
{
    const int g = (threadIdx.x & 31) >> 2, t = threadIdx.x & 3;
#pragma unroll
    for (int kk = 0; kk < HD / 16; kk++)
#pragma unroll
        for (int n = 0; n < 8; n++) {
            const __nv_bfloat16 *p = b + (n * 8 + g) * (HD + FA_PAD) + kk * 16 + 2 * t;
            fa_mma(acc[n], a[kk], fa_ld32(p), fa_ld32(p + 8));
        }
}

/* 2^x with the special-function unit (about 2 ulp; exp2(-inf) = 0) */
__device__ __forceinline__ float fa_exp2(float x)
{
#ifdef SV_CUDA_EMULATE
    return exp2f(x);
#else
    float y;
    asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
    return y;
#endif
}

/* 0 for a valid key, -inf for a masked or out-of-range one */
__device__ __forceinline__ float fa_key_bias(const uint8_t *valid, int key, int N)
{
    return (key < N && (!valid || valid[key])) ? 0.0f : -INFINITY;
}

__device__ __forceinline__ float fa_quad_max(float v)
{
    v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, 1));
    return fmaxf(v, __shfl_xor_sync(0xffffffffu, v, 2));
}

__device__ __forceinline__ float fa_quad_sum(float v)
{
    v += __shfl_xor_sync(0xffffffffu, v, 1);
    return v + __shfl_xor_sync(0xffffffffu, v, 2);
}

/* ------------------------------------------------------------------ the math both versions share
 * (the same operations in the same order, so v1 and v2 give the same bits) */

/* One 64-key tile of the forward for a warp's 16 rows (this lane: rows g and
 * g+8): s holds the raw scores Q K^T; scale, add the key bias, update the
 * running max m and sum l, rescale the output accumulator o; s becomes the
 * tile's unnormalized probabilities, ready for P.V. */
template <int HD>
__device__ __forceinline__ void fa_softmax_tile(float s[8][4], float o[HD / 8][4], const float *kbias,
                                                float scale_log2, float &m0, float &m1, float &l0,
                                                float &l1)
{
    const int t = threadIdx.x & 3;
    float mx0 = -INFINITY, mx1 = -INFINITY;
#pragma unroll
    for (int n = 0; n < 8; n++) {
        const float bb0 = kbias[n * 8 + 2 * t], bb1 = kbias[n * 8 + 2 * t + 1];
        s[n][0] = s[n][0] * scale_log2 + bb0;
        s[n][1] = s[n][1] * scale_log2 + bb1;
        s[n][2] = s[n][2] * scale_log2 + bb0;
        s[n][3] = s[n][3] * scale_log2 + bb1;
        mx0 = fmaxf(mx0, fmaxf(s[n][0], s[n][1]));
        mx1 = fmaxf(mx1, fmaxf(s[n][2], s[n][3]));
    }
    const float mn0 = fmaxf(m0, fa_quad_max(mx0)), mn1 = fmaxf(m1, fa_quad_max(mx1));
    /* a row with no valid key so far keeps base 0: exp2(-inf - 0) = 0, no NaN */
    const float u0 = mn0 == -INFINITY ? 0.0f : mn0, u1 = mn1 == -INFINITY ? 0.0f : mn1;
    const float al0 = fa_exp2(m0 - u0), al1 = fa_exp2(m1 - u1);
    m0 = mn0;
    m1 = mn1;
    float r0 = 0.0f, r1 = 0.0f;
#pragma unroll
    for (int n = 0; n < 8; n++) {
        s[n][0] = fa_exp2(s[n][0] - u0);
        s[n][1] = fa_exp2(s[n][1] - u0);
        s[n][2] = fa_exp2(s[n][2] - u1);
        s[n][3] = fa_exp2(s[n][3] - u1);
        r0 += s[n][0] + s[n][1];
        r1 += s[n][2] + s[n][3];
    }
    l0 = l0 * al0 + r0;
    l1 = l1 * al1 + r1;
#pragma unroll
    for (int d = 0; d < HD / 8; d++) {
        o[d][0] *= al0;
        o[d][1] *= al0;
        o[d][2] *= al1;
        o[d][3] *= al1;
    }
}

/* The forward's results for a warp's rows q0..q0+15 of head h of sample b:
 * the normalized output rows and each row's log2-domain log-sum-exp (0 for
 * a row without a valid key, whose output is 0). */
/* a pair of O values into fp32 storage, or into bf16 (the bf16 table's
 * attention_fwd_pin_o: the value to_bf16 would make of the fp32 one) */
__device__ __forceinline__ void fa_store2(float *p, float a, float b)
{
    *reinterpret_cast<float2 *>(p) = make_float2(a, b);
}

__device__ __forceinline__ void fa_store2(__nv_bfloat16 *p, float a, float b)
{
    *reinterpret_cast<uint32_t *>(p) = fa_pack(a, b);
}

/* four O values as the products see them, rounded to bf16 (widened again),
 * from fp32 storage or from bf16 storage; i counts fours */
__device__ __forceinline__ float fa_round(float x) { return __bfloat162float(__float2bfloat16_rn(x)); }

__device__ __forceinline__ float4 fa_load_o4(const float *p, size_t i)
{
    const float4 v = reinterpret_cast<const float4 *>(p)[i];
    return make_float4(fa_round(v.x), fa_round(v.y), fa_round(v.z), fa_round(v.w));
}

__device__ __forceinline__ float4 fa_load_o4(const __nv_bfloat16 *p, size_t i)
{
    const uint2 u = reinterpret_cast<const uint2 *>(p)[i]; /* rows of HD bf16: 8-byte aligned */
    __nv_bfloat16 q[4];
    memcpy((void *)q, &u, sizeof q);
    return make_float4(__bfloat162float(q[0]), __bfloat162float(q[1]), __bfloat162float(q[2]),
                       __bfloat162float(q[3]));
}

template <int HD, typename O>
__device__ __forceinline__ void fa_fwd_store(const float o[HD / 8][4], float m0, float m1, float l0,
                                             float l1, O *out, float *lse, int b, int h, int H,
                                             int N, int q0)
{
    const int g = (threadIdx.x & 31) >> 2, t = threadIdx.x & 3, C = H * HD;
    l0 = fa_quad_sum(l0);
    l1 = fa_quad_sum(l1);
    const float i0 = l0 > 0.0f ? 1.0f / l0 : 0.0f, i1 = l1 > 0.0f ? 1.0f / l1 : 0.0f;
    const int r0 = q0 + g, r1 = q0 + g + 8;
    O *ob = out + (size_t)b * N * C + (size_t)h * HD;
#pragma unroll
    for (int d = 0; d < HD / 8; d++) {
        const int c = d * 8 + 2 * t;
        if (r0 < N) fa_store2(ob + (size_t)r0 * C + c, o[d][0] * i0, o[d][1] * i0);
        if (r1 < N) fa_store2(ob + (size_t)r1 * C + c, o[d][2] * i1, o[d][3] * i1);
    }
    if (t == 0) {
        float *lb = lse + ((size_t)b * H + h) * N;
        if (r0 < N) lb[r0] = l0 > 0.0f ? m0 + log2f(l0) : 0.0f;
        if (r1 < N) lb[r1] = l1 > 0.0f ? m1 + log2f(l1) : 0.0f;
    }
}

/* The key-side backward of one query tile (rows = keys, columns = queries):
 * p = K Q^T becomes P^T = exp2(scale S^T + key bias - lse), dp = V dO^T
 * becomes dS^T = P^T (dP^T - D); ls and ds hold the tile's lse and D. */
__device__ __forceinline__ void fa_bwd_kv_probs(float p[8][4], float dp[8][4], float kb0, float kb1,
                                                const float *ls, const float *ds, float scale_log2)
{
    const int t = threadIdx.x & 3;
#pragma unroll
    for (int n = 0; n < 8; n++) {
        const int c = n * 8 + 2 * t;
        const float l0 = ls[c], l1 = ls[c + 1], d0 = ds[c], d1 = ds[c + 1];
        p[n][0] = fa_exp2(p[n][0] * scale_log2 + kb0 - l0);
        p[n][1] = fa_exp2(p[n][1] * scale_log2 + kb0 - l1);
        p[n][2] = fa_exp2(p[n][2] * scale_log2 + kb1 - l0);
        p[n][3] = fa_exp2(p[n][3] * scale_log2 + kb1 - l1);
        dp[n][0] = p[n][0] * (dp[n][0] - d0);
        dp[n][1] = p[n][1] * (dp[n][1] - d1);
        dp[n][2] = p[n][2] * (dp[n][2] - d0);
        dp[n][3] = p[n][3] * (dp[n][3] - d1);
    }
}

/* The query-side backward of one key tile: p = Q K^T becomes P, dp = dO V^T
 * becomes dS = P (dP - D); l0/l1 and d0/d1 are this lane's rows' lse and D. */
__device__ __forceinline__ void fa_bwd_q_probs(float p[8][4], float dp[8][4], const float *kbias,
                                               float l0, float l1, float d0, float d1, float scale_log2)
{
    const int t = threadIdx.x & 3;
#pragma unroll
    for (int n = 0; n < 8; n++) {
        const float bb0 = kbias[n * 8 + 2 * t], bb1 = kbias[n * 8 + 2 * t + 1];
        p[n][0] = fa_exp2(p[n][0] * scale_log2 + bb0 - l0);
        p[n][1] = fa_exp2(p[n][1] * scale_log2 + bb1 - l0);
        p[n][2] = fa_exp2(p[n][2] * scale_log2 + bb0 - l1);
        p[n][3] = fa_exp2(p[n][3] * scale_log2 + bb1 - l1);
        dp[n][0] = p[n][0] * (dp[n][0] - d0);
        dp[n][1] = p[n][1] * (dp[n][1] - d0);
        dp[n][2] = p[n][2] * (dp[n][2] - d1);
        dp[n][3] = p[n][3] * (dp[n][3] - d1);
    }
}

/* dqkv[rows r0, r1 of slot `which` (0 q, 1 k, 2 v) of head h] = acc * scale
 * (attention_bwd overwrites dqkv; every element has exactly one writer):
 * this lane's two rows of a warp's 16 (rows past N skipped). */
template <int HD>
__device__ __forceinline__ void fa_store_rows(float *dqkv, const float acc[HD / 8][4], float scale, int which,
                                              int b, int h, int H, int N, int row0)
{
    const int g = (threadIdx.x & 31) >> 2, t = threadIdx.x & 3, C = H * HD;
    const size_t ld = 3 * (size_t)C;
    const int r0 = row0 + g, r1 = row0 + g + 8;
    float *base = dqkv + (size_t)b * N * ld + (size_t)which * C + (size_t)h * HD;
#pragma unroll
    for (int d = 0; d < HD / 8; d++) {
        const int c = d * 8 + 2 * t;
        if (r0 < N)
            *reinterpret_cast<float2 *>(base + (size_t)r0 * ld + c) = make_float2(acc[d][0] * scale, acc[d][1] * scale);
        if (r1 < N)
            *reinterpret_cast<float2 *>(base + (size_t)r1 * ld + c) = make_float2(acc[d][2] * scale, acc[d][3] * scale);
    }
}

/* D[b,h,i] = sum_d dO[b,i,h,d] bf16(O[b,i,h,d]) for every (b, i, h) row. O
 * as the output projection's products read it, rounded to bf16 (as
 * PyTorch's fused attention under autocast, whose O is bf16), so that an O
 * stored in fp32 or in bf16 (attention_bwd_pin_o) gives the same D.
 * do16 (or NULL): also bf16(dO) there, the copy the second version's
 * backward reads (one pass over dO instead of two).
 * A block takes FA_DOT_ROWS rows at a time, which lie contiguous in dO and
 * O: its threads read them as consecutive 16-byte pieces (coalesced; one
 * thread per row striding through its own row was not), each piece's four
 * products summed into ts[row][piece]; then one thread per row adds its
 * row's pieces in order, s = 0 + t0 + t1 + ... (the sum a thread per row
 * made, piece by piece). Any grid and block size. */
/* bf16 of four floats, one 8-byte store */
__device__ __forceinline__ void fa_store16(__nv_bfloat16 *p, const float4 &a)
{
    const float v[4] = {a.x, a.y, a.z, a.w};
    sv_store4(p, v);
}

#define FA_DOT_ROWS 64
#define FA_DOT_THREADS 256
template <int HD, typename O>
__global__ void __launch_bounds__(FA_DOT_THREADS)
fa_dot_kernel(float *D, const float *dout, const O *out, int B, int N, int H, __nv_bfloat16 *do16 = NULL)
{
    constexpr int Q = HD / 4; /* 16-byte pieces of dO per row */
    __shared__ float ts[FA_DOT_ROWS][Q + 1];
    const size_t rows = (size_t)B * N * H;
    for (size_t r0 = (size_t)blockIdx.x * FA_DOT_ROWS; r0 < rows; r0 += (size_t)gridDim.x * FA_DOT_ROWS) {
        const int nr = rows - r0 < FA_DOT_ROWS ? (int)(rows - r0) : FA_DOT_ROWS;
        const float4 *x = reinterpret_cast<const float4 *>(dout + r0 * HD);
        for (int j = threadIdx.x; j < nr * Q; j += blockDim.x) {
            const float4 a = x[j], c = fa_load_o4(out + r0 * HD, (size_t)j);
            ts[j / Q][j % Q] = a.x * c.x + a.y * c.y + a.z * c.z + a.w * c.w;
            if (do16) fa_store16(do16 + r0 * HD + 4 * (size_t)j, a);
        }
        __syncthreads();
        for (int rr = threadIdx.x; rr < nr; rr += blockDim.x) {
            float s = 0.0f;
#pragma unroll
            for (int i = 0; i < Q; i++) s += ts[rr][i];
            const size_t r = r0 + rr;
            const size_t h = r % H, bi = r / H, i = bi % N, b = bi / N; /* r = (b*N + i)*H + h */
            D[(b * H + h) * N + i] = s;
        }
        __syncthreads(); /* ts is refilled next */
    }
}

/* The first version, one thread per row striding through it (the same
 * sums; SIMVTP_CUDA_DOT=rows selects it, for comparison). */
template <int HD, typename O>
__global__ void fa_dot_rows_kernel(float *D, const float *dout, const O *out, int B, int N, int H,
                                   __nv_bfloat16 *do16 = NULL)
{
    const size_t rows = (size_t)B * N * H;
    for (size_t r = (size_t)blockIdx.x * blockDim.x + threadIdx.x; r < rows; r += (size_t)gridDim.x * blockDim.x) {
        const float4 *x = reinterpret_cast<const float4 *>(dout + r * HD);
        float s = 0.0f;
#pragma unroll
        for (int i = 0; i < HD / 4; i++) {
            const float4 a = x[i], c = fa_load_o4(out + r * HD, (size_t)i);
            s += a.x * c.x + a.y * c.y + a.z * c.z + a.w * c.w;
            if (do16) fa_store16(do16 + r * HD + 4 * i, a);
        }
        const size_t h = r % H, bi = r / H, i = bi % N, b = bi / N;
        D[(b * H + h) * N + i] = s;
    }
}

#ifndef SV_CUDA_EMULATE
/* D (and do16) by fa_dot_kernel, or by fa_dot_rows_kernel with SIMVTP_CUDA_DOT=rows */
template <int HD, typename O>
static void fa_dot(sv_cuda_ctx *ctx, float *D, const float *dout, const O *out, int B, int N, int H,
                   __nv_bfloat16 *do16)
{
    const size_t rows = (size_t)B * N * H;
    const char *e = getenv("SIMVTP_CUDA_DOT"); /* read per call */
    if (e && !strcmp(e, "rows"))
        fa_dot_rows_kernel<HD><<<sv_blocks_for(ctx, rows, 256), 256, 0, ctx->stream>>>(D, dout, out, B, N, H, do16);
    else
        fa_dot_kernel<HD><<<sv_blocks_for(ctx, (rows + FA_DOT_ROWS - 1) / FA_DOT_ROWS * FA_DOT_THREADS,
                                          FA_DOT_THREADS),
                            FA_DOT_THREADS, 0, ctx->stream>>>(D, dout, out, B, N, H, do16);
}
#endif

#endif

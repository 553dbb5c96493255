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

/* D[b,h,i] = sum_d dO[b,i,h,d] O[b,i,h,d]; one thread per (b, i, h) row */
template <int HD>
__global__ void fa_dot_kernel(float *D, const float *dout, const float *out, int B, int N, int H)
{
    const size_t rows = (size_t)B * N * H;
    for (size_t r = (size_t)blockIdx.x * blockDim.x + threadIdx.x; r < rows;
         r += (size_t)gridDim.x * blockDim.x) {
        const float4 *x = reinterpret_cast<const float4 *>(dout + r * HD);
        const float4 *y = reinterpret_cast<const float4 *>(out + r * HD);
        float s = 0.0f;
#pragma unroll
        for (int i = 0; i < HD / 4; i++) {
            const float4 a = x[i], c = y[i];
            s += a.x * c.x + a.y * c.y + a.z * c.z + a.w * c.w;
        }
        const size_t h = r % H, bi = r / H, i = bi % N, b = bi / N;   /* r = (b*N + i)*H + h */
        D[(b * H + h) * N + i] = s;
    }
}

#endif

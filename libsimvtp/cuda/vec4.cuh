/* cuda/vec4.cuh — four adjacent values at once, as floats: loaded from fp32
 * (one 16-byte load) or bf16 (one 8-byte load, widened), stored to fp32 or
 * to bf16 (rounded to nearest even, as to_bf16 rounds). For the kernels
 * that take four columns per thread or lane (colsum.cuh, ln_rows.cuh,
 * gelu.cu); the caller sees to the alignment. Also compiled for the CPU by
 * tests/cuda/emu. */
#ifndef SV_CUDA_VEC4_CUH
#define SV_CUDA_VEC4_CUH

#ifdef SV_CUDA_EMULATE
#include "simt_emu.h"
#else
#include <cuda_bf16.h>
#endif

struct alignas(8) sv_bf16x4 {
    __nv_bfloat16 v[4];
};

static __device__ __forceinline__ void sv_load4(const float *p, float *v)
{
    const float4 q = *reinterpret_cast<const float4 *>(p);
    v[0] = q.x; v[1] = q.y; v[2] = q.z; v[3] = q.w;
}
static __device__ __forceinline__ void sv_load4(const __nv_bfloat16 *p, float *v)
{
    const sv_bf16x4 q = *reinterpret_cast<const sv_bf16x4 *>(p);
    for (int k = 0; k < 4; k++) v[k] = __bfloat162float(q.v[k]);
}
static __device__ __forceinline__ void sv_store4(float *p, const float *v)
{
    *reinterpret_cast<float4 *>(p) = make_float4(v[0], v[1], v[2], v[3]);
}
static __device__ __forceinline__ void sv_store4(__nv_bfloat16 *p, const float *v)
{
    sv_bf16x4 q;
    for (int k = 0; k < 4; k++) q.v[k] = __float2bfloat16_rn(v[k]);
    *reinterpret_cast<sv_bf16x4 *>(p) = q;
}

#endif /* SV_CUDA_VEC4_CUH */

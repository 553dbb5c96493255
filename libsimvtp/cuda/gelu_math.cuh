/* cuda/gelu_math.cuh — the exact (erf) GELU's derivative on one element,
 * shared by gelu_bwd (cuda/gelu.cu) and the fused GELU-backward column sum
 * of the fc1 product (cuda/colsum.cuh), which must give the same bits:
 *   dx = dy * (cdf(x) + x pdf(x)),  cdf(x) = erfc(-x/sqrt2)/2,
 * with the rounding of every step spelled out (no compiler choice of
 * fused multiply-adds). erfcf keeps 1 + erf accurate in the negative tail
 * (cpu/gelu.c takes the same care). Also compiled for the CPU by
 * tests/cuda/emu. */
#ifndef SV_CUDA_GELU_MATH_CUH
#define SV_CUDA_GELU_MATH_CUH

#include <math.h>

#define SV_INV_SQRT2 0.70710678118654752440f
#define SV_INV_SQRT_2PI 0.39894228040143267794f

#ifdef SV_CUDA_EMULATE
static inline float sv_fma_rn(float a, float b, float c) { return fmaf(a, b, c); }
static inline float sv_mul_rn(float a, float b) { return a * b; }
#else
#define sv_fma_rn __fmaf_rn
#define sv_mul_rn __fmul_rn
#endif

static __device__ __forceinline__ float sv_gelu_grad(float x, float dy)
{
    const float cdf = sv_mul_rn(0.5f, erfcf(sv_mul_rn(-x, SV_INV_SQRT2)));
    const float pdf = sv_mul_rn(SV_INV_SQRT_2PI, expf(sv_mul_rn(sv_mul_rn(-0.5f, x), x)));
    return sv_mul_rn(dy, sv_fma_rn(x, pdf, cdf));
}

#endif /* SV_CUDA_GELU_MATH_CUH */

/* cuda/gelu.cu — exact (erf) GELU on the GPU, forward and backward:
 *   GELU(x) = 0.5 x (1 + erf(x/sqrt2)),  GELU'(x) = cdf(x) + x pdf(x).
 * 1 + erf(x/sqrt2) is computed as erfc(-x/sqrt2), which keeps its relative
 * accuracy in the negative tail (cpu/gelu.c takes the same care); erfcf and
 * expf are CUDA's full-precision versions (no fast-math). The bf16 table's
 * blocks write the forward's output in bf16 (a product input, matmul.cu)
 * and may keep its input h in bf16 too (core/backend.h h_pin). */
#include <stdlib.h>
#include <string.h>

#include "cuda/cuda_ops.cuh"
#include "cuda/gelu_math.cuh"
#include "cuda/vec4.cuh"

static __device__ __forceinline__ void gelu_store(float *p, float v) { *p = v; }
static __device__ __forceinline__ void gelu_store(__nv_bfloat16 *p, float v) { *p = __float2bfloat16_rn(v); }
static __device__ __forceinline__ float gelu_load(const float *p) { return *p; }
static __device__ __forceinline__ float gelu_load(const __nv_bfloat16 *p) { return __bfloat162float(*p); }
/* out in float, or in bf16 (a product input: bf16 of the float result);
 * inp in float, or in bf16 (h_pin: the value widened, then as for float) */
template <typename T, typename I>
__global__ void gelu_fwd_kernel(T *out, const I *inp, size_t n)
{
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x) {
        const float x = gelu_load(&inp[i]);
        gelu_store(&out[i], 0.5f * x * erfcf(-x * SV_INV_SQRT2));
    }
}

/* The same, four adjacent values per thread and iteration (16-byte float
 * loads, 8-byte bf16 ones), n4 groups of four: more loads in flight, the
 * same values. */
template <typename T, typename I>
__global__ void gelu_fwd4_kernel(T *out, const I *inp, size_t n4)
{
    for (size_t q = (size_t)blockIdx.x * blockDim.x + threadIdx.x; q < n4; q += (size_t)gridDim.x * blockDim.x) {
        float x[4], y[4];
        sv_load4(inp + 4 * q, x);
#pragma unroll
        for (int k = 0; k < 4; k++) y[k] = 0.5f * x[k] * erfcf(-x[k] * SV_INV_SQRT2);
        sv_store4(out + 4 * q, y);
    }
}

template <typename I>
__global__ void gelu_bwd_kernel(float *dinp, const I *inp, const float *dout, size_t n)
{
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x) {
        dinp[i] = sv_gelu_grad(gelu_load(&inp[i]), dout[i]);
    }
}

template <typename T, typename I>
static void gelu_fwd(T *out, const I *inp, size_t n)
{
    sv_cuda_ctx *ctx = sv_cuda_current();
    if (!ctx || !n) return;
    /* four at a time where both sides are aligned for it, the rest (< 4) one by one */
    const char *e = getenv("SIMVTP_CUDA_GELU_VEC"); /* 0: one value per thread (the same values) */
    const size_t n4 = !(e && !strcmp(e, "0")) && (uintptr_t)out % (4 * sizeof(T)) == 0 &&
                              (uintptr_t)inp % (4 * sizeof(I)) == 0
                          ? n / 4
                          : 0;
    if (n4) {
        gelu_fwd4_kernel<T, I><<<sv_blocks_for(ctx, n4, 256), 256, 0, ctx->stream>>>(out, inp, n4);
        if (!SV_LAUNCH_OK(ctx, "gelu_fwd")) return;
    }
    if (n > 4 * n4) {
        gelu_fwd_kernel<T, I><<<sv_blocks_for(ctx, n - 4 * n4, 256), 256, 0, ctx->stream>>>(out + 4 * n4,
                                                                                      inp + 4 * n4, n - 4 * n4);
        SV_LAUNCH_OK(ctx, "gelu_fwd");
    }
}

template <typename I>
static void gelu_bwd(float *dinp, const I *inp, const float *dout, size_t n)
{
    sv_cuda_ctx *ctx = sv_cuda_current();
    if (!ctx || !dinp || !n) return;
    gelu_bwd_kernel<I><<<sv_blocks_for(ctx, n, 256), 256, 0, ctx->stream>>>(dinp, inp, dout, n);
    SV_LAUNCH_OK(ctx, "gelu_bwd");
}

void sv_cuda_gelu_fwd(float *out, const float *inp, size_t n) { gelu_fwd(out, inp, n); }

/* out in bf16: a product input (core/backend.h pin_bytes, cuda/matmul.cu) */
void sv_cuda_gelu_fwd_pin(void *out, const float *inp, size_t n)
{
    gelu_fwd((__nv_bfloat16 *)out, inp, n);
}

/* h and out in bf16 (core/backend.h h_pin, gelu_fwd_pin_h) */
void sv_cuda_gelu_fwd_pin_h(void *out, const void *h, size_t n)
{
    gelu_fwd((__nv_bfloat16 *)out, (const __nv_bfloat16 *)h, n);
}

void sv_cuda_gelu_bwd(float *dinp, const float *inp, const float *dout, size_t n) { gelu_bwd(dinp, inp, dout, n); }

/* inp in bf16 (h_pin: the unfused fc1 backward, matmul.cu) */
void sv_cuda_gelu_bwd_h16(float *dinp, const void *h, const float *dout, size_t n)
{
    gelu_bwd(dinp, (const __nv_bfloat16 *)h, dout, n);
}

/* cuda/gelu.cu — exact (erf) GELU on the GPU, forward and backward:
 *   GELU(x) = 0.5 x (1 + erf(x/sqrt2)),  GELU'(x) = cdf(x) + x pdf(x).
 * 1 + erf(x/sqrt2) is computed as erfc(-x/sqrt2), which keeps its relative
 * accuracy in the negative tail (cpu/gelu.c takes the same care); erfcf and
 * expf are CUDA's full-precision versions (no fast-math). The bf16 table's
 * blocks write the forward's output in bf16 (a product input, matmul.cu). */
#include "cuda/cuda_ops.cuh"
#include "cuda/gelu_math.cuh"

static __device__ __forceinline__ void gelu_store(float *p, float v) { *p = v; }
static __device__ __forceinline__ void gelu_store(__nv_bfloat16 *p, float v) { *p = __float2bfloat16_rn(v); }

/* out in float, or in bf16 (a product input: bf16 of the float result) */
template <typename T>
__global__ void gelu_fwd_kernel(T *out, const float *inp, size_t n)
{
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x) {
        const float x = inp[i];
        gelu_store(&out[i], 0.5f * x * erfcf(-x * SV_INV_SQRT2));
    }
}

__global__ void gelu_bwd_kernel(float *dinp, const float *inp, const float *dout, size_t n)
{
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x) {
        dinp[i] = sv_gelu_grad(inp[i], dout[i]);
    }
}

template <typename T>
static void gelu_fwd(T *out, const float *inp, size_t n)
{
    sv_cuda_ctx *ctx = sv_cuda_current();
    if (!ctx || !n) return;
    gelu_fwd_kernel<T><<<sv_blocks_for(ctx, n, 256), 256, 0, ctx->stream>>>(out, inp, n);
    SV_LAUNCH_OK(ctx, "gelu_fwd");
}

void sv_cuda_gelu_fwd(float *out, const float *inp, size_t n) { gelu_fwd(out, inp, n); }

/* out in bf16: a product input (core/backend.h pin_bytes, cuda/matmul.cu) */
void sv_cuda_gelu_fwd_pin(void *out, const float *inp, size_t n)
{
    gelu_fwd((__nv_bfloat16 *)out, inp, n);
}

void sv_cuda_gelu_bwd(float *dinp, const float *inp, const float *dout, size_t n)
{
    sv_cuda_ctx *ctx = sv_cuda_current();
    if (!ctx || !dinp || !n) return;
    gelu_bwd_kernel<<<sv_blocks_for(ctx, n, 256), 256, 0, ctx->stream>>>(dinp, inp, dout, n);
    SV_LAUNCH_OK(ctx, "gelu_bwd");
}

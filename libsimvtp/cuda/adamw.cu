/* cuda/adamw.cu — the optimizer's ops on the GPU: the sum of squares of the
 * gradients (double, deterministic, through mse.cu's reduction; NaN/Inf
 * propagate) and the fused AdamW update of sv_adamw_args, elementwise:
 *   g' = g clip;  w *= decay;  m = b1 m + (1-b1) g';  v = b2 v + (1-b2) g'^2;
 *   w -= step_size m / (sqrt(v) / bc2_sqrt + eps)
 * (IEEE sqrt and division: the library is built without fast-math). */
#include "cuda/cuda_ops.cuh"

__global__ void adamw_kernel(float *w, const float *g, float *m, float *v, size_t n, float clip,
                             float decay, float b1, float b2, float eps, float step_size,
                             float bc2_sqrt)
{
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x) {
        const float gi = g[i] * clip;
        const float wi = w[i] * decay;
        const float mi = b1 * m[i] + (1.0f - b1) * gi;
        const float vi = b2 * v[i] + (1.0f - b2) * gi * gi;
        const float denom = sqrtf(vi) / bc2_sqrt + eps;
        m[i] = mi;
        v[i] = vi;
        w[i] = wi - step_size * mi / denom;
    }
}

double sv_cuda_sumsq(const float *x, size_t n)
{
    sv_cuda_ctx *ctx = sv_cuda_current();
    if (!ctx) return NAN;
    return sv_cuda_sum_sq(ctx, x, NULL, n, "sumsq");
}

void sv_cuda_adamw(float *w, const float *g, float *m, float *v, size_t n, const sv_adamw_args *a)
{
    sv_cuda_ctx *ctx = sv_cuda_current();
    if (!ctx || !a || !n) return;
    adamw_kernel<<<sv_blocks_for(ctx, n, 256), 256, 0, ctx->stream>>>(
        w, g, m, v, n, a->clip, a->decay, a->b1, a->b2, a->eps, a->step_size, a->bc2_sqrt);
    SV_LAUNCH_OK(ctx, "adamw");
}

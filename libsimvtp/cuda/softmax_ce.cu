/* cuda/softmax_ce.cu — row-wise softmax cross-entropy on the GPU, the
 * numerics of cpu/softmax_ce.c: one block per row; max, then p = exp(x - max)
 * with the row sum in double (block reduction in a fixed order), then
 * p *= 1/sum; loss = log(sum) - (x[t] - max) for a target t in [0, V), else
 * 0 (ignored rows, target < 0, still get their probabilities written). The
 * backward adds (p - onehot(t)) * dloss[m] into dlogits for non-ignored rows
 * in the CPU's order (p*g first, then -g at the target). Both may run in
 * place (core/backend.h): the forward reads the target's logit before any
 * probability is written, the backward then overwrites instead of adding. */
#ifdef SV_CUDA_EMULATE
/* compiled by a C++ compiler for tests/cuda/emu (the kernels on the CPU) */
#include "simt_emu.h"
#include "cuda/warp_reduce.cuh"
#else
#include "cuda/cuda_ops.cuh"
#endif

#define CE_THREADS 512

__global__ void __launch_bounds__(CE_THREADS)
softmax_ce_fwd_kernel(float *losses, float *probs, const float *logits, const int32_t *targets,
                      int M, int V)
{
    __shared__ float shf[33];
    __shared__ double shd[33];
    for (int m = blockIdx.x; m < M; m += gridDim.x) {
        const float *x = logits + (size_t)m * V;
        float *p = probs + (size_t)m * V;
        float mx = -INFINITY;
        for (int v = threadIdx.x; v < V; v += blockDim.x) mx = fmaxf(mx, x[v]);
        /* the target's logit, read before any thread writes p (p may be x):
         * the block reduction below is a barrier every thread passes */
        const int32_t t = targets[m];
        const float xt = (threadIdx.x == 0 && t >= 0 && t < V) ? x[t] : 0.0f;
        mx = sv_block_max(mx, shf);
        double sum = 0.0;
        for (int v = threadIdx.x; v < V; v += blockDim.x) {
            const float e = expf(x[v] - mx);
            p[v] = e;
            sum += (double)e;
        }
        sum = sv_block_sum(sum, shd);
        const float inv = (float)(1.0 / sum);
        /* each thread rescales exactly the elements it wrote */
        for (int v = threadIdx.x; v < V; v += blockDim.x) p[v] *= inv;
        if (threadIdx.x == 0) losses[m] = (t < 0 || t >= V) ? 0.0f : (float)(log(sum) - (double)(xt - mx));
    }
}

__global__ void softmax_ce_bwd_kernel(float *dlogits, const float *probs, const int32_t *targets,
                                      const float *dlosses, int M, int V)
{
    const int inplace = dlogits == probs; /* overwrite instead of add */
    for (int m = blockIdx.y; m < M; m += gridDim.y) {
        const int32_t t = targets[m];
        float *d = dlogits + (size_t)m * V;
        const int ignored = t < 0 || t >= V;
        if (ignored && !inplace) continue;
        const float g = ignored ? 0.0f : dlosses[m];
        const float *p = probs + (size_t)m * V;
        for (int v = blockIdx.x * blockDim.x + threadIdx.x; v < V; v += gridDim.x * blockDim.x) {
            if (ignored) {
                d[v] = 0.0f;
                continue;
            }
            float val = inplace ? p[v] * g : d[v] + p[v] * g;
            if (v == t) val -= g;
            d[v] = val;
        }
    }
}

#ifndef SV_CUDA_EMULATE
void sv_cuda_softmax_ce_fwd(float *losses, float *probs, const float *logits,
                            const int32_t *targets, int M, int V)
{
    sv_cuda_ctx *ctx = sv_cuda_current();
    if (!ctx || M <= 0 || V <= 0) return;
    const unsigned grid = sv_min_u((size_t)M, (size_t)ctx->sm_count * 16);
    softmax_ce_fwd_kernel<<<grid, CE_THREADS, 0, ctx->stream>>>(losses, probs, logits, targets, M, V);
    SV_LAUNCH_OK(ctx, "softmax_ce_fwd");
}

void sv_cuda_softmax_ce_bwd(float *dlogits, const float *probs, const int32_t *targets,
                            const float *dlosses, int M, int V)
{
    sv_cuda_ctx *ctx = sv_cuda_current();
    if (!ctx || !dlogits || M <= 0 || V <= 0) return;
    dim3 grid(sv_min_u(((size_t)V + 255) / 256, 128), sv_min_u((size_t)M, 65535));
    softmax_ce_bwd_kernel<<<grid, 256, 0, ctx->stream>>>(dlogits, probs, targets, dlosses, M, V);
    SV_LAUNCH_OK(ctx, "softmax_ce_bwd");
}
#endif /* SV_CUDA_EMULATE */

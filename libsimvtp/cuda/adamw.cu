/* cuda/adamw.cu — the optimizer's ops on the GPU: the sum of squares of the
 * gradients (double, deterministic, through mse.cu's reduction; NaN/Inf
 * propagate) and the fused AdamW update of sv_adamw_args, elementwise, per
 * array or over many runs of one in a launch (adamw_runs):
 *   g' = g clip;  w *= decay;  m = b1 m + (1-b1) g';  v = b2 v + (1-b2) g'^2;
 *   w -= step_size m / (sqrt(v) / bc2_sqrt + eps)
 * (IEEE sqrt and division: the library is built without fast-math). */
#include "cuda/adamw_runs.cuh"
#include "cuda/cuda_ops.cuh"

__global__ void adamw_kernel(float *w, const float *g, float *m, float *v, size_t n, float clip,
                             float decay, float b1, float b2, float eps, float step_size,
                             float bc2_sqrt)
{
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x)
        adamw_elem(w, g, m, v, i, clip, decay, b1, b2, eps, step_size, bc2_sqrt);
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

void sv_cuda_adamw_runs(float *w, const float *g, float *m, float *v, const sv_adamw_run *runs,
                        int nruns, const sv_adamw_args *a)
{
    sv_cuda_ctx *ctx = sv_cuda_current();
    if (!ctx || !a) return;
    for (int r0 = 0; r0 < nruns;) {
        adamw_table t;
        size_t blocks;
        const int k = adamw_table_fill(&t, runs + r0, nruns - r0, &blocks);
        if (k == 0) { /* one run past the grid's limit: the grid-stride kernel */
            sv_adamw_args ar = *a;
            ar.decay = runs[r0].decay ? a->decay : 1.0f;
            const size_t o = runs[r0].off;
            sv_cuda_adamw(w + o, g + o, m + o, v + o, runs[r0].n, &ar);
            r0++;
            continue;
        }
        r0 += k;
        if (!blocks) continue;
        adamw_runs_kernel<<<(unsigned)blocks, ADAMW_THREADS, 0, ctx->stream>>>(
            w, g, m, v, t, a->clip, a->decay, a->b1, a->b2, a->eps, a->step_size, a->bc2_sqrt);
        if (!SV_LAUNCH_OK(ctx, "adamw_runs")) return;
    }
}

/* cuda/adamw.cu — the optimizer's ops on the GPU: the sum of squares of the
 * gradients (double, deterministic, through mse.cu's reduction; NaN/Inf
 * propagate) and the fused AdamW update of sv_adamw_args, elementwise, per
 * array or over many runs of one in a launch (adamw_runs):
 *   g' = g clip;  w *= decay;  m = b1 m + (1-b1) g';  v = b2 v + (1-b2) g'^2;
 *   w -= step_size m / (sqrt(v) / bc2_sqrt + eps)
 * (IEEE sqrt and division: the library is built without fast-math). */
#include "cuda/cuda_ops.cuh"

/* the update of one value (both kernels: the same bits however the
 * parameters are cut into launches) */
__device__ __forceinline__ void adamw_elem(float *w, const float *g, float *m, float *v, size_t i,
                                           float clip, float decay, float b1, float b2, float eps,
                                           float step_size, float bc2_sqrt)
{
    const float gi = g[i] * clip;
    const float wi = w[i] * decay;
    const float mi = b1 * m[i] + (1.0f - b1) * gi;
    const float vi = b2 * v[i] + (1.0f - b2) * gi * gi;
    const float denom = sqrtf(vi) / bc2_sqrt + eps;
    m[i] = mi;
    v[i] = vi;
    w[i] = wi - step_size * mi / denom;
}

__global__ void adamw_kernel(float *w, const float *g, float *m, float *v, size_t n, float clip,
                             float decay, float b1, float b2, float eps, float step_size,
                             float bc2_sqrt)
{
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x)
        adamw_elem(w, g, m, v, i, clip, decay, b1, b2, eps, step_size, bc2_sqrt);
}

/* Up to ADAMW_RUNS runs in one launch, passed by value (about 2.6 KB of
 * kernel parameters): run r covers blocks first[r] .. first[r+1]-1, each
 * block ADAMW_CHUNK values of it. */
#define ADAMW_RUNS 128
#define ADAMW_THREADS 256
#define ADAMW_CHUNK (ADAMW_THREADS * 8)

struct adamw_table {
    size_t off[ADAMW_RUNS], n[ADAMW_RUNS];
    unsigned first[ADAMW_RUNS + 1];
    unsigned char decay[ADAMW_RUNS];
    int nruns;
};

__global__ void __launch_bounds__(ADAMW_THREADS)
adamw_runs_kernel(float *w, const float *g, float *m, float *v, const __grid_constant__ adamw_table t,
                  float clip, float decay, float b1, float b2, float eps, float step_size, float bc2_sqrt)
{
    int lo = 0, hi = t.nruns - 1; /* the last run whose first block is <= this one */
    while (lo < hi) {
        const int mid = (lo + hi + 1) >> 1;
        if (t.first[mid] <= blockIdx.x) lo = mid;
        else hi = mid - 1;
    }
    const size_t begin = t.off[lo] + (size_t)(blockIdx.x - t.first[lo]) * ADAMW_CHUNK;
    const size_t stop = t.off[lo] + t.n[lo], end = begin + ADAMW_CHUNK < stop ? begin + ADAMW_CHUNK : stop;
    const float d = t.decay[lo] ? decay : 1.0f;
    for (size_t i = begin + threadIdx.x; i < end; i += ADAMW_THREADS)
        adamw_elem(w, g, m, v, i, clip, d, b1, b2, eps, step_size, bc2_sqrt);
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
        size_t blocks = 0;
        int k = 0;
        for (; k < ADAMW_RUNS && r0 + k < nruns; k++) {
            const size_t nb = (runs[r0 + k].n + ADAMW_CHUNK - 1) / ADAMW_CHUNK;
            if (blocks + nb > 0x7fffffffu) break; /* the grid's x limit: the rest in the next launch */
            t.off[k] = runs[r0 + k].off;
            t.n[k] = runs[r0 + k].n;
            t.decay[k] = runs[r0 + k].decay != 0;
            t.first[k] = (unsigned)blocks;
            blocks += nb;
        }
        if (k == 0) { /* one run past the grid's limit alone */
            sv_adamw_args ar = *a;
            ar.decay = runs[r0].decay ? a->decay : 1.0f;
            sv_cuda_adamw(w + runs[r0].off, g + runs[r0].off, m + runs[r0].off, v + runs[r0].off, runs[r0].n, &ar);
            r0++;
            continue;
        }
        t.first[k] = (unsigned)blocks;
        t.nruns = k;
        r0 += k;
        if (!blocks) continue;
        adamw_runs_kernel<<<(unsigned)blocks, ADAMW_THREADS, 0, ctx->stream>>>(
            w, g, m, v, t, a->clip, a->decay, a->b1, a->b2, a->eps, a->step_size, a->bc2_sqrt);
        if (!SV_LAUNCH_OK(ctx, "adamw_runs")) return;
    }
}

/* cuda/mse.cu — the masked-tubelet reconstruction loss on the GPU and the
 * deterministic sum-of-squares reduction it shares with the optimizer's
 * global gradient norm (adamw.cu): a fixed grid (its size depends on n
 * only, not on the device) of blocks each sum a grid-stride slice in double,
 * block partials go to scratch, one block sums them in a fixed order, and
 * the double comes back to the host after a stream sync. mse_fwd returns
 * (float)(sum / n), mse_bwd adds 2 (pred - target) / n * dloss (or, in
 * place, writes it over pred). */
#include "cuda/cuda_ops.cuh"

#define SQ_THREADS 256
#define SQ_MAX_BLOCKS 1024

__global__ void __launch_bounds__(SQ_THREADS)
sum_sq_partial_kernel(const float *a, const float *b, size_t n, double *partial)
{
    __shared__ double sh[33];
    double acc = 0.0;
    for (size_t i = (size_t)blockIdx.x * SQ_THREADS + threadIdx.x; i < n;
         i += (size_t)gridDim.x * SQ_THREADS) {
        const double d = b ? (double)a[i] - (double)b[i] : (double)a[i];
        acc += d * d;
    }
    acc = sv_block_sum(acc, sh);
    if (threadIdx.x == 0) partial[blockIdx.x] = acc;
}

__global__ void __launch_bounds__(SQ_MAX_BLOCKS)
sum_final_kernel(const double *partial, int nblocks, double *out)
{
    __shared__ double sh[33];
    double v = (int)threadIdx.x < nblocks ? partial[threadIdx.x] : 0.0;
    v = sv_block_sum(v, sh);
    if (threadIdx.x == 0) *out = v;
}

double sv_cuda_sum_sq(sv_cuda_ctx *ctx, const float *a, const float *b, size_t n, const char *op)
{
    if (!n) return 0.0;
    const size_t want = (n + SQ_THREADS * 4 - 1) / (SQ_THREADS * 4);
    const int nblocks = (int)(want < SQ_MAX_BLOCKS ? want : SQ_MAX_BLOCKS);
    double *buf = (double *)sv_cuda_scratch(ctx, (SQ_MAX_BLOCKS + 1) * sizeof(double), op, 1);
    if (!buf) return NAN;
    double result = NAN;
    sum_sq_partial_kernel<<<nblocks, SQ_THREADS, 0, ctx->stream>>>(a, b, n, buf);
    if (SV_LAUNCH_OK(ctx, op)) {
        sum_final_kernel<<<1, SQ_MAX_BLOCKS, 0, ctx->stream>>>(buf, nblocks, buf + SQ_MAX_BLOCKS);
        if (SV_LAUNCH_OK(ctx, op) &&
            sv_cuda_ok(ctx, cudaMemcpyAsync(&result, buf + SQ_MAX_BLOCKS, sizeof result,
                                            cudaMemcpyDeviceToHost, ctx->stream),
                       op, "cudaMemcpyAsync") &&
            !sv_cuda_ok(ctx, sv_cuda_wait(ctx->stream), op, "cudaStreamSynchronize"))
            result = NAN;
    }
    sv_cuda_scratch_free(ctx, buf);
    return result;
}

float sv_cuda_mse_fwd(const float *pred, const float *target, size_t M, size_t C)
{
    sv_cuda_ctx *ctx = sv_cuda_current();
    const size_t n = M * C;
    if (!ctx) return NAN;
    if (n == 0) return 0.0f;
    const double acc = sv_cuda_sum_sq(ctx, pred, target, n, "mse_fwd");
    return (float)(acc / (double)n);
}

/* in place (dpred == pred): each element is read, then written by its one
 * thread, 0 + the term as on a zeroed buffer (core/backend.h) */
__global__ void mse_bwd_kernel(float *dpred, const float *pred, const float *target, size_t n,
                               float k, int inplace)
{
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x) {
        const float d = __fmul_rn(k, __fsub_rn(pred[i], target[i]));
        dpred[i] = __fadd_rn(inplace ? 0.0f : dpred[i], d);
    }
}

void sv_cuda_mse_bwd(float *dpred, const float *pred, const float *target, size_t M, size_t C,
                     float dloss)
{
    sv_cuda_ctx *ctx = sv_cuda_current();
    const size_t n = M * C;
    if (!ctx || !dpred || n == 0) return;
    const float k = 2.0f * dloss / (float)n;
    mse_bwd_kernel<<<sv_blocks_for(ctx, n, 256), 256, 0, ctx->stream>>>(dpred, pred, target, n, k,
                                                                         dpred == pred);
    SV_LAUNCH_OK(ctx, "mse_bwd");
}

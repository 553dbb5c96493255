/* cuda/pool.cu — masked mean pooling over tokens and row-wise L2
 * normalization on the GPU (the retrieval embedding head), the numerics of
 * cpu/pool.c:
 *   meanpool: out[b,c] = (sum over valid n of inp[b,n,c]) * (1/count), one
 *             thread per (b,c) summing the rows in order (bit-identical to
 *             the CPU); no valid row gives 0;
 *   l2norm:   out = x / max(||x||, 1e-8) with ||x|| from a double sum of
 *             squares; norm[m] saves the true norm (before the floor); one
 *             warp per row. */
#include "cuda/cuda_ops.cuh"

#define SV_L2_MIN_NORM 1e-8f
#define MP_ROWS 16   /* token rows per block in the meanpool backward */

__global__ void meanpool_fwd_kernel(float *out, const float *inp, const uint8_t *valid, int B,
                                    int N, int C)
{
    for (int b = blockIdx.y; b < B; b += gridDim.y) {
        const uint8_t *vb = valid ? valid + (size_t)b * N : NULL;
        for (int c = blockIdx.x * blockDim.x + threadIdx.x; c < C; c += gridDim.x * blockDim.x) {
            float acc = 0.0f;
            int cnt = 0;
            for (int n = 0; n < N; n++) {
                if (vb && !vb[n]) continue;
                acc += inp[((size_t)b * N + n) * C + c];
                cnt++;
            }
            out[(size_t)b * C + c] = cnt ? acc * (1.0f / (float)cnt) : 0.0f;
        }
    }
}

/* Block (x: chunk of MP_ROWS token rows, y: sample b): counts the valid rows
 * of sample b (block reduction of integers), then dinp[b,n,:] += dout[b,:]/cnt
 * for its valid rows. */
__global__ void meanpool_bwd_kernel(float *dinp, const float *dout, const uint8_t *valid, int B,
                                    int N, int C)
{
    __shared__ int shi[33];
    for (int b = blockIdx.y; b < B; b += gridDim.y) {
        const uint8_t *vb = valid ? valid + (size_t)b * N : NULL;
        int cnt = N;
        if (vb) {
            int k = 0;
            for (int n = threadIdx.x; n < N; n += blockDim.x) k += vb[n] != 0;
            cnt = sv_block_sum(k, shi);
        }
        if (cnt == 0) continue;   /* uniform over the block */
        const float inv = 1.0f / (float)cnt;
        const float *g = dout + (size_t)b * C;
        for (int n0 = blockIdx.x * MP_ROWS; n0 < N; n0 += gridDim.x * MP_ROWS) {
            const int n1 = n0 + MP_ROWS < N ? n0 + MP_ROWS : N;
            for (int n = n0; n < n1; n++) {
                if (vb && !vb[n]) continue;
                float *dx = dinp + ((size_t)b * N + n) * C;
                for (int c = threadIdx.x; c < C; c += blockDim.x) dx[c] += g[c] * inv;
            }
        }
    }
}

#define L2_WARPS 4

__global__ void __launch_bounds__(L2_WARPS * 32)
l2norm_fwd_kernel(float *out, float *norm, const float *inp, int M, int C)
{
    const int lane = threadIdx.x & 31;
    const long nwarps = (long)gridDim.x * L2_WARPS;
    for (long m = (long)blockIdx.x * L2_WARPS + (threadIdx.x >> 5); m < M; m += nwarps) {
        const float *x = inp + (size_t)m * C;
        float *y = out + (size_t)m * C;
        double ss = 0.0;
        for (int c = lane; c < C; c += 32) ss += (double)x[c] * (double)x[c];
        ss = sv_warp_sum(ss);
        const float nrm = (float)sqrt(ss);
        const float inv = 1.0f / (nrm > SV_L2_MIN_NORM ? nrm : SV_L2_MIN_NORM);
        for (int c = lane; c < C; c += 32) y[c] = x[c] * inv;
        if (lane == 0 && norm) norm[m] = nrm;
    }
}

__global__ void __launch_bounds__(L2_WARPS * 32)
l2norm_bwd_kernel(float *dinp, const float *dout, const float *inp, const float *norm, int M, int C)
{
    const int lane = threadIdx.x & 31;
    const long nwarps = (long)gridDim.x * L2_WARPS;
    for (long m = (long)blockIdx.x * L2_WARPS + (threadIdx.x >> 5); m < M; m += nwarps) {
        const float *x = inp + (size_t)m * C;
        const float *dy = dout + (size_t)m * C;
        float *dx = dinp + (size_t)m * C;
        const float nrm = norm[m];
        if (nrm > SV_L2_MIN_NORM) {
            /* y = x/n: dx = dy/n - x (x.dy)/n^3 */
            const float inv = 1.0f / nrm;
            float dot = 0.0f;
            for (int c = lane; c < C; c += 32) dot += x[c] * dy[c];
            dot = sv_warp_sum(dot);
            const float k = dot * inv * inv * inv;
            for (int c = lane; c < C; c += 32) dx[c] += dy[c] * inv - x[c] * k;
        } else {
            const float inv = 1.0f / SV_L2_MIN_NORM;
            for (int c = lane; c < C; c += 32) dx[c] += dy[c] * inv;
        }
    }
}

void sv_cuda_meanpool_fwd(float *out, const float *inp, const uint8_t *valid, int B, int N, int C)
{
    sv_cuda_ctx *ctx = sv_cuda_current();
    if (!ctx || B <= 0 || C <= 0) return;
    if (N <= 0) {
        sv_cuda_ok(ctx, cudaMemsetAsync(out, 0, (size_t)B * C * sizeof(float), ctx->stream),
                   "meanpool_fwd", "cudaMemsetAsync");
        return;
    }
    dim3 grid(sv_min_u(((size_t)C + 127) / 128, 64), sv_min_u((size_t)B, 65535));
    meanpool_fwd_kernel<<<grid, 128, 0, ctx->stream>>>(out, inp, valid, B, N, C);
    SV_LAUNCH_OK(ctx, "meanpool_fwd");
}

void sv_cuda_meanpool_bwd(float *dinp, const float *dout, const uint8_t *valid, int B, int N, int C)
{
    sv_cuda_ctx *ctx = sv_cuda_current();
    if (!ctx || !dinp || B <= 0 || N <= 0 || C <= 0) return;
    dim3 grid(sv_min_u(((size_t)N + MP_ROWS - 1) / MP_ROWS, 1024), sv_min_u((size_t)B, 65535));
    meanpool_bwd_kernel<<<grid, 256, 0, ctx->stream>>>(dinp, dout, valid, B, N, C);
    SV_LAUNCH_OK(ctx, "meanpool_bwd");
}

void sv_cuda_l2norm_fwd(float *out, float *norm, const float *inp, int M, int C)
{
    sv_cuda_ctx *ctx = sv_cuda_current();
    if (!ctx || M <= 0 || C < 0) return;
    const unsigned grid = sv_min_u(((size_t)M + L2_WARPS - 1) / L2_WARPS, (size_t)ctx->sm_count * 32);
    l2norm_fwd_kernel<<<grid, L2_WARPS * 32, 0, ctx->stream>>>(out, norm, inp, M, C);
    SV_LAUNCH_OK(ctx, "l2norm_fwd");
}

void sv_cuda_l2norm_bwd(float *dinp, const float *dout, const float *inp, const float *norm,
                        int M, int C)
{
    sv_cuda_ctx *ctx = sv_cuda_current();
    if (!ctx || !dinp || M <= 0 || C <= 0) return;
    const unsigned grid = sv_min_u(((size_t)M + L2_WARPS - 1) / L2_WARPS, (size_t)ctx->sm_count * 32);
    l2norm_bwd_kernel<<<grid, L2_WARPS * 32, 0, ctx->stream>>>(dinp, dout, inp, norm, M, C);
    SV_LAUNCH_OK(ctx, "l2norm_bwd");
}

/* cuda/elementwise.cu — the small elementwise ops of the graph on the GPU:
 * y += x, out = a*b, y *= s, the residual add with per-sample scales
 * (drop path), per-sample row scaling and the 2-D transpose. Grid-stride
 * loops with 64-bit indices; the per-sample ops put the sample on gridDim.y
 * so no element needs an index division. */
#include "cuda/cuda_ops.cuh"
#include "cuda/ln_rows.cuh" /* sv_residual_elem */

__global__ void add_kernel(float *y, const float *x, size_t n)
{
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x)
        y[i] += x[i];
}

__global__ void mul_kernel(float *out, const float *a, const float *b, size_t n)
{
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x)
        out[i] = a[i] * b[i];
}

__global__ void scale_kernel(float *y, float s, size_t n)
{
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x)
        y[i] *= s;
}

/* Sample b covers nc = N*C consecutive floats. mode 0: y = x + s_b y;
 * mode 1: out = s_b in (y is out, x is in). */
__global__ void rowscale_kernel(float *y, const float *x, const float *rowscale, int B, size_t nc,
                                int mode)
{
    for (int b = blockIdx.y; b < B; b += gridDim.y) {
        const float s = rowscale ? rowscale[b] : 1.0f;
        float *yb = y + (size_t)b * nc;
        const float *xb = x + (size_t)b * nc;
        for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < nc;
             i += (size_t)gridDim.x * blockDim.x) {
            if (mode == 0) yb[i] = sv_residual_elem(xb[i], s, yb[i]);
            else yb[i] = s * xb[i];
        }
    }
}

/* out[C,R] = in[R,C]^T through 32x32 shared tiles (block 32x8), one tile
 * per block step. */
__global__ void transpose_kernel(float *out, const float *in, int R, int C)
{
    __shared__ float tile[32][33];
    const long tiles_c = (C + 31) / 32, tiles = (long)((R + 31) / 32) * tiles_c;
    const int tx = threadIdx.x, ty = threadIdx.y;
    for (long t = blockIdx.x; t < tiles; t += gridDim.x) {
        const int r0 = (int)(t / tiles_c) * 32, c0 = (int)(t % tiles_c) * 32;
        for (int k = ty; k < 32; k += 8) {
            const int r = r0 + k, c = c0 + tx;
            if (r < R && c < C) tile[k][tx] = in[(size_t)r * C + c];
        }
        __syncthreads();
        for (int k = ty; k < 32; k += 8) {
            const int c = c0 + k, r = r0 + tx;
            if (r < R && c < C) out[(size_t)c * R + r] = tile[tx][k];
        }
        __syncthreads();
    }
}

void sv_cuda_add(float *y, const float *x, size_t n)
{
    sv_cuda_ctx *ctx = sv_cuda_current();
    if (!ctx || !n) return;
    add_kernel<<<sv_blocks_for(ctx, n, 256), 256, 0, ctx->stream>>>(y, x, n);
    SV_LAUNCH_OK(ctx, "add");
}

void sv_cuda_mul(float *out, const float *a, const float *b, size_t n)
{
    sv_cuda_ctx *ctx = sv_cuda_current();
    if (!ctx || !n) return;
    mul_kernel<<<sv_blocks_for(ctx, n, 256), 256, 0, ctx->stream>>>(out, a, b, n);
    SV_LAUNCH_OK(ctx, "mul");
}

void sv_cuda_scale(float *y, float s, size_t n)
{
    sv_cuda_ctx *ctx = sv_cuda_current();
    if (!ctx || !n) return;
    scale_kernel<<<sv_blocks_for(ctx, n, 256), 256, 0, ctx->stream>>>(y, s, n);
    SV_LAUNCH_OK(ctx, "scale");
}

static void rowscale_launch(float *y, const float *x, const float *rowscale, int B, int N, int C,
                            int mode, const char *op)
{
    sv_cuda_ctx *ctx = sv_cuda_current();
    if (!ctx || B <= 0 || N <= 0 || C <= 0) return;
    const size_t nc = (size_t)N * C;
    const unsigned gy = sv_min_u((size_t)B, 65535);
    unsigned gx = sv_blocks_for(ctx, nc, 256) / gy;
    if (gx < 1) gx = 1;
    rowscale_kernel<<<dim3(gx, gy), 256, 0, ctx->stream>>>(y, x, rowscale, B, nc, mode);
    SV_LAUNCH_OK(ctx, op);
}

void sv_cuda_residual(float *y, const float *x, const float *rowscale, int B, int N, int C)
{
    rowscale_launch(y, x, rowscale, B, N, C, 0, "residual");
}

void sv_cuda_scale_rows(float *out, const float *in, const float *rowscale, int B, int N, int C)
{
    rowscale_launch(out, in, rowscale, B, N, C, 1, "scale_rows");
}

void sv_cuda_transpose(float *out, const float *in, int R, int C)
{
    sv_cuda_ctx *ctx = sv_cuda_current();
    if (!ctx || R <= 0 || C <= 0) return;
    const size_t tiles = (size_t)((R + 31) / 32) * (size_t)((C + 31) / 32);
    const unsigned grid = sv_min_u(tiles, (size_t)ctx->sm_count * 16);
    transpose_kernel<<<grid ? grid : 1, dim3(32, 8), 0, ctx->stream>>>(out, in, R, C);
    SV_LAUNCH_OK(ctx, "transpose");
}

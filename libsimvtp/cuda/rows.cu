/* cuda/rows.cu — row moves of the model graph on the GPU: indexed row copies
 * and adds (distinct destinations, so no two threads touch one element),
 * and the segmented sum with repeated destinations (embedding-gradient
 * scatter), where one thread owns one column of one segment and adds the
 * segment's rows in order starting from the destination's value — the same
 * float operations in the same order as cpu/rows.c, so the result is
 * bit-identical to the CPU's. Rows go on gridDim.y (looped past 65535),
 * columns on x. */
#include "cuda/cuda_ops.cuh"

/* mode 0: dst[d(i),:] = src[s(i),:]; mode 1: dst[d(i),:] += src[s(i),:] */
__global__ void rows_kernel(float *dst, const int32_t *didx, const float *src,
                            const int32_t *sidx, int n, int C, int mode)
{
    for (int i = blockIdx.y; i < n; i += gridDim.y) {
        const size_t d = didx ? (size_t)didx[i] : (size_t)i;
        const size_t s = sidx ? (size_t)sidx[i] : (size_t)i;
        float *o = dst + d * C;
        const float *x = src + s * C;
        for (int c = blockIdx.x * blockDim.x + threadIdx.x; c < C; c += gridDim.x * blockDim.x) {
            if (mode == 0) o[c] = x[c];
            else o[c] += x[c];
        }
    }
}

__global__ void rows_add_seg_kernel(float *dst, const int32_t *seg_dst, const int32_t *seg_off,
                                    const int32_t *rows, int nseg, const float *src, int C)
{
    for (int s = blockIdx.y; s < nseg; s += gridDim.y) {
        const int k0 = seg_off[s], k1 = seg_off[s + 1];
        float *o = dst + (size_t)seg_dst[s] * C;
        for (int c = blockIdx.x * blockDim.x + threadIdx.x; c < C; c += gridDim.x * blockDim.x) {
            float acc = o[c];
            for (int k = k0; k < k1; k++) {
                const size_t r = rows ? (size_t)rows[k] : (size_t)k;
                acc += src[r * C + c];
            }
            o[c] = acc;
        }
    }
}

#define SEG_SPLIT_MAX 256   /* split segments when there are at most this many */
#define SEG_SPLIT_ROWS 2048 /* chunks over all segments (nseg * nchunk)     */

/* partial[s*nchunk + j, c] = sum of chunk j of segment s (rows in order) */
__global__ void rows_seg_partial_kernel(float *partial, const int32_t *seg_off,
                                        const int32_t *rows, int nchunk, const float *src, int C)
{
    const int s = blockIdx.y / nchunk, j = blockIdx.y % nchunk;
    const int k0 = seg_off[s], len = seg_off[s + 1] - k0;
    const int a = k0 + (int)((long long)len * j / nchunk), b = k0 + (int)((long long)len * (j + 1) / nchunk);
    for (int c = blockIdx.x * blockDim.x + threadIdx.x; c < C; c += gridDim.x * blockDim.x) {
        float acc = 0.0f;
        for (int k = a; k < b; k++) {
            const size_t r = rows ? (size_t)rows[k] : (size_t)k;
            acc += src[r * C + c];
        }
        partial[(size_t)blockIdx.y * C + c] = acc;
    }
}

/* dst[seg_dst[s], c] += partial[s*nchunk + 0 .. nchunk-1, c], in order */
__global__ void rows_seg_final_kernel(float *dst, const int32_t *seg_dst, const float *partial,
                                      int nchunk, int C)
{
    const int s = blockIdx.y;
    float *o = dst + (size_t)seg_dst[s] * C;
    for (int c = blockIdx.x * blockDim.x + threadIdx.x; c < C; c += gridDim.x * blockDim.x) {
        float acc = o[c];
        for (int j = 0; j < nchunk; j++) acc += partial[((size_t)s * nchunk + j) * C + c];
        o[c] = acc;
    }
}

static dim3 rows_grid(int nrows, int C)
{
    return dim3(sv_min_u(((size_t)C + 127) / 128, 64), sv_min_u((size_t)nrows, 65535));
}

static void rows_launch(float *dst, const int32_t *didx, const float *src, const int32_t *sidx,
                        int n, int C, int mode, const char *op)
{
    sv_cuda_ctx *ctx = sv_cuda_current();
    if (!ctx || n <= 0 || C <= 0) return;
    rows_kernel<<<rows_grid(n, C), 128, 0, ctx->stream>>>(dst, didx, src, sidx, n, C, mode);
    SV_LAUNCH_OK(ctx, op);
}

void sv_cuda_rows_copy(float *dst, const int32_t *didx, const float *src, const int32_t *sidx,
                       int n, int C)
{
    rows_launch(dst, didx, src, sidx, n, C, 0, "rows_copy");
}

void sv_cuda_rows_add(float *dst, const int32_t *didx, const float *src, const int32_t *sidx,
                      int n, int C)
{
    rows_launch(dst, didx, src, sidx, n, C, 1, "rows_add");
}

void sv_cuda_rows_add_seg(float *dst, const int32_t *seg_dst, const int32_t *seg_off,
                          const int32_t *rows, int nseg, const float *src, int C)
{
    sv_cuda_ctx *ctx = sv_cuda_current();
    if (!ctx || nseg <= 0 || C <= 0) return;
    const int nchunk = nseg <= SEG_SPLIT_MAX ? SEG_SPLIT_ROWS / nseg : 1;
    if (nchunk > 1) {
        const char *op = "rows_add_seg";
        float *partial = (float *)sv_cuda_scratch(ctx, (size_t)nseg * nchunk * C * sizeof(float), op, 1);
        if (!partial) return;
        const unsigned cb = sv_min_u(((size_t)C + 127) / 128, 64);
        rows_seg_partial_kernel<<<dim3(cb, (unsigned)(nseg * nchunk)), 128, 0, ctx->stream>>>(
            partial, seg_off, rows, nchunk, src, C);
        if (SV_LAUNCH_OK(ctx, op)) {
            rows_seg_final_kernel<<<dim3(cb, (unsigned)nseg), 128, 0, ctx->stream>>>(dst, seg_dst, partial,
                                                                                   nchunk, C);
            SV_LAUNCH_OK(ctx, op);
        }
        sv_cuda_scratch_free(ctx, partial);
        return;
    }
    rows_add_seg_kernel<<<rows_grid(nseg, C), 128, 0, ctx->stream>>>(dst, seg_dst, seg_off, rows,
                                                                     nseg, src, C);
    SV_LAUNCH_OK(ctx, "rows_add_seg");
}

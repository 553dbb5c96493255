/* cuda/colsum.cuh — the backward's column sums, deterministic and in one
 * launch: the bias gradient of a product (sum of dout over its rows, with
 * dout's bf16 copy written on the way; for the fc1 product dout can be the
 * GELU backward computed on the fly; cuda/matmul.cu) and a LayerNorm's
 * weight and bias gradients (cuda/layernorm.cu). Blocks of 32 columns x 8
 * row lanes; block (x, y) sums chunk y of the rows (CS_ROWS of them) for
 * column tile x in a fixed order (each lane its rows r0+ty, r0+ty+8, ...,
 * then lanes 0..7 in turn) into partial[y, c]. The last block of a column
 * tile to finish (a counter per tile, re-armed by that block) then adds
 * the tile's partials over the chunks, in chunk order, into the gradient:
 * the sums a separate final kernel made before, bit for bit, one launch
 * fewer. Without counters (NULL) the partials are left for
 * colsum_final_kernel. Also compiled for the CPU by tests/cuda/emu. */
#ifndef SV_CUDA_COLSUM_CUH
#define SV_CUDA_COLSUM_CUH

#ifdef SV_CUDA_EMULATE
#include "simt_emu.h"
#else
#include <cuda_bf16.h>
#endif

#include "cuda/gelu_math.cuh"

#define CS_TX 32       /* columns per block */
#define CS_TY 8        /* row lanes per block */
#define CS_ROWS 256    /* rows per chunk (a multiple of CS_TY) */

/* Called at its end by every thread of a block that has written its
 * partial sums p0[blockIdx.y, c] (and p1[...], or p1 NULL): the last block
 * of column tile blockIdx.x adds sum over chunks j of p0[j, c] into d0[c]
 * (and p1's into d1; a NULL d is skipped), then zeroes the tile's counter
 * for the next launch. counters NULL: nothing. */
static __device__ __forceinline__ void cs_finish(const float *p0, float *d0, const float *p1, float *d1, int N,
                                          unsigned *counters)
{
    __shared__ unsigned cs_last;
    if (!counters) return;
    __threadfence();   /* this block's partials are seen device-wide before it counts itself */
    __syncthreads();
    if (threadIdx.x == 0 && threadIdx.y == 0)
        cs_last = atomicAdd(&counters[blockIdx.x], 1u) == gridDim.y - 1;
    __syncthreads();
    if (!cs_last) return;
    __threadfence();
    const int c = blockIdx.x * CS_TX + threadIdx.x;
    if (threadIdx.y == 0 && c < N) {
        float s0 = 0.0f, s1 = 0.0f;
        for (unsigned j = 0; j < gridDim.y; j++) {
            s0 += __ldcg(p0 + (size_t)j * N + c);   /* L2: written by other SMs */
            if (p1) s1 += __ldcg(p1 + (size_t)j * N + c);
        }
        if (d0) d0[c] += s0;
        if (p1 && d1) d1[c] += s1;
    }
    if (threadIdx.x == 0 && threadIdx.y == 0) counters[blockIdx.x] = 0;
}

/* What a bias gradient sums (value i of row r): dout itself; (the fc1
 * product's backward in the bf16 table) dout = gelu_bwd(h, dg) made on the
 * way and never stored in fp32; or (a drop-path branch) dout with row r
 * scaled by s[r / T], the product scale_rows makes. */
struct cs_plain {
    const float *x;
    __device__ __forceinline__ float operator()(size_t i, long r) const { (void)r; return x[i]; }
};
static __device__ __forceinline__ float cs_widen(float v) { return v; }
static __device__ __forceinline__ float cs_widen(__nv_bfloat16 v) { return __bfloat162float(v); }
template <typename H> /* h in float, or kept in bf16 (core/backend.h h_pin) */
struct cs_gelu_grad {
    const float *dg;
    const H *h;
    __device__ __forceinline__ float operator()(size_t i, long r) const
    {
        (void)r;
        return sv_gelu_grad(cs_widen(h[i]), dg[i]);
    }
};
struct cs_rowscale {
    const float *x, *s;
    long T;
    __device__ __forceinline__ float operator()(size_t i, long r) const { return x[i] * s[r / T]; }
};

/* Bias gradient: dst[c] += sum over rows of x[r, c] (x[i] = load(i, r));
 * x16 (or NULL) receives bf16(x) on the way (the bf16 table's backward
 * needs that copy of dout anyway: one pass over dout instead of two). */
template <typename Load>
static __global__ void colsum_partial_kernel(Load load, int M, int N, int rows_per_chunk,
                                             float *partial, __nv_bfloat16 *x16, float *dst, unsigned *counters)
{
    __shared__ float sh[CS_TY][CS_TX + 1];
    const int tx = threadIdx.x, ty = threadIdx.y;
    const int c = blockIdx.x * CS_TX + tx;
    const long r0 = (long)blockIdx.y * rows_per_chunk;
    const long r1 = r0 + rows_per_chunk < (long)M ? r0 + rows_per_chunk : (long)M;
    float acc = 0.0f;
    if (c < N)
        for (long r = r0 + ty; r < r1; r += CS_TY) {
            const float v = load((size_t)r * N + c, r);
            acc += v;
            if (x16) x16[(size_t)r * N + c] = __float2bfloat16_rn(v);
        }
    sh[ty][tx] = acc;
    __syncthreads();
    if (ty == 0 && c < N) {
        float s = sh[0][tx];
        for (int i = 1; i < CS_TY; i++) s += sh[i][tx];
        partial[(size_t)blockIdx.y * N + c] = s;
    }
    cs_finish(partial, dst, NULL, NULL, N, counters);
}

/* LayerNorm weight and bias gradients: pw[chunk, c] = sum of dy (x - mu) rs,
 * pb[chunk, c] = sum of dy over the chunk's rows; then dw, db (either may
 * be NULL) as above. */
static __global__ void layernorm_bwd_partial_kernel(float *pw, float *pb, const float *dout,
                                             const float *inp, const float *mean,
                                             const float *rstd, int M, int C, int rows_per_chunk,
                                             float *dw, float *db, unsigned *counters)
{
    __shared__ float shw[CS_TY][CS_TX + 1], shb[CS_TY][CS_TX + 1];
    const int tx = threadIdx.x, ty = threadIdx.y;
    const int c = blockIdx.x * CS_TX + tx;
    const long r0 = (long)blockIdx.y * rows_per_chunk;
    const long r1 = r0 + rows_per_chunk < (long)M ? r0 + rows_per_chunk : (long)M;
    float aw = 0.0f, ab = 0.0f;
    if (c < C)
        for (long r = r0 + ty; r < r1; r += CS_TY) {
            const float dy = dout[(size_t)r * C + c];
            aw += dy * (inp[(size_t)r * C + c] - mean[r]) * rstd[r];
            ab += dy;
        }
    shw[ty][tx] = aw;
    shb[ty][tx] = ab;
    __syncthreads();
    if (ty == 0 && c < C) {
        float sw = shw[0][tx], sb = shb[0][tx];
        for (int i = 1; i < CS_TY; i++) {
            sw += shw[i][tx];
            sb += shb[i][tx];
        }
        pw[(size_t)blockIdx.y * C + c] = sw;
        pb[(size_t)blockIdx.y * C + c] = sb;
    }
    cs_finish(pw, dw, pb, db, C, counters);
}

/* The separate second stage (no counters): d0[c] += sum over chunks j of
 * p0[j, c], likewise p1 into d1 (p1 NULL: one array; a NULL d skipped). */
static __global__ void colsum_final_kernel(const float *p0, float *d0, const float *p1, float *d1, int nchunks,
                                    int N)
{
    for (int c = blockIdx.x * blockDim.x + threadIdx.x; c < N; c += gridDim.x * blockDim.x) {
        float s0 = 0.0f, s1 = 0.0f;
        for (int j = 0; j < nchunks; j++) {
            s0 += p0[(size_t)j * N + c];
            if (p1) s1 += p1[(size_t)j * N + c];
        }
        if (d0) d0[c] += s0;
        if (p1 && d1) d1[c] += s1;
    }
}

#endif /* SV_CUDA_COLSUM_CUH */

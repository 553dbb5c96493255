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
 * colsum_final_kernel. The kernels come in two widths (template VEC): one
 * column per thread (blocks of 32 x 8), or four adjacent columns per thread
 * with 16-byte loads (blocks of 8 x 8: the same 32-column tiles, chunks and
 * order of additions per column, so the same bits; for N a multiple of 4
 * and aligned rows, cs_vec_ok). Also compiled for the CPU by tests/cuda/emu. */
#ifndef SV_CUDA_COLSUM_CUH
#define SV_CUDA_COLSUM_CUH

#ifdef SV_CUDA_EMULATE
#include "simt_emu.h"
#else
#include <cuda_bf16.h>
#endif

#include <stdint.h>

#include "cuda/gelu_math.cuh"
#include "cuda/vec4.cuh"

#define CS_TX 32       /* columns per block */
#define CS_TY 8        /* row lanes per block */
#define CS_ROWS 256    /* rows per chunk (a multiple of CS_TY) */
#define CS_VEC 4       /* columns per thread in the wide kernels */


/* Called at its end by every thread of a block that has written its
 * partial sums p0[blockIdx.y, c] (and p1[...], or p1 NULL): the last block
 * of column tile blockIdx.x adds sum over chunks j of p0[j, c] into d0[c]
 * (and p1's into d1; a NULL d is skipped), then zeroes the tile's counter
 * for the next launch. t: the thread's index in its block (threads t <
 * CS_TX do column t of the tile). counters NULL: nothing. */
static __device__ __forceinline__ void cs_finish(const float *p0, float *d0, const float *p1, float *d1, int N,
                                          unsigned *counters, int t)
{
    __shared__ unsigned cs_last;
    if (!counters) return;
    __threadfence();   /* this block's partials are seen device-wide before it counts itself */
    __syncthreads();
    if (t == 0)
        cs_last = atomicAdd(&counters[blockIdx.x], 1u) == gridDim.y - 1;
    __syncthreads();
    if (!cs_last) return;
    __threadfence();
    const int c = blockIdx.x * CS_TX + t;
    if (t < CS_TX && c < N) {
        float s0 = 0.0f, s1 = 0.0f;
        for (unsigned j = 0; j < gridDim.y; j++) {
            s0 += __ldcg(p0 + (size_t)j * N + c);   /* L2: written by other SMs */
            if (p1) s1 += __ldcg(p1 + (size_t)j * N + c);
        }
        if (d0) d0[c] += s0;
        if (p1 && d1) d1[c] += s1;
    }
    if (t == 0) counters[blockIdx.x] = 0;
}

/* What a bias gradient sums (value i of row r): dout itself; (the fc1
 * product's backward in the bf16 table) dout = gelu_bwd(h, dg) made on the
 * way and never stored in fp32; or (a drop-path branch) dout with row r
 * scaled by s[r / T], the product scale_rows makes. */
struct cs_plain {
    const float *x;
    __device__ __forceinline__ float operator()(size_t i, long r) const { (void)r; return x[i]; }
    __device__ __forceinline__ void load4(size_t i, long r, float *v) const
    {
        (void)r;
        sv_load4(x + i, v);
    }
    bool vec_ok() const { return ((uintptr_t)x & 15) == 0; }
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
    __device__ __forceinline__ void load4(size_t i, long r, float *v) const
    {
        (void)r;
        float hv[4], g[4];
        sv_load4(h + i, hv);
        sv_load4(dg + i, g);
        for (int k = 0; k < 4; k++) v[k] = sv_gelu_grad(hv[k], g[k]);
    }
    bool vec_ok() const { return ((uintptr_t)dg & 15) == 0 && ((uintptr_t)h & (4 * sizeof(H) - 1)) == 0; }
};
struct cs_rowscale {
    const float *x, *s;
    long T;
    __device__ __forceinline__ float operator()(size_t i, long r) const { return x[i] * s[r / T]; }
    __device__ __forceinline__ void load4(size_t i, long r, float *v) const
    {
        const float f = s[r / T];
        sv_load4(x + i, v);
        for (int k = 0; k < 4; k++) v[k] *= f;
    }
    bool vec_ok() const { return ((uintptr_t)x & 15) == 0; }
};

/* VEC values of columns i.. of row r */
template <int VEC, typename Load>
static __device__ __forceinline__ void cs_get(const Load &load, size_t i, long r, float *v)
{
    if constexpr (VEC == 4) load.load4(i, r, v);
    else v[0] = load(i, r);
}

/* Whether the wide kernels (VEC = CS_VEC) may read rows of N values at
 * these addresses (x16: the bf16 copy written on the way, or NULL). */
template <typename Load>
static inline bool cs_vec_ok(const Load &load, int N, const void *x16)
{
    return N % CS_VEC == 0 && load.vec_ok() && ((uintptr_t)x16 & 7) == 0;
}

/* Bias gradient: dst[c] += sum over rows of x[r, c] (x[i] = load(i, r));
 * x16 (or NULL) receives bf16(x) on the way (the bf16 table's backward
 * needs that copy of dout anyway: one pass over dout instead of two).
 * Blocks of (CS_TX / VEC) x CS_TY threads. */
template <int VEC, typename Load>
static __global__ void colsum_partial_kernel(Load load, int M, int N, int rows_per_chunk,
                                             float *partial, __nv_bfloat16 *x16, float *dst, unsigned *counters)
{
    __shared__ float sh[CS_TY][CS_TX + 1];
    const int tx = threadIdx.x, ty = threadIdx.y, t = ty * (CS_TX / VEC) + tx;
    const int c = blockIdx.x * CS_TX + tx * VEC; /* this thread's first column */
    const long r0 = (long)blockIdx.y * rows_per_chunk;
    const long r1 = r0 + rows_per_chunk < (long)M ? r0 + rows_per_chunk : (long)M;
    float acc[VEC];
    for (int k = 0; k < VEC; k++) acc[k] = 0.0f;
    if (c < N) { /* VEC 4: N % 4 == 0, so all four columns are there */
#pragma unroll 4
        for (long r = r0 + ty; r < r1; r += CS_TY) {
            const size_t i = (size_t)r * N + c;
            float v[VEC];
            cs_get<VEC>(load, i, r, v);
            for (int k = 0; k < VEC; k++) acc[k] += v[k];
            if (x16) {
                if constexpr (VEC == 4) {
                    sv_store4(x16 + i, v);
                } else {
                    x16[i] = __float2bfloat16_rn(v[0]);
                }
            }
        }
    }
    for (int k = 0; k < VEC; k++) sh[ty][tx * VEC + k] = acc[k];
    __syncthreads();
    const int cc = blockIdx.x * CS_TX + t;
    if (t < CS_TX && cc < N) {
        float s = sh[0][t];
        for (int i = 1; i < CS_TY; i++) s += sh[i][t];
        partial[(size_t)blockIdx.y * N + cc] = s;
    }
    cs_finish(partial, dst, NULL, NULL, N, counters, t);
}

/* LayerNorm weight and bias gradients: pw[chunk, c] = sum of dy (x - mu) rs,
 * pb[chunk, c] = sum of dy over the chunk's rows; then dw, db (either may
 * be NULL) as above. Blocks of (CS_TX / VEC) x CS_TY threads; VEC 4 wants
 * C % 4 == 0 and dout, inp 16-byte aligned. */
template <int VEC>
static __global__ void layernorm_bwd_partial_kernel(float *pw, float *pb, const float *dout,
                                             const float *inp, const float *mean,
                                             const float *rstd, int M, int C, int rows_per_chunk,
                                             float *dw, float *db, unsigned *counters)
{
    __shared__ float shw[CS_TY][CS_TX + 1], shb[CS_TY][CS_TX + 1];
    const int tx = threadIdx.x, ty = threadIdx.y, t = ty * (CS_TX / VEC) + tx;
    const int c = blockIdx.x * CS_TX + tx * VEC;
    const long r0 = (long)blockIdx.y * rows_per_chunk;
    const long r1 = r0 + rows_per_chunk < (long)M ? r0 + rows_per_chunk : (long)M;
    float aw[VEC], ab[VEC];
    for (int k = 0; k < VEC; k++) aw[k] = ab[k] = 0.0f;
    if (c < C) {
#pragma unroll 4
        for (long r = r0 + ty; r < r1; r += CS_TY) {
            const size_t i = (size_t)r * C + c;
            float dy[VEC], x[VEC];
            cs_get<VEC>(cs_plain{dout}, i, r, dy);
            cs_get<VEC>(cs_plain{inp}, i, r, x);
            const float mu = mean[r], rs = rstd[r];
            for (int k = 0; k < VEC; k++) {
                aw[k] += dy[k] * (x[k] - mu) * rs;
                ab[k] += dy[k];
            }
        }
    }
    for (int k = 0; k < VEC; k++) {
        shw[ty][tx * VEC + k] = aw[k];
        shb[ty][tx * VEC + k] = ab[k];
    }
    __syncthreads();
    const int cc = blockIdx.x * CS_TX + t;
    if (t < CS_TX && cc < C) {
        float sw = shw[0][t], sb = shb[0][t];
        for (int i = 1; i < CS_TY; i++) {
            sw += shw[i][t];
            sb += shb[i][t];
        }
        pw[(size_t)blockIdx.y * C + cc] = sw;
        pb[(size_t)blockIdx.y * C + cc] = sb;
    }
    cs_finish(pw, dw, pb, db, C, counters, t);
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

/* cuda/ln_rows.cuh — the LayerNorm forward, one warp per row, alone and
 * fused with the residual add before it (y = x + s_b y, then LN(y): the
 * encoder block's x1 and ln2 in one pass), and the residual's element
 * arithmetic, which elementwise.cu's residual shares so that the fused and
 * the separate kernels give the same bits. Numerics of cpu/layernorm.c:
 * row mean and biased variance in double (butterfly reductions), mean and
 * rstd = 1/sqrt(var + eps) saved as floats. The output is float or bf16 (a
 * product input, core/backend.h pin_bytes: bf16 of the float, rounded to
 * nearest even as to_bf16 rounds). Device code only (also compiled for the
 * CPU by tests/cuda/emu). */
#ifndef SV_CUDA_LN_ROWS_CUH
#define SV_CUDA_LN_ROWS_CUH

#ifdef SV_CUDA_EMULATE
#include "simt_emu.h"
#else
#include <cuda_bf16.h>
#endif

#include "cuda/warp_reduce.cuh"

#define LN_WARPS 4   /* rows (warps) per block in the per-row kernels */

/* one element of the residual add: x + s * y with one rounding */
static __device__ __forceinline__ float sv_residual_elem(float x, float s, float y) { return __fmaf_rn(s, y, x); }

static __device__ __forceinline__ void ln_store(float *p, float v) { *p = v; }
static __device__ __forceinline__ void ln_store(__nv_bfloat16 *p, float v) { *p = __float2bfloat16_rn(v); }

/* LayerNorm of row x[C] into y[C] by the 32 lanes of a warp (lane c
 * handles columns c, c+32, ...); mean/rstd (NULL: not kept) at index m. */
template <typename T>
static __device__ __forceinline__ void ln_row(const float *x, T *y, float *mean, float *rstd, long m,
                                              const float *w, const float *b, int C, float eps, int lane)
{
    double s = 0.0;
    for (int c = lane; c < C; c += 32) s += (double)x[c];
    s = sv_warp_sum(s);
    const double mu = s / C;
    double v = 0.0;
    for (int c = lane; c < C; c += 32) {
        const double d = (double)x[c] - mu;
        v += d * d;
    }
    v = sv_warp_sum(v) / C;
    const float fm = (float)mu;
    const float rs = (float)(1.0 / sqrt(v + (double)eps));
    for (int c = lane; c < C; c += 32) ln_store(&y[c], (x[c] - fm) * rs * w[c] + b[c]);
    if (lane == 0) {
        if (mean) mean[m] = fm;
        if (rstd) rstd[m] = rs;
    }
}

template <typename T>
static __global__ void __launch_bounds__(LN_WARPS * 32)
layernorm_fwd_kernel(T *out, float *mean, float *rstd, const float *inp, const float *w,
                     const float *b, int M, int C, float eps)
{
    const int lane = threadIdx.x & 31;
    const long nwarps = (long)gridDim.x * LN_WARPS;
    for (long m = (long)blockIdx.x * LN_WARPS + (threadIdx.x >> 5); m < M; m += nwarps)
        ln_row(inp + (size_t)m * C, out + (size_t)m * C, mean, rstd, m, w, b, C, eps, lane);
}

/* y[m,:] = x[m,:] + s y[m,:] (s = rowscale[m / N], or 1), then out[m,:] =
 * LN(y[m,:]); each lane reads back only the elements it wrote. */
template <typename T>
static __global__ void __launch_bounds__(LN_WARPS * 32)
residual_layernorm_fwd_kernel(float *y, const float *x, const float *rowscale, int N, T *out, float *mean,
                              float *rstd, const float *w, const float *b, int M, int C, float eps)
{
    const int lane = threadIdx.x & 31;
    const long nwarps = (long)gridDim.x * LN_WARPS;
    for (long m = (long)blockIdx.x * LN_WARPS + (threadIdx.x >> 5); m < M; m += nwarps) {
        const float s = rowscale ? rowscale[m / N] : 1.0f;
        float *yr = y + (size_t)m * C;
        const float *xr = x + (size_t)m * C;
        for (int c = lane; c < C; c += 32) yr[c] = sv_residual_elem(xr[c], s, yr[c]);
        ln_row(yr, out + (size_t)m * C, mean, rstd, m, w, b, C, eps, lane);
    }
}

#endif /* SV_CUDA_LN_ROWS_CUH */

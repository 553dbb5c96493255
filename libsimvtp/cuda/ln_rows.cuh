/* cuda/ln_rows.cuh — the LayerNorm rows, one warp per row: the forward,
 * alone and fused with the residual add before it (y = x + s_b y, then
 * LN(y): the encoder block's x1 and ln2 in one pass), and the backward's
 * input gradient; also the residual's element arithmetic, which
 * elementwise.cu's residual shares so that the fused and the separate
 * kernels give the same bits. Numerics of cpu/layernorm.c: row mean and
 * biased variance in double (butterfly reductions), mean and rstd = 1/sqrt(
 * var + eps) saved as floats. The output is float or bf16 (a product input,
 * core/backend.h pin_bytes: bf16 of the float, rounded to nearest even as
 * to_bf16 rounds). Two lane layouts (template VEC): lane c takes columns c,
 * c+32, ... (any C), or (VEC 4: C a multiple of 128, at most 1024, rows
 * 16-byte aligned; ln_vec_ok) four adjacent columns 4c.., 4c+128.., read
 * once with 16-byte loads and kept in registers; the two add a row's values
 * in other orders, so their bits differ (each is deterministic). Device code
 * only (also compiled for the CPU by tests/cuda/emu). */
#ifndef SV_CUDA_LN_ROWS_CUH
#define SV_CUDA_LN_ROWS_CUH

#ifdef SV_CUDA_EMULATE
#include "simt_emu.h"
#else
#include <cuda_bf16.h>
#endif

#include <stdint.h>

#include "cuda/vec4.cuh"
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

#define LN_VEC_MAXQ 8 /* VEC 4: at most 8 groups of 128 columns (C <= 1024) */

/* the four-column layout: whether C and the rows' addresses allow it */
static inline bool ln_vec_ok(int C, const void *a, const void *b2, const void *c, const void *d)
{
    const uintptr_t m = (uintptr_t)a | (uintptr_t)b2 | (uintptr_t)c | (uintptr_t)d;
    return C > 0 && C % 128 == 0 && C <= 128 * LN_VEC_MAXQ && (m & 15) == 0;
}

static __device__ __forceinline__ float ln_c(const float4 &v, int k) { return k == 0 ? v.x : k == 1 ? v.y : k == 2 ? v.z : v.w; }

/* VEC 4: LayerNorm of the row whose lane values are v[q] (columns 4 lane +
 * 128 q ..+3, q < C/128) into y; mean/rstd (NULL: not kept) at index m */
template <typename T>
static __device__ __forceinline__ void ln_row4(const float4 v[LN_VEC_MAXQ], T *y, float *mean, float *rstd, long m,
                                               const float *w, const float *b, int C, float eps, int lane)
{
    const int nq = C / 128;
    double s = 0.0;
#pragma unroll
    for (int q = 0; q < LN_VEC_MAXQ; q++)
        if (q < nq)
            for (int k = 0; k < 4; k++) s += (double)ln_c(v[q], k);
    s = sv_warp_sum(s);
    const double mu = s / C;
    double var = 0.0;
#pragma unroll
    for (int q = 0; q < LN_VEC_MAXQ; q++)
        if (q < nq)
            for (int k = 0; k < 4; k++) {
                const double d = (double)ln_c(v[q], k) - mu;
                var += d * d;
            }
    var = sv_warp_sum(var) / C;
    const float fm = (float)mu;
    const float rs = (float)(1.0 / sqrt(var + (double)eps));
#pragma unroll
    for (int q = 0; q < LN_VEC_MAXQ; q++)
        if (q < nq) {
            const int c = 4 * lane + 128 * q;
            const float4 wq = *reinterpret_cast<const float4 *>(w + c), bq = *reinterpret_cast<const float4 *>(b + c);
            float o[4];
            for (int k = 0; k < 4; k++) o[k] = (ln_c(v[q], k) - fm) * rs * ln_c(wq, k) + ln_c(bq, k);
            sv_store4(y + c, o);
        }
    if (lane == 0) {
        if (mean) mean[m] = fm;
        if (rstd) rstd[m] = rs;
    }
}

template <typename T, int VEC = 1>
static __global__ void __launch_bounds__(LN_WARPS * 32)
layernorm_fwd_kernel(T *out, float *mean, float *rstd, const float *inp, const float *w,
                     const float *b, int M, int C, float eps)
{
    const int lane = threadIdx.x & 31;
    const long nwarps = (long)gridDim.x * LN_WARPS;
    for (long m = (long)blockIdx.x * LN_WARPS + (threadIdx.x >> 5); m < M; m += nwarps) {
        if constexpr (VEC == 4) {
            const float4 *xr = reinterpret_cast<const float4 *>(inp + (size_t)m * C);
            float4 v[LN_VEC_MAXQ];
#pragma unroll
            for (int q = 0; q < LN_VEC_MAXQ; q++)
                if (q < C / 128) v[q] = xr[lane + 32 * q];
            ln_row4(v, out + (size_t)m * C, mean, rstd, m, w, b, C, eps, lane);
        } else {
            ln_row(inp + (size_t)m * C, out + (size_t)m * C, mean, rstd, m, w, b, C, eps, lane);
        }
    }
}

/* y[m,:] = x[m,:] + s y[m,:] (s = rowscale[m / N], or 1), then out[m,:] =
 * LN(y[m,:]); each lane reads back only the elements it wrote (VEC 4: keeps
 * them in registers). */
template <typename T, int VEC = 1>
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
        if constexpr (VEC == 4) {
            float4 v[LN_VEC_MAXQ];
#pragma unroll
            for (int q = 0; q < LN_VEC_MAXQ; q++)
                if (q < C / 128) {
                    const int c = 4 * lane + 128 * q;
                    const float4 xq = *reinterpret_cast<const float4 *>(xr + c);
                    const float4 yq = *reinterpret_cast<const float4 *>(yr + c);
                    v[q] = make_float4(sv_residual_elem(xq.x, s, yq.x), sv_residual_elem(xq.y, s, yq.y),
                                       sv_residual_elem(xq.z, s, yq.z), sv_residual_elem(xq.w, s, yq.w));
                    *reinterpret_cast<float4 *>(yr + c) = v[q];
                }
            ln_row4(v, out + (size_t)m * C, mean, rstd, m, w, b, C, eps, lane);
        } else {
            for (int c = lane; c < C; c += 32) yr[c] = sv_residual_elem(xr[c], s, yr[c]);
            ln_row(yr, out + (size_t)m * C, mean, rstd, m, w, b, C, eps, lane);
        }
    }
}

/* The backward's input gradient, one warp per row:
 * dx += rs (dn - mean(dn) - xhat mean(dn xhat)), dn = dy w, xhat = (x - mu) rs.
 * VEC 4: the row's x and dy read once into registers (16-byte loads). */
template <int VEC = 1>
static __global__ void __launch_bounds__(LN_WARPS * 32)
layernorm_bwd_dinp_kernel(float *dinp, const float *dout, const float *inp, const float *w,
                          const float *mean, const float *rstd, int M, int C)
{
    const int lane = threadIdx.x & 31;
    const long nwarps = (long)gridDim.x * LN_WARPS;
    for (long m = (long)blockIdx.x * LN_WARPS + (threadIdx.x >> 5); m < M; m += nwarps) {
        const float *x = inp + (size_t)m * C;
        const float *dy = dout + (size_t)m * C;
        float *dx = dinp + (size_t)m * C;
        const float mu = mean[m], rs = rstd[m];
        float s1 = 0.0f, s2 = 0.0f;
        if constexpr (VEC == 4) {
            const int nq = C / 128;
            float4 xv[LN_VEC_MAXQ], dv[LN_VEC_MAXQ];
#pragma unroll
            for (int q = 0; q < LN_VEC_MAXQ; q++)
                if (q < nq) {
                    const int c = 4 * lane + 128 * q;
                    xv[q] = *reinterpret_cast<const float4 *>(x + c);
                    dv[q] = *reinterpret_cast<const float4 *>(dy + c);
                    const float4 wq = *reinterpret_cast<const float4 *>(w + c);
                    for (int k = 0; k < 4; k++) {
                        const float xhat = (ln_c(xv[q], k) - mu) * rs;
                        const float dn = ln_c(dv[q], k) * ln_c(wq, k);
                        s1 += dn;
                        s2 += dn * xhat;
                    }
                }
            s1 = sv_warp_sum(s1) / (float)C;
            s2 = sv_warp_sum(s2) / (float)C;
#pragma unroll
            for (int q = 0; q < LN_VEC_MAXQ; q++)
                if (q < nq) {
                    const int c = 4 * lane + 128 * q;
                    const float4 wq = *reinterpret_cast<const float4 *>(w + c);
                    float4 o = *reinterpret_cast<const float4 *>(dx + c);
                    float r[4] = {o.x, o.y, o.z, o.w};
                    for (int k = 0; k < 4; k++) {
                        const float xhat = (ln_c(xv[q], k) - mu) * rs;
                        const float dn = ln_c(dv[q], k) * ln_c(wq, k);
                        r[k] += rs * (dn - s1 - xhat * s2);
                    }
                    *reinterpret_cast<float4 *>(dx + c) = make_float4(r[0], r[1], r[2], r[3]);
                }
        } else {
            for (int c = lane; c < C; c += 32) {
                const float xhat = (x[c] - mu) * rs;
                const float dn = dy[c] * w[c];
                s1 += dn;
                s2 += dn * xhat;
            }
            s1 = sv_warp_sum(s1) / (float)C;
            s2 = sv_warp_sum(s2) / (float)C;
            for (int c = lane; c < C; c += 32) {
                const float xhat = (x[c] - mu) * rs;
                const float dn = dy[c] * w[c];
                dx[c] += rs * (dn - s1 - xhat * s2);
            }
        }
    }
}

#endif /* SV_CUDA_LN_ROWS_CUH */

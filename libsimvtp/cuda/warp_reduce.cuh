/* cuda/warp_reduce.cuh — sums and maxima over the 32 lanes of a warp by
 * butterfly (xor) shuffles: every lane gets the same bits. Device code
 * only (also compiled for the CPU by tests/cuda/emu). */
#ifndef SV_CUDA_WARP_REDUCE_CUH
#define SV_CUDA_WARP_REDUCE_CUH

template <typename T>
__device__ __forceinline__ T sv_warp_sum(T v)
{
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

__device__ __forceinline__ float sv_warp_max(float v)
{
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

#endif /* SV_CUDA_WARP_REDUCE_CUH */

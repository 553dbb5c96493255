/* cuda/warp_reduce.cuh — sums and maxima over the 32 lanes of a warp by
 * butterfly (xor) shuffles, every lane getting the same bits, and over a
 * block, whose warps' results are combined in a fixed order. Device code
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

/* Sum over the block (blockDim.x a multiple of 32, at most 1024); every
 * thread gets the result. `sh` is shared memory of 33 T; the function
 * synchronizes before reusing it, so calls may follow each other. */
template <typename T>
__device__ __forceinline__ T sv_block_sum(T v, T *sh)
{
    const int lane = threadIdx.x & 31, wid = threadIdx.x >> 5, nw = blockDim.x >> 5;
    v = sv_warp_sum(v);
    __syncthreads();                 /* previous use of sh is over */
    if (lane == 0) sh[wid] = v;
    __syncthreads();
    if (wid == 0) {
        T s = lane < nw ? sh[lane] : (T)0;
        s = sv_warp_sum(s);
        if (lane == 0) sh[32] = s;
    }
    __syncthreads();
    return sh[32];
}

__device__ __forceinline__ float sv_block_max(float v, float *sh)
{
    const int lane = threadIdx.x & 31, wid = threadIdx.x >> 5, nw = blockDim.x >> 5;
    v = sv_warp_max(v);
    __syncthreads();
    if (lane == 0) sh[wid] = v;
    __syncthreads();
    if (wid == 0) {
        float s = lane < nw ? sh[lane] : -INFINITY;
        s = sv_warp_max(s);
        if (lane == 0) sh[32] = s;
    }
    __syncthreads();
    return sh[32];
}

#endif /* SV_CUDA_WARP_REDUCE_CUH */

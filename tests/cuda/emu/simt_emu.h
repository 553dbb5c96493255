/* tests/cuda/emu/simt_emu.h — a small SIMT emulator that runs CUDA kernels
 * of libsimvtp/cuda/ on the CPU, so that CI (no GPU) checks their indexing,
 * fragment layouts, barriers and pipelines. A kernel file compiled by a C++
 * compiler with SV_CUDA_EMULATE defined takes its qualifiers, thread
 * indices and warp-level instructions from here instead of from CUDA:
 *
 *   - every CUDA thread of a block is a coroutine (ucontext) on one OS
 *     thread; blocks run one after the other (in grid order or a random
 *     one), so __shared__ is `static` and atomics are plain updates;
 *   - __syncthreads waits for the whole block; the warp instructions the
 *     kernels use (mma.sync m16n8k16 bf16, ldmatrix x4 [.trans], shfl.xor
 *     of floats and doubles)
 *     wait for the 32 lanes and are then computed from all lanes' operands,
 *     with the fragment layouts of the PTX ISA;
 *   - cp.async either lands at issue (EMU_CP_EAGER) or at the latest moment
 *     its wait_group allows (EMU_CP_LATE): a kernel must be right under
 *     both, which catches a buffer refilled while still read and one read
 *     before its copy is waited for;
 *   - warps advance in lockstep or, with emu_schedule_seed, at random
 *     relative speeds (a missing __syncthreads then lets one warp overwrite
 *     what another still reads).
 *
 * Lanes of a warp that reach different warp instructions, or a block whose
 * threads wait at different barriers forever, stop the run with a message.
 * Numerics: mma products of bf16 pairs are exact in fp32 and summed in k
 * order; ex2.approx is exp2f. Slow (a context switch per lane and
 * instruction): meant for small shapes. */
#ifndef SV_SIMT_EMU_H
#define SV_SIMT_EMU_H

#include <cuda_bf16.h>
#include <vector_functions.h>
#include <vector_types.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>

struct emu_dim3 {
    unsigned x, y, z;
};

/* the running thread's index (threadIdx) */
const emu_dim3 &emu_thread_idx();
extern emu_dim3 emu_block_idx, emu_block_dim, emu_grid_dim;

/* (cuda_bf16.h brings CUDA's own definitions of the qualifiers) */
#undef __global__
#undef __device__
#undef __host__
#undef __forceinline__
#undef __launch_bounds__
#undef __align__
#undef __shared__
#undef __grid_constant__
#define threadIdx (emu_thread_idx())
#define blockIdx emu_block_idx
#define blockDim emu_block_dim
#define gridDim emu_grid_dim
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __align__(n) __attribute__((aligned(n)))
#define __shared__ static
#define __grid_constant__

void __syncthreads();
float __shfl_xor_sync(unsigned mask, float v, int lanemask);
double __shfl_xor_sync(unsigned mask, double v, int lanemask);
inline float __fmaf_rn(float a, float b, float c) { return fmaf(a, b, c); }
/* Blocks run one at a time and threads switch only at barriers and warp
 * instructions, so these are atomic and ordered as they stand. */
inline void __threadfence() {}
inline unsigned atomicAdd(unsigned *p, unsigned v) { const unsigned o = *p; *p = o + v; return o; }
inline float __ldcg(const float *p) { return *p; }

/* d = a * b + c for one warp: a 16x16 (4 regs of bf16 pairs), b 16x8 (2
 * regs), c and d 16x8 fp32 (4 regs), row.col, each lane passing its own */
void emu_mma_m16n8k16_bf16(float c[4], const uint32_t a[4], uint32_t b0, uint32_t b1);
/* ldmatrix.sync.aligned.m8n8.x4[.trans].shared.b16 r, [p] */
void emu_ldmatrix_x4(uint32_t r[4], const void *p, int trans);
/* cp.async.cg.shared.global [dst], [src], 16, bytes (the rest zero-filled) */
void emu_cp_async16(void *dst, const void *src, int bytes);
void emu_cp_async_commit();
void emu_cp_async_wait(int pending);

enum { EMU_CP_EAGER = 0, EMU_CP_LATE = 1 };
extern int emu_cp_mode;
/* 0: the warps of a block advance in lockstep (each round executes every
 * warp instruction all lanes have reached); else the seed of a random
 * schedule where each ready warp goes on with probability 1/2 per round, so
 * warps drift apart and a missing barrier shows. */
extern uint64_t emu_schedule_seed;
/* 0: blocks run in x, y, z order; else the seed of a random order (a grid
 * whose result depends on which block finishes last shows it). */
extern uint64_t emu_block_order_seed;

/* Runs body() as every thread of every block of the grid (blocks in x, y,
 * z order, or shuffled by emu_block_order_seed; threads x fastest). Returns 0, or -1 after printing why the emulation stopped
 * (divergent warp instruction, deadlock). */
int emu_launch(emu_dim3 grid, emu_dim3 block, const std::function<void()> &body);

#endif

/* cuda/adamw_runs.cuh — the AdamW update of one value, and the kernel that
 * applies it to many runs of the parameter vector in one launch (adamw.cu:
 * sv_backend.adamw_runs), with the host-side packing of the runs into its
 * by-value table. Also compiled for the CPU by tests/cuda/emu. */
#ifndef SV_CUDA_ADAMW_RUNS_CUH
#define SV_CUDA_ADAMW_RUNS_CUH

#ifdef SV_CUDA_EMULATE
#include "simt_emu.h"
#endif
#include <stddef.h>

#include "core/backend.h"

/* the update of one value (both kernels: the same bits however the
 * parameters are cut into launches) */
__device__ __forceinline__ void adamw_elem(float *w, const float *g, float *m, float *v, size_t i,
                                           float clip, float decay, float b1, float b2, float eps,
                                           float step_size, float bc2_sqrt)
{
    const float gi = g[i] * clip;
    const float wi = w[i] * decay;
    const float mi = b1 * m[i] + (1.0f - b1) * gi;
    const float vi = b2 * v[i] + (1.0f - b2) * gi * gi;
    const float denom = sqrtf(vi) / bc2_sqrt + eps;
    m[i] = mi;
    v[i] = vi;
    w[i] = wi - step_size * mi / denom;
}

/* Up to ADAMW_RUNS runs in one launch, passed by value (about 2.6 KB of
 * kernel parameters): run r covers blocks first[r] .. first[r+1]-1, each
 * block ADAMW_CHUNK values of it. */
#define ADAMW_RUNS 128
#define ADAMW_THREADS 256
#define ADAMW_CHUNK (ADAMW_THREADS * 8)

struct adamw_table {
    size_t off[ADAMW_RUNS], n[ADAMW_RUNS];
    unsigned first[ADAMW_RUNS + 1];
    unsigned char decay[ADAMW_RUNS];
    int nruns;
};

__global__ void __launch_bounds__(ADAMW_THREADS)
adamw_runs_kernel(float *w, const float *g, float *m, float *v, const __grid_constant__ adamw_table t,
                  float clip, float decay, float b1, float b2, float eps, float step_size, float bc2_sqrt)
{
    int lo = 0, hi = t.nruns - 1; /* the last run whose first block is <= this one */
    while (lo < hi) {
        const int mid = (lo + hi + 1) >> 1;
        if (t.first[mid] <= blockIdx.x) lo = mid;
        else hi = mid - 1;
    }
    const size_t begin = t.off[lo] + (size_t)(blockIdx.x - t.first[lo]) * ADAMW_CHUNK;
    const size_t stop = t.off[lo] + t.n[lo], end = begin + ADAMW_CHUNK < stop ? begin + ADAMW_CHUNK : stop;
    const float d = t.decay[lo] ? decay : 1.0f;
    for (size_t i = begin + threadIdx.x; i < end; i += ADAMW_THREADS)
        adamw_elem(w, g, m, v, i, clip, d, b1, b2, eps, step_size, bc2_sqrt);
}

/* Packs runs[0..nruns) from the first into t (at most ADAMW_RUNS, and no
 * more blocks than a grid holds) and sets *blocks; returns how many it
 * took: 0 when runs[0] alone needs more blocks than a grid holds. */
static inline int adamw_table_fill(adamw_table *t, const sv_adamw_run *runs, int nruns, size_t *blocks)
{
    size_t nb_all = 0;
    int k = 0;
    for (; k < ADAMW_RUNS && k < nruns; k++) {
        const size_t nb = (runs[k].n + ADAMW_CHUNK - 1) / ADAMW_CHUNK;
        if (nb_all + nb > 0x7fffffffu) break; /* the grid's x limit: the rest in the next launch */
        t->off[k] = runs[k].off;
        t->n[k] = runs[k].n;
        t->decay[k] = runs[k].decay != 0;
        t->first[k] = (unsigned)nb_all;
        nb_all += nb;
    }
    t->first[k] = (unsigned)nb_all;
    t->nruns = k;
    *blocks = nb_all;
    return k;
}

#endif

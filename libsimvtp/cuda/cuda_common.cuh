/* cuda/cuda_common.cuh — what every file of the CUDA backend shares: the
 * per-device context (stream, memory pool, cuBLAS/cuBLASLt handles and
 * workspace, the matmul plan cache, the sticky error), the calling thread's
 * current context and precision, error recording, stream-ordered scratch
 * memory, launch-size helpers and deterministic warp/block reductions.
 *
 * Error model (core/backend.h): ops never return CUDA errors one by one. The
 * first failure since the last finish() is stored in the context (status +
 * message naming the op and the CUDA/cuBLAS error string) and finish()
 * returns it through sv_fail. Later failures are dropped (the first one is
 * the cause). Nothing here prints, exits or aborts. */
#ifndef SV_CUDA_COMMON_CUH
#define SV_CUDA_COMMON_CUH

#include <cublasLt.h>
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <math.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

extern "C" {
#include "core/backend.h"
#include "core/status_internal.h"
}

#define SV_CUDA_MAX_DEVICES 64
#define SV_CUDA_WORKSPACE_BYTES ((size_t)32 << 20) /* cuBLASLt / cuBLAS workspace per context */
#define SV_CUDA_STAGE_BYTES ((size_t)128 << 20)   /* pinned upload ring per context */
#define SV_MM_CACHE_SLOTS 512                      /* matmul plans per context (open addressing) */

/* ------------------------------------------------------------------------
 * Matmul plans (cuda/matmul.cu): one cuBLASLt descriptor set + heuristic
 * algorithm per problem key. Column-major (cuBLAS) terms: D[m,n] =
 * alpha op(A) op(B) + beta C, C == D.
 * ------------------------------------------------------------------------ */
typedef struct sv_mm_key {
    int32_t m, n, k, lda, ldb, ldc;
    uint8_t ta, tb;     /* 1: transposed                                   */
    uint8_t epi_bias;   /* 1: CUBLASLT_EPILOGUE_BIAS                        */
    uint8_t prec;       /* enum sv_precision                                */
    uint8_t al_a, al_b, al_c; /* log2 of the pointers' alignment (<= 4) */
    uint8_t ab16;       /* 1: A and B are bf16 copies (C, D stay fp32); keys are
                           compared with memcmp, so every byte is set         */
} sv_mm_key;

typedef struct sv_mm_plan {
    int used;           /* slot holds a plan                                 */
    int ok;             /* 1: cuBLASLt found an algorithm; 0: use the fallback */
    sv_mm_key key;
    cublasLtMatmulDesc_t desc;
    cublasLtMatrixLayout_t la, lb, lc;
    cublasLtMatmulAlgo_t algo;
} sv_mm_plan;

/* ------------------------------------------------------------------------
 * One context per device, created by sv_cuda_backend_get and kept for the
 * life of the process; shared by the fp32 and bf16 tables of the device and
 * by every thread that activates them (work from all threads goes to the
 * one stream, in call order).
 * ------------------------------------------------------------------------ */
typedef struct sv_cuda_ctx {
    int device;
    int sm_count;
    cudaStream_t stream;
    cudaMemPool_t pool;          /* our own pool, release threshold UINT64_MAX */
    cublasLtHandle_t lt;
    cublasHandle_t blas;         /* strided-batched GEMMs (attention), fallback GEMM */
    void *workspace;             /* SV_CUDA_WORKSPACE_BYTES, shared by lt and blas */
    size_t workspace_bytes;
    pthread_mutex_t lock;        /* guards err and err_msg                         */
    pthread_mutex_t mm_lock;     /* guards mm[] and the cuBLASLt descriptor edits  */
    /* Upload staging: a pinned host ring. memcpy_h2d copies the source into
     * it and queues the DMA from there, so it returns without waiting for
     * the stream; the ring is reused only after the copy recorded last has
     * completed (stage_done). NULL when pinned memory was not available. */
    pthread_mutex_t stage_lock;
    char *stage;
    size_t stage_bytes, stage_pos;
    cudaEvent_t stage_done;
    int err;                     /* first failure since the last finish (0: none) */
    char err_msg[900];
    int mm_count;
    sv_mm_plan mm[SV_MM_CACHE_SLOTS];
    /* bf16 mirror of the weights for one graph call (cuda/matmul.cu,
     * sv_cuda_weights_begin/end), guarded by mm_lock: wm_buf holds wm_cap
     * values; when wm_valid, its first wm_n are bf16(wm_src[0 .. wm_n)). */
    const float *wm_src;
    size_t wm_n, wm_cap;
    void *wm_buf;
    int wm_valid;
    /* zeroed counters of the one-launch column sums (cuda/colsum.cuh), made
     * on first use under mm_lock (cuda/matmul.cu sv_cuda_colsum_counters) */
    unsigned *cs_counters;
} sv_cuda_ctx;

/* The calling thread's context (set by activate). A thread that never
 * activated a CUDA backend gets the most recently activated (or obtained)
 * CUDA backend bound implicitly; NULL only if no CUDA backend exists yet. */
sv_cuda_ctx *sv_cuda_current(void);
/* The calling thread's precision (enum sv_precision) of its current table. */
int sv_cuda_precision(void);

/* Record a failure (first one wins) for finish() to return. */
void sv_cuda_fail(sv_cuda_ctx *ctx, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* 1 when e is cudaSuccess; else records "<op>: <what> failed: <error>",
 * clears the runtime's last error and returns 0. */
int sv_cuda_ok(sv_cuda_ctx *ctx, cudaError_t e, const char *op, const char *what);
/* The same for cuBLAS / cuBLASLt statuses. */
int sv_cublas_ok(sv_cuda_ctx *ctx, cublasStatus_t s, const char *op, const char *what);
/* Host-side counters (cuda/host_stats.cu; SIMVTP_CUDA_STATS=1). */
typedef struct sv_cuda_host_stats {
    unsigned long long launches, products, waits, wait_ns;
} sv_cuda_host_stats;
extern int sv_cuda_stats_on;
extern sv_cuda_host_stats sv_cuda_stats;
void sv_cuda_stats_init(void);
static inline void sv_cuda_count(unsigned long long *c)
{
    if (sv_cuda_stats_on) __atomic_fetch_add(c, 1, __ATOMIC_RELAXED);
}
/* cudaStreamSynchronize / cudaEventSynchronize, counted and timed */
cudaError_t sv_cuda_wait(cudaStream_t s);
cudaError_t sv_cuda_wait_event(cudaEvent_t ev);

/* After a kernel launch: records a launch failure (and counts the launch). */
#define SV_LAUNCH_OK(ctx, op) \
    (sv_cuda_count(&sv_cuda_stats.launches), sv_cuda_ok((ctx), cudaGetLastError(), (op), "kernel launch"))

/* Stream-ordered scratch from the context's pool. On failure returns NULL
 * and, when `record` is 1, records SIMVTP_ERR_NOMEM for finish(). */
void *sv_cuda_scratch(sv_cuda_ctx *ctx, size_t bytes, const char *op, int record);
void sv_cuda_scratch_free(sv_cuda_ctx *ctx, void *p);

/* ------------------------------------------------------------------------
 * cuBLAS and cuBLASLt are not linked: backend_cuda.cu opens them with
 * dlopen when the first context is created (libcublasLt runs a dlopen of
 * its own at load time; linking it would do that in every program that
 * loads libsimvtp, GPU or not). Code calls them as sv_blas.<name>(...),
 * with <name> the exported symbol (cublas_v2.h maps cublasCreate to
 * cublasCreate_v2 and so on, so sv_blas.cublasCreate(...) works too).
 * ------------------------------------------------------------------------ */
#define SV_CUBLASLT_FUNCS(X)                                                                  \
    X(cublasLtCreate) X(cublasLtDestroy) X(cublasLtMatmul) X(cublasLtMatmulAlgoGetHeuristic) \
    X(cublasLtMatmulDescCreate) X(cublasLtMatmulDescDestroy) X(cublasLtMatmulDescSetAttribute) \
    X(cublasLtMatmulPreferenceCreate) X(cublasLtMatmulPreferenceDestroy)                     \
    X(cublasLtMatmulPreferenceSetAttribute) X(cublasLtMatrixLayoutCreate)                     \
    X(cublasLtMatrixLayoutDestroy)
#define SV_CUBLAS_FUNCS(X)                                                                    \
    X(cublasCreate_v2) X(cublasDestroy_v2) X(cublasSetStream_v2) X(cublasSetWorkspace_v2)    \
    X(cublasSetPointerMode_v2) X(cublasSetMathMode) X(cublasGetStatusString)                  \
    X(cublasGetStatusName)
/* C++ sees overloads of these two (cublas_api.h), so their types are spelled
 * out; backend_cuda.cu checks them against the C declarations. */
#define SV_CUBLAS_GEMM_FUNCS(X) X(cublasGemmEx) X(cublasGemmStridedBatchedEx)
typedef cublasStatus_t (*sv_cublasGemmEx_fn)(
    cublasHandle_t, cublasOperation_t, cublasOperation_t, int, int, int, const void *,
    const void *, cudaDataType, int, const void *, cudaDataType, int, const void *, void *,
    cudaDataType, int, cublasComputeType_t, cublasGemmAlgo_t);
typedef cublasStatus_t (*sv_cublasGemmStridedBatchedEx_fn)(
    cublasHandle_t, cublasOperation_t, cublasOperation_t, int, int, int, const void *,
    const void *, cudaDataType, int, long long int, const void *, cudaDataType, int, long long int,
    const void *, void *, cudaDataType, int, long long int, int, cublasComputeType_t,
    cublasGemmAlgo_t);

#define SV_BLAS_TYPEDEF(f) typedef decltype(&f) sv_##f##_fn;
SV_CUBLASLT_FUNCS(SV_BLAS_TYPEDEF)
SV_CUBLAS_FUNCS(SV_BLAS_TYPEDEF)
#undef SV_BLAS_TYPEDEF

typedef struct sv_blas_api {
#define SV_BLAS_MEMBER(f) sv_##f##_fn f;
    SV_CUBLASLT_FUNCS(SV_BLAS_MEMBER)
    SV_CUBLAS_FUNCS(SV_BLAS_MEMBER)
#undef SV_BLAS_MEMBER
    sv_cublasGemmEx_fn cublasGemmEx;
    sv_cublasGemmStridedBatchedEx_fn cublasGemmStridedBatchedEx;
} sv_blas_api;

/* Filled once (under the backend's global lock) before the first context
 * exists; read-only afterwards. */
extern sv_blas_api sv_blas;

/* Compute type of cuBLAS/cuBLASLt products for a precision: fp32 keeps true
 * fp32 FMA arithmetic (no TF32), bf16 lets the matrix units round inputs to
 * bf16 and accumulate in fp32. */
static inline cublasComputeType_t sv_cuda_compute_type(int precision)
{
    return precision == SV_PRECISION_BF16 ? CUBLAS_COMPUTE_32F_FAST_16BF : CUBLAS_COMPUTE_32F;
}

/* ------------------------------------------------------------------------
 * Launch sizes. Kernels use grid-stride loops with 64-bit indices, so any
 * grid is correct; these only pick an efficient one.
 * ------------------------------------------------------------------------ */
static inline unsigned sv_blocks_for(const sv_cuda_ctx *ctx, size_t n, int threads)
{
    size_t b = (n + (size_t)threads - 1) / (size_t)threads;
    size_t cap = (size_t)(ctx->sm_count > 0 ? ctx->sm_count : 16) * 32;
    if (b < 1) b = 1;
    return (unsigned)(b < cap ? b : cap);
}

static inline unsigned sv_min_u(size_t a, size_t b) { return (unsigned)(a < b ? a : b); }

/* ------------------------------------------------------------------------
 * Deterministic reductions: butterfly (xor) shuffles give every lane the
 * same bits; blocks combine warp results in a fixed order. No atomics.
 * ------------------------------------------------------------------------ */
#include "cuda/warp_reduce.cuh" /* sv_warp_sum, sv_warp_max, sv_block_sum, sv_block_max */

#endif /* SV_CUDA_COMMON_CUH */

/* cuda/backend_cuda.cu — the CUDA backend's tables and context: one context
 * per device (non-blocking stream, private stream-ordered memory pool,
 * cuBLASLt + cuBLAS handles sharing a 32 MiB workspace, the matmul plan
 * cache, the sticky error), created on first use by sv_cuda_backend_get;
 * one sv_backend table per (device, precision): "cuda:N" (bf16 matrix-unit
 * inputs) and "cuda:N:fp32". activate binds the table to the calling thread
 * (device, context, precision); finish waits for the stream and returns the
 * first failure recorded since the previous finish. Memory: alloc/free are
 * stream-ordered (cudaMallocFromPoolAsync / cudaFreeAsync); copies to and
 * from the host wait for completion. Nothing touches CUDA at load time: a
 * machine without a GPU or driver loads the library and sees 0 devices. */
#include <atomic>
#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda/cuda_ops.cuh"
extern "C" {
#include "core/host_copy.h"
}

/* ------------------------------------------------------------------------
 * Global state: contexts and tables, created under g_lock, never freed
 * (process lifetime; the driver reclaims everything at exit).
 * ------------------------------------------------------------------------ */
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static sv_cuda_ctx *g_ctx[SV_CUDA_MAX_DEVICES];
static sv_backend g_table[SV_CUDA_MAX_DEVICES][2];
static char g_name[SV_CUDA_MAX_DEVICES][2][32];
static int g_table_ready[SV_CUDA_MAX_DEVICES][2];
static std::atomic<const sv_backend *> g_last{nullptr}; /* implicit binding for new threads */

static thread_local sv_cuda_ctx *tls_ctx;
static thread_local int tls_prec;

/* ------------------------------------------------------------------------
 * cuBLAS / cuBLASLt, opened on first use (see sv_blas_api)
 * ------------------------------------------------------------------------ */
sv_blas_api sv_blas;
static int g_blas_loaded;

/* The spelled-out GEMM types match the C declarations (overload selection
 * in an unevaluated context: no reference to the symbols). */
static_assert(sizeof(static_cast<sv_cublasGemmEx_fn>(&cublasGemmEx)) == sizeof(void (*)()),
              "sv_cublasGemmEx_fn does not match cublas_api.h");
static_assert(sizeof(static_cast<sv_cublasGemmStridedBatchedEx_fn>(&cublasGemmStridedBatchedEx)) ==
                  sizeof(void (*)()),
              "sv_cublasGemmStridedBatchedEx_fn does not match cublas_api.h");

/* dlopen "<base>.so.<cuBLAS major>": the loader's search (LD_LIBRARY_PATH,
 * libsimvtp's RUNPATH to the toolkit, the ldconfig cache), then the
 * toolkit directory meson found (SV_CUDA_LIBDIR). */
static void *blas_open(const char *base, char *why, size_t why_size)
{
    char name[64], path[1024];
    snprintf(name, sizeof name, "%s.so.%d", base, (int)CUBLAS_VER_MAJOR);
    void *h = dlopen(name, RTLD_NOW | RTLD_LOCAL);
    if (h) return h;
    const char *err = dlerror();
    snprintf(why, why_size, "%s", err ? err : name);
#ifdef SV_CUDA_LIBDIR
    snprintf(path, sizeof path, "%s/%s", SV_CUDA_LIBDIR, name);
    h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (h) return h;
#else
    (void)path;
#endif
    return NULL;
}

/* Called under g_lock. */
static int blas_load(int device)
{
    if (g_blas_loaded) return SIMVTP_OK;
    char why[512] = "";
    void *lt = blas_open("libcublasLt", why, sizeof why);
    if (!lt)
        return sv_fail(SIMVTP_ERR_UNSUPPORTED, "cuda:%d: cannot load cuBLASLt: %s", device, why);
    void *bl = blas_open("libcublas", why, sizeof why);
    if (!bl)
        return sv_fail(SIMVTP_ERR_UNSUPPORTED, "cuda:%d: cannot load cuBLAS: %s", device, why);
    sv_blas_api api;
    memset(&api, 0, sizeof api);
#define SV_BLAS_SYM(h, lib, f)                                                                  \
    do {                                                                                        \
        api.f = (decltype(api.f))dlsym((h), #f);                                                \
        if (!api.f)                                                                             \
            return sv_fail(SIMVTP_ERR_UNSUPPORTED, "cuda:%d: %s has no symbol %s (built against " \
                           "cuBLAS %d)", device, lib, #f, (int)CUBLAS_VER_MAJOR);               \
    } while (0);
#define SV_BLAS_SYM_LT(f) SV_BLAS_SYM(lt, "libcublasLt", f)
#define SV_BLAS_SYM_BL(f) SV_BLAS_SYM(bl, "libcublas", f)
    SV_CUBLASLT_FUNCS(SV_BLAS_SYM_LT)
    SV_CUBLAS_FUNCS(SV_BLAS_SYM_BL)
    SV_CUBLAS_GEMM_FUNCS(SV_BLAS_SYM_BL)
#undef SV_BLAS_SYM_LT
#undef SV_BLAS_SYM_BL
#undef SV_BLAS_SYM
    sv_blas = api;   /* the handles stay open for the life of the process */
    g_blas_loaded = 1;
    return SIMVTP_OK;
}

/* ------------------------------------------------------------------------
 * Errors
 * ------------------------------------------------------------------------ */
static int status_of_cuda(cudaError_t e)
{
    switch (e) {
    case cudaErrorMemoryAllocation: return SIMVTP_ERR_NOMEM;
    case cudaErrorNoKernelImageForDevice:
    case cudaErrorUnsupportedPtxVersion:
    case cudaErrorInsufficientDriver:
    case cudaErrorNoDevice: return SIMVTP_ERR_UNSUPPORTED;
    default: return SIMVTP_ERR_IO;
    }
}

static int status_of_cublas(cublasStatus_t s)
{
    switch (s) {
    case CUBLAS_STATUS_ALLOC_FAILED: return SIMVTP_ERR_NOMEM;
    case CUBLAS_STATUS_ARCH_MISMATCH:
    case CUBLAS_STATUS_NOT_SUPPORTED: return SIMVTP_ERR_UNSUPPORTED;
    case CUBLAS_STATUS_INVALID_VALUE: return SIMVTP_ERR_INTERNAL;
    default: return SIMVTP_ERR_IO;
    }
}

void sv_cuda_fail(sv_cuda_ctx *ctx, int status, const char *fmt, ...)
{
    if (!ctx) return;
    pthread_mutex_lock(&ctx->lock);
    if (!ctx->err) {
        ctx->err = status;
        int k = snprintf(ctx->err_msg, sizeof ctx->err_msg, "cuda:%d: ", ctx->device);
        if (k < 0) k = 0;
        if ((size_t)k < sizeof ctx->err_msg) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(ctx->err_msg + k, sizeof ctx->err_msg - (size_t)k, fmt, ap);
            va_end(ap);
        }
    }
    pthread_mutex_unlock(&ctx->lock);
}

int sv_cuda_ok(sv_cuda_ctx *ctx, cudaError_t e, const char *op, const char *what)
{
    if (e == cudaSuccess) return 1;
    (void)cudaGetLastError(); /* clear a non-sticky error so later launches are judged alone */
    const char *hint = e == cudaErrorNoKernelImageForDevice
                           ? " (libsimvtp's CUDA code is built for sm_80 and sm_90: rebuild "
                             "for this GPU's architecture)"
                           : "";
    sv_cuda_fail(ctx, status_of_cuda(e), "%s: %s failed: %s (%s)%s", op, what,
                 cudaGetErrorString(e), cudaGetErrorName(e), hint);
    return 0;
}

int sv_cublas_ok(sv_cuda_ctx *ctx, cublasStatus_t s, const char *op, const char *what)
{
    if (s == CUBLAS_STATUS_SUCCESS) return 1;
    (void)cudaGetLastError();
    sv_cuda_fail(ctx, status_of_cublas(s), "%s: %s failed: %s (%s)", op, what,
                 sv_blas.cublasGetStatusString ? sv_blas.cublasGetStatusString(s) : "cuBLAS error",
                 sv_blas.cublasGetStatusName ? sv_blas.cublasGetStatusName(s) : "?");
    return 0;
}

/* ------------------------------------------------------------------------
 * Scratch memory
 * ------------------------------------------------------------------------ */
/* cudaMallocFromPoolAsync; when the pool cannot grow, wait for the stream
 * (pending frees complete), give the pool's unused memory back to the
 * driver (it may be cut into pieces too small) and try once more. */
static cudaError_t pool_alloc(sv_cuda_ctx *ctx, void **p, size_t bytes)
{
    cudaError_t e = cudaMallocFromPoolAsync(p, bytes ? bytes : 1, ctx->pool, ctx->stream);
    if (e != cudaErrorMemoryAllocation) return e;
    (void)cudaGetLastError();
    if (cudaStreamSynchronize(ctx->stream) != cudaSuccess) return e;
    if (cudaMemPoolTrimTo(ctx->pool, 0) != cudaSuccess) {
        (void)cudaGetLastError();
        return e;
    }
    return cudaMallocFromPoolAsync(p, bytes ? bytes : 1, ctx->pool, ctx->stream);
}

void *sv_cuda_scratch(sv_cuda_ctx *ctx, size_t bytes, const char *op, int record)
{
    void *p = NULL;
    cudaError_t e = pool_alloc(ctx, &p, bytes);
    if (e != cudaSuccess) {
        (void)cudaGetLastError();
        if (record)
            sv_cuda_fail(ctx, SIMVTP_ERR_NOMEM, "%s: out of device memory for %zu bytes of scratch (%s)",
                         op, bytes, cudaGetErrorString(e));
        return NULL;
    }
    return p;
}

void sv_cuda_scratch_free(sv_cuda_ctx *ctx, void *p)
{
    if (p) sv_cuda_ok(ctx, cudaFreeAsync(p, ctx->stream), "scratch", "cudaFreeAsync");
}

/* ------------------------------------------------------------------------
 * Contexts
 * ------------------------------------------------------------------------ */
/* sv_backend.queue: the stream of the calling thread's context. */
static void *cuda_queue(void)
{
    sv_cuda_ctx *ctx = sv_cuda_current();
    return ctx ? (void *)ctx->stream : NULL;
}

static void ctx_destroy(sv_cuda_ctx *ctx)
{
    if (!ctx) return;
    sv_cuda_matmul_cache_clear(ctx);
    if (ctx->wm_buf && ctx->stream) cudaFreeAsync(ctx->wm_buf, ctx->stream);
    if (ctx->cs_counters && ctx->stream) cudaFreeAsync(ctx->cs_counters, ctx->stream);
    if (ctx->blas) sv_blas.cublasDestroy(ctx->blas);
    if (ctx->lt) sv_blas.cublasLtDestroy(ctx->lt);
    if (ctx->workspace) cudaFree(ctx->workspace);
    if (ctx->stream) {
        cudaStreamSynchronize(ctx->stream);
        cudaStreamDestroy(ctx->stream);
    }
    if (ctx->stage_done) cudaEventDestroy(ctx->stage_done);
    if (ctx->stage) cudaFreeHost(ctx->stage);
    pthread_mutex_destroy(&ctx->stage_lock);
    if (ctx->pool) cudaMemPoolDestroy(ctx->pool);
    pthread_mutex_destroy(&ctx->lock);
    pthread_mutex_destroy(&ctx->mm_lock);
    free(ctx);
    (void)cudaGetLastError();
}

/* Creates the context of `device` (the current device must be `device`).
 * Returns a status with the detail set on failure. */
static int ctx_create(int device, sv_cuda_ctx **out)
{
    *out = NULL;
    sv_cuda_stats_init();
    sv_cuda_ctx *ctx = (sv_cuda_ctx *)calloc(1, sizeof *ctx);
    if (!ctx) return sv_fail(SIMVTP_ERR_NOMEM, "cuda:%d: out of host memory for the context", device);
    ctx->device = device;
    pthread_mutex_init(&ctx->lock, NULL);
    pthread_mutex_init(&ctx->mm_lock, NULL);
    pthread_mutex_init(&ctx->stage_lock, NULL);
    cudaError_t e;
    cublasStatus_t s;
    const char *what = "";
    int pools = 0;
#define CTX_TRY_CUDA(call, msg) do { what = (msg); e = (call); if (e != cudaSuccess) goto cuda_fail; } while (0)
#define CTX_TRY_BLAS(call, msg) do { what = (msg); s = (call); if (s != CUBLAS_STATUS_SUCCESS) goto blas_fail; } while (0)
    CTX_TRY_CUDA(cudaDeviceGetAttribute(&ctx->sm_count, cudaDevAttrMultiProcessorCount, device),
                 "cudaDeviceGetAttribute(multiprocessor count)");
    CTX_TRY_CUDA(cudaDeviceGetAttribute(&pools, cudaDevAttrMemoryPoolsSupported, device),
                 "cudaDeviceGetAttribute(memory pools supported)");
    if (!pools) {
        ctx_destroy(ctx);
        return sv_fail(SIMVTP_ERR_UNSUPPORTED,
                       "cuda:%d: the device or driver does not support stream-ordered memory pools "
                       "(cudaMallocAsync), which the CUDA backend needs", device);
    }
    CTX_TRY_CUDA(cudaStreamCreateWithFlags(&ctx->stream, cudaStreamNonBlocking), "cudaStreamCreate");
    {
        cudaMemPoolProps props;
        memset(&props, 0, sizeof props);
        props.allocType = cudaMemAllocationTypePinned;
        props.handleTypes = cudaMemHandleTypeNone;
        props.location.type = cudaMemLocationTypeDevice;
        props.location.id = device;
        CTX_TRY_CUDA(cudaMemPoolCreate(&ctx->pool, &props), "cudaMemPoolCreate");
        uint64_t threshold = UINT64_MAX; /* keep freed memory in the pool for reuse */
        CTX_TRY_CUDA(cudaMemPoolSetAttribute(ctx->pool, cudaMemPoolAttrReleaseThreshold, &threshold),
                     "cudaMemPoolSetAttribute(release threshold)");
    }
    ctx->workspace_bytes = SV_CUDA_WORKSPACE_BYTES;
    CTX_TRY_CUDA(cudaMalloc(&ctx->workspace, ctx->workspace_bytes), "cudaMalloc(cuBLAS workspace)");
    CTX_TRY_BLAS(sv_blas.cublasLtCreate(&ctx->lt), "cublasLtCreate");
    CTX_TRY_BLAS(sv_blas.cublasCreate(&ctx->blas), "cublasCreate");
    CTX_TRY_BLAS(sv_blas.cublasSetStream(ctx->blas, ctx->stream), "cublasSetStream");
    CTX_TRY_BLAS(sv_blas.cublasSetWorkspace(ctx->blas, ctx->workspace, ctx->workspace_bytes), "cublasSetWorkspace");
    CTX_TRY_BLAS(sv_blas.cublasSetPointerMode(ctx->blas, CUBLAS_POINTER_MODE_HOST), "cublasSetPointerMode");
    /* Default math mode: with CUBLAS_COMPUTE_32F no TF32 is used. */
    CTX_TRY_BLAS(sv_blas.cublasSetMathMode(ctx->blas, CUBLAS_DEFAULT_MATH), "cublasSetMathMode");
    /* Optional: without pinned staging, uploads wait for the stream. */
    if (cudaHostAlloc((void **)&ctx->stage, SV_CUDA_STAGE_BYTES, cudaHostAllocDefault) == cudaSuccess &&
        cudaEventCreateWithFlags(&ctx->stage_done, cudaEventDisableTiming) == cudaSuccess) {
        ctx->stage_bytes = SV_CUDA_STAGE_BYTES;
    } else {
        (void)cudaGetLastError();
        if (ctx->stage) cudaFreeHost(ctx->stage);
        ctx->stage = NULL;
        ctx->stage_done = NULL;
        (void)cudaGetLastError();
    }
#undef CTX_TRY_CUDA
#undef CTX_TRY_BLAS
    *out = ctx;
    return SIMVTP_OK;

cuda_fail:
    (void)cudaGetLastError();
    ctx_destroy(ctx);
    return sv_fail(status_of_cuda(e), "cuda:%d: creating the backend context: %s failed: %s (%s)",
                   device, what, cudaGetErrorString(e), cudaGetErrorName(e));
blas_fail:
    ctx_destroy(ctx);
    return sv_fail(status_of_cublas(s), "cuda:%d: creating the backend context: %s failed: %s",
                   device, what, sv_blas.cublasGetStatusString(s));
}

/* ------------------------------------------------------------------------
 * The thread's binding
 * ------------------------------------------------------------------------ */
static int bind_thread(const sv_backend *be)
{
    sv_cuda_ctx *ctx = g_ctx[be->device];
    cudaError_t e = cudaSetDevice(be->device);
    if (e != cudaSuccess) {
        (void)cudaGetLastError();
        return sv_fail(status_of_cuda(e), "%s: cudaSetDevice(%d) failed: %s", be->name,
                       be->device, cudaGetErrorString(e));
    }
    tls_ctx = ctx;
    tls_prec = be->precision;
    g_last.store(be, std::memory_order_release);
    return SIMVTP_OK;
}

sv_cuda_ctx *sv_cuda_current(void)
{
    if (tls_ctx) return tls_ctx;
    const sv_backend *be = g_last.load(std::memory_order_acquire);
    if (!be || bind_thread(be) != SIMVTP_OK) return NULL;
    return tls_ctx;
}

int sv_cuda_precision(void)
{
    if (!tls_ctx) (void)sv_cuda_current();
    return tls_prec;
}

static int cuda_activate(const sv_backend *be)
{
    if (!be || be->device < 0 || be->device >= SV_CUDA_MAX_DEVICES || !g_ctx[be->device])
        return sv_fail(SIMVTP_ERR_INTERNAL, "CUDA activate: not a CUDA backend table");
    return bind_thread(be);
}

static int cuda_finish(const sv_backend *be)
{
    if (!be || be->device < 0 || be->device >= SV_CUDA_MAX_DEVICES || !g_ctx[be->device])
        return sv_fail(SIMVTP_ERR_INTERNAL, "CUDA finish: not a CUDA backend table");
    sv_cuda_ctx *ctx = g_ctx[be->device];
    sv_cuda_ok(ctx, sv_cuda_wait(ctx->stream), "queued work",
               "cudaStreamSynchronize (an earlier op failed on the device)");
    char msg[sizeof ctx->err_msg];
    pthread_mutex_lock(&ctx->lock);
    const int st = ctx->err;
    if (st) memcpy(msg, ctx->err_msg, sizeof msg);
    ctx->err = 0;
    ctx->err_msg[0] = '\0';
    pthread_mutex_unlock(&ctx->lock);
    if (st) return sv_fail(st, "%s", msg);
    return SIMVTP_OK;
}

/* ------------------------------------------------------------------------
 * Memory
 * ------------------------------------------------------------------------ */
/* A block from the context's pool, filled with byte `fill` (-1: left as it
 * is) on the stream. */
static void *pool_take(size_t bytes, int fill)
{
    sv_cuda_ctx *ctx = sv_cuda_current();
    if (!ctx) {
        sv_fail(SIMVTP_ERR_STATE, "CUDA alloc: no CUDA backend is active on this thread");
        return NULL;
    }
    const size_t n = bytes ? bytes : 1;
    void *p = NULL;
    cudaError_t e = pool_alloc(ctx, &p, n);
    if (e != cudaSuccess) {
        (void)cudaGetLastError();
        sv_fail(SIMVTP_ERR_NOMEM, "cuda:%d: out of device memory allocating %zu bytes (%s)",
                ctx->device, bytes, cudaGetErrorString(e));
        return NULL;
    }
    e = fill < 0 ? cudaSuccess : cudaMemsetAsync(p, fill, n, ctx->stream);
    if (e != cudaSuccess) {
        (void)cudaGetLastError();
        cudaFreeAsync(p, ctx->stream);
        (void)cudaGetLastError();
        sv_fail(status_of_cuda(e), "cuda:%d: filling a new allocation of %zu bytes failed: %s",
                ctx->device, bytes, cudaGetErrorString(e));
        return NULL;
    }
    return p;
}

static void *cuda_alloc(size_t bytes) { return pool_take(bytes, 0); }

/* alloc_raw (core/backend.h): no fill, the point of it. SIMVTP_CUDA_RAW_FILL
 * (read per call: test_cuda_step compares) = zero fills with zeros as alloc
 * does (the A/B row of bench/gpu-check.sh), nan with 0xFF bytes as the CPU
 * does (a read before the first write then spoils the results). */
static void *cuda_alloc_raw(size_t bytes)
{
    const char *e = getenv("SIMVTP_CUDA_RAW_FILL");
    const int fill = !e ? -1 : !strcmp(e, "zero") ? 0 : !strcmp(e, "nan") ? 0xFF : -1;
    return pool_take(bytes, fill);
}

static void cuda_free(void *p)
{
    if (!p) return;
    sv_cuda_ctx *ctx = sv_cuda_current();
    if (!ctx) return;
    sv_cuda_ok(ctx, cudaFreeAsync(p, ctx->stream), "free", "cudaFreeAsync");
}

/* Queues the upload from the pinned ring; 0 when it does not fit there (the
 * caller then copies directly and waits). A large upload goes in chunks,
 * each copied into the ring on several threads (core/host_copy.h) and its
 * transfer queued at once, so that the transfer of one chunk runs while the
 * host copies the next: the GPU, idle at a step's start, waits for about
 * one host copy instead of a copy and a transfer. */
#define SV_STAGE_CHUNK ((size_t)8 << 20)
static int staged_h2d(sv_cuda_ctx *ctx, void *dst, const void *host_src, size_t bytes)
{
    if (!ctx->stage || bytes > ctx->stage_bytes / 2) return 0;
    pthread_mutex_lock(&ctx->stage_lock);
    for (size_t off = 0; off < bytes; off += SV_STAGE_CHUNK) {
        const size_t n = bytes - off < SV_STAGE_CHUNK ? bytes - off : SV_STAGE_CHUNK;
        if (ctx->stage_pos + n > ctx->stage_bytes) {
            /* wrap: every copy out of the ring was queued before stage_done */
            if (!sv_cuda_ok(ctx, sv_cuda_wait_event(ctx->stage_done), "memcpy_h2d", "cudaEventSynchronize")) {
                pthread_mutex_unlock(&ctx->stage_lock);
                return 0; /* the caller copies all of it directly */
            }
            ctx->stage_pos = 0;
        }
        char *slot = ctx->stage + ctx->stage_pos;
        sv_host_copy(slot, (const char *)host_src + off, n);
        ctx->stage_pos += (n + 255) & ~(size_t)255;
        if (!sv_cuda_ok(ctx, cudaMemcpyAsync((char *)dst + off, slot, n, cudaMemcpyHostToDevice, ctx->stream),
                        "memcpy_h2d", "cudaMemcpyAsync") ||
            !sv_cuda_ok(ctx, cudaEventRecord(ctx->stage_done, ctx->stream), "memcpy_h2d", "cudaEventRecord"))
            break; /* recorded: finish reports it */
    }
    pthread_mutex_unlock(&ctx->stage_lock);
    return 1;
}

static void cuda_memcpy_h2d(void *dst, const void *host_src, size_t bytes)
{
    if (!bytes) return;
    sv_cuda_ctx *ctx = sv_cuda_current();
    if (!ctx) return;
    if (staged_h2d(ctx, dst, host_src, bytes)) return;
    if (sv_cuda_ok(ctx, cudaMemcpyAsync(dst, host_src, bytes, cudaMemcpyHostToDevice, ctx->stream),
                   "memcpy_h2d", "cudaMemcpyAsync"))
        /* the host source may be freed as soon as we return */
        sv_cuda_ok(ctx, sv_cuda_wait(ctx->stream), "memcpy_h2d", "cudaStreamSynchronize");
}

static void cuda_memcpy_d2h(void *host_dst, const void *src, size_t bytes)
{
    if (!bytes) return;
    sv_cuda_ctx *ctx = sv_cuda_current();
    if (!ctx) return;
    if (sv_cuda_ok(ctx, cudaMemcpyAsync(host_dst, src, bytes, cudaMemcpyDeviceToHost, ctx->stream),
                   "memcpy_d2h", "cudaMemcpyAsync"))
        sv_cuda_ok(ctx, sv_cuda_wait(ctx->stream), "memcpy_d2h", "cudaStreamSynchronize");
}

static void cuda_copy(void *dst, const void *src, size_t bytes)
{
    if (!bytes || dst == src) return;
    sv_cuda_ctx *ctx = sv_cuda_current();
    if (!ctx) return;
    const char *d = (const char *)dst, *s = (const char *)src;
    if (d < s + bytes && s < d + bytes) {
        /* overlapping ranges (memmove semantics, as on the CPU): through scratch */
        void *tmp = sv_cuda_scratch(ctx, bytes, "copy", 1);
        if (!tmp) return;
        if (sv_cuda_ok(ctx, cudaMemcpyAsync(tmp, src, bytes, cudaMemcpyDeviceToDevice, ctx->stream),
                       "copy", "cudaMemcpyAsync"))
            sv_cuda_ok(ctx, cudaMemcpyAsync(dst, tmp, bytes, cudaMemcpyDeviceToDevice, ctx->stream),
                       "copy", "cudaMemcpyAsync");
        sv_cuda_scratch_free(ctx, tmp);
        return;
    }
    sv_cuda_ok(ctx, cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, ctx->stream), "copy",
               "cudaMemcpyAsync");
}

static void cuda_zero(void *p, size_t bytes)
{
    if (!bytes) return;
    sv_cuda_ctx *ctx = sv_cuda_current();
    if (!ctx) return;
    sv_cuda_ok(ctx, cudaMemsetAsync(p, 0, bytes, ctx->stream), "zero", "cudaMemsetAsync");
}

/* ------------------------------------------------------------------------
 * Tables and the two entry points of core/backend.h
 * ------------------------------------------------------------------------ */
static void fill_table(sv_backend *t, const char *name, int device, int precision)
{
    memset(t, 0, sizeof *t);
    t->name = name;
    t->device = device;
    t->host_memory = 0;
    t->precision = precision;
    t->activate = cuda_activate;
    t->finish = cuda_finish;
    t->alloc = cuda_alloc;
    t->alloc_raw = cuda_alloc_raw;
    t->free = cuda_free;
    t->memcpy_h2d = cuda_memcpy_h2d;
    t->memcpy_d2h = cuda_memcpy_d2h;
    t->copy = cuda_copy;
    t->zero = cuda_zero;
    t->add = sv_cuda_add;
    t->mul = sv_cuda_mul;
    t->scale = sv_cuda_scale;
    t->residual = sv_cuda_residual;
    t->scale_rows = sv_cuda_scale_rows;
    t->transpose = sv_cuda_transpose;
    t->rows_copy = sv_cuda_rows_copy;
    t->rows_add = sv_cuda_rows_add;
    t->rows_add_seg = sv_cuda_rows_add_seg;
    t->video_patches = sv_cuda_video_patches;
    t->matmul_fwd = sv_cuda_matmul_fwd;
    t->matmul_bwd = sv_cuda_matmul_bwd;
    t->layernorm_fwd = sv_cuda_layernorm_fwd;
    t->layernorm_bwd = sv_cuda_layernorm_bwd;
    t->gelu_fwd = sv_cuda_gelu_fwd;
    t->gelu_bwd = sv_cuda_gelu_bwd;
    const int bf16 = precision == SV_PRECISION_BF16;
    t->attention_saved = bf16 ? sv_cuda_attention_saved_bf16 : sv_cuda_attention_saved;
    t->attention_fwd = bf16 ? sv_cuda_attention_fwd_bf16 : sv_cuda_attention_fwd;
    t->attention_bwd = bf16 ? sv_cuda_attention_bwd_bf16 : sv_cuda_attention_bwd;
    t->softmax_ce_fwd = sv_cuda_softmax_ce_fwd;
    t->softmax_ce_bwd = sv_cuda_softmax_ce_bwd;
    t->meanpool_fwd = sv_cuda_meanpool_fwd;
    t->meanpool_bwd = sv_cuda_meanpool_bwd;
    t->l2norm_fwd = sv_cuda_l2norm_fwd;
    t->l2norm_bwd = sv_cuda_l2norm_bwd;
    t->mse_fwd = sv_cuda_mse_fwd;
    t->mse_bwd = sv_cuda_mse_bwd;
    t->sumsq = sv_cuda_sumsq;
    t->adamw = sv_cuda_adamw;
    t->adamw_runs = sv_cuda_adamw_runs;
    if (bf16) {
        t->pin_bytes = sv_cuda_pin_bytes;
        t->layernorm_fwd_pin = sv_cuda_layernorm_fwd_pin;
        t->residual_layernorm_fwd_pin = sv_cuda_residual_layernorm_fwd_pin;
        t->gelu_fwd_pin = sv_cuda_gelu_fwd_pin;
        t->matmul_fwd_pin = sv_cuda_matmul_fwd_pin;
        t->matmul_bwd_pin = sv_cuda_matmul_bwd_pin;
        t->gelu_matmul_bwd = sv_cuda_gelu_matmul_bwd;
        t->matmul_bwd_rowscale = sv_cuda_matmul_bwd_rowscale;
        t->attention_pin = sv_cuda_attention_pin;
        t->matmul_fwd_pin_out = sv_cuda_matmul_fwd_pin_out;
        t->attention_fwd_pin = sv_cuda_attention_fwd_pin;
        t->attention_bwd_pin = sv_cuda_attention_bwd_pin;
        t->h_pin = sv_cuda_h_pin;
        t->gelu_fwd_pin_h = sv_cuda_gelu_fwd_pin_h;
        t->gelu_matmul_bwd_pin_h = sv_cuda_gelu_matmul_bwd_pin_h;
        t->o_pin = sv_cuda_o_pin;
        t->attention_fwd_pin_o = sv_cuda_attention_fwd_pin_o;
        t->attention_bwd_pin_o = sv_cuda_attention_bwd_pin_o;
    }
    t->weights_begin = sv_cuda_weights_begin;
    t->weights_end = sv_cuda_weights_end;
    t->queue = cuda_queue;
}

extern "C" int sv_cuda_device_count(void)
{
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess) {
        (void)cudaGetLastError();
        return 0;
    }
    return n > 0 ? n : 0;
}

extern "C" int sv_cuda_backend_get(int device, int precision, const sv_backend **out)
{
    if (!out) return sv_fail(SIMVTP_ERR_INVALID_ARG, "sv_cuda_backend_get: out is NULL");
    *out = NULL;
    if (precision != SV_PRECISION_FP32 && precision != SV_PRECISION_BF16)
        return sv_fail(SIMVTP_ERR_INVALID_ARG, "cuda:%d: unknown precision %d", device, precision);
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess) {
        (void)cudaGetLastError();
        return sv_fail(SIMVTP_ERR_UNSUPPORTED,
                       "backend cuda:%d: no usable CUDA driver or device (%s: %s)", device,
                       cudaGetErrorName(e), cudaGetErrorString(e));
    }
    if (device < 0 || device >= n)
        return sv_fail(SIMVTP_ERR_UNSUPPORTED,
                       "backend cuda:%d: no such device (%d CUDA device%s visible%s)", device, n,
                       n == 1 ? "" : "s", n ? "; ordinals start at 0" : "");
    if (device >= SV_CUDA_MAX_DEVICES)
        return sv_fail(SIMVTP_ERR_UNSUPPORTED, "backend cuda:%d: libsimvtp supports ordinals below %d",
                       device, SV_CUDA_MAX_DEVICES);

    pthread_mutex_lock(&g_lock);
    int rc = SIMVTP_OK;
    if (!g_ctx[device]) {
        int prev = -1;
        if (cudaGetDevice(&prev) != cudaSuccess) prev = -1;
        (void)cudaGetLastError();
        e = cudaSetDevice(device);
        if (e != cudaSuccess) {
            (void)cudaGetLastError();
            rc = sv_fail(status_of_cuda(e), "backend cuda:%d: cudaSetDevice failed: %s", device,
                         cudaGetErrorString(e));
        } else if ((rc = blas_load(device)) == SIMVTP_OK) {
            sv_cuda_ctx *ctx = NULL;
            rc = ctx_create(device, &ctx);
            if (rc == SIMVTP_OK) g_ctx[device] = ctx;
        }
        if (prev >= 0 && prev != device) cudaSetDevice(prev); /* leave the caller's device alone */
        (void)cudaGetLastError();
    }
    if (rc == SIMVTP_OK && !g_table_ready[device][precision]) {
        char *name = g_name[device][precision];
        if (precision == SV_PRECISION_FP32)
            snprintf(name, sizeof g_name[0][0], "cuda:%d:fp32", device);
        else
            snprintf(name, sizeof g_name[0][0], "cuda:%d", device);
        fill_table(&g_table[device][precision], name, device, precision);
        g_table_ready[device][precision] = 1;
    }
    if (rc == SIMVTP_OK) {
        *out = &g_table[device][precision];
        /* A thread that never activates binds to the latest table obtained. */
        const sv_backend *expected = nullptr;
        g_last.compare_exchange_strong(expected, *out);
    }
    pthread_mutex_unlock(&g_lock);
    return rc;
}

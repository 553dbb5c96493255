/* cuda/matmul.cu — the fully connected layer on the GPU:
 *   forward   out[M,N] = inp[M,K] . w[N,K]^T + bias[N]
 *   backward  dinp += dout . w;  dw += dout^T . inp;  dbias += column sums of dout
 * Row-major tensors are the column-major transposes cuBLAS sees, so every
 * product is issued as its transpose (see the key builders below). Products
 * run on cuBLASLt with one cached plan (descriptors + heuristic algorithm)
 * per shape/transposition/alignment/precision key, the forward bias through
 * the BIAS epilogue; where cuBLASLt offers no algorithm (or the bias is not
 * 16-byte aligned) the bias is written first and a plain cublasGemmEx adds
 * the product. dbias is a deterministic two-stage column reduction (no
 * atomics). Precision: CUBLAS_COMPUTE_32F (true fp32, no TF32) for
 * "cuda:N:fp32". For "cuda:N" each product reads bf16 copies of its two
 * operands, made just before it (one pass over each, to_bf16 below), with
 * fp32 accumulation, fp32 C/D and fp32 bias: cuBLASLt's bf16 tensor-core
 * kernels. (Given fp32 operands and CUBLAS_COMPUTE_32F_FAST_16BF, the
 * heuristic chose TF32 kernels on an H100, at about half the bf16 rate;
 * SIMVTP_CUDA_GEMM=fp32in keeps that path, for comparison.) Weights are not
 * converted per product: a bf16 mirror of all of them is made once per graph
 * call (below). */
#include <cuda_bf16.h>
#include <stdlib.h>
#include <string.h>

#include "cuda/colsum.cuh"
#include "cuda/cuda_ops.cuh"

/* ------------------------------------------------------------------------
 * Plans
 * ------------------------------------------------------------------------ */

/* log2 of the largest power of two (at most 16) dividing the address. 16
 * bytes is what the tensor-core kernels ask of an operand (128-bit loads,
 * TMA); stopping there gives operands that differ only in a coarser
 * alignment (a scratch copy, an arena slice, a slice of the weight mirror)
 * one plan, so one algorithm and the same bits. */
static uint8_t align_log2(const void *p)
{
    const uintptr_t a = (uintptr_t)p;
    uint8_t k = 0;
    while (k < 4 && (a & (((uintptr_t)2 << k) - 1)) == 0) k++;
    return k;
}

static uint32_t key_hash(const sv_mm_key *k)
{
    const uint8_t *p = (const uint8_t *)k;
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < sizeof *k; i++) {
        h ^= p[i];
        h *= 16777619u;
    }
    return h;
}

static void plan_release(sv_mm_plan *pl)
{
    if (pl->la) sv_blas.cublasLtMatrixLayoutDestroy(pl->la);
    if (pl->lb) sv_blas.cublasLtMatrixLayoutDestroy(pl->lb);
    if (pl->lc) sv_blas.cublasLtMatrixLayoutDestroy(pl->lc);
    if (pl->desc) sv_blas.cublasLtMatmulDescDestroy(pl->desc);
    memset(pl, 0, sizeof *pl);
}

void sv_cuda_matmul_cache_clear(sv_cuda_ctx *ctx)
{
    for (int i = 0; i < SV_MM_CACHE_SLOTS; i++)
        if (ctx->mm[i].used) plan_release(&ctx->mm[i]);
    ctx->mm_count = 0;
}

/* Builds the descriptors and asks the heuristic for one algorithm. Any
 * failure leaves pl->ok = 0 (the caller then uses cublasGemmEx). */
static void plan_init(sv_cuda_ctx *ctx, sv_mm_plan *pl, const sv_mm_key *k, const void *bias)
{
    memset(pl, 0, sizeof *pl);
    pl->used = 1;
    pl->key = *k;
    cublasLtMatmulPreference_t pref = NULL;
    cublasLtMatmulHeuristicResult_t res;
    int returned = 0;
    const int32_t opa = k->ta ? CUBLAS_OP_T : CUBLAS_OP_N, opb = k->tb ? CUBLAS_OP_T : CUBLAS_OP_N;
    /* stored (pre-op) shapes: op(A) is m x k, op(B) is k x n, C is m x n */
    const uint64_t a_rows = k->ta ? k->k : k->m, a_cols = k->ta ? k->m : k->k;
    const uint64_t b_rows = k->tb ? k->n : k->k, b_cols = k->tb ? k->k : k->n;
    const uint64_t ws = ctx->workspace_bytes;
    const uint32_t al_a = 1u << k->al_a, al_b = 1u << k->al_b, al_c = 1u << k->al_c;

    const cublasComputeType_t ct = k->ab16 ? CUBLAS_COMPUTE_32F : sv_cuda_compute_type(k->prec);
    const cudaDataType_t ab_type = k->ab16 ? CUDA_R_16BF : CUDA_R_32F;
    if (sv_blas.cublasLtMatmulDescCreate(&pl->desc, ct, CUDA_R_32F)) return;
    if (sv_blas.cublasLtMatmulDescSetAttribute(pl->desc, CUBLASLT_MATMUL_DESC_TRANSA, &opa, sizeof opa)) return;
    if (sv_blas.cublasLtMatmulDescSetAttribute(pl->desc, CUBLASLT_MATMUL_DESC_TRANSB, &opb, sizeof opb)) return;
    if (k->epi_bias) {
        const uint32_t epi = CUBLASLT_EPILOGUE_BIAS;
        if (sv_blas.cublasLtMatmulDescSetAttribute(pl->desc, CUBLASLT_MATMUL_DESC_EPILOGUE, &epi, sizeof epi))
            return;
        if (sv_blas.cublasLtMatmulDescSetAttribute(pl->desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias,
                                           sizeof bias))
            return;
    }
    if (sv_blas.cublasLtMatrixLayoutCreate(&pl->la, ab_type, a_rows, a_cols, k->lda)) return;
    if (sv_blas.cublasLtMatrixLayoutCreate(&pl->lb, ab_type, b_rows, b_cols, k->ldb)) return;
    if (sv_blas.cublasLtMatrixLayoutCreate(&pl->lc, CUDA_R_32F, (uint64_t)k->m, (uint64_t)k->n, k->ldc)) return;
    if (sv_blas.cublasLtMatmulPreferenceCreate(&pref)) return;
    if (!sv_blas.cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof ws) &&
        !sv_blas.cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, &al_a, sizeof al_a) &&
        !sv_blas.cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, &al_b, sizeof al_b) &&
        !sv_blas.cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, &al_c, sizeof al_c) &&
        !sv_blas.cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, &al_c, sizeof al_c)) {
        memset(&res, 0, sizeof res);
        cublasStatus_t s = sv_blas.cublasLtMatmulAlgoGetHeuristic(ctx->lt, pl->desc, pl->la, pl->lb, pl->lc,
                                                          pl->lc, pref, 1, &res, &returned);
        if (s == CUBLAS_STATUS_SUCCESS && returned > 0 && res.state == CUBLAS_STATUS_SUCCESS &&
            res.workspaceSize <= ctx->workspace_bytes) {
            pl->algo = res.algo;
            pl->ok = 1;
        }
    }
    sv_blas.cublasLtMatmulPreferenceDestroy(pref);
}

/* Runs D = alpha op(A) op(B) + beta C (+ bias) through a cached cuBLASLt
 * plan. Returns 1 when cuBLASLt took the product (a failure is recorded),
 * 0 when no cuBLASLt algorithm fits this key (nothing was queued). */
static int lt_matmul(sv_cuda_ctx *ctx, const sv_mm_key *k, const void *A, const void *B,
                     float *C, const float *bias, float alpha, float beta, const char *op)
{
    pthread_mutex_lock(&ctx->mm_lock);
    sv_mm_plan *pl = NULL, tmp;
    const uint32_t mask = SV_MM_CACHE_SLOTS - 1;
    uint32_t i = key_hash(k) & mask;
    for (uint32_t probe = 0; probe < SV_MM_CACHE_SLOTS; probe++, i = (i + 1) & mask) {
        sv_mm_plan *s = &ctx->mm[i];
        if (!s->used) {
            if (ctx->mm_count < SV_MM_CACHE_SLOTS * 3 / 4) {
                plan_init(ctx, s, k, bias);
                ctx->mm_count++;
                pl = s;
            }
            break;
        }
        if (!memcmp(&s->key, k, sizeof *k)) {
            pl = s;
            break;
        }
    }
    const int temporary = pl == NULL;   /* cache full: a plan for this call only */
    if (temporary) {
        plan_init(ctx, &tmp, k, bias);
        pl = &tmp;
    }
    int ran = 0;
    cublasStatus_t s = CUBLAS_STATUS_SUCCESS;
    if (pl->ok) {
        if (k->epi_bias)
            s = sv_blas.cublasLtMatmulDescSetAttribute(pl->desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias,
                                               sizeof bias);
        sv_cuda_count(&sv_cuda_stats.products);
        if (s == CUBLAS_STATUS_SUCCESS)
            s = sv_blas.cublasLtMatmul(ctx->lt, pl->desc, &alpha, A, pl->la, B, pl->lb, &beta, C, pl->lc, C,
                               pl->lc, &pl->algo, ctx->workspace, ctx->workspace_bytes, ctx->stream);
        ran = 1;
    }
    if (temporary) plan_release(&tmp);
    pthread_mutex_unlock(&ctx->mm_lock);
    if (ran) sv_cublas_ok(ctx, s, op, "cublasLtMatmul");
    return ran;
}

/* D = alpha op(A) op(B) + beta C: cuBLASLt, else cublasGemmEx (no bias). */
static void gemm(sv_cuda_ctx *ctx, const sv_mm_key *k, const void *A, const void *B, float *C,
                 float alpha, float beta, const char *op)
{
    if (lt_matmul(ctx, k, A, B, C, NULL, alpha, beta, op)) return;
    const cudaDataType_t ab_type = k->ab16 ? CUDA_R_16BF : CUDA_R_32F;
    cublasStatus_t s = sv_blas.cublasGemmEx(ctx->blas, k->ta ? CUBLAS_OP_T : CUBLAS_OP_N,
                                    k->tb ? CUBLAS_OP_T : CUBLAS_OP_N, k->m, k->n, k->k, &alpha, A,
                                    ab_type, k->lda, B, ab_type, k->ldb, &beta, C, CUDA_R_32F,
                                    k->ldc, k->ab16 ? CUBLAS_COMPUTE_32F : sv_cuda_compute_type(k->prec),
                                    CUBLAS_GEMM_DEFAULT);
    sv_cublas_ok(ctx, s, op, "cublasGemmEx");
}

static sv_mm_key make_key(int m, int n, int k, int lda, int ldb, int ldc, int ta, int tb, int prec,
                          const void *A, const void *B, const void *C, int ab16)
{
    sv_mm_key key;
    memset(&key, 0, sizeof key);
    key.m = m; key.n = n; key.k = k;
    key.lda = lda; key.ldb = ldb; key.ldc = ldc;
    key.ta = (uint8_t)ta; key.tb = (uint8_t)tb;
    key.prec = (uint8_t)prec;
    key.al_a = align_log2(A); key.al_b = align_log2(B); key.al_c = align_log2(C);
    key.ab16 = (uint8_t)ab16;
    return key;
}

/* ------------------------------------------------------------------------
 * bf16 operand copies (the bf16 table)
 * ------------------------------------------------------------------------ */
static int bf16_operands(int prec)
{
    static int mode = -1; /* -1 unread, 0 fp32 operands (SIMVTP_CUDA_GEMM=fp32in), 1 bf16 */
    if (mode < 0) {
        const char *e = getenv("SIMVTP_CUDA_GEMM");
        mode = (e && !strcmp(e, "fp32in")) ? 0 : 1;
    }
    return mode && prec == SV_PRECISION_BF16;
}

/* dst[i] = bf16(src[i]) (round to nearest even); four at a time when src is
 * 16-byte aligned (dst always is: it comes from the pool) */
__global__ void to_bf16_kernel(__nv_bfloat16 *dst, const float *src, size_t n, int vec)
{
    const size_t stride = (size_t)gridDim.x * blockDim.x, tid = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    size_t done = 0;
    if (vec) {
        const size_t n4 = n / 4;
        for (size_t i = tid; i < n4; i += stride) {
            const float4 v = reinterpret_cast<const float4 *>(src)[i];
            __nv_bfloat162 lo = __floats2bfloat162_rn(v.x, v.y), hi = __floats2bfloat162_rn(v.z, v.w);
            uint2 u;
            u.x = *reinterpret_cast<uint32_t *>(&lo);
            u.y = *reinterpret_cast<uint32_t *>(&hi);
            reinterpret_cast<uint2 *>(dst)[i] = u;
        }
        done = n4 * 4;
    }
    for (size_t i = done + tid; i < n; i += stride) dst[i] = __float2bfloat16_rn(src[i]);
}

/* A bf16 copy of src[n] in stream-ordered scratch (free with
 * sv_cuda_scratch_free after the work that reads it is queued); NULL on
 * failure (recorded for finish). Also used by flash_attention_v2.cu. */
__nv_bfloat16 *sv_cuda_to_bf16(sv_cuda_ctx *ctx, const float *src, size_t n, const char *op)
{
    __nv_bfloat16 *p = (__nv_bfloat16 *)sv_cuda_scratch(ctx, (n ? n : 1) * sizeof(__nv_bfloat16), op, 1);
    if (!p) return NULL;
    const int vec = ((uintptr_t)src & 15) == 0;
    to_bf16_kernel<<<sv_blocks_for(ctx, vec ? n / 4 + 1 : n, 256), 256, 0, ctx->stream>>>(p, src, n, vec);
    if (!SV_LAUNCH_OK(ctx, op)) {
        sv_cuda_scratch_free(ctx, p);
        return NULL;
    }
    return p;
}

/* ------------------------------------------------------------------------
 * The weight mirror: bf16(params) made once per graph call
 * (sv_backend.weights_begin/end), so that a weight is not converted again
 * at every product that reads it (four encoder passes and the backward read
 * each encoder weight eight times per pretraining step). The values are
 * those to_bf16 would make, so the results do not change.
 * SIMVTP_CUDA_WEIGHT_MIRROR=0 turns it off (for comparison).
 * ------------------------------------------------------------------------ */
static int mirror_enabled(void)
{
    const char *e = getenv("SIMVTP_CUDA_WEIGHT_MIRROR"); /* read per call: tests compare both */
    return !(e && !strcmp(e, "0"));
}

void sv_cuda_weights_begin(const float *params, size_t n)
{
    sv_cuda_ctx *ctx = sv_cuda_current();
    if (!ctx || n == 0 || !params || !mirror_enabled() || !bf16_operands(sv_cuda_precision())) return;
    pthread_mutex_lock(&ctx->mm_lock);
    ctx->wm_valid = 0;
    if (ctx->wm_cap < n) {
        /* grow; a failure (no error recorded) just leaves the products
         * converting their operands themselves */
        sv_cuda_scratch_free(ctx, ctx->wm_buf);
        ctx->wm_buf = sv_cuda_scratch(ctx, n * sizeof(__nv_bfloat16), "weights_begin", 0);
        ctx->wm_cap = ctx->wm_buf ? n : 0;
    }
    if (ctx->wm_buf) {
        const int vec = ((uintptr_t)params & 15) == 0;
        to_bf16_kernel<<<sv_blocks_for(ctx, vec ? n / 4 + 1 : n, 256), 256, 0, ctx->stream>>>(
            (__nv_bfloat16 *)ctx->wm_buf, params, n, vec);
        if (SV_LAUNCH_OK(ctx, "weights_begin")) {
            ctx->wm_src = params;
            ctx->wm_n = n;
            ctx->wm_valid = 1;
        }
    }
    pthread_mutex_unlock(&ctx->mm_lock);
}

void sv_cuda_weights_end(void)
{
    sv_cuda_ctx *ctx = sv_cuda_current();
    if (!ctx) return;
    pthread_mutex_lock(&ctx->mm_lock);
    ctx->wm_valid = 0;
    pthread_mutex_unlock(&ctx->mm_lock);
}

/* The bf16 operand for src[n]: the mirror's slice when src lies in the
 * mirrored weights, else a fresh copy, returned in *owned as well (free it
 * with sv_cuda_scratch_free after the product is queued). NULL on failure. */
static const __nv_bfloat16 *operand16(sv_cuda_ctx *ctx, const float *src, size_t n, const char *op,
                                      __nv_bfloat16 **owned)
{
    *owned = NULL;
    const __nv_bfloat16 *p = NULL;
    pthread_mutex_lock(&ctx->mm_lock);
    if (ctx->wm_valid && src >= ctx->wm_src && n <= ctx->wm_n && (size_t)(src - ctx->wm_src) <= ctx->wm_n - n)
        p = (const __nv_bfloat16 *)ctx->wm_buf + (src - ctx->wm_src);
    pthread_mutex_unlock(&ctx->mm_lock);
    /* a slice off 16 bytes (vtm_head.weight follows a 2-float bias) would
     * get a plan of its own, maybe another algorithm: copy it instead */
    if (p && ((uintptr_t)p & 15)) p = NULL;
    if (p) return p;
    *owned = sv_cuda_to_bf16(ctx, src, n, op);
    return *owned;
}

/* ------------------------------------------------------------------------
 * Kernels: bias broadcast (the column sums are in colsum.cuh)
 * ------------------------------------------------------------------------ */

/* out[m,:] = bias (bias NULL: 0) for every row m < M. */
__global__ void bias_rows_kernel(float *out, const float *bias, int M, int N)
{
    for (int m = blockIdx.y; m < M; m += gridDim.y)
        for (int n = blockIdx.x * blockDim.x + threadIdx.x; n < N; n += gridDim.x * blockDim.x)
            out[(size_t)m * N + n] = bias ? bias[n] : 0.0f;
}

/* The counters of the one-launch column sums for `tiles` column tiles: the
 * context's zeroed array (made on first use), or NULL (more tiles than it
 * holds, no memory, or SIMVTP_CUDA_COLSUM=2pass: the partial sums then go
 * through colsum_final_kernel, the same sums in a second launch). */
#define SV_CS_COUNTERS 8192
unsigned *sv_cuda_colsum_counters(sv_cuda_ctx *ctx, size_t tiles)
{
    const char *e = getenv("SIMVTP_CUDA_COLSUM"); /* read per call: tests compare both */
    if (tiles > SV_CS_COUNTERS || (e && !strcmp(e, "2pass"))) return NULL;
    pthread_mutex_lock(&ctx->mm_lock);
    if (!ctx->cs_counters) {
        unsigned *p = (unsigned *)sv_cuda_scratch(ctx, SV_CS_COUNTERS * sizeof(unsigned), "colsum", 0);
        if (p && cudaMemsetAsync(p, 0, SV_CS_COUNTERS * sizeof(unsigned), ctx->stream) == cudaSuccess)
            ctx->cs_counters = p;
        else if (p)
            sv_cuda_scratch_free(ctx, p);
        (void)cudaGetLastError();
    }
    unsigned *c = ctx->cs_counters;
    pthread_mutex_unlock(&ctx->mm_lock);
    return c;
}

/* Four columns per thread for an M x N column sum? On an H100 (2026-11-27,
 * bench_ops and the step's kernel profile) the four-column kernels gained on
 * wide (N >= 1024) or tall (M >= 8192) matrices and lost on narrow short
 * ones (a LayerNorm's dw/db at C 768 over 3024 rows: 64-thread blocks, too
 * few loads in flight). The same bits either way. SIMVTP_CUDA_COLSUM_VEC=0:
 * never, 1: always (read per call: tests compare). */
int sv_cuda_colsum_vec(long M, int N)
{
    const char *e = getenv("SIMVTP_CUDA_COLSUM_VEC");
    if (e && !strcmp(e, "0")) return 0;
    if (e && !strcmp(e, "1")) return 1;
    return N >= 1024 || M >= 8192;
}

/* Rows per chunk and chunks of a column sum over M rows (gridDim.y <= 65535). */
void sv_cuda_colsum_chunks(long M, int *rows_per_chunk, int *nchunks)
{
    int r = CS_ROWS;
    const long need = (M + 65534) / 65535;
    if (need > r) r = (int)((need + CS_TY - 1) / CS_TY * CS_TY);
    *rows_per_chunk = r;
    *nchunks = (int)((M + r - 1) / r);
}

/* dst[N] += column sums of x[M,N] (x: a colsum.cuh loader); deterministic
 * for given M and N. x16 (or NULL): also write bf16(x) there, as to_bf16
 * would. 0 when queued. */
template <typename Load>
static int colsum_add(sv_cuda_ctx *ctx, float *dst, Load x, int M, int N, const char *op,
                      __nv_bfloat16 *x16)
{
    int rows_per_chunk, nchunks;
    sv_cuda_colsum_chunks(M, &rows_per_chunk, &nchunks);
    float *partial = (float *)sv_cuda_scratch(ctx, (size_t)nchunks * N * sizeof(float), op, 1);
    if (!partial) return -1;
    int rc = -1;
    dim3 grid((unsigned)((N + CS_TX - 1) / CS_TX), (unsigned)nchunks);
    unsigned *counters = sv_cuda_colsum_counters(ctx, grid.x);
    if (sv_cuda_colsum_vec(M, N) && cs_vec_ok(x, N, x16))
        colsum_partial_kernel<CS_VEC><<<grid, dim3(CS_TX / CS_VEC, CS_TY), 0, ctx->stream>>>(
            x, M, N, rows_per_chunk, partial, x16, dst, counters);
    else
        colsum_partial_kernel<1><<<grid, dim3(CS_TX, CS_TY), 0, ctx->stream>>>(x, M, N, rows_per_chunk, partial,
                                                                             x16, dst, counters);
    if (SV_LAUNCH_OK(ctx, op)) {
        if (!counters)
            colsum_final_kernel<<<sv_blocks_for(ctx, (size_t)N, 256), 256, 0, ctx->stream>>>(partial, dst, NULL,
                                                                                           NULL, nchunks, N);
        if (counters || SV_LAUNCH_OK(ctx, op)) rc = 0;
    }
    sv_cuda_scratch_free(ctx, partial);
    return rc;
}

/* ------------------------------------------------------------------------
 * The ops
 * ------------------------------------------------------------------------ */
/* inp16: inp is already bf16 (a product input, core/backend.h pin_bytes;
 * only in the bf16 table with bf16 operands) */
static void matmul_fwd(float *out, const void *inp, int inp16, const float *w, const float *bias,
                       int M, int K, int N)
{
    sv_cuda_ctx *ctx = sv_cuda_current();
    if (!ctx || M <= 0 || N <= 0) return;
    const int prec = sv_cuda_precision();
    if (K <= 0) {
        /* empty reduction: out = bias (or 0) */
        dim3 grid(sv_min_u((size_t)(N + 255) / 256, 1024), sv_min_u((size_t)M, 65535));
        bias_rows_kernel<<<grid, 256, 0, ctx->stream>>>(out, bias, M, N);
        SV_LAUNCH_OK(ctx, "matmul_fwd");
        return;
    }
    const int ab16 = bf16_operands(prec);
    if (inp16 && !ab16) {
        sv_cuda_fail(ctx, SIMVTP_ERR_INTERNAL, "matmul_fwd: a bf16 input without bf16 products");
        return;
    }
    const void *A = w, *B = inp;
    __nv_bfloat16 *w16 = NULL, *inp_copy = NULL; /* owned copies */
    if (ab16) {
        A = operand16(ctx, w, (size_t)N * K, "matmul_fwd", &w16);
        B = !A ? NULL : inp16 ? inp : operand16(ctx, (const float *)inp, (size_t)M * K, "matmul_fwd", &inp_copy);
        if (!B) {
            sv_cuda_scratch_free(ctx, w16);
            return;
        }
    }
    /* column-major: out^T[N,M] = (w as K x N)^T . (inp as K x M) */
    sv_mm_key key = make_key(N, M, K, K, K, N, 1, 0, prec, A, B, out, ab16);
    int done = 0;
    if (bias && ((uintptr_t)bias & 15) == 0) {
        key.epi_bias = 1;
        done = lt_matmul(ctx, &key, A, B, out, bias, 1.0f, 0.0f, "matmul_fwd");
        key.epi_bias = 0;
    }
    if (!done) {
        float beta = 0.0f;
        if (bias) {
            dim3 grid(sv_min_u((size_t)(N + 255) / 256, 1024), sv_min_u((size_t)M, 65535));
            bias_rows_kernel<<<grid, 256, 0, ctx->stream>>>(out, bias, M, N);
            beta = 1.0f;
        }
        if (!bias || SV_LAUNCH_OK(ctx, "matmul_fwd")) gemm(ctx, &key, A, B, out, 1.0f, beta, "matmul_fwd");
    }
    sv_cuda_scratch_free(ctx, w16);
    sv_cuda_scratch_free(ctx, inp_copy);
}

/* The backward's two products from dout (fp32 operands) or, ab16, from its
 * bf16 copy dout16: dinp = dout . w (overwritten), dw += dout^T . inp. */
static void bwd_products(sv_cuda_ctx *ctx, int prec, int ab16, float *dinp, float *dw, const float *dout,
                         const __nv_bfloat16 *dout16, const void *inp, int inp16, const float *w, int M,
                         int K, int N)
{
    if (dinp) {
        /* dinp^T[K,M] = (w as K x N) . (dout as N x M), overwritten */
        __nv_bfloat16 *w16 = NULL;
        const void *A = ab16 ? (const void *)operand16(ctx, w, (size_t)N * K, "matmul_bwd (dinp)", &w16) : w;
        const void *B = ab16 ? (const void *)dout16 : dout;
        if (A) {
            sv_mm_key key = make_key(K, M, N, K, N, K, 0, 0, prec, A, B, dinp, ab16);
            gemm(ctx, &key, A, B, dinp, 1.0f, 0.0f, "matmul_bwd (dinp)");
        }
        sv_cuda_scratch_free(ctx, w16);
    }
    if (dw) {
        /* dw^T[K,N] += (inp as K x M) . (dout as N x M)^T */
        __nv_bfloat16 *inp_copy = NULL;
        const void *A = !ab16 || inp16 ? inp
                                       : (const void *)operand16(ctx, (const float *)inp, (size_t)M * K,
                                                                 "matmul_bwd (dw)", &inp_copy);
        const void *B = ab16 ? (const void *)dout16 : dout;
        if (A) {
            sv_mm_key key = make_key(K, N, M, K, N, K, 0, 1, prec, A, B, dw, ab16);
            gemm(ctx, &key, A, B, dw, 1.0f, 1.0f, "matmul_bwd (dw)");
        }
        sv_cuda_scratch_free(ctx, inp_copy);
    }
}

static void matmul_bwd(float *dinp, float *dw, float *dbias, const float *dout, const void *inp,
                       int inp16, const float *w, int M, int K, int N)
{
    sv_cuda_ctx *ctx = sv_cuda_current();
    if (!ctx || M <= 0) return;
    if (N <= 0) { /* an empty product: dinp = 0 */
        if (dinp && K > 0)
            sv_cuda_ok(ctx, cudaMemsetAsync(dinp, 0, (size_t)M * K * sizeof(float), ctx->stream),
                       "matmul_bwd", "cudaMemsetAsync");
        return;
    }
    const int prec = sv_cuda_precision();
    if (K > 0 && (dinp || dw)) {
        const int ab16 = bf16_operands(prec);
        if (inp16 && !ab16) {
            sv_cuda_fail(ctx, SIMVTP_ERR_INTERNAL, "matmul_bwd: a bf16 input without bf16 products");
            return;
        }
        __nv_bfloat16 *dout16 = NULL;
        if (ab16 && dbias) {
            /* one pass over dout: its bf16 copy and the bias gradient */
            dout16 = (__nv_bfloat16 *)sv_cuda_scratch(ctx, (size_t)M * N * sizeof(__nv_bfloat16),
                                                      "matmul_bwd", 1);
            if (!dout16) return;
            if (colsum_add(ctx, dbias, cs_plain{dout}, M, N, "matmul_bwd (dbias)", dout16) != 0) {
                sv_cuda_scratch_free(ctx, dout16);
                return;
            }
            dbias = NULL;
        }
        if (ab16 && !dout16 && !(dout16 = sv_cuda_to_bf16(ctx, dout, (size_t)M * N, "matmul_bwd"))) return;
        bwd_products(ctx, prec, ab16, dinp, dw, dout, dout16, inp, inp16, w, M, K, N);
        sv_cuda_scratch_free(ctx, dout16);
    }
    if (dbias) (void)colsum_add(ctx, dbias, cs_plain{dout}, M, N, "matmul_bwd (dbias)", NULL);
}

void sv_cuda_matmul_fwd(float *out, const float *inp, const float *w, const float *bias,
                        int M, int K, int N)
{
    matmul_fwd(out, inp, 0, w, bias, M, K, N);
}

void sv_cuda_matmul_bwd(float *dinp, float *dw, float *dbias, const float *dout,
                        const float *inp, const float *w, int M, int K, int N)
{
    matmul_bwd(dinp, dw, dbias, dout, inp, 0, w, M, K, N);
}

/* ------------------------------------------------------------------------
 * Product inputs stored as bf16 (core/backend.h pin_bytes): the LayerNorm
 * and GELU kernels write bf16(x) where they wrote x, the value to_bf16
 * would make of it, and the products read it as they read that copy: the
 * same bits, one pass and one launch fewer per product (forward and
 * backward), half the bytes kept. SIMVTP_CUDA_PIN16=0 turns it off (read
 * once per encoder pass; for comparison).
 * ------------------------------------------------------------------------ */
size_t sv_cuda_pin_bytes(void)
{
    const char *e = getenv("SIMVTP_CUDA_PIN16");
    if (e && !strcmp(e, "0")) return 0;
    return bf16_operands(sv_cuda_precision()) ? sizeof(__nv_bfloat16) : 0;
}

void sv_cuda_matmul_fwd_pin(float *out, const void *inp, const float *w, const float *bias,
                            int M, int K, int N)
{
    matmul_fwd(out, inp, 1, w, bias, M, K, N);
}

void sv_cuda_matmul_bwd_pin(float *dinp, float *dw, float *dbias, const float *dout,
                            const void *inp, const float *w, int M, int K, int N)
{
    matmul_bwd(dinp, dw, dbias, dout, inp, 1, w, M, K, N);
}

/* The product into fp32 scratch, then one to_bf16 pass into out: the values
 * the fused attention would make of an fp32 qkv itself. (cuBLASLt writing
 * bf16 D itself would need a bf16 bias: with the fp32 one it offered no
 * algorithm on an H100, 2026-11-27.) */
void sv_cuda_matmul_fwd_pin_out(void *out, const void *inp, const float *w, const float *bias,
                                int M, int K, int N)
{
    sv_cuda_ctx *ctx = sv_cuda_current();
    if (!ctx || M <= 0 || N <= 0) return;
    const size_t n = (size_t)M * N;
    float *tmp = (float *)sv_cuda_scratch(ctx, n * sizeof(float), "matmul_fwd (bf16 out)", 1);
    if (!tmp) return;
    matmul_fwd(tmp, inp, 1, w, bias, M, K, N);
    const int vec = ((uintptr_t)out & 7) == 0; /* its 4-wide stores are 8 bytes */
    to_bf16_kernel<<<sv_blocks_for(ctx, vec ? n / 4 + 1 : n, 256), 256, 0, ctx->stream>>>(
        (__nv_bfloat16 *)out, tmp, n, vec);
    SV_LAUNCH_OK(ctx, "matmul_fwd (bf16 out)");
    sv_cuda_scratch_free(ctx, tmp);
}

/* The fused backward products (gelu_matmul_bwd, matmul_bwd_rowscale):
 * whether the switch `env` and the case allow them, and the products from
 * the bf16 copy of load's values, written by the bias gradient's pass. */
static int fused_bwd_ok(const char *env, int prec, const float *dbias, const float *dinp, const float *dw, int K,
                        int N)
{
    const char *e = getenv(env); /* read per call: tests compare both */
    return !(e && !strcmp(e, "0")) && bf16_operands(prec) && dbias && K > 0 && N > 0 && (dinp || dw);
}

template <typename Load>
static void fused_bwd(sv_cuda_ctx *ctx, int prec, Load load, float *dinp, float *dw, float *dbias, const void *inp,
                      int inp16, const float *w, int M, int K, int N, const char *op)
{
    __nv_bfloat16 *dout16 = (__nv_bfloat16 *)sv_cuda_scratch(ctx, (size_t)M * N * sizeof(__nv_bfloat16), op, 1);
    if (!dout16) return;
    if (colsum_add(ctx, dbias, load, M, N, op, dout16) == 0)
        bwd_products(ctx, prec, 1, dinp, dw, NULL, dout16, inp, inp16, w, M, K, N);
    sv_cuda_scratch_free(ctx, dout16);
}

/* ------------------------------------------------------------------------
 * The fc1 product's backward with the GELU backward folded in (core/backend.h
 * gelu_matmul_bwd): dout = gelu_bwd(h, dg) is made inside the bias
 * gradient's column sum, which writes only its bf16 copy, the operand both
 * products read; the fp32 dout is never stored (16 bytes per element less
 * traffic, one launch fewer). The same values as gelu_bwd then matmul_bwd
 * (cuda/gelu_math.cuh), so the same bits. SIMVTP_CUDA_GELU_FUSE=0 runs
 * those two instead (for comparison); so do shapes or tables it does not
 * cover (no bias, empty, fp32 products).
 * ------------------------------------------------------------------------ */
static void gelu_bwd_of(float *dh, const float *h, const float *dg, size_t n) { sv_cuda_gelu_bwd(dh, h, dg, n); }
static void gelu_bwd_of(float *dh, const __nv_bfloat16 *h, const float *dg, size_t n)
{
    sv_cuda_gelu_bwd_h16(dh, h, dg, n);
}

/* h in float, or in bf16 (h_pin, below) */
template <typename H>
static void gelu_matmul_bwd(float *dinp, float *dw, float *dbias, const float *dg, const H *h, const void *inp,
                            const float *w, int M, int K, int N)
{
    sv_cuda_ctx *ctx = sv_cuda_current();
    if (!ctx || M <= 0) return;
    const int prec = sv_cuda_precision();
    const size_t n = (size_t)M * (N > 0 ? N : 0);
    if (!fused_bwd_ok("SIMVTP_CUDA_GELU_FUSE", prec, dbias, dinp, dw, K, N)) {
        float *dh = (float *)sv_cuda_scratch(ctx, (n ? n : 1) * sizeof(float), "gelu_bwd", 1);
        if (!dh) return;
        gelu_bwd_of(dh, h, dg, n);
        matmul_bwd(dinp, dw, dbias, dh, inp, 1, w, M, K, N);
        sv_cuda_scratch_free(ctx, dh);
        return;
    }
    fused_bwd(ctx, prec, cs_gelu_grad<H>{dg, h}, dinp, dw, dbias, inp, 1, w, M, K, N, "matmul_bwd (gelu)");
}

void sv_cuda_gelu_matmul_bwd(float *dinp, float *dw, float *dbias, const float *dg, const float *h,
                             const void *inp, const float *w, int M, int K, int N)
{
    gelu_matmul_bwd(dinp, dw, dbias, dg, h, inp, w, M, K, N);
}

/* ------------------------------------------------------------------------
 * The fc1 output h kept in bf16 (core/backend.h h_pin; opt-in,
 * SIMVTP_CUDA_H16=1, read once per encoder pass): the product writes it
 * through matmul_fwd_pin_out, GELU reads it (gelu.cu) and the backward
 * above reads it, widened, where it read the fp32 h: 8 bytes per element
 * of the [rows, 4C] fc1 output kept instead of 16 (a block then keeps 38
 * bytes per token and channel instead of 46; PyTorch's autocast, which
 * stores h in bf16 too, about 36). Not the same bits as the fp32 h: GELU
 * and its derivative see h rounded. Not the default: emulated on the CPU
 * (every product operand, q/k/v and dO rounded to bf16), the fine-tuning
 * model's gradient error against fp32 grows from 1.1e-2 to 1.7e-2 (small
 * preset, 4 clips; worst tensor 2.5e-2 -> 4.8e-2), close to
 * test_cuda_step's bf16 thresholds; pretraining's hardly moves.
 * ------------------------------------------------------------------------ */
int sv_cuda_h_pin(void)
{
    const char *e = getenv("SIMVTP_CUDA_H16");
    return e && !strcmp(e, "1") && sv_cuda_pin_bytes() == sizeof(__nv_bfloat16);
}

void sv_cuda_gelu_matmul_bwd_pin_h(float *dinp, float *dw, float *dbias, const float *dg, const void *h,
                                   const void *inp, const float *w, int M, int K, int N)
{
    gelu_matmul_bwd(dinp, dw, dbias, dg, (const __nv_bfloat16 *)h, inp, w, M, K, N);
}

/* ------------------------------------------------------------------------
 * A drop-path branch's backward (core/backend.h matmul_bwd_rowscale): the
 * bias gradient's pass multiplies each dout row by its sample's scale on
 * the way and writes the bf16 copy of that, which is all the products
 * read; the scaled fp32 dout is never stored (one pass over dout and one
 * launch fewer than scale_rows first). The same product scale_rows makes,
 * so the same bits. SIMVTP_CUDA_ROWSCALE_FUSE=0 runs scale_rows then
 * matmul_bwd instead (for comparison); so do the cases it does not cover
 * (no bias, empty, fp32 products).
 * ------------------------------------------------------------------------ */
void sv_cuda_matmul_bwd_rowscale(float *dinp, float *dw, float *dbias, const float *dout, const float *rowscale,
                                 int T, const void *inp, int inp_pin, const float *w, int M, int K, int N)
{
    sv_cuda_ctx *ctx = sv_cuda_current();
    if (!ctx || M <= 0 || T <= 0) return;
    const int prec = sv_cuda_precision();
    const size_t n = (size_t)M * (N > 0 ? N : 0);
    if (!fused_bwd_ok("SIMVTP_CUDA_ROWSCALE_FUSE", prec, dbias, dinp, dw, K, N)) {
        float *tmp = (float *)sv_cuda_scratch(ctx, (n ? n : 1) * sizeof(float), "scale_rows", 1);
        if (!tmp) return;
        if (n) sv_cuda_scale_rows(tmp, dout, rowscale, M / T, T, N);
        matmul_bwd(dinp, dw, dbias, tmp, inp, inp_pin, w, M, K, N);
        sv_cuda_scratch_free(ctx, tmp);
        return;
    }
    fused_bwd(ctx, prec, cs_rowscale{dout, rowscale, T}, dinp, dw, dbias, inp, inp_pin, w, M, K, N,
              "matmul_bwd (rowscale)");
}

/* cuda/cuda_ops.cuh — the CUDA implementations of the backend ops
 * (core/backend.h gives each contract; cpu/cpu_ops.h the shapes and
 * numerics they match). Each works on the calling thread's current context
 * (cuda_common.cuh) and queues its work on the context's stream.
 * backend_cuda.cu puts them into the sv_backend tables. */
#ifndef SV_CUDA_OPS_CUH
#define SV_CUDA_OPS_CUH

#include <cuda_bf16.h>

#include "cuda/cuda_common.cuh"

/* elementwise.cu */
void sv_cuda_add(float *y, const float *x, size_t n);
void sv_cuda_mul(float *out, const float *a, const float *b, size_t n);
void sv_cuda_scale(float *y, float s, size_t n);
void sv_cuda_residual(float *y, const float *x, const float *rowscale, int B, int N, int C);
void sv_cuda_scale_rows(float *out, const float *in, const float *rowscale, int B, int N, int C);
void sv_cuda_transpose(float *out, const float *in, int R, int C);

/* rows.cu */
void sv_cuda_rows_copy(float *dst, const int32_t *didx, const float *src, const int32_t *sidx,
                       int n, int C);
void sv_cuda_rows_add(float *dst, const int32_t *didx, const float *src, const int32_t *sidx,
                      int n, int C);
void sv_cuda_rows_add_seg(float *dst, const int32_t *seg_dst, const int32_t *seg_off,
                          const int32_t *rows, int nseg, const float *src, int C);

/* video.cu */
void sv_cuda_video_patches(const simvtp_config *c, const uint8_t *frames, int B, float *patches,
                           float *targets, float *stats);

/* matmul.cu */
void sv_cuda_matmul_fwd(float *out, const float *inp, const float *w, const float *bias,
                        int M, int K, int N);
void sv_cuda_matmul_bwd(float *dinp, float *dw, float *dbias, const float *dout,
                        const float *inp, const float *w, int M, int K, int N);
/* A bf16 copy of src[n] in stream-ordered scratch (sv_cuda_scratch_free it
 * after queuing its readers); NULL on failure, recorded for finish. */
__nv_bfloat16 *sv_cuda_to_bf16(sv_cuda_ctx *ctx, const float *src, size_t n, const char *op);
/* Product inputs (core/backend.h pin_bytes): 2 in the bf16 table with bf16
 * products (SIMVTP_CUDA_PIN16=0: 0), else 0; the products with a bf16 inp,
 * and the two forwards that write one (layernorm.cu, gelu.cu). */
size_t sv_cuda_pin_bytes(void);
void sv_cuda_matmul_fwd_pin(float *out, const void *inp, const float *w, const float *bias,
                            int M, int K, int N);
void sv_cuda_matmul_bwd_pin(float *dinp, float *dw, float *dbias, const float *dout,
                            const void *inp, const float *w, int M, int K, int N);
void sv_cuda_layernorm_fwd_pin(void *out, float *mean, float *rstd, const float *inp,
                               const float *w, const float *b, int M, int C, float eps);
void sv_cuda_residual_layernorm_fwd_pin(float *y, const float *x, const float *rowscale, void *out,
                                        float *mean, float *rstd, const float *w, const float *b, int B,
                                        int N, int C, float eps);
void sv_cuda_gelu_fwd_pin(void *out, const float *inp, size_t n);
/* the fc1 output h kept in bf16 as well (core/backend.h h_pin): whether
 * (opt-in: SIMVTP_CUDA_H16=1), GELU from it, the fc1 backward from it */
int sv_cuda_h_pin(void);
void sv_cuda_gelu_fwd_pin_h(void *out, const void *h, size_t n);
void sv_cuda_gelu_bwd_h16(float *dinp, const void *h, const float *dout, size_t n);
void sv_cuda_gelu_matmul_bwd_pin_h(float *dinp, float *dw, float *dbias, const float *dg, const void *h,
                                   const void *inp, const float *w, int M, int K, int N);
/* matmul_bwd[_pin] with dout's rows scaled per sample (core/backend.h matmul_bwd_rowscale) */
void sv_cuda_matmul_bwd_rowscale(float *dinp, float *dw, float *dbias, const float *dout, const float *rowscale,
                                 int T, const void *inp, int inp_pin, const float *w, int M, int K, int N);
/* matmul_bwd_pin with dout = gelu_bwd(h, dg) (core/backend.h gelu_matmul_bwd) */
void sv_cuda_gelu_matmul_bwd(float *dinp, float *dw, float *dbias, const float *dg, const float *h,
                             const void *inp, const float *w, int M, int K, int N);
/* out = bf16(inp . w^T + bias), inp in bf16: the qkv product when qkv is kept in bf16 */
void sv_cuda_matmul_fwd_pin_out(void *out, const void *inp, const float *w, const float *bias,
                                int M, int K, int N);
/* The one-launch column sums (colsum.cuh): the context's zeroed counters for
 * `tiles` column tiles, or NULL (then a second launch sums the partials);
 * rows per chunk and chunks for M rows. */
unsigned *sv_cuda_colsum_counters(sv_cuda_ctx *ctx, size_t tiles);
void sv_cuda_colsum_chunks(long M, int *rows_per_chunk, int *nchunks);
/* whether an M x N column sum takes the four-column kernels (colsum.cuh;
 * by shape; SIMVTP_CUDA_COLSUM_VEC=0 never, 1 always; the same bits) */
int sv_cuda_colsum_vec(long M, int N);
/* Releases the context's cached matmul plans (cuBLASLt descriptors). */
void sv_cuda_matmul_cache_clear(sv_cuda_ctx *ctx);

/* layernorm.cu */
void sv_cuda_layernorm_fwd(float *out, float *mean, float *rstd, const float *inp,
                           const float *w, const float *b, int M, int C, float eps);
void sv_cuda_layernorm_bwd(float *dinp, float *dw, float *db, const float *dout,
                           const float *inp, const float *w, const float *mean,
                           const float *rstd, int M, int C);

/* gelu.cu */
void sv_cuda_gelu_fwd(float *out, const float *inp, size_t n);
void sv_cuda_gelu_bwd(float *dinp, const float *inp, const float *dout, size_t n);

/* attention.cu */
size_t sv_cuda_attention_saved(int B, int N, int H, int hd);
int sv_cuda_attention_fwd(float *out, float *att, const float *qkv, const uint8_t *keyvalid,
                          int B, int N, int H, int hd);
int sv_cuda_attention_bwd(float *dqkv, const float *dout, const float *qkv, const float *out,
                          const float *att, const uint8_t *keyvalid, int B, int N, int H, int hd);
/* the bf16 table's entries: flash_attention.cu where it applies, else the above;
 * attention_pin and the _pin pair: qkv kept in bf16 (core/backend.h) */
size_t sv_cuda_attention_saved_bf16(int B, int N, int H, int hd);
int sv_cuda_attention_fwd_bf16(float *out, float *att, const float *qkv, const uint8_t *keyvalid,
                               int B, int N, int H, int hd);
int sv_cuda_attention_bwd_bf16(float *dqkv, const float *dout, const float *qkv, const float *out,
                               const float *att, const uint8_t *keyvalid, int B, int N, int H,
                               int hd);
int sv_cuda_attention_pin(int hd);
int sv_cuda_attention_fwd_pin(float *out, float *att, const void *qkv, const uint8_t *keyvalid,
                              int B, int N, int H, int hd);
int sv_cuda_attention_bwd_pin(float *dqkv, const float *dout, const void *qkv, const float *out,
                              const float *att, const uint8_t *keyvalid, int B, int N, int H, int hd);
/* o_pin and its pair: the attention output O kept in bf16 as well */
int sv_cuda_o_pin(void);
int sv_cuda_attention_fwd_pin_o(void *out, float *att, const void *qkv, const uint8_t *keyvalid, int B, int N,
                                int H, int hd);
int sv_cuda_attention_bwd_pin_o(float *dqkv, const float *dout, const void *qkv, const void *out,
                                const float *att, const uint8_t *keyvalid, int B, int N, int H, int hd);

/* flash_attention.cu, the first version (SIMVTP_CUDA_ATTENTION=flash1), and
 * flash_attention_v2.cu, the default: bf16 inputs, head dims 32 and 64;
 * both save lse[B,H,N] with the same meaning, so either backward follows
 * either forward */
int sv_cuda_flash_supported(int hd);
size_t sv_cuda_flash_saved(int B, int N, int H);
int sv_cuda_flash_fwd(float *out, float *lse, const float *qkv, const uint8_t *keyvalid, int B,
                      int N, int H, int hd);
int sv_cuda_flash_bwd(float *dqkv, const float *dout, const float *qkv, const float *out,
                      const float *lse, const uint8_t *keyvalid, int B, int N, int H, int hd);
int sv_cuda_flash2_fwd(float *out, float *lse, const float *qkv, const uint8_t *keyvalid, int B,
                       int N, int H, int hd);
int sv_cuda_flash2_bwd(float *dqkv, const float *dout, const float *qkv, const float *out,
                       const float *lse, const uint8_t *keyvalid, int B, int N, int H, int hd);
/* the same with qkv already in bf16 (the bf16 table's attention_fwd_pin/bwd_pin) */
int sv_cuda_flash2_fwd16(float *out, float *lse, const void *qkv16, const uint8_t *keyvalid, int B,
                         int N, int H, int hd);
int sv_cuda_flash2_bwd16(float *dqkv, const float *dout, const void *qkv16, const float *out,
                         const float *lse, const uint8_t *keyvalid, int B, int N, int H, int hd);
/* and the output O in bf16 too (attention_fwd_pin_o / attention_bwd_pin_o) */
int sv_cuda_flash2_fwd16o(void *out16, float *lse, const void *qkv16, const uint8_t *keyvalid, int B,
                          int N, int H, int hd);
int sv_cuda_flash2_bwd16o(float *dqkv, const float *dout, const void *qkv16, const void *out16,
                          const float *lse, const uint8_t *keyvalid, int B, int N, int H, int hd);

/* softmax_ce.cu */
void sv_cuda_softmax_ce_fwd(float *losses, float *probs, const float *logits,
                            const int32_t *targets, int M, int V);
void sv_cuda_softmax_ce_bwd(float *dlogits, const float *probs, const int32_t *targets,
                            const float *dlosses, int M, int V);

/* pool.cu */
void sv_cuda_meanpool_fwd(float *out, const float *inp, const uint8_t *valid, int B, int N, int C);
void sv_cuda_meanpool_bwd(float *dinp, const float *dout, const uint8_t *valid, int B, int N, int C);
void sv_cuda_l2norm_fwd(float *out, float *norm, const float *inp, int M, int C);
void sv_cuda_l2norm_bwd(float *dinp, const float *dout, const float *inp, const float *norm,
                        int M, int C);

/* mse.cu */
float sv_cuda_mse_fwd(const float *pred, const float *target, size_t M, size_t C);
void sv_cuda_mse_bwd(float *dpred, const float *pred, const float *target, size_t M, size_t C,
                     float dloss);
/* Deterministic sum over i < n of (a[i] - b[i])^2 in double (b NULL: a[i]^2),
 * returned on the host after a stream sync; NaN when something failed (the
 * failure is then pending for finish()). */
double sv_cuda_sum_sq(sv_cuda_ctx *ctx, const float *a, const float *b, size_t n, const char *op);

/* adamw.cu */
double sv_cuda_sumsq(const float *x, size_t n);
void sv_cuda_adamw(float *w, const float *g, float *m, float *v, size_t n, const sv_adamw_args *a);
void sv_cuda_adamw_runs(float *w, const float *g, float *m, float *v, const sv_adamw_run *runs,
                        int nruns, const sv_adamw_args *a);
/* The weight mirror of the bf16 table (cuda/matmul.cu; sv_backend.weights_begin/end). */
void sv_cuda_weights_begin(const float *params, size_t n);
void sv_cuda_weights_end(void);

#endif /* SV_CUDA_OPS_CUH */

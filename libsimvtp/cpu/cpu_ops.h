/* cpu/cpu_ops.h — the CPU reference kernels (fp32, OpenMP, CBLAS), one file
 * per op, forward and backward. The model graph reaches them through the
 * backend vtable (core/backend.h).
 *
 * Conventions for every kernel here:
 *  - tensors are fp32, row-major and contiguous unless a stride is given;
 *  - forward kernels OVERWRITE their outputs;
 *  - backward kernels ADD (+=) into every gradient output, and any gradient
 *    output pointer may be NULL (that gradient is then not computed);
 *  - kernels that need scratch memory return 0 on success or -1 when an
 *    allocation failed (nothing is half-written in a way that matters:
 *    the caller reports SIMVTP_ERR_NOMEM); the others return void. */
#ifndef SV_CPU_OPS_H
#define SV_CPU_OPS_H

#include <stddef.h>
#include <stdint.h>

#include "core/backend.h"

/* out[M,N] = inp[M,K] . w[N,K]^T + bias[N] (bias may be NULL). */
void cpu_matmul_fwd(float *out, const float *inp, const float *w, const float *bias,
                    int M, int K, int N);
/* dinp[M,K] = dout[M,N] . w[N,K] (overwritten);  dw[N,K] += dout^T . inp;
 * dbias[N] += sum_m dout (parameter gradients accumulate). */
void cpu_matmul_bwd(float *dinp, float *dw, float *dbias, const float *dout,
                    const float *inp, const float *w, int M, int K, int N);

/* LayerNorm over the last dim C of inp[M,C]:
 * out = (x - mean) * rstd * w + b, rstd = 1/sqrt(var + eps), var biased (/C).
 * Saves mean[M] and rstd[M] for the backward. */
void cpu_layernorm_fwd(float *out, float *mean, float *rstd, const float *inp,
                       const float *w, const float *b, int M, int C, float eps);
void cpu_layernorm_bwd(float *dinp, float *dw, float *db, const float *dout,
                       const float *inp, const float *w, const float *mean,
                       const float *rstd, int M, int C);

/* Exact GELU: x * 0.5 * (1 + erf(x / sqrt(2))). */
void cpu_gelu_fwd(float *out, const float *inp, size_t n);
/* dinp = dout * gelu'(inp), overwritten (dinp may be dout: elementwise) */
void cpu_gelu_bwd(float *dinp, const float *inp, const float *dout, size_t n);

/* Multi-head self-attention core (no projections; cpu/attention.c).
 * qkv[B,N,3,H,hd]: per token the q of all heads, then k, then v (timm layout).
 * out[B,N,H,hd]. att: what the backward needs, cpu_attention_saved_floats:
 * for N <= CPU_ATT_KEEP_N the probabilities [B,H,N,N]; longer, each query
 * row's log-sum-exp of its scaled scores [B,H,N] (0 for a row without a
 * valid key, whose output is 0), the probabilities being recomputed in
 * blocks of at most CPU_ATT_ROWS rows. keyvalid[B,N] (may be NULL = all
 * valid): keys with 0 get probability 0. Scores scaled by 1/sqrt(hd).
 * -1 when per-thread scratch cannot be allocated. */
#define CPU_ATT_KEEP_N 512
#define CPU_ATT_ROWS 128
size_t cpu_attention_saved_floats(int B, int N, int H);
int cpu_attention_fwd(float *out, float *att, const float *qkv, const uint8_t *keyvalid,
                      int B, int N, int H, int hd);
/* dqkv[B,N,3,H,hd] = gradient w.r.t. qkv (overwritten), given dout[B,N,H,hd]
 * and the forward's att and keyvalid. */
int cpu_attention_bwd(float *dqkv, const float *dout, const float *qkv, const float *att,
                      const uint8_t *keyvalid, int B, int N, int H, int hd);

/* Row-wise softmax cross-entropy. logits[M,V], targets[M] (a target < 0 is
 * ignored: loss 0 and no gradient). losses[M] = -log softmax(logits)[target];
 * probs[M,V] receives the softmax (needed by the backward). */
void cpu_softmax_ce_fwd(float *losses, float *probs, const float *logits,
                        const int32_t *targets, int M, int V);
/* dlogits[M,V] += (probs - onehot(target)) * dlosses[m] for non-ignored rows. */
void cpu_softmax_ce_bwd(float *dlogits, const float *probs, const int32_t *targets,
                        const float *dlosses, int M, int V);

/* out[B,C] = mean over n of inp[B,N,C], over rows with valid[b,n] != 0 when
 * valid is non-NULL (else all N rows). */
void cpu_meanpool_fwd(float *out, const float *inp, const uint8_t *valid, int B, int N, int C);
void cpu_meanpool_bwd(float *dinp, const float *dout, const uint8_t *valid, int B, int N, int C);

/* Row-wise L2 normalization: out = x / max(||x||, 1e-8). Saves norm[M]. */
void cpu_l2norm_fwd(float *out, float *norm, const float *inp, int M, int C);
void cpu_l2norm_bwd(float *dinp, const float *dout, const float *inp, const float *norm,
                    int M, int C);

/* Elementwise helpers. */
void cpu_add(float *out, const float *a, const float *b, size_t n);    /* out = a + b    */
void cpu_add_inplace(float *acc, const float *x, size_t n);           /* acc += x       */
void cpu_scale_add(float *acc, const float *x, float s, size_t n);    /* acc += s * x   */

/* Row gather/scatter (masking): out[i,:] = inp[idx[i],:] for i < n, C columns.
 * The backward scatters: dinp[idx[i],:] += dout[i,:]. */
void cpu_gather_rows(float *out, const float *inp, const int32_t *idx, int n, int C);
void cpu_scatter_add_rows(float *dinp, const float *dout, const int32_t *idx, int n, int C);

/* Fixed 1-D sin-cos positions: pe[p, 2i] = sin(p / 10000^(2i/C)),
 * pe[p, 2i+1] = cos(p / 10000^(2i/C)), for p < N, C even. */
void cpu_sincos_table(float *pe, int N, int C);

/* Mean squared error over M rows of C values: returns mean((pred-target)^2);
 * backward: dpred += 2 (pred - target) / (M*C) * dloss. */
float cpu_mse_fwd(const float *pred, const float *target, size_t M, size_t C);
void cpu_mse_bwd(float *dpred, const float *pred, const float *target, size_t M, size_t C,
                 float dloss);

/* The CPU backend's allocator (host_cache.c): zero-filled blocks, reused by
 * exact size across steps. */
void *cpu_cache_alloc(size_t bytes);
void *cpu_cache_alloc_raw(size_t bytes); /* alloc_raw: SIMVTP_CPU_POISON=1 fills 0xFF (NaN) */
void cpu_cache_free(void *p);

/* Graph helpers (contracts in core/backend.h): */
void cpu_mul(float *out, const float *a, const float *b, size_t n);
void cpu_scale(float *y, float s, size_t n);
void cpu_residual(float *y, const float *x, const float *rowscale, int B, int N, int C);
void cpu_scale_rows(float *out, const float *in, const float *rowscale, int B, int N, int C);
void cpu_transpose(float *out, const float *in, int R, int C);
void cpu_rows_copy(float *dst, const int32_t *didx, const float *src, const int32_t *sidx,
                   int n, int C);
void cpu_rows_add(float *dst, const int32_t *didx, const float *src, const int32_t *sidx,
                  int n, int C);
void cpu_rows_add_seg(float *dst, const int32_t *seg_dst, const int32_t *seg_off,
                      const int32_t *rows, int nseg, const float *src, int C);
double cpu_sumsq(const float *x, size_t n);
void cpu_adamw(float *w, const float *g, float *m, float *v, size_t n, const sv_adamw_args *a);

/* patches[B,N,K]: (u/255 - mean_c)/std_c in Conv3d order ((c*t+dt)*p+dy)*p+dx.
 * targets[B,N,K] (may be NULL): per tubelet and channel, (v - mean)/(std+1e-6)
 * with v = u/255 and the unbiased std, in order ((dt*p+dy)*p+dx)*3+c.
 * stats[B,N,3,2] (may be NULL): the mean and std+1e-6 used for targets. */
void cpu_video_patches(const simvtp_config *c, const uint8_t *frames, int B, float *patches,
                       float *targets, float *stats);

#endif /* SV_CPU_OPS_H */

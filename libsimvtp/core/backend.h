/* core/backend.h — the internal backend interface (a vtable). The model graph
 * in model/ and the optimizer in train/ are written once against it; cpu/
 * implements it over host memory (the reference) and cuda/ over device memory.
 *
 * Contracts (every backend, every op):
 *  - Tensor pointers are backend memory (from alloc, or offsets into it),
 *    except where an argument says "host". The graph never dereferences
 *    backend memory unless host_memory is 1; it moves data with memcpy_h2d /
 *    memcpy_d2h and computes everything else through these ops.
 *  - Ops may run asynchronously, in call order, on the calling thread's
 *    queue. memcpy_d2h and the ops that return a value (mse_fwd, sumsq)
 *    return only after their result is on the host. memcpy_h2d may return
 *    before the copy is done, but never reads the source after it returns
 *    (CUDA: it copies the source into a pinned staging ring first).
 *  - Forwards overwrite their outputs; backwards ADD into gradient outputs,
 *    and a NULL gradient output is skipped. Three exceptions overwrite: the
 *    input gradients of matmul_bwd (dinp), gelu_bwd and attention_bwd
 *    (dqkv), which the graph always hands a scratch buffer (no zero fill,
 *    no read of it by the op). Shapes are those of cpu/cpu_ops.h.
 *  - Ops do not report errors one by one: a failure (launch, library call,
 *    scratch allocation) is remembered and returned by the next finish(),
 *    with the detail message set. The graph calls finish() before it returns
 *    from every public entry point. alloc returning NULL is reported at once.
 *  - Results must not depend on the run: two identical calls give identical
 *    bits (no float atomics on the CUDA side). */
#ifndef SV_BACKEND_H
#define SV_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "simvtp/config.h"

/* Arguments of one fused AdamW update (train/adamw.c computes them):
 *   g' = g * clip;  w *= decay;  m = b1 m + (1-b1) g';  v = b2 v + (1-b2) g'^2;
 *   w -= step_size * m / (sqrt(v) / bc2_sqrt + eps). */
typedef struct sv_adamw_args {
    float clip, decay, b1, b2, eps, step_size, bc2_sqrt;
} sv_adamw_args;

/* One run of parameters for adamw_runs: n values from index off, with the
 * weight decay of sv_adamw_args (decay 1) or none (decay 0). */
typedef struct sv_adamw_run {
    size_t off, n;
    int decay;
} sv_adamw_run;

enum sv_precision {
    SV_PRECISION_FP32 = 0, /* fp32 everywhere (the CPU; "cuda:N:fp32" for parity)       */
    SV_PRECISION_BF16 = 1  /* bf16 matrix-unit inputs, fp32 accumulate and storage ("cuda:N") */
};

typedef struct sv_backend {
    const char *name;   /* "cpu", "cuda:0", "cuda:0:fp32", ...                      */
    int device;         /* CUDA ordinal; -1 for the CPU                              */
    int host_memory;    /* 1: tensors are plain host memory                          */
    int precision;      /* enum sv_precision                                         */

    /* context: activate binds the backend to the calling thread (CUDA: the
     * device, its stream, library handles) and is called at the start of
     * every public entry point that computes; finish waits for all queued
     * work and returns (then clears) the first error since the last finish. */
    int (*activate)(const struct sv_backend *be);
    int (*finish)(const struct sv_backend *be);

    /* memory */
    void *(*alloc)(size_t bytes);                 /* zero-filled; NULL on failure */
    /* optional (NULL: alloc): contents undefined, for buffers the graph
     * writes in full before it reads them (activations, scratch), which
     * spares a fill of every byte per step. With SIMVTP_CPU_POISON=1 (every
     * `meson test` sets it) the CPU fills them with 0xFF bytes (NaN floats,
     * -1 integers) so that a read before the first write spoils the results
     * every test compares. */
    void *(*alloc_raw)(size_t bytes);
    void (*free)(void *p);                        /* NULL is a no-op              */
    void (*memcpy_h2d)(void *dst, const void *host_src, size_t bytes);
    void (*memcpy_d2h)(void *host_dst, const void *src, size_t bytes);
    void (*copy)(void *dst, const void *src, size_t bytes);   /* within the backend */
    void (*zero)(void *p, size_t bytes);

    /* elementwise */
    void (*add)(float *y, const float *x, size_t n);                    /* y += x        */
    void (*mul)(float *out, const float *a, const float *b, size_t n);  /* out = a * b (out may alias a or b) */
    void (*scale)(float *y, float s, size_t n);                         /* y *= s        */
    /* y[b,n,:] = x[b,n,:] + s_b * y[b,n,:]; s_b = rowscale[b], or 1 when rowscale is NULL */
    void (*residual)(float *y, const float *x, const float *rowscale, int B, int N, int C);
    /* out[b,n,:] = s_b * in[b,n,:] (out may alias in) */
    void (*scale_rows)(float *out, const float *in, const float *rowscale, int B, int N, int C);
    /* out[C,R] = in[R,C]^T (no aliasing) */
    void (*transpose)(float *out, const float *in, int R, int C);

    /* rows of C floats; d(i) = didx ? didx[i] : i, s(i) = sidx ? sidx[i] : i */
    /* dst[d(i),:] = src[s(i),:] for i < n; the d(i) are distinct */
    void (*rows_copy)(float *dst, const int32_t *didx, const float *src, const int32_t *sidx,
                      int n, int C);
    /* dst[d(i),:] += src[s(i),:] for i < n; the d(i) are distinct */
    void (*rows_add)(float *dst, const int32_t *didx, const float *src, const int32_t *sidx,
                     int n, int C);
    /* Segmented sum with repeated destinations, in a fixed order: for each
     * segment s < nseg, dst[seg_dst[s],:] += src[rows[k],:] for k from
     * seg_off[s] to seg_off[s+1]-1 in turn (rows NULL: k itself). The
     * seg_dst are distinct. seg_off has nseg+1 entries. */
    void (*rows_add_seg)(float *dst, const int32_t *seg_dst, const int32_t *seg_off,
                         const int32_t *rows, int nseg, const float *src, int C);

    /* video: uint8 clips [B,T,H,W,3] to normalized tubelet rows (model/inputs.h
     * sv_tubelets: patches [B,N,K] in the patch-embedding order; targets
     * [B,N,K] per-tubelet normalized pixels or NULL; stats [B,N,6] or NULL). */
    void (*video_patches)(const simvtp_config *c, const uint8_t *frames, int B, float *patches,
                          float *targets, float *stats);

    /* layers */
    void (*matmul_fwd)(float *out, const float *inp, const float *w, const float *bias,
                       int M, int K, int N);
    /* dinp = dout . w (overwritten); dw += dout^T . inp; dbias += colsum(dout) */
    void (*matmul_bwd)(float *dinp, float *dw, float *dbias, const float *dout,
                       const float *inp, const float *w, int M, int K, int N);
    void (*layernorm_fwd)(float *out, float *mean, float *rstd, const float *inp,
                          const float *w, const float *b, int M, int C, float eps);
    void (*layernorm_bwd)(float *dinp, float *dw, float *db, const float *dout,
                          const float *inp, const float *w, const float *mean,
                          const float *rstd, int M, int C);
    void (*gelu_fwd)(float *out, const float *inp, size_t n);
    /* dinp = dout * gelu'(inp) (overwritten; dinp may be dout) */
    void (*gelu_bwd)(float *dinp, const float *inp, const float *dout, size_t n);
    /* Floats of the state one attention forward saves for its backward
     * ("att" below): the probabilities, B*H*N*N, or only per-row
     * statistics, B*H*N (the fused CUDA kernels; the CPU for N > 512). A
     * function of its arguments only. The backward also gets
     * the forward's output `out` (unchanged since). */
    size_t (*attention_saved)(int B, int N, int H, int hd);
    int (*attention_fwd)(float *out, float *att, const float *qkv, const uint8_t *keyvalid,
                         int B, int N, int H, int hd);
    /* dqkv = the gradient w.r.t. qkv (overwritten) */
    int (*attention_bwd)(float *dqkv, const float *dout, const float *qkv, const float *out,
                         const float *att, const uint8_t *keyvalid, int B, int N, int H, int hd);
    /* probs may be logits (the logits are then replaced by the
     * probabilities); dlogits may be probs: the rows are then overwritten
     * with (p - onehot(t)) * dloss, zeros for ignored rows, instead of added
     * to. One [M,V] buffer then serves the whole loss (the MLM head over the
     * vocabulary: no second and third copy). */
    void (*softmax_ce_fwd)(float *losses, float *probs, const float *logits,
                           const int32_t *targets, int M, int V);
    void (*softmax_ce_bwd)(float *dlogits, const float *probs, const int32_t *targets,
                           const float *dlosses, int M, int V);
    void (*meanpool_fwd)(float *out, const float *inp, const uint8_t *valid, int B, int N, int C);
    void (*meanpool_bwd)(float *dinp, const float *dout, const uint8_t *valid, int B, int N, int C);
    void (*l2norm_fwd)(float *out, float *norm, const float *inp, int M, int C);
    void (*l2norm_bwd)(float *dinp, const float *dout, const float *inp, const float *norm,
                       int M, int C);
    float (*mse_fwd)(const float *pred, const float *target, size_t M, size_t C);
    /* dpred += 2 (pred - target) / (M*C) * dloss; dpred may be pred: the
     * predictions are then replaced by their gradient (0 + the term, as
     * added to a zeroed buffer: the same bits, one [M,C] buffer fewer) */
    void (*mse_bwd)(float *dpred, const float *pred, const float *target, size_t M, size_t C,
                    float dloss);

    /* optimizer */
    double (*sumsq)(const float *x, size_t n);    /* sum of squares, in double; NaN/Inf propagate */
    void (*adamw)(float *w, const float *g, float *m, float *v, size_t n, const sv_adamw_args *a);
    /* optional (NULL: adamw per run): adamw over runs[0..nruns) of w, g, m
     * and v (all four indexed alike), a->decay for the runs that decay and
     * 1 for the others; the same bits as one adamw call per run (CUDA: one
     * launch instead of one per run). */
    void (*adamw_runs)(float *w, const float *g, float *m, float *v, const sv_adamw_run *runs,
                       int nruns, const sv_adamw_args *a);

    /* optional (NULL: nothing to do): the model's weights are params[n]
     * and stay unchanged from weights_begin to weights_end (one forward /
     * backward call of the graph); the backend may keep a derived copy for
     * that long. CUDA's bf16 table converts them to bf16 once per call and
     * its products read that copy instead of converting each weight at every
     * use (the same values, so the results are the same bit for bit). */
    void (*weights_begin)(const float *params, size_t n);
    void (*weights_end)(void);

    /* optional (NULL, or pin_bytes() == 0: not used): "product inputs",
     * activations whose only readers are matmul_fwd and matmul_bwd as
     * `inp` (an encoder block's two LayerNorm outputs and its GELU output),
     * stored in the backend's own element type of pin_bytes() bytes (2:
     * bf16, the CUDA bf16 table, whose products read bf16 operands anyway;
     * results are then bit for bit those of the fp32 ops). The graph asks
     * pin_bytes() once per pass, sizes those buffers with it and gives them
     * only to these four ops, which are the plain ones with `out` (the two
     * forwards) or `inp` (the two products) in that type. */
    size_t (*pin_bytes)(void);
    void (*layernorm_fwd_pin)(void *out, float *mean, float *rstd, const float *inp,
                              const float *w, const float *b, int M, int C, float eps);
    void (*gelu_fwd_pin)(void *out, const float *inp, size_t n);
    void (*matmul_fwd_pin)(float *out, const void *inp, const float *w, const float *bias,
                           int M, int K, int N);
    void (*matmul_bwd_pin)(float *dinp, float *dw, float *dbias, const float *dout,
                           const void *inp, const float *w, int M, int K, int N);
    /* optional, with the above (NULL: residual, then layernorm_fwd_pin):
     * residual(y, x, rowscale, B, N, C) and the LayerNorm of the result,
     * layernorm_fwd_pin(out, mean, rstd, y, w, b, B*N, C, eps), in one pass;
     * the same results as the two ops. */
    void (*residual_layernorm_fwd_pin)(float *y, const float *x, const float *rowscale, void *out,
                                       float *mean, float *rstd, const float *w, const float *b,
                                       int B, int N, int C, float eps);
    /* optional, with the above (NULL: gelu_bwd, then matmul_bwd_pin): the fc1
     * product's backward with the GELU backward folded in, dout =
     * gelu_bwd(h, dg) (dg, h [M,N]; dg is not changed); inp in the product-
     * input type; the same results as the two ops. */
    void (*gelu_matmul_bwd)(float *dinp, float *dw, float *dbias, const float *dg, const float *h,
                            const void *inp, const float *w, int M, int K, int N);
    /* optional, with the above (NULL: scale_rows into scratch, then
     * matmul_bwd, or matmul_bwd_pin when inp_pin): the product's backward
     * with dout's row m scaled by rowscale[m / T] (drop path's branch
     * gradient, dout itself is not changed); inp in the product-input type
     * when inp_pin, else fp32; the same results as the two ops. */
    void (*matmul_bwd_rowscale)(float *dinp, float *dw, float *dbias, const float *dout, const float *rowscale,
                                int T, const void *inp, int inp_pin, const float *w, int M, int K, int N);
    /* optional, with the above (NULL, or attention_pin(hd) == 0: not used):
     * a block's qkv kept in the same type, for attention with head dim hd.
     * matmul_fwd_pin_out is matmul_fwd with inp and out in that type; the
     * attention pair are attention_fwd/bwd with qkv in it (the CUDA bf16
     * table's fused attention reads bf16 q/k/v anyway: the same bits). The
     * graph asks attention_pin once per pass. */
    int (*attention_pin)(int hd);
    void (*matmul_fwd_pin_out)(void *out, const void *inp, const float *w, const float *bias,
                               int M, int K, int N);
    int (*attention_fwd_pin)(float *out, float *att, const void *qkv, const uint8_t *keyvalid,
                             int B, int N, int H, int hd);
    int (*attention_bwd_pin)(float *dqkv, const float *dout, const void *qkv, const float *out,
                             const float *att, const uint8_t *keyvalid, int B, int N, int H, int hd);
    /* optional, with the above (NULL, or h_pin() == 0: not used): a block's
     * fc1 output h, GELU's input, kept in the same type as well: fc1 through
     * matmul_fwd_pin_out, GELU through gelu_fwd_pin_h (h and out in that
     * type), its backward through gelu_matmul_bwd_pin_h (gelu_matmul_bwd
     * with h in that type). Not the same bits as an fp32 h: GELU and its
     * derivative see h rounded to the type, as under PyTorch's autocast,
     * whose linear layers return bf16. The graph asks h_pin once per pass. */
    int (*h_pin)(void);
    void (*gelu_fwd_pin_h)(void *out, const void *h, size_t n);
    void (*gelu_matmul_bwd_pin_h)(float *dinp, float *dw, float *dbias, const float *dg, const void *h,
                                  const void *inp, const float *w, int M, int K, int N);
    /* optional, with attention_pin (NULL, or o_pin() == 0: not used): a
     * block's attention output O kept in the same type as well: written by
     * attention_fwd_pin_o, read by the output projection as a product input
     * (matmul_fwd_pin, matmul_bwd_pin, matmul_bwd_rowscale with inp_pin) and
     * by attention_bwd_pin_o (attention_bwd_pin with out in that type). The
     * CUDA bf16 table's products read bf16 operands anyway and its fused
     * attention backward rounds an fp32 O to bf16 itself: the same bits. The
     * graph asks o_pin once per pass. */
    int (*o_pin)(void);
    int (*attention_fwd_pin_o)(void *out, float *att, const void *qkv, const uint8_t *keyvalid, int B, int N,
                               int H, int hd);
    int (*attention_bwd_pin_o)(float *dqkv, const float *dout, const void *qkv, const void *out, const float *att,
                               const uint8_t *keyvalid, int B, int N, int H, int hd);

    /* optional (NULL: the host's order): the queue the backend's work runs
     * on, for a communicator that orders its own queue after it (CUDA: the
     * cudaStream_t of the calling thread's context), or NULL. */
    void *(*queue)(void);
} sv_backend;

/* Resolve "cpu", "auto" (CUDA device 0 when built and present, else the
 * CPU), "cuda", "cuda:N" or "cuda:N:fp32"; SIMVTP_ERR_UNSUPPORTED when CUDA
 * was not built or the device is absent (core/backend.c). */
int sv_backend_get(const char *name, const sv_backend **out);

extern const sv_backend sv_backend_cpu;

/* Host access to n floats of backend memory: sv_host_get returns src itself
 * for host-memory backends, else a malloc'd downloaded copy (NULL when out
 * of memory). Give it back with sv_host_put (uploads the host copy to dst
 * and frees it) or sv_host_drop (frees it). */
float *sv_host_get(const sv_backend *be, const float *src, size_t n);
void sv_host_put(const sv_backend *be, float *dst, float *host, size_t n);
void sv_host_drop(const sv_backend *be, const float *src, float *host);

/* cuda/backend_cuda.cu (only when built with CUDA): the table for device
 * `device` in `precision`; SIMVTP_ERR_UNSUPPORTED with detail when the
 * device does not exist or the driver is missing. sv_cuda_device_count
 * returns 0 when no usable device is present (never fails). */
int sv_cuda_backend_get(int device, int precision, const sv_backend **out);
int sv_cuda_device_count(void);

#endif /* SV_BACKEND_H */

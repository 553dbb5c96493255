/* core/backend.h — the internal backend interface (a vtable). The model graph
 * in model/ is written once against it; cpu/ implements it (the reference),
 * and the CUDA backend implements the same table over device memory.
 * Kernel contracts are those of cpu/cpu_ops.h: forwards overwrite, backwards
 * add into gradient outputs, NULL gradient outputs are skipped. */
#ifndef SV_BACKEND_H
#define SV_BACKEND_H

#include <stddef.h>
#include <stdint.h>

typedef struct sv_backend {
    const char *name;
    /* memory */
    void *(*alloc)(size_t bytes);               /* zero-filled; NULL on failure */
    void (*free)(void *p);
    void (*memcpy_h2d)(void *dst, const void *src, size_t bytes);
    void (*memcpy_d2h)(void *dst, const void *src, size_t bytes);
    /* ops */
    void (*matmul_fwd)(float *out, const float *inp, const float *w, const float *bias,
                       int M, int K, int N);
    void (*matmul_bwd)(float *dinp, float *dw, float *dbias, const float *dout,
                       const float *inp, const float *w, int M, int K, int N);
    void (*layernorm_fwd)(float *out, float *mean, float *rstd, const float *inp,
                          const float *w, const float *b, int M, int C, float eps);
    void (*layernorm_bwd)(float *dinp, float *dw, float *db, const float *dout,
                          const float *inp, const float *w, const float *mean,
                          const float *rstd, int M, int C);
    void (*gelu_fwd)(float *out, const float *inp, size_t n);
    void (*gelu_bwd)(float *dinp, const float *inp, const float *dout, size_t n);
    int (*attention_fwd)(float *out, float *att, const float *qkv, const uint8_t *keyvalid,
                         int B, int N, int H, int hd);
    int (*attention_bwd)(float *dqkv, const float *dout, const float *qkv, const float *att,
                         int B, int N, int H, int hd);
    void (*softmax_ce_fwd)(float *losses, float *probs, const float *logits,
                           const int32_t *targets, int M, int V);
    void (*softmax_ce_bwd)(float *dlogits, const float *probs, const int32_t *targets,
                           const float *dlosses, int M, int V);
    void (*meanpool_fwd)(float *out, const float *inp, const uint8_t *valid, int B, int N, int C);
    void (*meanpool_bwd)(float *dinp, const float *dout, const uint8_t *valid, int B, int N, int C);
    void (*l2norm_fwd)(float *out, float *norm, const float *inp, int M, int C);
    void (*l2norm_bwd)(float *dinp, const float *dout, const float *inp, const float *norm,
                       int M, int C);
    void (*gather_rows)(float *out, const float *inp, const int32_t *idx, int n, int C);
    void (*scatter_add_rows)(float *dinp, const float *dout, const int32_t *idx, int n, int C);
    float (*mse_fwd)(const float *pred, const float *target, size_t M, size_t C);
    void (*mse_bwd)(float *dpred, const float *pred, const float *target, size_t M, size_t C,
                    float dloss);
} sv_backend;

/* Resolve "cpu", "auto" or "cuda:N"; SIMVTP_ERR_UNSUPPORTED when not built. */
int sv_backend_get(const char *name, const sv_backend **out);

extern const sv_backend sv_backend_cpu;

#endif /* SV_BACKEND_H */

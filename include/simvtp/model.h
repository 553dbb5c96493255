/* simvtp/model.h — the SimVTP model handle: creation, the pretraining and
 * fine-tuning forward/backward, embeddings, reconstruction, weight files.
 *
 * Thread safety: a simvtp_model is used by one thread at a time; distinct
 * models may be used from distinct threads. */
#ifndef SIMVTP_MODEL_H
#define SIMVTP_MODEL_H

#include <stddef.h>
#include <stdint.h>
#include "simvtp/export.h"
#include "simvtp/config.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct simvtp_model simvtp_model;

/* What a model handle holds. */
typedef enum simvtp_model_kind {
    SIMVTP_MODEL_PRETRAIN = 0,  /* unified encoder + video decoder + MLM/VTM heads */
    SIMVTP_MODEL_RETRIEVAL = 1  /* two towers (video, text), each with fc_norm     */
} simvtp_model_kind;

typedef struct simvtp_model_params {
    size_t size;         /* sizeof(simvtp_model_params)                           */
    uint64_t seed;       /* initialization seed (default 0)                       */
    const char *backend; /* "cpu" (default), "auto", or "cuda:N"                  */
    int threads;         /* CPU threads; 0 = OpenMP's default. Applied with
                            omp_set_num_threads for the calling thread when the
                            model is created (not stored per model)            */
} simvtp_model_params;

SIMVTP_API void simvtp_model_default_params(simvtp_model_params *p);

/* A new pretraining model, initialized from scratch as SPEC.md says
 * (xavier-uniform linears, zero biases, LayerNorm 1/0, mask token and
 * embeddings truncated normal std 0.02), seeded by p->seed. */
SIMVTP_API int simvtp_model_create(const simvtp_config *cfg, const simvtp_model_params *p,
                                   simvtp_model **out);

/* A retrieval (two-tower) model from a pretraining model: both towers copy
 * its encoder (the text tower also its BERT embeddings), the final norm
 * becomes identity, and fresh fc_norm LayerNorms are added. */
SIMVTP_API int simvtp_model_create_retrieval(const simvtp_model *pretrained,
                                             const simvtp_model_params *p, simvtp_model **out);

/* Frees the model; NULL is fine. */
SIMVTP_API void simvtp_model_free(simvtp_model *m);

SIMVTP_API int simvtp_model_get_kind(const simvtp_model *m); /* a simvtp_model_kind, or <0 */
SIMVTP_API int simvtp_model_config(const simvtp_model *m, simvtp_config *out);
SIMVTP_API int64_t simvtp_model_num_params(const simvtp_model *m);
/* Width of the embeddings simvtp_encode_* writes (the encoder width). */
SIMVTP_API int simvtp_model_embed_dim(const simvtp_model *m);

/* A batch in host memory. Frames are uint8 RGB [batch, T, H, W, 3] with the
 * model's T, H, W (normalized inside); tokens are [batch, max_len] int32 ids
 * laid out as [CLS] ... [SEP] then padding, lengths[i] counts the valid ones
 * (2 <= lengths[i] <= max_len <= cfg.max_text_len). */
typedef struct simvtp_batch {
    size_t size;          /* sizeof(simvtp_batch)                                 */
    int batch;            /* number of samples                                    */
    const uint8_t *frames;
    int max_len;          /* row stride of tokens                                 */
    const int32_t *tokens;
    const int32_t *lengths;
} simvtp_batch;

/* Losses of one forward pass. For a retrieval model only vtc (= total) is set. */
typedef struct simvtp_losses {
    size_t size;          /* sizeof(simvtp_losses): set it before the call        */
    float total;          /* sum of the four (each weight 1.0)                    */
    float video_mse;      /* normalized-pixel MSE over masked tubelets            */
    float mlm;            /* cross-entropy over masked text tokens                */
    float vtc;            /* contrastive, both directions summed                  */
    float vtm;            /* matching cross-entropy over 2*batch pairs            */
    int masked_text;      /* number of masked text tokens in the batch            */
} simvtp_losses;

/* Training forward + backward of one micro-batch: masks, dropout, negatives
 * and drop path are drawn from an RNG seeded by `seed` (the optimizer's
 * simvtp_train_step passes its own stream). Gradients are ADDED, scaled by
 * grad_scale, to the model's gradient buffers (see simvtp_model_zero_grad).
 * For a pretraining model: all four losses; for a retrieval model: VTC. */
SIMVTP_API int simvtp_model_forward_backward(simvtp_model *m, const simvtp_batch *b,
                                             uint64_t seed, float grad_scale,
                                             simvtp_losses *losses);

/* The same forward without gradients (masks from `seed`, no dropout). */
SIMVTP_API int simvtp_model_forward(simvtp_model *m, const simvtp_batch *b, uint64_t seed,
                                    simvtp_losses *losses);

SIMVTP_API int simvtp_model_zero_grad(simvtp_model *m);

/* Rare knobs, set by key (as zstd does): each key has a documented range;
 * an unknown key or a value out of range gives SIMVTP_ERR_INVALID_ARG and
 * changes nothing. Keys are never renumbered; new ones are appended. */
typedef enum simvtp_model_option {
    /* Activation checkpointing, a simvtp_checkpoint_mode (default OFF).
     * BLOCKS (1): the transformer blocks keep only their inputs for the
     * backward and recompute their other activations just before it: much
     * less memory for activations (about 1/16 of a block's per block: the
     * vit-b pretraining step's encoder and decoder activations shrink by
     * ~90%) for about one extra forward pass of the blocks (roughly +30%
     * step time). SELECTIVE (2): only the cheap activations are dropped —
     * both LayerNorm outputs and the GELU output, 6 of a block's 16
     * activation floats per token and channel — and recomputed from what
     * is kept (two LayerNorms and one GELU per block, no matrix product):
     * about a third less activation memory for a few percent of step time.
     * Gradients and losses are the same bit for bit in every mode.
     * Forward-only calls never keep activations anyway. */
    SIMVTP_MODEL_OPT_CHECKPOINT_ACTIVATIONS = 1
} simvtp_model_option;

/* Values of SIMVTP_MODEL_OPT_CHECKPOINT_ACTIVATIONS */
typedef enum simvtp_checkpoint_mode {
    SIMVTP_CHECKPOINT_OFF = 0,
    SIMVTP_CHECKPOINT_BLOCKS = 1,
    SIMVTP_CHECKPOINT_SELECTIVE = 2
} simvtp_checkpoint_mode;

SIMVTP_API int simvtp_model_set_option(simvtp_model *m, simvtp_model_option key, int64_t value);
SIMVTP_API int simvtp_model_get_option(const simvtp_model *m, simvtp_model_option key, int64_t *value);

/* L2-normalized embeddings [n, embed_dim] of videos (all tokens, unmasked)
 * or texts (unmasked, padded to max_len, so a text's embedding depends only on
 * itself and max_len). For a pretraining model: the VTC features; for a
 * retrieval model: the tower outputs after fc_norm. */
SIMVTP_API int simvtp_encode_videos(simvtp_model *m, const uint8_t *frames, int n,
                                    float *out);
SIMVTP_API int simvtp_encode_texts(simvtp_model *m, const int32_t *tokens,
                                   const int32_t *lengths, int n, int max_len, float *out);

/* Reconstruction by a pretraining model with masks drawn from `seed`.
 * Caller-owned outputs (any may be NULL):
 *   video_mask [batch, N] 1 where the tubelet was masked;
 *   pixels     [batch, N, tubelet_dim] predicted pixels in [0,1] RGB, laid out
 *              per tubelet as ((dt*p+dy)*p+dx)*3+c, for masked tubelets
 *              (un-normalized with each tubelet's own original statistics, as VideoMAE's visualization does), the
 *              original pixels elsewhere;
 *   masked_tokens / predicted [batch, max_len]: the masked input ids and the
 *              arg-max prediction at masked positions (input ids elsewhere). */
typedef struct simvtp_reconstruction {
    size_t size;
    uint8_t *video_mask;
    float *pixels;
    int32_t *masked_tokens;
    int32_t *predicted;
} simvtp_reconstruction;

SIMVTP_API int simvtp_model_reconstruct(simvtp_model *m, const simvtp_batch *b, uint64_t seed,
                                        simvtp_reconstruction *out);

/* Weights (.svtp): write and read. load() creates a model of the kind and
 * config stored in the file; load_into() fills an existing model and fails
 * with SIMVTP_ERR_MISMATCH when the file's config or kind differs. Writes go
 * to a temporary file that is flushed, fsynced and renamed into place. */
SIMVTP_API int simvtp_model_save(const simvtp_model *m, const char *path);
SIMVTP_API int simvtp_model_load(const char *path, const simvtp_model_params *p,
                                 simvtp_model **out);
SIMVTP_API int simvtp_model_load_into(simvtp_model *m, const char *path);

/* Named parameter access (names as in docs/FORMATS.md, e.g.
 * "encoder.blocks.0.attn.qkv.weight"): count, name of index i, element count,
 * and copies in/out of weights or gradients. */
SIMVTP_API int simvtp_model_num_tensors(const simvtp_model *m);
SIMVTP_API const char *simvtp_model_tensor_name(const simvtp_model *m, int i);
SIMVTP_API int64_t simvtp_model_tensor_numel(const simvtp_model *m, int i);
/* Fills up to 4 dims (a 5-D Conv3d weight reports [D, 3, t, p*p]) and returns
 * how many it filled, or a negative status. */
SIMVTP_API int simvtp_model_tensor_shape(const simvtp_model *m, int i, int64_t shape[4]);
SIMVTP_API int simvtp_model_tensor_get(const simvtp_model *m, int i, float *dst);
SIMVTP_API int simvtp_model_tensor_set(simvtp_model *m, int i, const float *src);
SIMVTP_API int simvtp_model_grad_get(const simvtp_model *m, int i, float *dst);

#ifdef __cplusplus
}
#endif
#endif /* SIMVTP_MODEL_H */

/* model/model.h — the model handle's insides: the parameter table (names,
 * shapes, offsets into one allocation), typed views of weights and
 * gradients, and the graph entry points used by the API and white-box tests. */
#ifndef SV_MODEL_H
#define SV_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "simvtp/model.h"
#include "core/backend.h"
#include "core/rng.h"

#define SV_NAME_MAX 96
#define SV_TOKEN_PAD 0
#define SV_TOKEN_UNK 100
#define SV_TOKEN_CLS 101
#define SV_TOKEN_SEP 102
#define SV_TOKEN_MASK 103
#define SV_IGNORE_INDEX (-100)

enum sv_init { SV_INIT_ZERO, SV_INIT_ONE, SV_INIT_XAVIER, SV_INIT_NORMAL02 };

typedef struct sv_tensor {
    char name[SV_NAME_MAX];
    int ndim;
    int64_t shape[5];
    size_t offset, numel; /* in floats, into params/grads                 */
    int decay;            /* 1 when AdamW weight decay applies             */
    int init;             /* enum sv_init                                  */
} sv_tensor;

/* One transformer block's tensors (weights or gradients). */
typedef struct sv_block {
    float *n1w, *n1b, *qkvw, *qb, *vb, *projw, *projb, *n2w, *n2b, *fc1w, *fc1b, *fc2w, *fc2b;
} sv_block;

/* BERT embeddings. */
typedef struct sv_textemb {
    float *word, *pos, *type, *lnw, *lnb;
} sv_textemb;

/* Typed view of all tensors; fields a kind does not have stay NULL.
 * Pretrain: patch_*, temb, enc, enc_norm_*, e2d_w, mask_token, dec, dec_norm_*,
 * head_*, mlm_*, vtm_*.  Retrieval: patch_* and enc (video tower), vfc_*,
 * temb and txt (text tower), tfc_*. */
typedef struct sv_weights {
    float *patch_w, *patch_b;
    sv_textemb temb;
    sv_block *enc;
    float *enc_norm_w, *enc_norm_b;
    float *e2d_w, *mask_token;
    sv_block *dec;
    float *dec_norm_w, *dec_norm_b, *head_w, *head_b;
    float *mlm_w, *mlm_b, *vtm_w, *vtm_b;
    sv_block *txt;
    float *vfc_w, *vfc_b, *tfc_w, *tfc_b;
} sv_weights;

struct simvtp_model {
    int kind;
    simvtp_config cfg;
    const sv_backend *be;
    int ntensors;
    sv_tensor *tensors;
    size_t nparams;
    float *params, *grads;
    sv_weights w, g;
    sv_block *block_mem;   /* storage for the sv_block arrays of w and g */
    float *pe_enc;         /* [N, enc_width] sin-cos table              */
    float *pe_dec;         /* [N, dec_width] (used by pretraining)      */
    struct simvtp_comm *vtc_comm; /* set during simvtp_train_step when the VTC loss
                                     spans the global batch; NULL: this rank's batch */
    int ckpt_acts;         /* SIMVTP_MODEL_OPT_CHECKPOINT_ACTIVATIONS (model/encoder.c) */
    /* The overlapped gradient sum (train/comm.c, sv_grads_ready): set during
     * the simvtp_train_step that ends an accumulation; the graph starts the
     * sum of the parameters from ready_lo on (ready_n of them) once their
     * gradients are complete, while the rest of the backward runs. */
    struct simvtp_comm *ready_comm;
    size_t ready_lo, ready_n;
    int text_width;        /* with vtc_comm: the longest caption over the ranks, the
                              text width every rank pads to (features are means over
                              the padded width, so all ranks must pad alike); else 0 */
};

/* params.c: build the table for (kind, cfg), allocate, bind views. */
int sv_model_alloc(const simvtp_config *cfg, int kind, const sv_backend *be, simvtp_model **out);
int sv_model_find_tensor(const simvtp_model *m, const char *name);
/* Parameter and tensor counts of the (kind, cfg) table, without allocating
 * the model (weights_io.c checks a file's payload against them first). */
int sv_model_table_size(const simvtp_config *cfg, int kind, size_t *nparams, int *ntensors);
/* init.c: from-scratch initialization, deterministic in seed (computed on
 * the host, then copied to the backend); a status. */
int sv_model_init_weights(simvtp_model *m, uint64_t seed);

/* Random decisions and inputs of one pretraining forward (pretrain.c); kept
 * for the backward and exposed to white-box tests (parity dump). */
typedef struct sv_pt_trace {
    int B, L, N, Nv, Nm;
    int32_t *vis_idx, *mask_idx; /* [B,Nv], [B,Nm] ascending */
    int32_t *text_in, *labels;   /* [B,L] */
    float *dropmask;             /* [B,L,D] or NULL (eval) */
    int32_t *neg;                /* [B] */
    float *droppath_video, *droppath_text; /* retrieval: [depth,2,B] or NULL */
    float *pred;                 /* pretrain: decoder output [B,Nm,K] (target space) */
    int32_t *mlm_argmax;         /* pretrain: [B,L] arg-max id at masked positions, input id elsewhere */
} sv_pt_trace;

/* Forward (and backward when grad_scale != 0) of one batch; training toggles
 * dropout/drop path. When trace is non-NULL, it is filled with copies
 * (caller frees with sv_trace_free). */
int sv_pretrain_run(simvtp_model *m, const simvtp_batch *b, uint64_t seed, int training,
                    int backward, float grad_scale, simvtp_losses *losses, sv_pt_trace *trace);
int sv_retrieval_run(simvtp_model *m, const simvtp_batch *b, uint64_t seed, int training,
                     int backward, float grad_scale, simvtp_losses *losses, sv_pt_trace *trace);
void sv_trace_free(sv_pt_trace *t);

/* Validates a batch's text part against the model config (frames are the
 * caller's to check); returns the effective text length (max of lengths). */
int sv_check_batch(const simvtp_model *m, const simvtp_batch *b, int *L);
/* sv_check_batch plus what a loss needs: frames, and at least 2 samples
 * (VTC and VTM use in-batch negatives). */
int sv_check_train_batch(const simvtp_model *m, const simvtp_batch *b, int *L);

#endif /* SV_MODEL_H */

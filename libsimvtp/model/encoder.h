/* model/encoder.h — a stack of pre-LN transformer blocks (the unified
 * encoder, the video decoder and both retrieval towers), forward with saved
 * activations and backward, over any backend. */
#ifndef SV_ENCODER_H
#define SV_ENCODER_H

#include "core/arena.h"
#include "model/model.h"

typedef struct sv_enc_pass {
    int B, N, C, H, M, depth;
    float eps;
    const uint8_t *keyvalid; /* [B,N] or NULL */
    const float *droppath;   /* [depth,2,B] residual-branch multipliers or NULL */
    float *res;              /* [(depth+1), B*N*C] residual stream */
    size_t att_stride;       /* floats of saved attention state per block (backend's) */
    float *ln1_mean, *ln1_rstd, *att, *x1, *ln2_mean, *ln2_rstd;
    void *ln1, *ln2, *g;     /* product inputs: floats, or pin-byte elements */
    void *qkv;               /* floats, or pin-byte elements when qkv_pin */
    void *h;                 /* fc1 output: floats, or pin-byte elements when h_pin */
    void *atty;              /* attention output: floats, or pin-byte elements when o_pin */
    size_t pin;              /* the backend's pin_bytes() for this pass (0: floats, plain ops) */
    int qkv_pin;             /* qkv kept in that type too (backend attention_pin) */
    int h_pin;               /* h kept in that type too (backend h_pin) */
    int o_pin;               /* atty kept in that type too (backend o_pin) */
    float *bias3;            /* [depth, 3C]: q_bias, 0, v_bias */
    /* optional, set after init by a caller whose passes share the weights:
     * bias3_ext, the [depth, 3C] q/v biases made once (sv_enc_bias3), used
     * instead of copying them into bias3 block by block; gbias3_ext, a
     * [depth, 3C] sum the backward adds the qkv bias gradient into (q and v
     * parts handed to the parameter gradients later, sv_enc_bias3_grad). */
    const float *bias3_ext;
    float *gbias3_ext;
    float *out;              /* [B*N*C] after the final norm (or res[depth]) */
    float *fn_mean, *fn_rstd;
    int has_norm;
    int dout_scratch;        /* sv_enc_backward may overwrite dout (above) */
    int dx_scratch;          /* dx is zero-filled: sv_enc_backward works in it (above) */
    int ckpt;                /* activation checkpointing (simvtp_checkpoint_mode):
                                BLOCKS: the per-block activations above hold one
                                block (the one being computed); SELECTIVE: only
                                ln1, ln2 and g do, the rest are per block */
} sv_enc_pass;

/* Allocate activations in `a` (backend memory of a->be) for B sequences
 * of N tokens; keyvalid and droppath must also be backend memory. `ckpt`
 * (simvtp_checkpoint_mode): BLOCKS keeps only the blocks' inputs (the
 * residual stream) and one block's other activations; the backward then
 * recomputes each block's forward first (also right for a forward-only
 * pass, where nothing is recomputed). SELECTIVE keeps one slice of the
 * LayerNorm outputs and the GELU output for all blocks; the backward
 * recomputes them from the block's kept input, x1 and h. Either way the
 * gradients are the same bit for bit. */
int sv_enc_pass_init(sv_enc_pass *p, sv_arena *a, int B, int N, int C, int H, int M, int depth,
                     float eps, int has_norm, int ckpt);

/* Forward: input x[B,N,C] (copied into res[0]); result in p->out. */
int sv_enc_forward(const sv_backend *be, sv_enc_pass *p, const sv_block *blk, const float *norm_w,
                   const float *norm_b, const float *x);

/* Backward: dout[B,N,C] w.r.t. p->out; adds parameter gradients to gblk and
 * gnorm_*, and the input gradient to dx[B,N,C]. Without a final norm and
 * with p->dout_scratch set, dout is the backward's own running gradient
 * (one [B,N,C] buffer less; dout is overwritten) and dx may be NULL: the
 * input gradient is then left in dout. Otherwise, with p->dx_scratch set
 * (dx zero-filled and read by nothing else until the call returns), dx is
 * the running gradient (one buffer less). */
int sv_enc_backward(const sv_backend *be, sv_enc_pass *p, const sv_block *blk,
                    const float *norm_w, sv_block *gblk, float *gnorm_w, float *gnorm_b,
                    const float *dout, float *dx);

/* [q_bias, 0, v_bias] of each of the depth blocks (b3, a zero-filled
 * allocation of `a`), for the bias3_ext of passes over the same weights.
 * Where every bias lies a whole number of C-float rows from the lowest of
 * them (ViT blocks: every tensor is whole rows), one rows_copy gathers them
 * (slot, row: its indices, in `a`; base: the bias at row 0, q of block l
 * 2l, v 2l+1); else one copy per bias (slot NULL). Returns 0, or -1 when
 * out of memory. */
typedef struct sv_bias3 {
    float *b3;
    const int32_t *slot, *row;
    int base;
} sv_bias3;
int sv_enc_bias3(const sv_backend *be, sv_arena *a, const sv_block *blk, int depth, int C, sv_bias3 *out);

/* gblk[l].qb += gb3[l, 0:C], gblk[l].vb += gb3[l, 2C:3C]: the qkv bias
 * gradients gathered in a gbias3_ext, once all passes went back (one
 * rows_add with the indices of b, which sv_enc_bias3 made for the
 * weights of gblk). */
void sv_enc_bias3_grad(const sv_backend *be, const sv_bias3 *b, const float *gb3, sv_block *gblk, int depth,
                       int C);

#endif /* SV_ENCODER_H */

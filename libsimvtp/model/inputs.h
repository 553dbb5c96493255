/* model/inputs.h — turning a host batch into model inputs: tubelet patches
 * and reconstruction targets from uint8 frames, masks drawn from the RNG,
 * and the BERT text embedding (forward and backward). */
#ifndef SV_INPUTS_H
#define SV_INPUTS_H

#include "core/arena.h"
#include "model/model.h"

/* patches[B,N,K]: (u/255 - mean_c)/std_c in Conv3d order ((c*t+dt)*p+dy)*p+dx.
 * targets[B,N,K] (may be NULL): per tubelet and channel, (v - mean)/(std+1e-6)
 * with v = u/255 and the unbiased std, in order ((dt*p+dy)*p+dx)*3+c.
 * stats[B,N,3,2] (may be NULL): the mean and std+1e-6 used for targets. */
void sv_tubelets(const simvtp_config *c, const uint8_t *frames, int B, float *patches,
                 float *targets, float *stats);

/* Tube masking: for each sample, a Fisher-Yates permutation of the HxW grid;
 * its first int(ratio*G) cells are masked in every temporal slice.
 * vis_idx[B,Nv] and mask_idx[B,Nm] ascending. */
void sv_draw_tube_masks(const simvtp_config *c, sv_rng *rng, int B, int32_t *vis_idx,
                        int32_t *mask_idx);

/* Text masking: each non-special token below its length is replaced by
 * [MASK] with probability ratio; labels hold the original id there and
 * SV_IGNORE_INDEX elsewhere; positions >= length become [PAD]. Returns the
 * number of masked tokens. */
int sv_draw_text_masks(const simvtp_config *c, sv_rng *rng, const simvtp_batch *b, int L,
                       int32_t *text_in, int32_t *labels, float ratio);

/* Text embedding activations. */
typedef struct sv_text_acts {
    int B, L, D;
    const int32_t *ids;  /* [B,L] */
    float *pre, *mean, *rstd, *ln, *out; /* out = ln * dropmask (or ln) */
    float *dropmask;     /* [B,L,D] or NULL */
} sv_text_acts;

int sv_text_embed_forward(const sv_backend *be, const sv_textemb *w, const simvtp_config *c,
                          sv_text_acts *t, sv_arena *a, const int32_t *ids, int B, int L,
                          sv_rng *dropout_rng);
/* Returns 0, or -1 when out of memory. */
int sv_text_embed_backward(const sv_backend *be, const sv_textemb *w, sv_textemb *g,
                           const sv_text_acts *t, const float *dout);

/* keyvalid[B,L] from lengths. */
void sv_text_valid(const simvtp_batch *b, int L, uint8_t *valid);

#endif /* SV_INPUTS_H */

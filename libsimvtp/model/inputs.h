/* model/inputs.h — turning a host batch into model inputs: tubelet patches
 * and reconstruction targets from uint8 frames, masks drawn from the RNG,
 * and the BERT text embedding (forward and backward). */
#ifndef SV_INPUTS_H
#define SV_INPUTS_H

#include "core/arena.h"
#include "model/model.h"

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

/* Text embedding activations (backend memory, except where marked host). */
typedef struct sv_text_acts {
    int B, L, D;
    const int32_t *ids;  /* [B,L], host */
    float *pre, *mean, *rstd, *ln, *out; /* out = ln * dropmask (or ln) */
    float *dropmask;     /* [B,L,D] or NULL */
    float *dropmask_host; /* the same mask on the host (traces) or NULL */
} sv_text_acts;

/* Activations go to arena a (backend memory), host scratch to h; ids are
 * host memory and must outlive t. Returns 0, or -1 when out of memory. */
int sv_text_embed_forward(const sv_backend *be, const sv_textemb *w, const simvtp_config *c,
                          sv_text_acts *t, sv_arena *a, sv_arena *h, const int32_t *ids, int B,
                          int L, sv_rng *dropout_rng);
/* Returns 0, or -1 when out of memory. */
int sv_text_embed_backward(const sv_backend *be, const sv_textemb *w, sv_textemb *g,
                           const sv_text_acts *t, const float *dout);

/* Rows of a segmented sum (backend rows_add_seg), built on the host: the
 * rows 0..n-1 grouped by key (stable, so rows ascend within a key), one
 * segment per key present. Arrays live in host arena h. */
typedef struct sv_segments {
    int n;                       /* segments */
    int32_t *dst, *off, *rows;   /* [n], [n+1], [off[n]] */
} sv_segments;
int sv_seg_by_key(sv_arena *h, const int32_t *key, int n, int nkeys, sv_segments *s);
/* dst[s.dst[k],:] += sum of src rows of segment k (uploads the index arrays
 * to arena a). Returns 0, or -1 when out of memory. */
int sv_seg_add(const sv_backend *be, sv_arena *a, const sv_segments *s, float *dst,
               const float *src, int C);

/* keyvalid[B,L] from lengths (host). */
void sv_text_valid(const simvtp_batch *b, int L, uint8_t *valid);

#endif /* SV_INPUTS_H */

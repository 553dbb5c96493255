/* model/contrastive.h — the VTC loss: cosine similarity of text and video
 * features (norms clamped at 1e-8) over a temperature, cross-entropy over
 * rows plus over columns (a sum), forward and backward. */
#ifndef SV_CONTRASTIVE_H
#define SV_CONTRASTIVE_H

#include "core/arena.h"
#include "core/backend.h"

typedef struct sv_vtc_acts {
    int B, D;
    float temp;
    /* global batch (v->comm non-NULL, host memory): W ranks, this is rank r;
     * sim and simT are then [B, W*B] (this rank's texts against every
     * video, this rank's videos against every text), tn_all/vn_all the
     * gathered features [W*B, D]; otherwise W = 1, r = 0 and [B,B]. */
    struct simvtp_comm *comm;
    int W, r;
    float *tn_all, *vn_all;
    float *tn, *vn, *tnorm, *vnorm; /* normalized features and norms */
    float *sim, *simT;              /* [B,B] text x video, and its transpose */
    float *p1, *p2, *l1, *l2;       /* softmax and per-row losses */
    const int32_t *target;          /* 0..B-1 */
} sv_vtc_acts;

/* Returns 0 or -1 (out of memory). Activations in a (backend memory), host
 * scratch in h. The loss stays on the backend until sv_vtc_loss reads it
 * (after the backward is queued, so the step does not wait in between). */
int sv_vtc_forward(const sv_backend *be, sv_vtc_acts *v, sv_arena *a, sv_arena *h, const float *tfeat,
                   const float *vfeat, int B, int D, float temp);
/* The same over the global batch of communicator comm (NULL: sv_vtc_forward);
 * a status (collective errors). Every rank calls it with the same B. */
int sv_vtc_forward_global(const sv_backend *be, sv_vtc_acts *v, sv_arena *a, sv_arena *h,
                          struct simvtp_comm *comm, const float *tfeat, const float *vfeat, int B,
                          int D, float temp);
/* *loss = CE(sim) + CE(sim^T), row means; 0 or -1 (out of memory). */
int sv_vtc_loss(const sv_backend *be, const sv_vtc_acts *v, float *loss);
/* dt[B,D] += d loss/d tfeat * dloss, dv likewise; 0, -1 (out of memory),
 * or a status from the collectives of the global batch. */
int sv_vtc_backward(const sv_backend *be, const sv_vtc_acts *v, const float *tfeat,
                    const float *vfeat, float dloss, float *dt, float *dv);

#endif /* SV_CONTRASTIVE_H */

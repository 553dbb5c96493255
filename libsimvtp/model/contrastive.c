/* model/contrastive.c — see contrastive.h. */
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/status_internal.h"
#include "model/contrastive.h"
#include "train/comm_internal.h"

int sv_vtc_forward(const sv_backend *be, sv_vtc_acts *v, sv_arena *a, sv_arena *h,
                   const float *tfeat, const float *vfeat, int B, int D, float temp)
{
    memset(v, 0, sizeof *v);
    v->B = B; v->D = D; v->temp = temp;
    v->W = 1;
    size_t BB = (size_t)B * B;
    int32_t *iota = SV_AI(h, B);
    if (h->failed) return -1;
    for (int i = 0; i < B; i++) iota[i] = i;
    v->tn = SV_AF(a, (size_t)B * D); v->vn = SV_AF(a, (size_t)B * D);
    v->tnorm = SV_AF(a, B); v->vnorm = SV_AF(a, B);
    v->sim = SV_AF(a, BB); v->simT = SV_AF(a, BB);
    v->p1 = SV_AF(a, BB); v->p2 = SV_AF(a, BB);
    v->l1 = SV_AF(a, 2 * (size_t)B); v->l2 = v->l1 + B;
    v->target = SV_VIEWI(a, iota, B);
    if (a->failed) return -1;
    be->l2norm_fwd(v->tn, v->tnorm, tfeat, B, D);
    be->l2norm_fwd(v->vn, v->vnorm, vfeat, B, D);
    be->matmul_fwd(v->sim, v->tn, v->vn, NULL, B, D, B);
    be->scale(v->sim, 1.0f / temp, BB);
    be->transpose(v->simT, v->sim, B, B);
    be->softmax_ce_fwd(v->l1, v->p1, v->sim, v->target, B, B);
    be->softmax_ce_fwd(v->l2, v->p2, v->simT, v->target, B, B);
    return 0;
}

int sv_vtc_forward_global(const sv_backend *be, sv_vtc_acts *v, sv_arena *a, sv_arena *h,
                          struct simvtp_comm *comm, const float *tfeat, const float *vfeat, int B,
                          int D, float temp)
{
    if (!comm || comm->size <= 1) {
        if (sv_vtc_forward(be, v, a, h, tfeat, vfeat, B, D, temp))
            return sv_fail(SIMVTP_ERR_NOMEM, "out of memory in the VTC loss (batch %d)", B);
        return SIMVTP_OK;
    }
    const int W = comm->size, r = comm->rank, WB = W * B;
    const size_t BW = (size_t)B * WB;
    memset(v, 0, sizeof *v);
    v->B = B; v->D = D; v->temp = temp;
    v->comm = comm; v->W = W; v->r = r;
    int32_t *tgt = SV_AI(h, B);
    if (h->failed) return sv_fail(SIMVTP_ERR_NOMEM, "out of memory in the global-batch VTC loss");
    for (int i = 0; i < B; i++) tgt[i] = r * B + i; /* my sample i is column r*B+i */
    v->tn = SV_AF(a, (size_t)B * D); v->vn = SV_AF(a, (size_t)B * D);
    v->tnorm = SV_AF(a, B); v->vnorm = SV_AF(a, B);
    v->tn_all = SV_AF(a, (size_t)WB * D); v->vn_all = SV_AF(a, (size_t)WB * D);
    v->sim = SV_AF(a, BW); v->simT = SV_AF(a, BW);
    v->p1 = SV_AF(a, BW); v->p2 = SV_AF(a, BW);
    v->l1 = SV_AF(a, 2 * (size_t)B); v->l2 = v->l1 + B;
    v->target = SV_VIEWI(a, tgt, B);
    if (a->failed) return sv_fail(SIMVTP_ERR_NOMEM, "out of memory in the global-batch VTC loss");
    be->l2norm_fwd(v->tn, v->tnorm, tfeat, B, D);
    be->l2norm_fwd(v->vn, v->vnorm, vfeat, B, D);
    /* in place, or staged through the host for a device model with a
     * host-memory communicator (B*D floats: cheap either way) */
    int rc = sv_comm_allgather_backend(comm, be, v->tn, v->tn_all, (size_t)B * D);
    if (rc == SIMVTP_OK) rc = sv_comm_allgather_backend(comm, be, v->vn, v->vn_all, (size_t)B * D);
    if (rc) return rc;
    be->matmul_fwd(v->sim, v->tn, v->vn_all, NULL, B, D, WB);   /* my texts x all videos */
    be->matmul_fwd(v->simT, v->vn, v->tn_all, NULL, B, D, WB);  /* my videos x all texts */
    be->scale(v->sim, 1.0f / temp, BW);
    be->scale(v->simT, 1.0f / temp, BW);
    be->softmax_ce_fwd(v->l1, v->p1, v->sim, v->target, B, WB);
    be->softmax_ce_fwd(v->l2, v->p2, v->simT, v->target, B, WB);
    return SIMVTP_OK;
}

int sv_vtc_loss(const sv_backend *be, const sv_vtc_acts *v, float *loss)
{
    const int B = v->B;
    float *l_h = malloc(2 * (size_t)B * sizeof(float));
    if (!l_h) return -1;
    be->memcpy_d2h(l_h, v->l1, 2 * (size_t)B * sizeof(float));
    double s1 = 0, s2 = 0;
    for (int i = 0; i < B; i++) { s1 += l_h[i]; s2 += l_h[B + i]; }
    *loss = (float)(s1 / B + s2 / B);
    free(l_h);
    return 0;
}

/* The global batch's backward: this rank's rows of both similarity
 * matrices give gradients for its own features and for the gathered ones;
 * the latter are summed over the ranks, and each rank keeps its slice. */
static int vtc_backward_global(const sv_backend *be, const sv_vtc_acts *v, sv_arena *a,
                               const float *dl, float *dtn, float *dvn)
{
    const int B = v->B, D = v->D, WB = v->W * v->B;
    const size_t BW = (size_t)B * WB, part = (size_t)WB * D;
    float *ds1 = SV_AF(a, BW), *ds2 = SV_AF(a, BW);
    float *dtn_all = SV_AF(a, part), *dvn_all = SV_AF(a, part);
    if (a->failed) return sv_fail(SIMVTP_ERR_NOMEM, "out of memory in the global-batch VTC backward");
    be->softmax_ce_bwd(ds1, v->p1, v->target, dl, B, WB);
    be->softmax_ce_bwd(ds2, v->p2, v->target, dl, B, WB);
    be->scale(ds1, 1.0f / v->temp, BW);
    be->scale(ds2, 1.0f / v->temp, BW);
    /* sim1 = tn . vn_all^T: dtn += ds1 . vn_all, dvn_all += ds1^T . tn (and the mirror) */
    be->matmul_bwd(dtn, dvn_all, NULL, ds1, v->tn, v->vn_all, B, D, WB);
    be->matmul_bwd(dvn, dtn_all, NULL, ds2, v->vn, v->tn_all, B, D, WB);
    int rc = sv_comm_reduce_backend(v->comm, be, dtn_all, part);
    if (rc == SIMVTP_OK) rc = sv_comm_reduce_backend(v->comm, be, dvn_all, part);
    if (rc) return rc;
    be->add(dtn, dtn_all + (size_t)v->r * B * D, (size_t)B * D);
    be->add(dvn, dvn_all + (size_t)v->r * B * D, (size_t)B * D);
    return SIMVTP_OK;
}

int sv_vtc_backward(const sv_backend *be, const sv_vtc_acts *v, const float *tfeat,
                    const float *vfeat, float dloss, float *dt, float *dv)
{
    const int B = v->B, D = v->D;
    const size_t BB = (size_t)B * B;
    sv_arena a = {.be = be}, h = {0};
    int rc = SIMVTP_OK;
    float *dl_h = SV_AF(&h, B);
    if (h.failed) goto nomem;
    for (int i = 0; i < B; i++) dl_h[i] = dloss / B;
    const float *dl = SV_VIEWF(&a, dl_h, B);
    float *dtn = SV_AF(&a, (size_t)B * D), *dvn = SV_AF(&a, (size_t)B * D);
    if (a.failed) goto nomem;
    if (v->comm) {
        if ((rc = vtc_backward_global(be, v, &a, dl, dtn, dvn))) goto out;
    } else {
        float *ds = SV_AF(&a, BB), *dsT = SV_AF(&a, BB), *dsTT = SV_AF(&a, BB);
        if (a.failed) goto nomem;
        be->softmax_ce_bwd(ds, v->p1, v->target, dl, B, B);
        be->softmax_ce_bwd(dsT, v->p2, v->target, dl, B, B);
        be->transpose(dsTT, dsT, B, B);
        be->add(ds, dsTT, BB);               /* ds = (ds + dsT^T) / temp */
        be->scale(ds, 1.0f / v->temp, BB);
        be->matmul_bwd(dtn, dvn, NULL, ds, v->tn, v->vn, B, D, B);
    }
    be->l2norm_bwd(dt, dtn, tfeat, v->tnorm, B, D);
    be->l2norm_bwd(dv, dvn, vfeat, v->vnorm, B, D);
    goto out;
nomem:
    rc = sv_fail(SIMVTP_ERR_NOMEM, "out of memory in the VTC backward (batch %d)", B);
out:
    sv_arena_free(&a);
    sv_arena_free(&h);
    return rc;
}


/* model/contrastive.c — see contrastive.h. */
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "model/contrastive.h"

int sv_vtc_forward(const sv_backend *be, sv_vtc_acts *v, sv_arena *a, sv_arena *h,
                   const float *tfeat, const float *vfeat, int B, int D, float temp)
{
    memset(v, 0, sizeof *v);
    v->B = B; v->D = D; v->temp = temp;
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

int sv_vtc_backward(const sv_backend *be, const sv_vtc_acts *v, const float *tfeat,
                    const float *vfeat, float dloss, float *dt, float *dv)
{
    const int B = v->B, D = v->D;
    const size_t BB = (size_t)B * B;
    sv_arena a = {.be = be}, h = {0};
    int rc = -1;
    float *dl_h = SV_AF(&h, B);
    if (h.failed) goto out;
    for (int i = 0; i < B; i++) dl_h[i] = dloss / B;
    const float *dl = SV_VIEWF(&a, dl_h, B);
    float *ds = SV_AF(&a, BB), *dsT = SV_AF(&a, BB), *dsTT = SV_AF(&a, BB);
    float *dtn = SV_AF(&a, (size_t)B * D), *dvn = SV_AF(&a, (size_t)B * D);
    if (a.failed) goto out;
    be->softmax_ce_bwd(ds, v->p1, v->target, dl, B, B);
    be->softmax_ce_bwd(dsT, v->p2, v->target, dl, B, B);
    be->transpose(dsTT, dsT, B, B);
    be->add(ds, dsTT, BB);               /* ds = (ds + dsT^T) / temp */
    be->scale(ds, 1.0f / v->temp, BB);
    be->matmul_bwd(dtn, dvn, NULL, ds, v->tn, v->vn, B, D, B);
    be->l2norm_bwd(dt, dtn, tfeat, v->tnorm, B, D);
    be->l2norm_bwd(dv, dvn, vfeat, v->vnorm, B, D);
    rc = 0;
out:
    sv_arena_free(&a);
    sv_arena_free(&h);
    return rc;
}

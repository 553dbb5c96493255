/* model/contrastive.c — see contrastive.h. */
#include <string.h>

#include "core/arena.h"
#include "model/contrastive.h"

int sv_vtc_forward(const sv_backend *be, sv_vtc_acts *v, sv_arena *a, const float *tfeat,
                   const float *vfeat, int B, int D, float temp, float *loss)
{
    memset(v, 0, sizeof *v);
    v->B = B; v->D = D; v->temp = temp;
    size_t BB = (size_t)B * B;
    v->tn = SV_AF(a, (size_t)B * D); v->vn = SV_AF(a, (size_t)B * D);
    v->tnorm = SV_AF(a, B); v->vnorm = SV_AF(a, B);
    v->sim = SV_AF(a, BB); v->simT = SV_AF(a, BB);
    v->p1 = SV_AF(a, BB); v->p2 = SV_AF(a, BB);
    v->l1 = SV_AF(a, B); v->l2 = SV_AF(a, B);
    v->target = SV_AI(a, B);
    if (a->failed) return -1;
    be->l2norm_fwd(v->tn, v->tnorm, tfeat, B, D);
    be->l2norm_fwd(v->vn, v->vnorm, vfeat, B, D);
    be->matmul_fwd(v->sim, v->tn, v->vn, NULL, B, D, B);
    for (size_t i = 0; i < BB; i++) v->sim[i] /= temp;
    for (int i = 0; i < B; i++) {
        v->target[i] = i;
        for (int j = 0; j < B; j++) v->simT[(size_t)j * B + i] = v->sim[(size_t)i * B + j];
    }
    be->softmax_ce_fwd(v->l1, v->p1, v->sim, v->target, B, B);
    be->softmax_ce_fwd(v->l2, v->p2, v->simT, v->target, B, B);
    double s1 = 0, s2 = 0;
    for (int i = 0; i < B; i++) { s1 += v->l1[i]; s2 += v->l2[i]; }
    *loss = (float)(s1 / B + s2 / B);
    return 0;
}

int sv_vtc_backward(const sv_backend *be, const sv_vtc_acts *v, const float *tfeat,
                    const float *vfeat, float dloss, float *dt, float *dv)
{
    const int B = v->B, D = v->D;
    const size_t BB = (size_t)B * B;
    sv_arena a = {0};
    float *dl = SV_AF(&a, B), *ds = SV_AF(&a, BB), *dsT = SV_AF(&a, BB);
    float *dtn = SV_AF(&a, (size_t)B * D), *dvn = SV_AF(&a, (size_t)B * D);
    if (a.failed) { sv_arena_free(&a); return -1; }
    for (int i = 0; i < B; i++) dl[i] = dloss / B;
    be->softmax_ce_bwd(ds, v->p1, v->target, dl, B, B);
    be->softmax_ce_bwd(dsT, v->p2, v->target, dl, B, B);
    for (int i = 0; i < B; i++)
        for (int j = 0; j < B; j++)
            ds[(size_t)i * B + j] = (ds[(size_t)i * B + j] + dsT[(size_t)j * B + i]) / v->temp;
    be->matmul_bwd(dtn, dvn, NULL, ds, v->tn, v->vn, B, D, B);
    be->l2norm_bwd(dt, dtn, tfeat, v->tnorm, B, D);
    be->l2norm_bwd(dv, dvn, vfeat, v->vnorm, B, D);
    sv_arena_free(&a);
    return 0;
}

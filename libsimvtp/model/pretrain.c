/* model/pretrain.c — one SimVTP pretraining step on the backend: masking,
 * the joint pass (video MAE decoder + MLM head), the two single-modality
 * passes (VTC), the negative-pair pass (VTM), all four losses, and the
 * backward through all of them. RNG draw order (fixed, so runs reproduce):
 * tube masks per sample, text masks, embedding dropout, VTM negatives. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/status_internal.h"
#include "model/contrastive.h"
#include "model/encoder.h"
#include "model/inputs.h"
#include "model/model.h"
#include "model/trace.h"

/* dst[i,:] = src[i,:] + table[idx[i],:] */
static void add_table_rows(float *dst, const float *src, const float *table, const int32_t *idx,
                           int n, int C)
{
    for (int i = 0; i < n; i++)
        for (int c = 0; c < C; c++)
            dst[(size_t)i * C + c] = src[(size_t)i * C + c] + table[(size_t)idx[i] * C + c];
}

static void draw_negatives(sv_rng *rng, int B, int hard, const float *sim, int32_t *neg)
{
    for (int i = 0; i < B; i++) {
        if (!hard) {
            int j = (int)sv_rng_below(rng, (uint32_t)(B - 1));
            neg[i] = j + (j >= i);
            continue;
        }
        /* Hard negatives: j != i with probability proportional to exp(sim[i,j]). */
        double mx = -INFINITY, total = 0;
        for (int j = 0; j < B; j++)
            if (j != i && sim[(size_t)i * B + j] > mx) mx = sim[(size_t)i * B + j];
        for (int j = 0; j < B; j++)
            if (j != i) total += exp(sim[(size_t)i * B + j] - mx);
        double u = (double)sv_rng_uniform(rng) * total;
        int pick = i == 0 ? 1 : 0;
        for (int j = 0; j < B; j++) {
            if (j == i) continue;
            pick = j;
            u -= exp(sim[(size_t)i * B + j] - mx);
            if (u < 0) break;
        }
        neg[i] = pick;
    }
}

/* Build [video rows of sample vsrc(b) | text rows of b] sequences. */
static void concat_joint(float *J, const float *ev, const float *text, const int32_t *vsrc,
                         int B, int Nv, int L, int D)
{
    const size_t S = (size_t)Nv + L;
    for (int b = 0; b < B; b++) {
        int v = vsrc ? vsrc[b] : b;
        memcpy(J + b * S * D, ev + (size_t)v * Nv * D, (size_t)Nv * D * sizeof(float));
        memcpy(J + (b * S + Nv) * D, text + (size_t)b * L * D, (size_t)L * D * sizeof(float));
    }
}

/* Inverse of concat_joint for gradients: dev[vsrc(b)] += dJ video rows, dtext[b] += text rows. */
static void split_joint_grad(const float *dJ, float *dev, float *dtext, const int32_t *vsrc,
                             int B, int Nv, int L, int D)
{
    const size_t S = (size_t)Nv + L;
    for (int b = 0; b < B; b++) {
        int v = vsrc ? vsrc[b] : b;
        const float *src = dJ + b * S * D;
        float *dv = dev + (size_t)v * Nv * D, *dt = dtext + (size_t)b * L * D;
        for (size_t i = 0; i < (size_t)Nv * D; i++) dv[i] += src[i];
        src += (size_t)Nv * D;
        for (size_t i = 0; i < (size_t)L * D; i++) dt[i] += src[i];
    }
}

int sv_pretrain_run(simvtp_model *m, const simvtp_batch *b, uint64_t seed, int training,
                    int backward, float gs, simvtp_losses *losses, sv_pt_trace *trace)
{
    const simvtp_config *c = &m->cfg;
    const sv_backend *be = m->be;
    const sv_weights *w = &m->w;
    sv_weights *g = &m->g;
    int L;
    SV_TRY(sv_check_train_batch(m, b, &L));
    const int B = b->batch;
    const int N = simvtp_config_num_video_tokens(c), Nv = simvtp_config_num_visible_tokens(c);
    const int Nm = N - Nv, K = simvtp_config_tubelet_dim(c), D = c->enc_width;
    const int Dd = c->dec_width, V = c->vocab_size, S = Nv + L;
    sv_rng rng;
    sv_rng_seed(&rng, seed);
    sv_arena a = {0};
    int rc = SIMVTP_OK;
#define NOMEM_IF(cond) do { if (cond) { rc = sv_fail(SIMVTP_ERR_NOMEM, "out of memory in the pretraining step (batch %d)", B); goto done; } } while (0)

    /* 1. masks */
    int32_t *vis_idx = SV_AI(&a, (size_t)B * Nv), *mask_idx = SV_AI(&a, (size_t)B * Nm);
    int32_t *text_in = SV_AI(&a, (size_t)B * L), *labels = SV_AI(&a, (size_t)B * L);
    NOMEM_IF(a.failed);
    sv_draw_tube_masks(c, &rng, B, vis_idx, mask_idx);
    const int Mt = sv_draw_text_masks(c, &rng, b, L, text_in, labels, c->text_mask_ratio);

    /* 2. video inputs: patches of visible tubelets, targets of masked ones */
    float *patches = SV_AF(&a, (size_t)B * N * K), *targets = SV_AF(&a, (size_t)B * N * K);
    int32_t *gvis = SV_AI(&a, (size_t)B * Nv), *gmask = SV_AI(&a, (size_t)B * Nm);
    float *pvis = SV_AF(&a, (size_t)B * Nv * K), *tgt = SV_AF(&a, (size_t)B * Nm * K);
    float *ev = SV_AF(&a, (size_t)B * Nv * D);
    NOMEM_IF(a.failed);
    sv_tubelets(c, b->frames, B, patches, targets, NULL);
    for (int i = 0; i < B * Nv; i++) gvis[i] = (i / Nv) * N + vis_idx[i];
    for (int i = 0; i < B * Nm; i++) gmask[i] = (i / Nm) * N + mask_idx[i];
    be->gather_rows(pvis, patches, gvis, B * Nv, K);
    be->gather_rows(tgt, targets, gmask, B * Nm, K);
    be->matmul_fwd(ev, pvis, w->patch_w, w->patch_b, B * Nv, K, D);
    add_table_rows(ev, ev, m->pe_enc, vis_idx, B * Nv, D);

    /* 3. text embeddings (one dropout draw shared by every text use) */
    sv_text_acts ta;
    NOMEM_IF(sv_text_embed_forward(be, &w->temb, c, &ta, &a, text_in, B, L, training ? &rng : NULL));
    uint8_t *tvalid = SV_AU8(&a, (size_t)B * L), *jvalid = SV_AU8(&a, (size_t)B * S);
    float *J = SV_AF(&a, (size_t)B * S * D);
    NOMEM_IF(a.failed);
    sv_text_valid(b, L, tvalid);
    for (int i = 0; i < B; i++) {
        memset(jvalid + (size_t)i * S, 1, (size_t)Nv);
        memcpy(jvalid + (size_t)i * S + Nv, tvalid + (size_t)i * L, (size_t)L);
    }

    /* 4. joint pass */
    sv_enc_pass pj;
    if ((rc = sv_enc_pass_init(&pj, &a, B, S, D, c->enc_heads, c->enc_mlp, c->enc_depth, c->ln_eps, 1))) goto done;
    pj.keyvalid = jvalid;
    concat_joint(J, ev, ta.out, NULL, B, Nv, L, D);
    if ((rc = sv_enc_forward(be, &pj, w->enc, w->enc_norm_w, w->enc_norm_b, J))) goto done;

    /* 5. video decoder on [visible, mask tokens] */
    int32_t *gov = SV_AI(&a, (size_t)B * Nv), *gdm = SV_AI(&a, (size_t)B * Nm);
    float *ov = SV_AF(&a, (size_t)B * Nv * D), *z = SV_AF(&a, (size_t)B * Nv * Dd);
    float *dec_in = SV_AF(&a, (size_t)B * N * Dd), *dm = SV_AF(&a, (size_t)B * Nm * Dd);
    float *pred = SV_AF(&a, (size_t)B * Nm * K);
    NOMEM_IF(a.failed);
    for (int i = 0; i < B * Nv; i++) gov[i] = (i / Nv) * S + i % Nv;
    for (int i = 0; i < B * Nm; i++) gdm[i] = (i / Nm) * N + Nv + i % Nm;
    be->gather_rows(ov, pj.out, gov, B * Nv, D);
    be->matmul_fwd(z, ov, w->e2d_w, NULL, B * Nv, D, Dd);
    for (int i = 0; i < B; i++) {
        add_table_rows(dec_in + (size_t)i * N * Dd, z + (size_t)i * Nv * Dd, m->pe_dec,
                       vis_idx + (size_t)i * Nv, Nv, Dd);
        for (int k = 0; k < Nm; k++)
            for (int d = 0; d < Dd; d++)
                dec_in[((size_t)i * N + Nv + k) * Dd + d] =
                    w->mask_token[d] + m->pe_dec[(size_t)mask_idx[(size_t)i * Nm + k] * Dd + d];
    }
    sv_enc_pass pd;
    if ((rc = sv_enc_pass_init(&pd, &a, B, N, Dd, c->dec_heads, c->dec_mlp, c->dec_depth, c->ln_eps, 1))) goto done;
    if ((rc = sv_enc_forward(be, &pd, w->dec, w->dec_norm_w, w->dec_norm_b, dec_in))) goto done;
    be->gather_rows(dm, pd.out, gdm, B * Nm, Dd);
    be->matmul_fwd(pred, dm, w->head_w, w->head_b, B * Nm, Dd, K);
    const float mse = be->mse_fwd(pred, tgt, (size_t)B * Nm, (size_t)K);

    /* 6. MLM on the masked text positions */
    int32_t *mrows = SV_AI(&a, Mt ? Mt : 1), *mtgt = SV_AI(&a, Mt ? Mt : 1);
    float *mh = SV_AF(&a, (size_t)(Mt ? Mt : 1) * D);
    float *mlog = SV_AF(&a, (size_t)(Mt ? Mt : 1) * V), *mprob = SV_AF(&a, (size_t)(Mt ? Mt : 1) * V);
    float *mloss = SV_AF(&a, Mt ? Mt : 1);
    NOMEM_IF(a.failed);
    float mlm = 0.0f;
    if (Mt > 0) {
        int k = 0;
        for (int i = 0; i < B; i++)
            for (int l = 0; l < L; l++)
                if (labels[(size_t)i * L + l] != SV_IGNORE_INDEX) {
                    mrows[k] = i * S + Nv + l;
                    mtgt[k++] = labels[(size_t)i * L + l];
                }
        be->gather_rows(mh, pj.out, mrows, Mt, D);
        be->matmul_fwd(mlog, mh, w->mlm_w, w->mlm_b, Mt, D, V);
        be->softmax_ce_fwd(mloss, mprob, mlog, mtgt, Mt, V);
        double s = 0;
        for (int i = 0; i < Mt; i++) s += mloss[i];
        mlm = (float)(s / Mt);
    }

    /* 7. VTC: video-only and text-only passes */
    sv_enc_pass pv, pt;
    if ((rc = sv_enc_pass_init(&pv, &a, B, Nv, D, c->enc_heads, c->enc_mlp, c->enc_depth, c->ln_eps, 1))) goto done;
    if ((rc = sv_enc_pass_init(&pt, &a, B, L, D, c->enc_heads, c->enc_mlp, c->enc_depth, c->ln_eps, 1))) goto done;
    pt.keyvalid = tvalid;
    float *vfeat = SV_AF(&a, (size_t)B * D), *tfeat = SV_AF(&a, (size_t)B * D);
    NOMEM_IF(a.failed);
    if ((rc = sv_enc_forward(be, &pv, w->enc, w->enc_norm_w, w->enc_norm_b, ev))) goto done;
    if ((rc = sv_enc_forward(be, &pt, w->enc, w->enc_norm_w, w->enc_norm_b, ta.out))) goto done;
    const uint8_t *tpool_valid = c->vtc_pool_exclude_pad ? tvalid : NULL;
    be->meanpool_fwd(vfeat, pv.out, NULL, B, Nv, D);
    be->meanpool_fwd(tfeat, pt.out, tpool_valid, B, L, D);
    sv_vtc_acts vtc_a;
    float vtc;
    NOMEM_IF(sv_vtc_forward(be, &vtc_a, &a, tfeat, vfeat, B, D, c->vtc_temperature, &vtc));

    /* 8. VTM: positives are the joint pass; negatives pair text i with video neg[i] */
    int32_t *neg = SV_AI(&a, B), *vlab = SV_AI(&a, 2 * (size_t)B);
    float *Jn = SV_AF(&a, (size_t)B * S * D), *pool = SV_AF(&a, 2 * (size_t)B * D);
    float *vlog = SV_AF(&a, 4 * (size_t)B), *vprob = SV_AF(&a, 4 * (size_t)B), *vloss = SV_AF(&a, 2 * (size_t)B);
    NOMEM_IF(a.failed);
    draw_negatives(&rng, B, c->vtm_hard_negatives, vtc_a.sim, neg);
    sv_enc_pass pn;
    if ((rc = sv_enc_pass_init(&pn, &a, B, S, D, c->enc_heads, c->enc_mlp, c->enc_depth, c->ln_eps, 1))) goto done;
    pn.keyvalid = jvalid;
    concat_joint(Jn, ev, ta.out, neg, B, Nv, L, D);
    if ((rc = sv_enc_forward(be, &pn, w->enc, w->enc_norm_w, w->enc_norm_b, Jn))) goto done;
    be->meanpool_fwd(pool, pj.out, NULL, B, S, D);
    be->meanpool_fwd(pool + (size_t)B * D, pn.out, NULL, B, S, D);
    be->matmul_fwd(vlog, pool, w->vtm_w, w->vtm_b, 2 * B, D, 2);
    for (int i = 0; i < 2 * B; i++) vlab[i] = i < B;
    be->softmax_ce_fwd(vloss, vprob, vlog, vlab, 2 * B, 2);
    double vs = 0;
    for (int i = 0; i < 2 * B; i++) vs += vloss[i];
    const float vtm = (float)(vs / (2 * B));

    if (losses) {
        losses->video_mse = mse;
        losses->mlm = mlm;
        losses->vtc = vtc;
        losses->vtm = vtm;
        losses->total = mse + mlm + vtc + vtm;
        losses->masked_text = Mt;
    }
    if (trace) {
        sv_trace_fill_pretrain(trace, B, L, N, Nv, vis_idx, mask_idx, text_in, labels,
                               ta.dropmask, D, neg);
        int32_t *amax = trace->B ? SV_AI(&a, (size_t)B * L) : NULL;
        if (amax) {
            memcpy(amax, text_in, (size_t)B * L * sizeof(int32_t));
            for (int k = 0; k < Mt; k++) {
                const float *pr = mprob + (size_t)k * V;
                int best = 0;
                for (int v = 1; v < V; v++) if (pr[v] > pr[best]) best = v;
                int row = mrows[k] / S, col = mrows[k] % S - Nv;
                amax[(size_t)row * L + col] = best;
            }
            sv_trace_fill_outputs(trace, pred, (size_t)B * Nm * K, amax);
        }
        if (trace->B == 0) NOMEM_IF(1);
    }
    if (!backward) goto done;

    /* ---------------- backward ---------------- */
    float *dOj = SV_AF(&a, (size_t)B * S * D), *dOn = SV_AF(&a, (size_t)B * S * D);
    float *dJ = SV_AF(&a, (size_t)B * S * D), *dEv = SV_AF(&a, (size_t)B * Nv * D);
    float *dT = SV_AF(&a, (size_t)B * L * D);
    NOMEM_IF(a.failed);

    /* VTM */
    {
        float *dl = SV_AF(&a, 2 * (size_t)B), *dlog = SV_AF(&a, 4 * (size_t)B);
        float *dpool = SV_AF(&a, 2 * (size_t)B * D);
        NOMEM_IF(a.failed);
        for (int i = 0; i < 2 * B; i++) dl[i] = gs / (2 * B);
        be->softmax_ce_bwd(dlog, vprob, vlab, dl, 2 * B, 2);
        be->matmul_bwd(dpool, g->vtm_w, g->vtm_b, dlog, pool, w->vtm_w, 2 * B, D, 2);
        be->meanpool_bwd(dOj, dpool, NULL, B, S, D);
        be->meanpool_bwd(dOn, dpool + (size_t)B * D, NULL, B, S, D);
        if ((rc = sv_enc_backward(be, &pn, w->enc, w->enc_norm_w, g->enc, g->enc_norm_w,
                                  g->enc_norm_b, dOn, dJ))) goto done;
        split_joint_grad(dJ, dEv, dT, neg, B, Nv, L, D);
    }
    /* VTC */
    {
        float *dvf = SV_AF(&a, (size_t)B * D), *dtf = SV_AF(&a, (size_t)B * D);
        float *dOv = SV_AF(&a, (size_t)B * Nv * D), *dOt = SV_AF(&a, (size_t)B * L * D);
        NOMEM_IF(a.failed);
        NOMEM_IF(sv_vtc_backward(be, &vtc_a, tfeat, vfeat, gs, dtf, dvf));
        be->meanpool_bwd(dOv, dvf, NULL, B, Nv, D);
        be->meanpool_bwd(dOt, dtf, tpool_valid, B, L, D);
        if ((rc = sv_enc_backward(be, &pv, w->enc, w->enc_norm_w, g->enc, g->enc_norm_w,
                                  g->enc_norm_b, dOv, dEv))) goto done;
        if ((rc = sv_enc_backward(be, &pt, w->enc, w->enc_norm_w, g->enc, g->enc_norm_w,
                                  g->enc_norm_b, dOt, dT))) goto done;
    }
    /* MLM */
    if (Mt > 0) {
        float *dl = SV_AF(&a, Mt), *dlog = SV_AF(&a, (size_t)Mt * V), *dmh = SV_AF(&a, (size_t)Mt * D);
        NOMEM_IF(a.failed);
        for (int i = 0; i < Mt; i++) dl[i] = gs / Mt;
        be->softmax_ce_bwd(dlog, mprob, mtgt, dl, Mt, V);
        be->matmul_bwd(dmh, g->mlm_w, g->mlm_b, dlog, mh, w->mlm_w, Mt, D, V);
        be->scatter_add_rows(dOj, dmh, mrows, Mt, D);
    }
    /* video decoder */
    {
        float *dpred = SV_AF(&a, (size_t)B * Nm * K), *ddm = SV_AF(&a, (size_t)B * Nm * Dd);
        float *dDo = SV_AF(&a, (size_t)B * N * Dd), *dDi = SV_AF(&a, (size_t)B * N * Dd);
        float *dz = SV_AF(&a, (size_t)B * Nv * Dd), *dov = SV_AF(&a, (size_t)B * Nv * D);
        NOMEM_IF(a.failed);
        be->mse_bwd(dpred, pred, tgt, (size_t)B * Nm, (size_t)K, gs);
        be->matmul_bwd(ddm, g->head_w, g->head_b, dpred, dm, w->head_w, B * Nm, Dd, K);
        be->scatter_add_rows(dDo, ddm, gdm, B * Nm, Dd);
        if ((rc = sv_enc_backward(be, &pd, w->dec, w->dec_norm_w, g->dec, g->dec_norm_w,
                                  g->dec_norm_b, dDo, dDi))) goto done;
        for (int i = 0; i < B; i++) {
            memcpy(dz + (size_t)i * Nv * Dd, dDi + (size_t)i * N * Dd, (size_t)Nv * Dd * sizeof(float));
            for (int k = 0; k < Nm; k++)
                for (int d = 0; d < Dd; d++) g->mask_token[d] += dDi[((size_t)i * N + Nv + k) * Dd + d];
        }
        be->matmul_bwd(dov, g->e2d_w, NULL, dz, ov, w->e2d_w, B * Nv, D, Dd);
        be->scatter_add_rows(dOj, dov, gov, B * Nv, D);
    }
    /* joint pass, then the embeddings */
    memset(dJ, 0, (size_t)B * S * D * sizeof(float));
    if ((rc = sv_enc_backward(be, &pj, w->enc, w->enc_norm_w, g->enc, g->enc_norm_w,
                              g->enc_norm_b, dOj, dJ))) goto done;
    split_joint_grad(dJ, dEv, dT, NULL, B, Nv, L, D);
    be->matmul_bwd(NULL, g->patch_w, g->patch_b, dEv, pvis, w->patch_w, B * Nv, K, D);
    NOMEM_IF(sv_text_embed_backward(be, &w->temb, &g->temb, &ta, dT));

done:
    sv_arena_free(&a);
#undef NOMEM_IF
    return rc;
}

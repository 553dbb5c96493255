/* model/pretrain.c — one SimVTP pretraining step on the backend: masking,
 * the two single-modality passes (VTC), the joint pass over each sample's
 * video and text (video MAE decoder, MLM head, VTM positives) and over the
 * negative pairs (VTM) as one pass of 2B sequences, all four losses, and
 * the backward through all of them. RNG draw order (fixed, so runs reproduce):
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
#include "train/comm_internal.h"

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

/* Row maps of the joint sequences [Nv video rows | L text rows] (host):
 * vdst[b*Nv+j] = b*S+j and tdst[b*L+l] = b*S+Nv+l. */
static void joint_maps(int B, int Nv, int L, int32_t *vdst, int32_t *tdst)
{
    const int S = Nv + L;
    for (int i = 0; i < B * Nv; i++) vdst[i] = (i / Nv) * S + i % Nv;
    for (int i = 0; i < B * L; i++) tdst[i] = (i / L) * S + Nv + i % L;
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
    if (m->text_width > L) L = m->text_width; /* global-batch VTC: pad as the widest rank */
    SV_TRY(be->activate(be));
    const int B = b->batch;
    const int N = simvtp_config_num_video_tokens(c), Nv = simvtp_config_num_visible_tokens(c);
    const int Nm = N - Nv, K = simvtp_config_tubelet_dim(c), D = c->enc_width;
    const int Dd = c->dec_width, V = c->vocab_size, S = Nv + L;
    const size_t clip = (size_t)c->frames * c->height * c->width * 3;
    sv_rng rng;
    sv_rng_seed(&rng, seed);
    sv_arena a = {.be = be}; /* activations: backend memory */
    sv_arena va = {.be = be}; /* those of the VTC passes, freed once they went back */
    sv_arena ma = {.be = be}; /* the MLM head's input and logits, freed once they went back */
    /* the pixel head's buffers, each freed as soon as the head's backward is
     * done with it: the masked targets (once the loss is read and its
     * gradient made, over the predictions), the head's input and the
     * predictions' gradient (after the head's product), the head input's
     * gradient (once it reached the decoder's output gradient) */
    sv_arena xa = {.be = be}, ha = {.be = be}, da = {.be = be};
    sv_arena ia = {.be = be}; /* the decoder's input, freed once its pass copied it */
    float mse = 0.0f;
    sv_arena h = {0};        /* random decisions and index maps: host */
    int rc = SIMVTP_OK;
#define NOMEM_IF(cond) do { if (cond) { rc = sv_fail(SIMVTP_ERR_NOMEM, "out of memory in the pretraining step (batch %d)", B); goto done; } } while (0)
    if (be->weights_begin) be->weights_begin(m->params, m->nparams); /* unchanged until done */
    /* forward only: no block's activations are needed twice */
    const int ckpt = backward ? m->ckpt_acts : SIMVTP_CHECKPOINT_BLOCKS;

    /* 1. masks and the row maps built from them (host) */
    int32_t *vis_idx = SV_AI(&h, (size_t)B * Nv), *mask_idx = SV_AI(&h, (size_t)B * Nm);
    int32_t *text_in = SV_AI(&h, (size_t)B * L), *labels = SV_AI(&h, (size_t)B * L);
    int32_t *gvis = SV_AI(&h, (size_t)B * Nv), *gmask = SV_AI(&h, (size_t)B * Nm);
    int32_t *gov = SV_AI(&h, (size_t)B * Nv), *gdm = SV_AI(&h, (size_t)B * Nm);
    int32_t *dvis = SV_AI(&h, (size_t)B * Nv), *tdst = SV_AI(&h, (size_t)B * L);
    uint8_t *tvalid = SV_AU8(&h, (size_t)B * L), *jvalid = SV_AU8(&h, 2 * (size_t)B * S);
    NOMEM_IF(h.failed);
    sv_draw_tube_masks(c, &rng, B, vis_idx, mask_idx);
    const int Mt = sv_draw_text_masks(c, &rng, b, L, text_in, labels, c->text_mask_ratio);
    for (int i = 0; i < B * Nv; i++) gvis[i] = (i / Nv) * N + vis_idx[i];
    for (int i = 0; i < B * Nm; i++) gmask[i] = (i / Nm) * N + mask_idx[i];
    for (int i = 0; i < B * Nv; i++) dvis[i] = (i / Nv) * N + i % Nv;   /* decoder rows of visible tokens */
    for (int i = 0; i < B * Nm; i++) gdm[i] = (i / Nm) * N + Nv + i % Nm; /* decoder rows of mask tokens */
    joint_maps(B, Nv, L, gov, tdst);                                    /* joint rows of video / text */
    sv_text_valid(b, L, tvalid);
    for (int i = 0; i < 2 * B; i++) { /* the joint pass's 2B sequences: sample i % B */
        memset(jvalid + (size_t)i * S, 1, (size_t)Nv);
        memcpy(jvalid + (size_t)i * S + Nv, tvalid + (size_t)(i % B) * L, (size_t)L);
    }
    /* masked text rows of the joint sequence, and their labels (MLM) */
    const int Mt1 = Mt ? Mt : 1;
    int32_t *mrows = SV_AI(&h, Mt1), *mtgt = SV_AI(&h, Mt1);
    float *mloss_h = SV_AF(&h, Mt1);
    NOMEM_IF(h.failed);
    for (int i = 0, k = 0; i < B; i++)
        for (int l = 0; l < L; l++)
            if (labels[(size_t)i * L + l] != SV_IGNORE_INDEX) {
                mrows[k] = i * S + Nv + l;
                mtgt[k++] = labels[(size_t)i * L + l];
            }
    const int32_t *mrows_d = SV_VIEWI(&a, mrows, Mt1), *mtgt_d = SV_VIEWI(&a, mtgt, Mt1);
    const int32_t *vis_idx_d = SV_VIEWI(&a, vis_idx, (size_t)B * Nv);
    const int32_t *mask_idx_d = SV_VIEWI(&a, mask_idx, (size_t)B * Nm);
    const int32_t *gvis_d = SV_VIEWI(&a, gvis, (size_t)B * Nv), *gmask_d = SV_VIEWI(&a, gmask, (size_t)B * Nm);
    const int32_t *gov_d = SV_VIEWI(&a, gov, (size_t)B * Nv), *gdm_d = SV_VIEWI(&a, gdm, (size_t)B * Nm);
    const int32_t *dvis_d = SV_VIEWI(&a, dvis, (size_t)B * Nv), *tdst_d = SV_VIEWI(&a, tdst, (size_t)B * L);
    const int32_t *zeros_d = SV_AI(&a, (size_t)B * Nm); /* row 0 of the mask token, for every row */
    const uint8_t *tvalid_d = SV_VIEWU8(&a, tvalid, (size_t)B * L);
    const uint8_t *jvalid_d = SV_VIEWU8(&a, jvalid, 2 * (size_t)B * S);
    const uint8_t *frames_d = SV_VIEWU8(&a, b->frames, clip * B);
    NOMEM_IF(a.failed);

    /* 2. video inputs: patches of visible tubelets, targets of masked ones.
     * Those of all N tubelets live only until the two gathers (their own
     * arena, freed right after: 2 x N x K floats per clip less at the step's
     * peak, stream-ordered on a device). Raw (core/arena.h) here and below
     * where the first op to write a buffer overwrites all of it. */
    sv_arena pa = {.be = be};
    float *patches = SV_AFR(&pa, (size_t)B * N * K), *targets = SV_AFR(&pa, (size_t)B * N * K);
    float *pvis = SV_AFR(&a, (size_t)B * Nv * K), *tgt = SV_AFR(&xa, (size_t)B * Nm * K);
    float *ev = SV_AFR(&a, (size_t)B * Nv * D);
    const int nomem = a.failed || pa.failed || xa.failed;
    if (nomem) sv_arena_free(&pa);
    NOMEM_IF(nomem);
    be->video_patches(c, frames_d, B, patches, targets, NULL);
    be->rows_copy(pvis, NULL, patches, gvis_d, B * Nv, K);
    be->rows_copy(tgt, NULL, targets, gmask_d, B * Nm, K);
    sv_arena_free(&pa);
    be->matmul_fwd(ev, pvis, w->patch_w, w->patch_b, B * Nv, K, D);
    be->rows_add(ev, NULL, m->pe_enc, vis_idx_d, B * Nv, D);

    /* 3. text embeddings (one dropout draw shared by every text use) */
    sv_text_acts ta;
    NOMEM_IF(sv_text_embed_forward(be, &w->temb, c, &ta, &a, &h, text_in, B, L, training ? &rng : NULL));

    /* 4. VTC: the video-only and text-only passes (all encoder passes share
     * one copy of the blocks' [q_bias, 0, v_bias] and one sum of its
     * gradient). Their activations live in their own arena: the VTC loss
     * needs nothing else, so they go back (5b) before the joint pass and the
     * decoder are made, and are freed then: not at the step's peak. */
    sv_bias3 eb3, db3; /* the encoder's, and the decoder's for its one pass */
    NOMEM_IF(sv_enc_bias3(be, &a, w->enc, c->enc_depth, D, &eb3) || sv_enc_bias3(be, &a, w->dec, c->dec_depth, Dd, &db3));
    sv_enc_pass pv, pt;
    if ((rc = sv_enc_pass_init(&pv, &va, B, Nv, D, c->enc_heads, c->enc_mlp, c->enc_depth, c->ln_eps, 1, ckpt))) goto done;
    if ((rc = sv_enc_pass_init(&pt, &va, B, L, D, c->enc_heads, c->enc_mlp, c->enc_depth, c->ln_eps, 1, ckpt))) goto done;
    pt.keyvalid = tvalid_d;
    pv.bias3_ext = pt.bias3_ext = eb3.b3;
    float *vfeat = SV_AF(&a, (size_t)B * D), *tfeat = SV_AF(&a, (size_t)B * D);
    NOMEM_IF(a.failed);
    if ((rc = sv_enc_forward(be, &pv, w->enc, w->enc_norm_w, w->enc_norm_b, ev))) goto done;
    if ((rc = sv_enc_forward(be, &pt, w->enc, w->enc_norm_w, w->enc_norm_b, ta.out))) goto done;
    const uint8_t *tpool_valid = c->vtc_pool_exclude_pad ? tvalid_d : NULL;
    be->meanpool_fwd(vfeat, pv.out, NULL, B, Nv, D);
    be->meanpool_fwd(tfeat, pt.out, tpool_valid, B, L, D);
    sv_vtc_acts vtc_a;
    if ((rc = sv_vtc_forward_global(be, &vtc_a, &a, &h, m->vtc_comm, tfeat, vfeat, B, D,
                                    c->vtc_temperature))) goto done;

    /* 5. VTM negatives: text i with video neg[i] */
    int32_t *neg = SV_AI(&h, B), *vlab = SV_AI(&h, 2 * (size_t)B), *nsrc = SV_AI(&h, (size_t)B * Nv);
    float *sim_h = SV_AF(&h, (size_t)B * B), *vloss_h = SV_AF(&h, 2 * (size_t)B);
    NOMEM_IF(h.failed);
    if (c->vtm_hard_negatives && vtc_a.W == 1) /* the text x video similarities: one wait */
        be->memcpy_d2h(sim_h, vtc_a.sim, (size_t)B * B * sizeof(float));
    else if (c->vtm_hard_negatives) /* this rank's block of them, row by row */
        for (int i = 0; i < B; i++)
            be->memcpy_d2h(sim_h + (size_t)i * B,
                           vtc_a.sim + (size_t)i * vtc_a.W * B + (size_t)vtc_a.r * B,
                           (size_t)B * sizeof(float));
    draw_negatives(&rng, B, c->vtm_hard_negatives, sim_h, neg);
    for (int i = 0; i < B * Nv; i++) nsrc[i] = neg[i / Nv] * Nv + i % Nv;
    for (int i = 0; i < 2 * B; i++) vlab[i] = i < B;
    const int32_t *nsrc_d = SV_VIEWI(&a, nsrc, (size_t)B * Nv), *vlab_d = SV_VIEWI(&a, vlab, 2 * (size_t)B);
    NOMEM_IF(a.failed);

    /* 5b. the VTC backward, into the encoder's gradients first as before
     * (the joint pass adds its part later), and the input gradients of the
     * patch and text embeddings dEv, dT, which the joint pass adds to */
    float *dEv = NULL, *dT = NULL, *egb3 = NULL;
    if (backward) {
        dEv = SV_AF(&a, (size_t)B * Nv * D);
        dT = SV_AF(&a, (size_t)B * L * D);
        egb3 = SV_AF(&a, (size_t)c->enc_depth * 3 * D); /* zero-filled */
        float *dvf = SV_AF(&va, (size_t)B * D), *dtf = SV_AF(&va, (size_t)B * D);
        float *dOv = SV_AF(&va, (size_t)B * Nv * D), *dOt = SV_AF(&va, (size_t)B * L * D);
        NOMEM_IF(a.failed || va.failed);
        pv.gbias3_ext = pt.gbias3_ext = egb3;
        if ((rc = sv_vtc_backward(be, &vtc_a, tfeat, vfeat, gs, dtf, dvf))) goto done;
        be->meanpool_bwd(dOv, dvf, NULL, B, Nv, D);
        be->meanpool_bwd(dOt, dtf, tpool_valid, B, L, D);
        if ((rc = sv_enc_backward(be, &pv, w->enc, w->enc_norm_w, g->enc, g->enc_norm_w,
                                  g->enc_norm_b, dOv, dEv))) goto done;
        if ((rc = sv_enc_backward(be, &pt, w->enc, w->enc_norm_w, g->enc, g->enc_norm_w,
                                  g->enc_norm_b, dOt, dT))) goto done;
    }
    sv_arena_free(&va); /* stream-ordered on a device */

    /* 6. the joint pass, over 2B sequences [video rows | text rows]: sample
     * i's visible video with its text (the MAE decoder, MLM and the VTM
     * positives read these B), then video neg[i] with text i (the VTM
     * negatives): one pass with twice the rows per product, where two
     * passes ran before */
    const size_t BSD = (size_t)B * S * D;
    float *J = SV_AFR(&a, 2 * BSD), *Jn = J + BSD; /* every row written below */
    sv_enc_pass pj;
    NOMEM_IF(a.failed);
    if ((rc = sv_enc_pass_init(&pj, &a, 2 * B, S, D, c->enc_heads, c->enc_mlp, c->enc_depth, c->ln_eps, 1, ckpt))) goto done;
    pj.keyvalid = jvalid_d;
    pj.bias3_ext = eb3.b3;
    be->rows_copy(J, gov_d, ev, NULL, B * Nv, D);
    be->rows_copy(J, tdst_d, ta.out, NULL, B * L, D);
    be->rows_copy(Jn, gov_d, ev, nsrc_d, B * Nv, D);
    be->rows_copy(Jn, tdst_d, ta.out, NULL, B * L, D);
    if ((rc = sv_enc_forward(be, &pj, w->enc, w->enc_norm_w, w->enc_norm_b, J))) goto done;

    /* 7. video decoder on [visible, mask tokens]; its input (copied into the
     * pass) in an arena of its own, freed after the pass */
    float *ov = SV_AFR(&a, (size_t)B * Nv * D), *z = SV_AFR(&ia, (size_t)B * Nv * Dd);
    float *dec_in = SV_AFR(&ia, (size_t)B * N * Dd);
    NOMEM_IF(a.failed || ia.failed);
    be->rows_copy(ov, NULL, pj.out, gov_d, B * Nv, D);
    be->matmul_fwd(z, ov, w->e2d_w, NULL, B * Nv, D, Dd);
    be->rows_copy(dec_in, dvis_d, z, NULL, B * Nv, Dd);
    be->rows_add(dec_in, dvis_d, m->pe_dec, vis_idx_d, B * Nv, Dd);
    be->rows_copy(dec_in, gdm_d, w->mask_token, zeros_d, B * Nm, Dd);
    be->rows_add(dec_in, gdm_d, m->pe_dec, mask_idx_d, B * Nm, Dd);
    sv_enc_pass pd;
    if ((rc = sv_enc_pass_init(&pd, &a, B, N, Dd, c->dec_heads, c->dec_mlp, c->dec_depth, c->ln_eps, 1, ckpt))) goto done;
    pd.bias3_ext = db3.b3;
    rc = sv_enc_forward(be, &pd, w->dec, w->dec_norm_w, w->dec_norm_b, dec_in);
    sv_arena_free(&ia); /* stream-ordered on a device */
    if (rc) goto done;
    /* the pixel head's input and predictions, made after the pass: not
     * alive during it (its end is the forward's peak) */
    float *dm = SV_AFR(&ha, (size_t)B * Nm * Dd), *pred = SV_AFR(&ha, (size_t)B * Nm * K);
    NOMEM_IF(ha.failed);
    be->rows_copy(dm, NULL, pd.out, gdm_d, B * Nm, Dd);
    be->matmul_fwd(pred, dm, w->head_w, w->head_b, B * Nm, Dd, K);

    /* 8. MLM on the masked text positions */
    /* one [Mt, V] buffer: the logits, then in place their probabilities,
     * then in the backward their gradient (core/backend.h, softmax_ce); with
     * the head's input in their own arena, freed after the MLM backward,
     * before the decoder's (the step's peak) */
    float *mh = SV_AFR(&ma, (size_t)Mt1 * D), *mlog = SV_AFR(&ma, (size_t)Mt1 * V); /* read only when Mt > 0 */
    float *mprob = mlog, *mloss = SV_AF(&a, Mt1);
    NOMEM_IF(a.failed || ma.failed);
    if (Mt > 0) {
        be->rows_copy(mh, NULL, pj.out, mrows_d, Mt, D);
        be->matmul_fwd(mlog, mh, w->mlm_w, w->mlm_b, Mt, D, V);
        be->softmax_ce_fwd(mloss, mprob, mlog, mtgt_d, Mt, V);
    }

    /* 9. VTM head on the mean of each joint sequence: positives, then negatives */
    float *pool = SV_AFR(&a, 2 * (size_t)B * D);
    float *vlog = SV_AF(&a, 4 * (size_t)B), *vprob = SV_AF(&a, 4 * (size_t)B), *vloss = SV_AF(&a, 2 * (size_t)B);
    NOMEM_IF(a.failed);
    be->meanpool_fwd(pool, pj.out, NULL, 2 * B, S, D);
    be->matmul_fwd(vlog, pool, w->vtm_w, w->vtm_b, 2 * B, D, 2);
    be->softmax_ce_fwd(vloss, vprob, vlog, vlab_d, 2 * B, 2);

    if (trace) {
        sv_trace_fill_pretrain(trace, B, L, N, Nv, vis_idx, mask_idx, text_in, labels,
                               ta.dropmask_host, D, neg);
        int32_t *amax = trace->B ? SV_AI(&h, (size_t)B * L) : NULL;
        float *prob_h = trace->B ? SV_AF(&h, (size_t)Mt1 * V) : NULL;
        float *pred_h = trace->B ? SV_AF(&h, (size_t)B * Nm * K) : NULL;
        if (amax && prob_h && pred_h) {
            be->memcpy_d2h(prob_h, mprob, (size_t)Mt * V * sizeof(float));
            be->memcpy_d2h(pred_h, pred, (size_t)B * Nm * K * sizeof(float));
            memcpy(amax, text_in, (size_t)B * L * sizeof(int32_t));
            for (int k = 0; k < Mt; k++) {
                const float *pr = prob_h + (size_t)k * V;
                int best = 0;
                for (int v = 1; v < V; v++) if (pr[v] > pr[best]) best = v;
                int row = mrows[k] / S, col = mrows[k] % S - Nv;
                amax[(size_t)row * L + col] = best;
            }
            sv_trace_fill_outputs(trace, pred_h, (size_t)B * Nm * K, amax);
        } else {
            sv_trace_free(trace);
        }
        if (trace->B == 0) NOMEM_IF(1);
    }
    if (!backward) goto losses;

    /* ---------------- backward ---------------- */
    /* The pixel loss first: read here, and its gradient written over the
     * predictions (mse_bwd in place, core/backend.h), so that the masked
     * targets go before the backward's first buffers (on a device the host
     * waits here once more: a few microseconds against 8.7 MB a vit-b clip) */
    if (losses) mse = be->mse_fwd(pred, tgt, (size_t)B * Nm, (size_t)K);
    float *dpred = pred;
    be->mse_bwd(dpred, pred, tgt, (size_t)B * Nm, (size_t)K, gs);
    sv_arena_free(&xa); /* the targets; stream-ordered on a device, as the frees below */
    /* the joint pass's output gradient [2B,S,D] (its first B sequences, then
     * the negatives) and its input gradient dJ, both summed into */
    float *dOj = SV_AF(&a, 2 * BSD);
    float *dJ = SV_AF(&a, 2 * BSD);
    float *dgb3 = SV_AF(&a, (size_t)c->dec_depth * 3 * Dd);
    NOMEM_IF(a.failed);
    pj.gbias3_ext = egb3;
    pd.gbias3_ext = dgb3;
    pj.dx_scratch = pd.dx_scratch = 1; /* dJ and dDi: zero-filled, the passes' own */

    /* VTM */
    {
        float *dl_h = SV_AF(&h, 2 * (size_t)B);
        NOMEM_IF(h.failed);
        for (int i = 0; i < 2 * B; i++) dl_h[i] = gs / (2 * B);
        const float *dl = SV_VIEWF(&a, dl_h, 2 * (size_t)B);
        float *dlog = SV_AF(&a, 4 * (size_t)B), *dpool = SV_AFR(&a, 2 * (size_t)B * D);
        NOMEM_IF(a.failed);
        be->softmax_ce_bwd(dlog, vprob, vlab_d, dl, 2 * B, 2);
        be->matmul_bwd(dpool, g->vtm_w, g->vtm_b, dlog, pool, w->vtm_w, 2 * B, D, 2);
        be->meanpool_bwd(dOj, dpool, NULL, 2 * B, S, D);
    }
    /* MLM */
    if (Mt > 0) {
        float *dl_h = SV_AF(&h, Mt);
        NOMEM_IF(h.failed);
        for (int i = 0; i < Mt; i++) dl_h[i] = gs / Mt;
        const float *dl = SV_VIEWF(&a, dl_h, Mt);
        float *dlog = mprob, *dmh = SV_AFR(&a, (size_t)Mt * D); /* in place */
        NOMEM_IF(a.failed);
        be->softmax_ce_bwd(dlog, mprob, mtgt_d, dl, Mt, V);
        be->matmul_bwd(dmh, g->mlm_w, g->mlm_b, dlog, mh, w->mlm_w, Mt, D, V);
        be->rows_add(dOj, mrows_d, dmh, NULL, Mt, D);
    }
    sv_arena_free(&ma); /* stream-ordered on a device */
    /* video decoder */
    {
        float *ddm = SV_AFR(&da, (size_t)B * Nm * Dd);
        NOMEM_IF(da.failed);
        be->matmul_bwd(ddm, g->head_w, g->head_b, dpred, dm, w->head_w, B * Nm, Dd, K);
        sv_arena_free(&ha);
        float *dDo = SV_AF(&a, (size_t)B * N * Dd);
        NOMEM_IF(a.failed);
        be->rows_add(dDo, gdm_d, ddm, NULL, B * Nm, Dd);
        sv_arena_free(&da);
        float *dDi = SV_AF(&a, (size_t)B * N * Dd);
        float *dz = SV_AFR(&a, (size_t)B * Nv * Dd), *dov = SV_AFR(&a, (size_t)B * Nv * D);
        NOMEM_IF(a.failed);
        if ((rc = sv_enc_backward(be, &pd, w->dec, w->dec_norm_w, g->dec, g->dec_norm_w,
                                  g->dec_norm_b, dDo, dDi))) goto done;
        sv_enc_bias3_grad(be, &db3, dgb3, g->dec, c->dec_depth, Dd);
        be->rows_copy(dz, NULL, dDi, dvis_d, B * Nv, Dd);
        /* the mask token: every mask row, sample by sample, in order */
        const int32_t zero = 0, offs[2] = {0, B * Nm};
        const int32_t *z_d = SV_VIEWI(&a, &zero, 1), *o_d = SV_VIEWI(&a, offs, 2);
        NOMEM_IF(a.failed);
        be->rows_add_seg(g->mask_token, z_d, o_d, gdm_d, 1, dDi, Dd);
        be->matmul_bwd(dov, g->e2d_w, NULL, dz, ov, w->e2d_w, B * Nv, D, Dd);
        be->rows_add(dOj, gov_d, dov, NULL, B * Nv, D);
    }
    /* encoder_to_decoder .. the heads are complete: their sum over the ranks
     * may run while the joint pass goes back (train/comm.c) */
    if ((rc = sv_grads_ready(m, "encoder_to_decoder.weight"))) goto done;
    /* the joint pass, then the embeddings: its positives' rows go back to
     * their video and text rows, its negatives' text rows to their text and
     * video rows to video neg[b], where several b may share a video (a
     * segmented sum in b order) */
    if ((rc = sv_enc_backward(be, &pj, w->enc, w->enc_norm_w, g->enc, g->enc_norm_w,
                              g->enc_norm_b, dOj, dJ))) goto done;
    sv_enc_bias3_grad(be, &eb3, egb3, g->enc, c->enc_depth, D);
    be->rows_add(dEv, NULL, dJ, gov_d, B * Nv, D);
    be->rows_add(dT, NULL, dJ, tdst_d, B * L, D);
    be->rows_add(dT, NULL, dJ + BSD, tdst_d, B * L, D);
    {
        sv_segments sg;
        NOMEM_IF(sv_seg_by_key(&h, nsrc, B * Nv, B * Nv, &sg));
        for (int k = 0; k < B * Nv; k++) sg.rows[k] = gov[sg.rows[k]];
        NOMEM_IF(sv_seg_add(be, &a, &sg, dEv, dJ + BSD, D));
    }
    be->matmul_bwd(NULL, g->patch_w, g->patch_b, dEv, pvis, w->patch_w, B * Nv, K, D);
    NOMEM_IF(sv_text_embed_backward(be, &w->temb, &g->temb, &ta, dT));

losses:
    /* The other losses are read last, so that the host waits once more per
     * step (the pixel loss: in the backward, above). */
    if (losses) {
        if (!backward) mse = be->mse_fwd(pred, tgt, (size_t)B * Nm, (size_t)K);
        float mlm = 0.0f, vtc;
        if (Mt > 0) {
            be->memcpy_d2h(mloss_h, mloss, (size_t)Mt * sizeof(float));
            double s = 0;
            for (int i = 0; i < Mt; i++) s += mloss_h[i];
            mlm = (float)(s / Mt);
        }
        NOMEM_IF(sv_vtc_loss(be, &vtc_a, &vtc));
        be->memcpy_d2h(vloss_h, vloss, 2 * (size_t)B * sizeof(float));
        double vs = 0;
        for (int i = 0; i < 2 * B; i++) vs += vloss_h[i];
        const float vtm = (float)(vs / (2 * B));
        losses->video_mse = mse;
        losses->mlm = mlm;
        losses->vtc = vtc;
        losses->vtm = vtm;
        losses->total = mse + mlm + vtc + vtm;
        losses->masked_text = Mt;
    }

done:;
    if (be->weights_end) be->weights_end();
    const int frc = be->finish(be);
    if (rc == SIMVTP_OK) rc = frc;
    sv_arena_free(&ia);
    sv_arena_free(&da);
    sv_arena_free(&ha);
    sv_arena_free(&xa);
    sv_arena_free(&ma);
    sv_arena_free(&va);
    sv_arena_free(&a);
    sv_arena_free(&h);
#undef NOMEM_IF
    return rc;
}

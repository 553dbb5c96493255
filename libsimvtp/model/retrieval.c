/* model/retrieval.c — the two-tower fine-tuning step (video tower on all
 * tubelets, text tower on the unmasked caption, each: blocks with drop path,
 * no final norm, mean pooling, fc_norm; VTC loss) and the embedding calls
 * (simvtp_encode_videos / simvtp_encode_texts) for both model kinds.
 * RNG draw order: text dropout, video drop path, text drop path. */
#include <string.h>

#include "core/status_internal.h"
#include "model/contrastive.h"
#include "model/encoder.h"
#include "model/inputs.h"
#include "model/model.h"
#include "train/comm_internal.h"
#include "model/trace.h"

/* Drop-path multipliers [depth,2,B]: rate rises linearly over depth. */
static void draw_droppath(sv_rng *rng, float rate_max, int depth, int B, float *dp)
{
    for (int l = 0; l < depth; l++) {
        float rate = depth > 1 ? rate_max * (float)l / (float)(depth - 1) : 0.0f;
        for (int k = 0; k < 2 * B; k++) {
            float *o = dp + (size_t)l * 2 * B + k;
            if (rate <= 0.0f) *o = 1.0f;
            else *o = sv_rng_uniform(rng) < rate ? 0.0f : 1.0f / (1.0f - rate);
        }
    }
}

/* Video tokens of all N tubelets with positions: ev[B,N,D] (backend memory,
 * from arena ea, which the caller may free once a pass has copied it);
 * keeps patches (from arena a). Returns 0, or -1 when out of memory. */
static int embed_video_all(const simvtp_model *m, sv_arena *a, sv_arena *ea, sv_arena *h, const uint8_t *frames,
                           int B, float **patches_out, float **ev_out)
{
    const simvtp_config *c = &m->cfg;
    const int N = simvtp_config_num_video_tokens(c), K = simvtp_config_tubelet_dim(c);
    const int D = c->enc_width;
    const size_t clip = (size_t)c->frames * c->height * c->width * 3;
    const sv_backend *be = m->be;
    int32_t *pos = SV_AI(h, (size_t)B * N);
    if (h->failed) return -1;
    for (int i = 0; i < B * N; i++) pos[i] = i % N;
    const int32_t *pos_d = SV_VIEWI(a, pos, (size_t)B * N);
    const uint8_t *frames_d = SV_VIEWU8(a, frames, clip * B);
    float *patches = SV_AFR(a, (size_t)B * N * K), *ev = SV_AFR(ea, (size_t)B * N * D); /* overwritten */
    if (a->failed || ea->failed) return -1;
    be->video_patches(c, frames_d, B, patches, NULL, NULL);
    be->matmul_fwd(ev, patches, m->w.patch_w, m->w.patch_b, B * N, K, D);
    be->rows_add(ev, NULL, m->pe_enc, pos_d, B * N, D);
    *patches_out = patches;
    *ev_out = ev;
    return 0;
}

int sv_retrieval_run(simvtp_model *m, const simvtp_batch *b, uint64_t seed, int training,
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
    const int N = simvtp_config_num_video_tokens(c), K = simvtp_config_tubelet_dim(c);
    const int D = c->enc_width, depth = c->enc_depth;
    sv_rng rng;
    sv_rng_seed(&rng, seed);
    sv_arena a = {.be = be}, h = {0};
    sv_arena ea = {.be = be}; /* the video tower's input, freed once its pass copied it */
    sv_arena tw = {.be = be}; /* the text tower's activations, freed once they went back */
    int rc = SIMVTP_OK;
#define NOMEM_IF(cond) do { if (cond) { rc = sv_fail(SIMVTP_ERR_NOMEM, "out of memory in the fine-tuning step (batch %d)", B); goto done; } } while (0)
    if (be->weights_begin) be->weights_begin(m->params, m->nparams); /* unchanged until done */
    /* forward only: no block's activations are needed twice */
    const int ckpt = backward ? m->ckpt_acts : SIMVTP_CHECKPOINT_BLOCKS;

    int32_t *ids = SV_AI(&h, (size_t)B * L), *labels = SV_AI(&h, (size_t)B * L);
    uint8_t *tvalid = SV_AU8(&h, (size_t)B * L);
    float *dpv = SV_AF(&h, (size_t)depth * 2 * B), *dpt = SV_AF(&h, (size_t)depth * 2 * B);
    float *patches = NULL, *ev = NULL;
    NOMEM_IF(h.failed);
    float *vpool = SV_AF(&a, (size_t)B * D), *tpool = SV_AF(&a, (size_t)B * D);
    float *vfeat = SV_AF(&a, (size_t)B * D), *tfeat = SV_AF(&a, (size_t)B * D);
    float *vm = SV_AF(&a, B), *vr = SV_AF(&a, B), *tm = SV_AF(&a, B), *tr = SV_AF(&a, B);
    NOMEM_IF(a.failed);
    sv_draw_text_masks(c, &rng, b, L, ids, labels, 0.0f); /* no masking: copies and pads */
    sv_text_valid(b, L, tvalid);
    sv_text_acts ta;
    NOMEM_IF(sv_text_embed_forward(be, &w->temb, c, &ta, &a, &h, ids, B, L, training ? &rng : NULL));
    if (training) {
        draw_droppath(&rng, c->drop_path, depth, B, dpv);
        draw_droppath(&rng, c->drop_path, depth, B, dpt);
    }
    const float *dpv_d = SV_VIEWF(&a, dpv, (size_t)depth * 2 * B);
    const float *dpt_d = SV_VIEWF(&a, dpt, (size_t)depth * 2 * B);
    const uint8_t *tvalid_d = SV_VIEWU8(&a, tvalid, (size_t)B * L);
    NOMEM_IF(a.failed);
    NOMEM_IF(embed_video_all(m, &a, &ea, &h, b->frames, B, &patches, &ev));

    sv_enc_pass pv, pt;
    if ((rc = sv_enc_pass_init(&pv, &a, B, N, D, c->enc_heads, c->enc_mlp, depth, c->ln_eps, 0, ckpt))) goto done;
    if ((rc = sv_enc_pass_init(&pt, &tw, B, L, D, c->enc_heads, c->enc_mlp, depth, c->ln_eps, 0, ckpt))) goto done;
    pv.droppath = training ? dpv_d : NULL;
    pt.droppath = training ? dpt_d : NULL;
    pt.keyvalid = tvalid_d;
    sv_bias3 vb3, tb3; /* each tower's [q_bias, 0, v_bias], gathered in one op each */
    NOMEM_IF(sv_enc_bias3(be, &a, w->enc, depth, D, &vb3) || sv_enc_bias3(be, &a, w->txt, depth, D, &tb3));
    pv.bias3_ext = vb3.b3;
    pt.bias3_ext = tb3.b3;
    if ((rc = sv_enc_forward(be, &pv, w->enc, NULL, NULL, ev))) goto done;
    sv_arena_free(&ea); /* stream-ordered on a device */
    if ((rc = sv_enc_forward(be, &pt, w->txt, NULL, NULL, ta.out))) goto done;
    const uint8_t *tpool_valid = c->vtc_pool_exclude_pad ? tvalid_d : NULL;
    be->meanpool_fwd(vpool, pv.out, NULL, B, N, D);
    be->meanpool_fwd(tpool, pt.out, tpool_valid, B, L, D);
    be->layernorm_fwd(vfeat, vm, vr, vpool, w->vfc_w, w->vfc_b, B, D, c->ln_eps);
    be->layernorm_fwd(tfeat, tm, tr, tpool, w->tfc_w, w->tfc_b, B, D, c->ln_eps);
    sv_vtc_acts va;
    if ((rc = sv_vtc_forward_global(be, &va, &a, &h, m->vtc_comm, tfeat, vfeat, B, D,
                                    c->vtc_temperature))) goto done;
    if (trace) {
        sv_trace_fill_pretrain(trace, B, L, N, N, NULL, NULL, ids, labels, ta.dropmask_host, D, NULL);
        if (training && trace->B) sv_trace_fill_droppath(trace, dpv, dpt, (size_t)depth * 2 * B);
        if (trace->B == 0) NOMEM_IF(1);
    }
    if (!backward) goto losses;

    float *dvf = SV_AF(&a, (size_t)B * D), *dtf = SV_AF(&a, (size_t)B * D);
    float *dvp = SV_AF(&a, (size_t)B * D), *dtp = SV_AF(&a, (size_t)B * D);
    /* dOv: the video tower's output gradient, then its running gradient
     * and last its input gradient (sv_enc_backward, dout_scratch) */
    float *dOv = SV_AF(&a, (size_t)B * N * D), *dOt = SV_AF(&a, (size_t)B * L * D);
    float *dT = SV_AF(&a, (size_t)B * L * D);
    /* each tower's qkv bias gradients, gathered in one zero-filled buffer
     * (no zero fill per block) and handed over after its pass */
    float *vgb3 = SV_AF(&a, (size_t)depth * 3 * D), *tgb3 = SV_AF(&a, (size_t)depth * 3 * D);
    NOMEM_IF(a.failed);
    pv.gbias3_ext = vgb3;
    pv.dout_scratch = 1;
    pt.gbias3_ext = tgb3;
    if ((rc = sv_vtc_backward(be, &va, tfeat, vfeat, gs, dtf, dvf))) goto done;
    be->layernorm_bwd(dvp, g->vfc_w, g->vfc_b, dvf, vpool, w->vfc_w, vm, vr, B, D);
    be->layernorm_bwd(dtp, g->tfc_w, g->tfc_b, dtf, tpool, w->tfc_w, tm, tr, B, D);
    be->meanpool_bwd(dOv, dvp, NULL, B, N, D);
    be->meanpool_bwd(dOt, dtp, tpool_valid, B, L, D);
    /* the text tower first (the two towers share no parameter): its
     * gradients, the tail of the parameter vector, are then complete and
     * their sum over the ranks may run while the video tower goes back */
    if ((rc = sv_enc_backward(be, &pt, w->txt, NULL, g->txt, NULL, NULL, dOt, dT))) goto done;
    sv_enc_bias3_grad(be, &tb3, tgb3, g->txt, depth, D);
    NOMEM_IF(sv_text_embed_backward(be, &w->temb, &g->temb, &ta, dT));
    sv_arena_free(&tw); /* before the video tower's backward, the step's peak */
    if ((rc = sv_grads_ready(m, "text.embeddings.word_embeddings.weight"))) goto done;
    if ((rc = sv_enc_backward(be, &pv, w->enc, NULL, g->enc, NULL, NULL, dOv, NULL))) goto done;
    sv_enc_bias3_grad(be, &vb3, vgb3, g->enc, depth, D);
    be->matmul_bwd(NULL, g->patch_w, g->patch_b, dOv, patches, w->patch_w, B * N, K, D);
losses:
    if (losses) { /* read last: the host waits once per step */
        float vtc;
        NOMEM_IF(sv_vtc_loss(be, &va, &vtc));
        losses->total = losses->vtc = vtc;
        losses->video_mse = losses->mlm = losses->vtm = 0.0f;
        losses->masked_text = 0;
    }
done:;
    if (be->weights_end) be->weights_end();
    const int frc = be->finish(be);
    if (rc == SIMVTP_OK) rc = frc;
    sv_arena_free(&tw);
    sv_arena_free(&ea);
    sv_arena_free(&a);
    sv_arena_free(&h);
#undef NOMEM_IF
    return rc;
}

/* Inference embeddings, in chunks to bound activation memory. */
#define ENCODE_CHUNK 8

int simvtp_encode_videos(simvtp_model *m, const uint8_t *frames, int n, float *out)
{
    sv_clear_error();
    SV_CHECK_ARG(m && frames && out, "simvtp_encode_videos: model, frames and out must not be NULL");
    SV_CHECK_ARG(n > 0, "simvtp_encode_videos: n must be > 0 (got %d)", n);
    const simvtp_config *c = &m->cfg;
    const sv_backend *be = m->be;
    SV_TRY(be->activate(be));
    const int N = simvtp_config_num_video_tokens(c);
    const int D = c->enc_width, pre = m->kind == SIMVTP_MODEL_PRETRAIN;
    const size_t clip = (size_t)c->frames * c->height * c->width * 3;
    for (int s = 0; s < n; s += ENCODE_CHUNK) {
        int B = n - s < ENCODE_CHUNK ? n - s : ENCODE_CHUNK;
        sv_arena a = {.be = be}, h = {0};
        float *pool = SV_AF(&a, (size_t)B * D), *feat = SV_AF(&a, (size_t)B * D);
        float *mu = SV_AF(&a, B), *rs = SV_AF(&a, B), *nrm = SV_AF(&a, B);
        float *emb = SV_AF(&a, (size_t)B * D), *patches = NULL, *ev = NULL;
        sv_enc_pass p;
        int rc = a.failed || embed_video_all(m, &a, &a, &h, frames + (size_t)s * clip, B, &patches, &ev)
                     ? sv_fail(SIMVTP_ERR_NOMEM, "out of memory encoding videos")
                     : sv_enc_pass_init(&p, &a, B, N, D, c->enc_heads, c->enc_mlp, c->enc_depth, c->ln_eps, pre, 1); /* forward only */
        if (rc == SIMVTP_OK)
            rc = sv_enc_forward(be, &p, m->w.enc, m->w.enc_norm_w, m->w.enc_norm_b, ev);
        if (rc == SIMVTP_OK) {
            be->meanpool_fwd(pool, p.out, NULL, B, N, D);
            if (!pre) be->layernorm_fwd(feat, mu, rs, pool, m->w.vfc_w, m->w.vfc_b, B, D, c->ln_eps);
            be->l2norm_fwd(emb, nrm, pre ? pool : feat, B, D);
            be->memcpy_d2h(out + (size_t)s * D, emb, (size_t)B * D * sizeof(float));
        }
        const int frc = be->finish(be);
        if (rc == SIMVTP_OK) rc = frc;
        sv_arena_free(&a);
        sv_arena_free(&h);
        if (rc) return rc;
    }
    return SIMVTP_OK;
}

int simvtp_encode_texts(simvtp_model *m, const int32_t *tokens, const int32_t *lengths, int n,
                        int max_len, float *out)
{
    sv_clear_error();
    SV_CHECK_ARG(m && tokens && lengths && out, "simvtp_encode_texts: model, tokens, lengths and out must not be NULL");
    SV_CHECK_ARG(n > 0, "simvtp_encode_texts: n must be > 0 (got %d)", n);
    const simvtp_config *c = &m->cfg;
    const sv_backend *be = m->be;
    SV_TRY(be->activate(be));
    const int D = c->enc_width, pre = m->kind == SIMVTP_MODEL_PRETRAIN;
    for (int s = 0; s < n; s += ENCODE_CHUNK) {
        int B = n - s < ENCODE_CHUNK ? n - s : ENCODE_CHUNK, L;
        simvtp_batch bt = {sizeof bt, B, NULL, max_len, tokens + (size_t)s * max_len, lengths + s};
        SV_TRY(sv_check_batch(m, &bt, &L));
        L = max_len; /* pad to the caller's width, so an embedding does not depend on its neighbours */
        sv_arena a = {.be = be}, h = {0};
        int32_t *ids = SV_AI(&h, (size_t)B * L), *lab = SV_AI(&h, (size_t)B * L);
        uint8_t *valid = SV_AU8(&h, (size_t)B * L);
        float *pool = SV_AF(&a, (size_t)B * D), *feat = SV_AF(&a, (size_t)B * D);
        float *mu = SV_AF(&a, B), *rs = SV_AF(&a, B), *nrm = SV_AF(&a, B);
        float *emb = SV_AF(&a, (size_t)B * D);
        const uint8_t *valid_d = NULL;
        sv_text_acts ta;
        sv_enc_pass p;
        int rc = SIMVTP_OK;
        if (a.failed || h.failed) rc = sv_fail(SIMVTP_ERR_NOMEM, "out of memory encoding texts");
        if (rc == SIMVTP_OK) {
            sv_draw_text_masks(c, NULL, &bt, L, ids, lab, 0.0f);
            sv_text_valid(&bt, L, valid);
            valid_d = SV_VIEWU8(&a, valid, (size_t)B * L);
            if (a.failed || sv_text_embed_forward(be, &m->w.temb, c, &ta, &a, &h, ids, B, L, NULL))
                rc = sv_fail(SIMVTP_ERR_NOMEM, "out of memory encoding texts");
        }
        if (rc == SIMVTP_OK)
            rc = sv_enc_pass_init(&p, &a, B, L, D, c->enc_heads, c->enc_mlp, c->enc_depth, c->ln_eps, pre, 1); /* forward only */
        if (rc == SIMVTP_OK) {
            p.keyvalid = valid_d;
            rc = sv_enc_forward(be, &p, pre ? m->w.enc : m->w.txt, m->w.enc_norm_w, m->w.enc_norm_b, ta.out);
        }
        if (rc == SIMVTP_OK) {
            be->meanpool_fwd(pool, p.out, c->vtc_pool_exclude_pad ? valid_d : NULL, B, L, D);
            if (!pre) be->layernorm_fwd(feat, mu, rs, pool, m->w.tfc_w, m->w.tfc_b, B, D, c->ln_eps);
            be->l2norm_fwd(emb, nrm, pre ? pool : feat, B, D);
            be->memcpy_d2h(out + (size_t)s * D, emb, (size_t)B * D * sizeof(float));
        }
        const int frc = be->finish(be);
        if (rc == SIMVTP_OK) rc = frc;
        sv_arena_free(&a);
        sv_arena_free(&h);
        if (rc) return rc;
    }
    return SIMVTP_OK;
}

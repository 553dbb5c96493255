/* model/model_api.c — the public model calls: create/free, queries, the
 * forward/backward entry points, reconstruction, named tensor access and
 * batch validation. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/status_internal.h"
#include "cpu/cpu_ops.h"
#include "model/inputs.h"
#include "model/model.h"

void simvtp_model_default_params(simvtp_model_params *p)
{
    if (!p) return;
    memset(p, 0, sizeof *p);
    p->size = sizeof *p;
    p->seed = 0;
    p->backend = "cpu";
    p->threads = 0;
}

static int check_params(const simvtp_model_params *p, const sv_backend **be)
{
    SV_CHECK_ARG(p->size == sizeof *p,
                 "simvtp_model_params.size is %zu, expected %zu (use simvtp_model_default_params)",
                 p->size, sizeof *p);
    SV_CHECK_ARG(p->threads >= 0 && p->threads <= 4096, "threads must be in [0, 4096], got %d", p->threads);
    SV_TRY(sv_backend_get(p->backend, be));
    if (p->threads > 0) omp_set_num_threads(p->threads);
    return SIMVTP_OK;
}

int simvtp_model_create(const simvtp_config *cfg, const simvtp_model_params *p, simvtp_model **out)
{
    sv_clear_error();
    SV_CHECK_ARG(cfg && out, "simvtp_model_create: cfg and out must not be NULL");
    *out = NULL;
    simvtp_model_params def;
    if (!p) { simvtp_model_default_params(&def); p = &def; }
    const sv_backend *be;
    SV_TRY(check_params(p, &be));
    SV_TRY(simvtp_config_validate(cfg));
    simvtp_model *m;
    SV_TRY(sv_model_alloc(cfg, SIMVTP_MODEL_PRETRAIN, be, &m));
    int rc = sv_model_init_weights(m, p->seed);
    if (rc) {
        simvtp_model_free(m);
        return rc;
    }
    *out = m;
    return SIMVTP_OK;
}

/* Source tensor of a retrieval tensor in a pretraining model, or NULL for fresh ones. */
static const char *retrieval_source(const char *name, char *buf, size_t n)
{
    static const char *map[][2] = {
        {"video.patch_embed.", "encoder.patch_embed."},
        {"video.blocks.", "encoder.blocks."},
        {"text.blocks.", "encoder.blocks."},
        {"text.embeddings.", "text_embeddings."},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
        size_t k = strlen(map[i][0]);
        if (!strncmp(name, map[i][0], k)) {
            snprintf(buf, n, "%s%s", map[i][1], name + k);
            return buf;
        }
    }
    return NULL;
}

int simvtp_model_create_retrieval(const simvtp_model *pre, const simvtp_model_params *p,
                                  simvtp_model **out)
{
    sv_clear_error();
    SV_CHECK_ARG(pre && out, "simvtp_model_create_retrieval: pretrained and out must not be NULL");
    *out = NULL;
    if (pre->kind != SIMVTP_MODEL_PRETRAIN)
        return sv_fail(SIMVTP_ERR_MISMATCH,
                       "simvtp_model_create_retrieval needs a pretraining model; this one is already a retrieval model");
    simvtp_model_params def;
    if (!p) { simvtp_model_default_params(&def); p = &def; }
    const sv_backend *be;
    SV_TRY(check_params(p, &be));
    simvtp_model *m;
    SV_TRY(sv_model_alloc(&pre->cfg, SIMVTP_MODEL_RETRIEVAL, be, &m));
    int rc = sv_model_init_weights(m, p->seed); /* fc_norm: 1/0; the rest is overwritten */
    /* the pretrained weights reach m through the host (the two models may
     * live on different backends) */
    if (!rc) rc = pre->be->activate(pre->be);
    float *src_host = rc ? NULL : sv_host_get(pre->be, pre->params, pre->nparams);
    if (!rc && !src_host) rc = sv_fail(SIMVTP_ERR_NOMEM, "out of memory copying the pretrained weights");
    if (rc) {
        simvtp_model_free(m);
        return rc;
    }
    if ((rc = m->be->activate(m->be))) {
        sv_host_drop(pre->be, pre->params, src_host);
        simvtp_model_free(m);
        return rc;
    }
    for (int i = 0; i < m->ntensors; i++) {
        char buf[SV_NAME_MAX];
        const char *src = retrieval_source(m->tensors[i].name, buf, sizeof buf);
        if (!src) continue;
        int j = sv_model_find_tensor(pre, src);
        if (j < 0 || pre->tensors[j].numel != m->tensors[i].numel) {
            sv_host_drop(pre->be, pre->params, src_host);
            simvtp_model_free(m);
            return sv_fail(SIMVTP_ERR_INTERNAL, "retrieval tensor %s has no source %s", m->tensors[i].name, src);
        }
        m->be->memcpy_h2d(m->params + m->tensors[i].offset, src_host + pre->tensors[j].offset,
                          m->tensors[i].numel * sizeof(float));
    }
    sv_host_drop(pre->be, pre->params, src_host);
    if ((rc = m->be->finish(m->be))) {
        simvtp_model_free(m);
        return rc;
    }
    *out = m;
    return SIMVTP_OK;
}

void simvtp_model_free(simvtp_model *m)
{
    if (!m) return;
    const sv_backend *be = m->be;
    free(m->tensors);
    if (be && be->activate(be) == SIMVTP_OK) {
        be->free(m->params);
        be->free(m->grads);
        be->free(m->pe_enc);
        be->free(m->pe_dec);
        (void)be->finish(be);
    }
    free(m->block_mem);
    free(m);
}

int simvtp_model_get_kind(const simvtp_model *m)
{
    sv_clear_error();
    SV_CHECK_ARG(m, "simvtp_model_get_kind: model is NULL");
    return m->kind;
}

int simvtp_model_config(const simvtp_model *m, simvtp_config *out)
{
    sv_clear_error();
    SV_CHECK_ARG(m && out, "simvtp_model_config: model and out must not be NULL");
    *out = m->cfg;
    return SIMVTP_OK;
}

int64_t simvtp_model_num_params(const simvtp_model *m)
{
    sv_clear_error();
    SV_CHECK_ARG(m, "simvtp_model_num_params: model is NULL");
    return (int64_t)m->nparams;
}

int simvtp_model_embed_dim(const simvtp_model *m)
{
    sv_clear_error();
    SV_CHECK_ARG(m, "simvtp_model_embed_dim: model is NULL");
    return m->cfg.enc_width;
}

int simvtp_model_set_option(simvtp_model *m, simvtp_model_option key, int64_t value)
{
    sv_clear_error();
    SV_CHECK_ARG(m, "simvtp_model_set_option: model is NULL");
    switch (key) {
    case SIMVTP_MODEL_OPT_CHECKPOINT_ACTIVATIONS:
        SV_CHECK_ARG(value >= SIMVTP_CHECKPOINT_OFF && value <= SIMVTP_CHECKPOINT_SELECTIVE,
                     "SIMVTP_MODEL_OPT_CHECKPOINT_ACTIVATIONS is 0 (off), 1 (blocks) or 2 (selective), "
                     "not %lld", (long long)value);
        m->ckpt_acts = (int)value;
        return SIMVTP_OK;
    }
    return sv_fail(SIMVTP_ERR_INVALID_ARG, "simvtp_model_set_option: unknown option %d", (int)key);
}

int simvtp_model_get_option(const simvtp_model *m, simvtp_model_option key, int64_t *value)
{
    sv_clear_error();
    SV_CHECK_ARG(m && value, "simvtp_model_get_option: model and value must not be NULL");
    switch (key) {
    case SIMVTP_MODEL_OPT_CHECKPOINT_ACTIVATIONS:
        *value = m->ckpt_acts;
        return SIMVTP_OK;
    }
    return sv_fail(SIMVTP_ERR_INVALID_ARG, "simvtp_model_get_option: unknown option %d", (int)key);
}

int sv_check_batch(const simvtp_model *m, const simvtp_batch *b, int *L)
{
    const simvtp_config *c = &m->cfg;
    SV_CHECK_ARG(b, "batch is NULL");
    SV_CHECK_ARG(b->size == sizeof *b, "batch.size is %zu, expected %zu (sizeof(simvtp_batch))",
                 b->size, sizeof *b);
    SV_CHECK_ARG(b->batch > 0 && b->batch <= 1 << 20, "batch.batch must be in [1, 2^20], got %d", b->batch);
    SV_CHECK_ARG(b->tokens && b->lengths, "batch.tokens and batch.lengths must not be NULL");
    SV_CHECK_ARG(b->max_len >= 2 && b->max_len <= c->max_text_len,
                 "batch.max_len (%d) must be in [2, max_text_len=%d]", b->max_len, c->max_text_len);
    int Lm = 0;
    for (int i = 0; i < b->batch; i++) {
        int len = b->lengths[i];
        SV_CHECK_ARG(len >= 2 && len <= b->max_len,
                     "batch.lengths[%d] = %d: must be in [2, max_len=%d] ([CLS] ... [SEP])", i, len, b->max_len);
        for (int l = 0; l < len; l++) {
            int32_t id = b->tokens[(size_t)i * b->max_len + l];
            SV_CHECK_ARG(id >= 0 && id < c->vocab_size,
                         "batch.tokens[%d][%d] = %d is outside the vocabulary [0, %d)", i, l, id, c->vocab_size);
        }
        if (len > Lm) Lm = len;
    }
    *L = Lm;
    return SIMVTP_OK;
}

int sv_check_train_batch(const simvtp_model *m, const simvtp_batch *b, int *L)
{
    SV_TRY(sv_check_batch(m, b, L));
    SV_CHECK_ARG(b->frames, "batch.frames is NULL");
    SV_CHECK_ARG(b->batch >= 2,
                 "a loss needs a batch of at least 2 (VTC and VTM use in-batch negatives), got %d",
                 b->batch);
    return SIMVTP_OK;
}

static int run(simvtp_model *m, const simvtp_batch *b, uint64_t seed, int training, int backward,
               float gs, simvtp_losses *losses, sv_pt_trace *trace)
{
    if (m->kind == SIMVTP_MODEL_PRETRAIN)
        return sv_pretrain_run(m, b, seed, training, backward, gs, losses, trace);
    return sv_retrieval_run(m, b, seed, training, backward, gs, losses, trace);
}

int simvtp_model_forward_backward(simvtp_model *m, const simvtp_batch *b, uint64_t seed,
                                  float grad_scale, simvtp_losses *losses)
{
    sv_clear_error();
    SV_CHECK_ARG(m, "simvtp_model_forward_backward: model is NULL");
    SV_CHECK_ARG(!losses || losses->size == sizeof *losses,
                 "losses.size must be sizeof(simvtp_losses) (%zu)", sizeof *losses);
    return run(m, b, seed, 1, 1, grad_scale, losses, NULL);
}

int simvtp_model_forward(simvtp_model *m, const simvtp_batch *b, uint64_t seed, simvtp_losses *losses)
{
    sv_clear_error();
    SV_CHECK_ARG(m, "simvtp_model_forward: model is NULL");
    SV_CHECK_ARG(!losses || losses->size == sizeof *losses,
                 "losses.size must be sizeof(simvtp_losses) (%zu)", sizeof *losses);
    return run(m, b, seed, 0, 0, 0.0f, losses, NULL);
}

int simvtp_model_zero_grad(simvtp_model *m)
{
    sv_clear_error();
    SV_CHECK_ARG(m, "simvtp_model_zero_grad: model is NULL");
    SV_TRY(m->be->activate(m->be));
    m->be->zero(m->grads, m->nparams * sizeof(float));
    return m->be->finish(m->be);
}

int simvtp_model_reconstruct(simvtp_model *m, const simvtp_batch *b, uint64_t seed,
                             simvtp_reconstruction *out)
{
    sv_clear_error();
    SV_CHECK_ARG(m && out, "simvtp_model_reconstruct: model and out must not be NULL");
    SV_CHECK_ARG(out->size == sizeof *out, "reconstruction.size must be sizeof(simvtp_reconstruction)");
    if (m->kind != SIMVTP_MODEL_PRETRAIN)
        return sv_fail(SIMVTP_ERR_MISMATCH, "reconstruction needs a pretraining model (this is a retrieval model)");
    sv_pt_trace t;
    memset(&t, 0, sizeof t);
    SV_TRY(sv_pretrain_run(m, b, seed, 0, 0, 0.0f, NULL, &t));
    const simvtp_config *c = &m->cfg;
    const int B = b->batch, N = t.N, Nm = t.Nm, K = simvtp_config_tubelet_dim(c), L = t.L;
    int rc = SIMVTP_OK;
    if (out->video_mask) {
        memset(out->video_mask, 0, (size_t)B * N);
        for (int i = 0; i < B * Nm; i++) out->video_mask[(size_t)(i / Nm) * N + t.mask_idx[i]] = 1;
    }
    if (out->pixels) {
        float *patches = malloc((size_t)B * N * K * sizeof(float));
        float *targets = malloc((size_t)B * N * K * sizeof(float));
        float *stats = malloc((size_t)B * N * 6 * sizeof(float));
        if (!patches || !targets || !stats) {
            rc = sv_fail(SIMVTP_ERR_NOMEM, "out of memory in reconstruction");
        } else {
            cpu_video_patches(c, b->frames, B, patches, targets, stats);
            for (size_t r = 0; r < (size_t)B * N; r++) {
                const float *st = stats + r * 6, *tg = targets + r * K;
                float *o = out->pixels + r * K;
                for (int k = 0; k < K; k++) {
                    float v = tg[k] * st[(k % 3) * 2 + 1] + st[(k % 3) * 2];
                    o[k] = v < 0.0f ? 0.0f : v > 1.0f ? 1.0f : v;
                }
            }
            for (int i = 0; i < B * Nm; i++) {
                size_t r = (size_t)(i / Nm) * N + t.mask_idx[i];
                const float *st = stats + r * 6, *pr = t.pred + (size_t)i * K;
                float *o = out->pixels + r * K;
                for (int k = 0; k < K; k++) {
                    float v = pr[k] * st[(k % 3) * 2 + 1] + st[(k % 3) * 2];
                    o[k] = v < 0.0f ? 0.0f : v > 1.0f ? 1.0f : v;
                }
            }
        }
        free(patches);
        free(targets);
        free(stats);
    }
    for (int i = 0; i < B; i++)
        for (int l = 0; l < b->max_len; l++) {
            int32_t in = l < L ? t.text_in[(size_t)i * L + l] : SV_TOKEN_PAD;
            int32_t pr = l < L ? t.mlm_argmax[(size_t)i * L + l] : SV_TOKEN_PAD;
            if (out->masked_tokens) out->masked_tokens[(size_t)i * b->max_len + l] = in;
            if (out->predicted) out->predicted[(size_t)i * b->max_len + l] = pr;
        }
    sv_trace_free(&t);
    return rc;
}

int simvtp_model_num_tensors(const simvtp_model *m)
{
    sv_clear_error();
    SV_CHECK_ARG(m, "simvtp_model_num_tensors: model is NULL");
    return m->ntensors;
}

#define CHECK_INDEX(m, i, fn) \
    SV_CHECK_ARG(m, fn ": model is NULL"); \
    SV_CHECK_ARG(i >= 0 && i < (m)->ntensors, fn ": index %d outside [0, %d)", i, (m)->ntensors)

const char *simvtp_model_tensor_name(const simvtp_model *m, int i)
{
    if (!m || i < 0 || i >= m->ntensors) {
        sv_fail(SIMVTP_ERR_INVALID_ARG, "simvtp_model_tensor_name: bad model or index %d", i);
        return NULL;
    }
    sv_clear_error();
    return m->tensors[i].name;
}

int64_t simvtp_model_tensor_numel(const simvtp_model *m, int i)
{
    sv_clear_error();
    CHECK_INDEX(m, i, "simvtp_model_tensor_numel");
    return (int64_t)m->tensors[i].numel;
}

int simvtp_model_tensor_shape(const simvtp_model *m, int i, int64_t shape[4])
{
    sv_clear_error();
    CHECK_INDEX(m, i, "simvtp_model_tensor_shape");
    SV_CHECK_ARG(shape, "simvtp_model_tensor_shape: shape is NULL");
    const sv_tensor *t = &m->tensors[i];
    /* Up to 4 dims reported; a 5-D patch embedding folds its last two. */
    for (int k = 0; k < 4; k++) shape[k] = 0;
    for (int k = 0; k < t->ndim && k < 4; k++) shape[k] = t->shape[k];
    if (t->ndim == 5) shape[3] = t->shape[3] * t->shape[4];
    return t->ndim < 4 ? t->ndim : 4;
}

int simvtp_model_tensor_get(const simvtp_model *m, int i, float *dst)
{
    sv_clear_error();
    CHECK_INDEX(m, i, "simvtp_model_tensor_get");
    SV_CHECK_ARG(dst, "simvtp_model_tensor_get: dst is NULL");
    SV_TRY(m->be->activate(m->be));
    m->be->memcpy_d2h(dst, m->params + m->tensors[i].offset, m->tensors[i].numel * sizeof(float));
    return m->be->finish(m->be);
}

int simvtp_model_tensor_set(simvtp_model *m, int i, const float *src)
{
    sv_clear_error();
    CHECK_INDEX(m, i, "simvtp_model_tensor_set");
    SV_CHECK_ARG(src, "simvtp_model_tensor_set: src is NULL");
    SV_TRY(m->be->activate(m->be));
    m->be->memcpy_h2d(m->params + m->tensors[i].offset, src, m->tensors[i].numel * sizeof(float));
    return m->be->finish(m->be);
}

int simvtp_model_grad_get(const simvtp_model *m, int i, float *dst)
{
    sv_clear_error();
    CHECK_INDEX(m, i, "simvtp_model_grad_get");
    SV_CHECK_ARG(dst, "simvtp_model_grad_get: dst is NULL");
    SV_TRY(m->be->activate(m->be));
    m->be->memcpy_d2h(dst, m->grads + m->tensors[i].offset, m->tensors[i].numel * sizeof(float));
    return m->be->finish(m->be);
}

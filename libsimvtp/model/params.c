/* model/params.c — the parameter table of each model kind (names and shapes
 * follow VideoMAE/BERT so that converted checkpoints map one to one), one
 * allocation for weights and one for gradients, and the typed views. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/status_internal.h"
#include "cpu/cpu_ops.h"
#include "model/model.h"

typedef struct table_builder {
    sv_tensor *t;
    int n, cap;
    size_t total;
    int failed;
    int64_t pending_shape[6]; /* set by shape(), consumed by add() */
} table_builder;

/* Adds a tensor; returns its index. dims end with 0. */
static int add(table_builder *tb, int decay, int init, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void set_shape(table_builder *tb, int64_t a, int64_t b, int64_t c, int64_t d, int64_t e)
{
    int64_t *s = tb->pending_shape;
    s[0] = a; s[1] = b; s[2] = c; s[3] = d; s[4] = e; s[5] = 0;
}
#define shape(...) set_shape(tb, __VA_ARGS__)

static int add(table_builder *tb, int decay, int init, const char *fmt, ...)
{
    if (tb->failed) return -1;
    if (tb->n == tb->cap) {
        int cap = tb->cap ? tb->cap * 2 : 128;
        sv_tensor *t = realloc(tb->t, (size_t)cap * sizeof *t);
        if (!t) { tb->failed = 1; return -1; }
        tb->t = t;
        tb->cap = cap;
    }
    sv_tensor *t = &tb->t[tb->n];
    memset(t, 0, sizeof *t);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->name, sizeof t->name, fmt, ap);
    va_end(ap);
    size_t numel = 1;
    for (int i = 0; i < 5 && tb->pending_shape[i]; i++) {
        t->shape[i] = tb->pending_shape[i];
        t->ndim = i + 1;
        numel *= (size_t)tb->pending_shape[i];
    }
    t->numel = numel;
    t->offset = tb->total;
    t->decay = decay;
    t->init = init;
    tb->total += numel;
    return tb->n++;
}


static void add_linear(table_builder *tb, const char *prefix, int out, int in, int bias)
{
    shape(out, in, 0, 0, 0);
    add(tb, 1, SV_INIT_XAVIER, "%s.weight", prefix);
    if (bias) {
        shape(out, 0, 0, 0, 0);
        add(tb, 0, SV_INIT_ZERO, "%s.bias", prefix);
    }
}

static void add_norm(table_builder *tb, const char *prefix, int C)
{
    shape(C, 0, 0, 0, 0);
    add(tb, 0, SV_INIT_ONE, "%s.weight", prefix);
    add(tb, 0, SV_INIT_ZERO, "%s.bias", prefix);
}

static void add_blocks(table_builder *tb, const char *prefix, int depth, int C, int M)
{
    char p[SV_NAME_MAX];
    for (int i = 0; i < depth; i++) {
        snprintf(p, sizeof p, "%s.blocks.%d.norm1", prefix, i);
        add_norm(tb, p, C);
        snprintf(p, sizeof p, "%s.blocks.%d.attn.qkv", prefix, i);
        add_linear(tb, p, 3 * C, C, 0);
        shape(C, 0, 0, 0, 0);
        add(tb, 0, SV_INIT_ZERO, "%s.blocks.%d.attn.q_bias", prefix, i);
        add(tb, 0, SV_INIT_ZERO, "%s.blocks.%d.attn.v_bias", prefix, i);
        snprintf(p, sizeof p, "%s.blocks.%d.attn.proj", prefix, i);
        add_linear(tb, p, C, C, 1);
        snprintf(p, sizeof p, "%s.blocks.%d.norm2", prefix, i);
        add_norm(tb, p, C);
        snprintf(p, sizeof p, "%s.blocks.%d.mlp.fc1", prefix, i);
        add_linear(tb, p, M, C, 1);
        snprintf(p, sizeof p, "%s.blocks.%d.mlp.fc2", prefix, i);
        add_linear(tb, p, C, M, 1);
    }
}

static void add_patch_embed(table_builder *tb, const char *prefix, const simvtp_config *c)
{
    shape(c->enc_width, 3, c->tubelet, c->patch, c->patch);
    add(tb, 1, SV_INIT_XAVIER, "%s.patch_embed.proj.weight", prefix);
    shape(c->enc_width, 0, 0, 0, 0);
    add(tb, 0, SV_INIT_ZERO, "%s.patch_embed.proj.bias", prefix);
}

static void add_text_embed(table_builder *tb, const char *prefix, const simvtp_config *c)
{
    char p[SV_NAME_MAX];
    shape(c->vocab_size, c->enc_width, 0, 0, 0);
    add(tb, 1, SV_INIT_NORMAL02, "%s.word_embeddings.weight", prefix);
    shape(c->max_text_len, c->enc_width, 0, 0, 0);
    add(tb, 0, SV_INIT_NORMAL02, "%s.position_embeddings.weight", prefix);
    shape(c->type_vocab, c->enc_width, 0, 0, 0);
    add(tb, 1, SV_INIT_NORMAL02, "%s.token_type_embeddings.weight", prefix);
    snprintf(p, sizeof p, "%s.LayerNorm", prefix);
    add_norm(tb, p, c->enc_width);
}

static void build_table(table_builder *tb, const simvtp_config *c, int kind)
{
    const int D = c->enc_width, Dd = c->dec_width;
    const int K = c->tubelet * c->patch * c->patch * 3;
    if (kind == SIMVTP_MODEL_PRETRAIN) {
        add_patch_embed(tb, "encoder", c);
        add_text_embed(tb, "text_embeddings", c);
        add_blocks(tb, "encoder", c->enc_depth, D, c->enc_mlp);
        add_norm(tb, "encoder.norm", D);
        add_linear(tb, "encoder_to_decoder", Dd, D, 0);
        shape(1, 1, Dd, 0, 0);
        add(tb, 0, SV_INIT_NORMAL02, "mask_token");
        add_blocks(tb, "decoder", c->dec_depth, Dd, c->dec_mlp);
        add_norm(tb, "decoder.norm", Dd);
        add_linear(tb, "decoder.head", K, Dd, 1);
        add_linear(tb, "mlm_head", c->vocab_size, D, 1);
        add_linear(tb, "vtm_head", 2, D, 1);
    } else {
        add_patch_embed(tb, "video", c);
        add_blocks(tb, "video", c->enc_depth, D, c->enc_mlp);
        add_norm(tb, "video.fc_norm", D);
        add_text_embed(tb, "text.embeddings", c);
        add_blocks(tb, "text", c->enc_depth, D, c->enc_mlp);
        add_norm(tb, "text.fc_norm", D);
    }
}

int sv_model_table_size(const simvtp_config *cfg, int kind, size_t *nparams, int *ntensors)
{
    table_builder tb = {0};
    build_table(&tb, cfg, kind);
    free(tb.t);
    if (tb.failed) return sv_fail(SIMVTP_ERR_NOMEM, "out of memory building the parameter table");
    *nparams = tb.total;
    *ntensors = tb.n;
    return SIMVTP_OK;
}

int sv_model_find_tensor(const simvtp_model *m, const char *name)
{
    for (int i = 0; i < m->ntensors; i++)
        if (!strcmp(m->tensors[i].name, name)) return i;
    return -1;
}

static float *ptr(const simvtp_model *m, float *base, const char *fmt, ...)
{
    char name[SV_NAME_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    int i = sv_model_find_tensor(m, name);
    return i < 0 ? NULL : base + m->tensors[i].offset;
}

static void bind_blocks(const simvtp_model *m, float *base, sv_block *b, const char *prefix, int depth)
{
    for (int i = 0; i < depth; i++) {
        b[i].n1w = ptr(m, base, "%s.blocks.%d.norm1.weight", prefix, i);
        b[i].n1b = ptr(m, base, "%s.blocks.%d.norm1.bias", prefix, i);
        b[i].qkvw = ptr(m, base, "%s.blocks.%d.attn.qkv.weight", prefix, i);
        b[i].qb = ptr(m, base, "%s.blocks.%d.attn.q_bias", prefix, i);
        b[i].vb = ptr(m, base, "%s.blocks.%d.attn.v_bias", prefix, i);
        b[i].projw = ptr(m, base, "%s.blocks.%d.attn.proj.weight", prefix, i);
        b[i].projb = ptr(m, base, "%s.blocks.%d.attn.proj.bias", prefix, i);
        b[i].n2w = ptr(m, base, "%s.blocks.%d.norm2.weight", prefix, i);
        b[i].n2b = ptr(m, base, "%s.blocks.%d.norm2.bias", prefix, i);
        b[i].fc1w = ptr(m, base, "%s.blocks.%d.mlp.fc1.weight", prefix, i);
        b[i].fc1b = ptr(m, base, "%s.blocks.%d.mlp.fc1.bias", prefix, i);
        b[i].fc2w = ptr(m, base, "%s.blocks.%d.mlp.fc2.weight", prefix, i);
        b[i].fc2b = ptr(m, base, "%s.blocks.%d.mlp.fc2.bias", prefix, i);
    }
}

static void bind_textemb(const simvtp_model *m, float *base, sv_textemb *t, const char *prefix)
{
    t->word = ptr(m, base, "%s.word_embeddings.weight", prefix);
    t->pos = ptr(m, base, "%s.position_embeddings.weight", prefix);
    t->type = ptr(m, base, "%s.token_type_embeddings.weight", prefix);
    t->lnw = ptr(m, base, "%s.LayerNorm.weight", prefix);
    t->lnb = ptr(m, base, "%s.LayerNorm.bias", prefix);
}

static void bind(const simvtp_model *m, float *base, sv_weights *w, sv_block *blocks)
{
    const simvtp_config *c = &m->cfg;
    memset(w, 0, sizeof *w);
    if (m->kind == SIMVTP_MODEL_PRETRAIN) {
        w->patch_w = ptr(m, base, "encoder.patch_embed.proj.weight");
        w->patch_b = ptr(m, base, "encoder.patch_embed.proj.bias");
        bind_textemb(m, base, &w->temb, "text_embeddings");
        w->enc = blocks;
        bind_blocks(m, base, w->enc, "encoder", c->enc_depth);
        w->enc_norm_w = ptr(m, base, "encoder.norm.weight");
        w->enc_norm_b = ptr(m, base, "encoder.norm.bias");
        w->e2d_w = ptr(m, base, "encoder_to_decoder.weight");
        w->mask_token = ptr(m, base, "mask_token");
        w->dec = blocks + c->enc_depth;
        bind_blocks(m, base, w->dec, "decoder", c->dec_depth);
        w->dec_norm_w = ptr(m, base, "decoder.norm.weight");
        w->dec_norm_b = ptr(m, base, "decoder.norm.bias");
        w->head_w = ptr(m, base, "decoder.head.weight");
        w->head_b = ptr(m, base, "decoder.head.bias");
        w->mlm_w = ptr(m, base, "mlm_head.weight");
        w->mlm_b = ptr(m, base, "mlm_head.bias");
        w->vtm_w = ptr(m, base, "vtm_head.weight");
        w->vtm_b = ptr(m, base, "vtm_head.bias");
    } else {
        w->patch_w = ptr(m, base, "video.patch_embed.proj.weight");
        w->patch_b = ptr(m, base, "video.patch_embed.proj.bias");
        w->enc = blocks;
        bind_blocks(m, base, w->enc, "video", c->enc_depth);
        w->vfc_w = ptr(m, base, "video.fc_norm.weight");
        w->vfc_b = ptr(m, base, "video.fc_norm.bias");
        bind_textemb(m, base, &w->temb, "text.embeddings");
        w->txt = blocks + c->enc_depth;
        bind_blocks(m, base, w->txt, "text", c->enc_depth);
        w->tfc_w = ptr(m, base, "text.fc_norm.weight");
        w->tfc_b = ptr(m, base, "text.fc_norm.bias");
    }
}

int sv_model_alloc(const simvtp_config *cfg, int kind, const sv_backend *be, simvtp_model **out)
{
    simvtp_model *m = calloc(1, sizeof *m);
    if (!m) return sv_fail(SIMVTP_ERR_NOMEM, "out of memory allocating a model");
    m->kind = kind;
    m->cfg = *cfg;
    m->be = be;
    table_builder tb = {0};
    build_table(&tb, cfg, kind);
    if (tb.failed) {
        free(tb.t);
        free(m);
        return sv_fail(SIMVTP_ERR_NOMEM, "out of memory building the parameter table");
    }
    m->tensors = tb.t;
    m->ntensors = tb.n;
    m->nparams = tb.total;
    const int N = simvtp_config_num_video_tokens(cfg);
    int nblocks = 2 * (cfg->enc_depth + (kind == SIMVTP_MODEL_PRETRAIN ? cfg->dec_depth : cfg->enc_depth));
    int rc = be->activate(be);
    if (rc) {
        free(tb.t);
        free(m);
        return rc;
    }
    m->params = be->alloc(m->nparams * sizeof(float));
    m->grads = be->alloc(m->nparams * sizeof(float));
    m->block_mem = calloc((size_t)nblocks, sizeof(sv_block));
    m->pe_enc = be->alloc((size_t)N * cfg->enc_width * sizeof(float));
    m->pe_dec = be->alloc((size_t)N * cfg->dec_width * sizeof(float));
    float *pe_host = malloc((size_t)N * (cfg->enc_width > cfg->dec_width ? cfg->enc_width : cfg->dec_width) * sizeof(float));
    if (!m->params || !m->grads || !m->block_mem || !m->pe_enc || !m->pe_dec || !pe_host) {
        size_t mb = m->nparams * 8 / (1024 * 1024);
        free(pe_host);
        simvtp_model_free(m);
        return sv_fail(SIMVTP_ERR_NOMEM, "out of memory for %zu MiB of weights and gradients on %s", mb, be->name);
    }
    bind(m, m->params, &m->w, m->block_mem);
    bind(m, m->grads, &m->g, m->block_mem + nblocks / 2);
    cpu_sincos_table(pe_host, N, cfg->enc_width);
    be->memcpy_h2d(m->pe_enc, pe_host, (size_t)N * cfg->enc_width * sizeof(float));
    cpu_sincos_table(pe_host, N, cfg->dec_width);
    be->memcpy_h2d(m->pe_dec, pe_host, (size_t)N * cfg->dec_width * sizeof(float));
    free(pe_host);
    if ((rc = be->finish(be))) {
        simvtp_model_free(m);
        return rc;
    }
    *out = m;
    return SIMVTP_OK;
}

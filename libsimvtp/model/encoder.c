/* model/encoder.c — pre-LN transformer blocks with q/v biases, key padding
 * mask and optional per-sample drop path; forward and backward, optionally
 * with activation checkpointing (only the blocks' inputs are kept and each
 * block is recomputed just before its backward, or selectively: only the
 * LayerNorm and GELU outputs are recomputed). A backend may keep the
 * LayerNorm and GELU outputs, qkv and the fc1 output in its own 2-byte type
 * (core/backend.h pin_bytes, attention_pin, h_pin), and the attention
 * output too (o_pin). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/status_internal.h"
#include "model/encoder.h"

int sv_enc_pass_init(sv_enc_pass *p, sv_arena *a, int B, int N, int C, int H, int M, int depth,
                     float eps, int has_norm, int ckpt)
{
    memset(p, 0, sizeof *p);
    p->B = B; p->N = N; p->C = C; p->H = H; p->M = M; p->depth = depth;
    p->eps = eps;
    p->has_norm = has_norm;
    p->ckpt = ckpt;
    const sv_backend *be = a->be ? a->be : &sv_backend_cpu;
    /* per-block activations: one set per block, or one shared set (Sc: the
     * cheap ones, which selective checkpointing recomputes) */
    const size_t R = (size_t)B * N, L = (size_t)depth;
    const size_t S = ckpt == SIMVTP_CHECKPOINT_BLOCKS ? 1 : L, Sc = ckpt ? 1 : L;
    p->att_stride = be->attention_saved(B, N, H, C / H);
    p->pin = be->pin_bytes ? be->pin_bytes() : 0;
    p->qkv_pin = p->pin && be->attention_pin && be->attention_pin(C / H);
    p->h_pin = p->pin && be->h_pin && be->h_pin() && be->matmul_fwd_pin_out && be->gelu_fwd_pin_h &&
               be->gelu_matmul_bwd_pin_h;
    const size_t es = p->pin ? p->pin : sizeof(float), qes = p->qkv_pin ? es : sizeof(float);
    p->o_pin = p->qkv_pin && be->o_pin && be->o_pin() && be->attention_fwd_pin_o && be->attention_bwd_pin_o;
    const size_t hes = p->h_pin ? es : sizeof(float), oes = p->o_pin ? es : sizeof(float);
    /* raw (core/arena.h): each forward op below overwrites its output in full */
    p->res = SV_AFR(a, (L + 1) * R * C);
    p->ln1 = sv_arena_alloc_raw(a, Sc * R * C * es);
    p->ln1_mean = SV_AFR(a, S * R);
    p->ln1_rstd = SV_AFR(a, S * R);
    p->qkv = sv_arena_alloc_raw(a, S * R * 3 * C * qes);
    p->att = SV_AFR(a, S * p->att_stride);
    p->atty = sv_arena_alloc_raw(a, S * R * C * oes);
    p->x1 = SV_AFR(a, S * R * C);
    p->ln2 = sv_arena_alloc_raw(a, Sc * R * C * es);
    p->ln2_mean = SV_AFR(a, S * R);
    p->ln2_rstd = SV_AFR(a, S * R);
    p->h = sv_arena_alloc_raw(a, S * R * M * hes);
    p->g = sv_arena_alloc_raw(a, Sc * R * M * es);
    p->bias3 = SV_AF(a, S * 3 * C); /* zero-filled: the middle third stays 0 */
    if (has_norm) {
        p->out = SV_AFR(a, R * C);
        p->fn_mean = SV_AFR(a, R);
        p->fn_rstd = SV_AFR(a, R);
    } else {
        p->out = p->res + L * R * C;
    }
    if (a->failed)
        return sv_fail(SIMVTP_ERR_NOMEM, "out of memory for encoder activations (%d x %d tokens, width %d, depth %d)",
                       B, N, C, depth);
    return SIMVTP_OK;
}

/* The saved activations of block l: its own slice, or with checkpointing
 * the one slice all blocks share (refilled by recomputation in the backward;
 * with selective checkpointing only ln1, ln2 and g are shared). */
typedef struct blk_acts {
    float *ln1_mean, *ln1_rstd, *att, *x1, *ln2_mean, *ln2_rstd, *bias3;
    void *ln1, *ln2, *g; /* product inputs */
    void *qkv, *h, *atty;
} blk_acts;

static void acts_of(const sv_enc_pass *p, int l, blk_acts *s)
{
    const size_t k = p->ckpt == SIMVTP_CHECKPOINT_BLOCKS ? 0 : (size_t)l, kc = p->ckpt ? 0 : (size_t)l;
    const size_t R = (size_t)p->B * p->N, RC = R * p->C, RM = R * p->M;
    const size_t es = p->pin ? p->pin : sizeof(float);
    s->ln1 = (char *)p->ln1 + kc * RC * es;
    s->ln1_mean = p->ln1_mean + k * R;
    s->ln1_rstd = p->ln1_rstd + k * R;
    s->qkv = (char *)p->qkv + k * RC * 3 * (p->qkv_pin ? es : sizeof(float));
    s->att = p->att + k * p->att_stride;
    s->atty = (char *)p->atty + k * RC * (p->o_pin ? es : sizeof(float));
    s->x1 = p->x1 + k * RC;
    s->ln2 = (char *)p->ln2 + kc * RC * es;
    s->ln2_mean = p->ln2_mean + k * R;
    s->ln2_rstd = p->ln2_rstd + k * R;
    s->h = (char *)p->h + k * RM * (p->h_pin ? es : sizeof(float));
    s->g = (char *)p->g + kc * RM * es;
    s->bias3 = p->bias3 + k * 3 * (size_t)p->C;
}

/* The product inputs (core/backend.h: pin_bytes) go through the backend's
 * _pin ops when it stores them in its own type, else through the plain ones. */
static void ln_pin(const sv_backend *be, const sv_enc_pass *p, void *out, float *mean, float *rstd,
                   const float *inp, const float *w, const float *b)
{
    const int R = p->B * p->N;
    if (p->pin) be->layernorm_fwd_pin(out, mean, rstd, inp, w, b, R, p->C, p->eps);
    else be->layernorm_fwd((float *)out, mean, rstd, inp, w, b, R, p->C, p->eps);
}

static void gelu_pin(const sv_backend *be, const sv_enc_pass *p, void *out, const void *inp)
{
    const size_t n = (size_t)p->B * p->N * p->M;
    if (p->h_pin) be->gelu_fwd_pin_h(out, inp, n);
    else if (p->pin) be->gelu_fwd_pin(out, (const float *)inp, n);
    else be->gelu_fwd((float *)out, (const float *)inp, n);
}

static void mm_fwd_pin(const sv_backend *be, const sv_enc_pass *p, float *out, const void *inp,
                       const float *w, const float *bias, int K, int N)
{
    const int R = p->B * p->N;
    if (p->pin) be->matmul_fwd_pin(out, inp, w, bias, R, K, N);
    else be->matmul_fwd(out, (const float *)inp, w, bias, R, K, N);
}

static void mm_bwd_pin(const sv_backend *be, const sv_enc_pass *p, float *dinp, float *dw,
                       float *dbias, const float *dout, const void *inp, const float *w, int K,
                       int N)
{
    const int R = p->B * p->N;
    if (p->pin) be->matmul_bwd_pin(dinp, dw, dbias, dout, inp, w, R, K, N);
    else be->matmul_bwd(dinp, dw, dbias, dout, (const float *)inp, w, R, K, N);
}

/* Block l from its input res[l]: every saved activation, and with xout the
 * block's output (NULL: stop before the second residual branch's product,
 * the recomputation of a checkpointed block). ln1_ready: the previous
 * block already wrote this block's first LayerNorm (below). next (or NULL):
 * block l+1's weights, whose first LayerNorm of xout is then made in the
 * same pass as the residual add that finishes xout (backend
 * residual_layernorm_fwd_pin). Deterministic, so a recomputation gives the
 * forward's activations bit for bit. */
static int block_forward(const sv_backend *be, const sv_enc_pass *p, const sv_block *w, int l,
                         float *xout, int ln1_ready, const sv_block *next)
{
    const int B = p->B, N = p->N, C = p->C, H = p->H, M = p->M, R = B * N;
    const size_t RC = (size_t)R * C;
    const float *xin = p->res + (size_t)l * RC;
    const float *dpa = p->droppath ? p->droppath + (size_t)l * 2 * B : NULL;
    const float *dpm = p->droppath ? dpa + B : NULL;
    blk_acts s;
    acts_of(p, l, &s);
    const float *bias3 = p->bias3_ext ? p->bias3_ext + (size_t)l * 3 * C : s.bias3;
    if (!p->bias3_ext) {
        be->copy(s.bias3, w->qb, C * sizeof(float)); /* [q_bias, 0, v_bias]; the middle stays zero */
        be->copy(s.bias3 + 2 * C, w->vb, C * sizeof(float));
    }
    if (!ln1_ready) ln_pin(be, p, s.ln1, s.ln1_mean, s.ln1_rstd, xin, w->n1w, w->n1b);
    int arc;
    if (p->qkv_pin) {
        be->matmul_fwd_pin_out(s.qkv, s.ln1, w->qkvw, bias3, R, C, 3 * C);
        arc = p->o_pin ? be->attention_fwd_pin_o(s.atty, s.att, s.qkv, p->keyvalid, B, N, H, C / H)
                       : be->attention_fwd_pin((float *)s.atty, s.att, s.qkv, p->keyvalid, B, N, H, C / H);
    } else {
        mm_fwd_pin(be, p, s.qkv, s.ln1, w->qkvw, bias3, C, 3 * C);
        arc = be->attention_fwd((float *)s.atty, s.att, s.qkv, p->keyvalid, B, N, H, C / H);
    }
    if (arc != 0) return sv_fail(SIMVTP_ERR_NOMEM, "out of memory in attention (N=%d)", N);
    if (p->o_pin) be->matmul_fwd_pin(s.x1, s.atty, w->projw, w->projb, R, C, C);
    else be->matmul_fwd(s.x1, (const float *)s.atty, w->projw, w->projb, R, C, C);
    if (p->pin && be->residual_layernorm_fwd_pin) { /* x1 and ln2 in one pass */
        be->residual_layernorm_fwd_pin(s.x1, xin, dpa, s.ln2, s.ln2_mean, s.ln2_rstd, w->n2w, w->n2b, B, N, C,
                                       p->eps);
    } else {
        be->residual(s.x1, xin, dpa, B, N, C);
        ln_pin(be, p, s.ln2, s.ln2_mean, s.ln2_rstd, s.x1, w->n2w, w->n2b);
    }
    if (p->h_pin) be->matmul_fwd_pin_out(s.h, s.ln2, w->fc1w, w->fc1b, R, C, M);
    else mm_fwd_pin(be, p, (float *)s.h, s.ln2, w->fc1w, w->fc1b, C, M);
    gelu_pin(be, p, s.g, s.h);
    if (!xout) return SIMVTP_OK;
    mm_fwd_pin(be, p, xout, s.g, w->fc2w, w->fc2b, M, C);
    if (next) { /* this block's activations are done with: next's may share their slot */
        blk_acts sn;
        acts_of(p, l + 1, &sn);
        be->residual_layernorm_fwd_pin(xout, s.x1, dpm, sn.ln1, sn.ln1_mean, sn.ln1_rstd, next->n1w, next->n1b, B,
                                       N, C, p->eps);
    } else {
        be->residual(xout, s.x1, dpm, B, N, C);
    }
    return SIMVTP_OK;
}

int sv_enc_forward(const sv_backend *be, sv_enc_pass *p, const sv_block *blk, const float *norm_w,
                   const float *norm_b, const float *x)
{
    const size_t RC = (size_t)p->B * p->N * p->C;
    be->copy(p->res, x, RC * sizeof(float));
    const int fuse = p->pin && be->residual_layernorm_fwd_pin;
    for (int l = 0; l < p->depth; l++)
        SV_TRY(block_forward(be, p, &blk[l], l, p->res + (size_t)(l + 1) * RC, fuse && l > 0,
                             fuse && l + 1 < p->depth ? &blk[l + 1] : NULL));
    if (p->has_norm)
        be->layernorm_fwd(p->out, p->fn_mean, p->fn_rstd, p->res + p->depth * RC, norm_w, norm_b,
                          p->B * p->N, p->C, p->eps);
    return SIMVTP_OK;
}

int sv_enc_backward(const sv_backend *be, sv_enc_pass *p, const sv_block *blk,
                    const float *norm_w, sv_block *gblk, float *gnorm_w, float *gnorm_b,
                    const float *dout, float *dx)
{
    const int B = p->B, N = p->N, C = p->C, H = p->H, M = p->M, R = B * N;
    const size_t RC = (size_t)R * C, RM = (size_t)R * M;
    sv_arena a = {.be = be};
    /* gradient w.r.t. the current residual stream: dout itself where the
     * caller lets it (no final norm), or the zero-filled dx, else its own */
    const int in_place = p->dout_scratch && !p->has_norm, in_dx = !in_place && p->dx_scratch && dx;
    float *dcur = in_place ? (float *)dout : in_dx ? dx : SV_AF(&a, RC);
    /* gradient w.r.t. a residual branch output: only drop path makes it
     * differ from dcur (a backend with matmul_bwd_rowscale scales on the way) */
    float *dbr = p->droppath && !be->matmul_bwd_rowscale ? SV_AFR(&a, RC) : NULL;
    /* scratch shared where lifetimes do not overlap: datty dies with the
     * attention backward before dln is written again; gelu_bwd works in
     * place; dqkv is written by the attention backward after the fc1
     * backward last read dg, and read by the qkv backward before the next
     * block's fc2 backward writes dg again */
    float *dln = SV_AFR(&a, RC);   /* raw: every op that writes these overwrites */
    float *datty = dln;
    float *dg = SV_AFR(&a, RM > RC * 3 ? RM : RC * 3);
    float *dh = dg;
    float *dqkv = dg;
    float *db3 = SV_AF(&a, 3 * (size_t)C);
    if (a.failed) {
        sv_arena_free(&a);
        return sv_fail(SIMVTP_ERR_NOMEM, "out of memory for encoder backward buffers");
    }
    if (p->has_norm)
        be->layernorm_bwd(dcur, gnorm_w, gnorm_b, dout, p->res + p->depth * RC, norm_w,
                          p->fn_mean, p->fn_rstd, R, C);
    else if (!in_place)
        be->copy(dcur, dout, RC * sizeof(float));

    int rc = SIMVTP_OK;
    for (int l = p->depth - 1; l >= 0; l--) {
        const sv_block *w = &blk[l];
        sv_block *gw = &gblk[l];
        /* a checkpointed block first recomputes its activations from res[l];
         * a selectively checkpointed one its LayerNorm and GELU outputs from
         * res[l], x1 and h (the same kernels on the same inputs: the same bits) */
        if (p->ckpt == SIMVTP_CHECKPOINT_BLOCKS && (rc = block_forward(be, p, w, l, NULL, 0, NULL))) break;
        blk_acts s;
        acts_of(p, l, &s);
        float *xin = p->res + l * RC;
        if (p->ckpt == SIMVTP_CHECKPOINT_SELECTIVE) {
            ln_pin(be, p, s.ln1, s.ln1_mean, s.ln1_rstd, xin, w->n1w, w->n1b);
            ln_pin(be, p, s.ln2, s.ln2_mean, s.ln2_rstd, s.x1, w->n2w, w->n2b);
            gelu_pin(be, p, s.g, s.h);
        }
        float *att = s.att, *x1 = s.x1;
        const void *ln1 = s.ln1, *ln2 = s.ln2, *g = s.g, *qkv = s.qkv, *h = s.h, *atty = s.atty;
        const float *dpa = p->droppath ? p->droppath + (size_t)l * 2 * B : NULL;
        const float *dpm = p->droppath ? dpa + B : NULL;

        /* xout = x1 + s_m * fc2(gelu(fc1(ln2(x1)))) ; dcur holds d xout and becomes d x1.
         * Without drop path (pretraining, evaluation) the branch's gradient is
         * dcur itself, read before dcur changes: no copy. */
        const float *dbranch = dcur;
        if (dpm && be->matmul_bwd_rowscale) {
            be->matmul_bwd_rowscale(dg, gw->fc2w, gw->fc2b, dcur, dpm, N, g, p->pin != 0, w->fc2w, R, M, C);
        } else {
            if (dpm) {
                be->scale_rows(dbr, dcur, dpm, B, N, C);
                dbranch = dbr;
            }
            mm_bwd_pin(be, p, dg, gw->fc2w, gw->fc2b, dbranch, g, w->fc2w, M, C);
        }
        if (p->h_pin) {
            be->gelu_matmul_bwd_pin_h(dln, gw->fc1w, gw->fc1b, dg, h, ln2, w->fc1w, R, C, M);
        } else if (p->pin && be->gelu_matmul_bwd) {
            be->gelu_matmul_bwd(dln, gw->fc1w, gw->fc1b, dg, (const float *)h, ln2, w->fc1w, R, C, M);
        } else {
            be->gelu_bwd(dh, (const float *)h, dg, RM);
            mm_bwd_pin(be, p, dln, gw->fc1w, gw->fc1b, dh, ln2, w->fc1w, C, M);
        }
        be->layernorm_bwd(dcur, gw->n2w, gw->n2b, dln, x1, w->n2w, s.ln2_mean, s.ln2_rstd, R, C);

        /* x1 = xin + s_a * proj(attn(qkv(ln1(xin)))) ; dcur becomes d xin */
        dbranch = dcur;
        if (dpa && be->matmul_bwd_rowscale) {
            be->matmul_bwd_rowscale(datty, gw->projw, gw->projb, dcur, dpa, N, atty, p->o_pin, w->projw, R, C, C);
        } else {
            if (dpa) {
                be->scale_rows(dbr, dcur, dpa, B, N, C);
                dbranch = dbr;
            }
            if (p->o_pin) be->matmul_bwd_pin(datty, gw->projw, gw->projb, dbranch, atty, w->projw, R, C, C);
            else be->matmul_bwd(datty, gw->projw, gw->projb, dbranch, (const float *)atty, w->projw, R, C, C);
        }
        const int hd = C / H;
        int arc;
        if (p->o_pin) arc = be->attention_bwd_pin_o(dqkv, datty, qkv, atty, att, p->keyvalid, B, N, H, hd);
        else if (p->qkv_pin)
            arc = be->attention_bwd_pin(dqkv, datty, qkv, (const float *)atty, att, p->keyvalid, B, N, H, hd);
        else arc = be->attention_bwd(dqkv, datty, qkv, (const float *)atty, att, p->keyvalid, B, N, H, hd);
        if (arc != 0) {
            rc = sv_fail(SIMVTP_ERR_NOMEM, "out of memory in attention backward (N=%d)", N);
            break;
        }
        if (p->gbias3_ext) { /* gathered over the passes, handed over by sv_enc_bias3_grad */
            mm_bwd_pin(be, p, dln, gw->qkvw, p->gbias3_ext + (size_t)l * 3 * C, dqkv, ln1, w->qkvw, C, 3 * C);
        } else {
            be->zero(db3, 3 * (size_t)C * sizeof(float));
            mm_bwd_pin(be, p, dln, gw->qkvw, db3, dqkv, ln1, w->qkvw, C, 3 * C);
            be->add(gw->qb, db3, C);
            be->add(gw->vb, db3 + 2 * C, C);
        }
        be->layernorm_bwd(dcur, gw->n1w, gw->n1b, dln, xin, w->n1w, s.ln1_mean, s.ln1_rstd, R, C);
    }
    if (rc == SIMVTP_OK && dx && !in_dx) be->add(dx, dcur, RC);
    sv_arena_free(&a);
    return rc;
}

/* bias i of the blocks: q of block i/2 for even i, v for odd i */
static float *bias_at(const sv_block *blk, int i) { return i & 1 ? blk[i / 2].vb : blk[i / 2].qb; }

int sv_enc_bias3(const sv_backend *be, sv_arena *a, const sv_block *blk, int depth, int C, sv_bias3 *out)
{
    memset(out, 0, sizeof *out);
    out->b3 = SV_AF(a, (size_t)depth * 3 * C);
    if (!out->b3) return -1;
    const int n = 2 * depth;
    int base = 0;
    for (int i = 1; i < n; i++)
        if (bias_at(blk, i) < bias_at(blk, base)) base = i;
    int32_t *idx = malloc(2 * (size_t)n * sizeof *idx);
    int whole = idx != NULL;
    for (int i = 0; i < n && whole; i++) {
        const ptrdiff_t d = bias_at(blk, i) - bias_at(blk, base);
        whole = d % C == 0 && d / C <= INT32_MAX;
        idx[i] = (int32_t)(3 * (i / 2) + 2 * (i & 1)); /* q at row 3l, v at 3l + 2 of b3 */
        idx[n + i] = (int32_t)(d / C);
    }
    if (whole) {
        out->slot = SV_UPI(a, idx, n);
        out->row = SV_UPI(a, idx + n, n);
        out->base = base;
    }
    free(idx);
    if (a->failed) return -1;
    if (out->slot) {
        be->rows_copy(out->b3, out->slot, bias_at(blk, base), out->row, n, C);
        return 0;
    }
    for (int l = 0; l < depth; l++) {
        be->copy(out->b3 + (size_t)l * 3 * C, blk[l].qb, C * sizeof(float));
        be->copy(out->b3 + (size_t)l * 3 * C + 2 * C, blk[l].vb, C * sizeof(float));
    }
    return 0;
}

void sv_enc_bias3_grad(const sv_backend *be, const sv_bias3 *b, const float *gb3, sv_block *gblk, int depth,
                       int C)
{
    if (b->slot) {
        be->rows_add(bias_at(gblk, b->base), b->row, gb3, b->slot, 2 * depth, C);
        return;
    }
    for (int l = 0; l < depth; l++) {
        be->add(gblk[l].qb, gb3 + (size_t)l * 3 * C, C);
        be->add(gblk[l].vb, gb3 + (size_t)l * 3 * C + 2 * C, C);
    }
}

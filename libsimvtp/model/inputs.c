/* model/inputs.c — see inputs.h. */
#include <math.h>
#include <string.h>

#include "model/inputs.h"

static const float kMean[3] = {0.485f, 0.456f, 0.406f};
static const float kStd[3] = {0.229f, 0.224f, 0.225f};

void sv_tubelets(const simvtp_config *c, const uint8_t *frames, int B, float *patches,
                 float *targets, float *stats)
{
    const int t = c->tubelet, p = c->patch, T = c->frames, Hh = c->height, Ww = c->width;
    const int gh = Hh / p, gw = Ww / p, gt = T / t, N = gt * gh * gw, K = t * p * p * 3;
    const int n_px = t * p * p;
#pragma omp parallel for schedule(static)
    for (long bn = 0; bn < (long)B * N; bn++) {
        int b = (int)(bn / N), n = (int)(bn % N);
        int ti = n / (gh * gw), hi = (n / gw) % gh, wi = n % gw;
        /* byte offset of pixel (dt, dy, dx) of this tubelet in the uint8 clip */
#define PIXEL(dt, dy, dx) \
    (((((size_t)b * T + ti * t + (dt)) * Hh + hi * p + (dy)) * Ww + wi * p + (dx)) * 3)
        float *pp = patches + bn * K;
        double sum[3] = {0, 0, 0};
        for (int dt = 0; dt < t; dt++)
            for (int dy = 0; dy < p; dy++)
                for (int dx = 0; dx < p; dx++) {
                    size_t fi = PIXEL(dt, dy, dx);
                    for (int ch = 0; ch < 3; ch++) {
                        float v = frames[fi + ch] * (1.0f / 255.0f);
                        pp[((ch * t + dt) * p + dy) * p + dx] = (v - kMean[ch]) / kStd[ch];
                        sum[ch] += v;
                    }
                }
        if (!targets) continue;
        float mean[3], denom[3];
        for (int ch = 0; ch < 3; ch++) mean[ch] = (float)(sum[ch] / n_px);
        /* Second pass: the unbiased variance around the mean. */
        double ss[3] = {0, 0, 0};
        for (int dt = 0; dt < t; dt++)
            for (int dy = 0; dy < p; dy++)
                for (int dx = 0; dx < p; dx++) {
                    size_t fi = PIXEL(dt, dy, dx);
                    for (int ch = 0; ch < 3; ch++) {
                        double d = frames[fi + ch] * (1.0 / 255.0) - mean[ch];
                        ss[ch] += d * d;
                    }
                }
        for (int ch = 0; ch < 3; ch++) denom[ch] = (float)sqrt(ss[ch] / (n_px - 1)) + 1e-6f;
        float *tt = targets + bn * K;
        for (int dt = 0; dt < t; dt++)
            for (int dy = 0; dy < p; dy++)
                for (int dx = 0; dx < p; dx++) {
                    size_t fi = PIXEL(dt, dy, dx);
                    for (int ch = 0; ch < 3; ch++) {
                        float v = frames[fi + ch] * (1.0f / 255.0f);
                        tt[((dt * p + dy) * p + dx) * 3 + ch] = (v - mean[ch]) / denom[ch];
                    }
                }
        if (stats)
            for (int ch = 0; ch < 3; ch++) {
                stats[bn * 6 + ch * 2] = mean[ch];
                stats[bn * 6 + ch * 2 + 1] = denom[ch];
            }
#undef PIXEL
    }
}

void sv_draw_tube_masks(const simvtp_config *c, sv_rng *rng, int B, int32_t *vis_idx,
                        int32_t *mask_idx)
{
    const int G = (c->height / c->patch) * (c->width / c->patch), gt = c->frames / c->tubelet;
    const int nm = (int)((double)c->video_mask_ratio * (double)G), nv = G - nm;
    int perm[G];
    uint8_t masked[G];
    for (int b = 0; b < B; b++) {
        for (int i = 0; i < G; i++) perm[i] = i;
        for (int i = G - 1; i > 0; i--) {
            int j = (int)sv_rng_below(rng, (uint32_t)(i + 1));
            int tmp = perm[i]; perm[i] = perm[j]; perm[j] = tmp;
        }
        memset(masked, 0, (size_t)G);
        for (int i = 0; i < nm; i++) masked[perm[i]] = 1;
        int32_t *vi = vis_idx + (size_t)b * gt * nv, *mi = mask_idx + (size_t)b * gt * nm;
        for (int s = 0; s < gt; s++)
            for (int g = 0; g < G; g++) {
                if (masked[g]) *mi++ = s * G + g;
                else *vi++ = s * G + g;
            }
    }
}

static int is_special(int32_t id)
{
    return id == SV_TOKEN_PAD || (id >= SV_TOKEN_UNK && id <= SV_TOKEN_MASK);
}

int sv_draw_text_masks(const simvtp_config *c, sv_rng *rng, const simvtp_batch *b, int L,
                       int32_t *text_in, int32_t *labels, float ratio)
{
    (void)c;
    int count = 0;
    for (int i = 0; i < b->batch; i++)
        for (int l = 0; l < L; l++) {
            size_t o = (size_t)i * L + l;
            labels[o] = SV_IGNORE_INDEX;
            if (l >= b->lengths[i]) {
                text_in[o] = SV_TOKEN_PAD;
                continue;
            }
            int32_t id = b->tokens[(size_t)i * b->max_len + l];
            text_in[o] = id;
            if (is_special(id) || ratio <= 0.0f) continue;
            if (sv_rng_uniform(rng) < ratio) {
                text_in[o] = SV_TOKEN_MASK;
                labels[o] = id;
                count++;
            }
        }
    return count;
}

void sv_text_valid(const simvtp_batch *b, int L, uint8_t *valid)
{
    for (int i = 0; i < b->batch; i++)
        for (int l = 0; l < L; l++) valid[(size_t)i * L + l] = l < b->lengths[i];
}

int sv_text_embed_forward(const sv_backend *be, const sv_textemb *w, const simvtp_config *c,
                          sv_text_acts *t, sv_arena *a, const int32_t *ids, int B, int L,
                          sv_rng *dropout_rng)
{
    const int D = c->enc_width;
    const size_t R = (size_t)B * L;
    memset(t, 0, sizeof *t);
    t->B = B; t->L = L; t->D = D; t->ids = ids;
    t->pre = SV_AF(a, R * D);
    t->mean = SV_AF(a, R);
    t->rstd = SV_AF(a, R);
    t->ln = SV_AF(a, R * D);
    if (dropout_rng && c->text_dropout > 0.0f) {
        t->dropmask = SV_AF(a, R * D);
        t->out = SV_AF(a, R * D);
    }
    if (a->failed) return -1;
    for (size_t r = 0; r < R; r++) {
        const float *we = w->word + (size_t)ids[r] * D, *pe = w->pos + (r % L) * D;
        float *o = t->pre + r * D;
        for (int d = 0; d < D; d++) o[d] = we[d] + pe[d] + w->type[d];
    }
    be->layernorm_fwd(t->ln, t->mean, t->rstd, t->pre, w->lnw, w->lnb, (int)R, D, c->text_ln_eps);
    if (!t->dropmask) {
        t->out = t->ln;
        return 0;
    }
    const float p = c->text_dropout, keep = 1.0f / (1.0f - p);
    for (size_t i = 0; i < R * D; i++) {
        t->dropmask[i] = sv_rng_uniform(dropout_rng) < p ? 0.0f : keep;
        t->out[i] = t->ln[i] * t->dropmask[i];
    }
    return 0;
}

int sv_text_embed_backward(const sv_backend *be, const sv_textemb *w, sv_textemb *g,
                           const sv_text_acts *t, const float *dout)
{
    const int D = t->D, L = t->L;
    const size_t R = (size_t)t->B * L;
    sv_arena a = {0};
    float *dl = SV_AF(&a, R * D), *dpre = SV_AF(&a, R * D);
    if (a.failed) { sv_arena_free(&a); return -1; }
    for (size_t i = 0; i < R * D; i++) dl[i] = t->dropmask ? dout[i] * t->dropmask[i] : dout[i];
    be->layernorm_bwd(dpre, g->lnw, g->lnb, dl, t->pre, w->lnw, t->mean, t->rstd, (int)R, D);
    for (size_t r = 0; r < R; r++) {
        float *gw = g->word + (size_t)t->ids[r] * D, *gp = g->pos + (r % L) * D;
        const float *d = dpre + r * D;
        for (int k = 0; k < D; k++) {
            gw[k] += d[k];
            gp[k] += d[k];
            g->type[k] += d[k];
        }
    }
    sv_arena_free(&a);
    return 0;
}

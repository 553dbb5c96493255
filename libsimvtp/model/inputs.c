/* model/inputs.c — see inputs.h. */
#include <math.h>
#include <string.h>

#include "model/inputs.h"

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
                          sv_text_acts *t, sv_arena *a, sv_arena *h, const int32_t *ids, int B,
                          int L, sv_rng *dropout_rng)
{
    const int D = c->enc_width;
    const size_t R = (size_t)B * L;
    memset(t, 0, sizeof *t);
    t->B = B; t->L = L; t->D = D; t->ids = ids;
    int32_t *pos_h = SV_AI(h, R);
    if (h->failed) return -1;
    for (size_t r = 0; r < R; r++) pos_h[r] = (int32_t)(r % L);
    const int32_t *ids_d = SV_UPI(a, ids, R), *pos_d = SV_UPI(a, pos_h, R);
    const int32_t *zeros = SV_AI(a, R); /* every row takes token type 0 */
    t->pre = SV_AFR(a, R * D); /* raw: overwritten by the ops below */
    t->mean = SV_AFR(a, R);
    t->rstd = SV_AFR(a, R);
    t->ln = SV_AFR(a, R * D);
    float *mask_h = NULL;
    if (dropout_rng && c->text_dropout > 0.0f) {
        mask_h = SV_AF(h, R * D);
        t->dropmask_host = mask_h;
        t->dropmask = SV_AFR(a, R * D);
        t->out = SV_AFR(a, R * D);
    }
    if (a->failed || h->failed) return -1;
    /* pre = (word[id] + pos[l]) + type[0], added in that order */
    be->rows_copy(t->pre, NULL, w->word, ids_d, (int)R, D);
    be->rows_add(t->pre, NULL, w->pos, pos_d, (int)R, D);
    be->rows_add(t->pre, NULL, w->type, zeros, (int)R, D);
    be->layernorm_fwd(t->ln, t->mean, t->rstd, t->pre, w->lnw, w->lnb, (int)R, D, c->text_ln_eps);
    if (!mask_h) {
        t->out = t->ln;
        return 0;
    }
    const float p = c->text_dropout, keep = 1.0f / (1.0f - p);
    for (size_t i = 0; i < R * D; i++) mask_h[i] = sv_rng_uniform(dropout_rng) < p ? 0.0f : keep;
    be->memcpy_h2d(t->dropmask, mask_h, R * D * sizeof(float));
    be->mul(t->out, t->ln, t->dropmask, R * D);
    return 0;
}

int sv_seg_by_key(sv_arena *h, const int32_t *key, int n, int nkeys, sv_segments *s)
{
    memset(s, 0, sizeof *s);
    int32_t *count = SV_AI(h, (size_t)nkeys + 1);
    s->rows = SV_AI(h, n > 0 ? n : 1);
    if (h->failed) return -1;
    for (int i = 0; i < n; i++) count[key[i] + 1]++;
    int nseg = 0;
    for (int k = 0; k < nkeys; k++) nseg += count[k + 1] > 0;
    s->dst = SV_AI(h, nseg > 0 ? nseg : 1);
    s->off = SV_AI(h, (size_t)nseg + 1);
    if (h->failed) return -1;
    for (int k = 0; k < nkeys; k++) count[k + 1] += count[k]; /* count[k] = start of key k */
    int si = 0;
    for (int k = 0; k < nkeys; k++)
        if (count[k + 1] > count[k]) {
            s->dst[si] = k;
            s->off[si++] = count[k];
        }
    s->off[nseg] = n;
    for (int i = 0; i < n; i++) s->rows[count[key[i]]++] = i; /* stable: rows ascend per key */
    s->n = nseg;
    return 0;
}

int sv_seg_add(const sv_backend *be, sv_arena *a, const sv_segments *s, float *dst,
               const float *src, int C)
{
    if (s->n == 0) return 0;
    int32_t *dst_d = SV_UPI(a, s->dst, s->n), *off_d = SV_UPI(a, s->off, (size_t)s->n + 1);
    int32_t *rows_d = SV_UPI(a, s->rows, s->off[s->n]);
    if (a->failed) return -1;
    be->rows_add_seg(dst, dst_d, off_d, rows_d, s->n, src, C);
    return 0;
}

int sv_text_embed_backward(const sv_backend *be, const sv_textemb *w, sv_textemb *g,
                           const sv_text_acts *t, const float *dout)
{
    const int D = t->D, L = t->L;
    const size_t R = (size_t)t->B * L;
    sv_arena a = {.be = be}, h = {0};
    float *dl = SV_AFR(&a, R * D), *dpre = SV_AF(&a, R * D); /* dl is overwritten */
    int32_t *lpos = SV_AI(&h, R);
    int rc = -1;
    if (a.failed || h.failed) goto out;
    if (t->dropmask) be->mul(dl, dout, t->dropmask, R * D);
    else be->copy(dl, dout, R * D * sizeof(float));
    be->layernorm_bwd(dpre, g->lnw, g->lnb, dl, t->pre, w->lnw, t->mean, t->rstd, (int)R, D);
    /* Each table row gathers its rows' gradients in row order (as the CPU
     * reference always did): word rows by token id, position rows by l, the
     * one type row from every row. */
    for (size_t r = 0; r < R; r++) lpos[r] = (int32_t)(r % L);
    sv_segments sw, sp;
    const int32_t zero = 0, offs[2] = {0, (int32_t)R};
    int vocab = 0;
    for (size_t r = 0; r < R; r++) if (t->ids[r] + 1 > vocab) vocab = t->ids[r] + 1;
    if (sv_seg_by_key(&h, t->ids, (int)R, vocab, &sw) || sv_seg_by_key(&h, lpos, (int)R, L, &sp))
        goto out;
    if (sv_seg_add(be, &a, &sw, g->word, dpre, D) || sv_seg_add(be, &a, &sp, g->pos, dpre, D))
        goto out;
    /* the type segment: all rows in order (rows NULL means k itself) */
    int32_t *zd = SV_UPI(&a, &zero, 1), *od = SV_UPI(&a, offs, 2);
    if (a.failed) goto out;
    be->rows_add_seg(g->type, zd, od, NULL, 1, dpre, D);
    rc = 0;
out:
    sv_arena_free(&a);
    sv_arena_free(&h);
    return rc;
}

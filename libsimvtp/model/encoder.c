/* model/encoder.c — pre-LN transformer blocks with q/v biases, key padding
 * mask and optional per-sample drop path; forward and backward. */
#include <string.h>

#include "core/status_internal.h"
#include "model/encoder.h"

int sv_enc_pass_init(sv_enc_pass *p, sv_arena *a, int B, int N, int C, int H, int M, int depth,
                     float eps, int has_norm)
{
    memset(p, 0, sizeof *p);
    p->B = B; p->N = N; p->C = C; p->H = H; p->M = M; p->depth = depth;
    p->eps = eps;
    p->has_norm = has_norm;
    const sv_backend *be = a->be ? a->be : &sv_backend_cpu;
    size_t R = (size_t)B * N, L = (size_t)depth;
    p->att_stride = be->attention_saved(B, N, H, C / H);
    p->res = SV_AF(a, (L + 1) * R * C);
    p->ln1 = SV_AF(a, L * R * C);
    p->ln1_mean = SV_AF(a, L * R);
    p->ln1_rstd = SV_AF(a, L * R);
    p->qkv = SV_AF(a, L * R * 3 * C);
    p->att = SV_AF(a, L * p->att_stride);
    p->atty = SV_AF(a, L * R * C);
    p->x1 = SV_AF(a, L * R * C);
    p->ln2 = SV_AF(a, L * R * C);
    p->ln2_mean = SV_AF(a, L * R);
    p->ln2_rstd = SV_AF(a, L * R);
    p->h = SV_AF(a, L * R * M);
    p->g = SV_AF(a, L * R * M);
    p->bias3 = SV_AF(a, L * 3 * C);
    if (has_norm) {
        p->out = SV_AF(a, R * C);
        p->fn_mean = SV_AF(a, R);
        p->fn_rstd = SV_AF(a, R);
    } else {
        p->out = p->res + L * R * C;
    }
    if (a->failed)
        return sv_fail(SIMVTP_ERR_NOMEM, "out of memory for encoder activations (%d x %d tokens, width %d, depth %d)",
                       B, N, C, depth);
    return SIMVTP_OK;
}

int sv_enc_forward(const sv_backend *be, sv_enc_pass *p, const sv_block *blk, const float *norm_w,
                   const float *norm_b, const float *x)
{
    const int B = p->B, N = p->N, C = p->C, H = p->H, M = p->M, R = B * N;
    const size_t RC = (size_t)R * C, RM = (size_t)R * M;
    be->copy(p->res, x, RC * sizeof(float));
    for (int l = 0; l < p->depth; l++) {
        const sv_block *w = &blk[l];
        float *xin = p->res + l * RC, *xout = p->res + (l + 1) * RC;
        float *ln1 = p->ln1 + l * RC, *qkv = p->qkv + l * RC * 3, *atty = p->atty + l * RC;
        float *att = p->att + (size_t)l * p->att_stride, *x1 = p->x1 + l * RC;
        float *ln2 = p->ln2 + l * RC, *h = p->h + l * RM, *g = p->g + l * RM;
        float *bias3 = p->bias3 + (size_t)l * 3 * C;
        const float *dpa = p->droppath ? p->droppath + (size_t)l * 2 * B : NULL;
        const float *dpm = p->droppath ? dpa + B : NULL;

        be->copy(bias3, w->qb, C * sizeof(float)); /* [q_bias, 0, v_bias]; the middle stays zero */
        be->copy(bias3 + 2 * C, w->vb, C * sizeof(float));

        be->layernorm_fwd(ln1, p->ln1_mean + (size_t)l * R, p->ln1_rstd + (size_t)l * R, xin,
                          w->n1w, w->n1b, R, C, p->eps);
        be->matmul_fwd(qkv, ln1, w->qkvw, bias3, R, C, 3 * C);
        if (be->attention_fwd(atty, att, qkv, p->keyvalid, B, N, H, C / H) != 0)
            return sv_fail(SIMVTP_ERR_NOMEM, "out of memory in attention (N=%d)", N);
        be->matmul_fwd(x1, atty, w->projw, w->projb, R, C, C);
        be->residual(x1, xin, dpa, B, N, C);
        be->layernorm_fwd(ln2, p->ln2_mean + (size_t)l * R, p->ln2_rstd + (size_t)l * R, x1,
                          w->n2w, w->n2b, R, C, p->eps);
        be->matmul_fwd(h, ln2, w->fc1w, w->fc1b, R, C, M);
        be->gelu_fwd(g, h, RM);
        be->matmul_fwd(xout, g, w->fc2w, w->fc2b, R, M, C);
        be->residual(xout, x1, dpm, B, N, C);
    }
    if (p->has_norm)
        be->layernorm_fwd(p->out, p->fn_mean, p->fn_rstd, p->res + p->depth * RC, norm_w, norm_b,
                          R, C, p->eps);
    return SIMVTP_OK;
}

int sv_enc_backward(const sv_backend *be, sv_enc_pass *p, const sv_block *blk,
                    const float *norm_w, sv_block *gblk, float *gnorm_w, float *gnorm_b,
                    const float *dout, float *dx)
{
    const int B = p->B, N = p->N, C = p->C, H = p->H, M = p->M, R = B * N;
    const size_t RC = (size_t)R * C, RM = (size_t)R * M;
    sv_arena a = {.be = be};
    float *dcur = SV_AF(&a, RC);   /* gradient w.r.t. the current residual stream */
    float *dbr = SV_AF(&a, RC);    /* gradient w.r.t. a residual branch output    */
    float *dln = SV_AF(&a, RC);
    float *datty = SV_AF(&a, RC);
    float *dg = SV_AF(&a, RM);
    float *dh = SV_AF(&a, RM);
    float *dqkv = SV_AF(&a, RC * 3);
    float *db3 = SV_AF(&a, 3 * (size_t)C);
    if (a.failed) {
        sv_arena_free(&a);
        return sv_fail(SIMVTP_ERR_NOMEM, "out of memory for encoder backward buffers");
    }
    if (p->has_norm)
        be->layernorm_bwd(dcur, gnorm_w, gnorm_b, dout, p->res + p->depth * RC, norm_w,
                          p->fn_mean, p->fn_rstd, R, C);
    else
        be->copy(dcur, dout, RC * sizeof(float));

    int rc = SIMVTP_OK;
    for (int l = p->depth - 1; l >= 0; l--) {
        const sv_block *w = &blk[l];
        sv_block *gw = &gblk[l];
        float *xin = p->res + l * RC;
        float *ln1 = p->ln1 + l * RC, *qkv = p->qkv + l * RC * 3, *atty = p->atty + l * RC;
        float *att = p->att + (size_t)l * p->att_stride, *x1 = p->x1 + l * RC;
        float *ln2 = p->ln2 + l * RC, *h = p->h + l * RM, *g = p->g + l * RM;
        const float *dpa = p->droppath ? p->droppath + (size_t)l * 2 * B : NULL;
        const float *dpm = p->droppath ? dpa + B : NULL;

        /* xout = x1 + s_m * fc2(gelu(fc1(ln2(x1)))) ; dcur holds d xout and becomes d x1 */
        be->scale_rows(dbr, dcur, dpm, B, N, C);
        be->zero(dg, RM * sizeof(float));
        be->matmul_bwd(dg, gw->fc2w, gw->fc2b, dbr, g, w->fc2w, R, M, C);
        be->zero(dh, RM * sizeof(float));
        be->gelu_bwd(dh, h, dg, RM);
        be->zero(dln, RC * sizeof(float));
        be->matmul_bwd(dln, gw->fc1w, gw->fc1b, dh, ln2, w->fc1w, R, C, M);
        be->layernorm_bwd(dcur, gw->n2w, gw->n2b, dln, x1, w->n2w,
                          p->ln2_mean + (size_t)l * R, p->ln2_rstd + (size_t)l * R, R, C);

        /* x1 = xin + s_a * proj(attn(qkv(ln1(xin)))) ; dcur becomes d xin */
        be->scale_rows(dbr, dcur, dpa, B, N, C);
        be->zero(datty, RC * sizeof(float));
        be->matmul_bwd(datty, gw->projw, gw->projb, dbr, atty, w->projw, R, C, C);
        be->zero(dqkv, RC * 3 * sizeof(float));
        if (be->attention_bwd(dqkv, datty, qkv, atty, att, p->keyvalid, B, N, H, C / H) != 0) {
            rc = sv_fail(SIMVTP_ERR_NOMEM, "out of memory in attention backward (N=%d)", N);
            break;
        }
        be->zero(dln, RC * sizeof(float));
        be->zero(db3, 3 * (size_t)C * sizeof(float));
        be->matmul_bwd(dln, gw->qkvw, db3, dqkv, ln1, w->qkvw, R, C, 3 * C);
        be->add(gw->qb, db3, C);
        be->add(gw->vb, db3 + 2 * C, C);
        be->layernorm_bwd(dcur, gw->n1w, gw->n1b, dln, xin, w->n1w,
                          p->ln1_mean + (size_t)l * R, p->ln1_rstd + (size_t)l * R, R, C);
    }
    if (rc == SIMVTP_OK) be->add(dx, dcur, RC);
    sv_arena_free(&a);
    return rc;
}

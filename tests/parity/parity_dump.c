/* parity_dump.c — runs libsimvtp on a small config and writes an SVTPDBG1
 * dump (initial weights; per step: inputs, the random decisions the library
 * drew, losses; step-0 gradients; final weights after AdamW) for
 * simvtp_ref.py to replay in PyTorch.  Usage: parity_dump pretrain|retrieval OUT */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "simvtp/simvtp.h"
#include "core/rng.h"
#include "model/model.h"

#define NSTEPS 5
enum { DT_F32 = 0, DT_I32 = 1, DT_U8 = 2 };

static FILE *out;

static void rec(const char *name, int dtype, const void *data, int ndim, const int64_t *dims)
{
    int32_t nl = (int32_t)strlen(name), dt = dtype, nd = ndim;
    size_t n = 1, es = dtype == DT_U8 ? 1 : 4;
    for (int i = 0; i < ndim; i++) n *= (size_t)dims[i];
    fwrite(&nl, 4, 1, out);
    fwrite(name, 1, (size_t)nl, out);
    fwrite(&dt, 4, 1, out);
    fwrite(&nd, 4, 1, out);
    fwrite(dims, 8, (size_t)ndim, out);
    fwrite(data, es, n, out);
}

static void rec1(const char *name, int dtype, const void *data, int64_t n)
{
    rec(name, dtype, data, 1, &n);
}

static void dump_tensors(simvtp_model *m, const char *prefix, int grads)
{
    char name[256];
    for (int i = 0; i < m->ntensors; i++) {
        const sv_tensor *t = &m->tensors[i];
        snprintf(name, sizeof name, "%s%s", prefix, t->name);
        rec(name, DT_F32, (grads ? m->grads : m->params) + t->offset, t->ndim, t->shape);
    }
}

static void make_batch(sv_rng *r, const simvtp_config *c, int B, int L, uint8_t *frames,
                       int32_t *tok, int32_t *len)
{
    size_t fs = (size_t)c->frames * c->height * c->width * 3;
    for (size_t i = 0; i < B * fs; i++) frames[i] = (uint8_t)sv_rng_below(r, 256);
    const int lens[3] = {L, L - 2, L - 3};
    for (int b = 0; b < B; b++) {
        len[b] = lens[b % 3];
        for (int l = 0; l < L; l++) {
            int32_t id = 0;
            if (l == 0) id = 101;
            else if (l == len[b] - 1) id = 102;
            else if (l < len[b]) id = 104 + (int32_t)sv_rng_below(r, (uint32_t)(c->vocab_size - 104));
            tok[b * L + l] = id;
        }
    }
}

int main(int argc, char **argv)
{
    if (argc != 3 || (strcmp(argv[1], "pretrain") && strcmp(argv[1], "retrieval"))) {
        fprintf(stderr, "usage: %s pretrain|retrieval OUT.dump\n", argv[0]);
        return 2;
    }
    const int retrieval = !strcmp(argv[1], "retrieval");
    simvtp_config c;
    simvtp_config_preset("tiny", &c);
    c.frames = 4; c.height = 48; c.width = 48; /* grid 3x3, N = 18 */
    c.video_mask_ratio = 0.75f;               /* 6 of 9 cells masked */
    c.enc_width = 32; c.enc_depth = 2; c.enc_heads = 4; c.enc_mlp = 64;
    c.dec_width = 16; c.dec_depth = 1; c.dec_heads = 2; c.dec_mlp = 32;
    c.vocab_size = 200; c.max_text_len = 16;
    c.drop_path = 0.3f;
    simvtp_model *pre = NULL, *m = NULL;
    simvtp_model_params mp;
    simvtp_model_default_params(&mp);
    mp.seed = 7;
    if (simvtp_model_create(&c, &mp, &pre)) { fprintf(stderr, "%s\n", simvtp_last_error()); return 1; }
    if (retrieval) {
        if (simvtp_model_create_retrieval(pre, &mp, &m)) { fprintf(stderr, "%s\n", simvtp_last_error()); return 1; }
    } else {
        m = pre;
    }
    /* Perturb every tensor so that no LayerNorm is the identity and no bias is zero. */
    sv_rng r;
    sv_rng_seed(&r, 1234);
    for (size_t i = 0; i < m->nparams; i++) m->params[i] += 0.05f * (float)sv_rng_normal(&r);

    out = fopen(argv[2], "wb");
    if (!out) { perror(argv[2]); return 1; }
    fwrite("SVTPDBG1", 1, 8, out);
    int32_t version = 1;
    fwrite(&version, 4, 1, out);
    int32_t ci[17] = {c.frames, c.height, c.width, c.tubelet, c.patch, c.enc_width, c.enc_depth,
                      c.enc_heads, c.enc_mlp, c.dec_width, c.dec_depth, c.dec_heads, c.dec_mlp,
                      c.vocab_size, c.max_text_len, c.type_vocab, c.vtc_pool_exclude_pad};
    float cf[7] = {c.video_mask_ratio, c.text_mask_ratio, c.ln_eps, c.text_ln_eps,
                   c.text_dropout, c.vtc_temperature, c.drop_path};
    int32_t kind = retrieval, nsteps = NSTEPS;
    rec1("config_i", DT_I32, ci, 17);
    rec1("config_f", DT_F32, cf, 7);
    rec1("kind", DT_I32, &kind, 1);
    dump_tensors(m, "param/", 0);

    simvtp_optimizer_params op;
    simvtp_optimizer_default_params(&op);
    op.lr = 2e-3f; op.min_lr = 1e-4f; op.warmup_steps = 2; op.total_steps = NSTEPS;
    op.seed = 99;
    if (retrieval) op.beta2 = 0.999f;
    simvtp_optimizer *o;
    if (simvtp_optimizer_create(m, &op, &o)) { fprintf(stderr, "%s\n", simvtp_last_error()); return 1; }
    float adamw[5] = {op.beta1, op.beta2, op.eps, op.weight_decay, 0}, lrs[NSTEPS];
    for (int k = 0; k < NSTEPS; k++) lrs[k] = simvtp_optimizer_lr_at(o, k);
    rec1("nsteps", DT_I32, &nsteps, 1);
    rec1("adamw", DT_F32, adamw, 5);
    rec1("lr", DT_F32, lrs, NSTEPS);

    const int B = 3, L = 7, D = c.enc_width;
    const size_t fs = (size_t)c.frames * c.height * c.width * 3;
    uint8_t *frames = malloc(B * fs);
    int32_t tok[3 * 7], len[3];
    sv_rng data_rng, seed_rng;
    sv_rng_seed(&data_rng, 42);
    sv_rng_seed(&seed_rng, op.seed); /* the same stream simvtp_train_step draws from */
    char name[256];
    for (int k = 0; k < NSTEPS; k++) {
        make_batch(&data_rng, &c, B, L, frames, tok, len);
        simvtp_batch b = {sizeof b, B, frames, L, tok, len};
        const uint64_t seed = sv_rng_u64(&seed_rng);
        sv_pt_trace t;
        memset(&t, 0, sizeof t);
        int rc = retrieval ? sv_retrieval_run(m, &b, seed, 1, 0, 0, NULL, &t)
                           : sv_pretrain_run(m, &b, seed, 1, 0, 0, NULL, &t);
        if (rc) { fprintf(stderr, "%s\n", simvtp_last_error()); return 1; }
        if (k == 0) {
            simvtp_losses l0 = {sizeof l0};
            simvtp_model_zero_grad(m);
            if (simvtp_model_forward_backward(m, &b, seed, 1.0f, &l0)) { fprintf(stderr, "%s\n", simvtp_last_error()); return 1; }
            dump_tensors(m, "step0/grad/", 1);
            simvtp_model_zero_grad(m);
        }
        simvtp_losses l = {sizeof l};
        if (simvtp_train_step(o, &b, &l, NULL)) { fprintf(stderr, "%s\n", simvtp_last_error()); return 1; }
        float lv[5] = {l.total, l.video_mse, l.mlm, l.vtc, l.vtm};
        int64_t dfr[5] = {B, c.frames, c.height, c.width, 3}, dt[2] = {B, L}, dm[3] = {B, L, D};
#define P(s) (snprintf(name, sizeof name, "step%d/%s", k, s), name)
        rec(P("frames"), DT_U8, frames, 5, dfr);
        rec(P("tokens"), DT_I32, tok, 2, dt);
        rec1(P("lengths"), DT_I32, len, B);
        rec(P("text_dropmask"), DT_F32, t.dropmask, 3, dm);
        rec1(P("losses"), DT_F32, lv, 5);
        if (!retrieval) {
            int64_t dv[2] = {B, t.Nv}, dmk[2] = {B, t.Nm};
            rec(P("vis_idx"), DT_I32, t.vis_idx, 2, dv);
            rec(P("mask_idx"), DT_I32, t.mask_idx, 2, dmk);
            rec(P("text_input"), DT_I32, t.text_in, 2, dt);
            rec(P("text_labels"), DT_I32, t.labels, 2, dt);
            rec1(P("vtm_neg"), DT_I32, t.neg, B);
        } else {
            int64_t dd[3] = {c.enc_depth, 2, B};
            rec(P("droppath_video"), DT_F32, t.droppath_video, 3, dd);
            rec(P("droppath_text"), DT_F32, t.droppath_text, 3, dd);
        }
#undef P
        sv_trace_free(&t);
    }
    dump_tensors(m, "final/", 0);
    if (fclose(out) != 0) { perror(argv[2]); return 1; }
    simvtp_optimizer_free(o);
    if (m != pre) simvtp_model_free(m);
    simvtp_model_free(pre);
    free(frames);
    return 0;
}

/* test_model.c — whole-model checks on small configs: finite-difference
 * gradients of the full pretraining and fine-tuning losses, save/load
 * bit-exactness, bit-exact resume (with and without gradient accumulation),
 * embeddings, reconstruction, the learning-rate schedule, the non-finite
 * guard, reading version-1 training-state files, and product inputs kept in
 * a backend's 2-byte type. */
#include <check.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "simvtp/simvtp.h"
#include "core/rng.h"
#include "model/model.h"
#include "model/encoder.h"
#include "core/config_internal.h"
#include "core/fileio.h"
#include "train/optim_internal.h"

#define B 3
#define L 7

static simvtp_config small_config(void)
{
    simvtp_config c;
    simvtp_config_preset("tiny", &c);
    c.frames = 4; c.height = 48; c.width = 48;
    c.video_mask_ratio = 0.75f;
    c.enc_width = 32; c.enc_depth = 2; c.enc_heads = 4; c.enc_mlp = 64;
    c.dec_width = 16; c.dec_depth = 1; c.dec_heads = 2; c.dec_mlp = 32;
    c.vocab_size = 160; c.max_text_len = 16;
    c.drop_path = 0.3f;
    return c;
}

typedef struct fixture {
    simvtp_config c;
    uint8_t *frames;
    int32_t tok[B * L], len[B];
    simvtp_batch b;
} fixture;

static void fixture_init(fixture *f, uint64_t seed)
{
    f->c = small_config();
    size_t fs = (size_t)f->c.frames * f->c.height * f->c.width * 3;
    f->frames = malloc(B * fs);
    sv_rng r;
    sv_rng_seed(&r, seed);
    for (size_t i = 0; i < B * fs; i++) f->frames[i] = (uint8_t)sv_rng_below(&r, 256);
    const int lens[B] = {7, 5, 4};
    for (int b = 0; b < B; b++) {
        f->len[b] = lens[b];
        for (int l = 0; l < L; l++)
            f->tok[b * L + l] = l == 0 ? 101 : l == lens[b] - 1 ? 102 : l < lens[b] ? 104 + (int)sv_rng_below(&r, 50) : 0;
    }
    simvtp_batch bt = {sizeof bt, B, f->frames, L, f->tok, f->len};
    f->b = bt;
}

static simvtp_model *make_model(const simvtp_config *c, uint64_t seed, int retrieval)
{
    simvtp_model_params mp;
    simvtp_model_default_params(&mp);
    mp.seed = seed;
    simvtp_model *m, *r;
    ck_assert_int_eq(simvtp_model_create(c, &mp, &m), SIMVTP_OK);
    sv_rng rng;
    sv_rng_seed(&rng, seed + 1);
    for (size_t i = 0; i < m->nparams; i++) m->params[i] += 0.05f * (float)sv_rng_normal(&rng);
    if (!retrieval) return m;
    ck_assert_int_eq(simvtp_model_create_retrieval(m, &mp, &r), SIMVTP_OK);
    simvtp_model_free(m);
    return r;
}

static double loss_at(simvtp_model *m, const simvtp_batch *b, uint64_t seed)
{
    simvtp_losses l = {sizeof l};
    int rc = m->kind == SIMVTP_MODEL_PRETRAIN ? sv_pretrain_run(m, b, seed, 1, 0, 0, &l, NULL)
                                              : sv_retrieval_run(m, b, seed, 1, 0, 0, &l, NULL);
    ck_assert_int_eq(rc, SIMVTP_OK);
    return l.total;
}

/* Directional finite differences, one random unit direction per tensor. */
static void fd_check(int retrieval)
{
    fixture f;
    fixture_init(&f, 5);
    simvtp_model *m = make_model(&f.c, 11, retrieval);
    const uint64_t seed = 77;
    simvtp_losses l = {sizeof l};
    simvtp_model_zero_grad(m);
    ck_assert_int_eq(simvtp_model_forward_backward(m, &f.b, seed, 1.0f, &l), SIMVTP_OK);
    ck_assert(fabs(l.total - loss_at(m, &f.b, seed)) < 1e-6 * fabs(l.total) + 1e-7);
    sv_rng r;
    sv_rng_seed(&r, 3);
    int checked = 0;
    double worst = 0;
    const char *worst_name = "";
    for (int i = 0; i < m->ntensors; i++) {
        const sv_tensor *t = &m->tensors[i];
        float *w = m->params + t->offset, *g = m->grads + t->offset;
        float *d = malloc(t->numel * sizeof(float)), *w0 = malloc(t->numel * sizeof(float));
        double nrm = 0, an = 0;
        for (size_t k = 0; k < t->numel; k++) { d[k] = (float)sv_rng_normal(&r); nrm += (double)d[k] * d[k]; }
        nrm = sqrt(nrm);
        for (size_t k = 0; k < t->numel; k++) { d[k] /= (float)nrm; an += (double)d[k] * g[k]; }
        memcpy(w0, w, t->numel * sizeof(float));
        const float eps = 3e-2f;
        for (size_t k = 0; k < t->numel; k++) w[k] = w0[k] + eps * d[k];
        double lp = loss_at(m, &f.b, seed);
        for (size_t k = 0; k < t->numel; k++) w[k] = w0[k] - eps * d[k];
        double lm = loss_at(m, &f.b, seed);
        memcpy(w, w0, t->numel * sizeof(float));
        double fd = (lp - lm) / (2.0 * eps);
        double err = fabs(fd - an) / (fabs(an) + fabs(fd) + 2e-3);
        if (err > worst) { worst = err; worst_name = t->name; }
        ck_assert_msg(err < 0.03, "%s: analytic %.6g vs finite difference %.6g (err %.3g)", t->name, an, fd, err);
        checked++;
        free(d);
        free(w0);
    }
    printf("fd_check(%s): %d tensors, worst normalized error %.3g (%s)\n",
           retrieval ? "retrieval" : "pretrain", checked, worst, worst_name);
    ck_assert_int_eq(checked, m->ntensors);
    simvtp_model_free(m);
    free(f.frames);
}

/* Activation checkpointing (SIMVTP_MODEL_OPT_CHECKPOINT_ACTIVATIONS): the
 * option's checks, then two accumulated forward_backward calls with and
 * without it give the same losses and gradients bit for bit (drop path
 * active: the recomputation must reuse the forward's decisions), in both
 * modes (whole blocks, selective). */
static void ckpt_check(int retrieval, int mode)
{
    fixture f;
    fixture_init(&f, 9);
    simvtp_model *a = make_model(&f.c, 21, retrieval), *b = make_model(&f.c, 21, retrieval);
    const simvtp_model_option K = SIMVTP_MODEL_OPT_CHECKPOINT_ACTIVATIONS;
    int64_t v = -1;
    ck_assert_int_eq(simvtp_model_get_option(b, K, &v), SIMVTP_OK);
    ck_assert_int_eq((int)v, SIMVTP_CHECKPOINT_OFF);
    ck_assert_int_eq(simvtp_model_set_option(b, K, 3), SIMVTP_ERR_INVALID_ARG);
    ck_assert_int_eq(simvtp_model_set_option(b, K, -1), SIMVTP_ERR_INVALID_ARG);
    ck_assert_int_eq(simvtp_model_set_option(b, (simvtp_model_option)99, 1), SIMVTP_ERR_INVALID_ARG);
    ck_assert_int_eq(simvtp_model_get_option(b, (simvtp_model_option)99, &v), SIMVTP_ERR_INVALID_ARG);
    ck_assert_int_eq(simvtp_model_set_option(NULL, K, 1), SIMVTP_ERR_INVALID_ARG);
    ck_assert_int_eq(simvtp_model_get_option(b, K, NULL), SIMVTP_ERR_INVALID_ARG);
    ck_assert_int_eq(simvtp_model_get_option(b, K, &v), SIMVTP_OK);
    ck_assert_int_eq((int)v, SIMVTP_CHECKPOINT_OFF); /* the refused values changed nothing */
    ck_assert_int_eq(simvtp_model_set_option(b, K, mode), SIMVTP_OK);
    ck_assert_int_eq(simvtp_model_get_option(b, K, &v), SIMVTP_OK);
    ck_assert_int_eq((int)v, mode);
    simvtp_model_zero_grad(a);
    simvtp_model_zero_grad(b);
    for (int k = 0; k < 2; k++) {
        simvtp_losses la = {sizeof la}, lb = {sizeof lb};
        ck_assert_int_eq(simvtp_model_forward_backward(a, &f.b, 40 + k, 1.0f - 0.5f * k, &la), SIMVTP_OK);
        ck_assert_int_eq(simvtp_model_forward_backward(b, &f.b, 40 + k, 1.0f - 0.5f * k, &lb), SIMVTP_OK);
        ck_assert_msg(memcmp(&la, &lb, sizeof la) == 0, "losses differ with checkpointing %d: %.9g vs %.9g",
                      mode, (double)la.total, (double)lb.total);
    }
    size_t diff = 0, nonzero = 0;
    for (size_t i = 0; i < a->nparams; i++) {
        diff += memcmp(&a->grads[i], &b->grads[i], sizeof(float)) != 0;
        nonzero += a->grads[i] != 0.0f;
    }
    ck_assert_msg(diff == 0, "%zu of %zu gradients differ with checkpointing %d", diff, a->nparams, mode);
    ck_assert_msg(nonzero > a->nparams / 2, "the backward filled only %zu gradients", nonzero);
    simvtp_model_free(a);
    simvtp_model_free(b);
    free(f.frames);
}

START_TEST(test_ckpt_pretrain) { ckpt_check(0, SIMVTP_CHECKPOINT_BLOCKS); }
END_TEST

START_TEST(test_ckpt_retrieval) { ckpt_check(1, SIMVTP_CHECKPOINT_BLOCKS); }
END_TEST

START_TEST(test_ckpt_selective_pretrain) { ckpt_check(0, SIMVTP_CHECKPOINT_SELECTIVE); }
END_TEST

START_TEST(test_ckpt_selective_retrieval) { ckpt_check(1, SIMVTP_CHECKPOINT_SELECTIVE); }
END_TEST

/* The memory it saves: a 6-block pass keeps its inputs and one block's
 * activations instead of six blocks' (host arenas count their bytes);
 * selectively, one slice of ln1, ln2 and g instead of six: with C = 32 and
 * M = 128 per token, 6 x (32 + 32 + 128) floats become 1 x 192. */
START_TEST(test_ckpt_memory)
{
    sv_arena a0 = {0}, a1 = {0}, a2 = {0};
    sv_enc_pass p0, p1, p2;
    const int nb = 2, nt = 50, nc = 32, nm = 128, depth = 6;
    ck_assert_int_eq(sv_enc_pass_init(&p0, &a0, nb, nt, nc, 4, nm, depth, 1e-6f, 1, SIMVTP_CHECKPOINT_OFF),
                     SIMVTP_OK);
    ck_assert_int_eq(sv_enc_pass_init(&p1, &a1, nb, nt, nc, 4, nm, depth, 1e-6f, 1, SIMVTP_CHECKPOINT_BLOCKS),
                     SIMVTP_OK);
    ck_assert_int_eq(sv_enc_pass_init(&p2, &a2, nb, nt, nc, 4, nm, depth, 1e-6f, 1, SIMVTP_CHECKPOINT_SELECTIVE),
                     SIMVTP_OK);
    printf("checkpointing: a 6-block pass keeps %zu bytes instead of %zu (%.0f%%); selectively %zu (%.0f%%)\n",
           a1.bytes, a0.bytes, 100.0 * (double)a1.bytes / (double)a0.bytes, a2.bytes,
           100.0 * (double)a2.bytes / (double)a0.bytes);
    ck_assert_msg(a1.bytes * 3 < a0.bytes, "%zu bytes with checkpointing, %zu without", a1.bytes, a0.bytes);
    const size_t saved = (size_t)(depth - 1) * nb * nt * (2 * nc + nm) * sizeof(float);
    ck_assert_msg(a0.bytes - a2.bytes >= saved && a0.bytes - a2.bytes < saved + 4096,
                  "selective checkpointing keeps %zu bytes, %zu without: expected %zu less", a2.bytes,
                  a0.bytes, saved);
    sv_arena_free(&a0);
    sv_arena_free(&a1);
    sv_arena_free(&a2);
}
END_TEST

/* Product inputs (core/backend.h pin_bytes): two host tables stand in for
 * a backend that keeps the blocks' LayerNorm and GELU outputs (and, with
 * attention_pin, qkv) in its own type. pin2 stores them as bf16 bits (2 bytes); pin4 as floats holding the
 * same bf16 values. Both must give the same bits: that checks the encoder's
 * byte offsets, sizes and op choice for a 2-byte type on the CPU, where the
 * CUDA bf16 table (which does this for real) cannot run. */
static uint16_t to_bf16_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40); /* NaN stays NaN */
    u += 0x7fffu + ((u >> 16) & 1u);                                         /* nearest even */
    return (uint16_t)(u >> 16);
}

static float from_bf16_bits(uint16_t h)
{
    const uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static size_t pin_n(size_t n, int store16, void *dst, const float *src)
{
    for (size_t i = 0; i < n; i++) {
        const uint16_t h = to_bf16_bits(src[i]);
        if (store16) ((uint16_t *)dst)[i] = h;
        else ((float *)dst)[i] = from_bf16_bits(h);
    }
    return n;
}

static size_t pin_bytes2(void) { return 2; }
static size_t pin_bytes4(void) { return 4; }
static int g_pin_calls;

static void ln_pin2(void *out, float *mean, float *rstd, const float *inp, const float *w, const float *b,
                    int M, int C, float eps)
{
    float *t = malloc((size_t)M * C * sizeof(float));
    sv_backend_cpu.layernorm_fwd(t, mean, rstd, inp, w, b, M, C, eps);
    g_pin_calls += pin_n((size_t)M * C, 1, out, t) > 0;
    free(t);
}

static void ln_pin4(void *out, float *mean, float *rstd, const float *inp, const float *w, const float *b,
                    int M, int C, float eps)
{
    sv_backend_cpu.layernorm_fwd(out, mean, rstd, inp, w, b, M, C, eps);
    g_pin_calls += pin_n((size_t)M * C, 0, out, out) > 0;
}

static void gelu_pin2(void *out, const float *inp, size_t n)
{
    float *t = malloc(n * sizeof(float));
    sv_backend_cpu.gelu_fwd(t, inp, n);
    g_pin_calls += pin_n(n, 1, out, t) > 0;
    free(t);
}

static void gelu_pin4(void *out, const float *inp, size_t n)
{
    sv_backend_cpu.gelu_fwd(out, inp, n);
    g_pin_calls += pin_n(n, 0, out, out) > 0;
}

static float *widen(const void *inp, size_t n)
{
    float *t = calloc(n ? n : 1, sizeof(float));
    for (size_t i = 0; i < n; i++) t[i] = from_bf16_bits(((const uint16_t *)inp)[i]);
    return t;
}

static void mmf_pin2(float *out, const void *inp, const float *w, const float *bias, int M, int K, int N)
{
    float *t = widen(inp, (size_t)M * K);
    sv_backend_cpu.matmul_fwd(out, t, w, bias, M, K, N);
    free(t);
}

static void mmf_pin4(float *out, const void *inp, const float *w, const float *bias, int M, int K, int N)
{
    sv_backend_cpu.matmul_fwd(out, inp, w, bias, M, K, N);
}

static void mmb_pin2(float *dinp, float *dw, float *dbias, const float *dout, const void *inp,
                     const float *w, int M, int K, int N)
{
    float *t = widen(inp, (size_t)M * K);
    sv_backend_cpu.matmul_bwd(dinp, dw, dbias, dout, t, w, M, K, N);
    free(t);
}

static void mmb_pin4(float *dinp, float *dw, float *dbias, const float *dout, const void *inp,
                     const float *w, int M, int K, int N)
{
    sv_backend_cpu.matmul_bwd(dinp, dw, dbias, dout, inp, w, M, K, N);
}

static void mmo_pin2(void *out, const void *inp, const float *w, const float *bias, int M, int K, int N)
{
    float *t = malloc((size_t)M * N * sizeof(float));
    mmf_pin2(t, inp, w, bias, M, K, N);
    pin_n((size_t)M * N, 1, out, t);
    free(t);
}

static void mmo_pin4(void *out, const void *inp, const float *w, const float *bias, int M, int K, int N)
{
    sv_backend_cpu.matmul_fwd(out, inp, w, bias, M, K, N);
    pin_n((size_t)M * N, 0, out, out);
}

static int g_att_pin_calls;

static int attf_pin2(float *out, float *att, const void *qkv, const uint8_t *kv, int nb, int nt, int nh, int hd)
{
    float *t = widen(qkv, (size_t)nb * nt * 3 * nh * hd);
    const int rc = sv_backend_cpu.attention_fwd(out, att, t, kv, nb, nt, nh, hd);
    free(t);
    g_att_pin_calls++;
    return rc;
}

static int attf_pin4(float *out, float *att, const void *qkv, const uint8_t *kv, int nb, int nt, int nh, int hd)
{
    g_att_pin_calls++;
    return sv_backend_cpu.attention_fwd(out, att, qkv, kv, nb, nt, nh, hd);
}

static int attb_pin2(float *dqkv, const float *dout, const void *qkv, const float *out, const float *att,
                     const uint8_t *kv, int nb, int nt, int nh, int hd)
{
    float *t = widen(qkv, (size_t)nb * nt * 3 * nh * hd);
    const int rc = sv_backend_cpu.attention_bwd(dqkv, dout, t, out, att, kv, nb, nt, nh, hd);
    free(t);
    return rc;
}

static int attb_pin4(float *dqkv, const float *dout, const void *qkv, const float *out, const float *att,
                     const uint8_t *kv, int nb, int nt, int nh, int hd)
{
    return sv_backend_cpu.attention_bwd(dqkv, dout, qkv, out, att, kv, nb, nt, nh, hd);
}

/* the fc1 backward with the GELU backward folded in, composed */
static int g_gmb_calls;
static void gmb_pin(float *dinp, float *dw, float *dbias, const float *dg, const float *h, const void *inp,
                    const float *w, int M, int K, int N, int bytes)
{
    float *dh = malloc((size_t)M * N * sizeof(float));
    sv_backend_cpu.gelu_bwd(dh, h, dg, (size_t)M * N);
    (bytes == 2 ? mmb_pin2 : mmb_pin4)(dinp, dw, dbias, dh, inp, w, M, K, N);
    free(dh);
    g_gmb_calls++;
}
static void gmb_pin2(float *dinp, float *dw, float *dbias, const float *dg, const float *h, const void *inp,
                     const float *w, int M, int K, int N)
{
    gmb_pin(dinp, dw, dbias, dg, h, inp, w, M, K, N, 2);
}
static void gmb_pin4(float *dinp, float *dw, float *dbias, const float *dg, const float *h, const void *inp,
                     const float *w, int M, int K, int N)
{
    gmb_pin(dinp, dw, dbias, dg, h, inp, w, M, K, N, 4);
}

/* a drop-path branch's product backward: scale_rows, then the product */
static int g_mbr_calls;
static void mbr_pin(float *dinp, float *dw, float *dbias, const float *dout, const float *rs, int T, const void *inp,
                    int inp_pin, const float *w, int M, int K, int N, int bytes)
{
    float *t = malloc((size_t)M * N * sizeof(float));
    sv_backend_cpu.scale_rows(t, dout, rs, M / T, T, N);
    if (inp_pin) (bytes == 2 ? mmb_pin2 : mmb_pin4)(dinp, dw, dbias, t, inp, w, M, K, N);
    else sv_backend_cpu.matmul_bwd(dinp, dw, dbias, t, (const float *)inp, w, M, K, N);
    free(t);
    g_mbr_calls++;
}
static void mbr_pin2(float *dinp, float *dw, float *dbias, const float *dout, const float *rs, int T,
                     const void *inp, int inp_pin, const float *w, int M, int K, int N)
{
    mbr_pin(dinp, dw, dbias, dout, rs, T, inp, inp_pin, w, M, K, N, 2);
}
static void mbr_pin4(float *dinp, float *dw, float *dbias, const float *dout, const float *rs, int T,
                     const void *inp, int inp_pin, const float *w, int M, int K, int N)
{
    mbr_pin(dinp, dw, dbias, dout, rs, T, inp, inp_pin, w, M, K, N, 4);
}

/* the residual add and the LayerNorm after it, composed */
static int g_rln_calls;
static void rln_pin(float *y, const float *x, const float *rs, void *out, float *mean, float *rstd, const float *w,
                    const float *b, int nb, int nt, int C, float eps, int bytes)
{
    sv_backend_cpu.residual(y, x, rs, nb, nt, C);
    (bytes == 2 ? ln_pin2 : ln_pin4)(out, mean, rstd, y, w, b, nb * nt, C, eps);
    g_rln_calls++;
}
static void rln_pin2(float *y, const float *x, const float *rs, void *out, float *mean, float *rstd, const float *w,
                     const float *b, int nb, int nt, int C, float eps)
{
    rln_pin(y, x, rs, out, mean, rstd, w, b, nb, nt, C, eps, 2);
}
static void rln_pin4(float *y, const float *x, const float *rs, void *out, float *mean, float *rstd, const float *w,
                     const float *b, int nb, int nt, int C, float eps)
{
    rln_pin(y, x, rs, out, mean, rstd, w, b, nb, nt, C, eps, 4);
}

/* the fc1 output h kept in the product-input type too (h_pin): GELU from
 * it, and the fc1 backward with GELU's backward from it */
static int g_h_calls;
static void gelu_pin_h2(void *out, const void *h, size_t n)
{
    float *t = widen(h, n);
    gelu_pin2(out, t, n);
    free(t);
    g_h_calls++;
}
static void gelu_pin_h4(void *out, const void *h, size_t n)
{
    gelu_pin4(out, h, n);
    g_h_calls++;
}
static void gmb_pin_h2(float *dinp, float *dw, float *dbias, const float *dg, const void *h, const void *inp,
                       const float *w, int M, int K, int N)
{
    float *t = widen(h, (size_t)M * N);
    gmb_pin(dinp, dw, dbias, dg, t, inp, w, M, K, N, 2);
    free(t);
}
static void gmb_pin_h4(float *dinp, float *dw, float *dbias, const float *dg, const void *h, const void *inp,
                       const float *w, int M, int K, int N)
{
    gmb_pin(dinp, dw, dbias, dg, h, inp, w, M, K, N, 4);
}

/* the attention output O kept in the product-input type too (o_pin): the
 * plain attention, then O rounded; its backward from O widened */
static int g_o_calls;
static int attf_pin_o2(void *out, float *att, const void *qkv, const uint8_t *kv, int nb, int nt, int nh, int hd)
{
    const size_t n = (size_t)nb * nt * nh * hd;
    float *t = calloc(n, sizeof(float));
    const int rc = attf_pin2(t, att, qkv, kv, nb, nt, nh, hd);
    pin_n(n, 1, out, t);
    free(t);
    g_o_calls++;
    return rc;
}

static int attf_pin_o4(void *out, float *att, const void *qkv, const uint8_t *kv, int nb, int nt, int nh, int hd)
{
    const int rc = attf_pin4(out, att, qkv, kv, nb, nt, nh, hd);
    pin_n((size_t)nb * nt * nh * hd, 0, out, out);
    g_o_calls++;
    return rc;
}

static int attb_pin_o2(float *dqkv, const float *dout, const void *qkv, const void *out, const float *att,
                       const uint8_t *kv, int nb, int nt, int nh, int hd)
{
    float *t = widen(out, (size_t)nb * nt * nh * hd);
    const int rc = attb_pin2(dqkv, dout, qkv, t, att, kv, nb, nt, nh, hd);
    free(t);
    return rc;
}

static int attb_pin_o4(float *dqkv, const float *dout, const void *qkv, const void *out, const float *att,
                       const uint8_t *kv, int nb, int nt, int nh, int hd)
{
    return attb_pin4(dqkv, dout, qkv, out, att, kv, nb, nt, nh, hd);
}

static int att_pin_yes(int hd) { return hd > 0; }
static int att_pin_no(int hd) { (void)hd; return 0; }
static int h_pin_yes(void) { return 1; }

/* bytes: 2 or 4; qkv: qkv kept in that type as well (attention_pin); h:
 * the fc1 output too (h_pin); o: the attention output too (o_pin) */
static sv_backend pin_table(int bytes, int qkv, int h, int o)
{
    sv_backend t = sv_backend_cpu;
    t.pin_bytes = bytes == 2 ? pin_bytes2 : pin_bytes4;
    t.layernorm_fwd_pin = bytes == 2 ? ln_pin2 : ln_pin4;
    t.gelu_fwd_pin = bytes == 2 ? gelu_pin2 : gelu_pin4;
    t.matmul_fwd_pin = bytes == 2 ? mmf_pin2 : mmf_pin4;
    t.matmul_bwd_pin = bytes == 2 ? mmb_pin2 : mmb_pin4;
    t.gelu_matmul_bwd = bytes == 2 ? gmb_pin2 : gmb_pin4;
    t.matmul_bwd_rowscale = bytes == 2 ? mbr_pin2 : mbr_pin4;
    t.residual_layernorm_fwd_pin = bytes == 2 ? rln_pin2 : rln_pin4;
    t.attention_pin = qkv ? att_pin_yes : att_pin_no;
    t.matmul_fwd_pin_out = bytes == 2 ? mmo_pin2 : mmo_pin4;
    t.attention_fwd_pin = bytes == 2 ? attf_pin2 : attf_pin4;
    t.attention_bwd_pin = bytes == 2 ? attb_pin2 : attb_pin4;
    t.h_pin = h ? h_pin_yes : NULL;
    t.gelu_fwd_pin_h = bytes == 2 ? gelu_pin_h2 : gelu_pin_h4;
    t.gelu_matmul_bwd_pin_h = bytes == 2 ? gmb_pin_h2 : gmb_pin_h4;
    t.o_pin = o ? h_pin_yes : NULL;
    t.attention_fwd_pin_o = bytes == 2 ? attf_pin_o2 : attf_pin_o4;
    t.attention_bwd_pin_o = bytes == 2 ? attb_pin_o2 : attb_pin_o4;
    return t;
}

/* Two accumulated forward_backward calls (drop path on); losses and
 * gradients into l[2] and a copy of the gradients. */
static float *pin_run(int retrieval, const sv_backend *be, int ckpt, const fixture *f, simvtp_losses l[2])
{
    simvtp_model *m = make_model(&f->c, 21, retrieval);
    if (be) m->be = be;
    ck_assert_int_eq(simvtp_model_set_option(m, SIMVTP_MODEL_OPT_CHECKPOINT_ACTIVATIONS, ckpt), SIMVTP_OK);
    simvtp_model_zero_grad(m);
    for (int k = 0; k < 2; k++) {
        simvtp_losses z = {sizeof z};
        l[k] = z;
        ck_assert_int_eq(simvtp_model_forward_backward(m, &f->b, 40 + k, 1.0f - 0.5f * k, &l[k]), SIMVTP_OK);
    }
    float *g = malloc(m->nparams * sizeof(float));
    memcpy(g, m->grads, m->nparams * sizeof(float));
    simvtp_model_free(m);
    return g;
}

static size_t grads_differing(const float *a, const float *b, size_t n)
{
    size_t d = 0;
    for (size_t i = 0; i < n; i++) d += memcmp(&a[i], &b[i], sizeof(float)) != 0;
    return d;
}

/* The fixture with three encoder blocks (the first has drop-path rate 0,
 * so only a block after it tells its two residual branches' scales apart);
 * returns the model's parameter count. */
static size_t three_blocks(fixture *f, int retrieval)
{
    fixture_init(f, 9);
    f->c.enc_depth = 3;
    simvtp_model *probe = make_model(&f->c, 21, retrieval);
    const size_t n = probe->nparams;
    simvtp_model_free(probe);
    return n;
}

static void pin_check(int retrieval, int qkv, int hp, int o)
{
    fixture f;
    const size_t n = three_blocks(&f, retrieval);
    const sv_backend t2 = pin_table(2, qkv, hp, o), t4 = pin_table(4, qkv, hp, o);
    simvtp_losses lc[2], l4[2], l2[2], lk[2];
    float *gc = pin_run(retrieval, NULL, SIMVTP_CHECKPOINT_OFF, &f, lc);
    g_pin_calls = g_att_pin_calls = g_gmb_calls = g_rln_calls = g_mbr_calls = g_h_calls = g_o_calls = 0;
    float *g4 = pin_run(retrieval, &t4, SIMVTP_CHECKPOINT_OFF, &f, l4);
    ck_assert_msg(g_pin_calls > 0, "the encoder never called the _pin ops");
    ck_assert_msg(qkv ? g_att_pin_calls > 0 : g_att_pin_calls == 0, "attention_fwd_pin called %d times",
                  g_att_pin_calls);
    ck_assert_msg(hp ? g_h_calls > 0 : g_h_calls == 0, "gelu_fwd_pin_h called %d times", g_h_calls);
    ck_assert_msg(o && qkv ? g_o_calls > 0 : g_o_calls == 0, "attention_fwd_pin_o called %d times", g_o_calls);
    /* gelu_matmul_bwd (the fc1 backward with the GELU backward folded in),
     * residual_layernorm_fwd_pin and (drop path: fine-tuning)
     * matmul_bwd_rowscale against the ops they stand for */
    sv_backend t4n = t4;
    t4n.gelu_matmul_bwd = NULL;
    t4n.residual_layernorm_fwd_pin = NULL;
    t4n.matmul_bwd_rowscale = NULL;
    ck_assert_msg(g_gmb_calls > 0, "the encoder never called gelu_matmul_bwd");
    ck_assert_msg(g_rln_calls > 0, "the encoder never called residual_layernorm_fwd_pin");
    ck_assert_msg(retrieval ? g_mbr_calls > 0 : g_mbr_calls == 0, "matmul_bwd_rowscale called %d times",
                  g_mbr_calls);
    float *g4n = pin_run(retrieval, &t4n, SIMVTP_CHECKPOINT_OFF, &f, lk);
    ck_assert(memcmp(lk, l4, sizeof lk) == 0);
    size_t dn = grads_differing(g4n, g4, n);
    ck_assert_msg(dn == 0, "%zu of %zu gradients differ with the fused ops", dn, n);
    free(g4n);
    float *g2 = pin_run(retrieval, &t2, SIMVTP_CHECKPOINT_OFF, &f, l2);
    for (int k = 0; k < 2; k++)
        ck_assert_msg(memcmp(&l2[k], &l4[k], sizeof l2[k]) == 0, "bf16-stored product inputs: loss %.9g vs %.9g",
                      (double)l2[k].total, (double)l4[k].total);
    size_t d = grads_differing(g2, g4, n);
    ck_assert_msg(d == 0, "%zu of %zu gradients differ between 2- and 4-byte product inputs", d, n);
    /* the rounding is real: close to the plain fp32 run, but not equal */
    ck_assert_msg(fabs(l2[0].total - lc[0].total) < 1e-2 * fabs(lc[0].total), "loss %.6g vs fp32 %.6g",
                  (double)l2[0].total, (double)lc[0].total);
    ck_assert_msg(grads_differing(g2, gc, n) > n / 4, "bf16 product inputs changed too few gradients");
    for (int mode = SIMVTP_CHECKPOINT_BLOCKS; mode <= SIMVTP_CHECKPOINT_SELECTIVE; mode++) {
        float *gk = pin_run(retrieval, &t2, mode, &f, lk);
        ck_assert(memcmp(lk, l2, sizeof lk) == 0);
        d = grads_differing(gk, g2, n);
        ck_assert_msg(d == 0, "%zu gradients differ with 2-byte product inputs and checkpointing %d", d, mode);
        free(gk);
    }
    if (hp) { /* GELU from a rounded h is another function: close, but not the same bits */
        const sv_backend t2f = pin_table(2, qkv, 0, o);
        float *gf = pin_run(retrieval, &t2f, SIMVTP_CHECKPOINT_OFF, &f, lk);
        ck_assert_msg(fabs(l2[0].total - lk[0].total) < 5e-3 * fabs(lk[0].total), "loss %.6g vs fp32 h %.6g",
                      (double)l2[0].total, (double)lk[0].total);
        ck_assert_msg(grads_differing(g2, gf, n) > n / 4, "a bf16 h changed too few gradients");
        free(gf);
    }
    if (o) { /* D = rowsum(dO o O) and the projection from a rounded O: close, but not the same bits */
        const sv_backend t2f = pin_table(2, qkv, hp, 0);
        float *gf = pin_run(retrieval, &t2f, SIMVTP_CHECKPOINT_OFF, &f, lk);
        ck_assert_msg(fabs(l2[0].total - lk[0].total) < 5e-3 * fabs(lk[0].total), "loss %.6g vs fp32 O %.6g",
                      (double)l2[0].total, (double)lk[0].total);
        ck_assert_msg(grads_differing(g2, gf, n) > n / 4, "a bf16 O changed too few gradients");
        free(gf);
    }
    free(gc);
    free(g4);
    free(g2);
    free(f.frames);
}

START_TEST(test_pin_pretrain) { pin_check(0, 0, 0, 0); }
END_TEST

START_TEST(test_pin_retrieval) { pin_check(1, 0, 0, 0); }
END_TEST

START_TEST(test_pin_qkv_pretrain) { pin_check(0, 1, 0, 0); }
END_TEST

START_TEST(test_pin_qkv_retrieval) { pin_check(1, 1, 0, 0); }
END_TEST

START_TEST(test_pin_h_pretrain) { pin_check(0, 1, 1, 0); }
END_TEST

START_TEST(test_pin_h_retrieval) { pin_check(1, 1, 1, 0); }
END_TEST

START_TEST(test_pin_o_pretrain) { pin_check(0, 1, 0, 1); }
END_TEST

START_TEST(test_pin_o_retrieval) { pin_check(1, 1, 1, 1); }
END_TEST

/* Raw allocations (core/backend.h alloc_raw): with SIMVTP_CPU_POISON=1 the
 * CPU hands out 0xFF bytes (NaN), fresh or reused, so a buffer read before
 * it is written spoils the results; then the same runs as with zero-filled
 * buffers, bit for bit, through the plain ops and through the 2-byte
 * stand-ins (qkv included). */
static int g_raw_calls;
static void *count_raw(size_t bytes)
{
    g_raw_calls++;
    return sv_backend_cpu.alloc_raw(bytes);
}

static void raw_check(int retrieval)
{
    setenv("SIMVTP_CPU_POISON", "1", 1); /* as meson test sets it: also when run by hand */
    for (int k = 0; k < 2; k++) { /* a fresh block, then a reused one */
        float *r = sv_backend_cpu.alloc_raw(4096 * sizeof(float));
        ck_assert_ptr_nonnull(r);
        ck_assert_msg(isnan(r[0]) && isnan(r[4095]), "raw block %d is not NaN-filled", k);
        memset(r, 0, 4096 * sizeof(float));
        sv_backend_cpu.free(r);
    }
    fixture f;
    const size_t n = three_blocks(&f, retrieval);
    for (int pin = 0; pin < 2; pin++) {
        sv_backend raw = pin ? pin_table(2, 1, 1, 1) : sv_backend_cpu, zeroed = raw;
        raw.alloc_raw = count_raw;
        zeroed.alloc_raw = NULL; /* sv_arena_alloc_raw falls back to alloc */
        simvtp_losses lr[2], lz[2];
        g_raw_calls = 0;
        float *gr = pin_run(retrieval, &raw, SIMVTP_CHECKPOINT_OFF, &f, lr);
        ck_assert_msg(g_raw_calls > 20, "only %d raw allocations in two steps", g_raw_calls);
        float *gz = pin_run(retrieval, &zeroed, SIMVTP_CHECKPOINT_OFF, &f, lz);
        for (int k = 0; k < 2; k++)
            ck_assert_msg(memcmp(&lr[k], &lz[k], sizeof lr[k]) == 0, "raw buffers (pin %d): loss %.9g vs %.9g",
                          pin, (double)lr[k].total, (double)lz[k].total);
        const size_t d = grads_differing(gr, gz, n);
        ck_assert_msg(d == 0, "%zu of %zu gradients differ with NaN-filled raw buffers (pin %d)", d, n, pin);
        free(gr);
        free(gz);
    }
    free(f.frames);
}

/* sv_enc_bias3 and sv_enc_bias3_grad: [q_bias, 0, v_bias] per block and the
 * gradients handed back, gathered in one op when the biases lie whole rows
 * apart (v before q, blocks in reverse order: the base is the lowest) and
 * block by block when they do not (shift 1), against the definition. */
START_TEST(test_bias3_gather)
{
    enum { C = 8, DEPTH = 3, NP = 64 * C };
    for (int shift = 0; shift < 2; shift++) {
        float *par = malloc(NP * sizeof(float)), *grad = malloc(NP * sizeof(float));
        ck_assert(par && grad);
        for (int i = 0; i < NP; i++) {
            par[i] = (float)i;
            grad[i] = 0.5f * (float)i;
        }
        sv_block blk[DEPTH], gblk[DEPTH];
        memset(blk, 0, sizeof blk);
        for (int l = 0; l < DEPTH; l++) { /* q of block l at row 20 - 5l (+1 for the last with shift) */
            const size_t q = (size_t)(20 - 5 * l) * C + (l == DEPTH - 1 ? (size_t)shift : 0);
            blk[l].qb = par + q;
            blk[l].vb = par + q - 2 * C;
            gblk[l] = blk[l];
            gblk[l].qb = grad + q;
            gblk[l].vb = grad + q - 2 * C;
        }
        sv_arena a = {.be = &sv_backend_cpu};
        sv_bias3 b;
        ck_assert_int_eq(sv_enc_bias3(&sv_backend_cpu, &a, blk, DEPTH, C, &b), 0);
        ck_assert_msg((b.slot != NULL) == (shift == 0), "shift %d: gathered %d", shift, b.slot != NULL);
        float *g3 = malloc(DEPTH * 3 * C * sizeof(float));
        ck_assert_ptr_nonnull(g3);
        for (int l = 0; l < DEPTH; l++)
            for (int c = 0; c < 3 * C; c++) {
                const float want = c < C ? blk[l].qb[c] : c >= 2 * C ? blk[l].vb[c - 2 * C] : 0.0f;
                ck_assert_msg(b.b3[l * 3 * C + c] == want, "shift %d: b3[%d][%d] = %g, want %g", shift, l, c,
                              (double)b.b3[l * 3 * C + c], (double)want);
                g3[l * 3 * C + c] = 1000.0f + (float)(l * 3 * C + c);
            }
        float *before = malloc(NP * sizeof(float));
        ck_assert_ptr_nonnull(before);
        memcpy(before, grad, NP * sizeof(float));
        sv_enc_bias3_grad(&sv_backend_cpu, &b, g3, gblk, DEPTH, C);
        for (int i = 0; i < NP; i++) {
            float want = before[i];
            for (int l = 0; l < DEPTH; l++) {
                const ptrdiff_t q = gblk[l].qb - grad, v = gblk[l].vb - grad;
                if (i >= q && i < q + C) want += g3[l * 3 * C + (i - q)];
                if (i >= v && i < v + C) want += g3[l * 3 * C + 2 * C + (i - v)];
            }
            ck_assert_msg(grad[i] == want, "shift %d: gradient %d = %g, want %g", shift, i, (double)grad[i],
                          (double)want);
        }
        sv_arena_free(&a);
        free(par); free(grad); free(g3); free(before);
    }
}
END_TEST

START_TEST(test_raw_pretrain) { raw_check(0); }
END_TEST

/* Out of memory at each allocation of a training call in turn (a forward
 * and backward, a train step, the two encoders): the call returns
 * SIMVTP_ERR_NOMEM and gives back every block it took (the graph's
 * short-lived arenas included, whichever are live when it fails); past the
 * last allocation it succeeds; and afterwards the model still gives the
 * losses of a clean run. */
static long g_oom_left, g_oom_live, g_oom_count;
static void *oom_take(void *p)
{
    if (p) g_oom_live++, g_oom_count++;
    return p;
}
static void *oom_alloc(size_t bytes) { return g_oom_left-- > 0 ? oom_take(sv_backend_cpu.alloc(bytes)) : NULL; }
static void *oom_alloc_raw(size_t bytes)
{
    return g_oom_left-- > 0 ? oom_take(sv_backend_cpu.alloc_raw(bytes)) : NULL;
}
static void oom_free(void *p)
{
    if (p) g_oom_live--;
    sv_backend_cpu.free(p);
}

/* Run call(ctx) on m with each of its allocations failing in turn: each
 * failing run returns SIMVTP_ERR_NOMEM and gives every block back. */
typedef int (*oom_call)(simvtp_model *m, void *ctx);
static void oom_sweep(const char *what, simvtp_model *m, oom_call call, void *ctx)
{
    sv_backend t = sv_backend_cpu;
    t.alloc = oom_alloc;
    t.alloc_raw = oom_alloc_raw;
    t.free = oom_free;
    const sv_backend *was = m->be;
    m->be = &t;
    g_oom_left = LONG_MAX, g_oom_live = g_oom_count = 0;
    ck_assert_int_eq(call(m, ctx), SIMVTP_OK);
    const long total = g_oom_count;
    ck_assert_msg(total > 0 && g_oom_live == 0, "%s: %ld allocations, %ld not given back", what, total, g_oom_live);
    for (long k = 0; k < total; k++) {
        g_oom_left = k, g_oom_live = 0;
        const int rc = call(m, ctx);
        ck_assert_msg(rc == SIMVTP_ERR_NOMEM, "%s: allocation %ld of %ld failing: status %d (%s)", what, k, total, rc,
                      simvtp_last_error());
        ck_assert_msg(g_oom_live == 0, "%s: allocation %ld of %ld failing: %ld blocks not given back", what, k,
                      total, g_oom_live);
    }
    m->be = was;
}

static int oom_fb(simvtp_model *m, void *ctx)
{
    simvtp_losses l = {sizeof l};
    return simvtp_model_forward_backward(m, &((fixture *)ctx)->b, 40, 1.0f, &l);
}

static int oom_encode(simvtp_model *m, void *ctx)
{
    const fixture *f = ctx;
    float e[B * 512];
    ck_assert_int_le(simvtp_model_embed_dim(m), 512);
    int rc = simvtp_encode_videos(m, f->frames, B, e);
    return rc ? rc : simvtp_encode_texts(m, f->tok, f->len, B, L, e);
}

typedef struct oom_train {
    fixture *f;
    simvtp_optimizer *o;
} oom_train;

static int oom_step(simvtp_model *m, void *ctx)
{
    (void)m;
    oom_train *t = ctx;
    simvtp_losses l = {sizeof l};
    return simvtp_train_step(t->o, &t->f->b, &l, NULL);
}

static void oom_check(int retrieval, int ckpt)
{
    fixture f;
    three_blocks(&f, retrieval);
    simvtp_model *m = make_model(&f.c, 21, retrieval);
    ck_assert_int_eq(simvtp_model_set_option(m, SIMVTP_MODEL_OPT_CHECKPOINT_ACTIVATIONS, ckpt), SIMVTP_OK);
    simvtp_losses clean = {sizeof clean}, l = {sizeof l};
    ck_assert_int_eq(simvtp_model_forward_backward(m, &f.b, 40, 1.0f, &clean), SIMVTP_OK);
    oom_sweep(retrieval ? "fine-tuning step" : "pretraining step", m, oom_fb, &f);
    simvtp_model_zero_grad(m);
    ck_assert_int_eq(simvtp_model_forward_backward(m, &f.b, 40, 1.0f, &l), SIMVTP_OK);
    ck_assert_msg(memcmp(&l, &clean, sizeof l) == 0, "losses after the failures: %.9g, clean %.9g", (double)l.total,
                  (double)clean.total);
    if (ckpt == SIMVTP_CHECKPOINT_OFF) {
        oom_sweep("encode", m, oom_encode, &f);
        /* the optimizer's step (forward, backward and the update) */
        simvtp_optimizer_params op;
        simvtp_optimizer_default_params(&op);
        oom_train ot = {&f, NULL};
        ck_assert_int_eq(simvtp_optimizer_create(m, &op, &ot.o), SIMVTP_OK);
        oom_sweep("train step", m, oom_step, &ot);
        simvtp_optimizer_free(ot.o);
    }
    simvtp_model_free(m);
    free(f.frames);
}

START_TEST(test_oom_pretrain) { oom_check(0, SIMVTP_CHECKPOINT_OFF); }
END_TEST

START_TEST(test_oom_retrieval) { oom_check(1, SIMVTP_CHECKPOINT_OFF); }
END_TEST

START_TEST(test_oom_checkpointed)
{
    oom_check(0, SIMVTP_CHECKPOINT_BLOCKS);
    oom_check(1, SIMVTP_CHECKPOINT_SELECTIVE);
}
END_TEST

START_TEST(test_raw_retrieval) { raw_check(1); }
END_TEST

/* ... and the memory: ln1, ln2 and g (2C + M per token and block) take
 * half, qkv (3C) too when the attention takes it, h (M) with h_pin and the
 * attention output (C) with o_pin. */
START_TEST(test_pin_memory)
{
    for (int qkv = 0; qkv < 4; qkv++) {
        const int hp = qkv == 2, o = qkv == 3;
        const sv_backend t2 = pin_table(2, qkv > 0, hp, o);
        sv_arena a4 = {0}, a2 = {.be = &t2};
        sv_enc_pass p4, p2;
        const int nb = 2, nt = 50, nc = 32, nm = 128, depth = 6;
        ck_assert_int_eq(sv_enc_pass_init(&p4, &a4, nb, nt, nc, 4, nm, depth, 1e-6f, 1, SIMVTP_CHECKPOINT_OFF),
                         SIMVTP_OK);
        ck_assert_int_eq(sv_enc_pass_init(&p2, &a2, nb, nt, nc, 4, nm, depth, 1e-6f, 1, SIMVTP_CHECKPOINT_OFF),
                         SIMVTP_OK);
        ck_assert_uint_eq(p2.pin, 2);
        ck_assert_int_eq(p2.qkv_pin, qkv > 0);
        ck_assert_int_eq(p2.h_pin, hp);
        ck_assert_int_eq(p2.o_pin, o);
        const size_t saved =
            (size_t)depth * nb * nt * (2 * nc + nm + (qkv ? 3 * nc : 0) + (hp ? nm : 0) + (o ? nc : 0)) * 2;
        ck_assert_msg(a4.bytes - a2.bytes >= saved && a4.bytes - a2.bytes < saved + 4096,
                      "2-byte product inputs (qkv %d) keep %zu bytes, %zu as floats: expected %zu less", qkv,
                      a2.bytes, a4.bytes, saved);
        sv_arena_free(&a4);
        sv_arena_free(&a2);
    }
}
END_TEST

START_TEST(test_fd_pretrain) { fd_check(0); }
END_TEST

START_TEST(test_fd_retrieval) { fd_check(1); }
END_TEST

START_TEST(test_save_load_bitexact)
{
    fixture f;
    fixture_init(&f, 6);
    for (int kind = 0; kind < 2; kind++) {
        simvtp_model *m = make_model(&f.c, 21, kind), *m2 = NULL;
        char path[] = "/tmp/svtp-test-XXXXXX";
        int fd = mkstemp(path);
        close(fd);
        ck_assert_int_eq(simvtp_model_save(m, path), SIMVTP_OK);
        ck_assert_int_eq(simvtp_model_load(path, NULL, &m2), SIMVTP_OK);
        ck_assert_int_eq(simvtp_model_get_kind(m2), kind);
        ck_assert_uint_eq(m2->nparams, m->nparams);
        ck_assert(memcmp(m->params, m2->params, m->nparams * sizeof(float)) == 0);
        simvtp_losses a = {sizeof a}, b2 = {sizeof b2};
        ck_assert_int_eq(simvtp_model_forward(m, &f.b, 9, &a), SIMVTP_OK);
        ck_assert_int_eq(simvtp_model_forward(m2, &f.b, 9, &b2), SIMVTP_OK);
        ck_assert(memcmp(&a, &b2, sizeof a) == 0);
        /* load_into overwrites a differently initialized model exactly */
        simvtp_model *m3 = make_model(&f.c, 99, kind);
        ck_assert_int_eq(simvtp_model_load_into(m3, path), SIMVTP_OK);
        ck_assert(memcmp(m->params, m3->params, m->nparams * sizeof(float)) == 0);
        unlink(path);
        simvtp_model_free(m);
        simvtp_model_free(m2);
        simvtp_model_free(m3);
    }
    free(f.frames);
}
END_TEST

/* Runs `steps` train steps on per-step batches, recording totals. */
static void run_steps(simvtp_optimizer *o, int from, int steps, float *totals)
{
    for (int s = from; s < from + steps; s++) {
        fixture f;
        fixture_init(&f, 100 + (uint64_t)s);
        simvtp_losses l = {sizeof l};
        ck_assert_int_eq(simvtp_train_step(o, &f.b, &l, NULL), SIMVTP_OK);
        totals[s] = l.total;
        free(f.frames);
    }
}

static void resume_check(int retrieval, int accum, int total_steps, int split)
{
    simvtp_config c = small_config();
    simvtp_optimizer_params op;
    simvtp_optimizer_default_params(&op);
    op.lr = 1e-3f; op.warmup_steps = 2; op.total_steps = 8; op.accum_steps = accum; op.seed = 5;
    op.clip_norm = 1.0f;
    float straight[16], resumed[16];
    /* straight run */
    simvtp_model *m = make_model(&c, 31, retrieval);
    simvtp_optimizer *o;
    ck_assert_int_eq(simvtp_optimizer_create(m, &op, &o), SIMVTP_OK);
    run_steps(o, 0, total_steps, straight);
    /* interrupted run: split steps, save, fresh handles, load, continue */
    simvtp_model *a = make_model(&c, 31, retrieval);
    simvtp_optimizer *oa;
    ck_assert_int_eq(simvtp_optimizer_create(a, &op, &oa), SIMVTP_OK);
    run_steps(oa, 0, split, resumed);
    char wpath[] = "/tmp/svtp-w-XXXXXX", spath[] = "/tmp/svtp-s-XXXXXX";
    close(mkstemp(wpath));
    close(mkstemp(spath));
    ck_assert_int_eq(simvtp_optimizer_set_data_position(oa, 1234), SIMVTP_OK);
    ck_assert_int_eq(simvtp_model_save(a, wpath), SIMVTP_OK);
    ck_assert_int_eq(simvtp_optimizer_save(oa, spath), SIMVTP_OK);
    simvtp_optimizer_free(oa);
    simvtp_model_free(a);
    simvtp_model *b = NULL;
    ck_assert_int_eq(simvtp_model_load(wpath, NULL, &b), SIMVTP_OK);
    simvtp_optimizer_params other = op;
    other.seed = 999; /* the file's stream must win */
    simvtp_optimizer *ob;
    ck_assert_int_eq(simvtp_optimizer_create(b, &other, &ob), SIMVTP_OK);
    ck_assert_int_eq(simvtp_optimizer_load(ob, spath), SIMVTP_OK);
    ck_assert_uint_eq(simvtp_optimizer_data_position(ob), 1234);
    run_steps(ob, split, total_steps - split, resumed);
    for (int s = 0; s < total_steps; s++)
        ck_assert_msg(memcmp(&straight[s], &resumed[s], sizeof(float)) == 0,
                      "step %d: straight %.9g vs resumed %.9g", s, straight[s], resumed[s]);
    ck_assert(memcmp(m->params, b->params, m->nparams * sizeof(float)) == 0);
    ck_assert_int_eq(simvtp_optimizer_step_count(ob), simvtp_optimizer_step_count(o));
    unlink(wpath);
    unlink(spath);
    simvtp_optimizer_free(o);
    simvtp_optimizer_free(ob);
    simvtp_model_free(m);
    simvtp_model_free(b);
}

START_TEST(test_resume_pretrain) { resume_check(0, 1, 6, 3); }
END_TEST

START_TEST(test_resume_accumulation_midway) { resume_check(0, 2, 6, 3); }
END_TEST

START_TEST(test_resume_retrieval) { resume_check(1, 1, 4, 2); }
END_TEST

START_TEST(test_embeddings_normalized)
{
    fixture f;
    fixture_init(&f, 8);
    for (int kind = 0; kind < 2; kind++) {
        simvtp_model *m = make_model(&f.c, 41, kind);
        int D = simvtp_model_embed_dim(m);
        float *ev = malloc((size_t)B * D * sizeof(float)), *et = malloc((size_t)B * D * sizeof(float));
        ck_assert_int_eq(simvtp_encode_videos(m, f.frames, B, ev), SIMVTP_OK);
        ck_assert_int_eq(simvtp_encode_texts(m, f.tok, f.len, B, L, et), SIMVTP_OK);
        for (int i = 0; i < B; i++) {
            double nv = 0, nt = 0;
            for (int d = 0; d < D; d++) { nv += ev[i * D + d] * ev[i * D + d]; nt += et[i * D + d] * et[i * D + d]; }
            ck_assert(fabs(nv - 1) < 1e-5 && fabs(nt - 1) < 1e-5);
        }
        /* a video encoded alone equals the same video encoded in a batch */
        float *one = malloc((size_t)D * sizeof(float));
        size_t fs = (size_t)f.c.frames * f.c.height * f.c.width * 3;
        ck_assert_int_eq(simvtp_encode_videos(m, f.frames + fs, 1, one), SIMVTP_OK);
        for (int d = 0; d < D; d++) ck_assert(fabsf(one[d] - ev[D + d]) < 1e-5f);
        free(one);
        free(ev);
        free(et);
        simvtp_model_free(m);
    }
    free(f.frames);
}
END_TEST

START_TEST(test_reconstruction)
{
    fixture f;
    fixture_init(&f, 9);
    simvtp_model *m = make_model(&f.c, 51, 0);
    const int N = simvtp_config_num_video_tokens(&f.c), K = simvtp_config_tubelet_dim(&f.c);
    uint8_t *mask = malloc((size_t)B * N);
    float *px = malloc((size_t)B * N * K * sizeof(float));
    int32_t mt[B * L], pr[B * L];
    simvtp_reconstruction rec = {sizeof rec, mask, px, mt, pr};
    ck_assert_int_eq(simvtp_model_reconstruct(m, &f.b, 3, &rec), SIMVTP_OK);
    int masked = 0;
    for (int i = 0; i < B * N; i++) masked += mask[i];
    ck_assert_int_eq(masked, B * (N - simvtp_config_num_visible_tokens(&f.c)));
    /* visible tubelets reproduce the input pixels; all pixels lie in [0,1] */
    const int p = f.c.patch, gw = f.c.width / p, gh = f.c.height / p;
    for (int b = 0; b < B; b++)
        for (int n = 0; n < N; n++) {
            const float *o = px + ((size_t)b * N + n) * K;
            for (int k = 0; k < K; k++) ck_assert(o[k] >= 0.0f && o[k] <= 1.0f);
            if (mask[b * N + n]) continue;
            int ti = n / (gh * gw), hi = (n / gw) % gh, wi = n % gw;
            for (int dt = 0; dt < f.c.tubelet; dt++)
                for (int dy = 0; dy < p; dy++)
                    for (int dx = 0; dx < p; dx++)
                        for (int ch = 0; ch < 3; ch++) {
                            size_t fi = ((((size_t)b * f.c.frames + ti * f.c.tubelet + dt) * f.c.height + hi * p + dy) * f.c.width + wi * p + dx) * 3 + ch;
                            float want = f.frames[fi] / 255.0f;
                            ck_assert(fabsf(o[((dt * p + dy) * p + dx) * 3 + ch] - want) < 1e-4f);
                        }
        }
    /* masked ids are [MASK]; predictions lie in the vocabulary; others copy the input */
    for (int i = 0; i < B * L; i++) {
        ck_assert(pr[i] >= 0 && pr[i] < f.c.vocab_size);
        if (mt[i] != 103) ck_assert_int_eq(pr[i], mt[i]);
        else ck_assert(f.tok[i] != 101 && f.tok[i] != 102 && f.tok[i] != 0);
    }
    free(mask);
    free(px);
    simvtp_model_free(m);
    free(f.frames);
}
END_TEST

START_TEST(test_hard_negatives)
{
    fixture f;
    fixture_init(&f, 10);
    f.c.vtm_hard_negatives = 1;
    simvtp_model *m = make_model(&f.c, 61, 0);
    int hits[B][B] = {{0}};
    for (uint64_t seed = 0; seed < 40; seed++) {
        sv_pt_trace t;
        memset(&t, 0, sizeof t);
        ck_assert_int_eq(sv_pretrain_run(m, &f.b, seed, 1, 0, 0, NULL, &t), SIMVTP_OK);
        for (int i = 0; i < B; i++) {
            ck_assert(t.neg[i] >= 0 && t.neg[i] < B && t.neg[i] != i);
            hits[i][t.neg[i]]++;
        }
        sv_trace_free(&t);
    }
    /* every allowed negative shows up: sampling, not a fixed arg-max */
    for (int i = 0; i < B; i++)
        for (int j = 0; j < B; j++) ck_assert(i == j ? hits[i][j] == 0 : hits[i][j] > 0);
    simvtp_model_free(m);
    free(f.frames);
}
END_TEST

START_TEST(test_lr_schedule)
{
    simvtp_config c = small_config();
    simvtp_model *m = make_model(&c, 1, 0);
    simvtp_optimizer_params op;
    simvtp_optimizer_default_params(&op);
    op.lr = 1e-3f; op.min_lr = 1e-5f; op.warmup_steps = 10; op.total_steps = 110;
    simvtp_optimizer *o;
    ck_assert_int_eq(simvtp_optimizer_create(m, &op, &o), SIMVTP_OK);
    ck_assert(simvtp_optimizer_lr_at(o, 0) == 0.0f);
    ck_assert(fabsf(simvtp_optimizer_lr_at(o, 5) - 5e-4f) < 1e-9f);
    ck_assert(fabsf(simvtp_optimizer_lr_at(o, 10) - 1e-3f) < 1e-9f);
    /* halfway through the cosine: (lr + min_lr) / 2 */
    ck_assert(fabsf(simvtp_optimizer_lr_at(o, 60) - 5.05e-4f) < 1e-8f);
    ck_assert(fabsf(simvtp_optimizer_lr_at(o, 110) - 1e-5f) < 1e-10f);
    simvtp_optimizer_free(o);
    simvtp_model_free(m);
}
END_TEST

/* ---- non-finite guard (simvtp_optimizer_params.nonfinite_policy) ---- */

static int tensor_index(const simvtp_model *m, const char *name)
{
    for (int i = 0; i < simvtp_model_num_tensors(m); i++)
        if (strcmp(simvtp_model_tensor_name(m, i), name) == 0) return i;
    ck_abort_msg("no tensor %s", name);
    return -1;
}

/* Sets element 0 of tensor `name` to v; returns the previous value. */
static float poke(simvtp_model *m, const char *name, float v)
{
    const int i = tensor_index(m, name);
    float *t = malloc((size_t)simvtp_model_tensor_numel(m, i) * sizeof(float));
    ck_assert_int_eq(simvtp_model_tensor_get(m, i, t), SIMVTP_OK);
    const float old = t[0];
    t[0] = v;
    ck_assert_int_eq(simvtp_model_tensor_set(m, i, t), SIMVTP_OK);
    free(t);
    return old;
}

static int all_zero(const float *a, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (a[i] != 0.0f) return 0;
    return 1;
}

static simvtp_optimizer *nonfinite_optimizer(simvtp_model *m, int policy, int accum)
{
    simvtp_optimizer_params op;
    simvtp_optimizer_default_params(&op);
    ck_assert_int_eq(op.nonfinite_policy, SIMVTP_NONFINITE_SKIP);
    op.lr = 1e-3f; op.seed = 17; op.accum_steps = accum;
    op.nonfinite_policy = policy;
    simvtp_optimizer *o;
    ck_assert_int_eq(simvtp_optimizer_create(m, &op, &o), SIMVTP_OK);
    return o;
}

START_TEST(test_nonfinite_skip_and_stop)
{
    fixture f;
    fixture_init(&f, 12);
    simvtp_model *m = make_model(&f.c, 71, 0);
    const size_t n = m->nparams;
    float *w0 = malloc(n * sizeof(float));
    const float good = poke(m, "mlm_head.weight", NAN);
    memcpy(w0, m->params, n * sizeof(float));

    /* SKIP (the default): OK, skipped, counted, nothing changed but the stream */
    simvtp_optimizer *o = nonfinite_optimizer(m, SIMVTP_NONFINITE_SKIP, 1);
    ck_assert_int_eq(simvtp_optimizer_nonfinite_count(o), 0);
    simvtp_losses l = {sizeof l};
    simvtp_step_info info = {sizeof info};
    for (int k = 1; k <= 2; k++) {
        ck_assert_int_eq(simvtp_train_step(o, &f.b, &l, &info), SIMVTP_OK);
        ck_assert_str_eq(simvtp_last_error(), "");
        ck_assert(isnan(l.total));
        ck_assert_int_eq(info.skipped, 1);
        ck_assert_int_eq(info.updated, 0);
        ck_assert_int_eq(info.step, 0);
        ck_assert_int_eq(info.micro_step, k);
        ck_assert_int_eq(simvtp_optimizer_nonfinite_count(o), k);
        ck_assert_int_eq(simvtp_optimizer_step_count(o), 0);
        ck_assert(memcmp(m->params, w0, n * sizeof(float)) == 0); /* NaN bits too */
        ck_assert(all_zero(o->m, n) && all_zero(o->v, n));
        ck_assert(all_zero(m->grads, n));                         /* discarded */
    }
    sv_rng r;                                                     /* two draws */
    sv_rng_seed(&r, 17);
    sv_rng_u64(&r);
    sv_rng_u64(&r);
    ck_assert(memcmp(&r, &o->rng, sizeof r) == 0);

    /* the count survives a save/load round trip (and the policy stays the loader's) */
    char spath[] = "/tmp/svtp-nf-XXXXXX";
    close(mkstemp(spath));
    ck_assert_int_eq(simvtp_optimizer_save(o, spath), SIMVTP_OK);
    simvtp_optimizer *o2 = nonfinite_optimizer(m, SIMVTP_NONFINITE_STOP, 1);
    ck_assert_int_eq(simvtp_optimizer_load(o2, spath), SIMVTP_OK);
    ck_assert_int_eq(simvtp_optimizer_nonfinite_count(o2), 2);
    ck_assert_int_eq(o2->p.nonfinite_policy, SIMVTP_NONFINITE_STOP);
    ck_assert(memcmp(&o2->rng, &o->rng, sizeof r) == 0);
    simvtp_optimizer_free(o2);
    unlink(spath);

    /* finite again: the next update applies and the count stays */
    poke(m, "mlm_head.weight", good);
    ck_assert_int_eq(simvtp_train_step(o, &f.b, &l, &info), SIMVTP_OK);
    ck_assert(isfinite(l.total));
    ck_assert_int_eq(info.skipped, 0);
    ck_assert_int_eq(info.updated, 1);
    ck_assert_int_eq(simvtp_optimizer_nonfinite_count(o), 2);
    ck_assert_int_eq(simvtp_optimizer_step_count(o), 1);
    simvtp_optimizer_free(o);

    /* STOP: the call fails, naming the update and micro-batch; nothing changes */
    poke(m, "mlm_head.weight", NAN);
    memcpy(w0, m->params, n * sizeof(float));
    o = nonfinite_optimizer(m, SIMVTP_NONFINITE_STOP, 1);
    ck_assert_int_eq(simvtp_train_step(o, &f.b, &l, &info), SIMVTP_ERR_NONFINITE);
    ck_assert_msg(strstr(simvtp_last_error(), "update 0 (micro-batch 1)") &&
                  strstr(simvtp_last_error(), "loss of micro-batch 1") &&
                  strstr(simvtp_last_error(), "SIMVTP_NONFINITE_STOP"),
                  "message: %s", simvtp_last_error());
    ck_assert_int_eq(info.skipped, 1);
    ck_assert_int_eq(info.updated, 0);
    ck_assert_int_eq(simvtp_optimizer_nonfinite_count(o), 1);
    ck_assert(memcmp(m->params, w0, n * sizeof(float)) == 0);
    ck_assert(all_zero(o->m, n) && all_zero(o->v, n) && all_zero(m->grads, n));
    simvtp_optimizer_free(o);

    /* an unknown policy is rejected */
    simvtp_optimizer_params bad;
    simvtp_optimizer_default_params(&bad);
    bad.nonfinite_policy = 2;
    ck_assert_int_eq(simvtp_optimizer_create(m, &bad, &o), SIMVTP_ERR_INVALID_ARG);
    poke(m, "mlm_head.weight", good);
    free(w0);
    simvtp_model_free(m);
    free(f.frames);
}
END_TEST

/* With accumulation, a non-finite loss spoils the whole pending update (also
 * when the later micro-batches are finite), and a non-finite gradient norm
 * with finite losses is caught at the update. */
START_TEST(test_nonfinite_accumulation)
{
    fixture f;
    fixture_init(&f, 13);
    simvtp_model *m = make_model(&f.c, 72, 0);
    const size_t n = m->nparams;
    float *w0 = malloc(n * sizeof(float));
    simvtp_optimizer *o = nonfinite_optimizer(m, SIMVTP_NONFINITE_SKIP, 2);
    simvtp_losses l = {sizeof l};
    simvtp_step_info info = {sizeof info};

    const float good = poke(m, "mlm_head.weight", NAN);
    ck_assert_int_eq(simvtp_train_step(o, &f.b, &l, &info), SIMVTP_OK);
    ck_assert(isnan(l.total));
    ck_assert_int_eq(info.skipped, 0); /* the update is still pending */
    ck_assert_int_eq(simvtp_optimizer_nonfinite_count(o), 0);
    poke(m, "mlm_head.weight", good);
    memcpy(w0, m->params, n * sizeof(float));
    ck_assert_int_eq(simvtp_train_step(o, &f.b, &l, &info), SIMVTP_OK);
    ck_assert(isfinite(l.total));
    ck_assert_int_eq(info.skipped, 1);
    ck_assert_int_eq(info.updated, 0);
    ck_assert_int_eq(simvtp_optimizer_nonfinite_count(o), 1);
    ck_assert(memcmp(m->params, w0, n * sizeof(float)) == 0);
    ck_assert(all_zero(o->m, n) && all_zero(m->grads, n));

    /* a clean accumulation updates */
    ck_assert_int_eq(simvtp_train_step(o, &f.b, &l, &info), SIMVTP_OK);
    ck_assert_int_eq(simvtp_train_step(o, &f.b, &l, &info), SIMVTP_OK);
    ck_assert_int_eq(info.updated, 1);
    ck_assert_int_eq(simvtp_optimizer_step_count(o), 1);

    /* finite losses, an Inf gradient: skipped at the update */
    memcpy(w0, m->params, n * sizeof(float));
    ck_assert_int_eq(simvtp_train_step(o, &f.b, &l, &info), SIMVTP_OK);
    m->grads[n / 2] = INFINITY;
    ck_assert_int_eq(simvtp_train_step(o, &f.b, &l, &info), SIMVTP_OK);
    ck_assert(isfinite(l.total));
    ck_assert_int_eq(info.skipped, 1);
    ck_assert_int_eq(info.updated, 0);
    ck_assert_int_eq(simvtp_optimizer_nonfinite_count(o), 2);
    ck_assert_int_eq(simvtp_optimizer_step_count(o), 1);
    ck_assert(memcmp(m->params, w0, n * sizeof(float)) == 0);
    simvtp_optimizer_free(o);
    free(w0);
    simvtp_model_free(m);
    free(f.frames);
}
END_TEST

/* A training-state file of format version 1 (no non-finite count), written
 * here by hand from docs/FORMATS.md, still loads; the count reads as 0 and
 * the next save writes version 2. */
static void put(FILE *fp, const void *p, size_t n) { ck_assert_uint_eq(fwrite(p, 1, n, fp), n); }
static void put_u32(FILE *fp, uint32_t v) { put(fp, &v, 4); }
static void put_u64(FILE *fp, uint64_t v) { put(fp, &v, 8); }
static void put_f32(FILE *fp, float v) { put(fp, &v, 4); }

START_TEST(test_state_v1_read)
{
    simvtp_config c = small_config();
    simvtp_model *m = make_model(&c, 81, 0);
    const size_t n = m->nparams;
    float *mm = malloc(n * sizeof(float)), *vv = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) { mm[i] = 1e-3f * (float)(i % 97); vv[i] = 1e-6f * (float)(i % 89); }
    uint32_t words[SV_CONFIG_WORDS];
    sv_config_to_words(&m->cfg, words);
    const uint64_t rng[4] = {11, 22, 33, 44};

    char path[] = "/tmp/svtp-v1-XXXXXX";
    close(mkstemp(path));
    FILE *fp = fopen(path, "wb");
    ck_assert_ptr_nonnull(fp);
    put(fp, "SVTPOPT1", 8);
    put_u32(fp, 1);                         /* version 1 */
    put_u32(fp, (uint32_t)m->kind);
    put_u32(fp, SV_CONFIG_WORDS);
    for (int i = 0; i < SV_CONFIG_WORDS; i++) put_u32(fp, words[i]);
    put_u64(fp, n);
    put_u64(fp, 5);                         /* step */
    put_u64(fp, 10);                        /* micro_step */
    for (int i = 0; i < 4; i++) put_u64(fp, rng[i]);
    put_u64(fp, 4242);                      /* data position */
    put_f32(fp, 2e-3f);                     /* lr */
    put_f32(fp, 1e-5f);                     /* min_lr */
    put_f32(fp, 0.8f);                      /* beta1 */
    put_f32(fp, 0.99f);                     /* beta2 */
    put_f32(fp, 1e-7f);                     /* eps */
    put_f32(fp, 0.01f);                     /* weight_decay */
    put_u64(fp, 3);                         /* warmup_steps */
    put_u64(fp, 50);                        /* total_steps */
    put_f32(fp, 2.0f);                      /* clip_norm */
    put_u32(fp, 2);                         /* accum_steps */
    put_u64(fp, 6);                         /* seed */
    put_u32(fp, 0);                         /* pending: 10 % 2 == 0 */
    put_u32(fp, sv_crc32(0, mm, n * 4));
    put(fp, mm, n * 4);
    put_u32(fp, sv_crc32(0, vv, n * 4));
    put(fp, vv, n * 4);
    ck_assert_int_eq(fclose(fp), 0);

    simvtp_optimizer *o = nonfinite_optimizer(m, SIMVTP_NONFINITE_STOP, 1);
    o->nonfinite_count = 7; /* replaced by the file's (none: 0) */
    ck_assert_int_eq(simvtp_optimizer_load(o, path), SIMVTP_OK);
    ck_assert_int_eq(simvtp_optimizer_nonfinite_count(o), 0);
    ck_assert_int_eq(simvtp_optimizer_step_count(o), 5);
    ck_assert_int_eq(o->micro_step, 10);
    ck_assert_uint_eq(simvtp_optimizer_data_position(o), 4242);
    ck_assert(memcmp(o->rng.s, rng, sizeof rng) == 0);
    ck_assert(o->p.lr == 2e-3f && o->p.beta1 == 0.8f && o->p.clip_norm == 2.0f);
    ck_assert_int_eq(o->p.accum_steps, 2);
    ck_assert_int_eq(o->p.total_steps, 50);
    ck_assert_uint_eq(o->p.seed, 6);
    ck_assert_int_eq(o->p.nonfinite_policy, SIMVTP_NONFINITE_STOP);
    ck_assert(memcmp(o->m, mm, n * 4) == 0 && memcmp(o->v, vv, n * 4) == 0);
    ck_assert(all_zero(m->grads, n));

    /* saved again: version 2, 8 bytes longer (the count after the data position) */
    FILE *in = fopen(path, "rb");
    fseek(in, 0, SEEK_END);
    const long v1_size = ftell(in);
    fclose(in);
    o->nonfinite_count = 3;
    ck_assert_int_eq(simvtp_optimizer_save(o, path), SIMVTP_OK);
    in = fopen(path, "rb");
    uint8_t head[192];
    ck_assert_uint_eq(fread(head, 1, sizeof head, in), sizeof head);
    fseek(in, 0, SEEK_END);
    ck_assert_int_eq(ftell(in), v1_size + 8);
    fclose(in);
    uint32_t version;
    uint64_t count;
    memcpy(&version, head + 8, 4);
    memcpy(&count, head + 184, 8);
    ck_assert_uint_eq(version, 2);
    ck_assert_uint_eq(count, 3);

    /* a future version is refused */
    fp = fopen(path, "r+b");
    fseek(fp, 8, SEEK_SET);
    put_u32(fp, 3);
    fclose(fp);
    ck_assert_int_eq(simvtp_optimizer_load(o, path), SIMVTP_ERR_VERSION);
    ck_assert_int_eq(simvtp_optimizer_nonfinite_count(o), 3);

    unlink(path);
    simvtp_optimizer_free(o);
    simvtp_model_free(m);
    free(mm);
    free(vv);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("model");
    TCase *tc = tcase_create("model");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_ckpt_pretrain);
    tcase_add_test(tc, test_ckpt_retrieval);
    tcase_add_test(tc, test_ckpt_selective_pretrain);
    tcase_add_test(tc, test_ckpt_selective_retrieval);
    tcase_add_test(tc, test_ckpt_memory);
    tcase_add_test(tc, test_pin_pretrain);
    tcase_add_test(tc, test_pin_retrieval);
    tcase_add_test(tc, test_pin_qkv_pretrain);
    tcase_add_test(tc, test_pin_qkv_retrieval);
    tcase_add_test(tc, test_pin_h_pretrain);
    tcase_add_test(tc, test_pin_h_retrieval);
    tcase_add_test(tc, test_pin_o_pretrain);
    tcase_add_test(tc, test_pin_o_retrieval);
    tcase_add_test(tc, test_pin_memory);
    tcase_add_test(tc, test_bias3_gather);
    tcase_add_test(tc, test_raw_pretrain);
    tcase_add_test(tc, test_oom_pretrain);
    tcase_add_test(tc, test_oom_retrieval);
    tcase_add_test(tc, test_oom_checkpointed);
    tcase_add_test(tc, test_raw_retrieval);
    tcase_add_test(tc, test_fd_pretrain);
    tcase_add_test(tc, test_fd_retrieval);
    tcase_add_test(tc, test_save_load_bitexact);
    tcase_add_test(tc, test_resume_pretrain);
    tcase_add_test(tc, test_resume_accumulation_midway);
    tcase_add_test(tc, test_resume_retrieval);
    tcase_add_test(tc, test_embeddings_normalized);
    tcase_add_test(tc, test_reconstruction);
    tcase_add_test(tc, test_hard_negatives);
    tcase_add_test(tc, test_lr_schedule);
    tcase_add_test(tc, test_nonfinite_skip_and_stop);
    tcase_add_test(tc, test_nonfinite_accumulation);
    tcase_add_test(tc, test_state_v1_read);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}

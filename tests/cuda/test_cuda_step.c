/* tests/cuda/test_cuda_step.c — the whole model on the CUDA backend against
 * the CPU backend, through the PUBLIC API only (simvtp.h).
 *
 *   test_cuda_step [PRESET [BATCH]]     (default: small 4)
 *
 * For "cuda:0:fp32" and then "cuda:0" (bf16 matrix inputs):
 *  1. the pretraining model is created on "cpu" and on CUDA with the same
 *     seed (reported: are the initial weights identical?) and the CUDA one
 *     gets the CPU weights (simvtp_model_tensor_set), so both start equal;
 *  2. two accumulated forward_backward calls (grad_scale 1 and 0.5) on the
 *     same batches and seeds: every loss, masked_text, and every tensor's
 *     gradient (simvtp_model_grad_get, ||g_cuda - g_cpu|| / ||g_cpu||) and
 *     the gradient of the whole model;
 *  3. the same two calls again on CUDA: bit-identical losses and gradients;
 *     also with activation checkpointing (whole blocks, selective), and in
 *     bf16 without the weight mirror (SIMVTP_CUDA_WEIGHT_MIRROR=0) and with
 *     the first fused attention (SIMVTP_CUDA_ATTENTION=flash1) and with the
 *     product inputs kept as floats (SIMVTP_CUDA_PIN16=0) and the
 *     attention output kept as floats (SIMVTP_CUDA_O16=0) and the GELU
 *     backward unfused (SIMVTP_CUDA_GELU_FUSE=0) and the residual add
 *     and LayerNorm unfused (SIMVTP_CUDA_RESLN=0), and in both with
 *     the column sums in two launches (SIMVTP_CUDA_COLSUM=2pass) and one
 *     or four columns per thread (SIMVTP_CUDA_COLSUM_VEC=0, =1; by shape
 *     otherwise); in bf16
 *     the opt-in bf16 fc1 output (SIMVTP_CUDA_H16=1) must change the bits
 *     and is compared with the CPU at thresholds of its own;
 *  4. simvtp_model_forward and simvtp_encode_videos / simvtp_encode_texts;
 *  5. STEPS AdamW steps (simvtp_train_step) from the same weights and
 *     optimizer seed: losses of every step and the weights afterwards;
 *  6. the retrieval (fine-tuning) model made from each side's pretraining
 *     model: 2 to 5 again (VTC loss, drop path active).
 * Thresholds are in TOLS below. Prints one line per check and, per
 * gradient comparison, the tensors with the largest errors.
 *
 * SIMVTP_CUDA_PREC=fp32|bf16 runs one precision only.
 * SIMVTP_CUDA_SELFTEST=1 compares "cpu" with "cpu" instead (no GPU needed):
 * it checks this program, and every check must pass bit-exactly.
 *
 * Exit: 0 pass, 1 failure, 77 (skip) when libsimvtp was built without CUDA
 * or no CUDA device is present. */
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/backend.h"
#include "simvtp/simvtp.h"
#include "simvtp_build_config.h"

/* ------------------------------------------------------------------------
 * Thresholds (CUDA vs CPU), fp32 = "cuda:0:fp32", bf16 = "cuda:0".
 * Relative errors: |a-b|/|b| for losses (with an absolute floor LOSS_ABS),
 * ||a-b||/||b|| for tensors. fp32 is held to the parity test's 1e-4
 * (tests/parity: CPU vs PyTorch); bf16 rounds every matrix-unit input to
 * 8 significant bits, ~1e-2 on a loss, a few 1e-2 on a gradient tensor.
 * After AdamW steps bf16 is checked on the whole model only: Adam's first
 * steps move each weight by about +-lr whatever the gradient's size, so
 * elements whose gradient is near zero take the sign of bf16 noise.
 * ------------------------------------------------------------------------ */
static const struct tol_row {
    const char *what;
    double fp32, bf16;
} TOLS[] = {
    {"loss", 1e-4, 2e-2},          /* each loss of a forward(_backward)           */
    {"grad", 1e-4, 5e-2},          /* each parameter tensor's gradient            */
    {"grad-model", 1e-4, 2e-2},    /* all gradients as one vector                 */
    {"embed", 1e-4, 2e-2},         /* encode_videos / encode_texts                */
    {"step-loss", 1e-4, 2e-2},     /* losses of each simvtp_train_step            */
    /* gradient norm of train steps 2.. : the weights have already moved by
     * AdamW updates that differ in sign where a gradient is near zero (as
     * above), so the two models no longer match exactly. H100 run of
     * 2026-11-26 (bf16 GEMM operands): step 3 at 2.5e-2 (small) and 2.6e-2
     * (tiny); step 1, with equal weights, stays under "grad-model". */
    {"step-grad-norm", 1e-4, 5e-2},
    /* the opt-in bf16 fc1 output (SIMVTP_CUDA_H16=1): GELU and its
     * derivative see h rounded, as under PyTorch's autocast. A CPU
     * emulation of the bf16 table (every product operand, q/k/v and dO
     * rounded) gave the fine-tuning model 1.65e-2 as a whole and 4.8e-2 for
     * its worst tensor (video.fc_norm.bias; small preset, 4 clips; 1.06e-2
     * and 2.5e-2 with an fp32 h); the GPU rounds a little more (attention
     * probabilities, dS), hence these. */
    {"grad-h16", 1e-4, 1e-1},       /* each parameter tensor's gradient, bf16 h */
    {"grad-model-h16", 1e-4, 3e-2}, /* all gradients as one vector, bf16 h      */
    {"weights", 1e-4, -1},         /* each tensor after the steps (-1: not checked) */
    {"weights-model", 1e-4, 1e-2}, /* all weights after the steps                 */
};
/* Per-tensor gradient thresholds that differ from "grad" (substring of the
 * tensor name, fp32, bf16); the first match wins. Empty for now: a first
 * GPU run that shows a tensor needing more should add it here, with why. */
static const struct grad_override {
    const char *name_part;
    double fp32, bf16;
} GRAD_OVERRIDES[] = {
    {NULL, 0, 0},
};

#define LOSS_ABS 1e-6
#define STEPS 3
#define SEED 1234
#define NBATCH 3

static int g_prec; /* 0 fp32, 1 bf16 */
/* 0: leave out the same-bits variants of check_pair (3b), which switch
 * CUDA code paths by environment variables (test_cuda_step_emu with the
 * emulated attention kernels, where each forward_backward is slow and the
 * switches reach nothing) */
static int g_variants = 1;
static int n_pass, n_fail;

__attribute__((noinline)) static double tol(const char *what)
{
    for (size_t i = 0; i < sizeof TOLS / sizeof TOLS[0]; i++)
        if (!strcmp(TOLS[i].what, what)) return g_prec ? TOLS[i].bf16 : TOLS[i].fp32;
    fprintf(stderr, "test_cuda_step: no threshold %s\n", what);
    exit(1);
}

static double grad_tol(const char *name)
{
    for (size_t i = 0; i < sizeof GRAD_OVERRIDES / sizeof GRAD_OVERRIDES[0]; i++)
        if (GRAD_OVERRIDES[i].name_part && strstr(name, GRAD_OVERRIDES[i].name_part))
            return g_prec ? GRAD_OVERRIDES[i].bf16 : GRAD_OVERRIDES[i].fp32;
    return tol("grad");
}

static const char *pname(void) { return g_prec ? "bf16" : "fp32"; }

static void verdict(int ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void verdict(int ok, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("%s ", pname());
    vprintf(fmt, ap);
    va_end(ap);
    printf("  %s\n", ok ? "PASS" : "FAIL");
    fflush(stdout);
    if (ok) n_pass++; else n_fail++;
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "test_cuda_step: out of memory\n");
        exit(1);
    }
    return p;
}

/* a failed library call: one FAIL line, then `fail_return` (return -1 or
 * return) */
#define CHECK_OR(call, fail_return)                                                         \
    do {                                                                                    \
        int rc_ = (call);                                                                   \
        if (rc_ != SIMVTP_OK) {                                                             \
            printf("%s %s failed: %s: %s  FAIL\n", pname(), #call, simvtp_strerror(rc_),    \
                   simvtp_last_error());                                                    \
            n_fail++;                                                                       \
            fail_return;                                                                    \
        }                                                                                   \
    } while (0)
#define CHECK(call) CHECK_OR(call, return -1)
#define CHECK_VOID(call) CHECK_OR(call, return)

static uint64_t rng_s;
static uint64_t rnext(void)
{
    uint64_t z = (rng_s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* ------------------------------------------------------------------------
 * Batches: random uint8 clips; captions [CLS] w... [SEP] of random lengths
 * (4..min(20, max_text_len)), word ids in [1000, 30000), padded to the
 * longest of the batch.
 * ------------------------------------------------------------------------ */
typedef struct hbatch {
    uint8_t *frames;
    int32_t *tokens, *lengths;
    simvtp_batch b;
} hbatch;

static void make_batch(hbatch *h, const simvtp_config *c, int B)
{
    const size_t fb = (size_t)B * c->frames * c->height * c->width * 3;
    h->frames = xmalloc(fb);
    for (size_t i = 0; i < fb; i++) h->frames[i] = (uint8_t)rnext();
    const int lmax = c->max_text_len < 20 ? c->max_text_len : 20;
    h->lengths = xmalloc((size_t)B * sizeof(int32_t));
    int L = 0;
    for (int b = 0; b < B; b++) {
        h->lengths[b] = 4 + (int)(rnext() % (uint64_t)(lmax - 3));
        if (h->lengths[b] > L) L = h->lengths[b];
    }
    h->lengths[0] = lmax; /* one full-length caption */
    L = lmax;
    h->tokens = calloc((size_t)B * L, sizeof(int32_t));
    if (!h->tokens) exit(1);
    for (int b = 0; b < B; b++) {
        int32_t *row = h->tokens + (size_t)b * L;
        row[0] = 101;
        for (int l = 1; l < h->lengths[b] - 1; l++) row[l] = 1000 + (int32_t)(rnext() % 29000);
        row[h->lengths[b] - 1] = 102;
    }
    simvtp_batch bt = {sizeof bt, B, h->frames, L, h->tokens, h->lengths};
    h->b = bt;
}

/* [PRESET [BATCH]] (defaults *preset, *B) into *preset, cfg and *B; 0, or
 * -1 after the usage line */
static int parse_args(int argc, char **argv, const char *prog, const char **preset, simvtp_config *cfg, int *B)
{
    if (argc > 1) *preset = argv[1];
    if (argc > 2) *B = atoi(argv[2]);
    if (simvtp_config_preset(*preset, cfg) != SIMVTP_OK || *B < 2) {
        fprintf(stderr, "usage: %s [vit-b|small|tiny [BATCH>=2]]\n", prog);
        return -1;
    }
    return 0;
}

/* the NBATCH batches of a run, from a fixed seed */
static void make_batches(hbatch hb[NBATCH], const simvtp_config *c, int B)
{
    rng_s = 0xC0DA5EEDull;
    for (int k = 0; k < NBATCH; k++) make_batch(&hb[k], c, B);
}

static void free_batches(hbatch hb[NBATCH])
{
    for (int k = 0; k < NBATCH; k++) {
        free(hb[k].frames);
        free(hb[k].tokens);
        free(hb[k].lengths);
    }
}

/* ------------------------------------------------------------------------
 * Comparisons
 * ------------------------------------------------------------------------ */
static double rel(double a, double ref)
{
    const double d = fabs(a - ref);
    if (d <= LOSS_ABS) return 0.0;
    return ref != 0.0 ? d / fabs(ref) : INFINITY;
}

static double rel_vec(const float *a, const float *ref, size_t n, double *num2, double *den2)
{
    double num = 0.0, den = 0.0;
    for (size_t i = 0; i < n; i++) {
        const double d = (double)a[i] - (double)ref[i];
        num += d * d;
        den += (double)ref[i] * ref[i];
    }
    if (num2) *num2 += num;
    if (den2) *den2 += den;
    if (!isfinite(num)) return INFINITY;
    return den > 0 ? sqrt(num / den) : (num == 0 ? 0.0 : INFINITY);
}

static int compare_losses(const char *what, const simvtp_losses *g, const simvtp_losses *c,
                          const char *tolname, int retrieval)
{
    const double t = tol(tolname);
    const double e[5] = {rel(g->total, c->total), rel(g->video_mse, c->video_mse), rel(g->mlm, c->mlm),
                         rel(g->vtc, c->vtc), rel(g->vtm, c->vtm)};
    double worst = 0.0;
    for (int i = 0; i < 5; i++)
        if (!(e[i] <= worst)) worst = e[i];
    const int ok = worst <= t && (retrieval || g->masked_text == c->masked_text) &&
                   isfinite(g->total);
    verdict(ok, "%-34s total %.6f / cpu %.6f (mse %.2e mlm %.2e vtc %.2e vtm %.2e; masked %d/%d) "
                "max rel %.2e tol %.0e",
            what, (double)g->total, (double)c->total, e[1], e[2], e[3], e[4], g->masked_text,
            c->masked_text, worst, t);
    return ok;
}

typedef struct tens {
    int n;
    char **names;
    int64_t *numel;
    size_t total;
} tens;

static int tens_of(simvtp_model *m, tens *t)
{
    t->n = simvtp_model_num_tensors(m);
    if (t->n <= 0) return -1;
    t->names = xmalloc((size_t)t->n * sizeof(char *));
    t->numel = xmalloc((size_t)t->n * sizeof(int64_t));
    t->total = 0;
    for (int i = 0; i < t->n; i++) {
        t->names[i] = strdup(simvtp_model_tensor_name(m, i));
        t->numel[i] = simvtp_model_tensor_numel(m, i);
        t->total += (size_t)t->numel[i];
    }
    return 0;
}

static void tens_free(tens *t)
{
    for (int i = 0; i < t->n; i++) free(t->names[i]);
    free(t->names);
    free(t->numel);
}

/* All weights (grads = 0) or gradients (grads = 1) of m, tensor by tensor. */
static float *get_all(simvtp_model *m, const tens *t, int grads)
{
    float *all = xmalloc(t->total * sizeof(float)), *p = all;
    for (int i = 0; i < t->n; i++) {
        int rc = grads ? simvtp_model_grad_get(m, i, p) : simvtp_model_tensor_get(m, i, p);
        if (rc != SIMVTP_OK) {
            printf("%s get %s of %s failed: %s  FAIL\n", pname(), grads ? "gradient" : "weights",
                   t->names[i], simvtp_last_error());
            n_fail++;
            free(all);
            return NULL;
        }
        p += t->numel[i];
    }
    return all;
}

static int set_all(simvtp_model *m, const tens *t, const float *all)
{
    for (int i = 0; i < t->n; i++) {
        CHECK(simvtp_model_tensor_set(m, i, all));
        all += t->numel[i];
    }
    return 0;
}

/* Per-tensor comparison of two flat vectors; prints the worst five and any
 * failing tensor. mode: 0 gradients, 1 weights. */
static int compare_tensors(const char *what, const tens *t, const float *g, const float *c, int mode)
{
    double num = 0.0, den = 0.0;
    double *err = xmalloc((size_t)t->n * sizeof(double));
    int nbad = 0;
    /* mode 0: gradients (per-tensor table), 1: weights, 2: gradients with a bf16 h */
    const double tw = mode == 1 ? tol("weights") : mode == 2 ? tol("grad-h16") : 0;
    size_t off = 0;
    for (int i = 0; i < t->n; i++) {
        err[i] = rel_vec(g + off, c + off, (size_t)t->numel[i], &num, &den);
        const double ti = mode ? tw : grad_tol(t->names[i]);
        if (ti >= 0 && !(err[i] <= ti)) nbad++;
        off += (size_t)t->numel[i];
    }
    const double all = den > 0 ? sqrt(num / den) : (num == 0 ? 0 : INFINITY);
    const double tall = tol(mode == 1 ? "weights-model" : mode == 2 ? "grad-model-h16" : "grad-model");
    /* the five largest errors */
    int shown[5] = {-1, -1, -1, -1, -1};
    for (int k = 0; k < 5 && k < t->n; k++) {
        int best = -1;
        for (int i = 0; i < t->n; i++) {
            int used = 0;
            for (int j = 0; j < k; j++) used |= shown[j] == i;
            if (!used && (best < 0 || !(err[i] <= err[best]))) best = i;
        }
        shown[k] = best;
    }
    verdict(all <= tall && nbad == 0,
            "%-34s %d tensors: model rel %.2e (tol %.0e); %d tensors above their threshold "
            "(%s); worst %s %.2e",
            what, t->n, all, tall, nbad,
            mode == 2 ? "grad-h16" : mode ? (tw >= 0 ? "weights" : "not checked per tensor") : "grad table",
            t->n ? t->names[shown[0]] : "-", t->n ? err[shown[0]] : 0.0);
    for (int k = 0; k < 5 && k < t->n; k++)
        printf("       %-52s rel %.2e\n", t->names[shown[k]], err[shown[k]]);
    off = 0;
    for (int i = 0; i < t->n; i++) {
        const double ti = mode ? tw : grad_tol(t->names[i]);
        if (ti >= 0 && !(err[i] <= ti))
            printf("       FAIL %-47s rel %.2e > %.0e\n", t->names[i], err[i], ti);
    }
    free(err);
    return all <= tall && nbad == 0;
}

/* ------------------------------------------------------------------------
 * One model pair (c on the CPU, g on CUDA, same weights)
 * ------------------------------------------------------------------------ */
static int fb_pair(simvtp_model *m, const hbatch *hb, simvtp_losses l[2])
{
    CHECK(simvtp_model_zero_grad(m));
    l[0] = (simvtp_losses){.size = sizeof(simvtp_losses)};
    l[1] = (simvtp_losses){.size = sizeof(simvtp_losses)};
    CHECK(simvtp_model_forward_backward(m, &hb[0].b, 11, 1.0f, &l[0]));
    CHECK(simvtp_model_forward_backward(m, &hb[1].b, 12, 0.5f, &l[1]));
    return 0;
}

/* fb_pair on m again with the environment variable env=val (NULL: none) and
 * the checkpointing mode ckpt, both restored afterwards: the losses l and
 * gradients gr of the plain run, bit for bit. */
static void same_bits(simvtp_model *m, const hbatch *hb, const tens *t, const simvtp_losses l[2],
                      const float *gr, const char *kind, const char *label, const char *env,
                      const char *val, int ckpt)
{
    simvtp_losses l2[2];
    if (ckpt) CHECK_VOID(simvtp_model_set_option(m, SIMVTP_MODEL_OPT_CHECKPOINT_ACTIVATIONS, ckpt));
    if (env) setenv(env, val, 1);
    const int bad = fb_pair(m, hb, l2);
    if (env) unsetenv(env);
    if (ckpt) CHECK_VOID(simvtp_model_set_option(m, SIMVTP_MODEL_OPT_CHECKPOINT_ACTIVATIONS, 0));
    if (bad) return;
    float *g2 = get_all(m, t, 1);
    const int same_l = !memcmp(&l[0], &l2[0], sizeof l[0]) && !memcmp(&l[1], &l2[1], sizeof l[1]);
    const int same_g = gr && g2 && !memcmp(gr, g2, t->total * sizeof(float));
    char what[96];
    snprintf(what, sizeof what, "%s %s", kind, label);
    verdict(same_l && same_g, "%-34s losses %s, gradients %s", what, same_l ? "bit-identical" : "DIFFER",
            same_g ? "bit-identical" : "DIFFER");
    free(g2);
}

/* bf16, opt-in: the fc1 output h kept in bf16 (SIMVTP_CUDA_H16=1, core/
 * backend.h h_pin). GELU then sees h rounded: another function, so not the
 * default's bits (which shows that the switch works); compared with the
 * CPU (lc, gc) like the default, the gradients at their own thresholds
 * (TOLS "grad-h16"); the GELU backward unfused gives the same bits. */
static void bf16_h_checks(simvtp_model *g, simvtp_model *c, const hbatch *hb, const tens *t, const simvtp_losses lg[2],
                          const float *gg, const float *gc, const char *kind, int retrieval)
{
    simvtp_losses lh[2], lc[2];
    char what[96];
    setenv("SIMVTP_CUDA_H16", "1", 1);
    if (!fb_pair(g, hb, lh)) {
        float *gh = get_all(g, t, 1);
        const int same = !memcmp(lh, lg, sizeof lh) && gh && gg && !memcmp(gh, gg, t->total * sizeof(float));
        verdict(!same, "%-34s %s", kind, same ? "the same bits as an fp32 h: SIMVTP_CUDA_H16=1 did nothing"
                                              : "bf16 h (SIMVTP_CUDA_H16=1): other bits than an fp32 h");
        if (!fb_pair(c, hb, lc)) {
            for (int k = 0; k < 2; k++) {
                snprintf(what, sizeof what, "%s bf16 h, forward_backward #%d losses", kind, k + 1);
                compare_losses(what, &lh[k], &lc[k], "loss", retrieval);
            }
        }
        if (gh && gc) {
            snprintf(what, sizeof what, "%s bf16 h, gradients", kind);
            compare_tensors(what, t, gh, gc, 2);
        }
        same_bits(g, hb, t, lh, gh, kind, "bf16 h, GELU backward unfused", "SIMVTP_CUDA_GELU_FUSE", "0", 0);
        free(gh);
    }
    unsetenv("SIMVTP_CUDA_H16");
}

static int check_pair(const char *kind, simvtp_model *c, simvtp_model *g, const hbatch *hb,
                      const simvtp_config *cfg, int retrieval)
{
    tens t;
    char what[96];
    if (tens_of(c, &t)) return -1;
    if (simvtp_model_num_tensors(g) != t.n) {
        verdict(0, "%s: %d tensors on CUDA, %d on the CPU", kind, simvtp_model_num_tensors(g), t.n);
        tens_free(&t);
        return -1;
    }
    /* 2. accumulated forward_backward */
    simvtp_losses lc[2], lg[2], lg2[2];
    if (fb_pair(c, hb, lc) || fb_pair(g, hb, lg)) {
        tens_free(&t);
        return -1;
    }
    for (int k = 0; k < 2; k++) {
        snprintf(what, sizeof what, "%s forward_backward #%d losses", kind, k + 1);
        compare_losses(what, &lg[k], &lc[k], "loss", retrieval);
    }
    float *gc = get_all(c, &t, 1), *gg = get_all(g, &t, 1);
    if (gc && gg) {
        snprintf(what, sizeof what, "%s gradients (2 accumulated)", kind);
        compare_tensors(what, &t, gg, gc, 0);
    }
    /* 3. determinism */
    if (!fb_pair(g, hb, lg2)) {
        float *gg2 = get_all(g, &t, 1);
        const int same_l = !memcmp(&lg[0], &lg2[0], sizeof lg[0]) && !memcmp(&lg[1], &lg2[1], sizeof lg[1]);
        const int same_g = gg && gg2 && !memcmp(gg, gg2, t.total * sizeof(float));
        snprintf(what, sizeof what, "%s rerun on CUDA", kind);
        verdict(same_l && same_g, "%-34s losses %s, gradients %s", what,
                same_l ? "bit-identical" : "DIFFER", same_g ? "bit-identical" : "DIFFER");
        free(gg2);
    }
    /* 3b. variants that must give the same bits as the run above:
     *  - bf16: the products read a bf16 mirror of the weights made once per
     *    call; converting each weight at every product gives the same values;
     *  - bf16: the first fused attention (v1) makes the same products of the
     *    same bf16 values as v2 (tests/cuda/emu finds them equal);
     *  - bf16: the blocks' LayerNorm and GELU outputs kept as floats and
     *    converted by each product, instead of written in bf16 (the same
     *    round to nearest even of the same floats);
     *  - bf16: the attention output kept as floats instead of bf16 (the
     *    products round it as the kernel would; the backward's D reads it
     *    rounded either way; tests/cuda/emu checks the kernels);
     *  - bf16: the residual add and the LayerNorm after it as two kernels
     *    instead of one (cuda/ln_rows.cuh: the same arithmetic);
     *  - bf16: the GELU backward as its own kernel instead of inside the
     *    fc1 bias gradient's column sum (cuda/gelu_math.cuh: the same
     *    arithmetic);
     *  - bf16: a drop-path branch's gradient scaled by scale_rows first
     *    instead of inside the bias gradient's column sum (the same product);
     *  - the column sums of the backward (bias, LayerNorm dw/db) finished by
     *    a second kernel instead of the grid's last block (the same sums in
     *    the same order; tests/cuda/emu checks it without a GPU), and with
     *    one or four columns per thread whatever the shape (likewise);
     *  - activation checkpointing, whole blocks and selective: the same
     *    kernels recompute the same activations;
     *  - the buffers the graph allocates raw (core/backend.h alloc_raw: left
     *    as the pool hands them out) filled with NaN bytes, then with zeros:
     *    the graph writes each of them in full before reading it. */
    if (g_prec && g_variants) {
        same_bits(g, hb, &t, lg, gg, kind, "without the weight mirror", "SIMVTP_CUDA_WEIGHT_MIRROR", "0", 0);
        same_bits(g, hb, &t, lg, gg, kind, "with attention v1", "SIMVTP_CUDA_ATTENTION", "flash1", 0);
        same_bits(g, hb, &t, lg, gg, kind, "with fp32 product inputs", "SIMVTP_CUDA_PIN16", "0", 0);
        same_bits(g, hb, &t, lg, gg, kind, "with an fp32 attention output", "SIMVTP_CUDA_O16", "0", 0);
        same_bits(g, hb, &t, lg, gg, kind, "with the GELU backward unfused", "SIMVTP_CUDA_GELU_FUSE", "0", 0);
        same_bits(g, hb, &t, lg, gg, kind, "with residual and LayerNorm unfused", "SIMVTP_CUDA_RESLN", "0", 0);
        same_bits(g, hb, &t, lg, gg, kind, "with the drop-path scale unfused", "SIMVTP_CUDA_ROWSCALE_FUSE", "0", 0);
    }
    if (g_prec) bf16_h_checks(g, c, hb, &t, lg, gg, gc, kind, retrieval);
    if (g_variants) {
        same_bits(g, hb, &t, lg, gg, kind, "with two-launch column sums", "SIMVTP_CUDA_COLSUM", "2pass", 0);
        same_bits(g, hb, &t, lg, gg, kind, "with one-column column sums", "SIMVTP_CUDA_COLSUM_VEC", "0", 0);
        same_bits(g, hb, &t, lg, gg, kind, "with four-column column sums", "SIMVTP_CUDA_COLSUM_VEC", "1", 0);
        same_bits(g, hb, &t, lg, gg, kind, "with NaN-filled raw buffers", "SIMVTP_CUDA_RAW_FILL", "nan", 0);
        same_bits(g, hb, &t, lg, gg, kind, "with zero-filled raw buffers", "SIMVTP_CUDA_RAW_FILL", "zero", 0);
        same_bits(g, hb, &t, lg, gg, kind, "with checkpointing", NULL, NULL, SIMVTP_CHECKPOINT_BLOCKS);
        same_bits(g, hb, &t, lg, gg, kind, "with selective checkpointing", NULL, NULL,
                  SIMVTP_CHECKPOINT_SELECTIVE);
    }
    free(gc);
    free(gg);
    /* 4. forward only and embeddings */
    simvtp_losses fc = {sizeof fc}, fg = {sizeof fg};
    if (simvtp_model_forward(c, &hb[2].b, 21, &fc) == SIMVTP_OK &&
        simvtp_model_forward(g, &hb[2].b, 21, &fg) == SIMVTP_OK) {
        snprintf(what, sizeof what, "%s forward losses", kind);
        compare_losses(what, &fg, &fc, "loss", retrieval);
    } else {
        verdict(0, "%s simvtp_model_forward failed: %s", kind, simvtp_last_error());
    }
    const int B = hb[2].b.batch, E = simvtp_model_embed_dim(c);
    float *ec = xmalloc((size_t)B * E * sizeof(float)), *eg = xmalloc((size_t)B * E * sizeof(float));
    for (int which = 0; which < 2; which++) {
        int rc1, rc2;
        if (which == 0) {
            rc1 = simvtp_encode_videos(c, hb[2].b.frames, B, ec);
            rc2 = simvtp_encode_videos(g, hb[2].b.frames, B, eg);
        } else {
            rc1 = simvtp_encode_texts(c, hb[2].b.tokens, hb[2].b.lengths, B, hb[2].b.max_len, ec);
            rc2 = simvtp_encode_texts(g, hb[2].b.tokens, hb[2].b.lengths, B, hb[2].b.max_len, eg);
        }
        const double e = rc1 || rc2 ? INFINITY : rel_vec(eg, ec, (size_t)B * E, NULL, NULL);
        verdict(e <= tol("embed"), "%s %-27s rel %.2e tol %.0e%s%s", kind,
                which ? "encode_texts" : "encode_videos", e, tol("embed"),
                rc1 || rc2 ? "  error: " : "", rc1 || rc2 ? simvtp_last_error() : "");
    }
    free(ec);
    free(eg);
    /* 5. AdamW steps from equal weights */
    float *w0 = get_all(c, &t, 0);
    simvtp_optimizer_params op;
    simvtp_optimizer_default_params(&op);
    op.lr = 1e-3f;
    op.seed = 99;
    op.clip_norm = 1.0f;
    if (retrieval) op.beta2 = 0.999f;
    simvtp_optimizer *oc = NULL, *og = NULL;
    if (w0 && simvtp_optimizer_create(c, &op, &oc) == SIMVTP_OK &&
        simvtp_optimizer_create(g, &op, &og) == SIMVTP_OK) {
        for (int s = 0; s < STEPS; s++) {
            simvtp_losses sc = {sizeof sc}, sg = {sizeof sg};
            simvtp_step_info ic = {sizeof ic}, ig = {sizeof ig};
            int r1 = simvtp_train_step(oc, &hb[s % NBATCH].b, &sc, &ic);
            int r2 = simvtp_train_step(og, &hb[s % NBATCH].b, &sg, &ig);
            if (r1 || r2) {
                verdict(0, "%s train step %d failed: %s", kind, s, simvtp_last_error());
                break;
            }
            snprintf(what, sizeof what, "%s train step %d losses", kind, s + 1);
            compare_losses(what, &sg, &sc, "step-loss", retrieval);
            const double ge = rel(ig.grad_norm, ic.grad_norm);
            const double gt = tol(s == 0 ? "grad-model" : "step-grad-norm");
            verdict(ge <= gt && ig.updated == ic.updated,
                    "%s train step %d grad_norm %.6g / cpu %.6g rel %.2e tol %.0e", kind, s + 1,
                    (double)ig.grad_norm, (double)ic.grad_norm, ge, gt);
        }
        float *wc = get_all(c, &t, 0), *wg = get_all(g, &t, 0);
        if (wc && wg) {
            snprintf(what, sizeof what, "%s weights after %d steps", kind, STEPS);
            compare_tensors(what, &t, wg, wc, 1);
            /* for information: the error of the update itself */
            double num = 0, den = 0;
            for (size_t i = 0; i < t.total; i++) {
                const double dc = (double)wc[i] - w0[i], dg = (double)wg[i] - w0[i];
                num += (dg - dc) * (dg - dc);
                den += dc * dc;
            }
            printf("%s %-34s update rel err %.2e (information)\n", pname(), what,
                   den > 0 ? sqrt(num / den) : 0.0);
        }
        free(wc);
        free(wg);
        /* back to the starting weights for whoever comes next */
        set_all(c, &t, w0);
        set_all(g, &t, w0);
    } else {
        verdict(0, "%s optimizer creation failed: %s", kind, simvtp_last_error());
    }
    simvtp_optimizer_free(oc);
    simvtp_optimizer_free(og);
    free(w0);
    tens_free(&t);
    (void)cfg;
    return 0;
}

static int run_precision(const char *bname, const simvtp_config *cfg, const hbatch *hb)
{
    simvtp_model_params pc, pg;
    simvtp_model_default_params(&pc);
    simvtp_model_default_params(&pg);
    pc.seed = pg.seed = SEED;
    pg.backend = bname;
    simvtp_model *c = NULL, *g = NULL, *rc = NULL, *rg = NULL;
    CHECK(simvtp_model_create(cfg, &pc, &c));
    int rcode = simvtp_model_create(cfg, &pg, &g);
    if (rcode != SIMVTP_OK) {
        printf("%s simvtp_model_create on %s failed: %s: %s  FAIL\n", pname(), bname,
               simvtp_strerror(rcode), simvtp_last_error());
        n_fail++;
        simvtp_model_free(c);
        return -1;
    }
    tens t;
    if (tens_of(c, &t)) return -1;
    float *wc = get_all(c, &t, 0), *wg = get_all(g, &t, 0);
    if (wc && wg) {
        size_t diff = 0;
        for (size_t i = 0; i < t.total; i++) diff += memcmp(&wc[i], &wg[i], sizeof(float)) != 0;
        printf("%s same seed on cpu and %s: %s (%zu of %zu weights differ; information: "
               "the CUDA model gets the CPU weights next)\n",
               pname(), bname, diff ? "different initial weights" : "identical initial weights", diff,
               t.total);
        set_all(g, &t, wc);
        float *back = get_all(g, &t, 0);
        verdict(back && !memcmp(back, wc, t.total * sizeof(float)),
                "%-34s tensor_set then tensor_get on %s round-trips every weight", "pretrain weights", bname);
        free(back);
    }
    free(wc);
    free(wg);
    tens_free(&t);

    check_pair("pretrain", c, g, hb, cfg, 0);

    simvtp_model_params rpc = pc, rpg = pg;
    rpc.seed = rpg.seed = SEED + 1;
    if (simvtp_model_create_retrieval(c, &rpc, &rc) == SIMVTP_OK &&
        simvtp_model_create_retrieval(g, &rpg, &rg) == SIMVTP_OK) {
        tens tr;
        if (!tens_of(rc, &tr)) {
            float *a = get_all(rc, &tr, 0), *b = get_all(rg, &tr, 0);
            const int same = a && b && !memcmp(a, b, tr.total * sizeof(float));
            verdict(same, "%-34s identical weights from equal pretraining models", "create_retrieval");
            if (a && !same) set_all(rg, &tr, a);
            free(a);
            free(b);
            tens_free(&tr);
        }
        check_pair("retrieval", rc, rg, hb, cfg, 1);
    } else {
        verdict(0, "simvtp_model_create_retrieval failed: %s", simvtp_last_error());
    }
    simvtp_model_free(rc);
    simvtp_model_free(rg);
    simvtp_model_free(c);
    simvtp_model_free(g);
    return 0;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    const char *self = getenv("SIMVTP_CUDA_SELFTEST");
    const int selftest = self && *self && strcmp(self, "0");
    if (!selftest) {
#if !SIMVTP_HAVE_CUDA
        printf("SKIP: libsimvtp was built without CUDA (meson -Dcuda=enabled on a machine with nvcc)\n");
        return 77;
#else
        if (sv_cuda_device_count() <= 0) {
            printf("SKIP: no CUDA device\n");
            return 77;
        }
#endif
    }
    simvtp_config cfg;
    const char *preset = "small";
    int B = 4;
    if (parse_args(argc, argv, "test_cuda_step", &preset, &cfg, &B)) return 1;
    hbatch hb[NBATCH];
    make_batches(hb, &cfg, B);
    printf("test_cuda_step: preset %s, batch %d, caption length %d\n", preset, B, hb[0].b.max_len);
    const char *names[2] = {"cuda:0:fp32", "cuda:0"};
    if (selftest) {
        names[0] = names[1] = "cpu";
        printf("SELFTEST: \"cpu\" against \"cpu\" (every check must pass exactly)\n");
    }
    for (g_prec = 0; g_prec < 2; g_prec++) {
        const char *want = getenv("SIMVTP_CUDA_PREC");
        if (want && *want && strcmp(want, pname())) continue;
        printf("== %s vs cpu ==\n", names[g_prec]);
        run_precision(names[g_prec], &cfg, hb);
    }
    free_batches(hb);
    printf("test_cuda_step (%s): %d passed, %d failed\n", preset, n_pass, n_fail);
    return n_fail ? 1 : 0;
}

/* bench/bench_ops.c — time of each backend op at the vit-b step's shapes
 * (16 clips), through the internal backend table: where a GPU step spends
 * its time before anything is fused.
 *
 *   bench_ops [--backend cuda:0] [--reps 20] [--batch 16] [--only GROUP]
 *
 * GROUP (one of matmul, attn, layernorm, elementwise, fused, ce, rows,
 * adamw, upload) runs that group of cases alone (e.g. under a profiler).
 *
 * For every case: inputs drawn at random on the host and uploaded; --reps/4
 * untimed calls, then --reps calls between two finish() (each finish waits
 * for the device, so the mean includes launch gaps but no host work), and one
 * line:
 *   OP name shape ms=... tflops=... gbps=...
 * tflops counts the multiply-adds of a matrix op (2 per MAC), gbps the bytes
 * each call must move at least once (inputs read, outputs written). Checking
 * values is the job of tests/cuda; this only times. The bf16 table's fused
 * ops are timed next to the pairs of ops they replace (".two" / ".fused").
 * Exit 77 when the backend
 * is not available (no CUDA build or no device), 1 on an op error. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/backend.h"
#include "core/rng.h"
#include "simvtp/status.h"

static const sv_backend *be;
static int reps = 20;
static sv_rng rng;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* n random floats in [-1, 1) on the backend (NULL: fatal). */
static float *rnd(size_t n)
{
    float *h = malloc(n * sizeof(float)), *d = be->alloc(n * sizeof(float));
    if (!h || !d) {
        fprintf(stderr, "bench_ops: out of memory for %zu floats\n", n);
        exit(1);
    }
    for (size_t i = 0; i < n; i++) h[i] = 2.0f * sv_rng_uniform(&rng) - 1.0f;
    be->memcpy_h2d(d, h, n * sizeof(float));
    free(h);
    return d;
}

static int32_t *ints(size_t n, int32_t (*f)(size_t i, void *u), void *u)
{
    int32_t *h = malloc(n * sizeof(int32_t)), *d = be->alloc(n * sizeof(int32_t));
    if (!h || !d) exit(1);
    for (size_t i = 0; i < n; i++) h[i] = f(i, u);
    be->memcpy_h2d(d, h, n * sizeof(int32_t));
    free(h);
    return d;
}

static int32_t f_zero(size_t i, void *u) { (void)i; (void)u; return 0; }
static int32_t f_mod(size_t i, void *u) { return (int32_t)(i % (size_t)*(int *)u); }
static int32_t f_target(size_t i, void *u) { (void)i; return (int32_t)sv_rng_below(&rng, (uint32_t)*(int *)u); }

/* Runs op() reps times after a warm-up; prints the line. */
static void timeit(const char *name, const char *shape, double flops, double bytes, void (*op)(void *),
                   void *arg)
{
    for (int i = 0; i < (reps + 3) / 4; i++) op(arg);
    int rc = be->finish(be);
    double t0 = now();
    for (int i = 0; i < reps; i++) op(arg);
    if (!rc) rc = be->finish(be);
    double ms = (now() - t0) * 1e3 / reps;
    if (rc) {
        fprintf(stderr, "bench_ops: %s failed: %s: %s\n", name, simvtp_strerror(rc), simvtp_last_error());
        exit(1);
    }
    printf("OP %-16s %-28s ms=%8.4f tflops=%7.2f gbps=%7.1f\n", name, shape, ms,
           flops > 0 ? flops / (ms * 1e-3) / 1e12 : 0.0, bytes > 0 ? bytes / (ms * 1e-3) / 1e9 : 0.0);
    fflush(stdout);
}

/* ---- cases ---- */
typedef struct mm { int M, K, N; float *x, *w, *b, *y, *dx, *dw, *db, *dy; } mm;
static void mm_fwd(void *p) { mm *a = p; be->matmul_fwd(a->y, a->x, a->w, a->b, a->M, a->K, a->N); }
static void mm_bwd(void *p) { mm *a = p; be->matmul_bwd(a->dx, a->dw, a->db, a->dy, a->x, a->w, a->M, a->K, a->N); }

static void bench_matmul(const char *name, int M, int K, int N)
{
    mm a = {M, K, N, rnd((size_t)M * K), rnd((size_t)N * K), rnd(N), rnd((size_t)M * N),
            rnd((size_t)M * K), rnd((size_t)N * K), rnd(N), rnd((size_t)M * N)};
    char shape[64];
    snprintf(shape, sizeof shape, "M%d K%d N%d", M, K, N);
    double mac = (double)M * K * N, f = 4.0;
    char n2[48];
    snprintf(n2, sizeof n2, "%s.fwd", name);
    timeit(n2, shape, 2 * mac, f * ((double)M * K + (double)N * K + (double)M * N), mm_fwd, &a);
    snprintf(n2, sizeof n2, "%s.bwd", name);
    timeit(n2, shape, 4 * mac, f * 2 * ((double)M * K + (double)N * K + (double)M * N), mm_bwd, &a);
    float *ptrs[] = {a.x, a.w, a.b, a.y, a.dx, a.dw, a.db, a.dy};
    for (size_t i = 0; i < 8; i++) be->free(ptrs[i]);
}

typedef struct at { int B, N, H, hd; float *qkv, *out, *att, *dout, *dqkv; uint8_t *valid; } at;
static void at_fwd(void *p) { at *a = p; be->attention_fwd(a->out, a->att, a->qkv, a->valid, a->B, a->N, a->H, a->hd); }
static void at_bwd(void *p) { at *a = p; be->attention_bwd(a->dqkv, a->dout, a->qkv, a->out, a->att, a->valid, a->B, a->N, a->H, a->hd); }

static void bench_attention(const char *name, int B, int N, int H, int hd)
{
    const size_t C = (size_t)H * hd, R = (size_t)B * N;
    at a = {B, N, H, hd, rnd(R * 3 * C), rnd(R * C), rnd(be->attention_saved(B, N, H, hd)), rnd(R * C),
            rnd(R * 3 * C), NULL};
    char shape[64], n2[48];
    snprintf(shape, sizeof shape, "B%d N%d H%d hd%d", B, N, H, hd);
    double mac = 2.0 * B * H * (double)N * N * hd;
    snprintf(n2, sizeof n2, "%s.fwd", name);
    timeit(n2, shape, 2 * mac, 4.0 * 4 * R * C, at_fwd, &a);
    snprintf(n2, sizeof n2, "%s.bwd", name);
    timeit(n2, shape, 4 * mac, 4.0 * 8 * R * C, at_bwd, &a);
    be->free(a.qkv); be->free(a.out); be->free(a.att); be->free(a.dout); be->free(a.dqkv);
}

typedef struct ln { int M, C; float *x, *w, *b, *y, *mu, *rs, *dx, *dw, *db, *dy; } ln;
static void ln_fwd(void *p) { ln *a = p; be->layernorm_fwd(a->y, a->mu, a->rs, a->x, a->w, a->b, a->M, a->C, 1e-6f); }
static void ln_bwd(void *p) { ln *a = p; be->layernorm_bwd(a->dx, a->dw, a->db, a->dy, a->x, a->w, a->mu, a->rs, a->M, a->C); }

static void bench_layernorm(int M, int C)
{
    const size_t n = (size_t)M * C;
    ln a = {M, C, rnd(n), rnd(C), rnd(C), rnd(n), rnd(M), rnd(M), rnd(n), rnd(C), rnd(C), rnd(n)};
    be->layernorm_fwd(a.y, a.mu, a.rs, a.x, a.w, a.b, M, C, 1e-6f); /* real statistics */
    char shape[64];
    snprintf(shape, sizeof shape, "M%d C%d", M, C);
    timeit("layernorm.fwd", shape, 0, 4.0 * 2 * n, ln_fwd, &a);
    timeit("layernorm.bwd", shape, 0, 4.0 * 3 * n, ln_bwd, &a);
    setenv("SIMVTP_CUDA_COLSUM_VEC", "0", 1); /* dw, db one column per thread (same bits) */
    timeit("layernorm.bwd.cs1", shape, 0, 4.0 * 3 * n, ln_bwd, &a);
    unsetenv("SIMVTP_CUDA_COLSUM_VEC");
    setenv("SIMVTP_CUDA_LN_VEC", "0", 1); /* the rows one column per lane */
    timeit("layernorm.fwd.ln1", shape, 0, 4.0 * 2 * n, ln_fwd, &a);
    timeit("layernorm.bwd.ln1", shape, 0, 4.0 * 3 * n, ln_bwd, &a);
    unsetenv("SIMVTP_CUDA_LN_VEC");
    float *ptrs[] = {a.x, a.w, a.b, a.y, a.mu, a.rs, a.dx, a.dw, a.db, a.dy};
    for (size_t i = 0; i < 10; i++) be->free(ptrs[i]);
}

typedef struct ew { size_t n; float *x, *y, *dx, *dy; } ew;
static void gelu_f(void *p) { ew *a = p; be->gelu_fwd(a->y, a->x, a->n); }
static void gelu_b(void *p) { ew *a = p; be->gelu_bwd(a->dx, a->x, a->dy, a->n); }
static void resid(void *p) { ew *a = p; be->residual(a->y, a->x, NULL, 1, (int)(a->n / 768), 768); }

static void bench_elementwise(size_t n)
{
    ew a = {n, rnd(n), rnd(n), rnd(n), rnd(n)};
    char shape[64];
    snprintf(shape, sizeof shape, "n%zu", n);
    timeit("gelu.fwd", shape, 0, 4.0 * 2 * n, gelu_f, &a);
    timeit("gelu.bwd", shape, 0, 4.0 * 4 * n, gelu_b, &a);
    timeit("residual", shape, 0, 4.0 * 3 * n, resid, &a);
    be->free(a.x); be->free(a.y); be->free(a.dx); be->free(a.dy);
}

/* The bf16 table's fused ops next to the ops they replace (core/backend.h
 * pin_bytes): the residual add and LayerNorm, the fc1 backward with the
 * GELU backward, a product reading a bf16 input, and fc1 + GELU with the
 * fc1 output h in fp32 and in bf16 (h_pin). */
typedef struct fu {
    int M, C, F;
    float *x, *y, *w, *b, *mu, *rs, *h, *dg, *dh, *dx, *fw, *fb, *dfw, *dfb;
    void *ln16, *h16, *g16;
} fu;
static void fu_two(void *p)
{
    fu *a = p;
    be->residual(a->y, a->x, NULL, 1, a->M, a->C);
    be->layernorm_fwd_pin(a->ln16, a->mu, a->rs, a->y, a->w, a->b, a->M, a->C, 1e-6f);
}
static void fu_one(void *p)
{
    fu *a = p;
    be->residual_layernorm_fwd_pin(a->y, a->x, NULL, a->ln16, a->mu, a->rs, a->w, a->b, 1, a->M, a->C, 1e-6f);
}
static void fu_gelu_two(void *p)
{
    fu *a = p;
    be->gelu_bwd(a->dh, a->h, a->dg, (size_t)a->M * a->F);
    be->matmul_bwd_pin(a->dx, a->dfw, a->dfb, a->dh, a->ln16, a->fw, a->M, a->C, a->F);
}
static void fu_gelu_one(void *p)
{
    fu *a = p;
    be->gelu_matmul_bwd(a->dx, a->dfw, a->dfb, a->dg, a->h, a->ln16, a->fw, a->M, a->C, a->F);
}
static void fu_mm16(void *p) { fu *a = p; be->matmul_fwd_pin(a->h, a->ln16, a->fw, a->fb, a->M, a->C, a->F); }
static void fu_fc1_h32(void *p)
{
    fu *a = p;
    be->matmul_fwd_pin(a->h, a->ln16, a->fw, a->fb, a->M, a->C, a->F);
    be->gelu_fwd_pin(a->g16, a->h, (size_t)a->M * a->F);
}
static void fu_fc1_h16(void *p)
{
    fu *a = p;
    be->matmul_fwd_pin_out(a->h16, a->ln16, a->fw, a->fb, a->M, a->C, a->F);
    be->gelu_fwd_pin_h(a->g16, a->h16, (size_t)a->M * a->F);
}
static void fu_out16(void *p) { fu *a = p; be->matmul_fwd_pin_out(a->h16, a->ln16, a->fw, a->fb, a->M, a->C, a->F); }
static void fu_gelu_h16(void *p)
{
    fu *a = p;
    be->gelu_matmul_bwd_pin_h(a->dx, a->dfw, a->dfb, a->dg, a->h16, a->ln16, a->fw, a->M, a->C, a->F);
}

static void bench_fused(int M, int C, int F)
{
    if (!be->pin_bytes || be->pin_bytes() != 2 || !be->residual_layernorm_fwd_pin || !be->gelu_matmul_bwd) return;
    const size_t n = (size_t)M * C, nf = (size_t)M * F;
    fu a = {M, C, F, rnd(n), rnd(n), rnd(C), rnd(C), rnd(M), rnd(M), rnd(nf), rnd(nf), rnd(nf), rnd(n),
            rnd((size_t)F * C), rnd(F), rnd((size_t)F * C), rnd(F), be->alloc(n * 2), be->alloc(nf * 2),
            be->alloc(nf * 2)};
    if (!a.ln16 || !a.h16 || !a.g16) exit(1);
    be->layernorm_fwd_pin(a.ln16, a.mu, a.rs, a.x, a.w, a.b, M, C, 1e-6f); /* real bf16 values */
    char shape[64];
    snprintf(shape, sizeof shape, "M%d C%d", M, C);
    timeit("resid+ln.two", shape, 0, 4.0 * 3 * n + 2.0 * n, fu_two, &a);
    timeit("resid+ln.fused", shape, 0, 4.0 * 3 * n + 2.0 * n, fu_one, &a);
    setenv("SIMVTP_CUDA_LN_VEC", "0", 1);
    timeit("resid+ln.fused.ln1", shape, 0, 4.0 * 3 * n + 2.0 * n, fu_one, &a);
    unsetenv("SIMVTP_CUDA_LN_VEC");
    snprintf(shape, sizeof shape, "M%d K%d N%d", M, C, F);
    const double mac = (double)M * C * F;
    timeit("fc1.fwd.bf16in", shape, 2 * mac, 2.0 * n + 2.0 * F * C + 4.0 * nf, fu_mm16, &a);
    timeit("fc1.bwd+gelu.two", shape, 4 * mac, 4.0 * 2 * nf, fu_gelu_two, &a);
    timeit("fc1.bwd+gelu.fused", shape, 4 * mac, 4.0 * 2 * nf, fu_gelu_one, &a);
    /* the column sums one column per thread (same bits); the product kept
     * in bf16 (fp32 scratch, then one rounding pass) */
    setenv("SIMVTP_CUDA_COLSUM_VEC", "0", 1);
    timeit("fc1.bwd+gelu.cs1", shape, 4 * mac, 4.0 * 2 * nf, fu_gelu_one, &a);
    unsetenv("SIMVTP_CUDA_COLSUM_VEC");
    if (be->matmul_fwd_pin_out)
        timeit("fc1.fwd.bf16out", shape, 2 * mac, 2.0 * n + 2.0 * F * C + 2.0 * nf, fu_out16, &a);
    if (be->h_pin && be->h_pin()) {
        be->matmul_fwd_pin_out(a.h16, a.ln16, a.fw, a.fb, M, C, F); /* real bf16 values */
        timeit("fc1+gelu.fwd.h32", shape, 2 * mac, 2.0 * n + 4.0 * 2 * nf + 2.0 * nf, fu_fc1_h32, &a);
        timeit("fc1+gelu.fwd.h16", shape, 2 * mac, 2.0 * n + 4.0 * nf + 2.0 * 3 * nf, fu_fc1_h16, &a);
        timeit("fc1.bwd+gelu.h16", shape, 4 * mac, 4.0 * nf + 2.0 * nf, fu_gelu_h16, &a);
    }
    float *ptrs[] = {a.x, a.y, a.w, a.b, a.mu, a.rs, a.h, a.dg, a.dh, a.dx, a.fw, a.fb, a.dfw, a.dfb};
    for (size_t i = 0; i < sizeof ptrs / sizeof ptrs[0]; i++) be->free(ptrs[i]);
    be->free(a.ln16);
    be->free(a.h16);
    be->free(a.g16);
}

typedef struct ce { int M, V; float *logits, *probs, *loss, *dl, *dlog; int32_t *t; } ce;
static void ce_f(void *p) { ce *a = p; be->softmax_ce_fwd(a->loss, a->probs, a->logits, a->t, a->M, a->V); }
static void ce_b(void *p) { ce *a = p; be->softmax_ce_bwd(a->dlog, a->probs, a->t, a->dl, a->M, a->V); }

static void bench_ce(int M, int V)
{
    const size_t n = (size_t)M * V;
    ce a = {M, V, rnd(n), rnd(n), rnd(M), rnd(M), rnd(n), ints(M, f_target, &V)};
    char shape[64];
    snprintf(shape, sizeof shape, "M%d V%d", M, V);
    timeit("softmax_ce.fwd", shape, 0, 4.0 * 2 * n, ce_f, &a);
    timeit("softmax_ce.bwd", shape, 0, 4.0 * 3 * n, ce_b, &a);
    be->free(a.logits); be->free(a.probs); be->free(a.loss); be->free(a.dl); be->free(a.dlog); be->free(a.t);
}

typedef struct rs { int n, C, nseg; float *dst, *src; int32_t *idx, *sd, *so; } rs;
static void rows_cp(void *p) { rs *a = p; be->rows_copy(a->dst, NULL, a->src, a->idx, a->n, a->C); }
static void rows_seg(void *p) { rs *a = p; be->rows_add_seg(a->dst, a->sd, a->so, NULL, a->nseg, a->src, a->C); }

static void bench_rows(int n, int C)
{
    int one = 1, mod = n;
    int32_t offs[2] = {0, n};
    rs a = {n, C, 1, rnd((size_t)n * C), rnd((size_t)n * C), ints(n, f_mod, &mod), ints(1, f_zero, &one), NULL};
    a.so = be->alloc(sizeof offs);
    be->memcpy_h2d(a.so, offs, sizeof offs);
    char shape[64];
    snprintf(shape, sizeof shape, "n%d C%d", n, C);
    timeit("rows_copy", shape, 0, 4.0 * 2 * n * (double)C, rows_cp, &a);
    snprintf(shape, sizeof shape, "1 segment of %d, C%d", n, C);
    timeit("rows_add_seg", shape, 0, 4.0 * n * (double)C, rows_seg, &a);
    be->free(a.dst); be->free(a.src); be->free(a.idx); be->free(a.sd); be->free(a.so);
}

typedef struct ad { size_t n; float *w, *g, *m, *v; sv_adamw_args args; } ad;
static void adamw(void *p) { ad *a = p; be->adamw(a->w, a->g, a->m, a->v, a->n, &a->args); }
static void sumsq(void *p) { ad *a = p; (void)be->sumsq(a->g, a->n); }

static void bench_adamw(size_t n)
{
    ad a = {n, rnd(n), rnd(n), rnd(n), rnd(n), {1.0f, 0.99f, 0.9f, 0.95f, 1e-8f, 1e-4f, 0.5f}};
    be->zero(a.v, n * sizeof(float)); /* v >= 0 */
    char shape[64];
    snprintf(shape, sizeof shape, "n%zu", n);
    timeit("adamw", shape, 0, 4.0 * 7 * n, adamw, &a);
    timeit("sumsq", shape, 0, 4.0 * n, sumsq, &a);
    be->free(a.w); be->free(a.g); be->free(a.m); be->free(a.v);
}

/* A batch's frames uploaded from pageable host memory (what a step does
 * first, the GPU idle meanwhile), next to one plain host memcpy of them: the
 * upload's floor before it was chunked and threaded (core/host_copy.c). */
typedef struct up { size_t n; unsigned char *h, *h2, *d; } up;
static void upload(void *p) { up *a = p; be->memcpy_h2d(a->d, a->h, a->n); }
static void host_memcpy(void *p) { up *a = p; memcpy(a->h2, a->h, a->n); }

static void bench_upload(size_t n)
{
    up a = {n, malloc(n), malloc(n), be->alloc(n)};
    if (!a.h || !a.h2 || !a.d) exit(1);
    for (size_t i = 0; i < n; i++) a.h[i] = (unsigned char)(i * 2654435761u >> 13);
    memset(a.h2, 0, n);
    char shape[64];
    snprintf(shape, sizeof shape, "%zu bytes", n);
    timeit("upload.frames", shape, 0, (double)n, upload, &a);
    timeit("host.memcpy", shape, 0, (double)n, host_memcpy, &a);
    be->free(a.d); free(a.h); free(a.h2);
}

static const char *only; /* --only GROUP, or NULL: all */
static int want(const char *group) { return !only || !strcmp(only, group); }

int main(int argc, char **argv)
{
    const char *name = "cuda:0";
    int B = 16;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--backend") && i + 1 < argc) name = argv[++i];
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--batch") && i + 1 < argc) B = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--only") && i + 1 < argc) only = argv[++i];
        else {
            fprintf(stderr, "usage: bench_ops [--backend cuda:0] [--reps 20] [--batch 16] [--only GROUP]\n");
            return 2;
        }
    }
    static const char *groups[] = {"matmul", "attn", "layernorm", "elementwise", "fused", "ce", "rows", "adamw",
                                   "upload"};
    int known = !only;
    for (size_t g = 0; g < sizeof groups / sizeof groups[0]; g++) known |= only && !strcmp(only, groups[g]);
    if (!known) {
        fprintf(stderr, "bench_ops: --only %s: not a group (matmul attn layernorm elementwise fused ce rows adamw "
                        "upload)\n", only);
        return 2;
    }
    if (B < 1 || B > 256) B = 16;
    if (reps < 1) reps = 1;
    if (sv_backend_get(name, &be) || be->activate(be)) {
        printf("SKIP: backend %s: %s\n", name, simvtp_last_error());
        return 77;
    }
    sv_rng_seed(&rng, 1);
    printf("bench_ops: backend %s, %d timed calls per case (vit-b step shapes, %d clips)\n", be->name,
           reps, B);
    const int Sj = 157 + 32, Nd = 1568;
    if (want("matmul")) {
        bench_matmul("qkv", B * Sj, 768, 2304);
        bench_matmul("fc1", B * Sj, 768, 3072);
        bench_matmul("fc2", B * Sj, 3072, 768);
        bench_matmul("dec.qkv", B * Nd, 384, 1152);
        bench_matmul("dec.fc1", B * Nd, 384, 1536);
        bench_matmul("mlm_head", B * 24, 768, 30522);
    }
    /* the fused attention's versions side by side (llm.c dev/cuda style):
     * the default (v2 in the bf16 table), then SIMVTP_CUDA_ATTENTION=flash1 */
    const int versions = be->precision == SV_PRECISION_BF16 && !getenv("SIMVTP_CUDA_ATTENTION") ? 2 : 1;
    for (int v = 0; v < versions && want("attn"); v++) {
        if (v) setenv("SIMVTP_CUDA_ATTENTION", "flash1", 1);
        bench_attention(v ? "attn.joint.v1" : "attn.joint", B, Sj, 12, 64);
        bench_attention(v ? "attn.decoder.v1" : "attn.decoder", B, Nd, 6, 64);
        bench_attention(v ? "attn.video.v1" : "attn.video", B, Nd, 12, 64); /* fine-tuning */
        if (v) unsetenv("SIMVTP_CUDA_ATTENTION");
    }
    if (want("layernorm")) {
        bench_layernorm(B * Sj, 768);
        bench_layernorm(B * Nd, 384);
    }
    if (want("elementwise")) bench_elementwise((size_t)B * Sj * 3072);
    if (want("fused")) {
        bench_fused(B * Sj, 768, 3072);  /* encoder blocks (fine-tuning: B * 1568 rows) */
        bench_fused(B * Nd, 384, 1536);  /* decoder blocks */
    }
    if (want("ce")) bench_ce(B * 24, 30522);
    if (want("rows")) bench_rows(B * 1411, 384);
    if (want("adamw")) bench_adamw((size_t)110 << 20); /* about the vit-b pretraining model */
    if (want("upload")) bench_upload((size_t)B * 16 * 224 * 224 * 3);
    return 0;
}

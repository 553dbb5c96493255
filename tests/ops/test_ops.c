/* tests/ops/test_ops.c — per-op checks of the CPU reference kernels
 * (cpu/cpu_ops.h) against small double-precision naive references.
 *
 * For each op: random inputs (fixed seed) and a random projection r of the
 * output define f = sum(r * out). The fp32 forward is compared with the
 * double reference (relative L2 error <= FWD_TOL); the fp32 backward, run
 * with dout = r into gradient buffers PREFILLED with a nonzero constant
 * (so that "backward adds" is checked everywhere), is compared with central
 * differences of f computed in double through the reference (relative L2
 * error <= GRAD_TOL per input tensor). */
#include <check.h>
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/host_copy.h"
#include "cpu/cpu_ops.h"

#define FWD_TOL 1e-5
#define GRAD_TOL 1e-4
#define FD_EPS 1e-6
#define PREFILL 0.375f       /* every gradient buffer starts here */
#define OUT_GARBAGE 123.0f   /* every forward output starts here */

/* ------------------------------------------------------------------ */
/* Helpers                                                             */
/* ------------------------------------------------------------------ */

static uint64_t rng_state;

static void rng_seed(uint64_t s) { rng_state = s ? s : 0x9E3779B97F4A7C15ull; }

static double rng_uniform(void) /* [0, 1) */
{
    /* xorshift64* */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (double)((rng_state * 0x2545F4914F6CDD1Dull) >> 11) * (1.0 / 9007199254740992.0);
}

static float *fbuf(size_t n, float fill)
{
    float *p = malloc((n ? n : 1) * sizeof(float));
    ck_assert_ptr_nonnull(p);
    for (size_t i = 0; i < n; i++)
        p[i] = fill;
    return p;
}

static float *frand(size_t n, double lo, double hi)
{
    float *p = fbuf(n, 0.0f);
    for (size_t i = 0; i < n; i++)
        p[i] = (float)(lo + (hi - lo) * rng_uniform());
    return p;
}

static double *dbuf(size_t n)
{
    double *p = calloc(n ? n : 1, sizeof(double));
    ck_assert_ptr_nonnull(p);
    return p;
}

static double *to_double(const float *x, size_t n)
{
    double *p = dbuf(n);
    for (size_t i = 0; i < n; i++)
        p[i] = x[i];
    return p;
}

static double dot_d(const double *a, const double *b, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++)
        s += a[i] * b[i];
    return s;
}

/* ||a - offset - ref|| / ||ref|| */
static double rel_l2(const float *a, float offset, const double *ref, size_t n)
{
    double num = 0.0, den = 0.0;
    for (size_t i = 0; i < n; i++) {
        const double d = ((double)a[i] - (double)offset) - ref[i];
        num += d * d;
        den += ref[i] * ref[i];
    }
    if (den == 0.0)
        return num == 0.0 ? 0.0 : INFINITY;
    return sqrt(num / den);
}

static void check_fwd(const char *what, const float *out, const double *ref, size_t n)
{
    const double rel = rel_l2(out, 0.0f, ref, n);
    printf("  fwd  %-32s rel %.3e\n", what, rel);
    fflush(stdout);
    ck_assert_msg(rel <= FWD_TOL, "%s: forward relative error %g > %g", what, rel, FWD_TOL);
}

/* g was prefilled with PREFILL, then the backward added into it. */
/* g - base against ref: base PREFILL for gradients that accumulate into a
 * prefilled buffer, 0 for the ones an op overwrites (their buffer starts at
 * OUT_GARBAGE, so an op that added would fail) */
static void check_grad_from(const char *what, const float *g, float base, const double *ref, size_t n)
{
    ck_assert_msg(sqrt(dot_d(ref, ref, n)) > 1e-8,
                  "%s: finite-difference gradient is zero, the check would be vacuous", what);
    const double rel = rel_l2(g, base, ref, n);
    printf("  grad %-32s rel %.3e\n", what, rel);
    fflush(stdout);
    ck_assert_msg(rel <= GRAD_TOL, "%s: gradient relative error %g > %g", what, rel, GRAD_TOL);
}

static void check_grad(const char *what, const float *g, const double *ref, size_t n)
{
    check_grad_from(what, g, PREFILL, ref, n);
}

typedef double (*objective_fn)(void *ctx);

/* Central differences of f(ctx) w.r.t. x[0..n) (x lives inside ctx). */
static void fd_grad(objective_fn f, void *ctx, double *x, size_t n, double *g)
{
    for (size_t i = 0; i < n; i++) {
        const double xi = x[i];
        x[i] = xi + FD_EPS;
        const double fp = f(ctx);
        x[i] = xi - FD_EPS;
        const double fm = f(ctx);
        x[i] = xi;
        g[i] = (fp - fm) / (2.0 * FD_EPS);
    }
}

/* ------------------------------------------------------------------ */
/* matmul                                                              */
/* ------------------------------------------------------------------ */

typedef struct {
    int M, K, N;
    double *inp, *w, *bias, *r, *out;
} mm_ctx;

static void ref_matmul(double *out, const double *inp, const double *w, const double *bias,
                       int M, int K, int N)
{
    for (int m = 0; m < M; m++)
        for (int n = 0; n < N; n++) {
            double s = bias ? bias[n] : 0.0;
            for (int k = 0; k < K; k++)
                s += inp[(size_t)m * K + k] * w[(size_t)n * K + k];
            out[(size_t)m * N + n] = s;
        }
}

static double mm_obj(void *p)
{
    mm_ctx *c = p;
    ref_matmul(c->out, c->inp, c->w, c->bias, c->M, c->K, c->N);
    return dot_d(c->r, c->out, (size_t)c->M * c->N);
}

static void run_matmul(int with_bias)
{
    rng_seed(with_bias ? 101 : 102);
    const int M = 7, K = 9, N = 5;
    float *inp = frand((size_t)M * K, -1, 1);
    float *w = frand((size_t)N * K, -1, 1);
    float *bias = with_bias ? frand((size_t)N, -1, 1) : NULL;
    float *r = frand((size_t)M * N, -1, 1);
    float *out = fbuf((size_t)M * N, OUT_GARBAGE);

    mm_ctx c = { M, K, N, to_double(inp, (size_t)M * K), to_double(w, (size_t)N * K),
                 with_bias ? to_double(bias, (size_t)N) : NULL, to_double(r, (size_t)M * N),
                 dbuf((size_t)M * N) };

    cpu_matmul_fwd(out, inp, w, bias, M, K, N);
    ref_matmul(c.out, c.inp, c.w, c.bias, M, K, N);
    check_fwd(with_bias ? "matmul+bias out" : "matmul out", out, c.out, (size_t)M * N);

    float *dinp = fbuf((size_t)M * K, OUT_GARBAGE); /* overwritten */
    float *dw = fbuf((size_t)N * K, PREFILL);
    float *db = fbuf((size_t)N, PREFILL);
    cpu_matmul_bwd(dinp, dw, with_bias ? db : NULL, r, inp, w, M, K, N);

    double *g = dbuf((size_t)N * K > (size_t)M * K ? (size_t)N * K : (size_t)M * K);
    fd_grad(mm_obj, &c, c.inp, (size_t)M * K, g);
    check_grad_from("matmul dinp", dinp, 0.0f, g, (size_t)M * K);
    fd_grad(mm_obj, &c, c.w, (size_t)N * K, g);
    check_grad("matmul dw", dw, g, (size_t)N * K);
    if (with_bias) {
        fd_grad(mm_obj, &c, c.bias, (size_t)N, g);
        check_grad("matmul dbias", db, g, (size_t)N);
    } else {
        /* dbias was not requested (NULL): the fresh buffer must be untouched,
         * and NULL gradient pointers must be accepted. */
        for (int n = 0; n < N; n++)
            ck_assert_float_eq(db[n], PREFILL);
        float *dinp2 = fbuf((size_t)M * K, PREFILL);
        cpu_matmul_bwd(dinp2, NULL, NULL, r, inp, w, M, K, N);
        for (size_t i = 0; i < (size_t)M * K; i++)
            ck_assert_float_eq_tol(dinp2[i], dinp[i], 1e-6f);
        cpu_matmul_bwd(NULL, NULL, NULL, r, inp, w, M, K, N);
        /* an empty product (N = 0) still overwrites dinp: with zeros */
        cpu_matmul_bwd(dinp2, NULL, NULL, r, inp, w, M, K, 0);
        for (size_t i = 0; i < (size_t)M * K; i++)
            ck_assert_float_eq(dinp2[i], 0.0f);
        free(dinp2);
    }
    free(inp); free(w); free(bias); free(r); free(out); free(dinp); free(dw); free(db);
    free(c.inp); free(c.w); free(c.bias); free(c.r); free(c.out); free(g);
}

START_TEST(test_matmul_bias) { run_matmul(1); }
END_TEST

START_TEST(test_matmul_nobias) { run_matmul(0); }
END_TEST

/* ------------------------------------------------------------------ */
/* layernorm                                                           */
/* ------------------------------------------------------------------ */

typedef struct {
    int M, C;
    double eps;
    double *x, *w, *b, *r, *out, *mean, *rstd;
} ln_ctx;

static void ref_layernorm(double *out, double *mean, double *rstd, const double *x,
                          const double *w, const double *b, int M, int C, double eps)
{
    for (int m = 0; m < M; m++) {
        const double *xr = x + (size_t)m * C;
        double mu = 0.0, var = 0.0;
        for (int c = 0; c < C; c++)
            mu += xr[c];
        mu /= C;
        for (int c = 0; c < C; c++)
            var += (xr[c] - mu) * (xr[c] - mu);
        var /= C;
        const double rs = 1.0 / sqrt(var + eps);
        for (int c = 0; c < C; c++)
            out[(size_t)m * C + c] = (xr[c] - mu) * rs * w[c] + b[c];
        mean[m] = mu;
        rstd[m] = rs;
    }
}

static double ln_obj(void *p)
{
    ln_ctx *c = p;
    ref_layernorm(c->out, c->mean, c->rstd, c->x, c->w, c->b, c->M, c->C, c->eps);
    return dot_d(c->r, c->out, (size_t)c->M * c->C);
}

START_TEST(test_layernorm)
{
    rng_seed(201);
    const int M = 6, C = 10;
    const float eps = 1e-5f;
    const size_t MC = (size_t)M * C;
    float *x = frand(MC, -2, 2);
    for (int m = 0; m < M; m++)          /* per-row offsets and scales */
        for (int c = 0; c < C; c++)
            x[(size_t)m * C + c] = x[(size_t)m * C + c] * (0.5f + 0.3f * (float)m) + (float)m - 2.0f;
    float *w = frand((size_t)C, 0.5, 1.5);
    float *b = frand((size_t)C, -0.5, 0.5);
    float *r = frand(MC, -1, 1);
    float *out = fbuf(MC, OUT_GARBAGE), *mean = fbuf((size_t)M, OUT_GARBAGE),
          *rstd = fbuf((size_t)M, OUT_GARBAGE);

    ln_ctx c = { M, C, (double)eps, to_double(x, MC), to_double(w, (size_t)C),
                 to_double(b, (size_t)C), to_double(r, MC), dbuf(MC), dbuf((size_t)M),
                 dbuf((size_t)M) };
    cpu_layernorm_fwd(out, mean, rstd, x, w, b, M, C, eps);
    ref_layernorm(c.out, c.mean, c.rstd, c.x, c.w, c.b, M, C, c.eps);
    check_fwd("layernorm out", out, c.out, MC);
    check_fwd("layernorm mean", mean, c.mean, (size_t)M);
    check_fwd("layernorm rstd", rstd, c.rstd, (size_t)M);

    float *dx = fbuf(MC, PREFILL), *dw = fbuf((size_t)C, PREFILL), *db = fbuf((size_t)C, PREFILL);
    cpu_layernorm_bwd(dx, dw, db, r, x, w, mean, rstd, M, C);
    double *g = dbuf(MC);
    fd_grad(ln_obj, &c, c.x, MC, g);
    check_grad("layernorm dinp", dx, g, MC);
    fd_grad(ln_obj, &c, c.w, (size_t)C, g);
    check_grad("layernorm dw", dw, g, (size_t)C);
    fd_grad(ln_obj, &c, c.b, (size_t)C, g);
    check_grad("layernorm db", db, g, (size_t)C);

    /* NULL gradient outputs are skipped; the others are unchanged by that. */
    float *dw2 = fbuf((size_t)C, PREFILL);
    cpu_layernorm_bwd(NULL, dw2, NULL, r, x, w, mean, rstd, M, C);
    for (int i = 0; i < C; i++)
        ck_assert_float_eq_tol(dw2[i], dw[i], 1e-6f);

    free(x); free(w); free(b); free(r); free(out); free(mean); free(rstd);
    free(dx); free(dw); free(db); free(dw2); free(g);
    free(c.x); free(c.w); free(c.b); free(c.r); free(c.out); free(c.mean); free(c.rstd);
}
END_TEST

/* ------------------------------------------------------------------ */
/* gelu                                                                */
/* ------------------------------------------------------------------ */

typedef struct {
    size_t n;
    double *x, *r, *out;
} gelu_ctx;

static void ref_gelu(double *out, const double *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = 0.5 * x[i] * (1.0 + erf(x[i] / sqrt(2.0)));
}

static double gelu_obj(void *p)
{
    gelu_ctx *c = p;
    ref_gelu(c->out, c->x, c->n);
    return dot_d(c->r, c->out, c->n);
}

START_TEST(test_gelu)
{
    rng_seed(301);
    const size_t n = 64;
    float *x = frand(n, -4, 4);
    x[0] = 0.0f;
    x[1] = -0.5f;
    float *r = frand(n, -1, 1);
    float *out = fbuf(n, OUT_GARBAGE);
    gelu_ctx c = { n, to_double(x, n), to_double(r, n), dbuf(n) };

    cpu_gelu_fwd(out, x, n);
    ref_gelu(c.out, c.x, n);
    check_fwd("gelu out", out, c.out, n);

    float *dx = fbuf(n, OUT_GARBAGE); /* overwritten */
    cpu_gelu_bwd(dx, x, r, n);
    double *g = dbuf(n);
    fd_grad(gelu_obj, &c, c.x, n, g);
    check_grad_from("gelu dinp", dx, 0.0f, g, n);
    free(x); free(r); free(out); free(dx); free(g); free(c.x); free(c.r); free(c.out);
}
END_TEST

/* ------------------------------------------------------------------ */
/* attention                                                           */
/* ------------------------------------------------------------------ */

typedef struct {
    int B, N, H, hd;
    const uint8_t *valid;
    double *qkv, *r, *out, *att, *lse;
} att_ctx;

static size_t qkv_index(int b, int n, int t, int h, int d, int N, int H, int hd)
{
    return ((((size_t)b * N + n) * 3 + t) * H + h) * hd + d;
}

/* out, the probabilities att[B,H,N,N] and lse[B,H,N] = each row's
 * log-sum-exp of the scaled scores (att and lse may be NULL) */
static void ref_attention(double *out, double *att, double *lse, const double *qkv,
                          const uint8_t *valid, int B, int N, int H, int hd)
{
    const double scale = 1.0 / sqrt((double)hd);
    double *s = malloc((size_t)N * sizeof(double));
    ck_assert_ptr_nonnull(s);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++)
            for (int i = 0; i < N; i++) {
                double mx = -INFINITY;
                for (int j = 0; j < N; j++) {
                    if (valid && !valid[(size_t)b * N + j])
                        continue;
                    double d = 0.0;
                    for (int e = 0; e < hd; e++)
                        d += qkv[qkv_index(b, i, 0, h, e, N, H, hd)] *
                             qkv[qkv_index(b, j, 1, h, e, N, H, hd)];
                    s[j] = d * scale;
                    if (s[j] > mx)
                        mx = s[j];
                }
                double sum = 0.0;
                for (int j = 0; j < N; j++) {
                    if (valid && !valid[(size_t)b * N + j]) {
                        s[j] = 0.0;
                        continue;
                    }
                    s[j] = exp(s[j] - mx);
                    sum += s[j];
                }
                for (int j = 0; j < N; j++) {
                    s[j] /= sum;
                    if (att)
                        att[(((size_t)b * H + h) * N + i) * N + j] = s[j];
                }
                if (lse)
                    lse[((size_t)b * H + h) * N + i] = mx + log(sum);
                for (int e = 0; e < hd; e++) {
                    double o = 0.0;
                    for (int j = 0; j < N; j++)
                        o += s[j] * qkv[qkv_index(b, j, 2, h, e, N, H, hd)];
                    out[(((size_t)b * N + i) * H + h) * hd + e] = o;
                }
            }
    free(s);
}

static double att_obj(void *p)
{
    att_ctx *c = p;
    ref_attention(c->out, NULL, NULL, c->qkv, c->valid, c->B, c->N, c->H, c->hd);
    return dot_d(c->r, c->out, (size_t)c->B * c->N * c->H * c->hd);
}

static void run_attention(const uint8_t *valid, int B, int N, int H, int hd, uint64_t seed)
{
    rng_seed(seed);
    const size_t nqkv = (size_t)B * N * 3 * H * hd, nout = (size_t)B * N * H * hd,
                 natt = cpu_attention_saved_floats(B, N, H);
    ck_assert_int_le(N, CPU_ATT_KEEP_N); /* the probabilities are kept */
    ck_assert_uint_eq(natt, (size_t)B * H * N * N);
    float *qkv = frand(nqkv, -1.5, 1.5);
    float *r = frand(nout, -1, 1);
    float *out = fbuf(nout, OUT_GARBAGE), *att = fbuf(natt, OUT_GARBAGE);
    att_ctx c = { B, N, H, hd, valid, to_double(qkv, nqkv), to_double(r, nout), dbuf(nout),
                  dbuf((size_t)B * H * N * N), dbuf((size_t)B * H * N) };

    ck_assert_int_eq(cpu_attention_fwd(out, att, qkv, valid, B, N, H, hd), 0);
    ref_attention(c.out, c.att, NULL, c.qkv, valid, B, N, H, hd);
    check_fwd(valid ? "attention(mask) out" : "attention out", out, c.out, nout);
    check_fwd(valid ? "attention(mask) att" : "attention att", att, c.att, natt);

    /* Probability rows sum to 1; masked keys get exactly 0. */
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++)
            for (int i = 0; i < N; i++) {
                const float *row = att + (((size_t)b * H + h) * N + i) * N;
                double sum = 0.0;
                for (int j = 0; j < N; j++) {
                    sum += row[j];
                    if (valid && !valid[(size_t)b * N + j])
                        ck_assert_msg(row[j] == 0.0f, "masked key b=%d h=%d i=%d j=%d has p=%g",
                                      b, h, i, j, (double)row[j]);
                    else
                        ck_assert_msg(row[j] > 0.0f, "valid key b=%d j=%d has p=%g", b, j,
                                      (double)row[j]);
                }
                ck_assert_double_eq_tol(sum, 1.0, 1e-5);
            }

    float *dqkv = fbuf(nqkv, OUT_GARBAGE); /* overwritten */
    ck_assert_int_eq(cpu_attention_bwd(dqkv, r, qkv, att, valid, B, N, H, hd), 0);
    double *g = dbuf(nqkv);
    fd_grad(att_obj, &c, c.qkv, nqkv, g);
    check_grad_from(valid ? "attention(mask) dqkv" : "attention dqkv", dqkv, 0.0f, g, nqkv);

    /* Separate q/k/v slices, so that a wrong block cannot hide in the total. */
    for (int t = 0; t < 3; t++) {
        float *gs = fbuf(nqkv / 3, 0.0f);
        double *rs = dbuf(nqkv / 3);
        size_t k = 0;
        for (int b = 0; b < B; b++)
            for (int n = 0; n < N; n++)
                for (int h = 0; h < H; h++)
                    for (int e = 0; e < hd; e++, k++) {
                        const size_t ix = qkv_index(b, n, t, h, e, N, H, hd);
                        gs[k] = dqkv[ix];
                        rs[k] = g[ix];
                    }
        char name[64];
        snprintf(name, sizeof name, "attention%s d%c", valid ? "(mask)" : "", "qkv"[t]);
        check_grad_from(name, gs, 0.0f, rs, nqkv / 3);
        free(gs);
        free(rs);
    }

    /* Masked keys receive no k/v gradient: exactly 0. */
    if (valid)
        for (int b = 0; b < B; b++)
            for (int j = 0; j < N; j++) {
                if (valid[(size_t)b * N + j])
                    continue;
                for (int t = 1; t < 3; t++)
                    for (int h = 0; h < H; h++)
                        for (int e = 0; e < hd; e++)
                            ck_assert_msg(dqkv[qkv_index(b, j, t, h, e, N, H, hd)] == 0.0f,
                                          "masked key b=%d j=%d got a d%c gradient", b, j,
                                          "qkv"[t]);
            }

    /* NULL dqkv is accepted. */
    ck_assert_int_eq(cpu_attention_bwd(NULL, r, qkv, att, valid, B, N, H, hd), 0);

    free(qkv); free(r); free(out); free(att); free(dqkv); free(g);
    free(c.qkv); free(c.r); free(c.out); free(c.att); free(c.lse);
}

START_TEST(test_attention_mask)
{
    enum { B = 3, N = 6 };
    /* batch 0 masks two keys, batch 1 none, batch 2 leaves only two keys */
    static const uint8_t valid[B * N] = {
        1, 0, 1, 1, 0, 1,
        1, 1, 1, 1, 1, 1,
        0, 1, 0, 0, 1, 0,
    };
    run_attention(valid, B, N, 2, 4, 401);
}
END_TEST

START_TEST(test_attention_nomask)
{
    run_attention(NULL, 2, 5, 3, 8, 402);
}
END_TEST

/* Larger cases (the threaded path; with N > CPU_ATT_KEEP_N only the
 * log-sum-exp is kept and the rows are processed in several blocks): the
 * forward against the reference, the backward through directional finite
 * differences. */
static void run_attention_directional(int B, int N, int H, int hd, uint64_t seed)
{
    rng_seed(seed);
    const size_t nqkv = (size_t)B * N * 3 * H * hd, nout = (size_t)B * N * H * hd,
                 natt = cpu_attention_saved_floats(B, N, H);
    const int keep = N <= CPU_ATT_KEEP_N;
    ck_assert_uint_eq(natt, keep ? (size_t)B * H * N * N : (size_t)B * H * N);
    uint8_t *valid = malloc((size_t)B * N);
    ck_assert_ptr_nonnull(valid);
    for (int i = 0; i < B * N; i++)
        valid[i] = (uint8_t)(rng_uniform() < 0.7 || i % N == 0);
    float *qkv = frand(nqkv, -1.5, 1.5), *r = frand(nout, -1, 1);
    float *out = fbuf(nout, OUT_GARBAGE), *att = fbuf(natt, OUT_GARBAGE);
    att_ctx c = { B, N, H, hd, valid, to_double(qkv, nqkv), to_double(r, nout), dbuf(nout),
                  dbuf((size_t)B * H * N * N), dbuf((size_t)B * H * N) };
    ck_assert_int_eq(cpu_attention_fwd(out, att, qkv, valid, B, N, H, hd), 0);
    ref_attention(c.out, c.att, c.lse, c.qkv, valid, B, N, H, hd);
    check_fwd(keep ? "attention(large) out" : "attention(blocks) out", out, c.out, nout);
    check_fwd(keep ? "attention(large) att" : "attention(blocks) lse", att, keep ? c.att : c.lse, natt);

    float *dqkv = fbuf(nqkv, OUT_GARBAGE); /* overwritten */
    ck_assert_int_eq(cpu_attention_bwd(dqkv, r, qkv, att, valid, B, N, H, hd), 0);
    double *ga = dbuf(nqkv), *dir = dbuf(nqkv), *x0 = to_double(qkv, nqkv);
    for (size_t i = 0; i < nqkv; i++)
        ga[i] = (double)dqkv[i];
    const double gnorm = sqrt(dot_d(ga, ga, nqkv));
    ck_assert(gnorm > 0.0);
    for (int trial = 0; trial < 3; trial++) {
        /* direction: the analytic gradient plus noise, so <g, dir> is far from 0 */
        for (size_t i = 0; i < nqkv; i++)
            dir[i] = ga[i] / gnorm + (rng_uniform() - 0.5) / sqrt((double)nqkv);
        const double pred = dot_d(ga, dir, nqkv);
        for (size_t i = 0; i < nqkv; i++)
            c.qkv[i] = x0[i] + FD_EPS * dir[i];
        const double fp = att_obj(&c);
        for (size_t i = 0; i < nqkv; i++)
            c.qkv[i] = x0[i] - FD_EPS * dir[i];
        const double fm = att_obj(&c);
        const double fd = (fp - fm) / (2.0 * FD_EPS);
        const double rel = fabs(pred - fd) / fabs(fd);
        printf("  grad %-32s rel %.3e\n", keep ? "attention(large) directional" : "attention(blocks) directional",
               rel);
        ck_assert_msg(rel <= GRAD_TOL, "directional derivative: analytic %g, fd %g", pred, fd);
    }
    free(qkv); free(r); free(out); free(att); free(dqkv); free(ga); free(dir); free(x0);
    free(c.qkv); free(c.r); free(c.out); free(c.att); free(c.lse); free(valid);
}

/* NaN keys give NaN outputs, also when every score of a row is NaN (a
 * row with no valid key gives zeros instead), in both forward paths. */
START_TEST(test_attention_nan)
{
    for (int pass = 0; pass < 2; pass++) {
        const int B = 2, N = pass ? CPU_ATT_KEEP_N + 3 : 7, H = 2, hd = 4;
        const size_t nqkv = (size_t)B * N * 3 * H * hd, nout = (size_t)B * N * H * hd;
        uint8_t *valid = malloc((size_t)B * N);
        ck_assert_ptr_nonnull(valid);
        for (int i = 0; i < B * N; i++) valid[i] = i >= N || i == 0; /* sample 0: one valid key */
        float *qkv = frand(nqkv, -1, 1), *out = fbuf(nout, OUT_GARBAGE);
        float *att = fbuf(cpu_attention_saved_floats(B, N, H), OUT_GARBAGE);
        for (int b = 0; b < B; b++) /* every key of head 0 */
            for (int j = 0; j < N; j++)
                for (int e = 0; e < hd; e++) qkv[qkv_index(b, j, 1, 0, e, N, H, hd)] = NAN;
        valid[0] = 0; /* sample 0 now has no valid key at all */
        ck_assert_int_eq(cpu_attention_fwd(out, att, qkv, valid, B, N, H, hd), 0);
        for (int b = 0; b < B; b++)
            for (int i = 0; i < N; i++)
                for (int h = 0; h < H; h++) {
                    const float y = out[(((size_t)b * N + i) * H + h) * hd];
                    if (b == 0)
                        ck_assert_msg(y == 0.0f, "N=%d: a row without a valid key gave %g", N, (double)y);
                    else if (h == 0)
                        ck_assert_msg(isnan(y), "N=%d: head 0 with NaN keys gave %g at row %d", N, (double)y, i);
                    else
                        ck_assert_msg(isfinite(y), "N=%d: head 1 gave %g at row %d", N, (double)y, i);
                }
        free(valid); free(qkv); free(out); free(att);
    }
}
END_TEST

START_TEST(test_attention_large) { run_attention_directional(2, 33, 4, 16, 403); }
END_TEST

START_TEST(test_attention_blocks) { run_attention_directional(1, CPU_ATT_KEEP_N + 85, 2, 8, 404); }
END_TEST

/* ------------------------------------------------------------------ */
/* softmax cross-entropy                                               */
/* ------------------------------------------------------------------ */

typedef struct {
    int M, V;
    const int32_t *t;
    double *x, *r, *loss, *probs;
} ce_ctx;

static void ref_softmax_ce(double *loss, double *probs, const double *x, const int32_t *t,
                           int M, int V)
{
    for (int m = 0; m < M; m++) {
        const double *xr = x + (size_t)m * V;
        double mx = xr[0], sum = 0.0;
        for (int v = 1; v < V; v++)
            mx = xr[v] > mx ? xr[v] : mx;
        for (int v = 0; v < V; v++)
            sum += exp(xr[v] - mx);
        for (int v = 0; v < V; v++)
            probs[(size_t)m * V + v] = exp(xr[v] - mx) / sum;
        loss[m] = t[m] < 0 ? 0.0 : log(sum) + mx - xr[t[m]];
    }
}

static double ce_obj(void *p)
{
    ce_ctx *c = p;
    ref_softmax_ce(c->loss, c->probs, c->x, c->t, c->M, c->V);
    return dot_d(c->r, c->loss, (size_t)c->M);
}

START_TEST(test_softmax_ce)
{
    rng_seed(501);
    enum { M = 6, V = 11 };
    const size_t MV = (size_t)M * V;
    static const int32_t t[M] = { 3, 0, -1, 10, 7, 5 };
    float *x = frand(MV, -3, 3);
    for (int v = 0; v < V; v++)     /* row 4 would overflow expf without max subtraction */
        x[4 * V + v] += 100.0f;
    float *r = frand((size_t)M, 0.2, 1.5);
    float *loss = fbuf((size_t)M, OUT_GARBAGE), *probs = fbuf(MV, OUT_GARBAGE);
    ce_ctx c = { M, V, t, to_double(x, MV), to_double(r, (size_t)M), dbuf((size_t)M), dbuf(MV) };

    cpu_softmax_ce_fwd(loss, probs, x, t, M, V);
    ref_softmax_ce(c.loss, c.probs, c.x, t, M, V);
    check_fwd("softmax_ce losses", loss, c.loss, (size_t)M);
    check_fwd("softmax_ce probs", probs, c.probs, MV);
    ck_assert_msg(loss[2] == 0.0f, "ignored row loss %g", (double)loss[2]);
    for (int m = 0; m < M; m++)
        ck_assert_msg(isfinite(loss[m]), "row %d loss not finite", m);

    float *dx = fbuf(MV, PREFILL);
    cpu_softmax_ce_bwd(dx, probs, t, r, M, V);
    double *g = dbuf(MV);
    fd_grad(ce_obj, &c, c.x, MV, g);
    check_grad("softmax_ce dlogits", dx, g, MV);
    for (int v = 0; v < V; v++)
        ck_assert_msg(dx[2 * V + v] == PREFILL, "ignored row got a gradient at %d", v);

    /* In place (one buffer: logits -> probabilities -> gradient): the same
     * losses and probabilities bit for bit, and the gradient equal to the
     * one added into zeros (ignored rows zeroed). */
    float *xp = malloc(MV * sizeof(float)), *lp = fbuf((size_t)M, OUT_GARBAGE), *dz = calloc(MV, sizeof(float));
    memcpy(xp, x, MV * sizeof(float));
    cpu_softmax_ce_fwd(lp, xp, xp, t, M, V);
    ck_assert_msg(memcmp(lp, loss, M * sizeof(float)) == 0, "in-place losses differ");
    ck_assert_msg(memcmp(xp, probs, MV * sizeof(float)) == 0, "in-place probabilities differ");
    cpu_softmax_ce_bwd(dz, probs, t, r, M, V);
    cpu_softmax_ce_bwd(xp, xp, t, r, M, V);
    for (size_t i = 0; i < MV; i++)
        ck_assert_msg(xp[i] == dz[i], "in-place gradient [%zu] %g vs %g", i, (double)xp[i], (double)dz[i]);
    free(xp); free(lp); free(dz);

    free(x); free(r); free(loss); free(probs); free(dx); free(g);
    free(c.x); free(c.r); free(c.loss); free(c.probs);
}
END_TEST

/* ------------------------------------------------------------------ */
/* meanpool                                                            */
/* ------------------------------------------------------------------ */

typedef struct {
    int B, N, C;
    const uint8_t *valid;
    double *x, *r, *out;
} mp_ctx;

static void ref_meanpool(double *out, const double *x, const uint8_t *valid, int B, int N, int C)
{
    for (int b = 0; b < B; b++) {
        int cnt = 0;
        for (int c = 0; c < C; c++)
            out[(size_t)b * C + c] = 0.0;
        for (int n = 0; n < N; n++) {
            if (valid && !valid[(size_t)b * N + n])
                continue;
            cnt++;
            for (int c = 0; c < C; c++)
                out[(size_t)b * C + c] += x[((size_t)b * N + n) * C + c];
        }
        for (int c = 0; c < C; c++)
            out[(size_t)b * C + c] /= cnt;
    }
}

static double mp_obj(void *p)
{
    mp_ctx *c = p;
    ref_meanpool(c->out, c->x, c->valid, c->B, c->N, c->C);
    return dot_d(c->r, c->out, (size_t)c->B * c->C);
}

static void run_meanpool(const uint8_t *valid, uint64_t seed)
{
    rng_seed(seed);
    const int B = 3, N = 5, C = 4;
    const size_t nx = (size_t)B * N * C, no = (size_t)B * C;
    float *x = frand(nx, -2, 2), *r = frand(no, -1, 1), *out = fbuf(no, OUT_GARBAGE);
    mp_ctx c = { B, N, C, valid, to_double(x, nx), to_double(r, no), dbuf(no) };

    cpu_meanpool_fwd(out, x, valid, B, N, C);
    ref_meanpool(c.out, c.x, valid, B, N, C);
    check_fwd(valid ? "meanpool(mask) out" : "meanpool out", out, c.out, no);

    float *dx = fbuf(nx, PREFILL);
    cpu_meanpool_bwd(dx, r, valid, B, N, C);
    double *g = dbuf(nx);
    fd_grad(mp_obj, &c, c.x, nx, g);
    check_grad(valid ? "meanpool(mask) dinp" : "meanpool dinp", dx, g, nx);
    if (valid)
        for (int b = 0; b < B; b++)
            for (int n = 0; n < N; n++)
                if (!valid[(size_t)b * N + n])
                    for (int k = 0; k < C; k++)
                        ck_assert_msg(dx[((size_t)b * N + n) * C + k] == PREFILL,
                                      "invalid row b=%d n=%d got a gradient", b, n);
    free(x); free(r); free(out); free(dx); free(g); free(c.x); free(c.r); free(c.out);
}

START_TEST(test_meanpool_mask)
{
    static const uint8_t valid[3 * 5] = {
        1, 0, 1, 1, 0,
        1, 1, 1, 1, 1,
        0, 0, 0, 1, 0,
    };
    run_meanpool(valid, 601);
}
END_TEST

START_TEST(test_meanpool_nomask) { run_meanpool(NULL, 602); }
END_TEST

/* ------------------------------------------------------------------ */
/* l2norm                                                              */
/* ------------------------------------------------------------------ */

typedef struct {
    int M, C;
    double *x, *r, *out, *norm;
} l2_ctx;

static void ref_l2norm(double *out, double *norm, const double *x, int M, int C)
{
    for (int m = 0; m < M; m++) {
        double ss = 0.0;
        for (int c = 0; c < C; c++)
            ss += x[(size_t)m * C + c] * x[(size_t)m * C + c];
        const double n = sqrt(ss), d = n > 1e-8 ? n : 1e-8;
        for (int c = 0; c < C; c++)
            out[(size_t)m * C + c] = x[(size_t)m * C + c] / d;
        norm[m] = n;
    }
}

static double l2_obj(void *p)
{
    l2_ctx *c = p;
    ref_l2norm(c->out, c->norm, c->x, c->M, c->C);
    return dot_d(c->r, c->out, (size_t)c->M * c->C);
}

START_TEST(test_l2norm)
{
    rng_seed(701);
    const int M = 5, C = 7;
    const size_t MC = (size_t)M * C;
    float *x = frand(MC, -2, 2), *r = frand(MC, -1, 1);
    for (int c = 0; c < C; c++)
        x[C + c] *= 0.01f;              /* a small-norm row */
    float *out = fbuf(MC, OUT_GARBAGE), *norm = fbuf((size_t)M, OUT_GARBAGE);
    l2_ctx c = { M, C, to_double(x, MC), to_double(r, MC), dbuf(MC), dbuf((size_t)M) };

    cpu_l2norm_fwd(out, norm, x, M, C);
    ref_l2norm(c.out, c.norm, c.x, M, C);
    check_fwd("l2norm out", out, c.out, MC);
    check_fwd("l2norm norm", norm, c.norm, (size_t)M);

    float *dx = fbuf(MC, PREFILL);
    cpu_l2norm_bwd(dx, r, x, norm, M, C);
    double *g = dbuf(MC);
    fd_grad(l2_obj, &c, c.x, MC, g);
    check_grad("l2norm dinp", dx, g, MC);

    /* An all-zero row stays finite (the 1e-8 floor). */
    float z[4] = { 0 }, zo[4], zn, zr[4] = { 1, -1, 0.5f, 2 }, zd[4] = { 0 };
    cpu_l2norm_fwd(zo, &zn, z, 1, 4);
    cpu_l2norm_bwd(zd, zr, z, &zn, 1, 4);
    for (int i = 0; i < 4; i++) {
        ck_assert_msg(zo[i] == 0.0f, "zero row normalized to %g", (double)zo[i]);
        ck_assert_msg(isfinite(zd[i]), "zero row gradient not finite");
    }

    free(x); free(r); free(out); free(norm); free(dx); free(g);
    free(c.x); free(c.r); free(c.out); free(c.norm);
}
END_TEST

/* ------------------------------------------------------------------ */
/* gather / scatter                                                    */
/* ------------------------------------------------------------------ */

typedef struct {
    int n, C;
    const int32_t *idx;
    double *x, *r;
} gs_ctx;

static double gs_obj(void *p)
{
    gs_ctx *c = p;
    double f = 0.0;
    for (int i = 0; i < c->n; i++)
        for (int k = 0; k < c->C; k++)
            f += c->r[(size_t)i * c->C + k] * c->x[(size_t)c->idx[i] * c->C + k];
    return f;
}

START_TEST(test_gather_scatter)
{
    rng_seed(801);
    enum { R = 6, n = 8, C = 5 };
    static const int32_t idx[n] = { 3, 0, 5, 3, 1, 3, 0, 2 };   /* row 4 never, row 3 thrice */
    float *x = frand((size_t)R * C, -1, 1), *r = frand((size_t)n * C, -1, 1);
    float *out = fbuf((size_t)n * C, OUT_GARBAGE);
    cpu_gather_rows(out, x, idx, n, C);
    for (int i = 0; i < n; i++)
        for (int k = 0; k < C; k++)
            ck_assert_float_eq(out[(size_t)i * C + k], x[(size_t)idx[i] * C + k]);

    float *dx = fbuf((size_t)R * C, PREFILL);
    cpu_scatter_add_rows(dx, r, idx, n, C);
    gs_ctx c = { n, C, idx, to_double(x, (size_t)R * C), to_double(r, (size_t)n * C) };
    double *g = dbuf((size_t)R * C);
    fd_grad(gs_obj, &c, c.x, (size_t)R * C, g);
    check_grad("gather/scatter dinp", dx, g, (size_t)R * C);
    for (int k = 0; k < C; k++)
        ck_assert_float_eq(dx[4 * C + k], PREFILL);
    free(x); free(r); free(out); free(dx); free(g); free(c.x); free(c.r);
}
END_TEST

/* ------------------------------------------------------------------ */
/* mse                                                                 */
/* ------------------------------------------------------------------ */

typedef struct {
    size_t n;
    double dloss;
    double *pred, *target;
} mse_ctx;

static double ref_mse(const double *p, const double *t, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++)
        s += (p[i] - t[i]) * (p[i] - t[i]);
    return s / (double)n;
}

static double mse_obj(void *p)
{
    mse_ctx *c = p;
    return c->dloss * ref_mse(c->pred, c->target, c->n);
}

START_TEST(test_mse)
{
    rng_seed(901);
    const size_t M = 4, C = 6, n = M * C;
    float *pred = frand(n, -1, 1), *target = frand(n, -1, 1);
    const float dloss = 0.7f;
    mse_ctx c = { n, (double)dloss, to_double(pred, n), to_double(target, n) };
    const float l = cpu_mse_fwd(pred, target, M, C);
    const double lr = ref_mse(c.pred, c.target, n);
    const double rel = fabs((double)l - lr) / lr;
    printf("  fwd  %-32s rel %.3e\n", "mse loss", rel);
    ck_assert_msg(rel <= FWD_TOL, "mse forward %g vs %g", (double)l, lr);

    float *dp = fbuf(n, PREFILL);
    cpu_mse_bwd(dp, pred, target, M, C, dloss);
    double *g = dbuf(n);
    fd_grad(mse_obj, &c, c.pred, n, g);
    check_grad("mse dpred", dp, g, n);

    /* in place (the pixel head's: the predictions become their gradient):
     * the bits of the out-of-place result on a zeroed buffer, also where
     * pred - target is -0 (0 + -0 is +0) */
    pred[5] = -0.0f;
    target[5] = 0.0f;
    float *dz = fbuf(n, 0.0f), *ip = fbuf(n, 0.0f);
    memcpy(ip, pred, n * sizeof(float));
    cpu_mse_bwd(dz, pred, target, M, C, dloss);
    cpu_mse_bwd(ip, ip, target, M, C, dloss);
    ck_assert_msg(!memcmp(ip, dz, n * sizeof(float)), "mse_bwd in place differs from out of place on zeros");
    free(dz); free(ip);
    free(pred); free(target); free(dp); free(g); free(c.pred); free(c.target);
}
END_TEST

/* ------------------------------------------------------------------ */
/* sincos table and elementwise adds                                   */
/* ------------------------------------------------------------------ */

/* sv_host_copy (the CUDA uploads' copy into the pinned ring): memcpy's bytes
 * at sizes below, at and above the threaded threshold (4 MiB) and its
 * 1 MiB pieces, at odd offsets, nothing written outside */
START_TEST(test_host_copy)
{
    const size_t sizes[] = {0, 1, 4097, ((size_t)4 << 20) - 1, (size_t)4 << 20, ((size_t)9 << 20) + 7};
    const size_t cap = ((size_t)9 << 20) + 32;
    unsigned char *src = malloc(cap), *dst = malloc(cap);
    ck_assert_ptr_nonnull(src);
    ck_assert_ptr_nonnull(dst);
    rng_seed(77);
    for (size_t i = 0; i < cap; i++) src[i] = (unsigned char)(rng_uniform() * 256.0);
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        const size_t n = sizes[k], so = 5, doff = 11;
        memset(dst, 0xA5, cap);
        sv_host_copy(dst + doff, src + so, n);
        ck_assert_msg(!memcmp(dst + doff, src + so, n), "sv_host_copy: %zu bytes differ", n);
        size_t outside = 0;
        for (size_t i = 0; i < cap; i++) outside += (i < doff || i >= doff + n) && dst[i] != 0xA5;
        ck_assert_msg(outside == 0, "sv_host_copy(%zu) wrote %zu bytes outside", n, outside);
    }
    free(src);
    free(dst);
}
END_TEST

/* cpu_adamw (four values at a time where the target has SSE2): the bits of
 * the scalar update written out here, at sizes around its vector width and
 * work items, on misaligned pointers, with clipping and weight decay; and
 * close to a double-precision evaluation */
START_TEST(test_adamw)
{
    const size_t sizes[] = {1, 3, 4, 7, 4097, 10001};
    sv_adamw_args a;
    memset(&a, 0, sizeof a);
    a.clip = 0.7f; a.decay = 1.0f - 1.5e-4f * 0.05f; a.b1 = 0.9f; a.b2 = 0.95f; a.eps = 1e-8f;
    a.step_size = 1.5e-4f / (1.0f - 0.9f * 0.9f * 0.9f);
    a.bc2_sqrt = sqrtf(1.0f - 0.95f * 0.95f * 0.95f);
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        const size_t n = sizes[k];
        rng_seed(1000 + k);
        float *w = frand(n + 1, -0.1, 0.1), *g = frand(n + 1, -1e-2, 1e-2);
        float *m = frand(n + 1, -1e-3, 1e-3), *v = frand(n + 1, 1e-8, 1e-5);
        float *w2 = fbuf(n + 1, 0), *m2 = fbuf(n + 1, 0), *v2 = fbuf(n + 1, 0);
        memcpy(w2, w, (n + 1) * sizeof(float));
        memcpy(m2, m, (n + 1) * sizeof(float));
        memcpy(v2, v, (n + 1) * sizeof(float));
        cpu_adamw(w + 1, g + 1, m + 1, v + 1, n, &a); /* off 16 bytes */
        size_t diff = 0;
        double werr = 0;
        for (size_t i = 1; i <= n; i++) {
            const float gi = g[i] * a.clip;
            const float wd = w2[i] * a.decay;
            const float mi = a.b1 * m2[i] + (1.0f - a.b1) * gi;
            const float vi = a.b2 * v2[i] + (1.0f - a.b2) * gi * gi;
            const float denom = sqrtf(vi) / a.bc2_sqrt + a.eps;
            const float wi = wd - a.step_size * mi / denom;
            diff += memcmp(&w[i], &wi, 4) != 0 || memcmp(&m[i], &mi, 4) != 0 || memcmp(&v[i], &vi, 4) != 0;
            const double gd = (double)g[i] * a.clip, md = 0.9 * m2[i] + 0.1 * gd;
            const double vd = 0.95 * v2[i] + 0.05 * gd * gd;
            const double wref = (double)w2[i] * a.decay - (double)a.step_size * md / (sqrt(vd) / a.bc2_sqrt + a.eps);
            werr = fmax(werr, fabs(w[i] - wref));
        }
        ck_assert_msg(diff == 0, "cpu_adamw n=%zu: %zu values differ from the scalar update", n, diff);
        ck_assert_msg(w[0] == w2[0] && m[0] == m2[0] && v[0] == v2[0], "cpu_adamw n=%zu wrote before its start", n);
        ck_assert_msg(werr < 1e-8, "cpu_adamw n=%zu: %g from the double update", n, werr);
        free(w); free(g); free(m); free(v); free(w2); free(m2); free(v2);
    }
}
END_TEST

/* cpu_sumsq (the gradient norm's square): against a long double sum, the
 * same bits on one thread and on two, NaN and Inf propagated, 0 for n = 0 */
START_TEST(test_sumsq)
{
    const size_t sizes[] = {0, 1, 5, 63, 64, 1000, ((size_t)1 << 20) + 77, ((size_t)3 << 20) + 1};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        const size_t n = sizes[k];
        rng_seed(2000 + k);
        float *x = frand(n + 1, -2.0, 2.0);
        long double ref = 0.0L;
        for (size_t i = 0; i < n; i++) ref += (long double)x[i] * x[i];
        const int threads = omp_get_max_threads();
        omp_set_num_threads(1);
        const double s1 = cpu_sumsq(x, n);
        omp_set_num_threads(2);
        const double s2 = cpu_sumsq(x, n);
        omp_set_num_threads(threads);
        const double rel = n ? fabs((double)(s1 - ref)) / (double)ref : fabs(s1);
        ck_assert_msg(rel < 1e-13, "cpu_sumsq n=%zu: rel err %g", n, rel);
        ck_assert_msg(memcmp(&s1, &s2, sizeof s1) == 0, "cpu_sumsq n=%zu: 1 and 2 threads differ", n);
        if (n > 3) {
            x[n / 2] = NAN;
            ck_assert_msg(isnan(cpu_sumsq(x, n)), "cpu_sumsq n=%zu: NaN not propagated", n);
            x[n / 2] = INFINITY;
            ck_assert_msg(isinf(cpu_sumsq(x, n)), "cpu_sumsq n=%zu: Inf not propagated", n);
        }
        free(x);
    }
}
END_TEST

START_TEST(test_sincos_table)
{
    enum { N = 5, C = 8 };
    float pe[N * C];
    for (int i = 0; i < N * C; i++)
        pe[i] = OUT_GARBAGE;
    cpu_sincos_table(pe, N, C);
    /* hand values */
    ck_assert_float_eq_tol(pe[0 * C + 0], 0.0f, 1e-7f);
    ck_assert_float_eq_tol(pe[0 * C + 1], 1.0f, 1e-7f);
    ck_assert_float_eq_tol(pe[1 * C + 0], 0.84147098f, 1e-6f);        /* sin(1) */
    ck_assert_float_eq_tol(pe[1 * C + 1], 0.54030231f, 1e-6f);        /* cos(1) */
    ck_assert_float_eq_tol(pe[2 * C + 2], 0.19866933f, 1e-6f);        /* sin(2/10000^(2/8)) = sin(0.2) */
    ck_assert_float_eq_tol(pe[3 * C + 3], 0.95533649f, 1e-6f);        /* cos(3/10) */
    ck_assert_float_eq_tol(pe[4 * C + 6], 0.0039999893f, 1e-8f);      /* sin(4/10000^(6/8)) = sin(0.004) */
    ck_assert_float_eq_tol(pe[4 * C + 7], 0.999992f, 1e-6f);          /* cos(0.004) */
    /* the formula everywhere */
    for (int p = 0; p < N; p++)
        for (int i = 0; i < C / 2; i++) {
            const double a = p / pow(10000.0, 2.0 * i / C);
            ck_assert_double_eq_tol(pe[p * C + 2 * i], sin(a), 1e-6);
            ck_assert_double_eq_tol(pe[p * C + 2 * i + 1], cos(a), 1e-6);
        }
}
END_TEST

START_TEST(test_elementwise_add)
{
    float a[5] = { 1, 2, 3, 4, 5 }, b[5] = { 0.5f, -1, 2, 0, -3 }, o[5];
    cpu_add(o, a, b, 5);
    for (int i = 0; i < 5; i++)
        ck_assert_float_eq(o[i], a[i] + b[i]);
    cpu_add_inplace(o, a, 5);
    for (int i = 0; i < 5; i++)
        ck_assert_float_eq(o[i], 2 * a[i] + b[i]);
    cpu_scale_add(o, b, -0.5f, 5);
    for (int i = 0; i < 5; i++)
        ck_assert_float_eq(o[i], 2 * a[i] + 0.5f * b[i]);
}
END_TEST

/* ------------------------------------------------------------------ */

static Suite *ops_suite(void)
{
    Suite *s = suite_create("cpu_ops");
    TCase *tc = tcase_create("fd");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_matmul_bias);
    tcase_add_test(tc, test_matmul_nobias);
    tcase_add_test(tc, test_layernorm);
    tcase_add_test(tc, test_gelu);
    tcase_add_test(tc, test_attention_mask);
    tcase_add_test(tc, test_attention_nomask);
    tcase_add_test(tc, test_attention_nan);
    tcase_add_test(tc, test_attention_large);
    tcase_add_test(tc, test_attention_blocks);
    tcase_add_test(tc, test_softmax_ce);
    tcase_add_test(tc, test_meanpool_mask);
    tcase_add_test(tc, test_meanpool_nomask);
    tcase_add_test(tc, test_l2norm);
    tcase_add_test(tc, test_gather_scatter);
    tcase_add_test(tc, test_mse);
    tcase_add_test(tc, test_host_copy);
    tcase_add_test(tc, test_adamw);
    tcase_add_test(tc, test_sumsq);
    tcase_add_test(tc, test_sincos_table);
    tcase_add_test(tc, test_elementwise_add);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(ops_suite());
    srunner_run_all(sr, CK_NORMAL);
    const int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

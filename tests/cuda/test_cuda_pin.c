/* tests/cuda/test_cuda_pin.c — product inputs in bf16 (core/backend.h
 * pin_bytes) on the CUDA bf16 table: each _pin op against its plain op on
 * the same device, bit for bit.
 *   layernorm_fwd_pin, gelu_fwd_pin: out16 == bf16(out) (round to nearest
 *     even, NaN aside), and the same mean and rstd;
 *   matmul_fwd_pin, matmul_bwd_pin on bf16(x) == matmul_fwd, matmul_bwd on
 *     x (the plain ops round x to bf16 themselves): out, dinp, dw, dbias;
 *   matmul_fwd_pin_out == bf16(matmul_fwd_pin);
 *   gelu_matmul_bwd == gelu_bwd then matmul_bwd_pin (dinp, dw, dbias);
 *   with h kept in bf16 (h_pin): gelu_fwd_pin_h == bf16(gelu_fwd(h)) and
 *     gelu_matmul_bwd_pin_h == gelu_matmul_bwd on h's widened values, fused
 *     and (SIMVTP_CUDA_GELU_FUSE=0) not;
 *   matmul_bwd_rowscale == scale_rows then matmul_bwd[_pin] (drop path);
 *   residual_layernorm_fwd_pin == residual then layernorm_fwd_pin;
 *   attention_fwd_pin, attention_bwd_pin on bf16(qkv) == attention_fwd,
 *     attention_bwd on qkv (the default fused attention, v2): out, lse, dqkv;
 *   with the attention output kept in bf16 too (o_pin): attention_fwd_pin_o
 *     == bf16(attention_fwd_pin) and the same lse, attention_bwd_pin_o ==
 *     attention_bwd_pin (D reads O rounded to bf16 either way).
 * Shapes: vit-b's qkv, fc1 and fc2 products and odd ones (row counts and
 * widths that are not multiples of the tiles, a missing bias, dw only).
 *
 * Exit: 0 pass, 1 failure, 77 (skip) without CUDA or a device. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/backend.h"
#include "simvtp/simvtp.h"
#include "simvtp_build_config.h"

static int n_pass, n_fail;
static uint64_t rng_s = 0x5eed;

static double runif(void)
{
    uint64_t z = (rng_s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return (double)((z ^ (z >> 31)) >> 11) * (1.0 / 9007199254740992.0);
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "test_cuda_pin: out of host memory\n");
        exit(1);
    }
    return p;
}

static float *frand(size_t n, double lo, double hi)
{
    float *p = xmalloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) p[i] = (float)(lo + (hi - lo) * runif());
    return p;
}

static uint16_t bf16_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

static uint16_t *to_bf16(const float *x, size_t n)
{
    uint16_t *h = xmalloc(n * 2);
    for (size_t i = 0; i < n; i++) h[i] = bf16_bits(x[i]);
    return h;
}

/* the floats holding the bf16 values h16[n] */
static float *widened(const uint16_t *h16, size_t n)
{
    float *f = xmalloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) {
        const uint32_t u = (uint32_t)h16[i] << 16;
        memcpy(&f[i], &u, 4);
    }
    return f;
}

static void verdict(int ok, const char *op, const char *shape, const char *why)
{
    printf("%-18s %-40s %s%s%s\n", op, shape, ok ? "PASS" : "FAIL", why[0] ? "  " : "", why);
    if (ok) n_pass++; else n_fail++;
}

/* device buffer with host contents (or zeros when src is NULL) */
static void *up(const sv_backend *g, const void *src, size_t bytes)
{
    void *d = g->alloc(bytes ? bytes : 1);
    if (!d) {
        fprintf(stderr, "test_cuda_pin: device allocation of %zu bytes failed\n", bytes);
        exit(1);
    }
    if (src) g->memcpy_h2d(d, src, bytes);
    return d;
}

static void *down(const sv_backend *g, const void *d, size_t bytes)
{
    void *h = xmalloc(bytes);
    g->memcpy_d2h(h, d, bytes);
    return h;
}

/* How many of n floats differ in their bits. */
static size_t ndiff(const void *a, const void *b, size_t n, size_t es)
{
    size_t d = 0;
    for (size_t i = 0; i < n; i++) d += memcmp((const char *)a + i * es, (const char *)b + i * es, es) != 0;
    return d;
}

/* waits for the queued work; a failure goes into why (if still empty) */
static void check_finish(const sv_backend *g, char *why, size_t len)
{
    const int rc = g->finish(g);
    if (rc != SIMVTP_OK && !why[0]) snprintf(why, len, "finish: %s: %s", simvtp_strerror(rc), simvtp_last_error());
}

/* why (if still empty) says how many of the n bf16 values at o16 are not
 * bf16 of the floats at o32 (both device memory) */
static void expect_rounded(const sv_backend *g, const void *o16, const float *o32, size_t n, char *why,
                           size_t len)
{
    float *h32 = down(g, o32, n * 4);
    uint16_t *h16 = down(g, o16, n * 2), *want = to_bf16(h32, n);
    const size_t d = ndiff(h16, want, n, 2);
    if (!why[0] && d) snprintf(why, len, "%zu of %zu outputs are not bf16(out)", d, n);
    free(h32);
    free(h16);
    free(want);
}

static void layernorm_case(const sv_backend *g, int M, int C)
{
    char shape[64], why[200] = "";
    snprintf(shape, sizeof shape, "M=%d C=%d", M, C);
    const size_t n = (size_t)M * C;
    float *x = frand(n, -3, 3), *w = frand(C, 0.5, 1.5), *b = frand(C, -0.5, 0.5);
    float *dx = up(g, x, n * 4), *dw = up(g, w, C * 4), *db = up(g, b, C * 4);
    float *o32 = up(g, NULL, n * 4), *m1 = up(g, NULL, M * 4), *r1 = up(g, NULL, M * 4);
    float *m2 = up(g, NULL, M * 4), *r2 = up(g, NULL, M * 4);
    void *o16 = up(g, NULL, n * 2);
    g->layernorm_fwd(o32, m1, r1, dx, dw, db, M, C, 1e-6f);
    g->layernorm_fwd_pin(o16, m2, r2, dx, dw, db, M, C, 1e-6f);
    check_finish(g, why, sizeof why);
    expect_rounded(g, o16, o32, n, why, sizeof why);
    float *hm1 = down(g, m1, M * 4), *hr1 = down(g, r1, M * 4);
    float *hm2 = down(g, m2, M * 4), *hr2 = down(g, r2, M * 4);
    if (!why[0] && (ndiff(hm1, hm2, M, 4) || ndiff(hr1, hr2, M, 4))) snprintf(why, sizeof why, "mean/rstd differ");
    verdict(!why[0], "layernorm_fwd_pin", shape, why);
    free(x); free(w); free(b); free(hm1); free(hr1); free(hm2); free(hr2);
    g->free(dx); g->free(dw); g->free(db); g->free(o32); g->free(m1); g->free(r1); g->free(m2); g->free(r2);
    g->free(o16);
}

/* One result computed two ways: pair[0] and pair[1], n floats each (device). */
typedef struct result_pair {
    const char *what;
    float **pair;
    size_t n;
} result_pair;

/* why (if still empty) names the first result whose two ways differ in any bit */
static void compare_pairs(const sv_backend *g, const result_pair *R, size_t nr, char *why, size_t len)
{
    for (size_t r = 0; r < nr; r++) {
        float *a = down(g, R[r].pair[0], R[r].n * 4), *c = down(g, R[r].pair[1], R[r].n * 4);
        const size_t d = ndiff(a, c, R[r].n, 4);
        if (!why[0] && d) snprintf(why, len, "%s: %zu of %zu elements differ", R[r].what, d, R[r].n);
        free(a);
        free(c);
    }
}

/* residual_layernorm_fwd_pin == residual then layernorm_fwd_pin, bit for bit */
static void residual_ln_case(const sv_backend *g, int B, int N, int C, int scaled)
{
    char shape[64], why[200] = "";
    snprintf(shape, sizeof shape, "B=%d N=%d C=%d%s", B, N, C, scaled ? " drop path" : "");
    const size_t M = (size_t)B * N, n = M * C;
    float *x = frand(n, -2, 2), *y = frand(n, -3, 3), *w = frand(C, 0.5, 1.5), *b = frand(C, -0.5, 0.5);
    float *rs = frand(B, 0, 1.6);
    float *gx = up(g, x, n * 4), *gw = up(g, w, C * 4), *gb = up(g, b, C * 4), *grs = up(g, rs, B * 4);
    float *gy[2], *gm[2], *gr[2];
    void *go[2];
    for (int v = 0; v < 2; v++) {
        gy[v] = up(g, y, n * 4);
        gm[v] = up(g, NULL, M * 4);
        gr[v] = up(g, NULL, M * 4);
        go[v] = up(g, NULL, n * 2 + 4); /* compared as (n + 1) / 2 floats; the pad stays 0 */
    }
    const float *srs = scaled ? grs : NULL;
    g->residual(gy[0], gx, srs, B, N, C);
    g->layernorm_fwd_pin(go[0], gm[0], gr[0], gy[0], gw, gb, (int)M, C, 1e-6f);
    g->residual_layernorm_fwd_pin(gy[1], gx, srs, go[1], gm[1], gr[1], gw, gb, B, N, C, 1e-6f);
    check_finish(g, why, sizeof why);
    const result_pair R[] = {{"residual", gy, n}, {"out (bf16 pairs)", (float **)go, (n + 1) / 2},
                             {"mean", gm, M}, {"rstd", gr, M}};
    compare_pairs(g, R, sizeof R / sizeof R[0], why, sizeof why);
    verdict(!why[0], "residual_layernorm", shape, why);
    free(x); free(y); free(w); free(b); free(rs);
    g->free(gx); g->free(gw); g->free(gb); g->free(grs);
    for (int v = 0; v < 2; v++) {
        g->free(gy[v]); g->free(gm[v]); g->free(gr[v]); g->free(go[v]);
    }
}

static void gelu_case(const sv_backend *g, size_t n)
{
    char shape[64], why[200] = "";
    snprintf(shape, sizeof shape, "n=%zu", n);
    float *x = frand(n, -8, 8);
    float *dx = up(g, x, n * 4), *o32 = up(g, NULL, n * 4);
    void *o16 = up(g, NULL, n * 2);
    g->gelu_fwd(o32, dx, n);
    g->gelu_fwd_pin(o16, dx, n);
    check_finish(g, why, sizeof why);
    expect_rounded(g, o16, o32, n, why, sizeof why);
    verdict(!why[0], "gelu_fwd_pin", shape, why);
    free(x);
    g->free(dx); g->free(o32); g->free(o16);
}

/* gelu_fwd_pin_h(h16) == bf16(gelu_fwd(h16 widened)) */
static void gelu_h_case(const sv_backend *g, size_t n)
{
    char shape[64], why[200] = "";
    snprintf(shape, sizeof shape, "n=%zu", n);
    float *x = frand(n, -8, 8);
    uint16_t *x16 = to_bf16(x, n);
    float *xw = widened(x16, n);
    float *dxw = up(g, xw, n * 4), *o32 = up(g, NULL, n * 4);
    void *dx16 = up(g, x16, n * 2), *o16 = up(g, NULL, n * 2);
    g->gelu_fwd(o32, dxw, n);
    g->gelu_fwd_pin_h(o16, dx16, n);
    check_finish(g, why, sizeof why);
    expect_rounded(g, o16, o32, n, why, sizeof why);
    verdict(!why[0], "gelu_fwd_pin_h", shape, why);
    free(x); free(x16); free(xw);
    g->free(dxw); g->free(o32); g->free(dx16); g->free(o16);
}

/* flags: 1 bias (forward) / dbias (backward), 2 dinp (backward) */
static void matmul_case(const sv_backend *g, const char *name, int M, int K, int N, int flags)
{
    char shape[64], why[200] = "";
    snprintf(shape, sizeof shape, "%s M=%d K=%d N=%d%s%s", name, M, K, N, flags & 1 ? "" : " no bias",
             flags & 2 ? "" : " dw only");
    const size_t mk = (size_t)M * K, nk = (size_t)N * K, mn = (size_t)M * N;
    float *x = frand(mk, -1, 1), *w = frand(nk, -0.1, 0.1), *bias = frand(N, -0.5, 0.5);
    float *dout = frand(mn, -1, 1), *dw0 = frand(nk, -1, 1), *db0 = frand(N, -1, 1);
    uint16_t *x16 = to_bf16(x, mk);
    float *gx = up(g, x, mk * 4), *gw = up(g, w, nk * 4), *gb = up(g, bias, N * 4), *gdo = up(g, dout, mn * 4);
    void *gx16 = up(g, x16, mk * 2);
    float *out[2], *dinp[2], *dwt[2], *dbt[2];
    for (int v = 0; v < 2; v++) {
        out[v] = up(g, NULL, mn * 4);
        dinp[v] = up(g, NULL, mk * 4);
        dwt[v] = up(g, dw0, nk * 4);
        dbt[v] = up(g, db0, N * 4);
    }
    const float *b = flags & 1 ? gb : NULL;
    g->matmul_fwd(out[0], gx, gw, b, M, K, N);
    g->matmul_fwd_pin(out[1], gx16, gw, b, M, K, N);
    g->matmul_bwd(flags & 2 ? dinp[0] : NULL, dwt[0], flags & 1 ? dbt[0] : NULL, gdo, gx, gw, M, K, N);
    g->matmul_bwd_pin(flags & 2 ? dinp[1] : NULL, dwt[1], flags & 1 ? dbt[1] : NULL, gdo, gx16, gw, M, K, N);
    check_finish(g, why, sizeof why);
    const result_pair R[] = {{"out", out, mn}, {"dinp", dinp, mk}, {"dw", dwt, nk}, {"dbias", dbt, (size_t)N}};
    compare_pairs(g, R, sizeof R / sizeof R[0], why, sizeof why);
    float *hdw = down(g, dwt[0], nk * 4);
    const size_t changed = ndiff(hdw, dw0, nk, 4);
    free(hdw);
    if (!why[0] && changed < nk / 2) snprintf(why, sizeof why, "dw hardly changed (%zu of %zu)", changed, nk);
    verdict(!why[0], "matmul_fwd/bwd_pin", shape, why);
    free(x); free(w); free(bias); free(dout); free(dw0); free(db0); free(x16);
    g->free(gx); g->free(gw); g->free(gb); g->free(gdo); g->free(gx16);
    for (int v = 0; v < 2; v++) {
        g->free(out[v]); g->free(dinp[v]); g->free(dwt[v]); g->free(dbt[v]);
    }
}

/* The two result sets of a backward pair: dinp (uninitialized), dw and
 * dbias starting from dw0 and db0 (the ops add into them). */
static void grads_up(const sv_backend *g, float *dinp[2], float *dwt[2], float *dbt[2], size_t mk, const float *dw0,
                     size_t nk, const float *db0, int N)
{
    for (int v = 0; v < 2; v++) {
        dinp[v] = up(g, NULL, mk * 4);
        dwt[v] = up(g, dw0, nk * 4);
        dbt[v] = up(g, db0, (size_t)N * 4);
    }
}

static void grads_free(const sv_backend *g, float *dinp[2], float *dwt[2], float *dbt[2])
{
    for (int v = 0; v < 2; v++) {
        g->free(dinp[v]);
        g->free(dwt[v]);
        g->free(dbt[v]);
    }
}

/* The verdict on a fused backward (results [1]) against its two ops
 * (results [0]): dinp, dw and dbias bit for bit, and its input `in` (n
 * floats on the device, `host` their values) left as it was. */
static void bwd_pair_verdict(const sv_backend *g, const char *op, const char *shape, float *dinp[2], float *dwt[2],
                             float *dbt[2], size_t mk, size_t nk, int N, const float *in, const float *host, size_t n,
                             const char *in_name)
{
    char why[200] = "";
    check_finish(g, why, sizeof why);
    const result_pair R[] = {{"dinp", dinp, mk}, {"dw", dwt, nk}, {"dbias", dbt, (size_t)N}};
    compare_pairs(g, R, sizeof R / sizeof R[0], why, sizeof why);
    float *h = down(g, in, n * 4);
    if (!why[0] && ndiff(h, host, n, 4)) snprintf(why, sizeof why, "%s was modified", in_name);
    verdict(!why[0], op, shape, why);
    free(h);
}

/* gelu_matmul_bwd == gelu_bwd then matmul_bwd_pin, bit for bit: dinp, dw, dbias */
static void gelu_matmul_case(const sv_backend *g, int M, int K, int N)
{
    char shape[64];
    snprintf(shape, sizeof shape, "fc1 M=%d K=%d N=%d", M, K, N);
    const size_t mk = (size_t)M * K, nk = (size_t)N * K, mn = (size_t)M * N;
    float *x = frand(mk, -1, 1), *w = frand(nk, -0.1, 0.1), *dg = frand(mn, -1, 1), *h = frand(mn, -5, 5);
    float *dw0 = frand(nk, -1, 1), *db0 = frand(N, -1, 1);
    uint16_t *x16 = to_bf16(x, mk);
    void *gx16 = up(g, x16, mk * 2);
    float *gw = up(g, w, nk * 4), *gdg = up(g, dg, mn * 4), *gh = up(g, h, mn * 4), *dh = up(g, NULL, mn * 4);
    float *dinp[2], *dwt[2], *dbt[2];
    grads_up(g, dinp, dwt, dbt, mk, dw0, nk, db0, N);
    g->gelu_bwd(dh, gh, gdg, mn);
    g->matmul_bwd_pin(dinp[0], dwt[0], dbt[0], dh, gx16, gw, M, K, N);
    g->gelu_matmul_bwd(dinp[1], dwt[1], dbt[1], gdg, gh, gx16, gw, M, K, N);
    bwd_pair_verdict(g, "gelu_matmul_bwd", shape, dinp, dwt, dbt, mk, nk, N, gdg, dg, mn, "dg");
    free(x); free(w); free(dg); free(h); free(dw0); free(db0); free(x16);
    g->free(gx16); g->free(gw); g->free(gdg); g->free(gh); g->free(dh);
    grads_free(g, dinp, dwt, dbt);
}

/* gelu_matmul_bwd_pin_h(h16) == gelu_matmul_bwd(h16 widened), bit for bit,
 * fused (fuse 1) and through gelu_bwd then matmul_bwd_pin (fuse 0) */
static void gelu_matmul_h_case(const sv_backend *g, int M, int K, int N, int fuse)
{
    char shape[64];
    snprintf(shape, sizeof shape, "fc1 M=%d K=%d N=%d%s", M, K, N, fuse ? "" : " GELU_FUSE=0");
    if (!fuse) setenv("SIMVTP_CUDA_GELU_FUSE", "0", 1);
    const size_t mk = (size_t)M * K, nk = (size_t)N * K, mn = (size_t)M * N;
    float *x = frand(mk, -1, 1), *w = frand(nk, -0.1, 0.1), *dg = frand(mn, -1, 1), *h = frand(mn, -5, 5);
    float *dw0 = frand(nk, -1, 1), *db0 = frand(N, -1, 1);
    uint16_t *x16 = to_bf16(x, mk), *h16 = to_bf16(h, mn);
    float *hw = widened(h16, mn);
    void *gx16 = up(g, x16, mk * 2), *gh16 = up(g, h16, mn * 2);
    float *gw = up(g, w, nk * 4), *gdg = up(g, dg, mn * 4), *ghw = up(g, hw, mn * 4);
    float *dinp[2], *dwt[2], *dbt[2];
    grads_up(g, dinp, dwt, dbt, mk, dw0, nk, db0, N);
    g->gelu_matmul_bwd(dinp[0], dwt[0], dbt[0], gdg, ghw, gx16, gw, M, K, N);
    g->gelu_matmul_bwd_pin_h(dinp[1], dwt[1], dbt[1], gdg, gh16, gx16, gw, M, K, N);
    bwd_pair_verdict(g, "gelu_mm_bwd_pin_h", shape, dinp, dwt, dbt, mk, nk, N, gdg, dg, mn, "dg");
    unsetenv("SIMVTP_CUDA_GELU_FUSE");
    free(x); free(w); free(dg); free(h); free(dw0); free(db0); free(x16); free(h16); free(hw);
    g->free(gx16); g->free(gh16); g->free(gw); g->free(gdg); g->free(ghw);
    grads_free(g, dinp, dwt, dbt);
}

/* matmul_bwd_rowscale == scale_rows then matmul_bwd_pin (inp in bf16) or
 * matmul_bwd (inp fp32), bit for bit: dinp, dw, dbias; dout unchanged.
 * T rows per sample, scales 0 (a dropped branch) or 1/0.9. */
static void rowscale_case(const sv_backend *g, int T, int B, int K, int N, int inp_pin)
{
    char shape[80];
    const int M = T * B;
    snprintf(shape, sizeof shape, "%s B=%d T=%d K=%d N=%d", inp_pin ? "fc2" : "proj", B, T, K, N);
    const size_t mk = (size_t)M * K, nk = (size_t)N * K, mn = (size_t)M * N;
    float *x = frand(mk, -1, 1), *w = frand(nk, -0.1, 0.1), *dout = frand(mn, -1, 1);
    float *dw0 = frand(nk, -1, 1), *db0 = frand(N, -1, 1), *rs = frand(B, 0, 1);
    for (int b = 0; b < B; b++) rs[b] = rs[b] < 0.3f ? 0.0f : 1.0f / 0.9f;
    uint16_t *x16 = to_bf16(x, mk);
    const void *gin = inp_pin ? up(g, x16, mk * 2) : (void *)up(g, x, mk * 4);
    float *gw = up(g, w, nk * 4), *gdo = up(g, dout, mn * 4), *grs = up(g, rs, B * 4), *t = up(g, NULL, mn * 4);
    float *dinp[2], *dwt[2], *dbt[2];
    grads_up(g, dinp, dwt, dbt, mk, dw0, nk, db0, N);
    g->scale_rows(t, gdo, grs, B, T, N);
    if (inp_pin) g->matmul_bwd_pin(dinp[0], dwt[0], dbt[0], t, gin, gw, M, K, N);
    else g->matmul_bwd(dinp[0], dwt[0], dbt[0], t, (const float *)gin, gw, M, K, N);
    g->matmul_bwd_rowscale(dinp[1], dwt[1], dbt[1], gdo, grs, T, gin, inp_pin, gw, M, K, N);
    bwd_pair_verdict(g, "matmul_bwd_rowscale", shape, dinp, dwt, dbt, mk, nk, N, gdo, dout, mn, "dout");
    free(x); free(w); free(dout); free(dw0); free(db0); free(rs); free(x16);
    g->free((void *)gin); g->free(gw); g->free(gdo); g->free(grs); g->free(t);
    grads_free(g, dinp, dwt, dbt);
}

/* matmul_fwd_pin_out == bf16(matmul_fwd), bit for bit; has_bias 0: no bias */
static void matmul_out_case(const sv_backend *g, int M, int K, int N, int has_bias)
{
    char shape[80], why[200] = "";
    snprintf(shape, sizeof shape, "M=%d K=%d N=%d%s", M, K, N, has_bias ? "" : " no bias");
    const size_t mk = (size_t)M * K, nk = (size_t)N * K, mn = (size_t)M * N;
    float *x = frand(mk, -1, 1), *w = frand(nk, -0.1, 0.1), *bias = frand(N, -0.5, 0.5);
    uint16_t *x16 = to_bf16(x, mk);
    void *gx16 = up(g, x16, mk * 2), *o16 = up(g, NULL, mn * 2);
    float *gw = up(g, w, nk * 4), *gb = has_bias ? up(g, bias, N * 4) : NULL, *o32 = up(g, NULL, mn * 4);
    g->matmul_fwd_pin(o32, gx16, gw, gb, M, K, N);
    g->matmul_fwd_pin_out(o16, gx16, gw, gb, M, K, N);
    check_finish(g, why, sizeof why);
    expect_rounded(g, o16, o32, mn, why, sizeof why);
    verdict(!why[0], "matmul_fwd_pin_out", shape, why);
    free(x); free(w); free(bias); free(x16);
    g->free(gx16); g->free(o16); g->free(gw); if (gb) g->free(gb); g->free(o32);
}

/* attention_fwd_pin / attention_bwd_pin on bf16(qkv) == attention_fwd /
 * attention_bwd on qkv (the fused kernels round q/k/v to bf16 themselves);
 * the _pin_o pair with O in bf16 == the _pin pair */
static void attention_case(const sv_backend *g, int B, int N, int H, int hd, int holes)
{
    char shape[64], why[200] = "";
    snprintf(shape, sizeof shape, "B=%d N=%d H=%d hd=%d%s", B, N, H, hd, holes ? " holes" : "");
    if (!g->attention_pin(hd)) {
        const char *e = getenv("SIMVTP_CUDA_ATTENTION");
        if (e && *e) { /* another attention chosen: qkv stays fp32, nothing to compare */
            printf("%-18s %-40s skipped (SIMVTP_CUDA_ATTENTION=%s)\n", "attention_pin", shape, e);
            return;
        }
        verdict(0, "attention_pin", shape, "attention_pin(hd) is 0 in the default configuration");
        return;
    }
    const size_t C = (size_t)H * hd, rows = (size_t)B * N, nq = rows * 3 * C, no = rows * C;
    const size_t ns = g->attention_saved(B, N, H, hd);
    float *qkv = frand(nq, -2, 2), *dout = frand(no, -1, 1);
    uint8_t *kv = xmalloc(rows);
    for (size_t i = 0; i < rows; i++) kv[i] = (i % N) == 0 || !holes || runif() > 0.2;
    uint16_t *q16 = to_bf16(qkv, nq);
    float *gq = up(g, qkv, nq * 4), *gdo = up(g, dout, no * 4);
    void *gq16 = up(g, q16, nq * 2);
    uint8_t *gkv = up(g, kv, rows);
    float *out[3], *att[3], *dq[3];
    for (int v = 0; v < 3; v++) {
        out[v] = up(g, NULL, v < 2 ? no * 4 : no * 2 + 4); /* [2]: bf16, compared as (no + 1) / 2 floats */
        att[v] = up(g, NULL, (ns ? ns : 1) * 4);
        dq[v] = up(g, NULL, nq * 4);
    }
    int r0 = g->attention_fwd(out[0], att[0], gq, gkv, B, N, H, hd);
    int r1 = g->attention_fwd_pin(out[1], att[1], gq16, gkv, B, N, H, hd);
    r0 |= g->attention_bwd(dq[0], gdo, gq, out[0], att[0], gkv, B, N, H, hd);
    r1 |= g->attention_bwd_pin(dq[1], gdo, gq16, out[1], att[1], gkv, B, N, H, hd);
    check_finish(g, why, sizeof why);
    if (!why[0] && (r0 || r1)) snprintf(why, sizeof why, "returned %d / %d", r0, r1);
    const result_pair R[] = {{"out", out, no}, {"lse", att, ns}, {"dqkv", dq, nq}};
    compare_pairs(g, R, sizeof R / sizeof R[0], why, sizeof why);
    verdict(!why[0], "attention_fwd/bwd_pin", shape, why);

    /* O in bf16: against bf16 of the _pin pair's fp32 O */
    why[0] = 0;
    float *o32 = down(g, out[1], no * 4);
    uint16_t *w16 = to_bf16(o32, no), *want = xmalloc((no + 2) * 2);
    memcpy(want, w16, no * 2);
    want[no] = want[no + 1] = 0; /* the pad, as up() leaves out[2]'s */
    void *gwant = up(g, want, no * 2 + 4);
    int r2 = g->attention_fwd_pin_o(out[2], att[2], gq16, gkv, B, N, H, hd);
    r2 |= g->attention_bwd_pin_o(dq[2], gdo, gq16, out[2], att[2], gkv, B, N, H, hd);
    check_finish(g, why, sizeof why);
    if (!why[0] && r2) snprintf(why, sizeof why, "returned %d", r2);
    float *o16p[2] = {(float *)gwant, out[2]}, *attp[2] = {att[1], att[2]}, *dqp[2] = {dq[1], dq[2]};
    const result_pair R2[] = {{"out (bf16 pairs)", o16p, (no + 1) / 2}, {"lse", attp, ns}, {"dqkv", dqp, nq}};
    compare_pairs(g, R2, sizeof R2 / sizeof R2[0], why, sizeof why);
    verdict(!why[0], "attention_fwd/bwd_pin_o", shape, why);
    free(o32); free(w16); free(want);
    g->free(gwant);

    free(qkv); free(dout); free(kv); free(q16);
    g->free(gq); g->free(gdo); g->free(gq16); g->free(gkv);
    for (int v = 0; v < 3; v++) {
        g->free(out[v]); g->free(att[v]); g->free(dq[v]);
    }
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
#if !SIMVTP_HAVE_CUDA
    printf("SKIP: libsimvtp was built without CUDA\n");
    return 77;
#else
    if (sv_cuda_device_count() <= 0) {
        printf("SKIP: no CUDA device\n");
        return 77;
    }
    const sv_backend *g = NULL;
    int rc = sv_backend_get("cuda:0", &g);
    if (rc != SIMVTP_OK || !g || g->activate(g) != SIMVTP_OK) {
        printf("cuda:0 unavailable: %s  FAIL\n", simvtp_last_error());
        return 1;
    }
    if (!g->pin_bytes || !g->layernorm_fwd_pin || !g->gelu_fwd_pin || !g->matmul_fwd_pin || !g->matmul_bwd_pin ||
        !g->attention_pin || !g->matmul_fwd_pin_out || !g->attention_fwd_pin || !g->attention_bwd_pin ||
        !g->gelu_matmul_bwd || !g->residual_layernorm_fwd_pin || !g->matmul_bwd_rowscale || !g->h_pin ||
        !g->gelu_fwd_pin_h || !g->gelu_matmul_bwd_pin_h || !g->o_pin || !g->attention_fwd_pin_o ||
        !g->attention_bwd_pin_o) {
        printf("the bf16 table has no product-input ops  FAIL\n");
        return 1;
    }
    const size_t pb = g->pin_bytes();
    const char *env = getenv("SIMVTP_CUDA_PIN16");
    if (env && !strcmp(env, "0")) {
        setenv("SIMVTP_CUDA_H16", "1", 1);
        const int ap = g->attention_pin(64), hp = g->h_pin(), op = g->o_pin();
        printf("pin_bytes() with SIMVTP_CUDA_PIN16=0: %zu, attention_pin(64): %d, h_pin() with SIMVTP_CUDA_H16=1: "
               "%d, o_pin(): %d (want 0, 0, 0, 0)  %s\n",
               pb, ap, hp, op, pb == 0 && ap == 0 && hp == 0 && op == 0 ? "PASS" : "FAIL");
        return pb == 0 && ap == 0 && hp == 0 && op == 0 ? 0 : 1;
    }
    if (pb != 2) {
        printf("pin_bytes() = %zu, want 2 (bf16)  FAIL\n", pb);
        return 1;
    }
    {
        const int off = g->h_pin();
        setenv("SIMVTP_CUDA_H16", "1", 1);
        const int on = g->h_pin();
        unsetenv("SIMVTP_CUDA_H16");
        verdict(on == 1 && off == 0, "h_pin", "default / SIMVTP_CUDA_H16=1", on == 1 && off == 0 ? "" : "want 0 / 1");
        const int o_on = g->o_pin();
        setenv("SIMVTP_CUDA_O16", "0", 1);
        const int o_off = g->o_pin();
        unsetenv("SIMVTP_CUDA_O16");
        verdict(o_on == 1 && o_off == 0, "o_pin", "default / SIMVTP_CUDA_O16=0",
                o_on == 1 && o_off == 0 ? "" : "want 1 / 0");
    }
    layernorm_case(g, 378, 768);
    layernorm_case(g, 5, 33);
    residual_ln_case(g, 2, 189, 768, 0);
    residual_ln_case(g, 3, 50, 33, 1);
    gelu_case(g, (size_t)378 * 3072);
    gelu_case(g, 1001);
    matmul_case(g, "qkv", 378, 768, 2304, 1);
    matmul_case(g, "fc1", 378, 768, 3072, 3);
    matmul_case(g, "fc2", 378, 3072, 768, 3);
    matmul_case(g, "odd", 37, 50, 13, 2);
    matmul_case(g, "odd", 37, 50, 13, 1);
    gelu_matmul_case(g, 378, 768, 3072);
    gelu_matmul_case(g, 37, 40, 72);
    gelu_h_case(g, (size_t)378 * 3072);
    gelu_h_case(g, 1001);
    for (int fuse = 1; fuse >= 0; fuse--) {
        gelu_matmul_h_case(g, 378, 768, 3072, fuse);
        gelu_matmul_h_case(g, 37, 40, 72, fuse);
    }
    rowscale_case(g, 197, 2, 3072, 768, 1);
    rowscale_case(g, 197, 2, 768, 768, 0);
    rowscale_case(g, 7, 5, 40, 72, 1);
    /* the vit-b step's bf16-output products: qkv (video and joint
     * passes, decoder), fc1 with SIMVTP_CUDA_H16=1; odd shapes */
    matmul_out_case(g, 378, 768, 2304, 1);
    matmul_out_case(g, 3024, 768, 2304, 1);
    matmul_out_case(g, 25088, 384, 1152, 1);
    matmul_out_case(g, 25088, 768, 3072, 1);
    matmul_out_case(g, 37, 64, 24, 1);
    matmul_out_case(g, 37, 64, 24, 0);
    attention_case(g, 2, 189, 12, 64, 1);
    attention_case(g, 2, 300, 6, 64, 1);
    attention_case(g, 3, 77, 4, 32, 0);
    printf("test_cuda_pin: %d passed, %d failed\n", n_pass, n_fail);
    return n_fail ? 1 : 0;
#endif
}

/* tests/cuda/emu/test_flash_emu.cc — the fused attention kernels
 * (libsimvtp/cuda/flash_attention.cu, v1, and flash_attention_v2.cu, v2)
 * compiled for the CPU and run by the SIMT emulator (simt_emu.h), so that a
 * machine without a GPU checks their indexing, fragment layouts, barriers
 * and cp.async pipelines. For each case:
 *   - v1 and v2 forward (output, log2-domain log-sum-exp) and backward
 *     (dqkv, overwritten over a garbage prefill) against a double-precision
 *     reference, with the bf16 table's thresholds of tests/cuda;
 *   - v2 equal to v1 bit for bit (the same bf16 roundings and the same
 *     order of tensor-core products; only the data movement differs), and
 *     the bf16 copy of dO that v2's D kernel writes equal to bf16(dO);
 *   - v2 again with warps at random relative speeds, cp.async landing at
 *     issue and as late as its wait allows;
 *   - v2 with O kept in bf16 (attention_fwd_pin_o / _bwd_pin_o): the stored
 *     O is bf16 of the fp32 O, and D and the backward from it are those
 *     from the fp32 O, bit for bit (D reads O rounded to bf16 either way).
 * What the emulator cannot see: timing, bank conflicts, register limits,
 * and the hardware's own reading of the PTX (the mma.sync/shfl layouts are
 * those v1 passed on an H100; tests/cuda runs everything on a real GPU).
 * Exit 0 when all pass, 1 otherwise, 77 under AddressSanitizer (which does
 * not follow the emulator's stack switches). */
#define SV_CUDA_EMULATE 1
#include "cuda/flash_attention.cu"
#include "cuda/flash_attention_v2.cu"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace {

uint64_t rng_state = 0x9e3779b97f4a7c15ull;
double urand()
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (double)(rng_state >> 11) / 9007199254740992.0;
}

int n_pass, n_fail;

struct tcase {
    const char *name;
    int B, N, H, hd, mask; /* mask 0: none, 1: padding at the end, 2: holes, 3: one sample all masked */
};

size_t qix(int b, int n, int t, int h, int d, int N, int H, int hd)
{
    return ((((size_t)b * N + n) * 3 + t) * H + h) * hd + d;
}

/* double reference: out[B,N,H,hd], lse2[B,H,N] (log2 domain, 0 without a
 * valid key), dqkv (gradient of sum(out * dout)) */
void reference(const tcase &c, const std::vector<float> &qkv, const std::vector<float> &dout,
               const std::vector<uint8_t> &valid, std::vector<double> &out, std::vector<double> &lse2,
               std::vector<double> &dqkv)
{
    const int B = c.B, N = c.N, H = c.H, hd = c.hd;
    const double scale = 1.0 / std::sqrt((double)hd);
    out.assign((size_t)B * N * H * hd, 0.0);
    lse2.assign((size_t)B * H * N, 0.0);
    dqkv.assign(qkv.size(), 0.0);
    std::vector<double> p(N), dp(N);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++)
            for (int i = 0; i < N; i++) {
                double mx = -INFINITY;
                for (int j = 0; j < N; j++) {
                    p[j] = -INFINITY;
                    if (!valid[(size_t)b * N + j]) continue;
                    double s = 0;
                    for (int d = 0; d < hd; d++)
                        s += (double)qkv[qix(b, i, 0, h, d, N, H, hd)] * qkv[qix(b, j, 1, h, d, N, H, hd)];
                    p[j] = s * scale;
                    mx = std::max(mx, p[j]);
                }
                if (mx == -INFINITY) continue; /* no valid key: output 0, no gradient */
                double sum = 0;
                for (int j = 0; j < N; j++) sum += (p[j] = std::exp(p[j] - mx));
                for (int j = 0; j < N; j++) p[j] /= sum;
                lse2[((size_t)b * H + h) * N + i] = (mx + std::log(sum)) / std::log(2.0);
                const size_t o = (((size_t)b * N + i) * H + h) * hd;
                double dot = 0;
                for (int j = 0; j < N; j++) {
                    double g = 0;
                    for (int d = 0; d < hd; d++) g += (double)dout[o + d] * qkv[qix(b, j, 2, h, d, N, H, hd)];
                    dp[j] = g;
                    dot += p[j] * g;
                }
                for (int d = 0; d < hd; d++) {
                    double acc = 0;
                    for (int j = 0; j < N; j++) acc += p[j] * qkv[qix(b, j, 2, h, d, N, H, hd)];
                    out[o + d] = acc;
                }
                for (int j = 0; j < N; j++) {
                    const double ds = p[j] * (dp[j] - dot);
                    for (int d = 0; d < hd; d++) {
                        dqkv[qix(b, i, 0, h, d, N, H, hd)] += scale * ds * qkv[qix(b, j, 1, h, d, N, H, hd)];
                        dqkv[qix(b, j, 1, h, d, N, H, hd)] += scale * ds * qkv[qix(b, i, 0, h, d, N, H, hd)];
                        dqkv[qix(b, j, 2, h, d, N, H, hd)] += p[j] * dout[o + d];
                    }
                }
            }
}

/* max |x - ref| / max |ref| */
double nerr(const float *x, const double *ref, size_t n)
{
    double e = 0, m = 0;
    for (size_t i = 0; i < n; i++) {
        const double v = (double)x[i];
        e = std::max(e, std::fabs(v - ref[i]));
        m = std::max(m, std::fabs(ref[i]));
    }
    return m > 0 ? e / m : e;
}

void check(const char *what, const tcase &c, double err, double tol)
{
    const int ok = err <= tol;
    printf("%-36s %-28s B=%d N=%d H=%d hd=%d  err %.3e  tol %.0e  %s\n", what, c.name, c.B, c.N, c.H,
           c.hd, err, tol, ok ? "PASS" : "FAIL");
    ok ? n_pass++ : n_fail++;
}

void check_same(const char *what, const tcase &c, const std::vector<float> &x, const std::vector<float> &y)
{
    const int ok = x.size() == y.size() && !memcmp(x.data(), y.data(), x.size() * sizeof(float));
    size_t diff = 0;
    for (size_t i = 0; i < x.size() && i < y.size(); i++) diff += memcmp(&x[i], &y[i], 4) != 0;
    printf("%-36s %-28s B=%d N=%d H=%d hd=%d  %zu of %zu differ  %s\n", what, c.name, c.B, c.N, c.H,
           c.hd, diff, x.size(), ok ? "PASS" : "FAIL");
    ok ? n_pass++ : n_fail++;
}

/* One version's outputs, with the buffers its kernels fill (NaN until then;
 * dqkv starts from a garbage prefill the backward must overwrite) and
 * D = rowsum(dO O). */
struct result {
    std::vector<float> out, lse, dqkv, D;
    int rc;
    result(const tcase &c, int hd, const std::vector<float> &dqkv0)
        : out((size_t)c.B * c.N * c.H * hd, NAN), lse((size_t)c.B * c.H * c.N, NAN), dqkv(dqkv0),
          D((size_t)c.B * c.N * c.H, NAN), rc(0)
    {
    }
};

/* D for the backward, by the kernel both versions launch (v2 also has it
 * write the bf16 copy of dO: do16 non-NULL) */
template <int HD>
int run_dot(const tcase &c, result &r, const std::vector<float> &dout, bf16 *do16 = nullptr)
{
    const unsigned rows = (unsigned)(c.B * c.N * c.H);
    return emu_launch({(rows + 255) / 256, 1, 1}, {256, 1, 1}, [&] {
        fa_dot_kernel<HD>(r.D.data(), dout.data(), r.out.data(), c.B, c.N, c.H, do16);
    });
}

template <int HD>
result run_v1(const tcase &c, const std::vector<float> &qkv, const std::vector<float> &dout,
              const uint8_t *valid, const std::vector<float> &dqkv0)
{
    const int B = c.B, N = c.N, H = c.H;
    result r(c, HD, dqkv0);
    const float scale = 1.0f / sqrtf((float)HD), scale_log2 = 1.4426950408889634f * scale;
    const emu_dim3 grid = {(unsigned)((N + FA_ROWS - 1) / FA_ROWS), (unsigned)H, (unsigned)B};
    r.rc = emu_launch(grid, {FA_THREADS, 1, 1}, [&] {
        fa_fwd_kernel<HD>(r.out.data(), r.lse.data(), qkv.data(), valid, N, H, scale_log2);
    });
    if (!r.rc) r.rc = run_dot<HD>(c, r, dout);
    if (!r.rc)
        r.rc = emu_launch(grid, {FA_THREADS, 1, 1}, [&] {
            fa_bwd_kv_kernel<HD>(r.dqkv.data(), dout.data(), qkv.data(), r.lse.data(), r.D.data(), valid, N, H,
                                 scale_log2, scale);
        });
    if (!r.rc)
        r.rc = emu_launch(grid, {FA_THREADS, 1, 1}, [&] {
            fa_bwd_q_kernel<HD>(r.dqkv.data(), dout.data(), qkv.data(), r.lse.data(), r.D.data(), valid, N, H,
                                scale_log2, scale);
        });
    return r;
}

std::vector<bf16> to_bf16(const std::vector<float> &x)
{
    std::vector<bf16> y(x.size());
    for (size_t i = 0; i < x.size(); i++) y[i] = __float2bfloat16_rn(x[i]);
    return y;
}

template <int HD>
result run_v2(const tcase &c, const std::vector<float> &qkv, const std::vector<float> &dout,
              const uint8_t *valid, const std::vector<float> &dqkv0)
{
    const int B = c.B, N = c.N, H = c.H;
    result r(c, HD, dqkv0);
    /* 16-byte aligned bf16 copies, as the pool gives them */
    std::vector<bf16> q16v = to_bf16(qkv), d16v = to_bf16(dout);
    bf16 *q16 = (bf16 *)aligned_alloc(16, (q16v.size() * 2 + 15) / 16 * 16);
    bf16 *d16 = (bf16 *)aligned_alloc(16, (d16v.size() * 2 + 15) / 16 * 16);
    memcpy(q16, q16v.data(), q16v.size() * 2);
    memset((void *)d16, 0x5a, d16v.size() * 2); /* written by fa_dot_kernel below */
    const float scale = 1.0f / sqrtf((float)HD), scale_log2 = 1.4426950408889634f * scale;
    const int fr = 16 * F2_FWD_WARPS, br = 16 * F2_BWD_WARPS;
    r.rc = emu_launch({(unsigned)((N + fr - 1) / fr), (unsigned)H, (unsigned)B}, {F2_FWD_WARPS * 32, 1, 1}, [&] {
        f2_fwd_kernel<HD>(r.out.data(), r.lse.data(), q16, valid, N, H, scale_log2);
    });
    if (!r.rc) r.rc = run_dot<HD>(c, r, dout, d16);
    if (!r.rc && memcmp(d16, d16v.data(), d16v.size() * 2)) {
        fprintf(stderr, "fa_dot_kernel: the bf16 copy of dO is not bf16(dO)\n");
        r.rc = -1;
    }
    const emu_dim3 bgrid = {(unsigned)((N + br - 1) / br), (unsigned)H, (unsigned)B};
    if (!r.rc)
        r.rc = emu_launch(bgrid, {F2_BWD_WARPS * 32, 1, 1}, [&] {
            f2_bwd_kv_kernel<HD>(r.dqkv.data(), d16, q16, r.lse.data(), r.D.data(), valid, N, H, scale_log2, scale);
        });
    if (!r.rc)
        r.rc = emu_launch(bgrid, {F2_BWD_WARPS * 32, 1, 1}, [&] {
            f2_bwd_q_kernel<HD>(r.dqkv.data(), d16, q16, r.lse.data(), r.D.data(), valid, N, H, scale_log2, scale);
        });
    free(q16);
    free(d16);
    return r;
}

std::vector<float> widened(const bf16 *x, size_t n)
{
    std::vector<float> y(n);
    for (size_t i = 0; i < n; i++) y[i] = __bfloat162float(x[i]);
    return y;
}

/* v2 with O in bf16, against v2 with an fp32 O (v2) */
template <int HD>
void run_o16(const tcase &c, const std::vector<float> &qkv, const std::vector<float> &dout, const uint8_t *valid,
             const std::vector<float> &dqkv0, const result &v2)
{
    const int B = c.B, N = c.N, H = c.H;
    const size_t no = (size_t)B * N * H * HD, rows = (size_t)B * N * H;
    std::vector<bf16> q16v = to_bf16(qkv);
    bf16 *q16 = (bf16 *)aligned_alloc(16, (q16v.size() * 2 + 15) / 16 * 16);
    bf16 *o16 = (bf16 *)aligned_alloc(16, (no * 2 + 15) / 16 * 16);
    bf16 *d16 = (bf16 *)aligned_alloc(16, (no * 2 + 15) / 16 * 16);
    memcpy(q16, q16v.data(), q16v.size() * 2);
    memset((void *)o16, 0x5a, no * 2);
    std::vector<float> lse(rows, NAN), D16(rows, NAN), dq(dqkv0);
    const float scale = 1.0f / sqrtf((float)HD), scale_log2 = 1.4426950408889634f * scale;
    const int fr = 16 * F2_FWD_WARPS, br = 16 * F2_BWD_WARPS;
    int rc = emu_launch({(unsigned)((N + fr - 1) / fr), (unsigned)H, (unsigned)B}, {F2_FWD_WARPS * 32, 1, 1},
                        [&] { f2_fwd_kernel<HD>(o16, lse.data(), q16, valid, N, H, scale_log2); });
    std::vector<bf16> want16 = to_bf16(v2.out);
    const std::vector<float> ow = widened(o16, no), want = widened(want16.data(), no);
    const unsigned dblocks = (unsigned)((rows + 255) / 256);
    if (!rc)
        rc = emu_launch({dblocks, 1, 1}, {256, 1, 1},
                        [&] { fa_dot_kernel<HD>(D16.data(), dout.data(), o16, B, N, H, d16); });
    const emu_dim3 bgrid = {(unsigned)((N + br - 1) / br), (unsigned)H, (unsigned)B};
    if (!rc)
        rc = emu_launch(bgrid, {F2_BWD_WARPS * 32, 1, 1}, [&] {
            f2_bwd_kv_kernel<HD>(dq.data(), d16, q16, lse.data(), D16.data(), valid, N, H, scale_log2, scale);
        });
    if (!rc)
        rc = emu_launch(bgrid, {F2_BWD_WARPS * 32, 1, 1}, [&] {
            f2_bwd_q_kernel<HD>(dq.data(), d16, q16, lse.data(), D16.data(), valid, N, H, scale_log2, scale);
        });
    free(q16);
    free(o16);
    free(d16);
    if (rc) { check("v2 bf16 O emulation", c, 1.0, 0.0); return; }
    check_same("v2 bf16 O == bf16(fp32 O)", c, ow, want);
    check_same("v2 bf16 O: lse", c, lse, v2.lse);
    check_same("v2 bf16 O: D", c, D16, v2.D);
    check_same("v2 bf16 O: backward dqkv", c, dq, v2.dqkv);
}

template <int HD>
void run_case(const tcase &c)
{
    const int B = c.B, N = c.N, H = c.H;
    std::vector<float> qkv((size_t)B * N * 3 * H * HD), dout((size_t)B * N * H * HD), dqkv0(qkv.size());
    for (float &x : qkv) x = (float)(4 * urand() - 2);
    for (float &x : dout) x = (float)(2 * urand() - 1);
    for (float &x : dqkv0) x = 1000.0f; /* attention_bwd overwrites: a leftover shows */
    std::vector<uint8_t> valid((size_t)B * N, 1);
    for (int b = 0; b < B; b++)
        for (int j = 0; j < N; j++) {
            uint8_t &v = valid[(size_t)b * N + j];
            if (c.mask == 1) v = !(b % 2 == 1 && j >= N - N / 3);
            if (c.mask == 2) v = j == 0 || urand() > 0.2;
            if (c.mask == 3) v = b != 1;
        }
    const uint8_t *vp = c.mask ? valid.data() : nullptr;
    std::vector<double> rout, rlse, rdq;
    reference(c, qkv, dout, valid, rout, rlse, rdq);

    result v1 = run_v1<HD>(c, qkv, dout, vp, dqkv0);
    if (v1.rc) { check("v1 emulation", c, 1.0, 0.0); return; }
    check("v1 forward out", c, nerr(v1.out.data(), rout.data(), rout.size()), 1e-2);
    check("v1 forward lse", c, nerr(v1.lse.data(), rlse.data(), rlse.size()), 5e-3);
    check("v1 backward dqkv", c, nerr(v1.dqkv.data(), rdq.data(), rdq.size()), 2e-2);
    /* lockstep warps with eager copies, then random warp speeds with copies
     * landing early and late */
    for (int mode = 0; mode < 3; mode++) {
        emu_cp_mode = mode == 2 ? EMU_CP_LATE : EMU_CP_EAGER;
        emu_schedule_seed = mode ? 1000 + mode : 0;
        result v2 = run_v2<HD>(c, qkv, dout, vp, dqkv0);
        const char *tag = mode == 1 ? " (random warps)" : mode == 2 ? " (random, late cp)" : "";
        char w[64];
        if (v2.rc) { snprintf(w, sizeof w, "v2 emulation%s", tag); check(w, c, 1.0, 0.0); continue; }
        snprintf(w, sizeof w, "v2 forward out%s", tag);
        check(w, c, nerr(v2.out.data(), rout.data(), rout.size()), 1e-2);
        snprintf(w, sizeof w, "v2 backward dqkv%s", tag);
        check(w, c, nerr(v2.dqkv.data(), rdq.data(), rdq.size()), 2e-2);
        snprintf(w, sizeof w, "v2 == v1: out%s", tag);
        check_same(w, c, v2.out, v1.out);
        snprintf(w, sizeof w, "v2 == v1: lse%s", tag);
        check_same(w, c, v2.lse, v1.lse);
        snprintf(w, sizeof w, "v2 == v1: dqkv%s", tag);
        check_same(w, c, v2.dqkv, v1.dqkv);
        if (mode == 0) run_o16<HD>(c, qkv, dout, vp, dqkv0, v2);
    }
    emu_cp_mode = EMU_CP_EAGER;
    emu_schedule_seed = 0;
}

} // namespace

int main()
{
#if defined(__SANITIZE_ADDRESS__)
    printf("SKIP: AddressSanitizer does not follow the emulator's coroutine stacks\n");
    return 77;
#else
    setvbuf(stdout, nullptr, _IOLBF, 0);
    static const tcase cases[] = {
        {"padding, 2 tiles", 2, 70, 2, 64, 1},
        {"holes, 4 tiles, 2 fwd blocks", 1, 200, 1, 64, 2},
        {"hd 32, a sample all masked", 2, 37, 2, 32, 3},
        {"hd 32, no mask, 3 tiles", 1, 150, 1, 32, 0},
    };
    for (const tcase &c : cases) {
        if (c.hd == 64) run_case<64>(c);
        else run_case<32>(c);
    }
    printf("test_flash_emu: %d passed, %d failed\n", n_pass, n_fail);
    return n_fail ? 1 : 0;
#endif
}

/* tests/cuda/emu/test_ln_emu.cc — the LayerNorm rows
 * (libsimvtp/cuda/ln_rows.cuh) compiled for the CPU and run by the SIMT
 * emulator, in both lane layouts (one column per lane; four adjacent ones,
 * VEC 4, for C a multiple of 128):
 *  - the kernel that fuses the residual add into the LayerNorm against the
 *    residual add (sv_residual_elem, the arithmetic of elementwise.cu's
 *    residual) followed by the LayerNorm kernel, bit for bit (residual
 *    result, output in float and in bf16, mean, rstd), with and without
 *    per-sample scales, and the LayerNorm against a double-precision
 *    reference;
 *  - the backward's input gradient (added into dx) against double.
 * Exit 0 when all pass, 1 otherwise, 77 under AddressSanitizer. */
#define SV_CUDA_EMULATE 1
#include "cuda/ln_rows.cuh"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "emu_check.h"

namespace {

template <typename T, int VEC>
void run_case(int B, int N, int C, bool scaled, const char *tname)
{
    const int M = B * N;
    const size_t n = (size_t)M * C;
    std::vector<float> x(n), y0(n), w(C), b(C), rs(B);
    for (float &v : x) v = frand(-2, 2);
    for (float &v : y0) v = frand(-3, 3);
    for (int c = 0; c < C; c++) { w[c] = frand(0.5f, 1.5f); b[c] = frand(-0.5f, 0.5f); }
    for (float &v : rs) v = frand(0.0f, 1.6f);
    const float *rsp = scaled ? rs.data() : nullptr;
    const float eps = 1e-6f;
    const emu_dim3 grid = {3, 1, 1}, block = {LN_WARPS * 32, 1, 1}; /* 12 warps: a grid-stride loop */

    /* the two kernels */
    std::vector<float> y1 = y0, mean1(M, -1), rstd1(M, -1);
    std::vector<T> out1(n);
    for (int m = 0; m < M; m++)
        for (int c = 0; c < C; c++) {
            const size_t i = (size_t)m * C + c;
            y1[i] = sv_residual_elem(x[i], rsp ? rsp[m / N] : 1.0f, y1[i]);
        }
    int rc = emu_launch(grid, block, [&] {
        layernorm_fwd_kernel<T, VEC>(out1.data(), mean1.data(), rstd1.data(), y1.data(), w.data(), b.data(), M, C,
                                     eps);
    });
    /* the fused one */
    std::vector<float> y2 = y0, mean2(M, -2), rstd2(M, -2);
    std::vector<T> out2(n);
    if (!rc)
        rc = emu_launch(grid, block, [&] {
            residual_layernorm_fwd_kernel<T, VEC>(y2.data(), x.data(), rsp, N, out2.data(), mean2.data(),
                                                  rstd2.data(), w.data(), b.data(), M, C, eps);
        });
    char why[160] = "";
    if (rc) snprintf(why, sizeof why, "the emulation stopped");
    else if (size_t d = ndiff(y1.data(), y2.data(), n, 4)) snprintf(why, sizeof why, "residual: %zu differ", d);
    else if (size_t d2 = ndiff(out1.data(), out2.data(), n, sizeof(T))) snprintf(why, sizeof why, "out: %zu differ", d2);
    else if (ndiff(mean1.data(), mean2.data(), M, 4) || ndiff(rstd1.data(), rstd2.data(), M, 4))
        snprintf(why, sizeof why, "mean/rstd differ");
    /* the LayerNorm itself against double */
    double worst = 0;
    for (int m = 0; m < M && !why[0]; m++) {
        double mu = 0, var = 0;
        for (int c = 0; c < C; c++) mu += y1[(size_t)m * C + c];
        mu /= C;
        for (int c = 0; c < C; c++) var += (y1[(size_t)m * C + c] - mu) * (y1[(size_t)m * C + c] - mu);
        var /= C;
        for (int c = 0; c < C; c++) {
            const double ref = (y1[(size_t)m * C + c] - mu) / std::sqrt(var + eps) * w[c] + b[c];
            const double got = (double)(float)out2[(size_t)m * C + c];
            const double e = std::fabs(got - ref) / (std::fabs(ref) + 1.0);
            if (e > worst) worst = e;
        }
    }
    const double tol = sizeof(T) == 2 ? 1e-2 : 1e-5;
    if (!why[0] && !(worst <= tol)) snprintf(why, sizeof why, "error %.3g against double above %.0e", worst, tol);
    printf("residual+layernorm %-5s B=%d N=%-3d C=%-4d %-10s%s worst %.2e  %s%s%s\n", tname, B, N, C,
           scaled ? "drop path" : "no scale", VEC == 4 ? " x4" : "   ", worst, why[0] ? "FAIL" : "PASS",
           why[0] ? "  " : "", why);
    tally(!why[0]);
}

/* the backward's dx += rs (dn - mean(dn) - xhat mean(dn xhat)) against double */
template <int VEC>
void bwd_case(int M, int C)
{
    const size_t n = (size_t)M * C;
    std::vector<float> x(n), dy(n), dx0(n), w(C), mean(M), rstd(M);
    for (float &v : x) v = frand(-2, 2);
    for (float &v : dy) v = frand(-1, 1);
    for (float &v : dx0) v = frand(-1, 1);
    for (float &v : w) v = frand(0.5f, 1.5f);
    for (int m = 0; m < M; m++) { mean[m] = frand(-0.5f, 0.5f); rstd[m] = frand(0.5f, 2.0f); }
    std::vector<float> dx = dx0;
    int rc = emu_launch({3, 1, 1}, {LN_WARPS * 32, 1, 1}, [&] {
        layernorm_bwd_dinp_kernel<VEC>(dx.data(), dy.data(), x.data(), w.data(), mean.data(), rstd.data(), M, C);
    });
    double worst = 0;
    for (int m = 0; m < M && !rc; m++) {
        double s1 = 0, s2 = 0;
        for (int c = 0; c < C; c++) {
            const size_t i = (size_t)m * C + c;
            const double xhat = ((double)x[i] - mean[m]) * rstd[m], dn = (double)dy[i] * w[c];
            s1 += dn;
            s2 += dn * xhat;
        }
        s1 /= C;
        s2 /= C;
        for (int c = 0; c < C; c++) {
            const size_t i = (size_t)m * C + c;
            const double xhat = ((double)x[i] - mean[m]) * rstd[m], dn = (double)dy[i] * w[c];
            const double ref = dx0[i] + rstd[m] * (dn - s1 - xhat * s2);
            const double e = std::fabs(dx[i] - ref) / (std::fabs(ref) + 1.0);
            if (e > worst) worst = e;
        }
    }
    const bool ok = !rc && worst <= 1e-5;
    printf("layernorm backward dx     M=%-4d C=%-4d%s        worst %.2e  %s%s\n", M, C, VEC == 4 ? " x4" : "   ", worst,
           ok ? "PASS" : "FAIL", rc ? "  the emulation stopped" : "");
    tally(ok);
}

} // namespace

int main()
{
    if (const int skip = emu_start()) return skip;
    for (int scaled = 0; scaled < 2; scaled++) {
        run_case<float, 1>(3, 9, 96, scaled, "fp32");
        run_case<__nv_bfloat16, 1>(3, 9, 96, scaled, "bf16");
        run_case<float, 1>(2, 7, 33, scaled, "fp32");   /* C not a multiple of 32 */
        run_case<__nv_bfloat16, 1>(2, 7, 33, scaled, "bf16");
        run_case<float, 4>(2, 7, 256, scaled, "fp32");  /* four columns per lane */
        run_case<__nv_bfloat16, 4>(2, 7, 384, scaled, "bf16");
    }
    run_case<float, 4>(1, 5, 1024, false, "fp32");      /* the largest C of that layout */
    bwd_case<1>(14, 96);
    bwd_case<1>(14, 33);
    bwd_case<4>(14, 256);
    bwd_case<4>(5, 1024);
    return emu_finish("test_ln_emu");
}

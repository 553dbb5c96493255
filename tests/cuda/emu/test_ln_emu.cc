/* tests/cuda/emu/test_ln_emu.cc — the LayerNorm forward rows
 * (libsimvtp/cuda/ln_rows.cuh) compiled for the CPU and run by the SIMT
 * emulator: the kernel that fuses the residual add into the LayerNorm
 * against the residual add (sv_residual_elem, the arithmetic of
 * elementwise.cu's residual) followed by the LayerNorm kernel, bit for bit
 * (residual result, output in float and in bf16, mean, rstd), with and
 * without per-sample scales, and the LayerNorm against a double-precision
 * reference. Exit 0 when all pass, 1 otherwise, 77 under AddressSanitizer. */
#define SV_CUDA_EMULATE 1
#include "cuda/ln_rows.cuh"

#include <cstdio>
#include <cstdlib>
#include <vector>

#include "emu_check.h"

namespace {

template <typename T>
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
        layernorm_fwd_kernel<T>(out1.data(), mean1.data(), rstd1.data(), y1.data(), w.data(), b.data(), M, C, eps);
    });
    /* the fused one */
    std::vector<float> y2 = y0, mean2(M, -2), rstd2(M, -2);
    std::vector<T> out2(n);
    if (!rc)
        rc = emu_launch(grid, block, [&] {
            residual_layernorm_fwd_kernel<T>(y2.data(), x.data(), rsp, N, out2.data(), mean2.data(), rstd2.data(),
                                             w.data(), b.data(), M, C, eps);
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
    printf("residual+layernorm %-5s B=%d N=%-3d C=%-4d %-10s worst %.2e  %s%s%s\n", tname, B, N, C,
           scaled ? "drop path" : "no scale", worst, why[0] ? "FAIL" : "PASS", why[0] ? "  " : "", why);
    tally(!why[0]);
}

} // namespace

int main()
{
    if (const int skip = emu_start()) return skip;
    for (int scaled = 0; scaled < 2; scaled++) {
        run_case<float>(3, 9, 96, scaled, "fp32");
        run_case<__nv_bfloat16>(3, 9, 96, scaled, "bf16");
        run_case<float>(2, 7, 33, scaled, "fp32");   /* C not a multiple of 32 */
        run_case<__nv_bfloat16>(2, 7, 33, scaled, "bf16");
    }
    return emu_finish("test_ln_emu");
}

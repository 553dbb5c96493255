/* tests/cuda/emu/test_ce_emu.cc — the softmax cross-entropy kernels
 * (libsimvtp/cuda/softmax_ce.cu) compiled for the CPU and run by the SIMT
 * emulator, over the 30522-word vocabulary and an odd small one, with an
 * ignored row (target -1) and targets at both ends:
 *   - the forward against a double-precision reference (probabilities and
 *     losses), out of place and in place (probs == logits, as the
 *     pretraining step's MLM runs it): the same bits both ways;
 *   - the backward out of place (adding into a prefilled gradient; ignored
 *     rows untouched) against the reference, and in place (dlogits ==
 *     probs: overwritten, ignored rows zeroed) equal to the out-of-place
 *     result on a zero gradient.
 * Exit 0 when all pass, 1 otherwise, 77 under AddressSanitizer. */
#define SV_CUDA_EMULATE 1
#include "cuda/softmax_ce.cu"

#include <cmath>
#include <cstdio>
#include <vector>

#include "emu_check.h"

namespace {

double max_rel(const float *x, const std::vector<double> &ref)
{
    double e = 0, m = 0;
    for (size_t i = 0; i < ref.size(); i++) {
        e = std::fmax(e, std::fabs((double)x[i] - ref[i]));
        m = std::fmax(m, std::fabs(ref[i]));
    }
    return m > 0 ? e / m : e;
}

void report(const char *what, int V, double err, double tol)
{
    const bool ok = err <= tol;
    printf("%-44s V=%-6d err %.3e  tol %.0e  %s\n", what, V, err, tol, ok ? "PASS" : "FAIL");
    tally(ok);
}

void report_same(const char *what, int V, size_t diff, size_t n)
{
    printf("%-44s V=%-6d %zu of %zu differ  %s\n", what, V, diff, n, diff ? "FAIL" : "PASS");
    tally(diff == 0);
}

void run_case(int V)
{
    const int M = 5;
    const int32_t targets[M] = {3, -1, V - 1, 0, V / 2};
    const size_t n = (size_t)M * V;
    std::vector<float> logits(n), dl(M);
    for (float &x : logits) x = frand(-8, 8);
    for (float &g : dl) g = frand(0.1f, 2.0f);
    dl[3] = -dl[3]; /* a negative loss gradient too */

    /* reference */
    std::vector<double> pref(n), lref(M), dref(n);
    for (int m = 0; m < M; m++) {
        const float *x = &logits[(size_t)m * V];
        double mx = -INFINITY, s = 0;
        for (int v = 0; v < V; v++) mx = std::fmax(mx, (double)x[v]);
        for (int v = 0; v < V; v++) s += std::exp((double)x[v] - mx);
        for (int v = 0; v < V; v++) pref[(size_t)m * V + v] = std::exp((double)x[v] - mx) / s;
        const int t = targets[m];
        lref[m] = t < 0 ? 0.0 : std::log(s) - ((double)x[t] - mx);
    }

    const emu_dim3 fgrid = {2, 1, 1}, fblock = {CE_THREADS, 1, 1}; /* grid-stride over rows */
    std::vector<float> probs(n, NAN), loss(M, NAN), inplace = logits, loss2(M, NAN);
    int rc = emu_launch(fgrid, fblock, [&] {
        softmax_ce_fwd_kernel(loss.data(), probs.data(), logits.data(), targets, M, V);
    });
    if (!rc)
        rc = emu_launch(fgrid, fblock, [&] {
            softmax_ce_fwd_kernel(loss2.data(), inplace.data(), inplace.data(), targets, M, V);
        });
    if (rc) { report("emulation", V, 1.0, 0.0); return; }
    report("forward probabilities vs double", V, max_rel(probs.data(), pref), 1e-5);
    report("forward losses vs double", V, max_rel(loss.data(), lref), 1e-5);
    report_same("forward in place == out of place: probs", V, ndiff(inplace.data(), probs.data(), n, 4), n);
    report_same("forward in place == out of place: losses", V, ndiff(loss2.data(), loss.data(), M, 4), M);

    /* backward: out of place into a prefilled gradient */
    std::vector<float> d0(n);
    for (float &x : d0) x = frand(-1, 1);
    for (int m = 0; m < M; m++)
        for (int v = 0; v < V; v++) {
            const size_t i = (size_t)m * V + v;
            const int t = targets[m];
            dref[i] = t < 0 ? d0[i] : d0[i] + (pref[i] - (v == t ? 1.0 : 0.0)) * dl[m];
        }
    const emu_dim3 bgrid = {(unsigned)((V + 255) / 256 < 128 ? (V + 255) / 256 : 128), (unsigned)M, 1},
                   bblock = {256, 1, 1};
    std::vector<float> d = d0, dz(n, 0.0f), dip = probs;
    rc = emu_launch(bgrid, bblock, [&] { softmax_ce_bwd_kernel(d.data(), probs.data(), targets, dl.data(), M, V); });
    if (!rc)
        rc = emu_launch(bgrid, bblock, [&] { softmax_ce_bwd_kernel(dz.data(), probs.data(), targets, dl.data(), M, V); });
    if (!rc)
        rc = emu_launch(bgrid, bblock, [&] { softmax_ce_bwd_kernel(dip.data(), dip.data(), targets, dl.data(), M, V); });
    if (rc) { report("emulation (backward)", V, 1.0, 0.0); return; }
    report("backward (adding) vs double", V, max_rel(d.data(), dref), 1e-5);
    size_t untouched = 0, vdiff = 0;
    for (int v = 0; v < V; v++) untouched += d[(size_t)V + v] != d0[(size_t)V + v];
    report_same("backward: the ignored row untouched", V, untouched, (size_t)V);
    for (size_t i = 0; i < n; i++) vdiff += !(dip[i] == dz[i]); /* values: 0 + -0 is +0 */
    report_same("backward in place == out of place on zeros", V, vdiff, n);
}

} // namespace

int main()
{
    int rc = emu_start();
    if (rc) return rc;
    run_case(30522);
    run_case(37);
    return emu_finish("test_ce_emu");
}

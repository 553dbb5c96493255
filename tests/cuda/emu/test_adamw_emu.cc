/* tests/cuda/emu/test_adamw_emu.cc — the AdamW update over runs of the
 * parameter vector in one launch (libsimvtp/cuda/adamw_runs.cuh:
 * adamw_table_fill packs the runs, adamw_runs_kernel finds each block's run
 * by binary search) compiled for the CPU and run by the SIMT emulator,
 * against the same update made value by value on the host, bit for bit:
 * runs of 1 to a few chunks, back to back or with gaps (which must stay as
 * they were), decay on and off, more runs than one table holds (several
 * launches), and blocks in random orders. Exit 0 when all pass, 1
 * otherwise, 77 under AddressSanitizer. */
#define SV_CUDA_EMULATE 1
#include "cuda/adamw_runs.cuh"

#include <cstdio>
#include <cstdlib>
#include <vector>

#include "emu_check.h"

namespace {

void run_case(int nruns_want, size_t max_len, uint64_t order_seed, const char *what)
{
    /* the runs: lengths 1 .. max_len, gaps of 0 to 2 values */
    std::vector<sv_adamw_run> runs;
    size_t at = 1;
    for (int r = 0; r < nruns_want; r++) {
        const size_t len = 1 + (size_t)(frand(0.0f, 1.0f) * (float)max_len) % max_len;
        runs.push_back(sv_adamw_run{at, len, r % 3 != 1});
        at += len + (size_t)(r % 3);
    }
    const size_t n = at + 5;
    std::vector<float> w(n), g(n), m(n), v(n);
    for (size_t i = 0; i < n; i++) {
        w[i] = frand(-0.1f, 0.1f);
        g[i] = frand(-1e-2f, 1e-2f);
        m[i] = frand(-1e-3f, 1e-3f);
        v[i] = frand(1e-8f, 1e-5f);
    }
    std::vector<float> w2 = w, m2 = m, v2 = v;
    const float clip = 0.7f, decay = 1.0f - 1.5e-4f * 0.05f, b1 = 0.9f, b2 = 0.95f, eps = 1e-8f;
    const float step = 1.5e-4f / (1.0f - powf(b1, 7.0f)), bc2 = sqrtf(1.0f - powf(b2, 7.0f));
    /* the host: value by value, run by run */
    for (const sv_adamw_run &r : runs)
        for (size_t i = r.off; i < r.off + r.n; i++)
            adamw_elem(w2.data(), g.data(), m2.data(), v2.data(), i, clip, r.decay ? decay : 1.0f, b1, b2, eps,
                       step, bc2);
    /* the kernel, a table at a time as sv_cuda_adamw_runs launches it */
    emu_block_order_seed = order_seed;
    int launches = 0, rc = 0;
    size_t total_blocks = 0;
    for (int r0 = 0; r0 < (int)runs.size() && !rc;) {
        adamw_table t;
        size_t blocks;
        const int k = adamw_table_fill(&t, runs.data() + r0, (int)runs.size() - r0, &blocks);
        if (k <= 0) {
            rc = -1;
            break;
        }
        r0 += k;
        launches++;
        total_blocks += blocks;
        rc = emu_launch({(unsigned)blocks, 1, 1}, {ADAMW_THREADS, 1, 1}, [&] {
            adamw_runs_kernel(w.data(), g.data(), m.data(), v.data(), t, clip, decay, b1, b2, eps, step, bc2);
        });
    }
    emu_block_order_seed = 0;
    char why[160] = "";
    if (rc) snprintf(why, sizeof why, "the emulation stopped");
    else if (size_t d = ndiff(w.data(), w2.data(), n, 4)) snprintf(why, sizeof why, "w: %zu of %zu differ", d, n);
    else if (size_t d2 = ndiff(m.data(), m2.data(), n, 4)) snprintf(why, sizeof why, "m: %zu differ", d2);
    else if (size_t d3 = ndiff(v.data(), v2.data(), n, 4)) snprintf(why, sizeof why, "v: %zu differ", d3);
    printf("adamw_runs %-22s %4zu runs %8zu values %3d launches %6zu blocks  %s%s%s\n", what, runs.size(), n,
           launches, total_blocks, why[0] ? "FAIL" : "PASS", why[0] ? "  " : "", why);
    tally(!why[0]);
}

} // namespace

int main()
{
    if (const int skip = emu_start()) return skip;
    run_case(1, 1, 0, "one value");
    run_case(5, 3 * ADAMW_CHUNK, 0, "a few runs");
    run_case(300, ADAMW_CHUNK + 7, 0, "300 runs");
    run_case(129, 40, 0, "129 short runs");
    run_case(200, 2 * ADAMW_CHUNK, 12345, "random block order");
    return emu_finish("test_adamw_emu");
}

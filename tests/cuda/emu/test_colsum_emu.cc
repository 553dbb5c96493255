/* tests/cuda/emu/test_colsum_emu.cc — the backward's column sums
 * (libsimvtp/cuda/colsum.cuh: bias gradients, LayerNorm dw/db) compiled for
 * the CPU and run by the SIMT emulator (also the fc1 product's bias
 * gradient, which computes the GELU backward on the fly, and a drop-path
 * branch's, which scales each row by its sample's factor). For each shape:
 *   - one launch (the last block of each column tile sums the partials)
 *     against a host replay of the same order of float additions: bit for
 *     bit, the bf16 copy of the input too, and the counters re-armed to 0;
 *   - the same with the blocks in random orders (whichever block finishes
 *     a tile last, the sums are the same);
 *   - the two-launch path (no counters, colsum_final_kernel) equal to it;
 *   - all of it again with four columns per thread (VEC = CS_VEC, 16-byte
 *     loads), which must give the same bits.
 * What the emulator cannot see: the memory ordering between SMs that the
 * __threadfence / atomicAdd / __ldcg sequence provides on a GPU (blocks run
 * one at a time here); tests/cuda runs the real thing. Exit 0 when all
 * pass, 1 otherwise, 77 under AddressSanitizer. */
#define SV_CUDA_EMULATE 1
#include "cuda/colsum.cuh"

#include <cstdio>
#include <cstdlib>
#include <vector>

#include "emu_check.h"

namespace {

void verdict(bool ok, const char *what, int M, int N, const char *why)
{
    printf("%-44s M=%-5d N=%-5d %s%s%s\n", what, M, N, ok ? "PASS" : "FAIL", why[0] ? "  " : "", why);
    tally(ok);
}

/* the kernels' order of float additions: per chunk, row lane ty sums its
 * rows, lanes 0..7 combine in turn; then chunks in order, added to dst */
template <typename F>
void host_colsum(int M, int N, int rows_per_chunk, F value, float *dst)
{
    const int nchunks = (M + rows_per_chunk - 1) / rows_per_chunk;
    for (int c = 0; c < N; c++) {
        float total = 0.0f;
        for (int j = 0; j < nchunks; j++) {
            float lane[CS_TY];
            for (int ty = 0; ty < CS_TY; ty++) {
                lane[ty] = 0.0f;
                for (long r = (long)j * rows_per_chunk + ty; r < (long)(j + 1) * rows_per_chunk && r < M; r += CS_TY)
                    lane[ty] += value(r, c);
            }
            float s = lane[0];
            for (int i = 1; i < CS_TY; i++) s += lane[i];
            total += s;
        }
        dst[c] += total;
    }
}

/* The column sums of x itself (BIAS_PLAIN), of gelu_bwd(h, dg) made on the
 * fly (BIAS_GELU: the fc1 product's backward; BIAS_GELU16 with h kept in
 * bf16) or of x with row r scaled by s[r / T] (BIAS_ROWSCALE, T = 10: a
 * drop-path branch's backward) */
enum { BIAS_PLAIN, BIAS_GELU, BIAS_ROWSCALE, BIAS_GELU16 };
void bias_case(int M, int N, int rows_per_chunk, int kind, int vec)
{
    const long T = 10;
    const int nchunks = (M + rows_per_chunk - 1) / rows_per_chunk, tiles = (N + CS_TX - 1) / CS_TX;
    std::vector<float> x((size_t)M * N), h((size_t)M * N), dst0(N), want(N);
    for (float &v : x) v = frand(-1, 1);
    for (float &v : h) v = frand(-5, 5);
    std::vector<__nv_bfloat16> h16(h.size());
    for (size_t i = 0; i < h.size(); i++) h16[i] = __float2bfloat16_rn(h[i]);
    for (float &v : dst0) v = frand(-1, 1);
    std::vector<float> sc((M + T - 1) / T);
    for (float &v : sc) v = frand(0.0f, 1.0f) < 0.3f ? 0.0f : 1.0f / 0.9f;
    /* the values summed (and rounded to bf16) */
    std::vector<float> val(x.size());
    for (size_t i = 0; i < x.size(); i++)
        val[i] = kind == BIAS_GELU ? sv_gelu_grad(h[i], x[i])
                 : kind == BIAS_GELU16 ? sv_gelu_grad(__bfloat162float(h16[i]), x[i])
                 : kind == BIAS_ROWSCALE ? x[i] * sc[(long)(i / N) / T] : x[i];
    want = dst0;
    host_colsum(M, N, rows_per_chunk, [&](long r, int c) { return val[(size_t)r * N + c]; }, want.data());
    const emu_dim3 grid = {(unsigned)tiles, (unsigned)nchunks, 1}, block = {(unsigned)(CS_TX / vec), CS_TY, 1};
    char why[160];
    for (int variant = 0; variant < 4; variant++) {
        /* 0: one launch, grid order; 1, 2: random block orders; 3: two launches */
        std::vector<float> dst = dst0, partial((size_t)nchunks * N, -7.0f);
        std::vector<__nv_bfloat16> x16((size_t)M * N);
        std::vector<unsigned> counters(tiles + 1, 0);
        unsigned *cnt = variant == 3 ? nullptr : counters.data();
        emu_block_order_seed = variant == 1 || variant == 2 ? (uint64_t)variant * 977 : 0;
        float *part = partial.data(), *d = dst.data();
        __nv_bfloat16 *c16 = x16.data();
        auto kernel = [&](auto load) {
            if (vec == CS_VEC) colsum_partial_kernel<CS_VEC>(load, M, N, rows_per_chunk, part, c16, d, cnt);
            else colsum_partial_kernel<1>(load, M, N, rows_per_chunk, part, c16, d, cnt);
        };
        int rc = emu_launch(grid, block, [&] {
            if (kind == BIAS_GELU) kernel(cs_gelu_grad<float>{x.data(), h.data()});
            else if (kind == BIAS_GELU16) kernel(cs_gelu_grad<__nv_bfloat16>{x.data(), h16.data()});
            else if (kind == BIAS_ROWSCALE) kernel(cs_rowscale{x.data(), sc.data(), T});
            else kernel(cs_plain{x.data()});
        });
        if (variant == 3 && rc == 0)
            rc = emu_launch({2, 1, 1}, {64, 1, 1}, [&] {
                colsum_final_kernel(partial.data(), dst.data(), nullptr, nullptr, nchunks, N);
            });
        emu_block_order_seed = 0;
        why[0] = 0;
        size_t bad16 = 0;
        for (size_t i = 0; i < x.size(); i++) {
            const __nv_bfloat16 b = __float2bfloat16_rn(val[i]);
            bad16 += memcmp(&b, &x16[i], sizeof b) != 0;
        }
        if (rc) snprintf(why, sizeof why, "the emulation stopped");
        else if (size_t d = ndiff(dst.data(), want.data(), N, 4))
            snprintf(why, sizeof why, "%zu of %d sums differ from the host order", d, N);
        else if (bad16) snprintf(why, sizeof why, "%zu bf16 copies are not bf16(x)", bad16);
        else if (counters[tiles] != 0 || (cnt && ndiff(counters.data(), std::vector<unsigned>(tiles, 0).data(), tiles, 4)))
            snprintf(why, sizeof why, "counters not re-armed to 0");
        static const char *names[] = {"one launch", "random block order", "random block order 2",
                                      "two launches"};
        char name[80];
        snprintf(name, sizeof name, "%s, %s%s",
                 kind == BIAS_GELU     ? "gelu-bwd bias grad"
                 : kind == BIAS_GELU16 ? "gelu-bwd bias grad, bf16 h"
                 : kind == BIAS_ROWSCALE ? "row-scaled bias grad" : "bias grad",
                 names[variant], vec == CS_VEC ? ", x4" : "");
        verdict(!why[0], name, M, N, why);
    }
}

void layernorm_case(int M, int C, int rows_per_chunk, bool no_dw, int vec)
{
    const int nchunks = (M + rows_per_chunk - 1) / rows_per_chunk, tiles = (C + CS_TX - 1) / CS_TX;
    std::vector<float> dout((size_t)M * C), inp((size_t)M * C), mean(M), rstd(M), dw0(C), db0(C);
    for (float &v : dout) v = frand(-1, 1);
    for (float &v : inp) v = frand(-2, 2);
    for (int r = 0; r < M; r++) { mean[r] = frand(-0.5f, 0.5f); rstd[r] = frand(0.5f, 2.0f); }
    for (int c = 0; c < C; c++) { dw0[c] = frand(-1, 1); db0[c] = frand(-1, 1); }
    std::vector<float> want_w = dw0, want_b = db0;
    host_colsum(M, C, rows_per_chunk, [&](long r, int c) {
        return dout[(size_t)r * C + c] * (inp[(size_t)r * C + c] - mean[r]) * rstd[r];
    }, want_w.data());
    host_colsum(M, C, rows_per_chunk, [&](long r, int c) { return dout[(size_t)r * C + c]; }, want_b.data());
    const emu_dim3 grid = {(unsigned)tiles, (unsigned)nchunks, 1}, block = {(unsigned)(CS_TX / vec), CS_TY, 1};
    char why[160];
    for (int variant = 0; variant < 3; variant++) {
        /* 0: one launch; 1: random block order; 2: two launches */
        std::vector<float> dw = dw0, db = db0, pw((size_t)nchunks * C, -3.0f), pb((size_t)nchunks * C, -5.0f);
        std::vector<unsigned> counters(tiles, 0);
        unsigned *cnt = variant == 2 ? nullptr : counters.data();
        float *dwp = no_dw ? nullptr : dw.data();
        emu_block_order_seed = variant == 1 ? 4242 : 0;
        int rc = emu_launch(grid, block, [&] {
            if (vec == CS_VEC)
                layernorm_bwd_partial_kernel<CS_VEC>(pw.data(), pb.data(), dout.data(), inp.data(), mean.data(),
                                                     rstd.data(), M, C, rows_per_chunk, dwp, db.data(), cnt);
            else
                layernorm_bwd_partial_kernel<1>(pw.data(), pb.data(), dout.data(), inp.data(), mean.data(),
                                                rstd.data(), M, C, rows_per_chunk, dwp, db.data(), cnt);
        });
        if (variant == 2 && rc == 0)
            rc = emu_launch({1, 1, 1}, {64, 1, 1}, [&] {
                colsum_final_kernel(pw.data(), dwp, pb.data(), db.data(), nchunks, C);
            });
        emu_block_order_seed = 0;
        why[0] = 0;
        const std::vector<float> &ww = no_dw ? dw0 : want_w;
        if (rc) snprintf(why, sizeof why, "the emulation stopped");
        else if (size_t d = ndiff(dw.data(), ww.data(), C, 4) + ndiff(db.data(), want_b.data(), C, 4))
            snprintf(why, sizeof why, "%zu of %d dw/db sums differ from the host order", d, 2 * C);
        else if (cnt && ndiff(counters.data(), std::vector<unsigned>(tiles, 0).data(), tiles, 4))
            snprintf(why, sizeof why, "counters not re-armed to 0");
        static const char *names[] = {"layernorm dw/db, one launch", "layernorm dw/db, random order",
                                      "layernorm dw/db, two launches"};
        char name[80];
        snprintf(name, sizeof name, "%s%s%s", names[variant], no_dw ? " (db only)" : "", vec == CS_VEC ? ", x4" : "");
        verdict(!why[0], name, M, C, why);
    }
}

} // namespace

int main()
{
    if (const int skip = emu_start()) return skip;
    /* one column per thread, then (N a multiple of 4) the four-column
     * kernels, which must give the same bits in the same host order */
    for (int vec : {1, CS_VEC}) {
        if (vec == 1) {
            bias_case(1000, 70, CS_ROWS, BIAS_PLAIN, 1); /* 4 chunks (the last partial), 3 tiles (the last partial) */
            bias_case(37, 33, CS_ROWS, BIAS_PLAIN, 1);   /* one chunk */
        } else {
            bias_case(1000, 100, CS_ROWS, BIAS_PLAIN, vec); /* the last tile 4 columns wide */
            bias_case(37, 36, CS_ROWS, BIAS_PLAIN, vec);
        }
        bias_case(700, 96, 64, BIAS_PLAIN, vec);       /* 11 chunks of a smaller size */
        bias_case(600, 80, CS_ROWS, BIAS_GELU, vec);   /* the fc1 product's: dout = gelu_bwd(h, dg) on the fly */
        bias_case(600, 80, CS_ROWS, BIAS_GELU16, vec); /* ... with h kept in bf16 */
        bias_case(640, 40, 64, BIAS_ROWSCALE, vec);    /* drop path: 64 samples of 10 rows, chunks across samples */
        layernorm_case(600, 48, CS_ROWS, false, vec);
        layernorm_case(130, 40, 32, true, vec);
    }
    layernorm_case(300, 36, 64, false, CS_VEC); /* a last tile of 4 columns */
    return emu_finish("test_colsum_emu");
}

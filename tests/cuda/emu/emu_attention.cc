/* tests/cuda/emu/emu_attention.cc — the bf16 table's default fused attention
 * (libsimvtp/cuda/flash_attention_v2.cu) run by the SIMT emulator behind a
 * C interface, the launches of its host side (f2_forward, f2_backward)
 * written out: q/k/v rounded to bf16 once, the forward; D = rowsum(dO o O)
 * with dO's bf16 copy, then the dK/dV and the dQ kernels. test_cuda_step_emu
 * puts it in its host table, so that the whole model sees the attention's
 * own roundings (bf16 probabilities and dS; ex2.approx is exp2f here).
 * Head dims 32 and 64, as on the GPU. Unavailable under AddressSanitizer,
 * which does not follow the emulator's stack switches. */
#define SV_CUDA_EMULATE 1
#include "cuda/flash_attention_v2.cu"

#include <cstdlib>
#include <cstring>

namespace {

/* a 16-byte aligned bf16 copy of x[n] (as the pool gives them), or NULL */
bf16 *bf16_copy(const float *x, size_t n)
{
    bf16 *y = (bf16 *)aligned_alloc(16, (n * sizeof(bf16) + 15) / 16 * 16);
    if (y && x)
        for (size_t i = 0; i < n; i++) y[i] = __float2bfloat16_rn(x[i]);
    return y;
}

template <int HD>
int forward(float *out, float *lse, const float *qkv, const uint8_t *keyvalid, int B, int N, int H)
{
    bf16 *q16 = bf16_copy(qkv, (size_t)B * N * 3 * H * HD);
    if (!q16) return -1;
    const int rows = 16 * F2_FWD_WARPS;
    const float scale_log2 = 1.4426950408889634f / sqrtf((float)HD);
    const int rc = emu_launch({(unsigned)((N + rows - 1) / rows), (unsigned)H, (unsigned)B},
                              {F2_FWD_WARPS * 32, 1, 1},
                              [&] { f2_fwd_kernel<HD>(out, lse, q16, keyvalid, N, H, scale_log2); });
    free(q16);
    return rc;
}

template <int HD>
int backward(float *dqkv, const float *dout, const float *qkv, const float *out, const float *lse,
             const uint8_t *keyvalid, int B, int N, int H)
{
    const size_t rows = (size_t)B * N * H;
    bf16 *q16 = bf16_copy(qkv, rows * 3 * HD), *do16 = bf16_copy(NULL, rows * HD);
    float *D = (float *)malloc(rows * sizeof(float) + 1);
    int rc = q16 && do16 && D ? 0 : -1;
    if (!rc)
        rc = emu_launch({(unsigned)((rows + 255) / 256), 1, 1}, {256, 1, 1},
                        [&] { fa_dot_kernel<HD>(D, dout, out, B, N, H, do16); });
    const int per = 16 * F2_BWD_WARPS;
    const emu_dim3 grid = {(unsigned)((N + per - 1) / per), (unsigned)H, (unsigned)B};
    const float scale = 1.0f / sqrtf((float)HD), scale_log2 = 1.4426950408889634f * scale;
    if (!rc)
        rc = emu_launch(grid, {F2_BWD_WARPS * 32, 1, 1}, [&] {
            f2_bwd_kv_kernel<HD>(dqkv, do16, q16, lse, D, keyvalid, N, H, scale_log2, scale);
        });
    if (!rc)
        rc = emu_launch(grid, {F2_BWD_WARPS * 32, 1, 1}, [&] {
            f2_bwd_q_kernel<HD>(dqkv, do16, q16, lse, D, keyvalid, N, H, scale_log2, scale);
        });
    free(q16);
    free(do16);
    free(D);
    return rc;
}

} // namespace

/* 1 when the kernels can run here for head dim hd */
extern "C" int emu_attention_ok(int hd)
{
#if defined(__SANITIZE_ADDRESS__)
    (void)hd;
    return 0;
#else
    return hd == 32 || hd == 64;
#endif
}

/* floats of saved state: the log-sum-exp [B,H,N] (log2 domain) */
extern "C" size_t emu_attention_saved(int B, int N, int H, int hd)
{
    (void)hd;
    return (size_t)B * H * N;
}

extern "C" int emu_attention_fwd(float *out, float *lse, const float *qkv, const uint8_t *keyvalid, int B, int N,
                                 int H, int hd)
{
    return hd == 64 ? forward<64>(out, lse, qkv, keyvalid, B, N, H) : forward<32>(out, lse, qkv, keyvalid, B, N, H);
}

extern "C" int emu_attention_bwd(float *dqkv, const float *dout, const float *qkv, const float *out,
                                 const float *lse, const uint8_t *keyvalid, int B, int N, int H, int hd)
{
    return hd == 64 ? backward<64>(dqkv, dout, qkv, out, lse, keyvalid, B, N, H)
                    : backward<32>(dqkv, dout, qkv, out, lse, keyvalid, B, N, H);
}

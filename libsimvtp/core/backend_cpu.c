/* core/backend_cpu.c — the CPU backend table: host memory and the cpu/
 * kernels (the reference every other backend is tested against). */
#include <stdlib.h>
#include <string.h>

#include "core/backend.h"
#include "core/status_internal.h"
#include "cpu/cpu_ops.h"

static int cpu_activate(const sv_backend *be) { (void)be; return SIMVTP_OK; }
static int cpu_finish(const sv_backend *be) { (void)be; return SIMVTP_OK; }
static void cpu_copy(void *dst, const void *src, size_t bytes)
{
    if (bytes) memmove(dst, src, bytes);
}
static void cpu_zero(void *p, size_t bytes)
{
    if (bytes) memset(p, 0, bytes);
}
static void cpu_add_to(float *y, const float *x, size_t n) { cpu_add_inplace(y, x, n); }
static size_t cpu_attention_saved(int B, int N, int H, int hd)
{
    (void)hd;
    return cpu_attention_saved_floats(B, N, H);
}
static int cpu_attention_bwd_saved(float *dqkv, const float *dout, const float *qkv,
                                   const float *out, const float *att, const uint8_t *keyvalid,
                                   int B, int N, int H, int hd)
{
    (void)out;
    return cpu_attention_bwd(dqkv, dout, qkv, att, keyvalid, B, N, H, hd);
}

const sv_backend sv_backend_cpu = {
    .name = "cpu",
    .device = -1,
    .host_memory = 1,
    .precision = SV_PRECISION_FP32,
    .activate = cpu_activate,
    .finish = cpu_finish,
    .alloc = cpu_cache_alloc,
    .alloc_raw = cpu_cache_alloc_raw,
    .free = cpu_cache_free,
    .memcpy_h2d = cpu_copy,
    .memcpy_d2h = cpu_copy,
    .copy = cpu_copy,
    .zero = cpu_zero,
    .add = cpu_add_to,
    .mul = cpu_mul,
    .scale = cpu_scale,
    .residual = cpu_residual,
    .scale_rows = cpu_scale_rows,
    .transpose = cpu_transpose,
    .rows_copy = cpu_rows_copy,
    .rows_add = cpu_rows_add,
    .rows_add_seg = cpu_rows_add_seg,
    .video_patches = cpu_video_patches,
    .matmul_fwd = cpu_matmul_fwd,
    .matmul_bwd = cpu_matmul_bwd,
    .layernorm_fwd = cpu_layernorm_fwd,
    .layernorm_bwd = cpu_layernorm_bwd,
    .gelu_fwd = cpu_gelu_fwd,
    .gelu_bwd = cpu_gelu_bwd,
    .attention_saved = cpu_attention_saved,
    .attention_fwd = cpu_attention_fwd,
    .attention_bwd = cpu_attention_bwd_saved,
    .softmax_ce_fwd = cpu_softmax_ce_fwd,
    .softmax_ce_bwd = cpu_softmax_ce_bwd,
    .meanpool_fwd = cpu_meanpool_fwd,
    .meanpool_bwd = cpu_meanpool_bwd,
    .l2norm_fwd = cpu_l2norm_fwd,
    .l2norm_bwd = cpu_l2norm_bwd,
    .mse_fwd = cpu_mse_fwd,
    .mse_bwd = cpu_mse_bwd,
    .sumsq = cpu_sumsq,
    .adamw = cpu_adamw,
};

/* core/backend_cpu.c — the CPU backend table (host memory, cpu/ kernels) and
 * backend lookup by name. */
#include <stdlib.h>
#include <string.h>

#include "core/backend.h"
#include "core/status_internal.h"
#include "cpu/cpu_ops.h"
#include "simvtp_build_config.h"

static void *cpu_alloc(size_t bytes) { return calloc(1, bytes ? bytes : 1); }
static void cpu_free(void *p) { free(p); }
static void cpu_copy(void *dst, const void *src, size_t bytes) { memcpy(dst, src, bytes); }

const sv_backend sv_backend_cpu = {
    .name = "cpu",
    .alloc = cpu_alloc,
    .free = cpu_free,
    .memcpy_h2d = cpu_copy,
    .memcpy_d2h = cpu_copy,
    .matmul_fwd = cpu_matmul_fwd,
    .matmul_bwd = cpu_matmul_bwd,
    .layernorm_fwd = cpu_layernorm_fwd,
    .layernorm_bwd = cpu_layernorm_bwd,
    .gelu_fwd = cpu_gelu_fwd,
    .gelu_bwd = cpu_gelu_bwd,
    .attention_fwd = cpu_attention_fwd,
    .attention_bwd = cpu_attention_bwd,
    .softmax_ce_fwd = cpu_softmax_ce_fwd,
    .softmax_ce_bwd = cpu_softmax_ce_bwd,
    .meanpool_fwd = cpu_meanpool_fwd,
    .meanpool_bwd = cpu_meanpool_bwd,
    .l2norm_fwd = cpu_l2norm_fwd,
    .l2norm_bwd = cpu_l2norm_bwd,
    .gather_rows = cpu_gather_rows,
    .scatter_add_rows = cpu_scatter_add_rows,
    .mse_fwd = cpu_mse_fwd,
    .mse_bwd = cpu_mse_bwd,
};

int sv_backend_get(const char *name, const sv_backend **out)
{
    if (!name || !strcmp(name, "cpu") || !strcmp(name, "auto")) {
        *out = &sv_backend_cpu;
        return SIMVTP_OK;
    }
    if (!strncmp(name, "cuda", 4)) {
        if (!SIMVTP_HAVE_CUDA)
            return sv_fail(SIMVTP_ERR_UNSUPPORTED,
                           "backend \"%s\": this libsimvtp was built without CUDA "
                           "(rebuild with -Dcuda=enabled on a machine with nvcc)", name);
        return sv_fail(SIMVTP_ERR_UNSUPPORTED, "backend \"%s\" is not available yet", name);
    }
    return sv_fail(SIMVTP_ERR_INVALID_ARG, "unknown backend \"%s\"; use \"cpu\", \"auto\" or \"cuda:N\"", name);
}

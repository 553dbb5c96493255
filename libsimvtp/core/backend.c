/* core/backend.c — backend lookup by name: "cpu", "auto", "cuda",
 * "cuda:N" and "cuda:N:fp32". */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/backend.h"
#include "core/status_internal.h"
#include "simvtp_build_config.h"

/* "cuda", "cuda:N", "cuda:N:fp32" -> device, precision; 0 on success. */
static int parse_cuda(const char *name, int *device, int *precision)
{
    *device = 0;
    *precision = SV_PRECISION_BF16;
    const char *p = name + 4;
    if (*p == '\0') return 0;
    if (*p++ != ':') return -1;
    if (*p < '0' || *p > '9') return -1;
    errno = 0;
    char *end;
    long d = strtol(p, &end, 10);
    if (errno || d < 0 || d > 4095) return -1;
    *device = (int)d;
    if (*end == '\0') return 0;
    if (!strcmp(end, ":fp32")) { *precision = SV_PRECISION_FP32; return 0; }
    if (!strcmp(end, ":bf16")) return 0;
    return -1;
}

int sv_backend_get(const char *name, const sv_backend **out)
{
    if (!name || !strcmp(name, "cpu")) {
        *out = &sv_backend_cpu;
        return SIMVTP_OK;
    }
    if (!strcmp(name, "auto")) {
#if SIMVTP_HAVE_CUDA
        if (sv_cuda_device_count() > 0) return sv_cuda_backend_get(0, SV_PRECISION_BF16, out);
#endif
        *out = &sv_backend_cpu;
        return SIMVTP_OK;
    }
    if (!strncmp(name, "cuda", 4)) {
        int dev, prec;
        if (parse_cuda(name, &dev, &prec))
            return sv_fail(SIMVTP_ERR_INVALID_ARG,
                           "backend \"%s\": expected \"cuda\", \"cuda:N\", \"cuda:N:fp32\" or \"cuda:N:bf16\"", name);
#if SIMVTP_HAVE_CUDA
        return sv_cuda_backend_get(dev, prec, out);
#else
        return sv_fail(SIMVTP_ERR_UNSUPPORTED,
                       "backend \"%s\": this libsimvtp was built without CUDA "
                       "(rebuild with -Dcuda=enabled on a machine with nvcc)", name);
#endif
    }
    return sv_fail(SIMVTP_ERR_INVALID_ARG,
                   "unknown backend \"%s\"; use \"cpu\", \"auto\", \"cuda:N\" or \"cuda:N:fp32\"", name);
}

float *sv_host_get(const sv_backend *be, const float *src, size_t n)
{
    if (be->host_memory) return (float *)src;
    float *h = malloc(n ? n * sizeof(float) : 1);
    if (h) be->memcpy_d2h(h, src, n * sizeof(float));
    return h;
}

void sv_host_put(const sv_backend *be, float *dst, float *host, size_t n)
{
    if (host == dst) return;
    be->memcpy_h2d(dst, host, n * sizeof(float));
    free(host);
}

void sv_host_drop(const sv_backend *be, const float *src, float *host)
{
    (void)be;
    if (host != src) free(host);
}

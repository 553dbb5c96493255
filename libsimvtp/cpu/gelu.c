/* cpu/gelu.c — exact (erf) GELU activation, forward and backward. */
#include "cpu/cpu_ops.h"

#include <math.h>

#define SV_INV_SQRT2 0.70710678118654752440f
#define SV_INV_SQRT_2PI 0.39894228040143267794f

void cpu_gelu_fwd(float *out, const float *inp, size_t n)
{
    #pragma omp parallel for if (n > 32768)
    for (size_t i = 0; i < n; i++) {
        const float x = inp[i];
        out[i] = 0.5f * x * (1.0f + erff(x * SV_INV_SQRT2));
    }
}

void cpu_gelu_bwd(float *dinp, const float *inp, const float *dout, size_t n)
{
    if (!dinp)
        return;
    #pragma omp parallel for if (n > 32768)
    for (size_t i = 0; i < n; i++) {
        const float x = inp[i];
        const float cdf = 0.5f * (1.0f + erff(x * SV_INV_SQRT2));
        const float pdf = SV_INV_SQRT_2PI * expf(-0.5f * x * x);
        dinp[i] += dout[i] * (cdf + x * pdf);
    }
}

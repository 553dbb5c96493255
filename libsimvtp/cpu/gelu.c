/* cpu/gelu.c — exact (erf) GELU activation, forward and backward.
 *
 * GELU(x) = 0.5 x (1 + erf(x/sqrt2)) = 0.5 x Q(x), Q = 1 + erf(x/sqrt2);
 * GELU'(x) = 0.5 Q(x) + x phi(x), phi(x) = exp(-x^2/2) / sqrt(2 pi).
 *
 * The loops are written to vectorize (no libm calls): Q comes from
 * erfc(a), a = |x|/sqrt2, via the Chebyshev fit of Numerical Recipes
 * (erfc(a) = t exp(-a^2 + P(t)), t = 1/(1 + a/2), fractional error < 1.2e-7
 * for every a >= 0), Q = 2 - erfc(a) for x >= 0 and erfc(a) for x < 0, so the
 * negative tail keeps its relative accuracy. The exponent -a^2 is formed
 * exactly (a split into 12-bit halves) and its rounding error is fed back
 * to first order, and exp is a Cephes-style polynomial with exact
 * Cody-Waite range reduction: together a few float ulps from the erff-based
 * formula (cpu/simd_math.h). On x86-64 the block functions are also compiled
 * for AVX2 and picked at load time (target_clones). */
#include "cpu/cpu_ops.h"
#include "cpu/simd_math.h"

#include <math.h>
#include <stdint.h>

#define SV_INV_SQRT2 0.70710678118654752440f
#define SV_INV_SQRT_2PI 0.39894228040143267794f
#define SV_GELU_BLOCK 4096   /* elements per OpenMP work item */
#define SV_GELU_PAR_N 32768  /* below this, one thread */

/* -a*a as hi + lo (exact: a is split into two 12-bit halves). */
static inline void neg_square(float a, float *hi, float *lo)
{
    const float ah = sv_bits_to_float(sv_float_to_bits(a) & 0xFFFFF000u);
    const float al = a - ah;
    const float s_hi = ah * ah;              /* exact: 24 significant bits */
    const float s_lo = al * (a + ah);        /* a^2 - ah^2, to float precision */
    *hi = -s_hi;
    *lo = -s_lo;
}

/* Q(x) = 1 + erf(x/sqrt2) and, optionally, e = exp(-x^2/2). */
static inline float gelu_q(float x, float *e_out)
{
    const float a = fabsf(x) * SV_INV_SQRT2;
    const float t = 1.0f / (1.0f + 0.5f * a);
    float P = 0.17087277f;
    P = P * t - 0.82215223f;
    P = P * t + 1.48851587f;
    P = P * t - 1.13520398f;
    P = P * t + 0.27886807f;
    P = P * t - 0.18628806f;
    P = P * t + 0.09678418f;
    P = P * t + 0.37409196f;
    P = P * t + 1.00002368f;
    P = P * t - 1.26551223f;
    float sh, sl;
    neg_square(a, &sh, &sl);
    /* arg = sh + (sl + P), with the rounding error of the last sum (TwoSum). */
    const float u = sl + P;
    const float s = sh + u;
    const float bb = s - sh;
    const float err = (sh - (s - bb)) + (u - bb);
    const float erfc_a = t * sv_exp_hl(s, err);
    if (e_out)
        *e_out = sv_exp_hl(sh, sl);
    return sv_select_f(x >= 0.0f, 2.0f - erfc_a, erfc_a);
}

SV_CLONES static void gelu_fwd_block(float *out, const float *inp, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const float x = inp[i];
        out[i] = 0.5f * x * gelu_q(x, NULL);
    }
}

SV_CLONES static void gelu_bwd_block(float *dinp, const float *inp, const float *dout, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const float x = inp[i];
        float e;
        const float cdf = 0.5f * gelu_q(x, &e);
        const float pdf = SV_INV_SQRT_2PI * e;
        dinp[i] = dout[i] * (cdf + x * pdf);
    }
}

void cpu_gelu_fwd(float *out, const float *inp, size_t n)
{
    const long nb = (long)((n + SV_GELU_BLOCK - 1) / SV_GELU_BLOCK);
    #pragma omp parallel for schedule(static) if (n > SV_GELU_PAR_N)
    for (long b = 0; b < nb; b++) {
        const size_t i0 = (size_t)b * SV_GELU_BLOCK;
        const size_t len = n - i0 < SV_GELU_BLOCK ? n - i0 : SV_GELU_BLOCK;
        gelu_fwd_block(out + i0, inp + i0, len);
    }
}

void cpu_gelu_bwd(float *dinp, const float *inp, const float *dout, size_t n)
{
    if (!dinp)
        return;
    const long nb = (long)((n + SV_GELU_BLOCK - 1) / SV_GELU_BLOCK);
    #pragma omp parallel for schedule(static) if (n > SV_GELU_PAR_N)
    for (long b = 0; b < nb; b++) {
        const size_t i0 = (size_t)b * SV_GELU_BLOCK;
        const size_t len = n - i0 < SV_GELU_BLOCK ? n - i0 : SV_GELU_BLOCK;
        gelu_bwd_block(dinp + i0, inp + i0, dout + i0, len);
    }
}

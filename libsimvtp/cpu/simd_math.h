/* cpu/simd_math.h — small branch-free float helpers that GCC/Clang vectorize
 * (no libm calls inside the loops): a polynomial exp with exact Cody-Waite
 * range reduction, within 1 ulp of exp on [-87, 88.7] (subnormals below),
 * and a select. SV_CLONES marks a function to be compiled for the default
 * target and for x86-64-v3 (AVX2), chosen at load time, where the toolchain
 * supports target_clones. */
#ifndef SV_CPU_SIMD_MATH_H
#define SV_CPU_SIMD_MATH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* clang before 15 emits each static clone's resolver as a global symbol, so
 * two files with a same-named static clone do not link: no clones there. */
#if defined(__GNUC__) && defined(__x86_64__) && defined(__ELF__) && defined(__has_attribute) && \
    !(defined(__clang__) && __clang_major__ < 15)
#if __has_attribute(target_clones)
#define SV_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#endif
#endif
#ifndef SV_CLONES
#define SV_CLONES
#endif

static inline float sv_bits_to_float(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static inline uint32_t sv_float_to_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

/* Branch-free c ? a : b through an all-ones/all-zeros mask. (A ?: on floats
 * becomes control flow that jump threading specializes, and under
 * -ftrapping-math GCC will not if-convert it back, so the loop would not
 * vectorize.) */
static inline float sv_select_f(int c, float a, float b)
{
    const uint32_t m = (uint32_t)0 - (uint32_t)(c != 0);
    return sv_bits_to_float((sv_float_to_bits(a) & m) | (sv_float_to_bits(b) & ~m));
}

/* exp(hi + lo) for hi <= 88 and |lo| << 1 (lo: a correction term, 0 if none);
 * subnormal results down to hi = -104, exactly 0 below (so exp(-inf) == 0),
 * NaN for NaN. */
static inline float sv_exp_hl(float hi, float lo)
{
    const int under = hi < -104.0f;
    const float xc = sv_select_f(under, -104.0f, hi);
    /* n = round(x / ln2) by the 1.5 * 2^23 trick (no floorf call). */
    const float shifter = 12582912.0f;
    const float kf = (xc * 1.44269504088896341f + shifter) - shifter;
    /* r = x - n ln2 with ln2 split in two (Cody-Waite): kf * C1 is exact. */
    float r = xc - kf * 0.693359375f;
    r = r - kf * -2.12194440e-4f;
    r = r + lo;
    const float r2 = r * r;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r2 + r + 1.0f;
    /* 2^n, n in [-150, 128], as two normal factors 2^k1 2^k2 (the product
     * rounds into the subnormal range or overflows to inf as exp does). */
    const int32_t k = (int32_t)kf;
    const int32_t k1 = k / 2, k2 = k - k1;
    const float s1 = sv_bits_to_float((uint32_t)(k1 + 127) << 23);
    const float s2 = sv_bits_to_float((uint32_t)(k2 + 127) << 23);
    return sv_select_f(under, 0.0f, p * s1 * s2);
}

static inline float sv_expf(float x) { return sv_exp_hl(x, 0.0f); }

#endif /* SV_CPU_SIMD_MATH_H */

/* tests/cuda/emu/emu_check.h — what the emulator tests of single kernels
 * share: a seeded xorshift for inputs, a count of differing elements (bit
 * for bit), the pass/fail tally, and a test's start and end. Header-only
 * (each test is one file). */
#ifndef SV_EMU_CHECK_H
#define SV_EMU_CHECK_H

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>

static uint64_t emu_rng_state = 0x2545f4914f6cdd1dull;
static int n_pass, n_fail;

/* uniform in [lo, hi) */
static inline float frand(float lo, float hi)
{
    emu_rng_state ^= emu_rng_state << 13;
    emu_rng_state ^= emu_rng_state >> 7;
    emu_rng_state ^= emu_rng_state << 17;
    return lo + (hi - lo) * (float)((double)(emu_rng_state >> 11) / 9007199254740992.0);
}

/* how many of n elements of es bytes differ between a and b */
static inline size_t ndiff(const void *a, const void *b, size_t n, size_t es)
{
    size_t d = 0;
    for (size_t i = 0; i < n; i++) d += memcmp((const char *)a + i * es, (const char *)b + i * es, es) != 0;
    return d;
}

static inline void tally(bool ok)
{
    if (ok) n_pass++;
    else n_fail++;
}

/* A test's first call: 77 (meson's skip) under AddressSanitizer, which the
 * emulator's stack switches confuse; else 0, with stdout line-buffered. */
static inline int emu_start()
{
#if defined(__SANITIZE_ADDRESS__)
    printf("SKIP: the emulator's stack switches confuse AddressSanitizer\n");
    return 77;
#else
    setvbuf(stdout, NULL, _IOLBF, 0);
    return 0;
#endif
}

/* A test's last call: the tally line and the exit status. */
static inline int emu_finish(const char *test)
{
    printf("%s: %d passed, %d failed\n", test, n_pass, n_fail);
    return n_fail ? 1 : 0;
}

#endif

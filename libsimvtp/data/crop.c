/* data/crop.c — simvtp_crop_frames: the SimVTP spatial crops, one box for all
 * n frames, resampled with our own bilinear filter.
 *
 * Bilinear: half-pixel centres, no antialiasing (OpenCV INTER_LINEAR,
 * torch interpolate(bilinear, align_corners=False)). Output pixel d of an
 * axis samples source position s = x0 + (d + o + 0.5) * scale - 0.5, clamped
 * to [x0, x0 + span - 1] (edge pixels repeat); i0 = floor(s), i1 =
 * min(i0 + 1, x0 + span - 1), f = s - i0; the value is the usual
 * interpolation of the 4 neighbours in float, rounded half up to uint8:
 * top = p00 + fx * (p01 - p00), bot likewise, v = top + fy * (bot - top)
 * + 0.5, truncated (single precision, in this order, no FMA).
 * (OpenCV quantizes weights to 11 bits, so it can differ by 1 level.)
 * It runs separably: the column plan is computed once per call for all
 * frames, each referenced source row is filtered horizontally once per frame
 * into a row cache, then each output row is a vertical blend of two cached
 * rows; SSE2, plus AVX2 when the CPU has it (x86-64), else scalar C. Every
 * path does the same float operations, so the bytes are the same.
 *
 * MULTISCALE (GroupMultiScaleCrop of the released SimVTP/VideoMAE code,
 * max_distort 1, fix_crop and more_fix_crop on):
 *   base = min(in_w, in_h); c[i] = trunc(base * {1, .875, .75, .66}[i]);
 *   crop_h[i] = out_h if |c[i] - out_h| < 3 else c[i], crop_w[j] likewise
 *   with out_w (then clamped to the image: the released code would pad the
 *   overhang with black); pairs (w = crop_w[j], h = crop_h[i]) for i outer,
 *   j inner, |i - j| <= 1 (10 pairs); one pair uniformly, then with
 *   ws = (in_w - w) / 4, hs = (in_h - h) / 4 one of the 13 offsets
 *   (0,0) (4ws,0) (0,4hs) (4ws,4hs) (2ws,2hs) (0,2hs) (4ws,2hs) (2ws,4hs)
 *   (2ws,0) (ws,hs) (3ws,hs) (ws,3hs) (3ws,3hs) uniformly; the box is
 *   resized to out_w x out_h. No flip.
 * RANDOM_RESIZED (random_resized_crop of the released fine-tuning code,
 *   as torchvision RandomResizedCrop): up to 10 attempts of
 *   area = U(0.08, 1) * in_w * in_h, ratio = exp(U(log 0.75, log 1.3333)),
 *   w = round(sqrt(area * ratio)), h = round(sqrt(area / ratio)) (round half
 *   to even, as Python); the first with 0 < w <= in_w and 0 < h <= in_h
 *   takes top = uniform [0, in_h - h], left = uniform [0, in_w - w].
 *   Fallback: ratio in_w/in_h clamped to [0.75, 1.3333] (w = in_w,
 *   h = round(w / 0.75); or h = in_h, w = round(h * 1.3333); or the whole
 *   image), centred with (in - size) / 2. The box is resized to out size,
 *   then flipped horizontally when U(0,1) < 0.5.
 * CENTER: resize so that the image covers out_w x out_h, keeping its
 *   aspect: if in_w * out_h >= in_h * out_w the height becomes out_h and the
 *   width trunc(out_h * in_w / in_h), else the width becomes out_w and the
 *   height trunc(out_w * in_h / in_w) (for a square output: short side to
 *   out, long side truncated, as VideoMAE's Resize); then crop the middle,
 *   offset round_half_even((resized - out) / 2) on each axis (CenterCrop).
 * THREE: the same resize, then the crop `index` 0, 1, 2 at offset
 *   trunc(index * (resized - out) / 2) on each axis: start, centre, end of
 *   the long side (the released 3-crop test).
 *
 * U(a, b) = a + (b - a) * u with u a 53-bit uniform from an sv_rng seeded
 * with `seed`; integer choices use sv_rng_below. */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "simvtp/video.h"
#include "core/rng.h"
#include "core/status_internal.h"

#define MAX_SIDE 65536

typedef struct box {
    int x, y, w, h;
} box;

/* Per-axis sampling plan: neighbours and weight of each output coordinate. */
typedef struct axis_plan {
    int *i0, *i1;
    float *f;
} axis_plan;

static double uniform53(sv_rng *r) { return (double)(sv_rng_u64(r) >> 11) * (1.0 / 9007199254740992.0); }

/* s = x0 + (d + o + 0.5) * scale - 0.5 clamped to [x0, x0 + span - 1]. */
static void plan_axis(axis_plan *p, int n_out, int x0, int span, double scale, int o)
{
    int lo = x0, hi = x0 + span - 1;
    for (int d = 0; d < n_out; d++) {
        double s = (double)x0 + ((double)(d + o) + 0.5) * scale - 0.5;
        if (s < lo) s = lo;
        if (s > hi) s = hi;
        int i = (int)floor(s);
        p->i0[d] = i;
        p->i1[d] = i < hi ? i + 1 : hi;
        p->f[d] = (float)(s - i);
    }
}

/* The resampler is separable and computes exactly the float expression of
 * the header, in the same order and in single precision (no FMA: GCC does not
 * contract in ISO C mode, clang is told below, and the AVX2 path does not
 * enable FMA):
 *   top = a + fx * (b - a)   horizontal, once per (source row, output column)
 *   v   = top + fy * (bot - top) + 0.5f, truncated, saturated to uint8
 * so the bytes do not depend on the path (scalar, SSE2, AVX2) nor on the
 * order in which rows are computed. Per call: the column plan (flip folded
 * in) is shared by all frames; per frame, each referenced source row is
 * widened to float (referenced columns only) and filtered horizontally into
 * one of two cached rows (the rows that output rows reference are
 * nondecreasing, so each is computed at most once per frame); each output row
 * is one vertical blend of two cached rows. No threads: the loader runs one
 * crop per worker. */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif
#ifndef CROP_SIMD /* 2: SSE2, and AVX2 where the CPU has it; 1: SSE2; 0: scalar */
#if defined(__SSE2__) && defined(FLT_EVAL_METHOD) && FLT_EVAL_METHOD == 0
#if defined(__GNUC__) && defined(__x86_64__)
#define CROP_SIMD 2
#else
#define CROP_SIMD 1
#endif
#else
#define CROP_SIMD 0
#endif
#endif
#if CROP_SIMD >= 1
#include <emmintrin.h>
#endif
#if CROP_SIMD >= 2
#include <immintrin.h>
#define CROP_AVX2 __attribute__((target("avx2")))
#endif

typedef struct resampler resampler;
struct resampler {
    int span_w, out_w; /* columns widened, output columns                             */
    size_t stride;     /* bytes per source row                                        */
    const int *col;    /* per output column: offset in srcf of its left neighbour's R */
    const float *fx;   /* per output column: horizontal weight, 4 copies              */
    float *srcf;       /* one source row as float (span_w pixels), its last pixel
                          repeated once (the right neighbour is always col + 3), then
                          1 float of padding                                          */
    float *hrow[2];    /* horizontally filtered rows, out_w * 3 + 4 (1 float of pad)  */
    void (*filter)(const resampler *rs, const uint8_t *row, float *restrict h);
    void (*blend)(const float *restrict t, const float *restrict b, float fy, int len,
                  uint8_t *restrict o);
};

/* The tails and the scalar path. */
static void widen_tail(const uint8_t *restrict s, int k, int len, float *restrict d)
{
    for (; k < len; k++) d[k] = (float)s[k];
    d[len] = d[len - 3];
    d[len + 1] = d[len - 2];
    d[len + 2] = d[len - 1];
}

#if CROP_SIMD != 1
static void filter_tail(const resampler *rs, int x, float *restrict h)
{
    const float *s = rs->srcf;
    for (; x < rs->out_w; x++) {
        const float *p = s + rs->col[x];
        float f = rs->fx[4 * x];
        for (int c = 0; c < 3; c++) h[3 * x + c] = p[c] + f * (p[c + 3] - p[c]);
    }
}
#endif

static void blend_tail(const float *restrict t, const float *restrict b, float fy, int k, int len,
                       uint8_t *restrict o)
{
    for (; k < len; k++) {
        float v = t[k] + fy * (b[k] - t[k]) + 0.5f;
        o[k] = v <= 0.0f ? 0 : v >= 255.0f ? 255 : (uint8_t)v;
    }
}

/* The next source rows are the likely next ones: start fetching them. */
static void prefetch_next(const resampler *rs, const uint8_t *row)
{
#if defined(__GNUC__)
    uintptr_t next = (uintptr_t)row + rs->stride; /* may lie past the frames: only prefetched */
    for (int k = 0; k < rs->span_w * 3; k += 64)
        __builtin_prefetch((const void *)(next + (size_t)k));
#else
    (void)rs, (void)row;
#endif
}

#if CROP_SIMD == 0
static void filter_row(const resampler *rs, const uint8_t *row, float *restrict h)
{
    widen_tail(row, 0, rs->span_w * 3, rs->srcf);
    prefetch_next(rs, row);
    filter_tail(rs, 0, h);
}

static void blend_row(const float *restrict t, const float *restrict b, float fy, int len,
                      uint8_t *restrict o)
{
    blend_tail(t, b, fy, 0, len, o);
}
#else
/* Horizontal pass of one source row (pointing at the first widened column). */
static void filter_row(const resampler *rs, const uint8_t *row, float *restrict h)
{
    const int len = rs->span_w * 3, out_w = rs->out_w;
    float *restrict s = rs->srcf;
    const int *restrict col = rs->col;
    const float *restrict fx = rs->fx;
    const __m128i z = _mm_setzero_si128();
    int k = 0;
    for (; k + 16 <= len; k += 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(row + k));
        __m128i lo = _mm_unpacklo_epi8(v, z), hi = _mm_unpackhi_epi8(v, z);
        _mm_storeu_ps(s + k, _mm_cvtepi32_ps(_mm_unpacklo_epi16(lo, z)));
        _mm_storeu_ps(s + k + 4, _mm_cvtepi32_ps(_mm_unpackhi_epi16(lo, z)));
        _mm_storeu_ps(s + k + 8, _mm_cvtepi32_ps(_mm_unpacklo_epi16(hi, z)));
        _mm_storeu_ps(s + k + 12, _mm_cvtepi32_ps(_mm_unpackhi_epi16(hi, z)));
    }
    widen_tail(row, k, len, s);
    prefetch_next(rs, row);
    /* 4 lanes per pixel: the 4th is scratch, overwritten by the next pixel
     * (or landing in the padding). */
    for (int x = 0; x < out_w; x++) {
        const float *p = s + col[x];
        __m128 a = _mm_loadu_ps(p), b = _mm_loadu_ps(p + 3), f = _mm_loadu_ps(fx + 4 * x);
        _mm_storeu_ps(h + 3 * x, _mm_add_ps(a, _mm_mul_ps(f, _mm_sub_ps(b, a))));
    }
}

/* Vertical pass: len = out_w * 3 values. v lies in [0.5, 255.5], where
 * truncation then saturation equals the scalar clamp. */
static void blend_row(const float *restrict t, const float *restrict b, float fy, int len,
                      uint8_t *restrict o)
{
    const __m128 f = _mm_set1_ps(fy), half = _mm_set1_ps(0.5f);
    int k = 0;
    for (; k + 16 <= len; k += 16) {
        __m128i v[4];
        for (int j = 0; j < 4; j++) {
            __m128 tv = _mm_loadu_ps(t + k + 4 * j), bv = _mm_loadu_ps(b + k + 4 * j);
            __m128 mix = _mm_add_ps(tv, _mm_mul_ps(f, _mm_sub_ps(bv, tv)));
            v[j] = _mm_cvttps_epi32(_mm_add_ps(mix, half));
        }
        __m128i w = _mm_packus_epi16(_mm_packs_epi32(v[0], v[1]), _mm_packs_epi32(v[2], v[3]));
        _mm_storeu_si128((__m128i *)(o + k), w);
    }
    blend_tail(t, b, fy, k, len, o);
}
#endif

#if CROP_SIMD >= 2
/* The same operations, 8 lanes: two output pixels per step. */
CROP_AVX2 static void filter_row_avx2(const resampler *rs, const uint8_t *row, float *restrict h)
{
    const int len = rs->span_w * 3, out_w = rs->out_w;
    float *restrict s = rs->srcf;
    const int *restrict col = rs->col;
    const float *restrict fx = rs->fx;
    int k = 0;
    for (; k + 16 <= len; k += 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(row + k));
        _mm256_storeu_ps(s + k, _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(v)));
        _mm256_storeu_ps(s + k + 8, _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(v, 8))));
    }
    widen_tail(row, k, len, s);
    prefetch_next(rs, row);
    int x = 0;
    for (; x + 2 <= out_w; x += 2) {
        const float *p = s + col[x], *q = s + col[x + 1];
        __m256 a = _mm256_insertf128_ps(_mm256_castps128_ps256(_mm_loadu_ps(p)),
                                        _mm_loadu_ps(q), 1);
        __m256 b = _mm256_insertf128_ps(_mm256_castps128_ps256(_mm_loadu_ps(p + 3)),
                                        _mm_loadu_ps(q + 3), 1);
        __m256 f = _mm256_loadu_ps(fx + 4 * x);
        __m256 r = _mm256_add_ps(a, _mm256_mul_ps(f, _mm256_sub_ps(b, a)));
        _mm_storeu_ps(h + 3 * x, _mm256_castps256_ps128(r));
        _mm_storeu_ps(h + 3 * x + 3, _mm256_extractf128_ps(r, 1));
    }
    filter_tail(rs, x, h);
}

CROP_AVX2 static void blend_row_avx2(const float *restrict t, const float *restrict b, float fy,
                                     int len, uint8_t *restrict o)
{
    const __m256 f = _mm256_set1_ps(fy), half = _mm256_set1_ps(0.5f);
    const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    int k = 0;
    for (; k + 32 <= len; k += 32) {
        __m256i v[4];
        for (int j = 0; j < 4; j++) {
            __m256 tv = _mm256_loadu_ps(t + k + 8 * j), bv = _mm256_loadu_ps(b + k + 8 * j);
            v[j] = _mm256_cvttps_epi32(
                _mm256_add_ps(_mm256_add_ps(tv, _mm256_mul_ps(f, _mm256_sub_ps(bv, tv))), half));
        }
        /* The packs work per 128-bit lane: put the 4-byte groups back in order. */
        __m256i w = _mm256_packus_epi16(_mm256_packs_epi32(v[0], v[1]),
                                        _mm256_packs_epi32(v[2], v[3]));
        _mm256_storeu_si256((__m256i *)(o + k), _mm256_permutevar8x32_epi32(w, order));
    }
    blend_tail(t, b, fy, k, len, o);
}
#endif

static void resample(const resampler *rs, const uint8_t *in, int n, int in_w, int in_h, int x0,
                     const axis_plan *py, int out_h, uint8_t *out)
{
    size_t in_frame = (size_t)in_w * in_h * 3, out_row = (size_t)rs->out_w * 3;
    for (int t = 0; t < n; t++) {
        const uint8_t *src = in + in_frame * t + (size_t)x0 * 3;
        uint8_t *dst = out + out_row * out_h * t;
        int tag[2] = {-1, -1}; /* source row held by hrow[k] */
        for (int y = 0; y < out_h; y++) {
            int need[2] = {py->i0[y], py->i1[y]}, slot[2];
            for (int j = 0; j < 2; j++) {
                int r = need[j];
                if (tag[0] == r) slot[j] = 0;
                else if (tag[1] == r) slot[j] = 1;
                else {
                    /* Evict the slot the other needed row is not in. */
                    int k = tag[0] == need[1 - j] ? 1 : 0;
                    rs->filter(rs, src + (size_t)r * rs->stride, rs->hrow[k]);
                    tag[k] = r;
                    slot[j] = k;
                }
            }
            rs->blend(rs->hrow[slot[0]], rs->hrow[slot[1]], py->f[y], (int)out_row,
                      dst + out_row * y);
        }
    }
}

static box multiscale_box(int in_w, int in_h, int out_w, int out_h, sv_rng *r)
{
    static const double scales[4] = {1.0, 0.875, 0.75, 0.66};
    int base = in_w < in_h ? in_w : in_h;
    int cw[4], ch[4];
    for (int i = 0; i < 4; i++) {
        int c = (int)((double)base * scales[i]);
        ch[i] = abs(c - out_h) < 3 ? out_h : c;
        cw[i] = abs(c - out_w) < 3 ? out_w : c;
        if (ch[i] > in_h) ch[i] = in_h;
        if (cw[i] > in_w) cw[i] = in_w;
        if (ch[i] < 1) ch[i] = 1;
        if (cw[i] < 1) cw[i] = 1;
    }
    int pw[16], ph[16], np = 0;
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++)
            if (abs(i - j) <= 1) {
                pw[np] = cw[j];
                ph[np] = ch[i];
                np++;
            }
    int p = (int)sv_rng_below(r, (uint32_t)np);
    box b = {0, 0, pw[p], ph[p]};
    int ws = (in_w - b.w) / 4, hs = (in_h - b.h) / 4;
    static const int grid[13][2] = {{0, 0}, {4, 0}, {0, 4}, {4, 4}, {2, 2}, {0, 2}, {4, 2},
                                    {2, 4}, {2, 0}, {1, 1}, {3, 1}, {1, 3}, {3, 3}};
    int g = (int)sv_rng_below(r, 13);
    b.x = grid[g][0] * ws;
    b.y = grid[g][1] * hs;
    return b;
}

static box random_resized_box(int in_w, int in_h, sv_rng *r)
{
    const double rmin = 0.75, rmax = 1.3333;
    double area = (double)in_w * (double)in_h;
    double lmin = log(rmin), lmax = log(rmax);
    for (int attempt = 0; attempt < 10; attempt++) {
        double target = (0.08 + (1.0 - 0.08) * uniform53(r)) * area;
        double ratio = exp(lmin + (lmax - lmin) * uniform53(r));
        double w = nearbyint(sqrt(target * ratio));
        double h = nearbyint(sqrt(target / ratio));
        if (w > 0 && w <= in_w && h > 0 && h <= in_h) {
            box b = {0, 0, (int)w, (int)h};
            b.y = (int)sv_rng_below(r, (uint32_t)(in_h - b.h + 1));
            b.x = (int)sv_rng_below(r, (uint32_t)(in_w - b.w + 1));
            return b;
        }
    }
    double in_ratio = (double)in_w / (double)in_h;
    box b = {0, 0, in_w, in_h};
    if (in_ratio < rmin) {
        b.h = (int)nearbyint((double)in_w / rmin);
    } else if (in_ratio > rmax) {
        b.w = (int)nearbyint((double)in_h * rmax);
    }
    if (b.w > in_w) b.w = in_w;
    if (b.h > in_h) b.h = in_h;
    if (b.w < 1) b.w = 1;
    if (b.h < 1) b.h = 1;
    b.x = (in_w - b.w) / 2;
    b.y = (in_h - b.h) / 2;
    return b;
}

/* CENTER/THREE: size of the image once resized to cover out_w x out_h. */
static void cover_size(int in_w, int in_h, int out_w, int out_h, int *rw, int *rh)
{
    if ((int64_t)in_w * out_h >= (int64_t)in_h * out_w) {
        *rh = out_h;
        *rw = (int)((int64_t)out_h * in_w / in_h);
    } else {
        *rw = out_w;
        *rh = (int)((int64_t)out_w * in_h / in_w);
    }
    if (*rw < out_w) *rw = out_w; /* integer truncation can undershoot by one */
    if (*rh < out_h) *rh = out_h;
}

int simvtp_crop_frames(const uint8_t *in, int n, int in_w, int in_h, int mode, int index,
                       uint64_t seed, int out_w, int out_h, uint8_t *out)
{
    sv_clear_error();
    SV_CHECK_ARG(n >= 0, "simvtp_crop_frames: n is %d, must be >= 0", n);
    SV_CHECK_ARG(n == 0 || (in && out), "simvtp_crop_frames: in or out is NULL");
    SV_CHECK_ARG(in_w >= 1 && in_h >= 1 && in_w <= MAX_SIDE && in_h <= MAX_SIDE,
                 "simvtp_crop_frames: input size %dx%d is outside [1, %d]", in_w, in_h, MAX_SIDE);
    SV_CHECK_ARG(out_w >= 1 && out_h >= 1 && out_w <= MAX_SIDE && out_h <= MAX_SIDE,
                 "simvtp_crop_frames: output size %dx%d is outside [1, %d]", out_w, out_h,
                 MAX_SIDE);
    SV_CHECK_ARG(mode >= SIMVTP_CROP_MULTISCALE && mode <= SIMVTP_CROP_THREE,
                 "simvtp_crop_frames: unknown mode %d (MULTISCALE=0, RANDOM_RESIZED=1, "
                 "CENTER=2, THREE=3)", mode);
    SV_CHECK_ARG(mode != SIMVTP_CROP_THREE || (index >= 0 && index <= 2),
                 "simvtp_crop_frames: THREE crop index is %d, must be 0, 1 or 2", index);
    if (n == 0) return SIMVTP_OK;

    sv_rng r;
    sv_rng_seed(&r, seed);
    int flip = 0;
    int x0 = 0, y0 = 0, span_w = in_w, span_h = in_h, ox = 0, oy = 0;
    double sx, sy;
    if (mode == SIMVTP_CROP_MULTISCALE || mode == SIMVTP_CROP_RANDOM_RESIZED) {
        box b = mode == SIMVTP_CROP_MULTISCALE ? multiscale_box(in_w, in_h, out_w, out_h, &r)
                                               : random_resized_box(in_w, in_h, &r);
        if (mode == SIMVTP_CROP_RANDOM_RESIZED) flip = uniform53(&r) < 0.5;
        x0 = b.x;
        y0 = b.y;
        span_w = b.w;
        span_h = b.h;
        sx = (double)b.w / out_w;
        sy = (double)b.h / out_h;
    } else {
        int rw, rh;
        cover_size(in_w, in_h, out_w, out_h, &rw, &rh);
        if (mode == SIMVTP_CROP_CENTER) {
            ox = (int)nearbyint((double)(rw - out_w) / 2.0);
            oy = (int)nearbyint((double)(rh - out_h) / 2.0);
        } else {
            ox = (int)((double)index * ((double)(rw - out_w) / 2.0));
            oy = (int)((double)index * ((double)(rh - out_h) / 2.0));
        }
        sx = (double)in_w / rw;
        sy = (double)in_h / rh;
    }

    /* ints: x plan i0, i1 | y plan i0, i1 | col; floats: x f | y f | fx (4 per
     * column) | srcf | hrow[0] | hrow[1]. */
    size_t n_ints = 3 * (size_t)out_w + 2 * (size_t)out_h;
    size_t n_fl = 6 * (size_t)out_w + out_h + ((size_t)span_w * 3 + 4) +
                  2 * ((size_t)out_w * 3 + 4);
    int *ints = malloc(sizeof(int) * n_ints);
    float *fl = calloc(n_fl, sizeof(float)); /* zeroed: the padding is read, never used */
    if (!ints || !fl) {
        free(ints);
        free(fl);
        return sv_fail(SIMVTP_ERR_NOMEM, "simvtp_crop_frames: out of memory for %dx%d plans",
                       out_w, out_h);
    }
    axis_plan px = {ints, ints + out_w, fl};
    axis_plan py = {ints + 2 * out_w, ints + 2 * out_w + out_h, fl + out_w};
    plan_axis(&px, out_w, x0, span_w, sx, ox);
    plan_axis(&py, out_h, y0, span_h, sy, oy);

    /* Columns with the flip folded in. i1 is i0 + 1, or i0 at the box's right
     * edge, where srcf repeats the last pixel: reading col + 3 is the same. */
    int *col = ints + 2 * out_w + 2 * out_h;
    float *fx = fl + out_w + out_h;
    float *srcf = fx + 4 * (size_t)out_w;
    /* Only the referenced columns [cx0, cx1] are widened (CENTER and THREE
     * reference a part of their box). When cx1 is left of the box's right
     * edge, every i1 is i0 + 1 <= cx1 and the repeated pixel is never used;
     * when it is the edge, the repeat stands for i1 = i0 = cx1. */
    int cx0 = px.i0[0], cx1 = px.i1[out_w - 1]; /* the plan is nondecreasing */
    float *h0 = srcf + (size_t)(cx1 - cx0 + 1) * 3 + 4;
    float *h1 = h0 + (size_t)out_w * 3 + 4;
    for (int x = 0; x < out_w; x++) {
        int xs = flip ? out_w - 1 - x : x;
        col[x] = (px.i0[xs] - cx0) * 3;
        for (int k = 0; k < 4; k++) fx[4 * x + k] = px.f[xs];
    }
    resampler rs = {cx1 - cx0 + 1, out_w, (size_t)in_w * 3, col, fx, srcf, {h0, h1},
                    filter_row, blend_row};
#if CROP_SIMD >= 2
    if (__builtin_cpu_supports("avx2")) {
        rs.filter = filter_row_avx2;
        rs.blend = blend_row_avx2;
    }
#endif
    resample(&rs, in, n, in_w, in_h, cx0, &py, out_h, out);
    free(ints);
    free(fl);
    return SIMVTP_OK;
}

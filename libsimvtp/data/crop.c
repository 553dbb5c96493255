/* data/crop.c — simvtp_crop_frames: the SimVTP spatial crops, one box for all
 * n frames, resampled with our own bilinear filter.
 *
 * Bilinear: half-pixel centres, no antialiasing (OpenCV INTER_LINEAR,
 * torch interpolate(bilinear, align_corners=False)). Output pixel d of an
 * axis samples source position s = x0 + (d + o + 0.5) * scale - 0.5, clamped
 * to [x0, x0 + span - 1] (edge pixels repeat); i0 = floor(s), i1 =
 * min(i0 + 1, x0 + span - 1), f = s - i0; the value is the usual
 * interpolation of the 4 neighbours in float, rounded half up to uint8.
 * (OpenCV quantizes weights to 11 bits, so it can differ by 1 level.)
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

static void resample(const uint8_t *in, int n, int in_w, int in_h, const axis_plan *px,
                     const axis_plan *py, int out_w, int out_h, int flip, uint8_t *out)
{
    size_t in_frame = (size_t)in_w * in_h * 3, out_frame = (size_t)out_w * out_h * 3;
    for (int t = 0; t < n; t++) {
        const uint8_t *src = in + in_frame * t;
        uint8_t *dst = out + out_frame * t;
        for (int y = 0; y < out_h; y++) {
            const uint8_t *r0 = src + (size_t)py->i0[y] * in_w * 3;
            const uint8_t *r1 = src + (size_t)py->i1[y] * in_w * 3;
            float fy = py->f[y];
            uint8_t *o = dst + (size_t)y * out_w * 3;
            for (int x = 0; x < out_w; x++) {
                int xs = flip ? out_w - 1 - x : x;
                int a = px->i0[xs] * 3, b = px->i1[xs] * 3;
                float fx = px->f[xs];
                for (int c = 0; c < 3; c++) {
                    float top = (float)r0[a + c] + fx * (float)(r0[b + c] - r0[a + c]);
                    float bot = (float)r1[a + c] + fx * (float)(r1[b + c] - r1[a + c]);
                    float v = top + fy * (bot - top) + 0.5f;
                    o[x * 3 + c] = v <= 0.0f ? 0 : v >= 255.0f ? 255 : (uint8_t)v;
                }
            }
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

    int *ints = malloc(sizeof(int) * 2 * ((size_t)out_w + out_h));
    float *fl = malloc(sizeof(float) * ((size_t)out_w + out_h));
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
    resample(in, n, in_w, in_h, &px, &py, out_w, out_h, flip, out);
    free(ints);
    free(fl);
    return SIMVTP_OK;
}

/* test_video.c — simvtp/video.h through the shared library and the public
 * header only.
 *
 *   test_video rules    sampling rules against hand-computed index lists;
 *                       crops on hand-checked synthetic images (exact values,
 *                       flip, determinism, every multi-scale pair and offset)
 *   test_video decode   FFmpeg decoding against the ffmpeg/ffprobe CLIs on
 *                       videos generated here: frame counts, frames byte-exact
 *                       against `ffmpeg -vf select=... -vsync 0 -pix_fmt rgb24`,
 *                       random order, repeats, backward seeks, decode_scaled
 *                       byte-exact against `-vf scale=W:H:flags=bilinear`, bad
 *                       inputs. Exits 77 (skipped) when the CLIs are missing; in
 *                       a build without FFmpeg it checks SIMVTP_ERR_UNSUPPORTED.
 *
 * The CLIs come from $SIMVTP_FFMPEG / $SIMVTP_FFPROBE (set by meson), else
 * PATH. Scratch files go to a fresh directory under $SIMVTP_TEST_TMPDIR (or
 * $TMPDIR, or /tmp), removed at the end. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <simvtp/simvtp.h>

#include <check.h>
#include <ftw.h>
#include <limits.h>
#include <stdarg.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* ------------------------------------------------------------------------ */
/* Helpers                                                                  */
/* ------------------------------------------------------------------------ */

static char g_tmpdir[PATH_MAX];
static char g_ffmpeg[PATH_MAX] = "ffmpeg";
static char g_ffprobe[PATH_MAX] = "ffprobe";

static void expect_status(int rc, int want, const char *what)
{
    char detail[512];
    snprintf(detail, sizeof detail, "%s", simvtp_last_error());
    ck_assert_msg(rc == want, "%s returned %d (%s), expected %s; detail: \"%s\"", what, rc,
                  simvtp_strerror(rc), simvtp_strerror(want), detail);
    if (want != SIMVTP_OK)
        ck_assert_msg(detail[0] != '\0', "%s failed with %s but simvtp_last_error() is empty",
                      what, simvtp_strerror(rc));
}
#define EXPECT(call, want) expect_status((call), (want), #call)

static void tmp_path(char *out, size_t n, const char *name)
{
    int len = snprintf(out, n, "%s/%s", g_tmpdir, name);
    ck_assert_msg(len > 0 && (size_t)len < n, "path too long");
}

/* Runs a shell command; returns its exit status. */
static int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int run(const char *fmt, ...)
{
    char cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    int rc = system(cmd);
    return rc == -1 ? -1 : WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

/* Runs a command and returns its whole stdout (NUL-terminated; *n bytes). */
static unsigned char *capture(size_t *n, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static unsigned char *capture(size_t *n, const char *fmt, ...)
{
    char cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    FILE *p = popen(cmd, "r");
    ck_assert_msg(p != NULL, "popen failed: %s", cmd);
    size_t cap = 1 << 16, len = 0;
    unsigned char *buf = malloc(cap + 1);
    ck_assert_ptr_nonnull(buf);
    for (;;) {
        if (len == cap) {
            cap *= 2;
            buf = realloc(buf, cap + 1);
            ck_assert_ptr_nonnull(buf);
        }
        size_t got = fread(buf + len, 1, cap - len, p);
        if (got == 0) break;
        len += got;
    }
    int rc = pclose(p);
    ck_assert_msg(rc == 0, "command failed (%d): %s", rc, cmd);
    buf[len] = 0;
    *n = len;
    return buf;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* ------------------------------------------------------------------------ */
/* Sampling rules                                                           */
/* ------------------------------------------------------------------------ */

static void expect_indices(const int32_t *got, const int32_t *want, int T, const char *what)
{
    for (int k = 0; k < T; k++)
        ck_assert_msg(got[k] == want[k], "%s: idx[%d] = %d, expected %d", what, k, (int)got[k],
                      (int)want[k]);
}

static void sample(int mode, int frames, int T, int stride, uint64_t seed, int clip, int K,
                   int32_t *out)
{
    int rc = simvtp_sample_frames(mode, frames, T, stride, seed, clip, K, out);
    ck_assert_msg(rc == SIMVTP_OK, "sample_frames(mode %d, N %d, T %d) failed: %s", mode, frames,
                  T, simvtp_last_error());
}

START_TEST(test_pretrain_long)
{
    /* N >= 64: s + 4k with s uniform in [0, N-64]; every start is reachable. */
    int32_t idx[16];
    int seen[7] = {0};
    for (uint64_t seed = 0; seed < 400; seed++) {
        sample(SIMVTP_SAMPLE_PRETRAIN, 70, 16, 4, seed, 0, 1, idx);
        int s = idx[0];
        ck_assert_int_ge(s, 0);
        ck_assert_int_le(s, 6);
        seen[s] = 1;
        for (int k = 0; k < 16; k++) ck_assert_int_eq(idx[k], s + 4 * k);
    }
    for (int s = 0; s <= 6; s++) ck_assert_msg(seen[s], "start %d never drawn", s);
    /* N == 64: the only window. */
    int32_t want64[16];
    for (int k = 0; k < 16; k++) want64[k] = 4 * k;
    sample(SIMVTP_SAMPLE_PRETRAIN, 64, 16, 4, 99, 0, 1, idx);
    expect_indices(idx, want64, 16, "pretrain N=64");
    /* Same seed, same clip; T = 8 (window 32). */
    int32_t a[8], b[8];
    sample(SIMVTP_SAMPLE_PRETRAIN, 1000, 8, 4, 1234, 0, 1, a);
    sample(SIMVTP_SAMPLE_PRETRAIN, 1000, 8, 4, 1234, 0, 1, b);
    expect_indices(a, b, 8, "pretrain determinism");
    ck_assert_int_le(a[0], 1000 - 32);
    for (int k = 0; k < 8; k++) ck_assert_int_eq(a[k], a[0] + 4 * k);
}
END_TEST

START_TEST(test_pretrain_short)
{
    /* Step by 4 from 0 while the next frame is < N-1, then repeat. */
    int32_t idx[16];
    const int32_t n30[16] = {0, 4, 8, 12, 16, 20, 24, 28, 28, 28, 28, 28, 28, 28, 28, 28};
    sample(SIMVTP_SAMPLE_PRETRAIN, 30, 16, 4, 5, 0, 1, idx);
    expect_indices(idx, n30, 16, "pretrain N=30");
    const int32_t n29[16] = {0, 4, 8, 12, 16, 20, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24};
    sample(SIMVTP_SAMPLE_PRETRAIN, 29, 16, 4, 5, 0, 1, idx);
    expect_indices(idx, n29, 16, "pretrain N=29 (frame 28 = N-1 is never stepped onto)");
    const int32_t n9[16] = {0, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4};
    sample(SIMVTP_SAMPLE_PRETRAIN, 9, 16, 4, 5, 0, 1, idx);
    expect_indices(idx, n9, 16, "pretrain N=9");
    const int32_t n63[16] = {0, 4, 8, 12, 16, 20, 24, 28, 32, 36, 40, 44, 48, 52, 56, 60};
    sample(SIMVTP_SAMPLE_PRETRAIN, 63, 16, 4, 5, 0, 1, idx);
    expect_indices(idx, n63, 16, "pretrain N=63");
    const int32_t n1[16] = {0};
    sample(SIMVTP_SAMPLE_PRETRAIN, 1, 16, 4, 5, 0, 1, idx);
    expect_indices(idx, n1, 16, "pretrain N=1");
    /* T = 8, window 32. */
    const int32_t t8n31[8] = {0, 4, 8, 12, 16, 20, 24, 28};
    sample(SIMVTP_SAMPLE_PRETRAIN, 31, 8, 4, 5, 0, 1, idx);
    expect_indices(idx, t8n31, 8, "pretrain T=8 N=31");
    const int32_t t8n14[8] = {0, 4, 8, 12, 12, 12, 12, 12};
    sample(SIMVTP_SAMPLE_PRETRAIN, 14, 8, 4, 5, 0, 1, idx);
    expect_indices(idx, t8n14, 8, "pretrain T=8 N=14");
    const int32_t t8n13[8] = {0, 4, 8, 8, 8, 8, 8, 8};
    sample(SIMVTP_SAMPLE_PRETRAIN, 13, 8, 4, 5, 0, 1, idx);
    expect_indices(idx, t8n13, 8, "pretrain T=8 N=13");
}
END_TEST

START_TEST(test_finetune)
{
    int32_t idx[16];
    /* Long (N > 64): e uniform in [64, N-1], s = e - 64,
     * idx = trunc(min(linspace(s, e, 16), e - 1)); offsets k*64/15 truncated. */
    const int32_t off[16] = {0, 4, 8, 12, 17, 21, 25, 29, 34, 38, 42, 46, 51, 55, 59, 63};
    int seen_lo = 0, seen_hi = 0;
    for (uint64_t seed = 0; seed < 300; seed++) {
        sample(SIMVTP_SAMPLE_FINETUNE, 70, 16, 4, seed, 0, 1, idx);
        int s = idx[0];
        ck_assert_int_ge(s, 0);
        ck_assert_int_le(s, 70 - 64 - 1);
        seen_lo |= s == 0;
        seen_hi |= s == 5;
        for (int k = 0; k < 16; k++) ck_assert_int_eq(idx[k], s + off[k]);
    }
    ck_assert(seen_lo && seen_hi);
    /* N == 64 takes the short branch: linspace(0, 64, 16) clipped to 63. */
    sample(SIMVTP_SAMPLE_FINETUNE, 64, 16, 4, 3, 0, 1, idx);
    expect_indices(idx, off, 16, "finetune N=64");
    /* Short: linspace(0, N, N/4) clipped to N-1, padded with N-1. */
    const int32_t n40[16] = {0, 4, 8, 13, 17, 22, 26, 31, 35, 39, 39, 39, 39, 39, 39, 39};
    sample(SIMVTP_SAMPLE_FINETUNE, 40, 16, 4, 3, 0, 1, idx);
    expect_indices(idx, n40, 16, "finetune N=40");
    const int32_t n5[16] = {0, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4};
    sample(SIMVTP_SAMPLE_FINETUNE, 5, 16, 4, 3, 0, 1, idx);
    expect_indices(idx, n5, 16, "finetune N=5");
    const int32_t n3[16] = {2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2};
    sample(SIMVTP_SAMPLE_FINETUNE, 3, 16, 4, 3, 0, 1, idx);
    expect_indices(idx, n3, 16, "finetune N=3");
    /* T = 8 (window 32). */
    const int32_t t8n20[8] = {0, 5, 10, 15, 19, 19, 19, 19};
    sample(SIMVTP_SAMPLE_FINETUNE, 20, 8, 4, 3, 0, 1, idx);
    expect_indices(idx, t8n20, 8, "finetune T=8 N=20");
    /* T = 8 long: offsets trunc(k*32/7), last clipped to 31. */
    const int32_t off8[8] = {0, 4, 9, 13, 18, 22, 27, 31};
    sample(SIMVTP_SAMPLE_FINETUNE, 500, 8, 4, 77, 0, 1, idx);
    ck_assert_int_le(idx[0], 500 - 32 - 1);
    for (int k = 0; k < 8; k++) ck_assert_int_eq(idx[k], idx[0] + off8[k]);
}
END_TEST

START_TEST(test_test_clips)
{
    int32_t idx[16];
    /* N=100, stride 4: a = 0,4,..,96 (25 entries); starts trunc(k*4.5) = 0, 4, 9. */
    const int starts[3] = {0, 4, 9};
    for (int c = 0; c < 3; c++) {
        int32_t want[16];
        for (int j = 0; j < 16; j++) want[j] = 4 * (starts[c] + j);
        sample(SIMVTP_SAMPLE_TEST, 100, 16, 4, (uint64_t)c * 7, c, 3, idx);
        expect_indices(idx, want, 16, "test N=100");
    }
    /* Short: every 4th frame then the last repeated; all clips alike. */
    const int32_t n30[16] = {0, 4, 8, 12, 16, 20, 24, 28, 28, 28, 28, 28, 28, 28, 28, 28};
    for (int c = 0; c < 3; c++) {
        sample(SIMVTP_SAMPLE_TEST, 30, 16, 4, 0, c, 3, idx);
        expect_indices(idx, n30, 16, "test N=30");
    }
    /* One clip: the start. */
    int32_t want1[16];
    for (int j = 0; j < 16; j++) want1[j] = 4 * j;
    sample(SIMVTP_SAMPLE_TEST, 1000, 16, 4, 0, 0, 1, idx);
    expect_indices(idx, want1, 16, "test K=1");
    /* T = 8, N = 50: a has 13 entries, starts trunc(k*2.5) = 0, 2, 5. */
    const int32_t t8c1[8] = {8, 12, 16, 20, 24, 28, 32, 36};
    const int32_t t8c2[8] = {20, 24, 28, 32, 36, 40, 44, 48};
    sample(SIMVTP_SAMPLE_TEST, 50, 8, 4, 0, 1, 3, idx);
    expect_indices(idx, t8c1, 8, "test T=8 clip 1");
    sample(SIMVTP_SAMPLE_TEST, 50, 8, 4, 0, 2, 3, idx);
    expect_indices(idx, t8c2, 8, "test T=8 clip 2");
}
END_TEST

START_TEST(test_sampling_args)
{
    int32_t idx[16];
    EXPECT(simvtp_sample_frames(SIMVTP_SAMPLE_PRETRAIN, 10, 16, 4, 0, 0, 1, NULL),
           SIMVTP_ERR_INVALID_ARG);
    EXPECT(simvtp_sample_frames(7, 10, 16, 4, 0, 0, 1, idx), SIMVTP_ERR_INVALID_ARG);
    EXPECT(simvtp_sample_frames(SIMVTP_SAMPLE_PRETRAIN, 0, 16, 4, 0, 0, 1, idx),
           SIMVTP_ERR_INVALID_ARG);
    EXPECT(simvtp_sample_frames(SIMVTP_SAMPLE_FINETUNE, 10, 0, 4, 0, 0, 1, idx),
           SIMVTP_ERR_INVALID_ARG);
    EXPECT(simvtp_sample_frames(SIMVTP_SAMPLE_FINETUNE, 10, 16, 0, 0, 0, 1, idx),
           SIMVTP_ERR_INVALID_ARG);
    EXPECT(simvtp_sample_frames(SIMVTP_SAMPLE_TEST, 10, 16, 4, 0, 3, 3, idx),
           SIMVTP_ERR_INVALID_ARG);
    EXPECT(simvtp_sample_frames(SIMVTP_SAMPLE_TEST, 10, 16, 4, 0, 0, 0, idx),
           SIMVTP_ERR_INVALID_ARG);
    EXPECT(simvtp_sample_frames(SIMVTP_SAMPLE_PRETRAIN, 10, 1 << 20, 1 << 12, 0, 0, 1, idx),
           SIMVTP_ERR_INVALID_ARG);
    EXPECT(simvtp_sample_frames(SIMVTP_SAMPLE_TEST, 10, 16, 4, 0, 2, 3, idx), SIMVTP_OK);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Crops                                                                    */
/* ------------------------------------------------------------------------ */

static uint8_t *gradient(int w, int h, int n)
{
    /* R = x, G = y, B = 10 * frame: linear, so bilinear samples are exact. */
    uint8_t *img = malloc((size_t)w * h * 3 * n);
    ck_assert_ptr_nonnull(img);
    for (int t = 0; t < n; t++)
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                uint8_t *p = img + (((size_t)t * h + y) * w + x) * 3;
                p[0] = (uint8_t)x;
                p[1] = (uint8_t)y;
                p[2] = (uint8_t)(10 * t);
            }
    return img;
}

static const uint8_t *px(const uint8_t *img, int w, int h, int t, int x, int y)
{
    return img + (((size_t)t * h + y) * w + x) * 3;
}

static void crop(const uint8_t *in, int n, int iw, int ih, int mode, int index, uint64_t seed,
                 int ow, int oh, uint8_t *out)
{
    int rc = simvtp_crop_frames(in, n, iw, ih, mode, index, seed, ow, oh, out);
    ck_assert_msg(rc == SIMVTP_OK, "crop mode %d failed: %s", mode, simvtp_last_error());
}

START_TEST(test_crop_center_three_exact)
{
    /* 10x4 -> 4x4: no resize (short side already 4); CENTER takes columns
     * round_half_even(6/2) = 3..6, THREE columns 0..3, 3..6, 6..9. */
    uint8_t *img = gradient(10, 4, 2);
    uint8_t out[2 * 4 * 4 * 3];
    crop(img, 2, 10, 4, SIMVTP_CROP_CENTER, 0, 0, 4, 4, out);
    for (int t = 0; t < 2; t++)
        for (int y = 0; y < 4; y++)
            for (int x = 0; x < 4; x++)
                ck_assert_mem_eq(px(out, 4, 4, t, x, y), px(img, 10, 4, t, x + 3, y), 3);
    const int starts[3] = {0, 3, 6};
    for (int k = 0; k < 3; k++) {
        crop(img, 2, 10, 4, SIMVTP_CROP_THREE, k, 0, 4, 4, out);
        for (int t = 0; t < 2; t++)
            for (int y = 0; y < 4; y++)
                for (int x = 0; x < 4; x++)
                    ck_assert_mem_eq(px(out, 4, 4, t, x, y), px(img, 10, 4, t, x + starts[k], y),
                                     3);
    }
    free(img);
    /* Portrait 4x9 -> 4x4: CENTER rows round_half_even(2.5) = 2..5; THREE rows
     * trunc(k * 2.5) = 0, 2, 5. */
    img = gradient(4, 9, 1);
    crop(img, 1, 4, 9, SIMVTP_CROP_CENTER, 0, 0, 4, 4, out);
    for (int y = 0; y < 4; y++)
        for (int x = 0; x < 4; x++) ck_assert_mem_eq(px(out, 4, 4, 0, x, y), px(img, 4, 9, 0, x, y + 2), 3);
    const int rows[3] = {0, 2, 5};
    for (int k = 0; k < 3; k++) {
        crop(img, 1, 4, 9, SIMVTP_CROP_THREE, k, 0, 4, 4, out);
        for (int y = 0; y < 4; y++)
            for (int x = 0; x < 4; x++)
                ck_assert_mem_eq(px(out, 4, 4, 0, x, y), px(img, 4, 9, 0, x, y + rows[k]), 3);
    }
    free(img);
}
END_TEST

START_TEST(test_crop_bilinear_values)
{
    /* Upscale 2x2 -> 4x4: half-pixel centres sample -0.25, 0.25, 0.75, 1.25,
     * clamped to [0, 1]: 0, 25, 75, 100 for end values 0 and 100. */
    const uint8_t tiny[2 * 2 * 3] = {0, 0, 50, 100, 0, 50, 0, 100, 50, 100, 100, 50};
    uint8_t out[4 * 4 * 3];
    const int ramp[4] = {0, 25, 75, 100};
    crop(tiny, 1, 2, 2, SIMVTP_CROP_CENTER, 0, 0, 4, 4, out);
    for (int y = 0; y < 4; y++)
        for (int x = 0; x < 4; x++) {
            const uint8_t *p = px(out, 4, 4, 0, x, y);
            ck_assert_int_eq(p[0], ramp[x]);
            ck_assert_int_eq(p[1], ramp[y]);
            ck_assert_int_eq(p[2], 50);
        }
    /* Downscale 16x8 -> 4x4 (resized to 8x4, centre columns 2..5): each output
     * is the mean of a 2x2 block, rounded half up. */
    uint8_t img[16 * 8 * 3];
    for (int y = 0; y < 8; y++)
        for (int x = 0; x < 16; x++)
            for (int c = 0; c < 3; c++)
                img[(y * 16 + x) * 3 + c] = (uint8_t)((x * 37 + y * 11 + c * 5) % 251);
    crop(img, 1, 16, 8, SIMVTP_CROP_CENTER, 0, 0, 4, 4, out);
    for (int y = 0; y < 4; y++)
        for (int x = 0; x < 4; x++)
            for (int c = 0; c < 3; c++) {
                int sx = 2 * (x + 2), sy = 2 * y, sum = 0;
                for (int dy = 0; dy < 2; dy++)
                    for (int dx = 0; dx < 2; dx++) sum += img[((sy + dy) * 16 + sx + dx) * 3 + c];
                ck_assert_int_eq(out[(y * 4 + x) * 3 + c], (sum + 2) / 4);
            }
}
END_TEST

/* Source position of output coordinate d for a box [x0, x0+cw) resized to n. */
static double src_pos(int x0, int cw, int n, int d)
{
    double s = x0 + (d + 0.5) * cw / n - 0.5;
    if (s < x0) s = x0;
    if (s > x0 + cw - 1) s = x0 + cw - 1;
    return s;
}

START_TEST(test_crop_multiscale)
{
    /* 256x200 gradient -> 112x112. base 200: crops 200, 175, 150, 132 (no
     * snapping to 112); w steps (256-c)/4, h steps (200-c)/4. Each output's
     * corners identify the box; all 10 pairs and all 13 offsets must occur. */
    const int W = 256, H = 200, O = 112;
    const int c[4] = {200, 175, 150, 132};
    const int grid[13][2] = {{0, 0}, {4, 0}, {0, 4}, {4, 4}, {2, 2}, {0, 2}, {4, 2},
                             {2, 4}, {2, 0}, {1, 1}, {3, 1}, {1, 3}, {3, 3}};
    uint8_t *img = gradient(W, H, 2);
    uint8_t *out = malloc((size_t)O * O * 3 * 2);
    ck_assert_ptr_nonnull(out);
    int pair_hits[4][4] = {{0}}, grid_hits[13] = {0};
    for (uint64_t seed = 0; seed < 1500; seed++) {
        crop(img, 2, W, H, SIMVTP_CROP_MULTISCALE, 0, seed, O, O, out);
        int r0 = px(out, O, O, 0, 0, 0)[0], r1 = px(out, O, O, 0, O - 1, 0)[0];
        int g0 = px(out, O, O, 0, 0, 0)[1], g1 = px(out, O, O, 0, 0, O - 1)[1];
        int matches = 0, mi = -1, mj = -1, mg = -1, same_pair = 1;
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 4; j++) {
                if (abs(i - j) > 1) continue;
                int cw = c[j], ch = c[i], ws = (W - cw) / 4, hs = (H - ch) / 4;
                for (int g = 0; g < 13; g++) {
                    int x0 = grid[g][0] * ws, y0 = grid[g][1] * hs;
                    if (fabs(src_pos(x0, cw, O, 0) - r0) <= 1 &&
                        fabs(src_pos(x0, cw, O, O - 1) - r1) <= 1 &&
                        fabs(src_pos(y0, ch, O, 0) - g0) <= 1 &&
                        fabs(src_pos(y0, ch, O, O - 1) - g1) <= 1) {
                        if (matches > 0 && (mi != i || mj != j)) same_pair = 0;
                        matches++;
                        mi = i;
                        mj = j;
                        mg = g;
                    }
                }
            }
        ck_assert_msg(matches >= 1, "seed %llu: box matches no allowed (pair, offset): "
                      "R %d..%d G %d..%d", (unsigned long long)seed, r0, r1, g0, g1);
        ck_assert_msg(same_pair, "seed %llu: ambiguous crop size", (unsigned long long)seed);
        pair_hits[mi][mj]++;
        if (matches == 1) grid_hits[mg]++;
        /* Same box in every frame; frame 1 differs only in B. */
        for (int y = 0; y < O; y += 37)
            for (int x = 0; x < O; x += 29) {
                ck_assert_mem_eq(px(out, O, O, 0, x, y), px(out, O, O, 1, x, y), 2);
                ck_assert_int_eq(px(out, O, O, 1, x, y)[2], 10);
            }
    }
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++)
            if (abs(i - j) <= 1) ck_assert_msg(pair_hits[i][j] > 0, "pair (%d,%d) never drawn", i, j);
            else ck_assert_int_eq(pair_hits[i][j], 0);
    for (int g = 0; g < 13; g++) ck_assert_msg(grid_hits[g] > 0, "offset %d never drawn", g);
    free(img);
    free(out);
}
END_TEST

START_TEST(test_crop_multiscale_snap)
{
    /* 256x256 -> 224: crops 256, 224, 192, 168 and |224-224| < 3 snaps; a crop
     * of exactly 224 at a grid offset is a plain copy of the box. */
    uint8_t *img = gradient(256, 256, 1);
    uint8_t *out = malloc(224 * 224 * 3);
    ck_assert_ptr_nonnull(out);
    int copies = 0;
    for (uint64_t seed = 0; seed < 200; seed++) {
        crop(img, 1, 256, 256, SIMVTP_CROP_MULTISCALE, 0, seed, 224, 224, out);
        int x0 = px(out, 224, 224, 0, 0, 0)[0], y0 = px(out, 224, 224, 0, 0, 0)[1];
        if (px(out, 224, 224, 0, 223, 223)[0] - x0 == 223 &&
            px(out, 224, 224, 0, 223, 223)[1] - y0 == 223) {
            copies++;
            ck_assert_int_eq(x0 % 8, 0); /* (256-224)/4 = 8 */
            ck_assert_int_eq(y0 % 8, 0);
            for (int y = 0; y < 224; y += 13)
                for (int x = 0; x < 224; x += 11)
                    ck_assert_mem_eq(px(out, 224, 224, 0, x, y), px(img, 256, 256, 0, x + x0, y + y0), 3);
        }
    }
    ck_assert_int_gt(copies, 0);
    free(img);
    free(out);
}
END_TEST

START_TEST(test_crop_random_resized)
{
    const int W = 256, H = 200, O = 64;
    uint8_t *img = gradient(W, H, 2);
    uint8_t *out = malloc((size_t)O * O * 3 * 2), *again = malloc((size_t)O * O * 3 * 2);
    ck_assert_ptr_nonnull(out);
    ck_assert_ptr_nonnull(again);
    int flips = 0, N = 600;
    double min_area = 1, max_area = 0;
    for (uint64_t seed = 0; seed < (uint64_t)N; seed++) {
        crop(img, 2, W, H, SIMVTP_CROP_RANDOM_RESIZED, 0, seed, O, O, out);
        crop(img, 2, W, H, SIMVTP_CROP_RANDOM_RESIZED, 0, seed, O, O, again);
        ck_assert_mem_eq(out, again, (size_t)O * O * 3 * 2);
        int rl = px(out, O, O, 0, 0, 0)[0], rr = px(out, O, O, 0, O - 1, 0)[0];
        int flipped = rl > rr;
        flips += flipped;
        /* Rows are monotone in R (decreasing when flipped), columns in G. */
        for (int x = 1; x < O; x++) {
            int a = px(out, O, O, 0, x - 1, 5)[0], b = px(out, O, O, 0, x, 5)[0];
            ck_assert(flipped ? b <= a : b >= a);
            ck_assert_int_eq(px(out, O, O, 0, x, 5)[1], px(out, O, O, 0, 0, 5)[1]);
        }
        for (int y = 1; y < O; y++)
            ck_assert_int_ge(px(out, O, O, 0, 7, y)[1], px(out, O, O, 0, 7, y - 1)[1]);
        /* Box size from the spans (each end within a pixel): area fraction in
         * [0.08, 1] and aspect in [3/4, 4/3], with slack for the estimate. */
        int lo = flipped ? rr : rl, hi = flipped ? rl : rr;
        int gt = px(out, O, O, 0, 0, 0)[1], gb = px(out, O, O, 0, 0, O - 1)[1];
        double cw = (hi - lo) * (double)O / (O - 1), ch = (gb - gt) * (double)O / (O - 1);
        double area = cw * ch / (W * H), ratio = cw / ch;
        if (area < min_area) min_area = area;
        if (area > max_area) max_area = area;
        ck_assert_msg(area > 0.05 && area <= 1.02, "seed %llu: area %.3f", (unsigned long long)seed, area);
        ck_assert_msg(ratio > 0.65 && ratio < 1.5, "seed %llu: ratio %.3f", (unsigned long long)seed, ratio);
        ck_assert_int_eq(px(out, O, O, 1, 9, 9)[2], 10);
        ck_assert_mem_eq(px(out, O, O, 0, 9, 9), px(out, O, O, 1, 9, 9), 2);
    }
    ck_assert_msg(flips > N * 2 / 5 && flips < N * 3 / 5, "%d flips of %d", flips, N);
    ck_assert(min_area < 0.2 && max_area > 0.7);
    free(img);
    free(out);
    free(again);
}
END_TEST

START_TEST(test_crop_args)
{
    uint8_t in[4 * 4 * 3] = {0}, out[4 * 4 * 3];
    EXPECT(simvtp_crop_frames(NULL, 1, 4, 4, SIMVTP_CROP_CENTER, 0, 0, 4, 4, out), SIMVTP_ERR_INVALID_ARG);
    EXPECT(simvtp_crop_frames(in, 1, 4, 4, SIMVTP_CROP_CENTER, 0, 0, 4, 4, NULL), SIMVTP_ERR_INVALID_ARG);
    EXPECT(simvtp_crop_frames(in, -1, 4, 4, SIMVTP_CROP_CENTER, 0, 0, 4, 4, out), SIMVTP_ERR_INVALID_ARG);
    EXPECT(simvtp_crop_frames(in, 1, 0, 4, SIMVTP_CROP_CENTER, 0, 0, 4, 4, out), SIMVTP_ERR_INVALID_ARG);
    EXPECT(simvtp_crop_frames(in, 1, 4, 4, SIMVTP_CROP_CENTER, 0, 0, 0, 4, out), SIMVTP_ERR_INVALID_ARG);
    EXPECT(simvtp_crop_frames(in, 1, 4, 4, 9, 0, 0, 4, 4, out), SIMVTP_ERR_INVALID_ARG);
    EXPECT(simvtp_crop_frames(in, 1, 4, 4, SIMVTP_CROP_THREE, 3, 0, 4, 4, out), SIMVTP_ERR_INVALID_ARG);
    EXPECT(simvtp_crop_frames(in, 0, 4, 4, SIMVTP_CROP_THREE, 2, 0, 4, 4, out), SIMVTP_OK);
    /* Tiny inputs and outputs stay in bounds. */
    EXPECT(simvtp_crop_frames(in, 1, 1, 1, SIMVTP_CROP_MULTISCALE, 0, 5, 4, 4, out), SIMVTP_OK);
    EXPECT(simvtp_crop_frames(in, 1, 3, 2, SIMVTP_CROP_RANDOM_RESIZED, 0, 5, 1, 1, out), SIMVTP_OK);
}
END_TEST

static Suite *rules_suite(void)
{
    Suite *s = suite_create("video-rules");
    TCase *tc = tcase_create("sampling");
    tcase_add_test(tc, test_pretrain_long);
    tcase_add_test(tc, test_pretrain_short);
    tcase_add_test(tc, test_finetune);
    tcase_add_test(tc, test_test_clips);
    tcase_add_test(tc, test_sampling_args);
    suite_add_tcase(s, tc);
    tc = tcase_create("crop");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_crop_center_three_exact);
    tcase_add_test(tc, test_crop_bilinear_values);
    tcase_add_test(tc, test_crop_multiscale);
    tcase_add_test(tc, test_crop_multiscale_snap);
    tcase_add_test(tc, test_crop_random_resized);
    tcase_add_test(tc, test_crop_args);
    suite_add_tcase(s, tc);
    return s;
}

/* ------------------------------------------------------------------------ */
/* Decoding against the CLIs                                                */
/* ------------------------------------------------------------------------ */

typedef struct test_video {
    const char *name;
    const char *args; /* ffmpeg arguments between the input and the output */
} test_video;

/* lavfi sources are made with `-f lavfi -i <src>`; odd sizes through rgb24. */
static const struct {
    const char *name, *src, *args;
} k_videos[] = {
    {"h264.mp4", "testsrc2=size=96x64:rate=25", "-frames:v 50 -c:v libx264 -pix_fmt yuv420p"},
    {"gop12.mp4", "testsrc2=size=96x64:rate=25",
     "-frames:v 120 -c:v libx264 -g 12 -bf 3 -pix_fmt yuv420p -colorspace bt709 "
     "-color_primaries bt709 -color_trc bt709"},
    {"opengop.mkv", "testsrc2=size=96x64:rate=25",
     "-frames:v 120 -c:v libx264 -g 10 -bf 3 -x264-params open-gop=1 -pix_fmt yuv420p "
     "-color_range pc"},
    {"mpeg4.avi", "testsrc2=size=96x64:rate=25", "-frames:v 40 -c:v mpeg4 -q:v 3"},
    {"mpeg4b.mkv", "testsrc2=size=80x60:rate=30", "-frames:v 45 -c:v mpeg4 -bf 2 -g 15"},
    {"odd444.mkv", "testsrc2=size=98x62:rate=25",
     "-vf format=rgb24,crop=97:61:0:0 -frames:v 30 -c:v libx264 -pix_fmt yuv444p"},
    {"oddffv1.mkv", "testsrc2=size=98x62:rate=25",
     "-vf format=rgb24,crop=97:61:0:0 -frames:v 30 -c:v ffv1 -pix_fmt yuv420p"},
    {"oddmjpeg.avi", "testsrc2=size=98x62:rate=25",
     "-vf format=rgb24,crop=97:61:0:0 -frames:v 24 -c:v mjpeg -pix_fmt yuvj420p"},
    /* no container timestamps: frames are found by counting from the start */
    {"raw.h264", "testsrc2=size=96x64:rate=25",
     "-frames:v 60 -c:v libx264 -g 12 -bf 2 -pix_fmt yuv420p -f h264"},
    /* MPEG-TS: seeks land off keyframes, so this one counts too */
    {"h264.ts", "testsrc2=size=96x64:rate=25", "-frames:v 60 -c:v libx264 -g 12 -pix_fmt yuv420p"},
    /* VP9 in WebM: hidden alt-ref frames inside superframes */
    {"vp9.webm", "testsrc2=size=96x64:rate=25",
     "-frames:v 60 -c:v libvpx-vp9 -g 20 -deadline realtime -cpu-used 8"},
};
#define N_VIDEOS ((int)(sizeof k_videos / sizeof k_videos[0]))

static int g_have_video = 1; /* libsimvtp built with FFmpeg */

static void vpath(char *out, size_t n, const char *name) { tmp_path(out, n, name); }

/* ffprobe's view: frames decoded (-count_frames), width, height. */
static void probe(const char *path, int *frames, int *w, int *h)
{
    size_t n;
    unsigned char *txt = capture(&n, "'%s' -v error -count_frames -select_streams v:0 "
                                 "-show_entries stream=width,height,nb_read_frames "
                                 "-of csv=p=0 '%s'", g_ffprobe, path);
    ck_assert_msg(sscanf((char *)txt, "%d,%d,%d", w, h, frames) == 3, "ffprobe said '%s'", txt);
    free(txt);
}

/* Every frame as the CLI decodes it (RGB24, no frame-rate conversion). */
static unsigned char *cli_all_frames(const char *path, const char *vf, size_t *n)
{
    return capture(n, "'%s' -v error -threads 1 -i '%s' %s%s%s -vsync 0 -f rawvideo "
                   "-pix_fmt rgb24 -", g_ffmpeg, path, vf ? "-vf '" : "", vf ? vf : "",
                   vf ? "'" : "");
}

static simvtp_video *open_ok(const char *path, simvtp_video_info *info)
{
    simvtp_video *v = NULL;
    int rc = simvtp_video_open(path, &v);
    ck_assert_msg(rc == SIMVTP_OK, "open %s: %s %s", path, simvtp_strerror(rc),
                  simvtp_last_error());
    info->size = sizeof *info;
    EXPECT(simvtp_video_get_info(v, info), SIMVTP_OK);
    return v;
}

static void compare_frames(const uint8_t *got, const uint8_t *want, size_t bytes, const char *what,
                           int pos, int index)
{
    if (memcmp(got, want, bytes) == 0) return;
    size_t first = 0;
    int maxd = 0;
    for (size_t i = 0; i < bytes; i++) {
        int d = abs((int)got[i] - (int)want[i]);
        if (d && !maxd) first = i;
        if (d > maxd) maxd = d;
    }
    ck_abort_msg("%s: position %d (frame %d) differs from the CLI: max |diff| %d, first at "
                 "byte %zu", what, pos, index, maxd, first);
}

START_TEST(test_count_matches_ffprobe)
{
    char path[PATH_MAX];
    vpath(path, sizeof path, k_videos[_i].name);
    int frames, w, h;
    probe(path, &frames, &w, &h);
    simvtp_video_info info;
    simvtp_video *v = open_ok(path, &info);
    ck_assert_msg(info.frames == frames, "%s: %d frames, ffprobe counts %d", path, info.frames,
                  frames);
    ck_assert_int_eq(info.width, w);
    ck_assert_int_eq(info.height, h);
    ck_assert(info.fps > 20 && info.fps < 31);
    ck_assert(info.duration == 0 || (info.duration > 0.5 && info.duration < 6)); /* raw: 0 */
    simvtp_video_close(v);
}
END_TEST

START_TEST(test_select_exact)
{
    /* The brief's reference: ffmpeg -vf "select=eq(n\,i)+..." -vsync 0 rgb24. */
    char path[PATH_MAX];
    vpath(path, sizeof path, k_videos[_i].name);
    simvtp_video_info info;
    simvtp_video *v = open_ok(path, &info);
    int32_t idx[4] = {0, 17, (17 + info.frames - 1) / 2, info.frames - 1}; /* increasing */
    ck_assert_int_ge(info.frames, 20);
    size_t fb = (size_t)info.width * info.height * 3, n;
    char sel[256];
    snprintf(sel, sizeof sel, "select=eq(n\\,%d)+eq(n\\,%d)+eq(n\\,%d)+eq(n\\,%d)", idx[0],
             idx[1], idx[2], idx[3]);
    unsigned char *ref = cli_all_frames(path, sel, &n);
    ck_assert_uint_eq(n, 4 * fb);
    uint8_t *rgb = malloc(4 * fb);
    ck_assert_ptr_nonnull(rgb);
    EXPECT(simvtp_video_decode(v, idx, 4, rgb), SIMVTP_OK);
    for (int i = 0; i < 4; i++) compare_frames(rgb + i * fb, ref + i * fb, fb, path, i, idx[i]);
    free(rgb);
    free(ref);
    simvtp_video_close(v);
}
END_TEST

/* Decodes `idx` and checks each position against the CLI's frame. */
static void check_decode(simvtp_video *v, const simvtp_video_info *info, const unsigned char *ref,
                         const int32_t *idx, int n, const char *what)
{
    size_t fb = (size_t)info->width * info->height * 3;
    uint8_t *rgb = malloc(fb * (size_t)n);
    ck_assert_ptr_nonnull(rgb);
    int rc = simvtp_video_decode(v, idx, n, rgb);
    ck_assert_msg(rc == SIMVTP_OK, "%s: %s", what, simvtp_last_error());
    for (int i = 0; i < n; i++) compare_frames(rgb + i * fb, ref + idx[i] * fb, fb, what, i, idx[i]);
    free(rgb);
}

START_TEST(test_all_frames_and_orders)
{
    char path[PATH_MAX];
    vpath(path, sizeof path, k_videos[_i].name);
    simvtp_video_info info;
    simvtp_video *v = open_ok(path, &info);
    size_t fb = (size_t)info.width * info.height * 3, n;
    unsigned char *ref = cli_all_frames(path, NULL, &n);
    ck_assert_uint_eq(n, fb * (size_t)info.frames);

    int F = info.frames;
    int32_t *idx = malloc(sizeof(int32_t) * (size_t)(3 * F));
    ck_assert_ptr_nonnull(idx);
    /* 1. every frame in order */
    for (int i = 0; i < F; i++) idx[i] = i;
    check_decode(v, &info, ref, idx, F, "all frames");
    /* 2. backwards, one call per frame (a seek each time) */
    for (int i = F - 1; i >= 0; i -= 7) check_decode(v, &info, ref, &idx[i], 1, "backward");
    /* 3. random order with repeats, several calls on the same handle */
    uint64_t s = 0x9E3779B97F4A7C15ull * (uint64_t)(_i + 1);
    for (int round = 0; round < 6; round++) {
        int m = 1 + (int)(s % 24);
        for (int i = 0; i < m; i++) {
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            idx[i] = (int32_t)((s >> 33) % (uint64_t)F);
            if (i > 0 && (s >> 20) % 4 == 0) idx[i] = idx[i - 1]; /* repeat */
        }
        check_decode(v, &info, ref, idx, m, "random order");
    }
    /* 4. a training clip, then the same clip again (backward to its start) */
    simvtp_sample_frames(SIMVTP_SAMPLE_PRETRAIN, F, 8, 4, 11, 0, 1, idx);
    check_decode(v, &info, ref, idx, 8, "pretrain clip");
    check_decode(v, &info, ref, idx, 8, "pretrain clip again");
    free(idx);
    free(ref);
    simvtp_video_close(v);
}
END_TEST

START_TEST(test_scaled_exact)
{
    char path[PATH_MAX];
    vpath(path, sizeof path, k_videos[_i].name);
    simvtp_video_info info;
    simvtp_video *v = open_ok(path, &info);
    const int sides[2] = {48, 33};
    for (int k = 0; k < 2; k++) {
        int w = -1, h = -1, S = sides[k];
        EXPECT(simvtp_video_decode_scaled(v, NULL, 0, S, NULL, &w, &h), SIMVTP_OK);
        int sw = info.width <= info.height ? info.width : info.height;
        int lw = info.width <= info.height ? info.height : info.width;
        int want_long = (int)((int64_t)lw * S / sw);
        ck_assert_int_eq(info.width <= info.height ? w : h, S);
        ck_assert_int_eq(info.width <= info.height ? h : w, want_long);
        char vf[128];
        snprintf(vf, sizeof vf, "scale=%d:%d:flags=bilinear", w, h);
        size_t n, fb = (size_t)w * h * 3;
        unsigned char *ref = cli_all_frames(path, vf, &n);
        ck_assert_uint_eq(n, fb * (size_t)info.frames);
        int32_t idx[5] = {info.frames - 1, 3, 3, 0, info.frames / 2};
        uint8_t *rgb = malloc(5 * fb);
        ck_assert_ptr_nonnull(rgb);
        int ow = 0, oh = 0;
        EXPECT(simvtp_video_decode_scaled(v, idx, 5, S, rgb, &ow, &oh), SIMVTP_OK);
        ck_assert_int_eq(ow, w);
        ck_assert_int_eq(oh, h);
        for (int i = 0; i < 5; i++)
            compare_frames(rgb + i * fb, ref + (size_t)idx[i] * fb, fb, vf, i, idx[i]);
        free(rgb);
        free(ref);
    }
    simvtp_video_close(v);
}
END_TEST

START_TEST(test_decode_args)
{
    char path[PATH_MAX];
    vpath(path, sizeof path, k_videos[0].name);
    simvtp_video_info info;
    simvtp_video *v = open_ok(path, &info);
    uint8_t *rgb = malloc((size_t)info.width * info.height * 3 * 2);
    ck_assert_ptr_nonnull(rgb);
    int32_t bad[2] = {0, info.frames};
    EXPECT(simvtp_video_decode(v, bad, 2, rgb), SIMVTP_ERR_INVALID_ARG);
    bad[1] = -1;
    EXPECT(simvtp_video_decode(v, bad, 2, rgb), SIMVTP_ERR_INVALID_ARG);
    EXPECT(simvtp_video_decode(v, NULL, 1, rgb), SIMVTP_ERR_INVALID_ARG);
    EXPECT(simvtp_video_decode(NULL, bad, 1, rgb), SIMVTP_ERR_INVALID_ARG);
    EXPECT(simvtp_video_decode(v, bad, -1, rgb), SIMVTP_ERR_INVALID_ARG);
    EXPECT(simvtp_video_decode(v, bad, 0, rgb), SIMVTP_OK);
    int w, h;
    bad[1] = info.frames + 5;
    EXPECT(simvtp_video_decode_scaled(v, bad, 2, 32, rgb, &w, &h), SIMVTP_ERR_INVALID_ARG);
    EXPECT(simvtp_video_decode_scaled(v, bad, 1, 0, rgb, &w, &h), SIMVTP_ERR_INVALID_ARG);
    EXPECT(simvtp_video_decode_scaled(v, bad, 1, 32, rgb, NULL, &h), SIMVTP_ERR_INVALID_ARG);
    simvtp_video_info small = {sizeof small - 1};
    EXPECT(simvtp_video_get_info(v, &small), SIMVTP_ERR_INVALID_ARG);
    EXPECT(simvtp_video_get_info(v, NULL), SIMVTP_ERR_INVALID_ARG);
    simvtp_video *none = NULL;
    EXPECT(simvtp_video_open(NULL, &none), SIMVTP_ERR_INVALID_ARG);
    EXPECT(simvtp_video_open(path, NULL), SIMVTP_ERR_INVALID_ARG);
    /* The handle still works after the rejected calls. */
    bad[0] = info.frames - 1;
    EXPECT(simvtp_video_decode(v, bad, 1, rgb), SIMVTP_OK);
    simvtp_video_close(v);
    simvtp_video_close(NULL);
    free(rgb);
}
END_TEST

/* Opening fails with `want`, or (when want2 != 0) opening succeeds but
 * decoding every frame fails with want2; the detail names the file. */
static void expect_bad(const char *name, int want, int want2)
{
    char path[PATH_MAX];
    vpath(path, sizeof path, name);
    simvtp_video *v = (simvtp_video *)1;
    int rc = simvtp_video_open(path, &v);
    if (rc == SIMVTP_OK && want2) {
        simvtp_video_info info;
        info.size = sizeof info;
        EXPECT(simvtp_video_get_info(v, &info), SIMVTP_OK);
        int32_t *idx = malloc(sizeof(int32_t) * (size_t)info.frames);
        uint8_t *rgb = malloc((size_t)info.width * info.height * 3 * info.frames);
        ck_assert(idx && rgb);
        for (int i = 0; i < info.frames; i++) idx[i] = i;
        rc = simvtp_video_decode(v, idx, info.frames, rgb);
        free(idx);
        free(rgb);
        simvtp_video_close(v);
        expect_status(rc, want2, name);
    } else {
        expect_status(rc, want, name);
        ck_assert_ptr_null(v);
    }
    ck_assert_msg(strstr(simvtp_last_error(), name) != NULL, "%s: the detail \"%s\" does not "
                  "name the file", name, simvtp_last_error());
}

START_TEST(test_bad_inputs)
{
    expect_bad("missing.mp4", SIMVTP_ERR_IO, 0);
    expect_bad("text.mp4", SIMVTP_ERR_FORMAT, 0);
    expect_bad("empty.mp4", SIMVTP_ERR_FORMAT, 0);
    expect_bad("audio.m4a", SIMVTP_ERR_FORMAT, 0);
    ck_assert_ptr_nonnull(strstr(simvtp_last_error(), "no video stream"));
    expect_bad("cut.mp4", SIMVTP_ERR_FORMAT, 0);          /* moov at the end: gone */
    expect_bad("cutfast.mp4", SIMVTP_ERR_FORMAT, SIMVTP_ERR_FORMAT); /* moov first */
    expect_bad("cutfast90.mp4", SIMVTP_ERR_FORMAT, SIMVTP_ERR_FORMAT);
    expect_bad("cut.avi", SIMVTP_ERR_FORMAT, SIMVTP_ERR_FORMAT);
    expect_bad("unknown.avi", SIMVTP_ERR_UNSUPPORTED, 0); /* FMP4 fourcc patched */
    expect_bad("dir.mp4", SIMVTP_ERR_IO, 0);
}
END_TEST

START_TEST(test_no_ffmpeg_build)
{
    /* Built without FFmpeg: the calls link and say so. */
    simvtp_video *v = (simvtp_video *)1;
    EXPECT(simvtp_video_open("whatever.mp4", &v), SIMVTP_ERR_UNSUPPORTED);
    ck_assert_ptr_null(v);
    int32_t i = 0;
    uint8_t px3[3];
    int w, h;
    EXPECT(simvtp_video_decode(NULL, &i, 1, px3), SIMVTP_ERR_UNSUPPORTED);
    EXPECT(simvtp_video_decode_scaled(NULL, &i, 1, 8, px3, &w, &h), SIMVTP_ERR_UNSUPPORTED);
    simvtp_video_close(NULL);
}
END_TEST

static Suite *decode_suite(void)
{
    Suite *s = suite_create("video-decode");
    TCase *tc = tcase_create("decode");
    tcase_set_timeout(tc, 120);
    if (!g_have_video) {
        tcase_add_test(tc, test_no_ffmpeg_build);
    } else {
        tcase_add_loop_test(tc, test_count_matches_ffprobe, 0, N_VIDEOS);
        tcase_add_loop_test(tc, test_select_exact, 0, N_VIDEOS);
        tcase_add_loop_test(tc, test_all_frames_and_orders, 0, N_VIDEOS);
        tcase_add_loop_test(tc, test_scaled_exact, 0, N_VIDEOS);
        tcase_add_test(tc, test_decode_args);
        tcase_add_test(tc, test_bad_inputs);
    }
    suite_add_tcase(s, tc);
    return s;
}

/* Setup-time file helpers (no Check asserts outside a test). */
static unsigned char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = len >= 0 ? malloc((size_t)len + 1) : NULL;
    if (buf && fread(buf, 1, (size_t)len, f) != (size_t)len) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    *n = buf ? (size_t)len : 0;
    return buf;
}

static int spill(const char *path, const void *buf, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t put = n ? fwrite(buf, 1, n, f) : 0;
    return fclose(f) == 0 && put == n ? 0 : -1;
}

/* out = tmpdir/name; -1 when it does not fit. */
static int join_tmp(char *out, size_t n, const char *name)
{
    int len = snprintf(out, n, "%s/%s", g_tmpdir, name);
    return len > 0 && (size_t)len < n ? 0 : -1;
}

/* Makes the videos (and the damaged files) once, before the forked tests. */
static int make_videos(void)
{
    char path[PATH_MAX], src[PATH_MAX];
    for (int i = 0; i < N_VIDEOS; i++) {
        if (join_tmp(path, sizeof path, k_videos[i].name) != 0) return -1;
        if (run("'%s' -v error -nostdin -y -f lavfi -i '%s' %s '%s'", g_ffmpeg, k_videos[i].src,
                k_videos[i].args, path) != 0) {
            fprintf(stderr, "test_video: ffmpeg could not make %s (an encoder missing?)\n",
                    k_videos[i].name);
            return -2;
        }
    }
    /* The same h264 clip with its index first (faststart), for truncation. */
    if (join_tmp(src, sizeof src, "fast.mp4") != 0) return -1;
    if (run("'%s' -v error -nostdin -y -f lavfi -i testsrc2=size=96x64:rate=25 -frames:v 50 "
            "-c:v libx264 -pix_fmt yuv420p -movflags +faststart '%s'", g_ffmpeg, src) != 0)
        return -1;
    if (join_tmp(path, sizeof path, "audio.m4a") != 0) return -1;
    if (run("'%s' -v error -nostdin -y -f lavfi -i sine=frequency=440:duration=1 -c:a aac '%s'",
            g_ffmpeg, path) != 0)
        return -1;

    struct { const char *from, *to; double keep; } cuts[] = {
        {"h264.mp4", "cut.mp4", 0.5}, {"fast.mp4", "cutfast.mp4", 0.5},
        {"fast.mp4", "cutfast90.mp4", 0.9}, {"mpeg4.avi", "cut.avi", 0.5}};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        size_t n;
        if (join_tmp(src, sizeof src, cuts[i].from) || join_tmp(path, sizeof path, cuts[i].to))
            return -1;
        unsigned char *buf = slurp(src, &n);
        if (!buf || spill(path, buf, (size_t)(n * cuts[i].keep)) != 0) {
            free(buf);
            return -1;
        }
        free(buf);
    }
    /* An AVI whose fourcc no decoder knows. */
    {
        size_t n;
        if (join_tmp(src, sizeof src, "mpeg4.avi") || join_tmp(path, sizeof path, "unknown.avi"))
            return -1;
        unsigned char *buf = slurp(src, &n);
        int patched = 0;
        if (!buf) return -1;
        for (size_t i = 0; i + 4 <= n; i++)
            if (!memcmp(buf + i, "FMP4", 4)) {
                memcpy(buf + i, "ZQX9", 4);
                patched++;
            }
        int wrote = spill(path, buf, n);
        free(buf);
        if (wrote != 0 || !patched) {
            fprintf(stderr, "test_video: no FMP4 fourcc in mpeg4.avi\n");
            return -1;
        }
    }
    const char text[] = "hello, this is not a video\n";
    if (join_tmp(path, sizeof path, "text.mp4") != 0) return -1;
    if (spill(path, text, sizeof text - 1) != 0) return -1;
    if (join_tmp(path, sizeof path, "empty.mp4") != 0) return -1;
    if (spill(path, "", 0) != 0) return -1;
    if (join_tmp(path, sizeof path, "dir.mp4") != 0) return -1;
    if (mkdir(path, 0700) != 0) return -1;
    return 0;
}

static int have_program(const char *prog)
{
    return run("'%s' -version >/dev/null 2>&1", prog) == 0;
}

int main(int argc, char **argv)
{
    const char *group = argc > 1 ? argv[1] : "rules";
    const char *e;
    if ((e = getenv("SIMVTP_FFMPEG")) && *e) snprintf(g_ffmpeg, sizeof g_ffmpeg, "%s", e);
    if ((e = getenv("SIMVTP_FFPROBE")) && *e) snprintf(g_ffprobe, sizeof g_ffprobe, "%s", e);

    Suite *suite;
    if (!strcmp(group, "rules")) {
        suite = rules_suite();
    } else if (!strcmp(group, "decode")) {
        simvtp_video *v = NULL;
        g_have_video = simvtp_video_open("/nonexistent/simvtp-probe.mp4", &v) !=
                       SIMVTP_ERR_UNSUPPORTED;
        if (g_have_video) {
            if (!have_program(g_ffmpeg) || !have_program(g_ffprobe)) {
                fprintf(stderr, "test_video: ffmpeg/ffprobe not found: skipped\n");
                return 77;
            }
            const char *base = getenv("SIMVTP_TEST_TMPDIR");
            if (!base || !*base) base = getenv("TMPDIR");
            if (!base || !*base) base = "/tmp";
            snprintf(g_tmpdir, sizeof g_tmpdir, "%s/video-XXXXXX", base);
            if (!mkdtemp(g_tmpdir)) {
                perror("mkdtemp");
                return 1;
            }
            int made = make_videos();
            if (made != 0) {
                nftw(g_tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
                return made == -2 ? 77 : 1;
            }
        }
        suite = decode_suite();
    } else {
        fprintf(stderr, "usage: test_video rules|decode\n");
        return 2;
    }
    SRunner *sr = srunner_create(suite);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    if (g_tmpdir[0]) nftw(g_tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return failed ? 1 : 0;
}

/* test_toolkit.c — the tools' picture toolkit: PNG round trip through libpng,
 * line/rectangle/blit pixels at hand-computed positions, the embedded font,
 * word wrap, plot axis mapping and the recon picture's layout. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "image.h"
#include "plot.h"
#include "png_write.h"
#include "recon_picture.h"

static const tk_rgb BG = {0, 0, 0}, FG = {255, 255, 255};

static int count_color(const tk_canvas *c, tk_rgb col)
{
    int n = 0;
    for (int y = 0; y < c->h; y++)
        for (int x = 0; x < c->w; x++)
            n += tk_rgb_eq(tk_get(c, x, y), col);
    return n;
}

static void make_tmpdir(char *dir, size_t n)
{
    const char *base = getenv("TOOLKIT_TMP");
    snprintf(dir, n, "%s/toolkit-XXXXXX", base && *base ? base : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

START_TEST(test_png_round_trip)
{
    char dir[512], path[600], err[256];
    make_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/pic.png", dir);
    tk_canvas *c = tk_canvas_new(7, 5, BG); /* odd width: no row padding assumptions */
    ck_assert_ptr_nonnull(c);
    for (int i = 0; i < 7 * 5 * 3; i++)
        c->px[i] = (uint8_t)(i * 37 + 11);
    for (int pass = 0; pass < 2; pass++) { /* the second write replaces the first */
        c->px[0] = (uint8_t)pass;
        ck_assert_int_eq(tk_png_write(c, path, err, sizeof err), 0);
        png_image img = {.version = PNG_IMAGE_VERSION};
        ck_assert(png_image_begin_read_from_file(&img, path));
        ck_assert_int_eq(img.width, 7);
        ck_assert_int_eq(img.height, 5);
        img.format = PNG_FORMAT_RGB;
        uint8_t back[7 * 5 * 3];
        ck_assert_int_eq(PNG_IMAGE_SIZE(img), sizeof back);
        ck_assert(png_image_finish_read(&img, NULL, back, 0, NULL));
        ck_assert(memcmp(back, c->px, sizeof back) == 0);
    }
    /* nothing but pic.png is left in the directory (no temp files) */
    DIR *d = opendir(dir);
    int entries = 0;
    for (struct dirent *e; (e = readdir(d));)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            {
            entries++;
            ck_assert_str_eq(e->d_name, "pic.png");
        }
    closedir(d);
    ck_assert_int_eq(entries, 1);
    /* a missing directory: -1, errno and an errno-style message naming the path */
    char bad[700];
    snprintf(bad, sizeof bad, "%s/missing/pic.png", dir);
    errno = 0;
    ck_assert_int_eq(tk_png_write(c, bad, err, sizeof err), -1);
    ck_assert_int_eq(errno, ENOENT);
    char want[800];
    snprintf(want, sizeof want, "%s: %s", bad, strerror(ENOENT));
    ck_assert_str_eq(err, want);
    ck_assert_int_eq(tk_png_write(c, bad, NULL, 0), -1); /* no buffer is fine too */
    unlink(path);
    rmdir(dir);
    tk_canvas_free(c);
}
END_TEST

START_TEST(test_lines_rects_blit)
{
    tk_canvas *c = tk_canvas_new(12, 10, BG);
    /* Bresenham (0,0)-(4,2): dx 4, dy 2; ties round towards y1 */
    tk_line(c, 0, 0, 4, 2, 1, FG);
    const int pts[5][2] = {{0, 0}, {1, 1}, {2, 1}, {3, 2}, {4, 2}};
    for (int i = 0; i < 5; i++)
        ck_assert(tk_rgb_eq(tk_get(c, pts[i][0], pts[i][1]), FG));
    ck_assert_int_eq(count_color(c, FG), 5);
    tk_fill(c, BG);
    tk_line(c, 2, 5, 6, 5, 3, FG); /* thickness 3: rows 4..6, columns 1..7 */
    for (int y = 0; y < 10; y++)
        for (int x = 0; x < 12; x++)
            ck_assert_int_eq(tk_rgb_eq(tk_get(c, x, y), FG), x >= 1 && x <= 7 && y >= 4 && y <= 6);
    tk_fill(c, BG);
    tk_line(c, 3, 1, 3, 4, 2, FG); /* thickness 2: offsets 0..1 -> columns 3..4, rows 1..5 */
    ck_assert_int_eq(count_color(c, FG), 2 * 5);
    ck_assert(tk_rgb_eq(tk_get(c, 4, 5), FG) && !tk_rgb_eq(tk_get(c, 2, 1), FG));
    /* outline 6x4 at (1,1): border only */
    tk_fill(c, BG);
    tk_rect(c, 1, 1, 6, 4, 1, FG);
    for (int y = 0; y < 10; y++)
        for (int x = 0; x < 12; x++) {
            int in = x >= 1 && x <= 6 && y >= 1 && y <= 4, edge = x == 1 || x == 6 || y == 1 || y == 4;
            ck_assert_int_eq(tk_rgb_eq(tk_get(c, x, y), FG), in && edge);
        }
    /* a fill hanging off the canvas clips */
    tk_fill(c, BG);
    tk_rect_fill(c, -3, 8, 5, 10, FG);
    ck_assert_int_eq(count_color(c, FG), 2 * 2);
    /* a clip rectangle stops drawing outside it */
    tk_fill(c, BG);
    tk_canvas_clip(c, 2, 2, 3, 3);
    tk_rect_fill(c, 0, 0, 12, 10, FG);
    tk_canvas_unclip(c);
    ck_assert_int_eq(count_color(c, FG), 9);
    ck_assert(tk_rgb_eq(tk_get(c, 2, 2), FG) && tk_rgb_eq(tk_get(c, 4, 4), FG));
    /* a 2x2 image at scale 2: each source pixel a 2x2 block */
    tk_fill(c, BG);
    const uint8_t img[2 * 2 * 3] = {10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120};
    tk_blit(c, img, 2, 2, 5, 3, 4, 4);
    for (int y = 0; y < 4; y++)
        for (int x = 0; x < 4; x++) {
            const uint8_t *p = img + 3 * ((y / 2) * 2 + x / 2);
            ck_assert(tk_rgb_eq(tk_get(c, 5 + x, 3 + y), TK_RGB(p[0], p[1], p[2])));
        }
    ck_assert_int_eq(count_color(c, BG), 12 * 10 - 16);
    const uint8_t row[3 * 3] = {1, 1, 1, 2, 2, 2, 3, 3, 3};
    tk_blit(c, row, 3, 1, 0, 0, 2, 1); /* column x samples (2x+1)*3/4: 0 -> 0, 1 -> 2 */
    ck_assert_int_eq(tk_get(c, 0, 0).r, 1);
    ck_assert_int_eq(tk_get(c, 1, 0).r, 3);
    tk_canvas_free(c);
}
END_TEST

START_TEST(test_text_glyph_A)
{
    static const uint8_t A[8] = {0x0E, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11, 0x00};
    ck_assert(memcmp(tk_glyph('A'), A, 8) == 0); /* .###. #...# #...# ##### #...# x3 */
    for (int s = 1; s <= 2; s++) {
        tk_canvas *c = tk_canvas_new(20, 24, BG);
        ck_assert_int_eq(tk_text(c, 3, 2, "A", s, FG), 3 + 6 * s);
        int ink = 0;
        for (int y = 0; y < c->h; y++)
            for (int x = 0; x < c->w; x++) {
                int gx = (x - 3) / s, gy = (y - 2) / s, set = 0;
                if (x >= 3 && y >= 2 && gx < 5 && gy < 8)
                    set = (A[gy] >> (4 - gx)) & 1;
                ck_assert_msg(tk_rgb_eq(tk_get(c, x, y), FG) == set, "scale %d pixel (%d,%d)", s, x, y);
                ink += set;
            }
        ck_assert_int_eq(ink, 18 * s * s); /* 3 + 2 + 2 + 5 + 2 + 2 + 2 bits */
        tk_canvas_free(c);
    }
    /* bytes outside 32..126 draw as '?', one cell each */
    ck_assert_ptr_eq(tk_glyph(0xC3), tk_glyph('?'));
    ck_assert_ptr_eq(tk_glyph('\n'), tk_glyph('?'));
    ck_assert_ptr_ne(tk_glyph('~'), tk_glyph('?'));
    tk_canvas *a = tk_canvas_new(30, 10, BG), *b = tk_canvas_new(30, 10, BG);
    tk_text(a, 1, 1, "\xc3\xa9!", 1, FG);
    tk_text(b, 1, 1, "?" "?!", 1, FG); /* split: "??!" is a trigraph */
    ck_assert(memcmp(a->px, b->px, 30 * 10 * 3) == 0);
    ck_assert_int_eq(tk_text_width("AB", 2), 22);
    ck_assert_int_eq(tk_text_width("", 3), 0);
    tk_canvas_free(a);
    tk_canvas_free(b);
}
END_TEST

static void check_lines(const char *s, int max_px, int scale, int want_n, const char *const *want)
{
    tk_span sp[16];
    int n = tk_wrap(s, max_px, scale, sp, 16);
    ck_assert_int_eq(n, want_n);
    for (int i = 0; i < n; i++) {
        ck_assert_int_eq(sp[i].len, strlen(want[i]));
        ck_assert_msg(!memcmp(s + sp[i].start, want[i], sp[i].len), "line %d", i);
        ck_assert(tk_text_width_n(sp[i].len, scale) <= max_px || sp[i].len == 1);
    }
}

START_TEST(test_wrap)
{
    /* 10 cells at scale 1 are 59 px wide: 59 and 64 px hold 10, 58 px holds 9 */
    const char *s = "the quick brown fox jumps";
    check_lines(s, 59, 1, 3, (const char *[]){"the quick", "brown fox", "jumps"});
    check_lines(s, 58, 1, 3, (const char *[]){"the quick", "brown fox", "jumps"});
    check_lines(s, 89, 1, 2, (const char *[]){"the quick brown", "fox jumps"}); /* 15 cells */
    check_lines(s, 88, 1, 3, (const char *[]){"the quick", "brown fox", "jumps"}); /* 14 cells */
    check_lines(s, 118, 1, 2, (const char *[]){"the quick brown fox", "jumps"}); /* 20 cells */
    check_lines(s, 118, 2, 3, (const char *[]){"the quick", "brown fox", "jumps"}); /* 10 cells */
    check_lines(s, 1000, 1, 1, (const char *[]){s});
    check_lines("  two  spaces  ", 1000, 1, 1, (const char *[]){"two  spaces"});
    check_lines("abcdefghijkl", 29, 1, 3, (const char *[]){"abcde", "fghij", "kl"});
    check_lines("ab\ncd ef", 1000, 1, 2, (const char *[]){"ab", "cd ef"});
    check_lines("ab\n\ncd", 1000, 1, 3, (const char *[]){"ab", "", "cd"});
    check_lines("", 100, 1, 0, NULL);
    check_lines("    ", 100, 1, 0, NULL);
    tk_span one[1];
    ck_assert_int_eq(tk_wrap(s, 59, 1, one, 1), 3); /* counts all lines, writes one */
    ck_assert_int_eq(one[0].len, 9);
}
END_TEST

START_TEST(test_plot_mapping)
{
    enum { N = 11 };
    double x[N], y[N];
    for (int i = 0; i < N; i++)
        x[i] = 10.0 * i, y[i] = 9.5 - 0.07 * x[i]; /* 9.5 down to 2.5 */
    const tk_rgb col = {200, 30, 30};
    tk_series s = {"loss", x, y, N, &col};
    tk_plot_opts o = {.width = 600, .height = 400, .title = "t", .xlabel = "step", .ylabel = "loss"};
    tk_plot_axes ax;
    tk_canvas *c = tk_plot_render(&o, &s, 1, &ax);
    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(c->w, 600);
    ck_assert_int_eq(c->h, 400);
    /* nice, tick-aligned ranges covering the data */
    ck_assert(ax.x0 == 0 && ax.x1 >= 100 && ax.y0 <= 2.5 && ax.y1 >= 9.5);
    ck_assert(fabs(remainder(ax.y0, ax.ystep)) < 1e-9 && fabs(remainder(ax.y1, ax.ystep)) < 1e-9);
    int px, py;
    ck_assert(tk_plot_map(&ax, ax.x0, ax.y0, &px, &py) && px == ax.left && py == ax.bottom);
    ck_assert(tk_plot_map(&ax, ax.x1, ax.y1, &px, &py) && px == ax.right && py == ax.top);
    for (int i = 0; i < N; i++) {
        ck_assert(tk_plot_map(&ax, x[i], y[i], &px, &py));
        int ex = ax.left + (int)lround((x[i] - ax.x0) / (ax.x1 - ax.x0) * (ax.right - ax.left));
        int ey = ax.bottom - (int)lround((y[i] - ax.y0) / (ax.y1 - ax.y0) * (ax.bottom - ax.top));
        ck_assert_int_eq(px, ex);
        ck_assert_int_eq(py, ey);
        ck_assert_msg(tk_rgb_eq(tk_get(c, px, py), col), "point %d at (%d,%d)", i, px, py);
    }
    ck_assert(!tk_plot_map(&ax, NAN, 1, &px, &py));
    tk_canvas_free(c);

    /* log y: y = 10^(1 - x/50) spans 10 .. 0.1; decades as the range */
    for (int i = 0; i < N; i++)
        y[i] = pow(10, 1 - x[i] / 50);
    y[3] = -1; /* not plottable on a log axis: breaks the curve */
    o.log_y = 1;
    c = tk_plot_render(&o, &s, 1, &ax);
    ck_assert(ax.log_y && ax.y0 == -1 && ax.y1 == 1);
    ck_assert(!tk_plot_map(&ax, x[3], y[3], &px, &py));
    for (int i = 0; i < N; i++) {
        if (i == 3)
            continue;
        ck_assert(tk_plot_map(&ax, x[i], y[i], &px, &py));
        int ey = ax.bottom - (int)lround((log10(y[i]) + 1) / 2 * (ax.bottom - ax.top));
        ck_assert_int_eq(py, ey);
        ck_assert_msg(tk_rgb_eq(tk_get(c, px, py), col), "log point %d", i);
    }
    tk_canvas_free(c);
    /* no data at all still gives axes */
    c = tk_plot_render(NULL, NULL, 0, &ax);
    ck_assert_ptr_nonnull(c);
    ck_assert(ax.right > ax.left && ax.bottom > ax.top);
    tk_canvas_free(c);
}
END_TEST

START_TEST(test_recon_layout)
{
    enum { T = 3, H = 4, W = 5, S = 8 };
    uint8_t fr[3][T * H * W * 3];
    for (int r = 0; r < 3; r++)
        for (int i = 0; i < T * H * W * 3; i++)
            fr[r][i] = (uint8_t)(r * 71 + i * 13 + 5);
    tk_recon_input in = {T, H, W, fr[0], fr[1], fr[2], "a cat", "a [MASK]", "a dog", S, 1};
    tk_recon_layout l;
    tk_canvas *c = tk_recon_picture(&in, &l);
    ck_assert_ptr_nonnull(c);
    /* width 4 + 3 * 40 + 2 * 2 + 4; frames end at 4 + 3 * 32 + 2 * 2; bars of (10 + 8) px with gaps of 2 */
    ck_assert_int_eq(c->w, 132);
    ck_assert_int_eq(l.width, 132);
    ck_assert_int_eq(l.bar_y[0], 106);
    ck_assert_int_eq(l.bar_y[1], 126);
    ck_assert_int_eq(l.bar_y[2], 146);
    ck_assert_int_eq(c->h, 146 + 18 + 4);
    for (int r = 0; r < 3; r++)
        for (int i = 0; i < T; i++) {
            int x0 = 4 + i * 42, y0 = 4 + r * 34;
            ck_assert_int_eq(tk_recon_tile_x(&l, i), x0);
            ck_assert_int_eq(l.row_y[r], y0);
            for (int y = 0; y < H * S; y++)
                for (int x = 0; x < W * S; x++) {
                    const uint8_t *p = fr[r] + 3 * ((size_t)i * H * W + (y / S) * W + x / S);
                    ck_assert(tk_rgb_eq(tk_get(c, x0 + x, y0 + y), TK_RGB(p[0], p[1], p[2])));
                }
            /* white gap right of the tile (except the last) */
            if (i < T - 1)
                ck_assert(tk_rgb_eq(tk_get(c, x0 + 40, y0), TK_RGB(255, 255, 255)));
        }
    /* "dog" sits where the masked caption has [MASK]: red ink in the last bar */
    int red = 0;
    for (int y = l.bar_y[2]; y < l.bar_y[2] + l.bar_h[2]; y++)
        for (int x = 0; x < c->w; x++)
            red += tk_rgb_eq(tk_get(c, x, y), TK_RGB(215, 30, 30));
    ck_assert_int_gt(red, 0);
    tk_canvas_free(c);
    /* a caption needing 3 lines (19 cells a line) adds 2 * 10 px to its bar */
    in.caption = "one two three four five six seven eight nine";
    ck_assert_int_eq(tk_recon_layout_compute(&in, &l), 0);
    ck_assert_int_eq(l.bar_lines[0], 3);
    ck_assert_int_eq(l.bar_h[0], 38);
    ck_assert_int_eq(l.height, 168 + 20);
    in.t = 0;
    ck_assert_int_eq(tk_recon_layout_compute(&in, &l), -1);
    ck_assert_ptr_null(tk_recon_picture(&in, NULL));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("toolkit");
    TCase *tc = tcase_create("toolkit");
    tcase_add_test(tc, test_png_round_trip);
    tcase_add_test(tc, test_lines_rects_blit);
    tcase_add_test(tc, test_text_glyph_A);
    tcase_add_test(tc, test_wrap);
    tcase_add_test(tc, test_plot_mapping);
    tcase_add_test(tc, test_recon_layout);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}

/* recon_picture.c — draws the vis.png layout: three rows of frames and three
 * centred, wrapped caption bars (see recon_picture.h for the geometry). */
#include "recon_picture.h"

#include <stdlib.h>
#include <string.h>

static const tk_rgb WHITE = {255, 255, 255}, BLACK = {0, 0, 0}, MASK_BAR = {217, 225, 242},
                    PRED_BAR = {232, 235, 243}, MASK_BOX = {190, 190, 190}, RED = {215, 30, 30};
static const char MASK[] = "[MASK]";

int tk_recon_tile_x(const tk_recon_layout *l, int i) { return TK_RECON_PAD + i * (l->tile_w + TK_RECON_GAP); }

static const char *str(const char *s) { return s ? s : ""; }

/* Text area width inside a caption bar. */
static int text_width(const tk_recon_layout *l) { return l->width - 2 * TK_RECON_PAD - 8 * l->text_scale; }

int tk_recon_layout_compute(const tk_recon_input *in, tk_recon_layout *l)
{
    int fs = in->frame_scale > 0 ? in->frame_scale : 1;
    if (in->t < 1 || in->h < 1 || in->w < 1 || !in->original || !in->masked || !in->recon ||
        in->w > 16384 / fs || in->h > 16384 / fs || in->t > 65536 / (in->w * fs))
        return -1;
    memset(l, 0, sizeof *l);
    l->text_scale = in->text_scale > 0 ? in->text_scale : 2;
    l->tile_w = in->w * fs, l->tile_h = in->h * fs;
    l->width = 2 * TK_RECON_PAD + in->t * l->tile_w + (in->t - 1) * TK_RECON_GAP;
    for (int r = 0; r < 3; r++)
        l->row_y[r] = TK_RECON_PAD + r * (l->tile_h + TK_RECON_GAP);
    const char *caps[3] = {in->caption, in->masked_caption, in->predicted_caption};
    int y = TK_RECON_PAD + 3 * l->tile_h + 3 * TK_RECON_GAP;
    for (int j = 0; j < 3; j++) {
        int n = tk_wrap(str(caps[j]), text_width(l), l->text_scale, NULL, 0);
        l->bar_lines[j] = n > 1 ? n : 1;
        l->bar_y[j] = y;
        l->bar_h[j] = (10 * l->bar_lines[j] + 8) * l->text_scale;
        y += l->bar_h[j] + TK_RECON_GAP;
    }
    l->height = l->bar_y[2] + l->bar_h[2] + TK_RECON_PAD;
    return 0;
}

/* Word count (space/newline separated); with want >= 0, whether word `want` holds [MASK]. */
static int words(const char *s, int want, int *masked)
{
    int n = 0;
    for (size_t i = 0; s[i];) {
        while (s[i] == ' ' || s[i] == '\n')
            i++;
        if (!s[i])
            break;
        size_t e = i;
        while (s[e] && s[e] != ' ' && s[e] != '\n')
            e++;
        if (n == want && masked) {
            *masked = 0;
            for (size_t k = i; k + sizeof MASK - 1 <= e; k++)
                *masked |= !memcmp(s + k, MASK, sizeof MASK - 1);
        }
        n++, i = e;
    }
    return n;
}

/* Caption bar j: wrapped, centred lines. style 1 boxes [MASK]; style 2 reds words
 * whose counterpart in `ref` (the masked caption) is masked. */
static int draw_bar(tk_canvas *c, const tk_recon_layout *l, int j, const char *s, tk_rgb bg, tk_rgb ink,
                    int style, const char *ref)
{
    int ts = l->text_scale, bw = l->width - 2 * TK_RECON_PAD;
    tk_rect_fill(c, TK_RECON_PAD, l->bar_y[j], bw, l->bar_h[j], bg);
    int n = tk_wrap(s, text_width(l), ts, NULL, 0);
    tk_span *sp = n ? malloc((size_t)n * sizeof *sp) : NULL;
    if (n && !sp)
        return -1;
    tk_wrap(s, text_width(l), ts, sp, n);
    int same = style == 2 && words(s, -1, NULL) == words(ref, -1, NULL), word = -1, red = 0;
    for (int li = 0; li < n; li++) {
        int x = TK_RECON_PAD + (bw - tk_text_width_n(sp[li].len, ts)) / 2;
        int y = l->bar_y[j] + 5 * ts + li * 10 * ts;
        for (size_t k = sp[li].start; k < sp[li].start + sp[li].len; k++, x += TK_CELL_W * ts) {
            if (style == 1 && k + sizeof MASK - 1 <= sp[li].start + sp[li].len &&
                !memcmp(s + k, MASK, sizeof MASK - 1))
                tk_rect_fill(c, x - 2 * ts, y - 2 * ts, tk_text_width_n(sizeof MASK - 1, ts) + 4 * ts,
                             11 * ts, MASK_BOX);
            if (s[k] != ' ' && (k == 0 || s[k - 1] == ' ' || s[k - 1] == '\n')) {
                word++;
                if (same)
                    words(ref, word, &red);
            }
            tk_text_n(c, x, y, s + k, 1, ts, same && red ? RED : ink);
        }
    }
    free(sp);
    return 0;
}

tk_canvas *tk_recon_picture(const tk_recon_input *in, tk_recon_layout *out)
{
    tk_recon_layout l;
    if (tk_recon_layout_compute(in, &l) != 0)
        return NULL;
    tk_canvas *c = tk_canvas_new(l.width, l.height, WHITE);
    if (!c)
        return NULL;
    const uint8_t *rows[3] = {in->original, in->masked, in->recon};
    size_t frame = (size_t)in->h * (size_t)in->w * 3;
    for (int r = 0; r < 3; r++)
        for (int i = 0; i < in->t; i++)
            tk_blit(c, rows[r] + (size_t)i * frame, in->w, in->h, tk_recon_tile_x(&l, i), l.row_y[r],
                    l.tile_w, l.tile_h);
    const char *mc = str(in->masked_caption);
    if (draw_bar(c, &l, 0, str(in->caption), BLACK, WHITE, 0, NULL) != 0 ||
        draw_bar(c, &l, 1, mc, MASK_BAR, BLACK, 1, NULL) != 0 ||
        draw_bar(c, &l, 2, str(in->predicted_caption), PRED_BAR, BLACK, 2, mc) != 0) {
        tk_canvas_free(c);
        return NULL;
    }
    if (out)
        *out = l;
    return c;
}

/* recon_picture.h — the SimVTP "vis.png" layout for one clip: a row of original
 * frames, a row of masked frames, a row of reconstructed frames, then three
 * caption bars: original caption (white on black), masked caption ([MASK] tokens
 * boxed in gray) and predicted caption (words at [MASK] positions in red). */
#ifndef SIMVTP_TOOLKIT_RECON_PICTURE_H
#define SIMVTP_TOOLKIT_RECON_PICTURE_H

#include <stdint.h>

#include "image.h"

typedef struct {
    int t, h, w;               /* frames per row, frame height and width */
    /* each t frames of h x w RGB uint8, frame after frame, prepared by the caller
     * (masked: hidden tubelets already darkened; recon: visible patches from the
     * original, masked ones from the prediction) */
    const uint8_t *original, *masked, *recon;
    /* NULL counts as "". Predicted words are red where the masked caption's word at
     * the same index (space-separated) contains "[MASK]" and both have as many words. */
    const char *caption, *masked_caption, *predicted_caption;
    int frame_scale;           /* frames drawn w * scale x h * scale (nearest); 0 means 1 */
    int text_scale;            /* caption font scale; 0 means 2 */
} tk_recon_input;

enum { TK_RECON_PAD = 4, TK_RECON_GAP = 2 };

/* Geometry, all in canvas pixels:
 *   tile_w = w * frame_scale, tile_h = h * frame_scale
 *   width  = 2 * PAD + t * tile_w + (t - 1) * GAP
 *   tile i of row r at (PAD + i * (tile_w + GAP), PAD + r * (tile_h + GAP))
 *   caption bar j: x = PAD, width - 2 * PAD wide, bar_h[j] = (10 * lines_j + 8) * text_scale,
 *     lines_j = max(1, tk_wrap lines in width - 2 * PAD - 8 * text_scale), stacked with GAP
 *     from bar_y[0] = PAD + 3 * tile_h + 3 * GAP
 *   height = bar_y[2] + bar_h[2] + PAD */
typedef struct {
    int width, height, tile_w, tile_h, text_scale;
    int row_y[3];              /* original, masked, reconstructed */
    int bar_y[3], bar_h[3], bar_lines[3];
} tk_recon_layout;

/* x of tile i (any row). */
int tk_recon_tile_x(const tk_recon_layout *l, int i);
/* 0, or -1 when sizes are not positive or a frame pointer is NULL. */
int tk_recon_layout_compute(const tk_recon_input *in, tk_recon_layout *l);
/* The picture (NULL on invalid input or OOM); its layout goes to *l if non-NULL. */
tk_canvas *tk_recon_picture(const tk_recon_input *in, tk_recon_layout *l);

#endif

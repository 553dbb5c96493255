/* image.h — RGB8 canvas for the command-line tools: pixels, lines, rectangles,
 * scaled blits and text in an embedded 5x8 bitmap font (6x8 cell: 5 ink
 * columns plus one spacing column). Not part of libsimvtp's ABI. */
#ifndef SIMVTP_TOOLKIT_IMAGE_H
#define SIMVTP_TOOLKIT_IMAGE_H

#include <stddef.h>
#include <stdint.h>

typedef struct { uint8_t r, g, b; } tk_rgb;

/* Row-major RGB, 3 bytes a pixel, no row padding: pixel (x, y) is px[3 * (y * w + x)].
 * All drawing clips to the clip rectangle [cx0, cx1) x [cy0, cy1) (the whole canvas
 * after tk_canvas_new; see tk_canvas_clip). */
typedef struct {
    int w, h;
    uint8_t *px;
    int cx0, cy0, cx1, cy1;
} tk_canvas;

#define TK_RGB(r, g, b) ((tk_rgb){(uint8_t)(r), (uint8_t)(g), (uint8_t)(b)})

/* Font metrics: a glyph is TK_GLYPH_W x TK_GLYPH_H bits; the caps sit on rows 0..6,
 * row 7 holds descenders. Characters advance TK_CELL_W * scale pixels. */
enum { TK_GLYPH_W = 5, TK_GLYPH_H = 8, TK_CELL_W = 6 };

/* NULL if w or h < 1, too large, or out of memory. */
tk_canvas *tk_canvas_new(int w, int h, tk_rgb bg);
void tk_canvas_free(tk_canvas *c);
/* Restrict drawing to a rectangle (intersected with the canvas); tk_canvas_unclip resets. */
void tk_canvas_clip(tk_canvas *c, int x, int y, int w, int h);
void tk_canvas_unclip(tk_canvas *c);

void tk_fill(tk_canvas *c, tk_rgb col);
void tk_set(tk_canvas *c, int x, int y, tk_rgb col);
/* Colour at (x, y); black outside the canvas. */
tk_rgb tk_get(const tk_canvas *c, int x, int y);
int tk_rgb_eq(tk_rgb a, tk_rgb b);

/* Bresenham line; each point is stamped with a thickness x thickness square
 * covering offsets -(t-1)/2 .. t/2 around it (thickness < 1 counts as 1). */
void tk_line(tk_canvas *c, int x0, int y0, int x1, int y1, int thickness, tk_rgb col);
void tk_rect_fill(tk_canvas *c, int x, int y, int w, int h, tk_rgb col);
/* Outline drawn inside the rectangle, thickness pixels wide. */
void tk_rect(tk_canvas *c, int x, int y, int w, int h, int thickness, tk_rgb col);

/* Draw an sw x sh RGB uint8 image (row-major, no padding) into the dw x dh
 * rectangle at (dx, dy), nearest-neighbour: destination column x samples source
 * column ((2x + 1) * sw) / (2 * dw) — exactly x / k for an integer scale k. */
void tk_blit(tk_canvas *c, const uint8_t *src, int sw, int sh, int dx, int dy, int dw, int dh);

/* The 8 row bytes of a character's glyph; bit 4 (0x10) is the leftmost column.
 * Bytes outside printable ASCII 32..126 get the '?' glyph. */
const uint8_t *tk_glyph(unsigned char ch);
/* Draw the first len bytes of s (one line; every byte is one cell, bytes outside
 * 32..126 drawn as '?') with its top-left at (x, y), each font bit a scale x scale
 * block (scale < 1 counts as 1). Returns the x just past the last cell. */
int tk_text_n(tk_canvas *c, int x, int y, const char *s, size_t len, int scale, tk_rgb col);
int tk_text(tk_canvas *c, int x, int y, const char *s, int scale, tk_rgb col);
/* Inked width of len cells: len * 6 * scale - scale (0 for len 0). */
int tk_text_width_n(size_t len, int scale);
int tk_text_width(const char *s, int scale);

/* A wrapped line: bytes [start, start + len) of the input. */
typedef struct { size_t start, len; } tk_span;
/* Greedy word wrap of s into lines whose tk_text_width_n fits max_px: breaks at
 * spaces (which are dropped at the break), a '\n' forces a break, a word longer
 * than a line is split. Writes up to max_lines spans and returns the number of
 * lines the whole text needs (0 for an empty or all-space string), like snprintf. */
int tk_wrap(const char *s, int max_px, int scale, tk_span *lines, int max_lines);

#endif

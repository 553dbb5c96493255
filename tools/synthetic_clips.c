/* synthetic_clips.c — see synthetic_clips.h. */
#include "synthetic_clips.h"

#include <math.h>
#include <stddef.h>

#define TOKEN_CLS 101
#define TOKEN_SEP 102
#define TOKEN_FIRST_WORD 104 /* first id after BERT's special tokens */

/* Word ids as in BERT's uncased vocabulary (folded into range for a config
 * with a smaller vocabulary). */
static const struct word { const char *text; int32_t id; } k_words[] = {
    {"a", 1037}, {"the", 1996}, {"is", 2003}, {"square", 2675}, {"moves", 5829},
    {"moving", 3048}, {"small", 2235}, {"big", 2502},
};
enum { W_A, W_THE, W_IS, W_SQUARE, W_MOVES, W_MOVING, W_SMALL, W_BIG };

static const struct colour { const char *name; int32_t id; uint8_t rgb[3]; } k_colours[] = {
    {"red", 2417, {230, 40, 40}},     {"green", 2665, {40, 200, 60}},
    {"blue", 2630, {50, 80, 230}},    {"yellow", 3756, {240, 220, 40}},
    {"white", 2317, {240, 240, 240}}, {"purple", 6379, {150, 60, 200}},
};
static const struct direction { const char *name; int32_t id; int dx, dy; } k_directions[] = {
    {"left", 2187, -1, 0}, {"right", 2157, 1, 0}, {"up", 2039, 0, -1}, {"down", 2091, 0, 1},
};
#define N_OF(a) ((int)(sizeof(a) / sizeof((a)[0])))

static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static int below(uint64_t *s, int n) { return (int)(splitmix64(s) % (uint64_t)n); }

static int32_t fold_id(int32_t id, int vocab)
{
    if (id < vocab) return id;
    if (vocab <= TOKEN_FIRST_WORD) return vocab - 1;
    return TOKEN_FIRST_WORD + id % (vocab - TOKEN_FIRST_WORD);
}

const char *syn_word(int32_t id, int vocab)
{
    for (int i = 0; i < N_OF(k_words); i++) if (fold_id(k_words[i].id, vocab) == id) return k_words[i].text;
    for (int i = 0; i < N_OF(k_colours); i++) if (fold_id(k_colours[i].id, vocab) == id) return k_colours[i].name;
    for (int i = 0; i < N_OF(k_directions); i++) if (fold_id(k_directions[i].id, vocab) == id) return k_directions[i].name;
    return NULL;
}

void syn_make_clip(const simvtp_config *c, uint64_t seed, uint64_t index, uint8_t *frames,
                      int32_t *caption)
{
    uint64_t s = seed * 0x2545F4914F6CDD1Dull ^ (index + 1) * 0x9E3779B97F4A7C15ull;
    const int T = c->frames, H = c->height, W = c->width;
    const struct colour *col = &k_colours[below(&s, N_OF(k_colours))];
    const struct direction *dir = &k_directions[below(&s, N_OF(k_directions))];
    const int big = below(&s, 2), side_max = H < W ? H : W;
    int side = big ? side_max / 3 : side_max / 5, bg[3], template_id = below(&s, 2), k = 0;
    if (side < 2) side = 2;
    for (int ch = 0; ch < 3; ch++) bg[ch] = 15 + below(&s, 40);
    /* start and end corners: across the frame along the direction */
    int x0 = below(&s, W - side + 1), y0 = below(&s, H - side + 1), x1 = x0, y1 = y0;
    if (dir->dx) {
        int margin = below(&s, (W - side) / 4 + 1);
        x0 = dir->dx > 0 ? margin : W - side - margin;
        x1 = dir->dx > 0 ? W - side - margin : margin;
    } else {
        int margin = below(&s, (H - side) / 4 + 1);
        y0 = dir->dy > 0 ? margin : H - side - margin;
        y1 = dir->dy > 0 ? H - side - margin : margin;
    }
    for (int t = 0; t < T; t++) {
        double f = T > 1 ? (double)t / (T - 1) : 0.0;
        int sx = (int)lround(x0 + f * (x1 - x0)), sy = (int)lround(y0 + f * (y1 - y0));
        uint8_t *fr = frames + (size_t)t * H * W * 3;
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                uint8_t *px = fr + ((size_t)y * W + x) * 3;
                int inside = x >= sx && x < sx + side && y >= sy && y < sy + side;
                int noise = below(&s, 17) - 8;
                for (int ch = 0; ch < 3; ch++) {
                    int v = (inside ? col->rgb[ch] : bg[ch]) + noise;
                    px[ch] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
                }
            }
    }
    caption[k++] = TOKEN_CLS;
    if (template_id == 0) { /* a {big|small} {colour} square moves {direction} */
        caption[k++] = k_words[W_A].id;
        caption[k++] = k_words[big ? W_BIG : W_SMALL].id;
        caption[k++] = col->id;
        caption[k++] = k_words[W_SQUARE].id;
        caption[k++] = k_words[W_MOVES].id;
    } else { /* the {colour} square is moving {direction} */
        caption[k++] = k_words[W_THE].id;
        caption[k++] = col->id;
        caption[k++] = k_words[W_SQUARE].id;
        caption[k++] = k_words[W_IS].id;
        caption[k++] = k_words[W_MOVING].id;
    }
    caption[k++] = dir->id;
    caption[k++] = TOKEN_SEP;
    for (k = 1; k < SYN_CAPTION_LEN - 1; k++) caption[k] = fold_id(caption[k], c->vocab_size);
}

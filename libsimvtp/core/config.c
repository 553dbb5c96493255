/* core/config.c — presets, validation and derived sizes of simvtp_config. */
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "core/config_internal.h"
#include "core/status_internal.h"

static void set_common(simvtp_config *c)
{
    memset(c, 0, sizeof *c);
    c->size = sizeof *c;
    c->tubelet = 2;
    c->patch = 16;
    c->vocab_size = 30522;
    c->type_vocab = 2;
    c->video_mask_ratio = 0.9f;
    c->text_mask_ratio = 0.75f;
    c->ln_eps = 1e-6f;
    c->text_ln_eps = 1e-12f;
    c->text_dropout = 0.1f;
    c->vtc_temperature = 0.05f;
    c->vtc_pool_exclude_pad = 0;
    c->vtm_hard_negatives = 0;
    c->drop_path = 0.1f;
}

int simvtp_config_preset(const char *name, simvtp_config *cfg)
{
    sv_clear_error();
    SV_CHECK_ARG(name && cfg, "simvtp_config_preset: name and cfg must not be NULL");
    simvtp_config c;
    set_common(&c);
    if (!strcmp(name, "vit-b")) {
        c.frames = 16; c.height = c.width = 224;
        c.enc_width = 768; c.enc_depth = 12; c.enc_heads = 12; c.enc_mlp = 3072;
        c.dec_width = 384; c.dec_depth = 4; c.dec_heads = 6; c.dec_mlp = 1536;
        c.max_text_len = 512;
    } else if (!strcmp(name, "small")) {
        c.frames = 8; c.height = c.width = 96;
        c.enc_width = 256; c.enc_depth = 4; c.enc_heads = 4; c.enc_mlp = 1024;
        c.dec_width = 128; c.dec_depth = 2; c.dec_heads = 4; c.dec_mlp = 512;
        c.max_text_len = 64;
    } else if (!strcmp(name, "tiny")) {
        c.frames = 8; c.height = c.width = 64;
        c.enc_width = 128; c.enc_depth = 2; c.enc_heads = 4; c.enc_mlp = 512;
        c.dec_width = 64; c.dec_depth = 1; c.dec_heads = 2; c.dec_mlp = 256;
        c.max_text_len = 32;
    } else {
        return sv_fail(SIMVTP_ERR_INVALID_ARG,
                       "unknown preset \"%s\"; known presets: vit-b, small, tiny", name);
    }
    *cfg = c;
    return SIMVTP_OK;
}

static int grid_size(const simvtp_config *c) { return (c->height / c->patch) * (c->width / c->patch); }

static int masked_grid(const simvtp_config *c)
{
    return (int)((double)c->video_mask_ratio * (double)grid_size(c));
}

#define BAD(...) return sv_fail(SIMVTP_ERR_CONFIG, __VA_ARGS__)
#define SV_MAX_VIDEO_TOKENS 65536     /* vit-b: 1568 */
#define SV_MAX_TUBELET_DIM (1 << 20)  /* vit-b: 1536 */

int simvtp_config_validate(const simvtp_config *c)
{
    sv_clear_error();
    SV_CHECK_ARG(c, "simvtp_config_validate: cfg is NULL");
    if (c->size != sizeof *c)
        BAD("config.size is %zu, expected %zu (fill it with simvtp_config_preset)", c->size,
            sizeof *c);
    if (c->frames <= 0 || c->height <= 0 || c->width <= 0) BAD("frames, height and width must be > 0");
    if (c->tubelet <= 0 || c->patch <= 0) BAD("tubelet and patch must be > 0");
    if (c->frames % c->tubelet) BAD("frames (%d) must be a multiple of tubelet (%d)", c->frames, c->tubelet);
    if (c->height % c->patch || c->width % c->patch)
        BAD("height (%d) and width (%d) must be multiples of patch (%d)", c->height, c->width, c->patch);
    if (c->frames > 4096 || c->height > 8192 || c->width > 8192) BAD("frames/height/width too large");
    /* Derived sizes are ints (simvtp_config_num_video_tokens and _tubelet_dim
     * overflowed), and creating or loading a model allocates sin-cos tables
     * of tokens x width; attention is quadratic in the tokens anyway. */
    const int64_t ntok = (int64_t)(c->frames / c->tubelet) * (c->height / c->patch) * (c->width / c->patch);
    const int64_t tdim = (int64_t)c->tubelet * c->patch * c->patch * 3;
    if (ntok > SV_MAX_VIDEO_TOKENS)
        BAD("(frames/tubelet)*(height/patch)*(width/patch) = %lld video tokens; at most %d",
            (long long)ntok, SV_MAX_VIDEO_TOKENS);
    if (tdim > SV_MAX_TUBELET_DIM)
        BAD("tubelet*patch*patch*3 = %lld values per tubelet; at most %d", (long long)tdim, SV_MAX_TUBELET_DIM);
    if (c->enc_width <= 0 || c->enc_depth <= 0 || c->enc_heads <= 0 || c->enc_mlp <= 0)
        BAD("enc_width, enc_depth, enc_heads and enc_mlp must be > 0");
    if (c->enc_width % c->enc_heads) BAD("enc_heads (%d) must divide enc_width (%d)", c->enc_heads, c->enc_width);
    if (c->enc_width % 2) BAD("enc_width (%d) must be even for sin-cos positions", c->enc_width);
    if (c->dec_width <= 0 || c->dec_depth <= 0 || c->dec_heads <= 0 || c->dec_mlp <= 0)
        BAD("dec_width, dec_depth, dec_heads and dec_mlp must be > 0");
    if (c->dec_width % c->dec_heads) BAD("dec_heads (%d) must divide dec_width (%d)", c->dec_heads, c->dec_width);
    if (c->dec_width % 2) BAD("dec_width (%d) must be even for sin-cos positions", c->dec_width);
    if (c->enc_width > 65536 || c->enc_mlp > 262144 || c->enc_depth > 1024 ||
        c->dec_width > 65536 || c->dec_mlp > 262144 || c->dec_depth > 1024)
        BAD("model dimensions too large");
    if (c->vocab_size < 104 || c->vocab_size > 10000000)
        BAD("vocab_size (%d) must be in [104, 1e7] (ids 0 and 100..103 are BERT's special tokens)", c->vocab_size);
    if (c->max_text_len < 2 || c->max_text_len > 65536) BAD("max_text_len (%d) must be in [2, 65536]", c->max_text_len);
    if (c->type_vocab < 1 || c->type_vocab > 1024) BAD("type_vocab (%d) must be in [1, 1024]", c->type_vocab);
    if (!(c->video_mask_ratio >= 0.0f && c->video_mask_ratio < 1.0f))
        BAD("video_mask_ratio (%g) must be in [0, 1)", c->video_mask_ratio);
    int g = grid_size(c), nm = masked_grid(c);
    if (nm < 1 || nm >= g)
        BAD("video_mask_ratio %g masks %d of %d grid cells; at least one must be masked and one visible",
            c->video_mask_ratio, nm, g);
    if (!(c->text_mask_ratio >= 0.0f && c->text_mask_ratio <= 1.0f))
        BAD("text_mask_ratio (%g) must be in [0, 1]", c->text_mask_ratio);
    if (!(c->ln_eps > 0.0f) || !(c->text_ln_eps > 0.0f) || !isfinite(c->ln_eps) || !isfinite(c->text_ln_eps))
        BAD("ln_eps and text_ln_eps must be finite and > 0");
    if (!(c->text_dropout >= 0.0f && c->text_dropout < 1.0f)) BAD("text_dropout (%g) must be in [0, 1)", c->text_dropout);
    if (!(c->vtc_temperature > 0.0f) || !isfinite(c->vtc_temperature)) BAD("vtc_temperature must be > 0");
    if (c->vtc_pool_exclude_pad != 0 && c->vtc_pool_exclude_pad != 1) BAD("vtc_pool_exclude_pad must be 0 or 1");
    if (c->vtm_hard_negatives != 0 && c->vtm_hard_negatives != 1) BAD("vtm_hard_negatives must be 0 or 1");
    if (!(c->drop_path >= 0.0f && c->drop_path < 1.0f)) BAD("drop_path (%g) must be in [0, 1)", c->drop_path);
    return SIMVTP_OK;
}

/* Derived sizes in 64 bits; -1 when the config is not one they can be taken
 * of or they do not fit an int (only possible for unvalidated configs). */
static int int_or_fail(int64_t v) { return v < 0 || v > INT_MAX ? -1 : (int)v; }

int simvtp_config_num_video_tokens(const simvtp_config *c)
{
    if (!c || c->frames < 0 || c->tubelet <= 0 || c->patch <= 0 || c->height < 0 || c->width < 0) return -1;
    const int64_t steps = c->frames / c->tubelet, grid = (int64_t)(c->height / c->patch) * (c->width / c->patch);
    return steps && grid > INT_MAX / steps ? -1 : int_or_fail(steps * grid);
}

int simvtp_config_num_visible_tokens(const simvtp_config *c)
{
    int n = simvtp_config_num_video_tokens(c);
    if (n <= 0) return n; /* else the grid fits an int too */
    if (!(c->video_mask_ratio >= 0.0f && c->video_mask_ratio <= 1.0f)) return -1; /* (int)NaN */
    return (c->frames / c->tubelet) * (grid_size(c) - masked_grid(c));
}

int simvtp_config_tubelet_dim(const simvtp_config *c)
{
    if (!c || c->tubelet < 0 || c->patch < 0 || c->tubelet > INT_MAX / 3) return -1;
    const int64_t pp = (int64_t)c->patch * c->patch; /* < 2^62 */
    return c->tubelet && pp > INT_MAX / (3 * c->tubelet) ? -1 : int_or_fail(3 * c->tubelet * pp);
}

/* Field order of the serialized config; never reorder, only append. */
#define SV_INT_FIELDS(X) X(frames) X(height) X(width) X(tubelet) X(patch) X(enc_width) \
    X(enc_depth) X(enc_heads) X(enc_mlp) X(dec_width) X(dec_depth) X(dec_heads) X(dec_mlp) \
    X(vocab_size) X(max_text_len) X(type_vocab) X(vtc_pool_exclude_pad) X(vtm_hard_negatives)
#define SV_FLOAT_FIELDS(X) X(video_mask_ratio) X(text_mask_ratio) X(ln_eps) X(text_ln_eps) \
    X(text_dropout) X(vtc_temperature) X(drop_path)

void sv_config_to_words(const simvtp_config *c, uint32_t w[SV_CONFIG_WORDS])
{
    int i = 0;
#define PUT_I(f) w[i++] = (uint32_t)c->f;
#define PUT_F(f) memcpy(&w[i++], &c->f, 4);
    SV_INT_FIELDS(PUT_I) SV_FLOAT_FIELDS(PUT_F)
}

void sv_config_from_words(simvtp_config *c, const uint32_t w[SV_CONFIG_WORDS])
{
    int i = 0;
    memset(c, 0, sizeof *c);
    c->size = sizeof *c;
#define GET_I(f) c->f = (int)(int32_t)w[i++];
#define GET_F(f) memcpy(&c->f, &w[i++], 4);
    SV_INT_FIELDS(GET_I) SV_FLOAT_FIELDS(GET_F)
}

const char *sv_config_first_difference(const simvtp_config *a, const simvtp_config *b)
{
#define CMP(f) if (memcmp(&a->f, &b->f, sizeof a->f)) return #f;
    SV_INT_FIELDS(CMP) SV_FLOAT_FIELDS(CMP)
    return NULL;
}

int sv_config_equal(const simvtp_config *a, const simvtp_config *b)
{
    return sv_config_first_difference(a, b) == NULL;
}

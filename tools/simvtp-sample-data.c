/* simvtp-sample-data — writes a small synthetic video-caption dataset in the
 * real WebVid-2M and MSRVTT layouts: short clips of one coloured shape
 * (square, circle, triangle, bar, diamond, ring) moving (left to right, right
 * to left, up, down, diagonally, still, growing) over a black, white, gray or
 * gradient background, encoded to mp4 (H.264 with libx264 when FFmpeg has it,
 * else MPEG-4 Part 2; yuv420p, 25 fps), captioned from varied templates that
 * name the shape, colour, motion and background. Everything follows from
 * --seed. The ground truth of each clip goes to OUT/truth.tsv.
 *
 * Layout under --out DIR:
 *   webvid/results_2M_train.csv, webvid/results_2M_val.csv
 *       (videoid,contentUrl,duration,page_dir,name; RFC 4180 quoting)
 *   webvid/videos/{page_dir}/{videoid}.mp4
 *   msrvtt/MSRVTT_data.json ("info", "videos", "sentences": 5-10 captions
 *       per video, sen_ids shuffled across videos as in the real file)
 *   msrvtt/MSRVTT_train.9k.csv (video_id), msrvtt/MSRVTT_JSFUSION_test.csv
 *       (key,vid_key,video_id,sentence), msrvtt/videos/videoN.mp4
 *   truth.tsv: layout, video_id, path (relative to DIR), shape, colour,
 *       motion, background, frames, width, height
 *
 * Uses FFmpeg (libavformat, libavcodec, libswscale, libavutil) directly. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/opt.h>
#include <libswscale/swscale.h>

#define PROG "simvtp-sample-data"
#define EXIT_USAGE 2
#define EXIT_RUN 1
#define FPS 25
#define WEBVID_PAGE 8        /* videos per page_dir folder                 */
#define WEBVID_FIRST_ID 1000001
#define MIN_PARAPHRASES 5
#define MAX_PARAPHRASES 10
#define MAX_CAPTION 512

/* ------------------------------------------------------------------------ */
/* Options                                                                  */
/* ------------------------------------------------------------------------ */

typedef struct options {
    const char *out;
    uint64_t seed;
    long webvid_train, webvid_val, msrvtt_train, msrvtt_test;
    long width, height, frames;
} options;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: " PROG " --out DIR [options]\n"
            "Writes synthetic clips of moving coloured shapes with captions in the\n"
            "WebVid-2M (DIR/webvid) and MSRVTT (DIR/msrvtt) layouts, and DIR/truth.tsv.\n"
            "\n"
            "  --out DIR          output folder (created if missing)\n"
            "  --seed N           random seed (default 1)\n"
            "  --webvid-train N   WebVid training clips (default 40)\n"
            "  --webvid-val N     WebVid validation clips (default 10)\n"
            "  --msrvtt-train N   MSRVTT 9k-split clips (default 40)\n"
            "  --msrvtt-test N    MSRVTT JSFUSION test clips (default 10)\n"
            "  --width N          frame width, even, 16..1920 (default 96)\n"
            "  --height N         frame height, even, 16..1920 (default 96)\n"
            "  --frames N         frames per clip: each clip has N..1.5N (default 64, 2..10000)\n"
            "  --help             this text\n");
}

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, PROG ": ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " (see --help)\n");
    va_end(ap);
    return EXIT_USAGE;
}

static int parse_long(const char *flag, const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return usage_error("%s needs an integer in [%ld, %ld], got \"%s\"", flag, lo, hi, s);
    *out = v;
    return 0;
}

static int parse_options(int argc, char **argv, options *o, int *help)
{
    memset(o, 0, sizeof *o);
    o->seed = 1;
    o->webvid_train = 40;
    o->webvid_val = 10;
    o->msrvtt_train = 40;
    o->msrvtt_test = 10;
    o->width = o->height = 96;
    o->frames = 64;
    *help = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            *help = 1;
            return 0;
        }
        struct { const char *name; long *dst; long lo, hi; } nums[] = {
            {"--webvid-train", &o->webvid_train, 0, 1000000},
            {"--webvid-val", &o->webvid_val, 0, 1000000},
            {"--msrvtt-train", &o->msrvtt_train, 0, 1000000},
            {"--msrvtt-test", &o->msrvtt_test, 0, 1000000},
            {"--width", &o->width, 16, 1920},
            {"--height", &o->height, 16, 1920},
            {"--frames", &o->frames, 2, 10000},
        };
        int known = !strcmp(a, "--out") || !strcmp(a, "--seed");
        for (size_t k = 0; k < sizeof nums / sizeof nums[0]; k++) known |= !strcmp(a, nums[k].name);
        if (!known) return usage_error("unknown flag \"%s\"", a);
        if (i + 1 >= argc) return usage_error("%s needs a value", a);
        const char *v = argv[++i];
        if (!strcmp(a, "--out")) {
            if (!*v) return usage_error("--out needs a folder name");
            o->out = v;
            continue;
        }
        if (!strcmp(a, "--seed")) {
            char *end;
            errno = 0;
            unsigned long long s = strtoull(v, &end, 10);
            if (errno || end == v || *end || *v == '-')
                return usage_error("--seed needs a non-negative integer, got \"%s\"", v);
            o->seed = (uint64_t)s;
            continue;
        }
        for (size_t k = 0; k < sizeof nums / sizeof nums[0]; k++)
            if (!strcmp(a, nums[k].name) && parse_long(a, v, nums[k].lo, nums[k].hi, nums[k].dst))
                return EXIT_USAGE;
    }
    if (!o->out) return usage_error("--out DIR is required");
    if (o->width % 2 || o->height % 2)
        return usage_error("--width and --height must be even (yuv420p), got %ldx%ld", o->width, o->height);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Random numbers (splitmix64)                                              */
/* ------------------------------------------------------------------------ */

static uint64_t mix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static int rnd(uint64_t *s, int n) { return (int)(mix64(s) % (uint64_t)n); }
static double rnd01(uint64_t *s) { return (double)(mix64(s) >> 11) * (1.0 / 9007199254740992.0); }

/* ------------------------------------------------------------------------ */
/* Scenes and captions                                                      */
/* ------------------------------------------------------------------------ */

enum { SH_SQUARE, SH_CIRCLE, SH_TRIANGLE, SH_BAR, SH_DIAMOND, SH_RING, NUM_SHAPES };
static const char *const shape_names[NUM_SHAPES] = {"square", "circle", "triangle", "bar", "diamond", "ring"};

typedef struct colour { const char *name; uint8_t r, g, b; } colour;
static const colour colours[] = {
    {"red", 220, 30, 30},    {"green", 30, 180, 50},   {"blue", 40, 70, 230},
    {"yellow", 240, 220, 30}, {"orange", 250, 140, 20}, {"purple", 140, 50, 190},
    {"pink", 250, 120, 180}, {"cyan", 40, 210, 220},
};
#define NUM_COLOURS ((int)(sizeof colours / sizeof colours[0]))

enum { MO_RIGHT, MO_LEFT, MO_UP, MO_DOWN, MO_DIAGONAL, MO_STILL, MO_GROW, NUM_MOTIONS };
static const char *const motion_names[NUM_MOTIONS] = {"left-to-right", "right-to-left", "up", "down",
                                                      "diagonal", "still", "growing"};
static const char *const motion_phrases[NUM_MOTIONS][4] = {
    {"moves from left to right", "slides from the left side to the right side", "travels left to right",
     "drifts to the right"},
    {"moves from right to left", "slides from the right side to the left side", "travels right to left",
     "drifts to the left"},
    {"moves upward", "rises from the bottom to the top", "drifts upward", "travels up the frame"},
    {"moves downward", "falls from the top to the bottom", "drifts downward", "sinks down the frame"},
    {"moves diagonally across the frame", "crosses the frame diagonally", "glides along a diagonal",
     "travels from one corner toward the opposite corner"},
    {"stays still", "sits motionless", "remains in place", "does not move"},
    {"grows larger", "expands in place", "slowly gets bigger", "swells up in the middle"},
};

enum { BG_BLACK, BG_WHITE, BG_GRAY, BG_GRADIENT, NUM_BACKGROUNDS };
static const char *const background_names[NUM_BACKGROUNDS] = {"black", "white", "gray", "gradient"};

typedef struct scene {
    int shape, colour, motion, background, large, frames;
    int diag; /* which diagonal: bit 0 flips x, bit 1 flips y */
    double lane; /* position across the direction of motion, 0..1 */
    double cx, cy; /* still/growing centre, 0..1 */
} scene;

static scene make_scene(uint64_t seed, uint64_t stream, long index, long frames)
{
    uint64_t s = seed ^ (stream * 0xD1B54A32D192ED03ull) ^ ((uint64_t)index * 0x8CB92BA72F3D8DD7ull);
    mix64(&s);
    scene c;
    c.shape = rnd(&s, NUM_SHAPES);
    c.colour = rnd(&s, NUM_COLOURS);
    c.motion = rnd(&s, NUM_MOTIONS);
    c.background = rnd(&s, NUM_BACKGROUNDS);
    c.large = rnd(&s, 2);
    c.frames = (int)(frames + rnd(&s, (int)(frames / 2 + 1)));
    c.diag = rnd(&s, 4);
    c.lane = 0.3 + 0.4 * rnd01(&s);
    c.cx = 0.35 + 0.3 * rnd01(&s);
    c.cy = 0.35 + 0.3 * rnd01(&s);
    return c;
}

/* Replace "a" by "an" before a vowel ("an orange circle"). */
static void fix_articles(char *buf, size_t cap)
{
    for (size_t i = 0; buf[i]; i++) {
        int word_start = i == 0 || buf[i - 1] == ' ' || buf[i - 1] == '"';
        if (word_start && (buf[i] == 'a' || buf[i] == 'A') && buf[i + 1] == ' ' &&
            strchr("aeiou", buf[i + 2]) && buf[i + 2]) {
            size_t n = strlen(buf);
            if (n + 2 > cap) return;
            memmove(buf + i + 2, buf + i + 1, n - i);
            buf[i + 1] = 'n';
        }
    }
}

typedef struct words {
    const char *c, *s, *m, *bg, *size;
} words;

static words scene_words(const scene *c, uint64_t *rng)
{
    static const char *const bg_webvid[NUM_BACKGROUNDS] = {"black", "white", "gray", "gradient"};
    words w;
    w.c = colours[c->colour].name;
    w.s = shape_names[c->shape];
    w.m = motion_phrases[c->motion][rnd(rng, 4)];
    w.bg = bg_webvid[c->background];
    w.size = c->large ? (rnd(rng, 2) ? "large" : "big") : (rnd(rng, 2) ? "small" : "little");
    return w;
}

/* WebVid-style captions: stock-footage titles, some with commas and quotes. */
static void webvid_caption(const scene *c, uint64_t *rng, char *out, size_t cap)
{
    words w = scene_words(c, rng);
    switch (rnd(rng, 8)) {
    case 0: snprintf(out, cap, "A %s %s %s on a %s background", w.c, w.s, w.m, w.bg); break;
    case 1: snprintf(out, cap, "On a %s background, a %s %s %s %s", w.bg, w.size, w.c, w.s, w.m); break;
    case 2: snprintf(out, cap, "%s %s %s %s, %s background", w.size, w.c, w.s, w.m, w.bg); break;
    case 3: snprintf(out, cap, "Animation: a %s %s %s against a %s backdrop, loop", w.c, w.s, w.m, w.bg); break;
    case 4: snprintf(out, cap, "\"%s %s\" %s, %s background, 4k", w.c, w.s, w.m, w.bg); break;
    case 5: snprintf(out, cap, "Simple shapes: a %s \"%s\" %s on %s", w.c, w.s, w.m, w.bg); break;
    case 6: snprintf(out, cap, "Close-up of a %s %s %s that %s in front of a %s background", w.size, w.c,
                     w.s, w.m, w.bg); break;
    default: snprintf(out, cap, "The %s %s %s; the background is %s", w.c, w.s, w.m, w.bg); break;
    }
    if (out[0] >= 'a' && out[0] <= 'z') out[0] = (char)(out[0] - 'a' + 'A');
    fix_articles(out, cap);
}

/* MSRVTT-style captions: lower case, no punctuation; template t of 10. */
static void msrvtt_caption(const scene *c, int t, uint64_t *rng, char *out, size_t cap)
{
    words w = scene_words(c, rng);
    switch (t) {
    case 0: snprintf(out, cap, "a %s %s %s", w.c, w.s, w.m); break;
    case 1: snprintf(out, cap, "a %s %s %s %s on a %s background", w.size, w.c, w.s, w.m, w.bg); break;
    case 2: snprintf(out, cap, "there is a %s %s that %s", w.c, w.s, w.m); break;
    case 3: snprintf(out, cap, "a %s %s %s against a %s screen", w.c, w.s, w.m, w.bg); break;
    case 4: snprintf(out, cap, "an animation of a %s %s which %s", w.c, w.s, w.m); break;
    case 5: snprintf(out, cap, "a %s colored %s %s over a %s background", w.c, w.s, w.m, w.bg); break;
    case 6: snprintf(out, cap, "someone made a video where a %s %s %s", w.c, w.s, w.m); break;
    case 7: snprintf(out, cap, "the %s %s %s while the background stays %s", w.c, w.s, w.m, w.bg); break;
    case 8: snprintf(out, cap, "a %s background with a %s %s that %s", w.bg, w.c, w.s, w.m); break;
    default: snprintf(out, cap, "a simple graphic of a %s %s %s that %s", w.size, w.c, w.s, w.m); break;
    }
    fix_articles(out, cap);
}

/* ------------------------------------------------------------------------ */
/* Rendering                                                                */
/* ------------------------------------------------------------------------ */

static int inside(int shape, double dx, double dy, double r)
{
    switch (shape) {
    case SH_SQUARE: return dx >= -r && dx <= r && dy >= -r && dy <= r;
    case SH_CIRCLE: return dx * dx + dy * dy <= r * r;
    case SH_TRIANGLE: return dy >= -r && dy <= r && 2 * (dx < 0 ? -dx : dx) <= dy + r;
    case SH_BAR: return dx >= -0.35 * r && dx <= 0.35 * r && dy >= -r && dy <= r;
    case SH_DIAMOND: return (dx < 0 ? -dx : dx) + (dy < 0 ? -dy : dy) <= r;
    default: {
        double d2 = dx * dx + dy * dy;
        return d2 <= r * r && d2 >= 0.3 * r * r;
    }
    }
}

static void render(const scene *c, int f, int W, int H, uint8_t *rgb)
{
    double t = c->frames > 1 ? (double)f / (c->frames - 1) : 0.0;
    double side = W < H ? W : H;
    double r = (c->large ? 0.22 : 0.13) * side;
    double cx, cy;
    switch (c->motion) {
    case MO_RIGHT: cx = r + t * (W - 2 * r); cy = c->lane * H; break;
    case MO_LEFT: cx = W - r - t * (W - 2 * r); cy = c->lane * H; break;
    case MO_UP: cx = c->lane * W; cy = H - r - t * (H - 2 * r); break;
    case MO_DOWN: cx = c->lane * W; cy = r + t * (H - 2 * r); break;
    case MO_DIAGONAL: {
        double u = c->diag & 1 ? 1 - t : t, v = c->diag & 2 ? 1 - t : t;
        cx = r + u * (W - 2 * r);
        cy = r + v * (H - 2 * r);
        break;
    }
    case MO_GROW: r *= 0.4 + 0.9 * t; /* fall through */
    default: cx = c->cx * W; cy = c->cy * H; break;
    }
    const colour *col = &colours[c->colour];
    for (int y = 0; y < H; y++) {
        uint8_t bg;
        switch (c->background) {
        case BG_BLACK: bg = 0; break;
        case BG_WHITE: bg = 255; break;
        case BG_GRAY: bg = 128; break;
        default: bg = (uint8_t)(20 + 215 * y / (H - 1)); break;
        }
        uint8_t *row = rgb + (size_t)y * W * 3;
        for (int x = 0; x < W; x++) {
            uint8_t *px = row + 3 * x;
            if (inside(c->shape, x + 0.5 - cx, y + 0.5 - cy, r)) {
                px[0] = col->r;
                px[1] = col->g;
                px[2] = col->b;
            } else {
                uint8_t v = c->background == BG_GRADIENT ? (uint8_t)(bg * (W + x) / (2 * W)) : bg;
                px[0] = px[1] = px[2] = v;
            }
        }
    }
}

/* ------------------------------------------------------------------------ */
/* Encoding                                                                 */
/* ------------------------------------------------------------------------ */

typedef struct encoder {
    const AVCodec *codec;
    int x264;
    int W, H;
    struct SwsContext *sws;
    AVFrame *frame;
    uint8_t *rgb;
    AVPacket *pkt;
} encoder;

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, PROG ": error: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
}

/* snprintf for paths: -1 (with a message) when it does not fit. */
static int fmt_path(char *buf, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fmt_path(char *buf, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, cap, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= cap) {
        fail("path too long (%d bytes or more)", n);
        return -1;
    }
    return 0;
}

static const char *averr(int e)
{
    static char buf[AV_ERROR_MAX_STRING_SIZE];
    av_strerror(e, buf, sizeof buf);
    return buf;
}

static int encoder_init(encoder *e, int W, int H)
{
    memset(e, 0, sizeof *e);
    e->W = W;
    e->H = H;
    e->codec = avcodec_find_encoder_by_name("libx264");
    e->x264 = e->codec != NULL;
    if (!e->codec) e->codec = avcodec_find_encoder(AV_CODEC_ID_MPEG4);
    if (!e->codec) {
        fail("FFmpeg has neither the libx264 nor the MPEG-4 encoder");
        return -1;
    }
    e->sws = sws_getContext(W, H, AV_PIX_FMT_RGB24, W, H, AV_PIX_FMT_YUV420P, SWS_POINT, NULL, NULL, NULL);
    e->frame = av_frame_alloc();
    e->pkt = av_packet_alloc();
    e->rgb = malloc((size_t)W * H * 3);
    if (!e->sws || !e->frame || !e->pkt || !e->rgb) {
        fail("out of memory setting up the encoder");
        return -1;
    }
    e->frame->format = AV_PIX_FMT_YUV420P;
    e->frame->width = W;
    e->frame->height = H;
    if (av_frame_get_buffer(e->frame, 0) < 0) {
        fail("out of memory for a %dx%d frame", W, H);
        return -1;
    }
    return 0;
}

static void encoder_free(encoder *e)
{
    sws_freeContext(e->sws);
    av_frame_free(&e->frame);
    av_packet_free(&e->pkt);
    free(e->rgb);
}

static int drain(AVCodecContext *ctx, AVFormatContext *oc, AVStream *st, AVPacket *pkt)
{
    for (;;) {
        int r = avcodec_receive_packet(ctx, pkt);
        if (r == AVERROR(EAGAIN) || r == AVERROR_EOF) return 0;
        if (r < 0) return r;
        if (pkt->duration == 0) pkt->duration = 1; /* one frame: exact mp4 sample durations */
        av_packet_rescale_ts(pkt, ctx->time_base, st->time_base);
        pkt->stream_index = st->index;
        r = av_interleaved_write_frame(oc, pkt);
        if (r < 0) return r;
    }
}

/* Encode the scene to `path` (via path.part, renamed when complete). */
static int encode_scene(encoder *e, const scene *c, const char *path)
{
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s.part", path) >= (int)sizeof tmp) {
        fail("path too long: %s", path);
        return -1;
    }
    AVFormatContext *oc = NULL;
    AVCodecContext *ctx = NULL;
    int r = avformat_alloc_output_context2(&oc, NULL, "mp4", tmp);
    const char *what = "creating the mp4 muxer";
    if (r < 0) goto out;
    oc->flags |= AVFMT_FLAG_BITEXACT;
    AVStream *st = avformat_new_stream(oc, NULL);
    ctx = avcodec_alloc_context3(e->codec);
    r = AVERROR(ENOMEM);
    if (!st || !ctx) goto out;
    ctx->width = e->W;
    ctx->height = e->H;
    ctx->pix_fmt = AV_PIX_FMT_YUV420P;
    ctx->time_base = (AVRational){1, FPS};
    ctx->framerate = (AVRational){FPS, 1};
    ctx->gop_size = FPS;
    ctx->max_b_frames = 0;
    ctx->thread_count = 1;
    ctx->flags |= AV_CODEC_FLAG_BITEXACT;
    if (oc->oformat->flags & AVFMT_GLOBALHEADER) ctx->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    if (e->x264) {
        av_opt_set(ctx->priv_data, "preset", "ultrafast", 0);
        av_opt_set(ctx->priv_data, "crf", "20", 0);
    } else {
        ctx->bit_rate = 400000;
    }
    what = "opening the encoder";
    if ((r = avcodec_open2(ctx, e->codec, NULL)) < 0) goto out;
    what = "setting the stream parameters";
    if ((r = avcodec_parameters_from_context(st->codecpar, ctx)) < 0) goto out;
    st->time_base = ctx->time_base;
    st->avg_frame_rate = ctx->framerate;
    what = "creating the file";
    if ((r = avio_open(&oc->pb, tmp, AVIO_FLAG_WRITE)) < 0) goto out;
    what = "writing the mp4 header";
    if ((r = avformat_write_header(oc, NULL)) < 0) goto out;
    what = "encoding";
    for (int f = 0; f < c->frames; f++) {
        render(c, f, e->W, e->H, e->rgb);
        if ((r = av_frame_make_writable(e->frame)) < 0) goto out;
        const uint8_t *src[1] = {e->rgb};
        int stride[1] = {3 * e->W};
        sws_scale(e->sws, src, stride, 0, e->H, e->frame->data, e->frame->linesize);
        e->frame->pts = f;
        if ((r = avcodec_send_frame(ctx, e->frame)) < 0) goto out;
        if ((r = drain(ctx, oc, st, e->pkt)) < 0) goto out;
    }
    if ((r = avcodec_send_frame(ctx, NULL)) < 0) goto out;
    if ((r = drain(ctx, oc, st, e->pkt)) < 0) goto out;
    what = "finishing the mp4";
    if ((r = av_write_trailer(oc)) < 0) goto out;
    r = avio_closep(&oc->pb);
out:
    if (r < 0) fail("%s: %s: %s", path, what, averr(r));
    avcodec_free_context(&ctx);
    if (oc && oc->pb) avio_closep(&oc->pb);
    avformat_free_context(oc);
    if (r >= 0 && rename(tmp, path) != 0) {
        fail("cannot rename %s to %s: %s", tmp, path, strerror(errno));
        r = -1;
    }
    if (r < 0) remove(tmp);
    return r < 0 ? -1 : 0;
}

/* ------------------------------------------------------------------------ */
/* Files                                                                    */
/* ------------------------------------------------------------------------ */

static int mkdirs(const char *path)
{
    char buf[PATH_MAX];
    size_t n = strlen(path);
    if (n >= sizeof buf) {
        fail("path too long: %s", path);
        return -1;
    }
    memcpy(buf, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] != '/' && buf[i] != '\0') continue;
        char saved = buf[i];
        buf[i] = '\0';
        if (mkdir(buf, 0777) != 0 && errno != EEXIST) {
            fail("cannot create folder %s: %s", buf, strerror(errno));
            return -1;
        }
        buf[i] = saved;
    }
    return 0;
}

static FILE *open_out(const char *dir, const char *name, char *path, size_t cap)
{
    if (fmt_path(path, cap, "%s/%s", dir, name)) return NULL;
    FILE *f = fopen(path, "wb");
    if (!f) fail("cannot write %s: %s", path, strerror(errno));
    return f;
}

static int close_out(FILE *f, const char *path)
{
    int bad = ferror(f);
    if (fclose(f) != 0 || bad) {
        fail("write error in %s", path);
        return -1;
    }
    return 0;
}

/* One CSV field, quoted (RFC 4180) when it holds a comma, quote or line end. */
static void csv_field(FILE *f, const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"') fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static void json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\') fprintf(f, "\\%c", ch);
        else if (ch < 0x20) fprintf(f, "\\u%04x", ch);
        else fputc(ch, f);
    }
    fputc('"', f);
}

/* ------------------------------------------------------------------------ */
/* The two layouts                                                          */
/* ------------------------------------------------------------------------ */

typedef struct run {
    const options *o;
    encoder enc;
    FILE *truth;
    long done, total;
    struct timespec t0;
} run;

static double elapsed(const run *r)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - r->t0.tv_sec) + 1e-9 * (double)(t.tv_nsec - r->t0.tv_nsec);
}

static int make_video(run *r, const scene *c, const char *layout, const char *id, const char *rel)
{
    char path[PATH_MAX];
    if (fmt_path(path, sizeof path, "%s/%s", r->o->out, rel)) return -1;
    if (encode_scene(&r->enc, c, path)) return -1;
    fprintf(r->truth, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%ld\t%ld\n", layout, id, rel, shape_names[c->shape],
            colours[c->colour].name, motion_names[c->motion], background_names[c->background], c->frames,
            r->o->width, r->o->height);
    r->done++;
    if (r->done % 10 == 0 || r->done == r->total)
        fprintf(stderr, PROG ": %ld/%ld videos (%.1f s)\n", r->done, r->total, elapsed(r));
    return 0;
}

static int write_webvid_split(run *r, const char *csv_name, const char *layout, uint64_t stream, long n,
                              long first_id)
{
    char dir[PATH_MAX], path[PATH_MAX];
    if (fmt_path(dir, sizeof dir, "%s/webvid", r->o->out)) return -1;
    FILE *f = open_out(dir, csv_name, path, sizeof path);
    if (!f) return -1;
    fprintf(f, "videoid,contentUrl,duration,page_dir,name\n");
    for (long i = 0; i < n; i++) {
        scene c = make_scene(r->o->seed, stream, i, r->o->frames);
        uint64_t rng = r->o->seed * 31 + stream * 7919 + (uint64_t)i;
        mix64(&rng);
        char caption[MAX_CAPTION], id[32], page[32], rel[PATH_MAX], vdir[PATH_MAX];
        webvid_caption(&c, &rng, caption, sizeof caption);
        long vid = first_id + i;
        long pg = (vid - WEBVID_FIRST_ID) / WEBVID_PAGE;
        if (fmt_path(id, sizeof id, "%ld", vid) ||
            fmt_path(page, sizeof page, "%06ld_%06ld", pg * WEBVID_PAGE + 1, pg * WEBVID_PAGE + WEBVID_PAGE) ||
            fmt_path(vdir, sizeof vdir, "%s/webvid/videos/%s", r->o->out, page) ||
            fmt_path(rel, sizeof rel, "webvid/videos/%s/%s.mp4", page, id) || mkdirs(vdir) ||
            make_video(r, &c, layout, id, rel)) {
            fclose(f);
            return -1;
        }
        int secs = (c.frames + FPS / 2) / FPS;
        fprintf(f, "%s,https://example.com/simvtp-sample/%s.mp4,PT00H%02dM%02dS,%s,", id, id, secs / 60,
                secs % 60, page);
        csv_field(f, caption);
        fputc('\n', f);
    }
    return close_out(f, path);
}

typedef struct sentence { int video, k; } sentence;

static int write_msrvtt(run *r)
{
    const options *o = r->o;
    long nv = o->msrvtt_train + o->msrvtt_test;
    char dir[PATH_MAX], path[PATH_MAX], vdir[PATH_MAX];
    if (fmt_path(dir, sizeof dir, "%s/msrvtt", o->out) ||
        fmt_path(vdir, sizeof vdir, "%s/msrvtt/videos", o->out) || mkdirs(vdir))
        return -1;
    scene *sc = malloc((size_t)(nv ? nv : 1) * sizeof *sc);
    int *ncap = malloc((size_t)(nv ? nv : 1) * sizeof *ncap);
    char(*caps)[MAX_PARAPHRASES][MAX_CAPTION] = malloc((size_t)(nv ? nv : 1) * sizeof *caps);
    sentence *sent = malloc((size_t)(nv ? nv : 1) * MAX_PARAPHRASES * sizeof *sent);
    int rc = -1;
    FILE *f = NULL;
    if (!sc || !ncap || !caps || !sent) {
        fail("out of memory for %ld MSRVTT videos", nv);
        goto out;
    }
    uint64_t rng = o->seed ^ 0x4D535256545431ull; /* "MSRVTT1" */
    mix64(&rng);
    long ns = 0;
    for (long v = 0; v < nv; v++) {
        sc[v] = make_scene(o->seed, 3, v, o->frames);
        ncap[v] = MIN_PARAPHRASES + rnd(&rng, MAX_PARAPHRASES - MIN_PARAPHRASES + 1);
        int order[10] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
        for (int i = 9; i > 0; i--) {
            int j = rnd(&rng, i + 1), t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
        for (int k = 0; k < ncap[v]; k++) {
            msrvtt_caption(&sc[v], order[k], &rng, caps[v][k], MAX_CAPTION);
            sent[ns].video = (int)v;
            sent[ns].k = k;
            ns++;
        }
    }
    for (long i = ns - 1; i > 0; i--) { /* sen_ids interleave videos, as in the real file */
        long j = (long)(mix64(&rng) % (uint64_t)(i + 1));
        sentence t = sent[i];
        sent[i] = sent[j];
        sent[j] = t;
    }
    for (long v = 0; v < nv; v++) {
        char id[32], rel[64];
        if (fmt_path(id, sizeof id, "video%ld", v) || fmt_path(rel, sizeof rel, "msrvtt/videos/%s.mp4", id))
            goto out;
        if (make_video(r, &sc[v], v < o->msrvtt_train ? "msrvtt-train" : "msrvtt-test", id, rel)) goto out;
    }

    if (!(f = open_out(dir, "MSRVTT_data.json", path, sizeof path))) goto out;
    fprintf(f, "{\"info\": {\"contributor\": \"" PROG "\", \"data_created\": \"synthetic\", "
               "\"description\": \"synthetic clips of moving coloured shapes\", \"version\": \"1.0\", "
               "\"year\": \"2024\"},\n \"videos\": [");
    for (long v = 0; v < nv; v++) {
        double secs = (double)sc[v].frames / FPS;
        fprintf(f, "%s\n  {\"category\": %d, \"url\": \"https://example.com/simvtp-sample/video%ld\", "
                   "\"video_id\": \"video%ld\", \"start time\": 0.0, \"end time\": %.2f, \"split\": \"%s\", "
                   "\"id\": %ld}",
                v ? "," : "", sc[v].shape, v, v, secs, v < o->msrvtt_train ? "train" : "test", v);
    }
    fprintf(f, "\n ],\n \"sentences\": [");
    for (long i = 0; i < ns; i++) {
        fprintf(f, "%s\n  {\"caption\": ", i ? "," : "");
        json_string(f, caps[sent[i].video][sent[i].k]);
        fprintf(f, ", \"video_id\": \"video%d\", \"sen_id\": %ld}", sent[i].video, i);
    }
    fprintf(f, "\n ]\n}\n");
    if (close_out(f, path)) { f = NULL; goto out; }

    if (!(f = open_out(dir, "MSRVTT_train.9k.csv", path, sizeof path))) goto out;
    fprintf(f, "video_id\n");
    for (long v = 0; v < o->msrvtt_train; v++) fprintf(f, "video%ld\n", v);
    if (close_out(f, path)) { f = NULL; goto out; }

    if (!(f = open_out(dir, "MSRVTT_JSFUSION_test.csv", path, sizeof path))) goto out;
    fprintf(f, "key,vid_key,video_id,sentence\n");
    for (long v = o->msrvtt_train; v < nv; v++) {
        fprintf(f, "ret%ld,msr%ld,video%ld,", v - o->msrvtt_train, v, v);
        csv_field(f, caps[v][0]);
        fputc('\n', f);
    }
    rc = close_out(f, path);
    f = NULL;
out:
    if (f) fclose(f);
    free(sc);
    free(ncap);
    free(caps);
    free(sent);
    return rc;
}

int main(int argc, char **argv)
{
    options o;
    int help;
    int rc = parse_options(argc, argv, &o, &help);
    if (rc) return rc;
    if (help) {
        usage(stdout);
        return 0;
    }
    av_log_set_level(AV_LOG_ERROR);
    run r;
    memset(&r, 0, sizeof r);
    r.o = &o;
    r.total = o.webvid_train + o.webvid_val + o.msrvtt_train + o.msrvtt_test;
    clock_gettime(CLOCK_MONOTONIC, &r.t0);
    char path[PATH_MAX];
    if (fmt_path(path, sizeof path, "%s/webvid", o.out) || mkdirs(path)) return EXIT_RUN;
    if (encoder_init(&r.enc, (int)o.width, (int)o.height)) {
        encoder_free(&r.enc);
        return EXIT_RUN;
    }
    r.truth = open_out(o.out, "truth.tsv", path, sizeof path);
    if (!r.truth) {
        encoder_free(&r.enc);
        return EXIT_RUN;
    }
    fprintf(r.truth, "layout\tvideo_id\tpath\tshape\tcolour\tmotion\tbackground\tframes\twidth\theight\n");
    rc = write_webvid_split(&r, "results_2M_train.csv", "webvid-train", 1, o.webvid_train, WEBVID_FIRST_ID);
    if (!rc)
        rc = write_webvid_split(&r, "results_2M_val.csv", "webvid-val", 2, o.webvid_val,
                                WEBVID_FIRST_ID + o.webvid_train);
    if (!rc) rc = write_msrvtt(&r);
    if (close_out(r.truth, path)) rc = -1;
    encoder_free(&r.enc);
    if (rc) return EXIT_RUN;
    double s = elapsed(&r);
    fprintf(stderr, PROG ": wrote %ld videos (%s, %ldx%ld) to %s in %.2f s (%.0f videos/s)\n", r.total,
            r.enc.x264 ? "H.264" : "MPEG-4", o.width, o.height, o.out, s, s > 0 ? r.total / s : 0.0);
    return 0;
}

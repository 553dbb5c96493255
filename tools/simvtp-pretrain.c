/* simvtp-pretrain — SimVTP pretraining from the command line, through the
 * public libsimvtp API only.
 *
 * For now the data source is --synthetic: in-memory clips of a coloured
 * square moving across a dark, slightly noisy background, each captioned by a
 * template sentence ("a big red square moves left") whose word ids come from
 * a small fixed table. Everything is deterministic from --seed. One progress
 * line per step; with --out DIR the weights (DIR/model.svtp) and training
 * state (DIR/state.svtpt) are saved at the end. */
#include <simvtp/simvtp.h>

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define PROG "simvtp-pretrain"

/* exit statuses */
#define EXIT_USAGE 2
#define EXIT_RUN 1

/* ------------------------------------------------------------------------ */
/* Options                                                                  */
/* ------------------------------------------------------------------------ */

typedef struct options {
    const char *preset;
    int synthetic;
    long steps;
    long batch;
    uint64_t seed;
    int have_lr;
    float lr;
    long warmup;
    long threads;
    const char *out;
    int quiet;
} options;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: " PROG " --synthetic [options]\n"
            "\n"
            "Pretrains a SimVTP model (masked video + masked text autoencoding, VTC, VTM).\n"
            "\n"
            "data:\n"
            "  --synthetic        generated clips of moving coloured squares with template\n"
            "                     captions (the only data source of this version)\n"
            "model and training:\n"
            "  --preset NAME      model preset: tiny (default), small, vit-b\n"
            "  --steps N          training steps (default 20)\n"
            "  --batch B          clips per step, at least 2 (default 4)\n"
            "  --seed S           seed of the data, the initialization and the masks (default 0)\n"
            "  --lr X             peak learning rate (default: the library's, 1.5e-4)\n"
            "  --warmup N         linear warmup steps before the cosine decay (default 0)\n"
            "  --threads N        CPU threads (default: OpenMP's choice)\n"
            "output:\n"
            "  --out DIR          save DIR/model.svtp and DIR/state.svtpt at the end\n"
            "                     (DIR is created if missing; default: save nothing)\n"
            "  --quiet            no per-step progress lines\n"
            "  --help             this text\n"
            "  --version          the libsimvtp version\n"
            "\n"
            "example: " PROG " --preset tiny --synthetic --steps 20 --batch 4 --out run1\n");
}

#if defined(__GNUC__)
#define PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))
#else
#define PRINTF_LIKE(f, a)
#endif

/* One clear line on stderr, then the usage exit status. */
static int bad_flag(const char *fmt, ...) PRINTF_LIKE(1, 2);
static int bad_flag(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, PROG ": ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (see " PROG " --help)\n");
    return EXIT_USAGE;
}

static int parse_long(const char *flag, const char *v, long lo, long hi, long *out)
{
    char *end;
    long x;
    errno = 0;
    x = strtol(v, &end, 10);
    if (errno || end == v || *end != '\0' || x < lo || x > hi)
        return bad_flag("%s needs an integer in [%ld, %ld], not '%s'", flag, lo, hi, v);
    *out = x;
    return 0;
}

static int parse_u64(const char *flag, const char *v, uint64_t *out)
{
    char *end;
    unsigned long long x;
    errno = 0;
    if (v[0] == '-')
        return bad_flag("%s needs a non-negative integer, not '%s'", flag, v);
    x = strtoull(v, &end, 0);
    if (errno || end == v || *end != '\0')
        return bad_flag("%s needs a non-negative integer, not '%s'", flag, v);
    *out = (uint64_t)x;
    return 0;
}

static int parse_float(const char *flag, const char *v, float *out)
{
    char *end;
    double x;
    errno = 0;
    x = strtod(v, &end);
    if (errno || end == v || *end != '\0' || !isfinite(x) || x <= 0.0 || x > 1.0)
        return bad_flag("%s needs a number in (0, 1], not '%s'", flag, v);
    *out = (float)x;
    return 0;
}

/* Returns 0 to run, -1 after --help/--version (exit 0), else an exit status. */
static int parse_args(int argc, char **argv, options *o)
{
    int i;
    memset(o, 0, sizeof *o);
    o->preset = "tiny";
    o->steps = 20;
    o->batch = 4;
    for (i = 1; i < argc; i++) {
        const char *arg = argv[i], *val = NULL, *eq;
        char flag[64];
        int rc = 0;
        if (strncmp(arg, "--", 2) != 0 || arg[2] == '\0')
            return bad_flag("unexpected argument '%s'", arg);
        /* --flag=value or --flag value */
        eq = strchr(arg, '=');
        if (eq) {
            size_t n = (size_t)(eq - arg);
            if (n >= sizeof flag)
                return bad_flag("unknown option '%s'", arg);
            memcpy(flag, arg, n);
            flag[n] = '\0';
            val = eq + 1;
        } else {
            snprintf(flag, sizeof flag, "%s", arg);
        }

        if (!strcmp(flag, "--help") || !strcmp(flag, "-h")) {
            usage(stdout);
            return -1;
        } else if (!strcmp(flag, "--version")) {
            printf(PROG " (libsimvtp %s)\n", simvtp_version_string());
            return -1;
        } else if (!strcmp(flag, "--synthetic") || !strcmp(flag, "--quiet")) {
            if (val)
                return bad_flag("%s takes no value", flag);
            if (!strcmp(flag, "--synthetic"))
                o->synthetic = 1;
            else
                o->quiet = 1;
            continue;
        }

        if (!strcmp(flag, "--preset") || !strcmp(flag, "--steps") || !strcmp(flag, "--batch") ||
            !strcmp(flag, "--seed") || !strcmp(flag, "--lr") || !strcmp(flag, "--warmup") ||
            !strcmp(flag, "--threads") || !strcmp(flag, "--out")) {
            if (!val) {
                if (i + 1 >= argc)
                    return bad_flag("%s needs a value", flag);
                val = argv[++i];
            }
            if (val[0] == '\0')
                return bad_flag("%s needs a value", flag);
        } else {
            return bad_flag("unknown option '%s'", flag);
        }

        if (!strcmp(flag, "--preset"))
            o->preset = val;
        else if (!strcmp(flag, "--steps"))
            rc = parse_long(flag, val, 1, 100000000L, &o->steps);
        else if (!strcmp(flag, "--batch"))
            rc = parse_long(flag, val, 2, 65536, &o->batch);
        else if (!strcmp(flag, "--seed"))
            rc = parse_u64(flag, val, &o->seed);
        else if (!strcmp(flag, "--lr")) {
            rc = parse_float(flag, val, &o->lr);
            o->have_lr = 1;
        } else if (!strcmp(flag, "--warmup"))
            rc = parse_long(flag, val, 0, 100000000L, &o->warmup);
        else if (!strcmp(flag, "--threads"))
            rc = parse_long(flag, val, 1, 4096, &o->threads);
        else if (!strcmp(flag, "--out"))
            o->out = val;
        if (rc)
            return rc;
    }
    if (!o->synthetic)
        return bad_flag("no data: pass --synthetic (the only data source of this version)");
    if (o->warmup > o->steps)
        return bad_flag("--warmup (%ld) must not exceed --steps (%ld)", o->warmup, o->steps);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Synthetic clips: a coloured square moving across the frame               */
/* ------------------------------------------------------------------------ */

#define TOKEN_PAD 0
#define TOKEN_CLS 101
#define TOKEN_SEP 102
#define TOKEN_FIRST_WORD 104 /* first id after BERT's special tokens */
#define CAPTION_LEN 8        /* [CLS] + 6 words + [SEP] for every template */

/* Word ids as in BERT's uncased vocabulary (any ids below vocab_size would
 * do; they are folded into range for presets with a smaller vocabulary). */
enum { W_A = 1037, W_THE = 1996, W_IS = 2003, W_SQUARE = 2675, W_MOVES = 5829,
       W_MOVING = 3048, W_SMALL = 2235, W_BIG = 2502 };

static const struct colour {
    const char *name;
    int32_t id;
    uint8_t rgb[3];
} k_colours[] = {
    {"red", 2417, {230, 40, 40}},     {"green", 2665, {40, 200, 60}},
    {"blue", 2630, {50, 80, 230}},    {"yellow", 3756, {240, 220, 40}},
    {"white", 2317, {240, 240, 240}}, {"purple", 6379, {150, 60, 200}},
};
#define N_COLOURS ((int)(sizeof k_colours / sizeof k_colours[0]))

static const struct direction {
    const char *name;
    int32_t id;
    int dx, dy;
} k_directions[] = {
    {"left", 2187, -1, 0}, {"right", 2157, 1, 0}, {"up", 2039, 0, -1}, {"down", 2091, 0, 1},
};
#define N_DIRECTIONS ((int)(sizeof k_directions / sizeof k_directions[0]))

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
    if (id < vocab)
        return id;
    if (vocab <= TOKEN_FIRST_WORD) /* no ordinary words at all: use the last id */
        return vocab - 1;
    return TOKEN_FIRST_WORD + id % (vocab - TOKEN_FIRST_WORD);
}

/* Clip number `index` of the stream seeded by `seed`: frames [T, H, W, 3] and
 * its caption (CAPTION_LEN ids). The same (seed, index) always gives the same clip. */
static void make_clip(const simvtp_config *c, uint64_t seed, uint64_t index, uint8_t *frames,
                      int32_t *caption)
{
    uint64_t s = seed * 0x2545F4914F6CDD1Dull ^ (index + 1) * 0x9E3779B97F4A7C15ull;
    const int T = c->frames, H = c->height, W = c->width;
    const struct colour *col = &k_colours[below(&s, N_COLOURS)];
    const struct direction *dir = &k_directions[below(&s, N_DIRECTIONS)];
    const int big = below(&s, 2);
    const int side_max = H < W ? H : W;
    int side = big ? side_max / 3 : side_max / 5;
    int bg[3], x0, y0, x1, y1, t, y, x, ch, template_id = below(&s, 2), k = 0;
    if (side < 2)
        side = 2;
    for (ch = 0; ch < 3; ch++)
        bg[ch] = 15 + below(&s, 40);

    /* start and end corners: across the frame along the direction, a random
     * fixed offset across it */
    x0 = below(&s, W - side + 1);
    y0 = below(&s, H - side + 1);
    x1 = x0;
    y1 = y0;
    if (dir->dx) {
        int margin = below(&s, (W - side) / 4 + 1);
        x0 = dir->dx > 0 ? margin : W - side - margin;
        x1 = dir->dx > 0 ? W - side - margin : margin;
    } else {
        int margin = below(&s, (H - side) / 4 + 1);
        y0 = dir->dy > 0 ? margin : H - side - margin;
        y1 = dir->dy > 0 ? H - side - margin : margin;
    }

    for (t = 0; t < T; t++) {
        double f = T > 1 ? (double)t / (T - 1) : 0.0;
        int sx = (int)lround(x0 + f * (x1 - x0)), sy = (int)lround(y0 + f * (y1 - y0));
        uint8_t *fr = frames + (size_t)t * H * W * 3;
        for (y = 0; y < H; y++)
            for (x = 0; x < W; x++) {
                uint8_t *px = fr + ((size_t)y * W + x) * 3;
                int inside = x >= sx && x < sx + side && y >= sy && y < sy + side;
                int noise = below(&s, 17) - 8;
                for (ch = 0; ch < 3; ch++) {
                    int v = (inside ? col->rgb[ch] : bg[ch]) + noise;
                    px[ch] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
                }
            }
    }

    caption[k++] = TOKEN_CLS;
    if (template_id == 0) { /* a {big|small} {colour} square moves {direction} */
        caption[k++] = W_A;
        caption[k++] = big ? W_BIG : W_SMALL;
        caption[k++] = col->id;
        caption[k++] = W_SQUARE;
        caption[k++] = W_MOVES;
        caption[k++] = dir->id;
    } else { /* the {colour} square is moving {direction} */
        caption[k++] = W_THE;
        caption[k++] = col->id;
        caption[k++] = W_SQUARE;
        caption[k++] = W_IS;
        caption[k++] = W_MOVING;
        caption[k++] = dir->id;
    }
    caption[k++] = TOKEN_SEP;
    for (k = 1; k < CAPTION_LEN - 1; k++)
        caption[k] = fold_id(caption[k], c->vocab_size);
}

/* ------------------------------------------------------------------------ */
/* Training                                                                 */
/* ------------------------------------------------------------------------ */

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void format_duration(double s, char *buf, size_t n)
{
    long t = s < 0 ? 0 : (long)(s + 0.5);
    if (t >= 3600)
        snprintf(buf, n, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else
        snprintf(buf, n, "%ld:%02ld", t / 60, t % 60);
}

static int lib_fail(const char *what, int status)
{
    fprintf(stderr, PROG ": %s failed: %s: %s\n", what, simvtp_strerror(status),
            simvtp_last_error());
    return EXIT_RUN;
}

/* Makes DIR if it does not exist; fails when it exists and is not a directory. */
static int ensure_dir(const char *dir)
{
    struct stat st;
    if (mkdir(dir, 0777) == 0)
        return 0;
    if (errno == EEXIST && stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
        return 0;
    fprintf(stderr, PROG ": cannot create the output directory '%s': %s\n", dir,
            errno == EEXIST ? "a file of that name exists" : strerror(errno));
    return EXIT_RUN;
}

static int save_outputs(const char *dir, const simvtp_model *m, simvtp_optimizer *o,
                        uint64_t clips_seen)
{
    char path[PATH_MAX];
    int rc;
    if (snprintf(path, sizeof path, "%s/model.svtp", dir) >= (int)sizeof path) {
        fprintf(stderr, PROG ": --out path too long\n");
        return EXIT_RUN;
    }
    rc = simvtp_model_save(m, path);
    if (rc != SIMVTP_OK)
        return lib_fail("saving the weights", rc);
    printf("saved %s\n", path);
    rc = simvtp_optimizer_set_data_position(o, clips_seen);
    if (rc != SIMVTP_OK)
        return lib_fail("simvtp_optimizer_set_data_position", rc);
    snprintf(path, sizeof path, "%s/state.svtpt", dir);
    rc = simvtp_optimizer_save(o, path);
    if (rc != SIMVTP_OK)
        return lib_fail("saving the training state", rc);
    printf("saved %s\n", path);
    return 0;
}

int main(int argc, char **argv)
{
    options opt;
    simvtp_config cfg;
    simvtp_model_params mp;
    simvtp_optimizer_params op;
    simvtp_model *model = NULL;
    simvtp_optimizer *optim = NULL;
    uint8_t *frames = NULL;
    int32_t *tokens = NULL, *lengths = NULL;
    size_t clip_bytes;
    double t_start;
    long step;
    int rc, ret = EXIT_RUN, b;

    rc = parse_args(argc, argv, &opt);
    if (rc < 0)
        return 0;
    if (rc > 0)
        return rc;

    rc = simvtp_config_preset(opt.preset, &cfg);
    if (rc != SIMVTP_OK) {
        fprintf(stderr, PROG ": unknown --preset '%s' (known: tiny, small, vit-b)\n", opt.preset);
        return EXIT_USAGE;
    }
    if (cfg.max_text_len < CAPTION_LEN) {
        fprintf(stderr, PROG ": preset '%s' allows %d text tokens; the synthetic captions need %d\n",
                opt.preset, cfg.max_text_len, CAPTION_LEN);
        return EXIT_USAGE;
    }

    /* Fail before training, not after, when the output cannot be written. */
    if (opt.out && ensure_dir(opt.out))
        return EXIT_RUN;

    simvtp_model_default_params(&mp);
    mp.seed = opt.seed;
    mp.threads = (int)opt.threads;
    rc = simvtp_model_create(&cfg, &mp, &model);
    if (rc != SIMVTP_OK)
        return lib_fail("simvtp_model_create", rc);

    simvtp_optimizer_default_params(&op);
    if (opt.have_lr)
        op.lr = opt.lr;
    op.warmup_steps = opt.warmup;
    op.total_steps = opt.steps;
    op.seed = opt.seed;
    rc = simvtp_optimizer_create(model, &op, &optim);
    if (rc != SIMVTP_OK) {
        lib_fail("simvtp_optimizer_create", rc);
        goto done;
    }

    clip_bytes = (size_t)cfg.frames * cfg.height * cfg.width * 3;
    frames = malloc(clip_bytes * (size_t)opt.batch);
    tokens = calloc((size_t)opt.batch * CAPTION_LEN, sizeof *tokens);
    lengths = calloc((size_t)opt.batch, sizeof *lengths);
    if (!frames || !tokens || !lengths) {
        fprintf(stderr, PROG ": out of memory for a batch of %ld clips\n", opt.batch);
        goto done;
    }

    printf(PROG ": preset %s (%lld parameters, clips %dx%dx%d, %d video tokens), synthetic data,"
           " %ld steps of %ld clips, seed %llu, peak lr %.3g\n",
           opt.preset, (long long)simvtp_model_num_params(model), cfg.frames, cfg.height,
           cfg.width, simvtp_config_num_video_tokens(&cfg), opt.steps, opt.batch,
           (unsigned long long)opt.seed, op.lr);
    fflush(stdout);

    t_start = now_seconds();
    for (step = 0; step < opt.steps; step++) {
        simvtp_batch batch;
        simvtp_losses l;
        simvtp_step_info info;
        double t0 = now_seconds(), t1, elapsed, rate;
        char eta[32];

        for (b = 0; b < opt.batch; b++) {
            make_clip(&cfg, opt.seed, (uint64_t)step * (uint64_t)opt.batch + (uint64_t)b,
                      frames + clip_bytes * (size_t)b, tokens + (size_t)b * CAPTION_LEN);
            lengths[b] = CAPTION_LEN;
        }
        memset(&batch, 0, sizeof batch);
        batch.size = sizeof batch;
        batch.batch = (int)opt.batch;
        batch.frames = frames;
        batch.max_len = CAPTION_LEN;
        batch.tokens = tokens;
        batch.lengths = lengths;
        memset(&l, 0, sizeof l);
        l.size = sizeof l;
        memset(&info, 0, sizeof info);
        info.size = sizeof info;

        rc = simvtp_train_step(optim, &batch, &l, &info);
        if (rc != SIMVTP_OK) {
            char what[64];
            snprintf(what, sizeof what, "step %ld: simvtp_train_step", step + 1);
            lib_fail(what, rc);
            goto done;
        }
        t1 = now_seconds();
        elapsed = t1 - t_start;
        rate = elapsed > 0 ? (double)(step + 1) * opt.batch / elapsed : 0.0;
        format_duration(elapsed / (step + 1) * (opt.steps - step - 1), eta, sizeof eta);
        if (!opt.quiet) {
            printf("step %ld/%ld  loss %.4f  video %.4f  mlm %.4f  vtc %.4f  vtm %.4f"
                   "  lr %.3e  %.1f clips/s  (%.2fs)  ETA %s\n",
                   step + 1, opt.steps, l.total, l.video_mse, l.mlm, l.vtc, l.vtm, info.lr, rate,
                   t1 - t0, eta);
            fflush(stdout);
        }
    }
    {
        char total[32];
        format_duration(now_seconds() - t_start, total, sizeof total);
        printf(PROG ": %ld steps in %s\n", opt.steps, total);
    }

    if (opt.out) {
        if (save_outputs(opt.out, model, optim, (uint64_t)opt.steps * (uint64_t)opt.batch))
            goto done;
    }
    ret = 0;

done:
    free(frames);
    free(tokens);
    free(lengths);
    simvtp_optimizer_free(optim);
    simvtp_model_free(model);
    return ret;
}

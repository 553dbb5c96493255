/* bench_shards.c — clips per second per core, .svtps shard to training clip
 * (frames + tokens), for the two clip shapes the library trains on:
 *   vit-b  16x224x224 from records stored at short side 256 (455x256, 16:9)
 *   tiny   8x64x64 from records stored at short side 128 (227x128)
 * Records: 32 stored frames (frame_step 4: 128 source frames), a smooth
 * moving picture with shapes and +-6 levels of noise (zstd level 3 keeps
 * ~90% of it, as it keeps ~94% of a decoded photograph), 2 captions of ~14
 * words; written at zstd level 3 (the default) and -1 (a fast level).
 *
 * Two measurements per shape, PRETRAIN sampling (stride 4) and MULTISCALE
 * crops:
 *   direct  one thread: record head, simvtp_sample_frames, the needed
 *           frames (pread + zstd, which checks each frame),
 *           simvtp_crop_frames, tokenizer; with the CPU time of each stage
 *   loader  simvtp_dataloader with 1 worker thread and with 2, batch 8:
 *           clips per CPU-second of the whole process (CLOCK_PROCESS_CPUTIME_ID)
 *           and per wall second
 * The shards are written to a temporary folder (the page cache holds them:
 * this measures CPU, not the disk) and removed at the end.
 *
 * usage: bench_shards [clips]   (default 200; exits 77 without zstd) */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "simvtp/simvtp.h"
#include "simvtp_build_config.h"
#include "core/rng.h"
#include "data/shard_format.h"

#define RECORDS 16
#define STORED_FRAMES 32
#define FRAME_STEP 4

typedef struct preset {
    const char *name;
    int T, out, stored_w, stored_h;
} preset;

static const preset k_presets[] = {
    {"vit-b 16x224^2 (stored 455x256)", 16, 224, 455, 256},
    {"tiny 8x64^2 (stored 227x128)", 8, 64, 227, 128},
};

static const char *const k_words[] = {"a", "the", "red", "blue", "green", "car", "dog", "man",
                                      "woman", "walks", "runs", "on", "in", "street", "beach",
                                      "park", "at", "sunset", "slow", "motion", "aerial", "view",
                                      "of", "city", "with", "people", "and", "trees", "water"};
#define NWORDS (int)(sizeof k_words / sizeof k_words[0])

static double cpu_now(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int rm_entry(const char *p, const struct stat *s, int f, struct FTW *w)
{
    (void)s, (void)f, (void)w;
    return remove(p);
}

/* Frame f of video g: smooth moving colours, two moving boxes, noise. */
static void synth_frame(int g, int f, int w, int h, sv_rng *rng, uint8_t *out)
{
    double t = f * 0.15 + g;
    int bx = (int)((0.5 + 0.4 * sin(t)) * w), by = (int)((0.5 + 0.4 * cos(0.7 * t)) * h);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            double u = (double)x / w, v = (double)y / h;
            int inbox = abs(x - bx) < w / 8 && abs(y - by) < h / 6;
            for (int c = 0; c < 3; c++) {
                double base = 128 + 90 * sin(3 * u + 2 * v + t * (0.3 + 0.1 * c) + c) *
                                        cos(2 * v - u + 0.2 * t);
                if (inbox) base = 40 + 70 * c;
                int noise = (int)sv_rng_below(rng, 13) - 6;
                int val = (int)base + noise;
                out[((size_t)y * w + x) * 3 + c] = (uint8_t)(val < 0 ? 0 : val > 255 ? 255 : val);
            }
        }
}

static int write_shards(const char *dir, const preset *pr, int level, char **paths, double *ratio)
{
    size_t fb = (size_t)pr->stored_w * pr->stored_h * 3;
    uint8_t *rgb = malloc(fb * STORED_FRAMES);
    sv_shard_encoder *enc = NULL;
    sv_shard_record_buf buf = {0};
    sv_rng rng;
    sv_rng_seed(&rng, 7);
    int rc = sv_shard_encoder_create(level, &enc);
    uint64_t raw = 0, stored = 0;
    for (int s = 0; !rc && s < 2; s++) {
        char name[512];
        snprintf(name, sizeof name, "%s/shard-%05d.svtps", dir, s);
        paths[s] = strdup(name);
        sv_shard_header hdr = {SV_SHARD_CODEC_ZSTD, (uint32_t)pr->stored_h, FRAME_STEP, STORED_FRAMES};
        sv_shard_writer *w = NULL;
        rc = sv_shard_writer_open(paths[s], &hdr, (uint64_t)s * RECORDS / 2, &w);
        for (int r = 0; !rc && r < RECORDS / 2; r++) {
            int g = s * RECORDS / 2 + r;
            for (int f = 0; f < STORED_FRAMES; f++)
                synth_frame(g, f, pr->stored_w, pr->stored_h, &rng, rgb + (size_t)f * fb);
            char caps[2][256], id[32];
            for (int k = 0; k < 2; k++) {
                caps[k][0] = '\0';
                for (int i = 0; i < 14; i++) {
                    strcat(caps[k], k_words[sv_rng_below(&rng, NWORDS)]);
                    strcat(caps[k], i < 13 ? " " : "");
                }
            }
            const char *cp[2] = {caps[0], caps[1]};
            snprintf(id, sizeof id, "%d", 1000000 + g);
            simvtp_record rec = {sizeof rec, id, 2, cp, STORED_FRAMES, pr->stored_w, pr->stored_h,
                                 FRAME_STEP, rgb};
            rc = sv_shard_encode(enc, &rec, &buf);
            if (!rc) rc = sv_shard_writer_append(w, (uint64_t)g, &buf);
            raw += buf.raw_size;
            stored += buf.size;
        }
        if (!rc) rc = sv_shard_writer_finish(w, (uint64_t)(s + 1) * RECORDS / 2);
        else sv_shard_writer_abort(w);
    }
    *ratio = stored ? (double)stored / (double)raw : 0;
    sv_shard_record_buf_free(&buf);
    sv_shard_encoder_free(enc);
    free(rgb);
    return rc;
}

/* One thread, stage by stage. */
static int bench_direct(const preset *pr, char **paths, const simvtp_tokenizer *tok, int clips)
{
    simvtp_shard *sh[2] = {NULL, NULL};
    for (int s = 0; s < 2; s++)
        if (simvtp_shard_open(paths[s], &sh[s])) return 1;
    int T = pr->T;
    int32_t idx[64], stored[64], ids[64];
    uint8_t *gather = malloc((size_t)T * pr->stored_w * pr->stored_h * 3);
    uint8_t *out = malloc((size_t)T * pr->out * pr->out * 3);
    double t_head = 0, t_frames = 0, t_crop = 0, t_tok = 0;
    const clockid_t clk = CLOCK_THREAD_CPUTIME_ID;
    double t0 = cpu_now(clk);
    for (int c = 0; c < clips; c++) {
        int g = c % RECORDS, s = g / (RECORDS / 2), r = g % (RECORDS / 2);
        double a = cpu_now(clk);
        sv_record_head h;
        if (sv_shard_read_head(sh[s], r, &h)) return 1;
        uint64_t fseed, cseed;
        int cap;
        sv_loader_sample_choices(1, 0, (uint64_t)c, h.num_captions, &fseed, &cseed, &cap);
        if (simvtp_sample_frames(SIMVTP_SAMPLE_PRETRAIN, h.frames * h.frame_step, T, 4, fseed, 0, 1, idx))
            return 1;
        for (int t = 0; t < T; t++) {
            int k = idx[t] / h.frame_step;
            stored[t] = k >= h.frames ? h.frames - 1 : k;
        }
        double b = cpu_now(clk);
        if (sv_shard_read_frames(sh[s], r, &h, stored, T, gather)) return 1;
        double d = cpu_now(clk);
        if (simvtp_crop_frames(gather, T, h.width, h.height, SIMVTP_CROP_MULTISCALE, 0, cseed, pr->out,
                               pr->out, out))
            return 1;
        double e = cpu_now(clk);
        int len;
        if (simvtp_tokenizer_encode(tok, h.captions[cap], ids, 64, &len)) return 1;
        double f = cpu_now(clk);
        t_head += b - a;
        t_frames += d - b;
        t_crop += e - d;
        t_tok += f - e;
    }
    double total = cpu_now(clk) - t0;
    printf("  direct, 1 thread: %.0f clips/s per core (%.2f ms/clip: head+sampling %.3f, frames "
           "%.2f (read + zstd with checksum, %d frames), crop %.2f, tokenize %.3f)\n",
           clips / total, 1e3 * total / clips, 1e3 * t_head / clips, 1e3 * t_frames / clips, T,
           1e3 * t_crop / clips, 1e3 * t_tok / clips);
    free(gather);
    free(out);
    for (int s = 0; s < 2; s++) simvtp_shard_close(sh[s]);
    return 0;
}

static int bench_loader(const preset *pr, char **paths, const simvtp_tokenizer *tok, int clips, int threads)
{
    simvtp_dataloader_params p;
    simvtp_dataloader_default_params(&p);
    p.shards = (const char *const *)paths;
    p.num_shards = 2;
    p.tokenizer = tok;
    p.batch = 8;
    p.frames = pr->T;
    p.height = p.width = pr->out;
    p.max_text_len = 32;
    p.threads = threads;
    p.prefetch = 2;
    simvtp_dataloader *l = NULL;
    if (simvtp_dataloader_create(&p, &l)) return 1;
    simvtp_batch b = {sizeof b};
    if (simvtp_dataloader_next(l, &b, NULL)) return 1; /* warm-up */
    int batches = (clips + p.batch - 1) / p.batch;
    double c0 = cpu_now(CLOCK_PROCESS_CPUTIME_ID), w0 = cpu_now(CLOCK_MONOTONIC);
    for (int k = 0; k < batches; k++)
        if (simvtp_dataloader_next(l, &b, NULL)) return 1;
    double cpu = cpu_now(CLOCK_PROCESS_CPUTIME_ID) - c0, wall = cpu_now(CLOCK_MONOTONIC) - w0;
    int n = batches * p.batch;
    printf("  loader, %d worker%s: %.0f clips/s per core (CPU), %.0f clips/s wall\n", threads,
           threads > 1 ? "s" : "", n / cpu, n / wall);
    simvtp_dataloader_free(l);
    return 0;
}

int main(int argc, char **argv)
{
#if !SIMVTP_HAVE_ZSTD
    (void)argc, (void)argv;
    fprintf(stderr, "bench_shards: libsimvtp was built without zstd; skipped\n");
    return 77;
#else
    int clips = argc > 1 ? atoi(argv[1]) : 200;
    if (clips < 8) clips = 8;
    char tmpl[] = "/tmp/bench-shards-XXXXXX";
    char *dir = mkdtemp(tmpl);
    if (!dir) return 1;
    char vocab[256];
    snprintf(vocab, sizeof vocab, "%s/vocab.txt", dir);
    FILE *f = fopen(vocab, "w");
    fputs("[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n", f);
    for (int i = 0; i < NWORDS; i++) fprintf(f, "%s\n", k_words[i]);
    fclose(f);
    simvtp_tokenizer *tok = NULL;
    int rc = simvtp_tokenizer_load(vocab, NULL, &tok);
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    printf("bench_shards: %d clips per measurement, %ld CPUs\n", clips, cpus);
    static const int levels[] = {3, -1};
    for (size_t k = 0; !rc && k < sizeof k_presets / sizeof k_presets[0]; k++)
        for (size_t lv = 0; !rc && lv < sizeof levels / sizeof levels[0]; lv++) {
            const preset *pr = &k_presets[k];
            char sub[300], *paths[2] = {NULL, NULL};
            snprintf(sub, sizeof sub, "%s/%zu-%zu", dir, k, lv);
            mkdir(sub, 0777);
            double ratio = 0;
            rc = write_shards(sub, pr, levels[lv], paths, &ratio);
            if (rc) {
                fprintf(stderr, "bench_shards: %s\n", simvtp_last_error());
                break;
            }
            printf("%s, zstd level %d: %d records x %d frames, stored at %.0f%% of raw\n", pr->name,
                   levels[lv], RECORDS, STORED_FRAMES, 100 * ratio);
            rc = bench_direct(pr, paths, tok, clips);
            for (int t = 1; !rc && t <= 2; t++) rc = bench_loader(pr, paths, tok, clips, t);
            if (rc) fprintf(stderr, "bench_shards: %s\n", simvtp_last_error());
            free(paths[0]);
            free(paths[1]);
            nftw(sub, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
        }
    simvtp_tokenizer_free(tok);
    nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
    return rc ? 1 : 0;
#endif
}

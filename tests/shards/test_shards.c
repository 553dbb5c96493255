/* test_shards.c — .svtps shards, prep and the dataloader: round trips
 * (ids, UTF-8 captions, frames bit-exact), truncated and damaged shards,
 * prep on generated videos (skipping a corrupt and a missing one), resume,
 * and the loader: determinism, rank splits, epoch reshuffles, seek, batch
 * contents recomputed with the public sampling/crop/tokenizer functions,
 * damaged records skipped. */
#include <check.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "simvtp/simvtp.h"
#include "simvtp_build_config.h"
#include "core/fileio.h"
#include "data/shard_format.h"

/* ------------------------------------------------------------------------ */
/* Helpers                                                                  */
/* ------------------------------------------------------------------------ */

static char *make_tmpdir(void)
{
    const char *base = getenv("SIMVTP_TEST_TMPDIR");
    char tmpl[4096];
    snprintf(tmpl, sizeof tmpl, "%s/shards-XXXXXX", base && *base ? base : "/tmp");
    char *d = mkdtemp(tmpl);
    ck_assert_msg(d != NULL, "mkdtemp failed: %s", strerror(errno));
    return strdup(d);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

/* Remove a test's temporary folder and free its name. */
static void remove_tree(char *dir)
{
    nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(dir);
}

static char *path_in(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    snprintf(p, n, "%s/%s", dir, name);
    return p;
}

#if SIMVTP_HAVE_ZSTD
static uint8_t *slurp(const char *path, size_t *n)
{
    uint8_t *d = NULL;
    ck_assert_int_eq(sv_read_file(path, &d, n), SIMVTP_OK);
    return d;
}

#endif

static void spit(const char *path, const void *d, size_t n)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(d, 1, n, f), n);
    fclose(f);
}

#if SIMVTP_HAVE_ZSTD
static void flip_byte(const char *path, uint64_t off)
{
    size_t n;
    uint8_t *d = slurp(path, &n);
    ck_assert_uint_lt(off, n);
    d[off] ^= 0x5A;
    spit(path, d, n);
    free(d);
}

/* Pixel (x, y, c) of stored frame f of video g: distinct per video/frame. */
static uint8_t pix(int g, int f, int x, int y, int c)
{
    return (uint8_t)(g * 37 + f * 11 + x * 3 + y * 5 + c * 71 + ((x * y) >> 3));
}

static uint8_t *make_frames(int g, int frames, int w, int h)
{
    uint8_t *p = malloc((size_t)frames * w * h * 3);
    for (int f = 0; f < frames; f++)
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                for (int c = 0; c < 3; c++) p[(((size_t)f * h + y) * w + x) * 3 + c] = pix(g, f, x, y, c);
    return p;
}

static const char *const WORDS[] = {"a", "red", "blue", "green", "square", "circle", "moves",
                                    "left", "right", "up", "down", "the", "on", "white", "cafe"};
#define NWORDS (int)(sizeof WORDS / sizeof WORDS[0])

static char *write_vocab(const char *dir)
{
    char *p = path_in(dir, "vocab.txt");
    FILE *f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    fputs("[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n", f);
    for (int i = 0; i < NWORDS; i++) fprintf(f, "%s\n", WORDS[i]);
    fputs("##s\n", f);
    fclose(f);
    return p;
}

/* Captions of synthetic video g: 1 to 3 sentences from WORDS. */
static int make_captions(int g, char caps[3][128])
{
    int n = 1 + g % 3;
    for (int k = 0; k < n; k++) {
        snprintf(caps[k], 128, "%s %s %s moves %s", WORDS[(g + k) % 4 == 0 ? 0 : 11],
                 WORDS[1 + (g + k) % 3], WORDS[4 + (g * 7 + k) % 2], WORDS[7 + (g + 2 * k) % 4]);
    }
    return n;
}

/* Synthetic shard of videos [g0, g0+n): video g has 3 + g % 5 stored
 * frames of w x h, frame_step `step`, dataset item = g. */
static void write_synthetic_shard(const char *path, int g0, int n, int w, int h, int step)
{
    sv_shard_header hdr = {SV_SHARD_CODEC_ZSTD, (uint32_t)(w < h ? w : h), (uint32_t)step, 0};
    sv_shard_writer *wr = NULL;
    ck_assert_int_eq(sv_shard_writer_open(path, &hdr, (uint64_t)g0, &wr), SIMVTP_OK);
    sv_shard_encoder *enc = NULL;
    ck_assert_int_eq(sv_shard_encoder_create(3, &enc), SIMVTP_OK);
    sv_shard_record_buf buf = {0};
    for (int g = g0; g < g0 + n; g++) {
        char id[32], caps[3][128];
        snprintf(id, sizeof id, "video%d", g);
        int nc = make_captions(g, caps);
        const char *cp[3] = {caps[0], caps[1], caps[2]};
        int frames = 3 + g % 5;
        uint8_t *rgb = make_frames(g, frames, w, h);
        simvtp_record rec = {sizeof rec, id, nc, cp, frames, w, h, step, rgb};
        ck_assert_int_eq(sv_shard_encode(enc, &rec, &buf), SIMVTP_OK);
        ck_assert_int_eq(sv_shard_writer_append(wr, (uint64_t)g, &buf), SIMVTP_OK);
        free(rgb);
    }
    ck_assert_int_eq(sv_shard_writer_finish(wr, (uint64_t)(g0 + n)), SIMVTP_OK);
    sv_shard_record_buf_free(&buf);
    sv_shard_encoder_free(enc);
}

#endif

/* ------------------------------------------------------------------------ */
/* Format                                                                   */
/* ------------------------------------------------------------------------ */

START_TEST(test_crc_matches_core)
{
    uint8_t d[1031];
    for (size_t i = 0; i < sizeof d; i++) d[i] = (uint8_t)(i * 131 + (i >> 3));
    for (size_t n = 0; n < sizeof d; n += 37)
        for (size_t off = 0; off < 9; off++)
            ck_assert_uint_eq(sv_shard_crc32(0, d + off, n - (n > off ? off : n)),
                              sv_crc32(0, d + off, n - (n > off ? off : n)));
    ck_assert_uint_eq(sv_shard_crc32(0, "123456789", 9), 0xCBF43926u);
}
END_TEST

#if SIMVTP_HAVE_ZSTD
typedef struct rt_rec {
    const char *id;
    int ncap;
    const char *caps[3];
    int frames, w, h;
} rt_rec;

static const rt_rec RT[] = {
    {"vid-0", 1, {"a red square moves left"}, 3, 20, 12},
    {"vidéo_1 ünïcödé", 3, {"Ünïcödé café — 日本語のキャプション", "", "second \"quoted\", caption\ttab"}, 5, 9, 7},
    {"2", 0, {NULL}, 1, 1, 1},
    {"long", 2, {"x", "y"}, 17, 33, 18},
};
#define NRT (int)(sizeof RT / sizeof RT[0])

static char *write_rt_shard(const char *dir)
{
    char *path = path_in(dir, "rt.svtps");
    sv_shard_header hdr = {SV_SHARD_CODEC_ZSTD, 64, 2, 7};
    sv_shard_writer *w = NULL;
    ck_assert_int_eq(sv_shard_writer_open(path, &hdr, 10, &w), SIMVTP_OK);
    sv_shard_encoder *enc = NULL;
    ck_assert_int_eq(sv_shard_encoder_create(3, &enc), SIMVTP_OK);
    sv_shard_record_buf buf = {0};
    for (int i = 0; i < NRT; i++) {
        uint8_t *rgb = make_frames(i, RT[i].frames, RT[i].w, RT[i].h);
        simvtp_record rec = {sizeof rec, RT[i].id, RT[i].ncap, RT[i].caps, RT[i].frames, RT[i].w,
                             RT[i].h, 2, rgb};
        ck_assert_int_eq(sv_shard_encode(enc, &rec, &buf), SIMVTP_OK);
        ck_assert_int_eq(sv_shard_writer_append(w, 10 + 2 * (uint64_t)i, &buf), SIMVTP_OK);
        free(rgb);
    }
    /* nothing at the final path before finish */
    struct stat st;
    ck_assert_int_ne(stat(path, &st), 0);
    ck_assert_int_eq(sv_shard_writer_finish(w, 20), SIMVTP_OK);
    sv_shard_record_buf_free(&buf);
    sv_shard_encoder_free(enc);
    return path;
}

START_TEST(test_roundtrip)
{
    char *dir = make_tmpdir();
    char *path = write_rt_shard(dir);
    simvtp_shard *s = NULL;
    ck_assert_int_eq(simvtp_shard_open(path, &s), SIMVTP_OK);
    ck_assert_int_eq(simvtp_shard_num_records(s), NRT);
    ck_assert_uint_eq(s->first_item, 10);
    ck_assert_uint_eq(s->end_item, 20);
    ck_assert_uint_eq(s->header.short_side, 64);
    ck_assert_uint_eq(s->header.frame_step, 2);
    ck_assert_uint_eq(s->header.max_frames, 7);
    for (int pass = 0; pass < 2; pass++) /* any order, repeated */
        for (int k = 0; k < NRT; k++) {
            int i = pass ? NRT - 1 - k : k;
            simvtp_record rec = {sizeof rec};
            ck_assert_int_eq(simvtp_shard_read(s, i, &rec), SIMVTP_OK);
            ck_assert_str_eq(rec.video_id, RT[i].id);
            ck_assert_int_eq(rec.num_captions, RT[i].ncap);
            for (int c = 0; c < RT[i].ncap; c++) ck_assert_str_eq(rec.captions[c], RT[i].caps[c]);
            ck_assert_int_eq(rec.frames, RT[i].frames);
            ck_assert_int_eq(rec.width, RT[i].w);
            ck_assert_int_eq(rec.height, RT[i].h);
            ck_assert_int_eq(rec.frame_step, 2);
            uint8_t *want = make_frames(i, RT[i].frames, RT[i].w, RT[i].h);
            ck_assert_int_eq(memcmp(rec.rgb, want, (size_t)RT[i].frames * RT[i].w * RT[i].h * 3), 0);
            ck_assert_uint_eq(s->index[i].item, 10 + 2 * (uint64_t)i);
            /* partial path: head, then frames in any order with repeats */
            sv_record_head h;
            ck_assert_int_eq(sv_shard_read_head(s, i, &h), SIMVTP_OK);
            ck_assert_str_eq(h.video_id, RT[i].id);
            int32_t pick[5] = {RT[i].frames - 1, 0, RT[i].frames / 2, 0, RT[i].frames - 1};
            size_t fb = (size_t)RT[i].w * RT[i].h * 3;
            uint8_t *got = malloc(5 * fb);
            ck_assert_int_eq(sv_shard_read_frames(s, i, &h, pick, 5, got), SIMVTP_OK);
            for (int t = 0; t < 5; t++) ck_assert_int_eq(memcmp(got + t * fb, want + pick[t] * fb, fb), 0);
            free(got);
            free(want);
        }
    /* argument errors */
    simvtp_record rec = {sizeof rec};
    ck_assert_int_eq(simvtp_shard_read(s, NRT, &rec), SIMVTP_ERR_INVALID_ARG);
    ck_assert_int_eq(simvtp_shard_read(s, -1, &rec), SIMVTP_ERR_INVALID_ARG);
    simvtp_record bad = {0};
    ck_assert_int_eq(simvtp_shard_read(s, 0, &bad), SIMVTP_ERR_INVALID_ARG);
    ck_assert_int_eq(simvtp_shard_read(NULL, 0, &rec), SIMVTP_ERR_INVALID_ARG);
    simvtp_shard_close(s);
    simvtp_shard_close(NULL);
    ck_assert_int_eq(simvtp_shard_open(NULL, &s), SIMVTP_ERR_INVALID_ARG);
    char *missing = path_in(dir, "missing.svtps");
    ck_assert_int_eq(simvtp_shard_open(missing, &s), SIMVTP_ERR_IO);
    ck_assert_int_eq(simvtp_shard_open(dir, &s), SIMVTP_ERR_IO); /* a directory */
    ck_assert_ptr_null(s);
    free(missing);
    free(path);
    remove_tree(dir);
}
END_TEST

START_TEST(test_truncated)
{
    char *dir = make_tmpdir();
    char *path = write_rt_shard(dir);
    size_t n;
    uint8_t *d = slurp(path, &n);
    char *cut = path_in(dir, "cut.svtps");
    size_t lens[] = {0, 5, 8, 20, SV_SHARD_HEADER_BYTES, n / 2, n - SV_SHARD_FOOTER_BYTES, n - 1};
    for (size_t k = 0; k < sizeof lens / sizeof lens[0]; k++) {
        spit(cut, d, lens[k]);
        simvtp_shard *s = NULL;
        int rc = simvtp_shard_open(cut, &s);
        ck_assert_msg(rc == SIMVTP_ERR_TRUNCATED || rc == SIMVTP_ERR_FORMAT,
                      "cut at %zu: %s", lens[k], simvtp_strerror(rc));
        ck_assert_ptr_null(s);
        ck_assert_ptr_nonnull(strstr(simvtp_last_error(), cut));
        if (lens[k] >= SV_SHARD_HEADER_BYTES + SV_SHARD_FOOTER_BYTES) ck_assert_int_eq(rc, SIMVTP_ERR_TRUNCATED);
    }
    /* bytes appended after the footer: the footer is no longer at the end */
    uint8_t *longer = malloc(n + 3);
    memcpy(longer, d, n);
    memset(longer + n, 0, 3);
    spit(cut, longer, n + 3);
    simvtp_shard *s = NULL;
    ck_assert_int_ne(simvtp_shard_open(cut, &s), SIMVTP_OK);
    /* a wrong version */
    memcpy(longer, d, n);
    longer[8] = 2;
    spit(cut, longer, n);
    ck_assert_int_eq(simvtp_shard_open(cut, &s), SIMVTP_ERR_VERSION);
    free(longer);
    free(d);
    free(cut);
    free(path);
    remove_tree(dir);
}
END_TEST

START_TEST(test_damaged_record)
{
    char *dir = make_tmpdir();
    char *path = write_rt_shard(dir);
    simvtp_shard *s = NULL;
    ck_assert_int_eq(simvtp_shard_open(path, &s), SIMVTP_OK);
    sv_shard_entry e1 = s->index[1], e3 = s->index[3];
    sv_record_head h;
    ck_assert_int_eq(sv_shard_read_head(s, 3, &h), SIMVTP_OK);
    uint64_t frame_off = e3.offset + h.frame_offset[2] + h.frame_size[2] / 2;
    simvtp_shard_close(s);
    /* record 1: a byte of its head; record 3: a byte inside frame 2 */
    flip_byte(path, e1.offset + 6);
    flip_byte(path, frame_off);
    ck_assert_int_eq(simvtp_shard_open(path, &s), SIMVTP_OK);
    simvtp_record rec = {sizeof rec};
    for (int i = 0; i < NRT; i++) {
        int rc = simvtp_shard_read(s, i, &rec);
        if (i == 1 || i == 3) {
            ck_assert_int_eq(rc, SIMVTP_ERR_FORMAT);
            char want[64];
            snprintf(want, sizeof want, "record %d", i);
            ck_assert_ptr_nonnull(strstr(simvtp_last_error(), want));
            ck_assert_ptr_nonnull(strstr(simvtp_last_error(), path));
        } else {
            ck_assert_int_eq(rc, SIMVTP_OK);
            ck_assert_str_eq(rec.video_id, RT[i].id);
        }
    }
    /* the partial path: the damaged head, and the damaged frame only */
    ck_assert_int_eq(sv_shard_read_head(s, 1, &h), SIMVTP_ERR_FORMAT);
    ck_assert_int_eq(sv_shard_read_head(s, 3, &h), SIMVTP_OK);
    size_t fb = (size_t)h.width * h.height * 3;
    uint8_t *got = malloc(3 * fb);
    int32_t ok_frames[2] = {0, 1}, bad_frame[1] = {2};
    ck_assert_int_eq(sv_shard_read_frames(s, 3, &h, ok_frames, 2, got), SIMVTP_OK);
    ck_assert_int_eq(sv_shard_read_frames(s, 3, &h, bad_frame, 1, got), SIMVTP_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(simvtp_last_error(), "record 3"));
    free(got);
    simvtp_shard_close(s);
    free(path);
    remove_tree(dir);
}
END_TEST

START_TEST(test_damaged_index_footer_header)
{
    char *dir = make_tmpdir();
    char *path = write_rt_shard(dir);
    size_t n;
    uint8_t *orig = slurp(path, &n);
    uint64_t index_off = n - SV_SHARD_FOOTER_BYTES - NRT * SV_SHARD_ENTRY_BYTES;
    uint64_t offs[] = {3, 20, 33, index_off, index_off + SV_SHARD_ENTRY_BYTES + 9, n - 44, n - 30,
                       n - 12};
    for (size_t k = 0; k < sizeof offs / sizeof offs[0]; k++) {
        spit(path, orig, n);
        flip_byte(path, offs[k]);
        simvtp_shard *s = NULL;
        int rc = simvtp_shard_open(path, &s);
        ck_assert_msg(rc == SIMVTP_ERR_FORMAT || (offs[k] >= n - 8 && rc == SIMVTP_ERR_TRUNCATED),
                      "flip at %llu (of %zu): %s", (unsigned long long)offs[k], n, simvtp_strerror(rc));
        ck_assert_ptr_nonnull(strstr(simvtp_last_error(), path));
        ck_assert_ptr_null(s);
    }
    free(orig);
    free(path);
    remove_tree(dir);
}
END_TEST

/* Every byte is covered: a flip anywhere fails the open, or the whole read
 * of exactly the record holding the byte (never another); the partial read
 * (loader) fails too or returns the original pixels. */
START_TEST(test_every_byte_checked)
{
    char *dir = make_tmpdir();
    char *path = write_rt_shard(dir);
    size_t n;
    uint8_t *orig = slurp(path, &n);
    simvtp_shard *s = NULL;
    ck_assert_int_eq(simvtp_shard_open(path, &s), SIMVTP_OK);
    sv_shard_entry ents[NRT];
    memcpy(ents, s->index, sizeof ents);
    simvtp_shard_close(s);
    uint8_t *out = malloc(17 * 33 * 18 * 3);
    int32_t all[17];
    for (int f = 0; f < 17; f++) all[f] = f;
    size_t step = n / 2500 + 1;
    for (size_t off = 0; off < n; off += step) {
        orig[off] ^= 0x01;
        spit(path, orig, n);
        orig[off] ^= 0x01;
        if (simvtp_shard_open(path, &s) != SIMVTP_OK) continue;
        int holder = -1;
        for (int i = 0; i < NRT; i++)
            if (off >= ents[i].offset && off < ents[i].offset + ents[i].size) holder = i;
        ck_assert_msg(holder >= 0, "flip at %zu of %zu not detected at open", off, n);
        for (int i = 0; i < NRT; i++) {
            simvtp_record rec = {sizeof rec};
            int whole = simvtp_shard_read(s, i, &rec);
            sv_record_head h;
            int part = sv_shard_read_head(s, i, &h);
            if (!part) part = sv_shard_read_frames(s, i, &h, all, h.frames, out);
            if (i == holder) {
                ck_assert_msg(whole == SIMVTP_ERR_FORMAT, "flip at %zu: record %d read", off, i);
                /* zstd checks what a frame decodes to: a flip that changes
                 * nothing there (an unused bit) may pass, harmlessly */
                if (part == SIMVTP_OK) {
                    uint8_t *want = make_frames(i, RT[i].frames, RT[i].w, RT[i].h);
                    ck_assert_msg(!memcmp(out, want, (size_t)RT[i].frames * RT[i].w * RT[i].h * 3),
                                  "flip at %zu: record %d read with wrong pixels", off, i);
                    free(want);
                } else {
                    ck_assert_msg(part == SIMVTP_ERR_FORMAT, "flip at %zu: %s", off, simvtp_strerror(part));
                }
            } else {
                ck_assert_int_eq(whole, SIMVTP_OK);
                ck_assert_int_eq(part, SIMVTP_OK);
            }
        }
        simvtp_shard_close(s);
    }
    free(out);
    free(orig);
    free(path);
    remove_tree(dir);
}
END_TEST

START_TEST(test_writer_abort_leaves_nothing)
{
    char *dir = make_tmpdir();
    char *path = path_in(dir, "x.svtps");
    sv_shard_header hdr = {SV_SHARD_CODEC_ZSTD, 8, 1, 0};
    sv_shard_writer *w = NULL;
    ck_assert_int_eq(sv_shard_writer_open(path, &hdr, 0, &w), SIMVTP_OK);
    sv_shard_writer_abort(w);
    struct stat st;
    ck_assert_int_ne(stat(path, &st), 0);
    /* a shard with no records is valid */
    ck_assert_int_eq(sv_shard_writer_open(path, &hdr, 4, &w), SIMVTP_OK);
    ck_assert_int_eq(sv_shard_writer_finish(w, 4), SIMVTP_OK);
    simvtp_shard *s = NULL;
    ck_assert_int_eq(simvtp_shard_open(path, &s), SIMVTP_OK);
    ck_assert_int_eq(simvtp_shard_num_records(s), 0);
    simvtp_shard_close(s);
    free(path);
    remove_tree(dir);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Loader                                                                   */
/* ------------------------------------------------------------------------ */

#define LW 40
#define LH 30
#define LSTEP 2
static const int SHARD_N[3] = {7, 5, 9}; /* 21 videos */

typedef struct fixture {
    char *dir, *vocab;
    char *shards[3];
    simvtp_tokenizer *tok;
} fixture;

static void fixture_make(fixture *f)
{
    f->dir = make_tmpdir();
    f->vocab = write_vocab(f->dir);
    int g = 0;
    for (int s = 0; s < 3; s++) {
        char name[32];
        snprintf(name, sizeof name, "shard-%05d.svtps", s);
        f->shards[s] = path_in(f->dir, name);
        write_synthetic_shard(f->shards[s], g, SHARD_N[s], LW, LH, LSTEP);
        g += SHARD_N[s];
    }
    ck_assert_int_eq(simvtp_tokenizer_load(f->vocab, NULL, &f->tok), SIMVTP_OK);
}

static void fixture_free(fixture *f)
{
    simvtp_tokenizer_free(f->tok);
    for (int s = 0; s < 3; s++) free(f->shards[s]);
    free(f->vocab);
    remove_tree(f->dir);
}

static void loader_params(const fixture *f, simvtp_dataloader_params *p)
{
    simvtp_dataloader_default_params(p);
    p->shards = (const char *const *)f->shards;
    p->num_shards = 3;
    p->tokenizer = f->tok;
    p->batch = 4;
    p->frames = 4;
    p->height = 24;
    p->width = 32;
    p->max_text_len = 12;
    p->stride = 2;
    p->shuffle_buffer = 5;
    p->seed = 1234;
    p->threads = 3;
    p->prefetch = 2;
}

/* A copy of one delivered batch. */
typedef struct got_batch {
    int n, max_len;
    int64_t epoch;
    uint8_t *frames;
    int32_t *tokens, *lengths, *clip;
    int64_t *index;
} got_batch;

static void take(simvtp_dataloader *l, const simvtp_dataloader_params *p, got_batch *g)
{
    simvtp_batch b = {sizeof b};
    simvtp_batch_meta m = {sizeof m};
    ck_assert_int_eq(simvtp_dataloader_next(l, &b, &m), SIMVTP_OK);
    size_t clip = (size_t)p->frames * p->height * p->width * 3;
    g->n = b.batch;
    g->max_len = b.max_len;
    g->epoch = m.epoch;
    g->frames = malloc(clip * b.batch);
    memcpy(g->frames, b.frames, clip * b.batch);
    g->tokens = malloc(sizeof(int32_t) * b.batch * b.max_len);
    memcpy(g->tokens, b.tokens, sizeof(int32_t) * b.batch * b.max_len);
    g->lengths = malloc(sizeof(int32_t) * b.batch);
    memcpy(g->lengths, b.lengths, sizeof(int32_t) * b.batch);
    g->clip = malloc(sizeof(int32_t) * b.batch);
    memcpy(g->clip, m.clip_index, sizeof(int32_t) * b.batch);
    g->index = malloc(sizeof(int64_t) * b.batch);
    memcpy(g->index, m.sample_index, sizeof(int64_t) * b.batch);
    for (int i = 0; i < b.batch; i++) {
        char want[32];
        snprintf(want, sizeof want, "video%lld", (long long)m.sample_index[i]);
        ck_assert_str_eq(m.video_ids[i], want);
    }
}

static void got_free(got_batch *g)
{
    free(g->frames);
    free(g->tokens);
    free(g->lengths);
    free(g->clip);
    free(g->index);
}

static int got_equal(const got_batch *a, const got_batch *b, size_t clip)
{
    return a->n == b->n && a->max_len == b->max_len && a->epoch == b->epoch &&
           !memcmp(a->frames, b->frames, clip * a->n) &&
           !memcmp(a->tokens, b->tokens, sizeof(int32_t) * a->n * a->max_len) &&
           !memcmp(a->lengths, b->lengths, sizeof(int32_t) * a->n) &&
           !memcmp(a->index, b->index, sizeof(int64_t) * a->n) &&
           !memcmp(a->clip, b->clip, sizeof(int32_t) * a->n);
}

#define NB 12 /* batches taken: 2 epochs of 5 plus 2 */

static void run_batches(const simvtp_dataloader_params *p, got_batch *out, int n)
{
    simvtp_dataloader *l = NULL;
    ck_assert_int_eq(simvtp_dataloader_create(p, &l), SIMVTP_OK);
    for (int k = 0; k < n; k++) take(l, p, &out[k]);
    ck_assert_int_eq(simvtp_dataloader_position(l), n);
    simvtp_dataloader_free(l);
}

START_TEST(test_loader_determinism)
{
    fixture f;
    fixture_make(&f);
    simvtp_dataloader_params p;
    loader_params(&f, &p);
    size_t clip = (size_t)p.frames * p.height * p.width * 3;
    got_batch a[NB], b[NB], c[NB];
    run_batches(&p, a, NB);
    p.threads = 1; /* thread count and prefetch never change the stream */
    p.prefetch = 5;
    run_batches(&p, b, NB);
    for (int k = 0; k < NB; k++) ck_assert_msg(got_equal(&a[k], &b[k], clip), "batch %d differs", k);
    p.seed = 99; /* another seed, another order */
    run_batches(&p, c, NB);
    int same_order = 1;
    for (int k = 0; k < 5; k++)
        for (int i = 0; i < a[k].n; i++) same_order &= a[k].index[i] == c[k].index[i];
    ck_assert(!same_order);
    for (int k = 0; k < NB; k++) {
        got_free(&a[k]);
        got_free(&b[k]);
        got_free(&c[k]);
    }
    fixture_free(&f);
}
END_TEST

START_TEST(test_loader_epochs)
{
    fixture f;
    fixture_make(&f);
    simvtp_dataloader_params p;
    loader_params(&f, &p);
    p.drop_last = 0; /* 21 samples: batches of 4,4,4,4,4,1 */
    simvtp_dataloader *l = NULL;
    ck_assert_int_eq(simvtp_dataloader_create(&p, &l), SIMVTP_OK);
    ck_assert_int_eq(simvtp_dataloader_epoch_samples(l), 21);
    ck_assert_int_eq(simvtp_dataloader_epoch_batches(l), 6);
    int64_t order[3][21];
    for (int e = 0; e < 3; e++) {
        int seen[21] = {0}, pos = 0;
        for (int k = 0; k < 6; k++) {
            got_batch g;
            take(l, &p, &g);
            ck_assert_int_eq(g.epoch, e);
            ck_assert_int_eq(g.n, k < 5 ? 4 : 1);
            for (int i = 0; i < g.n; i++) {
                ck_assert(g.index[i] >= 0 && g.index[i] < 21);
                seen[g.index[i]]++;
                order[e][pos++] = g.index[i];
            }
            got_free(&g);
        }
        for (int i = 0; i < 21; i++) ck_assert_int_eq(seen[i], 1); /* each sample once per epoch */
    }
    ck_assert(memcmp(order[0], order[1], sizeof order[0]) != 0); /* reshuffled */
    ck_assert(memcmp(order[1], order[2], sizeof order[0]) != 0);
    simvtp_dataloader_free(l);
    /* without shuffling: the natural order, every epoch */
    p.shuffle = 0;
    ck_assert_int_eq(simvtp_dataloader_create(&p, &l), SIMVTP_OK);
    for (int e = 0; e < 2; e++)
        for (int k = 0, pos = 0; k < 6; k++) {
            got_batch g;
            take(l, &p, &g);
            for (int i = 0; i < g.n; i++) ck_assert_int_eq(g.index[i], pos++);
            got_free(&g);
        }
    simvtp_dataloader_free(l);
    fixture_free(&f);
}
END_TEST

START_TEST(test_loader_rank_split)
{
    fixture f;
    fixture_make(&f);
    for (int W = 2; W <= 3; W++)
        for (int shuffle = 0; shuffle <= 1; shuffle++) {
            int owner[21];
            for (int i = 0; i < 21; i++) owner[i] = -1;
            int64_t per_rank = 21 / W, total = 0;
            for (int r = 0; r < W; r++) {
                simvtp_dataloader_params p;
                loader_params(&f, &p);
                p.shuffle = shuffle;
                p.world_size = W;
                p.rank = r;
                p.batch = 1;
                simvtp_dataloader *l = NULL;
                ck_assert_int_eq(simvtp_dataloader_create(&p, &l), SIMVTP_OK);
                ck_assert_int_eq(simvtp_dataloader_epoch_samples(l), per_rank);
                ck_assert_int_eq(simvtp_dataloader_epoch_batches(l), per_rank);
                for (int k = 0; k < per_rank; k++) {
                    simvtp_batch b = {sizeof b};
                    simvtp_batch_meta m = {sizeof m};
                    ck_assert_int_eq(simvtp_dataloader_next(l, &b, &m), SIMVTP_OK);
                    ck_assert_int_eq(m.epoch, 0);
                    int64_t g = m.sample_index[0];
                    ck_assert_msg(owner[g] < 0, "W=%d: sample %lld on ranks %d and %d", W, (long long)g,
                                  owner[g], r);
                    owner[g] = r;
                    total++;
                }
                simvtp_dataloader_free(l);
            }
            /* disjoint (checked above) and covering the epoch: W*floor(21/W) samples */
            ck_assert_int_eq(total, per_rank * W);
            int covered = 0;
            for (int i = 0; i < 21; i++) covered += owner[i] >= 0;
            ck_assert_int_eq(covered, per_rank * W);
            if (!shuffle) /* unshuffled: position i goes to rank i % W, the tail dropped */
                for (int i = 0; i < 21; i++) ck_assert_int_eq(owner[i], i < per_rank * W ? i % W : -1);
        }
    fixture_free(&f);
}
END_TEST

START_TEST(test_loader_seek)
{
    fixture f;
    fixture_make(&f);
    simvtp_dataloader_params p;
    loader_params(&f, &p);
    size_t clip = (size_t)p.frames * p.height * p.width * 3;
    got_batch ref[NB];
    run_batches(&p, ref, NB);
    simvtp_dataloader *l = NULL;
    ck_assert_int_eq(simvtp_dataloader_create(&p, &l), SIMVTP_OK);
    uint64_t starts[] = {3, 7, 0, 10, 4};
    for (size_t s = 0; s < sizeof starts / sizeof starts[0]; s++) {
        if (s == 1) { /* a seek while batches are being prepared */
            got_batch g;
            take(l, &p, &g);
            got_free(&g);
        }
        ck_assert_int_eq(simvtp_dataloader_seek(l, starts[s]), SIMVTP_OK);
        ck_assert_int_eq(simvtp_dataloader_position(l), starts[s]);
        for (uint64_t k = starts[s]; k < NB && k < starts[s] + 3; k++) {
            got_batch g;
            take(l, &p, &g);
            ck_assert_msg(got_equal(&g, &ref[k], clip), "after seek(%llu): batch %llu differs",
                          (unsigned long long)starts[s], (unsigned long long)k);
            got_free(&g);
        }
    }
    simvtp_dataloader_free(l);
    for (int k = 0; k < NB; k++) got_free(&ref[k]);
    fixture_free(&f);
}
END_TEST

/* Recompute every sample of a few batches from the stored record with the
 * public functions and compare bit for bit. */
static void check_contents(fixture *f, simvtp_dataloader_params *p, int batches)
{
    simvtp_dataloader *l = NULL;
    ck_assert_int_eq(simvtp_dataloader_create(p, &l), SIMVTP_OK);
    int test_mode = p->sample_mode == SIMVTP_SAMPLE_TEST;
    int K = test_mode ? p->num_clips : 1;
    int C = test_mode && p->crop_mode == SIMVTP_CROP_THREE ? p->num_crops : 1;
    size_t clip = (size_t)p->frames * p->height * p->width * 3;
    int32_t *idx = malloc(sizeof(int32_t) * p->frames);
    int32_t *ids = malloc(sizeof(int32_t) * p->max_text_len);
    uint8_t *expect = malloc(clip);
    for (int k = 0; k < batches; k++) {
        simvtp_batch b = {sizeof b};
        simvtp_batch_meta m = {sizeof m};
        ck_assert_int_eq(simvtp_dataloader_next(l, &b, &m), SIMVTP_OK);
        int longest = 0;
        for (int i = 0; i < b.batch; i++) {
            int64_t g = m.sample_index[i];
            int s = 0, r = (int)g;
            while (r >= SHARD_N[s]) r -= SHARD_N[s++];
            simvtp_shard *sh = NULL;
            ck_assert_int_eq(simvtp_shard_open(f->shards[s], &sh), SIMVTP_OK);
            simvtp_record rec = {sizeof rec};
            ck_assert_int_eq(simvtp_shard_read(sh, r, &rec), SIMVTP_OK);
            int sub = m.clip_index[i], clip_no = sub / C, crop = sub % C;
            ck_assert(sub >= 0 && sub < K * C);
            uint64_t fseed, cseed;
            int cap;
            sv_loader_sample_choices(p->seed, m.epoch, (uint64_t)g * (K * C) + sub, rec.num_captions,
                                     &fseed, &cseed, &cap);
            ck_assert_int_eq(simvtp_sample_frames(p->sample_mode, rec.frames * rec.frame_step, p->frames,
                                                  p->stride, fseed, clip_no, K, idx), SIMVTP_OK);
            size_t fb = (size_t)rec.width * rec.height * 3;
            uint8_t *gather = malloc(fb * p->frames);
            for (int t = 0; t < p->frames; t++) {
                int st = idx[t] / rec.frame_step;
                if (st >= rec.frames) st = rec.frames - 1;
                memcpy(gather + t * fb, rec.rgb + st * fb, fb);
            }
            ck_assert_int_eq(simvtp_crop_frames(gather, p->frames, rec.width, rec.height, p->crop_mode,
                                                p->crop_mode == SIMVTP_CROP_THREE ? crop : 0, cseed,
                                                p->width, p->height, expect), SIMVTP_OK);
            ck_assert_msg(!memcmp(expect, b.frames + i * clip, clip), "batch %d sample %d: frames differ", k, i);
            int len = 0;
            ck_assert_int_eq(simvtp_tokenizer_encode(f->tok, rec.captions[cap], ids, p->max_text_len, &len),
                             SIMVTP_OK);
            ck_assert_int_eq(b.lengths[i], len);
            ck_assert_int_le(len, b.max_len);
            for (int t = 0; t < len; t++) ck_assert_int_eq(b.tokens[i * b.max_len + t], ids[t]);
            for (int t = len; t < b.max_len; t++) ck_assert_int_eq(b.tokens[i * b.max_len + t], 0);
            ck_assert_int_eq(b.tokens[i * b.max_len], 2);       /* [CLS] */
            ck_assert_int_eq(b.tokens[i * b.max_len + len - 1], 3); /* [SEP] */
            if (len > longest) longest = len;
            free(gather);
            simvtp_shard_close(sh);
        }
        ck_assert_int_eq(b.max_len, longest); /* padded to the batch's longest caption */
    }
    free(idx);
    free(ids);
    free(expect);
    simvtp_dataloader_free(l);
}

START_TEST(test_loader_contents)
{
    fixture f;
    fixture_make(&f);
    simvtp_dataloader_params p;
    loader_params(&f, &p);
    check_contents(&f, &p, 7); /* pretraining: random windows, multi-scale crops; crosses an epoch */
    p.sample_mode = SIMVTP_SAMPLE_FINETUNE;
    p.crop_mode = SIMVTP_CROP_RANDOM_RESIZED;
    check_contents(&f, &p, 3);
    p.sample_mode = SIMVTP_SAMPLE_TEST; /* 2 clips x 3 crops per video */
    p.crop_mode = SIMVTP_CROP_THREE;
    p.num_clips = 2;
    p.num_crops = 3;
    p.shuffle = 0;
    p.drop_last = 0;
    simvtp_dataloader *l = NULL;
    ck_assert_int_eq(simvtp_dataloader_create(&p, &l), SIMVTP_OK);
    ck_assert_int_eq(simvtp_dataloader_epoch_samples(l), 21 * 6);
    simvtp_batch b = {sizeof b};
    simvtp_batch_meta m = {sizeof m};
    ck_assert_int_eq(simvtp_dataloader_next(l, &b, &m), SIMVTP_OK);
    for (int i = 0; i < 4; i++) { /* video 0's views first, in clip/crop order */
        ck_assert_int_eq(m.sample_index[i], 0);
        ck_assert_int_eq(m.clip_index[i], i);
    }
    simvtp_dataloader_free(l);
    check_contents(&f, &p, 4);
    p.crop_mode = SIMVTP_CROP_CENTER;
    check_contents(&f, &p, 2);
    fixture_free(&f);
}
END_TEST

START_TEST(test_loader_damaged_records)
{
    fixture f;
    fixture_make(&f);
    /* damage record 2 of shard 1 (video 9) */
    simvtp_shard *s = NULL;
    ck_assert_int_eq(simvtp_shard_open(f.shards[1], &s), SIMVTP_OK);
    uint64_t off = s->index[2].offset + s->index[2].size - 3;
    simvtp_shard_close(s);
    flip_byte(f.shards[1], off);
    flip_byte(f.shards[1], off - 9);
    simvtp_dataloader_params p;
    loader_params(&f, &p);
    p.sample_mode = SIMVTP_SAMPLE_TEST; /* every frame of video 9 is read in some clip */
    p.num_clips = 4;
    p.crop_mode = SIMVTP_CROP_CENTER;
    p.frames = 8;
    simvtp_dataloader *l = NULL;
    ck_assert_int_eq(simvtp_dataloader_create(&p, &l), SIMVTP_OK);
    int64_t batches = simvtp_dataloader_epoch_batches(l);
    for (int64_t k = 0; k < batches; k++) {
        simvtp_batch b = {sizeof b};
        simvtp_batch_meta m = {sizeof m};
        ck_assert_int_eq(simvtp_dataloader_next(l, &b, &m), SIMVTP_OK);
        for (int i = 0; i < b.batch; i++) ck_assert_int_ne(m.sample_index[i], 9);
    }
    ck_assert_int_gt(simvtp_dataloader_skipped(l), 0);
    simvtp_dataloader_free(l);
    fixture_free(&f);
}
END_TEST

START_TEST(test_loader_bad_params)
{
    fixture f;
    fixture_make(&f);
    simvtp_dataloader_params p;
    simvtp_dataloader *l = NULL;
    ck_assert_int_eq(simvtp_dataloader_create(NULL, &l), SIMVTP_ERR_INVALID_ARG);
    struct { int field, value; } bad[] = {{0, 0}, {1, 0}, {2, 1}, {3, 7}, {4, 2}, {5, 0}, {6, 0},
                                          {7, 22}, {8, -1}, {9, 0}};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        loader_params(&f, &p);
        switch (bad[k].field) {
        case 0: p.batch = bad[k].value; break;
        case 1: p.frames = bad[k].value; break;
        case 2: p.max_text_len = bad[k].value; break;
        case 3: p.sample_mode = bad[k].value; break;
        case 4: p.rank = bad[k].value; p.world_size = 2; break;
        case 5: p.prefetch = bad[k].value; break;
        case 6: p.tokenizer = NULL; break;
        case 7: p.batch = bad[k].value; break; /* more than a rank's 21 samples with drop_last */
        case 8: p.threads = bad[k].value; break;
        case 9: p.num_shards = bad[k].value; break;
        }
        ck_assert_msg(simvtp_dataloader_create(&p, &l) == SIMVTP_ERR_INVALID_ARG, "case %zu", k);
        ck_assert_ptr_null(l);
        ck_assert(strlen(simvtp_last_error()) > 0);
    }
    loader_params(&f, &p);
    p.size = 0;
    ck_assert_int_eq(simvtp_dataloader_create(&p, &l), SIMVTP_ERR_INVALID_ARG);
    /* a missing or damaged shard fails at create, naming it */
    loader_params(&f, &p);
    char *keep = f.shards[2];
    f.shards[2] = path_in(f.dir, "nope.svtps");
    p.shards = (const char *const *)f.shards;
    ck_assert_int_eq(simvtp_dataloader_create(&p, &l), SIMVTP_ERR_IO);
    ck_assert_ptr_nonnull(strstr(simvtp_last_error(), "nope.svtps"));
    free(f.shards[2]);
    f.shards[2] = keep;
    simvtp_dataloader_free(NULL);
    ck_assert_int_lt(simvtp_dataloader_epoch_samples(NULL), 0);
    ck_assert_int_eq(simvtp_dataloader_seek(NULL, 0), SIMVTP_ERR_INVALID_ARG);
    loader_params(&f, &p);
    ck_assert_int_eq(simvtp_dataloader_create(&p, &l), SIMVTP_OK);
    simvtp_batch wrong = {0};
    ck_assert_int_eq(simvtp_dataloader_next(l, &wrong, NULL), SIMVTP_ERR_INVALID_ARG);
    simvtp_batch b = {sizeof b};
    ck_assert_int_eq(simvtp_dataloader_next(l, &b, NULL), SIMVTP_OK); /* meta optional */
    simvtp_dataloader_free(l);
    fixture_free(&f);
}
END_TEST

#endif /* SIMVTP_HAVE_ZSTD */

/* ------------------------------------------------------------------------ */
/* Prep                                                                     */
/* ------------------------------------------------------------------------ */

#if SIMVTP_HAVE_VIDEO && SIMVTP_HAVE_ZSTD
#define PREP_VIDEOS 7

typedef struct prep_fixture {
    char *dir, *list, *out;
    simvtp_dataset *d;
} prep_fixture;

/* Generated WebVid clips (tools/simvtp-sample-data) in a plain list with a
 * corrupt file and a missing file among them. 0 when the tool is absent. */
static int prep_fixture_make(prep_fixture *f)
{
    const char *tool = getenv("SIMVTP_SAMPLE_DATA");
    if (!tool || !*tool) return 0;
    f->dir = make_tmpdir();
    char cmd[8192];
    snprintf(cmd, sizeof cmd,
             "'%s' --out '%s/gen' --seed 3 --webvid-train %d --webvid-val 0 --msrvtt-train 0 "
             "--msrvtt-test 0 --width 48 --height 32 --frames 9 > /dev/null",
             tool, f->dir, PREP_VIDEOS);
    ck_assert_int_eq(system(cmd), 0);
    /* the list: the clips from truth.tsv, a corrupt one third, a missing one sixth */
    char *truth = path_in(f->dir, "gen/truth.tsv");
    FILE *t = fopen(truth, "r");
    ck_assert_ptr_nonnull(t);
    f->list = path_in(f->dir, "list.tsv");
    FILE *l = fopen(f->list, "w");
    char line[4096];
    int n = 0;
    while (fgets(line, sizeof line, t)) {
        char layout[64], id[256], path[1024];
        if (sscanf(line, "%63[^\t]\t%255[^\t]\t%1023[^\t]", layout, id, path) != 3) continue;
        if (strcmp(layout, "webvid-train")) continue;
        if (n == 2) fprintf(l, "corrupt.mp4\tthis file is not a video\n");
        if (n == 5) fprintf(l, "missing.mp4\tthis file does not exist\n");
        fprintf(l, "gen/%s\tclip %d of a shape ünïcödé\n", path, n);
        n++;
    }
    ck_assert_int_eq(n, PREP_VIDEOS);
    fclose(l);
    fclose(t);
    free(truth);
    char *corrupt = path_in(f->dir, "corrupt.mp4");
    uint8_t junk[3000];
    for (size_t i = 0; i < sizeof junk; i++) junk[i] = (uint8_t)(i * 7 + 1);
    memcpy(junk + 4, "ftypisom", 8);
    spit(corrupt, junk, sizeof junk);
    free(corrupt);
    ck_assert_int_eq(simvtp_dataset_open_list(f->list, NULL, &f->d), SIMVTP_OK);
    ck_assert_int_eq(simvtp_dataset_size(f->d), PREP_VIDEOS + 2);
    f->out = path_in(f->dir, "shards");
    return 1;
}

static void prep_fixture_free(prep_fixture *f)
{
    simvtp_dataset_free(f->d);
    remove_tree(f->dir);
    free(f->list);
    free(f->out);
}

typedef struct progress_log {
    int calls, stop_after;
    int64_t last_done, total;
    int monotonic;
} progress_log;

static int on_progress(void *user, int64_t done, int64_t total, double elapsed)
{
    progress_log *p = user;
    if (done < p->last_done || elapsed < 0) p->monotonic = 0;
    p->last_done = done;
    p->total = total;
    p->calls++;
    return p->stop_after > 0 && p->calls >= p->stop_after;
}

static void prep_params(simvtp_prep_params *p, progress_log *log)
{
    simvtp_prep_default_params(p);
    p->short_side = 24;
    p->frame_step = 2;
    p->max_frames = 4;
    p->records_per_shard = 3;
    p->threads = 3;
    p->progress = on_progress;
    p->progress_user = log;
}

static char *shard_name(const char *out, int k)
{
    char name[32];
    snprintf(name, sizeof name, "shard-%05d.svtps", k);
    return path_in(out, name);
}

#endif

START_TEST(test_prep_records)
{
#if SIMVTP_HAVE_VIDEO && SIMVTP_HAVE_ZSTD
    prep_fixture f;
    if (!prep_fixture_make(&f)) {
        fprintf(stderr, "test_prep_records: SIMVTP_SAMPLE_DATA not set; skipped\n");
        return;
    }
    simvtp_prep_params p;
    progress_log log = {0, 0, 0, 0, 1};
    prep_params(&p, &log);
    simvtp_prep_report rep = {sizeof rep};
    ck_assert_int_eq(simvtp_prep_shards(f.d, f.out, &p, &rep), SIMVTP_OK);
    ck_assert_int_eq(rep.written, PREP_VIDEOS);
    ck_assert_int_eq(rep.failed, 2);
    ck_assert_int_eq(rep.resumed, 0);
    ck_assert_int_eq(rep.shards, 3); /* 7 records, 3 per shard */
    ck_assert(log.monotonic);
    ck_assert_int_eq(log.last_done, PREP_VIDEOS + 2);
    ck_assert_int_eq(log.total, PREP_VIDEOS + 2);
    /* every record equals a direct decode of its video */
    int item = 0, records = 0;
    for (int k = 0; k < 3; k++) {
        char *path = shard_name(f.out, k);
        simvtp_shard *s = NULL;
        ck_assert_int_eq(simvtp_shard_open(path, &s), SIMVTP_OK);
        ck_assert_int_eq(simvtp_shard_num_records(s), k < 2 ? 3 : 1);
        for (int i = 0; i < simvtp_shard_num_records(s); i++, item++, records++) {
            if (item == 2 || item == 6) item++; /* the corrupt and the missing video */
            simvtp_record rec = {sizeof rec};
            ck_assert_int_eq(simvtp_shard_read(s, i, &rec), SIMVTP_OK);
            ck_assert_str_eq(rec.video_id, simvtp_dataset_video_id(f.d, item));
            ck_assert_int_eq(rec.num_captions, 1);
            ck_assert_str_eq(rec.captions[0], simvtp_dataset_caption(f.d, item, 0));
            ck_assert_uint_eq(s->index[i].item, (uint64_t)item);
            simvtp_video *v = NULL;
            ck_assert_int_eq(simvtp_video_open(simvtp_dataset_video_path(f.d, item), &v), SIMVTP_OK);
            simvtp_video_info info = {sizeof info};
            ck_assert_int_eq(simvtp_video_get_info(v, &info), SIMVTP_OK);
            int want = (info.frames + 1) / 2;
            if (want > 4) want = 4;
            ck_assert_int_eq(rec.frames, want);
            ck_assert_int_eq(rec.frame_step, 2);
            int32_t idx[4];
            for (int t = 0; t < want; t++) idx[t] = 2 * t;
            int w = 0, h = 0;
            ck_assert_int_eq(simvtp_video_decode_scaled(v, idx, want, 24, NULL, &w, &h), SIMVTP_OK);
            ck_assert_int_eq(rec.height, 24); /* 48x32 -> short side 24 */
            ck_assert_int_eq(h, 24);
            ck_assert_int_eq(rec.width, w);
            uint8_t *direct = malloc((size_t)want * w * h * 3);
            ck_assert_int_eq(simvtp_video_decode_scaled(v, idx, want, 24, direct, &w, &h), SIMVTP_OK);
            ck_assert_int_eq(memcmp(direct, rec.rgb, (size_t)want * w * h * 3), 0);
            free(direct);
            simvtp_video_close(v);
        }
        simvtp_shard_close(s);
        free(path);
    }
    ck_assert_int_eq(records, PREP_VIDEOS);
    char *extra = shard_name(f.out, 3);
    struct stat st;
    ck_assert_int_ne(stat(extra, &st), 0);
    free(extra);
    /* parameter errors */
    p.records_per_shard = 0;
    ck_assert_int_eq(simvtp_prep_shards(f.d, f.out, &p, &rep), SIMVTP_ERR_INVALID_ARG);
    prep_params(&p, &log);
    p.size = 1;
    ck_assert_int_eq(simvtp_prep_shards(f.d, f.out, &p, &rep), SIMVTP_ERR_INVALID_ARG);
    prep_params(&p, &log);
    ck_assert_int_eq(simvtp_prep_shards(NULL, f.out, &p, &rep), SIMVTP_ERR_INVALID_ARG);
    simvtp_prep_report bad = {0};
    ck_assert_int_eq(simvtp_prep_shards(f.d, f.out, &p, &bad), SIMVTP_ERR_INVALID_ARG);
    prep_fixture_free(&f);
#endif
}
END_TEST

START_TEST(test_prep_resume)
{
#if SIMVTP_HAVE_VIDEO && SIMVTP_HAVE_ZSTD
    prep_fixture f;
    if (!prep_fixture_make(&f)) {
        fprintf(stderr, "test_prep_resume: SIMVTP_SAMPLE_DATA not set; skipped\n");
        return;
    }
    simvtp_prep_params p;
    progress_log log = {0, 0, 0, 0, 1};
    prep_params(&p, &log);
    simvtp_prep_report rep = {sizeof rep};
    ck_assert_int_eq(simvtp_prep_shards(f.d, f.out, &p, &rep), SIMVTP_OK);
    ck_assert_int_eq(rep.shards, 3);
    uint8_t *orig[3];
    size_t size[3];
    char *paths[3];
    for (int k = 0; k < 3; k++) {
        paths[k] = shard_name(f.out, k);
        orig[k] = slurp(paths[k], &size[k]);
    }
    /* a second run keeps everything */
    ck_assert_int_eq(simvtp_prep_shards(f.d, f.out, &p, &rep), SIMVTP_OK);
    ck_assert_int_eq(rep.resumed, PREP_VIDEOS);
    ck_assert_int_eq(rep.written, 0);
    ck_assert_int_eq(rep.shards, 3);
    /* delete the last shard: the first two are kept, the last rewritten identically */
    ck_assert_int_eq(unlink(paths[2]), 0);
    ck_assert_int_eq(simvtp_prep_shards(f.d, f.out, &p, &rep), SIMVTP_OK);
    ck_assert_int_eq(rep.resumed, 6);
    ck_assert_int_eq(rep.written, 1);
    ck_assert_int_eq(rep.failed, 0); /* the missing video lies in shard 1's kept range */
    ck_assert_int_eq(rep.shards, 3);
    for (int k = 0; k < 3; k++) {
        size_t n;
        uint8_t *now = slurp(paths[k], &n);
        ck_assert_uint_eq(n, size[k]);
        ck_assert_msg(!memcmp(now, orig[k], n), "shard %d differs after resume", k);
        free(now);
    }
    /* a truncated middle shard and a leftover temporary file: rewritten from there */
    spit(paths[1], orig[1], size[1] / 2);
    char *tmp = path_in(f.out, "shard-00002.svtps.tmp.12345");
    spit(tmp, "x", 1);
    ck_assert_int_eq(simvtp_prep_shards(f.d, f.out, &p, &rep), SIMVTP_OK);
    ck_assert_int_eq(rep.resumed, 3);
    ck_assert_int_eq(rep.written, 4);
    ck_assert_int_eq(rep.failed, 1);
    struct stat st;
    ck_assert_int_ne(stat(tmp, &st), 0);
    for (int k = 0; k < 3; k++) {
        size_t n;
        uint8_t *now = slurp(paths[k], &n);
        ck_assert(n == size[k] && !memcmp(now, orig[k], n));
        free(now);
    }
    /* other settings: nothing is kept */
    p.short_side = 16;
    ck_assert_int_eq(simvtp_prep_shards(f.d, f.out, &p, &rep), SIMVTP_OK);
    ck_assert_int_eq(rep.resumed, 0);
    ck_assert_int_eq(rep.written, PREP_VIDEOS);
    /* stop from the progress callback: completed shards stay */
    p.short_side = 24;
    char *aborted = path_in(f.dir, "aborted");
    log.calls = 0;
    log.stop_after = 5; /* start call + 4 items: shard 0 done, shard 1 not */
    ck_assert_int_eq(simvtp_prep_shards(f.d, aborted, &p, &rep), SIMVTP_ERR_ABORTED);
    ck_assert_int_eq(rep.shards, 1);
    log.stop_after = 0;
    ck_assert_int_eq(simvtp_prep_shards(f.d, aborted, &p, &rep), SIMVTP_OK);
    ck_assert_int_eq(rep.resumed, 3);
    ck_assert_int_eq(rep.written, 4);
    free(aborted);
    free(tmp);
    for (int k = 0; k < 3; k++) {
        free(paths[k]);
        free(orig[k]);
    }
    prep_fixture_free(&f);
#endif
}
END_TEST

START_TEST(test_prep_unsupported_or_args)
{
    simvtp_prep_params p;
    simvtp_prep_default_params(&p);
    ck_assert_int_eq(p.size, sizeof p);
    ck_assert_int_eq(p.short_side, 128);
    ck_assert_int_eq(p.records_per_shard, 1000);
    ck_assert_int_eq(p.zstd_level, 3);
    ck_assert_int_eq(simvtp_prep_shards(NULL, "x", &p, NULL), SIMVTP_ERR_INVALID_ARG);
    char *dir = make_tmpdir();
    char *list = path_in(dir, "list.tsv");
    spit(list, "a.mp4\ta caption\n", 16);
    simvtp_dataset *d = NULL;
    ck_assert_int_eq(simvtp_dataset_open_list(list, NULL, &d), SIMVTP_OK);
    char *out = path_in(dir, "out");
    simvtp_prep_report rep = {sizeof rep};
    int rc = simvtp_prep_shards(d, out, &p, &rep);
#if SIMVTP_HAVE_VIDEO && SIMVTP_HAVE_ZSTD
    ck_assert_int_eq(rc, SIMVTP_OK); /* the one video is missing: skipped, no shard */
    ck_assert_int_eq(rep.failed, 1);
    ck_assert_int_eq(rep.written, 0);
    ck_assert_int_eq(rep.shards, 0);
#else
    ck_assert_int_eq(rc, SIMVTP_ERR_UNSUPPORTED);
#endif
    simvtp_dataset_free(d);
    free(out);
    free(list);
    remove_tree(dir);
}
END_TEST

#if !SIMVTP_HAVE_ZSTD
START_TEST(test_no_zstd)
{
    simvtp_shard *s = NULL;
    ck_assert_int_eq(simvtp_shard_open("any.svtps", &s), SIMVTP_ERR_UNSUPPORTED);
    ck_assert_ptr_null(s);
    sv_shard_encoder *e = NULL;
    ck_assert_int_eq(sv_shard_encoder_create(3, &e), SIMVTP_ERR_UNSUPPORTED);
}
END_TEST
#endif

int main(void)
{
    Suite *s = suite_create("shards");
#if SIMVTP_HAVE_ZSTD
    TCase *tf = tcase_create("format");
    tcase_set_timeout(tf, 120);
    tcase_add_test(tf, test_crc_matches_core);
    tcase_add_test(tf, test_roundtrip);
    tcase_add_test(tf, test_truncated);
    tcase_add_test(tf, test_damaged_record);
    tcase_add_test(tf, test_damaged_index_footer_header);
    tcase_add_test(tf, test_every_byte_checked);
    tcase_add_test(tf, test_writer_abort_leaves_nothing);
    suite_add_tcase(s, tf);
    TCase *tl = tcase_create("loader");
    tcase_set_timeout(tl, 300);
    tcase_add_test(tl, test_loader_determinism);
    tcase_add_test(tl, test_loader_epochs);
    tcase_add_test(tl, test_loader_rank_split);
    tcase_add_test(tl, test_loader_seek);
    tcase_add_test(tl, test_loader_contents);
    tcase_add_test(tl, test_loader_damaged_records);
    tcase_add_test(tl, test_loader_bad_params);
    suite_add_tcase(s, tl);
#else
    TCase *tz = tcase_create("no-zstd");
    tcase_add_test(tz, test_crc_matches_core);
    tcase_add_test(tz, test_no_zstd);
    suite_add_tcase(s, tz);
#endif
    TCase *tp = tcase_create("prep");
    tcase_set_timeout(tp, 300);
    tcase_add_test(tp, test_prep_records);
    tcase_add_test(tp, test_prep_resume);
    tcase_add_test(tp, test_prep_unsupported_or_args);
    suite_add_tcase(s, tp);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}

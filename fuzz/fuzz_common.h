/* fuzz/fuzz_common.h — helpers shared by the libFuzzer harnesses (header
 * only, static functions): a per-process temporary folder (made once in
 * $SIMVTP_FUZZ_TMPDIR, else /dev/shm when writable, else $TMPDIR or /tmp;
 * removed at exit), writing an input to a file there, a CRC-32 equal to
 * libsimvtp's (zlib/PNG) and little-endian accessors for the checksum
 * fix-ups, the fixed tiny model the harnesses share, and walks over loaded
 * objects so that ASan sees every byte the API hands out.
 *
 * Every harness defines LLVMFuzzerTestOneInput only; the same sources are
 * linked into tests/fuzz_regress/replay.c for the normal (gcc) build. */
#ifndef FUZZ_COMMON_H
#define FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <simvtp/simvtp.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Each harness uses some of these helpers. */
#define FZ_UNUSED __attribute__((unused))

/* ---- temporary files ---------------------------------------------------- */

#define FZ_MAX_FILES 8
FZ_UNUSED static char fz_dir[256];
FZ_UNUSED static char fz_files[FZ_MAX_FILES][320];
FZ_UNUSED static int fz_nfiles;

FZ_UNUSED static void fz_cleanup(void)
{
    for (int i = 0; i < fz_nfiles; i++) unlink(fz_files[i]);
    if (fz_dir[0]) rmdir(fz_dir);
}

FZ_UNUSED static const char *fz_tmpdir(void)
{
    if (fz_dir[0]) return fz_dir;
    const char *bases[4] = {getenv("SIMVTP_FUZZ_TMPDIR"), "/dev/shm", getenv("TMPDIR"), "/tmp"};
    for (int i = 0; i < 4; i++) {
        if (!bases[i] || !*bases[i] || access(bases[i], W_OK) != 0) continue;
        snprintf(fz_dir, sizeof fz_dir, "%s/simvtp-fuzz-XXXXXX", bases[i]);
        if (mkdtemp(fz_dir)) {
            atexit(fz_cleanup);
            return fz_dir;
        }
    }
    fprintf(stderr, "fuzz: cannot make a temporary folder\n");
    abort();
}

/* Path of `name` in the temporary folder (remembered for the clean-up). */
FZ_UNUSED static const char *fz_path(const char *name)
{
    for (int i = 0; i < fz_nfiles; i++) {
        const char *slash = strrchr(fz_files[i], '/');
        if (slash && !strcmp(slash + 1, name)) return fz_files[i];
    }
    if (fz_nfiles == FZ_MAX_FILES) abort();
    snprintf(fz_files[fz_nfiles], sizeof fz_files[0], "%s/%s", fz_tmpdir(), name);
    return fz_files[fz_nfiles++];
}

/* Write data[0..size) to `name` in the temporary folder; returns its path. */
FZ_UNUSED static const char *fz_write(const char *name, const void *data, size_t size)
{
    const char *path = fz_path(name);
    FILE *f = fopen(path, "wb");
    if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f) != 0) {
        fprintf(stderr, "fuzz: cannot write %s\n", path);
        abort();
    }
    return path;
}

FZ_UNUSED static const char *fz_write_str(const char *name, const char *text)
{
    return fz_write(name, text, strlen(text));
}

/* ---- checksums and little-endian fields (for the CRC fix-ups) ---------- */

FZ_UNUSED static uint32_t fz_crc32(const void *data, size_t n)
{
    static uint32_t table[256];
    if (!table[1])
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i;
            for (int k = 0; k < 8; k++) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            table[i] = c;
        }
    const uint8_t *p = data;
    uint32_t crc = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) crc = table[(crc ^ p[i]) & 0xFF] ^ (crc >> 8);
    return ~crc;
}

FZ_UNUSED static uint32_t fz_get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

FZ_UNUSED static uint64_t fz_get64(const uint8_t *p) { return (uint64_t)fz_get32(p + 4) << 32 | fz_get32(p); }

FZ_UNUSED static void fz_put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

/* A private, writable copy of the input (freed by the caller). */
FZ_UNUSED static uint8_t *fz_copy(const uint8_t *data, size_t size)
{
    uint8_t *c = malloc(size ? size : 1);
    if (!c) abort();
    if (size) memcpy(c, data, size);
    return c;
}

/* .svtps: recompute each record's head CRC and record CRC (in its index
 * entry), the index CRC, the footer and header CRCs, where the layout allows
 * (fuzz_shard.c, fuzz_shard_loader.c). Header 36 bytes, footer 44, index
 * entries 36; zstd frames keep their own checksums. */
FZ_UNUSED static void fz_fix_shard_crcs(uint8_t *b, size_t size)
{
    if (size < 36u + 44u || memcmp(b, "SVTPSHD1", 8) != 0) return;
    fz_put32(b + 32, fz_crc32(b, 32));
    uint8_t *f = b + size - 44u;
    uint64_t index_offset = fz_get64(f);
    uint32_t count = fz_get32(f + 8);
    uint64_t body = size - 44u;
    if (index_offset >= 36u && index_offset <= body && (body - index_offset) == (uint64_t)count * 36u) {
        for (uint32_t i = 0; i < count; i++) {
            uint8_t *e = b + index_offset + (size_t)i * 36u;
            uint64_t off = fz_get64(e), sz = fz_get64(e + 8);
            if (off > index_offset || sz > index_offset - off || sz < 4) continue;
            uint8_t *rec = b + off;
            uint32_t hb = fz_get32(rec);
            if (hb >= 8 && hb <= sz) fz_put32(rec + hb - 4, fz_crc32(rec, hb - 4));
            fz_put32(e + 32, fz_crc32(rec, (size_t)sz));
        }
        fz_put32(f + 28, fz_crc32(b + index_offset, (size_t)count * 36u));
    }
    fz_put32(f + 32, fz_crc32(f, 32));
}

/* ---- the fixed tiny model ---------------------------------------------- */

/* 2 frames of 4x4, tubelet 2, patch 2 (4 tokens), width 4, one block each
 * side, vocab 104 (the smallest valid), 4 text positions: 1,570 pretraining
 * and 900 retrieval parameters, so that their .svtp files (6-10 KiB) and
 * training states (7-19 KiB) make small seeds. fuzz/make_corpus.c builds the seeds from it. */
FZ_UNUSED static void fz_tiny_config(simvtp_config *c)
{
    if (simvtp_config_preset("tiny", c) != SIMVTP_OK) abort();
    c->frames = 2;
    c->height = c->width = 4;
    c->tubelet = 2;
    c->patch = 2;
    c->enc_width = 4;
    c->enc_depth = 1;
    c->enc_heads = 2;
    c->enc_mlp = 8;
    c->dec_width = 4;
    c->dec_depth = 1;
    c->dec_heads = 2;
    c->dec_mlp = 8;
    c->vocab_size = 104;
    c->max_text_len = 4;
    c->type_vocab = 2;
    c->video_mask_ratio = 0.5f; /* 2 of the 4 grid cells */
}

FZ_UNUSED static simvtp_model *fz_tiny_model(int kind)
{
    simvtp_config c;
    fz_tiny_config(&c);
    simvtp_model_params mp;
    simvtp_model_default_params(&mp);
    mp.threads = 1;
    simvtp_model *m = NULL;
    if (simvtp_model_create(&c, &mp, &m) != SIMVTP_OK) {
        fprintf(stderr, "fuzz: tiny model: %s\n", simvtp_last_error());
        abort();
    }
    if (kind == SIMVTP_MODEL_RETRIEVAL) {
        simvtp_model *r = NULL;
        if (simvtp_model_create_retrieval(m, &mp, &r) != SIMVTP_OK) abort();
        simvtp_model_free(m);
        m = r;
    }
    return m;
}

/* ---- walks ------------------------------------------------------------- */

FZ_UNUSED static volatile size_t fz_sink;

FZ_UNUSED static void fz_touch_str(const char *s)
{
    if (s) fz_sink += strlen(s);
}

/* Every id, path and caption of a dataset. */
FZ_UNUSED static void fz_walk_dataset(const simvtp_dataset *d)
{
    int n = simvtp_dataset_size(d);
    (void)simvtp_dataset_skipped(d);
    for (int i = 0; i < n; i++) {
        fz_touch_str(simvtp_dataset_video_id(d, i));
        fz_touch_str(simvtp_dataset_video_path(d, i));
        int nc = simvtp_dataset_num_captions(d, i);
        for (int k = 0; k < nc; k++) fz_touch_str(simvtp_dataset_caption(d, i, k));
    }
}

/* A vocabulary that every tokenizer accepts (the five specials at BERT's ids
 * would need 104 lines; the loader only needs them present). */
FZ_UNUSED static const char fz_small_vocab[] =
    "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\na\nthe\nman\nwoman\nis\nplaying\nguitar\n"
    "##s\n##ing\n##ed\nun\n##aff\n##able\n,\n.\n!\n?\n'\"\n\xe4\xb8\x80\n\xc3\xa9t\xc3\xa9\n";

#endif /* FUZZ_COMMON_H */

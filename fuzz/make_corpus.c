/* fuzz/make_corpus.c — writes the binary seed files of fuzz/corpus/ with the
 * library itself: tiny .svtp weights (pretraining and retrieval), training
 * states (fresh, after a step, mid-accumulation), .svtps shards (through the
 * library's shard encoder and writer, as prep writes them) and .svtpi
 * indexes (zstd, empty, and laid out by hand as index_io.c reads them: raw
 * codec, and zstd without a content size). The text seeds are hand-written
 * files. Run once from a fuzz build (it overwrites the files it makes):
 *   build/fuzz/fuzz/make_corpus fuzz/corpus */
#include <errno.h>
#include <sys/stat.h>

#include "fuzz_common.h"
#include "data/shard_format.h"
#include "simvtp_build_config.h"
#if SIMVTP_HAVE_ZSTD
#include <zstd.h>
#endif

static const char *root;

static void fail(const char *what)
{
    fprintf(stderr, "make_corpus: %s: %s\n", what, simvtp_last_error());
    exit(1);
}

static const char *out(const char *dir, const char *name)
{
    static char path[1024];
    snprintf(path, sizeof path, "%s/%s", root, dir);
    if (mkdir(path, 0755) != 0 && errno != EEXIST) {
        perror(path);
        exit(1);
    }
    snprintf(path, sizeof path, "%s/%s/%s", root, dir, name);
    return path;
}

static void weights_and_states(void)
{
    simvtp_model *pre = fz_tiny_model(SIMVTP_MODEL_PRETRAIN);
    simvtp_model *ret = fz_tiny_model(SIMVTP_MODEL_RETRIEVAL);
    printf("tiny model: %lld parameters (pretraining), %lld (retrieval)\n",
           (long long)simvtp_model_num_params(pre), (long long)simvtp_model_num_params(ret));
    if (simvtp_model_save(pre, out("weights", "pretrain.svtp"))) fail("save pretrain");
    if (simvtp_model_save(ret, out("weights", "retrieval.svtp"))) fail("save retrieval");

    simvtp_optimizer_params op;
    simvtp_optimizer_default_params(&op);
    simvtp_optimizer *o;
    if (simvtp_optimizer_create(ret, &op, &o)) fail("optimizer");
    if (simvtp_optimizer_save(o, out("optim_state", "retrieval-fresh.svtpt"))) fail("save state");
    simvtp_optimizer_free(o);

    /* one micro-batch of two clips with accum_steps 2: pending gradients */
    op.accum_steps = 2;
    op.warmup_steps = 3;
    op.total_steps = 10;
    op.clip_norm = 1.0f;
    if (simvtp_optimizer_create(pre, &op, &o)) fail("optimizer");
    simvtp_config c;
    fz_tiny_config(&c);
    size_t clip = (size_t)c.frames * c.height * c.width * 3;
    uint8_t *frames = malloc(2 * clip);
    for (size_t i = 0; i < 2 * clip; i++) frames[i] = (uint8_t)(i * 37 + 11);
    int32_t tokens[2 * 4] = {101, 5, 6, 102, 101, 7, 102, 0};
    int32_t lengths[2] = {4, 3};
    simvtp_batch b = {sizeof b, 2, frames, 4, tokens, lengths};
    if (simvtp_train_step(o, &b, NULL, NULL)) fail("train step");
    simvtp_optimizer_set_data_position(o, 12345);
    if (simvtp_optimizer_save(o, out("optim_state", "pretrain-pending.svtpt"))) fail("save state");
    if (simvtp_train_step(o, &b, NULL, NULL)) fail("train step");
    if (simvtp_optimizer_save(o, out("optim_state", "pretrain-step1.svtpt"))) fail("save state");
    simvtp_optimizer_free(o);
    free(frames);
    simvtp_model_free(pre);
    simvtp_model_free(ret);
}

static void shard(const char *dir, const char *name, int nrec, int captions)
{
    sv_shard_encoder *e;
    if (sv_shard_encoder_create(3, &e)) fail("shard encoder");
    sv_shard_header h = {SV_SHARD_CODEC_ZSTD, 4, 2, 3};
    sv_shard_writer *w;
    if (sv_shard_writer_open(out(dir, name), &h, 10, &w)) fail("shard writer");
    sv_shard_record_buf buf = {0};
    for (int r = 0; r < nrec; r++) {
        uint8_t rgb[3 * 6 * 4 * 3];
        for (size_t i = 0; i < sizeof rgb; i++) rgb[i] = (uint8_t)(r * 50 + (i % 7) * 30);
        const char *caps[3] = {"a man is playing the guitar", "", "\xc3\xa9t\xc3\xa9, \"quoted\""};
        char id[32];
        snprintf(id, sizeof id, "video%d", r);
        simvtp_record rec = {sizeof rec, id, captions ? 3 - r % 2 : 0, caps, 3 - r % 2, 6 - r, 4, 2, rgb};
        if (sv_shard_encode(e, &rec, &buf)) fail("shard encode");
        if (sv_shard_writer_append(w, 10 + 2 * (uint64_t)r, &buf)) fail("shard append");
    }
    if (sv_shard_writer_finish(w, 10 + 2 * (uint64_t)nrec + 1)) fail("shard finish");
    sv_shard_record_buf_free(&buf);
    sv_shard_encoder_free(e);
}

static void put64(uint8_t *p, uint64_t v)
{
    fz_put32(p, (uint32_t)v);
    fz_put32(p + 4, (uint32_t)(v >> 32));
}

static void indexes(void)
{
    const char *ids[3] = {"video0", "", "video2 \xc3\xa9t\xc3\xa9"};
    float emb[3 * 4] = {1, 0, 0, 0, 0, 0.6f, 0.8f, 0, 0.5f, 0.5f, 0.5f, 0.5f};
    simvtp_index *x;
    if (simvtp_index_create(4, &x) || simvtp_index_add(x, ids, emb, 3)) fail("index");
    if (simvtp_index_save(x, out("index", "three.svtpi"))) fail("index save");
    simvtp_index_free(x);
    if (simvtp_index_create(2, &x)) fail("index");
    if (simvtp_index_save(x, out("index", "empty.svtpi"))) fail("index save");
    simvtp_index_free(x);

    /* raw codec (0): header, then ids_len, ids, id offsets, embeddings */
    uint8_t payload[512];
    size_t n = 0, ids_len = 0;
    char idbuf[64];
    uint64_t offs[3];
    for (int i = 0; i < 3; i++) {
        offs[i] = ids_len;
        size_t l = strlen(ids[i]) + 1;
        memcpy(idbuf + ids_len, ids[i], l);
        ids_len += l;
    }
    put64(payload, ids_len), n += 8;
    memcpy(payload + n, idbuf, ids_len), n += ids_len;
    for (int k = 0; k < 3; k++) put64(payload + n, offs[k]), n += 8;
    memcpy(payload + n, emb, sizeof emb), n += sizeof emb;
    uint8_t h[52];
    memcpy(h, "SVTPIDX1", 8);
    fz_put32(h + 8, 1);
    fz_put32(h + 12, 4);
    put64(h + 16, 3);
    fz_put32(h + 24, 0);
    put64(h + 28, n);
    put64(h + 36, n);
    fz_put32(h + 44, fz_crc32(payload, n));
    fz_put32(h + 48, fz_crc32(h, 48));
    FILE *f = fopen(out("index", "three-raw.svtpi"), "wb");
    if (!f || fwrite(h, 1, 52, f) != 52 || fwrite(payload, 1, n, f) != n || fclose(f)) fail("raw index");
    simvtp_index *check;
    if (simvtp_index_load(out("index", "three-raw.svtpi"), &check)) fail("raw index reads back");
    simvtp_index_free(check);
#if SIMVTP_HAVE_ZSTD
    /* the same payload as a zstd frame without a content size (as a streaming
     * compressor writes it): the reader must not trust a size it lacks */
    uint8_t z[512];
    ZSTD_CCtx *cc = ZSTD_createCCtx();
    ZSTD_CCtx_setParameter(cc, ZSTD_c_contentSizeFlag, 0);
    ZSTD_CCtx_setParameter(cc, ZSTD_c_checksumFlag, 1);
    size_t zl = ZSTD_compress2(cc, z, sizeof z, payload, n);
    ZSTD_freeCCtx(cc);
    if (ZSTD_isError(zl)) fail("zstd");
    fz_put32(h + 24, 1);
    put64(h + 36, zl);
    fz_put32(h + 44, fz_crc32(z, zl));
    fz_put32(h + 48, fz_crc32(h, 48));
    f = fopen(out("index", "three-zstd-no-content-size.svtpi"), "wb");
    if (!f || fwrite(h, 1, 52, f) != 52 || fwrite(z, 1, zl, f) != zl || fclose(f)) fail("zstd index");
    if (simvtp_index_load(out("index", "three-zstd-no-content-size.svtpi"), &check)) fail("zstd index reads back");
    simvtp_index_free(check);
#endif
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s CORPUS_DIR (fuzz/corpus)\n", argv[0]);
        return 2;
    }
    root = argv[1];
    weights_and_states();
    for (int k = 0; k < 2; k++) { /* the same seeds for fuzz_shard and fuzz_shard_loader */
        shard(k ? "shard_loader" : "shard", "two-records.svtps", 2, 1);
        shard(k ? "shard_loader" : "shard", "one-record-no-captions.svtps", 1, 0);
    }
    indexes();
    printf("seeds written under %s\n", root);
    return 0;
}

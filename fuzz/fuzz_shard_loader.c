/* fuzz/fuzz_shard_loader.c — .svtps shards as the dataloader reads them
 * (record heads first, then only the frames a clip needs): the input is the
 * shard; simvtp_dataloader_create over it (one worker, 2x4x4 clips, a small
 * vocabulary) and up to three batches. Damaged records are skipped by the
 * loader; tried as is and with the CRCs recomputed (fz_fix_shard_crcs). */
#include "fuzz_common.h"

static void try_file(const char *path)
{
    static simvtp_tokenizer *tok;
    if (!tok && simvtp_tokenizer_load(fz_write_str("vocab.txt", fz_small_vocab), NULL, &tok) != SIMVTP_OK)
        abort();
    simvtp_dataloader_params p;
    simvtp_dataloader_default_params(&p);
    const char *shards[1] = {path};
    p.shards = shards;
    p.num_shards = 1;
    p.tokenizer = tok;
    p.batch = 2;
    p.frames = 2;
    p.height = p.width = 4;
    p.max_text_len = 8;
    p.stride = 1;
    p.shuffle_buffer = 4;
    p.drop_last = 0;
    p.threads = 1;
    p.prefetch = 1;
    simvtp_dataloader *l = NULL;
    if (simvtp_dataloader_create(&p, &l) != SIMVTP_OK) return;
    for (int k = 0; k < 3; k++) {
        simvtp_batch b;
        memset(&b, 0, sizeof b);
        b.size = sizeof b;
        simvtp_batch_meta meta;
        memset(&meta, 0, sizeof meta);
        meta.size = sizeof meta;
        if (simvtp_dataloader_next(l, &b, &meta) != SIMVTP_OK) break;
        for (int i = 0; i < b.batch; i++) fz_touch_str(meta.video_ids[i]);
        fz_sink += b.frames[0] + (size_t)b.lengths[b.batch - 1];
    }
    simvtp_dataloader_free(l);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    try_file(fz_write("shard.svtps", data, size));
    uint8_t *b = fz_copy(data, size);
    fz_fix_shard_crcs(b, size);
    if (size && memcmp(b, data, size) != 0) try_file(fz_write("shard.svtps", b, size));
    free(b);
    return 0;
}

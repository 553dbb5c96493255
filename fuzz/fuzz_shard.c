/* fuzz/fuzz_shard.c — .svtps shards (docs/FORMATS.md): the input is the
 * file; simvtp_shard_open, then simvtp_shard_read of every record (touching
 * the id, every caption and the first and last pixel). Tried as is and, when
 * that changes it, with the CRCs recomputed (each record's head CRC, the
 * record CRCs in the index, the index CRC, the footer and header CRCs); the
 * zstd frames keep their own checksums. */
#include "fuzz_common.h"

static void try_file(const char *path)
{
    simvtp_shard *s = NULL;
    if (simvtp_shard_open(path, &s) != SIMVTP_OK) return;
    int n = simvtp_shard_num_records(s);
    for (int i = 0; i < n; i++) {
        simvtp_record r;
        memset(&r, 0, sizeof r);
        r.size = sizeof r;
        if (simvtp_shard_read(s, i, &r) != SIMVTP_OK) continue;
        fz_touch_str(r.video_id);
        for (int k = 0; k < r.num_captions; k++) fz_touch_str(r.captions[k]);
        size_t bytes = (size_t)r.frames * (size_t)r.width * (size_t)r.height * 3;
        if (bytes) fz_sink += r.rgb[0] + r.rgb[bytes - 1];
    }
    simvtp_shard_close(s);
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

/* fuzz/fuzz_index.c — .svtpi embedding index: the input is the file;
 * simvtp_index_load, then every id and one top-3 search with a fixed query.
 * Tried as is and, when that changes it, with the payload and header CRCs
 * recomputed (the zstd payload then reaches the decompressor and the
 * payload parser). */
#include "fuzz_common.h"

static void fix_crcs(uint8_t *b, size_t size)
{
    if (size < 52 || memcmp(b, "SVTPIDX1", 8) != 0) return;
    uint64_t stored = fz_get64(b + 36);
    if (stored <= size - 52) fz_put32(b + 44, fz_crc32(b + 52, (size_t)stored));
    fz_put32(b + 48, fz_crc32(b, 48));
}

static void try_file(const char *path)
{
    simvtp_index *x = NULL;
    if (simvtp_index_load(path, &x) != SIMVTP_OK) return;
    int dim = simvtp_index_dim(x);
    int64_t n = simvtp_index_size(x);
    for (int64_t i = 0; i < n; i++) fz_touch_str(simvtp_index_id(x, i));
    float *q = malloc((size_t)dim * sizeof *q);
    if (q) {
        for (int d = 0; d < dim; d++) q[d] = d % 2 ? 0.5f : -0.25f;
        int64_t idx[3];
        float score[3];
        if (simvtp_index_search(x, q, 1, 3, idx, score) == SIMVTP_OK)
            for (int k = 0; k < 3; k++)
                if (idx[k] >= 0) fz_touch_str(simvtp_index_id(x, idx[k]));
        free(q);
    }
    simvtp_index_free(x);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    try_file(fz_write("index.svtpi", data, size));
    uint8_t *b = fz_copy(data, size);
    fix_crcs(b, size);
    if (size && memcmp(b, data, size) != 0) try_file(fz_write("index.svtpi", b, size));
    free(b);
    return 0;
}

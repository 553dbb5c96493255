/* fuzz/fuzz_optim_state.c — the training state (.svtpt, docs/FORMATS.md):
 * the input is the file; simvtp_optimizer_load into optimizers of the fixed
 * tiny pretraining and retrieval models. Tried as is and, when that changes
 * it, with the array CRCs recomputed. A successful load replaces the
 * optimizer's settings; nothing later depends on them. */
#include "fuzz_common.h"

static void fix_crcs(uint8_t *b, size_t size)
{
    if (size < 256 || memcmp(b, "SVTPOPT1", 8) != 0) return;
    /* version 2 adds a u64 (the non-finite count) before the settings */
    size_t shift = fz_get32(b + 8) >= 2 ? 8 : 0;
    uint64_t n = fz_get64(b + 120);
    if (n > size / 4) return;
    int arrays = 2 + (fz_get32(b + 240 + shift) == 1);
    size_t pos = 244 + shift;
    for (int k = 0; k < arrays; k++) {
        if (size - pos < 4 || (size - pos - 4) / 4 < n) break;
        fz_put32(b + pos, fz_crc32(b + pos + 4, (size_t)n * 4));
        pos += 4 + (size_t)n * 4;
    }
}

static void try_file(const char *path)
{
    static simvtp_model *pre, *ret;
    static simvtp_optimizer *opre, *oret;
    if (!pre) {
        simvtp_optimizer_params op;
        simvtp_optimizer_default_params(&op);
        pre = fz_tiny_model(SIMVTP_MODEL_PRETRAIN);
        ret = fz_tiny_model(SIMVTP_MODEL_RETRIEVAL);
        if (simvtp_optimizer_create(pre, &op, &opre) || simvtp_optimizer_create(ret, &op, &oret)) abort();
    }
    if (simvtp_optimizer_load(opre, path) == SIMVTP_OK)
        fz_sink += (size_t)simvtp_optimizer_data_position(opre);
    if (simvtp_optimizer_load(oret, path) == SIMVTP_OK)
        fz_sink += (size_t)simvtp_optimizer_data_position(oret);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    try_file(fz_write("state.svtpt", data, size));
    uint8_t *b = fz_copy(data, size);
    fix_crcs(b, size);
    if (size && memcmp(b, data, size) != 0) try_file(fz_write("state.svtpt", b, size));
    free(b);
    return 0;
}

/* fuzz/fuzz_weights.c — .svtp weights (docs/FORMATS.md): the input is the
 * file; simvtp_model_load (a model of whatever the file describes) and
 * simvtp_model_load_into (the fixed tiny pretraining and retrieval models).
 * Each input is tried as is and, when that changes it, with every CRC
 * (header and tensor data) recomputed, so mutations get past the checksums
 * and reach the table, shape and bounds checks. */
#include "fuzz_common.h"

/* Recompute the tensor CRCs and the header CRC where the layout allows. */
static void fix_crcs(uint8_t *b, size_t size)
{
    if (size < 132 || memcmp(b, "SVTPWGT1", 8) != 0) return;
    uint32_t hdr = fz_get32(b + 12);
    if (hdr < 132 || hdr > size) return;
    size_t end = hdr - 4, pos = 128, payload = size - hdr;
    uint32_t nt = fz_get32(b + 124);
    for (uint32_t i = 0; i < nt && i < 100000; i++) {
        if (end - pos < 4) break;
        uint32_t nl = fz_get32(b + pos);
        if (nl > end - pos - 4 || end - pos - 4 - nl < 8) break;
        pos += 4 + nl + 4;
        uint32_t ndim = fz_get32(b + pos);
        pos += 4;
        if (ndim > 5 || end - pos < 8 * (size_t)ndim + 20) break;
        pos += 8 * (size_t)ndim;
        uint64_t off = fz_get64(b + pos), nbytes = fz_get64(b + pos + 8);
        pos += 16;
        if (off <= payload && nbytes <= payload - off)
            fz_put32(b + pos, fz_crc32(b + hdr + off, (size_t)nbytes));
        pos += 4;
    }
    fz_put32(b + end, fz_crc32(b, end));
}

static void try_file(const char *path)
{
    static simvtp_model *pre, *ret;
    if (!pre) {
        pre = fz_tiny_model(SIMVTP_MODEL_PRETRAIN);
        ret = fz_tiny_model(SIMVTP_MODEL_RETRIEVAL);
    }
    simvtp_model_params mp;
    simvtp_model_default_params(&mp);
    mp.threads = 1;
    simvtp_model *m = NULL;
    if (simvtp_model_load(path, &mp, &m) == SIMVTP_OK) {
        fz_sink += (size_t)simvtp_model_num_params(m) + (size_t)simvtp_model_num_tensors(m);
        simvtp_model_free(m);
    }
    (void)simvtp_model_load_into(pre, path);
    (void)simvtp_model_load_into(ret, path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    try_file(fz_write("weights.svtp", data, size));
    uint8_t *b = fz_copy(data, size);
    fix_crcs(b, size);
    if (size && memcmp(b, data, size) != 0) try_file(fz_write("weights.svtp", b, size));
    free(b);
    return 0;
}

/* retrieval/index_io.c — the .svtpi embedding-index file (docs/FORMATS.md):
 * a checksummed header, then one payload (ids, id offsets, fp32 embeddings),
 * zstd-compressed when the build has zstd. Every size is checked. */
#include <stdlib.h>
#include <string.h>

#include "core/fileio.h"
#include "core/status_internal.h"
#include "retrieval/index_internal.h"
#include "simvtp_build_config.h"
#if SIMVTP_HAVE_ZSTD
#include <zstd.h>
#endif

#define IDX_MAGIC "SVTPIDX1"
#define IDX_VERSION 1u
#define IDX_HEADER_BYTES 52u
enum { CODEC_RAW = 0, CODEC_ZSTD = 1 };

static void put32(uint8_t *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i)); }
static void put64(uint8_t *p, uint64_t v) { for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i)); }
static uint32_t get32(const uint8_t *p) { uint32_t v = 0; for (int i = 3; i >= 0; i--) v = v << 8 | p[i]; return v; }
static uint64_t get64(const uint8_t *p) { uint64_t v = 0; for (int i = 7; i >= 0; i--) v = v << 8 | p[i]; return v; }

int simvtp_index_save(const simvtp_index *x, const char *path)
{
    sv_clear_error();
    SV_CHECK_ARG(x && path, "simvtp_index_save: index and path must not be NULL");
    const size_t raw = 8 + x->ids_len + 8 * (size_t)x->n + 4 * (size_t)x->n * x->dim;
    uint8_t *payload = malloc(raw);
    if (!payload) return sv_fail(SIMVTP_ERR_NOMEM, "out of memory saving %s", path);
    uint8_t *p = payload;
    put64(p, x->ids_len); p += 8;
    if (x->ids_len) memcpy(p, x->ids, x->ids_len); /* an empty index has no arrays */
    p += x->ids_len;
    for (int64_t i = 0; i < x->n; i++, p += 8) put64(p, x->id_off[i]);
    if (x->n) memcpy(p, x->emb, 4 * (size_t)x->n * x->dim);
    uint8_t *stored = payload;
    size_t stored_len = raw;
    uint32_t codec = CODEC_RAW;
#if SIMVTP_HAVE_ZSTD
    size_t bound = ZSTD_compressBound(raw);
    uint8_t *z = malloc(bound);
    if (!z) { free(payload); return sv_fail(SIMVTP_ERR_NOMEM, "out of memory saving %s", path); }
    size_t zl = ZSTD_compress(z, bound, payload, raw, 3);
    if (ZSTD_isError(zl)) {
        free(z); free(payload);
        return sv_fail(SIMVTP_ERR_INTERNAL, "zstd failed compressing %s: %s", path, ZSTD_getErrorName(zl));
    }
    stored = z;
    stored_len = zl;
    codec = CODEC_ZSTD;
#endif
    uint8_t h[IDX_HEADER_BYTES];
    memcpy(h, IDX_MAGIC, 8);
    put32(h + 8, IDX_VERSION);
    put32(h + 12, (uint32_t)x->dim);
    put64(h + 16, (uint64_t)x->n);
    put32(h + 24, codec);
    put64(h + 28, raw);
    put64(h + 36, stored_len);
    put32(h + 44, sv_crc32(0, stored, stored_len));
    put32(h + 48, sv_crc32(0, h, 48));
    sv_writer w;
    int rc = sv_writer_open(&w, path);
    if (!rc) {
        sv_write(&w, h, sizeof h);
        sv_write(&w, stored, stored_len);
        rc = sv_writer_commit(&w);
    }
    if (stored != payload) free(stored);
    free(payload);
    return rc;
}

static int parse_payload(const uint8_t *p, size_t raw, int dim, uint64_t n, const char *path,
                         simvtp_index *x)
{
    if (raw < 8) return sv_fail(SIMVTP_ERR_FORMAT, "%s: payload too short", path);
    uint64_t ids_len = get64(p);
    if (n > raw / 8 || ids_len > raw ||
        raw != 8 + ids_len + 8 * n + 4 * n * (uint64_t)dim)
        return sv_fail(SIMVTP_ERR_FORMAT, "%s: payload size %zu does not match %llu entries of dim %d",
                       path, raw, (unsigned long long)n, dim);
    if (n > 0 && (ids_len == 0 || p[8 + ids_len - 1] != 0))
        return sv_fail(SIMVTP_ERR_FORMAT, "%s: id strings are not NUL-terminated", path);
    if (sv_index_reserve(x, (int64_t)n, ids_len ? ids_len : 1))
        return sv_fail(SIMVTP_ERR_NOMEM, "out of memory loading %s (%llu entries)", path, (unsigned long long)n);
    memcpy(x->ids, p + 8, ids_len);
    const uint8_t *q = p + 8 + ids_len;
    for (uint64_t i = 0; i < n; i++, q += 8) {
        x->id_off[i] = get64(q);
        if (x->id_off[i] >= ids_len)
            return sv_fail(SIMVTP_ERR_FORMAT, "%s: id offset of entry %llu is out of range", path, (unsigned long long)i);
    }
    if (n) memcpy(x->emb, q, 4 * n * (size_t)dim); /* no emb array when n == 0 */
    x->n = (int64_t)n;
    x->ids_len = ids_len;
    return SIMVTP_OK;
}

#if SIMVTP_HAVE_ZSTD
/* Decompress the zstd payload src[0, n) into *out, which must come to exactly
 * raw bytes. The buffer grows with the output actually produced (from at
 * most 1 MiB), so a header claiming a huge size costs memory only when the
 * data really expands that far (it used to be malloc'd whole up front). */
static int inflate_payload(const uint8_t *src, size_t n, uint64_t raw, const char *path, uint8_t **out)
{
    *out = NULL;
    unsigned long long fcs = ZSTD_getFrameContentSize(src, n);
    if (fcs == ZSTD_CONTENTSIZE_ERROR || (fcs != ZSTD_CONTENTSIZE_UNKNOWN && fcs != raw))
        return sv_fail(SIMVTP_ERR_FORMAT, "%s: payload is not a zstd frame of %llu bytes", path,
                       (unsigned long long)raw);
    ZSTD_DCtx *dctx = ZSTD_createDCtx();
    size_t cap = raw < ((uint64_t)1 << 20) ? (size_t)raw + 1 : (size_t)1 << 20;
    uint8_t *buf = malloc(cap);
    if (!dctx || !buf) {
        ZSTD_freeDCtx(dctx);
        free(buf);
        return sv_fail(SIMVTP_ERR_NOMEM, "out of memory loading %s", path);
    }
    ZSTD_inBuffer in = {src, n, 0};
    ZSTD_outBuffer o = {buf, cap, 0};
    size_t hint = 1;
    int rc = SIMVTP_OK;
    for (;;) {
        if (o.pos == o.size) { /* full: grow up to raw + 1 (one byte more reveals a longer payload) */
            if (o.size > raw) break;
            size_t c = o.size > (size_t)raw / 2 ? (size_t)raw + 1 : o.size * 2;
            uint8_t *q = realloc(buf, c);
            if (!q) { rc = sv_fail(SIMVTP_ERR_NOMEM, "out of memory loading %s", path); break; }
            buf = q;
            o.dst = buf;
            o.size = c;
        }
        if (in.pos == in.size && hint == 0) break; /* all input used, last frame complete */
        size_t in0 = in.pos, out0 = o.pos;
        hint = ZSTD_decompressStream(dctx, &o, &in);
        if (ZSTD_isError(hint) || (in.pos == in0 && o.pos == out0)) break; /* damaged or cut short */
    }
    ZSTD_freeDCtx(dctx);
    if (!rc && (ZSTD_isError(hint) || hint != 0 || in.pos != in.size || o.pos != raw))
        rc = sv_fail(SIMVTP_ERR_FORMAT, "%s: payload does not decompress to %llu bytes", path,
                     (unsigned long long)raw);
    if (rc) free(buf);
    else *out = buf;
    return rc;
}
#endif

int simvtp_index_load(const char *path, simvtp_index **out)
{
    sv_clear_error();
    SV_CHECK_ARG(path && out, "simvtp_index_load: path and out must not be NULL");
    *out = NULL;
    uint8_t *buf;
    size_t size;
    SV_TRY(sv_read_file(path, &buf, &size));
    int rc = SIMVTP_OK;
    uint8_t *raw_buf = NULL;
    simvtp_index *x = NULL;
    if (size < 8 || memcmp(buf, IDX_MAGIC, 8) != 0) {
        rc = sv_fail(SIMVTP_ERR_FORMAT, "%s is not a libsimvtp index (magic is not \"" IDX_MAGIC "\")", path);
        goto done;
    }
    if (size < IDX_HEADER_BYTES) {
        rc = sv_fail(SIMVTP_ERR_TRUNCATED, "%s: file ends inside the header", path);
        goto done;
    }
    if (get32(buf + 8) != IDX_VERSION) {
        rc = sv_fail(SIMVTP_ERR_VERSION, "%s has index format version %u; this libsimvtp reads %u", path,
                     get32(buf + 8), IDX_VERSION);
        goto done;
    }
    if (sv_crc32(0, buf, 48) != get32(buf + 48)) {
        rc = sv_fail(SIMVTP_ERR_FORMAT, "%s: header checksum mismatch (file damaged)", path);
        goto done;
    }
    const uint32_t dim = get32(buf + 12), codec = get32(buf + 24);
    const uint64_t n = get64(buf + 16), raw = get64(buf + 28), stored = get64(buf + 36);
    if (dim == 0 || dim > (1u << 20) || codec > CODEC_ZSTD) {
        rc = sv_fail(SIMVTP_ERR_FORMAT, "%s: bad header (dim %u, codec %u)", path, dim, codec);
        goto done;
    }
    if (stored > size - IDX_HEADER_BYTES) {
        rc = sv_fail(SIMVTP_ERR_TRUNCATED, "%s: payload of %llu bytes but only %zu follow the header", path,
                     (unsigned long long)stored, size - IDX_HEADER_BYTES);
        goto done;
    }
    const uint8_t *sp = buf + IDX_HEADER_BYTES;
    if (sv_crc32(0, sp, stored) != get32(buf + 44)) {
        rc = sv_fail(SIMVTP_ERR_FORMAT, "%s: payload checksum mismatch (file damaged)", path);
        goto done;
    }
    const uint8_t *payload = sp;
    if (codec == CODEC_ZSTD) {
#if SIMVTP_HAVE_ZSTD
        if (raw > ((uint64_t)1 << 40)) {
            rc = sv_fail(SIMVTP_ERR_FORMAT, "%s: implausible payload size %llu", path, (unsigned long long)raw);
            goto done;
        }
        if ((rc = inflate_payload(sp, (size_t)stored, raw, path, &raw_buf))) goto done;
        payload = raw_buf;
#else
        rc = sv_fail(SIMVTP_ERR_UNSUPPORTED, "%s is zstd-compressed; this libsimvtp was built without zstd", path);
        goto done;
#endif
    } else if (raw != stored) {
        rc = sv_fail(SIMVTP_ERR_FORMAT, "%s: raw payload size mismatch", path);
        goto done;
    }
    if ((rc = simvtp_index_create((int)dim, &x))) goto done;
    rc = parse_payload(payload, raw, (int)dim, n, path, x);
done:
    free(raw_buf);
    free(buf);
    if (rc) simvtp_index_free(x);
    else *out = x;
    return rc;
}

/* data/shard_format.c — the .svtps byte layout (docs/FORMATS.md): a fast
 * CRC-32, record encoding (head + one zstd frame per video frame) and
 * parsing/checking a record head. File I/O lives in shard_writer.c and
 * shard_reader.c. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "simvtp_build_config.h"
#if SIMVTP_HAVE_ZSTD
#include <zstd.h>
#endif

#include "core/fileio.h"
#include "core/status_internal.h"
#include "data/shard_format.h"

/* ------------------------------------------------------------------------ */
/* CRC-32, slicing by 8 (same polynomial and conditioning as sv_crc32)      */
/* ------------------------------------------------------------------------ */

static uint32_t crc_tab[8][256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_tables(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        crc_tab[0][i] = c;
    }
    for (int k = 1; k < 8; k++)
        for (int i = 0; i < 256; i++)
            crc_tab[k][i] = (crc_tab[k - 1][i] >> 8) ^ crc_tab[0][crc_tab[k - 1][i] & 0xFF];
}

uint32_t sv_shard_crc32(uint32_t crc, const void *data, size_t n)
{
    pthread_once(&crc_once, crc_tables);
    const uint8_t *p = data;
    crc = ~crc;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    while (n >= 8) {
        uint64_t v;
        memcpy(&v, p, 8);
        v ^= crc;
        crc = crc_tab[7][v & 0xFF] ^ crc_tab[6][(v >> 8) & 0xFF] ^
              crc_tab[5][(v >> 16) & 0xFF] ^ crc_tab[4][(v >> 24) & 0xFF] ^
              crc_tab[3][(v >> 32) & 0xFF] ^ crc_tab[2][(v >> 40) & 0xFF] ^
              crc_tab[1][(v >> 48) & 0xFF] ^ crc_tab[0][v >> 56];
        p += 8;
        n -= 8;
    }
#endif
    while (n--) crc = crc_tab[0][(crc ^ *p++) & 0xFF] ^ (crc >> 8);
    return ~crc;
}

/* ------------------------------------------------------------------------ */
/* Little-endian stores                                                     */
/* ------------------------------------------------------------------------ */

static void put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* ------------------------------------------------------------------------ */
/* Encoding                                                                 */
/* ------------------------------------------------------------------------ */

struct sv_shard_encoder {
    int level;
    int frames, done;  /* frames of the record being encoded, frames added */
    size_t fb;         /* bytes per frame                                  */
    size_t table;      /* offset of the frame table in the head            */
    size_t head;       /* head bytes                                       */
    char id[64];       /* start of the video id, for messages              */
#if SIMVTP_HAVE_ZSTD
    ZSTD_CCtx *cctx;
#endif
};

#define NO_ZSTD_MSG "shards need zstd: this libsimvtp was built without it"

void sv_shard_record_buf_free(sv_shard_record_buf *b)
{
    if (!b) return;
    free(b->data);
    memset(b, 0, sizeof *b);
}

int sv_shard_encoder_create(int zstd_level, sv_shard_encoder **out)
{
    *out = NULL;
#if SIMVTP_HAVE_ZSTD
    sv_shard_encoder *e = calloc(1, sizeof *e);
    if (!e) return sv_fail(SIMVTP_ERR_NOMEM, "out of memory creating a shard encoder");
    e->level = zstd_level;
    e->cctx = ZSTD_createCCtx();
    if (!e->cctx) {
        free(e);
        return sv_fail(SIMVTP_ERR_NOMEM, "out of memory creating a zstd context");
    }
    /* every frame: the level, its content size and a content checksum */
    size_t z = ZSTD_CCtx_setParameter(e->cctx, ZSTD_c_compressionLevel, zstd_level);
    if (!ZSTD_isError(z)) z = ZSTD_CCtx_setParameter(e->cctx, ZSTD_c_checksumFlag, 1);
    if (!ZSTD_isError(z)) z = ZSTD_CCtx_setParameter(e->cctx, ZSTD_c_contentSizeFlag, 1);
    if (ZSTD_isError(z)) {
        ZSTD_freeCCtx(e->cctx);
        free(e);
        return sv_fail(SIMVTP_ERR_INVALID_ARG, "zstd level %d: %s", zstd_level, ZSTD_getErrorName(z));
    }
    *out = e;
    return SIMVTP_OK;
#else
    (void)zstd_level;
    return sv_fail(SIMVTP_ERR_UNSUPPORTED, NO_ZSTD_MSG);
#endif
}

void sv_shard_encoder_free(sv_shard_encoder *e)
{
    if (!e) return;
#if SIMVTP_HAVE_ZSTD
    ZSTD_freeCCtx(e->cctx);
#endif
    free(e);
}

static int reserve(sv_shard_record_buf *b, size_t need)
{
    if (need <= b->cap) return SIMVTP_OK;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < need) cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    uint8_t *p = realloc(b->data, cap);
    if (!p) return sv_fail(SIMVTP_ERR_NOMEM, "out of memory encoding a shard record (%zu bytes)", need);
    b->data = p;
    b->cap = cap;
    return SIMVTP_OK;
}

int sv_shard_encode_begin(sv_shard_encoder *e, const simvtp_record *rec, sv_shard_record_buf *out)
{
    const char *id = rec->video_id ? rec->video_id : "";
    snprintf(e->id, sizeof e->id, "%s", id);
    e->frames = e->done = 0;
    size_t id_len = strlen(id);
    if (id_len > SV_SHARD_MAX_ID_BYTES)
        return sv_fail(SIMVTP_ERR_INVALID_ARG, "video id of %zu bytes: at most %d fit a shard",
                       id_len, SV_SHARD_MAX_ID_BYTES);
    if (rec->num_captions < 0 || rec->num_captions > SV_SHARD_MAX_CAPTIONS ||
        (rec->num_captions > 0 && !rec->captions))
        return sv_fail(SIMVTP_ERR_INVALID_ARG, "video %s: %d captions (0..%d)", e->id,
                       rec->num_captions, SV_SHARD_MAX_CAPTIONS);
    if (rec->frames < 1 || rec->frames > SV_SHARD_MAX_FRAMES || rec->width < 1 ||
        rec->width > SV_SHARD_MAX_SIDE || rec->height < 1 || rec->height > SV_SHARD_MAX_SIDE ||
        rec->frame_step < 1)
        return sv_fail(SIMVTP_ERR_INVALID_ARG,
                       "video %s: frames %d, %dx%d, frame_step %d out of range for a shard", e->id,
                       rec->frames, rec->width, rec->height, rec->frame_step);
    size_t head = SV_SHARD_HEAD_FIXED_BYTES + id_len + 4 * (size_t)rec->frames;
    for (int k = 0; k < rec->num_captions; k++) {
        const char *c = rec->captions[k] ? rec->captions[k] : "";
        size_t n = strlen(c);
        if (n > SV_SHARD_MAX_CAPTION_BYTES)
            return sv_fail(SIMVTP_ERR_INVALID_ARG, "video %s: caption %d has %zu bytes (at most %d)",
                           e->id, k, n, SV_SHARD_MAX_CAPTION_BYTES);
        head += 4 + n;
    }
    SV_TRY(reserve(out, head));
    uint8_t *p = out->data;
    size_t o = 0;
    put_u32(p + o, (uint32_t)head), o += 4;
    put_u32(p + o, (uint32_t)rec->frames), o += 4;
    put_u32(p + o, (uint32_t)rec->width), o += 4;
    put_u32(p + o, (uint32_t)rec->height), o += 4;
    put_u32(p + o, (uint32_t)rec->frame_step), o += 4;
    put_u32(p + o, (uint32_t)id_len), o += 4;
    memcpy(p + o, id, id_len), o += id_len;
    put_u32(p + o, (uint32_t)rec->num_captions), o += 4;
    for (int k = 0; k < rec->num_captions; k++) {
        const char *c = rec->captions[k] ? rec->captions[k] : "";
        size_t n = strlen(c);
        put_u32(p + o, (uint32_t)n), o += 4;
        memcpy(p + o, c, n), o += n;
    }
    e->table = o;
    e->head = head;
    e->frames = rec->frames;
    e->fb = (size_t)rec->width * (size_t)rec->height * 3;
    out->size = head;
    out->raw_size = (uint64_t)e->fb * (uint64_t)rec->frames;
    out->crc = 0;
    return SIMVTP_OK;
}

int sv_shard_encode_frames(sv_shard_encoder *e, const uint8_t *rgb, int n, sv_shard_record_buf *out)
{
#if SIMVTP_HAVE_ZSTD
    if (n < 0 || n > e->frames - e->done || (n && !rgb))
        return sv_fail(SIMVTP_ERR_INTERNAL, "video %s: %d frames added to %d of %d", e->id, n, e->done,
                       e->frames);
    for (int f = 0; f < n; f++) {
        size_t bound = ZSTD_compressBound(e->fb);
        SV_TRY(reserve(out, out->size + bound));
        uint8_t *p = out->data;
        size_t z = ZSTD_compress2(e->cctx, p + out->size, bound, rgb + (size_t)f * e->fb, e->fb);
        if (ZSTD_isError(z))
            return sv_fail(SIMVTP_ERR_INTERNAL, "video %s: zstd compression of frame %d failed: %s",
                           e->id, e->done, ZSTD_getErrorName(z));
        put_u32(p + e->table + 4 * (size_t)e->done, (uint32_t)z);
        out->size += z;
        e->done++;
    }
    return SIMVTP_OK;
#else
    (void)e, (void)rgb, (void)n, (void)out;
    return sv_fail(SIMVTP_ERR_UNSUPPORTED, NO_ZSTD_MSG);
#endif
}

int sv_shard_encode_end(sv_shard_encoder *e, sv_shard_record_buf *out)
{
    if (e->done != e->frames || e->frames < 1)
        return sv_fail(SIMVTP_ERR_INTERNAL, "video %s: record ended after %d of %d frames", e->id,
                       e->done, e->frames);
    put_u32(out->data + e->head - 4, sv_shard_crc32(0, out->data, e->head - 4));
    out->crc = sv_shard_crc32(0, out->data, out->size);
    return SIMVTP_OK;
}

int sv_shard_encode(sv_shard_encoder *e, const simvtp_record *rec, sv_shard_record_buf *out)
{
    if (!rec->rgb)
        return sv_fail(SIMVTP_ERR_INVALID_ARG, "video %s: no pixels", rec->video_id ? rec->video_id : "");
    SV_TRY(sv_shard_encode_begin(e, rec, out));
    SV_TRY(sv_shard_encode_frames(e, rec->rgb, rec->frames, out));
    return sv_shard_encode_end(e, out);
}

/* ------------------------------------------------------------------------ */
/* Parsing a record head                                                    */
/* ------------------------------------------------------------------------ */

void sv_head_scratch_free(sv_head_scratch *s)
{
    if (!s) return;
    free(s->strings);
    free(s->captions);
    free(s->frame_offset);
    free(s->frame_size);
    memset(s, 0, sizeof *s);
}

/* Grow a scratch array to hold `need` elements (sets ok = 0 on failure). */
#define GROW(ptr, cap, need, ok)                                               \
    do {                                                                       \
        size_t n_ = (need) < 64 ? 64 : (size_t)(need);                         \
        if ((ok) && (size_t)(need) > (cap)) {                                  \
            void *q_ = realloc((ptr), n_ * sizeof *(ptr));                     \
            if (q_) { (ptr) = q_; (cap) = n_; } else (ok) = 0;                 \
        }                                                                      \
    } while (0)

#define BAD(...) sv_fail(SIMVTP_ERR_FORMAT, __VA_ARGS__)

int sv_shard_parse_head(const char *path, int record, const uint8_t *buf, uint64_t head_bytes,
                        uint64_t record_size, sv_head_scratch *s, sv_record_head *h)
{
    if (head_bytes < SV_SHARD_HEAD_FIXED_BYTES || head_bytes > record_size)
        return BAD("%s: record %d: head of %llu bytes does not fit the record (%llu bytes): damaged",
                   path, record, (unsigned long long)head_bytes, (unsigned long long)record_size);
    uint32_t crc = get_u32(buf + head_bytes - 4);
    if (sv_shard_crc32(0, buf, (size_t)head_bytes - 4) != crc)
        return BAD("%s: record %d: head checksum mismatch: the record is damaged", path, record);
    /* Bounded cursor over the head without its CRC. */
    sv_reader r = {buf, (size_t)head_bytes - 4, 4, path};
    uint32_t frames, width, height, step, id_len, ncap;
    if (sv_read_u32(&r, &frames, "frames") || sv_read_u32(&r, &width, "width") ||
        sv_read_u32(&r, &height, "height") || sv_read_u32(&r, &step, "frame_step") ||
        sv_read_u32(&r, &id_len, "id length"))
        return BAD("%s: record %d: head cut short: damaged", path, record);
    if (frames < 1 || frames > SV_SHARD_MAX_FRAMES || width < 1 || width > SV_SHARD_MAX_SIDE ||
        height < 1 || height > SV_SHARD_MAX_SIDE || step < 1 || id_len > SV_SHARD_MAX_ID_BYTES)
        return BAD("%s: record %d: frames %u, %ux%u, frame_step %u, id length %u out of range",
                   path, record, frames, width, height, step, id_len);
    if (id_len > r.size - r.pos)
        return BAD("%s: record %d: video id runs past the head", path, record);
    const uint8_t *id = buf + r.pos;
    r.pos += id_len;
    if (sv_read_u32(&r, &ncap, "caption count"))
        return BAD("%s: record %d: head cut short at the caption count", path, record);
    if (ncap > SV_SHARD_MAX_CAPTIONS)
        return BAD("%s: record %d: %u captions (at most %d)", path, record, ncap, SV_SHARD_MAX_CAPTIONS);
    /* strings: id + captions, each NUL-terminated; bounded by the head size */
    int ok = 1;
    GROW(s->strings, s->strings_cap, (size_t)head_bytes + 1, ok);
    GROW(s->captions, s->captions_cap, (size_t)ncap + 1, ok);
    GROW(s->frame_offset, s->offset_cap, frames, ok);
    GROW(s->frame_size, s->size_cap, frames, ok);
    if (!ok) return sv_fail(SIMVTP_ERR_NOMEM, "%s: record %d: out of memory", path, record);
    size_t so = 0;
    if (memchr(id, 0, id_len)) return BAD("%s: record %d: NUL byte inside the video id", path, record);
    memcpy(s->strings, id, id_len);
    s->strings[id_len] = '\0';
    h->video_id = s->strings;
    so = id_len + 1;
    for (uint32_t k = 0; k < ncap; k++) {
        uint32_t n;
        if (sv_read_u32(&r, &n, "caption length") || n > SV_SHARD_MAX_CAPTION_BYTES ||
            n > r.size - r.pos)
            return BAD("%s: record %d: caption %u runs past the head", path, record, k);
        if (memchr(buf + r.pos, 0, n))
            return BAD("%s: record %d: NUL byte inside caption %u", path, record, k);
        memcpy(s->strings + so, buf + r.pos, n);
        s->strings[so + n] = '\0';
        s->captions[k] = s->strings + so;
        so += (size_t)n + 1;
        r.pos += n;
    }
    /* strings fit: each string's bytes + its length word >= bytes + NUL */
    if ((uint64_t)frames * 4 != r.size - r.pos)
        return BAD("%s: record %d: frame table holds %zu bytes, %u frames need %llu", path, record,
                   r.size - r.pos, frames, (unsigned long long)frames * 4);
    uint64_t off = head_bytes;
    for (uint32_t f = 0; f < frames; f++) {
        uint32_t size = get_u32(buf + r.pos + 4 * (size_t)f);
        s->frame_size[f] = size;
        s->frame_offset[f] = off;
        off += size;
    }
    if (off != record_size)
        return BAD("%s: record %d: frames hold %llu bytes but the record has %llu after its head",
                   path, record, (unsigned long long)(off - head_bytes),
                   (unsigned long long)(record_size - head_bytes));
    h->num_captions = (int)ncap;
    h->captions = (const char *const *)s->captions;
    h->frames = (int)frames;
    h->width = (int)width;
    h->height = (int)height;
    h->frame_step = (int)step;
    h->head_bytes = head_bytes;
    h->frame_offset = s->frame_offset;
    h->frame_size = s->frame_size;
    return SIMVTP_OK;
}

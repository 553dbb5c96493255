/* data/shard_writer.c — writing one .svtps shard: the header, encoded
 * records appended as they come, then the index table and the footer; the
 * file goes to a temporary name and is renamed into place (after fflush and
 * fsync) only once complete. */
#include <stdlib.h>
#include <string.h>

#include "core/fileio.h"
#include "core/status_internal.h"
#include "data/shard_format.h"

struct sv_shard_writer {
    sv_writer w;
    uint64_t offset;      /* bytes written so far */
    uint64_t first_item;
    sv_shard_entry *index;
    size_t count, cap;
};

static void put_u32(uint8_t *p, uint32_t v)
{
    for (int k = 0; k < 4; k++) p[k] = (uint8_t)(v >> (8 * k));
}

static void put_u64(uint8_t *p, uint64_t v)
{
    put_u32(p, (uint32_t)v);
    put_u32(p + 4, (uint32_t)(v >> 32));
}

int sv_shard_writer_open(const char *path, const sv_shard_header *h, uint64_t first_item,
                         sv_shard_writer **out)
{
    *out = NULL;
    sv_shard_writer *w = calloc(1, sizeof *w);
    if (!w) return sv_fail(SIMVTP_ERR_NOMEM, "out of memory starting shard %s", path);
    int rc = sv_writer_open(&w->w, path);
    if (rc) {
        free(w);
        return rc;
    }
    uint8_t hdr[SV_SHARD_HEADER_BYTES];
    memcpy(hdr, SV_SHARD_MAGIC, SV_SHARD_MAGIC_BYTES);
    put_u32(hdr + 8, SV_SHARD_VERSION);
    put_u32(hdr + 12, SV_SHARD_HEADER_BYTES);
    put_u32(hdr + 16, h->codec);
    put_u32(hdr + 20, h->short_side);
    put_u32(hdr + 24, h->frame_step);
    put_u32(hdr + 28, h->max_frames);
    put_u32(hdr + 32, sv_shard_crc32(0, hdr, 32));
    sv_write(&w->w, hdr, sizeof hdr);
    w->offset = SV_SHARD_HEADER_BYTES;
    w->first_item = first_item;
    *out = w;
    return SIMVTP_OK;
}

int sv_shard_writer_append(sv_shard_writer *w, uint64_t item, const sv_shard_record_buf *rec)
{
    if (w->count >= SV_SHARD_MAX_RECORDS)
        return sv_fail(SIMVTP_ERR_INVALID_ARG, "%s: a shard holds at most %u records", w->w.path,
                       SV_SHARD_MAX_RECORDS);
    if (item < w->first_item || (w->count && item <= w->index[w->count - 1].item))
        return sv_fail(SIMVTP_ERR_INTERNAL, "%s: record items must increase (item %llu)", w->w.path,
                       (unsigned long long)item);
    if (w->count == w->cap) {
        size_t cap = w->cap ? 2 * w->cap : 256;
        sv_shard_entry *p = realloc(w->index, cap * sizeof *p);
        if (!p) return sv_fail(SIMVTP_ERR_NOMEM, "out of memory writing %s", w->w.path);
        w->index = p;
        w->cap = cap;
    }
    sv_shard_entry *e = &w->index[w->count++];
    e->offset = w->offset;
    e->size = rec->size;
    e->raw_size = rec->raw_size;
    e->item = item;
    e->crc = rec->crc;
    sv_write(&w->w, rec->data, rec->size);
    w->offset += rec->size;
    return SIMVTP_OK;
}

int sv_shard_writer_count(const sv_shard_writer *w) { return (int)w->count; }

static void writer_free(sv_shard_writer *w)
{
    free(w->index);
    free(w);
}

int sv_shard_writer_finish(sv_shard_writer *w, uint64_t end_item)
{
    if (end_item < w->first_item || (w->count && end_item <= w->index[w->count - 1].item)) {
        int rc = sv_fail(SIMVTP_ERR_INTERNAL, "%s: end item %llu before the last record's item",
                         w->w.path, (unsigned long long)end_item);
        sv_shard_writer_abort(w);
        return rc;
    }
    size_t n = w->count * SV_SHARD_ENTRY_BYTES;
    uint8_t *idx = malloc(n ? n : 1);
    if (!idx) {
        sv_shard_writer_abort(w);
        return sv_fail(SIMVTP_ERR_NOMEM, "out of memory finishing a shard");
    }
    for (size_t i = 0; i < w->count; i++) {
        uint8_t *p = idx + i * SV_SHARD_ENTRY_BYTES;
        put_u64(p, w->index[i].offset);
        put_u64(p + 8, w->index[i].size);
        put_u64(p + 16, w->index[i].raw_size);
        put_u64(p + 24, w->index[i].item);
        put_u32(p + 32, w->index[i].crc);
    }
    uint8_t foot[SV_SHARD_FOOTER_BYTES];
    put_u64(foot, w->offset);
    put_u32(foot + 8, (uint32_t)w->count);
    put_u64(foot + 12, w->first_item);
    put_u64(foot + 20, end_item);
    put_u32(foot + 28, sv_shard_crc32(0, idx, n));
    put_u32(foot + 32, sv_shard_crc32(0, foot, 32));
    memcpy(foot + 36, SV_SHARD_MAGIC, SV_SHARD_MAGIC_BYTES);
    sv_write(&w->w, idx, n);
    sv_write(&w->w, foot, sizeof foot);
    free(idx);
    int rc = sv_writer_commit(&w->w);
    writer_free(w);
    return rc;
}

void sv_shard_writer_abort(sv_shard_writer *w)
{
    if (!w) return;
    sv_writer_abort(&w->w);
    writer_free(w);
}

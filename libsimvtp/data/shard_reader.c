/* data/shard_reader.c — opening a .svtps shard (header, footer and index
 * checked against the file length and their CRCs) and reading records:
 * whole (simvtp_shard_read, whole-record CRC) or partially (a record's head,
 * then single frames, each with its own CRC) for the dataloader. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "simvtp_build_config.h"
#if SIMVTP_HAVE_ZSTD
#include <zstd.h>
#endif

#include "core/fileio.h"
#include "core/status_internal.h"
#include "data/shard_format.h"

#define NO_ZSTD_MSG "shards need zstd: this libsimvtp was built without it"

static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}


/* pread exactly n bytes at off; a short read means the file shrank. */
static int read_at(const simvtp_shard *s, void *dst, size_t n, uint64_t off, const char *what)
{
    size_t done = 0;
    while (done < n) {
        ssize_t k = pread(s->fd, (uint8_t *)dst + done, n - done, (off_t)(off + done));
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) return sv_fail(SIMVTP_ERR_IO, "%s: read error at %s: %s", s->path, what, strerror(errno));
        if (k == 0)
            return sv_fail(SIMVTP_ERR_TRUNCATED, "%s: file ends while reading %s (it changed after opening?)",
                           s->path, what);
        done += (size_t)k;
    }
    return SIMVTP_OK;
}

static int reserve(uint8_t **p, size_t *cap, uint64_t need, const char *path)
{
    if (need <= *cap) return SIMVTP_OK;
    if (need > SIZE_MAX / 2) return sv_fail(SIMVTP_ERR_NOMEM, "%s: record too large for memory", path);
    uint8_t *q = realloc(*p, (size_t)need);
    if (!q) return sv_fail(SIMVTP_ERR_NOMEM, "%s: out of memory (%llu bytes)", path, (unsigned long long)need);
    *p = q;
    *cap = (size_t)need;
    return SIMVTP_OK;
}

/* ------------------------------------------------------------------------ */
/* Open: header, footer, index                                              */
/* ------------------------------------------------------------------------ */

#define BAD(...) sv_fail(SIMVTP_ERR_FORMAT, __VA_ARGS__)

#if SIMVTP_HAVE_ZSTD
static uint64_t get_u64(const uint8_t *p) { return (uint64_t)get_u32(p + 4) << 32 | get_u32(p); }

static int read_header(simvtp_shard *s)
{
    uint8_t h[SV_SHARD_HEADER_BYTES];
    if (s->file_size < SV_SHARD_MAGIC_BYTES)
        return BAD("%s: %llu bytes: not a .svtps shard", s->path, (unsigned long long)s->file_size);
    SV_TRY(read_at(s, h, SV_SHARD_MAGIC_BYTES, 0, "the magic"));
    if (memcmp(h, SV_SHARD_MAGIC, SV_SHARD_MAGIC_BYTES) != 0)
        return BAD("%s: not a .svtps shard (magic is not " SV_SHARD_MAGIC ")", s->path);
    if (s->file_size < SV_SHARD_HEADER_BYTES + SV_SHARD_FOOTER_BYTES)
        return sv_fail(SIMVTP_ERR_TRUNCATED, "%s: %llu bytes: shorter than a shard's header and footer",
                       s->path, (unsigned long long)s->file_size);
    SV_TRY(read_at(s, h, sizeof h, 0, "the header"));
    uint32_t version = get_u32(h + 8);
    if (version != SV_SHARD_VERSION)
        return sv_fail(SIMVTP_ERR_VERSION, "%s: shard format version %u; this libsimvtp reads version %u",
                       s->path, version, SV_SHARD_VERSION);
    if (sv_shard_crc32(0, h, 32) != get_u32(h + 32))
        return BAD("%s: header checksum mismatch: the shard is damaged", s->path);
    if (get_u32(h + 12) != SV_SHARD_HEADER_BYTES)
        return BAD("%s: header size %u, expected %u", s->path, get_u32(h + 12), SV_SHARD_HEADER_BYTES);
    s->header.codec = get_u32(h + 16);
    s->header.short_side = get_u32(h + 20);
    s->header.frame_step = get_u32(h + 24);
    s->header.max_frames = get_u32(h + 28);
    if (s->header.codec != SV_SHARD_CODEC_ZSTD)
        return BAD("%s: unknown frame codec %u (1 = zstd)", s->path, s->header.codec);
    if (s->header.frame_step < 1)
        return BAD("%s: frame_step 0 in the header", s->path);
    return SIMVTP_OK;
}

static int read_footer_and_index(simvtp_shard *s)
{
    uint8_t f[SV_SHARD_FOOTER_BYTES];
    SV_TRY(read_at(s, f, sizeof f, s->file_size - SV_SHARD_FOOTER_BYTES, "the footer"));
    if (memcmp(f + 36, SV_SHARD_MAGIC, SV_SHARD_MAGIC_BYTES) != 0)
        return sv_fail(SIMVTP_ERR_TRUNCATED,
                       "%s: no footer at the end: the shard is truncated or its writer did not finish",
                       s->path);
    if (sv_shard_crc32(0, f, 32) != get_u32(f + 32))
        return BAD("%s: footer checksum mismatch: the shard is damaged", s->path);
    uint64_t index_offset = get_u64(f);
    uint32_t count = get_u32(f + 8);
    s->first_item = get_u64(f + 12);
    s->end_item = get_u64(f + 20);
    uint32_t index_crc = get_u32(f + 28);
    uint64_t body = s->file_size - SV_SHARD_FOOTER_BYTES;
    if (count > SV_SHARD_MAX_RECORDS || index_offset < SV_SHARD_HEADER_BYTES || index_offset > body ||
        (body - index_offset) != (uint64_t)count * SV_SHARD_ENTRY_BYTES)
        return BAD("%s: footer says %u records with the index at byte %llu, which does not match "
                   "the file's %llu bytes",
                   s->path, count, (unsigned long long)index_offset, (unsigned long long)s->file_size);
    if (s->end_item < s->first_item)
        return BAD("%s: item range [%llu, %llu) is reversed", s->path,
                   (unsigned long long)s->first_item, (unsigned long long)s->end_item);
    size_t n = (size_t)count * SV_SHARD_ENTRY_BYTES;
    uint8_t *idx = malloc(n ? n : 1);
    s->index = malloc((count ? count : 1) * sizeof *s->index);
    if (!idx || !s->index) {
        free(idx);
        return sv_fail(SIMVTP_ERR_NOMEM, "%s: out of memory for an index of %u records", s->path, count);
    }
    int rc = read_at(s, idx, n, index_offset, "the index");
    if (!rc && sv_shard_crc32(0, idx, n) != index_crc)
        rc = BAD("%s: index checksum mismatch: the shard is damaged", s->path);
    /* records are contiguous from the header to the index, items increase */
    uint64_t next = SV_SHARD_HEADER_BYTES;
    for (uint32_t i = 0; !rc && i < count; i++) {
        const uint8_t *p = idx + (size_t)i * SV_SHARD_ENTRY_BYTES;
        sv_shard_entry *e = &s->index[i];
        e->offset = get_u64(p);
        e->size = get_u64(p + 8);
        e->raw_size = get_u64(p + 16);
        e->item = get_u64(p + 24);
        e->crc = get_u32(p + 32);
        if (e->offset != next || e->size < SV_SHARD_HEAD_FIXED_BYTES || e->size > index_offset - next)
            rc = BAD("%s: index entry %u: record at %llu, %llu bytes: outside the records area",
                     s->path, i, (unsigned long long)e->offset, (unsigned long long)e->size);
        else if (e->item < s->first_item || e->item >= s->end_item || (i && e->item <= s->index[i - 1].item))
            rc = BAD("%s: index entry %u: item %llu out of order or outside [%llu, %llu)", s->path, i,
                     (unsigned long long)e->item, (unsigned long long)s->first_item,
                     (unsigned long long)s->end_item);
        else if (e->raw_size == 0)
            rc = BAD("%s: index entry %u: no pixels", s->path, i);
        next = e->offset + e->size;
    }
    if (!rc && next != index_offset)
        rc = BAD("%s: %llu bytes between the last record and the index", s->path,
                 (unsigned long long)(index_offset - next));
    free(idx);
    if (!rc) s->count = count;
    return rc;
}
#endif /* SIMVTP_HAVE_ZSTD */

int simvtp_shard_open(const char *path, simvtp_shard **out)
{
    sv_clear_error();
    SV_CHECK_ARG(path && out, "simvtp_shard_open: path and out must not be NULL");
    *out = NULL;
#if !SIMVTP_HAVE_ZSTD
    return sv_fail(SIMVTP_ERR_UNSUPPORTED, "%s: " NO_ZSTD_MSG, path);
#else
    SV_TRY(sv_require_little_endian(path));
    simvtp_shard *s = calloc(1, sizeof *s);
    if (!s) return sv_fail(SIMVTP_ERR_NOMEM, "out of memory opening %s", path);
    s->fd = -1;
    s->path = strdup(path);
    if (!s->path) {
        free(s);
        return sv_fail(SIMVTP_ERR_NOMEM, "out of memory opening %s", path);
    }
    int rc = SIMVTP_OK;
    s->fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (s->fd < 0)
        rc = sv_fail(SIMVTP_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    else if (fstat(s->fd, &st) != 0 || !S_ISREG(st.st_mode))
        rc = sv_fail(SIMVTP_ERR_IO, "%s is not a regular file", path);
    if (!rc) {
        s->file_size = (uint64_t)st.st_size;
        rc = read_header(s);
    }
    if (!rc) rc = read_footer_and_index(s);
    if (!rc) {
        s->dctx = ZSTD_createDCtx();
        if (!s->dctx) rc = sv_fail(SIMVTP_ERR_NOMEM, "out of memory opening %s", path);
    }
    if (rc) {
        simvtp_shard_close(s);
        return rc;
    }
    *out = s;
    return SIMVTP_OK;
#endif
}

void simvtp_shard_close(simvtp_shard *s)
{
    if (!s) return;
    if (s->fd >= 0) close(s->fd);
#if SIMVTP_HAVE_ZSTD
    ZSTD_freeDCtx(s->dctx);
#endif
    sv_head_scratch_free(&s->scratch);
    free(s->index);
    free(s->buf);
    free(s->rgb);
    free(s->order);
    free(s->path);
    free(s);
}

int simvtp_shard_num_records(const simvtp_shard *s)
{
    sv_clear_error();
    if (!s) return sv_fail(SIMVTP_ERR_INVALID_ARG, "simvtp_shard_num_records: shard is NULL");
    return (int)s->count;
}

/* ------------------------------------------------------------------------ */
/* Records                                                                  */
/* ------------------------------------------------------------------------ */

static int check_head(const simvtp_shard *s, int i, const sv_record_head *h)
{
    const sv_shard_entry *e = &s->index[i];
    uint64_t raw = (uint64_t)h->frames * (uint64_t)h->width * (uint64_t)h->height * 3;
    if (raw != e->raw_size)
        return BAD("%s: record %d (%s): %dx%dx%d frames make %llu bytes, the index says %llu", s->path,
                   i, h->video_id, h->frames, h->width, h->height, (unsigned long long)raw,
                   (unsigned long long)e->raw_size);
    if ((uint32_t)h->frame_step != s->header.frame_step)
        return BAD("%s: record %d (%s): frame_step %d, the shard's is %u", s->path, i, h->video_id,
                   h->frame_step, s->header.frame_step);
    /* Before anything the size of the frames is allocated: a zstd block
     * yields at most 128 KiB from at least 4 bytes (RFC 8878), so a frame of
     * n bytes never decompresses to more than 32768 n; a damaged head cannot
     * make a small record allocate gigabytes. */
    size_t fb = (size_t)h->width * (size_t)h->height * 3;
    for (int f = 0; f < h->frames; f++)
        if ((uint64_t)h->frame_size[f] * 32768 < fb)
            return BAD("%s: record %d (%s): frame %d has %u bytes, too few to hold %zu: the record is damaged",
                       s->path, i, h->video_id, f, h->frame_size[f], fb);
    return SIMVTP_OK;
}

#if SIMVTP_HAVE_ZSTD
/* Decompress one stored frame (src, n bytes) into exactly fb bytes. */
static int inflate_frame(simvtp_shard *s, int i, int f, const uint8_t *src, size_t n, uint8_t *dst,
                         size_t fb)
{
    unsigned long long content = ZSTD_getFrameContentSize(src, n);
    if (content != (unsigned long long)fb)
        return BAD("%s: record %d: frame %d is not a zstd frame of %zu bytes: the record is damaged",
                   s->path, i, f, fb);
    size_t got = ZSTD_decompressDCtx(s->dctx, dst, fb, src, n);
    if (ZSTD_isError(got) || got != fb)
        return BAD("%s: record %d: frame %d does not decompress (%s): the record is damaged", s->path, i,
                   f, ZSTD_isError(got) ? ZSTD_getErrorName(got) : "wrong size");
    return SIMVTP_OK;
}

/* Before the record's pixels are allocated: every stored frame (in s->buf)
 * must announce exactly fb bytes (inflate_frame checks again). */
static int check_frame_sizes(const simvtp_shard *s, int i, const sv_record_head *h, size_t fb)
{
    for (int f = 0; f < h->frames; f++)
        if (ZSTD_getFrameContentSize(s->buf + h->frame_offset[f], h->frame_size[f]) != fb)
            return BAD("%s: record %d: frame %d is not a zstd frame of %zu bytes: the record is damaged",
                       s->path, i, f, fb);
    return SIMVTP_OK;
}
#endif

int simvtp_shard_read(simvtp_shard *s, int i, simvtp_record *rec)
{
    sv_clear_error();
    SV_CHECK_ARG(s && rec, "simvtp_shard_read: shard and record must not be NULL");
    SV_CHECK_ARG(rec->size == sizeof *rec, "simvtp_shard_read: record.size is %zu, expected %zu",
                 rec->size, sizeof *rec);
    SV_CHECK_ARG(i >= 0 && (uint32_t)i < s->count, "%s: record %d out of range (0..%u)", s->path, i,
                 s->count);
#if !SIMVTP_HAVE_ZSTD
    return sv_fail(SIMVTP_ERR_UNSUPPORTED, "%s: " NO_ZSTD_MSG, s->path);
#else
    const sv_shard_entry *e = &s->index[i];
    SV_TRY(reserve(&s->buf, &s->buf_cap, e->size, s->path));
    SV_TRY(read_at(s, s->buf, (size_t)e->size, e->offset, "a record"));
    if (sv_shard_crc32(0, s->buf, (size_t)e->size) != e->crc)
        return BAD("%s: record %d: checksum mismatch: the record is damaged", s->path, i);
    sv_record_head h;
    SV_TRY(sv_shard_parse_head(s->path, i, s->buf, get_u32(s->buf), e->size, &s->scratch, &h));
    SV_TRY(check_head(s, i, &h));
    size_t fb = (size_t)h.width * (size_t)h.height * 3;
    SV_TRY(check_frame_sizes(s, i, &h, fb));
    SV_TRY(reserve(&s->rgb, &s->rgb_cap, e->raw_size, s->path));
    for (int f = 0; f < h.frames; f++)
        SV_TRY(inflate_frame(s, i, f, s->buf + h.frame_offset[f], h.frame_size[f],
                             s->rgb + (size_t)f * fb, fb));
    rec->video_id = h.video_id;
    rec->num_captions = h.num_captions;
    rec->captions = h.captions;
    rec->frames = h.frames;
    rec->width = h.width;
    rec->height = h.height;
    rec->frame_step = h.frame_step;
    rec->rgb = s->rgb;
    return SIMVTP_OK;
#endif
}

int sv_shard_read_head(simvtp_shard *s, int i, sv_record_head *h)
{
    const sv_shard_entry *e = &s->index[i];
    uint64_t probe = e->size < SV_SHARD_HEAD_PROBE ? e->size : SV_SHARD_HEAD_PROBE;
    SV_TRY(reserve(&s->buf, &s->buf_cap, probe, s->path));
    SV_TRY(read_at(s, s->buf, (size_t)probe, e->offset, "a record head"));
    uint64_t hb = get_u32(s->buf);
    if (hb < SV_SHARD_HEAD_FIXED_BYTES || hb > e->size)
        return BAD("%s: record %d: head of %llu bytes does not fit the record: damaged", s->path, i,
                   (unsigned long long)hb);
    if (hb > probe) {
        SV_TRY(reserve(&s->buf, &s->buf_cap, hb, s->path));
        SV_TRY(read_at(s, s->buf + probe, (size_t)(hb - probe), e->offset + probe, "a record head"));
    }
    SV_TRY(sv_shard_parse_head(s->path, i, s->buf, hb, e->size, &s->scratch, h));
    return check_head(s, i, h);
}

#define READ_RUN_MAX_BYTES (64u << 20) /* longest run of frames read at once */

int sv_shard_read_frames(simvtp_shard *s, int i, const sv_record_head *h, const int32_t *stored,
                         int n, uint8_t *out)
{
#if !SIMVTP_HAVE_ZSTD
    (void)i, (void)h, (void)stored, (void)n, (void)out;
    return sv_fail(SIMVTP_ERR_UNSUPPORTED, "%s: " NO_ZSTD_MSG, s->path);
#else
    const sv_shard_entry *e = &s->index[i];
    size_t fb = (size_t)h->width * (size_t)h->height * 3;
    if ((size_t)n > s->order_cap) {
        int32_t *q = realloc(s->order, (size_t)n * sizeof *q);
        if (!q) return sv_fail(SIMVTP_ERR_NOMEM, "%s: out of memory", s->path);
        s->order = q;
        s->order_cap = (size_t)n;
    }
    /* the requests sorted by frame (stable), so runs of frames are read once */
    int32_t *ord = s->order;
    for (int t = 0; t < n; t++) {
        if (stored[t] < 0 || stored[t] >= h->frames)
            return sv_fail(SIMVTP_ERR_INTERNAL, "%s: record %d: stored frame %d of %d requested", s->path,
                           i, stored[t], h->frames);
        int k = t;
        while (k > 0 && stored[ord[k - 1]] > stored[t]) {
            ord[k] = ord[k - 1];
            k--;
        }
        ord[k] = t;
    }
    for (int k = 0; k < n;) {
        int f0 = stored[ord[k]], j = k;
        uint64_t lo = h->frame_offset[f0];
        while (j + 1 < n && stored[ord[j + 1]] <= stored[ord[j]] + 1 &&
               h->frame_offset[stored[ord[j + 1]]] + h->frame_size[stored[ord[j + 1]]] - lo <=
                   READ_RUN_MAX_BYTES)
            j++;
        int fl = stored[ord[j]];
        uint64_t len = h->frame_offset[fl] + h->frame_size[fl] - lo;
        SV_TRY(reserve(&s->buf, &s->buf_cap, len, s->path));
        SV_TRY(read_at(s, s->buf, (size_t)len, e->offset + lo, "frames"));
        for (int m = k; m <= j; m++) {
            int f = stored[ord[m]];
            uint8_t *dst = out + (size_t)ord[m] * fb;
            if (m > k && stored[ord[m - 1]] == f)
                memcpy(dst, out + (size_t)ord[m - 1] * fb, fb);
            else
                SV_TRY(inflate_frame(s, i, f, s->buf + (h->frame_offset[f] - lo), h->frame_size[f], dst, fb));
        }
        k = j + 1;
    }
    return SIMVTP_OK;
#endif
}

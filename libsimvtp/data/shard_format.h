/* data/shard_format.h — the .svtps shard layout (docs/FORMATS.md, ".svtps
 * shards"): named constants, the CRC-32 used by shards, record encoding
 * (done by prep workers), the shard writer (one thread), and the reader's
 * internals: the opened-shard struct and partial record access (a record's
 * head, then only the frames a clip needs), used by prep's resume check and
 * by the dataloader. */
#ifndef SV_SHARD_FORMAT_H
#define SV_SHARD_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#include "simvtp/shards.h"

#define SV_SHARD_MAGIC "SVTPSHD1"
#define SV_SHARD_MAGIC_BYTES 8u
#define SV_SHARD_VERSION 1u
#define SV_SHARD_HEADER_BYTES 36u      /* magic, 6 u32 fields, header CRC      */
#define SV_SHARD_FOOTER_BYTES 44u      /* u64 index offset .. magic            */
#define SV_SHARD_ENTRY_BYTES 36u       /* index entry: 4 u64 + u32 CRC         */
#define SV_SHARD_CODEC_ZSTD 1u         /* frames stored as one zstd frame each */

/* A record's head: u32 head_bytes, 4 u32 shape fields, u32 id length,
 * u32 caption count, then a u32 compressed size per frame, then the head
 * CRC. Each frame is one zstd frame with a content checksum, so a single
 * frame can be read and verified alone. */
#define SV_SHARD_HEAD_FIXED_BYTES 32u  /* head with an empty id, no captions/frames */
#define SV_SHARD_HEAD_PROBE 4096u      /* bytes read first to find the head's size  */

/* Limits a reader enforces (a writer refuses to exceed them). */
#define SV_SHARD_MAX_ID_BYTES 4096
#define SV_SHARD_MAX_CAPTIONS 65536
#define SV_SHARD_MAX_CAPTION_BYTES (1 << 20)
#define SV_SHARD_MAX_FRAMES 65536
#define SV_SHARD_MAX_SIDE 16384
#define SV_SHARD_MAX_RECORDS 100000000u

/* CRC-32 (IEEE, the zlib/PNG CRC: the same values as sv_crc32 in
 * core/fileio.c), computed eight bytes at a time. */
uint32_t sv_shard_crc32(uint32_t crc, const void *data, size_t n);

/* Settings stored in every shard header; prep keeps a shard on resume only
 * when they equal its own. */
typedef struct sv_shard_header {
    uint32_t codec, short_side, frame_step, max_frames;
} sv_shard_header;

/* ------------------------------------------------------------------------ */
/* Encoding (prep workers, tests)                                           */
/* ------------------------------------------------------------------------ */

/* A record's stored bytes plus the index fields that describe them. */
typedef struct sv_shard_record_buf {
    uint8_t *data;
    size_t size, cap;
    uint64_t raw_size; /* frames * height * width * 3 */
    uint32_t crc;      /* sv_shard_crc32 of data[0, size) */
} sv_shard_record_buf;

void sv_shard_record_buf_free(sv_shard_record_buf *b);

/* One compression context; one per thread. */
typedef struct sv_shard_encoder sv_shard_encoder;

/* SIMVTP_ERR_UNSUPPORTED without zstd in the build. */
int sv_shard_encoder_create(int zstd_level, sv_shard_encoder **out);
void sv_shard_encoder_free(sv_shard_encoder *e);

/* Encode rec (video_id, captions, frames/width/height/frame_step, rgb) into
 * out (its buffer is reused and grown). */
int sv_shard_encode(sv_shard_encoder *e, const simvtp_record *rec, sv_shard_record_buf *out);

/* The same in steps, so that a long video need not be held decoded at once:
 * begin with rec's fields (rec->rgb is not used), add the frames in order
 * (n at a time), end once all rec->frames frames were added. */
int sv_shard_encode_begin(sv_shard_encoder *e, const simvtp_record *rec, sv_shard_record_buf *out);
int sv_shard_encode_frames(sv_shard_encoder *e, const uint8_t *rgb, int n, sv_shard_record_buf *out);
int sv_shard_encode_end(sv_shard_encoder *e, sv_shard_record_buf *out);

/* ------------------------------------------------------------------------ */
/* Writing (one thread)                                                     */
/* ------------------------------------------------------------------------ */

typedef struct sv_shard_writer sv_shard_writer;

/* Start a shard at `path` (written to a temporary file; nothing appears at
 * `path` until finish). first_item: dataset index where the shard's range
 * of source items starts. */
int sv_shard_writer_open(const char *path, const sv_shard_header *h, uint64_t first_item,
                         sv_shard_writer **out);
/* Append an encoded record for dataset item `item` (increasing). */
int sv_shard_writer_append(sv_shard_writer *w, uint64_t item, const sv_shard_record_buf *rec);
int sv_shard_writer_count(const sv_shard_writer *w);
/* Write the index and footer (range [first_item, end_item)), flush, fsync
 * and rename into place. Frees w whatever the outcome. */
int sv_shard_writer_finish(sv_shard_writer *w, uint64_t end_item);
/* Drop the temporary file. Accepts NULL. */
void sv_shard_writer_abort(sv_shard_writer *w);

/* ------------------------------------------------------------------------ */
/* Reading                                                                  */
/* ------------------------------------------------------------------------ */

typedef struct sv_shard_entry {
    uint64_t offset, size, raw_size, item;
    uint32_t crc;
} sv_shard_entry;

/* A parsed record head. Pointers are owned by the shard and valid until
 * the next read on it. Frame f's compressed bytes are at record offset
 * frame_offset[f], frame_size[f] bytes. */
typedef struct sv_record_head {
    const char *video_id;
    int num_captions;
    const char *const *captions;
    int frames, width, height, frame_step;
    uint64_t head_bytes;
    const uint64_t *frame_offset;
    const uint32_t *frame_size;
} sv_record_head;

/* Scratch memory a head's strings and tables live in. */
typedef struct sv_head_scratch {
    char *strings;
    size_t strings_cap;
    const char **captions;
    size_t captions_cap;
    uint64_t *frame_offset;
    uint32_t *frame_size;
    size_t offset_cap, size_cap;
} sv_head_scratch;

void sv_head_scratch_free(sv_head_scratch *s);

/* Parse and check a record head: buf holds the head's head_bytes bytes
 * (head_bytes taken from its first word), record_size the record's stored
 * size. Errors are SIMVTP_ERR_FORMAT naming path and record. */
int sv_shard_parse_head(const char *path, int record, const uint8_t *buf, uint64_t head_bytes,
                        uint64_t record_size, sv_head_scratch *scratch, sv_record_head *h);

struct simvtp_shard {
    char *path;
    int fd;
    uint64_t file_size;
    sv_shard_header header;
    uint64_t first_item, end_item; /* dataset range the shard covers            */
    uint32_t count;
    sv_shard_entry *index;
    void *dctx;                     /* ZSTD_DCtx                                 */
    uint8_t *buf;                   /* stored bytes of the record being read     */
    size_t buf_cap;
    uint8_t *rgb;                   /* frames of the last simvtp_shard_read      */
    size_t rgb_cap;
    int32_t *order;                 /* sv_shard_read_frames' request order       */
    size_t order_cap;
    sv_head_scratch scratch;
};

/* Read and check record i's head (its CRC) without its frames. */
int sv_shard_read_head(simvtp_shard *s, int i, sv_record_head *h);

/* After sv_shard_read_head(s, i, h): decompress stored frames
 * stored[0..n) (each in [0, h->frames), repeats allowed, each decoded once,
 * runs of neighbouring frames read at once) into out[n, height, width, 3];
 * zstd verifies each frame's content checksum and size. */
int sv_shard_read_frames(simvtp_shard *s, int i, const sv_record_head *h,
                         const int32_t *stored, int n, uint8_t *out);

/* ------------------------------------------------------------------------ */
/* Dataloader internals (shared with the tests)                             */
/* ------------------------------------------------------------------------ */

/* The random choices of sample u (= video * samples_per_video + clip *
 * crops + crop) in `epoch` of a loader seeded with `seed`: the seed given
 * to simvtp_sample_frames, the one given to simvtp_crop_frames, and which
 * of num_captions captions is used (0 when there are fewer than two). */
void sv_loader_sample_choices(uint64_t seed, int64_t epoch, uint64_t u, int num_captions,
                              uint64_t *frame_seed, uint64_t *crop_seed, int *caption);

#endif /* SV_SHARD_FORMAT_H */

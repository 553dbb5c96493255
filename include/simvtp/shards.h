/* simvtp/shards.h — .svtps shards (docs/FORMATS.md): each record holds a
 * video id, its captions and its frames decoded once (resized so the short
 * side is `short_side`, every `frame_step`-th frame, uint8 RGB),
 * zstd-compressed, with an index table and per-record checksums; and the
 * prep step that writes them from a dataset on several threads, with
 * progress and resume.
 *
 * Thread safety: a shard reader is used by one thread at a time. */
#ifndef SIMVTP_SHARDS_H
#define SIMVTP_SHARDS_H

#include <stddef.h>
#include <stdint.h>
#include "simvtp/export.h"
#include "simvtp/dataset.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Progress of a long job: done of total items, elapsed seconds. Return
 * non-zero to stop (the call then returns SIMVTP_ERR_ABORTED, keeping all
 * completed work). */
typedef int (*simvtp_progress_fn)(void *user_data, int64_t done, int64_t total,
                                  double elapsed_sec);

typedef struct simvtp_prep_params {
    size_t size;              /* sizeof(simvtp_prep_params)                         */
    int short_side;           /* frames resized so the shorter side is this (128)    */
    int frame_step;           /* keep every frame_step-th frame (1 = all)            */
    int max_frames;           /* keep at most this many (after frame_step; 0 = all)  */
    int records_per_shard;    /* 1000                                                */
    int threads;              /* decoding threads (0 = number of CPUs)               */
    int zstd_level;           /* 3                                                   */
    simvtp_progress_fn progress; /* optional, called from the calling thread       */
    void *progress_user;
} simvtp_prep_params;

SIMVTP_API void simvtp_prep_default_params(simvtp_prep_params *p);

typedef struct simvtp_prep_report {
    size_t size;              /* sizeof(simvtp_prep_report): set before the call     */
    int64_t written;          /* records written by this call                        */
    int64_t resumed;          /* records already present from an earlier run         */
    int64_t failed;           /* videos skipped (missing, corrupt, unsupported)      */
    int shards;               /* shard files in out_dir after the call               */
} simvtp_prep_report;

/* Decode every video of `d` into shards out_dir/shard-NNNNN.svtps. Shards
 * already complete in out_dir are kept (resume); a partial last shard is
 * rewritten. Videos that fail to decode are skipped, counted and logged. */
SIMVTP_API int simvtp_prep_shards(const simvtp_dataset *d, const char *out_dir,
                                  const simvtp_prep_params *p, simvtp_prep_report *report);

typedef struct simvtp_shard simvtp_shard;

/* Open a shard and validate its header and index (SIMVTP_ERR_FORMAT /
 * SIMVTP_ERR_TRUNCATED naming the file). */
SIMVTP_API int simvtp_shard_open(const char *path, simvtp_shard **out);
SIMVTP_API void simvtp_shard_close(simvtp_shard *s);
SIMVTP_API int simvtp_shard_num_records(const simvtp_shard *s);

/* One decoded record; pointers are owned by the shard and valid until the
 * next read on it. */
typedef struct simvtp_record {
    size_t size;              /* sizeof(simvtp_record): set before the call          */
    const char *video_id;
    int num_captions;
    const char *const *captions;
    int frames, width, height; /* stored frames [frames, height, width, 3]          */
    int frame_step;           /* stored frame k is source frame k*frame_step        */
    const uint8_t *rgb;
} simvtp_record;

/* Read record i: checksum verified (SIMVTP_ERR_FORMAT naming file and
 * record on mismatch). */
SIMVTP_API int simvtp_shard_read(simvtp_shard *s, int i, simvtp_record *rec);

#ifdef __cplusplus
}
#endif
#endif /* SIMVTP_SHARDS_H */

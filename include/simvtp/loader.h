/* simvtp/loader.h — the dataloader: worker threads read shards, shuffle
 * (seeded, per epoch: shard order + a shuffle buffer), sample frames,
 * crop/flip, tokenize, assemble batches and prefetch; ranks see disjoint
 * samples; the position can be saved and restored so training resumes
 * exactly.
 *
 * Thread safety: one thread calls a loader; it runs its own workers. */
#ifndef SIMVTP_LOADER_H
#define SIMVTP_LOADER_H

#include <stddef.h>
#include <stdint.h>
#include "simvtp/export.h"
#include "simvtp/model.h"
#include "simvtp/tokenizer.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct simvtp_dataloader simvtp_dataloader;

typedef struct simvtp_dataloader_params {
    size_t size;                   /* sizeof(simvtp_dataloader_params)              */
    const char *const *shards;     /* shard paths                                   */
    int num_shards;
    const simvtp_tokenizer *tokenizer; /* must outlive the loader                   */
    int batch;                     /* samples per batch (per rank)                  */
    int frames, height, width;     /* clip shape (the model config's T, H, W)       */
    int max_text_len;              /* token cap per caption (>= 2)                  */
    int sample_mode;               /* simvtp_sample_mode                            */
    int crop_mode;                 /* simvtp_crop_mode                              */
    int stride;                    /* sampling stride in source frames (4)          */
    int num_clips;                 /* TEST: clips per video (each a sample)         */
    int num_crops;                 /* TEST with SIMVTP_CROP_THREE: 3                */
    int shuffle;                   /* 1: shuffle per epoch (0 for evaluation)       */
    int shuffle_buffer;            /* samples in the shuffle buffer (1024)          */
    int drop_last;                 /* 1: drop a final partial batch                 */
    uint64_t seed;
    int rank, world_size;          /* 0, 1                                          */
    int threads;                   /* worker threads (2)                            */
    int prefetch;                  /* batches prepared ahead (2)                    */
} simvtp_dataloader_params;

SIMVTP_API void simvtp_dataloader_default_params(simvtp_dataloader_params *p);
SIMVTP_API int simvtp_dataloader_create(const simvtp_dataloader_params *p, simvtp_dataloader **out);
SIMVTP_API void simvtp_dataloader_free(simvtp_dataloader *l);

/* Extra per-sample information of the last batch (for evaluation). */
typedef struct simvtp_batch_meta {
    size_t size;                   /* sizeof(simvtp_batch_meta): set before the call */
    int64_t epoch;
    const int64_t *sample_index;   /* [batch] global index of each sample's video   */
    const char *const *video_ids;  /* [batch]                                        */
    const int32_t *clip_index;     /* [batch] TEST clip*num_crops+crop, else 0       */
} simvtp_batch_meta;

/* Next batch; its memory belongs to the loader and stays valid until the
 * next call. At the end of an epoch the next epoch starts (reshuffled);
 * meta may be NULL. Bad records are skipped and counted. */
SIMVTP_API int simvtp_dataloader_next(simvtp_dataloader *l, simvtp_batch *batch,
                                      simvtp_batch_meta *meta);

/* Samples per epoch for this rank, and batches per epoch. */
SIMVTP_API int64_t simvtp_dataloader_epoch_samples(const simvtp_dataloader *l);
SIMVTP_API int64_t simvtp_dataloader_epoch_batches(const simvtp_dataloader *l);
SIMVTP_API int64_t simvtp_dataloader_skipped(const simvtp_dataloader *l);

/* Position (batches delivered since the start, across epochs) and a seek to
 * one: after seek(pos) the loader yields exactly what it yielded after pos
 * batches in an uninterrupted run. */
SIMVTP_API uint64_t simvtp_dataloader_position(const simvtp_dataloader *l);
SIMVTP_API int simvtp_dataloader_seek(simvtp_dataloader *l, uint64_t position);

#ifdef __cplusplus
}
#endif
#endif /* SIMVTP_LOADER_H */

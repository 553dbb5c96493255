/* simvtp/video.h — video files through FFmpeg (any container/codec FFmpeg
 * reads): frame count, decoding exactly the frames a sampling rule asks
 * for, the SimVTP sampling rules and crops.
 *
 * Thread safety: a simvtp_video is used by one thread at a time (each loader
 * worker owns its own); the sampling and crop functions are pure. Without
 * FFmpeg in the build, simvtp_video_open returns SIMVTP_ERR_UNSUPPORTED. */
#ifndef SIMVTP_VIDEO_H
#define SIMVTP_VIDEO_H

#include <stddef.h>
#include <stdint.h>
#include "simvtp/export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct simvtp_video simvtp_video;

typedef struct simvtp_video_info {
    size_t size;         /* sizeof(simvtp_video_info): set before the call          */
    int frames;          /* number of decodable frames (counted exactly on open)    */
    int width, height;   /* display size in pixels                                  */
    double fps;          /* average frame rate (0 when unknown)                     */
    double duration;     /* seconds (0 when unknown)                                */
} simvtp_video_info;

/* Open and index a video. SIMVTP_ERR_IO (missing/unreadable),
 * SIMVTP_ERR_FORMAT (not a video, corrupt, no video stream, zero frames),
 * SIMVTP_ERR_UNSUPPORTED (no decoder for the codec). */
SIMVTP_API int simvtp_video_open(const char *path, simvtp_video **out);
SIMVTP_API void simvtp_video_close(simvtp_video *v);
SIMVTP_API int simvtp_video_get_info(const simvtp_video *v, simvtp_video_info *info);

/* Decode frames indices[0..n) (0-based, any order, repeats allowed) as RGB24
 * at native size into rgb[n, height, width, 3]. Indices must be in
 * [0, frames). Decodes each needed frame once. */
SIMVTP_API int simvtp_video_decode(simvtp_video *v, const int32_t *indices, int n, uint8_t *rgb);

/* Decode and resize (bilinear, swscale) so that the SHORTER side becomes
 * short_side (aspect kept; the output size goes to *out_w, *out_h; pass
 * rgb = NULL to query the size). */
SIMVTP_API int simvtp_video_decode_scaled(simvtp_video *v, const int32_t *indices, int n,
                                          int short_side, uint8_t *rgb, int *out_w, int *out_h);

/* Sampling rules (SPEC.md, Input / Fine-tuning / Test), as the released
 * SimVTP loaders compute them (exact definitions: libsimvtp/data/sampling.c). */
typedef enum simvtp_sample_mode {
    SIMVTP_SAMPLE_PRETRAIN = 0, /* random window of T*stride frames, every stride-th;
                                   short videos step from 0 and repeat the last
                                   reachable frame                                  */
    SIMVTP_SAMPLE_FINETUNE = 1, /* linspace of T over a random window of T*stride
                                   frames (short: linspace over all, pad with last) */
    SIMVTP_SAMPLE_TEST = 2      /* clip k of K: T consecutive entries of the list of
                                   every stride-th frame, starting at the k-th of K
                                   evenly spaced positions                          */
} simvtp_sample_mode;

/* Fill out[0..T) with frame indices for a video of `frames` frames.
 * stride: 4 in the paper (window = T*stride frames). `seed` drives the
 * random window start (ignored by TEST). clip/num_clips: for TEST. */
SIMVTP_API int simvtp_sample_frames(int mode, int frames, int T, int stride, uint64_t seed,
                                    int clip, int num_clips, int32_t *out);

/* Crops applied to all n frames alike (SPEC.md). */
typedef enum simvtp_crop_mode {
    SIMVTP_CROP_MULTISCALE = 0,     /* pretraining: side = short*{1,.875,.75,.66}
                                       (w/h scale indices differ <= 1), one of 13
                                       grid offsets, resized; no flip                */
    SIMVTP_CROP_RANDOM_RESIZED = 1, /* fine-tuning: scale .08-1, ratio .75-1.3333,
                                       resized, horizontal flip with p = 0.5        */
    SIMVTP_CROP_CENTER = 2,         /* test: resize short side to out size, centre */
    SIMVTP_CROP_THREE = 3           /* test: resize short side, crop `index` 0..2
                                       along the long side (start, centre, end)    */
} simvtp_crop_mode;

/* in[n, in_h, in_w, 3] -> out[n, out_h, out_w, 3], bilinear. Random choices
 * come from `seed`. */
SIMVTP_API int simvtp_crop_frames(const uint8_t *in, int n, int in_w, int in_h, int mode,
                                  int index, uint64_t seed, int out_w, int out_h, uint8_t *out);

#ifdef __cplusplus
}
#endif
#endif /* SIMVTP_VIDEO_H */

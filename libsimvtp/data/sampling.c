/* data/sampling.c — simvtp_sample_frames: which frames of a video make a
 * clip. The rules follow the released SimVTP loaders (wufeim/SimVTP
 * datasets.py, itself VideoMAE's), index for index. N = frames, W = T*stride.
 *
 * PRETRAIN (SimVTP class, _sample_train_indices + the TSN batch loader):
 *   start s = uniform integer in [0, N-W] when N >= W, else 0;
 *   idx[0] = s, idx[k+1] = idx[k] + stride if idx[k] + stride < N - 1,
 *   else idx[k] (the loader's 1-based "offset + step < duration" test).
 *   Long videos: idx[k] = s + k*stride. Short videos step by stride from 0
 *   and repeat the last frame reached; note that the released loader never
 *   steps onto the very last frame N-1 (e.g. N=9, stride 4: 0,4,4,4,...).
 *
 * FINETUNE (MSRVTT class, loadvideo_decord, mode 'train', one segment):
 *   N > W:  e = uniform integer in [W, N-1], s = e - W;
 *           idx[k] = trunc(min(linspace(s, e, T)[k], e - 1)).
 *   N <= W: m = N / stride (integer division);
 *           idx[k] = trunc(min(linspace(0, N, m)[k], N - 1)) for k < m,
 *           idx[k] = N - 1 for k >= m ("pad with the last frame").
 *   linspace is numpy's: y[k] = k * ((stop - start) / (num - 1)) + start in
 *   double precision, y[num-1] = stop exactly, y[0] = start when num = 1;
 *   trunc is the int64 cast (values are >= 0, so floor).
 *
 * TEST (MSRVTT class, modes 'validation'/'test', clip k of K):
 *   a = every stride-th frame from 0 (L = ceil(N / stride) entries),
 *   padded with its last entry to at least T entries (L' = max(L, T));
 *   start = trunc(k * max((L' - T) / (K - 1), 0)) in double (0 when K = 1);
 *   idx[j] = a[start + j]. The clips are T consecutive entries of a, their
 *   starts evenly spread over a; short videos give K identical clips.
 *
 * The random draws (PRETRAIN s, FINETUNE e) are one sv_rng_below each from
 * an sv_rng seeded with `seed`; TEST draws nothing. */
#include <stdint.h>

#include "simvtp/video.h"
#include "core/rng.h"
#include "core/status_internal.h"

/* numpy.linspace(start, stop, num)[k]; the product is stored before the sum
 * so that no fused multiply-add changes the rounding. */
static double linspace_at(double start, double stop, int num, int k)
{
    if (num > 1 && k == num - 1) return stop;
    if (num <= 1) return start;
    double step = (stop - start) / (double)(num - 1);
    volatile double prod = (double)k * step;
    return prod + start;
}

static void sample_pretrain(int frames, int T, int stride, sv_rng *r, int32_t *out)
{
    int64_t window = (int64_t)T * stride;
    int64_t f = 0;
    if (frames >= window) f = sv_rng_below(r, (uint32_t)(frames - window + 1));
    for (int k = 0; k < T; k++) {
        out[k] = (int32_t)f;
        if (f + stride < (int64_t)frames - 1) f += stride;
    }
}

static void sample_finetune(int frames, int T, int stride, sv_rng *r, int32_t *out)
{
    int64_t window = (int64_t)T * stride;
    if (frames > window) {
        int64_t end = window + sv_rng_below(r, (uint32_t)(frames - window));
        int64_t start = end - window;
        for (int k = 0; k < T; k++) {
            double y = linspace_at((double)start, (double)end, T, k);
            if (y > (double)(end - 1)) y = (double)(end - 1);
            out[k] = (int32_t)(int64_t)y;
        }
        return;
    }
    int m = frames / stride; /* <= T because frames <= T*stride */
    for (int k = 0; k < T; k++) {
        double y = k < m ? linspace_at(0.0, (double)frames, m, k) : (double)frames;
        if (y > (double)(frames - 1)) y = (double)(frames - 1);
        out[k] = (int32_t)(int64_t)y;
    }
}

static void sample_test(int frames, int T, int stride, int clip, int num_clips, int32_t *out)
{
    int64_t L = ((int64_t)frames + stride - 1) / stride;
    int64_t Lp = L > T ? L : T;
    int64_t start = 0;
    if (num_clips > 1) {
        double step = (double)(Lp - T) / (double)(num_clips - 1);
        if (step < 0.0) step = 0.0;
        start = (int64_t)((double)clip * step);
    }
    for (int j = 0; j < T; j++) {
        int64_t e = start + j;
        if (e > L - 1) e = L - 1;
        out[j] = (int32_t)(e * stride);
    }
}

int simvtp_sample_frames(int mode, int frames, int T, int stride, uint64_t seed, int clip,
                         int num_clips, int32_t *out)
{
    sv_clear_error();
    SV_CHECK_ARG(out, "simvtp_sample_frames: out is NULL");
    SV_CHECK_ARG(mode >= SIMVTP_SAMPLE_PRETRAIN && mode <= SIMVTP_SAMPLE_TEST,
                 "simvtp_sample_frames: unknown mode %d (PRETRAIN=0, FINETUNE=1, TEST=2)", mode);
    SV_CHECK_ARG(frames >= 1, "simvtp_sample_frames: frames is %d, must be >= 1", frames);
    SV_CHECK_ARG(T >= 1, "simvtp_sample_frames: T is %d, must be >= 1", T);
    SV_CHECK_ARG(stride >= 1, "simvtp_sample_frames: stride is %d, must be >= 1", stride);
    SV_CHECK_ARG((int64_t)T * stride <= INT32_MAX,
                 "simvtp_sample_frames: T*stride (%d*%d) overflows", T, stride);
    if (mode == SIMVTP_SAMPLE_TEST) {
        SV_CHECK_ARG(num_clips >= 1, "simvtp_sample_frames: num_clips is %d, must be >= 1",
                     num_clips);
        SV_CHECK_ARG(clip >= 0 && clip < num_clips,
                     "simvtp_sample_frames: clip %d is outside [0, num_clips=%d)", clip, num_clips);
    }

    sv_rng r;
    sv_rng_seed(&r, seed);
    switch (mode) {
    case SIMVTP_SAMPLE_PRETRAIN: sample_pretrain(frames, T, stride, &r, out); break;
    case SIMVTP_SAMPLE_FINETUNE: sample_finetune(frames, T, stride, &r, out); break;
    default: sample_test(frames, T, stride, clip, num_clips, out); break;
    }
    return SIMVTP_OK;
}

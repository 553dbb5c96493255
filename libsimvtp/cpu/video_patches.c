/* cpu/video_patches.c — uint8 clips to model inputs on the host: ImageNet-
 * normalized tubelet rows for the patch embedding and, for the MAE loss,
 * per-tubelet normalized pixel targets (unbiased std, +1e-6). */
#include <math.h>
#include <string.h>

#include "cpu/cpu_ops.h"

static const float kMean[3] = {0.485f, 0.456f, 0.406f};
static const float kStd[3] = {0.229f, 0.224f, 0.225f};

void cpu_video_patches(const simvtp_config *c, const uint8_t *frames, int B, float *patches,
                       float *targets, float *stats)
{
    const int t = c->tubelet, p = c->patch, T = c->frames, Hh = c->height, Ww = c->width;
    const int gh = Hh / p, gw = Ww / p, gt = T / t, N = gt * gh * gw, K = t * p * p * 3;
    const int n_px = t * p * p;
#pragma omp parallel for schedule(static)
    for (long bn = 0; bn < (long)B * N; bn++) {
        int b = (int)(bn / N), n = (int)(bn % N);
        int ti = n / (gh * gw), hi = (n / gw) % gh, wi = n % gw;
        /* byte offset of pixel (dt, dy, dx) of this tubelet in the uint8 clip */
#define PIXEL(dt, dy, dx) \
    (((((size_t)b * T + ti * t + (dt)) * Hh + hi * p + (dy)) * Ww + wi * p + (dx)) * 3)
        float *pp = patches + bn * K;
        double sum[3] = {0, 0, 0};
        for (int dt = 0; dt < t; dt++)
            for (int dy = 0; dy < p; dy++)
                for (int dx = 0; dx < p; dx++) {
                    size_t fi = PIXEL(dt, dy, dx);
                    for (int ch = 0; ch < 3; ch++) {
                        float v = frames[fi + ch] * (1.0f / 255.0f);
                        pp[((ch * t + dt) * p + dy) * p + dx] = (v - kMean[ch]) / kStd[ch];
                        sum[ch] += v;
                    }
                }
        if (!targets) continue;
        float mean[3], denom[3];
        for (int ch = 0; ch < 3; ch++) mean[ch] = (float)(sum[ch] / n_px);
        /* Second pass: the unbiased variance around the mean. */
        double ss[3] = {0, 0, 0};
        for (int dt = 0; dt < t; dt++)
            for (int dy = 0; dy < p; dy++)
                for (int dx = 0; dx < p; dx++) {
                    size_t fi = PIXEL(dt, dy, dx);
                    for (int ch = 0; ch < 3; ch++) {
                        double d = frames[fi + ch] * (1.0 / 255.0) - mean[ch];
                        ss[ch] += d * d;
                    }
                }
        for (int ch = 0; ch < 3; ch++) denom[ch] = (float)sqrt(ss[ch] / (n_px - 1)) + 1e-6f;
        float *tt = targets + bn * K;
        for (int dt = 0; dt < t; dt++)
            for (int dy = 0; dy < p; dy++)
                for (int dx = 0; dx < p; dx++) {
                    size_t fi = PIXEL(dt, dy, dx);
                    for (int ch = 0; ch < 3; ch++) {
                        float v = frames[fi + ch] * (1.0f / 255.0f);
                        tt[((dt * p + dy) * p + dx) * 3 + ch] = (v - mean[ch]) / denom[ch];
                    }
                }
        if (stats)
            for (int ch = 0; ch < 3; ch++) {
                stats[bn * 6 + ch * 2] = mean[ch];
                stats[bn * 6 + ch * 2 + 1] = denom[ch];
            }
#undef PIXEL
    }
}

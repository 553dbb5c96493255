/* cuda/video.cu — uint8 clips [B,T,H,W,3] to model inputs on the GPU, the
 * same function as cpu/video_patches.c (model/inputs.h sv_tubelets):
 *   patches[B,N,K]  (u/255 - mean_c)/std_c in Conv3d order ((c*t+dt)*p+dy)*p+dx
 *   targets[B,N,K]  (v - mean)/(std + 1e-6) per tubelet and channel, v = u/255,
 *                   unbiased std, in order ((dt*p+dy)*p+dx)*3+c (may be NULL)
 *   stats[B,N,3,2]  mean and std+1e-6 per channel (written only with targets)
 * One block per tubelet (grid-stride over tubelets). The arithmetic follows
 * the CPU operation by operation with explicitly rounded intrinsics (no FMA
 * contraction): a flat tubelet has v == mean exactly on the CPU, and a fused
 * u*(1/255)-mean would leave a rounding residue that the 1e-6 denominator
 * blows up. The channel sums of v are exact in double (41 significant bits
 * at most), so the block reduction order cannot change the mean; the sum of
 * squares is reduced in double in a fixed order. */
#include "cuda/cuda_ops.cuh"

#define VP_THREADS 256

__constant__ float c_vp_mean[3] = {0.485f, 0.456f, 0.406f};
__constant__ float c_vp_std[3] = {0.229f, 0.224f, 0.225f};

__global__ void __launch_bounds__(VP_THREADS)
video_patches_kernel(const uint8_t *frames, float *patches, float *targets, float *stats,
                     size_t ntub, int N, int T, int Hh, int Ww, int t, int p, int gh, int gw)
{
    __shared__ double sh[33];
    __shared__ float s_mean[3], s_denom[3];
    const int n_px = t * p * p, pp2 = p * p;
    const size_t K = (size_t)n_px * 3;
    for (size_t bn = blockIdx.x; bn < ntub; bn += gridDim.x) {
        const size_t b = bn / (size_t)N;
        const int n = (int)(bn % (size_t)N);
        const int ti = n / (gh * gw), hi = (n / gw) % gh, wi = n % gw;
        float *pp = patches + bn * K;
        double sum0 = 0.0, sum1 = 0.0, sum2 = 0.0;
        for (int idx = threadIdx.x; idx < n_px; idx += blockDim.x) {
            const int dt = idx / pp2, dy = (idx / p) % p, dx = idx % p;
            const size_t fi = (((b * T + (size_t)(ti * t + dt)) * Hh + (size_t)(hi * p + dy)) * Ww +
                               (size_t)(wi * p + dx)) * 3;
            const int off = (dt * p + dy) * p + dx;
#pragma unroll
            for (int ch = 0; ch < 3; ch++) {
                const float v = __fmul_rn((float)frames[fi + ch], 1.0f / 255.0f);
                pp[(size_t)ch * n_px + off] =
                    __fdiv_rn(__fsub_rn(v, c_vp_mean[ch]), c_vp_std[ch]);
                if (ch == 0) sum0 += (double)v;
                else if (ch == 1) sum1 += (double)v;
                else sum2 += (double)v;
            }
        }
        if (!targets) continue;   /* uniform over the block */
        sum0 = sv_block_sum(sum0, sh);
        sum1 = sv_block_sum(sum1, sh);
        sum2 = sv_block_sum(sum2, sh);
        const float mean0 = (float)(sum0 / n_px), mean1 = (float)(sum1 / n_px),
                    mean2 = (float)(sum2 / n_px);
        /* second pass: the unbiased variance around the (float) mean, in double */
        double ss0 = 0.0, ss1 = 0.0, ss2 = 0.0;
        for (int idx = threadIdx.x; idx < n_px; idx += blockDim.x) {
            const int dt = idx / pp2, dy = (idx / p) % p, dx = idx % p;
            const size_t fi = (((b * T + (size_t)(ti * t + dt)) * Hh + (size_t)(hi * p + dy)) * Ww +
                               (size_t)(wi * p + dx)) * 3;
            const double d0 = __dsub_rn(__dmul_rn((double)frames[fi + 0], 1.0 / 255.0), (double)mean0);
            const double d1 = __dsub_rn(__dmul_rn((double)frames[fi + 1], 1.0 / 255.0), (double)mean1);
            const double d2 = __dsub_rn(__dmul_rn((double)frames[fi + 2], 1.0 / 255.0), (double)mean2);
            ss0 = __dadd_rn(ss0, __dmul_rn(d0, d0));
            ss1 = __dadd_rn(ss1, __dmul_rn(d1, d1));
            ss2 = __dadd_rn(ss2, __dmul_rn(d2, d2));
        }
        ss0 = sv_block_sum(ss0, sh);
        ss1 = sv_block_sum(ss1, sh);
        ss2 = sv_block_sum(ss2, sh);
        if (threadIdx.x == 0) {
            const double dn = (double)(n_px - 1);
            s_mean[0] = mean0; s_mean[1] = mean1; s_mean[2] = mean2;
            s_denom[0] = __fadd_rn((float)sqrt(ss0 / dn), 1e-6f);
            s_denom[1] = __fadd_rn((float)sqrt(ss1 / dn), 1e-6f);
            s_denom[2] = __fadd_rn((float)sqrt(ss2 / dn), 1e-6f);
            if (stats)
                for (int ch = 0; ch < 3; ch++) {
                    stats[bn * 6 + ch * 2] = s_mean[ch];
                    stats[bn * 6 + ch * 2 + 1] = s_denom[ch];
                }
        }
        __syncthreads();
        float *tt = targets + bn * K;
        for (int idx = threadIdx.x; idx < n_px; idx += blockDim.x) {
            const int dt = idx / pp2, dy = (idx / p) % p, dx = idx % p;
            const size_t fi = (((b * T + (size_t)(ti * t + dt)) * Hh + (size_t)(hi * p + dy)) * Ww +
                               (size_t)(wi * p + dx)) * 3;
            const size_t o = (size_t)((dt * p + dy) * p + dx) * 3;
#pragma unroll
            for (int ch = 0; ch < 3; ch++) {
                const float v = __fmul_rn((float)frames[fi + ch], 1.0f / 255.0f);
                tt[o + ch] = __fdiv_rn(__fsub_rn(v, s_mean[ch]), s_denom[ch]);
            }
        }
        __syncthreads();   /* s_mean/s_denom are rewritten by the next tubelet */
    }
}

void sv_cuda_video_patches(const simvtp_config *c, const uint8_t *frames, int B, float *patches,
                           float *targets, float *stats)
{
    sv_cuda_ctx *ctx = sv_cuda_current();
    if (!ctx || !c || B <= 0) return;
    const int t = c->tubelet, p = c->patch;
    if (t <= 0 || p <= 0) return;
    const int gh = c->height / p, gw = c->width / p, gt = c->frames / t;
    const int N = gt * gh * gw;
    if (N <= 0) return;
    const size_t ntub = (size_t)B * N;
    const unsigned grid = sv_min_u(ntub, (size_t)ctx->sm_count * 16);
    video_patches_kernel<<<grid ? grid : 1, VP_THREADS, 0, ctx->stream>>>(
        frames, patches, targets, stats, ntub, N, c->frames, c->height, c->width, t, p, gh, gw);
    SV_LAUNCH_OK(ctx, "video_patches");
}

/* bench_decode.c — clips per second per core, video file to training clip,
 * through the public API only, against the ffmpeg CLI decoding the same
 * frames in the same run.
 *
 * Source: a 10 s, 25 fps, 340x256 H.264 clip (keyframe every 2 s) made with
 * the ffmpeg CLI. Per clip, single-threaded:
 *   vit-b  16 frames, stride 4 (PRETRAIN window), native decode, MULTISCALE
 *          crop to 224x224
 *   tiny   8 frames, stride 4, decode_scaled to short side 64, MULTISCALE
 *          crop to 64x64
 * "full" = open (which decodes the whole file once to count frames) + sample
 * + decode + crop + close; "warm" = sample + decode + crop on an open video.
 * CLI: `ffmpeg -threads 1 -ss <start> -i src -vf select=not(mod(n\,4)),...
 * -frames:v T -f rawvideo -pix_fmt rgb24` per clip (same start frames),
 * process start-up included. CPU times come from CLOCK_PROCESS_CPUTIME_ID
 * and RUSAGE_CHILDREN, so they hold on a busy machine; wall times too.
 *
 * usage: bench_decode [ffmpeg-path] [clips] ; exits 77 when ffmpeg is
 * missing or libsimvtp was built without FFmpeg. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <simvtp/simvtp.h>

#include <ftw.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SRC_W 340
#define SRC_H 256
#define SRC_FPS 25
#define SRC_FRAMES 250

typedef struct preset {
    const char *name;
    int T, stride, out, short_side; /* short_side 0: native decode */
} preset;

static const preset k_presets[] = {
    {"vit-b 16x224^2", 16, 4, 224, 0},
    {"tiny 8x64^2", 8, 4, 64, 64},
};

static double now(clockid_t c)
{
    struct timespec ts;
    clock_gettime(c, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double children_cpu(void)
{
    struct rusage ru;
    getrusage(RUSAGE_CHILDREN, &ru);
    return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
           (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e-6;
}

static int run(const char *cmd)
{
    int rc = system(cmd);
    return rc == -1 ? -1 : WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static int rm_entry(const char *p, const struct stat *s, int f, struct FTW *w)
{
    (void)s;
    (void)f;
    (void)w;
    return remove(p);
}

static void die(const char *what, int rc)
{
    fprintf(stderr, "bench_decode: %s failed: %s (%s)\n", what, simvtp_strerror(rc),
            simvtp_last_error());
    exit(1);
}

/* One clip from an open video into `clip` (T x out x out x 3). */
static void make_clip(simvtp_video *v, const preset *p, uint64_t seed, uint8_t *frames,
                      uint8_t *clip, int *start)
{
    simvtp_video_info info = {sizeof info};
    int rc, w, h;
    int32_t idx[64];
    if ((rc = simvtp_video_get_info(v, &info))) die("get_info", rc);
    if ((rc = simvtp_sample_frames(SIMVTP_SAMPLE_PRETRAIN, info.frames, p->T, p->stride, seed, 0,
                                   1, idx)))
        die("sample_frames", rc);
    if (start) *start = idx[0];
    if (p->short_side) {
        if ((rc = simvtp_video_decode_scaled(v, idx, p->T, p->short_side, frames, &w, &h)))
            die("decode_scaled", rc);
    } else {
        w = info.width;
        h = info.height;
        if ((rc = simvtp_video_decode(v, idx, p->T, frames))) die("decode", rc);
    }
    if ((rc = simvtp_crop_frames(frames, p->T, w, h, SIMVTP_CROP_MULTISCALE, 0, seed, p->out,
                                 p->out, clip)))
        die("crop_frames", rc);
}

int main(int argc, char **argv)
{
    const char *ffmpeg = argc > 1 ? argv[1] : "ffmpeg";
    int clips = argc > 2 ? atoi(argv[2]) : 40;
    int cli_clips = clips / 4 > 4 ? clips / 4 : 4;
    char cmd[3 * PATH_MAX + 1024], dir[PATH_MAX], src[PATH_MAX + 16];

    snprintf(cmd, sizeof cmd, "'%s' -version >/dev/null 2>&1", ffmpeg);
    if (run(cmd) != 0) {
        fprintf(stderr, "bench_decode: no ffmpeg CLI: skipped\n");
        return 77;
    }
    const char *base = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/bench-decode-XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(src, sizeof src, "%s/src.mp4", dir);
    snprintf(cmd, sizeof cmd,
             "'%s' -v error -nostdin -y -f lavfi -i testsrc2=size=%dx%d:rate=%d -frames:v %d "
             "-c:v libx264 -g 50 -pix_fmt yuv420p '%s'",
             ffmpeg, SRC_W, SRC_H, SRC_FPS, SRC_FRAMES, src);
    if (run(cmd) != 0) {
        fprintf(stderr, "bench_decode: ffmpeg could not make the source clip\n");
        nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
        return 1;
    }
    simvtp_video *v = NULL;
    int rc = simvtp_video_open(src, &v);
    if (rc == SIMVTP_ERR_UNSUPPORTED) {
        fprintf(stderr, "bench_decode: libsimvtp built without FFmpeg: skipped\n");
        nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
        return 77;
    }
    if (rc) die("open", rc);

    printf("source: %dx%d H.264, %d fps, %d frames (keyframe every 2 s); one thread\n", SRC_W,
           SRC_H, SRC_FPS, SRC_FRAMES);
    printf("%-16s %10s %10s %10s %10s %12s %12s %8s\n", "preset", "full/s cpu", "full/s wall",
           "warm/s cpu", "open ms", "CLI/s cpu", "CLI/s wall", "speedup");

    uint8_t *frames = malloc((size_t)16 * SRC_W * SRC_H * 3);
    uint8_t *clip = malloc((size_t)16 * 224 * 224 * 3);
    if (!frames || !clip) return 1;
    for (size_t pi = 0; pi < sizeof k_presets / sizeof k_presets[0]; pi++) {
        const preset *p = &k_presets[pi];

        /* warm: the video stays open */
        double c0 = now(CLOCK_PROCESS_CPUTIME_ID);
        for (int i = 0; i < clips; i++) make_clip(v, p, 1000 + (uint64_t)i, frames, clip, NULL);
        double warm_cpu = now(CLOCK_PROCESS_CPUTIME_ID) - c0;

        /* full: open, clip, close */
        c0 = now(CLOCK_PROCESS_CPUTIME_ID);
        double w0 = now(CLOCK_MONOTONIC);
        for (int i = 0; i < clips; i++) {
            simvtp_video *f = NULL;
            if ((rc = simvtp_video_open(src, &f))) die("open", rc);
            make_clip(f, p, 1000 + (uint64_t)i, frames, clip, NULL);
            simvtp_video_close(f);
        }
        double full_cpu = now(CLOCK_PROCESS_CPUTIME_ID) - c0;
        double full_wall = now(CLOCK_MONOTONIC) - w0;

        /* open alone */
        c0 = now(CLOCK_PROCESS_CPUTIME_ID);
        for (int i = 0; i < clips; i++) {
            simvtp_video *f = NULL;
            if ((rc = simvtp_video_open(src, &f))) die("open", rc);
            simvtp_video_close(f);
        }
        double open_cpu = now(CLOCK_PROCESS_CPUTIME_ID) - c0;

        /* the CLI, same start frames */
        double cc0 = children_cpu();
        w0 = now(CLOCK_MONOTONIC);
        for (int i = 0; i < cli_clips; i++) {
            int start;
            make_clip(v, p, 1000 + (uint64_t)i, frames, clip, &start);
            char vf[256];
            if (p->short_side)
                snprintf(vf, sizeof vf, "select=not(mod(n\\,%d)),scale=-2:%d:flags=bilinear,"
                         "crop=%d:%d", p->stride, p->short_side, p->out, p->out);
            else
                snprintf(vf, sizeof vf, "select=not(mod(n\\,%d)),crop=%d:%d,scale=%d:%d:"
                         "flags=bilinear", p->stride, SRC_H, SRC_H, p->out, p->out);
            snprintf(cmd, sizeof cmd,
                     "'%s' -v error -nostdin -threads 1 -filter_threads 1 -ss %.6f -i '%s' "
                     "-vf '%s' -frames:v %d -vsync 0 -f rawvideo -pix_fmt rgb24 -y /dev/null",
                     ffmpeg, (double)start / SRC_FPS, src, vf, p->T);
            if (run(cmd) != 0) {
                fprintf(stderr, "bench_decode: the ffmpeg CLI failed: %s\n", cmd);
                break;
            }
        }
        double cli_cpu = children_cpu() - cc0;
        double cli_wall = now(CLOCK_MONOTONIC) - w0;

        printf("%-16s %10.1f %10.1f %10.1f %10.2f %12.1f %12.1f %7.2fx\n", p->name,
               clips / full_cpu, clips / full_wall, clips / warm_cpu, 1e3 * open_cpu / clips,
               cli_clips / cli_cpu, cli_clips / cli_wall, (clips / full_cpu) / (cli_clips / cli_cpu));
    }
    printf("full = open+sample+decode+crop+close per clip; warm = video kept open; speedup = "
           "full cpu vs CLI cpu\n");
    simvtp_video_close(v);
    free(frames);
    free(clip);
    nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
    return 0;
}

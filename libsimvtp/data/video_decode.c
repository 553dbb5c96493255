/* data/video_decode.c — simvtp_video_*: open a video with FFmpeg (libavformat,
 * libavcodec, libswscale), count its frames exactly, decode chosen frames to
 * RGB24.
 *
 * Frames are the decoder's output frames in presentation order, numbered
 * from 0 (what `ffprobe -count_frames` counts and what the ffmpeg CLI's
 * select=eq(n,i) with -vsync 0 picks). Open demuxes and decodes the whole
 * stream once: it counts the frames, keeps each frame's pts and keyframe
 * flag, and rejects damaged files (corrupt packets or frames, decoder errors,
 * fewer packets than the container's frame count: a truncated file).
 *
 * Decoding: the requested indices are visited in increasing order, each
 * distinct frame decoded and converted once and copied to every position
 * that asked for it. When the pts are present and strictly increasing a
 * frame is identified by its pts; a backward jump, or a forward jump past a
 * keyframe, seeks (av_seek_frame backward to the wanted frame's pts, flush)
 * and checks where it landed: the first packet must be a keyframe at or
 * before the wanted frame (else earlier keyframes are tried), and frames
 * shown before that keyframe (leading frames of an open GOP) are ignored.
 * Without usable pts, or when anything does not add up, the file is reopened
 * and frames are counted from the start. A frame that cannot be produced is
 * SIMVTP_ERR_FORMAT, never a wrong picture.
 *
 * Conversion: swscale to RGB24 with the frame's colour matrix (BT.601 when
 * unspecified or outside 1..7) and range, as the ffmpeg CLI's scale filter
 * does: native size with SWS_BICUBIC (the CLI's default flags; a pure format
 * conversion), scaled with SWS_BILINEAR; a frame whose size changes mid-stream
 * is scaled to the first frame's size. decode_scaled's size: the shorter
 * side becomes short_side, the other trunc(other * short_side / shorter)
 * (at least 1), as VideoMAE's Resize; equal sides both become short_side.
 *
 * FFmpeg's own logging is silenced once (av_log_set_level(AV_LOG_QUIET)).
 * Without FFmpeg in the build every call returns SIMVTP_ERR_UNSUPPORTED. */
#include "simvtp_build_config.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "simvtp/video.h"
#include "core/status_internal.h"

#if SIMVTP_HAVE_VIDEO

#include <pthread.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/avutil.h>
#include <libavutil/log.h>
#include <libavutil/mem.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>

#define MAX_SHORT_SIDE 16384

struct simvtp_video {
    char *path;
    AVFormatContext *fmt;
    AVCodecContext *dec;
    AVPacket *pkt;
    AVFrame *frame;
    int stream;
    int eof_sent;      /* the decoder has been told the stream ended             */
    int64_t packets;   /* packets of our stream read since the last (re)open      */

    int frames, width, height;
    double fps, duration;
    int64_t *pts;      /* frame i's pts (display order)                           */
    int *keyprev;      /* the last keyframe at or before frame i                  */
    int by_pts;        /* every frame has a pts, strictly increasing: seekable    */

    int pos_valid;     /* the decoder's position is known                         */
    int count_mode;    /* frames identified by counting from a fresh open         */
    int next_count;    /* count mode: index of the next output frame              */
    int64_t floor_pts; /* pts mode: frames shown before this pts are ignored      */
    int last_idx;      /* index of the last frame output (-1: none yet)           */

    struct SwsContext *sws;
    int sws_key[8];    /* src w, h, format, dst w, h, flags, colorspace, range     */
    uint8_t *tmp;      /* aligned RGB24 buffer swscale writes into                */
    int tmp_linesize;
    size_t tmp_size;
};

static pthread_once_t quiet_once = PTHREAD_ONCE_INIT;
static void quiet_ffmpeg(void) { av_log_set_level(AV_LOG_QUIET); }

static const char *av_msg(int err, char *buf, size_t n)
{
    if (av_strerror(err, buf, n) < 0) snprintf(buf, n, "error %d", err);
    return buf;
}

static int frame_is_key(const AVFrame *f)
{
#if LIBAVUTIL_VERSION_INT >= AV_VERSION_INT(58, 7, 100)
    return (f->flags & AV_FRAME_FLAG_KEY) != 0;
#else
    return f->key_frame != 0;
#endif
}

static int frame_is_corrupt(const AVFrame *f)
{
    return (f->flags & AV_FRAME_FLAG_CORRUPT) || f->decode_error_flags;
}

/* ------------------------------------------------------------------------ */
/* Demuxer and decoder                                                      */
/* ------------------------------------------------------------------------ */

static void close_streams(simvtp_video *v)
{
    avcodec_free_context(&v->dec);
    avformat_close_input(&v->fmt);
    v->pos_valid = 0;
    v->eof_sent = 0;
}

static int open_streams(simvtp_video *v)
{
    char msg[128];
    int ret = avformat_open_input(&v->fmt, v->path, NULL, NULL);
    if (ret < 0) {
        int io = ret == AVERROR(ENOENT) || ret == AVERROR(EACCES) || ret == AVERROR(EIO) ||
                 ret == AVERROR(EISDIR) || ret == AVERROR(EPERM);
        return sv_fail(io ? SIMVTP_ERR_IO : SIMVTP_ERR_FORMAT,
                       "video '%s': cannot open it as a media file (%s)", v->path,
                       av_msg(ret, msg, sizeof msg));
    }
    ret = avformat_find_stream_info(v->fmt, NULL);
    if (ret < 0)
        return sv_fail(SIMVTP_ERR_FORMAT, "video '%s': cannot read its streams (%s)", v->path,
                       av_msg(ret, msg, sizeof msg));

    int best = av_find_best_stream(v->fmt, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
    if (best >= 0 && (v->fmt->streams[best]->disposition & AV_DISPOSITION_ATTACHED_PIC)) {
        best = -1;
        for (unsigned i = 0; i < v->fmt->nb_streams; i++) {
            const AVStream *st = v->fmt->streams[i];
            if (st->codecpar->codec_type == AVMEDIA_TYPE_VIDEO &&
                !(st->disposition & AV_DISPOSITION_ATTACHED_PIC)) {
                best = (int)i;
                break;
            }
        }
    }
    if (best < 0)
        return sv_fail(SIMVTP_ERR_FORMAT, "video '%s': no video stream (%u streams, none is "
                       "a video)", v->path, v->fmt->nb_streams);
    v->stream = best;
    for (unsigned i = 0; i < v->fmt->nb_streams; i++)
        if ((int)i != best) v->fmt->streams[i]->discard = AVDISCARD_ALL;

    AVStream *st = v->fmt->streams[best];
    const AVCodec *codec = avcodec_find_decoder(st->codecpar->codec_id);
    if (!codec)
        return sv_fail(SIMVTP_ERR_UNSUPPORTED, "video '%s': no decoder for its codec '%s' in "
                       "this FFmpeg", v->path, avcodec_get_name(st->codecpar->codec_id));
    v->dec = avcodec_alloc_context3(codec);
    if (!v->dec) return sv_fail(SIMVTP_ERR_NOMEM, "video '%s': out of memory", v->path);
    ret = avcodec_parameters_to_context(v->dec, st->codecpar);
    if (ret < 0)
        return sv_fail(SIMVTP_ERR_FORMAT, "video '%s': bad codec parameters (%s)", v->path,
                       av_msg(ret, msg, sizeof msg));
    v->dec->pkt_timebase = st->time_base;
    v->dec->thread_count = 1; /* one decoder per loader worker: no hidden threads */
    ret = avcodec_open2(v->dec, codec, NULL);
    if (ret < 0)
        return sv_fail(ret == AVERROR_INVALIDDATA ? SIMVTP_ERR_FORMAT : SIMVTP_ERR_UNSUPPORTED,
                       "video '%s': cannot open the %s decoder (%s)", v->path, codec->name,
                       av_msg(ret, msg, sizeof msg));
    v->packets = 0;
    v->eof_sent = 0;
    return SIMVTP_OK;
}

/* Next decoded frame into v->frame: 0, AVERROR_EOF at the end, or an error
 * (damaged packet or stream, decoder failure). */
static int pull_frame(simvtp_video *v)
{
    for (;;) {
        int ret = avcodec_receive_frame(v->dec, v->frame);
        if (ret >= 0) return 0;
        if (ret == AVERROR_EOF) return AVERROR_EOF;
        if (ret != AVERROR(EAGAIN)) return ret;
        if (v->eof_sent) return AVERROR_EOF;

        ret = av_read_frame(v->fmt, v->pkt);
        if (ret == AVERROR_EOF) {
            v->eof_sent = 1;
            ret = avcodec_send_packet(v->dec, NULL);
            if (ret < 0 && ret != AVERROR_EOF) return ret;
            continue;
        }
        if (ret < 0) return ret;
        if (v->pkt->stream_index != v->stream) {
            av_packet_unref(v->pkt);
            continue;
        }
        if (v->pkt->flags & AV_PKT_FLAG_CORRUPT) {
            av_packet_unref(v->pkt);
            return AVERROR_INVALIDDATA;
        }
        v->packets++;
        ret = avcodec_send_packet(v->dec, v->pkt);
        av_packet_unref(v->pkt);
        if (ret < 0) return ret;
    }
}

/* ------------------------------------------------------------------------ */
/* Open: count and index                                                    */
/* ------------------------------------------------------------------------ */

static int64_t frame_pts(const AVFrame *f) { return f->pts; }

static int index_frames(simvtp_video *v)
{
    char msg[128];
    size_t cap = 256;
    int n = 0, all_pts = 1;
    uint8_t *key = malloc(cap);
    v->pts = malloc(cap * sizeof *v->pts);
    if (!key || !v->pts) {
        free(key);
        return sv_fail(SIMVTP_ERR_NOMEM, "video '%s': out of memory", v->path);
    }
    /* Counting needs no deblocked pixels: skip the loop filter for speed. */
    v->dec->skip_loop_filter = AVDISCARD_ALL;
    int rc = SIMVTP_OK;
    for (;;) {
        int ret = pull_frame(v);
        if (ret == AVERROR_EOF) break;
        if (ret < 0) {
            rc = sv_fail(SIMVTP_ERR_FORMAT, "video '%s': damaged after %d frames (%s)", v->path,
                         n, av_msg(ret, msg, sizeof msg));
            break;
        }
        if (frame_is_corrupt(v->frame)) {
            rc = sv_fail(SIMVTP_ERR_FORMAT, "video '%s': frame %d is corrupt", v->path, n);
            break;
        }
        if (n == 0) {
            v->width = v->frame->width;
            v->height = v->frame->height;
        }
        if ((size_t)n == cap) {
            if (cap > (size_t)INT32_MAX / 2) {
                rc = sv_fail(SIMVTP_ERR_FORMAT, "video '%s': too many frames", v->path);
                break;
            }
            cap *= 2;
            int64_t *p = realloc(v->pts, cap * sizeof *p);
            if (p) v->pts = p;
            uint8_t *k = realloc(key, cap);
            if (k) key = k;
            if (!p || !k) {
                rc = sv_fail(SIMVTP_ERR_NOMEM, "video '%s': out of memory", v->path);
                break;
            }
        }
        v->pts[n] = frame_pts(v->frame);
        if (v->pts[n] == AV_NOPTS_VALUE || (n > 0 && v->pts[n] <= v->pts[n - 1])) all_pts = 0;
        key[n] = (uint8_t)frame_is_key(v->frame);
        n++;
        av_frame_unref(v->frame);
    }
    v->dec->skip_loop_filter = AVDISCARD_DEFAULT;
    const AVStream *st = v->fmt->streams[v->stream];
    if (rc == SIMVTP_OK && n == 0)
        rc = sv_fail(SIMVTP_ERR_FORMAT, "video '%s': its video stream has no decodable frames",
                     v->path);
    if (rc == SIMVTP_OK && st->nb_frames > 0 && v->packets < st->nb_frames)
        rc = sv_fail(SIMVTP_ERR_FORMAT, "video '%s': truncated (%lld of %lld packets present)",
                     v->path, (long long)v->packets, (long long)st->nb_frames);
    if (rc == SIMVTP_OK && (v->width <= 0 || v->height <= 0))
        rc = sv_fail(SIMVTP_ERR_FORMAT, "video '%s': bad frame size %dx%d", v->path, v->width,
                     v->height);
    if (rc == SIMVTP_OK) {
        v->keyprev = malloc((size_t)n * sizeof *v->keyprev);
        if (!v->keyprev) rc = sv_fail(SIMVTP_ERR_NOMEM, "video '%s': out of memory", v->path);
    }
    if (rc == SIMVTP_OK) {
        int last = 0;
        for (int i = 0; i < n; i++) {
            if (key[i]) last = i;
            v->keyprev[i] = last;
        }
        v->frames = n;
        v->by_pts = all_pts;
    }
    free(key);
    return rc;
}

static void fill_info(simvtp_video *v)
{
    const AVStream *st = v->fmt->streams[v->stream];
    AVRational r = st->avg_frame_rate;
    if (r.num <= 0 || r.den <= 0) r = st->r_frame_rate;
    v->fps = r.num > 0 && r.den > 0 ? av_q2d(r) : 0.0;
    if (st->duration != AV_NOPTS_VALUE && st->duration > 0)
        v->duration = (double)st->duration * av_q2d(st->time_base);
    else if (v->fmt->duration != AV_NOPTS_VALUE && v->fmt->duration > 0)
        v->duration = (double)v->fmt->duration / AV_TIME_BASE;
    else
        v->duration = 0.0;
}

int simvtp_video_open(const char *path, simvtp_video **out)
{
    sv_clear_error();
    SV_CHECK_ARG(out, "simvtp_video_open: out is NULL");
    *out = NULL;
    SV_CHECK_ARG(path && *path, "simvtp_video_open: path is NULL or empty");
    pthread_once(&quiet_once, quiet_ffmpeg);

    struct stat sb;
    if (stat(path, &sb) != 0)
        return sv_fail(SIMVTP_ERR_IO, "video '%s': %s", path, strerror(errno));
    if (!S_ISREG(sb.st_mode))
        return sv_fail(SIMVTP_ERR_IO, "video '%s': not a regular file", path);
    if (sb.st_size == 0) return sv_fail(SIMVTP_ERR_FORMAT, "video '%s': empty file", path);

    simvtp_video *v = calloc(1, sizeof *v);
    if (!v) return sv_fail(SIMVTP_ERR_NOMEM, "video '%s': out of memory", path);
    v->last_idx = -1;
    v->path = strdup(path);
    v->pkt = av_packet_alloc();
    v->frame = av_frame_alloc();
    int rc = SIMVTP_OK;
    if (!v->path || !v->pkt || !v->frame)
        rc = sv_fail(SIMVTP_ERR_NOMEM, "video '%s': out of memory", path);
    if (rc == SIMVTP_OK) rc = open_streams(v);
    if (rc == SIMVTP_OK) rc = index_frames(v);
    if (rc != SIMVTP_OK) {
        simvtp_video_close(v);
        return rc;
    }
    fill_info(v);
    v->pos_valid = 0; /* the index pass left the demuxer at the end */
    *out = v;
    return SIMVTP_OK;
}

void simvtp_video_close(simvtp_video *v)
{
    if (!v) return;
    close_streams(v);
    av_packet_free(&v->pkt);
    av_frame_free(&v->frame);
    sws_freeContext(v->sws);
    av_free(v->tmp);
    free(v->pts);
    free(v->keyprev);
    free(v->path);
    free(v);
}

int simvtp_video_get_info(const simvtp_video *v, simvtp_video_info *info)
{
    sv_clear_error();
    SV_CHECK_ARG(v && info, "simvtp_video_get_info: video or info is NULL");
    SV_CHECK_ARG(info->size == sizeof *info,
                 "simvtp_video_get_info: info.size is %zu, expected %zu "
                 "(sizeof(simvtp_video_info))", info->size, sizeof *info);
    info->frames = v->frames;
    info->width = v->width;
    info->height = v->height;
    info->fps = v->fps;
    info->duration = v->duration;
    return SIMVTP_OK;
}

/* ------------------------------------------------------------------------ */
/* Positioning                                                              */
/* ------------------------------------------------------------------------ */

/* Fresh open, frames identified by counting from 0. */
static int restart_counting(simvtp_video *v)
{
    close_streams(v);
    SV_TRY(open_streams(v));
    v->count_mode = 1;
    v->next_count = 0;
    v->floor_pts = INT64_MIN;
    v->last_idx = -1;
    v->pos_valid = 1;
    return SIMVTP_OK;
}

/* Index of the first frame whose pts is >= ts (frames when none). */
static int lower_bound_pts(const simvtp_video *v, int64_t ts)
{
    int lo = 0, hi = v->frames;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (v->pts[mid] < ts) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

/* Seek to `ts`, flush, and feed the first packet of our stream, which must
 * be a keyframe whose frame is at or before frame t. 1: positioned. */
static int try_seek(simvtp_video *v, int64_t ts, int t)
{
    if (av_seek_frame(v->fmt, v->stream, ts, AVSEEK_FLAG_BACKWARD) < 0) return 0;
    avcodec_flush_buffers(v->dec);
    v->eof_sent = 0;
    for (;;) {
        if (av_read_frame(v->fmt, v->pkt) < 0) return 0;
        if (v->pkt->stream_index == v->stream) break;
        av_packet_unref(v->pkt);
    }
    int64_t landing = v->pkt->pts;
    int ok = landing != AV_NOPTS_VALUE && (v->pkt->flags & AV_PKT_FLAG_KEY) &&
             !(v->pkt->flags & AV_PKT_FLAG_CORRUPT) && lower_bound_pts(v, landing) <= t;
    if (ok) ok = avcodec_send_packet(v->dec, v->pkt) >= 0;
    av_packet_unref(v->pkt);
    if (!ok) return 0;
    v->floor_pts = landing;
    v->last_idx = lower_bound_pts(v, landing) - 1;
    v->pos_valid = 1;
    return 1;
}

/* Make frame t the next wanted output: seek (pts mode) or reopen. */
static int reposition(simvtp_video *v, int t)
{
    if (v->by_pts && !v->count_mode) {
        /* The wanted frame's pts, then up to three earlier keyframes. */
        if (try_seek(v, v->pts[t], t)) return SIMVTP_OK;
        int64_t tried = v->pts[t];
        for (int k = v->keyprev[t], tries = 0; tries < 3; tries++) {
            if (v->pts[k] != tried && try_seek(v, v->pts[k], t)) return SIMVTP_OK;
            tried = v->pts[k];
            if (k == 0) break;
            k = v->keyprev[k - 1];
        }
    }
    return restart_counting(v);
}

static int need_reposition(const simvtp_video *v, int t)
{
    if (!v->pos_valid) return 1;
    if (t <= v->last_idx) return 1;
    if (v->count_mode) return 0;
    return v->keyprev[t] > v->last_idx + 1; /* a keyframe lies ahead: skip there */
}

/* Index of v->frame: >= 0, -1 to ignore it (leading frame), -2 unknown. */
static int identify(simvtp_video *v)
{
    if (v->count_mode) return v->next_count++;
    int64_t ts = frame_pts(v->frame);
    if (ts == AV_NOPTS_VALUE) return -2;
    if (ts < v->floor_pts) return -1;
    int i = lower_bound_pts(v, ts);
    return i < v->frames && v->pts[i] == ts ? i : -2;
}

/* ------------------------------------------------------------------------ */
/* Conversion                                                               */
/* ------------------------------------------------------------------------ */

static int convert(simvtp_video *v, int ow, int oh, int flags, uint8_t *dst)
{
    const AVFrame *f = v->frame;
    int cs = f->colorspace >= 1 && f->colorspace <= 7 ? (int)f->colorspace : AVCOL_SPC_BT470BG;
    int key[8] = {f->width, f->height, f->format, ow, oh, flags, cs, (int)f->color_range};
    if (!v->sws || memcmp(key, v->sws_key, sizeof key) != 0) {
        sws_freeContext(v->sws);
        v->sws = sws_getContext(f->width, f->height, (enum AVPixelFormat)f->format, ow, oh,
                                AV_PIX_FMT_RGB24, flags, NULL, NULL, NULL);
        if (!v->sws) {
            const char *name = av_get_pix_fmt_name((enum AVPixelFormat)f->format);
            return sv_fail(SIMVTP_ERR_UNSUPPORTED, "video '%s': cannot convert %s %dx%d to "
                           "RGB24 %dx%d", v->path, name ? name : "?", f->width, f->height, ow, oh);
        }
        int *inv, *table, src_range, dst_range, bri, con, sat;
        if (sws_getColorspaceDetails(v->sws, &inv, &src_range, &table, &dst_range, &bri, &con,
                                     &sat) >= 0) {
            if (f->color_range != AVCOL_RANGE_UNSPECIFIED)
                src_range = f->color_range == AVCOL_RANGE_JPEG;
            const int *coefs = sws_getCoefficients(cs);
            sws_setColorspaceDetails(v->sws, coefs, src_range, coefs, dst_range, bri, con, sat);
        }
        memcpy(v->sws_key, key, sizeof key);
    }
    int linesize = (ow * 3 + 63) & ~63;
    size_t need = (size_t)linesize * oh + 64;
    if (need > v->tmp_size) {
        av_free(v->tmp);
        v->tmp = av_malloc(need);
        v->tmp_size = v->tmp ? need : 0;
        if (!v->tmp) return sv_fail(SIMVTP_ERR_NOMEM, "video '%s': out of memory", v->path);
    }
    v->tmp_linesize = linesize;
    uint8_t *planes[4] = {v->tmp, NULL, NULL, NULL};
    int strides[4] = {linesize, 0, 0, 0};
    int rows = sws_scale(v->sws, (const uint8_t *const *)f->data, f->linesize, 0, f->height,
                         planes, strides);
    if (rows != oh)
        return sv_fail(SIMVTP_ERR_INTERNAL, "video '%s': swscale produced %d of %d rows",
                       v->path, rows, oh);
    for (int y = 0; y < oh; y++)
        memcpy(dst + (size_t)y * ow * 3, v->tmp + (size_t)y * linesize, (size_t)ow * 3);
    return SIMVTP_OK;
}

/* ------------------------------------------------------------------------ */
/* Decoding                                                                 */
/* ------------------------------------------------------------------------ */

typedef struct pos_pair {
    int32_t index;
    int pos;
} pos_pair;

static int cmp_pair(const void *a, const void *b)
{
    const pos_pair *x = a, *y = b;
    if (x->index != y->index) return x->index < y->index ? -1 : 1;
    return x->pos < y->pos ? -1 : x->pos > y->pos;
}

static int decode_frames(simvtp_video *v, const int32_t *indices, int n, int ow, int oh,
                         int flags, uint8_t *rgb)
{
    char msg[128];
    pos_pair *order = malloc((size_t)n * sizeof *order);
    if (!order) return sv_fail(SIMVTP_ERR_NOMEM, "video '%s': out of memory", v->path);
    for (int i = 0; i < n; i++) {
        order[i].index = indices[i];
        order[i].pos = i;
    }
    qsort(order, (size_t)n, sizeof *order, cmp_pair);

    size_t frame_bytes = (size_t)ow * oh * 3;
    int rc = SIMVTP_OK, k = 0, restarted_for = -1, positioned_for = -1;
    while (k < n && rc == SIMVTP_OK) {
        int t = order[k].index;
        /* Position once per wanted frame: a seek may land on an earlier
         * keyframe than the table suggests, and must not be repeated. */
        if (!v->pos_valid || (positioned_for != t && need_reposition(v, t))) {
            rc = reposition(v, t);
            if (rc != SIMVTP_OK) break;
            positioned_for = t;
        }
        int ret = pull_frame(v);
        int idx = ret == 0 ? identify(v) : -3;
        if (idx == -1 || (idx >= 0 && idx < t)) {
            if (idx >= 0) v->last_idx = idx;
            av_frame_unref(v->frame);
            continue;
        }
        if (idx == t && !frame_is_corrupt(v->frame)) {
            v->last_idx = idx;
            uint8_t *first = rgb + frame_bytes * order[k].pos;
            rc = convert(v, ow, oh, flags, first);
            for (k++; rc == SIMVTP_OK && k < n && order[k].index == t; k++)
                memcpy(rgb + frame_bytes * order[k].pos, first, frame_bytes);
            av_frame_unref(v->frame);
            continue;
        }
        /* Frame t was skipped, unknown, corrupt, or the stream ended or failed:
         * decode from the start once, counting; a second failure is final. */
        av_frame_unref(v->frame);
        if (restarted_for != t) {
            restarted_for = positioned_for = t;
            rc = restart_counting(v);
            continue;
        }
        v->pos_valid = 0;
        if (ret < 0 && ret != AVERROR_EOF)
            rc = sv_fail(SIMVTP_ERR_FORMAT, "video '%s': frame %d cannot be decoded (%s)",
                         v->path, t, av_msg(ret, msg, sizeof msg));
        else
            rc = sv_fail(SIMVTP_ERR_FORMAT, "video '%s': frame %d cannot be decoded (%s)",
                         v->path, t,
                         idx == t    ? "it is corrupt"
                         : idx == -2 ? "a frame with an unknown timestamp came out"
                         : idx > t   ? "the decoder skipped it"
                                     : "the stream ended before it");
    }
    if (rc != SIMVTP_OK) v->pos_valid = 0;
    free(order);
    return rc;
}

static int check_indices(const simvtp_video *v, const int32_t *indices, int n)
{
    for (int i = 0; i < n; i++)
        if (indices[i] < 0 || indices[i] >= v->frames)
            return sv_fail(SIMVTP_ERR_INVALID_ARG, "video '%s': indices[%d] = %d is outside "
                           "[0, %d)", v->path, i, (int)indices[i], v->frames);
    return SIMVTP_OK;
}

int simvtp_video_decode(simvtp_video *v, const int32_t *indices, int n, uint8_t *rgb)
{
    sv_clear_error();
    SV_CHECK_ARG(v, "simvtp_video_decode: video is NULL");
    SV_CHECK_ARG(n >= 0, "simvtp_video_decode: n is %d, must be >= 0", n);
    if (n == 0) return SIMVTP_OK;
    SV_CHECK_ARG(indices && rgb, "simvtp_video_decode: indices or rgb is NULL");
    SV_TRY(check_indices(v, indices, n));
    return decode_frames(v, indices, n, v->width, v->height, SWS_BICUBIC, rgb);
}

static void scaled_size(int w, int h, int s, int *ow, int *oh)
{
    if (w <= h) {
        *ow = s;
        *oh = (int)((int64_t)h * s / w);
    } else {
        *oh = s;
        *ow = (int)((int64_t)w * s / h);
    }
    if (*ow < 1) *ow = 1;
    if (*oh < 1) *oh = 1;
}

int simvtp_video_decode_scaled(simvtp_video *v, const int32_t *indices, int n, int short_side,
                               uint8_t *rgb, int *out_w, int *out_h)
{
    sv_clear_error();
    SV_CHECK_ARG(v && out_w && out_h, "simvtp_video_decode_scaled: video, out_w or out_h is NULL");
    SV_CHECK_ARG(short_side >= 1 && short_side <= MAX_SHORT_SIDE,
                 "simvtp_video_decode_scaled: short_side is %d, must be in [1, %d]", short_side,
                 MAX_SHORT_SIDE);
    int ow, oh;
    scaled_size(v->width, v->height, short_side, &ow, &oh);
    SV_CHECK_ARG(ow <= 4 * MAX_SHORT_SIDE && oh <= 4 * MAX_SHORT_SIDE,
                 "simvtp_video_decode_scaled: %dx%d at short side %d is too large", v->width,
                 v->height, short_side);
    *out_w = ow;
    *out_h = oh;
    if (!rgb) return SIMVTP_OK;
    SV_CHECK_ARG(n >= 0, "simvtp_video_decode_scaled: n is %d, must be >= 0", n);
    if (n == 0) return SIMVTP_OK;
    SV_CHECK_ARG(indices, "simvtp_video_decode_scaled: indices is NULL");
    SV_TRY(check_indices(v, indices, n));
    return decode_frames(v, indices, n, ow, oh, SWS_BILINEAR, rgb);
}

#else /* !SIMVTP_HAVE_VIDEO */

#define NO_VIDEO "libsimvtp was built without FFmpeg (meson -Dvideo=disabled or no libav* " \
                 "development packages): video decoding is unavailable"

int simvtp_video_open(const char *path, simvtp_video **out)
{
    sv_clear_error();
    if (out) *out = NULL;
    return sv_fail(SIMVTP_ERR_UNSUPPORTED, "video '%s': " NO_VIDEO, path ? path : "(null)");
}

void simvtp_video_close(simvtp_video *v) { (void)v; }

int simvtp_video_get_info(const simvtp_video *v, simvtp_video_info *info)
{
    sv_clear_error();
    (void)v;
    (void)info;
    return sv_fail(SIMVTP_ERR_UNSUPPORTED, NO_VIDEO);
}

int simvtp_video_decode(simvtp_video *v, const int32_t *indices, int n, uint8_t *rgb)
{
    sv_clear_error();
    (void)v;
    (void)indices;
    (void)n;
    (void)rgb;
    return sv_fail(SIMVTP_ERR_UNSUPPORTED, NO_VIDEO);
}

int simvtp_video_decode_scaled(simvtp_video *v, const int32_t *indices, int n, int short_side,
                               uint8_t *rgb, int *out_w, int *out_h)
{
    sv_clear_error();
    (void)v;
    (void)indices;
    (void)n;
    (void)short_side;
    (void)rgb;
    (void)out_w;
    (void)out_h;
    return sv_fail(SIMVTP_ERR_UNSUPPORTED, NO_VIDEO);
}

#endif /* SIMVTP_HAVE_VIDEO */

/* data/prep.c — simvtp_prep_shards: worker threads decode the dataset's
 * videos (each worker opens its own simvtp_video per video; all frames at
 * frame_step, capped by max_frames, scaled to short_side) and encode
 * records; the calling thread writes them in dataset order into
 * out_dir/shard-NNNNN.svtps (each written to a temporary file and renamed
 * when complete), reports progress, and on resume keeps the leading shards
 * that are complete and match the dataset. */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "simvtp_build_config.h"
#include "simvtp/video.h"
#include "core/status_internal.h"
#include "data/shard_format.h"

#define PREP_CHUNK_FRAMES 32  /* frames decoded per simvtp_video_decode_scaled call */
#define PREP_SLOTS_PER_THREAD 2
#define PREP_MAX_THREADS 256

void simvtp_prep_default_params(simvtp_prep_params *p)
{
    if (!p) return;
    memset(p, 0, sizeof *p);
    p->size = sizeof *p;
    p->short_side = 128;
    p->frame_step = 1;
    p->max_frames = 0;
    p->records_per_shard = 1000;
    p->threads = 0;
    p->zstd_level = 3;
}

static int check_params(const simvtp_prep_params *p)
{
    SV_CHECK_ARG(p->size == sizeof *p, "prep params.size is %zu, expected %zu (use "
                 "simvtp_prep_default_params)", p->size, sizeof *p);
    SV_CHECK_ARG(p->short_side >= 8 && p->short_side <= SV_SHARD_MAX_SIDE,
                 "prep short_side %d: must be in [8, %d]", p->short_side, SV_SHARD_MAX_SIDE);
    SV_CHECK_ARG(p->frame_step >= 1 && p->frame_step <= 10000, "prep frame_step %d: must be in [1, 10000]",
                 p->frame_step);
    SV_CHECK_ARG(p->max_frames >= 0 && p->max_frames <= SV_SHARD_MAX_FRAMES,
                 "prep max_frames %d: must be in [0, %d] (0 = all)", p->max_frames, SV_SHARD_MAX_FRAMES);
    SV_CHECK_ARG(p->records_per_shard >= 1 && p->records_per_shard <= 1000000,
                 "prep records_per_shard %d: must be in [1, 1000000]", p->records_per_shard);
    SV_CHECK_ARG(p->threads >= 0 && p->threads <= PREP_MAX_THREADS,
                 "prep threads %d: must be in [0, %d] (0 = number of CPUs)", p->threads, PREP_MAX_THREADS);
    SV_CHECK_ARG(p->zstd_level >= -7 && p->zstd_level <= 19,
                 "prep zstd_level %d: must be in [-7, 19] (negative: zstd's fast levels)", p->zstd_level);
    return SIMVTP_OK;
}

#if SIMVTP_HAVE_VIDEO && SIMVTP_HAVE_ZSTD

static char *shard_path(const char *dir, int k)
{
    size_t n = strlen(dir) + 32;
    char *s = malloc(n);
    if (s) snprintf(s, n, "%s/shard-%05d.svtps", dir, k);
    return s;
}

static double now_sec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ------------------------------------------------------------------------ */
/* Resume: which leading shards to keep                                     */
/* ------------------------------------------------------------------------ */

/* 1 when shard s holds exactly the records prep would write for the items
 * starting at `pos` (ids and captions equal the dataset's). */
static int shard_matches(simvtp_shard *s, const simvtp_dataset *d, int64_t n, int64_t pos,
                         const sv_shard_header *want, int rps)
{
    if (memcmp(&s->header, want, sizeof *want) != 0) {
        sv_log(SIMVTP_LOG_INFO, "prep: %s was written with other settings; rewriting it", s->path);
        return 0;
    }
    int complete = s->count == (uint32_t)rps || (s->count >= 1 && s->count < (uint32_t)rps &&
                                                  s->end_item == (uint64_t)n);
    if (s->first_item != (uint64_t)pos || s->end_item > (uint64_t)n || !complete) {
        sv_log(SIMVTP_LOG_INFO, "prep: %s (items %llu..%llu, %u records) is partial or does not "
               "follow the previous shard; rewriting it", s->path,
               (unsigned long long)s->first_item, (unsigned long long)s->end_item, s->count);
        return 0;
    }
    for (uint32_t i = 0; i < s->count; i++) {
        sv_record_head h;
        int item = (int)s->index[i].item;
        if (sv_shard_read_head(s, (int)i, &h) != SIMVTP_OK) {
            sv_log(SIMVTP_LOG_WARN, "prep: %s; rewriting the shard", simvtp_last_error());
            return 0;
        }
        int same = strcmp(h.video_id, simvtp_dataset_video_id(d, item)) == 0 &&
                   h.num_captions == simvtp_dataset_num_captions(d, item);
        for (int k = 0; same && k < h.num_captions; k++)
            same = strcmp(h.captions[k], simvtp_dataset_caption(d, item, k)) == 0;
        if (!same) {
            sv_log(SIMVTP_LOG_INFO, "prep: %s record %u (%s) is not dataset item %d; rewriting it",
                   s->path, i, h.video_id, item);
            return 0;
        }
    }
    return 1;
}

static int scan_existing(const char *dir, const simvtp_dataset *d, int64_t n,
                         const sv_shard_header *want, int rps, int *kept, int64_t *pos,
                         int64_t *resumed)
{
    *kept = 0;
    *pos = 0;
    *resumed = 0;
    for (int k = 0;; k++) {
        char *path = shard_path(dir, k);
        if (!path) return sv_fail(SIMVTP_ERR_NOMEM, "out of memory");
        struct stat st;
        if (stat(path, &st) != 0) {
            free(path);
            break;
        }
        simvtp_shard *s = NULL;
        int rc = simvtp_shard_open(path, &s);
        free(path);
        if (rc) {
            sv_log(SIMVTP_LOG_WARN, "prep: %s; rewriting it", simvtp_last_error());
            break;
        }
        int keep = shard_matches(s, d, n, *pos, want, rps);
        if (keep) {
            *resumed += s->count;
            *pos = (int64_t)s->end_item;
            *kept = k + 1;
        }
        simvtp_shard_close(s);
        if (!keep) break;
    }
    sv_clear_error();
    return SIMVTP_OK;
}

/* Shard number of "shard-NNNNN.svtps" (tmp = 0) or of one of its temporary
 * files "shard-NNNNN.svtps.tmp.*" (tmp = 1); -1 for other names. */
static int shard_number(const char *name, int *tmp)
{
    if (strncmp(name, "shard-", 6) != 0) return -1;
    const char *p = name + 6;
    long v = 0;
    int digits = 0;
    while (*p >= '0' && *p <= '9' && digits < 9) v = v * 10 + (*p++ - '0'), digits++;
    if (digits < 5 || strncmp(p, ".svtps", 6) != 0) return -1;
    p += 6;
    if (*p == '\0') *tmp = 0;
    else if (strncmp(p, ".tmp.", 5) == 0) *tmp = 1;
    else return -1;
    return (int)v;
}

/* Remove shards numbered >= first (they are rewritten) and leftover
 * temporary files of interrupted runs. */
static int remove_stale(const char *dir, int first)
{
    DIR *dh = opendir(dir);
    if (!dh) return sv_fail(SIMVTP_ERR_IO, "cannot list %s: %s", dir, strerror(errno));
    int rc = SIMVTP_OK;
    struct dirent *de;
    while (!rc && (de = readdir(dh)) != NULL) {
        int tmp = 0, k = shard_number(de->d_name, &tmp);
        if (k < 0 || (!tmp && k < first)) continue;
        size_t len = strlen(dir) + strlen(de->d_name) + 2;
        char *path = malloc(len);
        if (!path) {
            rc = sv_fail(SIMVTP_ERR_NOMEM, "out of memory");
            break;
        }
        snprintf(path, len, "%s/%s", dir, de->d_name);
        if (unlink(path) != 0 && errno != ENOENT)
            rc = sv_fail(SIMVTP_ERR_IO, "cannot remove the stale shard %s: %s", path, strerror(errno));
        free(path);
    }
    closedir(dh);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Workers                                                                  */
/* ------------------------------------------------------------------------ */

enum { SLOT_EMPTY = 0, SLOT_OK, SLOT_SKIP, SLOT_FATAL };

typedef struct prep_slot {
    int state, status;
    sv_shard_record_buf rec;
    char msg[512];
} prep_slot;

typedef struct prep_job {
    const simvtp_dataset *d;
    simvtp_prep_params p;
    int64_t n, start;
    int64_t next;     /* next item a worker claims                        */
    int64_t consumed; /* items the writer took; their slots are free      */
    int nslots;
    prep_slot *slots;
    int stop;
    pthread_mutex_t mu;
    pthread_cond_t space, done;
} prep_job;

typedef struct prep_worker {
    prep_job *job;
    sv_shard_encoder *enc;
    uint8_t *rgb;
    size_t rgb_cap;
    int32_t *idx;
    size_t idx_cap;
    const char **caps;
    size_t caps_cap;
} prep_worker;

static int worker_grow(void **p, size_t *cap, size_t need)
{
    if (need <= *cap) return SIMVTP_OK;
    void *q = realloc(*p, need);
    if (!q) return sv_fail(SIMVTP_ERR_NOMEM, "out of memory (%zu bytes) decoding a video", need);
    *p = q;
    *cap = need;
    return SIMVTP_OK;
}

/* Decode item `item` and encode it into rec. */
static int encode_item(prep_worker *w, int item, sv_shard_record_buf *rec)
{
    const prep_job *j = w->job;
    const char *path = simvtp_dataset_video_path(j->d, item);
    simvtp_video *v = NULL;
    SV_TRY(simvtp_video_open(path, &v));
    simvtp_video_info info = {sizeof info};
    int rc = simvtp_video_get_info(v, &info);
    int step = j->p.frame_step;
    int n = 0;
    if (!rc) {
        if (info.frames < 1) rc = sv_fail(SIMVTP_ERR_FORMAT, "%s: no frames", path);
        n = info.frames / step + (info.frames % step != 0);
        if (j->p.max_frames > 0 && n > j->p.max_frames) n = j->p.max_frames;
        if (!rc && n > SV_SHARD_MAX_FRAMES) n = SV_SHARD_MAX_FRAMES;
    }
    if (!rc) rc = worker_grow((void **)&w->idx, &w->idx_cap, (size_t)n * sizeof *w->idx);
    for (int k = 0; !rc && k < n; k++) w->idx[k] = k * step;
    int ow = 0, oh = 0;
    if (!rc) rc = simvtp_video_decode_scaled(v, w->idx, n, j->p.short_side, NULL, &ow, &oh);
    int ncap = simvtp_dataset_num_captions(j->d, item);
    if (!rc) rc = worker_grow((void **)&w->caps, &w->caps_cap, (size_t)(ncap + 1) * sizeof *w->caps);
    for (int k = 0; !rc && k < ncap; k++) w->caps[k] = simvtp_dataset_caption(j->d, item, k);
    simvtp_record meta = {sizeof meta, simvtp_dataset_video_id(j->d, item), ncap, w->caps,
                          n, ow, oh, step, NULL};
    if (!rc) rc = sv_shard_encode_begin(w->enc, &meta, rec);
    size_t fb = (size_t)ow * (size_t)oh * 3;
    if (!rc) rc = worker_grow((void **)&w->rgb, &w->rgb_cap, fb * PREP_CHUNK_FRAMES);
    for (int k = 0; !rc && k < n; k += PREP_CHUNK_FRAMES) {
        int m = n - k < PREP_CHUNK_FRAMES ? n - k : PREP_CHUNK_FRAMES;
        int cw = 0, ch = 0;
        rc = simvtp_video_decode_scaled(v, w->idx + k, m, j->p.short_side, w->rgb, &cw, &ch);
        if (!rc && (cw != ow || ch != oh))
            rc = sv_fail(SIMVTP_ERR_FORMAT, "%s: frame size changed from %dx%d to %dx%d", path, ow,
                         oh, cw, ch);
        if (!rc) rc = sv_shard_encode_frames(w->enc, w->rgb, m, rec);
    }
    if (!rc) rc = sv_shard_encode_end(w->enc, rec);
    simvtp_video_close(v);
    return rc;
}

static void *worker_main(void *arg)
{
    prep_worker *w = arg;
    prep_job *j = w->job;
    for (;;) {
        pthread_mutex_lock(&j->mu);
        while (!j->stop && j->next < j->n && j->next >= j->consumed + j->nslots)
            pthread_cond_wait(&j->space, &j->mu);
        if (j->stop || j->next >= j->n) {
            pthread_mutex_unlock(&j->mu);
            break;
        }
        int64_t item = j->next++;
        prep_slot *slot = &j->slots[(item - j->start) % j->nslots];
        pthread_mutex_unlock(&j->mu);

        sv_clear_error();
        int rc = encode_item(w, (int)item, &slot->rec);
        int state = SLOT_OK;
        if (rc == SIMVTP_ERR_NOMEM || rc == SIMVTP_ERR_INTERNAL) state = SLOT_FATAL;
        else if (rc) state = SLOT_SKIP;
        if (rc) snprintf(slot->msg, sizeof slot->msg, "%s", simvtp_last_error());

        pthread_mutex_lock(&j->mu);
        slot->status = rc;
        slot->state = state;
        pthread_cond_broadcast(&j->done);
        pthread_mutex_unlock(&j->mu);
    }
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* The call                                                                 */
/* ------------------------------------------------------------------------ */

static int ensure_dir(const char *dir)
{
    struct stat st;
    if (stat(dir, &st) == 0) {
        if (!S_ISDIR(st.st_mode)) return sv_fail(SIMVTP_ERR_IO, "%s exists and is not a directory", dir);
        return SIMVTP_OK;
    }
    if (mkdir(dir, 0777) != 0 && errno != EEXIST)
        return sv_fail(SIMVTP_ERR_IO, "cannot create the output directory %s: %s", dir, strerror(errno));
    return SIMVTP_OK;
}

typedef struct prep_counts {
    int64_t written, failed;
    int shards;
} prep_counts;

/* The writer: take items in order, append, roll shards, report progress. */
static int write_all(prep_job *j, const char *dir, const sv_shard_header *hdr, int first_shard,
                     double t0, prep_counts *c)
{
    int rc = SIMVTP_OK;
    sv_shard_writer *w = NULL;
    int shard_no = first_shard;
    int64_t shard_begin = j->start;
    const simvtp_prep_params *p = &j->p;
    for (int64_t item = j->start; item < j->n && !rc; item++) {
        prep_slot *slot = &j->slots[(item - j->start) % j->nslots];
        pthread_mutex_lock(&j->mu);
        while (slot->state == SLOT_EMPTY) pthread_cond_wait(&j->done, &j->mu);
        int state = slot->state, status = slot->status;
        pthread_mutex_unlock(&j->mu);

        if (state == SLOT_FATAL) {
            rc = sv_fail(status, "%s", slot->msg);
        } else if (state == SLOT_SKIP) {
            c->failed++;
            sv_log(SIMVTP_LOG_WARN, "prep: skipped item %lld (%s): %s", (long long)item,
                   simvtp_dataset_video_path(j->d, (int)item), slot->msg);
        } else {
            if (!w) {
                char *path = shard_path(dir, shard_no);
                rc = path ? sv_shard_writer_open(path, hdr, (uint64_t)shard_begin, &w)
                          : sv_fail(SIMVTP_ERR_NOMEM, "out of memory");
                free(path);
            }
            if (!rc) rc = sv_shard_writer_append(w, (uint64_t)item, &slot->rec);
            if (!rc) c->written++;
            if (!rc && sv_shard_writer_count(w) == p->records_per_shard) {
                rc = sv_shard_writer_finish(w, (uint64_t)item + 1);
                w = NULL;
                if (!rc) shard_no++;
                shard_begin = item + 1;
            }
        }

        pthread_mutex_lock(&j->mu);
        slot->state = SLOT_EMPTY;
        j->consumed = item + 1;
        pthread_cond_broadcast(&j->space);
        pthread_mutex_unlock(&j->mu);

        if (!rc && p->progress && p->progress(p->progress_user, item + 1, j->n, now_sec() - t0))
            rc = sv_fail(SIMVTP_ERR_ABORTED, "prep stopped by the progress callback after item %lld "
                         "of %lld (completed shards are kept)", (long long)item + 1, (long long)j->n);
    }
    if (!rc && w) {
        rc = sv_shard_writer_finish(w, (uint64_t)j->n);
        w = NULL;
        if (!rc) shard_no++;
    }
    sv_shard_writer_abort(w);
    c->shards = shard_no;
    return rc;
}

static int run_workers(prep_job *j, int threads, const char *dir, const sv_shard_header *hdr,
                       int first_shard, double t0, prep_counts *c)
{
    prep_worker *ws = calloc((size_t)threads, sizeof *ws);
    pthread_t *tids = calloc((size_t)threads, sizeof *tids);
    j->nslots = threads * PREP_SLOTS_PER_THREAD;
    j->slots = calloc((size_t)j->nslots, sizeof *j->slots);
    int rc = SIMVTP_OK, started = 0;
    if (!ws || !tids || !j->slots) rc = sv_fail(SIMVTP_ERR_NOMEM, "out of memory starting prep");
    for (int t = 0; !rc && t < threads; t++) {
        ws[t].job = j;
        rc = sv_shard_encoder_create(j->p.zstd_level, &ws[t].enc);
    }
    for (int t = 0; !rc && t < threads; t++) {
        if (pthread_create(&tids[t], NULL, worker_main, &ws[t]) != 0) {
            if (started == 0) rc = sv_fail(SIMVTP_ERR_INTERNAL, "cannot start a prep thread");
            break;
        }
        started++;
    }
    if (!rc) rc = write_all(j, dir, hdr, first_shard, t0, c);
    else c->shards = first_shard;
    pthread_mutex_lock(&j->mu);
    j->stop = 1;
    pthread_cond_broadcast(&j->space);
    pthread_mutex_unlock(&j->mu);
    for (int t = 0; t < started; t++) pthread_join(tids[t], NULL);
    for (int t = 0; ws && t < threads; t++) {
        sv_shard_encoder_free(ws[t].enc);
        free(ws[t].rgb);
        free(ws[t].idx);
        free(ws[t].caps);
    }
    for (int s = 0; j->slots && s < j->nslots; s++) sv_shard_record_buf_free(&j->slots[s].rec);
    free(j->slots);
    free(ws);
    free(tids);
    return rc;
}

#endif /* SIMVTP_HAVE_VIDEO && SIMVTP_HAVE_ZSTD */

int simvtp_prep_shards(const simvtp_dataset *d, const char *out_dir, const simvtp_prep_params *params,
                       simvtp_prep_report *report)
{
    sv_clear_error();
    SV_CHECK_ARG(d && out_dir, "simvtp_prep_shards: dataset and out_dir must not be NULL");
    SV_CHECK_ARG(!report || report->size == sizeof *report,
                 "simvtp_prep_shards: report.size is %zu, expected %zu", report ? report->size : 0,
                 sizeof *report);
    simvtp_prep_params p;
    if (params) p = *params;
    else simvtp_prep_default_params(&p);
    SV_TRY(check_params(&p));
    if (report) {
        report->written = report->resumed = report->failed = 0;
        report->shards = 0;
    }
#if !SIMVTP_HAVE_ZSTD
    return sv_fail(SIMVTP_ERR_UNSUPPORTED, "prep writes zstd shards: this libsimvtp was built without zstd");
#elif !SIMVTP_HAVE_VIDEO
    return sv_fail(SIMVTP_ERR_UNSUPPORTED, "prep decodes videos: this libsimvtp was built without FFmpeg");
#else
    double t0 = now_sec();
    int64_t n = simvtp_dataset_size(d);
    if (n < 0) return (int)n;
    SV_TRY(ensure_dir(out_dir));
    sv_shard_header hdr = {SV_SHARD_CODEC_ZSTD, (uint32_t)p.short_side, (uint32_t)p.frame_step,
                           (uint32_t)p.max_frames};
    int kept = 0;
    int64_t start = 0, resumed = 0;
    SV_TRY(scan_existing(out_dir, d, n, &hdr, p.records_per_shard, &kept, &start, &resumed));
    SV_TRY(remove_stale(out_dir, kept));
    if (kept)
        sv_log(SIMVTP_LOG_INFO, "prep: resuming after %d complete shards (%lld records, items 0..%lld)",
               kept, (long long)resumed, (long long)start);
    if (report) {
        report->resumed = resumed;
        report->shards = kept;
    }
    if (p.progress && p.progress(p.progress_user, start, n, now_sec() - t0))
        return sv_fail(SIMVTP_ERR_ABORTED, "prep stopped by the progress callback before starting");
    if (start >= n) return SIMVTP_OK;

    int threads = p.threads;
    if (threads == 0) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        threads = cpus < 1 ? 1 : cpus > PREP_MAX_THREADS ? PREP_MAX_THREADS : (int)cpus;
    }
    if (threads > n - start) threads = (int)(n - start);

    prep_job j;
    memset(&j, 0, sizeof j);
    j.d = d;
    j.p = p;
    j.n = n;
    j.start = j.next = j.consumed = start;
    pthread_mutex_init(&j.mu, NULL);
    pthread_cond_init(&j.space, NULL);
    pthread_cond_init(&j.done, NULL);
    prep_counts c = {0, 0, kept};
    int rc = run_workers(&j, threads, out_dir, &hdr, kept, t0, &c);
    pthread_mutex_destroy(&j.mu);
    pthread_cond_destroy(&j.space);
    pthread_cond_destroy(&j.done);
    if (report) {
        report->written = c.written;
        report->failed = c.failed;
        report->shards = c.shards;
    }
    return rc;
#endif
}

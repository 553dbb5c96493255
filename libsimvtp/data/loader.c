/* data/loader.c — simvtp_dataloader: the epoch's sample order (shard order
 * shuffled, then a shuffle buffer, from (seed, epoch) only), split by rank
 * (rank r takes positions r, r+W, ...; the tail is dropped so every rank
 * has the same count), worker threads that turn one sample at a time into
 * a clip (record head, only the needed frames, simvtp_sample_frames,
 * simvtp_crop_frames) and tokens, and prefetched batches identified by
 * their position. Every random choice comes from (seed, epoch, sample), so
 * batches never depend on thread timing and seek(pos) is exact. */
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "simvtp/loader.h"
#include "simvtp/video.h"
#include "core/rng.h"
#include "core/status_internal.h"
#include "data/shard_format.h"

#define TAG_ORDER 0x4f524445520001ull   /* key of an epoch's order           */
#define TAG_SAMPLE 0x53414d504c0002ull  /* key of a sample's random choices  */
#define SHARD_CACHE 8                   /* open shards kept per worker       */
#define MAX_SUBSTITUTES 64              /* damaged records tried per slot    */
#define MAX_THREADS 256
#define NO_BATCH UINT64_MAX

void simvtp_dataloader_default_params(simvtp_dataloader_params *p)
{
    if (!p) return;
    memset(p, 0, sizeof *p);
    p->size = sizeof *p;
    p->batch = 8;
    p->frames = 16;
    p->height = 224;
    p->width = 224;
    p->max_text_len = 64;
    p->sample_mode = SIMVTP_SAMPLE_PRETRAIN;
    p->crop_mode = SIMVTP_CROP_MULTISCALE;
    p->stride = 4;
    p->num_clips = 3;
    p->num_crops = 3;
    p->shuffle = 1;
    p->shuffle_buffer = 1024;
    p->drop_last = 1;
    p->seed = 0;
    p->rank = 0;
    p->world_size = 1;
    p->threads = 2;
    p->prefetch = 2;
}

/* ------------------------------------------------------------------------ */
/* State                                                                    */
/* ------------------------------------------------------------------------ */

typedef struct lbatch {
    uint64_t q;            /* batch position it holds, NO_BATCH when none      */
    int count, filled;
    int status;            /* first error of a sample                          */
    char msg[512];
    int64_t epoch;
    uint8_t *frames;       /* [B, T, H, W, 3]                                  */
    int32_t *tokens;       /* [B, max_text_len]; compacted on delivery         */
    int32_t *lengths;
    int64_t *sample_index;
    int32_t *clip_index;
    char **ids;
    size_t *ids_cap;
} lbatch;

typedef struct lorder {
    int64_t epoch;         /* -1: empty */
    uint64_t *u;           /* [n_rank] sample of each rank-local position */
} lorder;

typedef struct lcache {
    int shard;             /* -1: empty */
    simvtp_shard *s;
    uint64_t used;
} lcache;

typedef struct lworker {
    simvtp_dataloader *l;
    pthread_t tid;
    lcache cache[SHARD_CACHE];
    uint64_t tick;
    uint8_t *gather;
    size_t gather_cap;
    int32_t *idx, *stored;
} lworker;

struct simvtp_dataloader {
    simvtp_dataloader_params p;
    char **paths;
    int nshards;
    int64_t *prefix;       /* [nshards+1] records before each shard */
    int64_t videos;
    int K, C, KC;          /* clips, crops, samples per video      */
    int64_t total;         /* samples per epoch over all ranks      */
    int64_t n_rank, epoch_batches;
    size_t clip_bytes;

    lorder *orders;
    int norders;
    uint64_t *shuf;        /* shuffle buffer (under the lock)       */
    int64_t shuf_cap;
    uint32_t *perm;        /* shard order (under the lock)          */

    lbatch *bufs;
    int nbuf;
    uint64_t cons;         /* next batch to deliver = position      */
    uint64_t claim_q;      /* next job: batch claim_q, sample claim_i */
    int claim_i;
    int paused, inflight, stop;
    int64_t skipped;

    lworker *workers;
    int nworkers;
    pthread_mutex_t mu;
    pthread_cond_t work, ready;
};

/* ------------------------------------------------------------------------ */
/* Keys and the epoch order                                                 */
/* ------------------------------------------------------------------------ */

/* A key from a key and a value, through the library's RNG seeding. */
static uint64_t derive(uint64_t key, uint64_t v)
{
    sv_rng r;
    sv_rng_seed(&r, key);
    uint64_t a = sv_rng_u64(&r) ^ v;
    sv_rng_seed(&r, a);
    return sv_rng_u64(&r);
}

void sv_loader_sample_choices(uint64_t seed, int64_t epoch, uint64_t u, int num_captions,
                              uint64_t *frame_seed, uint64_t *crop_seed, int *caption)
{
    sv_rng rng;
    sv_rng_seed(&rng, derive(derive(derive(seed, TAG_SAMPLE), (uint64_t)epoch), u));
    *frame_seed = sv_rng_u64(&rng);
    *crop_seed = sv_rng_u64(&rng);
    *caption = num_captions > 1 ? (int)sv_rng_below(&rng, (uint32_t)num_captions) : 0;
}

/* The rank's samples of one epoch. Global stream: shards in order (a
 * permutation when shuffling), each record's KC samples in a row; with
 * shuffling the stream goes through a buffer of shuffle_buffer samples
 * (each output is a uniformly chosen buffered sample, replaced by the next
 * input; the rest drained at random at the end). Position pos of the
 * global order goes to rank pos % W; positions >= n_rank*W are dropped. */
static void compute_order(simvtp_dataloader *l, int64_t epoch, uint64_t *out)
{
    const int64_t W = l->p.world_size, r = l->p.rank, keep = l->n_rank * W;
    int64_t pos = 0;
#define EMIT(item)                                                   \
    do {                                                             \
        if (pos < keep && pos % W == r) out[pos / W] = (item);       \
        pos++;                                                       \
    } while (0)
    if (!l->p.shuffle) {
        for (int64_t p = 0; p < l->n_rank; p++) out[p] = (uint64_t)(p * W + r);
        return;
    }
    sv_rng rng;
    sv_rng_seed(&rng, derive(derive(l->p.seed, TAG_ORDER), (uint64_t)epoch));
    for (int s = 0; s < l->nshards; s++) l->perm[s] = (uint32_t)s;
    for (int s = l->nshards - 1; s > 0; s--) {
        uint32_t j = sv_rng_below(&rng, (uint32_t)s + 1);
        uint32_t t = l->perm[s];
        l->perm[s] = l->perm[j];
        l->perm[j] = t;
    }
    int64_t len = 0;
    for (int k = 0; k < l->nshards; k++) {
        int s = (int)l->perm[k];
        uint64_t lo = (uint64_t)l->prefix[s] * (uint64_t)l->KC;
        uint64_t hi = (uint64_t)l->prefix[s + 1] * (uint64_t)l->KC;
        for (uint64_t item = lo; item < hi; item++) {
            if (len < l->shuf_cap) {
                l->shuf[len++] = item;
                continue;
            }
            uint32_t j = sv_rng_below(&rng, (uint32_t)len);
            EMIT(l->shuf[j]);
            l->shuf[j] = item;
        }
    }
    while (len > 0) {
        uint32_t j = sv_rng_below(&rng, (uint32_t)len);
        EMIT(l->shuf[j]);
        l->shuf[j] = l->shuf[--len];
    }
#undef EMIT
}

/* Sample at rank-local position p of `epoch` (lock held). */
static uint64_t sample_at(simvtp_dataloader *l, int64_t epoch, int64_t p)
{
    lorder *o = NULL;
    for (int k = 0; k < l->norders && !o; k++)
        if (l->orders[k].epoch == epoch) o = &l->orders[k];
    if (!o) {
        /* evict an epoch outside the window of batches being prepared */
        int64_t lo = (int64_t)(l->cons / (uint64_t)l->epoch_batches);
        int64_t hi = (int64_t)((l->cons + (uint64_t)l->p.prefetch) / (uint64_t)l->epoch_batches);
        for (int k = 0; k < l->norders && !o; k++)
            if (l->orders[k].epoch < lo || l->orders[k].epoch > hi) o = &l->orders[k];
        if (!o) o = &l->orders[0]; /* not reached: norders exceeds the window */
        compute_order(l, epoch, o->u);
        o->epoch = epoch;
    }
    return o->u[p];
}

static int batch_count(const simvtp_dataloader *l, uint64_t q)
{
    int64_t b = (int64_t)(q % (uint64_t)l->epoch_batches);
    int64_t left = l->n_rank - b * l->p.batch;
    return left < l->p.batch ? (int)left : l->p.batch;
}

/* ------------------------------------------------------------------------ */
/* One sample                                                               */
/* ------------------------------------------------------------------------ */

static int is_damage(int rc)
{
    return rc == SIMVTP_ERR_FORMAT || rc == SIMVTP_ERR_TRUNCATED || rc == SIMVTP_ERR_IO ||
           rc == SIMVTP_ERR_VERSION;
}

static int cache_get(lworker *w, int shard, simvtp_shard **out)
{
    lcache *victim = &w->cache[0];
    for (int k = 0; k < SHARD_CACHE; k++) {
        lcache *c = &w->cache[k];
        if (c->shard == shard) {
            c->used = ++w->tick;
            *out = c->s;
            return SIMVTP_OK;
        }
        if (c->shard < 0 || c->used < victim->used) victim = c;
    }
    simvtp_shard_close(victim->s);
    victim->s = NULL;
    victim->shard = -1;
    SV_TRY(simvtp_shard_open(w->l->paths[shard], &victim->s));
    victim->shard = shard;
    victim->used = ++w->tick;
    *out = victim->s;
    return SIMVTP_OK;
}

static int find_shard(const simvtp_dataloader *l, int64_t g)
{
    int lo = 0, hi = l->nshards - 1;
    while (lo < hi) { /* last shard with prefix <= g */
        int mid = (lo + hi + 1) / 2;
        if (l->prefix[mid] <= g) lo = mid;
        else hi = mid - 1;
    }
    return lo;
}

/* Build sample u of `epoch` into slot i of b. *damaged = 1 when the record
 * could not be read (the caller substitutes another sample). */
static int make_sample(lworker *w, int64_t epoch, uint64_t u, lbatch *b, int i, int *damaged)
{
    simvtp_dataloader *l = w->l;
    const simvtp_dataloader_params *p = &l->p;
    int64_t g = (int64_t)(u / (uint64_t)l->KC);
    int sub = (int)(u % (uint64_t)l->KC), clip = sub / l->C, crop = sub % l->C;
    int s = find_shard(l, g);
    int r = (int)(g - l->prefix[s]);
    simvtp_shard *sh;
    sv_record_head h;
    int rc = cache_get(w, s, &sh);
    if (!rc) rc = sv_shard_read_head(sh, r, &h);
    if (rc) {
        *damaged = is_damage(rc);
        return rc;
    }
    uint64_t frame_seed, crop_seed;
    int cap;
    sv_loader_sample_choices(p->seed, epoch, u, h.num_captions, &frame_seed, &crop_seed, &cap);

    int64_t src = (int64_t)h.frames * h.frame_step;
    if (src > INT_MAX) src = INT_MAX;
    SV_TRY(simvtp_sample_frames(p->sample_mode, (int)src, p->frames, p->stride, frame_seed, clip, l->K,
                                w->idx));
    for (int t = 0; t < p->frames; t++) {
        int k = w->idx[t] / h.frame_step;
        w->stored[t] = k < 0 ? 0 : k >= h.frames ? h.frames - 1 : k;
    }
    size_t need = (size_t)p->frames * (size_t)h.width * (size_t)h.height * 3;
    if (need > w->gather_cap) {
        uint8_t *q = realloc(w->gather, need);
        if (!q) return sv_fail(SIMVTP_ERR_NOMEM, "out of memory (%zu bytes) for a clip", need);
        w->gather = q;
        w->gather_cap = need;
    }
    rc = sv_shard_read_frames(sh, r, &h, w->stored, p->frames, w->gather);
    if (rc) {
        *damaged = is_damage(rc);
        return rc;
    }
    SV_TRY(simvtp_crop_frames(w->gather, p->frames, h.width, h.height, p->crop_mode,
                              p->crop_mode == SIMVTP_CROP_THREE ? crop : 0, crop_seed, p->width,
                              p->height, b->frames + (size_t)i * l->clip_bytes));
    int len = 0;
    const char *text = h.num_captions ? h.captions[cap] : "";
    SV_TRY(simvtp_tokenizer_encode(p->tokenizer, text, b->tokens + (size_t)i * p->max_text_len,
                                   p->max_text_len, &len));
    b->lengths[i] = len;
    b->sample_index[i] = g;
    b->clip_index[i] = sub;
    size_t n = strlen(h.video_id) + 1;
    if (n > b->ids_cap[i]) {
        char *q = realloc(b->ids[i], n);
        if (!q) return sv_fail(SIMVTP_ERR_NOMEM, "out of memory");
        b->ids[i] = q;
        b->ids_cap[i] = n;
    }
    memcpy(b->ids[i], h.video_id, n);
    return SIMVTP_OK;
}

static void *worker_main(void *arg)
{
    lworker *w = arg;
    simvtp_dataloader *l = w->l;
    pthread_mutex_lock(&l->mu);
    for (;;) {
        while (!l->stop && (l->paused || l->claim_q >= l->cons + (uint64_t)l->p.prefetch))
            pthread_cond_wait(&l->work, &l->mu);
        if (l->stop) break;
        uint64_t q = l->claim_q;
        lbatch *b = &l->bufs[q % (uint64_t)l->nbuf];
        if (l->claim_i == 0) {
            b->q = q;
            b->count = batch_count(l, q);
            b->filled = 0;
            b->status = SIMVTP_OK;
            b->epoch = (int64_t)(q / (uint64_t)l->epoch_batches);
        }
        int i = l->claim_i++;
        if (l->claim_i == b->count) {
            l->claim_q++;
            l->claim_i = 0;
        }
        l->inflight++;
        int64_t epoch = b->epoch;
        int64_t pos = (int64_t)(q % (uint64_t)l->epoch_batches) * l->p.batch + i;
        uint64_t u = sample_at(l, epoch, pos);
        pthread_mutex_unlock(&l->mu);

        /* a damaged record is replaced by the sample at the next position */
        int rc = SIMVTP_OK, bad = 0;
        for (int tries = 0; tries <= MAX_SUBSTITUTES; tries++) {
            int damaged = 0;
            sv_clear_error();
            rc = make_sample(w, epoch, u, b, i, &damaged);
            if (!rc || !damaged) break;
            sv_log(SIMVTP_LOG_WARN, "dataloader: skipping a damaged record: %s", simvtp_last_error());
            bad++;
            pthread_mutex_lock(&l->mu);
            u = sample_at(l, epoch, (pos + tries + 1) % l->n_rank);
            pthread_mutex_unlock(&l->mu);
        }
        char msg[512];
        if (rc) snprintf(msg, sizeof msg, "%s%s", bad > MAX_SUBSTITUTES ? "too many damaged records; last: " : "",
                         simvtp_last_error());

        pthread_mutex_lock(&l->mu);
        l->skipped += bad;
        if (rc && !b->status) {
            b->status = rc;
            memcpy(b->msg, msg, sizeof msg);
        }
        b->filled++;
        l->inflight--;
        pthread_cond_broadcast(&l->ready);
    }
    pthread_mutex_unlock(&l->mu);
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* Create / free                                                            */
/* ------------------------------------------------------------------------ */

static int check_params(const simvtp_dataloader_params *p)
{
    SV_CHECK_ARG(p->size == sizeof *p, "dataloader params.size is %zu, expected %zu (use "
                 "simvtp_dataloader_default_params)", p->size, sizeof *p);
    SV_CHECK_ARG(p->shards && p->num_shards >= 1, "dataloader: shards must list at least one path");
    for (int s = 0; s < p->num_shards; s++)
        SV_CHECK_ARG(p->shards[s], "dataloader: shards[%d] is NULL", s);
    SV_CHECK_ARG(p->tokenizer, "dataloader: tokenizer must not be NULL");
    SV_CHECK_ARG(p->batch >= 1 && p->batch <= 65536, "dataloader: batch %d must be in [1, 65536]", p->batch);
    SV_CHECK_ARG(p->frames >= 1 && p->frames <= 4096, "dataloader: frames %d must be in [1, 4096]", p->frames);
    SV_CHECK_ARG(p->height >= 1 && p->height <= SV_SHARD_MAX_SIDE && p->width >= 1 &&
                 p->width <= SV_SHARD_MAX_SIDE, "dataloader: clip size %dx%d must be in [1, %d]",
                 p->width, p->height, SV_SHARD_MAX_SIDE);
    SV_CHECK_ARG(p->max_text_len >= 2 && p->max_text_len <= 65536,
                 "dataloader: max_text_len %d must be in [2, 65536]", p->max_text_len);
    SV_CHECK_ARG(p->sample_mode >= SIMVTP_SAMPLE_PRETRAIN && p->sample_mode <= SIMVTP_SAMPLE_TEST,
                 "dataloader: unknown sample_mode %d", p->sample_mode);
    SV_CHECK_ARG(p->crop_mode >= SIMVTP_CROP_MULTISCALE && p->crop_mode <= SIMVTP_CROP_THREE,
                 "dataloader: unknown crop_mode %d", p->crop_mode);
    SV_CHECK_ARG(p->stride >= 1, "dataloader: stride %d must be >= 1", p->stride);
    if (p->sample_mode == SIMVTP_SAMPLE_TEST)
        SV_CHECK_ARG(p->num_clips >= 1 && p->num_clips <= 1024,
                     "dataloader: num_clips %d must be in [1, 1024]", p->num_clips);
    if (p->sample_mode == SIMVTP_SAMPLE_TEST && p->crop_mode == SIMVTP_CROP_THREE)
        SV_CHECK_ARG(p->num_crops >= 1 && p->num_crops <= 3, "dataloader: num_crops %d must be in [1, 3]",
                     p->num_crops);
    SV_CHECK_ARG(p->shuffle_buffer >= 1, "dataloader: shuffle_buffer %d must be >= 1", p->shuffle_buffer);
    SV_CHECK_ARG(p->world_size >= 1 && p->rank >= 0 && p->rank < p->world_size,
                 "dataloader: rank %d / world_size %d: need 0 <= rank < world_size", p->rank, p->world_size);
    SV_CHECK_ARG(p->threads >= 0 && p->threads <= MAX_THREADS,
                 "dataloader: threads %d must be in [0, %d] (0 = number of CPUs)", p->threads, MAX_THREADS);
    SV_CHECK_ARG(p->prefetch >= 1 && p->prefetch <= 64, "dataloader: prefetch %d must be in [1, 64]",
                 p->prefetch);
    return SIMVTP_OK;
}

/* Count every shard's records (opening validates its header and index). */
static int count_records(simvtp_dataloader *l)
{
    l->prefix[0] = 0;
    for (int s = 0; s < l->nshards; s++) {
        simvtp_shard *sh = NULL;
        SV_TRY(simvtp_shard_open(l->paths[s], &sh));
        l->prefix[s + 1] = l->prefix[s] + (int64_t)sh->count;
        simvtp_shard_close(sh);
    }
    l->videos = l->prefix[l->nshards];
    return SIMVTP_OK;
}

static int alloc_state(simvtp_dataloader *l)
{
    const simvtp_dataloader_params *p = &l->p;
    int ok = 1;
    l->norders = p->prefetch + 1;
    l->orders = calloc((size_t)l->norders, sizeof *l->orders);
    ok = ok && l->orders;
    for (int k = 0; ok && k < l->norders; k++) {
        l->orders[k].epoch = -1;
        l->orders[k].u = malloc((size_t)l->n_rank * sizeof(uint64_t));
        ok = ok && l->orders[k].u;
    }
    l->shuf_cap = p->shuffle_buffer < l->total ? p->shuffle_buffer : l->total;
    if (ok) l->shuf = malloc((size_t)l->shuf_cap * sizeof *l->shuf);
    if (ok) l->perm = malloc((size_t)l->nshards * sizeof *l->perm);
    ok = ok && l->shuf && l->perm;
    l->nbuf = p->prefetch + 1;
    if (ok) l->bufs = calloc((size_t)l->nbuf, sizeof *l->bufs);
    ok = ok && l->bufs;
    size_t B = (size_t)p->batch;
    for (int k = 0; ok && k < l->nbuf; k++) {
        lbatch *b = &l->bufs[k];
        b->q = NO_BATCH;
        b->frames = malloc(B * l->clip_bytes);
        b->tokens = malloc(B * (size_t)p->max_text_len * sizeof *b->tokens);
        b->lengths = malloc(B * sizeof *b->lengths);
        b->sample_index = malloc(B * sizeof *b->sample_index);
        b->clip_index = malloc(B * sizeof *b->clip_index);
        b->ids = calloc(B, sizeof *b->ids);
        b->ids_cap = calloc(B, sizeof *b->ids_cap);
        ok = b->frames && b->tokens && b->lengths && b->sample_index && b->clip_index && b->ids &&
             b->ids_cap;
    }
    if (ok) l->workers = calloc((size_t)l->nworkers, sizeof *l->workers);
    ok = ok && l->workers;
    for (int t = 0; ok && t < l->nworkers; t++) {
        lworker *w = &l->workers[t];
        w->l = l;
        for (int k = 0; k < SHARD_CACHE; k++) w->cache[k].shard = -1;
        w->idx = malloc((size_t)p->frames * sizeof *w->idx);
        w->stored = malloc((size_t)p->frames * sizeof *w->stored);
        ok = w->idx && w->stored;
    }
    return ok ? SIMVTP_OK : sv_fail(SIMVTP_ERR_NOMEM, "out of memory creating the dataloader");
}

static void free_state(simvtp_dataloader *l)
{
    for (int k = 0; l->orders && k < l->norders; k++) free(l->orders[k].u);
    free(l->orders);
    free(l->shuf);
    free(l->perm);
    for (int k = 0; l->bufs && k < l->nbuf; k++) {
        lbatch *b = &l->bufs[k];
        for (int i = 0; b->ids && i < l->p.batch; i++) free(b->ids[i]);
        free(b->frames);
        free(b->tokens);
        free(b->lengths);
        free(b->sample_index);
        free(b->clip_index);
        free(b->ids);
        free(b->ids_cap);
    }
    free(l->bufs);
    for (int t = 0; l->workers && t < l->nworkers; t++) {
        lworker *w = &l->workers[t];
        for (int k = 0; k < SHARD_CACHE; k++) simvtp_shard_close(w->cache[k].s);
        free(w->gather);
        free(w->idx);
        free(w->stored);
    }
    free(l->workers);
    for (int s = 0; l->paths && s < l->nshards; s++) free(l->paths[s]);
    free(l->paths);
    free(l->prefix);
    free(l);
}

static int plan(simvtp_dataloader *l)
{
    const simvtp_dataloader_params *p = &l->p;
    if (l->videos == 0) return sv_fail(SIMVTP_ERR_INVALID_ARG, "dataloader: the shards hold no records");
    int test = p->sample_mode == SIMVTP_SAMPLE_TEST;
    l->K = test ? p->num_clips : 1;
    l->C = test && p->crop_mode == SIMVTP_CROP_THREE ? p->num_crops : 1;
    l->KC = l->K * l->C;
    if (l->videos > INT64_MAX / l->KC || l->videos * l->KC > (int64_t)UINT32_MAX * 1024)
        return sv_fail(SIMVTP_ERR_INVALID_ARG, "dataloader: too many samples per epoch");
    l->total = l->videos * l->KC;
    l->n_rank = l->total / p->world_size;
    if (l->n_rank == 0)
        return sv_fail(SIMVTP_ERR_INVALID_ARG, "dataloader: %lld samples cannot be split over %d ranks",
                       (long long)l->total, p->world_size);
    l->epoch_batches = p->drop_last ? l->n_rank / p->batch : (l->n_rank + p->batch - 1) / p->batch;
    if (l->epoch_batches == 0)
        return sv_fail(SIMVTP_ERR_INVALID_ARG,
                       "dataloader: %lld samples per rank make no full batch of %d (drop_last)",
                       (long long)l->n_rank, p->batch);
    uint64_t clip = (uint64_t)p->frames * (uint64_t)p->height * (uint64_t)p->width * 3;
    if (clip > SIZE_MAX / (uint64_t)p->batch / 4)
        return sv_fail(SIMVTP_ERR_INVALID_ARG, "dataloader: batch of clips too large for memory");
    l->clip_bytes = (size_t)clip;
    return SIMVTP_OK;
}

int simvtp_dataloader_create(const simvtp_dataloader_params *p, simvtp_dataloader **out)
{
    sv_clear_error();
    SV_CHECK_ARG(p && out, "simvtp_dataloader_create: params and out must not be NULL");
    *out = NULL;
    SV_TRY(check_params(p));
    simvtp_dataloader *l = calloc(1, sizeof *l);
    if (!l) return sv_fail(SIMVTP_ERR_NOMEM, "out of memory creating the dataloader");
    l->p = *p;
    l->p.shards = NULL;
    l->nshards = p->num_shards;
    l->paths = calloc((size_t)l->nshards, sizeof *l->paths);
    l->prefix = calloc((size_t)l->nshards + 1, sizeof *l->prefix);
    int rc = l->paths && l->prefix ? SIMVTP_OK : sv_fail(SIMVTP_ERR_NOMEM, "out of memory");
    for (int s = 0; !rc && s < l->nshards; s++)
        if (!(l->paths[s] = strdup(p->shards[s]))) rc = sv_fail(SIMVTP_ERR_NOMEM, "out of memory");
    l->nworkers = p->threads;
    if (l->nworkers == 0) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        l->nworkers = cpus < 1 ? 1 : cpus > MAX_THREADS ? MAX_THREADS : (int)cpus;
    }
    if (!rc) rc = count_records(l);
    if (!rc) rc = plan(l);
    if (!rc) rc = alloc_state(l);
    if (rc) {
        free_state(l);
        return rc;
    }
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->work, NULL);
    pthread_cond_init(&l->ready, NULL);
    int started = 0;
    for (int t = 0; t < l->nworkers; t++) {
        if (pthread_create(&l->workers[t].tid, NULL, worker_main, &l->workers[t]) != 0) break;
        started++;
    }
    if (started < l->nworkers) {
        /* keep the ones that started; at least one is needed */
        if (started == 0) {
            pthread_mutex_destroy(&l->mu);
            pthread_cond_destroy(&l->work);
            pthread_cond_destroy(&l->ready);
            free_state(l);
            return sv_fail(SIMVTP_ERR_INTERNAL, "dataloader: cannot start a worker thread");
        }
        sv_log(SIMVTP_LOG_WARN, "dataloader: started %d of %d worker threads", started, l->nworkers);
        l->nworkers = started;
    }
    *out = l;
    return SIMVTP_OK;
}

void simvtp_dataloader_free(simvtp_dataloader *l)
{
    if (!l) return;
    pthread_mutex_lock(&l->mu);
    l->stop = 1;
    pthread_cond_broadcast(&l->work);
    pthread_mutex_unlock(&l->mu);
    for (int t = 0; t < l->nworkers; t++) pthread_join(l->workers[t].tid, NULL);
    pthread_mutex_destroy(&l->mu);
    pthread_cond_destroy(&l->work);
    pthread_cond_destroy(&l->ready);
    free_state(l);
}

/* ------------------------------------------------------------------------ */
/* Delivery, position, seek                                                 */
/* ------------------------------------------------------------------------ */

int simvtp_dataloader_next(simvtp_dataloader *l, simvtp_batch *batch, simvtp_batch_meta *meta)
{
    sv_clear_error();
    SV_CHECK_ARG(l && batch, "simvtp_dataloader_next: loader and batch must not be NULL");
    SV_CHECK_ARG(batch->size == sizeof *batch, "simvtp_dataloader_next: batch.size is %zu, expected %zu",
                 batch->size, sizeof *batch);
    SV_CHECK_ARG(!meta || meta->size == sizeof *meta,
                 "simvtp_dataloader_next: meta.size is %zu, expected %zu", meta ? meta->size : 0,
                 sizeof *meta);
    pthread_mutex_lock(&l->mu);
    lbatch *b = &l->bufs[l->cons % (uint64_t)l->nbuf];
    while (!(b->q == l->cons && b->filled == b->count)) pthread_cond_wait(&l->ready, &l->mu);
    if (b->status) {
        int rc = sv_fail(b->status, "dataloader batch %llu: %s", (unsigned long long)l->cons, b->msg);
        pthread_mutex_unlock(&l->mu);
        return rc;
    }
    /* pad to the longest caption of the batch: compact the rows */
    int L = 2;
    for (int i = 0; i < b->count; i++)
        if (b->lengths[i] > L) L = b->lengths[i];
    for (int i = 1; i < b->count; i++)
        memmove(b->tokens + (size_t)i * L, b->tokens + (size_t)i * l->p.max_text_len,
                (size_t)L * sizeof *b->tokens);
    batch->batch = b->count;
    batch->frames = b->frames;
    batch->max_len = L;
    batch->tokens = b->tokens;
    batch->lengths = b->lengths;
    if (meta) {
        meta->epoch = b->epoch;
        meta->sample_index = b->sample_index;
        meta->video_ids = (const char *const *)b->ids;
        meta->clip_index = b->clip_index;
    }
    l->cons++;
    pthread_cond_broadcast(&l->work);
    pthread_mutex_unlock(&l->mu);
    return SIMVTP_OK;
}

int64_t simvtp_dataloader_epoch_samples(const simvtp_dataloader *l)
{
    sv_clear_error();
    if (!l) return sv_fail(SIMVTP_ERR_INVALID_ARG, "simvtp_dataloader_epoch_samples: loader is NULL");
    return l->n_rank;
}

int64_t simvtp_dataloader_epoch_batches(const simvtp_dataloader *l)
{
    sv_clear_error();
    if (!l) return sv_fail(SIMVTP_ERR_INVALID_ARG, "simvtp_dataloader_epoch_batches: loader is NULL");
    return l->epoch_batches;
}

int64_t simvtp_dataloader_skipped(const simvtp_dataloader *l)
{
    sv_clear_error();
    if (!l) return sv_fail(SIMVTP_ERR_INVALID_ARG, "simvtp_dataloader_skipped: loader is NULL");
    simvtp_dataloader *m = (simvtp_dataloader *)l; /* the lock is not part of the value */
    pthread_mutex_lock(&m->mu);
    int64_t n = m->skipped;
    pthread_mutex_unlock(&m->mu);
    return n;
}

uint64_t simvtp_dataloader_position(const simvtp_dataloader *l)
{
    sv_clear_error();
    if (!l) {
        sv_fail(SIMVTP_ERR_INVALID_ARG, "simvtp_dataloader_position: loader is NULL");
        return 0;
    }
    return l->cons; /* only the calling thread changes it */
}

int simvtp_dataloader_seek(simvtp_dataloader *l, uint64_t position)
{
    sv_clear_error();
    SV_CHECK_ARG(l, "simvtp_dataloader_seek: loader is NULL");
    SV_CHECK_ARG(position < UINT64_MAX / 2, "simvtp_dataloader_seek: position %llu out of range",
                 (unsigned long long)position);
    pthread_mutex_lock(&l->mu);
    l->paused = 1;
    while (l->inflight > 0) pthread_cond_wait(&l->ready, &l->mu);
    l->cons = l->claim_q = position;
    l->claim_i = 0;
    for (int k = 0; k < l->nbuf; k++) {
        l->bufs[k].q = NO_BATCH;
        l->bufs[k].filled = 0;
        l->bufs[k].status = SIMVTP_OK;
    }
    l->paused = 0;
    pthread_cond_broadcast(&l->work);
    pthread_mutex_unlock(&l->mu);
    return SIMVTP_OK;
}

/* eval.c — tk_evaluate (see eval.h). Videos: a TEST-mode dataloader over the
 * shards (num_clips x num_crops samples per video, in shard order, no
 * shuffle), each clip encoded, summed per video (batch meta sample_index)
 * and renormalized. Captions: every caption of every record, read from the
 * shards, tokenized to a fixed max_text_len and encoded. Then text->video
 * and video->text metrics. Public API only. */
#include <stdio.h> /* eval.h uses FILE without including it */

#include "eval.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TEST_STRIDE 4   /* SPEC.md: sampling stride 4 */
#define TEXT_CHUNK 64   /* captions encoded per call   */

void tk_eval_default_params(tk_eval_params *p)
{
    memset(p, 0, sizeof *p);
    p->num_clips = 3;
    p->num_crops = 3;
    p->batch = 8;
    p->threads = 2;
    p->max_text_len = 32;
}

static double now_sec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int say(char *err, size_t n, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int say(char *err, size_t n, int rc, const char *fmt, ...)
{
    va_list ap;
    if (err && n) {
        va_start(ap, fmt);
        vsnprintf(err, n, fmt, ap);
        va_end(ap);
    }
    return rc;
}

#define LIBFAIL(what, rc) say(err, errlen, rc, "%s: %s: %s", what, simvtp_strerror(rc), simvtp_last_error())

/* Captions of every record, in shard order. */
typedef struct captions {
    char **text;     /* [n]                               */
    int *video;      /* [n] the caption's video           */
    int *first;      /* [videos] first caption, -1: none  */
    int n, cap, videos;
} captions;

static void captions_free(captions *c)
{
    for (int i = 0; i < c->n; i++) free(c->text[i]);
    free(c->text);
    free(c->video);
    free(c->first);
}

static int read_captions(const tk_eval_params *p, captions *c, char *err, size_t errlen)
{
    int vcap = 0;
    for (int s = 0; s < p->num_shards; s++) {
        simvtp_shard *sh = NULL;
        int rc = simvtp_shard_open(p->shards[s], &sh);
        if (rc) return LIBFAIL("opening a shard", rc);
        int nrec = simvtp_shard_num_records(sh);
        for (int r = 0; r < nrec; r++) {
            simvtp_record rec = {sizeof rec};
            if ((rc = simvtp_shard_read(sh, r, &rec)) != SIMVTP_OK) {
                simvtp_shard_close(sh);
                return LIBFAIL("reading a record", rc);
            }
            if (c->videos == vcap) {
                vcap = vcap ? 2 * vcap : 256;
                int *q = realloc(c->first, (size_t)vcap * sizeof *q);
                if (!q) goto nomem;
                c->first = q;
            }
            c->first[c->videos] = rec.num_captions > 0 ? c->n : -1;
            for (int k = 0; k < rec.num_captions; k++) {
                if (c->n == c->cap) {
                    c->cap = c->cap ? 2 * c->cap : 256;
                    char **t = realloc(c->text, (size_t)c->cap * sizeof *t);
                    if (t) c->text = t;
                    int *v = realloc(c->video, (size_t)c->cap * sizeof *v);
                    if (v) c->video = v;
                    if (!t || !v) goto nomem;
                }
                if (!(c->text[c->n] = strdup(rec.captions[k]))) goto nomem;
                c->video[c->n++] = c->videos;
            }
            c->videos++;
        }
        simvtp_shard_close(sh);
        continue;
    nomem:
        simvtp_shard_close(sh);
        return say(err, errlen, SIMVTP_ERR_NOMEM, "out of memory reading the captions");
    }
    if (c->n == 0) return say(err, errlen, SIMVTP_ERR_INVALID_ARG, "the shards hold no captions");
    return SIMVTP_OK;
}

/* Every video's embedding [videos, D]: mean of its clips, renormalized. */
/* The rank's share of the work: every W-th batch (or caption chunk). */
static int owns(const tk_eval_params *p, int64_t k)
{
    const int W = simvtp_comm_size(p->comm), r = simvtp_comm_rank(p->comm);
    return W <= 1 || k % W == r;
}

/* Sums of this rank's clip embeddings per video into vid (zeroed first) and
 * their counts into count (both summed over the ranks later). */
static int encode_test_videos(simvtp_model *m, const simvtp_config *cfg, const tk_eval_params *p,
                              int videos, float *vid, float *count, char *err, size_t errlen)
{
    const int D = simvtp_model_embed_dim(m);
    simvtp_dataloader_params lp;
    simvtp_dataloader *l = NULL;
    simvtp_dataloader_default_params(&lp);
    lp.shards = p->shards;
    lp.num_shards = p->num_shards;
    lp.tokenizer = p->tokenizer;
    lp.batch = p->batch;
    lp.frames = cfg->frames;
    lp.height = cfg->height;
    lp.width = cfg->width;
    lp.max_text_len = p->max_text_len;
    lp.sample_mode = SIMVTP_SAMPLE_TEST;
    lp.crop_mode = p->num_crops == 1 ? SIMVTP_CROP_CENTER : SIMVTP_CROP_THREE;
    lp.stride = TEST_STRIDE;
    lp.num_clips = p->num_clips;
    lp.num_crops = p->num_crops;
    lp.shuffle = 0;
    lp.drop_last = 0;
    lp.rank = 0;
    lp.world_size = 1;
    lp.threads = p->threads;
    int rc = simvtp_dataloader_create(&lp, &l);
    if (rc) return LIBFAIL("creating the test dataloader", rc);

    const int64_t total = simvtp_dataloader_epoch_samples(l);
    const int64_t nbatches = simvtp_dataloader_epoch_batches(l);
    float *clip = malloc((size_t)p->batch * (size_t)D * sizeof *clip);
    memset(vid, 0, (size_t)videos * (size_t)D * sizeof *vid);
    memset(count, 0, (size_t)videos * sizeof *count);
    if (!clip) rc = say(err, errlen, SIMVTP_ERR_NOMEM, "out of memory encoding the videos");
    else if (total != (int64_t)videos * p->num_clips * p->num_crops)
        rc = say(err, errlen, SIMVTP_ERR_INTERNAL, "the dataloader has %lld clips for %d videos",
                 (long long)total, videos);
    const double t0 = now_sec();
    int64_t done = 0;
    for (int64_t b = 0; !rc && b < nbatches; b++) {
        simvtp_batch batch = {sizeof batch};
        simvtp_batch_meta meta = {sizeof meta};
        if ((rc = simvtp_dataloader_next(l, &batch, &meta)) != SIMVTP_OK) {
            LIBFAIL("reading test clips", rc);
            break;
        }
        done += batch.batch;
        if (!owns(p, b)) { /* another rank's batch (read all the same: the loader is sequential) */
            if (p->progress && p->progress(p->progress_user, done, total, now_sec() - t0))
                rc = say(err, errlen, SIMVTP_ERR_ABORTED, "evaluation stopped");
            continue;
        }
        if ((rc = simvtp_encode_videos(m, batch.frames, batch.batch, clip)) != SIMVTP_OK) {
            LIBFAIL("encoding test clips", rc);
            break;
        }
        for (int i = 0; i < batch.batch; i++) {
            int64_t g = meta.sample_index[i];
            if (g < 0 || g >= videos) {
                rc = say(err, errlen, SIMVTP_ERR_INTERNAL, "clip of video %lld out of range", (long long)g);
                break;
            }
            float *dst = vid + (size_t)g * (size_t)D;
            const float *src = clip + (size_t)i * (size_t)D;
            for (int d = 0; d < D; d++) dst[d] += src[d];
            count[g] += 1.0f;
        }
        if (!rc && p->progress && p->progress(p->progress_user, done, total, now_sec() - t0))
            rc = say(err, errlen, SIMVTP_ERR_ABORTED, "evaluation stopped");
    }
    free(clip);
    simvtp_dataloader_free(l);
    return rc;
}

/* Each video's embedding: the renormalized mean of its clips' (all ranks'). */
static int normalize_videos(float *vid, const float *count, int videos, int D, char *err, size_t errlen)
{
    for (int v = 0; v < videos; v++) {
        float *e = vid + (size_t)v * (size_t)D;
        double ss = 0;
        for (int d = 0; d < D; d++) ss += (double)e[d] * e[d];
        if (count[v] == 0 || ss <= 0)
            return say(err, errlen, SIMVTP_ERR_FORMAT, "video %d got no clips (a damaged record?)", v);
        float inv = (float)(1.0 / sqrt(ss));
        for (int d = 0; d < D; d++) e[d] *= inv;
    }
    return SIMVTP_OK;
}

/* With several ranks: every rank learns whether any failed, then the
 * partial sums (each rank's videos, counts and caption rows; zeros
 * elsewhere) are summed over the ranks, so that every rank holds all. */
static int share(const tk_eval_params *p, int rc, float *vid, float *count, int videos, float *txt, int ncap,
                 int D, char *err, size_t errlen)
{
    if (simvtp_comm_size(p->comm) <= 1) return rc;
    float failed = rc ? 1.0f : 0.0f;
    int lib = simvtp_comm_allreduce_sum(p->comm, &failed, 1);
    if (lib) return LIBFAIL("agreeing on the evaluation", lib);
    if (failed > 0) return rc ? rc : say(err, errlen, SIMVTP_ERR_IO, "another rank failed in the evaluation");
    if ((lib = simvtp_comm_allreduce_sum(p->comm, vid, (size_t)videos * (size_t)D)) ||
        (lib = simvtp_comm_allreduce_sum(p->comm, count, (size_t)videos)) ||
        (lib = simvtp_comm_allreduce_sum(p->comm, txt, (size_t)ncap * (size_t)D)))
        return LIBFAIL("summing the embeddings over the ranks", lib);
    return SIMVTP_OK;
}

/* This rank's caption chunks into txt (zeroed first). */
static int encode_captions(simvtp_model *m, const tk_eval_params *p, int L, const captions *c,
                           float *txt, char *err, size_t errlen)
{
    const int D = simvtp_model_embed_dim(m);
    int32_t *ids = malloc((size_t)TEXT_CHUNK * (size_t)L * sizeof *ids);
    int32_t *len = malloc((size_t)TEXT_CHUNK * sizeof *len);
    int rc = ids && len ? SIMVTP_OK : say(err, errlen, SIMVTP_ERR_NOMEM, "out of memory");
    memset(txt, 0, (size_t)c->n * (size_t)D * sizeof *txt);
    for (int i0 = 0; !rc && i0 < c->n; i0 += TEXT_CHUNK) {
        if (!owns(p, i0 / TEXT_CHUNK)) continue;
        int n = c->n - i0 < TEXT_CHUNK ? c->n - i0 : TEXT_CHUNK;
        for (int i = 0; !rc && i < n; i++) {
            int l = 0;
            rc = simvtp_tokenizer_encode(p->tokenizer, c->text[i0 + i], ids + (size_t)i * L, L, &l);
            if (rc) LIBFAIL("tokenizing a caption", rc);
            len[i] = l;
        }
        if (!rc && (rc = simvtp_encode_texts(m, ids, len, n, L, txt + (size_t)i0 * (size_t)D)))
            LIBFAIL("encoding captions", rc);
    }
    free(ids);
    free(len);
    return rc;
}

/* sim = a x b^T, then the metrics against truth. */
static int score(const float *a, int na, const float *b, int nb, int D, const int32_t *truth,
                 simvtp_retrieval_metrics *out, char *err, size_t errlen)
{
    float *sim = malloc((size_t)na * (size_t)nb * sizeof *sim);
    if (!sim) return say(err, errlen, SIMVTP_ERR_NOMEM, "out of memory for a %d x %d similarity", na, nb);
    int rc = simvtp_similarity(a, na, b, nb, D, sim);
    if (rc) LIBFAIL("similarity", rc);
    out->size = sizeof *out;
    if (!rc && (rc = simvtp_retrieval_metrics_compute(sim, na, nb, truth, out))) LIBFAIL("metrics", rc);
    free(sim);
    return rc;
}

int tk_evaluate(simvtp_model *m, const tk_eval_params *p, tk_eval_result *out, char *err,
                size_t errlen)
{
    const double t0 = now_sec();
    simvtp_config cfg;
    cfg.size = sizeof cfg;
    if (!m || !p || !out || !p->shards || p->num_shards < 1 || !p->tokenizer)
        return say(err, errlen, SIMVTP_ERR_INVALID_ARG, "tk_evaluate: model, shards and tokenizer are required");
    if (p->num_clips < 1 || p->num_crops < 1 || p->num_crops > 3 || p->batch < 1 || p->max_text_len < 2)
        return say(err, errlen, SIMVTP_ERR_INVALID_ARG,
                   "tk_evaluate: need clips >= 1, crops 1..3, batch >= 1, max_text_len >= 2");
    int rc = simvtp_model_config(m, &cfg);
    if (rc) return LIBFAIL("reading the model config", rc);
    if (simvtp_tokenizer_vocab_size(p->tokenizer) > cfg.vocab_size)
        return say(err, errlen, SIMVTP_ERR_MISMATCH, "the vocabulary has %d tokens, the model only %d",
                   simvtp_tokenizer_vocab_size(p->tokenizer), cfg.vocab_size);
    const int L = p->max_text_len < cfg.max_text_len ? p->max_text_len : cfg.max_text_len;
    const int D = simvtp_model_embed_dim(m);
    memset(out, 0, sizeof *out);

    captions c;
    memset(&c, 0, sizeof c);
    float *vid = NULL, *txt = NULL, *vq = NULL, *count = NULL;
    int32_t *t2v_truth = NULL, *v2t_truth = NULL;
    rc = read_captions(p, &c, err, errlen);
    if (!rc) {
        vid = malloc((size_t)c.videos * (size_t)D * sizeof *vid);
        txt = malloc((size_t)c.n * (size_t)D * sizeof *txt);
        vq = malloc((size_t)c.videos * (size_t)D * sizeof *vq);
        t2v_truth = malloc((size_t)c.n * sizeof *t2v_truth);
        v2t_truth = malloc((size_t)c.videos * sizeof *v2t_truth);
        count = malloc((size_t)c.videos * sizeof *count);
        if (!vid || !txt || !vq || !t2v_truth || !v2t_truth || !count)
            rc = say(err, errlen, SIMVTP_ERR_NOMEM, "out of memory for %d videos, %d captions", c.videos, c.n);
    }
    if (!rc) rc = encode_test_videos(m, &cfg, p, c.videos, vid, count, err, errlen);
    if (!rc) rc = encode_captions(m, p, L, &c, txt, err, errlen);
    rc = share(p, rc, vid, count, c.videos, txt, c.n, D, err, errlen); /* every rank gets here */
    if (!rc) rc = normalize_videos(vid, count, c.videos, D, err, errlen);
    if (!rc) {
        /* text->video: every caption; video->text: every video that has a caption */
        for (int i = 0; i < c.n; i++) t2v_truth[i] = c.video[i];
        int nq = 0;
        for (int v = 0; v < c.videos; v++) {
            if (c.first[v] < 0) continue;
            memcpy(vq + (size_t)nq * D, vid + (size_t)v * D, (size_t)D * sizeof *vq);
            v2t_truth[nq++] = c.first[v];
        }
        rc = score(txt, c.n, vid, c.videos, D, t2v_truth, &out->t2v, err, errlen);
        if (!rc) rc = score(vq, nq, txt, c.n, D, v2t_truth, &out->v2t, err, errlen);
    }
    if (!rc) {
        out->videos = c.videos;
        out->captions = c.n;
        out->chance_r1 = 100.0 / c.videos;
        out->seconds = now_sec() - t0;
    }
    captions_free(&c);
    free(vid);
    free(txt);
    free(vq);
    free(t2v_truth);
    free(v2t_truth);
    free(count);
    return rc;
}

void tk_eval_print_table(const tk_eval_result *r, FILE *f)
{
    const simvtp_retrieval_metrics *m[2] = {&r->t2v, &r->v2t};
    const char *name[2] = {"text->video", "video->text"};
    /* chance R@1: 100 / candidates (videos for t2v, captions for v2t) */
    double chance[2] = {r->chance_r1, r->captions > 0 ? 100.0 / r->captions : 0};
    fprintf(f, "%d videos, %d captions, %.1f s\n", r->videos, r->captions, r->seconds);
    fprintf(f, "%-12s %6s %6s %6s %6s %8s   %s\n", "", "R@1", "R@5", "R@10", "MdR", "MnR", "chance R@1");
    for (int k = 0; k < 2; k++)
        fprintf(f, "%-12s %6.1f %6.1f %6.1f %6.1f %8.1f   %.2f\n", name[k], m[k]->r1, m[k]->r5, m[k]->r10,
                m[k]->median_rank, m[k]->mean_rank, chance[k]);
}

static void json_metrics(FILE *f, const char *name, const simvtp_retrieval_metrics *m, int last)
{
    fprintf(f, "  \"%s\": {\"queries\": %d, \"r1\": %.4f, \"r5\": %.4f, \"r10\": %.4f, "
               "\"median_rank\": %.4f, \"mean_rank\": %.4f}%s\n",
            name, m->queries, m->r1, m->r5, m->r10, m->median_rank, m->mean_rank, last ? "" : ",");
}

int tk_eval_write_json(const tk_eval_result *r, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "w");
    if (!f) return say(err, errlen, SIMVTP_ERR_IO, "cannot write %s", path);
    fprintf(f, "{\n  \"videos\": %d,\n  \"captions\": %d,\n  \"chance_r1\": %.4f,\n  \"seconds\": %.3f,\n",
            r->videos, r->captions, r->chance_r1, r->seconds);
    json_metrics(f, "t2v", &r->t2v, 0);
    json_metrics(f, "v2t", &r->v2t, 1);
    fprintf(f, "}\n");
    int bad = ferror(f);
    if (fclose(f) != 0 || bad) return say(err, errlen, SIMVTP_ERR_IO, "writing %s failed", path);
    return SIMVTP_OK;
}

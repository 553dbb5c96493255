/* simvtp-retrieve — text-video retrieval with a libsimvtp model (public API
 * only):
 *   evaluate  t2v / v2t R@1/5/10, MdR, MnR on test shards (tools/common/eval.c)
 *   index     embeds a video collection (shards or video files) into a .svtpi
 *   query     top-k of a text or a video against an index; --serve answers
 *             JSON lines on stdin, one JSON line per request on stdout
 * Both model kinds work: a retrieval (fine-tuned) model gives its towers'
 * embeddings, a pretraining model its VTC features (zero-shot).
 * Exit status: 0 done, 1 failed, 2 bad command line, 130 interrupted. */
#include <simvtp/simvtp.h>

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "eval.h"

#define TEST_STRIDE 4
#define MAX_CLIPS 16
#define MAX_K 10000

enum { EV = 1, IX = 2, QY = 4 };

typedef struct opts {
    const char *model, *shards, *vocab, *json, *list, *videos, *out, *index, *text, *video, *backend;
    long clips, crops, batch, workers, max_text_len, k;
    int serve, quiet;
} opts;

typedef struct flagdef {
    const char *name;
    unsigned subs;
    char type; /* 's' string, 'l' integer, 'b' switch */
    size_t off;
    long lo, hi;
} flagdef;

#define O(f) offsetof(opts, f)
static const flagdef FLAGS[] = {
    {"--model", EV | IX | QY, 's', O(model), 0, 0},
    {"--backend", EV | IX | QY, 's', O(backend), 0, 0},
    {"--shards", EV | IX, 's', O(shards), 0, 0},
    {"--vocab", EV | QY, 's', O(vocab), 0, 0},
    {"--json", EV, 's', O(json), 0, 0},
    {"--list", IX, 's', O(list), 0, 0},
    {"--videos", IX, 's', O(videos), 0, 0},
    {"--out", IX, 's', O(out), 0, 0},
    {"--index", QY, 's', O(index), 0, 0},
    {"--text", QY, 's', O(text), 0, 0},
    {"--video", QY, 's', O(video), 0, 0},
    {"--clips", EV | IX | QY, 'l', O(clips), 1, MAX_CLIPS},
    {"--crops", EV | IX | QY, 'l', O(crops), 1, 3},
    {"--batch", EV, 'l', O(batch), 1, 1024},
    {"--workers", EV, 'l', O(workers), 1, 64},
    {"--max-text-len", EV | QY, 'l', O(max_text_len), 2, 512},
    {"--k", QY, 'l', O(k), 1, MAX_K},
    {"--serve", QY, 'b', O(serve), 0, 0},
    {"--quiet", EV | IX, 'b', O(quiet), 0, 0},
};

static void usage(FILE *f)
{
    fprintf(f,
        "usage: simvtp-retrieve evaluate --model FILE.svtp --shards DIR --vocab FILE [options]\n"
        "       simvtp-retrieve index --model FILE.svtp (--shards DIR | --list TSV [--videos DIR])\n"
        "                             --out FILE.svtpi [options]\n"
        "       simvtp-retrieve query --model FILE.svtp --index FILE.svtpi [--vocab FILE]\n"
        "                             (--text \"...\" | --video FILE | --serve) [options]\n"
        "\n"
        "Text-video retrieval with a retrieval (fine-tuned) model, or zero-shot with a\n"
        "pretraining model's VTC features; the output says which. A video's embedding\n"
        "is the renormalized mean over --clips test clips (stride 4) x --crops crops.\n"
        "\n"
        "evaluate: text->video and video->text R@1/5/10, MdR, MnR (and chance R@1) over\n"
        "test shards (simvtp-prep --split test); every caption is a t2v query, each\n"
        "video's first caption is its v2t answer.\n"
        "  --shards DIR         folder of shard-NNNNN.svtps\n"
        "  --vocab FILE         BERT vocab.txt (data/vocab/bert-base-uncased.txt)\n"
        "  --json FILE          also write the metrics as JSON\n"
        "  --batch N            clips per encoder call [8]\n"
        "  --workers N          dataloader threads [2]\n"
        "index: embed a collection into FILE.svtpi (ids: video ids, or the list's paths);\n"
        "unreadable videos are skipped with a warning. Progress with ETA on stderr.\n"
        "  --shards DIR         from shards, or:\n"
        "  --list TSV           \"path<TAB>caption\" lines (captions unused), decoding the\n"
        "                       videos directly; --videos DIR: relative paths from DIR\n"
        "                       [the list's folder]\n"
        "  --out FILE.svtpi     the index to write\n"
        "query: the top --k index entries (\"id<TAB>score\" lines, best first) for\n"
        "  --text \"...\"         a caption (needs --vocab)\n"
        "  --video FILE         a video file\n"
        "  --serve              read JSON lines on stdin, {\"text\": \"...\", \"k\": 5} or\n"
        "                       {\"video\": \"path\", \"k\": 5}; write one line per request:\n"
        "                       {\"results\": [{\"id\": ..., \"score\": ...}, ...]} or\n"
        "                       {\"error\": \"...\"} (needs --vocab); ends at end of input\n"
        "  --k N                results per query [10]\n"
        "  --index FILE.svtpi   built by index with the same model (only the embedding\n"
        "                       width can be checked)\n"
        "common:\n"
        "  --model FILE.svtp    retrieval or pretraining weights\n"
        "  --backend NAME       cpu, auto, cuda:N or cuda:N:fp32 [cpu]\n"
        "  --clips N            test clips per video, 1..%d [3]\n"
        "  --crops 1|3          spatial crops per clip: 3 = start/centre/end, 1 = centre [3]\n"
        "  --max-text-len N     caption token cap, at most the model's [32]\n"
        "  --quiet              no progress lines (evaluate, index)\n"
        "  --help, --version\n"
        "CPU threads: OMP_NUM_THREADS.\n"
        "\n"
        "example: simvtp-retrieve evaluate --model ft/model.svtp --shards shards/test \\\n"
        "             --vocab data/vocab/bert-base-uncased.txt --json eval.json\n",
        MAX_CLIPS);
}

/* ------------------------------------------------------------------------ */
/* Command line                                                             */
/* ------------------------------------------------------------------------ */

static int parse(int argc, char **argv, unsigned sub, const char *subname, opts *o)
{
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            exit(0);
        }
        const flagdef *f = NULL;
        for (size_t k = 0; k < sizeof FLAGS / sizeof *FLAGS && !f; k++)
            if (!strcmp(a, FLAGS[k].name)) f = &FLAGS[k];
        if (!f) return tk_bad_flag("unknown flag '%s'", a);
        if (!(f->subs & sub)) return tk_bad_flag("%s is not a flag of '%s'", a, subname);
        char *dst = (char *)o + f->off;
        if (f->type == 'b') {
            *(int *)dst = 1;
            continue;
        }
        const char *v = tk_flag_value(argc, argv, &i);
        if (!v) return TK_EXIT_USAGE;
        if (f->type == 's') {
            if (!*v) return tk_bad_flag("%s needs a non-empty value", a);
            *(const char **)dst = v;
        } else if (tk_parse_long(a, v, f->lo, f->hi, (long *)dst)) {
            return TK_EXIT_USAGE;
        }
    }
    if (o->crops == 2) return tk_bad_flag("--crops must be 1 or 3");
    if (!o->model) return tk_bad_flag("%s needs --model FILE", subname);
    if (sub == EV && (!o->shards || !o->vocab)) return tk_bad_flag("evaluate needs --shards DIR and --vocab FILE");
    if (sub == IX) {
        if (!o->shards == !o->list) return tk_bad_flag("index needs one of --shards DIR and --list TSV");
        if (o->videos && !o->list) return tk_bad_flag("--videos goes with --list");
        if (!o->out) return tk_bad_flag("index needs --out FILE.svtpi");
    }
    if (sub == QY) {
        if (!o->index) return tk_bad_flag("query needs --index FILE.svtpi");
        if (!!o->text + !!o->video + o->serve != 1)
            return tk_bad_flag("query needs exactly one of --text, --video and --serve");
        if ((o->text || o->serve) && !o->vocab) return tk_bad_flag("text queries need --vocab FILE");
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Model, tokenizer, clip encoding                                          */
/* ------------------------------------------------------------------------ */

static int load_model(const char *path, const char *backend, simvtp_model **m)
{
    if (!tk_file_exists(path)) return tk_fail("no model file '%s'", path);
    simvtp_model_params mp;
    simvtp_model_default_params(&mp);
    if (backend) mp.backend = backend;
    int rc = simvtp_model_load(path, &mp, m);
    return rc ? tk_lib_fail("loading the model", rc) : 0;
}

/* What the embeddings are, for the outputs. */
static const char *kind_note(const simvtp_model *m)
{
    return simvtp_model_get_kind(m) == SIMVTP_MODEL_RETRIEVAL
               ? "retrieval model: fine-tuned tower embeddings"
               : "pretraining model: zero-shot, VTC features of the unified encoder";
}

static int load_vocab(const char *path, const simvtp_model *m, simvtp_tokenizer **t)
{
    simvtp_config cfg = {sizeof cfg};
    if (!tk_file_exists(path)) return tk_fail("no vocabulary file '%s'", path);
    int rc = simvtp_tokenizer_load(path, NULL, t);
    if (rc) return tk_lib_fail("loading the vocabulary", rc);
    simvtp_model_config(m, &cfg);
    if (simvtp_tokenizer_vocab_size(*t) > cfg.vocab_size)
        return tk_fail("the vocabulary %s has %d tokens but the model only %d", path,
                       simvtp_tokenizer_vocab_size(*t), cfg.vocab_size);
    return 0;
}

/* Workspace that turns a frame source into one video embedding. */
typedef struct encoder {
    simvtp_model *m;
    simvtp_config cfg;
    int D, K, C;
    size_t clip_bytes;
    int32_t *idx;
    uint8_t *gather, *clips;
    size_t gather_cap;
    float *emb;
    char err[512]; /* detail of the last failure (the library's is per call) */
} encoder;

static int encoder_init(encoder *e, simvtp_model *m, int K, int C)
{
    memset(e, 0, sizeof e[0]);
    e->m = m;
    e->cfg.size = sizeof e->cfg;
    simvtp_model_config(m, &e->cfg);
    e->D = simvtp_model_embed_dim(m);
    e->K = K;
    e->C = C;
    e->clip_bytes = (size_t)e->cfg.frames * (size_t)e->cfg.height * (size_t)e->cfg.width * 3;
    e->idx = malloc((size_t)e->cfg.frames * sizeof *e->idx);
    e->clips = malloc((size_t)K * (size_t)C * e->clip_bytes);
    e->emb = malloc((size_t)K * (size_t)C * (size_t)e->D * sizeof *e->emb);
    return e->idx && e->clips && e->emb ? 0 : tk_fail("out of memory");
}

static void encoder_free(encoder *e)
{
    free(e->idx);
    free(e->gather);
    free(e->clips);
    free(e->emb);
}

static int gather_room(encoder *e, size_t need)
{
    if (need <= e->gather_cap) return SIMVTP_OK;
    uint8_t *q = realloc(e->gather, need);
    if (!q) return SIMVTP_ERR_NOMEM;
    e->gather = q;
    e->gather_cap = need;
    return SIMVTP_OK;
}

/* A frame source: `frames` source frames; fetch() puts the frames at
 * e->idx[0..T) into e->gather and sets their size. */
typedef struct source {
    int frames;
    int (*fetch)(struct source *s, encoder *e, int *w, int *h);
    const simvtp_record *rec; /* shard record */
    simvtp_video *video;      /* video file   */
} source;

static int fetch_record(source *s, encoder *e, int *w, int *h)
{
    const simvtp_record *r = s->rec;
    size_t fb = (size_t)r->width * (size_t)r->height * 3;
    if (gather_room(e, fb * (size_t)e->cfg.frames)) return SIMVTP_ERR_NOMEM;
    for (int t = 0; t < e->cfg.frames; t++) { /* source frame -> stored frame, as the loader */
        int k = e->idx[t] / r->frame_step;
        k = k < 0 ? 0 : k >= r->frames ? r->frames - 1 : k;
        memcpy(e->gather + (size_t)t * fb, r->rgb + (size_t)k * fb, fb);
    }
    *w = r->width;
    *h = r->height;
    return SIMVTP_OK;
}

static int fetch_video(source *s, encoder *e, int *w, int *h)
{
    int side = e->cfg.height > e->cfg.width ? e->cfg.height : e->cfg.width;
    int rc = simvtp_video_decode_scaled(s->video, e->idx, e->cfg.frames, side, NULL, w, h);
    if (!rc) rc = gather_room(e, (size_t)*w * (size_t)*h * 3 * (size_t)e->cfg.frames);
    if (!rc) rc = simvtp_video_decode_scaled(s->video, e->idx, e->cfg.frames, side, e->gather, w, h);
    return rc;
}

/* K test clips x C crops -> one renormalized mean embedding in out[D]. */
static int encode_source(encoder *e, source *s, float *out)
{
    const simvtp_config *c = &e->cfg;
    int rc = SIMVTP_OK, w = 0, h = 0;
    for (int k = 0; !rc && k < e->K; k++) {
        rc = simvtp_sample_frames(SIMVTP_SAMPLE_TEST, s->frames, c->frames, TEST_STRIDE, 0, k, e->K, e->idx);
        if (!rc) rc = s->fetch(s, e, &w, &h);
        for (int j = 0; !rc && j < e->C; j++)
            rc = simvtp_crop_frames(e->gather, c->frames, w, h,
                                    e->C == 1 ? SIMVTP_CROP_CENTER : SIMVTP_CROP_THREE, j, 0, c->width,
                                    c->height, e->clips + (size_t)(k * e->C + j) * e->clip_bytes);
    }
    if (!rc) rc = simvtp_encode_videos(e->m, e->clips, e->K * e->C, e->emb);
    if (rc) return rc;
    double ss = 0;
    for (int d = 0; d < e->D; d++) {
        float sum = 0;
        for (int i = 0; i < e->K * e->C; i++) sum += e->emb[(size_t)i * e->D + d];
        out[d] = sum;
        ss += (double)sum * sum;
    }
    float inv = ss > 0 ? (float)(1.0 / sqrt(ss)) : 0.0f;
    for (int d = 0; d < e->D; d++) out[d] *= inv;
    return SIMVTP_OK;
}

static int encode_video_file(encoder *e, const char *path, float *out)
{
    source s = {0, fetch_video, NULL, NULL};
    simvtp_video_info info = {sizeof info};
    int rc = simvtp_video_open(path, &s.video);
    if (!rc) rc = simvtp_video_get_info(s.video, &info);
    s.frames = info.frames;
    if (!rc) rc = encode_source(e, &s, out);
    if (rc) snprintf(e->err, sizeof e->err, "%s: %s", simvtp_strerror(rc), simvtp_last_error());
    simvtp_video_close(s.video);
    return rc;
}

static int encode_text(simvtp_model *m, const simvtp_tokenizer *t, long max_text_len, const char *text,
                       float *out)
{
    simvtp_config cfg = {sizeof cfg};
    simvtp_model_config(m, &cfg);
    int L = max_text_len < cfg.max_text_len ? (int)max_text_len : cfg.max_text_len, len = 0;
    int32_t *ids = malloc((size_t)L * sizeof *ids);
    if (!ids) return SIMVTP_ERR_NOMEM;
    int rc = simvtp_tokenizer_encode(t, text, ids, L, &len);
    int32_t len32 = len;
    if (!rc) rc = simvtp_encode_texts(m, ids, &len32, 1, L, out);
    free(ids);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* evaluate                                                                 */
/* ------------------------------------------------------------------------ */

typedef struct progress {
    const char *what, *unit;
    double t0, last;
    int quiet;
} progress;

static void show_progress(progress *p, int64_t done, int64_t total)
{
    double t = tk_now();
    if (p->quiet || (done < total && t - p->last < 1.0)) return;
    p->last = t;
    char buf[160];
    tk_format_progress(done, total, t - p->t0, p->unit, buf, sizeof buf);
    int tty = isatty(fileno(stderr));
    fprintf(stderr, "%s%s: %s: %s%s", tty ? "\r" : "", tk_prog(), p->what, buf,
            tty && done < total ? "" : "\n");
    fflush(stderr);
}

static int eval_progress(void *user, int64_t done, int64_t total, double elapsed)
{
    (void)elapsed;
    show_progress(user, done, total);
    return tk_interrupted();
}

static int cmd_evaluate(const opts *o)
{
    simvtp_model *m = NULL;
    simvtp_tokenizer *tok = NULL;
    char **shards = NULL;
    int ns = -1, ret = load_model(o->model, o->backend, &m);
    if (!ret) ret = load_vocab(o->vocab, m, &tok);
    if (!ret && (ns = tk_list_shards(o->shards, &shards)) < 0) ret = TK_EXIT_RUN;
    if (!ret) {
        tk_eval_params p;
        tk_eval_result r;
        progress pr = {"evaluate", "clips", tk_now(), 0, o->quiet};
        char err[512] = "";
        tk_eval_default_params(&p);
        p.shards = (const char *const *)shards;
        p.num_shards = ns;
        p.tokenizer = tok;
        p.num_clips = (int)o->clips;
        p.num_crops = (int)o->crops;
        p.batch = (int)o->batch;
        p.threads = (int)o->workers;
        p.max_text_len = (int)o->max_text_len;
        p.progress = eval_progress;
        p.progress_user = &pr;
        tk_install_interrupt();
        int rc = tk_evaluate(m, &p, &r, err, sizeof err);
        if (rc == SIMVTP_ERR_ABORTED && tk_interrupted()) {
            tk_fail("interrupted");
            ret = TK_EXIT_INTERRUPTED;
        } else if (rc) {
            ret = tk_fail("evaluate: %s", err);
        }
        if (!ret) {
            printf("%s (%s), %ld clips x %ld crops per video\n", o->model, kind_note(m), o->clips, o->crops);
            tk_eval_print_table(&r, stdout);
            if (o->json && tk_eval_write_json(&r, o->json, err, sizeof err)) ret = tk_fail("%s", err);
        }
    }
    tk_free_list(shards, ns > 0 ? ns : 0);
    simvtp_tokenizer_free(tok);
    simvtp_model_free(m);
    return ret;
}

/* ------------------------------------------------------------------------ */
/* index                                                                    */
/* ------------------------------------------------------------------------ */

typedef struct indexer {
    encoder enc;
    simvtp_index *x;
    float *emb;
    progress pr;
    int64_t done, total, skipped;
} indexer;

/* Adds ix->emb as `id`, or (rc != 0) reports the video as skipped. */
static int index_add(indexer *ix, const char *id, int rc)
{
    if (!rc && (rc = simvtp_index_add(ix->x, &id, ix->emb, 1)))
        snprintf(ix->enc.err, sizeof ix->enc.err, "%s: %s", simvtp_strerror(rc), simvtp_last_error());
    if (rc == SIMVTP_ERR_NOMEM) return tk_fail("indexing failed: %s", ix->enc.err);
    if (rc) {
        fprintf(stderr, "%s: warning: skipping %s: %s\n", tk_prog(), id, ix->enc.err);
        ix->skipped++;
    }
    show_progress(&ix->pr, ++ix->done, ix->total);
    return tk_interrupted() ? TK_EXIT_INTERRUPTED : 0;
}

static int index_shards(indexer *ix, const char *dir)
{
    char **paths = NULL;
    int n = tk_list_shards(dir, &paths), ret = 0;
    if (n < 0) return TK_EXIT_RUN;
    for (int s = 0; s < n; s++) { /* count the records for the ETA */
        simvtp_shard *sh = NULL;
        int rc = simvtp_shard_open(paths[s], &sh);
        if (rc) {
            ret = tk_lib_fail("opening a shard", rc);
            break;
        }
        ix->total += simvtp_shard_num_records(sh);
        simvtp_shard_close(sh);
    }
    for (int s = 0; !ret && s < n; s++) {
        simvtp_shard *sh = NULL;
        int rc = simvtp_shard_open(paths[s], &sh);
        if (rc) ret = tk_lib_fail("opening a shard", rc);
        for (int r = 0; !ret && r < simvtp_shard_num_records(sh); r++) {
            simvtp_record rec = {sizeof rec};
            char where[64];
            snprintf(where, sizeof where, "record %d of shard %d", r, s);
            rc = simvtp_shard_read(sh, r, &rec);
            if (!rc) {
                source src = {rec.frames * rec.frame_step, fetch_record, &rec, NULL};
                rc = encode_source(&ix->enc, &src, ix->emb);
            }
            if (rc) snprintf(ix->enc.err, sizeof ix->enc.err, "%s: %s", simvtp_strerror(rc), simvtp_last_error());
            ret = index_add(ix, rc ? where : rec.video_id, rc);
        }
        simvtp_shard_close(sh);
    }
    tk_free_list(paths, n);
    return ret;
}

static int index_list(indexer *ix, const char *list, const char *videos)
{
    simvtp_dataset *d = NULL;
    if (!tk_file_exists(list)) return tk_fail("no list file '%s'", list);
    int rc = simvtp_dataset_open_list(list, videos, &d), ret = 0;
    if (rc) return tk_lib_fail("reading the list", rc);
    ix->total = simvtp_dataset_size(d);
    for (int i = 0; !ret && i < ix->total; i++) {
        rc = encode_video_file(&ix->enc, simvtp_dataset_video_path(d, i), ix->emb);
        ret = index_add(ix, simvtp_dataset_video_id(d, i), rc);
    }
    simvtp_dataset_free(d);
    return ret;
}

static int cmd_index(const opts *o)
{
    indexer ix;
    memset(&ix, 0, sizeof ix);
    simvtp_model *m = NULL;
    int ret = load_model(o->model, o->backend, &m);
    if (ret) return ret;
    ix.pr = (progress){"index", "videos", tk_now(), 0, o->quiet};
    ret = encoder_init(&ix.enc, m, (int)o->clips, (int)o->crops);
    if (!ret && !(ix.emb = malloc((size_t)ix.enc.D * sizeof *ix.emb))) ret = tk_fail("out of memory");
    int rc = ret ? 0 : simvtp_index_create(ix.enc.D, &ix.x);
    if (rc) ret = tk_lib_fail("creating the index", rc);
    tk_install_interrupt();
    if (!ret) ret = o->shards ? index_shards(&ix, o->shards) : index_list(&ix, o->list, o->videos);
    if (ret == TK_EXIT_INTERRUPTED) tk_fail("interrupted; nothing written");
    int64_t n = ix.x ? simvtp_index_size(ix.x) : 0;
    if (!ret && n == 0) ret = tk_fail("no video could be indexed");
    if (!ret && (rc = simvtp_index_save(ix.x, o->out))) ret = tk_lib_fail("writing the index", rc);
    if (!ret)
        printf("indexed %lld videos (%lld skipped), %d-d embeddings (%s) -> %s\n", (long long)n,
               (long long)ix.skipped, ix.enc.D, kind_note(m), o->out);
    simvtp_index_free(ix.x);
    free(ix.emb);
    encoder_free(&ix.enc);
    simvtp_model_free(m);
    return ret;
}

/* ------------------------------------------------------------------------ */
/* query: JSON lines in and out                                             */
/* ------------------------------------------------------------------------ */

/* Length of the valid UTF-8 sequence at p, or 0. */
static int utf8_len(const unsigned char *p)
{
    unsigned c = p[0];
    int n = c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
    unsigned lo = c == 0xE0 ? 0xA0 : c == 0xF0 ? 0x90 : 0x80, hi = c == 0xED ? 0x9F : c == 0xF4 ? 0x8F : 0xBF;
    if (n && (p[1] < lo || p[1] > hi)) return 0;
    for (int i = 2; i < n; i++)
        if ((p[i] & 0xC0) != 0x80) return 0;
    return n;
}

/* A JSON string; invalid UTF-8 bytes become U+FFFD. */
static void json_put_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        unsigned c = *p;
        int n = c < 0x80 ? 1 : utf8_len(p);
        if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
        else if (c == '\n') fputs("\\n", f);
        else if (c == '\t') fputs("\\t", f);
        else if (c == '\r') fputs("\\r", f);
        else if (c < 0x20) fprintf(f, "\\u%04x", c);
        else if (n) fwrite(p, 1, (size_t)n, f);
        else fputs("\\ufffd", f);
        p += n ? n : 1;
    }
    fputc('"', f);
}

static void ws(const char **p)
{
    while (**p == ' ' || **p == '\t' || **p == '\r' || **p == '\n') (*p)++;
}

static int hex4(const char *s, unsigned *out)
{
    *out = 0;
    for (int i = 0; i < 4; i++) {
        char c = s[i];
        int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
              : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (v < 0) return 0;
        *out = *out * 16 + (unsigned)v;
    }
    return 1;
}

/* The JSON string at *p into a malloc'd UTF-8 string; NULL or an error. */
static const char *json_get_string(const char **p, char **out)
{
    const char *s = *p;
    if (*s != '"') return "expected a string";
    char *o = malloc(strlen(s) + 1), *w = o; /* never longer than its escaped form */
    if (!o) return "out of memory";
    for (s++; *s != '"';) {
        const char *e = NULL;
        unsigned char c = (unsigned char)*s;
        if (!c) e = "unterminated string";
        else if (c < 0x20) e = "control character in a string";
        else if (c != '\\') *w++ = *s++;
        else {
            char x = s[1];
            const char *m = strchr("\"\\/bfnrt", x);
            s += 2;
            if (x && m) *w++ = "\"\\/\b\f\n\r\t"[m - "\"\\/bfnrt"];
            else if (x != 'u') e = "bad escape in a string";
            else {
                unsigned cp, lo;
                if (!hex4(s, &cp)) e = "bad \\u escape";
                else if (cp >= 0xDC00 && cp < 0xE000) e = "lone low surrogate";
                else if (cp >= 0xD800 && cp < 0xDC00) {
                    if (s[4] != '\\' || s[5] != 'u' || !hex4(s + 6, &lo) || lo < 0xDC00 || lo >= 0xE000)
                        e = "lone high surrogate";
                    else cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    s += 6;
                }
                if (!e && cp == 0) e = "\\u0000 in a string";
                s += 4;
                if (!e && cp < 0x80) *w++ = (char)cp;
                else if (!e && cp < 0x800) {
                    *w++ = (char)(0xC0 | cp >> 6);
                    *w++ = (char)(0x80 | (cp & 0x3F));
                } else if (!e && cp < 0x10000) {
                    *w++ = (char)(0xE0 | cp >> 12);
                    *w++ = (char)(0x80 | (cp >> 6 & 0x3F));
                    *w++ = (char)(0x80 | (cp & 0x3F));
                } else if (!e) {
                    *w++ = (char)(0xF0 | cp >> 18);
                    *w++ = (char)(0x80 | (cp >> 12 & 0x3F));
                    *w++ = (char)(0x80 | (cp >> 6 & 0x3F));
                    *w++ = (char)(0x80 | (cp & 0x3F));
                }
            }
        }
        if (e) {
            free(o);
            return e;
        }
    }
    *w = '\0';
    *p = s + 1;
    *out = o;
    return NULL;
}

/* End of the JSON number at p (-?int(.digits)?([eE][+-]?digits)?), or NULL. */
static const char *json_number_end(const char *p)
{
    if (*p == '-') p++;
    if (*p == '0') p++;
    else if (*p >= '1' && *p <= '9')
        while (*p >= '0' && *p <= '9') p++;
    else return NULL;
    if (*p == '.') {
        if (*++p < '0' || *p > '9') return NULL;
        while (*p >= '0' && *p <= '9') p++;
    }
    if (*p == 'e' || *p == 'E') {
        if (*++p == '+' || *p == '-') p++;
        if (*p < '0' || *p > '9') return NULL;
        while (*p >= '0' && *p <= '9') p++;
    }
    return p;
}

typedef struct request {
    char *text, *video;
    long k;
    int k_seen;
    char msg[160];
} request;

/* The value of `key` at *p into r; NULL or an error. */
static const char *parse_value(const char *key, const char **p, request *r)
{
    int is_text = !strcmp(key, "text");
    if (is_text || !strcmp(key, "video")) {
        char **dst = is_text ? &r->text : &r->video;
        if (*dst) return "a key appears twice";
        if (**p != '"') return is_text ? "\"text\" must be a string" : "\"video\" must be a string";
        return json_get_string(p, dst);
    }
    if (!strcmp(key, "k")) {
        const char *end = json_number_end(*p);
        double v = end ? strtod(*p, NULL) : 0;
        if (r->k_seen++) return "a key appears twice";
        if (!end || v != floor(v) || v < 1 || v > MAX_K) return "\"k\" must be an integer in [1, 10000]";
        r->k = (long)v;
        *p = end;
        return NULL;
    }
    snprintf(r->msg, sizeof r->msg, "unknown key \"%.60s\" (use \"text\" or \"video\", and \"k\")", key);
    return r->msg;
}

/* {"text": "...", "k": N} or {"video": "...", "k": N}; NULL or an error. */
static const char *parse_request(const char *line, request *r)
{
    const char *p = line, *e = NULL;
    ws(&p);
    if (*p != '{') return "a request is a JSON object";
    p++;
    ws(&p);
    while (*p != '}') { /* key : value, then ',' (another pair) or '}' */
        char *key = NULL;
        if ((e = json_get_string(&p, &key))) return e;
        ws(&p);
        if (*p != ':') e = "expected ':' after a key";
        else {
            p++;
            ws(&p);
            e = parse_value(key, &p, r);
        }
        free(key);
        if (e) return e;
        ws(&p);
        if (*p == '}') break;
        if (*p != ',') return "expected ',' or '}'";
        p++;
        ws(&p);
        if (*p != '"') return "expected a key after ','";
    }
    p++;
    ws(&p);
    if (*p) return "trailing characters after the object";
    if (!r->text == !r->video) return "give exactly one of \"text\" and \"video\"";
    return NULL;
}

typedef struct querier {
    const opts *o;
    simvtp_model *m;
    simvtp_tokenizer *tok;
    simvtp_index *x;
    encoder enc;
    float *q, *score;
    int64_t *idx;
    char msg[640];
} querier;

/* Top-k for a text or a video into qr->idx / qr->score; 0 or a status (qr->msg). */
static int run_query(querier *qr, const char *text, const char *video, int k)
{
    int rc;
    if (text && (rc = encode_text(qr->m, qr->tok, qr->o->max_text_len, text, qr->q))) {
        snprintf(qr->msg, sizeof qr->msg, "encoding the text failed: %s: %s", simvtp_strerror(rc),
                 simvtp_last_error());
        return rc;
    }
    if (!text && (rc = encode_video_file(&qr->enc, video, qr->q))) {
        snprintf(qr->msg, sizeof qr->msg, "encoding the video failed: %s", qr->enc.err);
        return rc;
    }
    if ((rc = simvtp_index_search(qr->x, qr->q, 1, k, qr->idx, qr->score)))
        snprintf(qr->msg, sizeof qr->msg, "searching failed: %s: %s", simvtp_strerror(rc), simvtp_last_error());
    return rc;
}

static void serve(querier *qr)
{
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, stdin) >= 0) {
        const char *p = line;
        ws(&p);
        if (!*p) continue; /* blank lines are not requests */
        request r;
        memset(&r, 0, sizeof r);
        r.k = qr->o->k;
        const char *e = parse_request(line, &r);
        if (!e && run_query(qr, r.text, r.video, (int)r.k)) e = qr->msg;
        if (e) {
            fputs("{\"error\": ", stdout);
            json_put_string(stdout, e);
            fputs("}\n", stdout);
        } else {
            fputs("{\"results\": [", stdout);
            for (int i = 0; i < r.k && qr->idx[i] >= 0; i++) {
                fputs(i ? ", {\"id\": " : "{\"id\": ", stdout);
                json_put_string(stdout, simvtp_index_id(qr->x, qr->idx[i]));
                printf(", \"score\": %.6f}", qr->score[i]);
            }
            fputs("]}\n", stdout);
        }
        fflush(stdout);
        free(r.text);
        free(r.video);
    }
    free(line);
}

static int cmd_query(const opts *o)
{
    querier qr;
    memset(&qr, 0, sizeof qr);
    qr.o = o;
    int ret = load_model(o->model, o->backend, &qr.m), rc;
    if (!ret && !tk_file_exists(o->index)) ret = tk_fail("no index file '%s'", o->index);
    if (!ret && (rc = simvtp_index_load(o->index, &qr.x))) ret = tk_lib_fail("loading the index", rc);
    if (!ret && simvtp_index_dim(qr.x) != simvtp_model_embed_dim(qr.m))
        ret = tk_fail("the index %s holds %d-d embeddings but the model %s makes %d-d ones (build the "
                      "index with this model)", o->index, simvtp_index_dim(qr.x), o->model,
                      simvtp_model_embed_dim(qr.m));
    if (!ret && simvtp_index_size(qr.x) == 0) ret = tk_fail("the index %s is empty", o->index);
    if (!ret && o->vocab) ret = load_vocab(o->vocab, qr.m, &qr.tok);
    if (!ret) ret = encoder_init(&qr.enc, qr.m, (int)o->clips, (int)o->crops);
    if (!ret) {
        qr.q = malloc((size_t)simvtp_model_embed_dim(qr.m) * sizeof *qr.q);
        qr.score = malloc((size_t)MAX_K * sizeof *qr.score);
        qr.idx = malloc((size_t)MAX_K * sizeof *qr.idx);
        if (!qr.q || !qr.score || !qr.idx) ret = tk_fail("out of memory");
    }
    if (!ret && o->serve) serve(&qr);
    else if (!ret) {
        if (run_query(&qr, o->text, o->video, (int)o->k)) ret = tk_fail("%s", qr.msg);
        for (int i = 0; !ret && i < o->k && qr.idx[i] >= 0; i++)
            printf("%s\t%.6f\n", simvtp_index_id(qr.x, qr.idx[i]), qr.score[i]);
    }
    free(qr.q);
    free(qr.score);
    free(qr.idx);
    encoder_free(&qr.enc);
    simvtp_index_free(qr.x);
    simvtp_tokenizer_free(qr.tok);
    simvtp_model_free(qr.m);
    return ret;
}

int main(int argc, char **argv)
{
    tk_cli_init("simvtp-retrieve");
    simvtp_set_log_callback(tk_log_to_stderr, NULL, SIMVTP_LOG_WARN);
    if (argc < 2) {
        usage(stderr);
        return TK_EXIT_USAGE;
    }
    const char *sub = argv[1];
    if (!strcmp(sub, "--help") || !strcmp(sub, "-h")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(sub, "--version")) {
        printf("simvtp-retrieve (libsimvtp %s)\n", simvtp_version_string());
        return 0;
    }
    unsigned s = !strcmp(sub, "evaluate") ? EV : !strcmp(sub, "index") ? IX : !strcmp(sub, "query") ? QY : 0;
    if (!s) return tk_bad_flag("unknown subcommand '%s' (evaluate, index or query)", sub);
    opts o = {0};
    o.clips = 3;
    o.crops = 3;
    o.batch = 8;
    o.workers = 2;
    o.max_text_len = 32;
    o.k = 10;
    int ret = parse(argc, argv, s, sub, &o);
    if (ret) return ret;
    return s == EV ? cmd_evaluate(&o) : s == IX ? cmd_index(&o) : cmd_query(&o);
}

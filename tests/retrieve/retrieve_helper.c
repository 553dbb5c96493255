/* retrieve_helper.c — helpers for test_retrieve.sh (public API + the tools'
 * cli/eval helpers):
 *   make PRESET RETRIEVAL.svtp PRETRAIN.svtp   a small random pretraining model
 *                                              and its retrieval model
 *   index-info FILE.svtpi                      "SIZE DIM", then the ids
 *   check-avg MODEL SHARD_DIR VOCAB            tk_evaluate (1x1 and 3x3) equals
 *       metrics computed here from independently sampled, cropped and
 *       encoded clips (shard records read directly, no dataloader) */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <simvtp/simvtp.h>

#include "cli.h"
#include "eval.h"

#define BATCH 8        /* tk_evaluate's default clip batch: same grouping, same floats */
#define TEXT_CHUNK 64  /* as eval.c */
#define TEXT_LEN 32    /* tk_eval_default_params' max_text_len */

static int die(const char *what, int rc)
{
    fprintf(stderr, "retrieve_helper: %s: %s: %s\n", what, simvtp_strerror(rc), simvtp_last_error());
    return 1;
}

static int make(const char *preset, const char *ret_path, const char *pre_path)
{
    simvtp_config cfg;
    simvtp_model_params mp;
    simvtp_model *pre = NULL, *ret = NULL;
    int rc = simvtp_config_preset(preset, &cfg);
    if (rc) return die("preset", rc);
    cfg.vocab_size = 30522; /* the real BERT vocabulary is used */
    simvtp_model_default_params(&mp);
    mp.seed = 7;
    if ((rc = simvtp_model_create(&cfg, &mp, &pre))) return die("create", rc);
    if ((rc = simvtp_model_create_retrieval(pre, &mp, &ret))) return die("create_retrieval", rc);
    if ((rc = simvtp_model_save(ret, ret_path))) return die("save", rc);
    if ((rc = simvtp_model_save(pre, pre_path))) return die("save", rc);
    simvtp_model_free(pre);
    simvtp_model_free(ret);
    return 0;
}

static int index_info(const char *path)
{
    simvtp_index *x = NULL;
    int rc = simvtp_index_load(path, &x);
    if (rc) return die("index_load", rc);
    printf("%lld %d\n", (long long)simvtp_index_size(x), simvtp_index_dim(x));
    for (int64_t i = 0; i < simvtp_index_size(x); i++) printf("%s\n", simvtp_index_id(x, i));
    simvtp_index_free(x);
    return 0;
}

/* Metrics from clips made here: TEST sampling of K clips, C crops each. */
static int expected(simvtp_model *m, char **shards, int ns, const simvtp_tokenizer *tok, int K, int C,
                    tk_eval_result *r)
{
    simvtp_config cfg = {sizeof cfg};
    simvtp_model_config(m, &cfg);
    const int D = simvtp_model_embed_dim(m), T = cfg.frames, L = TEXT_LEN < cfg.max_text_len ? TEXT_LEN : cfg.max_text_len;
    const size_t clip = (size_t)T * cfg.height * cfg.width * 3;
    int nv = 0, nc = 0, nclips = 0;
    uint8_t *clips = NULL, *gather = NULL;
    float *vid = NULL, *txt = NULL, *emb = NULL;
    int32_t *ids = NULL, *lens = NULL, *tv = NULL, *first = NULL, idx[64];
    for (int s = 0; s < ns; s++) {
        simvtp_shard *sh;
        if (simvtp_shard_open(shards[s], &sh)) return die("shard_open", -1);
        for (int i = 0; i < simvtp_shard_num_records(sh); i++) {
            simvtp_record rec = {sizeof rec};
            if (simvtp_shard_read(sh, i, &rec)) return die("shard_read", -1);
            nv++;
            clips = realloc(clips, (size_t)nv * K * C * clip);
            first = realloc(first, (size_t)nv * sizeof *first);
            first[nv - 1] = nc;
            size_t fb = (size_t)rec.width * rec.height * 3;
            gather = realloc(gather, fb * T);
            for (int k = 0; k < K; k++) {
                if (simvtp_sample_frames(SIMVTP_SAMPLE_TEST, rec.frames * rec.frame_step, T, 4, 0, k, K, idx))
                    return die("sample", -1);
                for (int t = 0; t < T; t++) {
                    int f = idx[t] / rec.frame_step;
                    memcpy(gather + t * fb, rec.rgb + (size_t)(f < rec.frames ? f : rec.frames - 1) * fb, fb);
                }
                for (int c = 0; c < C; c++)
                    if (simvtp_crop_frames(gather, T, rec.width, rec.height, C == 1 ? SIMVTP_CROP_CENTER : SIMVTP_CROP_THREE,
                                           c, 0, cfg.width, cfg.height, clips + (size_t)nclips++ * clip))
                        return die("crop", -1);
            }
            for (int k = 0; k < rec.num_captions; k++) {
                nc++;
                ids = realloc(ids, (size_t)nc * L * sizeof *ids);
                lens = realloc(lens, (size_t)nc * sizeof *lens);
                tv = realloc(tv, (size_t)nc * sizeof *tv);
                int len;
                if (simvtp_tokenizer_encode(tok, rec.captions[k], ids + (size_t)(nc - 1) * L, L, &len))
                    return die("tokenize", -1);
                lens[nc - 1] = len;
                tv[nc - 1] = nv - 1;
            }
        }
        simvtp_shard_close(sh);
    }
    emb = malloc((size_t)nclips * D * sizeof *emb);
    vid = calloc((size_t)nv * D, sizeof *vid);
    txt = malloc((size_t)nc * D * sizeof *txt);
    for (int i = 0; i < nclips; i += BATCH)
        if (simvtp_encode_videos(m, clips + (size_t)i * clip, nclips - i < BATCH ? nclips - i : BATCH,
                                 emb + (size_t)i * D))
            return die("encode_videos", -1);
    for (int i = 0; i < nclips; i++)
        for (int d = 0; d < D; d++) vid[(size_t)(i / (K * C)) * D + d] += emb[(size_t)i * D + d];
    for (int v = 0; v < nv; v++) {
        double ss = 0;
        for (int d = 0; d < D; d++) ss += (double)vid[(size_t)v * D + d] * vid[(size_t)v * D + d];
        for (int d = 0; d < D; d++) vid[(size_t)v * D + d] *= (float)(1.0 / sqrt(ss));
    }
    for (int i = 0; i < nc; i += TEXT_CHUNK)
        if (simvtp_encode_texts(m, ids + (size_t)i * L, lens + i, nc - i < TEXT_CHUNK ? nc - i : TEXT_CHUNK, L,
                                txt + (size_t)i * D))
            return die("encode_texts", -1);
    float *sim = malloc((size_t)nc * nv * sizeof *sim);
    r->t2v.size = r->v2t.size = sizeof r->t2v;
    if (simvtp_similarity(txt, nc, vid, nv, D, sim) || simvtp_retrieval_metrics_compute(sim, nc, nv, tv, &r->t2v) ||
        simvtp_similarity(vid, nv, txt, nc, D, sim) || simvtp_retrieval_metrics_compute(sim, nv, nc, first, &r->v2t))
        return die("metrics", -1);
    r->videos = nv;
    r->captions = nc;
    free(sim);
    free(clips);
    free(gather);
    free(vid);
    free(txt);
    free(emb);
    free(ids);
    free(lens);
    free(tv);
    free(first);
    return 0;
}

static int same(const simvtp_retrieval_metrics *a, const simvtp_retrieval_metrics *b)
{
    return a->queries == b->queries && a->r1 == b->r1 && a->r5 == b->r5 && a->r10 == b->r10 &&
           a->median_rank == b->median_rank && a->mean_rank == b->mean_rank;
}

static int check_avg(const char *model, const char *dir, const char *vocab)
{
    simvtp_model *m = NULL;
    simvtp_tokenizer *tok = NULL;
    char **shards = NULL;
    int ns = tk_list_shards(dir, &shards), fails = 0, rc;
    if (ns < 0) return 1;
    if ((rc = simvtp_model_load(model, NULL, &m))) return die("model_load", rc);
    if ((rc = simvtp_tokenizer_load(vocab, NULL, &tok))) return die("tokenizer_load", rc);
    const int shapes[2][2] = {{1, 1}, {3, 3}};
    for (int s = 0; s < 2; s++) {
        tk_eval_params p;
        tk_eval_result got, want;
        char err[512];
        memset(&want, 0, sizeof want);
        tk_eval_default_params(&p);
        p.shards = (const char *const *)shards;
        p.num_shards = ns;
        p.tokenizer = tok;
        p.num_clips = shapes[s][0];
        p.num_crops = shapes[s][1];
        if ((rc = tk_evaluate(m, &p, &got, err, sizeof err))) {
            fprintf(stderr, "retrieve_helper: tk_evaluate: %s\n", err);
            return 1;
        }
        if (expected(m, shards, ns, tok, p.num_clips, p.num_crops, &want)) return 1;
        int ok = same(&got.t2v, &want.t2v) && same(&got.v2t, &want.v2t) && got.videos == want.videos &&
                 got.captions == want.captions && fabs(got.chance_r1 - 100.0 / want.videos) < 1e-9;
        printf("%dx%d: tk_evaluate t2v R@1 %.2f MnR %.3f v2t R@1 %.2f MnR %.3f | independent t2v R@1 %.2f "
               "MnR %.3f v2t R@1 %.2f MnR %.3f: %s\n", p.num_clips, p.num_crops, got.t2v.r1, got.t2v.mean_rank,
               got.v2t.r1, got.v2t.mean_rank, want.t2v.r1, want.t2v.mean_rank, want.v2t.r1, want.v2t.mean_rank,
               ok ? "same" : "DIFFERENT");
        fails += !ok;
    }
    tk_free_list(shards, ns);
    simvtp_tokenizer_free(tok);
    simvtp_model_free(m);
    return fails ? 1 : 0;
}

int main(int argc, char **argv)
{
    tk_cli_init("retrieve_helper");
    if (argc == 5 && !strcmp(argv[1], "make")) return make(argv[2], argv[3], argv[4]);
    if (argc == 3 && !strcmp(argv[1], "index-info")) return index_info(argv[2]);
    if (argc == 5 && !strcmp(argv[1], "check-avg")) return check_avg(argv[2], argv[3], argv[4]);
    fprintf(stderr, "usage: retrieve_helper make PRESET RET.svtp PRE.svtp | index-info FILE.svtpi |\n"
                    "       check-avg MODEL SHARD_DIR VOCAB\n");
    return 2;
}

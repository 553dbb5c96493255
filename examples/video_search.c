/* video_search.c — text-to-video search with libsimvtp (C99, public API
 * only): load a model and a BERT vocabulary, embed every video file given
 * (3 test clips x centre crop, averaged), put them in an embedding index and
 * print the 5 best matches of a text query.
 *
 *   video_search MODEL.svtp VOCAB.txt "a dog runs on the beach" a.mp4 b.mp4 ...
 *
 * MODEL is a retrieval (fine-tuned) or pretraining .svtp; "tiny-random" makes
 * an untrained tiny model instead (to try the program: its ranking is noise).
 * Build it against an installed libsimvtp with the Makefile beside it. */
#include <simvtp/simvtp.h>

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CLIPS 3      /* test clips per video, averaged */
#define STRIDE 4     /* sampling stride (SPEC: 4)      */
#define TEXT_LEN 32  /* caption token cap              */
#define TOP 5

static int fail(const char *what, int status)
{
    fprintf(stderr, "video_search: %s failed: %s: %s\n", what, simvtp_strerror(status),
            simvtp_last_error());
    return 1;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: video_search MODEL.svtp|tiny-random VOCAB.txt \"query text\" VIDEO...\n"
               "Embeds the videos (%d test clips, centre crop) and prints the %d best matches\n"
               "of the query, best first, as \"rank score path\".\n", CLIPS, TOP);
}

static int open_model(const char *path, simvtp_model **m)
{
    simvtp_config cfg;
    int rc;
    if (strcmp(path, "tiny-random") != 0) {
        rc = simvtp_model_load(path, NULL, m);
        return rc ? fail("loading the model", rc) : 0;
    }
    rc = simvtp_config_preset("tiny", &cfg);
    if (!rc) rc = simvtp_model_create(&cfg, NULL, m);
    return rc ? fail("creating a tiny model", rc) : 0;
}

/* One video -> one L2-normalized embedding: CLIPS clips of T frames (TEST
 * sampling), each resized and centre-cropped to the model's H x W. */
static int embed_video(simvtp_model *m, const simvtp_config *cfg, const char *path, float *out)
{
    const int T = cfg->frames, D = simvtp_model_embed_dim(m);
    const int side = cfg->height > cfg->width ? cfg->height : cfg->width;
    const size_t clip = (size_t)T * cfg->height * cfg->width * 3;
    simvtp_video *v = NULL;
    simvtp_video_info info;
    int32_t *idx = malloc((size_t)T * sizeof *idx);
    uint8_t *clips = malloc(CLIPS * clip), *frames = NULL;
    float *emb = malloc((size_t)CLIPS * D * sizeof *emb);
    int rc = idx && clips && emb ? simvtp_video_open(path, &v) : SIMVTP_ERR_NOMEM;
    int k, d, w = 0, h = 0;
    info.size = sizeof info;
    if (!rc) rc = simvtp_video_get_info(v, &info);
    for (k = 0; !rc && k < CLIPS; k++) {
        rc = simvtp_sample_frames(SIMVTP_SAMPLE_TEST, info.frames, T, STRIDE, 0, k, CLIPS, idx);
        if (!rc && !frames) { /* the decoded size, once */
            rc = simvtp_video_decode_scaled(v, idx, T, side, NULL, &w, &h);
            if (!rc && !(frames = malloc((size_t)T * w * h * 3))) rc = SIMVTP_ERR_NOMEM;
        }
        if (!rc) rc = simvtp_video_decode_scaled(v, idx, T, side, frames, &w, &h);
        if (!rc)
            rc = simvtp_crop_frames(frames, T, w, h, SIMVTP_CROP_CENTER, 0, 0, cfg->width, cfg->height,
                                    clips + (size_t)k * clip);
    }
    if (!rc) rc = simvtp_encode_videos(m, clips, CLIPS, emb);
    if (!rc) { /* mean of the clips, renormalized */
        double ss = 0;
        for (d = 0; d < D; d++) {
            out[d] = 0;
            for (k = 0; k < CLIPS; k++) out[d] += emb[(size_t)k * D + d];
            ss += (double)out[d] * out[d];
        }
        for (d = 0; d < D; d++) out[d] = (float)(out[d] / sqrt(ss > 0 ? ss : 1));
    }
    if (rc) fprintf(stderr, "video_search: %s: %s: %s\n", path, simvtp_strerror(rc), simvtp_last_error());
    simvtp_video_close(v);
    free(idx);
    free(clips);
    free(frames);
    free(emb);
    return rc;
}

int main(int argc, char **argv)
{
    simvtp_model *m = NULL;
    simvtp_tokenizer *tok = NULL;
    simvtp_index *index = NULL;
    simvtp_config cfg;
    float *emb = NULL, score[TOP];
    int64_t best[TOP];
    int32_t ids[TEXT_LEN], len32;
    int i, len, L, rc, ret = 1;

    if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        usage(stdout);
        return 0;
    }
    if (argc < 5) {
        usage(stderr);
        return 2;
    }
    if (open_model(argv[1], &m)) return 1;
    cfg.size = sizeof cfg;
    simvtp_model_config(m, &cfg);
    rc = simvtp_tokenizer_load(argv[2], NULL, &tok);
    if (rc) {
        fail("loading the vocabulary", rc);
        goto done;
    }
    rc = simvtp_index_create(simvtp_model_embed_dim(m), &index);
    emb = malloc((size_t)simvtp_model_embed_dim(m) * sizeof *emb);
    if (rc || !emb) {
        fail("creating the index", rc ? rc : SIMVTP_ERR_NOMEM);
        goto done;
    }

    /* the collection: one entry per readable video, its path as the id */
    for (i = 4; i < argc; i++) {
        const char *path = argv[i];
        if (embed_video(m, &cfg, path, emb)) continue; /* skipped, already reported */
        if ((rc = simvtp_index_add(index, &path, emb, 1))) {
            fail("adding to the index", rc);
            goto done;
        }
    }
    if (simvtp_index_size(index) == 0) {
        fprintf(stderr, "video_search: no video could be read\n");
        goto done;
    }

    /* the query: [CLS] wordpieces [SEP], padded to a fixed length */
    L = TEXT_LEN < cfg.max_text_len ? TEXT_LEN : cfg.max_text_len;
    rc = simvtp_tokenizer_encode(tok, argv[3], ids, L, &len);
    len32 = len;
    if (!rc) rc = simvtp_encode_texts(m, ids, &len32, 1, L, emb);
    if (!rc) rc = simvtp_index_search(index, emb, 1, TOP, best, score);
    if (rc) {
        fail("the query", rc);
        goto done;
    }
    printf("%lld videos, query \"%s\":\n", (long long)simvtp_index_size(index), argv[3]);
    for (i = 0; i < TOP && best[i] >= 0; i++)
        printf("%d %.4f %s\n", i + 1, score[i], simvtp_index_id(index, best[i]));
    ret = 0;

done:
    free(emb);
    simvtp_index_free(index);
    simvtp_tokenizer_free(tok);
    simvtp_model_free(m);
    return ret;
}

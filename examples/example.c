/* example.c — the smallest complete libsimvtp program (C99): make the "tiny"
 * SimVTP model, run two training steps on generated clips and captions,
 * print the losses, free everything. Build it against an installed
 * libsimvtp with the Makefile beside it (pkg-config simvtp). */
#include <simvtp/simvtp.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOKEN_CLS 101 /* BERT's [CLS] */
#define TOKEN_SEP 102 /* BERT's [SEP] */
#define FIRST_WORD 104 /* first id after the special tokens */

static int fail(const char *what, int status)
{
    fprintf(stderr, "example: %s failed: %s: %s\n", what, simvtp_strerror(status),
            simvtp_last_error());
    return 1;
}

int main(void)
{
    const int batch = 2, max_len = 8;
    simvtp_config cfg;
    simvtp_model_params mp;
    simvtp_optimizer_params op;
    simvtp_model *model = NULL;
    simvtp_optimizer *opt = NULL;
    uint8_t *frames = NULL;
    int32_t *tokens = NULL, *lengths = NULL;
    size_t clip_bytes, i;
    int rc, s, j, step, ret = 1;

    printf("libsimvtp %s\n", simvtp_version_string());
    rc = simvtp_config_preset("tiny", &cfg);
    if (rc != SIMVTP_OK)
        return fail("simvtp_config_preset", rc);

    simvtp_model_default_params(&mp);
    mp.seed = 42;
    rc = simvtp_model_create(&cfg, &mp, &model);
    if (rc != SIMVTP_OK)
        return fail("simvtp_model_create", rc);
    printf("tiny model: %lld parameters, %d video tokens per clip\n",
           (long long)simvtp_model_num_params(model), simvtp_config_num_video_tokens(&cfg));

    simvtp_optimizer_default_params(&op);
    op.lr = 1e-3f;
    rc = simvtp_optimizer_create(model, &op, &opt);
    if (rc != SIMVTP_OK) {
        fail("simvtp_optimizer_create", rc);
        goto done;
    }

    /* A batch in host memory: uint8 RGB frames [batch, T, H, W, 3] and
     * captions [CLS] w w ... [SEP] padded with 0 to max_len. */
    clip_bytes = (size_t)cfg.frames * cfg.height * cfg.width * 3;
    frames = malloc(clip_bytes * batch);
    tokens = calloc((size_t)batch * max_len, sizeof *tokens);
    lengths = calloc((size_t)batch, sizeof *lengths);
    if (!frames || !tokens || !lengths) {
        fprintf(stderr, "example: out of memory\n");
        goto done;
    }
    for (i = 0; i < clip_bytes * batch; i++)
        frames[i] = (uint8_t)((i * 7 + i / 3) & 0xff);
    for (s = 0; s < batch; s++) {
        int32_t *row = tokens + (size_t)s * max_len;
        lengths[s] = max_len - s;
        row[0] = TOKEN_CLS;
        for (j = 1; j < lengths[s] - 1; j++)
            row[j] = FIRST_WORD + (s * 31 + j * 17) % (cfg.vocab_size - FIRST_WORD);
        row[lengths[s] - 1] = TOKEN_SEP;
    }

    for (step = 1; step <= 2; step++) {
        simvtp_batch b;
        simvtp_losses l;
        memset(&b, 0, sizeof b);
        b.size = sizeof b;
        b.batch = batch;
        b.frames = frames;
        b.max_len = max_len;
        b.tokens = tokens;
        b.lengths = lengths;
        memset(&l, 0, sizeof l);
        l.size = sizeof l;
        rc = simvtp_train_step(opt, &b, &l, NULL);
        if (rc != SIMVTP_OK) {
            fail("simvtp_train_step", rc);
            goto done;
        }
        printf("step %d: loss %.4f (video %.4f, mlm %.4f, vtc %.4f, vtm %.4f)\n", step, l.total,
               l.video_mse, l.mlm, l.vtc, l.vtm);
    }
    ret = 0;

done:
    free(frames);
    free(tokens);
    free(lengths);
    simvtp_optimizer_free(opt);
    simvtp_model_free(model);
    return ret;
}

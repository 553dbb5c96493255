/* import_check.c — loads a converted .svtp with simvtp_model_load, runs one
 * pretraining forward on a fixed batch with a fixed seed and writes an
 * SVTPDBG1 dump (the format of tests/parity/parity_dump.c) for test_import.sh
 * to compare against the PyTorch reference fed with the ORIGINAL checkpoints:
 *   config_i, config_f, kind, param/<name> (read back with
 *   simvtp_model_tensor_get), step0/{frames, tokens, lengths, vis_idx,
 *   mask_idx, text_input, text_labels, text_dropmask, vtm_neg, losses},
 *   out/pred [B,Nm,K] (decoder output), out/mlm_argmax [B,L],
 *   out/enc_video [B,D] and out/enc_text [B,D] (simvtp_encode_videos/texts).
 * Usage: import_check MODEL.svtp OUT.dump */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "simvtp/simvtp.h"
#include "core/rng.h"
#include "model/model.h"

enum { DT_F32 = 0, DT_I32 = 1, DT_U8 = 2 };
enum { B = 3, L = 7 };
#define RUN_SEED 20240611u

static FILE *out;

static void rec(const char *name, int dtype, const void *data, int ndim, const int64_t *dims)
{
    int32_t nl = (int32_t)strlen(name), dt = dtype, nd = ndim;
    size_t n = 1, es = dtype == DT_U8 ? 1 : 4;
    for (int i = 0; i < ndim; i++) n *= (size_t)dims[i];
    fwrite(&nl, 4, 1, out);
    fwrite(name, 1, (size_t)nl, out);
    fwrite(&dt, 4, 1, out);
    fwrite(&nd, 4, 1, out);
    fwrite(dims, 8, (size_t)ndim, out);
    fwrite(data, es, n, out);
}

static void rec1(const char *name, int dtype, const void *data, int64_t n)
{
    rec(name, dtype, data, 1, &n);
}

static int die(const char *what)
{
    fprintf(stderr, "import_check: %s: %s\n", what, simvtp_last_error());
    return 1;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s MODEL.svtp OUT.dump\n", argv[0]);
        return 2;
    }
    simvtp_model *m = NULL;
    if (simvtp_model_load(argv[1], NULL, &m)) return die("simvtp_model_load");
    if (simvtp_model_get_kind(m) != SIMVTP_MODEL_PRETRAIN) {
        fprintf(stderr, "import_check: %s is not a pretraining model\n", argv[1]);
        return 1;
    }
    simvtp_config c;
    if (simvtp_model_config(m, &c)) return die("simvtp_model_config");
    if (c.max_text_len < L || c.vocab_size <= 104) {
        fprintf(stderr, "import_check: config too small for the test batch\n");
        return 1;
    }

    out = fopen(argv[2], "wb");
    if (!out) { perror(argv[2]); return 1; }
    fwrite("SVTPDBG1", 1, 8, out);
    int32_t version = 1;
    fwrite(&version, 4, 1, out);
    int32_t ci[17] = {c.frames, c.height, c.width, c.tubelet, c.patch, c.enc_width, c.enc_depth,
                      c.enc_heads, c.enc_mlp, c.dec_width, c.dec_depth, c.dec_heads, c.dec_mlp,
                      c.vocab_size, c.max_text_len, c.type_vocab, c.vtc_pool_exclude_pad};
    float cf[7] = {c.video_mask_ratio, c.text_mask_ratio, c.ln_eps, c.text_ln_eps,
                   c.text_dropout, c.vtc_temperature, c.drop_path};
    int32_t kind = 0;
    rec1("config_i", DT_I32, ci, 17);
    rec1("config_f", DT_F32, cf, 7);
    rec1("kind", DT_I32, &kind, 1);

    /* weights as the public API returns them; full shapes from the table */
    char name[256];
    const int nt = simvtp_model_num_tensors(m);
    for (int i = 0; i < nt; i++) {
        const sv_tensor *t = &m->tensors[i];
        if (strcmp(simvtp_model_tensor_name(m, i), t->name)) {
            fprintf(stderr, "import_check: tensor %d name mismatch\n", i);
            return 1;
        }
        float *buf = malloc(t->numel * sizeof(float));
        if (!buf) { fprintf(stderr, "import_check: out of memory\n"); return 1; }
        if (simvtp_model_tensor_get(m, i, buf)) return die("simvtp_model_tensor_get");
        snprintf(name, sizeof name, "param/%s", t->name);
        rec(name, DT_F32, buf, t->ndim, t->shape);
        free(buf);
    }

    /* a fixed batch: random pixels, [CLS] ids... [SEP] with lengths L, L-2, L-3 */
    const size_t fs = (size_t)c.frames * c.height * c.width * 3;
    uint8_t *frames = malloc(B * fs);
    int32_t tok[B * L], len[B];
    if (!frames) { fprintf(stderr, "import_check: out of memory\n"); return 1; }
    sv_rng r;
    sv_rng_seed(&r, 42);
    for (size_t i = 0; i < B * fs; i++) frames[i] = (uint8_t)sv_rng_below(&r, 256);
    for (int b = 0; b < B; b++) {
        len[b] = L - (b == 0 ? 0 : b + 1);
        for (int l = 0; l < L; l++) {
            int32_t id = 0;
            if (l == 0) id = 101;
            else if (l == len[b] - 1) id = 102;
            else if (l < len[b]) id = 104 + (int32_t)sv_rng_below(&r, (uint32_t)(c.vocab_size - 104));
            tok[b * L + l] = id;
        }
    }
    simvtp_batch batch = {sizeof batch, B, frames, L, tok, len};
    simvtp_losses lo = {sizeof lo};
    sv_pt_trace t;
    memset(&t, 0, sizeof t);
    if (sv_pretrain_run(m, &batch, RUN_SEED, 1, 0, 0.0f, &lo, &t)) return die("sv_pretrain_run");

    const int D = c.enc_width, K = simvtp_config_tubelet_dim(&c);
    int64_t dfr[5] = {B, c.frames, c.height, c.width, 3}, dt[2] = {B, L}, dm[3] = {B, L, D};
    int64_t dv[2] = {B, t.Nv}, dmk[2] = {B, t.Nm}, dp[3] = {B, t.Nm, K}, de[2] = {B, D};
    float lv[5] = {lo.total, lo.video_mse, lo.mlm, lo.vtc, lo.vtm};
    rec("step0/frames", DT_U8, frames, 5, dfr);
    rec("step0/tokens", DT_I32, tok, 2, dt);
    rec1("step0/lengths", DT_I32, len, B);
    rec("step0/vis_idx", DT_I32, t.vis_idx, 2, dv);
    rec("step0/mask_idx", DT_I32, t.mask_idx, 2, dmk);
    rec("step0/text_input", DT_I32, t.text_in, 2, dt);
    rec("step0/text_labels", DT_I32, t.labels, 2, dt);
    rec("step0/text_dropmask", DT_F32, t.dropmask, 3, dm);
    rec1("step0/vtm_neg", DT_I32, t.neg, B);
    rec1("step0/losses", DT_F32, lv, 5);
    rec("out/pred", DT_F32, t.pred, 3, dp);
    rec("out/mlm_argmax", DT_I32, t.mlm_argmax, 2, dt);

    float *evp = malloc((size_t)B * D * sizeof(float)), *etp = malloc((size_t)B * D * sizeof(float));
    if (!evp || !etp) { fprintf(stderr, "import_check: out of memory\n"); return 1; }
    if (simvtp_encode_videos(m, frames, B, evp)) return die("simvtp_encode_videos");
    if (simvtp_encode_texts(m, tok, len, B, L, etp)) return die("simvtp_encode_texts");
    rec("out/enc_video", DT_F32, evp, 2, de);
    rec("out/enc_text", DT_F32, etp, 2, de);
    free(evp);
    free(etp);

    if (fclose(out) != 0) { perror(argv[2]); return 1; }
    printf("import_check: losses total %.8g video_mse %.8g mlm %.8g vtc %.8g vtm %.8g\n",
           lo.total, lo.video_mse, lo.mlm, lo.vtc, lo.vtm);
    sv_trace_free(&t);
    free(frames);
    simvtp_model_free(m);
    return 0;
}

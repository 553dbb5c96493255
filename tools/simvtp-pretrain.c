/* simvtp-pretrain — SimVTP pretraining from the command line, public API only.
 *
 * Data: .svtps shards from simvtp-prep (+ a BERT vocab.txt), or --synthetic
 * in-memory clips of a coloured square moving over a noisy background with
 * template captions. The schedule follows SPEC.md (AdamW .9/.95, wd .05,
 * linear warmup over 40/200 of the run, cosine to lr x 4e-5/6e-4) with the
 * peak lr scaled by the global batch. With --out DIR: checkpoints (model.svtp
 * + state.svtpt, also on Ctrl-C), run.txt (the settings --resume holds the
 * flags to), metrics.jsonl, and at the end loss.png and reconstruction.png.
 * --dist mpi|nccl trains data-parallel (train_dist.h): --batch per rank, rank
 * 0 prints and writes. Progress on stderr; exit 0 done, 1 failed, 2 bad
 * command line, 130 Ctrl-C. */
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <simvtp/simvtp.h>

#include "cli.h"
#include "synthetic_clips.h"
#include "train_common.h"
#include "train_dist.h"
#include "train_run.h"
#ifdef HAVE_TOOLKIT
#include "png_write.h"
#include "recon_picture.h"
#endif

#define PROG "simvtp-pretrain"
#define TOKEN_MASK 103

typedef struct options {
    const char *preset, *config, *init, *shards, *vocab, *out, *backend, *dist;
    int synthetic, resume, quiet, global_vtc, allow_world_change, zero1, ckpt, ckpt_sel;
    long batch, accum, steps, wsteps, stride, workers, threads, save_every, log_every, stop_at;
    long world_size;
    double epochs, wepochs, lr, min_lr, clip;
    uint64_t seed;
} options;

#define O(f) offsetof(options, f)
static const tr_opt k_opts[] = {
    {"--preset", TR_STR, O(preset), 0, 0, TR_DEFAULT},
    {"--config", TR_PATH, O(config), 0, 0, TR_DEFAULT},
    {"--init", TR_PATH, O(init), 0, 0, TR_FIXED},
    {"--shards", TR_PATH, O(shards), 0, 0, TR_FIXED},
    {"--vocab", TR_PATH, O(vocab), 0, 0, TR_FIXED},
    {"--synthetic", TR_FLAG, O(synthetic), 0, 0, TR_FIXED},
    {"--stride", TR_LONG, O(stride), 1, 64, TR_FIXED},
    {"--batch", TR_LONG, O(batch), 2, 65536, TR_FIXED},
    {"--accum", TR_LONG, O(accum), 1, 65536, TR_FIXED},
    {"--steps", TR_LONG, O(steps), 1, 1e12, TR_FIXED},
    {"--epochs", TR_DOUBLE, O(epochs), 1e-9, 1e6, TR_FIXED},
    {"--warmup-steps", TR_LONG, O(wsteps), 0, 1e12, TR_FIXED},
    {"--warmup-epochs", TR_DOUBLE, O(wepochs), 0, 1e6, TR_FIXED},
    {"--lr", TR_DOUBLE, O(lr), 0, 1, TR_FIXED},
    {"--min-lr", TR_DOUBLE, O(min_lr), 0, 1, TR_FIXED},
    {"--clip", TR_DOUBLE, O(clip), 0, 1e9, TR_FIXED},
    {"--seed", TR_U64, O(seed), 0, 0, TR_FIXED},
    {"--threads", TR_LONG, O(threads), 0, 4096, TR_DEFAULT},
    {"--backend", TR_STR, O(backend), 0, 0, TR_NOT_STORED},
    {"--dist", TR_STR, O(dist), 0, 0, TR_DEFAULT},
    {"--global-vtc", TR_FLAG, O(global_vtc), 0, 0, TR_FIXED},
    {"--zero1", TR_FLAG, O(zero1), 0, 0, TR_DEFAULT},
    {"--checkpoint-activations", TR_FLAG, O(ckpt), 0, 0, TR_DEFAULT},
    {"--checkpoint-selective", TR_FLAG, O(ckpt_sel), 0, 0, TR_DEFAULT},
    {"--world-size", TR_LONG, O(world_size), 1, 1e9, TR_RECORD},
    {"--allow-world-change", TR_FLAG, O(allow_world_change), 0, 0, TR_NOT_STORED},
    {"--save-every", TR_LONG, O(save_every), 1, 1e12, TR_DEFAULT},
    {"--log-every", TR_LONG, O(log_every), 1, 1e12, TR_DEFAULT},
    {"--workers", TR_LONG, O(workers), 1, 256, TR_NOT_STORED},
    {"--out", TR_STR, O(out), 0, 0, TR_NOT_STORED},
    {"--resume", TR_FLAG, O(resume), 0, 0, TR_NOT_STORED},
    {"--stop-at", TR_LONG, O(stop_at), 1, 1e12, TR_NOT_STORED},
    {"--quiet", TR_FLAG, O(quiet), 0, 0, TR_NOT_STORED},
};
#define N_OPTS ((int)(sizeof k_opts / sizeof k_opts[0]))

static void usage(void)
{
    printf("usage: " PROG " (--shards DIR --vocab FILE | --synthetic) [options]\n"
           "\n"
           "Pretrains a SimVTP model: masked video reconstruction, masked language modelling,\n"
           "video-text contrastive and matching losses, one unified encoder.\n"
           "\n"
           "data:\n"
           "  --shards DIR        training shards from simvtp-prep (DIR/shard-NNNNN.svtps)\n"
           "  --vocab FILE        BERT uncased vocab.txt (needed with --shards; with --synthetic\n"
           "                      it only spells the words of the reconstruction picture)\n"
           "  --synthetic         in-memory clips of moving coloured squares with template\n"
           "                      captions: try the tool without data\n"
           "  --stride N          frame sampling stride in source frames [4]\n"
           "  --workers N         dataloader threads [2]\n"
           "model:\n"
           "  --preset NAME       tiny, small or vit-b [tiny]\n"
           "  --config FILE       'key = value' lines over simvtp_config fields (frames, height,\n"
           "                      width, enc_width, ..., see include/simvtp/config.h), applied on\n"
           "                      top of --preset; '#' comments; unknown keys are errors\n"
           "  --init FILE         start from these weights (e.g. a VideoMAE/BERT import made by\n"
           "                      simvtp-import-weights); their config must equal the model's\n"
           "schedule (SPEC.md; global batch = batch x accum x ranks):\n"
           "  --batch B           clips per micro-batch and rank, >= 2 [8]\n"
           "  --accum N           micro-batches per update [1]\n"
           "  --steps S           length in updates [20 with --synthetic]\n"
           "  --epochs E          length in passes over the shards [1 with --shards]\n"
           "  --lr X              peak learning rate [1.5e-4 x global batch / 256]\n"
           "  --min-lr X          cosine floor [lr x 4e-5 / 6e-4]\n"
           "  --warmup-steps N    linear warmup from 0, in updates [40/200 of the run]\n"
           "  --warmup-epochs E   the same in epochs\n"
           "  --clip X            global gradient-norm clip, 0 = off [0]\n"
           "                      (AdamW betas 0.9/0.95, eps 1e-8, weight decay 0.05)\n"
           "  --seed S            initialization, masks, dropout and data order [0]\n"
           "  --threads N         compute threads, 0 = OpenMP's default [0]; resume with the\n"
           "                      same count for bit-identical results\n"
           "  --backend NAME      cpu, auto, cuda:N (bf16 matrix inputs) or cuda:N:fp32 [cpu]\n"
           TR_CHECKPOINT_HELP
           TR_DIST_HELP
           "output:\n"
           "  --out DIR           run folder (nothing is saved without it): model.svtp and\n"
           "                      state.svtpt (the checkpoint), run.txt (settings),\n"
           "                      metrics.jsonl, loss.png, reconstruction.png\n"
           "  --save-every N      checkpoint every N updates [1000]; also at the end and on Ctrl-C\n"
           "  --log-every N       progress line and metrics.jsonl entry every N updates [10]\n"
           "  --resume            continue the run in --out from its checkpoint, bit-exactly;\n"
           "                      flags that contradict its run.txt are refused\n"
           "  --stop-at S         stop after update S with a checkpoint (the schedule still spans\n"
           "                      the whole run; continue with --resume)\n"
           "  --quiet             no progress lines\n"
           "  --help, --version\n"
           "\n"
           "Ctrl-C finishes the current update, saves a checkpoint and exits with status 130.\n"
           "\n"
           "examples:\n"
           "  " PROG " --preset tiny --synthetic --steps 20 --batch 4 --out run0\n"
           "  " PROG " --preset small --shards shards/train --vocab vocab.txt --epochs 10 \\\n"
           "      --batch 16 --accum 4 --out run1        (and later: ... --out run1 --resume)\n"
           "  mpirun -np 4 -x OMP_NUM_THREADS=4 " PROG " --dist mpi --shards shards/train \\\n"
           "      --vocab vocab.txt --batch 16 --out run2   (global batch 64)\n");
}

/* ------------------------------------------------------------------------ */
/* The run                                                                  */
/* ------------------------------------------------------------------------ */

typedef struct run {
    options o;
    simvtp_config cfg;
    simvtp_model *model;
    simvtp_optimizer *optim;
    simvtp_tokenizer *tok;
    simvtp_dataloader *loader;
    char **shards;
    int nshards;
    int64_t epoch_batches;   /* 0 for synthetic data */
    uint64_t position;       /* micro-batches consumed */
    long step, total, warmup;
    uint8_t *syn_frames;     /* synthetic batch */
    int32_t *syn_tokens, *syn_lengths;
    FILE *metrics;
    tr_history hist;
    tr_dist dist;
} run;

/* Clips per update over all ranks. */
static long global_batch(const run *r)
{
    return r->o.batch * r->o.accum * r->dist.world;
}

/* Micro-batch number r->position: from the loader, or generated (rank r of W
 * makes the clips that one process would make for micro-batch position*W+r). */
static int next_batch(run *r, simvtp_batch *b)
{
    if (r->loader) {
        int rc = simvtp_dataloader_next(r->loader, b, NULL);
        return rc ? tk_lib_fail("reading a batch", rc) : 0;
    }
    size_t clip = (size_t)r->cfg.frames * r->cfg.height * r->cfg.width * 3;
    for (long i = 0; i < r->o.batch; i++) {
        uint64_t micro = r->position * (uint64_t)r->dist.world + (uint64_t)r->dist.rank;
        syn_make_clip(&r->cfg, r->o.seed, micro * (uint64_t)r->o.batch + (uint64_t)i,
                  r->syn_frames + clip * (size_t)i, r->syn_tokens + (size_t)i * SYN_CAPTION_LEN);
        r->syn_lengths[i] = SYN_CAPTION_LEN;
    }
    b->batch = (int)r->o.batch;
    b->frames = r->syn_frames;
    b->max_len = SYN_CAPTION_LEN;
    b->tokens = r->syn_tokens;
    b->lengths = r->syn_lengths;
    return 0;
}

/* Model parameters from the flags: seed, threads, backend (an NCCL rank's GPU). */
static const simvtp_model_params *model_params(const run *r)
{
    return tr_model_params(r->o.seed, r->o.threads, tr_dist_backend(&r->dist, r->o.backend));
}

/* The model config: a resumed run's comes from its checkpoint (a --preset or
 * --config given now must agree with it), a new run's from the flags. */
static int setup_model(run *r, const unsigned char *cli_given)
{
    const options *o = &r->o;
    char path[PATH_MAX], why[160];
    simvtp_config want;
    int rc;
    if (o->resume) {
        if ((rc = tr_path(path, o->out, "model.svtp"))) return rc;
        if ((rc = simvtp_model_load(path, model_params(r), &r->model))) return tk_lib_fail("loading the checkpoint", rc);
        if (simvtp_model_get_kind(r->model) != SIMVTP_MODEL_PRETRAIN)
            return tk_fail("%s is not a pretraining checkpoint", path);
        simvtp_model_config(r->model, &r->cfg);
        int asked = tr_given(k_opts, N_OPTS, cli_given, "--preset") || tr_given(k_opts, N_OPTS, cli_given, "--config");
        if (asked && (rc = tr_config_load(o->preset, o->config, &want))) return rc;
        if (asked && tr_config_diff(&want, &r->cfg, "its checkpoint", why, sizeof why))
            return tk_fail("--preset/--config contradict the run in %s: %s", o->out, why);
        return 0;
    }
    if ((rc = tr_config_load(o->preset, o->config, &r->cfg))) return rc;
    if (o->synthetic && r->cfg.max_text_len < SYN_CAPTION_LEN)
        return tk_fail("the config allows %d text tokens; the synthetic captions need %d",
                       r->cfg.max_text_len, SYN_CAPTION_LEN);
    if (o->init) {
        if ((rc = simvtp_model_load(o->init, model_params(r), &r->model)))
            return tk_fail("cannot use --init %s: %s: %s", o->init, simvtp_strerror(rc), simvtp_last_error());
        simvtp_config have;
        simvtp_model_config(r->model, &have);
        if (simvtp_model_get_kind(r->model) != SIMVTP_MODEL_PRETRAIN)
            return tk_fail("--init %s holds a retrieval model; pretraining needs a pretraining one", o->init);
        if (tr_config_diff(&r->cfg, &have, "the file", why, sizeof why))
            return tk_fail("--init %s does not match the model config of --preset/--config: %s", o->init, why);
        return 0;
    }
    simvtp_model_params mp = *model_params(r);
    rc = simvtp_model_create(&r->cfg, &mp, &r->model);
    return rc ? tk_lib_fail("creating the model", rc) : 0;
}

static int setup_data(run *r)
{
    const options *o = &r->o;
    int rc;
    if (o->vocab && (rc = tr_vocab_load(o->vocab, &r->cfg, &r->tok))) return rc;
    if (o->synthetic) {
        size_t clip = (size_t)r->cfg.frames * r->cfg.height * r->cfg.width * 3;
        r->syn_frames = malloc(clip * (size_t)o->batch);
        r->syn_tokens = calloc((size_t)o->batch * SYN_CAPTION_LEN, sizeof *r->syn_tokens);
        r->syn_lengths = calloc((size_t)o->batch, sizeof *r->syn_lengths);
        return r->syn_frames && r->syn_tokens && r->syn_lengths ? 0 : tk_fail("out of memory for a batch");
    }
    if ((r->nshards = tk_list_shards(o->shards, &r->shards)) < 0) return TK_EXIT_RUN;
    const tr_loader_args la = {r->shards, r->nshards, r->tok, o->batch, o->stride, o->workers, o->seed,
                               SIMVTP_SAMPLE_PRETRAIN, SIMVTP_CROP_MULTISCALE};
    return tr_loader_create(&la, &r->cfg, &r->dist, &r->loader, &r->epoch_batches);
}

/* Schedule of a new run (SPEC.md, scaled by the global batch); stored in o. */
static int setup_schedule(run *r, const unsigned char *given)
{
    options *o = &r->o;
    tr_sched s = {tr_given(k_opts, N_OPTS, given, "--steps"), tr_given(k_opts, N_OPTS, given, "--epochs"),
                  tr_given(k_opts, N_OPTS, given, "--warmup-steps"),
                  tr_given(k_opts, N_OPTS, given, "--warmup-epochs"), o->steps, o->wsteps, o->epochs,
                  o->wepochs, r->epoch_batches, o->accum, 40.0 / 200.0, 20, 1.0};
    int rc = tr_sched_resolve(&s, &r->total, &r->warmup);
    if (rc) return rc;
    if (!s.have_epochs && r->epoch_batches > 0 && !s.have_steps) o->epochs = s.default_epochs;
    o->steps = r->total;
    o->wsteps = r->warmup;
    if (!tr_given(k_opts, N_OPTS, given, "--lr")) o->lr = 1.5e-4 * (double)global_batch(r) / 256.0;
    if (!tr_given(k_opts, N_OPTS, given, "--min-lr")) o->min_lr = o->lr * 4e-5 / 6e-4;
    if (o->stop_at > r->total) return tk_bad_flag("--stop-at %ld is past the end of the run (%ld updates)", o->stop_at, r->total);
    return 0;
}

static int setup_optimizer(run *r)
{
    const options *o = &r->o;
    const tr_optim_args a = {o->lr, o->min_lr, 0.95, o->clip, o->wsteps, o->steps, o->accum, o->seed};
    r->total = o->steps;
    return tr_optimizer_start(r->model, &a, &r->dist, o->resume ? o->out : NULL, r->loader, &r->optim,
                              &r->position, &r->step);
}

/* ------------------------------------------------------------------------ */
/* Logging                                                                  */
/* ------------------------------------------------------------------------ */

static const char *const k_series[5] = {"total", "video_mse", "mlm", "vtc", "vtm"};

/* Progress line and metrics entry for the mean losses m[5] of the updates since the last log. */
static void log_step(run *r, const double *m, float lr, float gnorm, double rate, double eta)
{
    double epoch = r->epoch_batches ? (double)r->position / (double)r->epoch_batches : 0.0;
    if (!r->o.quiet) {
        char ep[32] = "", e[32];
        tk_format_duration(eta, e, sizeof e);
        if (r->epoch_batches) snprintf(ep, sizeof ep, " epoch %.2f", epoch);
        fprintf(stderr, "step %ld/%ld%s  loss %.4f (video %.4f mlm %.4f vtc %.4f vtm %.4f)  lr %.3e"
                "  %.1f clips/s  ETA %s\n", r->step, r->total, ep, m[0], m[1], m[2], m[3], m[4],
                (double)lr, rate, e);
    }
    if (r->metrics) {
        fprintf(r->metrics, "{\"step\":%ld", r->step);
        if (r->epoch_batches) tr_json_put(r->metrics, "epoch", epoch);
        for (int i = 0; i < 5; i++) tr_json_put(r->metrics, k_series[i], m[i]);
        tr_json_put(r->metrics, "lr", lr);
        tr_json_put(r->metrics, "grad_norm", gnorm);
        tr_json_put(r->metrics, "clips_per_s", rate);
        fprintf(r->metrics, "}\n");
        fflush(r->metrics);
    }
    if (isfinite(m[0])) tr_history_add(&r->hist, (double)r->step, m);
}

/* ------------------------------------------------------------------------ */
/* Reconstruction picture                                                   */
/* ------------------------------------------------------------------------ */

#ifdef HAVE_TOOLKIT
/* One token's text (tokenizer, else the synthetic word table). */
static void token_text(const run *r, int32_t id, char *buf, size_t n)
{
    const char *w = id == TOKEN_MASK ? "[MASK]" : r->tok ? NULL : syn_word(id, r->cfg.vocab_size);
    if (!w && r->tok && simvtp_tokenizer_decode(r->tok, &id, 1, 0, buf, n) >= 0) return;
    if (w) snprintf(buf, n, "%s", w);
    else snprintf(buf, n, "[%d]", (int)id);
}

/* The words between [CLS] and [SEP], one per token, space-separated. */
static void caption_words(const run *r, const int32_t *ids, int len, char *buf, size_t n)
{
    size_t used = 0;
    buf[0] = 0;
    for (int i = 1; i < len - 1 && used + 1 < n; i++) {
        char w[128];
        token_text(r, ids[i], w, sizeof w);
        used += (size_t)snprintf(buf + used, n - used, "%s%s", i > 1 ? " " : "", w);
    }
}

static int write_reconstruction(run *r, const char *path)
{
    const simvtp_config *c = &r->cfg;
    simvtp_batch b = {sizeof b};
    r->position = 0; /* the first training batch */
    if (r->loader && simvtp_dataloader_seek(r->loader, 0)) return tk_lib_fail("seeking the dataloader", -1);
    if (next_batch(r, &b)) return TK_EXIT_RUN;
    const int T = c->frames, H = c->height, W = c->width, p = c->patch, tu = c->tubelet;
    const int N = simvtp_config_num_video_tokens(c), K = simvtp_config_tubelet_dim(c), L = b.max_len;
    const size_t clip = (size_t)T * H * W * 3;
    simvtp_reconstruction rec = {sizeof rec};
    rec.video_mask = malloc((size_t)b.batch * N);
    rec.pixels = malloc((size_t)b.batch * N * K * sizeof(float));
    rec.masked_tokens = malloc((size_t)b.batch * L * sizeof(int32_t));
    rec.predicted = malloc((size_t)b.batch * L * sizeof(int32_t));
    uint8_t *masked = malloc(clip), *recon = malloc(clip);
    char *cap = malloc(3 * 4096);
    int rc = TK_EXIT_RUN;
    if (!rec.video_mask || !rec.pixels || !rec.masked_tokens || !rec.predicted || !masked || !recon || !cap) {
        tk_fail("out of memory for the reconstruction picture");
        goto done;
    }
    int lib = simvtp_model_reconstruct(r->model, &b, r->o.seed, &rec);
    if (lib) {
        tk_lib_fail("simvtp_model_reconstruct", lib);
        goto done;
    }
    /* sample 0: darken its masked tubelets; paste the prediction into them */
    const int hp = H / p, wp = W / p;
    for (int n = 0; n < N; n++) {
        int t0 = n / (hp * wp) * tu, y0 = n / wp % hp * p, x0 = n % wp * p;
        for (int dt = 0; dt < tu; dt++)
            for (int dy = 0; dy < p; dy++)
                for (int dx = 0; dx < p; dx++)
                    for (int ch = 0; ch < 3; ch++) {
                        size_t at = (((size_t)(t0 + dt) * H + y0 + dy) * W + x0 + dx) * 3 + ch;
                        float v = rec.pixels[(size_t)n * K + ((dt * p + dy) * p + dx) * 3 + ch];
                        masked[at] = rec.video_mask[n] ? (uint8_t)(b.frames[at] / 4) : b.frames[at];
                        recon[at] = (uint8_t)(255.0f * (v < 0 ? 0 : v > 1 ? 1 : v) + 0.5f);
                    }
    }
    int len = b.lengths[0];
    if (r->tok) simvtp_tokenizer_decode(r->tok, b.tokens, len, 1, cap, 4096);
    else caption_words(r, b.tokens, len, cap, 4096);
    caption_words(r, rec.masked_tokens, len, cap + 4096, 4096);
    caption_words(r, rec.predicted, len, cap + 8192, 4096);
    tk_recon_input in = {T, H, W, b.frames, masked, recon, cap, cap + 4096, cap + 8192,
                         W < 128 ? (128 + W - 1) / W : 1, 0};
    tk_canvas *pic = tk_recon_picture(&in, NULL);
    char err[256];
    if (!pic) tk_fail("cannot draw the reconstruction picture");
    else if (tk_png_write(pic, path, err, sizeof err)) tk_fail("%s", err);
    else rc = 0;
    tk_canvas_free(pic);
done:
    free(rec.video_mask), free(rec.pixels), free(rec.masked_tokens), free(rec.predicted);
    free(masked), free(recon), free(cap);
    return rc;
}
#endif

/* loss.png and reconstruction.png of a finished run. */
static void write_pictures(run *r)
{
    char path[PATH_MAX], err[256];
    if (tr_path(path, r->o.out, "loss.png")) return;
    if (tr_plot_history(path, "simvtp-pretrain losses", &r->hist, err, sizeof err))
        fprintf(stderr, PROG ": no loss.png: %s\n", err);
#ifdef HAVE_TOOLKIT
    if (!tr_path(path, r->o.out, "reconstruction.png")) write_reconstruction(r, path);
#endif
}

/* ------------------------------------------------------------------------ */
/* Training                                                                 */
/* ------------------------------------------------------------------------ */

static int train(run *r)
{
    const options *o = &r->o;
    const int root = tr_dist_root(&r->dist);
    const long first = r->step;
    const double t0 = tk_now();
    double acc[5] = {0};
    long nacc = 0, bad_in_a_row = 0;
    float lr = 0, gnorm = 0;
    int rc;
    while (r->step < r->total) {
        double sum[5] = {0};
        int diverged = 0, intr;
        for (long a = 0; a < o->accum; a++) {
            simvtp_batch b = {sizeof b};
            simvtp_losses l = {sizeof l};
            simvtp_step_info info = {sizeof info};
            if (next_batch(r, &b)) return TK_EXIT_RUN;
            rc = simvtp_train_step(r->optim, &b, &l, &info);
            r->position++;
            if ((rc = tr_dist_step_outcome(&r->dist, r->optim, rc, &info, r->step + 1, &bad_in_a_row, &diverged)))
                return rc;
            double v[5] = {l.total, l.video_mse, l.mlm, l.vtc, l.vtm};
            for (int i = 0; i < 5; i++) sum[i] += v[i] / (double)o->accum;
            lr = info.lr;
            if (info.updated) gnorm = info.grad_norm;
        }
        r->step++;
        /* the losses' mean over the ranks; Ctrl-C and failures agreed */
        if ((rc = tr_dist_update(&r->dist, sum, 5, diverged, &intr))) return rc;
        for (int i = 0; i < 5; i++) acc[i] += sum[i];
        nacc++;
        const int stop = intr || r->step == o->stop_at, last = r->step == r->total;
        if (r->step % o->log_every == 0 || r->step == first + 1 || last || stop) {
            double el = tk_now() - t0, done = (double)(r->step - first);
            double rate = el > 0 ? done * (double)global_batch(r) / el : 0;
            for (int i = 0; i < 5; i++) acc[i] /= (double)nacc;
            log_step(r, acc, lr, gnorm, rate, el / done * (double)(r->total - r->step));
            memset(acc, 0, sizeof acc);
            nacc = 0;
        }
        if (o->out && (r->step % o->save_every == 0 || last || stop) &&
            (rc = tr_dist_agree(&r->dist, tr_dist_ckpt_save(&r->dist, o->out, r->model, r->optim, r->position))))
            return rc;
        int done = 0;
        if ((rc = tr_loop_stop(PROG, root, intr, r->step, r->total, o->stop_at, o->out, &done)) || done) return rc;
    }
    if (!root) return 0;
    char d[32];
    tk_format_duration(tk_now() - t0, d, sizeof d);
    printf(PROG ": %ld updates of %ld clips done (%ld in this run, %s)%s%s\n", r->total, global_batch(r),
           r->total - first, d, o->out ? "; checkpoint in " : "", o->out ? o->out : "");
    if (o->out) write_pictures(r);
    return 0;
}

static void free_run(run *r)
{
    if (r->metrics) fclose(r->metrics);
    tr_history_free(&r->hist);
    simvtp_dataloader_free(r->loader);
    simvtp_tokenizer_free(r->tok);
    if (r->shards) tk_free_list(r->shards, r->nshards);
    simvtp_optimizer_free(r->optim);
    simvtp_model_free(r->model);
    free(r->syn_frames), free(r->syn_tokens), free(r->syn_lengths);
}

/* Flags, then resume/new-run checks; 0 to run, -1 to exit 0, else an exit status. */
static int parse(run *r, int argc, char **argv, unsigned char *given, unsigned char *cli_given)
{
    options *o = &r->o, scratch;
    memset(o, 0, sizeof *o);
    o->preset = "tiny";
    o->batch = 8, o->accum = 1, o->stride = 4, o->workers = 2, o->save_every = 1000, o->log_every = 10;
    int rc = tr_parse_args(k_opts, N_OPTS, argc, argv, o, given);
    if (rc == TR_HELP) usage();
    if (rc == TR_VERSION) printf(PROG " (libsimvtp %s)\n", simvtp_version_string());
    if (rc) return rc < 0 ? -1 : rc;
    memcpy(cli_given, given, TR_MAX_OPTS);
    if (o->resume) {
        if (o->init && o->out) return tk_bad_flag("--init starts a new run; --resume continues one from its checkpoint");
        memset(&scratch, 0, sizeof scratch);
        return tr_resume_flags(k_opts, N_OPTS, o->out, o, given, &scratch);
    }
    if ((rc = tr_new_run_flags(k_opts, N_OPTS, given))) return rc;
    if (o->synthetic && (tr_given(k_opts, N_OPTS, given, "--epochs") || tr_given(k_opts, N_OPTS, given, "--warmup-epochs")))
        return tk_bad_flag("synthetic data has no epochs: give --steps and --warmup-steps");
    if (o->synthetic == (o->shards != NULL))
        return tk_bad_flag(o->synthetic ? "give --shards DIR or --synthetic, not both"
                                        : "no data: give --shards DIR (with --vocab FILE) or --synthetic");
    if (o->shards && !o->vocab) return tk_bad_flag("--shards needs --vocab FILE (a BERT vocab.txt)");
    return tr_fresh_out(o->out);
}

/* Everything before the first update. Rank-local but for tr_dist_recover
 * (every rank gets there, or none: the checks before it fail on all ranks);
 * rank 0 alone creates --out and writes run.txt and metrics.jsonl. */
static int setup(run *r, const unsigned char *given, const unsigned char *cli_given)
{
    options *o = &r->o;
    const int root = tr_dist_root(&r->dist);
    const long stored_world = o->world_size;
    int rc;
    if (o->resume && ((rc = tr_dist_check_world(&r->dist, stored_world, o->allow_world_change, o->out)) ||
                      (rc = tr_dist_recover(&r->dist, o->out))))
        return rc;
    if (root && o->out && !o->resume && (rc = tk_ensure_dir(o->out))) return rc;
    if ((rc = setup_model(r, cli_given)) || (rc = setup_data(r))) return rc;
    if ((rc = tr_set_checkpointing(r->model, o->ckpt, o->ckpt_sel))) return rc;
    if (!o->resume && (rc = setup_schedule(r, given))) return rc;
    if ((rc = setup_optimizer(r))) return rc;
    if (o->resume && r->step < r->total && o->stop_at && o->stop_at <= r->step)
        return tk_bad_flag("--stop-at %ld is not after the checkpoint's update %ld", o->stop_at, r->step);
    if (!root || !o->out) return 0;
    if (!o->dist) o->dist = "none"; /* as given: "auto" chooses again on --resume */
    o->world_size = r->dist.world;
    if ((!o->resume || (stored_world ? stored_world : 1) != r->dist.world) &&
        (rc = tr_run_write(o->out, k_opts, N_OPTS, o)))
        return rc;
    r->metrics = tr_metrics_open(o->out, o->resume ? r->step : -1, &r->hist, NULL, NULL);
    return r->metrics ? 0 : TK_EXIT_RUN;
}

static void print_start(const run *r)
{
    const options *o = &r->o;
    char batch[128];
    tr_dist_batch_text(&r->dist, o->batch, o->accum, batch, sizeof batch);
    printf(PROG ": %s%s model (%lld parameters; clips %dx%dx%d, %d video tokens, text <= %d), %s, "
           "%s update %ld of %ld (%s), lr %.3g -> %.3g, warmup %ld, seed %llu\n",
           o->config ? "custom " : "", o->config ? "config" : o->preset,
           (long long)simvtp_model_num_params(r->model), r->cfg.frames, r->cfg.height, r->cfg.width,
           simvtp_config_num_video_tokens(&r->cfg), r->cfg.max_text_len,
           o->synthetic ? "synthetic data" : o->shards, o->resume ? "resuming after" : "from",
           r->step, r->total, batch, o->lr, o->min_lr, o->wsteps, (unsigned long long)o->seed);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    run r;
    unsigned char given[TR_MAX_OPTS], cli_given[TR_MAX_OPTS];
    memset(&r, 0, sizeof r);
    tk_cli_init(PROG);
    int rc = parse(&r, argc, argv, given, cli_given);
    if (rc) return rc < 0 ? 0 : rc;
    const options *o = &r.o;
    simvtp_set_log_callback(tk_log_to_stderr, NULL, SIMVTP_LOG_WARN);
    tr_set_threads(o->threads);
    r.hist.nseries = 5;
    for (int i = 0; i < 5; i++) r.hist.names[i] = k_series[i];
    if (!(rc = tr_dist_start(&r.dist, o->dist, o->backend, o->global_vtc, o->zero1))) {
        if (!tr_dist_root(&r.dist)) r.o.quiet = 1;
        rc = tr_dist_agree(&r.dist, setup(&r, given, cli_given));
    }
    if (!rc && o->resume && r.step >= r.total) {
        if (tr_dist_root(&r.dist))
            printf(PROG ": the run in %s is complete (%ld/%ld updates); nothing to do\n", o->out, r.step, r.total);
    } else if (!rc) {
        if (tr_dist_root(&r.dist)) print_start(&r);
        tk_install_interrupt();
        rc = train(&r);
    }
    free_run(&r);
    return tr_dist_end(&r.dist, rc);
}

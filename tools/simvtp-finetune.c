/* simvtp-finetune — fine-tune a pretrained SimVTP model for text-video
 * retrieval (MSRVTT recipe of SPEC.md), public API only.
 *
 * --init takes a pretraining checkpoint (simvtp-pretrain's model.svtp); the
 * tool makes the two-tower retrieval model from it and trains the VTC loss
 * on training-split shards (fine-tuning sampling, random resized crop),
 * AdamW .9/.999, wd .05, warmup 5/100 of the run, cosine to 1e-6 x batch/256,
 * peak lr 3e-4 x batch/256. After every epoch (and at the end) it evaluates on
 * the test-split shards with tk_evaluate (num_clips x num_crops per video),
 * prints the table, logs it in metrics.jsonl and keeps the best model by
 * text->video R@1 in best.svtp (its numbers in eval.json). Checkpoints,
 * --resume and Ctrl-C as in simvtp-pretrain; so is --dist (train_dist.h):
 * the ranks evaluate together (each its share of the test clips), rank 0
 * prints and writes. Exit 0 done, 1 failed, 2
 * bad command line, 130 interrupted. */
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <simvtp/simvtp.h>

#include "cli.h"
#include "eval.h"
#include "train_common.h"
#include "train_dist.h"
#include "train_run.h"

#define PROG "simvtp-finetune"

typedef struct options {
    const char *init, *train_shards, *test_shards, *vocab, *out, *backend, *dist;
    int resume, quiet, global_vtc, allow_world_change, zero1, ckpt, ckpt_sel;
    long batch, accum, steps, wsteps, stride, workers, threads, save_every, log_every, stop_at;
    long num_clips, num_crops, eval_batch, world_size;
    double epochs, wepochs, lr, min_lr, clip, drop_path;
    uint64_t seed;
} options;

#define O(f) offsetof(options, f)
static const tr_opt k_opts[] = {
    {"--init", TR_PATH, O(init), 0, 0, TR_FIXED},
    {"--train-shards", TR_PATH, O(train_shards), 0, 0, TR_FIXED},
    {"--test-shards", TR_PATH, O(test_shards), 0, 0, TR_DEFAULT},
    {"--vocab", TR_PATH, O(vocab), 0, 0, TR_FIXED},
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
    {"--drop-path", TR_DOUBLE, O(drop_path), 0, 0.99, TR_FIXED},
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
    {"--num-clips", TR_LONG, O(num_clips), 1, 64, TR_DEFAULT},
    {"--num-crops", TR_LONG, O(num_crops), 1, 3, TR_DEFAULT},
    {"--eval-batch", TR_LONG, O(eval_batch), 1, 4096, TR_DEFAULT},
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
    printf("usage: " PROG " --init PRETRAINED.svtp --train-shards DIR --test-shards DIR --vocab FILE\n"
           "       [options]\n"
           "\n"
           "Fine-tunes a pretrained SimVTP model for text-video retrieval (two towers, VTC loss)\n"
           "and evaluates it on the test split after every epoch.\n"
           "\n"
           "model and data:\n"
           "  --init FILE         a PRETRAINING checkpoint (simvtp-pretrain's DIR/model.svtp)\n"
           "  --train-shards DIR  training-split shards (simvtp-prep --msrvtt ... --split train)\n"
           "  --test-shards DIR   test-split shards (simvtp-prep --msrvtt ... --split test)\n"
           "  --vocab FILE        BERT uncased vocab.txt\n"
           "  --stride N          frame sampling stride in source frames [4]\n"
           "  --workers N         dataloader threads [2]\n"
           "  --drop-path X       stochastic depth at the last block [the checkpoint config's, 0.1]\n"
           "schedule (SPEC.md; global batch = batch x accum x ranks):\n"
           "  --batch B           clips per micro-batch and rank, >= 2 [8]\n"
           "  --accum N           micro-batches per update [1]\n"
           "  --epochs E          length in passes over the training shards [1]\n"
           "  --steps S           length in updates instead\n"
           "  --lr X              peak learning rate [3e-4 x global batch / 256]\n"
           "  --min-lr X          cosine floor [1e-6 x global batch / 256]\n"
           "  --warmup-steps N    linear warmup from 0, in updates [5/100 of the run]\n"
           "  --warmup-epochs E   the same in epochs\n"
           "  --clip X            global gradient-norm clip, 0 = off [0]\n"
           "                      (AdamW betas 0.9/0.999, eps 1e-8, weight decay 0.05)\n"
           "  --seed S            fc_norm initialization, dropout, drop path, data order [0]\n"
           "  --threads N         compute threads, 0 = OpenMP's default [0]\n"
           "  --backend NAME      cpu, auto, cuda:N (bf16 matrix inputs) or cuda:N:fp32 [cpu]\n"
           TR_CHECKPOINT_HELP
           TR_DIST_HELP
           "evaluation (after every epoch and at the end; shared by the ranks):\n"
           "  --num-clips N       temporal clips per test video [3]\n"
           "  --num-crops N       spatial crops per clip: 3, or 1 (centre) [3]\n"
           "  --eval-batch N      clips encoded per call [8]\n"
           "output:\n"
           "  --out DIR           run folder: model.svtp + state.svtpt (checkpoint), run.txt,\n"
           "                      metrics.jsonl (losses and evaluations), best.svtp and eval.json\n"
           "                      (best text->video R@1), loss.png\n"
           "  --save-every N      checkpoint every N updates [1000]; also after every epoch, at\n"
           "                      the end and on Ctrl-C\n"
           "  --log-every N       progress line and metrics.jsonl entry every N updates [10]\n"
           "  --resume            continue the run in --out from its checkpoint, bit-exactly\n"
           "  --stop-at S         stop after update S with a checkpoint (continue with --resume)\n"
           "  --quiet             no progress lines\n"
           "  --help, --version\n"
           "\n"
           "examples:\n"
           "  " PROG " --init run1/model.svtp --train-shards msrvtt/train \\\n"
           "      --test-shards msrvtt/test --vocab vocab.txt --batch 64 --epochs 100 --out ft1\n"
           "  SIMVTP_NCCL_ID_FILE=/tmp/nccl.$$ torchrun --standalone --nproc_per_node=8 \\\n"
           "      --no-python " PROG " --dist nccl --init run1/model.svtp ... --batch 8 --out ft2\n"
           "      (8 GPUs, global batch 64)\n");
}

typedef struct run {
    options o;
    simvtp_config cfg;
    simvtp_model *model;
    simvtp_optimizer *optim;
    simvtp_tokenizer *tok;
    simvtp_dataloader *loader;
    char **train, **test;
    int ntrain, ntest;
    int64_t epoch_batches;
    uint64_t position;
    long step, total, warmup;
    FILE *metrics;
    tr_history hist;
    double best_r1;       /* best text->video R@1 so far, -1 before any */
    long evaluated_step;  /* update of the last evaluation, -1 before any */
    double eval_last_print;
    tr_dist dist;
} run;

/* Clips per update over all ranks. */
static long global_batch(const run *r)
{
    return r->o.batch * r->o.accum * r->dist.world;
}

/* ------------------------------------------------------------------------ */
/* Setup                                                                    */
/* ------------------------------------------------------------------------ */

/* Copy every tensor of src into dst by name (same shapes). */
static int copy_weights(const simvtp_model *src, simvtp_model *dst)
{
    int ns = simvtp_model_num_tensors(src), nd = simvtp_model_num_tensors(dst);
    for (int i = 0; i < nd; i++) {
        const char *name = simvtp_model_tensor_name(dst, i);
        int j = 0;
        while (j < ns && strcmp(name, simvtp_model_tensor_name(src, j))) j++;
        if (j == ns || simvtp_model_tensor_numel(src, j) != simvtp_model_tensor_numel(dst, i))
            return tk_fail("cannot copy the tensor %s", name);
        float *buf = malloc((size_t)simvtp_model_tensor_numel(dst, i) * sizeof *buf);
        if (!buf) return tk_fail("out of memory copying %s", name);
        simvtp_model_tensor_get(src, j, buf);
        simvtp_model_tensor_set(dst, i, buf);
        free(buf);
    }
    return 0;
}

/* Model parameters from the flags: seed, threads, backend (an NCCL rank's GPU). */
static const simvtp_model_params *model_params(const run *r)
{
    return tr_model_params(r->o.seed, r->o.threads, tr_dist_backend(&r->dist, r->o.backend));
}

static int setup_model(run *r, const unsigned char *given)
{
    const options *o = &r->o;
    simvtp_model *pre = NULL;
    char path[PATH_MAX];
    int rc;
    if (o->resume) {
        if ((rc = tr_path(path, o->out, "model.svtp"))) return rc;
        if ((rc = simvtp_model_load(path, model_params(r), &r->model))) return tk_lib_fail("loading the checkpoint", rc);
        if (simvtp_model_get_kind(r->model) != SIMVTP_MODEL_RETRIEVAL)
            return tk_fail("%s is not a fine-tuning (retrieval) checkpoint", path);
        simvtp_model_config(r->model, &r->cfg);
        return 0;
    }
    if ((rc = simvtp_model_load(o->init, model_params(r), &pre)))
        return tk_fail("cannot use --init %s: %s: %s", o->init, simvtp_strerror(rc), simvtp_last_error());
    if (simvtp_model_get_kind(pre) != SIMVTP_MODEL_PRETRAIN) {
        simvtp_model_free(pre);
        return tk_fail("--init %s is a retrieval (fine-tuned) checkpoint; --init needs a pretraining "
                       "checkpoint such as simvtp-pretrain's DIR/model.svtp", o->init);
    }
    simvtp_model_config(pre, &r->cfg);
    simvtp_model_params mp = *model_params(r);
    if (tr_given(k_opts, N_OPTS, given, "--drop-path") && (float)o->drop_path != r->cfg.drop_path) {
        /* the config is stored with the weights: a new one, then the weights by name */
        simvtp_model *copy = NULL;
        r->cfg.drop_path = (float)o->drop_path;
        rc = simvtp_model_create(&r->cfg, &mp, &copy);
        if (rc) tk_lib_fail("creating the model with the new --drop-path", rc);
        else rc = copy_weights(pre, copy);
        simvtp_model_free(pre);
        pre = copy;
        if (rc) {
            simvtp_model_free(pre);
            return TK_EXIT_RUN;
        }
    }
    rc = simvtp_model_create_retrieval(pre, &mp, &r->model);
    simvtp_model_free(pre);
    return rc ? tk_lib_fail("creating the retrieval model", rc) : 0;
}

static int setup_data(run *r)
{
    const options *o = &r->o;
    int rc;
    if ((rc = tr_vocab_load(o->vocab, &r->cfg, &r->tok))) return rc;
    if ((r->ntrain = tk_list_shards(o->train_shards, &r->train)) < 0) return TK_EXIT_RUN;
    if ((r->ntest = tk_list_shards(o->test_shards, &r->test)) < 0) return TK_EXIT_RUN;
    const tr_loader_args la = {r->train, r->ntrain, r->tok, o->batch, o->stride, o->workers, o->seed,
                               SIMVTP_SAMPLE_FINETUNE, SIMVTP_CROP_RANDOM_RESIZED};
    return tr_loader_create(&la, &r->cfg, &r->dist, &r->loader, &r->epoch_batches);
}

static int setup_schedule(run *r, const unsigned char *given)
{
    options *o = &r->o;
    tr_sched s = {tr_given(k_opts, N_OPTS, given, "--steps"), tr_given(k_opts, N_OPTS, given, "--epochs"),
                  tr_given(k_opts, N_OPTS, given, "--warmup-steps"),
                  tr_given(k_opts, N_OPTS, given, "--warmup-epochs"), o->steps, o->wsteps, o->epochs,
                  o->wepochs, r->epoch_batches, o->accum, 5.0 / 100.0, 0, 1.0};
    int rc = tr_sched_resolve(&s, &r->total, &r->warmup);
    if (rc) return rc;
    if (!s.have_epochs && !s.have_steps) o->epochs = s.default_epochs;
    o->steps = r->total;
    o->wsteps = r->warmup;
    const double scale = (double)global_batch(r) / 256.0;
    if (!tr_given(k_opts, N_OPTS, given, "--lr")) o->lr = 3e-4 * scale;
    if (!tr_given(k_opts, N_OPTS, given, "--min-lr")) o->min_lr = 1e-6 * scale;
    o->drop_path = r->cfg.drop_path;
    if (o->stop_at > r->total) return tk_bad_flag("--stop-at %ld is past the end of the run (%ld updates)", o->stop_at, r->total);
    return 0;
}

static int setup_optimizer(run *r)
{
    const options *o = &r->o;
    const tr_optim_args a = {o->lr, o->min_lr, 0.999, o->clip, o->wsteps, o->steps, o->accum, o->seed};
    r->total = o->steps;
    return tr_optimizer_start(r->model, &a, &r->dist, o->resume ? o->out : NULL, r->loader, &r->optim,
                              &r->position, &r->step);
}

/* ------------------------------------------------------------------------ */
/* Evaluation                                                               */
/* ------------------------------------------------------------------------ */

/* An evaluation follows the update that completes an epoch, and the last. */
static int is_eval_point(const run *r, long step)
{
    uint64_t after = (uint64_t)step * (uint64_t)r->o.accum, before = after - (uint64_t)r->o.accum;
    return step == r->total || after / (uint64_t)r->epoch_batches > before / (uint64_t)r->epoch_batches;
}

static int eval_progress(void *user, int64_t done, int64_t total, double elapsed)
{
    run *r = user;
    if (tk_interrupted()) return 1;
    if (!r->o.quiet && (elapsed - r->eval_last_print >= 5.0 || done == total)) {
        char line[160];
        r->eval_last_print = elapsed;
        tk_format_progress(done, total, elapsed, "clips", line, sizeof line);
        fprintf(stderr, PROG ": evaluating: %s\n", line);
    }
    return 0;
}

static void json_metrics(FILE *f, const char *dir, const simvtp_retrieval_metrics *m)
{
    fprintf(f, ",\"%s_r1\":%.4f,\"%s_r5\":%.4f,\"%s_r10\":%.4f,\"%s_mdr\":%.4f,\"%s_mnr\":%.4f", dir,
            m->r1, dir, m->r5, dir, m->r10, dir, m->median_rank, dir, m->mean_rank);
}

/* Evaluate on the test shards; table to stdout, a metrics entry, best.svtp. */
static int evaluate(run *r)
{
    const options *o = &r->o;
    tk_eval_params p;
    tk_eval_result res;
    char err[512], path[PATH_MAX], tmp[PATH_MAX + 8];
    tk_eval_default_params(&p);
    p.shards = (const char *const *)r->test;
    p.num_shards = r->ntest;
    p.tokenizer = r->tok;
    p.num_clips = (int)o->num_clips;
    p.num_crops = (int)o->num_crops;
    p.batch = (int)o->eval_batch;
    p.threads = (int)o->workers;
    /* captions padded to 32 tokens (capped at the model's), as simvtp-retrieve does by
     * default, so that the two tools print the same table */
    p.progress = eval_progress;
    p.progress_user = r;
    p.comm = r->dist.comm; /* the ranks share the work; all get the result */
    r->eval_last_print = 0;
    int rc = tk_evaluate(r->model, &p, &res, err, sizeof err);
    if (rc == SIMVTP_ERR_ABORTED && tk_interrupted()) return TK_EXIT_INTERRUPTED;
    if (rc) return tk_fail("evaluation after update %ld failed: %s", r->step, err);
    const double epoch = (double)r->position / (double)r->epoch_batches;
    const int best = res.t2v.r1 > r->best_r1;
    if (!tr_dist_root(&r->dist)) { /* rank 0 prints and writes */
        r->evaluated_step = r->step;
        if (best) r->best_r1 = res.t2v.r1;
        return 0;
    }
    printf("evaluation after update %ld/%ld (epoch %.2f), %ld clip%s x %ld crop%s:\n", r->step, r->total,
           epoch, o->num_clips, o->num_clips > 1 ? "s" : "", o->num_crops, o->num_crops > 1 ? "s" : "");
    tk_eval_print_table(&res, stdout);
    if (best) printf("best text->video R@1 so far%s\n", o->out ? ": saved as best.svtp" : "");
    fflush(stdout);
    r->evaluated_step = r->step;
    if (best) r->best_r1 = res.t2v.r1;
    if (!o->out) return 0;
    fprintf(r->metrics, "{\"step\":%ld,\"epoch\":%.6g,\"eval\":1,\"videos\":%d,\"captions\":%d", r->step,
            epoch, res.videos, res.captions);
    json_metrics(r->metrics, "t2v", &res.t2v);
    json_metrics(r->metrics, "v2t", &res.v2t);
    fprintf(r->metrics, ",\"best\":%d,\"seconds\":%.3f}\n", best, res.seconds);
    fflush(r->metrics);
    if (!best) return 0;
    if ((rc = tr_path(path, o->out, "best.svtp"))) return rc;
    if ((rc = simvtp_model_save(r->model, path))) return tk_lib_fail("saving best.svtp", rc);
    if ((rc = tr_path(path, o->out, "eval.json"))) return rc;
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    if (tk_eval_write_json(&res, tmp, err, sizeof err)) return tk_fail("%s", err);
    if (rename(tmp, path)) return tk_fail("cannot write %s", path);
    return 0;
}

/* Resume bookkeeping from the kept metrics lines: best R@1, last evaluation. */
static void on_metrics_line(void *user, const char *line)
{
    run *r = user;
    double r1, step;
    if (!tr_json_num(line, "eval", &r1) || !tr_json_num(line, "t2v_r1", &r1) ||
        !tr_json_num(line, "step", &step))
        return;
    if (r1 > r->best_r1) r->best_r1 = r1;
    if ((long)step > r->evaluated_step) r->evaluated_step = (long)step;
}

/* ------------------------------------------------------------------------ */
/* Training                                                                 */
/* ------------------------------------------------------------------------ */

static void log_step(run *r, double loss, float lr, float gnorm, double rate, double eta)
{
    double epoch = (double)r->position / (double)r->epoch_batches;
    if (!r->o.quiet) {
        char e[32];
        tk_format_duration(eta, e, sizeof e);
        fprintf(stderr, "step %ld/%ld epoch %.2f  vtc %.4f  lr %.3e  %.1f clips/s  ETA %s\n", r->step,
                r->total, epoch, loss, (double)lr, rate, e);
    }
    if (r->metrics) {
        fprintf(r->metrics, "{\"step\":%ld,\"epoch\":%.6g", r->step, epoch);
        tr_json_put(r->metrics, "vtc", loss);
        fprintf(r->metrics, ",\"lr\":%.6g,\"grad_norm\":%.6g,\"clips_per_s\":%.6g}\n", (double)lr,
                isfinite(gnorm) ? (double)gnorm : -1.0, rate);
        fflush(r->metrics);
    }
    if (isfinite(loss)) tr_history_add(&r->hist, (double)r->step, &loss);
}

/* A checkpoint by rank 0 (with --zero1 the others contribute their shards);
 * every rank learns whether it was written. */
static int checkpoint(run *r)
{
    if (!r->o.out) return 0;
    return tr_dist_agree(&r->dist, tr_dist_ckpt_save(&r->dist, r->o.out, r->model, r->optim, r->position));
}

/* The ranks evaluate together (each encodes its share of the test set,
 * tk_eval_params.comm) when rank 0 says so: it alone knows, from
 * metrics.jsonl, which evaluations are done. Every rank learns how it went. */
static int evaluate_all(run *r, int needed)
{
    int flag = needed, rc = tr_dist_root_flag(&r->dist, &flag);
    if (rc) return rc;
    return tr_dist_agree(&r->dist, flag ? evaluate(r) : 0);
}

static int train(run *r)
{
    const options *o = &r->o;
    const int root = tr_dist_root(&r->dist);
    const long first = r->step;
    const double t0 = tk_now();
    double acc = 0;
    long nacc = 0, bad_in_a_row = 0;
    float lr = 0, gnorm = 0;
    int rc;
    /* a checkpoint taken at an evaluation point whose evaluation did not finish */
    if (r->step > 0 && is_eval_point(r, r->step) && (rc = evaluate_all(r, r->evaluated_step < r->step)))
        return rc;
    while (r->step < r->total) {
        double sum = 0;
        int diverged = 0, intr;
        for (long a = 0; a < o->accum; a++) {
            simvtp_batch b = {sizeof b};
            simvtp_losses l = {sizeof l};
            simvtp_step_info info = {sizeof info};
            if ((rc = simvtp_dataloader_next(r->loader, &b, NULL))) return tk_lib_fail("reading a batch", rc);
            rc = simvtp_train_step(r->optim, &b, &l, &info);
            r->position++;
            if ((rc = tr_dist_step_outcome(&r->dist, r->optim, rc, &info, r->step + 1, &bad_in_a_row, &diverged)))
                return rc;
            sum += l.vtc / (double)o->accum;
            lr = info.lr;
            if (info.updated) gnorm = info.grad_norm;
        }
        r->step++;
        /* the loss's mean over the ranks; Ctrl-C and failures agreed */
        if ((rc = tr_dist_update(&r->dist, &sum, 1, diverged, &intr))) return rc;
        acc += sum;
        nacc++;
        const int stop = intr || r->step == o->stop_at, eval = is_eval_point(r, r->step);
        if (r->step % o->log_every == 0 || r->step == first + 1 || eval || stop) {
            double el = tk_now() - t0, done = (double)(r->step - first);
            double rate = el > 0 ? done * (double)global_batch(r) / el : 0;
            log_step(r, acc / (double)nacc, lr, gnorm, rate, el / done * (double)(r->total - r->step));
            acc = 0;
            nacc = 0;
        }
        if ((r->step % o->save_every == 0 || eval || stop) && (rc = checkpoint(r))) return rc;
        if (eval && !intr && (rc = evaluate_all(r, 1))) return rc;
        int done = 0;
        if ((rc = tr_loop_stop(PROG, root, intr, r->step, r->total, o->stop_at, o->out, &done)) || done) return rc;
    }
    if (!root) return 0;
    char d[32], path[PATH_MAX], err[256];
    tk_format_duration(tk_now() - t0, d, sizeof d);
    printf(PROG ": %ld updates done (%ld in this run, %s); best text->video R@1 %.1f%s%s\n", r->total,
           r->total - first, d, r->best_r1, o->out ? "; best model in " : "", o->out ? o->out : "");
    if (o->out && !tr_path(path, o->out, "loss.png") &&
        tr_plot_history(path, "simvtp-finetune loss (VTC)", &r->hist, err, sizeof err))
        fprintf(stderr, PROG ": no loss.png: %s\n", err);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* main                                                                     */
/* ------------------------------------------------------------------------ */

static int parse(run *r, int argc, char **argv, unsigned char *given)
{
    options *o = &r->o, scratch;
    memset(o, 0, sizeof *o);
    o->batch = 8, o->accum = 1, o->stride = 4, o->workers = 2, o->save_every = 1000, o->log_every = 10;
    o->num_clips = 3, o->num_crops = 3, o->eval_batch = 8;
    int rc = tr_parse_args(k_opts, N_OPTS, argc, argv, o, given);
    if (rc == TR_HELP) usage();
    if (rc == TR_VERSION) printf(PROG " (libsimvtp %s)\n", simvtp_version_string());
    if (rc) return rc < 0 ? -1 : rc;
    if (o->num_crops == 2) return tk_bad_flag("--num-crops is 3 (three crops) or 1 (the centre)");
    if (o->resume) {
        memset(&scratch, 0, sizeof scratch);
        return tr_resume_flags(k_opts, N_OPTS, o->out, o, given, &scratch);
    }
    if ((rc = tr_new_run_flags(k_opts, N_OPTS, given))) return rc;
    if (!o->init) return tk_bad_flag("--init PRETRAINED.svtp is required (a pretraining checkpoint)");
    if (!o->train_shards || !o->test_shards) return tk_bad_flag("--train-shards DIR and --test-shards DIR are required");
    if (!o->vocab) return tk_bad_flag("--vocab FILE is required (a BERT vocab.txt)");
    return tr_fresh_out(o->out);
}

/* Everything before the first update. Rank-local but for tr_dist_recover
 * (every rank gets there, or none: the checks before it fail on all ranks);
 * rank 0 alone creates --out and writes run.txt and metrics.jsonl. */
static int setup(run *r, const unsigned char *given)
{
    options *o = &r->o;
    const int root = tr_dist_root(&r->dist);
    const long stored_world = o->world_size;
    int rc;
    if (o->resume && ((rc = tr_dist_check_world(&r->dist, stored_world, o->allow_world_change, o->out)) ||
                      (rc = tr_dist_recover(&r->dist, o->out))))
        return rc;
    if (root && o->out && !o->resume && (rc = tk_ensure_dir(o->out))) return rc;
    if ((rc = setup_model(r, given)) || (rc = setup_data(r))) return rc;
    if ((rc = tr_set_checkpointing(r->model, o->ckpt, o->ckpt_sel))) return rc;
    if (!o->resume && (rc = setup_schedule(r, given))) return rc;
    if ((rc = setup_optimizer(r))) return rc;
    if (o->resume && o->stop_at && o->stop_at <= r->step)
        return tk_bad_flag("--stop-at %ld is not after the checkpoint's update %ld", o->stop_at, r->step);
    if (!root || !o->out) return 0;
    if (!o->dist) o->dist = "none"; /* as given: "auto" chooses again on --resume */
    o->world_size = r->dist.world;
    if ((!o->resume || (stored_world ? stored_world : 1) != r->dist.world) &&
        (rc = tr_run_write(o->out, k_opts, N_OPTS, o)))
        return rc;
    r->metrics = tr_metrics_open(o->out, o->resume ? r->step : -1, &r->hist, on_metrics_line, r);
    return r->metrics ? 0 : TK_EXIT_RUN;
}

static void print_start(const run *r)
{
    const options *o = &r->o;
    char batch[128];
    tr_dist_batch_text(&r->dist, o->batch, o->accum, batch, sizeof batch);
    printf(PROG ": retrieval model (%lld parameters; clips %dx%dx%d, text <= %d, drop path %g), %d "
           "training batches of %ld per epoch%s, %s update %ld of %ld (%s), lr %.3g -> %.3g, "
           "warmup %ld, seed %llu\n", (long long)simvtp_model_num_params(r->model), r->cfg.frames,
           r->cfg.height, r->cfg.width, r->cfg.max_text_len, (double)r->cfg.drop_path,
           (int)r->epoch_batches, o->batch, r->dist.world > 1 ? " and rank" : "",
           o->resume ? "resuming after" : "from", r->step, r->total, batch, o->lr, o->min_lr, o->wsteps,
           (unsigned long long)o->seed);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    run r;
    unsigned char given[TR_MAX_OPTS];
    memset(&r, 0, sizeof r);
    r.best_r1 = -1;
    r.evaluated_step = -1;
    tk_cli_init(PROG);
    int rc = parse(&r, argc, argv, given);
    if (rc) return rc < 0 ? 0 : rc;
    const options *o = &r.o;
    simvtp_set_log_callback(tk_log_to_stderr, NULL, SIMVTP_LOG_WARN);
    tr_set_threads(o->threads);
    r.hist.nseries = 1;
    r.hist.names[0] = "vtc";
    if (!(rc = tr_dist_start(&r.dist, o->dist, o->backend, o->global_vtc, o->zero1))) {
        if (!tr_dist_root(&r.dist)) r.o.quiet = 1;
        rc = tr_dist_agree(&r.dist, setup(&r, given));
    }
    /* rank 0 knows from metrics.jsonl whether the last evaluation is done */
    int complete = !rc && o->resume && r.step >= r.total && r.evaluated_step >= r.step;
    if (!rc) rc = tr_dist_root_flag(&r.dist, &complete);
    if (!rc && complete) {
        if (tr_dist_root(&r.dist))
            printf(PROG ": the run in %s is complete (%ld/%ld updates); nothing to do\n", o->out, r.step, r.total);
    } else if (!rc) {
        if (tr_dist_root(&r.dist)) print_start(&r);
        tk_install_interrupt();
        rc = train(&r);
    }
    if (r.metrics) fclose(r.metrics);
    tr_history_free(&r.hist);
    simvtp_dataloader_free(r.loader);
    simvtp_tokenizer_free(r.tok);
    if (r.train) tk_free_list(r.train, r.ntrain);
    if (r.test) tk_free_list(r.test, r.ntest);
    simvtp_optimizer_free(r.optim);
    simvtp_model_free(r.model);
    return tr_dist_end(&r.dist, rc);
}

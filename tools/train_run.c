/* train_run.c — the steps of a training run that simvtp-pretrain and
 * simvtp-finetune take alike (train_run.h). */
#include "train_run.h"

#include <limits.h>
#include <math.h>

#include "cli.h"

int tr_resume_flags(const tr_opt *t, int n, const char *out, void *opts, unsigned char *given, void *scratch)
{
    if (!out) return tk_bad_flag("--resume needs --out DIR (the run to continue)");
    int rc = tr_run_merge(out, t, n, opts, given, scratch);
    if (rc) return rc;
    if (!tr_ckpt_present(out)) return tk_fail("nothing to resume in %s: it holds no checkpoint yet", out);
    return 0;
}

int tr_new_run_flags(const tr_opt *t, int n, const unsigned char *given)
{
    if (tr_given(t, n, given, "--steps") && tr_given(t, n, given, "--epochs"))
        return tk_bad_flag("give --steps or --epochs, not both");
    if (tr_given(t, n, given, "--warmup-steps") && tr_given(t, n, given, "--warmup-epochs"))
        return tk_bad_flag("give --warmup-steps or --warmup-epochs, not both");
    return 0;
}

int tr_fresh_out(const char *out)
{
    if (out && tr_ckpt_present(out))
        return tk_fail("%s holds a checkpoint already: add --resume to continue it, or choose another --out", out);
    return 0;
}

int tr_vocab_load(const char *path, const simvtp_config *cfg, simvtp_tokenizer **tok)
{
    int rc = simvtp_tokenizer_load(path, NULL, tok);
    if (rc) return tk_lib_fail("loading --vocab", rc);
    if (simvtp_tokenizer_vocab_size(*tok) > cfg->vocab_size)
        return tk_fail("--vocab %s has %d tokens; the model's vocab_size is %d", path,
                       simvtp_tokenizer_vocab_size(*tok), cfg->vocab_size);
    return 0;
}

int tr_loader_create(const tr_loader_args *a, const simvtp_config *cfg, const tr_dist *d,
                     simvtp_dataloader **out, int64_t *epoch_batches)
{
    simvtp_dataloader_params p;
    simvtp_dataloader_default_params(&p);
    p.shards = (const char *const *)a->shards;
    p.num_shards = a->nshards;
    p.tokenizer = a->tok;
    p.batch = (int)a->batch;
    p.frames = cfg->frames;
    p.height = cfg->height;
    p.width = cfg->width;
    p.max_text_len = cfg->max_text_len;
    p.sample_mode = a->sample_mode;
    p.crop_mode = a->crop_mode;
    p.stride = (int)a->stride;
    p.seed = a->seed;
    p.threads = (int)a->workers;
    p.rank = d->rank;
    p.world_size = d->world;
    int rc = simvtp_dataloader_create(&p, out);
    if (rc) return tk_lib_fail("creating the dataloader", rc);
    *epoch_batches = simvtp_dataloader_epoch_batches(*out);
    return 0;
}

int tr_optimizer_start(simvtp_model *m, const tr_optim_args *a, const tr_dist *d, const char *resume_dir,
                       simvtp_dataloader *loader, simvtp_optimizer **out, uint64_t *position, long *step)
{
    simvtp_optimizer_params op;
    simvtp_optimizer_default_params(&op);
    op.lr = (float)a->lr;
    op.min_lr = (float)a->min_lr;
    op.beta1 = 0.9f;
    op.beta2 = (float)a->beta2;
    op.eps = 1e-8f;
    op.weight_decay = 0.05f;
    op.warmup_steps = a->warmup;
    op.total_steps = a->total;
    op.clip_norm = (float)a->clip;
    op.accum_steps = (int)a->accum;
    op.seed = a->seed;
    int rc = simvtp_optimizer_create(m, &op, out);
    if (rc) return tk_lib_fail("creating the optimizer", rc);
    if ((rc = tr_dist_attach(d, *out))) return rc;
    if (!resume_dir) return 0;
    char path[PATH_MAX];
    if ((rc = tr_path(path, resume_dir, "state.svtpt"))) return rc;
    if ((rc = simvtp_optimizer_load(*out, path))) return tk_lib_fail("loading the training state", rc);
    *position = simvtp_optimizer_data_position(*out);
    if (*position % (uint64_t)a->accum)
        return tk_fail("%s: data position %llu is not a whole update", path, (unsigned long long)*position);
    *step = (long)(*position / (uint64_t)a->accum);
    if (loader && (rc = simvtp_dataloader_seek(loader, *position))) return tk_lib_fail("seeking the dataloader", rc);
    return 0;
}

int tr_loop_stop(const char *prog, int root, int intr, long step, long total, long stop_at, const char *out,
                 int *done)
{
    if (intr) {
        if (root)
            fprintf(stderr, "%s: interrupted after update %ld/%ld%s%s%s\n", tk_msg_prefix(), step, total,
                    out ? "; checkpoint saved in " : " (no --out: nothing saved)", out ? out : "",
                    out ? "; continue with --resume" : "");
        return TK_EXIT_INTERRUPTED;
    }
    if (step == stop_at && step < total) {
        if (root)
            printf("%s: stopped after update %ld/%ld (--stop-at)%s%s%s\n", prog, step, total,
                   out ? "; checkpoint in " : "", out ? out : "", out ? "; continue with --resume" : "");
        *done = 1;
    }
    return 0;
}

void tr_json_put(FILE *f, const char *key, double v)
{
    if (isfinite(v)) fprintf(f, ",\"%s\":%.6g", key, v);
    else fprintf(f, ",\"%s\":null", key);
}

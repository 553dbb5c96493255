/* train_run.h — the steps of a training run that simvtp-pretrain and
 * simvtp-finetune take alike: the flag checks of a new or resumed run, the
 * vocabulary, the dataloader's common settings, the optimizer with its
 * resumed state, the end of the update loop on Ctrl-C or --stop-at, and the
 * numbers of a metrics line. Public API only; messages go through
 * tools/common/cli.h. */
#ifndef TR_TRAIN_RUN_H
#define TR_TRAIN_RUN_H

#include <stdint.h>
#include <stdio.h>

#include <simvtp/simvtp.h>

#include "train_common.h"
#include "train_dist.h"

/* --resume: --out DIR is needed, the flags given now are merged with its
 * run.txt (tr_run_merge; scratch: a zeroed options struct) and it must hold
 * a checkpoint. 0 or an exit status after a message. */
int tr_resume_flags(const tr_opt *t, int n, const char *out, void *opts, unsigned char *given, void *scratch);

/* A new run: --steps and --epochs (and their warmup twins) exclude each
 * other. 0 or an exit status after a message. */
int tr_new_run_flags(const tr_opt *t, int n, const unsigned char *given);

/* A new run's --out (may be NULL) holds no checkpoint yet. */
int tr_fresh_out(const char *out);

/* The BERT vocabulary at path, no larger than the model's vocab_size. */
int tr_vocab_load(const char *path, const simvtp_config *cfg, simvtp_tokenizer **tok);

/* The dataloader of this rank over shards[n] with the model's clip and
 * caption sizes; sample and crop modes are the tool's. *epoch_batches: its
 * micro-batches per epoch. 0 or an exit status after a message. */
typedef struct tr_loader_args {
    char *const *shards;
    int nshards;
    const simvtp_tokenizer *tok;
    long batch, stride, workers;
    uint64_t seed;
    int sample_mode, crop_mode; /* simvtp_sample_mode, simvtp_crop_mode */
} tr_loader_args;
int tr_loader_create(const tr_loader_args *a, const simvtp_config *cfg, const tr_dist *d,
                     simvtp_dataloader **out, int64_t *epoch_batches);

/* AdamW (SPEC.md: eps 1e-8, weight decay 0.05; beta1 0.9, beta2 the tool's)
 * on the model, attached to the ranks (tr_dist_attach); with resume_dir the
 * training state of its checkpoint, whose data position (*position, in
 * micro-batches: a whole number of updates, *step) the loader (may be NULL)
 * is moved to. 0 or an exit status after a message. */
typedef struct tr_optim_args {
    double lr, min_lr, beta2, clip;
    long warmup, total, accum;
    uint64_t seed;
} tr_optim_args;
int tr_optimizer_start(simvtp_model *m, const tr_optim_args *a, const tr_dist *d, const char *resume_dir,
                       simvtp_dataloader *loader, simvtp_optimizer **out, uint64_t *position, long *step);

/* After update `step` of `total`: on Ctrl-C (intr) the message and
 * TK_EXIT_INTERRUPTED, at --stop-at (stop_at, 0: none) before the end the
 * message and 0 with *done set; else 0. Rank 0 (root) prints. */
int tr_loop_stop(const char *prog, int root, int intr, long step, long total, long stop_at, const char *out,
                 int *done);

/* ,"key":v to a metrics line (null when v is not finite) */
void tr_json_put(FILE *f, const char *key, double v);

#endif

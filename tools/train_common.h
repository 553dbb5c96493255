/* train_common.h — what simvtp-pretrain and simvtp-finetune share: a flag
 * table that also describes the run's settings (DIR/run.txt, checked on
 * --resume), "key = value" config files, checkpoints written as a pair that
 * a crash cannot split, the schedule defaults, the metrics log and the loss
 * plot. Public API only; messages go through tools/common/cli.h. */
#ifndef TR_TRAIN_COMMON_H
#define TR_TRAIN_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <simvtp/simvtp.h>

/* ---- flags ------------------------------------------------------------ */

typedef enum { TR_STR, TR_PATH, TR_LONG, TR_U64, TR_DOUBLE, TR_FLAG } tr_kind;

/* What a flag is to the run (run.txt). */
enum {
    TR_NOT_STORED = 0, /* this invocation only (--out, --resume, --quiet, ...)      */
    TR_FIXED = 1,      /* stored; on --resume a different value is refused       */
    TR_DEFAULT = 2,    /* stored; on --resume it is the default, a flag may change it */
    TR_RECORD = 3      /* stored, set by the tool, not a command-line flag (the world
                          size); on --resume read back into the options */
};

typedef struct tr_opt {
    const char *flag;  /* "--batch"; its run.txt key is the name without "--"   */
    tr_kind kind;      /* field type: const char *, long, uint64_t, double, int */
    size_t offset;     /* of the field in the tool's options struct             */
    double lo, hi;     /* range of a number                                     */
    int store;         /* TR_NOT_STORED / TR_FIXED / TR_DEFAULT                 */
} tr_opt;

#define TR_MAX_OPTS 64
#define TR_HELP (-1)
#define TR_VERSION (-2)

/* Parse argv (--flag value or --flag=value) into opts; given[k] = 1 for each
 * table entry seen. Returns 0, TR_HELP, TR_VERSION, or an exit status after
 * a message. */
int tr_parse_args(const tr_opt *t, int n, int argc, char **argv, void *opts, unsigned char *given);
/* Index of a flag in the table (the flag must be there). */
int tr_opt_index(const tr_opt *t, int n, const char *flag);
int tr_given(const tr_opt *t, int n, const unsigned char *given, const char *flag);

/* ---- run.txt ---------------------------------------------------------- */

/* Write DIR/run.txt (atomically) with every stored entry; paths absolute. */
int tr_run_write(const char *dir, const tr_opt *t, int n, const void *opts);
/* Read DIR/run.txt into opts for --resume: a flag given now that contradicts
 * a TR_FIXED value is one line and TK_EXIT_USAGE; otherwise stored values
 * fill every entry not given now and given[] marks them. `scratch` is a
 * zeroed buffer of the options struct's size. */
int tr_run_merge(const char *dir, const tr_opt *t, int n, void *opts, unsigned char *given,
                 void *scratch);

/* ---- model config ----------------------------------------------------- */

/* Preset (default "tiny"), then the "key = value" lines of `file` (may be
 * NULL): keys are simvtp_config field names, '#' starts a comment; unknown
 * keys and bad values are errors. Validated. 0 or an exit status. */
int tr_config_load(const char *preset, const char *file, simvtp_config *cfg);
/* NULL when equal, else the first differing field, described in buf as
 * "frames = 8 in <have_label>, 4 expected". */
const char *tr_config_diff(const simvtp_config *want, const simvtp_config *have,
                           const char *have_label, char *buf, size_t n);

/* ---- activation checkpointing ------------------------------------------ */

/* --checkpoint-activations (whole blocks) and --checkpoint-selective (the
 * LayerNorm and GELU outputs only) on the model; both given is a usage
 * error. 0 or an exit status after a message. */
int tr_set_checkpointing(simvtp_model *m, int blocks, int selective);
#define TR_CHECKPOINT_HELP                                                                  \
    "  --checkpoint-activations  recompute each block's activations in the backward: far\n"  \
    "                      less memory for ~30%% more time, the same results\n"              \
    "  --checkpoint-selective  recompute only the LayerNorm and GELU outputs: about a\n"     \
    "                      third less activation memory for a few %% more time, the\n"     \
    "                      same results\n"

/* ---- schedule --------------------------------------------------------- */

typedef struct tr_sched {
    /* in: what the flags say (have_* = given) */
    int have_steps, have_epochs, have_wsteps, have_wepochs;
    long steps, wsteps;
    double epochs, wepochs;
    int64_t epoch_batches; /* micro-batches per epoch; 0 = no epochs (synthetic) */
    long accum;
    double warmup_fraction; /* of the run when no warmup flag */
    long default_steps;     /* when neither --steps nor --epochs */
    double default_epochs;
} tr_sched;

/* Total and warmup updates; 0 or an exit status. */
int tr_sched_resolve(const tr_sched *s, long *total, long *warmup);

/* ---- checkpoints -------------------------------------------------------- */

/* DIR/model.svtp + DIR/state.svtpt (with the data position) as one
 * checkpoint: both are written under *.new names first, then renamed, so
 * that tr_ckpt_recover can always finish or drop a half-done pair.
 * `collective`: saving the training state is a collective (a sharded
 * optimizer, simvtp_optimizer_set_sharding) that the other ranks join with
 * simvtp_optimizer_save(o, NULL): it is reached even when an earlier part
 * fails, so that they are not left waiting. */
int tr_ckpt_save(const char *dir, const simvtp_model *m, simvtp_optimizer *o, uint64_t position,
                 int collective);
int tr_ckpt_recover(const char *dir);
int tr_ckpt_present(const char *dir); /* any of the files is there */
/* "DIR/name" into buf (PATH_MAX), or an exit status for a too-long path. */
int tr_path(char *buf, const char *dir, const char *name);

/* ---- threads ---------------------------------------------------------- */

void tr_set_threads(long n); /* OpenMP threads of the calling thread; 0 = leave */
/* Model parameters from the flags (seed, --threads, --backend or NULL for
 * the default); the struct is static: use it before the next call. */
const simvtp_model_params *tr_model_params(uint64_t seed, long threads, const char *backend);

/* ---- metrics ---------------------------------------------------------- */

#define TR_MAX_SERIES 5

/* Logged points of up to 5 loss series against the update number. */
typedef struct tr_history {
    int nseries;
    const char *names[TR_MAX_SERIES]; /* also the metrics.jsonl keys */
    int n, cap;
    double *step, *v[TR_MAX_SERIES];
} tr_history;

int tr_history_add(tr_history *h, double step, const double *v);
void tr_history_free(tr_history *h);

/* Open DIR/metrics.jsonl for appending. Lines with "step" > keep_upto are
 * dropped first (a run resumed from an earlier checkpoint); each kept line
 * goes to on_line (may be NULL) and its training losses into h. A fresh run
 * passes keep_upto = -1. NULL after a message. */
FILE *tr_metrics_open(const char *dir, int64_t keep_upto, tr_history *h,
                      void (*on_line)(void *user, const char *line), void *user);
/* The number after "key": in a JSON line; 1 if found. */
int tr_json_num(const char *line, const char *key, double *out);

/* DIR/loss.png of h (log y); 0, or -1 with the reason in err (also when the
 * tools were built without libpng). */
int tr_plot_history(const char *path, const char *title, const tr_history *h, char *err,
                    size_t errlen);

#endif

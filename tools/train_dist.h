/* train_dist.h — data-parallel training in simvtp-pretrain and
 * simvtp-finetune (--dist none|mpi|nccl|auto), through the public API
 * (simvtp/comm.h): the communicator, the model backend of an NCCL rank, who
 * prints and writes (rank 0), the mean of logged losses over the ranks, and
 * agreements that turn one rank's failure or Ctrl-C into the same exit on
 * every rank, so that no rank is left waiting in a collective of the tool.
 *
 * The collectives here (tr_dist_agree, tr_dist_update, tr_dist_root_flag,
 * tr_dist_recover) must be called by every rank in the same order, like
 * simvtp_train_step. Without a communicator (--dist none) they are local. */
#ifndef TR_TRAIN_DIST_H
#define TR_TRAIN_DIST_H

#include <stddef.h>

#include <simvtp/simvtp.h>

typedef struct tr_dist {
    simvtp_comm *comm;  /* NULL with --dist none                                 */
    const char *mode;   /* "none", "mpi" or "nccl" ("auto" resolved)             */
    int rank, world;
    int ending;         /* every rank knows that the job ends (agreed failure)  */
    int zero1;          /* --zero1 with a communicator: sharded optimizer state  */
    char backend[64];   /* --dist nccl: "cuda:N[:suffix]", N = this rank's GPU   */
} tr_dist;

#define TR_DIST_MAX_VALUES 8 /* values per tr_dist_update */

/* The --help lines of the flags below (docs/TOOLS.md, "Data-parallel training"). */
#define TR_DIST_HELP                                                                              \
    "data-parallel training (one process per rank; --batch is per rank):\n"                      \
    "  --dist MODE         none, mpi (ranks started by mpirun/srun), nccl (one GPU per rank:\n"   \
    "                      mpirun, torchrun or srun) or auto (mpi when started by an MPI\n"     \
    "                      launcher, else none) [none]\n"                                        \
    "  --global-vtc        contrastive loss against the clips of all ranks [each rank's own]\n"  \
    "  --zero1             shard the AdamW moments over the ranks (ZeRO stage 1: 2/W of their\n" \
    "                      memory per rank; the same training)\n"                              \
    "  --allow-world-change  with --resume: continue on another number of ranks (a valid run,\n" \
    "                      not a bit-exact continuation)\n"

/* Join the job: check `mode` (NULL = "none") against `backend` (--backend,
 * may be NULL), `global_vtc` and `zero1`, resolve "auto" (mpi under an MPI launcher,
 * else none), refuse "none" in a process that a launcher started as one of
 * several, create the communicator (a collective), tag messages with the rank
 * (cli.h), switch the global-batch contrastive loss on, and for nccl make the
 * model backend. 0, or an exit status after a message; call tr_dist_end
 * either way. */
int tr_dist_start(tr_dist *d, const char *mode, const char *backend, int global_vtc, int zero1);

static inline int tr_dist_root(const tr_dist *d) { return d->rank == 0; }

/* The model backend: the communicator's GPU for nccl, else `backend`. */
const char *tr_dist_backend(const tr_dist *d, const char *backend);

/* "batch B x accum A", or with several ranks "batch B x accum A x W mpi
 * ranks = G clips" (G, the global batch: clips per update). */
void tr_dist_batch_text(const tr_dist *d, long batch, long accum, char *buf, size_t n);

/* The outcome of simvtp_train_step (`lib`) for update number `update`:
 * non-finite updates get a warning (a skipped update from rank 0 only: every
 * rank skips it alike) and are counted in *bad; the 10th in a row sets
 * *diverged to an exit status for tr_dist_update to agree on. Any other
 * failure is returned after a message: fatal for the job, at once. */
int tr_dist_step_outcome(const tr_dist *d, simvtp_optimizer *o, int lib, const simvtp_step_info *info,
                         long update, long *bad, int *diverged);

/* The communicator on a fresh optimizer (before loading a training state),
 * and with --zero1 the sharded optimizer state. */
int tr_dist_attach(const tr_dist *d, simvtp_optimizer *o);

/* The checkpoint (tr_ckpt_save): rank 0 writes it; with --zero1 the other
 * ranks contribute their shards of the moments (a collective), else they do
 * nothing. 0 or an exit status, for tr_dist_agree. */
int tr_dist_ckpt_save(const tr_dist *d, const char *dir, const simvtp_model *m, simvtp_optimizer *o,
                      uint64_t position);

/* On --resume: `stored` is the run's world size from run.txt (0 = not
 * recorded: one rank). Another world size is refused (exit 2) unless
 * `allow`; then rank 0 says what changes. 0 or an exit status. */
int tr_dist_check_world(const tr_dist *d, long stored, int allow, const char *dir);

/* Collective: every rank passes its status, all get the job's — 0 when every
 * rank passed 0, else 1 if any rank failed, else 2 (bad input), else 130
 * (interrupted). A rank that did not fail says nothing. */
int tr_dist_agree(tr_dist *d, int rc);

/* Collective, once per update: v[0..n-1] (n <= TR_DIST_MAX_VALUES) become
 * their mean over the ranks, *stop is set when any rank has seen Ctrl-C (so
 * that every rank stops after the same update), and the status is agreed as
 * by tr_dist_agree. */
int tr_dist_update(tr_dist *d, double *v, int n, int rc, int *stop);

/* Collective: rank 0's flag (0/1) on every rank; 0, or an exit status. */
int tr_dist_root_flag(tr_dist *d, int *flag);

/* Collective: rank 0 finishes or drops a checkpoint that a crash
 * interrupted (tr_ckpt_recover); the others wait, then may read it. */
int tr_dist_recover(tr_dist *d, const char *dir);

/* The end of the job (after every optimizer is freed): frees the
 * communicator and finalizes MPI, except after a failure the other ranks
 * may not know about — they may be waiting in a collective, and MPI_Finalize
 * would wait for them: then the process just exits non-zero and the launcher
 * (mpirun, torchrun, srun --kill-on-bad-exit) stops the job. Returns rc. */
int tr_dist_end(tr_dist *d, int rc);

#endif

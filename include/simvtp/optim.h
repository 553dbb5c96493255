/* simvtp/optim.h — the training state: AdamW with decay exclusions, a
 * per-step linear warmup + cosine schedule, optional clipping, gradient
 * accumulation, and the RNG stream that draws every mask and dropout, so
 * that a run is reproducible and resumes bit-exactly.
 *
 * Thread safety: one thread at a time per optimizer (and its model). */
#ifndef SIMVTP_OPTIM_H
#define SIMVTP_OPTIM_H

#include <stddef.h>
#include <stdint.h>
#include "simvtp/export.h"
#include "simvtp/model.h"
#include "simvtp/comm.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct simvtp_optimizer simvtp_optimizer;

/* What simvtp_train_step does when a micro-batch's total loss or an update's
 * global gradient norm is NaN or Inf (simvtp_optimizer_params.nonfinite_policy). */
typedef enum simvtp_nonfinite_policy {
    SIMVTP_NONFINITE_SKIP = 0, /* skip the update, count it, return SIMVTP_OK (default) */
    SIMVTP_NONFINITE_STOP = 1  /* skip the update, count it, return SIMVTP_ERR_NONFINITE */
} simvtp_nonfinite_policy;

typedef struct simvtp_optimizer_params {
    size_t size;          /* sizeof(simvtp_optimizer_params)                     */
    float lr;             /* peak learning rate (default 1.5e-4)                 */
    float min_lr;         /* cosine floor (default 0)                            */
    float beta1, beta2;   /* 0.9, 0.95                                           */
    float eps;            /* 1e-8                                                */
    float weight_decay;   /* 0.05; never applied to 1-D tensors, biases, position
                             embeddings or the mask token                        */
    int64_t warmup_steps; /* linear warmup from 0 (default 0)                    */
    int64_t total_steps;  /* length of the schedule; 0 = constant lr after warmup */
    float clip_norm;      /* global gradient-norm clip; 0 = off (default)        */
    int accum_steps;      /* micro-batches per update (default 1)                */
    uint64_t seed;        /* seed of the mask/dropout RNG stream (default 0)     */
    int nonfinite_policy; /* simvtp_nonfinite_policy (default SKIP); a run-time
                             choice: not saved with the training state           */
} simvtp_optimizer_params;

SIMVTP_API void simvtp_optimizer_default_params(simvtp_optimizer_params *p);

/* An optimizer bound to model m (which must outlive it). */
SIMVTP_API int simvtp_optimizer_create(simvtp_model *m, const simvtp_optimizer_params *p,
                                       simvtp_optimizer **out);
SIMVTP_API void simvtp_optimizer_free(simvtp_optimizer *o);

/* Information about the last train step. */
typedef struct simvtp_step_info {
    size_t size;          /* sizeof(simvtp_step_info): set before the call       */
    int64_t step;         /* optimizer updates done so far                        */
    int64_t micro_step;   /* micro-batches seen so far                            */
    int updated;          /* 1 when this call applied an update                   */
    float lr;             /* learning rate of the update (or the next one)        */
    float grad_norm;      /* global gradient norm before clipping (when updated)  */
    int skipped;          /* 1 when this call ended an accumulation whose update
                             was skipped for a NaN/Inf loss or gradient norm     */
} simvtp_step_info;

/* One micro-batch: forward + backward with masks from the optimizer's RNG
 * stream, then, every accum_steps micro-batches, the AdamW update on the
 * averaged gradients. losses and info may be NULL.
 *
 * Non-finite values: a micro-batch whose total loss is NaN/Inf spoils its
 * accumulation; at the end of that accumulation (at once when accum_steps
 * is 1), or when the global gradient norm of an update is NaN/Inf, the
 * update is skipped: the accumulated gradients are discarded, weights and
 * moments stay unchanged, the step counter does not advance, the RNG stream
 * has still advanced (the run stays reproducible), and
 * simvtp_optimizer_nonfinite_count grows by one. With SIMVTP_NONFINITE_SKIP
 * the call returns SIMVTP_OK with info->skipped = 1; with
 * SIMVTP_NONFINITE_STOP it returns SIMVTP_ERR_NONFINITE (info is filled
 * too), the message naming the update and micro-batch. */
SIMVTP_API int simvtp_train_step(simvtp_optimizer *o, const simvtp_batch *b,
                                 simvtp_losses *losses, simvtp_step_info *info);

/* Learning rate at update number `step` under the schedule. */
SIMVTP_API float simvtp_optimizer_lr_at(const simvtp_optimizer *o, int64_t step);
SIMVTP_API int64_t simvtp_optimizer_step_count(const simvtp_optimizer *o);

/* Training state (moments, counters, RNG stream, a caller's data position,
 * the optimizer settings, pending accumulated gradients, the count of
 * skipped non-finite updates): written atomically (temporary file, fsync,
 * rename), and read back into an optimizer made for the same model config
 * (else SIMVTP_ERR_MISMATCH). Loading replaces all settings of `o` (lr,
 * schedule, accumulation, seed) with the file's, so that the resumed run
 * continues exactly, except nonfinite_policy, which stays o's; a failed load
 * changes nothing. Files of the previous format version are read too. */
SIMVTP_API int simvtp_optimizer_save(const simvtp_optimizer *o, const char *path);
SIMVTP_API int simvtp_optimizer_load(simvtp_optimizer *o, const char *path);

/* An opaque caller value stored with the training state (e.g. a dataloader
 * position), so that data resumes with the model. */
SIMVTP_API int simvtp_optimizer_set_data_position(simvtp_optimizer *o, uint64_t position);
SIMVTP_API uint64_t simvtp_optimizer_data_position(const simvtp_optimizer *o);

/* Data-parallel training (docs/DISTRIBUTED.md): with a communicator of W
 * ranks, every rank calls simvtp_train_step on its own local batch; the RNG
 * stream draws W seeds per micro-batch and rank r uses the r-th, gradients
 * are scaled by 1/(accum_steps*W) and summed over the ranks before each
 * update (the gradient norm and clipping see the sum), and every rank
 * applies the same update. Rank r thus trains like micro-batch r of one
 * process with accum_steps*W. c must outlive its use by o; NULL detaches
 * (a world of one). The training state does not store it and
 * simvtp_optimizer_load keeps o's: set it on a fresh optimizer before
 * loading. SIMVTP_ERR_STATE when it would change while accumulated
 * gradients are pending (change it between updates only). The first train
 * step after this call (or after simvtp_optimizer_load) compares the ranks:
 * SIMVTP_ERR_MISMATCH on every rank, before anything is trained, when a
 * rank's model config, optimizer settings, counters or weights differ from
 * rank 0's. */
SIMVTP_API int simvtp_optimizer_set_comm(simvtp_optimizer *o, simvtp_comm *c);

/* Sharded optimizer state (ZeRO stage 1; docs/DISTRIBUTED.md): with on = 1,
 * each of the W ranks of o's communicator keeps the AdamW moments of only
 * its 1/W of the parameters (a contiguous shard), so the moments take 2/W of
 * the memory they take unsharded. At every update the gradients are summed
 * over the ranks into their owners' shards (a reduce-scatter instead of the
 * all-reduce), each rank updates its shard, and the updated parameters are
 * gathered by every rank (an all-gather): the same traffic as the all-reduce
 * and, on 2 ranks, the same result bit for bit. The gradient buffer stays
 * whole (gradients are accumulated per rank as before).
 *   - on = 1 is not a collective: every rank keeps its own shard of its
 *     (identical) moments. Every rank must set the same value before its next
 *     train step. Set the communicator first; SIMVTP_ERR_UNSUPPORTED for a
 *     device-memory model with a communicator of host memory (MPI).
 *   - on = 0 is a collective when sharded: the moments are gathered back.
 *   - While sharded, simvtp_optimizer_set_comm refuses another communicator
 *     (SIMVTP_ERR_STATE), and simvtp_optimizer_save is a collective that
 *     writes the same file as unsharded: every rank calls it; `path` may be
 *     NULL on ranks that only contribute their shard (e.g. all but rank 0
 *     at an update boundary). simvtp_optimizer_load reads an unsharded or
 *     sharded run's file and keeps this rank's shard (not a collective). */
SIMVTP_API int simvtp_optimizer_set_sharding(simvtp_optimizer *o, int on);

/* Updates skipped so far because of a NaN/Inf loss or gradient norm (see
 * simvtp_train_step), under either policy; saved with the training state.
 * -1 for a NULL optimizer. */
SIMVTP_API int64_t simvtp_optimizer_nonfinite_count(const simvtp_optimizer *o);

#ifdef __cplusplus
}
#endif
#endif /* SIMVTP_OPTIM_H */

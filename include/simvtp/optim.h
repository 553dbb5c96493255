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

#ifdef __cplusplus
extern "C" {
#endif

typedef struct simvtp_optimizer simvtp_optimizer;

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
} simvtp_step_info;

/* One micro-batch: forward + backward with masks from the optimizer's RNG
 * stream, then, every accum_steps micro-batches, the AdamW update on the
 * averaged gradients. losses and info may be NULL. */
SIMVTP_API int simvtp_train_step(simvtp_optimizer *o, const simvtp_batch *b,
                                 simvtp_losses *losses, simvtp_step_info *info);

/* Learning rate at update number `step` under the schedule. */
SIMVTP_API float simvtp_optimizer_lr_at(const simvtp_optimizer *o, int64_t step);
SIMVTP_API int64_t simvtp_optimizer_step_count(const simvtp_optimizer *o);

/* Training state (moments, counters, RNG stream, a caller's data position,
 * the optimizer settings, pending accumulated gradients): written atomically
 * (temporary file, fsync, rename), and read back into an optimizer made for
 * the same model config (else SIMVTP_ERR_MISMATCH). Loading replaces all
 * settings of `o` (lr, schedule, accumulation, seed) with the file's, so that
 * the resumed run continues exactly; a failed load changes nothing. */
SIMVTP_API int simvtp_optimizer_save(const simvtp_optimizer *o, const char *path);
SIMVTP_API int simvtp_optimizer_load(simvtp_optimizer *o, const char *path);

/* An opaque caller value stored with the training state (e.g. a dataloader
 * position), so that data resumes with the model. */
SIMVTP_API int simvtp_optimizer_set_data_position(simvtp_optimizer *o, uint64_t position);
SIMVTP_API uint64_t simvtp_optimizer_data_position(const simvtp_optimizer *o);

#ifdef __cplusplus
}
#endif
#endif /* SIMVTP_OPTIM_H */

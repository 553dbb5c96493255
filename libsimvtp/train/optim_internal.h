/* train/optim_internal.h — the training state behind simvtp_optimizer:
 * AdamW moments, counters, the mask/dropout RNG stream and the caller's data
 * position (everything a bit-exact resume needs). */
#ifndef SV_OPTIM_INTERNAL_H
#define SV_OPTIM_INTERNAL_H

#include "simvtp/optim.h"
#include "core/rng.h"
#include "model/model.h"

struct simvtp_optimizer {
    simvtp_model *model;
    simvtp_optimizer_params p;
    float *m, *v;           /* first and second moments [shard_n]: parameters
                               shard_lo .. shard_lo + shard_n - 1 */
    size_t shard_lo, shard_n; /* 0, nparams unless sharded */
    int sharded;            /* simvtp_optimizer_set_sharding: moments of this rank's
                               shard of o->comm only (ZeRO-1); not saved */
    int64_t step;           /* updates applied */
    int64_t micro_step;     /* micro-batches seen */
    sv_rng rng;             /* draws one seed per micro-batch */
    uint64_t data_position;
    int64_t nonfinite_count;  /* updates skipped for NaN/Inf (saved since format v2) */
    int64_t nonfinite_micro;  /* first micro-batch of the pending accumulation with a
                                 non-finite loss, 0 if none (for the message; not saved) */
    simvtp_comm *comm;      /* data-parallel world (NULL: one rank); not saved */
    int ranks_checked;      /* the ranks were compared (train/rank_check.c) since the
                               communicator was set or a state loaded */
    int64_t overlapped;     /* updates whose gradient sum overlapped the backward
                               (train/comm.c; for tests, not saved) */
};

/* SIMVTP_OK or SIMVTP_ERR_INVALID_ARG naming the bad field. */
int sv_optimizer_check_params(const simvtp_optimizer_params *p);

/* A collective (train/rank_check.c): SIMVTP_ERR_MISMATCH on every rank
 * when any rank's model config, optimizer settings, counters and RNG stream,
 * or a sample of its weights differ from rank 0's. */
int sv_optimizer_check_ranks(simvtp_optimizer *o);

/* 1 when this optimizer's updates may overlap the gradient sum with the
 * backward (train/comm.c): several ranks, not sharded, a communicator that
 * offers it for the model's memory, and SIMVTP_OVERLAP is not "0". */
int sv_optimizer_overlap_ok(const simvtp_optimizer *o);

/* The sharded optimizer state (train/shard.c): the global gradient norm
 * squared (each rank's shard, summed over the ranks in double), the updated
 * parameters gathered from their owners after the shard's AdamW update, and
 * full host copies of the moments for saving (a collective when sharded:
 * every rank calls it; *m and *v are malloc'd, or the backend memory itself
 * for an unsharded host-memory optimizer: free them with sv_optimizer_moments_drop). */
int sv_optimizer_grad_sumsq(simvtp_optimizer *o, double *sq);
int sv_optimizer_gather_params(simvtp_optimizer *o);
int sv_optimizer_moments_get(const simvtp_optimizer *o, float **m, float **v);
void sv_optimizer_moments_drop(const simvtp_optimizer *o, float *m, float *v);

#endif /* SV_OPTIM_INTERNAL_H */

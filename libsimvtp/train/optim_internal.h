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
    float *m, *v;           /* first and second moments [nparams] */
    int64_t step;           /* updates applied */
    int64_t micro_step;     /* micro-batches seen */
    sv_rng rng;             /* draws one seed per micro-batch */
    uint64_t data_position;
    int64_t nonfinite_count;  /* updates skipped for NaN/Inf (saved since format v2) */
    int64_t nonfinite_micro;  /* first micro-batch of the pending accumulation with a
                                 non-finite loss, 0 if none (for the message; not saved) */
    simvtp_comm *comm;      /* data-parallel world (NULL: one rank); not saved */
};

/* SIMVTP_OK or SIMVTP_ERR_INVALID_ARG naming the bad field. */
int sv_optimizer_check_params(const simvtp_optimizer_params *p);

#endif /* SV_OPTIM_INTERNAL_H */

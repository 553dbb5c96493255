/* train/comm.c — the public communicator calls (dispatch to the local or MPI
 * table) and the optimizer's data-parallel glue: seeds, gradient scale and
 * the gradient all-reduce used by simvtp_train_step. */
#include <string.h>

#include "core/status_internal.h"
#include "train/comm_internal.h"
#include "train/optim_internal.h"

int simvtp_comm_rank(const simvtp_comm *c) { return c ? c->rank : 0; }
int simvtp_comm_size(const simvtp_comm *c) { return c ? c->size : 1; }

void simvtp_comm_free(simvtp_comm *c)
{
    if (c) c->ops->destroy(c);
}

int simvtp_comm_barrier(simvtp_comm *c)
{
    sv_clear_error();
    SV_CHECK_ARG(c, "simvtp_comm_barrier: communicator is NULL");
    return c->ops->barrier(c);
}

int simvtp_comm_allreduce_sum(simvtp_comm *c, float *data, size_t n)
{
    sv_clear_error();
    SV_CHECK_ARG(c && (data || n == 0), "simvtp_comm_allreduce_sum: communicator and data must not be NULL");
    return c->ops->allreduce_sum(c, data, n);
}

int simvtp_optimizer_set_comm(simvtp_optimizer *o, simvtp_comm *c)
{
    sv_clear_error();
    SV_CHECK_ARG(o, "simvtp_optimizer_set_comm: optimizer is NULL");
    /* Pending gradients were scaled for the old world and seeded for the old
     * rank: the world changes only between updates. */
    if (c != o->comm && o->micro_step % o->p.accum_steps != 0)
        return sv_fail(SIMVTP_ERR_STATE,
                       "simvtp_optimizer_set_comm: %lld micro-batches of gradients are pending; change the "
                       "communicator only between updates (when resuming such a state, set it before "
                       "simvtp_optimizer_load)",
                       (long long)(o->micro_step % o->p.accum_steps));
    o->comm = c;
    return SIMVTP_OK;
}

uint64_t sv_optimizer_draw_seed(simvtp_optimizer *o)
{
    const int world = simvtp_comm_size(o->comm), rank = simvtp_comm_rank(o->comm);
    uint64_t seed = 0;
    for (int r = 0; r < world; r++) {
        const uint64_t s = sv_rng_u64(&o->rng);
        if (r == rank) seed = s;
    }
    return seed;
}

float sv_optimizer_grad_scale(const simvtp_optimizer *o)
{
    /* Exactly the scale of one process accumulating accum_steps*W micro-batches. */
    return 1.0f / (float)((int64_t)o->p.accum_steps * simvtp_comm_size(o->comm));
}

int sv_optimizer_reduce_grads(simvtp_optimizer *o)
{
    if (simvtp_comm_size(o->comm) <= 1) return SIMVTP_OK;
    simvtp_model *m = o->model;
    return o->comm->ops->allreduce_sum(o->comm, m->grads, m->nparams);
}

/* train/shard.c — the sharded optimizer state (ZeRO stage 1): each rank of
 * the optimizer's communicator keeps the AdamW moments of one contiguous
 * shard of the parameters; the update's gradient norm is the sum of the
 * shards' squares, and the updated parameters are gathered from their owners.
 * The gradient reduce-scatter is in train/comm.c (sv_optimizer_reduce_grads),
 * the shard's AdamW loop in train/adamw.c. */
#include <stdlib.h>
#include <string.h>

#include "core/backend.h"
#include "core/status_internal.h"
#include "train/comm_internal.h"
#include "train/optim_internal.h"

void sv_shard_range(size_t n, int world, int rank, size_t *lo, size_t *len)
{
    const size_t w = world > 0 ? (size_t)world : 1, r = (size_t)rank;
    const size_t base = n / w, extra = n % w;
    *lo = base * r + (r < extra ? r : extra);
    *len = base + (r < extra ? 1 : 0);
}

/* Moments of `len` parameters: two zero-filled backend allocations. */
static int alloc_moments(const sv_backend *be, size_t len, float **m, float **v)
{
    const size_t bytes = (len ? len : 1) * sizeof(float);
    *m = be->alloc(bytes);
    *v = *m ? be->alloc(bytes) : NULL;
    if (*m && *v) return SIMVTP_OK;
    if (*m) be->free(*m);
    *m = *v = NULL;
    return sv_fail(SIMVTP_ERR_NOMEM, "out of memory for AdamW moments (%zu parameters)", len);
}

/* Full moments from the shards, in backend memory of the whole size. */
static int gather_moments(const simvtp_optimizer *o, float **m, float **v)
{
    const sv_backend *be = o->model->be;
    const size_t n = o->model->nparams;
    SV_TRY(alloc_moments(be, n, m, v));
    be->copy(*m + o->shard_lo, o->m, o->shard_n * sizeof(float));
    be->copy(*v + o->shard_lo, o->v, o->shard_n * sizeof(float));
    int rc = be->finish(be);
    if (rc == SIMVTP_OK) rc = o->comm->ops->gather_shards(o->comm, *m, n);
    if (rc == SIMVTP_OK) rc = o->comm->ops->gather_shards(o->comm, *v, n);
    if (rc != SIMVTP_OK) {
        be->free(*m);
        be->free(*v);
        *m = *v = NULL;
    }
    return rc;
}

int simvtp_optimizer_set_sharding(simvtp_optimizer *o, int on)
{
    sv_clear_error();
    SV_CHECK_ARG(o, "simvtp_optimizer_set_sharding: optimizer is NULL");
    SV_CHECK_ARG(on == 0 || on == 1, "simvtp_optimizer_set_sharding: on must be 0 or 1 (got %d)", on);
    if (on == o->sharded) return SIMVTP_OK;
    const sv_backend *be = o->model->be;
    simvtp_comm *c = o->comm;
    if (on) {
        if (!c)
            return sv_fail(SIMVTP_ERR_STATE, "simvtp_optimizer_set_sharding: set a communicator first "
                           "(simvtp_optimizer_set_comm)");
        if (!be->host_memory && !c->ops->device_memory)
            return sv_fail(SIMVTP_ERR_UNSUPPORTED,
                           "simvtp_optimizer_set_sharding: a model on %s with a %s communicator (host memory "
                           "only) cannot shard its optimizer state; use an NCCL communicator",
                           be->name ? be->name : "a device", c->ops->name);
        if (!c->ops->reduce_shards || !c->ops->gather_shards || !c->ops->allreduce_f64)
            return sv_fail(SIMVTP_ERR_UNSUPPORTED, "%s communicators cannot shard the optimizer state",
                           c->ops->name);
    }
    SV_TRY(be->activate(be));
    float *m, *v;
    size_t lo = 0, len = o->model->nparams;
    if (on) {
        sv_shard_range(o->model->nparams, c->size, c->rank, &lo, &len);
        SV_TRY(alloc_moments(be, len, &m, &v));
        be->copy(m, o->m + lo, len * sizeof(float));
        be->copy(v, o->v + lo, len * sizeof(float));
    } else {
        SV_TRY(gather_moments(o, &m, &v));
    }
    int rc = be->finish(be);
    if (rc != SIMVTP_OK) {
        be->free(m);
        be->free(v);
        return rc;
    }
    be->free(o->m);
    be->free(o->v);
    o->m = m;
    o->v = v;
    o->shard_lo = lo;
    o->shard_n = len;
    o->sharded = on;
    return be->finish(be);
}

int sv_optimizer_grad_sumsq(simvtp_optimizer *o, double *sq)
{
    const simvtp_model *m = o->model;
    *sq = m->be->sumsq(m->grads + o->shard_lo, o->shard_n);
    if (!o->sharded) return SIMVTP_OK;
    return o->comm->ops->allreduce_f64(o->comm, sq, 1);
}

int sv_optimizer_gather_params(simvtp_optimizer *o)
{
    if (!o->sharded) return SIMVTP_OK;
    const sv_backend *be = o->model->be;
    SV_TRY(be->finish(be)); /* the shard's update is complete before it travels */
    return o->comm->ops->gather_shards(o->comm, o->model->params, o->model->nparams);
}

int sv_optimizer_moments_get(const simvtp_optimizer *o, float **m, float **v)
{
    const sv_backend *be = o->model->be;
    const size_t n = o->model->nparams;
    float *dm = o->m, *dv = o->v;
    if (o->sharded) SV_TRY(gather_moments(o, &dm, &dv));
    *m = sv_host_get(be, dm, n);
    *v = *m ? sv_host_get(be, dv, n) : NULL;
    int rc = SIMVTP_OK;
    if (!*m || !*v) {
        if (*m) sv_host_drop(be, dm, *m);
        *m = *v = NULL;
        rc = sv_fail(SIMVTP_ERR_NOMEM, "out of host memory for the AdamW moments (%zu parameters)", n);
    }
    if (o->sharded) {
        /* Host-memory backends hand out the gathered buffers themselves:
         * keep those (freed by sv_optimizer_moments_drop), else the copies. */
        if (be->host_memory && rc == SIMVTP_OK) return SIMVTP_OK;
        be->free(dm);
        be->free(dv);
    }
    return rc;
}

void sv_optimizer_moments_drop(const simvtp_optimizer *o, float *m, float *v)
{
    const sv_backend *be = o->model->be;
    if (o->sharded) {
        if (be->host_memory) {
            be->free(m);
            be->free(v);
        } else {
            free(m);
            free(v);
        }
        return;
    }
    if (m) sv_host_drop(be, o->m, m);
    if (v) sv_host_drop(be, o->v, v);
}

/* train/comm.c — the public communicator calls (dispatch to the local, MPI
 * or NCCL table) and the optimizer's data-parallel glue: seeds, gradient
 * scale and the gradient all-reduce used by simvtp_train_step, in place or
 * staged through host memory when the gradients live in device memory that
 * the communicator cannot read. */
#include <stdlib.h>
#include <string.h>

#include "core/backend.h"
#include "core/status_internal.h"
#include "train/comm_internal.h"
#include "train/optim_internal.h"

int simvtp_comm_rank(const simvtp_comm *c) { return c ? c->rank : 0; }
int simvtp_comm_size(const simvtp_comm *c) { return c ? c->size : 1; }
int simvtp_comm_device(const simvtp_comm *c) { return c ? c->device : -1; }

void simvtp_comm_free(simvtp_comm *c)
{
    if (!c) return;
    free(c->stage);
    c->stage = NULL;
    c->stage_n = 0;
    c->ops->destroy(c);
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

int simvtp_comm_set_global_contrastive(simvtp_comm *c, int on)
{
    sv_clear_error();
    SV_CHECK_ARG(c, "simvtp_comm_set_global_contrastive: communicator is NULL");
    SV_CHECK_ARG(on == 0 || on == 1, "simvtp_comm_set_global_contrastive: on must be 0 or 1 (got %d)", on);
    if (on && !c->ops->allgather)
        return sv_fail(SIMVTP_ERR_UNSUPPORTED, "%s communicators have no all-gather for the global-batch "
                       "contrastive loss", c->ops->name);
    c->global_vtc = on;
    return SIMVTP_OK;
}

int simvtp_optimizer_set_comm(simvtp_optimizer *o, simvtp_comm *c)
{
    sv_clear_error();
    SV_CHECK_ARG(o, "simvtp_optimizer_set_comm: optimizer is NULL");
    if (c) SV_TRY(sv_comm_check_backend(c, o->model->be));
    /* Pending gradients were scaled for the old world and seeded for the old
     * rank: the world changes only between updates. */
    if (c != o->comm && o->sharded)
        return sv_fail(SIMVTP_ERR_STATE,
                       "simvtp_optimizer_set_comm: the optimizer state is sharded over the current "
                       "communicator; call simvtp_optimizer_set_sharding(o, 0) first (every rank)");
    if (c != o->comm && o->micro_step % o->p.accum_steps != 0)
        return sv_fail(SIMVTP_ERR_STATE,
                       "simvtp_optimizer_set_comm: %lld micro-batches of gradients are pending; change the "
                       "communicator only between updates (when resuming such a state, set it before "
                       "simvtp_optimizer_load)",
                       (long long)(o->micro_step % o->p.accum_steps));
    o->comm = c;
    o->ranks_checked = 0; /* compared again at the next train step */
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

int sv_comm_check_backend(const simvtp_comm *c, const sv_backend *be)
{
    if (c->device < 0 || be->host_memory || be->device == c->device) return SIMVTP_OK;
    return sv_fail(SIMVTP_ERR_INVALID_ARG,
                   "the model is on backend \"%s\" but the %s communicator runs on cuda:%d: create the "
                   "model on \"cuda:%d\" (simvtp_comm_device) or the communicator on the model's device",
                   be->name ? be->name : "?", c->ops->name, c->device, c->device);
}

int sv_comm_reduce_staged(simvtp_comm *c, const sv_backend *be, float *data, size_t n)
{
    if (n == 0) return SIMVTP_OK;
    size_t chunk = c->chunk ? c->chunk : SV_COMM_DEFAULT_CHUNK;
    if (chunk > n) chunk = n;
    if (c->stage_n < chunk) {
        free(c->stage);
        c->stage_n = 0;
        c->stage = malloc(chunk * sizeof(float));
        if (!c->stage)
            return sv_fail(SIMVTP_ERR_NOMEM, "out of memory for the %zu-float host buffer that stages the "
                           "gradient all-reduce", chunk);
        c->stage_n = chunk;
    }
    int rc = SIMVTP_OK;
    for (size_t off = 0; off < n && rc == SIMVTP_OK; off += chunk) {
        const size_t cnt = n - off < chunk ? n - off : chunk;
        be->memcpy_d2h(c->stage, data + off, cnt * sizeof(float)); /* returns with the data on the host */
        rc = c->ops->allreduce_sum(c, c->stage, cnt);
        if (rc == SIMVTP_OK) be->memcpy_h2d(data + off, c->stage, cnt * sizeof(float));
    }
    /* The copies report their failures through finish (core/backend.h). */
    if (be->finish) {
        const int frc = be->finish(be);
        if (rc == SIMVTP_OK) rc = frc;
    }
    return rc;
}

int sv_comm_reduce_backend(simvtp_comm *c, const sv_backend *be, float *data, size_t n)
{
    /* The gradients are complete only once the backend's queue is drained;
     * this also surfaces an error of the backward pass before any rank-to-rank
     * traffic. (The NCCL communicator orders itself after all of the device's
     * work as well.) */
    if (be->finish) SV_TRY(be->finish(be));
    if (be->host_memory || c->ops->device_memory) {
        SV_TRY(sv_comm_check_backend(c, be));
        return c->ops->allreduce_sum(c, data, n);
    }
    return sv_comm_reduce_staged(c, be, data, n);
}

int sv_comm_allgather_backend(simvtp_comm *c, const sv_backend *be, const float *send, float *recv, size_t n)
{
    if (be->finish) SV_TRY(be->finish(be));
    if (be->host_memory || c->ops->device_memory) {
        SV_TRY(sv_comm_check_backend(c, be));
        return c->ops->allgather(c, send, recv, n);
    }
    const size_t all = (size_t)c->size * n;
    float *h = malloc((n + all) * sizeof(float));
    if (!h) return sv_fail(SIMVTP_ERR_NOMEM, "out of memory for the host stage of an all-gather (%zu floats)", all);
    be->memcpy_d2h(h, send, n * sizeof(float));
    int rc = c->ops->allgather(c, h, h + n, n);
    if (rc == SIMVTP_OK) be->memcpy_h2d(recv, h + n, all * sizeof(float));
    free(h);
    if (be->finish) {
        const int frc = be->finish(be);
        if (rc == SIMVTP_OK) rc = frc;
    }
    return rc;
}

int sv_comm_max_int(simvtp_comm *c, int v, int *out)
{
    float *all = malloc((size_t)c->size * sizeof(float));
    if (!all) return sv_fail(SIMVTP_ERR_NOMEM, "out of memory for a %d-rank all-gather", c->size);
    const float mine = (float)v;
    int rc = c->ops->allgather(c, &mine, all, 1);
    if (rc == SIMVTP_OK) {
        float mx = all[0];
        for (int r = 1; r < c->size; r++)
            if (all[r] > mx) mx = all[r];
        *out = (int)mx;
    }
    free(all);
    return rc;
}

int sv_grads_ready(simvtp_model *m, const char *first)
{
    simvtp_comm *c = m->ready_comm;
    if (!c || m->ready_n) return SIMVTP_OK;
    const int i = sv_model_find_tensor(m, first);
    if (i < 0) return SIMVTP_OK; /* then everything is summed at the update */
    const size_t lo = m->tensors[i].offset;
    SV_TRY(c->ops->allreduce_start(c, m->be, m->grads + lo, m->nparams - lo));
    m->ready_lo = lo;
    m->ready_n = m->nparams - lo;
    return SIMVTP_OK;
}

int sv_optimizer_overlap_ok(const simvtp_optimizer *o)
{
    const simvtp_comm *c = o->comm;
    const char *e = getenv("SIMVTP_OVERLAP");
    if (!c || c->size <= 1 || o->sharded || !c->ops->allreduce_start || (e && !strcmp(e, "0"))) return 0;
    return o->model->be->host_memory || c->ops->device_memory;
}

int sv_optimizer_reduce_grads(simvtp_optimizer *o)
{
    if (simvtp_comm_size(o->comm) <= 1) return SIMVTP_OK;
    simvtp_model *m = o->model;
    if (m->ready_n) {
        /* the tail's sum is under way: sum the rest, then wait for it */
        const size_t lo = m->ready_lo;
        m->ready_n = 0;
        o->overlapped++;
        const int rc = sv_comm_reduce_backend(o->comm, m->be, m->grads, lo);
        const int frc = o->comm->ops->allreduce_finish(o->comm);
        return rc ? rc : frc;
    }
    if (o->sharded) {
        /* Each rank needs only its shard's sum (simvtp_optimizer_set_sharding
         * checked that the communicator takes the model's memory). */
        if (m->be->finish) SV_TRY(m->be->finish(m->be));
        return o->comm->ops->reduce_shards(o->comm, m->grads, m->nparams);
    }
    return sv_comm_reduce_backend(o->comm, m->be, m->grads, m->nparams);
}

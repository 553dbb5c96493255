/* train/comm_local.c — the world of one rank: collectives are no-ops. */
#include <stdlib.h>
#include <string.h>

#include "core/status_internal.h"
#include "train/comm_internal.h"

static int local_allreduce_sum(simvtp_comm *c, float *data, size_t n)
{
    (void)c; (void)data; (void)n;
    return SIMVTP_OK;
}

static int local_barrier(simvtp_comm *c)
{
    (void)c;
    return SIMVTP_OK;
}

static int local_allgather(simvtp_comm *c, const float *send, float *recv, size_t n)
{
    (void)c;
    if (n && recv != send) memmove(recv, send, n * sizeof(float));
    return SIMVTP_OK;
}

/* Shards, reduced or gathered over one rank: the data is already complete. */
static int local_shards(simvtp_comm *c, float *data, size_t n)
{
    (void)c; (void)data; (void)n;
    return SIMVTP_OK;
}

static int local_allreduce_f64(simvtp_comm *c, double *data, size_t n)
{
    (void)c; (void)data; (void)n;
    return SIMVTP_OK;
}

static void local_destroy(simvtp_comm *c) { free(c); }

/* device_memory: the sum over one rank touches no data, wherever it lives. */
static const sv_comm_ops local_ops = {
    .name = "local",
    .device_memory = 1,
    .allreduce_sum = local_allreduce_sum,
    .barrier = local_barrier,
    .allgather = local_allgather,
    .reduce_shards = local_shards,
    .gather_shards = local_shards,
    .allreduce_f64 = local_allreduce_f64,
    .destroy = local_destroy,
};

int simvtp_comm_create_local(simvtp_comm **out)
{
    sv_clear_error();
    SV_CHECK_ARG(out, "simvtp_comm_create_local: out is NULL");
    *out = NULL;
    simvtp_comm *c = calloc(1, sizeof *c);
    if (!c) return sv_fail(SIMVTP_ERR_NOMEM, "out of memory for a communicator");
    c->ops = &local_ops;
    c->rank = 0;
    c->size = 1;
    c->device = -1;
    c->chunk = SV_COMM_DEFAULT_CHUNK;
    *out = c;
    return SIMVTP_OK;
}

/* train/comm_mpi.c — the MPI communicator: a duplicate of MPI_COMM_WORLD
 * with MPI_ERRORS_RETURN, chunked in-place MPI_Allreduce (MPI_FLOAT,
 * MPI_SUM), MPI_Barrier. MPI is initialized here only if the caller has not
 * done it (MPI_Init_thread, MPI_THREAD_FUNNELED: libsimvtp calls MPI from the
 * calling thread only, while OpenMP threads compute), and finalized only by
 * an explicit simvtp_comm_finalize(). Without SIMVTP_HAVE_MPI the
 * constructor returns SIMVTP_ERR_UNSUPPORTED. Also the MPI bootstrap of the
 * NCCL communicator (sv_mpi_bootstrap: ranks and the NCCL id broadcast). */
#include <stdlib.h>
#include <string.h>

#include "simvtp_build_config.h"
#include "core/status_internal.h"
#include "train/comm_internal.h"

#if SIMVTP_HAVE_MPI

#include <limits.h>
#include <stdatomic.h>
#include <mpi.h>

typedef struct sv_comm_mpi {
    struct simvtp_comm base;   /* first: a simvtp_comm * points here */
    MPI_Comm comm;
    MPI_Request *req;          /* outstanding MPI_Iallreduce (allreduce_start) */
    int nreq, capreq;
} sv_comm_mpi;

static atomic_int mpi_live_comms;       /* MPI communicators not yet freed */
static atomic_int mpi_initialized_here; /* 1 when create_mpi called MPI_Init_thread */

static int mpi_fail(int mpi_rc, const char *what)
{
    char msg[MPI_MAX_ERROR_STRING] = "";
    int len = 0;
    if (MPI_Error_string(mpi_rc, msg, &len) != MPI_SUCCESS) msg[0] = '\0';
    return sv_fail(SIMVTP_ERR_IO, "%s failed (MPI error %d: %s)", what, mpi_rc, msg);
}

static int mpi_allreduce_sum(simvtp_comm *c, float *data, size_t n)
{
    sv_comm_mpi *mc = (sv_comm_mpi *)c;
    size_t chunk = c->chunk;
    if (chunk == 0 || chunk > (size_t)INT_MAX) chunk = SV_COMM_DEFAULT_CHUNK;
    for (size_t off = 0; off < n; off += chunk) {
        const size_t cnt = n - off < chunk ? n - off : chunk;
        int rc = MPI_Allreduce(MPI_IN_PLACE, data + off, (int)cnt, MPI_FLOAT, MPI_SUM, mc->comm);
        if (rc != MPI_SUCCESS) return mpi_fail(rc, "MPI_Allreduce");
    }
    return SIMVTP_OK;
}

static int mpi_allgather(simvtp_comm *c, const float *send, float *recv, size_t n)
{
    if (n > (size_t)INT_MAX)
        return sv_fail(SIMVTP_ERR_INVALID_ARG, "MPI all-gather of %zu floats per rank: more than INT_MAX", n);
    int rc = MPI_Allgather(send, (int)n, MPI_FLOAT, recv, (int)n, MPI_FLOAT, ((sv_comm_mpi *)c)->comm);
    return rc == MPI_SUCCESS ? SIMVTP_OK : mpi_fail(rc, "MPI_Allgather");
}

/* Shard r of data: summed into rank r (reduce = 1, MPI_Reduce to root r)
 * or sent from rank r to all (MPI_Bcast), in chunks of c->chunk floats. */
static int mpi_shards(simvtp_comm *c, float *data, size_t n, int reduce)
{
    sv_comm_mpi *mc = (sv_comm_mpi *)c;
    size_t chunk = c->chunk;
    if (chunk == 0 || chunk > (size_t)INT_MAX) chunk = SV_COMM_DEFAULT_CHUNK;
    for (int r = 0; r < c->size; r++) {
        size_t lo, len;
        sv_shard_range(n, c->size, r, &lo, &len);
        for (size_t off = 0; off < len; off += chunk) {
            const size_t cnt = len - off < chunk ? len - off : chunk;
            float *p = data + lo + off;
            int rc = reduce ? MPI_Reduce(r == c->rank ? MPI_IN_PLACE : p, p, (int)cnt, MPI_FLOAT, MPI_SUM, r,
                                         mc->comm)
                            : MPI_Bcast(p, (int)cnt, MPI_FLOAT, r, mc->comm);
            if (rc != MPI_SUCCESS) return mpi_fail(rc, reduce ? "MPI_Reduce (sharded gradients)"
                                                              : "MPI_Bcast (sharded parameters)");
        }
    }
    return SIMVTP_OK;
}

static int mpi_reduce_shards(simvtp_comm *c, float *data, size_t n) { return mpi_shards(c, data, n, 1); }
static int mpi_gather_shards(simvtp_comm *c, float *data, size_t n) { return mpi_shards(c, data, n, 0); }

static int mpi_allreduce_f64(simvtp_comm *c, double *data, size_t n)
{
    if (n > (size_t)INT_MAX)
        return sv_fail(SIMVTP_ERR_INVALID_ARG, "MPI all-reduce of %zu doubles: more than INT_MAX", n);
    int rc = MPI_Allreduce(MPI_IN_PLACE, data, (int)n, MPI_DOUBLE, MPI_SUM, ((sv_comm_mpi *)c)->comm);
    return rc == MPI_SUCCESS ? SIMVTP_OK : mpi_fail(rc, "MPI_Allreduce (double)");
}

/* Nonblocking in-place sums, chunk by chunk (host memory: the backend has
 * finished writing it, as a host backend computes synchronously). */
static int mpi_allreduce_start(simvtp_comm *c, const struct sv_backend *be, float *data, size_t n)
{
    (void)be;
    sv_comm_mpi *mc = (sv_comm_mpi *)c;
    size_t chunk = c->chunk;
    if (chunk == 0 || chunk > (size_t)INT_MAX) chunk = SV_COMM_DEFAULT_CHUNK;
    for (size_t off = 0; off < n; off += chunk) {
        const size_t cnt = n - off < chunk ? n - off : chunk;
        if (mc->nreq == mc->capreq) {
            const int cap = mc->capreq ? 2 * mc->capreq : 16;
            MPI_Request *r = realloc(mc->req, (size_t)cap * sizeof *r);
            if (!r) return sv_fail(SIMVTP_ERR_NOMEM, "out of memory for MPI requests");
            mc->req = r;
            mc->capreq = cap;
        }
        int rc = MPI_Iallreduce(MPI_IN_PLACE, data + off, (int)cnt, MPI_FLOAT, MPI_SUM, mc->comm,
                                &mc->req[mc->nreq]);
        if (rc != MPI_SUCCESS) return mpi_fail(rc, "MPI_Iallreduce");
        mc->nreq++;
    }
    return SIMVTP_OK;
}

static int mpi_allreduce_finish(simvtp_comm *c)
{
    sv_comm_mpi *mc = (sv_comm_mpi *)c;
    if (mc->nreq == 0) return SIMVTP_OK;
    int rc = MPI_Waitall(mc->nreq, mc->req, MPI_STATUSES_IGNORE);
    mc->nreq = 0;
    return rc == MPI_SUCCESS ? SIMVTP_OK : mpi_fail(rc, "MPI_Waitall (overlapped gradient sums)");
}

static int mpi_barrier(simvtp_comm *c)
{
    int rc = MPI_Barrier(((sv_comm_mpi *)c)->comm);
    return rc == MPI_SUCCESS ? SIMVTP_OK : mpi_fail(rc, "MPI_Barrier");
}

static void mpi_destroy(simvtp_comm *c)
{
    sv_comm_mpi *mc = (sv_comm_mpi *)c;
    int finalized = 1;
    MPI_Finalized(&finalized);
    free(mc->req); /* the optimizer always waits for its sums: none is left here */
    if (!finalized) MPI_Comm_free(&mc->comm); /* after MPI_Finalize the handle is dead anyway */
    atomic_fetch_sub(&mpi_live_comms, 1);
    free(mc);
}

/* Host memory only: a CUDA model's gradients are staged (train/comm.c). */
static const sv_comm_ops mpi_ops = {
    .name = "mpi",
    .device_memory = 0,
    .allreduce_sum = mpi_allreduce_sum,
    .barrier = mpi_barrier,
    .allgather = mpi_allgather,
    .reduce_shards = mpi_reduce_shards,
    .gather_shards = mpi_gather_shards,
    .allreduce_f64 = mpi_allreduce_f64,
    .allreduce_start = mpi_allreduce_start,
    .allreduce_finish = mpi_allreduce_finish,
    .destroy = mpi_destroy,
};

/* MPI_Init_thread(FUNNELED) unless the caller (or an earlier call) did. */
static int mpi_ensure_init(const char *who)
{
    int flag = 0, rc;
    MPI_Finalized(&flag);
    if (flag) return sv_fail(SIMVTP_ERR_STATE, "%s: MPI has already been finalized", who);
    MPI_Initialized(&flag);
    if (!flag) {
        int provided = MPI_THREAD_SINGLE;
        rc = MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided);
        if (rc != MPI_SUCCESS) return mpi_fail(rc, "MPI_Init_thread");
        atomic_store(&mpi_initialized_here, 1);
        sv_log(SIMVTP_LOG_DEBUG, "libsimvtp initialized MPI (thread level %d); call simvtp_comm_finalize() at exit",
               provided);
    }
    return SIMVTP_OK;
}

int simvtp_comm_create_mpi(simvtp_comm **out)
{
    sv_clear_error();
    SV_CHECK_ARG(out, "simvtp_comm_create_mpi: out is NULL");
    *out = NULL;
    int rc;
    SV_TRY(mpi_ensure_init("simvtp_comm_create_mpi"));
    sv_comm_mpi *mc = calloc(1, sizeof *mc);
    if (!mc) return sv_fail(SIMVTP_ERR_NOMEM, "out of memory for a communicator");
    rc = MPI_Comm_dup(MPI_COMM_WORLD, &mc->comm);
    if (rc != MPI_SUCCESS) {
        free(mc);
        return mpi_fail(rc, "MPI_Comm_dup(MPI_COMM_WORLD)");
    }
    MPI_Comm_set_errhandler(mc->comm, MPI_ERRORS_RETURN);
    int rank = 0, size = 1;
    if ((rc = MPI_Comm_rank(mc->comm, &rank)) != MPI_SUCCESS ||
        (rc = MPI_Comm_size(mc->comm, &size)) != MPI_SUCCESS) {
        MPI_Comm_free(&mc->comm);
        free(mc);
        return mpi_fail(rc, "MPI_Comm_rank/MPI_Comm_size");
    }
    mc->base.ops = &mpi_ops;
    mc->base.rank = rank;
    mc->base.size = size;
    mc->base.device = -1;
    mc->base.chunk = SV_COMM_DEFAULT_CHUNK;
    atomic_fetch_add(&mpi_live_comms, 1);
    *out = &mc->base;
    return SIMVTP_OK;
}

int sv_mpi_launched(void)
{
    int flag = 0;
    MPI_Initialized(&flag);
    if (flag) {
        MPI_Finalized(&flag);
        return !flag;
    }
    /* Variables that Open MPI, MPICH/Hydra, MVAPICH and PMI/PMIx launchers
     * (srun --mpi=pmix|pmi2) set in every rank's environment. */
    static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "PMI_RANK",
                                       "MV2_COMM_WORLD_SIZE", "MPI_LOCALNRANKS"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        if (getenv(vars[i])) return 1;
    return 0;
}

int sv_mpi_bootstrap(void *blob, size_t bytes, int (*make)(void *blob, void *ctx), void *ctx,
                     int *rank, int *size, int *local_rank)
{
    unsigned char msg[512]; /* byte 0: rank 0's verdict, so that its failure ends every rank */
    SV_CHECK_ARG(bytes < sizeof msg, "sv_mpi_bootstrap: %zu bytes is too large", bytes);
    SV_TRY(mpi_ensure_init("simvtp_comm_create_nccl"));
    MPI_Comm world = MPI_COMM_NULL, node = MPI_COMM_NULL;
    int rc = MPI_Comm_dup(MPI_COMM_WORLD, &world);
    if (rc != MPI_SUCCESS) return mpi_fail(rc, "MPI_Comm_dup(MPI_COMM_WORLD)");
    MPI_Comm_set_errhandler(world, MPI_ERRORS_RETURN);
    int status = SIMVTP_OK;
    if ((rc = MPI_Comm_rank(world, rank)) != MPI_SUCCESS || (rc = MPI_Comm_size(world, size)) != MPI_SUCCESS) {
        status = mpi_fail(rc, "MPI_Comm_rank/MPI_Comm_size");
        goto done;
    }
    /* The local rank: this rank's place among the ranks that share its node. */
    rc = MPI_Comm_split_type(world, MPI_COMM_TYPE_SHARED, *rank, MPI_INFO_NULL, &node);
    if (rc != MPI_SUCCESS || (rc = MPI_Comm_rank(node, local_rank)) != MPI_SUCCESS) {
        status = mpi_fail(rc, "MPI_Comm_split_type(MPI_COMM_TYPE_SHARED)");
        goto done;
    }
    memset(msg, 0, sizeof msg);
    int made = SIMVTP_OK;
    if (*rank == 0) {
        made = make(blob, ctx);
        msg[0] = made == SIMVTP_OK;
        if (made == SIMVTP_OK) memcpy(msg + 1, blob, bytes);
    }
    rc = MPI_Bcast(msg, (int)(bytes + 1), MPI_BYTE, 0, world);
    if (rc != MPI_SUCCESS) {
        status = mpi_fail(rc, "MPI_Bcast of the NCCL id");
    } else if (!msg[0]) {
        status = *rank == 0 ? made
                            : sv_fail(SIMVTP_ERR_IO, "simvtp_comm_create_nccl: rank 0 could not create the "
                                      "NCCL id (see rank 0's error)");
    } else {
        memcpy(blob, msg + 1, bytes);
    }
done:
    if (node != MPI_COMM_NULL) MPI_Comm_free(&node);
    MPI_Comm_free(&world);
    return status;
}

int simvtp_comm_finalize(void)
{
    sv_clear_error();
    if (!atomic_load(&mpi_initialized_here)) return SIMVTP_OK; /* the caller owns MPI */
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (finalized) return SIMVTP_OK;
    const int live = atomic_load(&mpi_live_comms);
    if (live > 0)
        return sv_fail(SIMVTP_ERR_STATE, "simvtp_comm_finalize: %d MPI communicator(s) not freed yet", live);
    int rc = MPI_Finalize();
    return rc == MPI_SUCCESS ? SIMVTP_OK : mpi_fail(rc, "MPI_Finalize");
}

#else /* !SIMVTP_HAVE_MPI */

int simvtp_comm_create_mpi(simvtp_comm **out)
{
    sv_clear_error();
    SV_CHECK_ARG(out, "simvtp_comm_create_mpi: out is NULL");
    *out = NULL;
    return sv_fail(SIMVTP_ERR_UNSUPPORTED,
                   "simvtp_comm_create_mpi: libsimvtp was built without MPI (install libopenmpi-dev, "
                   "reconfigure with -Dmpi=enabled)");
}

int simvtp_comm_finalize(void)
{
    sv_clear_error();
    return SIMVTP_OK;
}

int sv_mpi_launched(void) { return 0; }

int sv_mpi_bootstrap(void *blob, size_t bytes, int (*make)(void *blob, void *ctx), void *ctx,
                     int *rank, int *size, int *local_rank)
{
    (void)blob; (void)bytes; (void)make; (void)ctx; (void)rank; (void)size; (void)local_rank;
    return sv_fail(SIMVTP_ERR_UNSUPPORTED,
                   "simvtp_comm_create_nccl: an MPI bootstrap was asked for (SIMVTP_NCCL_BOOTSTRAP=mpi) but "
                   "libsimvtp was built without MPI; launch with RANK/WORLD_SIZE/LOCAL_RANK and "
                   "SIMVTP_NCCL_ID_FILE instead");
}

#endif

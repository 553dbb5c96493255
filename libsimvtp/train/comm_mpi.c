/* train/comm_mpi.c — the MPI communicator: a duplicate of MPI_COMM_WORLD
 * with MPI_ERRORS_RETURN, chunked in-place MPI_Allreduce (MPI_FLOAT,
 * MPI_SUM), MPI_Barrier. MPI is initialized here only if the caller has not
 * done it (MPI_Init_thread, MPI_THREAD_FUNNELED: libsimvtp calls MPI from the
 * calling thread only, while OpenMP threads compute), and finalized only by
 * an explicit simvtp_comm_finalize(). Without SIMVTP_HAVE_MPI the
 * constructor returns SIMVTP_ERR_UNSUPPORTED. */
#include <stdlib.h>

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
    if (!finalized) MPI_Comm_free(&mc->comm); /* after MPI_Finalize the handle is dead anyway */
    atomic_fetch_sub(&mpi_live_comms, 1);
    free(mc);
}

static const sv_comm_ops mpi_ops = {"mpi", mpi_allreduce_sum, mpi_barrier, mpi_destroy};

int simvtp_comm_create_mpi(simvtp_comm **out)
{
    sv_clear_error();
    SV_CHECK_ARG(out, "simvtp_comm_create_mpi: out is NULL");
    *out = NULL;
    int flag = 0, rc;
    MPI_Finalized(&flag);
    if (flag)
        return sv_fail(SIMVTP_ERR_STATE, "simvtp_comm_create_mpi: MPI has already been finalized");
    MPI_Initialized(&flag);
    if (!flag) {
        int provided = MPI_THREAD_SINGLE;
        rc = MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided);
        if (rc != MPI_SUCCESS) return mpi_fail(rc, "MPI_Init_thread");
        atomic_store(&mpi_initialized_here, 1);
        sv_log(SIMVTP_LOG_DEBUG, "libsimvtp initialized MPI (thread level %d); call simvtp_comm_finalize() at exit",
               provided);
    }
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
    mc->base.chunk = SV_COMM_DEFAULT_CHUNK;
    atomic_fetch_add(&mpi_live_comms, 1);
    *out = &mc->base;
    return SIMVTP_OK;
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

#endif

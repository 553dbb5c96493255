/* simvtp/comm.h — communicators for data-parallel training: a world of
 * ranks that average their gradients before every optimizer update
 * (simvtp_optimizer_set_comm in simvtp/optim.h). Two kinds:
 *
 *   - local: a world of one rank; always available (training with it is
 *     bit-identical to training without a communicator);
 *   - MPI: every process of MPI_COMM_WORLD (duplicated, so the library's
 *     messages never meet the caller's); SIMVTP_ERR_UNSUPPORTED when
 *     libsimvtp was built without MPI (meson -Dmpi=disabled).
 *
 * No MPI type appears here: a program that only launches under mpirun needs
 * neither mpi.h nor -lmpi.
 *
 * Who initializes and finalizes MPI (docs/DISTRIBUTED.md):
 *   - a caller that uses MPI itself calls MPI_Init (or MPI_Init_thread with
 *     at least MPI_THREAD_FUNNELED) before simvtp_comm_create_mpi and
 *     MPI_Finalize after simvtp_comm_free; simvtp_comm_finalize then does
 *     nothing;
 *   - otherwise simvtp_comm_create_mpi calls MPI_Init_thread(FUNNELED) itself,
 *     registers no exit handler, and the caller ends with simvtp_comm_free
 *     then simvtp_comm_finalize(), which calls MPI_Finalize. The library never
 *     finalizes MPI on its own.
 *
 * Collectives: every rank must make the same collective calls in the same
 * order (simvtp_train_step with a communicator is one of them). An error on
 * one rank leaves the others waiting in their next collective: treat any
 * error other than SIMVTP_ERR_NONFINITE (which every rank sees alike) as
 * fatal for the whole job.
 *
 * Thread safety: one thread at a time per communicator; MPI is called only
 * from the thread that calls libsimvtp. */
#ifndef SIMVTP_COMM_H
#define SIMVTP_COMM_H

#include <stddef.h>
#include "simvtp/export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct simvtp_comm simvtp_comm;

/* A world of one rank (rank 0, size 1). */
SIMVTP_API int simvtp_comm_create_local(simvtp_comm **out);

/* Every process of MPI_COMM_WORLD; initializes MPI if the caller has not.
 * SIMVTP_ERR_UNSUPPORTED without MPI support, SIMVTP_ERR_STATE after MPI
 * was finalized, SIMVTP_ERR_IO when MPI reports an error. */
SIMVTP_API int simvtp_comm_create_mpi(simvtp_comm **out);

/* Rank in [0, size) and world size; a NULL communicator is a world of one
 * (rank 0, size 1). */
SIMVTP_API int simvtp_comm_rank(const simvtp_comm *c);
SIMVTP_API int simvtp_comm_size(const simvtp_comm *c);

/* Collectives (every rank calls them): a barrier, and an in-place float sum
 * of `n` values (e.g. losses for logging); same result on every rank. */
SIMVTP_API int simvtp_comm_barrier(simvtp_comm *c);
SIMVTP_API int simvtp_comm_allreduce_sum(simvtp_comm *c, float *data, size_t n);

/* Frees the communicator (not a collective); accepts NULL. Free it after
 * every optimizer that uses it, or detach it first (set_comm(o, NULL)). */
SIMVTP_API void simvtp_comm_free(simvtp_comm *c);

/* Calls MPI_Finalize when simvtp_comm_create_mpi initialized MPI and nobody
 * has finalized it yet; does nothing (SIMVTP_OK) otherwise, also in builds
 * without MPI. SIMVTP_ERR_STATE while an MPI communicator is still alive. */
SIMVTP_API int simvtp_comm_finalize(void);

#ifdef __cplusplus
}
#endif
#endif /* SIMVTP_COMM_H */

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

/* The contrastive loss (VTC) over the global batch: when on, every rank's
 * texts are compared with the videos of all ranks and every rank's videos
 * with the texts of all ranks (an all-gather of the normalized features in
 * simvtp_train_step, and a sum of their gradients), so W ranks of B clips
 * train as one process on W*B clips would; off (the default), each rank's
 * loss uses its own B clips as negatives, like the released code. Every rank
 * must set the same value. Every communicator and model: NCCL gathers a
 * GPU model's features in device memory; an MPI communicator with a GPU
 * model stages them (B*D floats per rank) through host memory. Not a
 * collective. */
SIMVTP_API int simvtp_comm_set_global_contrastive(simvtp_comm *c, int on);

/* Frees the communicator (not a collective); accepts NULL. Free it after
 * every optimizer that uses it, or detach it first (set_comm(o, NULL)). */
SIMVTP_API void simvtp_comm_free(simvtp_comm *c);

/* Calls MPI_Finalize when simvtp_comm_create_mpi initialized MPI and nobody
 * has finalized it yet; does nothing (SIMVTP_OK) otherwise, also in builds
 * without MPI. SIMVTP_ERR_STATE while an MPI communicator is still alive. */
SIMVTP_API int simvtp_comm_finalize(void);

/* ---- NCCL: one rank per GPU (docs/DISTRIBUTED.md, "GPU ranks") --------
 *
 * A third kind of communicator: the ranks' gradients are summed by NCCL on
 * their GPUs (ncclAllReduce, ncclFloat, ncclSum), in place in the model's
 * device memory. SIMVTP_ERR_UNSUPPORTED when libsimvtp was built without
 * NCCL (meson -Dnccl=disabled, or NCCL/the CUDA runtime not found) or when
 * no CUDA device is usable; no CUDA or NCCL type appears here.
 *
 * The world (a collective: every rank calls it; it returns once all
 * ranks have joined):
 *   - MPI launch (libsimvtp built with MPI, and MPI already initialized or
 *     the process started by mpirun/mpiexec or srun --mpi=...): rank and
 *     size of MPI_COMM_WORLD, the local rank among the ranks of the node,
 *     the NCCL id broadcast by MPI (MPI is initialized and finalized as by
 *     simvtp_comm_create_mpi: end with simvtp_comm_finalize() when the
 *     library initialized it);
 *   - otherwise the environment (torchrun style): RANK, WORLD_SIZE and
 *     LOCAL_RANK, and SIMVTP_NCCL_ID_FILE, a path on a file system every
 *     rank sees, through which rank 0 hands the NCCL id to the others (it
 *     writes the file atomically and deletes it once every rank has joined;
 *     the others wait for it up to SIMVTP_NCCL_TIMEOUT seconds, default
 *     600, then fail with SIMVTP_ERR_IO). Use a fresh path per job.
 *     Without RANK/WORLD_SIZE (nor Slurm's SLURM_PROCID/SLURM_NTASKS/
 *     SLURM_LOCALID, nor Open MPI's OMPI_COMM_WORLD_* in a build without
 *     MPI): a world of one rank, no file needed.
 *   SIMVTP_NCCL_BOOTSTRAP=mpi or =env forces one of the two.
 *
 * `device` picks this rank's GPU: NULL, "", "auto" or "cuda" for the local
 * rank's device, cuda:LOCAL_RANK (or cuda:0 when the process sees a
 * single GPU, e.g. under srun --gpus-per-task=1); "cuda:N" (a suffix such
 * as ":fp32" is ignored, so the model's backend string may be passed) for
 * device N. The model must live on that device, or in host memory
 * (simvtp_optimizer_set_comm checks): build the model's backend string
 * from simvtp_comm_device.
 *
 * simvtp_comm_allreduce_sum on an NCCL communicator takes device memory of
 * its device (reduced in place, after all work queued on the device) or
 * host memory (copied through a device buffer). Errors: SIMVTP_ERR_IO for a
 * failed NCCL or CUDA call (with their message), after which the
 * communicator is aborted and every later collective on it fails with
 * SIMVTP_ERR_STATE; SIMVTP_ERR_INVALID_ARG for a bad `device` or launch
 * variable, or a buffer on another GPU. */
SIMVTP_API int simvtp_comm_create_nccl(simvtp_comm **out, const char *device);

/* The CUDA device ordinal that c's collectives run on (NCCL), or -1 for a
 * communicator of host memory only (local, MPI) and for NULL. */
SIMVTP_API int simvtp_comm_device(const simvtp_comm *c);

#ifdef __cplusplus
}
#endif
#endif /* SIMVTP_COMM_H */

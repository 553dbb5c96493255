/* train/comm_internal.h — struct simvtp_comm: a small table of collectives
 * (local, MPI or NCCL) behind the public handle, and the optimizer's use of it. */
#ifndef SV_COMM_INTERNAL_H
#define SV_COMM_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include "simvtp/comm.h"

struct simvtp_optimizer;
struct sv_backend;

typedef struct sv_comm_ops {
    const char *name;                                   /* "local", "mpi", "nccl" */
    /* 1: allreduce_sum also accepts backend (device) memory of the
     * communicator's device (simvtp_comm.device), so the optimizer reduces a
     * CUDA model's gradients in place; 0: host memory only, and the optimizer
     * stages device gradients through a host buffer (sv_comm_reduce_staged). */
    int device_memory;
    /* In-place sum of n floats over all ranks, at most c->chunk per call
     * (MPI; NCCL reduces device memory in one call and stages host memory in
     * chunks of c->chunk). */
    int (*allreduce_sum)(simvtp_comm *c, float *data, size_t n);
    int (*barrier)(simvtp_comm *c);
    /* recv[size*n] = the n floats of send of every rank, in rank order
     * (host memory, and device memory when device_memory). Used by the
     * global-batch contrastive loss (sv_comm_allgather_backend). */
    int (*allgather)(simvtp_comm *c, const float *send, float *recv, size_t n);
    /* The sharded optimizer state (ZeRO-1), in place on n floats cut into
     * size contiguous shards (sv_shard_range): reduce_shards leaves in shard
     * r of rank r the sum over the ranks of that shard (the rest of data is
     * undefined afterwards); gather_shards gives every rank all shards, each
     * from its owner. Host memory, and device memory of the communicator's
     * device when device_memory. */
    int (*reduce_shards)(simvtp_comm *c, float *data, size_t n);
    int (*gather_shards)(simvtp_comm *c, float *data, size_t n);
    /* In-place sum over the ranks of n doubles of host memory (the sharded
     * gradient norm). */
    int (*allreduce_f64)(simvtp_comm *c, double *data, size_t n);
    /* The overlapped gradient sum: allreduce_start queues an in-place sum of
     * n floats of `be` memory (host memory, or device memory when
     * device_memory) ordered after the work queued on the backend, and
     * returns without waiting for it; the data must not be touched until
     * allreduce_finish has waited for every queued sum. NULL: not offered. */
    int (*allreduce_start)(simvtp_comm *c, const struct sv_backend *be, float *data, size_t n);
    int (*allreduce_finish)(simvtp_comm *c);
    void (*destroy)(simvtp_comm *c);                    /* frees c (not c->stage) */
} sv_comm_ops;

struct simvtp_comm {
    const sv_comm_ops *ops;
    int rank, size;
    int device;     /* CUDA ordinal the collectives run on; -1: host only (local, MPI) */
    size_t chunk;   /* floats per collective call (MPI counts are int); tests may lower it */
    float *stage;   /* host staging buffer of sv_comm_reduce_staged (stage_n floats), */
    size_t stage_n; /* kept between updates; freed by simvtp_comm_free             */
    int global_vtc; /* simvtp_comm_set_global_contrastive                          */
};

/* Default chunk: 2^24 floats (64 MiB) per MPI_Allreduce. */
#define SV_COMM_DEFAULT_CHUNK ((size_t)1 << 24)

/* Shard `rank` of n values over `world` ranks: [*lo, *lo + *len), the
 * first n % world shards one value longer; together they cover [0, n). */
void sv_shard_range(size_t n, int world, int rank, size_t *lo, size_t *len);

/* *out = the largest of every rank's v (an all-gather of host floats;
 * exact for |v| < 2^24). A collective. */
int sv_comm_max_int(simvtp_comm *c, int v, int *out);

/* Called by the graph once the gradients of the tensors from `first` (a
 * tensor name) to the end of the parameter vector are complete: during a
 * train step that overlaps its gradient sum (m->ready_comm), queues their
 * sum over the ranks (ops->allreduce_start), which the update then waits
 * for; otherwise nothing. */
struct simvtp_model;
int sv_grads_ready(struct simvtp_model *m, const char *first);

/* The optimizer's side (train/comm.c), called by simvtp_train_step:
 * the micro-batch seed (W draws from the optimizer's stream, this rank's
 * one), the gradient scale 1/(accum_steps*W), and the in-place sum of the
 * model's gradients over the ranks before an update. */
uint64_t sv_optimizer_draw_seed(struct simvtp_optimizer *o);
float sv_optimizer_grad_scale(const struct simvtp_optimizer *o);
int sv_optimizer_reduce_grads(struct simvtp_optimizer *o);


/* The in-place sum over the ranks of n floats of `be` memory at `data`
 * (train/comm.c): waits for the backend's queued work (be->finish), then
 * either reduces in place (host memory, or a communicator that takes device
 * memory) or stages min(n, c->chunk) floats at a time through the host
 * buffer c->stage (be->memcpy_d2h, c->ops->allreduce_sum, be->memcpy_h2d),
 * and returns the first error, the backend's included. */
int sv_comm_reduce_backend(simvtp_comm *c, const struct sv_backend *be, float *data, size_t n);
/* recv[size*n] = the n floats at send of every rank, in rank order, for
 * backend memory (the global-batch contrastive features): in place for host
 * memory or a communicator that takes device memory, else staged through a
 * host buffer; waits for the backend's queued work first. */
int sv_comm_allgather_backend(simvtp_comm *c, const struct sv_backend *be, const float *send, float *recv,
                              size_t n);
/* Its staging half alone (white-box tests call it with a fake backend). */
int sv_comm_reduce_staged(simvtp_comm *c, const struct sv_backend *be, float *data, size_t n);
/* SIMVTP_OK when a model on `be` can use communicator c: a communicator
 * bound to a CUDA device needs a host-memory model or one on that device. */
int sv_comm_check_backend(const simvtp_comm *c, const struct sv_backend *be);

/* MPI helpers for other communicators (train/comm_mpi.c). sv_mpi_launched:
 * 1 when MPI is built and either initialized already or this process looks
 * started by an MPI launcher (mpirun/mpiexec, srun --mpi=pmix/pmi2).
 * sv_mpi_bootstrap: initializes MPI if needed (as simvtp_comm_create_mpi,
 * finalized by simvtp_comm_finalize), gives this process's rank, world size
 * and rank among the processes of its node, and broadcasts `bytes` bytes of
 * `blob` from rank 0, which first fills it with make(blob, ctx); when make
 * fails on rank 0 every rank fails (the others with SIMVTP_ERR_IO). Without
 * MPI: SIMVTP_ERR_UNSUPPORTED. */
int sv_mpi_launched(void);
int sv_mpi_bootstrap(void *blob, size_t bytes, int (*make)(void *blob, void *ctx), void *ctx,
                     int *rank, int *size, int *local_rank);

/* The NCCL communicator's launcher-agnostic start (train/comm_bootstrap.c;
 * no CUDA or NCCL, built everywhere). */
typedef struct sv_env_world {
    int rank, size;
    int local_rank;       /* -1 when no variable gives it (and size > 1) */
    const char *source;   /* the variables it came from, for messages    */
} sv_env_world;
/* RANK/WORLD_SIZE/LOCAL_RANK, else SLURM_PROCID/SLURM_NTASKS/SLURM_LOCALID,
 * else OMPI_COMM_WORLD_{RANK,SIZE,LOCAL_RANK}, else PMI_RANK/PMI_SIZE/
 * MPI_LOCALRANKID; none of them: rank 0 of 1. SIMVTP_ERR_INVALID_ARG for a
 * malformed or inconsistent value. */
int sv_env_world_get(sv_env_world *w);
/* NULL, "", "auto", "cuda" -> -1 (pick by local rank); "cuda:N[:...]" -> N. */
int sv_parse_cuda_device(const char *s, int *device);
/* The device of a rank: `want` when >= 0, else the local rank's, else 0 when
 * the process sees one device; SIMVTP_ERR_INVALID_ARG otherwise. */
int sv_pick_cuda_device(int want, int local_rank, int ndev, int *device);
/* SIMVTP_NCCL_TIMEOUT in seconds (default 600). */
double sv_nccl_timeout(void);
/* Rank 0: writes the id (or, error != NULL, rank 0's failure) atomically
 * to path; the other ranks wait up to timeout_s for it (SIMVTP_ERR_IO on
 * timeout or on an error record; SIMVTP_ERR_INVALID_ARG when the file's
 * world size differs). Rank 0 removes it once all ranks joined. */
int sv_id_file_publish(const char *path, int world, const void *id, size_t bytes, const char *error);
int sv_id_file_wait(const char *path, int world, void *id, size_t bytes, double timeout_s);
void sv_id_file_remove(const char *path);

#endif /* SV_COMM_INTERNAL_H */

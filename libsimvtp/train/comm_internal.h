/* train/comm_internal.h — struct simvtp_comm: a small table of collectives
 * (local or MPI) behind the public handle, and the optimizer's use of it. */
#ifndef SV_COMM_INTERNAL_H
#define SV_COMM_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include "simvtp/comm.h"

struct simvtp_optimizer;

typedef struct sv_comm_ops {
    const char *name;                                   /* "local", "mpi" */
    /* In-place sum of n floats over all ranks, at most c->chunk per call. */
    int (*allreduce_sum)(simvtp_comm *c, float *data, size_t n);
    int (*barrier)(simvtp_comm *c);
    void (*destroy)(simvtp_comm *c);                    /* frees c */
} sv_comm_ops;

struct simvtp_comm {
    const sv_comm_ops *ops;
    int rank, size;
    size_t chunk;   /* floats per collective call (MPI counts are int); tests may lower it */
};

/* Default chunk: 2^24 floats (64 MiB) per MPI_Allreduce. */
#define SV_COMM_DEFAULT_CHUNK ((size_t)1 << 24)

/* The optimizer's side (train/comm.c), called by simvtp_train_step:
 * the micro-batch seed (W draws from the optimizer's stream, this rank's
 * one), the gradient scale 1/(accum_steps*W), and the in-place sum of the
 * model's gradients over the ranks before an update. */
uint64_t sv_optimizer_draw_seed(struct simvtp_optimizer *o);
float sv_optimizer_grad_scale(const struct simvtp_optimizer *o);
int sv_optimizer_reduce_grads(struct simvtp_optimizer *o);

#endif /* SV_COMM_INTERNAL_H */

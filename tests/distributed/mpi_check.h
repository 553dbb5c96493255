/* mpi_check.h — the checks of the mpirun tests: on failure, name the rank,
 * the place, the condition and the library's detail, then MPI_Abort the job
 * (a rank that returned alone would leave the others waiting). */
#ifndef SV_TEST_MPI_CHECK_H
#define SV_TEST_MPI_CHECK_H

#include <mpi.h>
#include <stdio.h>

#include "simvtp/simvtp.h"

static int g_rank = 0;

#define CHECK(cond, ...)                                                              \
    do {                                                                              \
        if (!(cond)) {                                                                \
            fprintf(stderr, "rank %d: %s:%d: check failed: %s: ", g_rank, __FILE__,   \
                    __LINE__, #cond);                                                 \
            fprintf(stderr, __VA_ARGS__);                                             \
            fprintf(stderr, " [%s]\n", simvtp_last_error());                         \
            MPI_Abort(MPI_COMM_WORLD, 1);                                             \
        }                                                                             \
    } while (0)
#define CHECK_OK(expr) \
    do { int rc_ = (expr); CHECK(rc_ == SIMVTP_OK, "%s returned %s", #expr, simvtp_strerror(rc_)); } while (0)

#endif /* SV_TEST_MPI_CHECK_H */

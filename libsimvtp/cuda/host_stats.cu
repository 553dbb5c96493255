/* cuda/host_stats.cu — the CUDA backend's host side, counted on request
 * (SIMVTP_CUDA_STATS=1, read when the first context is made): kernel
 * launches, cuBLASLt products, the waits for the device (stream and event
 * synchronizations) and the time blocked in them, and the time since the
 * first context. Printed as one line to stderr when the program exits, so
 * that a benchmark can tell a step the host holds up (little time blocked)
 * from one the device does. Off: one predictable branch per launch. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cuda/cuda_ops.cuh"

int sv_cuda_stats_on;
sv_cuda_host_stats sv_cuda_stats;
static double t_start;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void stats_print(void)
{
    fprintf(stderr,
            "simvtp-cuda-stats launches=%llu products=%llu waits=%llu wait_ms=%.3f host_ms=%.3f\n",
            (unsigned long long)__atomic_load_n(&sv_cuda_stats.launches, __ATOMIC_RELAXED),
            (unsigned long long)__atomic_load_n(&sv_cuda_stats.products, __ATOMIC_RELAXED),
            (unsigned long long)__atomic_load_n(&sv_cuda_stats.waits, __ATOMIC_RELAXED),
            1e-6 * (double)__atomic_load_n(&sv_cuda_stats.wait_ns, __ATOMIC_RELAXED),
            1e3 * (now_s() - t_start));
}

void sv_cuda_stats_init(void)
{
    static int done;
    if (__atomic_exchange_n(&done, 1, __ATOMIC_ACQ_REL)) return;
    const char *e = getenv("SIMVTP_CUDA_STATS");
    if (!e || strcmp(e, "1")) return;
    t_start = now_s();
    if (atexit(stats_print) == 0) sv_cuda_stats_on = 1;
}

static void wait_done(double t0)
{
    __atomic_fetch_add(&sv_cuda_stats.waits, 1, __ATOMIC_RELAXED);
    __atomic_fetch_add(&sv_cuda_stats.wait_ns, (unsigned long long)(1e9 * (now_s() - t0)), __ATOMIC_RELAXED);
}

/* sync(x), counted and timed when the counters are on */
template <typename T>
static cudaError_t timed(cudaError_t (*sync)(T), T x)
{
    if (!sv_cuda_stats_on) return sync(x);
    const double t0 = now_s();
    const cudaError_t e = sync(x);
    wait_done(t0);
    return e;
}

cudaError_t sv_cuda_wait(cudaStream_t s) { return timed(cudaStreamSynchronize, s); }
cudaError_t sv_cuda_wait_event(cudaEvent_t ev) { return timed(cudaEventSynchronize, ev); }

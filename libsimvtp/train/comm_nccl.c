/* train/comm_nccl.c — the NCCL communicator: one rank per GPU, the
 * gradient sum by ncclAllReduce (ncclFloat, ncclSum) in place in device
 * memory, on the communicator's own stream, ordered after all work queued on
 * the device (cudaDeviceSynchronize before, the stream drained after).
 * Host buffers (simvtp_comm_allreduce_sum on a loss, a CPU model) are copied
 * through a device buffer in chunks of c->chunk floats.
 *
 * Start (simvtp_comm_create_nccl, include/simvtp/comm.h): the world and
 * the ncclUniqueId come from MPI (sv_mpi_bootstrap, train/comm_mpi.c) or
 * from the environment and a shared id file (train/comm_bootstrap.c).
 *
 * Errors never hang silently where NCCL can tell: while waiting for a
 * collective, the communicator's asynchronous error is polled, and on an
 * error the communicator is aborted (ncclCommAbort); later collectives then
 * fail with SIMVTP_ERR_STATE. Uses the CUDA runtime API directly; built by
 * the C compiler with the CUDA include directory, linked with cudart and
 * nccl. Without SIMVTP_HAVE_NCCL the constructor returns
 * SIMVTP_ERR_UNSUPPORTED. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "simvtp_build_config.h"
#include "core/backend.h"
#include "core/status_internal.h"
#include "train/comm_internal.h"

#if SIMVTP_HAVE_NCCL

#include <time.h>
#include <cuda_runtime.h>
#include <nccl.h>

typedef struct sv_comm_nccl {
    struct simvtp_comm base;   /* first: a simvtp_comm * points here */
    ncclComm_t comm;           /* NULL once aborted */
    cudaStream_t stream;
    float *dbuf;               /* device staging for host buffers (dbuf_n floats) */
    size_t dbuf_n;
    cudaEvent_t after;         /* the backend's queue, for allreduce_start (lazily made) */
    int pending;               /* sums queued by allreduce_start, not yet waited for */
    char aborted[256];         /* why the communicator was aborted; "" while usable */
} sv_comm_nccl;

static int cuda_fail(cudaError_t e, const char *what)
{
    cudaGetLastError(); /* clear a non-sticky error so that the next call starts clean */
    return sv_fail(SIMVTP_ERR_IO, "%s failed (CUDA error %d: %s)", what, (int)e, cudaGetErrorString(e));
}

static int nccl_fail(ncclComm_t comm, ncclResult_t r, const char *what)
{
    const char *last = "";
#if NCCL_VERSION_CODE >= NCCL_VERSION(2, 13, 0)
    last = ncclGetLastError(comm);
    if (!last) last = "";
#else
    (void)comm;
#endif
    return sv_fail(SIMVTP_ERR_IO, "%s failed (NCCL %d: %s%s%s)", what, (int)r, ncclGetErrorString(r),
                   *last ? "; " : "", last);
}

/* An NCCL error leaves the communicator unusable (peers may be stuck in the
 * collective): abort it, remember why, and return the error. */
static int nccl_abort(sv_comm_nccl *nc, int rc)
{
    snprintf(nc->aborted, sizeof nc->aborted, "%s", simvtp_last_error());
    if (!nc->aborted[0]) snprintf(nc->aborted, sizeof nc->aborted, "%s", simvtp_strerror(rc));
    if (nc->comm) ncclCommAbort(nc->comm);
    nc->comm = NULL;
    return rc;
}

static int nccl_usable(sv_comm_nccl *nc)
{
    if (nc->aborted[0])
        return sv_fail(SIMVTP_ERR_STATE, "the NCCL communicator was aborted after an earlier error (%s); "
                       "create a new one (every rank)", nc->aborted);
    cudaError_t e = cudaSetDevice(nc->base.device);
    return e == cudaSuccess ? SIMVTP_OK : cuda_fail(e, "cudaSetDevice");
}

/* Waits for everything queued on the communicator's stream, polling NCCL's
 * asynchronous error (a dead peer, a network failure) instead of blocking in
 * cudaStreamSynchronize forever. */
static int nccl_wait(sv_comm_nccl *nc, const char *what)
{
    for (unsigned long spin = 0;; spin++) {
        cudaError_t e = cudaStreamQuery(nc->stream);
        if (e == cudaSuccess) return SIMVTP_OK;
        if (e != cudaErrorNotReady) return nccl_abort(nc, cuda_fail(e, what));
        ncclResult_t async = ncclSuccess;
        ncclResult_t r = ncclCommGetAsyncError(nc->comm, &async);
        if (r != ncclSuccess) return nccl_abort(nc, nccl_fail(nc->comm, r, "ncclCommGetAsyncError"));
        if (async != ncclSuccess && async != ncclInProgress)
            return nccl_abort(nc, nccl_fail(nc->comm, async, what));
        if (spin >= 64) { /* a short spin, then 20 us naps: a collective takes 10 us to seconds */
            struct timespec d = {0, 20000};
            nanosleep(&d, NULL);
        }
    }
}

static int nccl_reserve(sv_comm_nccl *nc, size_t n)
{
    if (nc->dbuf_n >= n) return SIMVTP_OK;
    if (nc->dbuf) cudaFree(nc->dbuf);
    nc->dbuf = NULL;
    nc->dbuf_n = 0;
    cudaError_t e = cudaMalloc((void **)&nc->dbuf, n * sizeof(float));
    if (e != cudaSuccess) {
        cudaGetLastError();
        nc->dbuf = NULL;
        return sv_fail(SIMVTP_ERR_NOMEM, "out of device memory for the NCCL staging buffer (%zu floats on "
                       "cuda:%d): %s", n, nc->base.device, cudaGetErrorString(e));
    }
    nc->dbuf_n = n;
    return SIMVTP_OK;
}

/* *on_device = 1 for device (or managed) memory of the communicator's
 * device, 0 for host memory (CUDA >= 11 reports unregistered host memory as
 * cudaMemoryTypeUnregistered, older runtimes fail the query);
 * SIMVTP_ERR_INVALID_ARG for memory of another device. */
static int nccl_where(const sv_comm_nccl *nc, const void *data, int *on_device, const char *who)
{
    struct cudaPointerAttributes attr;
    memset(&attr, 0, sizeof attr);
    *on_device = 0;
    if (cudaPointerGetAttributes(&attr, data) == cudaSuccess)
        *on_device = attr.type == cudaMemoryTypeDevice || attr.type == cudaMemoryTypeManaged;
    else
        cudaGetLastError();
    if (*on_device && attr.type == cudaMemoryTypeDevice && attr.device != nc->base.device)
        return sv_fail(SIMVTP_ERR_INVALID_ARG, "%s: the buffer is on cuda:%d, the NCCL communicator on cuda:%d",
                       who, attr.device, nc->base.device);
    return SIMVTP_OK;
}

static int nccl_allreduce_sum(simvtp_comm *c, float *data, size_t n)
{
    sv_comm_nccl *nc = (sv_comm_nccl *)c;
    SV_TRY(nccl_usable(nc));
    if (n == 0) return SIMVTP_OK;
    /* Device memory is reduced in place, host memory staged in chunks. */
    int on_device;
    SV_TRY(nccl_where(nc, data, &on_device, "simvtp_comm_allreduce_sum"));
    if (on_device) {
        /* After all work queued on the device (the backend's stream included). */
        cudaError_t e = cudaDeviceSynchronize();
        if (e != cudaSuccess) return cuda_fail(e, "cudaDeviceSynchronize before the NCCL all-reduce");
        ncclResult_t r = ncclAllReduce(data, data, n, ncclFloat, ncclSum, nc->comm, nc->stream);
        if (r != ncclSuccess) return nccl_abort(nc, nccl_fail(nc->comm, r, "ncclAllReduce"));
        return nccl_wait(nc, "ncclAllReduce");
    }
    size_t chunk = c->chunk ? c->chunk : SV_COMM_DEFAULT_CHUNK;
    if (chunk > n) chunk = n;
    SV_TRY(nccl_reserve(nc, chunk));
    for (size_t off = 0; off < n; off += chunk) {
        const size_t cnt = n - off < chunk ? n - off : chunk, bytes = cnt * sizeof(float);
        cudaError_t e = cudaMemcpyAsync(nc->dbuf, data + off, bytes, cudaMemcpyHostToDevice, nc->stream);
        if (e != cudaSuccess) return cuda_fail(e, "cudaMemcpyAsync (host to device) for the NCCL all-reduce");
        ncclResult_t r = ncclAllReduce(nc->dbuf, nc->dbuf, cnt, ncclFloat, ncclSum, nc->comm, nc->stream);
        if (r != ncclSuccess) return nccl_abort(nc, nccl_fail(nc->comm, r, "ncclAllReduce"));
        e = cudaMemcpyAsync(data + off, nc->dbuf, bytes, cudaMemcpyDeviceToHost, nc->stream);
        if (e != cudaSuccess) return nccl_abort(nc, cuda_fail(e, "cudaMemcpyAsync (device to host) after the NCCL all-reduce"));
        SV_TRY(nccl_wait(nc, "ncclAllReduce"));
    }
    return SIMVTP_OK;
}

/* The sharded optimizer state: shard r of data summed into rank r
 * (ncclReduce to root r) or sent from rank r to all (ncclBroadcast), one
 * grouped call per shard, after all work queued on the device. Host memory
 * goes through the device buffer whole. */
static int nccl_shards(simvtp_comm *c, float *data, size_t n, int reduce)
{
    sv_comm_nccl *nc = (sv_comm_nccl *)c;
    const char *what = reduce ? "ncclReduce (sharded gradients)" : "ncclBroadcast (sharded parameters)";
    SV_TRY(nccl_usable(nc));
    if (n == 0) return SIMVTP_OK;
    int on_device;
    SV_TRY(nccl_where(nc, data, &on_device, what));
    cudaError_t e = cudaDeviceSynchronize();
    if (e != cudaSuccess) return cuda_fail(e, "cudaDeviceSynchronize before a sharded NCCL collective");
    float *buf = data;
    if (!on_device) {
        SV_TRY(nccl_reserve(nc, n));
        buf = nc->dbuf;
        e = cudaMemcpyAsync(buf, data, n * sizeof(float), cudaMemcpyHostToDevice, nc->stream);
        if (e != cudaSuccess) return cuda_fail(e, "cudaMemcpyAsync (host to device) for a sharded NCCL collective");
    }
    ncclResult_t r = ncclGroupStart();
    for (int k = 0; k < c->size && r == ncclSuccess; k++) {
        size_t lo, len;
        sv_shard_range(n, c->size, k, &lo, &len);
        if (len == 0) continue;
        r = reduce ? ncclReduce(buf + lo, buf + lo, len, ncclFloat, ncclSum, k, nc->comm, nc->stream)
                   : ncclBroadcast(buf + lo, buf + lo, len, ncclFloat, k, nc->comm, nc->stream);
    }
    const ncclResult_t rend = ncclGroupEnd();
    if (r == ncclSuccess) r = rend;
    if (r != ncclSuccess) return nccl_abort(nc, nccl_fail(nc->comm, r, what));
    if (!on_device) {
        e = cudaMemcpyAsync(data, buf, n * sizeof(float), cudaMemcpyDeviceToHost, nc->stream);
        if (e != cudaSuccess) return nccl_abort(nc, cuda_fail(e, "cudaMemcpyAsync (device to host) after a sharded NCCL collective"));
    }
    return nccl_wait(nc, what);
}

static int nccl_reduce_shards(simvtp_comm *c, float *data, size_t n) { return nccl_shards(c, data, n, 1); }
static int nccl_gather_shards(simvtp_comm *c, float *data, size_t n) { return nccl_shards(c, data, n, 0); }

/* recv[size*n] = every rank's n floats of send, in rank order
 * (ncclAllGather): device memory of the communicator's device directly,
 * host memory through the device buffer. */
static int nccl_allgather(simvtp_comm *c, const float *send, float *recv, size_t n)
{
    sv_comm_nccl *nc = (sv_comm_nccl *)c;
    SV_TRY(nccl_usable(nc));
    if (n == 0) return SIMVTP_OK;
    int send_dev, recv_dev;
    SV_TRY(nccl_where(nc, send, &send_dev, "ncclAllGather"));
    SV_TRY(nccl_where(nc, recv, &recv_dev, "ncclAllGather"));
    if (send_dev != recv_dev)
        return sv_fail(SIMVTP_ERR_INVALID_ARG, "NCCL all-gather: one buffer in device memory, one in host memory");
    cudaError_t e = cudaDeviceSynchronize();
    if (e != cudaSuccess) return cuda_fail(e, "cudaDeviceSynchronize before the NCCL all-gather");
    const size_t all = (size_t)c->size * n;
    const float *sbuf = send;
    float *rbuf = recv;
    if (!send_dev) {
        SV_TRY(nccl_reserve(nc, all));
        rbuf = nc->dbuf;
        sbuf = rbuf + (size_t)c->rank * n; /* in place: this rank's slot */
        e = cudaMemcpyAsync(rbuf + (size_t)c->rank * n, send, n * sizeof(float), cudaMemcpyHostToDevice, nc->stream);
        if (e != cudaSuccess) return cuda_fail(e, "cudaMemcpyAsync (host to device) for the NCCL all-gather");
    }
    ncclResult_t r = ncclAllGather(sbuf, rbuf, n, ncclFloat, nc->comm, nc->stream);
    if (r != ncclSuccess) return nccl_abort(nc, nccl_fail(nc->comm, r, "ncclAllGather"));
    if (!send_dev) {
        e = cudaMemcpyAsync(recv, rbuf, all * sizeof(float), cudaMemcpyDeviceToHost, nc->stream);
        if (e != cudaSuccess) return nccl_abort(nc, cuda_fail(e, "cudaMemcpyAsync (device to host) after the NCCL all-gather"));
    }
    return nccl_wait(nc, "ncclAllGather");
}

/* n doubles of host memory, through the device buffer (2n floats of it). */
static int nccl_allreduce_f64(simvtp_comm *c, double *data, size_t n)
{
    sv_comm_nccl *nc = (sv_comm_nccl *)c;
    SV_TRY(nccl_usable(nc));
    if (n == 0) return SIMVTP_OK;
    SV_TRY(nccl_reserve(nc, 2 * n));
    const size_t bytes = n * sizeof(double);
    cudaError_t e = cudaMemcpyAsync(nc->dbuf, data, bytes, cudaMemcpyHostToDevice, nc->stream);
    if (e != cudaSuccess) return cuda_fail(e, "cudaMemcpyAsync (host to device) for the NCCL all-reduce");
    ncclResult_t r = ncclAllReduce(nc->dbuf, nc->dbuf, n, ncclDouble, ncclSum, nc->comm, nc->stream);
    if (r != ncclSuccess) return nccl_abort(nc, nccl_fail(nc->comm, r, "ncclAllReduce (double)"));
    e = cudaMemcpyAsync(data, nc->dbuf, bytes, cudaMemcpyDeviceToHost, nc->stream);
    if (e != cudaSuccess) return nccl_abort(nc, cuda_fail(e, "cudaMemcpyAsync (device to host) after the NCCL all-reduce"));
    return nccl_wait(nc, "ncclAllReduce (double)");
}

/* The overlapped gradient sum: ncclAllReduce on the communicator's stream,
 * ordered after the work queued so far on the backend's stream (an event,
 * no host wait; without the backend's stream, after the whole device).
 * Device memory only: host memory is summed at once. */
static int nccl_allreduce_start(simvtp_comm *c, const struct sv_backend *be, float *data, size_t n)
{
    sv_comm_nccl *nc = (sv_comm_nccl *)c;
    SV_TRY(nccl_usable(nc));
    if (n == 0) return SIMVTP_OK;
    int on_device;
    SV_TRY(nccl_where(nc, data, &on_device, "the overlapped gradient sum"));
    if (!on_device) return nccl_allreduce_sum(c, data, n);
    cudaStream_t after = be && be->queue ? (cudaStream_t)be->queue() : NULL;
    cudaError_t e;
    if (after) {
        if (!nc->after && (e = cudaEventCreateWithFlags(&nc->after, cudaEventDisableTiming)) != cudaSuccess)
            return cuda_fail(e, "cudaEventCreateWithFlags");
        if ((e = cudaEventRecord(nc->after, after)) != cudaSuccess ||
            (e = cudaStreamWaitEvent(nc->stream, nc->after, 0)) != cudaSuccess)
            return cuda_fail(e, "ordering the NCCL all-reduce after the backward");
    } else if ((e = cudaDeviceSynchronize()) != cudaSuccess) {
        return cuda_fail(e, "cudaDeviceSynchronize before the NCCL all-reduce");
    }
    ncclResult_t r = ncclAllReduce(data, data, n, ncclFloat, ncclSum, nc->comm, nc->stream);
    if (r != ncclSuccess) return nccl_abort(nc, nccl_fail(nc->comm, r, "ncclAllReduce (overlapped)"));
    nc->pending = 1;
    return SIMVTP_OK;
}

static int nccl_allreduce_finish(simvtp_comm *c)
{
    sv_comm_nccl *nc = (sv_comm_nccl *)c;
    if (!nc->pending) return SIMVTP_OK;
    nc->pending = 0;
    SV_TRY(nccl_usable(nc));
    return nccl_wait(nc, "ncclAllReduce (overlapped)");
}

static int nccl_barrier(simvtp_comm *c)
{
    sv_comm_nccl *nc = (sv_comm_nccl *)c;
    SV_TRY(nccl_usable(nc));
    SV_TRY(nccl_reserve(nc, 1));
    ncclResult_t r = ncclAllReduce(nc->dbuf, nc->dbuf, 1, ncclFloat, ncclSum, nc->comm, nc->stream);
    if (r != ncclSuccess) return nccl_abort(nc, nccl_fail(nc->comm, r, "ncclAllReduce (barrier)"));
    return nccl_wait(nc, "ncclAllReduce (barrier)");
}

static void nccl_destroy(simvtp_comm *c)
{
    sv_comm_nccl *nc = (sv_comm_nccl *)c;
    cudaSetDevice(c->device);
    if (nc->comm) ncclCommDestroy(nc->comm);
    if (nc->dbuf) cudaFree(nc->dbuf);
    if (nc->after) cudaEventDestroy(nc->after);
    if (nc->stream) cudaStreamDestroy(nc->stream);
    cudaGetLastError();
    free(nc);
}

static const sv_comm_ops nccl_ops = {
    .name = "nccl",
    .device_memory = 1,
    .allreduce_sum = nccl_allreduce_sum,
    .barrier = nccl_barrier,
    .allgather = nccl_allgather,
    .reduce_shards = nccl_reduce_shards,
    .gather_shards = nccl_gather_shards,
    .allreduce_f64 = nccl_allreduce_f64,
    .allreduce_start = nccl_allreduce_start,
    .allreduce_finish = nccl_allreduce_finish,
    .destroy = nccl_destroy,
};

static int make_unique_id(void *blob, void *ctx)
{
    (void)ctx;
    ncclResult_t r = ncclGetUniqueId((ncclUniqueId *)blob);
    return r == ncclSuccess ? SIMVTP_OK : nccl_fail(NULL, r, "ncclGetUniqueId");
}

/* The world and the id through the environment and the shared id file. */
static int env_bootstrap(int want, int ndev, ncclUniqueId *id, int *rank, int *size, int *device,
                         const char **id_file)
{
    sv_env_world w;
    SV_TRY(sv_env_world_get(&w));
    *rank = w.rank;
    *size = w.size;
    *id_file = NULL;
    const char *path = getenv("SIMVTP_NCCL_ID_FILE");
    if (w.size > 1 && (!path || !*path))
        return sv_fail(SIMVTP_ERR_INVALID_ARG,
                       "simvtp_comm_create_nccl: a world of %d ranks (from %s) needs SIMVTP_NCCL_ID_FILE, a path "
                       "on a file system every rank shares, to hand the NCCL id from rank 0 to the others (or "
                       "launch with mpirun/srun and a libsimvtp built with MPI)", w.size, w.source);
    int rc = sv_pick_cuda_device(want, w.local_rank, ndev, device);
    if (w.rank == 0) {
        if (rc == SIMVTP_OK) rc = make_unique_id(id, NULL);
        if (w.size > 1) {
            /* Tell the other ranks about a failure too, so they stop waiting. */
            char why[512] = "";
            if (rc != SIMVTP_OK) snprintf(why, sizeof why, "%s", simvtp_last_error());
            const int prc = sv_id_file_publish(path, w.size, id, sizeof *id, rc == SIMVTP_OK ? NULL : why);
            if (rc != SIMVTP_OK) return prc == SIMVTP_OK ? rc : sv_fail(rc, "%s", why);
            if (prc != SIMVTP_OK) return prc;
            *id_file = path;
        }
        return rc;
    }
    SV_TRY(rc);
    return sv_id_file_wait(path, w.size, id, sizeof *id, sv_nccl_timeout());
}

int simvtp_comm_create_nccl(simvtp_comm **out, const char *device)
{
    sv_clear_error();
    SV_CHECK_ARG(out, "simvtp_comm_create_nccl: out is NULL");
    *out = NULL;
    int want = -1;
    SV_TRY(sv_parse_cuda_device(device, &want));

    /* Every rank checks for a GPU before any rank-to-rank step: on a machine
     * without one, all ranks fail alike instead of waiting for each other. */
    int ndev = 0;
    cudaError_t e = cudaGetDeviceCount(&ndev);
    if (e != cudaSuccess || ndev <= 0) {
        cudaGetLastError();
        return sv_fail(SIMVTP_ERR_UNSUPPORTED, "simvtp_comm_create_nccl: no usable CUDA device (%s)",
                       e != cudaSuccess ? cudaGetErrorString(e) : "cudaGetDeviceCount found none");
    }

    const char *boot = getenv("SIMVTP_NCCL_BOOTSTRAP");
    int use_mpi;
    if (boot && !strcmp(boot, "mpi")) use_mpi = 1;
    else if (boot && !strcmp(boot, "env")) use_mpi = 0;
    else if (boot && *boot)
        return sv_fail(SIMVTP_ERR_INVALID_ARG, "SIMVTP_NCCL_BOOTSTRAP=\"%s\": use \"mpi\" or \"env\"", boot);
    else /* explicit RANK/WORLD_SIZE (torchrun) win over an MPI launcher's variables */
        use_mpi = sv_mpi_launched() && !(getenv("RANK") && getenv("WORLD_SIZE"));

    ncclUniqueId id;
    memset(&id, 0, sizeof id);
    int rank = 0, size = 1, dev = -1, local = -1;
    const char *id_file = NULL;
    if (use_mpi) {
        SV_TRY(sv_mpi_bootstrap(&id, sizeof id, make_unique_id, NULL, &rank, &size, &local));
        SV_TRY(sv_pick_cuda_device(want, local, ndev, &dev));
    } else {
        SV_TRY(env_bootstrap(want, ndev, &id, &rank, &size, &dev, &id_file));
    }

    int rc = SIMVTP_OK;
    sv_comm_nccl *nc = calloc(1, sizeof *nc);
    if (!nc) {
        rc = sv_fail(SIMVTP_ERR_NOMEM, "out of memory for a communicator");
        goto fail;
    }
    if ((e = cudaSetDevice(dev)) != cudaSuccess) {
        rc = cuda_fail(e, "cudaSetDevice");
        goto fail;
    }
    if ((e = cudaStreamCreateWithFlags(&nc->stream, cudaStreamNonBlocking)) != cudaSuccess) {
        nc->stream = NULL;
        rc = cuda_fail(e, "cudaStreamCreateWithFlags");
        goto fail;
    }
    /* Collective: returns once every rank has joined. */
    ncclResult_t r = ncclCommInitRank(&nc->comm, size, id, rank);
    if (r != ncclSuccess) {
        nc->comm = NULL;
        rc = nccl_fail(NULL, r, "ncclCommInitRank");
        goto fail;
    }
    if (id_file) sv_id_file_remove(id_file); /* every rank has read it */
    nc->base.ops = &nccl_ops;
    nc->base.rank = rank;
    nc->base.size = size;
    nc->base.device = dev;
    nc->base.chunk = SV_COMM_DEFAULT_CHUNK;
    sv_log(SIMVTP_LOG_DEBUG, "NCCL communicator: rank %d of %d on cuda:%d (bootstrap: %s)", rank, size, dev,
           use_mpi ? "MPI" : "environment");
    *out = &nc->base;
    return SIMVTP_OK;

fail:
    if (id_file) sv_id_file_remove(id_file);
    if (nc) {
        if (nc->stream) cudaStreamDestroy(nc->stream);
        free(nc);
    }
    return rc;
}

#else /* !SIMVTP_HAVE_NCCL */

int simvtp_comm_create_nccl(simvtp_comm **out, const char *device)
{
    (void)device;
    sv_clear_error();
    SV_CHECK_ARG(out, "simvtp_comm_create_nccl: out is NULL");
    *out = NULL;
    return sv_fail(SIMVTP_ERR_UNSUPPORTED,
                   "simvtp_comm_create_nccl: libsimvtp was built without NCCL (it needs the CUDA runtime and "
                   "NCCL: /usr/local/cuda, -Dnccl_dir=DIR, or pip's nvidia-nccl-cu* and nvidia-cuda-runtime-cu*; "
                   "reconfigure with -Dnccl=enabled)");
}

#endif

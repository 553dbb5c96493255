/* test_nccl.c — the NCCL communicator on real GPUs (suite 'cuda', also
 * 'distributed'; plain C, no Check). Exits 77 when libsimvtp was built
 * without NCCL or no CUDA device is usable.
 *
 * One GPU: a world of one rank from the environment (RANK=0 WORLD_SIZE=1
 * LOCAL_RANK=0, SIMVTP_NCCL_ID_FILE set): the constructor's error paths,
 * the all-reduce of a device buffer (in place) and of a host buffer (staged
 * in chunks), the barrier, the optimizer's gradient reduction on the model's
 * backend memory (in place and staged through the host), and training with
 * the communicator bit-identical to training without one.
 *
 * Two or more GPUs, in addition: a world of two ranks (this process and a
 * re-executed copy of it, `test_nccl --worker`) on cuda:0 and cuda:1 through
 * the shared id file: sums of rank-dependent device and host buffers, and
 * 3 training steps after which both ranks hold bit-identical weights. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cuda_runtime.h>

#include "simvtp_build_config.h"
#include "simvtp/simvtp.h"
#include "core/rng.h"
#include "model/model.h"
#include "train/comm_internal.h"

#define B 2
#define L 6

static int failures;

#define CHECK(cond, what)                                                                          \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "FAIL %s:%d: %s (%s) [last error: %s]\n", __FILE__, __LINE__, what,   \
                    #cond, simvtp_last_error());                                                   \
            failures++;                                                                            \
        }                                                                                          \
    } while (0)

static simvtp_config tiny_config(void)
{
    simvtp_config c;
    simvtp_config_preset("tiny", &c);
    c.frames = 4; c.height = 32; c.width = 32;
    c.video_mask_ratio = 0.5f;
    c.enc_width = 16; c.enc_depth = 1; c.enc_heads = 2; c.enc_mlp = 32;
    c.dec_width = 16; c.dec_depth = 1; c.dec_heads = 2; c.dec_mlp = 32;
    c.vocab_size = 140; c.max_text_len = 8;
    return c;
}

/* A batch that depends on (step, rank) only. */
static void make_batch(int step, int rank, uint8_t *frames, size_t fs, int32_t *tok, int32_t *len)
{
    sv_rng g;
    sv_rng_seed(&g, 1000u + 17u * (uint64_t)step + (uint64_t)rank);
    for (size_t i = 0; i < B * fs; i++) frames[i] = (uint8_t)sv_rng_below(&g, 256);
    len[0] = 6;
    len[1] = 4;
    for (int s = 0; s < B; s++)
        for (int l = 0; l < L; l++)
            tok[s * L + l] = l == 0 ? 101 : l == len[s] - 1 ? 102 : l < len[s] ? 104 + (int)sv_rng_below(&g, 30) : 0;
}

/* Trains `steps` micro-batches (accum_steps 1) on `backend`, with `comm` set
 * when use_comm; returns the final weights (host copy, caller frees) and
 * their count, and the losses. NULL on a failure (counted). */
static float *train(const char *backend, simvtp_comm *comm, int use_comm, int rank, int steps, float *losses,
                    size_t *nparams)
{
    simvtp_config c = tiny_config();
    simvtp_model_params mp;
    simvtp_model_default_params(&mp);
    mp.backend = backend;
    mp.seed = 5;
    simvtp_model *m = NULL;
    simvtp_optimizer *o = NULL;
    float *out = NULL;
    int rc = simvtp_model_create(&c, &mp, &m);
    CHECK(rc == SIMVTP_OK, "model_create");
    if (rc) return NULL;
    simvtp_optimizer_params op;
    simvtp_optimizer_default_params(&op);
    op.lr = 1e-3f; op.seed = 3; op.clip_norm = 0.5f;
    rc = simvtp_optimizer_create(m, &op, &o);
    CHECK(rc == SIMVTP_OK, "optimizer_create");
    if (rc == SIMVTP_OK && use_comm) {
        rc = simvtp_optimizer_set_comm(o, comm);
        CHECK(rc == SIMVTP_OK, "set_comm");
    }
    if (rc == SIMVTP_OK && use_comm == 2) { /* sharded optimizer state (ZeRO-1) */
        rc = simvtp_optimizer_set_sharding(o, 1);
        CHECK(rc == SIMVTP_OK, "set_sharding");
    }
    const size_t fs = (size_t)c.frames * c.height * c.width * 3;
    uint8_t *frames = malloc(B * fs);
    int32_t tok[B * L], len[B];
    for (int k = 0; k < steps && rc == SIMVTP_OK; k++) {
        make_batch(k, rank, frames, fs, tok, len);
        simvtp_batch b = {sizeof b, B, frames, L, tok, len};
        simvtp_losses ls = {sizeof ls};
        rc = simvtp_train_step(o, &b, &ls, NULL);
        CHECK(rc == SIMVTP_OK, "train_step");
        losses[k] = ls.total;
    }
    if (rc == SIMVTP_OK) {
        *nparams = m->nparams;
        out = malloc(m->nparams * sizeof(float));
        m->be->memcpy_d2h(out, m->params, m->nparams * sizeof(float));
        if (m->be->finish) CHECK(m->be->finish(m->be) == SIMVTP_OK, "backend finish after reading weights");
    }
    free(frames);
    simvtp_optimizer_free(o);
    simvtp_model_free(m);
    return out;
}

/* Device and host all-reduce of (rank+1) * pattern: the sum is
 * world*(world+1)/2 * pattern, exact in float for these small integers. */
static void check_sums(simvtp_comm *comm, size_t n)
{
    const int rank = simvtp_comm_rank(comm), world = simvtp_comm_size(comm);
    const float mult = (float)(world * (world + 1) / 2);
    float *h = malloc(n * sizeof(float)), *back = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) h[i] = (float)(rank + 1) * (float)((int)(i % 97) - 40);

    float *d = NULL;
    CHECK(cudaSetDevice(simvtp_comm_device(comm)) == cudaSuccess, "cudaSetDevice");
    CHECK(cudaMalloc((void **)&d, n * sizeof(float)) == cudaSuccess, "cudaMalloc");
    CHECK(cudaMemcpy(d, h, n * sizeof(float), cudaMemcpyHostToDevice) == cudaSuccess, "cudaMemcpy h2d");
    CHECK(simvtp_comm_allreduce_sum(comm, d, n) == SIMVTP_OK, "allreduce of a device buffer");
    CHECK(cudaMemcpy(back, d, n * sizeof(float), cudaMemcpyDeviceToHost) == cudaSuccess, "cudaMemcpy d2h");
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) bad += back[i] != mult * (float)((int)(i % 97) - 40);
    CHECK(bad == 0, "device all-reduce sum");
    cudaFree(d);

    /* Host memory, staged in chunks of 7 floats (a tail of n % 7). */
    const size_t chunk = comm->chunk;
    comm->chunk = 7;
    memcpy(back, h, n * sizeof(float));
    CHECK(simvtp_comm_allreduce_sum(comm, back, n) == SIMVTP_OK, "allreduce of a host buffer");
    comm->chunk = chunk;
    bad = 0;
    for (size_t i = 0; i < n; i++) bad += back[i] != mult * (float)((int)(i % 97) - 40);
    CHECK(bad == 0, "host all-reduce sum");
    CHECK(simvtp_comm_allreduce_sum(comm, back, 0) == SIMVTP_OK, "an empty all-reduce");
    CHECK(simvtp_comm_barrier(comm) == SIMVTP_OK, "barrier");
    free(h);
    free(back);
}

static const char *model_backend(int device, char *buf, size_t cap)
{
    snprintf(buf, cap, "cuda:%d", device);
    const sv_backend *be;
    if (sv_backend_get(buf, &be) == SIMVTP_OK) return buf;
    fprintf(stderr, "note: backend %s unavailable (%s): the models train on the CPU (host buffers)\n", buf,
            simvtp_last_error());
    return "cpu";
}

/* The optimizer's reduction of real gradients in backend memory, in place
 * and staged through the host: with one rank both leave them unchanged. */
static void check_grad_reduce(simvtp_comm *comm, const char *backend)
{
    simvtp_config c = tiny_config();
    simvtp_model_params mp;
    simvtp_model_default_params(&mp);
    mp.backend = backend;
    simvtp_model *m = NULL;
    CHECK(simvtp_model_create(&c, &mp, &m) == SIMVTP_OK, "model_create");
    if (!m) return;
    const size_t fs = (size_t)c.frames * c.height * c.width * 3;
    uint8_t *frames = malloc(B * fs);
    int32_t tok[B * L], len[B];
    make_batch(0, 0, frames, fs, tok, len);
    simvtp_batch b = {sizeof b, B, frames, L, tok, len};
    simvtp_losses ls = {sizeof ls};
    CHECK(simvtp_model_forward_backward(m, &b, 7, 1.0f, &ls) == SIMVTP_OK, "forward_backward");
    const size_t n = m->nparams;
    float *g0 = malloc(n * sizeof(float)), *g1 = malloc(n * sizeof(float));
    m->be->memcpy_d2h(g0, m->grads, n * sizeof(float));
    size_t nonzero = 0;
    for (size_t i = 0; i < n; i++) nonzero += g0[i] != 0.0f;
    CHECK(nonzero > n / 2, "the backward filled the gradients");

    CHECK(sv_comm_reduce_backend(comm, m->be, m->grads, n) == SIMVTP_OK, "in-place gradient reduction");
    m->be->memcpy_d2h(g1, m->grads, n * sizeof(float));
    CHECK(memcmp(g0, g1, n * sizeof(float)) == 0, "one rank: gradients unchanged (in place)");

    const size_t chunk = comm->chunk;
    comm->chunk = 1000;
    CHECK(sv_comm_reduce_staged(comm, m->be, m->grads, n) == SIMVTP_OK, "staged gradient reduction");
    comm->chunk = chunk;
    m->be->memcpy_d2h(g1, m->grads, n * sizeof(float));
    CHECK(memcmp(g0, g1, n * sizeof(float)) == 0, "one rank: gradients unchanged (staged)");
    if (m->be->finish) CHECK(m->be->finish(m->be) == SIMVTP_OK, "backend finish");
    free(g0);
    free(g1);
    free(frames);
    simvtp_model_free(m);
}

static void one_rank(const char *id_file, int ndev)
{
    setenv("RANK", "0", 1);
    setenv("WORLD_SIZE", "1", 1);
    setenv("LOCAL_RANK", "0", 1);
    setenv("SIMVTP_NCCL_ID_FILE", id_file, 1);

    simvtp_comm *comm = (simvtp_comm *)1;
    CHECK(simvtp_comm_create_nccl(NULL, NULL) == SIMVTP_ERR_INVALID_ARG, "NULL out");
    CHECK(simvtp_comm_create_nccl(&comm, "gpu0") == SIMVTP_ERR_INVALID_ARG && comm == NULL, "bad device string");
    char dev[32];
    snprintf(dev, sizeof dev, "cuda:%d", ndev);
    CHECK(simvtp_comm_create_nccl(&comm, dev) == SIMVTP_ERR_INVALID_ARG, "device beyond the count");
    CHECK(strstr(simvtp_last_error(), "does not exist") != NULL, "its message");

    CHECK(simvtp_comm_create_nccl(&comm, "cuda:0:fp32") == SIMVTP_OK, "create (one rank, cuda:0:fp32)");
    if (!comm) return;
    CHECK(simvtp_comm_rank(comm) == 0 && simvtp_comm_size(comm) == 1, "rank 0 of 1");
    CHECK(simvtp_comm_device(comm) == 0, "device 0");
    CHECK(simvtp_comm_allreduce_sum(comm, NULL, 3) == SIMVTP_ERR_INVALID_ARG, "NULL data");
    check_sums(comm, 1000);
    check_sums(comm, 1);

    char buf[32];
    const char *backend = model_backend(0, buf, sizeof buf);
    check_grad_reduce(comm, backend);

    /* Training with the communicator == without (a world of one). */
    float la[4], lb[4];
    size_t na = 0, nb = 0;
    float *a = train(backend, NULL, 0, 0, 4, la, &na);
    float *b = train(backend, comm, 1, 0, 4, lb, &nb);
    CHECK(a && b && na == nb, "both runs trained");
    if (a && b && na == nb) {
        CHECK(memcmp(la, lb, sizeof la) == 0, "losses bit-identical with and without the communicator");
        CHECK(memcmp(a, b, na * sizeof(float)) == 0, "weights bit-identical with and without the communicator");
    }
    float lc[4];
    size_t nc = 0;
    float *sh = train(backend, comm, 2, 0, 4, lc, &nc); /* sharded over one rank: NCCL reduce/broadcast */
    CHECK(a && sh && na == nc, "the sharded run trained");
    if (a && sh && na == nc) {
        CHECK(memcmp(la, lc, sizeof la) == 0, "losses bit-identical with the sharded optimizer state");
        CHECK(memcmp(a, sh, na * sizeof(float)) == 0, "weights bit-identical with the sharded optimizer state");
    }
    float g_send[3] = {1.5f, -2.0f, 7.25f}, g_recv[3] = {0};
    CHECK(comm->ops->allgather(comm, g_send, g_recv, 3) == SIMVTP_OK && memcmp(g_send, g_recv, sizeof g_recv) == 0,
          "all-gather of a host buffer (one rank)");
    double d2[2] = {1.25, -3.5};
    CHECK(comm->ops->allreduce_f64(comm, d2, 2) == SIMVTP_OK && d2[0] == 1.25 && d2[1] == -3.5,
          "all-reduce of doubles (one rank)");
    free(sh);
    free(a);
    free(b);
    simvtp_comm_free(comm);
    CHECK(access(id_file, F_OK) != 0, "a world of one writes no id file");
}

/* One rank of the two-rank world (this process as rank 0, the worker as 1). */
static void two_ranks(int rank)
{
    simvtp_comm *comm = NULL;
    CHECK(simvtp_comm_create_nccl(&comm, NULL) == SIMVTP_OK, "create (two ranks)");
    if (!comm) return;
    CHECK(simvtp_comm_rank(comm) == rank && simvtp_comm_size(comm) == 2, "rank of 2");
    CHECK(simvtp_comm_device(comm) == rank, "device = LOCAL_RANK");
    if (rank == 0) CHECK(access(getenv("SIMVTP_NCCL_ID_FILE"), F_OK) != 0, "rank 0 removed the id file");
    check_sums(comm, 100003);

    char buf[32];
    const char *backend = model_backend(simvtp_comm_device(comm), buf, sizeof buf);
    float ls[3];
    size_t n = 0;
    float *w = train(backend, comm, 1, rank, 3, ls, &n);
    if (w) {
        /* w + w is exact: the sum equals 2 w on both ranks iff the ranks agree. */
        float *sum = malloc(n * sizeof(float));
        memcpy(sum, w, n * sizeof(float));
        CHECK(simvtp_comm_allreduce_sum(comm, sum, n) == SIMVTP_OK, "all-reduce of the weights");
        size_t bad = 0;
        for (size_t i = 0; i < n; i++) bad += sum[i] != 2.0f * w[i];
        CHECK(bad == 0, "weights bit-identical on both ranks after 3 updates");
        float l = ls[0], lsum = ls[0];
        CHECK(simvtp_comm_allreduce_sum(comm, &lsum, 1) == SIMVTP_OK, "loss all-reduce");
        CHECK(lsum != 2.0f * l, "the ranks trained on different batches");
        /* The sharded optimizer state: on two ranks a sum of two floats does
         * not depend on its order, so the weights are the same bit for bit. */
        float lz[3];
        size_t nz = 0;
        float *wz = train(backend, comm, 2, rank, 3, lz, &nz);
        CHECK(wz && nz == n && memcmp(wz, w, n * sizeof(float)) == 0 && memcmp(lz, ls, sizeof lz) == 0,
              "sharded run (reduce-scatter, all-gather) bit-identical to the all-reduce run");
        free(wz);
        /* The global-batch contrastive loss over NCCL (device features). */
        CHECK(simvtp_comm_set_global_contrastive(comm, 1) == SIMVTP_OK, "global VTC on");
        float lg[3];
        size_t ng = 0;
        float *wg = train(backend, comm, 1, rank, 3, lg, &ng);
        CHECK(wg && ng == n && memcmp(wg, w, n * sizeof(float)) != 0, "global VTC trained, other weights");
        if (wg) {
            memcpy(sum, wg, n * sizeof(float));
            CHECK(simvtp_comm_allreduce_sum(comm, sum, n) == SIMVTP_OK, "all-reduce of the weights");
            size_t badg = 0;
            for (size_t i = 0; i < n; i++) badg += sum[i] != 2.0f * wg[i];
            CHECK(badg == 0, "global VTC: weights bit-identical on both ranks");
        }
        CHECK(simvtp_comm_set_global_contrastive(comm, 0) == SIMVTP_OK, "global VTC off");
        free(wg);
        free(sum);
        free(w);
    }
    simvtp_comm_free(comm);
}

int main(int argc, char **argv)
{
    setenv("SIMVTP_NCCL_BOOTSTRAP", "env", 0);
    if (argc == 2 && !strcmp(argv[1], "--worker")) { /* rank 1 of two_ranks, environment set by rank 0 */
        two_ranks(1);
        return failures ? 1 : 0;
    }

    simvtp_comm *probe = NULL;
    int ndev = 0;
    if (!SIMVTP_HAVE_NCCL || cudaGetDeviceCount(&ndev) != cudaSuccess || ndev < 1) {
        printf("SKIP: no NCCL build or no CUDA device\n");
        return 77;
    }
    unsetenv("RANK");
    unsetenv("WORLD_SIZE");
    unsetenv("LOCAL_RANK");
    if (simvtp_comm_create_nccl(&probe, NULL) == SIMVTP_ERR_UNSUPPORTED) {
        printf("SKIP: %s\n", simvtp_last_error());
        return 77;
    }
    simvtp_comm_free(probe);

    const char *tmpdir = getenv("SIMVTP_TEST_TMPDIR");
    if (!tmpdir || !*tmpdir) tmpdir = getenv("TMPDIR");
    if (!tmpdir || !*tmpdir) tmpdir = "/tmp";
    char id_file[4096];
    snprintf(id_file, sizeof id_file, "%s/test_nccl.%ld.id", tmpdir, (long)getpid());
    unlink(id_file);

    one_rank(id_file, ndev);
    printf("one rank: %s\n", failures ? "FAILED" : "ok");

    if (ndev >= 2) {
        setenv("WORLD_SIZE", "2", 1);
        setenv("SIMVTP_NCCL_ID_FILE", id_file, 1);
        if (!getenv("SIMVTP_NCCL_TIMEOUT")) setenv("SIMVTP_NCCL_TIMEOUT", "120", 1);
        fflush(NULL);
        pid_t pid = fork();
        if (pid == 0) { /* exec at once: the child must not touch the parent's CUDA context */
            setenv("RANK", "1", 1);
            setenv("LOCAL_RANK", "1", 1);
            execl("/proc/self/exe", argv[0], "--worker", (char *)NULL);
            _exit(127);
        }
        CHECK(pid > 0, "fork");
        setenv("RANK", "0", 1);
        setenv("LOCAL_RANK", "0", 1);
        const int before = failures;
        if (pid > 0) two_ranks(0);
        int st = 0;
        if (pid > 0) {
            while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
            CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the rank-1 worker succeeded");
        }
        printf("two ranks: %s\n", failures > before ? "FAILED" : "ok");
        unlink(id_file);
    } else {
        printf("two ranks: skipped (one GPU)\n");
    }
    return failures ? 1 : 0;
}

/* test_comm_staging.c — the communicator glue that needs no GPU (suite
 * 'distributed'; plain C, no Check):
 *   - the gradient reduction on backend memory (train/comm.c): staged
 *     through a host buffer in chunks when the backend's memory is not host
 *     memory and the communicator takes host memory only (as MPI ranks with
 *     CUDA models), in place otherwise; the backend drained first and its
 *     errors returned; checked with a fake backend table (host_memory = 0,
 *     counting copies) and a fake two-rank communicator (sum = 2x), also
 *     through sv_optimizer_reduce_grads on a real model;
 *   - the device check of simvtp_optimizer_set_comm;
 *   - the NCCL bootstrap without NCCL (train/comm_bootstrap.c): launcher
 *     variables, device strings, device choice, and the id file between
 *     processes (atomic publish, wait, timeout, error record, stale world);
 *   - simvtp_comm_create_nccl's SIMVTP_ERR_UNSUPPORTED in a build without
 *     NCCL or on a machine without a GPU. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "simvtp_build_config.h"
#include "simvtp/simvtp.h"
#include "core/backend.h"
#include "core/status_internal.h"
#include "model/model.h"
#include "train/comm_internal.h"
#include "train/optim_internal.h"

static int failures;

#define CHECK(cond, what)                                                                          \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "FAIL %s:%d: %s (%s) [last error: %s]\n", __FILE__, __LINE__, what,   \
                    #cond, simvtp_last_error());                                                   \
            failures++;                                                                            \
        }                                                                                          \
    } while (0)

/* ---- a fake backend: "device" memory is host memory that only the copies touch ---- */
static int n_d2h, n_h2d, n_finish, finish_rc;
static void fake_d2h(void *dst, const void *src, size_t bytes) { n_d2h++; memcpy(dst, src, bytes); }
static void fake_h2d(void *dst, const void *src, size_t bytes) { n_h2d++; memcpy(dst, src, bytes); }
static int fake_finish(const sv_backend *be)
{
    (void)be;
    n_finish++;
    const int rc = finish_rc;
    finish_rc = SIMVTP_OK;
    return rc ? sv_fail(rc, "fake backend: a queued op failed") : SIMVTP_OK;
}

/* ---- a fake communicator of two identical ranks: the sum doubles ---- */
static int n_reduce, fail_at_call;
static size_t max_count;
static const float *reduce_ptr_seen;
static int fake_allreduce(simvtp_comm *c, float *data, size_t n)
{
    (void)c;
    n_reduce++;
    reduce_ptr_seen = data;
    if (n > max_count) max_count = n;
    if (fail_at_call && n_reduce == fail_at_call) return sv_fail(SIMVTP_ERR_IO, "fake all-reduce failed");
    for (size_t i = 0; i < n; i++) data[i] *= 2.0f;
    return SIMVTP_OK;
}
static int fake_barrier(simvtp_comm *c) { (void)c; return SIMVTP_OK; }
static void fake_destroy(simvtp_comm *c) { (void)c; }
static const sv_comm_ops host_ops = {.name = "fake-host", .device_memory = 0, .allreduce_sum = fake_allreduce,
                                     .barrier = fake_barrier, .destroy = fake_destroy};
static const sv_comm_ops dev_ops = {.name = "fake-device", .device_memory = 1, .allreduce_sum = fake_allreduce,
                                    .barrier = fake_barrier, .destroy = fake_destroy};

static void reset_counts(void)
{
    n_d2h = n_h2d = n_finish = n_reduce = fail_at_call = 0;
    finish_rc = SIMVTP_OK;
    max_count = 0;
    reduce_ptr_seen = NULL;
}

static sv_backend fake_backend(int host_memory, int device)
{
    sv_backend be = sv_backend_cpu; /* kernels of the CPU; memory is host memory in truth */
    be.name = "fake-device";
    be.host_memory = host_memory;
    be.device = device;
    be.memcpy_d2h = fake_d2h;
    be.memcpy_h2d = fake_h2d;
    be.finish = fake_finish;
    return be;
}

static void test_staged(void)
{
    sv_backend be = fake_backend(0, 0);
    simvtp_comm c = {.ops = &host_ops, .rank = 0, .size = 2, .device = -1, .chunk = 7};
    float x[100];
    for (int i = 0; i < 100; i++) x[i] = (float)i - 30.5f;

    reset_counts();
    CHECK(sv_comm_reduce_backend(&c, &be, x, 100) == SIMVTP_OK, "staged reduction");
    int bad = 0;
    for (int i = 0; i < 100; i++) bad += x[i] != 2.0f * ((float)i - 30.5f);
    CHECK(bad == 0, "every element summed once");
    CHECK(n_reduce == 15 && n_d2h == 15 && n_h2d == 15, "15 chunks of at most 7 floats");
    CHECK(max_count == 7, "chunk size");
    CHECK(reduce_ptr_seen == c.stage && c.stage_n == 7, "the collective sees the host stage, 7 floats");
    CHECK(n_finish == 2, "the backend drained before (errors of the backward) and after (the copies)");

    /* The stage is kept and reused; a bigger chunk grows it. */
    float *stage = c.stage;
    reset_counts();
    CHECK(sv_comm_reduce_staged(&c, &be, x, 5) == SIMVTP_OK && c.stage == stage && n_reduce == 1, "reuse");
    c.chunk = 0; /* 0: the default chunk, capped at n */
    reset_counts();
    CHECK(sv_comm_reduce_staged(&c, &be, x, 100) == SIMVTP_OK && n_reduce == 1 && c.stage_n == 100, "one chunk");
    CHECK(sv_comm_reduce_staged(&c, &be, x, 0) == SIMVTP_OK, "nothing to reduce");

    /* A failing collective stops the loop (no copy back of that chunk) and wins over finish. */
    c.chunk = 10;
    reset_counts();
    fail_at_call = 3;
    CHECK(sv_comm_reduce_staged(&c, &be, x, 100) == SIMVTP_ERR_IO, "collective error returned");
    CHECK(n_reduce == 3 && n_d2h == 3 && n_h2d == 2, "stopped at the failing chunk");
    CHECK(strstr(simvtp_last_error(), "fake all-reduce") != NULL, "its message kept");

    /* A backend error before the reduction: no rank-to-rank traffic at all. */
    reset_counts();
    finish_rc = SIMVTP_ERR_NOMEM;
    CHECK(sv_comm_reduce_backend(&c, &be, x, 100) == SIMVTP_ERR_NOMEM && n_reduce == 0, "backward error first");
    /* A copy error (reported by finish after the loop). */
    reset_counts();
    c.chunk = 1000;
    CHECK(sv_comm_reduce_staged(&c, &be, x, 100) == SIMVTP_OK, "clean");
    reset_counts();
    n_finish = 0;
    {
        /* finish fails only after the loop: arm it after the first call */
        sv_backend be2 = be;
        be2.finish = NULL; /* no pre-drain in reduce_staged itself */
        CHECK(sv_comm_reduce_staged(&c, &be2, x, 100) == SIMVTP_OK && n_finish == 0, "no finish in the table");
    }
    finish_rc = SIMVTP_ERR_IO;
    CHECK(sv_comm_reduce_staged(&c, &be, x, 100) == SIMVTP_ERR_IO, "copy error through finish");

    free(c.stage);
}

static void test_in_place(void)
{
    float x[10];
    for (int i = 0; i < 10; i++) x[i] = (float)i;
    /* Host memory: in place, through whatever communicator. */
    sv_backend host = fake_backend(1, -1);
    simvtp_comm c = {.ops = &host_ops, .rank = 1, .size = 2, .device = -1, .chunk = 3};
    reset_counts();
    CHECK(sv_comm_reduce_backend(&c, &host, x, 10) == SIMVTP_OK, "host memory");
    CHECK(n_d2h == 0 && n_h2d == 0 && reduce_ptr_seen == x && c.stage == NULL, "in place, no stage");
    CHECK(n_finish == 1, "drained first");
    /* Device memory and a communicator that takes it (NCCL): in place too. */
    sv_backend dev = fake_backend(0, 2);
    simvtp_comm d = {.ops = &dev_ops, .rank = 1, .size = 2, .device = 2, .chunk = 3};
    reset_counts();
    CHECK(sv_comm_reduce_backend(&d, &dev, x, 10) == SIMVTP_OK, "device memory, device communicator");
    CHECK(n_d2h == 0 && n_h2d == 0 && reduce_ptr_seen == x && d.stage == NULL, "in place");
    int bad = 0;
    for (int i = 0; i < 10; i++) bad += x[i] != 4.0f * (float)i;
    CHECK(bad == 0, "summed twice in all");
    /* ... but not on another device. */
    sv_backend other = fake_backend(0, 0);
    reset_counts();
    CHECK(sv_comm_reduce_backend(&d, &other, x, 10) == SIMVTP_ERR_INVALID_ARG && n_reduce == 0, "device mismatch");
    CHECK(strstr(simvtp_last_error(), "cuda:2") != NULL, "the message names the communicator's device");
    CHECK(sv_comm_check_backend(&d, &host) == SIMVTP_OK, "a host-memory model with a device communicator");
    CHECK(sv_comm_check_backend(&c, &other) == SIMVTP_OK, "a device model with a host communicator (staged)");
}

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

/* The optimizer's path: a real model whose backend table claims device
 * memory, a two-rank host communicator: the gradients are staged. */
static void test_optimizer_path(void)
{
    simvtp_config cfg = tiny_config();
    simvtp_model *m = NULL;
    CHECK(simvtp_model_create(&cfg, NULL, &m) == SIMVTP_OK, "model_create");
    if (!m) return;
    simvtp_optimizer *o = NULL;
    CHECK(simvtp_optimizer_create(m, NULL, &o) == SIMVTP_OK, "optimizer_create");
    if (!o) {
        simvtp_model_free(m);
        return;
    }
    const size_t n = m->nparams;
    float *g0 = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) g0[i] = (float)(i % 1000) * 0.25f - 7.0f;
    memcpy(m->grads, g0, n * sizeof(float));

    const sv_backend *real = m->be;
    sv_backend fake = fake_backend(0, 0);
    m->be = &fake;

    simvtp_comm c = {.ops = &host_ops, .rank = 0, .size = 2, .device = -1, .chunk = 4096};
    o->comm = &c;
    reset_counts();
    CHECK(sv_optimizer_reduce_grads(o) == SIMVTP_OK, "reduce_grads");
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) bad += m->grads[i] != 2.0f * g0[i];
    CHECK(bad == 0, "gradients summed");
    CHECK((size_t)n_reduce == (n + 4095) / 4096 && n_d2h == n_reduce && n_h2d == n_reduce, "staged in chunks");

    /* A device communicator: in place. */
    simvtp_comm d = {.ops = &dev_ops, .rank = 0, .size = 2, .device = 0, .chunk = 4096};
    o->comm = &d;
    reset_counts();
    CHECK(sv_optimizer_reduce_grads(o) == SIMVTP_OK && n_reduce == 1 && n_d2h == 0, "in place");
    /* One rank: nothing at all. */
    simvtp_comm one = {.ops = &host_ops, .rank = 0, .size = 1, .device = -1, .chunk = 4096};
    o->comm = &one;
    reset_counts();
    CHECK(sv_optimizer_reduce_grads(o) == SIMVTP_OK && n_reduce == 0 && n_finish == 0, "world of one");
    o->comm = NULL;

    /* set_comm refuses a communicator on another device than the model's. */
    simvtp_comm far = {.ops = &dev_ops, .rank = 0, .size = 2, .device = 3, .chunk = 4096};
    CHECK(simvtp_optimizer_set_comm(o, &far) == SIMVTP_ERR_INVALID_ARG, "set_comm: other device");
    CHECK(strstr(simvtp_last_error(), "cuda:3") != NULL, "its message");
    CHECK(simvtp_optimizer_set_comm(o, &d) == SIMVTP_OK, "set_comm: same device");
    CHECK(simvtp_optimizer_set_comm(o, &c) == SIMVTP_OK, "set_comm: host communicator");
    /* Sharded moments need a communicator that takes the model's memory. */
    CHECK(simvtp_optimizer_set_sharding(o, 1) == SIMVTP_ERR_UNSUPPORTED && !o->sharded,
          "set_sharding: device model, host communicator");
    CHECK(simvtp_optimizer_set_comm(o, NULL) == SIMVTP_OK, "detach");
    m->be = real;
    free(c.stage);
    free(g0);
    simvtp_optimizer_free(o);
    simvtp_model_free(m);

    simvtp_comm *local = NULL;
    CHECK(simvtp_comm_create_local(&local) == SIMVTP_OK, "local");
    CHECK(simvtp_comm_device(local) == -1 && simvtp_comm_device(NULL) == -1, "host communicators: device -1");
    simvtp_comm_free(local);
}

/* ---- bootstrap ---- */
static const char *const launch_vars[] = {
    "RANK", "WORLD_SIZE", "LOCAL_RANK", "SLURM_PROCID", "SLURM_NTASKS", "SLURM_LOCALID",
    "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK",
    "PMI_RANK", "PMI_SIZE", "MPI_LOCALRANKID"};

static void clear_launch_env(void)
{
    for (size_t i = 0; i < sizeof launch_vars / sizeof launch_vars[0]; i++) unsetenv(launch_vars[i]);
}

static void test_env_world(void)
{
    /* Save the launcher's variables: under mpirun this test must not confuse it. */
    char *saved[sizeof launch_vars / sizeof launch_vars[0]];
    for (size_t i = 0; i < sizeof launch_vars / sizeof launch_vars[0]; i++) {
        const char *v = getenv(launch_vars[i]);
        saved[i] = v ? strdup(v) : NULL;
    }
    sv_env_world w;
    clear_launch_env();
    CHECK(sv_env_world_get(&w) == SIMVTP_OK && w.rank == 0 && w.size == 1 && w.local_rank == 0, "no launcher");

    setenv("RANK", "3", 1);
    setenv("WORLD_SIZE", "8", 1);
    setenv("LOCAL_RANK", "1", 1);
    setenv("SLURM_PROCID", "5", 1); /* RANK/WORLD_SIZE win */
    setenv("SLURM_NTASKS", "6", 1);
    CHECK(sv_env_world_get(&w) == SIMVTP_OK && w.rank == 3 && w.size == 8 && w.local_rank == 1, "torchrun");
    unsetenv("LOCAL_RANK");
    CHECK(sv_env_world_get(&w) == SIMVTP_OK && w.local_rank == -1, "no LOCAL_RANK: unknown");
    setenv("RANK", "8", 1);
    CHECK(sv_env_world_get(&w) == SIMVTP_ERR_INVALID_ARG, "RANK >= WORLD_SIZE");
    setenv("RANK", "x1", 1);
    CHECK(sv_env_world_get(&w) == SIMVTP_ERR_INVALID_ARG, "RANK not a number");
    CHECK(strstr(simvtp_last_error(), "RANK=\"x1\"") != NULL, "its message");
    unsetenv("WORLD_SIZE");
    setenv("RANK", "1", 1);
    CHECK(sv_env_world_get(&w) == SIMVTP_ERR_INVALID_ARG, "RANK without WORLD_SIZE");
    unsetenv("RANK");
    setenv("SLURM_LOCALID", "2", 1);
    CHECK(sv_env_world_get(&w) == SIMVTP_OK && w.rank == 5 && w.size == 6 && w.local_rank == 2, "srun");
    clear_launch_env();
    setenv("OMPI_COMM_WORLD_RANK", "1", 1);
    setenv("OMPI_COMM_WORLD_SIZE", "2", 1);
    setenv("OMPI_COMM_WORLD_LOCAL_RANK", "1", 1);
    CHECK(sv_env_world_get(&w) == SIMVTP_OK && w.rank == 1 && w.size == 2 && w.local_rank == 1, "mpirun");

    clear_launch_env();
    for (size_t i = 0; i < sizeof launch_vars / sizeof launch_vars[0]; i++) {
        if (saved[i]) setenv(launch_vars[i], saved[i], 1);
        free(saved[i]);
    }

    int d = 7;
    CHECK(sv_parse_cuda_device(NULL, &d) == SIMVTP_OK && d == -1, "NULL device");
    CHECK(sv_parse_cuda_device("auto", &d) == SIMVTP_OK && d == -1, "auto");
    CHECK(sv_parse_cuda_device("cuda", &d) == SIMVTP_OK && d == -1, "cuda");
    CHECK(sv_parse_cuda_device("cuda:3", &d) == SIMVTP_OK && d == 3, "cuda:3");
    CHECK(sv_parse_cuda_device("cuda:1:fp32", &d) == SIMVTP_OK && d == 1, "cuda:1:fp32");
    CHECK(sv_parse_cuda_device("cpu", &d) == SIMVTP_ERR_INVALID_ARG, "cpu");
    CHECK(sv_parse_cuda_device("cuda:", &d) == SIMVTP_ERR_INVALID_ARG, "cuda:");
    CHECK(sv_parse_cuda_device("cuda:1x", &d) == SIMVTP_ERR_INVALID_ARG, "cuda:1x");
    CHECK(sv_parse_cuda_device("cuda:-1", &d) == SIMVTP_ERR_INVALID_ARG, "cuda:-1");

    CHECK(sv_pick_cuda_device(-1, 3, 8, &d) == SIMVTP_OK && d == 3, "local rank 3 of 8 GPUs");
    CHECK(sv_pick_cuda_device(-1, 3, 1, &d) == SIMVTP_OK && d == 0, "one visible GPU per process");
    CHECK(sv_pick_cuda_device(-1, -1, 1, &d) == SIMVTP_OK && d == 0, "unknown local rank, one GPU");
    CHECK(sv_pick_cuda_device(-1, -1, 4, &d) == SIMVTP_ERR_INVALID_ARG, "unknown local rank, 4 GPUs");
    CHECK(sv_pick_cuda_device(-1, 4, 4, &d) == SIMVTP_ERR_INVALID_ARG, "more ranks than GPUs");
    CHECK(sv_pick_cuda_device(2, 0, 4, &d) == SIMVTP_OK && d == 2, "explicit");
    CHECK(sv_pick_cuda_device(4, 0, 4, &d) == SIMVTP_ERR_INVALID_ARG, "explicit, absent");
}

static void test_id_file(const char *dir)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/test_comm_staging.%ld.id", dir, (long)getpid());
    unlink(path);
    unsigned char id[128], got[128];
    for (int i = 0; i < 128; i++) id[i] = (unsigned char)(i * 37 + 11);

    /* Absent file: a clear timeout. */
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    CHECK(sv_id_file_wait(path, 4, got, sizeof got, 0.2) == SIMVTP_ERR_IO, "timeout");
    clock_gettime(CLOCK_MONOTONIC, &t1);
    CHECK(strstr(simvtp_last_error(), "timed out") && strstr(simvtp_last_error(), "SIMVTP_NCCL_ID_FILE"),
          "timeout message");
    const double waited = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    CHECK(waited >= 0.2 && waited < 2.0, "waited about the timeout");

    /* Round trip, world check, error record, removal. */
    CHECK(sv_id_file_publish(path, 4, id, sizeof id, NULL) == SIMVTP_OK, "publish");
    memset(got, 0, sizeof got);
    CHECK(sv_id_file_wait(path, 4, got, sizeof got, 1.0) == SIMVTP_OK && !memcmp(id, got, sizeof id), "read back");
    CHECK(sv_id_file_wait(path, 3, got, sizeof got, 1.0) == SIMVTP_ERR_INVALID_ARG, "another world size");
    CHECK(strstr(simvtp_last_error(), "fresh SIMVTP_NCCL_ID_FILE") != NULL, "stale-file hint");
    CHECK(sv_id_file_publish(path, 4, NULL, 0, "no GPU\nat all") == SIMVTP_OK, "publish an error");
    CHECK(sv_id_file_wait(path, 4, got, sizeof got, 1.0) == SIMVTP_ERR_IO, "error record");
    CHECK(strstr(simvtp_last_error(), "rank 0 failed") && strstr(simvtp_last_error(), "no GPU at all"),
          "rank 0's message, on one line");
    sv_id_file_remove(path);
    CHECK(access(path, F_OK) != 0, "removed");
    sv_id_file_remove(path); /* absent: quiet */
    char bad[4200];
    snprintf(bad, sizeof bad, "%s/no/such/dir/id", dir);
    CHECK(sv_id_file_publish(bad, 2, id, sizeof id, NULL) == SIMVTP_ERR_IO, "unwritable path");

    /* Between processes: 3 readers start first, rank 0 publishes 150 ms later. */
    fflush(NULL);
    pid_t kids[3];
    for (int k = 0; k < 3; k++) {
        kids[k] = fork();
        if (kids[k] == 0) {
            unsigned char mine[128];
            const int rc = sv_id_file_wait(path, 4, mine, sizeof mine, 20.0);
            _exit(rc == SIMVTP_OK && !memcmp(mine, id, sizeof id) ? 0 : 1);
        }
        CHECK(kids[k] > 0, "fork");
    }
    struct timespec nap = {0, 150000000L};
    nanosleep(&nap, NULL);
    CHECK(sv_id_file_publish(path, 4, id, sizeof id, NULL) == SIMVTP_OK, "publish to waiting ranks");
    for (int k = 0; k < 3; k++) {
        int st = 0;
        if (kids[k] <= 0) continue;
        while (waitpid(kids[k], &st, 0) < 0 && errno == EINTR) {}
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "a waiting rank read the id");
    }
    sv_id_file_remove(path);
}

static void test_create_nccl(void)
{
    simvtp_comm *c = (simvtp_comm *)1;
    CHECK(simvtp_comm_create_nccl(NULL, NULL) == SIMVTP_ERR_INVALID_ARG, "NULL out");
#if !SIMVTP_HAVE_NCCL
    CHECK(simvtp_comm_create_nccl(&c, NULL) == SIMVTP_ERR_UNSUPPORTED && c == NULL, "built without NCCL");
    CHECK(strstr(simvtp_last_error(), "without NCCL") != NULL, "its message");
#else
    CHECK(simvtp_comm_create_nccl(&c, "gpu") == SIMVTP_ERR_INVALID_ARG && c == NULL, "bad device string");
    /* A world of one (no launcher variables in a plain test run): created on
     * a GPU machine, SIMVTP_ERR_UNSUPPORTED without a GPU. */
    const char *saved = getenv("SIMVTP_NCCL_BOOTSTRAP");
    setenv("SIMVTP_NCCL_BOOTSTRAP", "env", 1);
    char *ws = getenv("WORLD_SIZE") ? strdup(getenv("WORLD_SIZE")) : NULL;
    unsetenv("WORLD_SIZE");
    unsetenv("RANK");
    int rc = simvtp_comm_create_nccl(&c, NULL);
    if (rc == SIMVTP_OK) {
        CHECK(simvtp_comm_size(c) == 1 && simvtp_comm_device(c) >= 0, "a world of one on a GPU");
        simvtp_comm_free(c);
    } else {
        CHECK(rc == SIMVTP_ERR_UNSUPPORTED && c == NULL, "no GPU: unsupported");
        CHECK(strstr(simvtp_last_error(), "no usable CUDA device") != NULL, "its message");
    }
    if (ws) setenv("WORLD_SIZE", ws, 1);
    free(ws);
    if (!saved) unsetenv("SIMVTP_NCCL_BOOTSTRAP");
#endif
}

int main(void)
{
    const char *dir = getenv("SIMVTP_TEST_TMPDIR");
    if (!dir || !*dir) dir = "/tmp";
    test_staged();
    test_in_place();
    test_optimizer_path();
    test_env_world();
    test_id_file(dir);
    test_create_nccl();
    if (failures) {
        fprintf(stderr, "%d check(s) failed\n", failures);
        return 1;
    }
    printf("comm staging, device checks and NCCL bootstrap: all checks passed\n");
    return 0;
}

/* test_mpi_staging.c — under `mpirun -np 2` (run_ddp.sh; exit 77 without
 * MPI): the MPI side of GPU-era data parallelism that runs on CPUs.
 *   1. the NCCL bootstrap over MPI (sv_mpi_bootstrap): rank, size and
 *      local rank, rank 0's blob broadcast to every rank, and a failure on
 *      rank 0 failing every rank instead of leaving them waiting;
 *   2. MPI ranks training a model whose backend keeps its tensors away from
 *      the host (a CPU table with host_memory = 0 and copying memcpy_d2h/h2d,
 *      standing in for CUDA): the gradients are staged through host memory
 *      in chunks, and the run is bit-identical to the same ranks training
 *      the plain CPU model (in-place reduction); the same with the
 *      global-batch contrastive loss (features all-gathered through the
 *      host stage). */
#include "simvtp_build_config.h"

#include <stdio.h>

#if !SIMVTP_HAVE_MPI
int main(void)
{
    puts("SKIP: libsimvtp was built without MPI");
    return 77;
}
#else

#include <mpi.h>
#include <stdlib.h>
#include <string.h>

#include "simvtp/simvtp.h"
#include "core/backend.h"
#include "core/rng.h"
#include "core/status_internal.h"
#include "model/model.h"
#include "train/comm_internal.h"

#define B 2
#define L 6

static int g_rank, failures;

#define CHECK(cond, what)                                                                          \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "rank %d: FAIL %s:%d: %s (%s) [last error: %s]\n", g_rank, __FILE__,   \
                    __LINE__, what, #cond, simvtp_last_error());                                   \
            failures++;                                                                            \
        }                                                                                          \
    } while (0)

static int make_ok(void *blob, void *ctx)
{
    (void)ctx;
    for (int i = 0; i < 128; i++) ((unsigned char *)blob)[i] = (unsigned char)(255 - i);
    return SIMVTP_OK;
}

static int make_fail(void *blob, void *ctx)
{
    (void)blob; (void)ctx;
    return sv_fail(SIMVTP_ERR_IO, "make_fail: no id today");
}

static void test_bootstrap(void)
{
    CHECK(sv_mpi_launched() == 1, "launched by mpirun");
    unsigned char blob[128];
    memset(blob, 0, sizeof blob);
    int rank = -1, size = -1, local = -1;
    CHECK(sv_mpi_bootstrap(blob, sizeof blob, make_ok, NULL, &rank, &size, &local) == SIMVTP_OK, "bootstrap");
    CHECK(rank == g_rank && size == 2, "rank and size of MPI_COMM_WORLD");
    CHECK(local == rank, "one node: local rank = rank");
    int bad = 0;
    for (int i = 0; i < 128; i++) bad += blob[i] != (unsigned char)(255 - i);
    CHECK(bad == 0, "rank 0's blob on every rank");

    const int rc = sv_mpi_bootstrap(blob, sizeof blob, make_fail, NULL, &rank, &size, &local);
    if (g_rank == 0) {
        CHECK(rc == SIMVTP_ERR_IO && strstr(simvtp_last_error(), "no id today"), "rank 0 keeps its error");
    } else {
        CHECK(rc == SIMVTP_ERR_IO && strstr(simvtp_last_error(), "rank 0 could not"), "the others fail too");
    }
    CHECK(sv_mpi_bootstrap(blob, 600, make_ok, NULL, &rank, &size, &local) == SIMVTP_ERR_INVALID_ARG, "too big");
}

static int n_d2h, n_h2d;
static void count_d2h(void *dst, const void *src, size_t bytes) { n_d2h++; memcpy(dst, src, bytes); }
static void count_h2d(void *dst, const void *src, size_t bytes) { n_h2d++; memcpy(dst, src, bytes); }

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

/* 3 updates (accum_steps 2) of this rank on batch(step, rank); returns the weights. */
static float *train(simvtp_comm *comm, const sv_backend *fake, size_t *n)
{
    simvtp_config c = tiny_config();
    simvtp_model *m = NULL;
    simvtp_optimizer *o = NULL;
    CHECK(simvtp_model_create(&c, NULL, &m) == SIMVTP_OK, "model_create");
    if (!m) return NULL;
    const sv_backend *real = m->be;
    if (fake) m->be = fake;
    simvtp_optimizer_params op;
    simvtp_optimizer_default_params(&op);
    op.lr = 1e-3f; op.seed = 3; op.clip_norm = 0.5f; op.accum_steps = 2;
    CHECK(simvtp_optimizer_create(m, &op, &o) == SIMVTP_OK, "optimizer_create");
    CHECK(simvtp_optimizer_set_comm(o, comm) == SIMVTP_OK, "set_comm");
    const size_t fs = (size_t)c.frames * c.height * c.width * 3;
    uint8_t *frames = malloc(B * fs);
    int32_t tok[B * L], len[B] = {6, 4};
    for (int k = 0; k < 6; k++) {
        sv_rng g;
        sv_rng_seed(&g, 100u + 7u * (uint64_t)k + (uint64_t)g_rank);
        for (size_t i = 0; i < B * fs; i++) frames[i] = (uint8_t)sv_rng_below(&g, 256);
        for (int s = 0; s < B; s++)
            for (int l = 0; l < L; l++)
                tok[s * L + l] = l == 0 ? 101 : l == len[s] - 1 ? 102 : l < len[s] ? 104 + (int)sv_rng_below(&g, 30) : 0;
        simvtp_batch b = {sizeof b, B, frames, L, tok, len};
        CHECK(simvtp_train_step(o, &b, NULL, NULL) == SIMVTP_OK, "train_step");
    }
    *n = m->nparams;
    float *w = malloc(m->nparams * sizeof(float));
    memcpy(w, m->params, m->nparams * sizeof(float));
    m->be = real;
    free(frames);
    simvtp_optimizer_free(o);
    simvtp_model_free(m);
    return w;
}

static void test_staged_training(void)
{
    simvtp_comm *comm = NULL;
    CHECK(simvtp_comm_create_mpi(&comm) == SIMVTP_OK, "create_mpi");
    if (!comm) return;
    comm->chunk = 1000; /* several chunks, a tail */
    sv_backend fake = sv_backend_cpu;
    fake.name = "cpu-as-device";
    fake.host_memory = 0;
    fake.memcpy_d2h = count_d2h;
    fake.memcpy_h2d = count_h2d;

    size_t na = 0, nb = 0;
    float *a = train(comm, NULL, &na);
    n_d2h = n_h2d = 0;
    float *b = train(comm, &fake, &nb);
    const size_t chunks = (nb + comm->chunk - 1) / comm->chunk;
    CHECK(n_h2d >= (int)(3 * chunks), "the gradients went through the host stage (3 updates x chunks)");
    CHECK(a && b && na == nb && memcmp(a, b, na * sizeof(float)) == 0,
          "staged reduction bit-identical to the in-place one");
    /* And the ranks agree with each other. */
    if (b) {
        float *sum = malloc(nb * sizeof(float));
        memcpy(sum, b, nb * sizeof(float));
        CHECK(simvtp_comm_allreduce_sum(comm, sum, nb) == SIMVTP_OK, "allreduce");
        size_t bad = 0;
        for (size_t i = 0; i < nb; i++) bad += sum[i] != 2.0f * b[i];
        CHECK(bad == 0, "weights bit-identical across ranks");
        free(sum);
    }
    /* The global-batch contrastive loss: the features are all-gathered and
     * their gradients summed through the host stage, bit-identical to the
     * host model; the option changes the training (control). */
    CHECK(simvtp_comm_set_global_contrastive(comm, 1) == SIMVTP_OK, "global VTC on");
    size_t nga = 0, ngb = 0;
    float *ga = train(comm, NULL, &nga);
    n_d2h = n_h2d = 0;
    float *gb = train(comm, &fake, &ngb);
    CHECK(ga && gb && nga == ngb && memcmp(ga, gb, nga * sizeof(float)) == 0,
          "global VTC: staged all-gather bit-identical to in place");
    CHECK(ga && a && nga == na && memcmp(ga, a, na * sizeof(float)) != 0, "global VTC changes the weights");
    CHECK(n_h2d >= (int)(3 * chunks) + 6 * 2, "the features went through the host stage (2 per micro-batch)");
    CHECK(simvtp_comm_set_global_contrastive(comm, 0) == SIMVTP_OK, "global VTC off");
    free(ga);
    free(gb);
    free(a);
    free(b);
    simvtp_comm_free(comm);
}

int main(void)
{
    simvtp_comm *probe = NULL;
    if (simvtp_comm_create_mpi(&probe) != SIMVTP_OK) {
        fprintf(stderr, "create_mpi: %s\n", simvtp_last_error());
        return 1;
    }
    g_rank = simvtp_comm_rank(probe);
    simvtp_comm_free(probe);
    test_bootstrap();
    test_staged_training();
    if (g_rank == 0 && !failures) printf("MPI bootstrap and staged gradient reduction: all checks passed\n");
    const int rc = simvtp_comm_finalize();
    if (rc != SIMVTP_OK) fprintf(stderr, "rank %d: finalize: %s\n", g_rank, simvtp_last_error());
    return failures || rc ? 1 : 0;
}

#endif

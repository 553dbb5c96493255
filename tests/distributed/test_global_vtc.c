/* test_global_vtc.c — the contrastive loss over the global batch, under
 * `mpirun -np 2` (run_ddp.sh): W ranks of B clips with
 * simvtp_comm_set_global_contrastive(c, 1) must train like ONE process on
 * the doubled batch of W*B clips.
 *
 * The retrieval (fine-tuning) model: its only loss is VTC, and with text
 * dropout and drop path at 0 nothing random remains, so the two runs are the
 * same function. Rank r trains on samples [r*B, (r+1)*B) of each step's big
 * batch; rank 0 also trains a second model alone on the whole big batch.
 * Only rank 0's slice holds a full-length caption: text features are means
 * over the padded width, so the ranks must pad to the widest rank's length.
 * Checked: the per-rank VTC losses average to the big batch's loss (it is
 * the mean of the rank means), and after NSTEPS AdamW steps the weights agree
 * within a relative 1e-5 (sums run in another order). With the option off,
 * the ranks' loss differs from the big batch's (a control: the test can fail).
 * Scratch: none. */
#include "simvtp_build_config.h"

#include <stdio.h>

#if !SIMVTP_HAVE_MPI
int main(void)
{
    puts("SKIP: libsimvtp was built without MPI");
    return 77;
}
#else

#include <math.h>
#include <mpi.h>
#include <stdlib.h>
#include <string.h>

#include "simvtp/simvtp.h"
#include "core/rng.h"

#define NSTEPS 3
#define B 3     /* clips per rank */
#define L 7

#include "mpi_check.h"

static simvtp_config small_config(void)
{
    simvtp_config c;
    simvtp_config_preset("tiny", &c);
    c.frames = 4; c.height = 48; c.width = 48;
    c.enc_width = 32; c.enc_depth = 2; c.enc_heads = 4; c.enc_mlp = 64;
    c.dec_width = 16; c.dec_depth = 1; c.dec_heads = 2; c.dec_mlp = 32;
    c.vocab_size = 160; c.max_text_len = 16;
    c.text_dropout = 0.0f;
    c.drop_path = 0.0f;
    return c;
}

/* Samples [first, first+n) of step k's big batch (the same on every rank). */
typedef struct batch_buf {
    uint8_t *frames;
    int32_t *tok, *len;
    simvtp_batch b;
} batch_buf;

static void batch_make(batch_buf *bb, const simvtp_config *c, int k, int first, int n)
{
    const size_t fs = (size_t)c->frames * c->height * c->width * 3;
    bb->frames = malloc(n * fs);
    bb->tok = calloc((size_t)n * L, sizeof(int32_t));
    bb->len = calloc((size_t)n, sizeof(int32_t));
    CHECK(bb->frames && bb->tok && bb->len, "out of memory");
    for (int s = 0; s < n; s++) {
        sv_rng g;
        sv_rng_seed(&g, 5000 + 100 * (uint64_t)k + (uint64_t)(first + s));
        for (size_t i = 0; i < fs; i++) bb->frames[s * fs + i] = (uint8_t)sv_rng_below(&g, 256);
        /* only the big batch's first caption has the full length L: rank 1's own
         * captions are shorter, and the ranks must still pad alike (to the widest
         * rank's length, as the big batch does; text features are means over the
         * padded width) */
        const int len = first + s == 0 ? L : 3 + (int)sv_rng_below(&g, L - 3);
        bb->len[s] = len;
        for (int l = 0; l < L; l++)
            bb->tok[s * L + l] = l == 0 ? 101 : l == len - 1 ? 102 : l < len ? 104 + (int)sv_rng_below(&g, 50) : 0;
    }
    simvtp_batch bt = {sizeof bt, n, bb->frames, L, bb->tok, bb->len};
    bb->b = bt;
}

static void batch_free(batch_buf *bb)
{
    free(bb->frames);
    free(bb->tok);
    free(bb->len);
}

static simvtp_model *make_retrieval(const simvtp_config *c)
{
    simvtp_model_params mp;
    simvtp_model_default_params(&mp);
    mp.seed = 31;
    simvtp_model *pre = NULL, *m = NULL;
    CHECK_OK(simvtp_model_create(c, &mp, &pre));
    CHECK_OK(simvtp_model_create_retrieval(pre, &mp, &m));
    simvtp_model_free(pre);
    return m;
}

static simvtp_optimizer *make_opt(simvtp_model *m)
{
    simvtp_optimizer_params op;
    simvtp_optimizer_default_params(&op);
    op.lr = 1e-3f; op.warmup_steps = 1; op.total_steps = 8; op.seed = 9;
    simvtp_optimizer *o = NULL;
    CHECK_OK(simvtp_optimizer_create(m, &op, &o));
    return o;
}

static float train(simvtp_optimizer *o, const simvtp_config *c, int k, int first, int n)
{
    batch_buf bb;
    batch_make(&bb, c, k, first, n);
    simvtp_losses l = {sizeof l};
    simvtp_step_info si = {sizeof si};
    CHECK_OK(simvtp_train_step(o, &bb.b, &l, &si));
    batch_free(&bb);
    return l.vtc;
}

int main(void)
{
    simvtp_comm *comm = NULL;
    CHECK_OK(simvtp_comm_create_mpi(&comm));
    g_rank = simvtp_comm_rank(comm);
    const int W = simvtp_comm_size(comm);
    CHECK(W >= 2, "run with mpirun -np 2 (world of %d)", W);
    const simvtp_config c = small_config();

    /* control: the option off gives the local-batch loss, not the big batch's */
    simvtp_model *m = make_retrieval(&c);
    simvtp_optimizer *o = make_opt(m);
    CHECK_OK(simvtp_optimizer_set_comm(o, comm));
    float local = train(o, &c, 0, g_rank * B, B);
    simvtp_optimizer_free(o);
    simvtp_model_free(m);

    /* the W ranks with the global loss */
    m = make_retrieval(&c);
    o = make_opt(m);
    CHECK_OK(simvtp_comm_set_global_contrastive(comm, 1));
    CHECK_OK(simvtp_optimizer_set_comm(o, comm));
    float vtc[NSTEPS];
    for (int k = 0; k < NSTEPS; k++) {
        vtc[k] = train(o, &c, k, g_rank * B, B);
        CHECK_OK(simvtp_comm_allreduce_sum(comm, &vtc[k], 1));
        vtc[k] /= (float)W; /* the mean of the rank means = the big batch's mean */
    }

    int bad = 0;
    if (g_rank == 0) {
        simvtp_model *big = make_retrieval(&c);
        simvtp_optimizer *ob = make_opt(big);
        double worst_loss = 0, worst_w = 0;
        float big0 = 0;
        for (int k = 0; k < NSTEPS; k++) {
            float lb = train(ob, &c, k, 0, W * B);
            if (k == 0) big0 = lb;
            double e = fabs((double)lb - vtc[k]) / fabs((double)lb);
            printf("step %d: big batch vtc %.7f, mean of ranks %.7f\n", k, lb, vtc[k]);
            if (e > worst_loss) worst_loss = e;
        }
        const char *worst_name = "";
        for (int i = 0; i < simvtp_model_num_tensors(m); i++) {
            size_t n = (size_t)simvtp_model_tensor_numel(m, i);
            float *a = malloc(n * sizeof(float)), *b = malloc(n * sizeof(float));
            CHECK(a && b, "out of memory");
            CHECK_OK(simvtp_model_tensor_get(m, i, a));
            CHECK_OK(simvtp_model_tensor_get(big, i, b));
            double num = 0, den = 0;
            for (size_t j = 0; j < n; j++) {
                num += ((double)a[j] - b[j]) * ((double)a[j] - b[j]);
                den += (double)b[j] * b[j];
            }
            double e = sqrt(num) / (sqrt(den) + 1e-30);
            if (e > worst_w) { worst_w = e; worst_name = simvtp_model_tensor_name(m, i); }
            free(a);
            free(b);
        }
        printf("global VTC, %d ranks x %d clips vs one process on %d: worst loss rel err %.3g, "
               "worst weight rel err %.3g (%s) after %d steps\n", W, B, W * B, worst_loss, worst_w,
               worst_name, NSTEPS);
        printf("control (option off): rank 0 loss %.6f vs big batch %.6f\n", local, big0);
        if (worst_loss > 1e-5) { fprintf(stderr, "FAIL: losses differ\n"); bad = 1; }
        if (worst_w > 1e-5) { fprintf(stderr, "FAIL: weights differ\n"); bad = 1; }
        if (fabs((double)local - big0) < 1e-3 * fabs((double)big0)) {
            fprintf(stderr, "FAIL: the control equals the big batch: the test cannot tell\n");
            bad = 1;
        }
        simvtp_optimizer_free(ob);
        simvtp_model_free(big);
    }
    MPI_Bcast(&bad, 1, MPI_INT, 0, MPI_COMM_WORLD);
    simvtp_optimizer_free(o);
    simvtp_model_free(m);
    simvtp_comm_free(comm);
    CHECK_OK(simvtp_comm_finalize());
    return bad;
}
#endif

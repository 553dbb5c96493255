/* test_ddp.c — data-parallel training under `mpirun -np 2` (run_ddp.sh).
 *
 * Mode "full" (libsimvtp initializes MPI; the test finalizes it with
 * simvtp_comm_finalize):
 *   1. equivalence: W ranks each train N steps on batch(k, r); rank 0 then
 *      trains one process with accum_steps = W over batch(k, 0..W-1) in rank
 *      order. Per micro-batch losses agree (bit-identical at step 0, relative
 *      1e-6 after), gradient norms agree, final weights agree within a
 *      relative 1e-5 (the gradient sum is done in another order), and every
 *      rank ends with bit-identical weights, moments and RNG stream.
 *      The all-reduce runs in small chunks here to exercise the chunk loop.
 *   2. resume at an update boundary: 2 steps, rank 0 alone saves weights and
 *      training state, every rank loads them, sets the communicator again and
 *      continues: bit-identical to the straight run of part 1.
 *   3. resume mid-accumulation (accum_steps 2): pending gradients are
 *      rank-local, so every rank saves and loads its own state file;
 *      set_comm refuses to change the world while gradients are pending.
 * Mode "zero1": the sharded optimizer state against the plain run (below).
 * Mode "mismatch": ranks that did not start alike are refused (below).
 * Mode "overlap": the gradient sum overlapped with the backward (below).
 * Mode "caller-init": the caller initializes and finalizes MPI; libsimvtp
 * must not finalize it (simvtp_comm_finalize is a no-op).
 *
 * Scratch files go to $SIMVTP_TEST_TMPDIR (or /tmp). */
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
#include <time.h>
#include <unistd.h>

#include "simvtp/simvtp.h"
#include "core/rng.h"
#include "model/model.h"
#include "train/comm_internal.h"
#include "train/optim_internal.h"

#define NSTEPS 4
#define B 3
#define L 7
#define NLOSS 5

#include "mpi_check.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static simvtp_config tiny_config(void)
{
    simvtp_config c;
    simvtp_config_preset("tiny", &c);
    c.frames = 4; c.height = 48; c.width = 48;
    c.video_mask_ratio = 0.75f;
    c.enc_width = 32; c.enc_depth = 2; c.enc_heads = 4; c.enc_mlp = 64;
    c.dec_width = 16; c.dec_depth = 1; c.dec_heads = 2; c.dec_mlp = 32;
    c.vocab_size = 160; c.max_text_len = 16;
    return c;
}

/* The local batch of rank r at step k (micro-batch k*W + r of the single
 * process), from (k, r) only. */
typedef struct batch_buf {
    uint8_t *frames;
    int32_t tok[B * L], len[B];
    simvtp_batch b;
} batch_buf;

static void batch_make(batch_buf *bb, const simvtp_config *c, int k, int r)
{
    const size_t fs = (size_t)c->frames * c->height * c->width * 3;
    bb->frames = malloc(B * fs);
    CHECK(bb->frames != NULL, "out of memory");
    sv_rng g;
    sv_rng_seed(&g, 1000 + 100 * (uint64_t)k + (uint64_t)r);
    for (size_t i = 0; i < B * fs; i++) bb->frames[i] = (uint8_t)sv_rng_below(&g, 256);
    for (int s = 0; s < B; s++) {
        const int len = 3 + (int)sv_rng_below(&g, L - 2); /* 3..L */
        bb->len[s] = len;
        for (int l = 0; l < L; l++)
            bb->tok[s * L + l] = l == 0 ? 101 : l == len - 1 ? 102 : l < len ? 104 + (int)sv_rng_below(&g, 50) : 0;
    }
    simvtp_batch bt = {sizeof bt, B, bb->frames, L, bb->tok, bb->len};
    bb->b = bt;
}

static simvtp_model *make_model(const simvtp_config *c)
{
    simvtp_model_params mp;
    simvtp_model_default_params(&mp);
    mp.seed = 77;
    simvtp_model *m = NULL;
    CHECK_OK(simvtp_model_create(c, &mp, &m));
    return m;
}

static simvtp_optimizer_params opt_params(int accum)
{
    simvtp_optimizer_params op;
    simvtp_optimizer_default_params(&op);
    op.lr = 1e-3f; op.warmup_steps = 1; op.total_steps = 8; op.clip_norm = 1.0f;
    op.accum_steps = accum; op.seed = 5;
    return op;
}

/* One train step on batch(k, r); losses into out[NLOSS]. */
static void step(simvtp_optimizer *o, const simvtp_config *c, int k, int r, float *out,
                 simvtp_step_info *info)
{
    batch_buf bb;
    batch_make(&bb, c, k, r);
    simvtp_losses l = {sizeof l};
    simvtp_step_info si = {sizeof si};
    CHECK_OK(simvtp_train_step(o, &bb.b, &l, &si));
    free(bb.frames);
    if (out) { out[0] = l.total; out[1] = l.video_mse; out[2] = l.mlm; out[3] = l.vtc; out[4] = l.vtm; }
    if (info) *info = si;
}

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++) h = (h ^ s[i]) * 1099511628211ull;
    return h;
}

/* Hash of everything a rank's training state holds. */
static uint64_t state_hash(const simvtp_optimizer *o)
{
    const simvtp_model *m = o->model;
    uint64_t h = 1469598103934665603ull;
    h = fnv(h, m->params, m->nparams * sizeof(float));
    h = fnv(h, o->m, o->shard_n * sizeof(float)); /* this rank's shard when sharded */
    h = fnv(h, o->v, o->shard_n * sizeof(float));
    h = fnv(h, o->rng.s, sizeof o->rng.s);
    h = fnv(h, &o->step, sizeof o->step);
    h = fnv(h, &o->micro_step, sizeof o->micro_step);
    return h;
}

static void check_same_on_all_ranks(const simvtp_optimizer *o, int world, const char *what)
{
    uint64_t h = state_hash(o), all[64];
    CHECK(world <= 64, "world too large for the test");
    MPI_Allgather(&h, 1, MPI_UINT64_T, all, 1, MPI_UINT64_T, MPI_COMM_WORLD);
    for (int r = 0; r < world; r++)
        CHECK(all[r] == all[0], "%s: rank %d state hash %016llx != rank 0 %016llx", what, r,
              (unsigned long long)all[r], (unsigned long long)all[0]);
}

static double rel(double a, double b) { return fabs(a - b) / fmax(fmax(fabs(a), fabs(b)), 1e-30); }

/* Weights and state paths of `owner`'s files (rank 0's pid names them). */
static void scratch_paths(char *wpath, char *spath, size_t n, const char *tag, int owner)
{
    const char *dir = getenv("SIMVTP_TEST_TMPDIR");
    if (!dir || !*dir) dir = "/tmp";
    long pid = (long)getpid();
    MPI_Bcast(&pid, 1, MPI_LONG, 0, MPI_COMM_WORLD);
    snprintf(wpath, n, "%s/ddp-%ld-%s-r%d.svtp", dir, pid, tag, owner);
    snprintf(spath, n, "%s/ddp-%ld-%s-r%d.state", dir, pid, tag, owner);
}

/* Part 1 + 2. */
static void equivalence_and_resume(simvtp_comm *comm)
{
    const int W = simvtp_comm_size(comm), R = simvtp_comm_rank(comm);
    const simvtp_config c = tiny_config();
    const simvtp_optimizer_params op1 = opt_params(1);

    /* 1. distributed run */
    simvtp_model *m = make_model(&c);
    simvtp_optimizer *o;
    CHECK_OK(simvtp_optimizer_create(m, &op1, &o));
    CHECK_OK(simvtp_optimizer_set_comm(o, comm));
    comm->chunk = 1000; /* many MPI_Allreduce calls, a short last one */
    float loss[NSTEPS][NLOSS], norm[NSTEPS];
    MPI_Barrier(MPI_COMM_WORLD);
    double t0 = now(), t_first = 0.0;
    for (int k = 0; k < NSTEPS; k++) {
        simvtp_step_info si;
        step(o, &c, k, R, loss[k], &si);
        CHECK(si.updated == 1 && si.step == k + 1, "step %d: updated %d step %lld", k, si.updated, (long long)si.step);
        norm[k] = si.grad_norm;
        if (k == 0) t_first = now() - t0;
    }
    const double t_ddp = now() - t0 - t_first;
    comm->chunk = SV_COMM_DEFAULT_CHUNK;
    check_same_on_all_ranks(o, W, "after the distributed run");

    float all_loss[64][NSTEPS][NLOSS], all_norm[64][NSTEPS];
    MPI_Gather(loss, NSTEPS * NLOSS, MPI_FLOAT, all_loss, NSTEPS * NLOSS, MPI_FLOAT, 0, MPI_COMM_WORLD);
    MPI_Gather(norm, NSTEPS, MPI_FLOAT, all_norm, NSTEPS, MPI_FLOAT, 0, MPI_COMM_WORLD);

    if (R == 0) {
        /* the single process: accum_steps = W over batch(k, 0..W-1) */
        simvtp_model *ms = make_model(&c);
        simvtp_optimizer_params opw = opt_params(W);
        simvtp_optimizer *os;
        CHECK_OK(simvtp_optimizer_create(ms, &opw, &os));
        double max_loss_rel = 0.0, max_norm_rel = 0.0;
        t0 = now();
        for (int k = 0; k < NSTEPS; k++) {
            for (int r = 0; r < W; r++) {
                float ref[NLOSS];
                simvtp_step_info si;
                step(os, &c, k, r, ref, &si);
                for (int i = 0; i < NLOSS; i++) {
                    const float got = all_loss[r][k][i];
                    if (k == 0)
                        CHECK(memcmp(&got, &ref[i], sizeof got) == 0,
                              "step 0 rank %d loss %d: %.9g vs single process %.9g (must be bit-identical)",
                              r, i, got, ref[i]);
                    const double d = rel(got, ref[i]);
                    if (d > max_loss_rel) max_loss_rel = d;
                    CHECK(d <= 1e-6, "step %d rank %d loss %d: %.9g vs single process %.9g (rel %.3g)",
                          k, r, i, got, ref[i], d);
                }
                if (r == W - 1) {
                    CHECK(si.updated == 1, "single process did not update at step %d", k);
                    for (int q = 0; q < W; q++)
                        CHECK(memcmp(&all_norm[q][k], &all_norm[0][k], sizeof(float)) == 0,
                              "step %d: grad norm differs between ranks", k);
                    const double d = rel(all_norm[0][k], si.grad_norm);
                    if (d > max_norm_rel) max_norm_rel = d;
                    CHECK(d <= 1e-5, "step %d: grad norm %.9g vs single process %.9g", k, all_norm[0][k],
                          si.grad_norm);
                }
            }
        }
        const double t_single = now() - t0;
        /* Weights: the element-wise relative difference with magnitudes
         * below the learning rate (1e-3, one AdamW step) counted as 1e-3:
         * AdamW moves every weight by about lr per update whatever its
         * gradient, so a weight that is ~0 after a few updates (biases start
         * at 0) has no meaningful relative precision. Also reported: the
         * raw relative difference and the largest difference per tensor
         * relative to the tensor's largest magnitude. */
        double max_rel = 0.0, max_rel_raw = 0.0, max_rel_tensor = 0.0, max_abs = 0.0;
        size_t nbitsame = 0;
        for (int t = 0; t < m->ntensors; t++) {
            const sv_tensor *tn = &m->tensors[t];
            const float *a = m->params + tn->offset, *b = ms->params + tn->offset;
            double amax = 0.0, dmax = 0.0;
            for (size_t i = 0; i < tn->numel; i++) {
                const double d = fabs((double)a[i] - b[i]);
                const double mag = fmax(fabs((double)a[i]), fabs((double)b[i]));
                if (d / fmax(mag, 1e-3) > max_rel) max_rel = d / fmax(mag, 1e-3);
                if (mag > 0 && d / mag > max_rel_raw) max_rel_raw = d / mag;
                if (d > dmax) dmax = d;
                if (mag > amax) amax = mag;
                nbitsame += memcmp(&a[i], &b[i], sizeof(float)) == 0;
            }
            if (dmax > max_abs) max_abs = dmax;
            if (amax > 0 && dmax / amax > max_rel_tensor) max_rel_tensor = dmax / amax;
        }
        printf("equivalence: %d ranks x %d steps vs one process with accum_steps=%d, %zu parameters\n", W,
               NSTEPS, W, m->nparams);
        printf("  losses: max relative difference %.3g (step 0 bit-identical)\n", max_loss_rel);
        printf("  grad norms: max relative difference %.3g (identical on every rank)\n", max_norm_rel);
        printf("  weights: max relative difference %.3g (|w| floored at lr = 1e-3); raw %.3g; per tensor "
               "max|diff|/max|w| %.3g; max |diff| %.3g; %.1f%% bit-identical\n",
               max_rel, max_rel_raw, max_rel_tensor, max_abs, 100.0 * (double)nbitsame / (double)m->nparams);
        printf("  time: distributed step 0 %.3f s (first MPI traffic), then %.1f ms/step; single process %.1f ms per "
               "update of %d micro-batches\n",
               t_first, 1e3 * t_ddp / (NSTEPS - 1), 1e3 * t_single / NSTEPS, W);
        CHECK(max_rel <= 1e-5, "final weights differ: max relative difference %.3g > 1e-5", max_rel);
        simvtp_optimizer_free(os);
        simvtp_model_free(ms);
    }

    /* 2. resume at an update boundary: rank 0 saves, everyone loads */
    char wpath[512], spath[512];
    scratch_paths(wpath, spath, sizeof wpath, "boundary", 0); /* everyone reads rank 0's files */
    simvtp_model *ma = make_model(&c);
    simvtp_optimizer *oa;
    CHECK_OK(simvtp_optimizer_create(ma, &op1, &oa));
    CHECK_OK(simvtp_optimizer_set_comm(oa, comm));
    const int split = 2;
    for (int k = 0; k < split; k++) step(oa, &c, k, R, NULL, NULL);
    CHECK_OK(simvtp_optimizer_set_data_position(oa, 4242));
    if (R == 0) {
        CHECK_OK(simvtp_model_save(ma, wpath));
        CHECK_OK(simvtp_optimizer_save(oa, spath));
    }
    CHECK_OK(simvtp_comm_barrier(comm)); /* the files exist before anyone reads them */
    simvtp_optimizer_free(oa);
    simvtp_model_free(ma);
    simvtp_model *mb = NULL;
    CHECK_OK(simvtp_model_load(wpath, NULL, &mb));
    simvtp_optimizer_params other = op1;
    other.seed = 999; /* the file's stream must win */
    simvtp_optimizer *ob;
    CHECK_OK(simvtp_optimizer_create(mb, &other, &ob));
    CHECK_OK(simvtp_optimizer_load(ob, spath));
    CHECK_OK(simvtp_optimizer_set_comm(ob, comm));
    CHECK(simvtp_optimizer_data_position(ob) == 4242, "data position not restored");
    check_same_on_all_ranks(ob, W, "after loading rank 0's state");
    for (int k = split; k < NSTEPS; k++) {
        float l[NLOSS];
        step(ob, &c, k, R, l, NULL);
        CHECK(memcmp(l, loss[k], sizeof l) == 0, "resumed step %d: loss %.9g vs straight %.9g", k, l[0], loss[k][0]);
    }
    CHECK(memcmp(mb->params, m->params, m->nparams * sizeof(float)) == 0, "resumed weights differ from the straight run");
    CHECK(memcmp(ob->m, o->m, m->nparams * sizeof(float)) == 0 && memcmp(ob->v, o->v, m->nparams * sizeof(float)) == 0,
          "resumed moments differ from the straight run");
    check_same_on_all_ranks(ob, W, "after the resumed run");
    CHECK_OK(simvtp_comm_barrier(comm));
    if (R == 0) { unlink(wpath); unlink(spath); }
    if (R == 0) printf("resume at an update boundary (rank 0 saves, %d ranks load): bit-identical\n", W);
    simvtp_optimizer_free(ob);
    simvtp_model_free(mb);
    simvtp_optimizer_free(o);
    simvtp_model_free(m);
}

/* Part 3: accum_steps 2 under the communicator, per-rank files mid-way. */
static void resume_midway(simvtp_comm *comm)
{
    const int W = simvtp_comm_size(comm), R = simvtp_comm_rank(comm);
    const simvtp_config c = tiny_config();
    const simvtp_optimizer_params op2 = opt_params(2);
    const int micro = 2 * NSTEPS, split = 3; /* 3 micro-batches: one pending */
    float straight[2 * NSTEPS][NLOSS], resumed[NLOSS];

    simvtp_model *m = make_model(&c);
    simvtp_optimizer *o;
    CHECK_OK(simvtp_optimizer_create(m, &op2, &o));
    CHECK_OK(simvtp_optimizer_set_comm(o, comm));
    for (int k = 0; k < micro; k++) step(o, &c, k, R, straight[k], NULL);
    CHECK(simvtp_optimizer_step_count(o) == NSTEPS, "expected %d updates", NSTEPS);
    check_same_on_all_ranks(o, W, "after the accumulated distributed run");

    char wpath[512], spath[512];
    scratch_paths(wpath, spath, sizeof wpath, "midway", R); /* one pair per rank */
    simvtp_model *ma = make_model(&c);
    simvtp_optimizer *oa;
    CHECK_OK(simvtp_optimizer_create(ma, &op2, &oa));
    CHECK_OK(simvtp_optimizer_set_comm(oa, comm));
    for (int k = 0; k < split; k++) step(oa, &c, k, R, NULL, NULL);
    CHECK(simvtp_optimizer_set_comm(oa, NULL) == SIMVTP_ERR_STATE, "set_comm must refuse while gradients are pending");
    CHECK_OK(simvtp_model_save(ma, wpath));
    CHECK_OK(simvtp_optimizer_save(oa, spath)); /* every rank: its own pending gradients */
    simvtp_optimizer_free(oa);
    simvtp_model_free(ma);
    simvtp_model *mb = NULL;
    CHECK_OK(simvtp_model_load(wpath, NULL, &mb));
    simvtp_optimizer *ob;
    CHECK_OK(simvtp_optimizer_create(mb, NULL, &ob));
    CHECK_OK(simvtp_optimizer_set_comm(ob, comm)); /* before load: the state has pending gradients */
    CHECK_OK(simvtp_optimizer_load(ob, spath));    /* keeps the communicator */
    CHECK(ob->comm == comm, "load dropped the communicator");
    CHECK_OK(simvtp_optimizer_set_comm(ob, comm)); /* the same one while pending: allowed */
    for (int k = split; k < micro; k++) {
        step(ob, &c, k, R, resumed, NULL);
        CHECK(memcmp(resumed, straight[k], sizeof resumed) == 0, "mid-way resume, micro-batch %d: %.9g vs %.9g", k,
              resumed[0], straight[k][0]);
    }
    CHECK(memcmp(mb->params, m->params, m->nparams * sizeof(float)) == 0, "mid-way resumed weights differ");
    check_same_on_all_ranks(ob, W, "after the mid-way resumed run");
    unlink(wpath);
    unlink(spath);
    if (R == 0) printf("resume mid-accumulation (accum_steps 2, per-rank state files): bit-identical\n");
    simvtp_optimizer_free(ob);
    simvtp_model_free(mb);
    simvtp_optimizer_free(o);
    simvtp_model_free(m);
}

static int file_equal(const char *a, const char *b)
{
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    int same = fa && fb, ca = 0, cb = 0;
    while (same && (ca = fgetc(fa)) == (cb = fgetc(fb)) && ca != EOF) {}
    same = same && ca == cb;
    if (fa) fclose(fa);
    if (fb) fclose(fb);
    return same;
}

/* Mode "zero1": the sharded optimizer state (simvtp_optimizer_set_sharding)
 * against the plain all-reduce run, both under the communicator: losses,
 * gradient norms, weights and (gathered) moments bit-identical on 2 ranks
 * (a sum of two floats does not depend on its order); each rank holds only
 * its shard; the state file written by the sharded run (a collective; rank 0
 * writes) is byte-identical to the plain run's; resume from it (sharded) is
 * bit-identical to the straight run; set_comm refused while sharded;
 * unsharding gathers the moments back. */
static void zero1(simvtp_comm *comm)
{
    const int W = simvtp_comm_size(comm), R = simvtp_comm_rank(comm);
    const simvtp_config c = tiny_config();
    const simvtp_optimizer_params op = opt_params(1);
    const int split = 2;
    char wpath[512], spath[512], ppath[512], dummy[512];
    scratch_paths(wpath, spath, sizeof wpath, "zero1", 0);
    scratch_paths(dummy, ppath, sizeof dummy, "plain", 0);

    /* the plain run (all-reduce), rank 0 saves its final state */
    simvtp_model *mp = make_model(&c);
    simvtp_optimizer *op_plain;
    CHECK_OK(simvtp_optimizer_create(mp, &op, &op_plain));
    CHECK_OK(simvtp_optimizer_set_comm(op_plain, comm));
    float lp[NSTEPS][NLOSS], np_[NSTEPS];
    for (int k = 0; k < NSTEPS; k++) {
        simvtp_step_info si;
        step(op_plain, &c, k, R, lp[k], &si);
        np_[k] = si.grad_norm;
    }
    CHECK_OK(simvtp_optimizer_set_data_position(op_plain, 777)); /* as the sharded run's */
    if (R == 0) CHECK_OK(simvtp_optimizer_save(op_plain, ppath));

    /* the sharded run, with a checkpoint after `split` updates */
    simvtp_model *ms = make_model(&c);
    simvtp_optimizer *os;
    CHECK_OK(simvtp_optimizer_create(ms, &op, &os));
    CHECK(simvtp_optimizer_set_sharding(os, 1) == SIMVTP_ERR_STATE, "sharding without a communicator");
    CHECK(simvtp_optimizer_set_sharding(os, 2) == SIMVTP_ERR_INVALID_ARG, "sharding on = 2 accepted");
    CHECK_OK(simvtp_optimizer_set_comm(os, comm));
    CHECK_OK(simvtp_optimizer_set_sharding(os, 1));
    CHECK_OK(simvtp_optimizer_set_sharding(os, 1)); /* again: nothing changes */
    size_t lo, len;
    sv_shard_range(ms->nparams, W, R, &lo, &len);
    CHECK(os->sharded && os->shard_lo == lo && os->shard_n == len && len <= ms->nparams / W + 1,
          "rank %d holds moments [%zu, +%zu), expected [%zu, +%zu)", R, os->shard_lo, os->shard_n, lo, len);
    double total = (double)len;
    MPI_Allreduce(MPI_IN_PLACE, &total, 1, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
    CHECK(total == (double)ms->nparams, "the shards cover %.0f of %zu parameters", total, ms->nparams);
    CHECK(simvtp_optimizer_set_comm(os, NULL) == SIMVTP_ERR_STATE, "set_comm accepted while sharded");
    float ls[NSTEPS][NLOSS];
    for (int k = 0; k < NSTEPS; k++) {
        simvtp_step_info si;
        step(os, &c, k, R, ls[k], &si);
        CHECK(si.updated == 1, "sharded step %d did not update", k);
        CHECK(memcmp(ls[k], lp[k], sizeof ls[k]) == 0, "sharded step %d: loss %.9g vs plain %.9g", k, ls[k][0],
              lp[k][0]);
        CHECK(memcmp(&si.grad_norm, &np_[k], sizeof(float)) == 0, "sharded step %d: grad norm %.9g vs plain %.9g",
              k, si.grad_norm, np_[k]);
        if (k == split - 1) {
            CHECK_OK(simvtp_optimizer_set_data_position(os, 777));
            if (R == 0) CHECK_OK(simvtp_model_save(ms, wpath));
            CHECK_OK(simvtp_optimizer_save(os, R == 0 ? spath : NULL)); /* a collective */
            CHECK_OK(simvtp_comm_barrier(comm));
        }
    }
    CHECK(memcmp(ms->params, mp->params, ms->nparams * sizeof(float)) == 0,
          "sharded weights differ from the plain run's");
    CHECK(memcmp(os->m, op_plain->m + lo, len * sizeof(float)) == 0 &&
          memcmp(os->v, op_plain->v + lo, len * sizeof(float)) == 0,
          "the shard's moments differ from the plain run's");
    {
        uint64_t h = fnv(1469598103934665603ull, ms->params, ms->nparams * sizeof(float)), all[64];
        CHECK(W <= 64, "world too large");
        MPI_Allgather(&h, 1, MPI_UINT64_T, all, 1, MPI_UINT64_T, MPI_COMM_WORLD);
        for (int r = 0; r < W; r++) CHECK(all[r] == all[0], "rank %d has other weights after the sharded run", r);
    }

    /* resume the sharded run from its checkpoint */
    simvtp_model *mr = NULL;
    CHECK_OK(simvtp_model_load(wpath, NULL, &mr));
    simvtp_optimizer *orr;
    CHECK_OK(simvtp_optimizer_create(mr, &op, &orr));
    CHECK_OK(simvtp_optimizer_set_comm(orr, comm));
    CHECK_OK(simvtp_optimizer_set_sharding(orr, 1));
    CHECK_OK(simvtp_optimizer_load(orr, spath));
    CHECK(simvtp_optimizer_data_position(orr) == 777 && simvtp_optimizer_step_count(orr) == split,
          "resumed state: position %llu step %lld", (unsigned long long)simvtp_optimizer_data_position(orr),
          (long long)simvtp_optimizer_step_count(orr));
    for (int k = split; k < NSTEPS; k++) {
        float l[NLOSS];
        step(orr, &c, k, R, l, NULL);
        CHECK(memcmp(l, ls[k], sizeof l) == 0, "resumed sharded step %d: loss %.9g vs straight %.9g", k, l[0],
              ls[k][0]);
    }
    CHECK(memcmp(mr->params, ms->params, ms->nparams * sizeof(float)) == 0 &&
          memcmp(orr->m, os->m, len * sizeof(float)) == 0 && memcmp(orr->v, os->v, len * sizeof(float)) == 0,
          "the resumed sharded run differs from the straight one");

    /* the final sharded state file (a collective) equals the plain run's */
    CHECK_OK(simvtp_optimizer_save(os, R == 0 ? spath : NULL));
    CHECK_OK(simvtp_comm_barrier(comm));
    if (R == 0) CHECK(file_equal(spath, ppath), "the sharded run's state file differs from the plain run's");

    /* unsharding gathers the moments back (a collective) */
    CHECK_OK(simvtp_optimizer_set_sharding(os, 0));
    CHECK(!os->sharded && os->shard_lo == 0 && os->shard_n == ms->nparams, "unsharded but still a shard");
    CHECK(memcmp(os->m, op_plain->m, ms->nparams * sizeof(float)) == 0 &&
          memcmp(os->v, op_plain->v, ms->nparams * sizeof(float)) == 0,
          "the gathered moments differ from the plain run's");
    CHECK_OK(simvtp_optimizer_set_comm(os, NULL));
    CHECK(simvtp_optimizer_save(os, NULL) == SIMVTP_ERR_INVALID_ARG, "save(NULL) accepted unsharded");
    if (R == 0)
        printf("zero1: %d ranks x %d steps, %zu parameters, moments of %zu per rank: losses, grad norms, weights, "
               "moments and the state file bit-identical to the all-reduce run; resume bit-identical\n",
               W, NSTEPS, ms->nparams, len);
    CHECK_OK(simvtp_comm_barrier(comm));
    if (R == 0) { unlink(wpath); unlink(spath); unlink(ppath); }
    simvtp_optimizer_free(orr);
    simvtp_model_free(mr);
    simvtp_optimizer_free(os);
    simvtp_model_free(ms);
    simvtp_optimizer_free(op_plain);
    simvtp_model_free(mp);
}

/* Mode "mismatch": ranks that did not start alike fail their first train
 * step together (SIMVTP_ERR_MISMATCH on every rank, naming rank 1 and the
 * part), before anything is trained; ranks that agree train. */
static void mismatch_case(simvtp_comm *comm, uint64_t seed1, float lr1, const char *part)
{
    const int R = simvtp_comm_rank(comm);
    const simvtp_config c = tiny_config();
    simvtp_model_params mp;
    simvtp_model_default_params(&mp);
    mp.seed = R == 1 ? seed1 : 77;
    simvtp_model *m = NULL;
    CHECK_OK(simvtp_model_create(&c, &mp, &m));
    simvtp_optimizer_params op = opt_params(1);
    if (R == 1) op.lr = lr1;
    simvtp_optimizer *o;
    CHECK_OK(simvtp_optimizer_create(m, &op, &o));
    CHECK_OK(simvtp_optimizer_set_comm(o, comm));
    batch_buf bb;
    batch_make(&bb, &c, 0, R);
    simvtp_losses l = {sizeof l};
    const int rc = simvtp_train_step(o, &bb.b, &l, NULL);
    if (part) {
        char want[128];
        snprintf(want, sizeof want, "rank 1 of 2 has other %s than rank 0", part);
        CHECK(rc == SIMVTP_ERR_MISMATCH && strstr(simvtp_last_error(), want) != NULL,
              "expected SIMVTP_ERR_MISMATCH naming '%s', got %s", part, simvtp_strerror(rc));
        CHECK(o->micro_step == 0 && o->step == 0, "something was trained after the mismatch");
    } else {
        CHECK(rc == SIMVTP_OK, "ranks that agree: %s", simvtp_strerror(rc));
        CHECK_OK(simvtp_optimizer_set_comm(o, comm)); /* compared again: still alike */
        CHECK_OK(simvtp_train_step(o, &bb.b, &l, NULL));
    }
    free(bb.frames);
    simvtp_optimizer_free(o);
    simvtp_model_free(m);
}

/* Mode "overlap": the gradient sum of the parameters whose gradients are
 * complete early (pretraining: encoder_to_decoder .. the heads; fine-tuning:
 * the text tower) starts during the backward (MPI_Iallreduce) and the rest
 * follows at the update. Against the same ranks with SIMVTP_OVERLAP=0:
 * losses and weights bit-identical (on 2 ranks a sum does not depend on its
 * order), for both model kinds, with and without accumulation; the
 * optimizer counts the overlapped updates. */
static void overlap_run(simvtp_comm *comm, int retrieval, int accum, int on, float *w_out, size_t n,
                        float *loss_out)
{
    const int R = simvtp_comm_rank(comm);
    const simvtp_config c = tiny_config();
    simvtp_model *m = make_model(&c), *use = m;
    if (retrieval) {
        simvtp_model_params mp;
        simvtp_model_default_params(&mp);
        mp.seed = 77;
        CHECK_OK(simvtp_model_create_retrieval(m, &mp, &use));
        simvtp_model_free(m);
    }
    CHECK(use->nparams == n, "%zu parameters, %zu expected", use->nparams, n);
    const simvtp_optimizer_params op = opt_params(accum);
    simvtp_optimizer *o;
    CHECK_OK(simvtp_optimizer_create(use, &op, &o));
    CHECK_OK(simvtp_optimizer_set_comm(o, comm));
    if (!on) setenv("SIMVTP_OVERLAP", "0", 1);
    for (int k = 0; k < 3 * accum; k++) {
        float l[NLOSS];
        step(o, &c, k, R, l, NULL);
        loss_out[k] = l[0];
    }
    unsetenv("SIMVTP_OVERLAP");
    CHECK(o->overlapped == (on ? 3 : 0), "%lld overlapped updates (overlap %s)", (long long)o->overlapped,
          on ? "on" : "off");
    memcpy(w_out, use->params, n * sizeof(float));
    simvtp_optimizer_free(o);
    simvtp_model_free(use);
}

static void overlap(simvtp_comm *comm)
{
    const simvtp_config c = tiny_config();
    for (int retrieval = 0; retrieval < 2; retrieval++)
        for (int accum = 1; accum <= 2; accum++) {
            simvtp_model *m = make_model(&c), *r = NULL;
            size_t n = m->nparams;
            if (retrieval) {
                CHECK_OK(simvtp_model_create_retrieval(m, NULL, &r));
                n = r->nparams;
                simvtp_model_free(r);
            }
            simvtp_model_free(m);
            float *a = malloc(n * sizeof(float)), *b = malloc(n * sizeof(float));
            float la[6], lb[6];
            CHECK(a && b, "out of memory");
            overlap_run(comm, retrieval, accum, 1, a, n, la);
            overlap_run(comm, retrieval, accum, 0, b, n, lb);
            CHECK(memcmp(la, lb, 3 * accum * sizeof(float)) == 0, "%s accum %d: losses differ with overlap",
                  retrieval ? "fine-tuning" : "pretraining", accum);
            CHECK(memcmp(a, b, n * sizeof(float)) == 0, "%s accum %d: weights differ with overlap",
                  retrieval ? "fine-tuning" : "pretraining", accum);
            free(a);
            free(b);
        }
    if (g_rank == 0)
        printf("overlap: gradient sums started during the backward, bit-identical to the sum at the update "
               "(pretraining and fine-tuning, accum 1 and 2)\n");
}

static void collectives(simvtp_comm *comm)
{
    const int W = simvtp_comm_size(comm), R = simvtp_comm_rank(comm);
    float x[3] = {1.0f, (float)R, 0.5f};
    CHECK_OK(simvtp_comm_allreduce_sum(comm, x, 3));
    CHECK(x[0] == (float)W && x[1] == (float)(W * (W - 1) / 2) && x[2] == 0.5f * (float)W,
          "allreduce_sum gave %g %g %g", x[0], x[1], x[2]);
    CHECK_OK(simvtp_comm_allreduce_sum(comm, NULL, 0));
    CHECK_OK(simvtp_comm_barrier(comm));
}

int main(int argc, char **argv)
{
    const int caller_init = argc > 1 && strcmp(argv[1], "caller-init") == 0;
    double t0 = now();
    if (caller_init) {
        int provided;
        MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
    }
    simvtp_comm *comm = NULL;
    int rc = simvtp_comm_create_mpi(&comm);
    if (rc != SIMVTP_OK) {
        fprintf(stderr, "simvtp_comm_create_mpi: %s: %s\n", simvtp_strerror(rc), simvtp_last_error());
        return 1;
    }
    g_rank = simvtp_comm_rank(comm);
    int wrank, wsize;
    MPI_Comm_rank(MPI_COMM_WORLD, &wrank);
    MPI_Comm_size(MPI_COMM_WORLD, &wsize);
    CHECK(wrank == g_rank && wsize == simvtp_comm_size(comm), "rank/size differ from MPI_COMM_WORLD");
    CHECK(simvtp_comm_size(comm) >= 2, "run under mpirun -np 2 (or more)");
    collectives(comm);
    if (caller_init) {
        CHECK_OK(simvtp_comm_finalize()); /* the caller owns MPI: nothing happens */
        int fin = 1;
        MPI_Finalized(&fin);
        CHECK(!fin, "simvtp_comm_finalize finalized the caller's MPI");
        simvtp_comm_free(comm);
        CHECK_OK(simvtp_comm_finalize());
        MPI_Finalized(&fin);
        CHECK(!fin, "simvtp_comm_finalize finalized the caller's MPI");
        if (g_rank == 0) printf("caller-init: collectives OK, MPI left to the caller\n");
        MPI_Finalize();
        return 0;
    }
    if (argc > 1 && strcmp(argv[1], "zero1") == 0) {
        zero1(comm);
    } else if (argc > 1 && strcmp(argv[1], "overlap") == 0) {
        overlap(comm);
    } else if (argc > 1 && strcmp(argv[1], "mismatch") == 0) {
        mismatch_case(comm, 78, 1e-3f, "weights");                /* another model seed */
        mismatch_case(comm, 77, 2e-3f, "optimizer settings");     /* another learning rate */
        mismatch_case(comm, 77, 1e-3f, NULL);                     /* alike: trains */
        if (g_rank == 0) printf("mismatch: other weights and other settings refused on every rank\n");
    } else {
        equivalence_and_resume(comm);
        resume_midway(comm);
    }
    CHECK(simvtp_comm_finalize() == SIMVTP_ERR_STATE, "finalize must refuse while a communicator is alive");
    simvtp_comm_free(comm);
    if (g_rank == 0) printf("total %.2f s (rank 0, including MPI start)\n", now() - t0);
    CHECK_OK(simvtp_comm_finalize());
    int fin = 0;
    MPI_Finalized(&fin);
    if (!fin) { fprintf(stderr, "simvtp_comm_finalize did not finalize MPI\n"); return 1; }
    CHECK_OK(simvtp_comm_finalize()); /* twice: a no-op */
    return 0;
}
#endif

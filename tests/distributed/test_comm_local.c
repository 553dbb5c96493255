/* test_comm_local.c — the communicator API without mpirun: the local world
 * of one, NULL handling, error paths, the MPI constructor in a build
 * without MPI, and that training with a local communicator (or W = 1) is
 * bit-identical to training without one. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "simvtp_build_config.h"
#include "simvtp/simvtp.h"
#include "core/rng.h"
#include "model/model.h"

#define B 2
#define L 6

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

static void run(simvtp_comm *comm, int use_comm, float *params_out, float *losses)
{
    simvtp_config c = tiny_config();
    simvtp_model *m;
    ck_assert_int_eq(simvtp_model_create(&c, NULL, &m), SIMVTP_OK);
    simvtp_optimizer_params op;
    simvtp_optimizer_default_params(&op);
    op.lr = 1e-3f; op.accum_steps = 2; op.seed = 3; op.clip_norm = 0.5f;
    simvtp_optimizer *o;
    ck_assert_int_eq(simvtp_optimizer_create(m, &op, &o), SIMVTP_OK);
    if (use_comm) ck_assert_int_eq(simvtp_optimizer_set_comm(o, comm), SIMVTP_OK);
    if (use_comm == 2) ck_assert_int_eq(simvtp_optimizer_set_sharding(o, 1), SIMVTP_OK); /* one shard */
    const size_t fs = (size_t)c.frames * c.height * c.width * 3;
    uint8_t *frames = malloc(B * fs);
    int32_t tok[B * L], len[B] = {6, 4};
    sv_rng g;
    sv_rng_seed(&g, 9);
    for (int k = 0; k < 6; k++) {
        for (size_t i = 0; i < B * fs; i++) frames[i] = (uint8_t)sv_rng_below(&g, 256);
        for (int s = 0; s < B; s++)
            for (int l = 0; l < L; l++)
                tok[s * L + l] = l == 0 ? 101 : l == len[s] - 1 ? 102 : l < len[s] ? 104 + (int)sv_rng_below(&g, 30) : 0;
        simvtp_batch b = {sizeof b, B, frames, L, tok, len};
        simvtp_losses ls = {sizeof ls};
        ck_assert_int_eq(simvtp_train_step(o, &b, &ls, NULL), SIMVTP_OK);
        losses[k] = ls.total;
    }
    memcpy(params_out, m->params, m->nparams * sizeof(float));
    free(frames);
    simvtp_optimizer_free(o);
    simvtp_model_free(m);
}

START_TEST(test_local_world)
{
    simvtp_comm *c = (simvtp_comm *)1;
    ck_assert_int_eq(simvtp_comm_create_local(NULL), SIMVTP_ERR_INVALID_ARG);
    ck_assert_int_eq(simvtp_comm_create_local(&c), SIMVTP_OK);
    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(simvtp_comm_rank(c), 0);
    ck_assert_int_eq(simvtp_comm_size(c), 1);
    ck_assert_int_eq(simvtp_comm_rank(NULL), 0);
    ck_assert_int_eq(simvtp_comm_size(NULL), 1);
    float x[2] = {1.5f, -2.0f};
    ck_assert_int_eq(simvtp_comm_allreduce_sum(c, x, 2), SIMVTP_OK);
    ck_assert(x[0] == 1.5f && x[1] == -2.0f);
    ck_assert_int_eq(simvtp_comm_allreduce_sum(c, NULL, 0), SIMVTP_OK);
    ck_assert_int_eq(simvtp_comm_allreduce_sum(c, NULL, 2), SIMVTP_ERR_INVALID_ARG);
    ck_assert_int_eq(simvtp_comm_allreduce_sum(NULL, x, 2), SIMVTP_ERR_INVALID_ARG);
    ck_assert_int_eq(simvtp_comm_barrier(c), SIMVTP_OK);
    ck_assert_int_eq(simvtp_comm_barrier(NULL), SIMVTP_ERR_INVALID_ARG);
    ck_assert_int_eq(simvtp_optimizer_set_comm(NULL, c), SIMVTP_ERR_INVALID_ARG);
    simvtp_comm_free(c);
    simvtp_comm_free(NULL);
    ck_assert_int_eq(simvtp_comm_finalize(), SIMVTP_OK); /* MPI never initialized: no-op */
}
END_TEST

START_TEST(test_mpi_constructor)
{
    ck_assert_int_eq(simvtp_comm_create_mpi(NULL), SIMVTP_ERR_INVALID_ARG);
#if !SIMVTP_HAVE_MPI
    simvtp_comm *c = (simvtp_comm *)1;
    ck_assert_int_eq(simvtp_comm_create_mpi(&c), SIMVTP_ERR_UNSUPPORTED);
    ck_assert_ptr_null(c);
    ck_assert_ptr_nonnull(strstr(simvtp_last_error(), "without MPI"));
#endif
}
END_TEST

START_TEST(test_local_training_bit_identical)
{
    simvtp_config c = tiny_config();
    simvtp_model *m;
    ck_assert_int_eq(simvtp_model_create(&c, NULL, &m), SIMVTP_OK);
    const size_t n = m->nparams;
    simvtp_model_free(m);
    float *a = malloc(n * sizeof(float)), *b = malloc(n * sizeof(float));
    float la[6], lb[6];
    simvtp_comm *comm;
    ck_assert_int_eq(simvtp_comm_create_local(&comm), SIMVTP_OK);
    run(NULL, 0, a, la);
    run(comm, 1, b, lb);
    ck_assert(memcmp(la, lb, sizeof la) == 0);
    ck_assert(memcmp(a, b, n * sizeof(float)) == 0);
    run(comm, 2, b, lb); /* sharded over a world of one: the same */
    ck_assert(memcmp(la, lb, sizeof la) == 0);
    ck_assert(memcmp(a, b, n * sizeof(float)) == 0);
    simvtp_comm_free(comm);
    free(a);
    free(b);
}
END_TEST

START_TEST(test_set_comm_pending)
{
    simvtp_config c = tiny_config();
    simvtp_model *m;
    ck_assert_int_eq(simvtp_model_create(&c, NULL, &m), SIMVTP_OK);
    simvtp_optimizer_params op;
    simvtp_optimizer_default_params(&op);
    op.accum_steps = 2;
    simvtp_optimizer *o;
    ck_assert_int_eq(simvtp_optimizer_create(m, &op, &o), SIMVTP_OK);
    simvtp_comm *comm;
    ck_assert_int_eq(simvtp_comm_create_local(&comm), SIMVTP_OK);
    const size_t fs = (size_t)c.frames * c.height * c.width * 3;
    uint8_t *frames = calloc(B, fs);
    int32_t tok[B * L] = {101, 104, 105, 102, 0, 0, 101, 106, 102, 0, 0, 0}, len[B] = {4, 3};
    simvtp_batch b = {sizeof b, B, frames, L, tok, len};
    ck_assert_int_eq(simvtp_train_step(o, &b, NULL, NULL), SIMVTP_OK);
    ck_assert_int_eq(simvtp_optimizer_set_comm(o, comm), SIMVTP_ERR_STATE);
    ck_assert_int_eq(simvtp_optimizer_set_comm(o, NULL), SIMVTP_OK); /* unchanged: allowed */
    ck_assert_int_eq(simvtp_train_step(o, &b, NULL, NULL), SIMVTP_OK);
    ck_assert_int_eq(simvtp_optimizer_set_comm(o, comm), SIMVTP_OK);
    ck_assert_int_eq(simvtp_optimizer_set_comm(o, NULL), SIMVTP_OK);
    free(frames);
    simvtp_comm_free(comm);
    simvtp_optimizer_free(o);
    simvtp_model_free(m);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("comm_local");
    TCase *tc = tcase_create("comm");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_local_world);
    tcase_add_test(tc, test_mpi_constructor);
    tcase_add_test(tc, test_local_training_bit_identical);
    tcase_add_test(tc, test_set_comm_pending);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}

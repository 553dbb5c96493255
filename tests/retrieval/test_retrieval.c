/* test_retrieval.c — retrieval metrics against hand-computed ranks (ties
 * included), similarity, index search against brute force, .svtpi round
 * trip and damaged files, and concurrent searches. */
#include <check.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "simvtp/simvtp.h"

START_TEST(test_metrics_hand_computed)
{
    /* 4 text queries x 5 videos; truth = diagonal for q < 4 */
    const float sim[4 * 5] = {
        0.9f, 0.1f, 0.2f, 0.3f, 0.0f, /* q0: truth 0.9 is best -> rank 0 */
        0.8f, 0.5f, 0.5f, 0.7f, 0.6f, /* q1: truth 0.5; 0.8, 0.7, 0.6 higher; a tie at 0.5 -> rank 3 */
        0.4f, 0.4f, 0.4f, 0.4f, 0.4f, /* q2: all tied -> rank 0 (ties favour the query) */
        0.9f, 0.8f, 0.7f, 0.1f, 0.6f, /* q3: truth 0.1 is last -> rank 4 */
    };
    const int32_t truth[4] = {0, 1, 2, 3};
    simvtp_retrieval_metrics m = {sizeof m};
    ck_assert_int_eq(simvtp_retrieval_metrics_compute(sim, 4, 5, truth, &m), SIMVTP_OK);
    /* ranks {0, 3, 0, 4}: R@1 = 50, R@5 = 100, R@10 = 100, MdR = median(0,0,3,4)+1 = 2.5, MnR = 7/4+1 */
    ck_assert_int_eq(m.queries, 4);
    ck_assert(fabs(m.r1 - 50.0) < 1e-12);
    ck_assert(fabs(m.r5 - 100.0) < 1e-12);
    ck_assert(fabs(m.r10 - 100.0) < 1e-12);
    ck_assert(fabs(m.median_rank - 2.5) < 1e-12);
    ck_assert(fabs(m.mean_rank - 2.75) < 1e-12);
    /* odd count: first three queries -> ranks {0,3,0}: MdR 1 */
    ck_assert_int_eq(simvtp_retrieval_metrics_compute(sim, 3, 5, truth, &m), SIMVTP_OK);
    ck_assert(fabs(m.median_rank - 1.0) < 1e-12);
    ck_assert(fabs(m.r1 - 200.0 / 3.0) < 1e-9);
    /* errors */
    const int32_t bad[1] = {5};
    ck_assert_int_eq(simvtp_retrieval_metrics_compute(sim, 1, 5, bad, &m), SIMVTP_ERR_INVALID_ARG);
    ck_assert(strlen(simvtp_last_error()) > 0);
    float nan_sim[2] = {NAN, 1.0f};
    ck_assert_int_eq(simvtp_retrieval_metrics_compute(nan_sim, 1, 2, truth, &m), SIMVTP_ERR_NONFINITE);
    simvtp_retrieval_metrics wrong = {0};
    ck_assert_int_eq(simvtp_retrieval_metrics_compute(sim, 1, 5, truth, &wrong), SIMVTP_ERR_INVALID_ARG);
}
END_TEST

static void random_unit(float *v, int n, int dim, unsigned *seed)
{
    for (int i = 0; i < n; i++) {
        double s = 0;
        for (int d = 0; d < dim; d++) {
            v[i * dim + d] = (float)rand_r(seed) / RAND_MAX - 0.5f;
            s += v[i * dim + d] * v[i * dim + d];
        }
        for (int d = 0; d < dim; d++) v[i * dim + d] /= (float)sqrt(s);
    }
}

START_TEST(test_similarity)
{
    unsigned seed = 1;
    float a[3 * 8], b[5 * 8], s[15];
    random_unit(a, 3, 8, &seed);
    random_unit(b, 5, 8, &seed);
    ck_assert_int_eq(simvtp_similarity(a, 3, b, 5, 8, s), SIMVTP_OK);
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 5; j++) {
            double d = 0;
            for (int k = 0; k < 8; k++) d += (double)a[i * 8 + k] * b[j * 8 + k];
            ck_assert(fabs(d - s[i * 5 + j]) < 1e-6);
        }
    ck_assert_int_eq(simvtp_similarity(NULL, 3, b, 5, 8, s), SIMVTP_ERR_INVALID_ARG);
}
END_TEST

enum { N = 5000, DIM = 24, NQ = 13, K = 10 };

static simvtp_index *build_index(float *emb)
{
    unsigned seed = 7;
    random_unit(emb, N, DIM, &seed);
    /* exact duplicates to exercise the tie rule: 100 == 4000 == 4999 */
    memcpy(emb + 4000 * DIM, emb + 100 * DIM, DIM * sizeof(float));
    memcpy(emb + 4999 * DIM, emb + 100 * DIM, DIM * sizeof(float));
    simvtp_index *x;
    ck_assert_int_eq(simvtp_index_create(DIM, &x), SIMVTP_OK);
    char buf[N][16];
    const char *ids[N];
    for (int i = 0; i < N; i++) {
        snprintf(buf[i], sizeof buf[i], "video%d", i);
        ids[i] = buf[i];
    }
    ck_assert_int_eq(simvtp_index_add(x, ids, emb, 3000), SIMVTP_OK);
    ck_assert_int_eq(simvtp_index_add(x, ids + 3000, emb + 3000 * DIM, N - 3000), SIMVTP_OK);
    ck_assert_int_eq(simvtp_index_size(x), N);
    return x;
}

/* Brute force in double: the K best positions by score (first of equals). */
static void brute(const float *emb, const float *q, int64_t *idx)
{
    double *s = malloc(N * sizeof(double));
    char *used = calloc(N, 1);
    for (int i = 0; i < N; i++) {
        double d = 0;
        for (int k = 0; k < DIM; k++) d += (double)emb[i * DIM + k] * q[k];
        s[i] = d;
    }
    for (int j = 0; j < K; j++) {
        int best = -1;
        for (int i = 0; i < N; i++)
            if (!used[i] && (best < 0 || s[i] > s[best]))
                best = i;
        used[best] = 1;
        idx[j] = best;
    }
    free(s);
    free(used);
}

START_TEST(test_index_matches_brute_force)
{
    float *emb = malloc((size_t)N * DIM * sizeof(float));
    simvtp_index *x = build_index(emb);
    float q[NQ * DIM];
    unsigned seed = 11;
    random_unit(q, NQ, DIM, &seed);
    memcpy(q, emb + 100 * DIM, DIM * sizeof(float)); /* query 0 hits the triple duplicate */
    int64_t idx[NQ * K];
    float sc[NQ * K];
    ck_assert_int_eq(simvtp_index_search(x, q, NQ, K, idx, sc), SIMVTP_OK);
    for (int i = 0; i < NQ; i++) {
        int64_t want[K];
        brute(emb, q + i * DIM, want);
        for (int j = 0; j < K; j++) {
            /* same score as brute force at every rank (order of near-equal scores may differ) */
            double ws = 0;
            for (int k = 0; k < DIM; k++) ws += (double)emb[want[j] * DIM + k] * q[i * DIM + k];
            ck_assert_msg(fabs(ws - sc[i * K + j]) < 1e-5, "query %d rank %d: %g vs %g", i, j, ws, sc[i * K + j]);
            if (j) ck_assert(sc[i * K + j] <= sc[i * K + j - 1]);
        }
    }
    /* exact ties: equal vectors come out in position order */
    ck_assert_int_eq(idx[0], 100);
    ck_assert_int_eq(idx[1], 4000);
    ck_assert_int_eq(idx[2], 4999);
    ck_assert_str_eq(simvtp_index_id(x, idx[1]), "video4000");
    /* k larger than the index pads with -1 */
    simvtp_index *small;
    ck_assert_int_eq(simvtp_index_create(DIM, &small), SIMVTP_OK);
    ck_assert_int_eq(simvtp_index_add(small, NULL, emb, 3), SIMVTP_OK);
    int64_t si[5];
    ck_assert_int_eq(simvtp_index_search(small, q, 1, 5, si, NULL), SIMVTP_OK);
    ck_assert(si[3] == -1 && si[4] == -1 && si[0] >= 0 && si[2] >= 0);
    ck_assert_str_eq(simvtp_index_id(small, 0), "");
    ck_assert_ptr_null(simvtp_index_id(small, 3));
    simvtp_index_free(small);
    simvtp_index_free(x);
    free(emb);
}
END_TEST

START_TEST(test_index_file_round_trip_and_damage)
{
    float *emb = malloc((size_t)N * DIM * sizeof(float));
    simvtp_index *x = build_index(emb), *y = NULL;
    char path[] = "/tmp/svtpi-XXXXXX";
    close(mkstemp(path));
    ck_assert_int_eq(simvtp_index_save(x, path), SIMVTP_OK);
    ck_assert_int_eq(simvtp_index_load(path, &y), SIMVTP_OK);
    ck_assert_int_eq(simvtp_index_size(y), N);
    ck_assert_int_eq(simvtp_index_dim(y), DIM);
    for (int i = 0; i < N; i += 97) ck_assert_str_eq(simvtp_index_id(x, i), simvtp_index_id(y, i));
    float q[DIM];
    memcpy(q, emb + 1234 * DIM, sizeof q);
    int64_t a[K], b[K];
    float sa[K], sb[K];
    simvtp_index_search(x, q, 1, K, a, sa);
    simvtp_index_search(y, q, 1, K, b, sb);
    ck_assert(memcmp(a, b, sizeof a) == 0 && memcmp(sa, sb, sizeof sa) == 0);
    simvtp_index_free(y);
    /* damage: flip one byte in the payload, cut the file, wrong magic, missing */
    FILE *f = fopen(path, "rb");
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    rewind(f);
    unsigned char *buf = malloc((size_t)len);
    ck_assert_int_eq(fread(buf, 1, (size_t)len, f), len);
    fclose(f);
    char bad[] = "/tmp/svtpi-bad-XXXXXX";
    close(mkstemp(bad));
    buf[len / 2] ^= 0x40;
    f = fopen(bad, "wb"); fwrite(buf, 1, (size_t)len, f); fclose(f);
    ck_assert_int_eq(simvtp_index_load(bad, &y), SIMVTP_ERR_FORMAT);
    ck_assert_ptr_null(y);
    ck_assert(strstr(simvtp_last_error(), bad) != NULL);
    buf[len / 2] ^= 0x40;
    for (long cut = 0; cut < len; cut += len / 7 + 1) {
        f = fopen(bad, "wb"); fwrite(buf, 1, (size_t)cut, f); fclose(f);
        int rc = simvtp_index_load(bad, &y);
        ck_assert_msg(rc == SIMVTP_ERR_TRUNCATED || rc == SIMVTP_ERR_FORMAT, "cut at %ld: %d", cut, rc);
    }
    buf[0] = 'X';
    f = fopen(bad, "wb"); fwrite(buf, 1, (size_t)len, f); fclose(f);
    ck_assert_int_eq(simvtp_index_load(bad, &y), SIMVTP_ERR_FORMAT);
    ck_assert_int_eq(simvtp_index_load("/nonexistent/x.svtpi", &y), SIMVTP_ERR_IO);
    unlink(bad);
    unlink(path);
    free(buf);
    simvtp_index_free(x);
    free(emb);
}
END_TEST

typedef struct search_job {
    const simvtp_index *x;
    const float *q;
    int64_t idx[NQ * K];
    int rc;
} search_job;

static void *search_thread(void *arg)
{
    search_job *j = arg;
    for (int r = 0; r < 5 && !j->rc; r++) j->rc = simvtp_index_search(j->x, j->q, NQ, K, j->idx, NULL);
    return NULL;
}

START_TEST(test_concurrent_search)
{
    float *emb = malloc((size_t)N * DIM * sizeof(float));
    simvtp_index *x = build_index(emb);
    float q[NQ * DIM];
    unsigned seed = 5;
    random_unit(q, NQ, DIM, &seed);
    int64_t ref[NQ * K];
    ck_assert_int_eq(simvtp_index_search(x, q, NQ, K, ref, NULL), SIMVTP_OK);
    enum { T = 4 };
    search_job jobs[T];
    pthread_t th[T];
    for (int t = 0; t < T; t++) {
        jobs[t].x = x; jobs[t].q = q; jobs[t].rc = 0;
        pthread_create(&th[t], NULL, search_thread, &jobs[t]);
    }
    for (int t = 0; t < T; t++) {
        pthread_join(th[t], NULL);
        ck_assert_int_eq(jobs[t].rc, SIMVTP_OK);
        ck_assert(memcmp(jobs[t].idx, ref, sizeof ref) == 0);
    }
    simvtp_index_free(x);
    free(emb);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("retrieval");
    TCase *tc = tcase_create("retrieval");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_metrics_hand_computed);
    tcase_add_test(tc, test_similarity);
    tcase_add_test(tc, test_index_matches_brute_force);
    tcase_add_test(tc, test_index_file_round_trip_and_damage);
    tcase_add_test(tc, test_concurrent_search);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}

/* test_api.c — API contracts of libsimvtp, through the shared library and the
 * public headers only: every error path returns its documented status and
 * leaves a non-empty simvtp_last_error() detail; defaults, presets, version
 * queries, status names; weight and training-state files (missing, foreign,
 * wrong version, truncated, corrupt, other config); free functions accept
 * NULL. Models use a custom, very small configuration so that the whole
 * suite runs in seconds (and under valgrind, as the api-valgrind test).
 *
 * Scratch files go to a fresh directory under $SIMVTP_TEST_TMPDIR (or
 * $TMPDIR, or /tmp), removed at the end. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <simvtp/simvtp.h>

#include <check.h>
#include <dirent.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ------------------------------------------------------------------------ */
/* Helpers                                                                  */
/* ------------------------------------------------------------------------ */

#define TOKEN_PAD 0
#define TOKEN_CLS 101
#define TOKEN_SEP 102
#define TOKEN_FIRST_WORD 104 /* first id after the BERT special tokens */

/* The .svtp layout starts with an 8-byte magic, then a uint32 (LE) format version. */
#define SVTP_MAGIC "SVTPWGT1"
#define SVTP_MAGIC_LEN 8
#define SVTP_VERSION_OFFSET 8

static char g_tmpdir[PATH_MAX];

static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Checks that `rc` is `want` and, for an error, that the thread's detail
 * message is not empty. The detail is read before anything else is called. */
static void expect_status(int rc, int want, const char *what)
{
    const char *d = simvtp_last_error();
    char detail[512];
    ck_assert_msg(d != NULL, "%s: simvtp_last_error() returned NULL", what);
    snprintf(detail, sizeof detail, "%s", d);
    ck_assert_msg(rc == want, "%s returned %d (%s), expected %d (%s); detail: \"%s\"", what, rc,
                  simvtp_strerror(rc), want, simvtp_strerror(want), detail);
    if (want != SIMVTP_OK)
        ck_assert_msg(detail[0] != '\0', "%s failed with %s but simvtp_last_error() is empty",
                      what, simvtp_strerror(rc));
}
#define EXPECT(call, want) expect_status((call), (want), #call)

/* Either of two statuses (e.g. a truncated file may read as TRUNCATED or FORMAT). */
static void expect_status2(int rc, int want1, int want2, const char *what)
{
    const char *d = simvtp_last_error();
    char detail[512];
    ck_assert_msg(d != NULL, "%s: simvtp_last_error() returned NULL", what);
    snprintf(detail, sizeof detail, "%s", d);
    ck_assert_msg(rc == want1 || rc == want2,
                  "%s returned %d (%s), expected %s or %s; detail: \"%s\"", what, rc,
                  simvtp_strerror(rc), simvtp_strerror(want1), simvtp_strerror(want2), detail);
    ck_assert_msg(detail[0] != '\0', "%s failed but simvtp_last_error() is empty", what);
}

/* A call that returns a negative number (or NULL) on error, without a named status. */
static void expect_negative(long long v, const char *what)
{
    const char *d = simvtp_last_error();
    ck_assert_msg(v < 0, "%s returned %lld, expected a negative error", what, v);
    ck_assert_msg(d != NULL && d[0] != '\0', "%s failed but simvtp_last_error() is empty", what);
}
#define EXPECT_NEG(call) expect_negative((long long)(call), #call)

static void expect_detail_names(const char *what, const char *const *names)
{
    const char *d = simvtp_last_error();
    int i;
    ck_assert_ptr_nonnull(d);
    for (i = 0; names[i]; i++)
        if (strstr(d, names[i]))
            return;
    ck_assert_msg(0, "%s: the detail \"%s\" names none of the offending fields (e.g. \"%s\")",
                  what, d, names[0]);
}

static void path_in_tmp(char *out, size_t n, const char *name)
{
    int len = snprintf(out, n, "%s/%s", g_tmpdir, name);
    ck_assert_msg(len > 0 && (size_t)len < n, "path too long");
}

static void write_bytes(const char *path, const void *buf, size_t n)
{
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "cannot create %s", path);
    if (n)
        ck_assert_uint_eq(fwrite(buf, 1, n, f), n);
    ck_assert_int_eq(fclose(f), 0);
}

static unsigned char *read_bytes(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf;
    long len;
    ck_assert_msg(f != NULL, "cannot open %s", path);
    ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
    len = ftell(f);
    ck_assert_int_ge(len, 0);
    ck_assert_int_eq(fseek(f, 0, SEEK_SET), 0);
    buf = malloc(len ? (size_t)len : 1);
    ck_assert_ptr_nonnull(buf);
    if (len)
        ck_assert_uint_eq(fread(buf, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    *n = (size_t)len;
    return buf;
}

/* The small configuration every model test uses: 4 frames of 32x32, tubelets
 * 2x8x8 (32 video tokens, 8 visible at ratio 0.75), width 32, 2 blocks. */
static simvtp_config small_config(void)
{
    simvtp_config c;
    memset(&c, 0, sizeof c);
    ck_assert_int_eq(simvtp_config_preset("tiny", &c), SIMVTP_OK);
    c.frames = 4;
    c.height = 32;
    c.width = 32;
    c.tubelet = 2;
    c.patch = 8;
    c.enc_width = 32;
    c.enc_depth = 2;
    c.enc_heads = 2;
    c.enc_mlp = 64;
    c.dec_width = 16;
    c.dec_depth = 1;
    c.dec_heads = 2;
    c.dec_mlp = 32;
    c.vocab_size = 200;
    c.max_text_len = 12;
    c.type_vocab = 2;
    c.video_mask_ratio = 0.75f;
    c.text_mask_ratio = 0.5f;
    EXPECT(simvtp_config_validate(&c), SIMVTP_OK);
    return c;
}

/* The same shape with one encoder block fewer: files of one don't fit the other. */
static simvtp_config other_config(void)
{
    simvtp_config c = small_config();
    c.enc_depth = 1;
    EXPECT(simvtp_config_validate(&c), SIMVTP_OK);
    return c;
}

static simvtp_model_params model_params(uint64_t seed)
{
    simvtp_model_params p;
    simvtp_model_default_params(&p);
    p.seed = seed;
    return p;
}

static simvtp_model *new_model(const simvtp_config *c, uint64_t seed)
{
    simvtp_model_params p = model_params(seed);
    simvtp_model *m = NULL;
    EXPECT(simvtp_model_create(c, &p, &m), SIMVTP_OK);
    ck_assert_ptr_nonnull(m);
    return m;
}

static simvtp_optimizer *new_optimizer(simvtp_model *m, int accum)
{
    simvtp_optimizer_params p;
    simvtp_optimizer *o = NULL;
    simvtp_optimizer_default_params(&p);
    p.lr = 1e-3f;
    p.accum_steps = accum;
    p.seed = 3;
    EXPECT(simvtp_optimizer_create(m, &p, &o), SIMVTP_OK);
    ck_assert_ptr_nonnull(o);
    return o;
}

/* A batch in host memory: B clips of random pixels and captions
 * [CLS] w ... w [SEP] [PAD]... with lengths L, L-1, L, L-1, ... */
typedef struct test_batch {
    uint8_t *frames;
    int32_t *tokens;
    int32_t *lengths;
    simvtp_batch b;
} test_batch;

static void batch_make(test_batch *t, const simvtp_config *c, int B, int L, uint64_t seed)
{
    size_t nframe = (size_t)B * c->frames * c->height * c->width * 3, i;
    int s, j;
    uint64_t st = seed * 7919u + 1u;
    ck_assert_int_ge(L, 4);
    ck_assert_int_le(L, c->max_text_len);
    t->frames = malloc(nframe);
    t->tokens = calloc((size_t)B * L, sizeof *t->tokens);
    t->lengths = calloc((size_t)B, sizeof *t->lengths);
    ck_assert(t->frames && t->tokens && t->lengths);
    for (i = 0; i < nframe; i++)
        t->frames[i] = (uint8_t)(splitmix64(&st) >> 56);
    for (s = 0; s < B; s++) {
        int len = L - (s % 2);
        int32_t *row = t->tokens + (size_t)s * L;
        t->lengths[s] = len;
        row[0] = TOKEN_CLS;
        for (j = 1; j < len - 1; j++)
            row[j] = TOKEN_FIRST_WORD +
                     (int32_t)(splitmix64(&st) % (uint64_t)(c->vocab_size - TOKEN_FIRST_WORD));
        row[len - 1] = TOKEN_SEP;
        for (j = len; j < L; j++)
            row[j] = TOKEN_PAD;
    }
    memset(&t->b, 0, sizeof t->b);
    t->b.size = sizeof t->b;
    t->b.batch = B;
    t->b.frames = t->frames;
    t->b.max_len = L;
    t->b.tokens = t->tokens;
    t->b.lengths = t->lengths;
}

static void batch_free(test_batch *t)
{
    free(t->frames);
    free(t->tokens);
    free(t->lengths);
    memset(t, 0, sizeof *t);
}

static simvtp_losses losses_init(void)
{
    simvtp_losses l;
    memset(&l, 0, sizeof l);
    l.size = sizeof l;
    return l;
}

static simvtp_step_info info_init(void)
{
    simvtp_step_info s;
    memset(&s, 0, sizeof s);
    s.size = sizeof s;
    return s;
}

static void expect_finite_losses(const simvtp_losses *l, int pretrain)
{
    ck_assert_msg(isfinite(l->total), "total loss %g", l->total);
    if (pretrain) {
        float sum = l->video_mse + l->mlm + l->vtc + l->vtm;
        ck_assert(isfinite(l->video_mse) && isfinite(l->mlm) && isfinite(l->vtc) &&
                  isfinite(l->vtm));
        ck_assert(l->video_mse >= 0 && l->mlm >= 0 && l->vtc >= 0 && l->vtm >= 0);
        ck_assert_msg(fabsf(l->total - sum) <= 1e-4f * fmaxf(1.0f, fabsf(sum)),
                      "total %g != sum of the four %g", l->total, sum);
        ck_assert_int_ge(l->masked_text, 0);
    } else {
        ck_assert_msg(fabsf(l->total - l->vtc) <= 1e-5f * fmaxf(1.0f, fabsf(l->vtc)),
                      "retrieval total %g != vtc %g", l->total, l->vtc);
    }
}

static float *tensor_copy(const simvtp_model *m, int i)
{
    int64_t n = simvtp_model_tensor_numel(m, i);
    float *v;
    ck_assert_int_gt(n, 0);
    v = malloc((size_t)n * sizeof *v);
    ck_assert_ptr_nonnull(v);
    EXPECT(simvtp_model_tensor_get(m, i, v), SIMVTP_OK);
    return v;
}

/* Both models hold the same tensors (names, sizes) with bitwise equal values. */
static int models_equal(const simvtp_model *a, const simvtp_model *b)
{
    int n = simvtp_model_num_tensors(a), i, same = 1;
    if (n != simvtp_model_num_tensors(b))
        return 0;
    for (i = 0; i < n && same; i++) {
        int64_t k = simvtp_model_tensor_numel(a, i);
        float *x, *y;
        if (k != simvtp_model_tensor_numel(b, i) ||
            strcmp(simvtp_model_tensor_name(a, i), simvtp_model_tensor_name(b, i)) != 0)
            return 0;
        x = tensor_copy(a, i);
        y = tensor_copy(b, i);
        same = memcmp(x, y, (size_t)k * sizeof *x) == 0;
        free(x);
        free(y);
    }
    return same;
}

static void expect_same_shape(const simvtp_config *a, const simvtp_config *b)
{
    ck_assert_int_eq(a->frames, b->frames);
    ck_assert_int_eq(a->height, b->height);
    ck_assert_int_eq(a->width, b->width);
    ck_assert_int_eq(a->tubelet, b->tubelet);
    ck_assert_int_eq(a->patch, b->patch);
    ck_assert_int_eq(a->enc_width, b->enc_width);
    ck_assert_int_eq(a->enc_depth, b->enc_depth);
    ck_assert_int_eq(a->enc_heads, b->enc_heads);
    ck_assert_int_eq(a->enc_mlp, b->enc_mlp);
    ck_assert_int_eq(a->dec_width, b->dec_width);
    ck_assert_int_eq(a->dec_depth, b->dec_depth);
    ck_assert_int_eq(a->dec_heads, b->dec_heads);
    ck_assert_int_eq(a->dec_mlp, b->dec_mlp);
    ck_assert_int_eq(a->vocab_size, b->vocab_size);
    ck_assert_int_eq(a->max_text_len, b->max_text_len);
    ck_assert_int_eq(a->type_vocab, b->type_vocab);
    ck_assert(a->video_mask_ratio == b->video_mask_ratio);
    ck_assert(a->text_mask_ratio == b->text_mask_ratio);
}

/* A valid weights file of the small config (seed 1), written to `name`. */
static void save_small_model(const char *name, char *path, size_t n)
{
    simvtp_config c = small_config();
    simvtp_model *m = new_model(&c, 1);
    path_in_tmp(path, n, name);
    EXPECT(simvtp_model_save(m, path), SIMVTP_OK);
    simvtp_model_free(m);
}

/* ------------------------------------------------------------------------ */
/* Status codes, detail messages, versions, log callback                    */
/* ------------------------------------------------------------------------ */

static const struct {
    int code;
    const char *name;
} k_status_names[] = {
    {SIMVTP_OK, "SIMVTP_OK"},
    {SIMVTP_ERR_INVALID_ARG, "SIMVTP_ERR_INVALID_ARG"},
    {SIMVTP_ERR_NOMEM, "SIMVTP_ERR_NOMEM"},
    {SIMVTP_ERR_IO, "SIMVTP_ERR_IO"},
    {SIMVTP_ERR_FORMAT, "SIMVTP_ERR_FORMAT"},
    {SIMVTP_ERR_VERSION, "SIMVTP_ERR_VERSION"},
    {SIMVTP_ERR_CONFIG, "SIMVTP_ERR_CONFIG"},
    {SIMVTP_ERR_MISMATCH, "SIMVTP_ERR_MISMATCH"},
    {SIMVTP_ERR_TRUNCATED, "SIMVTP_ERR_TRUNCATED"},
    {SIMVTP_ERR_UNSUPPORTED, "SIMVTP_ERR_UNSUPPORTED"},
    {SIMVTP_ERR_STATE, "SIMVTP_ERR_STATE"},
    {SIMVTP_ERR_NONFINITE, "SIMVTP_ERR_NONFINITE"},
    {SIMVTP_ERR_INTERNAL, "SIMVTP_ERR_INTERNAL"},
    {SIMVTP_ERR_ABORTED, "SIMVTP_ERR_ABORTED"},
};
#define N_STATUS ((int)(sizeof k_status_names / sizeof k_status_names[0]))

START_TEST(test_status_values_pinned)
{
    /* The numeric values are part of the ABI. */
    ck_assert_int_eq(SIMVTP_OK, 0);
    ck_assert_int_eq(SIMVTP_ERR_INVALID_ARG, -1);
    ck_assert_int_eq(SIMVTP_ERR_NOMEM, -2);
    ck_assert_int_eq(SIMVTP_ERR_IO, -3);
    ck_assert_int_eq(SIMVTP_ERR_FORMAT, -4);
    ck_assert_int_eq(SIMVTP_ERR_VERSION, -5);
    ck_assert_int_eq(SIMVTP_ERR_CONFIG, -6);
    ck_assert_int_eq(SIMVTP_ERR_MISMATCH, -7);
    ck_assert_int_eq(SIMVTP_ERR_TRUNCATED, -8);
    ck_assert_int_eq(SIMVTP_ERR_UNSUPPORTED, -9);
    ck_assert_int_eq(SIMVTP_ERR_STATE, -10);
    ck_assert_int_eq(SIMVTP_ERR_NONFINITE, -11);
    ck_assert_int_eq(SIMVTP_ERR_INTERNAL, -12);
    ck_assert_int_eq(SIMVTP_ERR_ABORTED, -13);
    ck_assert_int_eq(SIMVTP_MODEL_PRETRAIN, 0);
    ck_assert_int_eq(SIMVTP_MODEL_RETRIEVAL, 1);
    ck_assert_int_eq(SIMVTP_LOG_ERROR, 0);
    ck_assert_int_eq(SIMVTP_LOG_DEBUG, 3);
}
END_TEST

START_TEST(test_strerror_every_code)
{
    int i;
    for (i = 0; i < N_STATUS; i++) {
        const char *s = simvtp_strerror(k_status_names[i].code);
        ck_assert_ptr_nonnull(s);
        ck_assert_str_eq(s, k_status_names[i].name);
    }
}
END_TEST

START_TEST(test_strerror_unknown_code)
{
    static const int unknown[] = {1, 2, 100, -14, -99, -1000, INT_MIN, INT_MAX};
    size_t u;
    int i;
    for (u = 0; u < sizeof unknown / sizeof unknown[0]; u++) {
        const char *s = simvtp_strerror(unknown[u]);
        ck_assert_msg(s != NULL, "simvtp_strerror(%d) returned NULL", unknown[u]);
        ck_assert_msg(s[0] != '\0', "simvtp_strerror(%d) is empty", unknown[u]);
        for (i = 0; i < N_STATUS; i++)
            ck_assert_msg(strcmp(s, k_status_names[i].name) != 0,
                          "simvtp_strerror(%d) claims to be %s", unknown[u], s);
    }
}
END_TEST

START_TEST(test_last_error_lifecycle)
{
    simvtp_config c;
    const char *d = simvtp_last_error();
    ck_assert_ptr_nonnull(d);
    EXPECT(simvtp_config_preset("no-such-preset", &c), SIMVTP_ERR_INVALID_ARG);
    /* a call that succeeds clears the detail */
    EXPECT(simvtp_config_preset("tiny", &c), SIMVTP_OK);
    d = simvtp_last_error();
    ck_assert_ptr_nonnull(d);
    ck_assert_msg(d[0] == '\0', "detail after a successful call: \"%s\"", d);
    EXPECT(simvtp_config_validate(NULL), SIMVTP_ERR_INVALID_ARG);
    EXPECT(simvtp_config_validate(&c), SIMVTP_OK);
    ck_assert_str_eq(simvtp_last_error(), "");
}
END_TEST

static void *thread_errors(void *arg)
{
    char *report = arg;
    const char *d = simvtp_last_error();
    if (!d || d[0] != '\0') {
        snprintf(report, 256, "fresh thread: detail %s", d ? d : "NULL");
        return NULL;
    }
    if (simvtp_config_validate(NULL) != SIMVTP_ERR_INVALID_ARG) {
        snprintf(report, 256, "thread: validate(NULL) did not fail");
        return NULL;
    }
    d = simvtp_last_error();
    if (!d || d[0] == '\0') {
        snprintf(report, 256, "thread: empty detail after an error");
        return NULL;
    }
    report[0] = '\0';
    return NULL;
}

START_TEST(test_last_error_per_thread)
{
    simvtp_config c;
    char mine[512], report[256] = "thread did not run";
    pthread_t t;
    EXPECT(simvtp_config_preset("no-such-preset", &c), SIMVTP_ERR_INVALID_ARG);
    snprintf(mine, sizeof mine, "%s", simvtp_last_error());
    ck_assert_int_eq(pthread_create(&t, NULL, thread_errors, report), 0);
    ck_assert_int_eq(pthread_join(t, NULL), 0);
    ck_assert_msg(report[0] == '\0', "%s", report);
    ck_assert_str_eq(simvtp_last_error(), mine);
}
END_TEST

START_TEST(test_version_matches_header)
{
    char want[64];
    const char *s = simvtp_version_string();
    ck_assert_uint_eq(simvtp_version(), (unsigned)SIMVTP_VERSION_NUMBER);
    ck_assert_uint_eq(simvtp_version(), (unsigned)(SIMVTP_VERSION_MAJOR * 10000 +
                                                   SIMVTP_VERSION_MINOR * 100 +
                                                   SIMVTP_VERSION_PATCH));
    ck_assert_int_eq(simvtp_version_api(), SIMVTP_VERSION_MAJOR);
    snprintf(want, sizeof want, "%d.%d.%d", SIMVTP_VERSION_MAJOR, SIMVTP_VERSION_MINOR,
             SIMVTP_VERSION_PATCH);
    ck_assert_ptr_nonnull(s);
    ck_assert_str_eq(s, want);
}
END_TEST

static void count_log(void *user_data, int level, const char *message)
{
    (void)level;
    (void)message;
    ++*(int *)user_data;
}

START_TEST(test_log_callback)
{
    int count = 0;
    simvtp_config c;
    simvtp_set_log_callback(count_log, &count, SIMVTP_LOG_DEBUG);
    EXPECT(simvtp_config_preset("no-such-preset", &c), SIMVTP_ERR_INVALID_ARG);
    EXPECT(simvtp_config_preset("tiny", &c), SIMVTP_OK);
    simvtp_set_log_callback(NULL, NULL, SIMVTP_LOG_DEBUG); /* silence again */
    simvtp_set_log_callback(NULL, NULL, -5);
    simvtp_set_log_callback(count_log, &count, 1000);
    simvtp_set_log_callback(NULL, NULL, 0);
    ck_assert_int_ge(count, 0);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Default params                                                           */
/* ------------------------------------------------------------------------ */

START_TEST(test_model_default_params)
{
    simvtp_model_params p;
    memset(&p, 0x5A, sizeof p);
    simvtp_model_default_params(&p);
    ck_assert_uint_eq(p.size, sizeof p);
    ck_assert_uint_eq(p.seed, 0);
    ck_assert_ptr_nonnull(p.backend);
    ck_assert_str_eq(p.backend, "cpu");
    ck_assert_int_eq(p.threads, 0);
    simvtp_model_default_params(NULL); /* must not crash */
}
END_TEST

START_TEST(test_optimizer_default_params)
{
    simvtp_optimizer_params p;
    memset(&p, 0x5A, sizeof p);
    simvtp_optimizer_default_params(&p);
    ck_assert_uint_eq(p.size, sizeof p);
    ck_assert_float_eq_tol(p.lr, 1.5e-4f, 1e-10f);
    ck_assert_float_eq(p.min_lr, 0.0f);
    ck_assert_float_eq_tol(p.beta1, 0.9f, 1e-7f);
    ck_assert_float_eq_tol(p.beta2, 0.95f, 1e-7f);
    ck_assert_float_eq_tol(p.eps, 1e-8f, 1e-14f);
    ck_assert_float_eq_tol(p.weight_decay, 0.05f, 1e-8f);
    ck_assert_int_eq(p.warmup_steps, 0);
    ck_assert_int_eq(p.total_steps, 0);
    ck_assert_float_eq(p.clip_norm, 0.0f);
    ck_assert_int_eq(p.accum_steps, 1);
    ck_assert_uint_eq(p.seed, 0);
    simvtp_optimizer_default_params(NULL); /* must not crash */
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Configurations                                                           */
/* ------------------------------------------------------------------------ */

START_TEST(test_preset_vit_b)
{
    simvtp_config c;
    memset(&c, 0, sizeof c);
    EXPECT(simvtp_config_preset("vit-b", &c), SIMVTP_OK);
    ck_assert_uint_eq(c.size, sizeof c);
    ck_assert_int_eq(c.frames, 16);
    ck_assert_int_eq(c.height, 224);
    ck_assert_int_eq(c.width, 224);
    ck_assert_int_eq(c.tubelet, 2);
    ck_assert_int_eq(c.patch, 16);
    ck_assert_int_eq(c.enc_width, 768);
    ck_assert_int_eq(c.enc_depth, 12);
    ck_assert_int_eq(c.enc_heads, 12);
    ck_assert_int_eq(c.enc_mlp, 3072);
    ck_assert_int_eq(c.dec_width, 384);
    ck_assert_int_eq(c.dec_depth, 4);
    ck_assert_int_eq(c.dec_heads, 6);
    ck_assert_int_eq(c.dec_mlp, 1536);
    ck_assert_int_eq(c.vocab_size, 30522);
    ck_assert_int_eq(c.max_text_len, 512);
    ck_assert_int_eq(c.type_vocab, 2);
    ck_assert_float_eq_tol(c.video_mask_ratio, 0.9f, 1e-7f);
    ck_assert_float_eq_tol(c.text_mask_ratio, 0.75f, 1e-7f);
    ck_assert_float_eq_tol(c.ln_eps, 1e-6f, 1e-12f);
    ck_assert_float_eq_tol(c.text_ln_eps, 1e-12f, 1e-18f);
    ck_assert_float_eq_tol(c.text_dropout, 0.1f, 1e-7f);
    ck_assert_float_eq_tol(c.vtc_temperature, 0.05f, 1e-8f);
    ck_assert_int_eq(c.vtc_pool_exclude_pad, 0);
    ck_assert_int_eq(c.vtm_hard_negatives, 0);
    ck_assert_float_eq_tol(c.drop_path, 0.1f, 1e-7f);
    EXPECT(simvtp_config_validate(&c), SIMVTP_OK);
    ck_assert_int_eq(simvtp_config_num_video_tokens(&c), 1568);
    ck_assert_int_eq(simvtp_config_num_visible_tokens(&c), 160);
    ck_assert_int_eq(simvtp_config_tubelet_dim(&c), 1536);
}
END_TEST

START_TEST(test_presets_small_tiny)
{
    static const char *names[] = {"small", "tiny"};
    simvtp_config vitb;
    size_t i;
    EXPECT(simvtp_config_preset("vit-b", &vitb), SIMVTP_OK);
    for (i = 0; i < 2; i++) {
        simvtp_config c;
        memset(&c, 0, sizeof c);
        EXPECT(simvtp_config_preset(names[i], &c), SIMVTP_OK);
        ck_assert_uint_eq(c.size, sizeof c);
        EXPECT(simvtp_config_validate(&c), SIMVTP_OK);
        ck_assert_int_le(c.enc_width, vitb.enc_width);
        ck_assert_int_le(c.enc_depth, vitb.enc_depth);
        ck_assert_int_gt(simvtp_config_num_video_tokens(&c), 0);
        ck_assert_int_gt(simvtp_config_num_visible_tokens(&c), 0);
        ck_assert_int_lt(simvtp_config_num_visible_tokens(&c),
                         simvtp_config_num_video_tokens(&c));
        ck_assert_int_eq(simvtp_config_tubelet_dim(&c), c.tubelet * c.patch * c.patch * 3);
        ck_assert_int_eq(simvtp_config_num_video_tokens(&c),
                         (c.frames / c.tubelet) * (c.height / c.patch) * (c.width / c.patch));
    }
}
END_TEST

START_TEST(test_preset_errors)
{
    simvtp_config c;
    EXPECT(simvtp_config_preset("no-such-preset", &c), SIMVTP_ERR_INVALID_ARG);
    EXPECT(simvtp_config_preset("", &c), SIMVTP_ERR_INVALID_ARG);
    EXPECT(simvtp_config_preset(NULL, &c), SIMVTP_ERR_INVALID_ARG);
    EXPECT(simvtp_config_preset("tiny", NULL), SIMVTP_ERR_INVALID_ARG);
}
END_TEST

START_TEST(test_derived_sizes)
{
    simvtp_config c = small_config();
    ck_assert_int_eq(simvtp_config_num_video_tokens(&c), 2 * 4 * 4);
    ck_assert_int_eq(simvtp_config_num_visible_tokens(&c), 2 * (16 - 12));
    ck_assert_int_eq(simvtp_config_tubelet_dim(&c), 2 * 8 * 8 * 3);
    ck_assert_int_le(simvtp_config_num_video_tokens(NULL), 0);
    ck_assert_int_le(simvtp_config_num_visible_tokens(NULL), 0);
    ck_assert_int_le(simvtp_config_tubelet_dim(NULL), 0);
}
END_TEST

START_TEST(test_validate_null_and_size)
{
    simvtp_config c = small_config();
    EXPECT(simvtp_config_validate(NULL), SIMVTP_ERR_INVALID_ARG);
    /* a size the library does not know: a bad argument or a bad config */
    c.size = 0;
    expect_status2(simvtp_config_validate(&c), SIMVTP_ERR_INVALID_ARG, SIMVTP_ERR_CONFIG,
                   "validate with cfg.size 0");
    c.size = 1;
    expect_status2(simvtp_config_validate(&c), SIMVTP_ERR_INVALID_ARG, SIMVTP_ERR_CONFIG,
                   "validate with cfg.size 1");
}
END_TEST

/* Each case breaks one rule of small_config(); the detail must name the field. */
typedef struct invalid_case {
    const char *what;
    const char *fields[3];
} invalid_case;

static const invalid_case k_invalid[] = {
    {"enc_heads does not divide enc_width", {"enc_heads", "enc_width", NULL}},
    {"dec_heads does not divide dec_width", {"dec_heads", "dec_width", NULL}},
    {"frames not divisible by tubelet", {"frames", "tubelet", NULL}},
    {"height not divisible by patch", {"height", "patch", NULL}},
    {"width not divisible by patch", {"width", "patch", NULL}},
    {"zero encoder depth", {"enc_depth", NULL, NULL}},
    {"negative decoder depth", {"dec_depth", NULL, NULL}},
    {"video mask ratio 1 masks everything", {"video_mask_ratio", NULL, NULL}},
    {"negative video mask ratio", {"video_mask_ratio", NULL, NULL}},
    {"video mask ratio above 1", {"video_mask_ratio", NULL, NULL}},
    {"NaN video mask ratio", {"video_mask_ratio", NULL, NULL}},
    {"text mask ratio above 1", {"text_mask_ratio", NULL, NULL}},
    {"negative text mask ratio", {"text_mask_ratio", NULL, NULL}},
    {"odd encoder width (sin-cos positions)", {"enc_width", NULL, NULL}},
    {"odd decoder width (sin-cos positions)", {"dec_width", NULL, NULL}},
    {"zero patch", {"patch", NULL, NULL}},
    {"zero tubelet", {"tubelet", NULL, NULL}},
    {"zero frames", {"frames", NULL, NULL}},
    {"zero vocabulary", {"vocab_size", NULL, NULL}},
    {"max_text_len below [CLS] [SEP]", {"max_text_len", NULL, NULL}},
    {"zero token types", {"type_vocab", NULL, NULL}},
    {"zero encoder MLP", {"enc_mlp", NULL, NULL}},
    {"negative decoder MLP", {"dec_mlp", NULL, NULL}},
    {"zero VTC temperature", {"vtc_temperature", NULL, NULL}},
    {"text dropout 1", {"text_dropout", NULL, NULL}},
    {"negative LayerNorm eps", {"ln_eps", NULL, NULL}},
    {"zero height", {"height", NULL, NULL}},
    {"zero encoder heads", {"enc_heads", NULL, NULL}},
    {"vtc_pool_exclude_pad not 0/1", {"vtc_pool_exclude_pad", NULL, NULL}},
    {"vtm_hard_negatives not 0/1", {"vtm_hard_negatives", NULL, NULL}},
    {"drop path 1", {"drop_path", NULL, NULL}},
    {"negative drop path", {"drop_path", NULL, NULL}},
};
#define N_INVALID ((int)(sizeof k_invalid / sizeof k_invalid[0]))

static void break_config(simvtp_config *c, int i)
{
    switch (i) {
    case 0: c->enc_heads = 3; break;
    case 1: c->dec_heads = 3; break;
    case 2: c->frames = 5; break;
    case 3: c->height = 36; break;
    case 4: c->width = 20; break;
    case 5: c->enc_depth = 0; break;
    case 6: c->dec_depth = -1; break;
    case 7: c->video_mask_ratio = 1.0f; break;
    case 8: c->video_mask_ratio = -0.1f; break;
    case 9: c->video_mask_ratio = 1.5f; break;
    case 10: c->video_mask_ratio = (float)NAN; break;
    case 11: c->text_mask_ratio = 1.5f; break;
    case 12: c->text_mask_ratio = -0.5f; break;
    case 13: c->enc_width = 33; c->enc_heads = 3; break;
    case 14: c->dec_width = 15; c->dec_heads = 3; break;
    case 15: c->patch = 0; break;
    case 16: c->tubelet = 0; break;
    case 17: c->frames = 0; break;
    case 18: c->vocab_size = 0; break;
    case 19: c->max_text_len = 1; break;
    case 20: c->type_vocab = 0; break;
    case 21: c->enc_mlp = 0; break;
    case 22: c->dec_mlp = -4; break;
    case 23: c->vtc_temperature = 0.0f; break;
    case 24: c->text_dropout = 1.0f; break;
    case 25: c->ln_eps = -1.0f; break;
    case 26: c->height = 0; break;
    case 27: c->enc_heads = 0; break;
    case 28: c->vtc_pool_exclude_pad = 2; break;
    case 29: c->vtm_hard_negatives = -1; break;
    case 30: c->drop_path = 1.0f; break;
    case 31: c->drop_path = -0.1f; break;
    default: ck_abort_msg("no case %d", i);
    }
}

START_TEST(test_invalid_config)
{
    simvtp_config c = small_config();
    simvtp_model_params p = model_params(0);
    simvtp_model *m = NULL;
    char what[160];
    break_config(&c, _i);
    snprintf(what, sizeof what, "validate: %s", k_invalid[_i].what);
    expect_status(simvtp_config_validate(&c), SIMVTP_ERR_CONFIG, what);
    expect_detail_names(what, k_invalid[_i].fields);
    snprintf(what, sizeof what, "model_create: %s", k_invalid[_i].what);
    expect_status(simvtp_model_create(&c, &p, &m), SIMVTP_ERR_CONFIG, what);
    ck_assert_ptr_null(m);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Model handle                                                             */
/* ------------------------------------------------------------------------ */

START_TEST(test_model_create_errors)
{
    simvtp_config c = small_config();
    simvtp_model_params p = model_params(0);
    simvtp_model *m = NULL;
    int rc;
    EXPECT(simvtp_model_create(NULL, &p, &m), SIMVTP_ERR_INVALID_ARG);
    EXPECT(simvtp_model_create(&c, &p, NULL), SIMVTP_ERR_INVALID_ARG);
    p.size = 0;
    EXPECT(simvtp_model_create(&c, &p, &m), SIMVTP_ERR_INVALID_ARG);
    p = model_params(0);
    p.backend = "no-such-backend";
    EXPECT(simvtp_model_create(&c, &p, &m), SIMVTP_ERR_INVALID_ARG);
    p = model_params(0);
    p.threads = -1;
    EXPECT(simvtp_model_create(&c, &p, &m), SIMVTP_ERR_INVALID_ARG);
    ck_assert_ptr_null(m);
    c.size = 0;
    p = model_params(0);
    expect_status2(simvtp_model_create(&c, &p, &m), SIMVTP_ERR_INVALID_ARG, SIMVTP_ERR_CONFIG,
                   "model_create with cfg.size 0");
    ck_assert_ptr_null(m);

    /* cuda:N is UNSUPPORTED in a build without CUDA (or without that device) */
    c = small_config();
    p.backend = "cuda:0";
    rc = simvtp_model_create(&c, &p, &m);
    if (rc == SIMVTP_OK) {
        simvtp_model_free(m);
        m = NULL;
    } else {
        expect_status(rc, SIMVTP_ERR_UNSUPPORTED, "simvtp_model_create(cuda:0)");
    }
    p.backend = "auto";
    EXPECT(simvtp_model_create(&c, &p, &m), SIMVTP_OK);
    simvtp_model_free(m);
}
END_TEST

START_TEST(test_model_accessors)
{
    simvtp_config c = small_config(), got;
    simvtp_model *m = new_model(&c, 1);
    int n, i, j;
    int64_t total = 0;

    ck_assert_int_eq(simvtp_model_get_kind(m), SIMVTP_MODEL_PRETRAIN);
    memset(&got, 0, sizeof got);
    got.size = sizeof got;
    EXPECT(simvtp_model_config(m, &got), SIMVTP_OK);
    expect_same_shape(&c, &got);
    ck_assert_int_eq(simvtp_model_embed_dim(m), c.enc_width);
    ck_assert_int_gt(simvtp_model_num_params(m), 0);

    n = simvtp_model_num_tensors(m);
    ck_assert_int_gt(n, 0);
    for (i = 0; i < n; i++) {
        const char *name = simvtp_model_tensor_name(m, i);
        int64_t numel = simvtp_model_tensor_numel(m, i), prod = 1;
        int64_t shape[4] = {-7, -7, -7, -7};
        ck_assert_msg(name != NULL && name[0] != '\0', "tensor %d has no name", i);
        for (j = 0; j < i; j++)
            ck_assert_msg(strcmp(name, simvtp_model_tensor_name(m, j)) != 0,
                          "tensor name %s appears twice", name);
        ck_assert_int_gt(numel, 0);
        /* returns its number of dimensions (>= 0), unused entries 0 or 1 */
        ck_assert_int_ge(simvtp_model_tensor_shape(m, i, shape), 0);
        for (j = 0; j < 4; j++) {
            ck_assert_int_ge(shape[j], 0);
            if (shape[j] > 0)
                prod *= shape[j];
        }
        ck_assert_msg(prod == numel, "%s: shape product %lld != numel %lld", name,
                      (long long)prod, (long long)numel);
        total += numel;
    }
    ck_assert_int_eq(total, simvtp_model_num_params(m));

    /* out-of-range indices */
    ck_assert_ptr_null(simvtp_model_tensor_name(m, -1));
    ck_assert_ptr_null(simvtp_model_tensor_name(m, n));
    EXPECT_NEG(simvtp_model_tensor_numel(m, n));
    EXPECT_NEG(simvtp_model_tensor_numel(m, -1));
    {
        int64_t shape[4];
        float f[4];
        EXPECT(simvtp_model_tensor_shape(m, n, shape), SIMVTP_ERR_INVALID_ARG);
        EXPECT(simvtp_model_tensor_shape(m, -1, shape), SIMVTP_ERR_INVALID_ARG);
        EXPECT(simvtp_model_tensor_get(m, n, f), SIMVTP_ERR_INVALID_ARG);
        EXPECT(simvtp_model_tensor_set(m, -1, f), SIMVTP_ERR_INVALID_ARG);
        EXPECT(simvtp_model_grad_get(m, n, f), SIMVTP_ERR_INVALID_ARG);
    }
    simvtp_model_free(m);
}
END_TEST

START_TEST(test_model_null_args)
{
    simvtp_config c = small_config(), got;
    simvtp_model *m = new_model(&c, 1);
    int64_t shape[4];
    float f[4];
    got.size = sizeof got;

    EXPECT_NEG(simvtp_model_get_kind(NULL));
    EXPECT(simvtp_model_config(NULL, &got), SIMVTP_ERR_INVALID_ARG);
    EXPECT(simvtp_model_config(m, NULL), SIMVTP_ERR_INVALID_ARG);
    EXPECT_NEG(simvtp_model_num_params(NULL));
    EXPECT_NEG(simvtp_model_embed_dim(NULL));
    EXPECT_NEG(simvtp_model_num_tensors(NULL));
    ck_assert_ptr_null(simvtp_model_tensor_name(NULL, 0));
    EXPECT_NEG(simvtp_model_tensor_numel(NULL, 0));
    EXPECT(simvtp_model_tensor_shape(NULL, 0, shape), SIMVTP_ERR_INVALID_ARG);
    EXPECT(simvtp_model_tensor_shape(m, 0, NULL), SIMVTP_ERR_INVALID_ARG);
    EXPECT(simvtp_model_tensor_get(NULL, 0, f), SIMVTP_ERR_INVALID_ARG);
    EXPECT(simvtp_model_tensor_get(m, 0, NULL), SIMVTP_ERR_INVALID_ARG);
    EXPECT(simvtp_model_tensor_set(NULL, 0, f), SIMVTP_ERR_INVALID_ARG);
    EXPECT(simvtp_model_tensor_set(m, 0, NULL), SIMVTP_ERR_INVALID_ARG);
    EXPECT(simvtp_model_grad_get(NULL, 0, f), SIMVTP_ERR_INVALID_ARG);
    EXPECT(simvtp_model_grad_get(m, 0, NULL), SIMVTP_ERR_INVALID_ARG);
    EXPECT(simvtp_model_zero_grad(NULL), SIMVTP_ERR_INVALID_ARG);
    EXPECT(simvtp_model_save(NULL, "x.svtp"), SIMVTP_ERR_INVALID_ARG);
    EXPECT(simvtp_model_save(m, NULL), SIMVTP_ERR_INVALID_ARG);
    EXPECT(simvtp_model_load_into(NULL, "x.svtp"), SIMVTP_ERR_INVALID_ARG);
    EXPECT(simvtp_model_load_into(m, NULL), SIMVTP_ERR_INVALID_ARG);
    {
        simvtp_model_params p = model_params(0);
        simvtp_model *out = NULL;
        EXPECT(simvtp_model_load(NULL, &p, &out), SIMVTP_ERR_INVALID_ARG);
        EXPECT(simvtp_model_load("x.svtp", &p, NULL), SIMVTP_ERR_INVALID_ARG);
        EXPECT(simvtp_model_create_retrieval(NULL, &p, &out), SIMVTP_ERR_INVALID_ARG);
        EXPECT(simvtp_model_create_retrieval(m, &p, NULL), SIMVTP_ERR_INVALID_ARG);
        ck_assert_ptr_null(out);
    }
    simvtp_model_free(m);
    simvtp_model_free(NULL);
    simvtp_optimizer_free(NULL);
}
END_TEST

START_TEST(test_model_tensor_set_get)
{
    simvtp_config c = small_config();
    simvtp_model *m = new_model(&c, 1);
    int64_t n = simvtp_model_tensor_numel(m, 0), k;
    float *v = malloc((size_t)n * sizeof *v), *w;
    ck_assert_ptr_nonnull(v);
    for (k = 0; k < n; k++)
        v[k] = 0.25f * (float)(k % 17) - 1.0f;
    EXPECT(simvtp_model_tensor_set(m, 0, v), SIMVTP_OK);
    w = tensor_copy(m, 0);
    ck_assert_mem_eq(v, w, (size_t)n * sizeof *v);
    free(v);
    free(w);
    simvtp_model_free(m);
}
END_TEST

START_TEST(test_model_init_deterministic)
{
    simvtp_config c = small_config();
    simvtp_model *a = new_model(&c, 7), *b = new_model(&c, 7), *d = new_model(&c, 8);
    ck_assert_msg(models_equal(a, b), "same seed, different weights");
    ck_assert_msg(!models_equal(a, d), "different seeds, same weights");
    simvtp_model_free(a);
    simvtp_model_free(b);
    simvtp_model_free(d);
}
END_TEST

START_TEST(test_model_retrieval)
{
    simvtp_config c = small_config();
    simvtp_model *m = new_model(&c, 1), *r = NULL, *r2 = NULL;
    simvtp_model_params p = model_params(2);
    test_batch tb;
    simvtp_losses l = losses_init();
    EXPECT(simvtp_model_create_retrieval(m, &p, &r), SIMVTP_OK);
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(simvtp_model_get_kind(r), SIMVTP_MODEL_RETRIEVAL);
    ck_assert_int_eq(simvtp_model_embed_dim(r), c.enc_width);
    /* a retrieval model is not a pretraining model */
    EXPECT_NEG(simvtp_model_create_retrieval(r, &p, &r2));
    ck_assert_ptr_null(r2);
    batch_make(&tb, &c, 2, 6, 1);
    EXPECT(simvtp_model_forward(r, &tb.b, 5, &l), SIMVTP_OK);
    expect_finite_losses(&l, 0);
    batch_free(&tb);
    simvtp_model_free(r);
    simvtp_model_free(m); /* freeing the source first must also be fine */
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Batches: forward, forward_backward, train_step                          */
/* ------------------------------------------------------------------------ */

START_TEST(test_forward_ok)
{
    simvtp_config c = small_config();
    simvtp_model *m = new_model(&c, 1);
    test_batch tb;
    simvtp_losses l1 = losses_init(), l2 = losses_init();
    batch_make(&tb, &c, 3, 8, 1);
    EXPECT(simvtp_model_forward(m, &tb.b, 11, &l1), SIMVTP_OK);
    expect_finite_losses(&l1, 1);
    ck_assert_int_le(l1.masked_text, 3 * 8);
    EXPECT(simvtp_model_forward(m, &tb.b, 11, &l2), SIMVTP_OK);
    ck_assert_msg(l1.total == l2.total, "forward with the same seed: %g then %g", l1.total,
                  l2.total);
    batch_free(&tb);
    simvtp_model_free(m);
}
END_TEST

START_TEST(test_forward_backward_grads)
{
    simvtp_config c = small_config();
    simvtp_model *m = new_model(&c, 1);
    test_batch tb;
    simvtp_losses l = losses_init();
    int n = simvtp_model_num_tensors(m), i, nonzero = 0;
    batch_make(&tb, &c, 2, 6, 2);
    EXPECT(simvtp_model_zero_grad(m), SIMVTP_OK);
    EXPECT(simvtp_model_forward_backward(m, &tb.b, 3, 1.0f, &l), SIMVTP_OK);
    expect_finite_losses(&l, 1);
    for (i = 0; i < n; i++) {
        int64_t k, numel = simvtp_model_tensor_numel(m, i);
        float *g = malloc((size_t)numel * sizeof *g);
        ck_assert_ptr_nonnull(g);
        EXPECT(simvtp_model_grad_get(m, i, g), SIMVTP_OK);
        for (k = 0; k < numel; k++) {
            ck_assert(isfinite(g[k]));
            nonzero += g[k] != 0.0f;
        }
        free(g);
    }
    ck_assert_int_gt(nonzero, 0);
    EXPECT(simvtp_model_zero_grad(m), SIMVTP_OK);
    for (i = 0; i < n; i++) {
        int64_t k, numel = simvtp_model_tensor_numel(m, i);
        float *g = malloc((size_t)numel * sizeof *g);
        ck_assert_ptr_nonnull(g);
        EXPECT(simvtp_model_grad_get(m, i, g), SIMVTP_OK);
        for (k = 0; k < numel; k++)
            ck_assert_msg(g[k] == 0.0f, "gradient not zeroed");
        free(g);
    }
    batch_free(&tb);
    simvtp_model_free(m);
}
END_TEST

/* Runs one bad batch through forward, forward_backward and train_step. */
static void expect_bad_batch(simvtp_model *m, simvtp_optimizer *o, const simvtp_batch *b,
                             const char *what)
{
    simvtp_losses l = losses_init();
    char msg[200];
    snprintf(msg, sizeof msg, "forward: %s", what);
    expect_status(simvtp_model_forward(m, b, 1, &l), SIMVTP_ERR_INVALID_ARG, msg);
    snprintf(msg, sizeof msg, "forward_backward: %s", what);
    expect_status(simvtp_model_forward_backward(m, b, 1, 1.0f, &l), SIMVTP_ERR_INVALID_ARG, msg);
    snprintf(msg, sizeof msg, "train_step: %s", what);
    expect_status(simvtp_train_step(o, b, &l, NULL), SIMVTP_ERR_INVALID_ARG, msg);
}

START_TEST(test_bad_batches)
{
    simvtp_config c = small_config();
    simvtp_model *m = new_model(&c, 1);
    simvtp_optimizer *o = new_optimizer(m, 1);
    test_batch tb;
    simvtp_batch b;
    int32_t saved;
    int L = 8;
    batch_make(&tb, &c, 2, L, 3);

    b = tb.b; b.size = 0;           expect_bad_batch(m, o, &b, "batch.size 0");
    b = tb.b; b.batch = 0;          expect_bad_batch(m, o, &b, "batch.batch 0");
    b = tb.b; b.batch = -1;         expect_bad_batch(m, o, &b, "batch.batch -1");
    b = tb.b; b.frames = NULL;      expect_bad_batch(m, o, &b, "NULL frames");
    b = tb.b; b.tokens = NULL;      expect_bad_batch(m, o, &b, "NULL tokens");
    b = tb.b; b.lengths = NULL;     expect_bad_batch(m, o, &b, "NULL lengths");
    b = tb.b; b.max_len = 0;        expect_bad_batch(m, o, &b, "max_len 0");
    expect_bad_batch(m, o, NULL, "NULL batch");

    tb.lengths[1] = L + 1;
    expect_bad_batch(m, o, &tb.b, "length > max_len");
    tb.lengths[1] = 1;
    expect_bad_batch(m, o, &tb.b, "length 1 (below [CLS] [SEP])");
    tb.lengths[1] = -3;
    expect_bad_batch(m, o, &tb.b, "negative length");
    tb.lengths[1] = L - 1;

    saved = tb.tokens[2];
    tb.tokens[2] = c.vocab_size;
    expect_bad_batch(m, o, &tb.b, "token == vocab_size");
    tb.tokens[2] = c.vocab_size + 1000;
    expect_bad_batch(m, o, &tb.b, "token far outside the vocabulary");
    tb.tokens[2] = -1;
    expect_bad_batch(m, o, &tb.b, "negative token");
    tb.tokens[2] = saved;

    {
        /* max_len beyond the model's learned positions */
        test_batch big;
        batch_make(&big, &c, 2, c.max_text_len, 4);
        free(big.tokens);
        big.tokens = calloc((size_t)2 * (c.max_text_len + 1), sizeof *big.tokens);
        ck_assert_ptr_nonnull(big.tokens);
        big.tokens[0] = TOKEN_CLS;
        big.tokens[1] = TOKEN_SEP;
        big.tokens[c.max_text_len + 1] = TOKEN_CLS;
        big.tokens[c.max_text_len + 2] = TOKEN_SEP;
        big.lengths[0] = big.lengths[1] = 2;
        big.b.tokens = big.tokens;
        big.b.max_len = c.max_text_len + 1;
        expect_bad_batch(m, o, &big.b, "max_len > cfg.max_text_len");
        batch_free(&big);
    }

    {
        simvtp_losses l = losses_init();
        simvtp_step_info info = info_init();
        EXPECT(simvtp_model_forward(NULL, &tb.b, 1, &l), SIMVTP_ERR_INVALID_ARG);
        EXPECT(simvtp_model_forward_backward(NULL, &tb.b, 1, 1.0f, &l), SIMVTP_ERR_INVALID_ARG);
        EXPECT(simvtp_train_step(NULL, &tb.b, &l, &info), SIMVTP_ERR_INVALID_ARG);
        l.size = 0;
        EXPECT(simvtp_model_forward(m, &tb.b, 1, &l), SIMVTP_ERR_INVALID_ARG);
        EXPECT(simvtp_train_step(o, &tb.b, &l, NULL), SIMVTP_ERR_INVALID_ARG);
        info.size = 0;
        EXPECT(simvtp_train_step(o, &tb.b, NULL, &info), SIMVTP_ERR_INVALID_ARG);
        /* nothing above was a step */
        ck_assert_int_eq(simvtp_optimizer_step_count(o), 0);
        /* and the untouched batch still works */
        EXPECT(simvtp_train_step(o, &tb.b, NULL, NULL), SIMVTP_OK);
        ck_assert_int_eq(simvtp_optimizer_step_count(o), 1);
    }
    batch_free(&tb);
    simvtp_optimizer_free(o);
    simvtp_model_free(m);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Embeddings and reconstruction                                            */
/* ------------------------------------------------------------------------ */

static void expect_unit_rows(const float *e, int n, int d)
{
    int i, j;
    for (i = 0; i < n; i++) {
        double s = 0;
        for (j = 0; j < d; j++) {
            ck_assert(isfinite(e[(size_t)i * d + j]));
            s += (double)e[(size_t)i * d + j] * e[(size_t)i * d + j];
        }
        ck_assert_msg(fabs(sqrt(s) - 1.0) < 1e-4, "row %d has norm %g", i, sqrt(s));
    }
}

START_TEST(test_encode)
{
    simvtp_config c = small_config();
    simvtp_model *m = new_model(&c, 1);
    int d = simvtp_model_embed_dim(m);
    test_batch tb;
    float *e = malloc((size_t)3 * d * sizeof *e);
    ck_assert_ptr_nonnull(e);
    batch_make(&tb, &c, 3, 7, 5);

    EXPECT(simvtp_encode_videos(m, tb.frames, 3, e), SIMVTP_OK);
    expect_unit_rows(e, 3, d);
    EXPECT(simvtp_encode_texts(m, tb.tokens, tb.lengths, 3, 7, e), SIMVTP_OK);
    expect_unit_rows(e, 3, d);

    EXPECT(simvtp_encode_videos(NULL, tb.frames, 3, e), SIMVTP_ERR_INVALID_ARG);
    EXPECT(simvtp_encode_videos(m, NULL, 3, e), SIMVTP_ERR_INVALID_ARG);
    EXPECT(simvtp_encode_videos(m, tb.frames, 3, NULL), SIMVTP_ERR_INVALID_ARG);
    EXPECT(simvtp_encode_videos(m, tb.frames, -1, e), SIMVTP_ERR_INVALID_ARG);
    EXPECT(simvtp_encode_texts(NULL, tb.tokens, tb.lengths, 3, 7, e), SIMVTP_ERR_INVALID_ARG);
    EXPECT(simvtp_encode_texts(m, NULL, tb.lengths, 3, 7, e), SIMVTP_ERR_INVALID_ARG);
    EXPECT(simvtp_encode_texts(m, tb.tokens, NULL, 3, 7, e), SIMVTP_ERR_INVALID_ARG);
    EXPECT(simvtp_encode_texts(m, tb.tokens, tb.lengths, 3, 7, NULL), SIMVTP_ERR_INVALID_ARG);
    EXPECT(simvtp_encode_texts(m, tb.tokens, tb.lengths, -1, 7, e), SIMVTP_ERR_INVALID_ARG);
    EXPECT(simvtp_encode_texts(m, tb.tokens, tb.lengths, 3, 0, e), SIMVTP_ERR_INVALID_ARG);
    tb.lengths[2] = 8;
    EXPECT(simvtp_encode_texts(m, tb.tokens, tb.lengths, 3, 7, e), SIMVTP_ERR_INVALID_ARG);
    tb.lengths[2] = 7;
    tb.tokens[1] = c.vocab_size;
    EXPECT(simvtp_encode_texts(m, tb.tokens, tb.lengths, 3, 7, e), SIMVTP_ERR_INVALID_ARG);
    batch_free(&tb);
    free(e);
    simvtp_model_free(m);
}
END_TEST

START_TEST(test_reconstruct)
{
    simvtp_config c = small_config();
    simvtp_model *m = new_model(&c, 1), *r = NULL;
    simvtp_model_params p = model_params(0);
    const int B = 2, L = 8;
    int N = simvtp_config_num_video_tokens(&c), V = simvtp_config_num_visible_tokens(&c);
    int D = simvtp_config_tubelet_dim(&c), s, k;
    test_batch tb;
    simvtp_reconstruction out;
    uint8_t *mask = malloc((size_t)B * N);
    float *pix = malloc((size_t)B * N * D * sizeof *pix);
    int32_t *masked = malloc((size_t)B * L * sizeof *masked);
    int32_t *pred = malloc((size_t)B * L * sizeof *pred);
    ck_assert(mask && pix && masked && pred);
    batch_make(&tb, &c, B, L, 6);

    memset(&out, 0, sizeof out);
    out.size = sizeof out;
    out.video_mask = mask;
    out.pixels = pix;
    out.masked_tokens = masked;
    out.predicted = pred;
    EXPECT(simvtp_model_reconstruct(m, &tb.b, 9, &out), SIMVTP_OK);
    for (s = 0; s < B; s++) {
        int count = 0;
        for (k = 0; k < N; k++) {
            ck_assert_int_le(mask[s * N + k], 1);
            count += mask[s * N + k];
        }
        ck_assert_int_eq(count, N - V);
    }
    for (k = 0; k < B * N * D; k++)
        ck_assert_msg(pix[k] >= -1e-5f && pix[k] <= 1.0f + 1e-5f, "pixel %d = %g", k, pix[k]);
    for (k = 0; k < B * L; k++) {
        ck_assert(pred[k] >= 0 && pred[k] < c.vocab_size);
        if (masked[k] == tb.tokens[k])
            ck_assert_int_eq(pred[k], tb.tokens[k]);
    }

    /* all outputs optional */
    memset(&out, 0, sizeof out);
    out.size = sizeof out;
    EXPECT(simvtp_model_reconstruct(m, &tb.b, 9, &out), SIMVTP_OK);

    EXPECT(simvtp_model_reconstruct(NULL, &tb.b, 9, &out), SIMVTP_ERR_INVALID_ARG);
    EXPECT(simvtp_model_reconstruct(m, NULL, 9, &out), SIMVTP_ERR_INVALID_ARG);
    EXPECT(simvtp_model_reconstruct(m, &tb.b, 9, NULL), SIMVTP_ERR_INVALID_ARG);
    out.size = 0;
    EXPECT(simvtp_model_reconstruct(m, &tb.b, 9, &out), SIMVTP_ERR_INVALID_ARG);
    out.size = sizeof out;
    tb.b.batch = 0;
    EXPECT(simvtp_model_reconstruct(m, &tb.b, 9, &out), SIMVTP_ERR_INVALID_ARG);
    tb.b.batch = B;

    /* only a pretraining model has a decoder */
    EXPECT(simvtp_model_create_retrieval(m, &p, &r), SIMVTP_OK);
    EXPECT_NEG(simvtp_model_reconstruct(r, &tb.b, 9, &out));
    simvtp_model_free(r);

    batch_free(&tb);
    free(mask);
    free(pix);
    free(masked);
    free(pred);
    simvtp_model_free(m);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Weight files                                                             */
/* ------------------------------------------------------------------------ */

START_TEST(test_load_missing_file)
{
    char path[PATH_MAX];
    simvtp_model_params p = model_params(0);
    simvtp_model *m = NULL, *into;
    simvtp_config c = small_config();
    path_in_tmp(path, sizeof path, "does-not-exist.svtp");
    EXPECT(simvtp_model_load(path, &p, &m), SIMVTP_ERR_IO);
    ck_assert_ptr_null(m);
    into = new_model(&c, 0);
    EXPECT(simvtp_model_load_into(into, path), SIMVTP_ERR_IO);
    /* a directory cannot be read as a file */
    EXPECT(simvtp_model_load(g_tmpdir, &p, &m), SIMVTP_ERR_IO);
    ck_assert_ptr_null(m);
    EXPECT(simvtp_model_load_into(into, g_tmpdir), SIMVTP_ERR_IO);
    /* saving into a missing directory */
    path_in_tmp(path, sizeof path, "no-such-dir/model.svtp");
    EXPECT(simvtp_model_save(into, path), SIMVTP_ERR_IO);
    simvtp_model_free(into);
}
END_TEST

START_TEST(test_load_random_file)
{
    char path[PATH_MAX];
    unsigned char buf[4096];
    uint64_t s = 12345;
    size_t i;
    simvtp_model_params p = model_params(0);
    simvtp_model *m = NULL;
    for (i = 0; i < sizeof buf; i++)
        buf[i] = (unsigned char)(splitmix64(&s) >> 56);
    buf[0] = 'X'; /* never the magic */
    path_in_tmp(path, sizeof path, "random.svtp");
    write_bytes(path, buf, sizeof buf);
    EXPECT(simvtp_model_load(path, &p, &m), SIMVTP_ERR_FORMAT);
    ck_assert_ptr_null(m);
    /* a text file that merely starts like one */
    path_in_tmp(path, sizeof path, "text.svtp");
    write_bytes(path, "SVTPWGT2 is not a weights file\n", 31);
    EXPECT(simvtp_model_load(path, &p, &m), SIMVTP_ERR_FORMAT);
    ck_assert_ptr_null(m);
}
END_TEST

START_TEST(test_load_roundtrip)
{
    char path[PATH_MAX];
    simvtp_config c = small_config(), got;
    simvtp_model *m = new_model(&c, 5), *l = NULL, *into = new_model(&c, 6);
    simvtp_model_params p = model_params(0);
    size_t n;
    unsigned char *bytes;
    path_in_tmp(path, sizeof path, "roundtrip.svtp");
    EXPECT(simvtp_model_save(m, path), SIMVTP_OK);
    bytes = read_bytes(path, &n);
    ck_assert_uint_gt(n, SVTP_MAGIC_LEN + 4);
    ck_assert_mem_eq(bytes, SVTP_MAGIC, SVTP_MAGIC_LEN);
    ck_assert_uint_eq(bytes[SVTP_VERSION_OFFSET] | bytes[SVTP_VERSION_OFFSET + 1] << 8 |
                          bytes[SVTP_VERSION_OFFSET + 2] << 16 |
                          (uint32_t)bytes[SVTP_VERSION_OFFSET + 3] << 24,
                      1);
    free(bytes);

    EXPECT(simvtp_model_load(path, &p, &l), SIMVTP_OK);
    ck_assert_ptr_nonnull(l);
    ck_assert_int_eq(simvtp_model_get_kind(l), SIMVTP_MODEL_PRETRAIN);
    got.size = sizeof got;
    EXPECT(simvtp_model_config(l, &got), SIMVTP_OK);
    expect_same_shape(&c, &got);
    ck_assert_msg(models_equal(m, l), "loaded weights differ from the saved ones");

    ck_assert(!models_equal(m, into));
    EXPECT(simvtp_model_load_into(into, path), SIMVTP_OK);
    ck_assert_msg(models_equal(m, into), "load_into weights differ from the saved ones");

    /* saving over an existing file replaces it */
    EXPECT(simvtp_model_save(into, path), SIMVTP_OK);
    simvtp_model_free(l);
    l = NULL;
    EXPECT(simvtp_model_load(path, &p, &l), SIMVTP_OK);
    ck_assert(models_equal(into, l));
    simvtp_model_free(l);
    simvtp_model_free(into);
    simvtp_model_free(m);
}
END_TEST

START_TEST(test_load_retrieval_roundtrip)
{
    char path[PATH_MAX];
    simvtp_config c = small_config();
    simvtp_model *m = new_model(&c, 5), *r = NULL, *l = NULL;
    simvtp_model_params p = model_params(0);
    EXPECT(simvtp_model_create_retrieval(m, &p, &r), SIMVTP_OK);
    path_in_tmp(path, sizeof path, "retrieval.svtp");
    EXPECT(simvtp_model_save(r, path), SIMVTP_OK);
    EXPECT(simvtp_model_load(path, &p, &l), SIMVTP_OK);
    ck_assert_int_eq(simvtp_model_get_kind(l), SIMVTP_MODEL_RETRIEVAL);
    ck_assert(models_equal(r, l));
    /* a retrieval file does not fit a pretraining model */
    EXPECT(simvtp_model_load_into(m, path), SIMVTP_ERR_MISMATCH);
    simvtp_model_free(l);
    simvtp_model_free(r);
    simvtp_model_free(m);
}
END_TEST

static void patch_version(const char *src, const char *dst, uint32_t version)
{
    size_t n;
    unsigned char *b = read_bytes(src, &n);
    ck_assert_uint_gt(n, SVTP_VERSION_OFFSET + 4);
    b[SVTP_VERSION_OFFSET] = (unsigned char)(version & 0xff);
    b[SVTP_VERSION_OFFSET + 1] = (unsigned char)(version >> 8 & 0xff);
    b[SVTP_VERSION_OFFSET + 2] = (unsigned char)(version >> 16 & 0xff);
    b[SVTP_VERSION_OFFSET + 3] = (unsigned char)(version >> 24 & 0xff);
    write_bytes(dst, b, n);
    free(b);
}

START_TEST(test_load_wrong_version)
{
    char good[PATH_MAX], bad[PATH_MAX];
    simvtp_model_params p = model_params(0);
    simvtp_model *m = NULL;
    save_small_model("version-good.svtp", good, sizeof good);
    path_in_tmp(bad, sizeof bad, "version-bad.svtp");
    patch_version(good, bad, 2);
    EXPECT(simvtp_model_load(bad, &p, &m), SIMVTP_ERR_VERSION);
    ck_assert_ptr_null(m);
    patch_version(good, bad, 0xFFFFFFFFu);
    EXPECT(simvtp_model_load(bad, &p, &m), SIMVTP_ERR_VERSION);
    ck_assert_ptr_null(m);
    /* and the untouched file still loads */
    EXPECT(simvtp_model_load(good, &p, &m), SIMVTP_OK);
    simvtp_model_free(m);
}
END_TEST

START_TEST(test_load_truncated)
{
    char good[PATH_MAX], cut[PATH_MAX];
    simvtp_model_params p = model_params(0);
    size_t n, i;
    unsigned char *b;
    save_small_model("trunc-good.svtp", good, sizeof good);
    path_in_tmp(cut, sizeof cut, "trunc-cut.svtp");
    b = read_bytes(good, &n);
    {
        size_t lens[] = {0, 1, 4, 7, 8, 11, 12, 16, 24, 32, 64, 100, n / 4, n / 2, n - 64,
                         n - 4, n - 1};
        for (i = 0; i < sizeof lens / sizeof lens[0]; i++) {
            simvtp_model *m = NULL;
            char what[96];
            if (lens[i] >= n)
                continue;
            write_bytes(cut, b, lens[i]);
            snprintf(what, sizeof what, "model_load of the first %zu of %zu bytes", lens[i], n);
            expect_status2(simvtp_model_load(cut, &p, &m), SIMVTP_ERR_TRUNCATED,
                           SIMVTP_ERR_FORMAT, what);
            ck_assert_ptr_null(m);
        }
    }
    free(b);
}
END_TEST

START_TEST(test_load_corrupt_payload)
{
    char good[PATH_MAX], bad[PATH_MAX];
    simvtp_model_params p = model_params(0);
    simvtp_model *m = NULL;
    size_t n;
    unsigned char *b;
    save_small_model("corrupt-good.svtp", good, sizeof good);
    path_in_tmp(bad, sizeof bad, "corrupt-bad.svtp");
    b = read_bytes(good, &n);
    b[n - 1] ^= 0x5A; /* the last payload byte: caught by its checksum */
    write_bytes(bad, b, n);
    EXPECT(simvtp_model_load(bad, &p, &m), SIMVTP_ERR_FORMAT);
    ck_assert_ptr_null(m);
    free(b);
}
END_TEST

START_TEST(test_load_into_other_config)
{
    char good[PATH_MAX];
    simvtp_config oc = other_config();
    simvtp_model *other = new_model(&oc, 3), *before = new_model(&oc, 3);
    save_small_model("mismatch.svtp", good, sizeof good);
    EXPECT(simvtp_model_load_into(other, good), SIMVTP_ERR_MISMATCH);
    ck_assert_msg(models_equal(other, before), "a failed load_into changed the model");
    simvtp_model_free(other);
    simvtp_model_free(before);
}
END_TEST

START_TEST(test_no_temporary_files_left)
{
    char dir[PATH_MAX], path[PATH_MAX + 32];
    simvtp_config c = small_config();
    simvtp_model *m = new_model(&c, 1);
    simvtp_optimizer *o = new_optimizer(m, 1);
    DIR *d;
    struct dirent *e;
    int files = 0;
    path_in_tmp(dir, sizeof dir, "atomic");
    ck_assert_int_eq(mkdir(dir, 0700), 0);
    snprintf(path, sizeof path, "%s/model.svtp", dir);
    EXPECT(simvtp_model_save(m, path), SIMVTP_OK);
    EXPECT(simvtp_model_save(m, path), SIMVTP_OK);
    snprintf(path, sizeof path, "%s/state.svtpt", dir);
    EXPECT(simvtp_optimizer_save(o, path), SIMVTP_OK);
    EXPECT(simvtp_optimizer_save(o, path), SIMVTP_OK);
    d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        ck_assert_msg(!strcmp(e->d_name, "model.svtp") || !strcmp(e->d_name, "state.svtpt"),
                      "left behind: %s", e->d_name);
        files++;
    }
    closedir(d);
    ck_assert_int_eq(files, 2);
    simvtp_optimizer_free(o);
    simvtp_model_free(m);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Optimizer                                                                */
/* ------------------------------------------------------------------------ */

START_TEST(test_optimizer_create_errors)
{
    simvtp_config c = small_config();
    simvtp_model *m = new_model(&c, 1);
    simvtp_optimizer_params p, d;
    simvtp_optimizer *o = NULL;
    int i;
    simvtp_optimizer_default_params(&d);
    EXPECT(simvtp_optimizer_create(NULL, &d, &o), SIMVTP_ERR_INVALID_ARG);
    EXPECT(simvtp_optimizer_create(m, &d, NULL), SIMVTP_ERR_INVALID_ARG);
    for (i = 0; i < 11; i++) {
        char what[64];
        p = d;
        switch (i) {
        case 0: p.size = 0; break;
        case 1: p.lr = -1e-3f; break;
        case 2: p.beta1 = 1.0f; break;
        case 3: p.beta2 = 1.5f; break;
        case 4: p.eps = -1.0f; break;
        case 5: p.weight_decay = -0.1f; break;
        case 6: p.accum_steps = 0; break;
        case 7: p.warmup_steps = -1; break;
        case 8: p.total_steps = -5; break;
        case 9: p.clip_norm = -1.0f; break;
        case 10: p.lr = (float)NAN; break;
        }
        snprintf(what, sizeof what, "optimizer_create, bad params case %d", i);
        expect_status(simvtp_optimizer_create(m, &p, &o), SIMVTP_ERR_INVALID_ARG, what);
        ck_assert_ptr_null(o);
    }
    simvtp_model_free(m);
}
END_TEST

START_TEST(test_optimizer_null_args)
{
    simvtp_config c = small_config();
    simvtp_model *m = new_model(&c, 1);
    simvtp_optimizer *o = new_optimizer(m, 1);
    EXPECT(simvtp_optimizer_save(NULL, "x"), SIMVTP_ERR_INVALID_ARG);
    EXPECT(simvtp_optimizer_save(o, NULL), SIMVTP_ERR_INVALID_ARG);
    EXPECT(simvtp_optimizer_load(NULL, "x"), SIMVTP_ERR_INVALID_ARG);
    EXPECT(simvtp_optimizer_load(o, NULL), SIMVTP_ERR_INVALID_ARG);
    EXPECT(simvtp_optimizer_set_data_position(NULL, 1), SIMVTP_ERR_INVALID_ARG);
    ck_assert_int_le(simvtp_optimizer_step_count(NULL), 0);
    simvtp_optimizer_free(o);
    simvtp_model_free(m);
}
END_TEST

START_TEST(test_optimizer_steps_and_accumulation)
{
    simvtp_config c = small_config();
    simvtp_model *m = new_model(&c, 1);
    simvtp_optimizer *o = new_optimizer(m, 2);
    test_batch tb;
    simvtp_losses l = losses_init();
    simvtp_step_info info = info_init();
    float *before = tensor_copy(m, 0), *after;
    batch_make(&tb, &c, 2, 6, 7);
    ck_assert_int_eq(simvtp_optimizer_step_count(o), 0);

    EXPECT(simvtp_train_step(o, &tb.b, &l, &info), SIMVTP_OK);
    expect_finite_losses(&l, 1);
    ck_assert_int_eq(info.updated, 0);
    ck_assert_int_eq(info.micro_step, 1);
    ck_assert_int_eq(info.step, 0);
    ck_assert_int_eq(simvtp_optimizer_step_count(o), 0);

    EXPECT(simvtp_train_step(o, &tb.b, &l, &info), SIMVTP_OK);
    ck_assert_int_eq(info.updated, 1);
    ck_assert_int_eq(info.micro_step, 2);
    ck_assert_int_eq(info.step, 1);
    ck_assert(isfinite(info.grad_norm) && info.grad_norm > 0.0f);
    ck_assert(isfinite(info.lr));
    ck_assert_int_eq(simvtp_optimizer_step_count(o), 1);

    after = tensor_copy(m, 0);
    ck_assert_msg(memcmp(before, after, (size_t)simvtp_model_tensor_numel(m, 0) * sizeof(float)),
                  "an update left the weights unchanged");
    free(before);
    free(after);
    batch_free(&tb);
    simvtp_optimizer_free(o);
    simvtp_model_free(m);
}
END_TEST

START_TEST(test_optimizer_schedule)
{
    simvtp_config c = small_config();
    simvtp_model *m = new_model(&c, 1);
    simvtp_optimizer_params p;
    simvtp_optimizer *o = NULL;
    int64_t s;
    float prev;

    simvtp_optimizer_default_params(&p);
    p.lr = 1e-3f;
    EXPECT(simvtp_optimizer_create(m, &p, &o), SIMVTP_OK);
    ck_assert_float_eq_tol(simvtp_optimizer_lr_at(o, 0), 1e-3f, 1e-9f);
    ck_assert_float_eq_tol(simvtp_optimizer_lr_at(o, 1000), 1e-3f, 1e-9f);
    simvtp_optimizer_free(o);

    p.min_lr = 1e-5f;
    p.warmup_steps = 10;
    p.total_steps = 100;
    EXPECT(simvtp_optimizer_create(m, &p, &o), SIMVTP_OK);
    ck_assert_float_eq_tol(simvtp_optimizer_lr_at(o, 10), 1e-3f, 1e-7f);
    ck_assert_float_eq_tol(simvtp_optimizer_lr_at(o, 100), 1e-5f, 1e-8f);
    ck_assert_msg(simvtp_optimizer_lr_at(o, 0) < 0.5e-3f, "no warmup: lr_at(0) = %g",
                  simvtp_optimizer_lr_at(o, 0));
    prev = -1.0f;
    for (s = 0; s <= 10; s++) { /* linear warmup from 0 */
        float lr = simvtp_optimizer_lr_at(o, s);
        ck_assert(lr >= 0.0f && lr <= 1e-3f * 1.0001f);
        ck_assert_msg(lr >= prev, "warmup lr decreasing at step %lld", (long long)s);
        prev = lr;
    }
    for (s = 11; s <= 100; s++) { /* cosine decay to min_lr */
        float lr = simvtp_optimizer_lr_at(o, s);
        ck_assert_msg(lr <= prev * 1.000001f, "cosine lr increases at step %lld", (long long)s);
        ck_assert(lr >= 1e-5f * 0.9999f);
        prev = lr;
    }
    simvtp_optimizer_free(o);
    simvtp_model_free(m);
}
END_TEST

START_TEST(test_optimizer_state_roundtrip)
{
    char path[PATH_MAX];
    simvtp_config c = small_config();
    simvtp_model *m = new_model(&c, 1);
    simvtp_optimizer *o = new_optimizer(m, 1), *o2;
    test_batch tb;
    batch_make(&tb, &c, 2, 6, 8);
    EXPECT(simvtp_train_step(o, &tb.b, NULL, NULL), SIMVTP_OK);
    EXPECT(simvtp_train_step(o, &tb.b, NULL, NULL), SIMVTP_OK);
    EXPECT(simvtp_optimizer_set_data_position(o, 123456789012ull), SIMVTP_OK);
    ck_assert_uint_eq(simvtp_optimizer_data_position(o), 123456789012ull);
    path_in_tmp(path, sizeof path, "roundtrip.svtpt");
    EXPECT(simvtp_optimizer_save(o, path), SIMVTP_OK);

    o2 = new_optimizer(m, 1);
    ck_assert_int_eq(simvtp_optimizer_step_count(o2), 0);
    EXPECT(simvtp_optimizer_load(o2, path), SIMVTP_OK);
    ck_assert_int_eq(simvtp_optimizer_step_count(o2), 2);
    ck_assert_uint_eq(simvtp_optimizer_data_position(o2), 123456789012ull);
    batch_free(&tb);
    simvtp_optimizer_free(o2);
    simvtp_optimizer_free(o);
    simvtp_model_free(m);
}
END_TEST

START_TEST(test_optimizer_load_errors)
{
    char state[PATH_MAX], path[PATH_MAX], weights[PATH_MAX];
    simvtp_config c = small_config(), oc = other_config();
    simvtp_model *m = new_model(&c, 1), *om = new_model(&oc, 1), *l = NULL;
    simvtp_optimizer *o = new_optimizer(m, 1), *oo = new_optimizer(om, 1);
    simvtp_model_params p = model_params(0);
    unsigned char junk[512];
    uint64_t s = 99;
    size_t i, n;
    unsigned char *b;

    path_in_tmp(state, sizeof state, "state-small.svtpt");
    EXPECT(simvtp_optimizer_save(o, state), SIMVTP_OK);

    /* another model config */
    EXPECT(simvtp_optimizer_load(oo, state), SIMVTP_ERR_MISMATCH);
    ck_assert_int_eq(simvtp_optimizer_step_count(oo), 0);

    /* missing, random, a weights file */
    path_in_tmp(path, sizeof path, "state-missing.svtpt");
    EXPECT(simvtp_optimizer_load(o, path), SIMVTP_ERR_IO);
    EXPECT(simvtp_optimizer_load(o, g_tmpdir), SIMVTP_ERR_IO);
    for (i = 0; i < sizeof junk; i++)
        junk[i] = (unsigned char)(splitmix64(&s) >> 56);
    junk[0] = 'X';
    path_in_tmp(path, sizeof path, "state-random.svtpt");
    write_bytes(path, junk, sizeof junk);
    EXPECT(simvtp_optimizer_load(o, path), SIMVTP_ERR_FORMAT);
    save_small_model("state-weights.svtp", weights, sizeof weights);
    EXPECT(simvtp_optimizer_load(o, weights), SIMVTP_ERR_FORMAT);
    /* a training-state file is not a weights file */
    EXPECT(simvtp_model_load(state, &p, &l), SIMVTP_ERR_FORMAT);
    ck_assert_ptr_null(l);

    /* truncated */
    b = read_bytes(state, &n);
    path_in_tmp(path, sizeof path, "state-cut.svtpt");
    {
        size_t lens[] = {0, 4, 8, 12, 16, n / 2, n - 1};
        for (i = 0; i < sizeof lens / sizeof lens[0]; i++) {
            char what[96];
            if (lens[i] >= n)
                continue;
            write_bytes(path, b, lens[i]);
            snprintf(what, sizeof what, "optimizer_load of the first %zu of %zu bytes",
                     lens[i], n);
            expect_status2(simvtp_optimizer_load(o, path), SIMVTP_ERR_TRUNCATED,
                           SIMVTP_ERR_FORMAT, what);
        }
    }
    free(b);
    simvtp_optimizer_free(oo);
    simvtp_optimizer_free(o);
    simvtp_model_free(om);
    simvtp_model_free(m);
}
END_TEST

/* ------------------------------------------------------------------------ */

static Suite *api_suite(void)
{
    Suite *s = suite_create("api");
    TCase *tc;

    tc = tcase_create("status");
    tcase_add_test(tc, test_status_values_pinned);
    tcase_add_test(tc, test_strerror_every_code);
    tcase_add_test(tc, test_strerror_unknown_code);
    tcase_add_test(tc, test_last_error_lifecycle);
    tcase_add_test(tc, test_last_error_per_thread);
    tcase_add_test(tc, test_version_matches_header);
    tcase_add_test(tc, test_log_callback);
    suite_add_tcase(s, tc);

    tc = tcase_create("params");
    tcase_add_test(tc, test_model_default_params);
    tcase_add_test(tc, test_optimizer_default_params);
    suite_add_tcase(s, tc);

    tc = tcase_create("config");
    tcase_add_test(tc, test_preset_vit_b);
    tcase_add_test(tc, test_presets_small_tiny);
    tcase_add_test(tc, test_preset_errors);
    tcase_add_test(tc, test_derived_sizes);
    tcase_add_test(tc, test_validate_null_and_size);
    tcase_add_loop_test(tc, test_invalid_config, 0, N_INVALID);
    suite_add_tcase(s, tc);

    tc = tcase_create("model");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_model_create_errors);
    tcase_add_test(tc, test_model_accessors);
    tcase_add_test(tc, test_model_null_args);
    tcase_add_test(tc, test_model_tensor_set_get);
    tcase_add_test(tc, test_model_init_deterministic);
    tcase_add_test(tc, test_model_retrieval);
    suite_add_tcase(s, tc);

    tc = tcase_create("batch");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_forward_ok);
    tcase_add_test(tc, test_forward_backward_grads);
    tcase_add_test(tc, test_bad_batches);
    tcase_add_test(tc, test_encode);
    tcase_add_test(tc, test_reconstruct);
    suite_add_tcase(s, tc);

    tc = tcase_create("files");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_load_missing_file);
    tcase_add_test(tc, test_load_random_file);
    tcase_add_test(tc, test_load_roundtrip);
    tcase_add_test(tc, test_load_retrieval_roundtrip);
    tcase_add_test(tc, test_load_wrong_version);
    tcase_add_test(tc, test_load_truncated);
    tcase_add_test(tc, test_load_corrupt_payload);
    tcase_add_test(tc, test_load_into_other_config);
    tcase_add_test(tc, test_no_temporary_files_left);
    suite_add_tcase(s, tc);

    tc = tcase_create("optimizer");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_optimizer_create_errors);
    tcase_add_test(tc, test_optimizer_null_args);
    tcase_add_test(tc, test_optimizer_steps_and_accumulation);
    tcase_add_test(tc, test_optimizer_schedule);
    tcase_add_test(tc, test_optimizer_state_roundtrip);
    tcase_add_test(tc, test_optimizer_load_errors);
    suite_add_tcase(s, tc);
    return s;
}

/* Removes the scratch directory (one level of subdirectories). */
static void remove_tree(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char path[PATH_MAX];
    struct stat st;
    if (!d)
        return;
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode))
            remove_tree(path);
        else
            unlink(path);
    }
    closedir(d);
    rmdir(dir);
}

int main(void)
{
    const char *base = getenv("SIMVTP_TEST_TMPDIR");
    SRunner *sr;
    int failed;
    if (!base || !base[0])
        base = getenv("TMPDIR");
    if (!base || !base[0])
        base = "/tmp";
    snprintf(g_tmpdir, sizeof g_tmpdir, "%s/simvtp-api-XXXXXX", base);
    if (!mkdtemp(g_tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    sr = srunner_create(api_suite());
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    remove_tree(g_tmpdir);
    return failed == 0 ? 0 : 1;
}

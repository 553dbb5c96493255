/* train_common.c — see train_common.h. */
#include "train_common.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <omp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#ifdef HAVE_TOOLKIT
#include "plot.h"
#include "png_write.h"
#endif

/* "prog: message" and the usage exit status (bad input that is not a flag). */
static int usage_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_fail(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s: ", tk_msg_prefix());
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return TK_EXIT_USAGE;
}

/* ------------------------------------------------------------------------ */
/* Flags                                                                    */
/* ------------------------------------------------------------------------ */

int tr_opt_index(const tr_opt *t, int n, const char *flag)
{
    for (int k = 0; k < n; k++)
        if (!strcmp(t[k].flag, flag)) return k;
    return -1;
}

int tr_given(const tr_opt *t, int n, const unsigned char *given, const char *flag)
{
    int k = tr_opt_index(t, n, flag);
    return k >= 0 && given[k];
}

int tr_parse_args(const tr_opt *t, int n, int argc, char **argv, void *opts, unsigned char *given)
{
    memset(given, 0, (size_t)n);
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i], *val = NULL, *eq = strchr(arg, '=');
        char flag[64];
        if (strncmp(arg, "--", 2) != 0 || arg[2] == '\0') {
            if (!strcmp(arg, "-h")) return TR_HELP;
            return tk_bad_flag("unexpected argument '%s'", arg);
        }
        if (eq) {
            size_t len = (size_t)(eq - arg);
            if (len >= sizeof flag) return tk_bad_flag("unknown option '%s'", arg);
            memcpy(flag, arg, len);
            flag[len] = '\0';
            val = eq + 1;
        } else {
            snprintf(flag, sizeof flag, "%s", arg);
        }
        if (!strcmp(flag, "--help")) return TR_HELP;
        if (!strcmp(flag, "--version")) return TR_VERSION;
        int k = tr_opt_index(t, n, flag);
        if (k < 0 || t[k].store == TR_RECORD) return tk_bad_flag("unknown option '%s'", flag);
        char *field = (char *)opts + t[k].offset;
        int rc = 0;
        if (t[k].kind == TR_FLAG) {
            if (val) return tk_bad_flag("%s takes no value", flag);
            int one = 1;
            memcpy(field, &one, sizeof one);
            given[k] = 1;
            continue;
        }
        if (!val) {
            if (i + 1 >= argc) return tk_bad_flag("%s needs a value", flag);
            val = argv[++i];
        }
        if (!*val) return tk_bad_flag("%s needs a value", flag);
        if (t[k].kind == TR_STR || t[k].kind == TR_PATH) {
            memcpy(field, &val, sizeof val);
        } else if (t[k].kind == TR_LONG) {
            long x = 0;
            rc = tk_parse_long(flag, val, (long)t[k].lo, (long)t[k].hi, &x);
            if (!rc) memcpy(field, &x, sizeof x);
        } else if (t[k].kind == TR_U64) {
            uint64_t x = 0;
            rc = tk_parse_u64(flag, val, &x);
            if (!rc) memcpy(field, &x, sizeof x);
        } else {
            double x = 0;
            rc = tk_parse_double(flag, val, t[k].lo, t[k].hi, &x);
            if (!rc) memcpy(field, &x, sizeof x);
        }
        if (rc) return rc;
        given[k] = 1;
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* run.txt                                                                  */
/* ------------------------------------------------------------------------ */

static const char *str_field(const void *opts, const tr_opt *o)
{
    const char *s;
    memcpy(&s, (const char *)opts + o->offset, sizeof s);
    return s ? s : "";
}

/* An absolute path when the file exists, else the string itself. */
static void canonical(const char *p, char *buf)
{
    if (!p || !*p || !realpath(p, buf)) snprintf(buf, PATH_MAX, "%s", p ? p : "");
}

static void format_value(const tr_opt *o, const void *opts, char *buf, size_t n)
{
    const char *f = (const char *)opts + o->offset;
    long l;
    uint64_t u;
    double d;
    int i;
    switch (o->kind) {
    case TR_STR: snprintf(buf, n, "%s", str_field(opts, o)); break;
    case TR_PATH: {
        char p[PATH_MAX];
        canonical(str_field(opts, o), p);
        snprintf(buf, n, "%s", p);
        break;
    }
    case TR_LONG: memcpy(&l, f, sizeof l); snprintf(buf, n, "%ld", l); break;
    case TR_U64: memcpy(&u, f, sizeof u); snprintf(buf, n, "%llu", (unsigned long long)u); break;
    case TR_DOUBLE: memcpy(&d, f, sizeof d); snprintf(buf, n, "%.9g", d); break;
    case TR_FLAG: memcpy(&i, f, sizeof i); snprintf(buf, n, "%d", i); break;
    }
}

int tr_path(char *buf, const char *dir, const char *name)
{
    if (snprintf(buf, PATH_MAX, "%s/%s", dir, name) >= PATH_MAX)
        return tk_fail("the path %s/%s is too long", dir, name);
    return 0;
}

static void fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
}

/* Finish a file written to tmp: flush, fsync, close, rename onto path. */
static int commit_file(FILE *f, const char *tmp, const char *path)
{
    int bad = fflush(f) != 0 || fsync(fileno(f)) != 0;
    bad = (fclose(f) != 0) || bad;
    if (bad || rename(tmp, path) != 0) {
        int e = errno;
        remove(tmp);
        return tk_fail("cannot write %s: %s", path, strerror(e));
    }
    return 0;
}

int tr_run_write(const char *dir, const tr_opt *t, int n, const void *opts)
{
    char path[PATH_MAX], tmp[PATH_MAX + 8];
    if (tr_path(path, dir, "run.txt")) return TK_EXIT_RUN;
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) return tk_fail("cannot write %s: %s", tmp, strerror(errno));
    fprintf(f, "# %s run settings (libsimvtp %s). --resume continues this run and refuses\n"
               "# flags that contradict it; edit nothing here.\n", tk_prog(), simvtp_version_string());
    for (int k = 0; k < n; k++) {
        char v[PATH_MAX + 64];
        if (t[k].store == TR_NOT_STORED) continue;
        format_value(&t[k], opts, v, sizeof v);
        fprintf(f, "%s = %s\n", t[k].flag + 2, v);
    }
    return commit_file(f, tmp, path);
}

/* Strings read from run.txt live until exit. */
static char *g_kept[TR_MAX_OPTS];
static int g_nkept;

static void free_kept(void)
{
    while (g_nkept > 0) free(g_kept[--g_nkept]);
}

static char *keep_string(const char *v)
{
    if (g_nkept == TR_MAX_OPTS) return NULL;
    if (g_nkept == 0) atexit(free_kept);
    return g_kept[g_nkept++] = strdup(v);
}

/* Parse a stored value (no messages); 0 on success. */
static int parse_stored(const tr_opt *o, const char *v, void *opts)
{
    char *f = (char *)opts + o->offset, *end;
    errno = 0;
    if (o->kind == TR_STR || o->kind == TR_PATH) {
        char *s = *v ? keep_string(v) : NULL;
        if (*v && !s) return -1;
        memcpy(f, &s, sizeof s);
        return 0;
    }
    if (o->kind == TR_DOUBLE) {
        double d = strtod(v, &end);
        if (errno || end == v || *end) return -1;
        memcpy(f, &d, sizeof d);
    } else if (o->kind == TR_U64) {
        uint64_t u = strtoull(v, &end, 10);
        if (errno || end == v || *end) return -1;
        memcpy(f, &u, sizeof u);
    } else {
        long l = strtol(v, &end, 10);
        if (errno || end == v || *end) return -1;
        if (o->kind == TR_LONG) memcpy(f, &l, sizeof l);
        else {
            int i = (int)l;
            memcpy(f, &i, sizeof i);
        }
    }
    return 0;
}

static int same_value(const tr_opt *o, const void *a, const void *b)
{
    const char *fa = (const char *)a + o->offset, *fb = (const char *)b + o->offset;
    if (o->kind == TR_STR) return !strcmp(str_field(a, o), str_field(b, o));
    if (o->kind == TR_PATH) {
        char pa[PATH_MAX], pb[PATH_MAX];
        canonical(str_field(a, o), pa);
        canonical(str_field(b, o), pb);
        return !strcmp(pa, pb);
    }
    if (o->kind == TR_DOUBLE) {
        double x, y;
        memcpy(&x, fa, sizeof x);
        memcpy(&y, fb, sizeof y);
        return fabs(x - y) <= 1e-6 * fmax(fabs(x), fabs(y));
    }
    size_t sz = o->kind == TR_LONG ? sizeof(long) : o->kind == TR_U64 ? sizeof(uint64_t) : sizeof(int);
    return !memcmp(fa, fb, sz);
}

static void chomp(char *s)
{
    size_t n = strlen(s);
    while (n && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t')) s[--n] = 0;
}

static char *skip_space(char *s)
{
    while (*s == ' ' || *s == '\t') s++;
    return s;
}

int tr_run_merge(const char *dir, const tr_opt *t, int n, void *opts, unsigned char *given,
                 void *scratch)
{
    char path[PATH_MAX], line[PATH_MAX + 128];
    unsigned char stored[TR_MAX_OPTS] = {0};
    if (tr_path(path, dir, "run.txt")) return TK_EXIT_RUN;
    FILE *f = fopen(path, "r");
    if (!f) return tk_fail("nothing to resume in %s: no run.txt (%s)", dir, strerror(errno));
    for (int ln = 1; fgets(line, sizeof line, f); ln++) {
        chomp(line);
        char *s = skip_space(line), *eq = strchr(s, '=');
        if (!*s || *s == '#') continue;
        if (!eq) {
            fclose(f);
            return tk_fail("%s line %d: expected 'key = value'", path, ln);
        }
        char *v = skip_space(eq + 1);
        while (eq > s && (eq[-1] == ' ' || eq[-1] == '\t')) eq--;
        *eq = 0;
        int k = 0;
        while (k < n && strcmp(t[k].flag + 2, s)) k++;
        if (k == n) k = -1;
        if (k < 0 || t[k].store == TR_NOT_STORED || parse_stored(&t[k], v, scratch)) {
            fclose(f);
            return tk_fail("%s line %d: %s '%s'", path, ln, k < 0 || !t[k].store ? "unknown setting" : "bad value for", s);
        }
        stored[k] = 1;
    }
    fclose(f);
    for (int k = 0; k < n; k++) {
        if (!stored[k] || !given[k] || t[k].store != TR_FIXED || same_value(&t[k], opts, scratch))
            continue;
        char now[PATH_MAX + 64], then[PATH_MAX + 64];
        format_value(&t[k], opts, now, sizeof now);
        format_value(&t[k], scratch, then, sizeof then);
        if (t[k].kind == TR_FLAG)
            return usage_fail("%s contradicts the run in %s (%s = %s in its run.txt); leave the flag "
                              "out to continue that run", t[k].flag, dir, t[k].flag + 2, then);
        return usage_fail("%s %s contradicts the run in %s (%s = %s in its run.txt); leave the flag "
                          "out to continue that run", t[k].flag, now, dir, t[k].flag + 2,
                          *then ? then : "(not set)");
    }
    for (int k = 0; k < n; k++) {
        if (!stored[k] || given[k]) continue;
        size_t sz = t[k].kind == TR_LONG ? sizeof(long) : t[k].kind == TR_U64 ? sizeof(uint64_t)
                  : t[k].kind == TR_DOUBLE ? sizeof(double) : t[k].kind == TR_FLAG ? sizeof(int)
                  : sizeof(char *);
        memcpy((char *)opts + t[k].offset, (char *)scratch + t[k].offset, sz);
        given[k] = 1;
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Config                                                                   */
/* ------------------------------------------------------------------------ */

#define CFG_INT(f) {#f, 0, offsetof(simvtp_config, f)}
#define CFG_FLOAT(f) {#f, 1, offsetof(simvtp_config, f)}
static const struct {
    const char *name;
    int is_float;
    size_t offset;
} k_fields[] = {
    CFG_INT(frames), CFG_INT(height), CFG_INT(width), CFG_INT(tubelet), CFG_INT(patch),
    CFG_INT(enc_width), CFG_INT(enc_depth), CFG_INT(enc_heads), CFG_INT(enc_mlp),
    CFG_INT(dec_width), CFG_INT(dec_depth), CFG_INT(dec_heads), CFG_INT(dec_mlp),
    CFG_INT(vocab_size), CFG_INT(max_text_len), CFG_INT(type_vocab),
    CFG_FLOAT(video_mask_ratio), CFG_FLOAT(text_mask_ratio), CFG_FLOAT(ln_eps),
    CFG_FLOAT(text_ln_eps), CFG_FLOAT(text_dropout), CFG_FLOAT(vtc_temperature),
    CFG_INT(vtc_pool_exclude_pad), CFG_INT(vtm_hard_negatives), CFG_FLOAT(drop_path),
};
#define N_FIELDS ((int)(sizeof k_fields / sizeof k_fields[0]))

static int config_line(simvtp_config *cfg, const char *file, int ln, char *s)
{
    char *eq = strchr(s, '=');
    if (!eq) return usage_fail("%s line %d: expected 'key = value'", file, ln);
    char *v = skip_space(eq + 1), *end;
    while (eq > s && (eq[-1] == ' ' || eq[-1] == '\t')) eq--;
    *eq = 0;
    int k = 0;
    while (k < N_FIELDS && strcmp(k_fields[k].name, s)) k++;
    if (k == N_FIELDS)
        return usage_fail("%s line %d: unknown key '%s' (keys are simvtp_config fields: frames, "
                          "height, width, enc_width, max_text_len, ... see include/simvtp/config.h)",
                          file, ln, s);
    char *field = (char *)cfg + k_fields[k].offset;
    errno = 0;
    if (k_fields[k].is_float) {
        double d = strtod(v, &end);
        if (errno || end == v || *end || !isfinite(d))
            return usage_fail("%s line %d: %s needs a number, not '%s'", file, ln, s, v);
        float x = (float)d;
        memcpy(field, &x, sizeof x);
    } else {
        long l = strtol(v, &end, 10);
        if (errno || end == v || *end || l < INT_MIN || l > INT_MAX)
            return usage_fail("%s line %d: %s needs an integer, not '%s'", file, ln, s, v);
        int x = (int)l;
        memcpy(field, &x, sizeof x);
    }
    return 0;
}

int tr_config_load(const char *preset, const char *file, simvtp_config *cfg)
{
    if (!preset) preset = "tiny";
    if (simvtp_config_preset(preset, cfg) != SIMVTP_OK)
        return tk_bad_flag("unknown --preset '%s' (known: tiny, small, vit-b)", preset);
    if (file) {
        char line[512];
        FILE *f = fopen(file, "r");
        if (!f) return usage_fail("cannot read --config %s: %s", file, strerror(errno));
        for (int ln = 1; fgets(line, sizeof line, f); ln++) {
            char *hash = strchr(line, '#');
            if (hash) *hash = 0;
            chomp(line);
            char *s = skip_space(line);
            int rc = *s ? config_line(cfg, file, ln, s) : 0;
            if (rc) {
                fclose(f);
                return rc;
            }
        }
        fclose(f);
    }
    int rc = simvtp_config_validate(cfg);
    if (rc != SIMVTP_OK)
        return usage_fail("the model config (preset %s%s%s) is invalid: %s", preset,
                          file ? ", --config " : "", file ? file : "", simvtp_last_error());
    return 0;
}

static void format_field(const simvtp_config *c, int k, char *buf, size_t n)
{
    const char *f = (const char *)c + k_fields[k].offset;
    if (k_fields[k].is_float) {
        float x;
        memcpy(&x, f, sizeof x);
        snprintf(buf, n, "%g", (double)x);
    } else {
        int x;
        memcpy(&x, f, sizeof x);
        snprintf(buf, n, "%d", x);
    }
}

const char *tr_config_diff(const simvtp_config *want, const simvtp_config *have,
                           const char *have_label, char *buf, size_t n)
{
    for (int k = 0; k < N_FIELDS; k++) {
        if (!memcmp((const char *)want + k_fields[k].offset, (const char *)have + k_fields[k].offset, 4))
            continue;
        char a[32], b[32];
        format_field(want, k, a, sizeof a);
        format_field(have, k, b, sizeof b);
        snprintf(buf, n, "%s = %s in %s, %s expected", k_fields[k].name, b, have_label, a);
        return k_fields[k].name;
    }
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* Schedule                                                                 */
/* ------------------------------------------------------------------------ */

int tr_set_checkpointing(simvtp_model *m, int blocks, int selective)
{
    if (blocks && selective)
        return tk_bad_flag("--checkpoint-activations and --checkpoint-selective exclude each other");
    const int mode = blocks ? SIMVTP_CHECKPOINT_BLOCKS : selective ? SIMVTP_CHECKPOINT_SELECTIVE : 0;
    if (!mode) return 0;
    const int rc = simvtp_model_set_option(m, SIMVTP_MODEL_OPT_CHECKPOINT_ACTIVATIONS, mode);
    return rc ? tk_lib_fail(blocks ? "--checkpoint-activations" : "--checkpoint-selective", rc) : 0;
}

int tr_sched_resolve(const tr_sched *s, long *total, long *warmup)
{
    if (s->have_steps && s->have_epochs) return tk_bad_flag("give --steps or --epochs, not both");
    if (s->have_wsteps && s->have_wepochs)
        return tk_bad_flag("give --warmup-steps or --warmup-epochs, not both");
    if ((s->have_epochs || s->have_wepochs) && s->epoch_batches <= 0)
        return tk_bad_flag("--epochs and --warmup-epochs need shards (synthetic data has no epochs)");
    double per_epoch = (double)s->epoch_batches / (double)s->accum; /* updates */
    double t = s->have_steps ? (double)s->steps
             : s->have_epochs ? floor(s->epochs * per_epoch)
             : s->epoch_batches > 0 ? floor(s->default_epochs * per_epoch) : (double)s->default_steps;
    if (t < 1)
        return tk_fail("the run would make no update: an epoch is %lld batches, --accum %ld",
                       (long long)s->epoch_batches, s->accum);
    if (t > 1e12) return tk_bad_flag("the run is too long (%g updates)", t);
    *total = (long)t;
    double w = s->have_wsteps ? (double)s->wsteps
             : s->have_wepochs ? floor(s->wepochs * per_epoch + 0.5)
             : floor(t * s->warmup_fraction + 0.5);
    if (w > t)
        return tk_bad_flag("the warmup (%.0f updates) is longer than the run (%ld updates)", w, *total);
    *warmup = (long)w;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Checkpoints                                                              */
/* ------------------------------------------------------------------------ */

typedef struct { char model[PATH_MAX], state[PATH_MAX], model_new[PATH_MAX], state_new[PATH_MAX]; } ckpt_paths;

static int ckpt_paths_of(const char *dir, ckpt_paths *p)
{
    return tr_path(p->model, dir, "model.svtp") || tr_path(p->state, dir, "state.svtpt") ||
           tr_path(p->model_new, dir, "model.svtp.new") || tr_path(p->state_new, dir, "state.svtpt.new");
}

int tr_ckpt_save(const char *dir, const simvtp_model *m, simvtp_optimizer *o, uint64_t position,
                 int collective)
{
    ckpt_paths p;
    int rc = 0, lib;
    if (ckpt_paths_of(dir, &p))
        rc = TK_EXIT_RUN;
    else if ((lib = simvtp_optimizer_set_data_position(o, position)))
        rc = tk_lib_fail("storing the data position", lib);
    else if ((lib = simvtp_model_save(m, p.model_new)) != SIMVTP_OK)
        rc = tk_lib_fail("saving the weights", lib);
    if (rc) {
        if (collective) (void)simvtp_optimizer_save(o, NULL); /* the other ranks wait in it */
        return rc;
    }
    if ((rc = simvtp_optimizer_save(o, p.state_new)) != SIMVTP_OK) {
        remove(p.model_new);
        return tk_lib_fail("saving the training state", rc);
    }
    /* Both complete: from here on tr_ckpt_recover rolls forward. */
    if (rename(p.model_new, p.model) != 0 || rename(p.state_new, p.state) != 0)
        return tk_fail("cannot rename the checkpoint into place in %s: %s", dir, strerror(errno));
    fsync_dir(dir);
    return 0;
}

/* Temporary files of writes a crash interrupted ("<file>.tmp.<pid>" from the
 * library's and the PNG writer's atomic writes): never valid, removed. */
static void remove_stale_temporaries(const char *dir)
{
    DIR *dh = opendir(dir);
    if (!dh) return;
    struct dirent *de;
    char path[PATH_MAX];
    while ((de = readdir(dh)) != NULL)
        if (strstr(de->d_name, ".tmp") && tr_path(path, dir, de->d_name) == 0) remove(path);
    closedir(dh);
}

int tr_ckpt_recover(const char *dir)
{
    ckpt_paths p;
    if (ckpt_paths_of(dir, &p)) return TK_EXIT_RUN;
    remove_stale_temporaries(dir);
    if (tk_file_exists(p.state_new)) { /* the pair was complete: finish the renames */
        if ((tk_file_exists(p.model_new) && rename(p.model_new, p.model) != 0) ||
            rename(p.state_new, p.state) != 0)
            return tk_fail("cannot finish the interrupted checkpoint in %s: %s", dir, strerror(errno));
        fsync_dir(dir);
    } else if (tk_file_exists(p.model_new)) { /* half a pair: the previous one stands */
        remove(p.model_new);
    }
    if (!tk_file_exists(p.model)) /* that half pair was the first checkpoint */
        return tk_fail("nothing to resume in %s: its first checkpoint was interrupted before it "
                       "was complete; start the run again (without --resume)", dir);
    return 0;
}

int tr_ckpt_present(const char *dir)
{
    ckpt_paths p;
    if (ckpt_paths_of(dir, &p)) return 0;
    return tk_file_exists(p.model) || tk_file_exists(p.state) || tk_file_exists(p.model_new) ||
           tk_file_exists(p.state_new);
}

const simvtp_model_params *tr_model_params(uint64_t seed, long threads, const char *backend)
{
    static simvtp_model_params mp;
    simvtp_model_default_params(&mp);
    mp.seed = seed;
    mp.threads = (int)threads;
    if (backend) mp.backend = backend;
    return &mp;
}

void tr_set_threads(long n)
{
    if (n > 0) omp_set_num_threads((int)n);
}

/* ------------------------------------------------------------------------ */
/* Metrics                                                                  */
/* ------------------------------------------------------------------------ */

int tr_history_add(tr_history *h, double step, const double *v)
{
    if (h->n == h->cap) {
        int cap = h->cap ? 2 * h->cap : 256;
        double *s = realloc(h->step, (size_t)cap * sizeof *s);
        if (!s) return -1;
        h->step = s;
        for (int i = 0; i < h->nseries; i++) {
            double *q = realloc(h->v[i], (size_t)cap * sizeof *q);
            if (!q) return -1;
            h->v[i] = q;
        }
        h->cap = cap;
    }
    h->step[h->n] = step;
    for (int i = 0; i < h->nseries; i++) h->v[i][h->n] = v[i];
    h->n++;
    return 0;
}

void tr_history_free(tr_history *h)
{
    free(h->step);
    for (int i = 0; i < h->nseries; i++) free(h->v[i]);
    h->step = NULL;
    for (int i = 0; i < TR_MAX_SERIES; i++) h->v[i] = NULL;
    h->n = h->cap = 0;
}

int tr_json_num(const char *line, const char *key, double *out)
{
    char pat[80];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = strstr(line, pat);
    if (!p) return 0;
    char *end;
    double d = strtod(p + strlen(pat), &end);
    if (end == p + strlen(pat)) return 0;
    *out = d;
    return 1;
}

static void keep_line(const char *line, tr_history *h)
{
    double step, v[TR_MAX_SERIES];
    if (!tr_json_num(line, "step", &step)) return;
    for (int i = 0; i < h->nseries; i++)
        if (!tr_json_num(line, h->names[i], &v[i])) return;
    tr_history_add(h, step, v);
}

FILE *tr_metrics_open(const char *dir, int64_t keep_upto, tr_history *h,
                      void (*on_line)(void *user, const char *line), void *user)
{
    char path[PATH_MAX], tmp[PATH_MAX + 8], line[4096];
    if (tr_path(path, dir, "metrics.jsonl")) return NULL;
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *in = keep_upto >= 0 ? fopen(path, "r") : NULL;
    FILE *out = fopen(tmp, "w");
    if (!out) {
        if (in) fclose(in);
        tk_fail("cannot write %s: %s", tmp, strerror(errno));
        return NULL;
    }
    while (in && fgets(line, sizeof line, in)) {
        double step;
        if (!tr_json_num(line, "step", &step) || step > (double)keep_upto) continue;
        fputs(line, out);
        chomp(line);
        if (on_line) on_line(user, line);
        keep_line(line, h);
    }
    if (in) fclose(in);
    if (commit_file(out, tmp, path)) return NULL;
    FILE *f = fopen(path, "a");
    if (!f) tk_fail("cannot append to %s: %s", path, strerror(errno));
    return f;
}

int tr_plot_history(const char *path, const char *title, const tr_history *h, char *err,
                    size_t errlen)
{
#ifdef HAVE_TOOLKIT
    tk_series s[TR_MAX_SERIES];
    memset(s, 0, sizeof s);
    for (int i = 0; i < h->nseries; i++) {
        s[i].name = h->names[i];
        s[i].x = h->step;
        s[i].y = h->v[i];
        s[i].n = h->n;
    }
    tk_plot_opts o;
    memset(&o, 0, sizeof o);
    o.title = title;
    o.xlabel = "update";
    o.ylabel = "loss";
    o.log_y = 1;
    tk_canvas *c = tk_plot_render(&o, s, h->nseries, NULL);
    if (!c) {
        snprintf(err, errlen, "out of memory drawing the plot");
        return -1;
    }
    int rc = tk_png_write(c, path, err, errlen);
    tk_canvas_free(c);
    return rc;
#else
    (void)path, (void)title, (void)h;
    snprintf(err, errlen, "the tools were built without libpng");
    return -1;
#endif
}
